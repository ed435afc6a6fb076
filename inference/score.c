/*
 * Scoring: the integer arithmetic of spec/models.md, nothing else. model.c
 * has proved every bound this relies on (weights and activations within
 * +-32767, widths, biases, frac bits), so no sum here can overflow and the
 * order of additions cannot change a bit: the dot-product kernel is built
 * for AVX2 and for baseline x86-64 (target_clones) and both give the same
 * result. No floating point, no allocation, no I/O.
 */
#include <string.h>

#include "inference/internal.h"

#if defined(__x86_64__) && !defined(INFER_NO_CLONES) &&                        \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define INFER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define INFER_CLONES
#endif

#define Q16_ONE 65536
#define SIG_CAP_Q16 (8 << 16) /* sigmoid table covers [0, 8] */

static int16_t sat16(int64_t v)
{
    return (int16_t)(v > INFER_I16_MAX ? INFER_I16_MAX
                                       : v < -INFER_I16_MAX ? -INFER_I16_MAX : v);
}

static int32_t sat32(int64_t v)
{
    return (int32_t)(v > INT32_MAX ? INT32_MAX : v < -INT32_MAX ? -INT32_MAX : v);
}

/* |x| in Q.frac to Q.16, dropping extra bits (floor), capped at 8.0. */
static int64_t to_q16_capped(int64_t a, uint32_t frac)
{
    if (frac >= 16) {
        int64_t t = a >> (frac - 16);
        return t > SIG_CAP_Q16 ? SIG_CAP_Q16 : t;
    }
    if (a > ((int64_t)SIG_CAP_Q16 >> (16 - frac)))
        return SIG_CAP_Q16;
    return a << (16 - frac);
}

/* sigmoid(t / 2^16) for 0 <= t <= 8 << 16: table and interpolation. */
static int32_t sigmoid_core(int64_t t)
{
    if (t >= SIG_CAP_Q16)
        return infer_sigmoid_q16[256];
    int64_t i = t >> 11, f = t & 2047;
    int64_t lo = infer_sigmoid_q16[i], hi = infer_sigmoid_q16[i + 1];
    return (int32_t)(lo + (((hi - lo) * f + 1024) >> 11));
}

int32_t infer_sigmoid_fx(int64_t x, uint32_t frac_bits)
{
    WITAN_ASSERT(x > INT64_MIN && frac_bits <= 62);
    int32_t v = sigmoid_core(to_q16_capped(x < 0 ? -x : x, frac_bits));
    return x < 0 ? Q16_ONE - v : v;
}

int32_t infer_tanh_fx(int64_t x, uint32_t frac_bits)
{
    WITAN_ASSERT(x > INT64_MIN && frac_bits <= 62);
    int64_t t = to_q16_capped(x < 0 ? -x : x, frac_bits);
    int64_t u = 2 * t > SIG_CAP_Q16 ? SIG_CAP_Q16 : 2 * t;
    int32_t r = 2 * sigmoid_core(u) - Q16_ONE;
    return x < 0 ? -r : r;
}

int64_t infer_exp_neg_fx(int64_t y)
{
    WITAN_ASSERT(y >= 0);
    int64_t k = y >> 16;
    if (k >= (int64_t)WITAN_ARRAY_COUNT(infer_exp_int_q30))
        return 0;
    int64_t r = y & 0xffff, i = r >> 8, f = r & 255;
    int64_t lo = infer_exp_frac_q30[i], hi = infer_exp_frac_q30[i + 1];
    int64_t e1 = lo - (((lo - hi) * f + 128) >> 8);
    return (e1 * infer_exp_int_q30[k] + ((int64_t)1 << 29)) >> 30;
}

/* A Q.16 value in [0, 65536] to Q.frac. */
static int64_t q16_to_frac(int64_t v, uint32_t frac)
{
    return frac <= 16 ? infer_round_shift(v, 16 - frac) : v << (frac - 16);
}

/*
 * sum a[i] * w[i] over n (a multiple of 16). Each pair of products is below
 * 2^31 in magnitude (|a|, |w| <= 32767) so it is formed in 32 bits, the
 * shape of the pmaddwd instruction; the running sum is 64-bit.
 */
INFER_CLONES
static int64_t dot_i16(const int16_t *restrict a, const int16_t *restrict w,
                       size_t n)
{
    int64_t acc = 0;
    for (size_t i = 0; i < n; i += 2)
        acc += (int32_t)a[i] * w[i] + (int32_t)a[i + 1] * w[i + 1];
    return acc;
}

