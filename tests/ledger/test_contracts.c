/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision contracts in the ledger (spec/contracts.md), on real LMDB homes
 * with signed transactions and certified blocks: a prediction triggers a
 * contract that decides, and the decision's evidence leads back to the
 * attestation; filters; hostile contracts that loop, allocate, recurse and
 * flood storage end at their limits and change nothing; one contract's
 * trap does not stop the next; every refusal of the three new kinds;
 * retirement and replacement at a stated height; block gas; and two
 * ledgers that apply the same blocks agree on every root.
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
#include "vm/vm.h"

#define YEAR_2020_MS 1577836800000LL

/* Decides "review" for the prediction's subject when output 0 (in
 * thousandths) is at least the threshold it was given in storage key "t"
 * (absent: always), passing the value; counts its runs under "n". */
static const char review_asm[] =
    ".import pred_output i i -> i\n"
    ".import pred_subject -> b\n"
    ".import decide b b b b -> b\n"
    ".import store_get b -> b\n"
    ".import store_put b b -> v\n"
    ".func on_prediction -> i\n"
    ".regs i i b b b b i b\n"
    "    ldi r0, 0\n"
    "    ldi r1, 3\n"
    "    host r0, pred_output\n"     /* r0 = output 0 at scale 3 */
    "    lds r2, \"n\"\n"
    "    host r2, store_get\n"       /* r2 = count bytes (or empty) */
    "    blen r6, r2\n"
    "    ldi r1, 0\n"
    "    jeqi r6, 0, count\n"
    "    btoi r1, r2\n"
    "count:\n"
    "    addi r1, r1, 1\n"
    "    itob r3, r1\n"
    "    lds r2, \"n\"\n"
    "    host r2, store_put\n"
    "    lds r2, \"review\"\n"
    "    host r3, pred_subject\n"
    "    itob r4, r0\n"
    "    lds r5, \"\"\n"
    "    host r2, decide\n"          /* r2 = the decision's id */
    "    ret r0\n"
    ".end\n"
    ".export on_prediction on_prediction\n";

/* Writes storage and decides, then fails as told by `mode`:
 * 0 returns, 1 loops forever, 2 doubles a value until memory runs out,
 * 3 recurses without end, 4 writes storage until the run's write limit,
 * 5 aborts with code 7 after writing. */
static char *hostile_asm(int mode)
{
    static const char *const tails[] = {
        "    ret r0\n",
        "spin:\n    jmp spin\n",
        "    lds r3, \"xxxxxxxxxxxxxxxx\"\ngrow:\n    bcat r3, r3, r3\n    jmp grow\n",
        "    call r0, deep\n    ret r0\n",
        "    ldi r0, 0\nflood:\n    addi r0, r0, 1\n    itob r3, r0\n"
        "    mov r4, r3\n    host r3, store_put\n    jmp flood\n",
        "    ldi r0, 7\n    abort r0\n",
    };
    char *text = malloc(4096);
    snprintf(text, 4096,
             ".import store_put b b -> v\n"
             ".import decide b b b b -> b\n"
             ".func deep -> i\n.regs i\n    call r0, deep\n    ret r0\n.end\n"
             ".func on_prediction -> i\n"
             ".regs i i b b b b\n"
             "    lds r2, \"k\"\n    lds r3, \"v\"\n    host r2, store_put\n"
             "    lds r2, \"hostile\"\n    lds r3, \"s\"\n    lds r4, \"\"\n"
             "    lds r5, \"\"\n    host r2, decide\n"
             "    ldi r0, 1\n%s.end\n"
             ".export on_prediction on_prediction\n",
             tails[mode]);
    return text;
}

/* Exported entries for calls: add(i, i) -> i, echo(b) -> b, and a
 * decision taken by hand. */
static const char entries_asm[] =
    ".import decide b b b b -> b\n"
    ".import caller -> b\n"
    ".func add i i -> i\n    add r0, r0, r1\n    ret r0\n.end\n"
    ".func echo b -> b\n    ret r0\n.end\n"
    ".func by_hand b -> b\n.regs b b b\n"
    "    mov r1, r0\n    lds r0, \"manual\"\n    lds r2, \"\"\n"
    "    host r3, caller\n    host r0, decide\n    ret r0\n.end\n"
    ".export add add\n.export echo echo\n.export by_hand by_hand\n";

static uint8_t *retire_tx(struct world *w, const uint8_t id[32],
                          const wcrypto_keypair *kp, const uint8_t *sender,
                          uint64_t *nonce, size_t *size)
{
    Witan__RetireContract r = WITAN__RETIRE_CONTRACT__INIT;
    r.contract = (ProtobufCBinaryData){32, (uint8_t *)id};
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, (uint8_t *)sender};
    b.nonce = (*nonce)++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT;
    b.retire_contract = &r;
    (void)w;
    return sign_body(&b, kp, size);
}

/* A call by the provider (any member may call). */
static uint8_t *call_tx(struct world *w, const uint8_t id[32],
                        const char *entry, Witan__ContractArg **args,
                        size_t n, uint64_t gas, size_t *size)
{
    Witan__CallContract c = WITAN__CALL_CONTRACT__INIT;
    c.contract = (ProtobufCBinaryData){32, (uint8_t *)id};
    c.entry = (char *)entry;
    c.n_args = n;
    c.args = args;
    c.gas_limit = gas;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT;
    b.call_contract = &c;
    return sign_body(&b, &w->provider, size);
}

static uint8_t *attest_co2(struct world *w, int64_t month, int64_t co2,
                           size_t *size)
{
    return attest_tx(&w->provider, w->provider_addr, w->provider_nonce++,
                     (struct attest_spec){.time_ms = YEAR_2020_MS +
                                                     month * 2592000000LL,
                                          .co2 = co2},
                     size);
}

