/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mempool: admitted transactions waiting for a block, in arrival order,
 * indexed by hash (so a transaction sent again gets its status) and by
 * (sender, nonce) (so one nonce is never held twice). Bounded by count and
 * bytes; one sender can hold at most nonce_window transactions, since its
 * nonces must be distinct and within the window.
 *
 * An admitted transaction leaves only when a block that includes it commits,
 * or when a committed block gives its nonce to another transaction of the
 * same sender (then it is dropped and remembered: node/drops.c). When the
 * pool is full a new one is refused with WITAN_EFULL ("retry").
 *
 * With pipelining (L > 1) a primary builds block h while h − L + 1 … h − 1
 * are in flight: each entry remembers the height of this node's last
 * proposal that took it, so the next build leaves it out and chains the
 * sender's nonces past it, and entries of another node's block in flight
 * are held out for one build (MEMPOOL_IN_FLIGHT).
 */
#include <assert.h>
#include <string.h>

#include "node/internal.h"

/* Open addressing over entry indexes + 1 (0 is empty); capacity is a power
 * of two at least twice the count bound, so probes stay short. */
static size_t table_cap_for(uint32_t count_max)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)count_max)
        cap *= 2;
    return cap;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    /* Keys are SHA-256 output or addresses: already uniform. */
    uint64_t h = 0;
    memcpy(&h, p, n < 8 ? n : 8);
    return h;
}

static uint64_t sender_nonce_hash(const uint8_t sender[WITAN_ADDRESS_SIZE],
                                  uint64_t nonce)
{
    return hash_bytes(sender, WITAN_ADDRESS_SIZE) ^
           (nonce * UINT64_C(0x9e3779b97f4a7c15));
}

static void index_insert(uint32_t *table, size_t cap, uint64_t h, uint32_t idx)
{
    size_t i = h & (cap - 1);
    while (table[i])
        i = (i + 1) & (cap - 1);
    table[i] = idx + 1;
}

static void reindex(struct mempool *m)
{
    memset(m->by_hash, 0, m->table_cap * sizeof *m->by_hash);
    memset(m->by_nonce, 0, m->table_cap * sizeof *m->by_nonce);
    for (uint32_t i = 0; i < m->count; i++) {
        const struct ledger_tx *tx = &m->txs[i];
        index_insert(m->by_hash, m->table_cap,
                     hash_bytes(tx->hash, WITAN_HASH_SIZE), i);
        index_insert(m->by_nonce, m->table_cap,
                     sender_nonce_hash(tx->sender, tx->nonce), i);
    }
}

int mempool_init(struct mempool *m, uint32_t count_max, uint64_t size_max)
{
    memset(m, 0, sizeof *m);
    m->count_max = count_max;
    m->size_max = size_max;
    m->decoded_max = size_max / MEMPOOL_DECODED_SHARE;
    m->table_cap = table_cap_for(count_max);
    m->txs = calloc(count_max, sizeof *m->txs);
    m->selected = calloc(count_max, sizeof *m->selected);
    m->proposed = calloc(count_max, sizeof *m->proposed);
    m->admitted_us = calloc(count_max, sizeof *m->admitted_us);
    m->senders = calloc(m->table_cap, sizeof *m->senders);
    m->by_hash = calloc(m->table_cap, sizeof *m->by_hash);
    m->by_nonce = calloc(m->table_cap, sizeof *m->by_nonce);
    if (!m->txs || !m->selected || !m->proposed || !m->admitted_us ||
        !m->senders || !m->by_hash || !m->by_nonce) {
        mempool_free(m);
        return WITAN_ENOMEM;
    }
    return WITAN_OK;
}

void mempool_free(struct mempool *m)
{
    for (uint32_t i = 0; m->txs && i < m->count; i++)
        ledger_tx_release(&m->txs[i]);
    free(m->txs);
    free(m->selected);
    free(m->proposed);
    free(m->admitted_us);
    free(m->senders);
    free(m->by_hash);
    free(m->by_nonce);
    memset(m, 0, sizeof *m);
}

/* The entry with this hash, or -1. */
static int64_t index_of(const struct mempool *m,
                        const uint8_t hash[WITAN_HASH_SIZE])
{
    size_t i = hash_bytes(hash, WITAN_HASH_SIZE) & (m->table_cap - 1);
    for (; m->by_hash[i]; i = (i + 1) & (m->table_cap - 1)) {
        uint32_t idx = m->by_hash[i] - 1;
        if (memcmp(m->txs[idx].hash, hash, WITAN_HASH_SIZE) == 0)
            return idx;
    }
    return -1;
}

const struct ledger_tx *mempool_find(const struct mempool *m,
                                     const uint8_t hash[WITAN_HASH_SIZE])
{
    int64_t idx = index_of(m, hash);
    return idx < 0 ? NULL : &m->txs[idx];
}

