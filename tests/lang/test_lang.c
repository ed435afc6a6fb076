/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract language (spec/language.md): every construct compiled and
 * run on the VM, the host-backed ones through contract_run with an
 * in-memory state and a prediction; every compile error, with a check that
 * each message the compiler can write (read from contracts/lang/lang.c
 * itself) was produced by some case here; and the determinism golden: the
 * SHA-256 of the compiled examples, the same at -O0, -O2 and under the
 * sanitizers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "crypto/crypto.h"
#include "tests/lang/lt.h"

#define H "contract \"t\" version 1;\n"

/* --- constructs, pure ---------------------------------------------------- */

static void test_arith(void **state)
{
    (void)state;
    int64_t a[2] = {7, 3};
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  return a + b * 2 - a / b + a % b;\n}\n",
                            a, 2),
                     7 + 6 - 2 + 1);
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  return -a + (a - b) * -(b);\n}\n",
                            a, 2),
                     -7 + 4 * -3);
    /* decimals: widening, products add scales, rescale both ways */
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> dec(3) {\n"
                              "  let x: dec(3) = 1.5;\n"
                              "  let y = x + 0.25 + 2;\n"
                              "  return y * a / b;\n}\n",
                            a, 2),
                     3750 * 7 / 3);
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> dec(4) {\n"
                              "  let x = 1.5 * 2.25;\n"
                              "  return rescale(x, 4) + rescale(a, 4);\n}\n",
                            a, 2),
                     33750 + 70000);
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  let x: dec(2) = -7.99;\n"
                              "  return rescale(x, 0) + rescale(b, 0);\n}\n",
                            a, 2),
                     -7 + 3);
    assert_int_equal(lt_int(H "const K: dec(2) = 1.5;\n"
                              "entry main(a: int, b: int) -> dec(2) {\n"
                              "  if K > 1.49 and not (K == 2) { return K; }\n"
                              "  return 0;\n}\n",
                            a, 2),
                     150);
}

static void test_control(void **state)
{
    (void)state;
    int64_t a[2] = {5, 10};
    /* for over a range, if/else if/else, and/or short-circuit */
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  let s = 0;\n"
                              "  for i in a .. b {\n"
                              "    if i % 3 == 0 { s = s + 100; }\n"
                              "    else if i > 7 or i < 0 { s = s + 10; }\n"
                              "    else { s = s + 1; }\n"
                              "  }\n"
                              "  for i in b .. a { s = s + 1000; }\n"
                              "  if a > 0 or 1 / (a - a) == 0 { s = s + 5000; }\n"
                              "  if a < 0 and 1 / (a - a) == 0 { s = s + 1; }\n"
                              "  return s;\n}\n",
                            a, 2),
                     /* 5 6 7 8 9 */ 1 + 100 + 1 + 10 + 100 + 5000);
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> bool {\n"
                              "  let t = a < b and b >= 10 and a != b;\n"
                              "  let f = a > b or false;\n"
                              "  return t and not f and (t == true);\n}\n",
                            a, 2),
                     1);
    /* nested blocks and early return */
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  { let c = a; if c == 5 { return 1; } }\n"
                              "  return 2;\n}\n",
                            a, 2),
                     1);
}

static void test_functions(void **state)
{
    (void)state;
    int64_t a[2] = {10, 3};
    /* recursion, a function with no parameters and a result, one whose
     * result type is not its first parameter's (a hidden parameter) */
    assert_int_equal(
        lt_int(H "fn fib(n: int) -> int {\n"
                 "  if n < 2 { return n; }\n"
                 "  return fib(n - 1) + fib(n - 2);\n}\n"
                 "fn seven() -> int { return 7; }\n"
                 "fn size(b: bytes) -> int { return len(b); }\n"
                 "fn nothing(x: int) { return; }\n"
                 "entry main(a: int, b: int) -> int {\n"
                 "  nothing(a);\n"
                 "  return fib(a) + seven() + size(\"abc\") + b;\n}\n",
               a, 2),
        55 + 7 + 3 + 3);
}

static void test_bytes(void **state)
{
    (void)state;
    int64_t a[2] = {2, 3};
    assert_int_equal(lt_int(H "entry main(a: int, b: int) -> int {\n"
                              "  let s: text = \"he\\x6clo\\n\";\n"
                              "  let t = cat(s, slice(s, a, b));\n"
                              "  if t != \"hello\\nllo\" { return -1; }\n"
                              "  if t == s { return -2; }\n"
                              "  return len(t) * 1000 + t[1] + int_of(bytes_of(a)) "
                              "- int_of(bytes_of(true));\n}\n",
                            a, 2),
                     9 * 1000 + 'e' + 2 - 1);
}

