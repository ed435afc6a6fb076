/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export for analysts (spec/api.md, "Export"): attestations, predictions,
 * decisions and scorecards as CSV (RFC 4180) or JSON Lines, one page at a
 * time. `witan export` and the gateway's GET /v1/export/{kind} both write
 * their rows with node_export_page, so a row is the same bytes whichever
 * wrote it.
 *
 * The exporter holds no state but its filters and one cursor: each page
 * asks the node's client API (through the caller's `call`, so this file
 * needs no nng and the CLI links it as it is), appends that page's rows to
 * a node_json buffer, and moves the cursor on. The caller writes the
 * buffer out before asking for the next page, so an export of any size
 * takes the memory of one page.
 */
#ifndef WITAN_NODE_EXPORT_H
#define WITAN_NODE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "node/json.h"
#include "spec/witan.pb-c.h"

enum node_export_kind {
    NODE_EXPORT_ATTESTATIONS,
    NODE_EXPORT_PREDICTIONS,
    NODE_EXPORT_DECISIONS,
    NODE_EXPORT_SCORECARDS,
};

enum node_export_format {
    NODE_EXPORT_CSV,
    NODE_EXPORT_JSONL,
};

/* The largest export cursor: an attestations cursor is a store key; the
 * others are shorter (a decisions cursor, a prediction's key, a model
 * hash). */
#define NODE_EXPORT_CURSOR_SIZE_MAX WITAN_STORE_KEY_SIZE_MAX
_Static_assert(WITAN_DECISION_CURSOR_SIZE_MAX <= NODE_EXPORT_CURSOR_SIZE_MAX,
               "a decisions cursor must fit an export cursor");
/* Rows of one page unless the caller asks for fewer (the node's page). */
#define NODE_EXPORT_PAGE_DEFAULT WITAN_QUERY_PAGE_COUNT_MAX
#define NODE_EXPORT_WHY_SIZE 256

/*
 * One export: the caller fills the filters (zero-initialise, then set what
 * applies; node_export_check says whether they fit the kind), then calls
 * node_export_page until `done`. Strings are borrowed for the export's
 * life.
 */
struct node_export {
    enum node_export_kind kind;
    enum node_export_format format;
    const char *feed;    /* attestations (required) */
    const char *subject; /* attestations (required), predictions (the
                            trigger's subject), decisions (text) */
    bool has_from, has_to; /* inclusive times, Unix ms */
    int64_t from_ms, to_ms;
    bool has_model; /* predictions, scorecards: this model only;
                       decisions: only those resting on its predictions */
    uint8_t model[WITAN_HASH_SIZE];
    bool has_contract; /* decisions: this contract only */
    uint8_t contract[WITAN_HASH_SIZE];
    uint32_t page_size; /* 1..WITAN_QUERY_PAGE_COUNT_MAX; 0: the default */

    /* Where the next page starts (opaque; empty: the beginning). */
    uint8_t cursor[NODE_EXPORT_CURSOR_SIZE_MAX];
    size_t cursor_size;
    bool started; /* the header was written, or is not wanted (a later page) */
    bool done;
    uint64_t row_count; /* rows written so far, the header not counted */
    char why[NODE_EXPORT_WHY_SIZE]; /* after a failure: what went wrong */

    /* The block time of the last height asked (predictions). */
    uint64_t time_height;
    int64_t time_ms;
};

/* One request to the node: on success *out is the caller's to free
 * (witan__response__free_unpacked). Returns 0 or a WITAN_E* code. */
typedef int (*node_export_call_fn)(void *ctx, const Witan__Request *req,
                                   Witan__Response **out);

/* "attestations", "predictions", "decisions", "scorecards"; WITAN_EINVAL
 * for another word. */
int node_export_kind_parse(const char *text, enum node_export_kind *out);
const char *node_export_kind_name(enum node_export_kind kind);
/* "csv" or "jsonl"; WITAN_EINVAL for another. */
int node_export_format_parse(const char *text, enum node_export_format *out);
/* The Content-Type of a format ("text/csv; charset=utf-8", ...). */
const char *node_export_content_type(enum node_export_format format);

/*
 * Whether the filters fit the kind: a filter the kind does not take, a
 * missing required one, a page size over the limit. WITAN_EINVAL with
 * x->why naming the filter as `flag` and its name ("--" and "feed" for
 * the CLI's --feed; "" for the gateway's parameter `feed`).
 */
int node_export_check(struct node_export *x, const char *flag);

/*
 * Asks the node for the next page (one to a few requests through `call`)
 * and appends its rows to `out`, the header row first when !x->started.
 * Moves x->cursor on and sets x->done after the last page. A page may hold
 * no row and still not be the last (filters on time, a model without
 * predictions). On failure returns the WITAN_E* code (the node's own when
 * it refused the request) with x->why saying what failed; out may then
 * hold part of a page. An out of memory in `out` is WITAN_ENOMEM.
 */
int node_export_page(struct node_export *x, node_export_call_fn call,
                     void *ctx, struct node_json *out);

/* v × 2^-frac_bits exactly in decimal: the integer, then a point and as
 * many digits as the value has (at most frac_bits, trailing zeros
 * dropped; none for a whole number). frac_bits at most 62. out holds at
 * least NODE_EXPORT_FIXED_SIZE bytes. Cannot fail. */
#define NODE_EXPORT_FIXED_SIZE 96
void node_export_fixed(int64_t v, uint32_t frac_bits, char *out,
                       size_t out_size);
/* Unix ms as ISO 8601 UTC with milliseconds, "2020-01-01T00:00:00.000Z".
 * out holds at least 32 bytes. */
void node_export_time(int64_t ms, char *out, size_t out_size);

#endif
