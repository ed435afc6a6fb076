/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract language compiler (spec/language.md): lexer, recursive-descent
 * parser, type checker and code generator in one pass each over one source
 * file. The tree lives in an arena freed at the end of a compilation; the
 * only outputs are the module bytes, the source map text and the rendered
 * diagnostics. Everything that decides an output byte depends on the source
 * alone, in source order, so a version gives the same bytes everywhere.
 */
#include "contracts/lang/lang.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "contracts/contracts.h"
#include "vm/vm.h"

/* ------------------------------------------------------------------ tokens */

enum tok {
    T_EOF, T_IDENT, T_INT, T_DEC, T_STR,
    /* keywords, in the order of kw_names */
    K_AND, K_AT, K_BOOL, K_BYTES, K_CLEAR, K_CONST, K_CONTRACT, K_DEC, K_ELSE,
    K_ENTRY, K_FALSE, K_FEED, K_FN, K_FOR, K_FROM, K_IF, K_IN, K_INPUT, K_INT,
    K_LABEL, K_LET, K_MODEL, K_NOT, K_ON, K_OR, K_OUTPUT, K_PREDICTION,
    K_RETURN, K_STORE, K_TEXT, K_TRUE, K_VALUE, K_VERSION, K_WINDOW,
    /* punctuation */
    P_LPAREN, P_RPAREN, P_LBRACE, P_RBRACE, P_LBRACK, P_RBRACK, P_COMMA,
    P_SEMI, P_COLON, P_DOT, P_DOTDOT, P_ARROW, P_ASSIGN, P_EQ, P_NE, P_LT,
    P_LE, P_GT, P_GE, P_PLUS, P_MINUS, P_STAR, P_SLASH, P_PERCENT,
    T_COUNT_
};

static const char *const kw_names[] = {
    "and", "at", "bool", "bytes", "clear", "const", "contract", "dec", "else",
    "entry", "false", "feed", "fn", "for", "from", "if", "in", "input", "int",
    "label", "let", "model", "not", "on", "or", "output", "prediction",
    "return", "store", "text", "true", "value", "version", "window"};

static const char *const punct_names[] = {
    "(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "..", "->", "=", "==",
    "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"};

struct token {
    int kind;
    uint32_t line, col;
    uint32_t start, len; /* in the source */
    int64_t ival;        /* T_INT value, T_DEC mantissa */
    uint32_t scale;      /* T_DEC */
    char *str;           /* T_STR bytes (arena), T_IDENT name (arena, NUL) */
    uint32_t str_len;
};

/* ------------------------------------------------------------------- types */

enum tkind { TY_ERR, TY_VOID, TY_NUM, TY_BOOL, TY_BYTES, TY_WIN };

typedef struct ty {
    uint8_t k;
    uint8_t scale; /* TY_NUM: 0 int, else dec(scale); TY_WIN: element's */
} ty;

static const ty ty_err = {TY_ERR, 0}, ty_void = {TY_VOID, 0},
                ty_int = {TY_NUM, 0}, ty_bool = {TY_BOOL, 0},
                ty_bytes = {TY_BYTES, 0};

static bool ty_eq(ty a, ty b) { return a.k == b.k && a.scale == b.scale; }
static int ty_vm(ty t) { return t.k == TY_BYTES || t.k == TY_WIN ? 2 : 1; }

static void ty_name(ty t, char *buf, size_t n)
{
    switch (t.k) {
    case TY_NUM:
        if (t.scale)
            snprintf(buf, n, "dec(%u)", t.scale);
        else
            snprintf(buf, n, "int");
        return;
    case TY_BOOL: snprintf(buf, n, "bool"); return;
    case TY_BYTES: snprintf(buf, n, "bytes"); return;
    case TY_WIN:
        if (t.scale)
            snprintf(buf, n, "window(dec(%u))", t.scale);
        else
            snprintf(buf, n, "window(int)");
        return;
    case TY_VOID: snprintf(buf, n, "nothing"); return;
    default: snprintf(buf, n, "?"); return;
    }
}

/* ------------------------------------------------------------------- nodes */

enum nkind {
    /* expressions */
    E_INT, E_DEC, E_STR, E_BOOL, E_NAME, E_CALL, E_MEMBER, E_INDEX, E_BIN,
    E_NEG, E_NOT, E_AND, E_OR,
    /* statements */
    S_LET, S_ASSIGN, S_CLEAR, S_IF, S_FOR, S_FORW, S_RETURN, S_EXPR, S_BLOCK
};

/* What a name resolved to (set by the checker, read by the generator). */
enum ref {
    R_NONE, R_LOCAL, R_CONST, R_STORE, R_LABEL, R_FN, R_BUILTIN, R_PRED,
    R_FEED
};

struct node {
    uint8_t kind;
    uint8_t op; /* E_BIN: the punctuation token */
    uint8_t ref;
    bool has_args; /* E_MEMBER with (...) */
    uint32_t line, col;
    struct node *a, *b, *c; /* children; lists through next */
    struct node *next;
    const char *name; /* E_NAME, E_CALL, E_MEMBER, S_LET, S_ASSIGN, S_FOR* */
    int64_t ival;     /* literals: mantissa; E_BOOL 0/1 */
    uint32_t scale;
    const uint8_t *str;
    uint32_t str_len;
    ty decl; /* S_LET declared type (TY_ERR when absent) */
    ty t;    /* checked type */
    int sym; /* R_LOCAL: local index; R_CONST/R_STORE/...: global index */
    int aux; /* builtin id, pred field, ... */
};

/* -------------------------------------------------------------- globals */

enum gkind { G_CONST, G_STORE, G_LABEL, G_FEED, G_FN, G_ENTRY, G_BUILTIN };

enum builtin {
    B_LEN, B_SLICE, B_CAT, B_BYTES_OF, B_INT_OF, B_RESCALE, B_HEIGHT, B_TIME,
    B_SELF_ID, B_CALLER, B_SCORE, B_DECIDE, B_EMIT, B_ABORT, B_COUNT_
};
static const char *const builtin_names[B_COUNT_] = {
    "len", "slice", "cat", "bytes_of", "int_of", "rescale", "height", "time",
    "self_id", "caller", "score", "decide", "emit", "abort"};

#define LANG_PARAM_COUNT_MAX (WITAN_VM_PARAM_COUNT_MAX - 1)
#define LANG_GLOBAL_COUNT_MAX 1024
#define LANG_LOCAL_COUNT_MAX 256
#define LANG_FUNC_COUNT_MAX WITAN_VM_FUNC_COUNT_MAX
#define LANG_PRED_COUNT_MAX 256 /* named outputs and inputs */
#define LANG_INDEX_MAX 1023     /* an output or input index */
#define LANG_LABEL_COUNT_MAX 4096
#define LANG_SCALE_MAX 18
#define LANG_VALUE_COUNT_MAX WITAN_DECISION_VALUE_COUNT_MAX

struct func {
    int kind; /* G_FN, G_ENTRY, or -1 for the handler */
    const char *name;
    uint32_t line, col;
    uint32_t param_count;
    const char *pnames[LANG_PARAM_COUNT_MAX];
    ty ptypes[LANG_PARAM_COUNT_MAX];
    uint32_t pline[LANG_PARAM_COUNT_MAX], pcol[LANG_PARAM_COUNT_MAX];
    ty result;
    bool hidden; /* a hidden first parameter carries the result */
    struct node *body;
    uint32_t index; /* in the module */
    uint32_t end_line, end_col;
};

struct global {
    int kind;
    const char *name;
    uint32_t line, col;
    ty t;
    bool is_map;
    int64_t ival;          /* G_CONST numeric value, G_LABEL */
    const uint8_t *str;    /* G_CONST bytes, G_FEED feed name */
    uint32_t str_len;
    const uint8_t *str2;   /* G_FEED value name */
    uint32_t str2_len;
    struct func *fn;       /* G_FN, G_ENTRY */
    struct node *init;     /* G_CONST, until checked */
    int builtin;
};

struct pred_name {
    const char *name;
    bool input;
    uint32_t index;
    ty t;
};

struct local {
    const char *name;
    ty t;
    int reg;
    bool readonly;
    int depth;
};

/* ------------------------------------------------------------ generation */

#define OP_NOP 0
#define OP_MOV 1
#define OP_LDI 2
#define OP_LDK 3
#define OP_LDS 4
#define OP_ADD 5
#define OP_SUB 6
#define OP_MUL 7
#define OP_DIV 8
#define OP_MOD 9
#define OP_ADDI 10
#define OP_MULI 11
#define OP_DIVI 12
#define OP_NEG 14
#define OP_XOR 17
#define OP_EQ 21
#define OP_NE 22
#define OP_LT 23
#define OP_LE 24
#define OP_JMP 25
#define OP_JZ 26
#define OP_JNZ 27
#define OP_JEQ 28
#define OP_JNE 29
#define OP_JLT 30
#define OP_JLE 31
#define OP_JEQI 32
#define OP_JNEI 33
#define OP_JLTI 34
#define OP_JLEI 35
#define OP_JGTI 36
#define OP_JGEI 37
#define OP_CALL 39
#define OP_HOST 40
#define OP_RET 41
#define OP_RETV 42
#define OP_ABORT 43
#define OP_BLEN 44
#define OP_BGET 45
#define OP_BEQ 46
#define OP_BCAT 48
#define OP_BSUB 49
#define OP_ITOB 50
#define OP_BTOI 51

/* The host functions of contracts/runtime.c, by the order of its table. */
enum host_fn {
    H_PRED_STATUS, H_PRED_MODEL, H_PRED_SUBJECT, H_PRED_LABEL,
    H_PRED_COMPUTED, H_PRED_OUTPUT_COUNT, H_PRED_OUTPUT, H_PRED_INPUT_COUNT,
    H_PRED_INPUT, H_PRED_INPUT_TXS, H_FEED_LATEST, H_FEED_WINDOW, H_STORE_GET,
    H_STORE_PUT, H_STORE_DEL, H_DECIDE, H_EMIT, H_MODEL_SCORE,
    H_BLOCK_HEIGHT, H_BLOCK_TIME, H_SELF_ID, H_CALLER, H_COUNT_
};
static const char *const host_names[H_COUNT_] = {
    "pred_status", "pred_model", "pred_subject", "pred_label",
    "pred_computed", "pred_output_count", "pred_output", "pred_input_count",
    "pred_input", "pred_input_txs", "feed_latest", "feed_window", "store_get",
    "store_put", "store_del", "decide", "emit", "model_score",
    "block_height", "block_time", "self_id", "caller"};

#define LANG_LABEL_MAX 8192
#define LANG_FIXUP_MAX 16384
#define LANG_MAP_ENTRY_MAX 8192

struct fixup {
    uint32_t at;    /* the jumping instruction's first word */
    uint32_t label;
    uint8_t form;   /* 0: sJ, 1: Bx, 2: second word */
};

struct fgen {
    uint32_t words[WITAN_VM_FUNC_WORDS_MAX];
    uint32_t nwords;
    uint8_t regtype[WITAN_VM_REG_COUNT_MAX];
    bool used[WITAN_VM_REG_COUNT_MAX];
    uint32_t nregs;
    int32_t labels[LANG_LABEL_MAX];
    uint32_t nlabels;
    struct fixup fix[LANG_FIXUP_MAX];
    uint32_t nfix;
    uint32_t host_at[WITAN_VM_FUNC_WORDS_MAX]; /* words holding host imports */
    uint32_t nhost;
    uint32_t cur_line, cur_col, map_line, map_col;
    bool failed;
};

struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

/* -------------------------------------------------------------- compiler */

#define ARENA_CHUNK (64 * 1024)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    _Alignas(16) uint8_t data[ARENA_CHUNK];
};

struct lc {
    const char *file;
    const char *src;
    size_t size;
    /* lexer */
    size_t pos;
    uint32_t line, col;
    struct token tok;
    /* diagnostics */
    struct buf err;
    uint32_t errors;
    bool too_many;
    bool oom;
    /* arena */
    struct arena_chunk *arena;
    uint32_t nodes;
    int depth;
    /* program */
    bool have_header;
    struct global globals[LANG_GLOBAL_COUNT_MAX];
    uint32_t nglobals;
    struct pred_name preds[LANG_PRED_COUNT_MAX];
    uint32_t npreds;
    struct func *funcs[LANG_FUNC_COUNT_MAX];
    uint32_t nfuncs;
    struct func *handler;
    const char *pred_var; /* the handler's parameter name */
    /* checking */
    struct func *cur;
    uint32_t edepth; /* check_expr recursion */
    bool edeep;
    struct local locals[LANG_LOCAL_COUNT_MAX];
    uint32_t nlocals;
    int scope;
    /* generation */
    struct fgen *g;
    int64_t ints[WITAN_VM_CONST_COUNT_MAX];
    uint32_t nints;
    const uint8_t *strs[WITAN_VM_CONST_COUNT_MAX];
    uint32_t str_lens[WITAN_VM_CONST_COUNT_MAX];
    uint32_t nstrs;
    bool host_used[H_COUNT_];
    struct buf code; /* the functions section, host imports unpatched */
    struct buf map;
    uint32_t host_fix[WITAN_VM_FUNC_COUNT_MAX * 64]; /* code offsets */
    uint32_t nhost_fix;
    bool gen_failed;
};

static void *arena_alloc(struct lc *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > ARENA_CHUNK)
        return NULL;
    if (!c->arena || c->arena->used + n > ARENA_CHUNK) {
        struct arena_chunk *k = malloc(sizeof *k);
        if (!k) {
            c->oom = true;
            return NULL;
        }
        k->next = c->arena;
        k->used = 0;
        c->arena = k;
    }
    void *p = c->arena->data + c->arena->used;
    c->arena->used += n;
    memset(p, 0, n);
    return p;
}

static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void buf_u8(struct buf *b, uint32_t v)
{
    uint8_t x = (uint8_t)v;
    buf_put(b, &x, 1);
}
static void buf_u16(struct buf *b, uint32_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}
static void buf_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    buf_put(b, x, 4);
}

/* ------------------------------------------------------------ diagnostics */

int lang_source_line(const char *src, size_t size, uint32_t line,
                     const char **start, size_t *len)
{
    if (!src || !start || !len || line == 0)
        return WITAN_EINVAL;
    size_t at = 0;
    for (uint32_t l = 1; l < line; l++) {
        const char *nl = memchr(src + at, '\n', size - at);
        if (!nl)
            return WITAN_ENOTFOUND;
        at = (size_t)(nl - src) + 1;
    }
    if (at > size || (at == size && line > 1 && size && src[size - 1] == '\n'))
        return WITAN_ENOTFOUND;
    const char *nl = memchr(src + at, '\n', size - at);
    *start = src + at;
    *len = nl ? (size_t)(nl - (src + at)) : size - at;
    return 0;
}

int lang_trap_source(const uint8_t *map, size_t map_size, const char *src,
                     uint32_t func, uint32_t word, uint32_t *line,
                     uint32_t *col, const char **text, size_t *len)
{
    if (!map || !map_size || !src)
        return WITAN_ENOTFOUND;
    int err = lang_map_lookup((const char *)map, map_size, func, word, line,
                              col);
    return err ? err : lang_source_line(src, strlen(src), *line, text, len);
}

