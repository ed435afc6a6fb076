/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim — the simulated world (sim.h). One PRNG drives every choice, so a seed
 * names a run exactly; the event queue orders by (time, sequence number).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger/ledger.h"
#include "spec/consensus.pb-c.h"
#include "spec/witan.pb-c.h"
#include "tests/sim/sim.h"

#define NMAX 16
#define TX_SIZE 16
#define TRACE_LINES 48
#define TRACE_LINE 160
#define REPLAY_RING 32
#define GOSSIP_MS 400
#define FORWARD_COUNT_MAX 4096 /* as node/replica.c forwards */
#define VALIDATED_RING 16       /* as node/replica.c remembers */
#define SETS_MAX 64             /* validator sets of one run (reconfig) */
#define RECONFIG_PERMILLE 300   /* boundaries that change the set */
#define SIM_STUCK_MS 4000       /* no delivery for this long: stuck */

/* --- PRNG (splitmix64) ------------------------------------------------------- */

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *st, uint64_t n)
{
    return n == 0 ? 0 : rng_next(st) % n;
}

static bool rng_permille(uint64_t *st, uint32_t p)
{
    return rng_below(st, 1000) < p;
}

/* --- small containers --------------------------------------------------------- */

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

static bytes bytes_copy(const void *d, size_t n)
{
    bytes b = {malloc(n ? n : 1), n};
    WITAN_ASSERT(b.data != NULL);
    if (n)
        memcpy(b.data, d, n);
    return b;
}

/* Open-addressing set of nonzero u64. */
typedef struct u64set {
    uint64_t *v;
    size_t cap, count;
} u64set;

static bool set_has(const u64set *s, uint64_t x)
{
    if (s->cap == 0)
        return false;
    for (size_t i = (x * 0x9e3779b97f4a7c15ull) & (s->cap - 1);;
         i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == x)
            return true;
        if (s->v[i] == 0)
            return false;
    }
}

static void set_add(u64set *s, uint64_t x);
static void set_grow(u64set *s)
{
    u64set n = {calloc(s->cap ? s->cap * 2 : 64, 8), s->cap ? s->cap * 2 : 64, 0};
    WITAN_ASSERT(n.v != NULL);
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i])
            set_add(&n, s->v[i]);
    free(s->v);
    *s = n;
}

static void set_add(u64set *s, uint64_t x)
{
    if ((s->count + 1) * 2 > s->cap)
        set_grow(s);
    for (size_t i = (x * 0x9e3779b97f4a7c15ull) & (s->cap - 1);;
         i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == x)
            return;
        if (s->v[i] == 0) {
            s->v[i] = x;
            s->count++;
            return;
        }
    }
}

/* --- world ------------------------------------------------------------------------ */

enum ev_kind { E_MSG = 1, E_TIMER, E_GOSSIP, E_TXFWD };

typedef struct event {
    uint64_t t, seq;
    enum ev_kind kind;
    uint32_t to, from;
    uint32_t timer;
    uint64_t gen;
    bytes data;
} event;

typedef struct stored_block {
    bytes block;
    uint8_t hash[32];
    pbft_cert cert;
    uint8_t state_root[32], receipts_root[32];
    int64_t time_ms;
} stored_block;

struct local_ev {
    pbft_event ev;
    bytes hold;           /* owned data the event points into */
    pbft_bytes *txs;
    pbft_certified_block *cbs;
};

typedef struct node {
    uint32_t index;        /* the node's place in the world (its address) */
    uint32_t self;         /* its index in the validator set it runs with */
    wcrypto_keypair key;
    uint32_t keygen;       /* which of its keys (reconfig: rotations) */
    uint32_t handed_keygen; /* the newest handed to its core (0: none) */
    uint32_t records_gen;  /* the key whose messages the records are */
    /* Reconfig: gone once removed and stopped (never up again); joining
     * while an added node waits for a copy of a state at or after
     * join_e; set_from of the core it last ran. */
    bool gone, joining, added, joined, restart_due;
    /* Started with no records (a copy, or a new key): in view 0 until a
     * view change that its set proves (reconfig). */
    bool fresh_view;
    /* Restore from a copy due (reconfig: stuck behind a boundary). */
    bool restore_due;
    uint64_t restore_to; /* the donor's least height */
    uint64_t last_deliver_ms;
    uint64_t join_e;
    uint64_t set_from_seen;
    enum sim_byz byz;
    bool up;
    pbft *core;
    ledger *l; /* ledger mode: open while the node is up */
    /* Blocks this node's ledger validated, whose transaction signatures
     * its apply need not check again (as node/replica.c keeps them). */
    uint8_t validated[VALIDATED_RING][32];
    uint32_t validated_next;
    /* durable store */
    bytes *records;
    size_t record_count, record_cap;
    size_t synced_records; /* records[0..synced_records) survive a power loss */
    size_t evidence_seen;  /* of the core's evidence, checked */
    stored_block *blocks; /* blocks[h - 1] */
    size_t block_count, block_cap;
    wcrypto_history hist;
    uint8_t state_root[32];
    u64set applied;
    uint64_t stable_height;
    uint8_t stable_root[32];
    bytes stable_proof;
    /* pool (kept across crashes, as a node's pool on disk would be) */
    uint64_t *pool;
    size_t pool_count, pool_cap;
    u64set pooled;
    uint64_t *inflight_tx, *inflight_h;
    size_t inflight_count, inflight_cap;
    uint64_t last_request_count;
    /* timers */
    uint64_t timer_gen[PBFT_TIMER_COUNT];
    /* byzantine memory */
    bytes replay[REPLAY_RING];
    uint32_t replay_next;
    bool just_proposed;
    bool crash_at_persist;
} node;

struct filter {
    uint32_t kind;
    uint64_t from, to;
};

/* A validator set of the run: in force from `from` (0: the initial set),
 * enacted at boundary `enacted`; member i is node ids[i] with its key of
 * generation gens[i]. */
struct vrec {
    uint64_t from, enacted;
    /* the highest view of a correct replica when the first one switched
     * to this set (+ 1; 0: none switched yet) */
    uint64_t view_at_switch;
    uint32_t n;
    uint32_t ids[NMAX], gens[NMAX];
    wcrypto_pubkey keys[NMAX];
};

struct sim {
    sim_config c;
    uint64_t rng;
    uint64_t now, seq;
    uint32_t n; /* nodes in the world (reconfig: added ones included) */
    node nodes[NMAX];
    wcrypto_pubkey pubs[NMAX];
    struct vrec sets[SETS_MAX];
    uint32_t set_count;
    uint64_t decided_upto; /* reconfig: boundaries decided so far */
    uint32_t adds, removes, rotations, rotate_copies, hot_rotations;
    uint32_t timing_copies, stuck_copies, views_waiting;
    uint64_t last_boot_ms, last_submit_ms;
    bool reconfig_busy;
    event *heap;
    size_t heap_count, heap_cap;
    /* network */
    uint32_t drop_pm, dup_pm, dmin, dmax;
    uint64_t side_a;
    bool partitioned;
    bool gossip_off; /* pools spread only by PBFT_ACT_FORWARD */
    struct filter filters[8];
    uint32_t filter_count;
    /* checks */
    uint8_t (*committed)[32];
    uint8_t (*roots)[32];
    bool *have_committed, *have_root;
    size_t committed_cap;
    u64set proposed; /* first 8 bytes of proposed block hashes */
    u64set submitted;
    uint64_t next_tx;
    bool failed;
    char why[256];
    char trace[TRACE_LINES][TRACE_LINE];
    uint32_t trace_next;
    uint64_t messages;
    uint32_t crashes;
    /* ledger mode */
    simchain *chain;
    enum simchain_mutation forced; /* SIMCHAIN_M_COUNT: drawn at random */
    uint64_t mutated[SIMCHAIN_M_COUNT], mutated_committed[SIMCHAIN_M_COUNT];
    struct mutant {
        uint64_t key; /* bytes_key of the rewritten block */
        enum simchain_mutation m;
    } *mutants;
    size_t mutant_count, mutant_cap;
    struct local_ev *local;
    size_t local_count, local_cap;
};

static void trace(sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(sim *s, const char *fmt, ...)
{
    char *line = s->trace[s->trace_next % TRACE_LINES];
    int k = snprintf(line, TRACE_LINE, "%8llu ", (unsigned long long)s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, TRACE_LINE - (size_t)k, fmt, ap);
    va_end(ap);
    s->trace_next++;
    if (s->c.trace)
        fprintf(stderr, "%s\n", line);
}

static void fail(sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof(s->why), fmt, ap);
    va_end(ap);
    trace(s, "FAIL %s", s->why);
}

void sim_print_trace(const sim *s, FILE *out)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const node *nd = &s->nodes[i];
        pbft_stats st = {0};
        if (nd->up)
            pbft_get_stats(nd->core, &st);
        fprintf(out, "  node %u: %s%s height %zu view %llu%s stable %llu pool %zu"
                     " drops sig %llu view %llu wm %llu conflict %llu invalid %llu\n",
                i, nd->up ? "up" : "down",
                nd->byz ? " byzantine" : "", nd->block_count,
                (unsigned long long)(nd->up ? pbft_view(nd->core) : 0),
                nd->up && pbft_in_view_change(nd->core) ? " (changing)" : "",
                (unsigned long long)(nd->up ? pbft_stable_height(nd->core) : 0),
                nd->pool_count,
                (unsigned long long)st.dropped[PBFT_DROP_BAD_SIG],
                (unsigned long long)st.dropped[PBFT_DROP_PAST_VIEW],
                (unsigned long long)st.dropped[PBFT_DROP_WATERMARK],
                (unsigned long long)st.dropped[PBFT_DROP_CONFLICT],
                (unsigned long long)st.dropped[PBFT_DROP_INVALID]);
    }
    uint32_t first = s->trace_next > TRACE_LINES ? s->trace_next - TRACE_LINES : 0;
    for (uint32_t i = first; i < s->trace_next; i++)
        fprintf(out, "  %s\n", s->trace[i % TRACE_LINES]);
}

/* --- event heap ---------------------------------------------------------------------- */

