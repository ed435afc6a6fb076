# Fuzz harnesses over the ledger's decoders: genesis JSON and transaction
# admission. Built with clang and libFuzzer from the sources directly (so the
# code under test is instrumented), run for FUZZ_SECONDS from the committed
# seeds (tests/fuzz/corpus/...), new inputs kept under $(BUILD).
LEDGER_FUZZ_CC ?= clang
LEDGER_FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
                     -fno-sanitize-recover=all -Wall -Wextra -Werror
LEDGER_FUZZ_SRCS := $(wildcard ledger/*.c contracts/*.c vm/*.c storage/*.c \
                      crypto/*.c common/*.c \
                      inference/*.c)
LEDGER_FUZZ_LIBS := -llmdb -lsecp256k1 -lsodium -lprotobuf-c -lpthread -lm

$(BUILD)/fuzz/fuzz-%: tests/fuzz/main_fuzz_%.c $(LEDGER_FUZZ_SRCS) $(GEN_C) \
                      $(wildcard ledger/*.h contracts/*.h vm/*.h storage/*.h crypto/*.h \
                        common/*.h)
	@mkdir -p $(dir $@)
	$(LEDGER_FUZZ_CC) $(CPPFLAGS) $(LEDGER_FUZZ_FLAGS) $< $(LEDGER_FUZZ_SRCS) \
	    $(GEN_C) $(LEDGER_FUZZ_LIBS) -o $@

.PHONY: fuzz-genesis fuzz-tx
fuzz-genesis fuzz-tx: fuzz-%: $(BUILD)/fuzz/fuzz-%
	@mkdir -p $(BUILD)/fuzz/corpus-$*
	$(BUILD)/fuzz/fuzz-$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus-$* tests/fuzz/corpus/$*

FUZZ_TARGETS += fuzz-genesis fuzz-tx
