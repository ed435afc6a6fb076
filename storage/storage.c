/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LMDB environment behind storage.h. One named database per table; the
 * write set of a write transaction is kept in a growable arena so that the
 * state root can be computed over it, sorted, before the commit.
 */
#include "storage/storage.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/crypto.h"

/* Ended read transactions kept to be renewed: a renewal keeps the reader
 * slot and the allocation that a begin would take again (admission reads
 * twice for every transaction it sees). */
#define STORE_IDLE_READS_MAX 4
/* The write set's buffers are kept for the next write transaction up to
 * this size: a block's grew them by doubling from nothing, copying and
 * faulting in fresh pages every time. A larger one (a rare block) is let
 * go. */
#define STORE_KEPT_WRITE_SET_MAX (8u << 20)

struct write_entry;

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_TABLE_COUNT];
    size_t map_size;
    size_t map_size_max;
    bool no_sync; /* store_options.no_sync */
    bool writing; /* a write transaction is open */
    pthread_mutex_t idle_lock; /* read transactions may end on any thread */
    MDB_txn *idle[STORE_IDLE_READS_MAX];
    size_t idle_count;
    /* The last write set's buffers, empty (under LMDB's writer lock: taken
     * after a write begins, given back before it ends). */
    struct write_entry *kept_entries;
    size_t kept_entry_cap;
    uint8_t *kept_arena;
    size_t kept_arena_cap;
};

struct write_entry {
    uint32_t table;
    uint32_t seq;
    size_t key_offset, key_size;
    size_t value_offset, value_size;
    bool deleted;
};

struct store_txn {
    store *s;
    MDB_txn *txn;
    bool write;
    /* write set of state tables */
    struct write_entry *entries;
    size_t entry_count, entry_cap;
    uint8_t *arena;
    size_t arena_size, arena_cap;
};

struct store_cursor {
    MDB_cursor *cursor;
};

static const char *const table_names[STORE_TABLE_COUNT] = {
    "meta",     "blocks",   "block_hashes", "certs",
    "txs",      "receipts", "accounts",     "attestations",
    "models",   "predictions", "triggers", "consensus", "drops",
    "contracts", "contract_triggers", "runs", "contract_state", "decisions",
    "decision_index", "events", "resolutions", "prediction_scores",
    "scorecards", "heads", "proposals", "proposal_votes", "governance",
    "validator_sets",
};

bool store_table_is_state(enum store_table table)
{
    return table == STORE_ACCOUNTS || table == STORE_ATTESTATIONS ||
           table == STORE_MODELS || table == STORE_PREDICTIONS ||
           table == STORE_CONTRACTS || table == STORE_RUNS ||
           table == STORE_CONTRACT_STATE || table == STORE_DECISIONS ||
           table == STORE_EVENTS || table == STORE_PREDICTION_SCORES ||
           table == STORE_SCORECARDS || table == STORE_PROPOSALS ||
           table == STORE_PROPOSAL_VOTES || table == STORE_GOVERNANCE ||
           table == STORE_VALIDATOR_SETS;
}

const char *store_table_name(enum store_table table)
{
    WITAN_ASSERT((unsigned)table < STORE_TABLE_COUNT);
    return table_names[table];
}

static int from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return WITAN_OK;
    case MDB_NOTFOUND:
        return WITAN_ENOTFOUND;
    case MDB_MAP_FULL:
        return WITAN_EMAPFULL;
    case MDB_VERSION_MISMATCH:
        return WITAN_EDBVERSION;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return WITAN_EDBCORRUPT;
    case MDB_BAD_VALSIZE:
        return WITAN_ELIMIT;
    case ENOMEM:
        return WITAN_ENOMEM;
    case ENOSPC:
    case EDQUOT:
        return WITAN_ENOSPACE;
    default:
        WITAN_WARN("storage", "lmdb: %s", mdb_strerror(rc));
        return WITAN_EIO;
    }
}

