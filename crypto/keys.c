/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and signatures for both key types (hashing is in sha256.c).
 *
 * This is the only file that sees libsodium's and libsecp256k1's return
 * conventions; each call's result is translated on the line that makes it.
 */
#include "crypto/crypto.h"

#include <pthread.h>
#include <secp256k1.h>
#include <sodium.h>
#include <string.h>

_Static_assert(crypto_sign_PUBLICKEYBYTES == WCRYPTO_ED25519_PUBKEY_SIZE, "");
_Static_assert(crypto_sign_SECRETKEYBYTES == 64, "");
_Static_assert(crypto_sign_BYTES == WCRYPTO_SIG_SIZE, "");
_Static_assert(crypto_sign_SEEDBYTES == WCRYPTO_SEED_SIZE, "");

static secp256k1_context *secp_ctx;
static int init_result = WITAN_ECRYPTOINIT;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libraries(void)
{
    if (sodium_init() < 0)
        return;
    wcrypto_sha256_accelerate(true);
    secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!secp_ctx)
        return;
    /* Blinding against side channels; the randomness never reaches output. */
    uint8_t blind[32];
    randombytes_buf(blind, sizeof blind);
    int ok = secp256k1_context_randomize(secp_ctx, blind);
    sodium_memzero(blind, sizeof blind);
    if (witan_from_secp(ok, WITAN_ECRYPTOINIT) != 0)
        return;
    init_result = WITAN_OK;
}

int wcrypto_init(void)
{
    pthread_once(&init_once, init_libraries);
    return init_result;
}

const char *wcrypto_key_type_name(enum wcrypto_key_type type)
{
    switch (type) {
    case WCRYPTO_KEY_ED25519:
        return "ed25519";
    case WCRYPTO_KEY_SECP256K1:
        return "secp256k1";
    }
    return "unknown";
}

int wcrypto_key_type_parse(const char *name, enum wcrypto_key_type *type)
{
    if (strcmp(name, "ed25519") == 0) {
        *type = WCRYPTO_KEY_ED25519;
        return WITAN_OK;
    }
    if (strcmp(name, "secp256k1") == 0) {
        *type = WCRYPTO_KEY_SECP256K1;
        return WITAN_OK;
    }
    return WITAN_EKEYTYPE;
}

int wcrypto_keypair_from_seed(enum wcrypto_key_type type,
                              const uint8_t seed[WCRYPTO_SEED_SIZE],
                              wcrypto_keypair *out)
{
    WITAN_ASSERT(init_result == WITAN_OK);
    memset(out, 0, sizeof *out);
    memcpy(out->seed, seed, WCRYPTO_SEED_SIZE);
    out->pub.type = type;

    if (type == WCRYPTO_KEY_ED25519) {
        if (crypto_sign_seed_keypair(out->pub.bytes, out->secret, seed) != 0)
            goto fail_key;
        out->pub.size = WCRYPTO_ED25519_PUBKEY_SIZE;
        return WITAN_OK;
    }
    if (type == WCRYPTO_KEY_SECP256K1) {
        secp256k1_pubkey pk;
        size_t size = WCRYPTO_SECP256K1_PUBKEY_SIZE;
        if (!secp256k1_ec_seckey_verify(secp_ctx, seed) ||
            !secp256k1_ec_pubkey_create(secp_ctx, &pk, seed) ||
            !secp256k1_ec_pubkey_serialize(secp_ctx, out->pub.bytes, &size, &pk,
                                           SECP256K1_EC_COMPRESSED))
            goto fail_key;
        WITAN_ASSERT(size == WCRYPTO_SECP256K1_PUBKEY_SIZE);
        memcpy(out->secret, seed, 32);
        out->pub.size = WCRYPTO_SECP256K1_PUBKEY_SIZE;
        return WITAN_OK;
    }
    wcrypto_keypair_wipe(out);
    return WITAN_EKEYTYPE;
fail_key:
    wcrypto_keypair_wipe(out);
    return WITAN_EKEY;
}

int wcrypto_keypair_generate(enum wcrypto_key_type type, wcrypto_keypair *out)
{
    WITAN_ASSERT(init_result == WITAN_OK);
    uint8_t seed[WCRYPTO_SEED_SIZE];
    int err;
    /* A random 32-byte string is a valid secp256k1 scalar except with
     * probability about 2^-128; a bounded retry keeps this total. */
    for (int attempt = 0; attempt < 8; attempt++) {
        randombytes_buf(seed, sizeof seed);
        err = wcrypto_keypair_from_seed(type, seed, out);
        if (err != WITAN_EKEY)
            break;
    }
    sodium_memzero(seed, sizeof seed);
    return err;
}

