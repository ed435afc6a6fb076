/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto — keys, signatures, domain-tagged hashing, Merkle trees, key files.
 *
 * Two key types: Ed25519 (libsodium) and secp256k1 ECDSA (libsecp256k1, 64-byte
 * compact signatures, low-S only). Whatever the key type, what is signed is a
 * 32-byte digest: the domain-tagged SHA-256 of the object (spec/encoding.md),
 * so what a signature covers never depends on the key type.
 *
 * Merkle trees are exactly RFC 6962 / RFC 9162: leaf hash SHA-256(0x00 || data),
 * node hash SHA-256(0x01 || left || right), empty tree SHA-256(""). A leaf's
 * data is always the 32-byte hash of the object it stands for.
 *
 * Conventions: every fallible function returns 0 or a negative WITAN_E* code;
 * libsodium's 0/−1 and libsecp256k1's 1/0 never leave this module. Call
 * wcrypto_init() once before anything else (it is idempotent and thread-safe
 * after the first call returns). Secrets are wiped by wcrypto_keypair_wipe and
 * on every error path inside this module.
 */
#ifndef WITAN_CRYPTO_H
#define WITAN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define WCRYPTO_HASH_SIZE WITAN_HASH_SIZE
#define WCRYPTO_SEED_SIZE 32
#define WCRYPTO_SIG_SIZE WITAN_SIGNATURE_SIZE
#define WCRYPTO_ADDRESS_SIZE WITAN_ADDRESS_SIZE
#define WCRYPTO_ED25519_PUBKEY_SIZE 32
#define WCRYPTO_SECP256K1_PUBKEY_SIZE 33
#define WCRYPTO_PUBKEY_SIZE_MAX WITAN_PUBKEY_SIZE_MAX

/* Values equal the KeyType enum of spec/witan.proto. */
enum wcrypto_key_type {
    WCRYPTO_KEY_ED25519 = 1,
    WCRYPTO_KEY_SECP256K1 = 2,
};

/* Domain tags (spec/encoding.md lists them all). */
#define WCRYPTO_TAG_TX "witan/tx/v1"
#define WCRYPTO_TAG_ENVELOPE "witan/envelope/v1"
#define WCRYPTO_TAG_BLOCK "witan/block/v1"
#define WCRYPTO_TAG_VOTE "witan/vote/v1"
#define WCRYPTO_TAG_RECEIPT "witan/receipt/v1"
#define WCRYPTO_TAG_GENESIS "witan/genesis/v1"
#define WCRYPTO_TAG_ADDRESS "witan/address/v1"
#define WCRYPTO_TAG_STATE "witan/state/v1"
#define WCRYPTO_TAG_LINK "witan/link/v1"
#define WCRYPTO_TAG_RECORD "witan/record/v1"
#define WCRYPTO_TAG_VALIDATORS "witan/validators/v1"

typedef struct wcrypto_pubkey {
    enum wcrypto_key_type type;
    uint8_t size; /* 32 for Ed25519, 33 for secp256k1 */
    uint8_t bytes[WCRYPTO_PUBKEY_SIZE_MAX];
} wcrypto_pubkey;

/* A key pair. Holds the secret: wipe it with wcrypto_keypair_wipe. */
typedef struct wcrypto_keypair {
    wcrypto_pubkey pub;
    uint8_t seed[WCRYPTO_SEED_SIZE]; /* what key files store */
    uint8_t secret[64];              /* libsodium's expanded key, or the
                                        secp256k1 scalar in the first 32 */
} wcrypto_keypair;

int wcrypto_init(void) __attribute__((warn_unused_result));

const char *wcrypto_key_type_name(enum wcrypto_key_type type);
/* "ed25519" or "secp256k1"; WITAN_EKEYTYPE otherwise. */
int wcrypto_key_type_parse(const char *name, enum wcrypto_key_type *type);