int store_open(const char *dir, const struct store_options *options,
               store **out)
{
    *out = NULL;
    if (options->map_size == 0 || options->map_size > options->map_size_max)
        return WITAN_EINVAL;
    store *s = calloc(1, sizeof *s);
    if (!s)
        return WITAN_ENOMEM;
    s->map_size = options->map_size;
    s->map_size_max = options->map_size_max;
    s->no_sync = options->no_sync;

    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, STORE_TABLE_COUNT);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, s->map_size);
    /* MDB_NOTLS: read transactions are not tied to threads.
     * MDB_NOMETASYNC: a commit syncs its pages once and writes its meta
     * page without a second sync; the next commit's sync (or store_sync)
     * carries it. The database is whole at every instant, but a power
     * loss may undo the last commit: what a node commits is durable in
     * its consensus records first, which it keeps until store_sync
     * (spec/state.md, "Durability"). No sync at all in the simulator. */
    if (rc == 0)
        rc = mdb_env_open(s->env, dir,
                          MDB_NOTLS | MDB_NOMETASYNC |
                              (options->no_sync ? MDB_NOSYNC : 0),
                          0600);
    if (rc != 0) {
        int err = from_mdb(rc);
        WITAN_ERROR("storage", "cannot open %s: %s", dir, mdb_strerror(rc));
        mdb_env_close(s->env);
        free(s);
        return err == WITAN_ENOTFOUND ? WITAN_EIO : err;
    }
    /* An existing file may be larger than asked for; LMDB keeps its size. */
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->map_size)
        s->map_size = info.me_mapsize;

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (int t = 0; rc == 0 && t < STORE_TABLE_COUNT; t++)
        rc = mdb_dbi_open(txn, table_names[t], MDB_CREATE, &s->dbi[t]);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        int err = from_mdb(rc);
        mdb_env_close(s->env);
        free(s);
        return err;
    }
    pthread_mutex_init(&s->idle_lock, NULL);
    *out = s;
    return WITAN_OK;
}

/* Before the map moves: no transaction of this process may be open. */
static void drop_idle(store *s)
{
    pthread_mutex_lock(&s->idle_lock);
    for (size_t i = 0; i < s->idle_count; i++)
        mdb_txn_abort(s->idle[i]);
    s->idle_count = 0;
    pthread_mutex_unlock(&s->idle_lock);
}

int store_sync(store *s)
{
    return s->no_sync ? WITAN_OK : from_mdb(mdb_env_sync(s->env, 1));
}

void store_close(store *s)
{
    if (!s)
        return;
    WITAN_ASSERT(!s->writing);
    drop_idle(s);
    /* The last commit's meta page, which no later commit will carry. */
    int err = store_sync(s);
    if (err)
        WITAN_WARN("storage", "the last commit may not be on disk: %s",
                   witan_err_message(err));
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->idle_lock);
    free(s->kept_entries);
    free(s->kept_arena);
    free(s);
}

size_t store_map_size(const store *s) { return s->map_size; }

int store_usage(store *s, uint64_t *used, uint64_t *max)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc != 0)
        return from_mdb(rc);
    *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    *max = s->map_size_max;
    return WITAN_OK;
}

int store_grow(store *s)
{
    WITAN_ASSERT(!s->writing);
    if (s->map_size >= s->map_size_max)
        return WITAN_EMAPFULL;
    size_t next = s->map_size > s->map_size_max / 2 ? s->map_size_max
                                                    : s->map_size * 2;
    drop_idle(s);
    int rc = mdb_env_set_mapsize(s->env, next);
    if (rc != 0)
        return from_mdb(rc);
    WITAN_INFO("storage", "map grown from %zu to %zu MiB", s->map_size >> 20,
               next >> 20);
    s->map_size = next;
    return WITAN_OK;
}

/* A write transaction's empty write-set buffers and the store's kept ones
 * change places (either side may have none). */
static void swap_kept(store_txn *t)
{
    store *s = t->s;
    struct write_entry *e = s->kept_entries;
    uint8_t *a = s->kept_arena;
    size_t ec = s->kept_entry_cap, ac = s->kept_arena_cap;
    s->kept_entries = t->entries;
    s->kept_entry_cap = t->entry_cap;
    s->kept_arena = t->arena;
    s->kept_arena_cap = t->arena_cap;
    t->entries = e;
    t->entry_cap = ec;
    t->arena = a;
    t->arena_cap = ac;
}

