/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The example contracts (contracts/examples/) on a real ledger, each fed its
 * data: every decision and event they record must be the one a reference
 * evaluation of the rule (written here from the comments of each contract
 * and spec/contracts.md) gives from the prediction records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "inference/inference.h"
#include "ledger/ledger.h"
#include "tests/ledger/world.h"
#include "contracts/lang/lang.h"
#include "vm/vm.h"

/* A file's text, NUL-terminated. */
static char *slurp(const char *path, size_t *size)
{
    char *text;
    if (witan_read_file(path, 1 << 24, &text, size) != 0)
        fail_msg("cannot read %s", path);
    return text;
}

/* Which version of the examples runs: the assembly (.wvs) or, where there
 * is one, the contract-language source (.wcl) compiled by contracts/lang;
 * every check below holds for both. */
static bool use_wcl;

static uint8_t *example_module(const char *name, size_t *size)
{
    char path[128];
    size_t ts;
    snprintf(path, sizeof path, "contracts/examples/%s.%s", name,
             use_wcl ? "wcl" : "wvs");
    char *text = slurp(path, &ts);
    uint8_t *m;
    if (use_wcl) {
        lang_output o;
        int e = lang_compile(path, text, ts, LANG_COMPILER_VERSION, false, &o);
        if (e)
            fail_msg("%s: %s", path, o.errors ? o.errors : witan_err_name(e));
        m = o.module;
        *size = o.module_size;
        o.module = NULL;
        lang_output_free(&o);
    } else {
        m = assemble(text, size);
    }
    free(text);
    return m;
}

/* round(o * 10^s / 2^f), halves away from zero. */
static int64_t at_scale(int64_t o, uint32_t f, uint32_t s)
{
    __int128 num = o, den = (__int128)1 << f;
    for (uint32_t i = 0; i < s; i++)
        num *= 10;
    __int128 mag = num < 0 ? -num : num;
    __int128 q = (2 * mag + den) / (2 * den);
    return (int64_t)(num < 0 ? -q : q);
}

static uint8_t *register_model(struct world *w, const char *name,
                               const char *path, Witan__ModelInput **inputs,
                               size_t n_inputs, Witan__ModelTrigger *trig,
                               Witan__ModelTarget *target, uint8_t hash[32],
                               size_t *size)
{
    size_t ms;
    uint8_t *bytes = (uint8_t *)slurp(path, &ms);
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, ms, hash);
    Witan__ModelTrigger *trigs[] = {trig};
    Witan__RegisterModel r = WITAN__REGISTER_MODEL__INIT;
    r.name = (char *)name;
    r.model = (ProtobufCBinaryData){ms, bytes};
    r.n_inputs = n_inputs;
    r.inputs = inputs;
    r.n_triggers = 1;
    r.triggers = trigs;
    r.target = target;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
    b.register_model = &r;
    uint8_t *env = sign_body(&b, &w->admin, size);
    free(bytes);
    return env;
}

static void tx_hash(struct world *w, const uint8_t *env, size_t size,
                    uint8_t out[32])
{
    struct ledger_tx tx;
    char why[WHY_SIZE];
    assert_int_equal(ledger_tx_decode(w->l, env, size, false, &tx, why,
                                      sizeof why),
                     0);
    memcpy(out, tx.hash, 32);
    ledger_tx_release(&tx);
}

/* --- climate --------------------------------------------------------------------- */

enum { CLIMATE_MONTHS = 120, RECENT = 24 };

struct climate_month {
    char ym[8];
    int64_t co2_m, temp_m;
    uint32_t co2_s, temp_s;
};

