# SPDX-License-Identifier: Apache-2.0
# The contract language through the witan command, on a real chain of one
# validator (tests/lang/test_lang_cli.sh): build, check, run, deploy FILE,
# audit source.
.PHONY: test-lang-cli
test-lang-cli: $(BUILD)/bin/witan $(BUILD)/bin/witand
	@sh tests/lang/test_lang_cli.sh $(BUILD)/bin
TEST_EXTRA += test-lang-cli

# The compiler at -O0 (and with the sanitizers under SAN=1): test_lang
# built in one go from the sources, so its golden hashes of the compiled
# examples hold for -O0, -O2 and SAN=1 alike.
LANG_O0 := $(BUILD)/O0-lang
LANG_O0_SRCS := contracts/lang/lang.c contracts/runtime.c $(wildcard vm/*.c) \
    $(wildcard crypto/*.c) $(filter-out common/main.c,$(wildcard common/*.c)) \
    $(BUILD)/gen/spec/witan.pb-c.c tests/lang/lt.c
$(LANG_O0)/test_lang: tests/lang/test_lang.c tests/lang/golden.inc $(LANG_O0_SRCS) \
    contracts/lang/lang.h tests/lang/lt.h | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O0 -g $(SAN_FLAGS) -Wall \
	    $< $(LANG_O0_SRCS) $(LDLIBS) -lcmocka -o $@
.PHONY: test-lang-O0
test-lang-O0: $(LANG_O0)/test_lang
	@echo "== the contract-language tests and golden hashes at -O0 ($(LANG_O0))"
	@$(LANG_O0)/test_lang > $(LANG_O0)/test_lang.out 2>&1 || \
	    { cat $(LANG_O0)/test_lang.out; exit 1; }
	@grep -E 'PASSED' $(LANG_O0)/test_lang.out
TEST_EXTRA += test-lang-O0

# The compiler under libFuzzer (tests/fuzz/main_fuzz_lang.c): `make
# fuzz-lang` runs it for FUZZ_SECONDS from tests/fuzz/corpus/lang; `make
# test` replays that corpus with the project's compiler (and sanitizers
# under SAN=1).
FUZZ_LANG := $(BUILD)/fuzz/fuzz-lang
FUZZ_LANG_SRCS := tests/fuzz/main_fuzz_lang.c contracts/lang/lang.c \
    contracts/runtime.c $(wildcard vm/*.c) $(wildcard crypto/*.c) \
    $(filter-out common/main.c,$(wildcard common/*.c)) $(BUILD)/gen/spec/witan.pb-c.c
$(FUZZ_LANG): $(FUZZ_LANG_SRCS) contracts/lang/lang.h | $(GEN_H) $(NEED_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -Wno-unused-command-line-argument $(FUZZ_LANG_SRCS) $(LDLIBS) -o $@
.PHONY: fuzz-lang test-lang-fuzz-replay
fuzz-lang: $(FUZZ_LANG)
	@mkdir -p $(BUILD)/fuzz/corpus-lang
	$(FUZZ_LANG) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -dict=tests/fuzz/lang.dict -artifact_prefix=$(BUILD)/fuzz/ -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus-lang tests/fuzz/corpus/lang
FUZZ_TARGETS += fuzz-lang
test-lang-fuzz-replay: $(BUILD)/fuzz-replay/replay-lang
	@$(BUILD)/fuzz-replay/replay-lang tests/fuzz/corpus/lang
TEST_EXTRA += test-lang-fuzz-replay
