/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make bench-inference: Witan's integer scorer beside ONNX Runtime on the
 * same ONNX files and inputs, in the same run. Models: MLPs 32-64-64-1 and
 * 16-128-32-1 and 100 gradient-boosted trees of depth 6
 * (tests/fixtures/models/bench_*).
 * For each: single-sample predictions per second (one call per sample) and
 * batched throughput (1,024 samples per call), and the largest absolute
 * error against the float reference. ONNX Runtime runs in node with one
 * thread (tests/inference/bench_ort.js, onnxruntime-node in build/ort).
 * Outputs: Witan's integer outputs and ONNX Runtime's float outputs are each
 * compared with the float reference (max err column).
 * Then the same two figures for each model of the zoo (tests/fixtures/zoo,
 * imported here on its training inputs), on its test inputs repeated to
 * 1,024 rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/inference/support.h"

/* Each figure is the best of ROUNDS runs of SECONDS, for both engines: the
 * machine is shared, and the best run is the least disturbed one. */
#define SECONDS 0.4
#define ROUNDS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct figures {
    double single, batch, err;
};

/* Both figures of model m on rows inputs (cols each), best of ROUNDS. */
static void time_witan(const infer_model *m, const int64_t *in, size_t rows,
                       size_t cols, struct figures *f)
{
    struct infer_info info;
    infer_model_info(m, &info);
    int32_t *out = malloc(rows * info.output_count * sizeof *out);
    uint64_t gas;
    f->batch = f->single = 0;
    int64_t sink = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Batched: all rows per call. */
        double t0 = now(), t;
        size_t calls = 0;
        do {
            infer_score_batch(m, in, rows, out, NULL, &gas);
            calls++;
        } while ((t = now()) - t0 < SECONDS);
        double r = (double)calls * (double)rows / (t - t0);
        f->batch = r > f->batch ? r : f->batch;
        /* Single sample per call. */
        calls = 0;
        t0 = now();
        do {
            for (size_t s = 0; s < rows; s++) {
                struct infer_result res;
                infer_score(m, in + s * cols, cols, out, info.output_count, &res);
                sink += out[0];
            }
            calls += rows;
        } while ((t = now()) - t0 < SECONDS);
        r = (double)calls / (t - t0);
        f->single = r > f->single ? r : f->single;
    }
    if (sink == 42)
        printf(" ");
    free(out);
}

static int run_witan(const char *name, struct figures *f)
{
    char path[256];
    size_t size, rows, cols, rr, rc;
    snprintf(path, sizeof path, TSUP_DIR "%s.bin", name);
    uint8_t *bin = tsup_read(path, &size);
    snprintf(path, sizeof path, TSUP_DIR "%s.samples.csv", name);
    double *x = tsup_csv(path, &rows, &cols);
    snprintf(path, sizeof path, TSUP_DIR "%s.ref.csv", name);
    double *ref = tsup_csv(path, &rr, &rc);
    infer_model *m = NULL;
    char why[256];
    if (!bin || !x || !ref || infer_model_load(bin, size, &m, why, sizeof why)) {
        fprintf(stderr, "bench: cannot load %s\n", name);
        return 1;
    }
    struct infer_info info;
    infer_model_info(m, &info);
    int64_t *in = malloc(rows * cols * sizeof *in);
    int32_t *out = malloc(rows * info.output_count * sizeof *out);
    for (size_t i = 0; i < rows * cols; i++)
        in[i] = tsup_input(m, i % cols, x[i]);
    uint64_t gas;
    infer_score_batch(m, in, rows, out, NULL, &gas);
    f->err = 0;
    for (size_t s = 0; s < rows; s++) {
        double e = fabs(ldexp(out[s * info.output_count], -(int)info.output_frac_bits) -
                        ref[s * rc]);
        f->err = e > f->err ? e : f->err;
    }
    time_witan(m, in, rows, cols, f);
    infer_model_free(m);
    free(in);
    free(out);
    free(bin);
    free(x);
    free(ref);
    return 0;
}

/* ONNX Runtime on dir/NAME.onnx, inputs dir/NAME<samples>, reference
 * dir/NAME<ref>, the inputs repeated to `rows` rows. */
static int run_ort(const char *dir, const char *name, const char *samples,
                   const char *ref, size_t rows, struct figures *f)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "node tests/inference/bench_ort.js build/ort %s%s.onnx %s%s%s "
             "%s%s%s %g %d %zu",
             dir, name, dir, name, samples, dir, name, ref, SECONDS, ROUNDS, rows);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 1;
    char line[256] = "";
    int ok = fgets(line, sizeof line, p) &&
             sscanf(line, "ort single_per_s=%lf batch_per_s=%lf max_err=%lf",
                    &f->single, &f->batch, &f->err) == 3;
    return (pclose(p) == 0 && ok) ? 0 : 1;
}

