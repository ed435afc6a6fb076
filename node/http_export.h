/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /v1/export/{kind} for the HTTP gateway (node/http.c routes to it;
 * spec/api.md, "Export"): one bounded page per request, the rows written
 * by render/export.c, the next page's cursor in the Witan-Next-Cursor
 * header.
 */
#ifndef WITAN_NODE_HTTP_EXPORT_H
#define WITAN_NODE_HTTP_EXPORT_H

#include <nng/nng.h>

#include "render/render.h"

/* Rows asked of the node for one page when the request gives no limit. */
#define NODE_HTTP_EXPORT_PAGE_DEFAULT 100

/* One page's answer: body and Content-Type, and when more remain the
 * cursor to pass back (hex; empty after the last page). */
struct node_http_export {
    struct render_json body; /* malloc'd: node_http_export_free */
    const char *content_type;
    char next_cursor[2 * RENDER_EXPORT_CURSOR_SIZE_MAX + 1];
    char why[RENDER_EXPORT_WHY_SIZE]; /* on failure: what was wrong */
};

/*
 * Writes the page that `kind` (the path's last part) and the query's
 * parameters (names[i] = values[i], i < count) ask for into *out, asking
 * the node through `call`. Parameters: format (csv, the default, or
 * jsonl), feed, subject, from, to (Unix ms), model, contract (64 hex
 * digits), limit (1..1000; 0 or absent: 100), cursor (hex, from
 * Witan-Next-Cursor). On failure a WITAN_E* code with out->why:
 * WITAN_ENOTFOUND for an unknown kind, WITAN_EINVAL for a bad or unknown
 * parameter, WITAN_ELIMIT, or what the node answered. Free *out with
 * node_http_export_free in every case.
 */
int node_http_export(const char *kind, const char *const *names,
                     const char *const *values, size_t count,
                     render_export_call_fn call, void *ctx,
                     struct node_http_export *out);
/* Answers the HTTP request `aio` with a page node_http_export wrote
 * (200, its Content-Type, Witan-Next-Cursor when more remain). */
void node_http_export_respond(nng_aio *aio, const struct node_http_export *e);
void node_http_export_free(struct node_http_export *e);

#endif
