# The witan command's refusals of mistakes (tests/cli/test_cli.sh): no
# node needed.
.PHONY: test-cli
test-cli: $(BUILD)/bin/witan
	@sh tests/cli/test_cli.sh $(BUILD)/bin
TEST_EXTRA += test-cli
