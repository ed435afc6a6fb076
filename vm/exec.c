/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Execution: the context (register stack, frames, bytes memory), entry into a
 * function, host calls, and the interpreter itself, built twice from
 * interp_body.h — with computed goto and with a switch — so both dispatch
 * strategies run the same handlers and tests can compare them.
 *
 * Gas. Every basic block of translated code opens with a gas word holding the
 * sum of its instructions' static costs; the block is paid in full on entry
 * or the call ends out of gas there. An instruction that traps inside a block
 * gets back the static cost of the instructions after it in that block, so the
 * gas used is exactly what spec/vm.md's per-instruction rule gives. Dynamic
 * costs (bytes work, host prices) are charged by the instruction itself.
 */
#include <string.h>

#include "vm/vm_impl.h"

struct vm_frame {
    const uint32_t *pc;
    int64_t *R;
    const struct vm_func *f;
    uint32_t ret;
};

struct vm_exec {
    int64_t *stack;
    struct vm_frame *frames;
    struct vm_bref *strs;
    uint32_t str_count;
    uint8_t *mem;
    uint32_t mem_used;
    int dispatch;
};

static const char *const trap_text[] = {
#define VM_TRAP_TEXT_(name, value, msg) [value] = msg,
    VM_TRAPS(VM_TRAP_TEXT_)
#undef VM_TRAP_TEXT_
};

const char *vm_trap_text(int trap)
{
    if (trap < 0 || trap >= (int)WITAN_ARRAY_COUNT(trap_text))
        return "unknown trap";
    return trap_text[trap];
}

int vm_exec_new(vm_exec **out)
{
    if (!out)
        return WITAN_EINVAL;
    vm_exec *x = calloc(1, sizeof *x);
    if (!x)
        return WITAN_ENOMEM;
    x->stack = calloc(WITAN_VM_STACK_SLOT_COUNT_MAX, sizeof *x->stack);
    x->frames = calloc(WITAN_VM_CALL_DEPTH_MAX, sizeof *x->frames);
    x->strs = calloc(WITAN_VM_BYTES_COUNT_MAX, sizeof *x->strs);
    x->mem = malloc(WITAN_VM_MEMORY_SIZE_MAX);
    if (!x->stack || !x->frames || !x->strs || !x->mem) {
        vm_exec_free(x);
        return WITAN_ENOMEM;
    }
    *out = x;
    return 0;
}

void vm_exec_free(vm_exec *x)
{
    if (!x)
        return;
    free(x->stack);
    free(x->frames);
    free(x->strs);
    free(x->mem);
    free(x);
}

void vm_exec_set_dispatch(vm_exec *x, int dispatch)
{
    if (x)
        x->dispatch = dispatch;
}

/* --- helpers the body uses ------------------------------------------------ */

