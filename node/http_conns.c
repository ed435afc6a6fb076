/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP gateway's connections (spec/api.md, "Connections"): the
 * listener, the reading of each request and the writing of its answer, and
 * the limits that keep idle and slow clients from holding the node. The
 * gateway (node/http.c) sees a request only once its head and body are in
 * memory, so no gateway thread ever waits on a client.
 *
 * Everything here is event-driven on nng streams (TCP, or TLS for https://):
 * a connection has at most one operation in flight — a receive, the
 * gateway's answer, or a send — and each step runs in that operation's
 * callback on nng's threads and never blocks. A connection is
 *   idle     waiting for a request's first byte (just accepted, or kept
 *            alive after an answer): closed after idle_timeout_ms, and the
 *            first to go, longest idle first, when a new connection finds
 *            connection_count_max open;
 *   reading  from a request's first byte until its head and body are in,
 *            which must take at most request_timeout_ms, else it is closed
 *            as slow (slowloris, a trickled body);
 *   serving  the gateway has it (node calls and ?wait bound themselves);
 *   writing  the answer, which the client must take within
 *            request_timeout_ms, else it is closed as slow.
 * A new connection at the cap with none idle is closed at once (refused).
 *
 * The lock guards the lists (every connection; the idle ones, in the order
 * they became idle), the counts and the flags marked "locked"; the rest of
 * a connection belongs to the callback of its one operation in flight.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include "node/internal.h"

#define HTTP_HEAD_SIZE_MAX 8192    /* request line and headers; then 431 */
#define HTTP_HEADER_COUNT_MAX 64   /* then 431 */
#define HTTP_BODY_CHUNK_SIZE 65536 /* a body's first buffer; it doubles */
#define HTTP_ANSWER_HEAD_SIZE_MAX 1536 /* with an export cursor (1022 hex) */
#define HTTP_ACCEPT_BACKOFF_MS 100 /* after a failed accept (EMFILE) */
#define HTTP_ACCEPT_LOG_MS 10000   /* at most one log line per this */
#define HTTP_FD_RESERVE 256 /* files besides HTTP: LMDB, nng, peers, logs */
#define HTTP_STOP_GRACE_MS 1000 /* for the last answers, when stopping */

enum conn_state {
    CONN_IDLE,
    CONN_HEAD,    /* reading the request line and headers */
    CONN_BODY,    /* reading Content-Length bytes */
    CONN_SERVING, /* the gateway has the request */
    CONN_WRITING, /* an answer, or the interim 100 Continue */
};

/* Why a connection ends, for the counters. */
enum conn_end { END_QUIET, END_IDLE, END_SLOW };

struct http_conn {
    struct http_conns *owner;
    nng_stream *stream;
    nng_aio *rx, *tx, *answer; /* answer: the request handed over */
    enum conn_state state;
    int64_t deadline_ms; /* monotonic, of the current state */
    /* Bytes received and not yet taken: a head being read, or what came
     * after a request (the next one, pipelined). */
    char in[HTTP_HEAD_SIZE_MAX];
    size_t in_len, scanned; /* scanned: searched for the head's end */
    nng_http_req *req;
    uint8_t *body;
    size_t body_size, body_len, body_cap;
    bool head_only;   /* HEAD: the answer without its body */
    bool http10;      /* keep-alive is said, not assumed */
    bool close_after; /* no keep-alive after this answer */
    bool interim;     /* writing 100 Continue, then the body is read */
    char *out;
    size_t out_len, out_sent;
    /* Locked. */
    struct http_conn *prev, *next;           /* every live connection */
    struct http_conn *idle_prev, *idle_next; /* oldest idle first */
    bool idle_listed;
    bool evicted; /* closed at the cap (already counted) */
    bool busy;    /* from dispatch until its answer is written */
    bool shut;    /* closed by http_conns_shutdown */
    bool dead;    /* ended; freed by whoever drops the last hold */
    unsigned holds;
};

