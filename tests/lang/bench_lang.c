/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract language beside VM assembly, measured in the same run:
 * compile time of the three examples (next to assembling their .wvs
 * versions), module sizes, the gas of one on_prediction run of each on the
 * same prediction and state (through contract_run), and the run time and
 * gas of fib(30) compiled from the language next to tests/vm/fib.wvs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "contracts/contracts.h"
#include "contracts/lang/lang.h"
#include "crypto/crypto.h"
#include "vm/vm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *size)
{
    char *t;
    if (witan_read_file(path, 1 << 20, &t, size)) {
        fprintf(stderr, "bench_lang: cannot read %s\n", path);
        exit(1);
    }
    return t;
}

static void compile(const char *path, const char *src, size_t n,
                    uint8_t **m, size_t *ms)
{
    lang_output o;
    if (lang_compile(path, src, n, LANG_COMPILER_VERSION, false, &o)) {
        fprintf(stderr, "%s", o.errors ? o.errors : "compile failed\n");
        exit(1);
    }
    *m = o.module;
    *ms = o.module_size;
    o.module = NULL;
    lang_output_free(&o);
}

static void assemble(const char *src, size_t n, uint8_t **m, size_t *ms)
{
    vm_asm_error err;
    if (vm_assemble(src, n, m, ms, &err)) {
        fprintf(stderr, "asm line %u: %s\n", err.line, err.message);
        exit(1);
    }
}

/* --- one prediction against an in-memory state --------------------------- */

