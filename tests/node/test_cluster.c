/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Four real witand processes on 127.0.0.1, made and run by `witan testnet`,
 * agreeing through PBFT over nng:
 *
 * - they commit a stream of transactions and end with identical block
 *   hashes and state roots at every height;
 * - a fifth process with a key outside the set sends well-formed signed
 *   messages: they are dropped and counted, and nothing changes;
 * - the primary is killed with SIGKILL under load: a view change happens,
 *   nothing reported committed is lost, and the killed node restarts and
 *   catches up to the same state root;
 * - a backup stopped past a checkpoint comes back and catches up by state
 *   transfer;
 * - with more than f validators down nothing commits; when they return the
 *   chain resumes;
 * - all four killed together and restarted: nothing reported committed is
 *   lost and the chain goes on; likewise when each database also lost its
 *   last commit, as a power loss may do;
 * - SIGTERM with 300 nonce-gapped transactions in every pool: each node
 *   stops within a bound and the chain comes back, none under the boot
 *   rule (each marked its log stopped cleanly), which the power-loss test
 *   shows every killed validator booting under;
 * - a transaction pooled on a validator that was away while another took
 *   its nonce is dropped when it catches up, and answers DROPPED (nng, HTTP
 *   409, attest --wait), also after a restart.
 *
 * All of it runs twice: with pipeline_depth 1, and with 2 and blocks of
 * at most 50 transactions (a primary proposes block h while h − 1 is in
 * flight, leaving its transactions out and going on with their senders'
 * nonces past them; the first test checks it did).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "cli/cli.h"
#include "consensus/consensus.h"
#include "node/node.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define TX_COUNT 1200
#define BATCH 50

static char bin_dir[1000];
static char dir[600];
static int base_port;
static int depth = 1; /* genesis pipeline_depth */
static ProtobufCBinaryData envs[TX_COUNT];
static uint8_t hashes[TX_COUNT][32];

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void addr_of(int i, char *out, size_t size)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", base_port + 10 * i);
}

static pid_t pid_of(int i)
{
    char path[700], *text;
    size_t size;
    snprintf(path, sizeof path, "%s/node%d/witand.pid", dir, i);
    if (witan_read_file(path, 64, &text, &size) != 0)
        return 0;
    pid_t p = (pid_t)atol(text);
    free(text);
    return p;
}

static void kill_node(int i)
{
    pid_t p = pid_of(i);
    assert_true(p > 0);
    kill(p, SIGKILL);
    for (int k = 0; k < 500 && kill(p, 0) == 0; k++)
        nt_sleep_ms(10);
}

static bool status_of(int node, uint64_t *height, uint32_t *pool);

/* Starts every stopped node and waits until each answers. */
static void start_all(void)
{
    assert_int_equal(sh("%s/witan testnet start %s >/dev/null", bin_dir, dir),
                     0);
    for (int i = 0; i < NODES; i++) {
        uint64_t h;
        int k = 0;
        while (!status_of(i, &h, NULL) && k++ < 300)
            nt_sleep_ms(20);
        assert_true(k < 300);
    }
}

static Witan__Response *call(int node, Witan__Request *req)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    Witan__Response *r = NULL;
    if (cli_call(addr, req, 3000, &r) != 0)
        return NULL;
    return r;
}

/* Height and tip hash of a node; false when it does not answer. */
static bool status_of(int node, uint64_t *height, uint32_t *pool)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    return nt_status(addr, height, pool);
}

static bool block_of(int node, uint64_t h, uint8_t hash[32], uint8_t root[32])
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    return nt_block(addr, h, hash, root);
}

static bool committed_at(int node, const uint8_t hash[32])
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    return nt_tx_state(addr, hash, NULL) == WITAN__TX_STATE__TX_STATE_COMMITTED;
}

static void submit(int node, int from, int to)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    nt_submit(addr, &envs[from], (size_t)(to - from), BATCH);
}

/* Waits until every live node in `live` holds transactions [0, count) and
 * an empty pool, and all agree on the tip. Returns the common height. */
static uint64_t wait_converged(const bool live[NODES], int count)
{
    for (int round = 0; round < 600; round++) {
        uint64_t h0 = 0;
        bool same = true;
        for (int i = 0; i < NODES && same; i++) {
            if (!live[i])
                continue;
            uint64_t h;
            uint32_t pool;
            if (!status_of(i, &h, &pool) || pool != 0)
                same = false;
            else if (h0 == 0)
                h0 = h;
            else if (h != h0)
                same = false;
        }
        if (same && h0 > 0) {
            bool all = true;
            for (int i = 0; i < NODES && all; i++)
                if (live[i])
                    all = count == 0 || committed_at(i, hashes[count - 1]);
            if (all)
                return h0;
        }
        nt_sleep_ms(100);
    }
    fail_msg("the validators did not converge");
    return 0;
}