static void test_entry_results(void **state)
{
    (void)state;
    lang_output o;
    lt_compile(H "entry name(x: bool, y: bytes) -> bytes {\n"
                 "  if x { return y; }\n  return \"no\";\n}\n"
                 "entry nothing() { }\n",
               &o);
    vm_value args[2] = {vm_int(5), vm_bytes("yes", 3)};
    vm_result r;
    uint32_t line;
    assert_int_equal(lt_run(&o, "name", args, 2, 1000, &r, &line), 0);
    assert_int_equal(r.value.size, 3);
    assert_memory_equal(r.value.bytes, "yes", 3);
    assert_int_equal(lt_run(&o, "nothing", NULL, 0, 1000, &r, &line), 0);
    assert_int_equal(r.value.type, VM_TYPE_NONE);
    lang_output_free(&o);
}

/* Each trap, with the line the source map names. */
static void test_traps(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int trap;
        uint32_t line;
    } cases[] = {
        {"  let x = a;\n  return x / b;\n", VM_TRAP_DIV_ZERO, 4},
        {"  let x = a;\n  return x % b;\n", VM_TRAP_DIV_ZERO, 4},
        {"  let x = 9223372036854775807;\n  return x + a;\n",
         VM_TRAP_OVERFLOW, 4},
        {"  let x = -9223372036854775807 - a;\n  return -x;\n",
         VM_TRAP_OVERFLOW, 4},
        {"  let s = \"ab\";\n  return s[a + 1];\n", VM_TRAP_BOUNDS, 4},
        {"  let s = \"ab\";\n  return len(slice(s, a, 2));\n",
         VM_TRAP_BOUNDS, 4},
        {"  let s = \"ab\";\n  return int_of(s);\n", VM_TRAP_BOUNDS, 4},
        {"  let x: dec(18) = 9.0;\n"
         "  return rescale(x, 0) * 2000000000000000000;\n",
         VM_TRAP_OVERFLOW, 4},
        {"  let x = rescale(a + 9, 18);\n  return rescale(x, 0) * 10;\n",
         VM_TRAP_OVERFLOW, 3},
        {"  if a == 1 {\n    abort(42);\n  }\n  return 0;\n", VM_TRAP_ABORT,
         4},
        {"  for i in 0 .. 1000000000 {\n  }\n  return 0;\n", VM_TRAP_GAS, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, H "entry main(a: int, b: int) -> int {\n%s}\n",
                 cases[i].body);
        lang_output o;
        lt_compile(src, &o);
        vm_value args[2] = {vm_int(1), vm_int(0)};
        vm_result r;
        uint32_t line;
        int e = lt_run(&o, "main", args, 2, 100000, &r, &line);
        if (r.trap != cases[i].trap || line != cases[i].line)
            fail_msg("case %zu: trap %d at line %u (want %d at %u), rc %d:\n%s",
                     i, r.trap, line, cases[i].trap, cases[i].line, e, src);
        if (r.trap == VM_TRAP_ABORT)
            assert_int_equal(r.abort_code, 42);
        lang_output_free(&o);
    }
}

/* --- constructs backed by the host, through contract_run -------------------- */

#define ST_MAX 64
static struct {
    uint8_t key[64];
    size_t key_size;
    uint8_t value[1024];
    size_t size;
} st[ST_MAX];
static size_t st_count;

static int st_get(void *ctx, const uint8_t *key, size_t key_size,
                  uint8_t **value, size_t *size)
{
    (void)ctx;
    for (size_t i = 0; i < st_count; i++)
        if (st[i].key_size == key_size && !memcmp(st[i].key, key, key_size)) {
            *value = malloc(st[i].size + 1);
            memcpy(*value, st[i].value, st[i].size);
            *size = st[i].size;
            return 0;
        }
    return WITAN_ENOTFOUND;
}

static int st_usage(void *ctx, uint32_t *count, uint32_t *bytes)
{
    (void)ctx;
    *count = (uint32_t)st_count;
    *bytes = 0;
    return 0;
}

/* Feed "f/x" for any subject: values 50, 40, 30, 20, ... newest first, at
 * scale 0 as decimals m × 10^-1 (so 5.0, 4.0, ...). */
