/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portable proofs (spec/proofs.md): built from the ledger's tables, checked
 * with the genesis alone, written and read as proof.json. A proof climbs
 * from a record to the receipt of the transaction that wrote it, through the
 * receipts root that block h + L's header carries, to that header's commit
 * certificate; the same header carries block h's certificate, so block h's
 * header and the transaction under its transactions root are certified too.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* --- building ----------------------------------------------------------------- */

static int dup_into(ProtobufCBinaryData *out, const void *data, size_t size)
{
    return ledger_dup_bytes(out, data, size);
}

/* A Merkle path as repeated bytes (malloc'd, one allocation per hash). */
static int path_into(const wcrypto_digest *path, size_t count,
                     ProtobufCBinaryData **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (count == 0)
        return WITAN_OK;
    ProtobufCBinaryData *p = calloc(count, sizeof *p);
    if (!p)
        return WITAN_ENOMEM;
    *out = p;
    for (size_t i = 0; i < count; i++) {
        int err = dup_into(&p[i], path[i], WITAN_HASH_SIZE);
        if (err)
            return err;
        (*n_out)++;
    }
    return WITAN_OK;
}

static int block_at(store_txn *txn, uint64_t height, Witan__Block **out)
{
    uint8_t key[8];
    const void *v;
    size_t vs;
    store_be64(key, height);
    int err = store_get(txn, STORE_BLOCKS, key, 8, &v, &vs);
    if (err)
        return err;
    *out = witan__block__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

/* Every validator-set change in force at or below `upto`: for each set of
 * table 27 (in height order) block E = first_height − 1, its certificate
 * and the set's stored bytes, which E's next_validators_hash names. */
static int prove_changes(store_txn *txn, uint64_t upto,
                         Witan__ValidatorChange ***list, size_t *count,
                         char *why, size_t why_size)
{
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_VALIDATOR_SETS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    const uint8_t zero[8] = {0};
    for (err = store_cursor_seek(c, zero, sizeof zero, &k, &ks, &v, &vs); !err;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != 8 || store_read_be64(k) < 2) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        uint64_t first = store_read_be64(k);
        if (first > upto)
            break;
        if (*count == LEDGER_PROOF_CHANGE_COUNT_MAX) {
            WHY("more than %d validator-set changes precede this block",
                LEDGER_PROOF_CHANGE_COUNT_MAX);
            err = WITAN_ELIMIT;
            break;
        }
        if (!*list && !(*list = calloc(LEDGER_PROOF_CHANGE_COUNT_MAX,
                                       sizeof **list))) {
            err = WITAN_ENOMEM;
            break;
        }
        Witan__ValidatorChange *ch = calloc(1, sizeof *ch);
        if (!ch) {
            err = WITAN_ENOMEM;
            break;
        }
        witan__validator_change__init(ch);
        (*list)[(*count)++] = ch;
        err = dup_into(&ch->validator_set, v, vs);
        Witan__Block *b = NULL;
        const void *cv;
        size_t cs;
        uint8_t key[8];
        store_be64(key, first - 1);
        if (!err)
            err = block_at(txn, first - 1, &b);
        if (!err)
            err = dup_into(&ch->header, b->header.data, b->header.len);
        if (b)
            witan__block__free_unpacked(b, NULL);
        if (!err)
            err = store_get(txn, STORE_CERTS, key, 8, &cv, &cs);
        if (!err)
            err = dup_into(&ch->cert, cv, cs);
        if (err == WITAN_ENOTFOUND)
            err = WITAN_EDBCORRUPT; /* block E is below the proof's */
        if (err)
            break;
    }
    store_cursor_close(c);
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

/* Fills p with the transaction `hash`, its receipt and their paths, and
 * the headers and certificate that certify them. */
static int prove_tx(ledger *l, store_txn *txn, const uint8_t hash[32],
                    bool with_tx, Witan__Proof *p, char *why, size_t why_size)
{
    uint8_t at[LEDGER_TX_LOC_SIZE];
    int err = ledger_txn_locate(l, txn, hash, at);
    if (err == WITAN_ENOTFOUND) {
        WHY("no committed transaction with that hash");
        return err;
    }
    if (err)
        return err;
    uint64_t height = store_read_be64(at);
    uint32_t index = store_read_be32(at + 8);
    const void *v;
    size_t vs;
    uint64_t depth = l->g->params->pipeline_depth;
    if (height + depth > l->tip.height) {
        WHY("block %llu is certified with its receipts by block %llu, which "
            "is not committed yet (tip %llu)",
            (unsigned long long)height, (unsigned long long)(height + depth),
            (unsigned long long)l->tip.height);
        return WITAN_ENOTFOUND;
    }
    Witan__Block *b = NULL, *later = NULL;
    wcrypto_digest *leaves = NULL;
    err = block_at(txn, height, &b);
    if (!err)
        err = block_at(txn, height + depth, &later);
    if (!err && index >= b->n_txs)
        err = WITAN_EDBCORRUPT;
    size_t n = b ? b->n_txs : 0;
    if (!err && !(leaves = malloc((n ? n : 1) * sizeof *leaves)))
        err = WITAN_ENOMEM;
    wcrypto_digest path[WITAN_MERKLE_PROOF_COUNT_MAX];
    size_t path_count;
    /* The transaction under block h's transactions root, unless only its
     * commitment is wanted: the receipt names its hash already. */
    for (size_t i = 0; !err && with_tx && i < n; i++)
        wcrypto_hash_tagged(WCRYPTO_TAG_ENVELOPE, b->txs[i].data,
                            b->txs[i].len, leaves[i]);
    if (!err && with_tx)
        err = wcrypto_merkle_inclusion_proof(leaves, n, index, path,
                                             &path_count);
    if (!err && with_tx)
        err = path_into(path, path_count, &p->tx_path, &p->n_tx_path);
    if (!err && with_tx)
        err = dup_into(&p->envelope, b->txs[index].data, b->txs[index].len);
    /* Its receipt under the receipts root, over every receipt of block h
     * in block order: keyed by (h, index), they are read in one sweep. */
    store_cursor *c = NULL;
    if (!err && n > 0)
        err = store_cursor_open(txn, STORE_RECEIPTS, &c);
    for (size_t i = 0; !err && i < n; i++) {
        uint8_t loc[LEDGER_TX_LOC_SIZE];
        ledger_tx_loc(height, (uint32_t)i, loc);
        const void *k;
        size_t ks;
        err = i == 0 ? store_cursor_seek(c, loc, sizeof loc, &k, &ks, &v, &vs)
                     : store_cursor_next(c, &k, &ks, &v, &vs);
        /* one receipt for every transaction, none missing */
        if (err == WITAN_ENOTFOUND ||
            (!err && (ks != sizeof loc || memcmp(k, loc, sizeof loc) != 0)))
            err = WITAN_EDBCORRUPT;
        if (!err) {
            wcrypto_hash_tagged(WCRYPTO_TAG_RECEIPT, v, vs, leaves[i]);
            if (i == index)
                err = dup_into(&p->receipt, v, vs);
        }
    }
    store_cursor_close(c);
    if (!err)
        err = wcrypto_merkle_inclusion_proof(leaves, n, index, path,
                                             &path_count);
    if (!err)
        err = path_into(path, path_count, &p->receipts_path,
                        &p->n_receipts_path);
    if (!err)
        err = dup_into(&p->header, b->header.data, b->header.len);
    if (!err)
        err = dup_into(&p->results_header, later->header.data,
                       later->header.len);
    uint8_t key[8];
    store_be64(key, height + depth);
    if (!err)
        err = store_get(txn, STORE_CERTS, key, 8, &v, &vs);
    if (!err)
        err = dup_into(&p->results_cert, v, vs);
    if (!err)
        err = prove_changes(txn, height + depth, &p->validator_changes,
                            &p->n_validator_changes, why, why_size);
    free(leaves);
    if (b)
        witan__block__free_unpacked(b, NULL);
    if (later)
        witan__block__free_unpacked(later, NULL);
    if (err == WITAN_ENOTFOUND)
        err = WITAN_EDBCORRUPT; /* the transaction is indexed: all must be */
    return err;
}

/* The table, and the transaction that last wrote the record `key` of it. */
static int record_writer(store_txn *txn, const Witan__ProofRequest *req,
                         enum store_table *table, ProtobufCBinaryData *key,
                         uint8_t writer[WITAN_HASH_SIZE], const void **value,
                         size_t *value_size, char *why, size_t why_size)
{
    const char *what;
    switch (req->target_case) {
    case WITAN__PROOF_REQUEST__TARGET_ATTESTATION_KEY:
        *table = STORE_ATTESTATIONS;
        *key = req->attestation_key;
        what = "attestation";
        break;
    case WITAN__PROOF_REQUEST__TARGET_PREDICTION_KEY:
        *table = STORE_PREDICTIONS;
        *key = req->prediction_key;
        what = "prediction";
        break;
    case WITAN__PROOF_REQUEST__TARGET_DECISION_KEY:
        *table = STORE_DECISIONS;
        *key = req->decision_key;
        what = "decision";
        break;
    default:
        WHY("a proof names a transaction hash, or an attestation, prediction "
            "or decision key");
        return WITAN_EINVAL;
    }
    if (key->len == 0 || key->len > WITAN_STORE_KEY_SIZE_MAX) {
        WHY("a %s key is 1 to %d bytes", what, WITAN_STORE_KEY_SIZE_MAX);
        return WITAN_EINVAL;
    }
    int err = store_get(txn, *table, key->data, key->len, value, value_size);
    if (err == WITAN_ENOTFOUND)
        WHY("no %s with that key", what);
    if (err)
        return err;
    /* Each record names the transaction that made it; a correction
     * rewrites the attestation it supersedes, so that one is the last. */
    const ProtobufCBinaryData *tx = NULL;
    Witan__AttestationRecord *a = NULL;
    Witan__PredictionRecord *pr = NULL;
    Witan__Decision *d = NULL;
    if (*table == STORE_ATTESTATIONS) {
        a = witan__attestation_record__unpack(NULL, *value_size, *value);
        if (a)
            tx = a->superseded_by.len ? &a->superseded_by : &a->tx_hash;
    } else if (*table == STORE_PREDICTIONS) {
        pr = witan__prediction_record__unpack(NULL, *value_size, *value);
        if (pr)
            tx = &pr->tx_hash;
    } else {
        d = witan__decision__unpack(NULL, *value_size, *value);
        if (d)
            tx = &d->tx_hash;
    }
    if (!tx || tx->len != WITAN_HASH_SIZE)
        err = WITAN_EDBCORRUPT;
    else
        memcpy(writer, tx->data, WITAN_HASH_SIZE);
    if (a)
        witan__attestation_record__free_unpacked(a, NULL);
    if (pr)
        witan__prediction_record__free_unpacked(pr, NULL);
    if (d)
        witan__decision__free_unpacked(d, NULL);
    return err;
}

/* The record hash of (table, key, value): spec/proofs.md. */
static void record_hash(uint32_t table, const ProtobufCBinaryData *key,
                        const ProtobufCBinaryData *value, bool deleted,
                        uint8_t out[WITAN_HASH_SIZE])
{
    wcrypto_hasher h;
    uint8_t head[5];
    wcrypto_hasher_init(&h, WCRYPTO_TAG_RECORD);
    head[0] = (uint8_t)table;
    store_be32(head + 1, (uint32_t)key->len);
    wcrypto_hasher_update(&h, head, 5);
    wcrypto_hasher_update(&h, key->data, key->len);
    head[0] = deleted ? 0 : 1;
    store_be32(head + 1, (uint32_t)value->len);
    wcrypto_hasher_update(&h, head, 5);
    wcrypto_hasher_update(&h, value->data, value->len);
    wcrypto_hasher_final(&h, out);
}

static bool receipt_lists(const Witan__Receipt *r, const uint8_t h[32])
{
    for (size_t i = 0; i < r->n_records; i++)
        if (r->records[i].len == WITAN_HASH_SIZE &&
            memcmp(r->records[i].data, h, WITAN_HASH_SIZE) == 0)
            return true;
    return false;
}

int ledger_prove(ledger *l, const Witan__ProofRequest *req, Witan__Proof **out,
                 char *why, size_t why_size)
{
    *out = NULL;
    why[0] = '\0';
    Witan__Proof *p = calloc(1, sizeof *p);
    if (!p)
        return WITAN_ENOMEM;
    witan__proof__init(p);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(p);
        return err;
    }
    uint8_t tx[WITAN_HASH_SIZE];
    if (req->target_case == WITAN__PROOF_REQUEST__TARGET_TX_HASH) {
        if (req->tx_hash.len != WITAN_HASH_SIZE) {
            WHY("a transaction hash is 32 bytes");
            err = WITAN_EINVAL;
        } else {
            memcpy(tx, req->tx_hash.data, WITAN_HASH_SIZE);
        }
    } else {
        enum store_table table;
        ProtobufCBinaryData key;
        const void *v;
        size_t vs;
        err = record_writer(txn, req, &table, &key, tx, &v, &vs, why,
                            why_size);
        if (!err && !(p->record = calloc(1, sizeof *p->record)))
            err = WITAN_ENOMEM;
        if (!err) {
            witan__state_record__init(p->record);
            p->record->table = (uint32_t)table;
            err = dup_into(&p->record->key, key.data, key.len);
        }
        if (!err)
            err = dup_into(&p->record->value, v, vs);
    }
    if (!err)
        err = prove_tx(l, txn, tx, !req->without_transaction, p, why,
                       why_size);
    store_abort(txn);
    if (!err) {
        p->version = p->n_validator_changes ? LEDGER_PROOF_VERSION_SETS
                                            : LEDGER_PROOF_VERSION;
        p->chain_id = strdup(l->g->chain_id);
        if (!p->chain_id)
            err = WITAN_ENOMEM;
    }
    if (!err)
        err = dup_into(&p->genesis_hash, l->genesis_hash, WITAN_HASH_SIZE);
    if (!err && p->record) {
        /* Only a record whose current bytes its writer's receipt lists can
         * be proved; anything else is a database that was edited. */
        Witan__Receipt *r =
            witan__receipt__unpack(NULL, p->receipt.len, p->receipt.data);
        uint8_t rh[WITAN_HASH_SIZE];
        record_hash(p->record->table, &p->record->key, &p->record->value,
                    false, rh);
        if (!r)
            err = WITAN_EDBCORRUPT;
        else if (!receipt_lists(r, rh)) {
            WHY("the record's stored bytes are not what its transaction's "
                "receipt lists: this copy of the record was changed");
            err = WITAN_EDBCORRUPT;
        }
        if (r)
            witan__receipt__free_unpacked(r, NULL);
    }
    if (err) {
        /* Everything in p was allocated by malloc as protobuf-c frees it. */
        witan__proof__free_unpacked(p, NULL);
        return err;
    }
    *out = p;
    return WITAN_OK;
}

