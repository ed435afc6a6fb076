/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader and verifier. A module is parsed and checked completely before
 * anything can run: every count and size against its limit, every name, every
 * instruction's opcode, unused bits, register numbers and register types,
 * constant, function and import indices, call windows, result types and jump
 * targets; then each function is translated into the interpreter's code, with
 * one gas word opening every basic block and jumps relinked.
 *
 * Because registers have declared types and every operand is checked here,
 * the interpreter needs no type tags or bounds checks on registers: what is
 * proved here is what makes it both fast and safe.
 */
#include <string.h>

#include "vm/vm_impl.h"

const struct vm_op_info vm_op_table[OP_COUNT_] = {
#define VM_OP_INFO_(name, mn, words, gas, ka, kb, kc)                          \
    {mn, words, gas, {ka, kb, kc}},
    VM_OPS(VM_OP_INFO_)
#undef VM_OP_INFO_
};

static const char *const verify_text[] = {
#define VM_VERR_TEXT_(name, msg) msg,
    VM_VERIFY_REASONS(VM_VERR_TEXT_)
#undef VM_VERR_TEXT_
};

const char *vm_verify_reason_text(int reason)
{
    if (reason < 0 || reason >= VM_VERR_COUNT_)
        return "unknown reason";
    return verify_text[reason];
}

