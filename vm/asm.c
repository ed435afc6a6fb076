/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The assembler: text (spec/vm.md, "Assembly text") to a binary module, in two
 * passes over the lines. The first collects declarations (constants, imports,
 * functions with their registers, exports) and each function's labels with
 * their word offsets; the second encodes instructions. Literal operands of
 * ldk and lds become constants appended after the declared ones, so a text
 * that declares every constant (as the disassembler's does) assembles to
 * exactly the bytes it came from. The result is verified before it is
 * returned.
 */
#include <stdarg.h>
#include <string.h>

#include "vm/vm_impl.h"


struct sym {
    char name[WITAN_VM_ASM_NAME_SIZE_MAX + 1];
};

struct kbytes {
    struct sym s;
    uint8_t *data;
    uint32_t size;
};

struct afunc {
    struct sym s;
    uint32_t label_first, label_count; /* its labels in as.labels */
    uint32_t param_count, reg_count;
    uint8_t result;
    uint8_t types[WITAN_VM_REG_COUNT_MAX];
    uint32_t words;
    uint32_t *code;
};

struct label {
    struct sym s;
    uint32_t func, offset;
};

struct aimport {
    struct sym s;
    uint32_t param_count;
    uint8_t params[WITAN_VM_PARAM_COUNT_MAX];
    uint8_t result;
};

struct aexport {
    struct sym s;
    char func[WITAN_VM_ASM_NAME_SIZE_MAX + 1];
    uint32_t line;
};

struct tok {
    char *s;
    size_t n;
    int str; /* a quoted string; s/n exclude the quotes */
};

struct as {
    vm_asm_error *err;
    uint32_t line;
    struct sym *kint_names;
    int64_t *kint;
    uint32_t kint_count, kint_declared;
    struct kbytes *kb;
    uint32_t kb_count, kb_declared;
    struct aimport *imports;
    uint32_t import_count;
    struct afunc *funcs;
    uint32_t func_count;
    struct aexport *exports;
    uint32_t export_count;
    struct label *labels;
    uint32_t label_count, label_cap;
};

static int asm_fail(struct as *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int asm_fail(struct as *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    a->err->line = a->line;
    vsnprintf(a->err->message, sizeof a->err->message, fmt, ap);
    va_end(ap);
    return WITAN_EASM;
}

/* --- lexing --------------------------------------------------------------- */

/* Splits a line into tokens: whitespace, commas and parentheses separate;
 * ';' and '#' start a comment outside strings. */
static int tokenize(struct as *a, char *line, struct tok *t, int *count)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '(' ||
               *p == ')' || *p == '\r')
            p++;
        if (!*p || *p == ';' || *p == '#')
            break;
        if (n == WITAN_VM_ASM_LINE_TOKEN_COUNT_MAX)
            return asm_fail(a, "too many tokens on one line");
        if (*p == '"') {
            char *s = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p != '"')
                return asm_fail(a, "unterminated string");
            t[n].s = s;
            t[n].n = (size_t)(p - s);
            t[n].str = 1;
            p++;
        } else {
            char *s = p;
            while (*p && *p != ' ' && *p != '\t' && *p != ',' && *p != '(' &&
                   *p != ')' && *p != ';' && *p != '#' && *p != '"' &&
                   *p != '\r')
                p++;
            t[n].s = s;
            t[n].n = (size_t)(p - s);
            t[n].str = 0;
        }
        n++;
    }
    *count = n;
    return 0;
}

static int tok_is(const struct tok *t, const char *s)
{
    return !t->str && t->n == strlen(s) && memcmp(t->s, s, t->n) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes a string token's escapes into out (at least t->n bytes). */
static int unescape(struct as *a, const struct tok *t, uint8_t *out,
                    uint32_t *size)
{
    uint32_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (c != '\\') {
            out[n++] = (uint8_t)c;
            continue;
        }
        c = t->s[++i];
        if (c == 'n')
            out[n++] = '\n';
        else if (c == 't')
            out[n++] = '\t';
        else if (c == 'r')
            out[n++] = '\r';
        else if (c == '0')
            out[n++] = 0;
        else if (c == '\\' || c == '"')
            out[n++] = (uint8_t)c;
        else if (c == 'x' && i + 2 < t->n + 1 && hexval(t->s[i + 1]) >= 0 &&
                 i + 2 < t->n && hexval(t->s[i + 2]) >= 0) {
            out[n++] = (uint8_t)(hexval(t->s[i + 1]) * 16 + hexval(t->s[i + 2]));
            i += 2;
        } else
            return asm_fail(a, "bad escape in string");
    }
    *size = n;
    return 0;
}

