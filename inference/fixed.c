/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exact conversions between decimal values (the mantissa and scale of an
 * attestation, or text on a command line) and the fixed-point inputs of a
 * model. Integers only, so every validator converts to the same bits.
 */
#include <string.h>

#include "inference/internal.h"

static __int128 floor_div(__int128 a, __int128 b)
{
    __int128 q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int infer_fixed_from_decimal(int64_t mantissa, uint32_t scale,
                             uint32_t frac_bits, int64_t *out)
{
    if (scale > WITAN_DECIMAL_SCALE_MAX || frac_bits > WITAN_MODEL_FRAC_BITS_MAX)
        return WITAN_EINVAL;
    __int128 p10 = 1;
    for (uint32_t i = 0; i < scale; i++)
        p10 *= 10;
    /* round half up: floor((2 * m * 2^f + 10^s) / (2 * 10^s)) */
    __int128 num = (__int128)mantissa * ((__int128)1 << frac_bits) * 2 + p10;
    __int128 v = floor_div(num, 2 * p10);
    if (v > WITAN_MODEL_INPUT_ABS_MAX || v < -WITAN_MODEL_INPUT_ABS_MAX)
        return WITAN_ERANGE;
    *out = (int64_t)v;
    return 0;
}

/* Bits of a positive value below 2^128. */
static int bit_length(unsigned __int128 v)
{
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
}

int infer_float32_key_from_decimal(int64_t mantissa, uint32_t scale,
                                   int32_t *key)
{
    if (scale > WITAN_DECIMAL_SCALE_MAX)
        return WITAN_EINVAL;
    if (mantissa == 0) {
        *key = 0;
        return 0;
    }
    /* |d| = m / 10^s lies in [1e-18, 2^63): always a normal float32, so the
     * rounding is q * 2^-k with q in [2^23, 2^24), to nearest, ties even. */
    unsigned __int128 m = mantissa < 0 ? (unsigned __int128)(-(__int128)mantissa)
                                       : (unsigned __int128)mantissa;
    unsigned __int128 p10 = 1;
    for (uint32_t i = 0; i < scale; i++)
        p10 *= 10;
    /* k so that m 2^k / 10^s has its leading bit at 2^23, give or take one:
     * then the numerator stays under 2^88 and the denominator under 2^84. */
    int k = 24 + bit_length(p10) - bit_length(m);
    unsigned __int128 num, den, q;
    for (;;) {
        num = k >= 0 ? m << k : m;
        den = k >= 0 ? p10 : p10 << -k;
        q = num / den;
        if (q >= ((unsigned __int128)1 << 24))
            k--;
        else if (q < ((unsigned __int128)1 << 23))
            k++;
        else
            break;
    }
    unsigned __int128 rem = num - q * den;
    if (2 * rem > den || (2 * rem == den && (q & 1)))
        q++;
    if (q == ((unsigned __int128)1 << 24)) {
        q >>= 1;
        k--;
    }
    /* value = q 2^-k = 1.f * 2^(23 - k): biased exponent 150 - k */
    int exponent = 150 - k;
    WITAN_ASSERT(exponent >= 1 && exponent <= 254);
    uint32_t bits = (uint32_t)exponent << 23 | ((uint32_t)q & 0x7fffff);
    *key = mantissa < 0 ? -(int32_t)bits : (int32_t)bits;
    return 0;
}

int32_t infer_float32_key(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    int32_t magnitude = (int32_t)(bits & 0x7fffffff);
    return bits >> 31 ? -magnitude : magnitude;
}

float infer_float32_of_key(int64_t key)
{
    WITAN_ASSERT(key > -((int64_t)1 << 31) && key < ((int64_t)1 << 31));
    uint32_t bits = key < 0 ? 0x80000000u | (uint32_t)-key : (uint32_t)key;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int infer_input_from_decimal(const infer_model *model, size_t index,
                             int64_t mantissa, uint32_t scale, int64_t *out)
{
    WITAN_ASSERT(index < model->n_in);
    if (model->input_encoding == INFER_IN_FLOAT32_ORDER) {
        int32_t key;
        int err = infer_float32_key_from_decimal(mantissa, scale, &key);
        if (!err)
            *out = key;
        return err;
    }
    return infer_fixed_from_decimal(mantissa, scale, model->in_frac[index],
                                    out);
}

int infer_decimal_parse(const char *text, size_t len, int64_t *mantissa,
                        uint32_t *scale)
{
    size_t i = 0;
    bool neg = false, point = false, digit = false;
    int64_t m = 0;
    int64_t s = 0;
    uint32_t ndig = 0;
    if (i < len && (text[i] == '-' || text[i] == '+'))
        neg = text[i++] == '-';
    for (; i < len; i++) {
        char c = text[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (c == 'e' || c == 'E')
            break;
        if (c < '0' || c > '9')
            return WITAN_EDECODE;
        digit = true;
        if (point)
            s++;
        if (m == 0 && c == '0')
            continue; /* leading zeros cost no precision */
        if (++ndig > 18)
            return WITAN_ERANGE;
        m = m * 10 + (c - '0');
    }
    if (!digit)
        return WITAN_EDECODE;
    if (i < len) { /* exponent: e[+-]digits */
        i++;
        bool eneg = false;
        if (i < len && (text[i] == '-' || text[i] == '+'))
            eneg = text[i++] == '-';
        if (i >= len)
            return WITAN_EDECODE;
        int64_t e = 0;
        for (; i < len; i++) {
            if (text[i] < '0' || text[i] > '9')
                return WITAN_EDECODE;
            e = e * 10 + (text[i] - '0');
            if (e > 100)
                return WITAN_ERANGE;
        }
        s += eneg ? e : -e;
    }
    while (s < 0) { /* a positive exponent scales the mantissa up */
        if (m > INT64_MAX / 10)
            return WITAN_ERANGE;
        m *= 10;
        s++;
    }
    while (s > WITAN_DECIMAL_SCALE_MAX && m % 10 == 0 && m) {
        m /= 10;
        s--;
    }
    if (m == 0)
        s = 0;
    if (s > WITAN_DECIMAL_SCALE_MAX)
        return WITAN_ERANGE;
    *mantissa = neg ? -m : m;
    *scale = (uint32_t)s;
    return 0;
}