/*
 * Derives a key pair from a 32-byte seed. For Ed25519 the seed is RFC 8032's
 * private key; for secp256k1 it is the secret scalar itself, refused with
 * WITAN_EKEY when zero or not below the group order.
 */
int wcrypto_keypair_from_seed(enum wcrypto_key_type type,
                              const uint8_t seed[WCRYPTO_SEED_SIZE],
                              wcrypto_keypair *out);

/* A fresh key pair from the system's random source. */
int wcrypto_keypair_generate(enum wcrypto_key_type type, wcrypto_keypair *out);

/* Overwrites every byte of the key pair, public part included. */
void wcrypto_keypair_wipe(wcrypto_keypair *kp);

/*
 * Parses a public key as carried on the wire. WITAN_EKEYTYPE for an unknown
 * type, WITAN_EKEY for a wrong size or (secp256k1) a point not on the curve.
 */
int wcrypto_pubkey_parse(enum wcrypto_key_type type, const uint8_t *bytes,
                         size_t size, wcrypto_pubkey *out);

/* Signs a 32-byte digest. Deterministic for both key types (RFC 8032 and
 * RFC 6979), so test vectors are fixed. Fails only on a corrupt key pair. */
int wcrypto_sign(const wcrypto_keypair *kp,
                 const uint8_t digest[WCRYPTO_HASH_SIZE],
                 uint8_t sig[WCRYPTO_SIG_SIZE]);

/*
 * Verifies a signature over a 32-byte digest: 0 when valid, WITAN_ESIG when
 * not (wrong key, other digest, malformed or, for secp256k1, high-S).
 */
int wcrypto_verify(const wcrypto_pubkey *pub,
                   const uint8_t digest[WCRYPTO_HASH_SIZE],
                   const uint8_t sig[WCRYPTO_SIG_SIZE])
    __attribute__((warn_unused_result));

/*
 * Verifies a signature as it arrives on the wire: parses the key of the given
 * type and checks the signature's size before checking it. WITAN_EKEYTYPE,
 * WITAN_EKEY (malformed key) or WITAN_ESIG (wrong size or invalid).
 */
int wcrypto_verify_wire(enum wcrypto_key_type type, const uint8_t *pubkey,
                        size_t pubkey_size,
                        const uint8_t digest[WCRYPTO_HASH_SIZE],
                        const uint8_t *sig, size_t sig_size)
    __attribute__((warn_unused_result));

/* Ed25519 over a whole message rather than a digest (C2SP signed notes,
 * whose signatures are over the note text). */
int wcrypto_ed25519_sign_message(const wcrypto_keypair *kp, const void *msg,
                                 size_t size, uint8_t sig[WCRYPTO_SIG_SIZE]);
int wcrypto_ed25519_verify_message(const uint8_t pub[WCRYPTO_ED25519_PUBKEY_SIZE],
                                   const void *msg, size_t size,
                                   const uint8_t sig[WCRYPTO_SIG_SIZE])
    __attribute__((warn_unused_result));

/* Standard base64 with padding (RFC 4648 section 4): the text's length,
 * NUL-terminated in out, or 0 when out is too small; decoding refuses
 * anything but exactly such text. */
size_t wcrypto_base64_encode(const uint8_t *data, size_t size, char *out,
                             size_t out_size);
int wcrypto_base64_decode(const char *text, size_t size, uint8_t *out,
                          size_t out_max, size_t *out_size);

/* Whether SHA-256 runs on the processor's SHA extensions (x86-64), which
 * wcrypto_init() turns on where there are any: true if on now. The output
 * is the same either way; tests and benchmarks compare the two. Not
 * thread-safe: call it while no other thread hashes. */
bool wcrypto_sha256_accelerate(bool on);

/* Plain SHA-256. Never fails. */
void wcrypto_sha256(const void *data, size_t size,
                    uint8_t out[WCRYPTO_HASH_SIZE]);