static int st_feed(void *ctx, const char *feed, const char *subject,
                   const char *value, uint32_t n, int64_t *mantissas,
                   uint32_t *scales, uint32_t *found)
{
    (void)ctx;
    (void)subject;
    (void)value;
    *found = 0;
    if (strcmp(feed, "f/x") != 0)
        return 0;
    for (uint32_t i = 0; i < n && i < 5; i++) {
        mantissas[i] = 500 - 100 * (int64_t)i;
        scales[i] = 2;
        (*found)++;
    }
    return 0;
}

static int st_score(void *ctx, const uint8_t *model,
                    struct contract_scorecard *out)
{
    (void)ctx;
    (void)model;
    memset(out, 0, sizeof *out);
    out->frac_bits = 0;
    out->count = out->recent_count = 4;
    out->sum_sq = out->recent_sum_sq = 16; /* mse 4, rmse 2 */
    out->sum_abs = out->recent_sum_abs = 8;
    return 0;
}

static void run_host(const char *src, struct contract_outcome *out)
{
    lang_output o;
    lt_compile(src, &o);
    contract_runtime *rt;
    assert_int_equal(contract_runtime_new(&rt), 0);
    vm_module *m;
    vm_verify_error ve;
    assert_int_equal(contract_module_load(rt, o.module, o.module_size, &m, &ve),
                     0);
    uint32_t f;
    assert_int_equal(contract_entry(m, CONTRACT_ENTRY_PREDICTION, "", &f), 0);
    Witan__PredictionRecord p = WITAN__PREDICTION_RECORD__INIT;
    uint8_t model[32] = {7}, txs[2][32] = {{1}, {2}};
    int64_t outputs[2] = {3 << 8, 1 << 7}; /* 3.0 and 0.5 in Q.8 */
    int64_t inputs[2] = {5 << 4, 1 << 3};  /* 5.0 and 0.5 in Q.4 */
    ProtobufCBinaryData tx[2] = {{32, txs[0]}, {32, txs[1]}};
    p.model_hash = (ProtobufCBinaryData){32, model};
    p.status = WITAN__PREDICTION_STATUS__PREDICTION_OK;
    p.computed = true;
    p.outputs = outputs;
    p.n_outputs = 2;
    p.output_frac_bits = 8;
    p.inputs = inputs;
    p.n_inputs = 2;
    p.input_frac_bits = 4;
    p.input_txs = tx;
    p.n_input_txs = 2;
    p.label = 1;
    p.subject = "region-1";
    struct contract_state cs = {st_get, st_usage, st_feed, st_score, NULL};
    uint8_t id[32] = {9}, caller[20] = {8};
    struct contract_call c = {
        .module = m, .func = f, .gas = 1000000, .contract_id = id,
        .caller = caller, .height = 12, .time_ms = 345, .prediction = &p,
        .state = &cs};
    assert_int_equal(contract_run(rt, &c, out), 0);
    if (out->status != WITAN__RUN_STATUS__RUN_OK)
        fail_msg("run ended %d (trap %d, host error %d) at %u:%u:\n%s",
                 out->status, out->res.trap, out->host_error,
                 out->res.trap_func, out->res.trap_offset, src);
    vm_module_free(m);
    contract_runtime_free(rt);
    lang_output_free(&o);
}

