/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger proper: opening a database against a genesis, the tip, commit
 * certificates, and building and applying blocks (spec/state.md).
 *
 * Applying a block is one storage write transaction: every check of the
 * header comes first, then each transaction (a receipt each), then the roots,
 * the block, its certificate and the new tip; then one durable commit. A block
 * that fails a header check changes nothing.
 */
#include <assert.h>
#include <string.h>

#include "consensus/consensus.h"
#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

store *ledger_store(ledger *l) { return l->s; }
const Witan__Genesis *ledger_genesis(const ledger *l) { return l->g; }
const Witan__Params *ledger_params(const ledger *l) { return &l->params; }

void params_in_force(ledger *l, const Witan__Params *p)
{
    l->params = *p;
    atomic_store_explicit(&l->tx_size_max, p->tx_size_max,
                          memory_order_relaxed);
}
const uint8_t *ledger_genesis_hash_of(const ledger *l)
{
    return l->genesis_hash;
}
void ledger_tip(const ledger *l, struct ledger_tip *out) { *out = l->tip; }

uint64_t ledger_height(const ledger *l) { return l->tip.height; }

void ledger_account_free(Witan__Account *a)
{
    if (a)
        witan__account__free_unpacked(a, NULL);
}

int account_get(store_txn *txn, const uint8_t addr[WITAN_ADDRESS_SIZE],
                Witan__Account **out)
{
    *out = NULL;
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_ACCOUNTS, addr, WITAN_ADDRESS_SIZE, &v, &vs);
    if (err)
        return err;
    *out = witan__account__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

int account_put(store_txn *txn, const Witan__Account *a)
{
    uint8_t *buf;
    size_t size;
    int err = pack_message(&a->base, &buf, &size);
    if (err)
        return err;
    err = store_put(txn, STORE_ACCOUNTS, a->address.data, a->address.len, buf,
                    size);
    free(buf);
    return err;
}

int ledger_account_nonce(ledger *l, const uint8_t addr[WITAN_ADDRESS_SIZE],
                         uint64_t *nonce)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    Witan__Account *a;
    err = account_get(txn, addr, &a);
    store_abort(txn);
    if (err)
        return err;
    *nonce = a->nonce;
    ledger_account_free(a);
    return WITAN_OK;
}

/* --- the tip ---------------------------------------------------------------- */

static int tip_put(store_txn *txn, const struct ledger_tip *t)
{
    Witan__ChainTip m = WITAN__CHAIN_TIP__INIT;
    ProtobufCBinaryData frontier[WCRYPTO_HISTORY_LEVELS];
    m.height = t->height;
    m.block_hash =
        (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)t->block_hash};
    m.state_root =
        (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)t->state_root};
    m.receipts_root =
        (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)t->receipts_root};
    m.time_ms = t->time_ms;
    m.last_nonempty_height = t->last_nonempty_height;
    m.history_size = t->history.size;
    for (int i = 0; i < WCRYPTO_HISTORY_LEVELS; i++)
        frontier[i] = (ProtobufCBinaryData){WITAN_HASH_SIZE,
                                            (uint8_t *)t->history.frontier[i]};
    m.n_history_frontier = WCRYPTO_HISTORY_LEVELS;
    m.history_frontier = frontier;
    uint8_t *buf;
    size_t size;
    int err = pack_message(&m.base, &buf, &size);
    if (err)
        return err;
    err = store_put(txn, STORE_META, META_TIP, strlen(META_TIP), buf, size);
    free(buf);
    return err;
}

static int tip_get(store_txn *txn, struct ledger_tip *t)
{
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_META, META_TIP, strlen(META_TIP), &v, &vs);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    Witan__ChainTip *m = witan__chain_tip__unpack(NULL, vs, v);
    if (!m)
        return WITAN_EDBCORRUPT;
    err = WITAN_OK;
    if (m->block_hash.len != WITAN_HASH_SIZE ||
        m->state_root.len != WITAN_HASH_SIZE ||
        m->receipts_root.len != WITAN_HASH_SIZE ||
        m->n_history_frontier != WCRYPTO_HISTORY_LEVELS) {
        err = WITAN_EDBCORRUPT;
    } else {
        memset(t, 0, sizeof *t);
        t->height = m->height;
        memcpy(t->block_hash, m->block_hash.data, WITAN_HASH_SIZE);
        memcpy(t->state_root, m->state_root.data, WITAN_HASH_SIZE);
        memcpy(t->receipts_root, m->receipts_root.data, WITAN_HASH_SIZE);
        t->time_ms = m->time_ms;
        t->last_nonempty_height = m->last_nonempty_height;
        t->history.size = m->history_size;
        for (int i = 0; i < WCRYPTO_HISTORY_LEVELS; i++) {
            if (m->history_frontier[i].len != WITAN_HASH_SIZE) {
                err = WITAN_EDBCORRUPT;
                break;
            }
            memcpy(t->history.frontier[i], m->history_frontier[i].data,
                   WITAN_HASH_SIZE);
        }
    }
    witan__chain_tip__free_unpacked(m, NULL);
    return err;
}

static void results_key(uint64_t height, uint8_t key[9])
{
    key[0] = 'r';
    store_be64(key + 1, height);
}

/* The state and receipts roots after block `height` (0: after genesis). */
static int results_get(store_txn *txn, uint64_t height,
                       uint8_t state[WITAN_HASH_SIZE],
                       uint8_t receipts[WITAN_HASH_SIZE])
{
    uint8_t key[9];
    const void *v;
    size_t vs;
    results_key(height, key);
    int err = store_get(txn, STORE_META, key, sizeof key, &v, &vs);
    if (err)
        return err;
    if (vs != 2 * WITAN_HASH_SIZE)
        return WITAN_EDBCORRUPT;
    memcpy(state, v, WITAN_HASH_SIZE);
    memcpy(receipts, (const uint8_t *)v + WITAN_HASH_SIZE, WITAN_HASH_SIZE);
    return WITAN_OK;
}

static int results_put(store_txn *txn, uint64_t height,
                       const uint8_t state[WITAN_HASH_SIZE],
                       const uint8_t receipts[WITAN_HASH_SIZE])
{
    uint8_t key[9], value[2 * WITAN_HASH_SIZE];
    results_key(height, key);
    memcpy(value, state, WITAN_HASH_SIZE);
    memcpy(value + WITAN_HASH_SIZE, receipts, WITAN_HASH_SIZE);
    return store_put(txn, STORE_META, key, sizeof key, value, sizeof value);
}

/* --- opening ------------------------------------------------------------------ */

