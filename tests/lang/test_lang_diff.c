/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential test of the contract-language compiler: random well-typed
 * programs (ints, decimals of several scales with literal widening and
 * rescale, bools with short-circuit and/or, bytes with cat/slice/index,
 * let, assignment, if/else, for over ranges, helper functions, return,
 * abort; feeds read whole and as windows, indexed and iterated with for;
 * the contract's storage, plain and keyed, read and written) are generated as a typed tree, printed as source, compiled and run
 * on the VM, and also evaluated by a reference interpreter over the same
 * tree written from spec/language.md (not from the compiler). The two must
 * agree on the result, the trap and the trap's source line (through the
 * source map). Programs run through contract_run against an in-memory
 * state whose feed gives known values. LANG_DIFF_COUNT programs in `make test`; LANG_DIFF_COUNT=N
 * in the environment runs more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "crypto/crypto.h"
#include "tests/lang/lt.h"

#define LANG_DIFF_COUNT 5000
#define DIFF_SRC_MAX (64 * 1024)
#define DIFF_NODE_MAX 8192
#define DIFF_VAR_MAX 64
#define DIFF_FN_MAX 3
#define DIFF_BYTES_MAX 512      /* a bytes value the reference keeps */
#define DIFF_HEAP_MAX (256 * 1024)
#define DIFF_STEP_MAX 200000    /* statements a reference run executes */

/* --- random numbers (xorshift, seeded per program) -------------------------- */

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int pick(int n) { return (int)(rnd() % (uint64_t)n); }

/* --- the typed tree ------------------------------------------------------ */

enum dty { D_INT, D_DEC2, D_DEC3, D_BOOL, D_BYTES, D_NTY, D_WIN };
static int dscale(int t) { return t == D_DEC2 ? 2 : t == D_DEC3 ? 3 : 0; }

enum dk {
    X_LIT, X_STR, X_VAR, X_ADD, X_SUB, X_MUL, X_DIV, X_MOD, X_NEG, X_LT,
    X_LE, X_GT, X_GE, X_EQ, X_NE, X_AND, X_OR, X_NOT, X_LEN, X_INDEX,
    X_INT_OF, X_BYTES_OF, X_CAT, X_SLICE, X_RESCALE, X_CALL,
    X_LATEST, X_WINDOW, X_WLEN, X_WIDX, X_SREAD, X_MREAD,
    /* statements */
    S_LET_, S_SET, S_IF_, S_FOR_, S_RET, S_ABORT, S_FORW, S_SPUT, S_MPUT
};

struct dn {
    int k, t;           /* kind, type (enum dty) */
    int64_t v;          /* literal value at the type's scale */
    int var, fn, line;
    char str[80];
    struct dn *a, *b, *c, *next; /* S_IF_: a cond, b then, c else */
};

static struct dn pool[DIFF_NODE_MAX];
static int npool;
static bool overflowed;

static struct dn *nn(int k, int t)
{
    if (npool == DIFF_NODE_MAX) {
        overflowed = true;
        npool = 0;
    }
    struct dn *n = &pool[npool++];
    memset(n, 0, sizeof *n);
    n->k = k;
    n->t = t;
    return n;
}

/* --- generation (into the tree and the source text at once) ------------- */

static char src[DIFF_SRC_MAX];
static size_t slen;
static int line;

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(src + slen, sizeof src - slen, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof src - slen) {
        for (int i = 0; i < n; i++)
            if (src[slen + i] == '\n')
                line++;
        slen += (size_t)n;
    } else {
        overflowed = true;
    }
}

struct var {
    int t;
    bool ro;
};
static struct var vars[DIFF_VAR_MAX]; /* of the function being made */
static int nvars;
static bool visible[DIFF_VAR_MAX];
static int cur_fn, nfns;

static int var_of(int t, bool writable)
{
    int c[DIFF_VAR_MAX], n = 0;
    for (int i = 0; i < nvars; i++)
        if (visible[i] && vars[i].t == t && (!writable || !vars[i].ro))
            c[n++] = i;
    return n ? c[pick(n)] : -1;
}

static const char *tname(int t)
{
    static const char *const n[] = {"int", "dec(2)", "dec(3)", "bool",
                                    "bytes", "?", "window(int)"};
    return n[t];
}

static struct dn *expr(int t, int depth);

static int64_t small(void)
{
    static const int64_t edge[] = {0, 1, -1, 2, 7, 100, -128, 127, 32767,
                                   -32768, 40000, INT64_MAX, -INT64_MAX,
                                   INT64_MAX / 2, 3037000499LL};
    return pick(3) ? (int64_t)pick(21) - 10 : edge[pick(15)];
}

/* The next literal is printed with all its type's decimal places (where
 * the checker takes a literal's own scale: a left operand, a negated or
 * rescaled one, bytes_of's argument). */
static bool exact_next;