int ledger_validator_changes(ledger *l, uint64_t height,
                             Witan__ValidatorChange ***out, size_t *count,
                             char *why, size_t why_size)
{
    *out = NULL;
    *count = 0;
    why[0] = '\0';
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    /* Every change whose block E is committed. */
    err = prove_changes(txn, height ? height : l->tip.height + 1, out, count,
                        why, why_size);
    store_abort(txn);
    if (err) {
        ledger_validator_changes_free(*out, *count);
        *out = NULL;
        *count = 0;
    }
    return err;
}

void ledger_validator_changes_free(Witan__ValidatorChange **changes,
                                   size_t count)
{
    for (size_t i = 0; changes && i < count; i++)
        witan__validator_change__free_unpacked(changes[i], NULL);
    free(changes);
}

/* --- checking ------------------------------------------------------------------ */

static const char *table_name(uint32_t t)
{
    switch (t) {
    case STORE_ACCOUNTS: return "account";
    case STORE_ATTESTATIONS: return "attestation";
    case STORE_MODELS: return "model";
    case STORE_PREDICTIONS: return "prediction";
    case STORE_CONTRACTS: return "contract";
    case STORE_RUNS: return "contract run";
    case STORE_CONTRACT_STATE: return "contract storage";
    case STORE_DECISIONS: return "decision";
    case STORE_EVENTS: return "event";
    case STORE_PREDICTION_SCORES: return "prediction score";
    case STORE_SCORECARDS: return "scorecard";
    case STORE_PROPOSALS: return "proposal";
    case STORE_PROPOSAL_VOTES: return "proposal vote";
    case STORE_GOVERNANCE: return "governance record";
    default: return NULL;
    }
}

