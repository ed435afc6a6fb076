/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision contracts on four real witand processes (made and run by
 * `witan testnet`), driven through the witan command as a person would
 * and checked through the client API of every validator:
 *
 * - a model (linreg_temp, bound to climate/co2/mauna-loa) and two contracts
 *   are put on chain with `witan model register` and `witan contract
 *   deploy --asm`: warm.wvs decides "warm" when output 0 is above 0.9 and
 *   listens through a filter (output 0 above 0.5); spin.wvs never returns;
 * - a stream of attestations triggers the model, each prediction runs both
 *   contracts: every validator holds the same decisions (ids and bytes),
 *   the same evidence for each, the same runs of every attestation, and
 *   the same block hashes and state roots at every height;
 * - the looping contract ends at its gas (RUN_OUT_OF_GAS, its full limit
 *   charged) and the blocks carrying it commit with their attestations OK;
 * - warm.wvs is deployed with --source-map: every validator keeps the map
 *   verbatim and `witan contract show` gives its size and SHA-256 (and the
 *   map with --source);
 * - `witan decisions show` on another validator lists the evidence, down
 *   to the input attestation's transaction;
 * - a call to a retired contract is refused with CONTRACT_RETIRED;
 * - the model's target (climate/temp/global anomaly, horizon 0): the
 *   anomaly observed at each attestation's time resolves its prediction,
 *   and every validator answers the same scorecard, whose count and sums
 *   equal those worked out from the predictions and the observations.
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
#define ATTEST_COUNT 4
#define SPIN_GAS 200000
#define OUT_SIZE (64 * 1024)

static char bin_dir[1000];
static char root[1100]; /* the repository, for the fixtures */
static char dir[600];
static int base_port;

static void addr_of(int i, char *out, size_t size)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", base_port + 10 * i);
}

/* A shell command: its exit status, its output in out (OUT_SIZE). */
#define run(out, ...) nt_run(out, OUT_SIZE, __VA_ARGS__)

/* `witan ARGS --node <node 0>`, its output in out; the exit status. */
static int witan(int node, char *out, const char *args)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    return run(out, "%s/witan %s --node %s 2>&1", bin_dir, args, addr);
}

/* `witan ARGS` on `node` must exit with `status`; its output, printed
 * when it does not, in out. */
static void expect(int status, int node, char *out, const char *args)
{
    int rc = witan(node, out, args);
    if (rc != status)
        fail_msg("witan %s (node %d): exit %d, not %d:\n%s", args, node, rc,
                 status, out);
}

/* The first 64-hex-digit word after `after` in text. */
static void hash_after(const char *text, const char *after,
                       uint8_t out[WITAN_HASH_SIZE])
{
    const char *p = strstr(text, after);
    char hex[2 * WITAN_HASH_SIZE + 1] = "";
    if (p)
        snprintf(hex, sizeof hex, "%s", p + strlen(after));
    if (witan_hex_decode(hex, out, WITAN_HASH_SIZE))
        fail_msg("no hash after '%s' in: %s", after, text);
}

static Witan__Response *call(int node, Witan__Request *req)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    Witan__Response *r = NULL;
    assert_int_equal(cli_call(addr, req, 5000, &r), 0);
    assert_null(r->error);
    return r;
}

/* A response's bytes, for comparing what validators answer. */
static uint8_t *packed(const Witan__Response *r, size_t *size)
{
    *size = witan__response__get_packed_size(r);
    uint8_t *b = malloc(*size ? *size : 1);
    assert_non_null(b);
    witan__response__pack(r, b);
    return b;
}

/* Asks every validator `req` and requires byte-identical answers; returns
 * node 0's (the caller frees it). */
static Witan__Response *same_everywhere(Witan__Request *req)
{
    Witan__Response *first = call(0, req);
    size_t s0;
    uint8_t *b0 = packed(first, &s0);
    for (int i = 1; i < NODES; i++) {
        Witan__Response *r = call(i, req);
        size_t s;
        uint8_t *b = packed(r, &s);
        assert_int_equal(s, s0);
        assert_memory_equal(b, b0, s0);
        free(b);
        witan__response__free_unpacked(r, NULL);
    }
    free(b0);
    return first;
}

/* Waits until every validator has committed `hash` and all are at one
 * height with empty pools; returns it. */
