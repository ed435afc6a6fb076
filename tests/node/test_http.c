/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node: the HTTP/JSON gateway of a real witand process, driven by a minimal
 * HTTP/1.1 client written here over a plain TCP socket, and
 * `witan node backup` of a node under load.
 *
 * - POST /v1/tx in both forms (protobuf, base64 JSON, a JSON batch); the
 *   transactions commit and GET /v1/tx, /v1/blocks, /v1/status and
 *   /v1/attestations show them with hex hashes and their values;
 * - /metrics is Prometheus text with every metric and a commit count;
 * - malformed body 400, unknown route 404, oversize body 413 (refused
 *   before it is sent), bad signature 400 naming it and never pooled;
 * - POST /v1/tx?wait=MS answers once committed, with the height, receipt
 *   and certificate, or 202 naming the timeout; five waiting requests (more
 *   than the gateway has workers) do not delay a GET;
 * - a full mempool (mempool_count_max) refuses with 503 WITAN_EFULL over
 *   HTTP and WITAN_EFULL over the nng API, and admits nothing more;
 * - a backup taken under load, restored into a fresh home, starts at the
 *   height and state root the backup reported;
 * - the connection layer: malformed heads 400, oversize heads 431, other
 *   HTTP versions 505, pipelined requests, HEAD, Expect: 100-continue;
 * - under abuse (200 connections trickling a head or a body a byte at a
 *   time, idle keep-alive connections up to the cap): fresh GET /v1/status
 *   and nng status requests keep p99 <= 50 ms; each fresh connection at
 *   the cap closes the longest-idle one; slow connections close after
 *   http_request_timeout_ms, idle ones after http_idle_timeout_ms; at the
 *   cap with none idle a new connection is closed at once; /metrics counts
 *   all of it exactly;
 * - out of files, the gateway backs off instead of spinning, and serves
 *   again once files are free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "ledger/ledger.h"

#define FEED "climate/co2/mauna-loa"
#define LOAD_TX_COUNT 2000
#define LOAD_BATCH 20

static char bin_dir[1024];
static char base_dir[512];
static int port;
static pid_t live_nodes[2];

static void kill_live_nodes(void)
{
    for (size_t i = 0; i < 2; i++)
        if (live_nodes[i] > 0)
            kill(live_nodes[i], SIGKILL);
}

static void run_ok(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static pid_t start_node(const char *home, int slot)
{
    /* A node a failed assertion left behind is not leaked. */
    if (live_nodes[slot] > 0) {
        kill(live_nodes[slot], SIGKILL);
        waitpid(live_nodes[slot], NULL, 0);
        live_nodes[slot] = 0;
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char exe[1200], log[700];
        snprintf(exe, sizeof exe, "%s/witand", bin_dir);
        snprintf(log, sizeof log, "%s/log", home);
        freopen(log, "a", stderr);
        execl(exe, "witand", "--home", home, (char *)NULL);
        _exit(127);
    }
    live_nodes[slot] = pid;
    return pid;
}

static void stop_node(pid_t pid, int slot)
{
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    live_nodes[slot] = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- a minimal HTTP client ----------------------------------------------------- */

struct http_answer {
    int status;
    char head[4096];
    char *body; /* NUL-terminated; free it */
    size_t body_size;
};

/* Sends `head_extra` lines and `size` body bytes (or claims `claimed` bytes
 * of Content-Length without sending them, when claimed > size), with
 * Connection: close, and reads the answer to EOF. -1 when nothing answers. */
static int http_raw(int http_port, const char *method, const char *path,
                    const char *type, const void *body, size_t size,
                    size_t claimed, struct http_answer *a)
{
    memset(a, 0, sizeof *a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Connection: close\r\n%s%s%s",
                     method, path, type ? "Content-Type: " : "",
                     type ? type : "", type ? "\r\n" : "");
    if (body || claimed)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Length: %zu\r\n", claimed > size ? claimed
                                                                : size);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    assert_int_equal(write(fd, head, (size_t)n), n);
    if (size)
        assert_int_equal(write(fd, body, size), (ssize_t)size);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (len < 12 || !end || sscanf(buf, "HTTP/1.1 %d", &a->status) != 1) {
        free(buf);
        return -1;
    }
    size_t head_size = (size_t)(end - buf);
    snprintf(a->head, sizeof a->head, "%.*s", (int)head_size, buf);
    a->body_size = len - head_size - 4;
    a->body = malloc(a->body_size + 1);
    assert_non_null(a->body);
    memcpy(a->body, end + 4, a->body_size + 1);
    free(buf);
    return 0;
}

static int http_get(int http_port, const char *path, struct http_answer *a)
{
    return http_raw(http_port, "GET", path, NULL, NULL, 0, 0, a);
}

/* The decimal in `"name":"123"` (64-bit fields are strings). */
static uint64_t json_u64(const char *json, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    const char *p = strstr(json, key);
    assert_non_null(p);
    return strtoull(p + strlen(key), NULL, 10);
}

static void json_hex(const char *json, const char *name, char out[65])
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":\"", name);
    const char *p = strstr(json, key);
    assert_non_null(p);
    p += strlen(key);
    for (int i = 0; i < 64; i++) {
        assert_true((p[i] >= '0' && p[i] <= '9') ||
                    (p[i] >= 'a' && p[i] <= 'f'));
        out[i] = p[i];
    }
    out[64] = '\0';
    assert_int_equal(p[64], '"');
}

static void wait_http(int http_port)
{
    for (int i = 0; i < 500; i++) {
        struct http_answer a;
        if (http_get(http_port, "/v1/status", &a) == 0) {
            free(a.body);
            if (a.status == 200)
                return;
        }
        sleep_ms(20);
    }
    fail_msg("no HTTP gateway on port %d", http_port);
}

/* --- transactions ------------------------------------------------------------------ */

struct signed_tx {
    uint8_t *env;
    size_t size;
    uint8_t hash[32];
    char hex[65];
};

static void sign_attest(const char *home, uint64_t nonce, const char *subject,
                        int64_t mantissa, struct signed_tx *t)
{
    char path[700];
    snprintf(path, sizeof path, "%s/operator.key", home);
    wcrypto_keypair kp;
    assert_int_equal(wcrypto_keyfile_read(path, &kp), 0);
    uint8_t addr[20];
    wcrypto_address(&kp.pub, addr);
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = "co2";
    v.mantissa = mantissa;
    v.scale = 2;
    Witan__NamedValue *vs[] = {&v};
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = FEED;
    a.subject = (char *)subject;
    a.observed_at_ms = (int64_t)nonce * 60000;
    a.n_values = 1;
    a.values = vs;
    a.unit = "ppm";
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "http-test";
    b.sender = (ProtobufCBinaryData){20, addr};
    b.nonce = nonce;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    b.attest = &a;
    assert_int_equal(cli_sign_tx(&b, &kp, &t->env, &t->size, t->hash), 0);
    witan_hex_encode(t->hash, 32, t->hex);
    wcrypto_keypair_wipe(&kp);
}

