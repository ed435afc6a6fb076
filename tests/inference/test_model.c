/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model validation and the integer arithmetic: hand-built models scored to
 * hand-computed bits, the rounding rule at its ties, the fixed functions
 * against their real values, and every refusal of the loader naming what is
 * wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/inference/support.h"

static infer_model *load_ok(const Witan__Model__Model *pb)
{
    infer_model *m = NULL;
    char why[256];
    int err = tsup_load(pb, &m, why, sizeof why);
    if (err)
        fail_msg("load failed: %s", why);
    return m;
}

static void expect_refusal(const Witan__Model__Model *pb, int code,
                           const char *fragment)
{
    infer_model *m = NULL;
    char why[256];
    int err = tsup_load(pb, &m, why, sizeof why);
    if (err != code || !strstr(why, fragment))
        fail_msg("expected %s with '%s', got %s: '%s'", witan_err_name(code),
                 fragment, witan_err_name(err), why);
    assert_null(m);
}

static int32_t score1(const infer_model *m, double a, double b, uint64_t *gas)
{
    int64_t x[2] = {tsup_fixed(a, 8), tsup_fixed(b, 8)};
    int32_t y[2];
    struct infer_result r;
    assert_int_equal(infer_score(m, x, 2, y, 1, &r), 0);
    if (gas)
        *gas = r.gas;
    return y[0];
}

static void test_dense_exact(void **state)
{
    (void)state;
    infer_model *m = load_ok(tsup_dense_model());
    uint64_t gas;
    /* h = relu(1.5, -2 + 1, 0.75 + 1) = (1.5, 0, 1.75); y = 1.5 - 1.75 */
    assert_int_equal(score1(m, 1.5, -2, &gas), -64);
    /* 100 + 2 inputs * 2 + 9 MACs + 1 output * 2 */
    assert_int_equal(gas, 100 + 4 + 9 + 2);
    /* Rounding half up: 0.5 * 2^-8 rounds to 2^-8, -0.5 * 2^-8 to 0. */
    assert_int_equal(score1(m, 1.0 / 256, 0, NULL), 1 + 512 - 1);
    assert_int_equal(score1(m, -1.0 / 256, 0, NULL), 512);
    /* Saturation: 200 is over int16 at Q.8 (127.996 at most), so the
     * normalised input is 32767; h = (32767, 1.0, 16384 = 0.5 * 32767
     * rounded half up). */
    assert_int_equal(score1(m, 200, 0, NULL), 32767 + 512 - 16384);
    infer_model_free(m);
}

static void test_dense_batch_same(void **state)
{
    (void)state;
    infer_model *m = load_ok(tsup_dense_model());
    int64_t x[40];
    for (int i = 0; i < 40; i++)
        x[i] = (i * 7919) % 2000 - 1000;
    int32_t y[20], y1;
    size_t labels[20];
    uint64_t gas;
    assert_int_equal(infer_score_batch(m, x, 20, y, labels, &gas), 0);
    for (int s = 0; s < 20; s++) {
        struct infer_result r;
        assert_int_equal(infer_score(m, x + 2 * s, 2, &y1, 1, &r), 0);
        assert_int_equal(y1, y[s]);
    }
    assert_int_equal(gas, 20 * (100 + 4 + 9 + 2));
    /* Wrong counts and out-of-range inputs are refused. */
    struct infer_result r;
    assert_int_equal(infer_score(m, x, 3, y, 1, &r), WITAN_EINVAL);
    assert_int_equal(infer_score(m, x, 2, y, 2, &r), WITAN_EINVAL);
    x[1] = WITAN_MODEL_INPUT_ABS_MAX + 1;
    assert_int_equal(infer_score(m, x, 2, y, 1, &r), WITAN_ERANGE);
    infer_model_free(m);
}

