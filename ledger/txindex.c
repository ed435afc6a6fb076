/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The txs index (table 4, tx hash -> height || index), written a key range
 * at a time.
 *
 * Transaction hashes are uniform, so a block's inserts land on as many
 * leaf pages as it has transactions, and every one is copied and synced at
 * the block's commit: measured, this index was more than half of what a
 * node wrote per transaction. So a committed transaction's entry waits in
 * memory, in one of LEDGER_TXS_RANGES ranges of the key space (the hash's
 * first byte), and block h writes range h mod LEDGER_TXS_RANGES: each range
 * comes up once in that many blocks, and its entries land on the range's
 * pages together. An entry waits at most LEDGER_TXS_RANGES blocks.
 *
 * Nothing here is state: the index answers "committed?" and "where?", the
 * same answers whether an entry waits or is written (ledger_txn_locate).
 * The blocks are the durable copy: an entry from block a in range x is
 * written by the first block h > a with h = x (mod ranges), so after a
 * restart every entry not yet written is one of the last LEDGER_TXS_RANGES
 * blocks', and txindex_load takes those blocks' entries again (an entry
 * written already is only written once more).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* The range an entry waits in: contiguous keys, so a range's entries share
 * the index's pages. */
static unsigned range_of(const uint8_t hash[WITAN_HASH_SIZE])
{
    _Static_assert(256 % LEDGER_TXS_RANGES == 0,
                   "a range is a run of first-byte values");
    return hash[0] / (256 / LEDGER_TXS_RANGES);
}

/* Where a hash's probe starts: bytes away from the range's. */
static size_t slot_of(const struct txs_range *r,
                      const uint8_t hash[WITAN_HASH_SIZE])
{
    uint64_t h;
    memcpy(&h, hash + 8, sizeof h);
    return (size_t)h & (r->slot_cap - 1);
}

static const struct txs_entry *range_find(const struct txs_range *r,
                                          const uint8_t hash[WITAN_HASH_SIZE])
{
    if (!r->count)
        return NULL;
    for (size_t i = slot_of(r, hash); r->slots[i];
         i = (i + 1) & (r->slot_cap - 1)) {
        const struct txs_entry *e = &r->entries[r->slots[i] - 1];
        if (memcmp(e->hash, hash, WITAN_HASH_SIZE) == 0)
            return e;
    }
    return NULL;
}

/* Room for `more` entries without allocating; the slots at most half
 * full. */
static int range_reserve(struct txs_range *r, size_t more)
{
    size_t want = r->count + more;
    if (want > LEDGER_TXS_WAITING_MAX)
        return WITAN_ELIMIT;
    if (want > r->entry_cap) {
        size_t cap = r->entry_cap ? r->entry_cap : 64;
        while (cap < want)
            cap *= 2;
        struct txs_entry *e = realloc(r->entries, cap * sizeof *e);
        if (!e)
            return WITAN_ENOMEM;
        r->entries = e;
        r->entry_cap = cap;
    }
    if (2 * want <= r->slot_cap)
        return WITAN_OK;
    size_t cap = r->slot_cap ? r->slot_cap : 128;
    while (cap < 2 * want)
        cap *= 2;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return WITAN_ENOMEM;
    free(r->slots);
    r->slots = slots;
    r->slot_cap = cap;
    for (size_t k = 0; k < r->count; k++) {
        size_t i = slot_of(r, r->entries[k].hash);
        while (r->slots[i])
            i = (i + 1) & (r->slot_cap - 1);
        r->slots[i] = (uint32_t)k + 1;
    }
    return WITAN_OK;
}

/* Within reserved room; a hash already waiting keeps its first place
 * (the chain holds each transaction once; txindex_load may offer one
 * twice only when it was written already). */
static void range_add(struct txs_range *r, const uint8_t hash[WITAN_HASH_SIZE],
                      const uint8_t loc[LEDGER_TX_LOC_SIZE])
{
    WITAN_ASSERT(r->count < r->entry_cap && 2 * (r->count + 1) <= r->slot_cap);
    size_t i = slot_of(r, hash);
    for (; r->slots[i]; i = (i + 1) & (r->slot_cap - 1))
        if (memcmp(r->entries[r->slots[i] - 1].hash, hash,
                   WITAN_HASH_SIZE) == 0)
            return;
    struct txs_entry *e = &r->entries[r->count];
    memcpy(e->hash, hash, WITAN_HASH_SIZE);
    memcpy(e->loc, loc, LEDGER_TX_LOC_SIZE);
    r->slots[i] = (uint32_t)++r->count;
}