void wcrypto_keypair_wipe(wcrypto_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

int wcrypto_pubkey_parse(enum wcrypto_key_type type, const uint8_t *bytes,
                         size_t size, wcrypto_pubkey *out)
{
    memset(out, 0, sizeof *out);
    if (type == WCRYPTO_KEY_ED25519) {
        if (size != WCRYPTO_ED25519_PUBKEY_SIZE)
            return WITAN_EKEY;
    } else if (type == WCRYPTO_KEY_SECP256K1) {
        secp256k1_pubkey pk;
        if (size != WCRYPTO_SECP256K1_PUBKEY_SIZE ||
            !secp256k1_ec_pubkey_parse(secp_ctx, &pk, bytes, size))
            return WITAN_EKEY;
    } else {
        return WITAN_EKEYTYPE;
    }
    out->type = type;
    out->size = (uint8_t)size;
    memcpy(out->bytes, bytes, size);
    return WITAN_OK;
}

int wcrypto_sign(const wcrypto_keypair *kp,
                 const uint8_t digest[WCRYPTO_HASH_SIZE],
                 uint8_t sig[WCRYPTO_SIG_SIZE])
{
    WITAN_ASSERT(init_result == WITAN_OK);
    if (kp->pub.type == WCRYPTO_KEY_ED25519) {
        return witan_from_sodium(crypto_sign_detached(sig, NULL, digest,
                                                      WCRYPTO_HASH_SIZE,
                                                      kp->secret),
                                 WITAN_EKEY);
    }
    if (kp->pub.type == WCRYPTO_KEY_SECP256K1) {
        secp256k1_ecdsa_signature s;
        /* RFC 6979 nonces; libsecp256k1 always emits low-S. */
        if (!secp256k1_ecdsa_sign(secp_ctx, &s, digest, kp->secret, NULL,
                                  NULL))
            return WITAN_EKEY;
        return witan_from_secp(
            secp256k1_ecdsa_signature_serialize_compact(secp_ctx, sig, &s),
            WITAN_ELIBRARY);
    }
    return WITAN_EKEYTYPE;
}

int wcrypto_verify(const wcrypto_pubkey *pub,
                   const uint8_t digest[WCRYPTO_HASH_SIZE],
                   const uint8_t sig[WCRYPTO_SIG_SIZE])
{
    WITAN_ASSERT(init_result == WITAN_OK);
    if (pub->type == WCRYPTO_KEY_ED25519) {
        if (pub->size != WCRYPTO_ED25519_PUBKEY_SIZE)
            return WITAN_EKEY;
        return witan_from_sodium(crypto_sign_verify_detached(
                                     sig, digest, WCRYPTO_HASH_SIZE,
                                     pub->bytes),
                                 WITAN_ESIG);
    }
    if (pub->type == WCRYPTO_KEY_SECP256K1) {
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature s;
        if (pub->size != WCRYPTO_SECP256K1_PUBKEY_SIZE ||
            !secp256k1_ec_pubkey_parse(secp_ctx, &pk, pub->bytes, pub->size))
            return WITAN_EKEY;
        if (!secp256k1_ecdsa_signature_parse_compact(secp_ctx, &s, sig))
            return WITAN_ESIG;
        /* secp256k1_ecdsa_verify refuses high-S itself: a malleated copy
         * of a valid signature never verifies. */
        return witan_from_secp(secp256k1_ecdsa_verify(secp_ctx, &s, digest,
                                                      &pk),
                               WITAN_ESIG);
    }
    return WITAN_EKEYTYPE;
}

int wcrypto_verify_wire(enum wcrypto_key_type type, const uint8_t *pubkey,
                        size_t pubkey_size,
                        const uint8_t digest[WCRYPTO_HASH_SIZE],
                        const uint8_t *sig, size_t sig_size)
{
    wcrypto_pubkey pub;
    int err = wcrypto_pubkey_parse(type, pubkey, pubkey_size, &pub);
    if (err)
        return err;
    if (sig_size != WCRYPTO_SIG_SIZE)
        return WITAN_ESIG;
    return wcrypto_verify(&pub, digest, sig);
}

void wcrypto_address(const wcrypto_pubkey *pub,
                     uint8_t out[WCRYPTO_ADDRESS_SIZE])
{
    uint8_t type = (uint8_t)pub->type;
    uint8_t digest[WCRYPTO_HASH_SIZE];
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, WCRYPTO_TAG_ADDRESS);
    wcrypto_hasher_update(&h, &type, 1);
    wcrypto_hasher_update(&h, pub->bytes, pub->size);
    wcrypto_hasher_final(&h, digest);
    memcpy(out, digest, WCRYPTO_ADDRESS_SIZE);
}

int wcrypto_ed25519_sign_message(const wcrypto_keypair *kp, const void *msg,
                                 size_t size, uint8_t sig[WCRYPTO_SIG_SIZE])
{
    WITAN_ASSERT(init_result == WITAN_OK);
    if (kp->pub.type != WCRYPTO_KEY_ED25519)
        return WITAN_EKEYTYPE;
    return witan_from_sodium(
        crypto_sign_detached(sig, NULL, msg, size, kp->secret), WITAN_EKEY);
}

int wcrypto_ed25519_verify_message(const uint8_t pub[WCRYPTO_ED25519_PUBKEY_SIZE],
                                   const void *msg, size_t size,
                                   const uint8_t sig[WCRYPTO_SIG_SIZE])
{
    WITAN_ASSERT(init_result == WITAN_OK);
    return crypto_sign_verify_detached(sig, msg, size, pub) == 0 ? WITAN_OK
                                                                 : WITAN_ESIG;
}

size_t wcrypto_base64_encode(const uint8_t *data, size_t size, char *out,
                             size_t out_size)
{
    size_t need = sodium_base64_ENCODED_LEN(size,
                                            sodium_base64_VARIANT_ORIGINAL);
    if (out_size < need)
        return 0;
    sodium_bin2base64(out, out_size, data, size,
                      sodium_base64_VARIANT_ORIGINAL);
    return need - 1;
}

int wcrypto_base64_decode(const char *text, size_t size, uint8_t *out,
                          size_t out_max, size_t *out_size)
{
    const char *end;
    if (sodium_base642bin(out, out_max, text, size, NULL, out_size, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + size)
        return WITAN_EDECODE;
    return WITAN_OK;
}