/* Decimal or 0x-hex, optionally negative, within int64. */
static int parse_int(const struct tok *t, int64_t *v)
{
    if (t->str || t->n == 0)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (t->s[0] == '-' || t->s[0] == '+') {
        neg = t->s[0] == '-';
        i = 1;
    }
    unsigned base = 10;
    if (t->n - i > 2 && t->s[i] == '0' && (t->s[i + 1] == 'x' || t->s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i == t->n)
        return -1;
    uint64_t u = 0;
    for (; i < t->n; i++) {
        int d = hexval(t->s[i]);
        if (d < 0 || (unsigned)d >= base)
            return -1;
        if (u > (UINT64_MAX - (unsigned)d) / base)
            return -1;
        u = u * base + (unsigned)d;
    }
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return -1;
        *v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > INT64_MAX)
            return -1;
        *v = (int64_t)u;
    }
    return 0;
}

static int ident_ok(const struct tok *t)
{
    if (t->str || t->n == 0 || t->n > WITAN_VM_ASM_NAME_SIZE_MAX)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_';
        int digit = (c >= '0' && c <= '9') || c == '.';
        if (!alpha && !(digit && i > 0))
            return 0;
    }
    return 1;
}

static void sym_set(struct sym *s, const struct tok *t)
{
    memcpy(s->name, t->s, t->n);
    s->name[t->n] = 0;
}

static int sym_eq(const struct sym *s, const struct tok *t)
{
    return strlen(s->name) == t->n && memcmp(s->name, t->s, t->n) == 0;
}

static int find_mnemonic(const struct tok *t)
{
    for (int op = 0; op < OP_COUNT_; op++)
        if (tok_is(t, vm_op_table[op].mnemonic))
            return op;
    return -1;
}

/* --- declarations (pass 1) ------------------------------------------------ */

static int parse_type(struct as *a, const struct tok *t, int allow_void,
                      uint8_t *type)
{
    if (tok_is(t, "i"))
        *type = VM_TYPE_INT;
    else if (tok_is(t, "b"))
        *type = VM_TYPE_BYTES;
    else if (allow_void && tok_is(t, "v"))
        *type = VM_TYPE_NONE;
    else
        return asm_fail(a, "expected a type (i, b%s)", allow_void ? " or v" : "");
    return 0;
}

/* NAME types... -> result */
static int parse_sig(struct as *a, const struct tok *t, int n, uint8_t *params,
                     uint32_t *param_count, uint8_t *result)
{
    int i = 2;
    *param_count = 0;
    for (; i < n && !tok_is(&t[i], "->"); i++) {
        if (*param_count == WITAN_VM_PARAM_COUNT_MAX)
            return asm_fail(a, "more than %d parameters",
                            WITAN_VM_PARAM_COUNT_MAX);
        int e = parse_type(a, &t[i], 0, &params[(*param_count)++]);
        if (e)
            return e;
    }
    if (i + 2 != n)
        return asm_fail(a, "expected '-> RESULT' at the end of the signature");
    return parse_type(a, &t[i + 1], 1, result);
}

static int check_new_name(struct as *a, const struct tok *t, const char *what)
{
    if (!ident_ok(t))
        return asm_fail(a, "bad %s name", what);
    return 0;
}

/* A function's labels are contiguous; lookups scan only them, and their
 * number is bounded so that assembling stays near linear in the text. */
