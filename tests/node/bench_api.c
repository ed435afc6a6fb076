/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client API's cost per request, one message per request and per
 * answer, on a real solo witand: nng request/reply (8 client sockets, one
 * request in flight on each, as `witan` and the SDKs ask) beside the stream
 * API (one connection, 256 requests in flight, answers coalesced by the
 * node). The two differ in method, pipelining, and the output says so; the
 * requests and the node's work on them are the same.
 *
 * Three loads: `status` requests (the transport and the loop, almost no work
 * per request) for 2 s each way, pre-signed attestations submitted one
 * a request until all are committed (the node checks each signature once,
 * on verify_threads = 1, then on 2: a round's stream requests are checked
 * together on the pool, a REQ/REP request as it comes), and then, for 2 s, the state of those committed
 * attestations, one a request (what a client polling its transaction
 * costs), beside the single-core Ed25519 verify rate
 * measured in the same run. Node CPU per request is read from /proc; the
 * clients' from getrusage (this process holds them all).
 *
 *   bench_api [TX_COUNT]
 */
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "node/node.h"
#include "tests/node/nodetest.h"

#define TX_COUNT_DEFAULT 20000
#define REQ_CLIENTS 8
#define STREAM_WINDOW 256
#define STATUS_SECONDS 2.0

static char bin_dir[600], addr[64], stream_addr[64], home[300];
static pid_t node;
static ProtobufCBinaryData *envs;
static uint8_t (*hashes)[32];
static int tx_count;

/* What a load asks: status, one attestation to submit, or the state of
 * one committed attestation (the last load's, in its block). */
enum ask { ASK_STATUS, ASK_SUBMIT, ASK_TX };

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static Witan__Request status_request(void)
{
    static Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    return req;
}

/* --- nng request/reply ------------------------------------------------------ */

struct req_arg {
    int k;
    bool submit;
    double until;
    long done;
};

static void *req_client(void *p)
{
    struct req_arg *a = p;
    nng_socket sock;
    if (!nt_dial(addr, &sock))
        return NULL;
    for (int i = a->k;; i += REQ_CLIENTS) {
        Witan__Request req = status_request();
        Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
        if (a->submit) {
            if (i >= tx_count)
                break;
            sr.n_envelopes = 1;
            sr.envelopes = &envs[i];
            req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
            req.submit = &sr;
        } else if (nt_now_s() >= a->until) {
            break;
        }
        Witan__Response *r = nt_rpc(sock, &req);
        if (!r)
            break;
        bool ok = !r->error && (!a->submit || (r->submit && r->submit->n_results == 1 &&
                                               !r->submit->results[0]->error));
        witan__response__free_unpacked(r, NULL);
        if (!ok)
            break;
        a->done++;
    }
    nng_close(sock);
    return NULL;
}

static long run_req(bool submit, double seconds)
{
    pthread_t t[REQ_CLIENTS];
    struct req_arg a[REQ_CLIENTS];
    double until = nt_now_s() + seconds;
    for (int k = 0; k < REQ_CLIENTS; k++) {
        a[k] = (struct req_arg){k, submit, until, 0};
        pthread_create(&t[k], NULL, req_client, &a[k]);
    }
    long done = 0;
    for (int k = 0; k < REQ_CLIENTS; k++) {
        pthread_join(t[k], NULL);
        done += a[k].done;
    }
    return done;
}

/* --- the stream API ----------------------------------------------------------- */

static long run_stream(enum ask ask, double seconds)
{
    bool submit = ask == ASK_SUBMIT;
    struct node_links *k =
        nt_links_to(stream_addr, 8 + (size_t)NODE_FRAME_SIZE_MAX, 4096);
    struct pollfd p = {.fd = node_links_fd(k), .events = POLLIN};
    long sent = 0, done = 0;
    double until = nt_now_s() + seconds;
    int idle = 0;
    while (submit ? done < tx_count : nt_now_s() < until) {
        while (sent - done < STREAM_WINDOW && (!submit || sent < tx_count)) {
            Witan__Request req = status_request();
            Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
            Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
            if (submit) {
                sr.n_envelopes = 1;
                sr.envelopes = &envs[sent];
                req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
                req.submit = &sr;
            } else if (ask == ASK_TX) {
                tr.tx_hash = (ProtobufCBinaryData){32, hashes[sent % tx_count]};
                req.kind_case = WITAN__REQUEST__KIND_TX;
                req.tx = &tr;
            }
            if (nt_stream_queue(k, (uint64_t)sent, &req) != 0)
                break;
            sent++;
        }
        node_links_flush(k);
        if (poll(&p, 1, 100) == 0 && ++idle > 50)
            break; /* 5 s without an answer */
        nng_msg *m;
        while (node_links_recv(k, &m, NULL) == 0) {
            idle = 0;
            Witan__Response *r = witan__response__unpack(
                NULL, nng_msg_len(m) - 8, (uint8_t *)nng_msg_body(m) + 8);
            nng_msg_free(m);
            bool ok = r && !r->error &&
                      (!submit || (r->submit && r->submit->n_results == 1 &&
                                   !r->submit->results[0]->error)) &&
                      (ask != ASK_TX ||
                       (r->tx && r->tx->state ==
                                     WITAN__TX_STATE__TX_STATE_COMMITTED));
            if (r)
                witan__response__free_unpacked(r, NULL);
            if (!ok) {
                node_links_close(k);
                return -1;
            }
            done++;
        }
    }
    node_links_close(k);
    return done;
}