static struct dn *lit(int t, bool exact)
{
    struct dn *n = nn(X_LIT, t);
    if (t == D_BOOL) {
        n->v = pick(2);
        out("%s", n->v ? "true" : "false");
        return n;
    }
    if (t == D_INT) {
        n->v = small();
        if (n->v < 0)
            out("(-%lld)", (long long)-(n->v));
        else
            out("%lld", (long long)n->v);
        return n;
    }
    /* a decimal literal of scale k <= the type's, widened */
    int s = dscale(t), k = exact ? s : pick(s + 1);
    int64_t m = (int64_t)pick(20001) - 10000;
    int64_t w = m;
    for (int i = k; i < s; i++)
        w *= 10;
    n->v = w;
    int64_t am = m < 0 ? -m : m, p = 1;
    for (int i = 0; i < k; i++)
        p *= 10;
    if (m < 0)
        out("(-");
    if (k == 0)
        out("%lld", (long long)am);
    else
        out("%lld.%0*lld", (long long)(am / p), k, (long long)(am % p));
    if (m < 0)
        out(")");
    return n;
}

static struct dn *bin(int k, int t, int ta, int tb, const char *op, int depth)
{
    struct dn *n = nn(k, t);
    out("(");
    /* A literal on the left has its type's exact scale: two literals are
     * widened to the left one's (section 4). */
    exact_next = true;
    n->a = expr(ta, depth > 0 ? depth - 1 : 0);
    out(" %s ", op);
    n->b = expr(tb, depth > 0 ? depth - 1 : 0);
    out(")");
    return n;
}

static struct dn *expr(int t, int depth)
{
    bool exact = exact_next;
    exact_next = false;
    if (overflowed)
        return nn(X_LIT, t);
    int choice = depth <= 0 ? pick(2) : pick(12);
    if (choice == 0 || (choice == 1 && var_of(t, false) < 0)) {
        if (t == D_BYTES) {
            struct dn *n = nn(X_STR, t);
            int len = pick(10);
            for (int i = 0; i < len; i++)
                n->str[i] = (char)('a' + pick(26));
            n->str[len] = 0;
            out("\"%s\"", n->str);
            return n;
        }
        return lit(t, exact);
    }
    if (choice == 1) {
        struct dn *n = nn(X_VAR, t);
        n->var = var_of(t, false);
        out("v%d", n->var);
        return n;
    }
    struct dn *n;
    switch (t) {
    case D_INT:
        switch (pick(15)) {
        case 12: /* a feed's newest value, of subject s1..s3 */
            n = nn(X_LATEST, t);
            n->v = 1 + pick(3);
            out("fx.latest(\"s%lld\")", (long long)n->v);
            return n;
        case 13: {
            int w = var_of(D_WIN, false);
            if (w < 0) {
                n = nn(X_SREAD, t);
                out("s0");
                return n;
            }
            if (pick(2)) {
                n = nn(X_WLEN, t);
                n->var = w;
                out("len(v%d)", w);
                return n;
            }
            n = nn(X_WIDX, t);
            n->var = w;
            out("v%d[", w);
            n->a = expr(D_INT, depth - 1);
            out("]");
            return n;
        }
        case 14:
            n = nn(X_MREAD, t);
            out("m0[");
            n->a = expr(D_BYTES, depth - 1);
            out("]");
            return n;
        case 0: return bin(X_ADD, t, t, t, "+", depth);
        case 1: return bin(X_SUB, t, t, t, "-", depth);
        case 2: return bin(X_MUL, t, t, t, "*", depth);
        case 3: return bin(X_DIV, t, t, t, "/", depth);
        case 4: return bin(X_MOD, t, t, t, "%", depth);
        case 5:
            n = nn(X_NEG, t);
            out("-(");
            exact_next = true;
            n->a = expr(t, depth - 1);
            out(")");
            return n;
        case 6:
            n = nn(X_LEN, t);
            out("len(");
            n->a = expr(D_BYTES, depth - 1);
            out(")");
            return n;
        case 7:
            n = nn(X_INDEX, t);
            out("(");
            n->a = expr(D_BYTES, depth - 1);
            out(")[");
            n->b = expr(D_INT, depth - 1);
            out("]");
            return n;
        case 8:
            n = nn(X_INT_OF, t);
            out("int_of(");
            if (pick(3)) { /* mostly 8 bytes: a value, not a trap */
                struct dn *b = nn(X_BYTES_OF, D_BYTES);
                out("bytes_of(");
                b->a = expr(D_INT, depth - 1);
                out(")");
                n->a = b;
            } else {
                n->a = expr(D_BYTES, depth - 1);
            }
            out(")");
            return n;
        case 9:
            n = nn(X_RESCALE, t);
            n->a = NULL;
            out("rescale(");
            exact_next = true;
            n->a = expr(pick(2) ? D_DEC2 : D_DEC3, depth - 1);
            out(", 0)");
            return n;
        default:
            if (cur_fn == 0)
                return bin(X_ADD, t, t, t, "+", depth);
            n = nn(X_CALL, t);
            n->fn = pick(cur_fn);
            out("h%d(", n->fn);
            n->a = expr(D_INT, depth - 1);
            out(", ");
            n->b = expr(D_INT, depth - 1);
            out(")");
            return n;
        }
    case D_DEC2:
    case D_DEC3:
        if (t == D_DEC2 && pick(8) == 0) {
            n = nn(X_LATEST, t);
            n->v = 1 + pick(3);
            out("fd.latest(\"s%lld\")", (long long)n->v);
            return n;
        }
        switch (pick(7)) {
        case 0: return bin(X_ADD, t, t, t, "+", depth);
        case 1: return bin(X_SUB, t, t, t, "-", depth);
        case 2:
            if (t == D_DEC3) { /* dec(2) * dec(1) literal */
                n = nn(X_MUL, t);
                out("(");
                exact_next = true;
                n->a = expr(D_DEC2, depth - 1);
                int64_t m = (int64_t)pick(41) - 20;
                n->b = nn(X_LIT, D_INT);
                n->b->v = m;
                out(" * %s%lld.%lld%s)", m < 0 ? "(-" : "",
                    (long long)((m < 0 ? -m : m) / 10),
                    (long long)((m < 0 ? -m : m) % 10), m < 0 ? ")" : "");
                return n;
            }
            return bin(X_MUL, t, t, D_INT, "*", depth);
        case 3: return bin(X_DIV, t, t, D_INT, "/", depth);
        case 4:
            n = nn(X_NEG, t);
            out("-(");
            exact_next = true;
            n->a = expr(t, depth - 1);
            out(")");
            return n;
        default:
            n = nn(X_RESCALE, t);
            out("rescale(");
            exact_next = true;
            n->a = expr(pick(3) == 0 ? D_INT
                        : t == D_DEC2 ? D_DEC3
                                      : D_DEC2,
                        depth - 1);
            out(", %d)", dscale(t));
            return n;
        }
    case D_BOOL: {
        static const int ops[] = {X_LT, X_LE, X_GT, X_GE, X_EQ, X_NE};
        static const char *const opn[] = {"<", "<=", ">", ">=", "==", "!="};
        switch (pick(5)) {
        case 0:
        case 1: {
            int o = pick(6), ot = pick(3);
            return bin(ops[o], t, ot, ot, opn[o], depth);
        }
        case 2: {
            int o = 4 + pick(2), ot = pick(2) ? D_BYTES : D_BOOL;
            return bin(ops[o], t, ot, ot, opn[o], depth);
        }
        case 3:
            return pick(2) ? bin(X_AND, t, t, t, "and", depth)
                           : bin(X_OR, t, t, t, "or", depth);
        default:
            n = nn(X_NOT, t);
            out("(not (");
            n->a = expr(t, depth - 1);
            out("))");
            return n;
        }
    }
    default: /* bytes */
        switch (pick(3)) {
        case 0:
            n = nn(X_CAT, t);
            out("cat(");
            n->a = expr(t, depth - 1);
            out(", ");
            n->b = expr(t, depth - 1);
            out(")");
            return n;
        case 1:
            n = nn(X_SLICE, t);
            out("slice(");
            n->a = expr(t, depth - 1);
            out(", ");
            n->b = expr(D_INT, depth - 1);
            out(", ");
            n->c = expr(D_INT, depth - 1);
            out(")");
            return n;
        default:
            n = nn(X_BYTES_OF, t);
            out("bytes_of(");
            exact_next = true;
            n->a = expr(pick(2) ? D_INT : pick(2) ? D_DEC2 : D_BOOL,
                        depth - 1);
            out(")");
            return n;
        }
    }
}

