/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader and verifier: every rejection reason, each with the offset it
 * names, on modules built byte by byte; and no crash on any truncation or
 * single-byte corruption of a valid module.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tests/vm/vmt.h"
#include "vm/vm_impl.h"

#define W(op, a, b, c)                                                         \
    ((uint32_t)(op) | (uint32_t)(a) << 8 | (uint32_t)(b) << 16 |               \
     (uint32_t)(c) << 24)
#define WX(op, a, bx) ((uint32_t)(op) | (uint32_t)(a) << 8 | ((uint32_t)(bx)&0xffffu) << 16)
#define WJ(op, off) ((uint32_t)(op) | ((uint32_t)(off)&0xffffffu) << 8)

/* A module under construction. */
struct mb {
    uint8_t b[80000];
    size_t n;
    size_t code_at; /* byte offset of the first function's code */
};

static void u8(struct mb *m, uint32_t v) { m->b[m->n++] = (uint8_t)v; }
static void u16(struct mb *m, uint32_t v) { u8(m, v); u8(m, v >> 8); }
static void u32(struct mb *m, uint32_t v) { u16(m, v); u16(m, v >> 16); }
static void name(struct mb *m, const char *s)
{
    u8(m, (uint32_t)strlen(s));
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

struct fdef {
    uint32_t params;
    uint32_t result;
    const char *types; /* "iib": one letter per register */
    const uint32_t *code;
    uint32_t words;
};

/* One int constant (7), one bytes constant ("ab"), the import store_get
 * (i -> i), the given functions, and export "main" of function 0. */
static void build(struct mb *m, const struct fdef *f, int nf)
{
    m->n = 0;
    memcpy(m->b, VM_MAGIC, 4);
    m->n = 4;
    u32(m, VM_VERSION);
    u16(m, 1);
    u32(m, 7);
    u32(m, 0);
    u16(m, 1);
    u32(m, 2);
    u8(m, 'a');
    u8(m, 'b');
    u16(m, 1);
    name(m, "store_get");
    u8(m, 1);
    u8(m, VM_TYPE_INT);
    u8(m, VM_TYPE_INT);
    u16(m, (uint32_t)nf);
    for (int i = 0; i < nf; i++) {
        u8(m, f[i].params);
        u8(m, f[i].result);
        u16(m, (uint32_t)strlen(f[i].types));
        for (const char *t = f[i].types; *t; t++)
            u8(m, *t == 'i' ? 1 : *t == 'b' ? 2 : 9);
        u32(m, f[i].words);
        if (i == 0)
            m->code_at = m->n;
        for (uint32_t j = 0; j < f[i].words; j++)
            u32(m, f[i].code[j]);
    }
    u16(m, 1);
    name(m, "main");
    u16(m, 0);
}

static void build1(struct mb *m, uint32_t params, uint32_t result,
                   const char *types, const uint32_t *code, uint32_t words)
{
    struct fdef f = {params, result, types, code, words};
    build(m, &f, 1);
}

static int load(struct mb *m, vm_verify_error *err)
{
    vm_module *mod = NULL;
    int e = vm_module_load(m->b, m->n, vm_testhost_host(vmt_host()), &mod,
                           err);
    if (e == 0)
        assert_non_null(mod);
    else
        assert_null(mod);
    vm_module_free(mod);
    return e;
}

/* Which reasons the tests below have produced; the last test wants all. */
static int seen[VM_VERR_COUNT_];

static void expect_reject(struct mb *m, int reason, size_t offset)
{
    vm_verify_error err;
    int e = load(m, &err);
    if (e == WITAN_EVERIFY && err.reason == reason && err.offset == offset)
        seen[reason] = 1;
    if (e != WITAN_EVERIFY || err.reason != reason || err.offset != offset)
        fail_msg("want '%s' at %zu, got %d '%s' at %u",
                 vm_verify_reason_text(reason), offset, e,
                 vm_verify_reason_text(err.reason), err.offset);
}

/* The code of function 0, word i. */
#define AT(m, i) ((m)->code_at + 4 * (size_t)(i))

static const uint32_t ret0[] = {W(OP_RET, 0, 0, 0)};

static void test_valid_module(void **state)
{
    (void)state;
    struct mb m;
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    vm_verify_error err;
    assert_int_equal(load(&m, &err), 0);
    assert_int_equal(err.reason, VM_VERR_NONE);
}

static void test_header_rejections(void **state)
{
    (void)state;
    struct mb m;
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    size_t full = m.n;
    m.b[1] = 'X';
    expect_reject(&m, VM_VERR_MAGIC, 0);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[4] = 2;
    expect_reject(&m, VM_VERR_VERSION, 4);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[m.n++] = 0;
    expect_reject(&m, VM_VERR_TRAILING, full);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.n = WITAN_VM_MODULE_SIZE_MAX + 1;
    expect_reject(&m, VM_VERR_MODULE_SIZE, WITAN_VM_MODULE_SIZE_MAX);
    /* Every truncation is refused as such, at the end of the input. */
    for (size_t n = 0; n < full; n++) {
        build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
        m.n = n;
        vm_verify_error err;
        assert_int_equal(load(&m, &err), WITAN_EVERIFY);
        if (n >= 4) {
            assert_int_equal(err.reason, VM_VERR_TRUNCATED);
            seen[VM_VERR_TRUNCATED] = 1;
        }
        assert_int_equal(err.offset, n);
    }
}

static void test_section_rejections(void **state)
{
    (void)state;
    struct mb m;
    /* Int constant count over the limit (offset 8). */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[8] = (WITAN_VM_CONST_COUNT_MAX + 1) & 0xff;
    m.b[9] = (WITAN_VM_CONST_COUNT_MAX + 1) >> 8;
    expect_reject(&m, VM_VERR_COUNT, 8);
    /* Bytes constant over its size (its length at 20). */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[22] = 1;
    m.b[21] = 0;
    m.b[20] = 1; /* 65537 */
    expect_reject(&m, VM_VERR_CONST_SIZE, 20);
    /* Import name not an identifier (name length at 28). */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[29] = '-';
    expect_reject(&m, VM_VERR_NAME, 28);
    /* Unknown import, wrong signature. */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[29] = 'x';
    expect_reject(&m, VM_VERR_IMPORT_UNKNOWN, 28);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[39] = VM_TYPE_BYTES; /* store_get's parameter type */
    expect_reject(&m, VM_VERR_IMPORT_SIG, 28);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[39] = 7;
    expect_reject(&m, VM_VERR_TYPE, 39);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[38] = WITAN_VM_PARAM_COUNT_MAX + 1;
    expect_reject(&m, VM_VERR_PARAMS, 38);
    /* Loaded without a host, the unknown import is fine. */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[29] = 'x';
    vm_module *mod;
    assert_int_equal(vm_module_load(m.b, m.n, NULL, &mod, NULL), 0);
    vm_module_free(mod);
    /* Function header: params > regs, regs over limit, bad type, bad
     * result type, code size 0 and over the limit. Function count at 41. */
    build1(&m, 2, VM_TYPE_INT, "i", ret0, 1);
    expect_reject(&m, VM_VERR_PARAMS, 43);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[45] = 1;
    m.b[46] = 1; /* 257 registers */
    expect_reject(&m, VM_VERR_REGS, 45);
    build1(&m, 1, VM_TYPE_INT, "x", ret0, 1);
    expect_reject(&m, VM_VERR_TYPE, 47);
    build1(&m, 1, 3, "i", ret0, 1);
    expect_reject(&m, VM_VERR_TYPE, 44);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 0);
    expect_reject(&m, VM_VERR_CODE_SIZE, 48);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[48] = (WITAN_VM_FUNC_WORDS_MAX + 1) & 0xff;
    m.b[49] = (WITAN_VM_FUNC_WORDS_MAX + 1) >> 8;
    expect_reject(&m, VM_VERR_CODE_SIZE, 48);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[41] = (WITAN_VM_FUNC_COUNT_MAX + 1) & 0xff;
    m.b[42] = (WITAN_VM_FUNC_COUNT_MAX + 1) >> 8;
    expect_reject(&m, VM_VERR_COUNT, 41);
    /* Exports: unknown function, duplicate name, empty name. */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[m.n - 2] = 1;
    expect_reject(&m, VM_VERR_EXPORT_FUNC, m.n - 2);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    size_t ex = m.n - 9; /* export count */
    m.b[ex] = 2;
    m.n -= 0;
    name(&m, "main");
    u16(&m, 0);
    expect_reject(&m, VM_VERR_DUP_NAME, ex + 2 + 7);
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    m.b[ex + 2] = 0;
    expect_reject(&m, VM_VERR_NAME, ex + 2);
}