/* 2010-01 .. 2019-12 of Mauna Loa CO2 and the gcag anomaly. */
static void climate_data(struct climate_month *out)
{
    size_t cs, ts;
    char *co2 = slurp("tests/fixtures/data/co2-mm-mlo.csv", &cs);
    char *temp = slurp("tests/fixtures/data/global-temp-monthly.csv", &ts);
    static struct witan_csv r;
    char why[WHY_SIZE];
    size_t n = 0;
    witan_csv_init(&r, co2, cs);
    while (n < CLIMATE_MONTHS && witan_csv_next(&r, why, sizeof why) == 1)
        if (r.count >= 3 && r.fields[0][4] == '-' &&
            strncmp(r.fields[0], "2010-01", 7) >= 0) {
            snprintf(out[n].ym, sizeof out[n].ym, "%.7s", r.fields[0]);
            parse_decimal(r.fields[2], &out[n].co2_m, &out[n].co2_s);
            n++;
        }
    assert_int_equal(n, CLIMATE_MONTHS);
    size_t k = 0;
    witan_csv_init(&r, temp, ts);
    while (k < CLIMATE_MONTHS && witan_csv_next(&r, why, sizeof why) == 1)
        if (r.count == 3 && strcmp(r.fields[0], "gcag") == 0 &&
            strcmp(r.fields[1], out[k].ym) == 0) {
            parse_decimal(r.fields[2], &out[k].temp_m, &out[k].temp_s);
            k++;
        }
    assert_int_equal(k, CLIMATE_MONTHS);
    free(co2);
    free(temp);
}

/* The anomaly's mantissa shifted by bias thousandths (scales 1 to 4). */
static int64_t observed(const struct climate_month *m, int64_t bias)
{
    assert_true(m->temp_s >= 1 && m->temp_s <= 4);
    int64_t b = bias * 10; /* at scale 4 */
    for (uint32_t s = m->temp_s; s < 4; s++)
        b /= 10;
    return m->temp_m + b;
}

static uint64_t isqrt(uint64_t v)
{
    uint64_t r = 0;
    while ((r + 1) * (r + 1) <= v)
        r++;
    return r;
}

/* Streams the climate data (observed temperatures shifted by `bias`
 * thousandths) through the climate contract, and checks every decision
 * and stand-down event against the rule. Returns how many of each. */
static void climate_run(int64_t bias, size_t *decisions, size_t *events)
{
    static struct climate_month m[CLIMATE_MONTHS];
    climate_data(m);
    tx_size_max = 65536;
    struct world *w = new_world("climate");
    Witan__ModelTarget target = WITAN__MODEL_TARGET__INIT;
    target.feed = "climate/temp/global";
    target.value = "anomaly";
    uint8_t model[32];
    size_t sz[2], bs;
    uint8_t *bytes = read_model(&bs);
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, bs, model);
    assert_int_equal(commit1(w, register_target_tx(w, bytes, bs, &target,
                                                   &sz[0]),
                             &sz[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(bytes);
    size_t ms;
    uint8_t *module = example_module("climate", &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .name = "emissions-review"},
                                          &sz[0]),
                             &sz[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);
    uint8_t co2_tx[CLIMATE_MONTHS][32];
    for (size_t i = 0; i < CLIMATE_MONTHS; i++) {
        int64_t t = month_ms(m[i].ym);
        uint8_t *env[2];
        env[0] = value_tx(w, "climate/co2/mauna-loa", "mauna-loa", "co2", t,
                          m[i].co2_m, m[i].co2_s, NULL, &sz[0]);
        env[1] = value_tx(w, "climate/temp/global", "mauna-loa", "anomaly", t,
                          observed(&m[i], bias), m[i].temp_s, NULL, &sz[1]);
        tx_hash(w, env[0], sz[0], co2_tx[i]);
        Witan__TxStatus st[2];
        commit_block(w, env, sz, 2, st);
        assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
        assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_OK);
        free(env[0]);
        free(env[1]);
    }
    /* The reference, month by month: the contract runs after month i's
     * prediction and before month i's temperature resolves it. */
    Witan__PredictionsRequest pq = WITAN__PREDICTIONS_REQUEST__INIT;
    pq.model_hash = (ProtobufCBinaryData){32, model};
    pq.limit = 1000;
    Witan__PredictionsResponse *p;
    assert_int_equal(ledger_query_predictions(w->l, &pq, &p), 0);
    assert_int_equal(p->n_records, CLIMATE_MONTHS);
    int64_t errors[CLIMATE_MONTHS];
    int64_t streak = 0;
    *decisions = *events = 0;
    for (size_t i = 0; i < CLIMATE_MONTHS; i++) {
        const Witan__PredictionRecord *rec = p->records[i];
        uint32_t f = rec->output_frac_bits;
        int64_t anomaly = at_scale(rec->outputs[0], f, 3);
        streak = anomaly > 800 ? streak + 1 : 0;
        Witan__RunsResponse *r = runs_of(w, co2_tx[i]);
        assert_int_equal(r->n_runs, 1);
        assert_int_equal(r->runs[0]->status, WITAN__RUN_STATUS__RUN_OK);
        assert_int_equal(r->runs[0]->result_int, streak);
        size_t checked = i < RECENT ? i : RECENT;
        bool decide = false, stand_down = false;
        int64_t rmse = 0;
        if (streak >= 3) {
            if (checked < 6) {
                decide = true;
            } else {
                unsigned __int128 s2 = 0;
                for (size_t k = i - checked; k < i; k++)
                    s2 += (unsigned __int128)((__int128)errors[k] * errors[k]);
                unsigned __int128 den = (unsigned __int128)checked << (2 * f);
                uint64_t mse = (uint64_t)((2 * s2 * 1000000 + den) / (2 * den));
                rmse = (int64_t)isqrt(mse);
                decide = rmse <= 250;
                stand_down = !decide;
            }
        }
        assert_int_equal(r->n_decisions, decide);
        assert_int_equal(r->n_events, stand_down);
        if (decide) {
            assert_int_equal(r->decisions[0]->n_values, 2);
            assert_int_equal(r->decisions[0]->values[0], anomaly);
            assert_int_equal(r->decisions[0]->values[1], streak);
            assert_memory_equal(r->decisions[0]->kind.data, "emissions-review",
                                16);
            (*decisions)++;
        }
        if (stand_down) {
            assert_int_equal(r->events[0]->values[0], rmse);
            (*events)++;
        }
        ledger_runs_response_free(r);
        /* this month's error, as the scorecard will count it */
        __int128 p10 = 1;
        for (uint32_t k = 0; k < m[i].temp_s; k++)
            p10 *= 10;
        __int128 num = (__int128)observed(&m[i], bias) << f;
        __int128 t = (num + (num < 0 ? -p10 / 2 : p10 / 2)) / p10;
        errors[i] = rec->outputs[0] - (int64_t)t;
    }
    ledger_predictions_response_free(p);
    free_world(w);
    tx_size_max = 4096;
}

