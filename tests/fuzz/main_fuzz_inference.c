/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the inference decoders: the model loader (and the
 * scorer on whatever it accepts), the ONNX importer with and without
 * samples, the float graph evaluator, and the CSV and decimal parsers.
 * The first byte picks the target; the rest is the input. Post-conditions
 * are asserted: an accepted model scores any in-range input within its gas
 * bound, and a model the importer emits always loads.
 * Built and run by tests/inference/rules.mk (make fuzz-inference).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inference/inference.h"

static void fuzz_model(const uint8_t *data, size_t size)
{
    infer_model *m = NULL;
    char why[256];
    if (infer_model_load(data, size, &m, why, sizeof why))
        return;
    struct infer_info info;
    infer_model_info(m, &info);
    int64_t x[WITAN_MODEL_INPUT_COUNT_MAX];
    int32_t y[WITAN_MODEL_OUTPUT_COUNT_MAX];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < info.input_count; i++) {
            uint64_t v = 0;
            for (size_t b = 0; b < 8 && size; b++)
                v = v << 8 | data[(i * 8 + b + round * 5) % size];
            int64_t span = WITAN_MODEL_INPUT_ABS_MAX;
            x[i] = round == 2 ? (i % 2 ? span : -span)
                              : (int64_t)(v % (2 * (uint64_t)span + 1)) - span;
        }
        struct infer_result r;
        if (infer_score(m, x, info.input_count, y, info.output_count, &r))
            abort();
        if (r.gas > info.gas_max)
            abort();
        uint64_t gas;
        size_t label;
        int32_t yb[WITAN_MODEL_OUTPUT_COUNT_MAX];
        if (infer_score_batch(m, x, 1, yb, &label, &gas) || gas != r.gas ||
            label != r.label || memcmp(y, yb, info.output_count * sizeof *y))
            abort();
    }
    for (size_t i = 0; i < info.input_count; i++)
        (void)infer_input_name(m, i);
    infer_model_free(m);
}

static void fuzz_onnx(const uint8_t *data, size_t size, bool samples)
{
    double xs[2 * WITAN_MODEL_INPUT_COUNT_MAX];
    struct infer_import_options o = {.max_abs_error = 0.5};
    if (samples) {
        /* Two sample rows of a width given by the first two bytes. */
        if (size < 2)
            return;
        size_t w = (size_t)(data[0] | data[1] << 8) % WITAN_MODEL_INPUT_COUNT_MAX + 1;
        data += 2;
        size -= 2;
        for (size_t i = 0; i < 2 * w; i++)
            xs[i] = (double)((int)(i * 37 % 200) - 100) / 8.0;
        o.samples = xs;
        o.sample_count = 2;
        o.feature_count = w;
    }
    uint8_t *model = NULL;
    size_t msize;
    struct infer_import_report rep;
    char why[512];
    int err = infer_onnx_import(data, size, &o, &model, &msize, &rep, why, sizeof why);
    if (!err) {
        infer_model *m = NULL;
        if (infer_model_load(model, msize, &m, why, sizeof why))
            abort(); /* the importer must never emit a refused model */
        infer_model_free(m);
        free(model);
    } else if (model) {
        abort();
    }
    if (samples) {
        double out[2 * WITAN_MODEL_OUTPUT_COUNT_MAX];
        size_t n;
        (void)infer_onnx_eval_float(data, size, xs, 2, o.feature_count, out,
                                    2 * WITAN_MODEL_OUTPUT_COUNT_MAX, &n, why,
                                    sizeof why);
    }
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    double *v = NULL;
    char **names = NULL;
    size_t rows, cols;
    char why[256];
    if (!infer_csv_parse((const char *)data, size, &v, &rows, &cols, &names,
                         why, sizeof why)) {
        for (size_t i = 0; names && i < cols; i++)
            free(names[i]);
        free(names);
        free(v);
    }
    int64_t m, fx;
    uint32_t s;
    if (!infer_decimal_parse((const char *)data, size < 40 ? size : 40, &m, &s))
        (void)infer_fixed_from_decimal(m, s, 16, &fx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_model(data + 1, size - 1); break;
    case 1: fuzz_onnx(data + 1, size - 1, false); break;
    case 2: fuzz_onnx(data + 1, size - 1, true); break;
    default: fuzz_text(data + 1, size - 1); break;
    }
    return 0;
}
