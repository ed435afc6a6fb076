/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interpreter: every instruction's result, every trap, and gas on straight
 * lines, branches, calls and traps. Every program runs under both dispatch
 * strategies (vmt_run checks they agree to the last unit of gas).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/vm/vmt.h"

#define MAIN_END ".end\n.export main main\n"

static char src[8192];

/* Runs "op r2, r0, r1" on (a, b). Returns the vm_call code. */
static int binop(const char *op, int64_t a, int64_t b, vm_result *r)
{
    snprintf(src, sizeof src,
             ".func main i i -> i\n.regs i\n    %s r2, r0, r1\n    ret r2\n"
             MAIN_END, op);
    vm_value args[2] = {vm_int(a), vm_int(b)};
    return vmt_run(src, args, 2, 1000, r);
}

static void expect_bin(const char *op, int64_t a, int64_t b, int64_t want)
{
    vm_result r;
    int e = binop(op, a, b, &r);
    if (e)
        fail_msg("%s %lld %lld trapped: %s", op, (long long)a, (long long)b,
                 vm_trap_text(r.trap));
    if (r.value.i != want)
        fail_msg("%s %lld %lld = %lld, want %lld", op, (long long)a,
                 (long long)b, (long long)r.value.i, (long long)want);
    assert_int_equal(r.gas_used, 2 + (strcmp(op, "div") == 0 ||
                                      strcmp(op, "mod") == 0));
}

