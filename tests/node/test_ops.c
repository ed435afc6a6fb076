/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operating a validator, on a real witand (issue 16, section 4):
 *
 * - log_format = json: every line of the log is one JSON object, and each
 *   committed block has its line with height, transactions and view;
 * - SIGHUP re-reads log_level and log_format from the config: at warn the
 *   block lines stop, back at info in text they return as text;
 * - /metrics follows Prometheus's conventions, checked by a small parser
 *   of the text format: HELP and TYPE before each family, counters and
 *   only counters ending in _total, base units (no _ms), label values
 *   without spaces, histograms with le buckets, no series twice; and holds
 *   witan_build_info, process metrics, admissions and refusals by reason;
 * - /healthz and /readyz answer 200 on a running one-validator node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tests/node/nodetest.h"

static char bin_dir[1024];
static char base_dir[512];
static int port;
static pid_t live_node;

static void kill_live_node(void)
{
    if (live_node > 0)
        kill(live_node, SIGKILL);
}

/* --- the Prometheus text format, and the conventions -------------------------- */

#define FAMILY_MAX 128
#define SERIES_MAX 512
struct family {
    char name[96], type[16];
    bool help;
};
struct scrape {
    struct family f[FAMILY_MAX];
    size_t count;
    char series[SERIES_MAX][256];
    size_t series_count;
};

static struct family *family_of(struct scrape *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    return NULL;
}

