/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reference interpreter (see refvm.h). Every rule here is read off
 * spec/vm.md — opcode numbers and costs from section 4, leaders and charging
 * from section 6, frames from section 7, memory accounting and traps from
 * sections 7 and 8 — and none is taken from vm/'s interpreter, so that the
 * two can disagree if either strays from the text.
 */
#include <string.h>

#include "tests/vm/refvm.h"
#include "vm/vm_impl.h"

/* Section 4's opcode numbers. */
enum {
    NOP, MOV, LDI, LDK, LDS, ADD, SUB, MUL, DIV, MOD, ADDI, MULI, DIVI, MODI,
    NEG, AND, OR, XOR, SHL, SHR, NOT, EQ, NE, LT, LE, JMP, JZ, JNZ, JEQ, JNE,
    JLT, JLE, JEQI, JNEI, JLTI, JLEI, JGTI, JGEI, FORLE, CALL, HOST, RET, RETV,
    ABORT, BLEN, BGET, BEQ, BCMP, BCAT, BSUB, ITOB, BTOI
};

struct val {
    int64_t i;
    const uint8_t *p;
    uint32_t n;
};

struct frame {
    uint32_t func, pc, base, ret;
};

struct ref {
    const vm_module *m;
    struct val *slots;
    struct frame *frames;
    uint32_t depth; /* active frames */
    uint64_t gas, limit;
    uint8_t *mem;
    uint32_t mem_used, values;
    uint8_t **leaders; /* per function, per word */
};

static int two_words(uint32_t op)
{
    return op >= JEQ && op <= FORLE;
}

static uint32_t width(uint32_t w)
{
    return two_words(w & 0xff) ? 2 : 1;
}

/* Section 4's gas column. */
static uint64_t cost(const vm_module *m, uint32_t w)
{
    uint32_t op = w & 0xff;
    switch (op) {
    case DIV: case MOD: case DIVI: case MODI:
    case BEQ: case BCMP: case BCAT: case BSUB: case ITOB: case BTOI:
        return 2;
    case CALL:
        return 4 + m->funcs[w >> 16].reg_count / 16;
    case HOST:
        return 4;
    default:
        return 1;
    }
}

static int64_t sext(uint32_t v, int bits)
{
    uint32_t sign = 1u << (bits - 1);
    return (int64_t)(v & (sign - 1)) - (int64_t)(v & sign);
}

/* Section 3: the jump target of a jumping instruction at pc. */
static int64_t target(const uint32_t *code, uint32_t pc)
{
    uint32_t w = code[pc], op = w & 0xff;
    if (two_words(op))
        return (int64_t)pc + 2 + sext(code[pc + 1], 32);
    if (op == JMP)
        return (int64_t)pc + 1 + sext(w >> 8, 24);
    if (op == JZ || op == JNZ)
        return (int64_t)pc + 1 + sext(w >> 16, 16);
    return -1;
}

/* Section 6: word 0, jump targets, and the instruction after jmp, jz, jnz,
 * two-word instructions, call, host, ret, retv, abort. */
static void find_leaders(const struct vm_func *f, uint8_t *lead)
{
    memset(lead, 0, f->ext_words + 1);
    lead[0] = 1;
    for (uint32_t pc = 0; pc < f->ext_words; pc += width(f->ext_code[pc])) {
        uint32_t op = f->ext_code[pc] & 0xff;
        int64_t t = target(f->ext_code, pc);
        if (t >= 0)
            lead[t] = 1;
        if (op == JMP || op == JZ || op == JNZ || two_words(op) ||
            op == CALL || op == HOST || op == RET || op == RETV || op == ABORT)
            lead[pc + width(f->ext_code[pc])] = 1;
    }
}

static uint64_t block_cost(const struct ref *r, uint32_t fi, uint32_t pc)
{
    const struct vm_func *f = &r->m->funcs[fi];
    uint64_t c = 0;
    do {
        c += cost(r->m, f->ext_code[pc]);
        pc += width(f->ext_code[pc]);
    } while (pc < f->ext_words && !r->leaders[fi][pc]);
    return c;
}

/* Static cost after the instruction at pc up to the end of its block. */
static uint64_t rest_of_block(const struct ref *r, uint32_t fi, uint32_t pc)
{
    const struct vm_func *f = &r->m->funcs[fi];
    uint64_t c = 0;
    for (pc += width(f->ext_code[pc]); pc < f->ext_words && !r->leaders[fi][pc];
         pc += width(f->ext_code[pc]))
        c += cost(r->m, f->ext_code[pc]);
    return c;
}