/* Every height up to h has the same block hash and state root on every
 * live node. */
static void assert_same_chain(const bool live[NODES], uint64_t h)
{
    for (uint64_t k = 1; k <= h; k++) {
        uint8_t ref_hash[32], ref_root[32];
        int first = -1;
        for (int i = 0; i < NODES; i++) {
            if (!live[i])
                continue;
            uint8_t hash[32], root[32];
            assert_true(block_of(i, k, hash, root));
            if (first < 0) {
                first = i;
                memcpy(ref_hash, hash, 32);
                memcpy(ref_root, root, 32);
            } else {
                assert_memory_equal(hash, ref_hash, 32);
                assert_memory_equal(root, ref_root, 32);
            }
        }
    }
}

static void make_stream(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/operator.key", dir);
    assert_int_equal(
        nt_sign_attestations(path, "cluster-test", 1, TX_COUNT, envs, hashes),
        0);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sh("rm -rf %s && %s/witan testnet init --validators %d "
                        "--dir %s --base-port %d --chain-id cluster-test "
                        "--pipeline-depth %d >/dev/null",
                        dir, bin_dir, NODES, dir, base_port, depth),
                     0);
    /* Checkpoints every 5 blocks and short view timeouts, so that the
     * scenarios cross checkpoints and change views quickly. */
    assert_int_equal(sh("sed -i 's/\"checkpoint_interval\": 100/"
                        "\"checkpoint_interval\": 5/' %s/node*/genesis.json && "
                        "sed -i 's/^view_timeout_ms = .*/view_timeout_ms = 500/' "
                        "%s/node*/config",
                        dir, dir),
                     0);
    /* With two blocks in flight: small blocks, so that a stream of
     * transactions fills several and the primary builds one while the
     * one before is in flight (a debug line says so). */
    if (depth > 1)
        assert_int_equal(sh("sed -i 's/\"block_tx_count_max\": 1000/"
                            "\"block_tx_count_max\": 50/' "
                            "%s/node*/genesis.json && "
                            "sed -i 's/^log_level = .*/log_level = debug/' "
                            "%s/node*/config",
                            dir, dir),
                         0);
    make_stream();
    start_all();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("%s/witan testnet stop %s >/dev/null 2>&1", bin_dir, dir);
    for (int i = 0; i < TX_COUNT; i++)
        free(envs[i].data);
    return 0;
}

static const bool all_live[NODES] = {true, true, true, true};

/* Messages dropped by a node for a reason, as its status reports them. */
static uint64_t dropped(int node, const char *reason)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    Witan__Response *r = call(node, &req);
    uint64_t count = 0;
    for (size_t i = 0; r && r->status && i < r->status->n_dropped; i++)
        if (strcmp(r->status->dropped[i]->reason, reason) == 0)
            count = r->status->dropped[i]->count;
    if (r)
        witan__response__free_unpacked(r, NULL);
    return count;
}

/* A fifth process with a key outside the validator set sends validator 0
 * well-signed consensus messages: in frames of the old, unauthenticated
 * form; in frames claiming validator 1 whose MAC is under the link key the
 * outsider can compute (its own with validator 0's); and in frames claiming
 * an index outside the set. None is opened: each is dropped and counted
 * before its message is decoded, and the chain goes on. */