/* This build's schema version, into meta. */
static int schema_put(store_txn *txn)
{
    uint8_t be[4];
    store_be32(be, LEDGER_SCHEMA_VERSION);
    return store_put(txn, STORE_META, META_SCHEMA, strlen(META_SCHEMA), be, 4);
}

static int init_from_genesis(ledger *l)
{
    store_txn *txn;
    int err = store_write_begin(l->s, &txn);
    if (err)
        return err;
    uint8_t be[4];
    store_be32(be, WITAN_PROTOCOL_VERSION);
    err = store_put(txn, STORE_META, META_PROTOCOL, strlen(META_PROTOCOL), be, 4);
    if (!err)
        err = schema_put(txn);
    if (!err)
        err = store_put(txn, STORE_META, META_GENESIS, strlen(META_GENESIS),
                        l->genesis_hash, WITAN_HASH_SIZE);
    if (!err)
        err = store_put(txn, STORE_META, META_CHAIN, strlen(META_CHAIN),
                        l->g->chain_id, strlen(l->g->chain_id));
    for (size_t i = 0; !err && i < l->g->n_members; i++) {
        const Witan__Member *m = l->g->members[i];
        Witan__Account *a;
        err = ledger_account_new(m->name, m->key_type, m->pubkey, m->roles,
                                 m->n_roles, 0, NULL, &a);
        if (!err) {
            err = account_put(txn, a);
            ledger_account_free(a);
        }
    }
    struct ledger_tip *t = &l->tip;
    memset(t, 0, sizeof *t);
    uint8_t zero[WITAN_HASH_SIZE] = {0};
    if (!err)
        err = store_state_root(txn, zero, 0, t->state_root);
    wcrypto_merkle_root(NULL, 0, t->receipts_root);
    memcpy(t->block_hash, l->genesis_hash, WITAN_HASH_SIZE);
    t->time_ms = l->g->genesis_time_ms;
    wcrypto_history_init(&t->history);
    if (!err)
        err = results_put(txn, 0, t->state_root, t->receipts_root);
    if (!err)
        err = tip_put(txn, t);
    if (err) {
        store_abort(txn);
        return err;
    }
    return store_commit(txn);
}

void ledger_tx_loc(uint64_t height, uint32_t index,
                   uint8_t out[LEDGER_TX_LOC_SIZE])
{
    store_be64(out, height);
    store_be32(out + 8, index);
}

/* Schema 3 keyed receipts by transaction hash: one random page written for
 * each. Schema 4 keys them by (height, index). The receipts are moved along
 * the txs index, in write transactions of a bounded count; the new version
 * is written with the last of them, so an upgrade cut short starts again at
 * the next open and skips what it moved. */
#define LEDGER_UPGRADE_BATCH 4096

/* A varint of the protobuf wire format at *p, at most 10 bytes and
 * before `end`; false when it runs past either. */
static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

int ledger_envelope_tx_hash(const uint8_t *env, size_t size,
                            uint8_t hash[WITAN_HASH_SIZE])
{
    const uint8_t *p = env, *end = env + size, *body = NULL;
    uint64_t body_len = 0;
    while (p < end) {
        uint64_t key, v;
        if (!wire_varint(&p, end, &key))
            return WITAN_EDECODE;
        if ((key & 7) == 0) { /* key_type */
            if (!wire_varint(&p, end, &v))
                return WITAN_EDECODE;
            continue;
        }
        if ((key & 7) != 2 || !wire_varint(&p, end, &v) ||
            v > (uint64_t)(end - p))
            return WITAN_EDECODE;
        if (key >> 3 == 1) { /* the last one, as a decoder takes it */
            body = p;
            body_len = v;
        }
        p += v;
    }
    if (!body)
        return WITAN_EDECODE;
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, body, (size_t)body_len, hash);
    return WITAN_OK;
}

int stored_block_parts(const uint8_t *bytes, size_t size, uint32_t index,
                       ProtobufCBinaryData *header, ProtobufCBinaryData *tx)
{
    const uint8_t *p = bytes, *end = bytes + size;
    uint64_t seen = 0;
    bool found = !tx;
    *header = (ProtobufCBinaryData){0, NULL};
    if (tx)
        *tx = (ProtobufCBinaryData){0, NULL};
    while (p < end) {
        uint64_t key, len;
        if (!wire_varint(&p, end, &key) || (key & 7) != 2 ||
            !wire_varint(&p, end, &len) || len > (uint64_t)(end - p))
            return WITAN_EDBCORRUPT;
        ProtobufCBinaryData field = {(size_t)len, (uint8_t *)p};
        if (key >> 3 == 1) {
            *header = field; /* the last one, as a decoder takes it */
        } else if (key >> 3 == 2) {
            if (tx && seen++ == index) {
                *tx = field;
                found = true;
            }
        } else {
            return WITAN_EDBCORRUPT; /* a stored block has no other field */
        }
        p += len;
    }
    return found && header->data ? WITAN_OK : WITAN_EDBCORRUPT;
}

/* Moves the receipts of up to a batch of indexed transactions from hash
 * `from` on (a receipt moved already is skipped, the one at `from`
 * included); *next is the last hash it reached, *done whether the index
 * ended. */
static int upgrade_batch(store_txn *txn, const uint8_t from[WITAN_HASH_SIZE],
                         uint8_t next[WITAN_HASH_SIZE], bool *done)
{
    /* the batch's keys first: LMDB cursors are not kept across writes */
    uint8_t(*keys)[WITAN_HASH_SIZE + LEDGER_TX_LOC_SIZE] =
        malloc(LEDGER_UPGRADE_BATCH * sizeof *keys);
    store_cursor *c = NULL;
    int err = keys ? store_cursor_open(txn, STORE_TXS, &c) : WITAN_ENOMEM;
    size_t n = 0;
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, from, WITAN_HASH_SIZE, &k, &ks, &v, &vs);
    while (!err && n < LEDGER_UPGRADE_BATCH) {
        if (ks != WITAN_HASH_SIZE || vs != LEDGER_TX_LOC_SIZE) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        memcpy(keys[n], k, WITAN_HASH_SIZE);
        memcpy(keys[n++] + WITAN_HASH_SIZE, v, LEDGER_TX_LOC_SIZE);
        err = store_cursor_next(c, &k, &ks, &v, &vs);
    }
    store_cursor_close(c);
    *done = err == WITAN_ENOTFOUND;
    if (*done)
        err = WITAN_OK;
    for (size_t i = 0; !err && i < n; i++) {
        err = store_get(txn, STORE_RECEIPTS, keys[i], WITAN_HASH_SIZE, &v, &vs);
        if (err == WITAN_ENOTFOUND) {
            err = WITAN_OK;
            continue;
        }
        void *copy = err ? NULL : malloc(vs ? vs : 1);
        if (!err && !copy)
            err = WITAN_ENOMEM;
        if (!err) {
            memcpy(copy, v, vs);
            err = store_put(txn, STORE_RECEIPTS, keys[i] + WITAN_HASH_SIZE,
                            LEDGER_TX_LOC_SIZE, copy, vs);
        }
        free(copy);
        if (!err)
            err = store_del(txn, STORE_RECEIPTS, keys[i], WITAN_HASH_SIZE);
    }
    memcpy(next, n > 0 ? keys[n - 1] : from, WITAN_HASH_SIZE);
    free(keys);
    return err;
}

