/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export for analysts on four real witand processes (`witan testnet`),
 * driven through the witan command and node 0's HTTP gateway:
 *
 * - a model with a target and a contract are put on chain, then five
 *   observations, one of them corrected by a second revision;
 * - `witan export attestations` as CSV: the header row, one row per
 *   value, the decimal as signed ("414.50"), ISO 8601 times, the
 *   transaction hashes `witan attest` printed, the correction as revision 1
 *   naming the transaction it corrects; pages of 2 records crossed;
 * - the same as JSONL; --from/--to keep only the observations between;
 * - GET /v1/export/{kind} followed page by page through
 *   Witan-Next-Cursor gives, concatenated, the very bytes the CLI wrote,
 *   for all four kinds;
 * - predictions name their model and their inputs' attestations,
 *   decisions their contract, prediction and trigger transaction,
 *   scorecards their model;
 * - errors name what was wrong; `witan export chain` writes the archive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define OBS_COUNT 5
#define OUT_SIZE (256 * 1024)

static char bin_dir[1000];
static char root[1100];
static char dir[600];
static int base_port, http_port;

static void addr_of(int i, char *out, size_t size)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", base_port + 10 * i);
}

/* A shell command: its exit status, its output in out (OUT_SIZE). */
#define run(out, ...) nt_run(out, OUT_SIZE, __VA_ARGS__)

/* `witan ARGS --node <node>`, stdout and stderr in out; the exit status
 * must be `status`. */
static void expect(int status, int node, char *out, const char *args)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    int rc = run(out, "%s/witan %s --node %s 2>&1", bin_dir, args, addr);
    if (rc != status)
        fail_msg("witan %s (node %d): exit %d, not %d:\n%s", args, node, rc,
                 status, out);
}

/* The same with stdout alone (an export's bytes). */
static void export_out(int node, char *out, const char *args)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    int rc = run(out, "%s/witan export %s --node %s 2>%s/export.err", bin_dir,
                 args, addr, dir);
    if (rc != 0) {
        char err[OUT_SIZE];
        run(err, "cat %s/export.err", dir);
        fail_msg("witan export %s: exit %d: %s", args, rc, err);
    }
}

static void hash_after(const char *text, const char *after, char hex[65])
{
    const char *p = strstr(text, after);
    uint8_t h[32];
    hex[0] = '\0';
    if (p)
        snprintf(hex, 65, "%s", p + strlen(after));
    if (strlen(hex) != 64 || witan_hex_decode(hex, h, 32))
        fail_msg("no hash after '%s' in: %s", after, text);
}

/* The hash `witan attest --wait` printed: "HASH committed at ...", after
 * any line about signing again. */
