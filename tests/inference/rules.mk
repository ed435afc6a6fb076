# Inference: extra targets (included by the Makefile).
#
#   test-inference-O0   builds the pinned-hash and reference-model tests again
#                       at -O0 with the portable kernels only and runs them
#                       (make test runs it; `make SAN=1 test` does the same
#                       with sanitizers), so -O0, -O2 and SAN=1 must all
#                       print the pinned hash
#   bench-inference     MLPs 32-64-64-1 and 16-128-32-1 and 100 trees of
#                       depth 6, single and batched, beside ONNX Runtime
#                       (onnxruntime-node, installed into build/ort by this
#                       file)
#   fuzz-inference      libFuzzer over the model loader and the ONNX importer

INFER_O0 := $(BUILD)/O0
# Only what the pinned-hash test needs, compiled in one go at -O0 with the
# portable kernels; the same sources pass -Werror in the normal build.
INFER_O0_SRCS := $(wildcard inference/*.c) $(wildcard crypto/*.c) \
    $(filter-out common/main.c,$(wildcard common/*.c)) \
    $(BUILD)/gen/spec/model.pb-c.c $(BUILD)/gen/spec/onnx.pb-c.c \
    $(BUILD)/gen/spec/witan.pb-c.c \
    tests/inference/support.c
INFER_O0_TESTS := $(INFER_O0)/test_hash $(INFER_O0)/test_reference

.PHONY: test-inference-O0 bench-inference fuzz-inference
$(INFER_O0)/test_%: tests/inference/test_%.c $(INFER_O0_SRCS) inference/inference.h \
    inference/internal.h | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O0 -g -DINFER_NO_CLONES $(SAN_FLAGS) -Wall \
	    $< $(INFER_O0_SRCS) $(LDLIBS) -lcmocka -o $@
test-inference-O0: $(INFER_O0_TESTS)
	@echo "== pinned hash and reference model at -O0, portable kernels ($(INFER_O0))"
	@for t in $(INFER_O0_TESTS); do $$t > $$t.out 2>&1 || { cat $$t.out; exit 1; }; \
	    grep -E 'hash over|PASSED' $$t.out; done
TEST_EXTRA += test-inference-O0

# --- benchmark ---------------------------------------------------------------
ORT_DIR := build/ort
ORT_STAMP := $(ORT_DIR)/node_modules/onnxruntime-node/package.json
$(ORT_STAMP):
	@mkdir -p $(ORT_DIR)
	cd $(ORT_DIR) && (test -f package.json || echo '{"private":true}' > package.json) && \
	    ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund \
	    onnxruntime-node >/dev/null
$(BUILD)/tests/inference/bench_inference: $(BUILD)/obj/tests/inference/main_bench_inference.o \
    $(tests/inference_SUPPORT_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(tests/inference_SUPPORT_OBJS) $(LINK_LIBS) -o $@
bench-inference: $(BUILD)/tests/inference/bench_inference $(ORT_STAMP) \
    $(LOAD_MAIN)
	@$(LOAD_MAIN) $(BUILD)/tests/inference/bench_inference
BENCH_TARGETS += bench-inference

# --- fuzzing -----------------------------------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_INFER_DIR := build/fuzz-inference
FUZZ_INFER_SRCS := $(wildcard inference/*.c) common/common.c \
    build/gen/spec/model.pb-c.c build/gen/spec/onnx.pb-c.c \
    tests/fuzz/main_fuzz_inference.c
$(FUZZ_INFER_DIR)/fuzz_inference: $(FUZZ_INFER_SRCS) | build/gen/spec/model.pb-c.h build/gen/spec/onnx.pb-c.h
	@mkdir -p $(dir $@)
	clang -std=c11 -O1 -g -I. -Ibuild/gen -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
	    $(FUZZ_INFER_SRCS) -lprotobuf-c -lm -o $@
fuzz-inference: $(FUZZ_INFER_DIR)/fuzz_inference
	@mkdir -p $(FUZZ_INFER_DIR)/corpus
	$(FUZZ_INFER_DIR)/fuzz_inference -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(FUZZ_INFER_DIR)/ \
	    -max_len=65536 -rss_limit_mb=1024 $(FUZZ_INFER_DIR)/corpus tests/fuzz/corpus-inference
FUZZ_TARGETS += fuzz-inference
