/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Links between validators: each node accepts streams from its peers and
 * keeps one stream dialled to every peer (node/link.c: framed streams over
 * nng, redialled with backoff; the frames one loop round sends a peer go
 * out in one write). Every frame carries a MAC under the link key of its
 * sender and receiver (node/frame.c), checked as it is taken off the
 * socket and before anything in it is decoded; authenticated frames wait
 * in their sender's bounded backlog, and backlogs are served in turn, so a
 * validator that floods fills only its own. Sends never block: a full
 * queue drops the frame and counts it, and the core's retransmission makes
 * up for it. TLS, when configured, comes from the owner's hook, so that
 * this file knows nothing of certificates or homes.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <sodium.h>

#include "node/node.h"

/* Frames taken off the links per call before one is handed out: enough to
 * keep every backlog fed, few enough that a call stays short. */
#define MESH_DRAIN_MAX 64

struct backlog {
    struct {
        nng_msg *msg;
        struct node_frame f;
    } ring[NODE_PEER_BACKLOG_COUNT_MAX];
    uint32_t head, count;
    size_t size; /* bytes held */
};

/* Places in another validator set (node_mesh_places). */
struct places {
    bool on;
    uint32_t n, self;
    uint8_t keys[WITAN_VALIDATOR_COUNT_MAX][WCRYPTO_LINK_KEY_SIZE];
    uint32_t to_linked[WITAN_VALIDATOR_COUNT_MAX];   /* UINT32_MAX: none */
    uint32_t from_linked[WITAN_VALIDATOR_COUNT_MAX]; /* UINT32_MAX: none */
};

struct node_mesh {
    struct node_links *links; /* link i dials validator i */
    uint32_t n, self;
    uint8_t keys[WITAN_VALIDATOR_COUNT_MAX][WCRYPTO_LINK_KEY_SIZE];
    wcrypto_pubkey pubs[WITAN_VALIDATOR_COUNT_MAX]; /* the set linked */
    struct places places[NODE_MESH_PLACES];
    /* How each peer addressed its last frame, and is answered: 0 by the
     * set linked, k + 1 by places[k]. */
    uint8_t reply_via[WITAN_VALIDATOR_COUNT_MAX];
    struct backlog *backlog; /* n of them */
    uint32_t next;           /* the backlog served next */
    uint64_t dropped[NODE_DROP_COUNT];
    /* Each link's address, for the logs; written before it is dialled. */
    char address[WITAN_VALIDATOR_COUNT_MAX][NODE_ADDRESS_SIZE_MAX];
    atomic_bool closing; /* links going down on purpose: not logged */
};

/* Tells the operator when a peer's link comes up or goes down
 * (spec/node.md, "Logs"), not on every reconnection attempt between. */
static void on_link(void *ctx, uint32_t i, bool up)
{
    struct node_mesh *m = ctx;
    if (atomic_load(&m->closing))
        return;
    if (up)
        witan_log_event(WITAN_LOG_INFO, "node", "peer connected",
                        "validator=%u address=%s", i, m->address[i]);
    else
        witan_log_event(WITAN_LOG_WARN, "node", "peer lost",
                        "validator=%u address=%s", i, m->address[i]);
}

static int open_links(struct node_mesh *m, const struct node_mesh_config *c)
{
    struct node_links_config lc;
    memset(&lc, 0, sizeof lc);
    /* A lone validator has no peers to hear: the set stays, so that the
     * driver's poll loop is the same, but nothing listens. */
    lc.listen = m->n > 1 ? c->listen : NULL;
    lc.frame_size_max = NODE_FRAME_SIZE_MAX;
    lc.in_queue_count = NODE_PEER_BACKLOG_COUNT_MAX;
    lc.in_queue_size = NODE_PEER_BACKLOG_SIZE_MAX;
    lc.out_queue_count = c->send_queue_count ? c->send_queue_count : 1;
    lc.out_queue_size = 2 * (size_t)NODE_FRAME_SIZE_MAX;
    lc.on_link = on_link;
    lc.ctx = m;
    nng_tls_config *tcfg = NULL;
    if (lc.listen && c->tls) {
        int err = c->tls(c->tls_ctx, true, NULL, &tcfg);
        if (err)
            return err;
        lc.tls = tcfg;
    }
    int err = node_links_open(&lc, &m->links);
    if (tcfg)
        nng_tls_config_free(tcfg); /* the listener holds its own ref */
    if (err == WITAN_ENET)
        WITAN_ERROR("node", "cannot listen for peers on %s", c->listen);
    return err;
}