static void test_outsider_ignored_and_counted(void **state)
{
    (void)state;
    uint64_t malformed0 = dropped(0, "malformed frame");
    uint64_t unauth0 = dropped(0, "unauthenticated frame");
    uint64_t decode0 = dropped(0, "decode");
    wcrypto_keypair outsider;
    assert_int_equal(wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &outsider),
                     0);
    /* Validator 0's public key, from its key file. */
    char path[700];
    snprintf(path, sizeof path, "%s/node0/validator.key", dir);
    wcrypto_keypair v0;
    assert_int_equal(wcrypto_keyfile_read(path, &v0), 0);
    uint8_t link[WCRYPTO_LINK_KEY_SIZE];
    assert_int_equal(
        wcrypto_link_key(&outsider, &v0.pub, "cluster-test", link), 0);
    wcrypto_keypair_wipe(&v0);
    /* A stream of its own to validator 0's peer port, as a peer's. */
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", base_port + 1);
    struct node_links *sock = nt_links_to(url, NODE_FRAME_SIZE_MAX, 64);
    uint64_t h;
    assert_true(status_of(0, &h, NULL));
    for (int k = 0; k < 30; k++) {
        pbft_msg m;
        memset(&m, 0, sizeof m);
        m.kind = k % 2 ? PBFT_MSG_PREPARE : PBFT_MSG_COMMIT;
        m.view = 0;
        m.height = h + 1;
        memset(m.hash, k, sizeof m.hash);
        uint8_t *msg;
        size_t size;
        uint32_t sender = k < 20 ? 1 : 4; /* impersonating; outside the set */
        assert_int_equal(pbft_msg_sign("cluster-test", PBFT_SIG_ED25519,
                                       &outsider, sender, &m, &msg, &size),
                         0);
        size_t frame_size = NODE_FRAME_HEADER_SIZE + NODE_FRAME_COUNT_SIZE +
                            NODE_FRAME_LENGTH_SIZE + size + WCRYPTO_MAC_SIZE;
        uint8_t *frame = malloc(frame_size);
        assert_non_null(frame);
        if (k < 10) { /* the old form: a kind byte and the message */
            frame[0] = NODE_FRAME_CONSENSUS;
            memcpy(frame + 1, msg, size);
            frame_size = size + 1;
        } else {
            pbft_bytes item = {msg, size};
            size_t written;
            assert_int_equal(node_frame_build(NODE_FRAME_CONSENSUS, sender,
                                              &item, 1, frame, frame_size,
                                              &written),
                             0);
            node_frame_seal(frame, written, 0, link);
        }
        assert_int_equal(node_links_send(sock, 0, frame, frame_size), 0);
        node_links_flush(sock);
        free(frame);
        free(msg);
    }
    wcrypto_keypair_wipe(&outsider);
    uint64_t malformed = 0, unauth = 0;
    for (int k = 0; k < 200; k++) {
        malformed = dropped(0, "malformed frame");
        unauth = dropped(0, "unauthenticated frame");
        if (malformed >= malformed0 + 10 && unauth >= unauth0 + 20)
            break;
        nt_sleep_ms(20);
    }
    node_links_close(sock);
    assert_true(malformed >= malformed0 + 10);
    assert_true(unauth >= unauth0 + 20);
    /* Nothing reached the core's decoder. */
    assert_int_equal(dropped(0, "decode"), decode0);
    /* The chain is unaffected: the next transactions commit everywhere. */
    submit(2, 400, 420);
    uint64_t h2 = wait_converged(all_live, 420);
    assert_true(h2 > h);
    assert_same_chain(all_live, h2);
}

/* Validator links a node's metrics report as up. */
static uint32_t peers_connected(int node)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__MetricsRequest m = WITAN__METRICS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_METRICS;
    req.metrics = &m;
    Witan__Response *r = call(node, &req);
    uint32_t up = r && r->metrics ? r->metrics->peers_connected : UINT32_MAX;
    if (r)
        witan__response__free_unpacked(r, NULL);
    return up;
}

/* The count once it settles on `want` (links are redialled with backoff,
 * up to 2 s apart), or the last one seen after 5 s. */
static uint32_t peers_connected_settled(int node, uint32_t want)
{
    uint32_t up = peers_connected(node);
    for (int k = 0; k < 250 && up != want; k++) {
        nt_sleep_ms(20);
        up = peers_connected(node);
    }
    return up;
}

/* Transaction signatures node i has checked since it started. */
static uint64_t signatures_checked(int node)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    uint64_t v = 0;
    assert_true(nt_signatures_checked(addr, &v));
    return v;
}

static void test_stream_agrees(void **state)
{
    (void)state;
    uint64_t checked[NODES];
    for (int i = 0; i < NODES; i++)
        checked[i] = signatures_checked(i);
    submit(1, 0, 400);
    uint64_t h = wait_converged(all_live, 400);
    /* All 400 may fit in block 1 when the first proposal comes late (a slow
     * SAN build); the block after it, which carries its results, follows. */
    for (int k = 0; k < 300 && h < 2; k++) {
        nt_sleep_ms(20);
        h = wait_converged(all_live, 400);
    }
    assert_true(h >= 2);
    assert_same_chain(all_live, h);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(peers_connected_settled(i, NODES - 1), NODES - 1);
    /* Each validator checked each signature, and once: node 1 on
     * admission, the others on the relay, or on judging a proposal that
     * came first; only such a proposal, its relay arriving before the
     * commit, costs a second check, and rarely. */
    for (int i = 0; i < NODES; i++) {
        uint64_t n = signatures_checked(i) - checked[i];
        print_message("node %d checked %llu signatures for 400 "
                      "transactions\n",
                      i, (unsigned long long)n);
        assert_true(n >= 400 && n <= 420);
    }
    /* Every proposal was valid and every transaction applied: with two
     * blocks in flight none repeated one of the block before or broke a
     * sender's nonce order (these 400 are one sender's). */
    for (int i = 0; i < NODES; i++) {
        char out[64];
        assert_int_not_equal(nt_run(out, sizeof out,
                                    "grep -c 'proposal [0-9]* refused' "
                                    "%s/node%d/log", dir, i),
                             0);
        assert_int_not_equal(nt_run(out, sizeof out,
                                    "grep 'block committed' %s/node%d/log | "
                                    "grep -vc 'txs=\\([0-9]*\\) ok=\\1 '",
                                    dir, i),
                             0);
    }
    if (depth > 1) {
        char out[64];
        assert_int_equal(nt_run(out, sizeof out,
                                "cat %s/node*/log | grep -c 'building block "
                                "[0-9]* with 1 in flight'",
                                dir),
                         0);
    }
}

