/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/JSON gateway (spec/api.md, "HTTP"): HTTP/1.1 in front of the
 * node's own client API.
 *
 * Connections are node/http_conns.c's: it reads each request's head and
 * body without holding a thread, under the config's timeouts and cap, and
 * only then calls on_http, on one of nng's threads; that only queues the
 * request. So a slow or idle client never holds a worker. A few gateway
 * threads, each with its own REQ
 * socket dialled to inproc://witan-node-<pid> (a second listener on the
 * node's REP socket), translate each HTTP request into one or two
 * witan.Request messages, wait for the node loop to answer, and render the
 * witan.Response as JSON (or /metrics as Prometheus text). inproc rather
 * than the configured `listen` address: no TCP hop, and it keeps working
 * whatever transport `listen` uses. Blocking waits happen on the gateway's
 * own threads, never on nng's, so a slow node cannot starve nng's workers.
 *
 * POST /v1/tx?wait=MS parks the request instead of holding a worker: a
 * waiter polls the transaction's state through its own context on one
 * shared REQ socket, with nng's asynchronous sleep, send and receive (an
 * interval growing from HTTP_WAIT_POLL_MIN_MS to HTTP_WAIT_POLL_MAX_MS),
 * and only once it settles or times out goes back to a worker, which
 * renders the answer. So a thousand waiting clients cost a thousand small
 * structs and no thread, and never delay other requests.
 *
 * JSON is render/json.c's (the CLI's --json prints the same): field names as
 * in witan.proto, 64-bit integers as strings, enums by name, every bytes
 * field as lowercase hex. Bodies are read only after their Content-Length has been
 * checked against WITAN_HTTP_BODY_SIZE_MAX (body_check, which the
 * connections ask before they read one).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/http/http.h>
#include <sodium.h>

#include "contracts/lang/lang.h"
#include "node/http_export.h"
#include "node/internal.h"
#include "render/render.h"

#define HTTP_WORKER_COUNT 4
#define HTTP_QUEUE_COUNT_MAX 256 /* requests waiting for a worker; then 503 */
#define HTTP_NODE_TIMEOUT_MS 10000
#define HTTP_PATH_SIZE_MAX 1024
#define HTTP_PARAM_COUNT_MAX 16
#define HTTP_CURSOR_SIZE_MAX 256 /* bytes of an attestations, predictions or
                                    models cursor */
#define HTTP_WAIT_POLL_MIN_MS 5
#define HTTP_WAIT_POLL_MAX_MS 50
_Static_assert(HTTP_WAIT_POLL_MAX_MS < HTTP_NODE_TIMEOUT_MS,
               "a poll's sleep must end before the aio's own timeout");

struct http_worker {
    struct node_http *gw;
    nng_socket sock;
    pthread_t thread;
    bool started;
};

/* A POST /v1/tx?wait=MS whose transaction was admitted and is pending. */
struct http_waiter {
    struct node_http *gw;
    nng_aio *http; /* the HTTP request, answered by a worker */
    nng_aio *io;   /* sleeps and queries; its callback is wait_step */
    nng_ctx ctx;
    enum { WAIT_SLEEP, WAIT_SEND, WAIT_RECV } phase;
    uint8_t hash[WITAN_HASH_SIZE];
    uint32_t wait_ms;
    int64_t deadline_ms;
    nng_duration poll_ms;
    int outcome; /* 0: no longer pending; WITAN_ETIMEOUT; or the failure */
    struct http_waiter *next; /* in the resumed list */
};

struct node_http {
    struct http_conns *conns;
    bool ops_only; /* the metrics listener: /metrics, /healthz, /readyz */
    pthread_mutex_t lock;
    pthread_cond_t ready;
    nng_aio *queue[HTTP_QUEUE_COUNT_MAX];
    size_t head, count;
    bool stopping;
    struct http_worker workers[HTTP_WORKER_COUNT];
    /* Waiters: `waiting` are between sleeps and queries (only their
     * callbacks touch them), the resumed list awaits a worker. Both under
     * `lock`; the workers outlive every waiter. */
    nng_socket wait_sock;
    size_t waiting, waiter_count;
    struct http_waiter *resumed_head, *resumed_tail;
};

/* --- answering ----------------------------------------------------------------- */

/* Answers with `status` and `body`; with `allow` non-NULL, an Allow header
 * (a 405's list of the methods the path serves). */
static void respond_allow(nng_aio *aio, uint16_t status,
                          const char *content_type, const char *body,
                          size_t size, bool close, const char *allow)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    int rc = nng_http_res_set_status(res, status);
    /* nng names only the statuses it uses itself. */
    const char *reason = status == 411   ? "Length Required"
                         : status == 413 ? "Payload Too Large"
                         : status == 415 ? "Unsupported Media Type"
                                         : NULL;
    if (!rc && reason)
        rc = nng_http_res_set_reason(res, reason);
    if (!rc)
        rc = nng_http_res_set_header(res, "Content-Type", content_type);
    if (!rc)
        rc = nng_http_res_copy_data(res, body, size);
    if (!rc && close)
        rc = nng_http_res_set_header(res, "Connection", "close");
    if (!rc && allow)
        rc = nng_http_res_set_header(res, "Allow", allow);
    if (rc) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rc);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void respond(nng_aio *aio, uint16_t status, const char *content_type,
                    const char *body, size_t size, bool close)
{
    respond_allow(aio, status, content_type, body, size, close, NULL);
}

static uint16_t status_of(int code)
{
    switch (code) {
    case WITAN_ENOTFOUND:
        return 404;
    case WITAN_EFULL:
    case WITAN_EAGAIN:
    case WITAN_ENET:
    case WITAN_ETIMEOUT:
    case WITAN_ECLOSED:
        return 503;
    case WITAN_ENOMEM:
    case WITAN_EIO:
    case WITAN_ELIBRARY:
    case WITAN_EDBCORRUPT:
    case WITAN_EDBVERSION:
        return 500;
    case WITAN_ENOSPACE: /* Insufficient Storage: retry when space returns */
    case WITAN_EMAPFULL:
        return 507;
    default:
        return 400;
    }
}

static void render_error(struct render_json *b, int code, const char *message)
{
    render_json_printf(b, "{\"code\":%d,\"name\":", code);
    render_json_str(b, witan_err_name(code));
    render_json_puts(b, ",\"message\":");
    render_json_str(b, message && message[0] ? message : witan_err_message(code));
    render_json_puts(b, "}");
}

static void respond_json(nng_aio *aio, uint16_t status, struct render_json *b,
                         bool close)
{
    if (b->oom) {
        static const char oom[] =
            "{\"error\":{\"code\":-2,\"name\":\"WITAN_ENOMEM\",\"message\":"
            "\"out of memory\"}}";
        respond(aio, 500, "application/json", oom, sizeof oom - 1, true);
    } else {
        respond(aio, status, "application/json", b->p, b->len, close);
    }
    free(b->p);
}

/* {"error": {...}} with `status`; `close` when the body was left unread. */
static void respond_error(nng_aio *aio, uint16_t status, int code,
                          bool close, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void respond_error(nng_aio *aio, uint16_t status, int code,
                          bool close, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct render_json b = {0};
    render_json_puts(&b, "{\"error\":");
    render_error(&b, code, message);
    render_json_puts(&b, "}\n");
    respond_json(aio, status, &b, close);
}

/* 405 Method Not Allowed for `method` on `path`, whose methods `allow`
 * lists (RFC 9110 15.5.6: the answer carries an Allow header). */
static void respond_405(nng_aio *aio, const char *path, const char *method,
                        const char *allow)
{
    char message[512];
    snprintf(message, sizeof message, "%s does not take %s; it takes %s",
             path, method, allow);
    struct render_json b = {0};
    render_json_puts(&b, "{\"error\":");
    render_error(&b, WITAN_EUNSUPPORTED, message);
    render_json_puts(&b, "}\n");
    if (b.oom) {
        respond_json(aio, 500, &b, false); /* the out-of-memory answer */
        return;
    }
    respond_allow(aio, 405, "application/json", b.p, b.len, false, allow);
    free(b.p);
}

/* --- requests to the node ------------------------------------------------------ */

/* Calls the node and answers the HTTP request itself when the call or the
 * response failed as a whole; returns the response only when it can be
 * rendered (the caller frees it). */
static Witan__Response *call_or_answer(struct http_worker *w, nng_aio *aio,
                                       const Witan__Request *req)
{
    Witan__Response *resp;
    int err = node_rpc(w->sock, req, false, &resp);
    if (err) {
        respond_error(aio, 503, err, false, "the node did not answer: %s",
                      witan_err_message(err));
        return NULL;
    }
    if (resp->error) {
        struct render_json b = {0};
        render_json_puts(&b, "{\"error\":");
        render_error(&b, resp->error->code, resp->error->message);
        render_json_puts(&b, "}\n");
        respond_json(aio, status_of(resp->error->code), &b, false);
        witan__response__free_unpacked(resp, NULL);
        return NULL;
    }
    return resp;
}

static void answer_message(nng_aio *aio, const ProtobufCMessage *m)
{
    struct render_json b = {0};
    render_json_message(&b, m);
    render_json_puts(&b, "\n");
    respond_json(aio, 200, &b, false);
}

/* --- request parsing ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into out (NUL-terminated); '+' is a space when
 * `plus`. WITAN_EDECODE on a bad escape or an encoded NUL, WITAN_ELIMIT. */
static int url_decode(const char *s, size_t n, bool plus, char *out,
                      size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return WITAN_EDECODE;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return WITAN_EDECODE;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (o + 1 >= out_size)
            return WITAN_ELIMIT;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return WITAN_OK;
}

struct params {
    size_t count;
    char name[HTTP_PARAM_COUNT_MAX][32];
    char value[HTTP_PARAM_COUNT_MAX][HTTP_PATH_SIZE_MAX];
};

static int parse_query(const char *q, struct params *p, char *why,
                       size_t why_size)
{
    p->count = 0;
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len) {
            if (p->count == HTTP_PARAM_COUNT_MAX) {
                snprintf(why, why_size, "at most %d query parameters",
                         HTTP_PARAM_COUNT_MAX);
                return WITAN_ELIMIT;
            }
            const char *eq = memchr(q, '=', len);
            size_t name_len = eq ? (size_t)(eq - q) : len;
            int err = url_decode(q, name_len, true, p->name[p->count],
                                 sizeof p->name[0]);
            if (!err && eq)
                err = url_decode(eq + 1, len - name_len - 1, true,
                                 p->value[p->count], sizeof p->value[0]);
            else if (!err)
                p->value[p->count][0] = '\0';
            if (err) {
                snprintf(why, why_size, "query parameter %zu is badly "
                                        "encoded or too long",
                         p->count + 1);
                return err;
            }
            p->count++;
        }
        q = end ? end + 1 : NULL;
    }
    return WITAN_OK;
}

