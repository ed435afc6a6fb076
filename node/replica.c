/*
 * A validator among others: the PBFT core (consensus/) driven over nng.
 *
 * One thread. Each round waits (poll on the client socket, the peer socket
 * and the next timer), answers clients, feeds peer messages and fired timers
 * to the core, and carries out the core's actions in the order its header
 * demands: a run of PERSIST records is written in one LMDB transaction and
 * synced before the action after it, so nothing is ever sent that is not on
 * disk first. Answers the core asked for (a proposal's transactions, a
 * verdict on a proposal, an executed block's roots, blocks for a peer that
 * fell behind) are fed back after the Ready that asked for them.
 *
 * Between validators: each listens on one PULL socket and keeps one PUSH
 * socket dialled to every peer (nng reconnects with backoff by itself). A
 * frame is one kind byte and a payload: a signed consensus message, or a
 * batch of admitted client transactions relayed so that every validator can
 * propose them. Sends never block: a full queue drops the message and counts
 * it, and the core's retransmission makes up for it.
 */
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>

#include "consensus/consensus.h"
#include "node/internal.h"
#include "spec/consensus.pb-c.h"

#define FRAME_CONSENSUS 0x01
#define FRAME_TXS 0x02
#define REPLICA_WAIT_MAX_MS 100
#define REPLICA_PENDING_MAX 256
#define REPLICA_VALIDATED_RING 16
#define REPLICA_RETRANSMIT_MS 500
#define REPLICA_STATE_BLOCK_COUNT 32

static const char META_STABLE[] = "pbft_stable";

enum pending_type { PEND_BUILD, PEND_VERDICT, PEND_EXECUTED, PEND_READ };

struct pending {
    enum pending_type type;
    uint64_t height;
    uint32_t peer, count;
    bool valid;
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t state_root[WITAN_HASH_SIZE], receipts_root[WITAN_HASH_SIZE];
};

enum send_drop { DROP_QUEUE_FULL, DROP_SEND_ERROR, DROP_SEND_COUNT };

struct replica {
    pbft *core;
    nng_socket in;
    nng_socket out[WITAN_VALIDATOR_COUNT_MAX];
    uint32_t n, self;
    int64_t deadline[PBFT_TIMER_COUNT]; /* monotonic ms; 0 when off */
    uint64_t record_seq;
    uint64_t reported_requests;
    struct pending pending[REPLICA_PENDING_MAX];
    size_t pending_head, pending_count;
    uint8_t validated[REPLICA_VALIDATED_RING][WITAN_HASH_SIZE];
    uint32_t validated_next;
    uint64_t send_dropped[DROP_SEND_COUNT];
    bool halted;
};

/* --- small helpers ------------------------------------------------------------ */

static int push_pending(struct replica *r, const struct pending *p)
{
    if (r->pending_count == REPLICA_PENDING_MAX)
        return WITAN_ELIMIT; /* the core never asks this much at once */
    r->pending[(r->pending_head + r->pending_count++) % REPLICA_PENDING_MAX] =
        *p;
    return WITAN_OK;
}

static int cert_from_proto(const Witan__CommitCertificate *c, pbft_cert *out)
{
    memset(out, 0, sizeof *out);
    if (!c || c->block_hash.len != 32 || c->signers.len > 8 ||
        c->n_signatures > WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_EDECODE;
    out->view = c->view;
    out->height = c->height;
    memcpy(out->block_hash, c->block_hash.data, 32);
    for (size_t i = 0; i < c->signers.len; i++)
        out->signers |= (uint64_t)c->signers.data[i] << (8 * i);
    out->sig_count = (uint32_t)c->n_signatures;
    for (size_t i = 0; i < c->n_signatures; i++) {
        if (c->signatures[i].len != WCRYPTO_SIG_SIZE)
            return WITAN_EDECODE;
        memcpy(out->sigs[i], c->signatures[i].data, WCRYPTO_SIG_SIZE);
    }
    return WITAN_OK;
}

static void send_frame(struct node *n, uint32_t to, uint8_t kind,
                       const uint8_t *data, size_t size)
{
    struct replica *r = n->replica;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, size + 1) != 0) {
        r->send_dropped[DROP_SEND_ERROR]++;
        return;
    }
    uint8_t *body = nng_msg_body(msg);
    body[0] = kind;
    memcpy(body + 1, data, size);
    int rc = nng_sendmsg(r->out[to], msg, NNG_FLAG_NONBLOCK);
    if (rc != 0) {
        nng_msg_free(msg);
        r->send_dropped[rc == NNG_EAGAIN ? DROP_QUEUE_FULL : DROP_SEND_ERROR]++;
    }
}

