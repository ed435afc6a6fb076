# The Python SDK (sdk/python), an auditor's second implementation of the
# archive checks, written from spec/ alone. Debian's interpreter, always:
# the first python3 on PATH may be another one without python3-protobuf
# and python3-nacl.
#   test-sdk-python   a real four-validator chain, exported, verified by the
#                     SDK and refused in tampered copies (tests/sdk/test_sdk.sh)
#   test-sdk-sets     a proof, a head and an archive after three
#                     validator-set changes (tests/fixtures/sets), by C and
#                     the SDK, and tampered copies (tests/sdk/test_sets.sh;
#                     no node)
SDK_PYTHON := /usr/bin/python3
SDK_PB_DIR := $(BUILD)/sdk/python
SDK_PB := $(SDK_PB_DIR)/spec/witan_pb2.py

# Generated code lives in the build directory, never in the tree.
$(SDK_PB): spec/witan.proto spec/consensus.proto | $(NEED_DEPS)
	@mkdir -p $(SDK_PB_DIR)
	protoc -I . --python_out=$(SDK_PB_DIR) spec/witan.proto spec/consensus.proto

.PHONY: test-sdk-python
test-sdk-python: $(BUILD)/bin/witand $(BUILD)/bin/witan $(SDK_PB)
	@WITAN_PB_DIR=$(abspath $(SDK_PB_DIR)) PYTHON=$(SDK_PYTHON) \
	    sh tests/sdk/test_sdk.sh $(BUILD)/bin
TEST_EXTRA += test-sdk-python

.PHONY: test-sdk-sets
test-sdk-sets: $(BUILD)/bin/witan $(SDK_PB)
	@WITAN_PB_DIR=$(abspath $(SDK_PB_DIR)) PYTHON=$(SDK_PYTHON) \
	    sh tests/sdk/test_sets.sh $(BUILD)/bin
TEST_EXTRA += test-sdk-sets