static void indent(int d)
{
    for (int i = 0; i < d; i++)
        out("  ");
}

static struct dn *block(int d, int loops, bool may_return);

static struct dn *stmt(int d, int loops, bool last, bool may_return)
{
    int ed = 1 + pick(2);
    struct dn *s;
    int c = pick(10);
    if (last && may_return && pick(3) == 0) {
        s = nn(S_RET, D_INT);
        s->line = line;
        indent(d);
        out("return ");
        s->a = expr(D_INT, ed);
        out(";\n");
        return s;
    }
    if (last && may_return && pick(25) == 0) {
        s = nn(S_ABORT, D_INT);
        s->line = line;
        indent(d);
        out("abort(");
        s->a = expr(D_INT, ed);
        out(");\n");
        return s;
    }
    if (pick(6) == 0) {
        int w = var_of(D_WIN, false);
        int k = pick(4);
        if (k == 0 && nvars < DIFF_VAR_MAX - 2) { /* a window */
            s = nn(S_LET_, D_WIN);
            s->line = line;
            indent(d);
            int v = nvars++;
            s->a = nn(X_WINDOW, D_WIN);
            s->a->v = 1 + pick(3);
            s->a->fn = 1 + pick(7); /* n asked */
            out("let v%d: window(int) = fx.window(\"s%lld\", %d);\n", v,
                (long long)s->a->v, s->a->fn);
            vars[v].t = D_WIN;
            vars[v].ro = false;
            visible[v] = true;
            s->var = v;
            return s;
        }
        if (k == 1 && w >= 0 && loops < 2 && nvars < DIFF_VAR_MAX - 2) {
            s = nn(S_FORW, D_INT);
            s->line = line;
            s->fn = w;
            int v = nvars++;
            vars[v].t = D_INT;
            vars[v].ro = true;
            s->var = v;
            indent(d);
            out("for v%d in v%d {\n", v, w);
            visible[v] = true;
            s->c = block(d + 1, loops + 1, may_return);
            visible[v] = false;
            indent(d);
            out("}\n");
            return s;
        }
        if (k == 2) {
            s = nn(S_SPUT, D_INT);
            s->line = line;
            indent(d);
            out("s0 = ");
            s->a = expr(D_INT, ed);
            out(";\n");
            return s;
        }
        s = nn(S_MPUT, D_INT);
        s->line = line;
        indent(d);
        out("m0[");
        if (pick(6) == 0) { /* a key of 59 to 66 bytes with its prefix */
            s->b = nn(X_STR, D_BYTES);
            int len = 56 + pick(8);
            for (int i = 0; i < len; i++)
                s->b->str[i] = (char)('a' + pick(26));
            s->b->str[len] = 0;
            out("\"%s\"", s->b->str);
        } else {
            s->b = expr(D_BYTES, 1);
        }
        out("] = ");
        s->a = expr(D_INT, ed);
        out(";\n");
        return s;
    }
    if (c <= 3 && nvars < DIFF_VAR_MAX - 2) {
        int t = pick(D_NTY);
        s = nn(S_LET_, t);
        s->line = line;
        indent(d);
        int v = nvars;
        out("let v%d: %s = ", v, tname(t));
        s->a = expr(t, ed);
        out(";\n");
        vars[v].t = t;
        vars[v].ro = false;
        visible[v] = true;
        nvars++;
        s->var = v;
        return s;
    }
    if (c <= 6) {
        int t = pick(D_NTY), v = var_of(t, true);
        if (v >= 0) {
            s = nn(S_SET, t);
            s->line = line;
            s->var = v;
            indent(d);
            out("v%d = ", v);
            s->a = expr(t, ed);
            out(";\n");
            return s;
        }
    }
    if (c <= 8 && d < 3) {
        s = nn(S_IF_, D_INT);
        s->line = line;
        indent(d);
        out("if ");
        s->a = expr(D_BOOL, ed);
        out(" {\n");
        bool ret_then = may_return && pick(2);
        s->b = block(d + 1, loops, ret_then);
        indent(d);
        out("}");
        if (pick(2)) {
            out(" else {\n");
            /* both branches ending in return would make what follows
             * unreachable: only one may */
            s->c = block(d + 1, loops, may_return && !ret_then);
            indent(d);
            out("}");
        }
        out("\n");
        return s;
    }
    if (loops < 2 && nvars < DIFF_VAR_MAX - 2) {
        s = nn(S_FOR_, D_INT);
        s->line = line;
        indent(d);
        int v = nvars++;
        vars[v].t = D_INT;
        vars[v].ro = true;
        s->var = v;
        /* bounded: from an expression mod 3 to it plus 0-4 */
        out("for v%d in ", v);
        s->a = nn(X_MOD, D_INT);
        out("(");
        s->a->a = expr(D_INT, 1);
        out(" %% 3) .. (");
        s->a->b = nn(X_LIT, D_INT);
        s->a->b->v = 3;
        s->b = nn(X_LIT, D_INT);
        s->b->v = pick(5);
        s->c = NULL;
        /* the end: start again plus a constant, evaluated from the same
         * text; the reference recomputes it the same way */
        out("0 + %lld) {\n", (long long)s->b->v);
        visible[v] = true;
        struct dn *body = block(d + 1, loops + 1, may_return);
        visible[v] = false;
        s->c = body;
        indent(d);
        out("}\n");
        return s;
    }
    s = nn(S_SET, D_INT);
    int v = var_of(D_INT, true);
    if (v < 0 && nvars >= DIFF_VAR_MAX - 2) {
        overflowed = true; /* the program is dropped */
        v = 0;
    }
    if (v < 0) {
        s->k = S_LET_;
        v = nvars++;
        vars[v].t = D_INT;
        vars[v].ro = false;
        s->line = line;
        indent(d);
        out("let v%d: int = ", v);
    } else {
        s->line = line;
        indent(d);
        out("v%d = ", v);
    }
    s->var = v;
    s->a = expr(D_INT, ed);
    out(";\n");
    visible[v] = true;
    return s;
}