static void send_all(struct node *n, uint8_t kind, const uint8_t *data,
                     size_t size)
{
    for (uint32_t i = 0; i < n->replica->n; i++)
        if (i != n->replica->self)
            send_frame(n, i, kind, data, size);
}

/* The height a persisted record is about, or 0 when it must be kept
 * whatever the stable checkpoint (view changes and new views). */
static uint64_t record_height(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t h = 0;
    if (data[0] == 'P') {
        Witan__PreparedRecord *p =
            witan__prepared_record__unpack(NULL, size - 1, data + 1);
        if (p && p->proof)
            h = p->proof->height;
        if (p)
            witan__prepared_record__free_unpacked(p, NULL);
        return h;
    }
    Witan__SignedMessage *sm =
        witan__signed_message__unpack(NULL, size - 1, data + 1);
    if (!sm)
        return 0;
    Witan__ConsensusMessage *m =
        witan__consensus_message__unpack(NULL, sm->body.len, sm->body.data);
    if (m) {
        switch (m->kind_case) {
        case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE:
            h = m->pre_prepare->height;
            break;
        case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
            h = m->prepare->height;
            break;
        case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT:
            h = m->commit->height;
            break;
        default:
            break;
        }
        witan__consensus_message__free_unpacked(m, NULL);
    }
    witan__signed_message__free_unpacked(sm, NULL);
    return h;
}

/* --- actions ---------------------------------------------------------------- */

/* Writes records[0..count) in one transaction and syncs it. */
static int persist(struct node *n, const pbft_action *a, size_t count)
{
    store *s = ledger_store(n->l);
    for (int attempt = 0; attempt < 8; attempt++) {
        store_txn *txn;
        int err = store_write_begin(s, &txn);
        if (err)
            return err;
        uint64_t seq = n->replica->record_seq;
        for (size_t i = 0; i < count && !err; i++) {
            uint8_t key[8];
            store_be64(key, seq++);
            err = store_put(txn, STORE_CONSENSUS, key, 8, a[i].data.data,
                            a[i].data.size);
        }
        if (err) {
            store_abort(txn);
        } else {
            err = store_commit(txn);
            if (!err)
                n->replica->record_seq = seq;
        }
        if (err != WITAN_EMAPFULL)
            return err;
        if ((err = store_grow(s)) != 0)
            return err;
    }
    return WITAN_EMAPFULL;
}

/* Keeps the stable checkpoint's proof and forgets records below it. */
static int stable(struct node *n, const pbft_action *a)
{
    store *s = ledger_store(n->l);
    store_txn *txn;
    int err = store_write_begin(s, &txn);
    if (err)
        return err;
    size_t size = 8 + 32 + a->data.size;
    uint8_t *v = malloc(size);
    if (!v) {
        store_abort(txn);
        return WITAN_ENOMEM;
    }
    store_be64(v, a->height);
    memcpy(v + 8, a->stable_root, 32);
    memcpy(v + 40, a->data.data, a->data.size);
    err = store_put(txn, STORE_META, META_STABLE, strlen(META_STABLE), v, size);
    free(v);
    /* Collect first, delete after: a cursor must not see its own deletes. */
    uint8_t (*dead)[8] = NULL;
    size_t dead_count = 0;
    store_cursor *c = NULL;
    if (!err)
        err = store_cursor_open(txn, STORE_CONSENSUS, &c);
    const void *k, *val;
    size_t ks, vs;
    int rc = err ? err : store_cursor_seek(c, NULL, 0, &k, &ks, &val, &vs);
    for (; rc == 0; rc = store_cursor_next(c, &k, &ks, &val, &vs)) {
        uint64_t h = record_height(val, vs);
        if (h == 0 || h > a->height || ks != 8)
            continue;
        void *grown = realloc(dead, (dead_count + 1) * 8);
        if (!grown) {
            err = WITAN_ENOMEM;
            break;
        }
        dead = grown;
        memcpy(dead[dead_count++], k, 8);
    }
    store_cursor_close(c);
    for (size_t i = 0; !err && i < dead_count; i++)
        err = store_del(txn, STORE_CONSENSUS, dead[i], 8);
    free(dead);
    if (err) {
        store_abort(txn);
        return err;
    }
    return store_commit(txn);
}

static bool was_validated(struct replica *r, const uint8_t hash[32])
{
    for (size_t i = 0; i < REPLICA_VALIDATED_RING; i++)
        if (memcmp(r->validated[i], hash, 32) == 0)
            return true;
    return false;
}

/* Judges a proposal's contents: every transaction decodes, is signed, and
 * was not committed before, none twice. The header is the core's business. */