static char *base64(const struct signed_tx *t)
{
    size_t n = sodium_base64_encoded_len(t->size,
                                         sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(n);
    assert_non_null(s);
    sodium_bin2base64(s, n, t->env, t->size, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* Polls GET /v1/tx/{hash} until committed; returns the JSON (free it). */
static char *wait_committed(int http_port, const struct signed_tx *t)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/tx/%s", t->hex);
    for (int i = 0; i < 500; i++) {
        struct http_answer a;
        assert_int_equal(http_get(http_port, path, &a), 0);
        if (a.status == 200 && strstr(a.body, "TX_STATE_COMMITTED"))
            return a.body;
        free(a.body);
        sleep_ms(10);
    }
    fail_msg("transaction %s never committed", t->hex);
    return NULL;
}

/* --- the gateway ------------------------------------------------------------------ */

static void test_http_gateway(void **state)
{
    (void)state;
    char home[600], addr[64];
    int http_port = port + 1;
    snprintf(home, sizeof home, "%s/gw", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    run_ok("%s/witan init --home %s --listen %s --chain-id http-test "
           ">/dev/null && echo 'http_listen = http://127.0.0.1:%d' >> "
           "%s/config",
           bin_dir, home, addr, http_port, home);
    pid_t node = start_node(home, 0);
    wait_http(http_port);

    /* Four attestations: protobuf, base64 JSON, and a JSON batch of two
     * (one with a subject that needs escaping). */
    struct signed_tx tx[5];
    sign_attest(home, 1, "mauna-loa", 31000, &tx[0]);
    sign_attest(home, 2, "mauna-loa", 31001, &tx[1]);
    sign_attest(home, 3, "mauna-loa", 31002, &tx[2]);
    sign_attest(home, 4, "say \"hi\"\\", 31003, &tx[3]);
    struct http_answer a;
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx",
                              "application/x-protobuf", tx[0].env, tx[0].size,
                              0, &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, tx[0].hex));
    assert_null(strstr(a.body, "\"error\""));
    free(a.body);

    /* One as hex, the encoding the gateway answers with (envelope_hex);
     * base64 is posted below (the batch) and by the fuzzing at the end. */
    char json[16384], *b1 = malloc(2 * tx[1].size + 1);
    assert_non_null(b1);
    witan_hex_encode(tx[1].env, tx[1].size, b1);
    snprintf(json, sizeof json, "{\"envelope_hex\": \"%s\"}", b1);
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx", "application/json",
                              json, strlen(json), 0, &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, tx[1].hex));
    free(a.body);
    char *b2 = base64(&tx[2]), *b3 = base64(&tx[3]);
    snprintf(json, sizeof json, " {\"envelopes\":[\"%s\" , \"%s\"]}\n", b2,
             b3);
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx", "application/json",
                              json, strlen(json), 0, &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, tx[2].hex));
    assert_non_null(strstr(a.body, tx[3].hex));
    assert_null(strstr(a.body, "\"error\""));
    free(a.body);
    free(b1);
    free(b2);
    free(b3);

    /* Committed: the receipt, the decoded body and the certificate. */
    char *t0 = wait_committed(http_port, &tx[0]);
    assert_non_null(strstr(t0, "\"status\":\"TX_STATUS_OK\""));
    assert_non_null(strstr(t0, "\"feed\":\"" FEED "\""));
    assert_non_null(strstr(t0, "\"mantissa\":\"31000\""));
    assert_non_null(strstr(t0, "\"cert\":{"));
    assert_non_null(strstr(t0, "\"signatures\":[\""));
    uint64_t height = json_u64(t0, "height");
    assert_true(height >= 1);
    char block_hash[65], hash[65];
    json_hex(t0, "block_hash", block_hash);
    json_hex(t0, "tx_hash", hash);
    assert_string_equal(hash, tx[0].hex);
    free(t0);
    for (int i = 1; i < 4; i++)
        free(wait_committed(http_port, &tx[i]));

    /* The block, its hash matching the receipt's, its header decoded. */
    char path[512];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)height);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 200);
    json_hex(a.body, "block_hash", hash);
    assert_string_equal(hash, block_hash);
    assert_non_null(strstr(a.body, "\"header_decoded\":{"));
    assert_non_null(strstr(a.body, "\"chain_id\":\"http-test\""));
    free(a.body);
    /* /v1/blocks/latest: the latest committed block, answered as by its
     * height (the same hash when asked by that height). */
    assert_int_equal(http_get(http_port, "/v1/blocks/latest", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"header_decoded\":{"));
    assert_non_null(strstr(a.body, "\"chain_id\":\"http-test\""));
    uint64_t latest = json_u64(a.body, "height");
    assert_true(latest >= height);
    char latest_hash[65];
    json_hex(a.body, "block_hash", latest_hash);
    free(a.body);
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)latest);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 200);
    json_hex(a.body, "block_hash", hash);
    assert_string_equal(hash, latest_hash);
    free(a.body);

    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_int_equal(a.status, 200);
    assert_true(strstr(a.head, "application/json") != NULL);
    assert_true(json_u64(a.body, "height") >= height);
    assert_non_null(strstr(a.body, "\"chain_id\":\"http-test\""));
    assert_non_null(strstr(a.body, "\"validator_count\":1"));
    json_hex(a.body, "state_root", hash);
    free(a.body);

    /* Attestations: the feed's '/' percent-encoded; values and hashes. */
    assert_int_equal(http_get(http_port,
                              "/v1/attestations?feed=climate%2Fco2%2Fmauna-loa"
                              "&subject=mauna-loa&limit=10",
                              &a),
                     0);
    assert_int_equal(a.status, 200);
    for (int i = 0; i < 3; i++)
        assert_non_null(strstr(a.body, tx[i].hex));
    assert_null(strstr(a.body, tx[3].hex));
    assert_non_null(strstr(a.body, "\"mantissa\":\"31002\""));
    assert_non_null(strstr(a.body, "\"observed_at_ms\":\"120000\""));
    /* Beside the exact forms: the decimal as text, the time as ISO 8601. */
    assert_non_null(strstr(a.body, "\"scale\":2,\"value\":\"310.02\""));
    assert_non_null(
        strstr(a.body, "\"observed_at\":\"1970-01-01T00:02:00.000Z\""));
    free(a.body);
    /* from and to in the CLI's forms: only the observation at 00:02. */
    assert_int_equal(http_get(http_port,
                              "/v1/attestations?feed=" FEED "&subject=mauna-loa"
                              "&from=1970-01-01T00:02:00Z&to=ms:120000",
                              &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, tx[1].hex));
    assert_null(strstr(a.body, tx[0].hex));
    assert_null(strstr(a.body, tx[2].hex));
    free(a.body);
    /* A short bare number may be seconds: refused, not guessed. */
    assert_int_equal(http_get(http_port,
                              "/v1/attestations?feed=" FEED "&subject=mauna-loa"
                              "&from=120000",
                              &a),
                     0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "may be seconds"));
    free(a.body);
    /* A missing key is named, never answered with an empty list. */
    assert_int_equal(http_get(http_port, "/v1/attestations?feed=" FEED, &a), 0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "subject is required"));
    free(a.body);
    /* A subject with a quote and a backslash comes back escaped. */
    assert_int_equal(http_get(http_port,
                              "/v1/attestations?feed=" FEED
                              "&subject=say+%22hi%22%5C",
                              &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, tx[3].hex));
    assert_non_null(strstr(a.body, "\"subject\":\"say \\\"hi\\\"\\\\\""));
    free(a.body);
    /* Feeds and subjects: both subjects of the feed, in byte order; a page
     * of one names the next. */
    assert_int_equal(http_get(http_port, "/v1/feeds", &a), 0);
    assert_int_equal(a.status, 200);
    char *m = strstr(a.body, "\"subject\":\"mauna-loa\"");
    char *q = strstr(a.body, "\"subject\":\"say \\\"hi\\\"\\\\\"");
    assert_non_null(m);
    assert_non_null(q);
    assert_true(m < q);
    assert_non_null(strstr(a.body, "\"feed\":\"" FEED "\""));
    assert_non_null(strstr(
        a.body, "\"first_observed_at\":\"1970-01-01T00:01:00.000Z\""));
    assert_non_null(strstr(a.body, "\"next_cursor\":\"\""));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/feeds?feed=" FEED "&limit=1", &a),
                     0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"subject\":\"mauna-loa\""));
    assert_null(strstr(a.body, "say "));
    assert_null(strstr(a.body, "\"next_cursor\":\"\""));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/feeds?feed=no-such-feed", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"feeds\":[]"));
    free(a.body);

    /* /metrics: every metric, with HELP and TYPE, and real counts. */
    assert_int_equal(http_get(http_port, "/metrics", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.head, "text/plain"));
    static const char *const names[] = {
        "witan_height", "witan_view", "witan_blocks_committed_total",
        "witan_view_changes_total", "witan_mempool_transactions",
        "witan_mempool_bytes", "witan_peers_connected",
        "witan_messages_dropped_total", "witan_commit_latency_seconds",
        "witan_http_connections_open", "witan_http_connections_closed_total",
        "witan_http_connections_refused_total"};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(names); i++) {
        char line[128];
        snprintf(line, sizeof line, "# TYPE %s ", names[i]);
        assert_non_null(strstr(a.body, line));
        snprintf(line, sizeof line, "# HELP %s ", names[i]);
        assert_non_null(strstr(a.body, line));
    }
    const char *p = strstr(a.body, "\nwitan_blocks_committed_total ");
    assert_non_null(p);
    assert_true(strtoull(p + 30, NULL, 10) >= 1);
    p = strstr(a.body, "\nwitan_commit_latency_seconds_count ");
    assert_non_null(p);
    assert_true(strtoull(p + 36, NULL, 10) >= 4);
    assert_non_null(
        strstr(a.body, "witan_commit_latency_seconds_bucket{le=\"+Inf\"}"));
    free(a.body);

    /* Errors, each a JSON error object with a fitting status. */
    static const char bad_json[] = "{\"envelope\": ";
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx", "application/json",
                              bad_json, strlen(bad_json), 0, &a),
                     0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "{\"error\":{\"code\":"));
    free(a.body);
    static const char bad_b64[] = "{\"envelope\": \"!!!\"}";
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx", "application/json",
                              bad_b64, strlen(bad_b64), 0, &a),
                     0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "base64"));
    free(a.body);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07};
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx",
                              "application/x-protobuf", garbage,
                              sizeof garbage, 0, &a),
                     0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "WITAN_EDECODE"));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/nowhere", &a), 0);
    assert_int_equal(a.status, 404);
    assert_non_null(strstr(a.body, "\"name\":\"WITAN_ENOTFOUND\""));
    free(a.body);
    /* A method the route does not serve: 405, naming those it does. */
    assert_int_equal(http_raw(http_port, "DELETE", "/v1/status", NULL, NULL,
                              0, 0, &a),
                     0);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.head, "\r\nAllow: GET, HEAD"));
    assert_non_null(strstr(a.body, "\"name\":\"WITAN_EUNSUPPORTED\""));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/tx", &a), 0);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.head, "\r\nAllow: POST"));
    free(a.body);
    assert_int_equal(http_raw(http_port, "PUT", "/v1/blocks/latest",
                              "application/json", "{}", 2, 0, &a),
                     0);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.head, "\r\nAllow: GET, HEAD"));
    free(a.body);
    assert_int_equal(http_raw(http_port, "POST", "/v1/nowhere",
                              "application/json", "{}", 2, 0, &a),
                     0);
    assert_int_equal(a.status, 404);
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/models", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"models\":[]"));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/blocks/99999", &a), 0);
    assert_int_equal(a.status, 404);
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/blocks/abc", &a), 0);
    assert_int_equal(a.status, 400);
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/attestations?fed=x", &a), 0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "unknown query parameter 'fed'"));
    free(a.body);
    /* Oversize: refused on its Content-Length, the body never sent. */
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx", "application/json",
                              "{", 1, (size_t)WITAN_HTTP_BODY_SIZE_MAX + 1,
                              &a),
                     0);
    assert_int_equal(a.status, 413);
    assert_non_null(strstr(a.body, "WITAN_ELIMIT"));
    free(a.body);

    /* A bad signature is named and never reaches the mempool. */
    sign_attest(home, 5, "mauna-loa", 31004, &tx[4]);
    tx[4].env[tx[4].size - 1] ^= 1; /* the signature is the last field */
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx",
                              "application/x-protobuf", tx[4].env,
                              tx[4].size, 0, &a),
                     0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "\"name\":\"WITAN_ESIG\""));
    free(a.body);
    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_int_equal(json_u64(a.body, "mempool_size"), 0);
    assert_non_null(strstr(a.body, "\"mempool_count\":0"));
    free(a.body);
    snprintf(path, sizeof path, "/v1/tx/%s", tx[4].hex);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 404);
    free(a.body);

    free(tx[4].env);

    /* A string that is not UTF-8 (the ledger stores bytes) is still valid
     * JSON: the stray byte becomes U+FFFD, well-formed sequences stay. */
    sign_attest(home, 5, "x\xffy\xc3\xa9", 31006, &tx[4]);
    assert_int_equal(http_raw(http_port, "POST", "/v1/tx",
                              "application/x-protobuf", tx[4].env, tx[4].size,
                              0, &a),
                     0);
    assert_int_equal(a.status, 200);
    free(a.body);
    char *t4 = wait_committed(http_port, &tx[4]);
    assert_non_null(strstr(t4, "\"subject\":\"x\\ufffdy\xc3\xa9\""));
    free(t4);
    /* The receipt in protobuf: the bytes the chain hashes, no JSON. */
    snprintf(path, sizeof path, "/v1/tx/%s?format=protobuf", tx[4].hex);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 200);
    if (!strstr(a.head, "application/x-protobuf"))
        fail_msg("head: %s", a.head);
    Witan__TxResponse *pb = witan__tx_response__unpack(
        NULL, a.body_size, (const uint8_t *)a.body);
    assert_non_null(pb);
    assert_int_equal(pb->state, WITAN__TX_STATE__TX_STATE_COMMITTED);
    assert_non_null(pb->receipt);
    assert_int_equal(pb->receipt->status, WITAN__TX_STATUS__TX_STATUS_OK);
    assert_true(pb->receipt->n_records >= 2); /* the account, the record */
    assert_int_equal(pb->envelope.len, tx[4].size);
    assert_memory_equal(pb->envelope.data, tx[4].env, tx[4].size);
    witan__tx_response__free_unpacked(pb, NULL);
    free(a.body);
    snprintf(path, sizeof path, "/v1/tx/%s?format=xml", tx[4].hex);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 400);
    free(a.body);
    /* Its proof (once block h + 1 carries its receipts root) checks with
     * the genesis alone. */
    snprintf(path, sizeof path, "/v1/proofs/tx/%s", tx[4].hex);
    for (int k = 0; k < 250; k++) {
        assert_int_equal(http_get(http_port, path, &a), 0);
        if (a.status != 404)
            break;
        free(a.body);
        sleep_ms(20);
    }
    assert_int_equal(a.status, 200);
    Witan__Proof *proof;
    char why[LEDGER_WHY_SIZE], said[1024], gpath[700];
    assert_int_equal(
        ledger_proof_from_json(a.body, a.body_size, &proof, why, sizeof why),
        0);
    free(a.body);
    Witan__Genesis *g;
    snprintf(gpath, sizeof gpath, "%s/genesis.json", home);
    assert_int_equal(ledger_genesis_load(gpath, &g, why, sizeof why), 0);
    if (ledger_proof_check(g, proof, said, sizeof said, why, sizeof why))
        fail_msg("the proof over HTTP does not hold: %s", why);
    assert_non_null(strstr(said, tx[4].hex));
    witan__proof__free_unpacked(proof, NULL);
    ledger_genesis_free(g);
    assert_int_equal(http_get(http_port, "/v1/proofs/tx/00", &a), 0);
    assert_int_equal(a.status, 400);
    free(a.body);
    /* No head before checkpoint_interval blocks; consistency proofs
     * between any sizes up to the tip. */
    assert_int_equal(http_get(http_port, "/v1/heads/latest", &a), 0);
    assert_int_equal(a.status, 404);
    assert_non_null(strstr(a.body, "no signed head yet"));
    free(a.body);
    assert_int_equal(
        http_get(http_port, "/v1/proofs/consistency?from=1&to=2", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"proof\":["));
    assert_non_null(strstr(a.body, "\"to_root\":\""));
    free(a.body);
    assert_int_equal(
        http_get(http_port, "/v1/proofs/consistency?from=2&to=1", &a), 0);
    assert_int_equal(a.status, 400);
    free(a.body);

    /* Mutated bodies and queries: always a JSON answer with a client
     * status. A mutation may leave the same envelope (a base64 digit's
     * unused low bits, say): then it is admitted as itself and nothing
     * else ever is. A fixed seed; the key, hence the bytes, vary by run. */
    free(tx[4].env);
    sign_attest(home, 6, "mauna-loa", 31005, &tx[4]);
    char *b4 = base64(&tx[4]), valid[8192];
    snprintf(valid, sizeof valid, "{\"envelope\": \"%s\"}", b4);
    free(b4);
    bool source_admitted = false;
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        char body[8192];
        size_t n = strlen(valid);
        memcpy(body, valid, n + 1);
        for (int m = 0; m < 1 + round % 4; m++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            body[at] = (char)(seed >> 16);
            if (body[at] == '\0')
                body[at] = '"';
        }
        if (round % 7 == 0)
            n = (seed >> 4) % n; /* truncated */
        assert_int_equal(http_raw(http_port, "POST", "/v1/tx",
                                  "application/json", body, n, 0, &a),
                         0);
        assert_true(a.body_size > 0 && a.body[0] == '{');
        if (a.status == 200) {
            assert_non_null(strstr(a.body, tx[4].hex));
            source_admitted = true;
        } else {
            assert_true(a.status == 400 || a.status == 413);
            assert_non_null(strstr(a.body, "\"error\":{\"code\":"));
        }
        free(a.body);
        char query[256];
        snprintf(query, sizeof query, "/v1/attestations?feed=%%%02x%s&limit=%c",
                 (seed >> 3) & 0xff, round % 2 ? "%zz" : "+x", (char)('0' + round % 10));
        assert_int_equal(http_get(http_port, query, &a), 0);
        assert_true(a.status == 200 || a.status == 400);
        free(a.body);
    }

    if (source_admitted)
        free(wait_committed(http_port, &tx[4]));
    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_non_null(strstr(a.body, "\"mempool_count\":0"));
    free(a.body);

    stop_node(node, 0);
    for (int i = 0; i < 5; i++)
        free(tx[i].env);
}