static int upgrade_receipts(ledger *l)
{
    uint8_t from[WITAN_HASH_SIZE] = {0}, next[WITAN_HASH_SIZE];
    bool done = false;
    int err = WITAN_OK;
    while (!err && !done) {
        store_txn *txn;
        err = store_write_begin(l->s, &txn);
        if (err)
            break;
        err = upgrade_batch(txn, from, next, &done);
        if (!err && done)
            err = schema_put(txn);
        if (!err) {
            err = store_commit(txn);
            memcpy(from, next, sizeof from);
            continue;
        }
        store_abort(txn);
        /* the same batch again in a larger map */
        done = false;
        if (err == WITAN_EMAPFULL && store_grow(l->s) == 0)
            err = WITAN_OK;
    }
    if (!err)
        WITAN_INFO("ledger", "database upgraded to schema version %d: "
                   "receipts keyed by height and index",
                   LEDGER_SCHEMA_VERSION);
    return err;
}

/* An upgrade with nothing to move: the version alone. */
static int upgrade_version(ledger *l)
{
    store_txn *txn;
    int err = store_write_begin(l->s, &txn);
    if (err)
        return err;
    err = schema_put(txn);
    if (err) {
        store_abort(txn);
        return err;
    }
    err = store_commit(txn);
    if (!err)
        WITAN_INFO("ledger", "database upgraded to schema version %d",
                   LEDGER_SCHEMA_VERSION);
    return err;
}

static int check_existing(ledger *l, uint32_t *schema, char *why,
                          size_t why_size)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    const void *v;
    size_t vs;
    err = store_get(txn, STORE_META, META_PROTOCOL, strlen(META_PROTOCOL), &v,
                    &vs);
    if (!err && (vs != 4 || store_read_be32(v) != WITAN_PROTOCOL_VERSION)) {
        WHY("database has protocol version %u; this build speaks %d",
            vs == 4 ? store_read_be32(v) : 0, WITAN_PROTOCOL_VERSION);
        err = WITAN_EVERSION;
    }
    if (!err)
        err = store_get(txn, STORE_META, META_SCHEMA, strlen(META_SCHEMA), &v,
                        &vs);
    *schema = !err && vs == 4 ? store_read_be32(v) : 0;
    if (!err && (*schema > LEDGER_SCHEMA_VERSION ||
                 *schema < LEDGER_SCHEMA_OLDEST)) {
        WHY("database has schema version %u; this build uses %d and "
            "upgrades %d to %d",
            *schema, LEDGER_SCHEMA_VERSION, LEDGER_SCHEMA_OLDEST,
            LEDGER_SCHEMA_VERSION - 1);
        err = WITAN_EVERSION;
    }
    if (!err)
        err = store_get(txn, STORE_META, META_GENESIS, strlen(META_GENESIS), &v,
                        &vs);
    if (!err && (vs != WITAN_HASH_SIZE ||
                 memcmp(v, l->genesis_hash, WITAN_HASH_SIZE) != 0)) {
        char have[65], want[65];
        witan_hex_encode(v, vs == WITAN_HASH_SIZE ? WITAN_HASH_SIZE : 0, have);
        witan_hex_encode(l->genesis_hash, WITAN_HASH_SIZE, want);
        WHY("database belongs to genesis %s, not this genesis %s (another "
            "chain)",
            have, want);
        err = WITAN_EGENESIS;
    }
    if (!err)
        err = tip_get(txn, &l->tip);
    if (err == WITAN_ENOTFOUND || (err == WITAN_EDBCORRUPT && !why[0]))
        WHY("database metadata is missing or damaged");
    store_abort(txn);
    return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
}

int ledger_open(const char *dir, const Witan__Genesis *g,
                const struct store_options *options, ledger **out, char *why,
                size_t why_size)
{
    *out = NULL;
    why[0] = '\0';
    ledger *l = calloc(1, sizeof *l);
    if (!l)
        return WITAN_ENOMEM;
    l->g = g;
    ledger_genesis_hash(g, l->genesis_hash);
    int err = vset_from_genesis(g, &l->vs_cur);
    l->vs_prev = l->vs_cur;
    if (!err)
        err = contract_runtime_new(&l->rt);
    if (!err)
        err = store_open(dir, options, &l->s);
    if (err) {
        if (!why[0])
            WHY("cannot open database in %s: %s", dir, witan_err_message(err));
        contract_runtime_free(l->rt);
        free(l);
        return err;
    }

    store_txn *txn;
    const void *v;
    size_t vs;
    err = store_read_begin(l->s, &txn);
    if (!err) {
        err = store_get(txn, STORE_META, META_GENESIS, strlen(META_GENESIS), &v,
                        &vs);
        store_abort(txn);
    }
    if (err == WITAN_ENOTFOUND)
        err = init_from_genesis(l);
    else if (!err) {
        uint32_t schema;
        err = check_existing(l, &schema, why, why_size);
        /* 3: receipts keyed by hash. 4: the txs index written whole at
         * every block, so it holds every committed transaction already. */
        if (!err && schema < LEDGER_SCHEMA_VERSION) {
            err = schema == 3 ? upgrade_receipts(l) : upgrade_version(l);
            if (err)
                WHY("cannot upgrade the database from schema version %u: %s",
                    schema, witan_err_message(err));
        }
    }
    if (!err)
        err = gov_open(l);
    if (!err)
        err = vsets_load(l);
    if (!err)
        err = txindex_load(l, why, why_size);
    if (err) {
        if (!why[0])
            WHY("cannot open database in %s: %s", dir, witan_err_message(err));
        ledger_close(l);
        return err;
    }
    *out = l;
    return WITAN_OK;
}

void ledger_close(ledger *l)
{
    if (!l)
        return;
    models_cache_clear(l);
    contracts_cache_clear(l);
    contract_runtime_free(l->rt);
    txindex_free(l);
    store_close(l->s);
    free(l);
}

/* --- votes and certificates ---------------------------------------------------- */

/* The certificate decoded as the replicas decode it, and for (height,
 * hash). */