static struct dn *block(int d, int loops, bool may_return)
{
    int n = 1 + pick(3);
    int mark = nvars;
    struct dn *head = NULL, **tail = &head;
    for (int i = 0; i < n && !overflowed; i++) {
        struct dn *s = stmt(d, loops, i == n - 1, may_return);
        *tail = s;
        tail = &s->next;
        if (s->k == S_RET || s->k == S_ABORT)
            break;
    }
    for (int i = mark; i < nvars; i++)
        visible[i] = false;
    return head;
}

struct dfn {
    struct dn *body, *ret;
    int nvars;
};
static struct dfn fns[DIFF_FN_MAX + 1]; /* helpers, then main */

static void gen_program(void)
{
    slen = 0;
    line = 1;
    npool = 0;
    overflowed = false;
    out("contract \"diff\" version 1;\n"
        "feed fx: int from \"f/x\" value \"v\";\n"
        "feed fd: dec(2) from \"f/x\" value \"v\";\n"
        "store s0: int;\n"
        "store m0[bytes]: int;\n");
    nfns = pick(DIFF_FN_MAX + 1);
    for (int f = 0; f <= nfns; f++) {
        cur_fn = f;
        nvars = 2;
        memset(visible, 0, sizeof visible);
        vars[0] = (struct var){D_INT, true};
        vars[1] = (struct var){D_INT, true};
        visible[0] = visible[1] = true;
        if (f < nfns)
            out("fn h%d(v0: int, v1: int) -> int {\n", f);
        else
            out("entry main(v0: int, v1: int) -> int {\n");
        fns[f].body = block(1, 0, true);
        const struct dn *last = fns[f].body;
        while (last && last->next)
            last = last->next;
        fns[f].ret = NULL;
        if (last && (last->k == S_RET || last->k == S_ABORT)) {
            out("}\n"); /* a return after it would be unreachable */
        } else {
            struct dn *r = nn(S_RET, D_INT);
            r->line = line;
            out("  return ");
            r->a = expr(D_INT, 2);
            out(";\n}\n");
            fns[f].ret = r;
        }
        fns[f].nvars = nvars;
    }
}

