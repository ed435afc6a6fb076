/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A full disk, for real: a witand whose home is on a 40 MiB tmpfs (mounted
 * by the test; skipped where mounting is not allowed), with a 1 MiB pool
 * and 64 KiB blocks, so that admitting needs 4 x (1 MiB + 64 KiB) + 8 MiB
 * free. When a file fills the disk below that, new transactions are
 * refused with WITAN_ENOSPACE and a sentence giving both figures (507 over
 * HTTP); reads go on; status and /metrics say so; when space returns the
 * node admits again by itself. Restarted on the full disk it stays up,
 * refusing, instead of crashing into the next block.
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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

#define TX_COUNT 4

static char bin_dir[1000];
static char base[600], mnt[700], home[800], fill[800];
static char addr[64];
static int port, http_port;
static bool mounted;
static pid_t node;

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void start_node(void)
{
    char log[900], exe[1100];
    snprintf(log, sizeof log, "%s/../witand.log", home);
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    node = nt_spawn_witand(exe, home, log, NULL);
    assert_true(node > 0);
    uint64_t h;
    int k = 0;
    while (!nt_status(addr, &h, NULL) && k++ < 300)
        nt_sleep_ms(20);
    assert_true(k < 300);
}

static void stop_node(void)
{
    if (node > 0) {
        kill(node, SIGTERM);
        waitpid(node, NULL, 0);
        node = 0;
    }
}

/* Fills the file system until `leave` bytes are free. */
static void fill_until(uint64_t leave)
{
    struct statvfs fs;
    assert_int_equal(statvfs(mnt, &fs), 0);
    uint64_t free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
    struct stat st;
    uint64_t have = stat(fill, &st) == 0 ? (uint64_t)st.st_size : 0;
    assert_true(free_bytes > leave);
    int fd = open(fill, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, (off_t)(have + free_bytes - leave)),
                     0);
    close(fd);
}

static Witan__Response *submit(const ProtobufCBinaryData *env)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = 1;
    sr.envelopes = (ProtobufCBinaryData *)env;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *r = NULL;
    assert_int_equal(cli_call(addr, &req, 5000, &r), 0);
    assert_null(r->error);
    assert_int_equal(r->submit->n_results, 1);
    return r;
}

static Witan__StatusResponse *status(Witan__Response **owner)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    assert_int_equal(cli_call(addr, &req, 5000, owner), 0);
    assert_non_null((*owner)->status);
    return (*owner)->status;
}

static void wait_committed(const uint8_t hash[32])
{
    int k = 0;
    while (nt_tx_state(addr, hash, NULL) !=
               WITAN__TX_STATE__TX_STATE_COMMITTED &&
           k++ < 500)
        nt_sleep_ms(10);
    assert_int_equal(nt_tx_state(addr, hash, NULL),
                     WITAN__TX_STATE__TX_STATE_COMMITTED);
}

/* Refused for the disk, with the figures, over nng and HTTP. */
static void assert_refused(const ProtobufCBinaryData *env)
{
    Witan__Response *r = submit(env);
    Witan__SubmitResult *res = r->submit->results[0];
    assert_non_null(res->error);
    assert_int_equal(res->error->code, WITAN_ENOSPACE);
    assert_non_null(strstr(res->error->message, "disk nearly full"));
    assert_non_null(strstr(res->error->message, "MiB free, need 12 MiB"));
    witan__response__free_unpacked(r, NULL);
    char answer[4096];
    assert_int_equal(nt_http(http_port, "POST", "/v1/tx",
                             "application/x-protobuf", env->data, env->len,
                             answer, sizeof answer),
                     507);
    assert_non_null(strstr(answer, "WITAN_ENOSPACE"));
}

