/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4), Witan's own, because a validator hashes every
 * transaction several times over (its id, the txs root, record hashes, the
 * state root) and libsodium's portable compression function made hashing a
 * third of applying a block. On x86-64 processors with the SHA extensions
 * the compression runs on them; elsewhere in portable C. Both give the same
 * bytes: the tests compare them with each other and with libsodium.
 */
#include "crypto/crypto.h"

#include <string.h>

#define SHA256_BLOCK_SIZE 64

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SHA256_HAVE_SHANI 1
#endif

struct sha256 {
    uint32_t h[8];
    uint64_t bytes; /* message length so far */
    uint8_t buf[SHA256_BLOCK_SIZE];
};

_Static_assert(sizeof(struct sha256) <= sizeof(((wcrypto_hasher *)0)->state),
               "wcrypto_hasher must hold the SHA-256 state");

static const uint32_t K[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                               0xa54ff53a, 0x510e527f, 0x9b05688c,
                               0x1f83d9ab, 0x5be0cd19};

static inline uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static void compress_portable(uint32_t h[8], const uint8_t *data,
                              size_t blocks)
{
    for (; blocks; blocks--, data += SHA256_BLOCK_SIZE) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++)
            w[t] = load_be32(data + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^
                          (w[t - 15] >> 3);
            uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^
                          (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
                          ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
                          ((a & b) ^ (a & c) ^ (b & c));
            k = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += k;
    }
}

#ifdef SHA256_HAVE_SHANI
/*
 * The SHA extensions keep the working variables as two vectors, ABEF and
 * CDGH (most significant lane first); sha256rnds2 does two rounds, with
 * the two round inputs W[t] + K[t] in the low lanes of its third operand.
 * Message words go four to a vector; sha256msg1 and sha256msg2 compute the
 * next four from the previous sixteen, the W[t − 7] term added between.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void
compress_shani(uint32_t h[8], const uint8_t *data, size_t blocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
                                         0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

    for (; blocks; blocks--, data += SHA256_BLOCK_SIZE) {
        __m128i abef_in = abef, cdgh_in = cdgh, w[4];
        for (int i = 0; i < 16; i++) {
            __m128i m;
            if (i < 4) {
                m = _mm_shuffle_epi8(
                    _mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
            } else {
                /* w[i & 3] holds words 4i − 16 …, w[(i + 1) & 3] 4i − 12 …,
                 * w[(i + 2) & 3] 4i − 8 …, w[(i + 3) & 3] 4i − 4 … */
                m = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                m = _mm_add_epi32(
                    m, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                m = _mm_sha256msg2_epu32(m, w[(i + 3) & 3]);
            }
            w[i & 3] = m;
            __m128i wk = _mm_add_epi32(
                m, _mm_load_si128((const __m128i *)&K[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh,
                                         _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

typedef void compress_fn(uint32_t h[8], const uint8_t *data, size_t blocks);
static compress_fn *compress = compress_portable;

bool wcrypto_sha256_accelerate(bool on)
{
#ifdef SHA256_HAVE_SHANI
    if (on && __builtin_cpu_supports("sha") &&
        __builtin_cpu_supports("sse4.1")) {
        compress = compress_shani;
        return true;
    }
#endif
    (void)on;
    compress = compress_portable;
    return false;
}

static void sha256_init(struct sha256 *s)
{
    memcpy(s->h, H0, sizeof s->h);
    s->bytes = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
    size_t used = (size_t)(s->bytes % SHA256_BLOCK_SIZE);
    s->bytes += n;
    if (used) {
        size_t take = SHA256_BLOCK_SIZE - used;
        if (n < take) {
            memcpy(s->buf + used, p, n);
            return;
        }
        memcpy(s->buf + used, p, take);
        compress(s->h, s->buf, 1);
        p += take;
        n -= take;
    }
    if (n >= SHA256_BLOCK_SIZE) {
        compress(s->h, p, n / SHA256_BLOCK_SIZE);
        p += n - n % SHA256_BLOCK_SIZE;
        n %= SHA256_BLOCK_SIZE;
    }
    if (n)
        memcpy(s->buf, p, n);
}

static void sha256_final(struct sha256 *s, uint8_t out[WCRYPTO_HASH_SIZE])
{
    size_t used = (size_t)(s->bytes % SHA256_BLOCK_SIZE);
    uint64_t bits = s->bytes * 8;
    s->buf[used++] = 0x80;
    if (used > SHA256_BLOCK_SIZE - 8) {
        memset(s->buf + used, 0, SHA256_BLOCK_SIZE - used);
        compress(s->h, s->buf, 1);
        used = 0;
    }
    memset(s->buf + used, 0, SHA256_BLOCK_SIZE - 8 - used);
    for (int i = 0; i < 8; i++)
        s->buf[SHA256_BLOCK_SIZE - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress(s->h, s->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void wcrypto_sha256(const void *data, size_t size,
                    uint8_t out[WCRYPTO_HASH_SIZE])
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, size);
    sha256_final(&s, out);
}

void wcrypto_hasher_init(wcrypto_hasher *h, const char *tag)
{
    size_t tag_size = strlen(tag);
    WITAN_ASSERT(tag_size > 0 && tag_size <= WITAN_DOMAIN_TAG_SIZE_MAX);
    static const uint8_t zero = 0;
    struct sha256 *s = (struct sha256 *)h->state;
    sha256_init(s);
    sha256_update(s, (const uint8_t *)tag, tag_size);
    sha256_update(s, &zero, 1);
}

void wcrypto_hasher_update(wcrypto_hasher *h, const void *data, size_t size)
{
    sha256_update((struct sha256 *)h->state, data, size);
}

void wcrypto_hasher_final(wcrypto_hasher *h, uint8_t out[WCRYPTO_HASH_SIZE])
{
    sha256_final((struct sha256 *)h->state, out);
}

void wcrypto_hash_tagged(const char *tag, const void *data, size_t size,
                         uint8_t out[WCRYPTO_HASH_SIZE])
{
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, tag);
    wcrypto_hasher_update(&h, data, size);
    wcrypto_hasher_final(&h, out);
}