int vm_name_ok(const char *name, size_t size)
{
    if (size == 0 || size > WITAN_VM_NAME_SIZE_MAX)
        return 0;
    for (size_t i = 0; i < size; i++) {
        char c = name[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_';
        int digit = (c >= '0' && c <= '9') || c == '.';
        if (!alpha && !(digit && i > 0))
            return 0;
    }
    return 1;
}

/* --- reading ------------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t n, off;
    vm_verify_error *err;
};

static int fail_at(struct rd *r, size_t off, int reason)
{
    r->err->reason = reason;
    r->err->offset = (uint32_t)off;
    return WITAN_EVERIFY;
}

static int rd_u8(struct rd *r, uint32_t *v)
{
    if (r->n - r->off < 1)
        return fail_at(r, r->n, VM_VERR_TRUNCATED);
    *v = r->p[r->off++];
    return 0;
}

static int rd_u16(struct rd *r, uint32_t *v)
{
    if (r->n - r->off < 2)
        return fail_at(r, r->n, VM_VERR_TRUNCATED);
    *v = (uint32_t)r->p[r->off] | (uint32_t)r->p[r->off + 1] << 8;
    r->off += 2;
    return 0;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n - r->off < 4)
        return fail_at(r, r->n, VM_VERR_TRUNCATED);
    *v = vm_rd32(r->p + r->off);
    r->off += 4;
    return 0;
}

/* A u16 count checked against its limit. */
static int rd_count(struct rd *r, uint32_t max, uint32_t *v)
{
    size_t at = r->off;
    int e = rd_u16(r, v);
    if (e)
        return e;
    return *v > max ? fail_at(r, at, VM_VERR_COUNT) : 0;
}

static int rd_name(struct rd *r, char *name)
{
    size_t at = r->off;
    uint32_t len;
    int e = rd_u8(r, &len);
    if (e)
        return e;
    if (r->n - r->off < len)
        return fail_at(r, r->n, VM_VERR_TRUNCATED);
    if (!vm_name_ok((const char *)r->p + r->off, len))
        return fail_at(r, at, VM_VERR_NAME);
    memcpy(name, r->p + r->off, len);
    name[len] = 0;
    r->off += len;
    return 0;
}

static int rd_type(struct rd *r, int allow_none, uint8_t *t)
{
    size_t at = r->off;
    uint32_t v;
    int e = rd_u8(r, &v);
    if (e)
        return e;
    if (v != VM_TYPE_INT && v != VM_TYPE_BYTES &&
        !(allow_none && v == VM_TYPE_NONE))
        return fail_at(r, at, VM_VERR_TYPE);
    *t = (uint8_t)v;
    return 0;
}

static uint8_t type_of_letter(char c)
{
    return c == 'i' ? VM_TYPE_INT : c == 'b' ? VM_TYPE_BYTES : VM_TYPE_NONE;
}

/* --- sections ------------------------------------------------------------ */

static int load_consts(struct rd *r, vm_module *m)
{
    int e = rd_count(r, WITAN_VM_CONST_COUNT_MAX, &m->kint_count);
    if (e)
        return e;
    m->kint = calloc(m->kint_count + 1, sizeof *m->kint);
    if (!m->kint)
        return WITAN_ENOMEM;
    for (uint32_t i = 0; i < m->kint_count; i++) {
        uint32_t lo, hi;
        if ((e = rd_u32(r, &lo)) || (e = rd_u32(r, &hi)))
            return e;
        m->kint[i] = (int64_t)((uint64_t)hi << 32 | lo);
    }
    if ((e = rd_count(r, WITAN_VM_CONST_COUNT_MAX, &m->kbytes_count)))
        return e;
    m->kbytes = calloc(m->kbytes_count + 1, sizeof *m->kbytes);
    /* All constants together are no larger than the module. */
    m->kbytes_data = malloc(r->n + 1);
    if (!m->kbytes || !m->kbytes_data)
        return WITAN_ENOMEM;
    m->kbytes[0].p = m->kbytes_data;
    size_t used = 0;
    for (uint32_t i = 0; i < m->kbytes_count; i++) {
        size_t at = r->off;
        uint32_t len;
        if ((e = rd_u32(r, &len)))
            return e;
        if (len > WITAN_VM_BYTES_SIZE_MAX)
            return fail_at(r, at, VM_VERR_CONST_SIZE);
        if (r->n - r->off < len)
            return fail_at(r, r->n, VM_VERR_TRUNCATED);
        memcpy(m->kbytes_data + used, r->p + r->off, len);
        m->kbytes[1 + i].p = m->kbytes_data + used;
        m->kbytes[1 + i].n = len;
        used += len;
        r->off += len;
    }
    return 0;
}

static const vm_host_func *host_find(const vm_host *host, const char *name)
{
    for (uint32_t i = 0; i < host->count; i++)
        if (strcmp(host->funcs[i].name, name) == 0)
            return &host->funcs[i];
    return NULL;
}

static int host_sig_matches(const vm_host_func *h, const struct vm_import *im)
{
    size_t n = strlen(h->params);
    if (n != im->param_count)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (type_of_letter(h->params[i]) != im->params[i])
            return 0;
    uint8_t res = h->result == 'v' ? VM_TYPE_NONE : type_of_letter(h->result);
    if (h->result != 'v' && res == VM_TYPE_NONE)
        return 0;
    return res == im->result;
}

static int load_imports(struct rd *r, vm_module *m, const vm_host *host)
{
    int e = rd_count(r, WITAN_VM_IMPORT_COUNT_MAX, &m->import_count);
    if (e)
        return e;
    m->imports = calloc(m->import_count + 1, sizeof *m->imports);
    if (!m->imports)
        return WITAN_ENOMEM;
    for (uint32_t i = 0; i < m->import_count; i++) {
        struct vm_import *im = &m->imports[i];
        size_t at = r->off;
        if ((e = rd_name(r, im->name)))
            return e;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(m->imports[j].name, im->name) == 0)
                return fail_at(r, at, VM_VERR_DUP_NAME);
        size_t pat = r->off;
        if ((e = rd_u8(r, &im->param_count)))
            return e;
        if (im->param_count > WITAN_VM_PARAM_COUNT_MAX)
            return fail_at(r, pat, VM_VERR_PARAMS);
        for (uint32_t j = 0; j < im->param_count; j++)
            if ((e = rd_type(r, 0, &im->params[j])))
                return e;
        if ((e = rd_type(r, 1, &im->result)))
            return e;
        if (host) {
            im->host = host_find(host, im->name);
            if (!im->host)
                return fail_at(r, at, VM_VERR_IMPORT_UNKNOWN);
            if (!host_sig_matches(im->host, im))
                return fail_at(r, at, VM_VERR_IMPORT_SIG);
        }
    }
    return 0;
}