/* A world with the temperature model registered; its hash in model. */
static struct world *model_world(const char *name, uint8_t model[32])
{
    if (tx_size_max < 65536) /* the model's registration needs it */
        tx_size_max = 65536;
    struct world *w = new_world(name);
    size_t ms, sz;
    uint8_t *bytes = read_model(&ms);
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, ms, model);
    assert_int_equal(commit1(w, register_tx(w, bytes, ms, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(bytes);
    return w;
}

static uint32_t receipt_runs(struct world *w, const uint8_t tx[32])
{
    Witan__TxResponse *r;
    assert_int_equal(ledger_get_tx(w->l, tx, &r), 0);
    uint32_t n = r->receipt->run_count;
    ledger_tx_response_free(r);
    return n;
}

/* A prediction triggers the contract in the same block; the decision
 * carries the output and its evidence leads to the attestation. */
static void test_prediction_to_decision(void **state)
{
    (void)state;
    uint8_t model[32], id[32], att[32];
    struct world *w = model_world("decide", model);
    size_t ms, sz;
    uint8_t *module = assemble(review_asm, &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model},
                                          &sz),
                             &sz, id),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, attest_co2(w, 0, 41115, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(receipt_runs(w, att), 1);

    /* The prediction, and the value the contract must have seen:
     * round(o * 1000 / 2^f), halves away from zero. */
    Witan__PredictionsResponse *p = predictions(w, model);
    assert_int_equal(p->n_records, 1);
    const Witan__PredictionRecord *rec = p->records[0];
    assert_int_equal(rec->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
    __int128 num = (__int128)rec->outputs[0] * 1000;
    __int128 den = (__int128)1 << rec->output_frac_bits;
    __int128 mag = num < 0 ? -num : num;
    int64_t want = (int64_t)((mag * 2 + den) / (2 * den));
    want = num < 0 ? -want : want;

    Witan__RunsResponse *r = runs_of(w, att);
    assert_int_equal(r->n_runs, 1);
    assert_int_equal(r->runs[0]->status, WITAN__RUN_STATUS__RUN_OK);
    assert_memory_equal(r->runs[0]->contract.data, id, 32);
    assert_int_equal(r->runs[0]->result_type, VM_TYPE_INT);
    assert_int_equal(r->runs[0]->result_int, want);
    assert_true(r->runs[0]->gas > 0);
    assert_int_equal(r->n_decisions, 1);
    const Witan__Decision *d = r->decisions[0];
    assert_int_equal(d->kind.len, 6);
    assert_memory_equal(d->kind.data, "review", 6);
    assert_int_equal(d->subject.len, strlen("mauna-loa"));
    assert_int_equal(d->n_values, 1);
    assert_int_equal(d->values[0], want);
    assert_int_equal(d->prediction.len, 44);
    assert_memory_equal(d->prediction.data, model, 32);
    ledger_runs_response_free(r);

    /* The chain of evidence, by the decision's id. */
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    Witan__DecisionsResponse *list;
    assert_int_equal(ledger_query_decisions(w->l, &q, &list), 0);
    assert_int_equal(list->n_decisions, 1);
    q.id = list->decisions[0]->id;
    Witan__DecisionsResponse *one;
    assert_int_equal(ledger_query_decisions(w->l, &q, &one), 0);
    const Witan__DecisionEvidence *ev = one->decisions[0];
    assert_non_null(ev->contract);
    assert_memory_equal(ev->contract->id.data, id, 32);
    assert_int_equal(ev->contract->module.len, 0); /* not in evidence */
    assert_non_null(ev->run);
    assert_non_null(ev->prediction);
    assert_memory_equal(ev->prediction->tx_hash.data, att, 32);
    assert_non_null(ev->model);
    assert_true(ev->n_inputs >= 1);
    assert_memory_equal(ev->inputs[0]->tx_hash.data, att, 32);
    assert_string_equal(ev->inputs[0]->attest->feed, "climate/co2/mauna-loa");
    ledger_decisions_response_free(one);
    ledger_decisions_response_free(list);

    /* Filters by kind, subject, contract and height find it; others not. */
    static const struct {
        const char *kind, *subject;
        uint64_t from;
        size_t want;
    } f[] = {{"review", NULL, 0, 1}, {"other", NULL, 0, 0},
             {NULL, "mauna-loa", 0, 1}, {NULL, "elsewhere", 0, 0},
             {NULL, NULL, 1000, 0}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        Witan__DecisionsRequest fq = WITAN__DECISIONS_REQUEST__INIT;
        if (f[i].kind)
            fq.kind = (ProtobufCBinaryData){strlen(f[i].kind),
                                            (uint8_t *)f[i].kind};
        if (f[i].subject)
            fq.subject = (ProtobufCBinaryData){strlen(f[i].subject),
                                               (uint8_t *)f[i].subject};
        fq.from_height = f[i].from;
        Witan__DecisionsResponse *fr;
        assert_int_equal(ledger_query_decisions(w->l, &fq, &fr), 0);
        assert_int_equal(fr->n_decisions, f[i].want);
        ledger_decisions_response_free(fr);
    }
    Witan__DecisionsRequest cq = WITAN__DECISIONS_REQUEST__INIT;
    cq.contract = (ProtobufCBinaryData){32, id};
    Witan__DecisionsResponse *cr;
    assert_int_equal(ledger_query_decisions(w->l, &cq, &cr), 0);
    assert_int_equal(cr->n_decisions, 1);
    ledger_decisions_response_free(cr);

    /* The contract's storage counted the run: a second attestation makes
     * the count 2 (read back through a second decision's run). */
    assert_int_equal(commit1(w, attest_co2(w, 1, 41419, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    r = runs_of(w, att);
    assert_int_equal(r->n_runs, 1);
    assert_int_equal(r->runs[0]->write_count, 1);
    ledger_runs_response_free(r);
    ledger_predictions_response_free(p);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

/* ABOVE and BELOW filters decide exactly at the threshold, before any VM
 * work: no run record when the filter fails. */
static void test_filters(void **state)
{
    (void)state;
    uint8_t model[32], att[32], id_above[32], id_below[32];
    struct world *w = model_world("filters", model);
    size_t ms, sz;
    uint8_t *module = assemble(review_asm, &ms);
    /* First learn the output in thousandths from an unfiltered world. */
    assert_int_equal(commit1(w, attest_co2(w, 0, 41115, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__PredictionsResponse *p = predictions(w, model);
    const Witan__PredictionRecord *rec = p->records[0];
    /* value * 1000 exactly, as a rational: o * 1000 / 2^f */
    __int128 scaled = (__int128)rec->outputs[0] * 1000;
    int64_t floor_k = (int64_t)(scaled >> rec->output_frac_bits);
    bool exact = (scaled & (((__int128)1 << rec->output_frac_bits) - 1)) == 0;
    ledger_predictions_response_free(p);
    /* threshold floor_k: value > it unless exact; floor_k + 1: value < it */
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .filter = WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE,
                                                 .threshold = floor_k},
                                          &sz),
                             &sz, id_above),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .filter = WITAN__FILTER_OP__FILTER_OUTPUT_BELOW,
                                                 .threshold = floor_k + 1},
                                          &sz),
                             &sz, id_below),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    /* the same co2 and year again (another month): the same output */
    assert_int_equal(commit1(w, attest_co2(w, 1, 41115, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__RunsResponse *r = runs_of(w, att);
    assert_int_equal(r->n_runs, exact ? 1 : 2);
    /* runs go in contract id order */
    if (r->n_runs == 2)
        assert_true(memcmp(r->runs[0]->contract.data,
                           r->runs[1]->contract.data, 32) < 0);
    ledger_runs_response_free(r);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

/* Each hostile contract ends at its gas or limit with everything it did
 * discarded, and the next contract on the same prediction still runs. */
static void test_hostile_contracts(void **state)
{
    (void)state;
    static const struct {
        int mode;
        Witan__RunStatus status;
        uint32_t trap;
        Witan__HostError host;
    } cases[] = {
        {1, WITAN__RUN_STATUS__RUN_OUT_OF_GAS, VM_TRAP_GAS, 0},
        {2, WITAN__RUN_STATUS__RUN_TRAP, VM_TRAP_MEMORY, 0},
        {3, WITAN__RUN_STATUS__RUN_TRAP, VM_TRAP_DEPTH, 0},
        {4, WITAN__RUN_STATUS__RUN_TRAP, VM_TRAP_HOST,
         WITAN__HOST_ERROR__HOST_ERROR_RECORD_LIMIT},
        {5, WITAN__RUN_STATUS__RUN_TRAP, VM_TRAP_ABORT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t model[32], bad[32], good[32], att[32];
        struct world *w = model_world("hostile", model);
        size_t bs, gs, sz;
        char *text = hostile_asm(cases[i].mode);
        uint8_t *bad_m = assemble(text, &bs), *good_m = assemble(review_asm, &gs);
        free(text);
        uint64_t gas = 1000000;
        assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                     .module = bad_m,
                                                     .module_size = bs,
                                                     .model = model,
                                                     .gas = gas},
                                              &sz),
                                 &sz, bad),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                     .module = good_m,
                                                     .module_size = gs,
                                                     .model = model},
                                              &sz),
                                 &sz, good),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        struct ledger_tip before;
        ledger_tip(w->l, &before);
        assert_int_equal(commit1(w, attest_co2(w, 0, 41115, &sz), &sz, att),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        Witan__RunsResponse *r = runs_of(w, att);
        assert_int_equal(r->n_runs, 2);
        const Witan__ContractRun *hr = NULL, *gr = NULL;
        for (size_t k = 0; k < 2; k++) {
            if (memcmp(r->runs[k]->contract.data, bad, 32) == 0)
                hr = r->runs[k];
            else
                gr = r->runs[k];
        }
        assert_non_null(hr);
        assert_non_null(gr);
        assert_int_equal(hr->status, cases[i].status);
        assert_int_equal(hr->trap, cases[i].trap);
        assert_int_equal(hr->host_error, cases[i].host);
        if (cases[i].mode == 5)
            assert_int_equal(hr->abort_code, 7);
        if (cases[i].status == WITAN__RUN_STATUS__RUN_OUT_OF_GAS)
            assert_int_equal(hr->gas, gas);
        assert_true(hr->gas > 0 && hr->gas <= gas);
        /* nothing of the hostile run counts: no decision, no write */
        assert_int_equal(hr->decision_count, 0);
        assert_int_equal(hr->write_count, 0);
        assert_int_equal(gr->status, WITAN__RUN_STATUS__RUN_OK);
        assert_int_equal(r->n_decisions, 1);
        assert_memory_equal(r->decisions[0]->contract.data, good, 32);
        ledger_runs_response_free(r);
        Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
        q.contract = (ProtobufCBinaryData){32, bad};
        Witan__DecisionsResponse *d;
        assert_int_equal(ledger_query_decisions(w->l, &q, &d), 0);
        assert_int_equal(d->n_decisions, 0);
        ledger_decisions_response_free(d);
        free(bad_m);
        free(good_m);
        free_world(w);
    }
    tx_size_max = 4096;
}

/* Calls: results, traps, and every refusal of calls, deploys and
 * retirements, each with its receipt status. */
static void test_calls_and_refusals(void **state)
{
    (void)state;
    uint8_t model[32], id[32], tx[32], unknown[32];
    struct world *w = model_world("calls", model);
    memset(unknown, 0x5a, sizeof unknown);
    size_t ms, sz;
    uint8_t *module = assemble(entries_asm, &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms},
                                          &sz),
                             &sz, id),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__ContractArg a = WITAN__CONTRACT_ARG__INIT, b = a, t = a;
    a.value_case = b.value_case = WITAN__CONTRACT_ARG__VALUE_INT;
    a.int_ = 40;
    b.int_ = 2;
    t.value_case = WITAN__CONTRACT_ARG__VALUE_BYTES;
    t.bytes = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
    Witan__ContractArg *ab[] = {&a, &b}, *tb[] = {&t}, *ta[] = {&t, &a};

    assert_int_equal(commit1(w, call_tx(w, id, "add", ab, 2, 0, &sz), &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__RunsResponse *r = runs_of(w, tx);
    assert_int_equal(r->n_runs, 1);
    assert_int_equal(r->runs[0]->result_int, 42);
    assert_int_equal(r->runs[0]->prediction.len, 0);
    assert_memory_equal(r->runs[0]->caller.data, w->provider_addr, 20);
    ledger_runs_response_free(r);
    assert_int_equal(commit1(w, call_tx(w, id, "echo", tb, 1, 0, &sz), &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    r = runs_of(w, tx);
    assert_int_equal(r->runs[0]->result_type, VM_TYPE_BYTES);
    assert_int_equal(r->runs[0]->result_bytes.len, 5);
    assert_memory_equal(r->runs[0]->result_bytes.data, "hello", 5);
    ledger_runs_response_free(r);
    /* a decision by hand rests on no prediction; its id is returned */
    assert_int_equal(commit1(w, call_tx(w, id, "by_hand", tb, 1, 0, &sz), &sz,
                             tx),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    r = runs_of(w, tx);
    assert_int_equal(r->n_decisions, 1);
    assert_int_equal(r->decisions[0]->prediction.len, 0);
    assert_int_equal(r->runs[0]->result_bytes.len, 44);
    assert_memory_equal(r->runs[0]->result_bytes.data, id, 32);
    ledger_runs_response_free(r);

    /* add of (2^62) + (2^62) overflows: the call fails, with its trap */
    a.int_ = b.int_ = (int64_t)1 << 62;
    assert_int_equal(commit1(w, call_tx(w, id, "add", ab, 2, 0, &sz), &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_FAILED);
    r = runs_of(w, tx);
    assert_int_equal(r->runs[0]->status, WITAN__RUN_STATUS__RUN_TRAP);
    assert_int_equal(r->runs[0]->trap, VM_TRAP_OVERFLOW);
    char why[160];
    ledger_run_why(r->runs[0], why, sizeof why);
    assert_non_null(strstr(why, "integer overflow"));
    ledger_runs_response_free(r);

    const struct {
        const char *entry;
        Witan__ContractArg **args;
        size_t n;
        uint64_t gas;
        bool unknown_id;
        Witan__TxStatus want;
    } calls[] = {
        {"nope", NULL, 0, 0, false, WITAN__TX_STATUS__TX_STATUS_UNKNOWN_ENTRY},
        {"add", ta, 2, 0, false, WITAN__TX_STATUS__TX_STATUS_UNKNOWN_ENTRY},
        {"add", ab, 1, 0, false, WITAN__TX_STATUS__TX_STATUS_UNKNOWN_ENTRY},
        {"add", ab, 2, 20000000, false,
         WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD},
        {"add", ab, 2, 0, true, WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT},
    };
    a.int_ = 1;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        assert_int_equal(commit1(w, call_tx(w, calls[i].unknown_id ? unknown : id,
                                            calls[i].entry, calls[i].args,
                                            calls[i].n, calls[i].gas, &sz),
                                 &sz, tx),
                         calls[i].want);

    /* Deploys refused by state: gas over contract_gas_max, a model not
     * registered, replacing an unknown contract; by role: the provider. */
    uint8_t *review = NULL;
    size_t rs;
    review = assemble(review_asm, &rs);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .model = model,
                                                 .gas = 20000000},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .model = unknown},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MODEL);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .replaces = unknown},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .kp = &w->provider,
                                                 .sender = w->provider_addr,
                                                 .nonce = &w->provider_nonce},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_MISSING_ROLE);
    w->provider_nonce--;
    /* Retire: the provider is not its operator (and lacks the role);
     * the admin retires it; twice is refused; calls are then refused. */
    assert_int_equal(commit1(w, retire_tx(w, id, &w->provider,
                                          w->provider_addr,
                                          &w->provider_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_MISSING_ROLE);
    w->provider_nonce--; /* a missing role spends no nonce */
    assert_int_equal(commit1(w, retire_tx(w, unknown, &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT);
    assert_int_equal(commit1(w, retire_tx(w, id, &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, retire_tx(w, id, &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED);
    assert_int_equal(commit1(w, call_tx(w, id, "add", ab, 2, 0, &sz), &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED);
    free(review);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

/* Stateless refusals: a module that does not verify (with the VM's reason
 * and offset), triggers without on_prediction, bad triggers, bad calls. */
static void test_stateless_refusals(void **state)
{
    (void)state;
    uint8_t model[32];
    struct world *w = model_world("contract-stateless", model);
    size_t ms, sz;
    uint8_t *module = assemble(entries_asm, &ms), junk[] = {0, 'w', 'v', 'x', 1};
    char why[WHY_SIZE];
    struct ledger_tx tx;
    struct {
        struct deploy_spec d;
        const char *says;
    } cases[] = {
        {{.module = junk, .module_size = sizeof junk}, "bad magic"},
        {{.module = module, .module_size = ms, .model = model},
         "on_prediction"},
        {{.module = module, .module_size = ms, .model = model,
          .filter = (Witan__FilterOp)9},
         "unknown filter"},
        {{.module = module, .module_size = ms, .model = model,
          .filter = WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE, .threshold = 1},
         NULL}, /* valid trigger, but still no on_prediction */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *env = deploy_tx(w, cases[i].d, &sz);
        assert_int_not_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                              sizeof why),
                             0);
        if (cases[i].says && !strstr(why, cases[i].says))
            fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].says);
        free(env);
        w->admin_nonce--;
    }
    /* a call with an argument that has no value, and a bad entry name */
    Witan__ContractArg none = WITAN__CONTRACT_ARG__INIT, *args[] = {&none};
    uint8_t id[32] = {1};
    uint8_t *env = call_tx(w, id, "add", args, 1, 0, &sz);
    assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why, sizeof why),
                     WITAN_EINVAL);
    free(env);
    env = call_tx(w, id, "9lives", NULL, 0, 0, &sz);
    assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why, sizeof why),
                     WITAN_EINVAL);
    free(env);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

/* A retired contract no longer triggers; a replacement with a start
 * height takes over exactly there, and the old one acts until then. */
static void test_retire_and_replace(void **state)
{
    (void)state;
    uint8_t model[32], v1[32], v2[32], att[32];
    struct world *w = model_world("replace", model);
    size_t ms, sz;
    uint8_t *module = assemble(review_asm, &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model},
                                          &sz),
                             &sz, v1),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    uint64_t start = tip.height + 3; /* two blocks from now */
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .replaces = v1,
                                                 .start_height = start},
                                          &sz),
                             &sz, v2),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    /* heights start-1 (v1 runs), start and start+1 (v2 runs) */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(commit1(w, attest_co2(w, i, 41115 + i, &sz), &sz, att),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        Witan__RunsResponse *r = runs_of(w, att);
        assert_int_equal(r->n_runs, 1);
        assert_memory_equal(r->runs[0]->contract.data, i == 0 ? v1 : v2, 32);
        assert_int_equal(r->runs[0]->height, start - 1 + (uint64_t)i);
        ledger_runs_response_free(r);
    }
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = (ProtobufCBinaryData){32, v1};
    Witan__ContractsResponse *c;
    assert_int_equal(ledger_query_contracts(w->l, &q, &c), 0);
    assert_true(c->contracts[0]->retired);
    assert_int_equal(c->contracts[0]->retired_height, start);
    assert_memory_equal(c->contracts[0]->replaced_by.data, v2, 32);
    ledger_contracts_response_free(c);
    /* retire v2: the next prediction runs nothing */
    assert_int_equal(commit1(w, retire_tx(w, v2, &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, attest_co2(w, 3, 41200, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(receipt_runs(w, att), 0);
    /* listing by model: both still listed only while indexed */
    Witan__ContractsRequest lq = WITAN__CONTRACTS_REQUEST__INIT;
    Witan__ContractsResponse *all;
    assert_int_equal(ledger_query_contracts(w->l, &lq, &all), 0);
    assert_int_equal(all->n_contracts, 2);
    assert_int_equal(all->contracts[0]->module.len, 0);
    ledger_contracts_response_free(all);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

/* When the block's gas cannot cover a run's limit, the run is recorded
 * as not run, with no gas, and the block commits: a contract that spends
 * its whole limit on the first prediction leaves too little for the
 * second in the same block. */
static void test_block_gas(void **state)
{
    (void)state;
    block_gas_max = 2000000;
    contract_gas_max = 1500000;
    uint8_t model[32];
    struct world *w = model_world("block-gas", model);
    size_t ms, sz[2];
    char *text = hostile_asm(1);
    uint8_t *module = assemble(text, &ms);
    free(text);
    size_t one;
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model,
                                                 .gas = 1500000},
                                          &one),
                             &one, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t *env[2], hashes[2][32];
    char why[WHY_SIZE];
    for (int i = 0; i < 2; i++) {
        env[i] = attest_co2(w, i, 41115 + i, &sz[i]);
        struct ledger_tx tx;
        assert_int_equal(ledger_tx_decode(w->l, env[i], sz[i], false, &tx, why,
                                          sizeof why),
                         0);
        memcpy(hashes[i], tx.hash, 32);
        ledger_tx_release(&tx);
    }
    Witan__TxStatus st[2];
    commit_block(w, env, sz, 2, st);
    static const Witan__RunStatus want[2] = {
        WITAN__RUN_STATUS__RUN_OUT_OF_GAS, WITAN__RUN_STATUS__RUN_BLOCK_GAS};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
        Witan__RunsResponse *r = runs_of(w, hashes[i]);
        assert_int_equal(r->n_runs, 1);
        assert_int_equal(r->runs[0]->status, want[i]);
        assert_int_equal(r->runs[0]->gas, i == 0 ? 1500000 : 0);
        ledger_runs_response_free(r);
        free(env[i]);
    }
    free(module);
    free_world(w);
    tx_size_max = 4096;
    block_gas_max = 1000000000;
    contract_gas_max = 10000000;
}

/* Two ledgers that apply the same blocks with contracts hold the same
 * state roots. */
static void test_same_roots(void **state)
{
    (void)state;
    uint8_t model[32];
    struct world *a = model_world("roots-a", model);
    struct world *b = model_world("roots-b", model);
    size_t ms, sz;
    uint8_t *module = assemble(review_asm, &ms);
    struct world *both[] = {a, b};
    for (int k = 0; k < 2; k++) {
        struct world *w = both[k];
        assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                     .module = module,
                                                     .module_size = ms,
                                                     .model = model},
                                              &sz),
                                 &sz, NULL),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        for (int i = 0; i < 3; i++)
            assert_int_equal(commit1(w, attest_co2(w, i, 41100 + 50 * i, &sz),
                                     &sz, NULL),
                             WITAN__TX_STATUS__TX_STATUS_OK);
    }
    struct ledger_tip ta, tb;
    ledger_tip(a->l, &ta);
    ledger_tip(b->l, &tb);
    assert_int_equal(ta.height, tb.height);
    assert_memory_equal(ta.state_root, tb.state_root, 32);
    assert_memory_equal(ta.receipts_root, tb.receipts_root, 32);
    free(module);
    free_world(a);
    free_world(b);
    tx_size_max = 4096;
}