/* --- the reference interpreter ------------------------------------------ */

struct val {
    int64_t i;
    const uint8_t *b;
    uint32_t n;
};

/* The feed: value i (newest first) of subject s<k>, at most 5 of them. */
#define DIFF_FEED_FOUND_MAX 5
static int64_t feed_value(int64_t subject, uint32_t i)
{
    return (subject * 7 + (int64_t)i * 13) % 50 - 10;
}

#define DIFF_STORE_MAX 80
struct ctx {
    int trap, line;
    /* the run's storage: key, value; and its writes */
    uint8_t keys[DIFF_STORE_MAX][64];
    uint32_t key_len[DIFF_STORE_MAX];
    int64_t vals[DIFF_STORE_MAX];
    uint32_t nkeys, writes;
    int64_t abort_code;
    bool skip;     /* outside what the reference models (memory) */
    size_t heap_used;
    uint32_t values;
    long steps;
    bool returned;
    struct val ret;
    uint8_t heap[DIFF_HEAP_MAX]; /* last: a run clears what is before it */
};

static bool trapped(const struct ctx *x) { return x->trap || x->skip; }

static void trap(struct ctx *x, int t, int l)
{
    if (!x->trap) {
        x->trap = t;
        x->line = l;
    }
}

static uint8_t *alloc(struct ctx *x, size_t n)
{
    if (n > DIFF_BYTES_MAX || x->heap_used + n > DIFF_HEAP_MAX ||
        ++x->values > 20000) {
        x->skip = true;
        return NULL;
    }
    uint8_t *p = x->heap + x->heap_used;
    x->heap_used += n;
    return p;
}

static struct val call_fn(struct ctx *x, int f, int64_t a, int64_t b);

/* Storage as language.md section 6 and contracts.md section 4 say: keys of
 * 1 to 64 bytes (HOST otherwise), at most 64 writes a run (HOST). */
static int store_find(struct ctx *x, const uint8_t *k, uint32_t n)
{
    for (uint32_t i = 0; i < x->nkeys; i++)
        if (x->key_len[i] == n && !memcmp(x->keys[i], k, n))
            return (int)i;
    return -1;
}

static bool store_key(struct ctx *x, struct val key, bool map, uint8_t *k,
                      uint32_t *n, int l)
{
    if (!map) {
        memcpy(k, "s0", 2);
        *n = 2;
        return true;
    }
    if (3 + (size_t)key.n > 64) {
        trap(x, VM_TRAP_HOST, l);
        return false;
    }
    memcpy(k, "m0/", 3);
    if (key.n)
        memcpy(k + 3, key.b, key.n);
    *n = 3 + key.n;
    return true;
}

static int64_t store_read(struct ctx *x, struct val key, bool map, int l)
{
    uint8_t k[64];
    uint32_t n;
    if (!store_key(x, key, map, k, &n, l))
        return 0;
    int i = store_find(x, k, n);
    return i < 0 ? 0 : x->vals[i];
}

static void store_write(struct ctx *x, struct val key, bool map, int64_t v,
                        int l)
{
    uint8_t k[64];
    uint32_t n;
    if (!store_key(x, key, map, k, &n, l))
        return;
    if (x->writes == 64) {
        trap(x, VM_TRAP_HOST, l);
        return;
    }
    x->writes++;
    int i = store_find(x, k, n);
    if (i < 0) {
        if (x->nkeys == DIFF_STORE_MAX) {
            x->skip = true;
            return;
        }
        i = (int)x->nkeys++;
        memcpy(x->keys[i], k, n);
        x->key_len[i] = n;
    }
    x->vals[i] = v;
}