static int st_get(void *ctx, const uint8_t *key, size_t key_size,
                  uint8_t **value, size_t *size)
{
    (void)ctx;
    int64_t v;
    if (key_size == 6 && !memcmp(key, "streak", 6))
        v = 2;
    else if (key_size == 6 && !memcmp(key, "alerts", 6))
        v = 5;
    else
        return WITAN_ENOTFOUND;
    *value = malloc(8);
    for (int i = 0; i < 8; i++)
        (*value)[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    *size = 8;
    return 0;
}

static int st_usage(void *ctx, uint32_t *count, uint32_t *bytes)
{
    (void)ctx;
    *count = 2;
    *bytes = 28;
    return 0;
}

static int st_feed(void *ctx, const char *feed, const char *subject,
                   const char *value, uint32_t n, int64_t *mantissas,
                   uint32_t *scales, uint32_t *found)
{
    (void)ctx, (void)feed, (void)subject, (void)value;
    for (uint32_t i = 0; i < n && i < 4; i++) {
        mantissas[i] = 100 - 20 * (int64_t)i;
        scales[i] = 0;
    }
    *found = n < 4 ? n : 4;
    return 0;
}

static int st_score(void *ctx, const uint8_t *model,
                    struct contract_scorecard *out)
{
    (void)ctx, (void)model;
    memset(out, 0, sizeof *out);
    out->count = out->recent_count = 8;
    out->sum_sq = out->recent_sum_sq = 8 * 9; /* rmse 3 at frac bits 0 */
    out->sum_abs = out->recent_sum_abs = 8 * 3;
    return 0;
}

static uint64_t run_gas(const uint8_t *m, size_t ms, const int64_t *outputs,
                        size_t n_outputs, uint32_t *decisions)
{
    contract_runtime *rt;
    vm_module *mod;
    vm_verify_error ve;
    uint32_t f;
    if (contract_runtime_new(&rt) || contract_module_load(rt, m, ms, &mod, &ve) ||
        contract_entry(mod, CONTRACT_ENTRY_PREDICTION, "", &f)) {
        fprintf(stderr, "bench_lang: module does not load\n");
        exit(1);
    }
    Witan__PredictionRecord p = WITAN__PREDICTION_RECORD__INIT;
    uint8_t model[32] = {1}, id[32] = {2}, caller[20] = {3};
    p.model_hash = (ProtobufCBinaryData){32, model};
    p.status = WITAN__PREDICTION_STATUS__PREDICTION_OK;
    p.computed = true;
    p.outputs = (int64_t *)outputs;
    p.n_outputs = n_outputs;
    p.output_frac_bits = 8;
    p.subject = "s";
    struct contract_state cs = {st_get, st_usage, st_feed, st_score, NULL};
    struct contract_call c = {.module = mod, .func = f, .gas = 1000000,
                              .contract_id = id, .caller = caller,
                              .height = 1, .prediction = &p, .state = &cs};
    struct contract_outcome o;
    if (contract_run(rt, &c, &o) || o.status != WITAN__RUN_STATUS__RUN_OK) {
        fprintf(stderr, "bench_lang: run failed\n");
        exit(1);
    }
    uint64_t gas = o.res.gas_used;
    *decisions = o.decision_count + o.event_count;
    contract_outcome_free(&o);
    vm_module_free(mod);
    contract_runtime_free(rt);
    return gas;
}

/* --- fib(30) ------------------------------------------------------------- */

static const char fib_wcl[] =
    "contract \"fib\" version 1;\n"
    "fn fib(n: int) -> int {\n"
    "    if n < 2 { return n; }\n"
    "    return fib(n - 1) + fib(n - 2);\n"
    "}\n"
    "entry main(n: int) -> int { return fib(n); }\n";

static double time_fib(const uint8_t *m, size_t ms, const char *entry,
                       uint64_t *gas, int64_t *value)
{
    vm_module *mod;
    vm_exec *x;
    uint32_t f;
    if (vm_module_load(m, ms, NULL, &mod, NULL) || vm_exec_new(&x) ||
        vm_module_export(mod, entry, &f)) {
        fprintf(stderr, "bench_lang: fib does not load\n");
        exit(1);
    }
    vm_value a = vm_int(30);
    vm_result r;
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        double t = now();
        if (vm_call(x, mod, f, &a, 1, 1ULL << 40, &r)) {
            fprintf(stderr, "bench_lang: fib trapped\n");
            exit(1);
        }
        t = now() - t;
        if (t < best)
            best = t;
    }
    *gas = r.gas_used;
    *value = r.value.i;
    vm_exec_free(x);
    vm_module_free(mod);
    return best;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    static const struct {
        const char *name;
        int64_t outputs[2];
        size_t n;
    } ex[] = {
        {"climate", {230, 0}, 1},   /* 0.898 °C: a third month above */
        {"health", {120 << 8, 0}, 1}, /* 120 cases forecast */
        {"finance", {0, 218}, 2},   /* P(stressed) 0.852 */
    };
    printf("contract language vs VM assembly (same run)\n");
    printf("%-8s %12s %12s %8s %8s %8s %8s %6s\n", "example", "compile us",
           "assemble us", "wcl B", "wvs B", "wcl gas", "wvs gas", "ratio");
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        size_t n1, n2, s1, s2;
        snprintf(path, sizeof path, "contracts/examples/%s.wcl", ex[i].name);
        char *wcl = slurp(path, &n1);
        snprintf(path, sizeof path, "contracts/examples/%s.wvs", ex[i].name);
        char *wvs = slurp(path, &n2);
        uint8_t *m1, *m2;
        const int reps = 200;
        double t = now();
        for (int r = 0; r < reps; r++) {
            compile(path, wcl, n1, &m1, &s1);
            free(m1);
        }
        double tc = (now() - t) / reps;
        t = now();
        for (int r = 0; r < reps; r++) {
            assemble(wvs, n2, &m2, &s2);
            free(m2);
        }
        double ta = (now() - t) / reps;
        compile(path, wcl, n1, &m1, &s1);
        assemble(wvs, n2, &m2, &s2);
        uint32_t d1, d2;
        uint64_t g1 = run_gas(m1, s1, ex[i].outputs, ex[i].n, &d1);
        uint64_t g2 = run_gas(m2, s2, ex[i].outputs, ex[i].n, &d2);
        if (d1 != d2) {
            fprintf(stderr, "bench_lang: %s: the versions record %u and %u\n",
                    ex[i].name, d1, d2);
            return 1;
        }
        printf("%-8s %12.1f %12.1f %8zu %8zu %8llu %8llu %6.3f\n", ex[i].name,
               tc * 1e6, ta * 1e6, s1, s2, (unsigned long long)g1,
               (unsigned long long)g2, (double)g1 / (double)g2);
        free(m1);
        free(m2);
        free(wcl);
        free(wvs);
    }
    size_t n, s1, s2;
    char *wvs = slurp("tests/vm/fib.wvs", &n);
    uint8_t *m1, *m2;
    compile("fib.wcl", fib_wcl, strlen(fib_wcl), &m1, &s1);
    assemble(wvs, n, &m2, &s2);
    uint64_t g1, g2;
    int64_t v1, v2;
    double t1 = time_fib(m1, s1, "main", &g1, &v1);
    double t2 = time_fib(m2, s2, "fib", &g2, &v2);
    if (v1 != v2 || v1 != 832040) {
        fprintf(stderr, "bench_lang: fib(30) %lld vs %lld\n", (long long)v1,
                (long long)v2);
        return 1;
    }
    printf("fib(30): compiled %.1f ms, gas %llu, %zu B; assembly %.1f ms, "
           "gas %llu, %zu B; time ratio %.2f, gas ratio %.3f\n",
           t1 * 1e3, (unsigned long long)g1, s1, t2 * 1e3,
           (unsigned long long)g2, s2, t1 / t2, (double)g1 / (double)g2);
    free(m1);
    free(m2);
    free(wvs);
    return 0;
}