int64_t mempool_admitted_us(const struct mempool *m,
                            const uint8_t hash[WITAN_HASH_SIZE])
{
    const struct ledger_tx *tx = mempool_find(m, hash);
    return tx ? m->admitted_us[tx - m->txs] : 0;
}

bool mempool_holds_bytes(const struct mempool *m,
                         const uint8_t hash[WITAN_HASH_SIZE],
                         const uint8_t *env, size_t size)
{
    const struct ledger_tx *tx = mempool_find(m, hash);
    return tx && tx->size == size && memcmp(tx->bytes, env, size) == 0;
}

bool mempool_holds(const struct mempool *m, const uint8_t *env, size_t size,
                   uint8_t hash[WITAN_HASH_SIZE])
{
    return ledger_envelope_tx_hash(env, size, hash) == 0 &&
           mempool_holds_bytes(m, hash, env, size);
}

bool mempool_take_decoded(struct mempool *m,
                          const uint8_t hash[WITAN_HASH_SIZE],
                          struct ledger_tx *out)
{
    memset(out, 0, sizeof *out);
    int64_t idx = index_of(m, hash);
    if (idx < 0 || !m->txs[idx].body)
        return false;
    struct ledger_tx *tx = &m->txs[idx];
    memcpy(out->hash, tx->hash, WITAN_HASH_SIZE);
    memcpy(out->sender, tx->sender, WITAN_ADDRESS_SIZE);
    out->nonce = tx->nonce;
    out->envelope = tx->envelope;
    out->body = tx->body;
    out->decoded_size = tx->decoded_size;
    m->decoded -= tx->decoded_size;
    tx->envelope = NULL;
    tx->body = NULL;
    tx->decoded_size = 0;
    return true;
}

static const struct ledger_tx *
find_nonce(const struct mempool *m, const uint8_t sender[WITAN_ADDRESS_SIZE],
           uint64_t nonce)
{
    size_t i = sender_nonce_hash(sender, nonce) & (m->table_cap - 1);
    for (; m->by_nonce[i]; i = (i + 1) & (m->table_cap - 1)) {
        const struct ledger_tx *tx = &m->txs[m->by_nonce[i] - 1];
        if (tx->nonce == nonce &&
            memcmp(tx->sender, sender, WITAN_ADDRESS_SIZE) == 0)
            return tx;
    }
    return NULL;
}

int mempool_add(struct mempool *m, struct ledger_tx *tx, int64_t admitted_us,
                char *why, size_t why_size)
{
    if (mempool_find(m, tx->hash)) {
        snprintf(why, why_size, "transaction is already pending");
        return WITAN_EEXIST;
    }
    if (find_nonce(m, tx->sender, tx->nonce)) {
        snprintf(why, why_size,
                 "another transaction with nonce %llu from this sender is "
                 "already pending",
                 (unsigned long long)tx->nonce);
        return WITAN_ENONCE;
    }
    if (m->count >= m->count_max || m->size + tx->size > m->size_max) {
        snprintf(why, why_size,
                 "mempool full (%u transactions, %llu bytes), retry",
                 m->count, (unsigned long long)m->size);
        return WITAN_EFULL;
    }
    uint32_t idx = m->count++;
    m->txs[idx] = *tx; /* the pool takes ownership */
    memset(tx, 0, sizeof *tx);
    /* Blocks are built from the bytes. The decoded form is what executing
     * the transaction needs; kept while it fits its bound, for the oldest
     * are the next blocks'. */
    if (m->decoded + m->txs[idx].decoded_size <= m->decoded_max)
        m->decoded += m->txs[idx].decoded_size;
    else
        ledger_tx_shed(&m->txs[idx]);
    m->proposed[idx] = 0;
    m->admitted_us[idx] = admitted_us;
    m->size += m->txs[idx].size;
    index_insert(m->by_hash, m->table_cap,
                 hash_bytes(m->txs[idx].hash, WITAN_HASH_SIZE), idx);
    index_insert(m->by_nonce, m->table_cap,
                 sender_nonce_hash(m->txs[idx].sender, m->txs[idx].nonce), idx);
    return WITAN_OK;
}

/* In a block in flight below the one being built: left out, and its
 * sender's next nonce may follow it. */
static bool in_flight(const struct mempool *m, uint32_t i, uint64_t lo,
                      uint64_t hi)
{
    return m->selected[i] == MEMPOOL_IN_FLIGHT ||
           (m->proposed[i] > lo && m->proposed[i] < hi);
}

/* The sender's last applied nonce, read once per ledger height and sender:
 * only a block changes it, a node asks before every round, and one sender
 * may hold many entries. The table is keyed by sender; slots read at an
 * older height are read again in place. It is wiped when it has seen more
 * senders than the pool can hold, so probes stay short. */