static int cert_decode(const Witan__CommitCertificate *cert, uint64_t height,
                       const uint8_t hash[WITAN_HASH_SIZE], pbft_cert *c,
                       char *why, size_t why_size)
{
    /* The consensus module's decoder and check: the ledger must refuse
     * exactly what the replicas refuse, or a certified block could halt it. */
    char inner[LEDGER_WHY_SIZE];
    int err = pbft_cert_from_proto(cert, c, inner, sizeof inner);
    if (err) {
        WHY("certificate for block %llu: %s", (unsigned long long)height,
            inner);
        return err;
    }
    if (c->height != height ||
        memcmp(c->block_hash, hash, WITAN_HASH_SIZE) != 0) {
        WHY("certificate is not for block %llu", (unsigned long long)height);
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

static int cert_signatures(const char *chain_id,
                           const wcrypto_pubkey *validators,
                           uint32_t validator_count, const pbft_cert *c,
                           const pbft_cert *known, char *why, size_t why_size)
{
    char inner[LEDGER_WHY_SIZE];
    if (pbft_cert_check_known(chain_id, PBFT_SIG_ED25519, validators,
                              validator_count, c, known, inner,
                              sizeof inner) != 0) {
        WHY("%s", inner);
        return WITAN_ESIG;
    }
    return WITAN_OK;
}

int ledger_cert_check(const char *chain_id, const wcrypto_pubkey *validators,
                      uint32_t validator_count,
                      const Witan__CommitCertificate *cert, uint64_t height,
                      const uint8_t hash[WITAN_HASH_SIZE], char *why,
                      size_t why_size)
{
    pbft_cert c;
    int err = cert_decode(cert, height, hash, &c, why, why_size);
    return err ? err
               : cert_signatures(chain_id, validators, validator_count, &c,
                                 NULL, why, why_size);
}

/* A digest of a validator set's keys: a remembered certificate counts
 * only under the set it was checked against. */
static void set_digest(const struct ledger_vset *v,
                       uint8_t out[WITAN_HASH_SIZE])
{
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, "witan/local/cert-set");
    for (uint32_t i = 0; i < v->count; i++) {
        uint8_t size = v->keys[i].size;
        wcrypto_hasher_update(&h, &size, 1);
        wcrypto_hasher_update(&h, v->keys[i].bytes, size);
    }
    wcrypto_hasher_final(&h, out);
}

/* Against the set in force at `height` (governance.md section 7). A
 * signature the ledger found valid in a certificate of the same vote
 * lately is not checked again (struct ledger, cert_ok). */
static int cert_verify(ledger *l, store_txn *txn,
                       const Witan__CommitCertificate *cert, uint64_t height,
                       const uint8_t hash[WITAN_HASH_SIZE], char *why,
                       size_t why_size)
{
    struct ledger_vset v;
    int err = vset_at(l, txn, height, &v);
    if (err) {
        WHY("the validator set of height %llu cannot be read: %s",
            (unsigned long long)height, witan_err_message(err));
        return err;
    }
    pbft_cert c;
    if ((err = cert_decode(cert, height, hash, &c, why, why_size)) != 0)
        return err;
    uint8_t set[WITAN_HASH_SIZE];
    set_digest(&v, set);
    const pbft_cert *known = NULL;
    for (uint32_t i = 0; i < LEDGER_CERT_CACHE_COUNT && !known; i++) {
        const struct ledger_cert_ok *e = &l->cert_ok[i];
        if (e->cert.height == c.height && e->cert.view == c.view &&
            memcmp(e->cert.block_hash, c.block_hash, WITAN_HASH_SIZE) == 0 &&
            memcmp(e->set, set, WITAN_HASH_SIZE) == 0)
            known = &e->cert;
    }
    err = cert_signatures(l->g->chain_id, v.keys, v.count, &c, known, why,
                          why_size);
    if (!err && !(known && (c.signers & ~known->signers) == 0)) {
        struct ledger_cert_ok *e =
            &l->cert_ok[l->cert_ok_next++ % LEDGER_CERT_CACHE_COUNT];
        memcpy(e->set, set, WITAN_HASH_SIZE);
        e->cert = c;
    }
    return err;
}

int ledger_cert_vouch(ledger *l, const Witan__CommitCertificate *cert,
                      uint64_t height)
{
    struct ledger_vset v;
    pbft_cert c;
    int err = vset_at(l, NULL, height, &v);
    if (!err)
        err = pbft_cert_from_proto(cert, &c, NULL, 0);
    if (err)
        return err;
    struct ledger_cert_ok *e =
        &l->cert_ok[l->cert_ok_next++ % LEDGER_CERT_CACHE_COUNT];
    set_digest(&v, e->set);
    e->cert = c;
    return WITAN_OK;
}

int ledger_cert_verify(ledger *l, const Witan__CommitCertificate *cert,
                       uint64_t height, const uint8_t hash[WITAN_HASH_SIZE],
                       char *why, size_t why_size)
{
    return cert_verify(l, NULL, cert, height, hash, why, why_size);
}

int ledger_validators_of(const Witan__Genesis *g, wcrypto_pubkey *out,
                         uint32_t *count)
{
    if (g->n_validators > WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_ELIMIT;
    int err = WITAN_OK;
    for (size_t i = 0; !err && i < g->n_validators; i++)
        err = wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519,
                                   g->validators[i]->pubkey.data,
                                   g->validators[i]->pubkey.len, &out[i]);
    *count = (uint32_t)g->n_validators;
    return err;
}

/* --- building -------------------------------------------------------------------- */

void ledger_block_free(struct ledger_block *b)
{
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

static int cert_get(store_txn *txn, uint64_t height,
                    Witan__CommitCertificate **out)
{
    uint8_t key[8];
    const void *v;
    size_t vs;
    store_be64(key, height);
    *out = NULL;
    int err = store_get(txn, STORE_CERTS, key, 8, &v, &vs);
    if (err)
        return err;
    *out = witan__commit_certificate__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

int ledger_txs_root(const uint8_t *const *txs, const size_t *sizes,
                    size_t count, uint8_t root[WITAN_HASH_SIZE])
{
    if (count > WITAN_BLOCK_TX_COUNT_MAX)
        return WITAN_ELIMIT;
    wcrypto_digest *leaves = malloc((count ? count : 1) * sizeof *leaves);
    if (leaves == NULL)
        return WITAN_ENOMEM;
    for (size_t i = 0; i < count; i++)
        wcrypto_hash_tagged(WCRYPTO_TAG_ENVELOPE, txs[i], sizes[i], leaves[i]);
    wcrypto_merkle_root(leaves, count, root);
    free(leaves);
    return WITAN_OK;
}

int ledger_block_build(ledger *l, struct ledger_tx *const *txs, size_t count,
                       int64_t time_ms, uint64_t view, uint32_t proposer,
                       struct ledger_block *out)
{
    memset(out, 0, sizeof *out);
    const Witan__Params *p = ledger_params(l);
    if (count > p->block_tx_count_max)
        return WITAN_ELIMIT;
    const struct ledger_tip *tip = &l->tip;
    uint64_t height = tip->height + 1;

    ProtobufCBinaryData *tx_data = malloc((count ? count : 1) * sizeof *tx_data);
    const uint8_t **ptrs = malloc((count ? count : 1) * sizeof *ptrs);
    size_t *sizes = malloc((count ? count : 1) * sizeof *sizes);
    if (!tx_data || !ptrs || !sizes) {
        free(tx_data);
        free(ptrs);
        free(sizes);
        return WITAN_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        tx_data[i] = (ProtobufCBinaryData){txs[i]->size, txs[i]->bytes};
        ptrs[i] = txs[i]->bytes;
        sizes[i] = txs[i]->size;
    }
    uint8_t txs_root[WITAN_HASH_SIZE], history_root[WITAN_HASH_SIZE];
    uint8_t rstate[WITAN_HASH_SIZE], rreceipts[WITAN_HASH_SIZE];
    int root_err = ledger_txs_root(ptrs, sizes, count, txs_root);
    free(ptrs);
    free(sizes);
    if (root_err) {
        free(tx_data);
        return root_err;
    }
    wcrypto_history_root(&tip->history, history_root);

    Witan__BlockHeader h = WITAN__BLOCK_HEADER__INIT;
    h.protocol_version = WITAN_PROTOCOL_VERSION;
    h.chain_id = l->g->chain_id;
    h.height = height;
    h.view = view;
    /* Monotonic whatever the caller's clock says. */
    h.time_ms = time_ms > tip->time_ms ? time_ms : tip->time_ms + 1;
    h.prev_hash =
        (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)tip->block_hash};
    h.txs_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, txs_root};
    h.history_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, history_root};
    h.tx_count = (uint32_t)count;
    h.proposer = proposer;

    Witan__CommitCertificate *cert = NULL;
    int err = WITAN_OK;
    uint32_t depth = p->pipeline_depth;
    if (height > depth) {
        store_txn *txn;
        err = store_read_begin(l->s, &txn);
        if (!err) {
            err = results_get(txn, height - depth, rstate, rreceipts);
            if (!err)
                err = cert_get(txn, height - depth, &cert);
            store_abort(txn);
        }
        h.results_height = height - depth;
        h.results_state_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, rstate};
        h.results_receipts_root =
            (ProtobufCBinaryData){WITAN_HASH_SIZE, rreceipts};
        h.results_cert = cert;
    }
    /* The last block of a set names the next one (consensus.md). */
    uint8_t next_vs[WITAN_HASH_SIZE];
    bool has_next = false;
    if (!err) {
        store_txn *txn;
        err = store_read_begin(l->s, &txn);
        if (!err) {
            err = vset_next_hash(txn, height, &has_next, next_vs);
            store_abort(txn);
        }
    }
    if (has_next)
        h.next_validators_hash =
            (ProtobufCBinaryData){WITAN_HASH_SIZE, next_vs};
    uint8_t *header = NULL;
    size_t header_size = 0;
    if (!err)
        err = pack_message(&h.base, &header, &header_size);
    if (cert)
        witan__commit_certificate__free_unpacked(cert, NULL);
    if (!err) {
        Witan__Block b = WITAN__BLOCK__INIT;
        b.header = (ProtobufCBinaryData){header_size, header};
        b.n_txs = count;
        b.txs = tx_data;
        err = pack_message(&b.base, &out->bytes, &out->size);
        if (!err && out->size > p->block_size_max) {
            ledger_block_free(out);
            err = WITAN_ELIMIT;
        }
        if (!err) {
            wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, header, header_size,
                                out->hash);
            out->height = height;
        }
    }
    free(header);
    free(tx_data);
    return err;
}