/* --- waiting for a commit, and a full mempool ---------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int post_tx(int http_port, const char *query, const struct signed_tx *t,
                   struct http_answer *a)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/tx%s", query);
    return http_raw(http_port, "POST", path, "application/x-protobuf", t->env,
                    t->size, 0, a);
}

struct waiting_post {
    int http_port;
    const struct signed_tx *t;
    const char *wait; /* the query string */
    struct http_answer a;
    int rc;
};

static void *waiting_post_main(void *arg)
{
    struct waiting_post *w = arg;
    w->rc = post_tx(w->http_port, w->wait, w->t, &w->a);
    return NULL;
}

static void test_http_wait_and_full_mempool(void **state)
{
    (void)state;
    char home[600], addr[64];
    int http_port = port + 1; /* test_http_gateway's node has stopped */
    snprintf(home, sizeof home, "%s/wait", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    run_ok("%s/witan init --home %s --listen %s --chain-id http-test "
           ">/dev/null && sed -i 's/^mempool_count_max = .*/"
           "mempool_count_max = 7/; s|^http_listen = .*|http_listen = "
           "http://127.0.0.1:%d|' %s/config",
           bin_dir, home, addr, http_port, home);
    pid_t node = start_node(home, 0);
    wait_http(http_port);
    static struct signed_tx tx[12];
    for (int i = 1; i < 12; i++)
        sign_attest(home, (uint64_t)i, "mauna-loa", 32000 + i, &tx[i]);
    struct http_answer a;

    /* Bad waits, refused before anything is admitted. */
    assert_int_equal(post_tx(http_port, "?wait=30001", &tx[2], &a), 0);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.body, "wait is a number of milliseconds"));
    free(a.body);
    assert_int_equal(post_tx(http_port, "?wiat=10", &tx[2], &a), 0);
    assert_int_equal(a.status, 400);
    free(a.body);

    /* Nonce 2 cannot commit before nonce 1: the wait times out, 202, and
     * names the hash to poll. */
    int64_t t0 = now_ms();
    assert_int_equal(post_tx(http_port, "?wait=300", &tx[2], &a), 0);
    int64_t waited = now_ms() - t0;
    assert_int_equal(a.status, 202);
    assert_true(waited >= 300 && waited < 3000);
    assert_non_null(strstr(a.body, "\"state\":\"TX_STATE_PENDING\""));
    assert_non_null(strstr(a.body, "\"name\":\"WITAN_ETIMEOUT\""));
    assert_non_null(strstr(a.body, tx[2].hex));
    free(a.body);

    /* Nonce 1 commits (and nonce 2 with or after it): the answer is
     * GET /v1/tx/{hash}'s, with height, receipt and certificate. */
    assert_int_equal(post_tx(http_port, "?wait=10000", &tx[1], &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"state\":\"TX_STATE_COMMITTED\""));
    assert_non_null(strstr(a.body, "\"status\":\"TX_STATUS_OK\""));
    assert_non_null(strstr(a.body, "\"cert\":{"));
    char hash[65];
    json_hex(a.body, "tx_hash", hash);
    assert_string_equal(hash, tx[1].hex);
    uint64_t height = json_u64(a.body, "height");
    assert_true(height >= 1);
    free(a.body);
    /* Sent again once committed: answered at once, same height. */
    t0 = now_ms();
    assert_int_equal(post_tx(http_port, "?wait=10000", &tx[1], &a), 0);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_u64(a.body, "height"), height);
    assert_true(now_ms() - t0 < 1000);
    free(a.body);
    free(wait_committed(http_port, &tx[2]));

    /* Five waits on transactions behind a gap (nonce 3 is missing) hold
     * no worker: a GET meanwhile answers at once. */
    struct waiting_post posts[5];
    pthread_t threads[5];
    for (int i = 0; i < 5; i++) {
        posts[i] = (struct waiting_post){http_port, &tx[4 + i], "?wait=1500",
                                        {0}, -1};
        assert_int_equal(pthread_create(&threads[i], NULL, waiting_post_main,
                                        &posts[i]),
                         0);
    }
    sleep_ms(300);
    t0 = now_ms();
    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_int_equal(a.status, 200);
    assert_true(now_ms() - t0 < 500);
    free(a.body);
    for (int i = 0; i < 5; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(posts[i].rc, 0);
        assert_int_equal(posts[i].a.status, 202);
        assert_non_null(strstr(posts[i].a.body, tx[4 + i].hex));
        free(posts[i].a.body);
    }

    /* The pool holds nonces 4..8; 9 and 10 fill it to 7. Nonce 11 is
     * refused, over HTTP and over nng, and nothing more is pooled. */
    for (int i = 9; i <= 10; i++) {
        assert_int_equal(post_tx(http_port, "", &tx[i], &a), 0);
        assert_int_equal(a.status, 200);
        free(a.body);
    }
    assert_int_equal(post_tx(http_port, "?wait=1000", &tx[11], &a), 0);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.body, "\"name\":\"WITAN_EFULL\""));
    assert_non_null(strstr(a.body, "mempool full"));
    free(a.body);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    ProtobufCBinaryData env = {tx[3].size, tx[3].env};
    sr.n_envelopes = 1;
    sr.envelopes = &env;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *r = NULL;
    assert_int_equal(cli_call(addr, &req, 5000, &r), 0);
    assert_null(r->error);
    assert_int_equal(r->submit->n_results, 1);
    assert_non_null(r->submit->results[0]->error);
    assert_int_equal(r->submit->results[0]->error->code, WITAN_EFULL);
    witan__response__free_unpacked(r, NULL);
    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_non_null(strstr(a.body, "\"mempool_count\":7"));
    free(a.body);
    char path[128];
    snprintf(path, sizeof path, "/v1/tx/%s", tx[11].hex);
    assert_int_equal(http_get(http_port, path, &a), 0);
    assert_int_equal(a.status, 404);
    free(a.body);

    /* Clients that send their headers and then trickle nothing of the body
     * they announced hold no worker: with twice as many of them as there
     * are workers, status still answers at once (before, each held a
     * worker for the 10 s body timeout). */
    enum { SLOW = 8 };
    int slow[SLOW];
    for (int i = 0; i < SLOW; i++) {
        slow[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(slow[i] >= 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)http_port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(slow[i], (struct sockaddr *)&sa, sizeof sa),
                         0);
        static const char head[] =
            "POST /v1/tx HTTP/1.1\r\nHost: test\r\nContent-Type: "
            "application/json\r\nContent-Length: 1000\r\n\r\n{\"env";
        assert_int_equal(write(slow[i], head, sizeof head - 1),
                         (ssize_t)(sizeof head - 1));
    }
    sleep_ms(300);
    for (int k = 0; k < 3; k++) {
        int64_t t = now_ms();
        assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
        assert_int_equal(a.status, 200);
        free(a.body);
        if (now_ms() - t > 2000)
            fail_msg("status took %lld ms behind %d slow bodies",
                     (long long)(now_ms() - t), SLOW);
    }
    for (int i = 0; i < SLOW; i++)
        close(slow[i]);

    /* A wait in progress when the node stops still gets an answer. The
     * wait is long and the pause generous so that a loaded machine still
     * has the request parked before the node stops. */
    struct waiting_post last = {http_port, &tx[10], "?wait=20000", {0}, -1};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, waiting_post_main, &last),
                     0);
    sleep_ms(1500);
    stop_node(node, 0);
    pthread_join(thread, NULL);
    assert_int_equal(last.rc, 0);
    assert_int_equal(last.a.status, 503);
    free(last.a.body);
    for (int i = 1; i < 12; i++)
        free(tx[i].env);
}

