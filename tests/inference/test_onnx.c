/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ONNX import: every fixture of tests/fixtures/models imports to the
 * committed bytes and scores within its stated tolerance of the reference
 * (scikit-learn or PyTorch); the quantisation bound refuses unless forced;
 * and each kind of graph the importer cannot take is refused by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/onnx.pb-c.h"
#include "tests/inference/support.h"

static void check_fixture(const struct tsup_fixture *fx)
{
    char path[256];
    size_t onnx_size, bin_size, rows, cols, rrows, rcols;
    snprintf(path, sizeof path, TSUP_DIR "%.60s.onnx", fx->name);
    uint8_t *onnx = tsup_read(path, &onnx_size);
    snprintf(path, sizeof path, TSUP_DIR "%.60s.bin", fx->name);
    uint8_t *bin = tsup_read(path, &bin_size);
    snprintf(path, sizeof path, TSUP_DIR "%.60s.samples.csv", fx->name);
    size_t csv_size;
    uint8_t *csv = tsup_read(path, &csv_size);
    assert_non_null(csv);
    double *x = NULL;
    char **names = NULL;
    char why[512];
    assert_int_equal(infer_csv_parse((const char *)csv, csv_size, &x, &rows,
                                     &cols, &names, why, sizeof why),
                     0);
    assert_non_null(names);
    snprintf(path, sizeof path, TSUP_DIR "%.60s.ref.csv", fx->name);
    double *ref = tsup_csv(path, &rrows, &rcols);
    assert_non_null(onnx);
    assert_non_null(bin);
    assert_non_null(x);
    assert_non_null(ref);
    assert_int_equal(rows, rrows);

    struct infer_import_options o = {.samples = x, .sample_count = rows,
                                     .feature_count = cols,
                                     .feature_names = (const char *const *)names,
                                     .max_abs_error = fx->tolerance};
    struct infer_import_report rep;
    uint8_t *model;
    size_t size;
    int err = infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep, why,
                                sizeof why);
    if (err)
        fail_msg("%s: %s: %s", fx->name, witan_err_name(err), why);
    assert_int_equal(rep.sample_count, rows);
    /* The import is reproducible: the same bytes as the committed model
     * (made by tests/fixtures/make_bins.sh with the witan command). */
    assert_int_equal(size, bin_size);
    assert_memory_equal(model, bin, size);
    infer_model *m = NULL, *mb = NULL;
    assert_int_equal(infer_model_load(model, size, &m, why, sizeof why), 0);
    assert_int_equal(infer_model_load(bin, bin_size, &mb, why, sizeof why), 0);
    struct infer_info info;
    infer_model_info(m, &info);
    assert_int_equal(info.input_count, cols);
    assert_int_equal(info.output_count, rcols);

    double *fl = malloc(rows * rcols * sizeof *fl);
    size_t nout;
    assert_int_equal(infer_onnx_eval_float(onnx, onnx_size, x, rows, cols, fl,
                                           rows * rcols, &nout, why, sizeof why),
                     0);
    assert_int_equal(nout, rcols);
    int64_t in[WITAN_MODEL_INPUT_COUNT_MAX];
    int32_t out[WITAN_MODEL_OUTPUT_COUNT_MAX], outb[WITAN_MODEL_OUTPUT_COUNT_MAX];
    double worst = 0, worst_float = 0;
    for (size_t s = 0; s < rows; s++) {
        for (size_t i = 0; i < cols; i++)
            in[i] = tsup_input(m, i, x[s * cols + i]);
        struct infer_result r, rb;
        assert_int_equal(infer_score(m, in, cols, out, rcols, &r), 0);
        assert_int_equal(infer_score(mb, in, cols, outb, rcols, &rb), 0);
        assert_memory_equal(out, outb, rcols * sizeof *out);
        assert_true(r.gas <= info.gas_max);
        for (size_t k = 0; k < rcols; k++) {
            double q = ldexp(out[k], -(int)info.output_frac_bits);
            double e = fabs(q - ref[s * rcols + k]);
            double ef = fabs(fl[s * rcols + k] - ref[s * rcols + k]);
            worst = e > worst ? e : worst;
            worst_float = ef > worst_float ? ef : worst_float;
        }
    }
    printf("  %-16s %4zu samples: integer vs reference %.3g, float graph vs "
           "reference %.3g, quantisation %.3g (tolerance %g)\n",
           fx->name, rows, worst, worst_float, rep.max_abs_error, fx->tolerance);
    if (worst > fx->tolerance || worst_float > fx->tolerance)
        fail_msg("%s: error %g (float %g) over tolerance %g", fx->name, worst,
                 worst_float, fx->tolerance);
    infer_model_free(m);
    infer_model_free(mb);
    free(fl);
    free(model);
    free(onnx);
    free(bin);
    free(x);
    free(ref);
    free(csv);
    for (size_t i = 0; i < cols; i++)
        free(names[i]);
    free(names);
}