/* Checks that every parameter is one of `known` (NULL-terminated), so that
 * a misspelt filter is an error rather than silently ignored. */
static int params_check(const struct params *p, const char *const *known,
                        char *why, size_t why_size)
{
    for (size_t i = 0; i < p->count; i++) {
        bool ok = false;
        for (size_t k = 0; known[k]; k++)
            ok |= strcmp(p->name[i], known[k]) == 0;
        if (!ok) {
            snprintf(why, why_size, "unknown query parameter '%s'",
                     p->name[i]);
            return WITAN_EINVAL;
        }
    }
    return WITAN_OK;
}

static const char *param(const struct params *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->name[i], name) == 0)
            return p->value[i];
    return NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20)
        return WITAN_EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return WITAN_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return WITAN_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return WITAN_OK;
}

/* A hex parameter of any even length up to max bytes; malloc'd into *out
 * (free it). WITAN_EDECODE, WITAN_ELIMIT, WITAN_ENOMEM. */
static int parse_hex(const char *s, size_t max, ProtobufCBinaryData *out)
{
    size_t n = strlen(s);
    if (n % 2)
        return WITAN_EDECODE;
    if (n / 2 > max)
        return WITAN_ELIMIT;
    out->len = n / 2;
    out->data = malloc(out->len ? out->len : 1);
    if (!out->data)
        return WITAN_ENOMEM;
    int err = witan_hex_decode(s, out->data, out->len);
    if (err) {
        free(out->data);
        out->data = NULL;
        out->len = 0;
    }
    return err;
}

/* --- routes ---------------------------------------------------------------------- */

struct http_call {
    struct http_worker *w;
    nng_aio *aio;
    nng_http_req *req;
    const char *method;
    char path[HTTP_PATH_SIZE_MAX];
    struct params params;
    char why[512];
    uint8_t *body; /* POST's, the connection's until the answer */
    size_t body_size;
};

static void route_status(struct http_call *c)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    answer_message(c->aio, &resp->status->base);
    witan__response__free_unpacked(resp, NULL);
}

/* The height of the node's latest committed block, asked of the node; 0
 * with the answer given when it failed or the chain has no block yet. */
static uint64_t latest_height(struct http_call *c)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return 0;
    uint64_t height = resp->kind_case == WITAN__RESPONSE__KIND_STATUS
                          ? resp->status->height
                          : 0;
    witan__response__free_unpacked(resp, NULL);
    if (!height)
        respond_error(c->aio, 404, WITAN_ENOTFOUND, false,
                      "no block is committed yet");
    return height;
}

/* /v1/blocks/{height} and /v1/blocks/latest (the block at the height
 * status reports, answered the same way). */
static void route_block(struct http_call *c, const char *arg)
{
    uint64_t height;
    if (strcmp(arg, "latest") == 0) {
        height = latest_height(c);
        if (!height)
            return;
    } else if (parse_u64(arg, &height)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "a block height is a decimal integer or latest, not "
                      "'%s'",
                      arg);
        return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest br = WITAN__BLOCK_REQUEST__INIT;
    br.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &br;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    /* The stored response, plus its header decoded. */
    struct render_json b = {0};
    render_json_block(&b, resp->block);
    render_json_puts(&b, "\n");
    respond_json(c->aio, 200, &b, false);
    witan__response__free_unpacked(resp, NULL);
}

static void route_tx(struct http_call *c, const char *arg)
{
    static const char *const known[] = {"format", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    uint8_t hash[WITAN_HASH_SIZE];
    if (strlen(arg) != 2 * WITAN_HASH_SIZE ||
        witan_hex_decode(arg, hash, WITAN_HASH_SIZE) != 0) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "a transaction hash is 64 hex digits");
        return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
    tr.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    req.kind_case = WITAN__REQUEST__KIND_TX;
    req.tx = &tr;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    Witan__TxResponse *tx = resp->tx;
    if (tx->state == WITAN__TX_STATE__TX_STATE_UNKNOWN) {
        respond_error(c->aio, 404, WITAN_ENOTFOUND, false,
                      "no transaction %s is pending or committed", arg);
        witan__response__free_unpacked(resp, NULL);
        return;
    }
    /* ?format=protobuf: the TxResponse's own bytes (envelope and receipt
     * as the chain hashes them), what the client API carries. */
    const char *format = param(&c->params, "format");
    if (format && strcmp(format, "protobuf") == 0) {
        size_t size = witan__tx_response__get_packed_size(tx);
        uint8_t *bytes = malloc(size ? size : 1);
        if (!bytes) {
            respond_error(c->aio, 503, WITAN_ENOMEM, false, "out of memory");
        } else {
            witan__tx_response__pack(tx, bytes);
            respond(c->aio, 200, "application/x-protobuf", (char *)bytes, size,
                    false);
            free(bytes);
        }
        witan__response__free_unpacked(resp, NULL);
        return;
    } else if (format && strcmp(format, "json") != 0) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "format is json (the default) or protobuf");
        witan__response__free_unpacked(resp, NULL);
        return;
    }
    /* The certificate is the block's: a second request. */
    Witan__Response *block = NULL;
    if (tx->state == WITAN__TX_STATE__TX_STATE_COMMITTED && tx->receipt) {
        Witan__BlockRequest br = WITAN__BLOCK_REQUEST__INIT;
        br.height = tx->receipt->height;
        req.kind_case = WITAN__REQUEST__KIND_BLOCK;
        req.block = &br;
        block = call_or_answer(c->w, c->aio, &req);
        if (!block) {
            witan__response__free_unpacked(resp, NULL);
            return;
        }
    }
    struct render_json b = {0};
    render_json_tx(&b, NULL, tx, block ? block->block->cert : NULL, NULL);
    render_json_puts(&b, "\n");
    /* Dropped: it can never commit (another took its nonce); 409 says the
     * request conflicts with what is on chain, and the body names what. */
    respond_json(c->aio,
                 tx->state == WITAN__TX_STATE__TX_STATE_DROPPED ? 409 : 200,
                 &b, false);
    if (block)
        witan__response__free_unpacked(block, NULL);
    witan__response__free_unpacked(resp, NULL);
}

/* --- waiting for a commit ------------------------------------------------------- */

/* 202: the transaction was admitted but is not committed (yet); the client
 * polls GET /v1/tx/{hash}. */
static void respond_pending(nng_aio *aio, const char *hex, int code,
                            const char *message)
{
    struct render_json b = {0};
    render_json_printf(&b, "{\"tx_hash\":\"%s\",\"state\":\"TX_STATE_PENDING\","
                  "\"error\":", hex);
    render_error(&b, code, message);
    render_json_puts(&b, "}\n");
    respond_json(aio, 202, &b, false);
}

static int error_of_nng(int rc)
{
    return rc == NNG_ECLOSED     ? WITAN_ECLOSED
           : rc == NNG_ETIMEDOUT ? WITAN_ETIMEOUT
           : rc == NNG_ENOMEM    ? WITAN_ENOMEM
                                 : WITAN_ENET;
}

/* Ends a waiter's polling and hands it to the workers. Runs on nng's
 * threads (or the worker that started it). */
static void wait_resume(struct http_waiter *wt, int outcome)
{
    struct node_http *g = wt->gw;
    wt->outcome = outcome;
    wt->next = NULL;
    pthread_mutex_lock(&g->lock);
    WITAN_ASSERT(g->waiting > 0);
    g->waiting--;
    if (g->resumed_tail)
        g->resumed_tail->next = wt;
    else
        g->resumed_head = wt;
    g->resumed_tail = wt;
    pthread_cond_broadcast(&g->ready);
    pthread_mutex_unlock(&g->lock);
}

static void wait_send(struct http_waiter *wt)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
    tr.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, wt->hash};
    req.kind_case = WITAN__REQUEST__KIND_TX;
    req.tx = &tr;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, witan__request__get_packed_size(&req)) != 0) {
        wait_resume(wt, WITAN_ENOMEM);
        return;
    }
    witan__request__pack(&req, nng_msg_body(msg));
    wt->phase = WAIT_SEND;
    nng_aio_set_msg(wt->io, msg);
    nng_ctx_send(wt->ctx, wt->io);
}

/* The waiter's state machine: query, and while the transaction is
 * pending and time remains, sleep and query again. */
