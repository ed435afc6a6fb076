/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A faulty primary, with real processes: four witand on 127.0.0.1 made by
 * `witan testnet`, validator 0 (the primary of view 0) running the test
 * build that corrupts its proposals (WITAN_MUTATE, node/replica.c). For each
 * mutation — a wrong transactions root, a bad signature, a transaction
 * twice, a transaction committed before — the three correct validators
 * refuse its proposals before preparing them, change view away from it, and
 * commit every transaction submitted, with the same blocks everywhere; the
 * faulty validator itself stays up and ends on the same chain. And one
 * that is slow, not faulty: validator 0 relays its batches only after its
 * proposal of them, and no validator checks a signature twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define TX_COUNT 60
#define BATCH 10

static char bin_dir[1000];
static char base[600];
static int base_port;
static pid_t pids[NODES];

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void addr_of(int port0, int i, char *out, size_t size)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", port0 + 10 * i);
}

/* Starts validator i of the testnet in dir; the mutant when `mutation`. */
static pid_t start(const char *dir, int i, const char *mutation)
{
    char home[800], log[820], exe[1100];
    snprintf(home, sizeof home, "%s/node%d", dir, i);
    snprintf(log, sizeof log, "%s/log", home);
    if (mutation)
        snprintf(exe, sizeof exe, "%s/../test-bin/witand-mutant", bin_dir);
    else
        snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    pid_t pid = nt_spawn_witand(exe, home, log, mutation);
    assert_true(pid > 0);
    return pid;
}

static void stop_all(void)
{
    for (int i = 0; i < NODES; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
    }
}

static uint64_t view_of(const char *addr)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    Witan__Response *r = NULL;
    if (cli_call(addr, &req, 3000, &r) != 0)
        return 0;
    uint64_t v = r->status ? r->status->view : 0;
    witan__response__free_unpacked(r, NULL);
    return v;
}

/* Four validators in base/NAME on ports from slot's, validator 0 running
 * the test build under `mutation`, each answering; TX_COUNT attestations
 * signed for them. */
static void start_cluster(const char *mutation, int slot, char *dir,
                          size_t dir_size, char addr[NODES][64],
                          ProtobufCBinaryData *envs, uint8_t (*hashes)[32])
{
    snprintf(dir, dir_size, "%s/%s", base, mutation);
    int port0 = base_port + slot * 100;
    assert_int_equal(sh("%s/witan testnet init --validators %d --dir %s "
                        "--base-port %d --chain-id byz-test >/dev/null && "
                        "sed -i 's/^view_timeout_ms = .*/view_timeout_ms = "
                        "400/' %s/node*/config",
                        bin_dir, NODES, dir, port0, dir),
                     0);
    for (int i = 0; i < NODES; i++)
        pids[i] = start(dir, i, i == 0 ? mutation : NULL);
    for (int i = 0; i < NODES; i++) {
        addr_of(port0, i, addr[i], 64);
        uint64_t h;
        int k = 0;
        while (!nt_status(addr[i], &h, NULL) && k++ < 300)
            nt_sleep_ms(20);
        assert_true(k < 300);
    }
    char key[720];
    snprintf(key, sizeof key, "%s/operator.key", dir);
    assert_int_equal(
        nt_sign_attestations(key, "byz-test", 1, TX_COUNT, envs, hashes), 0);
}

static void run_mutation(const char *mutation, const char *reason, int slot)
{
    char dir[700], addr[NODES][64];
    static ProtobufCBinaryData envs[TX_COUNT];
    static uint8_t hashes[TX_COUNT][32];
    start_cluster(mutation, slot, dir, sizeof dir, addr, envs, hashes);
    /* In batches to a correct validator (it relays them to all), so that
     * the faulty primary has proposals to make. */
    for (int b = 0; b < TX_COUNT; b += BATCH) {
        assert_true(nt_submit(addr[1], &envs[b], BATCH, BATCH));
        nt_sleep_ms(100);
    }
    /* Every transaction commits on every correct validator. */
    for (int i = 1; i < NODES; i++) {
        int k = 0;
        while (nt_tx_state(addr[i], hashes[TX_COUNT - 1], NULL) !=
                   WITAN__TX_STATE__TX_STATE_COMMITTED &&
               k++ < 1500)
            nt_sleep_ms(20);
        for (int t = 0; t < TX_COUNT; t++)
            if (nt_tx_state(addr[i], hashes[t], NULL) !=
                WITAN__TX_STATE__TX_STATE_COMMITTED)
                fail_msg("%s: transaction %d not committed on validator %d",
                         mutation, t, i);
        if (view_of(addr[i]) == 0)
            fail_msg("%s: validator %d still in view 0 under a faulty primary",
                     mutation, i);
    }
    /* The same chain everywhere, the faulty validator included once it
     * catches up. */
    uint64_t top;
    assert_true(nt_status(addr[1], &top, NULL));
    int k = 0;
    uint64_t h0 = 0;
    while ((!nt_status(addr[0], &h0, NULL) || h0 < top) && k++ < 500)
        nt_sleep_ms(20);
    assert_true(h0 >= top);
    for (uint64_t h = 1; h <= top; h++) {
        uint8_t hash1[32], root1[32];
        assert_true(nt_block(addr[1], h, hash1, root1));
        for (int i = 0; i < NODES; i++) {
            uint8_t hash[32], root[32];
            assert_true(nt_block(addr[i], h, hash, root));
            assert_memory_equal(hash, hash1, 32);
            assert_memory_equal(root, root1, 32);
        }
    }
    /* The faulty validator was refused, not crashed. */
    assert_int_equal(kill(pids[0], 0), 0);
    /* Refused for the rule the mutation breaks, before preparing, by a
     * correct validator (which ones saw a proposal before the view changed
     * depends on timing). */
    if (sh("cat %s/node[123]/log | grep -q 'proposal [0-9]* refused: .*%s'",
           dir, reason) != 0)
        fail_msg("%s: no proposal refused for \"%s\" in %s/node[123]/log",
                 mutation, reason, dir);
    printf("%s: %d transactions committed at height %llu, view %llu on "
           "validator 1\n",
           mutation, TX_COUNT, (unsigned long long)top,
           (unsigned long long)view_of(addr[1]));
    stop_all();
    for (int t = 0; t < TX_COUNT; t++)
        free(envs[t].data);
}