/* --- applying ------------------------------------------------------------------- */

static bool bytes_eq(ProtobufCBinaryData b, const uint8_t *want, size_t size)
{
    return b.len == size && memcmp(b.data, want, size) == 0;
}

/* Every check of a header against the tip; nothing written. */
static int check_header(ledger *l, store_txn *txn, const Witan__Block *b,
                        const Witan__BlockHeader *h, char *why, size_t why_size)
{
    const struct ledger_tip *tip = &l->tip;
    if (h->protocol_version != WITAN_PROTOCOL_VERSION) {
        WHY("block has protocol version %u; this build speaks %d",
            h->protocol_version, WITAN_PROTOCOL_VERSION);
        return WITAN_EVERSION;
    }
    if (strcmp(h->chain_id, l->g->chain_id) != 0) {
        WHY("block is for another chain");
        return WITAN_ECHAIN;
    }
    if (h->height != tip->height + 1) {
        WHY("block height %llu does not follow the tip %llu",
            (unsigned long long)h->height, (unsigned long long)tip->height);
        return WITAN_ESTATE;
    }
    if (!bytes_eq(h->prev_hash, tip->block_hash, WITAN_HASH_SIZE)) {
        WHY("block %llu does not link to the tip's hash",
            (unsigned long long)h->height);
        return WITAN_EINVAL;
    }
    if (h->time_ms < tip->time_ms) {
        WHY("block time %lld is before the tip's %lld",
            (long long)h->time_ms, (long long)tip->time_ms);
        return WITAN_EINVAL;
    }
    uint8_t root[WITAN_HASH_SIZE];
    wcrypto_history_root(&tip->history, root);
    if (!bytes_eq(h->history_root, root, WITAN_HASH_SIZE)) {
        WHY("block history root differs from this node's");
        return WITAN_EINVAL;
    }
    if (h->tx_count != b->n_txs ||
        b->n_txs > ledger_params(l)->block_tx_count_max) {
        WHY("block transaction count %zu is wrong or over the limit %u in "
            "force at height %llu",
            b->n_txs, ledger_params(l)->block_tx_count_max,
            (unsigned long long)h->height);
        return WITAN_ELIMIT;
    }
    /* Block E of a change names the set in force from E + 1, and no
     * other block names one: so a proof can follow the sets from the
     * genesis on through certified headers (proofs.md). The change was
     * stored when its boundary B ≤ E − L − 1 executed, before the tip. */
    uint8_t next_vs[WITAN_HASH_SIZE];
    bool has_next;
    int verr = vset_next_hash(txn, h->height, &has_next, next_vs);
    if (verr)
        return verr;
    if (has_next ? !bytes_eq(h->next_validators_hash, next_vs, WITAN_HASH_SIZE)
                 : h->next_validators_hash.len != 0) {
        WHY("block %llu %s", (unsigned long long)h->height,
            has_next ? "ends a validator set and must carry the next set's "
                       "hash as next_validators_hash"
                     : "carries a next_validators_hash but no validator set "
                       "changes after it");
        return WITAN_EINVAL;
    }
    uint32_t depth = l->g->params->pipeline_depth;
    if (h->height > depth) {
        uint8_t state[WITAN_HASH_SIZE], receipts[WITAN_HASH_SIZE],
            hash[WITAN_HASH_SIZE];
        const void *v;
        size_t vs;
        uint8_t key[8];
        int err = results_get(txn, h->height - depth, state, receipts);
        store_be64(key, h->height - depth);
        if (!err)
            err = store_get(txn, STORE_BLOCKS, key, 8, &v, &vs);
        if (err)
            return err;
        ProtobufCBinaryData old;
        if ((err = stored_block_parts(v, vs, 0, &old, NULL)))
            return err;
        wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, old.data, old.len, hash);
        if (h->results_height != h->height - depth ||
            !bytes_eq(h->results_state_root, state, WITAN_HASH_SIZE) ||
            !bytes_eq(h->results_receipts_root, receipts, WITAN_HASH_SIZE)) {
            WHY("block carries results of height %llu that differ from this "
                "node's execution",
                (unsigned long long)h->results_height);
            return WITAN_EFORK;
        }
        return cert_verify(l, txn, h->results_cert, h->height - depth, hash,
                           why, why_size);
    }
    if (h->results_height || h->results_state_root.len ||
        h->results_receipts_root.len || h->results_cert) {
        WHY("block %llu carries results before any are due",
            (unsigned long long)h->height);
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, WITAN_HASH_SIZE);
}