/* SHA-256(tag || 0x00 || data): the hash of every Witan object. Never fails;
 * tag is a NUL-terminated string of at most WITAN_DOMAIN_TAG_SIZE_MAX bytes. */
void wcrypto_hash_tagged(const char *tag, const void *data, size_t size,
                         uint8_t out[WCRYPTO_HASH_SIZE]);

/* Incremental form of wcrypto_hash_tagged, for data in several pieces. */
typedef struct wcrypto_hasher {
    uint8_t state[128] __attribute__((aligned(16)));
} wcrypto_hasher;
void wcrypto_hasher_init(wcrypto_hasher *h, const char *tag);
void wcrypto_hasher_update(wcrypto_hasher *h, const void *data, size_t size);
void wcrypto_hasher_final(wcrypto_hasher *h, uint8_t out[WCRYPTO_HASH_SIZE]);

/* An account's address: the first 20 bytes of
 * SHA-256("witan/address/v1" || 0x00 || key type byte || public key). */
void wcrypto_address(const wcrypto_pubkey *pub,
                     uint8_t out[WCRYPTO_ADDRESS_SIZE]);

/* What a validator's COMMIT signs: H("witan/vote/v1", canonical Vote{chain
 * id, height, view, block hash}). chain_id is at most
 * WITAN_CHAIN_ID_SIZE_MAX bytes (asserted). Never fails. */
void wcrypto_vote_digest(const char *chain_id, uint64_t height, uint64_t view,
                         const uint8_t block_hash[WCRYPTO_HASH_SIZE],
                         uint8_t out[WCRYPTO_HASH_SIZE]);

/* --- Merkle trees (RFC 6962) -------------------------------------------- */

typedef uint8_t wcrypto_digest[WCRYPTO_HASH_SIZE];

void wcrypto_merkle_leaf_hash(const uint8_t data[WCRYPTO_HASH_SIZE],
                              uint8_t out[WCRYPTO_HASH_SIZE]);
void wcrypto_merkle_node_hash(const uint8_t left[WCRYPTO_HASH_SIZE],
                              const uint8_t right[WCRYPTO_HASH_SIZE],
                              uint8_t out[WCRYPTO_HASH_SIZE]);

/* Root over `count` leaves whose data are `leaves`. Never fails; count may be
 * 0 (the root is then SHA-256 of nothing). */
void wcrypto_merkle_root(const wcrypto_digest *leaves, size_t count,
                         uint8_t root[WCRYPTO_HASH_SIZE]);

/*
 * Inclusion proof (RFC 6962 PATH) of leaf `index` in the tree of `count`
 * leaves. `proof` must hold WITAN_MERKLE_PROOF_COUNT_MAX hashes; the number
 * written goes to *proof_count. WITAN_ERANGE when index >= count.
 */
int wcrypto_merkle_inclusion_proof(const wcrypto_digest *leaves, size_t count,
                                   size_t index, wcrypto_digest *proof,
                                   size_t *proof_count);

/* 0 when the proof shows leaf data `leaf` at `index` in a tree of `count`
 * leaves with root `root`; WITAN_EPROOF otherwise. */
int wcrypto_merkle_inclusion_verify(const uint8_t leaf[WCRYPTO_HASH_SIZE],
                                    uint64_t index, uint64_t count,
                                    const wcrypto_digest *proof,
                                    size_t proof_count,
                                    const uint8_t root[WCRYPTO_HASH_SIZE])
    __attribute__((warn_unused_result));

/*
 * Consistency proof (RFC 6962 PROOF) that the tree of the first `old_count`
 * leaves is a prefix of the tree of `count` leaves. `proof` must hold
 * WITAN_MERKLE_CONSISTENCY_COUNT_MAX hashes. WITAN_ERANGE unless
 * 0 < old_count <= count.
 */
int wcrypto_merkle_consistency_proof(const wcrypto_digest *leaves, size_t count,
                                     size_t old_count, wcrypto_digest *proof,
                                     size_t *proof_count);

