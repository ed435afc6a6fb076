/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scoring: the integer arithmetic of spec/models.md, nothing else. model.c
 * has proved every bound this relies on (weights and activations within
 * +-32767, widths, biases, frac bits), so no sum here can overflow and the
 * order of additions cannot change a bit: the hot loops exist for AVX2
 * and AVX-512 VNNI (chosen at start-up when the CPU has them) and as
 * portable C, and all give the same result. No floating point, no allocation, no I/O.
 */
#include <string.h>

#include "inference/internal.h"

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
 * acc[j] = sum_i a[i] * W[j][i] for j < out_pad: the exact integer sum, so
 * every kernel below gives the same bits. Each pair product a[2p] * w +
 * a[2p+1] * w' is below 2^31 in magnitude (|a|, |w| <= 32767), the shape of
 * pmaddwd; the loader proved that `chunk` consecutive pairs also sum within
 * int32, so the AVX2 kernel widens to int64 only once per chunk.
 */
static void dense_generic(const struct infer_layer *L, const int16_t *a,
                          int64_t *restrict acc)
{
    const uint32_t np = L->in_pad / 2, op = L->out_pad;
    for (uint32_t j = 0; j < op; j++)
        acc[j] = 0;
    for (uint32_t p = 0; p < np; p++) {
        const int32_t a0 = a[2 * p], a1 = a[2 * p + 1];
        const int16_t *w = L->wp + (size_t)p * op * 2;
        for (uint32_t j = 0; j < op; j++)
            acc[j] += a0 * w[2 * j] + a1 * w[2 * j + 1];
    }
}

#if defined(__x86_64__) && !defined(INFER_NO_CLONES)
#include <immintrin.h>
#define INFER_HAVE_AVX2_KERNEL 1

static int cpu_has_avx2;
/* AVX-512 F, BW, VL and VNNI: the batched dense tiles use vpdpwssd. */
static int cpu_has_vnni512;

__attribute__((constructor)) static void detect_cpu(void)
{
    __builtin_cpu_init();
    cpu_has_avx2 = __builtin_cpu_supports("avx2");
    cpu_has_vnni512 = cpu_has_avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512vnni");
}

/* 8 outputs from jb: one int32 register per chunk, two int64 across. */
#define AVX2_WIDEN(s32, lo, hi)                                                \
    do {                                                                       \
        lo = _mm256_add_epi64(lo, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s32))); \
        hi = _mm256_add_epi64(hi, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s32, 1))); \
    } while (0)
#define AVX2_MADD(s32, b, w)                                                   \
    s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(b, _mm256_loadu_si256((const __m256i *)(w))))

/* The rescale of rescale16 on 8 int64 sums (l: outputs 0-3, h: 4-7): add
 * bias and half, shift arithmetically (a logical shift of v + 2^63, minus
 * 2^(63-s)), clamp to [lo, 32767], pack to int16. */
struct rescale_consts {
    __m256i half, sign, back, vlo, vhi, even;
    __m128i cnt;
};

static inline __attribute__((target("avx2"), always_inline)) __m128i
rescale4(__m256i v, const int64_t *bias, const struct rescale_consts *c)
{
    v = _mm256_add_epi64(v, _mm256_loadu_si256((const __m256i *)bias));
    v = _mm256_add_epi64(v, c->half);
    v = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(v, c->sign), c->cnt), c->back);
    v = _mm256_blendv_epi8(v, c->vlo, _mm256_cmpgt_epi64(c->vlo, v));
    v = _mm256_blendv_epi8(v, c->vhi, _mm256_cmpgt_epi64(v, c->vhi));
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, c->even));
}

static inline __attribute__((target("avx2"), always_inline)) void
rescale8(__m256i l, __m256i h, const int64_t *bias, const struct rescale_consts *c,
         int16_t *o)
{
    _mm_storeu_si128((__m128i *)o,
                     _mm_packs_epi32(rescale4(l, bias, c), rescale4(h, bias + 4, c)));
}

__attribute__((target("avx2"))) static void
rescale_consts_init(struct rescale_consts *c, uint32_t shift, int64_t lo)
{
    c->half = _mm256_set1_epi64x(shift ? (int64_t)1 << (shift - 1) : 0);
    c->sign = _mm256_set1_epi64x(INT64_MIN);
    c->back = _mm256_set1_epi64x((int64_t)((uint64_t)1 << (63 - shift)));
    c->vlo = _mm256_set1_epi64x(lo);
    c->vhi = _mm256_set1_epi64x(INFER_I16_MAX);
    c->even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    c->cnt = _mm_cvtsi32_si128((int)shift);
}

/* Sums into acc (o == NULL), or, for a hidden layer, straight to the
 * rescaled int16 outputs o (the rescale of rescale16, fused). */