static void test_primary_killed_under_load(void **state)
{
    (void)state;
    /* Find the primary: view mod n; after the first test it is node 0
     * unless a view change happened, so kill whoever proposed the tip. */
    uint64_t h;
    assert_true(status_of(0, &h, NULL));
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest b = WITAN__BLOCK_REQUEST__INIT;
    b.height = h;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &b;
    Witan__Response *r = call(0, &req);
    assert_non_null(r);
    Witan__BlockHeader *hd = witan__block_header__unpack(
        NULL, r->block->block->header.len, r->block->block->header.data);
    int primary = (int)hd->proposer;
    witan__block_header__free_unpacked(hd, NULL);
    witan__response__free_unpacked(r, NULL);

    int client = (primary + 1) % NODES;
    submit(client, 420, 600);
    kill_node(primary);
    submit(client, 600, 800);
    bool live[NODES] = {true, true, true, true};
    live[primary] = false;
    uint64_t h2 = wait_converged(live, 800);
    assert_true(h2 > h);
    for (int i = 0; i < 800; i++)
        assert_true(committed_at(client, hashes[i]));
    /* The operator's log said so (spec/node.md, "Logs"): the view change,
     * and the link to the dead primary lost. */
    char out[64];
    assert_int_equal(nt_run(out, sizeof out,
                            "grep -c 'node: view changed view=' %s/node%d/log",
                            dir, client),
                     0);
    assert_int_equal(nt_run(out, sizeof out,
                            "grep -c 'node: peer lost validator=%d ' "
                            "%s/node%d/log", primary, dir, client),
                     0);
    /* The killed node restarts and catches up to the same chain. */
    start_all();
    uint64_t h3 = wait_converged(all_live, 800);
    assert_same_chain(all_live, h3);
    /* ... and its link found again: connected at start, and now. */
    int found = 0;
    for (int i = 0; i < 250 && found < 2; i++) {
        if (nt_run(out, sizeof out,
                   "grep -c 'node: peer connected validator=%d ' "
                   "%s/node%d/log", primary, dir, client) == 0)
            found = atoi(out);
        if (found < 2)
            nt_sleep_ms(20);
    }
    assert_true(found >= 2);
}

static void test_backup_falls_behind_then_catches_up(void **state)
{
    (void)state;
    uint64_t h;
    assert_true(status_of(0, &h, NULL));
    /* Stop a backup (one that is not the tip's proposer: node 3 is the
     * primary only in view 3) for more than a checkpoint interval. */
    int lagging = 3;
    kill_node(lagging);
    bool live[NODES] = {true, true, true, false};
    /* Small chunks, each its own block or two, until well past a
     * checkpoint (K = 5). */
    for (int i = 800; i < 1000; i += 10) {
        submit(0, i, i + 10);
        nt_sleep_ms(60);
    }
    uint64_t h2 = wait_converged(live, 1000);
    assert_true(h2 >= h + 5); /* past a checkpoint */
    /* Its link is down, and back once it is up again. */
    assert_int_equal(peers_connected_settled(0, NODES - 2), NODES - 2);
    start_all();
    uint64_t h3 = wait_converged(all_live, 1000);
    assert_same_chain(all_live, h3);
    assert_int_equal(peers_connected_settled(0, NODES - 1), NODES - 1);
}

static void test_more_than_f_down_then_all_killed(void **state)
{
    (void)state;
    uint64_t before;
    assert_true(status_of(0, &before, NULL));
    kill_node(2);
    kill_node(3);
    submit(0, 1000, 1100);
    nt_sleep_ms(3000);
    /* Two of four down: no quorum, nothing commits. */
    uint64_t h;
    assert_true(status_of(0, &h, NULL));
    assert_int_equal(h, before);
    assert_false(committed_at(0, hashes[1000]));
    start_all();
    uint64_t h2 = wait_converged(all_live, 1100);
    assert_true(h2 > before);

    /* All four killed at once, then restarted: nothing reported committed
     * is lost, and the chain goes on. */
    submit(1, 1100, 1200);
    for (int i = 0; i < NODES; i++)
        kill_node(i);
    start_all();
    submit(1, 1100, 1200);
    uint64_t h3 = wait_converged(all_live, 1200);
    for (int i = 0; i < 1200; i++)
        assert_true(committed_at(2, hashes[i]));
    assert_same_chain(all_live, h3);
}

