/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm_impl.h — private to vm/: the opcode table and the loaded module's layout,
 * shared by the loader, the interpreter, the assembler and the disassembler.
 * Nothing outside vm/ includes it.
 *
 * An instruction is one or two little-endian 32-bit words. The first word is
 * op (bits 0-7), A (8-15), B (16-23), C (24-31); 16-bit operands use B and C
 * as one field (Bx, bits 16-31), the 24-bit jump uses A, B and C (bits 8-31).
 * A second word, for the compare-and-branch instructions, is a signed 32-bit
 * jump offset. Offsets count words from the end of the instruction.
 */
#ifndef WITAN_VM_IMPL_H
#define WITAN_VM_IMPL_H

#include "vm/vm.h"

/* Operand kinds; each says where it sits and what the verifier checks. */
enum vm_kind {
    K_NONE,  /* field must be zero */
    K_RI,    /* 8-bit register of type int */
    K_RB,    /* 8-bit register of type bytes */
    K_RA,    /* 8-bit register of either type (mov: both the same) */
    K_RI2,   /* 8-bit register r and r+1, both int (bsub) */
    K_I8,    /* signed 8-bit immediate */
    K_U8NZ,  /* unsigned 8-bit immediate, not zero */
    K_S16,   /* signed 16-bit immediate in Bx */
    K_J16,   /* signed 16-bit jump offset in Bx */
    K_J24,   /* signed 24-bit jump offset in A,B,C */
    K_KI,    /* 16-bit int constant index */
    K_KB,    /* 16-bit bytes constant index */
    K_FN,    /* 16-bit function index */
    K_IMP,   /* 16-bit import index */
    K_CALLA, /* 8-bit argument/result window base of call and host */
    K_RET,   /* 8-bit register of the function's result type */
};

/* X(NAME, mnemonic, words, gas, kind A, kind B, kind C).
 * For 16-bit kinds in B, C is K_NONE and is not a separate field; J24 in A
 * covers all three. The numbering is the order of this list (spec/vm.md). */