__attribute__((target("avx2"))) static void
dense_avx2(const struct infer_layer *L, const int16_t *a, int64_t *acc,
           int16_t *o, int64_t lo)
{
    const uint32_t np = L->in_pad / 2, op = L->out_pad, k = L->chunk;
    const int16_t *wp = L->wp;
    struct rescale_consts rc;
    rescale_consts_init(&rc, L->shift, lo);
    uint32_t jb = 0;
    /* 32 outputs at a time: 4 int32 and 8 int64 accumulators. */
    for (; jb + 32 <= op; jb += 32) {
        __m256i l0 = _mm256_setzero_si256(), h0 = l0, l1 = l0, h1 = l0,
                l2 = l0, h2 = l0, l3 = l0, h3 = l0;
        for (uint32_t c = 0; c < np; c += k) {
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            /* k and np are even or 1 (both are powers of two times the
             * padding), so pairs come two at a time unless k == 1. */
            uint32_t end = c + k < np ? c + k : np, p = c;
            for (; p + 2 <= end; p += 2) {
                int32_t pr0, pr1; /* separate loads become vpbroadcastd m32 */
                memcpy(&pr0, a + 2 * p, sizeof pr0);
                memcpy(&pr1, a + 2 * p + 2, sizeof pr1);
                const __m256i b = _mm256_set1_epi32(pr0);
                const __m256i b2 = _mm256_set1_epi32(pr1);
                const int16_t *w = wp + ((size_t)p * op + jb) * 2;
                const int16_t *w2 = w + (size_t)op * 2;
                AVX2_MADD(s0, b, w);
                AVX2_MADD(s1, b, w + 16);
                AVX2_MADD(s2, b, w + 32);
                AVX2_MADD(s3, b, w + 48);
                AVX2_MADD(s0, b2, w2);
                AVX2_MADD(s1, b2, w2 + 16);
                AVX2_MADD(s2, b2, w2 + 32);
                AVX2_MADD(s3, b2, w2 + 48);
            }
            for (; p < end; p++) {
                int32_t pair;
                memcpy(&pair, a + 2 * p, sizeof pair);
                const __m256i b = _mm256_set1_epi32(pair);
                const int16_t *w = wp + ((size_t)p * op + jb) * 2;
                AVX2_MADD(s0, b, w);
                AVX2_MADD(s1, b, w + 16);
                AVX2_MADD(s2, b, w + 32);
                AVX2_MADD(s3, b, w + 48);
            }
            AVX2_WIDEN(s0, l0, h0);
            AVX2_WIDEN(s1, l1, h1);
            AVX2_WIDEN(s2, l2, h2);
            AVX2_WIDEN(s3, l3, h3);
        }
        if (o) {
            rescale8(l0, h0, L->bias + jb, &rc, o + jb);
            rescale8(l1, h1, L->bias + jb + 8, &rc, o + jb + 8);
            rescale8(l2, h2, L->bias + jb + 16, &rc, o + jb + 16);
            rescale8(l3, h3, L->bias + jb + 24, &rc, o + jb + 24);
            continue;
        }
        _mm256_storeu_si256((__m256i *)(acc + jb), l0);
        _mm256_storeu_si256((__m256i *)(acc + jb + 4), h0);
        _mm256_storeu_si256((__m256i *)(acc + jb + 8), l1);
        _mm256_storeu_si256((__m256i *)(acc + jb + 12), h1);
        _mm256_storeu_si256((__m256i *)(acc + jb + 16), l2);
        _mm256_storeu_si256((__m256i *)(acc + jb + 20), h2);
        _mm256_storeu_si256((__m256i *)(acc + jb + 24), l3);
        _mm256_storeu_si256((__m256i *)(acc + jb + 28), h3);
    }
    for (; jb < op; jb += 8) {
        __m256i l0 = _mm256_setzero_si256(), h0 = l0;
        for (uint32_t c = 0; c < np; c += k) {
            __m256i s0 = _mm256_setzero_si256();
            uint32_t end = c + k < np ? c + k : np;
            for (uint32_t p = c; p < end; p++) {
                int32_t pair;
                memcpy(&pair, a + 2 * p, sizeof pair);
                AVX2_MADD(s0, _mm256_set1_epi32(pair), wp + ((size_t)p * op + jb) * 2);
            }
            AVX2_WIDEN(s0, l0, h0);
        }
        if (o) {
            rescale8(l0, h0, L->bias + jb, &rc, o + jb);
            continue;
        }
        _mm256_storeu_si256((__m256i *)(acc + jb), l0);
        _mm256_storeu_si256((__m256i *)(acc + jb + 4), h0);
    }
}

/* rescale16 for 8 outputs at a time, n a multiple of 8 (out_pad): the
 * arithmetic shift is done as a logical one on x + 2^63, minus 2^(63-s). */
__attribute__((target("avx2"))) static void
rescale16_avx2(const int64_t *acc, const int64_t *bias, uint32_t n,
               uint32_t shift, int64_t lo, int16_t *o)
{
    const __m256i half = _mm256_set1_epi64x(shift ? (int64_t)1 << (shift - 1) : 0);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i back = _mm256_set1_epi64x((int64_t)((uint64_t)1 << (63 - shift)));
    const __m256i vlo = _mm256_set1_epi64x(lo), vhi = _mm256_set1_epi64x(INFER_I16_MAX);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i cnt = _mm_cvtsi32_si128((int)shift);
    __m128i part[2];
    for (uint32_t j = 0; j < n; j += 8) {
        for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_add_epi64(
                _mm256_loadu_si256((const __m256i *)(acc + j + 4 * h)),
                _mm256_loadu_si256((const __m256i *)(bias + j + 4 * h)));
            v = _mm256_add_epi64(v, half);
            v = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(v, sign), cnt), back);
            v = _mm256_blendv_epi8(v, vlo, _mm256_cmpgt_epi64(vlo, v));
            v = _mm256_blendv_epi8(v, vhi, _mm256_cmpgt_epi64(v, vhi));
            part[h] = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, even));
        }
        _mm_storeu_si128((__m128i *)(o + j), _mm_packs_epi32(part[0], part[1]));
    }
}
#endif

#ifdef INFER_HAVE_AVX2_KERNEL
/* Narrow layers: one dot product per row, 16 inputs per pmaddwd; each
 * lane holds one pair (< 2^31) and is widened at once. */
__attribute__((target("avx2"))) static void
rows_avx2(const struct infer_layer *L, const int16_t *a, int64_t *acc)
{
    for (uint32_t j = 0; j < L->out; j++) {
        const int16_t *w = L->rows + (size_t)j * L->in_pad;
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        for (uint32_t i = 0; i < L->in_pad; i += 16) {
            __m256i p = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + i)),
                                          _mm256_loadu_si256((const __m256i *)(w + i)));
            AVX2_WIDEN(p, lo, hi);
        }
        __m256i s = _mm256_add_epi64(lo, hi);
        __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        acc[j] = _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
    }
    for (uint32_t j = L->out; j < L->out_pad; j++)
        acc[j] = 0;
}
#endif

static void layer_acc(const struct infer_layer *L, const int16_t *a,
                      int64_t *acc)
{
#ifdef INFER_HAVE_AVX2_KERNEL
    if (cpu_has_avx2 && L->rows) {
        rows_avx2(L, a, acc);
        return;
    }
    if (cpu_has_avx2) {
        dense_avx2(L, a, acc, NULL, 0);
        return;
    }
#endif
    dense_generic(L, a, acc);
}

/* Hidden layer: o[j] = clamp(round(acc[j] + bias[j], shift), lo, 32767)
 * where lo is 0 for ReLU (relu of a saturated value) or -32767. */