/* --- backup under load ---------------------------------------------------------- */

struct load {
    const char *addr;
    struct signed_tx tx[LOAD_TX_COUNT];
};

static void *load_main(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < LOAD_TX_COUNT; i += LOAD_BATCH) {
        ProtobufCBinaryData envs[LOAD_BATCH];
        for (int j = 0; j < LOAD_BATCH; j++)
            envs[j] = (ProtobufCBinaryData){l->tx[i + j].size,
                                            l->tx[i + j].env};
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
        sr.n_envelopes = LOAD_BATCH;
        sr.envelopes = envs;
        req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
        req.submit = &sr;
        Witan__Response *r = NULL;
        if (cli_call(l->addr, &req, 5000, &r) != 0)
            return NULL;
        witan__response__free_unpacked(r, NULL);
    }
    return NULL;
}

static Witan__Response *status_of(const char *addr)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    Witan__Response *r = NULL;
    for (int i = 0; i < 500; i++) {
        if (cli_call(addr, &req, 5000, &r) == 0)
            return r;
        sleep_ms(20);
    }
    fail_msg("node at %s never answered", addr);
    return NULL;
}

static void test_backup_under_load(void **state)
{
    (void)state;
    char home[600], restored[600], out[700], addr[64], addr2[64];
    snprintf(home, sizeof home, "%s/live", base_dir);
    snprintf(restored, sizeof restored, "%s/restored", base_dir);
    snprintf(out, sizeof out, "%s/backup", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port + 2);
    snprintf(addr2, sizeof addr2, "tcp://127.0.0.1:%d", port + 3);
    run_ok("%s/witan init --home %s --listen %s --chain-id http-test "
           ">/dev/null",
           bin_dir, home, addr);
    static struct load l;
    l.addr = addr;
    for (int i = 0; i < LOAD_TX_COUNT; i++)
        sign_attest(home, (uint64_t)i + 1, "backup", 40000 + i, &l.tx[i]);
    pid_t node = start_node(home, 0);
    Witan__Response *r = status_of(addr);
    witan__response__free_unpacked(r, NULL);

    pthread_t loader;
    assert_int_equal(pthread_create(&loader, NULL, load_main, &l), 0);
    uint64_t height = 0;
    for (int i = 0; i < 1000 && height < 5; i++) {
        r = status_of(addr);
        height = r->status->height;
        witan__response__free_unpacked(r, NULL);
        sleep_ms(5);
    }
    assert_true(height >= 5);
    /* The backup runs while blocks are still being committed. */
    char report[800];
    snprintf(report, sizeof report, "%s/backup.txt", base_dir);
    run_ok("%s/witan node backup --home %s --out %s > %s", bin_dir, home, out,
           report);
    pthread_join(loader, NULL);
    char *text;
    size_t size;
    assert_int_equal(witan_read_file(report, 4096, &text, &size), 0);
    const char *h = strstr(text, "height:");
    const char *root = strstr(text, "state root:");
    assert_non_null(h);
    assert_non_null(root);
    uint64_t backup_height = strtoull(h + 7, NULL, 10);
    root += strlen("state root:");
    while (*root == ' ')
        root++;
    uint8_t backup_root[32];
    char root_hex[65];
    memcpy(root_hex, root, 64);
    root_hex[64] = '\0';
    assert_int_equal(witan_hex_decode(root_hex, backup_root, 32), 0);
    free(text);
    assert_true(backup_height >= 5);

    r = status_of(addr);
    print_message("backup at height %llu; the node went on to %llu\n",
                  (unsigned long long)backup_height,
                  (unsigned long long)r->status->height);
    witan__response__free_unpacked(r, NULL);

    /* The original node agrees on the state root at that height. */
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest br = WITAN__BLOCK_REQUEST__INIT;
    br.height = backup_height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &br;
    assert_int_equal(cli_call(addr, &req, 5000, &r), 0);
    assert_non_null(r->block);
    assert_memory_equal(r->block->state_root.data, backup_root, 32);
    uint8_t block_hash[32];
    memcpy(block_hash, r->block->block_hash.data, 32);
    witan__response__free_unpacked(r, NULL);
    stop_node(node, 0);

    /* Restore: a fresh home with the same genesis and keys, the backup as
     * its database, on its own port. */
    run_ok("mkdir -p %s && cp -p %s/genesis.json %s/validator.key "
           "%s/config %s/ && mv %s %s/data && echo 'listen = %s' >> "
           "%s/config",
           restored, home, home, home, restored, out, restored, addr2,
           restored);
    pid_t node2 = start_node(restored, 1);
    /* It starts from the backup's tip; it may then add the few empty
     * blocks that certify the last results (spec/node.md, "Blocks"), so
     * the backup's tip is compared at its height. */
    r = status_of(addr2);
    assert_true(r->status->height >= backup_height);
    assert_true(r->status->height <= backup_height + 8);
    witan__response__free_unpacked(r, NULL);
    assert_int_equal(cli_call(addr2, &req, 5000, &r), 0);
    assert_non_null(r->block);
    assert_memory_equal(r->block->state_root.data, backup_root, 32);
    assert_memory_equal(r->block->block_hash.data, block_hash, 32);
    witan__response__free_unpacked(r, NULL);
    stop_node(node2, 1);
    for (int i = 0; i < LOAD_TX_COUNT; i++)
        free(l.tx[i].env);
}