#define START_LINE "chain cluster-test at height "

/* Node i's log from its last start line on, in *text (the caller frees
 * it). */
static const char *log_since_start(int i, char **text)
{
    char log[720], *p, *last = NULL;
    size_t size;
    snprintf(log, sizeof log, "%s/node%d/log", dir, i);
    assert_int_equal(witan_read_file(log, 1 << 24, text, &size), 0);
    for (p = *text; (p = strstr(p, START_LINE)); p++)
        last = p;
    assert_non_null(last);
    return last;
}

/* Whether node i's log holds `needle` since its last start. */
static bool logged_since_start(int i, const char *needle)
{
    char *text;
    bool found = strstr(log_since_start(i, &text), needle) != NULL;
    free(text);
    return found;
}

/* SIGTERM to every validator while each pool holds 300 transactions that
 * wait behind a nonce gap (they can never be proposed): each stops, cleanly
 * and within STOP_BOUND_MS, and the four come back on the same chain. */
#define GAPPED_COUNT 300
#define STOP_BOUND_MS 10000
static void test_stop_bounded_with_gapped_pool(void **state)
{
    (void)state;
    static ProtobufCBinaryData gapped[GAPPED_COUNT];
    static uint8_t gapped_hashes[GAPPED_COUNT][32];
    char path[700];
    snprintf(path, sizeof path, "%s/operator.key", dir);
    assert_int_equal(nt_sign_attestations(path, "cluster-test",
                                          TX_COUNT + 101, GAPPED_COUNT,
                                          gapped, gapped_hashes),
                     0);
    for (int i = 0; i < NODES; i++) {
        char addr[64];
        addr_of(i, addr, sizeof addr);
        assert_true(nt_submit(addr, gapped, GAPPED_COUNT, BATCH));
    }
    for (int i = 0; i < NODES; i++) {
        uint64_t h;
        uint32_t pool = 0;
        assert_true(status_of(i, &h, &pool));
        assert_true(pool >= GAPPED_COUNT);
    }
    pid_t pids[NODES];
    for (int i = 0; i < NODES; i++) {
        pids[i] = pid_of(i);
        assert_true(pids[i] > 0);
        kill(pids[i], SIGTERM);
    }
    for (int i = 0; i < NODES; i++) {
        int k = 0;
        while (kill(pids[i], 0) == 0 && k++ < STOP_BOUND_MS / 10)
            nt_sleep_ms(10);
        if (kill(pids[i], 0) == 0) {
            kill(pids[i], SIGKILL);
            fail_msg("validator %d still running %d ms after SIGTERM", i,
                     STOP_BOUND_MS);
        }
    }
    start_all();
    uint64_t h = wait_converged(all_live, TX_COUNT);
    assert_same_chain(all_live, h);
    /* Each had marked its consensus log stopped cleanly, so none boots
     * under the boot rule (spec/consensus.md). */
    for (int i = 0; i < NODES; i++) {
        assert_true(logged_since_start(i, "(it had stopped cleanly)"));
        assert_false(logged_since_start(i, "booted in view"));
    }
    for (int i = 0; i < GAPPED_COUNT; i++)
        free(gapped[i].data);
}

