/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node: a real witand process on 127.0.0.1, driven over its nng client API.
 *
 * - a solo node killed with SIGKILL in the middle of a stream of
 *   transactions restarts with every transaction it had reported committed,
 *   and the same state root at the heights it had reported;
 * - SIGTERM stops it cleanly;
 * - malformed and oversize requests get clear errors;
 * - a home whose database belongs to another chain is refused, saying so;
 * - the stream API: requests pipelined on one connection, answered in
 *   order under their ids; a flooding client that reads nothing does not
 *   hold up another;
 * - nor does one on the REQ/REP socket, speaking nng's wire format by hand;
 * - held status requests are answered as their block executes, and when
 *   their client reads nothing they wait for room and lose nothing;
 * - a power loss that undoes the database's last commit loses no block;
 * - a database from before the consensus-record log: its records become
 *   the log's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"
#include "ledger/ledger.h"
#include "node/internal.h"
#include "node/node.h"

#define STREAM_TX_COUNT 3000
#define STREAM_BATCH 25

static char bin_dir[1024];
static char base_dir[512];
static int port;

static void run_ok(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* The node being tested, killed at exit if a failed assertion left it. */
static pid_t live_node;

static void kill_live_node(void)
{
    if (live_node > 0)
        kill(live_node, SIGKILL);
}

static pid_t start_node(const char *home)
{
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
    live_node = pid;
    return pid;
}

static Witan__Response *call(const char *addr, Witan__Request *req)
{
    Witan__Response *resp = NULL;
    if (cli_call(addr, req, 5000, &resp) != 0)
        return NULL;
    return resp;
}

static Witan__Response *status(const char *addr)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    return call(addr, &req);
}

static void wait_ready(const char *addr)
{
    for (int i = 0; i < 500; i++) {
        Witan__Response *r = status(addr);
        if (r) {
            witan__response__free_unpacked(r, NULL);
            return;
        }
        nt_sleep_ms(20);
    }
    fail_msg("node at %s never answered", addr);
}

struct stream {
    ProtobufCBinaryData env[STREAM_TX_COUNT];
    uint8_t hash[STREAM_TX_COUNT][32];
};

/* Signs the stream with the home's operator key. */
static void make_stream(const char *home, const char *chain, struct stream *s)
{
    char path[700];
    snprintf(path, sizeof path, "%s/operator.key", home);
    assert_int_equal(nt_sign_attestations(path, chain, 1, STREAM_TX_COUNT,
                                          s->env, s->hash),
                     0);
}

/* A new one-validator home BASE/name (home[600]) on chain `chain`
 * listening on `at` (addr[64]), s signed for it, its node started and
 * answering. */
static pid_t start_solo(char *home, char *addr, const char *name,
                        const char *chain, int at, struct stream *s)
{
    snprintf(home, 600, "%s/%s", base_dir, name);
    snprintf(addr, 64, "tcp://127.0.0.1:%d", at);
    run_ok("%s/witan init --home %s --listen %s --chain-id %s >/dev/null",
           bin_dir, home, addr, chain);
    make_stream(home, chain, s);
    pid_t node = start_node(home);
    wait_ready(addr);
    return node;
}

static void submit_range(const char *addr, struct stream *s, int from, int to)
{
    nt_submit(addr, &s->env[from], (size_t)(to - from), STREAM_BATCH);
}

struct stream_arg {
    const char *addr;
    struct stream *s;
};

static void *stream_main(void *p)
{
    struct stream_arg *a = p;
    submit_range(a->addr, a->s, 0, STREAM_TX_COUNT);
    return NULL;
}

static void test_sigkill_mid_stream(void **state)
{
    (void)state;
    char home[600], addr[64];
    static struct stream s;
    pid_t node = start_solo(home, addr, "solo", "kill-test", port, &s);

    /* A thread streams every transaction while this one watches. (A
     * thread, not a process: nng's own threads do not survive a fork.) */
    struct stream_arg arg = {addr, &s};
    pthread_t streamer;
    assert_int_equal(pthread_create(&streamer, NULL, stream_main, &arg), 0);
    /* Wait until a good part is committed, then note what the node reports
     * committed, then kill it without warning. */
    uint64_t height = 0;
    for (int i = 0; i < 1000; i++) {
        Witan__Response *r = status(addr);
        assert_non_null(r);
        height = r->status->height;
        witan__response__free_unpacked(r, NULL);
        if (height >= 10)
            break;
        nt_sleep_ms(5);
    }
    assert_true(height >= 10);
    static uint8_t committed[STREAM_TX_COUNT];
    int committed_count = 0;
    for (int i = 0; i < STREAM_TX_COUNT; i++) {
        committed[i] = nt_tx_state(addr, s.hash[i], NULL) ==
                       WITAN__TX_STATE__TX_STATE_COMMITTED;
        committed_count += committed[i];
    }
    uint8_t root_before[32], hash_before[32];
    assert_true(nt_block(addr, height, hash_before, root_before));
    kill(node, SIGKILL);
    waitpid(node, NULL, 0);
    pthread_join(streamer, NULL); /* its next request fails: it stops */
    assert_true(committed_count > 0);

    /* Restart: everything reported committed is there, with the same root. */
    node = start_node(home);
    wait_ready(addr);
    for (int i = 0; i < STREAM_TX_COUNT; i++)
        if (committed[i])
            assert_int_equal(nt_tx_state(addr, s.hash[i], NULL),
                             WITAN__TX_STATE__TX_STATE_COMMITTED);
    uint8_t root_after[32], hash_after[32];
    assert_true(nt_block(addr, height, hash_after, root_after));
    assert_memory_equal(hash_before, hash_after, 32);
    assert_memory_equal(root_before, root_after, 32);

    /* The rest of the stream completes: nothing lost, nothing twice. */
    submit_range(addr, &s, 0, STREAM_TX_COUNT);
    int pending = 1;
    for (int round = 0; round < 500 && pending; round++) {
        Witan__Response *r = status(addr);
        assert_non_null(r);
        pending = (int)r->status->mempool_count;
        witan__response__free_unpacked(r, NULL);
        if (pending)
            nt_sleep_ms(10);
    }
    for (int i = 0; i < STREAM_TX_COUNT; i++)
        assert_int_equal(nt_tx_state(addr, s.hash[i], NULL),
                         WITAN__TX_STATE__TX_STATE_COMMITTED);

    /* SIGTERM stops it cleanly, with exit status 0. */
    kill(node, SIGTERM);
    int wstatus;
    waitpid(node, &wstatus, 0);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
    for (int i = 0; i < STREAM_TX_COUNT; i++)
        free(s.env[i].data);
}

