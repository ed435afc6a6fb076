/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model loading: decode the protobuf, check every rule of spec/models.md
 * (shapes, indices, tree structure, depth, frac bits, magnitudes, limits)
 * and lay the model out for scoring. Everything that could make scoring
 * overflow or read out of bounds is refused here, so score.c only asserts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "inference/internal.h"

int infer_why(char *why, size_t why_size, int err, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return err;
}

#define FAIL(err, ...) return infer_why(why, why_size, err, __VA_ARGS__)

static const char *const kind_names[] = {
    "unspecified",        "linear-regression", "logistic-binary",
    "logistic-multinomial", "mlp",             "gb-regression",
    "gb-classification",  "rf-regression",     "rf-classification",
};

const char *infer_kind_name(enum infer_kind kind)
{
    if ((unsigned)kind < WITAN_ARRAY_COUNT(kind_names))
        return kind_names[kind];
    return "unknown";
}

const char *infer_activation_name(enum infer_activation act)
{
    switch (act) {
    case INFER_ACT_IDENTITY: return "identity";
    case INFER_ACT_RELU: return "relu";
    case INFER_ACT_SIGMOID: return "sigmoid";
    case INFER_ACT_TANH: return "tanh";
    }
    return "unknown";
}

static bool is_tree_kind(enum infer_kind k)
{
    return k >= INFER_GB_REGRESSION && k <= INFER_RF_CLASSIFICATION;
}

static bool is_classifier(enum infer_kind k)
{
    return k == INFER_LOGISTIC_BINARY || k == INFER_LOGISTIC_MULTINOMIAL ||
           k == INFER_GB_CLASSIFICATION || k == INFER_RF_CLASSIFICATION;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

void infer_model_free(infer_model *m)
{
    if (!m)
        return;
    if (m->pb)
        witan__model__model__free_unpacked(m->pb, NULL);
    for (uint32_t i = 0; m->layers && i < m->n_layers; i++) {
        free(m->layers[i].wp);
        free(m->layers[i].rows);
        free(m->layers[i].bias);
        free(m->layers[i].bias_q);
    }
    free(m->layers);
    free(m->offset);
    free(m->cal_min);
    free(m->in_frac);
    free(m->cal_max);
    free(m->scale);
    free(m->norm_shift);
    free(m->norm_lanes);
    free(m->tree_root);
    free(m->tree_depth);
    free(m->nodes);
    free(m->leaf_values);
    free(m->leaf_steps);
    free(m->base);
    free(m);
}

static int check_name(const char *s, const char *what, size_t i, char *why,
                      size_t why_size)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        FAIL(WITAN_EMODEL, "%s %zu: empty name", what, i);
    if (n > WITAN_MODEL_NAME_SIZE_MAX)
        FAIL(WITAN_ELIMIT, "%s %zu: name of %zu bytes, limit %d", what, i, n,
             WITAN_MODEL_NAME_SIZE_MAX);
    return 0;
}

