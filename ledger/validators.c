/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The validator set by height (spec/governance.md section 7). The
 * genesis's set is in force from height 1 and is not stored; every set a
 * proposal makes is stored in table 27 under be64(first height), so the
 * set in force at h is the stored one with the greatest first height ≤ h,
 * or the genesis's. Certificates, votes and consensus all ask here.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

static int vset_add(struct ledger_vset *v, const Witan__Validator *x)
{
    if (v->count >= WITAN_VALIDATOR_COUNT_MAX ||
        strlen(x->name) > WITAN_NAME_SIZE_MAX)
        return WITAN_EDBCORRUPT;
    uint32_t i = v->count;
    int err = wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, x->pubkey.data,
                                   x->pubkey.len, &v->keys[i]);
    if (err)
        return err;
    memcpy(v->names[i], x->name, strlen(x->name) + 1);
    v->has_operator[i] = x->operator_.len == WITAN_ADDRESS_SIZE;
    if (v->has_operator[i])
        memcpy(v->operators[i], x->operator_.data, WITAN_ADDRESS_SIZE);
    else
        memset(v->operators[i], 0, WITAN_ADDRESS_SIZE);
    v->count++;
    return WITAN_OK;
}

int vset_from_genesis(const Witan__Genesis *g, struct ledger_vset *out)
{
    memset(out, 0, sizeof *out);
    out->first = 1;
    if (g->n_validators > WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_ELIMIT;
    int err = WITAN_OK;
    for (size_t i = 0; !err && i < g->n_validators; i++)
        err = vset_add(out, g->validators[i]);
    return err;
}

static int vset_decode(const void *v, size_t vs, struct ledger_vset *out)
{
    Witan__ValidatorSet *x = witan__validator_set__unpack(NULL, vs, v);
    if (!x)
        return WITAN_EDBCORRUPT;
    memset(out, 0, sizeof *out);
    out->first = x->first_height;
    int err = x->n_validators ? WITAN_OK : WITAN_EDBCORRUPT;
    for (size_t i = 0; !err && i < x->n_validators; i++)
        err = vset_add(out, x->validators[i]);
    witan__validator_set__free_unpacked(x, NULL);
    return err ? WITAN_EDBCORRUPT : WITAN_OK;
}

/* The stored set with the greatest first height ≤ height (UINT64_MAX:
 * the newest), or the genesis's. */
static int read_at(const ledger *l, store_txn *txn, uint64_t height,
                   struct ledger_vset *out)
{
    store_txn *own = NULL;
    if (!txn) {
        int err = store_read_begin(l->s, &own);
        if (err)
            return err;
        txn = own;
    }
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_VALIDATOR_SETS, &c);
    const void *k = NULL, *v = NULL;
    size_t ks = 0, vs = 0;
    if (!err) {
        if (height == UINT64_MAX) {
            err = store_cursor_last(c, &k, &ks, &v, &vs);
        } else {
            uint8_t key[8];
            store_be64(key, height + 1);
            err = store_cursor_seek(c, key, sizeof key, &k, &ks, &v, &vs);
            err = err == WITAN_ENOTFOUND ? store_cursor_last(c, &k, &ks, &v, &vs)
                  : err == WITAN_OK ? store_cursor_prev(c, &k, &ks, &v, &vs)
                                    : err;
        }
        if (err == WITAN_OK && (ks != 8 || store_read_be64(k) > height))
            err = ks != 8 ? WITAN_EDBCORRUPT : WITAN_ENOTFOUND;
        if (err == WITAN_OK)
            err = vset_decode(v, vs, out);
        else if (err == WITAN_ENOTFOUND)
            err = vset_from_genesis(l->g, out);
        store_cursor_close(c);
    }
    if (own)
        store_abort(own);
    return err;
}

int vset_at(const ledger *l, store_txn *txn, uint64_t height,
            struct ledger_vset *out)
{
    if (height >= l->vs_cur.first && height <= l->tip.height + 1) {
        *out = l->vs_cur;
        return WITAN_OK;
    }
    if (height >= l->vs_prev.first && height < l->vs_cur.first) {
        *out = l->vs_prev;
        return WITAN_OK;
    }
    return read_at(l, txn, height, out);
}

int vset_latest(const ledger *l, store_txn *txn, struct ledger_vset *out)
{
    return read_at(l, txn, UINT64_MAX, out);
}

int vset_put(store_txn *txn, const struct ledger_vset *v, uint64_t height)
{
    Witan__Validator xs[WITAN_VALIDATOR_COUNT_MAX], *ptrs[WITAN_VALIDATOR_COUNT_MAX];
    for (uint32_t i = 0; i < v->count; i++) {
        witan__validator__init(&xs[i]);
        xs[i].name = (char *)v->names[i];
        xs[i].pubkey = (ProtobufCBinaryData){WCRYPTO_ED25519_PUBKEY_SIZE,
                                             (uint8_t *)v->keys[i].bytes};
        if (v->has_operator[i])
            xs[i].operator_ = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE,
                                                    (uint8_t *)v->operators[i]};
        ptrs[i] = &xs[i];
    }
    Witan__ValidatorSet s = WITAN__VALIDATOR_SET__INIT;
    s.first_height = v->first;
    s.n_validators = v->count;
    s.validators = ptrs;
    s.enacted_height = height;
    uint8_t key[8];
    store_be64(key, v->first);
    return store_message(txn, STORE_VALIDATOR_SETS, key, sizeof key, &s.base);
}