static bool is32(const ProtobufCBinaryData *b)
{
    return b->len == WITAN_HASH_SIZE;
}

/* A repeated-bytes path as digests; false when one is not 32 bytes or
 * there are too many. */
static bool path_of(ProtobufCBinaryData *in, size_t n, wcrypto_digest *out)
{
    if (n > WITAN_MERKLE_PROOF_COUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is32(&in[i]))
            return false;
        memcpy(out[i], in[i].data, WITAN_HASH_SIZE);
    }
    return true;
}

struct decoded {
    Witan__BlockHeader *header, *later;
    Witan__CommitCertificate *cert;
    Witan__Receipt *receipt;
    Witan__Envelope *env;
    Witan__TxBody *body;
};

static void decoded_free(struct decoded *d)
{
    if (d->header)
        witan__block_header__free_unpacked(d->header, NULL);
    if (d->later)
        witan__block_header__free_unpacked(d->later, NULL);
    if (d->cert)
        witan__commit_certificate__free_unpacked(d->cert, NULL);
    if (d->receipt)
        witan__receipt__free_unpacked(d->receipt, NULL);
    if (d->env)
        witan__envelope__free_unpacked(d->env, NULL);
    if (d->body)
        witan__tx_body__free_unpacked(d->body, NULL);
}

/* The set block E names as the next: the bytes `hash` covers, decoded. */
static int next_set(const ProtobufCBinaryData *bytes, const uint8_t hash[32],
                    uint64_t e, struct ledger_pset *out, char *why, size_t why_size)
{
    uint8_t h[WITAN_HASH_SIZE];
    wcrypto_hash_tagged(WCRYPTO_TAG_VALIDATORS, bytes->data, bytes->len, h);
    if (memcmp(h, hash, WITAN_HASH_SIZE) != 0) {
        WHY("validator_set: its hash is not the next_validators_hash block "
            "%llu carries",
            (unsigned long long)e);
        return WITAN_EPROOF;
    }
    Witan__ValidatorSet *v =
        witan__validator_set__unpack(NULL, bytes->len, bytes->data);
    if (!v) {
        WHY("validator_set does not decode");
        return WITAN_EDECODE;
    }
    int err = WITAN_OK;
    if (v->first_height != e + 1 || v->n_validators == 0 ||
        v->n_validators > WITAN_VALIDATOR_COUNT_MAX) {
        WHY("validator_set: it is in force from %llu with %zu validators; "
            "block %llu's next set is in force from %llu with 1 to %d",
            (unsigned long long)v->first_height, v->n_validators,
            (unsigned long long)e, (unsigned long long)(e + 1),
            WITAN_VALIDATOR_COUNT_MAX);
        err = WITAN_EPROOF;
    }
    out->first = e + 1;
    out->count = (uint32_t)v->n_validators;
    for (size_t i = 0; !err && i < v->n_validators; i++)
        if (wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519,
                                 v->validators[i]->pubkey.data,
                                 v->validators[i]->pubkey.len,
                                 &out->keys[i])) {
            WHY("validator_set: validator %zu's key is not an Ed25519 key",
                i);
            err = WITAN_EPROOF;
        }
    witan__validator_set__free_unpacked(v, NULL);
    return err;
}