int ledger_txn_locate(const ledger *l, store_txn *txn,
                      const uint8_t hash[WITAN_HASH_SIZE],
                      uint8_t loc[LEDGER_TX_LOC_SIZE])
{
    const struct txs_entry *e =
        range_find(&l->txs_waiting[range_of(hash)], hash);
    if (e) {
        memcpy(loc, e->loc, LEDGER_TX_LOC_SIZE);
        return WITAN_OK;
    }
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_TXS, hash, WITAN_HASH_SIZE, &v, &vs);
    if (!err && vs != LEDGER_TX_LOC_SIZE)
        err = WITAN_EDBCORRUPT;
    if (!err)
        memcpy(loc, v, LEDGER_TX_LOC_SIZE);
    return err;
}

int ledger_txn_committed(const ledger *l, store_txn *txn,
                         const uint8_t hash[WITAN_HASH_SIZE], bool *committed)
{
    uint8_t loc[LEDGER_TX_LOC_SIZE];
    int err = ledger_txn_locate(l, txn, hash, loc);
    *committed = err == WITAN_OK;
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

int txindex_reserve(ledger *l, const uint8_t (*hashes)[WITAN_HASH_SIZE],
                    size_t n)
{
    uint32_t more[LEDGER_TXS_RANGES] = {0};
    for (size_t i = 0; i < n; i++)
        more[range_of(hashes[i])]++;
    int err = WITAN_OK;
    for (unsigned r = 0; r < LEDGER_TXS_RANGES && !err; r++)
        if (more[r])
            err = range_reserve(&l->txs_waiting[r], more[r]);
    return err;
}

int txindex_write(const ledger *l, store_txn *txn, uint64_t height)
{
    const struct txs_range *r =
        &l->txs_waiting[height % LEDGER_TXS_RANGES];
    int err = WITAN_OK;
    for (size_t k = 0; k < r->count && !err; k++)
        err = store_put(txn, STORE_TXS, r->entries[k].hash, WITAN_HASH_SIZE,
                        r->entries[k].loc, LEDGER_TX_LOC_SIZE);
    return err;
}

void txindex_committed(ledger *l, uint64_t height,
                       const uint8_t (*hashes)[WITAN_HASH_SIZE], size_t n)
{
    struct txs_range *w = &l->txs_waiting[height % LEDGER_TXS_RANGES];
    if (w->count) {
        w->count = 0;
        memset(w->slots, 0, w->slot_cap * sizeof *w->slots);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t loc[LEDGER_TX_LOC_SIZE];
        ledger_tx_loc(height, (uint32_t)i, loc);
        range_add(&l->txs_waiting[range_of(hashes[i])], hashes[i], loc);
    }
}

/* The hashes of a stored block's transactions. */
static int block_hashes(store_txn *txn, uint64_t height,
                        uint8_t (**out)[WITAN_HASH_SIZE], size_t *count)
{
    *out = NULL;
    *count = 0;
    uint8_t key[8];
    store_be64(key, height);
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_BLOCKS, key, sizeof key, &v, &vs);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    Witan__Block *b = witan__block__unpack(NULL, vs, v);
    if (!b)
        return WITAN_EDBCORRUPT;
    uint8_t(*h)[WITAN_HASH_SIZE] = malloc((b->n_txs ? b->n_txs : 1) *
                                          sizeof *h);
    if (!h)
        err = WITAN_ENOMEM;
    for (size_t i = 0; !err && i < b->n_txs; i++)
        if (ledger_envelope_tx_hash(b->txs[i].data, b->txs[i].len, h[i]))
            err = WITAN_EDBCORRUPT;
    if (!err) {
        *out = h;
        *count = b->n_txs;
    } else {
        free(h);
    }
    witan__block__free_unpacked(b, NULL);
    return err;
}

int txindex_load(ledger *l, char *why, size_t why_size)
{
    uint64_t tip = l->tip.height;
    uint64_t first = tip >= LEDGER_TXS_RANGES ? tip - LEDGER_TXS_RANGES + 1
                                              : 1;
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    for (uint64_t h = first; !err && h <= tip; h++) {
        uint8_t(*hashes)[WITAN_HASH_SIZE];
        size_t n;
        err = block_hashes(txn, h, &hashes, &n);
        if (err == WITAN_EDBCORRUPT)
            WHY("stored block %llu is missing or damaged: the transactions "
                "of the last %d blocks are read at open",
                (unsigned long long)h, LEDGER_TXS_RANGES);
        if (!err)
            err = txindex_reserve(l, (const uint8_t(*)[WITAN_HASH_SIZE])hashes,
                                  n);
        /* A range block h wrote holds nothing older than h: entries from
         * before it were written by it. */
        if (!err)
            txindex_committed(l, h, (const uint8_t(*)[WITAN_HASH_SIZE])hashes,
                              n);
        free(hashes);
    }
    store_abort(txn);
    return err;
}

void txindex_free(ledger *l)
{
    for (unsigned r = 0; r < LEDGER_TXS_RANGES; r++) {
        free(l->txs_waiting[r].entries);
        free(l->txs_waiting[r].slots);
    }
    memset(l->txs_waiting, 0, sizeof l->txs_waiting);
}
