/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An independent, plain implementation of spec/models.md sections 3-4 for
 * dense models and for tree ensembles with every output transform (int64
 * arithmetic written from the spec, no layout tricks), compared bit for bit
 * with the library on random models: weights across the whole int16 range
 * (so the int32-chunk proof is exercised at chunk 1 as well as long
 * chunks), every activation, random frac bits and inputs up to the 2^46
 * limit, one sample at a time and batched. The library's AVX2 kernels (when
 * the CPU has them) and its portable kernels (the -O0 build) must both
 * agree with this.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "tests/inference/support.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static int64_t rrange(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t rshift(int64_t x, uint32_t s)
{
    return s ? (x + ((int64_t)1 << (s - 1))) >> s : x;
}
static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Spec section 4, dense kinds, output transform none. */
static void reference(const Witan__Model__Model *pb, const int64_t *x, int32_t *out)
{
    int64_t a[1024], b[1024];
    for (size_t i = 0; i < pb->n_inputs; i++) {
        const Witan__Model__Feature *f = pb->inputs[i];
        uint32_t s = pb->input_frac_bits + f->scale_frac_bits - pb->first_frac_bits;
        a[i] = clamp(rshift((x[i] - f->offset) * f->scale, s), -32767, 32767);
    }
    uint32_t fin = pb->first_frac_bits;
    for (size_t l = 0; l < pb->n_layers; l++) {
        const Witan__Model__DenseLayer *d = pb->layers[l];
        uint32_t s = fin + d->weight_frac_bits - d->out_frac_bits;
        for (uint32_t j = 0; j < d->outputs; j++) {
            int64_t acc = d->bias[j];
            for (uint32_t i = 0; i < d->inputs; i++)
                acc += a[i] * d->weights[(size_t)j * d->inputs + i];
            if (l + 1 == pb->n_layers) {
                out[j] = (int32_t)clamp(rshift(acc, s), -2147483647, 2147483647);
                continue;
            }
            int64_t z = clamp(rshift(acc, s), -32767, 32767);
            uint32_t f = d->out_frac_bits;
            switch (d->activation) {
            case WITAN__MODEL__ACTIVATION__ACTIVATION_RELU: z = z < 0 ? 0 : z; break;
            case WITAN__MODEL__ACTIVATION__ACTIVATION_SIGMOID:
                z = rshift(infer_sigmoid_fx(z, f), 16 - f);
                break;
            case WITAN__MODEL__ACTIVATION__ACTIVATION_TANH:
                z = rshift(infer_tanh_fx(z, f), 16 - f);
                break;
            default: break;
            }
            b[j] = z;
        }
        memcpy(a, b, d->outputs * sizeof *a);
        fin = d->out_frac_bits;
    }
}