static bool ev_less(const event *a, const event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(sim *s, event e)
{
    e.seq = s->seq++;
    if (s->heap_count == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 256;
        s->heap = realloc(s->heap, s->heap_cap * sizeof(event));
        WITAN_ASSERT(s->heap != NULL);
    }
    size_t i = s->heap_count++;
    s->heap[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&s->heap[i], &s->heap[p]))
            break;
        event t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static event pop(sim *s)
{
    event top = s->heap[0];
    s->heap[0] = s->heap[--s->heap_count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_count && ev_less(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->heap_count && ev_less(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        event t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

/* --- message inspection ------------------------------------------------------------- */

struct peek {
    uint32_t kind;
    uint64_t view, height;
    uint8_t hash[32];
    bytes block; /* pre-prepare only; borrowed copy, freed by caller */
};

static bool peek_message(const bytes *m, struct peek *p)
{
    memset(p, 0, sizeof(*p));
    Witan__SignedMessage *sm = witan__signed_message__unpack(NULL, m->size, m->data);
    if (sm == NULL)
        return false;
    Witan__ConsensusMessage *cm =
        witan__consensus_message__unpack(NULL, sm->body.len, sm->body.data);
    witan__signed_message__free_unpacked(sm, NULL);
    if (cm == NULL)
        return false;
    p->kind = (uint32_t)cm->kind_case;
    switch (cm->kind_case) {
    case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE:
        p->view = cm->pre_prepare->view;
        p->height = cm->pre_prepare->height;
        p->block = bytes_copy(cm->pre_prepare->block.data, cm->pre_prepare->block.len);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
        p->view = cm->prepare->view;
        p->height = cm->prepare->height;
        if (cm->prepare->block_hash.len == 32)
            memcpy(p->hash, cm->prepare->block_hash.data, 32);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT:
        p->view = cm->commit->view;
        p->height = cm->commit->height;
        if (cm->commit->block_hash.len == 32)
            memcpy(p->hash, cm->commit->block_hash.data, 32);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT:
        p->height = cm->checkpoint->height;
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE:
        p->view = cm->view_change->new_view;
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_NEW_VIEW:
        p->view = cm->new_view->view;
        break;
    default:
        break;
    }
    witan__consensus_message__free_unpacked(cm, NULL);
    return true;
}

/* The height a consensus record is about, 0 for view changes and new
 * views (node/records.c keeps them whatever the checkpoint). */
static uint64_t record_height(const bytes *rec)
{
    if (rec->size < 1)
        return 0;
    if (rec->data[0] == 'P') {
        Witan__PreparedRecord *p =
            witan__prepared_record__unpack(NULL, rec->size - 1, rec->data + 1);
        uint64_t h = p && p->proof ? p->proof->height : 0;
        if (p)
            witan__prepared_record__free_unpacked(p, NULL);
        return h;
    }
    struct peek p;
    if (!peek_message(&(bytes){rec->data + 1, rec->size - 1}, &p))
        return 0;
    free(p.block.data);
    return p.kind == WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT ? 0 : p.height;
}

static uint64_t hash_key(const uint8_t h[32])
{
    uint64_t k;
    memcpy(&k, h, 8);
    return k ? k : 1;
}

/* --- validator sets (reconfig) ----------------------------------------------------- */

/* The set in force at height h. */
static uint32_t set_index_at(const sim *s, uint64_t h)
{
    uint32_t k = 0;
    while (k + 1 < s->set_count && s->sets[k + 1].from <= h)
        k++;
    return k;
}

/* The set whose first height a core reports (pbft_set_from). */
static uint32_t set_index_from(const sim *s, uint64_t from)
{
    for (uint32_t k = 0; k < s->set_count; k++)
        if (s->sets[k].from == from)
            return k;
    WITAN_ASSERT(!"a core runs with a set the world never made");
    return 0;
}

/* The set a node runs with: its core's, or when down the one it would
 * boot with. */
static const struct vrec *node_set(const sim *s, const node *nd)
{
    if (s->set_count == 1)
        return &s->sets[0];
    if (nd->up)
        return &s->sets[set_index_from(s, pbft_set_from(nd->core))];
    return &s->sets[set_index_at(s, nd->block_count + 1)];
}

static uint32_t set_place(const struct vrec *vs, uint32_t id)
{
    for (uint32_t i = 0; i < vs->n; i++)
        if (vs->ids[i] == id)
            return i;
    return UINT32_MAX;
}

static uint32_t set_key_place(const struct vrec *vs, const wcrypto_pubkey *k)
{
    for (uint32_t i = 0; i < vs->n; i++)
        if (memcmp(vs->keys[i].bytes, k->bytes, WCRYPTO_ED25519_PUBKEY_SIZE) ==
            0)
            return i;
    return UINT32_MAX;
}

/* Node id's key of generation gen (generation 0: the initial key). */
static void node_key(uint32_t id, uint32_t gen, wcrypto_keypair *out)
{
    uint8_t seed[32] = {0};
    seed[0] = (uint8_t)id;
    seed[1] = 0x5e;
    seed[2] = (uint8_t)gen;
    seed[3] = (uint8_t)(gen >> 8);
    WITAN_ASSERT(wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, out) ==
                 0);
}

/* --- network ------------------------------------------------------------------------ */

/* A key of a block's whole bytes (its hash covers only the header). */
static uint64_t bytes_key(const bytes *b)
{
    uint8_t h[32];
    wcrypto_hash_tagged("witan/sim/bytes", b->data, b->size, h);
    return hash_key(h);
}

static bool filtered(sim *s, uint32_t kind, uint32_t from, uint32_t to)
{
    for (uint32_t i = 0; i < s->filter_count; i++) {
        const struct filter *f = &s->filters[i];
        if ((f->kind == 0 || f->kind == kind) && (f->from >> from & 1) &&
            (f->to >> to & 1))
            return true;
    }
    return false;
}

/* `to` is a validator index in the set the sender runs with: the world
 * routes it to that validator's node (a node links to the set its core
 * runs with, as node/replica.c re-links when the core switches). */
static void net_send_one(sim *s, uint32_t from, uint32_t to, const uint8_t *d,
                         size_t size, uint32_t kind)
{
    const struct vrec *vs = node_set(s, &s->nodes[from]);
    if (to >= vs->n)
        return;
    to = vs->ids[to];
    if (to == from)
        return;
    if (s->partitioned && ((s->side_a >> from) & 1) != ((s->side_a >> to) & 1))
        return;
    if (filtered(s, kind, from, to))
        return;
    if (rng_permille(&s->rng, s->drop_pm))
        return;
    int copies = rng_permille(&s->rng, s->dup_pm) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        event e = {0};
        e.kind = E_MSG;
        e.t = s->now + s->dmin + rng_below(&s->rng, s->dmax - s->dmin + 1);
        e.to = to;
        e.from = from;
        e.data = bytes_copy(d, size);
        push(s, e);
        s->messages++;
    }
}

/* --- Byzantine rewriting ---------------------------------------------------------- */

static void tx_bytes(uint64_t id, uint8_t out[TX_SIZE])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(id >> (8 * i));
    memset(out + 8, 0xa5, 8);
}

static void txs_root(const pbft_bytes *txs, size_t count, uint8_t root[32])
{
    wcrypto_digest *leaves = calloc(count ? count : 1, sizeof(wcrypto_digest));
    WITAN_ASSERT(leaves != NULL);
    for (size_t i = 0; i < count; i++)
        wcrypto_hash_tagged(WCRYPTO_TAG_ENVELOPE, txs[i].data, txs[i].size,
                            leaves[i]);
    wcrypto_merkle_root(leaves, count, root);
    free(leaves);
}

/* A different block for the same height: one more (bogus) transaction, or
 * in ledger mode another valid block (its time ahead). */
static bool alt_block(sim *s, const bytes *block, bytes *out)
{
    if (s->chain)
        return simchain_mutate(s->chain, SIMCHAIN_M_VALID_TIME_AHEAD,
                               block->data, block->size, (pbft_bytes){0}, s->n,
                               &out->data, &out->size);
    Witan__Block *b = witan__block__unpack(NULL, block->size, block->data);
    if (b == NULL)
        return false;
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, b->header.len, b->header.data);
    if (h == NULL) {
        witan__block__free_unpacked(b, NULL);
        return false;
    }
    size_t n = b->n_txs + 1;
    pbft_bytes *txs = calloc(n, sizeof(*txs));
    ProtobufCBinaryData *pb = calloc(n, sizeof(*pb));
    uint8_t extra[TX_SIZE];
    tx_bytes((1ull << 63) | rng_next(&s->rng) >> 1, extra);
    for (size_t i = 0; i < b->n_txs; i++) {
        txs[i].data = b->txs[i].data;
        txs[i].size = b->txs[i].len;
        pb[i] = b->txs[i];
    }
    txs[n - 1].data = extra;
    txs[n - 1].size = TX_SIZE;
    pb[n - 1].data = extra;
    pb[n - 1].len = TX_SIZE;
    uint8_t root[32];
    txs_root(txs, n, root);
    ProtobufCBinaryData original = h->txs_root;
    h->txs_root.data = root;
    h->txs_root.len = 32;
    h->tx_count = (uint32_t)n;
    size_t hs = witan__block_header__get_packed_size(h);
    uint8_t *hb = malloc(hs);
    witan__block_header__pack(h, hb);
    Witan__Block nb = WITAN__BLOCK__INIT;
    nb.header.data = hb;
    nb.header.len = hs;
    nb.n_txs = n;
    nb.txs = pb;
    size_t bs = witan__block__get_packed_size(&nb);
    out->data = malloc(bs);
    out->size = bs;
    witan__block__pack(&nb, out->data);
    free(hb);
    free(txs);
    free(pb);
    h->txs_root = original;
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
    return true;
}

/* An envelope of the latest block nd stored with one, for the mutation
 * that proposes a committed transaction again; empty when there is none. */
static pbft_bytes committed_tx(const node *nd, bytes *hold)
{
    for (size_t h = nd->block_count; h > 0; h--) {
        const stored_block *sb = &nd->blocks[h - 1];
        Witan__Block *b =
            witan__block__unpack(NULL, sb->block.size, sb->block.data);
        if (b && b->n_txs > 0) {
            *hold = bytes_copy(b->txs[0].data, b->txs[0].len);
            witan__block__free_unpacked(b, NULL);
            return (pbft_bytes){hold->data, hold->size};
        }
        if (b)
            witan__block__free_unpacked(b, NULL);
    }
    return (pbft_bytes){0};
}

/* A SIM_MUTATE primary's proposal: three times in four rewritten by a
 * mutation drawn at random among those that apply to it, then signed again
 * with the primary's key, as a faulty primary would. NULL: sent as is. */
static uint8_t *mutate_proposal(sim *s, node *nd, const struct peek *p,
                                size_t *size)
{
    if (s->forced == SIMCHAIN_M_COUNT && rng_below(&s->rng, 4) == 0)
        return NULL;
    bytes hold = {0};
    pbft_bytes committed = committed_tx(nd, &hold);
    bytes block = {0};
    enum simchain_mutation m = SIMCHAIN_M_COUNT;
    for (int tries = 0; tries < 8 && block.data == NULL; tries++) {
        m = s->forced != SIMCHAIN_M_COUNT
                ? s->forced
                : (enum simchain_mutation)rng_below(&s->rng, SIMCHAIN_M_COUNT);
        if (!simchain_mutate(s->chain, m, p->block.data, p->block.size,
                             committed, s->n, &block.data, &block.size))
            block.data = NULL;
    }
    free(hold.data);
    if (block.data == NULL)
        return NULL;
    uint8_t hh[32];
    if (pbft_block_hash(block.data, block.size, hh) == 0) {
        set_add(&s->proposed, hash_key(hh));
        if (s->mutant_count == s->mutant_cap) {
            s->mutant_cap = s->mutant_cap ? 2 * s->mutant_cap : 16;
            s->mutants = realloc(s->mutants, s->mutant_cap * sizeof *s->mutants);
            WITAN_ASSERT(s->mutants != NULL);
        }
        s->mutants[s->mutant_count++] = (struct mutant){bytes_key(&block), m};
    }
    s->mutated[m]++;
    trace(s, "n%u mutates proposal h=%llu: %s", nd->index,
          (unsigned long long)p->height, simchain_mutation_name(m));
    pbft_msg msg = {0};
    msg.kind = PBFT_MSG_PRE_PREPARE;
    msg.view = p->view;
    msg.height = p->height;
    msg.block.data = block.data;
    msg.block.size = block.size;
    uint8_t *signed_msg = NULL;
    if (pbft_msg_sign(SIMCHAIN_ID, s->c.sig_scheme, &nd->key, nd->self, &msg,
                      &signed_msg, size) != 0)
        signed_msg = NULL;
    free(block.data);
    return signed_msg;
}

static void byz_remember(node *nd, const uint8_t *d, size_t size)
{
    bytes *slot = &nd->replay[nd->replay_next++ % REPLAY_RING];
    free(slot->data);
    *slot = bytes_copy(d, size);
}

static void byz_send(sim *s, node *nd, uint32_t to, const uint8_t *d,
                     size_t size)
{
    struct peek p;
    if (!peek_message(&(bytes){(uint8_t *)d, size}, &p))
        return;
    uint32_t kind = p.kind;
    if (nd->byz == SIM_MUTATE) {
        uint8_t *mutant = NULL;
        size_t mutant_size = 0;
        if (kind == PBFT_MSG_PRE_PREPARE)
            mutant = mutate_proposal(s, nd, &p, &mutant_size);
        for (uint32_t dst = 0; dst < node_set(s, nd)->n; dst++)
            if (dst != nd->self && (to == PBFT_TO_ALL || dst == to))
                net_send_one(s, nd->index, dst, mutant ? mutant : d,
                             mutant ? mutant_size : size, kind);
        free(mutant);
        free(p.block.data);
        return;
    }
    uint32_t set_n = node_set(s, nd)->n;
    for (uint32_t dst = 0; dst < set_n; dst++) {
        if (dst == nd->self || (to != PBFT_TO_ALL && dst != to))
            continue;
        bool other = rng_below(&s->rng, 2) == 0;
        uint8_t *alt = NULL;
        size_t alt_size = 0;
        pbft_msg m = {0};
        m.view = p.view;
        m.height = p.height;
        if (nd->byz == SIM_EQUIVOCATE && kind == PBFT_MSG_PRE_PREPARE && other) {
            bytes ab;
            if (alt_block(s, &p.block, &ab)) {
                uint8_t hh[32];
                if (pbft_block_hash(ab.data, ab.size, hh) == 0)
                    set_add(&s->proposed, hash_key(hh));
                m.kind = PBFT_MSG_PRE_PREPARE;
                m.block.data = ab.data;
                m.block.size = ab.size;
                (void)pbft_msg_sign(SIMCHAIN_ID, s->c.sig_scheme, &nd->key, nd->self,
                                    &m, &alt, &alt_size);
                free(ab.data);
            }
        } else if ((nd->byz == SIM_EQUIVOCATE || nd->byz == SIM_CONFLICT) &&
                   (kind == PBFT_MSG_PREPARE || kind == PBFT_MSG_COMMIT ||
                    kind == PBFT_MSG_CHECKPOINT) &&
                   other) {
            m.kind = kind;
            for (int i = 0; i < 32; i++)
                m.hash[i] = (uint8_t)rng_next(&s->rng);
            (void)pbft_msg_sign(SIMCHAIN_ID, s->c.sig_scheme, &nd->key, nd->self,
                                &m, &alt, &alt_size);
        }
        if (alt != NULL) {
            net_send_one(s, nd->index, dst, alt, alt_size, kind);
            free(alt);
        } else {
            net_send_one(s, nd->index, dst, d, size, kind);
        }
        if (nd->byz == SIM_REPLAY && rng_below(&s->rng, 3) == 0) {
            bytes *old = &nd->replay[rng_below(&s->rng, REPLAY_RING)];
            if (old->data != NULL)
                net_send_one(s, nd->index, dst, old->data, old->size, 0);
            uint8_t junk[96];
            size_t js = 1 + rng_below(&s->rng, sizeof(junk));
            for (size_t i = 0; i < js; i++)
                junk[i] = (uint8_t)rng_next(&s->rng);
            if (rng_below(&s->rng, 2) == 0 && size > 8) {
                /* A real message with one bit flipped. */
                uint8_t *flip = malloc(size);
                memcpy(flip, d, size);
                flip[rng_below(&s->rng, size)] ^= (uint8_t)(1u << rng_below(&s->rng, 8));
                net_send_one(s, nd->index, dst, flip, size, 0);
                free(flip);
            } else {
                net_send_one(s, nd->index, dst, junk, js, 0);
            }
        }
    }
    if (nd->byz == SIM_REPLAY)
        byz_remember(nd, d, size);
    free(p.block.data);
}

/* --- executor and node duties --------------------------------------------------------- */

static void local_push(sim *s, const pbft_event *ev, bytes hold, pbft_bytes *txs,
                       pbft_certified_block *cbs)
{
    if (s->local_count == s->local_cap) {
        s->local_cap = s->local_cap ? s->local_cap * 2 : 64;
        s->local = realloc(s->local, s->local_cap * sizeof(*s->local));
        WITAN_ASSERT(s->local != NULL);
    }
    struct local_ev *l = &s->local[s->local_count++];
    l->ev = *ev;
    l->hold = hold;
    l->txs = txs;
    l->cbs = cbs;
}

static void ensure_committed_cap(sim *s, uint64_t h)
{
    if (h < s->committed_cap)
        return;
    size_t cap = s->committed_cap ? s->committed_cap : 256;
    while (cap <= h)
        cap *= 2;
    s->committed = realloc(s->committed, cap * 32);
    s->roots = realloc(s->roots, cap * 32);
    s->have_committed = realloc(s->have_committed, cap);
    s->have_root = realloc(s->have_root, cap);
    WITAN_ASSERT(s->committed && s->roots && s->have_committed && s->have_root);
    memset(s->have_committed + s->committed_cap, 0, cap - s->committed_cap);
    memset(s->have_root + s->committed_cap, 0, cap - s->committed_cap);
    s->committed_cap = cap;
}

/* Decodes a block's transactions into ids; false when malformed. In ledger
 * mode an envelope that is none of the world's requests has id 0. */
static bool block_txs(const sim *s, const uint8_t *block, size_t size,
                      uint64_t **ids, size_t *count, bool check_root)
{
    Witan__Block *b = witan__block__unpack(NULL, size, block);
    if (b == NULL)
        return false;
    bool ok = true;
    *ids = calloc(b->n_txs ? b->n_txs : 1, 8);
    pbft_bytes *txs = calloc(b->n_txs ? b->n_txs : 1, sizeof(*txs));
    for (size_t i = 0; i < b->n_txs && s->chain; i++)
        (*ids)[i] = simchain_tx_id(b->txs[i].data, b->txs[i].len);
    for (size_t i = 0; i < b->n_txs && !s->chain; i++) {
        if (b->txs[i].len != TX_SIZE) {
            ok = false;
            break;
        }
        uint64_t id = 0;
        for (int k = 0; k < 8; k++)
            id |= (uint64_t)b->txs[i].data[k] << (8 * k);
        (*ids)[i] = id;
        txs[i].data = b->txs[i].data;
        txs[i].size = b->txs[i].len;
    }
    *count = b->n_txs;
    if (ok && check_root) {
        Witan__BlockHeader *h =
            witan__block_header__unpack(NULL, b->header.len, b->header.data);
        uint8_t root[32];
        txs_root(txs, b->n_txs, root);
        ok = h != NULL && h->txs_root.len == 32 &&
             memcmp(h->txs_root.data, root, 32) == 0;
        if (h)
            witan__block_header__free_unpacked(h, NULL);
    }
    free(txs);
    witan__block__free_unpacked(b, NULL);
    if (!ok) {
        free(*ids);
        *ids = NULL;
    }
    return ok;
}

static void pool_remove_applied(node *nd)
{
    size_t k = 0;
    for (size_t i = 0; i < nd->pool_count; i++)
        if (!set_has(&nd->applied, nd->pool[i]))
            nd->pool[k++] = nd->pool[i];
    nd->pool_count = k;
}

static void pool_add(node *nd, uint64_t id)
{
    if (set_has(&nd->pooled, id) || set_has(&nd->applied, id))
        return;
    set_add(&nd->pooled, id);
    if (nd->pool_count == nd->pool_cap) {
        nd->pool_cap = nd->pool_cap ? nd->pool_cap * 2 : 64;
        nd->pool = realloc(nd->pool, nd->pool_cap * 8);
        WITAN_ASSERT(nd->pool != NULL);
    }
    nd->pool[nd->pool_count++] = id;
}

static bool correct(const node *nd)
{
    return nd->byz == SIM_CORRECT;
}

static uint64_t pending_requests(const node *nd)
{
    uint64_t pending = 0;
    for (size_t i = 0; i < nd->pool_count; i++)
        if (!set_has(&nd->applied, nd->pool[i]))
            pending++;
    return pending;
}

static void crash_node(sim *s, node *nd);

/* The hash-chain executor: the state root chains the ids of applied
 * transactions; an id seen before fails (status 5). */
static void hash_execute(node *nd, const uint64_t *ids, size_t count,
                         uint8_t receipts[32])
{
    wcrypto_hasher st, rc;
    wcrypto_hasher_init(&st, WCRYPTO_TAG_STATE);
    wcrypto_hasher_update(&st, nd->state_root, 32);
    wcrypto_hasher_init(&rc, WCRYPTO_TAG_RECEIPT);
    for (size_t i = 0; i < count; i++) {
        uint8_t status = 1;
        if (ids[i] == 0 || set_has(&nd->applied, ids[i])) {
            status = 5;
        } else {
            set_add(&nd->applied, ids[i]);
            wcrypto_hasher_update(&st, &ids[i], 8);
        }
        wcrypto_hasher_update(&rc, &ids[i], 8);
        wcrypto_hasher_update(&rc, &status, 1);
    }
    wcrypto_hasher_final(&st, nd->state_root);
    wcrypto_hasher_final(&rc, receipts);
}

/* Ledger mode: the node's ledger applies the certified block, as
 * node/replica.c does. A correct ledger refusing a block a correct replica
 * delivered is the failure this mode exists to catch (the node would stop
 * rather than diverge). False when it refused. */
static bool ledger_execute(sim *s, node *nd, const pbft_action *a,
                           const uint64_t *ids, size_t count,
                           uint8_t receipts[32])
{
    uint8_t *cb;
    size_t cs;
    Witan__CommitCertificate *cert = NULL;
    if (pbft_cert_encode(a->cert, &cb, &cs) == 0) {
        cert = witan__commit_certificate__unpack(NULL, cs, cb);
        free(cb);
    }
    WITAN_ASSERT(cert != NULL);
    bool validated = false;
    for (size_t i = 0; i < VALIDATED_RING; i++)
        validated = validated || memcmp(nd->validated[i], a->block_hash, 32) == 0;
    struct ledger_apply_stats st;
    char why[LEDGER_WHY_SIZE];
    int err = ledger_block_apply(nd->l, a->data.data, a->data.size, cert,
                                 !validated, NULL, &st, why, sizeof why);
    witan__commit_certificate__free_unpacked(cert, NULL);
    if (err) {
        if (correct(nd))
            fail(s, "LEDGER: node %u cannot apply certified block %llu: %s "
                    "(%s)",
                 nd->index, (unsigned long long)a->height, why,
                 witan_err_name(err));
        else
            crash_node(s, nd); /* a faulty node's chain is its own problem */
        return false;
    }
    for (size_t i = 0; i < count; i++)
        if (ids[i] != 0)
            set_add(&nd->applied, ids[i]);
    memcpy(nd->state_root, st.state_root, 32);
    memcpy(receipts, st.receipts_root, 32);
    return true;
}

static void reconfig_decide(sim *s, uint64_t b);
static void hand_change(sim *s, node *nd);

static void do_deliver(sim *s, node *nd, const pbft_action *a)
{
    uint64_t h = a->height;
    /* A node whose core could not take a change executes nothing past
     * its E (its ledger would refuse the old set's certificates there): it
     * waits to be restored from a copy. */
    if (nd->restore_due && h > nd->restore_to) {
        trace(s, "n%u leaves block %llu for its restore", nd->index,
              (unsigned long long)h);
        return;
    }
    if (h != nd->block_count + 1) {
        fail(s, "node %u: delivered height %llu after %zu", nd->index,
             (unsigned long long)h, nd->block_count);
        return;
    }
    /* Validity: a valid certificate for this hash by the validator set in
     * force at h, over a block its view's primary proposed. */
    const struct vrec *vs = &s->sets[set_index_at(s, h)];
    uint8_t hh[32];
    if (pbft_block_hash(a->data.data, a->data.size, hh) != 0 ||
        memcmp(hh, a->block_hash, 32) != 0 ||
        memcmp(a->cert->block_hash, hh, 32) != 0 || a->cert->height != h ||
        pbft_cert_verify(SIMCHAIN_ID, s->c.sig_scheme, vs->keys, vs->n,
                         a->cert) != 0) {
        if (correct(nd))
            fail(s, "node %u: block %llu delivered without a valid certificate"
                    " of the set in force from %llu (signers %llx of %u, "
                    "view %llu)",
                 nd->index, (unsigned long long)h,
                 (unsigned long long)vs->from,
                 (unsigned long long)a->cert->signers, vs->n,
                 (unsigned long long)a->cert->view);
        return;
    }
    /* A validator removed (or a key rotated away) at E delivers nothing
     * past E. */
    /* (A rotated node holds its newest key, or has handed it to its core,
     * which takes it up at the switch; blocks below the switch are of
     * sets with its older keys.) */
    uint32_t place = set_place(vs, nd->index);
    bool key_held = place != UINT32_MAX &&
                    (vs->gens[place] <= nd->keygen ||
                     vs->gens[place] <= nd->handed_keygen);
    if (correct(nd) && !key_held)
        fail(s, "REMOVED: node %u (key %u) delivered block %llu, past its "
                "set (the set from %llu holds it not)",
             nd->index, nd->keygen, (unsigned long long)h,
             (unsigned long long)vs->from);
    if (correct(nd) && !set_has(&s->proposed, hash_key(hh)))
        fail(s, "node %u: block %llu was never proposed", nd->index,
             (unsigned long long)h);
    ensure_committed_cap(s, h);
    if (correct(nd)) {
        if (!s->have_committed[h]) {
            s->have_committed[h] = true;
            memcpy(s->committed[h], hh, 32);
            /* by the bytes: a rewrite outside the header keeps the block
             * hash, and the primary's own copy may commit under it */
            uint64_t key = s->mutant_count ? bytes_key(&(bytes){
                               (uint8_t *)a->data.data, a->data.size})
                                           : 0;
            for (size_t i = 0; i < s->mutant_count; i++)
                if (s->mutants[i].key == key)
                    s->mutated_committed[s->mutants[i].m]++;
        } else if (memcmp(s->committed[h], hh, 32) != 0) {
            fail(s, "AGREEMENT: node %u committed another block at height %llu",
                 nd->index, (unsigned long long)h);
        }
    }
    uint64_t *ids;
    size_t count;
    if (!block_txs(s, a->data.data, a->data.size, &ids, &count, false)) {
        fail(s, "node %u: committed block %llu does not decode", nd->index,
             (unsigned long long)h);
        return;
    }
    uint8_t receipts[32];
    bool executed = true;
    if (s->chain)
        executed = ledger_execute(s, nd, a, ids, count, receipts);
    else
        hash_execute(nd, ids, count, receipts);
    free(ids);
    if (!executed)
        return;
    if (correct(nd)) {
        if (!s->have_root[h]) {
            s->have_root[h] = true;
            memcpy(s->roots[h], nd->state_root, 32);
        } else if (memcmp(s->roots[h], nd->state_root, 32) != 0) {
            fail(s, "node %u: state root differs at height %llu", nd->index,
                 (unsigned long long)h);
        }
    }
    if (nd->block_count == nd->block_cap) {
        nd->block_cap = nd->block_cap ? nd->block_cap * 2 : 64;
        nd->blocks = realloc(nd->blocks, nd->block_cap * sizeof(stored_block));
        WITAN_ASSERT(nd->blocks != NULL);
    }
    stored_block *sb = &nd->blocks[nd->block_count++];
    sb->block = bytes_copy(a->data.data, a->data.size);
    memcpy(sb->hash, hh, 32);
    sb->cert = *a->cert;
    memcpy(sb->state_root, nd->state_root, 32);
    memcpy(sb->receipts_root, receipts, 32);
    Witan__Block *b = witan__block__unpack(NULL, a->data.size, a->data.data);
    Witan__BlockHeader *hd =
        b ? witan__block_header__unpack(NULL, b->header.len, b->header.data) : NULL;
    sb->time_ms = hd ? hd->time_ms : 0;
    nd->last_deliver_ms = s->now;
    if (correct(nd) &&
        (hd == NULL || hd->height != h || hd->proposer != hd->view % vs->n))
        fail(s, "node %u: block %llu was not proposed by its view's primary",
             nd->index, (unsigned long long)h);
    if (hd)
        witan__block_header__free_unpacked(hd, NULL);
    if (b)
        witan__block__free_unpacked(b, NULL);
    WITAN_ASSERT(wcrypto_history_append(&nd->hist, hh) == 0);
    pool_remove_applied(nd);
    trace(s, "n%u deliver h=%llu view=%llu %02x%02x", nd->index,
          (unsigned long long)h, (unsigned long long)a->cert->view, hh[0], hh[1]);
    if (s->c.reconfig) {
        /* The application decides changes at boundaries (the same for
         * every replica: a function of the seed and the chain), and the
         * node hands one to its core right after executing the block. */
        if (h % s->c.checkpoint_interval == 0 && h > s->decided_upto)
            reconfig_decide(s, h);
        hand_change(s, nd);
    }
    pbft_event ev = {0};
    ev.type = PBFT_EV_EXECUTED;
    ev.u.executed.height = h;
    memcpy(ev.u.executed.state_root, sb->state_root, 32);
    memcpy(ev.u.executed.receipts_root, receipts, 32);
    local_push(s, &ev, (bytes){0}, NULL, NULL);
    uint64_t pending = pending_requests(nd);
    if (pending != nd->last_request_count) {
        nd->last_request_count = pending;
        pbft_event r = {0};
        r.type = PBFT_EV_REQUESTS;
        r.u.request_count = pending;
        local_push(s, &r, (bytes){0}, NULL, NULL);
    }
}

/* The transactions root as the ledger defines it (ledger mode). */
static void ledger_root(const pbft_bytes *txs, size_t count, uint8_t root[32])
{
    const uint8_t **ptrs = calloc(count + 1, sizeof *ptrs);
    size_t *sizes = calloc(count + 1, sizeof *sizes);
    WITAN_ASSERT(ptrs != NULL && sizes != NULL);
    for (size_t i = 0; i < count; i++) {
        ptrs[i] = txs[i].data;
        sizes[i] = txs[i].size;
    }
    WITAN_ASSERT(ledger_txs_root(ptrs, sizes, count, root) == 0);
    free(ptrs);
    free(sizes);
}

static void do_build(sim *s, node *nd, const pbft_action *a)
{
    /* Transactions of this node's still-running proposals stay out, unless
     * that proposal's height was executed or is being rebuilt. */
    uint64_t exec = nd->block_count;
    size_t k = 0;
    for (size_t i = 0; i < nd->inflight_count; i++)
        if (nd->inflight_h[i] > exec && nd->inflight_h[i] < a->height) {
            nd->inflight_tx[k] = nd->inflight_tx[i];
            nd->inflight_h[k++] = nd->inflight_h[i];
        }
    nd->inflight_count = k;
    u64set busy = {0};
    for (size_t i = 0; i < nd->inflight_count; i++)
        set_add(&busy, nd->inflight_tx[i]);
    size_t cap = s->c.batch_max;
    uint8_t *raw = malloc(cap * TX_SIZE + 1);
    pbft_bytes *txs = calloc(cap + 1, sizeof(*txs));
    size_t count = 0;
    for (size_t i = 0; i < nd->pool_count && count < cap; i++) {
        uint64_t id = nd->pool[i];
        if (set_has(&busy, id) || set_has(&nd->applied, id))
            continue;
        if (s->chain) {
            txs[count] = simchain_tx(s->chain, id);
        } else {
            tx_bytes(id, raw + count * TX_SIZE);
            txs[count].data = raw + count * TX_SIZE;
            txs[count].size = TX_SIZE;
        }
        count++;
        if (nd->inflight_count == nd->inflight_cap) {
            nd->inflight_cap = nd->inflight_cap ? nd->inflight_cap * 2 : 64;
            nd->inflight_tx = realloc(nd->inflight_tx, nd->inflight_cap * 8);
            nd->inflight_h = realloc(nd->inflight_h, nd->inflight_cap * 8);
        }
        nd->inflight_tx[nd->inflight_count] = id;
        nd->inflight_h[nd->inflight_count++] = a->height;
    }
    free(busy.v);
    pbft_event ev = {0};
    ev.type = PBFT_EV_PROPOSAL;
    ev.u.proposal.height = a->height;
    ev.u.proposal.time_ms = (int64_t)s->now;
    if (s->chain)
        ledger_root(txs, count, ev.u.proposal.txs_root);
    else
        txs_root(txs, count, ev.u.proposal.txs_root);
    ev.u.proposal.txs = txs;
    ev.u.proposal.tx_count = (uint32_t)count;
    local_push(s, &ev, (bytes){raw, 0}, txs, NULL);
}

/* The verdict on a proposal: in ledger mode the ledger's one validity
 * function, as node/replica.c asks it (the core asks once the parent
 * executed, so the ledger's tip is the parent). */
static void do_validate(sim *s, node *nd, const pbft_action *a)
{
    bool ok;
    if (s->c.skip_validity) {
        ok = true;
    } else if (s->chain) {
        const struct ledger_check_opts opts = {.verify_signatures = true};
        char why[LEDGER_WHY_SIZE];
        int err = ledger_block_check(nd->l, a->data.data, a->data.size, &opts,
                                     why, sizeof why);
        ok = err == 0;
        if (ok)
            memcpy(nd->validated[nd->validated_next++ % VALIDATED_RING],
                   a->block_hash, 32);
        else
            trace(s, "n%u refuses proposal h=%llu: %s", nd->index,
                  (unsigned long long)a->height, why);
    } else {
        uint64_t *ids;
        size_t count;
        ok = block_txs(s, a->data.data, a->data.size, &ids, &count, true);
        if (ok)
            free(ids);
    }
    pbft_event ev = {0};
    ev.type = PBFT_EV_VERDICT;
    ev.u.verdict.height = a->height;
    memcpy(ev.u.verdict.block_hash, a->block_hash, 32);
    ev.u.verdict.valid = ok;
    local_push(s, &ev, (bytes){0}, NULL, NULL);
}

static void do_read(sim *s, node *nd, const pbft_action *a)
{
    uint64_t from = a->height;
    uint32_t count = a->count;
    if (from == 0 || from > nd->block_count)
        return;
    if (from + count - 1 > nd->block_count)
        count = (uint32_t)(nd->block_count - from + 1);
    pbft_certified_block *cbs = calloc(count, sizeof(*cbs));
    for (uint32_t i = 0; i < count; i++) {
        stored_block *sb = &nd->blocks[from - 1 + i];
        cbs[i].block.data = sb->block.data;
        cbs[i].block.size = sb->block.size;
        cbs[i].cert = &sb->cert;
    }
    pbft_event ev = {0};
    ev.type = PBFT_EV_BLOCKS_READ;
    ev.u.blocks_read.peer = a->to;
    ev.u.blocks_read.blocks = cbs;
    ev.u.blocks_read.count = count;
    local_push(s, &ev, (bytes){0}, NULL, cbs);
}

static void forward_pool(sim *s, node *nd, size_t count_max);

/* A correct replica never signs two messages that contradict each other,
 * whatever crashes and power losses it went through: evidence that a
 * replica holds against a correct one fails the run. (Indices are those
 * of the one set of a run without reconfiguration.) */
static void check_evidence(sim *s, node *nd)
{
    if (s->c.reconfig || nd->core == NULL)
        return;
    size_t n = pbft_evidence_count(nd->core);
    for (; nd->evidence_seen < n && !s->failed; nd->evidence_seen++) {
        const pbft_evidence *e = pbft_evidence_at(nd->core, nd->evidence_seen);
        for (uint32_t j = 0; j < s->n; j++)
            if (s->nodes[j].self == e->validator && correct(&s->nodes[j]))
                fail(s, "EQUIVOCATION: node %u holds two contradicting "
                        "messages of correct node %u",
                     nd->index, j);
    }
}

/* Carries out one Ready. Returns false when the node crashed midway. */
static bool carry_out(sim *s, node *nd)
{
    pbft_actions rd;
    pbft_ready(nd->core, &rd);
    for (size_t i = 0; i < rd.count && !s->failed; i++) {
        const pbft_action *a = &rd.actions[i];
        switch (a->type) {
        case PBFT_ACT_PERSIST:
            if (nd->crash_at_persist) {
                /* A power loss: this record, and the lazy ones written
                 * since the last sync, are lost with the rest of the
                 * Ready. */
                trace(s, "n%u power loss before a record is durable: %zu "
                         "lazy records lost",
                      nd->index, nd->record_count - nd->synced_records);
                for (size_t k = nd->synced_records; k < nd->record_count; k++)
                    free(nd->records[k].data);
                nd->record_count = nd->synced_records;
                nd->crash_at_persist = false;
                crash_node(s, nd);
                return false;
            }
            if (nd->record_count == nd->record_cap) {
                nd->record_cap = nd->record_cap ? nd->record_cap * 2 : 64;
                nd->records = realloc(nd->records, nd->record_cap * sizeof(bytes));
                WITAN_ASSERT(nd->records != NULL);
            }
            nd->records[nd->record_count++] = bytes_copy(a->data.data, a->data.size);
            if (!a->lazy)
                nd->synced_records = nd->record_count;
            break;
        case PBFT_ACT_SEND:
            if (s->c.trace) {
                struct peek p;
                if (peek_message(&(bytes){(uint8_t *)a->data.data, a->data.size},
                                 &p) &&
                    p.kind != PBFT_MSG_STATUS)
                    trace(s, "n%u send kind %u view %llu h %llu to %d", nd->index,
                          p.kind, (unsigned long long)p.view,
                          (unsigned long long)p.height,
                          a->to == PBFT_TO_ALL ? -1 : (int)a->to);
                free(p.block.data);
            }
            if (nd->byz == SIM_SILENT)
                break;
            if (nd->just_proposed) {
                struct peek p;
                if (peek_message(&(bytes){(uint8_t *)a->data.data, a->data.size},
                                 &p) &&
                    p.kind == PBFT_MSG_PRE_PREPARE) {
                    uint8_t hh[32];
                    if (pbft_block_hash(p.block.data, p.block.size, hh) == 0)
                        set_add(&s->proposed, hash_key(hh));
                    nd->just_proposed = false;
                }
                free(p.block.data);
            }
            if (nd->byz != SIM_CORRECT) {
                byz_send(s, nd, a->to, a->data.data, a->data.size);
                break;
            }
            if (a->to == PBFT_TO_ALL) {
                uint32_t kind = 0;
                if (s->filter_count) {
                    struct peek p;
                    if (peek_message(&(bytes){(uint8_t *)a->data.data,
                                              a->data.size},
                                     &p))
                        kind = p.kind;
                    free(p.block.data);
                }
                uint32_t set_n = node_set(s, nd)->n;
                for (uint32_t d = 0; d < set_n; d++)
                    net_send_one(s, nd->index, d, a->data.data, a->data.size, kind);
            } else {
                uint32_t kind = 0;
                if (s->filter_count) {
                    struct peek p;
                    if (peek_message(&(bytes){(uint8_t *)a->data.data,
                                              a->data.size},
                                     &p))
                        kind = p.kind;
                    free(p.block.data);
                }
                net_send_one(s, nd->index, a->to, a->data.data, a->data.size,
                             kind);
            }
            break;
        case PBFT_ACT_DELIVER:
            do_deliver(s, nd, a);
            break;
        case PBFT_ACT_BUILD:
            do_build(s, nd, a);
            break;
        case PBFT_ACT_VALIDATE:
            do_validate(s, nd, a);
            break;
        case PBFT_ACT_READ_BLOCKS:
            do_read(s, nd, a);
            break;
        case PBFT_ACT_SET_TIMER: {
            event e = {0};
            e.kind = E_TIMER;
            e.t = s->now + a->ms;
            e.to = nd->index;
            e.timer = a->timer;
            e.gen = ++nd->timer_gen[a->timer];
            push(s, e);
            break;
        }
        case PBFT_ACT_CANCEL_TIMER:
            nd->timer_gen[a->timer]++;
            break;
        case PBFT_ACT_STABLE:
            nd->synced_records = nd->record_count; /* node/driver.c stable */
            if (a->height > nd->stable_height) {
                nd->stable_height = a->height;
                memcpy(nd->stable_root, a->stable_root, 32);
                free(nd->stable_proof.data);
                nd->stable_proof = bytes_copy(a->data.data, a->data.size);
            }
            break;
        case PBFT_ACT_FORWARD:
            forward_pool(s, nd, FORWARD_COUNT_MAX);
            break;
        case PBFT_ACT_FORK:
            if (correct(nd))
                fail(s, "node %u: fork reported at height %llu", nd->index,
                     (unsigned long long)a->height);
            break;
        }
    }
    pbft_advance(nd->core);
    return true;
}

static void free_local(struct local_ev *l)
{
    free(l->hold.data);
    free(l->txs);
    free(l->cbs);
}

static void follow_set(sim *s, node *nd);

/* Steps one event into a node and runs every follow-up to quiescence: the
 * node's answers to the core's actions, then the count of waiting requests
 * whenever it changed. */
static void node_step(sim *s, node *nd, const pbft_event *first)
{
    if (!nd->up || s->failed)
        return;
    WITAN_ASSERT(s->local_count == 0);
    local_push(s, first, (bytes){0}, NULL, NULL);
    size_t head = 0;
    while (!s->failed && nd->up) {
        if (head == s->local_count) {
            uint64_t pending = pending_requests(nd);
            if (pending == nd->last_request_count)
                break;
            nd->last_request_count = pending;
            pbft_event r = {0};
            r.type = PBFT_EV_REQUESTS;
            r.u.request_count = pending;
            local_push(s, &r, (bytes){0}, NULL, NULL);
        }
        struct local_ev l = s->local[head++];
        nd->just_proposed = l.ev.type == PBFT_EV_PROPOSAL;
        int rc = pbft_step(nd->core, &l.ev);
        free_local(&l);
        if (rc != 0) {
            fail(s, "node %u: pbft_step failed: %s", nd->index,
                 witan_err_name(rc));
            break;
        }
        if (!carry_out(s, nd))
            break;
        check_evidence(s, nd);
        nd->just_proposed = false;
        if (head > 100000) {
            fail(s, "node %u: runaway local events", nd->index);
            break;
        }
    }
    for (; head < s->local_count; head++)
        free_local(&s->local[head]);
    s->local_count = 0;
    if (s->c.reconfig && nd->up && !s->failed)
        follow_set(s, nd);
}

/* --- lifecycle ------------------------------------------------------------------------- */

static void boot_node(sim *s, node *nd)
{
    if (s->chain && nd->l == NULL) {
        /* Reopened on every restart, as a node would. */
        nd->l = simchain_open(s->chain, nd->index);
        struct ledger_tip tip;
        ledger_tip(nd->l, &tip);
        if (tip.height != nd->block_count) {
            fail(s, "node %u: the ledger is at %llu, the store at %zu",
                 nd->index, (unsigned long long)tip.height, nd->block_count);
            return;
        }
    }
    /* The set in force for the next block, and the one before it for
     * older certificates (node/replica.c); a rotated key is taken up once
     * the node has executed the boundary. */
    uint32_t k = set_index_at(s, nd->block_count + 1);
    const struct vrec *vs = &s->sets[k];
    uint32_t self = set_place(vs, nd->index);
    if (self == UINT32_MAX) {
        nd->gone = true; /* removed: it never validates again */
        trace(s, "n%u stays down: not in the set from %llu", nd->index,
              (unsigned long long)vs->from);
        return;
    }
    if (vs->gens[self] != nd->keygen) {
        wcrypto_keypair_wipe(&nd->key);
        nd->keygen = vs->gens[self];
        node_key(nd->index, nd->keygen, &nd->key);
        trace(s, "n%u boots with key %u", nd->index, nd->keygen);
    }
    if (nd->records_gen != nd->keygen) {
        /* The records are another key's messages: the node discards them
         * (node/driver.c claim_records). */
        for (size_t i = 0; i < nd->record_count; i++)
            free(nd->records[i].data);
        nd->record_count = 0;
        nd->records_gen = nd->keygen;
    }
    if (s->c.reconfig && nd->record_count == 0 && nd->block_count > 0)
        nd->fresh_view = true;
    nd->self = self;
    nd->set_from_seen = vs->from;
    nd->handed_keygen = 0;
    pbft_config cfg = {0};
    cfg.chain_id = SIMCHAIN_ID;
    cfg.validator_count = vs->n;
    cfg.validators = vs->keys;
    cfg.self = self;
    cfg.key = &nd->key;
    if (k > 0) {
        cfg.set_from = vs->from;
        cfg.prev_validators = s->sets[k - 1].keys;
        cfg.prev_validator_count = s->sets[k - 1].n;
    }
    cfg.pipeline_depth = s->c.pipeline_depth;
    cfg.checkpoint_interval = s->c.checkpoint_interval;
    cfg.window = s->c.window;
    cfg.view_timeout_ms = s->c.view_timeout_ms;
    cfg.view_timeout_max_ms = s->c.view_timeout_max_ms;
    cfg.retransmit_ms = s->c.retransmit_ms;
    cfg.state_block_count = 16;
    cfg.sig_scheme = s->c.sig_scheme;
    cfg.txs_root = ledger_txs_root;
    cfg.test_flags = s->c.test_flags;
    pbft_boot boot = {0};
    boot.height = nd->block_count;
    boot.history = nd->hist;
    if (s->chain) { /* a fresh chain starts from the genesis */
        memcpy(boot.block_hash, simchain_genesis_hash(s->chain), 32);
        boot.time_ms = simchain_genesis_time(s->chain);
    }
    if (nd->block_count > 0) {
        stored_block *last = &nd->blocks[nd->block_count - 1];
        memcpy(boot.block_hash, last->hash, 32);
        boot.time_ms = last->time_ms;
    }
    pbft_result res[WITAN_PIPELINE_DEPTH_MAX];
    uint32_t rc_count = 0;
    uint64_t L = s->c.pipeline_depth;
    uint64_t first = nd->block_count > L ? nd->block_count - L + 1 : 1;
    for (uint64_t h = first; h <= nd->block_count; h++) {
        stored_block *sb = &nd->blocks[h - 1];
        pbft_result *x = &res[rc_count++];
        memset(x, 0, sizeof(*x));
        x->height = h;
        memcpy(x->block_hash, sb->hash, 32);
        memcpy(x->state_root, sb->state_root, 32);
        memcpy(x->receipts_root, sb->receipts_root, 32);
        x->time_ms = sb->time_ms;
        x->cert = sb->cert;
    }
    boot.results = res;
    boot.result_count = rc_count;
    pbft_bytes proof[64];
    uint32_t pc = 0;
    if (nd->stable_height > 0 && nd->stable_height <= nd->block_count) {
        boot.stable_height = nd->stable_height;
        memcpy(boot.stable_state_root, nd->stable_root, 32);
        size_t o = 0;
        const uint8_t *d = nd->stable_proof.data;
        while (o + 4 <= nd->stable_proof.size && pc < 64) {
            uint32_t len = (uint32_t)d[o] << 24 | (uint32_t)d[o + 1] << 16 |
                           (uint32_t)d[o + 2] << 8 | d[o + 3];
            proof[pc].data = d + o + 4;
            proof[pc].size = len;
            pc++;
            o += 4 + len;
        }
        boot.stable_proof = proof;
        boot.stable_proof_count = pc;
    }
    /* As node/records.c reads its log: without the records about a height
     * at or below the stable checkpoint. */
    pbft_bytes *recs = calloc(nd->record_count ? nd->record_count : 1,
                              sizeof(*recs));
    size_t kept = 0;
    for (size_t i = 0; i < nd->record_count; i++) {
        uint64_t h = record_height(&nd->records[i]);
        if (h != 0 && h <= nd->stable_height)
            continue;
        recs[kept].data = nd->records[i].data;
        recs[kept++].size = nd->records[i].size;
    }
    boot.records = recs;
    boot.record_count = kept;
    int rc = pbft_new(&cfg, &boot, &nd->core);
    free(recs);
    nd->evidence_seen = 0;
    if (rc != 0) {
        fail(s, "node %u: pbft_new failed: %s", nd->index, witan_err_name(rc));
        return;
    }
    nd->up = true;
    nd->last_request_count = UINT64_MAX;
    s->last_boot_ms = s->now;
    /* A node that executed B before it stopped hands the change at start:
     * its core may propose up to L past its tip on its first step. (The
     * node, node/replica.c, hands it only after its next execution.) */
    if (s->c.reconfig)
        hand_change(s, nd);
    if (!carry_out(s, nd))
        return;
    /* Answers to actions of the boot (VALIDATEs of a replayed new view)
     * and the pool count, through an empty request-count event. */
    struct local_ev *pending = s->local;
    size_t count = s->local_count;
    s->local = NULL;
    s->local_count = s->local_cap = 0;
    pbft_event ev = {0};
    ev.type = PBFT_EV_REQUESTS;
    ev.u.request_count = pending_requests(nd);
    nd->last_request_count = ev.u.request_count;
    node_step(s, nd, &ev);
    for (size_t i = 0; i < count; i++) {
        node_step(s, nd, &pending[i].ev);
        free_local(&pending[i]);
    }
    free(pending);
}

static void stop_node(node *nd)
{
    pbft_free(nd->core);
    nd->core = NULL;
    nd->up = false;
    for (int t = 0; t < PBFT_TIMER_COUNT; t++)
        nd->timer_gen[t]++;
    nd->inflight_count = 0;
    nd->crash_at_persist = false;
}

/* A node's pool goes to the validators of the newest set: a client whose
 * validator left sends its requests again to another. */
static bool counted(const sim *s, const node *nd);
static void pool_move(sim *s, node *from)
{
    for (uint32_t i = 0; i < s->n; i++) {
        node *to = &s->nodes[i];
        if (to == from || !counted(s, to))
            continue;
        for (size_t k = 0; k < from->pool_count; k++)
            if (correct(from) && set_has(&s->submitted, from->pool[k]))
                pool_add(to, from->pool[k]);
    }
}

/* After each step (node/replica.c follow_set): when the core switched
 * sets, the node links to the new one; a node whose key is not in it
 * stops. A removed one stays down; a rotated one is restarted with its
 * new key (reconfig_tick). */
static void follow_set(sim *s, node *nd)
{
    uint64_t from = pbft_set_from(nd->core);
    if (from == nd->set_from_seen)
        return;
    nd->set_from_seen = from;
    struct vrec *vs = &s->sets[set_index_from(s, from)];
    if (vs->view_at_switch == 0) {
        uint64_t v = 0;
        for (uint32_t i = 0; i < s->n; i++)
            if (s->nodes[i].up && correct(&s->nodes[i]) &&
                pbft_view(s->nodes[i].core) > v)
                v = pbft_view(s->nodes[i].core);
        vs->view_at_switch = v + 1;
    }
    if (pbft_is_member(nd->core)) {
        uint32_t place = set_place(vs, nd->index);
        WITAN_ASSERT(place != UINT32_MAX);
        if (vs->gens[place] != nd->keygen) {
            /* rotated: the node signs with its next key from now on, and
             * its consensus records stay its own (node/replica.c) */
            wcrypto_keypair_wipe(&nd->key);
            nd->keygen = vs->gens[place];
            node_key(nd->index, nd->keygen, &nd->key);
            nd->records_gen = nd->keygen;
            s->hot_rotations++;
            trace(s, "n%u takes up key %u", nd->index, nd->keygen);
        }
        nd->self = set_key_place(vs, &nd->key.pub);
        WITAN_ASSERT(nd->self == place);
        trace(s, "n%u switches to the set from %llu as %u", nd->index,
              (unsigned long long)from, nd->self);
        return;
    }
    stop_node(nd);
    if (set_place(vs, nd->index) == UINT32_MAX) {
        nd->gone = true;
        pool_move(s, nd);
        trace(s, "n%u removed: stops at the set from %llu (height %zu)",
              nd->index, (unsigned long long)from, nd->block_count);
    } else {
        nd->restart_due = true;
        trace(s, "n%u rotated: stops at the set from %llu (height %zu)",
              nd->index, (unsigned long long)from, nd->block_count);
    }
}

static void crash_node(sim *s, node *nd)
{
    if (!nd->up)
        return;
    pbft_free(nd->core);
    nd->core = NULL;
    nd->up = false;
    for (int t = 0; t < PBFT_TIMER_COUNT; t++)
        nd->timer_gen[t]++;
    nd->inflight_count = 0;
    nd->crash_at_persist = false;
    ledger_close(nd->l);
    nd->l = NULL;
    s->crashes++;
    trace(s, "n%u crash", nd->index);
}

/* --- reconfiguration ----------------------------------------------------------------- */

/* Counted by the liveness checks: a node of the newest set, not removed. */
static bool counted(const sim *s, const node *nd)
{
    if (!s->c.reconfig)
        return true;
    return !nd->gone &&
           set_place(&s->sets[s->set_count - 1], nd->index) != UINT32_MAX;
}

/* The application's decision at boundary b (spec/governance.md section
 * 12), a function of the seed and of the chain's sets alone, so every
 * replica makes the same: with RECONFIG_PERMILLE, one change to the
 * newest set (a pending one included), in force from E + 1 with E the
 * first multiple of K at or above max(B, P) + L + 1. */
static void reconfig_decide(sim *s, uint64_t b)
{
    s->decided_upto = b;
    uint64_t st = s->c.seed * 0xa0761d6478bd642full ^ b * 0xe7037ed1a0b428dbull;
    if (!rng_permille(&st, RECONFIG_PERMILLE) || s->set_count == SETS_MAX)
        return;
    const struct vrec *last = &s->sets[s->set_count - 1];
    uint64_t K = s->c.checkpoint_interval, L = s->c.pipeline_depth;
    uint64_t p = last->from ? last->from - 1 : 0;
    uint64_t m = (b > p ? b : p) + L + 1;
    uint64_t e = (m + K - 1) / K * K;
    struct vrec nv = *last;
    nv.from = e + 1;
    nv.enacted = b;
    nv.view_at_switch = 0; /* set at its first switch, not inherited */
    uint32_t byz = 0;
    for (uint32_t i = 0; i < nv.n; i++)
        byz += !correct(&s->nodes[nv.ids[i]]);
    const char *what;
    uint32_t who;
    switch (rng_below(&st, 3)) {
    case 0: { /* add a fresh node */
        if (s->n >= NMAX || nv.n >= NMAX)
            return;
        who = s->n++;
        node *nd = &s->nodes[who];
        memset(nd, 0, sizeof *nd);
        nd->index = who;
        nd->self = nv.n;
        node_key(who, 0, &nd->key);
        wcrypto_history_init(&nd->hist);
        nd->added = nd->joining = true;
        nd->join_e = e;
        nv.ids[nv.n] = who;
        nv.gens[nv.n] = 0;
        nv.keys[nv.n] = nd->key.pub;
        nv.n++;
        s->adds++;
        what = "add";
        break;
    }
    case 1: { /* remove one, keeping n >= 4 and the faulty within f */
        uint32_t j = (uint32_t)rng_below(&st, nv.n);
        who = nv.ids[j];
        uint32_t byz_after = byz - !correct(&s->nodes[who]);
        if (nv.n < 5 || byz_after > pbft_faults(nv.n - 1))
            return;
        for (uint32_t i = j; i + 1 < nv.n; i++) {
            nv.ids[i] = nv.ids[i + 1];
            nv.gens[i] = nv.gens[i + 1];
            nv.keys[i] = nv.keys[i + 1];
        }
        nv.n--;
        s->removes++;
        what = "remove";
        break;
    }
    default: { /* rotate one's key */
        uint32_t j = (uint32_t)rng_below(&st, nv.n);
        who = nv.ids[j];
        wcrypto_keypair kp;
        node_key(who, ++nv.gens[j], &kp);
        nv.keys[j] = kp.pub;
        wcrypto_keypair_wipe(&kp);
        s->rotations++;
        what = "rotate";
        break;
    }
    }
    s->sets[s->set_count++] = nv;
    trace(s, "boundary %llu: %s n%u, %u validators from %llu",
          (unsigned long long)b, what, who, nv.n,
          (unsigned long long)nv.from);
}

/* After an execution (governance.md section 12): the change that follows
 * the set the core runs with, once this node executed the boundary that
 * enacted it and the core holds no other. */
static void hand_change(sim *s, node *nd)
{
    if (!nd->up || pbft_change_pending(nd->core))
        return;
    uint32_t cur = set_index_from(s, pbft_set_from(nd->core));
    if (cur + 1 >= s->set_count)
        return;
    const struct vrec *nv = &s->sets[cur + 1];
    if (nv->enacted > nd->block_count)
        return;
    /* A rotated node has its next key at hand (validator.next.key), and
     * its core takes it up at the switch. */
    uint32_t self = set_key_place(nv, &nd->key.pub);
    uint32_t place = set_place(nv, nd->index);
    wcrypto_keypair next;
    bool rotated = self == UINT32_MAX && place != UINT32_MAX;
    if (rotated) {
        node_key(nd->index, nv->gens[place], &next);
        self = place;
    }
    int rc = pbft_set_validators(nd->core, nv->from, nv->keys, nv->n, self,
                                 rotated ? &next : NULL);
    if (rotated)
        wcrypto_keypair_wipe(&next);
    if (rotated && rc == 0)
        nd->handed_keygen = nv->gens[place];
    if (rc == WITAN_ESTATE)
        return;
    uint64_t top = 0;
    for (uint64_t h = 1; h < s->committed_cap && s->have_committed[h]; h++)
        top = h;
    if (rc == WITAN_ERANGE && (pbft_stable_height(nd->core) + 1 > nv->from ||
                               pbft_delivered_height(nd->core) >= nv->from ||
                               top + 1 >= nv->from)) {
        /* The limit of the timing rule: a lagging replica made a
         * checkpoint past E stable (from its peers' checkpoints), or its
         * core delivered past E (a state-transfer batch, delivered before
         * the node executes it), or took a new view that re-proposed
         * heights past E (its core counts them as proposed), before the
         * node executed B, while the chain had passed E; its core can no
         * longer take the change and cannot follow the chain past E. The
         * operator restores it from a copy (reconfig_tick), as a validator
         * that lagged behind a boundary (governance.md section 12). */
        trace(s, "n%u cannot take the set from %llu at height %zu (stable "
                 "%llu): restored from a copy",
              nd->index, (unsigned long long)nv->from, nd->block_count,
              (unsigned long long)pbft_stable_height(nd->core));
        nd->restore_due = true;
        nd->restore_to = nv->from - 1;
        s->timing_copies++;
        return;
    }
    if (rc != 0) {
        fail(s, "TIMING: node %u cannot take the set from %llu (enacted at "
                "%llu) after executing %zu (stable %llu, delivered %llu): %s",
             nd->index, (unsigned long long)nv->from,
             (unsigned long long)nv->enacted, nd->block_count,
             (unsigned long long)pbft_stable_height(nd->core),
             (unsigned long long)pbft_delivered_height(nd->core),
             witan_err_name(rc));
        return;
    }
    trace(s, "n%u takes the set from %llu at height %zu", nd->index,
          (unsigned long long)nv->from, nd->block_count);
}

/* A copy of src's database with its consensus records discarded
 * (`witan node backup`, governance.md section 12). */
static void copy_state(node *dst, const node *src)
{
    for (size_t k = 0; k < dst->record_count; k++)
        free(dst->records[k].data);
    dst->record_count = 0;
    for (size_t k = 0; k < dst->block_count; k++)
        free(dst->blocks[k].block.data);
    dst->block_count = 0;
    if (dst->block_cap < src->block_count) {
        dst->block_cap = src->block_count;
        dst->blocks = realloc(dst->blocks, dst->block_cap * sizeof(stored_block));
        WITAN_ASSERT(dst->blocks != NULL);
    }
    for (size_t k = 0; k < src->block_count; k++) {
        dst->blocks[k] = src->blocks[k];
        dst->blocks[k].block =
            bytes_copy(src->blocks[k].block.data, src->blocks[k].block.size);
    }
    dst->block_count = src->block_count;
    dst->hist = src->hist;
    memcpy(dst->state_root, src->state_root, 32);
    free(dst->applied.v);
    dst->applied = src->applied;
    dst->applied.v = calloc(src->applied.cap ? src->applied.cap : 1, 8);
    WITAN_ASSERT(dst->applied.v != NULL);
    if (src->applied.cap)
        memcpy(dst->applied.v, src->applied.v, src->applied.cap * 8);
    dst->stable_height = src->stable_height;
    memcpy(dst->stable_root, src->stable_root, 32);
    free(dst->stable_proof.data);
    dst->stable_proof =
        bytes_copy(src->stable_proof.data, src->stable_proof.size);
    dst->inflight_count = 0;
    pool_remove_applied(dst);
}

/* Another correct node that is up and holds checkpoint e (or a later one)
 * stable, to copy from. A copy taken after the donor executed E but before
 * E was stable there boots with a stable checkpoint of the set before the
 * old one, whose proof no replica of the new set can check: its view
 * changes, and a new view it makes, are refused by all (found with seed 55
 * n=5), so the operator copies a database whose checkpoint is E or later. */
static const node *donor(const sim *s, const node *self, uint64_t e)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const node *d = &s->nodes[i];
        if (d != self && d->up && correct(d) && d->block_count >= e &&
            d->stable_height >= e)
            return d;
    }
    return NULL;
}