static int txn_begin(store *s, bool write, store_txn **out)
{
    *out = NULL;
    store_txn *t = calloc(1, sizeof *t);
    if (!t)
        return WITAN_ENOMEM;
    t->s = s;
    t->write = write;
    MDB_txn *idle = NULL;
    if (!write) {
        pthread_mutex_lock(&s->idle_lock);
        if (s->idle_count > 0)
            idle = s->idle[--s->idle_count];
        pthread_mutex_unlock(&s->idle_lock);
    }
    if (idle && mdb_txn_renew(idle) == 0)
        t->txn = idle;
    else if (idle)
        mdb_txn_abort(idle); /* and begin a new one below */
    int rc = t->txn ? 0
                    : mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY,
                                    &t->txn);
    if (rc != 0) {
        free(t);
        return from_mdb(rc);
    }
    if (write) {
        s->writing = true;
        swap_kept(t);
    }
    *out = t;
    return WITAN_OK;
}

int store_read_begin(store *s, store_txn **out)
{
    return txn_begin(s, false, out);
}

int store_write_begin(store *s, store_txn **out)
{
    WITAN_ASSERT(!s->writing);
    return txn_begin(s, true, out);
}

/* Before a write transaction ends (and LMDB lets the next writer in). */
static void give_back(store_txn *t)
{
    WITAN_ASSERT(t->write && !t->s->kept_entries && !t->s->kept_arena);
    if (t->entry_cap * sizeof *t->entries <= STORE_KEPT_WRITE_SET_MAX &&
        t->arena_cap <= STORE_KEPT_WRITE_SET_MAX)
        swap_kept(t);
}

static void txn_free(store_txn *t)
{
    if (t->write)
        t->s->writing = false;
    free(t->entries);
    free(t->arena);
    free(t);
}

int store_commit(store_txn *t)
{
    WITAN_ASSERT(t->write);
    give_back(t);
    int rc = mdb_txn_commit(t->txn);
    txn_free(t);
    return from_mdb(rc);
}

void store_abort(store_txn *t)
{
    if (!t)
        return;
    store *s = t->s;
    bool kept = false;
    if (!t->write) {
        mdb_txn_reset(t->txn);
        pthread_mutex_lock(&s->idle_lock);
        if (s->idle_count < STORE_IDLE_READS_MAX) {
            s->idle[s->idle_count++] = t->txn;
            kept = true;
        }
        pthread_mutex_unlock(&s->idle_lock);
    }
    if (t->write)
        give_back(t);
    if (!kept)
        mdb_txn_abort(t->txn);
    txn_free(t);
}

int store_get(store_txn *t, enum store_table table, const void *key,
              size_t key_size, const void **value, size_t *value_size)
{
    WITAN_ASSERT((unsigned)table < STORE_TABLE_COUNT);
    MDB_val k = {key_size, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[table], &k, &v);
    if (rc != 0)
        return from_mdb(rc);
    *value = v.mv_data;
    *value_size = v.mv_size;
    return WITAN_OK;
}

static int arena_add(store_txn *t, const void *data, size_t size,
                     size_t *offset)
{
    if (t->arena_size + size > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_size + size)
            cap *= 2;
        if (cap > WITAN_WRITE_SET_SIZE_MAX)
            return WITAN_ELIMIT;
        uint8_t *a = realloc(t->arena, cap);
        if (!a)
            return WITAN_ENOMEM;
        t->arena = a;
        t->arena_cap = cap;
    }
    *offset = t->arena_size;
    if (size)
        memcpy(t->arena + t->arena_size, data, size);
    t->arena_size += size;
    return WITAN_OK;
}