/* Storage: a contract's quota holds across runs (a run that would pass it
 * traps and writes nothing), and deleting frees room; another operator
 * can neither retire nor replace a contract that is not theirs. */
static void test_storage_quota_and_operators(void **state)
{
    (void)state;
    uint8_t model[32], id[32], tx[32];
    struct world *w = model_world("quota", model);
    static char text[4096];
    char big[1025];
    memset(big, 'x', 1024);
    big[1024] = 0;
    snprintf(text, sizeof text,
             ".import store_put b b -> v\n.import store_del b -> v\n"
             ".bytes BIG \"%s\"\n"
             ".func fill i -> i\n.regs i b b\n    addi r1, r0, 60\n"
             "put:\n    itob r2, r0\n    lds r3, BIG\n    host r2, store_put\n"
             "    addi r0, r0, 1\n    jlt r0, r1, put\n    ret r0\n.end\n"
             ".func drop i -> i\n.regs i b\n    addi r1, r0, 60\n"
             "del:\n    itob r2, r0\n    host r2, store_del\n"
             "    addi r0, r0, 1\n    jlt r0, r1, del\n    ret r0\n.end\n"
             ".export fill fill\n.export drop drop\n",
             big);
    size_t ms, sz;
    uint8_t *module = assemble(text, &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .gas = 1000000},
                                          &sz),
                             &sz, id),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);
    Witan__ContractArg a = WITAN__CONTRACT_ARG__INIT, *args[] = {&a};
    a.value_case = WITAN__CONTRACT_ARG__VALUE_INT;
    /* 60 keys of 8 bytes with 1,024-byte values: 61,920 bytes a run; the
     * quota of 262,144 takes four */
    for (int i = 0; i < 5; i++) {
        a.int_ = 60 * i;
        Witan__TxStatus st = commit1(w, call_tx(w, id, "fill", args, 1, 0, &sz),
                                     &sz, tx);
        Witan__RunsResponse *r = runs_of(w, tx);
        if (i < 4) {
            assert_int_equal(st, WITAN__TX_STATUS__TX_STATUS_OK);
            assert_int_equal(r->runs[0]->write_count, 60);
        } else {
            assert_int_equal(st, WITAN__TX_STATUS__TX_STATUS_CONTRACT_FAILED);
            assert_int_equal(r->runs[0]->trap, VM_TRAP_HOST);
            assert_int_equal(r->runs[0]->host_error,
                             WITAN__HOST_ERROR__HOST_ERROR_STORAGE_LIMIT);
        }
        ledger_runs_response_free(r);
    }
    /* freeing one run's keys makes room for one more */
    a.int_ = 0;
    assert_int_equal(commit1(w, call_tx(w, id, "drop", args, 1, 0, &sz), &sz,
                             NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    a.int_ = 240;
    assert_int_equal(commit1(w, call_tx(w, id, "fill", args, 1, 0, &sz), &sz,
                             NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    a.int_ = 300;
    assert_int_equal(commit1(w, call_tx(w, id, "fill", args, 1, 0, &sz), &sz,
                             NULL),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_FAILED);

    /* the provider becomes a contract operator, but not of this one */
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    rc.address = (ProtobufCBinaryData){20, w->provider_addr};
    rc.role = WITAN__ROLE__ROLE_CONTRACT_OPERATOR;
    Witan__Membership m = WITAN__MEMBERSHIP__INIT;
    m.change_case = WITAN__MEMBERSHIP__CHANGE_GRANT;
    m.grant = &rc;
    assert_int_equal(commit1(w, membership_tx(w, &m, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, retire_tx(w, id, &w->provider,
                                          w->provider_addr,
                                          &w->provider_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_OPERATOR);
    size_t rs;
    uint8_t *review = assemble(review_asm, &rs);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .replaces = id,
                                                 .kp = &w->provider,
                                                 .sender = w->provider_addr,
                                                 .nonce = &w->provider_nonce},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_OPERATOR);
    /* but may deploy its own */
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = review,
                                                 .module_size = rs,
                                                 .kp = &w->provider,
                                                 .sender = w->provider_addr,
                                                 .nonce = &w->provider_nonce},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(review);
    free_world(w);
    tx_size_max = 4096;
}

/* A module with its source over the default transaction size: refused at
 * admission by a chain with the default tx_size_max, deployed by one whose
 * genesis raised it; the source comes back verbatim. */
static void test_large_source(void **state)
{
    (void)state;
    enum { SOURCE = 100000 };
    char *source = malloc(SOURCE + 1);
    for (size_t i = 0; i < SOURCE; i++)
        source[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
    source[SOURCE] = 0;
    size_t ms, sz;
    uint8_t *module = assemble(entries_asm, &ms);
    for (int round = 0; round < 2; round++) {
        tx_size_max = round ? 200000 : 65536;
        uint8_t model[32], id[32];
        struct world *w = model_world("large-source", model);
        Witan__DeployContract dc = WITAN__DEPLOY_CONTRACT__INIT;
        dc.name = "documented";
        dc.module = (ProtobufCBinaryData){ms, module};
        dc.language = "witan-asm";
        dc.source = source;
        dc.gas_limit = 1000;
        Witan__TxBody b = WITAN__TX_BODY__INIT;
        b.chain_id = "witan-test";
        b.sender = (ProtobufCBinaryData){20, w->admin_addr};
        b.nonce = w->admin_nonce++;
        b.payload_case = WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT;
        b.deploy_contract = &dc;
        uint8_t *env = sign_body(&b, &w->admin, &sz);
        if (round == 0) {
            struct ledger_tx tx;
            char why[WHY_SIZE];
            assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                              sizeof why),
                             WITAN_ELIMIT);
            free(env);
        } else {
            assert_int_equal(commit1(w, env, &sz, id),
                             WITAN__TX_STATUS__TX_STATUS_OK);
            Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
            q.id = (ProtobufCBinaryData){32, id};
            Witan__ContractsResponse *c;
            assert_int_equal(ledger_query_contracts(w->l, &q, &c), 0);
            assert_string_equal(c->contracts[0]->source, source);
            ledger_contracts_response_free(c);
        }
        free_world(w);
    }
    free(module);
    free(source);
    tx_size_max = 4096;
}

/* --- scorecards -------------------------------------------------------------- */

/* Decides "mse" with the model's recent mean squared error at scale 6,
 * read through model_score (its first run, with nothing resolved yet,
 * traps NOT_FOUND). */
static const char mse_asm[] =
    ".import pred_model -> b\n"
    ".import model_score i i b -> i\n"
    ".import decide b b b b -> b\n"
    ".func on_prediction -> i\n"
    ".regs i i b b b b\n"
    "    ldi r0, 5\n    ldi r1, 6\n    host r2, pred_model\n"
    "    host r0, model_score\n"
    "    lds r2, \"mse\"\n    lds r3, \"\"\n    itob r4, r0\n    lds r5, \"\"\n"
    "    host r2, decide\n    ret r0\n.end\n"
    ".export on_prediction on_prediction\n";

/* The reference: what spec/contracts.md section 7 says the sums are,
 * written independently of ledger/scores.c. */
struct reference {
    uint64_t count;
    unsigned __int128 sq, abs;
    int64_t errors[64];
    size_t n;
};

static int64_t to_fixed(int64_t m, uint32_t s, uint32_t f)
{
    __int128 p10 = 1;
    for (uint32_t i = 0; i < s; i++)
        p10 *= 10;
    __int128 num = (__int128)m << f;
    /* C division truncates: adding half the divisor away from zero first
     * rounds halves away from zero */
    return (int64_t)((num + (num < 0 ? -p10 / 2 : p10 / 2)) / p10);
}

static unsigned __int128 window_sum(const struct reference *r, size_t from,
                                    bool squares)
{
    unsigned __int128 t = 0;
    for (size_t i = from; i < r->n; i++) {
        __int128 e = r->errors[i];
        t += squares ? (unsigned __int128)(e * e)
                     : (unsigned __int128)(e < 0 ? -e : e);
    }
    return t;
}

/* Four years of Mauna Loa CO2 and the global temperature anomaly from
 * tests/fixtures/data: each month's CO2 triggers the temperature model,
 * whose target is that month's anomaly (horizon 0); its scorecard must
 * equal the reference, also after one observation is corrected, and a
 * contract reading model_score sees the same mean. */
static void test_scorecard_against_reference(void **state)
{
    (void)state;
    enum { MONTHS = 48, WINDOW = 12 };
    tx_size_max = 65536;
    struct world *w = new_world("scorecard");
    size_t ms, sz[2];
    uint8_t *bytes = read_model(&ms), model[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, ms, model);
    Witan__ModelTarget target = WITAN__MODEL_TARGET__INIT;
    target.feed = "climate/temp/global";
    target.value = "anomaly";
    target.window = WINDOW;
    assert_int_equal(commit1(w, register_target_tx(w, bytes, ms, &target,
                                                   &sz[0]),
                             &sz[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(bytes);
    size_t cs;
    uint8_t *mse_m = assemble(mse_asm, &cs);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = mse_m,
                                                 .module_size = cs,
                                                 .model = model},
                                          &sz[0]),
                             &sz[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(mse_m);

    /* The two series, January 2000 on. */
    char *co2_csv, *temp_csv;
    size_t co2_size, temp_size;
    assert_int_equal(witan_read_file("tests/fixtures/data/co2-mm-mlo.csv",
                                     1 << 24, &co2_csv, &co2_size),
                     0);
    assert_int_equal(witan_read_file("tests/fixtures/data/global-temp-monthly.csv",
                                     1 << 24, &temp_csv, &temp_size),
                     0);
    static struct witan_csv rc, rt;
    char why[WHY_SIZE];
    witan_csv_init(&rc, co2_csv, co2_size);
    witan_csv_init(&rt, temp_csv, temp_size);
    char months[MONTHS][8];
    int64_t co2_m[MONTHS], temp_m[MONTHS];
    uint32_t co2_s[MONTHS], temp_s[MONTHS];
    size_t have = 0;
    while (have < MONTHS && witan_csv_next(&rc, why, sizeof why) == 1)
        if (rc.count >= 3 && strncmp(rc.fields[0], "2000-01", 7) >= 0 &&
            rc.fields[0][4] == '-') {
            snprintf(months[have], sizeof months[have], "%.7s", rc.fields[0]);
            parse_decimal(rc.fields[2], &co2_m[have], &co2_s[have]);
            have++;
        }
    assert_int_equal(have, MONTHS);
    size_t got = 0;
    while (got < MONTHS && witan_csv_next(&rt, why, sizeof why) == 1)
        if (rt.count == 3 && strcmp(rt.fields[0], "gcag") == 0 &&
            strcmp(rt.fields[1], months[got]) == 0) {
            parse_decimal(rt.fields[2], &temp_m[got], &temp_s[got]);
            got++;
        }
    assert_int_equal(got, MONTHS);
    free(co2_csv);
    free(temp_csv);

    uint8_t last_temp_tx[32];
    for (size_t i = 0; i < MONTHS; i++) {
        uint8_t *env[2];
        int64_t t = month_ms(months[i]);
        env[0] = value_tx(w, "climate/co2/mauna-loa", "mauna-loa", "co2", t, co2_m[i],
                          co2_s[i], NULL, &sz[0]);
        env[1] = value_tx(w, "climate/temp/global", "mauna-loa", "anomaly", t, temp_m[i],
                          temp_s[i], NULL, &sz[1]);
        struct ledger_tx tx;
        assert_int_equal(ledger_tx_decode(w->l, env[1], sz[1], false, &tx, why,
                                          sizeof why),
                         0);
        memcpy(last_temp_tx, tx.hash, 32);
        ledger_tx_release(&tx);
        Witan__TxStatus st[2];
        commit_block(w, env, sz, 2, st);
        assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
        assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_OK);
        free(env[0]);
        free(env[1]);
    }

    /* The reference over the ledger's own predictions (height order). */
    Witan__PredictionsResponse *p = predictions(w, model);
    assert_int_equal(p->n_records, MONTHS);
    struct reference ref = {0};
    for (size_t i = 0; i < MONTHS; i++) {
        const Witan__PredictionRecord *rec = p->records[i];
        assert_int_equal(rec->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
        int64_t e = rec->outputs[0] -
                    to_fixed(temp_m[i], temp_s[i], rec->output_frac_bits);
        ref.errors[ref.n++] = e;
    }
    uint32_t f = p->records[0]->output_frac_bits;
    /* The contract's last run saw months 0..46 resolved: recent MSE over
     * months 35..46 at scale 6. */
    {
        struct reference before = ref;
        before.n = MONTHS - 1;
        unsigned __int128 s2 = window_sum(&before, before.n - WINDOW, true);
        unsigned __int128 den = (unsigned __int128)WINDOW << (2 * f);
        unsigned __int128 want = (s2 * 1000000 + den / 2) / den;
        Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
        Witan__DecisionsResponse *d;
        q.limit = 1000;
        assert_int_equal(ledger_query_decisions(w->l, &q, &d), 0);
        assert_int_equal(d->n_decisions, MONTHS - 1); /* month 0 trapped */
        const Witan__Decision *last = d->decisions[d->n_decisions - 1]->decision;
        assert_int_equal(last->values[0], (int64_t)want);
        ledger_decisions_response_free(d);
    }
    Witan__ScorecardRequest sq = WITAN__SCORECARD_REQUEST__INIT;
    sq.model_hash = (ProtobufCBinaryData){32, model};
    for (int round = 0; round < 2; round++) {
        Witan__ScorecardResponse *c;
        assert_int_equal(ledger_get_scorecard(w->l, &sq, &c), 0);
        assert_non_null(c->scorecard);
        assert_non_null(c->target);
        assert_int_equal(c->scorecard->count, MONTHS);
        unsigned __int128 s2 = window_sum(&ref, 0, true),
                          s1 = window_sum(&ref, 0, false),
                          r2 = window_sum(&ref, MONTHS - WINDOW, true),
                          r1 = window_sum(&ref, MONTHS - WINDOW, false);
        assert_int_equal(c->scorecard->sum_sq_hi, (uint64_t)(s2 >> 64));
        assert_int_equal(c->scorecard->sum_sq_lo, (uint64_t)s2);
        assert_int_equal(c->scorecard->sum_abs_hi, (uint64_t)(s1 >> 64));
        assert_int_equal(c->scorecard->sum_abs_lo, (uint64_t)s1);
        assert_int_equal(c->recent_count, WINDOW);
        assert_int_equal(c->recent_sum_sq_lo, (uint64_t)r2);
        assert_int_equal(c->recent_sum_abs_lo, (uint64_t)r1);
        assert_int_equal(c->scorecard->n_recent_errors, WINDOW);
        for (size_t i = 0; i < WINDOW; i++)
            assert_int_equal(c->scorecard->recent_errors[i],
                             ref.errors[MONTHS - WINDOW + i]);
        assert_false(c->scorecard->saturated);
        ledger_scorecard_response_free(c);
        if (round == 1)
            break;
        /* Correct the last month's anomaly: its prediction is re-scored. */
        temp_m[MONTHS - 1] += 250;
        uint8_t *env = value_tx(w, "climate/temp/global", "mauna-loa", "anomaly",
                                month_ms(months[MONTHS - 1]),
                                temp_m[MONTHS - 1], temp_s[MONTHS - 1],
                                last_temp_tx, &sz[0]);
        assert_int_equal(commit1(w, env, &sz[0], NULL),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        ref.errors[MONTHS - 1] =
            p->records[MONTHS - 1]->outputs[0] -
            to_fixed(temp_m[MONTHS - 1], temp_s[MONTHS - 1], f);
    }
    ledger_predictions_response_free(p);
    free_world(w);
    tx_size_max = 4096;
}

/* --- host functions and trigger kinds ---------------------------------------- */

#define PACK "    itob r7, r0\n    bcat r6, r6, r7\n"

/* Reads every prediction, feed and block host function and decides "probe"
 * with values (status, label, computed, output count, input count, input 0
 * at scale 2, input 1 at scale 0, the latest Mauna Loa co2 at scale 2,
 * height, time) and data self_id ‖ pred_input_txs. Its entry "nopred"
 * reads pred_status in a call. */
static const char probe_asm[] =
    ".import pred_status -> i\n"
    ".import pred_label -> i\n"
    ".import pred_computed -> i\n"
    ".import pred_output_count -> i\n"
    ".import pred_input_count -> i\n"
    ".import pred_input i i -> i\n"
    ".import pred_input_txs -> b\n"
    ".import feed_latest i b b b -> i\n"
    ".import self_id -> b\n"
    ".import block_time -> i\n"
    ".import block_height -> i\n"
    ".import decide b b b b -> b\n"
    ".func on_prediction -> i\n"
    ".regs i i b b b b b b b\n"
    "    lds r6, \"\"\n"
    "    host r0, pred_status\n" PACK
    "    host r0, pred_label\n" PACK
    "    host r0, pred_computed\n" PACK
    "    host r0, pred_output_count\n" PACK
    "    host r0, pred_input_count\n" PACK
    "    ldi r0, 0\n    ldi r1, 2\n    host r0, pred_input\n" PACK
    "    ldi r0, 1\n    ldi r1, 0\n    host r0, pred_input\n" PACK
    "    ldi r1, 2\n    lds r2, \"climate/co2/mauna-loa\"\n"
    "    lds r3, \"mauna-loa\"\n    lds r4, \"co2\"\n"
    "    host r1, feed_latest\n    mov r0, r1\n" PACK
    "    host r0, block_height\n" PACK
    "    host r0, block_time\n" PACK
    "    host r8, self_id\n"
    "    host r7, pred_input_txs\n"
    "    bcat r8, r8, r7\n"
    "    lds r2, \"probe\"\n    lds r3, \"\"\n    mov r4, r6\n    mov r5, r8\n"
    "    host r2, decide\n"
    "    ldi r0, 0\n    ret r0\n.end\n"
    ".func nopred -> i\n.regs i\n    host r0, pred_status\n    ret r0\n.end\n"
    ".export on_prediction on_prediction\n.export nopred nopred\n";

/* A contract whose on_prediction makes one failing host call. */
static char *failing_asm(const char *body)
{
    char *text = malloc(2048);
    snprintf(text, 2048,
             ".import pred_output i i -> i\n"
             ".import pred_input i i -> i\n"
             ".import feed_latest i b b b -> i\n"
             ".func on_prediction -> i\n.regs i i b b b\n%s"
             "    ret r0\n.end\n.export on_prediction on_prediction\n",
             body);
    return text;
}

/* Each host function returns what the test knows it must: the attestation
 * of co2 411.15 ppm in 2020 triggers the temperature model (inputs co2 and
 * year, one output, no label); the failing calls trap with ARGUMENT, RANGE
 * and NOT_FOUND; pred_status in a call traps NO_PREDICTION. */
static void test_host_functions(void **state)
{
    (void)state;
    uint8_t model[32], probe[32], att[32], tx[32];
    struct world *w = model_world("host-functions", model);
    size_t ms, sz;
    uint8_t *module = assemble(probe_asm, &ms);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = module,
                                                 .module_size = ms,
                                                 .model = model},
                                          &sz),
                             &sz, probe),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);
    static const struct {
        const char *body;
        Witan__HostError want;
    } failing[] = {
        /* output 1 of a model with one output */
        {"    ldi r0, 1\n    ldi r1, 0\n    host r0, pred_output\n",
         WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT},
        /* scale 19 */
        {"    ldi r0, 0\n    ldi r1, 19\n    host r0, pred_output\n",
         WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT},
        /* input 2 of two */
        {"    ldi r0, 2\n    ldi r1, 0\n    host r0, pred_input\n",
         WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT},
        /* 411.15 at scale 18 is 4.1e20: over int64 */
        {"    ldi r0, 0\n    ldi r1, 18\n    host r0, pred_input\n",
         WITAN__HOST_ERROR__HOST_ERROR_RANGE},
        /* a subject nobody attested */
        {"    ldi r1, 2\n    lds r2, \"climate/co2/mauna-loa\"\n"
         "    lds r3, \"elsewhere\"\n    lds r4, \"co2\"\n"
         "    host r1, feed_latest\n",
         WITAN__HOST_ERROR__HOST_ERROR_NOT_FOUND},
        /* a value the observations lack */
        {"    ldi r1, 2\n    lds r2, \"climate/co2/mauna-loa\"\n"
         "    lds r3, \"mauna-loa\"\n    lds r4, \"ch4\"\n"
         "    host r1, feed_latest\n",
         WITAN__HOST_ERROR__HOST_ERROR_NOT_FOUND},
        /* a feed name with a capital: not a feed name */
        {"    ldi r1, 2\n    lds r2, \"Climate/co2\"\n"
         "    lds r3, \"mauna-loa\"\n    lds r4, \"co2\"\n"
         "    host r1, feed_latest\n",
         WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT},
        /* scale 19 for feed_latest */
        {"    ldi r1, 19\n    lds r2, \"climate/co2/mauna-loa\"\n"
         "    lds r3, \"mauna-loa\"\n    lds r4, \"co2\"\n"
         "    host r1, feed_latest\n",
         WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT},
    };
    enum { FAILING = sizeof failing / sizeof failing[0] };
    uint8_t fail_id[FAILING][32];
    for (size_t i = 0; i < FAILING; i++) {
        char *text = failing_asm(failing[i].body);
        module = assemble(text, &ms);
        free(text);
        assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                     .module = module,
                                                     .module_size = ms,
                                                     .model = model},
                                              &sz),
                                 &sz, fail_id[i]),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        free(module);
    }

    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    /* co2 411.15 ppm observed in January 2020 (month 0) */
    assert_int_equal(commit1(w, attest_co2(w, 0, 41115, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__RunsResponse *r = runs_of(w, att);
    assert_int_equal(r->n_runs, 1 + FAILING);
    const Witan__ContractRun *pr = NULL;
    for (size_t k = 0; k < r->n_runs; k++) {
        const Witan__ContractRun *run = r->runs[k];
        if (memcmp(run->contract.data, probe, 32) == 0) {
            pr = run;
            continue;
        }
        size_t i = 0;
        while (i < FAILING && memcmp(run->contract.data, fail_id[i], 32))
            i++;
        assert_true(i < FAILING);
        if (run->status != WITAN__RUN_STATUS__RUN_TRAP ||
            run->trap != VM_TRAP_HOST ||
            run->host_error != failing[i].want)
            fail_msg("failing case %zu: status %d trap %u host error %d, "
                     "want host error %d",
                     i, run->status, run->trap, run->host_error,
                     failing[i].want);
    }
    assert_non_null(pr);
    assert_int_equal(pr->status, WITAN__RUN_STATUS__RUN_OK);
    assert_int_equal(pr->decision_count, 1);
    assert_int_equal(r->n_decisions, 1);
    const Witan__Decision *d = r->decisions[0];
    assert_memory_equal(d->contract.data, probe, 32);
    const int64_t want[] = {
        1,                   /* PREDICTION_OK */
        0,                   /* a regression has no label */
        1,                   /* computed by the ledger */
        1,                   /* one output: the anomaly */
        2,                   /* co2 and year */
        41115,               /* 411.15 at scale 2 */
        2020,                /* the observation's year */
        41115,               /* feed_latest of the same value */
        (int64_t)tip.height + 1,
        tip.time_ms + 1000,  /* commit_block's block time */
    };
    enum { WANT = sizeof want / sizeof want[0] };
    assert_int_equal(d->n_values, WANT);
    for (size_t i = 0; i < WANT; i++)
        if (d->values[i] != want[i])
            fail_msg("value %zu: %lld, want %lld", i, (long long)d->values[i],
                     (long long)want[i]);
    assert_int_equal(d->height, tip.height + 1);
    /* data: the contract's id, then the attestation of each input */
    assert_int_equal(d->data.len, 32 + 2 * 32);
    assert_memory_equal(d->data.data, probe, 32);
    assert_memory_equal(d->data.data + 32, att, 32);
    assert_memory_equal(d->data.data + 64, att, 32);
    ledger_runs_response_free(r);

    /* A second observation: feed_latest follows it, the height and time
     * advance. */
    ledger_tip(w->l, &tip);
    assert_int_equal(commit1(w, attest_co2(w, 1, 41234, &sz), &sz, att),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    r = runs_of(w, att);
    assert_int_equal(r->n_decisions, 1);
    d = r->decisions[0];
    assert_int_equal(d->n_values, WANT);
    assert_int_equal(d->values[5], 41234);
    assert_int_equal(d->values[7], 41234);
    assert_int_equal(d->values[8], (int64_t)tip.height + 1);
    assert_int_equal(d->values[9], tip.time_ms + 1000);
    assert_memory_equal(d->data.data + 32, att, 32);
    ledger_runs_response_free(r);

    /* In a call there is no prediction. */
    assert_int_equal(commit1(w, call_tx(w, probe, "nopred", NULL, 0, 0, &sz),
                             &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_FAILED);
    r = runs_of(w, tx);
    assert_int_equal(r->n_runs, 1);
    assert_int_equal(r->runs[0]->trap, VM_TRAP_HOST);
    assert_int_equal(r->runs[0]->host_error,
                     WITAN__HOST_ERROR__HOST_ERROR_NO_PREDICTION);
    ledger_runs_response_free(r);
    free_world(w);
    tx_size_max = 4096;
}

/* Returns label × 10 + computed. */
static const char kind_asm[] =
    ".import pred_label -> i\n.import pred_computed -> i\n"
    ".func on_prediction -> i\n.regs i i\n"
    "    host r0, pred_label\n    muli r0, r0, 10\n"
    "    host r1, pred_computed\n    add r0, r0, r1\n    ret r0\n.end\n"
    ".export on_prediction on_prediction\n";

static uint8_t *score_inputs_tx(struct world *w, const uint8_t hash[32],
                                const int64_t *m, const uint32_t *sc,
                                size_t n, size_t *size)
{
    Witan__NamedValue v[4], *vp[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        witan__named_value__init(&v[i]);
        v[i].name = "";
        v[i].mantissa = m[i];
        v[i].scale = sc[i];
        vp[i] = &v[i];
    }
    Witan__Score s = WITAN__SCORE__INIT;
    s.model_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    s.n_inputs = n;
    s.inputs = vp;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_SCORE;
    b.score = &s;
    return sign_body(&b, &w->provider, size);
}

/* Score (computed) and PostPrediction (posted) on the fixture classifier
 * logreg_warm (inputs co2 trend, month sine, month cosine; outputs the
 * probabilities of "not warm" and "warm"): each of six contracts runs
 * exactly on the predictions its trigger kind and label admit. */
static void test_trigger_kinds(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("trigger-kinds");
    size_t ms, sz;
    char *text;
    assert_int_equal(witan_read_file("tests/fixtures/models/logreg_warm.bin",
                                     WITAN_MODEL_SIZE_MAX, &text, &ms),
                     0);
    uint8_t model[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, text, ms, model);
    Witan__ModelInput in[3], *inputs[3];
    static const char *const names[3] = {"trend", "sin", "cos"};
    for (int i = 0; i < 3; i++) {
        witan__model_input__init(&in[i]);
        in[i].feed = "climate/co2/mauna-loa";
        in[i].subject = "mauna-loa";
        in[i].value = (char *)names[i];
        inputs[i] = &in[i];
    }
    Witan__RegisterModel reg = WITAN__REGISTER_MODEL__INIT;
    reg.name = "warm";
    reg.version = 1;
    reg.model = (ProtobufCBinaryData){ms, (uint8_t *)text};
    reg.n_inputs = 3;
    reg.inputs = inputs;
    reg.allow_extrapolation = true;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
    b.register_model = &reg;
    assert_int_equal(commit1(w, sign_body(&b, &w->admin, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    free(text);

    enum { C_COMPUTED, C_POSTED, C_ANY, C_COMPUTED_1, C_ANY_0, C_POSTED_1,
           CONTRACTS };
    static const struct {
        Witan__TriggerKind kind;
        bool label_filter;
        uint64_t label;
    } spec[CONTRACTS] = {
        {WITAN__TRIGGER_KIND__TRIGGER_COMPUTED, false, 0},
        {WITAN__TRIGGER_KIND__TRIGGER_POSTED, false, 0},
        {WITAN__TRIGGER_KIND__TRIGGER_ANY, false, 0},
        {WITAN__TRIGGER_KIND__TRIGGER_COMPUTED, true, 1},
        {WITAN__TRIGGER_KIND__TRIGGER_ANY, true, 0},
        {WITAN__TRIGGER_KIND__TRIGGER_POSTED, true, 1},
    };
    uint8_t ids[CONTRACTS][32];
    uint8_t *module = assemble(kind_asm, &ms);
    for (int i = 0; i < CONTRACTS; i++)
        assert_int_equal(
            commit1(w, deploy_tx(w, (struct deploy_spec){
                                        .module = module,
                                        .module_size = ms,
                                        .model = model,
                                        .kind = spec[i].kind,
                                        .filter = spec[i].label_filter
                                                      ? WITAN__FILTER_OP__FILTER_LABEL_EQUALS
                                                      : WITAN__FILTER_OP__FILTER_NONE,
                                        .label = spec[i].label},
                                 &sz),
                    &sz, ids[i]),
            WITAN__TX_STATUS__TX_STATUS_OK);
    free(module);

    /* Rows of logreg_warm.samples.csv: (422.6, sin 0, cos 1) gives
     * P(warm) 0.992 in the reference, label 1; (314.44, sin 1, cos 0)
     * gives P(not warm) 0.9999, label 0. */
    static const int64_t warm_m[3] = {4226, 0, 1}, cold_m[3] = {31444, 1, 0};
    static const uint32_t warm_s[3] = {1, 0, 0}, cold_s[3] = {2, 0, 0};
    struct {
        uint8_t *env;
        uint64_t label;
        bool computed;
        int runs[CONTRACTS]; /* 1: runs */
    } ev[3] = {
        {score_inputs_tx(w, model, warm_m, warm_s, 3, &sz), 1, true,
         {1, 0, 1, 1, 0, 0}},
        {NULL, 0, true, {1, 0, 1, 0, 1, 0}},
        {NULL, 0, false, {0, 1, 1, 0, 1, 0}},
    };
    size_t sizes[3];
    sizes[0] = sz;
    ev[1].env = score_inputs_tx(w, model, cold_m, cold_s, 3, &sizes[1]);
    /* a posted prediction carries no label: 0 */
    Witan__NamedValue out0 = WITAN__NAMED_VALUE__INIT, out1 = out0;
    out0.name = "cold";
    out0.mantissa = 1;
    out0.scale = 1;
    out1.name = "warm";
    out1.mantissa = 9;
    out1.scale = 1;
    Witan__NamedValue *outs[] = {&out0, &out1};
    Witan__PostPrediction post = WITAN__POST_PREDICTION__INIT;
    post.model_hash = (ProtobufCBinaryData){32, model};
    post.n_outputs = 2;
    post.outputs = outs;
    Witan__TxBody pb = WITAN__TX_BODY__INIT;
    pb.chain_id = "witan-test";
    pb.sender = (ProtobufCBinaryData){20, w->admin_addr};
    pb.nonce = w->admin_nonce++;
    pb.payload_case = WITAN__TX_BODY__PAYLOAD_POST_PREDICTION;
    pb.post_prediction = &post;
    ev[2].env = sign_body(&pb, &w->admin, &sizes[2]);

    for (int e = 0; e < 3; e++) {
        uint8_t tx[32];
        assert_int_equal(commit1(w, ev[e].env, &sizes[e], tx),
                         WITAN__TX_STATUS__TX_STATUS_OK);
        Witan__PredictionsResponse *p = predictions(w, model);
        assert_int_equal(p->n_records, (size_t)e + 1);
        const Witan__PredictionRecord *rec = p->records[e];
        assert_int_equal(rec->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
        assert_int_equal(rec->computed, ev[e].computed);
        assert_int_equal(rec->label, ev[e].label);
        ledger_predictions_response_free(p);
        Witan__RunsResponse *r = runs_of(w, tx);
        int want_n = 0;
        for (int c = 0; c < CONTRACTS; c++)
            want_n += ev[e].runs[c];
        assert_int_equal(receipt_runs(w, tx), want_n);
        if ((int)r->n_runs != want_n)
            fail_msg("event %d: %zu runs, want %d", e, r->n_runs, want_n);
        for (size_t k = 0; k < r->n_runs; k++) {
            int c = 0;
            while (c < CONTRACTS && memcmp(r->runs[k]->contract.data, ids[c], 32))
                c++;
            assert_true(c < CONTRACTS);
            if (!ev[e].runs[c])
                fail_msg("event %d ran contract %d", e, c);
            assert_int_equal(r->runs[k]->status, WITAN__RUN_STATUS__RUN_OK);
            assert_int_equal(r->runs[k]->result_int,
                             (int64_t)ev[e].label * 10 + ev[e].computed);
            /* in contract id order */
            if (k > 0)
                assert_true(memcmp(r->runs[k - 1]->contract.data,
                                   r->runs[k]->contract.data, 32) < 0);
        }
        ledger_runs_response_free(r);
    }
    free_world(w);
    tx_size_max = 4096;
}

/* --- every stateless refusal ----------------------------------------------- */

/* kind_asm with an unused bytes constant, grown until the module is
 * exactly `want` bytes (past the VM's limit, which the assembler keeps,
 * the module at the limit with zeros after it). */
static uint8_t *module_of_size(size_t want)
{
    if (want > 49152) {
        uint8_t *m = realloc(module_of_size(49152), want);
        memset(m + 49152, 0, want - 49152);
        return m;
    }
    size_t pad = want > 400 ? want - 400 : 1, size = 0;
    for (int tries = 0; tries < 8; tries++) {
        char *text = malloc(pad + 1024);
        int n = snprintf(text, 1024, "%s.bytes PAD \"", kind_asm);
        memset(text + n, 'p', pad);
        strcpy(text + n + pad, "\"\n");
        uint8_t *m = assemble(text, &size);
        free(text);
        if (size == want)
            return m;
        free(m);
        pad += want - size; /* the size grows with the constant */
    }
    fail_msg("no module of %zu bytes (last %zu)", want, size);
    return NULL;
}

static char *text_of(size_t n, char c)
{
    char *t = malloc(n + 1);
    memset(t, c, n);
    t[n] = 0;
    return t;
}

enum deploy_field {
    D_NONE, D_NAME, D_NAME_UNPRINTABLE, D_LANGUAGE, D_COMPILER, D_MODULE_SIZE,
    D_GAS, D_TRIGGERS, D_MODEL_LEN, D_KIND, D_OUTPUT, D_MANTISSA, D_SCALE,
    D_LABEL, D_REPLACES_LEN, D_NO_TRIGGERS_JUNK_TAIL, D_TRUNCATED, D_MAGIC
};

/* Admission of a deploy that differs from a valid one in one field. */
static int try_deploy(struct world *w, enum deploy_field f, uint64_t value,
                      Witan__FilterOp filter, char *why)
{
    size_t ms, sz;
    uint8_t *module = assemble(kind_asm, &ms), model[32], replaces[33];
    memset(model, 0x11, sizeof model);
    memset(replaces, 0x22, sizeof replaces);
    Witan__ContractTrigger t[17], *tp[17];
    for (int i = 0; i < 17; i++) {
        witan__contract_trigger__init(&t[i]);
        t[i].model_hash = (ProtobufCBinaryData){32, model};
        t[i].kind = WITAN__TRIGGER_KIND__TRIGGER_ANY;
        t[i].filter = filter;
        tp[i] = &t[i];
    }
    Witan__DeployContract dc = WITAN__DEPLOY_CONTRACT__INIT;
    dc.name = "base";
    dc.version = 1;
    dc.language = "witan-asm";
    dc.gas_limit = 1000;
    dc.n_triggers = 1;
    dc.triggers = tp;
    char *text = NULL;
    uint8_t *big = NULL;
    switch (f) {
    case D_NONE: break;
    case D_NAME: dc.name = text = text_of(value, 'n'); break;
    case D_NAME_UNPRINTABLE: dc.name = "tab\there"; break;
    case D_LANGUAGE: dc.language = text = text_of(value, 'l'); break;
    case D_COMPILER: dc.compiler = text = text_of(value, 'c'); break;
    case D_MODULE_SIZE:
        free(module);
        module = module_of_size(value);
        ms = value;
        break;
    case D_GAS: dc.gas_limit = value; break;
    case D_TRIGGERS: dc.n_triggers = value; break;
    case D_MODEL_LEN: t[0].model_hash.len = value; break;
    case D_KIND: t[0].kind = (Witan__TriggerKind)value; break;
    case D_OUTPUT: t[0].output = (uint32_t)value; break;
    case D_MANTISSA: t[0].threshold_mantissa = (int64_t)value; break;
    case D_SCALE: t[0].threshold_scale = (uint32_t)value; break;
    case D_LABEL: t[0].label = value; break;
    case D_REPLACES_LEN: dc.replaces = (ProtobufCBinaryData){value, replaces}; break;
    case D_NO_TRIGGERS_JUNK_TAIL: /* `value` bytes after the module */
        dc.n_triggers = 0;
        big = malloc(ms + value);
        memcpy(big, module, ms);
        memset(big + ms, 0, value);
        free(module);
        module = big;
        ms += value;
        break;
    case D_TRUNCATED: /* the module cut to `value` bytes */
        dc.n_triggers = 0;
        assert_true(value < ms);
        ms = value;
        break;
    case D_MAGIC:
        dc.n_triggers = 0;
        module[0] ^= 0xff;
        break;
    }
    dc.module = (ProtobufCBinaryData){ms, module};
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT;
    b.deploy_contract = &dc;
    uint8_t *env = sign_body(&b, &w->admin, &sz);
    struct ledger_tx tx;
    why[0] = 0;
    int err = ledger_tx_decode(w->l, env, sz, true, &tx, why, WHY_SIZE);
    if (!err)
        ledger_tx_release(&tx);
    free(env);
    free(module);
    free(text);
    return err;
}

enum call_field { C_NONE, C_CONTRACT_LEN, C_ENTRY, C_ARGS, C_ARG_BYTES, C_GAS };

static int try_call(struct world *w, enum call_field f, uint64_t value,
                    char *why)
{
    uint8_t id[33];
    memset(id, 0x33, sizeof id);
    Witan__ContractArg a[17], *ap[17];
    /* Only the bytes case needs a buffer of `value` bytes. */
    uint8_t *bytes = calloc(1, f == C_ARG_BYTES ? value + 1 : 1);
    for (int i = 0; i < 17; i++) {
        witan__contract_arg__init(&a[i]);
        a[i].value_case = WITAN__CONTRACT_ARG__VALUE_INT;
        a[i].int_ = i;
        ap[i] = &a[i];
    }
    Witan__CallContract c = WITAN__CALL_CONTRACT__INIT;
    c.contract = (ProtobufCBinaryData){32, id};
    c.entry = "add";
    c.n_args = 2;
    c.args = ap;
    char *text = NULL;
    switch (f) {
    case C_NONE: break;
    case C_CONTRACT_LEN: c.contract.len = value; break;
    case C_ENTRY: c.entry = text = text_of(value, 'e'); break;
    case C_ARGS: c.n_args = value; break;
    case C_ARG_BYTES:
        a[1].value_case = WITAN__CONTRACT_ARG__VALUE_BYTES;
        a[1].bytes = (ProtobufCBinaryData){value, bytes};
        break;
    case C_GAS: c.gas_limit = value; break;
    }
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT;
    b.call_contract = &c;
    size_t sz;
    uint8_t *env = sign_body(&b, &w->provider, &sz);
    struct ledger_tx tx;
    why[0] = 0;
    int err = ledger_tx_decode(w->l, env, sz, true, &tx, why, WHY_SIZE);
    if (!err)
        ledger_tx_release(&tx);
    free(env);
    free(text);
    free(bytes);
    return err;
}

/* Every stateless rule of DeployContract, CallContract and RetireContract
 * (contracts.md section 1), each at its bound (admitted) and one past it
 * (refused, with the field named); a module that fails to load is
 * refused at the byte offset the VM reports. */
static void test_stateless_table(void **state)
{
    (void)state;
    tx_size_max = 1 << 20; /* the module and bytes bounds come first */
    struct world *w = new_world("stateless-table");
    const uint64_t gas_max = 1099511627776ull; /* 2^40 */
    size_t base_size;
    free(assemble(kind_asm, &base_size));
    static char expect[3][WHY_SIZE];
    snprintf(expect[0], WHY_SIZE, "module refused at byte %zu: ", base_size);
    snprintf(expect[1], WHY_SIZE, "module refused at byte %zu: ",
             base_size - 3);
    snprintf(expect[2], WHY_SIZE, "module refused at byte 0: ");
    const struct {
        enum deploy_field f;
        uint64_t value;
        Witan__FilterOp filter;
        int want;
        const char *says;
    } deploys[] = {
        {D_NONE, 0, 0, 0, NULL},
        {D_NAME, 0, 0, WITAN_EINVAL, "contract name must be 1 to 64"},
        {D_NAME, 64, 0, 0, NULL},
        {D_NAME, 65, 0, WITAN_EINVAL, "contract name must be 1 to 64"},
        {D_NAME_UNPRINTABLE, 0, 0, WITAN_EINVAL, "contract name"},
        {D_LANGUAGE, 32, 0, 0, NULL},
        {D_LANGUAGE, 33, 0, WITAN_EINVAL, "language (at most 32)"},
        {D_COMPILER, 64, 0, 0, NULL},
        {D_COMPILER, 65, 0, WITAN_EINVAL, "compiler (at most 64)"},
        {D_MODULE_SIZE, 49152, 0, 0, NULL},
        {D_MODULE_SIZE, 49153, 0, WITAN_ELIMIT,
         "module is 49153 bytes; the limit is 49152"},
        {D_GAS, 0, 0, WITAN_EINVAL, "gas_limit must be 1 to 1099511627776"},
        {D_GAS, gas_max, 0, 0, NULL},
        {D_GAS, gas_max + 1, 0, WITAN_EINVAL, "gas_limit must be 1 to"},
        {D_TRIGGERS, 16, 0, 0, NULL},
        {D_TRIGGERS, 17, 0, WITAN_ELIMIT, "at most 16 triggers"},
        {D_MODEL_LEN, 31, 0, WITAN_EINVAL, "32-byte model hash"},
        {D_MODEL_LEN, 0, 0, WITAN_EINVAL, "32-byte model hash"},
        {D_KIND, 0, 0, WITAN_EINVAL, "kind of computed, posted or any"},
        {D_KIND, 1, 0, 0, NULL},
        {D_KIND, 2, 0, 0, NULL},
        {D_KIND, 4, 0, WITAN_EINVAL, "kind of computed, posted or any"},
        {D_NONE, 0, (Witan__FilterOp)4, WITAN_EINVAL, "unknown filter"},
        {D_SCALE, 18, WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE, 0, NULL},
        {D_SCALE, 19, WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE, WITAN_EINVAL,
         "scale over 18"},
        {D_SCALE, 19, WITAN__FILTER_OP__FILTER_OUTPUT_BELOW, WITAN_EINVAL,
         "scale over 18"},
        {D_OUTPUT, 3, WITAN__FILTER_OP__FILTER_OUTPUT_BELOW, 0, NULL},
        {D_LABEL, 1, WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_OUTPUT, 1, WITAN__FILTER_OP__FILTER_NONE, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_MANTISSA, 1, WITAN__FILTER_OP__FILTER_NONE, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_SCALE, 1, WITAN__FILTER_OP__FILTER_NONE, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_LABEL, 1, WITAN__FILTER_OP__FILTER_NONE, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_LABEL, 7, WITAN__FILTER_OP__FILTER_LABEL_EQUALS, 0, NULL},
        {D_OUTPUT, 1, WITAN__FILTER_OP__FILTER_LABEL_EQUALS, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_MANTISSA, 1, WITAN__FILTER_OP__FILTER_LABEL_EQUALS, WITAN_EINVAL,
         "a field its filter does not use"},
        {D_REPLACES_LEN, 32, 0, 0, NULL},
        {D_REPLACES_LEN, 31, 0, WITAN_EINVAL, "replaces names a 32-byte"},
        {D_REPLACES_LEN, 33, 0, WITAN_EINVAL, "replaces names a 32-byte"},
        /* the VM's reason at the VM's offset: the first trailing byte,
         * the end of a cut module, the magic */
        {D_NO_TRIGGERS_JUNK_TAIL, 0, 0, 0, NULL},
        {D_NO_TRIGGERS_JUNK_TAIL, 5, 0, WITAN_EVERIFY, expect[0]},
        {D_TRUNCATED, 0, 0, 0, NULL}, /* value set below */
        {D_MAGIC, 0, 0, WITAN_EVERIFY, expect[2]},
    };
    char why[WHY_SIZE];
    for (size_t i = 0; i < sizeof deploys / sizeof deploys[0]; i++) {
        uint64_t value = deploys[i].value;
        int want = deploys[i].want;
        const char *says = deploys[i].says;
        if (deploys[i].f == D_TRUNCATED) {
            value = base_size - 3;
            want = WITAN_EVERIFY;
            says = expect[1];
        }
        int err = try_deploy(w, deploys[i].f, value, deploys[i].filter, why);
        if (err != want || (says && !strstr(why, says)))
            fail_msg("deploy case %zu (field %d, value %llu): error %d '%s', "
                     "want %d '%s'",
                     i, deploys[i].f, (unsigned long long)value, err, why,
                     want, says ? says : "");
    }

    const struct {
        enum call_field f;
        uint64_t value;
        int want;
        const char *says;
    } calls[] = {
        {C_NONE, 0, 0, NULL},
        {C_CONTRACT_LEN, 31, WITAN_EINVAL, "32-byte contract id"},
        {C_CONTRACT_LEN, 33, WITAN_EINVAL, "32-byte contract id"},
        {C_CONTRACT_LEN, 0, WITAN_EINVAL, "32-byte contract id"},
        {C_ENTRY, 0, WITAN_EINVAL, "identifier of 1 to 32 bytes"},
        {C_ENTRY, 32, 0, NULL},
        {C_ENTRY, 33, WITAN_EINVAL, "identifier of 1 to 32 bytes"},
        {C_ARGS, 16, 0, NULL},
        {C_ARGS, 17, WITAN_ELIMIT, "at most 16 arguments"},
        {C_ARG_BYTES, 65536, 0, NULL},
        {C_ARG_BYTES, 65537, WITAN_EINVAL, "argument 1 has no value, or bytes over 65536"},
        {C_GAS, gas_max, 0, NULL},
        {C_GAS, gas_max + 1, WITAN_EINVAL, "gas_limit must be at most 1099511627776"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int err = try_call(w, calls[i].f, calls[i].value, why);
        if (err != calls[i].want ||
            (calls[i].says && !strstr(why, calls[i].says)))
            fail_msg("call case %zu (field %d, value %llu): error %d '%s', "
                     "want %d '%s'",
                     i, calls[i].f, (unsigned long long)calls[i].value, err,
                     why, calls[i].want, calls[i].says ? calls[i].says : "");
    }

    /* RetireContract names a 32-byte id */
    static const size_t retire_len[] = {32, 31, 33, 0};
    uint8_t id[33];
    memset(id, 0x44, sizeof id);
    for (size_t i = 0; i < 4; i++) {
        Witan__RetireContract r = WITAN__RETIRE_CONTRACT__INIT;
        r.contract = (ProtobufCBinaryData){retire_len[i], id};
        Witan__TxBody b = WITAN__TX_BODY__INIT;
        b.chain_id = "witan-test";
        b.sender = (ProtobufCBinaryData){20, w->admin_addr};
        b.nonce = w->admin_nonce;
        b.payload_case = WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT;
        b.retire_contract = &r;
        size_t sz;
        uint8_t *env = sign_body(&b, &w->admin, &sz);
        struct ledger_tx tx;
        int err = ledger_tx_decode(w->l, env, sz, true, &tx, why, sizeof why);
        if (!err)
            ledger_tx_release(&tx);
        free(env);
        assert_int_equal(err, i == 0 ? 0 : WITAN_EINVAL);
    }
    free_world(w);
    tx_size_max = 4096;
}

/* The stateful deploy rules: at most 64 entries per model in the trigger
 * index before a deployment (a retirement at once frees one, a scheduled
 * replacement does not), and a retired or already replaced contract
 * cannot be replaced. The nonce is spent by every refusal (the next
 * transaction takes the next one). */
static void test_listener_cap_and_replacing_retired(void **state)
{
    (void)state;
    uint8_t model[32], ids[64][32], extra[32], tx[32];
    struct world *w = model_world("listener-cap", model);
    size_t ms, sz;
    uint8_t *module = assemble(kind_asm, &ms);
    char why[WHY_SIZE];
    for (int blk = 0; blk < 4; blk++) {
        uint8_t *env[16];
        size_t sizes[16];
        Witan__TxStatus st[16];
        for (int i = 0; i < 16; i++) {
            env[i] = deploy_tx(w, (struct deploy_spec){.module = module,
                                                       .module_size = ms,
                                                       .model = model},
                               &sizes[i]);
            struct ledger_tx t;
            assert_int_equal(ledger_tx_decode(w->l, env[i], sizes[i], false,
                                              &t, why, sizeof why),
                             0);
            memcpy(ids[blk * 16 + i], t.hash, 32);
            ledger_tx_release(&t);
        }
        commit_block(w, env, sizes, 16, st);
        for (int i = 0; i < 16; i++) {
            assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
            free(env[i]);
        }
    }
    struct deploy_spec on_model = {.module = module, .module_size = ms,
                                   .model = model};
    /* the 65th listener is refused; a contract on no model is not */
    assert_int_equal(commit1(w, deploy_tx(w, on_model, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);
    size_t es;
    uint8_t *entries = assemble(entries_asm, &es);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = entries,
                                                 .module_size = es},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    /* retiring one at once makes room for exactly one */
    assert_int_equal(commit1(w, retire_tx(w, ids[0], &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, deploy_tx(w, on_model, &sz), &sz, extra),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, deploy_tx(w, on_model, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);
    /* a retired contract cannot be replaced */
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = entries,
                                                 .module_size = es,
                                                 .replaces = ids[0]},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED);
    /* a replacement scheduled far ahead: the old contract keeps its entry
     * (still 64: a new listener is refused) and cannot be replaced or
     * retired again */
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = entries,
                                                 .module_size = es,
                                                 .replaces = ids[1],
                                                 .start_height =
                                                     tip.height + 1000},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(commit1(w, deploy_tx(w, on_model, &sz), &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);
    assert_int_equal(commit1(w, deploy_tx(w, (struct deploy_spec){
                                                 .module = entries,
                                                 .module_size = es,
                                                 .replaces = ids[1]},
                                          &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED);
    assert_int_equal(commit1(w, retire_tx(w, ids[1], &w->admin, w->admin_addr,
                                          &w->admin_nonce, &sz),
                             &sz, NULL),
                     WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED);
    /* a prediction runs the 64 listeners: ids 1..63 (1 until its
     * replacement's height) and the one deployed after the retirement */
    assert_int_equal(commit1(w, attest_co2(w, 0, 41115, &sz), &sz, tx),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(receipt_runs(w, tx), 64);
    Witan__RunsResponse *r = runs_of(w, tx);
    assert_int_equal(r->n_runs, 64);
    for (size_t k = 0; k < r->n_runs; k++) {
        assert_int_equal(r->runs[k]->status, WITAN__RUN_STATUS__RUN_OK);
        assert_memory_not_equal(r->runs[k]->contract.data, ids[0], 32);
    }
    ledger_runs_response_free(r);
    free(entries);
    free(module);
    free_world(w);
    tx_size_max = 4096;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_to_decision),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_hostile_contracts),
        cmocka_unit_test(test_calls_and_refusals),
        cmocka_unit_test(test_stateless_refusals),
        cmocka_unit_test(test_retire_and_replace),
        cmocka_unit_test(test_block_gas),
        cmocka_unit_test(test_same_roots),
        cmocka_unit_test(test_scorecard_against_reference),
        cmocka_unit_test(test_storage_quota_and_operators),
        cmocka_unit_test(test_large_source),
        cmocka_unit_test(test_host_functions),
        cmocka_unit_test(test_trigger_kinds),
        cmocka_unit_test(test_stateless_table),
        cmocka_unit_test(test_listener_cap_and_replacing_retired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