#define ZOO_DIR "tests/fixtures/zoo/"
#define ZOO_ROWS 1024

/* A zoo model imported from its ONNX file on its training inputs, timed on
 * its test inputs repeated to ZOO_ROWS rows. */
static int run_zoo_witan(const char *name, struct figures *f)
{
    char path[256], why[512];
    size_t onnx_size, rows, cols, crows, ccols;
    snprintf(path, sizeof path, ZOO_DIR "%s.onnx", name);
    uint8_t *onnx = tsup_read(path, &onnx_size);
    snprintf(path, sizeof path, ZOO_DIR "%s.calib.csv", name);
    double *calib = tsup_csv(path, &crows, &ccols);
    snprintf(path, sizeof path, ZOO_DIR "%s.test.csv", name);
    double *x = tsup_csv(path, &rows, &cols);
    if (!onnx || !calib || !x || !rows)
        return 1;
    struct infer_import_options o = {.samples = calib, .sample_count = crows,
                                     .feature_count = ccols,
                                     .max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *bin = NULL;
    size_t size;
    infer_model *m = NULL;
    if (infer_onnx_import(onnx, onnx_size, &o, &bin, &size, &rep, why, sizeof why) ||
        infer_model_load(bin, size, &m, why, sizeof why)) {
        fprintf(stderr, "bench: %s: %s\n", name, why);
        return 1;
    }
    int64_t *in = malloc(ZOO_ROWS * cols * sizeof *in);
    for (size_t i = 0; i < ZOO_ROWS * cols; i++)
        in[i] = tsup_input(m, i % cols, x[(i / cols) % rows * cols + i % cols]);
    time_witan(m, in, ZOO_ROWS, cols, f);
    infer_model_free(m);
    free(in);
    free(bin);
    free(x);
    free(calib);
    free(onnx);
    return 0;
}

static int run_zoo(void)
{
    FILE *mf = fopen(ZOO_DIR "manifest.txt", "r");
    if (!mf)
        return 1;
    printf("\nzoo (tests/fixtures/zoo), batches of %d    witan /s    onnxrt /s   ratio\n",
           ZOO_ROWS);
    char line[128];
    int fail = 0;
    while (fgets(line, sizeof line, mf)) {
        char name[64];
        if (line[0] == '#' || sscanf(line, "%63s", name) != 1)
            continue;
        struct figures w, o;
        if (run_zoo_witan(name, &w) ||
            run_ort(ZOO_DIR, name, ".test.csv", ".ort.csv", ZOO_ROWS, &o)) {
            fprintf(stderr, "bench: %s failed\n", name);
            fail = 1;
            continue;
        }
        printf("%-18s single  %12.0f %12.0f %7.2fx\n", name, w.single, o.single,
               w.single / o.single);
        printf("%-18s batched %12.0f %12.0f %7.2fx\n", "", w.batch, o.batch,
               w.batch / o.batch);
    }
    fclose(mf);
    return fail;
}

int main(void)
{
    static const char *const models[][2] = {
        {"bench_mlp", "MLP 32-64-64-1 (ReLU)"},
        {"bench_mlp16", "MLP 16-128-32-1 (ReLU)"},
        {"bench_gb", "GB 100 trees, depth 6"},
    };
    int fail = 0;
    printf("%-24s %-9s %14s %14s %10s\n", "model", "engine", "single /s",
           "batched /s", "max err");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        struct figures w, o;
        if (run_witan(models[i][0], &w) ||
            run_ort(TSUP_DIR, models[i][0], ".samples.csv", ".ref.csv", 0, &o)) {
            fprintf(stderr, "bench: %s failed\n", models[i][0]);
            return 1;
        }
        printf("%-24s %-9s %14.0f %14.0f %10.2e\n", models[i][1], "witan",
               w.single, w.batch, w.err);
        printf("%-24s %-9s %14.0f %14.0f %10.2e\n", "", "onnxrt", o.single,
               o.batch, o.err);
        double rs = w.single / o.single, rb = w.batch / o.batch;
        printf("%-24s %-9s %13.2fx %13.2fx   targets >= 4x, >= 1x: %s\n", "",
               "ratio", rs, rb, rs >= 4 && rb >= 1 ? "met" : "NOT MET");
        printf("%-24s %-9s %11.3f us %11.3f us\n", "", "witan", 1e6 / w.single,
               1e6 / w.batch);
        printf("%-24s %-9s %11.3f us %11.3f us   (per sample)\n", "", "onnxrt",
               1e6 / o.single, 1e6 / o.batch);
        fail |= w.err > 0.05;
    }
    return run_zoo() | fail;
}