/*
 * One request of `count` envelopes of s from `first`, whose signatures
 * admission checks as a batch on the verifier threads: each envelope's
 * result is its own, a bad signature (every sixth) refused as one alone
 * would be, an envelope that does not decode (the ninth) too, the rest
 * admitted under their own hashes, answered in order.
 */
static void submit_mixed(const char *addr, struct stream *s, int first,
                         int count)
{
    static ProtobufCBinaryData mixed[STREAM_TX_COUNT];
    static uint8_t copies[STREAM_TX_COUNT][1024];
    uint8_t junk[3] = {1, 2, 3};
    for (int i = 0; i < count; i++) {
        ProtobufCBinaryData e = s->env[first + i];
        assert_true(e.len <= sizeof copies[i]);
        memcpy(copies[i], e.data, e.len);
        mixed[i] = (ProtobufCBinaryData){e.len, copies[i]};
        if (i % 6 == 5)
            copies[i][e.len - 1] ^= 0x01;
    }
    mixed[8] = (ProtobufCBinaryData){3, junk};
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = (size_t)count;
    sr.envelopes = mixed;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *r = call(addr, &req);
    assert_non_null(r);
    assert_null(r->error);
    assert_int_equal(r->submit->n_results, count);
    for (int i = 0; i < count; i++) {
        const Witan__Error *e = r->submit->results[i]->error;
        if (i % 6 == 5) {
            assert_non_null(e);
            assert_int_equal(e->code, WITAN_ESIG);
            assert_non_null(strstr(e->message, "signature does not verify"));
        } else if (i == 8) {
            assert_non_null(e);
            assert_int_equal(e->code, WITAN_EDECODE);
        } else if (e) {
            fail_msg("envelope %d refused: %s", i, e->message);
        } else {
            assert_memory_equal(r->submit->results[i]->tx_hash.data,
                                s->hash[first + i], 32);
        }
    }
    witan__response__free_unpacked(r, NULL);
}

static void test_bad_requests(void **state)
{
    (void)state;
    char home[600], addr[64];
    snprintf(home, sizeof home, "%s/bad", base_dir);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port + 1);
    /* Two verifier threads, whatever the machine: the batch paths below
     * need them. */
    run_ok("%s/witan init --home %s --listen %s >/dev/null && sed -i "
           "'s/^verify_threads = .*/verify_threads = 2/' %s/config",
           bin_dir, home, addr, home);
    pid_t node = start_node(home);
    wait_ready(addr);

    /* Garbage bytes instead of a Request. */
    nng_socket sock;
    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000);
    assert_int_equal(nng_dial(sock, addr, NULL, 0), 0);
    uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07, 0x00};
    assert_int_equal(nng_send(sock, garbage, sizeof garbage, 0), 0);
    nng_msg *msg;
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    Witan__Response *r =
        witan__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    assert_non_null(r);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_EDECODE);
    witan__response__free_unpacked(r, NULL);

    /* A request over the limit gets an answer saying so, on the same
     * connection, which stays usable. */
    size_t big_size = WITAN_CLIENT_REQUEST_SIZE_MAX + 1024;
    uint8_t *big = calloc(1, big_size);
    assert_non_null(big);
    assert_int_equal(nng_send(sock, big, big_size, 0), 0);
    free(big);
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    r = witan__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    assert_non_null(r);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_ELIMIT);
    assert_non_null(strstr(r->error->message, "over the limit"));
    witan__response__free_unpacked(r, NULL);
    assert_int_equal(nng_send(sock, garbage, sizeof garbage, 0), 0);
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    nng_msg_free(msg);
    nng_close(sock);

    /* A batch over the limit is refused whole; a bad envelope alone. */
    static ProtobufCBinaryData envs[WITAN_CLIENT_BATCH_COUNT_MAX + 1];
    uint8_t junk[3] = {1, 2, 3};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(envs); i++)
        envs[i] = (ProtobufCBinaryData){3, junk};
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = WITAN_ARRAY_COUNT(envs);
    sr.envelopes = envs;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    r = call(addr, &req);
    assert_non_null(r);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_ELIMIT);
    witan__response__free_unpacked(r, NULL);
    sr.n_envelopes = 1;
    r = call(addr, &req);
    assert_non_null(r);
    assert_null(r->error);
    assert_int_equal(r->submit->n_results, 1);
    assert_non_null(r->submit->results[0]->error);
    assert_int_equal(r->submit->results[0]->error->code, WITAN_EDECODE);
    witan__response__free_unpacked(r, NULL);

    /* Nothing reached the mempool. */
    r = status(addr);
    assert_int_equal(r->status->mempool_count, 0);
    assert_int_equal(r->status->height, 0);
    witan__response__free_unpacked(r, NULL);

    /* A nonce gap: the transaction waits, and no empty blocks are made
     * for it; once the gap is filled both commit. */
    static struct stream s;
    make_stream(home, "witan-local", &s);
    submit_range(addr, &s, 1, 2); /* nonce 2 */
    nt_sleep_ms(600);
    r = status(addr);
    assert_int_equal(r->status->mempool_count, 1);
    assert_int_equal(r->status->height, 0);
    witan__response__free_unpacked(r, NULL);
    submit_range(addr, &s, 0, 1); /* nonce 1 */
    for (int k = 0; k < 300 && nt_tx_state(addr, s.hash[1], NULL) !=
                                   WITAN__TX_STATE__TX_STATE_COMMITTED;
         k++)
        nt_sleep_ms(10);
    assert_int_equal(nt_tx_state(addr, s.hash[0], NULL),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    assert_int_equal(nt_tx_state(addr, s.hash[1], NULL),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    nt_sleep_ms(300);
    r = status(addr);
    if (r->status->height > 3) /* the block and its certifier */
        fail_msg("height %llu after one block of two transactions",
                 (unsigned long long)r->status->height);
    witan__response__free_unpacked(r, NULL);

    /* Checked as a batch in the round (24), and while the loop goes on
     * with consensus (NODE_OVERLAP_ENVELOPES_MIN or more). */
    submit_mixed(addr, &s, 2, 24);
    submit_mixed(addr, &s, 2 + 24, NODE_OVERLAP_ENVELOPES_MIN + 8);
    for (int i = 0; i < STREAM_TX_COUNT; i++)
        free(s.env[i].data);
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
}

static void test_other_chain_home_refused(void **state)
{
    (void)state;
    char a[600], b[600], log[700];
    snprintf(a, sizeof a, "%s/chain-a", base_dir);
    snprintf(b, sizeof b, "%s/chain-b", base_dir);
    run_ok("%s/witan init --home %s --chain-id chain-a --listen "
           "tcp://127.0.0.1:%d >/dev/null",
           bin_dir, a, port + 2);
    run_ok("%s/witan init --home %s --chain-id chain-b --listen "
           "tcp://127.0.0.1:%d >/dev/null",
           bin_dir, b, port + 2);
    pid_t node = start_node(a);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port + 2);
    wait_ready(addr);
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
    run_ok("cp %s/data/data.mdb %s/data/data.mdb", a, b);
    node = start_node(b);
    int wstatus;
    waitpid(node, &wstatus, 0);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 1);
    snprintf(log, sizeof log, "%s/log", b);
    char *text;
    size_t size;
    assert_int_equal(witan_read_file(log, 1 << 20, &text, &size), 0);
    assert_non_null(strstr(text, "another chain"));
    free(text);
    /* A client given a home that is not there asks no node at all, not
     * the default address (which may be another chain's node). */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s/witan query status --home %s/no-such-home 2>&1 | grep -q "
             "'no node asked' && ! %s/witan query status --home "
             "%s/no-such-home >/dev/null 2>&1",
             bin_dir, base_dir, bin_dir, base_dir);
    assert_int_equal(system(cmd), 0);
}

