# Operating a validator (issue 16, section 4): extra targets make test runs.
#   test-spdx      every .c/.h/.sh/.py source carries its SPDX licence line
.PHONY: test-spdx
test-spdx:
	@sh tests/ops/check_spdx.sh
TEST_EXTRA += test-spdx
#   test-install   make install into a scratch DESTDIR and check what it
#                  installed (tests/ops/test_install.sh)
.PHONY: test-install
test-install: all
	@MAKE='$(MAKE)' SAN='$(SAN)' sh tests/ops/test_install.sh
TEST_EXTRA += test-install