static int load_inputs(infer_model *m, const Witan__Model__Model *pb,
                       char *why, size_t why_size)
{
    m->offset = calloc(m->n_in, sizeof *m->offset);
    m->cal_min = calloc(m->n_in, sizeof *m->cal_min);
    m->in_frac = calloc(m->n_in, sizeof *m->in_frac);
    m->cal_max = calloc(m->n_in, sizeof *m->cal_max);
    m->scale = calloc(m->n_in, sizeof *m->scale);
    m->norm_shift = calloc(m->n_in, sizeof *m->norm_shift);
    size_t n4 = (m->n_in + 3) / 4 * 4;
    m->norm_lanes = calloc(5 * n4, sizeof *m->norm_lanes);
    if (!m->offset || !m->cal_min || !m->cal_max || !m->in_frac || !m->scale ||
        !m->norm_shift || !m->norm_lanes)
        FAIL(WITAN_ENOMEM, "out of memory");
    for (size_t i = m->n_in; i < n4; i++) /* padding lanes: shift 0 */
        m->norm_lanes[4 * n4 + i] = INT64_MIN;
    for (uint32_t i = 0; i < m->n_in; i++) {
        const Witan__Model__Feature *f = pb->inputs[i];
        int err = check_name(f->name, "input", i, why, why_size);
        if (err)
            return err;
        if (abs64(f->offset) > WITAN_MODEL_INPUT_ABS_MAX)
            FAIL(WITAN_EMODEL, "input %zu (%s): |offset| over 2^46",
                 (size_t)i, f->name);
        if (f->scale > INFER_I16_MAX || f->scale < -INFER_I16_MAX)
            FAIL(WITAN_EMODEL, "input %zu (%s): |scale| %d over 32767",
                 (size_t)i, f->name, f->scale);
        if (is_tree_kind(m->kind) &&
            (f->offset != 0 || f->scale != 1 || f->scale_frac_bits != 0))
            FAIL(WITAN_EMODEL,
                 "input %zu (%s): tree models take raw inputs (offset 0, "
                 "scale 1, scale_frac_bits 0)",
                 (size_t)i, f->name);
        if (pb->per_feature_frac ? f->frac_bits > WITAN_MODEL_FRAC_BITS_MAX
                                 : f->frac_bits != 0)
            FAIL(WITAN_EMODEL,
                 "input %zu (%s): frac_bits %u (0..%d, and only with "
                 "per_feature_frac)",
                 (size_t)i, f->name, f->frac_bits, WITAN_MODEL_FRAC_BITS_MAX);
        m->in_frac[i] = pb->per_feature_frac ? f->frac_bits : m->input_frac;
        int64_t shift = (int64_t)m->in_frac[i] + f->scale_frac_bits -
                        (int64_t)m->first_frac;
        if (!is_tree_kind(m->kind) && (shift < 0 || shift > 62))
            FAIL(WITAN_EMODEL,
                 "input %zu (%s): input_frac_bits + scale_frac_bits - "
                 "first_frac_bits = %lld, must be 0..62",
                 (size_t)i, f->name, (long long)shift);
        if (m->calibrated &&
            (f->calibrated_min > f->calibrated_max ||
             abs64(f->calibrated_min) > WITAN_MODEL_INPUT_ABS_MAX ||
             abs64(f->calibrated_max) > WITAN_MODEL_INPUT_ABS_MAX))
            FAIL(WITAN_EMODEL,
                 "input %zu (%s): calibrated range [%lld, %lld] is empty or "
                 "over 2^46",
                 (size_t)i, f->name, (long long)f->calibrated_min,
                 (long long)f->calibrated_max);
        if (!m->calibrated && (f->calibrated_min || f->calibrated_max))
            FAIL(WITAN_EMODEL,
                 "input %zu (%s): a calibrated range in an uncalibrated model",
                 (size_t)i, f->name);
        m->cal_min[i] = f->calibrated_min;
        m->cal_max[i] = f->calibrated_max;
        m->offset[i] = f->offset;
        m->scale[i] = f->scale;
        m->norm_shift[i] = shift < 0 ? 0 : (uint32_t)shift;
        uint32_t sh = m->norm_shift[i];
        m->norm_lanes[i] = f->offset;
        m->norm_lanes[n4 + i] = f->scale;
        m->norm_lanes[2 * n4 + i] = sh;
        m->norm_lanes[3 * n4 + i] = sh ? (int64_t)1 << (sh - 1) : 0;
        m->norm_lanes[4 * n4 + i] = (int64_t)((uint64_t)1 << (63 - sh));
    }
    return 0;
}

/* Sets bias_q and bias_r when the int32 rescale of spec/models.md section 6
 * is exact for hidden layer L: n chunk sums c_i (|c_i| < 2^31) and b =
 * bias + 2^(s-1) = bq 2^s + br give floor((sum c_i + b) / 2^s) = sum (c_i >>
 * s) + bq + ((sum (c_i mod 2^s) + br) >> s), each term within int32 when
 * (n + 1) 2^s < 2^31 and |bq| is clamped to k = 32768 + n 2^(31-s) + n + 1,
 * past which the output is at its clamp either way. Returns 0 or
 * WITAN_ENOMEM. */
static int split_bias(struct infer_layer *L)
{
    const int64_t n = (L->in_pad / 2 + L->chunk - 1) / L->chunk, s = L->shift;
    if (s < 1 || s > 30 || ((n + 1) << s) > INT32_MAX)
        return 0;
    const int64_t qmax = n << (31 - s), k = 32768 + qmax + n + 1;
    if (k + qmax + n + 1 > INT32_MAX)
        return 0;
    L->bias_q = malloc(2 * (size_t)L->out_pad * sizeof *L->bias_q);
    if (!L->bias_q)
        return WITAN_ENOMEM;
    L->bias_r = L->bias_q + L->out_pad;
    for (uint32_t j = 0; j < L->out_pad; j++) {
        const int64_t b = L->bias[j] + ((int64_t)1 << (s - 1)), q = b >> s;
        L->bias_q[j] = (int32_t)(q < -k ? -k : q > k ? k : q);
        L->bias_r[j] = (int32_t)(b - q * ((int64_t)1 << s));
        WITAN_ASSERT(L->bias_r[j] >= 0 && L->bias_r[j] < ((int64_t)1 << s));
    }
    return 0;
}