static void test_wrong_txs_root(void **state)
{
    (void)state;
    run_mutation("txs-root", "transactions root does not match", 0);
}

static void test_bad_signature(void **state)
{
    (void)state;
    run_mutation("bad-signature", "signature does not verify", 1);
}

static void test_duplicate_transaction(void **state)
{
    (void)state;
    run_mutation("duplicate", "carries a transaction twice", 2);
}

static void test_committed_transaction(void **state)
{
    (void)state;
    run_mutation("committed", "was already committed", 3);
}

static uint64_t signatures_checked(const char *addr)
{
    uint64_t v = 0;
    assert_true(nt_signatures_checked(addr, &v));
    return v;
}

/* Not a fault: validator 0, the primary, relays the batches it admits only
 * after its proposal of them has gone out (relay-late), so the others
 * judge the proposal, checking its signatures, before the relay comes.
 * The relayed copies are not checked again: every validator checks each
 * signature once. */
static void test_relay_after_proposal(void **state)
{
    (void)state;
    char dir[700], addr[NODES][64];
    static ProtobufCBinaryData envs[TX_COUNT];
    static uint8_t hashes[TX_COUNT][32];
    start_cluster("relay-late", 4, dir, sizeof dir, addr, envs, hashes);
    uint64_t before[NODES];
    for (int i = 0; i < NODES; i++)
        before[i] = signatures_checked(addr[i]);
    for (int b = 0; b < TX_COUNT; b += BATCH) {
        assert_true(nt_submit(addr[0], &envs[b], BATCH, BATCH));
        nt_sleep_ms(50);
    }
    for (int i = 0; i < NODES; i++) {
        int k = 0;
        while (nt_tx_state(addr[i], hashes[TX_COUNT - 1], NULL) !=
                   WITAN__TX_STATE__TX_STATE_COMMITTED &&
               k++ < 1500)
            nt_sleep_ms(20);
        assert_int_equal(nt_tx_state(addr[i], hashes[TX_COUNT - 1], NULL),
                         WITAN__TX_STATE__TX_STATE_COMMITTED);
    }
    nt_sleep_ms(300); /* the last relay, after the last proposal */
    for (int i = 0; i < NODES; i++) {
        uint64_t n = signatures_checked(addr[i]) - before[i];
        printf("relay-late: validator %d checked %llu signatures for %d "
               "transactions (view %llu)\n",
               i, (unsigned long long)n, TX_COUNT,
               (unsigned long long)view_of(addr[i]));
        assert_int_equal(n, TX_COUNT);
    }
    /* The backups saw the proposals first: they judged them, checking. */
    assert_int_not_equal(
        sh("grep -q 'proposal [0-9]* refused' %s/node[123]/log", dir), 0);
    stop_all();
    for (int t = 0; t < TX_COUNT; t++)
        free(envs[t].data);
}

static int teardown(void **state)
{
    (void)state;
    stop_all();
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(base, sizeof base, "%s/witan-byz-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below 32768: listeners must not collide with ephemeral ports. */
    base_port = 20000 + (int)(getpid() % 20) * 500;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_wrong_txs_root, teardown),
        cmocka_unit_test_teardown(test_bad_signature, teardown),
        cmocka_unit_test_teardown(test_duplicate_transaction, teardown),
        cmocka_unit_test_teardown(test_committed_transaction, teardown),
        cmocka_unit_test_teardown(test_relay_after_proposal, teardown),
    };
    if (sh("mkdir -p %s", base) != 0)
        return 1;
    int rc = cmocka_run_group_tests_name("byzantine", tests, NULL, NULL);
    if (rc == 0)
        sh("rm -rf %s", base);
    return rc;
}
