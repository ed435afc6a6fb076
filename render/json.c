/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf messages as JSON (spec/api.md, "JSON"), for the HTTP gateway and
 * for `witan ... --json`, so that both print one shape: field names as in
 * witan.proto, every field written (defaults included), 64-bit integers as
 * strings, enums by name, every bytes field as lowercase hex. A few records
 * carry a derived field clients would otherwise compute themselves: the
 * sentence of a prediction's problem and of a run's end, and the text of a
 * decision's kind and subject and an event's topic when it is printable.
 * Written by hand from the protobuf-c descriptors.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger/ledger.h"
#include "render/render.h"

static bool json_reserve(struct render_json *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void render_json_put(struct render_json *b, const char *s, size_t n)
{
    if (!json_reserve(b, n))
        return;
    if (n) /* empty bytes may come with no pointer at all */
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void render_json_puts(struct render_json *b, const char *s)
{
    render_json_put(b, s, strlen(s));
}

/* Short output (nearly all of it: numbers, hex bytes) is formatted once,
 * on the stack; longer output again, straight into the buffer, so that no
 * caller has a length to keep under. */
void render_json_printf(struct render_json *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* Only an encoding error fails, and no format of ours can make one. */
    WITAN_ASSERT(n >= 0);
    if ((size_t)n < sizeof tmp) {
        render_json_put(b, tmp, (size_t)n);
        return;
    }
    if (!json_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s (2 to 4), or 0. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0                 ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 0;
    if (n == 0 || (n == 3 && s[0] > 0xef))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control bytes escaped; a byte
 * that is not part of well-formed UTF-8 becomes U+FFFD, so the answer is
 * always valid JSON whatever a string field holds. */
void render_json_str(struct render_json *b, const char *s)
{
    render_json_put(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            size_t n = utf8_sequence((const unsigned char *)s);
            if (n) {
                render_json_put(b, s, n);
                s += n - 1;
            } else {
                render_json_puts(b, "\\ufffd");
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            render_json_put(b, e, 2);
        } else if (c == '\n') {
            render_json_puts(b, "\\n");
        } else if (c == '\r') {
            render_json_puts(b, "\\r");
        } else if (c == '\t') {
            render_json_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            render_json_printf(b, "\\u%04x", c);
        } else {
            render_json_put(b, (const char *)&c, 1);
        }
    }
    render_json_put(b, "\"", 1);
}

void render_json_hex(struct render_json *b, const uint8_t *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    if (!json_reserve(b, 2 * size + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < size; i++) {
        *o++ = digits[data[i] >> 4];
        *o++ = digits[data[i] & 15];
    }
    *o++ = '"';
    b->len += 2 * size + 2;
    b->p[b->len] = '\0';
}

/* --- protobuf to JSON ---------------------------------------------------------- */

static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4; /* 32-bit integers, enums, float */
    }
}

static void render_value(struct render_json *b,
                         const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        render_json_printf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        render_json_printf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        render_json_printf(b, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        render_json_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        render_json_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev)
            render_json_str(b, ev->name);
        else
            render_json_printf(b, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        render_json_str(b, *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        render_json_hex(b, d->data, d->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
        if (m)
            render_json_message(b, m);
        else
            render_json_puts(b, "null");
        break;
    }
    default:
        render_json_puts(b, "null"); /* no floats in witan.proto */
    }
}

/* Writes the fields of m as `"name": value` pairs, each preceded by a comma
 * unless *first. Scalars are always written (proto3 defaults included, so
 * clients see every field); unset messages and oneof members are left out. */
void render_json_fields(struct render_json *b, const ProtobufCMessage *m,
                        bool *first)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *value = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)value;
            render_json_puts(b, *first ? "" : ",");
            *first = false;
            render_json_str(b, f->name);
            render_json_puts(b, ":[");
            for (size_t j = 0; j < n; j++) {
                if (j)
                    render_json_puts(b, ",");
                render_value(b, f, arr + j * element_size(f->type));
            }
            render_json_puts(b, "]");
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                   f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING &&
                   !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            !*(const ProtobufCMessage *const *)value)
            continue;
        render_json_puts(b, *first ? "" : ",");
        *first = false;
        render_json_str(b, f->name);
        render_json_puts(b, ":");
        render_value(b, f, value);
    }
}