/* With the real temperatures the model is trusted and the contract
 * decides; with observations 0.5 °C off, it stands down once enough of
 * its predictions have been checked. */
static void test_climate(void **state)
{
    (void)state;
    size_t d, e;
    climate_run(0, &d, &e);
    assert_true(d > 0);
    assert_int_equal(e, 0);
    size_t d2, e2;
    climate_run(500, &d2, &e2);
    assert_true(e2 > 0);
    assert_true(d2 < d);
}

/* The same rule written in the contract language decides and stands down
 * exactly as the assembly does. */
static void test_climate_wcl(void **state)
{
    use_wcl = true;
    test_climate(state);
    use_wcl = false;
}

/* --- public health ---------------------------------------------------------------- */

/* One region's weekly cases through the outbreak contract. */
static void test_health(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("health");
    Witan__ModelInput cases = WITAN__MODEL_INPUT__INIT;
    cases.feed = "health/cases";
    cases.subject = "centre";
    cases.value = "cases";
    cases.window = 4;
    Witan__ModelInput *inputs[] = {&cases};
    Witan__ModelTrigger trig = WITAN__MODEL_TRIGGER__INIT;
    trig.feed = "health/cases";
    trig.subject = "centre";
    Witan__ModelTarget target = WITAN__MODEL_TARGET__INIT; /* next week's */
    target.feed = "health/cases";
    target.value = "cases";
    target.horizon_ms = 7 * 86400000LL;
    uint8_t model[32];
    size_t sz, ms;
    assert_int_equal(commit1(w, register_model(w, "health-next-week",
                                               "contracts/examples/data/health_next_week.bin",
                                               inputs, 1, &trig, &target, model,
                                               &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t *module = example_module("health", &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .name = "outbreak-warning"},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);
    size_t ts;
    char *text = slurp("contracts/examples/data/health-cases.csv", &ts);
    static struct witan_csv r;
    char why[WHY_SIZE];
    witan_csv_init(&r, text, ts);
    size_t weeks = 0, warnings = 0, predicted = 0;
    int64_t counts[128];
    while (witan_csv_next(&r, why, sizeof why) == 1) {
        if (strcmp(r.fields[0], "centre") != 0)
            continue;
        int64_t count = atoll(r.fields[2]);
        assert_true(weeks < 128);
        counts[weeks] = count;
        uint8_t h[32];
        uint8_t *env = value_tx(w, "health/cases", "centre", "cases",
                                month_ms(r.fields[1]), count, 0, NULL, &sz);
        tx_hash(w, env, sz, h);
        assert_int_equal(commit1(w, env, &sz, NULL),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        weeks++;
        Witan__RunsResponse *runs = runs_of(w, h);
        if (weeks < 4) { /* the window of four is not full yet */
            assert_int_equal(runs->n_runs, 0);
            ledger_runs_response_free(runs);
            continue;
        }
        /* the prediction this week made: the latest record */
        Witan__PredictionsRequest q = WITAN__PREDICTIONS_REQUEST__INIT;
        q.model_hash = (ProtobufCBinaryData){32, model};
        q.limit = 1000;
        Witan__PredictionsResponse *p;
        assert_int_equal(ledger_query_predictions(w->l, &q, &p), 0);
        const Witan__PredictionRecord *rec = p->records[p->n_records - 1];
        predicted++;
        bool ok = rec->status == WITAN__PREDICTION_STATUS__PREDICTION_OK;
        assert_int_equal(runs->n_runs, ok);
        int64_t forecast = ok ? at_scale(rec->outputs[0], rec->output_frac_bits, 0)
                              : 0;
        int64_t before = counts[weeks - 4];
        bool warn = ok && forecast >= 50 && forecast >= count &&
                    count >= 2 * before;
        assert_int_equal(runs->n_decisions, warn);
        if (warn) {
            assert_int_equal(runs->decisions[0]->n_values, 3);
            assert_int_equal(runs->decisions[0]->values[0], forecast);
            assert_int_equal(runs->decisions[0]->values[1], count);
            assert_int_equal(runs->decisions[0]->values[2], before);
            warnings++;
        }
        ledger_predictions_response_free(p);
        ledger_runs_response_free(runs);
    }
    free(text);
    assert_int_equal(weeks, 104);
    assert_true(predicted > 90);
    assert_true(warnings > 0);
    /* the model's own forecasts were scored a week later */
    Witan__ScorecardRequest sq = WITAN__SCORECARD_REQUEST__INIT;
    sq.model_hash = (ProtobufCBinaryData){32, model};
    Witan__ScorecardResponse *c;
    assert_int_equal(ledger_get_scorecard(w->l, &sq, &c), 0);
    assert_non_null(c->scorecard);
    assert_true(c->scorecard->count > 80);
    ledger_scorecard_response_free(c);
    free_world(w);
    tx_size_max = 4096;
}

/* --- finance ---------------------------------------------------------------------- */

/* Daily indicators; the trigger's filter (P(stressed) > 0.700) decides
 * which predictions call the contract at all. */
static void test_finance(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("finance");
    static const char *const names[] = {"volatility", "spread", "funding"};
    Witan__ModelInput in[3], *inputs[3];
    for (int i = 0; i < 3; i++) {
        witan__model_input__init(&in[i]);
        in[i].feed = "finance/markets";
        in[i].subject = "global";
        in[i].value = (char *)names[i];
        inputs[i] = &in[i];
    }
    Witan__ModelTrigger trig = WITAN__MODEL_TRIGGER__INIT;
    trig.feed = "finance/markets";
    trig.subject = "global";
    uint8_t model[32];
    size_t sz, ms;
    assert_int_equal(commit1(w, register_model(w, "finance-stress",
                                               "contracts/examples/data/finance_stress.bin",
                                               inputs, 3, &trig, NULL, model, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t *module = example_module("finance", &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .name = "systemic-risk",
                                                 .filter = WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE,
                                                 .output = 1,
                                                 .threshold = 700},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);
    size_t ts;
    char *text = slurp("contracts/examples/data/markets.csv", &ts);
    static struct witan_csv r;
    char why[WHY_SIZE];
    witan_csv_init(&r, text, ts);
    assert_int_equal(witan_csv_next(&r, why, sizeof why), 1); /* header */
    size_t days = 0, alerts = 0, batch = 0;
    uint8_t *env[16], hashes[16][32];
    size_t sizes[16];
    /* 10 days a block, one attestation each with all three values */
    for (;;) {
        int more = witan_csv_next(&r, why, sizeof why);
        if (more == 1) {
            Witan__NamedValue v[3], *vs[3];
            for (int i = 0; i < 3; i++) {
                witan__named_value__init(&v[i]);
                v[i].name = (char *)names[i];
                parse_decimal(r.fields[1 + i], &v[i].mantissa, &v[i].scale);
                vs[i] = &v[i];
            }
            Witan__Attest a = WITAN__ATTEST__INIT;
            a.feed = "finance/markets";
            a.subject = "global";
            a.observed_at_ms = month_ms(r.fields[0]);
            a.n_values = 3;
            a.values = vs;
            Witan__TxBody b = WITAN__TX_BODY__INIT;
            b.chain_id = "witan-test";
            b.sender = (ProtobufCBinaryData){20, w->provider_addr};
            b.nonce = w->provider_nonce++;
            b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
            b.attest = &a;
            env[batch] = sign_body(&b, &w->provider, &sizes[batch]);
            tx_hash(w, env[batch], sizes[batch], hashes[batch]);
            batch++;
            days++;
        }
        if (batch == 10 || (more != 1 && batch)) {
            Witan__TxStatus st[16];
            commit_block(w, env, sizes, batch, st);
            for (size_t i = 0; i < batch; i++) {
                assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
                free(env[i]);
            }
            batch = 0;
        }
        if (more != 1)
            break;
    }
    free(text);
    assert_int_equal(days, 500);
    /* Every prediction against the filter, exactly: o * 1000 > 700 * 2^f. */
    Witan__PredictionsRequest q = WITAN__PREDICTIONS_REQUEST__INIT;
    q.model_hash = (ProtobufCBinaryData){32, model};
    q.limit = 1000;
    Witan__PredictionsResponse *p;
    assert_int_equal(ledger_query_predictions(w->l, &q, &p), 0);
    assert_int_equal(p->n_records, days);
    size_t want = 0;
    for (size_t i = 0; i < p->n_records; i++) {
        const Witan__PredictionRecord *rec = p->records[i];
        if (rec->status != WITAN__PREDICTION_STATUS__PREDICTION_OK)
            continue;
        bool above = (__int128)rec->outputs[1] * 1000 >
                     (__int128)700 << rec->output_frac_bits;
        Witan__RunsResponse *runs = runs_of(w, rec->tx_hash.data);
        assert_int_equal(runs->n_runs, above);
        if (above) {
            want++;
            assert_int_equal(runs->decisions[0]->values[0],
                             at_scale(rec->outputs[1], rec->output_frac_bits, 3));
            assert_int_equal(runs->decisions[0]->values[1], (int64_t)want);
        }
        ledger_runs_response_free(runs);
    }
    ledger_predictions_response_free(p);
    Witan__DecisionsRequest dq = WITAN__DECISIONS_REQUEST__INIT;
    dq.kind = (ProtobufCBinaryData){19, (uint8_t *)"systemic-risk-alert"};
    dq.limit = 1000;
    Witan__DecisionsResponse *d;
    assert_int_equal(ledger_query_decisions(w->l, &dq, &d), 0);
    alerts = d->n_decisions;
    ledger_decisions_response_free(d);
    assert_int_equal(alerts, want);
    assert_true(alerts > 10 && alerts < days / 2);
    free_world(w);
    tx_size_max = 4096;
}

static void test_health_wcl(void **state)
{
    use_wcl = true;
    test_health(state);
    use_wcl = false;
}

static void test_finance_wcl(void **state)
{
    use_wcl = true;
    test_finance(state);
    use_wcl = false;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_climate),
        cmocka_unit_test(test_climate_wcl),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_finance),
        cmocka_unit_test(test_health_wcl),
        cmocka_unit_test(test_finance_wcl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