static void test_random_dense(void **state)
{
    (void)state;
    char name[] = "x", oname[] = "y";
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n_in = (uint32_t)rrange(1, 40), n_layers = (uint32_t)rrange(1, 3);
        Witan__Model__Model pb;
        witan__model__model__init(&pb);
        pb.format_version = 1;
        pb.kind = WITAN__MODEL__MODEL_KIND__MLP;
        pb.name = name;
        pb.input_frac_bits = (uint32_t)rrange(0, 30);
        pb.first_frac_bits = (uint32_t)rrange(0, 14);
        Witan__Model__Feature feat[40], *fp[40];
        for (uint32_t i = 0; i < n_in; i++) {
            witan__model__feature__init(&feat[i]);
            feat[i].name = name;
            feat[i].offset = rrange(-(1LL << 40), 1LL << 40);
            feat[i].scale = (int32_t)rrange(-32767, 32767);
            /* shift = input + scale_frac - first must be 0..62 */
            int64_t lo = (int64_t)pb.first_frac_bits - pb.input_frac_bits;
            feat[i].scale_frac_bits = (uint32_t)rrange(lo < 0 ? 0 : lo, 30);
            fp[i] = &feat[i];
        }
        pb.n_inputs = n_in;
        pb.inputs = fp;
        Witan__Model__DenseLayer lay[3], *lp[3];
        int32_t *w[3];
        int64_t *bias[3];
        uint32_t in = n_in, fin = pb.first_frac_bits;
        int mode = (int)rrange(0, 2); /* 0 extreme weights, 1 small, 2 mixed */
        /* A third of the deeper models end in an identity layer (weights
         * 1, no shift) so that their scores are the last hidden layer's
         * activations, where an error of one step would not be rounded
         * away. */
        bool observe = n_layers > 1 && trial % 3 == 0;
        for (uint32_t l = 0; l < n_layers; l++) {
            bool last = l + 1 == n_layers;
            uint32_t out = last && observe ? in
                         : last ? (uint32_t)rrange(1, 6) : (uint32_t)rrange(1, 70);
            witan__model__dense_layer__init(&lay[l]);
            lay[l].inputs = in;
            lay[l].outputs = out;
            lay[l].weight_frac_bits = (uint32_t)rrange(0, 20);
            uint32_t hi = fin + lay[l].weight_frac_bits;
            lay[l].out_frac_bits = last ? (uint32_t)rrange(0, hi < 30 ? hi : 30)
                                        : (uint32_t)rrange(0, hi < 14 ? hi : 14);
            lay[l].activation = last ? 0 : (Witan__Model__Activation)rrange(0, 3);
            w[l] = malloc((size_t)in * out * sizeof *w[l]);
            bias[l] = malloc(out * sizeof *bias[l]);
            for (size_t i = 0; i < (size_t)in * out; i++)
                w[l][i] = mode == 0 ? (rnd() & 1 ? 32767 : -32767)
                        : mode == 1 ? (int32_t)rrange(-300, 300)
                                    : (int32_t)rrange(-32767, 32767);
            for (uint32_t j = 0; j < out; j++)
                bias[l][j] = rrange(-(1LL << 46), 1LL << 46);
            if (last && observe) {
                lay[l].weight_frac_bits = 0;
                lay[l].out_frac_bits = fin;
                for (size_t i = 0; i < (size_t)in * out; i++)
                    w[l][i] = i % (in + 1) == 0;
                for (uint32_t j = 0; j < out; j++)
                    bias[l][j] = 0;
            }
            lay[l].n_weights = (size_t)in * out;
            lay[l].weights = w[l];
            lay[l].n_bias = out;
            lay[l].bias = bias[l];
            lp[l] = &lay[l];
            in = out;
            fin = lay[l].out_frac_bits;
        }
        pb.n_layers = n_layers;
        pb.layers = lp;
        pb.output_frac_bits = lay[n_layers - 1].out_frac_bits;
        pb.score_count = in;
        char *outs[70];
        for (size_t j = 0; j < 70; j++)
            outs[j] = oname;
        pb.n_outputs = in;
        pb.outputs = outs;
        infer_model *m = NULL;
        char why[256];
        int err = tsup_load(&pb, &m, why, sizeof why);
        if (err)
            fail_msg("trial %d: %s", trial, why);
        for (int k = 0; k < 20; k++) {
            int64_t x[40];
            int64_t span = k < 10 ? (1LL << (pb.input_frac_bits + 4)) : WITAN_MODEL_INPUT_ABS_MAX;
            if (span > WITAN_MODEL_INPUT_ABS_MAX)
                span = WITAN_MODEL_INPUT_ABS_MAX;
            for (uint32_t i = 0; i < n_in; i++)
                x[i] = rrange(-span, span);
            int32_t got[70], want[70];
            struct infer_result r;
            assert_int_equal(infer_score(m, x, n_in, got, in, &r), 0);
            reference(&pb, x, want);
            for (uint32_t j = 0; j < in; j++)
                if (got[j] != want[j])
                    fail_msg("trial %d input %d output %u: library %d, reference %d",
                             trial, k, j, got[j], want[j]);
        }
        /* The batched path (tiles of several samples, then a tail of one
         * at a time) on 23 samples, half of them near the input limit. */
        enum { BATCH = 23 };
        int64_t xb[BATCH * 40];
        int32_t outb[BATCH * 70];
        for (int k = 0; k < BATCH; k++) {
            int64_t span = k % 2 ? (1LL << (pb.input_frac_bits + 4)) : WITAN_MODEL_INPUT_ABS_MAX;
            if (span > WITAN_MODEL_INPUT_ABS_MAX)
                span = WITAN_MODEL_INPUT_ABS_MAX;
            for (uint32_t i = 0; i < n_in; i++)
                xb[k * n_in + i] = rrange(-span, span);
        }
        uint64_t gas_total, gas_single = 0;
        assert_int_equal(infer_score_batch(m, xb, BATCH, outb, NULL, &gas_total), 0);
        for (int k = 0; k < BATCH; k++) {
            int32_t got[70], want[70];
            struct infer_result r;
            assert_int_equal(infer_score(m, xb + k * n_in, n_in, got, in, &r), 0);
            gas_single += r.gas;
            reference(&pb, xb + k * n_in, want);
            for (uint32_t j = 0; j < in; j++)
                if (outb[k * in + j] != want[j])
                    fail_msg("trial %d batched sample %d output %u: library %d, "
                             "reference %d", trial, k, j, outb[k * in + j], want[j]);
        }
        assert_int_equal(gas_total, gas_single);
        infer_model_free(m);
        for (uint32_t l = 0; l < n_layers; l++) {
            free(w[l]);
            free(bias[l]);
        }
    }
}