static void committed_hash(const char *text, char hex[65])
{
    const char *p = strstr(text, " committed at height");
    uint8_t h[32];
    hex[0] = '\0';
    if (p && p - text >= 64)
        snprintf(hex, 65, "%.64s", p - 64);
    if (strlen(hex) != 64 || witan_hex_decode(hex, h, 32))
        fail_msg("no committed hash in: %s", text);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static size_t count_of(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* GET /v1/export/KIND?QUERY page after page (limit 2), following
 * Witan-Next-Cursor; the bodies concatenated into out. Returns pages. */
static int http_export(const char *kind, const char *query, char *out)
{
    static char answer[OUT_SIZE];
    char cursor[1100] = "", path[2048];
    size_t len = 0;
    int pages = 0;
    out[0] = '\0';
    do {
        snprintf(path, sizeof path, "/v1/export/%s?limit=2&%s%s%s", kind,
                 query, cursor[0] ? "&cursor=" : "", cursor);
        int status = nt_http(http_port, "GET", path, NULL, NULL, 0, answer,
                             sizeof answer);
        if (status != 200)
            fail_msg("GET %s: %d\n%s", path, status, answer);
        const char *body = strstr(answer, "\r\n\r\n");
        assert_non_null(body);
        const char *next = strstr(answer, "Witan-Next-Cursor: ");
        cursor[0] = '\0';
        if (next && next < body)
            sscanf(next + strlen("Witan-Next-Cursor: "), "%1099[0-9a-f]",
                   cursor);
        size_t n = strlen(body + 4);
        assert_true(len + n < OUT_SIZE);
        memcpy(out + len, body + 4, n + 1);
        len += n;
        pages++;
        assert_true(pages < 100);
    } while (cursor[0]);
    return pages;
}

static int setup(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    assert_int_equal(run(out, "%s/witan testnet init --validators %d --dir %s "
                              "--base-port %d --chain-id export-test 2>&1 && "
                              "sed -i '/^http_listen/d' %s/node0/config && "
                              "echo 'http_listen = http://127.0.0.1:%d' >> "
                              "%s/node0/config && "
                              "%s/witan testnet start %s 2>&1",
                         bin_dir, NODES, dir, base_port, dir, http_port, dir,
                         bin_dir, dir),
                     0);
    for (int i = 0; i < NODES; i++) {
        char addr[64];
        uint64_t h;
        int k = 0;
        addr_of(i, addr, sizeof addr);
        while (!nt_status(addr, &h, NULL) && k++ < 300)
            nt_sleep_ms(20);
        assert_true(k < 300);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    run(out, "%s/witan testnet stop %s", bin_dir, dir);
    return 0;
}

/* Node 0 holds `hash` committed (exports ask node 0 and its gateway). */
static void committed_on_0(const char *hex)
{
    char addr[64];
    uint8_t h[32];
    assert_int_equal(witan_hex_decode(hex, h, 32), 0);
    addr_of(0, addr, sizeof addr);
    for (int k = 0; k < 600; k++) {
        if (nt_tx_state(addr, h, NULL) == WITAN__TX_STATE__TX_STATE_COMMITTED)
            return;
        nt_sleep_ms(50);
    }
    fail_msg("node 0 did not commit %s", hex);
}

static void test_export(void **state)
{
    (void)state;
    static char out[OUT_SIZE], csv[OUT_SIZE], jsonl[OUT_SIZE],
        web[OUT_SIZE];
    char args[4096], key[700], model[65], warm[65], tx[OBS_COUNT + 1][65];
    snprintf(key, sizeof key, "--key %s/operator.key", dir);

    snprintf(args, sizeof args,
             "model register %s/tests/fixtures/models/linreg_temp.bin %s "
             "--name temp --input feed=climate/co2/mauna-loa,subject=mauna-"
             "loa,value=co2 --input feed=climate/co2/mauna-loa,subject="
             "mauna-loa,year --trigger climate/co2/mauna-loa:mauna-loa "
             "--target feed=climate/co2/mauna-loa,value=co2 --wait",
             root, key);
    expect(0, 0, out, args);
    hash_after(out, "model ", model);
    snprintf(args, sizeof args,
             "contract deploy %s --name warm --version 1 --asm "
             "%s/tests/fixtures/contracts/warm.wvs --gas 100000 --model %s "
             "--above 0:0.5",
             key, root, model);
    expect(0, 0, out, args);
    hash_after(out, "contract ", warm);

    /* Five observations, a value with a trailing zero among them; then
     * the second corrected. */
    static const char *const when[OBS_COUNT] = {"2020-01", "2020-02",
                                                "2020-03", "2020-04",
                                                "2020-05"};
    static const char *const co2[OBS_COUNT] = {"414.50", "415.1", "416.25",
                                               "417", "418.75"};
    for (int i = 0; i < OBS_COUNT; i++) {
        snprintf(args, sizeof args,
                 "attest %s --feed climate/co2/mauna-loa --subject mauna-loa "
                 "--time %s --value co2=%s --unit ppm --wait",
                 key, when[i], co2[i]);
        expect(0, i % NODES, out, args);
        committed_hash(out, tx[i]);
    }
    snprintf(args, sizeof args,
             "attest %s --feed climate/co2/mauna-loa --subject mauna-loa "
             "--time 2020-02 --value co2=415.20 --unit ppm --corrects %s "
             "--wait",
             key, tx[1]);
    expect(0, 1, out, args);
    committed_hash(out, tx[OBS_COUNT]);
    committed_on_0(tx[OBS_COUNT]);

    /* CSV, two records a page. */
    export_out(0, csv, "attestations --feed climate/co2/mauna-loa --subject "
                       "mauna-loa --page-size 2");
    const char *header = "feed,subject,observed_at,name,value,unit,provider,"
                         "revision,corrects,superseded_by,document_hash,"
                         "tx_hash,height\r\n";
    assert_int_equal(strncmp(csv, header, strlen(header)), 0);
    assert_int_equal(count_lines(csv), 1 + OBS_COUNT);
    assert_int_equal(count_of(csv, "\r\n"), 1 + OBS_COUNT);
    char row[512];
    snprintf(row, sizeof row,
             "climate/co2/mauna-loa,mauna-loa,2020-01-01T00:00:00.000Z,co2,"
             "414.50,ppm,");
    assert_non_null(strstr(csv, row));
    assert_non_null(strstr(csv, "2020-05-01T00:00:00.000Z,co2,418.75,ppm,"));
    assert_non_null(strstr(csv, ",co2,417,ppm,"));
    for (int i = 0; i < OBS_COUNT; i++)
        if (i != 1 && !strstr(csv, tx[i]))
            fail_msg("tx %s missing from:\n%s", tx[i], csv);
    /* The latest revision only, linked to the one it corrects. */
    snprintf(row, sizeof row, "2020-02-01T00:00:00.000Z,co2,415.20,ppm,");
    assert_non_null(strstr(csv, row));
    assert_null(strstr(csv, "415.1,"));
    snprintf(row, sizeof row, ",1,%s,,,%s,", tx[1], tx[OBS_COUNT]);
    if (!strstr(csv, row))
        fail_msg("no correction row ...%s... in:\n%s", row, csv);

    /* Over HTTP, page by page: the same bytes. */
    int pages = http_export("attestations", "feed=climate/co2/mauna-loa&"
                                            "subject=mauna-loa", web);
    assert_true(pages >= 3);
    assert_string_equal(web, csv);

    /* JSONL: one object a line, the same cells. */
    export_out(0, jsonl, "attestations --feed climate/co2/mauna-loa "
                         "--subject mauna-loa --format jsonl --page-size 2");
    assert_int_equal(count_lines(jsonl), OBS_COUNT);
    assert_int_equal(count_of(jsonl, "{\"feed\":\"climate/co2/mauna-loa\""),
                     OBS_COUNT);
    assert_non_null(strstr(jsonl, "\"observed_at\":\"2020-01-01T00:00:00."
                                  "000Z\",\"name\":\"co2\",\"value\":"
                                  "\"414.50\""));
    snprintf(row, sizeof row, "\"tx_hash\":\"%s\"", tx[OBS_COUNT]);
    assert_non_null(strstr(jsonl, row));
    http_export("attestations", "feed=climate/co2/mauna-loa&subject=mauna-"
                                "loa&format=jsonl", web);
    assert_string_equal(web, jsonl);

    /* --from/--to: the observations between, both ends included. */
    export_out(0, out, "attestations --feed climate/co2/mauna-loa --subject "
                       "mauna-loa --from 2020-02-01T00:00:00.000Z --to "
                       "2020-04 --page-size 1");
    assert_int_equal(count_lines(out), 1 + 3);
    assert_null(strstr(out, "2020-01-01T"));
    assert_null(strstr(out, "2020-05-01T"));
    assert_non_null(strstr(out, "2020-04-01T00:00:00.000Z"));

    /* Predictions: one per observation and revision, each naming its
     * model and its inputs' attestations; the CLI and HTTP agree. */
    snprintf(args, sizeof args, "predictions --model %s --page-size 2",
             model);
    export_out(0, csv, args);
    assert_int_equal(strncmp(csv, "model_hash,model_name,model_tx,subject,"
                                  "height,time,status,problem,outputs,",
                             60),
                     0);
    if (count_lines(csv) != 1 + OBS_COUNT + 1)
        fail_msg("not %d predictions:\n%s", OBS_COUNT + 1, csv);
    assert_int_equal(count_of(csv, model), OBS_COUNT + 1);
    assert_int_equal(count_of(csv, "PREDICTION_OK"), OBS_COUNT + 1);
    for (int i = 0; i <= OBS_COUNT; i++)
        if (!strstr(csv, tx[i]))
            fail_msg("prediction input or trigger %s missing:\n%s", tx[i],
                     csv);
    snprintf(args, sizeof args, "model=%s", model);
    http_export("predictions", args, web);
    assert_string_equal(web, csv);
    /* Every model (one here) is the same export. */
    export_out(0, out, "predictions --page-size 1");
    assert_string_equal(out, csv);

    /* Decisions: contract, prediction and trigger transaction. */
    export_out(0, csv, "decisions --page-size 1");
    size_t decisions = count_lines(csv) - 1;
    assert_true(decisions >= 1);
    /* The contract in the id (contract ‖ height ‖ sequence) and its own
     * column; the model in the prediction's key and its own column. */
    assert_int_equal(count_of(csv, warm), 2 * decisions);
    /* contract_name, contract_version, kind */
    assert_int_equal(count_of(csv, ",warm,1,warm,"), decisions);
    assert_int_equal(count_of(csv, model), 2 * decisions);
    bool trigger = false;
    for (int i = 0; i <= OBS_COUNT; i++)
        trigger |= strstr(csv, tx[i]) != NULL;
    assert_true(trigger);
    http_export("decisions", "", web);
    assert_string_equal(web, csv);

    /* Scorecards: the model with a target, its sums as decimals. */
    export_out(0, csv, "scorecards --format jsonl");
    assert_int_equal(count_lines(csv), 1);
    snprintf(row, sizeof row, "{\"model_hash\":\"%s\",\"model_name\":"
                              "\"temp\"", model);
    assert_non_null(strstr(csv, row));
    http_export("scorecards", "format=jsonl", web);
    assert_string_equal(web, csv);

    /* Errors say what was wrong. */
    expect(2, 0, out, "export widgets");
    assert_non_null(strstr(out, "unknown kind 'widgets'"));
    expect(2, 0, out, "export attestations --feed f --subject s --format "
                      "xml");
    assert_non_null(strstr(out, "--format is csv or jsonl, not 'xml'"));
    expect(2, 0, out, "export decisions --from yesterday");
    assert_non_null(strstr(out, "--from 'yesterday' is invalid"));
    expect(2, 0, out, "export decisions --colour red");
    assert_non_null(strstr(out, "unknown option '--colour'"));
    expect(2, 0, out, "export predictions --feed climate/co2/mauna-loa");
    assert_non_null(strstr(out, "--feed applies to attestations only"));
    expect(0, 0, out, "export --help");
    assert_non_null(strstr(out, "usage: witan export KIND [--format "
                                "csv|jsonl]"));
    assert_int_equal(nt_http(http_port, "GET", "/v1/export/widgets", NULL,
                             NULL, 0, web, OUT_SIZE),
                     404);
    assert_int_equal(nt_http(http_port, "GET",
                             "/v1/export/decisions?format=xml", NULL, NULL, 0,
                             web, OUT_SIZE),
                     400);

    /* export chain is audit export's archive. */
    snprintf(args, sizeof args,
             "export chain --genesis %s/node0/genesis.json --out %s/chain.wa",
             dir, dir);
    expect(0, 0, out, args);
    assert_non_null(strstr(out, "wrote"));
    assert_int_equal(run(out, "head -c 17 %s/chain.wa", dir), 0);
    assert_string_equal(out, "witan-archive/v1\n");
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(root, sizeof root, "%s/../..", bin_dir);
    snprintf(dir, sizeof dir, "%s/witan-export-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Ports 2000-4949: below every other node test's range (the lowest,
     * test_http's, starts at 5000), so any of them can run beside it. */
    base_port = 2000 + (int)(getpid() % 295) * 10;
    http_port = base_port + 9;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export),
    };
    int rc = cmocka_run_group_tests_name("export", tests, setup, teardown);
    if (rc == 0) {
        char out[OUT_SIZE];
        run(out, "rm -rf %s", dir);
    }
    return rc;
}