struct http_conns {
    struct http_conns_hooks hooks;
    struct node_http_limits limits;
    nng_stream_listener *listener;
    nng_aio *accept;
    bool accept_sleeping;    /* only the accept callback touches these */
    int64_t accept_logged_ms;
    pthread_mutex_t lock;
    pthread_cond_t gone;
    /* Locked. */
    struct http_conn *all, *idle_head, *idle_tail;
    uint32_t open;   /* counted against the cap */
    size_t live;     /* not yet freed */
    bool shutting;
    /* Written under the lock, read from any thread. */
    _Atomic uint64_t n_open, n_closed_idle, n_closed_slow, n_refused;
};

static void conn_received(void *arg);
static void conn_sent(void *arg);
static void conn_answered(void *arg);
static void conn_parse(struct http_conn *c);

/* --- lists (locked) ------------------------------------------------------------ */

static void idle_append(struct http_conns *s, struct http_conn *c)
{
    c->idle_prev = s->idle_tail;
    c->idle_next = NULL;
    if (s->idle_tail)
        s->idle_tail->idle_next = c;
    else
        s->idle_head = c;
    s->idle_tail = c;
    c->idle_listed = true;
}

static void idle_unlink(struct http_conns *s, struct http_conn *c)
{
    if (!c->idle_listed)
        return;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        s->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        s->idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->idle_listed = false;
}

static void all_unlink(struct http_conns *s, struct http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (s->all == c)
        s->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* --- life and death -------------------------------------------------------------- */

static struct http_conn *conn_new(struct http_conns *s)
{
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->owner = s;
    if (nng_aio_alloc(&c->rx, conn_received, c) != 0 ||
        nng_aio_alloc(&c->tx, conn_sent, c) != 0 ||
        nng_aio_alloc(&c->answer, conn_answered, c) != 0) {
        nng_aio_free(c->rx);
        nng_aio_free(c->tx);
        free(c);
        return NULL;
    }
    return c;
}

/* Frees what a request holds. */
static void conn_request_done(struct http_conn *c)
{
    if (c->req)
        nng_http_req_free(c->req);
    c->req = NULL;
    free(c->body);
    c->body = NULL;
    c->body_size = c->body_len = c->body_cap = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_sent = 0;
}

/* Frees c, which has no operation in flight. From a callback of c's own
 * aios too: reaping frees them once that callback has returned. */
static void conn_free(struct http_conn *c, bool live)
{
    struct http_conns *s = c->owner;
    conn_request_done(c);
    nng_aio_reap(c->rx);
    nng_aio_reap(c->tx);
    nng_aio_reap(c->answer);
    if (c->stream)
        nng_stream_free(c->stream);
    free(c);
    if (!live)
        return;
    pthread_mutex_lock(&s->lock);
    WITAN_ASSERT(s->live > 0);
    if (--s->live == 0)
        pthread_cond_broadcast(&s->gone);
    pthread_mutex_unlock(&s->lock);
}

/* Ends c from the callback of its one operation in flight (so none is
 * pending): counted by `why` unless the cap closed it, freed unless
 * another thread holds it. */
static void conn_close(struct http_conn *c, enum conn_end why)
{
    struct http_conns *s = c->owner;
    nng_stream_close(c->stream);
    pthread_mutex_lock(&s->lock);
    idle_unlink(s, c);
    all_unlink(s, c);
    if (!c->evicted) {
        s->open--;
        atomic_store(&s->n_open, s->open);
        if (why == END_IDLE)
            atomic_fetch_add(&s->n_closed_idle, 1);
        else if (why == END_SLOW)
            atomic_fetch_add(&s->n_closed_slow, 1);
    }
    c->dead = true;
    bool free_now = c->holds == 0;
    pthread_mutex_unlock(&s->lock);
    if (free_now)
        conn_free(c, true);
}

/* Drops a hold taken under the lock (to close c's stream outside it). */
static void conn_release(struct http_conn *c)
{
    struct http_conns *s = c->owner;
    pthread_mutex_lock(&s->lock);
    WITAN_ASSERT(c->holds > 0);
    bool free_now = --c->holds == 0 && c->dead;
    pthread_mutex_unlock(&s->lock);
    if (free_now)
        conn_free(c, true);
}

/* --- reading ------------------------------------------------------------------ */

static nng_duration left_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - node_monotonic_ms();
    return left > 0 ? (nng_duration)left : 1;
}