/* Added nodes start from a copy taken at or after their E; a rotated node
 * restarts with its new key once it has executed E, and one that stopped
 * behind E (it cannot start: its new key is not in the set in force for
 * its next block, its old one not in the set it must switch to) from a
 * copy too. */
static void reconfig_tick(sim *s)
{
    if (s->reconfig_busy || s->failed)
        return;
    s->reconfig_busy = true;
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        node *nd = &s->nodes[i];
        if (nd->joining) {
            const node *d = donor(s, nd, nd->join_e);
            if (d == NULL)
                continue;
            copy_state(nd, d);
            nd->joining = false;
            nd->joined = true;
            trace(s, "n%u joins from a copy of n%u at height %zu", i,
                  d->index, nd->block_count);
            boot_node(s, nd);
            event e = {0};
            e.kind = E_GOSSIP;
            e.to = i;
            e.t = s->now + GOSSIP_MS;
            push(s, e);
        } else if (nd->restore_due) {
            /* the newest set in force at a correct donor's height */
            const node *d = donor(s, nd, nd->restore_to);
            if (d == NULL)
                continue;
            if (nd->up)
                stop_node(nd);
            copy_state(nd, d);
            nd->restore_due = false;
            trace(s, "n%u restored from a copy of n%u at height %zu", i,
                  d->index, nd->block_count);
            boot_node(s, nd);
        } else if (nd->restart_due && !nd->up) {
            uint64_t e = nd->set_from_seen - 1;
            if (nd->block_count < e) {
                const node *d = donor(s, nd, e);
                if (d == NULL)
                    continue;
                copy_state(nd, d);
                s->rotate_copies++;
                trace(s, "n%u restarts from a copy of n%u at height %zu", i,
                      d->index, nd->block_count);
            }
            nd->restart_due = false;
            boot_node(s, nd);
        }
    }
    s->reconfig_busy = false;
}