static void rescale16_generic(const int64_t *restrict acc, const int64_t *restrict bias,
                      uint32_t n, uint32_t shift, int64_t lo, int16_t *restrict o)
{
    const int64_t half = shift ? (int64_t)1 << (shift - 1) : 0;
    for (uint32_t j = 0; j < n; j++) {
        int64_t v = (acc[j] + bias[j] + half) >> shift;
        v = v < lo ? lo : v;
        v = v > INFER_I16_MAX ? INFER_I16_MAX : v;
        o[j] = (int16_t)v;
    }
}

static void rescale16(const struct infer_layer *L, const int64_t *acc,
                      int64_t lo, int16_t *o)
{
#ifdef INFER_HAVE_AVX2_KERNEL
    if (cpu_has_avx2) {
        rescale16_avx2(acc, L->bias, L->out_pad, L->shift, lo, o);
        return;
    }
#endif
    rescale16_generic(acc, L->bias, L->out, L->shift, lo, o);
}

#ifdef INFER_HAVE_AVX2_KERNEL
/* The normalisation 4 inputs at a time. AVX2 has no 64-bit multiply or
 * arithmetic shift: d = x - offset (|d| <= 2^47) is split as hi * 2^24 + lo
 * with 0 <= lo < 2^24, so d * scale = (hi * scale) << 24 + lo * scale from
 * two signed 32x32 multiplies (|hi| < 2^24, |scale| < 2^15); the shift is
 * a logical one on v + 2^63, minus 2^(63-s). Exact, as the scalar code. */
__attribute__((target("avx2"))) static void
normalise_avx2(const infer_model *m, const int64_t *x, int16_t *a)
{
    const size_t n4 = (m->n_in + 3) / 4 * 4;
    const int64_t *ln = m->norm_lanes;
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i lo24 = _mm256_set1_epi64x(0xffffff);
    const __m256i back24 = _mm256_set1_epi64x((int64_t)1 << 39);
    const __m256i vlo = _mm256_set1_epi64x(-INFER_I16_MAX), vhi = _mm256_set1_epi64x(INFER_I16_MAX);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    int64_t xb[4];
    for (size_t i = 0; i < n4; i += 4) {
        __m256i xv;
        if (i + 4 <= m->n_in) {
            xv = _mm256_loadu_si256((const __m256i *)(x + i));
        } else {
            for (size_t k = 0; k < 4; k++)
                xb[k] = i + k < m->n_in ? x[i + k] : 0;
            xv = _mm256_loadu_si256((const __m256i *)xb);
        }
        __m256i d = _mm256_sub_epi64(xv, _mm256_loadu_si256((const __m256i *)(ln + i)));
        __m256i sc = _mm256_loadu_si256((const __m256i *)(ln + n4 + i));
        __m256i hi = _mm256_sub_epi64(_mm256_srli_epi64(_mm256_xor_si256(d, sign), 24), back24);
        __m256i lo = _mm256_and_si256(d, lo24);
        __m256i v = _mm256_add_epi64(_mm256_slli_epi64(_mm256_mul_epi32(hi, sc), 24),
                                     _mm256_mul_epi32(lo, sc));
        v = _mm256_add_epi64(v, _mm256_loadu_si256((const __m256i *)(ln + 3 * n4 + i)));
        v = _mm256_sub_epi64(
            _mm256_srlv_epi64(_mm256_xor_si256(v, sign),
                              _mm256_loadu_si256((const __m256i *)(ln + 2 * n4 + i))),
            _mm256_loadu_si256((const __m256i *)(ln + 4 * n4 + i)));
        v = _mm256_blendv_epi8(v, vlo, _mm256_cmpgt_epi64(vlo, v));
        v = _mm256_blendv_epi8(v, vhi, _mm256_cmpgt_epi64(v, vhi));
        __m128i q = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, even));
        q = _mm_packs_epi32(q, q);
        _mm_storel_epi64((__m128i *)(a + i), q);
    }
    for (uint32_t i = m->n_in; i < m->layers[0].in_pad; i++)
        a[i] = 0;
}

/* normalise_avx2 for n samples (rows of n_in, outputs `stride` apart),
 * eight inputs at a time: AVX-512 has the arithmetic shift and 64-bit min
 * and max that AVX2 lacks; the product keeps the same 24-bit split (two
 * vpmuldq). Exact, as the scalar code. */
__attribute__((target("avx512f,avx512bw,avx2"))) static void
normalise512(const infer_model *m, const int64_t *x, size_t n, int16_t *a,
             size_t stride)
{
    const size_t n_in = m->n_in, n4 = (n_in + 3) / 4 * 4, pad = m->layers[0].in_pad;
    const int64_t *ln = m->norm_lanes;
    const __m512i lo24 = _mm512_set1_epi64(0xffffff);
    const __m512i vlo = _mm512_set1_epi64(-INFER_I16_MAX), vhi = _mm512_set1_epi64(INFER_I16_MAX);
    for (size_t i = 0; i < n_in; i += 8) {
        const __mmask8 k = n_in - i >= 8 ? 0xff : (__mmask8)((1u << (n_in - i)) - 1);
        const __m512i off = _mm512_maskz_loadu_epi64(k, ln + i);
        const __m512i sc = _mm512_maskz_loadu_epi64(k, ln + n4 + i);
        const __m512i sh = _mm512_maskz_loadu_epi64(k, ln + 2 * n4 + i);
        const __m512i half = _mm512_maskz_loadu_epi64(k, ln + 3 * n4 + i);
        for (size_t s = 0; s < n; s++) {
            __m512i d = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k, x + s * n_in + i), off);
            __m512i v = _mm512_add_epi64(
                _mm512_slli_epi64(_mm512_mul_epi32(_mm512_srai_epi64(d, 24), sc), 24),
                _mm512_mul_epi32(_mm512_and_si512(d, lo24), sc));
            v = _mm512_srav_epi64(_mm512_add_epi64(v, half), sh);
            v = _mm512_min_epi64(_mm512_max_epi64(v, vlo), vhi);
            _mm_storeu_si128((__m128i *)(a + s * stride + i), _mm512_cvtepi64_epi16(v));
        }
    }
    for (size_t s = 0; s < n; s++)
        for (size_t i = n_in; i < pad; i++)
            a[s * stride + i] = 0;
}
#endif