/* Function headers and their words; instructions are checked later, once
 * every function's signature is known. */
static int load_funcs(struct rd *r, vm_module *m, size_t *code_at)
{
    int e = rd_count(r, WITAN_VM_FUNC_COUNT_MAX, &m->func_count);
    if (e)
        return e;
    m->funcs = calloc(m->func_count + 1, sizeof *m->funcs);
    m->ext = malloc(r->n + 4);
    if (!m->funcs || !m->ext)
        return WITAN_ENOMEM;
    size_t ext_used = 0;
    for (uint32_t i = 0; i < m->func_count; i++) {
        struct vm_func *f = &m->funcs[i];
        size_t pat = r->off;
        if ((e = rd_u8(r, &f->param_count)) || (e = rd_type(r, 1, &f->result)))
            return e;
        size_t rat = r->off;
        if ((e = rd_u16(r, &f->reg_count)))
            return e;
        if (f->reg_count > WITAN_VM_REG_COUNT_MAX)
            return fail_at(r, rat, VM_VERR_REGS);
        if (f->param_count > WITAN_VM_PARAM_COUNT_MAX ||
            f->param_count > f->reg_count)
            return fail_at(r, pat, VM_VERR_PARAMS);
        for (uint32_t j = 0; j < f->reg_count; j++)
            if ((e = rd_type(r, 0, &f->types[j])))
                return e;
        size_t wat = r->off;
        if ((e = rd_u32(r, &f->ext_words)))
            return e;
        if (f->ext_words == 0 || f->ext_words > WITAN_VM_FUNC_WORDS_MAX)
            return fail_at(r, wat, VM_VERR_CODE_SIZE);
        if ((r->n - r->off) / 4 < f->ext_words)
            return fail_at(r, r->n, VM_VERR_TRUNCATED);
        code_at[i] = r->off;
        for (uint32_t j = 0; j < f->ext_words; j++)
            m->ext[ext_used + j] = vm_rd32(r->p + r->off + 4 * (size_t)j);
        f->ext_code = m->ext + ext_used;
        ext_used += f->ext_words;
        r->off += 4 * (size_t)f->ext_words;
    }
    return 0;
}

static int load_exports(struct rd *r, vm_module *m)
{
    int e = rd_count(r, WITAN_VM_EXPORT_COUNT_MAX, &m->export_count);
    if (e)
        return e;
    m->exports = calloc(m->export_count + 1, sizeof *m->exports);
    if (!m->exports)
        return WITAN_ENOMEM;
    for (uint32_t i = 0; i < m->export_count; i++) {
        struct vm_export *ex = &m->exports[i];
        size_t at = r->off;
        if ((e = rd_name(r, ex->name)))
            return e;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(m->exports[j].name, ex->name) == 0)
                return fail_at(r, at, VM_VERR_DUP_NAME);
        size_t fat = r->off;
        if ((e = rd_u16(r, &ex->func)))
            return e;
        if (ex->func >= m->func_count)
            return fail_at(r, fat, VM_VERR_EXPORT_FUNC);
    }
    return 0;
}

/* --- instructions -------------------------------------------------------- */

struct fcheck {
    struct rd *r;
    const vm_module *m;
    const struct vm_func *f;
    size_t base; /* byte offset of the function's first word */
    uint8_t *start;  /* per word: 1 where an instruction starts */
    uint8_t *leader; /* per word: 1 where a basic block starts */
};

static int reg_check(struct fcheck *c, size_t at, uint32_t reg, int type)
{
    if (reg >= c->f->reg_count)
        return fail_at(c->r, at, VM_VERR_REG);
    if (type != VM_TYPE_NONE && c->f->types[reg] != type)
        return fail_at(c->r, at, VM_VERR_REG_TYPE);
    return 0;
}