static int64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static void test_prediction_and_host(void **state)
{
    (void)state;
    st_count = 0;
    struct contract_outcome out;
    run_host(H "model \"m\" {\n"
               "  output first: dec(1);\n"
               "  output second: dec(3);\n"
               "  input level: int;\n"
               "  input half at 1: dec(2);\n"
               "  label calm = 0;\n  label stressed = 1;\n}\n"
               "feed x: dec(1) from \"f/x\" value \"v\";\n"
               "store count: int;\n"
               "store seen[bytes]: bool;\n"
               "store note: bytes;\n"
               "on prediction(p) -> int {\n"
               "  let w = x.window(p.subject, 4);\n"
               "  let total: dec(1) = 0;\n"
               "  for v in w { total = total + v; }\n"
               "  count = count + len(w);\n"
               "  seen[p.subject] = p.label == stressed;\n"
               "  note = p.source(half);\n"
               "  clear note;\n"
               "  emit(\"sum\", total, w[1], x.latest(p.subject), count,\n"
               "       seen[p.subject], seen[\"other\"]);\n"
               "  emit(\"pred\", p.first, p.second, p.level, p.half, p.status,\n"
               "       p.computed, p.outputs, p.inputs, len(p.model), len(note));\n"
               "  emit(\"env\", height(), time(), len(self_id()), len(caller()),\n"
               "       score(p.model, count), score(p.model, recent_mse, 1),\n"
               "       score(p.model, rmse, 2));\n"
               "  let id = decide(\"kind\", p.subject, p.first);\n"
               "  return len(id);\n}\n",
             &out);
    assert_int_equal(out.event_count, 3);
    const struct contract_record *e = &out.events[0];
    assert_int_equal(e->value_count, 6);
    int64_t want0[6] = {50 + 40 + 30 + 20, 40, 50, 4, 1, 0};
    for (int i = 0; i < 6; i++)
        if (e->values[i] != want0[i])
            fail_msg("event 0 value %d: %lld, want %lld", i,
                     (long long)e->values[i], (long long)want0[i]);
    e = &out.events[1];
    int64_t want1[10] = {30, 500, 5, 50, 1, 1, 2, 2, 32, 0};
    assert_int_equal(e->value_count, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(e->values[i], want1[i]);
    e = &out.events[2];
    int64_t want2[7] = {12, 345, 32, 20, 4, 40, 200};
    for (int i = 0; i < 7; i++)
        assert_int_equal(e->values[i], want2[i]);
    assert_int_equal(out.decision_count, 1);
    assert_int_equal(out.decisions[0].subject_size, 8);
    assert_memory_equal(out.decisions[0].subject, "region-1", 8);
    assert_int_equal(out.decisions[0].values[0], 30);
    assert_int_equal(out.res.value.i, 32 + 12);
    /* writes: count, seen/region-1, note, note (deleted) */
    assert_int_equal(out.write_count, 4);
    assert_int_equal(out.writes[0].key_size, 5);
    assert_memory_equal(out.writes[0].key, "count", 5);
    assert_int_equal(be64(out.writes[0].value), 4);
    assert_memory_equal(out.writes[1].key, "seen/region-1", 13);
    assert_int_equal(be64(out.writes[1].value), 1);
    assert_true(out.writes[3].del);
    contract_outcome_free(&out);
}

/* --- compile errors --------------------------------------------------------- */

struct err_case {
    const char *src; /* without the header when `bare` is false */
    const char *want;
    bool bare;
};

static const struct err_case err_cases[] = {
    {"entry main() -> dec(18) { return 1.0000000000000000001; }",
     "decimal with more than 18 places", false},
    {"entry main() -> dec(1) { return 99999999999999999999.5; }",
     "t.wcl:2:33: error: literal out of range", false},
    {"entry main() -> dec(18) { return 99999; }", "literal out of range", false},
    {"entry main() -> int { return 99999999999999999999; }",
     "integer out of range", false},
    {"entry main() -> bytes { return \"a\\q\"; }", "bad escape in string",
     false},
    {"entry main() -> bytes { return \"abc; }", "unterminated string", false},
    {"entry main() -> int { let abcdefghijabcdefghijabcdefghijabc = 1; "
     "return 0; }",
     "identifier over 32 bytes", false},
    {"entry main() -> int { return 1 @ 2; }",
     "t.wcl:2:32: error: unexpected character '@'", false},
    {"entry main() -> int { return 1 \x01 2; }", "unexpected character '\\x01'",
     false},
    {"entry main(x: dec(y)) { }", "expected a scale (0-18), found 'y'", false},
    {"entry main(x: dec(19)) { }", "dec scale 19 out of range (0-18)", false},
    {"feed f: bool from \"a\" value \"b\";\nentry main() { }",
     "expected a number type (int or dec(N)), found 'bool'", false},
    {"entry main() { let x: foo = 1; }", "expected a type, found 'foo'",
     false},
    {"entry main() { let x = ; }", "expected an expression, found ';'", false},
    {"on prediction(p) { let x = p.1; }", "expected a name after '.'", false},
    {"entry main(a: int) -> bool { return a < a < a; }",
     "comparisons do not chain", false},
    {"entry main() { let 1 = 2; }", "expected a name after 'let'", false},
    {"entry main() { clear 1; }", "expected a store name after 'clear'",
     false},
    {"entry main() { for 1 in 0 .. 1 { } }",
     "expected a loop variable after 'for'", false},
    {"entry main() { 1 = 2; }", "expected a name or a store entry before '='",
     false},
    {"fn a() { }\nfn a() { }\nentry main() { }", "duplicate name 'a'", false},
    {"model m { }\nentry main() { }", "expected the model's name as a string",
     false},
    {"model \"m\" { label a = x; }\nentry main() { }",
     "expected the label's class number", false},
    {"model \"m\" { output a at x: int; }\nentry main() { }",
     "expected an index", false},
    {"model \"m\" { output a at 5000: int; }\nentry main() { }",
     "output index out of range", false},
    {"model \"m\" { output 1: int; }\nentry main() { }", "expected a name",
     false},
    {"entry main(1: int) { }", "expected a parameter name", false},
    {"entry main(w: window(int)) { }", "an entry cannot take a window", false},
    {"on prediction() { }", "expected the prediction's name", false},
    {"on prediction(p) { }\non prediction(q) { }",
     "more than one 'on prediction'", false},
    {"fn 1() { }\nentry main() { }", "expected a function name", false},
    {"feed 1: int from \"a\" value \"b\";\nentry main() { }",
     "expected a feed name", false},
    {"feed f: int from a value \"b\";\nentry main() { }",
     "expected the feed as a string", false},
    {"feed f: int from \"a\" value b;\nentry main() { }",
     "expected the value's name as a string", false},
    {"store 1: int;\nentry main() { }", "expected a store name", false},
    {"store w: window(int);\nentry main() { }", "a window cannot be stored",
     false},
    {"const 1: int = 1;\nentry main() { }", "expected a constant name", false},
    {"foo\nentry main() { }",
     "expected a declaration (model, feed, store, const, fn, entry or on "
     "prediction), found 'foo'",
     false},
    {"contract t version 1;\nentry main() { }",
     "expected the contract's name as a string", true},
    {"contract \"t\" version x;\nentry main() { }",
     "expected a version number", true},
    {"entry main(a: int) { let a = 1; }",
     "'a' hides a name in an enclosing scope", false},
    {"fn f() { }\nentry main() { let f = 1; }", "'f' is a function", false},
    {"entry main() -> int { return \"a\"; }",
     "type mismatch: expected int, found bytes", false},
    {"entry main() -> dec(2) { return 1.234; }",
     "literal has 3 decimal places, dec(2) holds 2", false},
    {"entry main() { let x = emit(\"a\"); }", "this expression has no value",
     false},
    {"fn f(a: int) { }\nentry main() { f(); }", "'f' takes 1 arguments, got 0",
     false},
    {"entry main(a: int) -> dec(2) { return rescale(a, a); }",
     "the scale must be a literal", false},
    {"entry main(a: int) -> int { return rescale(a, 19); }",
     "dec scale 19 out of range (0-18)", false},
    {"entry main() { decide(\"k\", \"s\", \"v\"); }",
     "type mismatch: expected a number or bool, found bytes", false},
    {"entry main() { emit(\"k\", 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17); }",
     "at most 16 values", false},
    {"entry main() { for v in 1 { } }",
     "type mismatch: expected a window, found int", false},
    {"entry main() -> int { return len(1); }",
     "type mismatch: expected bytes or a window, found int", false},
    {"entry main() -> int { return score(\"m\"); }",
     "'score' takes 2 or 3 arguments, got 1", false},
    {"entry main() -> int { return score(\"m\", best); }",
     "unknown scorecard measure 'best'", false},
    {"entry main() -> int { return score(\"m\", count, 2); }",
     "'score' takes 2 arguments, got 3", false},
    {"entry main() { decide(\"k\"); }", "a decision needs a kind and a subject",
     false},
    {"entry main() { emit(); }", "'emit' needs a topic", false},
    {"on prediction(p) { let x = p; }",
     "'p' is the prediction: use one of its fields", false},
    {"on prediction(p) { }\nentry main() -> bytes { return p.subject; }",
     "'p' is only defined in 'on prediction'", false},
    {"on prediction(p) { }\nentry main() -> int { let q = p; return 0; }",
     "'p' is only defined in 'on prediction'", false},
    {"entry main() -> int { return y; }", "unknown name 'y'", false},
    {"store m[bytes]: int;\nentry main() -> int { return m; }",
     "'m' is a map: index it", false},
    {"feed f: int from \"a\" value \"b\";\nentry main() -> int { return f; }",
     "'f' is a feed: use .latest(subject) or .window(subject, n)", false},
    {"feed f: int from \"a\" value \"b\";\n"
     "entry main() -> int { return f.first(\"s\"); }",
     "'f' is a feed: use .latest(subject) or .window(subject, n)", false},
    {"model \"m\" { output o: int; }\non prediction(p) { let s = "
     "p.source(o); }",
     "'o' is not an input", false},
    {"on prediction(p) { let s = p.subject(); }", "'subject' is not a function",
     false},
    {"entry main(a: int) -> int { return a(1); }", "'a' is not a function",
     false},
    {"on prediction(p) { let s = p.speed; }",
     "the prediction has no output or input 'speed'", false},
    {"entry main(a: int) -> int { return a.latest(\"s\"); }",
     "'a' is not a feed", false},
    {"entry main(a: int) -> int { return b.latest(\"s\"); }",
     "unknown name 'b'", false},
    {"entry main(a: int) -> int { return a + \"s\"; }",
     "operator + does not apply to int and bytes", false},
    {"entry main(a: int) -> int { return a[0]; }",
     "operator [] does not apply to int", false},
    {"entry main() -> bytes { return -\"a\"; }",
     "operator - does not apply to bytes", false},
    {"entry main(a: int) { let x = 1; x[\"k\"] = 2; }", "'x' is not a map",
     false},
    {"store s: int;\nentry main() { s[\"k\"] = 2; }", "'s' is not a map",
     false},
    {"store m[bytes]: int;\nentry main() { m = 2; }", "'m' is a map: index it",
     false},
    {"entry main(a: int) { a = 2; }", "'a' cannot be assigned", false},
    {"const K: int = 1;\nentry main() { K = 2; }", "'K' cannot be assigned",
     false},
    {"entry main() { y = 2; }", "unknown name 'y'", false},
    {"entry main() { clear y; }", "unknown name 'y'", false},
    {"on prediction(p) { return 1; }", "the handler returns nothing", false},
    {"entry main() { return 1; }", "this function returns nothing", false},
    {"entry main() -> int { return; }", "missing return value", false},
    {"entry main() { 1; }",
     "expected a call as a statement (its value would be lost)", false},
    {"entry main() -> int { return 1;\n  return 2; }",
     "t.wcl:3:3: error: unreachable code after return", false},
    {"entry main(a: int) -> int { let b = a; const_fn(); }",
     "unknown name 'const_fn'", false},
    {"const K: int = 1 + 1;\nentry main() { }", "const needs a literal value",
     false},
    {"store s: int;", "a contract needs 'on prediction' or an entry", false},
    {"entry main(a: int) -> int { if a > 1 { return 1; } }",
     "missing return at the end of 'main'", false},
    {"entry main() { ((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
     "(((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"
     "))))))); }",
     "nesting over 64 levels", false},
};

static char *repeat(const char *prefix, const char *unit, size_t n,
                    const char *suffix)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    char *s = malloc(pl + ul * n + sl + 64);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    char *p = s + pl;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, unit, ul);
        p += ul;
    }
    memcpy(p, suffix, sl + 1);
    return s;
}

