/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export for analysts: pages of the client API's answers as CSV or JSONL
 * rows (render/render.h, spec/api.md "Export").
 *
 * A row is a list of text cells under fixed column names; the two formats
 * differ only in how a row is written (cell, row_end), so CSV and JSONL
 * carry the same text. Numbers are written exactly: an attestation's
 * mantissa and scale as the decimal it stands for ("414.50"), fixed-point
 * model outputs and scorecard sums as the decimal their bits stand for.
 *
 * Cursors: attestations and decisions pass the node's cursor on. The
 * predictions cursor is a prediction's key (model hash ‖ height ‖
 * sequence, the node's own cursor), or a model hash alone: "from that
 * model's first prediction", which is how an export of every model moves
 * from one model to the next. Scorecards page through the models.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "inference/inference.h"
#include "ledger/ledger.h"
#include "render/render.h"

/* The columns of each kind, in order (spec/api.md lists them). */
static const char *const attestation_cols[] = {
    "feed",     "subject",       "observed_at",   "name",
    "value",    "unit",          "provider",      "revision",
    "corrects", "superseded_by", "document_hash", "tx_hash",
    "height",   NULL};
static const char *const prediction_cols[] = {
    "model_hash", "model_name", "model_tx", "subject",  "height",
    "time",       "status",     "problem",  "outputs",  "label",
    "inputs",     "input_txs",  "tx_hash",  "computed", "operator",
    NULL};
static const char *const decision_cols[] = {
    "id",         "contract", "contract_name", "contract_version",
    "kind",       "subject",  "values",        "data",
    "height",     "time",     "sequence",      "tx_hash",
    "run",        "prediction", "model_hash",  NULL};
static const char *const scorecard_cols[] = {
    "model_hash",        "model_name",           "model_version",
    "model_tx",          "model_height",         "target_feed",
    "target_subject",    "target_value",         "target_horizon_ms",
    "target_output",     "count",                "sum_sq_error",
    "sum_abs_error",     "window",               "recent_count",
    "recent_sum_sq_error", "recent_sum_abs_error", "updated_height",
    "saturated",         NULL};

static const char *const kind_names[] = {"attestations", "predictions",
                                         "decisions", "scorecards"};

int render_export_kind_parse(const char *text, enum render_export_kind *out)
{
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(kind_names); i++)
        if (strcmp(text, kind_names[i]) == 0) {
            *out = (enum render_export_kind)i;
            return WITAN_OK;
        }
    return WITAN_EINVAL;
}

const char *render_export_kind_name(enum render_export_kind kind)
{
    WITAN_ASSERT((size_t)kind < WITAN_ARRAY_COUNT(kind_names));
    return kind_names[kind];
}

int render_export_format_parse(const char *text, enum render_export_format *out)
{
    if (strcmp(text, "csv") == 0)
        *out = RENDER_EXPORT_CSV;
    else if (strcmp(text, "jsonl") == 0)
        *out = RENDER_EXPORT_JSONL;
    else
        return WITAN_EINVAL;
    return WITAN_OK;
}

const char *render_export_content_type(enum render_export_format format)
{
    return format == RENDER_EXPORT_CSV
               ? "text/csv; charset=utf-8; header=present"
               : "application/x-ndjson";
}