static bool validate(struct node *n, const pbft_action *a)
{
    Witan__Block *b = witan__block__unpack(NULL, a->data.size, a->data.data);
    if (!b)
        return false;
    bool ok = b->n_txs <= n->genesis->params->block_tx_count_max;
    uint8_t (*hashes)[32] = calloc(b->n_txs ? b->n_txs : 1, 32);
    ok = ok && hashes;
    for (size_t i = 0; ok && i < b->n_txs; i++) {
        struct ledger_tx tx;
        char why[LEDGER_WHY_SIZE];
        /* A transaction this node holds was verified when it was admitted:
         * only the others cost a signature check here. */
        int err = ledger_tx_decode(n->l, b->txs[i].data, b->txs[i].len, false,
                                   &tx, why, sizeof why);
        if (err == 0 && !mempool_find(&n->pool, tx.hash)) {
            ledger_tx_release(&tx);
            err = ledger_tx_decode(n->l, b->txs[i].data, b->txs[i].len, true,
                                   &tx, why, sizeof why);
        }
        if (err != 0) {
            WITAN_WARN("node", "proposal %llu: transaction %zu: %s",
                       (unsigned long long)a->height, i, why);
            ok = false;
            break;
        }
        memcpy(hashes[i], tx.hash, 32);
        ledger_tx_release(&tx);
        Witan__TxResponse *known = NULL;
        if (ledger_get_tx(n->l, hashes[i], &known) == 0 &&
            known->state == WITAN__TX_STATE__TX_STATE_COMMITTED)
            ok = false;
        ledger_tx_response_free(known);
        for (size_t j = 0; ok && j < i; j++)
            if (memcmp(hashes[i], hashes[j], 32) == 0)
                ok = false;
    }
    free(hashes);
    witan__block__free_unpacked(b, NULL);
    if (ok) {
        struct replica *r = n->replica;
        memcpy(r->validated[r->validated_next++ % REPLICA_VALIDATED_RING],
               a->block_hash, 32);
    }
    return ok;
}

/* Executes a committed block and takes its transactions out of the pool. */
static int deliver(struct node *n, const pbft_action *a)
{
    struct replica *r = n->replica;
    Witan__Block *b = witan__block__unpack(NULL, a->data.size, a->data.data);
    if (!b)
        return WITAN_EDECODE; /* certified, so the core checked it decodes */
    /* Transactions this node admitted had their signatures checked then,
     * and so had those of a proposal it validated: only a block with
     * others (state transfer, a foreign proposal) is checked again. */
    bool all_known = true;
    uint8_t (*hashes)[32] = calloc(b->n_txs ? b->n_txs : 1, 32);
    if (!hashes) {
        witan__block__free_unpacked(b, NULL);
        return WITAN_ENOMEM;
    }
    for (size_t i = 0; i < b->n_txs; i++) {
        Witan__Envelope *e =
            witan__envelope__unpack(NULL, b->txs[i].len, b->txs[i].data);
        if (!e) {
            all_known = false;
            continue;
        }
        wcrypto_hash_tagged(WCRYPTO_TAG_TX, e->body.data, e->body.len,
                            hashes[i]);
        all_known = all_known && mempool_find(&n->pool, hashes[i]) != NULL;
        witan__envelope__free_unpacked(e, NULL);
    }
    bool verify = !all_known && !was_validated(r, a->block_hash);

    uint8_t *cert_bytes;
    size_t cert_size;
    int err = pbft_cert_encode(a->cert, &cert_bytes, &cert_size);
    Witan__CommitCertificate *cert = NULL;
    if (!err) {
        cert = witan__commit_certificate__unpack(NULL, cert_size, cert_bytes);
        free(cert_bytes);
        if (!cert)
            err = WITAN_ENOMEM;
    }
    struct ledger_apply_stats stats;
    char why[LEDGER_WHY_SIZE];
    if (!err) {
        err = ledger_block_apply(n->l, a->data.data, a->data.size, cert,
                                 verify, &stats, why, sizeof why);
        if (err)
            WITAN_ERROR("node",
                        "committed block %llu cannot be executed: %s (%s); "
                        "stopping rather than diverge",
                        (unsigned long long)a->height, why,
                        witan_err_name(err));
    }
    if (cert)
        witan__commit_certificate__free_unpacked(cert, NULL);
    if (!err) {
        for (size_t i = 0; i < b->n_txs; i++)
            mempool_mark(&n->pool, hashes[i]);
        mempool_remove_selected(&n->pool);
        node_metrics_commit_hashes(n, (const uint8_t(*)[32])hashes, b->n_txs);
        if (stats.ok_count != stats.tx_count)
            mempool_drop_stale(&n->pool, n->l);
    }
    free(hashes);
    witan__block__free_unpacked(b, NULL);
    if (err)
        return err;
    WITAN_DEBUG("node", "executed block %llu: %u transactions",
                (unsigned long long)a->height, stats.tx_count);
    struct pending p = {.type = PEND_EXECUTED, .height = a->height};
    memcpy(p.state_root, stats.state_root, 32);
    memcpy(p.receipts_root, stats.receipts_root, 32);
    return push_pending(r, &p);
}