/* Receives into the head buffer or the body, whichever the state reads. */
static void conn_recv(struct http_conn *c)
{
    nng_iov iov;
    if (c->state == CONN_BODY) {
        if (c->body_len == c->body_cap) {
            size_t cap = c->body_cap * 2;
            if (cap > c->body_size)
                cap = c->body_size;
            uint8_t *grown = realloc(c->body, cap);
            if (!grown) {
                conn_close(c, END_QUIET);
                return;
            }
            c->body = grown;
            c->body_cap = cap;
        }
        iov = (nng_iov){c->body + c->body_len, c->body_cap - c->body_len};
    } else {
        WITAN_ASSERT(c->in_len < sizeof c->in);
        iov = (nng_iov){c->in + c->in_len, sizeof c->in - c->in_len};
    }
    nng_aio_set_iov(c->rx, 1, &iov);
    nng_aio_set_timeout(c->rx, left_ms(c->deadline_ms));
    nng_stream_recv(c->stream, c->rx);
}

static void conn_send(struct http_conn *c)
{
    nng_iov iov = {c->out + c->out_sent, c->out_len - c->out_sent};
    nng_aio_set_iov(c->tx, 1, &iov);
    nng_aio_set_timeout(c->tx, left_ms(c->deadline_ms));
    nng_stream_send(c->stream, c->tx);
}

/* Writes c->out (len bytes, malloc'd) within request_timeout_ms. */
static void conn_write(struct http_conn *c, char *out, size_t len)
{
    c->out = out;
    c->out_len = len;
    c->out_sent = 0;
    c->state = CONN_WRITING;
    c->deadline_ms = node_monotonic_ms() + c->owner->limits.request_timeout_ms;
    conn_send(c);
}

/* Answers a request the gateway never sees (malformed, too large a head)
 * with the gateway's JSON error form, and closes after it. `message` is
 * ASCII with nothing to escape. */
static void conn_refuse(struct http_conn *c, uint16_t status,
                        const char *reason, int code, const char *message)
{
    char *out = malloc(HTTP_ANSWER_HEAD_SIZE_MAX + 512);
    if (!out) {
        conn_close(c, END_QUIET);
        return;
    }
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":%d,\"name\":\"%s\",\"message\":"
                     "\"%s\"}}\n",
                     code, witan_err_name(code), message);
    WITAN_ASSERT(n > 0 && (size_t)n < sizeof body);
    int len = snprintf(out, HTTP_ANSWER_HEAD_SIZE_MAX + 512,
                       "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                       status, reason, n, body);
    WITAN_ASSERT(len > 0 && len < HTTP_ANSWER_HEAD_SIZE_MAX + 512);
    c->close_after = true;
    c->in_len = 0;
    conn_write(c, out, (size_t)len);
}

static bool tchar(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Whether the comma-separated header value `v` lists `token`. */
static bool has_token(const char *v, const char *token)
{
    size_t n = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t len = strcspn(v, ",");
        size_t end = len;
        while (end && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end == n && strncasecmp(v, token, n) == 0)
            return true;
        v += len;
    }
    return false;
}

/*
 * Parses the head in c->in[0, size) (its lines end in CRLF; the last is
 * empty) into c->req. 0, or the status to refuse it with and *why.
 */
