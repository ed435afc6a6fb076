/* SPDX-License-Identifier: Apache-2.0 */
/*
 * interp_body.h — the interpreter's one body. exec.c includes it twice: once
 * with VM_BODY_GOTO 1 (computed goto, where the compiler has it) and once with
 * VM_BODY_GOTO 0 (a switch), naming the function VM_BODY_NAME. Only CASE and
 * NEXT differ between the two.
 *
 * The code it runs was verified and translated by load.c, so registers are in
 * range and of the right type, constants, functions and imports exist, jumps
 * land on gas words, and every block opens with its gas word: the handlers
 * check only what depends on values (overflow, zero divisors, bounds, limits).
 */

static int VM_BODY_NAME(vm_exec *x, const vm_module *m, uint32_t fi,
                        uint64_t gas_limit, vm_result *res)
{
    const uint32_t *const code = m->code;
    const struct vm_func *const funcs = m->funcs;
    const int64_t *const kint = m->kint;
    const struct vm_func *f = &funcs[fi];
    const uint32_t *pc = code + f->code_start;
    int64_t *R = x->stack;
    int64_t *const stack_end = x->stack + WITAN_VM_STACK_SLOT_COUNT_MAX;
    struct vm_frame *const frames = x->frames;
    uint32_t depth = 0; /* saved frames; the running function is depth + 1 */
    uint64_t gas = gas_limit;
    uint32_t w;
    int trap = VM_TRAP_NONE;
    int64_t result = 0;

#define TRAP(t)                                                                \
    do {                                                                       \
        trap = (t);                                                            \
        goto trapped;                                                          \
    } while (0)
/* Dynamic gas: out of gas at this instruction when it cannot be paid. */
#define CHARGE(n)                                                              \
    do {                                                                       \
        uint64_t n_ = (n);                                                     \
        if (n_ > gas)                                                          \
            TRAP(VM_TRAP_GAS);                                                 \
        gas -= n_;                                                             \
    } while (0)
#define RA R[VM_A(w)]
#define RB R[VM_B(w)]
#define RC R[VM_C(w)]
/* The second word of a two-word instruction is at *pc. */
#define BRANCH_IF(cond)                                                        \
    do {                                                                       \
        if (cond)                                                              \
            pc += 1 + vm_s32(*pc);                                             \
        else                                                                   \
            pc += 1;                                                           \
    } while (0)

#if VM_BODY_GOTO
    static const void *const dispatch[OP_COUNT_ + 1] = {
#define VM_LABEL_ADDR_(name, mn, words, gas, ka, kb, kc) &&L_##name,
        VM_OPS(VM_LABEL_ADDR_)
#undef VM_LABEL_ADDR_
        &&L_GAS,
    };
#define CASE(name) L_##name:
#define NEXT()                                                                 \
    do {                                                                       \
        w = *pc++;                                                             \
        goto *dispatch[VM_OPC(w)];                                             \
    } while (0)
    NEXT();
#else
#define CASE(name) case OP_##name:
#define NEXT() goto next
next:
    w = *pc++;
    switch (VM_OPC(w)) {
#endif

    CASE(GAS)
    {
        uint32_t cost = w >> 8;
        if (cost > gas)
            TRAP(VM_TRAP_GAS);
        gas -= cost;
        NEXT();
    }
    CASE(NOP)
    NEXT();
    CASE(MOV)
    RA = RB;
    NEXT();
    CASE(LDI)
    RA = VM_SBX(w);
    NEXT();
    CASE(LDK)
    RA = kint[VM_BX(w)];
    NEXT();
    CASE(LDS)
    RA = (int64_t)VM_BX(w) + 1;
    NEXT();
    CASE(ADD)
    {
        int64_t r;
        if (__builtin_add_overflow(RB, RC, &r))
            TRAP(VM_TRAP_OVERFLOW);
        RA = r;
        NEXT();
    }
    CASE(SUB)
    {
        int64_t r;
        if (__builtin_sub_overflow(RB, RC, &r))
            TRAP(VM_TRAP_OVERFLOW);
        RA = r;
        NEXT();
    }
    CASE(MUL)
    {
        int64_t r;
        if (__builtin_mul_overflow(RB, RC, &r))
            TRAP(VM_TRAP_OVERFLOW);
        RA = r;
        NEXT();
    }
    CASE(DIV)
    {
        int64_t b = RB, c = RC;
        if (c == 0)
            TRAP(VM_TRAP_DIV_ZERO);
        if (c == -1 && b == INT64_MIN)
            TRAP(VM_TRAP_OVERFLOW);
        RA = b / c;
        NEXT();
    }
    CASE(MOD)
    {
        int64_t b = RB, c = RC;
        if (c == 0)
            TRAP(VM_TRAP_DIV_ZERO);
        RA = c == -1 ? 0 : b % c;
        NEXT();
    }
    CASE(ADDI)
    {
        int64_t r;
        if (__builtin_add_overflow(RB, (int64_t)VM_SC(w), &r))
            TRAP(VM_TRAP_OVERFLOW);
        RA = r;
        NEXT();
    }
    CASE(MULI)
    {
        int64_t r;
        if (__builtin_mul_overflow(RB, (int64_t)VM_SC(w), &r))
            TRAP(VM_TRAP_OVERFLOW);
        RA = r;
        NEXT();
    }
    CASE(DIVI)
    RA = RB / (int64_t)VM_C(w);
    NEXT();
    CASE(MODI)
    RA = RB % (int64_t)VM_C(w);
    NEXT();
    CASE(NEG)
    {
        if (RB == INT64_MIN)
            TRAP(VM_TRAP_OVERFLOW);
        RA = -RB;
        NEXT();
    }
    CASE(AND)
    RA = RB & RC;
    NEXT();
    CASE(OR)
    RA = RB | RC;
    NEXT();
    CASE(XOR)
    RA = RB ^ RC;
    NEXT();
    CASE(SHL)
    RA = vm_u2i((uint64_t)RB << (RC & 63));
    NEXT();
    CASE(SHR)
    {
        int64_t b = RB;
        int s = (int)(RC & 63);
        RA = b >= 0 ? b >> s : ~(~b >> s);
        NEXT();
    }
    CASE(NOT)
    RA = ~RB;
    NEXT();
    CASE(EQ)
    RA = RB == RC;
    NEXT();
    CASE(NE)
    RA = RB != RC;
    NEXT();
    CASE(LT)
    RA = RB < RC;
    NEXT();
    CASE(LE)
    RA = RB <= RC;
    NEXT();
    CASE(JMP)
    pc += VM_SJ(w);
    NEXT();
    CASE(JZ)
    if (RA == 0)
        pc += VM_SBX(w);
    NEXT();
    CASE(JNZ)
    if (RA != 0)
        pc += VM_SBX(w);
    NEXT();
    CASE(JEQ)
    BRANCH_IF(RA == RB);
    NEXT();
    CASE(JNE)
    BRANCH_IF(RA != RB);
    NEXT();
    CASE(JLT)
    BRANCH_IF(RA < RB);
    NEXT();
    CASE(JLE)
    BRANCH_IF(RA <= RB);
    NEXT();
    CASE(JEQI)
    BRANCH_IF(RA == VM_SB(w));
    NEXT();
    CASE(JNEI)
    BRANCH_IF(RA != VM_SB(w));
    NEXT();
    CASE(JLTI)
    BRANCH_IF(RA < VM_SB(w));
    NEXT();
    CASE(JLEI)
    BRANCH_IF(RA <= VM_SB(w));
    NEXT();
    CASE(JGTI)
    BRANCH_IF(RA > VM_SB(w));
    NEXT();
    CASE(JGEI)
    BRANCH_IF(RA >= VM_SB(w));
    NEXT();
    CASE(FORLE)
    {
        int64_t a = RA;
        if (a == INT64_MAX)
            TRAP(VM_TRAP_OVERFLOW);
        RA = ++a;
        BRANCH_IF(a <= RB);
        NEXT();
    }
    CASE(CALL)
    {
        const struct vm_func *g = &funcs[VM_BX(w)];
        int64_t *nR = R + f->reg_count;
        if ((ptrdiff_t)g->reg_count > stack_end - nR)
            TRAP(VM_TRAP_STACK);
        if (depth + 1 >= WITAN_VM_CALL_DEPTH_MAX)
            TRAP(VM_TRAP_DEPTH);
        struct vm_frame *fr = &frames[depth++];
        fr->pc = pc;
        fr->R = R;
        fr->f = f;
        fr->ret = VM_A(w);
        const int64_t *args = R + VM_A(w);
        uint32_t i = 0;
        for (; i < g->param_count; i++)
            nR[i] = args[i];
        for (; i < g->reg_count; i++)
            nR[i] = 0;
        R = nR;
        f = g;
        pc = code + g->code_start;
        NEXT();
    }
    CASE(RET)
    {
        int64_t v = RA;
        if (depth == 0) {
            result = v;
            goto done;
        }
        struct vm_frame *fr = &frames[--depth];
        R = fr->R;
        f = fr->f;
        pc = fr->pc;
        R[fr->ret] = v;
        NEXT();
    }
    CASE(RETV)
    {
        if (depth == 0)
            goto done;
        struct vm_frame *fr = &frames[--depth];
        R = fr->R;
        f = fr->f;
        pc = fr->pc;
        NEXT();
    }
    CASE(HOST)
    {
        int t = host_call(x, m, &m->imports[VM_BX(w)], R + VM_A(w), &gas,
                          res);
        if (t)
            TRAP(t);
        NEXT();
    }
    CASE(ABORT)
    {
        res->abort_code = RA;
        TRAP(VM_TRAP_ABORT);
    }
    CASE(BLEN)
    RA = bref(x, m, RB).n;
    NEXT();
    CASE(BGET)
    {
        struct vm_bref b = bref(x, m, RB);
        int64_t i = RC;
        if (i < 0 || i >= (int64_t)b.n)
            TRAP(VM_TRAP_BOUNDS);
        RA = b.p[i];
        NEXT();
    }
    CASE(BEQ)
    {
        struct vm_bref b = bref(x, m, RB), c = bref(x, m, RC);
        CHARGE(VM_GAS_PER_BYTES(b.n < c.n ? b.n : c.n));
        RA = b.n == c.n && (b.n == 0 || memcmp(b.p, c.p, b.n) == 0);
        NEXT();
    }
    CASE(BCMP)
    {
        struct vm_bref b = bref(x, m, RB), c = bref(x, m, RC);
        uint32_t n = b.n < c.n ? b.n : c.n;
        CHARGE(VM_GAS_PER_BYTES(n));
        int r = n ? memcmp(b.p, c.p, n) : 0;
        if (r == 0)
            r = b.n < c.n ? -1 : b.n > c.n;
        RA = r < 0 ? -1 : r > 0;
        NEXT();
    }
    CASE(BCAT)
    {
        struct vm_bref b = bref(x, m, RB), c = bref(x, m, RC);
        uint64_t n = (uint64_t)b.n + c.n;
        if (n > WITAN_VM_BYTES_SIZE_MAX)
            TRAP(VM_TRAP_MEMORY);
        CHARGE(VM_GAS_PER_BYTES(n));
        uint8_t *p;
        if (bytes_alloc(x, (uint32_t)n, &p))
            TRAP(VM_TRAP_MEMORY);
        if (b.n)
            memcpy(p, b.p, b.n);
        if (c.n)
            memcpy(p + b.n, c.p, c.n);
        RA = bytes_handle(x, m, p, (uint32_t)n);
        NEXT();
    }
    CASE(BSUB)
    {
        struct vm_bref b = bref(x, m, RB);
        int64_t s = RC, l = R[VM_C(w) + 1];
        if (s < 0 || l < 0 || s > (int64_t)b.n || l > (int64_t)b.n - s)
            TRAP(VM_TRAP_BOUNDS);
        if (x->str_count >= WITAN_VM_BYTES_COUNT_MAX)
            TRAP(VM_TRAP_MEMORY);
        RA = bytes_handle(x, m, b.p + s, (uint32_t)l);
        NEXT();
    }
    CASE(ITOB)
    {
        uint64_t v = (uint64_t)RB;
        uint8_t *p;
        if (bytes_alloc(x, 8, &p))
            TRAP(VM_TRAP_MEMORY);
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(v >> (56 - 8 * i));
        RA = bytes_handle(x, m, p, 8);
        NEXT();
    }
    CASE(BTOI)
    {
        struct vm_bref b = bref(x, m, RB);
        if (b.n != 8)
            TRAP(VM_TRAP_BOUNDS);
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | b.p[i];
        RA = vm_u2i(v);
        NEXT();
    }
#if !VM_BODY_GOTO
    default:
        WITAN_ASSERT(0);
    }
#endif

trapped: {
    uint32_t idx = (uint32_t)(pc - 1 - code);
    res->trap = trap;
    res->trap_func = (uint32_t)(f - funcs);
    res->trap_offset = m->origin[idx];
    if (trap == VM_TRAP_GAS) {
        res->gas_used = gas_limit;
        return WITAN_EGAS;
    }
    gas += block_rest(m, idx);
    WITAN_ASSERT(gas <= gas_limit);
    res->gas_used = gas_limit - gas;
    return WITAN_ETRAP;
}
done:
    res->gas_used = gas_limit - gas;
    if (f->result == VM_TYPE_INT) {
        res->value = vm_int(result);
    } else if (f->result == VM_TYPE_BYTES) {
        struct vm_bref b = bref(x, m, result);
        res->value = vm_bytes(b.p, b.n);
    }
    return 0;

#undef TRAP
#undef CHARGE
#undef RA
#undef RB
#undef RC
#undef BRANCH_IF
#undef CASE
#undef NEXT
}
