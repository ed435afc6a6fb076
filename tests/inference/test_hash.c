/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pinned output hash: every committed fixed-point fixture model scored
 * on a fixed input set (sample rows and deterministic pseudo-random inputs,
 * extremes included); outputs, labels and gas go into one SHA-256. A change
 * to the arithmetic changes this hash: it must be a deliberate change, with
 * the constant below updated. tests/inference/rules.mk builds this program
 * again at -O0 with the baseline kernels only (INFER_NO_CLONES) and `make
 * SAN=1 test` with sanitizers: all must print the same hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tests/inference/support.h"

#define PINNED "b301b2c94b2f514d2e67431488b106b2337d8a789d66eaa6fe36288c465b6ebf"

static uint64_t xs = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    xs ^= xs << 13;
    xs ^= xs >> 7;
    xs ^= xs << 17;
    return xs;
}

static void put_le(wcrypto_hasher *h, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    wcrypto_hasher_update(h, b, n);
}

static void hash_model(wcrypto_hasher *h, const char *name)
{
    char path[256];
    size_t size, rows, cols;
    snprintf(path, sizeof path, TSUP_DIR "%.60s.bin", name);
    uint8_t *bin = tsup_read(path, &size);
    snprintf(path, sizeof path, TSUP_DIR "%.60s.samples.csv", name);
    double *x = tsup_csv(path, &rows, &cols);
    assert_non_null(bin);
    assert_non_null(x);
    infer_model *m;
    char why[256];
    assert_int_equal(infer_model_load(bin, size, &m, why, sizeof why), 0);
    struct infer_info info;
    infer_model_info(m, &info);
    assert_int_equal(info.input_count, cols);
    enum { SAMPLES = 128, RANDOM = 64, N = SAMPLES + RANDOM + 2 };
    size_t n_in = cols, n_out = info.output_count;
    int64_t *in = calloc(N * n_in, sizeof *in);
    int32_t *out = calloc(N * n_out, sizeof *out);
    size_t *labels = calloc(N, sizeof *labels);
    assert_non_null(in);
    for (size_t s = 0; s < SAMPLES; s++)
        for (size_t i = 0; i < n_in; i++)
            in[s * n_in + i] = tsup_input(m, i, x[(s % rows) * n_in + i]);
    /* Random values within 2^12 of zero, in the model's input format. */
    int64_t span = info.input_encoding == INFER_IN_FLOAT32_ORDER
                       ? tsup_input(m, 0, 4096.0)
                       : (int64_t)1 << (infer_input_frac_bits(m, 0) + 12);
    if (span > WITAN_MODEL_INPUT_ABS_MAX)
        span = WITAN_MODEL_INPUT_ABS_MAX;
    for (size_t s = SAMPLES; s < SAMPLES + RANDOM; s++)
        for (size_t i = 0; i < n_in; i++)
            in[s * n_in + i] = (int64_t)(next_rand() % (2 * (uint64_t)span + 1)) - span;
    for (size_t i = 0; i < n_in; i++) {
        in[(N - 2) * n_in + i] = WITAN_MODEL_INPUT_ABS_MAX;
        in[(N - 1) * n_in + i] = -WITAN_MODEL_INPUT_ABS_MAX;
    }
    uint64_t gas_total;
    assert_int_equal(infer_score_batch(m, in, N, out, labels, &gas_total), 0);
    uint64_t gas_sum = 0;
    for (size_t s = 0; s < N; s++) {
        int32_t one[WITAN_MODEL_OUTPUT_COUNT_MAX];
        struct infer_result r;
        assert_int_equal(infer_score(m, in + s * n_in, n_in, one, n_out, &r), 0);
        assert_memory_equal(one, out + s * n_out, n_out * sizeof *one);
        assert_int_equal(r.label, labels[s]);
        gas_sum += r.gas;
        for (size_t k = 0; k < n_out; k++)
            put_le(h, (uint32_t)one[k], 4);
        put_le(h, r.label, 4);
        put_le(h, r.gas, 8);
    }
    assert_int_equal(gas_sum, gas_total);
    infer_model_free(m);
    free(in);
    free(out);
    free(labels);
    free(bin);
    free(x);
}

static void test_pinned_hash(void **state)
{
    (void)state;
    assert_int_equal(wcrypto_init(), 0);
    struct tsup_fixture fx[32];
    size_t n = tsup_manifest(fx, 32);
    assert_true(n >= 9);
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, "witan/test/inference-outputs");
    for (size_t i = 0; i < n; i++)
        hash_model(&h, fx[i].name);
    uint8_t digest[32];
    char hex[65];
    wcrypto_hasher_final(&h, digest);
    witan_hex_encode(digest, sizeof digest, hex);
    printf("  inference output hash over %zu models: %s\n", n, hex);
    assert_string_equal(hex, PINNED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