static void expect_bin_trap(const char *op, int64_t a, int64_t b, int trap)
{
    vm_result r;
    assert_int_equal(binop(op, a, b, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, trap);
    assert_int_equal(r.trap_offset, 0);
}

static void test_int_binary(void **state)
{
    (void)state;
    expect_bin("add", 2, 3, 5);
    expect_bin("add", -7, 3, -4);
    expect_bin("add", INT64_MAX - 1, 1, INT64_MAX);
    expect_bin_trap("add", INT64_MAX, 1, VM_TRAP_OVERFLOW);
    expect_bin_trap("add", INT64_MIN, -1, VM_TRAP_OVERFLOW);
    expect_bin("sub", 2, 3, -1);
    expect_bin("sub", INT64_MIN + 1, 1, INT64_MIN);
    expect_bin_trap("sub", INT64_MIN, 1, VM_TRAP_OVERFLOW);
    expect_bin_trap("sub", 0, INT64_MIN, VM_TRAP_OVERFLOW);
    expect_bin("mul", -6, 7, -42);
    expect_bin("mul", 1LL << 31, 1LL << 31, 1LL << 62);
    expect_bin_trap("mul", 1LL << 32, 1LL << 31, VM_TRAP_OVERFLOW);
    expect_bin_trap("mul", INT64_MIN, -1, VM_TRAP_OVERFLOW);
    expect_bin("div", 7, 2, 3);
    expect_bin("div", -7, 2, -3);
    expect_bin("div", 7, -2, -3);
    expect_bin("div", INT64_MIN, 1, INT64_MIN);
    expect_bin_trap("div", 1, 0, VM_TRAP_DIV_ZERO);
    expect_bin_trap("div", INT64_MIN, -1, VM_TRAP_OVERFLOW);
    expect_bin("mod", 7, 3, 1);
    expect_bin("mod", -7, 3, -1);
    expect_bin("mod", 7, -3, 1);
    expect_bin("mod", INT64_MIN, -1, 0);
    expect_bin_trap("mod", 5, 0, VM_TRAP_DIV_ZERO);
    expect_bin("and", 12, 10, 8);
    expect_bin("or", 12, 10, 14);
    expect_bin("xor", 12, 10, 6);
    expect_bin("and", -1, 5, 5);
    expect_bin("shl", 1, 62, 1LL << 62);
    expect_bin("shl", 1, 63, INT64_MIN);
    expect_bin("shl", 3, 64, 3); /* count taken mod 64 */
    expect_bin("shl", 1, -1, INT64_MIN);
    expect_bin("shr", 256, 4, 16);
    expect_bin("shr", -256, 4, -16);
    expect_bin("shr", -1, 63, -1);
    expect_bin("shr", INT64_MIN, 63, -1);
    expect_bin("shr", 5, 65, 2);
    expect_bin("eq", 3, 3, 1);
    expect_bin("eq", 3, 4, 0);
    expect_bin("ne", 3, 4, 1);
    expect_bin("ne", 4, 4, 0);
    expect_bin("lt", -1, 0, 1);
    expect_bin("lt", 0, 0, 0);
    expect_bin("le", 0, 0, 1);
    expect_bin("le", 1, 0, 0);
}

static int immop(const char *op, int64_t a, int imm, vm_result *r)
{
    snprintf(src, sizeof src,
             ".func main i -> i\n.regs i\n    %s r1, r0, %d\n    ret r1\n"
             MAIN_END, op, imm);
    vm_value arg = vm_int(a);
    return vmt_run(src, &arg, 1, 1000, r);
}

static void expect_imm(const char *op, int64_t a, int imm, int64_t want)
{
    vm_result r;
    assert_int_equal(immop(op, a, imm, &r), 0);
    assert_int_equal(r.value.i, want);
}

static void test_int_immediate(void **state)
{
    (void)state;
    vm_result r;
    expect_imm("addi", 5, -7, -2);
    expect_imm("addi", 5, 127, 132);
    assert_int_equal(immop("addi", INT64_MAX, 1, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_OVERFLOW);
    expect_imm("muli", 5, -128, -640);
    assert_int_equal(immop("muli", INT64_MIN, -1, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_OVERFLOW);
    expect_imm("divi", -9, 2, -4);
    expect_imm("divi", 255, 255, 1);
    expect_imm("modi", -9, 2, -1);
    expect_imm("modi", 100, 7, 2);
    assert_int_equal(r.gas_used, 1); /* the overflowing muli; ret refunded */
}

static void test_unary_and_loads(void **state)
{
    (void)state;
    const char *neg = ".func main i -> i\n.regs i\n neg r1, r0\n ret r1\n"
                      MAIN_END;
    assert_int_equal(vmt_int(neg, 5), -5);
    assert_int_equal(vmt_int(neg, INT64_MAX), -INT64_MAX);
    vm_value a = vm_int(INT64_MIN);
    vm_result r;
    assert_int_equal(vmt_run(neg, &a, 1, 100, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_OVERFLOW);
    assert_int_equal(vmt_int(".func main i -> i\n.regs i\n not r1, r0\n"
                             " ret r1\n" MAIN_END, 0),
                     -1);
    assert_int_equal(vmt_int(".func main i -> i\n.regs i\n mov r1, r0\n"
                             " ret r1\n" MAIN_END, 42),
                     42);
    assert_int_equal(vmt_int(".func main i -> i\n ldi r0, -32768\n ret r0\n"
                             MAIN_END, 0),
                     -32768);
    assert_int_equal(vmt_int(".func main i -> i\n ldi r0, 32767\n ret r0\n"
                             MAIN_END, 0),
                     32767);
    assert_int_equal(vmt_int(".int big 0x7fffffffffffffff\n"
                             ".func main i -> i\n ldk r0, big\n ret r0\n"
                             MAIN_END, 0),
                     INT64_MAX);
    assert_int_equal(vmt_int(".func main i -> i\n ldk r0, -9223372036854775808\n"
                             " ret r0\n" MAIN_END, 0),
                     INT64_MIN);
    assert_int_equal(vmt_int(".func main i -> i\n nop\n nop\n ret r0\n"
                             MAIN_END, 9),
                     9);
}

/* A branch instruction with the given operands chooses 1 (taken) or 2. */
static int64_t branch(const char *insn, int64_t a, int64_t b)
{
    snprintf(src, sizeof src,
             ".func main i i -> i\n.regs i\n    %s yes\n    ldi r2, 2\n"
             "    ret r2\nyes:\n    ldi r2, 1\n    ret r2\n" MAIN_END, insn);
    vm_value args[2] = {vm_int(a), vm_int(b)};
    vm_result r;
    assert_int_equal(vmt_run(src, args, 2, 100, &r), 0);
    assert_int_equal(r.gas_used, 3);
    return r.value.i;
}

static void test_branches(void **state)
{
    (void)state;
    assert_int_equal(branch("jz r0,", 0, 0), 1);
    assert_int_equal(branch("jz r0,", 5, 0), 2);
    assert_int_equal(branch("jnz r0,", 5, 0), 1);
    assert_int_equal(branch("jnz r0,", 0, 0), 2);
    assert_int_equal(branch("jeq r0, r1,", 4, 4), 1);
    assert_int_equal(branch("jeq r0, r1,", 4, 5), 2);
    assert_int_equal(branch("jne r0, r1,", 4, 5), 1);
    assert_int_equal(branch("jne r0, r1,", 4, 4), 2);
    assert_int_equal(branch("jlt r0, r1,", 4, 5), 1);
    assert_int_equal(branch("jlt r0, r1,", 5, 5), 2);
    assert_int_equal(branch("jle r0, r1,", 5, 5), 1);
    assert_int_equal(branch("jle r0, r1,", 6, 5), 2);
    assert_int_equal(branch("jeqi r0, -3,", -3, 0), 1);
    assert_int_equal(branch("jeqi r0, -3,", 3, 0), 2);
    assert_int_equal(branch("jnei r0, 7,", 3, 0), 1);
    assert_int_equal(branch("jnei r0, 7,", 7, 0), 2);
    assert_int_equal(branch("jlti r0, 7,", 6, 0), 1);
    assert_int_equal(branch("jlti r0, 7,", 7, 0), 2);
    assert_int_equal(branch("jlei r0, 7,", 7, 0), 1);
    assert_int_equal(branch("jlei r0, 7,", 8, 0), 2);
    assert_int_equal(branch("jgti r0, 7,", 8, 0), 1);
    assert_int_equal(branch("jgti r0, 7,", 7, 0), 2);
    assert_int_equal(branch("jgei r0, -128,", -128, 0), 1);
    assert_int_equal(branch("jgei r0, -128,", INT64_MIN, 0), 2);
    assert_int_equal(branch("jmp", 0, 0), 1);
}

static const char *sum_loop =
    "; sum of 1..n with forle; gas 3 + 4n + 1 for n >= 1\n"
    ".func main i -> i\n.regs i i\n"
    "    ldi r1, 0\n    ldi r2, 1\n    jlt r0, r2, done\n"
    "loop:\n    add r1, r1, r2\n    nop\n    nop\n    forle r2, r0, loop\n"
    "done:\n    ret r1\n" MAIN_END;

static void test_forle_loop_and_gas(void **state)
{
    (void)state;
    vm_result r;
    for (int64_t n = 0; n <= 20; n += 5) {
        vm_value a = vm_int(n);
        assert_int_equal(vmt_run(sum_loop, &a, 1, 10000, &r), 0);
        assert_int_equal(r.value.i, n * (n + 1) / 2);
        assert_int_equal(r.gas_used, 3 + 4 * (uint64_t)n + 1);
    }
    /* forle at INT64_MAX overflows instead of wrapping. */
    const char *edge = ".func main i -> i\n.regs i\n ldk r1, 0x7fffffffffffffff\n"
                       "l:\n forle r0, r1, l\n ret r0\n" MAIN_END;
    vm_value a = vm_int(INT64_MAX - 3);
    assert_int_equal(vmt_run(edge, &a, 1, 100, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_OVERFLOW);
    assert_int_equal(r.trap_offset, 1);
    /* ldk 1 + forle 1 + three more forle blocks (1 each), last trapping */
    assert_int_equal(r.gas_used, 5);
}

static void test_gas_straight_line(void **state)
{
    (void)state;
    const char *p = ".func main i -> i\n ldi r0, 5\n addi r0, r0, 1\n"
                    " mul r0, r0, r0\n divi r0, r0, 2\n ret r0\n" MAIN_END;
    vm_value a = vm_int(0);
    vm_result r;
    assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
    assert_int_equal(r.value.i, 18);
    assert_int_equal(r.gas_used, 1 + 1 + 1 + 2 + 1);
    /* Exactly enough gas runs; one less stops at the block's first word
     * and consumes the whole limit. */
    assert_int_equal(vmt_run(p, &a, 1, 6, &r), 0);
    assert_int_equal(vmt_run(p, &a, 1, 5, &r), WITAN_EGAS);
    assert_int_equal(r.trap, VM_TRAP_GAS);
    assert_int_equal(r.trap_offset, 0);
    assert_int_equal(r.gas_used, 5);
    assert_int_equal(vmt_run(p, &a, 1, 0, &r), WITAN_EGAS);
    assert_int_equal(r.gas_used, 0);
}

static void test_gas_branches(void **state)
{
    (void)state;
    /* Taken: jz (1) + ldi + ret = 3. Not taken: jz + nop*3 + ldi + ret = 6. */
    const char *p = ".func main i -> i\n.regs i\n jz r0, t\n nop\n nop\n nop\n"
                    " ldi r1, 2\n ret r1\nt:\n ldi r1, 1\n ret r1\n" MAIN_END;
    vm_value a = vm_int(0);
    vm_result r;
    assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
    assert_int_equal(r.gas_used, 3);
    a = vm_int(1);
    assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
    assert_int_equal(r.gas_used, 6);
    /* With 5 gas the taken path runs, the other stops at offset 1. */
    a = vm_int(0);
    assert_int_equal(vmt_run(p, &a, 1, 5, &r), 0);
    a = vm_int(1);
    assert_int_equal(vmt_run(p, &a, 1, 5, &r), WITAN_EGAS);
    assert_int_equal(r.trap_offset, 1);
}

static const char *calls =
    ".func main i -> i\n.regs i\n"
    "    mov r1, r0\n    call r1, double\n    addi r1, r1, 1\n    ret r1\n"
    ".end\n"
    ".func double i -> i\n    add r0, r0, r0\n    ret r0\n.end\n"
    ".func nothing -> v\n    retv\n.end\n"
    ".func main2 i -> i\n    call r0, nothing\n    ret r0\n.end\n"
    ".export main main\n";

static void test_calls_and_gas(void **state)
{
    (void)state;
    vm_value a = vm_int(20);
    vm_result r;
    assert_int_equal(vmt_run(calls, &a, 1, 100, &r), 0);
    assert_int_equal(r.value.i, 41);
    /* mov 1 + call 4 | add 1 + ret 1 | addi 1 + ret 1 */
    assert_int_equal(r.gas_used, 9);
    /* Out of gas inside the callee is reported there. */
    assert_int_equal(vmt_run(calls, &a, 1, 6, &r), WITAN_EGAS);
    assert_int_equal(r.trap_func, 1);
    assert_int_equal(r.trap_offset, 0);
    assert_int_equal(r.gas_used, 6);
    assert_int_equal(vmt_run(calls, &a, 1, 8, &r), WITAN_EGAS);
    assert_int_equal(r.trap_func, 0);
    assert_int_equal(r.trap_offset, 2);
    /* A void call leaves the window alone. */
    char p[1024];
    snprintf(p, sizeof p, "%s", calls);
    char *ex = strstr(p, ".export main main");
    strcpy(ex, ".export main main2\n");
    assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
    assert_int_equal(r.value.i, 20);
    assert_int_equal(r.gas_used, 4 + 1 + 1);
}

static void test_recursion(void **state)
{
    (void)state;
    const char *fib = ".func main i -> i\n.regs i i\n jlti r0, 2, base\n"
                      " addi r1, r0, -1\n call r1, main\n addi r2, r0, -2\n"
                      " call r2, main\n add r0, r1, r2\n ret r0\n"
                      "base:\n ret r0\n" MAIN_END;
    assert_int_equal(vmt_int(fib, 20), 6765);
    assert_int_equal(vmt_int(fib, 1), 1);
}

static void expect_trap(const char *p, int64_t arg, uint64_t gas, int trap,
                        uint32_t offset, uint64_t gas_used)
{
    vm_value a = vm_int(arg);
    vm_result r;
    int e = vmt_run(p, &a, 1, gas, &r);
    assert_int_equal(e, trap == VM_TRAP_GAS ? WITAN_EGAS : WITAN_ETRAP);
    assert_int_equal(r.trap, trap);
    assert_int_equal(r.trap_offset, offset);
    assert_int_equal(r.gas_used, gas_used);
}

static void test_trap_refunds_rest_of_block(void **state)
{
    (void)state;
    /* ldi 1 + div 2 are paid; the nops and ret after the trap are not. */
    expect_trap(".func main i -> i\n.regs i i\n ldi r1, 0\n div r2, r0, r1\n"
                " nop\n nop\n ret r2\n" MAIN_END,
                5, 100, VM_TRAP_DIV_ZERO, 1, 3);
    expect_trap(".func main i -> i\n.regs i i\n ldi r1, 0\n nop\n mod r2, r0, r1\n"
                " ret r2\n" MAIN_END,
                5, 100, VM_TRAP_DIV_ZERO, 2, 4);
    /* abort reports the contract's code. */
    vm_value a = vm_int(77);
    vm_result r;
    assert_int_equal(vmt_run(".func main i -> i\n nop\n abort r0\n" MAIN_END,
                             &a, 1, 100, &r),
                     WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_ABORT);
    assert_int_equal(r.abort_code, 77);
    assert_int_equal(r.trap_offset, 1);
    assert_int_equal(r.gas_used, 2);
}

static void test_call_depth_and_stack(void **state)
{
    (void)state;
    /* Unbounded recursion with a small frame hits the depth limit. */
    const char *deep = ".func main i -> i\n addi r0, r0, 1\n call r0, main\n"
                       " ret r0\n" MAIN_END;
    expect_trap(deep, 0, 1000000, VM_TRAP_DEPTH, 1,
                (uint64_t)WITAN_VM_CALL_DEPTH_MAX * 5);
    /* With 256-register frames the register stack runs out first. */
    char p[2048];
    snprintf(p, sizeof p, ".func main i -> i\n.regs");
    for (int i = 1; i < 256; i++)
        strcat(p, " i");
    strcat(p, "\n addi r0, r0, 1\n call r0, main\n ret r0\n" MAIN_END);
    uint64_t frames = WITAN_VM_STACK_SLOT_COUNT_MAX / 256;
    /* A call of a 256-register function costs 4 + 256/16. */
    expect_trap(p, 0, 1000000, VM_TRAP_STACK, 1, frames * (1 + 4 + 16));
    /* 31 registers: 4 + 1; 32 registers: 4 + 2. */
    for (int regs = 31; regs <= 32; regs++) {
        snprintf(p, sizeof p, ".func main i -> i\n call r0, g\n ret r0\n"
                              ".end\n.func g i -> i\n.regs");
        for (int i = 1; i < regs; i++)
            strcat(p, " i");
        strcat(p, "\n ret r0\n.end\n.export main main\n");
        vm_value a = vm_int(3);
        vm_result r;
        assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
        assert_int_equal(r.gas_used, 4 + (uint64_t)regs / 16 + 1 + 1);
    }
}

static void test_bytes(void **state)
{
    (void)state;
    vm_result r;
    /* blen, bcat, beq, bcmp, bget, bsub, itob, btoi. */
    assert_int_equal(vmt_int(".func main i -> i\n.regs b b\n lds r1, \"hello\"\n"
                             " lds r2, \" world\"\n bcat r1, r1, r2\n"
                             " blen r0, r1\n ret r0\n" MAIN_END, 0),
                     11);
    const char *cmp = ".bytes a \"abc\"\n.bytes b \"abd\"\n.bytes c \"ab\"\n"
                      ".func main i -> i\n.regs b b\n lds r1, %s\n lds r2, %s\n"
                      " %s r0, r1, r2\n ret r0\n" MAIN_END;
    struct {
        const char *x, *y, *op;
        int64_t want;
    } cases[] = {
        {"a", "a", "beq", 1}, {"a", "b", "beq", 0}, {"a", "c", "beq", 0},
        {"a", "b", "bcmp", -1}, {"b", "a", "bcmp", 1}, {"a", "a", "bcmp", 0},
        {"c", "a", "bcmp", -1}, {"a", "c", "bcmp", 1},
    };
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(cases); i++) {
        snprintf(src, sizeof src, cmp, cases[i].x, cases[i].y, cases[i].op);
        char copy[sizeof src];
        strcpy(copy, src);
        assert_int_equal(vmt_int(copy, 0), cases[i].want);
    }
    const char *get = ".func main i -> i\n.regs b\n lds r1, \"\\x00\\xff\"\n"
                      " bget r0, r1, r0\n ret r0\n" MAIN_END;
    assert_int_equal(vmt_int(get, 1), 255);
    assert_int_equal(vmt_int(get, 0), 0);
    expect_trap(get, 2, 100, VM_TRAP_BOUNDS, 1, 2);
    expect_trap(get, -1, 100, VM_TRAP_BOUNDS, 1, 2);
    /* bsub r1, r1, r2: r2 = start, r3 = length. */
    const char *sub = ".func main i i -> b\n.regs b b\n lds r2, \"abcdef\"\n"
                      " bsub r3, r2, r0\n ret r3\n" MAIN_END;
    vm_value args[2] = {vm_int(2), vm_int(3)};
    assert_int_equal(vmt_run(sub, args, 2, 100, &r), 0);
    assert_int_equal(r.value.type, VM_TYPE_BYTES);
    assert_int_equal(r.value.size, 3);
    assert_memory_equal(r.value.bytes, "cde", 3);
    args[0] = vm_int(6);
    args[1] = vm_int(0);
    assert_int_equal(vmt_run(sub, args, 2, 100, &r), 0);
    assert_int_equal(r.value.size, 0);
    args[0] = vm_int(4);
    args[1] = vm_int(3);
    assert_int_equal(vmt_run(sub, args, 2, 100, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_BOUNDS);
    args[0] = vm_int(-1);
    args[1] = vm_int(1);
    assert_int_equal(vmt_run(sub, args, 2, 100, &r), WITAN_ETRAP);
    args[0] = vm_int(1);
    args[1] = vm_int(INT64_MAX);
    assert_int_equal(vmt_run(sub, args, 2, 100, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_BOUNDS);
    /* itob / btoi round trip, big-endian. */
    const char *ib = ".func main i -> b\n.regs b\n itob r1, r0\n ret r1\n"
                     MAIN_END;
    vm_value a = vm_int(0x0102030405060708LL);
    assert_int_equal(vmt_run(ib, &a, 1, 100, &r), 0);
    assert_memory_equal(r.value.bytes, "\1\2\3\4\5\6\7\10", 8);
    assert_int_equal(vmt_int(".func main i -> i\n.regs b\n itob r1, r0\n"
                             " btoi r0, r1\n ret r0\n" MAIN_END, -5),
                     -5);
    expect_trap(".func main i -> i\n.regs b\n lds r1, \"1234567\"\n"
                " btoi r0, r1\n ret r0\n" MAIN_END,
                0, 100, VM_TRAP_BOUNDS, 1, 3);
    /* A bytes argument, and a bytes result from mov. */
    const char *id = ".func main b -> b\n.regs b\n mov r1, r0\n ret r1\n" MAIN_END;
    vm_value s = vm_bytes("xyz", 3);
    assert_int_equal(vmt_run(id, &s, 1, 100, &r), 0);
    assert_int_equal(r.value.size, 3);
    assert_memory_equal(r.value.bytes, "xyz", 3);
    /* The empty bytes value is what a fresh bytes register holds. */
    assert_int_equal(vmt_int(".func main i -> i\n.regs b\n blen r0, r1\n"
                             " ret r0\n" MAIN_END, 9),
                     0);
}

static void test_bytes_gas(void **state)
{
    (void)state;
    /* 40 + 40 bytes: bcat costs 2 + ceil(80/32) = 5; beq of 80 vs 40
     * compares 40: 2 + 2. */
    const char *p = ".func main i -> i\n.regs b b\n"
                    " lds r1, \"0123456789012345678901234567890123456789\"\n"
                    " bcat r2, r1, r1\n beq r0, r2, r1\n ret r0\n" MAIN_END;
    vm_value a = vm_int(0);
    vm_result r;
    assert_int_equal(vmt_run(p, &a, 1, 100, &r), 0);
    assert_int_equal(r.value.i, 0);
    assert_int_equal(r.gas_used, 1 + 5 + 4 + 1);
    /* Static cost is paid (1+2+2+1 = 6); the dynamic 3 of bcat is not. */
    assert_int_equal(vmt_run(p, &a, 1, 8, &r), WITAN_EGAS);
    assert_int_equal(r.trap_offset, 1);
    assert_int_equal(r.gas_used, 8);
}

static void test_memory_limit(void **state)
{
    (void)state;
    /* Doubling a value: bcat fails once a value would pass the size limit. */
    const char *dbl = ".func main i -> i\n.regs b\n lds r1, \"x\"\n"
                      "l:\n bcat r1, r1, r1\n jmp l\n" MAIN_END;
    vm_value a = vm_int(0);
    vm_result r;
    assert_int_equal(vmt_run(dbl, &a, 1, 1000000, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_MEMORY);
    assert_int_equal(r.trap_offset, 1);
    /* Many values of 32 KiB: total memory runs out. */
    char p[1024];
    snprintf(p, sizeof p,
             ".func main i -> i\n.regs b b\n lds r1, \"x\"\n"
             " ldi r0, 15\nd:\n bcat r1, r1, r1\n addi r0, r0, -1\n"
             " jnz r0, d\nl:\n bcat r2, r1, r1\n jmp l\n" MAIN_END);
    assert_int_equal(vmt_run(p, &a, 1, 10000000, &r), WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_MEMORY);
    assert_int_equal(r.trap_offset, 5);
    /* Many small values: the count runs out. */
    assert_int_equal(vmt_run(".func main i -> i\n.regs i b b\n lds r2, \"ab\"\n"
                             " ldi r0, 0\n ldi r1, 1\n"
                             "l:\n bsub r3, r2, r0\n jmp l\n" MAIN_END,
                             &a, 1, 10000000, &r),
                     WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_MEMORY);
}

static void test_host_calls(void **state)
{
    (void)state;
    const char *p = ".import store_put i i -> v\n.import store_get i -> i\n"
                    ".func main i -> i\n.regs i\n"
                    " ldi r1, 99\n host r0, store_put\n"
                    " host r0, store_get\n ret r0\n" MAIN_END;
    vm_value a = vm_int(12345);
    vm_result r;
    assert_int_equal(vmt_run(p, &a, 1, 1000, &r), 0);
    assert_int_equal(r.value.i, 99);
    /* ldi 1 + host 4 + 20 | host 4 + 10 | ret 1 */
    assert_int_equal(r.gas_used, 40);
    /* Not enough for store_get's price: out of gas at that host. */
    assert_int_equal(vmt_run(p, &a, 1, 35, &r), WITAN_EGAS);
    assert_int_equal(r.trap_offset, 2);
    /* A failing host function traps with its error. */
    assert_int_equal(vmt_run(".import fail i -> v\n.func main i -> i\n"
                             " host r0, fail\n ret r0\n" MAIN_END,
                             &a, 1, 100, &r),
                     WITAN_ETRAP);
    assert_int_equal(r.trap, VM_TRAP_HOST);
    assert_int_equal(r.host_err, WITAN_EINVAL);
    /* Bytes in and out of the host. */
    const char *e = ".import echo b -> b\n.import emit b -> v\n"
                    ".func main i -> b\n.regs b\n lds r1, \"hi\"\n"
                    " host r1, echo\n host r1, emit\n ret r1\n" MAIN_END;
    assert_int_equal(vmt_run(e, &a, 1, 100, &r), 0);
    assert_int_equal(r.value.size, 2);
    assert_memory_equal(r.value.bytes, "hi", 2);
    size_t log_size;
    const char *log = vm_testhost_log(vmt_host(), &log_size);
    assert_true(log_size >= 3);
    assert_memory_equal(log + log_size - 3, "hi\n", 3);
}

/* The test host's map: growth, collisions, negative keys, overwrites. */
static void test_testhost_map(void **state)
{
    (void)state;
    vm_testhost *th;
    assert_int_equal(vm_testhost_new(&th), 0);
    const vm_host *h = vm_testhost_host(th);
    const vm_host_func *put = &h->funcs[0], *get = &h->funcs[1];
    assert_string_equal(put->name, "store_put");
    assert_string_equal(get->name, "store_get");
    vm_value r = vm_int(0);
    for (int64_t i = 0; i < 5000; i++) {
        int64_t key = (i % 3 == 0) ? i * 1024 : (i % 3 == 1) ? -i : i * 7;
        vm_value a[2] = {vm_int(key), vm_int(i + 1)};
        assert_int_equal(put->fn(h->ctx, a, 2, &r), 0);
    }
    assert_int_equal(vm_testhost_entry_count(th), 5000);
    vm_value over[2] = {vm_int(14), vm_int(99)}; /* i = 2's key */
    assert_int_equal(put->fn(h->ctx, over, 2, &r), 0);
    assert_int_equal(vm_testhost_entry_count(th), 5000);
    assert_int_equal(get->fn(h->ctx, over, 1, &r), 0);
    assert_int_equal(r.i, 99);
    vm_value two[2] = {vm_int(14), vm_int(3)};
    assert_int_equal(put->fn(h->ctx, two, 2, &r), 0);
    for (int64_t i = 1; i < 5000; i++) {
        int64_t key = (i % 3 == 0) ? i * 1024 : (i % 3 == 1) ? -i : i * 7;
        vm_value a = vm_int(key);
        assert_int_equal(get->fn(h->ctx, &a, 1, &r), 0);
        assert_int_equal(r.i, i + 1);
    }
    vm_value missing = vm_int(INT64_MIN);
    assert_int_equal(get->fn(h->ctx, &missing, 1, &r), 0);
    assert_int_equal(r.i, 0);
    vm_testhost_free(th);
}

static void test_call_arguments(void **state)
{
    (void)state;
    uint8_t *bin;
    size_t size;
    vmt_asm(".func main i b -> i\n ret r0\n" MAIN_END, &bin, &size);
    vm_module *m;
    assert_int_equal(vm_module_load(bin, size, NULL, &m, NULL), 0);
    free(bin);
    vm_exec *x;
    assert_int_equal(vm_exec_new(&x), 0);
    vm_result r;
    vm_value good[2] = {vm_int(3), vm_bytes("a", 1)};
    vm_value bad[2] = {vm_bytes("a", 1), vm_int(3)};
    assert_int_equal(vm_call(x, m, 0, good, 2, 10, &r), 0);
    assert_int_equal(r.value.i, 3);
    assert_int_equal(vm_call(x, m, 0, bad, 2, 10, &r), WITAN_EINVAL);
    assert_int_equal(vm_call(x, m, 0, good, 1, 10, &r), WITAN_EINVAL);
    assert_int_equal(vm_call(x, m, 1, good, 2, 10, &r), WITAN_EINVAL);
    assert_int_equal(vm_call(x, m, 0, good, 2, WITAN_VM_GAS_MAX + 1, &r),
                     WITAN_ELIMIT);
    char params[WITAN_VM_PARAM_COUNT_MAX + 1], res;
    assert_int_equal(vm_module_signature(m, 0, params, &res), 0);
    assert_string_equal(params, "ib");
    assert_int_equal(res, 'i');
    uint32_t fi;
    assert_int_equal(vm_module_export(m, "nope", &fi), WITAN_ENOTFOUND);
    vm_exec_free(x);
    vm_module_free(m);
    /* A module with imports loaded without a host cannot run. */
    vmt_asm(".import store_get i -> i\n.func main i -> i\n ret r0\n" MAIN_END,
            &bin, &size);
    assert_int_equal(vm_module_load(bin, size, NULL, &m, NULL), 0);
    free(bin);
    assert_int_equal(vm_exec_new(&x), 0);
    assert_int_equal(vm_call(x, m, 0, good, 1, 10, &r), WITAN_EINVAL);
    vm_exec_free(x);
    vm_module_free(m);
    assert_string_equal(vm_trap_text(VM_TRAP_DIV_ZERO), "division by zero");
    assert_string_equal(vm_trap_text(99), "unknown trap");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_binary),
        cmocka_unit_test(test_int_immediate),
        cmocka_unit_test(test_unary_and_loads),
        cmocka_unit_test(test_branches),
        cmocka_unit_test(test_forle_loop_and_gas),
        cmocka_unit_test(test_gas_straight_line),
        cmocka_unit_test(test_gas_branches),
        cmocka_unit_test(test_calls_and_gas),
        cmocka_unit_test(test_recursion),
        cmocka_unit_test(test_trap_refunds_rest_of_block),
        cmocka_unit_test(test_call_depth_and_stack),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_bytes_gas),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_host_calls),
        cmocka_unit_test(test_testhost_map),
        cmocka_unit_test(test_call_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