static int add_label(struct as *a, const struct tok *t, uint32_t func,
                     uint32_t offset)
{
    struct afunc *f = &a->funcs[func];
    if (f->label_count == 0)
        f->label_first = a->label_count;
    if (f->label_count == WITAN_VM_FUNC_WORDS_MAX)
        return asm_fail(a, "more than %d labels in one function",
                        WITAN_VM_FUNC_WORDS_MAX);
    for (uint32_t i = f->label_first; i < f->label_first + f->label_count; i++)
        if (sym_eq(&a->labels[i].s, t))
            return asm_fail(a, "label '%.*s' defined twice", (int)t->n, t->s);
    if (a->label_count == a->label_cap) {
        uint32_t cap = a->label_cap ? 2 * a->label_cap : 64;
        struct label *l = realloc(a->labels, cap * sizeof *l);
        if (!l)
            return WITAN_ENOMEM;
        a->labels = l;
        a->label_cap = cap;
    }
    struct label *l = &a->labels[a->label_count++];
    f->label_count++;
    sym_set(&l->s, t);
    l->func = func;
    l->offset = offset;
    return 0;
}

static int pass1_line(struct as *a, struct tok *t, int n, int *in_func)
{
    struct afunc *f = *in_func ? &a->funcs[a->func_count - 1] : NULL;
    if (tok_is(&t[0], ".int")) {
        int64_t v;
        if (n != 3 || check_new_name(a, &t[1], "constant") ||
            parse_int(&t[2], &v))
            return asm_fail(a, "expected .int NAME INTEGER");
        for (uint32_t i = 0; i < a->kint_count; i++)
            if (sym_eq(&a->kint_names[i], &t[1]))
                return asm_fail(a, "constant defined twice");
        if (a->kint_count == WITAN_VM_CONST_COUNT_MAX)
            return asm_fail(a, "too many int constants");
        sym_set(&a->kint_names[a->kint_count], &t[1]);
        a->kint[a->kint_count++] = v;
        return 0;
    }
    if (tok_is(&t[0], ".bytes")) {
        if (n != 3 || check_new_name(a, &t[1], "constant") || !t[2].str)
            return asm_fail(a, "expected .bytes NAME \"STRING\"");
        for (uint32_t i = 0; i < a->kb_count; i++)
            if (sym_eq(&a->kb[i].s, &t[1]))
                return asm_fail(a, "constant defined twice");
        if (a->kb_count == WITAN_VM_CONST_COUNT_MAX)
            return asm_fail(a, "too many bytes constants");
        struct kbytes *k = &a->kb[a->kb_count];
        k->data = malloc(t[2].n + 1);
        if (!k->data)
            return WITAN_ENOMEM;
        a->kb_count++;
        sym_set(&k->s, &t[1]);
        return unescape(a, &t[2], k->data, &k->size);
    }
    if (tok_is(&t[0], ".import")) {
        if (n < 2 || !vm_name_ok(t[1].s, t[1].str ? 0 : t[1].n))
            return asm_fail(a, "bad import name");
        for (uint32_t i = 0; i < a->import_count; i++)
            if (sym_eq(&a->imports[i].s, &t[1]))
                return asm_fail(a, "import declared twice");
        if (a->import_count == WITAN_VM_IMPORT_COUNT_MAX)
            return asm_fail(a, "too many imports");
        struct aimport *im = &a->imports[a->import_count++];
        sym_set(&im->s, &t[1]);
        return parse_sig(a, t, n, im->params, &im->param_count, &im->result);
    }
    if (tok_is(&t[0], ".func")) {
        if (*in_func)
            return asm_fail(a, ".func inside a function (missing .end)");
        if (n < 2 || check_new_name(a, &t[1], "function"))
            return asm_fail(a, "expected .func NAME TYPES -> RESULT");
        for (uint32_t i = 0; i < a->func_count; i++)
            if (sym_eq(&a->funcs[i].s, &t[1]))
                return asm_fail(a, "function defined twice");
        if (a->func_count == WITAN_VM_FUNC_COUNT_MAX)
            return asm_fail(a, "too many functions");
        f = &a->funcs[a->func_count++];
        sym_set(&f->s, &t[1]);
        int e = parse_sig(a, t, n, f->types, &f->param_count, &f->result);
        f->reg_count = f->param_count;
        *in_func = 1;
        return e;
    }
    if (tok_is(&t[0], ".regs")) {
        if (!f)
            return asm_fail(a, ".regs outside a function");
        for (int i = 1; i < n; i++) {
            if (f->reg_count == WITAN_VM_REG_COUNT_MAX)
                return asm_fail(a, "more than %d registers",
                                WITAN_VM_REG_COUNT_MAX);
            int e = parse_type(a, &t[i], 0, &f->types[f->reg_count++]);
            if (e)
                return e;
        }
        return 0;
    }
    if (tok_is(&t[0], ".end")) {
        if (!f || n != 1)
            return asm_fail(a, ".end without a function");
        *in_func = 0;
        return 0;
    }
    if (tok_is(&t[0], ".export")) {
        if (n != 3 || !vm_name_ok(t[1].s, t[1].str ? 0 : t[1].n) ||
            !ident_ok(&t[2]))
            return asm_fail(a, "expected .export NAME FUNCTION");
        for (uint32_t i = 0; i < a->export_count; i++)
            if (sym_eq(&a->exports[i].s, &t[1]))
                return asm_fail(a, "export declared twice");
        if (a->export_count == WITAN_VM_EXPORT_COUNT_MAX)
            return asm_fail(a, "too many exports");
        struct aexport *ex = &a->exports[a->export_count++];
        sym_set(&ex->s, &t[1]);
        memcpy(ex->func, t[2].s, t[2].n);
        ex->func[t[2].n] = 0;
        ex->line = a->line;
        return 0;
    }
    if (t[0].s[0] == '.')
        return asm_fail(a, "unknown directive '%.*s'", (int)t[0].n, t[0].s);
    if (!f)
        return asm_fail(a, "instruction or label outside a function");
    int i = 0;
    if (!t[0].str && t[0].n > 1 && t[0].s[t[0].n - 1] == ':') {
        struct tok l = t[0];
        l.n--;
        if (!ident_ok(&l))
            return asm_fail(a, "bad label name");
        int e = add_label(a, &l, a->func_count - 1, f->words);
        if (e)
            return e;
        i = 1;
    }
    if (i == n)
        return 0;
    int op = find_mnemonic(&t[i]);
    if (op < 0)
        return asm_fail(a, "unknown instruction '%.*s'", (int)t[i].n, t[i].s);
    if (f->words + vm_op_table[op].words > WITAN_VM_FUNC_WORDS_MAX)
        return asm_fail(a, "function over %d words", WITAN_VM_FUNC_WORDS_MAX);
    f->words += vm_op_table[op].words;
    return 0;
}

