/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proof size and check time for one decision's evidence bundle of the
 * climate example (issue targets: under 10 KB, under 10 ms): four real
 * witand validators record the climate model, the climate contract and
 * ten years of CO2; `witan audit prove --decision ID --evidence` fetches
 * the bundle; then the check an auditor runs (ledger_evidence_check, the
 * code behind `witan audit check`) is timed in this process, beside the
 * single-core Ed25519 verification time measured in the same run, since
 * every proof carries certificates whose signatures dominate.
 */
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/node/nodetest.h"

#define OUT_SIZE (64 * 1024)
#define CHECK_ROUNDS 200

static char bin_dir[1000], dir[600];

/* A shell command: its exit status, its output in out (OUT_SIZE). */
#define run(out, ...) nt_run(out, OUT_SIZE, __VA_ARGS__)

static void must(const char *what, int rc, const char *out)
{
    if (rc != 0) {
        fprintf(stderr, "bench_proofs: %s failed (%d): %s\n", what, rc, out);
        run((char[OUT_SIZE]){0}, "%s/witan testnet stop %s/net >/dev/null "
                                 "2>&1", bin_dir, dir);
        exit(1);
    }
}


int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    static char out[OUT_SIZE];
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(dir, sizeof dir, "%s/witan-bench-proofs-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    signal(SIGPIPE, SIG_IGN);
    int port = 26000 + (int)(getpid() % 500) * 10;
    char node[64], key[700], gen[800];
    snprintf(node, sizeof node, "tcp://127.0.0.1:%d", port);
    snprintf(key, sizeof key, "%s/net/operator.key", dir);
    snprintf(gen, sizeof gen, "%s/net/node0/genesis.json", dir);
    must("init",
         run(out,
             "rm -rf %s && mkdir -p %s && %s/witan testnet init --validators 4 "
             "--dir %s/net --base-port %d --chain-id proofs-bench 2>&1 && "
             "%s/witan testnet start %s/net 2>&1",
             dir, dir, bin_dir, dir, port, bin_dir, dir),
         out);
    uint64_t h;
    must("waiting for the first validator",
         nt_await_status(node, 6000, &h) ? 0 : 1, node);
    must("model",
         run(out,
             "%s/witan model register tests/fixtures/models/linreg_temp.bin "
             "--node %s --key %s --name temp "
             "--input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 "
             "--input feed=climate/co2/mauna-loa,subject=mauna-loa,year "
             "--trigger climate/co2/mauna-loa:mauna-loa "
             "--target feed=climate/temp/global,subject=global,value=anomaly "
             "--wait 2>&1",
             bin_dir, node, key),
         out);
    const char *m = strstr(out, "model ");
    if (!m)
        must("model hash", 1, out);
    char model[65];
    snprintf(model, sizeof model, "%.64s", m + 6);
    must("contract",
         run(out,
             "%s/witan contract deploy --node %s --key %s --name review "
             "--version 1 --gas 100000 --asm contracts/examples/climate.wvs "
             "--model %s 2>&1",
             bin_dir, node, key, model),
         out);
    must("attest",
         run(out,
             "{ head -n 1 tests/fixtures/data/co2-mm-mlo.csv; grep '^201[0-9]-' "
             "tests/fixtures/data/co2-mm-mlo.csv; } > %s/co2.csv && "
             "%s/witan attest --node %s --key %s --feed climate/co2/mauna-loa "
             "--subject mauna-loa --unit ppm --file %s/co2.csv --columns "
             "time,-,co2,co2_deseasonalised,days,stddev,uncertainty --missing "
             "days=-1,stddev=-9.99,uncertainty=-0.99 --wait 2>&1",
             dir, bin_dir, node, key, dir),
         out);
    must("decisions",
         run(out, "%s/witan decisions list --node %s 2>&1", bin_dir, node),
         out);
    const char *d = strstr(out, "decision ");
    if (!d)
        must("a decision", 1, out);
    char id[89];
    snprintf(id, sizeof id, "%.88s", d + 9);
    char path[700];
    snprintf(path, sizeof path, "%s/evidence.json", dir);
    int rc = 1;
    for (int k = 0; k < 100 && rc; k++) { /* until block h + L exists */
        rc = run(out,
                 "%s/witan audit prove --decision %s --evidence --node %s "
                 "--out %s 2>&1",
                 bin_dir, id, node, path);
        if (rc)
            nt_sleep_ms(50);
    }
    must("prove", rc, out);
    run(out, "%s/witan testnet stop %s/net >/dev/null 2>&1", bin_dir, dir);

    char *text, why[LEDGER_WHY_SIZE], said[1024];
    size_t size;
    WITAN_ASSERT(witan_read_file(path, LEDGER_PROOF_FILE_SIZE_MAX, &text,
                                 &size) == 0);
    Witan__Genesis *g;
    WITAN_ASSERT(ledger_genesis_load(gen, &g, why, sizeof why) == 0);
    Witan__Proof **ps;
    size_t n;
    WITAN_ASSERT(ledger_evidence_from_json(text, size, &ps, &n, why,
                                           sizeof why) == 0);
    size_t binary = 0, sigs = 0;
    for (size_t i = 0; i < n; i++) {
        binary += witan__proof__get_packed_size(ps[i]);
        Witan__CommitCertificate *c = witan__commit_certificate__unpack(
            NULL, ps[i]->results_cert.len, ps[i]->results_cert.data);
        Witan__BlockHeader *bh = witan__block_header__unpack(
            NULL, ps[i]->results_header.len, ps[i]->results_header.data);
        /* both certificates' votes and the transaction's signature */
        sigs += (c ? c->n_signatures : 0) +
                (bh && bh->results_cert ? bh->results_cert->n_signatures : 0) + 1;
        if (c)
            witan__commit_certificate__free_unpacked(c, NULL);
        if (bh)
            witan__block_header__free_unpacked(bh, NULL);
    }
    double t0 = nt_now_s();
    for (int r = 0; r < CHECK_ROUNDS; r++)
        WITAN_ASSERT(ledger_evidence_check(g, ps, n, said, sizeof said, why,
                                           sizeof why) == 0);
    double check_ms = (nt_now_s() - t0) / CHECK_ROUNDS * 1e3;
    t0 = nt_now_s();
    for (int r = 0; r < CHECK_ROUNDS; r++) {
        Witan__Proof **qs;
        size_t qn;
        WITAN_ASSERT(ledger_evidence_from_json(text, size, &qs, &qn, why,
                                               sizeof why) == 0);
        for (size_t i = 0; i < qn; i++)
            witan__proof__free_unpacked(qs[i], NULL);
        free(qs);
    }
    double parse_ms = (nt_now_s() - t0) / CHECK_ROUNDS * 1e3;
    double v = 1e6 / nt_ed25519_verify_rate(0.5);
    printf("evidence bundle of one climate decision (4 validators): %zu "
           "proofs\n",
           n);
    printf("  size         %7zu bytes as proof.json  (%zu as protobuf)   "
           "target < 10240\n",
           size, binary);
    printf("  check        %7.3f ms (+ %.3f ms reading the JSON)      "
           "target < 10\n",
           check_ms, parse_ms);
    printf("  reference    Ed25519 verify %.1f us on one core; the bundle "
           "holds %zu signatures: %.3f ms of them\n",
           v, sigs, v * (double)sigs / 1e3);
    printf("  %s\n", said);
    for (size_t i = 0; i < n; i++)
        witan__proof__free_unpacked(ps[i], NULL);
    free(ps);
    free(text);
    ledger_genesis_free(g);
    run(out, "rm -rf %s", dir);
    return 0;
}