int sets_follow(const Witan__Genesis *g, Witan__ValidatorChange *const *changes,
                size_t count, uint64_t h, uint64_t later, bool strict,
                struct ledger_pset *at_h, struct ledger_pset *at_later,
                struct ledger_pset *cur, char *why, size_t why_size)
{
    cur->first = 1;
    if (ledger_validators_of(g, cur->keys, &cur->count)) {
        WHY("the genesis names a validator key that does not parse");
        return WITAN_EINVAL;
    }
    *at_h = *cur;
    for (size_t i = 0; i < count; i++) {
        const Witan__ValidatorChange *ch = changes[i];
        char inner[LEDGER_WHY_SIZE];
        Witan__BlockHeader *e = witan__block_header__unpack(
            NULL, ch->header.len, ch->header.data);
        Witan__CommitCertificate *c = witan__commit_certificate__unpack(
            NULL, ch->cert.len, ch->cert.data);
        int err = WITAN_OK;
        if (!e || !c) {
            snprintf(inner, sizeof inner, "%s does not decode",
                     !e ? "header" : "cert");
            err = WITAN_EDECODE;
        } else if (strcmp(e->chain_id, g->chain_id) != 0) {
            snprintf(inner, sizeof inner, "header: of another chain");
            err = WITAN_EPROOF;
        } else if (!strict && e->height >= later) {
            /* in force only past the height asked about */
            witan__block_header__free_unpacked(e, NULL);
            witan__commit_certificate__free_unpacked(c, NULL);
            break;
        } else if (e->height < cur->first || e->height >= later) {
            /* Each change follows the last one's first height, and only
             * changes in force by block h + L belong here. */
            snprintf(inner, sizeof inner,
                     "header: block %llu does not end the set in force "
                     "from %llu before block %llu",
                     (unsigned long long)e->height,
                     (unsigned long long)cur->first,
                     (unsigned long long)later);
            err = WITAN_EPROOF;
        } else if (e->next_validators_hash.len != WITAN_HASH_SIZE) {
            snprintf(inner, sizeof inner,
                     "header: block %llu names no next validator set",
                     (unsigned long long)e->height);
            err = WITAN_EPROOF;
        }
        if (!err) {
            uint8_t hash[WITAN_HASH_SIZE];
            char sub[LEDGER_WHY_SIZE / 2];
            wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, ch->header.data,
                                ch->header.len, hash);
            err = ledger_cert_check(g->chain_id, cur->keys, cur->count, c,
                                    e->height, hash, sub, sizeof sub);
            if (err)
                snprintf(inner, sizeof inner,
                         "cert: block %llu is not certified by the set in "
                         "force from %llu: %s",
                         (unsigned long long)e->height,
                         (unsigned long long)cur->first, sub);
        }
        if (!err) {
            err = next_set(&ch->validator_set, e->next_validators_hash.data,
                           e->height, cur, inner, sizeof inner);
            if (!err && cur->first <= h)
                *at_h = *cur;
        }
        if (e)
            witan__block_header__free_unpacked(e, NULL);
        if (c)
            witan__commit_certificate__free_unpacked(c, NULL);
        if (err) {
            WHY("validator_changes[%zu]: %s", i, inner);
            return err;
        }
    }
    *at_later = *cur;
    return WITAN_OK;
}