/* --- instructions (pass 2) ------------------------------------------------ */

static int reg_operand(struct as *a, const struct tok *t, uint32_t *r)
{
    int64_t v;
    if (t->str || t->n < 2 || t->s[0] != 'r')
        return asm_fail(a, "expected a register, got '%.*s'", (int)t->n, t->s);
    struct tok num = {t->s + 1, t->n - 1, 0};
    if (parse_int(&num, &v) || v < 0 || v > 255 || num.s[0] == '-' ||
        num.s[0] == '+')
        return asm_fail(a, "bad register '%.*s'", (int)t->n, t->s);
    *r = (uint32_t)v;
    return 0;
}

static int imm_operand(struct as *a, const struct tok *t, int64_t lo,
                       int64_t hi, uint32_t *out)
{
    int64_t v;
    if (parse_int(t, &v) || v < lo || v > hi)
        return asm_fail(a, "expected an integer in %lld..%lld",
                        (long long)lo, (long long)hi);
    *out = (uint32_t)((uint64_t)v & ((lo < 0 ? (uint64_t)hi * 2 + 1 : (uint64_t)hi)));
    return 0;
}

static int label_operand(struct as *a, const struct tok *t, uint32_t func,
                         int64_t *offset)
{
    const struct afunc *f = &a->funcs[func];
    for (uint32_t i = f->label_first; i < f->label_first + f->label_count; i++)
        if (sym_eq(&a->labels[i].s, t)) {
            *offset = a->labels[i].offset;
            return 0;
        }
    return asm_fail(a, "unknown label '%.*s'", (int)t->n, t->s);
}