/* A call or host window: arguments in A.., result (if any) back in A. */
static int window_check(struct fcheck *c, size_t at, uint32_t a,
                        uint32_t np, const uint8_t *ptypes, uint8_t result)
{
    uint32_t need = np > 0 ? np : (result != VM_TYPE_NONE ? 1 : 0);
    if (need == 0)
        return a == 0 ? 0 : fail_at(c->r, at, VM_VERR_CALL_ARGS);
    if (a + need > c->f->reg_count)
        return fail_at(c->r, at, VM_VERR_CALL_ARGS);
    for (uint32_t i = 0; i < np; i++)
        if (c->f->types[a + i] != ptypes[i])
            return fail_at(c->r, at, VM_VERR_REG_TYPE);
    if (result != VM_TYPE_NONE && c->f->types[a] != result)
        return fail_at(c->r, at, VM_VERR_RESULT);
    return 0;
}

/* Checks one operand field; jump targets are recorded in *target. */
static int operand_check(struct fcheck *c, size_t at, uint32_t w, int slot,
                         int kind, uint32_t pc, uint32_t words, int64_t *target)
{
    uint32_t v = slot == 0 ? VM_A(w) : slot == 1 ? VM_B(w) : VM_C(w);
    const struct vm_func *f = c->f;
    switch (kind) {
    case K_NONE:
        return v ? fail_at(c->r, at, VM_VERR_RESERVED) : 0;
    case K_RI:
        return reg_check(c, at, v, VM_TYPE_INT);
    case K_RB:
        return reg_check(c, at, v, VM_TYPE_BYTES);
    case K_RA:
        return reg_check(c, at, v, VM_TYPE_NONE);
    case K_RI2: {
        int e = reg_check(c, at, v, VM_TYPE_INT);
        return e ? e : reg_check(c, at, v + 1, VM_TYPE_INT);
    }
    case K_I8:
        return 0;
    case K_U8NZ:
        return v == 0 ? fail_at(c->r, at, VM_VERR_IMM) : 0;
    case K_S16:
        return 0;
    case K_J16:
        *target = (int64_t)pc + words + VM_SBX(w);
        return 0;
    case K_J24:
        *target = (int64_t)pc + words + VM_SJ(w);
        return 0;
    case K_KI:
        return VM_BX(w) >= c->m->kint_count ? fail_at(c->r, at, VM_VERR_CONST)
                                           : 0;
    case K_KB:
        return VM_BX(w) >= c->m->kbytes_count
                   ? fail_at(c->r, at, VM_VERR_CONST)
                   : 0;
    case K_FN: {
        if (VM_BX(w) >= c->m->func_count)
            return fail_at(c->r, at, VM_VERR_FUNC);
        const struct vm_func *g = &c->m->funcs[VM_BX(w)];
        return window_check(c, at, VM_A(w), g->param_count, g->types,
                            g->result);
    }
    case K_IMP: {
        if (VM_BX(w) >= c->m->import_count)
            return fail_at(c->r, at, VM_VERR_IMPORT);
        const struct vm_import *im = &c->m->imports[VM_BX(w)];
        return window_check(c, at, VM_A(w), im->param_count, im->params,
                            im->result);
    }
    case K_CALLA:
        return 0; /* checked with the callee (K_FN, K_IMP) */
    case K_RET:
        if (v >= f->reg_count)
            return fail_at(c->r, at, VM_VERR_REG);
        if (f->result == VM_TYPE_NONE || f->types[v] != f->result)
            return fail_at(c->r, at, VM_VERR_RESULT);
        return 0;
    }
    WITAN_ASSERT(0);
    return WITAN_EINVAL;
}

static int is_16bit_kind(int k)
{
    return k == K_S16 || k == K_J16 || k == K_KI || k == K_KB || k == K_FN ||
           k == K_IMP;
}