/* Section 7's memory rules: a new value of n bytes (copied unless shared). */
static int new_value(struct ref *r, const uint8_t *p, uint32_t n, int copy,
                     struct val *out)
{
    if (r->values >= WITAN_VM_BYTES_COUNT_MAX)
        return VM_TRAP_MEMORY;
    if (copy) {
        if (n > WITAN_VM_MEMORY_SIZE_MAX - r->mem_used)
            return VM_TRAP_MEMORY;
        if (n)
            memcpy(r->mem + r->mem_used, p, n);
        p = r->mem + r->mem_used;
        r->mem_used += n;
    }
    r->values++;
    out->p = p;
    out->n = n;
    out->i = 0;
    return 0;
}

static int charge(struct ref *r, uint64_t c)
{
    if (c > r->gas)
        return VM_TRAP_GAS;
    r->gas -= c;
    return 0;
}

static uint64_t ceil32(uint64_t n)
{
    return n / 32 + (n % 32 != 0);
}

/* One instruction. Returns a trap, or 0; *done when the entry returned. */
static int step(struct ref *r, struct frame *fr, int *done, vm_result *res)
{
    const vm_module *m = r->m;
    const struct vm_func *f = &m->funcs[fr->func];
    uint32_t w = f->ext_code[fr->pc];
    uint32_t op = w & 0xff, a = (w >> 8) & 0xff, b = (w >> 16) & 0xff,
             c = w >> 24, bx = w >> 16;
    struct val *R = r->slots + fr->base;
    uint32_t next = fr->pc + width(w);
    int64_t t = target(f->ext_code, fr->pc);
    int jump = 0;
    int64_t x = 0, y = 0, v = 0;
    switch (op) {
    case NOP:
        break;
    case MOV:
        R[a] = R[b];
        break;
    case LDI:
        R[a].i = sext(bx, 16);
        break;
    case LDK:
        R[a].i = m->kint[bx];
        break;
    case LDS:
        R[a].p = m->kbytes[1 + bx].p;
        R[a].n = m->kbytes[1 + bx].n;
        break;
    case ADD: case SUB: case MUL: case ADDI: case MULI:
        x = R[b].i;
        y = (op == ADDI || op == MULI) ? sext(c, 8) : R[c].i;
        if (op == ADD || op == ADDI ? __builtin_add_overflow(x, y, &v)
            : op == SUB             ? __builtin_sub_overflow(x, y, &v)
                                    : __builtin_mul_overflow(x, y, &v))
            return VM_TRAP_OVERFLOW;
        R[a].i = v;
        break;
    case DIV: case MOD: case DIVI: case MODI:
        x = R[b].i;
        y = (op == DIVI || op == MODI) ? (int64_t)c : R[c].i;
        if (y == 0)
            return VM_TRAP_DIV_ZERO;
        if (op == DIV && x == INT64_MIN && y == -1)
            return VM_TRAP_OVERFLOW;
        if (op == DIV || op == DIVI)
            R[a].i = x / y;
        else
            R[a].i = y == -1 ? 0 : x % y;
        break;
    case NEG:
        if (R[b].i == INT64_MIN)
            return VM_TRAP_OVERFLOW;
        R[a].i = -R[b].i;
        break;
    case AND: R[a].i = R[b].i & R[c].i; break;
    case OR: R[a].i = R[b].i | R[c].i; break;
    case XOR: R[a].i = R[b].i ^ R[c].i; break;
    case NOT: R[a].i = ~R[b].i; break;
    case SHL: {
        uint64_t u = (uint64_t)R[b].i << ((uint64_t)R[c].i & 63);
        R[a].i = (int64_t)(u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u);
        break;
    }
    case SHR: {
        int s = (int)((uint64_t)R[c].i & 63);
        x = R[b].i;
        /* floor(x / 2^s), arithmetic shift */
        R[a].i = x >= 0 ? x >> s : -((-(x + 1)) >> s) - 1;
        break;
    }
    case EQ: R[a].i = R[b].i == R[c].i; break;
    case NE: R[a].i = R[b].i != R[c].i; break;
    case LT: R[a].i = R[b].i < R[c].i; break;
    case LE: R[a].i = R[b].i <= R[c].i; break;
    case JMP: jump = 1; break;
    case JZ: jump = R[a].i == 0; break;
    case JNZ: jump = R[a].i != 0; break;
    case JEQ: jump = R[a].i == R[b].i; break;
    case JNE: jump = R[a].i != R[b].i; break;
    case JLT: jump = R[a].i < R[b].i; break;
    case JLE: jump = R[a].i <= R[b].i; break;
    case JEQI: jump = R[a].i == sext(b, 8); break;
    case JNEI: jump = R[a].i != sext(b, 8); break;
    case JLTI: jump = R[a].i < sext(b, 8); break;
    case JLEI: jump = R[a].i <= sext(b, 8); break;
    case JGTI: jump = R[a].i > sext(b, 8); break;
    case JGEI: jump = R[a].i >= sext(b, 8); break;
    case FORLE:
        if (R[a].i == INT64_MAX)
            return VM_TRAP_OVERFLOW;
        R[a].i++;
        jump = R[a].i <= R[b].i;
        break;
    case CALL: {
        const struct vm_func *g = &m->funcs[bx];
        uint32_t base = fr->base + f->reg_count;
        if ((uint64_t)base + g->reg_count > WITAN_VM_STACK_SLOT_COUNT_MAX)
            return VM_TRAP_STACK;
        if (r->depth == WITAN_VM_CALL_DEPTH_MAX)
            return VM_TRAP_DEPTH;
        struct val *nR = r->slots + base;
        for (uint32_t i = 0; i < g->reg_count; i++) {
            struct val z = {0, m->kbytes[0].p, 0};
            nR[i] = i < g->param_count ? R[a + i] : z;
        }
        fr->pc = next;
        struct frame *nf = &r->frames[r->depth++];
        nf->func = bx;
        nf->pc = 0;
        nf->base = base;
        nf->ret = a;
        return 0;
    }
    case HOST: {
        const struct vm_import *im = &m->imports[bx];
        int e = charge(r, im->host->gas);
        if (e)
            return e;
        vm_value args[WITAN_VM_PARAM_COUNT_MAX];
        for (uint32_t i = 0; i < im->param_count; i++)
            args[i] = im->params[i] == VM_TYPE_INT
                          ? vm_int(R[a + i].i)
                          : vm_bytes(R[a + i].p, R[a + i].n);
        vm_value out = {im->result, 0, NULL, 0};
        int rc = im->host->fn(m->host->ctx, args, im->param_count, &out);
        if (rc) {
            res->host_err = rc;
            return VM_TRAP_HOST;
        }
        if (im->result == VM_TYPE_INT) {
            R[a].i = out.i;
        } else if (im->result == VM_TYPE_BYTES) {
            if (out.size && !out.bytes) {
                res->host_err = WITAN_EINVAL;
                return VM_TRAP_HOST;
            }
            if (out.size > WITAN_VM_BYTES_SIZE_MAX)
                return VM_TRAP_MEMORY;
            if ((e = charge(r, ceil32(out.size))) ||
                (e = new_value(r, out.bytes, out.size, 1, &R[a])))
                return e;
        }
        break;
    }
    case RET:
    case RETV: {
        struct val rv = op == RET ? R[a] : R[0];
        uint32_t ret = fr->ret;
        r->depth--;
        if (r->depth == 0) {
            if (f->result == VM_TYPE_INT)
                res->value = vm_int(rv.i);
            else if (f->result == VM_TYPE_BYTES)
                res->value = vm_bytes(rv.p, rv.n);
            *done = 1;
            return 0;
        }
        struct frame *caller = &r->frames[r->depth - 1];
        if (op == RET)
            r->slots[caller->base + ret] = rv;
        return 0;
    }
    case ABORT:
        res->abort_code = R[a].i;
        return VM_TRAP_ABORT;
    case BLEN:
        R[a].i = R[b].n;
        break;
    case BGET:
        if (R[c].i < 0 || R[c].i >= (int64_t)R[b].n)
            return VM_TRAP_BOUNDS;
        R[a].i = R[b].p[R[c].i];
        break;
    case BEQ:
    case BCMP: {
        struct val p = R[b], q = R[c];
        uint32_t n = p.n < q.n ? p.n : q.n;
        int e = charge(r, ceil32(n));
        if (e)
            return e;
        int cmp = 0;
        for (uint32_t i = 0; i < n && !cmp; i++)
            cmp = p.p[i] < q.p[i] ? -1 : p.p[i] > q.p[i];
        if (!cmp)
            cmp = p.n < q.n ? -1 : p.n > q.n;
        R[a].i = op == BEQ ? cmp == 0 : cmp;
        break;
    }
    case BCAT: {
        struct val p = R[b], q = R[c];
        uint64_t n = (uint64_t)p.n + q.n;
        if (n > WITAN_VM_BYTES_SIZE_MAX)
            return VM_TRAP_MEMORY;
        int e = charge(r, ceil32(n));
        if (e)
            return e;
        uint8_t tmp[WITAN_VM_BYTES_SIZE_MAX];
        if (p.n)
            memcpy(tmp, p.p, p.n);
        if (q.n)
            memcpy(tmp + p.n, q.p, q.n);
        if ((e = new_value(r, tmp, (uint32_t)n, 1, &R[a])))
            return e;
        break;
    }
    case BSUB: {
        int64_t s = R[c].i, l = R[c + 1].i;
        struct val p = R[b];
        if (s < 0 || l < 0 || s > (int64_t)p.n || l > (int64_t)p.n - s)
            return VM_TRAP_BOUNDS;
        int e = new_value(r, p.p + s, (uint32_t)l, 0, &R[a]);
        if (e)
            return e;
        break;
    }
    case ITOB: {
        uint8_t be[8];
        for (int i = 0; i < 8; i++)
            be[i] = (uint8_t)((uint64_t)R[b].i >> (56 - 8 * i));
        int e = new_value(r, be, 8, 1, &R[a]);
        if (e)
            return e;
        break;
    }
    case BTOI: {
        if (R[b].n != 8)
            return VM_TRAP_BOUNDS;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | R[b].p[i];
        R[a].i = u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
        break;
    }
    default:
        WITAN_ASSERT(0);
    }
    fr->pc = jump ? (uint32_t)t : next;
    return 0;
}