static int kint_operand(struct as *a, const struct tok *t, uint32_t *idx)
{
    int64_t v;
    if (parse_int(t, &v) == 0) {
        for (uint32_t i = a->kint_declared; i < a->kint_count; i++)
            if (a->kint[i] == v) {
                *idx = i;
                return 0;
            }
        if (a->kint_count == WITAN_VM_CONST_COUNT_MAX)
            return asm_fail(a, "too many int constants");
        a->kint_names[a->kint_count].name[0] = 0;
        a->kint[a->kint_count] = v;
        *idx = a->kint_count++;
        return 0;
    }
    for (uint32_t i = 0; i < a->kint_declared; i++)
        if (sym_eq(&a->kint_names[i], t)) {
            *idx = i;
            return 0;
        }
    return asm_fail(a, "unknown int constant '%.*s'", (int)t->n, t->s);
}

static int kbytes_operand(struct as *a, const struct tok *t, uint32_t *idx)
{
    if (t->str) {
        uint8_t *data = malloc(t->n + 1);
        uint32_t size;
        if (!data)
            return WITAN_ENOMEM;
        int e = unescape(a, t, data, &size);
        if (e) {
            free(data);
            return e;
        }
        for (uint32_t i = a->kb_declared; i < a->kb_count; i++)
            if (a->kb[i].size == size &&
                (size == 0 || memcmp(a->kb[i].data, data, size) == 0)) {
                free(data);
                *idx = i;
                return 0;
            }
        if (a->kb_count == WITAN_VM_CONST_COUNT_MAX) {
            free(data);
            return asm_fail(a, "too many bytes constants");
        }
        a->kb[a->kb_count].s.name[0] = 0;
        a->kb[a->kb_count].data = data;
        a->kb[a->kb_count].size = size;
        *idx = a->kb_count++;
        return 0;
    }
    for (uint32_t i = 0; i < a->kb_declared; i++)
        if (sym_eq(&a->kb[i].s, t)) {
            *idx = i;
            return 0;
        }
    return asm_fail(a, "unknown bytes constant '%.*s'", (int)t->n, t->s);
}

static int encode(struct as *a, struct tok *t, int n, uint32_t fi,
                  uint32_t *pc)
{
    struct afunc *f = &a->funcs[fi];
    int op = find_mnemonic(&t[0]);
    WITAN_ASSERT(op >= 0);
    const struct vm_op_info *in = &vm_op_table[op];
    uint32_t field[3] = {0, 0, 0};
    int ti = 1, e = 0;
    int64_t target = -1;
    int wide = 0; /* B is a 16-bit field */
    for (int slot = 0; slot < 3 && !e; slot++) {
        int k = in->kind[slot];
        if (k == K_NONE)
            continue;
        if (ti >= n)
            return asm_fail(a, "%s: missing operand", in->mnemonic);
        const struct tok *o = &t[ti++];
        switch (k) {
        case K_RI:
        case K_RB:
        case K_RA:
        case K_RI2:
        case K_CALLA:
        case K_RET:
            e = reg_operand(a, o, &field[slot]);
            break;
        case K_I8:
            e = imm_operand(a, o, -128, 127, &field[slot]);
            break;
        case K_U8NZ:
            e = imm_operand(a, o, 0, 255, &field[slot]);
            break;
        case K_S16:
            e = imm_operand(a, o, -32768, 32767, &field[slot]);
            wide = 1;
            break;
        case K_J16:
        case K_J24:
            e = label_operand(a, o, fi, &target);
            wide = k == K_J16;
            break;
        case K_KI:
            e = kint_operand(a, o, &field[slot]);
            wide = 1;
            break;
        case K_KB:
            e = kbytes_operand(a, o, &field[slot]);
            wide = 1;
            break;
        case K_FN:
        case K_IMP: {
            uint32_t count = k == K_FN ? a->func_count : a->import_count;
            uint32_t i = 0;
            for (; i < count; i++)
                if (sym_eq(k == K_FN ? &a->funcs[i].s : &a->imports[i].s, o))
                    break;
            if (i == count)
                return asm_fail(a, "unknown %s '%.*s'",
                                k == K_FN ? "function" : "import", (int)o->n,
                                o->s);
            field[slot] = i;
            wide = 1;
            break;
        }
        }
    }
    if (e)
        return e;
    if (in->words == 2) {
        if (ti >= n)
            return asm_fail(a, "%s: missing label", in->mnemonic);
        if ((e = label_operand(a, &t[ti++], fi, &target)))
            return e;
    }
    if (ti != n)
        return asm_fail(a, "%s: too many operands", in->mnemonic);
    uint32_t w = (uint32_t)op;
    int64_t rel = target - (int64_t)(*pc + in->words);
    if (in->kind[0] == K_J24) {
        w |= ((uint32_t)rel & 0xffffffu) << 8;
    } else {
        w |= field[0] << 8;
        if (in->kind[1] == K_J16) {
            if (rel < -32768 || rel > 32767)
                return asm_fail(a, "jump too far for %s", in->mnemonic);
            w |= ((uint32_t)rel & 0xffffu) << 16;
        } else if (wide) {
            w |= field[1] << 16;
        } else {
            w |= field[1] << 16 | field[2] << 24;
        }
    }
    f->code[(*pc)++] = w;
    if (in->words == 2)
        f->code[(*pc)++] = (uint32_t)rel;
    return 0;
}