static uint64_t applied_nonce(struct mempool *m, ledger *l,
                              const uint8_t sender[WITAN_ADDRESS_SIZE])
{
    uint64_t at = ledger_height(l) + 1;
    size_t mask = m->table_cap - 1;
    size_t i = hash_bytes(sender, WITAN_ADDRESS_SIZE) & mask;
    for (; m->senders[i].at; i = (i + 1) & mask)
        if (memcmp(m->senders[i].addr, sender, WITAN_ADDRESS_SIZE) == 0)
            break;
    struct mempool_sender *s = &m->senders[i];
    if (!s->at) {
        if (m->sender_count >= m->table_cap / 2) {
            memset(m->senders, 0, m->table_cap * sizeof *m->senders);
            m->sender_count = 0;
            s = &m->senders[hash_bytes(sender, WITAN_ADDRESS_SIZE) & mask];
        }
        memcpy(s->addr, sender, WITAN_ADDRESS_SIZE);
        m->sender_count++;
    }
    if (s->at != at) {
        if (ledger_account_nonce(l, sender, &s->applied) != 0)
            s->applied = 0;
        s->at = at;
    }
    return s->applied;
}

/*
 * Picks transactions for the next block: in arrival order, each sender's in
 * nonce order from its next nonce, so nothing proposed fails for a gap.
 * Later nonces that arrived first are picked up in a later pass.
 */
size_t mempool_select(struct mempool *m, ledger *l, uint64_t lo, uint64_t hi,
                      size_t count_max, size_t size_max,
                      struct ledger_tx **out)
{
    size_t n = 0, size = 0;
    for (int pass = 0; pass < MEMPOOL_SELECT_PASS_MAX; pass++) {
        size_t before = n;
        for (uint32_t i = 0; i < m->count && n < count_max; i++) {
            struct ledger_tx *tx = &m->txs[i];
            /* Admitted under a higher tx_size_max than governance has
             * since put in force: it would make the block invalid. */
            if (m->selected[i] || in_flight(m, i, lo, hi) ||
                size + tx->size > size_max ||
                tx->size > ledger_params(l)->tx_size_max)
                continue;
            uint64_t applied = applied_nonce(m, l, tx->sender);
            /* The previous nonce must be applied, in flight or already
             * in this block. */
            if (tx->nonce != applied + 1) {
                const struct ledger_tx *prev =
                    find_nonce(m, tx->sender, tx->nonce - 1);
                if (!prev || !(m->selected[prev - m->txs] ||
                               in_flight(m, (uint32_t)(prev - m->txs), lo, hi)))
                    continue;
            }
            m->selected[i] = MEMPOOL_SELECTED;
            out[n++] = tx;
            size += tx->size + 8; /* framing per transaction, generously */
        }
        if (n == before || n >= count_max)
            break;
    }
    return n;
}

void mempool_remove_selected(struct mempool *m)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < m->count; i++) {
        if (m->selected[i] == MEMPOOL_SELECTED) {
            m->size -= m->txs[i].size;
            m->decoded -= m->txs[i].decoded_size;
            ledger_tx_release(&m->txs[i]);
        } else {
            m->proposed[j] = m->proposed[i];
            m->admitted_us[j] = m->admitted_us[i];
            m->txs[j++] = m->txs[i];
        }
    }
    m->count = j;
    memset(m->selected, 0, m->count_max * sizeof *m->selected);
    reindex(m);
}

/* Drops transactions whose nonce was used meanwhile (a refused duplicate of a
 * committed one): they can never apply. */
void mempool_drop_stale(struct mempool *m, ledger *l)
{
    for (uint32_t i = 0; i < m->count; i++) {
        uint64_t applied;
        m->selected[i] = ledger_account_nonce(l, m->txs[i].sender, &applied) ==
                             0 &&
                         m->txs[i].nonce <= applied;
    }
    mempool_remove_selected(m);
}

const struct ledger_tx *mempool_find_nonce(const struct mempool *m,
                                           const uint8_t *sender,
                                           uint64_t nonce)
{
    return find_nonce(m, sender, nonce);
}

void mempool_clear_selection(struct mempool *m)
{
    memset(m->selected, 0, m->count_max * sizeof *m->selected);
}

void mempool_mark(struct mempool *m, const uint8_t hash[WITAN_HASH_SIZE])
{
    const struct ledger_tx *tx = mempool_find(m, hash);
    if (tx)
        m->selected[tx - m->txs] = MEMPOOL_SELECTED;
}

void mempool_hold(struct mempool *m, const struct ledger_tx *tx)
{
    assert(tx >= m->txs && tx < m->txs + m->count);
    m->selected[tx - m->txs] = MEMPOOL_IN_FLIGHT;
}

void mempool_propose_selected(struct mempool *m, uint64_t height)
{
    for (uint32_t i = 0; i < m->count; i++)
        if (m->selected[i] == MEMPOOL_SELECTED)
            m->proposed[i] = height;
}

void mempool_unpropose(struct mempool *m, uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < m->count; i++)
        if (m->proposed[i] >= lo && m->proposed[i] <= hi)
            m->proposed[i] = 0;
}