void sim_config_default(sim_config *c)
{
    memset(c, 0, sizeof(*c));
    c->seed = 1;
    c->n = 4;
    c->pipeline_depth = 2;
    c->checkpoint_interval = 8;
    c->batch_max = 8;
    c->sig_scheme = PBFT_SIG_TEST_HASH;
    c->view_timeout_ms = 400;
    c->view_timeout_max_ms = 6400;
    c->retransmit_ms = 500;
}

sim *sim_new(const sim_config *c)
{
    WITAN_ASSERT(c->n >= 1 && c->n <= NMAX);
    WITAN_ASSERT(wcrypto_init() == 0);
    sim *s = calloc(1, sizeof(*s));
    WITAN_ASSERT(s != NULL);
    s->c = *c;
    s->n = c->n;
    s->rng = c->seed * 0x2545f4914f6cdd1dull + 17;
    s->dmin = 1;
    s->dmax = 10;
    s->next_tx = 1;
    s->forced = SIMCHAIN_M_COUNT;
    if (c->ledger)
        s->c.sig_scheme = PBFT_SIG_ED25519; /* the ledger checks Ed25519 */
    WITAN_ASSERT(!(c->reconfig && c->ledger));
    s->set_count = 1;
    s->sets[0].n = s->n;
    for (uint32_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        nd->index = i;
        nd->self = i;
        node_key(i, 0, &nd->key);
        s->pubs[i] = nd->key.pub;
        s->sets[0].ids[i] = i;
        s->sets[0].keys[i] = nd->key.pub;
        wcrypto_history_init(&nd->hist);
    }
    if (c->ledger)
        s->chain = simchain_new(s->n, s->pubs, c->pipeline_depth,
                                c->checkpoint_interval);
    for (uint32_t i = 0; i < s->n; i++) {
        boot_node(s, &s->nodes[i]);
        event e = {0};
        e.kind = E_GOSSIP;
        e.to = i;
        e.t = GOSSIP_MS + rng_below(&s->rng, GOSSIP_MS);
        push(s, e);
    }
    return s;
}

