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
/* Forgets the marks of the last mempool_select (a proposal that did not
 * become a block must not remove anything). */
void mempool_clear_selection(struct mempool *m);
/* Marks the transaction with this hash, if pooled, for removal by
 * mempool_remove_selected. */
void mempool_mark(struct mempool *m, const uint8_t hash[WITAN_HASH_SIZE]);

/* --- the node ----------------------------------------------------------- */

#include <nng/nng.h>

#define NODE_IDLE_WAIT_MS 50
#define NODE_REQUESTS_PER_ROUND_MAX 256
#define NODE_P2P_MESSAGES_PER_ROUND_MAX 1024

struct replica; /* node/replica.c: consensus with other validators */

struct node {
    const struct node_config *cfg;
    Witan__Genesis *genesis;
    ledger *l;
    wcrypto_keypair key;
    uint32_t validator_index;
    struct mempool pool;
    nng_socket sock;
    struct ledger_tx **selection;
    struct replica *replica; /* NULL on a one-validator chain */
};

/* Answers one client request (server.c). Takes ownership of msg. */
void node_handle_request(struct node *n, nng_msg *msg);

/* Admits one envelope into the pool (server.c): decode, signature, state,
 * pool rules. 0 when admitted or already known; the error and `why`
 * otherwise. *hash_out gets the transaction hash when it decoded. */
int node_admit(struct node *n, const uint8_t *env, size_t size,
               uint8_t hash_out[WITAN_HASH_SIZE], bool *decoded, char *why,
               size_t why_size);

/* Monotonic and wall-clock milliseconds. */
int64_t node_monotonic_ms(void);
int64_t node_wall_ms(void);

/* Multi-validator operation (replica.c). replica_run replaces the solo
 * loop: it returns after *stop or on an error that stops the node. */
int replica_run(struct node *n, volatile sig_atomic_t *stop);
/* Called by submit handling after envelopes were admitted: relays them to
 * the other validators and tells consensus the pool grew. */
void replica_on_admitted(struct node *n, const ProtobufCBinaryData *envs,
                         size_t count);

#endif