static int refuse(struct render_export *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int refuse(struct render_export *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    return WITAN_EINVAL;
}

int render_export_check(struct render_export *x, const char *flag)
{
    const char *kind = render_export_kind_name(x->kind);
    bool attest = x->kind == RENDER_EXPORT_ATTESTATIONS;
    if (attest && (!x->feed || !x->subject))
        return refuse(x, "attestations need %sfeed and %ssubject", flag,
                      flag);
    if (!attest && x->feed)
        return refuse(x, "%sfeed applies to attestations only, not %s", flag,
                      kind);
    if (x->kind == RENDER_EXPORT_SCORECARDS && x->subject)
        return refuse(x, "%ssubject does not apply to scorecards", flag);
    if (x->kind == RENDER_EXPORT_SCORECARDS && (x->has_from || x->has_to))
        return refuse(x, "%sfrom and %sto do not apply to scorecards", flag,
                      flag);
    if (attest && x->has_model)
        return refuse(x, "%smodel does not apply to attestations", flag);
    if (x->has_contract && x->kind != RENDER_EXPORT_DECISIONS)
        return refuse(x, "%scontract applies to decisions only, not %s",
                      flag, kind);
    if (x->feed && strlen(x->feed) > WITAN_FEED_SIZE_MAX)
        return refuse(x, "%sfeed is at most %d bytes", flag,
                      WITAN_FEED_SIZE_MAX);
    size_t subject_max = x->kind == RENDER_EXPORT_DECISIONS
                             ? 2 * WITAN_DECISION_SUBJECT_SIZE_MAX + 2
                             : WITAN_SUBJECT_SIZE_MAX;
    if (x->subject && strlen(x->subject) > subject_max)
        return refuse(x, "%ssubject is longer than %zu bytes", flag,
                      subject_max);
    if (x->page_size > WITAN_QUERY_PAGE_COUNT_MAX)
        return refuse(x, "a page holds at most %d records",
                      WITAN_QUERY_PAGE_COUNT_MAX);
    if (x->has_from && x->has_to && x->from_ms > x->to_ms)
        return refuse(x, "%sfrom is after %sto", flag, flag);
    return WITAN_OK;
}

/* --- numbers and times ---------------------------------------------------------- */

/* v × 2^-frac exactly: the whole part by division, then the fraction one
 * digit at a time (rest × 10 < 2^(frac + 4) fits while frac <= 124). */
static void fixed_u128(bool negative, unsigned __int128 v, uint32_t frac,
                       char *out, size_t out_size)
{
    WITAN_ASSERT(frac <= 124 && out_size >= 2);
    unsigned __int128 mask = frac ? ((unsigned __int128)1 << frac) - 1 : 0;
    unsigned __int128 whole = frac ? v >> frac : v, rest = v & mask;
    char digits[48]; /* 2^128 has 39 digits */
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(whole % 10));
        whole /= 10;
    } while (whole);
    size_t k = 0;
    if (negative && (v != 0) && k + 1 < out_size)
        out[k++] = '-';
    while (n && k + 1 < out_size)
        out[k++] = digits[--n];
    if (rest && k + 2 < out_size) {
        out[k++] = '.';
        while (rest && k + 1 < out_size) {
            rest *= 10;
            out[k++] = (char)('0' + (int)(rest >> frac));
            rest &= mask;
        }
    }
    out[k] = '\0';
}

void render_export_fixed(int64_t v, uint32_t frac_bits, char *out,
                         size_t out_size)
{
    WITAN_ASSERT(frac_bits <= 62);
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    fixed_u128(v < 0, mag, frac_bits, out, out_size);
}

/* Its digits with the point `scale` from the end (414.50 stays 414.50,
 * with its trailing zero: the scale the provider signed). */
void render_decimal(int64_t mantissa, uint32_t scale, char *out,
                    size_t out_size)
{
    WITAN_ASSERT(scale <= WITAN_DECIMAL_SCALE_MAX);
    char digits[48];
    uint64_t m = mantissa < 0 ? 0 - (uint64_t)mantissa : (uint64_t)mantissa;
    int n = snprintf(digits, sizeof digits, "%0*" PRIu64, (int)scale + 1, m);
    if (scale == 0)
        snprintf(out, out_size, "%s%s", mantissa < 0 ? "-" : "", digits);
    else
        snprintf(out, out_size, "%s%.*s.%s", mantissa < 0 ? "-" : "",
                 n - (int)scale, digits, digits + n - (int)scale);
}

void render_export_time(int64_t ms, char *out, size_t out_size)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
    int milli = (int)(ms - s * 1000);
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, out_size, "%" PRId64, ms);
        return;
    }
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_size, "%s.%03dZ", base, milli);
}

/* --- rows ------------------------------------------------------------------------- */

struct row {
    struct render_json *out;
    enum render_export_format format;
    const char *const *cols;
    size_t index;
    struct render_json scratch; /* a cell built of parts */
    uint64_t *row_count;
};

/* A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a
 * comma, a quote, CR or LF. */
static void csv_field(struct render_json *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        render_json_puts(b, s);
        return;
    }
    render_json_puts(b, "\"");
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        render_json_put(b, s, (size_t)(q - s));
        render_json_puts(b, "\"\"");
    }
    render_json_puts(b, s);
    render_json_puts(b, "\"");
}

static void header(struct render_json *b, enum render_export_format format,
                   const char *const *cols)
{
    if (format != RENDER_EXPORT_CSV)
        return; /* JSONL names its columns in every line */
    for (size_t i = 0; cols[i]; i++) {
        if (i)
            render_json_puts(b, ",");
        csv_field(b, cols[i]);
    }
    render_json_puts(b, "\r\n");
}

