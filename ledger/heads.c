/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed history heads (spec/proofs.md, "Signed history heads"): the C2SP
 * tlog-checkpoint text of the chain's history tree at a size, and the C2SP
 * signed-note signatures of its validators over that text. The node makes
 * and gathers them; auditors and witnesses check them with the genesis
 * alone, here, with the same rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* C2SP signed-note signature type of Ed25519 keys. */
#define NOTE_ED25519 0x01
/* "— ": U+2014 EM DASH and a space, the start of every signature line. */
static const char dash[] = "\xe2\x80\x94 ";

int ledger_head_text(const Witan__Genesis *g, uint64_t size,
                     const uint8_t root[WITAN_HASH_SIZE], char *out,
                     size_t out_size)
{
    uint8_t gh[WITAN_HASH_SIZE];
    char ghex[2 * WITAN_HASH_SIZE + 1], b64[64];
    ledger_genesis_hash(g, gh);
    witan_hex_encode(gh, WITAN_HASH_SIZE, ghex);
    if (!wcrypto_base64_encode(root, WITAN_HASH_SIZE, b64, sizeof b64))
        return WITAN_ELIMIT;
    int n = snprintf(out, out_size, "witan/%s/%s\n%llu\n%s\n", g->chain_id,
                     ghex, (unsigned long long)size, b64);
    return n > 0 && (size_t)n < out_size ? n : WITAN_ELIMIT;
}

void ledger_head_key_name(const Witan__Genesis *g, uint64_t set_first,
                          uint32_t index, char *out, size_t out_size)
{
    /* The genesis's names are as they always were; a later set's carry
     * its first height, so that an index names one key across changes. */
    if (set_first <= 1)
        snprintf(out, out_size, "%s/%u", g->chain_id, index);
    else
        snprintf(out, out_size, "%s/%llu/%u", g->chain_id,
                 (unsigned long long)set_first, index);
}

/* The key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || key). */
static void key_id(const char *name, const uint8_t *pub, uint8_t id[4])
{
    size_t n = strlen(name);
    uint8_t buf[WITAN_NAME_SIZE_MAX + 80 + 2 + WCRYPTO_ED25519_PUBKEY_SIZE];
    WITAN_ASSERT(n + 2 + WCRYPTO_ED25519_PUBKEY_SIZE <= sizeof buf);
    memcpy(buf, name, n);
    buf[n] = '\n';
    buf[n + 1] = NOTE_ED25519;
    memcpy(buf + n + 2, pub, WCRYPTO_ED25519_PUBKEY_SIZE);
    uint8_t h[WITAN_HASH_SIZE];
    wcrypto_sha256(buf, n + 2 + WCRYPTO_ED25519_PUBKEY_SIZE, h);
    memcpy(id, h, 4);
}

int ledger_head_signature_line(const Witan__Genesis *g, uint64_t set_first,
                               uint32_t index, const uint8_t *pubkey,
                               const uint8_t sig[WITAN_SIGNATURE_SIZE],
                               char *out, size_t out_size)
{
    if (index >= WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_EINVAL;
    char name[WITAN_NAME_SIZE_MAX + 80], b64[128];
    uint8_t blob[4 + WITAN_SIGNATURE_SIZE];
    ledger_head_key_name(g, set_first, index, name, sizeof name);
    key_id(name, pubkey, blob);
    memcpy(blob + 4, sig, WITAN_SIGNATURE_SIZE);
    if (!wcrypto_base64_encode(blob, sizeof blob, b64, sizeof b64))
        return WITAN_ELIMIT;
    int n = snprintf(out, out_size, "%s%s %s\n", dash, name, b64);
    return n > 0 && (size_t)n < out_size ? n : WITAN_ELIMIT;
}

/* Checks the signature lines against set `v`. */
static int check_lines(const Witan__Genesis *g, const struct ledger_pset *v,
                       const char *note, size_t text_size, const char *blank,
                       const char *end, uint32_t *signers, char *why,
                       size_t why_size);

/* Change i's block E, its hash and its next set's hash; false when
 * there is no change i in force at or below `size`. The chain was checked
 * already, so the header decodes. */
static bool change_at(Witan__ValidatorChange *const *c, size_t n, size_t i,
                      uint64_t size, uint64_t *e,
                      uint8_t block[WITAN_HASH_SIZE],
                      uint8_t set[WITAN_HASH_SIZE])
{
    if (i >= n)
        return false;
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, c[i]->header.len,
                                    c[i]->header.data);
    if (!h)
        return false;
    *e = h->height;
    witan__block_header__free_unpacked(h, NULL);
    if (*e >= size)
        return false;
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, c[i]->header.data,
                        c[i]->header.len, block);
    wcrypto_hash_tagged(WCRYPTO_TAG_VALIDATORS, c[i]->validator_set.data,
                        c[i]->validator_set.len, set);
    return true;
}