static struct val ev(struct ctx *x, struct val *env, const struct dn *e,
                     int l)
{
    struct val r = {0, NULL, 0}, a, b, c;
    if (trapped(x))
        return r;
    switch (e->k) {
    case X_LIT:
        r.i = e->v;
        return r;
    case X_STR:
        r.b = (const uint8_t *)e->str;
        r.n = (uint32_t)strlen(e->str);
        return r;
    case X_VAR:
        return env[e->var];
    case X_ADD:
    case X_SUB:
    case X_MUL:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        if (trapped(x))
            return r;
        if ((e->k == X_ADD && __builtin_add_overflow(a.i, b.i, &r.i)) ||
            (e->k == X_SUB && __builtin_sub_overflow(a.i, b.i, &r.i)) ||
            (e->k == X_MUL && __builtin_mul_overflow(a.i, b.i, &r.i)))
            trap(x, VM_TRAP_OVERFLOW, l);
        return r;
    case X_DIV:
    case X_MOD:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        if (trapped(x))
            return r;
        if (b.i == 0)
            trap(x, VM_TRAP_DIV_ZERO, l);
        else if (a.i == INT64_MIN && b.i == -1)
            e->k == X_DIV ? trap(x, VM_TRAP_OVERFLOW, l) : (void)(r.i = 0);
        else
            r.i = e->k == X_DIV ? a.i / b.i : a.i % b.i;
        return r;
    case X_NEG:
        a = ev(x, env, e->a, l);
        if (!trapped(x) && a.i == INT64_MIN)
            trap(x, VM_TRAP_OVERFLOW, l);
        r.i = trapped(x) ? 0 : -a.i;
        return r;
    case X_LT: case X_LE: case X_GT: case X_GE: case X_EQ: case X_NE:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        if (trapped(x))
            return r;
        if (e->a->t == D_BYTES) {
            bool eq = a.n == b.n && (a.n == 0 || !memcmp(a.b, b.b, a.n));
            r.i = e->k == X_EQ ? eq : !eq;
            return r;
        }
        r.i = e->k == X_LT   ? a.i < b.i
              : e->k == X_LE ? a.i <= b.i
              : e->k == X_GT ? a.i > b.i
              : e->k == X_GE ? a.i >= b.i
              : e->k == X_EQ ? a.i == b.i
                             : a.i != b.i;
        return r;
    case X_AND:
    case X_OR:
        a = ev(x, env, e->a, l);
        if (trapped(x))
            return r;
        if ((e->k == X_AND) == (a.i == 0)) {
            r.i = e->k == X_OR;
            return r;
        }
        return ev(x, env, e->b, l);
    case X_NOT:
        a = ev(x, env, e->a, l);
        r.i = !a.i;
        return r;
    case X_LEN:
        a = ev(x, env, e->a, l);
        r.i = a.n;
        return r;
    case X_INDEX:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        if (trapped(x))
            return r;
        if (b.i < 0 || b.i >= (int64_t)a.n)
            trap(x, VM_TRAP_BOUNDS, l);
        else
            r.i = a.b[b.i];
        return r;
    case X_INT_OF:
        a = ev(x, env, e->a, l);
        if (trapped(x))
            return r;
        if (a.n != 8) {
            trap(x, VM_TRAP_BOUNDS, l);
            return r;
        }
        for (int i = 0; i < 8; i++)
            r.i = (int64_t)((uint64_t)r.i << 8 | a.b[i]);
        return r;
    case X_BYTES_OF: {
        a = ev(x, env, e->a, l);
        uint8_t *p = trapped(x) ? NULL : alloc(x, 8);
        if (!p)
            return r;
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)((uint64_t)a.i >> (56 - 8 * i));
        r.b = p;
        r.n = 8;
        return r;
    }
    case X_CAT: {
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        uint8_t *p = trapped(x) ? NULL : alloc(x, (size_t)a.n + b.n);
        if (!p)
            return r;
        if (a.n)
            memcpy(p, a.b, a.n);
        if (b.n)
            memcpy(p + a.n, b.b, b.n);
        r.b = p;
        r.n = a.n + b.n;
        return r;
    }
    case X_SLICE:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        c = ev(x, env, e->c, l);
        if (trapped(x))
            return r;
        if (b.i < 0 || c.i < 0 || (__int128)b.i + c.i > a.n) {
            trap(x, VM_TRAP_BOUNDS, l);
            return r;
        }
        if (++x->values > 20000) {
            x->skip = true;
            return r;
        }
        r.b = a.b + b.i;
        r.n = (uint32_t)c.i;
        return r;
    case X_RESCALE: {
        a = ev(x, env, e->a, l);
        if (trapped(x))
            return r;
        int from = dscale(e->a->t), to = dscale(e->t);
        int64_t p = 1;
        for (int i = 0; i < (from < to ? to - from : from - to); i++)
            p *= 10;
        if (from < to) {
            if (__builtin_mul_overflow(a.i, p, &r.i))
                trap(x, VM_TRAP_OVERFLOW, l);
        } else {
            r.i = a.i / p;
        }
        return r;
    }
    case X_CALL:
        a = ev(x, env, e->a, l);
        b = ev(x, env, e->b, l);
        if (trapped(x))
            return r;
        return call_fn(x, e->fn, a.i, b.i);
    case X_LATEST:
        r.i = feed_value(e->v, 0) * (e->t == D_DEC2 ? 100 : 1);
        return r;
    case X_WINDOW: {
        uint32_t n = (uint32_t)e->fn < DIFF_FEED_FOUND_MAX
                         ? (uint32_t)e->fn
                         : DIFF_FEED_FOUND_MAX;
        uint8_t *p = alloc(x, 8 * n);
        if (!p)
            return r;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t)feed_value(e->v, i);
            for (int k = 0; k < 8; k++)
                p[8 * i + (uint32_t)k] = (uint8_t)(v >> (56 - 8 * k));
        }
        r.b = p;
        r.n = 8 * n;
        return r;
    }
    case X_WLEN:
        r.i = env[e->var].n / 8;
        return r;
    case X_WIDX: {
        a = ev(x, env, e->a, l);
        if (trapped(x))
            return r;
        const struct val *w = &env[e->var];
        int64_t off;
        if (__builtin_mul_overflow(a.i, 8, &off)) {
            trap(x, VM_TRAP_OVERFLOW, l);
            return r;
        }
        if (off < 0 || off + 8 > (int64_t)w->n) {
            trap(x, VM_TRAP_BOUNDS, l);
            return r;
        }
        if (++x->values > 20000) {
            x->skip = true;
            return r;
        }
        for (int k = 0; k < 8; k++)
            r.i = (int64_t)((uint64_t)r.i << 8 | w->b[off + k]);
        return r;
    }
    case X_SREAD:
        r.i = store_read(x, r, false, l);
        return r;
    case X_MREAD:
        a = ev(x, env, e->a, l);
        if (trapped(x))
            return r;
        r.i = store_read(x, a, true, l);
        return r;
    default:
        return r;
    }
}