/* After a key rotation the new key signs for the account with --account
 * (its own address names no member); the old key is refused. */
static void test_rotated_key_signs_with_account(void **state)
{
    (void)state;
    static char out[1 << 16];
    char home[600], addr[64], acct[41], pub[65];
    snprintf(home, sizeof home, "%s/chain-c", base_dir);
    run_ok("%s/witan init --home %s --chain-id chain-c --listen "
           "tcp://127.0.0.1:%d >/dev/null",
           bin_dir, home, port + 3);
    pid_t node = start_node(home);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port + 3);
    wait_ready(addr);
    assert_int_equal(nt_run(out, sizeof out,
                            "%s/witan keys show %s/operator.key && %s/witan "
                            "keys new --out %s/new.key >/dev/null && %s/witan "
                            "keys show %s/new.key",
                            bin_dir, home, bin_dir, home, bin_dir, home),
                     0);
    const char *a = strstr(out, "address: "), *k = strstr(out, "pubkey: ");
    assert_non_null(a);
    a += strspn(a + 8, " ") + 8;
    snprintf(acct, sizeof acct, "%.40s", a);
    k = strstr(k + 1, "pubkey: "); /* the new key's */
    assert_non_null(k);
    k += strspn(k + 7, " ") + 7;
    snprintf(pub, sizeof pub, "%.64s", k);
    int rc = nt_run(out, sizeof out,
                    "%s/witan member rotate --key %s/operator.key --address %s "
                    "--pubkey %s --home %s --wait 2>&1",
                    bin_dir, home, acct, pub, home);
    if (rc != 0)
        fail_msg("rotate: %s", out);
    static const char attest[] =
        "%s/witan attest --key %s/%s --home %s --feed test/rotation "
        "--subject s --time 2020-0%d --value v=1 --wait %s 2>&1";
    rc = nt_run(out, sizeof out, attest, bin_dir, home, "new.key", home, 1, "");
    assert_int_not_equal(rc, 0); /* the new key's own address is no member */
    char with[80];
    snprintf(with, sizeof with, "--account %s", acct);
    rc = nt_run(out, sizeof out, attest, bin_dir, home, "new.key", home, 2,
                with);
    if (rc != 0 || !strstr(out, ": OK"))
        fail_msg("the rotated key with --account: %s", out);
    /* The same observation again: DUPLICATE, naming the transaction to
     * correct. */
    char first[65];
    const char *c = strstr(out, " committed at height");
    assert_true(c && c - out >= 64);
    snprintf(first, sizeof first, "%.64s", c - 64);
    rc = nt_run(out, sizeof out, attest, bin_dir, home, "new.key", home, 2,
                with);
    char corrects[100];
    snprintf(corrects, sizeof corrects, "--corrects %s", first);
    if (rc != 1 || !strstr(out, "DUPLICATE") || !strstr(out, corrects))
        fail_msg("a duplicate: %s", out);
    rc = nt_run(out, sizeof out, attest, bin_dir, home, "operator.key", home,
                3, "");
    assert_int_not_equal(rc, 0); /* the old key signs nothing any more */
    rc = nt_run(out, sizeof out, attest, bin_dir, home, "new.key", home, 4,
                "--account 12");
    if (rc != 2 || !strstr(out, "--account '12' is invalid"))
        fail_msg("a bad --account: %s", out);
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
    live_node = 0;
}

/* --- the stream API ------------------------------------------------------- */

static struct node_links *stream_client(int stream_port)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", stream_port);
    return nt_links_to(url, 8 + NODE_FRAME_SIZE_MAX, 32768);
}

static void stream_queue(struct node_links *k, uint64_t id,
                         Witan__Request *req)
{
    assert_int_equal(nt_stream_queue(k, id, req), 0);
}

/* A request submitting the one envelope `env`, queued on k under `id`. */
static void stream_submit(struct node_links *k, uint64_t id,
                          ProtobufCBinaryData *env)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = 1;
    sr.envelopes = env;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    stream_queue(k, id, &req);
}