int ledger_set_chains_compare(const Witan__Genesis *g,
                              Witan__ValidatorChange *const *a, size_t na,
                              uint64_t size_a,
                              Witan__ValidatorChange *const *b, size_t nb,
                              uint64_t size_b, bool *differs, char *said,
                              size_t said_size, char *why, size_t why_size)
{
    *differs = false;
    if (said_size)
        said[0] = '\0';
    if (na > LEDGER_PROOF_CHANGE_COUNT_MAX ||
        nb > LEDGER_PROOF_CHANGE_COUNT_MAX) {
        WHY("a set chain of over %d changes", LEDGER_PROOF_CHANGE_COUNT_MAX);
        return WITAN_EINVAL;
    }
    /* Each side must hold on its own: only then is a disagreement two
     * signed statements by one set, not a forgery. */
    struct ledger_pset *sets = malloc(3 * sizeof *sets);
    if (!sets)
        return WITAN_ENOMEM;
    char inner[LEDGER_WHY_SIZE];
    int err = WITAN_OK;
    for (int side = 0; side < 2 && !err; side++) {
        err = sets_follow(g, side ? b : a, side ? nb : na,
                          side ? size_b : size_a, side ? size_b : size_a,
                          false, &sets[0], &sets[1], &sets[2], inner,
                          sizeof inner);
        if (err)
            WHY("set chain %c: %s", side ? 'B' : 'A', inner);
    }
    free(sets);
    if (err)
        return err;
    uint64_t m = size_a < size_b ? size_a : size_b;
    uint64_t first = 1; /* of the set in force before change i */
    for (size_t i = 0;; i++) {
        uint64_t ea = 0, eb = 0;
        uint8_t ba[WITAN_HASH_SIZE], bb[WITAN_HASH_SIZE],
            sa[WITAN_HASH_SIZE], sb[WITAN_HASH_SIZE];
        bool ha = change_at(a, na, i, m, &ea, ba, sa);
        bool hb = change_at(b, nb, i, m, &eb, bb, sb);
        if (!ha && !hb)
            return WITAN_OK;
        if (ha && hb && ea == eb && memcmp(ba, bb, sizeof ba) == 0 &&
            memcmp(sa, sb, sizeof sa) == 0) {
            first = ea + 1;
            continue;
        }
        char sides[2][4 * WITAN_HASH_SIZE + 100];
        for (int s = 0; s < 2; s++) {
            char xb[2 * WITAN_HASH_SIZE + 1], xs[2 * WITAN_HASH_SIZE + 1];
            witan_hex_encode(s ? bb : ba, WITAN_HASH_SIZE, xb);
            witan_hex_encode(s ? sb : sa, WITAN_HASH_SIZE, xs);
            if (s ? hb : ha)
                snprintf(sides[s], sizeof sides[s],
                         "block %llu (%s) names set %s",
                         (unsigned long long)(s ? eb : ea), xb, xs);
            else
                snprintf(sides[s], sizeof sides[s], "no change before %llu",
                         (unsigned long long)m);
        }
        *differs = true;
        snprintf(said, said_size,
                 "set chains disagree at change %zu: A: %s; B: %s; both "
                 "certified by a quorum of the set in force from %llu "
                 "(evidence of a fork by that set)",
                 i, sides[0], sides[1], (unsigned long long)first);
        return WITAN_OK;
    }
}