int vsets_load(ledger *l)
{
    struct ledger_vset cur, prev, newest;
    int err = read_at(l, NULL, l->tip.height + 1, &cur);
    if (!err)
        err = cur.first > 1 ? read_at(l, NULL, cur.first - 1, &prev)
                            : (prev = cur, WITAN_OK);
    if (!err)
        err = read_at(l, NULL, UINT64_MAX, &newest);
    if (!err) {
        l->vs_cur = cur;
        l->vs_prev = prev;
        l->vs_newest_first = newest.first;
        l->vs_written = false;
    }
    return err;
}

int vset_next_hash(store_txn *txn, uint64_t height, bool *has,
                   uint8_t hash[WITAN_HASH_SIZE])
{
    uint8_t key[8];
    const void *v;
    size_t vs;
    *has = false;
    if (height == UINT64_MAX)
        return WITAN_OK;
    store_be64(key, height + 1);
    int err = store_get(txn, STORE_VALIDATOR_SETS, key, sizeof key, &v, &vs);
    if (err == WITAN_ENOTFOUND)
        return WITAN_OK;
    if (err)
        return err;
    /* The bytes as stored are the canonical encoding (vset_put): a proof
     * carries them and its checker hashes what it received. */
    wcrypto_hash_tagged(WCRYPTO_TAG_VALIDATORS, v, vs, hash);
    *has = true;
    return WITAN_OK;
}

int ledger_next_validators_hash(ledger *l, uint64_t height, bool *has,
                                uint8_t hash[WITAN_HASH_SIZE])
{
    store_txn *txn;
    *has = false;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    err = vset_next_hash(txn, height, has, hash);
    store_abort(txn);
    return err;
}

int vset_find(const struct ledger_vset *v, const uint8_t *key, size_t size)
{
    if (size != WCRYPTO_ED25519_PUBKEY_SIZE)
        return -1;
    for (uint32_t i = 0; i < v->count; i++)
        if (memcmp(v->keys[i].bytes, key, size) == 0)
            return (int)i;
    return -1;
}

/* The stored set with the smallest first height above `height`. */
static int read_after(const ledger *l, uint64_t height, struct ledger_vset *out)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    store_cursor *c;
    err = store_cursor_open(txn, STORE_VALIDATOR_SETS, &c);
    if (!err) {
        const void *k, *v;
        size_t ks, vs;
        uint8_t key[8];
        store_be64(key, height + 1);
        err = store_cursor_seek(c, key, sizeof key, &k, &ks, &v, &vs);
        if (!err)
            err = ks == 8 ? vset_decode(v, vs, out) : WITAN_EDBCORRUPT;
        store_cursor_close(c);
    }
    store_abort(txn);
    return err;
}

static int set_to_proto(const struct ledger_vset *v, Witan__ValidatorSet **out);

int ledger_validator_set_after(ledger *l, uint64_t height,
                               Witan__ValidatorSet **out)
{
    struct ledger_vset v;
    int err = read_after(l, height, &v);
    return err ? err : set_to_proto(&v, out);
}

int ledger_validator_set(ledger *l, uint64_t height, Witan__ValidatorSet **out)
{
    struct ledger_vset v;
    int err = height ? vset_at(l, NULL, height, &v) : vset_latest(l, NULL, &v);
    return err ? err : set_to_proto(&v, out);
}

static int set_to_proto(const struct ledger_vset *vp, Witan__ValidatorSet **out)
{
    const struct ledger_vset v = *vp;
    int err = WITAN_OK;
    Witan__ValidatorSet *s = calloc(1, sizeof *s);
    Witan__Validator **xs = calloc(v.count, sizeof *xs);
    if (!s || !xs) {
        free(s);
        free(xs);
        return WITAN_ENOMEM;
    }
    witan__validator_set__init(s);
    s->first_height = v.first;
    s->validators = xs;
    for (uint32_t i = 0; i < v.count && !err; i++) {
        Witan__Validator *x = calloc(1, sizeof *x);
        char *name = strdup(v.names[i]);
        uint8_t *key = malloc(WCRYPTO_ED25519_PUBKEY_SIZE);
        uint8_t *op = v.has_operator[i] ? malloc(WITAN_ADDRESS_SIZE) : NULL;
        if (!x || !name || !key || (v.has_operator[i] && !op)) {
            free(x);
            free(name);
            free(key);
            free(op);
            err = WITAN_ENOMEM;
            break;
        }
        witan__validator__init(x);
        x->name = name;
        memcpy(key, v.keys[i].bytes, WCRYPTO_ED25519_PUBKEY_SIZE);
        x->pubkey = (ProtobufCBinaryData){WCRYPTO_ED25519_PUBKEY_SIZE, key};
        if (op) {
            memcpy(op, v.operators[i], WITAN_ADDRESS_SIZE);
            x->operator_ = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, op};
        }
        xs[s->n_validators++] = x;
    }
    if (err) {
        witan__validator_set__free_unpacked(s, NULL);
        return err;
    }
    *out = s;
    return WITAN_OK;
}

uint32_t ledger_validator_count(const ledger *l) { return l->vs_cur.count; }