static uint64_t converge(const uint8_t hash[WITAN_HASH_SIZE])
{
    for (int round = 0; round < 600; round++) {
        uint64_t h0 = 0;
        bool same = true;
        for (int i = 0; i < NODES && same; i++) {
            char addr[64];
            uint64_t h;
            uint32_t pool;
            addr_of(i, addr, sizeof addr);
            same = nt_status(addr, &h, &pool) && pool == 0 &&
                   (h0 == 0 || h == h0) &&
                   nt_tx_state(addr, hash, NULL) ==
                       WITAN__TX_STATE__TX_STATE_COMMITTED;
            h0 = h;
        }
        if (same)
            return h0;
        nt_sleep_ms(100);
    }
    fail_msg("the validators did not converge");
    return 0;
}

static void assert_same_chain(uint64_t height)
{
    for (uint64_t k = 1; k <= height; k++) {
        uint8_t h0[32], r0[32];
        char addr[64];
        addr_of(0, addr, sizeof addr);
        assert_true(nt_block(addr, k, h0, r0));
        for (int i = 1; i < NODES; i++) {
            uint8_t h[32], r[32];
            addr_of(i, addr, sizeof addr);
            assert_true(nt_block(addr, k, h, r));
            assert_memory_equal(h, h0, 32);
            assert_memory_equal(r, r0, 32);
        }
    }
}