static int check(const Witan__Genesis *g, const Witan__Proof *p,
                 struct decoded *d, char *said, size_t said_size, char *why,
                 size_t why_size)
{
    uint8_t gh[WITAN_HASH_SIZE];
    ledger_genesis_hash(g, gh);
    if (p->version != LEDGER_PROOF_VERSION &&
        p->version != LEDGER_PROOF_VERSION_SETS) {
        WHY("proof version %u; this build checks versions %d and %d",
            p->version, LEDGER_PROOF_VERSION, LEDGER_PROOF_VERSION_SETS);
        return WITAN_EDECODE;
    }
    if ((p->version == LEDGER_PROOF_VERSION) != (p->n_validator_changes == 0) ||
        p->n_validator_changes > LEDGER_PROOF_CHANGE_COUNT_MAX) {
        WHY("a proof of version %u carries %s validator_changes",
            p->version,
            p->version == LEDGER_PROOF_VERSION ? "no" : "1 to 256");
        return WITAN_EDECODE;
    }
    if (strcmp(p->chain_id, g->chain_id) != 0 || !is32(&p->genesis_hash) ||
        memcmp(p->genesis_hash.data, gh, WITAN_HASH_SIZE) != 0) {
        WHY("the proof is for chain '%s' with another genesis, not this "
            "genesis (chain '%s')",
            p->chain_id, g->chain_id);
        return WITAN_EPROOF;
    }
    int err;
    uint64_t depth = g->params ? g->params->pipeline_depth : 0;
    d->header = witan__block_header__unpack(NULL, p->header.len, p->header.data);
    d->later = witan__block_header__unpack(NULL, p->results_header.len,
                                           p->results_header.data);
    d->cert = witan__commit_certificate__unpack(NULL, p->results_cert.len,
                                                p->results_cert.data);
    d->receipt = witan__receipt__unpack(NULL, p->receipt.len, p->receipt.data);
    bool with_tx = p->envelope.len > 0;
    if (with_tx) {
        d->env =
            witan__envelope__unpack(NULL, p->envelope.len, p->envelope.data);
        if (d->env)
            d->body = witan__tx_body__unpack(NULL, d->env->body.len,
                                             d->env->body.data);
    }
    if (!d->header || !d->later || !d->cert || !d->receipt ||
        (with_tx && !d->body)) {
        WHY("%s does not decode",
            !d->header  ? "header"
            : !d->later ? "results_header"
            : !d->cert  ? "results_cert"
            : !d->receipt ? "receipt"
                          : "envelope");
        return WITAN_EDECODE;
    }
    const Witan__BlockHeader *h = d->header, *later = d->later;
    uint64_t height = h->height;
    /* 1. Block h + L is certified by a quorum of the validators. */
    uint8_t later_hash[WITAN_HASH_SIZE], hash[WITAN_HASH_SIZE];
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, p->results_header.data,
                        p->results_header.len, later_hash);
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, p->header.data, p->header.len, hash);
    char inner[LEDGER_WHY_SIZE];
    if (strcmp(later->chain_id, g->chain_id) != 0 ||
        strcmp(h->chain_id, g->chain_id) != 0) {
        WHY("a header is of another chain");
        return WITAN_EPROOF;
    }
    if (later->height != height + depth || later->results_height != height) {
        WHY("results_header is block %llu carrying the results of block "
            "%llu; block %llu's are carried by block %llu (L = %llu)",
            (unsigned long long)later->height,
            (unsigned long long)later->results_height,
            (unsigned long long)height, (unsigned long long)(height + depth),
            (unsigned long long)depth);
        return WITAN_EPROOF;
    }
    /* The sets in force at h and h + L, from the genesis's through each
     * change the proof carries. */
    struct ledger_pset *sets = malloc(3 * sizeof *sets);
    if (!sets)
        return WITAN_ENOMEM;
    err = sets_follow(g, p->validator_changes, p->n_validator_changes, height,
                      later->height, true, &sets[0], &sets[1], &sets[2], why,
                      why_size);
    if (err) {
        free(sets);
        return err;
    }
    err = ledger_cert_check(g->chain_id, sets[1].keys, sets[1].count, d->cert,
                            later->height, later_hash, inner, sizeof inner);
    if (err) {
        WHY("results_cert: %s", inner);
        free(sets);
        return err;
    }
    /* 2. It carries block h's certificate, which certifies header h. */
    if (!later->results_cert) {
        WHY("results_header carries no certificate of block %llu",
            (unsigned long long)height);
        free(sets);
        return WITAN_EPROOF;
    }
    err = ledger_cert_check(g->chain_id, sets[0].keys, sets[0].count,
                            later->results_cert, height, hash, inner,
                            sizeof inner);
    free(sets);
    if (err) {
        WHY("header: block %llu's certificate in block %llu does not "
            "certify it: %s",
            (unsigned long long)height, (unsigned long long)later->height,
            inner);
        return err;
    }
    /* 3. The receipt is under the receipts root block h + L carries. */
    const Witan__Receipt *r = d->receipt;
    wcrypto_digest path[WITAN_MERKLE_PROOF_COUNT_MAX];
    uint8_t leaf[WITAN_HASH_SIZE];
    if (r->height != height || r->index >= h->tx_count ||
        !is32(&later->results_receipts_root) || !is32(&r->tx_hash)) {
        WHY("receipt: it is for block %llu, index %u; the header is block "
            "%llu with %u transactions",
            (unsigned long long)r->height, r->index,
            (unsigned long long)height, h->tx_count);
        return WITAN_EPROOF;
    }
    wcrypto_hash_tagged(WCRYPTO_TAG_RECEIPT, p->receipt.data, p->receipt.len,
                        leaf);
    if (!path_of(p->receipts_path, p->n_receipts_path, path) ||
        wcrypto_merkle_inclusion_verify(leaf, r->index, h->tx_count, path,
                                        p->n_receipts_path,
                                        later->results_receipts_root.data)) {
        WHY("receipts_path: the receipt is not leaf %u of block %llu's "
            "receipts root",
            r->index, (unsigned long long)height);
        return WITAN_EPROOF;
    }
    /* 4. The transaction is under header h's transactions root, is the one
     * the receipt names, and its signature holds: when it is included. */
    uint8_t tx_hash[WITAN_HASH_SIZE];
    memcpy(tx_hash, r->tx_hash.data, WITAN_HASH_SIZE);
    if (!with_tx && p->n_tx_path) {
        WHY("tx_path: given without the envelope");
        return WITAN_EPROOF;
    }
    if (with_tx) {
    wcrypto_hash_tagged(WCRYPTO_TAG_ENVELOPE, p->envelope.data,
                        p->envelope.len, leaf);
    if (!is32(&h->txs_root) || !path_of(p->tx_path, p->n_tx_path, path) ||
        wcrypto_merkle_inclusion_verify(leaf, r->index, h->tx_count, path,
                                        p->n_tx_path, h->txs_root.data)) {
        WHY("tx_path: the envelope is not leaf %u of block %llu's "
            "transactions root",
            r->index, (unsigned long long)height);
        return WITAN_EPROOF;
    }
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, d->env->body.data, d->env->body.len,
                        tx_hash);
    if (memcmp(tx_hash, r->tx_hash.data, WITAN_HASH_SIZE) != 0) {
        WHY("receipt: it is another transaction's");
        return WITAN_EPROOF;
    }
    if (wcrypto_verify_wire((enum wcrypto_key_type)d->env->key_type,
                            d->env->pubkey.data, d->env->pubkey.len, tx_hash,
                            d->env->signature.data, d->env->signature.len)) {
        WHY("envelope: its signature does not verify");
        return WITAN_ESIG;
    }
    }
    /* 5. The record is one the receipt lists. */
    char rec[200] = "";
    if (p->record) {
        const char *name = table_name(p->record->table);
        uint8_t rh[WITAN_HASH_SIZE];
        record_hash(p->record->table, &p->record->key, &p->record->value,
                    p->record->deleted, rh);
        if (!name || !receipt_lists(r, rh)) {
            WHY("record: %s", name ? "its hash is not among the records the "
                                     "receipt lists"
                                   : "no state table has that number");
            return WITAN_EPROOF;
        }
        char key_hex[2 * 48 + 1];
        size_t show = p->record->key.len < 48 ? p->record->key.len : 48;
        witan_hex_encode(p->record->key.data, show, key_hex);
        snprintf(rec, sizeof rec, ", which %s %s record %s%s (%zu bytes)",
                 p->record->deleted ? "deleted" : "wrote", name, key_hex,
                 show < p->record->key.len ? "…" : "",
                 p->record->value.len);
    }
    char tx_hex[65], from[80] = "";
    witan_hex_encode(tx_hash, WITAN_HASH_SIZE, tx_hex);
    if (with_tx && d->body->sender.len == WITAN_ADDRESS_SIZE) {
        char sender[41];
        witan_hex_encode(d->body->sender.data, WITAN_ADDRESS_SIZE, sender);
        snprintf(from, sizeof from, " from %s (nonce %llu)", sender,
                 (unsigned long long)d->body->nonce);
    }
    const ProtobufCEnumValue *st = protobuf_c_enum_descriptor_get_value(
        &witan__tx_status__descriptor, r->status);
    char sets_said[96] = "";
    if (p->n_validator_changes)
        snprintf(sets_said, sizeof sets_said,
                 " (the validator sets of %zu change(s) from the genesis "
                 "on)",
                 p->n_validator_changes);
    snprintf(said, said_size,
             "Block %llu of chain %s, certified by its validators%s through "
             "block %llu, holds transaction %s%s with receipt %s%s.",
             (unsigned long long)height, g->chain_id, sets_said,
             (unsigned long long)later->height, tx_hex, from,
             st ? st->name + strlen("TX_STATUS_") : "UNKNOWN", rec);
    return WITAN_OK;
}

int ledger_proof_check(const Witan__Genesis *g, const Witan__Proof *p,
                       char *said, size_t said_size, char *why,
                       size_t why_size)
{
    said[0] = '\0';
    why[0] = '\0';
    struct decoded d;
    memset(&d, 0, sizeof d);
    int err = check(g, p, &d, said, said_size, why, why_size);
    decoded_free(&d);
    return err;
}

/* --- proof.json ------------------------------------------------------------------ */

struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->oom = true;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* Bytes as standard base64, as the proto3 JSON mapping writes them. */
static void b64(struct text *t, const ProtobufCBinaryData *b)
{
    size_t cap = (b->len + 2) / 3 * 4 + 1;
    char *out = malloc(cap);
    if (!out) {
        t->oom = true;
        return;
    }
    size_t n = wcrypto_base64_encode(b->data, b->len, out, cap);
    puts_(t, "\"");
    put(t, out, n);
    puts_(t, "\"");
    free(out);
}

static void field_bytes(struct text *t, const char *name,
                        const ProtobufCBinaryData *b)
{
    puts_(t, ",\n  \"");
    puts_(t, name);
    puts_(t, "\": ");
    b64(t, b);
}

static void field_path(struct text *t, const char *name,
                       const ProtobufCBinaryData *b, size_t n)
{
    puts_(t, ",\n  \"");
    puts_(t, name);
    puts_(t, "\": [");
    for (size_t i = 0; i < n; i++) {
        puts_(t, i ? ",\n    " : "\n    ");
        b64(t, &b[i]);
    }
    puts_(t, n ? "\n  ]" : "]");
}

