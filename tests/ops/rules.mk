# Operating a validator (issue 16, section 4): extra targets make test runs.
#   test-spdx      every .c/.h/.sh/.py source carries its SPDX licence line
.PHONY: test-spdx
test-spdx:
	@sh tests/ops/check_spdx.sh
TEST_EXTRA += test-spdx