/* Carries out one Ready, in order. */
static int carry_out(struct node *n, const pbft_actions *rd)
{
    struct replica *r = n->replica;
    int64_t now = node_monotonic_ms();
    for (size_t i = 0; i < rd->count; i++) {
        const pbft_action *a = &rd->actions[i];
        int err = WITAN_OK;
        struct pending p;
        memset(&p, 0, sizeof p);
        switch (a->type) {
        case PBFT_ACT_PERSIST: {
            size_t run = 1;
            while (i + run < rd->count &&
                   rd->actions[i + run].type == PBFT_ACT_PERSIST)
                run++;
            err = persist(n, a, run);
            i += run - 1;
            break;
        }
        case PBFT_ACT_SEND:
            if (a->to == PBFT_TO_ALL)
                send_all(n, FRAME_CONSENSUS, a->data.data, a->data.size);
            else if (a->to < r->n && a->to != r->self)
                send_frame(n, a->to, FRAME_CONSENSUS, a->data.data,
                           a->data.size);
            break;
        case PBFT_ACT_DELIVER:
            if (!r->halted)
                err = deliver(n, a);
            break;
        case PBFT_ACT_BUILD:
            p.type = PEND_BUILD;
            p.height = a->height;
            err = push_pending(r, &p);
            break;
        case PBFT_ACT_VALIDATE:
            p.type = PEND_VERDICT;
            p.height = a->height;
            memcpy(p.hash, a->block_hash, 32);
            p.valid = validate(n, a);
            err = push_pending(r, &p);
            break;
        case PBFT_ACT_READ_BLOCKS:
            p.type = PEND_READ;
            p.height = a->height;
            p.peer = a->to;
            p.count = a->count;
            err = push_pending(r, &p);
            break;
        case PBFT_ACT_SET_TIMER:
            if ((unsigned)a->timer < PBFT_TIMER_COUNT)
                r->deadline[a->timer] = now + (int64_t)a->ms;
            break;
        case PBFT_ACT_CANCEL_TIMER:
            if ((unsigned)a->timer < PBFT_TIMER_COUNT)
                r->deadline[a->timer] = 0;
            break;
        case PBFT_ACT_STABLE:
            err = stable(n, a);
            break;
        case PBFT_ACT_FORK: {
            char own[65], agreed[65];
            witan_hex_encode(a->own_root, 32, own);
            witan_hex_encode(a->stable_root, 32, agreed);
            WITAN_ERROR("node",
                        "FORK at height %llu: this node's state root %s differs "
                        "from the stable checkpoint's %s; execution stopped",
                        (unsigned long long)a->height, own, agreed);
            r->halted = true;
            break;
        }
        }
        if (err)
            return err;
    }
    return WITAN_OK;
}

/* --- answers ----------------------------------------------------------------- */

static int answer_build(struct node *n, const struct pending *p)
{
    const Witan__Params *params = n->genesis->params;
    size_t count = mempool_select(&n->pool, n->l, params->block_tx_count_max,
                                  params->block_size_max - WITAN_HEADER_SIZE_MAX,
                                  n->selection);
    /* Removal happens when the block is delivered, by hash: a proposal that
     * never commits must leave the pool as it was. */
    mempool_clear_selection(&n->pool);
    pbft_bytes *txs = calloc(count ? count : 1, sizeof *txs);
    wcrypto_digest *hashes = calloc(count ? count : 1, sizeof *hashes);
    if (!txs || !hashes) {
        free(txs);
        free(hashes);
        return WITAN_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        txs[i] = (pbft_bytes){n->selection[i]->bytes, n->selection[i]->size};
        memcpy(hashes[i], n->selection[i]->hash, 32);
    }
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_PROPOSAL;
    ev.u.proposal.height = p->height;
    ev.u.proposal.time_ms = node_wall_ms();
    wcrypto_merkle_root(hashes, count, ev.u.proposal.txs_root);
    ev.u.proposal.txs = txs;
    ev.u.proposal.tx_count = (uint32_t)count;
    int err = pbft_step(n->replica->core, &ev);
    free(txs);
    free(hashes);
    return err;
}