/* A hidden layer's sums and rescale in one AVX2 pass, when the wide
 * kernel applies; false when the caller must do both steps. */
static bool hidden_fused(const struct infer_layer *L, const int16_t *a, int16_t *o)
{
#ifdef INFER_HAVE_AVX2_KERNEL
    if (cpu_has_avx2 && !L->rows) {
        dense_avx2(L, a, NULL, o, L->act == INFER_ACT_RELU ? 0 : -INFER_I16_MAX);
        return true;
    }
#endif
    (void)L, (void)a, (void)o;
    return false;
}

/* Normalised first-layer input; padding zeroed. */
static void normalise(const infer_model *m, const int64_t *x, int16_t *a)
{
#ifdef INFER_HAVE_AVX2_KERNEL
    if (cpu_has_vnni512) {
        normalise512(m, x, 1, a, 0);
        return;
    }
    if (cpu_has_avx2) {
        normalise_avx2(m, x, a);
        return;
    }
#endif
    for (uint32_t i = 0; i < m->n_in; i++)
        a[i] = sat16(infer_round_shift((x[i] - m->offset[i]) * m->scale[i],
                                       m->norm_shift[i]));
    for (uint32_t i = m->n_in; i < m->layers[0].in_pad; i++)
        a[i] = 0;
}

/* Values of a[0..n) at the int16 limit (saturated, or exactly there). */
static uint32_t at_limit16(const int16_t *a, uint32_t n)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        k += a[i] == INFER_I16_MAX || a[i] == -INFER_I16_MAX;
    return k;
}

/* A hidden layer's activation on its rescaled outputs o[0..out) (ReLU and
 * identity were done by the rescale), then zeros up to `pad`, the next
 * layer's in_pad; returns the activation's gas; adds to *sat (unless NULL)
 * the values at the limit of their format. */
static uint64_t activate(const struct infer_layer *L, uint32_t pad, int16_t *o,
                         uint32_t *sat)
{
    uint64_t gas = 0;
    switch (L->act) {
    case INFER_ACT_IDENTITY:
    case INFER_ACT_RELU: /* done by rescale16 */
        if (sat)
            *sat += at_limit16(o, L->out);
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
    for (uint32_t j = L->out; j < pad; j++)
        o[j] = 0;
    return gas;
}

/* The last layer's scores from its sums. */
static void last_scores(const struct infer_layer *L, const int64_t *acc,
                        int64_t *score)
{
    for (uint32_t j = 0; j < L->out; j++)
        score[j] = sat32(infer_round_shift(acc[j] + L->bias[j], L->shift));
}

/* Runs the dense layers; writes n_score scores, returns gas beyond base;
 * adds to *sat (unless NULL: the batched path does not ask) the values
 * that ended at the limit of their format. */
static uint64_t dense_scores(const infer_model *m, const int64_t *x,
                             int64_t *score, uint32_t *sat)
{
    int16_t buf[2][WITAN_MODEL_WIDTH_MAX + INFER_PAD]
        __attribute__((aligned(32)));
    int64_t acc[WITAN_MODEL_WIDTH_MAX + INFER_OUT_BLOCK];
    uint64_t gas = 0;
    normalise(m, x, buf[0]);
    if (sat)
        *sat += at_limit16(buf[0], m->n_in);
    int cur = 0;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const struct infer_layer *L = &m->layers[l];
        gas += (uint64_t)INFER_GAS_MAC * L->in * L->out;
        if (l + 1 == m->n_layers) {
            layer_acc(L, buf[cur], acc);
            last_scores(L, acc, score);
            for (uint32_t j = 0; sat && j < L->out; j++)
                *sat += score[j] == INT32_MAX || score[j] == -INT32_MAX;
            break;
        }
        if (!hidden_fused(L, buf[cur], buf[!cur])) {
            layer_acc(L, buf[cur], acc);
            rescale16(L, acc, L->act == INFER_ACT_RELU ? 0 : -INFER_I16_MAX, buf[!cur]);
        }
        gas += activate(L, m->layers[l + 1].in_pad, buf[!cur], sat);
        cur = !cur;
    }
    return gas;
}

#ifdef INFER_HAVE_AVX2_KERNEL
/* Samples scored together by the batched dense path: each weight register
 * loaded serves this many samples. */
#define TILE 4
#define TILE_STRIDE (WITAN_MODEL_WIDTH_MAX + INFER_PAD)
/* Chunk sums a tile keeps in int32 before the rescale; layers with more
 * chunks take the one-sample kernel. */
#define TILE_CHUNKS_MAX 16

static uint32_t chunk_count(const struct infer_layer *L)
{
    return (L->in_pad / 2 + L->chunk - 1) / L->chunk;
}

#define TILE_MADD(s0, s1, as)                                                  \
    do {                                                                       \
        int32_t pr;                                                            \
        memcpy(&pr, (as) + 2 * p, sizeof pr);                                  \
        const __m256i b = _mm256_set1_epi32(pr);                               \
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(b, w0));                   \
        if (nb == 2)                                                           \
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(b, w1));               \
    } while (0)

/* The sums of the TILE samples a + s * TILE_STRIDE against nb (1 or 2)
 * registers of 8 outputs from jb, one int32 sum per chunk of L->chunk
 * input pairs (within int32 by the chunk bound): part[c][s][0..8 nb). */
static inline __attribute__((target("avx2"), always_inline)) void
tile_sums(const struct infer_layer *L, const int16_t *a, uint32_t jb, int nb,
          int32_t part[][TILE][16])
{
    const uint32_t np = L->in_pad / 2, op = L->out_pad, k = L->chunk;
    const int16_t *a0 = a, *a1 = a + TILE_STRIDE, *a2 = a + 2 * TILE_STRIDE,
                  *a3 = a + 3 * TILE_STRIDE;
    for (uint32_t c = 0; c < np; c += k) {
        __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00,
                s20 = s00, s21 = s00, s30 = s00, s31 = s00;
        const uint32_t end = c + k < np ? c + k : np;
        for (uint32_t p = c; p < end; p++) {
            const int16_t *w = L->wp + ((size_t)p * op + jb) * 2;
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
            const __m256i w1 = nb == 2 ? _mm256_loadu_si256((const __m256i *)(w + 16))
                                       : _mm256_setzero_si256();
            TILE_MADD(s00, s01, a0);
            TILE_MADD(s10, s11, a1);
            TILE_MADD(s20, s21, a2);
            TILE_MADD(s30, s31, a3);
        }
        __m256i *o = (__m256i *)part[c / k];
        o[0] = s00, o[2] = s10, o[4] = s20, o[6] = s30;
        if (nb == 2)
            o[1] = s01, o[3] = s11, o[5] = s21, o[7] = s31;
    }
}