static void cell(struct row *r, const char *text)
{
    WITAN_ASSERT(r->cols[r->index] != NULL);
    if (r->format == RENDER_EXPORT_CSV) {
        if (r->index)
            render_json_puts(r->out, ",");
        csv_field(r->out, text);
    } else {
        render_json_puts(r->out, r->index ? "," : "{");
        render_json_str(r->out, r->cols[r->index]);
        render_json_puts(r->out, ":");
        render_json_str(r->out, text);
    }
    r->index++;
}

static void row_end(struct row *r)
{
    WITAN_ASSERT(r->cols[r->index] == NULL); /* every column written */
    render_json_puts(r->out, r->format == RENDER_EXPORT_CSV ? "\r\n" : "}\n");
    r->index = 0;
    (*r->row_count)++;
}

static void cell_u64(struct row *r, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, v);
    cell(r, t);
}

static void cell_i64(struct row *r, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    cell(r, t);
}

static void cell_hex(struct row *r, const ProtobufCBinaryData *d)
{
    r->scratch.len = 0;
    for (size_t i = 0; i < d->len; i++)
        render_json_printf(&r->scratch, "%02x", d->data[i]);
    cell(r, r->scratch.len ? r->scratch.p : "");
}

static void cell_time(struct row *r, int64_t ms)
{
    char t[40];
    render_export_time(ms, t, sizeof t);
    cell(r, t);
}

/* A contract's bytes as text when every byte is printable ASCII, else 0x
 * and hex (the JSON's `_text` rule, and `witan decisions`'). */
static void cell_bytes_text(struct row *r, const ProtobufCBinaryData *d)
{
    r->scratch.len = 0;
    if (render_json_printable(d)) {
        render_json_put(&r->scratch, (const char *)d->data, d->len);
    } else {
        render_json_puts(&r->scratch, "0x");
        for (size_t i = 0; i < d->len; i++)
            render_json_printf(&r->scratch, "%02x", d->data[i]);
    }
    cell(r, r->scratch.len ? r->scratch.p : "");
}

static const char *enum_name(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
    return e ? e->name : "UNKNOWN";
}

/* --- talking to the node ------------------------------------------------------------ */

/* One request; the response's own error becomes the result, with its
 * message in why. */
static int ask(struct render_export *x, render_export_call_fn call, void *ctx,
               const Witan__Request *req, Witan__Response__KindCase want,
               Witan__Response **out)
{
    *out = NULL;
    Witan__Response *resp;
    int err = call(ctx, req, &resp);
    if (err) {
        snprintf(x->why, sizeof x->why, "the node did not answer: %s",
                 witan_err_message(err));
        return err;
    }
    if (resp->error) {
        err = resp->error->code < 0 ? resp->error->code : WITAN_EINVAL;
        snprintf(x->why, sizeof x->why, "%s", resp->error->message);
        witan__response__free_unpacked(resp, NULL);
        return err;
    }
    if (resp->kind_case != want) {
        snprintf(x->why, sizeof x->why,
                 "the node answered with another kind of response");
        witan__response__free_unpacked(resp, NULL);
        return WITAN_EDECODE;
    }
    *out = resp;
    return WITAN_OK;
}

static void set_cursor(struct render_export *x, const ProtobufCBinaryData *c)
{
    WITAN_ASSERT(c->len <= sizeof x->cursor);
    if (c->len) /* an empty cursor may have no data pointer at all */
        memcpy(x->cursor, c->data, c->len);
    x->cursor_size = c->len;
    x->done = c->len == 0;
}

static bool in_time(const struct render_export *x, int64_t ms)
{
    return (!x->has_from || ms >= x->from_ms) && (!x->has_to || ms <= x->to_ms);
}

/* --- attestations -------------------------------------------------------------------- */