void ledger_set_pool(ledger *l, witan_pool *pool)
{
    l->pool = pool;
}

void ledger_on_executed(ledger *l, void (*fn)(void *ctx), void *ctx)
{
    l->on_executed = fn;
    l->on_executed_ctx = ctx;
}

/* Whether the validator sets in force change once the block of height
 * `height` is the tip: one it stored, or one stored earlier that comes
 * into force after it. */
static bool vsets_turn(const ledger *l, uint64_t height)
{
    return l->vs_written || l->vs_newest_first == height + 1;
}

/* ledger_on_executed's moment: the tip is `next` for the call. Not when
 * the validator sets turn, which are read from the store after the commit:
 * the tip and the sets would disagree meanwhile. */
static void executed(ledger *l, const struct ledger_tip *next)
{
    if (!l->on_executed || vsets_turn(l, next->height))
        return;
    struct ledger_tip was = l->tip;
    l->tip = *next;
    l->on_executed(l->on_executed_ctx);
    l->tip = was;
}

/* The stateless rule (ledger_tx_decode, signature included) on one
 * transaction of a block, on a pool thread: ok[i] and its hash. */
struct sig_pass {
    const ledger *l;
    const uint8_t *const *ptrs;
    const size_t *sizes;
    const bool *skip;
    bool *ok;
    wcrypto_digest *hashes;
};

static void sig_pass_one(void *ctx, size_t i)
{
    struct sig_pass *s = ctx;
    if (s->skip[i])
        return;
    struct ledger_tx tx;
    char why[LEDGER_WHY_SIZE];
    if (ledger_tx_decode(s->l, s->ptrs[i], s->sizes[i], true, &tx, why,
                         sizeof why) == 0) {
        memcpy(s->hashes[i], tx.hash, WITAN_HASH_SIZE);
        s->ok[i] = true;
        ledger_tx_release(&tx);
    }
}

/* ledger_block_check inside a transaction (read or the apply's write).
 * With `keep` (b->n_txs zeroed entries), each transaction it decoded is left
 * there for the caller to release, so that executing it decodes it once.
 * A transaction `given` decoded (ledger_block_apply) passed the stateless
 * checks when it was decoded, and only its size is held to the limit in
 * force. */
static int block_check(ledger *l, store_txn *txn, const Witan__Block *b,
                       const Witan__BlockHeader *h,
                       const struct ledger_check_opts *o,
                       const struct ledger_tx *given, struct ledger_tx *keep,
                       char *why, size_t why_size)
{
    int err = check_header(l, txn, b, h, why, why_size);
    if (err)
        return err;
    size_t n = b->n_txs;
    wcrypto_digest *hashes = malloc((n ? n : 1) * sizeof *hashes);
    const uint8_t **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    size_t *sizes = malloc((n ? n : 1) * sizeof *sizes);
    /* With a pool: the signatures first, on its threads (a transaction
     * that passes there is done; one that fails is decoded again below,
     * so the first failure in block order is named as one thread names
     * it). */
    bool *skip = NULL, *ok = NULL;
    bool parallel = l->pool && witan_pool_threads(l->pool) > 1 &&
                    o->verify_signatures && n > 1;
    if (!hashes || !ptrs || !sizes) {
        err = WITAN_ENOMEM;
        goto out;
    }
    if (parallel) {
        skip = calloc(n, sizeof *skip);
        ok = calloc(n, sizeof *ok);
        if (!skip || !ok) {
            err = WITAN_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            ptrs[i] = b->txs[i].data;
            sizes[i] = b->txs[i].len;
            skip[i] = sizes[i] > ledger_params(l)->tx_size_max ||
                      (given && given[i].body) ||
                      (o->checked &&
                       o->checked(o->ctx, ptrs[i], sizes[i], hashes[i]));
        }
        struct sig_pass sp = {l, ptrs, sizes, skip, ok, hashes};
        witan_pool_run(l->pool, n, sig_pass_one, &sp);
    }
    for (size_t i = 0; i < n && !err; i++) {
        ptrs[i] = b->txs[i].data;
        sizes[i] = b->txs[i].len;
        /* Before the shortcut: a transaction checked when the limit was
         * higher is still over the one in force now. */
        if (sizes[i] > ledger_params(l)->tx_size_max) {
            WHY("transaction %zu of block %llu is %zu bytes; the limit in "
                "force is %u",
                i, (unsigned long long)h->height, sizes[i],
                ledger_params(l)->tx_size_max);
            err = WITAN_ELIMIT;
            break;
        }
        if (ok && ok[i])
            continue;
        if (given && given[i].body) {
            memcpy(hashes[i], given[i].hash, WITAN_HASH_SIZE);
            continue;
        }
        if (o->checked && o->checked(o->ctx, ptrs[i], sizes[i], hashes[i]))
            continue;
        struct ledger_tx tx;
        char inner[LEDGER_WHY_SIZE];
        err = ledger_tx_decode(l, ptrs[i], sizes[i], o->verify_signatures,
                               &tx, inner, sizeof inner);
        if (err) {
            WHY("transaction %zu of block %llu is invalid: %s", i,
                (unsigned long long)h->height, inner);
            break;
        }
        memcpy(hashes[i], tx.hash, WITAN_HASH_SIZE);
        if (keep)
            keep[i] = tx;
        else
            ledger_tx_release(&tx);
    }
    uint8_t root[WITAN_HASH_SIZE];
    if (!err)
        err = ledger_txs_root(ptrs, sizes, n, root);
    if (!err && !bytes_eq(h->txs_root, root, WITAN_HASH_SIZE)) {
        WHY("block transactions root does not match its transactions");
        err = WITAN_EINVAL;
    }
    for (size_t i = 0; i < n && !err; i++) {
        bool committed;
        err = ledger_txn_committed(l, txn, hashes[i], &committed);
        if (!err && committed) {
            WHY("transaction %zu of block %llu was already committed", i,
                (unsigned long long)h->height);
            err = WITAN_EEXIST;
        }
    }
    if (!err && n > 1) { /* none twice: the sorted hashes side by side */
        qsort(hashes, n, sizeof *hashes, cmp_digest);
        for (size_t i = 1; i < n && !err; i++)
            if (memcmp(hashes[i - 1], hashes[i], WITAN_HASH_SIZE) == 0) {
                WHY("block %llu carries a transaction twice",
                    (unsigned long long)h->height);
                err = WITAN_EEXIST;
            }
    }
out:
    free(skip);
    free(ok);
    free(hashes);
    free(ptrs);
    free(sizes);
    return err;
}