/* --- the node ------------------------------------------------------------------ */

static int start(const char *threads)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && %s/witan init --home %s --chain-id bench --listen %s"
             " >/dev/null && sed -i 's/^nonce_window = .*/nonce_window = %d/;"
             "s/^verify_threads = .*/verify_threads = %s/' %s/config"
             " && echo 'stream_listen = %s' >> %s/config",
             home, bin_dir, home, addr, tx_count, threads, home, stream_addr,
             home);
    if (system(cmd) != 0)
        return -1;
    char exe[1100], log[400];
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    snprintf(log, sizeof log, "%s/log", home);
    node = nt_spawn_witand(exe, home, log, NULL);
    uint64_t h;
    return nt_await_status(addr, 5000, &h) ? 0 : -1;
}

static void stop(void)
{
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
}

/* Waits until the pool is empty: every admitted transaction committed. */
static bool drained(void)
{
    uint64_t h;
    uint32_t pool = 1;
    for (int i = 0; i < 30000 && pool; i++) {
        if (!nt_status(addr, &h, &pool))
            return false;
        if (pool)
            usleep(1000);
    }
    return pool == 0;
}

static void row(const char *what, long count, double wall, double node_cpu,
                double client_cpu)
{
    printf("  %-44s %9.0f /s   node %6.1f us   clients %6.1f us of CPU a "
           "request\n",
           what, count / wall, node_cpu / count * 1e6,
           client_cpu / count * 1e6);
}

static int load(enum ask ask, bool stream, const char *what)
{
    bool submit = ask == ASK_SUBMIT;
    WITAN_ASSERT(ask != ASK_TX || stream); /* asked on the stream API only */
    if (submit) {
        char key[400];
        snprintf(key, sizeof key, "%s/operator.key", home);
        envs = calloc((size_t)tx_count, sizeof *envs);
        free(hashes);
        hashes = calloc((size_t)tx_count, sizeof *hashes);
        if (!envs || !hashes ||
            nt_sign_attestations(key, "bench", 1, (size_t)tx_count, envs,
                                 hashes) != 0)
            return -1;
    }
    char what_now[160];
    uint64_t height = 0;
    if (ask == ASK_TX && nt_status(addr, &height, NULL) && height) {
        /* Where the answer is read from says what it costs. */
        snprintf(what_now, sizeof what_now, "%s (blocks of %.0f)", what,
                 (double)tx_count / (double)height);
        what = what_now;
    }
    double n0 = nt_proc_cpu_s(node), c0 = self_cpu_s(), t0 = nt_now_s();
    long done = stream ? run_stream(ask, STATUS_SECONDS)
                       : run_req(submit, STATUS_SECONDS);
    if (submit && (done != tx_count || !drained()))
        done = -1;
    double wall = nt_now_s() - t0, n1 = nt_proc_cpu_s(node), c1 = self_cpu_s();
    if (submit) {
        for (int i = 0; i < tx_count; i++)
            free(envs[i].data);
        free(envs);
        envs = NULL;
    }
    if (done <= 0) {
        printf("  %-44s FAILED\n", what);
        return -1;
    }
    row(what, done, wall, n1 - n0, c1 - c0);
    return 0;
}

int main(int argc, char **argv)
{
    if (wcrypto_init() != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    tx_count = argc > 1 ? atoi(argv[1]) : TX_COUNT_DEFAULT;
    char exe[580];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    int port = 26000 + (int)(getpid() % 2000); /* below the ephemeral range */
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    snprintf(stream_addr, sizeof stream_addr, "tcp://127.0.0.1:%d", port + 1);
    snprintf(home, sizeof home, "%s/witan-bench-api-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    printf("client API, one message per request and per answer, on a solo "
           "witand (verify_threads = 1 unless said, fsync): nng request/reply with %d "
           "sockets, one request in flight each; the stream API with one "
           "connection, %d in flight (pipelined: the methods differ)\n",
           REQ_CLIENTS, STREAM_WINDOW);
    double verify = nt_ed25519_verify_rate(1.0);
    int err = 0;
    /* A row with no threads of its own asks the node of the row before. */
    static const struct {
        enum ask ask;
        bool stream;
        const char *threads, *what;
    } loads[] = {
        {ASK_STATUS, false, "1", "status, nng request/reply"},
        {ASK_STATUS, true, "1", "status, stream API"},
        {ASK_SUBMIT, false, "1", "1 attestation a request, nng request/reply"},
        {ASK_SUBMIT, false, "2", "the same, verify_threads = 2"},
        {ASK_SUBMIT, true, "1", "1 attestation a request, stream API"},
        {ASK_SUBMIT, true, "2", "the same, verify_threads = 2"},
        {ASK_TX, true, NULL, "its state, stream API"},
    };
    size_t count = sizeof loads / sizeof loads[0];
    for (size_t i = 0; i < count && !err; i++) {
        if (loads[i].threads)
            err = start(loads[i].threads);
        if (!err)
            err = load(loads[i].ask, loads[i].stream, loads[i].what);
        if (i + 1 == count || loads[i + 1].threads)
            stop();
    }
    free(hashes);
    printf("  (attestations: %d, until all are committed; ed25519 verify, 1 "
           "core, same run: %.0f /s, %.1f us each)\n",
           tx_count, verify, 1e6 / verify);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd) != 0)
        err = -1;
    return err ? 1 : 0;
}
