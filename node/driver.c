/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consensus driver: the PBFT core (consensus/) carried out over the
 * validator mesh for an application (struct node_app in node/node.h).
 * witand runs it with the ledger; the ordering benchmark runs the same code
 * with a null application.
 *
 * One thread. Each round waits (poll on the mesh, the application's
 * descriptors and the next timer; never when work is left over), lets the
 * application serve its own descriptors, steps every frame that arrived and
 * every timer that fired into the core, and only then carries out what the
 * core asked for: so the records of a whole round are appended to the
 * consensus-record log (node/records.c) with one write and one sync (group
 * commit) before the first action after them. Records are written before
 * any other action of their Ready, which
 * keeps "persist before send" (writing a record earlier than required is
 * safe; sending before it is durable is not). Answers the core asked for
 * (a proposal's requests, a verdict, an executed block's roots, blocks for a
 * peer that fell behind) are fed back after the Ready that asked for them,
 * all of them before the next Ready is carried out.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/internal.h"
#include "spec/consensus.pb-c.h"

#define DRIVER_WAIT_MAX_MS 100
#define DRIVER_FRAMES_PER_ROUND_MAX 1024
#define DRIVER_PENDING_MAX 65536
#define DRIVER_DRIVE_ROUNDS_MAX 100000

static const char META_STABLE[] = "pbft_stable";
/* The key of the validator whose messages the records are. */
static const char META_RECORDS_OWNER[] = "pbft_records_owner";

enum pending_type { PEND_BUILD, PEND_VERDICT, PEND_EXECUTED, PEND_READ };

struct pending {
    enum pending_type type;
    uint64_t height;
    uint32_t peer, count;
    bool valid;
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t state_root[WITAN_HASH_SIZE], receipts_root[WITAN_HASH_SIZE];
};

