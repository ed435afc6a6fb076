/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framed byte streams over nng's stream API (TCP, IPC, TLS): the transport
 * under the validator links, the client stream API and the ordering
 * benchmark (spec/node.md, "Links"). nng's SP sockets hand every message
 * between threads and allocate it on its own, 30-40 us a message on this
 * kind of machine; here the owner's loop queues frames in one buffer per
 * stream and a flush hands all of them to the kernel in one write, and a
 * read takes whatever arrived, cut into frames, with one wake-up of the
 * loop for the batch. Under load the costs of a write and of a wake-up are
 * thus shared by as many frames as waited.
 *
 * nng calls back on its own threads; one mutex guards the set. Callbacks
 * never free a stream or an aio: what dies is closed there and freed by the
 * owner's thread (or at the next dial), where waiting on nng is allowed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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
#define LINK_SLOTS (NODE_LINK_OUT_MAX + NODE_LINK_IN_MAX)

static const uint8_t hello[LINK_HELLO_SIZE] = {
    NODE_LINK_MAGIC_0, NODE_LINK_MAGIC_1, 0, NODE_LINK_VERSION};

struct out;

/* One stream, either way: frames read and waiting for the owner, frames
 * queued by the owner and being written. */
struct stream {
    struct node_links *s;
    struct out *out; /* the dialled link it belongs to, or NULL */
    nng_stream *st;  /* NULL while a dialled link is down */
    nng_aio *read_aio, *send_aio;
    bool reading, writing, greeted, dead;
    uint64_t active; /* s->tick at its last frame, or when it came */
    uint8_t *buf;    /* bytes read and not yet cut into frames */
    size_t len, cap;
    nng_msg **ring; /* frames cut, waiting for the owner */
    uint32_t head, count;
    size_t bytes;
    /* q: frames queued since the last write began; w: the write's. */
    uint8_t *q, *w;
    size_t q_len, q_cap, w_len, w_off, w_cap;
    uint32_t q_count;
};

/* A dialled link, kept up across its peer's restarts. */
struct out {
    struct stream io;
    uint32_t id;
    bool used, dialing, sleeping;
    /* Its first write went through: for TLS, the handshake is done (nng
     * finishes a dial before it), so only then is the link up. */
    bool confirmed;
    nng_stream_dialer *dialer;
    nng_stream *old; /* closed, freed once no aio uses it */
    nng_aio *dial_aio;
    nng_duration backoff;
};

/* An accepted stream; its slot is reused by a later one, told apart by
 * the generation in the address the owner answers to. */
struct in {
    struct stream io;
    uint32_t gen;
};