static void wait_step(void *arg)
{
    struct http_waiter *wt = arg;
    int rc = nng_aio_result(wt->io);
    pthread_mutex_lock(&wt->gw->lock);
    bool stopping = wt->gw->stopping;
    pthread_mutex_unlock(&wt->gw->lock);
    switch (wt->phase) {
    case WAIT_SEND:
        if (rc) {
            nng_msg_free(nng_aio_get_msg(wt->io));
            wait_resume(wt, error_of_nng(rc));
            return;
        }
        wt->phase = WAIT_RECV;
        nng_ctx_recv(wt->ctx, wt->io);
        return;
    case WAIT_RECV: {
        if (rc) {
            wait_resume(wt, error_of_nng(rc));
            return;
        }
        nng_msg *msg = nng_aio_get_msg(wt->io);
        Witan__Response *resp = witan__response__unpack(
            NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
        int outcome = !resp || (!resp->error && !resp->tx) ? WITAN_EDECODE
                      : resp->error ? resp->error->code
                                    : WITAN_OK;
        bool pending = !outcome && resp->tx->state ==
                                       WITAN__TX_STATE__TX_STATE_PENDING;
        if (resp)
            witan__response__free_unpacked(resp, NULL);
        int64_t left = wt->deadline_ms - node_monotonic_ms();
        if (pending && left <= 0)
            outcome = WITAN_ETIMEOUT;
        else if (pending && stopping)
            outcome = WITAN_ECLOSED;
        if (!pending || outcome) {
            wait_resume(wt, outcome);
            return;
        }
        nng_duration sleep_ms = left < wt->poll_ms ? (nng_duration)left
                                                   : wt->poll_ms;
        wt->poll_ms = wt->poll_ms * 3 / 2 > HTTP_WAIT_POLL_MAX_MS
                          ? HTTP_WAIT_POLL_MAX_MS
                          : wt->poll_ms * 3 / 2;
        wt->phase = WAIT_SLEEP;
        nng_sleep_aio(sleep_ms, wt->io);
        return;
    }
    case WAIT_SLEEP:
        if (stopping)
            wait_resume(wt, WITAN_ECLOSED);
        else
            wait_send(wt);
        return;
    }
}

/* Parks the HTTP request `aio` until transaction `hash` is no longer
 * pending or wait_ms pass; a worker answers it then. False when it cannot
 * wait (WITAN_HTTP_WAIT_COUNT_MAX are waiting, out of memory, stopping):
 * the caller answers. */
static bool wait_start(struct node_http *g, nng_aio *aio,
                       const uint8_t hash[WITAN_HASH_SIZE], uint32_t wait_ms)
{
    pthread_mutex_lock(&g->lock);
    bool room = !g->stopping && g->waiter_count < WITAN_HTTP_WAIT_COUNT_MAX;
    if (room) {
        g->waiter_count++;
        g->waiting++;
    }
    pthread_mutex_unlock(&g->lock);
    if (!room)
        return false;
    struct http_waiter *wt = calloc(1, sizeof *wt);
    bool ctx_open = false;
    if (!wt || nng_aio_alloc(&wt->io, wait_step, wt) != 0 ||
        !(ctx_open = nng_ctx_open(&wt->ctx, g->wait_sock) == 0)) {
        if (wt && wt->io)
            nng_aio_free(wt->io);
        free(wt);
        pthread_mutex_lock(&g->lock);
        g->waiter_count--;
        g->waiting--;
        pthread_cond_broadcast(&g->ready);
        pthread_mutex_unlock(&g->lock);
        return false;
    }
    wt->gw = g;
    wt->http = aio;
    memcpy(wt->hash, hash, WITAN_HASH_SIZE);
    wt->wait_ms = wait_ms;
    wt->deadline_ms = node_monotonic_ms() + wait_ms;
    wt->poll_ms = HTTP_WAIT_POLL_MIN_MS;
    nng_aio_set_timeout(wt->io, HTTP_NODE_TIMEOUT_MS);
    wait_send(wt);
    return true;
}

/* Answers a resumed waiter on a worker and frees it. */
static void wait_finish(struct http_worker *w, struct http_waiter *wt)
{
    char hex[2 * WITAN_HASH_SIZE + 1], message[256];
    witan_hex_encode(wt->hash, WITAN_HASH_SIZE, hex);
    if (wt->outcome == WITAN_OK) {
        /* Committed (or, rarely, gone): exactly GET /v1/tx/{hash}. */
        struct http_call *c = calloc(1, sizeof *c);
        if (c) {
            c->w = w;
            c->aio = wt->http;
            route_tx(c, hex);
            free(c);
        } else {
            respond_error(wt->http, 500, WITAN_ENOMEM, false,
                          "out of memory");
        }
    } else if (wt->outcome == WITAN_ETIMEOUT) {
        snprintf(message, sizeof message,
                 "not committed within %u ms; it stays pending: poll "
                 "GET /v1/tx/%s",
                 wt->wait_ms, hex);
        respond_pending(wt->http, hex, WITAN_ETIMEOUT, message);
    } else {
        respond_error(wt->http, status_of(wt->outcome), wt->outcome, false,
                      "transaction %s was admitted, but waiting for its "
                      "commit failed: %s; poll GET /v1/tx/%s",
                      hex, witan_err_message(wt->outcome), hex);
    }
    nng_ctx_close(wt->ctx); /* ECLOSED once the socket is: harmless */
    nng_aio_free(wt->io);   /* waits for wait_step to have returned */
    struct node_http *g = wt->gw;
    free(wt);
    pthread_mutex_lock(&g->lock);
    g->waiter_count--;
    pthread_mutex_unlock(&g->lock);
}

/* Sends a query built by the caller and answers with its rendering. */
static void answer_query(struct http_call *c, Witan__Request *req)
{
    Witan__Response *resp = call_or_answer(c->w, c->aio, req);
    if (!resp)
        return;
    const ProtobufCMessage *m =
        resp->kind_case == WITAN__RESPONSE__KIND_ATTESTATIONS
            ? &resp->attestations->base
        : resp->kind_case == WITAN__RESPONSE__KIND_PREDICTIONS
            ? &resp->predictions->base
        : resp->kind_case == WITAN__RESPONSE__KIND_MODELS
            ? &resp->models->base
        : resp->kind_case == WITAN__RESPONSE__KIND_ACCOUNT
            ? &resp->account->base
        : resp->kind_case == WITAN__RESPONSE__KIND_CONTRACTS
            ? &resp->contracts->base
        : resp->kind_case == WITAN__RESPONSE__KIND_DECISIONS
            ? &resp->decisions->base
        : resp->kind_case == WITAN__RESPONSE__KIND_RUNS
            ? &resp->runs->base
        : resp->kind_case == WITAN__RESPONSE__KIND_SCORECARD
            ? &resp->scorecard->base
        : resp->kind_case == WITAN__RESPONSE__KIND_CONSISTENCY
            ? &resp->consistency->base
        : resp->kind_case == WITAN__RESPONSE__KIND_PROPOSALS
            ? &resp->proposals->base
        : resp->kind_case == WITAN__RESPONSE__KIND_VALIDATORS
            ? &resp->validators->base
        : resp->kind_case == WITAN__RESPONSE__KIND_FEEDS
            ? &resp->feeds->base
            : NULL;
    if (m)
        answer_message(c->aio, m);
    else
        respond_error(c->aio, 502, WITAN_EDECODE, false,
                      "the node answered with another kind of response");
    witan__response__free_unpacked(resp, NULL);
}

/* Reads the common paging parameters; answers and returns non-zero on a
 * bad one. */
static int paging(struct http_call *c, uint32_t *limit,
                  ProtobufCBinaryData *cursor, size_t cursor_max)
{
    const char *v = param(&c->params, "limit");
    uint64_t n = 0;
    if (v && (parse_u64(v, &n) || n > WITAN_QUERY_PAGE_COUNT_MAX)) {
        respond_error(c->aio, 400, WITAN_ELIMIT, false,
                      "limit is a count from 0 to %d",
                      WITAN_QUERY_PAGE_COUNT_MAX);
        return -1;
    }
    *limit = (uint32_t)n;
    v = param(&c->params, "cursor");
    if (v && *v && parse_hex(v, cursor_max, cursor)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "cursor is the hex next_cursor of a previous page");
        return -1;
    }
    return 0;
}

/* A time in a query: the forms the CLI takes (witan_time_parse: ISO 8601,
 * @SECONDS, ms:MS, 12 digits or more as ms), and 0, "no bound". */
static int time_param(const char *s, int64_t *out)
{
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return WITAN_OK;
    }
    return witan_time_parse(s, out);
}

static void route_attestations(struct http_call *c)
{
    static const char *const known[] = {"feed", "subject", "from", "to",
                                        "limit", "cursor", "history", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    Witan__AttestationsRequest a = WITAN__ATTESTATIONS_REQUEST__INIT;
    a.feed = (char *)(param(&c->params, "feed") ? param(&c->params, "feed")
                                                : "");
    a.subject = (char *)(param(&c->params, "subject")
                             ? param(&c->params, "subject")
                             : "");
    const char *from = param(&c->params, "from"),
               *to = param(&c->params, "to"),
               *history = param(&c->params, "history");
    /* A search without both keys would answer an empty list, as if
     * nothing had been attested: name what is missing instead. */
    if (!*a.feed || !*a.subject) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "%s is required (attestations are kept by feed and "
                      "subject)",
                      !*a.feed ? "feed" : "subject");
        return;
    }
    int ferr = from ? time_param(from, &a.from_ms) : 0;
    int terr = !ferr && to ? time_param(to, &a.to_ms) : 0;
    if (ferr || terr) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "%s '%s' is invalid: %s", ferr ? "from" : "to",
                      ferr ? from : to,
                      witan_time_error(ferr ? ferr : terr));
        return;
    }
    if (history && strcmp(history, "true") && strcmp(history, "false") &&
        strcmp(history, "1") && strcmp(history, "0")) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "history is true or false");
        return;
    }
    a.history = history && (!strcmp(history, "true") || !strcmp(history, "1"));
    if (paging(c, &a.limit, &a.cursor, HTTP_CURSOR_SIZE_MAX))
        return;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_ATTESTATIONS;
    req.attestations = &a;
    answer_query(c, &req);
    free(a.cursor.data);
}