static int page_attestations(struct render_export *x,
                             render_export_call_fn call, void *ctx,
                             struct row *r)
{
    Witan__AttestationsRequest q = WITAN__ATTESTATIONS_REQUEST__INIT;
    q.feed = (char *)x->feed;
    q.subject = (char *)x->subject;
    q.from_ms = x->has_from ? x->from_ms : INT64_MIN;
    q.to_ms = x->has_to ? x->to_ms : 0;
    q.limit = x->page_size;
    q.cursor = (ProtobufCBinaryData){x->cursor_size, x->cursor};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_ATTESTATIONS;
    req.attestations = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_ATTESTATIONS,
                  &resp);
    if (err)
        return err;
    const Witan__AttestationsResponse *a = resp->attestations;
    for (size_t i = 0; i < a->n_records; i++) {
        const Witan__AttestationRecord *rec = a->records[i];
        const Witan__Attest *at = rec->attest;
        /* to_ms 0 means "no bound" to the node: a bound at 0 is ours. */
        if (!at || !in_time(x, at->observed_at_ms))
            continue;
        /* One row per value: a long table, the same columns for every
         * feed. */
        for (size_t v = 0; v < at->n_values; v++) {
            char num[64];
            render_decimal(at->values[v]->mantissa, at->values[v]->scale, num,
                           sizeof num);
            cell(r, at->feed);
            cell(r, at->subject);
            cell_time(r, at->observed_at_ms);
            cell(r, at->values[v]->name);
            cell(r, num);
            cell(r, at->unit);
            cell_hex(r, &rec->provider);
            cell_u64(r, rec->revision);
            cell_hex(r, &at->corrects);
            cell_hex(r, &rec->superseded_by);
            cell_hex(r, &at->document_hash);
            cell_hex(r, &rec->tx_hash);
            cell_u64(r, rec->height);
            row_end(r);
        }
    }
    set_cursor(x, &a->next_cursor);
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

/* --- predictions -------------------------------------------------------------------- */

/* The time of block `height` (asked once per height in a row). */
static int block_time(struct render_export *x, render_export_call_fn call,
                      void *ctx, uint64_t height, int64_t *ms)
{
    if (x->time_height == height && height != 0) {
        *ms = x->time_ms;
        return WITAN_OK;
    }
    Witan__BlockRequest q = WITAN__BLOCK_REQUEST__INIT;
    q.height = height;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_BLOCK, &resp);
    if (err)
        return err;
    Witan__BlockHeader *h =
        resp->block->block
            ? witan__block_header__unpack(NULL, resp->block->block->header.len,
                                          resp->block->block->header.data)
            : NULL;
    witan__response__free_unpacked(resp, NULL);
    if (!h) {
        snprintf(x->why, sizeof x->why, "block %" PRIu64 "'s header does "
                 "not decode", height);
        return WITAN_EDECODE;
    }
    x->time_height = height;
    x->time_ms = *ms = h->time_ms;
    witan__block_header__free_unpacked(h, NULL);
    return WITAN_OK;
}

/* The format of raw input i of a prediction (models.md section 2). */
static uint32_t input_frac(const Witan__PredictionRecord *p, size_t i)
{
    return i < p->n_inputs_frac_bits ? p->inputs_frac_bits[i]
                                     : p->input_frac_bits;
}

/* One "name=value" of a list, after a ";" unless it is the first. */
static void named(struct render_json *s, bool after, const char *name,
                  const char *value)
{
    if (after)
        render_json_puts(s, ";");
    render_json_puts(s, name);
    render_json_puts(s, "=");
    render_json_puts(s, value);
}

