/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ONNX import: the one place in inference/ that uses floating point, and it
 * never reaches scoring. An ONNX graph (spec/onnx.proto) is read as a chain
 * of operators on one running value and converted to a float model (dense
 * layers or trees, with an input normalisation); that float model is what
 * "the float evaluation of the graph" means in the quantisation report. It
 * is then quantised to a witan.model.Model as spec/models.md describes,
 * loaded back through infer_model_load (so the importer can never emit a
 * model the validator refuses) and compared with the float model on the
 * samples.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "inference/internal.h"
#include "spec/onnx.pb-c.h"

/* Raw inputs: as many fraction bits as the samples' range allows (so that
 * tree thresholds between close float32 values stay apart), 16 without
 * samples. */
#define FL_INPUT_FRAC_DEFAULT 16
/* A normalised input beyond this (or spread over less than its inverse)
 * keeps fewer than 8 of int16's bits for its fraction: it is standardised
 * on the samples instead. */
#define FL_NORM_ABS_MAX 64.0
/* The largest normalisation scale used; beyond, the first layer takes the
 * rest (a scale is at most 32767 in the model, section 2). */
#define FL_NORM_SCALE_MAX 16384.0

struct fl_layer {
    uint32_t in, out;
    double *w; /* out x in */
    double *b;
    int act;   /* enum infer_activation; -1 while the layer is open */
};

struct fl_tree {
    uint32_t n;
    uint32_t *feature, *left, *right;
    double *thr;     /* the float32 threshold, as double */
    uint8_t *lt;     /* 1: x < thr, 0: x <= thr */
    double *leaf;    /* K per node; meaningful for leaves */
};

struct fl_model {
    enum infer_kind kind;
    uint32_t n_in;
    bool has_norm;
    double *off, *scl; /* x' = (x - off) * scl */
    struct fl_layer layers[WITAN_MODEL_LAYER_COUNT_MAX];
    uint32_t n_layers;
    struct fl_tree *trees;
    uint32_t n_trees;
    uint32_t K;          /* scores */
    double *base;
    enum infer_transform transform;
    bool binary_pair;    /* one score shown as [1-p, p] */
    int64_t *labels;
    uint32_t n_labels;
    char out_name[WITAN_MODEL_NAME_SIZE_MAX + 1];
    char in_name[WITAN_MODEL_NAME_SIZE_MAX + 1];
    char graph_name[WITAN_MODEL_NAME_SIZE_MAX + 1];
    char coarsest[160];  /* the report's */
    double coarsest_ratio;
    size_t node_count;
};

#define FAIL(err, ...) return infer_why(why, why_size, err, __VA_ARGS__)
#define ONNX_FAIL(node, ...)                                                   \
    return onnx_fail(why, why_size, node, __VA_ARGS__)

static int onnx_fail(char *why, size_t why_size, const Onnx__NodeProto *n,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int onnx_fail(char *why, size_t why_size, const Onnx__NodeProto *n,
                     const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return infer_why(why, why_size, WITAN_EONNX, "node '%s' (%s): %s",
                     n->name ? n->name : "", n->op_type ? n->op_type : "?",
                     msg);
}

static void fl_free(struct fl_model *f)
{
    free(f->off);
    free(f->scl);
    for (uint32_t l = 0; l < f->n_layers; l++) {
        free(f->layers[l].w);
        free(f->layers[l].b);
    }
    for (uint32_t t = 0; f->trees && t < f->n_trees; t++) {
        struct fl_tree *tr = &f->trees[t];
        free(tr->feature);
        free(tr->left);
        free(tr->right);
        free(tr->thr);
        free(tr->lt);
        free(tr->leaf);
    }
    free(f->trees);
    free(f->base);
    free(f->labels);
    memset(f, 0, sizeof *f);
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, WITAN_MODEL_NAME_SIZE_MAX + 1, "%s", src ? src : "");
}

/* ------------------------------------------------------------ tensors -- */

struct tensor {
    size_t n;
    double *v;
    size_t dims[4];
    size_t rank;
};

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g,
                                          const char *name)
{
    for (size_t i = 0; name && i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
            return g->initializer[i];
    return NULL;
}

static int tensor_read(const Onnx__TensorProto *t, const Onnx__NodeProto *node,
                       struct tensor *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    if (t->n_dims > 4)
        ONNX_FAIL(node, "tensor '%s' has rank %zu", t->name, t->n_dims);
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > WITAN_MODEL_PARAM_COUNT_MAX)
            ONNX_FAIL(node, "tensor '%s': dimension %lld", t->name,
                      (long long)t->dims[i]);
        n *= (size_t)t->dims[i];
        if (n > WITAN_MODEL_PARAM_COUNT_MAX)
            return infer_why(why, why_size, WITAN_ELIMIT,
                             "tensor '%s' over %d values", t->name,
                             WITAN_MODEL_PARAM_COUNT_MAX);
        out->dims[i] = (size_t)t->dims[i];
    }
    out->rank = t->n_dims;
    if (t->has_data_location && t->data_location != 0)
        ONNX_FAIL(node, "tensor '%s' uses external data", t->name);
    int type = t->has_data_type ? t->data_type : 0;
    size_t have;
    if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        have = t->has_raw_data ? t->raw_data.len / 4 : t->n_float_data;
    else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        have = t->has_raw_data ? t->raw_data.len / 8 : t->n_double_data;
    else
        ONNX_FAIL(node, "tensor '%s' has data type %d, not float or double",
                  t->name, type);
    if (have != n)
        ONNX_FAIL(node, "tensor '%s' holds %zu values, its shape %zu", t->name,
                  have, n);
    out->v = malloc((n ? n : 1) * sizeof(double));
    if (!out->v)
        FAIL(WITAN_ENOMEM, "out of memory");
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            float f;
            if (t->has_raw_data)
                memcpy(&f, t->raw_data.data + 4 * i, 4);
            else
                f = t->float_data[i];
            out->v[i] = f;
        } else {
            double d;
            if (t->has_raw_data)
                memcpy(&d, t->raw_data.data + 8 * i, 8);
            else
                d = t->double_data[i];
            out->v[i] = d;
        }
        if (!isfinite(out->v[i])) {
            free(out->v);
            out->v = NULL;
            ONNX_FAIL(node, "tensor '%s' holds a value that is not finite",
                      t->name);
        }
    }
    return 0;
}

/* --------------------------------------------------------- attributes -- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n,
                                        const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

/* Refuses any attribute not in the NULL-terminated list. */
static int attrs_allowed(const Onnx__NodeProto *n, const char *const *ok,
                         char *why, size_t why_size)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *a = n->attribute[i]->name ? n->attribute[i]->name : "";
        bool found = false;
        for (size_t k = 0; ok[k] && !found; k++)
            found = strcmp(ok[k], a) == 0;
        if (!found)
            ONNX_FAIL(n, "unsupported attribute '%s'", a);
        if (n->attribute[i]->ref_attr_name)
            ONNX_FAIL(n, "attribute '%s' refers to a function attribute", a);
    }
    return 0;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

static double attr_float(const Onnx__NodeProto *n, const char *name, double dflt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

/* The string attribute as a C string in buf ("" when absent). */
static const char *attr_str(const Onnx__NodeProto *n, const char *name,
                            const char *dflt, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s)
        return dflt;
    size_t len = a->s.len < size - 1 ? a->s.len : size - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = 0;
    return buf;
}

static size_t attr_floats(const Onnx__NodeProto *n, const char *name,
                          const float **v)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *v = a ? a->floats : NULL;
    return a ? a->n_floats : 0;
}

static size_t attr_ints(const Onnx__NodeProto *n, const char *name,
                        const int64_t **v)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *v = a ? a->ints : NULL;
    return a ? a->n_ints : 0;
}

/* ------------------------------------------------------ dense helpers -- */

static struct fl_layer *open_layer(struct fl_model *f)
{
    if (f->n_layers && f->layers[f->n_layers - 1].act < 0)
        return &f->layers[f->n_layers - 1];
    return NULL;
}

static uint32_t cur_width(const struct fl_model *f)
{
    return f->n_layers ? f->layers[f->n_layers - 1].out : f->n_in;
}

static int ensure_norm(struct fl_model *f, char *why, size_t why_size)
{
    if (f->off)
        return 0;
    f->off = calloc(f->n_in, sizeof *f->off);
    f->scl = calloc(f->n_in, sizeof *f->scl);
    if (!f->off || !f->scl)
        FAIL(WITAN_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < f->n_in; i++)
        f->scl[i] = 1.0;
    return 0;
}