/* /v1/feeds: the (feed, subject) pairs with attestations, what to ask
 * /v1/attestations for. */
static void route_feeds(struct http_call *c)
{
    static const char *const known[] = {"feed", "limit", "cursor", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    Witan__FeedsRequest f = WITAN__FEEDS_REQUEST__INIT;
    f.feed = (char *)(param(&c->params, "feed") ? param(&c->params, "feed")
                                                : "");
    if (paging(c, &f.limit, &f.cursor, HTTP_CURSOR_SIZE_MAX))
        return;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_FEEDS;
    req.feeds = &f;
    answer_query(c, &req);
    free(f.cursor.data);
}

static void route_predictions(struct http_call *c)
{
    static const char *const known[] = {"model", "subject", "from", "to",
                                        "limit", "cursor", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    Witan__PredictionsRequest p = WITAN__PREDICTIONS_REQUEST__INIT;
    const char *model = param(&c->params, "model");
    uint8_t hash[WITAN_HASH_SIZE];
    if (!model || strlen(model) != 2 * WITAN_HASH_SIZE ||
        witan_hex_decode(model, hash, WITAN_HASH_SIZE)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "model is the model's hash, 64 hex digits");
        return;
    }
    p.model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    p.subject = (char *)(param(&c->params, "subject")
                             ? param(&c->params, "subject")
                             : "");
    const char *from = param(&c->params, "from"),
               *to = param(&c->params, "to");
    if ((from && parse_u64(from, &p.from_height)) ||
        (to && parse_u64(to, &p.to_height))) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "from and to are block heights");
        return;
    }
    if (paging(c, &p.limit, &p.cursor, HTTP_CURSOR_SIZE_MAX))
        return;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PREDICTIONS;
    req.predictions = &p;
    answer_query(c, &req);
    free(p.cursor.data);
}

static void route_models(struct http_call *c, const char *arg)
{
    static const char *const known[] = {"limit", "cursor", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    Witan__ModelsRequest m = WITAN__MODELS_REQUEST__INIT;
    uint8_t hash[WITAN_HASH_SIZE];
    if (arg) {
        if (strlen(arg) != 2 * WITAN_HASH_SIZE ||
            witan_hex_decode(arg, hash, WITAN_HASH_SIZE)) {
            respond_error(c->aio, 400, WITAN_EINVAL, false,
                          "a model hash is 64 hex digits");
            return;
        }
        m.hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    }
    if (paging(c, &m.limit, &m.cursor, HTTP_CURSOR_SIZE_MAX))
        return;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_MODELS;
    req.models = &m;
    answer_query(c, &req);
    free(m.cursor.data);
}

static void route_account(struct http_call *c, const char *arg)
{
    uint8_t addr[WITAN_ADDRESS_SIZE];
    if (strlen(arg) != 2 * WITAN_ADDRESS_SIZE ||
        witan_hex_decode(arg, addr, sizeof addr)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "an address is %d hex digits", 2 * WITAN_ADDRESS_SIZE);
        return;
    }
    Witan__AccountRequest a = WITAN__ACCOUNT_REQUEST__INIT;
    a.address = (ProtobufCBinaryData){sizeof addr, addr};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_ACCOUNT;
    req.account = &a;
    answer_query(c, &req);
}

/* --- decision contracts ------------------------------------------------------- */

/* Answers 400 and returns false when the request carries any query
 * parameter outside `known`. */
static bool params_ok(struct http_call *c, const char *const *known)
{
    if (params_check(&c->params, known, c->why, sizeof c->why) == 0)
        return true;
    respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
    return false;
}

/* A path or query value of exactly `size` bytes in hex. */
static bool hex_exact(const char *s, uint8_t *out, size_t size)
{
    return strlen(s) == 2 * size && witan_hex_decode(s, out, size) == 0;
}

/* A kind or subject to filter on: text, or 0x and hex for any bytes (a
 * contract picks them as bytes); malloc'd into *out (free it).
 * WITAN_EDECODE, WITAN_ELIMIT, WITAN_ENOMEM. */
static int bytes_param(const char *s, size_t max, ProtobufCBinaryData *out)
{
    if (strncmp(s, "0x", 2) == 0)
        return parse_hex(s + 2, max, out);
    size_t n = strlen(s);
    if (n > max)
        return WITAN_ELIMIT;
    out->data = malloc(n ? n : 1);
    if (!out->data)
        return WITAN_ENOMEM;
    memcpy(out->data, s, n);
    out->len = n;
    return WITAN_OK;
}

static void route_contracts(struct http_call *c, const char *arg)
{
    static const char *const listing[] = {"model", "limit", "cursor", NULL};
    static const char *const none[] = {NULL};
    if (!params_ok(c, arg ? none : listing))
        return;
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    uint8_t id[WITAN_HASH_SIZE], model[WITAN_HASH_SIZE];
    if (arg) {
        if (!hex_exact(arg, id, sizeof id)) {
            respond_error(c->aio, 400, WITAN_EINVAL, false,
                          "a contract id is 64 hex digits (its deploy "
                          "transaction's hash)");
            return;
        }
        q.id = (ProtobufCBinaryData){sizeof id, id};
    } else {
        const char *m = param(&c->params, "model");
        if (m && !hex_exact(m, model, sizeof model)) {
            respond_error(c->aio, 400, WITAN_EINVAL, false,
                          "model is a model's hash, 64 hex digits");
            return;
        }
        if (m)
            q.model_hash = (ProtobufCBinaryData){sizeof model, model};
        if (paging(c, &q.limit, &q.cursor, WITAN_HASH_SIZE))
            return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    req.contracts = &q;
    answer_query(c, &req);
    free(q.cursor.data);
}

static void route_decisions(struct http_call *c, const char *arg)
{
    static const char *const listing[] = {"contract", "kind", "subject",
                                          "from", "to", "limit", "cursor",
                                          NULL};
    static const char *const none[] = {NULL};
    if (!params_ok(c, arg ? none : listing))
        return;
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    uint8_t id[WITAN_DECISION_ID_SIZE], contract[WITAN_HASH_SIZE];
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_DECISIONS;
    req.decisions = &q;
    if (arg) {
        if (!hex_exact(arg, id, sizeof id)) {
            respond_error(c->aio, 400, WITAN_EINVAL, false,
                          "a decision id is %d hex digits",
                          2 * WITAN_DECISION_ID_SIZE);
            return;
        }
        q.id = (ProtobufCBinaryData){sizeof id, id};
        answer_query(c, &req);
        return;
    }
    const char *ct = param(&c->params, "contract"),
               *kind = param(&c->params, "kind"),
               *subject = param(&c->params, "subject"),
               *from = param(&c->params, "from"), *to = param(&c->params, "to");
    if (ct && !hex_exact(ct, contract, sizeof contract)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "contract is a contract id, 64 hex digits");
        return;
    }
    if (ct)
        q.contract = (ProtobufCBinaryData){sizeof contract, contract};
    if ((from && parse_u64(from, &q.from_height)) ||
        (to && parse_u64(to, &q.to_height))) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "from and to are block heights");
        return;
    }
    int err = WITAN_OK;
    if (kind && (err = bytes_param(kind, WITAN_DECISION_KIND_SIZE_MAX,
                                   &q.kind)))
        snprintf(c->why, sizeof c->why,
                 "kind is text or 0x and hex, at most %d bytes",
                 WITAN_DECISION_KIND_SIZE_MAX);
    else if (subject &&
             (err = bytes_param(subject, WITAN_DECISION_SUBJECT_SIZE_MAX,
                                &q.subject)))
        snprintf(c->why, sizeof c->why,
                 "subject is text or 0x and hex, at most %d bytes",
                 WITAN_DECISION_SUBJECT_SIZE_MAX);
    if (err)
        respond_error(c->aio, err == WITAN_ENOMEM ? 500 : 400, err, false,
                      "%s", c->why);
    else if (paging(c, &q.limit, &q.cursor, WITAN_DECISION_CURSOR_SIZE_MAX) ==
             0)
        answer_query(c, &req);
    free(q.kind.data);
    free(q.subject.data);
    free(q.cursor.data);
}

/* /v1/proposals and /v1/proposals/{id} (spec/governance.md). */
static void route_proposals(struct http_call *c, const char *arg)
{
    static const char *const listing[] = {"limit", "cursor", NULL};
    static const char *const none[] = {NULL};
    if (!params_ok(c, arg ? none : listing))
        return;
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    if (arg) {
        if (parse_u64(arg, &q.id) || q.id == 0) {
            respond_error(c->aio, 400, WITAN_EINVAL, false,
                          "a proposal id is a whole number from 1");
            return;
        }
    } else if (paging(c, &q.limit, &q.cursor, 8)) {
        return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PROPOSALS;
    req.proposals = &q;
    answer_query(c, &req);
    free(q.cursor.data);
}

/* GET /v1/validators[?at=H]: the validator set in force at H (default:
 * the next block) and any pending change (governance.md section 12). */
static void route_validators(struct http_call *c)
{
    static const char *const known[] = {"at", NULL};
    if (!params_ok(c, known))
        return;
    Witan__ValidatorsRequest q = WITAN__VALIDATORS_REQUEST__INIT;
    const char *at = param(&c->params, "at");
    if (at && (parse_u64(at, &q.height) || q.height == 0)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "at is a height, a whole number from 1");
        return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_VALIDATORS;
    req.validators = &q;
    answer_query(c, &req);
}

/* The one path argument of a route that takes a hash and no parameters;
 * answers and returns false when either is wrong. */
static bool hash_only(struct http_call *c, const char *hex, const char *what,
                      uint8_t hash[WITAN_HASH_SIZE])
{
    static const char *const none[] = {NULL};
    if (!params_ok(c, none))
        return false;
    if (!hex_exact(hex, hash, WITAN_HASH_SIZE)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "a %s hash is 64 hex digits", what);
        return false;
    }
    return true;
}