static void prediction_row(struct row *r, const Witan__PredictionRecord *p,
                           int64_t time_ms)
{
    struct render_json *s = &r->scratch;
    cell_hex(r, &p->model_hash);
    cell(r, p->model_name);
    cell_hex(r, &p->model_tx);
    cell(r, p->subject);
    cell_u64(r, p->height);
    cell_time(r, time_ms);
    cell(r, enum_name(&witan__prediction_status__descriptor, p->status));
    char why[LEDGER_WHY_SIZE] = "";
    if (p->problem)
        ledger_prediction_why(p->problem, why, sizeof why);
    cell(r, why);
    /* Outputs: name=value;... exactly, computed (fixed point) or posted
     * (decimals as signed). */
    s->len = 0;
    for (size_t j = 0; j < p->n_outputs; j++) {
        char num[RENDER_EXPORT_FIXED_SIZE];
        render_export_fixed(p->outputs[j], p->output_frac_bits, num,
                            sizeof num);
        if (j)
            render_json_puts(s, ";");
        if (j < p->n_output_names && p->output_names[j][0])
            render_json_puts(s, p->output_names[j]);
        else
            render_json_printf(s, "%zu", j);
        render_json_puts(s, "=");
        render_json_puts(s, num);
    }
    for (size_t j = 0; j < p->n_posted_outputs; j++) {
        char num[64];
        render_decimal(p->posted_outputs[j]->mantissa,
                       p->posted_outputs[j]->scale, num, sizeof num);
        named(s, j || p->n_outputs, p->posted_outputs[j]->name, num);
    }
    cell(r, s->len ? s->p : "");
    cell_u64(r, p->label);
    /* Inputs as the model read them: fixed point exactly, or the float32
     * an order key stands for (9 digits give that float back). */
    s->len = 0;
    for (size_t j = 0; j < p->n_inputs; j++) {
        char num[RENDER_EXPORT_FIXED_SIZE];
        if (p->input_encoding == 1)
            snprintf(num, sizeof num, "%.9g",
                     (double)infer_float32_of_key(p->inputs[j]));
        else
            render_export_fixed(p->inputs[j], input_frac(p, j), num,
                                sizeof num);
        render_json_printf(s, "%s%s", j ? ";" : "", num);
    }
    for (size_t j = 0; j < p->n_posted_inputs; j++) {
        char num[64];
        render_decimal(p->posted_inputs[j]->mantissa,
                       p->posted_inputs[j]->scale, num, sizeof num);
        named(s, j || p->n_inputs, p->posted_inputs[j]->name, num);
    }
    cell(r, s->len ? s->p : "");
    /* Each input's attestation, in input order; empty for an explicit
     * input, so positions line up with `inputs`. */
    s->len = 0;
    for (size_t j = 0; j < p->n_input_txs; j++) {
        if (j)
            render_json_puts(s, ";");
        for (size_t b = 0; b < p->input_txs[j].len; b++)
            render_json_printf(s, "%02x", p->input_txs[j].data[b]);
    }
    cell(r, s->len ? s->p : "");
    cell_hex(r, &p->tx_hash);
    cell(r, p->computed ? "true" : "false");
    cell_hex(r, &p->operator_);
    row_end(r);
}

/* Moves an export of every model past `model` (x->done after the last). */
static int next_model(struct render_export *x, render_export_call_fn call,
                      void *ctx, const uint8_t model[WITAN_HASH_SIZE])
{
    if (x->has_model) {
        x->cursor_size = 0;
        x->done = true;
        return WITAN_OK;
    }
    uint8_t at[WITAN_HASH_SIZE];
    memcpy(at, model, sizeof at);
    Witan__ModelsRequest q = WITAN__MODELS_REQUEST__INIT;
    q.limit = 1;
    q.cursor = (ProtobufCBinaryData){sizeof at, at};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_MODELS;
    req.models = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_MODELS, &resp);
    if (err)
        return err;
    /* The page starts at `model` itself; its cursor is the one after. */
    set_cursor(x, &resp->models->next_cursor);
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

static int page_predictions(struct render_export *x, render_export_call_fn call,
                            void *ctx, struct row *r)
{
    uint8_t model[WITAN_HASH_SIZE];
    if (x->cursor_size == 0 && x->has_model) {
        memcpy(model, x->model, sizeof model);
    } else if (x->cursor_size == 0) {
        /* Every model: start at the first. */
        Witan__ModelsRequest q = WITAN__MODELS_REQUEST__INIT;
        q.limit = 1;
        Witan__Request req = WITAN__REQUEST__INIT;
        req.kind_case = WITAN__REQUEST__KIND_MODELS;
        req.models = &q;
        Witan__Response *resp;
        int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_MODELS, &resp);
        if (err)
            return err;
        bool any = resp->models->n_models == 1 &&
                   resp->models->models[0]->hash.len == WITAN_HASH_SIZE;
        if (any)
            memcpy(model, resp->models->models[0]->hash.data, sizeof model);
        witan__response__free_unpacked(resp, NULL);
        if (!any) {
            x->done = true;
            return WITAN_OK;
        }
    } else if (x->cursor_size == WITAN_HASH_SIZE ||
               x->cursor_size == WITAN_HASH_SIZE + 12) {
        memcpy(model, x->cursor, sizeof model);
    } else {
        return refuse(x, "not a predictions cursor");
    }
    if (x->has_model && memcmp(model, x->model, sizeof model) != 0)
        return refuse(x, "the cursor is of another model");

    Witan__PredictionsRequest q = WITAN__PREDICTIONS_REQUEST__INIT;
    q.model_hash = (ProtobufCBinaryData){sizeof model, model};
    q.subject = (char *)(x->subject ? x->subject : "");
    q.limit = x->page_size;
    if (x->cursor_size == WITAN_HASH_SIZE + 12)
        q.cursor = (ProtobufCBinaryData){x->cursor_size, x->cursor};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PREDICTIONS;
    req.predictions = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_PREDICTIONS,
                  &resp);
    if (err)
        return err;
    const Witan__PredictionsResponse *p = resp->predictions;
    bool past = false; /* heights, and so block times, only grow */
    for (size_t i = 0; !err && !past && i < p->n_records; i++) {
        int64_t t;
        err = block_time(x, call, ctx, p->records[i]->height, &t);
        past = !err && x->has_to && t > x->to_ms;
        if (!err && !past && in_time(x, t))
            prediction_row(r, p->records[i], t);
    }
    if (!err && p->next_cursor.len && !past)
        set_cursor(x, &p->next_cursor);
    else if (!err)
        err = next_model(x, call, ctx, model);
    witan__response__free_unpacked(resp, NULL);
    return err;
}