static void test_full_disk_refused_then_resumed(void **state)
{
    (void)state;
    if (!mounted)
        skip();
    static ProtobufCBinaryData envs[TX_COUNT];
    static uint8_t hashes[TX_COUNT][32];
    char key[900];
    snprintf(key, sizeof key, "%s/operator.key", home);
    assert_int_equal(
        nt_sign_attestations(key, "disk-test", 1, TX_COUNT, envs, hashes), 0);
    start_node();
    Witan__Response *r = submit(&envs[0]);
    assert_null(r->submit->results[0]->error);
    witan__response__free_unpacked(r, NULL);
    wait_committed(hashes[0]);

    /* Somebody else fills the disk. */
    fill_until(4u << 20);
    nt_sleep_ms(300);
    assert_refused(&envs[1]);
    Witan__Response *owner;
    Witan__StatusResponse *st = status(&owner);
    assert_false(st->admitting);
    assert_true(st->disk_free_bytes < st->disk_need_bytes);
    assert_int_equal(st->height >= 1, 1); /* reads go on */
    witan__response__free_unpacked(owner, NULL);
    static char answer[65536];
    assert_int_equal(nt_http(http_port, "GET", "/metrics", NULL, NULL, 0,
                             answer, sizeof answer),
                     200);
    assert_non_null(strstr(answer, "witan_disk_low 1"));
    assert_non_null(strstr(
        answer, "witan_transactions_refused_total{reason=\"nospace\"} 2"));

    /* Space returns: admitted again, by itself. */
    assert_int_equal(unlink(fill), 0);
    nt_sleep_ms(300);
    r = submit(&envs[1]);
    assert_null(r->submit->results[0]->error);
    witan__response__free_unpacked(r, NULL);
    wait_committed(hashes[1]);
    st = status(&owner);
    assert_true(st->admitting);
    witan__response__free_unpacked(owner, NULL);

    /* Restarted on a full disk: up and refusing, not crashing. */
    uint64_t before;
    assert_true(nt_status(addr, &before, NULL));
    fill_until(4u << 20);
    stop_node();
    start_node();
    assert_refused(&envs[2]);
    nt_sleep_ms(1000);
    assert_int_equal(kill(node, 0), 0);
    uint64_t h;
    assert_true(nt_status(addr, &h, NULL));
    assert_true(h >= before);
    assert_int_equal(unlink(fill), 0);
    nt_sleep_ms(300);
    r = submit(&envs[2]);
    assert_null(r->submit->results[0]->error);
    witan__response__free_unpacked(r, NULL);
    wait_committed(hashes[2]);
    stop_node();
    for (int i = 0; i < TX_COUNT; i++)
        free(envs[i].data);
}

static int setup(void **state)
{
    (void)state;
    snprintf(mnt, sizeof mnt, "%s/mnt", base);
    snprintf(home, sizeof home, "%s/home", mnt);
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    if (sh("mkdir -p %s", mnt) != 0)
        return -1;
    mounted = sh("mount -t tmpfs -o size=40m witan-disk-test %s 2>/dev/null",
                 mnt) == 0;
    if (!mounted) {
        printf("test_disk: cannot mount a tmpfs here (not root, or not "
               "allowed): skipped\n");
        return 0;
    }
    if (sh("%s/witan init --home %s --listen %s --chain-id disk-test "
           ">/dev/null && "
           "sed -i 's/^mempool_size_max_mb = .*/mempool_size_max_mb = 1/; "
           "s/^map_size_mb = .*/map_size_mb = 16/; "
           "s|^http_listen = .*|http_listen = http://127.0.0.1:%d|' "
           "%s/config && "
           "sed -i 's/\"block_size_max\": [0-9]*/\"block_size_max\": 65536/' "
           "%s/genesis.json",
           bin_dir, home, addr, http_port, home, home) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_node();
    if (mounted)
        sh("umount %s", mnt);
    sh("rm -rf %s", base);
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
    snprintf(base, sizeof base, "%s/witan-disk-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below 32768: listeners must not collide with ephemeral ports. */
    port = 12000 + (int)(getpid() % 500) * 4;
    http_port = port + 1;
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_refused_then_resumed),
    };
    return cmocka_run_group_tests_name("disk", tests, setup, teardown);
}