/* Decodes a block and its header, within the size limit. */
static int block_decode(ledger *l, const uint8_t *bytes, size_t size,
                        Witan__Block **b, Witan__BlockHeader **h, char *why,
                        size_t why_size)
{
    *b = NULL;
    *h = NULL;
    if (size > ledger_params(l)->block_size_max) {
        WHY("block is %zu bytes; the limit in force is %u", size,
            ledger_params(l)->block_size_max);
        return WITAN_ELIMIT;
    }
    /* The core's decoder: what it accepts, this accepts. */
    return pbft_block_decode(bytes, size, b, h, why, why_size);
}

int ledger_block_check(ledger *l, const uint8_t *block, size_t size,
                       const struct ledger_check_opts *o, char *why,
                       size_t why_size)
{
    assert(l != NULL && o != NULL && why != NULL && why_size > 0);
    why[0] = '\0';
    Witan__Block *b;
    Witan__BlockHeader *h;
    int err = block_decode(l, block, size, &b, &h, why, why_size);
    if (err)
        return err;
    store_txn *txn;
    err = store_read_begin(l->s, &txn);
    if (!err) {
        err = block_check(l, txn, b, h, o, NULL, NULL, why, why_size);
        store_abort(txn);
    }
    l->checked = err == 0 && o->verify_signatures;
    if (l->checked) {
        wcrypto_sha256(block, size, l->checked_hash);
        memcpy(l->checked_parent, l->tip.block_hash, WITAN_HASH_SIZE);
    }
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
    return err;
}

static int put_be64_key(store_txn *txn, enum store_table t, uint64_t k,
                        const void *v, size_t vs)
{
    uint8_t key[8];
    store_be64(key, k);
    return store_put(txn, t, key, 8, v, vs);
}

