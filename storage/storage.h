/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage — one LMDB environment per node, its named tables, and the write
 * set that the state root is computed from.
 *
 * Everything one block changes is written in one write transaction and
 * committed with fsync (LMDB's default; MDB_NOSYNC is never used) before
 * anyone is told it is committed: after a crash the store holds every block up
 * to some height completely and nothing of any later one.
 *
 * The store records every write to a state table (store_table_is_state) in the
 * transaction's write set; store_state_root hashes it, sorted, onto the previous
 * root (spec/state.md). The ledger cannot forget a write: there is no other way
 * to change a state table.
 *
 * LMDB codes are translated here: MDB_NOTFOUND is WITAN_ENOTFOUND, MDB_MAP_FULL
 * is WITAN_EMAPFULL, MDB_VERSION_MISMATCH/MDB_INVALID are WITAN_EDBVERSION/
 * WITAN_EDBCORRUPT, anything else WITAN_EIO (the LMDB message is logged).
 *
 * Threads: one write transaction at a time (LMDB's rule); read transactions
 * may run in other threads alongside it.
 */
#ifndef WITAN_STORAGE_H
#define WITAN_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Table numbers are part of the state root: never renumber. */
enum store_table {
    STORE_META = 0,         /* versions, genesis hash, tip */
    STORE_BLOCKS = 1,       /* be64 height -> Block */
    STORE_BLOCK_HASHES = 2, /* block hash -> be64 height */
    STORE_CERTS = 3,        /* be64 height -> CommitCertificate */
    STORE_TXS = 4,          /* tx hash -> be64 height || be32 index */
    STORE_RECEIPTS = 5,     /* be64 height || be32 index -> Receipt */
    STORE_ACCOUNTS = 6,     /* address -> Account            (state) */
    STORE_ATTESTATIONS = 7, /* attestation key -> record     (state) */
    STORE_MODELS = 8,       /* model hash -> ModelRecord     (state) */
    STORE_PREDICTIONS = 9,  /* model hash, height, seq -> record (state) */
    STORE_TRIGGERS = 10,    /* feed 0 subject 0 model hash -> empty */
    STORE_CONSENSUS = 11,   /* be64 sequence -> persisted consensus record */
    STORE_DROPS = 12,       /* transactions dropped from the pool (node/) */
    /* Decision contracts (spec/contracts.md, section 5). */
    STORE_CONTRACTS = 13,         /* contract id -> ContractRecord  (state) */
    STORE_CONTRACT_TRIGGERS = 14, /* model hash, contract id -> empty */
    STORE_RUNS = 15,              /* tx hash, be32 seq -> ContractRun (state) */
    STORE_CONTRACT_STATE = 16,    /* contract id, key -> value   (state) */
    STORE_DECISIONS = 17,         /* contract, height, seq -> Decision (state) */
    STORE_DECISION_INDEX = 18,    /* kind, subject and height indexes */
    STORE_EVENTS = 19,            /* height, seq -> Event          (state) */
    /* Scorecards (spec/contracts.md, section 7). */
    STORE_RESOLUTIONS = 20,       /* target feed, subject, time, prediction */
    STORE_PREDICTION_SCORES = 21, /* prediction key -> PredictionScore (state) */
    STORE_SCORECARDS = 22,        /* model hash -> Scorecard       (state) */
    /* Signed history heads this node assembled (spec/proofs.md). */
    STORE_HEADS = 23,             /* be64(tree size) -> signed note text */
    /* Governance (spec/governance.md). */
    STORE_PROPOSALS = 24,         /* be64 id -> Proposal           (state) */
    STORE_PROPOSAL_VOTES = 25,    /* be64 id, be32 validator -> ProposalVote (state) */
    STORE_GOVERNANCE = 26,        /* params, next id, open and due indexes (state) */
    STORE_VALIDATOR_SETS = 27,    /* be64 first height -> ValidatorSet (state) */
    STORE_TABLE_COUNT = 28,
};

/* True for the tables whose writes enter the state root. */
bool store_table_is_state(enum store_table table);
const char *store_table_name(enum store_table table);

typedef struct store store;
typedef struct store_txn store_txn;
typedef struct store_cursor store_cursor;

struct store_options {
    size_t map_size;     /* initial map size in bytes */
    size_t map_size_max; /* store_grow never goes past this */
    /* Commits are not flushed to disk (MDB_NOSYNC): for the simulator's
     * throwaway ledgers only, whose crashes are simulated above the store.
     * A node never sets it. */
    bool no_sync;
};

/*
 * Opens (creating if needed) the environment in directory `dir`, which must
 * exist. WITAN_EIO if it cannot, WITAN_EDBVERSION/WITAN_EDBCORRUPT for a file
 * LMDB cannot use. On success *out owns the environment: store_close it.
 */
int store_open(const char *dir, const struct store_options *options,
               store **out);
void store_close(store *s);
/* Makes every commit so far durable, the last one's meta page included (a
 * commit alone leaves that to the next one: store_open). Callers about to
 * drop another copy of what was committed call it first. WITAN_EIO. */
int store_sync(store *s);

/* The current map size in bytes. */
size_t store_map_size(const store *s);
/* Bytes the database uses (up to its last page in use) and the most its map
 * may grow to. LMDB errors. */
int store_usage(store *s, uint64_t *used, uint64_t *max);

/*
 * Doubles the map (capped at map_size_max) after a write failed with
 * WITAN_EMAPFULL. No transaction may be open. WITAN_EMAPFULL when the map is
 * already at its maximum: the caller stops with that error; the database is
 * untouched and consistent.
 */
int store_grow(store *s);

/* Read and write transactions. A transaction is ended by exactly one of
 * store_commit or store_abort; both free it. */
int store_read_begin(store *s, store_txn **out);
int store_write_begin(store *s, store_txn **out);

/*
 * Commits a write transaction durably (fsync). On failure the transaction is
 * aborted and nothing of it is stored. Ends the transaction either way.
 */
int store_commit(store_txn *txn);
void store_abort(store_txn *txn);

/*
 * Looks a key up. On success *value points into the map and stays valid until
 * the transaction ends or writes to this table. WITAN_ENOTFOUND if absent.
 */
int store_get(store_txn *txn, enum store_table table, const void *key,
              size_t key_size, const void **value, size_t *value_size);

/* Writes or deletes a key (deleting an absent key is not an error).
 * WITAN_EMAPFULL when the map is full: abort, store_grow, redo. WITAN_ELIMIT
 * for a key over LMDB's limit (511 bytes). */
int store_put(store_txn *txn, enum store_table table, const void *key,
              size_t key_size, const void *value, size_t value_size);
int store_del(store_txn *txn, enum store_table table, const void *key,
              size_t key_size);

/*
 * The state root after this transaction's writes:
 *   SHA-256("witan/state/v1" || 0x00 || prev_root || be64(height) || entries)
 * over the state-table writes sorted by (table, key), the last write of a key
 * winning (spec/state.md gives the entry encoding). Call it after the last
 * state write; it does not end the transaction.
 */
int store_state_root(store_txn *txn, const uint8_t prev_root[WITAN_HASH_SIZE],
                     uint64_t height, uint8_t root[WITAN_HASH_SIZE]);

/* Number of state-table writes recorded so far in this transaction. */
size_t store_write_count(const store_txn *txn);

/*
 * The record hashes of the state-table writes made since `mark` (an earlier
 * store_write_count): one per key written, its last write, in (table, key)
 * order, each SHA-256("witan/record/v1" || 0x00 || entry) with the entry
 * encoded as for the state root. A receipt lists them so that one Merkle
 * path proves any record a transaction wrote (spec/proofs.md). *hashes is
 * malloc'd (NULL when there are none).
 */
int store_record_hashes(store_txn *txn, size_t mark,
                        uint8_t (**hashes)[WITAN_HASH_SIZE],
                        size_t *count);

/*
 * Cursors walk a table in key order. seek positions at the first key >= key
 * (key_size 0: the first key); next moves on. Both return WITAN_ENOTFOUND at
 * the end. Keys and values point into the map, valid until the next move.
 */
int store_cursor_open(store_txn *txn, enum store_table table,
                      store_cursor **out);
int store_cursor_seek(store_cursor *c, const void *key, size_t key_size,
                      const void **k, size_t *k_size, const void **v,
                      size_t *v_size);
int store_cursor_next(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size);
/* Moves back one key; WITAN_ENOTFOUND before the first. */
int store_cursor_prev(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size);
/* Positions at the last key of the table. */
int store_cursor_last(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size);
void store_cursor_close(store_cursor *c);

/*
 * A compacted copy of the environment into directory `dir` (which must exist
 * and be empty), consistent as of one read snapshot, taken while the node runs.
 */
int store_backup(store *s, const char *dir);

/* Big-endian helpers for keys, so that key order is numeric order. */
static inline void store_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}
static inline uint64_t store_read_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}
static inline void store_be32(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}
static inline uint32_t store_read_be32(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
           (uint32_t)in[2] << 8 | in[3];
}

#endif
