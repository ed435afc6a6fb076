/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make bench (bench_contracts): what decision contracts cost the ledger, on
 * a real LMDB home (durable commits, one validator), in one run:
 *   - blocks of signed attestations that trigger nothing (the reference),
 *     that trigger a model, that also reach a contract whose filter never
 *     holds, and that make the contract decide: per attestation and
 *     decisions per second beside plain attestations per second;
 *   - the trigger check when no contract listens and when one listens but
 *     its filter fails, per prediction;
 *   - the trigger check alone: decoding a listener entry of the trigger
 *     index and testing its filter on a prediction;
 *   - a host call, per call, beside the same loop without it.
 * Each figure is the best of ROUNDS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contracts/contracts.h"
#include "inference/inference.h"
#include "ledger/ledger.h"
#include "tests/ledger/world.h"
#include "vm/vm.h"

#define ROUNDS 3
#define BLOCKS 10
#define PER_BLOCK 200

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char review_asm[] =
    ".import pred_output i i -> i\n"
    ".import pred_subject -> b\n"
    ".import decide b b b b -> b\n"
    ".func on_prediction -> i\n"
    ".regs i i b b b b\n"
    "    ldi r0, 0\n    ldi r1, 3\n    host r0, pred_output\n"
    "    lds r2, \"review\"\n    host r3, pred_subject\n    itob r4, r0\n"
    "    lds r5, \"\"\n    host r2, decide\n    ret r0\n.end\n"
    ".export on_prediction on_prediction\n";

enum scenario { PLAIN, MODEL, FILTERED, DECIDING, SCENARIOS };
static const char *const scenario_names[SCENARIOS] = {
    "attestations, nothing triggered (reference)",
    "+ the model scores each one",
    "+ a contract listens, its filter fails",
    "+ the contract decides on each one",
};

/* Applies BLOCKS blocks of PER_BLOCK attestations; seconds taken. */
static double stream(struct world *w, const char *feed, int64_t *month)
{
    static struct ledger_tx txs[PER_BLOCK];
    struct ledger_tx *ptrs[PER_BLOCK];
    double total = 0;
    char why[WHY_SIZE];
    for (int b = 0; b < BLOCKS; b++) {
        for (int i = 0; i < PER_BLOCK; i++, (*month)++) {
            size_t size;
            uint8_t *env = attest_tx(&w->provider, w->provider_addr,
                                     w->provider_nonce++,
                                     (struct attest_spec){
                                         .time_ms = 946684800000LL +
                                                    *month * 3600000LL,
                                         .co2 = 38000 + *month % 1000,
                                         .feed = feed},
                                     &size);
            if (ledger_tx_decode(w->l, env, size, true, &txs[i], why,
                                 sizeof why))
                fail_msg("%s", why);
            free(env);
            ptrs[i] = &txs[i];
        }
        struct ledger_block blk;
        struct ledger_tip tip;
        ledger_tip(w->l, &tip);
        if (ledger_block_build(w->l, ptrs, PER_BLOCK, tip.time_ms + 1000, 0, 0,
                               &blk))
            fail_msg("build");
        double t0 = now();
        if (certify_and_apply(w, &blk, false, why))
            fail_msg("apply: %s", why);
        total += now() - t0;
        ledger_block_free(&blk);
        for (int i = 0; i < PER_BLOCK; i++)
            ledger_tx_release(&txs[i]);
    }
    return total;
}