struct node_driver {
    pbft *core;
    struct node_mesh *mesh;
    store *store; /* the stable checkpoint; NULL: nothing persisted */
    struct node_records *log; /* the records */
    struct node_app app;
    int64_t deadline_ms[PBFT_TIMER_COUNT]; /* monotonic; 0 when off */
    uint64_t reported_requests;
    struct pending *pending; /* answers owed, in the order asked */
    size_t pending_count, pending_cap;
    bool halted;
    struct node_driver_stats stats;
    uint64_t logged_view; /* the view last reported in the log */
    uint32_t validator_count;
    /* When a peer's Status last came (monotonic), and the core's count of
     * them then. */
    int64_t status_ms;
    uint64_t status_count;
    /* After a silence longer than NODE_READY_STATUS_AGE_MAX_MS (a pause, a
     * partition): its length, until a fresh Status came and the frames
     * waiting were all taken; 0 otherwise. */
    int64_t silence_ms;
    int64_t woke_ms; /* when the silence was noticed */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t now_ms(void)
{
    return (int64_t)(now_ns() / 1000000u);
}

static int step(struct node_driver *d, const pbft_event *ev)
{
    uint64_t t = now_ns();
    int err = pbft_step(d->core, ev);
    d->stats.step_ns += now_ns() - t;
    d->stats.events++;
    /* Every view change goes through a step: it is logged here, once, for
     * the operator (spec/node.md, "Logs"). */
    uint64_t view = pbft_view(d->core);
    if (view != d->logged_view) {
        witan_log_event(WITAN_LOG_INFO, "node", "view changed",
                        "view=%llu from=%llu primary=%llu",
                        (unsigned long long)view,
                        (unsigned long long)d->logged_view,
                        (unsigned long long)(view % d->validator_count));
        d->logged_view = view;
    }
    return err;
}

static int push_pending(struct node_driver *d, const struct pending *p)
{
    if (d->pending_count == d->pending_cap) {
        size_t cap = d->pending_cap ? d->pending_cap * 2 : 64;
        if (cap > DRIVER_PENDING_MAX)
            return WITAN_ELIMIT; /* the core never asks this much at once */
        struct pending *grown = realloc(d->pending, cap * sizeof *grown);
        if (!grown)
            return WITAN_ENOMEM;
        d->pending = grown;
        d->pending_cap = cap;
    }
    d->pending[d->pending_count++] = *p;
    return WITAN_OK;
}

/* --- persistence ------------------------------------------------------------ */

/* Writes every PERSIST record of the Ready, in order, with one write and
 * one sync (none when all are lazy): the group commit. */
static int persist_all(struct node_driver *d, const pbft_actions *rd)
{
    if (!d->log)
        return WITAN_OK;
    uint64_t t = now_ns();
    size_t written;
    bool synced;
    int err = node_records_append(d->log, rd->actions, rd->count, &written,
                                  &synced);
    d->stats.persist_ns += now_ns() - t;
    d->stats.persist_count += written;
    d->stats.persist_commits += synced;
    return err;
}

/* Keeps the stable checkpoint's proof and forgets records below it. The
 * proof is committed first: a crash before the log is pruned leaves
 * records the next start skips. */
static int stable(struct node_driver *d, const pbft_action *a)
{
    if (!d->store)
        return WITAN_OK;
    store_txn *txn;
    int err = store_write_begin(d->store, &txn);
    if (err)
        return err;
    size_t size = 8 + WITAN_HASH_SIZE + a->data.size;
    uint8_t *v = malloc(size);
    if (!v) {
        store_abort(txn);
        return WITAN_ENOMEM;
    }
    store_be64(v, a->height);
    memcpy(v + 8, a->stable_root, WITAN_HASH_SIZE);
    memcpy(v + 40, a->data.data, a->data.size);
    err = store_put(txn, STORE_META, META_STABLE, strlen(META_STABLE), v, size);
    free(v);
    if (err)
        store_abort(txn);
    else
        err = store_commit(txn);
    /* The records at or below the checkpoint may go only once everything
     * they could restore is durable in the database: a commit alone may
     * still be undone by a power loss (store_open). */
    if (!err)
        err = store_sync(d->store);
    /* Lazy records, too, are durable before the records that anchor them
     * may go (consensus.h, the caller's contract). */
    if (!err)
        err = node_records_sync(d->log);
    return err ? err : node_records_prune(d->log, a->height);
}

/*
 * Before the log, records were rows of the consensus table (be64 sequence
 * -> record), their owner's key in meta. A database from then is read once:
 * its records become the new log's first (if they are this validator's),
 * and the rows go. A crash between the two finds the log made, and only
 * the rows are removed.
 */
static int legacy_records(store *s, const wcrypto_pubkey *own,
                          pbft_bytes **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    store_txn *txn;
    int err = store_read_begin(s, &txn);
    if (err)
        return err;
    const void *v, *k;
    size_t vs, ks;
    err = store_get(txn, STORE_META, META_RECORDS_OWNER,
                    strlen(META_RECORDS_OWNER), &v, &vs);
    bool mine = err == WITAN_OK && vs == WCRYPTO_ED25519_PUBKEY_SIZE &&
                memcmp(v, own->bytes, vs) == 0;
    err = err == WITAN_ENOTFOUND ? WITAN_OK : err;
    store_cursor *c = NULL;
    if (!err)
        err = store_cursor_open(txn, STORE_CONSENSUS, &c);
    size_t theirs = 0;
    int rc = err ? err : store_cursor_seek(c, NULL, 0, &k, &ks, &v, &vs);
    for (; rc == 0; rc = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (!mine) {
            theirs++;
            continue;
        }
        pbft_bytes *grown = realloc(*out, (*count + 1) * sizeof *grown);
        uint8_t *copy = malloc(vs ? vs : 1);
        if (grown)
            *out = grown;
        if (!grown || !copy) {
            free(copy);
            err = WITAN_ENOMEM;
            break;
        }
        memcpy(copy, v, vs);
        (*out)[(*count)++] = (pbft_bytes){copy, vs};
    }
    store_cursor_close(c);
    store_abort(txn);
    if (theirs)
        WITAN_WARN("node", "%zu consensus records in this database are "
                           "another validator's (a copy of its files): "
                           "discarded",
                   theirs);
    return err;
}

static int drop_legacy_records(store *s)
{
    store_txn *txn;
    int err = store_write_begin(s, &txn);
    if (err)
        return err;
    /* Collect first, delete after: a cursor must not see its own deletes. */
    uint8_t (*keys)[8] = NULL;
    size_t count = 0;
    store_cursor *c = NULL;
    const void *k, *v;
    size_t ks, vs;
    err = store_cursor_open(txn, STORE_CONSENSUS, &c);
    int rc = err ? err : store_cursor_seek(c, NULL, 0, &k, &ks, &v, &vs);
    for (; rc == 0 && ks == 8; rc = store_cursor_next(c, &k, &ks, &v, &vs)) {
        void *grown = realloc(keys, (count + 1) * 8);
        if (!grown) {
            err = WITAN_ENOMEM;
            break;
        }
        keys = grown;
        memcpy(keys[count++], k, 8);
    }
    store_cursor_close(c);
    for (size_t i = 0; !err && i < count; i++)
        err = store_del(txn, STORE_CONSENSUS, keys[i], 8);
    free(keys);
    bool owner = false;
    if (!err) {
        err = store_get(txn, STORE_META, META_RECORDS_OWNER,
                        strlen(META_RECORDS_OWNER), &v, &vs);
        owner = err == WITAN_OK;
        err = err == WITAN_ENOTFOUND ? WITAN_OK : err;
    }
    if (!err && owner)
        err = store_del(txn, STORE_META, META_RECORDS_OWNER,
                        strlen(META_RECORDS_OWNER));
    if (err || (count == 0 && !owner)) {
        store_abort(txn);
        return err;
    }
    return store_commit(txn);
}

int node_driver_records_rekey(struct node_driver *d, const wcrypto_pubkey *from,
                              const wcrypto_pubkey *to)
{
    return d->log ? node_records_rekey(d->log, from, to) : WITAN_OK;
}

/* The stable checkpoint (from the store) into *boot; *stable_value (its
 * proof's bytes) is malloc'ed for the caller. */
static int load_stable(store *s, pbft_boot *boot, uint8_t **stable_value,
                       pbft_bytes *proof)
{
    *stable_value = NULL;
    store_txn *txn;
    int err = store_read_begin(s, &txn);
    if (err)
        return err;
    const void *v;
    size_t vs;
    uint32_t proof_count = 0;
    if (store_get(txn, STORE_META, META_STABLE, strlen(META_STABLE), &v, &vs) ==
            0 &&
        vs >= 40) {
        *stable_value = malloc(vs);
        if (!*stable_value) {
            store_abort(txn);
            return WITAN_ENOMEM;
        }
        memcpy(*stable_value, v, vs);
        boot->stable_height = store_read_be64(*stable_value);
        memcpy(boot->stable_state_root, *stable_value + 8, WITAN_HASH_SIZE);
        size_t o = 40;
        while (o + 4 <= vs && proof_count < WITAN_VALIDATOR_COUNT_MAX) {
            uint32_t len = store_read_be32(*stable_value + o);
            if (o + 4 + len > vs)
                break;
            proof[proof_count].data = *stable_value + o + 4;
            proof[proof_count++].size = len;
            o += 4 + len;
        }
        boot->stable_proof = proof;
        boot->stable_proof_count = proof_count;
    }
    store_abort(txn);
    return WITAN_OK;
}

/* The stable checkpoint and the records, in the order they were written
 * (node_records_free), the log opened (made from a legacy table's records
 * when absent). */
static int load_records(struct node_driver *d, const char *log_path,
                        const wcrypto_pubkey *own, pbft_boot *boot,
                        pbft_bytes **records, size_t *record_count,
                        uint8_t **stable_value, pbft_bytes *proof)
{
    *records = NULL;
    *record_count = 0;
    *stable_value = NULL;
    if (!d->store)
        return WITAN_OK;
    int err = load_stable(d->store, boot, stable_value, proof);
    pbft_bytes *legacy = NULL;
    size_t legacy_count = 0;
    if (!err && access(log_path, F_OK) != 0)
        err = legacy_records(d->store, own, &legacy, &legacy_count);
    if (!err)
        err = node_records_open(log_path, own, boot->stable_height, legacy,
                                legacy_count, &d->log, records, record_count);
    node_records_free(legacy, legacy_count);
    if (!err)
        err = drop_legacy_records(d->store);
    boot->records = *records;
    boot->record_count = *record_count;
    return err;
}

int node_driver_new(const pbft_config *cfg, const pbft_boot *boot,
                    store *store, const char *records_path,
                    struct node_mesh *mesh, const struct node_app *app,
                    struct node_driver **out)
{
    *out = NULL;
    if (app->fd_count > NODE_APP_FD_MAX || !app->build || !app->validate ||
        !app->deliver || !app->waiting || !store != !records_path)
        return WITAN_EINVAL;
    struct node_driver *d = calloc(1, sizeof *d);
    if (!d)
        return WITAN_ENOMEM;
    d->mesh = mesh;
    d->store = store;
    d->app = *app;
    d->reported_requests = UINT64_MAX;
    pbft_boot b = *boot;
    pbft_bytes *recs = NULL, proof[WITAN_VALIDATOR_COUNT_MAX];
    size_t record_count = 0;
    uint8_t *stable_value = NULL;
    int err = load_records(d, records_path, &cfg->key->pub, &b, &recs,
                           &record_count, &stable_value, proof);
    b.clean_stop = d->log && node_records_stopped_cleanly(d->log);
    if (!err)
        err = pbft_new(cfg, &b, &d->core);
    node_records_free(recs, record_count);
    free(stable_value);
    if (err) {
        WITAN_ERROR("node", "consensus cannot start: %s",
                    witan_err_message(err));
        node_driver_free(d);
        return err;
    }
    d->logged_view = pbft_view(d->core);
    d->validator_count = cfg->validator_count;
    d->status_ms = now_ms();
    WITAN_INFO("node", "validator %u of %u; %zu consensus records replayed%s%s",
               cfg->self, cfg->validator_count, record_count,
               store ? "" : " (records are not persisted)",
               b.clean_stop ? " (it had stopped cleanly)" : "");
    /* Said even when the chain is already past that height (a node
     * whose checkpoint lagged its blocks): the rule is then moot. */
    if (pbft_boot_mute_height(d->core) != 0)
        WITAN_INFO("node", "booted in view %llu: proposes and prepares "
                           "nothing new in it up to height %llu, and commits "
                           "with the others meanwhile (spec/consensus.md, the "
                           "boot rule)",
                   (unsigned long long)pbft_view(d->core),
                   (unsigned long long)pbft_boot_mute_height(d->core));
    *out = d;
    return WITAN_OK;
}

int node_driver_mark_stopped(struct node_driver *d)
{
    return d->log ? node_records_mark_stopped(d->log) : WITAN_OK;
}

void node_driver_free(struct node_driver *d)
{
    if (!d)
        return;
    pbft_free(d->core);
    node_records_close(d->log);
    free(d->pending);
    free(d);
}

/* --- actions ---------------------------------------------------------------- */

static int deliver(struct node_driver *d, const pbft_action *a)
{
    struct pending p;
    memset(&p, 0, sizeof p);
    p.type = PEND_EXECUTED;
    p.height = a->height;
    int err = d->app.deliver(d->app.ctx, a, p.state_root, p.receipts_root);
    return err ? err : push_pending(d, &p);
}

/* Carries out one Ready: its records first, all in one append (synced
 * unless every one is lazy), then the other actions in order. */
/* Hands what was queued on the links to the kernel: the sends of a Ready
 * leave before work that can take milliseconds (executing a block,
 * judging a proposal), not after it, and answers to clients leave as soon
 * as they are made. */
static void flush_links(struct node_driver *d)
{
    node_mesh_flush(d->mesh);
    if (d->app.flush)
        d->app.flush(d->app.ctx);
}

static int carry_out(struct node_driver *d, const pbft_actions *rd)
{
    int err = persist_all(d, rd);
    int64_t now = now_ms();
    for (size_t i = 0; i < rd->count && !err; i++) {
        const pbft_action *a = &rd->actions[i];
        struct pending p;
        memset(&p, 0, sizeof p);
        uint64_t t = now_ns();
        switch (a->type) {
        case PBFT_ACT_PERSIST:
            break; /* written above */
        case PBFT_ACT_SEND:
            node_mesh_send(d->mesh, a->to, NODE_FRAME_CONSENSUS, a->data.data,
                           a->data.size);
            d->stats.send_ns += now_ns() - t;
            break;
        case PBFT_ACT_DELIVER:
            flush_links(d);
            if (!d->halted)
                err = deliver(d, a);
            d->stats.app_ns += now_ns() - t;
            break;
        case PBFT_ACT_BUILD:
            p.type = PEND_BUILD;
            p.height = a->height;
            err = push_pending(d, &p);
            break;
        case PBFT_ACT_VALIDATE:
            p.type = PEND_VERDICT;
            p.height = a->height;
            memcpy(p.hash, a->block_hash, WITAN_HASH_SIZE);
            flush_links(d);
            p.valid = d->app.validate(d->app.ctx, a);
            d->stats.app_ns += now_ns() - t;
            err = push_pending(d, &p);
            break;
        case PBFT_ACT_READ_BLOCKS:
            p.type = PEND_READ;
            p.height = a->height;
            p.peer = a->to;
            p.count = a->count;
            err = push_pending(d, &p);
            break;
        case PBFT_ACT_SET_TIMER:
            if ((unsigned)a->timer < PBFT_TIMER_COUNT)
                d->deadline_ms[a->timer] = now + (int64_t)a->ms;
            break;
        case PBFT_ACT_CANCEL_TIMER:
            if ((unsigned)a->timer < PBFT_TIMER_COUNT)
                d->deadline_ms[a->timer] = 0;
            break;
        case PBFT_ACT_STABLE:
            err = stable(d, a);
            d->stats.persist_ns += now_ns() - t;
            break;
        case PBFT_ACT_FORWARD:
            if (d->app.forward)
                d->app.forward(d->app.ctx, a->to);
            d->stats.app_ns += now_ns() - t;
            break;
        case PBFT_ACT_FORK: {
            char own[65], agreed[65];
            witan_hex_encode(a->own_root, WITAN_HASH_SIZE, own);
            witan_hex_encode(a->stable_root, WITAN_HASH_SIZE, agreed);
            WITAN_ERROR("node",
                        "FORK at height %llu: this node's state root %s differs "
                        "from the stable checkpoint's %s; execution stopped",
                        (unsigned long long)a->height, own, agreed);
            d->halted = true;
            break;
        }
        }
    }
    flush_links(d);
    return err;
}

/* --- answers ----------------------------------------------------------------- */

int node_driver_propose(struct node_driver *d, uint64_t height, int64_t time_ms,
                        const uint8_t txs_root[WITAN_HASH_SIZE],
                        const pbft_bytes *txs, uint32_t tx_count,
                        const uint8_t *next_validators_hash)
{
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_PROPOSAL;
    ev.u.proposal.height = height;
    ev.u.proposal.time_ms = time_ms;
    memcpy(ev.u.proposal.txs_root, txs_root, WITAN_HASH_SIZE);
    ev.u.proposal.txs = txs;
    ev.u.proposal.tx_count = tx_count;
    ev.u.proposal.next_validators_hash = next_validators_hash;
    return step(d, &ev);
}

int node_driver_blocks_read(struct node_driver *d, uint32_t peer,
                            const pbft_certified_block *blocks,
                            uint32_t count)
{
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_BLOCKS_READ;
    ev.u.blocks_read.peer = peer;
    ev.u.blocks_read.blocks = blocks;
    ev.u.blocks_read.count = count;
    return step(d, &ev);
}

static int answer(struct node_driver *d, const struct pending *p)
{
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    uint64_t t = now_ns(), step_before = d->stats.step_ns;
    int err;
    switch (p->type) {
    case PEND_BUILD:
        err = d->app.build(d->app.ctx, d, p->height);
        d->stats.app_ns += now_ns() - t - (d->stats.step_ns - step_before);
        return err;
    case PEND_READ:
        if (d->app.read_blocks)
            err = d->app.read_blocks(d->app.ctx, d, p->peer, p->height,
                                     p->count);
        else
            err = node_driver_blocks_read(d, p->peer, NULL, 0);
        d->stats.app_ns += now_ns() - t - (d->stats.step_ns - step_before);
        return err;
    case PEND_VERDICT:
        ev.type = PBFT_EV_VERDICT;
        ev.u.verdict.height = p->height;
        memcpy(ev.u.verdict.block_hash, p->hash, WITAN_HASH_SIZE);
        ev.u.verdict.valid = p->valid;
        break;
    case PEND_EXECUTED:
        ev.type = PBFT_EV_EXECUTED;
        ev.u.executed.height = p->height;
        memcpy(ev.u.executed.state_root, p->state_root, WITAN_HASH_SIZE);
        memcpy(ev.u.executed.receipts_root, p->receipts_root, WITAN_HASH_SIZE);
        break;
    }
    return step(d, &ev);
}

/* Carries out every Ready and feeds back every answer until the core is
 * quiet. Each Ready and each batch of answers is finite, so this ends; the
 * bound is a safety net. */
static int take_requests(struct node_driver *d);

static int drive(struct node_driver *d)
{
    int err = WITAN_OK;
    for (int round = 0; !err && round < DRIVER_DRIVE_ROUNDS_MAX; round++) {
        /* A delivered block takes requests out of the pool: the core
         * learns it before it builds again (with one validator a block
         * commits within one drive, with no network turn between). */
        err = take_requests(d);
        if (err)
            break;
        pbft_actions rd;
        pbft_ready(d->core, &rd);
        if (rd.count) {
            d->stats.readies++;
            err = carry_out(d, &rd);
            pbft_advance(d->core);
            continue;
        }
        if (d->pending_count == 0)
            break;
        /* Answering steps the core but carries nothing out, so no answer
         * is added while these are fed. */
        size_t count = d->pending_count;
        for (size_t i = 0; i < count && !err; i++)
            err = answer(d, &d->pending[i]);
        WITAN_ASSERT(d->pending_count == count);
        d->pending_count = 0;
    }
    return err;
}

/* --- the loop ----------------------------------------------------------------- */

/* Steps what arrived from peers, at most a round's worth of frames; *more
 * when some are left. */
static int take_frames(struct node_driver *d, bool *more)
{
    uint64_t t = now_ns(), step_before = d->stats.step_ns;
    int err = WITAN_OK;
    for (int i = 0; i < DRIVER_FRAMES_PER_ROUND_MAX && !err; i++) {
        struct node_frame f;
        nng_msg *msg;
        if (node_mesh_recv(d->mesh, &f, &msg) != 0)
            break;
        const uint8_t *item;
        size_t size, at = 0;
        while (!err && node_frame_item(&f, &at, &item, &size)) {
            if (f.kind == NODE_FRAME_CONSENSUS) {
                pbft_event ev;
                memset(&ev, 0, sizeof ev);
                ev.type = PBFT_EV_MESSAGE;
                ev.u.message = (pbft_bytes){item, size};
                err = step(d, &ev);
            } else if (d->app.frame) {
                d->app.frame(d->app.ctx, f.kind, f.sender, item, size);
            }
        }
        nng_msg_free(msg);
    }
    *more = node_mesh_pending(d->mesh);
    d->stats.recv_ns += now_ns() - t - (d->stats.step_ns - step_before);
    return err;
}

static int take_timers(struct node_driver *d)
{
    int64_t now = now_ms();
    int err = WITAN_OK;
    for (int t = 0; t < PBFT_TIMER_COUNT && !err; t++) {
        if (!d->deadline_ms[t] || d->deadline_ms[t] > now)
            continue;
        d->deadline_ms[t] = 0;
        pbft_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = PBFT_EV_TIMER;
        ev.u.timer = (enum pbft_timer)t;
        err = step(d, &ev);
    }
    return err;
}

static int take_requests(struct node_driver *d)
{
    uint64_t waiting = d->app.waiting(d->app.ctx);
    if (d->reported_requests == waiting)
        return WITAN_OK;
    d->reported_requests = waiting;
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_REQUESTS;
    ev.u.request_count = waiting;
    return step(d, &ev);
}

int node_driver_run(struct node_driver *d, volatile sig_atomic_t *stop)
{
    struct pollfd fds[1 + NODE_APP_FD_MAX];
    size_t nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = node_mesh_fd(d->mesh),
                                  .events = POLLIN};
    for (size_t i = 0; i < d->app.fd_count; i++)
        fds[nfds++] = (struct pollfd){.fd = d->app.fds[i], .events = POLLIN};
    int err = WITAN_OK;
    for (size_t i = 0; i < nfds; i++)
        if (fds[i].fd < 0)
            err = WITAN_ENET;
    if (!err)
        err = drive(d); /* the first Ready arms the timers */
    bool busy = false;
    while (!err && !*stop) {
        int64_t now = now_ms(), wait = busy ? 0 : DRIVER_WAIT_MAX_MS;
        for (int t = 0; t < PBFT_TIMER_COUNT; t++)
            if (d->deadline_ms[t] && d->deadline_ms[t] - now < wait)
                wait = d->deadline_ms[t] - now;
        int64_t app_at = d->app.deadline ? d->app.deadline(d->app.ctx) : 0;
        if (app_at && app_at - now < wait)
            wait = app_at - now;
        if (wait > 0) {
            uint64_t t = now_ns();
            poll(fds, (nfds_t)nfds, (int)wait);
            d->stats.wait_ns += now_ns() - t;
        }
        d->stats.rounds++;
        busy = false;
        int64_t round_ms = now_ms();
        if (d->validator_count > 1 && !d->silence_ms &&
            round_ms - d->status_ms > NODE_READY_STATUS_AGE_MAX_MS) {
            d->silence_ms = round_ms - d->status_ms;
            d->woke_ms = round_ms;
        }
        if (d->app.serve) {
            uint64_t t = now_ns(), step_before = d->stats.step_ns;
            int rc = d->app.serve(d->app.ctx, d);
            flush_links(d);
            d->stats.serve_ns +=
                now_ns() - t - (d->stats.step_ns - step_before);
            if (rc < 0)
                err = rc;
            busy = rc > 0;
        }
        bool more = false;
        if (!err)
            err = take_frames(d, &more);
        busy = busy || more;
        uint64_t statuses;
        pbft_peer_delivered_height(d->core, &statuses);
        if (statuses != d->status_count) {
            /* The first Status after a silence marks it too: a pause
             * that began after this round's clock was read (above) is
             * seen here, when the Statuses it held back arrive. */
            int64_t t = now_ms();
            if (d->validator_count > 1 && !d->silence_ms &&
                t - d->status_ms > NODE_READY_STATUS_AGE_MAX_MS) {
                d->silence_ms = t - d->status_ms;
                d->woke_ms = t;
            }
            d->status_count = statuses;
            d->status_ms = t;
        }
        /* Statuses that waited in the queue through the silence are stale:
         * only one that came a while after it was noticed, from a peer
         * that sent it since, says where the others are now. */
        if (d->silence_ms && !more &&
            d->status_ms >= d->woke_ms + NODE_READY_RESYNC_MS)
            d->silence_ms = 0;
        if (!err)
            err = take_timers(d);
        if (!err)
            err = take_requests(d);
        if (!err)
            err = drive(d);
        if (d->app.settle) {
            uint64_t t = now_ns(), step_before = d->stats.step_ns;
            busy = d->app.settle(d->app.ctx, d) > 0 || busy;
            d->stats.serve_ns +=
                now_ns() - t - (d->stats.step_ns - step_before);
        }
        flush_links(d);
    }
    if (err)
        WITAN_ERROR("node", "consensus stopped: %s", witan_err_name(err));
    return err;
}

int node_driver_set_validators(struct node_driver *d, uint64_t from_height,
                               const wcrypto_pubkey *validators,
                               uint32_t count, uint32_t self,
                               const wcrypto_keypair *key)
{
    return pbft_set_validators(d->core, from_height, validators, count, self,
                               key);
}

const pbft *node_driver_core(const struct node_driver *d)
{
    return d->core;
}

void node_driver_get_stats(const struct node_driver *d,
                           struct node_driver_stats *out)
{
    *out = d->stats;
}

int64_t node_driver_silence_ms(const struct node_driver *d)
{
    if (d->silence_ms)
        return d->silence_ms;
    int64_t age = now_ms() - d->status_ms;
    return d->validator_count > 1 && age > NODE_READY_STATUS_AGE_MAX_MS ? age
                                                                        : 0;
}

bool node_driver_halted(const struct node_driver *d)
{
    return d->halted;
}
