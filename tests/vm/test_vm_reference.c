/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interpreter against the reference (refvm.c, written from spec/vm.md):
 * random well-typed programs — arithmetic at the edges of int64, loops,
 * recursion, bytes, host calls, every trap — run under random gas limits, and
 * both must agree on the result, the trap, where it happened and the gas used.
 * Seeded and reproducible; a failure prints the seed and the program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/vm/refvm.h"
#include "tests/vm/vmt.h"

#define PROGRAM_COUNT 400

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *ireg(void) /* int registers r0..r5 */
{
    static const char *r[] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    return r[rnd(6)];
}

static const char *ireg_low(void) /* r0..r4, so that r+1 is int too */
{
    static const char *r[] = {"r0", "r1", "r2", "r3", "r4"};
    return r[rnd(5)];
}

static const char *breg(void)
{
    return rnd(2) ? "r6" : "r7";
}

static int imm8(void)
{
    static const int v[] = {0, 1, -1, 2, 7, 127, -128, 3, -3};
    return v[rnd(9)];
}

struct text {
    char s[32768];
    size_t n;
};

static void emit(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emit(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
    va_end(ap);
    assert_true(k >= 0 && (size_t)k < sizeof t->s - t->n);
    t->n += (size_t)k;
}

/* One function body of n instructions with labels l0..l(L-1). */
static void body(struct text *t, int n, int in_g)
{
    const int labels = 4;
    int placed[4] = {0, 0, 0, 0};
    static const char *arith[] = {"add", "sub", "mul", "div", "mod", "and",
                                  "or", "xor", "shl", "shr", "eq", "ne",
                                  "lt", "le"};
    static const char *immop[] = {"addi", "muli"};
    static const char *jcmp[] = {"jeq", "jne", "jlt", "jle"};
    static const char *jimm[] = {"jeqi", "jnei", "jlti", "jlei", "jgti",
                                 "jgei"};
    static const char *bcmp[] = {"beq", "bcmp"};
    for (int i = 0; i < n; i++) {
        if (rnd(5) == 0) {
            int l = (int)rnd(labels);
            if (!placed[l]) {
                emit(t, "l%d:\n", l);
                placed[l] = 1;
            }
        }
        switch (rnd(24)) {
        case 0: case 1: case 2: case 3:
            emit(t, "    %s %s, %s, %s\n", arith[rnd(14)], ireg(), ireg(),
                 ireg());
            break;
        case 4:
            emit(t, "    %s %s, %s, %d\n", immop[rnd(2)], ireg(), ireg(),
                 imm8());
            break;
        case 5:
            emit(t, "    %s %s, %s, %u\n", rnd(2) ? "divi" : "modi", ireg(),
                 ireg(), 1 + rnd(255));
            break;
        case 6: {
            static const char *k[] = {"9223372036854775807",
                                      "-9223372036854775808", "4294967296",
                                      "-1", "3037000500"};
            emit(t, "    ldk %s, %s\n", ireg(), k[rnd(5)]);
            break;
        }
        case 7:
            emit(t, "    ldi %s, %d\n", ireg(), (int)rnd(65536) - 32768);
            break;
        case 8:
            emit(t, "    %s %s, %s\n", rnd(2) ? "neg" : "not", ireg(), ireg());
            break;
        case 9:
            emit(t, "    mov %s, %s\n", ireg(), ireg());
            break;
        case 10:
            emit(t, "    %s %s, %s, l%u\n", jcmp[rnd(4)], ireg(), ireg(),
                 rnd(labels));
            break;
        case 11:
            emit(t, "    %s %s, %d, l%u\n", jimm[rnd(6)], ireg(), imm8(),
                 rnd(labels));
            break;
        case 12:
            emit(t, "    %s %s, l%u\n", rnd(2) ? "jz" : "jnz", ireg(),
                 rnd(labels));
            break;
        case 13:
            emit(t, "    forle %s, %s, l%u\n", ireg(), ireg(), rnd(labels));
            break;
        case 14:
            if (rnd(3) == 0)
                emit(t, "    call r0, h\n");
            else if (rnd(3) == 0)
                emit(t, "    call %s, k\n", breg());
            else
                emit(t, "    call %s, %s\n", ireg_low(),
                     in_g && rnd(2) ? "g" : "g");
            break;
        case 15: {
            uint32_t k = rnd(4);
            if (rnd(16) == 0)
                emit(t, "    host %s, fail\n", ireg());
            else if (k == 0)
                emit(t, "    host %s, store_put\n", ireg_low());
            else if (k == 1)
                emit(t, "    host %s, store_get\n", ireg());
            else
                emit(t, "    host %s, %s\n", breg(), k == 2 ? "echo" : "emit");
            break;
        }
        case 16:
            emit(t, "    lds %s, %s\n", breg(),
                 rnd(2) ? "\"abcdefgh\"" : "\"0123456789012345678901234567890123456789\"");
            break;
        case 17:
            emit(t, "    bcat %s, %s, %s\n", breg(), breg(), breg());
            break;
        case 18:
            emit(t, "    bsub %s, %s, %s\n", breg(), breg(), ireg_low());
            break;
        case 19:
            emit(t, "    %s %s, %s, %s\n", bcmp[rnd(2)], ireg(), breg(),
                 breg());
            break;
        case 20:
            emit(t, "    %s %s, %s\n", rnd(2) ? "blen" : "btoi", ireg(),
                 breg());
            if (rnd(2))
                emit(t, "    bget %s, %s, %s\n", ireg(), breg(), ireg());
            break;
        case 21:
            emit(t, "    itob %s, %s\n", breg(), ireg());
            break;
        case 22:
            if (rnd(8) == 0) {
                emit(t, "    abort %s\n", ireg());
            } else if (rnd(8) == 0) {
                /* Doubling past the size of a value: MEMORY. */
                emit(t, "    lds r6, \"0123456789\"\n");
                for (int k = 0; k < 13; k++)
                    emit(t, "    bcat r6, r6, r6\n");
            } else
                emit(t, "    nop\n");
            break;
        case 23:
            emit(t, "    jmp l%u\n", rnd(labels));
            break;
        }
    }
    for (int l = 0; l < labels; l++)
        if (!placed[l])
            emit(t, "l%d:\n", l);
    emit(t, "    ret %s\n", ireg());
}

static void generate(struct text *t)
{
    t->n = 0;
    emit(t, ".import store_put i i -> v\n.import store_get i -> i\n"
            ".import echo b -> b\n.import emit b -> v\n"
            ".import fail i -> v\n");
    emit(t, ".func main i -> i\n.regs i i i i i b b\n");
    body(t, 5 + (int)rnd(40), 0);
    emit(t, ".end\n.func g i i -> i\n.regs i i i i b b\n");
    body(t, 3 + (int)rnd(20), 1);
    emit(t, ".end\n.func h -> v\n    retv\n.end\n");
    /* k: bytes in, bytes out. */
    emit(t, ".func k b -> b\n.regs i\n    bcat r0, r0, r0\n"
            "    blen r1, r0\n    jlti r1, 100, short\n"
            "    ret r0\n"
            "short:\n    itob r0, r1\n    ret r0\n.end\n");
    emit(t, ".export main main\n");
}

static void compare(const char *text, int64_t arg, uint64_t gas,
                    uint64_t seed)
{
    uint8_t *bin;
    size_t size;
    vmt_asm(text, &bin, &size);
    vm_testhost *h1, *h2;
    assert_int_equal(vm_testhost_new(&h1), 0);
    assert_int_equal(vm_testhost_new(&h2), 0);
    vm_module *m1, *m2;
    assert_int_equal(vm_module_load(bin, size, vm_testhost_host(h1), &m1, NULL),
                     0);
    assert_int_equal(vm_module_load(bin, size, vm_testhost_host(h2), &m2, NULL),
                     0);
    free(bin);
    static vm_exec *x;
    if (!x)
        assert_int_equal(vm_exec_new(&x), 0);
    static uint8_t ref_bytes[WITAN_VM_BYTES_SIZE_MAX];
    vm_value a = vm_int(arg);
    vm_result rv, rr;
    int ev = vm_call(x, m1, 0, &a, 1, gas, &rv);
    int er = refvm_call(m2, 0, &a, 1, gas, &rr, ref_bytes);
    if (ev != er || rv.trap != rr.trap || rv.gas_used != rr.gas_used ||
        rv.trap_func != rr.trap_func || rv.trap_offset != rr.trap_offset ||
        rv.value.i != rr.value.i || rv.abort_code != rr.abort_code ||
        rv.host_err != rr.host_err || rv.value.type != rr.value.type ||
        rv.value.size != rr.value.size ||
        (rv.value.size &&
         memcmp(rv.value.bytes, rr.value.bytes, rv.value.size) != 0))
        fail_msg("seed %llu arg %lld gas %llu: vm %d trap %d at %u:%u gas %llu "
                 "value %lld; reference %d trap %d at %u:%u gas %llu value "
                 "%lld\n%s",
                 (unsigned long long)seed, (long long)arg,
                 (unsigned long long)gas, ev, rv.trap, rv.trap_func,
                 rv.trap_offset, (unsigned long long)rv.gas_used,
                 (long long)rv.value.i, er, rr.trap, rr.trap_func,
                 rr.trap_offset, (unsigned long long)rr.gas_used,
                 (long long)rr.value.i, text);
    size_t l1, l2;
    const char *log1 = vm_testhost_log(h1, &l1), *log2 = vm_testhost_log(h2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(log1, log2, l1);
    assert_int_equal(vm_testhost_entry_count(h1), vm_testhost_entry_count(h2));
    vm_module_free(m1);
    vm_module_free(m2);
    vm_testhost_free(h1);
    vm_testhost_free(h2);
}

static void test_random_programs_agree(void **state)
{
    (void)state;
    static struct text t;
    int traps[10] = {0};
    for (uint64_t seed = 1; seed <= PROGRAM_COUNT; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull;
        generate(&t);
        static const int64_t args[] = {0, 1, -1, 5, INT64_MAX, INT64_MIN, 37};
        for (int k = 0; k < 3; k++) {
            int64_t arg = args[rnd(7)];
            uint64_t gas = rnd(4) == 0 ? rnd(40) : 200 + rnd(20000);
            compare(t.s, arg, gas, seed);
            /* Tally traps, to show the programs reach them. */
            uint8_t *bin;
            size_t size;
            vmt_asm(t.s, &bin, &size);
            vm_module *m;
            assert_int_equal(vm_module_load(bin, size,
                                            vm_testhost_host(vmt_host()), &m,
                                            NULL),
                             0);
            free(bin);
            static vm_exec *x;
            if (!x)
                assert_int_equal(vm_exec_new(&x), 0);
            vm_value a = vm_int(arg);
            vm_result r;
            (void)vm_call(x, m, 0, &a, 1, gas, &r);
            traps[r.trap]++;
            vm_module_free(m);
        }
    }
    /* Every trap but STACK (needs big frames) shows up. */
    for (int tr = VM_TRAP_NONE; tr <= VM_TRAP_ABORT; tr++)
        if (tr != VM_TRAP_STACK && traps[tr] == 0)
            fail_msg("no random program ended with trap %d", tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_programs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