int ledger_head_check(const Witan__Genesis *g,
                      Witan__ValidatorChange *const *changes,
                      size_t change_count, const char *note, size_t size,
                      uint64_t *tree_size, uint8_t root[WITAN_HASH_SIZE],
                      uint32_t *signers, char *why, size_t why_size)
{
    *signers = 0;
    /* The text is everything up to the blank line; it must be the
     * checkpoint this genesis's chain would write for its size and root. */
    const char *blank = NULL;
    for (size_t i = 0; i + 1 < size; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            blank = note + i + 1;
            break;
        }
    if (!blank || size > LEDGER_HEAD_SIZE_MAX || note[size - 1] != '\n') {
        WHY("not a signed note: no blank line after the text, or no final "
            "newline");
        return WITAN_EDECODE;
    }
    size_t text_size = (size_t)(blank - note);
    char origin[200], root_b64[64];
    unsigned long long n;
    char expect[LEDGER_HEAD_TEXT_SIZE_MAX];
    if (sscanf(note, "%199[^\n]\n%llu\n%63[^\n]\n", origin, &n, root_b64) !=
        3) {
        WHY("the text is not a checkpoint: origin, tree size, root hash");
        return WITAN_EDECODE;
    }
    size_t root_size;
    if (wcrypto_base64_decode(root_b64, strlen(root_b64), root,
                              WITAN_HASH_SIZE, &root_size) ||
        root_size != WITAN_HASH_SIZE) {
        WHY("the root hash is not 32 bytes of base64");
        return WITAN_EDECODE;
    }
    int len = ledger_head_text(g, n, root, expect, sizeof expect);
    if (len < 0 || (size_t)len != text_size ||
        memcmp(expect, note, text_size) != 0) {
        WHY("the checkpoint's origin \"%s\" is not this genesis's chain, or "
            "the text has lines this format does not have",
            origin);
        return WITAN_EPROOF;
    }
    *tree_size = n;
    /* Signed by the set in force at its size: the genesis's, or the one
     * the changes lead to (each checked from the genesis on). */
    struct ledger_pset *sets = malloc(3 * sizeof *sets);
    if (!sets)
        return WITAN_ENOMEM;
    char inner[LEDGER_WHY_SIZE];
    int err = sets_follow(g, changes, change_count, n, n, false, &sets[0],
                          &sets[1], &sets[2], inner, sizeof inner);
    if (err)
        WHY("the set chain: %s", inner);
    else
        err = check_lines(g, &sets[1], note, text_size, blank, note + size,
                          signers, why, why_size);
    free(sets);
    return err;
}