static bool name_ok(const char *p, size_t n)
{
    if (n == 0 || !(p[0] == '_' || p[0] == ':' || (p[0] >= 'a' && p[0] <= 'z') ||
                    (p[0] >= 'A' && p[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(p[i] == '_' || p[i] == ':' || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9')))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Fails the test, naming the line, at the first breach. */
static void check_exposition(char *text, struct scrape *s)
{
    memset(s, 0, sizeof *s);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            char *name = line + 7, *sp = strchr(name, ' ');
            if (!sp || !name_ok(name, (size_t)(sp - name)))
                fail_msg("bad metadata line: %s", line);
            *sp = '\0';
            struct family *f = family_of(s, name);
            if (line[2] == 'H') {
                if (f)
                    fail_msg("%s: HELP twice or after TYPE", name);
                assert_true(s->count < FAMILY_MAX);
                f = &s->f[s->count++];
                snprintf(f->name, sizeof f->name, "%s", name);
                f->help = strlen(sp + 1) > 0;
                if (!f->help)
                    fail_msg("%s: empty HELP", name);
            } else {
                if (!f || f->type[0])
                    fail_msg("%s: TYPE without its HELP, or twice", name);
                snprintf(f->type, sizeof f->type, "%s", sp + 1);
                if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") &&
                    strcmp(f->type, "histogram") && strcmp(f->type, "summary"))
                    fail_msg("%s: type %s", name, f->type);
                /* Counters and only counters end in _total. */
                if ((strcmp(f->type, "counter") == 0) != ends_with(name, "_total"))
                    fail_msg("%s: a %s %s in _total", name, f->type,
                             ends_with(name, "_total") ? "ends" : "does not end");
                /* Base units: seconds and bytes, never ms, KB, MB. */
                if (strstr(name, "_ms") || strstr(name, "millisecond") ||
                    strstr(name, "_kb") || strstr(name, "_mb") ||
                    strstr(name, "_mib"))
                    fail_msg("%s: not in a base unit", name);
                if (strncmp(name, "witan_", 6) && strncmp(name, "process_", 8))
                    fail_msg("%s: neither witan_ nor process_", name);
            }
            continue;
        }
        if (line[0] == '#')
            fail_msg("unknown comment line: %s", line);
        /* A sample: name{labels} value */
        size_t n = strcspn(line, "{ ");
        if (!name_ok(line, n))
            fail_msg("bad metric name: %s", line);
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)n, line);
        struct family *f = family_of(s, name);
        bool bucket = false;
        if (!f) {
            static const char *const parts[] = {"_bucket", "_sum", "_count"};
            for (size_t i = 0; i < 3 && !f; i++)
                if (ends_with(name, parts[i])) {
                    char base[96];
                    snprintf(base, sizeof base, "%.*s",
                             (int)(strlen(name) - strlen(parts[i])), name);
                    f = family_of(s, base);
                    /* A summary has _sum and _count (no quantiles here). */
                    if (f && strcmp(f->type, "histogram") &&
                        (strcmp(f->type, "summary") || i == 0))
                        f = NULL;
                    bucket = i == 0;
                }
        }
        if (!f || !f->type[0])
            fail_msg("%s: a sample without HELP and TYPE before it", name);
        const char *p = line + n;
        bool has_le = false;
        if (*p == '{') {
            p++;
            while (*p != '}') {
                size_t k = strcspn(p, "=");
                if (!name_ok(p, k) || p[k] != '=' || p[k + 1] != '"')
                    fail_msg("bad label in: %s", line);
                has_le |= k == 2 && strncmp(p, "le", 2) == 0;
                p += k + 2;
                for (; *p && *p != '"'; p++) {
                    if (*p == ' ')
                        fail_msg("a label value with a space: %s", line);
                    if (*p == '\\')
                        p++;
                }
                if (*p != '"')
                    fail_msg("unterminated label value: %s", line);
                p++;
                if (*p == ',')
                    p++;
                else if (*p != '}')
                    fail_msg("bad label list: %s", line);
            }
            p++;
        }
        if (bucket && !has_le)
            fail_msg("a histogram bucket without le: %s", line);
        if (*p != ' ')
            fail_msg("no value: %s", line);
        char *end;
        double v = strtod(p + 1, &end);
        if (end == p + 1 || *end)
            fail_msg("bad value: %s", line);
        if (strcmp(f->type, "counter") == 0 && !(v >= 0))
            fail_msg("a negative counter: %s", line);
        size_t series_len = (size_t)(p - line);
        for (size_t i = 0; i < s->series_count; i++)
            if (strlen(s->series[i]) == series_len &&
                strncmp(s->series[i], line, series_len) == 0)
                fail_msg("a series twice: %s", line);
        assert_true(s->series_count < SERIES_MAX);
        snprintf(s->series[s->series_count++], sizeof s->series[0], "%.*s",
                 (int)series_len, line);
    }
}

/* The value of one series, or NAN. */
static double value_of(const char *page, const char *series)
{
    char key[300];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(page, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* --- the node ------------------------------------------------------------------- */

static void attest(const char *home, const char *time)
{
    char out[4096];
    int rc = nt_run(out, sizeof out,
                    "%s/witan attest --home %s --key %s/operator.key "
                    "--feed climate/co2/mauna-loa --subject mauna-loa "
                    "--unit ppm --time %s --value co2=420.5 --wait 2>&1",
                    bin_dir, home, home, time);
    if (rc != 0)
        fail_msg("attest failed: %s", out);
}

static int count_in_log(const char *log, const char *pattern)
{
    char out[64];
    if (nt_run(out, sizeof out, "grep -c -- '%s' %s", pattern, log) < 0)
        return -1;
    return atoi(out);
}

static void hup(pid_t pid, const char *home, const char *level,
                const char *format)
{
    char out[256];
    assert_int_equal(nt_run(out, sizeof out,
                            "sed -i 's/^log_level = .*/log_level = %s/; "
                            "s/^log_format = .*/log_format = %s/' %s/config",
                            level, format, home),
                     0);
    assert_int_equal(kill(pid, SIGHUP), 0);
    nt_sleep_ms(200);
}

static void test_logs_metrics_health(void **state)
{
    (void)state;
    char home[600], log[700], out[512];
    snprintf(home, sizeof home, "%s/node", base_dir);
    snprintf(log, sizeof log, "%s/node/log", base_dir);
    int http_port = port + 1;
    assert_int_equal(nt_run(out, sizeof out,
                            "%s/witan init --home %s --listen "
                            "tcp://127.0.0.1:%d >/dev/null && "
                            "sed -i 's|^http_listen = .*|http_listen = "
                            "http://127.0.0.1:%d|; s/^log_format = .*/"
                            "log_format = json/' %s/config",
                            bin_dir, home, port, http_port, home),
                     0);
    char exe[1100];
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    live_node = nt_spawn_witand(exe, home, log, NULL);
    assert_true(live_node > 0);
    static char page[1 << 17];
    int status = -1;
    for (int i = 0; i < 250 && status != 200; i++) {
        status = nt_http(http_port, "GET", "/healthz", NULL, NULL, 0, page,
                         sizeof page);
        if (status != 200)
            nt_sleep_ms(20);
    }
    assert_int_equal(status, 200);
    assert_non_null(strstr(page, "\r\n\r\nok\n"));
    assert_int_equal(nt_http(http_port, "GET", "/readyz", NULL, NULL, 0, page,
                             sizeof page),
                     200);

    /* One admitted and committed, one refused (the same again is "exist"
     * only while pooled; a wrong chain is refused outright). */
    attest(home, "2024-01");
    assert_true(nt_run(out, sizeof out,
                       "%s/witan attest --home %s --key %s/operator.key "
                       "--feed climate/co2/mauna-loa --subject mauna-loa "
                       "--unit ppm --time 2024-02 --value co2=420.5 --nonce 1 "
                       "2>&1",
                       bin_dir, home, home) != 0);

    /* Every line JSON, with its four members; the block's own line. */
    assert_int_equal(
        nt_run(out, sizeof out,
               "/usr/bin/python3 -c 'import json, sys\n"
               "for line in open(sys.argv[1]):\n"
               "    o = json.loads(line)\n"
               "    assert all(k in o for k in (\"time\", \"level\", "
               "\"component\", \"msg\")), line\n"
               "' %s 2>&1",
               log),
        0);
    assert_true(count_in_log(log, "\"msg\":\"block committed\",\"height\":1,"
                                  "\"txs\":1,\"ok\":1,\"block_time\":") == 1);
    assert_true(count_in_log(log, "\"view\":0,\"proposer\":0}") >= 1);
    /* Refusals: one summary line, the first at once (then at most one a
     * minute, NODE_REFUSAL_LOG_MS). */
    assert_true(count_in_log(log, "transactions refused since start: nonce 1") ==
                1);

    /* /metrics, to the conventions. */
    assert_int_equal(nt_http(http_port, "GET", "/metrics", NULL, NULL, 0, page,
                             sizeof page),
                     200);
    char *body = strstr(page, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    char *copy = strdup(body);
    static struct scrape s;
    check_exposition(copy, &s);
    free(copy);
    static const char *const families[] = {
        "witan_build_info", "witan_height", "witan_blocks_committed_total",
        "witan_view_changes_total", "witan_transactions_admitted_total",
        "witan_transactions_refused_total", "witan_mempool_transactions",
        "witan_mempool_bytes", "witan_map_used_bytes", "witan_map_max_bytes",
        "witan_commit_latency_seconds", "witan_ready",
        "witan_transaction_phase_seconds",
        "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_open_fds", "process_max_fds"};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(families); i++)
        if (!family_of(&s, families[i]))
            fail_msg("/metrics has no %s", families[i]);
    char build[256];
    snprintf(build, sizeof build,
             "witan_build_info{version=\"%s\",commit=\"%s\",protocol=\"%d\"}",
             witan_release(), witan_commit(), WITAN_PROTOCOL_VERSION);
    assert_true(value_of(body - 1, build) == 1);
    assert_true(value_of(body - 1, "witan_transactions_admitted_total") >= 1);
    assert_true(value_of(body - 1,
                         "witan_transactions_refused_total{reason=\"nonce\"}") >=
                1);
    assert_true(value_of(body - 1, "witan_blocks_committed_total") >= 1);
    /* The committed transaction was admitted here: its phases are counted
     * (the sum of the three is its admission-to-durable latency). */
    assert_true(value_of(body - 1, "witan_transaction_phase_seconds_count{"
                                   "phase=\"proposal_to_commit\"}") >= 1);
    assert_true(value_of(body - 1, "witan_transaction_phase_seconds_sum{"
                                   "phase=\"commit_to_durable\"}") > 0);
    assert_true(value_of(body - 1, "process_resident_memory_bytes") > 1e6);
    assert_true(value_of(body - 1, "process_open_fds") >= 3);
    assert_true(value_of(body - 1, "witan_map_used_bytes") > 0);

    /* SIGHUP: at warn, no block lines; back at info, in text. */
    hup(live_node, home, "warn", "json");
    int before = count_in_log(log, "block committed");
    attest(home, "2024-03");
    nt_sleep_ms(100);
    assert_int_equal(count_in_log(log, "block committed"), before);
    hup(live_node, home, "info", "text");
    assert_true(count_in_log(log, "INFO  node: SIGHUP: logging from config "
                                  "log_level=info log_format=text") == 1);
    attest(home, "2024-04");
    assert_true(count_in_log(log, "INFO  node: block committed height=") >= 1);
    /* A config that no longer parses changes nothing, and says so. */
    assert_int_equal(nt_run(out, sizeof out, "echo 'bogus = 1' >> %s/config",
                            home),
                     0);
    assert_int_equal(kill(live_node, SIGHUP), 0);
    nt_sleep_ms(200);
    assert_true(count_in_log(log, "SIGHUP: config not re-read") == 1);
    assert_int_equal(kill(live_node, SIGTERM), 0);
    int wstatus;
    assert_int_equal(waitpid(live_node, &wstatus, 0), live_node);
    live_node = 0;
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    /* build/tests/node/test_ops -> build/bin */
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(base_dir, sizeof base_dir, "%s/witan-ops-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(base_dir, 0700);
    port = 20000 + 2 * (int)(getpid() % 5000); /* below the ephemeral range */
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_live_node);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logs_metrics_health),
    };
    int rc = cmocka_run_group_tests_name("ops", tests, NULL, NULL);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
