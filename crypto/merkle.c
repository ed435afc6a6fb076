/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 / RFC 9162 Merkle trees: roots, inclusion and consistency proofs
 * and their verification, and the append-only history tree.
 *
 * Proof generation recurses on the split point k (the largest power of two
 * below n) exactly as RFC 6962 section 2.1 defines PATH and SUBPROOF, so the
 * depth is at most 64. Verification follows RFC 9162 sections 2.1.3.2 and
 * 2.1.4.2, which need no recursion and no leaves.
 */
#include "crypto/crypto.h"

#include <string.h>

void wcrypto_merkle_leaf_hash(const uint8_t data[WCRYPTO_HASH_SIZE],
                              uint8_t out[WCRYPTO_HASH_SIZE])
{
    uint8_t buf[1 + WCRYPTO_HASH_SIZE];
    buf[0] = 0x00;
    memcpy(buf + 1, data, WCRYPTO_HASH_SIZE);
    wcrypto_sha256(buf, sizeof buf, out);
}

void wcrypto_merkle_node_hash(const uint8_t left[WCRYPTO_HASH_SIZE],
                              const uint8_t right[WCRYPTO_HASH_SIZE],
                              uint8_t out[WCRYPTO_HASH_SIZE])
{
    uint8_t buf[1 + 2 * WCRYPTO_HASH_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, WCRYPTO_HASH_SIZE);
    memcpy(buf + 1 + WCRYPTO_HASH_SIZE, right, WCRYPTO_HASH_SIZE);
    wcrypto_sha256(buf, sizeof buf, out);
}

