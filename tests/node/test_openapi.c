/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec/openapi.yaml against the gateway, both ways, on a real witand
 * (issue 16):
 *
 * - every route of the gateway's own table (node_http_route, what the
 *   router matches) is a path of the document, with its method;
 * - every path and method of the document is in the table, and answers on
 *   a running one-validator node something other than the router's own
 *   404 ("no route") or 405: path parameters are filled with real values
 *   from the chain (block 1, a committed transaction) or plausible ones (a
 *   hash nobody registered: the route's own 404 "not found" is fine);
 * - metrics_listen: a second listener serving /metrics, /healthz and
 *   /readyz only, with the gateway off.
 *
 * The document is read with a line parser of its own layout (paths at two
 * spaces, methods at four), no YAML library.
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
#include <unistd.h>

#include "crypto/crypto.h"
#include "node/node.h"
#include "tests/node/nodetest.h"

#define DOC_ROUTE_COUNT_MAX 128
#define PAGE_SIZE (1 << 17)

static char bin_dir[1024];
static char src_dir[1100];
static char base_dir[512];
static int port;
static pid_t live_node;

static void kill_live_node(void)
{
    if (live_node > 0)
        kill(live_node, SIGKILL);
}

struct doc_route {
    char method[8]; /* "GET", "POST", ... */
    char path[256];
};

/* The paths and methods of spec/openapi.yaml: the number read. */
static size_t read_doc(struct doc_route *out, size_t max)
{
    char file[1200];
    snprintf(file, sizeof file, "%s/spec/openapi.yaml", src_dir);
    FILE *f = fopen(file, "r");
    if (!f)
        fail_msg("cannot open %s", file);
    char line[1024], path[256] = "";
    bool in_paths = false;
    size_t count = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != ' ' && line[0] != '#') {
            in_paths = strcmp(line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        size_t n = strlen(line);
        if (strncmp(line, "  /", 3) == 0 && line[n - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)(n - 3), line + 2);
            continue;
        }
        static const char *const methods[] = {"get", "post", "put", "delete",
                                              "patch", "head", "options"};
        for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
            char want[32];
            snprintf(want, sizeof want, "    %s:", methods[m]);
            if (strcmp(line, want) != 0)
                continue;
            assert_true(path[0]);
            assert_true(count < max);
            for (size_t k = 0; methods[m][k]; k++)
                out[count].method[k] = (char)(methods[m][k] - 'a' + 'A');
            snprintf(out[count].path, sizeof out[count].path, "%s", path);
            count++;
        }
    }
    fclose(f);
    return count;
}

static bool table_has(const char *method, const char *path)
{
    const char *m, *p;
    for (size_t i = 0; node_http_route(i, &m, &p) == 0; i++)
        if (strcmp(m, method) == 0 && strcmp(p, path) == 0)
            return true;
    return false;
}

static bool doc_has(const struct doc_route *doc, size_t count,
                    const char *method, const char *path)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(doc[i].method, method) == 0 &&
            strcmp(doc[i].path, path) == 0)
            return true;
    return false;
}

/* The route table and the document name the same routes. */
static void test_table_matches_document(void **state)
{
    (void)state;
    static struct doc_route doc[DOC_ROUTE_COUNT_MAX];
    size_t count = read_doc(doc, DOC_ROUTE_COUNT_MAX);
    assert_true(count > 20);
    const char *m, *p;
    size_t routes = 0;
    for (; node_http_route(routes, &m, &p) == 0; routes++)
        if (!doc_has(doc, count, m, p))
            fail_msg("the gateway serves %s %s; spec/openapi.yaml does not "
                     "document it",
                     m, p);
    assert_int_equal(node_http_route(routes, &m, &p), WITAN_ENOTFOUND);
    for (size_t i = 0; i < count; i++)
        if (!table_has(doc[i].method, doc[i].path))
            fail_msg("spec/openapi.yaml documents %s %s; the gateway's "
                     "route table does not have it",
                     doc[i].method, doc[i].path);
}

