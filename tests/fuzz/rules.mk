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
	    -dict=tests/fuzz/vm.dict \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus-vm tests/fuzz/corpus/vm

FUZZ_TARGETS += fuzz-vm