static int load_layers(infer_model *m, const Witan__Model__Model *pb,
                       char *why, size_t why_size)
{
    m->n_layers = (uint32_t)pb->n_layers;
    m->layers = calloc(m->n_layers, sizeof *m->layers);
    if (!m->layers)
        FAIL(WITAN_ENOMEM, "out of memory");
    uint32_t in = m->n_in, in_frac = m->first_frac;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const Witan__Model__DenseLayer *d = pb->layers[l];
        struct infer_layer *L = &m->layers[l];
        bool last = l + 1 == m->n_layers;
        if (d->inputs != in)
            FAIL(WITAN_EMODEL, "layer %u: %u inputs, expected %u", l,
                 d->inputs, in);
        if (d->outputs == 0 || d->outputs > WITAN_MODEL_WIDTH_MAX)
            FAIL(d->outputs ? WITAN_ELIMIT : WITAN_EMODEL,
                 "layer %u: %u outputs, must be 1..%d", l, d->outputs,
                 WITAN_MODEL_WIDTH_MAX);
        if (d->n_weights != (size_t)d->inputs * d->outputs)
            FAIL(WITAN_EMODEL, "layer %u: %zu weights, expected %ux%u", l,
                 d->n_weights, d->outputs, d->inputs);
        if (d->n_bias != d->outputs)
            FAIL(WITAN_EMODEL, "layer %u: %zu biases, expected %u", l,
                 d->n_bias, d->outputs);
        if (d->weight_frac_bits > WITAN_MODEL_FRAC_BITS_MAX)
            FAIL(WITAN_EMODEL, "layer %u: weight_frac_bits %u over %d", l,
                 d->weight_frac_bits, WITAN_MODEL_FRAC_BITS_MAX);
        if ((unsigned)d->activation > INFER_ACT_TANH)
            FAIL(WITAN_EMODEL, "layer %u: unknown activation %d", l,
                 (int)d->activation);
        if (last && d->activation != WITAN__MODEL__ACTIVATION__ACTIVATION_IDENTITY)
            FAIL(WITAN_EMODEL,
                 "layer %u: the last layer's activation must be identity "
                 "(the output transform follows it)", l);
        if (last && d->out_frac_bits != m->output_frac)
            FAIL(WITAN_EMODEL,
                 "layer %u: out_frac_bits %u differs from output_frac_bits %u",
                 l, d->out_frac_bits, m->output_frac);
        if (!last && d->out_frac_bits > WITAN_MODEL_ACT_FRAC_BITS_MAX)
            FAIL(WITAN_EMODEL, "layer %u: hidden out_frac_bits %u over %d", l,
                 d->out_frac_bits, WITAN_MODEL_ACT_FRAC_BITS_MAX);
        if (d->out_frac_bits > in_frac + d->weight_frac_bits)
            FAIL(WITAN_EMODEL,
                 "layer %u: out_frac_bits %u over input frac %u + "
                 "weight_frac_bits %u",
                 l, d->out_frac_bits, in_frac, d->weight_frac_bits);
        L->in = d->inputs;
        L->out = d->outputs;
        L->in_pad = (d->inputs + INFER_PAD - 1) / INFER_PAD * INFER_PAD;
        L->out_pad = (d->outputs + INFER_OUT_BLOCK - 1) / INFER_OUT_BLOCK *
                     INFER_OUT_BLOCK;
        L->in_frac = in_frac;
        L->w_frac = d->weight_frac_bits;
        L->out_frac = d->out_frac_bits;
        L->shift = in_frac + d->weight_frac_bits - d->out_frac_bits;
        L->act = (enum infer_activation)d->activation;
        L->wp = calloc((size_t)L->out_pad * L->in_pad, sizeof *L->wp);
        L->bias = calloc(L->out_pad, sizeof *L->bias);
        if (L->out < INFER_ROW_MAX)
            L->rows = calloc((size_t)L->out * L->in_pad, sizeof *L->rows);
        if (!L->wp || !L->bias || (L->out < INFER_ROW_MAX && !L->rows))
            FAIL(WITAN_ENOMEM, "out of memory");
        for (uint32_t j = 0; j < L->out; j++) {
            if (abs64(d->bias[j]) > WITAN_MODEL_BIAS_ABS_MAX)
                FAIL(WITAN_EMODEL, "layer %u: |bias %u| over 2^46", l, j);
            L->bias[j] = d->bias[j];
            for (uint32_t i = 0; i < L->in; i++) {
                int32_t w = d->weights[(size_t)j * L->in + i];
                if (w > INFER_I16_MAX || w < -INFER_I16_MAX)
                    FAIL(WITAN_EMODEL,
                         "layer %u: weight [%u][%u] = %d, |w| must be <= 32767",
                         l, j, i, w);
                L->wp[((size_t)(i / 2) * L->out_pad + j) * 2 + i % 2] = (int16_t)w;
                if (L->rows)
                    L->rows[(size_t)j * L->in_pad + i] = (int16_t)w;
            }
        }
        /* The longest power-of-two chunk of input pairs whose sum of |w|
         * stays within 65537 for every row and every aligned chunk. */
        uint32_t pairs = L->in_pad / 2;
        L->chunk = 1;
        for (uint32_t k = 2; k <= pairs; k *= 2) {
            bool ok = true;
            for (uint32_t j = 0; ok && j < L->out; j++)
                for (uint32_t c = 0; ok && c < pairs; c += k) {
                    int64_t sum = 0;
                    for (uint32_t p = c; p < c + k && p < pairs; p++)
                        for (uint32_t h = 0; h < 2; h++) {
                            int16_t w = L->wp[((size_t)p * L->out_pad + j) * 2 + h];
                            sum += w < 0 ? -w : w;
                        }
                    ok = sum <= 65537;
                }
            if (!ok)
                break;
            L->chunk = k;
        }
        if (!last && split_bias(L))
            FAIL(WITAN_ENOMEM, "out of memory");
        m->param_count += d->n_weights + d->n_bias;
        in = d->outputs;
        in_frac = d->out_frac_bits;
    }
    m->n_score = in;
    return 0;
}