static double run_scenario(enum scenario s, size_t *decisions)
{
    tx_size_max = 65536;
    struct world *w = new_world("bench");
    size_t ms, sz;
    uint8_t *bytes = read_model(&ms), model[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, ms, model);
    if (s != PLAIN &&
        commit1(w, register_tx(w, bytes, ms, &sz), &sz, NULL) !=
            WITAN__TX_STATUS__TX_STATUS_OK)
        fail_msg("register");
    free(bytes);
    if (s == FILTERED || s == DECIDING) {
        uint8_t *module = assemble(review_asm, &ms);
        struct deploy_spec d = {.module = module, .module_size = ms,
                                .model = model};
        if (s == FILTERED) { /* an anomaly above 1000 C never happens */
            d.filter = WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE;
            d.threshold = 1000000;
        }
        if (commit1(w, deploy_tx(w, d, &sz), &sz, NULL) !=
            WITAN__TX_STATUS__TX_STATUS_OK)
            fail_msg("deploy");
        free(module);
    }
    int64_t month = 0;
    double t = stream(w, s == PLAIN ? "bench/plain" : NULL, &month);
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    q.limit = WITAN_QUERY_PAGE_COUNT_MAX;
    Witan__DecisionsResponse *r;
    *decisions = 0;
    do {
        if (ledger_query_decisions(w->l, &q, &r))
            fail_msg("decisions");
        *decisions += r->n_decisions;
        bool more = r->next_cursor.len != 0;
        static uint8_t cur[512];
        if (more) {
            memcpy(cur, r->next_cursor.data, r->next_cursor.len);
            q.cursor = (ProtobufCBinaryData){r->next_cursor.len, cur};
        }
        ledger_decisions_response_free(r);
        if (!more)
            break;
    } while (1);
    free_world(w);
    tx_size_max = 4096;
    return t;
}

/* --- host-call overhead -------------------------------------------------------- */

static int no_get(void *ctx, const uint8_t *k, size_t ks, uint8_t **v,
                  size_t *vs)
{
    (void)ctx, (void)k, (void)ks, (void)v, (void)vs;
    return WITAN_ENOTFOUND;
}

static int no_usage(void *ctx, uint32_t *c, uint32_t *b)
{
    (void)ctx;
    *c = *b = 0;
    return 0;
}

static int no_feed(void *ctx, const char *f, const char *s, const char *v,
                   uint32_t n, int64_t *m, uint32_t *sc, uint32_t *found)
{
    (void)ctx, (void)f, (void)s, (void)v, (void)n, (void)m, (void)sc;
    *found = 0;
    return 0;
}

static int no_card(void *ctx, const uint8_t *h, struct contract_scorecard *c)
{
    (void)ctx, (void)h, (void)c;
    return WITAN_ENOTFOUND;
}

/* Seconds for `loops` iterations of a loop with or without a host call
 * (block_height) in its body; the same other instructions. */
static double host_loop(bool with_host, int64_t loops, uint64_t *gas)
{
    char text[512];
    snprintf(text, sizeof text,
             ".import block_height -> i\n"
             ".func f i -> i\n.regs i i\n"
             "    ldi r1, 0\nloop:\n    %s\n    forle r1, r0, loop\n"
             "    ret r1\n.end\n.export f f\n",
             with_host ? "host r2, block_height" : "addi r2, r2, 0");
    size_t size;
    uint8_t *bytes = assemble(text, &size);
    contract_runtime *rt;
    vm_module *m;
    vm_verify_error ve;
    if (contract_runtime_new(&rt) ||
        contract_module_load(rt, bytes, size, &m, &ve))
        fail_msg("load");
    const struct contract_state st = {no_get, no_usage, no_feed, no_card, NULL};
    uint8_t id[32] = {0}, caller[20] = {0};
    vm_value arg = vm_int(loops);
    struct contract_call c = {.module = m, .func = 0, .args = &arg,
                              .arg_count = 1, .gas = WITAN_VM_GAS_MAX,
                              .contract_id = id, .caller = caller,
                              .height = 7, .state = &st};
    struct contract_outcome o;
    double t0 = now();
    if (contract_run(rt, &c, &o) || o.status != WITAN__RUN_STATUS__RUN_OK)
        fail_msg("run");
    double t = now() - t0;
    *gas = o.res.gas_used;
    contract_outcome_free(&o);
    vm_module_free(m);
    contract_runtime_free(rt);
    free(bytes);
    return t;
}

/* Decoding a listener entry (one ABOVE trigger) and testing it on a
 * prediction that it does not admit: what the ledger does per contract
 * listening to a model, before any VM work. Seconds per check. */