/* A trapped run of a contract deployed with a source map (language.md,
 * "Source map"): `{"run": i, "line", "col", "text"}`, the source line of
 * the trap, read from the contract's source on chain. Rendered here, never
 * stored; nothing when the contract has no map or the node cannot say. */
static void trap_source(struct http_call *c, struct render_json *b,
                        bool *any, size_t i, const Witan__ContractRun *run)
{
    if (!run->trap || run->contract.len != WITAN_HASH_SIZE)
        return;
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = run->contract;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    req.contracts = &q;
    Witan__Response *resp;
    if (node_rpc(c->w->sock, &req, false, &resp))
        return;
    uint32_t line, col;
    const char *text;
    size_t len;
    if (!resp->error && resp->contracts &&
        resp->contracts->n_contracts == 1) {
        const Witan__ContractRecord *k = resp->contracts->contracts[0];
        if (lang_trap_source(k->source_map.data, k->source_map.len,
                             k->source, run->trap_function, run->trap_offset,
                             &line, &col, &text, &len) == 0) {
            char *copy = strndup(text, len);
            render_json_printf(b, "%s{\"run\":%zu,\"line\":%u,\"col\":%u,"
                                  "\"text\":",
                               *any ? "," : "", i, line, col);
            render_json_str(b, copy ? copy : "");
            render_json_puts(b, "}");
            free(copy);
            *any = true;
        }
    }
    witan__response__free_unpacked(resp, NULL);
}

/* GET /v1/tx/{hash}/runs: the contract runs a transaction caused, and
 * `trap_sources`, the source line of each trap a source map can place. */
static void route_runs(struct http_call *c, const char *hex)
{
    uint8_t hash[WITAN_HASH_SIZE];
    if (!hash_only(c, hex, "transaction", hash))
        return;
    Witan__RunsRequest q = WITAN__RUNS_REQUEST__INIT;
    q.tx_hash = (ProtobufCBinaryData){sizeof hash, hash};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_RUNS;
    req.runs = &q;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    if (resp->kind_case != WITAN__RESPONSE__KIND_RUNS) {
        respond_error(c->aio, 502, WITAN_EDECODE, false,
                      "the node answered with another kind of response");
        witan__response__free_unpacked(resp, NULL);
        return;
    }
    struct render_json b = {0};
    bool first = true, any = false;
    render_json_puts(&b, "{");
    render_json_fields(&b, &resp->runs->base, &first);
    render_json_puts(&b, first ? "\"trap_sources\":[" : ",\"trap_sources\":[");
    for (size_t i = 0; i < resp->runs->n_runs; i++)
        trap_source(c, &b, &any, i, resp->runs->runs[i]);
    render_json_puts(&b, "]}\n");
    respond_json(c->aio, 200, &b, false);
    witan__response__free_unpacked(resp, NULL);
}

/* /v1/models/{hash}/scorecard */
static void route_scorecard(struct http_call *c, const char *hex)
{
    uint8_t hash[WITAN_HASH_SIZE];
    if (!hash_only(c, hex, "model", hash))
        return;
    Witan__ScorecardRequest q = WITAN__SCORECARD_REQUEST__INIT;
    q.model_hash = (ProtobufCBinaryData){sizeof hash, hash};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_SCORECARD;
    req.scorecard = &q;
    answer_query(c, &req);
}

/* /v1/proofs/{tx|attestations|predictions|decisions}/{hex}: proof.json
 * (spec/proofs.md), the very text `witan audit prove` writes. */
static void route_proof(struct http_call *c, const char *rest)
{
    static const char *const known[] = {NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    static const char *const kinds[] = {"tx/", "attestations/",
                                        "predictions/", "decisions/"};
    size_t k = 0;
    while (k < WITAN_ARRAY_COUNT(kinds) &&
           strncmp(rest, kinds[k], strlen(kinds[k])) != 0)
        k++;
    const char *hex = k < WITAN_ARRAY_COUNT(kinds) ? rest + strlen(kinds[k])
                                                   : "";
    size_t n = strlen(hex);
    uint8_t key[WITAN_STORE_KEY_SIZE_MAX];
    if (k == WITAN_ARRAY_COUNT(kinds) || n == 0 || n % 2 ||
        n / 2 > sizeof key || witan_hex_decode(hex, key, n / 2) ||
        (k == 0 && n != 2 * WITAN_HASH_SIZE)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "a proof is of /v1/proofs/tx/{hash}, or "
                      "/v1/proofs/{attestations|predictions|decisions}/{key},"
                      " in hex");
        return;
    }
    Witan__ProofRequest q;
    witan__proof_request__init(&q);
    ProtobufCBinaryData b = {n / 2, key};
    switch (k) {
    case 0: q.target_case = WITAN__PROOF_REQUEST__TARGET_TX_HASH; q.tx_hash = b; break;
    case 1: q.target_case = WITAN__PROOF_REQUEST__TARGET_ATTESTATION_KEY; q.attestation_key = b; break;
    case 2: q.target_case = WITAN__PROOF_REQUEST__TARGET_PREDICTION_KEY; q.prediction_key = b; break;
    default: q.target_case = WITAN__PROOF_REQUEST__TARGET_DECISION_KEY; q.decision_key = b; break;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PROOF;
    req.proof = &q;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    char *text = NULL;
    size_t size;
    int err = resp->kind_case == WITAN__RESPONSE__KIND_PROOF &&
                      resp->proof->proof
                  ? ledger_proof_to_json(resp->proof->proof, &text, &size)
                  : WITAN_EDECODE;
    if (err)
        respond_error(c->aio, 502, err, false,
                      "the node's proof could not be rendered");
    else
        respond(c->aio, 200, "application/json", text, size, false);
    free(text);
    witan__response__free_unpacked(resp, NULL);
}

/* /v1/heads/latest, /v1/heads/{size}: the C2SP signed note, as text; with
 * `sets` (/v1/heads/{size}/sets), the set chain it is checked against, the
 * JSON `witan audit head --sets-out` writes (proofs.md). */
static void route_head(struct http_call *c, const char *which, bool sets)
{
    static const char *const known[] = {NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    uint64_t size = 0;
    if (strcmp(which, "latest") != 0 && (parse_u64(which, &size) || !size)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "a head is /v1/heads/latest or /v1/heads/{size}, a "
                      "positive number of blocks (and its set chain "
                      "/v1/heads/{latest or size}/sets)");
        return;
    }
    Witan__HeadRequest q = WITAN__HEAD_REQUEST__INIT;
    q.size = size;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_HEAD;
    req.head = &q;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (!resp)
        return;
    if (resp->kind_case == WITAN__RESPONSE__KIND_HEAD && sets) {
        char *text = NULL;
        size_t n = 0;
        int err = ledger_validator_changes_to_json(
            resp->head->validator_changes, resp->head->n_validator_changes,
            &text, &n);
        if (err)
            respond_error(c->aio, 500, err, false, "%s",
                          witan_err_message(err));
        else
            respond(c->aio, 200, "application/json", text, n, false);
        free(text);
    } else if (resp->kind_case == WITAN__RESPONSE__KIND_HEAD)
        respond(c->aio, 200, "text/plain; charset=utf-8", resp->head->note,
                strlen(resp->head->note), false);
    else
        respond_error(c->aio, 502, WITAN_EDECODE, false,
                      "the node answered with another kind of response");
    witan__response__free_unpacked(resp, NULL);
}

/* /v1/proofs/consistency?from=&to= */
static void route_consistency(struct http_call *c)
{
    static const char *const known[] = {"from", "to", NULL};
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    const char *f = param(&c->params, "from"), *t = param(&c->params, "to");
    Witan__ConsistencyRequest q = WITAN__CONSISTENCY_REQUEST__INIT;
    if (!f || !t || parse_u64(f, &q.from) || parse_u64(t, &q.to)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "from and to are tree sizes (numbers of blocks)");
        return;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONSISTENCY;
    req.consistency = &q;
    answer_query(c, &req);
}

/* --- GET /v1/export/{kind}: node/http_export.c ----------------------------------- */

static int export_call(void *w, const Witan__Request *req,
                       Witan__Response **out)
{
    return node_rpc(((struct http_worker *)w)->sock, req, false, out);
}

static void route_export(struct http_call *c, const char *kind)
{
    const char *names[HTTP_PARAM_COUNT_MAX], *values[HTTP_PARAM_COUNT_MAX];
    for (size_t i = 0; i < c->params.count; i++) {
        names[i] = c->params.name[i];
        values[i] = c->params.value[i];
    }
    struct node_http_export e;
    int err = node_http_export(kind, names, values, c->params.count,
                               export_call, c->w, &e);
    if (err)
        respond_error(c->aio, status_of(err), err, false, "%s", e.why);
    else
        node_http_export_respond(c->aio, &e);
    node_http_export_free(&e);
}

/* --- /metrics, /healthz, /readyz ------------------------------------------------ */

static Witan__Response *ask_metrics(struct http_call *c)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__MetricsRequest mr = WITAN__METRICS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_METRICS;
    req.metrics = &mr;
    return call_or_answer(c->w, c->aio, &req);
}