/* Checks one tree and appends it, laid out breadth first, at m->n_nodes. */
static int load_tree(infer_model *m, uint32_t t, const Witan__Model__Tree *tr,
                     uint32_t *queue, uint8_t *depth, char *why,
                     size_t why_size)
{
    size_t n = tr->n_feature;
    if (n == 0)
        FAIL(WITAN_EMODEL, "tree %u: no nodes", t);
    if (n > WITAN_MODEL_TREE_NODE_COUNT_MAX)
        FAIL(WITAN_ELIMIT, "tree %u: %zu nodes, limit %d", t, n,
             WITAN_MODEL_TREE_NODE_COUNT_MAX);
    if (tr->n_threshold != n || tr->n_left != n || tr->n_right != n)
        FAIL(WITAN_EMODEL,
             "tree %u: feature, threshold, left, right have %zu, %zu, %zu, "
             "%zu entries",
             t, n, tr->n_threshold, tr->n_left, tr->n_right);
    if ((size_t)m->n_nodes + n > WITAN_MODEL_NODE_COUNT_MAX)
        FAIL(WITAN_ELIMIT, "tree %u: over %d nodes in all trees", t,
             WITAN_MODEL_NODE_COUNT_MAX);
    /* depth[] doubles as the parent count check: 0xff = not yet reached. */
    memset(depth, 0xff, n);
    depth[0] = 0;
    size_t leaves = 0;
    uint32_t tdepth = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = tr->left[i], r = tr->right[i];
        if (depth[i] == 0xff)
            FAIL(WITAN_EMODEL, "tree %u: node %zu has no parent", t, i);
        if (l == 0 && r == 0) {
            if (tr->feature[i] != 0 || tr->threshold[i] != 0)
                FAIL(WITAN_EMODEL,
                     "tree %u: leaf %zu must have feature 0 and threshold 0",
                     t, i);
            leaves++;
            continue;
        }
        if (l <= i || l >= n || r <= i || r >= n || l == r)
            FAIL(WITAN_EMODEL,
                 "tree %u: node %zu has children %u and %u; they must be "
                 "distinct, after it and below %zu",
                 t, i, l, r, n);
        if (depth[l] != 0xff || depth[r] != 0xff)
            FAIL(WITAN_EMODEL, "tree %u: node %u has two parents", t,
                 depth[l] != 0xff ? l : r);
        if (depth[i] + 1u > WITAN_MODEL_TREE_DEPTH_MAX)
            FAIL(WITAN_ELIMIT, "tree %u: deeper than %d", t,
                 WITAN_MODEL_TREE_DEPTH_MAX);
        depth[l] = depth[r] = (uint8_t)(depth[i] + 1);
        if (depth[i] + 1u > tdepth)
            tdepth = depth[i] + 1u;
        if (tr->feature[i] >= m->n_in)
            FAIL(WITAN_EMODEL, "tree %u: node %zu reads feature %u of %u", t,
                 i, tr->feature[i], m->n_in);
        if (abs64(tr->threshold[i]) > WITAN_MODEL_INPUT_ABS_MAX)
            FAIL(WITAN_EMODEL, "tree %u: node %zu: |threshold| over 2^46", t,
                 i);
    }
    if (tr->n_leaf_values != leaves * m->n_score)
        FAIL(WITAN_EMODEL, "tree %u: %zu leaf values, expected %zu leaves x %u",
             t, tr->n_leaf_values, leaves, m->n_score);
    /* Leaf ordinal of each node, in node order, kept in queue[n..2n). */
    uint32_t *ordinal = queue + n;
    for (size_t i = 0, k = 0; i < n; i++)
        ordinal[i] = (tr->left[i] == 0 && tr->right[i] == 0) ? (uint32_t)k++ : 0;
    /* Breadth-first: the children of a node get consecutive new indices. */
    uint32_t base = m->n_nodes, head = 0, tail = 1, next = 1;
    queue[0] = 0;
    while (head < tail) {
        uint32_t old = queue[head], now = base + head;
        head++;
        struct infer_node *nd = &m->nodes[now];
        if (tr->left[old] == 0 && tr->right[old] == 0) {
            nd->thr = INT64_MAX;
            nd->feature = 0;
            nd->next = now;
            m->leaf_steps[now] = (uint8_t)(depth[old] + 1);
            for (uint32_t k = 0; k < m->n_score; k++)
                m->leaf_values[(size_t)now * m->n_score + k] =
                    tr->leaf_values[(size_t)ordinal[old] * m->n_score + k];
            continue;
        }
        nd->thr = tr->threshold[old];
        nd->feature = tr->feature[old];
        nd->next = base + next;
        queue[tail++] = tr->left[old];
        queue[tail++] = tr->right[old];
        next += 2;
    }
    WITAN_ASSERT(tail == n);
    m->tree_root[t] = base;
    m->tree_depth[t] = (uint8_t)tdepth;
    if (tdepth > m->depth_max)
        m->depth_max = tdepth;
    m->n_nodes += (uint32_t)n;
    m->param_count += n * 2 + tr->n_leaf_values;
    return 0;
}

