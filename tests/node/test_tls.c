/*
 * TLS between validators: a four-node testnet made with --tls commits over
 * tls+tcp; a node whose certificate comes from another CA is refused by its
 * peers (and refuses theirs), so it learns nothing while the other three,
 * a quorum, go on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

static char bin_dir[600], dir[300];
static int base_port;

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static bool height_of(int node, uint64_t *h)
{
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", base_port + 10 * node);
    return nt_status(addr, h, NULL);
}

static void test_tls_testnet_and_foreign_certificate(void **state)
{
    (void)state;
    assert_int_equal(sh("%s/witan testnet init --validators 4 --dir %s/net "
                        "--base-port %d --tls >/dev/null && "
                        "%s/witan testnet init --validators 1 --dir %s/other "
                        "--base-port %d --tls >/dev/null",
                        bin_dir, dir, base_port, bin_dir, dir, base_port + 100),
                     0);
    /* node3 gets a certificate of a CA nobody else trusts. */
    assert_int_equal(sh("cp %s/other/node0/tls-cert.pem %s/net/node3/ && "
                        "cp %s/other/node0/tls-key.pem %s/net/node3/ && "
                        "%s/witan testnet start %s/net >/dev/null",
                        dir, dir, dir, dir, bin_dir, dir),
                     0);
    uint64_t h;
    for (int i = 0; i < 4; i++) {
        int k = 0;
        while (!height_of(i, &h) && k++ < 300)
            usleep(20000);
        assert_true(k < 300);
    }
    assert_int_equal(sh("%s/witan attest --node tcp://127.0.0.1:%d --key "
                        "%s/net/operator.key --feed climate/test --subject s "
                        "--time 2024-01 --value v=1 --wait >/dev/null",
                        bin_dir, base_port, dir),
                     0);
    uint64_t h0 = 0, h3 = 0;
    assert_true(height_of(0, &h0));
    assert_true(h0 >= 2);
    for (int i = 1; i < 3; i++) {
        for (int k = 0; k < 200 && height_of(i, &h) && h < h0; k++)
            usleep(20000);
        assert_true(height_of(i, &h) && h >= h0);
    }
    sleep(1);
    assert_true(height_of(3, &h3));
    assert_int_equal(h3, 0); /* refused by every peer: learnt nothing */
    sh("%s/witan testnet stop %s/net >/dev/null", bin_dir, dir);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[500];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(dir, sizeof dir, "%s/witan-tls-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    sh("mkdir -p %s", dir);
    base_port = 26000 + (int)(getpid() % 300) * 20; /* below ephemeral ports */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_testnet_and_foreign_certificate),
    };
    int rc = cmocka_run_group_tests_name("tls", tests, NULL, NULL);
    if (rc == 0)
        sh("rm -rf %s", dir);
    else
        sh("%s/witan testnet stop %s/net >/dev/null 2>&1", bin_dir, dir);
    return rc;
}
