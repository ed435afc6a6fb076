# Fuzz harnesses: built with clang and libFuzzer (Debian's libclang-rt-14-dev)
# from the module sources directly, instrumented, into $(BUILD)/fuzz/. Each
# runs for FUZZ_SECONDS from its committed seed corpus; new inputs go to a
# scratch corpus under $(BUILD) so the committed seeds stay as they are.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -Wall -Wextra -Werror

FUZZ_VM := $(BUILD)/fuzz/fuzz-vm
FUZZ_VM_SRCS := tests/fuzz/main_fuzz_vm.c tests/vm/refvm.c $(wildcard vm/*.c) \
                common/common.c

$(FUZZ_VM): $(FUZZ_VM_SRCS) $(wildcard vm/*.h) tests/vm/refvm.h common/common.h \
            common/limits.h | $(NEED_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(FUZZ_VM_SRCS) -o $@

.PHONY: fuzz-vm
fuzz-vm: $(FUZZ_VM)
	@mkdir -p $(BUILD)/fuzz/corpus-vm
	$(FUZZ_VM) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -dict=tests/fuzz/vm.dict -artifact_prefix=$(BUILD)/fuzz/ \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus-vm tests/fuzz/corpus/vm

FUZZ_TARGETS += fuzz-vm

# --- every network-facing decoder: libFuzzer builds ---------------------------
# consensus: frames and consensus messages; request: client requests and the
# JSON body of POST /v1/tx; config: the node's configuration file. Built with
# clang from every module's sources, so the whole path is instrumented.
FUZZ_ALL_SRCS := $(foreach m,$(MODULES),$(filter-out $(m)/main.c,$(wildcard $(m)/*.c))) \
                 $(GEN_C)
FUZZ_NET := consensus request config

$(BUILD)/fuzz/fuzz-%: tests/fuzz/main_fuzz_%.c tests/fuzz/fixture.c $(FUZZ_ALL_SRCS) \
                      | $(GEN_H) $(NEED_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -Wno-unused-command-line-argument \
	    $< tests/fuzz/fixture.c $(FUZZ_ALL_SRCS) $(LDLIBS) -o $@

define fuzz_net_rule
.PHONY: fuzz-$(1)
fuzz-$(1): $(BUILD)/fuzz/fuzz-$(1)
	@mkdir -p $(BUILD)/fuzz/corpus-$(1) tests/fuzz/corpus/$(1)
	$(BUILD)/fuzz/fuzz-$(1) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix=$(BUILD)/fuzz/ \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus-$(1) tests/fuzz/corpus/$(1)
FUZZ_TARGETS += fuzz-$(1)
endef
$(foreach h,$(FUZZ_NET),$(eval $(call fuzz_net_rule,$(h))))

# --- replaying the committed corpora in `make test` ------------------------------
# The same harnesses built with the project's compiler and flags (and the
# sanitizers under SAN=1), run once over every committed input.
FUZZ_REPLAY := consensus request config tx genesis
FUZZ_REPLAY_BINS := $(FUZZ_REPLAY:%=$(BUILD)/fuzz-replay/replay-%)

FUZZ_REPLAY_OBJS := $(BUILD)/obj/tests/fuzz/replay.o $(BUILD)/obj/tests/fuzz/fixture.o
$(BUILD)/fuzz-replay/replay-%: $(BUILD)/obj/tests/fuzz/main_fuzz_%.o \
                               $(FUZZ_REPLAY_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(FUZZ_REPLAY_OBJS) $(LINK_LIBS) -o $@

.PHONY: fuzz-replay
fuzz-replay: $(FUZZ_REPLAY_BINS)
	@for h in $(FUZZ_REPLAY); do \
	    $(BUILD)/fuzz-replay/replay-$$h tests/fuzz/corpus/$$h || exit 1; \
	done
TEST_EXTRA += fuzz-replay
