/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactions dropped from the pool because another transaction from the
 * same sender took their nonce in a committed block: they can never apply,
 * and a client waiting on one must hear so. The node remembers the last
 * NODE_DROPS_COUNT_MAX of them in table 12 (spec/state.md), node-local and
 * outside the state root, as a ring:
 *   0x00 ‖ be64(seq)  → the dropped transaction's hash (the ring's order)
 *   0x01 ‖ tx hash    → the displacing transaction's hash ‖ be64(seq)
 *   0x02              → be64(first seq) ‖ be64(next seq)
 */
#include <string.h>

#include "node/internal.h"

#define DROPS_ORDER 0x00
#define DROPS_BY_HASH 0x01
#define DROPS_RANGE 0x02

static int record_in(store_txn *txn, uint32_t bound,
                     const struct node_drop *drops, size_t count)
{
    uint8_t range_key = DROPS_RANGE;
    uint64_t first = 1, next = 1;
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_DROPS, &range_key, 1, &v, &vs);
    if (err == 0 && vs == 16) {
        first = store_read_be64(v);
        next = store_read_be64((const uint8_t *)v + 8);
    } else if (err != WITAN_ENOTFOUND) {
        return err ? err : WITAN_EDBCORRUPT;
    }
    for (size_t i = 0; i < count; i++) {
        uint8_t key[1 + WITAN_HASH_SIZE], val[WITAN_HASH_SIZE + 8];
        key[0] = DROPS_BY_HASH;
        memcpy(key + 1, drops[i].hash, WITAN_HASH_SIZE);
        if (store_get(txn, STORE_DROPS, key, sizeof key, &v, &vs) == 0)
            continue; /* already recorded */
        memcpy(val, drops[i].by, WITAN_HASH_SIZE);
        store_be64(val + WITAN_HASH_SIZE, next);
        uint8_t order[9];
        order[0] = DROPS_ORDER;
        store_be64(order + 1, next);
        if ((err = store_put(txn, STORE_DROPS, key, sizeof key, val,
                             sizeof val)) != 0 ||
            (err = store_put(txn, STORE_DROPS, order, sizeof order,
                             drops[i].hash, WITAN_HASH_SIZE)) != 0)
            return err;
        next++;
    }
    /* Forget the oldest past the bound. */
    while (next - first > bound) {
        uint8_t order[9];
        order[0] = DROPS_ORDER;
        store_be64(order + 1, first);
        if (store_get(txn, STORE_DROPS, order, sizeof order, &v, &vs) == 0 &&
            vs == WITAN_HASH_SIZE) {
            uint8_t key[1 + WITAN_HASH_SIZE];
            key[0] = DROPS_BY_HASH;
            memcpy(key + 1, v, WITAN_HASH_SIZE);
            if ((err = store_del(txn, STORE_DROPS, key, sizeof key)) != 0)
                return err;
        }
        if ((err = store_del(txn, STORE_DROPS, order, sizeof order)) != 0)
            return err;
        first++;
    }
    uint8_t range[16];
    store_be64(range, first);
    store_be64(range + 8, next);
    return store_put(txn, STORE_DROPS, &range_key, 1, range, sizeof range);
}

int node_drops_record(store *s, uint32_t bound, const struct node_drop *drops,
                      size_t count)
{
    WITAN_ASSERT(bound > 0);
    if (count == 0)
        return WITAN_OK;
    int err = WITAN_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        store_txn *txn;
        if ((err = store_write_begin(s, &txn)) != 0)
            return err;
        err = record_in(txn, bound, drops, count);
        if (err == 0)
            return store_commit(txn);
        store_abort(txn);
        if (err != WITAN_EMAPFULL || store_grow(s) != 0)
            break;
    }
    return err;
}

int node_drops_find(store *s, const uint8_t hash[WITAN_HASH_SIZE],
                    uint8_t by[WITAN_HASH_SIZE])
{
    store_txn *txn;
    int err = store_read_begin(s, &txn);
    if (err)
        return err;
    uint8_t key[1 + WITAN_HASH_SIZE];
    key[0] = DROPS_BY_HASH;
    memcpy(key + 1, hash, WITAN_HASH_SIZE);
    const void *v;
    size_t vs;
    err = store_get(txn, STORE_DROPS, key, sizeof key, &v, &vs);
    if (err == 0 && vs != WITAN_HASH_SIZE + 8)
        err = WITAN_EDBCORRUPT;
    if (err == 0)
        memcpy(by, v, WITAN_HASH_SIZE);
    store_abort(txn);
    return err;
}