static int open_dialer(struct node_mesh *m, const struct node_mesh_config *c,
                       uint32_t i)
{
    snprintf(m->address[i], sizeof m->address[i], "%s", c->peers[i]);
    nng_tls_config *tcfg = NULL;
    if (c->tls) {
        /* The peer must show a certificate named for its place in the
         * validator set. */
        char name[32];
        snprintf(name, sizeof name, "validator-%u", i);
        int err = c->tls(c->tls_ctx, false, name, &tcfg);
        if (err)
            return err;
    }
    /* A peer that is down is redialled in the background, with backoff,
     * for as long as it takes. */
    int err = node_links_dial(m->links, i, c->peers[i], tcfg);
    if (tcfg)
        nng_tls_config_free(tcfg);
    if (err) {
        WITAN_ERROR("node", "cannot dial peer %u at %s: %s", i, c->peers[i],
                    witan_err_message(err));
        return WITAN_ENET;
    }
    return WITAN_OK;
}

int node_mesh_open(const struct node_mesh_config *c, struct node_mesh **out)
{
    *out = NULL;
    if (c->validator_count == 0 ||
        c->validator_count > WITAN_VALIDATOR_COUNT_MAX ||
        c->self >= c->validator_count || !c->key || !c->validators ||
        !c->chain_id)
        return WITAN_ECONFIG;
    struct node_mesh *m = calloc(1, sizeof *m);
    if (!m)
        return WITAN_ENOMEM;
    m->n = c->validator_count;
    m->self = c->self;
    memcpy(m->pubs, c->validators, m->n * sizeof m->pubs[0]);
    m->backlog = calloc(m->n, sizeof *m->backlog);
    if (!m->backlog) {
        free(m);
        return WITAN_ENOMEM;
    }
    atomic_init(&m->closing, false);
    int err = WITAN_OK;
    for (uint32_t i = 0; i < m->n && !err; i++) {
        if (i == m->self)
            continue;
        err = wcrypto_link_key(c->key, &c->validators[i], c->chain_id,
                               m->keys[i]);
        if (err) {
            WITAN_ERROR("node", "no link key with validator %u: %s", i,
                        witan_err_message(err));
            err = WITAN_ECONFIG;
        }
    }
    if (!err)
        err = open_links(m, c);
    for (uint32_t i = 0; i < m->n && !err; i++)
        if (i != m->self)
            err = open_dialer(m, c, i);
    if (err) {
        node_mesh_close(m);
        return err;
    }
    *out = m;
    return WITAN_OK;
}

void node_mesh_close(struct node_mesh *m)
{
    if (!m)
        return;
    atomic_store(&m->closing, true);
    node_links_close(m->links);
    for (uint32_t i = 0; i < m->n; i++) {
        struct backlog *b = &m->backlog[i];
        for (uint32_t k = 0; k < b->count; k++)
            nng_msg_free(
                b->ring[(b->head + k) % NODE_PEER_BACKLOG_COUNT_MAX].msg);
    }
    free(m->backlog);
    sodium_memzero(m->keys, sizeof m->keys);
    sodium_memzero(m->places, sizeof m->places);
    free(m);
}

int node_mesh_relink(struct node_mesh *m, const struct node_mesh_config *c)
{
    if (c->validator_count == 0 ||
        c->validator_count > WITAN_VALIDATOR_COUNT_MAX ||
        c->self >= c->validator_count)
        return WITAN_ECONFIG;
    struct backlog *fresh = calloc(c->validator_count, sizeof *fresh);
    if (!fresh)
        return WITAN_ENOMEM;
    /* Links of the old set go down on purpose: not logged as lost. */
    atomic_store(&m->closing, true);
    for (uint32_t i = 0; i < m->n; i++) {
        node_links_undial(m->links, i);
        struct backlog *b = &m->backlog[i];
        for (uint32_t k = 0; k < b->count; k++)
            nng_msg_free(
                b->ring[(b->head + k) % NODE_PEER_BACKLOG_COUNT_MAX].msg);
    }
    free(m->backlog);
    m->backlog = fresh;
    m->next = 0;
    m->n = c->validator_count;
    m->self = c->self;
    sodium_memzero(m->keys, sizeof m->keys);
    memcpy(m->pubs, c->validators, m->n * sizeof m->pubs[0]);
    sodium_memzero(m->places, sizeof m->places);
    memset(m->reply_via, 0, sizeof m->reply_via);
    atomic_store(&m->closing, false);
    int err = WITAN_OK;
    for (uint32_t i = 0; i < m->n && !err; i++)
        if (i != m->self &&
            wcrypto_link_key(c->key, &c->validators[i], c->chain_id,
                             m->keys[i]) != 0)
            err = WITAN_ECONFIG;
    for (uint32_t i = 0; i < m->n && !err; i++)
        if (i != m->self)
            err = open_dialer(m, c, i);
    return err;
}