/* SIGTERM stops the node, and it exits with status 0. */
static void stop_cleanly(pid_t node)
{
    kill(node, SIGTERM);
    int wstatus;
    waitpid(node, &wstatus, 0);
    live_node = 0;
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
}

/* The next answer on stream client k, which must be to request `want`. */
static Witan__Response *answer_to(struct node_links *k, uint64_t want)
{
    uint64_t id;
    Witan__Response *r = nt_stream_answer(k, 5000, &id);
    assert_non_null(r);
    assert_int_equal(id, want);
    return r;
}

/* A home named `name` under the test's directory, its client API on
 * `api_port` (*addr) and its stream API on `stream_port`, chain id
 * "<name>-test", with `extra` appended to its config. */
static void init_stream_home(char *home, size_t home_size, char addr[64],
                             const char *name, int api_port, int stream_port,
                             const char *extra)
{
    snprintf(home, home_size, "%s/%s", base_dir, name);
    snprintf(addr, 64, "tcp://127.0.0.1:%d", api_port);
    run_ok("%s/witan init --home %s --listen %s --chain-id %s-test "
           ">/dev/null",
           bin_dir, home, addr, name);
    char conf[700];
    snprintf(conf, sizeof conf, "%s/config", home);
    FILE *f = fopen(conf, "a");
    assert_non_null(f);
    fprintf(f, "stream_listen = tcp://127.0.0.1:%d\n%s", stream_port, extra);
    fclose(f);
}

/* init_stream_home, then `count` attestations its operator signs from
 * nonce 1 (chain NAME-test), and its node started and ready. */
static pid_t start_signed(char *home, size_t home_size, char addr[64],
                          const char *name, int api_port, int stream_port,
                          const char *extra, size_t count,
                          ProtobufCBinaryData *env, uint8_t (*hash)[32])
{
    init_stream_home(home, home_size, addr, name, api_port, stream_port,
                     extra);
    char key[700], chain[64];
    snprintf(key, sizeof key, "%s/operator.key", home);
    snprintf(chain, sizeof chain, "%s-test", name);
    assert_int_equal(nt_sign_attestations(key, chain, 1, count, env, hash), 0);
    pid_t node = start_node(home);
    wait_ready(addr);
    return node;
}

/* The stream API on a real witand: many requests in flight on one
 * connection, answered in order with their ids, one transaction per
 * request included; a request with no id is dropped and one that does not
 * decode is answered with the error; a client that never reads its
 * answers does not hold up another. */
static void test_stream_api(void **state)
{
    (void)state;
    char home[600], addr[64];
    /* Two signature threads: a round's requests are checked together. */
    enum { TXS = 400 };
    ProtobufCBinaryData *env = calloc(TXS, sizeof *env);
    uint8_t(*hash)[32] = calloc(TXS, 32);
    pid_t node = start_signed(home, sizeof home, addr, "stream", port + 4,
                              port + 5, "verify_threads = 2\n", TXS, env,
                              hash);
    struct node_links *k = stream_client(port + 5);

    /* 300 status requests in one write; 300 answers, in order. */
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    for (uint64_t i = 0; i < 300; i++)
        stream_queue(k, 1000 + i, &req);
    node_links_flush(k);
    for (uint64_t i = 0; i < 300; i++) {
        Witan__Response *r = answer_to(k, 1000 + i);
        assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_STATUS);
        assert_string_equal(r->status->chain_id, "stream-test");
        witan__response__free_unpacked(r, NULL);
    }

    /* One transaction a request, all in flight at once: each admitted.
     * Every tenth request is followed by a copy of its transaction with
     * the signature's last byte flipped, refused for its signature alone:
     * the verdicts checked together for the round go to the right
     * requests. */
    uint8_t *bad = malloc(4096);
    assert_non_null(bad);
    for (int i = 0; i < TXS; i++) {
        stream_submit(k, (uint64_t)i, &env[i]);
        if (i % 10 == 0) {
            assert_true(env[i].len <= 4096);
            memcpy(bad, env[i].data, env[i].len);
            bad[env[i].len - 1] ^= 1;
            ProtobufCBinaryData forged = {env[i].len, bad};
            stream_submit(k, 100000 + (uint64_t)i, &forged);
        }
    }
    node_links_flush(k);
    for (int i = 0; i < TXS; i++) {
        for (int copy = 0; copy < (i % 10 == 0 ? 2 : 1); copy++) {
            Witan__Response *r =
                answer_to(k, (uint64_t)i + (copy ? 100000 : 0));
            assert_null(r->error);
            assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_SUBMIT);
            assert_int_equal(r->submit->n_results, 1);
            /* A copy with a broken signature names a transaction the
             * node holds already: it is answered as known, before any
             * signature check, and replaces nothing (every original
             * commits below, each under its own signature). */
            assert_null(r->submit->results[0]->error);
            assert_int_equal(r->submit->results[0]->tx_hash.len, 32);
            assert_memory_equal(r->submit->results[0]->tx_hash.data,
                                hash[i], 32);
            witan__response__free_unpacked(r, NULL);
        }
    }
    free(bad);
    for (int t = 0; t < 500 && nt_tx_state(addr, hash[TXS - 1], NULL) !=
                                   WITAN__TX_STATE__TX_STATE_COMMITTED;
         t++)
        nt_sleep_ms(10);
    for (int i = 0; i < TXS; i++)
        assert_int_equal(nt_tx_state(addr, hash[i], NULL),
                         WITAN__TX_STATE__TX_STATE_COMMITTED);
    /* A committed transaction sent again is answered as known, not
     * refused for its spent nonce, and commits no second time. */
    uint64_t height_before = 0, height_after = 0;
    assert_int_equal(nt_tx_state(addr, hash[0], &height_before),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    {
        stream_submit(k, 200000, &env[0]);
        node_links_flush(k);
        Witan__Response *again = answer_to(k, 200000);
        assert_int_equal(again->kind_case, WITAN__RESPONSE__KIND_SUBMIT);
        assert_null(again->submit->results[0]->error);
        assert_memory_equal(again->submit->results[0]->tx_hash.data, hash[0],
                            32);
        witan__response__free_unpacked(again, NULL);
    }
    assert_int_equal(nt_tx_state(addr, hash[0], &height_after),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    assert_int_equal(height_after, height_before);

    /* No id: dropped. Not a Request: the error, under its id. */
    static const uint8_t short_frame[3] = {1, 2, 3};
    static const uint8_t garbage[12] = {0, 0, 0, 0, 0, 0, 0, 77,
                                        0xff, 0xff, 0xff, 0xff};
    assert_int_equal(node_links_send(k, 0, short_frame, 3), 0);
    assert_int_equal(node_links_send(k, 0, garbage, 12), 0);
    node_links_flush(k);
    Witan__Response *r = answer_to(k, 77);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_EDECODE);
    witan__response__free_unpacked(r, NULL);

    /* A client that floods and never reads: another is still answered. */
    struct node_links *flood = stream_client(port + 5);
    for (uint64_t i = 0; i < 20000; i++)
        stream_queue(flood, i, &req);
    node_links_flush(flood);
    nt_sleep_ms(200);
    stream_queue(k, 5, &req);
    node_links_flush(k);
    r = answer_to(k, 5);
    witan__response__free_unpacked(r, NULL);
    uint64_t height;
    assert_true(nt_status(addr, &height, NULL)); /* and over nng */
    node_links_close(flood);
    node_links_close(k);

    stop_cleanly(node);
    for (int i = 0; i < TXS; i++)
        free(env[i].data);
    free(env);
    free(hash);
}

