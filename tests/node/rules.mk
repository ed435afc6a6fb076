# A witand whose proposals are corrupted on purpose (WITAN_MUTATE=..., see
# node/replica.c), for tests/node/test_byzantine.c only: the same objects
# but node/replica.c, built again with WITAN_TEST_MUTATE. Never installed.
WITAND_MUTANT := $(BUILD)/test-bin/witand-mutant
MUTANT_REPLICA := $(BUILD)/obj/mutant/node/replica.o

$(MUTANT_REPLICA): node/replica.c | $(GEN_H) $(NEED_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_PROJECT) -DWITAN_TEST_MUTATE -c $< -o $@

$(WITAND_MUTANT): $(BUILD)/obj/node/main.o $(MUTANT_REPLICA) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(MUTANT_REPLICA) $(LINK_LIBS) -o $@

$(BUILD)/tests/node/test_byzantine: $(WITAND_MUTANT)