static int ends_block(int op)
{
    const struct vm_op_info *in = &vm_op_table[op];
    return in->words == 2 || op == OP_JMP || op == OP_JZ || op == OP_JNZ ||
           op == OP_CALL || op == OP_HOST || op == OP_RET || op == OP_RETV ||
           op == OP_ABORT;
}

static int check_func(struct fcheck *c)
{
    const struct vm_func *f = c->f;
    uint32_t n = f->ext_words;
    int last_op = -1;
    memset(c->start, 0, n);
    memset(c->leader, 0, n + 1);
    c->leader[0] = 1;
    for (uint32_t pc = 0; pc < n;) {
        uint32_t w = f->ext_code[pc];
        size_t at = c->base + 4 * (size_t)pc;
        uint32_t op = VM_OPC(w);
        if (op >= OP_COUNT_)
            return fail_at(c->r, at, VM_VERR_OPCODE);
        const struct vm_op_info *in = &vm_op_table[op];
        if (pc + in->words > n)
            return fail_at(c->r, c->base + 4 * (size_t)n, VM_VERR_TRUNCATED);
        c->start[pc] = 1;
        int64_t target = INT64_MIN;
        int e;
        if (in->kind[0] == K_J24) {
            e = operand_check(c, at, w, 0, K_J24, pc, in->words, &target);
        } else {
            e = operand_check(c, at, w, 0, in->kind[0], pc, in->words, &target);
            if (!e && is_16bit_kind(in->kind[1]))
                e = operand_check(c, at, w, 1, in->kind[1], pc, in->words,
                                  &target);
            else if (!e) {
                e = operand_check(c, at, w, 1, in->kind[1], pc, in->words,
                                  &target);
                if (!e)
                    e = operand_check(c, at, w, 2, in->kind[2], pc, in->words,
                                      &target);
            }
        }
        if (e)
            return e;
        if (op == OP_MOV && f->types[VM_A(w)] != f->types[VM_B(w)])
            return fail_at(c->r, at, VM_VERR_REG_TYPE);
        if (op == OP_RETV && f->result != VM_TYPE_NONE)
            return fail_at(c->r, at, VM_VERR_RESULT);
        if (in->words == 2)
            target = (int64_t)pc + 2 + vm_s32(f->ext_code[pc + 1]);
        if (target != INT64_MIN) {
            if (target < 0 || target >= n)
                return fail_at(c->r, at, VM_VERR_JUMP_RANGE);
            c->leader[target] = 1;
        }
        if (ends_block((int)op))
            c->leader[pc + in->words] = 1;
        last_op = (int)op;
        pc += in->words;
    }
    if (last_op != OP_JMP && last_op != OP_RET && last_op != OP_RETV &&
        last_op != OP_ABORT)
        return fail_at(c->r, c->base + 4 * (size_t)n, VM_VERR_FALLTHROUGH);
    /* Every target must be an instruction's first word. */
    for (uint32_t pc = 0; pc < n; pc++)
        if (c->leader[pc] && !c->start[pc]) {
            /* Report the jump, not the target: find who jumps here. */
            for (uint32_t q = 0; q < n; q += vm_op_table[VM_OPC(f->ext_code[q])].words) {
                uint32_t w = f->ext_code[q];
                const struct vm_op_info *in = &vm_op_table[VM_OPC(w)];
                int64_t t = -1;
                if (in->words == 2)
                    t = (int64_t)q + 2 + vm_s32(f->ext_code[q + 1]);
                else if (in->kind[0] == K_J24)
                    t = (int64_t)q + 1 + VM_SJ(w);
                else if (in->kind[1] == K_J16)
                    t = (int64_t)q + 1 + VM_SBX(w);
                if (t == pc)
                    return fail_at(c->r, c->base + 4 * (size_t)q,
                                   VM_VERR_JUMP_OPERAND);
            }
            WITAN_ASSERT(0);
        }
    return 0;
}