static void expect_error(const char *src, const char *want)
{
    char *errs = lt_errors(src);
    if (!strstr(errs, want))
        fail_msg("want '%s', got:\n%s\nfor:\n%s", want, errs, src);
    free(errs);
}

static void test_errors(void **state)
{
    (void)state;
    char src[4096];
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        snprintf(src, sizeof src, "%s%s\n", err_cases[i].bare ? "" : H,
                 err_cases[i].src);
        expect_error(src, err_cases[i].want);
    }
    /* the caret under the column, the line shown */
    char *errs = lt_errors(H "entry main() -> int {\n\treturn zz;\n}\n");
    assert_non_null(strstr(errs, "t.wcl:3:9: error: unknown name 'zz'\n"
                                 "    \treturn zz;\n    \t       ^\n"));
    free(errs);
}

/* Errors that need a big program: generated. */
static void test_limit_errors(void **state)
{
    (void)state;
    char unit[64];
    /* a string over 1024 bytes */
    char *s = repeat(H "entry main() -> bytes { return \"", "x", 1100,
                     "\"; }\n");
    expect_error(s, "string over 1024 bytes");
    free(s);
    /* over 65536 syntax-tree nodes */
    s = repeat(H "entry main() -> int { return 1", "+1", 40000, "; }\n");
    expect_error(s, "program over 65536 syntax-tree nodes");
    free(s);
    /* a chain of 300 additions: 300 levels */
    s = repeat(H "entry main() -> int { return 1", " + x", 300, "; }\n");
    expect_error(s, "expression over 256 levels deep");
    free(s);
    /* 70 else-ifs */
    s = repeat(H "entry main(a: int) { if a == 0 { }", " else if a == 1 { }", 70,
               "\n}\n");
    expect_error(s, "nesting over 64 levels");
    free(s);
    /* deep but allowed: 40 parentheses, 200 additions */
    s = repeat(H "entry main() -> int { return ", "(", 40, "1");
    char *s2 = repeat(s, ")", 40, "");
    free(s);
    s = repeat(s2, " + 1", 200, "; }\n");
    free(s2);
    lang_output ok;
    lt_compile(s, &ok);
    lang_output_free(&ok);
    free(s);
    /* 16 parameters */
    s = strdup(H "fn f(a: int, b: int, c: int, d: int, e: int, f: int, "
               "g: int, h: int, i: int, j: int, k: int, l: int, m: int, "
               "n: int, o: int, q: int) { }\nentry main() { }\n");
    expect_error(s, "too many parameters");
    free(s);
    /* 257 functions */
    char *big = malloc(300 * 64);
    assert_non_null(big);
    strcpy(big, H);
    for (int i = 0; i < 257; i++) {
        snprintf(unit, sizeof unit, "fn f%d() { }\n", i);
        strcat(big, unit);
    }
    expect_error(big, "too many functions");
    strcpy(big, H "on prediction(p) { }\n");
    for (int i = 0; i < 64; i++) {
        snprintf(unit, sizeof unit, "entry e%d() { }\n", i);
        strcat(big, unit);
    }
    expect_error(big, "too many entries (64 with 'on prediction')");
    /* 1025 declarations */
    free(big);
    big = malloc(1100 * 40);
    assert_non_null(big);
    strcpy(big, H);
    size_t at = strlen(big);
    for (int i = 0; i < 1025; i++)
        at += (size_t)sprintf(big + at, "const k%d: int = 1;\n", i);
    strcpy(big + at, "entry main() { }\n");
    expect_error(big, "too many declarations");
    /* 257 locals */
    at = (size_t)sprintf(big, H "entry main() {\n");
    for (int i = 0; i < 257; i++)
        at += (size_t)sprintf(big + at, "let v%d = 1;\n", i);
    strcpy(big + at, "}\n");
    expect_error(big, "too many local names");
    /* registers: 250 locals and a call window of 8 */
    at = (size_t)sprintf(big, H "fn f(a: int, b: int, c: int, d: int, e: int, "
                                "g: int, h: int, i: int) -> int { return a; }\n"
                                "entry main() -> int {\n");
    for (int i = 0; i < 250; i++)
        at += (size_t)sprintf(big + at, "let v%d = 1;\n", i);
    strcpy(big + at, "return f(1, 2, 3, 4, 5, 6, 7, 8);\n}\n");
    expect_error(big, "too many registers in 'main'");
    free(big);
    /* 1025 distinct constants */
    big = malloc(1100 * 40);
    assert_non_null(big);
    at = (size_t)sprintf(big, H "entry main() -> int {\nlet x = 0;\n");
    for (int i = 0; i < 1025; i++)
        at += (size_t)sprintf(big + at, "x = %d;\n", 100000 + i);
    strcpy(big + at, "return x;\n}\n");
    expect_error(big, "too many constants (in 'main')");
    free(big);
    /* a function over 8192 words */
    s = repeat(H "entry main(y: int) -> int {\nlet x = 0;\n",
               "x = x * y + 1;\n", 4200, "return x;\n}\n");
    expect_error(s, "function too large: 'main'");
    free(s);
    /* a module over 49152 bytes: two functions of 7000 words */
    char *f1 = repeat("fn f(y: int) -> int {\nlet x = 0;\n",
                      "x = x * y + 1;\n", 3500, "return x;\n}\n");
    char *f2 = repeat("fn g(y: int) -> int {\nlet x = 0;\n",
                      "x = x * y + 1;\n", 3500, "return x;\n}\n");
    big = malloc(strlen(f1) + strlen(f2) + 200);
    assert_non_null(big);
    sprintf(big, H "%s%sentry main() { }\n", f1, f2);
    expect_error(big, "module over 49152 bytes");
    free(big);
    free(f1);
    free(f2);
    /* a source over the size limit */
    s = repeat(H, " ", LANG_SOURCE_SIZE_MAX, "entry main() { }\n");
    lang_output o;
    assert_int_equal(lang_compile("t.wcl", s, strlen(s), LANG_COMPILER_VERSION,
                                  false, &o),
                     WITAN_ELIMIT);
    assert_non_null(strstr(o.errors, "source over 262144 bytes"));
    free(lt_errors(s)); /* into the log of messages seen */
    lang_output_free(&o);
    free(s);
    /* more than the error bound */
    s = repeat(H "entry main() {\n", "y = 1;\n", 25, "}\n");
    char *errs = lt_errors(s);
    assert_non_null(strstr(errs, "t.wcl: too many errors: 25, the first 20 "
                                 "shown"));
    size_t count = 0;
    for (const char *p = errs; (p = strstr(p, ": error: ")); p++)
        count++;
    assert_int_equal(count, LANG_ERROR_COUNT_MAX);
    free(errs);
    free(s);
    /* a version this build does not have */
    assert_int_equal(lang_compile("t.wcl", H, strlen(H), 2, false, &o),
                     WITAN_EUNSUPPORTED);
    lang_output_free(&o);
}

