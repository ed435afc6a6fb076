/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS between validators and towards clients: a four-node testnet made with
 * --tls commits over tls+tcp; a node whose certificate comes from another
 * CA is refused by its peers (and refuses theirs), so it learns nothing
 * while the other three, a quorum, go on. Its client API is tls+tcp://, as
 * is its stream API, and its HTTP gateway https://: a client holding the
 * testnet CA submits and queries; one trusting another CA is refused with
 * a clear error (on the stream API: no stream, no answer), and so is a
 * plain tcp:// client.
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

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include "cli/cli.h"
#include "node/node.h"
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

/* node3 serves clients with the foreign certificate too: its clients
 * trust the other CA. */
static bool height_of(int node, uint64_t *h)
{
    char addr[64], ca[400];
    snprintf(ca, sizeof ca, "%s/%s/tls-ca.pem", dir, node == 3 ? "other" : "net");
    cli_client_tls(ca, NULL);
    snprintf(addr, sizeof addr, "tls+tcp://127.0.0.1:%d",
             base_port + 10 * node);
    return nt_status(addr, h, NULL);
}

static void test_tls_testnet_and_foreign_certificate(void **state)
{
    (void)state;
    assert_int_equal(sh("%s/witan testnet init --validators 4 --dir %s/net "
                        "--base-port %d --tls >/dev/null && "
                        "%s/witan testnet init --validators 1 --dir %s/other "
                        "--base-port %d --tls --allow-no-fault-tolerance "
                        ">/dev/null",
                        bin_dir, dir, base_port, bin_dir, dir, base_port + 100),
                     0);
    /* node3 gets a certificate of a CA nobody else trusts; node0 serves
     * HTTPS too. */
    assert_int_equal(sh("cp %s/other/node0/tls-cert.pem %s/net/node3/ && "
                        "cp %s/other/node0/tls-key.pem %s/net/node3/ && "
                        "sed -i 's|^http_listen = .*|http_listen = "
                        "https://127.0.0.1:%d|' %s/net/node0/config && "
                        "echo 'stream_listen = tls+tcp://127.0.0.1:%d' >> "
                        "%s/net/node0/config && "
                        "%s/witan testnet start %s/net >/dev/null",
                        dir, dir, dir, dir, base_port + 5, dir,
                        base_port + 6, dir, bin_dir, dir),
                     0);
    char ca[400];
    snprintf(ca, sizeof ca, "%s/net/tls-ca.pem", dir);
    uint64_t h;
    for (int i = 0; i < 4; i++) {
        int k = 0;
        while (!height_of(i, &h) && k++ < 300)
            usleep(20000);
        assert_true(k < 300);
    }
    /* A client holding the CA submits and waits; one reading it from a
     * home also checks the node's name. */
    assert_int_equal(sh("%s/witan attest --node tls+tcp://127.0.0.1:%d "
                        "--tls-ca %s --key %s/net/operator.key --feed "
                        "climate/test --subject s --time 2024-01 --value v=1 "
                        "--wait >/dev/null",
                        bin_dir, base_port, ca, dir),
                     0);
    assert_int_equal(sh("%s/witan query status --home %s/net/node1 "
                        ">/dev/null && %s/witan testnet status %s/net "
                        "| grep -q 'node0  height'",
                        bin_dir, dir, bin_dir, dir),
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

/* GET /v1/status over HTTPS verifying the node against `ca_path` and the
 * name validator-0: the HTTP status, or -1 when the TLS handshake fails. */
static int https_status(int port, const char *ca_path, char *body,
                        size_t body_size)
{
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/status", port);
    nng_url *u = NULL;
    nng_http_client *c = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    nng_tls_config *tls = NULL;
    int status = -1;
    assert_int_equal(nng_url_parse(&u, url), 0);
    assert_int_equal(nng_http_client_alloc(&c, u), 0);
    assert_int_equal(nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT), 0);
    assert_int_equal(nng_tls_config_ca_file(tls, ca_path), 0);
    assert_int_equal(nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED),
                     0);
    assert_int_equal(nng_tls_config_server_name(tls, "validator-0"), 0);
    assert_int_equal(nng_http_client_set_tls(c, tls), 0);
    assert_int_equal(nng_http_req_alloc(&req, u), 0);
    assert_int_equal(nng_http_res_alloc(&res), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, 10000);
    nng_http_client_transact(c, req, res, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) == 0) {
        status = nng_http_res_get_status(res);
        void *data;
        size_t size;
        nng_http_res_get_data(res, &data, &size);
        snprintf(body, body_size, "%.*s", (int)size, (const char *)data);
    }
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_tls_config_free(tls);
    nng_http_client_free(c);
    nng_url_free(u);
    return status;
}