/* --- output ---------------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u8(struct buf *b, uint32_t v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}

static void put_u16(struct buf *b, uint32_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_name(struct buf *b, const char *name)
{
    put_u8(b, (uint32_t)strlen(name));
    put(b, name, strlen(name));
}

static int emit_module(struct as *a, struct buf *b)
{
    put(b, VM_MAGIC, VM_MAGIC_SIZE);
    put_u32(b, VM_VERSION);
    put_u16(b, a->kint_count);
    for (uint32_t i = 0; i < a->kint_count; i++) {
        uint64_t v = (uint64_t)a->kint[i];
        put_u32(b, (uint32_t)v);
        put_u32(b, (uint32_t)(v >> 32));
    }
    put_u16(b, a->kb_count);
    for (uint32_t i = 0; i < a->kb_count; i++) {
        put_u32(b, a->kb[i].size);
        put(b, a->kb[i].data, a->kb[i].size);
    }
    put_u16(b, a->import_count);
    for (uint32_t i = 0; i < a->import_count; i++) {
        put_name(b, a->imports[i].s.name);
        put_u8(b, a->imports[i].param_count);
        put(b, a->imports[i].params, a->imports[i].param_count);
        put_u8(b, a->imports[i].result);
    }
    put_u16(b, a->func_count);
    for (uint32_t i = 0; i < a->func_count; i++) {
        struct afunc *f = &a->funcs[i];
        put_u8(b, f->param_count);
        put_u8(b, f->result);
        put_u16(b, f->reg_count);
        put(b, f->types, f->reg_count);
        put_u32(b, f->words);
        for (uint32_t j = 0; j < f->words; j++)
            put_u32(b, f->code[j]);
    }
    put_u16(b, a->export_count);
    for (uint32_t i = 0; i < a->export_count; i++) {
        uint32_t fi = 0;
        for (; fi < a->func_count; fi++)
            if (strcmp(a->funcs[fi].s.name, a->exports[i].func) == 0)
                break;
        if (fi == a->func_count) {
            a->line = a->exports[i].line;
            return asm_fail(a, "export of unknown function '%s'",
                            a->exports[i].func);
        }
        put_name(b, a->exports[i].s.name);
        put_u16(b, fi);
    }
    return b->oom ? WITAN_ENOMEM : 0;
}

/* Runs fn over every line; fn returns 0 or an error. */
static int each_line(struct as *a, char *text, size_t size, int pass,
                     int *in_func, uint32_t *fi, uint32_t *pc)
{
    struct tok t[WITAN_VM_ASM_LINE_TOKEN_COUNT_MAX];
    char *p = text, *end = text + size;
    a->line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char saved = *le;
        *le = 0;
        a->line++;
        int n = 0, e = 0;
        if (strlen(p) != (size_t)(le - p))
            e = asm_fail(a, "NUL byte in text");
        if (!e)
            e = tokenize(a, p, t, &n);
        if (!e && n > 0) {
            if (pass == 1) {
                e = pass1_line(a, t, n, in_func);
            } else if (tok_is(&t[0], ".func")) {
                (*fi)++;
                *pc = 0;
            } else if (t[0].s[0] != '.' || t[0].str) {
                int i = (!t[0].str && t[0].s[t[0].n - 1] == ':') ? 1 : 0;
                if (i < n)
                    e = encode(a, t + i, n - i, *fi - 1, pc);
            }
        }
        *le = saved;
        if (e)
            return e;
        p = le + 1;
    }
    return 0;
}