static int record_write(store_txn *t, enum store_table table, const void *key,
                        size_t key_size, const void *value, size_t value_size,
                        bool deleted)
{
    if (!store_table_is_state(table))
        return WITAN_OK;
    if (t->entry_count == t->entry_cap) {
        size_t cap = t->entry_cap ? t->entry_cap * 2 : 64;
        struct write_entry *e = realloc(t->entries, cap * sizeof *e);
        if (!e)
            return WITAN_ENOMEM;
        t->entries = e;
        t->entry_cap = cap;
    }
    struct write_entry *e = &t->entries[t->entry_count];
    memset(e, 0, sizeof *e);
    e->table = (uint32_t)table;
    e->seq = (uint32_t)t->entry_count;
    e->deleted = deleted;
    e->key_size = key_size;
    e->value_size = value_size;
    int err = arena_add(t, key, key_size, &e->key_offset);
    if (!err)
        err = arena_add(t, value, value_size, &e->value_offset);
    if (err)
        return err;
    t->entry_count++;
    return WITAN_OK;
}

int store_put(store_txn *t, enum store_table table, const void *key,
              size_t key_size, const void *value, size_t value_size)
{
    WITAN_ASSERT(t->write && (unsigned)table < STORE_TABLE_COUNT);
    if (key_size == 0 || key_size > WITAN_STORE_KEY_SIZE_MAX)
        return WITAN_ELIMIT;
    MDB_val k = {key_size, (void *)key}, v = {value_size, (void *)value};
    int rc = mdb_put(t->txn, t->s->dbi[table], &k, &v, 0);
    if (rc != 0)
        return from_mdb(rc);
    return record_write(t, table, key, key_size, value, value_size, false);
}