static int answer_read(struct node *n, const struct pending *p)
{
    uint32_t count = p->count < REPLICA_STATE_BLOCK_COUNT
                         ? p->count
                         : REPLICA_STATE_BLOCK_COUNT;
    pbft_certified_block blocks[REPLICA_STATE_BLOCK_COUNT];
    pbft_cert certs[REPLICA_STATE_BLOCK_COUNT];
    uint8_t *bytes[REPLICA_STATE_BLOCK_COUNT] = {NULL};
    uint32_t got = 0;
    for (; got < count; got++) {
        Witan__BlockResponse *b;
        if (ledger_get_block(n->l, p->height + got, &b) != 0)
            break;
        bool ok = b->cert && cert_from_proto(b->cert, &certs[got]) == 0;
        size_t size = ok ? witan__block__get_packed_size(b->block) : 0;
        bytes[got] = ok ? malloc(size) : NULL;
        if (bytes[got])
            witan__block__pack(b->block, bytes[got]);
        ledger_block_response_free(b);
        if (!bytes[got])
            break;
        blocks[got].block = (pbft_bytes){bytes[got], size};
        blocks[got].cert = &certs[got];
    }
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_BLOCKS_READ;
    ev.u.blocks_read.peer = p->peer;
    ev.u.blocks_read.blocks = blocks;
    ev.u.blocks_read.count = got;
    int err = pbft_step(n->replica->core, &ev);
    for (uint32_t i = 0; i < got; i++)
        free(bytes[i]);
    return err;
}

static int answer(struct node *n, const struct pending *p)
{
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    switch (p->type) {
    case PEND_BUILD:
        return answer_build(n, p);
    case PEND_READ:
        return answer_read(n, p);
    case PEND_VERDICT:
        ev.type = PBFT_EV_VERDICT;
        ev.u.verdict.height = p->height;
        memcpy(ev.u.verdict.block_hash, p->hash, 32);
        ev.u.verdict.valid = p->valid;
        break;
    case PEND_EXECUTED:
        ev.type = PBFT_EV_EXECUTED;
        ev.u.executed.height = p->height;
        memcpy(ev.u.executed.state_root, p->state_root, 32);
        memcpy(ev.u.executed.receipts_root, p->receipts_root, 32);
        break;
    }
    return pbft_step(n->replica->core, &ev);
}

/* Steps one event, then carries out every Ready and feeds every answer
 * until the core is quiet. */
static int drive(struct node *n, const pbft_event *ev)
{
    struct replica *r = n->replica;
    int err = ev ? pbft_step(r->core, ev) : WITAN_OK;
    /* Each Ready and each answer is finite, and answers are bounded by the
     * pending ring, so this loop ends; the bound is a safety net. */
    for (int round = 0; !err && round < 100000; round++) {
        pbft_actions rd;
        pbft_ready(r->core, &rd);
        if (rd.count) {
            err = carry_out(n, &rd);
            pbft_advance(r->core);
            if (err)
                break;
            continue;
        }
        if (r->pending_count == 0)
            break;
        struct pending p = r->pending[r->pending_head];
        r->pending_head = (r->pending_head + 1) % REPLICA_PENDING_MAX;
        r->pending_count--;
        err = answer(n, &p);
    }
    if (err)
        WITAN_ERROR("node", "consensus stopped: %s", witan_err_name(err));
    return err;
}

static int report_requests(struct node *n)
{
    struct replica *r = n->replica;
    /* Only what could be proposed counts: transactions behind a nonce gap
     * would make empty blocks, and on backups view changes against a
     * primary that has nothing to propose. One selectable transaction is
     * enough to know (the first in arrival order almost always is). */
    uint64_t waiting = 0;
    if (n->pool.count > 0) {
        waiting = mempool_select(&n->pool, n->l, 1, SIZE_MAX, n->selection)
                      ? n->pool.count
                      : 0;
        mempool_clear_selection(&n->pool);
    }
    if (r->reported_requests == waiting)
        return WITAN_OK;
    r->reported_requests = waiting;
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_REQUESTS;
    ev.u.request_count = waiting;
    return drive(n, &ev);
}

void replica_on_admitted(struct node *n, const ProtobufCBinaryData *envs,
                         size_t count)
{
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = count;
    sr.envelopes = (ProtobufCBinaryData *)envs;
    size_t size = witan__submit_request__get_packed_size(&sr);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return;
    witan__submit_request__pack(&sr, buf);
    send_all(n, FRAME_TXS, buf, size);
    free(buf);
}

/* Transactions another validator admitted: admitted here on their own
 * merits (signatures and state are checked again), never relayed on. */