#define VM_OPS(X)                                                              \
    X(NOP, "nop", 1, 1, K_NONE, K_NONE, K_NONE)                                \
    X(MOV, "mov", 1, 1, K_RA, K_RA, K_NONE)                                    \
    X(LDI, "ldi", 1, 1, K_RI, K_S16, K_NONE)                                   \
    X(LDK, "ldk", 1, 1, K_RI, K_KI, K_NONE)                                    \
    X(LDS, "lds", 1, 1, K_RB, K_KB, K_NONE)                                    \
    X(ADD, "add", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(SUB, "sub", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(MUL, "mul", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(DIV, "div", 1, 2, K_RI, K_RI, K_RI)                                      \
    X(MOD, "mod", 1, 2, K_RI, K_RI, K_RI)                                      \
    X(ADDI, "addi", 1, 1, K_RI, K_RI, K_I8)                                    \
    X(MULI, "muli", 1, 1, K_RI, K_RI, K_I8)                                    \
    X(DIVI, "divi", 1, 2, K_RI, K_RI, K_U8NZ)                                  \
    X(MODI, "modi", 1, 2, K_RI, K_RI, K_U8NZ)                                  \
    X(NEG, "neg", 1, 1, K_RI, K_RI, K_NONE)                                    \
    X(AND, "and", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(OR, "or", 1, 1, K_RI, K_RI, K_RI)                                        \
    X(XOR, "xor", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(SHL, "shl", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(SHR, "shr", 1, 1, K_RI, K_RI, K_RI)                                      \
    X(NOT, "not", 1, 1, K_RI, K_RI, K_NONE)                                    \
    X(EQ, "eq", 1, 1, K_RI, K_RI, K_RI)                                        \
    X(NE, "ne", 1, 1, K_RI, K_RI, K_RI)                                        \
    X(LT, "lt", 1, 1, K_RI, K_RI, K_RI)                                        \
    X(LE, "le", 1, 1, K_RI, K_RI, K_RI)                                        \
    X(JMP, "jmp", 1, 1, K_J24, K_NONE, K_NONE)                                 \
    X(JZ, "jz", 1, 1, K_RI, K_J16, K_NONE)                                     \
    X(JNZ, "jnz", 1, 1, K_RI, K_J16, K_NONE)                                   \
    X(JEQ, "jeq", 2, 1, K_RI, K_RI, K_NONE)                                    \
    X(JNE, "jne", 2, 1, K_RI, K_RI, K_NONE)                                    \
    X(JLT, "jlt", 2, 1, K_RI, K_RI, K_NONE)                                    \
    X(JLE, "jle", 2, 1, K_RI, K_RI, K_NONE)                                    \
    X(JEQI, "jeqi", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(JNEI, "jnei", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(JLTI, "jlti", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(JLEI, "jlei", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(JGTI, "jgti", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(JGEI, "jgei", 2, 1, K_RI, K_I8, K_NONE)                                  \
    X(FORLE, "forle", 2, 1, K_RI, K_RI, K_NONE)                                \
    X(CALL, "call", 1, 4, K_CALLA, K_FN, K_NONE)                               \
    X(HOST, "host", 1, 4, K_CALLA, K_IMP, K_NONE)                              \
    X(RET, "ret", 1, 1, K_RET, K_NONE, K_NONE)                                 \
    X(RETV, "retv", 1, 1, K_NONE, K_NONE, K_NONE)                              \
    X(ABORT, "abort", 1, 1, K_RI, K_NONE, K_NONE)                              \
    X(BLEN, "blen", 1, 1, K_RI, K_RB, K_NONE)                                  \
    X(BGET, "bget", 1, 1, K_RI, K_RB, K_RI)                                    \
    X(BEQ, "beq", 1, 2, K_RI, K_RB, K_RB)                                      \
    X(BCMP, "bcmp", 1, 2, K_RI, K_RB, K_RB)                                    \
    X(BCAT, "bcat", 1, 2, K_RB, K_RB, K_RB)                                    \
    X(BSUB, "bsub", 1, 2, K_RB, K_RB, K_RI2)                                   \
    X(ITOB, "itob", 1, 2, K_RB, K_RI, K_NONE)                                  \
    X(BTOI, "btoi", 1, 2, K_RI, K_RB, K_NONE)

enum vm_op {
#define VM_OP_ENUM_(name, mn, words, gas, ka, kb, kc) OP_##name,
    VM_OPS(VM_OP_ENUM_)
#undef VM_OP_ENUM_
    OP_COUNT_,
    /* Internal only: opens every basic block of loaded code, gas in bits
     * 8-31. Never valid in a module. */
    OP_GAS = OP_COUNT_,
};

struct vm_op_info {
    const char *mnemonic;
    uint8_t words;
    uint8_t gas;
    uint8_t kind[3];
};

/* Indexed by opcode, OP_COUNT_ entries. */
extern const struct vm_op_info vm_op_table[OP_COUNT_];

/* A call also pays for the frame it clears: one unit per 16 registers. */
#define VM_CALL_FRAME_GAS(reg_count) ((reg_count) / 16)

/* Dynamic gas: one unit per started 32 bytes copied or compared. */
#define VM_GAS_PER_BYTES(n) (((uint64_t)(n) + 31) / 32)

/* Module magic and version. */
#define VM_MAGIC "\0wvm"
#define VM_MAGIC_SIZE 4
#define VM_VERSION 1

struct vm_bref {
    const uint8_t *p;
    uint32_t n;
};

struct vm_func {
    uint32_t param_count;
    uint32_t reg_count;
    uint8_t result;              /* enum vm_type */
    uint8_t types[WITAN_VM_REG_COUNT_MAX];
    uint32_t code_start;         /* index into vm_module.code */
    uint32_t ext_words;          /* words of the module's own code */
    const uint32_t *ext_code;    /* the module's words (in vm_module.ext) */
};

struct vm_import {
    char name[WITAN_VM_NAME_SIZE_MAX + 1];
    uint32_t param_count;
    uint8_t params[WITAN_VM_PARAM_COUNT_MAX];
    uint8_t result;
    const vm_host_func *host; /* NULL when loaded without a host */
};

struct vm_export {
    char name[WITAN_VM_NAME_SIZE_MAX + 1];
    uint32_t func;
};

struct vm_module {
    uint32_t kint_count, kbytes_count, import_count, func_count, export_count;
    int64_t *kint;
    /* kbytes[0] is the empty value, kbytes[1 + i] constant i: a bytes handle
     * below 1 + kbytes_count names a constant. */
    struct vm_bref *kbytes;
    uint8_t *kbytes_data;
    struct vm_import *imports;
    struct vm_func *funcs;
    struct vm_export *exports;
    uint32_t *ext;        /* every function's module words, back to back */
    uint32_t *code;       /* translated code with gas words */
    uint32_t *origin;     /* per translated word: module word offset */
    uint32_t code_count;
    const vm_host *host;
};

/* Word fields. */
#define VM_OPC(w) ((w)&0xffu)
#define VM_A(w) (((w) >> 8) & 0xffu)
#define VM_B(w) (((w) >> 16) & 0xffu)
#define VM_C(w) ((w) >> 24)
#define VM_BX(w) ((w) >> 16)
/* Signed fields by arithmetic, not by implementation-defined conversions;
 * compilers turn these into plain sign extension. */
#define VM_SBX(w) ((int32_t)((w) >> 16) - (((w) >> 31) ? 65536 : 0))
#define VM_SC(w) ((int32_t)((w) >> 24) - (((w) >> 31) ? 256 : 0))
#define VM_SB(w) ((int32_t)VM_B(w) - ((VM_B(w) & 0x80u) ? 256 : 0))
#define VM_SJ(w)                                                               \
    ((int32_t)((w) >> 8) - (((w) >> 31) ? (int32_t)(1u << 24) : 0))

/* A word as a signed 32-bit offset, without implementation-defined
 * conversions. */
static inline int32_t vm_s32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* Reads a little-endian word. */
static inline uint32_t vm_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The static cost of the verified instruction word w of module m. */
static inline uint32_t vm_static_gas(const struct vm_module *m, uint32_t w)
{
    uint32_t gas = vm_op_table[VM_OPC(w)].gas;
    if (VM_OPC(w) == OP_CALL)
        gas += VM_CALL_FRAME_GAS(m->funcs[VM_BX(w)].reg_count);
    return gas;
}

/* Is the name an identifier of the allowed size ([A-Za-z_][A-Za-z0-9_.]*)? */
int vm_name_ok(const char *name, size_t size);

#endif