int refvm_call(const vm_module *m, uint32_t fi, const vm_value *args,
               uint32_t arg_count, uint64_t gas_limit, vm_result *res,
               uint8_t *out_bytes)
{
    memset(res, 0, sizeof *res);
    const struct vm_func *f = &m->funcs[fi];
    WITAN_ASSERT(arg_count == f->param_count);
    struct ref r;
    memset(&r, 0, sizeof r);
    r.m = m;
    r.gas = r.limit = gas_limit;
    r.slots = calloc(WITAN_VM_STACK_SLOT_COUNT_MAX, sizeof *r.slots);
    r.frames = calloc(WITAN_VM_CALL_DEPTH_MAX, sizeof *r.frames);
    r.mem = malloc(WITAN_VM_MEMORY_SIZE_MAX);
    r.leaders = calloc(m->func_count + 1, sizeof *r.leaders);
    int e = 0;
    if (!r.slots || !r.frames || !r.mem || !r.leaders) {
        e = WITAN_ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < m->func_count; i++) {
        r.leaders[i] = malloc(m->funcs[i].ext_words + 1);
        if (!r.leaders[i]) {
            e = WITAN_ENOMEM;
            goto done;
        }
        find_leaders(&m->funcs[i], r.leaders[i]);
    }
    for (uint32_t i = 0; i < f->reg_count; i++) {
        r.slots[i].p = m->kbytes[0].p;
        if (i >= arg_count)
            continue;
        if (args[i].type == VM_TYPE_INT)
            r.slots[i].i = args[i].i;
        else
            WITAN_ASSERT(new_value(&r, args[i].bytes, args[i].size, 1,
                                   &r.slots[i]) == 0);
    }
    r.frames[0].func = fi;
    r.depth = 1;
    for (;;) {
        struct frame *fr = &r.frames[r.depth - 1];
        uint32_t func = fr->func, pc = fr->pc;
        int trap = 0, done_ = 0;
        if (r.leaders[func][pc])
            trap = charge(&r, block_cost(&r, func, pc));
        if (!trap)
            trap = step(&r, fr, &done_, res);
        if (trap) {
            res->trap = trap;
            res->trap_func = func;
            res->trap_offset = pc;
            if (trap == VM_TRAP_GAS) {
                res->gas_used = gas_limit;
                e = WITAN_EGAS;
            } else {
                res->gas_used = gas_limit - r.gas - rest_of_block(&r, func, pc);
                e = WITAN_ETRAP;
            }
            break;
        }
        if (done_) {
            res->gas_used = gas_limit - r.gas;
            if (res->value.type == VM_TYPE_BYTES) {
                if (res->value.size)
                    memcpy(out_bytes, res->value.bytes, res->value.size);
                res->value.bytes = out_bytes;
            }
            break;
        }
    }
done:
    for (uint32_t i = 0; r.leaders && i < m->func_count; i++)
        free(r.leaders[i]);
    free(r.leaders);
    free(r.slots);
    free(r.frames);
    free(r.mem);
    return e;
}