static void put_changes(struct text *t, Witan__ValidatorChange *const *list,
                        size_t n)
{
    puts_(t, ",\n  \"validator_changes\": [");
    for (size_t i = 0; i < n; i++) {
        const Witan__ValidatorChange *ch = list[i];
        puts_(t, i ? ",\n    {\"header\": " : "\n    {\"header\": ");
        b64(t, &ch->header);
        puts_(t, ",\n     \"cert\": ");
        b64(t, &ch->cert);
        puts_(t, ",\n     \"validator_set\": ");
        b64(t, &ch->validator_set);
        puts_(t, "}");
    }
    puts_(t, n ? "\n  ]" : "]");
}

int ledger_proof_to_json(const Witan__Proof *p, char **text, size_t *size)
{
    struct text t = {0};
    char num[64];
    snprintf(num, sizeof num, "{\n  \"version\": %u", p->version);
    puts_(&t, num);
    /* The chain id is checked text (genesis.md): no escaping needed. */
    puts_(&t, ",\n  \"chain_id\": \"");
    puts_(&t, p->chain_id);
    puts_(&t, "\"");
    field_bytes(&t, "genesis_hash", &p->genesis_hash);
    if (p->record) {
        snprintf(num, sizeof num, ",\n  \"record\": {\"table\": %u, \"key\": ",
                 p->record->table);
        puts_(&t, num);
        b64(&t, &p->record->key);
        puts_(&t, ", \"value\": ");
        b64(&t, &p->record->value);
        if (p->record->deleted)
            puts_(&t, ", \"deleted\": true");
        puts_(&t, "}");
    }
    if (p->envelope.len) {
        field_bytes(&t, "envelope", &p->envelope);
        field_path(&t, "tx_path", p->tx_path, p->n_tx_path);
    }
    field_bytes(&t, "receipt", &p->receipt);
    field_path(&t, "receipts_path", p->receipts_path, p->n_receipts_path);
    field_bytes(&t, "header", &p->header);
    field_bytes(&t, "results_header", &p->results_header);
    field_bytes(&t, "results_cert", &p->results_cert);
    if (p->n_validator_changes)
        put_changes(&t, p->validator_changes, p->n_validator_changes);
    puts_(&t, "\n}\n");
    if (t.oom) {
        free(t.p);
        return WITAN_ENOMEM;
    }
    *text = t.p;
    *size = t.len;
    return WITAN_OK;
}

/* Member `name` as bytes from base64; `need` says a missing one is an
 * error. */
static int get_bytes(const witan_json *doc, witan_json_ref obj,
                     const char *name, bool need, ProtobufCBinaryData *out,
                     char *why, size_t why_size)
{
    witan_json_ref r = witan_json_get(doc, obj, name);
    const char *s;
    if (r == WITAN_JSON_NONE && !need)
        return WITAN_OK;
    if (r == WITAN_JSON_NONE || witan_json_string(doc, r, &s)) {
        WHY("\"%s\" is missing or not a base64 string", name);
        return WITAN_EDECODE;
    }
    size_t n = strlen(s);
    if (n == 0)
        return WITAN_OK;
    out->data = malloc(n / 4 * 3 + 3);
    if (!out->data)
        return WITAN_ENOMEM;
    if (wcrypto_base64_decode(s, n, out->data, n / 4 * 3 + 3, &out->len)) {
        WHY("\"%s\" is not base64", name);
        return WITAN_EDECODE;
    }
    return WITAN_OK;
}

static int get_path(const witan_json *doc, witan_json_ref obj,
                    const char *name, bool need, ProtobufCBinaryData **out,
                    size_t *n_out, char *why, size_t why_size)
{
    witan_json_ref r = witan_json_get(doc, obj, name);
    if (r == WITAN_JSON_NONE && !need)
        return WITAN_OK;
    if (r == WITAN_JSON_NONE || witan_json_type_of(doc, r) != WITAN_JSON_ARRAY) {
        WHY("\"%s\" is missing or not an array", name);
        return WITAN_EDECODE;
    }
    size_t n = witan_json_count(doc, r);
    if (n > WITAN_MERKLE_PROOF_COUNT_MAX) {
        WHY("\"%s\" has %zu hashes; a path has at most %d", name, n,
            WITAN_MERKLE_PROOF_COUNT_MAX);
        return WITAN_ELIMIT;
    }
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return WITAN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        witan_json_ref e = witan_json_at(doc, r, i, NULL);
        (*out)[i].data = malloc(WITAN_HASH_SIZE + 3);
        if (!(*out)[i].data)
            return WITAN_ENOMEM;
        (*n_out)++;
        if (witan_json_string(doc, e, &s) ||
            wcrypto_base64_decode(s, strlen(s), (*out)[i].data,
                                  WITAN_HASH_SIZE + 3, &(*out)[i].len) ||
            (*out)[i].len != WITAN_HASH_SIZE) {
            WHY("\"%s\"[%zu] is not a hash in base64 (44 characters)", name,
                i);
            return WITAN_EDECODE;
        }
    }
    return WITAN_OK;
}

/* "validator_changes" of obj into *list (malloc'd, also on error):
 * `want` says it must be there, with 1 to the maximum; otherwise it must
 * not be (a proof of version 1) or, with `any`, may be either. */
static int read_changes(const witan_json *doc, witan_json_ref obj, bool want,
                        bool any, Witan__ValidatorChange ***list, size_t *count,
                        char *why, size_t why_size)
{
    witan_json_ref r = witan_json_get(doc, obj, "validator_changes");
    if (r == WITAN_JSON_NONE && !want)
        return WITAN_OK;
    size_t n = r == WITAN_JSON_NONE ? 0 : witan_json_count(doc, r);
    if ((!want && !any) || r == WITAN_JSON_NONE ||
        witan_json_type_of(doc, r) != WITAN_JSON_ARRAY || (want && n == 0) ||
        n > LEDGER_PROOF_CHANGE_COUNT_MAX) {
        if (any)
            WHY("\"validator_changes\" is an array of at most %d changes",
                LEDGER_PROOF_CHANGE_COUNT_MAX);
        else
            WHY("\"validator_changes\" is an array of 1 to %d changes in a "
                "proof of version %d, and only there",
                LEDGER_PROOF_CHANGE_COUNT_MAX, LEDGER_PROOF_VERSION_SETS);
        return WITAN_EDECODE;
    }
    *list = calloc(n ? n : 1, sizeof **list);
    if (!*list)
        return WITAN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        witan_json_ref e = witan_json_at(doc, r, i, NULL);
        Witan__ValidatorChange *ch = calloc(1, sizeof *ch);
        if (!ch)
            return WITAN_ENOMEM;
        witan__validator_change__init(ch);
        (*list)[(*count)++] = ch;
        if (witan_json_type_of(doc, e) != WITAN_JSON_OBJECT) {
            WHY("\"validator_changes\"[%zu] is not an object", i);
            return WITAN_EDECODE;
        }
        char inner[LEDGER_WHY_SIZE] = "";
        int err = get_bytes(doc, e, "header", true, &ch->header, inner,
                            sizeof inner);
        if (!err)
            err = get_bytes(doc, e, "cert", true, &ch->cert, inner,
                            sizeof inner);
        if (!err)
            err = get_bytes(doc, e, "validator_set", true, &ch->validator_set,
                            inner, sizeof inner);
        if (err) {
            WHY("\"validator_changes\"[%zu]: %s", i, inner);
            return err;
        }
    }
    return WITAN_OK;
}

