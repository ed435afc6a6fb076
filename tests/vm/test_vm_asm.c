/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Assembler and disassembler: text -> module -> text -> module gives the same
 * bytes (and the same text), for a program using every instruction and for
 * the benchmark programs; and every assembly error names its line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/vm/vmt.h"
#include "vm/vm_impl.h"

/* Uses every instruction at least once. */
static const char *every =
    "; every instruction\n"
    ".int big 0x123456789abcdef   # a comment too\n"
    ".int neg -9223372036854775808\n"
    ".bytes hello \"hi \\\"there\\\"\\n\\x00\\xff\\\\\"\n"
    ".bytes empty \"\"\n"
    ".import store_put (i, i) -> v\n"
    ".import echo (b) -> b\n"
    ".func main (i) -> i\n"
    ".regs i i i b b\n"
    "    nop\n"
    "    mov r1, r0\n"
    "    ldi r2, -5\n"
    "    ldk r1, big\n"
    "    ldk r1, 77777777777\n"
    "    lds r4, hello\n"
    "    lds r5, \"inline\"\n"
    "    add r1, r1, r2\n    sub r1, r1, r2\n    mul r1, r2, r2\n"
    "    div r1, r1, r2\n    mod r1, r1, r2\n    addi r1, r1, -128\n"
    "    muli r1, r1, 127\n    divi r1, r1, 255\n    modi r1, r1, 1\n"
    "    neg r1, r1\n    and r1, r1, r2\n    or r1, r1, r2\n"
    "    xor r1, r1, r2\n    shl r1, r1, r2\n    shr r1, r1, r2\n"
    "    not r1, r1\n    eq r1, r1, r2\n    ne r1, r1, r2\n"
    "    lt r1, r1, r2\n    le r1, r1, r2\n"
    "top: jz r1, next\n"
    "    jnz r1, top\n"
    "next:\n"
    "    jeq r0, r1, top\n    jne r0, r1, next\n    jlt r0, r1, top\n"
    "    jle r0, r1, end\n    jeqi r0, -1, top\n    jnei r0, 5, end\n"
    "    jlti r0, 0, top\n    jlei r0, 3, end\n    jgti r0, 100, top\n"
    "    jgei r0, -128, end\n    forle r1, r2, top\n"
    "    call r0, helper\n"
    "    host r1, store_put\n"
    "    host r4, echo\n"
    "    blen r1, r4\n    bget r1, r4, r2\n    beq r1, r4, r5\n"
    "    bcmp r1, r4, r5\n    bcat r4, r4, r5\n    bsub r5, r4, r1\n"
    "    itob r4, r1\n    btoi r1, r4\n"
    "    jmp end\n"
    "    abort r0\n"
    "end:\n"
    "    ret r0\n"
    ".end\n"
    ".func helper i -> i\n    ret r0\n.end\n"
    ".func nothing -> v\n    retv\n.end\n"
    ".export main main\n"
    ".export helper.v2 helper\n";

static void round_trip(const char *text)
{
    uint8_t *bin1, *bin2;
    size_t size1, size2;
    vmt_asm(text, &bin1, &size1);
    char *dis1, *dis2;
    assert_int_equal(vm_disassemble(bin1, size1, &dis1, NULL), 0);
    vm_asm_error err;
    int e = vm_assemble(dis1, strlen(dis1), &bin2, &size2, &err);
    if (e)
        fail_msg("disassembly does not assemble: line %u: %s\n%s", err.line,
                 err.message, dis1);
    assert_int_equal(size1, size2);
    assert_memory_equal(bin1, bin2, size1);
    assert_int_equal(vm_disassemble(bin2, size2, &dis2, NULL), 0);
    assert_string_equal(dis1, dis2);
    free(bin1);
    free(bin2);
    free(dis1);
    free(dis2);
}

static void test_round_trip_every_instruction(void **state)
{
    (void)state;
    round_trip(every);
    /* And the program really does use every opcode. */
    uint8_t *bin;
    size_t size;
    vmt_asm(every, &bin, &size);
    char *dis;
    assert_int_equal(vm_disassemble(bin, size, &dis, NULL), 0);
    for (int op = 0; op < OP_COUNT_; op++) {
        char needle[32];
        snprintf(needle, sizeof needle, "    %s", vm_op_table[op].mnemonic);
        const char *p = dis;
        int found = 0;
        while ((p = strstr(p, needle)) != NULL) {
            char c = p[strlen(needle)];
            if (c == ' ' || c == '\n')
                found = 1;
            p++;
        }
        if (!found)
            fail_msg("'%s' not in the disassembly", vm_op_table[op].mnemonic);
    }
    /* Named constants keep their order; the literals come after them. */
    assert_non_null(strstr(dis, ".int k0 81985529216486895\n"
                                ".int k1 -9223372036854775808\n"
                                ".int k2 77777777777\n"));
    assert_non_null(strstr(dis, ".bytes s0 \"hi \\\"there\\\"\\x0a\\x00\\xff\\\\\"\n"
                                ".bytes s1 \"\"\n.bytes s2 \"inline\"\n"));
    free(dis);
    free(bin);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_round_trip_bench_programs(void **state)
{
    (void)state;
    const char *files[] = {"tests/vm/fib.wvs", "tests/vm/loop.wvs",
                           "tests/vm/map.wvs"};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(files); i++) {
        char *text = slurp(files[i]);
        round_trip(text);
        free(text);
    }
    /* The benchmark programs compute what they claim (small sizes). */
    char *fib = slurp("tests/vm/fib.wvs");
    char *p = strstr(fib, ".export fib fib");
    strcpy(p, ".export main fib\n");
    assert_int_equal(vmt_int(fib, 20), 6765);
    free(fib);
    char *loop = slurp("tests/vm/loop.wvs");
    p = strstr(loop, ".export loop sumsq");
    strcpy(p, ".export main sumsq\n");
    int64_t want = 0;
    for (int64_t i = 1; i <= 1000; i++)
        want += i * i % 7;
    assert_int_equal(vmt_int(loop, 1000), want);
    assert_int_equal(vmt_int(loop, 0), 0);
    free(loop);
    char *map = slurp("tests/vm/map.wvs");
    p = strstr(map, ".export map map");
    strcpy(p, ".export main map\n");
    assert_int_equal(vmt_int(map, 100), 5050);
    free(map);
}

