/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the inference tests and benchmarks (see support.h).
 */
#include "tests/inference/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *tsup_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *size = (size_t)n;
    }
    return buf;
}

size_t tsup_manifest(struct tsup_fixture *out, size_t cap)
{
    FILE *f = fopen(TSUP_DIR "manifest.txt", "r");
    if (!f)
        return 0;
    char line[256];
    size_t n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%63s %lf", out[n].name, &out[n].tolerance) == 2)
            n++;
    }
    fclose(f);
    return n;
}

double *tsup_csv(const char *path, size_t *rows, size_t *cols)
{
    size_t size;
    uint8_t *text = tsup_read(path, &size);
    if (!text)
        return NULL;
    double *v = NULL;
    char why[200];
    int err = infer_csv_parse((const char *)text, size, &v, rows, cols, NULL,
                              why, sizeof why);
    free(text);
    if (err)
        fprintf(stderr, "%s: %s\n", path, why);
    return err ? NULL : v;
}

int64_t tsup_fixed(double x, uint32_t frac)
{
    return (int64_t)floor(ldexp(x, (int)frac) + 0.5);
}

int64_t tsup_input(const infer_model *m, size_t i, double x)
{
    struct infer_info info;
    infer_model_info(m, &info);
    if (info.input_encoding != INFER_IN_FLOAT32_ORDER)
        return tsup_fixed(x, infer_input_frac_bits(m, i));
    return infer_float32_key((float)x);
}

/* --- hand-built models ------------------------------------------------- */

static Witan__Model__Feature feat[2];
static Witan__Model__Feature *featp[2] = {&feat[0], &feat[1]};
static char fname0[] = "a", fname1[] = "b", oname[] = "y", onames2[] = "p0",
            onames3[] = "p1", mname[] = "test";
static char *outs1[1] = {oname};
static char *outs2[2] = {onames2, onames3};
static Witan__Model__DenseLayer layer[2];
static Witan__Model__DenseLayer *layerp[2] = {&layer[0], &layer[1]};
static int32_t w0[6], w1[3];
static int64_t b0[3], b1[1];

static void init_features(Witan__Model__Model *m)
{
    for (int i = 0; i < 2; i++) {
        witan__model__feature__init(&feat[i]);
        feat[i].scale = 1;
    }
    feat[0].name = fname0;
    feat[1].name = fname1;
    m->n_inputs = 2;
    m->inputs = featp;
}

Witan__Model__Model *tsup_dense_model(void)
{
    static Witan__Model__Model m;
    witan__model__model__init(&m);
    m.format_version = 1;
    m.kind = WITAN__MODEL__MODEL_KIND__MLP;
    m.name = mname;
    init_features(&m);
    /* Inputs Q.8; first layer sees them as Q.8 (scale 1, shift 0). */
    m.input_frac_bits = 8;
    m.first_frac_bits = 8;
    for (int i = 0; i < 2; i++)
        witan__model__dense_layer__init(&layer[i]);
    /* h = relu(W0 x + b0): weights Q.8, out Q.8; y = W1 h + b1, Q.8. */
    static const int32_t w0v[6] = {256, 0, 0, 256, 128, -128};
    static const int64_t b0v[3] = {0, 65536, 0};
    static const int32_t w1v[3] = {256, 512, -256};
    memcpy(w0, w0v, sizeof w0);
    memcpy(b0, b0v, sizeof b0);
    memcpy(w1, w1v, sizeof w1);
    b1[0] = 0;
    layer[0].inputs = 2;
    layer[0].outputs = 3;
    layer[0].n_weights = 6;
    layer[0].weights = w0;
    layer[0].weight_frac_bits = 8;
    layer[0].n_bias = 3;
    layer[0].bias = b0;
    layer[0].activation = WITAN__MODEL__ACTIVATION__ACTIVATION_RELU;
    layer[0].out_frac_bits = 8;
    layer[1].inputs = 3;
    layer[1].outputs = 1;
    layer[1].n_weights = 3;
    layer[1].weights = w1;
    layer[1].weight_frac_bits = 8;
    layer[1].n_bias = 1;
    layer[1].bias = b1;
    layer[1].out_frac_bits = 8;
    m.n_layers = 2;
    m.layers = layerp;
    m.n_outputs = 1;
    m.outputs = outs1;
    m.output_frac_bits = 8;
    m.score_count = 1;
    return &m;
}

static Witan__Model__Tree tree;
static Witan__Model__Tree *treep[1] = {&tree};
static uint32_t tf[5], tl[5], tr[5];
static int64_t tt[5], base1[1];
static int32_t tv[3];

Witan__Model__Model *tsup_tree_model(void)
{
    static Witan__Model__Model m;
    witan__model__model__init(&m);
    m.format_version = 1;
    m.kind = WITAN__MODEL__MODEL_KIND__GB_REGRESSION;
    m.name = mname;
    init_features(&m);
    m.input_frac_bits = 8;
    witan__model__tree__init(&tree);
    /* 0: a <= 1.0 ? 1 : 2; 1: leaf 10; 2: b <= -0.5 ? 3 : 4; 3: leaf 20;
     * 4: leaf 30 (leaves Q.4). */
    static const uint32_t f[5] = {0, 0, 1, 0, 0}, l[5] = {1, 0, 3, 0, 0},
                          r[5] = {2, 0, 4, 0, 0};
    static const int64_t t[5] = {256, 0, -128, 0, 0};
    static const int32_t v[3] = {160, 320, 480};
    memcpy(tf, f, sizeof tf);
    memcpy(tl, l, sizeof tl);
    memcpy(tr, r, sizeof tr);
    memcpy(tt, t, sizeof tt);
    memcpy(tv, v, sizeof tv);
    tree.n_feature = tree.n_threshold = tree.n_left = tree.n_right = 5;
    tree.feature = tf;
    tree.threshold = tt;
    tree.left = tl;
    tree.right = tr;
    tree.n_leaf_values = 3;
    tree.leaf_values = tv;
    m.n_trees = 1;
    m.trees = treep;
    m.score_count = 1;
    base1[0] = 16;
    m.n_base_values = 1;
    m.base_values = base1;
    m.n_outputs = 1;
    m.outputs = outs1;
    m.output_frac_bits = 4;
    (void)outs2;
    return &m;
}

uint8_t *tsup_pack(const Witan__Model__Model *m, size_t *size)
{
    *size = witan__model__model__get_packed_size(m);
    uint8_t *buf = malloc(*size + 1);
    if (buf)
        witan__model__model__pack(m, buf);
    return buf;
}

int tsup_load(const Witan__Model__Model *m, infer_model **out, char *why,
              size_t why_size)
{
    size_t size;
    uint8_t *buf = tsup_pack(m, &size);
    if (!buf)
        return WITAN_ENOMEM;
    why[0] = 0;
    int err = infer_model_load(buf, size, out, why, why_size);
    free(buf);
    return err;
}