/* --- the connection layer, and abuse --------------------------------------------- */

#define ABUSE_CAP 512      /* http_connection_count_max */
#define ABUSE_SLOW 200     /* connections trickling a head or a body */
#define ABUSE_IDLE (ABUSE_CAP - ABUSE_SLOW) /* keep-alive, up to the cap */
#define ABUSE_SAMPLES 200  /* fresh HTTP and nng status requests each */
#define ABUSE_BUSY 50      /* partial heads past the cap, one at a time */
#define ABUSE_IDLE_MS 8000
#define ABUSE_REQUEST_MS 4000
#define ABUSE_P99_MS 50
#define ABUSE_TRICKLE_MS 50 /* one byte per slow connection this often */
#define ABUSE_LATE_MS 1500  /* slack for a loaded machine */
#define ABUSE_WATCH_MAX (ABUSE_IDLE + ABUSE_SLOW + ABUSE_SAMPLES + ABUSE_BUSY)

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int tcp_connect(int http_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one answer (head, then Content-Length bytes) from a kept-alive
 * connection, nothing past it: its status, and its body into `body`
 * (NUL-terminated). */
static int read_answer(int fd, char *body, size_t body_size)
{
    char head[4096];
    size_t len = 0;
    head[0] = '\0';
    while (!strstr(head, "\r\n\r\n")) {
        assert_true(len + 1 < sizeof head);
        assert_int_equal(read(fd, head + len, 1), 1);
        head[++len] = '\0';
    }
    const char *cl = strstr(head, "Content-Length: ");
    assert_non_null(cl);
    size_t size = strtoul(cl + 16, NULL, 10), got = 0;
    assert_true(size < body_size);
    while (got < size) {
        ssize_t r = read(fd, body + got, size - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    body[size] = '\0';
    return atoi(head + 9);
}

/* Sends raw bytes on a fresh connection and reads everything until the
 * node closes it (within 5 s) into out. */
static void raw_exchange(int http_port, const char *request, size_t size,
                         char *out, size_t out_size)
{
    int fd = tcp_connect(http_port);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    send_all(fd, request, size);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < out_size &&
           (r = read(fd, out + len, out_size - len - 1)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fd);
}

/* The gateway's own parsing of requests: what nng's server did before,
 * and what keeps a client from confusing it. */
static void check_protocol(int http_port)
{
    static char out[65536];
    raw_exchange(http_port, "GARBAGE\r\n\r\n", 11, out, sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    assert_non_null(strstr(out, "\"name\":\"WITAN_EDECODE\""));
    assert_non_null(strstr(out, "Connection: close"));
    raw_exchange(http_port, "GET /v1/status HTTP/2.0\r\n\r\n", 27, out,
                 sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 505 ", 13) == 0);
    static char big[12000];
    int n = snprintf(big, sizeof big, "GET /v1/status HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    memcpy(big + n + 9000, "\r\n\r\n", 4);
    raw_exchange(http_port, big, (size_t)n + 9004, out, sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    assert_non_null(strstr(out, "\"name\":\"WITAN_ELIMIT\""));
    /* HTTP/1.0 closes after the answer unless it asks to keep alive. */
    raw_exchange(http_port, "GET /v1/status HTTP/1.0\r\n\r\n", 28, out,
                 sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(out, "Connection: close"));
    static const char folded[] = "GET /v1/status HTTP/1.1\r\nX-A: 1\r\n"
                                 " folded\r\n\r\n";
    raw_exchange(http_port, folded, sizeof folded - 1, out, sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);

    /* Three requests in one write, the second a HEAD: three answers in
     * order on the kept-alive connection, the HEAD's without its body. */
    int fd = tcp_connect(http_port);
    static const char three[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
                                "HEAD /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
                                "\r\nGET /v1/nowhere HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, three, sizeof three - 1);
    assert_int_equal(read_answer(fd, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"chain_id\":\"http-test\""));
    char head[4096];
    size_t len = 0;
    while (!strstr(head, "\r\n\r\n")) {
        assert_int_equal(read(fd, head + len, 1), 1);
        head[++len] = '\0';
    }
    assert_true(strncmp(head, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(head, "Content-Length: "));
    assert_int_equal(read_answer(fd, out, sizeof out), 404);
    /* Expect: 100-continue: the interim answer, then the body is read. */
    static const char expect[] = "POST /v1/tx HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: 2\r\n"
                                 "Expect: 100-continue\r\n\r\n";
    send_all(fd, expect, sizeof expect - 1);
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char interim[sizeof go_on];
    len = 0;
    while (len < sizeof go_on - 1) {
        ssize_t r = read(fd, interim + len, sizeof go_on - 1 - len);
        assert_true(r > 0);
        len += (size_t)r;
    }
    assert_memory_equal(interim, go_on, sizeof go_on - 1);
    send_all(fd, "{}", 2);
    assert_int_equal(read_answer(fd, out, sizeof out), 400);
    assert_non_null(strstr(out, "\"name\":\"WITAN_EINVAL\""));
    close(fd);
    fd = tcp_connect(http_port);
    static const char keep[] = "GET /v1/status HTTP/1.0\r\n"
                               "Connection: keep-alive\r\n\r\n";
    for (int i = 0; i < 2; i++) {
        send_all(fd, keep, sizeof keep - 1);
        assert_int_equal(read_answer(fd, out, sizeof out), 200);
    }
    close(fd);
}

/* A connection the watcher follows: when the node closes it, and (for a
 * slow one) a byte sent every ABUSE_TRICKLE_MS until then. */
struct watched {
    int fd;
    bool trickle;
    int64_t since_ms; /* when its idle or request timer started */
    _Atomic int64_t closed_ms; /* 0 while open */
};

static struct watcher {
    struct watched conns[ABUSE_WATCH_MAX];
    _Atomic size_t count;
    _Atomic bool stop;
} watcher;

static struct watched *watch(int fd, bool trickle, int64_t since_ms)
{
    size_t i = atomic_load(&watcher.count);
    assert_true(i < ABUSE_WATCH_MAX);
    watcher.conns[i].fd = fd;
    watcher.conns[i].trickle = trickle;
    watcher.conns[i].since_ms = since_ms;
    atomic_store(&watcher.conns[i].closed_ms, 0);
    atomic_store(&watcher.count, i + 1); /* published once filled in */
    return &watcher.conns[i];
}

static void *watcher_main(void *arg)
{
    (void)arg;
    static struct pollfd fds[ABUSE_WATCH_MAX];
    static size_t index[ABUSE_WATCH_MAX];
    int64_t next_trickle = now_ms();
    while (!atomic_load(&watcher.stop)) {
        size_t count = atomic_load(&watcher.count), n = 0;
        bool trickle = now_ms() >= next_trickle;
        if (trickle)
            next_trickle += ABUSE_TRICKLE_MS;
        for (size_t i = 0; i < count; i++) {
            struct watched *w = &watcher.conns[i];
            if (atomic_load(&w->closed_ms))
                continue;
            if (trickle && w->trickle)
                send(w->fd, "a", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            fds[n] = (struct pollfd){w->fd, POLLIN, 0};
            index[n++] = i;
        }
        if (poll(fds, n, 5) <= 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!fds[j].revents)
                continue;
            char buf[512];
            ssize_t r = recv(fds[j].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                atomic_store(&watcher.conns[index[j]].closed_ms, now_ms());
        }
    }
    return NULL;
}

static bool closed_within(struct watched *w, int ms)
{
    for (int i = 0; i < ms && !atomic_load(&w->closed_ms); i++)
        sleep_ms(1);
    return atomic_load(&w->closed_ms) != 0;
}

static Witan__MetricsResponse *metrics_of(const char *addr,
                                          Witan__Response **r)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__MetricsRequest m = WITAN__METRICS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_METRICS;
    req.metrics = &m;
    assert_int_equal(cli_call(addr, &req, 5000, r), 0);
    assert_non_null((*r)->metrics);
    return (*r)->metrics;
}

/* Waits (up to 3 s) until the node counts `open` HTTP connections. */
static void wait_open(const char *addr, uint32_t open)
{
    uint32_t seen = 0;
    for (int i = 0; i < 300; i++) {
        Witan__Response *r;
        seen = metrics_of(addr, &r)->http_connections_open;
        witan__response__free_unpacked(r, NULL);
        if (seen == open)
            return;
        sleep_ms(10);
    }
    fail_msg("%u HTTP connections open, expected %u", seen, open);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* p50 and p99 of `count` microsecond samples (sorted in place). */
static void percentiles(int64_t *us, size_t count, int64_t *p50, int64_t *p99)
{
    qsort(us, count, sizeof *us, cmp_i64);
    *p50 = us[(count * 50 + 99) / 100 - 1];
    *p99 = us[(count * 99 + 99) / 100 - 1];
}

/* Every connection of [from, to) closed within its timeout of its start. */
static void check_closed_after(struct watched *const *w, size_t count,
                               int timeout_ms, const char *what)
{
    for (size_t i = 0; i < count; i++) {
        int64_t left = w[i]->since_ms + timeout_ms + ABUSE_LATE_MS - now_ms();
        if (!closed_within(w[i], left > 0 ? (int)left : 0))
            fail_msg("%s connection %zu still open %d ms after its timeout",
                     what, i, ABUSE_LATE_MS);
        int64_t after = atomic_load(&w[i]->closed_ms) - w[i]->since_ms;
        if (after < timeout_ms - 100 || after > timeout_ms + ABUSE_LATE_MS)
            fail_msg("%s connection %zu closed after %lld ms, its timeout "
                     "is %d ms",
                     what, i, (long long)after, timeout_ms);
    }
}

static void test_http_abuse(void **state)
{
    (void)state;
    /* Every connection here is a file of this process. */
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = 4 * ABUSE_CAP;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        assert_true(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need);
        rl.rlim_cur = need;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    char home[600], addr[64];
    int http_port = port + 1; /* the other tests' nodes have stopped */
    snprintf(home, sizeof home, "%s/abuse", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    run_ok("%s/witan init --home %s --listen %s --chain-id http-test "
           ">/dev/null && sed -i 's|^http_listen = .*|http_listen = "
           "http://127.0.0.1:%d|; s|^http_idle_timeout_ms = .*|"
           "http_idle_timeout_ms = %d|; s|^http_request_timeout_ms = .*|"
           "http_request_timeout_ms = %d|; s|^http_connection_count_max = .*|"
           "http_connection_count_max = %d|' %s/config",
           bin_dir, home, addr, http_port, ABUSE_IDLE_MS, ABUSE_REQUEST_MS,
           ABUSE_CAP, home);
    pid_t node = start_node(home, 0);
    wait_http(http_port);
    check_protocol(http_port);
    wait_open(addr, 0);

    atomic_store(&watcher.count, 0);
    atomic_store(&watcher.stop, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, watcher_main, NULL), 0);

    /* Idle keep-alive connections, each after one answered request, then
     * slow ones to the cap: half send a head that never ends, half a head
     * and then a body, a byte at a time. */
    static struct watched *idle[ABUSE_IDLE], *slow[ABUSE_SLOW],
        *refill[ABUSE_SAMPLES], *busy[ABUSE_BUSY];
    static char body[65536];
    for (int i = 0; i < ABUSE_IDLE; i++) {
        int fd = tcp_connect(http_port);
        static const char get[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
        send_all(fd, get, sizeof get - 1);
        assert_int_equal(read_answer(fd, body, sizeof body), 200);
        idle[i] = watch(fd, false, now_ms());
    }
    for (int i = 0; i < ABUSE_SLOW; i++) {
        int fd = tcp_connect(http_port);
        char head[256];
        int n = i % 2 ? snprintf(head, sizeof head,
                                 "POST /v1/tx HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: 100000\r\n\r\n{")
                      : snprintf(head, sizeof head,
                                 "GET /v1/status HTTP/1.1\r\nHost: x\r\n"
                                 "X-Slow: a");
        int64_t t = now_ms();
        send_all(fd, head, (size_t)n);
        slow[i] = watch(fd, true, t);
    }
    wait_open(addr, ABUSE_CAP);

    /* Meanwhile: fresh connections, each at the cap (a new idle one takes
     * the freed place after it), and nng requests. */
    static int64_t http_us[ABUSE_SAMPLES], nng_us[ABUSE_SAMPLES];
    Witan__Request sreq = WITAN__REQUEST__INIT;
    Witan__StatusRequest sr = WITAN__STATUS_REQUEST__INIT;
    sreq.kind_case = WITAN__REQUEST__KIND_STATUS;
    sreq.status = &sr;
    for (int i = 0; i < ABUSE_SAMPLES; i++) {
        struct http_answer a;
        int64_t t = now_us();
        assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
        http_us[i] = now_us() - t;
        assert_int_equal(a.status, 200);
        free(a.body);
        Witan__Response *r = NULL;
        t = now_us();
        assert_int_equal(cli_call(addr, &sreq, 5000, &r), 0);
        nng_us[i] = now_us() - t;
        assert_non_null(r->status);
        witan__response__free_unpacked(r, NULL);
        int fd = tcp_connect(http_port);
        refill[i] = watch(fd, false, now_ms());
    }
    /* The slow connections were all there throughout. */
    for (int i = 0; i < ABUSE_SLOW; i++)
        assert_int_equal(atomic_load(&slow[i]->closed_ms), 0);
    int64_t p50[2], p99[2];
    percentiles(http_us, ABUSE_SAMPLES, &p50[0], &p99[0]);
    percentiles(nng_us, ABUSE_SAMPLES, &p50[1], &p99[1]);
    print_message("with %d slow and %d idle connections at the cap of %d: "
                  "GET /v1/status on fresh connections p50 %.2f ms p99 "
                  "%.2f ms; nng status p50 %.2f ms p99 %.2f ms (%d each)\n",
                  ABUSE_SLOW, ABUSE_IDLE, ABUSE_CAP, (double)p50[0] / 1000,
                  (double)p99[0] / 1000, (double)p50[1] / 1000,
                  (double)p99[1] / 1000, ABUSE_SAMPLES);
    assert_true(p99[0] <= ABUSE_P99_MS * 1000);
    assert_true(p99[1] <= ABUSE_P99_MS * 1000);

    /* Each fresh connection closed the longest-idle one: the oldest
     * ABUSE_SAMPLES idle connections are gone, the others and the new
     * idle ones are open. */
    for (int i = 0; i < ABUSE_SAMPLES; i++)
        if (!closed_within(idle[i], 2000))
            fail_msg("idle connection %d was not closed at the cap", i);
    sleep_ms(100);
    for (int i = ABUSE_SAMPLES; i < ABUSE_IDLE; i++)
        assert_int_equal(atomic_load(&idle[i]->closed_ms), 0);
    for (int i = 0; i < ABUSE_SAMPLES; i++)
        assert_int_equal(atomic_load(&refill[i]->closed_ms), 0);
    /* One at a time: a connection past the cap closes exactly the next
     * oldest idle one. Its partial head makes it busy, not idle. */
    for (int j = 0; j < ABUSE_BUSY; j++) {
        int fd = tcp_connect(http_port);
        int64_t t = now_ms();
        send_all(fd, "GET /v1/status HTTP/1.1\r\n", 25);
        busy[j] = watch(fd, false, t);
        if (!closed_within(idle[ABUSE_SAMPLES + j], 2000))
            fail_msg("connection %d past the cap closed no idle one", j);
        assert_int_equal(atomic_load(&idle[ABUSE_SAMPLES + j + 1]->closed_ms),
                         0);
    }

    /* Slow connections close after the request timeout from their first
     * byte, idle ones after the idle timeout, none earlier. */
    check_closed_after(slow, ABUSE_SLOW, ABUSE_REQUEST_MS, "slow");
    check_closed_after(busy, ABUSE_BUSY, ABUSE_REQUEST_MS, "partial-head");
    check_closed_after(idle + ABUSE_SAMPLES + ABUSE_BUSY,
                       ABUSE_IDLE - ABUSE_SAMPLES - ABUSE_BUSY, ABUSE_IDLE_MS,
                       "idle");
    check_closed_after(refill, ABUSE_SAMPLES, ABUSE_IDLE_MS, "fresh idle");
    atomic_store(&watcher.stop, true);
    pthread_join(thread, NULL);
    for (size_t i = 0; i < atomic_load(&watcher.count); i++)
        close(watcher.conns[i].fd);

    /* Counted exactly: every idle connection closed for idleness (the cap
     * or its timer), every slow or partial one for slowness. */
    wait_open(addr, 0);
    Witan__Response *r;
    Witan__MetricsResponse *m = metrics_of(addr, &r);
    assert_int_equal(m->http_connections_closed_idle,
                     ABUSE_IDLE + ABUSE_SAMPLES);
    assert_int_equal(m->http_connections_closed_slow, ABUSE_SLOW + ABUSE_BUSY);
    assert_int_equal(m->http_connections_refused, 0);
    witan__response__free_unpacked(r, NULL);
    struct http_answer a;
    assert_int_equal(http_get(http_port, "/metrics", &a), 0);
    assert_int_equal(a.status, 200);
    char line[128];
    snprintf(line, sizeof line,
             "\nwitan_http_connections_closed_total{reason=\"idle\"} %d\n",
             ABUSE_IDLE + ABUSE_SAMPLES);
    assert_non_null(strstr(a.body, line));
    snprintf(line, sizeof line,
             "\nwitan_http_connections_closed_total{reason=\"slow\"} %d\n",
             ABUSE_SLOW + ABUSE_BUSY);
    assert_non_null(strstr(a.body, line));
    assert_non_null(strstr(a.body, "\nwitan_http_connections_open 1\n"));
    assert_non_null(
        strstr(a.body, "\nwitan_http_connections_refused_total 0\n"));
    free(a.body);

    /* At the cap with none idle, a new connection is closed at once. */
    wait_open(addr, 0);
    static int held[ABUSE_CAP];
    for (int i = 0; i < ABUSE_CAP; i++) {
        held[i] = tcp_connect(http_port);
        send_all(held[i], "GET /v1/st", 10);
    }
    wait_open(addr, ABUSE_CAP);
    sleep_ms(100); /* every partial head read: none idle */
    int fd = tcp_connect(http_port);
    int64_t t = now_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    char byte;
    assert_true(recv(fd, &byte, 1, 0) <= 0);
    int64_t refused_after = now_ms() - t;
    print_message("at the cap with none idle, a new connection was closed "
                  "after %lld ms\n",
                  (long long)refused_after);
    assert_true(refused_after < 500);
    close(fd);
    m = metrics_of(addr, &r);
    assert_int_equal(m->http_connections_refused, 1);
    assert_int_equal(m->http_connections_open, ABUSE_CAP);
    witan__response__free_unpacked(r, NULL);
    /* A place freed is a place taken. */
    close(held[0]);
    wait_open(addr, ABUSE_CAP - 1);
    assert_int_equal(http_get(http_port, "/v1/status", &a), 0);
    assert_int_equal(a.status, 200);
    free(a.body);
    for (int i = 1; i < ABUSE_CAP; i++)
        close(held[i]);
    stop_node(node, 0);
}

/* Files the node may hold in test_http_file_limit: fewer than its
 * connections would take. */
#define FDLIMIT_FILES 128
#define FDLIMIT_CONNS 200
#define FDLIMIT_CPU_MS 200 /* over 2 s: a spinning thread would take 2000 */

/* CPU time (user and system) of process `pid` so far, in ms. */
static int64_t cpu_ms(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')'); /* the name may hold spaces */
    assert_non_null(p);
    unsigned long long utime, stime;
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                   "%*u %llu %llu",
                            &utime, &stime),
                     2);
    return (int64_t)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

/* Out of files (a limit lowered under the node while it runs): the
 * gateway backs off instead of spinning on a listener that stays
 * readable, and serves again once files are free. */
static void test_http_file_limit(void **state)
{
    (void)state;
    char home[600], addr[64], log[700];
    int http_port = port + 1;
    snprintf(home, sizeof home, "%s/fdlimit", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    run_ok("%s/witan init --home %s --listen %s --chain-id http-test "
           ">/dev/null && sed -i 's|^http_listen = .*|http_listen = "
           "http://127.0.0.1:%d|' %s/config",
           bin_dir, home, addr, http_port, home);
    pid_t node = start_node(home, 0);
    wait_http(http_port);
    run_ok("prlimit --pid %d --nofile=%d:%d", (int)node, FDLIMIT_FILES,
           FDLIMIT_FILES);
    static int fds[FDLIMIT_CONNS];
    for (int i = 0; i < FDLIMIT_CONNS; i++)
        fds[i] = tcp_connect(http_port); /* the kernel queues what the
                                            node cannot accept */
    sleep_ms(300);
    int64_t before = cpu_ms(node);
    sleep_ms(2000);
    int64_t used = cpu_ms(node) - before;
    print_message("out of files with %d connections waiting: the node used "
                  "%lld ms of CPU in 2 s\n",
                  FDLIMIT_CONNS, (long long)used);
    assert_true(used < FDLIMIT_CPU_MS);
    snprintf(log, sizeof log, "%s/log", home);
    run_ok("grep -q 'cannot accept HTTP connections' %s", log);
    for (int i = 0; i < FDLIMIT_CONNS; i++)
        close(fds[i]);
    wait_http(http_port);
    stop_node(node, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(base_dir, sizeof base_dir, "%s/witan-http-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(base_dir, 0700);
    /* Four ports from the pid, below test_solo's range and the kernel's
     * ephemeral ports. */
    port = 5000 + (int)(getpid() % 2500) * 4;
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_live_nodes);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_gateway),
        cmocka_unit_test(test_http_wait_and_full_mempool),
        cmocka_unit_test(test_backup_under_load),
        cmocka_unit_test(test_http_abuse),
        cmocka_unit_test(test_http_file_limit),
    };
    int rc = cmocka_run_group_tests_name("node-http", tests, NULL, NULL);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