static void on_relayed(struct node *n, const uint8_t *data, size_t size)
{
    Witan__SubmitRequest *sr = witan__submit_request__unpack(NULL, size, data);
    if (!sr || sr->n_envelopes > WITAN_CLIENT_BATCH_COUNT_MAX) {
        if (sr)
            witan__submit_request__free_unpacked(sr, NULL);
        return;
    }
    for (size_t i = 0; i < sr->n_envelopes; i++) {
        uint8_t hash[32];
        bool decoded;
        char why[LEDGER_WHY_SIZE];
        node_admit(n, sr->envelopes[i].data, sr->envelopes[i].len, hash,
                   &decoded, why, sizeof why);
    }
    witan__submit_request__free_unpacked(sr, NULL);
}

size_t replica_figures(const struct node *n, uint64_t *view,
                       uint64_t *view_changes, const char **reasons,
                       uint64_t *counts, size_t max)
{
    const struct replica *r = n->replica;
    *view = 0;
    *view_changes = 0;
    if (!r || !r->core)
        return 0;
    pbft_stats st;
    pbft_get_stats(r->core, &st);
    *view = pbft_view(r->core);
    *view_changes = st.view_changes;
    size_t k = 0;
    for (int i = 0; i < PBFT_DROP_COUNT && k < max; i++, k++) {
        reasons[k] = pbft_drop_name((enum pbft_drop)i);
        counts[k] = st.dropped[i];
    }
    static const char *const send_reasons[DROP_SEND_COUNT] = {
        "send queue full", "send error"};
    for (int i = 0; i < DROP_SEND_COUNT && k < max; i++, k++) {
        reasons[k] = send_reasons[i];
        counts[k] = r->send_dropped[i];
    }
    return k;
}

/* --- start ------------------------------------------------------------------- */

static int load_boot(struct node *n, pbft_boot *boot, pbft_result *results,
                     pbft_bytes **records, size_t *record_count,
                     uint8_t **stable_value, pbft_bytes *proof,
                     uint32_t *proof_count)
{
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    memset(boot, 0, sizeof *boot);
    boot->height = tip.height;
    memcpy(boot->block_hash, tip.block_hash, 32);
    boot->time_ms = tip.time_ms;
    boot->history = tip.history;
    uint32_t depth = n->genesis->params->pipeline_depth;
    uint64_t first = tip.height > depth ? tip.height - depth + 1 : 1;
    uint32_t rc = 0;
    for (uint64_t h = first; h >= 1 && h <= tip.height; h++, rc++) {
        Witan__BlockResponse *b;
        int err = ledger_get_block(n->l, h, &b);
        if (err)
            return err;
        pbft_result *x = &results[rc];
        memset(x, 0, sizeof *x);
        x->height = h;
        memcpy(x->block_hash, b->block_hash.data, 32);
        memcpy(x->state_root, b->state_root.data, 32);
        memcpy(x->receipts_root, b->receipts_root.data, 32);
        Witan__BlockHeader *hd = witan__block_header__unpack(
            NULL, b->block->header.len, b->block->header.data);
        x->time_ms = hd ? hd->time_ms : 0;
        if (hd)
            witan__block_header__free_unpacked(hd, NULL);
        err = cert_from_proto(b->cert, &x->cert);
        ledger_block_response_free(b);
        if (err)
            return err;
    }
    boot->results = results;
    boot->result_count = rc;

    store_txn *txn;
    int err = store_read_begin(ledger_store(n->l), &txn);
    if (err)
        return err;
    const void *v;
    size_t vs;
    *stable_value = NULL;
    *proof_count = 0;
    if (store_get(txn, STORE_META, META_STABLE, strlen(META_STABLE), &v, &vs) ==
            0 &&
        vs >= 40) {
        *stable_value = malloc(vs);
        if (*stable_value) {
            memcpy(*stable_value, v, vs);
            boot->stable_height = store_read_be64(*stable_value);
            memcpy(boot->stable_state_root, *stable_value + 8, 32);
            size_t o = 40;
            while (o + 4 <= vs && *proof_count < WITAN_VALIDATOR_COUNT_MAX) {
                uint32_t len = store_read_be32(*stable_value + o);
                if (o + 4 + len > vs)
                    break;
                proof[*proof_count].data = *stable_value + o + 4;
                proof[(*proof_count)++].size = len;
                o += 4 + len;
            }
            boot->stable_proof = proof;
            boot->stable_proof_count = *proof_count;
        }
    }
    /* Records in the order they were written. */
    store_cursor *c;
    err = store_cursor_open(txn, STORE_CONSENSUS, &c);
    const void *k;
    size_t ks;
    *records = NULL;
    *record_count = 0;
    int rc2 = err ? err : store_cursor_seek(c, NULL, 0, &k, &ks, &v, &vs);
    for (; rc2 == 0; rc2 = store_cursor_next(c, &k, &ks, &v, &vs)) {
        void *grown = realloc(*records, (*record_count + 1) * sizeof **records);
        uint8_t *copy = malloc(vs ? vs : 1);
        if (!grown || !copy) {
            free(grown == *records ? NULL : grown);
            free(copy);
            err = WITAN_ENOMEM;
            break;
        }
        *records = grown;
        memcpy(copy, v, vs);
        (*records)[(*record_count)++] = (pbft_bytes){copy, vs};
        n->replica->record_seq = store_read_be64(k) + 1;
    }
    store_cursor_close(c);
    store_abort(txn);
    boot->records = *records;
    boot->record_count = *record_count;
    return err;
}