void sim_free(sim *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        pbft_free(nd->core);
        ledger_close(nd->l);
        for (size_t k = 0; k < nd->record_count; k++)
            free(nd->records[k].data);
        free(nd->records);
        for (size_t k = 0; k < nd->block_count; k++)
            free(nd->blocks[k].block.data);
        free(nd->blocks);
        free(nd->applied.v);
        free(nd->pooled.v);
        free(nd->pool);
        free(nd->inflight_tx);
        free(nd->inflight_h);
        free(nd->stable_proof.data);
        for (int k = 0; k < REPLAY_RING; k++)
            free(nd->replay[k].data);
        wcrypto_keypair_wipe(&nd->key);
    }
    for (size_t i = 0; i < s->heap_count; i++)
        free(s->heap[i].data.data);
    free(s->heap);
    free(s->committed);
    free(s->roots);
    free(s->have_committed);
    free(s->have_root);
    free(s->proposed.v);
    free(s->submitted.v);
    free(s->local);
    free(s->mutants);
    simchain_free(s->chain);
    free(s);
}

static void handle(sim *s, event *e)
{
    node *nd = &s->nodes[e->to];
    switch (e->kind) {
    case E_MSG: {
        if (!nd->up)
            break;
        if (nd->byz == SIM_REPLAY)
            byz_remember(nd, e->data.data, e->data.size);
        pbft_event ev = {0};
        ev.type = PBFT_EV_MESSAGE;
        ev.u.message.data = e->data.data;
        ev.u.message.size = e->data.size;
        pbft_stats before;
        if (s->c.trace)
            pbft_get_stats(nd->core, &before);
        node_step(s, nd, &ev);
        if (s->c.trace && nd->up) {
            pbft_stats after;
            pbft_get_stats(nd->core, &after);
            struct peek p;
            bool ok = peek_message(&e->data, &p);
            free(p.block.data);
            for (int k = 0; k < PBFT_DROP_COUNT; k++)
                if (after.dropped[k] != before.dropped[k])
                    trace(s, "n%u dropped kind %u view %llu from n%u: %s", e->to,
                          ok ? p.kind : 0, (unsigned long long)p.view, e->from,
                          pbft_drop_name((enum pbft_drop)k));
        }
        break;
    }
    case E_TIMER: {
        if (!nd->up || e->gen != nd->timer_gen[e->timer])
            break;
        pbft_event ev = {0};
        ev.type = PBFT_EV_TIMER;
        ev.u.timer = (enum pbft_timer)e->timer;
        if (e->timer == PBFT_TIMER_VIEW)
            trace(s, "n%u view timer (view %llu)", nd->index,
                  (unsigned long long)pbft_view(nd->core));
        node_step(s, nd, &ev);
        break;
    }
    case E_GOSSIP: {
        event g = {0};
        g.kind = E_GOSSIP;
        g.to = e->to;
        g.t = s->now + GOSSIP_MS;
        push(s, g);
        if (!nd->up || nd->byz != SIM_CORRECT || s->gossip_off)
            break;
        forward_pool(s, nd, 64);
        break;
    }
    case E_TXFWD: {
        if (!nd->up)
            break;
        const uint64_t *ids = (const uint64_t *)e->data.data;
        size_t before = nd->pool_count;
        for (size_t i = 0; i < e->data.size / 8; i++)
            pool_add(nd, ids[i]);
        if (nd->pool_count != before) {
            pbft_event ev = {0};
            ev.type = PBFT_EV_REQUESTS;
            ev.u.request_count = pending_requests(nd);
            nd->last_request_count = ev.u.request_count;
            node_step(s, nd, &ev);
        }
        break;
    }
    }
}

