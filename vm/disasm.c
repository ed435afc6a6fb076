/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The disassembler: a verified module back to assembly text. Every byte of
 * the module has one spelling in the text — constants are declared in pool
 * order with names k<i> and s<i>, functions are f<i>, jump targets L<offset>
 * — so assembling the text gives back the same bytes.
 */
#include <stdarg.h>
#include <string.h>

#include "vm/vm_impl.h"

struct out {
    char *p;
    size_t n, cap;
    int oom;
};

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)k < o->cap - o->n) {
            o->n += (size_t)k;
            return;
        }
        size_t cap = 2 * o->cap + (size_t)k + 1;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static char type_letter(uint8_t t)
{
    return t == VM_TYPE_INT ? 'i' : t == VM_TYPE_BYTES ? 'b' : 'v';
}

static void sig(struct out *o, const uint8_t *params, uint32_t n, uint8_t res)
{
    for (uint32_t i = 0; i < n; i++)
        outf(o, " %c", type_letter(params[i]));
    outf(o, " -> %c\n", type_letter(res));
}

static void quoted(struct out *o, const uint8_t *p, uint32_t n)
{
    outf(o, "\"");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            outf(o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            outf(o, "%c", c);
        else
            outf(o, "\\x%02x", c);
    }
    outf(o, "\"");
}

/* Jump target of the instruction at pc, or -1. */
static int64_t target_of(const uint32_t *code, uint32_t pc)
{
    uint32_t w = code[pc];
    const struct vm_op_info *in = &vm_op_table[VM_OPC(w)];
    if (in->words == 2)
        return (int64_t)pc + 2 + vm_s32(code[pc + 1]);
    if (in->kind[0] == K_J24)
        return (int64_t)pc + 1 + VM_SJ(w);
    if (in->kind[1] == K_J16)
        return (int64_t)pc + 1 + VM_SBX(w);
    return -1;
}

static void instruction(struct out *o, const vm_module *m, const uint32_t *code,
                        uint32_t pc)
{
    uint32_t w = code[pc];
    const struct vm_op_info *in = &vm_op_table[VM_OPC(w)];
    outf(o, "    %s", in->mnemonic);
    const char *sep = " ";
    for (int slot = 0; slot < 3; slot++) {
        int k = in->kind[slot];
        uint32_t v = slot == 0 ? VM_A(w) : slot == 1 ? VM_B(w) : VM_C(w);
        switch (k) {
        case K_NONE:
            continue;
        case K_RI:
        case K_RB:
        case K_RA:
        case K_RI2:
        case K_CALLA:
        case K_RET:
            outf(o, "%sr%u", sep, v);
            break;
        case K_I8:
            outf(o, "%s%d", sep, slot == 1 ? VM_SB(w) : VM_SC(w));
            break;
        case K_U8NZ:
            outf(o, "%s%u", sep, v);
            break;
        case K_S16:
            outf(o, "%s%d", sep, VM_SBX(w));
            break;
        case K_J16:
        case K_J24:
            outf(o, "%sL%lld", sep, (long long)target_of(code, pc));
            break;
        case K_KI:
            outf(o, "%sk%u", sep, VM_BX(w));
            break;
        case K_KB:
            outf(o, "%ss%u", sep, VM_BX(w));
            break;
        case K_FN:
            outf(o, "%sf%u", sep, VM_BX(w));
            break;
        case K_IMP:
            outf(o, "%s%s", sep, m->imports[VM_BX(w)].name);
            break;
        }
        sep = ", ";
    }
    if (in->words == 2)
        outf(o, "%sL%lld", sep, (long long)target_of(code, pc));
    outf(o, "\n");
}

int vm_disassemble(const uint8_t *bytes, size_t size, char **text,
                   vm_verify_error *err)
{
    if (!text)
        return WITAN_EINVAL;
    *text = NULL;
    vm_module *m;
    int e = vm_module_load(bytes, size, NULL, &m, err);
    if (e)
        return e;
    uint8_t *is_target = malloc(WITAN_VM_FUNC_WORDS_MAX + 1);
    struct out o = {malloc(4096), 0, 4096, 0};
    if (!is_target || !o.p) {
        o.oom = 1;
        goto done;
    }
    outf(&o, "; witan vm module, format version %d\n", VM_VERSION);
    for (uint32_t i = 0; i < m->kint_count; i++)
        outf(&o, ".int k%u %lld\n", i, (long long)m->kint[i]);
    for (uint32_t i = 0; i < m->kbytes_count; i++) {
        outf(&o, ".bytes s%u ", i);
        quoted(&o, m->kbytes[1 + i].p, m->kbytes[1 + i].n);
        outf(&o, "\n");
    }
    for (uint32_t i = 0; i < m->import_count; i++) {
        const struct vm_import *im = &m->imports[i];
        outf(&o, ".import %s", im->name);
        sig(&o, im->params, im->param_count, im->result);
    }
    for (uint32_t fi = 0; fi < m->func_count; fi++) {
        const struct vm_func *f = &m->funcs[fi];
        outf(&o, "\n.func f%u", fi);
        sig(&o, f->types, f->param_count, f->result);
        if (f->reg_count > f->param_count) {
            outf(&o, ".regs");
            for (uint32_t r = f->param_count; r < f->reg_count; r++)
                outf(&o, " %c", type_letter(f->types[r]));
            outf(&o, "\n");
        }
        memset(is_target, 0, f->ext_words);
        for (uint32_t pc = 0; pc < f->ext_words;
             pc += vm_op_table[VM_OPC(f->ext_code[pc])].words) {
            int64_t t = target_of(f->ext_code, pc);
            if (t >= 0)
                is_target[t] = 1;
        }
        for (uint32_t pc = 0; pc < f->ext_words;
             pc += vm_op_table[VM_OPC(f->ext_code[pc])].words) {
            if (is_target[pc])
                outf(&o, "L%u:\n", pc);
            instruction(&o, m, f->ext_code, pc);
        }
        outf(&o, ".end\n");
    }
    if (m->export_count)
        outf(&o, "\n");
    for (uint32_t i = 0; i < m->export_count; i++)
        outf(&o, ".export %s f%u\n", m->exports[i].name, m->exports[i].func);
done:
    free(is_target);
    vm_module_free(m);
    if (o.oom) {
        free(o.p);
        return WITAN_ENOMEM;
    }
    *text = o.p;
    return 0;
}