static void test_fixtures(void **state)
{
    (void)state;
    struct tsup_fixture fx[32];
    size_t n = tsup_manifest(fx, 32);
    assert_true(n >= 9);
    for (size_t i = 0; i < n; i++)
        check_fixture(&fx[i]);
}

static void test_quant_bound(void **state)
{
    (void)state;
    size_t onnx_size, rows, cols;
    uint8_t *onnx = tsup_read(TSUP_DIR "mlp_co2.onnx", &onnx_size);
    double *x = tsup_csv(TSUP_DIR "mlp_co2.samples.csv", &rows, &cols);
    assert_non_null(onnx);
    assert_non_null(x);
    struct infer_import_options o = {.samples = x, .sample_count = rows,
                                     .feature_count = cols,
                                     .max_abs_error = 1e-9};
    struct infer_import_report rep;
    uint8_t *model = (uint8_t *)1;
    size_t size;
    char why[512];
    assert_int_equal(infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep,
                                       why, sizeof why),
                     WITAN_EQUANT);
    assert_null(model);
    assert_true(rep.over_bound);
    assert_true(rep.max_abs_error > 1e-9);
    assert_non_null(strstr(why, "over the bound"));
    /* and names the part whose format is coarsest for what it holds */
    assert_non_null(strstr(why, "; coarsest: layer "));
    assert_true(strlen(rep.coarsest) > 0);
    o.force = true;
    assert_int_equal(infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep,
                                       why, sizeof why),
                     0);
    assert_true(rep.over_bound);
    assert_non_null(model);
    free(model);
    /* Wrong sample width. */
    o.feature_count = cols + 1;
    o.sample_count = rows * cols / (cols + 1);
    assert_int_equal(infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep,
                                       why, sizeof why),
                     WITAN_EINVAL);
    free(onnx);
    free(x);
}

/* --- hand-built ONNX graphs ------------------------------------------- */

/* A Scaler that only centres, in front of a linear regression, on a
 * feature near 1e8: imported within the default bound (1% of the output's
 * range), which also refuses the same graph when the error is made to
 * exceed it. */
static void test_centring_scaler(void **state)
{
    (void)state;
    size_t onnx_size, rows, cols;
    uint8_t *onnx = tsup_read(TSUP_DIR "centred_big.onnx", &onnx_size);
    double *x = tsup_csv(TSUP_DIR "centred_big.samples.csv", &rows, &cols);
    assert_non_null(onnx);
    assert_non_null(x);
    struct infer_import_options o = {.samples = x, .sample_count = rows,
                                     .feature_count = cols,
                                     .max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *model = NULL;
    size_t size;
    char why[512];
    assert_int_equal(infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep,
                                       why, sizeof why),
                     0);
    printf("  centred_big: error %.3g, default bound %.3g (range %.3g)\n",
           rep.max_abs_error, rep.bound, rep.output_range);
    assert_true(rep.bound_is_default);
    assert_true(rep.output_range > 3 && rep.output_range < 3.2);
    assert_true(rep.bound > 0.0099 * rep.output_range &&
                rep.bound < 0.0101 * rep.output_range);
    /* a constant function would be off by about half the range */
    assert_true(rep.max_abs_error < 0.001 * rep.output_range);
    /* scored like the float graph on a fresh row */
    infer_model *m;
    assert_int_equal(infer_model_load(model, size, &m, why, sizeof why), 0);
    int64_t in[2];
    int32_t out[1];
    struct infer_result r;
    assert_int_equal(infer_input_from_decimal(m, 0, 100500000, 0, &in[0]), 0);
    assert_int_equal(infer_input_from_decimal(m, 1, 2000, 0, &in[1]), 0);
    assert_int_equal(infer_score(m, in, 2, out, 1, &r), 0);
    struct infer_info info;
    infer_model_info(m, &info);
    double mean0 = 0, mean1 = 0;
    for (size_t i = 0; i < rows; i++) {
        mean0 += x[i * cols];
        mean1 += x[i * cols + 1];
    }
    double want = 1e-6 * (100500000 - (float)(mean0 / (double)rows)) +
                  0.02 * (2000 - (float)(mean1 / (double)rows)) + 0.1;
    assert_true(fabs(ldexp(out[0], -(int)info.output_frac_bits) - want) < 1e-3);
    infer_model_free(m);
    free(model);
    /* the default bound is a bound: a tighter one refuses */
    o.max_abs_error = rep.max_abs_error / 2;
    model = NULL;
    assert_int_equal(infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep,
                                       why, sizeof why),
                     WITAN_EQUANT);
    assert_null(model);
    free(onnx);
    free(x);
}