static int load_trees(infer_model *m, const Witan__Model__Model *pb,
                      char *why, size_t why_size)
{
    if (pb->n_trees > WITAN_MODEL_TREE_COUNT_MAX)
        FAIL(WITAN_ELIMIT, "%zu trees, limit %d", pb->n_trees,
             WITAN_MODEL_TREE_COUNT_MAX);
    if (pb->score_count == 0 || pb->score_count > WITAN_MODEL_OUTPUT_COUNT_MAX)
        FAIL(pb->score_count ? WITAN_ELIMIT : WITAN_EMODEL,
             "score_count %u, must be 1..%d", pb->score_count,
             WITAN_MODEL_OUTPUT_COUNT_MAX);
    m->n_score = pb->score_count;
    size_t total = 0, maxn = 0;
    for (size_t t = 0; t < pb->n_trees; t++) {
        total += pb->trees[t]->n_feature;
        if (pb->trees[t]->n_feature > maxn)
            maxn = pb->trees[t]->n_feature;
    }
    if (total > WITAN_MODEL_NODE_COUNT_MAX)
        FAIL(WITAN_ELIMIT, "%zu nodes in all trees, limit %d", total,
             WITAN_MODEL_NODE_COUNT_MAX);
    if (total * m->n_score > WITAN_MODEL_PARAM_COUNT_MAX)
        FAIL(WITAN_ELIMIT, "%zu leaf value slots, limit %d",
             total * m->n_score, WITAN_MODEL_PARAM_COUNT_MAX);
    m->n_trees = (uint32_t)pb->n_trees;
    m->tree_root = calloc(m->n_trees + 1, sizeof *m->tree_root);
    m->tree_depth = calloc(m->n_trees + 1, 1);
    m->nodes = calloc(total + 1, sizeof *m->nodes);
    m->leaf_values = calloc((total + 1) * m->n_score, sizeof *m->leaf_values);
    m->leaf_steps = calloc(total + 1, 1);
    m->base = calloc(m->n_score, sizeof *m->base);
    uint32_t *queue = calloc(2 * maxn + 2, sizeof *queue);
    uint8_t *depth = calloc(maxn + 1, 1);
    int err = 0;
    if (!m->tree_root || !m->tree_depth || !m->nodes || !m->leaf_values ||
        !m->leaf_steps || !m->base || !queue || !depth)
        err = infer_why(why, why_size, WITAN_ENOMEM, "out of memory");
    for (uint32_t t = 0; !err && t < m->n_trees; t++)
        err = load_tree(m, t, pb->trees[t], queue, depth, why, why_size);
    free(queue);
    free(depth);
    if (err)
        return err;
    if (pb->n_base_values != m->n_score)
        FAIL(WITAN_EMODEL, "%zu base values, expected %u", pb->n_base_values,
             m->n_score);
    for (uint32_t k = 0; k < m->n_score; k++) {
        if (abs64(pb->base_values[k]) > WITAN_MODEL_BIAS_ABS_MAX)
            FAIL(WITAN_EMODEL, "|base value %u| over 2^46", k);
        m->base[k] = pb->base_values[k];
    }
    m->param_count += m->n_score;
    return 0;
}

