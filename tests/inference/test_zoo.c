/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model zoo (tests/fixtures/make_zoo.py): twelve models unlike the
 * fixtures — deep and 200-tree ensembles, forests averaged and voting,
 * multi-class softmax, a Scaler in front of MLPs, features of 1e8 beside
 * 1e-3 — imported on their training inputs with the default bound, then
 * scored from the decimals of their test inputs (inside the calibrated
 * ranges, and at every threshold of the first trees with the floats either
 * side) against ONNX Runtime's outputs, committed at generation time: every
 * output within the import's bound, but where the score says a value
 * saturated (test inputs combine features in ways the training data never
 * did, so a hidden activation can leave its calibrated format: said, never
 * silent). Trees make ONNX Runtime's decisions: their error is the leaves'
 * rounding alone. Inputs beyond a calibrated range are reported outside
 * it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/inference/support.h"

#define ZOO_DIR "tests/fixtures/zoo/"
#define ZOO_COUNT_MAX 32

/* Scores every row of a CSV of decimals; calls back with the outputs (or
 * the result) of each. Returns the row count. */
typedef void (*row_fn)(void *ctx, size_t row, const int32_t *out,
                       const struct infer_result *r);
static size_t score_rows(const infer_model *m, const char *path, row_fn fn,
                         void *ctx)
{
    size_t size;
    char *text = (char *)tsup_read(path, &size);
    assert_non_null(text);
    struct witan_csv *csv = malloc(sizeof *csv);
    assert_non_null(csv);
    witan_csv_init(csv, text, size);
    struct infer_info info;
    infer_model_info(m, &info);
    char why[128];
    size_t rows = 0;
    assert_int_equal(witan_csv_next(csv, why, sizeof why), 1); /* header */
    int got;
    while ((got = witan_csv_next(csv, why, sizeof why)) == 1) {
        assert_int_equal(csv->count, info.input_count);
        int64_t x[WITAN_MODEL_INPUT_COUNT_MAX];
        for (size_t i = 0; i < csv->count; i++) {
            int64_t mant;
            uint32_t scale;
            assert_int_equal(infer_decimal_parse(csv->fields[i], csv->sizes[i],
                                                 &mant, &scale),
                             0);
            int err = infer_input_from_decimal(m, i, mant, scale, &x[i]);
            if (err)
                fail_msg("%s line %zu: input %zu '%s': %s", path, csv->line,
                         i, csv->fields[i], witan_err_name(err));
        }
        int32_t out[WITAN_MODEL_OUTPUT_COUNT_MAX];
        struct infer_result r;
        assert_int_equal(infer_score(m, x, info.input_count, out,
                                     info.output_count, &r),
                         0);
        fn(ctx, rows++, out, &r);
    }
    assert_int_equal(got, 0);
    free(csv);
    free(text);
    return rows;
}

struct against_ort {
    const double *ref;
    size_t ref_rows, ref_cols, outputs;
    uint32_t frac;
    double worst, worst_saturated;
    size_t worst_row, outside, saturated;
};

static void compare_row(void *ctx, size_t row, const int32_t *out,
                        const struct infer_result *r)
{
    struct against_ort *a = ctx;
    assert_true(row < a->ref_rows);
    assert_int_equal(a->ref_cols, a->outputs);
    for (size_t k = 0; k < a->outputs; k++) {
        double e = fabs(ldexp(out[k], -(int)a->frac) -
                        a->ref[row * a->ref_cols + k]);
        if (r->saturated) { /* said, not silent: counted apart */
            a->worst_saturated =
                e > a->worst_saturated ? e : a->worst_saturated;
            continue;
        }
        if (e > a->worst) {
            a->worst = e;
            a->worst_row = row;
        }
    }
    a->outside += r->outside != 0;
    a->saturated += r->saturated != 0;
}

static void expect_outside(void *ctx, size_t row, const int32_t *out,
                           const struct infer_result *r)
{
    (void)out;
    if (r->outside == 0)
        fail_msg("%s: row %zu is beyond a calibrated range, not reported",
                 (const char *)ctx, row + 2);
}

static void check_model(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, ZOO_DIR "%s.onnx", name);
    size_t onnx_size, calib_size, rows, cols;
    uint8_t *onnx = tsup_read(path, &onnx_size);
    assert_non_null(onnx);
    snprintf(path, sizeof path, ZOO_DIR "%s.calib.csv", name);
    char *calib = (char *)tsup_read(path, &calib_size);
    assert_non_null(calib);
    double *x;
    char why[512];
    assert_int_equal(infer_csv_parse(calib, calib_size, &x, &rows, &cols, NULL,
                                     why, sizeof why),
                     0);
    struct infer_import_options o = {.samples = x, .sample_count = rows,
                                     .feature_count = cols,
                                     .max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *model;
    size_t size;
    int err = infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep, why,
                                sizeof why);
    if (err)
        fail_msg("%s: %s: %s", name, witan_err_name(err), why);
    infer_model *m;
    assert_int_equal(infer_model_load(model, size, &m, why, sizeof why), 0);
    struct infer_info info;
    infer_model_info(m, &info);

    struct against_ort a = {.outputs = info.output_count,
                            .frac = info.output_frac_bits};
    snprintf(path, sizeof path, ZOO_DIR "%s.ort.csv", name);
    double *ref = tsup_csv(path, &a.ref_rows, &a.ref_cols);
    assert_non_null(ref);
    a.ref = ref;
    snprintf(path, sizeof path, ZOO_DIR "%s.test.csv", name);
    size_t n = score_rows(m, path, compare_row, &a);
    assert_int_equal(n, a.ref_rows);
    snprintf(path, sizeof path, ZOO_DIR "%s.outside.csv", name);
    size_t no = score_rows(m, path, expect_outside, (void *)name);
    printf("  %-17s %5zu rows: vs ONNX Runtime %.3g, import bound %.3g "
           "(error on its samples %.3g); %zu rows reported saturated (worst "
           "%.3g); %zu rows outside calibration reported\n",
           name, n, a.worst, rep.bound, rep.max_abs_error, a.saturated,
           a.worst_saturated, no);
    if (!(a.worst <= rep.bound))
        fail_msg("%s: row %zu off ONNX Runtime by %g, over the bound %g", name,
                 a.worst_row + 2, a.worst, rep.bound);
    assert_int_equal(a.outside, 0);
    infer_model_free(m);
    free(model);
    free(ref);
    free(x);
    free(calib);
    free(onnx);
}

static void test_zoo(void **state)
{
    (void)state;
    size_t size;
    char *manifest = (char *)tsup_read(ZOO_DIR "manifest.txt", &size);
    assert_non_null(manifest);
    size_t models = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        check_model(line);
        models++;
    }
    free(manifest);
    assert_true(models >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