static uint16_t head_parse(struct http_conn *c, size_t size, const char **why)
{
    char *p = c->in, *end = c->in + size;
    *why = "malformed HTTP request head";
    if (nng_http_req_alloc(&c->req, NULL) != 0) {
        *why = "out of memory";
        return 500;
    }
    /* The request line: METHOD SP request-target SP HTTP/1.x */
    char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol || eol[1] != '\n')
        return 400;
    *eol = '\0';
    char *method = p, *sp1 = strchr(p, ' ');
    if (!sp1 || sp1 == p)
        return 400;
    *sp1 = '\0';
    char *target = sp1 + 1, *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target || target[0] != '/')
        return 400;
    *sp2 = '\0';
    const char *version = sp2 + 1;
    for (const char *m = method; *m; m++)
        if (!tchar(*m))
            return 400;
    for (const char *t = target; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
            return 400;
    bool v10 = strcmp(version, "HTTP/1.0") == 0;
    if (!v10 && strcmp(version, "HTTP/1.1") != 0) {
        if (strncmp(version, "HTTP/", 5) == 0) {
            *why = "only HTTP/1.1 and HTTP/1.0 are served";
            return 505;
        }
        return 400;
    }
    if (nng_http_req_set_method(c->req, method) != 0 ||
        nng_http_req_set_uri(c->req, target) != 0 ||
        nng_http_req_set_version(c->req, version) != 0) {
        *why = "out of memory";
        return 500;
    }
    /* Header lines: name ":" OWS value OWS; no folding. */
    size_t count = 0;
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol[1] != '\n')
            return 400;
        if (eol == p)
            break; /* the empty line */
        *eol = '\0';
        if (++count > HTTP_HEADER_COUNT_MAX) {
            *why = "too many header lines";
            return 431;
        }
        char *colon = strchr(p, ':');
        if (!colon || colon == p)
            return 400;
        for (const char *n = p; n < colon; n++)
            if (!tchar(*n))
                return 400;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vlen = strlen(v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            v[--vlen] = '\0';
        for (const char *x = v; *x; x++)
            if (((unsigned char)*x < 0x20 && *x != '\t') || *x == 0x7f)
                return 400;
        if (nng_http_req_add_header(c->req, p, v) != 0) {
            *why = "out of memory";
            return 500;
        }
    }
    const char *connection = nng_http_req_get_header(c->req, "Connection");
    c->close_after = v10 ? !has_token(connection, "keep-alive")
                         : has_token(connection, "close");
    c->head_only = strcmp(method, "HEAD") == 0;
    c->http10 = v10;
    return 0;
}

/* The request is whole: to the gateway. */
static void conn_dispatch(struct http_conn *c)
{
    if (c->body_size &&
        nng_http_req_set_data(c->req, c->body, c->body_size) != 0) {
        conn_close(c, END_QUIET);
        return;
    }
    c->state = CONN_SERVING;
    pthread_mutex_lock(&c->owner->lock);
    c->busy = true;
    pthread_mutex_unlock(&c->owner->lock);
    if (!nng_aio_begin(c->answer)) {
        conn_close(c, END_QUIET);
        return;
    }
    nng_aio_set_input(c->answer, 0, c->req);
    c->owner->hooks.dispatch(c->owner->hooks.arg, c->answer);
    /* c now belongs to conn_answered. */
}

/* Looks for a whole head in c->in; once there, parses it and goes on to
 * the body or the gateway. */