/* Eight outputs of one sample from its n chunk sums p (stride TILE * 16):
 * the int32 rescale of spec/models.md section 6, clamped to [vlo, vhi]. */
static inline __attribute__((target("avx2"), always_inline)) __m256i
rescale32(const int32_t *p, uint32_t n, const int32_t *bq, const int32_t *br,
          __m128i cnt, __m256i mask, __m256i vlo, __m256i vhi)
{
    __m256i c = _mm256_load_si256((const __m256i *)p);
    __m256i q = _mm256_sra_epi32(c, cnt), r = _mm256_and_si256(c, mask);
    for (uint32_t i = 1; i < n; i++) {
        c = _mm256_load_si256((const __m256i *)(p + (size_t)i * TILE * 16));
        q = _mm256_add_epi32(q, _mm256_sra_epi32(c, cnt));
        r = _mm256_add_epi32(r, _mm256_and_si256(c, mask));
    }
    r = _mm256_add_epi32(r, _mm256_loadu_si256((const __m256i *)br));
    q = _mm256_add_epi32(q, _mm256_loadu_si256((const __m256i *)bq));
    q = _mm256_add_epi32(q, _mm256_sra_epi32(r, cnt));
    return _mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi);
}

/* A wide hidden layer for TILE samples (L->bias_q set, at most
 * TILE_CHUNKS_MAX chunks): int16 rows of o, as hidden_fused gives. */
__attribute__((target("avx2"))) static void
dense_tile_hidden(const struct infer_layer *L, const int16_t *a, int16_t *o,
                  int32_t lo)
{
    int32_t part[TILE_CHUNKS_MAX][TILE][16] __attribute__((aligned(32)));
    const uint32_t n = chunk_count(L);
    const __m128i cnt = _mm_cvtsi32_si128((int)L->shift);
    const __m256i mask = _mm256_set1_epi32((int32_t)((1u << L->shift) - 1));
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(INFER_I16_MAX);
    uint32_t jb = 0;
    for (; jb + 16 <= L->out_pad; jb += 16) {
        tile_sums(L, a, jb, 2, part);
        for (int s = 0; s < TILE; s++) {
            __m256i v0 = rescale32(part[0][s], n, L->bias_q + jb, L->bias_r + jb,
                                   cnt, mask, vlo, vhi);
            __m256i v1 = rescale32(part[0][s] + 8, n, L->bias_q + jb + 8,
                                   L->bias_r + jb + 8, cnt, mask, vlo, vhi);
            /* packs works within 128-bit lanes: put the quarters back in order */
            __m256i v = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xd8);
            _mm256_storeu_si256((__m256i *)(o + (size_t)s * TILE_STRIDE + jb), v);
        }
    }
    if (jb < L->out_pad) {
        tile_sums(L, a, jb, 1, part);
        for (int s = 0; s < TILE; s++) {
            __m256i v0 = rescale32(part[0][s], n, L->bias_q + jb, L->bias_r + jb,
                                   cnt, mask, vlo, vhi);
            __m256i v = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v0), 0xd8);
            _mm_storeu_si128((__m128i *)(o + (size_t)s * TILE_STRIDE + jb),
                             _mm256_castsi256_si128(v));
        }
    }
}

/* A wide last layer for TILE samples (at most TILE_CHUNKS_MAX chunks): the
 * int64 sums to acc rows of WITAN_MODEL_OUTPUT_COUNT_MAX. */
__attribute__((target("avx2"))) static void
dense_tile_last(const struct infer_layer *L, const int16_t *a, int64_t *acc)
{
    int32_t part[TILE_CHUNKS_MAX][TILE][16] __attribute__((aligned(32)));
    const uint32_t n = chunk_count(L);
    for (uint32_t jb = 0; jb < L->out_pad; jb += 16) {
        const int nb = jb + 16 <= L->out_pad ? 2 : 1;
        if (nb == 2)
            tile_sums(L, a, jb, 2, part);
        else
            tile_sums(L, a, jb, 1, part);
        for (int s = 0; s < TILE; s++)
            for (int r = 0; r < nb; r++) {
                __m256i l = _mm256_setzero_si256(), h = l;
                for (uint32_t c = 0; c < n; c++)
                    AVX2_WIDEN(_mm256_load_si256((const __m256i *)(part[c][s] + 8 * r)), l, h);
                int64_t *d = acc + (size_t)s * WITAN_MODEL_OUTPUT_COUNT_MAX + jb + 8 * r;
                _mm256_storeu_si256((__m256i *)d, l);
                _mm256_storeu_si256((__m256i *)(d + 4), h);
            }
    }
}

/* --- AVX-512 VNNI (chosen at start-up when the CPU has it) ----------------
 * The same tile of TILE samples, 16 outputs a register: vpdpwssd adds a
 * pair's two products to an int32 lane in one instruction (no separate
 * vpaddd), the pair of each sample broadcast, 32 registers for up to 16
 * accumulators. It wraps rather than saturates, but every partial sum of a
 * chunk is within int32 (the chunk bound covers any subset of its terms),
 * so nothing wraps. Same chunk sums, same int32 rescale: the same bits. */
#define T512_OUT 64 /* outputs a pass: 4 registers of 16 */
#define T512_TARGET "avx512f,avx512bw,avx512vl,avx512vnni,avx2"

static inline __attribute__((target(T512_TARGET), always_inline)) __m512i
t512_wload(const int16_t *w, __mmask32 m)
{
    return _mm512_maskz_loadu_epi16(m, w);
}

/* The chunk sums of the TILE samples against R registers of 16 outputs
 * from jb (the last one masked to 8 outputs when tail): part[c][s][0..16 R)
 * for every chunk but the last, which is left in last[s][0..R). */