static int check_lines(const Witan__Genesis *g, const struct ledger_pset *v,
                       const char *note, size_t text_size, const char *blank,
                       const char *end, uint32_t *signers, char *why,
                       size_t why_size)
{
    /* Signature lines: unknown keys are ignored (a witness may add its
     * own); a known key whose signature fails makes the note fail. */
    bool seen[WITAN_VALIDATOR_COUNT_MAX] = {false};
    const char *p = blank + 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || (size_t)(eol - p) < sizeof dash ||
            memcmp(p, dash, sizeof dash - 1) != 0) {
            WHY("a signature line does not start with an em dash");
            return WITAN_EDECODE;
        }
        const char *name = p + sizeof dash - 1;
        const char *sp = memchr(name, ' ', (size_t)(eol - name));
        if (!sp) {
            WHY("a signature line has no signature");
            return WITAN_EDECODE;
        }
        uint8_t blob[4 + 128];
        size_t blob_size;
        if (wcrypto_base64_decode(sp + 1, (size_t)(eol - sp - 1), blob,
                                  sizeof blob, &blob_size) ||
            blob_size < 5) {
            WHY("the signature of \"%.*s\" is not base64", (int)(sp - name),
                name);
            return WITAN_EDECODE;
        }
        for (uint32_t i = 0; i < v->count; i++) {
            char kname[WITAN_NAME_SIZE_MAX + 80];
            uint8_t id[4];
            ledger_head_key_name(g, v->first, i, kname, sizeof kname);
            if (strlen(kname) != (size_t)(sp - name) ||
                memcmp(kname, name, (size_t)(sp - name)) != 0)
                continue;
            key_id(kname, v->keys[i].bytes, id);
            if (memcmp(id, blob, 4) != 0)
                break; /* the same name for another key: not ours */
            if (blob_size != 4 + WITAN_SIGNATURE_SIZE ||
                wcrypto_ed25519_verify_message(v->keys[i].bytes, note,
                                               text_size, blob + 4)) {
                WHY("the signature of validator %u (%s) does not verify", i,
                    kname);
                return WITAN_ESIG;
            }
            if (!seen[i]) {
                seen[i] = true;
                (*signers)++;
            }
        }
        p = eol + 1;
    }
    uint32_t q = pbft_quorum(v->count);
    if (*signers < q) {
        WHY("signed by %u of %u validators%s; a head needs %u", *signers,
            v->count, v->first > 1 ? " of the set in force at its size" : "",
            q);
        return WITAN_EPROOF;
    }
    return WITAN_OK;
}

int ledger_history_consistency(ledger *l, uint64_t old_size, uint64_t new_size,
                               wcrypto_digest *proof, size_t *proof_count,
                               uint8_t old_root[WITAN_HASH_SIZE],
                               uint8_t new_root[WITAN_HASH_SIZE], char *why,
                               size_t why_size)
{
    *proof_count = 0;
    if (old_size == 0 || old_size > new_size || new_size > l->tip.height) {
        WHY("sizes must satisfy 0 < from <= to <= %llu (the tip)",
            (unsigned long long)l->tip.height);
        return WITAN_ERANGE;
    }
    /* The leaves are block hashes by height; the hash index holds them all
     * (one pass, no block decoded). Memory is 32 bytes a block. */
    wcrypto_digest *leaves = calloc((size_t)new_size, sizeof *leaves);
    if (!leaves)
        return WITAN_ENOMEM;
    store_txn *txn;
    store_cursor *c = NULL;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(leaves);
        return err;
    }
    err = store_cursor_open(txn, STORE_BLOCK_HASHES, &c);
    uint64_t found = 0;
    const void *k, *v;
    size_t ks, vs;
    static const uint8_t first = 0x00;
    if (!err)
        err = store_cursor_seek(c, &first, 1, &k, &ks, &v, &vs);
    while (!err) {
        if (ks != WITAN_HASH_SIZE || vs != 8) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        uint64_t h = store_read_be64(v);
        if (h >= 1 && h <= new_size) {
            memcpy(leaves[h - 1], k, WITAN_HASH_SIZE);
            found++;
        }
        err = store_cursor_next(c, &k, &ks, &v, &vs);
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (c)
        store_cursor_close(c);
    store_abort(txn);
    if (!err && found != new_size)
        err = WITAN_EDBCORRUPT;
    if (!err)
        err = wcrypto_merkle_consistency_proof(leaves, (size_t)new_size,
                                               (size_t)old_size, proof,
                                               proof_count);
    if (!err) {
        wcrypto_merkle_root(leaves, (size_t)old_size, old_root);
        wcrypto_merkle_root(leaves, (size_t)new_size, new_root);
    }
    free(leaves);
    return err;
}