struct node_links {
    pthread_mutex_t mu;
    struct node_links_config c;
    int efd;
    bool signalled, closing;
    nng_stream_listener *listener;
    nng_aio *accept_aio;
    struct in *ins[NODE_LINK_IN_MAX];
    uint32_t gen;
    uint32_t next; /* the slot served first at the next receive */
    uint64_t tick;
    struct out outs[NODE_LINK_OUT_MAX];
    uint64_t refused; /* streams refused: every slot taken, no memory */
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

static int stream_init(struct node_links *s, struct stream *io,
                       void (*on_read)(void *), void (*on_send)(void *))
{
    io->s = s;
    io->ring = calloc(s->c.in_queue_count, sizeof *io->ring);
    if (!io->ring || !reserve(&io->q, &io->q_cap, LINK_BUFFER_SIZE_MIN) ||
        nng_aio_alloc(&io->read_aio, on_read, io) != 0 ||
        nng_aio_alloc(&io->send_aio, on_send, io) != 0)
        return WITAN_ENOMEM;
    return WITAN_OK;
}

/* After its aios are stopped (or were never started). */
static void stream_free(struct stream *io)
{
    nng_aio_free(io->read_aio);
    nng_aio_free(io->send_aio);
    nng_stream_free(io->st);
    for (uint32_t i = 0; io->ring && i < io->count; i++)
        nng_msg_free(io->ring[(io->head + i) % io->s->c.in_queue_count]);
    free(io->ring);
    free(io->buf);
    free(io->q);
    free(io->w);
}

static void failed(struct stream *io);

static void start_write(struct stream *io)
{
    WITAN_ASSERT(io->st && !io->writing);
    if (io->w_off == io->w_len) {
        if (io->q_len == 0)
            return;
        uint8_t *t = io->w;
        size_t tc = io->w_cap;
        io->w = io->q;
        io->w_cap = io->q_cap;
        io->w_len = io->q_len;
        io->w_off = 0;
        io->q = t;
        io->q_cap = tc;
        io->q_len = 0;
        io->q_count = 0;
    }
    nng_iov iov = {.iov_buf = io->w + io->w_off,
                   .iov_len = io->w_len - io->w_off};
    nng_aio_set_iov(io->send_aio, 1, &iov);
    io->writing = true;
    nng_stream_send(io->st, io->send_aio);
}

static void start_read(struct stream *io)
{
    size_t want = io->len + LINK_READ_SIZE;
    if (io->greeted && io->len >= LINK_PREFIX_SIZE &&
        LINK_PREFIX_SIZE + (size_t)be32(io->buf) > want)
        want = LINK_PREFIX_SIZE + be32(io->buf);
    if (!reserve(&io->buf, &io->cap, want)) {
        failed(io); /* no memory: as if the stream broke */
        return;
    }
    nng_iov iov = {.iov_buf = io->buf + io->len, .iov_len = io->cap - io->len};
    nng_aio_set_iov(io->read_aio, 1, &iov);
    io->reading = true;
    nng_stream_recv(io->st, io->read_aio);
}

/* The stream broke the format: it is closed and counted. */
static void malformed(struct stream *io)
{
    io->s->malformed++;
    failed(io);
}

/* Cuts what was read into frames while the stream's queue has room; true
 * when reading may go on. */
static bool cut(struct stream *io)
{
    struct node_links *s = io->s;
    size_t at = 0;
    if (!io->greeted && io->len >= LINK_HELLO_SIZE) {
        if (memcmp(io->buf, hello, LINK_HELLO_SIZE) != 0) {
            malformed(io);
            return false;
        }
        io->greeted = true;
        at = LINK_HELLO_SIZE;
    }
    bool room = true;
    while (io->greeted && io->len - at >= LINK_PREFIX_SIZE) {
        size_t size = be32(io->buf + at);
        if (size == 0 || size > s->c.frame_size_max) {
            malformed(io);
            return false;
        }
        if (io->len - at - LINK_PREFIX_SIZE < size)
            break;
        if (io->count == s->c.in_queue_count ||
            size > s->c.in_queue_size - io->bytes) {
            room = false; /* read again once the owner takes some */
            break;
        }
        nng_msg *m;
        if (nng_msg_alloc(&m, size) != 0) {
            failed(io); /* no memory: as if the stream broke */
            return false;
        }
        memcpy(nng_msg_body(m), io->buf + at + LINK_PREFIX_SIZE, size);
        io->ring[(io->head + io->count) % s->c.in_queue_count] = m;
        io->count++;
        io->bytes += size;
        io->active = ++s->tick;
        at += LINK_PREFIX_SIZE + size;
        wake(s);
    }
    if (at) {
        memmove(io->buf, io->buf + at, io->len - at);
        io->len -= at;
    }
    /* A large frame's buffer is not kept once it is cut. */
    if (io->len == 0 && io->cap > 4 * LINK_READ_SIZE) {
        free(io->buf);
        io->buf = NULL;
        io->cap = 0;
    }
    return room;
}

/* --- dialled links ------------------------------------------------------------ */

static void redial(struct out *k)
{
    if (k->io.st || k->io.writing || k->io.reading || k->dialing ||
        k->io.s->closing || !k->used)
        return;
    k->dialing = k->sleeping = true;
    nng_sleep_aio(k->backoff, k->dial_aio);
}

/* The stream failed or the peer hung up: what was being written is lost
 * (the owner's protocol makes up for it) and the queue waits for the next
 * stream, which begins with a hello. */
static void lost(struct out *k)
{
    if (!k->io.st)
        return;
    nng_stream_close(k->io.st);
    k->old = k->io.st;
    k->io.st = NULL;
    if (!k->confirmed) {
        /* Refused before its first write (a TLS peer that does not trust
         * this node, say): wait longer each time, and say nothing. */
        k->backoff = k->backoff * 2 > LINK_REDIAL_MAX_MS ? LINK_REDIAL_MAX_MS
                                                          : k->backoff * 2;
        return;
    }
    k->confirmed = false;
    if (k->io.s->c.on_link && !k->io.s->closing)
        k->io.s->c.on_link(k->io.s->c.ctx, k->id, false);
}

static void on_dial(void *arg)
{
    struct out *k = arg;
    struct stream *io = &k->io;
    struct node_links *s = io->s;
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
        nng_stream_free(k->old); /* no aio uses it: both ended */
        k->old = NULL;
        io->st = nng_aio_get_output(k->dial_aio, 0);
        /* The new stream starts at a frame boundary with a hello; what was
         * queued follows it. The peer's side begins with its own hello. */
        if (!reserve(&io->q, &io->q_cap, io->q_len + LINK_HELLO_SIZE))
            io->q_len = io->q_count = 0; /* dropped, as a full queue's */
        memmove(io->q + LINK_HELLO_SIZE, io->q, io->q_len);
        memcpy(io->q, hello, LINK_HELLO_SIZE);
        io->q_len += LINK_HELLO_SIZE;
        io->w_len = io->w_off = 0;
        io->len = 0;
        io->greeted = false;
        start_read(io);
        start_write(io);
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- both kinds --------------------------------------------------------------- */

/* A stream's read or write failed: a dialled link redials; an accepted
 * stream is dead, and reaped by the owner once its frames are taken. */
static void failed(struct stream *io)
{
    if (io->out) {
        lost(io->out);
        redial(io->out);
    } else if (!io->dead) {
        io->dead = true;
        nng_stream_close(io->st);
        wake(io->s);
    }
}

static void on_send(void *arg)
{
    struct stream *io = arg;
    struct node_links *s = io->s;
    pthread_mutex_lock(&s->mu);
    io->writing = false;
    if (nng_aio_result(io->send_aio) != 0) {
        io->w_len = io->w_off = 0;
        failed(io);
    } else {
        io->w_off += nng_aio_count(io->send_aio);
        struct out *k = io->out;
        if (k && io->st && !k->confirmed) {
            k->confirmed = true;
            k->backoff = LINK_REDIAL_MIN_MS;
            if (s->c.on_link && !s->closing)
                s->c.on_link(s->c.ctx, k->id, true);
        }
        if (io->st && !io->dead && (io->w_off < io->w_len || io->q_len))
            start_write(io);
        /* Requests held back while answers waited (node_links_recv). */
        if (io->count)
            wake(s);
        if (io->out)
            redial(io->out); /* when the read saw the stream end first */
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_read(void *arg)
{
    struct stream *io = arg;
    struct node_links *s = io->s;
    pthread_mutex_lock(&s->mu);
    io->reading = false;
    if (nng_aio_result(io->read_aio) != 0) {
        failed(io);
    } else {
        io->len += nng_aio_count(io->read_aio);
        if (cut(io) && !s->closing)
            start_read(io);
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- accepted streams -------------------------------------------------------- */

static void on_accept(void *arg)
{
    struct node_links *s = arg;
    pthread_mutex_lock(&s->mu);
    int rv = nng_aio_result(s->accept_aio);
    if (rv != 0 || s->closing) {
        /* A stream accepted as the set closes is closed with it: left
         * open, its peer would wait on it for ever. */
        nng_stream *st = rv ? NULL : nng_aio_get_output(s->accept_aio, 0);
        if (st) {
            nng_stream_close(st);
            nng_stream_free(st);
        }
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
    uint32_t slot = NODE_LINK_IN_MAX, idle = NODE_LINK_IN_MAX;
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++) {
        struct in *o = s->ins[i];
        if (!o && slot == NODE_LINK_IN_MAX)
            slot = i;
        if (o && !o->io.dead &&
            (idle == NODE_LINK_IN_MAX ||
             o->io.active < s->ins[idle]->io.active))
            idle = i;
    }
    /* Every slot taken: the stream that delivered a frame longest ago
     * goes (its slot frees at the owner's next receive) and this one is
     * refused; a peer that redials gets in, and streams opened to hold
     * slots without sending are the first to go. */
    if (slot == NODE_LINK_IN_MAX && idle < NODE_LINK_IN_MAX)
        failed(&s->ins[idle]->io);
    struct in *c = slot < NODE_LINK_IN_MAX ? calloc(1, sizeof *c) : NULL;
    if (c && stream_init(s, &c->io, on_read, on_send) != 0) {
        stream_free(&c->io);
        free(c);
        c = NULL;
    }
    if (!c) {
        s->refused++;
        nng_stream_close(st);
        nng_stream_free(st);
    } else {
        c->io.st = st;
        c->io.active = ++s->tick;
        c->gen = ++s->gen;
        /* Answers, if the owner sends any, start with a hello. */
        memcpy(c->io.q, hello, LINK_HELLO_SIZE);
        c->io.q_len = LINK_HELLO_SIZE;
        s->ins[slot] = c;
        start_read(&c->io);
    }
    nng_stream_listener_accept(s->listener, s->accept_aio);
    pthread_mutex_unlock(&s->mu);
}

static void free_in(struct in *c)
{
    if (!c)
        return;
    nng_aio_stop(c->io.read_aio); /* waits for a callback under way */
    nng_aio_stop(c->io.send_aio);
    stream_free(&c->io);
    free(c);
}

/* --- the owner's side ------------------------------------------------------- */

int node_links_open(const struct node_links_config *c, struct node_links **out)
{
    *out = NULL;
    size_t send_max = c->send_size_max ? c->send_size_max : c->frame_size_max;
    if (c->frame_size_max == 0 || c->frame_size_max > UINT32_MAX ||
        send_max > UINT32_MAX || c->in_queue_count == 0 ||
        c->out_queue_count == 0 || c->in_queue_size < c->frame_size_max ||
        c->out_queue_size < send_max)
        return WITAN_ECONFIG;
    struct node_links *s = calloc(1, sizeof *s);
    if (!s)
        return WITAN_ENOMEM;
    s->c = *c;
    s->c.listen = NULL;
    s->c.send_size_max = send_max;
    pthread_mutex_init(&s->mu, NULL);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return WITAN_EIO;
    }
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
    k->io.out = k;
    k->id = id;
    k->backoff = LINK_REDIAL_MIN_MS;
    int rv = stream_init(s, &k->io, on_read, on_send) ? NNG_ENOMEM : 0;
    if (!rv)
        rv = nng_stream_dialer_alloc(&k->dialer, url);
    if (!rv && tls)
        rv = nng_stream_dialer_set_ptr(k->dialer, NNG_OPT_TLS_CONFIG, tls);
    if (!rv)
        rv = nng_aio_alloc(&k->dial_aio, on_dial, k);
    if (rv) {
        WITAN_ERROR("node", "cannot dial %s: %s", url, nng_strerror(rv));
        nng_aio_free(k->dial_aio);
        nng_stream_dialer_free(k->dialer);
        stream_free(&k->io);
        memset(k, 0, sizeof *k);
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
    if (k->io.st)
        nng_stream_close(k->io.st);
    pthread_mutex_unlock(&s->mu);
    nng_stream_dialer_close(k->dialer);
    /* Stopped aios call back no more; nothing else touches k after. */
    nng_aio_stop(k->dial_aio);
    nng_aio_stop(k->io.read_aio);
    nng_aio_stop(k->io.send_aio);
    nng_aio_free(k->dial_aio);
    nng_stream_free(k->old);
    nng_stream_dialer_free(k->dialer);
    stream_free(&k->io);
    memset(k, 0, sizeof *k);
}

/* The stream `to` names, or NULL: a dialled link by id, an accepted
 * stream by slot and generation (as node_links_recv gave it). */
static struct stream *stream_of(struct node_links *s, uint64_t to)
{
    uint32_t index = (uint32_t)to, gen = (uint32_t)(to >> 32);
    if (index < NODE_LINK_OUT_MAX)
        return s->outs[index].used ? &s->outs[index].io : NULL;
    if (index >= LINK_SLOTS)
        return NULL;
    struct in *c = s->ins[index - NODE_LINK_OUT_MAX];
    return c && c->gen == gen && !c->io.dead ? &c->io : NULL;
}

int node_links_send(struct node_links *s, uint64_t to, const uint8_t *frame,
                    size_t size)
{
    if (size == 0 || size > s->c.send_size_max)
        return WITAN_EINVAL;
    pthread_mutex_lock(&s->mu);
    struct stream *io = stream_of(s, to);
    int err = WITAN_OK;
    if (!io)
        err = WITAN_ENOTFOUND;
    else if (io->q_count == s->c.out_queue_count ||
             io->q_len + LINK_PREFIX_SIZE + size >
                 s->c.out_queue_size + LINK_HELLO_SIZE)
        err = WITAN_EFULL;
    else if (!reserve(&io->q, &io->q_cap, io->q_len + LINK_PREFIX_SIZE + size))
        err = WITAN_ENOMEM;
    if (!err) {
        uint8_t *p = io->q + io->q_len;
        p[0] = (uint8_t)(size >> 24);
        p[1] = (uint8_t)(size >> 16);
        p[2] = (uint8_t)(size >> 8);
        p[3] = (uint8_t)size;
        memcpy(p + LINK_PREFIX_SIZE, frame, size);
        io->q_len += LINK_PREFIX_SIZE + size;
        io->q_count++;
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

void node_links_flush(struct node_links *s)
{
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < NODE_LINK_OUT_MAX; i++) {
        struct stream *io = &s->outs[i].io;
        if (s->outs[i].used && io->st && !io->writing && io->q_len)
            start_write(io);
    }
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++) {
        struct stream *io = s->ins[i] ? &s->ins[i]->io : NULL;
        /* An accepted stream's hello waits for its first answer. */
        if (io && !io->dead && !io->writing &&
            (io->q_count || io->w_off < io->w_len))
            start_write(io);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Whether the owner should take the stream's next frame now: not while
 * answers to it wait past half its queue, so that a client that does not
 * read its answers stops being served, and then (TCP pushing back) stops
 * sending, rather than make its queue grow. */
static bool servable(const struct node_links *s, const struct stream *io)
{
    return io->count &&
           (io->out || (io->q_count <= s->c.out_queue_count / 2 &&
                        io->q_len <= s->c.out_queue_size / 2));
}

int node_links_recv(struct node_links *s, nng_msg **msg, uint64_t *from)
{
    struct in *reap[NODE_LINK_IN_MAX];
    uint32_t reaped = 0;
    int err = WITAN_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    for (uint32_t n = 0; n < LINK_SLOTS && err; n++) {
        uint32_t i = (s->next + n) % LINK_SLOTS;
        struct in *c = i < NODE_LINK_OUT_MAX ? NULL
                                             : s->ins[i - NODE_LINK_OUT_MAX];
        struct stream *io = i < NODE_LINK_OUT_MAX
                                ? (s->outs[i].used ? &s->outs[i].io : NULL)
                                : (c ? &c->io : NULL);
        if (!io)
            continue;
        if (c && io->dead && !io->count && !io->reading && !io->writing) {
            reap[reaped++] = c;
            s->ins[i - NODE_LINK_OUT_MAX] = NULL;
            continue;
        }
        if (!servable(s, io))
            continue;
        *msg = io->ring[io->head];
        io->head = (io->head + 1) % s->c.in_queue_count;
        io->count--;
        io->bytes -= nng_msg_len(*msg);
        if (from)
            *from = c ? (uint64_t)c->gen << 32 | i : i;
        s->next = (i + 1) % LINK_SLOTS;
        err = WITAN_OK;
        /* A stream paused for want of room reads again once it has some. */
        if (io->st && !io->reading && !io->dead && !s->closing && cut(io))
            start_read(io);
    }
    if (err && s->signalled) {
        uint64_t v;
        if (read(s->efd, &v, sizeof v) < 0 && errno != EAGAIN)
            WITAN_WARN("node", "link wake-up not read: %s", strerror(errno));
        s->signalled = false;
    }
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < reaped; i++)
        free_in(reap[i]);
    return err;
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
    bool up = s->outs[id].used && s->outs[id].io.st && s->outs[id].confirmed;
    pthread_mutex_unlock(&s->mu);
    return up;
}

uint64_t node_links_refused(struct node_links *s, bool malformed_only)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = malformed_only ? s->malformed : s->refused;
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
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++)
        if (s->ins[i])
            nng_stream_close(s->ins[i]->io.st);
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < NODE_LINK_IN_MAX; i++)
        free_in(s->ins[i]);
    nng_aio_free(s->accept_aio);
    nng_stream_listener_free(s->listener);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