static inline __attribute__((target(T512_TARGET), always_inline)) void
t512_sums(const struct infer_layer *L, const int16_t *a, uint32_t jb, int R,
          bool tail, int32_t part[][TILE][T512_OUT], __m512i last[TILE][4])
{
    const uint32_t np = L->in_pad / 2, op = L->out_pad, k = L->chunk;
    const __mmask32 full = 0xffffffffu, edge = tail ? 0xffffu : full;
    for (uint32_t c = 0;; c += k) { /* np >= 1: ends in the last chunk */
        __m512i s[TILE][4];
        _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                s[t][r] = _mm512_setzero_si512();
        const uint32_t end = c + k < np ? c + k : np;
        for (uint32_t p = c; p < end; p++) {
            const int16_t *w = L->wp + ((size_t)p * op + jb) * 2;
            __m512i wr[4];
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                wr[r] = t512_wload(w + 32 * r, r + 1 == R ? edge : full);
            _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++) {
                int32_t pr;
                memcpy(&pr, a + (size_t)t * TILE_STRIDE + 2 * p, sizeof pr);
                const __m512i b = _mm512_set1_epi32(pr);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    s[t][r] = _mm512_dpwssd_epi32(s[t][r], wr[r], b);
            }
        }
        if (c + k >= np) { /* the last chunk stays in registers */
            _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    last[t][r] = s[t][r];
            return;
        }
        _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                _mm512_store_si512((__m512i *)(part[c / k][t] + 16 * r), s[t][r]);
    }
}

/* A wide hidden layer (bias_q set, at most TILE_CHUNKS_MAX chunks) for
 * TILE samples, R registers from jb: rescale32 on 16 lanes, as
 * dense_tile_hidden gives. The clamp to 32767 is vpackssdw's saturation
 * (after the lower clamp, so the same value). */
static inline __attribute__((target(T512_TARGET), always_inline)) void
t512_hidden_block(const struct infer_layer *L, const int16_t *a, int16_t *o,
                  int32_t lo, uint32_t jb, int R, bool tail)
{
    int32_t part[TILE_CHUNKS_MAX][TILE][T512_OUT] __attribute__((aligned(64)));
    const uint32_t n = chunk_count(L);
    const __m128i cnt = _mm_cvtsi32_si128((int)L->shift);
    const __m512i mask = _mm512_set1_epi32((int32_t)((1u << L->shift) - 1));
    const __m512i vlo = _mm512_set1_epi32(lo);
    /* vpackssdw interleaves its sources by 128-bit lane: put them back */
    const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    __m512i bq[4], br[4];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
        const __mmask16 m = r + 1 == R && tail ? 0xff : 0xffff;
        bq[r] = _mm512_maskz_loadu_epi32(m, L->bias_q + jb + 16 * r);
        br[r] = _mm512_maskz_loadu_epi32(m, L->bias_r + jb + 16 * r);
    }
    __m512i last[TILE][4];
    t512_sums(L, a, jb, R, tail, part, last);
    _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++) {
        __m512i v[4];
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            __m512i c = last[t][r];
            __m512i q = _mm512_add_epi32(_mm512_sra_epi32(c, cnt), bq[r]);
            __m512i rr = _mm512_add_epi32(_mm512_and_si512(c, mask), br[r]);
            for (uint32_t i = 0; i + 1 < n; i++) {
                c = _mm512_load_si512((const __m512i *)(part[i][t] + 16 * r));
                q = _mm512_add_epi32(q, _mm512_sra_epi32(c, cnt));
                rr = _mm512_add_epi32(rr, _mm512_and_si512(c, mask));
            }
            q = _mm512_add_epi32(q, _mm512_sra_epi32(rr, cnt));
            v[r] = _mm512_max_epi32(q, vlo);
        }
        int16_t *d = o + (size_t)t * TILE_STRIDE + jb;
        _Pragma("GCC unroll 4") for (int r = 0; r + 1 < R; r += 2)
            _mm512_storeu_si512((__m512i *)(d + 16 * r),
                                _mm512_permutexvar_epi64(
                                    order, _mm512_packs_epi32(v[r], v[r + 1])));
        if (R % 2) {
            const __m512i w = _mm512_permutexvar_epi64(
                order, _mm512_packs_epi32(v[R - 1], v[R - 1]));
            if (tail)
                _mm_storeu_si128((__m128i *)(d + 16 * (R - 1)), _mm512_castsi512_si128(w));
            else
                _mm256_storeu_si256((__m256i *)(d + 16 * (R - 1)), _mm512_castsi512_si256(w));
        }
    }
}

__attribute__((target(T512_TARGET))) static void
dense_tile_hidden512(const struct infer_layer *L, const int16_t *a, int16_t *o,
                     int32_t lo)
{
    const uint32_t op = L->out_pad;
    uint32_t jb = 0;
    for (; jb + 64 <= op; jb += 64)
        t512_hidden_block(L, a, o, lo, jb, 4, false);
    if (jb + 32 <= op) {
        t512_hidden_block(L, a, o, lo, jb, 2, false);
        jb += 32;
    }
    if (jb + 16 <= op) {
        t512_hidden_block(L, a, o, lo, jb, 1, false);
        jb += 16;
    }
    if (jb < op)
        t512_hidden_block(L, a, o, lo, jb, 1, true);
}

/* A wide last layer for TILE samples: the int64 sums to acc rows of
 * WITAN_MODEL_OUTPUT_COUNT_MAX, as dense_tile_last. */