static int open_sockets(struct node *n)
{
    struct replica *r = n->replica;
    const struct node_config *cfg = n->cfg;
    bool tls = cfg->tls_cert[0] != '\0';
    nng_tls_config *tcfg = NULL;
    int rc = nng_pull0_open(&r->in);
    if (rc == 0) {
        nng_socket_set_size(r->in, NNG_OPT_RECVMAXSZ,
                            WITAN_MESSAGE_SIZE_MAX + 1);
        nng_listener l;
        rc = nng_listener_create(&l, r->in, cfg->p2p_listen);
        if (!rc && tls) {
            if (node_tls_config(n, NODE_TLS_PEER_SERVER, NULL, &tcfg))
                return WITAN_ECONFIG;
            rc = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tcfg);
            nng_tls_config_free(tcfg); /* the listener holds its own ref */
        }
        if (!rc)
            rc = nng_listener_start(l, 0);
    }
    if (rc) {
        WITAN_ERROR("node", "cannot listen for peers on %s: %s",
                    cfg->p2p_listen, nng_strerror(rc));
        return WITAN_ENET;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        if (i == r->self)
            continue;
        rc = nng_push0_open(&r->out[i]);
        if (rc == 0) {
            nng_socket_set_int(r->out[i], NNG_OPT_SENDBUF,
                               (int)cfg->send_queue_count);
            nng_socket_set_ms(r->out[i], NNG_OPT_RECONNMINT, 50);
            nng_socket_set_ms(r->out[i], NNG_OPT_RECONNMAXT, 2000);
            nng_dialer d;
            rc = nng_dialer_create(&d, r->out[i], cfg->peers[i]);
            if (!rc && tls) {
                /* The peer must show a certificate of the testnet CA named
                 * for its place in the validator set. */
                char name[32];
                snprintf(name, sizeof name, "validator-%u", i);
                if (node_tls_config(n, NODE_TLS_PEER_CLIENT, name, &tcfg))
                    return WITAN_ECONFIG;
                rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tcfg);
                nng_tls_config_free(tcfg);
            }
            /* Non-blocking dial: a peer that is down is retried in the
             * background, with backoff, for as long as it takes. */
            if (!rc)
                rc = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
        }
        if (rc) {
            WITAN_ERROR("node", "cannot dial peer %u at %s: %s", i,
                        cfg->peers[i], nng_strerror(rc));
            return WITAN_ENET;
        }
    }
    return WITAN_OK;
}

static void replica_free(struct node *n)
{
    struct replica *r = n->replica;
    if (!r)
        return;
    pbft_free(r->core);
    if (nng_socket_id(r->in) > 0)
        nng_close(r->in);
    for (uint32_t i = 0; i < r->n; i++)
        if (nng_socket_id(r->out[i]) > 0)
            nng_close(r->out[i]);
    free(r);
    n->replica = NULL;
}

