/*
 * What node/'s files share: the mempool.
 */
#ifndef WITAN_NODE_INTERNAL_H
#define WITAN_NODE_INTERNAL_H

#include "ledger/ledger.h"
#include "node/node.h"

/* Passes over the pool when selecting, to pick up nonces that arrived out of
 * order; each pass is O(pool). */
#define MEMPOOL_SELECT_PASS_MAX 4

struct mempool {
    struct ledger_tx *txs; /* arrival order; owned */
    uint8_t *selected;     /* per entry, for the block being built */
    uint32_t count, count_max;
    uint64_t size, size_max;
    uint32_t *by_hash, *by_nonce; /* open addressing, entry index + 1 */
    size_t table_cap;
};

int mempool_init(struct mempool *m, uint32_t count_max, uint64_t size_max);
void mempool_free(struct mempool *m);
/* Takes ownership of *tx on success (and zeroes it). WITAN_EEXIST (already
 * pending), WITAN_ENONCE (nonce held by another), WITAN_EFULL. */
int mempool_add(struct mempool *m, struct ledger_tx *tx, char *why,
                size_t why_size);
const struct ledger_tx *mempool_find(const struct mempool *m,
                                     const uint8_t hash[WITAN_HASH_SIZE]);
/* Marks and returns (pointers into the pool) up to count_max transactions. */
size_t mempool_select(struct mempool *m, ledger *l, size_t count_max,
                      size_t size_max, struct ledger_tx **out);
/* Removes what the last mempool_select marked (after its block committed). */
void mempool_remove_selected(struct mempool *m);
void mempool_drop_stale(struct mempool *m, ledger *l);

#endif