/* A feature near 1e8 beside one near 1e-5 that matters as much: each gets
 * its own input format, so the small one keeps its precision (one format
 * for both left it a few steps of its range), and a normalisation scale
 * past int16 (1 / 6e-6) is capped, the rest folded into the weights. */
static void test_mixed_scales(void **state)
{
    (void)state;
    size_t onnx_size, rows, cols;
    uint8_t *onnx = tsup_read(TSUP_DIR "mixed_scale.onnx", &onnx_size);
    double *x = tsup_csv(TSUP_DIR "mixed_scale.samples.csv", &rows, &cols);
    assert_non_null(onnx);
    assert_non_null(x);
    struct infer_import_options o = {.samples = x, .sample_count = rows,
                                     .feature_count = cols,
                                     .max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *model = NULL;
    size_t size;
    char why[512];
    int err = infer_onnx_import(onnx, onnx_size, &o, &model, &size, &rep, why,
                                sizeof why);
    if (err)
        fail_msg("%s: %s", witan_err_name(err), why);
    infer_model *m;
    assert_int_equal(infer_model_load(model, size, &m, why, sizeof why), 0);
    struct infer_info info;
    infer_model_info(m, &info);
    printf("  mixed_scale: error %.3g on a range of %.3g; formats Q.%u and "
           "Q.%u\n",
           rep.max_abs_error, rep.output_range, infer_input_frac_bits(m, 0),
           infer_input_frac_bits(m, 1));
    assert_true(info.per_feature_frac);
    assert_int_equal(infer_input_frac_bits(m, 1), WITAN_MODEL_FRAC_BITS_MAX);
    assert_true(infer_input_frac_bits(m, 0) < 20);
    assert_true(rep.max_abs_error < 0.001 * rep.output_range);
    infer_model_free(m);
    free(model);
    free(onnx);
    free(x);
}

struct og {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__NodeProto n, *np[1];
    Onnx__ValueInfoProto in, out, *inp[1], *outp[1];
    Onnx__TypeProto ty;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto sh;
    Onnx__TensorShapeProto__Dimension d[2], *dp[2];
    Onnx__TensorProto w, *wp[1];
    int64_t wdims[2];
    float wdata[64];
    Onnx__AttributeProto a[24], *ap[24];
    char *ins[2], *outs[2];
};

/* One node named "n0" of op on input x [N, width] to output y; with
 * weights W (rows x cols) when rows > 0. */
static void og_init(struct og *o, const char *op, const char *domain,
                    int64_t width, int64_t rows, int64_t cols)
{
    memset(o, 0, sizeof *o);
    onnx__model_proto__init(&o->m);
    onnx__graph_proto__init(&o->g);
    onnx__node_proto__init(&o->n);
    onnx__value_info_proto__init(&o->in);
    onnx__value_info_proto__init(&o->out);
    onnx__type_proto__init(&o->ty);
    onnx__type_proto__tensor__init(&o->tt);
    onnx__tensor_shape_proto__init(&o->sh);
    for (int i = 0; i < 2; i++) {
        onnx__tensor_shape_proto__dimension__init(&o->d[i]);
        o->dp[i] = &o->d[i];
    }
    o->d[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    o->d[0].dim_param = (char *)"N";
    o->d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    o->d[1].dim_value = width;
    o->sh.n_dim = 2;
    o->sh.dim = o->dp;
    o->tt.has_elem_type = 1;
    o->tt.elem_type = 1;
    o->tt.shape = &o->sh;
    o->ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    o->ty.tensor_type = &o->tt;
    o->in.name = (char *)"x";
    o->in.type = &o->ty;
    o->out.name = (char *)"y";
    o->inp[0] = &o->in;
    o->outp[0] = &o->out;
    o->ins[0] = (char *)"x";
    o->ins[1] = (char *)"W";
    o->outs[0] = (char *)"y";
    o->n.name = (char *)"n0";
    o->n.op_type = (char *)op;
    o->n.domain = (char *)domain;
    o->n.n_input = rows ? 2 : 1;
    o->n.input = o->ins;
    o->n.n_output = 1;
    o->n.output = o->outs;
    o->n.attribute = o->ap;
    o->np[0] = &o->n;
    o->g.n_node = 1;
    o->g.node = o->np;
    o->g.name = (char *)"g";
    o->g.n_input = 1;
    o->g.input = o->inp;
    o->g.n_output = 1;
    o->g.output = o->outp;
    if (rows) {
        onnx__tensor_proto__init(&o->w);
        o->w.name = (char *)"W";
        o->wdims[0] = rows;
        o->wdims[1] = cols;
        o->w.n_dims = 2;
        o->w.dims = o->wdims;
        o->w.has_data_type = 1;
        o->w.data_type = 1;
        o->w.n_float_data = (size_t)(rows * cols);
        o->w.float_data = o->wdata;
        for (int i = 0; i < rows * cols; i++)
            o->wdata[i] = 0.25f * (float)(i % 5) - 0.5f;
        o->wp[0] = &o->w;
        o->g.n_initializer = 1;
        o->g.initializer = o->wp;
    }
    o->m.graph = &o->g;
}

static Onnx__AttributeProto *og_attr(struct og *o, const char *name)
{
    Onnx__AttributeProto *a = &o->a[o->n.n_attribute];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    o->ap[o->n.n_attribute++] = a;
    return a;
}

static void og_int(struct og *o, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = og_attr(o, name);
    a->has_i = 1;
    a->i = v;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
}

static void og_ints(struct og *o, const char *name, int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = og_attr(o, name);
    a->n_ints = n;
    a->ints = v;
}

static void og_floats(struct og *o, const char *name, float *v, size_t n)
{
    Onnx__AttributeProto *a = og_attr(o, name);
    a->n_floats = n;
    a->floats = v;
}

static void og_strings(struct og *o, const char *name, ProtobufCBinaryData *v,
                       size_t n)
{
    Onnx__AttributeProto *a = og_attr(o, name);
    a->n_strings = n;
    a->strings = v;
}

static void expect_onnx(struct og *o, int code, const char *fragment)
{
    size_t size = onnx__model_proto__get_packed_size(&o->m);
    uint8_t *buf = malloc(size);
    onnx__model_proto__pack(&o->m, buf);
    struct infer_import_options opt = {.max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *model = NULL;
    size_t msize;
    char why[512] = "";
    int err = infer_onnx_import(buf, size, &opt, &model, &msize, &rep, why,
                                sizeof why);
    free(buf);
    if (err != code || (fragment && !strstr(why, fragment)))
        fail_msg("expected %s with '%s', got %s: '%s'", witan_err_name(code),
                 fragment ? fragment : "", witan_err_name(err), why);
    free(model);
}

static void test_refuse_ops(void **state)
{
    (void)state;
    struct og o;
    og_init(&o, "Conv", NULL, 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX, "node 'n0' (Conv): unsupported operator Conv");
    og_init(&o, "ZipMap", "ai.onnx.ml", 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX,
                "(ZipMap): not supported: export the classifier without it");
    og_init(&o, "Normalizer", "ai.onnx.ml", 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX, "(Normalizer): unsupported operator");
    og_init(&o, "Relu", "com.example", 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX, "unsupported domain 'com.example'");
    /* A working Gemm, then its refusals. */
    og_init(&o, "Gemm", NULL, 2, 3, 2);
    og_int(&o, "transB", 1);
    expect_onnx(&o, 0, NULL);
    og_int(&o, "transA", 1);
    expect_onnx(&o, WITAN_EONNX, "unsupported attribute 'transA' = 1");
    og_init(&o, "Gemm", NULL, 2, 3, 2);
    og_int(&o, "broadcast", 1);
    expect_onnx(&o, WITAN_EONNX, "(Gemm): unsupported attribute 'broadcast'");
    /* Bad shapes: weights for 3 inputs on a 2-wide input. */
    og_init(&o, "Gemm", NULL, 2, 3, 4);
    expect_onnx(&o, WITAN_EONNX, "takes 3 inputs, the value before it has 2");
    og_init(&o, "MatMul", NULL, 2, 2, 3);
    o.ins[1] = (char *)"V";
    expect_onnx(&o, WITAN_EONNX, "weights 'V' are not an initializer");
    og_init(&o, "Relu", NULL, 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX, "(Relu): needs a dense layer");
    og_init(&o, "Relu", NULL, 2, 0, 0);
    o.ins[0] = (char *)"z";
    expect_onnx(&o, WITAN_EONNX, "input 'z' is not the running value 'x'");
    /* Oversize input. */
    og_init(&o, "Identity", NULL, WITAN_MODEL_INPUT_COUNT_MAX + 1, 0, 0);
    expect_onnx(&o, WITAN_ELIMIT, "1025 features");
    og_init(&o, "Identity", NULL, 2, 0, 0);
    expect_onnx(&o, WITAN_EONNX, "no dense layer or trees");
    /* Not ONNX at all. */
    uint8_t junk[16];
    memset(junk, 0xff, sizeof junk);
    struct infer_import_options opt = {.max_abs_error = -1};
    struct infer_import_report rep;
    uint8_t *model;
    size_t msize;
    char why[256];
    assert_int_equal(infer_onnx_import(junk, sizeof junk, &opt, &model, &msize,
                                       &rep, why, sizeof why),
                     WITAN_EDECODE);
}

/* Samples files read exactly the numbers `witan model score --input` would:
 * plain decimals; names only on the first line, and all of it; every
 * refusal says where and why. */
static void test_csv_strict(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int err;
        const char *why;
    } cases[] = {
        {"a,b\n1,2\n-3.5,4e2\n", 0, NULL},
        {"1,2\n3,4\n", 0, NULL},
        {"nan,1\n1,2\n", WITAN_EDECODE, "line 1 mixes names and numbers"},
        {"a,b\n0x190,2\n", WITAN_EDECODE,
         "line 2, column 1: '0x190' is not a plain decimal"},
        /* the one CSV reader: spaces around a field are not the field's,
         * quotes are taken off; inside a number a space is an error */
        {"a,b\n 12 ,\"2\"\r\n", 0, NULL},
        {"a,b\n1 2,2\n", WITAN_EDECODE, "'1 2' is not a plain decimal"},
        {"a,b\n\"1,2\n", WITAN_EDECODE, "line 2: a quoted field is not closed"},
        {"a,b\n1,inf\n", WITAN_EDECODE, "'inf' is not a plain decimal"},
        {"a,b\nc,d\n", WITAN_EDECODE, "'c' is not a plain decimal"},
        {"a,b\n1,2,3\n", WITAN_EDECODE, "header names 2 columns"},
        {"a,b\n", WITAN_EDECODE, "no rows of numbers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double *v = NULL;
        size_t rows, cols;
        char **names = NULL;
        char why[256] = "";
        int err = infer_csv_parse(cases[i].text, strlen(cases[i].text), &v,
                                  &rows, &cols, &names, why, sizeof why);
        if (err != cases[i].err ||
            (cases[i].why && !strstr(why, cases[i].why)))
            fail_msg("case %zu: expected %s '%s', got %s '%s'", i,
                     witan_err_name(cases[i].err),
                     cases[i].why ? cases[i].why : "", witan_err_name(err),
                     why);
        if (!err) {
            for (size_t k = 0; names && k < cols; k++)
                free(names[k]);
            free(names);
            free(v);
        }
    }
}

/* The feature count named in the refusal is the graph's, not zero. */
static void test_feature_count_message(void **state)
{
    (void)state;
    struct og o;
    og_init(&o, "Gemm", NULL, 2, 3, 2);
    og_int(&o, "transB", 1);
    size_t size = onnx__model_proto__get_packed_size(&o.m);
    uint8_t *buf = malloc(size);
    onnx__model_proto__pack(&o.m, buf);
    double samples[3] = {1, 2, 3};
    struct infer_import_options opt = {.max_abs_error = -1,
                                       .samples = samples,
                                       .sample_count = 1,
                                       .feature_count = 3};
    struct infer_import_report rep;
    uint8_t *model = NULL;
    size_t msize;
    char why[256] = "";
    assert_int_equal(infer_onnx_import(buf, size, &opt, &model, &msize, &rep,
                                       why, sizeof why),
                     WITAN_EINVAL);
    assert_non_null(strstr(why, "samples have 3 features, the graph takes 2"));
    free(buf);
}

static void test_refuse_trees(void **state)
{
    (void)state;
    /* Tree 0: node 0 (x0 <= 0.5) -> 1 or 2, both leaves. */
    int64_t tid[3] = {0, 0, 0}, nid[3] = {0, 1, 2}, fid[3] = {0, 0, 0},
            tt[3] = {1, 0, 0}, ff[3] = {2, 0, 0}, lt[2] = {0, 0},
            ln[2] = {1, 2}, li[2] = {0, 0}, mv[3] = {0, 0, 0};
    float val[3] = {0.5f, 0, 0}, lw[2] = {1.0f, 2.0f};
    ProtobufCBinaryData modes[3] = {{10, (uint8_t *)"BRANCH_LEQ"},
                                    {4, (uint8_t *)"LEAF"},
                                    {4, (uint8_t *)"LEAF"}};
    struct og o;
#define TREE_ATTRS()                                                           \
    do {                                                                       \
        og_ints(&o, "nodes_treeids", tid, 3);                                  \
        og_ints(&o, "nodes_nodeids", nid, 3);                                  \
        og_ints(&o, "nodes_featureids", fid, 3);                               \
        og_floats(&o, "nodes_values", val, 3);                                 \
        og_strings(&o, "nodes_modes", modes, 3);                               \
        og_ints(&o, "nodes_truenodeids", tt, 3);                               \
        og_ints(&o, "nodes_falsenodeids", ff, 3);                              \
        og_ints(&o, "target_treeids", lt, 2);                                  \
        og_ints(&o, "target_nodeids", ln, 2);                                  \
        og_ints(&o, "target_ids", li, 2);                                      \
        og_floats(&o, "target_weights", lw, 2);                                \
    } while (0)
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    expect_onnx(&o, 0, NULL);
    tt[0] = 9; /* a child id outside the tree */
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    expect_onnx(&o, WITAN_EONNX, "tree 0 node 0: child id 9 is outside the tree");
    tt[0] = 1;
    fid[0] = 7;
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    expect_onnx(&o, WITAN_EONNX, "reads feature 7 of 2");
    fid[0] = 0;
    modes[0] = (ProtobufCBinaryData){9, (uint8_t *)"BRANCH_EQ"};
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    expect_onnx(&o, WITAN_EONNX, "unsupported node mode 'BRANCH_EQ'");
    modes[0] = (ProtobufCBinaryData){10, (uint8_t *)"BRANCH_LEQ"};
    mv[1] = 1;
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    og_ints(&o, "nodes_missing_value_tracks_true", mv, 3);
    expect_onnx(&o, WITAN_EONNX, "'nodes_missing_value_tracks_true' set on node 1");
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    ProtobufCBinaryData agg = {3, (uint8_t *)"MAX"};
    Onnx__AttributeProto *a = og_attr(&o, "aggregate_function");
    a->has_s = 1;
    a->s = agg;
    expect_onnx(&o, WITAN_EONNX, "unsupported aggregate_function 'MAX'");
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    og_int(&o, "nodes_falsenodeids_as_tensor", 1);
    expect_onnx(&o, WITAN_EONNX, "unsupported attribute 'nodes_falsenodeids_as_tensor'");
    ln[1] = 0; /* a weight on an internal node */
    og_init(&o, "TreeEnsembleRegressor", "ai.onnx.ml", 2, 0, 0);
    TREE_ATTRS();
    expect_onnx(&o, WITAN_EONNX, "names tree 0 node 0, not a leaf");
#undef TREE_ATTRS
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_quant_bound),
        cmocka_unit_test(test_centring_scaler),
        cmocka_unit_test(test_mixed_scales),
        cmocka_unit_test(test_refuse_ops),
        cmocka_unit_test(test_refuse_trees),
        cmocka_unit_test(test_csv_strict),
        cmocka_unit_test(test_feature_count_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