/* A status request waiting past `after` for up to `wait_ms`, queued on k
 * under `id`. */
static void queue_status(struct node_links *k, uint64_t id, uint64_t after,
                         uint32_t wait_ms)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    st.after_height = after;
    st.wait_ms = wait_ms;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    stream_queue(k, id, &req);
}

/* A status request with after_height and wait_ms on a real witand's
 * stream API: held until a block moves the height past after_height
 * (requests behind it on the stream are answered meanwhile), or answered
 * when its wait runs out; at once when the height is past already; refused
 * over the bound, on the REQ/REP socket, and past
 * WITAN_STATUS_WAIT_STREAM_MAX held from one stream or
 * WITAN_STATUS_WAIT_COUNT_MAX in all. */
static void test_status_waits(void **state)
{
    (void)state;
    char home[600], addr[64];
    ProtobufCBinaryData env;
    uint8_t hash[32];
    pid_t node = start_signed(home, sizeof home, addr, "waits", port + 9,
                              port + 10, "", 1, &env, &hash);
    struct node_links *k = stream_client(port + 10);
    uint64_t h0;
    assert_true(nt_status(addr, &h0, NULL));

    /* Held past h0; a submit behind it on the stream is answered first,
     * and the status once the transaction's block has executed. */
    queue_status(k, 1, h0, 20000);
    node_links_flush(k);
    uint64_t id;
    assert_null(nt_stream_answer(k, 300, &id));
    double t = nt_now_s();
    stream_submit(k, 2, &env);
    node_links_flush(k);
    Witan__Response *r = answer_to(k, 2);
    assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_SUBMIT);
    assert_null(r->submit->results[0]->error);
    witan__response__free_unpacked(r, NULL);
    r = answer_to(k, 1);
    assert_null(r->error);
    assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_STATUS);
    uint64_t seen = r->status->height, tx_height = 0;
    /* Answered before the block's commit synced, with the pool as after
     * it: the transaction has left. */
    assert_int_equal(r->status->mempool_count, 0);
    witan__response__free_unpacked(r, NULL);
    assert_true(nt_now_s() - t < 5.0); /* not its 20 s */
    assert_int_equal(nt_tx_state(addr, hash, &tx_height),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    /* The first block after h0 is the transaction's (the chain was
     * idle), and the answer came as it executed; the node serves the
     * question above after the commit, so the transaction is found. */
    assert_int_equal(tx_height, h0 + 1);
    assert_int_equal(seen, tx_height);

    /* A height that does not come: answered when the wait runs out, with
     * the height as it is. */
    t = nt_now_s();
    queue_status(k, 3, seen + 1000, 400);
    node_links_flush(k);
    r = answer_to(k, 3);
    double waited = nt_now_s() - t;
    assert_null(r->error);
    assert_true(r->status->height < seen + 1000);
    witan__response__free_unpacked(r, NULL);
    assert_true(waited >= 0.39 && waited < 3.0);

    /* Past already: at once, however long it could wait. */
    t = nt_now_s();
    queue_status(k, 4, 0, 30000);
    node_links_flush(k);
    r = answer_to(k, 4);
    assert_null(r->error);
    assert_true(r->status->height >= seen);
    witan__response__free_unpacked(r, NULL);
    assert_true(nt_now_s() - t < 2.0);

    /* Over the bound. */
    queue_status(k, 5, 0, WITAN_STATUS_WAIT_MS_MAX + 1);
    node_links_flush(k);
    r = answer_to(k, 5);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_EINVAL);
    assert_non_null(strstr(r->error->message, "wait_ms"));
    witan__response__free_unpacked(r, NULL);

    /* On the socket, which answers one request at a time: refused. */
    nng_socket sock;
    assert_int_equal(nng_req0_open(&sock), 0);
    assert_int_equal(nng_dial(sock, addr, NULL, 0), 0);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    st.after_height = seen + 1000;
    st.wait_ms = 1000;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    r = nt_rpc(sock, &req);
    assert_non_null(r);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_EINVAL);
    assert_non_null(strstr(r->error->message, "stream API"));
    witan__response__free_unpacked(r, NULL);
    nng_close(sock);

    /* The bounds on held requests: WITAN_STATUS_WAIT_STREAM_MAX a
     * stream, WITAN_STATUS_WAIT_COUNT_MAX in all; past either a request
     * is refused at once, a request that does not wait is still answered,
     * and the held ones all run out and are answered, in order. */
    enum { STREAMS = WITAN_STATUS_WAIT_COUNT_MAX /
                     WITAN_STATUS_WAIT_STREAM_MAX };
    struct node_links *held[STREAMS];
    held[0] = k;
    for (int j = 0; j < STREAMS; j++) {
        if (j)
            held[j] = stream_client(port + 10);
        for (uint64_t i = 0; i < WITAN_STATUS_WAIT_STREAM_MAX; i++)
            queue_status(held[j], 100 + i, seen + 1000, 3000);
        /* Answered once the node took every request before it. */
        queue_status(held[j], 50, 0, 0);
        node_links_flush(held[j]);
        r = answer_to(held[j], 50);
        assert_null(r->error);
        witan__response__free_unpacked(r, NULL);
        if (j)
            continue;
        queue_status(k, 99, seen + 1000, 3000);
        node_links_flush(k);
        r = answer_to(k, 99);
        assert_non_null(r->error);
        assert_int_equal(r->error->code, WITAN_EFULL);
        assert_non_null(strstr(r->error->message, "of this stream"));
        witan__response__free_unpacked(r, NULL);
    }
    struct node_links *other = stream_client(port + 10);
    queue_status(other, 7, seen + 1000, 3000);
    queue_status(other, 8, 0, 0);
    node_links_flush(other);
    r = answer_to(other, 7);
    assert_non_null(r->error);
    assert_int_equal(r->error->code, WITAN_EFULL);
    witan__response__free_unpacked(r, NULL);
    r = answer_to(other, 8);
    assert_null(r->error);
    witan__response__free_unpacked(r, NULL);
    node_links_close(other);
    for (int j = 0; j < STREAMS; j++) {
        for (uint64_t i = 0; i < WITAN_STATUS_WAIT_STREAM_MAX; i++) {
            r = answer_to(held[j], 100 + i);
            assert_null(r->error);
            assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_STATUS);
            witan__response__free_unpacked(r, NULL);
        }
        if (j)
            node_links_close(held[j]);
    }
    node_links_close(k);
    stop_cleanly(node);
    free(env.data);
}