static int check_kind(const infer_model *m, char *why, size_t why_size)
{
    const char *kn = infer_kind_name(m->kind);
    switch (m->kind) {
    case INFER_LINEAR_REGRESSION:
    case INFER_LOGISTIC_BINARY:
    case INFER_LOGISTIC_MULTINOMIAL:
        if (m->n_layers != 1)
            FAIL(WITAN_EMODEL, "%s: %u layers, must be 1", kn, m->n_layers);
        break;
    default:
        break;
    }
    enum infer_transform want = m->transform;
    switch (m->kind) {
    case INFER_LINEAR_REGRESSION:
    case INFER_GB_REGRESSION:
    case INFER_RF_REGRESSION:
    case INFER_RF_CLASSIFICATION:
        want = INFER_OUT_NONE;
        break;
    case INFER_LOGISTIC_BINARY:
        if (m->n_score != 1)
            FAIL(WITAN_EMODEL, "%s: %u scores, must be 1", kn, m->n_score);
        want = INFER_OUT_SIGMOID;
        break;
    case INFER_LOGISTIC_MULTINOMIAL:
        if (m->n_score < 2)
            FAIL(WITAN_EMODEL, "%s: %u scores, must be >= 2", kn, m->n_score);
        want = INFER_OUT_SOFTMAX;
        break;
    case INFER_GB_CLASSIFICATION:
        if (m->transform == INFER_OUT_NONE)
            FAIL(WITAN_EMODEL, "%s: needs a sigmoid or softmax output", kn);
        break;
    case INFER_MLP:
        break;
    }
    if (m->transform != want)
        FAIL(WITAN_EMODEL, "%s: output transform %d not allowed", kn,
             (int)m->transform);
    if (m->kind == INFER_RF_CLASSIFICATION && m->n_score < 2)
        FAIL(WITAN_EMODEL, "%s: %u classes, must be >= 2", kn, m->n_score);
    return 0;
}