static void conn_parse(struct http_conn *c)
{
    /* Empty lines before a request line are ignored (RFC 9112, 2.2). */
    size_t skip = 0;
    while (skip + 1 < c->in_len && c->in[skip] == '\r' &&
           c->in[skip + 1] == '\n')
        skip += 2;
    if (skip) {
        memmove(c->in, c->in + skip, c->in_len - skip);
        c->in_len -= skip;
        c->scanned = 0;
    }
    /* The blank line ending the head, searched from where the last search
     * stopped (less three bytes, which may begin it). */
    const char *end = NULL;
    for (size_t i = c->scanned > 3 ? c->scanned - 3 : 0;
         !end && i + 4 <= c->in_len; i++)
        if (memcmp(c->in + i, "\r\n\r\n", 4) == 0)
            end = c->in + i;
    if (!end) {
        c->scanned = c->in_len;
        if (c->in_len == sizeof c->in) {
            char why[80];
            snprintf(why, sizeof why,
                     "the request line and headers are over %d bytes",
                     HTTP_HEAD_SIZE_MAX);
            conn_refuse(c, 431, "Request Header Fields Too Large",
                        WITAN_ELIMIT, why);
            return;
        }
        conn_recv(c);
        return;
    }
    size_t head_size = (size_t)(end - c->in) + 4;
    const char *why;
    uint16_t status = head_parse(c, head_size, &why);
    if (status) {
        conn_refuse(c, status,
                    status == 431   ? "Request Header Fields Too Large"
                    : status == 505 ? "HTTP Version Not Supported"
                    : status == 500 ? "Internal Server Error"
                                    : "Bad Request",
                    status == 500   ? WITAN_ENOMEM
                    : status == 400 ? WITAN_EDECODE
                    : status == 431 ? WITAN_ELIMIT
                                    : WITAN_EUNSUPPORTED,
                    why);
        return;
    }
    size_t extra = c->in_len - head_size, size = 0;
    if (!c->owner->hooks.body_wanted(c->req, &size)) {
        /* The gateway refuses it from the head; what follows is unread. */
        c->close_after = true;
        size = 0;
        extra = 0;
    }
    size_t take = extra < size ? extra : size;
    if (size) {
        c->body_cap = size < HTTP_BODY_CHUNK_SIZE ? size : HTTP_BODY_CHUNK_SIZE;
        c->body = malloc(c->body_cap);
        if (!c->body) {
            conn_close(c, END_QUIET);
            return;
        }
        memcpy(c->body, c->in + head_size, take);
    }
    c->body_size = size;
    c->body_len = take;
    memmove(c->in, c->in + head_size + take, extra - take);
    c->in_len = extra - take;
    c->scanned = 0;
    if (c->body_len == c->body_size) {
        conn_dispatch(c);
        return;
    }
    const char *expect = nng_http_req_get_header(c->req, "Expect");
    if (c->body_len == 0 && expect && strcasecmp(expect, "100-continue") == 0) {
        /* The client waits for this before it sends the body; the
         * request's deadline still runs. */
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        char *out = malloc(sizeof go_on - 1);
        if (!out) {
            conn_close(c, END_QUIET);
            return;
        }
        memcpy(out, go_on, sizeof go_on - 1);
        c->out = out;
        c->out_len = sizeof go_on - 1;
        c->out_sent = 0;
        c->interim = true;
        c->state = CONN_WRITING;
        conn_send(c);
        return;
    }
    c->state = CONN_BODY;
    conn_recv(c);
}

static void conn_received(void *arg)
{
    struct http_conn *c = arg;
    struct http_conns *s = c->owner;
    int rc = nng_aio_result(c->rx);
    size_t n = nng_aio_count(c->rx);
    pthread_mutex_lock(&s->lock);
    bool evicted = c->evicted;
    idle_unlink(s, c);
    pthread_mutex_unlock(&s->lock);
    if (evicted || rc || n == 0) {
        /* Timed out idle or slow; closed by the peer, the cap or a stop. */
        enum conn_end why = rc != NNG_ETIMEDOUT ? END_QUIET
                            : c->state == CONN_IDLE ? END_IDLE
                                                    : END_SLOW;
        conn_close(c, why);
        return;
    }
    if (c->state == CONN_BODY) {
        c->body_len += n;
        if (c->body_len < c->body_size)
            conn_recv(c);
        else
            conn_dispatch(c);
        return;
    }
    if (c->state == CONN_IDLE) {
        c->state = CONN_HEAD;
        c->deadline_ms =
            node_monotonic_ms() + s->limits.request_timeout_ms;
    }
    c->in_len += n;
    conn_parse(c);
}