/* A power loss undoes the database's last commit (nt_undo_last_commit): the node, booted
 * one commit behind, delivers again from its consensus records what it had
 * committed, to the same blocks, and every transaction reported committed
 * is there at the height reported. */
static void test_power_loss_undoes_last_commit(void **state)
{
    (void)state;
    char home[600], addr[64];
    enum { TXS = 6 };
    ProtobufCBinaryData env[TXS];
    uint8_t hash[TXS][32];
    pid_t node = start_signed(home, sizeof home, addr, "power", port + 11,
                              port + 12, "", TXS, env, hash);
    uint64_t at[TXS];
    for (int i = 0; i < TXS; i++) {
        at[i] = nt_submit_committed(addr, &env[i], hash[i], 5000);
        assert_true(at[i] > 0);
    }
    /* Until the chain is still: the last block certifies the results. */
    uint64_t top = 0, h;
    for (int still = 0; still < 20; nt_sleep_ms(20)) {
        assert_true(nt_status(addr, &h, NULL));
        still = h == top ? still + 1 : 0;
        top = h;
    }
    uint8_t block[64][32], root[32];
    assert_true(top < 64);
    for (uint64_t k = 1; k <= top; k++)
        assert_true(nt_block(addr, k, block[k], root));
    kill(node, SIGKILL);
    waitpid(node, NULL, 0);
    live_node = 0;
    assert_true(nt_undo_last_commit(home) > 0);

    node = start_node(home);
    wait_ready(addr);
    for (int t = 0; t < 500 && (!nt_status(addr, &h, NULL) || h < top); t++)
        nt_sleep_ms(10);
    assert_true(h >= top);
    for (uint64_t k = 1; k <= top; k++) {
        uint8_t again[32];
        assert_true(nt_block(addr, k, again, root));
        assert_memory_equal(again, block[k], 32);
    }
    for (int i = 0; i < TXS; i++) {
        uint64_t height = 0;
        assert_int_equal(nt_tx_state(addr, hash[i], &height),
                         WITAN__TX_STATE__TX_STATE_COMMITTED);
        assert_int_equal(height, at[i]);
        free(env[i].data);
    }
    stop_cleanly(node);
}

static uint64_t signatures_checked(const char *addr)
{
    uint64_t v = 0;
    assert_true(nt_signatures_checked(addr, &v));
    return v;
}

/* Each transaction's signature is checked once on a node: on admission,
 * whether its batch went to the verifier threads (64 or more) or not; a
 * transaction sent again is answered before its signature is looked at;
 * a committed block executes its transactions without checking them
 * again. The metric counts every check, failed ones included. */
static void test_signatures_checked_once(void **state)
{
    (void)state;
    enum { BATCH = 100, SINGLES = 5, TXS = BATCH + SINGLES };
    char home[600], addr[64];
    static ProtobufCBinaryData env[TXS + 1];
    static uint8_t hash[TXS + 1][32];
    pid_t node = start_signed(home, sizeof home, addr, "once", port + 15,
                              port + 16, "verify_threads = 2\n", TXS + 1,
                              env, hash);
    uint64_t before = signatures_checked(addr);
    assert_true(nt_submit(addr, env, BATCH, BATCH)); /* on the pool */
    assert_true(nt_submit(addr, env, BATCH, BATCH)); /* again: known */
    for (int i = BATCH; i < TXS; i++)                /* on the loop */
        assert_true(nt_submit(addr, &env[i], 1, 1));
    uint64_t h = 0;
    for (int t = 0; t < 500 && nt_tx_state(addr, hash[TXS - 1], &h) !=
                                   WITAN__TX_STATE__TX_STATE_COMMITTED;
         t++)
        nt_sleep_ms(10);
    assert_true(h > 0);
    assert_true(nt_submit(addr, env, BATCH, BATCH)); /* again: committed */
    /* A bad signature is checked, and counted, and refused. */
    env[TXS].data[env[TXS].len - 1] ^= 1;
    assert_true(nt_submit(addr, &env[TXS], 1, 1));
    uint64_t checked = signatures_checked(addr) - before;
    print_message("signatures checked: %llu for %d transactions and one "
                  "forged\n",
                  (unsigned long long)checked, TXS);
    assert_int_equal(checked, TXS + 1);
    for (int i = 0; i <= TXS; i++)
        free(env[i].data);
    stop_cleanly(node);
}