int ledger_validator_changes_to_json(Witan__ValidatorChange *const *changes,
                                     size_t count, char **text, size_t *size)
{
    struct text t = {0};
    puts_(&t, "{\n  \"version\": 1");
    put_changes(&t, changes, count);
    puts_(&t, "\n}\n");
    if (t.oom) {
        free(t.p);
        return WITAN_ENOMEM;
    }
    *text = t.p;
    *size = t.len;
    return WITAN_OK;
}

int ledger_validator_changes_from_json(const char *text, size_t size,
                                       Witan__ValidatorChange ***changes,
                                       size_t *count, char *why,
                                       size_t why_size)
{
    *changes = NULL;
    *count = 0;
    witan_json *doc;
    int err = witan_json_parse(text, size, &doc, why, why_size);
    if (err)
        return err;
    if (witan_json_type_of(doc, WITAN_JSON_ROOT) != WITAN_JSON_OBJECT) {
        WHY("a set-chain file is a JSON object");
        err = WITAN_EDECODE;
    }
    if (!err)
        err = read_changes(doc, WITAN_JSON_ROOT, false, true, changes, count,
                           why, why_size);
    witan_json_free(doc);
    return err;
}

static int proof_from_doc(const witan_json *doc, witan_json_ref obj,
                          Witan__Proof **out, char *why, size_t why_size)
{
    *out = NULL;
    Witan__Proof *p = calloc(1, sizeof *p);
    if (!p)
        return WITAN_ENOMEM;
    witan__proof__init(p);
    int64_t version = 0;
    const char *chain;
    int err = WITAN_OK;
    if (witan_json_type_of(doc, obj) != WITAN_JSON_OBJECT ||
        witan_json_int(doc, witan_json_get(doc, obj, "version"), &version) ||
        version < 0 || version > UINT32_MAX ||
        witan_json_string(doc, witan_json_get(doc, obj, "chain_id"), &chain)) {
        WHY("a proof is an object with \"version\" and \"chain_id\"");
        err = WITAN_EDECODE;
    }
    if (!err) {
        p->version = (uint32_t)version;
        p->chain_id = strdup(chain);
        if (!p->chain_id)
            err = WITAN_ENOMEM;
    }
    witan_json_ref rec = witan_json_get(doc, obj, "record");
    if (!err && rec != WITAN_JSON_NONE) {
        int64_t table;
        int deleted = 0;
        witan_json_ref del = witan_json_get(doc, rec, "deleted");
        if (!(p->record = calloc(1, sizeof *p->record))) {
            err = WITAN_ENOMEM;
        } else {
            witan__state_record__init(p->record);
            if (witan_json_int(doc, witan_json_get(doc, rec, "table"), &table) ||
                table < 0 || table > 255 ||
                (del != WITAN_JSON_NONE && witan_json_bool(doc, del, &deleted))) {
                WHY("\"record\" needs a \"table\" number 0-255");
                err = WITAN_EDECODE;
            } else {
                p->record->table = (uint32_t)table;
                p->record->deleted = deleted != 0;
            }
        }
        if (!err)
            err = get_bytes(doc, rec, "key", true, &p->record->key, why,
                          why_size);
        if (!err)
            err = get_bytes(doc, rec, "value", true, &p->record->value, why,
                          why_size);
    }
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"genesis_hash", offsetof(Witan__Proof, genesis_hash)},
        {"receipt", offsetof(Witan__Proof, receipt)},
        {"header", offsetof(Witan__Proof, header)},
        {"results_header", offsetof(Witan__Proof, results_header)},
        {"results_cert", offsetof(Witan__Proof, results_cert)},
    };
    for (size_t i = 0; !err && i < sizeof fields / sizeof fields[0]; i++)
        err = get_bytes(doc, obj, fields[i].name, true,
                      (ProtobufCBinaryData *)((char *)p + fields[i].offset),
                      why, why_size);
    /* The transaction itself is optional: without it the receipt proves
     * its hash was committed. */
    if (!err)
        err = get_bytes(doc, obj, "envelope", false, &p->envelope, why,
                      why_size);
    if (!err)
        err = get_path(doc, obj, "tx_path", p->envelope.len > 0, &p->tx_path,
                       &p->n_tx_path, why, why_size);
    if (!err)
        err = get_path(doc, obj, "receipts_path", true, &p->receipts_path,
                       &p->n_receipts_path, why, why_size);
    if (!err)
        err = read_changes(doc, obj, p->version == LEDGER_PROOF_VERSION_SETS,
                           false, &p->validator_changes,
                           &p->n_validator_changes, why, why_size);
    if (err) {
        witan__proof__free_unpacked(p, NULL);
        return err;
    }
    *out = p;
    return WITAN_OK;
}

int ledger_proof_from_json(const char *text, size_t size, Witan__Proof **out,
                           char *why, size_t why_size)
{
    witan_json *doc;
    *out = NULL;
    int err = witan_json_parse(text, size, &doc, why, why_size);
    if (err)
        return err;
    err = proof_from_doc(doc, WITAN_JSON_ROOT, out, why, why_size);
    witan_json_free(doc);
    return err;
}

/* --- evidence bundles ------------------------------------------------------------ */

int ledger_evidence_to_json(const Witan__Proof *const *proofs, size_t count,
                            char **text, size_t *size)
{
    struct text t = {0};
    char head[64];
    snprintf(head, sizeof head, "{\n\"version\": %d,\n\"evidence\": [\n",
             LEDGER_EVIDENCE_VERSION);
    puts_(&t, head);
    for (size_t i = 0; i < count; i++) {
        char *one;
        size_t n;
        int err = ledger_proof_to_json(proofs[i], &one, &n);
        if (err) {
            free(t.p);
            return err;
        }
        put(&t, one, n - 1); /* without its final newline */
        puts_(&t, i + 1 < count ? ",\n" : "\n");
        free(one);
    }
    puts_(&t, "]\n}\n");
    if (t.oom) {
        free(t.p);
        return WITAN_ENOMEM;
    }
    *text = t.p;
    *size = t.len;
    return WITAN_OK;
}