int store_del(store_txn *t, enum store_table table, const void *key,
              size_t key_size)
{
    WITAN_ASSERT(t->write && (unsigned)table < STORE_TABLE_COUNT);
    MDB_val k = {key_size, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[table], &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return from_mdb(rc);
    return record_write(t, table, key, key_size, NULL, 0, true);
}

size_t store_write_count(const store_txn *t) { return t->entry_count; }

/* qsort needs a context-free comparator; the arena is passed through a
 * file-scope pointer, set only for the duration of one sort on this thread. */
static _Thread_local const uint8_t *sort_arena;

static int entry_cmp(const void *a, const void *b)
{
    const struct write_entry *x = a, *y = b;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    size_t n = x->key_size < y->key_size ? x->key_size : y->key_size;
    int c = memcmp(sort_arena + x->key_offset, sort_arena + y->key_offset, n);
    if (c != 0)
        return c;
    if (x->key_size != y->key_size)
        return x->key_size < y->key_size ? -1 : 1;
    /* Equal keys: by sequence, so the last write is last. seq is unique, so
     * the order is total and qsort's instability cannot matter. */
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts entries [from, entry_count) by (table, key, sequence). */
static void sort_entries(store_txn *t, size_t from)
{
    sort_arena = t->arena;
    if (t->entry_count - from > 1)
        qsort(t->entries + from, t->entry_count - from, sizeof *t->entries,
              entry_cmp);
    sort_arena = NULL;
}

/* True when sorted entry i is overwritten by entry i + 1 (below `end`):
 * only the last write of each key counts. */
static bool superseded(const store_txn *t, size_t i, size_t end)
{
    if (i + 1 >= end)
        return false;
    const struct write_entry *e = &t->entries[i], *next = &t->entries[i + 1];
    return next->table == e->table && next->key_size == e->key_size &&
           memcmp(t->arena + next->key_offset, t->arena + e->key_offset,
                  e->key_size) == 0;
}

/* u8 table || be32 key_size || key || u8 (1 put, 0 delete) || be32
 * value_size || value: a state-root entry, and a record hash's bytes. */
static void hash_entry(wcrypto_hasher *h, const store_txn *t,
                       const struct write_entry *e)
{
    uint8_t head[1 + 4];
    head[0] = (uint8_t)e->table;
    store_be32(head + 1, (uint32_t)e->key_size);
    wcrypto_hasher_update(h, head, sizeof head);
    wcrypto_hasher_update(h, t->arena + e->key_offset, e->key_size);
    head[0] = e->deleted ? 0 : 1;
    store_be32(head + 1, (uint32_t)e->value_size);
    wcrypto_hasher_update(h, head, sizeof head);
    wcrypto_hasher_update(h, t->arena + e->value_offset, e->value_size);
}

int store_state_root(store_txn *t, const uint8_t prev_root[WITAN_HASH_SIZE],
                     uint64_t height, uint8_t root[WITAN_HASH_SIZE])
{
    sort_entries(t, 0);
    wcrypto_hasher h;
    uint8_t be[8];
    wcrypto_hasher_init(&h, WCRYPTO_TAG_STATE);
    wcrypto_hasher_update(&h, prev_root, WITAN_HASH_SIZE);
    store_be64(be, height);
    wcrypto_hasher_update(&h, be, 8);
    for (size_t i = 0; i < t->entry_count; i++)
        if (!superseded(t, i, t->entry_count))
            hash_entry(&h, t, &t->entries[i]);
    wcrypto_hasher_final(&h, root);
    return WITAN_OK;
}

int store_record_hashes(store_txn *t, size_t mark,
                        uint8_t (**hashes)[WITAN_HASH_SIZE],
                        size_t *count)
{
    WITAN_ASSERT(mark <= t->entry_count);
    *hashes = NULL;
    *count = 0;
    /* Sorting the window only permutes it: the state root sorts the whole
     * set again, and sequence numbers keep the last write last. */
    sort_entries(t, mark);
    size_t n = 0;
    for (size_t i = mark; i < t->entry_count; i++)
        n += !superseded(t, i, t->entry_count);
    if (n == 0)
        return WITAN_OK;
    wcrypto_digest *out = malloc(n * sizeof *out);
    if (!out)
        return WITAN_ENOMEM;
    size_t k = 0;
    for (size_t i = mark; i < t->entry_count; i++) {
        if (superseded(t, i, t->entry_count))
            continue;
        wcrypto_hasher h;
        wcrypto_hasher_init(&h, WCRYPTO_TAG_RECORD);
        hash_entry(&h, t, &t->entries[i]);
        wcrypto_hasher_final(&h, out[k++]);
    }
    *hashes = out;
    *count = n;
    return WITAN_OK;
}

int store_cursor_open(store_txn *t, enum store_table table, store_cursor **out)
{
    *out = NULL;
    store_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return WITAN_ENOMEM;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[table], &c->cursor);
    if (rc != 0) {
        free(c);
        return from_mdb(rc);
    }
    *out = c;
    return WITAN_OK;
}

static int cursor_get(store_cursor *c, MDB_val *k, MDB_cursor_op op,
                      const void **key, size_t *key_size, const void **value,
                      size_t *value_size)
{
    MDB_val v;
    int rc = mdb_cursor_get(c->cursor, k, &v, op);
    if (rc != 0)
        return from_mdb(rc);
    *key = k->mv_data;
    *key_size = k->mv_size;
    *value = v.mv_data;
    *value_size = v.mv_size;
    return WITAN_OK;
}

int store_cursor_seek(store_cursor *c, const void *key, size_t key_size,
                      const void **k, size_t *k_size, const void **v,
                      size_t *v_size)
{
    MDB_val mk = {key_size, (void *)key};
    return cursor_get(c, &mk, key_size ? MDB_SET_RANGE : MDB_FIRST, k, k_size,
                      v, v_size);
}

int store_cursor_next(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size)
{
    MDB_val mk;
    return cursor_get(c, &mk, MDB_NEXT, k, k_size, v, v_size);
}

int store_cursor_prev(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size)
{
    MDB_val mk;
    return cursor_get(c, &mk, MDB_PREV, k, k_size, v, v_size);
}

int store_cursor_last(store_cursor *c, const void **k, size_t *k_size,
                      const void **v, size_t *v_size)
{
    MDB_val mk;
    return cursor_get(c, &mk, MDB_LAST, k, k_size, v, v_size);
}

void store_cursor_close(store_cursor *c)
{
    if (!c)
        return;
    mdb_cursor_close(c->cursor);
    free(c);
}

int store_backup(store *s, const char *dir)
{
    return from_mdb(mdb_env_copy2(s->env, dir, MDB_CP_COMPACT));
}
