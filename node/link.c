/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-way framed byte streams over nng's stream API (TCP, IPC, TLS): the
 * transport under the validator links and the ordering benchmark's client
 * traffic (spec/node.md, "Links"). nng's SP sockets hand every message
 * between threads and allocate it on its own, 30-40 us a message on this
 * kind of machine; here the owner's loop queues frames in one buffer per
 * peer and a flush hands all of them to the kernel in one write, and a read
 * takes whatever arrived, cut into frames, with one wake-up of the loop for
 * the batch. Under load the costs per write and per wake-up are thus shared
 * by as many frames as waited.
 *
 * nng calls back on its own threads; one mutex guards the set. Callbacks
 * never free a stream or an aio: what dies is closed there and freed by the
 * owner's thread (or at the next dial), where waiting on nng is allowed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "node/node.h"

#define LINK_HELLO_SIZE 4
#define LINK_PREFIX_SIZE 4
#define LINK_READ_SIZE (64 * 1024) /* bytes asked of one read at least */
#define LINK_BUFFER_SIZE_MIN (16 * 1024)
#define LINK_REDIAL_MIN_MS 50
#define LINK_REDIAL_MAX_MS 2000

static const uint8_t hello[LINK_HELLO_SIZE] = {
    NODE_LINK_MAGIC_0, NODE_LINK_MAGIC_1, 0, NODE_LINK_VERSION};

/* A dialled stream: the owner's frames go out on it. */
struct out {
    struct node_links *s;
    uint32_t id;
    bool used;
    char url[NODE_ADDRESS_SIZE_MAX];
    nng_stream_dialer *dialer;
    nng_stream *st;   /* up, or NULL */
    nng_stream *dead; /* closed, freed once no aio uses it */
    nng_aio *dial_aio, *send_aio, *probe_aio;
    bool dialing, sleeping, writing, probing;
    nng_duration backoff;
    uint8_t probe_byte;
    /* q: frames queued since the last write began; w: the write's. */
    uint8_t *q, *w;
    size_t q_len, q_cap, w_len, w_off, w_cap;
    uint32_t q_count;
};

/* An accepted stream: frames come in on it. */
struct in {
    struct node_links *s;
    nng_stream *st;
    nng_aio *aio;
    bool reading, dead, greeted;
    uint64_t active; /* s->tick at its last frame, or when accepted */
    uint8_t *buf; /* bytes read and not yet cut into frames */
    size_t len, cap;
    nng_msg **ring; /* frames cut, waiting for the owner */
    uint32_t head, count;
    size_t bytes;
};