/* Spec section 4: trees from the message's own layout, then the output
 * transform; returns the gas. */
static uint64_t reference_trees(const Witan__Model__Model *pb, const int64_t *x,
                                int32_t *out)
{
    uint32_t K = pb->score_count, fo = pb->output_frac_bits;
    int64_t score[8];
    uint64_t nodes = 0;
    for (uint32_t k = 0; k < K; k++)
        score[k] = pb->base_values[k];
    for (size_t t = 0; t < pb->n_trees; t++) {
        const Witan__Model__Tree *tr = pb->trees[t];
        uint32_t n = 0;
        nodes++;
        while (tr->left[n] || tr->right[n]) {
            n = x[tr->feature[n]] <= tr->threshold[n] ? tr->left[n] : tr->right[n];
            nodes++;
        }
        uint32_t leaf = 0;
        for (uint32_t i = 0; i < n; i++)
            leaf += !(tr->left[i] || tr->right[i]);
        for (uint32_t k = 0; k < K; k++)
            score[k] += tr->leaf_values[leaf * K + k];
    }
    for (uint32_t k = 0; k < K; k++)
        score[k] = clamp(score[k], -2147483647, 2147483647);
    uint64_t gas = 100 + 2 * pb->n_inputs + 4 * nodes;
    if (pb->output_transform == WITAN__MODEL__OUTPUT_TRANSFORM__OUTPUT_SOFTMAX) {
        int64_t m = score[0], e[8], S = 0;
        for (uint32_t k = 1; k < K; k++)
            m = score[k] > m ? score[k] : m;
        for (uint32_t k = 0; k < K; k++) {
            int64_t y = m - score[k];
            y = fo >= 16 ? y >> (fo - 16) : y << (16 - fo);
            S += e[k] = infer_exp_neg_fx(y);
        }
        for (uint32_t k = 0; k < K; k++)
            out[k] = (int32_t)(((e[k] << fo) + S / 2) / S);
        return gas + 4 * K + 2 * K;
    }
    if (pb->output_transform == WITAN__MODEL__OUTPUT_TRANSFORM__OUTPUT_SIGMOID) {
        int64_t v = infer_sigmoid_fx(score[0], fo);
        int64_t p = fo <= 16 ? rshift(v, 16 - fo) : v << (fo - 16);
        out[0] = (int32_t)(((int64_t)1 << fo) - p);
        out[1] = (int32_t)p;
        return gas + 4 + 2 * 2;
    }
    for (uint32_t k = 0; k < K; k++)
        out[k] = (int32_t)score[k];
    return gas + 2 * K;
}

/* A random tree of n nodes in preorder: children after their parent. */
static uint32_t grow(Witan__Model__Tree *tr, uint32_t n_in, uint32_t depth,
                     uint32_t *next, uint32_t cap, uint32_t K, int32_t *leafv,
                     size_t *nleaf)
{
    uint32_t me = (*next)++;
    (void)cap; /* depth <= 6: at most 127 nodes */
    if (depth == 0 || rnd() % 4 == 0) {
        tr->feature[me] = 0;
        tr->threshold[me] = 0;
        tr->left[me] = tr->right[me] = 0;
        for (uint32_t k = 0; k < K; k++)
            leafv[(*nleaf)++] = (int32_t)rrange(-(1 << 24), 1 << 24);
        return me;
    }
    tr->feature[me] = (uint32_t)rrange(0, n_in - 1);
    tr->threshold[me] = rrange(-(1LL << 20), 1LL << 20);
    uint32_t l = grow(tr, n_in, depth - 1, next, cap, K, leafv, nleaf);
    uint32_t r = grow(tr, n_in, depth - 1, next, cap, K, leafv, nleaf);
    tr->left[me] = l;
    tr->right[me] = r;
    return me;
}