/* Four rows at once, so each load of a[] serves four dot products. */
INFER_CLONES
static void dot4_i16(const int16_t *restrict a, const int16_t *restrict w,
                     size_t n, int64_t out[4])
{
    int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int16_t *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    for (size_t i = 0; i < n; i += 2) {
        int32_t a0 = a[i], a1 = a[i + 1];
        s0 += a0 * w0[i] + a1 * w0[i + 1];
        s1 += a0 * w1[i] + a1 * w1[i + 1];
        s2 += a0 * w2[i] + a1 * w2[i + 1];
        s3 += a0 * w3[i] + a1 * w3[i + 1];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

static void layer_acc(const struct infer_layer *L, const int16_t *a,
                      int64_t *acc)
{
    uint32_t j = 0;
    for (; j + 4 <= L->out; j += 4) {
        dot4_i16(a, L->w + (size_t)j * L->in_pad, L->in_pad, acc + j);
        for (int k = 0; k < 4; k++)
            acc[j + k] += L->bias[j + k];
    }
    for (; j < L->out; j++)
        acc[j] = L->bias[j] + dot_i16(a, L->w + (size_t)j * L->in_pad, L->in_pad);
}

/* Normalised first-layer input; padding zeroed. */
static void normalise(const infer_model *m, const int64_t *x, int16_t *a)
{
    for (uint32_t i = 0; i < m->n_in; i++)
        a[i] = sat16(infer_round_shift((x[i] - m->offset[i]) * m->scale[i],
                                       m->norm_shift[i]));
    for (uint32_t i = m->n_in; i < m->layers[0].in_pad; i++)
        a[i] = 0;
}

/* Runs the dense layers; writes n_score scores, returns gas beyond base. */
static uint64_t dense_scores(const infer_model *m, const int64_t *x,
                             int64_t *score)
{
    int16_t buf[2][WITAN_MODEL_WIDTH_MAX + INFER_PAD]
        __attribute__((aligned(32)));
    int64_t acc[WITAN_MODEL_WIDTH_MAX];
    uint64_t gas = 0;
    normalise(m, x, buf[0]);
    int cur = 0;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const struct infer_layer *L = &m->layers[l];
        layer_acc(L, buf[cur], acc);
        gas += (uint64_t)INFER_GAS_MAC * L->in * L->out;
        if (l + 1 == m->n_layers) {
            for (uint32_t j = 0; j < L->out; j++)
                score[j] = sat32(infer_round_shift(acc[j], L->shift));
            break;
        }
        int16_t *o = buf[!cur];
        for (uint32_t j = 0; j < L->out; j++)
            o[j] = sat16(infer_round_shift(acc[j], L->shift));
        switch (L->act) {
        case INFER_ACT_IDENTITY:
            break;
        case INFER_ACT_RELU:
            for (uint32_t j = 0; j < L->out; j++)
                o[j] = o[j] < 0 ? 0 : o[j];
            break;
        case INFER_ACT_SIGMOID:
            for (uint32_t j = 0; j < L->out; j++)
                o[j] = (int16_t)q16_to_frac(infer_sigmoid_fx(o[j], L->out_frac),
                                            L->out_frac);
            gas += (uint64_t)INFER_GAS_ACT * L->out;
            break;
        case INFER_ACT_TANH:
            for (uint32_t j = 0; j < L->out; j++)
                o[j] = (int16_t)infer_round_shift(
                    infer_tanh_fx(o[j], L->out_frac), 16 - L->out_frac);
            gas += (uint64_t)INFER_GAS_ACT * L->out;
            break;
        }
        uint32_t pad = m->layers[l + 1].in_pad;
        for (uint32_t j = L->out; j < pad; j++)
            o[j] = 0;
        cur = !cur;
    }
    return gas;
}

/* Walks every tree for nb samples; adds leaves into acc (nb x n_score) and
 * nodes visited into steps. */
static void tree_block(const infer_model *m, const int64_t *x, size_t nb,
                       int64_t *acc, uint64_t *steps)
{
    const struct infer_node *nodes = m->nodes;
    const uint32_t K = m->n_score, n_in = m->n_in;
    for (uint32_t t = 0; t < m->n_trees; t++) {
        const uint32_t root = m->tree_root[t], depth = m->tree_depth[t];
        for (size_t s = 0; s < nb; s++) {
            const int64_t *xs = x + s * n_in;
            uint32_t n = root;
            for (uint32_t d = 0; d < depth; d++) {
                const struct infer_node *nd = &nodes[n];
                n = nd->next + (uint32_t)(xs[nd->feature] > nd->thr);
            }
            const int32_t *v = m->leaf_values + (size_t)n * K;
            for (uint32_t k = 0; k < K; k++)
                acc[s * K + k] += v[k];
            steps[s] += m->leaf_steps[n];
        }
    }
}

/* Output transform, label and the rest of the gas, from n_score scores. */
static uint64_t finish(const infer_model *m, const int64_t *score,
                       int32_t *out, size_t *label)
{
    const uint32_t K = m->n_score, fo = m->output_frac;
    uint64_t gas = (uint64_t)INFER_GAS_OUTPUT * m->n_out;
    switch (m->transform) {
    case INFER_OUT_NONE:
        for (uint32_t k = 0; k < K; k++)
            out[k] = sat32(score[k]);
        break;
    case INFER_OUT_SIGMOID:
        gas += (uint64_t)INFER_GAS_ACT * K;
        if (m->n_out == 2 && K == 1) {
            int64_t p = q16_to_frac(infer_sigmoid_fx(score[0], fo), fo);
            out[0] = (int32_t)(((int64_t)1 << fo) - p);
            out[1] = (int32_t)p;
            break;
        }
        for (uint32_t k = 0; k < K; k++)
            out[k] = (int32_t)q16_to_frac(infer_sigmoid_fx(score[k], fo), fo);
        break;
    case INFER_OUT_SOFTMAX: {
        gas += (uint64_t)INFER_GAS_ACT * K;
        int64_t mx = score[0], e[WITAN_MODEL_OUTPUT_COUNT_MAX], sum = 0;
        for (uint32_t k = 1; k < K; k++)
            mx = score[k] > mx ? score[k] : mx;
        for (uint32_t k = 0; k < K; k++) {
            int64_t y = mx - score[k];
            y = fo >= 16 ? y >> (fo - 16) : y << (16 - fo);
            e[k] = infer_exp_neg_fx(y);
            sum += e[k];
        }
        WITAN_ASSERT(sum >= ((int64_t)1 << 30));
        for (uint32_t k = 0; k < K; k++)
            out[k] = (int32_t)(((e[k] << fo) + sum / 2) / sum);
        break;
    }
    }
    size_t best = 0;
    if (m->n_class)
        for (uint32_t k = 1; k < m->n_out; k++)
            if (out[k] > out[best])
                best = k;
    *label = best;
    return gas;
}

static int check_inputs(const infer_model *m, const int64_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] > WITAN_MODEL_INPUT_ABS_MAX || x[i] < -WITAN_MODEL_INPUT_ABS_MAX)
            return WITAN_ERANGE;
    (void)m;
    return 0;
}