/* `"name":value` after the fields already written. */
static void extra_key(struct render_json *b, bool *first, const char *name)
{
    render_json_puts(b, *first ? "" : ",");
    *first = false;
    render_json_str(b, name);
    render_json_puts(b, ":");
}

bool render_json_printable(const ProtobufCBinaryData *d)
{
    for (size_t i = 0; i < d->len; i++)
        if (d->data[i] < 0x20 || d->data[i] > 0x7e)
            return false;
    return true;
}

/* A contract chooses its kinds, subjects and topics as bytes, and nearly
 * always writes text: hex stays the field (it is exact and every bytes
 * field is hex), and `<name>_text` beside it says the same as text when
 * every byte is printable ASCII. */
static void text_of(struct render_json *b, bool *first, const char *name,
                    const ProtobufCBinaryData *d)
{
    if (!render_json_printable(d))
        return;
    char key[32];
    snprintf(key, sizeof key, "%s_text", name);
    extra_key(b, first, key);
    render_json_puts(b, "\"");
    for (size_t i = 0; i < d->len; i++) {
        char c = (char)d->data[i];
        if (c == '"' || c == '\\')
            render_json_put(b, "\\", 1);
        render_json_put(b, &c, 1);
    }
    render_json_puts(b, "\"");
}

/* The field of d named `prefix` + `suffix`, or NULL. */
static const ProtobufCFieldDescriptor *
field_named(const ProtobufCMessageDescriptor *d, const char *prefix,
            size_t prefix_len, const char *suffix)
{
    char name[RENDER_JSON_NAME_SIZE];
    int n =
        snprintf(name, sizeof name, "%.*s%s", (int)prefix_len, prefix, suffix);
    if (n < 0 || (size_t)n >= sizeof name)
        return NULL;
    return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

static bool ends_with(const char *s, size_t len, const char *tail)
{
    size_t t = strlen(tail);
    return len >= t && memcmp(s + len - t, tail, t) == 0;
}

/*
 * Values and times in the forms people read, beside the exact fields
 * (spec/api.md, "JSON"): every `<p>mantissa` with a `<p>scale` beside it
 * also as the decimal text `<p>value` ("414.50"), and every point in time
 * (`time_ms`, `<x>_at_ms`, `<x>_time_ms`; durations end otherwise) also as
 * ISO 8601 UTC under its name without `_ms`, when it is not 0 (0 is "no
 * time" wherever such a field is optional). A derived name the message
 * already has as a field is left out.
 */
static void readable_forms(struct render_json *b, bool *first,
                           const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED ||
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
            f->type != PROTOBUF_C_TYPE_SINT64)
            continue;
        size_t len = strlen(f->name);
        int64_t v = *(const int64_t *)(base + f->offset);
        char text[RENDER_DECIMAL_SIZE];
        if (ends_with(f->name, len, "mantissa")) {
            size_t p = len - strlen("mantissa");
            const ProtobufCFieldDescriptor *sf =
                field_named(d, f->name, p, "scale");
            if (!sf || sf->type != PROTOBUF_C_TYPE_UINT32 ||
                sf->label == PROTOBUF_C_LABEL_REPEATED ||
                field_named(d, f->name, p, "value"))
                continue;
            uint32_t scale = *(const uint32_t *)(base + sf->offset);
            if (scale > WITAN_DECIMAL_SCALE_MAX)
                continue; /* refused on chain; a request may carry one */
            render_decimal(v, scale, text, sizeof text);
            char key[RENDER_JSON_NAME_SIZE];
            snprintf(key, sizeof key, "%.*svalue", (int)p, f->name);
            extra_key(b, first, key);
            render_json_str(b, text);
        } else if (v != 0 && (strcmp(f->name, "time_ms") == 0 ||
                              ends_with(f->name, len, "_at_ms") ||
                              ends_with(f->name, len, "_time_ms"))) {
            size_t p = len - strlen("_ms");
            if (field_named(d, f->name, p, ""))
                continue;
            render_export_time(v, text, sizeof text);
            char key[RENDER_JSON_NAME_SIZE];
            snprintf(key, sizeof key, "%.*s", (int)p, f->name);
            extra_key(b, first, key);
            render_json_str(b, text);
        }
    }
}