static void expect_error(const char *text, uint32_t line, const char *what)
{
    uint8_t *bin = NULL;
    size_t size;
    vm_asm_error err;
    int e = vm_assemble(text, strlen(text), &bin, &size, &err);
    assert_null(bin);
    if (e != WITAN_EASM && e != WITAN_EVERIFY)
        fail_msg("want an error for:\n%s", text);
    if (err.line != line || !strstr(err.message, what))
        fail_msg("want line %u '%s', got line %u '%s'", line, what, err.line,
                 err.message);
}

static void test_assembly_errors(void **state)
{
    (void)state;
    expect_error(".func f -> v\n    frob r0\n.end\n", 2, "unknown instruction");
    expect_error(".func f i -> v\n    jmp nowhere\n.end\n", 2, "unknown label");
    expect_error(".func f i -> v\nx:\nx:\n    retv\n.end\n", 3, "twice");
    expect_error(".func f i -> v\n    add r0, r0, x1\n.end\n", 2, "register");
    expect_error(".func f i -> v\n    add r0, r0, r256\n.end\n", 2, "register");
    expect_error(".func f i -> v\n    addi r0, r0, 128\n.end\n", 2, "-128..127");
    expect_error(".func f i -> v\n    ldi r0, 32768\n.end\n", 2, "integer");
    expect_error(".func f i -> v\n    add r0, r0\n.end\n", 2, "missing operand");
    expect_error(".func f i -> v\n    retv r0\n.end\n", 2, "too many operands");
    expect_error(".func f i -> v\n    ldk r0, nope\n.end\n", 2, "int constant");
    expect_error(".func f i -> v\n    lds r0, nope\n.end\n", 2, "bytes constant");
    expect_error(".func f i -> v\n    call r0, nope\n.end\n", 2, "function");
    expect_error(".func f i -> v\n    host r0, nope\n.end\n", 2, "import");
    expect_error(".func f i -> v\n    retv\n", 2, "missing .end");
    expect_error("    nop\n", 1, "outside a function");
    expect_error(".int x 99999999999999999999\n", 1, ".int NAME INTEGER");
    expect_error(".int x 1\n.int x 2\n", 2, "twice");
    expect_error(".bytes s \"abc\n", 1, "unterminated");
    expect_error(".bytes s \"\\q\"\n", 1, "escape");
    expect_error(".func f q -> v\n.end\n", 1, "type");
    expect_error(".func f i\n.end\n", 1, "-> RESULT");
    expect_error(".func f -> v\n retv\n.end\n.export g nope\n", 4,
                 "unknown function");
    expect_error(".frob\n", 1, "unknown directive");
    expect_error(".import bad-name i -> v\n", 1, "import name");
    /* Assembles, but does not verify. */
    expect_error(".func f i -> v\n    add r0, r0, r0\n.end\n", 0,
                 "falls off the end");
    expect_error(".func f -> i\n    ret r0\n.end\n", 0, "register out of range");
    /* Text over its size limit is refused before it is read. */
    size_t big = WITAN_VM_ASM_TEXT_SIZE_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, ' ', big);
    uint8_t *bin = NULL;
    size_t size;
    assert_int_equal(vm_assemble(text, big, &bin, &size, NULL), WITAN_ELIMIT);
    assert_int_equal(vm_assemble(text, big - 1, &bin, &size, NULL), 0);
    free(bin);
    free(text);
}

static void test_disassemble_rejects_bad_module(void **state)
{
    (void)state;
    char *text = (char *)1;
    vm_verify_error err;
    assert_int_equal(vm_disassemble((const uint8_t *)"nope", 4, &text, &err),
                     WITAN_EVERIFY);
    assert_null(text);
    assert_int_equal(err.reason, VM_VERR_MAGIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_instruction),
        cmocka_unit_test(test_round_trip_bench_programs),
        cmocka_unit_test(test_assembly_errors),
        cmocka_unit_test(test_disassemble_rejects_bad_module),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