static int64_t clamp_score(int64_t v)
{
    return sat32(v);
}

int infer_score(const infer_model *m, const int64_t *input, size_t input_count,
                int32_t *output, size_t output_count,
                struct infer_result *result)
{
    WITAN_ASSERT(m && input && output);
    if (input_count != m->n_in || output_count != m->n_out)
        return WITAN_EINVAL;
    int err = check_inputs(m, input, input_count);
    if (err)
        return err;
    int64_t score[WITAN_MODEL_OUTPUT_COUNT_MAX];
    uint64_t gas = INFER_GAS_BASE + (uint64_t)INFER_GAS_INPUT * m->n_in;
    if (m->n_layers) {
        gas += dense_scores(m, input, score);
    } else {
        uint64_t steps = 0;
        for (uint32_t k = 0; k < m->n_score; k++)
            score[k] = 0;
        tree_block(m, input, 1, score, &steps);
        for (uint32_t k = 0; k < m->n_score; k++)
            score[k] = clamp_score(score[k] + m->base[k]);
        gas += (uint64_t)INFER_GAS_NODE * steps;
    }
    size_t label;
    gas += finish(m, score, output, &label);
    WITAN_ASSERT(gas <= m->gas_max);
    if (result) {
        result->label = label;
        result->gas = gas;
    }
    return 0;
}

#define TREE_BLOCK 64

int infer_score_batch(const infer_model *m, const int64_t *inputs,
                      size_t sample_count, int32_t *outputs, size_t *labels,
                      uint64_t *gas_total)
{
    WITAN_ASSERT(m && (inputs || !sample_count) && (outputs || !sample_count));
    int err = check_inputs(m, inputs, sample_count * m->n_in);
    if (err)
        return err;
    uint64_t total = 0;
    if (m->n_layers) {
        for (size_t s = 0; s < sample_count; s++) {
            struct infer_result r;
            err = infer_score(m, inputs + s * m->n_in, m->n_in,
                              outputs + s * m->n_out, m->n_out, &r);
            WITAN_ASSERT(err == 0);
            if (labels)
                labels[s] = r.label;
            total += r.gas;
        }
    } else {
        int64_t acc[TREE_BLOCK * 4];
        uint64_t steps[TREE_BLOCK];
        const uint32_t K = m->n_score;
        /* Blocks as wide as the accumulators allow: 64 samples for up to
         * 4 scores, fewer for more classes. */
        size_t block = K <= 4 ? TREE_BLOCK : 1;
        int64_t one[WITAN_MODEL_OUTPUT_COUNT_MAX];
        for (size_t s0 = 0; s0 < sample_count; s0 += block) {
            size_t nb = sample_count - s0 < block ? sample_count - s0 : block;
            int64_t *a = block == 1 ? one : acc;
            memset(a, 0, nb * K * sizeof *a);
            memset(steps, 0, nb * sizeof *steps);
            tree_block(m, inputs + s0 * m->n_in, nb, a, steps);
            for (size_t s = 0; s < nb; s++) {
                int64_t *sc = a + s * K;
                for (uint32_t k = 0; k < K; k++)
                    sc[k] = clamp_score(sc[k] + m->base[k]);
                size_t label;
                uint64_t gas = INFER_GAS_BASE +
                               (uint64_t)INFER_GAS_INPUT * m->n_in +
                               (uint64_t)INFER_GAS_NODE * steps[s];
                gas += finish(m, sc, outputs + (s0 + s) * m->n_out, &label);
                if (labels)
                    labels[s0 + s] = label;
                total += gas;
            }
        }
    }
    if (gas_total)
        *gas_total = total;
    return 0;
}