/* `path` with each {parameter} replaced by a value for it. */
static void fill(const char *path, const char *tx_hash, char *out,
                 size_t size)
{
    static const char zeros[] = "000000000000000000000000000000000000000000"
                                "0000000000000000000000000000000000000000000"
                                "000";
    size_t o = 0;
    for (const char *s = path; *s && o + 1 < size;) {
        if (*s != '{') {
            out[o++] = *s++;
            continue;
        }
        const char *close = strchr(s, '}');
        assert_non_null(close);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(close - s - 1), s + 1);
        const char *v = NULL;
        if (strcmp(name, "height") == 0 || strcmp(name, "size") == 0)
            v = "1";
        else if (strcmp(name, "hash") == 0)
            v = strstr(path, "/v1/models/") ? zeros + 24 : tx_hash;
        else if (strcmp(name, "address") == 0)
            v = zeros + 48;                  /* 40 digits */
        else if (strcmp(name, "kind") == 0)
            v = "attestations";
        else if (strcmp(name, "key") == 0)
            v = "00";
        else if (strcmp(name, "id") == 0)
            v = strstr(path, "/v1/proposals/") ? "1"
                : strstr(path, "decisions/") ? zeros  /* 88 digits */
                                             : zeros + 24;
        else
            fail_msg("no value for {%s} in %s", name, path);
        o += (size_t)snprintf(out + o, size - o, "%s", v);
        s = close + 1;
    }
    out[o < size ? o : size - 1] = '\0';
}

static int http_port(void) { return port + 1; }
static int metrics_port(void) { return port + 2; }

static int wait_status(int at, const char *path, int want, char *page)
{
    int status = -1;
    for (int i = 0; i < 500 && status != want; i++) {
        status = nt_http(at, "GET", path, NULL, NULL, 0, page, PAGE_SIZE);
        if (status != want)
            nt_sleep_ms(20);
    }
    return status;
}

static void start_node(const char *home, bool gateway)
{
    char out[4096], log[700], exe[1100];
    assert_int_equal(
        nt_run(out, sizeof out,
               "rm -rf %s && %s/witan init --home %s --listen "
               "tcp://127.0.0.1:%d >/dev/null && "
               "sed -i 's|^http_listen = .*|http_listen = %s%d|; "
               "s|^metrics_listen = .*|metrics_listen = "
               "http://127.0.0.1:%d|' %s/config && grep -q '^metrics_listen = "
               "http' %s/config",
               home, bin_dir, home, port,
               gateway ? "http://127.0.0.1:" : "", gateway ? http_port() : 0,
               metrics_port(), home, home),
        0);
    if (!gateway)
        assert_int_equal(nt_run(out, sizeof out,
                                "sed -i 's|^http_listen = .*|http_listen = "
                                "|' %s/config",
                                home),
                         0);
    snprintf(log, sizeof log, "%s/log", home);
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    live_node = nt_spawn_witand(exe, home, log, NULL);
    assert_true(live_node > 0);
}