static void test_random_trees(void **state)
{
    (void)state;
    char name[] = "x", oname[] = "y";
    enum { TREES = 12, CAP = 200, K_MAX = 5 };
    for (int trial = 0; trial < 200; trial++) {
        uint32_t n_in = (uint32_t)rrange(1, 10);
        int kind = (int)rrange(0, 3);
        uint32_t K = kind == 0 ? 1 : kind == 1 ? 1 : (uint32_t)rrange(2, K_MAX);
        Witan__Model__Model pb;
        witan__model__model__init(&pb);
        pb.format_version = 1;
        pb.name = name;
        pb.input_frac_bits = 16;
        pb.output_frac_bits = (uint32_t)rrange(8, 24);
        pb.score_count = K;
        if (kind == 0) {
            pb.kind = WITAN__MODEL__MODEL_KIND__GB_REGRESSION;
        } else if (kind == 1) {
            pb.kind = WITAN__MODEL__MODEL_KIND__GB_CLASSIFICATION;
            pb.output_transform = WITAN__MODEL__OUTPUT_TRANSFORM__OUTPUT_SIGMOID;
        } else if (kind == 2) {
            pb.kind = WITAN__MODEL__MODEL_KIND__GB_CLASSIFICATION;
            pb.output_transform = WITAN__MODEL__OUTPUT_TRANSFORM__OUTPUT_SOFTMAX;
        } else {
            pb.kind = WITAN__MODEL__MODEL_KIND__RF_CLASSIFICATION;
        }
        Witan__Model__Feature feat[10], *fp[10];
        for (uint32_t i = 0; i < n_in; i++) {
            witan__model__feature__init(&feat[i]);
            feat[i].name = name;
            feat[i].scale = 1;
            fp[i] = &feat[i];
        }
        pb.n_inputs = n_in;
        pb.inputs = fp;
        static Witan__Model__Tree trees[TREES], *tp[TREES];
        static uint32_t f[TREES][CAP], l[TREES][CAP], r[TREES][CAP];
        static int64_t th[TREES][CAP];
        static int32_t lv[TREES][CAP * K_MAX];
        uint32_t nt = (uint32_t)rrange(1, TREES);
        for (uint32_t t = 0; t < nt; t++) {
            witan__model__tree__init(&trees[t]);
            trees[t].feature = f[t];
            trees[t].threshold = th[t];
            trees[t].left = l[t];
            trees[t].right = r[t];
            uint32_t next = 0;
            size_t nleaf = 0;
            grow(&trees[t], n_in, (uint32_t)rrange(0, 6), &next, CAP, K, lv[t], &nleaf);
            trees[t].n_feature = trees[t].n_threshold = trees[t].n_left =
                trees[t].n_right = next;
            trees[t].n_leaf_values = nleaf;
            trees[t].leaf_values = lv[t];
            tp[t] = &trees[t];
        }
        pb.n_trees = nt;
        pb.trees = tp;
        int64_t base[K_MAX];
        for (uint32_t k = 0; k < K; k++)
            base[k] = rrange(-(1LL << 26), 1LL << 26);
        pb.n_base_values = K;
        pb.base_values = base;
        uint32_t n_out = kind == 1 ? 2 : K;
        char *outs[K_MAX] = {oname, oname, oname, oname, oname};
        pb.n_outputs = n_out;
        pb.outputs = outs;
        infer_model *m = NULL;
        char why[256];
        if (tsup_load(&pb, &m, why, sizeof why))
            fail_msg("trial %d: %s", trial, why);
        int64_t xs[64 * 10];
        int32_t outb[64 * K_MAX];
        for (int k = 0; k < 64 * (int)n_in; k++)
            xs[k] = rrange(-(1LL << 21), 1LL << 21);
        uint64_t gas_total, gas_ref = 0;
        assert_int_equal(infer_score_batch(m, xs, 64, outb, NULL, &gas_total), 0);
        for (int s = 0; s < 64; s++) {
            int32_t want[K_MAX];
            gas_ref += reference_trees(&pb, xs + s * n_in, want);
            for (uint32_t j = 0; j < n_out; j++)
                if (outb[s * n_out + j] != want[j])
                    fail_msg("trial %d sample %d output %u: library %d, reference %d",
                             trial, s, j, outb[s * n_out + j], want[j]);
        }
        assert_int_equal(gas_total, gas_ref);
        infer_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_dense),
        cmocka_unit_test(test_random_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
