/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An operator's node you can trust (issue 16), on real witand processes:
 *
 * - /readyz means caught up: in a four-validator testnet one node is
 *   stopped (SIGSTOP) for longer than a silence (3 s) while the other three
 *   commit blocks; once it runs again (SIGCONT) its /readyz answers 503
 *   with reason "behind" until it has caught up and heard fresh Statuses,
 *   then 200 (both polled with a timeout);
 * - a client given --home checks the chain of the node it talks to: the
 *   testnet's home against a one-validator node of another chain id is
 *   refused with exit status 1 and a message naming both chains, before
 *   the transaction is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define LAGGARD 3 /* the node stopped; not view 0's primary */
#define GAP_BLOCKS 24 /* committed while it is stopped: well over the
                         readiness margin (NODE_READY_BLOCKS_BEHIND_MAX) */
#define OUT_SIZE 8192
#define PAGE_SIZE 8192

static char bin_dir[1024];
static char base_dir[512];
static char net[600];
static int base_port;
static pid_t laggard_pid, solo_pid;

static int http_port(void) { return base_port + 10 * LAGGARD + 5; }

static void cleanup(void)
{
    if (laggard_pid > 0)
        kill(laggard_pid, SIGCONT);
    if (solo_pid > 0)
        kill(solo_pid, SIGKILL);
    char out[256];
    if (net[0])
        nt_run(out, sizeof out, "%s/witan testnet stop %s >/dev/null 2>&1",
               bin_dir, net);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start_testnet(void)
{
    static char out[OUT_SIZE];
    snprintf(net, sizeof net, "%s/net", base_dir);
    int rc = nt_run(out, sizeof out,
                    "%s/witan testnet init --validators %d --dir %s "
                    "--base-port %d >/dev/null 2>&1 && sed -i "
                    "'s|^http_listen = .*|http_listen = http://127.0.0.1:%d|' "
                    "%s/node%d/config && %s/witan testnet start %s 2>&1",
                    bin_dir, NODES, net, base_port, http_port(), net, LAGGARD,
                    bin_dir, net);
    if (rc != 0)
        fail_msg("testnet: %s", out);
    char pid_path[700];
    snprintf(pid_path, sizeof pid_path, "%s/node%d/witand.pid", net, LAGGARD);
    FILE *f = fopen(pid_path, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    laggard_pid = (pid_t)pid;
}

/* /readyz of the laggard: its status, the body in page. */
static int readyz(char *page)
{
    return nt_http(http_port(), "GET", "/readyz", NULL, NULL, 0, page,
                   PAGE_SIZE);
}

static uint64_t height_of(int node)
{
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", base_port + 10 * node);
    uint64_t height = 0;
    uint32_t pool;
    if (!nt_status(addr, &height, &pool))
        fail_msg("node %d does not answer", node);
    return height;
}

static void test_readyz_behind_then_caught_up(void **state)
{
    (void)state;
    static char page[PAGE_SIZE], out[OUT_SIZE];
    start_testnet();
    int64_t deadline = now_ms() + 30000;
    while (readyz(page) != 200) {
        if (now_ms() > deadline)
            fail_msg("node %d never ready: %s", LAGGARD, page);
        nt_sleep_ms(50);
    }

    assert_int_equal(kill(laggard_pid, SIGSTOP), 0);
    int64_t stopped_ms = now_ms();
    uint64_t start = height_of(0);
    /* One attestation a block, committed by the three others (a quorum of
     * four), until the gap is made. */
    for (int i = 0; height_of(0) < start + GAP_BLOCKS; i++) {
        assert_true(i < 4 * GAP_BLOCKS);
        int rc = nt_run(out, sizeof out,
                        "%s/witan attest --home %s/node0 --key "
                        "%s/operator.key --feed climate/co2/mauna-loa "
                        "--subject mauna-loa --unit ppm "
                        "--time ms:%lld --value co2=420.5 --wait 2>&1",
                        bin_dir, net, net, 1700000000000LL + i * 60000LL);
        if (rc != 0)
            fail_msg("attest: %s", out);
    }
    uint64_t target = height_of(0);
    /* Paused longer than a silence (NODE_READY_STATUS_AGE_MAX_MS, 2 s):
     * part of the scene, not of the check. */
    while (now_ms() - stopped_ms < 3000)
        nt_sleep_ms(50);
    assert_int_equal(kill(laggard_pid, SIGCONT), 0);

    /* Behind at first: polled, since when its peers' statuses arrive is
     * theirs to say; then ready once caught up. */
    bool behind = false;
    int status = 0;
    deadline = now_ms() + 30000;
    while ((status = readyz(page)) != 200 || !behind) {
        if (status == 503 && strstr(page, "\"reason\":\"behind\"")) {
            if (!behind)
                print_message("%s\n", strstr(page, "\r\n\r\n") + 4);
            behind = true;
        }
        if (status == 200 && !behind)
            fail_msg("ready before it had caught up: %llu of %llu",
                     (unsigned long long)height_of(LAGGARD),
                     (unsigned long long)target);
        if (now_ms() > deadline)
            fail_msg("no 503 behind then 200 within 30 s; last %d: %s",
                     status, page);
        nt_sleep_ms(status == 200 ? 0 : 2);
    }
    assert_true(strstr(page, "\r\n\r\nok\n") != NULL);
    assert_true(height_of(LAGGARD) + 4 >= target);
}

static void test_home_of_another_chain(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    assert_true(net[0]); /* the testnet of the test above */
    char solo[700], log[800], exe[1100];
    snprintf(solo, sizeof solo, "%s/solo", base_dir);
    int solo_port = base_port + 50;
    assert_int_equal(nt_run(out, sizeof out,
                            "%s/witan init --home %s --chain-id other-chain "
                            "--listen tcp://127.0.0.1:%d >/dev/null 2>&1",
                            bin_dir, solo, solo_port),
                     0);
    snprintf(log, sizeof log, "%s/log", solo);
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    solo_pid = nt_spawn_witand(exe, solo, log, NULL);
    assert_true(solo_pid > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", solo_port);
    uint64_t height;
    uint32_t pool;
    for (int i = 0; i < 250 && !nt_status(addr, &height, &pool); i++)
        nt_sleep_ms(20);
    assert_true(nt_status(addr, &height, &pool));

    /* The testnet's home, the other chain's node: refused, nothing sent. */
    int rc = nt_run(out, sizeof out,
                    "%s/witan attest --home %s/node0 --node %s --key "
                    "%s/operator.key --feed climate/co2/mauna-loa "
                    "--subject mauna-loa --unit ppm --time 2024-01 "
                    "--value co2=420.5 2>&1",
                    bin_dir, net, addr, net);
    assert_int_equal(rc, 1);
    char want[1400];
    snprintf(want, sizeof want,
             "the node at %s serves chain other-chain, but %s/node0's "
             "genesis is chain witan-testnet",
             addr, net);
    if (!strstr(out, want))
        fail_msg("expected \"%s\" in: %s", want, out);
    assert_true(nt_status(addr, &height, &pool));
    assert_int_equal(pool, 0);
    /* The same for a query, and the other way round. */
    rc = nt_run(out, sizeof out, "%s/witan query status --home %s --node "
                                 "tcp://127.0.0.1:%d 2>&1",
                bin_dir, solo, base_port);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "serves chain witan-testnet, but"));
    /* Its own home's node: fine. */
    assert_int_equal(nt_run(out, sizeof out,
                            "%s/witan query status --home %s 2>&1", bin_dir,
                            solo),
                     0);

    kill(solo_pid, SIGTERM);
    waitpid(solo_pid, NULL, 0);
    solo_pid = 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(base_dir, sizeof base_dir, "%s/witan-readiness-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(base_dir, 0700);
    /* Node i on base + 10i (+1 for peers), the laggard's HTTP on +35, a
     * node of another chain on +50: below the ephemeral ports. */
    base_port = 23000 + (int)(getpid() % 400) * 10;
    signal(SIGPIPE, SIG_IGN);
    atexit(cleanup);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readyz_behind_then_caught_up),
        cmocka_unit_test(test_home_of_another_chain),
    };
    int rc = cmocka_run_group_tests_name("readiness", tests, NULL, NULL);
    cleanup();
    net[0] = '\0';
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