struct node_links {
    pthread_mutex_t mu;
    struct node_links_config c;
    int efd;
    bool signalled, closing;
    nng_stream_listener *listener;
    nng_aio *accept_aio;
    struct in *ins[NODE_LINK_IN_MAX];
    uint32_t next_in;
    uint64_t tick;
    struct out outs[NODE_LINK_OUT_MAX];
    uint64_t refused; /* streams refused: too many, or no hello */
    uint64_t malformed;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static bool reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : LINK_BUFFER_SIZE_MIN;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

static void wake(struct node_links *s)
{
    if (s->signalled)
        return;
    uint64_t one = 1;
    s->signalled = write(s->efd, &one, sizeof one) == sizeof one;
}

/* --- sending ---------------------------------------------------------------- */

static void start_write(struct out *k)
{
    WITAN_ASSERT(k->st && !k->writing);
    if (k->w_off == k->w_len) {
        if (k->q_len == 0)
            return;
        uint8_t *t = k->w;
        size_t tc = k->w_cap;
        k->w = k->q;
        k->w_cap = k->q_cap;
        k->w_len = k->q_len;
        k->w_off = 0;
        k->q = t;
        k->q_cap = tc;
        k->q_len = 0;
        k->q_count = 0;
    }
    nng_iov iov = {.iov_buf = k->w + k->w_off, .iov_len = k->w_len - k->w_off};
    nng_aio_set_iov(k->send_aio, 1, &iov);
    k->writing = true;
    nng_stream_send(k->st, k->send_aio);
}

static void redial(struct out *k)
{
    if (k->st || k->writing || k->probing || k->dialing || k->s->closing ||
        !k->used)
        return;
    k->dialing = k->sleeping = true;
    nng_sleep_aio(k->backoff, k->dial_aio);
}

/* The stream failed or the peer hung up: what was being written is lost
 * (the owner's protocol makes up for it) and the queue waits for the next
 * stream, which begins with a hello. */
static void lost(struct out *k)
{
    if (!k->st)
        return;
    nng_stream_close(k->st);
    k->dead = k->st;
    k->st = NULL;
    if (k->s->c.on_link && !k->s->closing)
        k->s->c.on_link(k->s->c.ctx, k->id, false);
}

static void on_send(void *arg)
{
    struct out *k = arg;
    struct node_links *s = k->s;
    pthread_mutex_lock(&s->mu);
    k->writing = false;
    if (nng_aio_result(k->send_aio) != 0) {
        k->w_len = k->w_off = 0;
        lost(k);
    } else {
        k->w_off += nng_aio_count(k->send_aio);
        if (k->st && (k->w_off < k->w_len || k->q_len))
            start_write(k);
    }
    redial(k); /* when the probe saw the stream end first */
    pthread_mutex_unlock(&s->mu);
}

/* Peers never write on a link they accepted: a read that ends, with bytes
 * or an error, means the stream is of no more use. */
static void on_probe(void *arg)
{
    struct out *k = arg;
    pthread_mutex_lock(&k->s->mu);
    k->probing = false;
    lost(k);
    redial(k);
    pthread_mutex_unlock(&k->s->mu);
}

static void on_dial(void *arg)
{
    struct out *k = arg;
    struct node_links *s = k->s;
    pthread_mutex_lock(&s->mu);
    int rv = nng_aio_result(k->dial_aio);
    if (s->closing || !k->used) {
        if (!rv && !k->sleeping)
            nng_stream_free(nng_aio_get_output(k->dial_aio, 0));
        k->dialing = k->sleeping = false;
    } else if (k->sleeping) {
        k->sleeping = false;
        nng_stream_dialer_dial(k->dialer, k->dial_aio);
    } else if (rv) {
        k->backoff = k->backoff * 2 > LINK_REDIAL_MAX_MS ? LINK_REDIAL_MAX_MS
                                                          : k->backoff * 2;
        k->sleeping = true;
        nng_sleep_aio(k->backoff, k->dial_aio);
    } else {
        k->dialing = false;
        k->backoff = LINK_REDIAL_MIN_MS;
        if (k->dead) { /* no aio uses it: both ended before the redial */
            nng_stream_free(k->dead);
            k->dead = NULL;
        }
        k->st = nng_aio_get_output(k->dial_aio, 0);
        /* The new stream starts at a frame boundary with a hello; what was
         * queued follows it. */
        if (!reserve(&k->q, &k->q_cap, k->q_len + LINK_HELLO_SIZE))
            k->q_len = k->q_count = 0; /* dropped, as a full queue's */
        memmove(k->q + LINK_HELLO_SIZE, k->q, k->q_len);
        memcpy(k->q, hello, LINK_HELLO_SIZE);
        k->q_len += LINK_HELLO_SIZE;
        k->w_len = k->w_off = 0;
        nng_iov iov = {.iov_buf = &k->probe_byte, .iov_len = 1};
        nng_aio_set_iov(k->probe_aio, 1, &iov);
        k->probing = true;
        nng_stream_recv(k->st, k->probe_aio);
        start_write(k);
        if (s->c.on_link)
            s->c.on_link(s->c.ctx, k->id, true);
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- receiving --------------------------------------------------------------- */

static void start_read(struct in *c)
{
    struct node_links *s = c->s;
    size_t want = c->len + LINK_READ_SIZE;
    if (c->len >= LINK_PREFIX_SIZE && c->greeted) {
        size_t frame = LINK_PREFIX_SIZE + be32(c->buf);
        if (frame > want)
            want = frame;
    }
    if (!reserve(&c->buf, &c->cap, want)) {
        c->dead = true; /* no memory: the peer reconnects */
        nng_stream_close(c->st);
        wake(s);
        return;
    }
    nng_iov iov = {.iov_buf = c->buf + c->len, .iov_len = c->cap - c->len};
    nng_aio_set_iov(c->aio, 1, &iov);
    c->reading = true;
    nng_stream_recv(c->st, c->aio);
}

static void refuse(struct in *c)
{
    c->dead = true;
    c->s->malformed++;
    nng_stream_close(c->st);
    wake(c->s); /* the owner reaps it */
}

/* Cuts what was read into frames while the stream's queue has room; true
 * when there is room left to read more. */
static bool cut(struct in *c)
{
    struct node_links *s = c->s;
    size_t at = 0;
    if (!c->greeted && c->len >= LINK_HELLO_SIZE) {
        if (memcmp(c->buf, hello, LINK_HELLO_SIZE) != 0) {
            refuse(c);
            return false;
        }
        c->greeted = true;
        at = LINK_HELLO_SIZE;
    }
    bool room = true;
    while (c->greeted && c->len - at >= LINK_PREFIX_SIZE) {
        size_t size = be32(c->buf + at);
        if (size == 0 || size > s->c.frame_size_max) {
            refuse(c);
            return false;
        }
        if (c->len - at - LINK_PREFIX_SIZE < size)
            break;
        if (c->count == s->c.in_queue_count ||
            size > s->c.in_queue_size - c->bytes) {
            room = false;
            break;
        }
        nng_msg *m;
        if (nng_msg_alloc(&m, size) != 0) {
            room = false;
            break;
        }
        memcpy(nng_msg_body(m), c->buf + at + LINK_PREFIX_SIZE, size);
        c->ring[(c->head + c->count) % s->c.in_queue_count] = m;
        c->count++;
        c->bytes += size;
        c->active = ++s->tick;
        at += LINK_PREFIX_SIZE + size;
        wake(s);
    }
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
    return room;
}

static void on_read(void *arg)
{
    struct in *c = arg;
    struct node_links *s = c->s;
    pthread_mutex_lock(&s->mu);
    c->reading = false;
    if (nng_aio_result(c->aio) != 0) {
        c->dead = true;
        nng_stream_close(c->st);
        wake(s); /* the owner reaps it */
    } else {
        c->len += nng_aio_count(c->aio);
        if (cut(c) && !s->closing)
            start_read(c);
    }
    pthread_mutex_unlock(&s->mu);
}

static void free_in(struct in *c)
{
    if (!c)
        return;
    nng_aio_free(c->aio); /* waits for a callback under way */
    nng_stream_free(c->st);
    for (uint32_t i = 0; i < c->count; i++)
        nng_msg_free(c->ring[(c->head + i) % c->s->c.in_queue_count]);
    free(c->ring);
    free(c->buf);
    free(c);
}

static void on_accept(void *arg)
{
    struct node_links *s = arg;
    pthread_mutex_lock(&s->mu);
    if (nng_aio_result(s->accept_aio) != 0 || s->closing) {
        /* Accepting goes on after a failure (out of descriptors, say),
         * unless the set closes. */
        if (!s->closing)
            nng_sleep_aio(LINK_REDIAL_MIN_MS, s->accept_aio);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    nng_stream *st = nng_aio_get_output(s->accept_aio, 0);
    if (!st) { /* the end of the sleep above */
        nng_stream_listener_accept(s->listener, s->accept_aio);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    nng_aio_set_output(s->accept_aio, 0, NULL);
    uint32_t slot = NODE_LINK_IN_MAX, idle = NODE_LINK_IN_MAX;
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++) {
        struct in *o = s->ins[i];
        if (!o && slot == NODE_LINK_IN_MAX)
            slot = i;
        if (o && !o->dead &&
            (idle == NODE_LINK_IN_MAX || o->active < s->ins[idle]->active))
            idle = i;
    }
    /* Every slot taken: the stream that delivered a frame longest ago
     * goes (its slot frees at the owner's next receive) and this one is
     * refused; a peer that redials gets in, and streams opened to hold
     * slots without sending are the first to go. */
    if (slot == NODE_LINK_IN_MAX && idle < NODE_LINK_IN_MAX) {
        s->ins[idle]->dead = true;
        nng_stream_close(s->ins[idle]->st);
        wake(s);
    }
    struct in *c = slot < NODE_LINK_IN_MAX ? calloc(1, sizeof *c) : NULL;
    if (c) {
        c->s = s;
        c->st = st;
        c->active = ++s->tick;
        c->ring = calloc(s->c.in_queue_count, sizeof *c->ring);
        if (!c->ring || nng_aio_alloc(&c->aio, on_read, c) != 0) {
            free(c->ring);
            free(c);
            c = NULL;
        }
    }
    if (!c) {
        s->refused++;
        nng_stream_close(st);
        nng_stream_free(st);
    } else {
        s->ins[slot] = c;
        start_read(c);
    }
    nng_stream_listener_accept(s->listener, s->accept_aio);
    pthread_mutex_unlock(&s->mu);
}

/* --- the owner's side ------------------------------------------------------- */

int node_links_open(const struct node_links_config *c, struct node_links **out)
{
    *out = NULL;
    if (c->frame_size_max == 0 || c->frame_size_max > UINT32_MAX ||
        c->in_queue_count == 0 || c->in_queue_size < c->frame_size_max)
        return WITAN_ECONFIG;
    struct node_links *s = calloc(1, sizeof *s);
    if (!s)
        return WITAN_ENOMEM;
    s->c = *c;
    s->c.listen = NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        free(s);
        return WITAN_EIO;
    }
    for (uint32_t i = 0; i < NODE_LINK_OUT_MAX; i++)
        s->outs[i].s = s;
    if (!c->listen)
        return *out = s, WITAN_OK;
    int rv = nng_stream_listener_alloc(&s->listener, c->listen);
    if (!rv && c->tls)
        rv = nng_stream_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG,
                                         c->tls);
    if (!rv)
        rv = nng_stream_listener_listen(s->listener);
    if (!rv)
        rv = nng_aio_alloc(&s->accept_aio, on_accept, s);
    if (rv) {
        WITAN_ERROR("node", "cannot listen on %s: %s", c->listen,
                    nng_strerror(rv));
        node_links_close(s);
        return WITAN_ENET;
    }
    nng_stream_listener_accept(s->listener, s->accept_aio);
    *out = s;
    return WITAN_OK;
}

int node_links_dial(struct node_links *s, uint32_t id, const char *url,
                    struct nng_tls_config *tls)
{
    if (id >= NODE_LINK_OUT_MAX || !url ||
        strlen(url) >= NODE_ADDRESS_SIZE_MAX)
        return WITAN_EINVAL;
    struct out *k = &s->outs[id];
    if (k->used)
        return WITAN_EEXIST;
    memset(k, 0, sizeof *k);
    k->s = s;
    k->id = id;
    snprintf(k->url, sizeof k->url, "%s", url);
    k->backoff = LINK_REDIAL_MIN_MS;
    int rv = reserve(&k->q, &k->q_cap, LINK_BUFFER_SIZE_MIN) ? 0 : NNG_ENOMEM;
    if (!rv)
        rv = nng_stream_dialer_alloc(&k->dialer, url);
    if (!rv && tls)
        rv = nng_stream_dialer_set_ptr(k->dialer, NNG_OPT_TLS_CONFIG, tls);
    if (!rv)
        rv = nng_aio_alloc(&k->dial_aio, on_dial, k);
    if (!rv)
        rv = nng_aio_alloc(&k->send_aio, on_send, k);
    if (!rv)
        rv = nng_aio_alloc(&k->probe_aio, on_probe, k);
    if (rv) {
        WITAN_ERROR("node", "cannot dial %s: %s", url, nng_strerror(rv));
        nng_aio_free(k->dial_aio);
        nng_aio_free(k->send_aio);
        nng_aio_free(k->probe_aio);
        nng_stream_dialer_free(k->dialer);
        free(k->q);
        memset(k, 0, sizeof *k);
        k->s = s;
        return WITAN_ENET;
    }
    pthread_mutex_lock(&s->mu);
    k->used = true;
    k->dialing = true;
    nng_stream_dialer_dial(k->dialer, k->dial_aio);
    pthread_mutex_unlock(&s->mu);
    return WITAN_OK;
}

void node_links_undial(struct node_links *s, uint32_t id)
{
    if (id >= NODE_LINK_OUT_MAX || !s->outs[id].used)
        return;
    struct out *k = &s->outs[id];
    pthread_mutex_lock(&s->mu);
    k->used = false; /* no more redials */
    if (k->st)
        nng_stream_close(k->st);
    pthread_mutex_unlock(&s->mu);
    nng_stream_dialer_close(k->dialer);
    /* Stopped aios call back no more; nothing else touches k after. */
    nng_aio_stop(k->dial_aio);
    nng_aio_stop(k->send_aio);
    nng_aio_stop(k->probe_aio);
    nng_aio_free(k->dial_aio);
    nng_aio_free(k->send_aio);
    nng_aio_free(k->probe_aio);
    nng_stream_free(k->st);
    nng_stream_free(k->dead);
    nng_stream_dialer_free(k->dialer);
    free(k->q);
    free(k->w);
    memset(k, 0, sizeof *k);
    k->s = s;
}

int node_links_send(struct node_links *s, uint32_t id, const uint8_t *frame,
                    size_t size)
{
    if (id >= NODE_LINK_OUT_MAX || size == 0 || size > s->c.frame_size_max)
        return WITAN_EINVAL;
    struct out *k = &s->outs[id];
    pthread_mutex_lock(&s->mu);
    int err = WITAN_OK;
    if (!k->used)
        err = WITAN_ENOTFOUND;
    else if (k->q_count == s->c.out_queue_count ||
             k->q_len + LINK_PREFIX_SIZE + size >
                 s->c.out_queue_size + LINK_HELLO_SIZE)
        err = WITAN_EFULL;
    else if (!reserve(&k->q, &k->q_cap, k->q_len + LINK_PREFIX_SIZE + size))
        err = WITAN_ENOMEM;
    if (!err) {
        uint8_t *p = k->q + k->q_len;
        p[0] = (uint8_t)(size >> 24);
        p[1] = (uint8_t)(size >> 16);
        p[2] = (uint8_t)(size >> 8);
        p[3] = (uint8_t)size;
        memcpy(p + LINK_PREFIX_SIZE, frame, size);
        k->q_len += LINK_PREFIX_SIZE + size;
        k->q_count++;
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

void node_links_flush(struct node_links *s)
{
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < NODE_LINK_OUT_MAX; i++) {
        struct out *k = &s->outs[i];
        if (k->used && k->st && !k->writing && k->q_len)
            start_write(k);
    }
    pthread_mutex_unlock(&s->mu);
}

int node_links_recv(struct node_links *s, nng_msg **msg)
{
    struct in *reap[NODE_LINK_IN_MAX];
    uint32_t reaped = 0;
    int err = WITAN_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    for (uint32_t n = 0; n < NODE_LINK_IN_MAX && err; n++) {
        uint32_t i = (s->next_in + n) % NODE_LINK_IN_MAX;
        struct in *c = s->ins[i];
        if (!c)
            continue;
        if (c->count == 0) {
            if (c->dead && !c->reading) {
                reap[reaped++] = c;
                s->ins[i] = NULL;
            }
            continue;
        }
        *msg = c->ring[c->head];
        c->head = (c->head + 1) % s->c.in_queue_count;
        c->count--;
        c->bytes -= nng_msg_len(*msg);
        s->next_in = (i + 1) % NODE_LINK_IN_MAX;
        err = WITAN_OK;
        /* A stream paused for want of room reads again once it has some. */
        if (!c->reading && !c->dead && !s->closing && cut(c))
            start_read(c);
    }
    if (err && s->signalled) {
        uint64_t v;
        if (read(s->efd, &v, sizeof v) < 0 && errno != EAGAIN)
            err = WITAN_EIO;
        s->signalled = false;
    }
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < reaped; i++)
        free_in(reap[i]);
    return err == WITAN_EIO ? WITAN_ENOTFOUND : err;
}

int node_links_fd(const struct node_links *s)
{
    return s->efd;
}

bool node_links_up(struct node_links *s, uint32_t id)
{
    if (id >= NODE_LINK_OUT_MAX)
        return false;
    pthread_mutex_lock(&s->mu);
    bool up = s->outs[id].used && s->outs[id].st;
    pthread_mutex_unlock(&s->mu);
    return up;
}

uint64_t node_links_refused(struct node_links *s, bool malformed)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = malformed ? s->malformed : s->refused;
    pthread_mutex_unlock(&s->mu);
    return v;
}

void node_links_close(struct node_links *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_mutex_unlock(&s->mu);
    if (s->listener)
        nng_stream_listener_close(s->listener);
    if (s->accept_aio)
        nng_aio_stop(s->accept_aio);
    for (uint32_t i = 0; i < NODE_LINK_OUT_MAX; i++)
        node_links_undial(s, i);
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++)
        if (s->ins[i])
            nng_stream_close(s->ins[i]->st);
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++)
        free_in(s->ins[i]);
    nng_aio_free(s->accept_aio);
    nng_stream_listener_free(s->listener);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
