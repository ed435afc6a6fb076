# The VM benchmark: this VM against lua5.4 on the same programs, same run.
VM_BENCH := $(BUILD)/tests/vm/bench-vm

$(VM_BENCH): $(BUILD)/obj/tests/vm/main_bench.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LINK_LIBS) -o $@

.PHONY: bench-vm
bench-vm: $(VM_BENCH) $(LOAD_MAIN)
	$(LOAD_MAIN) $(VM_BENCH)

BENCH_TARGETS += bench-vm

# The CLI group end to end, after the unit tests.
.PHONY: test-vm-cli
test-vm-cli: $(BUILD)/bin/witan
	@sh tests/vm/cli_test.sh $(BUILD)/bin/witan

TEST_EXTRA += test-vm-cli