/* The longest run of the message that is not a conversion (%s, %u, ...). */
static void fixed_part(const char *msg, size_t n, char *out, size_t out_size)
{
    size_t best = 0, best_at = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || msg[i] == '%') {
            if (i - start > best) {
                best = i - start;
                best_at = start;
            }
            if (i < n) {
                i++;
                while (i < n && (msg[i] == 'l' || msg[i] == 'z'))
                    i++;
                start = i + 1;
            }
        }
    }
    if (best >= out_size)
        best = out_size - 1;
    memcpy(out, msg + best_at, best);
    out[best] = 0;
}

/* Every message the compiler can write, read from its source: each must
 * have appeared in some case above. The one exception is the internal
 * error for a module the VM refuses, which no program can reach. */
static void test_every_message_produced(void **state)
{
    (void)state;
    char *src;
    size_t size;
    assert_int_equal(witan_read_file("contracts/lang/lang.c", 1 << 22, &src,
                                     &size),
                     0);
    static const char *const calls[] = {"error_at(", "expected(c, ",
                                        "gfail(c, "};
    const char *seen = lt_messages();
    size_t checked = 0;
    for (size_t k = 0; k < 3; k++) {
        for (const char *p = src; (p = strstr(p, calls[k])); p++) {
            const char *q = strchr(p, '"');
            const char *semi = strchr(p, ';');
            if (!q || !semi || q > semi)
                continue; /* a declaration, or no literal */
            const char *end = q + 1;
            while (*end && !(*end == '"' && end[-1] != '\\'))
                end++;
            char msg[256], part[256];
            size_t n = (size_t)(end - q - 1);
            if (n >= sizeof msg)
                n = sizeof msg - 1;
            memcpy(msg, q + 1, n);
            msg[n] = 0;
            if (strstr(msg, "internal error"))
                continue;
            /* C escapes in the literal as they print */
            char un[256];
            size_t u = 0;
            for (size_t i = 0; i < n; i++)
                un[u++] = msg[i] == '\\' && i + 1 < n ? msg[++i] : msg[i];
            un[u] = 0;
            fixed_part(un, u, part, sizeof part);
            if (k == 1) {
                char e[300];
                snprintf(e, sizeof e, "expected %s", un);
                fixed_part(e, strlen(e), part, sizeof part);
            }
            if (strlen(part) < 3)
                continue;
            if (!strstr(seen, part))
                fail_msg("no test produces the message \"%s\"", msg);
            checked++;
        }
    }
    assert_true(checked > 80);
    free(src);
}

