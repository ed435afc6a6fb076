/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tree decisions with ONNX semantics, exactly: a decimal input goes the way
 * ONNX Runtime sends float32(input) at a float32 threshold. The decimal to
 * float32 rounding is checked against the C library's correctly rounded
 * strtof around every threshold of every fixture tree (the floats on either
 * side, their midpoint, and decimals just below and above each, in 9, 12
 * and 17 significant digits), on random decimals over the whole range, and
 * on the two cases that went the wrong way before.
 */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/inference/support.h"

/* The key Witan makes of decimal text, and the one strtof makes; false for
 * text outside the decimals a chain holds (over 18 digits of scale). */
static bool both_keys(const char *text, int64_t *witan, int64_t *libc)
{
    int64_t m;
    uint32_t s;
    int err = infer_decimal_parse(text, strlen(text), &m, &s);
    if (err == WITAN_ERANGE)
        return false;
    assert_int_equal(err, 0);
    int32_t k;
    assert_int_equal(infer_float32_key_from_decimal(m, s, &k), 0);
    *witan = k;
    *libc = infer_float32_key(strtof(text, NULL));
    return true;
}

static size_t checked, skipped;

/* Decimals around x (a double holding a float or a midpoint of two): x
 * itself and its neighbours in several precisions. Each must round as
 * strtof rounds, and so branch as ONNX does at threshold key `thr`. */
static void around(double x, int64_t thr)
{
    static const int digits[] = {9, 12, 17};
    for (size_t d = 0; d < sizeof digits / sizeof *digits; d++) {
        char text[64];
        for (int side = -1; side <= 1; side++) {
            double v = side == 0 ? x : nextafter(x, side * INFINITY);
            /* %.*e: at most 18 significant digits, as decimals on chain */
            snprintf(text, sizeof text, "%.*e", digits[d] - 1, v);
            int64_t w, c;
            if (!both_keys(text, &w, &c)) {
                skipped++;
                continue;
            }
            if (w != c)
                fail_msg("%s: key %lld, strtof's %lld", text, (long long)w,
                         (long long)c);
            float f = strtof(text, NULL);
            /* the model goes right when key > thr; ONNX when the float is
             * above the threshold's float (keys of neighbours differ by 1) */
            assert_int_equal(w > thr, f > infer_float32_of_key(thr));
            checked++;
        }
    }
}

static void test_fixture_thresholds(void **state)
{
    (void)state;
    struct tsup_fixture fx[32];
    size_t n = tsup_manifest(fx, 32), trees = 0, nodes = 0;
    checked = 0;
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, TSUP_DIR "%.60s.bin", fx[i].name);
        size_t size;
        uint8_t *bytes = tsup_read(path, &size);
        assert_non_null(bytes);
        Witan__Model__Model *pb = witan__model__model__unpack(NULL, size, bytes);
        assert_non_null(pb);
        if (pb->n_trees) /* every imported tree model reads float32 keys */
            assert_int_equal(pb->input_encoding,
                             WITAN__MODEL__INPUT_ENCODING__INPUT_FLOAT32_ORDER);
        for (size_t t = 0; t < pb->n_trees; t++, trees++) {
            const Witan__Model__Tree *tr = pb->trees[t];
            for (size_t k = 0; k < tr->n_threshold; k++) {
                if (!tr->left[k] && !tr->right[k])
                    continue;
                int64_t thr = tr->threshold[k];
                /* left: key <= thr; the floats either side of the cut */
                float lo = infer_float32_of_key(thr), hi = infer_float32_of_key(thr + 1);
                around(lo, thr);
                around(hi, thr);
                around(((double)lo + (double)hi) / 2, thr);
                nodes++;
            }
        }
        witan__model__model__free_unpacked(pb, NULL);
        free(bytes);
    }
    printf("  %zu decimals around %zu thresholds of %zu trees: every one "
           "rounds as strtof and branches as float32 (%zu past 18 digits of "
           "scale, which no chain holds)\n",
           checked, nodes, trees, skipped);
    assert_true(nodes > 100);
}

/* Random decimals over the whole domain: up to 18 digits, scale 0 to 18. */
static void test_random_decimals(void **state)
{
    (void)state;
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int digits = 1 + (int)(x % 18);
        uint64_t mant = (x >> 8) % 1000000000000000000ull;
        uint64_t cap = 1;
        for (int d = 0; d < digits; d++)
            cap *= 10;
        mant %= cap;
        int scale = (int)((x >> 3) % 19);
        char text[64];
        snprintf(text, sizeof text, "%s%llue-%d", (x & 1) ? "-" : "",
                 (unsigned long long)mant, scale);
        int64_t w, c;
        assert_true(both_keys(text, &w, &c));
        if (w != c)
            fail_msg("%s: key %lld, strtof's %lld", text, (long long)w,
                     (long long)c);
    }
}

/* The two ways tree decisions used to part from ONNX Runtime: an input
 * below a float32 threshold that rounded onto the other side of its
 * fixed-point image, and a decimal that rounds onto the threshold itself. */
static void test_reported_cases(void **state)
{
    (void)state;
    static const char *const cases[] = {"0.001942", "95.2"};
    for (size_t i = 0; i < 2; i++) {
        float t = strtof(cases[i], NULL); /* the threshold, float32 */
        int64_t leq = infer_float32_key(t), w, c;
        assert_true(both_keys(cases[i], &w, &c));
        /* x <= t: float32(x) == t, so left, as ONNX Runtime goes */
        assert_true(w <= leq);
        /* x < t: right */
        assert_false(w <= leq - 1);
    }
    /* Ties go to even, as strtof: 2^24 + 1 lies halfway between 2^24 and
     * 2^24 + 2 and rounds to 2^24, whose significand is even. */
    int64_t w, c;
    assert_true(both_keys("16777217", &w, &c));
    assert_int_equal(w, c);
    assert_int_equal(w, infer_float32_key(16777216.0f));
    assert_true(both_keys("-0", &w, &c));
    assert_int_equal(w, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_thresholds),
        cmocka_unit_test(test_random_decimals),
        cmocka_unit_test(test_reported_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