int node_mesh_places(struct node_mesh *m, int slot,
                     const struct node_mesh_config *c)
{
    if (slot < 0 || slot >= NODE_MESH_PLACES)
        return WITAN_EINVAL;
    struct places *p = &m->places[slot];
    sodium_memzero(p, sizeof *p);
    for (uint32_t i = 0; i < WITAN_VALIDATOR_COUNT_MAX; i++)
        if (m->reply_via[i] == slot + 1)
            m->reply_via[i] = 0;
    if (!c || c->self == UINT32_MAX)
        return WITAN_OK;
    if (c->validator_count == 0 ||
        c->validator_count > WITAN_VALIDATOR_COUNT_MAX ||
        c->self >= c->validator_count || !c->key || !c->validators ||
        !c->chain_id)
        return WITAN_ECONFIG;
    p->n = c->validator_count;
    p->self = c->self;
    for (uint32_t i = 0; i < WITAN_VALIDATOR_COUNT_MAX; i++)
        p->to_linked[i] = p->from_linked[i] = UINT32_MAX;
    for (uint32_t i = 0; i < p->n; i++) {
        if (i == p->self)
            continue;
        if (wcrypto_link_key(c->key, &c->validators[i], c->chain_id,
                             p->keys[i]) != 0) {
            sodium_memzero(p, sizeof *p);
            return WITAN_ECONFIG;
        }
        for (uint32_t j = 0; j < m->n; j++)
            if (j != m->self &&
                memcmp(m->pubs[j].bytes, c->validators[i].bytes,
                       WCRYPTO_ED25519_PUBKEY_SIZE) == 0) {
                p->to_linked[i] = j;
                p->from_linked[j] = i;
            }
    }
    p->on = true;
    return WITAN_OK;
}

/* Seals the built frame for `to` and queues it: addressed by the places
 * the peer last used (node_mesh_places). */
static void send_one(struct node_mesh *m, uint32_t to, uint8_t *frame,
                     size_t size)
{
    const struct places *p =
        m->reply_via[to] ? &m->places[m->reply_via[to] - 1] : NULL;
    if (p && p->on && p->from_linked[to] != UINT32_MAX)
        node_frame_seal_from(frame, size, p->self, p->from_linked[to],
                             p->keys[p->from_linked[to]]);
    else
        node_frame_seal(frame, size, to, m->keys[to]);
    int err = node_links_send(m->links, to, frame, size);
    if (err)
        m->dropped[err == WITAN_EFULL ? NODE_DROP_QUEUE_FULL
                                      : NODE_DROP_SEND_ERROR]++;
}

void node_mesh_send(struct node_mesh *m, uint32_t to, uint8_t kind,
                    const uint8_t *data, size_t size)
{
    if (to != PBFT_TO_ALL && (to >= m->n || to == m->self))
        return;
    pbft_bytes item = {data, size};
    size_t frame_size = NODE_FRAME_HEADER_SIZE + NODE_FRAME_COUNT_SIZE +
                        NODE_FRAME_LENGTH_SIZE + size + WCRYPTO_MAC_SIZE;
    uint8_t small[1024];
    uint8_t *frame = frame_size <= sizeof small ? small : malloc(frame_size);
    size_t written;
    if (!frame || node_frame_build(kind, m->self, &item, 1, frame, frame_size,
                                   &written) != 0) {
        if (frame != small)
            free(frame);
        m->dropped[NODE_DROP_SEND_ERROR]++;
        return;
    }
    WITAN_ASSERT(written == frame_size);
    if (to != PBFT_TO_ALL) {
        send_one(m, to, frame, frame_size);
    } else {
        for (uint32_t i = 0; i < m->n; i++)
            if (i != m->self)
                send_one(m, i, frame, frame_size);
    }
    if (frame != small)
        free(frame);
}