/* One attempt at applying; the caller retries after growing the map. */
static int apply_once(ledger *l, const uint8_t *bytes, size_t size,
                      const Witan__Block *b, const Witan__BlockHeader *h,
                      const uint8_t block_hash[WITAN_HASH_SIZE],
                      const Witan__CommitCertificate *cert,
                      bool verify_signatures, const struct ledger_tx *given,
                      struct ledger_apply_stats *stats, struct ledger_tip *next,
                      uint8_t (*tx_hashes)[WITAN_HASH_SIZE], char *why,
                      size_t why_size)
{
    store_txn *txn;
    int err = store_write_begin(l->s, &txn);
    if (err)
        return err;
    const struct ledger_check_opts opts = {.verify_signatures =
                                               verify_signatures};
    size_t n = b->n_txs;
    /* what the check decoded, executed as it is */
    struct ledger_tx *decoded = calloc(n ? n : 1, sizeof *decoded);
    if (!decoded) {
        err = WITAN_ENOMEM;
        goto fail;
    }
    /* Judged already on this tip (a backup's VALIDATE): the transactions
     * are decoded below, to be executed. The whole block's bytes are
     * compared, not its header: a body that differs under the same header
     * is what the check of the transactions root refuses. */
    bool judged = false;
    if (l->checked &&
        memcmp(l->checked_parent, l->tip.block_hash, WITAN_HASH_SIZE) == 0) {
        uint8_t whole[WITAN_HASH_SIZE];
        wcrypto_sha256(bytes, size, whole);
        judged = memcmp(whole, l->checked_hash, WITAN_HASH_SIZE) == 0;
    }
    if (!judged)
        err = block_check(l, txn, b, h, &opts, given, decoded, why, why_size);
    if (err)
        goto fail;
    /* block_check held it against the tip: the next height, on it. */
    WITAN_ASSERT(h->height == l->tip.height + 1 &&
                 h->tx_count == b->n_txs);
    l->block_gas = 0;
    l->prediction_seq = 0;
    l->decision_seq = 0;
    l->event_seq = 0;
    l->block_time_ms = h->time_ms;
    l->next_params = l->params;

    wcrypto_digest *receipt_hashes = malloc((n ? n : 1) * sizeof *receipt_hashes);
    if (!receipt_hashes) {
        err = WITAN_ENOMEM;
        goto fail;
    }
    memset(stats, 0, sizeof *stats);
    stats->tx_count = (uint32_t)n;
    for (size_t i = 0; i < n && !err; i++) {
        /* block_check passed every transaction: one neither given nor
         * kept decodes again without fail but for memory, and signatures
         * are not checked twice. A given one stays the caller's. */
        struct ledger_tx tx = decoded[i];
        memset(&decoded[i], 0, sizeof decoded[i]);
        bool lent = given && given[i].body;
        if (lent)
            tx = given[i];
        else if (!tx.body)
            err = ledger_tx_decode(l, b->txs[i].data, b->txs[i].len, false,
                                   &tx, why, why_size);
        if (err)
            break;
        Witan__TxStatus status;
        size_t mark = store_write_count(txn);
        err = tx_apply(l, txn, tx.envelope, tx.body, tx.hash, h->height,
                       &status);
        uint8_t(*records)[WITAN_HASH_SIZE] = NULL;
        size_t record_count = 0;
        if (!err)
            err = store_record_hashes(txn, mark, &records, &record_count);
        /* Where it stands in the chain: the receipt's key, so that a
         * block's receipts lie side by side, and (after the commit) the
         * txs index's value. */
        uint8_t loc[LEDGER_TX_LOC_SIZE];
        ledger_tx_loc(h->height, (uint32_t)i, loc);
        memcpy(tx_hashes[i], tx.hash, WITAN_HASH_SIZE);
        if (!err) {
            Witan__Receipt r = WITAN__RECEIPT__INIT;
            r.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, tx.hash};
            r.status = status;
            r.height = h->height;
            r.index = (uint32_t)i;
            r.gas_used = l->tx_gas;
            r.run_count = l->tx_runs;
            r.proposal = l->tx_proposal;
            /* As many as the transaction wrote: bounded by its gas and the
             * runs' write limits, not by a count of its own. */
            ProtobufCBinaryData *rec =
                malloc((record_count ? record_count : 1) * sizeof *rec);
            for (size_t k = 0; rec && k < record_count; k++)
                rec[k] = (ProtobufCBinaryData){WITAN_HASH_SIZE, records[k]};
            r.n_records = record_count;
            r.records = rec;
            uint8_t *rb;
            size_t rs;
            err = rec ? pack_message(&r.base, &rb, &rs) : WITAN_ENOMEM;
            free(rec);
            if (!err) {
                wcrypto_hash_tagged(WCRYPTO_TAG_RECEIPT, rb, rs,
                                    receipt_hashes[i]);
                err = store_put(txn, STORE_RECEIPTS, loc, sizeof loc, rb,
                                rs);
                free(rb);
            }
        }
        free(records);
        if (!err && status == WITAN__TX_STATUS__TX_STATUS_OK)
            stats->ok_count++;
        if (!lent)
            ledger_tx_release(&tx);
    }
    if (!err) {
        WITAN_ASSERT(stats->ok_count <= stats->tx_count);
        wcrypto_merkle_root(receipt_hashes, n, stats->receipts_root);
    }
    free(receipt_hashes);
    /* After the last transaction, before the state root: governance's
     * effects and tally are part of this block's state. */
    if (!err)
        err = gov_block_end(l, txn, h->height);
    if (err)
        goto fail;

    *next = l->tip;
    err = store_state_root(txn, l->tip.state_root, h->height,
                           stats->state_root);
    if (!err)
        err = wcrypto_history_append(&next->history, block_hash);
    next->height = h->height;
    memcpy(next->block_hash, block_hash, WITAN_HASH_SIZE);
    memcpy(next->state_root, stats->state_root, WITAN_HASH_SIZE);
    memcpy(next->receipts_root, stats->receipts_root, WITAN_HASH_SIZE);
    next->time_ms = h->time_ms;
    if (n > 0)
        next->last_nonempty_height = h->height;

    uint8_t be[8];
    store_be64(be, h->height);
    if (!err)
        err = put_be64_key(txn, STORE_BLOCKS, h->height, bytes, size);
    if (!err)
        err = store_put(txn, STORE_BLOCK_HASHES, block_hash, WITAN_HASH_SIZE,
                        be, 8);
    if (!err && cert) {
        uint8_t *cb;
        size_t cs;
        err = pack_message(&cert->base, &cb, &cs);
        if (!err) {
            err = put_be64_key(txn, STORE_CERTS, h->height, cb, cs);
            free(cb);
        }
    }
    if (!err)
        err = results_put(txn, h->height, stats->state_root,
                          stats->receipts_root);
    if (!err)
        err = tip_put(txn, next);
    if (!err)
        err = txindex_write(l, txn, h->height);
    if (!err)
        err = txindex_reserve(l, (const uint8_t(*)[WITAN_HASH_SIZE])tx_hashes,
                              n);
    if (err)
        goto fail;
    free(decoded); /* every entry was taken */
    executed(l, next);
    return store_commit(txn);
fail:
    for (size_t i = 0; decoded && i < n; i++)
        ledger_tx_release(&decoded[i]);
    free(decoded);
    store_abort(txn);
    return err;
}

int ledger_block_apply(ledger *l, const uint8_t *bytes, size_t size,
                       const Witan__CommitCertificate *cert,
                       bool verify_signatures, const struct ledger_tx *given,
                       struct ledger_apply_stats *stats, char *why,
                       size_t why_size)
{
    why[0] = '\0';
    Witan__Block *b;
    Witan__BlockHeader *h;
    int derr = block_decode(l, bytes, size, &b, &h, why, why_size);
    if (derr)
        return derr;
    uint8_t hash[WITAN_HASH_SIZE];
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, b->header.data, b->header.len, hash);
    int err = ledger_cert_verify(l, cert, h->height, hash, why, why_size);
    uint8_t(*tx_hashes)[WITAN_HASH_SIZE] =
        malloc((b->n_txs ? b->n_txs : 1) * sizeof *tx_hashes);
    if (!err && !tx_hashes)
        err = WITAN_ENOMEM;
    struct ledger_tip next;
    /* Each retry doubles the map; the bound stops a map that cannot grow. */
    for (int attempt = 0; !err && attempt < 64; attempt++) {
        err = apply_once(l, bytes, size, b, h, hash, cert, verify_signatures,
                         given, stats, &next, tx_hashes, why, why_size);
        if (err != WITAN_EMAPFULL)
            break;
        err = store_grow(l->s);
        if (err) {
            WHY("database map is full at %zu MiB, its configured maximum; "
                "raise map_size_max_mb",
                store_map_size(l->s) >> 20);
            err = WITAN_EMAPFULL;
        }
    }
    if (err && why[0] == '\0')
        WHY("block %llu was not written: %s", (unsigned long long)h->height,
            witan_err_message(err));
    if (!err) {
        WITAN_ASSERT(next.height == l->tip.height + 1);
        l->tip = next;
        txindex_committed(l, next.height,
                          (const uint8_t(*)[WITAN_HASH_SIZE])tx_hashes,
                          b->n_txs);
        l->checked = false;
        /* in force from the next block on */
        params_in_force(l, &l->next_params);
        if (vsets_turn(l, next.height))
            err = vsets_load(l);
        if (err)
            WHY("block %llu was written, but the validator set after it "
                "cannot be read: %s",
                (unsigned long long)next.height, witan_err_message(err));
    }
    free(tx_hashes);
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
    return err;
}