/* The first count_max requests of nd's pool to every peer it can reach. */
static void forward_pool(sim *s, node *nd, size_t count_max)
{
    if (nd->pool_count == 0)
        return;
    size_t count = nd->pool_count < count_max ? nd->pool_count : count_max;
    for (uint32_t d = 0; d < s->n; d++) {
        if (d == nd->index)
            continue;
        if (s->partitioned &&
            ((s->side_a >> d) & 1) != ((s->side_a >> nd->index) & 1))
            continue;
        if (rng_permille(&s->rng, s->drop_pm))
            continue;
        event f = {0};
        f.kind = E_TXFWD;
        f.to = d;
        f.t = s->now + s->dmin + rng_below(&s->rng, s->dmax - s->dmin + 1);
        f.data = bytes_copy(nd->pool, count * 8);
        push(s, f);
    }
}

void sim_set_gossip(sim *s, bool on)
{
    s->gossip_off = !on;
}

bool sim_views_agree(const sim *s, uint64_t *view)
{
    bool any = false;
    /* A replica started without records (from a copy, or with a new key)
     * is in view 0 until a view change its set can prove: the NewView that
     * began the others' view, made before the change, is signed by the old
     * set (a limit of the design, counted in views_waiting). */
    uint64_t top_view = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const node *nd = &s->nodes[i];
        if (nd->up && correct(nd) && counted(s, nd) &&
            pbft_view(nd->core) > top_view)
            top_view = pbft_view(nd->core);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        const node *nd = &s->nodes[i];
        if (!nd->up || nd->byz != SIM_CORRECT || !counted(s, nd))
            continue;
        /* Likewise a replica below a view that began before the set it
         * runs with came in force: the view's NewView, which the others
         * send it to join, is signed by an earlier set. */
        const struct vrec *vs = node_set(s, nd);
        bool old_view = vs->view_at_switch != 0 &&
                        top_view + 1 <= vs->view_at_switch;
        if ((nd->fresh_view || old_view) && pbft_view(nd->core) < top_view) {
            ((sim *)s)->views_waiting++;
            continue;
        }
        uint64_t v = pbft_view(nd->core);
        if (any && v != *view)
            return false;
        *view = v;
        any = true;
    }
    return any;
}