/* --- determinism -------------------------------------------------------------- */

/* SHA-256 of each example's module and source map: a change to the
 * compiler that changes a byte must bump LANG_COMPILER_VERSION (and this
 * golden). The same at -O0, -O2 and under the sanitizers. */
static void test_golden(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *module_sha, *map_sha;
    } golden[] = {
#include "tests/lang/golden.inc"
    };
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "contracts/examples/%s.wcl",
                 golden[i].name);
        char *text;
        size_t size;
        assert_int_equal(witan_read_file(path, 1 << 20, &text, &size), 0);
        lang_output o;
        int e = lang_compile(path, text, size, LANG_COMPILER_VERSION, false,
                             &o);
        if (e)
            fail_msg("%s", o.errors);
        uint8_t h[32];
        char hex[65], mhex[65];
        wcrypto_sha256(o.module, o.module_size, h);
        witan_hex_encode(h, 32, hex);
        wcrypto_sha256(o.source_map, o.source_map_size, h);
        witan_hex_encode(h, 32, mhex);
        if (strcmp(hex, golden[i].module_sha) || strcmp(mhex, golden[i].map_sha))
            printf("    {\"%s\", \"%s\",\n     \"%s\"},\n", golden[i].name,
                   hex, mhex);
        assert_string_equal(hex, golden[i].module_sha);
        assert_string_equal(mhex, golden[i].map_sha);
        lang_output_free(&o);
        free(text);
    }
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_entry_results),
        cmocka_unit_test(test_traps),
        cmocka_unit_test(test_prediction_and_host),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limit_errors),
        cmocka_unit_test(test_every_message_produced),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
