# SPDX-License-Identifier: Apache-2.0
# The contract language through the witan command, on a real chain of one
# validator (tests/lang/test_lang_cli.sh): build, check, run, deploy FILE,
# audit source.
.PHONY: test-lang-cli
test-lang-cli: $(BUILD)/bin/witan $(BUILD)/bin/witand
	@sh tests/lang/test_lang_cli.sh $(BUILD)/bin
TEST_EXTRA += test-lang-cli