/* 0 when the proof shows old_root (old_count leaves) consistent with
 * new_root (new_count leaves); WITAN_EPROOF otherwise. */
int wcrypto_merkle_consistency_verify(uint64_t old_count, uint64_t new_count,
                                      const uint8_t old_root[WCRYPTO_HASH_SIZE],
                                      const uint8_t new_root[WCRYPTO_HASH_SIZE],
                                      const wcrypto_digest *proof,
                                      size_t proof_count)
    __attribute__((warn_unused_result));

/*
 * An append-only RFC 6962 tree that keeps only its frontier: the roots of the
 * perfect subtrees that make up the tree, one per set bit of `size`. Appending
 * costs O(log n) hashes and the root O(log n); 2 KiB whatever the size. Plain
 * data: copy it, store it, compare it.
 */
/* One root per bit of the 64-bit leaf count. */
#define WCRYPTO_HISTORY_LEVELS 64
typedef struct wcrypto_history {
    uint64_t size;
    uint8_t frontier[WCRYPTO_HISTORY_LEVELS][WCRYPTO_HASH_SIZE]; /* valid iff
                                                                bit i */
} wcrypto_history;

void wcrypto_history_init(wcrypto_history *h);
/* WITAN_ELIMIT when the tree already holds 2^64 − 1 leaves. */
int wcrypto_history_append(wcrypto_history *h,
                           const uint8_t leaf[WCRYPTO_HASH_SIZE]);
void wcrypto_history_root(const wcrypto_history *h,
                          uint8_t root[WCRYPTO_HASH_SIZE]);

/* --- key files ------------------------------------------------------------- */

/*
 * Writes a key file (text: type, seed and public key in hex) with mode 0600,
 * creating it; WITAN_EEXIST if the path exists (keys are never overwritten),
 * WITAN_EIO on any write or sync failure (the partial file is removed).
 */
int wcrypto_keyfile_write(const char *path, const wcrypto_keypair *kp);

/*
 * Reads a key file. WITAN_EKEYPERM if group or others may read or write it
 * (the message tells the user to chmod 600), WITAN_EKEYFILE if it is
 * malformed or its public key does not match its seed, WITAN_EIO if it cannot
 * be read. Secrets read are wiped from every intermediate buffer.
 */
int wcrypto_keyfile_read(const char *path, wcrypto_keypair *out);

/* --- links between validators (crypto/link.c) ------------------------------
 *
 * Two validators share one 32-byte key per chain, derived from their Ed25519
 * keys alone (X25519 of the keys' Montgomery forms): nothing to configure or
 * exchange, and no one else can compute it. Frames between them carry a
 * keyed BLAKE2b-256 MAC under it (spec/node.md, "Frames"), checked before
 * anything in them is decoded.
 */
#define WCRYPTO_LINK_KEY_SIZE 32
#define WCRYPTO_MAC_SIZE 32

/* The key `self` shares with `peer` on chain `chain_id`; both sides get the
 * same bytes. WITAN_EKEYTYPE unless both keys are Ed25519, WITAN_EKEY for a
 * peer key that gives no shared secret (a low-order point). */
int wcrypto_link_key(const wcrypto_keypair *self, const wcrypto_pubkey *peer,
                     const char *chain_id,
                     uint8_t out[WCRYPTO_LINK_KEY_SIZE])
    __attribute__((warn_unused_result));
/* Keyed BLAKE2b-256 of data. Never fails. */
void wcrypto_mac(const uint8_t key[WCRYPTO_LINK_KEY_SIZE], const void *data,
                 size_t size, uint8_t out[WCRYPTO_MAC_SIZE]);
/* Whether `mac` is data's MAC under key, compared in constant time. */
bool wcrypto_mac_ok(const uint8_t key[WCRYPTO_LINK_KEY_SIZE], const void *data,
                    size_t size, const uint8_t mac[WCRYPTO_MAC_SIZE]);

#endif