/* --- translation --------------------------------------------------------- */

/* Internal layout: a gas word before every leader, then the instruction. */
static void translate(vm_module *m, uint32_t fi, const uint8_t *leader,
                      uint32_t *map)
{
    struct vm_func *f = &m->funcs[fi];
    uint32_t n = f->ext_words;
    uint32_t at = m->code_count;
    f->code_start = at;
    for (uint32_t pc = 0; pc < n;) {
        if (leader[pc])
            at++;
        map[pc] = at;
        uint32_t words = vm_op_table[VM_OPC(f->ext_code[pc])].words;
        at += words;
        pc += words;
    }
    uint32_t out = m->code_count;
    uint32_t gas_at = 0;
    uint64_t block_gas = 0;
    for (uint32_t pc = 0; pc < n;) {
        uint32_t w = f->ext_code[pc];
        const struct vm_op_info *in = &vm_op_table[VM_OPC(w)];
        if (leader[pc]) {
            if (block_gas)
                m->code[gas_at] |= (uint32_t)block_gas << 8;
            gas_at = out;
            block_gas = 0;
            m->code[out] = OP_GAS;
            m->origin[out++] = pc;
        }
        block_gas += vm_static_gas(m, w);
        uint32_t next = map[pc] + in->words;
        if (in->words == 2) {
            int64_t t = (int64_t)pc + 2 + vm_s32(f->ext_code[pc + 1]);
            m->code[out] = w;
            m->code[out + 1] = (uint32_t)((int64_t)map[t] - 1 - next);
        } else if (in->kind[0] == K_J24) {
            int64_t t = (int64_t)pc + 1 + VM_SJ(w);
            int64_t off = (int64_t)map[t] - 1 - next;
            m->code[out] = (w & 0xffu) | ((uint32_t)off & 0xffffffu) << 8;
        } else if (in->kind[1] == K_J16) {
            int64_t t = (int64_t)pc + 1 + VM_SBX(w);
            int64_t off = (int64_t)map[t] - 1 - next;
            WITAN_ASSERT(off >= -32768 && off <= 32767);
            m->code[out] = (w & 0xffffu) | ((uint32_t)off & 0xffffu) << 16;
        } else {
            m->code[out] = w;
        }
        for (uint32_t k = 0; k < in->words; k++)
            m->origin[out + k] = pc;
        out += in->words;
        pc += in->words;
    }
    WITAN_ASSERT(block_gas < (1u << 24));
    m->code[gas_at] |= (uint32_t)block_gas << 8;
    m->code_count = out;
}

/* Jumps land on the gas word opening the target block (-1 above), so a taken
 * branch charges its target's block like a fall-through does. */

void vm_module_free(vm_module *m)
{
    if (!m)
        return;
    free(m->kint);
    free(m->kbytes);
    free(m->kbytes_data);
    free(m->imports);
    free(m->funcs);
    free(m->exports);
    free(m->ext);
    free(m->code);
    free(m->origin);
    free(m);
}

/* The embedder's table must keep the promises spec/vm.md relies on. */
static int host_ok(const vm_host *host)
{
    if (host->count && !host->funcs)
        return 0;
    for (uint32_t i = 0; i < host->count; i++) {
        const vm_host_func *h = &host->funcs[i];
        if (!h->name || !h->params || !h->fn ||
            !vm_name_ok(h->name, strlen(h->name)) ||
            strlen(h->params) > WITAN_VM_PARAM_COUNT_MAX ||
            h->gas > WITAN_VM_HOST_GAS_MAX ||
            (h->result != 'i' && h->result != 'b' && h->result != 'v'))
            return 0;
        for (const char *p = h->params; *p; p++)
            if (*p != 'i' && *p != 'b')
                return 0;
    }
    return 1;
}