/* Held status requests whose block comes while their client reads
 * nothing: the stream's queue of answers is full, so each answer is put
 * off (the metric counts it) and tried again; once the client reads, every
 * answer arrives, each once, the held ones with the block's height. */
static void test_held_answers_wait_for_room(void **state)
{
    (void)state;
    /* BIG attestations make a block of about 60 KB; FLOOD requests for it
     * ask for about 180 MB of answers, past the kernel's buffers of a
     * connection and the node's queue for one stream. */
    enum { HELD = 200, BIG = 200, FLOOD = 3000 };
    char home[600], addr[64];
    static ProtobufCBinaryData env[BIG + 1];
    static uint8_t hash[BIG + 1][32];
    pid_t node = start_signed(home, sizeof home, addr, "room", port + 13,
                              port + 14, "", BIG + 1, env, hash);
    assert_true(nt_submit(addr, env, BIG, BIG));
    uint64_t big = 0;
    for (int t = 0; t < 1000 && nt_tx_state(addr, hash[BIG - 1], &big) !=
                                    WITAN__TX_STATE__TX_STATE_COMMITTED;
         t++)
        nt_sleep_ms(10);
    assert_true(big > 0);
    uint64_t h0 = 0;
    for (int still = 0; still < 5; nt_sleep_ms(50)) {
        uint64_t h;
        assert_true(nt_status(addr, &h, NULL));
        still = h == h0 ? still + 1 : 0;
        h0 = h;
    }
    /* A client that keeps at most 64 answers unread: past them its link
     * stops reading, and the kernel's buffers, then the node's queue,
     * fill. */
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port + 14);
    struct node_links *k = nt_links_to(url, 8 + NODE_FRAME_SIZE_MAX, 64);
    Witan__Request held = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    st.after_height = h0;
    st.wait_ms = 30000;
    held.kind_case = WITAN__REQUEST__KIND_STATUS;
    held.status = &st;
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest b = WITAN__BLOCK_REQUEST__INIT;
    b.height = big;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &b;
    /* The held ones first; 64 queued at most, so in flushed runs. */
    bool paused = false;
    for (uint64_t i = 0, tries = 0; i < HELD + FLOOD; tries++) {
        assert_true(tries < 100000);
        if (i == HELD && !paused) {
            node_links_flush(k);
            nt_sleep_ms(200); /* held before the flood */
            paused = true;
        }
        if (nt_stream_queue(k, i, i < HELD ? &held : &req) == 0) {
            i++;
        } else {
            node_links_flush(k);
            nt_sleep_ms(1);
        }
    }
    node_links_flush(k);
    nt_sleep_ms(1000); /* the node answers until its queue is full */
    Witan__Response *m = nt_metrics(addr);
    assert_non_null(m);
    uint64_t deferred0 = m->metrics->status_answers_deferred;
    witan__response__free_unpacked(m, NULL);
    /* The block: the held answers come due, find no room, and wait. */
    uint64_t tx_height = nt_submit_committed(addr, &env[BIG], hash[BIG], 5000);
    assert_int_equal(tx_height, h0 + 1);
    nt_sleep_ms(300); /* a few retries */
    m = nt_metrics(addr);
    assert_non_null(m);
    uint64_t deferred = m->metrics->status_answers_deferred - deferred0;
    witan__response__free_unpacked(m, NULL);
    print_message("held answers: %llu put off while the client read "
                  "nothing\n",
                  (unsigned long long)deferred);
    assert_true(deferred >= HELD);
    /* The client reads: every answer, each once. */
    uint64_t total = HELD + FLOOD, got = 0;
    uint8_t *seen = calloc(total, 1);
    assert_non_null(seen);
    while (got < total) {
        uint64_t id;
        Witan__Response *r = nt_stream_answer(k, 10000, &id);
        assert_non_null(r);
        assert_true(id < total);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
        got++;
        assert_null(r->error);
        if (id < HELD) {
            assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_STATUS);
            assert_true(r->status->height >= tx_height);
        } else {
            assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_BLOCK);
        }
        witan__response__free_unpacked(r, NULL);
    }
    free(seen);
    node_links_close(k);
    for (int i = 0; i <= BIG; i++)
        free(env[i].data);
    stop_cleanly(node);
}

/* A client of the REQ/REP API that pipelines requests and reads none of
 * the answers, speaking nng's TCP wire format by hand (as a peer not bound
 * to one request at a time may): an 8-byte greeting naming REQ, then each
 * message as a 64-bit length, a request id with its top bit set, and the
 * Request. Returns the connected socket; the caller closes it. */