static void exec(struct ctx *x, struct val *env, const struct dn *s)
{
    for (; s && !trapped(x) && !x->returned; s = s->next) {
        if (++x->steps > DIFF_STEP_MAX) {
            x->skip = true;
            return;
        }
        switch (s->k) {
        case S_LET_:
        case S_SET:
            env[s->var] = ev(x, env, s->a, s->line);
            break;
        case S_SPUT: {
            struct val v = ev(x, env, s->a, s->line);
            if (!trapped(x))
                store_write(x, v, false, v.i, s->line);
            break;
        }
        case S_MPUT: {
            struct val k = ev(x, env, s->b, s->line);
            struct val v = ev(x, env, s->a, s->line);
            if (!trapped(x))
                store_write(x, k, true, v.i, s->line);
            break;
        }
        case S_FORW: {
            struct val w = env[s->fn];
            for (uint32_t i = 0; i + 8 <= w.n && !trapped(x) && !x->returned;
                 i += 8) {
                if (++x->values > 20000) {
                    x->skip = true;
                    break;
                }
                int64_t v = 0;
                for (int k = 0; k < 8; k++)
                    v = (int64_t)((uint64_t)v << 8 | w.b[i + (uint32_t)k]);
                env[s->var].i = v;
                exec(x, env, s->c);
            }
            break;
        }
        case S_RET:
            x->ret = ev(x, env, s->a, s->line);
            if (!trapped(x))
                x->returned = true;
            break;
        case S_ABORT: {
            struct val v = ev(x, env, s->a, s->line);
            if (!trapped(x)) {
                trap(x, VM_TRAP_ABORT, s->line);
                x->abort_code = v.i;
            }
            break;
        }
        case S_IF_: {
            struct val c = ev(x, env, s->a, s->line);
            if (trapped(x))
                break;
            if (c.i)
                exec(x, env, s->b);
            else if (s->c)
                exec(x, env, s->c);
            break;
        }
        case S_FOR_: {
            /* start = e mod 3, end = start text "(e % 3) .. (0 + k)":
             * the end is just k */
            struct val a = ev(x, env, s->a->a, s->line);
            if (trapped(x))
                break;
            int64_t i = a.i % 3, end = s->b->v;
            for (; i < end && !trapped(x) && !x->returned; i++) {
                env[s->var].i = i;
                exec(x, env, s->c);
            }
            break;
        }
        default:
            break;
        }
    }
}

static int depth_now;

static struct val call_fn(struct ctx *x, int f, int64_t a, int64_t b)
{
    struct val env[DIFF_VAR_MAX];
    memset(env, 0, sizeof env);
    env[0].i = a;
    env[1].i = b;
    bool outer = x->returned;
    struct val outer_ret = x->ret;
    x->returned = false;
    depth_now++;
    exec(x, env, fns[f].body);
    if (!trapped(x) && !x->returned && fns[f].ret)
        x->ret = ev(x, env, fns[f].ret->a, fns[f].ret->line);
    depth_now--;
    struct val r = x->ret;
    x->returned = outer;
    x->ret = outer_ret;
    return r;
}

/* --- the compiled side: contract_run over an in-memory state ------------- */

static int st_get(void *ctx, const uint8_t *key, size_t key_size,
                  uint8_t **value, size_t *size)
{
    (void)ctx, (void)key, (void)key_size, (void)value, (void)size;
    return WITAN_ENOTFOUND;
}

static int st_usage(void *ctx, uint32_t *count, uint32_t *bytes)
{
    (void)ctx;
    *count = *bytes = 0;
    return 0;
}

static int st_feed(void *ctx, const char *feed, const char *subject,
                   const char *value, uint32_t n, int64_t *mantissas,
                   uint32_t *scales, uint32_t *found)
{
    (void)ctx, (void)feed, (void)value;
    int64_t k = subject[0] && subject[1] ? subject[1] - '0' : 0;
    *found = n < DIFF_FEED_FOUND_MAX ? n : DIFF_FEED_FOUND_MAX;
    for (uint32_t i = 0; i < *found; i++) {
        mantissas[i] = feed_value(k, i);
        scales[i] = 0;
    }
    return 0;
}