int infer_model_load(const uint8_t *bytes, size_t size, infer_model **out,
                     char *why, size_t why_size)
{
    WITAN_ASSERT(out != NULL);
    *out = NULL;
    if (size > WITAN_MODEL_SIZE_MAX)
        FAIL(WITAN_ELIMIT, "model of %zu bytes, limit %d", size,
             WITAN_MODEL_SIZE_MAX);
    if (!bytes && size)
        FAIL(WITAN_EINVAL, "no bytes");
    Witan__Model__Model *pb =
        witan__model__model__unpack(NULL, size, size ? bytes : (const uint8_t *)"");
    if (!pb)
        FAIL(WITAN_EDECODE, "not a witan.model.Model protobuf");
    infer_model *m = calloc(1, sizeof *m);
    if (!m) {
        witan__model__model__free_unpacked(pb, NULL);
        FAIL(WITAN_ENOMEM, "out of memory");
    }
    m->pb = pb;
    int err = 0;
#define CHECK(cond, code, ...)                                                 \
    do {                                                                       \
        if (!err && !(cond))                                                   \
            err = infer_why(why, why_size, code, __VA_ARGS__);                 \
    } while (0)
    CHECK(pb->format_version == INFER_FORMAT_VERSION, WITAN_EMODEL,
          "format_version %u, expected %d", pb->format_version,
          INFER_FORMAT_VERSION);
    CHECK(pb->kind >= 1 && pb->kind <= 8, WITAN_EMODEL, "unknown kind %d",
          (int)pb->kind);
    CHECK(strlen(pb->name) <= WITAN_MODEL_NAME_SIZE_MAX, WITAN_ELIMIT,
          "model name over %d bytes", WITAN_MODEL_NAME_SIZE_MAX);
    CHECK(pb->n_inputs >= 1, WITAN_EMODEL, "no inputs");
    CHECK(pb->n_inputs <= WITAN_MODEL_INPUT_COUNT_MAX, WITAN_ELIMIT,
          "%zu inputs, limit %d", pb->n_inputs, WITAN_MODEL_INPUT_COUNT_MAX);
    CHECK(pb->input_frac_bits <= WITAN_MODEL_FRAC_BITS_MAX, WITAN_EMODEL,
          "input_frac_bits %u over %d", pb->input_frac_bits,
          WITAN_MODEL_FRAC_BITS_MAX);
    CHECK(pb->first_frac_bits <= WITAN_MODEL_ACT_FRAC_BITS_MAX, WITAN_EMODEL,
          "first_frac_bits %u over %d", pb->first_frac_bits,
          WITAN_MODEL_ACT_FRAC_BITS_MAX);
    CHECK(pb->output_frac_bits <= WITAN_MODEL_FRAC_BITS_MAX, WITAN_EMODEL,
          "output_frac_bits %u over %d", pb->output_frac_bits,
          WITAN_MODEL_FRAC_BITS_MAX);
    CHECK((unsigned)pb->output_transform <= INFER_OUT_SOFTMAX, WITAN_EMODEL,
          "unknown output transform %d", (int)pb->output_transform);
    CHECK((unsigned)pb->input_encoding <= INFER_IN_FLOAT32_ORDER, WITAN_EMODEL,
          "unknown input encoding %d", (int)pb->input_encoding);
    CHECK(!pb->per_feature_frac ||
              (!is_tree_kind((enum infer_kind)pb->kind) &&
               pb->input_frac_bits == 0),
          WITAN_EMODEL,
          "per-feature formats are for dense models with input_frac_bits 0");
    CHECK((unsigned)pb->input_encoding != INFER_IN_FLOAT32_ORDER ||
              (is_tree_kind((enum infer_kind)pb->kind) &&
               pb->input_frac_bits == 0),
          WITAN_EMODEL,
          "float32-order inputs are for tree models with input_frac_bits 0");
    if (err)
        goto fail;
    m->kind = (enum infer_kind)pb->kind;
    m->transform = (enum infer_transform)pb->output_transform;
    m->n_in = (uint32_t)pb->n_inputs;
    m->input_frac = pb->input_frac_bits;
    m->input_encoding = (enum infer_input_encoding)pb->input_encoding;
    m->calibrated = pb->calibrated;
    m->first_frac = pb->first_frac_bits;
    m->output_frac = pb->output_frac_bits;
    if (is_tree_kind(m->kind)) {
        CHECK(pb->n_layers == 0, WITAN_EMODEL, "%s: has dense layers",
              infer_kind_name(m->kind));
        CHECK(pb->n_trees >= 1, WITAN_EMODEL, "%s: no trees",
              infer_kind_name(m->kind));
    } else {
        CHECK(pb->n_trees == 0 && pb->n_base_values == 0, WITAN_EMODEL,
              "%s: has trees or base values", infer_kind_name(m->kind));
        CHECK(pb->n_layers >= 1, WITAN_EMODEL, "%s: no layers",
              infer_kind_name(m->kind));
        CHECK(pb->n_layers <= WITAN_MODEL_LAYER_COUNT_MAX, WITAN_ELIMIT,
              "%zu layers, limit %d", pb->n_layers,
              WITAN_MODEL_LAYER_COUNT_MAX);
    }
    if (!err)
        err = load_inputs(m, pb, why, why_size);
    if (!err)
        err = is_tree_kind(m->kind) ? load_trees(m, pb, why, why_size)
                                    : load_layers(m, pb, why, why_size);
    if (err)
        goto fail;
    CHECK(is_tree_kind(m->kind) || pb->score_count == m->n_score,
          WITAN_EMODEL, "score_count %u, the last layer has %u outputs",
          pb->score_count, m->n_score);
    CHECK(m->n_score <= WITAN_MODEL_OUTPUT_COUNT_MAX, WITAN_ELIMIT,
          "%u scores, limit %d", m->n_score, WITAN_MODEL_OUTPUT_COUNT_MAX);
    CHECK(m->param_count <= WITAN_MODEL_PARAM_COUNT_MAX, WITAN_ELIMIT,
          "%zu parameters, limit %d", m->param_count,
          WITAN_MODEL_PARAM_COUNT_MAX);
    if (!err)
        err = check_kind(m, why, why_size);
    if (err)
        goto fail;
    /* A binary classifier's one score p is shown as [1 - p, p]. */
    m->n_out = (m->transform == INFER_OUT_SIGMOID && m->n_score == 1 &&
                is_classifier(m->kind))
                   ? 2
                   : m->n_score;
    m->n_class = is_classifier(m->kind) ? m->n_out : 0;
    CHECK(pb->n_outputs == m->n_out, WITAN_EMODEL,
          "%zu output names, the model has %u outputs", pb->n_outputs,
          m->n_out);
    for (size_t i = 0; !err && i < pb->n_outputs; i++)
        err = check_name(pb->outputs[i], "output", i, why, why_size);
    CHECK(pb->n_class_labels == 0 || pb->n_class_labels == m->n_class,
          WITAN_EMODEL, "%zu class labels, the model has %u classes",
          pb->n_class_labels, m->n_class);
    if (err)
        goto fail;
    /* Gas bound: every term of spec/models.md at its largest. */
    uint64_t gas = INFER_GAS_BASE + (uint64_t)INFER_GAS_INPUT * m->n_in +
                   (uint64_t)INFER_GAS_OUTPUT * m->n_out;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const struct infer_layer *L = &m->layers[l];
        gas += (uint64_t)INFER_GAS_MAC * L->in * L->out;
        if (L->act == INFER_ACT_SIGMOID || L->act == INFER_ACT_TANH)
            gas += (uint64_t)INFER_GAS_ACT * L->out;
    }
    for (uint32_t t = 0; t < m->n_trees; t++)
        gas += (uint64_t)INFER_GAS_NODE * (m->tree_depth[t] + 1u);
    if (m->transform != INFER_OUT_NONE)
        gas += (uint64_t)INFER_GAS_ACT * m->n_score;
    m->gas_max = gas;
    *out = m;
    return 0;