static void test_tree_exact(void **state)
{
    (void)state;
    infer_model *m = load_ok(tsup_tree_model());
    int64_t x[2];
    int32_t y[1];
    struct infer_result r;
    x[0] = 256, x[1] = 0; /* a <= 1.0: leaf 10, + base 1 */
    assert_int_equal(infer_score(m, x, 2, y, 1, &r), 0);
    assert_int_equal(y[0], 176);
    assert_int_equal(r.gas, 100 + 4 + 2 * 4 + 2);
    x[0] = 257, x[1] = -128; /* b <= -0.5: 20 */
    assert_int_equal(infer_score(m, x, 2, y, 1, &r), 0);
    assert_int_equal(y[0], 336);
    assert_int_equal(r.gas, 100 + 4 + 3 * 4 + 2);
    x[1] = -127;
    assert_int_equal(infer_score(m, x, 2, y, 1, &r), 0);
    assert_int_equal(y[0], 496);
    struct infer_info info;
    infer_model_info(m, &info);
    assert_int_equal(info.tree_count, 1);
    assert_int_equal(info.node_count, 5);
    assert_int_equal(info.tree_depth_max, 2);
    assert_int_equal(info.gas_max, 100 + 4 + 3 * 4 + 2);
    infer_model_free(m);
}

static void test_fixed_functions(void **state)
{
    (void)state;
    assert_int_equal(infer_sigmoid_fx(0, 16), 32768);
    assert_int_equal(infer_tanh_fx(0, 16), 0);
    assert_int_equal(infer_exp_neg_fx(0), 1 << 30);
    /* Pinned table entries (spec/models.md). */
    assert_int_equal(infer_sigmoid_fx(8 << 16, 16), 65514);
    assert_int_equal(infer_sigmoid_fx(1 << 16, 16), 47911);
    assert_int_equal(infer_exp_neg_fx(1 << 16), 395007542);
    for (int64_t x = -(10 << 16); x <= (10 << 16); x += 977) {
        double v = x / 65536.0;
        int32_t s = infer_sigmoid_fx(x, 16), t = infer_tanh_fx(x, 16);
        assert_int_equal(s + infer_sigmoid_fx(-x, 16), 65536);
        assert_int_equal(t, -infer_tanh_fx(-x, 16));
        double es = fabs(s / 65536.0 - 1 / (1 + exp(-v)));
        double et = fabs(t / 65536.0 - tanh(v));
        if (es > 4e-4 || et > 8e-4)
            fail_msg("x=%f sigmoid err %g tanh err %g", v, es, et);
        /* Monotonic. */
        assert_true(infer_sigmoid_fx(x + 977, 16) >= s);
        if (x >= 0) {
            double e = infer_exp_neg_fx(x) / 1073741824.0;
            if (fabs(e - exp(-v)) > 2e-6 + 1e-9)
                fail_msg("exp(-%f) err %g", v, fabs(e - exp(-v)));
        }
    }
    /* Other frac bits: the same real value gives (nearly) the same result. */
    assert_int_equal(infer_sigmoid_fx(3 << 10, 10), infer_sigmoid_fx(3 << 16, 16));
    assert_int_equal(infer_sigmoid_fx(3LL << 24, 24), infer_sigmoid_fx(3 << 16, 16));
    assert_int_equal(infer_exp_neg_fx(40LL << 16), 0);
}

