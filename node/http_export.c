/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /v1/export/{kind}: analysts' exports over HTTP (spec/api.md,
 * "Export").
 *
 * The gateway answers each request whole (node/http_conns.c sends one
 * body of a known length), so an export is paged rather than streamed:
 * each request writes one page — at most `limit` records asked of the
 * node — and names where the next starts in the Witan-Next-Cursor header.
 * The server so holds one page per request, whatever the export's size,
 * and the rows are render/export.c's, the same bytes `witan export` writes.
 * The header row of a CSV export comes only with the first page (no
 * cursor), so the pages concatenated are one file.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "node/http_export.h"

static const char *param(const char *const *names, const char *const *values,
                         size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

static int fail(struct node_http_export *out, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct node_http_export *out, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
    return err;
}

/* A decimal integer, optionally negative, that fits int64. */
static bool parse_ms(const char *s, int64_t *out)
{
    bool neg = s[0] == '-';
    const char *d = neg ? s + 1 : s;
    if (!*d || strlen(d) > 19)
        return false;
    uint64_t v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return false;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool hash_param(const char *s, uint8_t out[WITAN_HASH_SIZE])
{
    return strlen(s) == 2 * WITAN_HASH_SIZE &&
           witan_hex_decode(s, out, WITAN_HASH_SIZE) == 0;
}

/* The query's parameters into x; names the first that is wrong. */
static int read_params(struct render_export *x, const char *const *names,
                       const char *const *values, size_t count,
                       struct node_http_export *out)
{
    static const char *const known[] = {"format", "feed",     "subject",
                                        "from",   "to",       "model",
                                        "contract", "limit",  "cursor"};
    for (size_t i = 0; i < count; i++) {
        bool ok = false;
        for (size_t k = 0; k < WITAN_ARRAY_COUNT(known); k++)
            ok |= strcmp(names[i], known[k]) == 0;
        if (!ok)
            return fail(out, WITAN_EINVAL, "unknown query parameter '%s'",
                        names[i]);
    }
#define P(name) param(names, values, count, name)
    const char *v;
    if ((v = P("format")) && render_export_format_parse(v, &x->format))
        return fail(out, WITAN_EINVAL, "format is csv or jsonl, not '%.64s'",
                    v);
    x->feed = P("feed");
    x->subject = P("subject");
    /* Times as the CLI takes them (witan_time_parse), so `witan export
     * --from 2020-01` and `?from=2020-01` ask the same. */
    int err;
    if ((v = P("from")) && (err = witan_time_parse(v, &x->from_ms)))
        return fail(out, WITAN_EINVAL, "from '%.64s' is invalid: %s", v,
                    witan_time_error(err));
    x->has_from = v != NULL;
    if ((v = P("to")) && (err = witan_time_parse(v, &x->to_ms)))
        return fail(out, WITAN_EINVAL, "to '%.64s' is invalid: %s", v,
                    witan_time_error(err));
    x->has_to = v != NULL;
    if ((v = P("model")) && !(x->has_model = hash_param(v, x->model)))
        return fail(out, WITAN_EINVAL, "model is a model's hash, 64 hex "
                                       "digits");
    if ((v = P("contract")) &&
        !(x->has_contract = hash_param(v, x->contract)))
        return fail(out, WITAN_EINVAL, "contract is a contract id, 64 hex "
                                       "digits");
    x->page_size = NODE_HTTP_EXPORT_PAGE_DEFAULT;
    if ((v = P("limit"))) {
        int64_t n;
        if (!parse_ms(v, &n) || n < 0 || n > WITAN_QUERY_PAGE_COUNT_MAX)
            return fail(out, WITAN_ELIMIT, "limit is a count from 0 to %d",
                        WITAN_QUERY_PAGE_COUNT_MAX);
        if (n)
            x->page_size = (uint32_t)n;
    }
    if ((v = P("cursor")) && *v) {
        size_t n = strlen(v);
        if (n % 2 || n / 2 > sizeof x->cursor ||
            witan_hex_decode(v, x->cursor, n / 2))
            return fail(out, WITAN_EINVAL, "cursor is the Witan-Next-Cursor "
                                           "of a previous page");
        x->cursor_size = n / 2;
        x->started = true; /* a later page: no header row */
    }
#undef P
    if (render_export_check(x, ""))
        return fail(out, WITAN_EINVAL, "%s", x->why);
    return WITAN_OK;
}

int node_http_export(const char *kind, const char *const *names,
                     const char *const *values, size_t count,
                     render_export_call_fn call, void *ctx,
                     struct node_http_export *out)
{
    memset(out, 0, sizeof *out);
    struct render_export *x = calloc(1, sizeof *x);
    if (!x)
        return fail(out, WITAN_ENOMEM, "out of memory");
    int err = WITAN_OK;
    if (render_export_kind_parse(kind, &x->kind))
        err = fail(out, WITAN_ENOTFOUND,
                   "no export of '%.64s': attestations, predictions, "
                   "decisions or scorecards",
                   kind);
    if (!err)
        err = read_params(x, names, values, count, out);
    if (!err && (err = render_export_page(x, call, ctx, &out->body)))
        snprintf(out->why, sizeof out->why, "%s", x->why);
    if (!err) {
        out->content_type = render_export_content_type(x->format);
        if (!x->done)
            witan_hex_encode(x->cursor, x->cursor_size, out->next_cursor);
    }
    free(x);
    return err;
}

void node_http_export_respond(nng_aio *aio, const struct node_http_export *e)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    int rc = nng_http_res_set_status(res, 200);
    if (!rc)
        rc = nng_http_res_set_header(res, "Content-Type", e->content_type);
    if (!rc && e->next_cursor[0])
        rc = nng_http_res_set_header(res, "Witan-Next-Cursor", e->next_cursor);
    if (!rc)
        rc = nng_http_res_copy_data(res, e->body.len ? e->body.p : "",
                                    e->body.len);
    if (rc) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rc);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

void node_http_export_free(struct node_http_export *e)
{
    free(e->body.p);
    e->body = (struct render_json){0};
}