static int req_flooder(int to_port, int count)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)to_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    size_t body = witan__request__get_packed_size(&req), one = 12 + body;
    uint8_t *buf = malloc(8 + (size_t)count * one);
    assert_non_null(buf);
    static const uint8_t greeting[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
    memcpy(buf, greeting, 8);
    for (int i = 0; i < count; i++) {
        uint8_t *p = buf + 8 + (size_t)i * one;
        uint64_t len = 4 + body;
        for (int b = 0; b < 8; b++)
            p[b] = (uint8_t)(len >> (56 - 8 * b));
        uint32_t id = 0x80000000u | (uint32_t)i;
        for (int b = 0; b < 4; b++)
            p[8 + b] = (uint8_t)(id >> (24 - 8 * b));
        witan__request__pack(&req, p + 12);
    }
    /* Sent from a thread of its own would be no different: the node reads
     * all of it as long as it keeps serving. */
    size_t total = 8 + (size_t)count * one, sent = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (sent < total) {
        ssize_t w = send(fd, buf + sent, total - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the node stopped reading: its answers are stuck */
        sent += (size_t)w;
    }
    free(buf);
    return fd;
}

/* REQ/REP clients that pipeline requests and read no answer do not hold
 * up the node: another client is still answered, over nng and over the
 * stream API alike, and the node still stops cleanly on SIGTERM. */
static void test_req_flood_not_read(void **state)
{
    (void)state;
    char home[600], addr[64];
    init_stream_home(home, sizeof home, addr, "reqflood", port + 6, port + 7,
                     "");
    pid_t node = start_node(home);
    wait_ready(addr);
    /* ~30 MB of answers: past what the kernel buffers of one connection
     * hold, so that a node that waits to send them would stop. */
    int fds[2];
    for (int i = 0; i < 2; i++)
        fds[i] = req_flooder(port + 6, 100000);
    for (int i = 0; i < 3; i++) {
        uint64_t height = 0;
        assert_true(nt_status(addr, &height, NULL));
    }
    /* The socket's flood does not take the stream API's share either. */
    struct node_links *k = stream_client(port + 7);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    stream_queue(k, 9, &req);
    node_links_flush(k);
    Witan__Response *r = answer_to(k, 9);
    assert_non_null(r->status);
    witan__response__free_unpacked(r, NULL);
    node_links_close(k);
    for (int i = 0; i < 2; i++)
        close(fds[i]);
    stop_cleanly(node);
}

/* The records of a home's log, read as the node reads them. */
static void read_log(const char *home, wcrypto_pubkey *owner,
                     pbft_bytes **records, size_t *count)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", home, NODE_RECORDS_FILE);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t header[48];
    assert_int_equal(fread(header, 1, sizeof header, f), sizeof header);
    fclose(f);
    memcpy(owner->bytes, header + 8, 32);
    struct node_records *rl;
    assert_int_equal(node_records_open(path, owner, 0, NULL, 0, &rl, records,
                                       count),
                     0);
    node_records_close(rl);
}

/*
 * A database from before the log kept the records as rows of the
 * consensus table, their owner in meta: the node makes its log of them,
 * byte for byte and in order, removes the rows, and goes on committing.
 */
static void test_records_from_old_database(void **state)
{
    (void)state;
    char home[600], addr[64], path[700];
    static struct stream s;
    pid_t node = start_solo(home, addr, "old-records", "old-records",
                            port + 8, &s);
    submit_range(addr, &s, 0, 50);
    stop_cleanly(node);
    wcrypto_pubkey owner;
    pbft_bytes *recs;
    size_t count;
    read_log(home, &owner, &recs, &count);
    assert_true(count >= 2);

    /* The old form: rows be64(i) -> record, and the owner in meta. */
    snprintf(path, sizeof path, "%s/%s", home, NODE_RECORDS_FILE);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/data", home);
    struct store_options so = {64u << 20, 1u << 30, false};
    store *st;
    store_txn *txn;
    assert_int_equal(store_open(path, &so, &st), 0);
    assert_int_equal(store_write_begin(st, &txn), 0);
    for (size_t i = 0; i < count; i++) {
        uint8_t key[8];
        store_be64(key, i);
        assert_int_equal(store_put(txn, STORE_CONSENSUS, key, 8,
                                   recs[i].data, recs[i].size),
                         0);
    }
    assert_int_equal(store_put(txn, STORE_META, "pbft_records_owner", 18,
                               owner.bytes, 32),
                     0);
    assert_int_equal(store_commit(txn), 0);
    store_close(st);

    node = start_node(home);
    wait_ready(addr);
    pbft_bytes *again;
    size_t again_count;
    wcrypto_pubkey owner_again;
    read_log(home, &owner_again, &again, &again_count);
    assert_memory_equal(owner_again.bytes, owner.bytes, 32);
    /* Its first records; it may have written more since it started. */
    assert_true(again_count >= count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(again[i].size, recs[i].size);
        assert_memory_equal(again[i].data, recs[i].data, recs[i].size);
    }
    node_records_free(again, again_count);
    node_records_free(recs, count);
    /* It goes on: the rest commits. */
    submit_range(addr, &s, 50, 100);
    for (int round = 0; round < 500; round++) {
        if (nt_tx_state(addr, s.hash[99], NULL) ==
            WITAN__TX_STATE__TX_STATE_COMMITTED)
            break;
        nt_sleep_ms(10);
    }
    assert_int_equal(nt_tx_state(addr, s.hash[99], NULL),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
    stop_cleanly(node);
    /* The rows and the owner's key are gone from the database. */
    assert_int_equal(store_open(path, &so, &st), 0);
    assert_int_equal(store_read_begin(st, &txn), 0);
    store_cursor *c;
    const void *k, *v;
    size_t ks, vs;
    assert_int_equal(store_cursor_open(txn, STORE_CONSENSUS, &c), 0);
    assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &ks, &v, &vs),
                     WITAN_ENOTFOUND);
    store_cursor_close(c);
    assert_int_equal(store_get(txn, STORE_META, "pbft_records_owner", 18, &v,
                               &vs),
                     WITAN_ENOTFOUND);
    store_abort(txn);
    store_close(st);
    char log[700], *text;
    size_t size;
    snprintf(log, sizeof log, "%s/log", home);
    assert_int_equal(witan_read_file(log, 1 << 20, &text, &size), 0);
    char want[64];
    snprintf(want, sizeof want, "%zu consensus records replayed", count);
    assert_non_null(strstr(text, want));
    assert_null(strstr(text, "another validator's"));
    free(text);
    for (int i = 0; i < STREAM_TX_COUNT; i++)
        free(s.env[i].data);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    /* build/tests/node/test_solo -> build/bin */
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(base_dir, sizeof base_dir, "%s/witan-node-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(base_dir, 0700);
    port = 12000 + (int)(getpid() % 8000); /* below the ephemeral range */
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_live_node);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_mid_stream),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_other_chain_home_refused),
        cmocka_unit_test(test_rotated_key_signs_with_account),
        cmocka_unit_test(test_stream_api),
        cmocka_unit_test(test_status_waits),
        cmocka_unit_test(test_held_answers_wait_for_room),
        cmocka_unit_test(test_signatures_checked_once),
        cmocka_unit_test(test_power_loss_undoes_last_commit),
        cmocka_unit_test(test_req_flood_not_read),
        cmocka_unit_test(test_records_from_old_database),
    };
    int rc = cmocka_run_group_tests_name("node", tests, NULL, NULL);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