/* The page itself is node/metrics.c's. */
static void route_metrics(struct http_call *c)
{
    Witan__Response *resp = ask_metrics(c);
    if (!resp)
        return;
    struct render_json b = {0};
    node_metrics_render(resp->metrics, &b);
    witan__response__free_unpacked(resp, NULL);
    if (b.oom) {
        free(b.p);
        respond_error(c->aio, 500, WITAN_ENOMEM, false, "out of memory");
        return;
    }
    respond(c->aio, 200, "text/plain; version=0.0.4; charset=utf-8", b.p,
            b.len, false);
    free(b.p);
}

/* /healthz: the node's loop answered (else call_or_answer's 503). /readyz:
 * also ready (MetricsResponse.ready); else 503 with
 * {"ready": false, "reason": "behind", "message": "behind: committed ..."},
 * the reason being the message's first word (replica_ready). */
static void route_health(struct http_call *c, bool ready)
{
    Witan__Response *resp = ask_metrics(c);
    if (!resp)
        return;
    if (!ready || resp->metrics->ready) {
        witan__response__free_unpacked(resp, NULL);
        respond(c->aio, 200, "text/plain; charset=utf-8", "ok\n", 3, false);
        return;
    }
    const char *text = resp->metrics->not_ready;
    size_t word = strcspn(text, ":");
    char reason[32];
    snprintf(reason, sizeof reason, "%.*s",
             (int)(text[word] && word < sizeof reason ? word : 0), text);
    struct render_json b = {0};
    render_json_puts(&b, "{\"ready\":false,\"reason\":");
    render_json_str(&b, reason[0] ? reason : "not_ready");
    render_json_puts(&b, ",\"message\":");
    render_json_str(&b, text);
    render_json_puts(&b, "}\n");
    witan__response__free_unpacked(resp, NULL);
    respond_json(c->aio, 503, &b, false);
}

/* --- POST /v1/tx ------------------------------------------------------------------ */

/* A JSON string at *p (after the opening quote has been seen at **p) into a
 * malloc'd buffer; the escapes JSON encoders use for base64 are accepted.
 * WITAN_EDECODE, WITAN_ENOMEM. */
static int json_string(const char **p, const char *end, char **out)
{
    const char *s = *p;
    if (s >= end || *s != '"')
        return WITAN_EDECODE;
    s++;
    const char *close = s;
    while (close < end && *close != '"')
        close += *close == '\\' ? 2 : 1;
    if (close >= end)
        return WITAN_EDECODE;
    char *o = malloc((size_t)(close - s) + 1);
    if (!o)
        return WITAN_ENOMEM;
    size_t n = 0;
    for (; s < close; s++) {
        char ch = *s;
        if (ch == '\\') {
            ch = *++s;
            if (ch != '"' && ch != '\\' && ch != '/') {
                free(o);
                return WITAN_EDECODE;
            }
        } else if ((unsigned char)ch < 0x20) {
            free(o);
            return WITAN_EDECODE;
        }
        o[n++] = ch;
    }
    o[n] = '\0';
    *p = close + 1;
    *out = o;
    return WITAN_OK;
}

static void skip_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' ||
                        **p == '\r'))
        (*p)++;
}

/* Base64 (standard alphabet, padding optional) to a malloc'd buffer. */
static int base64_decode(const char *text, ProtobufCBinaryData *out)
{
    size_t n = strlen(text), max = n / 4 * 3 + 3;
    out->data = malloc(max ? max : 1);
    if (!out->data)
        return WITAN_ENOMEM;
    const char *end;
    int variant = n % 4 == 0 ? sodium_base64_VARIANT_ORIGINAL
                             : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    if (n == 0 || sodium_base642bin(out->data, max, text, n, NULL, &out->len,
                                    &end, variant) != 0 ||
        end != text + n) {
        free(out->data);
        out->data = NULL;
        return WITAN_EDECODE;
    }
    return WITAN_OK;
}

/* Lowercase or uppercase hex, as every bytes field of the gateway's
 * answers is written, to a malloc'd buffer. */
static int hex_decode_alloc(const char *text, ProtobufCBinaryData *out)
{
    size_t n = strlen(text);
    if (n == 0 || n % 2)
        return WITAN_EDECODE;
    out->data = malloc(n / 2);
    if (!out->data)
        return WITAN_ENOMEM;
    if (witan_hex_decode(text, out->data, n / 2)) {
        free(out->data);
        out->data = NULL;
        return WITAN_EDECODE;
    }
    out->len = n / 2;
    return WITAN_OK;
}

/* {"envelope": "<base64>"} or {"envelopes": ["<base64>", ...]}, or the
 * same as hex under "envelope_hex" / "envelopes_hex" (the encoding of
 * every bytes field the gateway answers with), into a malloc'd array of
 * malloc'd envelopes. `why` says what is wrong. */
int node_http_parse_tx_json(const char *text, size_t size,
                            ProtobufCBinaryData **envs, size_t *count,
                            bool *batch, char *why, size_t why_size)
{
    const char *p = text, *end = text + size;
    size_t cap = 0;
    *envs = NULL;
    *count = 0;
    int err = WITAN_OK;
    bool seen = false;
    skip_ws(&p, end);
    if (p >= end || *p++ != '{') {
        snprintf(why, why_size, "the body is not a JSON object");
        return WITAN_EDECODE;
    }
    skip_ws(&p, end);
    while (!err && p < end && *p != '}') {
        char *key = NULL;
        err = json_string(&p, end, &key);
        skip_ws(&p, end);
        if (!err && (p >= end || *p++ != ':'))
            err = WITAN_EDECODE;
        skip_ws(&p, end);
        bool known = !err && (strcmp(key, "envelope") == 0 ||
                              strcmp(key, "envelopes") == 0 ||
                              strcmp(key, "envelope_hex") == 0 ||
                              strcmp(key, "envelopes_hex") == 0);
        if (!err && (seen || !known)) {
            snprintf(why, why_size,
                     seen ? "give one of \"envelope\", \"envelopes\", "
                            "\"envelope_hex\" or \"envelopes_hex\", once"
                          : "unknown key \"%.64s\": expected \"envelope\" "
                            "or \"envelopes\" (base64), or \"envelope_hex\" "
                            "or \"envelopes_hex\"",
                     key);
            err = WITAN_EINVAL;
        }
        bool many = !err && strncmp(key, "envelopes", 9) == 0;
        bool hex = !err && strstr(key, "_hex") != NULL;
        free(key);
        if (err)
            break;
        seen = true;
        *batch = many;
        if (many) {
            if (p >= end || *p++ != '[') {
                err = WITAN_EDECODE;
                break;
            }
            skip_ws(&p, end);
        }
        while (!err && p < end && !(many && *p == ']')) {
            if (*count == WITAN_CLIENT_BATCH_COUNT_MAX) {
                snprintf(why, why_size,
                         "a request carries at most %d transactions",
                         WITAN_CLIENT_BATCH_COUNT_MAX);
                err = WITAN_ELIMIT;
                break;
            }
            char *b64 = NULL;
            err = json_string(&p, end, &b64);
            if (err)
                break;
            if (*count == cap) {
                cap = cap ? 2 * cap : 8;
                ProtobufCBinaryData *grown =
                    realloc(*envs, cap * sizeof **envs);
                if (!grown) {
                    free(b64);
                    err = WITAN_ENOMEM;
                    break;
                }
                *envs = grown;
            }
            err = hex ? hex_decode_alloc(b64, &(*envs)[*count])
                      : base64_decode(b64, &(*envs)[*count]);
            free(b64);
            if (err) {
                snprintf(why, why_size,
                         "envelope %zu is not %s of a serialized Envelope",
                         *count, hex ? "hex" : "base64");
                break;
            }
            (*count)++;
            skip_ws(&p, end);
            if (!many)
                break;
            if (p < end && *p == ',') {
                p++;
                skip_ws(&p, end);
            } else if (p < end && *p != ']') {
                err = WITAN_EDECODE;
            }
        }
        if (!err && many) {
            if (p >= end || *p++ != ']')
                err = WITAN_EDECODE;
        }
        skip_ws(&p, end);
        if (!err && p < end && *p == ',') {
            p++;
            skip_ws(&p, end);
        }
    }
    if (!err && (p >= end || *p++ != '}'))
        err = WITAN_EDECODE;
    skip_ws(&p, end);
    if (!err && p != end)
        err = WITAN_EDECODE;
    if (!err && !seen) {
        snprintf(why, why_size, "expected {\"envelope\": \"<base64>\"} or "
                                "{\"envelopes\": [...]}");
        err = WITAN_EINVAL;
    }
    if (err && !why[0])
        snprintf(why, why_size, "the body is not valid JSON of the form "
                                "{\"envelope\": \"<base64>\"}");
    return err;
}

/* A body's framing, from the request's head alone: 0 and its size when it
 * is to be read, or the error, status and message of the answer that
 * refuses it unread (the connection is then closed after the answer). */
static int body_check(nng_http_req *req, uint64_t *size, uint16_t *status,
                      char *why, size_t why_size)
{
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    *size = 0;
    if (cl && parse_u64(cl, size)) {
        *status = 400;
        snprintf(why, why_size, "Content-Length is not a number");
        return WITAN_EINVAL;
    }
    if (nng_http_req_get_header(req, "Transfer-Encoding")) {
        *status = 411;
        snprintf(why, why_size, "send the body with a Content-Length");
        return WITAN_EUNSUPPORTED;
    }
    if (*size > WITAN_HTTP_BODY_SIZE_MAX) {
        *status = 413;
        snprintf(why, why_size,
                 "a request body is at most %d bytes, not %" PRIu64,
                 WITAN_HTTP_BODY_SIZE_MAX, *size);
        return WITAN_ELIMIT;
    }
    return WITAN_OK;
}

/* The connections' question (http_conns_hooks.body_wanted). */
static bool body_wanted(nng_http_req *req, size_t *size)
{
    uint64_t n;
    uint16_t status;
    char why[128];
    if (body_check(req, &n, &status, why, sizeof why))
        return false;
    *size = (size_t)n;
    return true;
}