static double trigger_check(int64_t n)
{
    Witan__ContractTrigger t = WITAN__CONTRACT_TRIGGER__INIT, *ts[] = {&t};
    uint8_t model[32] = {1};
    t.model_hash = (ProtobufCBinaryData){32, model};
    t.kind = WITAN__TRIGGER_KIND__TRIGGER_COMPUTED;
    t.filter = WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE;
    t.threshold_mantissa = 1000000;
    t.threshold_scale = 3;
    Witan__ContractListener ls = WITAN__CONTRACT_LISTENER__INIT;
    ls.start_height = 1;
    ls.n_triggers = 1;
    ls.triggers = ts;
    uint8_t buf[256];
    size_t size = witan__contract_listener__pack(&ls, buf);
    int64_t out[1] = {1 << 20};
    Witan__PredictionRecord p = WITAN__PREDICTION_RECORD__INIT;
    p.status = WITAN__PREDICTION_STATUS__PREDICTION_OK;
    p.computed = true;
    p.n_outputs = 1;
    p.outputs = out;
    p.output_frac_bits = 20;
    int64_t admitted = 0;
    double t0 = now();
    for (int64_t i = 0; i < n; i++) {
        Witan__ContractListener *l =
            witan__contract_listener__unpack(NULL, size, buf);
        admitted += contract_trigger_matches(l->triggers[0], &p);
        witan__contract_listener__free_unpacked(l, NULL);
    }
    double s = now() - t0;
    if (admitted)
        fail_msg("the filter admitted a prediction it must not");
    return s / n;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    double best[SCENARIOS];
    size_t decisions[SCENARIOS];
    for (int s = 0; s < SCENARIOS; s++) {
        best[s] = 1e9;
        for (int r = 0; r < ROUNDS; r++) {
            double t = run_scenario((enum scenario)s, &decisions[s]);
            best[s] = t < best[s] ? t : best[s];
        }
    }
    const double n = BLOCKS * PER_BLOCK;
    printf("ledger apply, %d blocks of %d signed attestations, durable "
           "commits, best of %d:\n",
           BLOCKS, PER_BLOCK, ROUNDS);
    for (int s = 0; s < SCENARIOS; s++)
        printf("  %-46s %8.2f us each  %9.0f /s  decisions %zu\n",
               scenario_names[s], best[s] / n * 1e6, n / best[s], decisions[s]);
    printf("  decisions per second beside plain attestations: %.0f vs %.0f "
           "(%.0f %%; target >= 50 %%)\n",
           decisions[DECIDING] / best[DECIDING], n / best[PLAIN],
           100.0 * (decisions[DECIDING] / best[DECIDING]) / (n / best[PLAIN]));
    printf("  trigger check with a listening contract whose filter fails: "
           "%+.2f us per prediction (FILTERED - MODEL; target < 1 us)\n",
           (best[FILTERED] - best[MODEL]) / n * 1e6);

    double check = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        double c = trigger_check(1000000);
        check = c < check ? c : check;
    }
    printf("  trigger check alone (decode the index entry, test the filter): "
           "%.3f us (target < 1 us)\n",
           check * 1e6);

    const int64_t loops = 2000000;
    double with = 1e9, without = 1e9;
    uint64_t gw = 0, gn = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = host_loop(true, loops, &gw), b = host_loop(false, loops, &gn);
        with = a < with ? a : with;
        without = b < without ? b : without;
    }
    printf("VM host call (block_height), %lld calls, best of %d:\n",
           (long long)loops, ROUNDS);
    printf("  loop with the call    %7.1f ns per iteration  (gas %llu)\n",
           with / loops * 1e9, (unsigned long long)gw);
    printf("  loop without it       %7.1f ns per iteration  (gas %llu)\n",
           without / loops * 1e9, (unsigned long long)gn);
    printf("  host-call overhead    %7.1f ns per call\n",
           (with - without) / loops * 1e9);
    return 0;
}
