/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine's crypto reference, one core: Ed25519 and secp256k1 sign and
 * verify rates and SHA-256 throughput (Witan's, on the SHA extensions where
 * the processor has them and in portable C, beside libsodium's). Every later benchmark states its
 * figures beside these (a ledger's cost per transaction is bounded below by
 * one signature check), so they are measured in the same run.
 *
 *   bench_crypto                    the full table
 *   bench_crypto --ed25519-verify   only the verification rate, as a number
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"

#define BENCH_SECONDS_MIN 0.4

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs op in growing rounds until BENCH_SECONDS_MIN has passed; returns
 * operations per second. */
typedef void (*bench_op)(void *ctx, unsigned i);
static double rate(bench_op op, void *ctx)
{
    unsigned done = 0, round = 16;
    double start = now_s(), elapsed;
    do {
        for (unsigned i = 0; i < round; i++)
            op(ctx, done + i);
        done += round;
        round *= 2;
        elapsed = now_s() - start;
    } while (elapsed < BENCH_SECONDS_MIN);
    return done / elapsed;
}

struct sig_ctx {
    wcrypto_keypair kp;
    uint8_t digest[32];
    uint8_t sig[64];
};

static void op_sign(void *p, unsigned i)
{
    struct sig_ctx *c = p;
    c->digest[0] = (uint8_t)i;
    WITAN_ASSERT(wcrypto_sign(&c->kp, c->digest, c->sig) == 0);
}

static void op_verify(void *p, unsigned i)
{
    struct sig_ctx *c = p;
    (void)i;
    WITAN_ASSERT(wcrypto_verify(&c->kp.pub, c->digest, c->sig) == 0);
}

struct hash_ctx {
    uint8_t buf[16384];
    size_t size;
    uint8_t out[32];
};

static void op_hash(void *p, unsigned i)
{
    struct hash_ctx *c = p;
    c->buf[0] = (uint8_t)i;
    wcrypto_sha256(c->buf, c->size, c->out);
}

static void op_hash_sodium(void *p, unsigned i)
{
    struct hash_ctx *c = p;
    c->buf[0] = (uint8_t)i;
    crypto_hash_sha256(c->out, c->buf, c->size);
}

static double verify_rate(enum wcrypto_key_type type, double *sign_rate)
{
    struct sig_ctx c;
    memset(&c, 0, sizeof c);
    WITAN_ASSERT(wcrypto_keypair_generate(type, &c.kp) == 0);
    if (sign_rate)
        *sign_rate = rate(op_sign, &c);
    WITAN_ASSERT(wcrypto_sign(&c.kp, c.digest, c.sig) == 0);
    double r = rate(op_verify, &c);
    wcrypto_keypair_wipe(&c.kp);
    return r;
}

int main(int argc, char **argv)
{
    if (wcrypto_init() != 0)
        return 1;
    if (argc == 2 && strcmp(argv[1], "--ed25519-verify") == 0) {
        printf("%.0f\n", verify_rate(WCRYPTO_KEY_ED25519, NULL));
        return 0;
    }
    double ed_sign, secp_sign;
    double ed_verify = verify_rate(WCRYPTO_KEY_ED25519, &ed_sign);
    double secp_verify = verify_rate(WCRYPTO_KEY_SECP256K1, &secp_sign);
    printf("crypto reference, one core (ops/s)\n");
    printf("  %-22s %12.0f   (%.1f us each)\n", "ed25519 sign", ed_sign,
           1e6 / ed_sign);
    printf("  %-22s %12.0f   (%.1f us each)\n", "ed25519 verify", ed_verify,
           1e6 / ed_verify);
    printf("  %-22s %12.0f   (%.1f us each)\n", "secp256k1 sign", secp_sign,
           1e6 / secp_sign);
    printf("  %-22s %12.0f   (%.1f us each)\n", "secp256k1 verify",
           secp_verify, 1e6 / secp_verify);
    static struct hash_ctx h;
    static const size_t sizes[] = {64, 256, 1024, 16384};
    bool accel = wcrypto_sha256_accelerate(true);
    printf("sha256, one core (MB/s): witan%s, witan portable C, libsodium\n",
           accel ? " on the SHA extensions" : " (no SHA extensions here)");
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(sizes); i++) {
        h.size = sizes[i];
        double r[3];
        wcrypto_sha256_accelerate(true);
        r[0] = rate(op_hash, &h);
        wcrypto_sha256_accelerate(false);
        r[1] = rate(op_hash, &h);
        r[2] = rate(op_hash_sodium, &h);
        printf("  %6zu bytes    %8.0f  %8.0f  %8.0f\n", sizes[i],
               r[0] * (double)sizes[i] / 1e6, r[1] * (double)sizes[i] / 1e6,
               r[2] * (double)sizes[i] / 1e6);
    }
    wcrypto_sha256_accelerate(accel);
    return 0;
}
