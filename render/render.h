/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rendering chain records for people and programs, shared by the node's
 * HTTP gateway and the CLI so that both write the same bytes: protobuf
 * messages as JSON (spec/api.md, "JSON") and exports as CSV or JSON Lines
 * (spec/api.md, "Export"). No nng here: the CLI links it as it is, and
 * nothing in it reaches state.
 */
#ifndef WITAN_RENDER_H
#define WITAN_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "common/common.h"
#include "spec/witan.pb-c.h"

/* --- JSON --------------------------------------------------------------- */
/* A growing text buffer, zero-initialised by the caller; `p` is malloc'd
 * (the caller frees it) and always NUL-terminated once anything was
 * written. After an allocation failure it only sets `oom`: callers check
 * it once, at the end, rather than after every write. */
struct render_json {
    char *p;
    size_t len, cap;
    bool oom;
};

void render_json_put(struct render_json *b, const char *s, size_t n);
void render_json_puts(struct render_json *b, const char *s);
void render_json_printf(struct render_json *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string: quotes, backslashes and control bytes escaped; a byte
 * that is not well-formed UTF-8 becomes U+FFFD, so the output is always
 * valid JSON. */
void render_json_str(struct render_json *b, const char *s);
/* A JSON string of lowercase hex digits. */
void render_json_hex(struct render_json *b, const uint8_t *data, size_t size);

/* Writes the fields of m as `"name": value` pairs, each preceded by a comma
 * unless *first. Scalars are always written (proto3 defaults included, so
 * clients see every field); unset messages and oneof members are left out. */
void render_json_fields(struct render_json *b, const ProtobufCMessage *m,
                        bool *first);
/* The longest field name, derived names included, that JSON output
 * writes (witan.proto's are far shorter). */
#define RENDER_JSON_NAME_SIZE 64
/* m as one JSON object: its fields; every mantissa and scale also as
 * decimal text and every point in time also as ISO 8601 (spec/api.md,
 * "JSON"); for a PredictionProblem and a ContractRun the sentence clients
 * show (`why`), for a Decision `kind_text` and `subject_text`, for an
 * Event `topic_text`, each only when every byte is printable ASCII. */
void render_json_message(struct render_json *b, const ProtobufCMessage *m);
/* True when every byte of d is printable ASCII (0x20-0x7e); empty is. */
bool render_json_printable(const ProtobufCBinaryData *d);

/* A BlockResponse as the gateway's /v1/blocks answers it: its fields and
 * `header_decoded`, the BlockHeader its `header` bytes hold. */
void render_json_block(struct render_json *b, const Witan__BlockResponse *r);
/* A transaction as /v1/tx/{hash} answers it: `tx_hash` first when hash is
 * not NULL (WITAN_HASH_SIZE bytes), the TxResponse's fields, `body` (the
 * envelope's TxBody decoded), `cert` when given, and `runs` (the
 * RunsResponse of what it caused) when given. */
void render_json_tx(struct render_json *b, const uint8_t *hash,
                    const Witan__TxResponse *t,
                    const Witan__CommitCertificate *cert,
                    const Witan__RunsResponse *runs);
/* b, then a newline, on `out`; frees b's text and empties it, in every
 * case. WITAN_ENOMEM (b ran out), WITAN_EIO. */
int render_json_write(FILE *out, struct render_json *b);

/* m as one line of JSON on `out`. WITAN_ENOMEM, WITAN_EIO. */
int render_json_print(FILE *out, const ProtobufCMessage *m);

/* --- export ------------------------------------------------------------- */

enum render_export_kind {
    RENDER_EXPORT_ATTESTATIONS,
    RENDER_EXPORT_PREDICTIONS,
    RENDER_EXPORT_DECISIONS,
    RENDER_EXPORT_SCORECARDS,
};

enum render_export_format {
    RENDER_EXPORT_CSV,
    RENDER_EXPORT_JSONL,
};

/* The largest export cursor: an attestations cursor is a store key; the
 * others are shorter (a decisions cursor, a prediction's key, a model
 * hash). */
#define RENDER_EXPORT_CURSOR_SIZE_MAX WITAN_STORE_KEY_SIZE_MAX
_Static_assert(WITAN_DECISION_CURSOR_SIZE_MAX <= RENDER_EXPORT_CURSOR_SIZE_MAX,
               "a decisions cursor must fit an export cursor");
/* Rows of one page unless the caller asks for fewer (the node's page). */
#define RENDER_EXPORT_PAGE_DEFAULT WITAN_QUERY_PAGE_COUNT_MAX
#define RENDER_EXPORT_WHY_SIZE 256

/*
 * One export: the caller fills the filters (zero-initialise, then set what
 * applies; render_export_check says whether they fit the kind), then calls
 * render_export_page until `done`. Strings are borrowed for the export's
 * life.
 */
struct render_export {
    enum render_export_kind kind;
    enum render_export_format format;
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
    uint8_t cursor[RENDER_EXPORT_CURSOR_SIZE_MAX];
    size_t cursor_size;
    bool started; /* the header was written, or is not wanted (a later page) */
    bool done;
    uint64_t row_count; /* rows written so far, the header not counted */
    char why[RENDER_EXPORT_WHY_SIZE]; /* after a failure: what went wrong */

    /* The block time of the last height asked (predictions). */
    uint64_t time_height;
    int64_t time_ms;
};

/* One request to the node: on success *out is the caller's to free
 * (witan__response__free_unpacked). Returns 0 or a WITAN_E* code. */
typedef int (*render_export_call_fn)(void *ctx, const Witan__Request *req,
                                     Witan__Response **out);

/* "attestations", "predictions", "decisions", "scorecards"; WITAN_EINVAL
 * for another word. */
int render_export_kind_parse(const char *text, enum render_export_kind *out);
const char *render_export_kind_name(enum render_export_kind kind);
/* "csv" or "jsonl"; WITAN_EINVAL for another. */
int render_export_format_parse(const char *text,
                               enum render_export_format *out);
/* The Content-Type of a format ("text/csv; charset=utf-8", ...). */
const char *render_export_content_type(enum render_export_format format);

/*
 * Whether the filters fit the kind: a filter the kind does not take, a
 * missing required one, a page size over the limit. WITAN_EINVAL with
 * x->why naming the filter as `flag` and its name ("--" and "feed" for
 * the CLI's --feed; "" for the gateway's parameter `feed`).
 */
int render_export_check(struct render_export *x, const char *flag);

/*
 * Asks the node for the next page (one to a few requests through `call`)
 * and appends its rows to `out`, the header row first when !x->started.
 * Moves x->cursor on and sets x->done after the last page. A page may hold
 * no row and still not be the last (filters on time, a model without
 * predictions). On failure returns the WITAN_E* code (the node's own when
 * it refused the request) with x->why saying what failed; out may then
 * hold part of a page. An out of memory in `out` is WITAN_ENOMEM.
 */
int render_export_page(struct render_export *x, render_export_call_fn call,
                       void *ctx, struct render_json *out);

/* v × 2^-frac_bits exactly in decimal: the integer, then a point and as
 * many digits as the value has (at most frac_bits, trailing zeros
 * dropped; none for a whole number). frac_bits at most 62. out holds at
 * least RENDER_EXPORT_FIXED_SIZE bytes. Cannot fail. */
#define RENDER_EXPORT_FIXED_SIZE 96
void render_export_fixed(int64_t v, uint32_t frac_bits, char *out,
                         size_t out_size);
/* mantissa × 10^-scale as decimal text ("414.50"), scale at most
 * WITAN_DECIMAL_SCALE_MAX (state holds no larger one); out holds at least
 * RENDER_DECIMAL_SIZE bytes. Cannot fail. */
#define RENDER_DECIMAL_SIZE 48
void render_decimal(int64_t mantissa, uint32_t scale, char *out,
                    size_t out_size);
/* Unix ms as ISO 8601 UTC with milliseconds, "2020-01-01T00:00:00.000Z".
 * out holds at least 32 bytes. */
void render_export_time(int64_t ms, char *out, size_t out_size);

#endif