/* --- decisions ---------------------------------------------------------------------- */

static int page_decisions(struct render_export *x, render_export_call_fn call,
                          void *ctx, struct row *r)
{
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    uint8_t subject[WITAN_DECISION_SUBJECT_SIZE_MAX];
    if (x->has_contract)
        q.contract = (ProtobufCBinaryData){WITAN_HASH_SIZE, x->contract};
    if (x->subject) {
        /* Text, or 0x and hex for any bytes (as `witan decisions`). */
        size_t n = strlen(x->subject);
        if (strncmp(x->subject, "0x", 2) == 0) {
            if ((n - 2) % 2 || (n - 2) / 2 > sizeof subject ||
                witan_hex_decode(x->subject + 2, subject, (n - 2) / 2))
                return refuse(x, "--subject is text or 0x and at most %d "
                                 "bytes of hex",
                              WITAN_DECISION_SUBJECT_SIZE_MAX);
            q.subject = (ProtobufCBinaryData){(n - 2) / 2, subject};
        } else {
            if (n > sizeof subject)
                return refuse(x, "--subject is at most %d bytes",
                              WITAN_DECISION_SUBJECT_SIZE_MAX);
            q.subject = (ProtobufCBinaryData){n, (uint8_t *)x->subject};
        }
    }
    q.limit = x->page_size;
    q.cursor = (ProtobufCBinaryData){x->cursor_size, x->cursor};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_DECISIONS;
    req.decisions = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_DECISIONS, &resp);
    if (err)
        return err;
    const Witan__DecisionsResponse *ds = resp->decisions;
    for (size_t i = 0; i < ds->n_decisions; i++) {
        const Witan__Decision *d = ds->decisions[i]->decision;
        if (!d || !in_time(x, d->time_ms))
            continue;
        /* A prediction's key begins with its model's hash. */
        bool of_model = d->prediction.len >= WITAN_HASH_SIZE;
        if (x->has_model &&
            (!of_model ||
             memcmp(d->prediction.data, x->model, WITAN_HASH_SIZE) != 0))
            continue;
        cell_hex(r, &ds->decisions[i]->id);
        cell_hex(r, &d->contract);
        cell(r, d->contract_name);
        cell_u64(r, d->contract_version);
        cell_bytes_text(r, &d->kind);
        cell_bytes_text(r, &d->subject);
        r->scratch.len = 0;
        for (size_t j = 0; j < d->n_values; j++)
            render_json_printf(&r->scratch, "%s%" PRId64, j ? ";" : "",
                               d->values[j]);
        cell(r, r->scratch.len ? r->scratch.p : "");
        cell_bytes_text(r, &d->data);
        cell_u64(r, d->height);
        cell_time(r, d->time_ms);
        cell_u64(r, d->sequence);
        cell_hex(r, &d->tx_hash);
        cell_u64(r, d->run);
        cell_hex(r, &d->prediction);
        ProtobufCBinaryData m = {of_model ? WITAN_HASH_SIZE : 0,
                                 d->prediction.data};
        cell_hex(r, &m);
        row_end(r);
    }
    set_cursor(x, &ds->next_cursor);
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

/* --- scorecards --------------------------------------------------------------------- */

static void cell_sum(struct row *r, uint64_t hi, uint64_t lo, uint32_t frac)
{
    char num[RENDER_EXPORT_FIXED_SIZE];
    fixed_u128(false, ((unsigned __int128)hi << 64) | lo, frac, num,
               sizeof num);
    cell(r, num);
}