static void stop_node(void)
{
    kill(live_node, SIGTERM);
    int wstatus;
    waitpid(live_node, &wstatus, 0);
    live_node = 0;
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

/* Every documented route answers on a real node. */
static void test_documented_routes_answer(void **state)
{
    (void)state;
    static struct doc_route doc[DOC_ROUTE_COUNT_MAX];
    size_t count = read_doc(doc, DOC_ROUTE_COUNT_MAX);
    char home[600], out[4096];
    snprintf(home, sizeof home, "%s/node", base_dir);
    start_node(home, true);
    static char page[PAGE_SIZE];
    assert_int_equal(wait_status(http_port(), "/v1/status", 200, page), 200);
    int rc = nt_run(out, sizeof out,
                    "%s/witan attest --home %s --key %s/operator.key "
                    "--feed climate/co2/mauna-loa --subject mauna-loa "
                    "--unit ppm --time 2024-01 --value co2=420.5 --wait 2>&1",
                    bin_dir, home, home);
    if (rc != 0)
        fail_msg("attest failed: %s", out);
    char tx_hash[65];
    assert_int_equal(sscanf(out, "%64[0-9a-f]", tx_hash), 1);

    for (size_t i = 0; i < count; i++) {
        char path[512];
        fill(doc[i].path, tx_hash, path, sizeof path);
        int status;
        if (strcmp(doc[i].method, "POST") == 0)
            status = nt_http(http_port(), "POST", path, "application/json",
                             "{}", 2, page, PAGE_SIZE);
        else
            status = nt_http(http_port(), doc[i].method, path, NULL, NULL,
                             0, page, PAGE_SIZE);
        print_message("%s %s: %d\n", doc[i].method, path, status);
        if (status < 0 || status == 405 || status >= 500 ||
            (status == 404 && strstr(page, "no route")))
            fail_msg("%s %s (documented as %s) answers %d: %s",
                     doc[i].method, path, doc[i].path, status, page);
    }
    /* And the router's own 404 is what the check above tells apart. */
    assert_int_equal(nt_http(http_port(), "GET", "/v1/nothing", NULL, NULL,
                             0, page, PAGE_SIZE),
                     404);
    assert_non_null(strstr(page, "no route"));
    stop_node();
}

/* metrics_listen alone (the gateway off): /metrics, /healthz and /readyz,
 * nothing else. */
static void test_metrics_listener(void **state)
{
    (void)state;
    char home[600];
    snprintf(home, sizeof home, "%s/ops", base_dir);
    start_node(home, false);
    static char page[PAGE_SIZE];
    assert_int_equal(wait_status(metrics_port(), "/healthz", 200, page), 200);
    assert_int_equal(nt_http(metrics_port(), "GET", "/metrics", NULL, NULL, 0,
                             page, PAGE_SIZE),
                     200);
    assert_non_null(strstr(page, "witan_height"));
    assert_int_equal(nt_http(metrics_port(), "GET", "/readyz", NULL, NULL, 0,
                             page, PAGE_SIZE),
                     200);
    assert_int_equal(nt_http(metrics_port(), "GET", "/v1/status", NULL, NULL,
                             0, page, PAGE_SIZE),
                     404);
    assert_non_null(strstr(page, "no route"));
    assert_int_equal(nt_http(metrics_port(), "POST", "/v1/tx",
                             "application/json", "{}", 2, page, PAGE_SIZE),
                     404);
    assert_int_equal(nt_http(metrics_port(), "POST", "/metrics",
                             "application/json", "{}", 2, page, PAGE_SIZE),
                     405);
    /* No gateway: nothing on its port. */
    assert_int_equal(nt_http(http_port(), "GET", "/metrics", NULL, NULL, 0,
                             page, PAGE_SIZE),
                     -1);
    stop_node();
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    /* build/tests/node/test_openapi -> build/bin, and the sources: the
     * working directory (make runs tests from the project root), else
     * three levels up from the program. */
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    if (access("spec/openapi.yaml", R_OK) == 0)
        snprintf(src_dir, sizeof src_dir, ".");
    else
        snprintf(src_dir, sizeof src_dir, "%s/../..", bin_dir);
    snprintf(base_dir, sizeof base_dir, "%s/witan-openapi-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(base_dir, 0700);
    /* Three ports from the pid, in a range the other node tests leave
     * alone, below the kernel's ephemeral ports. */
    port = 15000 + (int)(getpid() % 490) * 10;
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_live_node);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_document),
        cmocka_unit_test(test_documented_routes_answer),
        cmocka_unit_test(test_metrics_listener),
    };
    int rc = cmocka_run_group_tests_name("openapi", tests, NULL, NULL);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