/* --- answering ------------------------------------------------------------------ */

static void conn_answered(void *arg)
{
    struct http_conn *c = arg;
    nng_http_res *res =
        nng_aio_result(c->answer) ? NULL : nng_aio_get_output(c->answer, 0);
    if (!res) {
        conn_close(c, END_QUIET);
        return;
    }
    void *data;
    size_t size;
    nng_http_res_get_data(res, &data, &size);
    const char *type = nng_http_res_get_header(res, "Content-Type");
    const char *reason = nng_http_res_get_reason(res);
    /* An export page names where the next starts (node/http_export.c). */
    const char *next = nng_http_res_get_header(res, "Witan-Next-Cursor");
    /* A 405 names the methods its path serves. */
    const char *allow = nng_http_res_get_header(res, "Allow");
    pthread_mutex_lock(&c->owner->lock);
    bool shutting = c->owner->shutting;
    pthread_mutex_unlock(&c->owner->lock);
    if (shutting ||
        has_token(nng_http_res_get_header(res, "Connection"), "close"))
        c->close_after = true;
    size_t body = c->head_only ? 0 : size;
    char *out = malloc(HTTP_ANSWER_HEAD_SIZE_MAX + body);
    int len = -1;
    if (out)
        len = snprintf(out, HTTP_ANSWER_HEAD_SIZE_MAX,
                       "HTTP/1.1 %u %.64s\r\n%s%.100s%s%s%.1100s%s"
                       "%s%.100s%sContent-Length: %zu\r\n%s\r\n",
                       nng_http_res_get_status(res), reason ? reason : "",
                       type ? "Content-Type: " : "", type ? type : "",
                       type ? "\r\n" : "", next ? "Witan-Next-Cursor: " : "",
                       next ? next : "", next ? "\r\n" : "",
                       allow ? "Allow: " : "", allow ? allow : "",
                       allow ? "\r\n" : "", size,
                       c->close_after ? "Connection: close\r\n"
                       : c->http10    ? "Connection: keep-alive\r\n"
                                      : "");
    if (len > 0 && len < HTTP_ANSWER_HEAD_SIZE_MAX && body)
        memcpy(out + len, data, body);
    nng_http_res_free(res);
    if (len <= 0 || len >= HTTP_ANSWER_HEAD_SIZE_MAX) {
        free(out);
        conn_close(c, END_QUIET);
        return;
    }
    conn_request_done(c); /* the request and its body */
    conn_write(c, out, (size_t)len + body);
}