static int st_score(void *ctx, const uint8_t *model,
                    struct contract_scorecard *out)
{
    (void)ctx, (void)model, (void)out;
    return WITAN_ENOTFOUND;
}

static contract_runtime *runtime;

/* Runs main(a, b); *line is the trap's source line. */
static void run_compiled(const lang_output *o, const int64_t *args,
                         vm_result *res, uint32_t *line)
{
    vm_module *m;
    vm_verify_error ve;
    uint32_t f;
    if (!runtime)
        assert_int_equal(contract_runtime_new(&runtime), 0);
    assert_int_equal(contract_module_load(runtime, o->module, o->module_size,
                                          &m, &ve),
                     0);
    assert_int_equal(contract_entry(m, "main", "ii", &f), 0);
    vm_value va[2] = {vm_int(args[0]), vm_int(args[1])};
    struct contract_state cs = {st_get, st_usage, st_feed, st_score, NULL};
    uint8_t id[32] = {1}, caller[20] = {2};
    struct contract_call c = {.module = m, .func = f, .args = va,
                              .arg_count = 2, .gas = 1000000000,
                              .contract_id = id, .caller = caller,
                              .height = 1, .state = &cs};
    struct contract_outcome out;
    assert_int_equal(contract_run(runtime, &c, &out), 0);
    *res = out.res;
    *line = 0;
    if (res->trap) {
        uint32_t col;
        if (lang_map_lookup(o->source_map, o->source_map_size, res->trap_func,
                            res->trap_offset, line, &col) != 0)
            fail_msg("no source position for a trap at %u:%u",
                     res->trap_func, res->trap_offset);
    }
    contract_outcome_free(&out);
    vm_module_free(m);
}

/* --- the test ------------------------------------------------------------ */

static struct ctx cx;

static void test_differential(void **state)
{
    (void)state;
    long want = LANG_DIFF_COUNT;
    const char *env = getenv("LANG_DIFF_COUNT");
    if (env)
        want = atol(env);
    long compared = 0, traps = 0, skipped = 0, tries = 0, too_big = 0;
    int kinds[16] = {0};
    for (uint64_t seed = 1; compared < want; seed++) {
        if (++tries > want * 4)
            fail_msg("too many programs skipped (%ld of %ld, %ld too big)",
                     skipped, tries, too_big);
        rng = seed * 0x9E3779B97F4A7C15ULL + 1;
        gen_program();
        if (overflowed) {
            skipped++;
            too_big++;
            continue;
        }
        int64_t args[2] = {small(), small()};
        memset(&cx, 0, offsetof(struct ctx, heap));
        cx.heap_used = 0;
        struct val r = call_fn(&cx, nfns, args[0], args[1]);
        if (cx.skip) {
            skipped++;
            continue;
        }
        lang_output o;
        int e = lang_compile("d.wcl", src, slen, LANG_COMPILER_VERSION, false,
                             &o);
        if (e)
            fail_msg("seed %llu does not compile:\n%s\n%.*s",
                     (unsigned long long)seed, o.errors ? o.errors : "",
                     (int)slen, src);
        vm_result res;
        uint32_t vline;
        run_compiled(&o, args, &res, &vline);
        e = res.trap ? WITAN_ETRAP : 0;
        bool ok = e == 0 ? cx.trap == 0 && res.value.i == r.i
                         : res.trap == cx.trap && (int)vline == cx.line &&
                               (res.trap != VM_TRAP_ABORT ||
                                res.abort_code == cx.abort_code);
        if (!ok)
            fail_msg("seed %llu, args %lld %lld: VM rc %d trap %d line %u "
                     "value %lld; reference trap %d line %d value %lld\n%.*s",
                     (unsigned long long)seed, (long long)args[0],
                     (long long)args[1], e, res.trap, vline,
                     (long long)res.value.i, cx.trap, cx.line, (long long)r.i,
                     (int)slen, src);
        lang_output_free(&o);
        if (cx.trap)
            traps++;
        kinds[cx.trap & 15]++;
        compared++;
    }
    printf("differential: %ld programs agree (%ld trap: overflow %d, "
           "division by zero %d, bounds %d, abort %d, host %d), %ld skipped "
           "(%ld too big)\n",
           compared, traps, kinds[VM_TRAP_OVERFLOW], kinds[VM_TRAP_DIV_ZERO],
           kinds[VM_TRAP_BOUNDS], kinds[VM_TRAP_ABORT], kinds[VM_TRAP_HOST],
           skipped, too_big);
    /* the generator reaches every kind of trap it is meant to */
    assert_true(kinds[VM_TRAP_OVERFLOW] > 0 && kinds[VM_TRAP_DIV_ZERO] > 0 &&
                kinds[VM_TRAP_BOUNDS] > 0 && kinds[VM_TRAP_ABORT] > 0 &&
                kinds[VM_TRAP_HOST] > 0);
    assert_true(compared - traps > want / 10);
    contract_runtime_free(runtime);
    runtime = NULL;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