static inline __attribute__((target(T512_TARGET), always_inline)) void
t512_last_block(const struct infer_layer *L, const int16_t *a, int64_t *acc,
                uint32_t jb, int R, bool tail)
{
    int32_t part[TILE_CHUNKS_MAX][TILE][T512_OUT] __attribute__((aligned(64)));
    const uint32_t n = chunk_count(L);
    __m512i last[TILE][4];
    t512_sums(L, a, jb, R, tail, part, last);
    _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            __m512i l = _mm512_setzero_si512(), h = l;
            for (uint32_t c = 0; c < n; c++) {
                __m512i v = c + 1 == n ? last[t][r]
                          : _mm512_load_si512((const __m512i *)(part[c][t] + 16 * r));
                l = _mm512_add_epi64(l, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
                h = _mm512_add_epi64(h, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
            }
            int64_t *d = acc + (size_t)t * WITAN_MODEL_OUTPUT_COUNT_MAX + jb + 16 * r;
            _mm512_storeu_si512((__m512i *)d, l);
            if (!(tail && r + 1 == R))
                _mm512_storeu_si512((__m512i *)(d + 8), h);
        }
}

__attribute__((target(T512_TARGET))) static void
dense_tile_last512(const struct infer_layer *L, const int16_t *a, int64_t *acc)
{
    const uint32_t op = L->out_pad;
    uint32_t jb = 0;
    for (; jb + 64 <= op; jb += 64)
        t512_last_block(L, a, acc, jb, 4, false);
    if (jb + 32 <= op) {
        t512_last_block(L, a, acc, jb, 2, false);
        jb += 32;
    }
    if (jb + 16 <= op) {
        t512_last_block(L, a, acc, jb, 1, false);
        jb += 16;
    }
    if (jb < op)
        t512_last_block(L, a, acc, jb, 1, true);
}

/* rows_avx2 for TILE samples (rows TILE_STRIDE apart), 32 inputs a
 * vpmaddwd: each lane a pair (< 2^31), widened at once; sums to acc rows
 * of WITAN_MODEL_OUTPUT_COUNT_MAX. */
__attribute__((target(T512_TARGET))) static void
rows512_tile(const struct infer_layer *L, const int16_t *a, int64_t *acc)
{
    for (uint32_t j = 0; j < L->out; j++) {
        const int16_t *w = L->rows + (size_t)j * L->in_pad;
        __m512i lo[TILE], hi[TILE];
        _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
            lo[t] = hi[t] = _mm512_setzero_si512();
        for (uint32_t i = 0; i < L->in_pad; i += 32) {
            /* in_pad is a multiple of 16: the last load may be half */
            const __mmask32 m = L->in_pad - i >= 32 ? 0xffffffffu : 0xffffu;
            const __m512i wv = _mm512_maskz_loadu_epi16(m, w + i);
            _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++) {
                const __m512i p = _mm512_madd_epi16(
                    _mm512_maskz_loadu_epi16(m, a + (size_t)t * TILE_STRIDE + i), wv);
                lo[t] = _mm512_add_epi64(lo[t], _mm512_cvtepi32_epi64(_mm512_castsi512_si256(p)));
                hi[t] = _mm512_add_epi64(hi[t], _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p, 1)));
            }
        }
        _Pragma("GCC unroll 4") for (int t = 0; t < TILE; t++)
            acc[(size_t)t * WITAN_MODEL_OUTPUT_COUNT_MAX + j] =
                _mm512_reduce_add_epi64(_mm512_add_epi64(lo[t], hi[t]));
    }
    for (int t = 0; t < TILE; t++)
        for (uint32_t j = L->out; j < L->out_pad; j++)
            acc[(size_t)t * WITAN_MODEL_OUTPUT_COUNT_MAX + j] = 0;
}

/* TILE samples (x: TILE rows of n_in) through every dense layer: writes
 * TILE rows of n_score scores and adds each sample's gas beyond base to
 * gas[s], as dense_scores without saturation counts. */
__attribute__((target("avx2"))) static void
dense_scores_tile(const infer_model *m, const int64_t *x, int64_t *score,
                  uint64_t *gas)
{
    _Static_assert(WITAN_MODEL_OUTPUT_COUNT_MAX % INFER_OUT_BLOCK == 0,
                   "a last layer's padded sums fit OUTPUT_COUNT_MAX");
    int16_t buf[2][TILE][TILE_STRIDE] __attribute__((aligned(32)));
    int64_t acc[TILE][WITAN_MODEL_OUTPUT_COUNT_MAX];
    if (cpu_has_vnni512)
        normalise512(m, x, TILE, buf[0][0], TILE_STRIDE);
    else
        for (int s = 0; s < TILE; s++)
            normalise_avx2(m, x + (size_t)s * m->n_in, buf[0][s]);
    int cur = 0;
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const struct infer_layer *L = &m->layers[l];
        const bool tiled = !L->rows && chunk_count(L) <= TILE_CHUNKS_MAX;
        for (int s = 0; s < TILE; s++)
            gas[s] += (uint64_t)INFER_GAS_MAC * L->in * L->out;
        if (l + 1 == m->n_layers) {
            WITAN_ASSERT(L->out_pad <= WITAN_MODEL_OUTPUT_COUNT_MAX);
            if (L->rows && cpu_has_vnni512)
                rows512_tile(L, buf[cur][0], acc[0]);
            else if (tiled && cpu_has_vnni512)
                dense_tile_last512(L, buf[cur][0], acc[0]);
            else if (tiled)
                dense_tile_last(L, buf[cur][0], acc[0]);
            else
                for (int s = 0; s < TILE; s++)
                    layer_acc(L, buf[cur][s], acc[s]);
            for (int s = 0; s < TILE; s++)
                last_scores(L, acc[s], score + (size_t)s * m->n_score);
            break;
        }
        const int32_t lo = L->act == INFER_ACT_RELU ? 0 : -INFER_I16_MAX;
        if (tiled && L->bias_q && cpu_has_vnni512) {
            dense_tile_hidden512(L, buf[cur][0], buf[!cur][0], lo);
        } else if (tiled && L->bias_q) {
            dense_tile_hidden(L, buf[cur][0], buf[!cur][0], lo);
        } else {
            for (int s = 0; s < TILE; s++)
                if (!hidden_fused(L, buf[cur][s], buf[!cur][s])) {
                    WITAN_ASSERT(L->out_pad <= WITAN_MODEL_OUTPUT_COUNT_MAX);
                    layer_acc(L, buf[cur][s], acc[0]);
                    rescale16(L, acc[0], lo, buf[!cur][s]);
                }
        }
        /* ReLU and identity were done by the rescale: only padding left */
        const bool act = (L->act != INFER_ACT_RELU && L->act != INFER_ACT_IDENTITY) ||
                         L->out < m->layers[l + 1].in_pad;
        for (int s = 0; act && s < TILE; s++)
            gas[s] += activate(L, m->layers[l + 1].in_pad, buf[!cur][s], NULL);
        cur = !cur;
    }
}
#endif

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