static void conn_sent(void *arg)
{
    struct http_conn *c = arg;
    struct http_conns *s = c->owner;
    int rc = nng_aio_result(c->tx);
    if (rc) {
        conn_close(c, rc == NNG_ETIMEDOUT ? END_SLOW : END_QUIET);
        return;
    }
    c->out_sent += nng_aio_count(c->tx);
    if (c->out_sent < c->out_len) {
        conn_send(c);
        return;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_sent = 0;
    if (c->interim) {
        c->interim = false;
        c->state = CONN_BODY;
        conn_recv(c);
        return;
    }
    if (c->close_after) {
        conn_close(c, END_QUIET);
        return;
    }
    /* Kept alive: the next request, which may have come with this one,
     * or idle until it comes. */
    c->head_only = c->http10 = false;
    bool pipelined = c->in_len > 0;
    c->state = pipelined ? CONN_HEAD : CONN_IDLE;
    c->deadline_ms = node_monotonic_ms() + (pipelined
                                                ? s->limits.request_timeout_ms
                                                : s->limits.idle_timeout_ms);
    pthread_mutex_lock(&s->lock);
    bool shutting = s->shutting;
    c->busy = false;
    if (!shutting && !pipelined)
        idle_append(s, c);
    pthread_mutex_unlock(&s->lock);
    if (shutting)
        conn_close(c, END_QUIET);
    else if (pipelined)
        conn_parse(c);
    else
        conn_recv(c);
}

/* --- accepting ------------------------------------------------------------------ */

/* A new connection: counted and read, after the longest-idle one is closed
 * if the cap is reached; refused when none is idle. */
static void conns_admit(struct http_conns *s, nng_stream *stream)
{
    struct http_conn *c = conn_new(s), *victim = NULL;
    bool refused = false;
    pthread_mutex_lock(&s->lock);
    if (!c || s->shutting) {
        refused = true;
    } else if (s->open >= s->limits.connection_count_max) {
        victim = s->idle_head;
        if (victim) {
            idle_unlink(s, victim);
            victim->evicted = true;
            victim->holds++;
            s->open--;
            atomic_fetch_add(&s->n_closed_idle, 1);
        } else {
            refused = true;
            atomic_fetch_add(&s->n_refused, 1);
        }
    }
    if (!refused) {
        c->stream = stream;
        c->state = CONN_IDLE;
        c->deadline_ms = node_monotonic_ms() + s->limits.idle_timeout_ms;
        c->next = s->all;
        if (s->all)
            s->all->prev = c;
        s->all = c;
        s->open++;
        s->live++;
        idle_append(s, c);
    }
    atomic_store(&s->n_open, s->open);
    pthread_mutex_unlock(&s->lock);
    if (victim) {
        /* Its pending receive ends with NNG_ECLOSED and frees it. */
        nng_stream_close(victim->stream);
        conn_release(victim);
    }
    if (refused) {
        nng_stream_close(stream);
        nng_stream_free(stream);
        if (c) {
            nng_aio_free(c->rx);
            nng_aio_free(c->tx);
            nng_aio_free(c->answer);
            free(c);
        }
        return;
    }
    conn_recv(c);
}

static void conns_accepted(void *arg)
{
    struct http_conns *s = arg;
    int rc = nng_aio_result(s->accept);
    if (s->accept_sleeping) {
        s->accept_sleeping = false;
        if (rc)
            return; /* stopped */
    } else if (rc == NNG_ECLOSED || rc == NNG_ECANCELED) {
        return;
    } else if (rc) {
        /* Out of files, most likely: back off rather than spin on a
         * listener that stays readable. */
        int64_t now = node_monotonic_ms();
        if (now - s->accept_logged_ms >= HTTP_ACCEPT_LOG_MS) {
            WITAN_WARN("http", "cannot accept HTTP connections: %s",
                       nng_strerror(rc));
            s->accept_logged_ms = now;
        }
        s->accept_sleeping = true;
        nng_sleep_aio(HTTP_ACCEPT_BACKOFF_MS, s->accept);
        return;
    } else {
        conns_admit(s, nng_aio_get_output(s->accept, 0));
    }
    pthread_mutex_lock(&s->lock);
    bool shutting = s->shutting;
    pthread_mutex_unlock(&s->lock);
    if (!shutting)
        nng_stream_listener_accept(s->listener, s->accept);
}

/* --- start and stop ------------------------------------------------------------- */

/* Enough open files for the cap and the rest of the node, if allowed. */
static void conns_file_limit(uint32_t count_max)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)count_max + HTTP_FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return;
    rlim_t want = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
                      ? rl.rlim_max
                      : need;
    if (want > rl.rlim_cur) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            want = 0;
    }
    if (want < need)
        WITAN_WARN("http",
                   "the open-file limit allows fewer than "
                   "http_connection_count_max (%u) HTTP connections plus %d "
                   "other files: lower it, or raise the limit",
                   count_max, HTTP_FD_RESERVE);
}