void node_mesh_flush(struct node_mesh *m)
{
    node_links_flush(m->links);
}

/* Takes what waits on the links into the senders' backlogs, dropping what
 * does not open and what would overfill a backlog. */
static void drain(struct node_mesh *m)
{
    for (int i = 0; i < MESH_DRAIN_MAX; i++) {
        nng_msg *msg;
        if (node_links_recv(m->links, &msg, NULL) != 0)
            return;
        struct node_frame f;
        size_t size = nng_msg_len(msg);
        const uint8_t *bytes = nng_msg_body(msg);
        int err = node_frame_open(bytes, size, m->self, m->n,
                                  (const uint8_t(*)[WCRYPTO_LINK_KEY_SIZE])
                                      m->keys,
                                  &f);
        uint8_t via = 0;
        /* A peer on the other side of a set switch: at most one more MAC
         * per place set held, and only for frames the set linked refused. */
        for (int k = 0; err == WITAN_EAUTH && k < NODE_MESH_PLACES; k++) {
            const struct places *p = &m->places[k];
            struct node_frame g;
            if (!p->on ||
                node_frame_open(bytes, size, p->self, p->n,
                                (const uint8_t(*)[WCRYPTO_LINK_KEY_SIZE])
                                    p->keys,
                                &g) != 0 ||
                p->to_linked[g.sender] == UINT32_MAX)
                continue;
            f = g;
            f.sender = p->to_linked[g.sender];
            via = (uint8_t)(k + 1);
            err = WITAN_OK;
        }
        if (!err)
            m->reply_via[f.sender] = via;
        if (err) {
            m->dropped[err == WITAN_EAUTH ? NODE_DROP_UNAUTHENTICATED
                                          : NODE_DROP_MALFORMED]++;
            nng_msg_free(msg);
            continue;
        }
        struct backlog *b = &m->backlog[f.sender];
        if (b->count == NODE_PEER_BACKLOG_COUNT_MAX ||
            size > NODE_PEER_BACKLOG_SIZE_MAX - b->size) {
            m->dropped[NODE_DROP_PEER_BACKLOG]++;
            nng_msg_free(msg);
            continue;
        }
        uint32_t at = (b->head + b->count) % NODE_PEER_BACKLOG_COUNT_MAX;
        b->ring[at].msg = msg;
        b->ring[at].f = f;
        b->count++;
        b->size += size;
    }
}

int node_mesh_recv(struct node_mesh *m, struct node_frame *f, nng_msg **msg)
{
    drain(m);
    for (uint32_t k = 0; k < m->n; k++) {
        uint32_t i = (m->next + k) % m->n;
        struct backlog *b = &m->backlog[i];
        if (b->count == 0)
            continue;
        *msg = b->ring[b->head].msg;
        *f = b->ring[b->head].f;
        b->head = (b->head + 1) % NODE_PEER_BACKLOG_COUNT_MAX;
        b->count--;
        b->size -= nng_msg_len(*msg);
        m->next = (i + 1) % m->n;
        return WITAN_OK;
    }
    return WITAN_ENOTFOUND;
}

bool node_mesh_pending(const struct node_mesh *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (m->backlog[i].count)
            return true;
    return false;
}

const char *node_mesh_drop_name(enum node_mesh_drop reason)
{
    static const char *const names[NODE_DROP_COUNT] = {
        "send queue full", "send error", "malformed frame",
        "unauthenticated frame", "peer backlog full"};
    return (unsigned)reason < NODE_DROP_COUNT ? names[reason] : "unknown";
}

uint64_t node_mesh_dropped(const struct node_mesh *m,
                           enum node_mesh_drop reason)
{
    return (unsigned)reason < NODE_DROP_COUNT ? m->dropped[reason] : 0;
}

uint32_t node_mesh_connected(struct node_mesh *m)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < m->n; i++)
        up += i != m->self && node_links_up(m->links, i);
    return up;
}

uint32_t node_mesh_peers(const struct node_mesh *m)
{
    return m->n - (m->self < m->n);
}

int node_mesh_fd(const struct node_mesh *m)
{
    return node_links_fd(m->links);
}