static void error_at(struct lc *c, uint32_t line, uint32_t col,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void error_at(struct lc *c, uint32_t line, uint32_t col,
                     const char *fmt, ...)
{
    if (c->errors >= LANG_ERROR_COUNT_MAX) {
        c->too_many = true;
        c->errors++;
        return;
    }
    c->errors++;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_printf(&c->err, "%s:%u:%u: error: %s\n", c->file, line, col, msg);
    const char *s;
    size_t n;
    if (lang_source_line(c->src, c->size, line, &s, &n) == 0) {
        if (n > 200)
            n = 200;
        buf_printf(&c->err, "    ");
        buf_put(&c->err, s, n);
        buf_printf(&c->err, "\n    ");
        /* Tabs stay tabs so the caret lines up in a terminal. */
        for (uint32_t i = 1; i < col && i - 1 < n; i++)
            buf_put(&c->err, s[i - 1] == '\t' ? "\t" : " ", 1);
        buf_printf(&c->err, "^\n");
    }
}

/* ------------------------------------------------------------------ lexer */

static bool is_id0(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static bool is_digit(int ch) { return ch >= '0' && ch <= '9'; }

static int cur_ch(struct lc *c, size_t off)
{
    return c->pos + off < c->size ? (unsigned char)c->src[c->pos + off] : -1;
}

static void advance(struct lc *c, size_t n)
{
    for (size_t i = 0; i < n && c->pos < c->size; i++) {
        if (c->src[c->pos] == '\n') {
            c->line++;
            c->col = 1;
        } else {
            c->col++;
        }
        c->pos++;
    }
}

static void tok_desc(const struct token *t, char *buf, size_t n)
{
    if (t->kind == T_EOF)
        snprintf(buf, n, "end of file");
    else if (t->kind == T_IDENT)
        snprintf(buf, n, "'%s'", t->str);
    else if (t->kind == T_INT || t->kind == T_DEC)
        snprintf(buf, n, "number");
    else if (t->kind == T_STR)
        snprintf(buf, n, "string");
    else if (t->kind >= K_AND && t->kind <= K_WINDOW)
        snprintf(buf, n, "'%s'", kw_names[t->kind - K_AND]);
    else
        snprintf(buf, n, "'%s'", punct_names[t->kind - P_LPAREN]);
}

static void lex_number(struct lc *c, struct token *t)
{
    uint64_t v = 0;
    bool over = false;
    while (is_digit(cur_ch(c, 0))) {
        int d = cur_ch(c, 0) - '0';
        if (v > ((uint64_t)INT64_MAX - (uint64_t)d) / 10)
            over = true;
        else
            v = v * 10 + (uint64_t)d;
        advance(c, 1);
    }
    t->kind = T_INT;
    if (cur_ch(c, 0) == '.' && is_digit(cur_ch(c, 1))) {
        advance(c, 1);
        uint32_t scale = 0;
        while (is_digit(cur_ch(c, 0))) {
            int d = cur_ch(c, 0) - '0';
            if (v > ((uint64_t)INT64_MAX - (uint64_t)d) / 10)
                over = true;
            else
                v = v * 10 + (uint64_t)d;
            scale++;
            advance(c, 1);
        }
        t->kind = T_DEC;
        t->scale = scale;
        if (scale > LANG_SCALE_MAX) {
            error_at(c, t->line, t->col, "decimal with more than 18 places");
            t->scale = LANG_SCALE_MAX;
        } else if (over) {
            error_at(c, t->line, t->col, "literal out of range");
        }
    } else if (over) {
        error_at(c, t->line, t->col, "integer out of range");
    }
    t->ival = (int64_t)v;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void lex_string(struct lc *c, struct token *t)
{
    uint8_t tmp[LANG_STRING_SIZE_MAX];
    uint32_t n = 0;
    bool over = false, bad = false;
    advance(c, 1);
    for (;;) {
        int ch = cur_ch(c, 0);
        if (ch < 0 || ch == '\n') {
            error_at(c, t->line, t->col, "unterminated string");
            break;
        }
        if (ch == '"') {
            advance(c, 1);
            break;
        }
        int out = ch;
        if (ch == '\\') {
            int e = cur_ch(c, 1);
            if (e == '\\' || e == '"')
                out = e, advance(c, 2);
            else if (e == 'n')
                out = '\n', advance(c, 2);
            else if (e == 't')
                out = '\t', advance(c, 2);
            else if (e == 'x' && hexval(cur_ch(c, 2)) >= 0 &&
                     hexval(cur_ch(c, 3)) >= 0)
                out = hexval(cur_ch(c, 2)) * 16 + hexval(cur_ch(c, 3)),
                advance(c, 4);
            else {
                if (!bad)
                    error_at(c, c->line, c->col, "bad escape in string");
                bad = true;
                advance(c, 1);
                continue;
            }
        } else {
            advance(c, 1);
        }
        if (n == LANG_STRING_SIZE_MAX)
            over = true;
        else
            tmp[n++] = (uint8_t)out;
    }
    if (over)
        error_at(c, t->line, t->col, "string over 1024 bytes");
    uint8_t *s = arena_alloc(c, n + 1);
    if (s)
        memcpy(s, tmp, n);
    t->kind = T_STR;
    t->str = (char *)s;
    t->str_len = s ? n : 0;
}

static void lex(struct lc *c, struct token *t)
{
again:
    for (;;) {
        int ch = cur_ch(c, 0);
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            advance(c, 1);
        } else if (ch == '/' && cur_ch(c, 1) == '/') {
            while (cur_ch(c, 0) >= 0 && cur_ch(c, 0) != '\n')
                advance(c, 1);
        } else {
            break;
        }
    }
    memset(t, 0, sizeof *t);
    t->line = c->line;
    t->col = c->col;
    t->start = (uint32_t)c->pos;
    int ch = cur_ch(c, 0);
    if (ch < 0) {
        t->kind = T_EOF;
    } else if (is_id0(ch)) {
        size_t n = 0;
        while (is_id0(cur_ch(c, n)) || is_digit(cur_ch(c, n)))
            n++;
        if (n > LANG_IDENT_SIZE_MAX)
            error_at(c, t->line, t->col, "identifier over 32 bytes");
        t->kind = T_IDENT;
        for (size_t k = 0; k < sizeof kw_names / sizeof kw_names[0]; k++)
            if (strlen(kw_names[k]) == n &&
                memcmp(kw_names[k], c->src + c->pos, n) == 0)
                t->kind = K_AND + (int)k;
        if (t->kind == T_IDENT) {
            char *s = arena_alloc(c, n + 1);
            if (s)
                memcpy(s, c->src + c->pos, n);
            t->str = s ? s : (char *)"";
            t->str_len = (uint32_t)n;
        }
        advance(c, n);
    } else if (is_digit(ch)) {
        lex_number(c, t);
    } else if (ch == '"') {
        lex_string(c, t);
    } else {
        /* Longest punctuation first. */
        int best = -1;
        size_t best_len = 0;
        for (size_t k = 0; k < sizeof punct_names / sizeof punct_names[0]; k++) {
            size_t n = strlen(punct_names[k]);
            if (n > best_len && c->pos + n <= c->size &&
                memcmp(punct_names[k], c->src + c->pos, n) == 0) {
                best = (int)k;
                best_len = n;
            }
        }
        if (best < 0) {
            if (ch >= 0x21 && ch < 0x7f)
                error_at(c, t->line, t->col, "unexpected character '%c'", ch);
            else
                error_at(c, t->line, t->col,
                         "unexpected character '\\x%02x'", ch);
            advance(c, 1);
            goto again;
        }
        t->kind = P_LPAREN + best;
        advance(c, best_len);
    }
    t->len = (uint32_t)(c->pos - t->start);
}

static void next(struct lc *c) { lex(c, &c->tok); }

/* ----------------------------------------------------------------- parser */

static struct node *new_node(struct lc *c, int kind, uint32_t line,
                             uint32_t col)
{
    if (c->nodes >= LANG_NODE_COUNT_MAX) {
        if (c->nodes == LANG_NODE_COUNT_MAX)
            error_at(c, line, col, "program over 65536 syntax-tree nodes");
        c->nodes++;
        return NULL;
    }
    struct node *n = arena_alloc(c, sizeof *n);
    if (!n)
        return NULL;
    c->nodes++;
    n->kind = (uint8_t)kind;
    n->line = line;
    n->col = col;
    n->t = ty_err;
    n->decl = ty_err;
    return n;
}

static bool accept(struct lc *c, int kind)
{
    if (c->tok.kind != kind)
        return false;
    next(c);
    return true;
}

static bool expect(struct lc *c, int kind, const char *what)
{
    if (c->tok.kind == kind) {
        next(c);
        return true;
    }
    char found[64];
    tok_desc(&c->tok, found, sizeof found);
    if (!what)
        what = kind >= P_LPAREN ? punct_names[kind - P_LPAREN]
                                : kw_names[kind - K_AND];
    error_at(c, c->tok.line, c->tok.col, "expected '%s', found %s", what,
             found);
    return false;
}

static void expected(struct lc *c, const char *what)
{
    char found[64];
    tok_desc(&c->tok, found, sizeof found);
    error_at(c, c->tok.line, c->tok.col, "expected %s, found %s", what, found);
}

static bool parse_numtype(struct lc *c, ty *out)
{
    if (accept(c, K_INT)) {
        *out = ty_int;
        return true;
    }
    if (c->tok.kind == K_DEC) {
        next(c);
        if (!expect(c, P_LPAREN, NULL))
            return false;
        if (c->tok.kind != T_INT) {
            expected(c, "a scale (0-18)");
            return false;
        }
        if (c->tok.ival > LANG_SCALE_MAX) {
            error_at(c, c->tok.line, c->tok.col,
                     "dec scale %lld out of range (0-18)",
                     (long long)c->tok.ival);
            out->scale = 0;
        } else {
            out->scale = (uint8_t)c->tok.ival;
        }
        out->k = TY_NUM;
        next(c);
        return expect(c, P_RPAREN, NULL);
    }
    expected(c, "a number type (int or dec(N))");
    return false;
}

static bool parse_type(struct lc *c, ty *out)
{
    if (accept(c, K_BOOL)) {
        *out = ty_bool;
        return true;
    }
    if (accept(c, K_BYTES) || accept(c, K_TEXT)) {
        *out = ty_bytes;
        return true;
    }
    if (c->tok.kind == K_WINDOW) {
        next(c);
        ty e;
        if (!expect(c, P_LPAREN, NULL) || !parse_numtype(c, &e) ||
            !expect(c, P_RPAREN, NULL))
            return false;
        out->k = TY_WIN;
        out->scale = e.scale;
        return true;
    }
    if (c->tok.kind == K_INT || c->tok.kind == K_DEC)
        return parse_numtype(c, out);
    expected(c, "a type");
    return false;
}

static struct node *parse_expr(struct lc *c);

/* Reads "(" [expr {"," expr}] ")" into *list; false on a syntax error. */
static bool parse_args(struct lc *c, struct node **list)
{
    next(c);
    struct node *head = NULL, **tail = &head;
    if (c->tok.kind != P_RPAREN) {
        for (;;) {
            struct node *e = parse_expr(c);
            if (!e)
                return false;
            *tail = e;
            tail = &e->next;
            if (!accept(c, P_COMMA))
                break;
        }
    }
    if (!expect(c, P_RPAREN, "')' or ','"))
        return false;
    *list = head;
    return true;
}

static struct node *parse_primary(struct lc *c)
{
    struct token t = c->tok;
    struct node *n;
    switch (t.kind) {
    case T_INT:
    case T_DEC:
        n = new_node(c, t.kind == T_INT ? E_INT : E_DEC, t.line, t.col);
        if (!n)
            return NULL;
        n->ival = t.ival;
        n->scale = t.kind == T_DEC ? t.scale : 0;
        next(c);
        return n;
    case T_STR:
        n = new_node(c, E_STR, t.line, t.col);
        if (!n)
            return NULL;
        n->str = (const uint8_t *)t.str;
        n->str_len = t.str_len;
        next(c);
        return n;
    case K_TRUE:
    case K_FALSE:
        n = new_node(c, E_BOOL, t.line, t.col);
        if (!n)
            return NULL;
        n->ival = t.kind == K_TRUE;
        next(c);
        return n;
    case T_IDENT:
        next(c);
        if (c->tok.kind == P_LPAREN) {
            n = new_node(c, E_CALL, t.line, t.col);
            if (!n)
                return NULL;
            n->name = t.str;
            return parse_args(c, &n->a) ? n : NULL;
        }
        n = new_node(c, E_NAME, t.line, t.col);
        if (!n)
            return NULL;
        n->name = t.str;
        return n;
    case P_LPAREN: {
        next(c);
        struct node *e = parse_expr(c);
        if (!e || !expect(c, P_RPAREN, NULL))
            return NULL;
        return e;
    }
    default:
        expected(c, "an expression");
        return NULL;
    }
}

static struct node *parse_postfix(struct lc *c)
{
    struct node *e = parse_primary(c);
    while (e) {
        if (c->tok.kind == P_DOT) {
            next(c);
            /* Keywords name fields too: p.model, p.label. */
            bool kw = c->tok.kind >= K_AND && c->tok.kind <= K_WINDOW;
            if (c->tok.kind != T_IDENT && !kw) {
                expected(c, "a name after '.'");
                return NULL;
            }
            struct node *m = new_node(c, E_MEMBER, c->tok.line, c->tok.col);
            if (!m)
                return NULL;
            m->name = kw ? kw_names[c->tok.kind - K_AND] : c->tok.str;
            m->a = e;
            next(c);
            if (c->tok.kind == P_LPAREN) {
                m->has_args = true;
                if (!parse_args(c, &m->b))
                    return NULL;
            }
            e = m;
        } else if (c->tok.kind == P_LBRACK) {
            struct node *x = new_node(c, E_INDEX, c->tok.line, c->tok.col);
            if (!x)
                return NULL;
            next(c);
            x->a = e;
            x->b = parse_expr(c);
            if (!x->b || !expect(c, P_RBRACK, NULL))
                return NULL;
            e = x;
        } else {
            break;
        }
    }
    return e;
}

static struct node *parse_unary(struct lc *c)
{
    if (c->tok.kind == P_MINUS) {
        struct token t = c->tok;
        next(c);
        if (++c->depth > LANG_NEST_MAX) {
            error_at(c, t.line, t.col, "nesting over 64 levels");
            return NULL;
        }
        struct node *a = parse_unary(c);
        c->depth--;
        if (!a)
            return NULL;
        if ((a->kind == E_INT || a->kind == E_DEC) && !a->has_args) {
            /* A negated literal is still a literal (widened like one). */
            a->ival = -a->ival;
            a->line = t.line;
            a->col = t.col;
            return a;
        }
        struct node *n = new_node(c, E_NEG, t.line, t.col);
        if (!n)
            return NULL;
        n->a = a;
        return n;
    }
    return parse_postfix(c);
}

static struct node *parse_binary(struct lc *c, int level);

static struct node *bin_node(struct lc *c, int kind, int op,
                             const struct token *t, struct node *a,
                             struct node *b)
{
    struct node *n = new_node(c, kind, t->line, t->col);
    if (!n)
        return NULL;
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    return n;
}

/* Levels: 0 or, 1 and, 2 not, 3 comparison, 4 + -, 5 * / %. */
static struct node *parse_binary(struct lc *c, int level)
{
    struct node *r = NULL;
    if (level == 2) {
        if (c->tok.kind == K_NOT) {
            struct token t = c->tok;
            next(c);
            struct node *a = parse_binary(c, 2);
            r = a ? bin_node(c, E_NOT, 0, &t, a, NULL) : NULL;
        } else {
            r = parse_binary(c, 3);
        }
    } else if (level == 6) {
        r = parse_unary(c);
    } else {
        r = parse_binary(c, level + 1);
        while (r) {
            int k = c->tok.kind;
            bool match =
                (level == 0 && k == K_OR) || (level == 1 && k == K_AND) ||
                (level == 3 && k >= P_EQ && k <= P_GE) ||
                (level == 4 && (k == P_PLUS || k == P_MINUS)) ||
                (level == 5 && (k == P_STAR || k == P_SLASH || k == P_PERCENT));
            if (!match)
                break;
            struct token t = c->tok;
            next(c);
            struct node *b = parse_binary(c, level + 1);
            if (!b) {
                r = NULL;
                break;
            }
            r = bin_node(c, level == 0 ? E_OR : level == 1 ? E_AND : E_BIN, k,
                         &t, r, b);
            if (level == 3) {
                if (r && c->tok.kind >= P_EQ && c->tok.kind <= P_GE) {
                    error_at(c, c->tok.line, c->tok.col,
                             "comparisons do not chain");
                    r = NULL;
                }
                break;
            }
        }
    }
    return r;
}

/* Nesting (parentheses, arguments, indexes, blocks, else-if) is bounded so
 * that every recursion over the tree is. */
static struct node *parse_expr(struct lc *c)
{
    if (++c->depth > LANG_NEST_MAX) {
        error_at(c, c->tok.line, c->tok.col, "nesting over 64 levels");
        c->depth--;
        return NULL;
    }
    struct node *r = parse_binary(c, 0);
    c->depth--;
    return r;
}

static struct node *parse_block(struct lc *c);

/* Skips to the end of the statement after a syntax error. */
static void sync_stmt(struct lc *c)
{
    int depth = 0;
    while (c->tok.kind != T_EOF) {
        if (c->tok.kind == P_LBRACE)
            depth++;
        if (c->tok.kind == P_RBRACE) {
            if (depth == 0)
                return;
            depth--;
            if (depth == 0) {
                next(c);
                return;
            }
        }
        if (c->tok.kind == P_SEMI && depth == 0) {
            next(c);
            return;
        }
        next(c);
    }
}

static struct node *parse_if(struct lc *c)
{
    struct node *n = new_node(c, S_IF, c->tok.line, c->tok.col);
    if (n && c->depth >= LANG_NEST_MAX) {
        error_at(c, n->line, n->col, "nesting over 64 levels");
        return NULL;
    }
    next(c);
    if (!n)
        return NULL;
    n->a = parse_expr(c);
    if (!n->a)
        return NULL;
    n->b = parse_block(c);
    if (!n->b)
        return NULL;
    if (accept(c, K_ELSE)) {
        if (c->tok.kind == K_IF) {
            c->depth++;
            n->c = parse_if(c);
            c->depth--;
        } else
            n->c = parse_block(c);
        if (!n->c)
            return NULL;
    }
    return n;
}

/* `kw NAME`: the node of statement `kind` at keyword t, named by the
 * identifier after it (its position the name's when at_name); NULL, with
 * `want` as what was expected, when there is none. */
static struct node *named_stmt(struct lc *c, int kind, struct token t,
                               const char *want, bool at_name)
{
    next(c);
    struct node *n = new_node(c, kind, t.line, t.col);
    if (!n)
        return NULL;
    if (c->tok.kind != T_IDENT) {
        expected(c, want);
        return NULL;
    }
    n->name = c->tok.str;
    if (at_name) {
        n->line = c->tok.line;
        n->col = c->tok.col;
    }
    next(c);
    return n;
}

static struct node *parse_stmt(struct lc *c)
{
    struct token t = c->tok;
    struct node *n;
    switch (t.kind) {
    case K_LET:
        n = named_stmt(c, S_LET, t, "a name after 'let'", true);
        if (!n)
            return NULL;
        if (accept(c, P_COLON) && !parse_type(c, &n->decl))
            return NULL;
        if (!expect(c, P_ASSIGN, NULL))
            return NULL;
        n->a = parse_expr(c);
        if (!n->a || !expect(c, P_SEMI, NULL))
            return NULL;
        return n;
    case K_CLEAR:
        n = named_stmt(c, S_CLEAR, t, "a store name after 'clear'", true);
        if (!n)
            return NULL;
        if (accept(c, P_LBRACK)) {
            n->b = parse_expr(c);
            if (!n->b || !expect(c, P_RBRACK, NULL))
                return NULL;
        }
        return expect(c, P_SEMI, NULL) ? n : NULL;
    case K_IF:
        return parse_if(c);
    case K_FOR:
        n = named_stmt(c, S_FOR, t, "a loop variable after 'for'", false);
        if (!n)
            return NULL;
        if (!expect(c, K_IN, NULL))
            return NULL;
        n->a = parse_expr(c);
        if (!n->a)
            return NULL;
        if (accept(c, P_DOTDOT)) {
            n->b = parse_expr(c);
            if (!n->b)
                return NULL;
        } else {
            n->kind = S_FORW;
        }
        n->c = parse_block(c);
        return n->c ? n : NULL;
    case K_RETURN:
        next(c);
        n = new_node(c, S_RETURN, t.line, t.col);
        if (!n)
            return NULL;
        if (c->tok.kind != P_SEMI) {
            n->a = parse_expr(c);
            if (!n->a)
                return NULL;
        }
        return expect(c, P_SEMI, NULL) ? n : NULL;
    case P_LBRACE:
        return parse_block(c);
    default:
        break;
    }
    struct node *e = parse_expr(c);
    if (!e)
        return NULL;
    if (c->tok.kind == P_ASSIGN) {
        struct token at = c->tok;
        next(c);
        n = new_node(c, S_ASSIGN, e->line, e->col);
        if (!n)
            return NULL;
        if (e->kind == E_NAME) {
            n->name = e->name;
        } else if (e->kind == E_INDEX && e->a->kind == E_NAME) {
            n->name = e->a->name;
            n->b = e->b;
        } else {
            error_at(c, at.line, at.col,
                     "expected a name or a store entry before '='");
            return NULL;
        }
        n->a = parse_expr(c);
        if (!n->a || !expect(c, P_SEMI, NULL))
            return NULL;
        return n;
    }
    n = new_node(c, S_EXPR, e->line, e->col);
    if (!n)
        return NULL;
    n->a = e;
    return expect(c, P_SEMI, "';'") ? n : NULL;
}

static struct node *parse_block(struct lc *c)
{
    struct node *b = new_node(c, S_BLOCK, c->tok.line, c->tok.col);
    if (!b)
        return NULL;
    if (!expect(c, P_LBRACE, NULL))
        return NULL;
    if (++c->depth > LANG_NEST_MAX) {
        error_at(c, b->line, b->col, "nesting over 64 levels");
        c->depth--;
        return NULL;
    }
    struct node **tail = &b->a;
    /* A statement with a syntax error is reported and left out. */
    while (c->tok.kind != P_RBRACE && c->tok.kind != T_EOF) {
        uint32_t before = c->errors;
        size_t pos = c->pos;
        struct node *s = parse_stmt(c);
        if (s) {
            *tail = s;
            tail = &s->next;
        } else {
            if (c->errors == before && c->nodes <= LANG_NODE_COUNT_MAX)
                break; /* out of memory */
            sync_stmt(c);
            if (c->pos == pos && c->tok.kind != P_RBRACE)
                next(c);
        }
    }
    c->depth--;
    b->line = c->tok.line; /* the closing brace: where a missing return is */
    b->col = c->tok.col;
    if (!expect(c, P_RBRACE, "'}'"))
        return NULL;
    return b;
}

/* --- declarations --- */

static struct global *add_global(struct lc *c, int kind, const char *name,
                                 uint32_t line, uint32_t col)
{
    for (uint32_t i = 0; i < c->nglobals; i++)
        if (strcmp(c->globals[i].name, name) == 0) {
            error_at(c, line, col, "duplicate name '%s'", name);
            return NULL;
        }
    for (uint32_t i = 0; i < c->npreds; i++)
        if (strcmp(c->preds[i].name, name) == 0) {
            error_at(c, line, col, "duplicate name '%s'", name);
            return NULL;
        }
    if (c->nglobals == LANG_GLOBAL_COUNT_MAX) {
        error_at(c, line, col, "too many declarations");
        return NULL;
    }
    struct global *g = &c->globals[c->nglobals++];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->name = name;
    g->line = line;
    g->col = col;
    return g;
}

static void sync_decl(struct lc *c)
{
    int depth = 0;
    while (c->tok.kind != T_EOF) {
        int k = c->tok.kind;
        if (depth == 0 && (k == K_FN || k == K_ENTRY || k == K_ON ||
                           k == K_MODEL || k == K_FEED || k == K_STORE ||
                           k == K_CONST))
            return;
        if (k == P_LBRACE)
            depth++;
        if (k == P_RBRACE && depth > 0)
            depth--;
        next(c);
    }
}

static bool parse_model(struct lc *c)
{
    next(c);
    if (c->tok.kind != T_STR) {
        expected(c, "the model's name as a string");
        return false;
    }
    next(c);
    if (!expect(c, P_LBRACE, NULL))
        return false;
    int64_t next_out = 0, next_in = 0;
    while (c->tok.kind == K_OUTPUT || c->tok.kind == K_INPUT ||
           c->tok.kind == K_LABEL) {
        int k = c->tok.kind;
        next(c);
        if (c->tok.kind != T_IDENT) {
            expected(c, "a name");
            return false;
        }
        struct token name = c->tok;
        next(c);
        if (k == K_LABEL) {
            if (!expect(c, P_ASSIGN, NULL))
                return false;
            if (c->tok.kind != T_INT) {
                expected(c, "the label's class number");
                return false;
            }
            struct global *g = add_global(c, G_LABEL, name.str, name.line,
                                          name.col);
            if (g) {
                g->t = ty_int;
                g->ival = c->tok.ival;
            }
            next(c);
        } else {
            int64_t *nx = k == K_OUTPUT ? &next_out : &next_in;
            int64_t index = *nx;
            if (accept(c, K_AT)) {
                if (c->tok.kind != T_INT) {
                    expected(c, "an index");
                    return false;
                }
                index = c->tok.ival;
                next(c);
            }
            ty t;
            if (!expect(c, P_COLON, NULL) || !parse_numtype(c, &t))
                return false;
            if (index > LANG_INDEX_MAX) {
                error_at(c, name.line, name.col, "output index out of range");
                index = 0;
            }
            *nx = index + 1;
            bool dup = false;
            for (uint32_t i = 0; i < c->nglobals; i++)
                dup |= strcmp(c->globals[i].name, name.str) == 0;
            for (uint32_t i = 0; i < c->npreds; i++)
                dup |= strcmp(c->preds[i].name, name.str) == 0;
            if (dup) {
                error_at(c, name.line, name.col, "duplicate name '%s'",
                         name.str);
            } else if (c->npreds == LANG_PRED_COUNT_MAX) {
                error_at(c, name.line, name.col, "too many declarations");
            } else {
                struct pred_name *p = &c->preds[c->npreds++];
                p->name = name.str;
                p->input = k == K_INPUT;
                p->index = (uint32_t)index;
                p->t = t;
            }
        }
        if (!expect(c, P_SEMI, NULL))
            return false;
    }
    return expect(c, P_RBRACE, "'output', 'input', 'label' or '}'");
}

static bool parse_params(struct lc *c, struct func *f)
{
    if (!expect(c, P_LPAREN, NULL))
        return false;
    if (c->tok.kind != P_RPAREN) {
        for (;;) {
            if (c->tok.kind != T_IDENT) {
                expected(c, "a parameter name");
                return false;
            }
            struct token name = c->tok;
            next(c);
            ty t;
            if (!expect(c, P_COLON, NULL) || !parse_type(c, &t))
                return false;
            if (f->param_count == LANG_PARAM_COUNT_MAX) {
                error_at(c, name.line, name.col, "too many parameters");
            } else {
                for (uint32_t i = 0; i < f->param_count; i++)
                    if (strcmp(f->pnames[i], name.str) == 0) {
                        error_at(c, name.line, name.col,
                                 "duplicate name '%s'", name.str);
                        break;
                    }
                if (f->kind == G_ENTRY && t.k == TY_WIN)
                    error_at(c, name.line, name.col,
                             "an entry cannot take a window");
                f->pnames[f->param_count] = name.str;
                f->pline[f->param_count] = name.line;
                f->pcol[f->param_count] = name.col;
                f->ptypes[f->param_count++] = t;
            }
            if (!accept(c, P_COMMA))
                break;
        }
    }
    return expect(c, P_RPAREN, "')' or ','");
}

static bool parse_func(struct lc *c, int kind)
{
    struct token kw = c->tok;
    next(c);
    struct func *f = arena_alloc(c, sizeof *f);
    if (!f)
        return false;
    f->kind = kind;
    f->result = ty_void;
    if (kind < 0) {
        if (!expect(c, K_PREDICTION, NULL) || !expect(c, P_LPAREN, NULL))
            return false;
        if (c->tok.kind != T_IDENT) {
            expected(c, "the prediction's name");
            return false;
        }
        const char *pv = c->tok.str;
        next(c);
        if (!expect(c, P_RPAREN, NULL))
            return false;
        /* A result lands in the run record (result_int, result_bytes). */
        if (accept(c, P_ARROW) && !parse_type(c, &f->result))
            return false;
        if (f->result.k == TY_WIN)
            error_at(c, kw.line, kw.col, "an entry cannot take a window");
        f->name = "on_prediction";
        f->line = kw.line;
        f->col = kw.col;
        if (c->handler) {
            error_at(c, kw.line, kw.col, "more than one 'on prediction'");
        } else {
            c->handler = f;
            c->pred_var = pv;
        }
    } else {
        if (c->tok.kind != T_IDENT) {
            expected(c, kind == G_FN ? "a function name" : "an entry name");
            return false;
        }
        f->name = c->tok.str;
        f->line = c->tok.line;
        f->col = c->tok.col;
        next(c);
        if (!parse_params(c, f))
            return false;
        if (accept(c, P_ARROW) && !parse_type(c, &f->result))
            return false;
        if (f->result.k == TY_WIN && kind == G_ENTRY)
            error_at(c, f->line, f->col, "an entry cannot take a window");
        struct global *g = add_global(c, kind, f->name, f->line, f->col);
        if (g)
            g->fn = f;
        if (kind == G_ENTRY && strcmp(f->name, "on_prediction") == 0)
            error_at(c, f->line, f->col, "duplicate name '%s'", f->name);
    }
    f->body = parse_block(c);
    if (!f->body)
        return false;
    if (c->nfuncs == LANG_FUNC_COUNT_MAX) {
        error_at(c, f->line, f->col, "too many functions");
        return true;
    }
    c->funcs[c->nfuncs++] = f;
    return true;
}

static bool parse_decl(struct lc *c)
{
    struct token t = c->tok;
    switch (t.kind) {
    case K_MODEL:
        return parse_model(c);
    case K_FEED: {
        next(c);
        if (c->tok.kind != T_IDENT) {
            expected(c, "a feed name");
            return false;
        }
        struct token name = c->tok;
        next(c);
        ty ft;
        if (!expect(c, P_COLON, NULL) || !parse_numtype(c, &ft) ||
            !expect(c, K_FROM, NULL))
            return false;
        if (c->tok.kind != T_STR) {
            expected(c, "the feed as a string");
            return false;
        }
        struct token feed = c->tok;
        next(c);
        if (!expect(c, K_VALUE, NULL))
            return false;
        if (c->tok.kind != T_STR) {
            expected(c, "the value's name as a string");
            return false;
        }
        struct token value = c->tok;
        next(c);
        struct global *g = add_global(c, G_FEED, name.str, name.line,
                                      name.col);
        if (g) {
            g->t = ft;
            g->str = (const uint8_t *)feed.str;
            g->str_len = feed.str_len;
            g->str2 = (const uint8_t *)value.str;
            g->str2_len = value.str_len;
        }
        return expect(c, P_SEMI, NULL);
    }
    case K_STORE: {
        next(c);
        if (c->tok.kind != T_IDENT) {
            expected(c, "a store name");
            return false;
        }
        struct token name = c->tok;
        next(c);
        bool map = false;
        if (accept(c, P_LBRACK)) {
            if (!expect(c, K_BYTES, "bytes") || !expect(c, P_RBRACK, NULL))
                return false;
            map = true;
        }
        ty st;
        if (!expect(c, P_COLON, NULL) || !parse_type(c, &st))
            return false;
        if (st.k == TY_WIN)
            error_at(c, name.line, name.col, "a window cannot be stored");
        struct global *g = add_global(c, G_STORE, name.str, name.line,
                                      name.col);
        if (g) {
            g->t = st;
            g->is_map = map;
        }
        return expect(c, P_SEMI, NULL);
    }
    case K_CONST: {
        next(c);
        if (c->tok.kind != T_IDENT) {
            expected(c, "a constant name");
            return false;
        }
        struct token name = c->tok;
        next(c);
        ty ct;
        if (!expect(c, P_COLON, NULL) || !parse_type(c, &ct) ||
            !expect(c, P_ASSIGN, NULL))
            return false;
        struct node *e = parse_expr(c);
        if (!e || !expect(c, P_SEMI, NULL))
            return false;
        struct global *g = add_global(c, G_CONST, name.str, name.line,
                                      name.col);
        if (g) {
            g->t = ct;
            g->init = e; /* checked with the program */
        }
        return true;
    }
    case K_FN:
        return parse_func(c, G_FN);
    case K_ENTRY:
        return parse_func(c, G_ENTRY);
    case K_ON:
        return parse_func(c, -1);
    default:
        expected(c, "a declaration (model, feed, store, const, fn, entry "
                    "or on prediction)");
        return false;
    }
}

static void parse_program(struct lc *c)
{
    next(c);
    if (expect(c, K_CONTRACT, NULL)) {
        if (c->tok.kind != T_STR)
            expected(c, "the contract's name as a string");
        else
            next(c);
        if (expect(c, K_VERSION, NULL)) {
            if (c->tok.kind != T_INT)
                expected(c, "a version number");
            else
                next(c);
        }
        expect(c, P_SEMI, NULL);
    }
    c->have_header = true;
    while (c->tok.kind != T_EOF && !c->oom) {
        size_t pos = c->pos;
        if (!parse_decl(c)) {
            sync_decl(c);
            if (c->pos == pos && c->tok.kind != T_EOF)
                next(c);
        }
    }
}

/* ----------------------------------------------------------------- checker */

static struct global *find_global(struct lc *c, const char *name)
{
    for (uint32_t i = 0; i < c->nglobals; i++)
        if (strcmp(c->globals[i].name, name) == 0)
            return &c->globals[i];
    return NULL;
}

static int find_local(struct lc *c, const char *name)
{
    for (uint32_t i = c->nlocals; i-- > 0;)
        if (strcmp(c->locals[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_local(struct lc *c, const char *name, ty t, bool ro,
                     uint32_t line, uint32_t col)
{
    if (find_local(c, name) >= 0) {
        error_at(c, line, col, "'%s' hides a name in an enclosing scope",
                 name);
        return -1;
    }
    struct global *g = find_global(c, name);
    if (g && (g->kind == G_FN || g->kind == G_ENTRY || g->kind == G_BUILTIN)) {
        error_at(c, line, col, "'%s' is a function", name);
        return -1;
    }
    if (c->nlocals == LANG_LOCAL_COUNT_MAX) {
        error_at(c, line, col, "too many local names");
        return -1;
    }
    struct local *l = &c->locals[c->nlocals];
    l->name = name;
    l->t = t;
    l->readonly = ro;
    l->depth = c->scope;
    l->reg = -1;
    return (int)c->nlocals++;
}

static void mismatch(struct lc *c, const struct node *at, ty want, ty got)
{
    if (want.k == TY_ERR || got.k == TY_ERR)
        return;
    char a[32], b[32];
    ty_name(want, a, sizeof a);
    ty_name(got, b, sizeof b);
    error_at(c, at->line, at->col, "type mismatch: expected %s, found %s", a,
             b);
}

static bool is_lit(const struct node *e)
{
    return e->kind == E_INT || e->kind == E_DEC;
}

static ty check_expr(struct lc *c, struct node *e, const ty *expect);

/* A literal takes the expected decimal scale when it can (section 4). */
static void widen(struct lc *c, struct node *e, ty want)
{
    if (!is_lit(e) || want.k != TY_NUM || e->t.k != TY_NUM)
        return;
    if (e->t.scale == want.scale)
        return;
    if (e->t.scale > want.scale) {
        char n[32];
        ty_name(want, n, sizeof n);
        error_at(c, e->line, e->col, "literal has %u decimal places, %s holds %u",
                 e->t.scale, n, want.scale);
        e->t = ty_err;
        return;
    }
    int64_t v = e->ival;
    for (uint32_t i = e->t.scale; i < want.scale; i++) {
        if (v > INT64_MAX / 10 || v < INT64_MIN / 10) {
            error_at(c, e->line, e->col, "literal out of range");
            e->t = ty_err;
            return;
        }
        v *= 10;
    }
    e->ival = v;
    e->scale = want.scale;
    e->t = want;
}

/* Checks e where a value of type want is needed. */
static void check_as(struct lc *c, struct node *e, ty want)
{
    ty t = check_expr(c, e, &want);
    if (t.k == TY_ERR || want.k == TY_ERR)
        return;
    if (t.k == TY_VOID) {
        error_at(c, e->line, e->col, "this expression has no value");
        return;
    }
    widen(c, e, want);
    if (e->t.k != TY_ERR && !ty_eq(e->t, want))
        mismatch(c, e, want, e->t);
}

static ty check_value(struct lc *c, struct node *e, const ty *expect)
{
    ty t = check_expr(c, e, expect);
    if (t.k == TY_VOID) {
        error_at(c, e->line, e->col, "this expression has no value");
        e->t = ty_err;
        return ty_err;
    }
    return t;
}

static uint32_t count_list(const struct node *n)
{
    uint32_t k = 0;
    for (; n; n = n->next)
        k++;
    return k;
}

static bool want_args(struct lc *c, const struct node *e, const char *name,
                      uint32_t want)
{
    uint32_t got = count_list(e->kind == E_MEMBER ? e->b : e->a);
    if (got != want) {
        error_at(c, e->line, e->col, "'%s' takes %u arguments, got %u", name,
                 want, got);
        return false;
    }
    return true;
}

static bool literal_scale(struct lc *c, struct node *s, uint32_t max,
                          uint32_t *out)
{
    if (s->kind != E_INT || s->ival < 0) {
        error_at(c, s->line, s->col, "the scale must be a literal");
        return false;
    }
    if (s->ival > (int64_t)max) {
        error_at(c, s->line, s->col, "dec scale %lld out of range (0-%u)",
                 (long long)s->ival, max);
        return false;
    }
    s->t = ty_int;
    *out = (uint32_t)s->ival;
    return true;
}

static const char *const score_names[8] = {
    "count", "mse", "mae", "recent_count", "recent_mse", "recent_mae",
    "rmse", "recent_rmse"};

static void check_values(struct lc *c, struct node *first)
{
    uint32_t n = 0;
    for (struct node *v = first; v; v = v->next) {
        ty t = check_value(c, v, NULL);
        if (++n == LANG_VALUE_COUNT_MAX + 1)
            error_at(c, v->line, v->col, "at most 16 values");
        if (t.k != TY_ERR && t.k != TY_NUM && t.k != TY_BOOL) {
            char b[32];
            ty_name(t, b, sizeof b);
            error_at(c, v->line, v->col,
                     "type mismatch: expected a number or bool, found %s", b);
        }
    }
}

static ty check_builtin(struct lc *c, struct node *e, int b)
{
    struct node *a = e->a;
    e->ref = R_BUILTIN;
    e->aux = b;
    switch (b) {
    case B_LEN: {
        if (!want_args(c, e, "len", 1))
            return ty_err;
        ty t = check_value(c, a, NULL);
        if (t.k != TY_ERR && t.k != TY_BYTES && t.k != TY_WIN) {
            char n[32];
            ty_name(t, n, sizeof n);
            error_at(c, a->line, a->col,
                     "type mismatch: expected bytes or a window, found %s", n);
        }
        return ty_int;
    }
    case B_SLICE:
        if (!want_args(c, e, "slice", 3))
            return ty_err;
        check_as(c, a, ty_bytes);
        check_as(c, a->next, ty_int);
        check_as(c, a->next->next, ty_int);
        return ty_bytes;
    case B_CAT:
        if (!want_args(c, e, "cat", 2))
            return ty_err;
        check_as(c, a, ty_bytes);
        check_as(c, a->next, ty_bytes);
        return ty_bytes;
    case B_BYTES_OF: {
        if (!want_args(c, e, "bytes_of", 1))
            return ty_err;
        ty t = check_value(c, a, NULL);
        if (t.k != TY_ERR && t.k != TY_NUM && t.k != TY_BOOL)
            mismatch(c, a, ty_int, t);
        return ty_bytes;
    }
    case B_INT_OF:
        if (!want_args(c, e, "int_of", 1))
            return ty_err;
        check_as(c, a, ty_bytes);
        return ty_int;
    case B_RESCALE: {
        if (!want_args(c, e, "rescale", 2))
            return ty_err;
        ty t = check_value(c, a, NULL);
        if (t.k != TY_ERR && t.k != TY_NUM)
            mismatch(c, a, ty_int, t);
        uint32_t s;
        if (!literal_scale(c, a->next, LANG_SCALE_MAX, &s))
            return ty_err;
        ty r = {TY_NUM, (uint8_t)s};
        return r;
    }
    case B_HEIGHT:
    case B_TIME:
    case B_SELF_ID:
    case B_CALLER:
        if (!want_args(c, e, builtin_names[b], 0))
            return ty_err;
        return b == B_HEIGHT || b == B_TIME ? ty_int : ty_bytes;
    case B_SCORE: {
        uint32_t n = count_list(a);
        if (n != 2 && n != 3) {
            error_at(c, e->line, e->col, "'score' takes 2 or 3 arguments, "
                                         "got %u", n);
            return ty_err;
        }
        check_as(c, a, ty_bytes);
        struct node *w = a->next;
        int what = -1;
        if (w->kind == E_NAME)
            for (int i = 0; i < 8; i++)
                if (strcmp(w->name, score_names[i]) == 0)
                    what = i;
        if (what < 0) {
            error_at(c, w->line, w->col, "unknown scorecard measure '%s'",
                     w->kind == E_NAME ? w->name : "?");
            return ty_err;
        }
        w->t = ty_int;
        w->ival = what + 1;
        bool is_count = what == 0 || what == 3;
        if (is_count != (n == 2)) {
            error_at(c, e->line, e->col, "'score' takes %u arguments, got %u",
                     is_count ? 2u : 3u, n);
            return ty_err;
        }
        if (is_count)
            return ty_int;
        uint32_t s;
        if (!literal_scale(c, w->next, what >= 6 ? 9 : LANG_SCALE_MAX, &s))
            return ty_err;
        ty r = {TY_NUM, (uint8_t)s};
        return r;
    }
    case B_DECIDE:
        if (count_list(a) < 2) {
            error_at(c, e->line, e->col,
                     "a decision needs a kind and a subject");
            return ty_err;
        }
        check_as(c, a, ty_bytes);
        check_as(c, a->next, ty_bytes);
        check_values(c, a->next->next);
        return ty_bytes;
    case B_EMIT:
        if (count_list(a) < 1) {
            error_at(c, e->line, e->col, "'emit' needs a topic");
            return ty_void;
        }
        check_as(c, a, ty_bytes);
        check_values(c, a->next);
        return ty_void;
    case B_ABORT:
        if (!want_args(c, e, "abort", 1))
            return ty_void;
        check_as(c, a, ty_int);
        return ty_void;
    default:
        return ty_err;
    }
}

static ty check_name(struct lc *c, struct node *e)
{
    int l = find_local(c, e->name);
    if (l >= 0) {
        e->ref = R_LOCAL;
        e->sym = l;
        return c->locals[l].t;
    }
    struct global *g = find_global(c, e->name);
    if (!g) {
        if (c->pred_var && strcmp(e->name, c->pred_var) == 0) {
            if (c->cur == c->handler)
                error_at(c, e->line, e->col,
                         "'%s' is the prediction: use one of its fields",
                         e->name);
            else
                error_at(c, e->line, e->col,
                         "'%s' is only defined in 'on prediction'", e->name);
        } else {
            error_at(c, e->line, e->col, "unknown name '%s'", e->name);
        }
        return ty_err;
    }
    e->sym = (int)(g - c->globals);
    switch (g->kind) {
    case G_CONST:
        e->ref = R_CONST;
        return g->t;
    case G_LABEL:
        e->ref = R_LABEL;
        return ty_int;
    case G_STORE:
        if (g->is_map) {
            error_at(c, e->line, e->col, "'%s' is a map: index it", e->name);
            return ty_err;
        }
        e->ref = R_STORE;
        return g->t;
    case G_FEED:
        error_at(c, e->line, e->col,
                 "'%s' is a feed: use .latest(subject) or .window(subject, n)",
                 e->name);
        return ty_err;
    default:
        error_at(c, e->line, e->col, "'%s' is a function", e->name);
        return ty_err;
    }
}

enum pred_field {
    PF_OUTPUT, PF_INPUT, PF_SOURCE, PF_SUBJECT, PF_MODEL, PF_LABEL, PF_STATUS,
    PF_COMPUTED, PF_OUTPUTS, PF_INPUTS
};

static ty check_member(struct lc *c, struct node *e)
{
    struct node *o = e->a;
    /* The prediction. */
    if (o->kind == E_NAME && c->pred_var && find_local(c, o->name) < 0 &&
        !find_global(c, o->name) && strcmp(o->name, c->pred_var) == 0) {
        if (c->cur != c->handler) {
            error_at(c, o->line, o->col,
                     "'%s' is only defined in 'on prediction'", o->name);
            return ty_err;
        }
        e->ref = R_PRED;
        static const struct {
            const char *name;
            int field;
            ty t;
        } fixed[] = {{"subject", PF_SUBJECT, {TY_BYTES, 0}},
                     {"model", PF_MODEL, {TY_BYTES, 0}},
                     {"label", PF_LABEL, {TY_NUM, 0}},
                     {"status", PF_STATUS, {TY_NUM, 0}},
                     {"computed", PF_COMPUTED, {TY_BOOL, 0}},
                     {"outputs", PF_OUTPUTS, {TY_NUM, 0}},
                     {"inputs", PF_INPUTS, {TY_NUM, 0}}};
        if (strcmp(e->name, "source") == 0 && e->has_args) {
            if (!want_args(c, e, "source", 1))
                return ty_err;
            struct node *x = e->b;
            for (uint32_t i = 0; x->kind == E_NAME && i < c->npreds; i++)
                if (c->preds[i].input &&
                    strcmp(c->preds[i].name, x->name) == 0) {
                    e->aux = PF_SOURCE;
                    e->sym = (int)i;
                    return ty_bytes;
                }
            error_at(c, x->line, x->col, "'%s' is not an input",
                     x->kind == E_NAME ? x->name : "?");
            return ty_err;
        }
        if (e->has_args) {
            error_at(c, e->line, e->col, "'%s' is not a function", e->name);
            return ty_err;
        }
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            if (strcmp(fixed[i].name, e->name) == 0) {
                e->aux = fixed[i].field;
                return fixed[i].t;
            }
        for (uint32_t i = 0; i < c->npreds; i++)
            if (strcmp(c->preds[i].name, e->name) == 0) {
                e->aux = c->preds[i].input ? PF_INPUT : PF_OUTPUT;
                e->sym = (int)i;
                return c->preds[i].t;
            }
        error_at(c, e->line, e->col, "the prediction has no output or input "
                                     "'%s'",
                 e->name);
        return ty_err;
    }
    /* A feed. */
    struct global *g = o->kind == E_NAME && find_local(c, o->name) < 0
                           ? find_global(c, o->name)
                           : NULL;
    if (!g || g->kind != G_FEED) {
        if (o->kind == E_NAME && !g && find_local(c, o->name) < 0)
            error_at(c, o->line, o->col, "unknown name '%s'", o->name);
        else
            error_at(c, o->line, o->col, "'%s' is not a feed",
                     o->kind == E_NAME ? o->name : "this expression");
        return ty_err;
    }
    e->ref = R_FEED;
    e->sym = (int)(g - c->globals);
    if (strcmp(e->name, "latest") == 0 && e->has_args) {
        if (!want_args(c, e, "latest", 1))
            return ty_err;
        check_as(c, e->b, ty_bytes);
        e->aux = 0;
        return g->t;
    }
    if (strcmp(e->name, "window") == 0 && e->has_args) {
        if (!want_args(c, e, "window", 2))
            return ty_err;
        check_as(c, e->b, ty_bytes);
        check_as(c, e->b->next, ty_int);
        e->aux = 1;
        ty w = {TY_WIN, g->t.scale};
        return w;
    }
    error_at(c, e->line, e->col,
             "'%s' is a feed: use .latest(subject) or .window(subject, n)",
             o->name);
    return ty_err;
}

static ty check_bin(struct lc *c, struct node *e, const ty *expect)
{
    int op = e->op;
    bool arith = op == P_PLUS || op == P_MINUS || op == P_STAR ||
                 op == P_SLASH || op == P_PERCENT;
    bool coerce = op == P_PLUS || op == P_MINUS || (op >= P_EQ && op <= P_GE);
    const ty *ex = (op == P_PLUS || op == P_MINUS) && expect &&
                           expect->k == TY_NUM
                       ? expect
                       : NULL;
    ty ta, tb;
    if (coerce && is_lit(e->a) && !is_lit(e->b)) {
        tb = check_value(c, e->b, ex);
        ta = check_value(c, e->a, tb.k == TY_NUM ? &tb : NULL);
        if (tb.k == TY_NUM)
            widen(c, e->a, tb);
        ta = e->a->t;
    } else {
        ta = check_value(c, e->a, ex);
        if (coerce && ta.k == TY_NUM && is_lit(e->a) && is_lit(e->b) && ex) {
            widen(c, e->a, *ex);
            ta = e->a->t;
        }
        tb = check_value(c, e->b, coerce && ta.k == TY_NUM ? &ta : NULL);
        if (coerce && ta.k == TY_NUM)
            widen(c, e->b, ta);
        tb = e->b->t;
    }
    if (ta.k == TY_ERR || tb.k == TY_ERR)
        return ty_err;
    char an[32], bn[32];
    ty_name(ta, an, sizeof an);
    ty_name(tb, bn, sizeof bn);
    const char *opn = punct_names[op - P_LPAREN];
    if (arith) {
        if (ta.k == TY_NUM && tb.k == TY_NUM) {
            if (op == P_PLUS || op == P_MINUS) {
                if (ta.scale == tb.scale)
                    return ta;
            } else if (op == P_STAR) {
                if (ta.scale + tb.scale <= LANG_SCALE_MAX) {
                    ty r = {TY_NUM, (uint8_t)(ta.scale + tb.scale)};
                    return r;
                }
            } else if (op == P_SLASH) {
                if (tb.scale == 0)
                    return ta;
            } else if (ta.scale == 0 && tb.scale == 0) {
                return ty_int;
            }
        }
    } else if (op == P_EQ || op == P_NE) {
        if (ty_eq(ta, tb) && ta.k != TY_WIN)
            return ty_bool;
    } else if (ta.k == TY_NUM && ty_eq(ta, tb)) {
        return ty_bool;
    }
    error_at(c, e->line, e->col, "operator %s does not apply to %s and %s",
             opn, an, bn);
    return ty_err;
}

static ty check_expr_inner(struct lc *c, struct node *e, const ty *expect)
{
    switch (e->kind) {
    case E_INT:
        return ty_int;
    case E_DEC: {
        ty t = {TY_NUM, (uint8_t)e->scale};
        return t;
    }
    case E_STR:
        return ty_bytes;
    case E_BOOL:
        return ty_bool;
    case E_NAME:
        return check_name(c, e);
    case E_CALL: {
        if (find_local(c, e->name) >= 0) {
            error_at(c, e->line, e->col, "'%s' is not a function", e->name);
            return ty_err;
        }
        struct global *g = find_global(c, e->name);
        if (!g) {
            for (int b = 0; b < B_COUNT_; b++)
                if (strcmp(builtin_names[b], e->name) == 0)
                    return check_builtin(c, e, b);
            error_at(c, e->line, e->col, "unknown name '%s'", e->name);
            return ty_err;
        }
        if (g->kind != G_FN) {
            error_at(c, e->line, e->col, "'%s' is not a function", e->name);
            return ty_err;
        }
        struct func *f = g->fn;
        e->ref = R_FN;
        e->sym = (int)(g - c->globals);
        if (!want_args(c, e, e->name, f->param_count))
            return f->result;
        uint32_t i = 0;
        for (struct node *a = e->a; a; a = a->next, i++)
            check_as(c, a, f->ptypes[i]);
        return f->result;
    }
    case E_MEMBER:
        return check_member(c, e);
    case E_INDEX: {
        ty t = check_value(c, e->a, NULL);
        check_as(c, e->b, ty_int);
        if (t.k == TY_ERR)
            return ty_err;
        if (t.k == TY_BYTES)
            return ty_int;
        if (t.k == TY_WIN) {
            ty r = {TY_NUM, t.scale};
            return r;
        }
        char n[32];
        ty_name(t, n, sizeof n);
        error_at(c, e->line, e->col, "operator [] does not apply to %s", n);
        return ty_err;
    }
    case E_BIN:
        return check_bin(c, e, expect);
    case E_NEG: {
        ty t = check_value(c, e->a, expect);
        if (t.k != TY_ERR && t.k != TY_NUM) {
            char n[32];
            ty_name(t, n, sizeof n);
            error_at(c, e->line, e->col, "operator - does not apply to %s", n);
            return ty_err;
        }
        return t;
    }
    case E_NOT:
        check_as(c, e->a, ty_bool);
        return ty_bool;
    case E_AND:
    case E_OR:
        check_as(c, e->a, ty_bool);
        check_as(c, e->b, ty_bool);
        return ty_bool;
    default:
        return ty_err;
    }
}

/* Map reads are NAME[k] with NAME a map store: resolved here so that the
 * plain-name rule ("is a map: index it") does not fire for them. */
static bool map_read(struct lc *c, struct node *e)
{
    if (e->kind != E_INDEX || e->a->kind != E_NAME ||
        find_local(c, e->a->name) >= 0)
        return false;
    struct global *g = find_global(c, e->a->name);
    if (!g || g->kind != G_STORE || !g->is_map)
        return false;
    check_as(c, e->b, ty_bytes);
    e->ref = R_STORE;
    e->sym = (int)(g - c->globals);
    e->t = g->t;
    return true;
}

/* Chains such as a + b + c + ... nest without parentheses; the checker
 * refuses them past LANG_EXPR_DEPTH_MAX, so that neither it nor the code
 * generator recurses deeper. */
static ty check_expr(struct lc *c, struct node *e, const ty *expect)
{
    if (c->edepth >= LANG_EXPR_DEPTH_MAX) {
        if (!c->edeep)
            error_at(c, e->line, e->col, "expression over 256 levels deep");
        c->edeep = true;
        e->t = ty_err;
        return ty_err;
    }
    c->edepth++;
    if (map_read(c, e)) {
        c->edepth--;
        return e->t;
    }
    e->t = check_expr_inner(c, e, expect);
    if (--c->edepth == 0)
        c->edeep = false;
    return e->t;
}

static bool check_block(struct lc *c, struct node *b);

/* Returns whether s always ends the function (return or abort). */
static bool check_stmt(struct lc *c, struct node *s)
{
    switch (s->kind) {
    case S_BLOCK:
        return check_block(c, s);
    case S_LET: {
        ty t;
        if (s->decl.k != TY_ERR) {
            check_as(c, s->a, s->decl);
            t = s->decl;
        } else {
            t = check_value(c, s->a, NULL);
        }
        s->t = t;
        s->sym = add_local(c, s->name, t, false, s->line, s->col);
        return false;
    }
    case S_ASSIGN: {
        int l = find_local(c, s->name);
        if (l >= 0) {
            s->ref = R_LOCAL;
            s->sym = l;
            if (s->b) {
                error_at(c, s->line, s->col, "'%s' is not a map", s->name);
                return false;
            }
            if (c->locals[l].readonly) {
                error_at(c, s->line, s->col, "'%s' cannot be assigned",
                         s->name);
                return false;
            }
            check_as(c, s->a, c->locals[l].t);
            return false;
        }
        struct global *g = find_global(c, s->name);
        if (!g) {
            error_at(c, s->line, s->col, "unknown name '%s'", s->name);
            return false;
        }
        if (g->kind != G_STORE) {
            error_at(c, s->line, s->col, "'%s' cannot be assigned", s->name);
            return false;
        }
        if (g->is_map && !s->b) {
            error_at(c, s->line, s->col, "'%s' is a map: index it", s->name);
            return false;
        }
        if (!g->is_map && s->b) {
            error_at(c, s->line, s->col, "'%s' is not a map", s->name);
            return false;
        }
        s->ref = R_STORE;
        s->sym = (int)(g - c->globals);
        if (s->b)
            check_as(c, s->b, ty_bytes);
        check_as(c, s->a, g->t);
        return false;
    }
    case S_CLEAR: {
        struct global *g = find_local(c, s->name) >= 0
                               ? NULL
                               : find_global(c, s->name);
        if (!g || g->kind != G_STORE) {
            error_at(c, s->line, s->col, g || find_local(c, s->name) >= 0
                                             ? "'%s' cannot be assigned"
                                             : "unknown name '%s'",
                     s->name);
            return false;
        }
        if (g->is_map != (s->b != NULL)) {
            error_at(c, s->line, s->col, g->is_map ? "'%s' is a map: index it"
                                                   : "'%s' is not a map",
                     s->name);
            return false;
        }
        s->sym = (int)(g - c->globals);
        if (s->b)
            check_as(c, s->b, ty_bytes);
        return false;
    }
    case S_IF: {
        check_as(c, s->a, ty_bool);
        bool t = check_block(c, s->b);
        bool e = s->c ? check_stmt(c, s->c) : false;
        return t && e;
    }
    case S_FOR: {
        check_as(c, s->a, ty_int);
        check_as(c, s->b, ty_int);
        c->scope++;
        uint32_t mark = c->nlocals;
        s->sym = add_local(c, s->name, ty_int, true, s->line, s->col);
        check_block(c, s->c);
        c->nlocals = mark;
        c->scope--;
        return false;
    }
    case S_FORW: {
        ty t = check_value(c, s->a, NULL);
        ty el = ty_err;
        if (t.k == TY_WIN) {
            el.k = TY_NUM;
            el.scale = t.scale;
        } else if (t.k != TY_ERR) {
            char n[32];
            ty_name(t, n, sizeof n);
            error_at(c, s->a->line, s->a->col,
                     "type mismatch: expected a window, found %s", n);
        }
        c->scope++;
        uint32_t mark = c->nlocals;
        s->sym = add_local(c, s->name, el, true, s->line, s->col);
        check_block(c, s->c);
        c->nlocals = mark;
        c->scope--;
        return false;
    }
    case S_RETURN: {
        struct func *f = c->cur;
        if (s->a) {
            if (f == c->handler && f->result.k == TY_VOID)
                error_at(c, s->line, s->col, "the handler returns nothing");
            else if (f->result.k == TY_VOID)
                error_at(c, s->line, s->col, "this function returns nothing");
            else
                check_as(c, s->a, f->result);
        } else if (f->result.k != TY_VOID) {
            error_at(c, s->line, s->col, "missing return value");
        }
        return true;
    }
    case S_EXPR: {
        struct node *e = s->a;
        if (e->kind != E_CALL) {
            error_at(c, e->line, e->col,
                     "expected a call as a statement (its value would be "
                     "lost)");
            return false;
        }
        check_expr(c, e, NULL);
        return e->ref == R_BUILTIN && e->aux == B_ABORT;
    }
    default:
        return false;
    }
}

static bool check_block(struct lc *c, struct node *b)
{
    c->scope++;
    uint32_t mark = c->nlocals;
    bool ends = false, reported = false;
    for (struct node *s = b->a; s; s = s->next) {
        if (ends && !reported) {
            error_at(c, s->line, s->col, "unreachable code after return");
            reported = true;
        }
        if (check_stmt(c, s))
            ends = true;
    }
    c->nlocals = mark;
    c->scope--;
    return ends;
}

static void check_const(struct lc *c, struct global *g)
{
    struct node *e = g->init;
    if (!is_lit(e) && e->kind != E_STR && e->kind != E_BOOL) {
        error_at(c, e->line, e->col, "const needs a literal value");
        g->t = ty_err;
        return;
    }
    check_as(c, e, g->t);
    if (e->t.k == TY_ERR) {
        g->t = ty_err;
        return;
    }
    g->ival = e->ival;
    g->str = e->str;
    g->str_len = e->str_len;
}

static void check_program(struct lc *c)
{
    if (!c->handler) {
        bool entry = false;
        for (uint32_t i = 0; i < c->nglobals; i++)
            entry |= c->globals[i].kind == G_ENTRY;
        if (!entry)
            error_at(c, 1, 1, "a contract needs 'on prediction' or an entry");
    }
    uint32_t exports = c->handler ? 1 : 0;
    for (uint32_t i = 0; i < c->nglobals; i++)
        if (c->globals[i].kind == G_ENTRY &&
            ++exports == WITAN_VM_EXPORT_COUNT_MAX + 1)
            error_at(c, c->globals[i].line, c->globals[i].col,
                     "too many entries (64 with 'on prediction')");
    for (uint32_t i = 0; i < c->nglobals; i++) {
        struct global *g = &c->globals[i];
        for (int b = 0; b < B_COUNT_; b++)
            if (strcmp(builtin_names[b], g->name) == 0)
                error_at(c, g->line, g->col, "duplicate name '%s'", g->name);
        if (g->kind == G_CONST)
            check_const(c, g);
    }
    /* Module order: the handler, entries, then functions (section 9). */
    uint32_t index = 0;
    if (c->handler)
        c->handler->index = index++;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < c->nfuncs; i++) {
            struct func *f = c->funcs[i];
            if (f->kind == (pass == 0 ? G_ENTRY : G_FN))
                f->index = index++;
        }
    for (uint32_t i = 0; i < c->nfuncs; i++) {
        struct func *f = c->funcs[i];
        f->hidden = f->kind == G_FN && f->result.k != TY_VOID &&
                    (f->param_count == 0 ||
                     ty_vm(f->ptypes[0]) != ty_vm(f->result));
        c->cur = f;
        c->nlocals = 0;
        c->scope = 0;
        for (uint32_t p = 0; p < f->param_count; p++)
            add_local(c, f->pnames[p], f->ptypes[p], true, f->pline[p],
                      f->pcol[p]);
        bool ends = check_block(c, f->body);
        if (!ends && f->result.k != TY_VOID)
            error_at(c, f->body->line, f->body->col,
                     "missing return at the end of '%s'", f->name);
    }
}

/* --------------------------------------------------------------- generator */

static void gfail(struct lc *c, const char *what, const char *fname)
{
    if (!c->gen_failed) {
        const struct func *f = c->cur;
        error_at(c, f ? f->line : 1, f ? f->col : 1, what, fname);
    }
    c->gen_failed = true;
    c->g->failed = true;
}

static void emit_word(struct lc *c, uint32_t w)
{
    struct fgen *g = c->g;
    if (g->nwords == WITAN_VM_FUNC_WORDS_MAX) {
        gfail(c, "function too large: '%s'", c->cur->name);
        return;
    }
    g->words[g->nwords++] = w;
}

static void mark_pos(struct lc *c, const struct node *n)
{
    c->g->cur_line = n->line;
    c->g->cur_col = n->col;
}

static void ins(struct lc *c, int op, uint32_t a, uint32_t b, uint32_t cc)
{
    struct fgen *g = c->g;
    if (g->cur_line != g->map_line || g->cur_col != g->map_col) {
        buf_printf(&c->map, "%u %u %u\n", g->nwords, g->cur_line, g->cur_col);
        g->map_line = g->cur_line;
        g->map_col = g->cur_col;
    }
    emit_word(c, (uint32_t)op | (a & 0xff) << 8 | (b & 0xff) << 16 |
                     (cc & 0xff) << 24);
}

static void ins_bx(struct lc *c, int op, uint32_t a, uint32_t bx)
{
    ins(c, op, a, bx & 0xff, (bx >> 8) & 0xff);
}

static uint32_t new_label(struct lc *c)
{
    struct fgen *g = c->g;
    if (g->nlabels == LANG_LABEL_MAX) {
        gfail(c, "function too large: '%s'", c->cur->name);
        return 0;
    }
    g->labels[g->nlabels] = -1;
    return g->nlabels++;
}

static void place(struct lc *c, uint32_t l)
{
    c->g->labels[l] = (int32_t)c->g->nwords;
}

static void add_fix(struct lc *c, uint32_t at, uint32_t l, int form)
{
    struct fgen *g = c->g;
    if (g->nfix == LANG_FIXUP_MAX) {
        gfail(c, "function too large: '%s'", c->cur->name);
        return;
    }
    g->fix[g->nfix++] = (struct fixup){at, l, (uint8_t)form};
}

static void jmp(struct lc *c, uint32_t l)
{
    add_fix(c, c->g->nwords, l, 0);
    ins(c, OP_JMP, 0, 0, 0);
}

static void jz(struct lc *c, int op, uint32_t r, uint32_t l)
{
    add_fix(c, c->g->nwords, l, 1);
    ins(c, op, r, 0, 0);
}

static void j2(struct lc *c, int op, uint32_t a, uint32_t b, uint32_t l)
{
    add_fix(c, c->g->nwords, l, 2);
    ins(c, op, a, b, 0);
    emit_word(c, 0);
}

static int reg_alloc(struct lc *c, int vmtype)
{
    struct fgen *g = c->g;
    for (uint32_t i = 0; i < g->nregs; i++)
        if (!g->used[i] && g->regtype[i] == vmtype) {
            g->used[i] = true;
            return (int)i;
        }
    if (g->nregs == WITAN_VM_REG_COUNT_MAX) {
        gfail(c, "too many registers in '%s'", c->cur->name);
        return 0;
    }
    g->regtype[g->nregs] = (uint8_t)vmtype;
    g->used[g->nregs] = true;
    return (int)g->nregs++;
}

static void reg_free(struct lc *c, int r)
{
    if (r >= 0 && (uint32_t)r < c->g->nregs)
        c->g->used[r] = false;
}

/* A window of consecutive registers of the given VM types (n >= 1). */
static int win_alloc(struct lc *c, const uint8_t *types, uint32_t n)
{
    struct fgen *g = c->g;
    for (uint32_t s = 0; s + n <= WITAN_VM_REG_COUNT_MAX; s++) {
        bool ok = true;
        for (uint32_t j = 0; j < n && ok; j++) {
            uint32_t r = s + j;
            if (r < g->nregs)
                ok = !g->used[r] && g->regtype[r] == types[j];
        }
        if (!ok)
            continue;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t r = s + j;
            if (r >= g->nregs) {
                g->regtype[r] = types[j];
                g->nregs = r + 1;
            }
            g->used[r] = true;
        }
        return (int)s;
    }
    gfail(c, "too many registers in '%s'", c->cur->name);
    return 0;
}

static void win_free(struct lc *c, int s, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++)
        reg_free(c, s + (int)j);
}

static uint32_t const_int(struct lc *c, int64_t v)
{
    for (uint32_t i = 0; i < c->nints; i++)
        if (c->ints[i] == v)
            return i;
    if (c->nints == WITAN_VM_CONST_COUNT_MAX) {
        gfail(c, "too many constants (in '%s')", c->cur->name);
        return 0;
    }
    c->ints[c->nints] = v;
    return c->nints++;
}

static uint32_t const_str(struct lc *c, const uint8_t *s, uint32_t n)
{
    for (uint32_t i = 0; i < c->nstrs; i++)
        if (c->str_lens[i] == n && (n == 0 || memcmp(c->strs[i], s, n) == 0))
            return i;
    if (c->nstrs == WITAN_VM_CONST_COUNT_MAX) {
        gfail(c, "too many constants (in '%s')", c->cur->name);
        return 0;
    }
    c->strs[c->nstrs] = s;
    c->str_lens[c->nstrs] = n;
    return c->nstrs++;
}

static void load_int(struct lc *c, int dst, int64_t v)
{
    if (v >= -32768 && v <= 32767)
        ins_bx(c, OP_LDI, (uint32_t)dst, (uint32_t)(uint16_t)(int16_t)v);
    else
        ins_bx(c, OP_LDK, (uint32_t)dst, const_int(c, v));
}

static void load_str(struct lc *c, int dst, const void *s, uint32_t n)
{
    ins_bx(c, OP_LDS, (uint32_t)dst, const_str(c, s, n));
}

static void host(struct lc *c, int a, int h)
{
    c->host_used[h] = true;
    struct fgen *g = c->g;
    if (g->nhost < WITAN_VM_FUNC_WORDS_MAX)
        g->host_at[g->nhost++] = g->nwords;
    /* The import index is patched once every import used is known. */
    ins_bx(c, OP_HOST, (uint32_t)a, (uint32_t)h);
}

static void gen_expr(struct lc *c, struct node *e, int dst);
static void gen_cond(struct lc *c, struct node *e, uint32_t l, bool sense);

/* The register holding e: a local's own, or a new temporary (*tmp). */
static int gen_call_at(struct lc *c, struct node *e, int dst, bool keep);

static int operand(struct lc *c, struct node *e, bool *tmp)
{
    if (e->kind == E_NAME && e->ref == R_LOCAL) {
        *tmp = false;
        return c->locals[e->sym].reg;
    }
    *tmp = true;
    /* a function's result is used where the call left it */
    if (e->kind == E_CALL && e->ref == R_FN && e->t.k != TY_VOID &&
        !c->gen_failed)
        return gen_call_at(c, e, -1, true);
    int r = reg_alloc(c, ty_vm(e->t));
    gen_expr(c, e, r);
    return r;
}

static void done(struct lc *c, int r, bool tmp)
{
    if (tmp)
        reg_free(c, r);
}

static void mov(struct lc *c, int dst, int src)
{
    if (dst != src)
        ins(c, OP_MOV, (uint32_t)dst, (uint32_t)src, 0);
}

/* The key of a store entry into register dst (bytes). */
static void gen_key(struct lc *c, const struct global *g, struct node *k,
                    int dst)
{
    if (!g->is_map) {
        load_str(c, dst, g->name, (uint32_t)strlen(g->name));
        return;
    }
    bool t;
    int kr = operand(c, k, &t);
    int pre = reg_alloc(c, 2);
    /* The constant table keeps the pointer: the prefix lives in the arena. */
    size_t n = strlen(g->name);
    char *name = arena_alloc(c, n + 2);
    if (!name) {
        c->gen_failed = true;
        return;
    }
    memcpy(name, g->name, n);
    name[n] = '/';
    load_str(c, pre, name, (uint32_t)n + 1);
    mark_pos(c, k);
    ins(c, OP_BCAT, (uint32_t)dst, (uint32_t)pre, (uint32_t)kr);
    reg_free(c, pre);
    done(c, kr, t);
}

static void gen_store_read(struct lc *c, struct node *e, int dst)
{
    const struct global *g = &c->globals[e->sym];
    static const uint8_t tb[1] = {2};
    int w = win_alloc(c, tb, 1);
    gen_key(c, g, e->kind == E_INDEX ? e->b : NULL, w);
    mark_pos(c, e);
    host(c, w, H_STORE_GET);
    if (g->t.k == TY_BYTES) {
        mov(c, dst, w);
    } else {
        int n = reg_alloc(c, 1);
        uint32_t l = new_label(c);
        ins(c, OP_BLEN, (uint32_t)n, (uint32_t)w, 0);
        load_int(c, dst, 0);
        j2(c, OP_JEQI, (uint32_t)n, 0, l);
        ins(c, OP_BTOI, (uint32_t)dst, (uint32_t)w, 0);
        place(c, l);
        reg_free(c, n);
    }
    win_free(c, w, 1);
}

/* Packs values into one bytes register (8 bytes each), or empty. */
static void gen_values(struct lc *c, struct node *v, int dst)
{
    if (!v) {
        load_str(c, dst, "", 0);
        return;
    }
    bool first = true;
    int tmp = -1;
    for (; v; v = v->next) {
        bool t;
        int r = operand(c, v, &t);
        mark_pos(c, v);
        if (first) {
            ins(c, OP_ITOB, (uint32_t)dst, (uint32_t)r, 0);
            first = false;
        } else {
            if (tmp < 0)
                tmp = reg_alloc(c, 2);
            ins(c, OP_ITOB, (uint32_t)tmp, (uint32_t)r, 0);
            ins(c, OP_BCAT, (uint32_t)dst, (uint32_t)dst, (uint32_t)tmp);
        }
        done(c, r, t);
    }
    if (tmp >= 0)
        reg_free(c, tmp);
}

static void gen_pair(struct lc *c, int *pair)
{
    static const uint8_t ii[2] = {1, 1};
    *pair = win_alloc(c, ii, 2);
}

static void gen_builtin(struct lc *c, struct node *e, int dst)
{
    struct node *a = e->a;
    bool t1, t2;
    int r1, r2;
    switch (e->aux) {
    case B_LEN:
        r1 = operand(c, a, &t1);
        mark_pos(c, e);
        ins(c, OP_BLEN, (uint32_t)dst, (uint32_t)r1, 0);
        if (a->t.k == TY_WIN)
            ins(c, OP_DIVI, (uint32_t)dst, (uint32_t)dst, 8);
        done(c, r1, t1);
        return;
    case B_SLICE: {
        r1 = operand(c, a, &t1);
        int p;
        gen_pair(c, &p);
        gen_expr(c, a->next, p);
        gen_expr(c, a->next->next, p + 1);
        mark_pos(c, e);
        ins(c, OP_BSUB, (uint32_t)dst, (uint32_t)r1, (uint32_t)p);
        win_free(c, p, 2);
        done(c, r1, t1);
        return;
    }
    case B_CAT:
        r1 = operand(c, a, &t1);
        r2 = operand(c, a->next, &t2);
        mark_pos(c, e);
        ins(c, OP_BCAT, (uint32_t)dst, (uint32_t)r1, (uint32_t)r2);
        done(c, r2, t2);
        done(c, r1, t1);
        return;
    case B_BYTES_OF:
        r1 = operand(c, a, &t1);
        mark_pos(c, e);
        ins(c, OP_ITOB, (uint32_t)dst, (uint32_t)r1, 0);
        done(c, r1, t1);
        return;
    case B_INT_OF:
        r1 = operand(c, a, &t1);
        mark_pos(c, e);
        ins(c, OP_BTOI, (uint32_t)dst, (uint32_t)r1, 0);
        done(c, r1, t1);
        return;
    case B_RESCALE: {
        r1 = operand(c, a, &t1);
        int from = a->t.scale, to = e->t.scale;
        mark_pos(c, e);
        if (from == to) {
            mov(c, dst, r1);
        } else {
            int64_t f = 1;
            for (int i = 0; i < (from < to ? to - from : from - to); i++)
                f *= 10;
            int k = reg_alloc(c, 1);
            load_int(c, k, f);
            ins(c, from < to ? OP_MUL : OP_DIV, (uint32_t)dst, (uint32_t)r1,
                (uint32_t)k);
            reg_free(c, k);
        }
        done(c, r1, t1);
        return;
    }
    case B_HEIGHT:
    case B_TIME:
    case B_SELF_ID:
    case B_CALLER: {
        uint8_t tt = e->t.k == TY_BYTES ? 2 : 1;
        int w = win_alloc(c, &tt, 1);
        mark_pos(c, e);
        host(c, w, e->aux == B_HEIGHT   ? H_BLOCK_HEIGHT
                   : e->aux == B_TIME   ? H_BLOCK_TIME
                   : e->aux == B_SELF_ID ? H_SELF_ID
                                         : H_CALLER);
        mov(c, dst, w);
        win_free(c, w, 1);
        return;
    }
    case B_SCORE: {
        static const uint8_t tt[3] = {1, 1, 2};
        int w = win_alloc(c, tt, 3);
        gen_expr(c, a, w + 2);
        load_int(c, w, a->next->ival);
        load_int(c, w + 1, a->next->next ? a->next->next->ival : 0);
        mark_pos(c, e);
        host(c, w, H_MODEL_SCORE);
        mov(c, dst, w);
        win_free(c, w, 3);
        return;
    }
    case B_DECIDE:
    case B_EMIT: {
        static const uint8_t tt[4] = {2, 2, 2, 2};
        bool dec = e->aux == B_DECIDE;
        uint32_t n = dec ? 4 : 3;
        int w = win_alloc(c, tt, n);
        gen_expr(c, a, w);
        struct node *v = a->next;
        if (dec) {
            gen_expr(c, v, w + 1);
            v = v->next;
        }
        gen_values(c, v, w + (int)n - 2);
        load_str(c, w + (int)n - 1, "", 0);
        mark_pos(c, e);
        host(c, w, dec ? H_DECIDE : H_EMIT);
        if (dec && dst >= 0)
            mov(c, dst, w);
        win_free(c, w, n);
        return;
    }
    case B_ABORT:
        r1 = operand(c, a, &t1);
        mark_pos(c, e);
        ins(c, OP_ABORT, (uint32_t)r1, 0, 0);
        done(c, r1, t1);
        return;
    default:
        return;
    }
}

/* Calls e; with keep, returns the window's first register, which holds
 * the result and stays allocated (the caller frees it), else -1. */
static int gen_call_at(struct lc *c, struct node *e, int dst, bool keep)
{
    const struct func *f = c->globals[e->sym].fn;
    uint8_t tt[WITAN_VM_PARAM_COUNT_MAX];
    uint32_t n = 0;
    if (f->hidden)
        tt[n++] = (uint8_t)ty_vm(f->result);
    for (uint32_t i = 0; i < f->param_count; i++)
        tt[n++] = (uint8_t)ty_vm(f->ptypes[i]);
    int w = 0;
    if (n == 0 && f->result.k != TY_VOID) {
        tt[0] = (uint8_t)ty_vm(f->result);
        w = win_alloc(c, tt, 1);
        n = 1;
    } else if (n > 0) {
        w = win_alloc(c, tt, n);
    }
    uint32_t i = f->hidden ? 1 : 0;
    for (struct node *a = e->a; a; a = a->next, i++)
        gen_expr(c, a, w + (int)i);
    mark_pos(c, e);
    ins_bx(c, OP_CALL, (uint32_t)w, f->index);
    if (keep) {
        win_free(c, w + 1, n - 1);
        return w;
    }
    if (dst >= 0 && f->result.k != TY_VOID)
        mov(c, dst, w);
    win_free(c, w, n);
    return -1;
}

static void gen_call(struct lc *c, struct node *e, int dst)
{
    gen_call_at(c, e, dst, false);
}

static void gen_member(struct lc *c, struct node *e, int dst)
{
    if (e->ref == R_FEED) {
        const struct global *g = &c->globals[e->sym];
        if (e->aux == 0) {
            static const uint8_t tt[4] = {1, 2, 2, 2};
            int w = win_alloc(c, tt, 4);
            gen_expr(c, e->b, w + 2);
            load_int(c, w, g->t.scale);
            load_str(c, w + 1, g->str, g->str_len);
            load_str(c, w + 3, g->str2, g->str2_len);
            mark_pos(c, e);
            host(c, w, H_FEED_LATEST);
            mov(c, dst, w);
            win_free(c, w, 4);
        } else {
            static const uint8_t tt[5] = {2, 2, 2, 1, 1};
            int w = win_alloc(c, tt, 5);
            gen_expr(c, e->b, w + 1);
            gen_expr(c, e->b->next, w + 3);
            load_str(c, w, g->str, g->str_len);
            load_str(c, w + 2, g->str2, g->str2_len);
            load_int(c, w + 4, g->t.scale);
            mark_pos(c, e);
            host(c, w, H_FEED_WINDOW);
            mov(c, dst, w);
            win_free(c, w, 5);
        }
        return;
    }
    /* The prediction. */
    int h;
    switch (e->aux) {
    case PF_OUTPUT:
    case PF_INPUT: {
        static const uint8_t tt[2] = {1, 1};
        const struct pred_name *p = &c->preds[e->sym];
        int w = win_alloc(c, tt, 2);
        mark_pos(c, e);
        load_int(c, w, p->index);
        load_int(c, w + 1, p->t.scale);
        host(c, w, e->aux == PF_OUTPUT ? H_PRED_OUTPUT : H_PRED_INPUT);
        mov(c, dst, w);
        win_free(c, w, 2);
        return;
    }
    case PF_SOURCE: {
        const struct pred_name *p = &c->preds[e->sym];
        uint8_t tb = 2;
        int w = win_alloc(c, &tb, 1);
        mark_pos(c, e);
        host(c, w, H_PRED_INPUT_TXS);
        int pr;
        gen_pair(c, &pr);
        load_int(c, pr, (int64_t)p->index * 32);
        load_int(c, pr + 1, 32);
        ins(c, OP_BSUB, (uint32_t)dst, (uint32_t)w, (uint32_t)pr);
        win_free(c, pr, 2);
        win_free(c, w, 1);
        return;
    }
    case PF_SUBJECT: h = H_PRED_SUBJECT; break;
    case PF_MODEL: h = H_PRED_MODEL; break;
    case PF_LABEL: h = H_PRED_LABEL; break;
    case PF_STATUS: h = H_PRED_STATUS; break;
    case PF_COMPUTED: h = H_PRED_COMPUTED; break;
    case PF_OUTPUTS: h = H_PRED_OUTPUT_COUNT; break;
    default: h = H_PRED_INPUT_COUNT; break;
    }
    uint8_t tt = (uint8_t)ty_vm(e->t);
    int w = win_alloc(c, &tt, 1);
    mark_pos(c, e);
    host(c, w, h);
    mov(c, dst, w);
    win_free(c, w, 1);
}

static bool is_cond(const struct node *e)
{
    return e->kind == E_NOT || e->kind == E_AND || e->kind == E_OR ||
           (e->kind == E_BIN && e->op >= P_EQ && e->op <= P_GE);
}

static void gen_expr(struct lc *c, struct node *e, int dst)
{
    bool t1, t2;
    int r1, r2;
    if (c->gen_failed)
        return;
    switch (e->kind) {
    case E_INT:
    case E_DEC:
    case E_BOOL:
        mark_pos(c, e);
        load_int(c, dst, e->ival);
        return;
    case E_STR:
        mark_pos(c, e);
        load_str(c, dst, e->str, e->str_len);
        return;
    case E_NAME:
        mark_pos(c, e);
        if (e->ref == R_LOCAL) {
            mov(c, dst, c->locals[e->sym].reg);
        } else if (e->ref == R_CONST) {
            const struct global *g = &c->globals[e->sym];
            if (g->t.k == TY_BYTES)
                load_str(c, dst, g->str, g->str_len);
            else
                load_int(c, dst, g->ival);
        } else if (e->ref == R_LABEL) {
            load_int(c, dst, c->globals[e->sym].ival);
        } else {
            gen_store_read(c, e, dst);
        }
        return;
    case E_CALL:
        if (e->ref == R_BUILTIN)
            gen_builtin(c, e, dst);
        else
            gen_call(c, e, dst);
        return;
    case E_MEMBER:
        gen_member(c, e, dst);
        return;
    case E_INDEX:
        if (e->ref == R_STORE) {
            gen_store_read(c, e, dst);
            return;
        }
        r1 = operand(c, e->a, &t1);
        if (e->a->t.k == TY_BYTES) {
            r2 = operand(c, e->b, &t2);
            mark_pos(c, e);
            ins(c, OP_BGET, (uint32_t)dst, (uint32_t)r1, (uint32_t)r2);
            done(c, r2, t2);
        } else {
            int p;
            gen_pair(c, &p);
            gen_expr(c, e->b, p);
            mark_pos(c, e);
            ins(c, OP_MULI, (uint32_t)p, (uint32_t)p, 8);
            load_int(c, p + 1, 8);
            int b = reg_alloc(c, 2);
            ins(c, OP_BSUB, (uint32_t)b, (uint32_t)r1, (uint32_t)p);
            ins(c, OP_BTOI, (uint32_t)dst, (uint32_t)b, 0);
            reg_free(c, b);
            win_free(c, p, 2);
        }
        done(c, r1, t1);
        return;
    case E_NEG:
        r1 = operand(c, e->a, &t1);
        mark_pos(c, e);
        ins(c, OP_NEG, (uint32_t)dst, (uint32_t)r1, 0);
        done(c, r1, t1);
        return;
    case E_BIN:
        if (!is_cond(e) || e->a->t.k == TY_NUM || e->a->t.k == TY_BOOL) {
            int op = 0;
            bool swap = false;
            switch (e->op) {
            case P_PLUS: op = OP_ADD; break;
            case P_MINUS: op = OP_SUB; break;
            case P_STAR: op = OP_MUL; break;
            case P_SLASH: op = OP_DIV; break;
            case P_PERCENT: op = OP_MOD; break;
            case P_EQ: op = OP_EQ; break;
            case P_NE: op = OP_NE; break;
            case P_LT: op = OP_LT; break;
            case P_LE: op = OP_LE; break;
            case P_GT: op = OP_LT; swap = true; break;
            case P_GE: op = OP_LE; swap = true; break;
            default: break;
            }
            r1 = operand(c, e->a, &t1);
            /* x + k and x - k with a small literal k: one addi */
            if ((e->op == P_PLUS || e->op == P_MINUS) && is_lit(e->b) &&
                e->b->ival >= -127 && e->b->ival <= 127) {
                int64_t k = e->op == P_PLUS ? e->b->ival : -e->b->ival;
                mark_pos(c, e);
                ins(c, OP_ADDI, (uint32_t)dst, (uint32_t)r1,
                    (uint32_t)(uint8_t)(int8_t)k);
                done(c, r1, t1);
                return;
            }
            r2 = operand(c, e->b, &t2);
            mark_pos(c, e);
            if (swap)
                ins(c, op, (uint32_t)dst, (uint32_t)r2, (uint32_t)r1);
            else
                ins(c, op, (uint32_t)dst, (uint32_t)r1, (uint32_t)r2);
            done(c, r2, t2);
            done(c, r1, t1);
            return;
        }
        /* fall through: bytes comparisons */
        /* FALLTHROUGH */
    case E_NOT:
    case E_AND:
    case E_OR: {
        uint32_t lf = new_label(c), le = new_label(c);
        gen_cond(c, e, lf, false);
        mark_pos(c, e);
        load_int(c, dst, 1);
        jmp(c, le);
        place(c, lf);
        load_int(c, dst, 0);
        place(c, le);
        return;
    }
    default:
        return;
    }
}

/* Jumps to l when e's value is `sense`; falls through otherwise. */
static void gen_cond(struct lc *c, struct node *e, uint32_t l, bool sense)
{
    if (c->gen_failed)
        return;
    switch (e->kind) {
    case E_BOOL:
        if ((e->ival != 0) == sense) {
            mark_pos(c, e);
            jmp(c, l);
        }
        return;
    case E_NOT:
        gen_cond(c, e->a, l, !sense);
        return;
    case E_AND:
    case E_OR: {
        bool and = e->kind == E_AND;
        if (and != sense) {
            /* and/false, or/true: either operand decides. */
            gen_cond(c, e->a, l, sense);
            gen_cond(c, e->b, l, sense);
        } else {
            uint32_t skip = new_label(c);
            gen_cond(c, e->a, skip, !sense);
            gen_cond(c, e->b, l, sense);
            place(c, skip);
        }
        return;
    }
    case E_BIN:
        if (e->op >= P_EQ && e->op <= P_GE &&
            (e->a->t.k == TY_NUM || e->a->t.k == TY_BOOL)) {
            bool t1, t2;
            int op = e->op;
            if (!sense) /* jump when false: the negated comparison */
                op = op == P_EQ   ? P_NE
                     : op == P_NE ? P_EQ
                     : op == P_LT ? P_GE
                     : op == P_LE ? P_GT
                     : op == P_GT ? P_LE
                                  : P_LT;
            int r1 = operand(c, e->a, &t1);
            /* against a small literal: the immediate forms */
            if (is_lit(e->b) && e->b->ival >= -128 && e->b->ival <= 127) {
                static const int imm[] = {OP_JEQI, OP_JNEI, OP_JLTI,
                                          OP_JLEI, OP_JGTI, OP_JGEI};
                mark_pos(c, e);
                j2(c, imm[op - P_EQ], (uint32_t)r1,
                   (uint32_t)(uint8_t)(int8_t)e->b->ival, l);
                done(c, r1, t1);
                return;
            }
            int r2 = operand(c, e->b, &t2);
            mark_pos(c, e);
            switch (op) {
            case P_EQ: j2(c, OP_JEQ, (uint32_t)r1, (uint32_t)r2, l); break;
            case P_NE: j2(c, OP_JNE, (uint32_t)r1, (uint32_t)r2, l); break;
            case P_LT: j2(c, OP_JLT, (uint32_t)r1, (uint32_t)r2, l); break;
            case P_LE: j2(c, OP_JLE, (uint32_t)r1, (uint32_t)r2, l); break;
            case P_GT: j2(c, OP_JLT, (uint32_t)r2, (uint32_t)r1, l); break;
            default: j2(c, OP_JLE, (uint32_t)r2, (uint32_t)r1, l); break;
            }
            done(c, r2, t2);
            done(c, r1, t1);
            return;
        }
        if (e->op == P_EQ || e->op == P_NE) { /* bytes */
            bool t1, t2;
            int r1 = operand(c, e->a, &t1);
            int r2 = operand(c, e->b, &t2);
            int t = reg_alloc(c, 1);
            mark_pos(c, e);
            ins(c, OP_BEQ, (uint32_t)t, (uint32_t)r1, (uint32_t)r2);
            bool jump_if_equal = (e->op == P_EQ) == sense;
            jz(c, jump_if_equal ? OP_JNZ : OP_JZ, (uint32_t)t, l);
            reg_free(c, t);
            done(c, r2, t2);
            done(c, r1, t1);
            return;
        }
        break;
    default:
        break;
    }
    bool t;
    int r = operand(c, e, &t);
    mark_pos(c, e);
    jz(c, sense ? OP_JNZ : OP_JZ, (uint32_t)r, l);
    done(c, r, t);
}

static void gen_block(struct lc *c, struct node *b);
static bool ends_flow(const struct node *b);

static void gen_stmt(struct lc *c, struct node *s)
{
    if (c->gen_failed)
        return;
    switch (s->kind) {
    case S_BLOCK:
        gen_block(c, s);
        return;
    case S_LET: {
        int r = reg_alloc(c, ty_vm(s->t));
        gen_expr(c, s->a, r);
        c->locals[s->sym].reg = r;
        return;
    }
    case S_ASSIGN:
        if (s->ref == R_LOCAL) {
            gen_expr(c, s->a, c->locals[s->sym].reg);
        } else {
            const struct global *g = &c->globals[s->sym];
            static const uint8_t tt[2] = {2, 2};
            int w = win_alloc(c, tt, 2);
            gen_key(c, g, s->b, w);
            if (g->t.k == TY_BYTES) {
                gen_expr(c, s->a, w + 1);
            } else {
                bool t;
                int r = operand(c, s->a, &t);
                ins(c, OP_ITOB, (uint32_t)w + 1, (uint32_t)r, 0);
                done(c, r, t);
            }
            mark_pos(c, s);
            host(c, w, H_STORE_PUT);
            win_free(c, w, 2);
        }
        return;
    case S_CLEAR: {
        uint8_t tb = 2;
        int w = win_alloc(c, &tb, 1);
        gen_key(c, &c->globals[s->sym], s->b, w);
        mark_pos(c, s);
        host(c, w, H_STORE_DEL);
        win_free(c, w, 1);
        return;
    }
    case S_IF: {
        uint32_t lelse = new_label(c);
        gen_cond(c, s->a, lelse, false);
        gen_block(c, s->b);
        if (s->c) {
            uint32_t lend = new_label(c);
            mark_pos(c, s);
            if (!ends_flow(s->b)) /* else a jump past the end of the code */
                jmp(c, lend);
            place(c, lelse);
            gen_stmt(c, s->c);
            place(c, lend);
        } else {
            place(c, lelse);
        }
        return;
    }
    case S_FOR: {
        int i = reg_alloc(c, 1), end = reg_alloc(c, 1);
        gen_expr(c, s->a, i);
        gen_expr(c, s->b, end);
        c->locals[s->sym].reg = i;
        uint32_t top = new_label(c), exit = new_label(c);
        mark_pos(c, s);
        j2(c, OP_JLE, (uint32_t)end, (uint32_t)i, exit);
        place(c, top);
        gen_block(c, s->c);
        mark_pos(c, s);
        ins(c, OP_ADDI, (uint32_t)i, (uint32_t)i, 1);
        j2(c, OP_JLT, (uint32_t)i, (uint32_t)end, top);
        place(c, exit);
        reg_free(c, end);
        reg_free(c, i);
        return;
    }
    case S_FORW: {
        int w = reg_alloc(c, 2), n = reg_alloc(c, 1), x = reg_alloc(c, 1);
        int b = reg_alloc(c, 2);
        int p;
        gen_pair(c, &p);
        gen_expr(c, s->a, w);
        mark_pos(c, s);
        ins(c, OP_BLEN, (uint32_t)n, (uint32_t)w, 0);
        load_int(c, p, 0);
        load_int(c, p + 1, 8);
        c->locals[s->sym].reg = x;
        uint32_t top = new_label(c), exit = new_label(c);
        place(c, top);
        j2(c, OP_JLE, (uint32_t)n, (uint32_t)p, exit);
        ins(c, OP_BSUB, (uint32_t)b, (uint32_t)w, (uint32_t)p);
        ins(c, OP_BTOI, (uint32_t)x, (uint32_t)b, 0);
        gen_block(c, s->c);
        mark_pos(c, s);
        ins(c, OP_ADDI, (uint32_t)p, (uint32_t)p, 8);
        jmp(c, top);
        place(c, exit);
        win_free(c, p, 2);
        reg_free(c, b);
        reg_free(c, x);
        reg_free(c, n);
        reg_free(c, w);
        return;
    }
    case S_RETURN:
        if (s->a) {
            bool t;
            int r = operand(c, s->a, &t);
            mark_pos(c, s);
            ins(c, OP_RET, (uint32_t)r, 0, 0);
            done(c, r, t);
        } else {
            mark_pos(c, s);
            ins(c, OP_RETV, 0, 0, 0);
        }
        return;
    case S_EXPR: {
        struct node *e = s->a;
        if (e->t.k == TY_VOID || (e->ref == R_BUILTIN && e->aux == B_DECIDE) ||
            e->ref == R_FN) {
            /* The result, if any, stays in the call's window. */
            if (e->ref == R_BUILTIN)
                gen_builtin(c, e, -1);
            else
                gen_call(c, e, -1);
        } else {
            int r = reg_alloc(c, ty_vm(e->t));
            gen_expr(c, e, r);
            reg_free(c, r);
        }
        return;
    }
    default:
        return;
    }
}

static void gen_block(struct lc *c, struct node *b)
{
    for (struct node *s = b->a; s; s = s->next) {
        gen_stmt(c, s);
        if (s->kind == S_LET)
            continue;
    }
    /* Registers of this block's lets are freed at its end. */
    for (struct node *s = b->a; s; s = s->next)
        if (s->kind == S_LET && s->sym >= 0)
            reg_free(c, c->locals[s->sym].reg);
}

/* Whether s always leaves the function: the checker's rule again. */
static bool stmt_ends(const struct node *s)
{
    switch (s->kind) {
    case S_RETURN:
        return true;
    case S_EXPR:
        return s->a->ref == R_BUILTIN && s->a->aux == B_ABORT;
    case S_BLOCK:
        return ends_flow(s);
    case S_IF:
        return s->c && ends_flow(s->b) && stmt_ends(s->c);
    default:
        return false;
    }
}

static bool ends_flow(const struct node *b)
{
    const struct node *last = NULL;
    for (const struct node *s = b->a; s; s = s->next)
        last = s;
    return last && stmt_ends(last);
}

/* Locals are numbered in check order; generation walks the same tree, so
 * each S_LET/S_FOR keeps the index the checker gave it. */
static void gen_func(struct lc *c, struct func *f)
{
    struct fgen *g = c->g;
    memset(g->used, 0, sizeof g->used);
    memset(g->regtype, 0, sizeof g->regtype);
    g->failed = false;
    g->nwords = g->nregs = g->nlabels = g->nfix = g->nhost = 0;
    g->map_line = g->map_col = 0;
    c->cur = f;
    c->nlocals = 0;
    uint32_t np = 0;
    if (f->hidden) {
        g->regtype[np] = (uint8_t)ty_vm(f->result);
        g->used[np++] = true;
    }
    for (uint32_t i = 0; i < f->param_count; i++) {
        g->regtype[np] = (uint8_t)ty_vm(f->ptypes[i]);
        g->used[np] = true;
        c->locals[i].reg = (int)np++;
    }
    g->nregs = np;
    buf_printf(&c->map, "func %u %s\n", f->index, f->name);
    g->cur_line = f->line;
    g->cur_col = f->col;
    /* bool entry parameters are 1 or 0 from here on. */
    if (f->kind == G_ENTRY)
        for (uint32_t i = 0; i < f->param_count; i++)
            if (f->ptypes[i].k == TY_BOOL) {
                int z = reg_alloc(c, 1);
                load_int(c, z, 0);
                ins(c, OP_NE, (uint32_t)c->locals[i].reg,
                    (uint32_t)c->locals[i].reg, (uint32_t)z);
                reg_free(c, z);
            }
    gen_block(c, f->body);
    if (!ends_flow(f->body)) {
        g->cur_line = f->body->line;
        g->cur_col = f->body->col;
        ins(c, OP_RETV, 0, 0, 0);
    }
    if (g->failed)
        return;
    /* Jumps. */
    for (uint32_t i = 0; i < g->nfix; i++) {
        struct fixup *x = &g->fix[i];
        uint32_t words = x->form == 2 ? 2 : 1;
        int64_t off = (int64_t)g->labels[x->label] - (x->at + words);
        if (x->form == 0)
            g->words[x->at] |= ((uint32_t)off & 0xffffff) << 8;
        else if (x->form == 1)
            g->words[x->at] |= ((uint32_t)off & 0xffff) << 16;
        else
            g->words[x->at + 1] = (uint32_t)off;
    }
    /* The function's entry in the module. */
    struct buf *b = &c->code;
    buf_u8(b, np);
    buf_u8(b, f->result.k == TY_VOID ? 0u : (uint32_t)ty_vm(f->result));
    buf_u16(b, g->nregs);
    buf_put(b, g->regtype, g->nregs);
    buf_u32(b, g->nwords);
    size_t base = b->n;
    for (uint32_t i = 0; i < g->nwords; i++)
        buf_u32(b, g->words[i]);
    for (uint32_t i = 0; i < g->nhost; i++) {
        if (c->nhost_fix == sizeof c->host_fix / sizeof c->host_fix[0]) {
            gfail(c, "function too large: '%s'", f->name);
            return;
        }
        c->host_fix[c->nhost_fix++] = (uint32_t)(base + 4 * g->host_at[i]);
    }
}

static int gen_program(struct lc *c, const vm_host *hosttab,
                       lang_output *out)
{
    c->g = calloc(1, sizeof *c->g);
    if (!c->g)
        return WITAN_ENOMEM;
    const char *base = strrchr(c->file, '/');
    buf_printf(&c->map, "wcl-source-map 1\nfile %s\n", base ? base + 1 : c->file);
    /* Locals are re-created in the same order as checking did. */
    struct func *order[LANG_FUNC_COUNT_MAX];
    uint32_t n = 0;
    if (c->handler)
        order[n++] = c->handler;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < c->nfuncs; i++)
            if (c->funcs[i]->kind == (pass == 0 ? G_ENTRY : G_FN))
                order[n++] = c->funcs[i];
    for (uint32_t i = 0; i < n && !c->gen_failed; i++) {
        /* The checker assigned local indices per function from 0 in tree
         * order; re-run it on this function so c->locals matches. */
        struct func *f = order[i];
        c->cur = f;
        c->nlocals = 0;
        c->scope = 0;
        for (uint32_t p = 0; p < f->param_count; p++)
            add_local(c, f->pnames[p], f->ptypes[p], true, 0, 0);
        gen_func(c, f);
    }
    free(c->g);
    c->g = NULL;
    if (c->gen_failed)
        return WITAN_ECOMPILE;
    /* Imports in host-table order; patch each host instruction's index. */
    uint32_t imp_index[H_COUNT_], nimp = 0;
    for (int h = 0; h < H_COUNT_; h++)
        if (c->host_used[h])
            imp_index[h] = nimp++;
    for (uint32_t i = 0; i < c->nhost_fix; i++) {
        uint8_t *w = c->code.p + c->host_fix[i];
        uint32_t h = (uint32_t)w[2] | (uint32_t)w[3] << 8;
        w[2] = (uint8_t)imp_index[h];
        w[3] = (uint8_t)(imp_index[h] >> 8);
    }
    struct buf m = {0};
    buf_put(&m, "\0wvm", 4);
    buf_u32(&m, 1);
    buf_u16(&m, c->nints);
    for (uint32_t i = 0; i < c->nints; i++) {
        uint64_t v = (uint64_t)c->ints[i];
        buf_u32(&m, (uint32_t)v);
        buf_u32(&m, (uint32_t)(v >> 32));
    }
    buf_u16(&m, c->nstrs);
    for (uint32_t i = 0; i < c->nstrs; i++) {
        buf_u32(&m, c->str_lens[i]);
        buf_put(&m, c->strs[i], c->str_lens[i]);
    }
    buf_u16(&m, nimp);
    for (int h = 0; h < H_COUNT_; h++) {
        if (!c->host_used[h])
            continue;
        const vm_host_func *hf = NULL;
        for (uint32_t k = 0; k < hosttab->count; k++)
            if (strcmp(hosttab->funcs[k].name, host_names[h]) == 0)
                hf = &hosttab->funcs[k];
        WITAN_ASSERT(hf != NULL);
        buf_u8(&m, (uint32_t)strlen(hf->name));
        buf_put(&m, hf->name, strlen(hf->name));
        buf_u8(&m, (uint32_t)strlen(hf->params));
        for (const char *p = hf->params; *p; p++)
            buf_u8(&m, *p == 'i' ? 1 : 2);
        buf_u8(&m, hf->result == 'i' ? 1 : hf->result == 'b' ? 2 : 0);
    }
    buf_u16(&m, n);
    buf_put(&m, c->code.p, c->code.n);
    uint32_t nexp = 0;
    for (uint32_t i = 0; i < n; i++)
        nexp += order[i]->kind != G_FN;
    buf_u16(&m, nexp);
    for (uint32_t i = 0; i < n; i++) {
        if (order[i]->kind == G_FN)
            continue;
        buf_u8(&m, (uint32_t)strlen(order[i]->name));
        buf_put(&m, order[i]->name, strlen(order[i]->name));
        buf_u16(&m, order[i]->index);
    }
    if (m.oom || c->code.oom || c->map.oom) {
        free(m.p);
        return WITAN_ENOMEM;
    }
    if (m.n > WITAN_VM_MODULE_SIZE_MAX) {
        error_at(c, 1, 1, "module over 49152 bytes (%zu)", m.n);
        free(m.p);
        return WITAN_ECOMPILE;
    }
    vm_module *vm;
    vm_verify_error ve;
    int e = vm_module_load(m.p, m.n, hosttab, &vm, &ve);
    if (e == WITAN_EVERIFY) {
        error_at(c, 1, 1, "internal error: the VM refuses the module: %s at "
                          "byte %u",
                 vm_verify_reason_text(ve.reason), ve.offset);
        free(m.p);
        return WITAN_ECOMPILE;
    }
    if (e) {
        free(m.p);
        return e;
    }
    vm_module_free(vm);
    out->module = m.p;
    out->module_size = m.n;
    return 0;
}

/* ------------------------------------------------------------------ public */

static void free_arena(struct lc *c)
{
    while (c->arena) {
        struct arena_chunk *k = c->arena;
        c->arena = k->next;
        free(k);
    }
}

int lang_compile(const char *file, const char *src, size_t size,
                 uint32_t version, bool check_only, lang_output *out)
{
    if (!file || (!src && size) || !out)
        return WITAN_EINVAL;
    memset(out, 0, sizeof *out);
    if (version != LANG_COMPILER_VERSION)
        return WITAN_EUNSUPPORTED;
    struct lc *c = calloc(1, sizeof *c);
    if (!c)
        return WITAN_ENOMEM;
    c->file = file;
    c->src = src ? src : "";
    c->size = size;
    c->line = 1;
    c->col = 1;
    int rc = 0;
    if (size > LANG_SOURCE_SIZE_MAX) {
        c->size = 0;
        error_at(c, 1, 1, "source over 262144 bytes");
        rc = WITAN_ELIMIT;
    } else {
        parse_program(c);
        if (c->errors == 0 && !c->oom)
            check_program(c);
        if (c->errors == 0 && !c->oom && !check_only) {
            uint32_t count;
            vm_host h = {contract_host_funcs(&count), 0, NULL};
            h.count = count;
            rc = gen_program(c, &h, out);
        }
    }
    if (c->oom || c->err.oom)
        rc = WITAN_ENOMEM;
    else if (c->errors && !rc)
        rc = WITAN_ECOMPILE;
    if (c->too_many)
        buf_printf(&c->err, "%s: too many errors: %u, the first %u shown\n",
                   file, c->errors, LANG_ERROR_COUNT_MAX);
    out->error_count = c->errors;
    out->errors = (char *)c->err.p;
    if (rc == 0 && !check_only) {
        out->source_map = (char *)c->map.p;
        out->source_map_size = c->map.n;
    } else {
        free(c->map.p);
    }
    if (rc && out->module) {
        free(out->module);
        out->module = NULL;
        out->module_size = 0;
    }
    free(c->code.p);
    free_arena(c);
    free(c);
    return rc;
}

void lang_output_free(lang_output *out)
{
    if (!out)
        return;
    free(out->module);
    free(out->source_map);
    free(out->errors);
    memset(out, 0, sizeof *out);
}

const char *lang_compiler_id(void)
{
#define LANG_STR_(x) #x
#define LANG_STR(x) LANG_STR_(x)
    return LANG_COMPILER_NAME " " LANG_STR(LANG_COMPILER_VERSION);
}

int lang_compiler_parse(const char *field, uint32_t *version)
{
    size_t n = strlen(LANG_COMPILER_NAME);
    if (!field || !version || strncmp(field, LANG_COMPILER_NAME, n) != 0 ||
        field[n] != ' ' || !is_digit((unsigned char)field[n + 1]))
        return WITAN_EINVAL;
    uint64_t v = 0;
    const char *p = field + n + 1;
    for (; is_digit((unsigned char)*p); p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return WITAN_EINVAL;
    }
    if (*p)
        return WITAN_EINVAL;
    *version = (uint32_t)v;
    return 0;
}

int lang_map_lookup(const char *map, size_t map_size, uint32_t func,
                    uint32_t word, uint32_t *line, uint32_t *col)
{
    if (!map || !line || !col)
        return WITAN_EINVAL;
    static const char magic[] = "wcl-source-map 1\n";
    if (map_size < sizeof magic - 1 || memcmp(map, magic, sizeof magic - 1))
        return WITAN_EDECODE;
    size_t at = 0;
    bool in = false, found = false;
    while (at < map_size) {
        const char *nl = memchr(map + at, '\n', map_size - at);
        size_t n = nl ? (size_t)(nl - (map + at)) : map_size - at;
        char lbuf[128];
        if (n < sizeof lbuf) {
            memcpy(lbuf, map + at, n);
            lbuf[n] = 0;
            unsigned a, b, cc;
            if (strncmp(lbuf, "func ", 5) == 0) {
                in = sscanf(lbuf + 5, "%u", &a) == 1 && a == func;
            } else if (in && sscanf(lbuf, "%u %u %u", &a, &b, &cc) == 3) {
                if (a > word)
                    break;
                *line = b;
                *col = cc;
                found = true;
            }
        }
        at += n + 1;
    }
    return found ? 0 : WITAN_ENOTFOUND;
}
