# The witan command's refusals of mistakes (tests/cli/test_cli.sh): no
# node needed.
.PHONY: test-cli
test-cli: $(BUILD)/bin/witan
	@sh tests/cli/test_cli.sh $(BUILD)/bin
TEST_EXTRA += test-cli

# `witan attest --file` on a real chain of one validator
# (tests/cli/test_attest_file.sh): CSV quoting, conflicts, progress, tally.
.PHONY: test-attest-file
test-attest-file: $(BUILD)/bin/witan $(BUILD)/bin/witand
	@sh tests/cli/test_attest_file.sh $(BUILD)/bin
TEST_EXTRA += test-attest-file

# Every --json output parsed as JSON, against a real chain of one validator
# (tests/cli/test_json.sh; python3 comes with the project's packages).
.PHONY: test-json
test-json: $(BUILD)/bin/witan $(BUILD)/bin/witand
	@sh tests/cli/test_json.sh $(BUILD)/bin
TEST_EXTRA += test-json

# The README's command examples run as written against real nodes
# (tests/cli/test_readme.sh).
.PHONY: test-readme
test-readme: $(BUILD)/bin/witan $(BUILD)/bin/witand
	@sh tests/cli/test_readme.sh $(BUILD)/bin
TEST_EXTRA += test-readme