int vm_module_load(const uint8_t *bytes, size_t size, const vm_host *host,
                   vm_module **out, vm_verify_error *err)
{
    vm_verify_error scratch;
    if (!err)
        err = &scratch;
    err->reason = VM_VERR_NONE;
    err->offset = 0;
    if (!out)
        return WITAN_EINVAL;
    *out = NULL;
    if ((!bytes && size) || (host && !host_ok(host)))
        return WITAN_EINVAL;
    struct rd r = {bytes, size, 0, err};
    if (size > WITAN_VM_MODULE_SIZE_MAX)
        return fail_at(&r, WITAN_VM_MODULE_SIZE_MAX, VM_VERR_MODULE_SIZE);
    if (size < VM_MAGIC_SIZE)
        return fail_at(&r, size, VM_VERR_TRUNCATED);
    if (memcmp(bytes, VM_MAGIC, VM_MAGIC_SIZE) != 0)
        return fail_at(&r, 0, VM_VERR_MAGIC);
    r.off = VM_MAGIC_SIZE;
    uint32_t version;
    int e = rd_u32(&r, &version);
    if (e)
        return e;
    if (version != VM_VERSION)
        return fail_at(&r, VM_MAGIC_SIZE, VM_VERR_VERSION);
    vm_module *m = calloc(1, sizeof *m);
    size_t *code_at = calloc(WITAN_VM_FUNC_COUNT_MAX, sizeof *code_at);
    uint8_t *start = malloc(WITAN_VM_FUNC_WORDS_MAX + 1);
    uint8_t *leader = malloc(WITAN_VM_FUNC_WORDS_MAX + 1);
    uint32_t *map = malloc((WITAN_VM_FUNC_WORDS_MAX + 1) * sizeof *map);
    if (!m || !code_at || !start || !leader || !map) {
        e = WITAN_ENOMEM;
        goto done;
    }
    m->host = host;
    if ((e = load_consts(&r, m)) || (e = load_imports(&r, m, host)) ||
        (e = load_funcs(&r, m, code_at)) || (e = load_exports(&r, m)))
        goto done;
    if (r.off != r.n) {
        e = fail_at(&r, r.off, VM_VERR_TRAILING);
        goto done;
    }
    /* Internal code: at most one gas word per module word. */
    size_t words = 0;
    for (uint32_t i = 0; i < m->func_count; i++)
        words += m->funcs[i].ext_words;
    m->code = malloc((2 * words + 1) * sizeof *m->code);
    m->origin = malloc((2 * words + 1) * sizeof *m->origin);
    if (!m->code || !m->origin) {
        e = WITAN_ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < m->func_count; i++) {
        struct fcheck c = {&r, m, &m->funcs[i], code_at[i], start, leader};
        if ((e = check_func(&c)))
            goto done;
        translate(m, i, leader, map);
    }
done:
    free(code_at);
    free(start);
    free(leader);
    free(map);
    if (e) {
        vm_module_free(m);
        return e;
    }
    *out = m;
    return 0;
}

int vm_module_export(const vm_module *m, const char *name, uint32_t *func)
{
    if (!m || !name || !func)
        return WITAN_EINVAL;
    for (uint32_t i = 0; i < m->export_count; i++)
        if (strcmp(m->exports[i].name, name) == 0) {
            *func = m->exports[i].func;
            return 0;
        }
    return WITAN_ENOTFOUND;
}

int vm_module_signature(const vm_module *m, uint32_t fi, char *params,
                        char *result)
{
    if (!m || !params || !result)
        return WITAN_EINVAL;
    if (fi >= m->func_count)
        return WITAN_ERANGE;
    const struct vm_func *f = &m->funcs[fi];
    for (uint32_t i = 0; i < f->param_count; i++)
        params[i] = f->types[i] == VM_TYPE_INT ? 'i' : 'b';
    params[f->param_count] = 0;
    *result = f->result == VM_TYPE_INT     ? 'i'
              : f->result == VM_TYPE_BYTES ? 'b'
                                           : 'v';
    return 0;
}