int http_conns_start(const char *url, nng_tls_config *tls,
                     const struct node_http_limits *limits,
                     const struct http_conns_hooks *hooks,
                     struct http_conns **out)
{
    *out = NULL;
    nng_url *u = NULL;
    int rc = nng_url_parse(&u, url);
    if (rc) {
        WITAN_ERROR("http", "cannot parse %s: %s", url, nng_strerror(rc));
        return WITAN_ENET;
    }
    bool https = strcmp(u->u_scheme, "https") == 0;
    bool v6 = strchr(u->u_hostname, ':') != NULL;
    char addr[NODE_ADDRESS_SIZE_MAX + 32];
    snprintf(addr, sizeof addr, "%s://%s%s%s:%s", https ? "tls+tcp" : "tcp",
             v6 ? "[" : "", u->u_hostname, v6 ? "]" : "", u->u_port);
    nng_url_free(u);
    if (https && !tls) {
        WITAN_ERROR("http", "%s needs a TLS certificate", url);
        return WITAN_ENET;
    }
    struct http_conns *s = calloc(1, sizeof *s);
    if (!s)
        return WITAN_ENOMEM;
    s->hooks = *hooks;
    s->limits = *limits;
    s->accept_logged_ms = INT64_MIN / 2;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->gone, &attr);
    pthread_condattr_destroy(&attr);
    conns_file_limit(limits->connection_count_max);
    rc = nng_aio_alloc(&s->accept, conns_accepted, s);
    if (!rc)
        rc = nng_stream_listener_alloc(&s->listener, addr);
    if (!rc && https)
        rc = nng_stream_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG, tls);
    if (!rc)
        rc = nng_stream_listener_listen(s->listener);
    if (rc) {
        WITAN_ERROR("http", "cannot serve HTTP on %s: %s", url,
                    nng_strerror(rc));
        if (s->listener)
            nng_stream_listener_free(s->listener);
        nng_aio_free(s->accept);
        pthread_cond_destroy(&s->gone);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc == NNG_ENOMEM ? WITAN_ENOMEM : WITAN_ENET;
    }
    nng_stream_listener_accept(s->listener, s->accept);
    *out = s;
    return WITAN_OK;
}

/* Closes every connection's stream but those marked shut already, and
 * (with spare_busy) those the gateway is answering. Each is closed outside
 * the lock, held so that it cannot be freed meanwhile; its operation in
 * flight then fails and ends it. */
static void conns_close_all(struct http_conns *s, bool spare_busy)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct http_conn *c = s->all;
        while (c && (c->shut || (spare_busy && c->busy)))
            c = c->next;
        if (c) {
            c->shut = true;
            c->holds++;
        }
        pthread_mutex_unlock(&s->lock);
        if (!c)
            break;
        nng_stream_close(c->stream);
        conn_release(c);
    }
}

void http_conns_shutdown(struct http_conns *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->shutting = true;
    pthread_mutex_unlock(&s->lock);
    nng_stream_listener_close(s->listener);
    /* One the gateway is answering is left to take its answer (503 by
     * then), with Connection: close. */
    conns_close_all(s, true);
}

void http_conns_free(struct http_conns *s)
{
    if (!s)
        return;
    nng_aio_stop(s->accept);
    /* The last answers get a moment to be taken, then every connection
     * goes: a client that does not read cannot hold the stop. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += HTTP_STOP_GRACE_MS / 1000;
    until.tv_nsec += (long)(HTTP_STOP_GRACE_MS % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (s->live &&
           pthread_cond_timedwait(&s->gone, &s->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&s->lock);
    conns_close_all(s, false);
    pthread_mutex_lock(&s->lock);
    while (s->live)
        pthread_cond_wait(&s->gone, &s->lock);
    pthread_mutex_unlock(&s->lock);
    nng_aio_free(s->accept);
    nng_stream_listener_free(s->listener);
    pthread_cond_destroy(&s->gone);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void http_conns_counters(const struct http_conns *s,
                         struct node_http_counters *out)
{
    out->open = atomic_load(&s->n_open);
    out->closed_idle = atomic_load(&s->n_closed_idle);
    out->closed_slow = atomic_load(&s->n_closed_slow);
    out->refused = atomic_load(&s->n_refused);
}
