/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The project's one CSV reader (common.h, "CSV"): RFC 4180 records read in
 * place from memory into a bounded buffer, with every refusal naming its
 * line, and the reader left at the next record.
 */
#include <stdio.h>
#include <string.h>

#include "common/common.h"

void witan_csv_init(struct witan_csv *r, const char *text, size_t size)
{
    r->p = text;
    r->end = text + size;
    r->line = r->next_line = 1;
    r->count = 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Skips to just after the end of the current record (quotes respected),
 * counting lines. */
static void skip_record(struct witan_csv *r, bool in_quotes)
{
    while (r->p < r->end) {
        char c = *r->p++;
        if (c == '"')
            in_quotes = !in_quotes;
        else if (c == '\n') {
            r->next_line++;
            if (!in_quotes)
                return;
        }
    }
}

#define CSV_FAIL(code, ...)                                                    \
    do {                                                                       \
        if (why && why_size)                                                   \
            snprintf(why, why_size, __VA_ARGS__);                              \
        skip_record(r, in_quotes);                                             \
        return (code);                                                         \
    } while (0)

int witan_csv_next(struct witan_csv *r, char *why, size_t why_size)
{
    bool in_quotes = false;
    /* blank lines are no records */
    for (;;) {
        const char *q = r->p;
        while (q < r->end && (blank(*q) || *q == '\r'))
            q++;
        if (q < r->end && *q == '\n') {
            r->p = q + 1;
            r->next_line++;
            continue;
        }
        if (q == r->end) {
            r->p = q;
            return 0;
        }
        break;
    }
    r->line = r->next_line;
    r->count = 0;
    size_t used = 0;
    for (;;) { /* one field */
        if (r->count == WITAN_CSV_FIELD_COUNT_MAX)
            CSV_FAIL(WITAN_ELIMIT, "line %zu: more than %d fields", r->line,
                     WITAN_CSV_FIELD_COUNT_MAX);
        while (r->p < r->end && blank(*r->p))
            r->p++;
        char *out = r->buf + used;
        size_t n = 0;
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            in_quotes = true;
            for (;;) {
                if (r->p == r->end)
                    CSV_FAIL(WITAN_EDECODE,
                             "line %zu: a quoted field is not closed",
                             r->line);
                char c = *r->p++;
                if (c == '"') {
                    if (r->p < r->end && *r->p == '"') {
                        r->p++; /* "" is one quote */
                    } else {
                        in_quotes = false;
                        break;
                    }
                } else if (c == '\n') {
                    r->next_line++;
                }
                if (used + n >= WITAN_CSV_RECORD_SIZE_MAX)
                    CSV_FAIL(WITAN_ELIMIT, "line %zu: a record over %d bytes",
                             r->line, WITAN_CSV_RECORD_SIZE_MAX);
                out[n++] = c;
            }
            while (r->p < r->end && blank(*r->p))
                r->p++;
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
                *r->p != '\r')
                CSV_FAIL(WITAN_EDECODE,
                         "line %zu, field %zu: text after a closing quote",
                         r->line, r->count + 1);
        } else {
            while (r->p < r->end && *r->p != ',' && *r->p != '\n') {
                if (*r->p == '"') {
                    r->p++; /* a stray quote opens nothing: skip past it */
                    CSV_FAIL(WITAN_EDECODE,
                             "line %zu, field %zu: a quote inside an unquoted "
                             "field",
                             r->line, r->count + 1);
                }
                if (used + n >= WITAN_CSV_RECORD_SIZE_MAX)
                    CSV_FAIL(WITAN_ELIMIT, "line %zu: a record over %d bytes",
                             r->line, WITAN_CSV_RECORD_SIZE_MAX);
                out[n++] = *r->p++;
            }
            /* spaces, tabs and a CR before the separator are not the field's */
            while (n > 0 && (blank(out[n - 1]) || out[n - 1] == '\r'))
                n--;
        }
        while (r->p < r->end && (blank(*r->p) || *r->p == '\r'))
            r->p++;
        out[n] = '\0';
        r->fields[r->count] = out;
        r->sizes[r->count++] = n;
        used += n + 1;
        if (r->p == r->end)
            return 1;
        if (*r->p == '\n') {
            r->p++;
            r->next_line++;
            return 1;
        }
        r->p++; /* the comma */
    }
}