int ledger_evidence_from_json(const char *text, size_t size,
                              Witan__Proof ***proofs, size_t *count,
                              char *why, size_t why_size)
{
    *proofs = NULL;
    *count = 0;
    witan_json *doc;
    int err = witan_json_parse(text, size, &doc, why, why_size);
    if (err)
        return err;
    witan_json_ref list = witan_json_get(doc, WITAN_JSON_ROOT, "evidence");
    size_t n = list == WITAN_JSON_NONE ? 1 : witan_json_count(doc, list);
    int64_t version = 0;
    if (list != WITAN_JSON_NONE &&
        (witan_json_int(doc, witan_json_get(doc, WITAN_JSON_ROOT, "version"),
                        &version) ||
         version != LEDGER_EVIDENCE_VERSION)) {
        WHY("an evidence file of version %d has \"version\": %d",
            LEDGER_EVIDENCE_VERSION, LEDGER_EVIDENCE_VERSION);
        witan_json_free(doc);
        return WITAN_EDECODE;
    }
    if (list != WITAN_JSON_NONE &&
        (witan_json_type_of(doc, list) != WITAN_JSON_ARRAY || n < 2 ||
         n > LEDGER_EVIDENCE_PROOF_COUNT_MAX)) {
        WHY("\"evidence\" is an array of 2 to %d proofs",
            LEDGER_EVIDENCE_PROOF_COUNT_MAX);
        witan_json_free(doc);
        return WITAN_EDECODE;
    }
    Witan__Proof **ps = calloc(n, sizeof *ps);
    if (!ps)
        err = WITAN_ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        witan_json_ref obj = list == WITAN_JSON_NONE
                                 ? WITAN_JSON_ROOT
                                 : witan_json_at(doc, list, i, NULL);
        char inner[LEDGER_WHY_SIZE];
        err = proof_from_doc(doc, obj, &ps[i], inner, sizeof inner);
        if (err && list != WITAN_JSON_NONE)
            WHY("evidence[%zu]: %s", i, inner);
        else if (err)
            WHY("%s", inner);
        if (!err)
            (*count)++;
    }
    witan_json_free(doc);
    *proofs = ps;
    return err;
}

/* The transaction a proof is of, from its receipt (already checked). */
static bool proof_tx(const Witan__Proof *p, uint8_t out[WITAN_HASH_SIZE])
{
    Witan__Receipt *r =
        witan__receipt__unpack(NULL, p->receipt.len, p->receipt.data);
    bool ok = r && is32(&r->tx_hash);
    if (ok)
        memcpy(out, r->tx_hash.data, WITAN_HASH_SIZE);
    if (r)
        witan__receipt__free_unpacked(r, NULL);
    return ok;
}

/* The proof in the bundle of transaction `tx`, or of record (table, key). */
static const Witan__Proof *find(Witan__Proof *const *ps, size_t n,
                                const ProtobufCBinaryData *tx, uint32_t table,
                                const ProtobufCBinaryData *key)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[WITAN_HASH_SIZE];
        if (tx && is32(tx) && proof_tx(ps[i], h) &&
            memcmp(h, tx->data, WITAN_HASH_SIZE) == 0)
            return ps[i];
        if (key && ps[i]->record && ps[i]->record->table == table &&
            ps[i]->record->key.len == key->len &&
            memcmp(ps[i]->record->key.data, key->data, key->len) == 0)
            return ps[i];
    }
    return NULL;
}

static void printable(const ProtobufCBinaryData *b, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 2 < size; i++)
        out[k++] = b->data[i] >= 0x20 && b->data[i] < 0x7f ? (char)b->data[i]
                                                           : '?';
    out[k] = '\0';
}

/* Every proof holds; then each link of the decision's chain of evidence
 * is one of them: the contract's deployment, its prediction, the model's
 * registration and every input attestation's transaction. */
static int evidence_links(Witan__Proof *const *ps, size_t n,
                          Witan__Decision *d, char *said, size_t said_size,
                          char *why, size_t why_size)
{
    if (!find(ps, n, &d->contract, 0, NULL)) {
        WHY("the contract's deployment is not among the proofs");
        return WITAN_EPROOF;
    }
    char kind[80], subject[140], contract[65];
    printable(&d->kind, kind, sizeof kind);
    printable(&d->subject, subject, sizeof subject);
    witan_hex_encode(d->contract.data, WITAN_HASH_SIZE, contract);
    if (d->prediction.len == 0) {
        snprintf(said, said_size,
                 "Decision '%s' on '%s' by contract %s v%u (%s) at height "
                 "%llu was made by a call; its decision and the contract's "
                 "deployment are certified by the chain's validators (%zu "
                 "proofs).",
                 kind, subject, d->contract_name, d->contract_version,
                 contract, (unsigned long long)d->height, n);
        return WITAN_OK;
    }
    const Witan__Proof *pp =
        find(ps, n, NULL, STORE_PREDICTIONS, &d->prediction);
    if (!pp) {
        WHY("the decision's prediction is not among the proofs");
        return WITAN_EPROOF;
    }
    Witan__PredictionRecord *pr = witan__prediction_record__unpack(
        NULL, pp->record->value.len, pp->record->value.data);
    if (!pr) {
        WHY("the prediction record does not decode");
        return WITAN_EDECODE;
    }
    int err = WITAN_OK;
    if (pr->model_tx.len && !find(ps, n, &pr->model_tx, 0, NULL)) {
        WHY("the model's registration is not among the proofs");
        err = WITAN_EPROOF;
    }
    for (size_t i = 0; !err && i < pr->n_input_txs; i++)
        if (!find(ps, n, &pr->input_txs[i], 0, NULL)) {
            WHY("input %zu's attestation is not among the proofs", i);
            err = WITAN_EPROOF;
        }
    if (!err) {
        char model[65];
        witan_hex_encode(pr->model_hash.data,
                         is32(&pr->model_hash) ? WITAN_HASH_SIZE : 0, model);
        snprintf(said, said_size,
                 "Decision '%s' on '%s' by contract %s v%u (%s) at height "
                 "%llu follows from model %s's prediction at height %llu, "
                 "computed from %zu input attestation(s); the decision, the "
                 "prediction, the contract's deployment, the model's "
                 "registration and every input are certified by the chain's "
                 "validators (%zu proofs).",
                 kind, subject, d->contract_name, d->contract_version,
                 contract, (unsigned long long)d->height, model,
                 (unsigned long long)pr->height, pr->n_input_txs, n);
    }
    witan__prediction_record__free_unpacked(pr, NULL);
    return err;
}

int ledger_evidence_check(const Witan__Genesis *g, Witan__Proof *const *proofs,
                          size_t count, char *said, size_t said_size,
                          char *why, size_t why_size)
{
    if (count == 1)
        return ledger_proof_check(g, proofs[0], said, said_size, why,
                                  why_size);
    for (size_t i = 0; i < count; i++) {
        char inner[LEDGER_WHY_SIZE], one[512];
        int err = ledger_proof_check(g, proofs[i], one, sizeof one, inner,
                                     sizeof inner);
        if (err) {
            WHY("evidence[%zu]: %s", i, inner);
            return err;
        }
    }
    const Witan__StateRecord *rec = proofs[0]->record;
    Witan__Decision *d = NULL;
    if (!rec || rec->table != STORE_DECISIONS ||
        !(d = witan__decision__unpack(NULL, rec->value.len, rec->value.data)) ||
        !is32(&d->contract)) {
        WHY("evidence[0] is not the proof of a decision");
        if (d)
            witan__decision__free_unpacked(d, NULL);
        return WITAN_EPROOF;
    }
    int err = evidence_links(proofs, count, d, said, said_size, why, why_size);
    witan__decision__free_unpacked(d, NULL);
    return err;
}