static int replica_start(struct node *n)
{
    struct replica *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    n->replica = r;
    r->n = (uint32_t)n->genesis->n_validators;
    r->self = n->validator_index;
    r->reported_requests = UINT64_MAX;
    for (uint32_t i = 0; i < WITAN_VALIDATOR_COUNT_MAX; i++)
        r->out[i] = (nng_socket)NNG_SOCKET_INITIALIZER;
    r->in = (nng_socket)NNG_SOCKET_INITIALIZER;

    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
    for (uint32_t i = 0; i < r->n; i++) {
        const Witan__Validator *v = n->genesis->validators[i];
        int err = wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, v->pubkey.data,
                                       v->pubkey.len, &keys[i]);
        if (err)
            return err;
    }
    pbft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.chain_id = n->genesis->chain_id;
    cfg.validator_count = r->n;
    cfg.validators = keys;
    cfg.self = r->self;
    cfg.key = &n->key;
    cfg.pipeline_depth = n->genesis->params->pipeline_depth;
    cfg.checkpoint_interval = n->genesis->params->checkpoint_interval;
    cfg.view_timeout_ms = n->cfg->view_timeout_ms;
    cfg.view_timeout_max_ms = n->cfg->view_timeout_max_ms;
    cfg.retransmit_ms = REPLICA_RETRANSMIT_MS;
    cfg.state_block_count = REPLICA_STATE_BLOCK_COUNT;
    cfg.sig_scheme = PBFT_SIG_ED25519;

    pbft_boot boot;
    pbft_result results[WITAN_PIPELINE_DEPTH_MAX];
    pbft_bytes *records = NULL, proof[WITAN_VALIDATOR_COUNT_MAX];
    size_t record_count = 0;
    uint8_t *stable_value = NULL;
    uint32_t proof_count = 0;
    int err = load_boot(n, &boot, results, &records, &record_count,
                        &stable_value, proof, &proof_count);
    if (!err)
        err = pbft_new(&cfg, &boot, &r->core);
    for (size_t i = 0; i < record_count; i++)
        free((void *)records[i].data);
    free(records);
    free(stable_value);
    if (err) {
        WITAN_ERROR("node", "consensus cannot start: %s",
                    witan_err_message(err));
        return err;
    }
    WITAN_INFO("node", "validator %u of %u; %zu consensus records replayed",
               r->self, r->n, record_count);
    return open_sockets(n);
}

/* --- the loop ----------------------------------------------------------------- */

static int fd_of(nng_socket s)
{
    int fd = -1;
    if (nng_socket_get_int(s, NNG_OPT_RECVFD, &fd) != 0)
        return -1;
    return fd;
}

int replica_run(struct node *n, volatile sig_atomic_t *stop)
{
    int err = replica_start(n);
    if (!err)
        err = drive(n, NULL); /* the first Ready arms the timers */
    struct replica *r = n->replica;
    struct pollfd fds[2];
    if (!err) {
        fds[0] = (struct pollfd){.fd = fd_of(n->sock), .events = POLLIN};
        fds[1] = (struct pollfd){.fd = fd_of(r->in), .events = POLLIN};
        if (fds[0].fd < 0 || fds[1].fd < 0)
            err = WITAN_ENET;
    }
    while (!err && !*stop) {
        int64_t now = node_monotonic_ms(), wait = REPLICA_WAIT_MAX_MS;
        for (int t = 0; t < PBFT_TIMER_COUNT; t++)
            if (r->deadline[t] && r->deadline[t] - now < wait)
                wait = r->deadline[t] - now;
        if (wait > 0)
            poll(fds, 2, (int)wait);

        for (int i = 0; i < NODE_REQUESTS_PER_ROUND_MAX && !err; i++) {
            nng_msg *msg;
            if (nng_recvmsg(n->sock, &msg, NNG_FLAG_NONBLOCK) != 0)
                break;
            node_handle_request(n, msg);
        }
        for (int i = 0; i < NODE_P2P_MESSAGES_PER_ROUND_MAX && !err; i++) {
            nng_msg *msg;
            if (nng_recvmsg(r->in, &msg, NNG_FLAG_NONBLOCK) != 0)
                break;
            const uint8_t *body = nng_msg_body(msg);
            size_t size = nng_msg_len(msg);
            if (size > 1 && body[0] == FRAME_CONSENSUS) {
                pbft_event ev;
                memset(&ev, 0, sizeof ev);
                ev.type = PBFT_EV_MESSAGE;
                ev.u.message = (pbft_bytes){body + 1, size - 1};
                err = drive(n, &ev);
            } else if (size > 1 && body[0] == FRAME_TXS) {
                on_relayed(n, body + 1, size - 1);
            }
            nng_msg_free(msg);
        }
        now = node_monotonic_ms();
        for (int t = 0; t < PBFT_TIMER_COUNT && !err; t++) {
            if (!r->deadline[t] || r->deadline[t] > now)
                continue;
            r->deadline[t] = 0;
            pbft_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = PBFT_EV_TIMER;
            ev.u.timer = (enum pbft_timer)t;
            err = drive(n, &ev);
        }
        if (!err)
            err = report_requests(n);
    }
    if (r) {
        pbft_stats st;
        if (r->core) {
            pbft_get_stats(r->core, &st);
            WITAN_INFO("node",
                       "consensus: view %llu, %llu delivered, %llu view "
                       "changes, sends dropped %llu",
                       (unsigned long long)pbft_view(r->core),
                       (unsigned long long)st.delivered,
                       (unsigned long long)st.view_changes,
                       (unsigned long long)(r->send_dropped[0] +
                                            r->send_dropped[1]));
        }
    }
    replica_free(n);
    return err;
}