static void route_submit(struct http_call *c, uint8_t *body, size_t size)
{
    const char *type = nng_http_req_get_header(c->req, "Content-Type");
    ProtobufCBinaryData *envs = NULL, single = {size, body};
    size_t count = 0;
    bool batch = false;
    c->why[0] = '\0';
    static const char *const known[] = {"wait", NULL};
    const char *wait_text = param(&c->params, "wait");
    uint64_t wait_ms = 0;
    if (params_check(&c->params, known, c->why, sizeof c->why)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false, "%s", c->why);
        return;
    }
    if (wait_text && (parse_u64(wait_text, &wait_ms) ||
                      wait_ms > WITAN_HTTP_WAIT_MS_MAX)) {
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "wait is a number of milliseconds up to %d, not '%s'",
                      WITAN_HTTP_WAIT_MS_MAX, wait_text);
        return;
    }
    if (type && (strncasecmp(type, "application/x-protobuf", 22) == 0 ||
                 strncasecmp(type, "application/octet-stream", 24) == 0)) {
        if (size == 0) {
            respond_error(c->aio, 400, WITAN_EDECODE, false,
                          "the body is empty: expected a serialized Envelope");
            return;
        }
        envs = &single;
        count = 1;
    } else if (type && strncasecmp(type, "application/json", 16) == 0) {
        int err = node_http_parse_tx_json((const char *)body, size, &envs,
                                          &count, &batch, c->why,
                                          sizeof c->why);
        if (err) {
            for (size_t i = 0; i < count; i++)
                free(envs[i].data);
            free(envs);
            respond_error(c->aio, err == WITAN_ELIMIT ? 413 : status_of(err),
                          err, false, "%s", c->why);
            return;
        }
    } else {
        respond_error(c->aio, 415, WITAN_EUNSUPPORTED, false,
                      "Content-Type must be application/x-protobuf or "
                      "application/json");
        return;
    }
    if (batch && wait_ms) {
        for (size_t i = 0; i < count; i++)
            free(envs[i].data);
        free(envs);
        respond_error(c->aio, 400, WITAN_EINVAL, false,
                      "wait takes one envelope; for a batch, poll "
                      "GET /v1/tx/{hash} for each");
        return;
    }

    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = count;
    sr.envelopes = envs;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *resp = call_or_answer(c->w, c->aio, &req);
    if (envs != &single) {
        for (size_t i = 0; i < count; i++)
            free(envs[i].data);
        free(envs);
    }
    if (!resp)
        return;
    /* One envelope refused: the request failed, with that error's status.
     * A batch: 200, each result saying whether it was admitted. */
    const Witan__SubmitResponse *s = resp->submit;
    const Witan__Error *e =
        !batch && s->n_results == 1 ? s->results[0]->error : NULL;
    if (wait_ms && !e && s->n_results == 1 &&
        s->results[0]->tx_hash.len == WITAN_HASH_SIZE) {
        /* Admitted (or known already): answer once it settles. */
        const uint8_t *hash = s->results[0]->tx_hash.data;
        if (!wait_start(c->w->gw, c->aio, hash, (uint32_t)wait_ms)) {
            char hex[2 * WITAN_HASH_SIZE + 1], message[256];
            witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
            snprintf(message, sizeof message,
                     "admitted, but too many requests are waiting (at most "
                     "%d): poll GET /v1/tx/%s",
                     WITAN_HTTP_WAIT_COUNT_MAX, hex);
            respond_pending(c->aio, hex, WITAN_EFULL, message);
        }
        witan__response__free_unpacked(resp, NULL);
        return;
    }
    struct render_json b = {0};
    bool first = false;
    render_json_puts(&b, "{");
    if (e) {
        render_json_puts(&b, "\"error\":");
        render_error(&b, e->code, e->message);
    } else {
        first = true;
    }
    render_json_fields(&b, &s->base, &first);
    render_json_puts(&b, "}\n");
    respond_json(c->aio, e ? status_of(e->code) : 200, &b, false);
    witan__response__free_unpacked(resp, NULL);
}

/* --- dispatch ---------------------------------------------------------------------- */

/* Each route's handler gets the path's one {parameter}, NUL-terminated in
 * the call's own copy of the path (NULL when the pattern has none). */
typedef void (*http_handler)(struct http_call *c, char *arg);

static void h_submit(struct http_call *c, char *arg)
{
    (void)arg;
    route_submit(c, c->body, c->body_size);
}
static void h_status(struct http_call *c, char *arg) { (void)arg; route_status(c); }
static void h_metrics(struct http_call *c, char *arg) { (void)arg; route_metrics(c); }
static void h_healthz(struct http_call *c, char *arg) { (void)arg; route_health(c, false); }
static void h_readyz(struct http_call *c, char *arg) { (void)arg; route_health(c, true); }
static void h_block_latest(struct http_call *c, char *arg)
{
    (void)arg;
    route_block(c, "latest");
}
static void h_attestations(struct http_call *c, char *arg) { (void)arg; route_attestations(c); }
static void h_feeds(struct http_call *c, char *arg) { (void)arg; route_feeds(c); }
static void h_predictions(struct http_call *c, char *arg) { (void)arg; route_predictions(c); }
static void h_models(struct http_call *c, char *arg) { (void)arg; route_models(c, NULL); }
static void h_model(struct http_call *c, char *arg) { route_models(c, arg); }
static void h_contracts(struct http_call *c, char *arg) { (void)arg; route_contracts(c, NULL); }
static void h_contract(struct http_call *c, char *arg) { route_contracts(c, arg); }
static void h_proposals(struct http_call *c, char *arg) { (void)arg; route_proposals(c, NULL); }
static void h_validators(struct http_call *c, char *arg) { (void)arg; route_validators(c); }
static void h_proposal(struct http_call *c, char *arg) { route_proposals(c, arg); }
static void h_decisions(struct http_call *c, char *arg) { (void)arg; route_decisions(c, NULL); }
static void h_decision(struct http_call *c, char *arg) { route_decisions(c, arg); }
static void h_consistency(struct http_call *c, char *arg) { (void)arg; route_consistency(c); }
/* route_proof parses the kind itself: "tx/{hash}" and so on. */
static void h_proof(struct http_call *c, char *arg)
{
    (void)arg;
    route_proof(c, c->path + strlen("/v1/proofs/"));
}
static void h_head_latest(struct http_call *c, char *arg)
{
    (void)arg;
    route_head(c, "latest", false);
}
static void h_head(struct http_call *c, char *arg) { route_head(c, arg, false); }
static void h_head_sets(struct http_call *c, char *arg)
{
    route_head(c, arg, true);
}
static void h_account(struct http_call *c, char *arg) { route_account(c, arg); }
static void h_export(struct http_call *c, char *arg) { route_export(c, arg); }
static void h_block(struct http_call *c, char *arg) { route_block(c, arg); }
static void h_tx(struct http_call *c, char *arg) { route_tx(c, arg); }
static void h_runs(struct http_call *c, char *arg) { route_runs(c, arg); }
static void h_scorecard(struct http_call *c, char *arg) { route_scorecard(c, arg); }

/*
 * The gateway's routes: the one list the router matches, in order (the
 * first match wins, so a literal comes before the {parameter} it would
 * also match), and the one spec/openapi.yaml is checked against
 * (node_http_route). A pattern is a literal, or a literal prefix, one
 * {parameter} and a literal suffix; the parameter matches any non-empty
 * text, slashes included (the handler refuses what it cannot parse). "GET"
 * also serves HEAD. `ops`: also served by the metrics listener.
 */
struct http_route {
    const char *method;
    const char *pattern;
    http_handler fn;
    bool ops;
};
static const struct http_route http_routes[] = {
    {"POST", "/v1/tx", h_submit, false},
    {"GET", "/v1/status", h_status, false},
    {"GET", "/metrics", h_metrics, true},
    {"GET", "/healthz", h_healthz, true},
    {"GET", "/readyz", h_readyz, true},
    {"GET", "/v1/blocks/latest", h_block_latest, false},
    {"GET", "/v1/blocks/{height}", h_block, false},
    {"GET", "/v1/tx/{hash}/runs", h_runs, false},
    {"GET", "/v1/tx/{hash}", h_tx, false},
    {"GET", "/v1/attestations", h_attestations, false},
    {"GET", "/v1/feeds", h_feeds, false},
    {"GET", "/v1/predictions", h_predictions, false},
    {"GET", "/v1/models", h_models, false},
    {"GET", "/v1/models/{hash}/scorecard", h_scorecard, false},
    {"GET", "/v1/models/{hash}", h_model, false},
    {"GET", "/v1/accounts/{address}", h_account, false},
    {"GET", "/v1/contracts", h_contracts, false},
    {"GET", "/v1/contracts/{id}", h_contract, false},
    {"GET", "/v1/proposals", h_proposals, false},
    {"GET", "/v1/proposals/{id}", h_proposal, false},
    {"GET", "/v1/validators", h_validators, false},
    {"GET", "/v1/decisions", h_decisions, false},
    {"GET", "/v1/decisions/{id}", h_decision, false},
    {"GET", "/v1/proofs/consistency", h_consistency, false},
    {"GET", "/v1/proofs/tx/{hash}", h_proof, false},
    {"GET", "/v1/proofs/attestations/{key}", h_proof, false},
    {"GET", "/v1/proofs/predictions/{key}", h_proof, false},
    {"GET", "/v1/proofs/decisions/{id}", h_proof, false},
    {"GET", "/v1/heads/latest", h_head_latest, false},
    {"GET", "/v1/heads/{size}/sets", h_head_sets, false},
    {"GET", "/v1/heads/{size}", h_head, false},
    {"GET", "/v1/export/{kind}", h_export, false},
};