#undef CHECK
fail:
    infer_model_free(m);
    return err;
}

void infer_model_info(const infer_model *m, struct infer_info *o)
{
    memset(o, 0, sizeof *o);
    o->kind = m->kind;
    o->name = m->pb->name;
    o->input_count = m->n_in;
    o->output_count = m->n_out;
    o->score_count = m->n_score;
    o->layer_count = m->n_layers;
    o->tree_count = m->n_trees;
    o->node_count = m->n_nodes;
    o->tree_depth_max = m->depth_max;
    o->param_count = m->param_count;
    o->class_count = m->n_class;
    o->input_frac_bits = m->input_frac;
    o->input_encoding = m->input_encoding;
    o->calibrated = m->calibrated;
    o->per_feature_frac = m->pb->per_feature_frac;
    o->output_frac_bits = m->output_frac;
    o->transform = m->transform;
    o->gas_max = m->gas_max;
}

const char *infer_input_name(const infer_model *m, size_t i)
{
    WITAN_ASSERT(i < m->n_in);
    return m->pb->inputs[i]->name;
}

const char *infer_output_name(const infer_model *m, size_t i)
{
    WITAN_ASSERT(i < m->n_out);
    return m->pb->outputs[i];
}

void infer_input_norm(const infer_model *m, size_t i, int64_t *offset,
                      int32_t *scale, uint32_t *scale_frac_bits)
{
    WITAN_ASSERT(i < m->n_in);
    *offset = m->offset[i];
    *scale = m->scale[i];
    *scale_frac_bits = m->pb->inputs[i]->scale_frac_bits;
}

uint32_t infer_input_frac_bits(const infer_model *m, size_t i)
{
    WITAN_ASSERT(i < m->n_in);
    return m->in_frac[i];
}

void infer_input_range(const infer_model *m, size_t i, int64_t *min,
                       int64_t *max)
{
    WITAN_ASSERT(i < m->n_in);
    *min = m->cal_min[i];
    *max = m->cal_max[i];
}

void infer_layer_info(const infer_model *m, size_t i, size_t *inputs,
                      size_t *outputs, enum infer_activation *act,
                      uint32_t *weight_frac_bits, uint32_t *out_frac_bits)
{
    WITAN_ASSERT(i < m->n_layers);
    *inputs = m->layers[i].in;
    *outputs = m->layers[i].out;
    *act = m->layers[i].act;
    *weight_frac_bits = m->layers[i].w_frac;
    *out_frac_bits = m->layers[i].out_frac;
}

int64_t infer_class_label(const infer_model *m, size_t i)
{
    WITAN_ASSERT(i < m->n_class);
    return m->pb->n_class_labels ? m->pb->class_labels[i] : (int64_t)i;
}