static void test_decimal(void **state)
{
    (void)state;
    int64_t m, v;
    uint32_t s;
    assert_int_equal(infer_decimal_parse("12.5", 4, &m, &s), 0);
    assert_int_equal(m, 125);
    assert_int_equal(s, 1);
    assert_int_equal(infer_fixed_from_decimal(m, s, 16, &v), 0);
    assert_int_equal(v, 819200);
    assert_int_equal(infer_decimal_parse("-1.25e-2", 8, &m, &s), 0);
    assert_int_equal(m, -125);
    assert_int_equal(s, 4);
    assert_int_equal(infer_decimal_parse("3e2", 3, &m, &s), 0);
    assert_int_equal(m, 300);
    assert_int_equal(s, 0);
    assert_int_equal(infer_decimal_parse("1.2.3", 5, &m, &s), WITAN_EDECODE);
    assert_int_equal(infer_decimal_parse("abc", 3, &m, &s), WITAN_EDECODE);
    assert_int_equal(infer_decimal_parse("", 0, &m, &s), WITAN_EDECODE);
    assert_int_equal(infer_decimal_parse("1234567890123456789", 19, &m, &s),
                     WITAN_ERANGE);
    /* Half up at ties: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1. */
    assert_int_equal(infer_fixed_from_decimal(5, 1, 0, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(infer_fixed_from_decimal(-5, 1, 0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(infer_fixed_from_decimal(-15, 1, 0, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(infer_fixed_from_decimal(INT64_MAX, 0, 16, &v), WITAN_ERANGE);
    assert_int_equal(infer_fixed_from_decimal(1, 19, 16, &v), WITAN_EINVAL);
}

static void test_refuse_dense(void **state)
{
    (void)state;
    Witan__Model__Model *pb = tsup_dense_model();
    pb->layers[0]->n_weights = 5;
    expect_refusal(pb, WITAN_EMODEL, "layer 0: 5 weights, expected 3x2");
    pb = tsup_dense_model();
    pb->layers[1]->inputs = 4;
    expect_refusal(pb, WITAN_EMODEL, "layer 1: 4 inputs, expected 3");
    pb = tsup_dense_model();
    pb->layers[0]->weights[3] = 40000;
    expect_refusal(pb, WITAN_EMODEL, "weight [1][1] = 40000");
    pb = tsup_dense_model();
    pb->layers[1]->activation = WITAN__MODEL__ACTIVATION__ACTIVATION_RELU;
    expect_refusal(pb, WITAN_EMODEL, "last layer's activation");
    pb = tsup_dense_model();
    pb->layers[0]->out_frac_bits = 15;
    expect_refusal(pb, WITAN_EMODEL, "hidden out_frac_bits 15");
    pb = tsup_dense_model();
    pb->layers[1]->out_frac_bits = 9;
    expect_refusal(pb, WITAN_EMODEL, "differs from output_frac_bits");
    pb = tsup_dense_model();
    pb->n_outputs = 0;
    expect_refusal(pb, WITAN_EMODEL, "0 output names");
    pb = tsup_dense_model();
    pb->layers[0]->bias[0] = (1LL << 46) + 1;
    expect_refusal(pb, WITAN_EMODEL, "|bias 0| over");
    pb = tsup_dense_model();
    pb->kind = WITAN__MODEL__MODEL_KIND__LINEAR_REGRESSION;
    expect_refusal(pb, WITAN_EMODEL, "2 layers, must be 1");
    pb = tsup_dense_model();
    pb->format_version = 2;
    expect_refusal(pb, WITAN_EMODEL, "format_version 2");
    pb = tsup_dense_model();
    pb->inputs[1]->scale = 40000;
    expect_refusal(pb, WITAN_EMODEL, "input 1 (b): |scale|");
    pb = tsup_dense_model();
    pb->kind = WITAN__MODEL__MODEL_KIND__GB_REGRESSION;
    expect_refusal(pb, WITAN_EMODEL, "gb-regression: has dense layers");
}

static void test_refuse_oversize(void **state)
{
    (void)state;
    /* More inputs than the limit. */
    Witan__Model__Model *pb = tsup_dense_model();
    size_t n = WITAN_MODEL_INPUT_COUNT_MAX + 1;
    Witan__Model__Feature *f = calloc(n, sizeof *f);
    Witan__Model__Feature **fp = calloc(n, sizeof *fp);
    assert_non_null(f);
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++) {
        witan__model__feature__init(&f[i]);
        f[i].name = (char *)"x";
        f[i].scale = 1;
        fp[i] = &f[i];
    }
    pb->n_inputs = n;
    pb->inputs = fp;
    expect_refusal(pb, WITAN_ELIMIT, "1025 inputs, limit 1024");
    free(f);
    free(fp);
    /* Too many layers. */
    pb = tsup_dense_model();
    Witan__Model__DenseLayer *many[WITAN_MODEL_LAYER_COUNT_MAX + 1];
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(many); i++)
        many[i] = pb->layers[0];
    pb->n_layers = WITAN_ARRAY_COUNT(many);
    pb->layers = many;
    expect_refusal(pb, WITAN_ELIMIT, "17 layers, limit 16");
    /* Bytes over the size limit, and bytes that are not a model. */
    size_t big = WITAN_MODEL_SIZE_MAX + 1;
    uint8_t *buf = calloc(1, big);
    infer_model *m = NULL;
    char why[200];
    assert_int_equal(infer_model_load(buf, big, &m, why, sizeof why), WITAN_ELIMIT);
    assert_non_null(strstr(why, "limit"));
    memset(buf, 0xff, 64);
    assert_int_equal(infer_model_load(buf, 64, &m, why, sizeof why), WITAN_EDECODE);
    assert_int_equal(infer_model_load(buf, 0, &m, why, sizeof why), WITAN_EMODEL);
    free(buf);
    /* A name over the limit. */
    pb = tsup_dense_model();
    char longname[WITAN_MODEL_NAME_SIZE_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    pb->inputs[0]->name = longname;
    expect_refusal(pb, WITAN_ELIMIT, "input 0: name of 65 bytes");
    pb->inputs[0]->name = (char *)"a";
}

static void test_refuse_trees(void **state)
{
    (void)state;
    Witan__Model__Model *pb = tsup_tree_model();
    pb->trees[0]->left[0] = 7;
    expect_refusal(pb, WITAN_EMODEL, "tree 0: node 0 has children 7 and 2");
    pb = tsup_tree_model();
    pb->trees[0]->left[2] = 1; /* back to an earlier node: a cycle */
    expect_refusal(pb, WITAN_EMODEL, "node 2 has children 1 and 4");
    pb = tsup_tree_model();
    pb->trees[0]->left[1] = 3; /* node 1 and node 2 both own 3 and 4 */
    pb->trees[0]->right[1] = 4;
    expect_refusal(pb, WITAN_EMODEL, "two parents");
    pb = tsup_tree_model();
    pb->trees[0]->feature[2] = 5;
    expect_refusal(pb, WITAN_EMODEL, "node 2 reads feature 5 of 2");
    pb = tsup_tree_model();
    pb->trees[0]->n_leaf_values = 2;
    expect_refusal(pb, WITAN_EMODEL, "2 leaf values, expected 3 leaves");
    pb = tsup_tree_model();
    pb->trees[0]->n_left = 4;
    expect_refusal(pb, WITAN_EMODEL, "tree 0: feature, threshold, left, right");
    pb = tsup_tree_model();
    pb->trees[0]->threshold[1] = 5; /* a leaf with a threshold */
    expect_refusal(pb, WITAN_EMODEL, "leaf 1 must have feature 0");
    pb = tsup_tree_model();
    pb->inputs[0]->offset = 1;
    expect_refusal(pb, WITAN_EMODEL, "tree models take raw inputs");
    pb = tsup_tree_model();
    pb->n_base_values = 0;
    expect_refusal(pb, WITAN_EMODEL, "0 base values, expected 1");
    pb = tsup_tree_model();
    pb->output_transform = WITAN__MODEL__OUTPUT_TRANSFORM__OUTPUT_SIGMOID;
    expect_refusal(pb, WITAN_EMODEL, "output transform 1 not allowed");

    /* A chain deeper than the limit: node 2k -> (2k+1 leaf, 2k+2). */
    enum { D = WITAN_MODEL_TREE_DEPTH_MAX + 1, N = 2 * D + 1 };
    uint32_t f[N] = {0}, l[N] = {0}, r[N] = {0};
    int64_t t[N] = {0};
    int32_t v[D + 1] = {0};
    for (uint32_t k = 0; k < D; k++) {
        l[2 * k] = 2 * k + 1;
        r[2 * k] = 2 * k + 2;
    }
    pb = tsup_tree_model();
    Witan__Model__Tree *tr = pb->trees[0];
    tr->n_feature = tr->n_threshold = tr->n_left = tr->n_right = N;
    tr->feature = f;
    tr->threshold = t;
    tr->left = l;
    tr->right = r;
    tr->n_leaf_values = D + 1;
    tr->leaf_values = v;
    expect_refusal(pb, WITAN_ELIMIT, "deeper than 32");
    /* One level less is accepted. */
    l[2 * (D - 1)] = r[2 * (D - 1)] = 0;
    tr->n_feature = tr->n_threshold = tr->n_left = tr->n_right = N - 2;
    tr->n_leaf_values = D;
    infer_model *m = load_ok(pb);
    struct infer_info info;
    infer_model_info(m, &info);
    assert_int_equal(info.tree_depth_max, WITAN_MODEL_TREE_DEPTH_MAX);
    infer_model_free(m);

    /* More trees than the limit. */
    pb = tsup_tree_model();
    Witan__Model__Tree *many[WITAN_MODEL_TREE_COUNT_MAX + 1];
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(many); i++)
        many[i] = pb->trees[0];
    pb->n_trees = WITAN_ARRAY_COUNT(many);
    pb->trees = many;
    expect_refusal(pb, WITAN_ELIMIT, "1025 trees, limit 1024");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_exact),
        cmocka_unit_test(test_dense_batch_same),
        cmocka_unit_test(test_tree_exact),
        cmocka_unit_test(test_fixed_functions),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_refuse_dense),
        cmocka_unit_test(test_refuse_oversize),
        cmocka_unit_test(test_refuse_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