void render_json_message(struct render_json *b, const ProtobufCMessage *m)
{
    bool first = true;
    char why[LEDGER_WHY_SIZE];
    render_json_puts(b, "{");
    render_json_fields(b, m, &first);
    readable_forms(b, &first, m);
    /* Problems and runs are codes and numbers in state; the API adds the
     * sentence clients show (not state, not signed). */
    if (m->descriptor == &witan__prediction_problem__descriptor) {
        ledger_prediction_why((const Witan__PredictionProblem *)m, why,
                              sizeof why);
        extra_key(b, &first, "why");
        render_json_str(b, why);
    } else if (m->descriptor == &witan__contract_run__descriptor) {
        ledger_run_why((const Witan__ContractRun *)m, why, sizeof why);
        extra_key(b, &first, "why");
        render_json_str(b, why);
    } else if (m->descriptor == &witan__decision__descriptor) {
        const Witan__Decision *d = (const Witan__Decision *)m;
        text_of(b, &first, "kind", &d->kind);
        text_of(b, &first, "subject", &d->subject);
    } else if (m->descriptor == &witan__event__descriptor) {
        text_of(b, &first, "topic", &((const Witan__Event *)m)->topic);
    }
    render_json_puts(b, "}");
}

void render_json_block(struct render_json *b, const Witan__BlockResponse *r)
{
    bool first = true;
    render_json_puts(b, "{");
    render_json_fields(b, &r->base, &first);
    Witan__BlockHeader *h = NULL;
    if (r->block)
        h = witan__block_header__unpack(NULL, r->block->header.len,
                                        r->block->header.data);
    if (h) {
        extra_key(b, &first, "header_decoded");
        render_json_message(b, &h->base);
        witan__block_header__free_unpacked(h, NULL);
    }
    render_json_puts(b, "}");
}

void render_json_tx(struct render_json *b, const uint8_t *hash,
                    const Witan__TxResponse *t,
                    const Witan__CommitCertificate *cert,
                    const Witan__RunsResponse *runs)
{
    bool first = true;
    render_json_puts(b, "{");
    if (hash) {
        extra_key(b, &first, "tx_hash");
        render_json_hex(b, hash, WITAN_HASH_SIZE);
    }
    render_json_fields(b, &t->base, &first);
    Witan__Envelope *env =
        witan__envelope__unpack(NULL, t->envelope.len, t->envelope.data);
    Witan__TxBody *body =
        env ? witan__tx_body__unpack(NULL, env->body.len, env->body.data)
            : NULL;
    if (body) {
        extra_key(b, &first, "body");
        render_json_message(b, &body->base);
        witan__tx_body__free_unpacked(body, NULL);
    }
    if (env)
        witan__envelope__free_unpacked(env, NULL);
    if (cert) {
        extra_key(b, &first, "cert");
        render_json_message(b, &cert->base);
    }
    if (runs) {
        extra_key(b, &first, "runs");
        render_json_message(b, &runs->base);
    }
    render_json_puts(b, "}");
}

int render_json_write(FILE *out, struct render_json *b)
{
    render_json_puts(b, "\n");
    int err = b->oom ? WITAN_ENOMEM : WITAN_OK;
    if (!err && fwrite(b->p, 1, b->len, out) != b->len)
        err = WITAN_EIO;
    free(b->p);
    *b = (struct render_json){0};
    return err;
}

int render_json_print(FILE *out, const ProtobufCMessage *m)
{
    struct render_json b = {0};
    render_json_message(&b, m);
    render_json_puts(&b, "\n");
    int err = b.oom ? WITAN_ENOMEM : WITAN_OK;
    if (!err && fwrite(b.p, 1, b.len, out) != b.len)
        err = WITAN_EIO;
    free(b.p);
    return err;
}
