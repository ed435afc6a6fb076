/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small recursive-descent JSON reader into a flat array of nodes. Objects
 * and arrays link their children as a list (first child, next sibling), so a
 * document is two allocations: the nodes and one arena for unescaped strings.
 * Every input bound is checked as it is met; nothing is read past `size`.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

struct json_node {
    enum witan_json_type type;
    int32_t first_child, next_sibling;
    uint32_t child_count;
    const char *key; /* for object members */
    union {
        int64_t i;
        const char *s;
    } v;
};

struct witan_json {
    struct json_node *nodes;
    size_t node_count, node_cap;
    char *arena; /* unescaped strings, each NUL-terminated */
    size_t arena_size, arena_cap;
};

struct parser {
    witan_json *doc;
    const char *text;
    size_t size, pos;
    char *why;
    size_t why_size;
    int err;
};

static int fail(struct parser *p, int err, const char *what)
{
    if (p->err)
        return p->err;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->size; i++) {
        if (p->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (p->why_size)
        snprintf(p->why, p->why_size, "line %zu, column %zu: %s", line, col,
                 what);
    p->err = err;
    return err;
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->size &&
           (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' ||
            p->text[p->pos] == '\n' || p->text[p->pos] == '\r'))
        p->pos++;
}

static int new_node(struct parser *p, enum witan_json_type type, int32_t *out)
{
    witan_json *d = p->doc;
    if (d->node_count >= WITAN_JSON_NODE_COUNT_MAX)
        return fail(p, WITAN_ELIMIT, "too many values");
    /* The node count is below the limit, and the limit below INT32_MAX. */
    _Static_assert(WITAN_JSON_NODE_COUNT_MAX < INT32_MAX, "refs are int32");
    struct json_node *n = &d->nodes[d->node_count];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->first_child = n->next_sibling = WITAN_JSON_NONE;
    *out = (int32_t)d->node_count++;
    return WITAN_OK;
}

static void put_char(struct parser *p, char c)
{
    /* The arena is sized to the input: unescaping never grows a string. */
    WITAN_ASSERT(p->doc->arena_size < p->doc->arena_cap);
    p->doc->arena[p->doc->arena_size++] = c;
}