static int setup(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    assert_int_equal(run(out, "%s/witan testnet init --validators %d --dir %s "
                              "--base-port %d --chain-id contracts-test 2>&1",
                         bin_dir, NODES, dir, base_port),
                     0);
    assert_int_equal(run(out, "%s/witan testnet start %s 2>&1", bin_dir, dir), 0);
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

static void test_decisions_agree_with_evidence(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char args[4096], key[700], model_hex[65], warm_hex[65], spin_hex[65];
    uint8_t model[32], warm[32], spin[32], txs[ATTEST_COUNT][32];
    snprintf(key, sizeof key, "--key %s/operator.key", dir);

    /* The operator holds every role, contract_operator included, from
     * the testnet's genesis. */
    snprintf(args, sizeof args,
             "model register %s/tests/fixtures/models/linreg_temp.bin %s "
             "--name temp --input feed=climate/co2/mauna-loa,subject=mauna-"
             "loa,value=co2 --input feed=climate/co2/mauna-loa,subject="
             "mauna-loa,year --trigger climate/co2/mauna-loa:mauna-loa "
             "--target feed=climate/temp/global,value=anomaly,window=3 --wait",
             root, key);
    expect(0, 0, out, args);
    hash_after(out, "model ", model);
    witan_hex_encode(model, 32, model_hex);

    /* warm goes with a source map, kept verbatim */
    static const char map_text[] =
        "{\"version\":1,\"file\":\"warm.wvs\",\"words\":[[0,7],[1,8]]}\n";
    char map_path[700];
    snprintf(map_path, sizeof map_path, "%s/warm.map", dir);
    FILE *mf = fopen(map_path, "w");
    assert_non_null(mf);
    assert_int_equal(fputs(map_text, mf) >= 0, 1);
    assert_int_equal(fclose(mf), 0);
    snprintf(args, sizeof args,
             "contract deploy %s --name warm --version 1 --asm "
             "%s/tests/fixtures/contracts/warm.wvs --gas 100000 --model %s "
             "--above 0:0.5 --source-map %s",
             key, root, model_hex, map_path);
    expect(0, 1, out, args);
    hash_after(out, "contract ", warm);
    assert_non_null(strstr(out, ": OK"));
    {
        /* every validator holds the map; show gives its size and
         * SHA-256, and with --source the map itself */
        Witan__ContractsRequest cq = WITAN__CONTRACTS_REQUEST__INIT;
        cq.id = (ProtobufCBinaryData){32, warm};
        Witan__Request creq = WITAN__REQUEST__INIT;
        creq.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
        creq.contracts = &cq;
        uint8_t tx0[32];
        memcpy(tx0, warm, 32);
        converge(tx0);
        Witan__Response *c = same_everywhere(&creq);
        assert_int_equal(c->contracts->n_contracts, 1);
        const ProtobufCBinaryData *m = &c->contracts->contracts[0]->source_map;
        assert_int_equal(m->len, strlen(map_text));
        assert_memory_equal(m->data, map_text, m->len);
        witan__response__free_unpacked(c, NULL);
        uint8_t h[32];
        char hhex[65], want[200], id_hex[65];
        wcrypto_sha256(map_text, strlen(map_text), h);
        witan_hex_encode(h, 32, hhex);
        witan_hex_encode(warm, 32, id_hex);
        snprintf(want, sizeof want, "source map %zu bytes, sha256 %s",
                 strlen(map_text), hhex);
        snprintf(args, sizeof args, "contract show %s", id_hex);
        expect(0, 2, out, args);
        if (!strstr(out, want))
            fail_msg("'%s' not in:\n%s", want, out);
        assert_null(strstr(out, map_text));
        snprintf(args, sizeof args, "contract show %s --source", id_hex);
        expect(0, 3, out, args);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, map_text));
        /* a map that cannot be read is an error before anything is sent */
        snprintf(args, sizeof args,
                 "contract deploy %s --name warm --version 1 --asm "
                 "%s/tests/fixtures/contracts/warm.wvs --gas 100000 "
                 "--source-map %s/no-such.map",
                 key, root, dir);
        assert_int_not_equal(witan(0, out, args), 0);
        assert_non_null(strstr(out, "no-such.map"));
    }
    snprintf(args, sizeof args,
             "contract deploy %s --name spin --version 1 --asm "
             "%s/tests/fixtures/contracts/spin.wvs --gas %d --model %s --kind "
             "any",
             key, root, SPIN_GAS, model_hex);
    expect(0, 2, out, args);
    hash_after(out, "contract ", spin);
    witan_hex_encode(warm, 32, warm_hex);
    witan_hex_encode(spin, 32, spin_hex);

    /* The stream, each attestation sent to another validator. */
    static const char *const when[ATTEST_COUNT] = {"2020-01", "2020-06",
                                                   "2021-01", "2021-06"};
    static const char *const co2[ATTEST_COUNT] = {"414.5", "414.5", "414.5",
                                                  "417.1"};
    for (int i = 0; i < ATTEST_COUNT; i++) {
        snprintf(args, sizeof args,
                 "attest %s --feed climate/co2/mauna-loa --subject mauna-loa "
                 "--time %s --value co2=%s --unit ppm --wait",
                 key, when[i], co2[i]);
        expect(0, i % NODES, out, args);
        /* "HASH committed at ...", after any line about signing again
         * (a validator that lags picks a nonce already taken). */
        const char *line = strstr(out, " committed at height");
        if (!line || line - out < 64)
            fail_msg("no committed line in: %s", out);
        char hex[65];
        snprintf(hex, sizeof hex, "%.64s", line - 64);
        assert_int_equal(witan_hex_decode(hex, txs[i], 32), 0);
    }
    uint64_t height = converge(txs[ATTEST_COUNT - 1]);
    assert_same_chain(height);

    /* The decisions, on every validator the same ids and bytes. */
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__DecisionsRequest dq = WITAN__DECISIONS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_DECISIONS;
    req.decisions = &dq;
    Witan__Response *list = same_everywhere(&req);
    assert_int_equal(list->decisions->n_decisions, ATTEST_COUNT);
    for (size_t i = 0; i < list->decisions->n_decisions; i++) {
        const Witan__DecisionEvidence *ev = list->decisions->decisions[i];
        assert_memory_equal(ev->decision->contract.data, warm, 32);
        assert_int_equal(ev->decision->kind.len, 4);
        assert_memory_equal(ev->decision->kind.data, "warm", 4);
        assert_int_equal(ev->decision->n_values, 1);
        assert_true(ev->decision->values[0] > 900);
        /* Its evidence, the same everywhere, leads to an input's tx. */
        Witan__DecisionsRequest one = WITAN__DECISIONS_REQUEST__INIT;
        one.id = ev->id;
        req.decisions = &one;
        Witan__Response *e = same_everywhere(&req);
        const Witan__DecisionEvidence *full = e->decisions->decisions[0];
        assert_non_null(full->prediction);
        assert_non_null(full->model);
        assert_memory_equal(full->model->hash.data, model, 32);
        assert_true(full->n_inputs >= 1);
        assert_memory_equal(full->inputs[0]->tx_hash.data,
                            ev->decision->tx_hash.data, 32);
        witan__response__free_unpacked(e, NULL);
        req.decisions = &dq;
    }

    /* Every attestation ran both contracts: warm returned, spin ran out
     * of its gas; the attestation itself is OK and its block committed. */
    for (int i = 0; i < ATTEST_COUNT; i++) {
        Witan__RunsRequest rq = WITAN__RUNS_REQUEST__INIT;
        rq.tx_hash = (ProtobufCBinaryData){32, txs[i]};
        Witan__Request r2 = WITAN__REQUEST__INIT;
        r2.kind_case = WITAN__REQUEST__KIND_RUNS;
        r2.runs = &rq;
        Witan__Response *runs = same_everywhere(&r2);
        assert_int_equal(runs->runs->n_runs, 2);
        int ok = 0, out_of_gas = 0;
        for (size_t k = 0; k < runs->runs->n_runs; k++) {
            const Witan__ContractRun *run = runs->runs->runs[k];
            if (memcmp(run->contract.data, warm, 32) == 0) {
                ok += run->status == WITAN__RUN_STATUS__RUN_OK &&
                      run->decision_count == 1;
            } else {
                assert_memory_equal(run->contract.data, spin, 32);
                out_of_gas += run->status ==
                                  WITAN__RUN_STATUS__RUN_OUT_OF_GAS &&
                              run->gas == SPIN_GAS;
            }
        }
        assert_int_equal(ok, 1);
        assert_int_equal(out_of_gas, 1);
        assert_int_equal(runs->runs->n_decisions, 1);
        witan__response__free_unpacked(runs, NULL);
        Witan__TxRequest tq = WITAN__TX_REQUEST__INIT;
        tq.tx_hash = (ProtobufCBinaryData){32, txs[i]};
        r2.kind_case = WITAN__REQUEST__KIND_TX;
        r2.tx = &tq;
        Witan__Response *tx = same_everywhere(&r2);
        assert_int_equal(tx->tx->receipt->status,
                         WITAN__TX_STATUS__TX_STATUS_OK);
        assert_int_equal(tx->tx->receipt->run_count, 2);
        witan__response__free_unpacked(tx, NULL);
    }

    /* A person's view of one decision on another validator: the chain of
     * evidence down to the input attestation's transaction. */
    char id_hex[2 * WITAN_DECISION_ID_SIZE + 1], tx_hex[65];
    const Witan__DecisionEvidence *last =
        list->decisions->decisions[ATTEST_COUNT - 1];
    witan_hex_encode(last->id.data, last->id.len, id_hex);
    witan_hex_encode(last->decision->tx_hash.data, 32, tx_hex);
    snprintf(args, sizeof args, "decisions show %s --source", id_hex);
    expect(0, 3, out, args);
    assert_non_null(strstr(out, "kind \"warm\""));
    assert_non_null(strstr(out, warm_hex));
    assert_non_null(strstr(out, model_hex));
    assert_non_null(strstr(out, "input attestations"));
    assert_non_null(strstr(out, tx_hex));
    assert_non_null(strstr(out, ".import decide b b b b -> b"));
    snprintf(args, sizeof args, "query tx %s", tx_hex);
    expect(0, 2, out, args);
    assert_non_null(strstr(out, "runs:   2"));
    assert_non_null(strstr(out, "ran out of its"));
    witan__response__free_unpacked(list, NULL);

    /* Retired, the looping contract is refused when called. */
    snprintf(args, sizeof args, "contract retire %s %s", spin_hex, key);
    expect(0, 0, out, args);
    snprintf(args, sizeof args, "contract call %s on_prediction %s", spin_hex,
             key);
    expect(1, 1, out, args);
    assert_non_null(strstr(out, "CONTRACT_RETIRED"));
    snprintf(args, sizeof args, "contract call %s bump --int 41 %s",
             warm_hex, key);
    expect(0, 2, out, args);
    assert_non_null(strstr(out, "result 42"));

    /* The anomaly observed at each attestation's time resolves its
     * prediction (the attestations themselves trigger no model). */
    static const char *const anomaly[ATTEST_COUNT] = {"1.02", "0.95", "1.1",
                                                      "0.875"};
    static const int64_t anomaly_m[ATTEST_COUNT] = {102, 95, 11, 875};
    static const uint32_t anomaly_s[ATTEST_COUNT] = {2, 2, 1, 3};
    uint8_t last_temp[32];
    for (int i = 0; i < ATTEST_COUNT; i++) {
        snprintf(args, sizeof args,
                 "attest %s --feed climate/temp/global --subject mauna-loa "
                 "--time %s --value anomaly=%s --unit K --wait",
                 key, when[i], anomaly[i]);
        expect(0, (i + 1) % NODES, out, args);
        const char *line = strstr(out, " committed at height");
        if (!line || line - out < 64)
            fail_msg("no committed line in: %s", out);
        char hex[65];
        snprintf(hex, sizeof hex, "%.64s", line - 64);
        assert_int_equal(witan_hex_decode(hex, last_temp, 32), 0);
    }
    height = converge(last_temp);
    assert_same_chain(height);

    /* The predictions, the same everywhere, in height order. */
    Witan__Request pr = WITAN__REQUEST__INIT;
    Witan__PredictionsRequest pq = WITAN__PREDICTIONS_REQUEST__INIT;
    pq.model_hash = (ProtobufCBinaryData){32, model};
    pr.kind_case = WITAN__REQUEST__KIND_PREDICTIONS;
    pr.predictions = &pq;
    Witan__Response *preds = same_everywhere(&pr);
    assert_int_equal(preds->predictions->n_records, ATTEST_COUNT);
    /* error = output - round(m * 2^f / 10^s), halves away from zero */
    unsigned __int128 sq = 0, abs_sum = 0;
    int64_t errors[ATTEST_COUNT];
    uint32_t f = preds->predictions->records[0]->output_frac_bits;
    for (int i = 0; i < ATTEST_COUNT; i++) {
        const Witan__PredictionRecord *rec = preds->predictions->records[i];
        assert_int_equal(rec->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
        assert_int_equal(rec->output_frac_bits, f);
        __int128 p10 = 1;
        for (uint32_t k = 0; k < anomaly_s[i]; k++)
            p10 *= 10;
        __int128 num = (__int128)anomaly_m[i] << f;
        int64_t target = (int64_t)((num + (num < 0 ? -p10 / 2 : p10 / 2)) /
                                   p10);
        int64_t e = rec->outputs[0] - target;
        errors[i] = e;
        sq += (unsigned __int128)((__int128)e * e);
        abs_sum += (unsigned __int128)(e < 0 ? -e : e);
    }
    witan__response__free_unpacked(preds, NULL);

    /* The scorecard, byte for byte the same on every validator. */
    Witan__Request sr = WITAN__REQUEST__INIT;
    Witan__ScorecardRequest sq_req = WITAN__SCORECARD_REQUEST__INIT;
    sq_req.model_hash = (ProtobufCBinaryData){32, model};
    sr.kind_case = WITAN__REQUEST__KIND_SCORECARD;
    sr.scorecard = &sq_req;
    Witan__Response *card = same_everywhere(&sr);
    const Witan__Scorecard *sc = card->scorecard->scorecard;
    assert_non_null(sc);
    assert_int_equal(sc->count, ATTEST_COUNT);
    assert_int_equal(sc->frac_bits, f);
    assert_int_equal(sc->sum_sq_hi, (uint64_t)(sq >> 64));
    assert_int_equal(sc->sum_sq_lo, (uint64_t)sq);
    assert_int_equal(sc->sum_abs_hi, (uint64_t)(abs_sum >> 64));
    assert_int_equal(sc->sum_abs_lo, (uint64_t)abs_sum);
    assert_int_equal(sc->window, 3);
    assert_int_equal(sc->n_recent_errors, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sc->recent_errors[i], errors[ATTEST_COUNT - 3 + i]);
    assert_false(sc->saturated);
    witan__response__free_unpacked(card, NULL);
    /* and a person's view of it on another validator */
    snprintf(args, sizeof args, "model scorecard %s", model_hex);
    expect(0, 3, out, args);
    assert_non_null(strstr(out, "all time:  4 resolved"));
    assert_non_null(strstr(out, "last 3:"));
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
    snprintf(dir, sizeof dir, "%s/witan-contracts-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below 32768 (listeners must not meet ephemeral ports), and above
     * test_cluster's range, so the two can run side by side. */
    base_port = 30000 + (int)(getpid() % 270) * 10;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions_agree_with_evidence),
    };
    int rc = cmocka_run_group_tests_name("contracts", tests, setup, teardown);
    if (rc == 0) {
        char out[OUT_SIZE];
        run(out, "rm -rf %s", dir);
    }
    return rc;
}