static void expect_code(uint32_t params, uint32_t result, const char *types,
                        const uint32_t *code, uint32_t words, int reason,
                        uint32_t word)
{
    struct mb m;
    build1(&m, params, result, types, code, words);
    expect_reject(&m, reason, AT(&m, word));
}

#define CODE(...) ((const uint32_t[]){__VA_ARGS__}), \
    (uint32_t)(sizeof((const uint32_t[]){__VA_ARGS__}) / 4)

static void test_instruction_rejections(void **state)
{
    (void)state;
    const uint32_t r = W(OP_RET, 0, 0, 0);
    expect_code(1, 1, "i", CODE(W(200, 0, 0, 0), r), VM_VERR_OPCODE, 0);
    expect_code(1, 1, "i", CODE(W(OP_NOP, 0, 0, 0), W(OP_GAS, 0, 0, 0), r),
                VM_VERR_OPCODE, 1);
    expect_code(1, 1, "i", CODE(W(OP_NOP, 1, 0, 0), r), VM_VERR_RESERVED, 0);
    expect_code(1, 1, "i", CODE(W(OP_NEG, 0, 0, 1), r), VM_VERR_RESERVED, 0);
    expect_code(1, 1, "ii", CODE(W(OP_ADD, 0, 1, 2), r), VM_VERR_REG, 0);
    expect_code(1, 1, "ib", CODE(W(OP_ADD, 0, 1, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "ib", CODE(W(OP_MOV, 0, 1, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "ib", CODE(W(OP_BSUB, 1, 1, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "ib", CODE(W(OP_BLEN, 1, 1, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "i", CODE(WX(OP_LDK, 0, 1), r), VM_VERR_CONST, 0);
    expect_code(1, 1, "ib", CODE(WX(OP_LDS, 1, 1), r), VM_VERR_CONST, 0);
    expect_code(1, 1, "ib", CODE(WX(OP_LDS, 0, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "i", CODE(WX(OP_CALL, 0, 1), r), VM_VERR_FUNC, 0);
    expect_code(1, 1, "i", CODE(WX(OP_HOST, 0, 1), r), VM_VERR_IMPORT, 0);
    /* Window past the frame; argument of the wrong type. */
    expect_code(1, 1, "ii", CODE(WX(OP_HOST, 2, 0), r), VM_VERR_CALL_ARGS, 0);
    expect_code(1, 1, "ib", CODE(WX(OP_HOST, 1, 0), r), VM_VERR_REG_TYPE, 0);
    expect_code(1, 1, "i", CODE(W(OP_MODI, 0, 0, 0), r), VM_VERR_IMM, 0);
    expect_code(1, 1, "i", CODE(W(OP_DIVI, 0, 0, 0), r), VM_VERR_IMM, 0);
    /* Results: ret in a void function, ret of the wrong type, retv is
     * fine anywhere only in void functions via ret checks. */
    expect_code(1, 0, "i", CODE(r), VM_VERR_RESULT, 0);
    expect_code(1, 2, "ib", CODE(r), VM_VERR_RESULT, 0);
    expect_code(1, 1, "i", CODE(W(OP_RET, 1, 0, 0)), VM_VERR_REG, 0);
    /* retv where a value is due (found by the fuzzer against the
     * reference interpreter). */
    expect_code(1, 1, "i", CODE(W(OP_NOP, 0, 0, 0), W(OP_RETV, 0, 0, 0)),
                VM_VERR_RESULT, 1);
    expect_code(1, 2, "ib", CODE(W(OP_RETV, 0, 0, 0)), VM_VERR_RESULT, 0);
    /* Jumps. */
    expect_code(1, 1, "i", CODE(WJ(OP_JMP, 5), r), VM_VERR_JUMP_RANGE, 0);
    expect_code(1, 1, "i", CODE(WJ(OP_JMP, -2), r), VM_VERR_JUMP_RANGE, 0);
    expect_code(1, 1, "i", CODE(WX(OP_JZ, 0, 1), r), VM_VERR_JUMP_RANGE, 0);
    expect_code(1, 1, "i", CODE(W(OP_JEQ, 0, 0, 0), (uint32_t)-3, r),
                VM_VERR_JUMP_RANGE, 0);
    expect_code(1, 1, "i", CODE(WJ(OP_JMP, 1), W(OP_JEQ, 0, 0, 0), 0, r),
                VM_VERR_JUMP_OPERAND, 0);
    expect_code(1, 1, "i", CODE(W(OP_JEQ, 0, 0, 0), 0, WX(OP_JZ, 0, -2), r),
                VM_VERR_JUMP_OPERAND, 2);
    /* A two-word instruction cut by the end of the code. */
    expect_code(1, 1, "i", CODE(r, W(OP_JEQ, 0, 0, 0)), VM_VERR_TRUNCATED, 2);
    /* Control falling off the end. */
    expect_code(1, 1, "i", CODE(W(OP_NOP, 0, 0, 0)), VM_VERR_FALLTHROUGH, 1);
    expect_code(1, 1, "i", CODE(r, WX(OP_JZ, 0, -2)), VM_VERR_FALLTHROUGH, 2);
}

static void test_call_rejections(void **state)
{
    (void)state;
    /* f1 takes (i, b) and returns b. */
    const uint32_t callee[] = {W(OP_RET, 1, 0, 0)};
    struct fdef f[2] = {{1, 1, "iib", NULL, 0}, {2, 2, "ib", callee, 1}};
    struct mb m;
    uint32_t c1[] = {WX(OP_CALL, 0, 1), W(OP_RET, 0, 0, 0)};
    f[0].code = c1;
    f[0].words = 2;
    build(&m, f, 2);
    expect_reject(&m, VM_VERR_REG_TYPE, AT(&m, 0)); /* r1 is not b */
    uint32_t c2[] = {WX(OP_CALL, 2, 1), W(OP_RET, 0, 0, 0)};
    f[0].code = c2;
    build(&m, f, 2);
    expect_reject(&m, VM_VERR_CALL_ARGS, AT(&m, 0));
    /* Right arguments, result into an int register. */
    f[0].types = "iib";
    uint32_t c3[] = {WX(OP_CALL, 0, 1), W(OP_RET, 0, 0, 0)};
    f[0].types = "ibi";
    f[0].code = c3;
    build(&m, f, 2);
    expect_reject(&m, VM_VERR_RESULT, AT(&m, 0));
    /* A void callee with no parameters takes window 0 only. */
    const uint32_t v[] = {W(OP_RETV, 0, 0, 0)};
    struct fdef g[2] = {{1, 1, "ii", NULL, 2}, {0, 0, "", v, 1}};
    uint32_t c4[] = {WX(OP_CALL, 1, 1), W(OP_RET, 0, 0, 0)};
    g[0].code = c4;
    build(&m, g, 2);
    expect_reject(&m, VM_VERR_CALL_ARGS, AT(&m, 0));
    uint32_t c5[] = {WX(OP_CALL, 0, 1), W(OP_RET, 0, 0, 0)};
    g[0].code = c5;
    build(&m, g, 2);
    vm_verify_error err;
    assert_int_equal(load(&m, &err), 0);
}

/* Flipping any single byte of a valid module never crashes the loader, and
 * whatever loads also runs safely. */
static void test_corruption_never_crashes(void **state)
{
    (void)state;
    uint8_t *bin;
    size_t size;
    vmt_asm(".import store_get i -> i\n.bytes s \"abc\"\n"
            ".func main i -> i\n.regs i b\n lds r2, s\n blen r1, r2\n"
            " jlti r0, 3, x\n host r0, store_get\nx:\n add r0, r0, r1\n"
            " ret r0\n.end\n.export main main\n",
            &bin, &size);
    vm_exec *x;
    assert_int_equal(vm_exec_new(&x), 0);
    int loaded = 0;
    for (size_t i = 0; i < size; i++)
        for (int bit = 0; bit < 8; bit++) {
            bin[i] ^= (uint8_t)(1u << bit);
            vm_module *m;
            if (vm_module_load(bin, size, vm_testhost_host(vmt_host()), &m,
                               NULL) == 0) {
                loaded++;
                uint32_t fi;
                if (vm_module_export(m, "main", &fi) == 0) {
                    vm_value a = vm_int(5);
                    vm_result r;
                    (void)vm_call(x, m, fi, &a, 1, 1000, &r);
                }
                vm_module_free(m);
            }
            bin[i] ^= (uint8_t)(1u << bit);
        }
    assert_true(loaded > 0);
    vm_exec_free(x);
    free(bin);
}

static void test_duplicate_import_and_bad_host(void **state)
{
    (void)state;
    struct mb m;
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    /* A second import store_get after the first (import count at 26). */
    size_t imp_end = 41;
    uint8_t tail[200];
    size_t tail_size = m.n - imp_end;
    memcpy(tail, m.b + imp_end, tail_size);
    m.n = imp_end;
    name(&m, "store_get");
    u8(&m, 1);
    u8(&m, VM_TYPE_INT);
    u8(&m, VM_TYPE_INT);
    memcpy(m.b + m.n, tail, tail_size);
    m.n += tail_size;
    m.b[26] = 2;
    expect_reject(&m, VM_VERR_DUP_NAME, imp_end);
    /* Host tables that break the rules are refused before the module. */
    build1(&m, 1, VM_TYPE_INT, "i", ret0, 1);
    vm_host_func bad[] = {{"store_get", "i", 'i', WITAN_VM_HOST_GAS_MAX + 1,
                           NULL}};
    vm_host host = {bad, 1, NULL};
    vm_module *mod = (vm_module *)1;
    assert_int_equal(vm_module_load(m.b, m.n, &host, &mod, NULL),
                     WITAN_EINVAL);
    assert_null(mod);
    const vm_host_func *good = vm_testhost_host(vmt_host())->funcs;
    vm_host_func copy = good[1];
    copy.params = "x";
    host.funcs = &copy;
    assert_int_equal(vm_module_load(m.b, m.n, &host, &mod, NULL),
                     WITAN_EINVAL);
    copy = good[1];
    copy.result = 'q';
    assert_int_equal(vm_module_load(m.b, m.n, &host, &mod, NULL),
                     WITAN_EINVAL);
    copy = good[1];
    assert_int_equal(vm_module_load(m.b, m.n, &host, &mod, NULL), 0);
    vm_module_free(mod);
}

/* Runs last: every reason but "none" was produced by some test above. */
static void test_every_reason_covered(void **state)
{
    (void)state;
    for (int r = 1; r < VM_VERR_COUNT_; r++)
        if (!seen[r])
            fail_msg("no test produces '%s'", vm_verify_reason_text(r));
}

static void test_reason_text(void **state)
{
    (void)state;
    assert_string_equal(vm_verify_reason_text(VM_VERR_JUMP_OPERAND),
                        "jump target inside an instruction");
    assert_string_equal(vm_verify_reason_text(-1), "unknown reason");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_module),
        cmocka_unit_test(test_header_rejections),
        cmocka_unit_test(test_section_rejections),
        cmocka_unit_test(test_instruction_rejections),
        cmocka_unit_test(test_call_rejections),
        cmocka_unit_test(test_corruption_never_crashes),
        cmocka_unit_test(test_duplicate_import_and_bad_host),
        cmocka_unit_test(test_reason_text),
        cmocka_unit_test(test_every_reason_covered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