/* A stream API client over TLS to node 0, trusting `ca` and expecting
 * the name validator-0. */
static struct node_links *tls_stream(const char *ca)
{
    nng_tls_config *cfg;
    assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
    assert_int_equal(nng_tls_config_ca_file(cfg, ca), 0);
    assert_int_equal(
        nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED), 0);
    assert_int_equal(nng_tls_config_server_name(cfg, "validator-0"), 0);
    struct node_links_config c;
    memset(&c, 0, sizeof c);
    c.frame_size_max = 8 + (size_t)NODE_FRAME_SIZE_MAX;
    c.in_queue_count = c.out_queue_count = 16;
    c.in_queue_size = c.out_queue_size = c.frame_size_max;
    struct node_links *k;
    assert_int_equal(node_links_open(&c, &k), 0);
    char url[64];
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", base_port + 6);
    assert_int_equal(node_links_dial(k, 0, url, cfg), 0);
    nng_tls_config_free(cfg); /* the dialer holds its own */
    return k;
}

static void test_tls_client_api(void **state)
{
    (void)state;
    /* The testnet of the first test, restarted. */
    assert_int_equal(sh("%s/witan testnet start %s/net >/dev/null", bin_dir,
                        dir),
                     0);
    char ca[400], other_ca[400], addr[64], plain[64];
    snprintf(ca, sizeof ca, "%s/net/tls-ca.pem", dir);
    snprintf(other_ca, sizeof other_ca, "%s/other/tls-ca.pem", dir);
    snprintf(addr, sizeof addr, "tls+tcp://127.0.0.1:%d", base_port);
    snprintf(plain, sizeof plain, "tcp://127.0.0.1:%d", base_port);
    cli_client_tls(ca, "validator-0");
    uint64_t h = 0;
    int k = 0;
    while (!nt_status(addr, &h, NULL) && k++ < 300)
        usleep(20000);
    assert_true(k < 300);
    assert_true(h >= 2); /* what the first test committed, kept */

    /* Trusting another CA, or expecting another name: refused, saying
     * so. */
    cli_client_tls(other_ca, NULL);
    assert_false(nt_status(addr, &h, NULL));
    cli_client_tls(ca, "validator-1");
    assert_false(nt_status(addr, &h, NULL));
    assert_int_equal(sh("%s/witan query status --node %s --tls-ca %s "
                        "2>%s/err >/dev/null",
                        bin_dir, addr, other_ca, dir),
                     1 << 8);
    assert_int_equal(sh("grep -q 'not trusted' %s/err", dir), 0);
    /* No CA at all: a usage-like error naming --tls-ca. */
    assert_int_equal(sh("%s/witan query status --node %s 2>%s/err "
                        ">/dev/null; grep -q -- '--tls-ca' %s/err",
                        bin_dir, addr, dir, dir),
                     0);
    /* Plain tcp:// to the TLS listener fails, and promptly. */
    time_t t0 = time(NULL);
    assert_false(nt_status(plain, &h, NULL));
    assert_true(time(NULL) - t0 < 5);

    /* The stream API over TLS: answered for the testnet CA; a client
     * trusting another CA never gets a stream up, nor an answer. */
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    struct node_links *good = tls_stream(ca), *bad = tls_stream(other_ca);
    assert_int_equal(nt_stream_queue(good, 7, &req), 0);
    assert_int_equal(nt_stream_queue(bad, 8, &req), 0);
    node_links_flush(good);
    node_links_flush(bad);
    uint64_t id;
    Witan__Response *r = nt_stream_answer(good, 10000, &id);
    assert_non_null(r);
    assert_int_equal(id, 7);
    assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_STATUS);
    assert_string_equal(r->status->chain_id, "witan-testnet");
    witan__response__free_unpacked(r, NULL);
    assert_null(nt_stream_answer(bad, 1500, &id));
    assert_false(node_links_up(bad, 0));
    node_links_close(good);
    node_links_close(bad);

    /* HTTPS: the node's certificate verifies against the testnet CA only. */
    char body[2048] = "";
    k = 0;
    int status;
    while ((status = https_status(base_port + 5, ca, body, sizeof body)) < 0 &&
           k++ < 100)
        usleep(20000);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"chain_id\":\"witan-testnet\""));
    assert_int_equal(https_status(base_port + 5, other_ca, body, sizeof body),
                     -1);
    cli_client_tls(NULL, NULL);
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
        cmocka_unit_test(test_tls_client_api),
    };
    int rc = cmocka_run_group_tests_name("tls", tests, NULL, NULL);
    if (rc == 0)
        sh("rm -rf %s", dir);
    else
        sh("%s/witan testnet stop %s/net >/dev/null 2>&1", bin_dir, dir);
    return rc;
}
