/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf messages as JSON (spec/api.md, "JSON"): the HTTP gateway's
 * answers and `witan ... --json` are written by these functions, so the
 * two never differ. No nng here: the CLI links it as it is.
 */
#ifndef WITAN_NODE_JSON_H
#define WITAN_NODE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

/* A growing text buffer, zero-initialised by the caller; `p` is malloc'd
 * (the caller frees it) and always NUL-terminated once anything was
 * written. After an allocation failure it only sets `oom`: callers check
 * it once, at the end, rather than after every write. */
struct node_json {
    char *p;
    size_t len, cap;
    bool oom;
};

void node_json_put(struct node_json *b, const char *s, size_t n);
void node_json_puts(struct node_json *b, const char *s);
void node_json_printf(struct node_json *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string: quotes, backslashes and control bytes escaped; a byte
 * that is not well-formed UTF-8 becomes U+FFFD, so the output is always
 * valid JSON. */
void node_json_str(struct node_json *b, const char *s);
/* A JSON string of lowercase hex digits. */
void node_json_hex(struct node_json *b, const uint8_t *data, size_t size);

/* Writes the fields of m as `"name": value` pairs, each preceded by a comma
 * unless *first. Scalars are always written (proto3 defaults included, so
 * clients see every field); unset messages and oneof members are left out. */
void node_json_fields(struct node_json *b, const ProtobufCMessage *m,
                      bool *first);
/* m as one JSON object: its fields, and for a PredictionProblem and a
 * ContractRun the sentence clients show (`why`), for a Decision
 * `kind_text` and `subject_text`, for an Event `topic_text`, each only
 * when every byte is printable ASCII. */
void node_json_message(struct node_json *b, const ProtobufCMessage *m);
/* True when every byte of d is printable ASCII (0x20-0x7e); empty is. */
bool node_json_printable(const ProtobufCBinaryData *d);

/* m as one line of JSON on `out`. WITAN_ENOMEM, WITAN_EIO. */
int node_json_print(FILE *out, const ProtobufCMessage *m);

#endif