static int scorecard_row(struct render_export *x, render_export_call_fn call,
                         void *ctx, struct row *r, const Witan__ModelRecord *m)
{
    Witan__ScorecardRequest q = WITAN__SCORECARD_REQUEST__INIT;
    q.model_hash = m->hash;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_SCORECARD;
    req.scorecard = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_SCORECARD, &resp);
    if (err)
        return err;
    const Witan__ScorecardResponse *s = resp->scorecard;
    const Witan__Scorecard *c = s->scorecard; /* NULL: nothing resolved */
    const Witan__ModelTarget *t = s->target ? s->target : m->target;
    uint32_t frac = c ? c->frac_bits : 0;
    cell_hex(r, &m->hash);
    cell(r, m->name);
    cell_u64(r, m->version);
    cell_hex(r, &m->tx_hash);
    cell_u64(r, m->height);
    cell(r, t ? t->feed : "");
    cell(r, t ? t->subject : "");
    cell(r, t ? t->value : "");
    cell_i64(r, t ? t->horizon_ms : 0);
    cell_u64(r, t ? t->output : 0);
    cell_u64(r, c ? c->count : 0);
    cell_sum(r, c ? c->sum_sq_hi : 0, c ? c->sum_sq_lo : 0, 2 * frac);
    cell_sum(r, c ? c->sum_abs_hi : 0, c ? c->sum_abs_lo : 0, frac);
    cell_u64(r, c ? c->window : 0);
    cell_u64(r, s->recent_count);
    cell_sum(r, s->recent_sum_sq_hi, s->recent_sum_sq_lo, 2 * frac);
    cell_sum(r, s->recent_sum_abs_hi, s->recent_sum_abs_lo, frac);
    if (c)
        cell_u64(r, c->updated_height);
    else
        cell(r, "");
    cell(r, c && c->saturated ? "true" : "false");
    row_end(r);
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

static int page_scorecards(struct render_export *x, render_export_call_fn call,
                           void *ctx, struct row *r)
{
    Witan__ModelsRequest q = WITAN__MODELS_REQUEST__INIT;
    if (x->has_model)
        q.hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, x->model};
    else
        q.cursor = (ProtobufCBinaryData){x->cursor_size, x->cursor};
    q.limit = x->page_size;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_MODELS;
    req.models = &q;
    Witan__Response *resp;
    int err = ask(x, call, ctx, &req, WITAN__RESPONSE__KIND_MODELS, &resp);
    if (err)
        return err;
    const Witan__ModelsResponse *ms = resp->models;
    /* A model without a target keeps no scorecard: no row. */
    for (size_t i = 0; !err && i < ms->n_models; i++)
        if (ms->models[i]->target)
            err = scorecard_row(x, call, ctx, r, ms->models[i]);
    if (!err && x->has_model) {
        x->cursor_size = 0;
        x->done = true;
    } else if (!err) {
        set_cursor(x, &ms->next_cursor);
    }
    witan__response__free_unpacked(resp, NULL);
    return err;
}

/* --- one page ------------------------------------------------------------------------ */

int render_export_page(struct render_export *x, render_export_call_fn call,
                       void *ctx, struct render_json *out)
{
    WITAN_ASSERT(!x->done);
    static const char *const *const cols[] = {
        attestation_cols, prediction_cols, decision_cols, scorecard_cols};
    x->why[0] = '\0';
    struct row r = {out,         x->format, cols[x->kind], 0, {0},
                    &x->row_count};
    if (!x->started) {
        header(out, x->format, r.cols);
        x->started = true;
    }
    int err;
    switch (x->kind) {
    case RENDER_EXPORT_ATTESTATIONS:
        err = page_attestations(x, call, ctx, &r);
        break;
    case RENDER_EXPORT_PREDICTIONS:
        err = page_predictions(x, call, ctx, &r);
        break;
    case RENDER_EXPORT_DECISIONS:
        err = page_decisions(x, call, ctx, &r);
        break;
    default:
        err = page_scorecards(x, call, ctx, &r);
        break;
    }
    bool oom = r.scratch.oom || out->oom;
    free(r.scratch.p);
    if (!err && oom) {
        snprintf(x->why, sizeof x->why, "out of memory");
        err = WITAN_ENOMEM;
    }
    return err;
}