int node_http_route(size_t i, const char **method, const char **pattern)
{
    if (i >= WITAN_ARRAY_COUNT(http_routes))
        return WITAN_ENOTFOUND;
    *method = http_routes[i].method;
    *pattern = http_routes[i].pattern;
    return WITAN_OK;
}

/* Whether `path` matches `pattern`; if so *arg_at and *arg_len locate its
 * parameter in path (0, 0 for a literal pattern). */
static bool route_match(const char *pattern, const char *path, size_t *arg_at,
                        size_t *arg_len)
{
    *arg_at = 0;
    *arg_len = 0;
    const char *open = strchr(pattern, '{');
    if (!open)
        return strcmp(pattern, path) == 0;
    const char *close = strchr(open, '}');
    WITAN_ASSERT(close && !strchr(close, '{'));
    size_t pre = (size_t)(open - pattern), post = strlen(close + 1);
    size_t n = strlen(path);
    if (n <= pre + post || strncmp(path, pattern, pre) != 0 ||
        strcmp(path + n - post, close + 1) != 0)
        return false;
    *arg_at = pre;
    *arg_len = n - pre - post;
    return true;
}

static bool is_get(const struct http_call *c)
{
    return strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0;
}

static void serve(struct http_worker *w, nng_aio *aio)
{
    struct http_call *c = calloc(1, sizeof *c);
    if (!c) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    c->w = w;
    c->aio = aio;
    c->req = nng_aio_get_input(aio, 0);
    c->method = nng_http_req_get_method(c->req);

    /* The body was read only if its framing passed this same check; its
     * refusal is answered here, and the connection closed after. */
    uint64_t body_size = 0;
    uint16_t body_status = 0;
    int body_err = body_check(c->req, &body_size, &body_status, c->why,
                              sizeof c->why);
    if (body_err) {
        respond_error(aio, body_status, body_err, true, "%s", c->why);
        goto out;
    }
    void *data = NULL;
    size_t data_size = 0;
    nng_http_req_get_data(c->req, &data, &data_size);
    WITAN_ASSERT(data_size == body_size);
    c->body = data; /* the connection's, until the answer */
    c->body_size = (size_t)body_size;

    const char *uri = nng_http_req_get_uri(c->req);
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    if (url_decode(uri, path_len, false, c->path, sizeof c->path) ||
        parse_query(q ? q + 1 : NULL, &c->params, c->why, sizeof c->why)) {
        respond_error(aio, 400, WITAN_EDECODE, false,
                      "the URL is badly encoded or too long");
        goto out;
    }
    /* The first route whose pattern matches and whose method is this
     * one's; a path some route matches with another method is a 405. */
    const struct http_route *route = NULL, *other = NULL;
    size_t arg_at = 0, arg_len = 0;
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(http_routes) && !route; i++) {
        const struct http_route *r = &http_routes[i];
        if ((w->gw->ops_only && !r->ops) ||
            !route_match(r->pattern, c->path, &arg_at, &arg_len))
            continue;
        bool get = strcmp(r->method, "GET") == 0;
        if (get ? is_get(c) : strcmp(c->method, r->method) == 0)
            route = r;
        else if (!other)
            other = r;
    }
    if (route) {
        char *arg = NULL;
        if (arg_len) {
            arg = c->path + arg_at;
            arg[arg_len] = '\0';
        }
        route->fn(c, arg);
    } else if (other) {
        respond_405(aio, c->path, c->method,
                    strcmp(other->method, "GET") == 0 ? "GET, HEAD"
                                                       : other->method);
    } else {
        respond_error(aio, 404, WITAN_ENOTFOUND, false,
                      "no route %s %s (%s)", c->method, c->path,
                      w->gw->ops_only
                          ? "this listener serves /metrics, /healthz and "
                            "/readyz only"
                          : "spec/api.md lists them");
    }
out:
    free(c);
}

static void *worker_main(void *arg)
{
    struct http_worker *w = arg;
    struct node_http *g = w->gw;
    for (;;) {
        /* A worker leaves only when nothing is queued and no waiter can
         * come back, so every parked request gets its answer. */
        pthread_mutex_lock(&g->lock);
        while (!g->count && !g->resumed_head && (!g->stopping || g->waiting))
            pthread_cond_wait(&g->ready, &g->lock);
        struct http_waiter *wt = g->resumed_head;
        nng_aio *aio = NULL;
        if (wt) {
            g->resumed_head = wt->next;
            if (!g->resumed_head)
                g->resumed_tail = NULL;
        } else if (g->count) {
            aio = g->queue[g->head];
            g->head = (g->head + 1) % HTTP_QUEUE_COUNT_MAX;
            g->count--;
        } else {
            pthread_mutex_unlock(&g->lock);
            return NULL;
        }
        pthread_mutex_unlock(&g->lock);
        /* Once stopping, the sockets are closed: both answer 503. */
        if (wt)
            wait_finish(w, wt);
        else
            serve(w, aio);
    }
}

/* Runs on an nng thread: only queues. */
static void on_http(void *arg, nng_aio *aio)
{
    struct node_http *g = arg;
    pthread_mutex_lock(&g->lock);
    bool queued = false;
    if (!g->stopping && g->count < HTTP_QUEUE_COUNT_MAX) {
        g->queue[(g->head + g->count) % HTTP_QUEUE_COUNT_MAX] = aio;
        g->count++;
        queued = true;
        pthread_cond_signal(&g->ready);
    }
    pthread_mutex_unlock(&g->lock);
    if (!queued)
        respond_error(aio, 503, WITAN_EFULL, true,
                      "the gateway is busy or stopping, retry");
}

/* --- start and stop ------------------------------------------------------------------ */

int node_http_start(nng_socket rep, const char *url, nng_tls_config *tls,
                    const struct node_http_limits *limits, bool ops_only,
                    struct node_http **out)
{
    *out = NULL;
    char inproc[64];
    snprintf(inproc, sizeof inproc, "inproc://witan-%s-%d",
             ops_only ? "ops" : "node", (int)getpid());
    int rc = nng_listen(rep, inproc, NULL, 0);
    if (rc) {
        WITAN_ERROR("http", "cannot listen on %s: %s", inproc,
                    nng_strerror(rc));
        return WITAN_ENET;
    }
    struct node_http *g = calloc(1, sizeof *g);
    if (!g)
        return WITAN_ENOMEM;
    g->ops_only = ops_only;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->ready, NULL);
    for (size_t i = 0; i < HTTP_WORKER_COUNT; i++)
        g->workers[i].sock = (nng_socket)NNG_SOCKET_INITIALIZER;
    g->wait_sock = (nng_socket)NNG_SOCKET_INITIALIZER;
    int err = WITAN_OK;
    if ((rc = nng_req0_open(&g->wait_sock)) != 0 ||
        (rc = nng_dial(g->wait_sock, inproc, NULL, 0)) != 0) {
        WITAN_ERROR("http", "cannot reach the node at %s: %s", inproc,
                    nng_strerror(rc));
        err = WITAN_ENET;
    }
    for (size_t i = 0; i < HTTP_WORKER_COUNT && !err; i++) {
        struct http_worker *w = &g->workers[i];
        w->gw = g;
        rc = nng_req0_open(&w->sock);
        if (!rc) {
            nng_socket_set_ms(w->sock, NNG_OPT_RECVTIMEO,
                              HTTP_NODE_TIMEOUT_MS);
            nng_socket_set_ms(w->sock, NNG_OPT_SENDTIMEO,
                              HTTP_NODE_TIMEOUT_MS);
            rc = nng_dial(w->sock, inproc, NULL, 0);
        }
        if (rc) {
            WITAN_ERROR("http", "cannot reach the node at %s: %s", inproc,
                        nng_strerror(rc));
            err = WITAN_ENET;
        } else if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            err = WITAN_ENOMEM;
        } else {
            w->started = true;
        }
    }
    /* Every path and method comes to on_http: routing, 404 and 405 are
     * ours. */
    const struct http_conns_hooks hooks = {g, body_wanted, on_http};
    if (!err)
        err = http_conns_start(url, tls, limits, &hooks, &g->conns);
    if (err) {
        node_http_stop(g);
        return err;
    }
    WITAN_INFO("http", "%s on %s",
               ops_only ? "metrics and health" : "HTTP/JSON gateway", url);
    *out = g;
    return WITAN_OK;
}

void node_http_stop(struct node_http *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_broadcast(&g->ready);
    pthread_mutex_unlock(&g->lock);
    /* No new connections; those open are closed, and a request they
     * still carry in gets 503 at once. */
    http_conns_shutdown(g->conns);
    /* Closing the sockets ends any wait for the node, which has stopped
     * answering; queued requests then get 503. */
    for (size_t i = 0; i < HTTP_WORKER_COUNT; i++)
        if (nng_socket_id(g->workers[i].sock) > 0)
            nng_close(g->workers[i].sock);
    /* Waiters then fail their next query or wake from their sleep into
     * `stopping`, and come back to the workers, which answer them. */
    if (nng_socket_id(g->wait_sock) > 0)
        nng_close(g->wait_sock);
    for (size_t i = 0; i < HTTP_WORKER_COUNT; i++)
        if (g->workers[i].started)
            pthread_join(g->workers[i].thread, NULL);
    WITAN_ASSERT(g->waiter_count == 0 || !g->workers[0].started);
    /* Every request has its answer: the connections can go. */
    http_conns_free(g->conns);
    pthread_cond_destroy(&g->ready);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void node_http_counters(const struct node_http *h,
                        struct node_http_counters *out)
{
    memset(out, 0, sizeof *out);
    if (h && h->conns)
        http_conns_counters(h->conns, out);
}