/* The largest power of two strictly below n (n >= 2). */
static size_t split_point(size_t n)
{
    WITAN_ASSERT(n >= 2);
    size_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

void wcrypto_merkle_root(const wcrypto_digest *leaves, size_t count,
                         uint8_t root[WCRYPTO_HASH_SIZE])
{
    if (count == 0) {
        wcrypto_sha256(NULL, 0, root);
        return;
    }
    if (count == 1) {
        wcrypto_merkle_leaf_hash(leaves[0], root);
        return;
    }
    size_t k = split_point(count);
    uint8_t left[WCRYPTO_HASH_SIZE], right[WCRYPTO_HASH_SIZE];
    wcrypto_merkle_root(leaves, k, left);
    wcrypto_merkle_root(leaves + k, count - k, right);
    wcrypto_merkle_node_hash(left, right, root);
}

/* Appends one hash to a proof being built; the bound is an invariant, since
 * every recursion level adds at most one hash. */
static void proof_push(wcrypto_digest *proof, size_t *count, size_t max,
                       const uint8_t hash[WCRYPTO_HASH_SIZE])
{
    WITAN_ASSERT(*count < max);
    memcpy(proof[*count], hash, WCRYPTO_HASH_SIZE);
    (*count)++;
}

static void inclusion_path(const wcrypto_digest *leaves, size_t count,
                           size_t index, wcrypto_digest *proof,
                           size_t *proof_count)
{
    if (count <= 1)
        return;
    size_t k = split_point(count);
    uint8_t sibling[WCRYPTO_HASH_SIZE];
    if (index < k) {
        inclusion_path(leaves, k, index, proof, proof_count);
        wcrypto_merkle_root(leaves + k, count - k, sibling);
    } else {
        inclusion_path(leaves + k, count - k, index - k, proof, proof_count);
        wcrypto_merkle_root(leaves, k, sibling);
    }
    proof_push(proof, proof_count, WITAN_MERKLE_PROOF_COUNT_MAX, sibling);
}

int wcrypto_merkle_inclusion_proof(const wcrypto_digest *leaves, size_t count,
                                   size_t index, wcrypto_digest *proof,
                                   size_t *proof_count)
{
    *proof_count = 0;
    if (index >= count)
        return WITAN_ERANGE;
    inclusion_path(leaves, count, index, proof, proof_count);
    return WITAN_OK;
}

int wcrypto_merkle_inclusion_verify(const uint8_t leaf[WCRYPTO_HASH_SIZE],
                                    uint64_t index, uint64_t count,
                                    const wcrypto_digest *proof,
                                    size_t proof_count,
                                    const uint8_t root[WCRYPTO_HASH_SIZE])
{
    if (index >= count || proof_count > WITAN_MERKLE_PROOF_COUNT_MAX)
        return WITAN_EPROOF;
    uint64_t fn = index, sn = count - 1;
    uint8_t r[WCRYPTO_HASH_SIZE];
    wcrypto_merkle_leaf_hash(leaf, r);
    for (size_t i = 0; i < proof_count; i++) {
        if (sn == 0)
            return WITAN_EPROOF;
        if ((fn & 1) || fn == sn) {
            wcrypto_merkle_node_hash(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            wcrypto_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(r, root, WCRYPTO_HASH_SIZE) != 0)
        return WITAN_EPROOF;
    return WITAN_OK;
}

static void consistency_subproof(const wcrypto_digest *leaves, size_t count,
                                 size_t old_count, int whole,
                                 wcrypto_digest *proof, size_t *proof_count)
{
    uint8_t hash[WCRYPTO_HASH_SIZE];
    if (old_count == count) {
        if (!whole) {
            wcrypto_merkle_root(leaves, count, hash);
            proof_push(proof, proof_count, WITAN_MERKLE_CONSISTENCY_COUNT_MAX,
                       hash);
        }
        return;
    }
    size_t k = split_point(count);
    if (old_count <= k) {
        consistency_subproof(leaves, k, old_count, whole, proof, proof_count);
        wcrypto_merkle_root(leaves + k, count - k, hash);
    } else {
        consistency_subproof(leaves + k, count - k, old_count - k, 0, proof,
                             proof_count);
        wcrypto_merkle_root(leaves, k, hash);
    }
    proof_push(proof, proof_count, WITAN_MERKLE_CONSISTENCY_COUNT_MAX, hash);
}

int wcrypto_merkle_consistency_proof(const wcrypto_digest *leaves, size_t count,
                                     size_t old_count, wcrypto_digest *proof,
                                     size_t *proof_count)
{
    *proof_count = 0;
    if (old_count == 0 || old_count > count)
        return WITAN_ERANGE;
    consistency_subproof(leaves, count, old_count, 1, proof, proof_count);
    return WITAN_OK;
}

int wcrypto_merkle_consistency_verify(uint64_t old_count, uint64_t new_count,
                                      const uint8_t old_root[WCRYPTO_HASH_SIZE],
                                      const uint8_t new_root[WCRYPTO_HASH_SIZE],
                                      const wcrypto_digest *proof,
                                      size_t proof_count)
{
    if (old_count == 0 || old_count > new_count ||
        proof_count > WITAN_MERKLE_CONSISTENCY_COUNT_MAX)
        return WITAN_EPROOF;
    if (old_count == new_count) {
        if (proof_count != 0 ||
            memcmp(old_root, new_root, WCRYPTO_HASH_SIZE) != 0)
            return WITAN_EPROOF;
        return WITAN_OK;
    }
    /* When the old tree is a perfect subtree, its root is the implicit first
     * element of the path (RFC 9162, 2.1.4.2 step 2). */
    const uint8_t *first;
    size_t next;
    if ((old_count & (old_count - 1)) == 0) {
        first = old_root;
        next = 0;
    } else {
        if (proof_count == 0)
            return WITAN_EPROOF;
        first = proof[0];
        next = 1;
    }
    uint64_t fn = old_count - 1, sn = new_count - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[WCRYPTO_HASH_SIZE], sr[WCRYPTO_HASH_SIZE];
    memcpy(fr, first, WCRYPTO_HASH_SIZE);
    memcpy(sr, first, WCRYPTO_HASH_SIZE);
    for (size_t i = next; i < proof_count; i++) {
        if (sn == 0)
            return WITAN_EPROOF;
        if ((fn & 1) || fn == sn) {
            wcrypto_merkle_node_hash(proof[i], fr, fr);
            wcrypto_merkle_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            wcrypto_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(fr, old_root, WCRYPTO_HASH_SIZE) != 0 ||
        memcmp(sr, new_root, WCRYPTO_HASH_SIZE) != 0)
        return WITAN_EPROOF;
    return WITAN_OK;
}

void wcrypto_history_init(wcrypto_history *h) { memset(h, 0, sizeof *h); }

int wcrypto_history_append(wcrypto_history *h,
                           const uint8_t leaf[WCRYPTO_HASH_SIZE])
{
    if (h->size == UINT64_MAX)
        return WITAN_ELIMIT;
    /* Adding one leaf is adding one to a binary counter: every set low bit
     * is a perfect subtree of equal size that merges, as the left child, with
     * the carry, until a clear bit takes the merged root. */
    uint8_t carry[WCRYPTO_HASH_SIZE];
    wcrypto_merkle_leaf_hash(leaf, carry);
    unsigned level = 0;
    while (h->size >> level & 1) {
        wcrypto_merkle_node_hash(h->frontier[level], carry, carry);
        memset(h->frontier[level], 0, WCRYPTO_HASH_SIZE);
        level++;
    }
    WITAN_ASSERT(level < 64);
    memcpy(h->frontier[level], carry, WCRYPTO_HASH_SIZE);
    h->size++;
    return WITAN_OK;
}

void wcrypto_history_root(const wcrypto_history *h,
                          uint8_t root[WCRYPTO_HASH_SIZE])
{
    if (h->size == 0) {
        wcrypto_sha256(NULL, 0, root);
        return;
    }
    /* The smallest subtree is the rightmost; each larger one joins on the
     * left, as RFC 6962's split at the largest power of two prescribes. */
    unsigned level = (unsigned)__builtin_ctzll(h->size);
    uint8_t acc[WCRYPTO_HASH_SIZE];
    memcpy(acc, h->frontier[level], WCRYPTO_HASH_SIZE);
    for (level++; level < 64; level++)
        if (h->size >> level & 1)
            wcrypto_merkle_node_hash(h->frontier[level], acc, acc);
    memcpy(root, acc, WCRYPTO_HASH_SIZE);
}