static int hex4(struct parser *p, unsigned *out)
{
    if (p->size - p->pos < 4)
        return fail(p, WITAN_EDECODE, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->text[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(p, WITAN_EDECODE, "bad \\u escape");
    }
    *out = v;
    return WITAN_OK;
}

static void put_utf8(struct parser *p, unsigned cp)
{
    if (cp < 0x80) {
        put_char(p, (char)cp);
    } else if (cp < 0x800) {
        put_char(p, (char)(0xc0 | cp >> 6));
        put_char(p, (char)(0x80 | (cp & 0x3f)));
    } else {
        put_char(p, (char)(0xe0 | cp >> 12));
        put_char(p, (char)(0x80 | (cp >> 6 & 0x3f)));
        put_char(p, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Parses a string literal at p->pos into the arena; *out points at it. */
static int parse_string(struct parser *p, const char **out)
{
    WITAN_ASSERT(p->text[p->pos] == '"');
    p->pos++;
    char *start = p->doc->arena + p->doc->arena_size;
    for (;;) {
        if (p->pos >= p->size)
            return fail(p, WITAN_EDECODE, "unterminated string");
        char c = p->text[p->pos++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return fail(p, WITAN_EDECODE, "control character in string");
        if (c != '\\') {
            put_char(p, c);
            continue;
        }
        if (p->pos >= p->size)
            return fail(p, WITAN_EDECODE, "unterminated escape");
        char e = p->text[p->pos++];
        unsigned cp = 0;
        switch (e) {
        case '"': case '\\': case '/':
            put_char(p, e);
            break;
        case 'b': put_char(p, '\b'); break;
        case 'f': put_char(p, '\f'); break;
        case 'n': put_char(p, '\n'); break;
        case 'r': put_char(p, '\r'); break;
        case 't': put_char(p, '\t'); break;
        case 'u':
            if (hex4(p, &cp))
                return p->err;
            /* Surrogates and NUL have no place in the strings Witan reads. */
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                return fail(p, WITAN_EDECODE,
                            "\\u0000 and surrogate escapes are not accepted");
            put_utf8(p, cp);
            break;
        default:
            return fail(p, WITAN_EDECODE, "unknown escape");
        }
    }
    put_char(p, '\0');
    *out = start;
    return WITAN_OK;
}

static int parse_value(struct parser *p, int depth, int32_t *out);

static int parse_container(struct parser *p, int depth, bool object,
                           int32_t self)
{
    p->pos++; /* '[' or '{' */
    int32_t last = WITAN_JSON_NONE;
    skip_space(p);
    if (p->pos < p->size && p->text[p->pos] == (object ? '}' : ']')) {
        p->pos++;
        return WITAN_OK;
    }
    for (;;) {
        const char *key = NULL;
        skip_space(p);
        if (object) {
            if (p->pos >= p->size || p->text[p->pos] != '"')
                return fail(p, WITAN_EDECODE, "expected a member name");
            if (parse_string(p, &key))
                return p->err;
            skip_space(p);
            if (p->pos >= p->size || p->text[p->pos] != ':')
                return fail(p, WITAN_EDECODE, "expected ':'");
            p->pos++;
        }
        int32_t child;
        if (parse_value(p, depth + 1, &child))
            return p->err;
        struct json_node *nodes = p->doc->nodes;
        nodes[child].key = key;
        if (last == WITAN_JSON_NONE)
            nodes[self].first_child = child;
        else
            nodes[last].next_sibling = child;
        last = child;
        nodes[self].child_count++;
        skip_space(p);
        if (p->pos >= p->size)
            return fail(p, WITAN_EDECODE, "unterminated array or object");
        char c = p->text[p->pos++];
        if (c == ',')
            continue;
        if (c == (object ? '}' : ']'))
            return WITAN_OK;
        p->pos--;
        return fail(p, WITAN_EDECODE, object ? "expected ',' or '}'"
                                             : "expected ',' or ']'");
    }
}

static int parse_int(struct parser *p, int64_t *out)
{
    bool negative = false;
    if (p->text[p->pos] == '-') {
        negative = true;
        p->pos++;
    }
    if (p->pos >= p->size || p->text[p->pos] < '0' || p->text[p->pos] > '9')
        return fail(p, WITAN_EDECODE, "expected a digit");
    if (p->text[p->pos] == '0' && p->pos + 1 < p->size &&
        p->text[p->pos + 1] >= '0' && p->text[p->pos + 1] <= '9')
        return fail(p, WITAN_EDECODE, "leading zero");
    uint64_t v = 0;
    uint64_t bound = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (p->pos < p->size && p->text[p->pos] >= '0' &&
           p->text[p->pos] <= '9') {
        unsigned d = (unsigned)(p->text[p->pos++] - '0');
        if (v > (bound - d) / 10)
            return fail(p, WITAN_ERANGE, "integer out of range");
        v = v * 10 + d;
    }
    if (p->pos < p->size &&
        (p->text[p->pos] == '.' || p->text[p->pos] == 'e' ||
         p->text[p->pos] == 'E'))
        return fail(p, WITAN_EDECODE,
                    "only integers are accepted (no fractions or exponents)");
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return WITAN_OK;
}

static int literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->size - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return fail(p, WITAN_EDECODE, "unexpected character");
    p->pos += n;
    return WITAN_OK;
}

static int parse_value(struct parser *p, int depth, int32_t *out)
{
    if (depth > WITAN_JSON_DEPTH_MAX)
        return fail(p, WITAN_ELIMIT, "nested too deeply");
    skip_space(p);
    if (p->pos >= p->size)
        return fail(p, WITAN_EDECODE, "unexpected end of input");
    char c = p->text[p->pos];
    int32_t self;
    switch (c) {
    case '{':
    case '[':
        if (new_node(p, c == '{' ? WITAN_JSON_OBJECT : WITAN_JSON_ARRAY, &self))
            return p->err;
        if (parse_container(p, depth, c == '{', self))
            return p->err;
        break;
    case '"':
        if (new_node(p, WITAN_JSON_STRING, &self))
            return p->err;
        if (parse_string(p, &p->doc->nodes[self].v.s))
            return p->err;
        break;
    case 't':
    case 'f':
        if (new_node(p, WITAN_JSON_BOOL, &self) ||
            literal(p, c == 't' ? "true" : "false"))
            return p->err;
        p->doc->nodes[self].v.i = c == 't';
        break;
    case 'n':
        if (new_node(p, WITAN_JSON_NULL, &self) || literal(p, "null"))
            return p->err;
        break;
    default:
        if (new_node(p, WITAN_JSON_INT, &self))
            return p->err;
        if (parse_int(p, &p->doc->nodes[self].v.i))
            return p->err;
        break;
    }
    *out = self;
    return WITAN_OK;
}

int witan_json_parse(const char *text, size_t size, witan_json **out,
                     char *why, size_t why_size)
{
    *out = NULL;
    if (why_size)
        why[0] = '\0';
    if (size > WITAN_JSON_SIZE_MAX) {
        if (why_size)
            snprintf(why, why_size, "document larger than %d bytes",
                     WITAN_JSON_SIZE_MAX);
        return WITAN_ELIMIT;
    }
    witan_json *d = calloc(1, sizeof *d);
    if (!d)
        return WITAN_ENOMEM;
    /* Every value takes at least one input byte, so size + 1 nodes suffice. */
    d->node_cap = size + 1 < WITAN_JSON_NODE_COUNT_MAX
                      ? size + 1
                      : WITAN_JSON_NODE_COUNT_MAX;
    d->nodes = calloc(d->node_cap, sizeof *d->nodes);
    d->arena_cap = size + 1;
    d->arena = malloc(d->arena_cap);
    if (!d->nodes || !d->arena) {
        witan_json_free(d);
        return WITAN_ENOMEM;
    }
    struct parser p = {d, text, size, 0, why, why_size, 0};
    int32_t root;
    if (parse_value(&p, 0, &root) == 0) {
        skip_space(&p);
        if (p.pos != size)
            fail(&p, WITAN_EDECODE, "text after the document");
    }
    if (p.err) {
        witan_json_free(d);
        return p.err;
    }
    WITAN_ASSERT(root == WITAN_JSON_ROOT);
    *out = d;
    return WITAN_OK;
}

void witan_json_free(witan_json *d)
{
    if (!d)
        return;
    free(d->nodes);
    free(d->arena);
    free(d);
}

static const struct json_node *node(const witan_json *d, witan_json_ref ref)
{
    if (ref < 0 || (size_t)ref >= d->node_count)
        return NULL;
    return &d->nodes[ref];
}

enum witan_json_type witan_json_type_of(const witan_json *d, witan_json_ref ref)
{
    const struct json_node *n = node(d, ref);
    return n ? n->type : WITAN_JSON_NULL;
}

witan_json_ref witan_json_get(const witan_json *d, witan_json_ref object,
                              const char *key)
{
    const struct json_node *n = node(d, object);
    if (!n || n->type != WITAN_JSON_OBJECT)
        return WITAN_JSON_NONE;
    for (int32_t c = n->first_child; c != WITAN_JSON_NONE;
         c = d->nodes[c].next_sibling)
        if (strcmp(d->nodes[c].key, key) == 0)
            return c;
    return WITAN_JSON_NONE;
}

size_t witan_json_count(const witan_json *d, witan_json_ref ref)
{
    const struct json_node *n = node(d, ref);
    if (!n || (n->type != WITAN_JSON_ARRAY && n->type != WITAN_JSON_OBJECT))
        return 0;
    return n->child_count;
}

witan_json_ref witan_json_at(const witan_json *d, witan_json_ref ref, size_t i,
                             const char **key)
{
    const struct json_node *n = node(d, ref);
    if (!n || i >= witan_json_count(d, ref))
        return WITAN_JSON_NONE;
    int32_t c = n->first_child;
    while (i-- > 0)
        c = d->nodes[c].next_sibling;
    if (key)
        *key = d->nodes[c].key;
    return c;
}

int witan_json_string(const witan_json *d, witan_json_ref ref,
                      const char **out)
{
    const struct json_node *n = node(d, ref);
    if (!n || n->type != WITAN_JSON_STRING)
        return WITAN_EINVAL;
    *out = n->v.s;
    return WITAN_OK;
}

int witan_json_int(const witan_json *d, witan_json_ref ref, int64_t *out)
{
    const struct json_node *n = node(d, ref);
    if (!n || n->type != WITAN_JSON_INT)
        return WITAN_EINVAL;
    *out = n->v.i;
    return WITAN_OK;
}

int witan_json_bool(const witan_json *d, witan_json_ref ref, int *out)
{
    const struct json_node *n = node(d, ref);
    if (!n || n->type != WITAN_JSON_BOOL)
        return WITAN_EINVAL;
    *out = (int)n->v.i;
    return WITAN_OK;
}

void witan_json_write_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

int witan_read_file(const char *path, size_t size_max, char **out,
                    size_t *size)
{
    *out = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WITAN_ENOTFOUND : WITAN_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return WITAN_EIO;
    }
    if ((uint64_t)st.st_size > size_max) {
        close(fd);
        return WITAN_ELIMIT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return WITAN_ENOMEM;
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    if (done != (size_t)st.st_size) {
        free(buf);
        return WITAN_EIO;
    }
    buf[done] = '\0';
    *out = buf;
    *size = done;
    return WITAN_OK;
}