static inline int64_t vm_u2i(uint64_t u)
{
    return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* A bytes handle's value. Handles come only from the VM (verified types), so
 * a bad one is a bug, not input. */
static inline struct vm_bref bref(const vm_exec *x, const vm_module *m,
                                  int64_t h)
{
    uint64_t u = (uint64_t)h;
    if (u <= m->kbytes_count)
        return m->kbytes[u];
    u -= (uint64_t)m->kbytes_count + 1;
    WITAN_ASSERT(u < x->str_count);
    return x->strs[u];
}

static int bytes_alloc(vm_exec *x, uint32_t n, uint8_t **p)
{
    if (x->str_count >= WITAN_VM_BYTES_COUNT_MAX ||
        n > WITAN_VM_MEMORY_SIZE_MAX - x->mem_used)
        return WITAN_ELIMIT;
    *p = x->mem + x->mem_used;
    x->mem_used += n;
    return 0;
}

/* Records a new value; the caller made sure a slot is free. */
static int64_t bytes_handle(vm_exec *x, const vm_module *m, const uint8_t *p,
                            uint32_t n)
{
    WITAN_ASSERT(x->str_count < WITAN_VM_BYTES_COUNT_MAX);
    x->strs[x->str_count].p = p;
    x->strs[x->str_count].n = n;
    return (int64_t)m->kbytes_count + 1 + (int64_t)x->str_count++;
}

/* Gas of the instructions after the one at idx, up to the end of its block. */
static uint64_t block_rest(const vm_module *m, uint32_t idx)
{
    uint32_t op = VM_OPC(m->code[idx]);
    WITAN_ASSERT(op < OP_COUNT_);
    uint64_t rest = 0;
    for (uint32_t i = idx + vm_op_table[op].words; i < m->code_count;) {
        op = VM_OPC(m->code[i]);
        if (op == OP_GAS)
            break;
        rest += vm_static_gas(m, m->code[i]);
        i += vm_op_table[op].words;
    }
    return rest;
}

/* A host call: price, arguments, the call, the result back in window[0].
 * Returns 0 or the trap. */
static int host_call(vm_exec *x, const vm_module *m, const struct vm_import *im,
                     int64_t *window, uint64_t *gas, vm_result *res)
{
    const vm_host_func *h = im->host;
    if (h->gas > *gas)
        return VM_TRAP_GAS;
    *gas -= h->gas;
    vm_value args[WITAN_VM_PARAM_COUNT_MAX];
    for (uint32_t i = 0; i < im->param_count; i++) {
        if (im->params[i] == VM_TYPE_INT) {
            args[i] = vm_int(window[i]);
        } else {
            struct vm_bref b = bref(x, m, window[i]);
            args[i] = vm_bytes(b.p, b.n);
        }
    }
    vm_value rv = {im->result, 0, NULL, 0};
    int rc = h->fn(m->host->ctx, args, im->param_count, &rv);
    if (rc) {
        res->host_err = rc;
        return VM_TRAP_HOST;
    }
    if (im->result == VM_TYPE_INT) {
        window[0] = rv.i;
    } else if (im->result == VM_TYPE_BYTES) {
        if (rv.size && !rv.bytes) {
            res->host_err = WITAN_EINVAL;
            return VM_TRAP_HOST;
        }
        if (rv.size > WITAN_VM_BYTES_SIZE_MAX)
            return VM_TRAP_MEMORY;
        uint64_t cost = VM_GAS_PER_BYTES(rv.size);
        if (cost > *gas)
            return VM_TRAP_GAS;
        *gas -= cost;
        uint8_t *p;
        if (bytes_alloc(x, rv.size, &p))
            return VM_TRAP_MEMORY;
        if (rv.size)
            memcpy(p, rv.bytes, rv.size);
        window[0] = bytes_handle(x, m, p, rv.size);
    }
    return 0;
}

/* --- the interpreter, twice ---------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
#define VM_HAVE_COMPUTED_GOTO 1
#else
#define VM_HAVE_COMPUTED_GOTO 0
#endif

#define VM_BODY_NAME run_switch
#define VM_BODY_GOTO 0
#include "vm/interp_body.h"
#undef VM_BODY_NAME
#undef VM_BODY_GOTO

#if VM_HAVE_COMPUTED_GOTO
#define VM_BODY_NAME run_goto
#define VM_BODY_GOTO 1
#include "vm/interp_body.h"
#undef VM_BODY_NAME
#undef VM_BODY_GOTO
#endif

int vm_call(vm_exec *x, const vm_module *m, uint32_t fi, const vm_value *args,
            uint32_t arg_count, uint64_t gas_limit, vm_result *out)
{
    if (!x || !m || !out || (arg_count && !args))
        return WITAN_EINVAL;
    memset(out, 0, sizeof *out);
    if (fi >= m->func_count || (m->import_count && !m->host))
        return WITAN_EINVAL;
    if (gas_limit > WITAN_VM_GAS_MAX)
        return WITAN_ELIMIT;
    const struct vm_func *f = &m->funcs[fi];
    if (arg_count != f->param_count)
        return WITAN_EINVAL;
    x->str_count = 0;
    x->mem_used = 0;
    for (uint32_t i = 0; i < arg_count; i++) {
        if (args[i].type != f->types[i])
            return WITAN_EINVAL;
        if (args[i].type == VM_TYPE_INT) {
            x->stack[i] = args[i].i;
            continue;
        }
        uint8_t *p;
        if (args[i].size && !args[i].bytes)
            return WITAN_EINVAL;
        if (args[i].size > WITAN_VM_BYTES_SIZE_MAX ||
            bytes_alloc(x, args[i].size, &p))
            return WITAN_ELIMIT;
        if (args[i].size)
            memcpy(p, args[i].bytes, args[i].size);
        x->stack[i] = bytes_handle(x, m, p, args[i].size);
    }
    for (uint32_t i = arg_count; i < f->reg_count; i++)
        x->stack[i] = 0;
#if VM_HAVE_COMPUTED_GOTO
    if (x->dispatch != VM_DISPATCH_SWITCH)
        return run_goto(x, m, fi, gas_limit, out);
#endif
    return run_switch(x, m, fi, gas_limit, out);
}