bool sim_run_until(sim *s, uint64_t t_ms)
{
    while (!s->failed && s->heap_count > 0 && s->heap[0].t <= t_ms) {
        event e = pop(s);
        s->now = e.t;
        handle(s, &e);
        free(e.data.data);
        if (s->c.reconfig)
            reconfig_tick(s);
    }
    if (!s->failed)
        s->now = t_ms;
    return !s->failed;
}

uint64_t sim_now(const sim *s)
{
    return s->now;
}

void sim_submit(sim *s, uint32_t node_index, uint32_t count)
{
    /* Clients send to a validator of the newest set. */
    for (uint32_t k = 0; k < s->n && (!counted(s, &s->nodes[node_index]) ||
                                      s->nodes[node_index].joining);
         k++)
        node_index = (node_index + 1) % s->n;
    node *nd = &s->nodes[node_index];
    s->last_submit_ms = s->now;
    trace(s, "n%u submit %u requests from id %llu", node_index, count,
          (unsigned long long)s->next_tx);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t id = s->next_tx++;
        if (correct(nd))
            set_add(&s->submitted, id);
        pool_add(nd, id);
    }
    if (nd->up) {
        pbft_event ev = {0};
        ev.type = PBFT_EV_REQUESTS;
        ev.u.request_count = pending_requests(nd);
        nd->last_request_count = ev.u.request_count;
        node_step(s, nd, &ev);
    }
}

void sim_crash(sim *s, uint32_t i, bool lose_unpersisted)
{
    node *nd = &s->nodes[i];
    if (lose_unpersisted && nd->up) {
        /* The node dies in the middle of its next Ready, just before a
         * record reaches the disk: that record and everything after it in
         * the Ready (its sends) are lost. */
        nd->crash_at_persist = true;
        return;
    }
    crash_node(s, nd);
}

void sim_restart(sim *s, uint32_t i)
{
    node *nd = &s->nodes[i];
    if (nd->up || nd->gone || nd->joining || nd->restart_due)
        return;
    trace(s, "n%u restart (height %zu, %zu records)", i, nd->block_count,
          nd->record_count);
    boot_node(s, nd);
}

void sim_set_byzantine(sim *s, uint32_t i, enum sim_byz kind)
{
    s->nodes[i].byz = kind;
}

void sim_force_mutation(sim *s, enum simchain_mutation m)
{
    s->forced = m;
}

void sim_partition(sim *s, uint64_t side_a)
{
    s->partitioned = true;
    s->side_a = side_a;
    trace(s, "partition %llx", (unsigned long long)side_a);
}

void sim_calm(sim *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        s->nodes[i].crash_at_persist = false;
}

void sim_heal(sim *s)
{
    s->partitioned = false;
    trace(s, "heal");
}

void sim_set_network(sim *s, uint32_t drop_pm, uint32_t dup_pm, uint32_t dmin,
                     uint32_t dmax)
{
    s->drop_pm = drop_pm;
    s->dup_pm = dup_pm;
    s->dmin = dmin;
    s->dmax = dmax < dmin ? dmin : dmax;
}

void sim_filter(sim *s, uint32_t kind, uint64_t from, uint64_t to)
{
    if (s->filter_count < 8)
        s->filters[s->filter_count++] = (struct filter){kind, from, to};
}

void sim_clear_filters(sim *s)
{
    s->filter_count = 0;
}

bool sim_failed(const sim *s, const char **why)
{
    if (why)
        *why = s->why;
    return s->failed;
}

uint64_t sim_delivered(const sim *s, uint32_t i)
{
    return s->nodes[i].block_count;
}

uint64_t sim_view(const sim *s, uint32_t i)
{
    return s->nodes[i].up ? pbft_view(s->nodes[i].core) : 0;
}

uint64_t sim_stable(const sim *s, uint32_t i)
{
    return s->nodes[i].up ? pbft_stable_height(s->nodes[i].core) : 0;
}

bool sim_is_up(const sim *s, uint32_t i)
{
    return s->nodes[i].up;
}

uint32_t sim_n(const sim *s)
{
    return s->n;
}

uint64_t sim_messages(const sim *s)
{
    return s->messages;
}

void sim_get_stats(const sim *s, uint32_t i, pbft_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (s->nodes[i].up)
        pbft_get_stats(s->nodes[i].core, out);
}

bool sim_requests_done(const sim *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const node *nd = &s->nodes[i];
        if (!correct(nd) || !nd->up || !counted(s, nd))
            continue;
        for (size_t k = 0; k < s->submitted.cap; k++) {
            uint64_t id = s->submitted.v[k];
            if (id != 0 && !set_has(&nd->applied, id))
                return false;
        }
    }
    return true;
}

bool sim_check_requests(sim *s)
{
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        node *nd = &s->nodes[i];
        if (!correct(nd) || !nd->up || !counted(s, nd))
            continue;
        for (size_t k = 0; k < s->submitted.cap; k++) {
            uint64_t id = s->submitted.v[k];
            if (id != 0 && !set_has(&nd->applied, id)) {
                fail(s, "LIVENESS: request %llu not committed at node %u "
                        "(height %zu, view %llu)",
                     (unsigned long long)id, i, nd->block_count,
                     (unsigned long long)pbft_view(nd->core));
                break;
            }
        }
    }
    return !s->failed;
}