#ifdef INFER_HAVE_AVX2_KERNEL
/* gcc -O2 leaves the plain loop scalar (7 instructions an input, a tenth of
 * a batched MLP score); four inputs per compare pair instead. */
__attribute__((target("avx2"))) static int
inputs_bad_avx2(const int64_t *x, size_t n)
{
    const __m256i hi = _mm256_set1_epi64x(WITAN_MODEL_INPUT_ABS_MAX);
    const __m256i lo = _mm256_set1_epi64x(-WITAN_MODEL_INPUT_ABS_MAX);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi64(v, hi),
                                                    _mm256_cmpgt_epi64(lo, v)));
    }
    int r = !_mm256_testz_si256(bad, bad);
    for (; i < n; i++)
        r |= (x[i] > WITAN_MODEL_INPUT_ABS_MAX) | (x[i] < -WITAN_MODEL_INPUT_ABS_MAX);
    return r;
}

/* inputs_bad_avx2 with AVX-512's 64-bit max and min: the extremes of
 * eight lanes, compared once at the end. */
__attribute__((target("avx512f,avx2"))) static int
inputs_bad512(const int64_t *x, size_t n)
{
    __m512i hi = _mm512_setzero_si512(), lo = hi;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i v = _mm512_loadu_si512((const void *)(x + i));
        hi = _mm512_max_epi64(hi, v);
        lo = _mm512_min_epi64(lo, v);
    }
    if (i < n) {
        const __mmask8 k = (__mmask8)((1u << (n - i)) - 1);
        const __m512i v = _mm512_maskz_loadu_epi64(k, x + i);
        hi = _mm512_max_epi64(hi, v);
        lo = _mm512_min_epi64(lo, v);
    }
    return _mm512_reduce_max_epi64(hi) > WITAN_MODEL_INPUT_ABS_MAX ||
           _mm512_reduce_min_epi64(lo) < -WITAN_MODEL_INPUT_ABS_MAX;
}
#endif

/* The batch path checks every input of every sample before scoring any. */
static int check_inputs(const int64_t *x, size_t n)
{
#ifdef INFER_HAVE_AVX2_KERNEL
    if (cpu_has_vnni512)
        return inputs_bad512(x, n) ? WITAN_ERANGE : 0;
    if (cpu_has_avx2)
        return inputs_bad_avx2(x, n) ? WITAN_ERANGE : 0;
#endif
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (x[i] > WITAN_MODEL_INPUT_ABS_MAX) | (x[i] < -WITAN_MODEL_INPUT_ABS_MAX);
    return bad ? WITAN_ERANGE : 0;
}

static int64_t clamp_score(int64_t v)
{
    return sat32(v);
}

static int score_checked(const infer_model *m, const int64_t *input,
                         int32_t *output, struct infer_result *result,
                         bool diagnose);

int infer_score(const infer_model *m, const int64_t *input, size_t input_count,
                int32_t *output, size_t output_count,
                struct infer_result *result)
{
    WITAN_ASSERT(m && input && output);
    if (input_count != m->n_in || output_count != m->n_out)
        return WITAN_EINVAL;
    int err = check_inputs(input, input_count);
    if (err)
        return err;
    return score_checked(m, input, output, result, true);
}

/* infer_score after its checks (infer_score_batch checks all at once);
 * `diagnose`: count saturations and inputs outside calibration (single
 * scores only: the batched path reports neither and pays for neither). */
static int score_checked(const infer_model *m, const int64_t *input,
                         int32_t *output, struct infer_result *result,
                         bool diagnose)
{
    int64_t score[WITAN_MODEL_OUTPUT_COUNT_MAX];
    uint64_t gas = INFER_GAS_BASE + (uint64_t)INFER_GAS_INPUT * m->n_in;
    uint32_t sat = 0;
    if (m->n_layers) {
        gas += dense_scores(m, input, score, diagnose ? &sat : NULL);
    } else {
        uint64_t steps = 0;
        for (uint32_t k = 0; k < m->n_score; k++)
            score[k] = 0;
        tree_block(m, input, 1, score, &steps);
        for (uint32_t k = 0; k < m->n_score; k++) {
            score[k] = clamp_score(score[k] + m->base[k]);
            sat += score[k] == INT32_MAX || score[k] == -INT32_MAX;
        }
        gas += (uint64_t)INFER_GAS_NODE * steps;
    }
    size_t label;
    gas += finish(m, score, output, &label);
    WITAN_ASSERT(gas <= m->gas_max);
    if (result) {
        result->label = label;
        result->gas = gas;
        result->saturated = sat;
        result->outside = result->first_outside = 0;
        for (uint32_t i = 0; diagnose && m->calibrated && i < m->n_in; i++)
            if (input[i] < m->cal_min[i] || input[i] > m->cal_max[i])
                if (result->outside++ == 0)
                    result->first_outside = i + 1;
    }
    return 0;
}

#define TREE_BLOCK 64

int infer_score_batch(const infer_model *m, const int64_t *inputs,
                      size_t sample_count, int32_t *outputs, size_t *labels,
                      uint64_t *gas_total)
{
    WITAN_ASSERT(m && (inputs || !sample_count) && (outputs || !sample_count));
    int err = check_inputs(inputs, sample_count * m->n_in);
    if (err)
        return err;
    uint64_t total = 0;
    size_t s = 0;
#ifdef INFER_HAVE_AVX2_KERNEL
    for (; m->n_layers && cpu_has_avx2 && s + TILE <= sample_count; s += TILE) {
        int64_t score[TILE * WITAN_MODEL_OUTPUT_COUNT_MAX];
        uint64_t gas[TILE];
        for (int t = 0; t < TILE; t++)
            gas[t] = INFER_GAS_BASE + (uint64_t)INFER_GAS_INPUT * m->n_in;
        dense_scores_tile(m, inputs + s * m->n_in, score, gas);
        for (size_t t = 0; t < TILE; t++) {
            size_t label;
            total += gas[t] + finish(m, score + t * m->n_score,
                                     outputs + (s + t) * m->n_out, &label);
            if (labels)
                labels[s + t] = label;
        }
    }
#endif
    if (m->n_layers) {
        for (; s < sample_count; s++) {
            struct infer_result r;
            err = score_checked(m, inputs + s * m->n_in,
                                outputs + s * m->n_out, &r, false);
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