/* Adds a dense layer (w: out x in, b may be NULL) closing any open one. */
static int add_layer(struct fl_model *f, const Onnx__NodeProto *node,
                     uint32_t in, uint32_t out, double *w, double *b,
                     char *why, size_t why_size)
{
    struct fl_layer *open = open_layer(f);
    if (open)
        open->act = INFER_ACT_IDENTITY;
    if (f->n_layers == WITAN_MODEL_LAYER_COUNT_MAX) {
        free(w);
        free(b);
        return infer_why(why, why_size, WITAN_ELIMIT,
                         "node '%s': more than %d dense layers "
                         "(WITAN_MODEL_LAYER_COUNT_MAX)",
                         node->name ? node->name : "",
                         WITAN_MODEL_LAYER_COUNT_MAX);
    }
    if (in != cur_width(f)) {
        free(w);
        free(b);
        return onnx_fail(why, why_size, node,
                         "takes %u inputs, the value before it has %u", in,
                         cur_width(f));
    }
    if (out == 0 || out > WITAN_MODEL_WIDTH_MAX) {
        free(w);
        free(b);
        return infer_why(why, why_size, out ? WITAN_ELIMIT : WITAN_EONNX,
                         "node '%s': %u outputs, must be 1..%d "
                         "(WITAN_MODEL_WIDTH_MAX)",
                         node->name ? node->name : "", out,
                         WITAN_MODEL_WIDTH_MAX);
    }
    if (!b)
        b = calloc(out, sizeof *b);
    if (!b) {
        free(w);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    struct fl_layer *L = &f->layers[f->n_layers++];
    L->in = in;
    L->out = out;
    L->w = w;
    L->b = b;
    L->act = -1;
    return 0;
}

/* A vector operand of Add/Sub/Mul broadcast to width: [width], [1,width],
 * or one value. */
static int broadcast(const struct tensor *t, uint32_t width,
                     const Onnx__NodeProto *node, char *why, size_t why_size)
{
    if (t->n == 1 || t->n == width)
        return 0;
    ONNX_FAIL(node, "operand has %zu values, the running value %u", t->n,
              width);
}

static int elementwise(struct fl_model *f, const Onnx__NodeProto *node,
                       const Onnx__GraphProto *g, const char *cur, char op,
                       char *why, size_t why_size)
{
    if (node->n_input != 2 || strcmp(node->input[0] ? node->input[0] : "", cur))
        ONNX_FAIL(node, "needs the running value as its first input and a "
                        "constant as its second");
    const Onnx__TensorProto *tp = find_init(g, node->input[1]);
    if (!tp)
        ONNX_FAIL(node, "second input '%s' is not an initializer",
                  node->input[1] ? node->input[1] : "");
    struct tensor t;
    int err = tensor_read(tp, node, &t, why, why_size);
    if (err)
        return err;
    uint32_t width = cur_width(f);
    err = broadcast(&t, width, node, why, why_size);
    struct fl_layer *L = open_layer(f);
    if (!err && f->trees)
        err = onnx_fail(why, why_size, node, "cannot follow a tree ensemble");
    else if (!err && f->transform != INFER_OUT_NONE)
        err = onnx_fail(why, why_size, node, "cannot follow the output transform");
    else if (!err && !L && f->n_layers)
        err = onnx_fail(why, why_size, node,
                        "follows an activation; only a dense layer or the "
                        "input may be shifted or scaled");
    if (!err && !L)
        err = ensure_norm(f, why, why_size);
    for (uint32_t j = 0; !err && j < width; j++) {
        double c = t.v[t.n == 1 ? 0 : j];
        if (L) {
            if (op == '+')
                L->b[j] += c;
            else if (op == '-')
                L->b[j] -= c;
            else {
                L->b[j] *= c;
                for (uint32_t i = 0; i < L->in; i++)
                    L->w[(size_t)j * L->in + i] *= c;
            }
        } else {
            /* (x - off) * scl + c = (x - (off - c / scl)) * scl */
            f->has_norm = true;
            if (op == '*') {
                if (c == 0)
                    err = onnx_fail(why, why_size, node, "multiplies by zero");
                f->scl[j] *= c;
            } else {
                f->off[j] += (op == '+' ? -c : c) / f->scl[j];
            }
        }
    }
    free(t.v);
    return err;
}

static int set_activation(struct fl_model *f, const Onnx__NodeProto *node,
                          int act, char *why, size_t why_size)
{
    struct fl_layer *L = open_layer(f);
    if (!L)
        ONNX_FAIL(node, "needs a dense layer (Gemm or MatMul) before it");
    L->act = act;
    return 0;
}

static int op_gemm(struct fl_model *f, const Onnx__NodeProto *node,
                   const Onnx__GraphProto *g, bool matmul, char *why,
                   size_t why_size)
{
    static const char *const ok[] = {"alpha", "beta", "transA", "transB", NULL};
    static const char *const none[] = {NULL};
    int err = attrs_allowed(node, matmul ? none : ok, why, why_size);
    if (err)
        return err;
    if (attr_int(node, "transA", 0) != 0)
        ONNX_FAIL(node, "unsupported attribute 'transA' = 1");
    if (node->n_input < 2 || node->n_input > (matmul ? 2u : 3u))
        ONNX_FAIL(node, "%zu inputs", node->n_input);
    const Onnx__TensorProto *bp = find_init(g, node->input[1]);
    if (!bp)
        ONNX_FAIL(node, "weights '%s' are not an initializer",
                  node->input[1] ? node->input[1] : "");
    struct tensor B, C = {0};
    err = tensor_read(bp, node, &B, why, why_size);
    if (err)
        return err;
    if (B.rank != 2) {
        free(B.v);
        ONNX_FAIL(node, "weights of rank %zu, expected 2", B.rank);
    }
    bool tb = attr_int(node, "transB", 0) != 0;
    double alpha = attr_float(node, "alpha", 1.0), beta = attr_float(node, "beta", 1.0);
    uint32_t in = (uint32_t)(tb ? B.dims[1] : B.dims[0]);
    uint32_t out = (uint32_t)(tb ? B.dims[0] : B.dims[1]);
    double *w = malloc(((size_t)in * out + 1) * sizeof *w);
    double *b = calloc(out + 1, sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        free(B.v);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    for (uint32_t j = 0; j < out; j++)
        for (uint32_t i = 0; i < in; i++)
            w[(size_t)j * in + i] =
                alpha * (tb ? B.v[(size_t)j * in + i] : B.v[(size_t)i * out + j]);
    free(B.v);
    if (!matmul && node->n_input == 3 && node->input[2] && node->input[2][0]) {
        const Onnx__TensorProto *cp = find_init(g, node->input[2]);
        if (!cp)
            err = onnx_fail(why, why_size, node, "bias '%s' is not an initializer",
                            node->input[2]);
        if (!err)
            err = tensor_read(cp, node, &C, why, why_size);
        if (!err)
            err = broadcast(&C, out, node, why, why_size);
        for (uint32_t j = 0; !err && j < out; j++)
            b[j] = beta * C.v[C.n == 1 ? 0 : j];
        free(C.v);
        if (err) {
            free(w);
            free(b);
            return err;
        }
    }
    return add_layer(f, node, in, out, w, b, why, why_size);
}

/* LinearRegressor and LinearClassifier: one dense layer and the output. */
static int op_linear(struct fl_model *f, const Onnx__NodeProto *node,
                     bool classifier, char *why, size_t why_size)
{
    static const char *const okr[] = {"coefficients", "intercepts", "targets",
                                      "post_transform", NULL};
    static const char *const okc[] = {"coefficients", "intercepts",
                                      "classlabels_ints", "multi_class",
                                      "post_transform", NULL};
    int err = attrs_allowed(node, classifier ? okc : okr, why, why_size);
    if (err)
        return err;
    char buf[32];
    const char *post = attr_str(node, "post_transform", "NONE", buf, sizeof buf);
    const float *coef, *icpt;
    size_t nc = attr_floats(node, "coefficients", &coef);
    size_t ni = attr_floats(node, "intercepts", &icpt);
    uint32_t in = cur_width(f);
    if (f->n_layers || f->trees)
        ONNX_FAIL(node, "must take the graph input (after an optional Scaler)");
    if (in == 0 || nc == 0 || nc % in != 0)
        ONNX_FAIL(node, "%zu coefficients for %u inputs", nc, in);
    uint32_t rows = (uint32_t)(nc / in);
    if (ni != 0 && ni != rows)
        ONNX_FAIL(node, "%zu intercepts for %u rows", ni, rows);
    if (rows > WITAN_MODEL_OUTPUT_COUNT_MAX)
        return infer_why(why, why_size, WITAN_ELIMIT, "%u outputs, limit %d",
                         rows, WITAN_MODEL_OUTPUT_COUNT_MAX);
    double *w = malloc(nc * sizeof *w), *b = calloc(rows, sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nc; i++)
        w[i] = coef[i];
    for (size_t j = 0; j < ni; j++)
        b[j] = icpt[j];
    err = add_layer(f, node, in, rows, w, b, why, why_size);
    if (err)
        return err;
    f->layers[f->n_layers - 1].act = INFER_ACT_IDENTITY;
    if (!classifier) {
        if (strcmp(post, "NONE"))
            ONNX_FAIL(node, "unsupported post_transform '%s'", post);
        if (attr_int(node, "targets", 1) != rows)
            ONNX_FAIL(node, "targets %lld, coefficients give %u",
                      (long long)attr_int(node, "targets", 1), rows);
        f->kind = INFER_LINEAR_REGRESSION;
        return 0;
    }
    const int64_t *labels;
    size_t nl = attr_ints(node, "classlabels_ints", &labels);
    if (nl < 2)
        ONNX_FAIL(node, "needs classlabels_ints with at least 2 classes");
    f->labels = malloc(nl * sizeof *f->labels);
    if (!f->labels)
        FAIL(WITAN_ENOMEM, "out of memory");
    memcpy(f->labels, labels, nl * sizeof *labels);
    f->n_labels = (uint32_t)nl;
    if (rows == 1 && nl == 2 && strcmp(post, "LOGISTIC") == 0) {
        f->kind = INFER_LOGISTIC_BINARY;
        f->transform = INFER_OUT_SIGMOID;
        f->binary_pair = true;
    } else if (rows == nl && rows >= 2 && strcmp(post, "SOFTMAX") == 0) {
        f->kind = INFER_LOGISTIC_MULTINOMIAL;
        f->transform = INFER_OUT_SOFTMAX;
    } else {
        ONNX_FAIL(node,
                  "unsupported post_transform '%s' for %u rows and %zu classes "
                  "(binary LOGISTIC with one row, or SOFTMAX)",
                  post, rows, nl);
    }
    return 0;
}

static int op_scaler(struct fl_model *f, const Onnx__NodeProto *node,
                     char *why, size_t why_size)
{
    static const char *const ok[] = {"offset", "scale", NULL};
    int err = attrs_allowed(node, ok, why, why_size);
    if (err)
        return err;
    if (f->n_layers || f->trees)
        ONNX_FAIL(node, "only supported on the graph input");
    const float *off, *scl;
    size_t no = attr_floats(node, "offset", &off), ns = attr_floats(node, "scale", &scl);
    if ((no != 1 && no != f->n_in && no != 0) || (ns != 1 && ns != f->n_in && ns != 0))
        ONNX_FAIL(node, "%zu offsets and %zu scales for %u inputs", no, ns, f->n_in);
    err = ensure_norm(f, why, why_size);
    if (err)
        return err;
    f->has_norm = true;
    for (uint32_t i = 0; i < f->n_in; i++) {
        double o = no ? off[no == 1 ? 0 : i] : 0, s = ns ? scl[ns == 1 ? 0 : i] : 1;
        if (s == 0)
            ONNX_FAIL(node, "scale %u is zero", i);
        /* ((x - off) * scl - o) * s */
        f->off[i] += o / f->scl[i];
        f->scl[i] *= s;
    }
    return 0;
}

/* --------------------------------------------------------------- trees -- */

struct onode {
    int64_t tree, id;
    int mode; /* 0 leaf, 1 <=, 2 <, 3 >=, 4 > */
    int64_t feature, t_id, f_id;
    double thr;
    double *w; /* K */
    int64_t new_index;
};

static int find_onode(const struct onode *v, size_t lo, size_t hi, int64_t id)
{
    for (size_t i = lo; i < hi; i++)
        if (v[i].id == id)
            return (int)i;
    return -1;
}

/* Builds one tree from nodes[lo,hi) (all of one tree id) in preorder. */
static int build_tree(struct fl_model *f, struct fl_tree *tr, struct onode *v,
                      size_t lo, size_t hi, const Onnx__NodeProto *node,
                      char *why, size_t why_size)
{
    uint32_t n = (uint32_t)(hi - lo), K = f->K;
    if (n > WITAN_MODEL_TREE_NODE_COUNT_MAX)
        return infer_why(why, why_size, WITAN_ELIMIT, "tree %lld: %u nodes, limit %d",
                         (long long)v[lo].tree, n, WITAN_MODEL_TREE_NODE_COUNT_MAX);
    tr->n = n;
    tr->feature = calloc(n, sizeof *tr->feature);
    tr->left = calloc(n, sizeof *tr->left);
    tr->right = calloc(n, sizeof *tr->right);
    tr->thr = calloc(n, sizeof *tr->thr);
    tr->lt = calloc(n, 1);
    tr->leaf = calloc((size_t)n * K, sizeof *tr->leaf);
    int64_t *stack = malloc(2 * (n + 1) * sizeof *stack);
    if (!tr->feature || !tr->left || !tr->right || !tr->thr || !tr->lt ||
        !tr->leaf || !stack) {
        free(stack);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    /* The root is the node no other node names as a child; ONNX writers
     * use node id 0 for it. */
    int root = find_onode(v, lo, hi, 0);
    if (root < 0) {
        free(stack);
        ONNX_FAIL(node, "tree %lld has no node 0 (root)", (long long)v[lo].tree);
    }
    /* Preorder numbering; stack holds (onode index, depth). */
    size_t sp = 0;
    uint32_t next = 0;
    stack[sp++] = root;
    stack[sp++] = 0;
    int err = 0;
    while (sp && !err) {
        int64_t depth = stack[--sp];
        struct onode *o = &v[stack[--sp]];
        if (o->new_index >= 0) {
            err = onnx_fail(why, why_size, node, "tree %lld: node %lld is reached twice",
                            (long long)o->tree, (long long)o->id);
            break;
        }
        if (depth > WITAN_MODEL_TREE_DEPTH_MAX) {
            err = infer_why(why, why_size, WITAN_ELIMIT, "tree %lld deeper than %d",
                            (long long)o->tree, WITAN_MODEL_TREE_DEPTH_MAX);
            break;
        }
        uint32_t me = next++;
        o->new_index = me;
        if (o->mode == 0) {
            for (uint32_t k = 0; k < K; k++)
                tr->leaf[(size_t)me * K + k] = o->w[k];
            continue;
        }
        if (o->feature < 0 || o->feature >= f->n_in) {
            err = onnx_fail(why, why_size, node, "tree %lld node %lld reads feature %lld of %u",
                            (long long)o->tree, (long long)o->id,
                            (long long)o->feature, f->n_in);
            break;
        }
        int ti = find_onode(v, lo, hi, o->t_id), fi = find_onode(v, lo, hi, o->f_id);
        if (ti < 0 || fi < 0 || ti == fi) {
            err = onnx_fail(why, why_size, node,
                            "tree %lld node %lld: child id %lld is outside the tree",
                            (long long)o->tree, (long long)o->id,
                            (long long)(ti < 0 ? o->t_id : o->f_id));
            break;
        }
        tr->feature[me] = (uint32_t)o->feature;
        tr->thr[me] = o->thr;
        /* >= and > are the negations of < and <=: swap the branches. */
        bool swap = o->mode >= 3;
        tr->lt[me] = o->mode == 2 || o->mode == 3;
        int first = swap ? fi : ti, second = swap ? ti : fi;
        /* Push second (right) first so the left subtree is numbered next;
         * its index is patched when it is numbered, via left/right below. */
        stack[sp++] = second;
        stack[sp++] = depth + 1;
        stack[sp++] = first;
        stack[sp++] = depth + 1;
    }
    free(stack);
    if (err)
        return err;
    /* Children indices now that every node has a number. */
    for (size_t i = lo; i < hi; i++) {
        struct onode *o = &v[i];
        if (o->new_index < 0)
            ONNX_FAIL(node, "tree %lld: node %lld is not reachable from the root",
                      (long long)o->tree, (long long)o->id);
        if (o->mode == 0)
            continue;
        int ti = find_onode(v, lo, hi, o->t_id), fi = find_onode(v, lo, hi, o->f_id);
        bool swap = o->mode >= 3;
        tr->left[o->new_index] = (uint32_t)v[swap ? fi : ti].new_index;
        tr->right[o->new_index] = (uint32_t)v[swap ? ti : fi].new_index;
    }
    return 0;
}

static int cmp_onode(const void *a, const void *b)
{
    const struct onode *x = a, *y = b;
    if (x->tree != y->tree)
        return x->tree < y->tree ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int op_trees(struct fl_model *f, const Onnx__NodeProto *node,
                    bool classifier, char *why, size_t why_size)
{
    static const char *const okr[] = {
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
        "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
        "nodes_missing_value_tracks_true", "nodes_hitrates", "target_treeids",
        "target_nodeids", "target_ids", "target_weights", "n_targets",
        "aggregate_function", "base_values", "post_transform", NULL};
    static const char *const okc[] = {
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
        "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
        "nodes_missing_value_tracks_true", "nodes_hitrates", "class_treeids",
        "class_nodeids", "class_ids", "class_weights", "classlabels_int64s",
        "base_values", "post_transform", NULL};
    int err = attrs_allowed(node, classifier ? okc : okr, why, why_size);
    if (err)
        return err;
    if (f->n_layers || f->has_norm || f->trees)
        ONNX_FAIL(node, "a tree ensemble must take the graph input directly");
    const int64_t *tid, *nid, *fid, *tt, *ff, *mv, *lt, *ln, *li;
    const float *val, *lw, *base;
    size_t n = attr_ints(node, "nodes_treeids", &tid);
    const Onnx__AttributeProto *modes = attr(node, "nodes_modes");
    if (n == 0 || attr_ints(node, "nodes_nodeids", &nid) != n ||
        attr_ints(node, "nodes_featureids", &fid) != n ||
        attr_floats(node, "nodes_values", &val) != n ||
        attr_ints(node, "nodes_truenodeids", &tt) != n ||
        attr_ints(node, "nodes_falsenodeids", &ff) != n || !modes ||
        modes->n_strings != n)
        ONNX_FAIL(node, "nodes_* attributes missing or of different lengths");
    if (n > WITAN_MODEL_NODE_COUNT_MAX)
        return infer_why(why, why_size, WITAN_ELIMIT, "%zu tree nodes, limit %d",
                         n, WITAN_MODEL_NODE_COUNT_MAX);
    size_t nmv = attr_ints(node, "nodes_missing_value_tracks_true", &mv);
    for (size_t i = 0; i < nmv; i++)
        if (mv[i])
            ONNX_FAIL(node, "unsupported attribute "
                            "'nodes_missing_value_tracks_true' set on node %zu", i);
    const char *pfx = classifier ? "class" : "target";
    char an[40];
    snprintf(an, sizeof an, "%s_treeids", pfx);
    size_t nl = attr_ints(node, an, &lt);
    snprintf(an, sizeof an, "%s_nodeids", pfx);
    size_t nl2 = attr_ints(node, an, &ln);
    snprintf(an, sizeof an, "%s_ids", pfx);
    size_t nl3 = attr_ints(node, an, &li);
    snprintf(an, sizeof an, "%s_weights", pfx);
    size_t nl4 = attr_floats(node, an, &lw);
    if (nl == 0 || nl2 != nl || nl3 != nl || nl4 != nl)
        ONNX_FAIL(node, "%s_* attributes missing or of different lengths", pfx);
    char buf[32];
    const char *post = attr_str(node, "post_transform", "NONE", buf, sizeof buf);
    uint32_t K;
    bool average = false;
    if (classifier) {
        const int64_t *labels;
        size_t ncl = attr_ints(node, "classlabels_int64s", &labels);
        if (ncl < 2 || ncl > WITAN_MODEL_OUTPUT_COUNT_MAX)
            ONNX_FAIL(node, "needs 2..%d classlabels_int64s",
                      WITAN_MODEL_OUTPUT_COUNT_MAX);
        int64_t maxid = 0;
        for (size_t i = 0; i < nl; i++)
            maxid = li[i] > maxid ? li[i] : maxid;
        f->labels = malloc(ncl * sizeof *f->labels);
        if (!f->labels)
            FAIL(WITAN_ENOMEM, "out of memory");
        memcpy(f->labels, labels, ncl * sizeof *labels);
        f->n_labels = (uint32_t)ncl;
        if (ncl == 2 && maxid == 0 && strcmp(post, "LOGISTIC") == 0) {
            K = 1;
            f->kind = INFER_GB_CLASSIFICATION;
            f->transform = INFER_OUT_SIGMOID;
            f->binary_pair = true;
        } else if (strcmp(post, "SOFTMAX") == 0) {
            K = (uint32_t)ncl;
            f->kind = INFER_GB_CLASSIFICATION;
            f->transform = INFER_OUT_SOFTMAX;
        } else if (strcmp(post, "NONE") == 0) {
            K = (uint32_t)ncl;
            f->kind = INFER_RF_CLASSIFICATION;
        } else {
            ONNX_FAIL(node, "unsupported post_transform '%s' for %zu classes",
                      post, ncl);
        }
    } else {
        int64_t nt = attr_int(node, "n_targets", 1);
        if (nt < 1 || nt > WITAN_MODEL_OUTPUT_COUNT_MAX)
            ONNX_FAIL(node, "n_targets %lld", (long long)nt);
        K = (uint32_t)nt;
        char abuf[32];
        const char *agg = attr_str(node, "aggregate_function", "SUM", abuf, sizeof abuf);
        if (strcmp(agg, "AVERAGE") == 0)
            average = true;
        else if (strcmp(agg, "SUM") != 0)
            ONNX_FAIL(node, "unsupported aggregate_function '%s'", agg);
        if (strcmp(post, "NONE"))
            ONNX_FAIL(node, "unsupported post_transform '%s'", post);
        f->kind = average ? INFER_RF_REGRESSION : INFER_GB_REGRESSION;
    }
    f->K = K;
    if ((uint64_t)n * K > WITAN_MODEL_PARAM_COUNT_MAX)
        return infer_why(why, why_size, WITAN_ELIMIT,
                         "%zu nodes x %u scores, limit %d", n, K,
                         WITAN_MODEL_PARAM_COUNT_MAX);
    size_t nb = attr_floats(node, "base_values", &base);
    if (nb != 0 && nb != K)
        ONNX_FAIL(node, "%zu base_values for %u scores", nb, K);
    f->base = calloc(K, sizeof *f->base);
    struct onode *v = calloc(n, sizeof *v);
    double *wbuf = calloc(n * K, sizeof *wbuf);
    if (!f->base || !v || !wbuf) {
        free(v);
        free(wbuf);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < nb; k++)
        f->base[k] = base[k];
    for (size_t i = 0; !err && i < n; i++) {
        char mode[24];
        size_t ml = modes->strings[i].len < 23 ? modes->strings[i].len : 23;
        memcpy(mode, modes->strings[i].data, ml);
        mode[ml] = 0;
        struct onode *o = &v[i];
        o->tree = tid[i];
        o->id = nid[i];
        o->feature = fid[i];
        o->thr = val[i];
        o->t_id = tt[i];
        o->f_id = ff[i];
        o->w = wbuf + i * K;
        o->new_index = -1;
        if (!strcmp(mode, "LEAF"))
            o->mode = 0;
        else if (!strcmp(mode, "BRANCH_LEQ"))
            o->mode = 1;
        else if (!strcmp(mode, "BRANCH_LT"))
            o->mode = 2;
        else if (!strcmp(mode, "BRANCH_GTE"))
            o->mode = 3;
        else if (!strcmp(mode, "BRANCH_GT"))
            o->mode = 4;
        else
            err = onnx_fail(why, why_size, node, "unsupported node mode '%s'", mode);
        if (!err && !isfinite(o->thr))
            err = onnx_fail(why, why_size, node, "threshold of node %zu not finite", i);
    }
    if (!err)
        qsort(v, n, sizeof *v, cmp_onode);
    for (size_t i = 1; !err && i < n; i++)
        if (v[i].tree == v[i - 1].tree && v[i].id == v[i - 1].id)
            err = onnx_fail(why, why_size, node, "tree %lld: node id %lld twice",
                            (long long)v[i].tree, (long long)v[i].id);
    /* Leaf weights: find each (tree, node) by binary search. */
    for (size_t i = 0; !err && i < nl; i++) {
        struct onode key = {.tree = lt[i], .id = ln[i]};
        struct onode *o = bsearch(&key, v, n, sizeof *v, cmp_onode);
        if (!o || o->mode != 0)
            err = onnx_fail(why, why_size, node, "weight %zu names tree %lld node %lld, not a leaf",
                            i, (long long)lt[i], (long long)ln[i]);
        else if (li[i] < 0 || li[i] >= (int64_t)K)
            err = onnx_fail(why, why_size, node, "weight %zu for output %lld of %u", i,
                            (long long)li[i], K);
        else if (!isfinite(lw[i]))
            err = onnx_fail(why, why_size, node, "weight %zu not finite", i);
        else
            o->w[li[i]] += lw[i];
    }
    uint32_t trees = 0;
    for (size_t i = 0; !err && i < n; i++)
        if (i == 0 || v[i].tree != v[i - 1].tree)
            trees++;
    if (!err && trees > WITAN_MODEL_TREE_COUNT_MAX)
        err = infer_why(why, why_size, WITAN_ELIMIT, "%u trees, limit %d", trees,
                        WITAN_MODEL_TREE_COUNT_MAX);
    if (!err) {
        f->trees = calloc(trees, sizeof *f->trees);
        if (!f->trees)
            err = infer_why(why, why_size, WITAN_ENOMEM, "out of memory");
    }
    for (size_t lo = 0, t = 0; !err && lo < n; t++) {
        size_t hi = lo;
        while (hi < n && v[hi].tree == v[lo].tree)
            hi++;
        f->n_trees = (uint32_t)t + 1;
        err = build_tree(f, &f->trees[t], v, lo, hi, node, why, why_size);
        lo = hi;
    }
    if (!err && average)
        for (uint32_t t = 0; t < f->n_trees; t++)
            for (size_t i = 0; i < (size_t)f->trees[t].n * K; i++)
                f->trees[t].leaf[i] /= f->n_trees;
    free(v);
    free(wbuf);
    return err;
}

/* ------------------------------------------------------------ convert -- */

static bool is_ml(const Onnx__NodeProto *n)
{
    return n->domain && strcmp(n->domain, "ai.onnx.ml") == 0;
}

static int convert(const uint8_t *bytes, size_t size, struct fl_model *f,
                   char *why, size_t why_size)
{
    memset(f, 0, sizeof *f);
    if (size > WITAN_MODEL_SIZE_MAX * 4ull)
        FAIL(WITAN_ELIMIT, "ONNX file of %zu bytes, limit %d", size,
             WITAN_MODEL_SIZE_MAX * 4);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, size ? bytes : (const uint8_t *)"");
    if (!mp)
        FAIL(WITAN_EDECODE, "not an ONNX ModelProto");
    int err = 0;
    const Onnx__GraphProto *g = mp->graph;
    const Onnx__ValueInfoProto *input = NULL;
    if (!g) {
        err = infer_why(why, why_size, WITAN_EONNX, "ONNX model without a graph");
        goto out;
    }
    for (size_t i = 0; i < g->n_input; i++) {
        if (find_init(g, g->input[i]->name))
            continue;
        if (input) {
            err = infer_why(why, why_size, WITAN_EONNX,
                            "graph has more than one input ('%s', '%s')",
                            input->name, g->input[i]->name);
            goto out;
        }
        input = g->input[i];
    }
    if (!input || !input->name) {
        err = infer_why(why, why_size, WITAN_EONNX, "graph has no input");
        goto out;
    }
    copy_name(f->in_name, input->name);
    copy_name(f->graph_name, g->name);
    /* Input width: the last dimension of [N, C]. */
    const Onnx__TypeProto *ty = input->type;
    const Onnx__TensorShapeProto *sh =
        ty && ty->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && ty->tensor_type
            ? ty->tensor_type->shape
            : NULL;
    if (!sh || sh->n_dim == 0 || sh->n_dim > 2 ||
        sh->dim[sh->n_dim - 1]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
        err = infer_why(why, why_size, WITAN_EONNX,
                        "input '%s' must have shape [N, C] with a fixed C",
                        input->name);
        goto out;
    }
    int64_t c = sh->dim[sh->n_dim - 1]->dim_value;
    if (c < 1 || c > WITAN_MODEL_INPUT_COUNT_MAX) {
        err = infer_why(why, why_size, c < 1 ? WITAN_EONNX : WITAN_ELIMIT,
                        "input '%s' has %lld features, must be 1..%d",
                        input->name, (long long)c, WITAN_MODEL_INPUT_COUNT_MAX);
        goto out;
    }
    f->n_in = (uint32_t)c;
    const char *cur = input->name;
    bool done = false;
    for (size_t k = 0; !err && k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        const char *op = n->op_type ? n->op_type : "";
        bool ml = is_ml(n);
        if (n->domain && n->domain[0] && !ml &&
            strcmp(n->domain, "ai.onnx")) {
            err = onnx_fail(why, why_size, n, "unsupported domain '%s'", n->domain);
            break;
        }
        if (n->n_output < 1 || !n->output[0]) {
            err = onnx_fail(why, why_size, n, "has no output");
            break;
        }
        if (n->n_input < 1 || !n->input[0] || strcmp(n->input[0], cur)) {
            err = onnx_fail(why, why_size, n,
                            "input '%s' is not the running value '%s' (only "
                            "chains of operators are supported)",
                            n->n_input && n->input[0] ? n->input[0] : "", cur);
            break;
        }
        static const char *const none[] = {NULL};
        f->node_count++;
        bool passthrough = !ml && (!strcmp(op, "Identity") || !strcmp(op, "Flatten"));
        if (!strcmp(op, "ZipMap")) {
            err = onnx_fail(why, why_size, n,
                            "not supported: export the classifier without "
                            "it (skl2onnx: options zipmap=False); Witan "
                            "gives the label and the probabilities as "
                            "outputs");
            break;
        }
        if (done && !passthrough) {
            err = onnx_fail(why, why_size, n, "follows the model's output stage");
            break;
        }
        if (!ml && !strcmp(op, "Identity")) {
            err = attrs_allowed(n, none, why, why_size);
        } else if (!ml && !strcmp(op, "Flatten")) {
            static const char *const ok[] = {"axis", NULL};
            err = attrs_allowed(n, ok, why, why_size);
            if (!err && attr_int(n, "axis", 1) != 1)
                err = onnx_fail(why, why_size, n, "unsupported attribute 'axis' = %lld",
                                (long long)attr_int(n, "axis", 1));
        } else if (!ml && (!strcmp(op, "Gemm") || !strcmp(op, "MatMul"))) {
            if (f->trees)
                err = onnx_fail(why, why_size, n, "cannot follow a tree ensemble");
            else
                err = op_gemm(f, n, g, !strcmp(op, "MatMul"), why, why_size);
        } else if (!ml && (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul"))) {
            err = attrs_allowed(n, none, why, why_size);
            if (!err)
                err = elementwise(f, n, g, cur, op[0] == 'A' ? '+' : op[0] == 'S' ? '-' : '*',
                                  why, why_size);
        } else if (!ml && !strcmp(op, "Relu")) {
            err = attrs_allowed(n, none, why, why_size);
            if (!err)
                err = set_activation(f, n, INFER_ACT_RELU, why, why_size);
        } else if (!ml && !strcmp(op, "Sigmoid")) {
            err = attrs_allowed(n, none, why, why_size);
            if (!err)
                err = set_activation(f, n, INFER_ACT_SIGMOID, why, why_size);
        } else if (!ml && !strcmp(op, "Tanh")) {
            err = attrs_allowed(n, none, why, why_size);
            if (!err)
                err = set_activation(f, n, INFER_ACT_TANH, why, why_size);
        } else if (!ml && !strcmp(op, "Softmax")) {
            static const char *const ok[] = {"axis", NULL};
            err = attrs_allowed(n, ok, why, why_size);
            int64_t axis = attr_int(n, "axis", -1);
            if (!err && axis != -1 && axis != 1)
                err = onnx_fail(why, why_size, n, "unsupported attribute 'axis' = %lld",
                                (long long)axis);
            if (!err && !open_layer(f))
                err = onnx_fail(why, why_size, n, "needs a dense layer before it");
            if (!err) {
                open_layer(f)->act = INFER_ACT_IDENTITY;
                f->transform = INFER_OUT_SOFTMAX;
                done = true;
            }
        } else if (ml && !strcmp(op, "Scaler")) {
            err = op_scaler(f, n, why, why_size);
        } else if (ml && (!strcmp(op, "LinearRegressor") || !strcmp(op, "LinearClassifier"))) {
            err = op_linear(f, n, op[6] == 'C', why, why_size);
            done = true;
        } else if (ml && (!strcmp(op, "TreeEnsembleRegressor") ||
                          !strcmp(op, "TreeEnsembleClassifier"))) {
            err = op_trees(f, n, op[12] == 'C', why, why_size);
            done = true;
        } else {
            err = onnx_fail(why, why_size, n, "unsupported operator %s%s%s",
                            ml ? "ai.onnx.ml." : "", op, "");
        }
        if (err)
            break;
        /* Classifiers output (label, probabilities): follow the latter. */
        bool cls = ml && (!strcmp(op, "LinearClassifier") || !strcmp(op, "TreeEnsembleClassifier"));
        if (cls) {
            if (n->n_output < 2 || !n->output[1]) {
                err = onnx_fail(why, why_size, n, "needs a probabilities output");
                break;
            }
            cur = n->output[1];
        } else {
            cur = n->output[0];
        }
    }
    if (err)
        goto out;
    if (!f->n_layers && !f->trees) {
        err = infer_why(why, why_size, WITAN_EONNX, "graph has no dense layer or trees");
        goto out;
    }
    bool found = false;
    for (size_t i = 0; i < g->n_output; i++)
        found |= g->output[i]->name && !strcmp(g->output[i]->name, cur);
    if (!found) {
        err = infer_why(why, why_size, WITAN_EONNX,
                        "the converted chain ends at '%s', not a graph output", cur);
        goto out;
    }
    copy_name(f->out_name, cur);
    if (f->n_layers) {
        struct fl_layer *last = &f->layers[f->n_layers - 1];
        if (last->act < 0)
            last->act = INFER_ACT_IDENTITY;
        if (f->transform == INFER_OUT_NONE && last->act == INFER_ACT_SIGMOID &&
            f->n_layers > 0) {
            last->act = INFER_ACT_IDENTITY;
            f->transform = INFER_OUT_SIGMOID;
        }
        if (last->act != INFER_ACT_IDENTITY) {
            err = infer_why(why, why_size, WITAN_EONNX,
                            "the output layer ends in %s; only identity, "
                            "Sigmoid or Softmax may end a network",
                            infer_activation_name(last->act));
            goto out;
        }
        f->K = last->out;
        if (!f->kind)
            f->kind = INFER_MLP;
        if (!f->off)
            err = ensure_norm(f, why, why_size);
    }
out:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (err)
        fl_free(f);
    return err;
}

/* ------------------------------------------------------- float scoring -- */

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

static uint32_t fl_out_count(const struct fl_model *f)
{
    return f->binary_pair ? 2 : f->K;
}

/* Evaluates the float model on one row; z (optional) receives each dense
 * layer's pre-activation maximum |value| (index l) and the normalised input
 * maximum (index WITAN_MODEL_LAYER_COUNT_MAX). */
static void fl_eval(const struct fl_model *f, const double *x, double *out,
                    double *zmax, double *score)
{
    double a[WITAN_MODEL_WIDTH_MAX], b[WITAN_MODEL_WIDTH_MAX];
    double s[WITAN_MODEL_OUTPUT_COUNT_MAX];
    uint32_t K = f->K;
    if (f->n_layers) {
        for (uint32_t i = 0; i < f->n_in; i++) {
            a[i] = (x[i] - f->off[i]) * f->scl[i];
            if (zmax && fabs(a[i]) > zmax[WITAN_MODEL_LAYER_COUNT_MAX])
                zmax[WITAN_MODEL_LAYER_COUNT_MAX] = fabs(a[i]);
        }
        for (uint32_t l = 0; l < f->n_layers; l++) {
            const struct fl_layer *L = &f->layers[l];
            for (uint32_t j = 0; j < L->out; j++) {
                double acc = L->b[j];
                for (uint32_t i = 0; i < L->in; i++)
                    acc += L->w[(size_t)j * L->in + i] * a[i];
                if (zmax && fabs(acc) > zmax[l])
                    zmax[l] = fabs(acc);
                switch (L->act) {
                case INFER_ACT_RELU: acc = acc > 0 ? acc : 0; break;
                case INFER_ACT_SIGMOID: acc = sigm(acc); break;
                case INFER_ACT_TANH: acc = tanh(acc); break;
                default: break;
                }
                b[j] = acc;
            }
            memcpy(a, b, L->out * sizeof *a);
        }
        memcpy(s, a, K * sizeof *s);
    } else {
        for (uint32_t k = 0; k < K; k++)
            s[k] = 0;
        for (uint32_t t = 0; t < f->n_trees; t++) {
            const struct fl_tree *tr = &f->trees[t];
            uint32_t n = 0;
            while (tr->left[n] || tr->right[n]) {
                double xd = x[tr->feature[n]];
                float xv = xd > FLT_MAX ? INFINITY : xd < -FLT_MAX ? -INFINITY : (float)xd;
                float th = (float)tr->thr[n];
                bool go_left = tr->lt[n] ? xv < th : xv <= th;
                n = go_left ? tr->left[n] : tr->right[n];
            }
            for (uint32_t k = 0; k < K; k++)
                s[k] += tr->leaf[(size_t)n * K + k];
        }
        for (uint32_t k = 0; k < K; k++)
            s[k] += f->base[k];
    }
    if (score)
        memcpy(score, s, K * sizeof *s);
    if (f->transform == INFER_OUT_SIGMOID && f->binary_pair) {
        double p = sigm(s[0]);
        out[0] = 1 - p;
        out[1] = p;
    } else if (f->transform == INFER_OUT_SIGMOID) {
        for (uint32_t k = 0; k < K; k++)
            out[k] = sigm(s[k]);
    } else if (f->transform == INFER_OUT_SOFTMAX) {
        double mx = s[0], sum = 0;
        for (uint32_t k = 1; k < K; k++)
            mx = s[k] > mx ? s[k] : mx;
        for (uint32_t k = 0; k < K; k++)
            sum += (out[k] = exp(s[k] - mx));
        for (uint32_t k = 0; k < K; k++)
            out[k] /= sum;
    } else {
        memcpy(out, s, K * sizeof *s);
    }
}

/* ---------------------------------------------------------- quantise -- */

/* Round half up; a value that is not finite or beyond 2^62 sets *bad (the
 * import then fails) instead of reaching an undefined conversion. */
static int64_t q_round_checked(double v, bool *bad)
{
    if (!(fabs(v) <= 4611686018427387904.0)) {
        *bad = true;
        return 0;
    }
    return (int64_t)floor(v + 0.5);
}
#define q_round(v) q_round_checked((v), &bad)

/* Largest frac (0..hi) with m * 2^frac <= limit; hi when m is 0. */
static uint32_t frac_for(double m, double limit, uint32_t hi)
{
    uint32_t f = 0;
    while (f < hi && m * ldexp(1.0, (int)f + 1) <= limit)
        f++;
    return f;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Frees what quantise allocated inside the message. */
static void pb_release(Witan__Model__Model *pb)
{
    for (size_t i = 0; pb->inputs && i < pb->n_inputs; i++) {
        if (pb->inputs[i])
            free(pb->inputs[i]->name);
        free(pb->inputs[i]);
    }
    free(pb->inputs);
    for (size_t i = 0; pb->outputs && i < pb->n_outputs; i++)
        free(pb->outputs[i]);
    free(pb->outputs);
    for (size_t l = 0; pb->layers && l < pb->n_layers; l++) {
        if (pb->layers[l]) {
            free(pb->layers[l]->weights);
            free(pb->layers[l]->bias);
        }
        free(pb->layers[l]);
    }
    free(pb->layers);
    for (size_t t = 0; pb->trees && t < pb->n_trees; t++) {
        Witan__Model__Tree *tr = pb->trees[t];
        if (tr) {
            free(tr->feature);
            free(tr->threshold);
            free(tr->left);
            free(tr->right);
            free(tr->leaf_values);
        }
        free(tr);
    }
    free(pb->trees);
    free(pb->base_values);
    free(pb->class_labels);
    free(pb->name);
}

/* One end of input i's calibrated range, in the model's input encoding,
 * rounded outwards (down for the low end) so the samples always lie
 * inside. */
static int64_t range_end(const Witan__Model__Model *pb, uint32_t i, double v,
                         bool low)
{
    double lim = (double)WITAN_MODEL_INPUT_ABS_MAX;
    if (pb->input_encoding == WITAN__MODEL__INPUT_ENCODING__INPUT_FLOAT32_ORDER) {
        float fv = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : (float)v;
        if (low && (double)fv > v)
            fv = nextafterf(fv, -INFINITY);
        if (!low && (double)fv < v)
            fv = nextafterf(fv, INFINITY);
        return infer_float32_key(fv);
    }
    double q = ldexp(v, (int)(pb->per_feature_frac ? pb->inputs[i]->frac_bits
                                                   : pb->input_frac_bits));
    q = low ? floor(q) : ceil(q);
    return (int64_t)(q > lim ? lim : q < -lim ? -lim : q);
}

/* Calibrated ranges: each feature's range on the samples, widened by the
 * margin on each side (a constant feature by the margin of its magnitude,
 * or of 1 when it is 0). */
static void calibrate(const struct fl_model *f,
                      const struct infer_import_options *o,
                      Witan__Model__Model *pb)
{
    double margin = o->margin > 0 ? o->margin : INFER_IMPORT_MARGIN_DEFAULT;
    pb->calibrated = true;
    for (uint32_t i = 0; i < f->n_in; i++) {
        double lo = o->samples[i], hi = lo;
        for (size_t s = 1; s < o->sample_count; s++) {
            double v = o->samples[s * f->n_in + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double width = hi - lo;
        if (width == 0)
            width = fabs(hi) > 0 ? fabs(hi) : 1;
        pb->inputs[i]->calibrated_min =
            range_end(pb, i, lo - margin * width, true);
        pb->inputs[i]->calibrated_max =
            range_end(pb, i, hi + margin * width, false);
    }
}

/* Mean, standard deviation and largest magnitude over the samples of input
 * i normalised as (x - off) * scl. */
static void sample_stats(const struct infer_import_options *o, uint32_t n_in,
                         uint32_t i, double off, double scl, double *mean,
                         double *sd, double *absmax)
{
    double sum = 0, var = 0, m = 0;
    for (size_t s = 0; s < o->sample_count; s++) {
        double z = (o->samples[s * n_in + i] - off) * scl;
        sum += z;
        m = fabs(z) > m ? fabs(z) : m;
    }
    *mean = sum / (double)o->sample_count;
    for (size_t s = 0; s < o->sample_count; s++) {
        double d = (o->samples[s * n_in + i] - off) * scl - *mean;
        var += d * d;
    }
    *sd = sqrt(var / (double)o->sample_count);
    *absmax = m;
}

/* Keeps the description of the part with the largest step-to-spread
 * ratio so far. */
__attribute__((format(printf, 3, 4))) static void
note_coarse(struct fl_model *f, double ratio, const char *fmt, ...)
{
    if (!(ratio > f->coarsest_ratio))
        return;
    f->coarsest_ratio = ratio;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->coarsest, sizeof f->coarsest, fmt, ap);
    va_end(ap);
}

static int quantise(struct fl_model *f, const struct infer_import_options *o,
                    Witan__Model__Model *pb, char *why, size_t why_size)
{
    const uint32_t K = f->K, nout = fl_out_count(f);
    bool bad = false;
    pb->format_version = INFER_FORMAT_VERSION;
    pb->kind = (Witan__Model__ModelKind)f->kind;
    pb->name = dupstr(o->name ? o->name : f->graph_name[0] ? f->graph_name : "model");
    const size_t ns = o->samples ? o->sample_count : 0;
    /* Each raw input its own format: the most fraction bits (<= 30) that
     * keep 4x its largest sample within 2^46, so one large feature costs
     * the others nothing; 16 without samples. */
    uint32_t ffrac[WITAN_MODEL_INPUT_COUNT_MAX];
    WITAN_ASSERT(f->n_in <= WITAN_MODEL_INPUT_COUNT_MAX); /* graph checked */
    for (uint32_t i = 0; i < f->n_in; i++) {
        double xmax = 0;
        for (size_t s = 0; s < ns; s++) {
            double v = fabs(o->samples[s * f->n_in + i]);
            xmax = v > xmax ? v : xmax;
        }
        ffrac[i] = ns ? frac_for(xmax * 4, (double)WITAN_MODEL_INPUT_ABS_MAX,
                                 WITAN_MODEL_FRAC_BITS_MAX)
                      : FL_INPUT_FRAC_DEFAULT;
    }
    if (f->n_trees) { /* trees read float32 order keys: no fraction bits */
        pb->input_encoding = WITAN__MODEL__INPUT_ENCODING__INPUT_FLOAT32_ORDER;
        pb->input_frac_bits = 0;
    } else {
        pb->per_feature_frac = true;
        pb->input_frac_bits = 0;
    }
    pb->output_transform = (Witan__Model__OutputTransform)f->transform;
    pb->score_count = K;
    pb->n_inputs = f->n_in;
    pb->inputs = calloc(f->n_in, sizeof *pb->inputs);
    pb->n_outputs = nout;
    pb->outputs = calloc(nout, sizeof *pb->outputs);
    if (!pb->name || !pb->inputs || !pb->outputs)
        FAIL(WITAN_ENOMEM, "out of memory");
    if (strlen(pb->name) > WITAN_MODEL_NAME_SIZE_MAX)
        pb->name[WITAN_MODEL_NAME_SIZE_MAX] = 0;
    for (uint32_t k = 0; k < nout; k++) {
        char nm[WITAN_MODEL_NAME_SIZE_MAX + 1];
        if (f->n_labels)
            snprintf(nm, sizeof nm, "p_%lld", (long long)f->labels[k]);
        else if (nout == 1)
            snprintf(nm, sizeof nm, "%s", f->out_name[0] ? f->out_name : "y");
        else
            snprintf(nm, sizeof nm, "%.50s_%u", f->out_name[0] ? f->out_name : "y", k);
        if (!(pb->outputs[k] = dupstr(nm)))
            FAIL(WITAN_ENOMEM, "out of memory");
    }
    if (f->n_labels) {
        pb->class_labels = malloc(f->n_labels * sizeof *pb->class_labels);
        if (!pb->class_labels)
            FAIL(WITAN_ENOMEM, "out of memory");
        memcpy(pb->class_labels, f->labels, f->n_labels * sizeof *f->labels);
        pb->n_class_labels = f->n_labels;
    }
    /* Ranges seen on the samples, from the float model. */
    double zmax[WITAN_MODEL_LAYER_COUNT_MAX + 1] = {0};
    double smax = 0, tmp[WITAN_MODEL_OUTPUT_COUNT_MAX], sc[WITAN_MODEL_OUTPUT_COUNT_MAX];
    if (f->n_layers && !f->has_norm && ns) {
        /* No normalisation in the graph: standardise on the samples and
         * fold the inverse into the first layer (exact in reals). */
        struct fl_layer *L = &f->layers[0];
        for (uint32_t i = 0; i < f->n_in; i++) {
            double mean, sd, zm;
            sample_stats(o, f->n_in, i, 0, 1, &mean, &sd, &zm);
            if (!(sd > 1e-12))
                sd = 1;
            f->off[i] = mean;
            f->scl[i] = 1 / sd;
            for (uint32_t j = 0; j < L->out; j++) {
                L->b[j] += L->w[(size_t)j * L->in + i] * mean;
                L->w[(size_t)j * L->in + i] *= sd;
            }
        }
        f->has_norm = true;
    } else if (f->n_layers && ns) {
        /* The graph's own normaliser (a Scaler that only centres, say) may
         * leave values far outside what int16 holds with a few fraction
         * bits, or squeeze them into a sliver: such a feature is
         * standardised on the samples after it, folded the same way. */
        struct fl_layer *L = &f->layers[0];
        for (uint32_t i = 0; i < f->n_in; i++) {
            double mean, sd, zm;
            sample_stats(o, f->n_in, i, f->off[i], f->scl[i], &mean, &sd, &zm);
            if (zm <= FL_NORM_ABS_MAX && (sd >= 1 / FL_NORM_ABS_MAX || zm == 0))
                continue;
            if (!(sd > 1e-12))
                sd = 1;
            /* z' = (z - mean) / sd: offset and scale of x move with it */
            f->off[i] += mean / f->scl[i];
            f->scl[i] /= sd;
            for (uint32_t j = 0; j < L->out; j++) {
                L->b[j] += L->w[(size_t)j * L->in + i] * mean;
                L->w[(size_t)j * L->in + i] *= sd;
            }
        }
    }
    /* A normalisation scale past what int16 holds (a feature spread over
     * 1e-5, say) is capped, the rest of it folded into the first layer's
     * weights for that feature (exact in reals). */
    for (uint32_t i = 0; f->n_layers && f->has_norm && i < f->n_in; i++) {
        if (!(fabs(f->scl[i]) > FL_NORM_SCALE_MAX))
            continue;
        double capped = f->scl[i] > 0 ? FL_NORM_SCALE_MAX : -FL_NORM_SCALE_MAX;
        struct fl_layer *L = &f->layers[0];
        for (uint32_t j = 0; j < L->out; j++)
            L->w[(size_t)j * L->in + i] *= f->scl[i] / capped;
        f->scl[i] = capped;
    }
    for (size_t s = 0; s < ns; s++) {
        fl_eval(f, o->samples + s * f->n_in, tmp, zmax, sc);
        for (uint32_t k = 0; k < K; k++)
            smax = fabs(sc[k]) > smax ? fabs(sc[k]) : smax;
    }
    for (uint32_t i = 0; i < f->n_in; i++) {
        Witan__Model__Feature *ft = malloc(sizeof *ft);
        if (!ft)
            FAIL(WITAN_ENOMEM, "out of memory");
        witan__model__feature__init(ft);
        pb->inputs[i] = ft;
        char nm[WITAN_MODEL_NAME_SIZE_MAX + 1];
        if (o->feature_names && o->feature_names[i] && o->feature_names[i][0])
            snprintf(nm, sizeof nm, "%s", o->feature_names[i]);
        else
            snprintf(nm, sizeof nm, "x%u", i);
        if (!(ft->name = dupstr(nm)))
            FAIL(WITAN_ENOMEM, "out of memory");
        ft->scale = 1;
        if (pb->per_feature_frac)
            ft->frac_bits = ffrac[i];
    }
    if (ns)
        calibrate(f, o, pb);
    if (f->n_trees) {
        /* Leaves: the largest possible sum sets the output frac bits. */
        double bound = 0;
        for (uint32_t k = 0; k < K; k++)
            bound = fabs(f->base[k]) > bound ? fabs(f->base[k]) : bound;
        for (uint32_t t = 0; t < f->n_trees; t++) {
            double m = 0;
            for (size_t i = 0; i < (size_t)f->trees[t].n * K; i++)
                m = fabs(f->trees[t].leaf[i]) > m ? fabs(f->trees[t].leaf[i]) : m;
            bound += m;
        }
        uint32_t fo = frac_for(bound, 1073741823.0, 24);
        pb->output_frac_bits = fo;
        pb->n_base_values = K;
        pb->base_values = calloc(K, sizeof *pb->base_values);
        pb->n_trees = f->n_trees;
        pb->trees = calloc(f->n_trees, sizeof *pb->trees);
        if (!pb->base_values || !pb->trees)
            FAIL(WITAN_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < K; k++)
            pb->base_values[k] = q_round(ldexp(f->base[k], (int)fo));
        for (uint32_t t = 0; t < f->n_trees; t++) {
            const struct fl_tree *ft = &f->trees[t];
            Witan__Model__Tree *tr = malloc(sizeof *tr);
            if (!tr)
                FAIL(WITAN_ENOMEM, "out of memory");
            witan__model__tree__init(tr);
            pb->trees[t] = tr;
            uint32_t n = ft->n, leaves = 0;
            for (uint32_t i = 0; i < n; i++)
                leaves += !(ft->left[i] || ft->right[i]);
            tr->n_feature = tr->n_threshold = tr->n_left = tr->n_right = n;
            tr->feature = calloc(n, sizeof *tr->feature);
            tr->threshold = calloc(n, sizeof *tr->threshold);
            tr->left = calloc(n, sizeof *tr->left);
            tr->right = calloc(n, sizeof *tr->right);
            tr->n_leaf_values = (size_t)leaves * K;
            tr->leaf_values = calloc(tr->n_leaf_values + 1, sizeof *tr->leaf_values);
            if (!tr->feature || !tr->threshold || !tr->left || !tr->right ||
                !tr->leaf_values)
                FAIL(WITAN_ENOMEM, "out of memory");
            size_t lv = 0;
            for (uint32_t i = 0; i < n; i++) {
                if (!(ft->left[i] || ft->right[i])) {
                    for (uint32_t k = 0; k < K; k++) {
                        int64_t q = q_round(ldexp(ft->leaf[(size_t)i * K + k], (int)fo));
                        tr->leaf_values[lv++] = (int32_t)(q > INT32_MAX ? INT32_MAX : q < -INT32_MAX ? -INT32_MAX : q);
                    }
                    continue;
                }
                /* ONNX compares float32(x) with the float32 threshold t;
                 * order keys compare as the floats do and neighbouring
                 * floats have neighbouring keys, so x <= t is key <= key(t)
                 * and x < t is key <= key(t) - 1 (spec/models.md). */
                int64_t key = infer_float32_key((float)ft->thr[i]);
                tr->threshold[i] = ft->lt[i] ? key - 1 : key;
                tr->feature[i] = ft->feature[i];
                tr->left[i] = ft->left[i];
                tr->right[i] = ft->right[i];
            }
        }
        if (bad)
            FAIL(WITAN_EONNX, "a parameter is not finite or too large to quantise");
        return 0;
    }
    /* Dense: frac bits from the ranges seen (defaults without samples). */
    uint32_t in_frac = ns ? frac_for(zmax[WITAN_MODEL_LAYER_COUNT_MAX] * 1.25, 32767, 14) : 11;
    pb->first_frac_bits = in_frac;
    for (uint32_t i = 0; i < f->n_in; i++) {
        Witan__Model__Feature *ft = pb->inputs[i];
        double s = f->scl[i];
        if (fabs(s) > 32767)
            FAIL(WITAN_EONNX, "input %u: normalisation scale %g over 32767", i, s);
        uint32_t sf = frac_for(fabs(s), 32767, 62 - ffrac[i] + in_frac);
        ft->scale = (int32_t)q_round(ldexp(s, (int)sf));
        ft->scale_frac_bits = sf;
        double off = ldexp(f->off[i], (int)ffrac[i]);
        if (fabs(off) > (double)WITAN_MODEL_INPUT_ABS_MAX)
            FAIL(WITAN_EONNX, "input %u: normalisation offset too large", i);
        ft->offset = q_round(off);
    }
    /* The coarsest part: each input's raw step against its spread on the
     * samples, then (below) each layer's weights and activations. */
    for (uint32_t i = 0; ns && i < f->n_in; i++) {
        double mean, spread, zm, step = ldexp(1.0, -(int)ffrac[i]);
        sample_stats(o, f->n_in, i, 0, 1, &mean, &spread, &zm);
        if (spread > 0)
            note_coarse(f, step / spread, "input '%s' (Q.%u): steps of %.3g over a "
                        "spread of %.3g", pb->inputs[i]->name, ffrac[i], step, spread);
        double zs = spread * fabs(f->scl[i]), zstep = ldexp(1.0, -(int)in_frac);
        if (zs > 0)
            note_coarse(f, zstep / zs, "input '%s' normalised (Q.%u): steps of "
                        "%.3g over a spread of %.3g", pb->inputs[i]->name, in_frac,
                        zstep, zs);
    }
    uint32_t fo = 16;
    pb->n_layers = f->n_layers;
    pb->layers = calloc(f->n_layers, sizeof *pb->layers);
    if (!pb->layers)
        FAIL(WITAN_ENOMEM, "out of memory");
    for (uint32_t l = 0; l < f->n_layers; l++) {
        const struct fl_layer *L = &f->layers[l];
        bool last = l + 1 == f->n_layers;
        double wmax = 0;
        for (size_t i = 0; i < (size_t)L->in * L->out; i++)
            wmax = fabs(L->w[i]) > wmax ? fabs(L->w[i]) : wmax;
        if (wmax > 32767)
            FAIL(WITAN_EONNX, "layer %u: weight %g over 32767", l, wmax);
        uint32_t wf = frac_for(wmax, 32767, WITAN_MODEL_FRAC_BITS_MAX);
        /* Speed for at most 3 bits of weight precision: scale so that any
         * 16 consecutive weights of a row sum (in |w|) to at most 65537,
         * which lets the scorer add 8 input pairs in int32 before widening
         * (inference/internal.h, spec/models.md). */
        double l1 = 0;
        for (uint32_t j = 0; j < L->out; j++)
            for (uint32_t c = 0; c < L->in; c += 16) {
                double sum = 0;
                for (uint32_t i = c; i < c + 16 && i < L->in; i++)
                    sum += fabs(L->w[(size_t)j * L->in + i]);
                l1 = sum > l1 ? sum : l1;
            }
        uint32_t wf16 = frac_for(l1, 65536, WITAN_MODEL_FRAC_BITS_MAX);
        if (wf16 < wf && wf - wf16 <= 3)
            wf = wf16;
        uint32_t of;
        if (last)
            of = ns ? frac_for(smax * 1.25, 1073741823.0, 24) : 16;
        else if (L->act == INFER_ACT_SIGMOID || L->act == INFER_ACT_TANH)
            of = 12;
        else
            of = ns ? frac_for(zmax[l] * 1.25, 32767, 14) : 10;
        if (of > in_frac + wf)
            of = in_frac + wf;
        if (ns && wmax > 0)
            note_coarse(f, ldexp(1.0, -(int)wf) / wmax, "layer %u weights (Q.%u): "
                        "steps of %.3g, largest %.3g", l, wf, ldexp(1.0, -(int)wf),
                        wmax);
        double zl = last ? smax : zmax[l];
        if (ns && zl > 0)
            note_coarse(f, ldexp(1.0, -(int)of) / zl, "layer %u outputs (Q.%u): "
                        "steps of %.3g, largest %.3g", l, of, ldexp(1.0, -(int)of),
                        zl);
        if (last)
            fo = of;
        Witan__Model__DenseLayer *d = malloc(sizeof *d);
        if (!d)
            FAIL(WITAN_ENOMEM, "out of memory");
        witan__model__dense_layer__init(d);
        pb->layers[l] = d;
        d->inputs = L->in;
        d->outputs = L->out;
        d->weight_frac_bits = wf;
        d->out_frac_bits = of;
        d->activation = (Witan__Model__Activation)L->act;
        d->n_weights = (size_t)L->in * L->out;
        d->weights = malloc((d->n_weights + 1) * sizeof *d->weights);
        d->n_bias = L->out;
        d->bias = malloc(L->out * sizeof *d->bias);
        if (!d->weights || !d->bias)
            FAIL(WITAN_ENOMEM, "out of memory");
        for (size_t i = 0; i < d->n_weights; i++)
            d->weights[i] = (int32_t)q_round(ldexp(L->w[i], (int)wf));
        for (uint32_t j = 0; j < L->out; j++) {
            double b = ldexp(L->b[j], (int)(in_frac + wf));
            if (fabs(b) > (double)WITAN_MODEL_BIAS_ABS_MAX)
                FAIL(WITAN_EONNX, "layer %u: bias %u too large to represent", l, j);
            d->bias[j] = q_round(b);
        }
        in_frac = of;
    }
    pb->output_frac_bits = fo;
    if (bad)
        FAIL(WITAN_EONNX, "a parameter is not finite or too large to quantise");
    return 0;
}

/* --------------------------------------------------------------- public -- */

int infer_onnx_eval_float(const uint8_t *onnx, size_t onnx_size,
                          const double *samples, size_t sample_count,
                          size_t feature_count, double *outputs,
                          size_t output_cap, size_t *output_count, char *why,
                          size_t why_size)
{
    struct fl_model f;
    int err = convert(onnx, onnx_size, &f, why, why_size);
    if (err)
        return err;
    uint32_t nout = fl_out_count(&f);
    *output_count = nout;
    if (feature_count != f.n_in) {
        uint32_t n_in = f.n_in; /* fl_free clears f */
        fl_free(&f);
        FAIL(WITAN_EINVAL, "samples have %zu features, the graph %u",
             feature_count, n_in);
    }
    if (output_cap < sample_count * nout) {
        fl_free(&f);
        FAIL(WITAN_EINVAL, "output buffer too small");
    }
    for (size_t s = 0; s < sample_count; s++)
        fl_eval(&f, samples + s * feature_count, outputs + s * nout, NULL, NULL);
    fl_free(&f);
    return 0;
}

int infer_onnx_import(const uint8_t *onnx, size_t onnx_size,
                      const struct infer_import_options *o,
                      uint8_t **model_out, size_t *model_size,
                      struct infer_import_report *rep, char *why,
                      size_t why_size)
{
    WITAN_ASSERT(o && model_out && model_size && rep);
    *model_out = NULL;
    *model_size = 0;
    memset(rep, 0, sizeof *rep);
    struct fl_model f;
    int err = convert(onnx, onnx_size, &f, why, why_size);
    if (err)
        return err;
    rep->node_count = f.node_count;
    if (o->samples && o->feature_count != f.n_in) {
        uint32_t n_in = f.n_in; /* fl_free clears f */
        fl_free(&f);
        FAIL(WITAN_EINVAL, "samples have %zu features, the graph takes %u",
             o->feature_count, n_in);
    }
    Witan__Model__Model pb;
    witan__model__model__init(&pb);
    err = quantise(&f, o, &pb, why, why_size);
    snprintf(rep->coarsest, sizeof rep->coarsest, "%s", f.coarsest);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!err) {
        len = witan__model__model__get_packed_size(&pb);
        buf = malloc(len ? len : 1);
        if (!buf)
            err = infer_why(why, why_size, WITAN_ENOMEM, "out of memory");
        else
            witan__model__model__pack(&pb, buf);
    }
    pb_release(&pb);
    infer_model *m = NULL;
    if (!err) {
        char inner[200] = "";
        err = infer_model_load(buf, len, &m, inner, sizeof inner);
        if (err)
            err = infer_why(why, why_size, err, "the quantised model is refused: %s", inner);
    }
    /* The report: integer scores against the float model. */
    uint32_t nout = fl_out_count(&f);
    int64_t xin[WITAN_MODEL_INPUT_COUNT_MAX];
    double lo[WITAN_MODEL_OUTPUT_COUNT_MAX], hi[WITAN_MODEL_OUTPUT_COUNT_MAX];
    int32_t q[WITAN_MODEL_OUTPUT_COUNT_MAX];
    double fo[WITAN_MODEL_OUTPUT_COUNT_MAX];
    struct infer_info info;
    bool bad = false;
    if (!err)
        infer_model_info(m, &info);
    for (size_t s = 0; !err && o->samples && s < o->sample_count; s++) {
        const double *x = o->samples + s * f.n_in;
        for (uint32_t i = 0; !err && i < f.n_in; i++) {
            if (info.input_encoding == INFER_IN_FLOAT32_ORDER) {
                xin[i] = infer_float32_key((float)x[i]);
                continue;
            }
            double v = ldexp(x[i], (int)infer_input_frac_bits(m, i));
            if (!(fabs(v) <= (double)WITAN_MODEL_INPUT_ABS_MAX))
                err = infer_why(why, why_size, WITAN_ERANGE,
                                "sample %zu: input %u out of range", s, i);
            xin[i] = q_round(v);
        }
        struct infer_result r;
        if (!err)
            err = infer_score(m, xin, f.n_in, q, nout, &r);
        if (err)
            break;
        fl_eval(&f, x, fo, NULL, NULL);
        for (uint32_t k = 0; k < nout; k++) {
            if (rep->sample_count == 0 || fo[k] < lo[k])
                lo[k] = fo[k];
            if (rep->sample_count == 0 || fo[k] > hi[k])
                hi[k] = fo[k];
            double qv = ldexp((double)q[k], -(int)info.output_frac_bits);
            double ae = fabs(qv - fo[k]);
            double re = ae / (fabs(fo[k]) > 1e-3 ? fabs(fo[k]) : 1e-3);
            if (ae > rep->max_abs_error) {
                rep->max_abs_error = ae;
                rep->worst_sample = s;
                rep->worst_output = k;
            }
            if (re > rep->max_rel_error)
                rep->max_rel_error = re;
        }
        rep->sample_count++;
    }
    infer_model_free(m);
    fl_free(&f);
    /* The bound: the caller's, or by default a share of the widest output
     * range the samples reach (a bound only samples can measure). */
    for (uint32_t k = 0; k < nout && rep->sample_count; k++)
        rep->output_range = hi[k] - lo[k] > rep->output_range
                                ? hi[k] - lo[k]
                                : rep->output_range;
    rep->bound = o->max_abs_error;
    rep->bound_is_default = o->max_abs_error < 0;
    if (rep->bound_is_default)
        rep->bound = rep->sample_count
                         ? INFER_IMPORT_ERROR_SHARE * rep->output_range
                         : INFINITY;
    if (!err && rep->max_abs_error > rep->bound) {
        rep->over_bound = true;
        if (!o->force)
            err = infer_why(why, why_size, WITAN_EQUANT,
                            "largest absolute error %.6g over the bound %.6g%s "
                            "(sample %zu, output %zu)",
                            rep->max_abs_error, rep->bound,
                            rep->bound_is_default
                                ? " (1% of the outputs' range on the samples)"
                                : "",
                            rep->worst_sample, rep->worst_output);
    if (err == WITAN_EQUANT && rep->coarsest[0])
        infer_why(why + strlen(why), why_size - strlen(why), err,
                  "; coarsest: %s", rep->coarsest);
    }
    if (err) {
        free(buf);
        return err;
    }
    *model_out = buf;
    *model_size = len;
    return 0;
}

/* ---------------------------------------------------------------- CSV -- */

/* A plain decimal: [+-]digits[.digits][(e|E)[+-]digits], nothing else (no
 * spaces, hex, nan or inf), so that a samples file reads the numbers that
 * `witan model score --input` would. */
static bool decimal_cell(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t digits = 0;
    while (*s >= '0' && *s <= '9') {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

int infer_csv_parse(const char *text, size_t len, double **values,
                    size_t *rows, size_t *cols, char ***names, char *why,
                    size_t why_size)
{
    *values = NULL;
    *rows = *cols = 0;
    if (names)
        *names = NULL;
    struct witan_csv *csv = malloc(sizeof *csv);
    if (!csv)
        return infer_why(why, why_size, WITAN_ENOMEM, "out of memory");
    witan_csv_init(csv, text, len);
    size_t cap = 0, n = 0, r = 0, c0 = 0, records = 0;
    double *v = NULL;
    char **hdr = NULL;
    size_t nh = 0;
    int err = 0, got;
    while (!err && (got = witan_csv_next(csv, why, why_size)) != 0) {
        if (got < 0) {
            err = got;
            break;
        }
        size_t c = csv->count;
        bool header = false;
        for (size_t k = 0; k < c && !err; k++) {
            const char *cell = csv->fields[k];
            char *endp;
            double d = strtod(cell, &endp);
            bool num = csv->sizes[k] > 0 && *endp == 0 && isfinite(d) &&
                       decimal_cell(cell);
            /* Names only on the first record, and all of it. */
            if (records == 0 && !num && (k == 0 || header)) {
                header = true;
                char **h2 = realloc(hdr, (nh + 1) * sizeof *h2);
                if (!h2 || !(h2[nh] = dupstr(cell))) {
                    hdr = h2 ? h2 : hdr;
                    err = infer_why(why, why_size, WITAN_ENOMEM, "out of memory");
                    break;
                }
                hdr = h2;
                nh++;
            } else if (!num) {
                err = infer_why(why, why_size, WITAN_EDECODE,
                                "line %zu, column %zu: '%s' is not a plain "
                                "decimal number",
                                csv->line, k + 1, cell);
            } else {
                if (n == cap) {
                    cap = cap ? 2 * cap : 1024;
                    double *v2 = realloc(v, cap * sizeof *v2);
                    if (!v2) {
                        err = infer_why(why, why_size, WITAN_ENOMEM,
                                        "out of memory");
                        break;
                    }
                    v = v2;
                }
                v[n++] = d;
            }
        }
        if (!err && header && nh != c)
            err = infer_why(why, why_size, WITAN_EDECODE,
                            "line %zu mixes names and numbers: a header "
                            "names every column (or there is none), and "
                            "values are plain decimals",
                            csv->line);
        if (!err && !header) {
            if (r == 0)
                c0 = c;
            else if (c != c0)
                err = infer_why(why, why_size, WITAN_EDECODE,
                                "line %zu has %zu values, expected %zu",
                                csv->line, c, c0);
            r++;
        }
        records++;
    }
    free(csv);
    if (!err && nh && r && nh != c0)
        err = infer_why(why, why_size, WITAN_EDECODE,
                        "header names %zu columns, rows have %zu", nh, c0);
    if (!err && r == 0)
        err = infer_why(why, why_size, WITAN_EDECODE, "no rows of numbers");
    if (err) {
        free(v);
        for (size_t k = 0; k < nh; k++)
            free(hdr[k]);
        free(hdr);
        return err;
    }
    *values = v;
    *rows = r;
    *cols = c0;
    if (names)
        *names = hdr;
    else {
        for (size_t k = 0; k < nh; k++)
            free(hdr[k]);
        free(hdr);
    }
    return 0;
}