void sim_restore_stuck(sim *s)
{
    if (!s->c.reconfig)
        return;
    uint64_t top = 0;
    for (uint64_t h = 1; h < s->committed_cap && s->have_committed[h]; h++)
        top = h;
    /* the set of the chain's next height: a change comes in force once
     * the chain reached its E */
    uint32_t top_set = set_index_at(s, top + 1);
    for (uint32_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        /* A removed replica that lags (it never switched, so never
         * stopped) holds requests no validator of the newest set may ever
         * see: their clients send them again to one. */
        if (nd->up && !counted(s, nd) && nd->pool_count > 0)
            pool_move(s, nd);
        /* a validator the chain's next height needs, even one a later
         * change removes */
        if (!nd->up || !correct(nd) || nd->gone || nd->restore_due ||
            set_place(&s->sets[top_set], i) == UINT32_MAX ||
            s->now < nd->last_deliver_ms + SIM_STUCK_MS)
            continue;
        uint32_t cur = set_index_from(s, pbft_set_from(nd->core));
        if (cur >= top_set)
            continue;
        trace(s, "n%u stuck at height %zu behind the set from %llu: restored "
                 "from a copy",
              i, nd->block_count, (unsigned long long)s->sets[cur + 1].from);
        nd->restore_due = true;
        nd->restore_to = s->sets[cur + 1].from - 1;
        s->stuck_copies++;
    }
    reconfig_tick(s);
}

bool sim_check_reconfig(sim *s, sim_outcome *out)
{
    uint64_t top = 0;
    for (uint64_t h = 1; h < s->committed_cap && s->have_committed[h]; h++)
        top = h;
    for (uint32_t i = 0; i < s->n && !s->failed; i++) {
        node *nd = &s->nodes[i];
        if (!nd->added || top <= nd->join_e)
            continue;
        if (nd->joining)
            fail(s, "ADDED: node %u never started though the chain is at "
                    "%llu past its E %llu",
                 i, (unsigned long long)top, (unsigned long long)nd->join_e);
        else if (nd->up && correct(nd) && counted(s, nd) &&
                 nd->block_count <= nd->join_e)
            fail(s, "ADDED: node %u delivered nothing past its E %llu",
                 i, (unsigned long long)nd->join_e);
    }
    out->adds = s->adds;
    out->removes = s->removes;
    out->rotations = s->rotations;
    out->rotate_copies = s->rotate_copies;
    out->hot_rotations = s->hot_rotations;
    out->timing_copies = s->timing_copies;
    out->stuck_copies = s->stuck_copies;
    out->views_waiting = s->views_waiting;
    out->changes_in_force = 0;
    for (uint32_t k = 1; k < s->set_count; k++)
        out->changes_in_force += s->sets[k].from <= top;
    return !s->failed;
}

void sim_get_mutations(const sim *s, sim_outcome *out)
{
    memcpy(out->mutated, s->mutated, sizeof out->mutated);
    memcpy(out->mutated_committed, s->mutated_committed,
           sizeof out->mutated_committed);
}

/* --- the seeded run --------------------------------------------------------------------- */

/* Empty blocks at the end of a node's chain. */
static uint64_t trailing_empty(const sim *s, const node *nd)
{
    uint64_t k = 0;
    for (size_t h = nd->block_count; h > 0; h--) {
        uint64_t *ids;
        size_t count;
        const stored_block *sb = &nd->blocks[h - 1];
        if (!block_txs(s, sb->block.data, sb->block.size, &ids, &count, false))
            break;
        free(ids);
        if (count > 0)
            break;
        k++;
    }
    return k;
}

void sim_random_config(uint64_t seed, uint32_t n, bool ledger, sim_config *c)
{
    sim_config_default(c);
    if (ledger) {
        c->ledger = true;
        c->retransmit_ms = 1000;
        c->view_timeout_max_ms = 3200;
    }
    uint64_t st = seed ^ 0xc0ffee;
    c->seed = seed;
    c->n = n;
    c->pipeline_depth = 1 + (uint32_t)rng_below(&st, 3);
    static const uint32_t ks[] = {2, 4, 5, 8};
    c->checkpoint_interval = ks[rng_below(&st, 4)];
    c->batch_max = 1 + (uint32_t)rng_below(&st, 8);
}

void sim_random_run(const sim_config *c, sim_outcome *out, FILE *trace_out)
{
    memset(out, 0, sizeof(*out));
    sim *s = sim_new(c);
    uint64_t st = c->seed * 0x9e3779b97f4a7c15ull + 5;
    uint32_t f = pbft_faults(c->n);
    /* Ledger mode: at least one faulty replica, the first a mutating
     * primary; the others of any kind. */
    uint32_t byz = f ? (uint32_t)rng_below(&st, f + 1) : 0;
    if (c->ledger && f && byz == 0)
        byz = 1;
    out->byz_count = byz;
    uint64_t byz_mask = 0;
    for (uint32_t i = 0; i < byz; i++) {
        uint32_t who;
        do
            who = (uint32_t)rng_below(&st, c->n);
        while (byz_mask >> who & 1);
        byz_mask |= 1ull << who;
        enum sim_byz kind =
            (enum sim_byz)(1 + rng_below(&st, SIM_BYZ_KINDS - 1));
        if (c->ledger && (i == 0 || rng_below(&st, 2) == 0))
            kind = SIM_MUTATE;
        sim_set_byzantine(s, who, kind);
    }
    /* Chaos: faults at random, then a heal and a liveness phase. */
    uint32_t drop = (uint32_t)rng_below(&st, 250);
    uint32_t dup = (uint32_t)rng_below(&st, 100);
    uint32_t dmax = 1 + (uint32_t)rng_below(&st, 300);
    sim_set_network(s, drop, dup, 1, dmax);
    /* Ledger mode pays for real signatures and stores: a shorter chaos
     * phase, with as many faults per second. */
    const uint64_t chaos_ms = c->ledger ? 6000 : 12000,
                   submit_until = c->ledger ? 8000 : 16000, end_ms = 60000;
    uint64_t t = 0;
    uint32_t allowed_down = f - byz;
    while (t < chaos_ms && !sim_failed(s, NULL)) {
        t += 50 + rng_below(&st, 400);
        if (!sim_run_until(s, t))
            break;
        uint64_t r = rng_below(&st, 100);
        uint32_t who = (uint32_t)rng_below(&st, sim_n(s));
        if (r < 40) {
            sim_submit(s, who, 1 + (uint32_t)rng_below(&st, 4));
        } else if (r < 48 && !(byz_mask >> who & 1)) {
            uint32_t down = 0;
            for (uint32_t i = 0; i < sim_n(s); i++)
                down += !sim_is_up(s, i) && counted(s, &s->nodes[i]);
            if (sim_is_up(s, who) && down < allowed_down + (c->n > 1 ? 1 : 0) &&
                down < c->n - 1) {
                sim_crash(s, who, rng_below(&st, 2) == 0);
                out->crashes++;
            }
        } else if (r < 60) {
            if (!sim_is_up(s, who))
                sim_restart(s, who);
        } else if (r < 64) {
            sim_partition(s, rng_next(&st) & ((1ull << sim_n(s)) - 1));
        } else if (r < 70) {
            sim_heal(s);
        }
    }
    /* Heal: ≤ f faulty from here on. */
    if (!sim_failed(s, NULL)) {
        sim_heal(s);
        sim_calm(s);
        sim_set_network(s, 0, dup ? 20 : 0, 1, 20);
        for (uint32_t i = 0; i < sim_n(s); i++)
            if (!sim_is_up(s, i))
                sim_restart(s, i);
        while (t < submit_until && !sim_failed(s, NULL)) {
            t += 100 + rng_below(&st, 300);
            if (!sim_run_until(s, t))
                break;
            uint32_t who = (uint32_t)rng_below(&st, sim_n(s));
            sim_submit(s, who, 1 + (uint32_t)rng_below(&st, 3));
        }
        /* Liveness: every request commits everywhere by end_ms; the run
         * stops as soon as it has. */
        while (!sim_failed(s, NULL) && t < end_ms) {
            t += 500;
            if (!sim_run_until(s, t) || sim_requests_done(s))
                break;
            sim_restore_stuck(s);
        }
        /* Views: within two view-change timeouts (at their ceiling) of the
         * network settling, every correct replica is in the live view. */
        if (!sim_failed(s, NULL) && sim_requests_done(s)) {
            t += 2 * (uint64_t)c->view_timeout_max_ms;
            uint64_t v;
            /* Reconfig: a replica still behind a boundary once all
             * requests are done is restored (sim_restore_stuck) and gets
             * the same time to join the view. */
            if (c->reconfig && sim_run_until(s, t)) {
                uint32_t before = s->stuck_copies;
                sim_restore_stuck(s);
                if (s->stuck_copies != before)
                    t += 2 * (uint64_t)c->view_timeout_max_ms;
            }
            if (sim_run_until(s, t) && !sim_views_agree(s, &v)) {
                char views[256];
                size_t k = 0;
                for (uint32_t i = 0; i < sim_n(s) && k < sizeof views - 24;
                     i++)
                    if (sim_is_up(s, i) && correct(&s->nodes[i]))
                        k += (size_t)snprintf(views + k, sizeof views - k,
                                              " n%u=%llu", i,
                                              (unsigned long long)sim_view(
                                                  s, i));
                fail(s, "VIEWS: correct replicas in different views after "
                        "the network settled:%s",
                     views);
            }
        }
        if (!sim_failed(s, NULL) && sim_check_requests(s) && byz == 0) {
            /* Idle: once nothing waits, the chain ends with at most L empty
             * blocks (those that certify the last results) and stops. */
            t += 4000;
            uint64_t before = 0, after = 0;
            if (sim_run_until(s, t))
                for (uint32_t i = 0; i < sim_n(s); i++)
                    if (sim_delivered(s, i) > before)
                        before = sim_delivered(s, i);
            t += 3000;
            if (sim_run_until(s, t)) {
                for (uint32_t i = 0; i < sim_n(s); i++) {
                    if (sim_delivered(s, i) > after)
                        after = sim_delivered(s, i);
                    if (!counted(s, &s->nodes[i]))
                        continue; /* removed: stopped at its E */
                    uint64_t tail = trailing_empty(s, &s->nodes[i]);
                    /* A replica that boots knows not whether its last L
                     * blocks carried transactions, and may propose L empty
                     * blocks more: reconfig restarts replicas (rotations,
                     * copies) after the last request too. */
                    uint64_t most = c->pipeline_depth;
                    if (c->reconfig && s->last_boot_ms > s->last_submit_ms)
                        most += c->pipeline_depth;
                    if (tail > most)
                        fail(s, "IDLE: node %u ends with %llu empty blocks",
                             i, (unsigned long long)tail);
                }
                if (after != before)
                    fail(s, "IDLE: %llu blocks while nothing waited",
                         (unsigned long long)(after - before));
            }
        }
    }
    if (c->reconfig) {
        /* also the checks of added replicas, unless it failed already */
        sim_outcome counts;
        memset(&counts, 0, sizeof counts);
        (void)sim_check_reconfig(s, &counts);
        out->adds = counts.adds;
        out->removes = counts.removes;
        out->rotations = counts.rotations;
        out->rotate_copies = counts.rotate_copies;
        out->hot_rotations = counts.hot_rotations;
        out->changes_in_force = counts.changes_in_force;
        out->timing_copies = counts.timing_copies;
        out->stuck_copies = counts.stuck_copies;
        out->views_waiting = counts.views_waiting;
    }
    const char *why;
    out->ok = !sim_failed(s, &why);
    if (!out->ok) {
        snprintf(out->why, sizeof(out->why), "%s", why);
        if (trace_out)
            sim_print_trace(s, trace_out);
    }
    out->delivered_min = UINT64_MAX;
    for (uint32_t i = 0; i < sim_n(s); i++) {
        uint64_t d = sim_delivered(s, i);
        if (d > out->delivered_max)
            out->delivered_max = d;
        if (!(byz_mask >> i & 1) && d < out->delivered_min)
            out->delivered_min = d;
        if (sim_view(s, i) > out->view_max)
            out->view_max = sim_view(s, i);
    }
    out->requests = s->next_tx - 1;
    out->messages = s->messages;
    sim_get_mutations(s, out);
    sim_free(s);
}