int vm_assemble(const char *text, size_t size, uint8_t **out, size_t *out_size,
                vm_asm_error *err)
{
    vm_asm_error scratch;
    if (!err)
        err = &scratch;
    err->line = 0;
    err->message[0] = 0;
    if ((!text && size) || !out || !out_size)
        return WITAN_EINVAL;
    *out = NULL;
    *out_size = 0;
    if (size > WITAN_VM_ASM_TEXT_SIZE_MAX)
        return WITAN_ELIMIT;
    struct as a;
    memset(&a, 0, sizeof a);
    a.err = err;
    struct buf b = {0};
    char *copy = malloc(size + 1);
    a.kint_names = calloc(WITAN_VM_CONST_COUNT_MAX, sizeof *a.kint_names);
    a.kint = calloc(WITAN_VM_CONST_COUNT_MAX, sizeof *a.kint);
    a.kb = calloc(WITAN_VM_CONST_COUNT_MAX, sizeof *a.kb);
    a.imports = calloc(WITAN_VM_IMPORT_COUNT_MAX, sizeof *a.imports);
    a.funcs = calloc(WITAN_VM_FUNC_COUNT_MAX, sizeof *a.funcs);
    a.exports = calloc(WITAN_VM_EXPORT_COUNT_MAX, sizeof *a.exports);
    int e = 0;
    if (!copy || !a.kint_names || !a.kint || !a.kb || !a.imports || !a.funcs ||
        !a.exports) {
        e = WITAN_ENOMEM;
        goto done;
    }
    if (size)
        memcpy(copy, text, size);
    copy[size] = 0;
    int in_func = 0;
    uint32_t fi = 0, pc = 0;
    if ((e = each_line(&a, copy, size, 1, &in_func, &fi, &pc)))
        goto done;
    if (in_func) {
        e = asm_fail(&a, "missing .end at the end of the text");
        goto done;
    }
    a.kint_declared = a.kint_count;
    a.kb_declared = a.kb_count;
    for (uint32_t i = 0; i < a.func_count; i++) {
        a.funcs[i].code = calloc(a.funcs[i].words + 1, sizeof(uint32_t));
        if (!a.funcs[i].code) {
            e = WITAN_ENOMEM;
            goto done;
        }
    }
    if ((e = each_line(&a, copy, size, 2, &in_func, &fi, &pc)) ||
        (e = emit_module(&a, &b)))
        goto done;
    vm_module *m = NULL;
    vm_verify_error verr;
    e = vm_module_load(b.p, b.n, NULL, &m, &verr);
    vm_module_free(m);
    if (e == WITAN_EVERIFY) {
        err->line = 0;
        snprintf(err->message, sizeof err->message,
                 "module does not verify: %s at byte %u",
                 vm_verify_reason_text(verr.reason), verr.offset);
    }
done:
    free(copy);
    for (uint32_t i = 0; a.funcs && i < a.func_count; i++)
        free(a.funcs[i].code);
    for (uint32_t i = 0; a.kb && i < a.kb_count; i++)
        free(a.kb[i].data);
    free(a.kint_names);
    free(a.kint);
    free(a.kb);
    free(a.imports);
    free(a.funcs);
    free(a.exports);
    free(a.labels);
    if (e) {
        free(b.p);
        return e;
    }
    *out = b.p;
    *out_size = b.n;
    return 0;
}