/* Starts node i alone, as `witan testnet start` would. */
static void start_one(int i)
{
    char home[700], log[720], pidfile[720], witand[1100];
    snprintf(home, sizeof home, "%s/node%d", dir, i);
    snprintf(log, sizeof log, "%s/log", home);
    snprintf(pidfile, sizeof pidfile, "%s/witand.pid", home);
    snprintf(witand, sizeof witand, "%s/witand", bin_dir);
    pid_t pid = nt_spawn_witand(witand, home, log, NULL);
    assert_true(pid > 0);
    FILE *f = fopen(pidfile, "w");
    assert_non_null(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
    uint64_t h;
    int k = 0;
    while (!status_of(i, &h, NULL) && k++ < 300)
        nt_sleep_ms(20);
    assert_true(k < 300);
}

/* A transaction pooled on a validator that was away while another with
 * the same sender and nonce committed: when the validator catches up it
 * drops it at once, says DROPPED and names the committed one — over nng,
 * over HTTP (409), to `witan attest --wait` (exit 1) — and still after a
 * restart. */
/* Node 3 falls a block behind: A, attestation `nonce` of the operator,
 * commits on 0, 1 and 2 while 3 is down; then 3 alone runs `witan attest
 * ... --wait` with `feed` and `extra` (its output in `out`), pooling B,
 * which wants A's nonce when `extra` gives it or 3 chose it; then the
 * others return and 3 catches up. A's envelope in *a (the caller frees its
 * data) and hash in a_hash; witan's exit status. */
static int attest_on_lagging_node(uint64_t nonce, const char *feed,
                                  const char *extra, const char *out,
                                  ProtobufCBinaryData *a, uint8_t a_hash[32])
{
    char key[700], addr3[64];
    snprintf(key, sizeof key, "%s/operator.key", dir);
    addr_of(3, addr3, sizeof addr3);
    kill_node(3);
    uint8_t hashes[1][32];
    assert_int_equal(
        nt_sign_attestations(key, "cluster-test", nonce, 1, a, hashes), 0);
    memcpy(a_hash, hashes[0], 32);
    char addr0[64];
    addr_of(0, addr0, sizeof addr0);
    assert_true(nt_submit(addr0, a, 1, 1));
    int k = 0;
    while (!committed_at(0, a_hash) && k++ < 500)
        nt_sleep_ms(20);
    assert_true(committed_at(0, a_hash));
    for (int i = 0; i < 3; i++)
        kill_node(i);
    start_one(3);
    pid_t waiter = fork();
    assert_true(waiter >= 0);
    if (waiter == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "exec %s/witan attest --key %s --node %s --feed %s "
                 "--subject mauna-loa --time 2020-01 --value co2=412.5 "
                 "--wait %s",
                 bin_dir, key, addr3, feed, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    uint32_t pool = 0;
    uint64_t h;
    for (k = 0; k < 300 && (!status_of(3, &h, &pool) || pool == 0); k++)
        nt_sleep_ms(20);
    assert_int_equal(pool, 1);
    /* The others return; 3 catches up and applies A. */
    start_all();
    int status;
    assert_int_equal(waitpid(waiter, &status, 0), waiter);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_displaced_transaction_dropped(void **state)
{
    (void)state;
    char addr3[64];
    addr_of(3, addr3, sizeof addr3);
    int http_port = base_port + 9;
    assert_int_equal(sh("sed -i '/^http_listen/d' %s/node3/config && "
                        "echo 'http_listen = http://127.0.0.1:%d' >> "
                        "%s/node3/config",
                        dir, http_port, dir),
                     0);
    /* B names its nonce, so witan does not sign it again. */
    char out[700], nonce_arg[64];
    snprintf(out, sizeof out, "%s/attest-wait.out", dir);
    snprintf(nonce_arg, sizeof nonce_arg, "--nonce %d", TX_COUNT + 1);
    ProtobufCBinaryData a[1];
    uint8_t a_hash[1][32];
    assert_int_equal(attest_on_lagging_node(TX_COUNT + 1,
                                            "climate/co2/displaced", nonce_arg,
                                            out, a, a_hash[0]),
                     1);
    int k;
    char *text;
    size_t size;
    assert_int_equal(witan_read_file(out, 4096, &text, &size), 0);
    char a_hex[65];
    witan_hex_encode(a_hash[0], 32, a_hex);
    assert_non_null(strstr(text, "dropped"));
    assert_non_null(strstr(text, a_hex));
    /* B's hash is the first word of the line. */
    char b_hex[65] = {0};
    assert_int_equal(sscanf(text, "%64s dropped", b_hex), 1);
    free(text);
    uint8_t b_hash[32];
    assert_int_equal(witan_hex_decode(b_hex, b_hash, 32), 0);
    for (int round = 0; round < 2; round++) {
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
        tr.tx_hash = (ProtobufCBinaryData){32, b_hash};
        req.kind_case = WITAN__REQUEST__KIND_TX;
        req.tx = &tr;
        Witan__Response *r = call(3, &req);
        assert_non_null(r);
        assert_non_null(r->tx);
        assert_int_equal(r->tx->state, WITAN__TX_STATE__TX_STATE_DROPPED);
        assert_int_equal(r->tx->displaced_by.len, 32);
        assert_memory_equal(r->tx->displaced_by.data, a_hash[0], 32);
        witan__response__free_unpacked(r, NULL);
        char path[128], body[8192];
        snprintf(path, sizeof path, "/v1/tx/%s", b_hex);
        assert_int_equal(
            nt_http(http_port, "GET", path, NULL, NULL, 0, body, sizeof body),
            409);
        assert_non_null(strstr(body, "TX_STATE_DROPPED"));
        /* and `witan query tx` says so, naming what displaced it */
        char shown[700];
        snprintf(shown, sizeof shown, "%s/query-tx.txt", dir);
        assert_int_equal(sh("%s/witan query tx %s --node %s > %s", bin_dir,
                            b_hex, addr3, shown),
                         0);
        char *q;
        size_t qs;
        assert_int_equal(witan_read_file(shown, 4096, &q, &qs), 0);
        assert_non_null(strstr(q, "state:  dropped\n"));
        assert_non_null(strstr(q, "displaced by: "));
        assert_non_null(strstr(q, a_hex));
        free(q);
        /* After a restart the node still knows. */
        if (round == 0) {
            kill_node(3);
            start_one(3);
            for (k = 0; k < 300 && nt_http(http_port, "GET", "/v1/status", NULL,
                                            NULL, 0, body, sizeof body) != 200;
                 k++)
                nt_sleep_ms(20);
        }
    }
    free(a[0].data);
}

/* The same lag, but witan chose the nonce: when B is dropped it signs the
 * attestation again with the next nonce, and that one commits. */
static void test_nonce_taken_signed_again(void **state)
{
    (void)state;
    char out[700];
    snprintf(out, sizeof out, "%s/attest-retry.out", dir);
    ProtobufCBinaryData a[1];
    uint8_t a_hash[32];
    assert_int_equal(attest_on_lagging_node(TX_COUNT + 2, "climate/co2/retried",
                                            "", out, a, a_hash),
                     0);
    free(a[0].data);
    char *text;
    size_t size;
    assert_int_equal(witan_read_file(out, 4096, &text, &size), 0);
    char want[128];
    snprintf(want, sizeof want, "nonce %d was taken by another transaction",
             TX_COUNT + 2);
    if (!strstr(text, want) || !strstr(text, ": OK\n"))
        fail_msg("witan attest did not sign again and commit:\n%s", text);
    /* The attestation is on chain once, with the next nonce. The lagging
     * node reported it committed; node 0 may execute that block a moment
     * later (it need not be of the block's commit quorum). */
    char shown[700];
    snprintf(shown, sizeof shown, "%s/retried.txt", dir);
    char addr0[64];
    addr_of(0, addr0, sizeof addr0);
    char *q = NULL;
    for (int k = 0; k < 100 && (!q || !strstr(q, "412.5")); k++) {
        if (q) {
            free(q);
            nt_sleep_ms(100);
        }
        assert_int_equal(sh("%s/witan query attestations --feed "
                            "climate/co2/retried --subject mauna-loa --node "
                            "%s > %s",
                            bin_dir, addr0, shown),
                         0);
        size_t qs;
        assert_int_equal(witan_read_file(shown, 8192, &q, &qs), 0);
    }
    if (!strstr(q, "412.5"))
        fail_msg("the attestation is not on chain after 10 s:\n%s", q);
    free(q);
    free(text);
}

/* The common height of the four once every pool is empty and the height
 * has not moved for a second (the blocks that certify results came). */
static uint64_t wait_still(void)
{
    uint64_t top = 0;
    for (int still = 0, round = 0; still < 10; round++) {
        assert_true(round < 600);
        nt_sleep_ms(100);
        uint64_t h0 = 0;
        bool same = true;
        for (int i = 0; i < NODES && same; i++) {
            uint64_t h;
            uint32_t pool;
            same = status_of(i, &h, &pool) && pool == 0 && (!h0 || h == h0);
            h0 = h;
        }
        still = same && h0 == top ? still + 1 : 0;
        top = same ? h0 : 0;
    }
    return top;
}

/* A power loss on every validator at once, each database losing its last
 * commit (nt_undo_last_commit; the answers to clients went out before it
 * synced): booted one commit behind, the four deliver that block again
 * from their consensus records and one another's Commits, to the same
 * blocks, every transaction reported committed is at the height reported,
 * and the chain goes on. */
static void test_power_loss_on_every_validator(void **state)
{
    (void)state;
    enum { MORE = 20, HEIGHTS = 1024 };
    static ProtobufCBinaryData more[MORE];
    static uint8_t more_hashes[MORE][32];
    static uint8_t block[HEIGHTS][32];
    char path[700];
    snprintf(path, sizeof path, "%s/operator.key", dir);
    char addr[64];
    addr_of(1, addr, sizeof addr);
    /* The operator's next nonce: the tests before took some past TX_COUNT. */
    wcrypto_keypair kp;
    uint8_t sender[WITAN_ADDRESS_SIZE];
    uint64_t nonce;
    assert_int_equal(wcrypto_keyfile_read(path, &kp), 0);
    wcrypto_address(&kp.pub, sender);
    assert_int_equal(cli_next_nonce(addr, sender, &nonce), 0);
    assert_int_equal(nt_sign_attestations(path, "cluster-test", nonce, MORE,
                                          more, more_hashes),
                     0);
    uint64_t at[MORE];
    for (int i = 0; i < MORE / 2; i++) {
        at[i] = nt_submit_committed(addr, &more[i], more_hashes[i], 10000);
        assert_true(at[i] > 0);
    }
    uint64_t top = wait_still();
    assert_true(top > 0 && top < HEIGHTS);
    uint8_t root[32];
    for (uint64_t k = 1; k <= top; k++)
        assert_true(block_of(0, k, block[k], root));
    for (int i = 0; i < NODES; i++)
        kill_node(i);
    for (int i = 0; i < NODES; i++) {
        char home[700];
        snprintf(home, sizeof home, "%s/node%d", dir, i);
        assert_true(nt_undo_last_commit(home) > 0);
    }
    start_all();
    uint64_t h = 0;
    for (int t = 0; t < 600; t++) {
        bool all = true;
        for (int i = 0; i < NODES && all; i++)
            all = status_of(i, &h, NULL) && h >= top;
        if (all)
            break;
        nt_sleep_ms(50);
    }
    for (int i = 0; i < NODES; i++) {
        assert_true(status_of(i, &h, NULL));
        assert_true(h >= top);
    }
    /* Each booted one block behind (its log's last start line says so),
     * unless its last commit was not a block's: the proof of a stable
     * checkpoint (K = 5) may be committed after the blocks that follow
     * it. */
    int behind = 0;
    for (int i = 0; i < NODES; i++) {
        char *text;
        uint64_t booted = strtoull(
            log_since_start(i, &text) + strlen(START_LINE), NULL, 10);
        assert_true(booted == top - 1 || booted == top);
        behind += booted == top - 1;
        free(text);
    }
    print_message("power loss at height %llu: %d of %d validators booted "
                  "one block behind\n",
                  (unsigned long long)top, behind, NODES);
    /* Killed, each boots under the boot rule: the chain went on after a
     * view change (checked below). */
    for (int i = 0; i < NODES; i++)
        assert_true(logged_since_start(i, "booted in view"));
    assert_same_chain(all_live, top);
    for (uint64_t k = 1; k <= top; k++) {
        uint8_t again[32];
        assert_true(block_of(2, k, again, root));
        assert_memory_equal(again, block[k], 32);
    }
    for (int i = 0; i < MORE / 2; i++)
        for (int n = 0; n < NODES; n++) {
            char a[64];
            uint64_t height = 0;
            addr_of(n, a, sizeof a);
            assert_int_equal(nt_tx_state(a, more_hashes[i], &height),
                             WITAN__TX_STATE__TX_STATE_COMMITTED);
            assert_int_equal(height, at[i]);
        }
    /* The chain goes on. */
    addr_of(3, addr, sizeof addr);
    assert_true(nt_submit(addr, &more[MORE / 2], MORE / 2, BATCH));
    uint64_t last = wait_still();
    assert_true(last > top);
    for (int i = 0; i < NODES; i++)
        assert_true(committed_at(i, more_hashes[MORE - 1]));
    assert_same_chain(all_live, last);
    for (int i = 0; i < MORE; i++)
        free(more[i].data);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(dir, sizeof dir, "%s/witan-cluster-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below 32768: listeners must not collide with ephemeral ports. */
    base_port = 20000 + (int)(getpid() % 1000) * 10;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_agrees),
        cmocka_unit_test(test_outsider_ignored_and_counted),
        cmocka_unit_test(test_primary_killed_under_load),
        cmocka_unit_test(test_backup_falls_behind_then_catches_up),
        cmocka_unit_test(test_more_than_f_down_then_all_killed),
        cmocka_unit_test(test_stop_bounded_with_gapped_pool),
        cmocka_unit_test(test_displaced_transaction_dropped),
        cmocka_unit_test(test_nonce_taken_signed_again),
        cmocka_unit_test(test_power_loss_on_every_validator),
    };
    int rc = cmocka_run_group_tests_name("cluster", tests, setup, teardown);
    if (rc == 0)
        sh("rm -rf %s", dir);
    depth = 2;
    snprintf(dir, sizeof dir, "%s/witan-cluster-%d-L2",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    int rc2 = cmocka_run_group_tests_name("cluster, pipeline_depth 2", tests,
                                          setup, teardown);
    if (rc2 == 0)
        sh("rm -rf %s", dir);
    return rc || rc2;
}
