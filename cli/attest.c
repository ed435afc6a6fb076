/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan attest: sign and submit attestations — one from flags, or one per
 * row of a CSV file, sent in batches. Values are decimals kept exact as
 * mantissa and scale; a value equal to a declared sentinel is missing and is
 * left out of the record (never written as the sentinel), and the command
 * says how many it left out.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "render/render.h"

#define ATTEST_BATCH_DEFAULT 500
#define ATTEST_FILE_SIZE_MAX (256u * 1024 * 1024)
#define ATTEST_COLUMN_COUNT_MAX 64      /* positions --columns may name */
#define ATTEST_FILE_REPORT_COUNT_MAX 20 /* bad rows, conflicts, refusals named */
#define ATTEST_CONFLICT_LINE_COUNT_MAX 8 /* lines named in one conflict */
#define ATTEST_PROGRESS_TTY_MS 200      /* a terminal's line redrawn at most */
#define ATTEST_PROGRESS_ROW_COUNT 500   /* elsewhere a line every so many rows */
#define ATTEST_PROGRESS_INTERVAL_MS 10000 /* ... or this often, if sooner */
#define ATTEST_STATUS_COUNT 64          /* receipt statuses tallied by value */

#define ATTEST_STR_(x) #x
#define ATTEST_STR(x) ATTEST_STR_(x)

static const char usage[] =
    "usage: witan attest --key FILE --feed FEED --subject S --time T\n"
    "                    --value NAME=DECIMAL [--value ...] [--unit U]\n"
    "                    [--corrects TXHASH] [--document-hash HASH]\n"
    "                    [--nonce N] [--wait] [--json]\n"
    "                    [--node URL [--tls-ca FILE] | --home DIR]\n"
    "       witan attest --key FILE --feed FEED --subject S --file CSV\n"
    "                    --columns SPEC [--missing NAME=SENTINEL,...] [--unit U]\n"
    "                    [--on-conflict refuse|first|last] [--batch N]\n"
    "                    [--wait]\n"
    "                    [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "Signs attestations with the key (a member with the data_provider role)\n"
    "and submits them. Values are exact decimals (421.13 is mantissa\n"
    "42113, scale 2). A correction names the transaction hash of the\n"
    "revision it replaces.\n" CLI_TIME_HELP
    "\n"
    "CSV (RFC 4180: a field may be quoted, \"\" is a quote inside one, and\n"
    "spaces around a field are dropped): --columns names the file's columns\n"
    "by position, comma-separated: 'time' for the observation time, '-' to\n"
    "skip a column, any other word to attest that column as a value of that\n"
    "name; columns past those are named on stderr and not attested. The\n"
    "first record is a header and is skipped (its names are not trusted).\n"
    "--missing lists sentinels: a value equal to its sentinel is left out,\n"
    "and counted. The whole file is checked before anything is sent: every\n"
    "bad row is named (the first " ATTEST_STR(ATTEST_FILE_REPORT_COUNT_MAX)
    ", then counted) and nothing is sent\n"
    "(exit 2). Rows of the same time with different values are a conflict:\n"
    "--on-conflict refuse (the default) names their lines and sends nothing\n"
    "(exit 2); first or last sends that one of them. Rows of the same time\n"
    "and values are sent once. Progress goes to stderr (one line redrawn on\n"
    "a terminal, else a line every " ATTEST_STR(ATTEST_PROGRESS_ROW_COUNT)
    " rows or " ATTEST_STR(ATTEST_PROGRESS_INTERVAL_MS) " ms); a tally\n"
    "ends it, with --wait one of receipts by status. Exit 1 when a row was\n"
    "refused, dropped or committed with a status other than OK.\n"
    "Example (NOAA's monthly Mauna Loa file):\n"
    "  --columns time,-,co2,co2_deseasonalised,days,stddev,uncertainty\n"
    "  --missing days=-1,stddev=-9.99,uncertainty=-0.99\n"
    "\n"
    "--wait waits until every transaction is committed and prints its\n"
    "receipt (from a file: the tally, and on stderr each not OK, by line);\n"
    "it exits 1 if one failed, or was dropped because another transaction\n"
    "of the same key took its nonce (the line names that transaction).\n"
    "A single attestation whose nonce was chosen here (no --nonce) is signed\n"
    "again with the next nonce instead, up to 3 times: the node asked may\n"
    "not yet have applied this key's previous transaction.\n"
    "\n" CLI_SIGN_HELP CLI_NODE_HELP;

static const struct cli_opt attest_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--json", false, false},
    {"--feed", true, false},
    {"--subject", true, false},
    {"--unit", true, false},
    {"--nonce", true, false},
    /* one attestation from flags */
    {"--time", true, false},
    {"--value", true, true},
    {"--corrects", true, false},
    {"--document-hash", true, false},
    /* many from a CSV file */
    {"--file", true, false},
    {"--columns", true, false},
    {"--missing", true, false},
    {"--batch", true, false},
    {"--on-conflict", true, false},
    {NULL, false, false},
};
/* The flags of one mode that the other does not take. */
static const char *const flags_only[] = {"--time", "--value", "--corrects",
                                         "--document-hash"};
static const char *const file_only[] = {"--columns", "--missing", "--batch",
                                        "--on-conflict"};

struct attest_opts {
    const char *address;
    const char *feed, *subject, *unit;
    wcrypto_keypair key;
    uint8_t sender[WITAN_ADDRESS_SIZE];
    uint64_t nonce;
    size_t batch; /* transactions per batch from a file */
    bool auto_nonce; /* the nonce was asked of the node, not given */
    bool wait, json;
};


/* Prints a settled transaction's receipt, or that it was dropped (with
 * --json as cli_print_tx_json); 1 unless committed OK. */
static int print_settled(const struct attest_opts *o, const uint8_t *hash,
                         const char *hex, const Witan__TxResponse *t)
{
    if (o->json) {
        int rc = cli_print_tx_json(hash, t, NULL);
        return rc ? rc : cli_tx_ok(t);
    }
    if (t->state == WITAN__TX_STATE__TX_STATE_COMMITTED) {
        printf("%s committed at height %llu: %s\n", hex,
               (unsigned long long)t->receipt->height,
               cli_tx_status_name(t->receipt->status));
        return t->receipt->status != WITAN__TX_STATUS__TX_STATUS_OK;
    }
    char by[2 * WITAN_HASH_SIZE + 1] = "(unknown)";
    if (t->displaced_by.len == WITAN_HASH_SIZE)
        witan_hex_encode(t->displaced_by.data, WITAN_HASH_SIZE, by);
    printf("%s dropped: its nonce was taken by committed transaction %s\n",
           hex, by);
    return 1;
}

/* The chain id is needed in every body; one status call fetches it. */
static char chain_id[WITAN_CHAIN_ID_SIZE_MAX + 1];

/* Builds and signs one attestation; *env owns the envelope bytes. */
static int sign_attest(struct attest_opts *o, int64_t time_ms,
                       Witan__NamedValue **values, size_t n_values,
                       const uint8_t *corrects, const uint8_t *doc,
                       ProtobufCBinaryData *env, uint8_t hash[WITAN_HASH_SIZE])
{
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = (char *)o->feed;
    a.subject = (char *)o->subject;
    a.observed_at_ms = time_ms;
    a.n_values = n_values;
    a.values = values;
    a.unit = (char *)(o->unit ? o->unit : "");
    if (corrects)
        a.corrects =
            (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)corrects};
    if (doc)
        a.document_hash =
            (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)doc};
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.chain_id = chain_id;
    body.sender = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, o->sender};
    body.nonce = o->nonce++;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    body.attest = &a;
    return cli_sign_tx(&body, &o->key, &env->data, &env->len, hash);
}

static int chain_id_of(const char *address, char *out, size_t size)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    Witan__Response *resp;
    if (cli_call(address, &req, 10000, &resp))
        return WITAN_ENET;
    int err = resp->status ? WITAN_OK : WITAN_EDECODE;
    if (!err)
        snprintf(out, size, "%s", resp->status->chain_id);
    witan__response__free_unpacked(resp, NULL);
    return err;
}

/* A DUPLICATE receipt: this provider already attested this feed, subject
 * and time. Names that record's transaction and how to change it. */
static void explain_duplicate(const struct attest_opts *o, int64_t time_ms)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__AttestationsRequest q = WITAN__ATTESTATIONS_REQUEST__INIT;
    q.feed = (char *)o->feed;
    q.subject = (char *)o->subject;
    q.from_ms = time_ms;
    q.to_ms = time_ms;
    q.limit = WITAN_QUERY_PAGE_COUNT_MAX;
    req.kind_case = WITAN__REQUEST__KIND_ATTESTATIONS;
    req.attestations = &q;
    Witan__Response *resp;
    if (cli_call(o->address, &req, 10000, &resp))
        return;
    for (size_t i = 0; resp->attestations && i < resp->attestations->n_records;
         i++) {
        const Witan__AttestationRecord *r = resp->attestations->records[i];
        if (r->provider.len != WITAN_ADDRESS_SIZE ||
            memcmp(r->provider.data, o->sender, WITAN_ADDRESS_SIZE) != 0 ||
            r->tx_hash.len != WITAN_HASH_SIZE)
            continue;
        char tx[2 * WITAN_HASH_SIZE + 1];
        witan_hex_encode(r->tx_hash.data, WITAN_HASH_SIZE, tx);
        fprintf(stderr,
                "witan attest: this account attested feed %s, subject %s at "
                "that time already: transaction %s (revision %u, height "
                "%llu). To change it, attest again with --corrects %s\n",
                o->feed, o->subject, tx, r->revision,
                (unsigned long long)r->height, tx);
        break;
    }
    witan__response__free_unpacked(resp, NULL);
}

/* One attestation's flags, parsed before any node is asked. */
struct one_attest {
    int64_t time_ms;
    Witan__NamedValue vals[WITAN_ATTEST_VALUE_COUNT_MAX];
    Witan__NamedValue *ptrs[WITAN_ATTEST_VALUE_COUNT_MAX];
    char names[WITAN_ATTEST_VALUE_COUNT_MAX][WITAN_VALUE_NAME_SIZE_MAX + 1];
    size_t n;
    uint8_t corrects[WITAN_HASH_SIZE], doc[WITAN_HASH_SIZE];
    bool has_corrects, has_doc;
};

/* --time, --value, --corrects and --document-hash into `a`; 0, or 2 after
 * saying which is missing or invalid. */
static int one_parse(int argc, char **argv, struct one_attest *a)
{
    const char *time_text = cli_flag(argc, argv, "--time");
    if (!time_text) {
        fprintf(stderr, "witan attest: --time is required\n");
        return 2;
    }
    int terr = witan_time_parse(time_text, &a->time_ms);
    if (terr) {
        fprintf(stderr, "witan attest: --time '%s' is invalid: %s\n",
                time_text, witan_time_error(terr));
        return 2;
    }
    a->n = 0;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--value") != 0)
            continue;
        const char *v = argv[++i];
        const char *eq = strchr(v, '=');
        if (a->n == WITAN_ATTEST_VALUE_COUNT_MAX) {
            fprintf(stderr, "witan attest: at most %d --value\n",
                    WITAN_ATTEST_VALUE_COUNT_MAX);
            return 2;
        }
        if (!eq || eq == v ||
            (size_t)(eq - v) > WITAN_VALUE_NAME_SIZE_MAX) {
            fprintf(stderr, "witan attest: --value '%s' is invalid: it "
                            "takes NAME=DECIMAL (a name of 1 to %d bytes)\n",
                    v, WITAN_VALUE_NAME_SIZE_MAX);
            return 2;
        }
        Witan__NamedValue *nv = &a->vals[a->n];
        witan__named_value__init(nv);
        snprintf(a->names[a->n], sizeof a->names[a->n], "%.*s",
                 (int)(eq - v), v);
        nv->name = a->names[a->n];
        if (cli_parse_decimal(eq + 1, &nv->mantissa, &nv->scale)) {
            fprintf(stderr, "witan attest: --value '%s' is invalid: '%s' is "
                            "not an exact decimal\n",
                    v, eq + 1);
            return 2;
        }
        a->ptrs[a->n] = nv;
        a->n++;
    }
    if (a->n == 0) {
        fprintf(stderr, "witan attest: at least one --value is required\n");
        return 2;
    }
    const char *c = cli_flag(argc, argv, "--corrects");
    const char *d = cli_flag(argc, argv, "--document-hash");
    if ((c && cli_parse_hash("attest", "--corrects", c, a->corrects,
                             WITAN_HASH_SIZE)) ||
        (d && cli_parse_hash("attest", "--document-hash", d, a->doc,
                             WITAN_HASH_SIZE)))
        return 2;
    a->has_corrects = c != NULL;
    a->has_doc = d != NULL;
    return 0;
}

static int one_from_flags(struct attest_opts *o, struct one_attest *a)
{
    int64_t time_ms = a->time_ms;
    for (int attempt = 0;; attempt++) {
        ProtobufCBinaryData env;
        uint8_t hash[WITAN_HASH_SIZE];
        uint64_t nonce = o->nonce;
        int err = sign_attest(o, time_ms, a->ptrs,
                              a->n, a->has_corrects ? a->corrects : NULL,
                              a->has_doc ? a->doc : NULL, &env, hash);
        if (err)
            return cli_fail("signing", err);
        bool quiet = o->auto_nonce && attempt < CLI_NONCE_RETRY_MAX;
        Witan__Response *tx;
        int rc = cli_submit_wait(o->address, env.data, env.len, hash, o->wait,
                                 quiet, &tx);
        free(env.data);
        if (rc == CLI_NONCE_TAKEN) {
            /* The node has applied the block that took the nonce (or it
             * would not know), so it now knows a later one. */
            fprintf(stderr, "witan attest: nonce %llu was taken by another "
                            "transaction of this key; signing again\n",
                    (unsigned long long)nonce);
            if (cli_next_nonce(o->address, o->sender, &o->nonce))
                return 1;
            continue;
        }
        if (rc)
            return rc;
        char hex[2 * WITAN_HASH_SIZE + 1];
        witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
        if (!o->wait) {
            if (o->json)
                return cli_print_tx_json(hash, NULL, NULL);
            printf("submitted %s\n", hex);
            return 0;
        }
        rc = print_settled(o, hash, hex, tx->tx);
        if (tx->tx->receipt &&
            tx->tx->receipt->status == WITAN__TX_STATUS__TX_STATUS_DUPLICATE)
            explain_duplicate(o, time_ms);
        witan__response__free_unpacked(tx, NULL);
        return rc;
    }
}

/* --- many from a CSV file --------------------------------------------------
 *
 * The file is read whole by the project's one CSV reader (common.h, "CSV")
 * and checked whole before the node is asked anything: every bad row is
 * named (up to ATTEST_FILE_REPORT_COUNT_MAX, then counted), columns the
 * rows have beyond --columns are named, and conflicts are found.
 *
 * A conflict: two rows of the file with the same observation time (the feed
 * and subject are the command's, the same for every row) whose values
 * differ: another set of value names, or a value of another amount (1.5
 * and 1.50 are one amount). The chain keeps one attestation per provider,
 * feed, subject and time, so at most one of them can be sent; --on-conflict
 * says which (refuse, the default: none, and nothing is sent). Rows with the
 * same time and the same values are repeats, not conflicts: the first is
 * sent and the others counted.
 */
_Static_assert(ATTEST_COLUMN_COUNT_MAX <= WITAN_CSV_FIELD_COUNT_MAX,
               "--columns positions are fields of one CSV record");

enum on_conflict { ON_CONFLICT_REFUSE, ON_CONFLICT_FIRST, ON_CONFLICT_LAST };
static const char *const on_conflict_names[] = {"refuse", "first", "last"};

struct column {
    const char *name; /* NULL: skip; "time": the time */
    bool has_missing;  /* the sentinel, compared by value: -1 equals -01 */
    int64_t missing_mantissa;
    uint32_t missing_scale;
};

enum row_state {
    ROW_SEND,      /* to be sent */
    ROW_REPEAT,    /* the same time and values as an earlier row: not sent */
    ROW_CONFLICT,  /* lost a conflict (--on-conflict first|last): not sent */
    ROW_REFUSED,   /* sent; the node refused it */
    ROW_SUBMITTED, /* sent and taken into the node's pool */
};

struct row {
    size_t line;
    int64_t time_ms;
    size_t first, count; /* its values: csv_file.values[first ..] */
    enum row_state state;
    uint8_t hash[WITAN_HASH_SIZE];
};

struct value {
    size_t column;
    int64_t mantissa;
    uint32_t scale;
};

struct csv_file {
    const char *path;
    char *text;
    size_t size;
    char *spec, *missing; /* copies of --columns and --missing, cut in place */
    struct column cols[ATTEST_COLUMN_COUNT_MAX];
    size_t ncols;
    enum on_conflict on_conflict;
    struct row *rows;
    size_t row_count, row_cap;
    struct value *values;
    size_t value_count, value_cap;
    size_t bad, left_out, repeats, conflicts, conflict_lost;
    size_t width_max; /* the most fields a data row had */
};

static void csv_file_free(struct csv_file *f)
{
    free(f->text);
    free(f->spec);
    free(f->missing);
    free(f->rows);
    free(f->values);
    memset(f, 0, sizeof *f);
}

/* Exact comparison of two decimals of at most 18 fraction digits. */
static bool decimal_equal(int64_t a, uint32_t as, int64_t b, uint32_t bs)
{
    while (as < bs) {
        if (a > INT64_MAX / 10 || a < INT64_MIN / 10)
            return false;
        a *= 10;
        as++;
    }
    while (bs < as) {
        if (b > INT64_MAX / 10 || b < INT64_MIN / 10)
            return false;
        b *= 10;
        bs++;
    }
    return a == b;
}

/* --columns and --missing into f->cols; 0, or 2 after saying what is
 * wrong. */
static int parse_columns(struct csv_file *f)
{
    size_t times = 0, values = 0;
    f->ncols = 0;
    for (char *p = f->spec, *tok; p; f->ncols++) {
        tok = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
        if (f->ncols == ATTEST_COLUMN_COUNT_MAX) {
            fprintf(stderr, "witan attest: --columns names more than %d "
                            "columns\n", ATTEST_COLUMN_COUNT_MAX);
            return 2;
        }
        struct column *c = &f->cols[f->ncols];
        memset(c, 0, sizeof *c);
        if (strcmp(tok, "-") == 0)
            continue;
        if (!tok[0] || strlen(tok) > WITAN_VALUE_NAME_SIZE_MAX) {
            fprintf(stderr, "witan attest: --columns: column %zu's name "
                            "'%s' is invalid: a name has 1 to %d bytes ('-' "
                            "skips a column)\n",
                    f->ncols + 1, tok, WITAN_VALUE_NAME_SIZE_MAX);
            return 2;
        }
        for (size_t i = 0; i < f->ncols; i++)
            if (f->cols[i].name && strcmp(f->cols[i].name, tok) == 0) {
                fprintf(stderr, "witan attest: --columns names '%s' twice\n",
                        tok);
                return 2;
            }
        c->name = tok;
        if (strcmp(tok, "time") == 0)
            times++;
        else
            values++;
    }
    if (times != 1 || values == 0 || values > WITAN_ATTEST_VALUE_COUNT_MAX) {
        fprintf(stderr, "witan attest: --columns must name one 'time' column "
                        "and 1 to %d value columns\n",
                WITAN_ATTEST_VALUE_COUNT_MAX);
        return 2;
    }
    for (char *p = f->missing, *tok; p;) {
        tok = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
        char *eq = strchr(tok, '=');
        size_t i = 0;
        if (eq) {
            *eq = '\0';
            while (i < f->ncols &&
                   !(f->cols[i].name && strcmp(f->cols[i].name, tok) == 0 &&
                     strcmp(tok, "time") != 0))
                i++;
        }
        if (!eq || i == f->ncols ||
            cli_parse_decimal(eq + 1, &f->cols[i].missing_mantissa,
                              &f->cols[i].missing_scale)) {
            fprintf(stderr, "witan attest: --missing '%s%s%s' is invalid: it "
                            "takes NAME=DECIMAL, NAME a value column of "
                            "--columns\n",
                    tok, eq ? "=" : "", eq ? eq + 1 : "");
            return 2;
        }
        f->cols[i].has_missing = true;
    }
    return 0;
}

/* Names a bad row, up to ATTEST_FILE_REPORT_COUNT_MAX of them, and counts
 * it. */
static void bad_row(struct csv_file *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad_row(struct csv_file *f, const char *fmt, ...)
{
    if (f->bad++ >= ATTEST_FILE_REPORT_COUNT_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "witan attest: %s: ", f->path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One data record into f->rows, or a bad row named. 0 or WITAN_ENOMEM. */
static int add_row(struct csv_file *f, const struct witan_csv *csv)
{
    if (csv->count > f->width_max)
        f->width_max = csv->count;
    if (csv->count < f->ncols) {
        bad_row(f, "line %zu: %zu fields, --columns names %zu", csv->line,
                csv->count, f->ncols);
        return 0;
    }
    if (f->value_cap - f->value_count < WITAN_ATTEST_VALUE_COUNT_MAX) {
        size_t cap = 2 * f->value_cap + 4 * WITAN_ATTEST_VALUE_COUNT_MAX;
        void *grown = realloc(f->values, cap * sizeof *f->values);
        if (!grown)
            return WITAN_ENOMEM;
        f->values = grown;
        f->value_cap = cap;
    }
    if (f->row_count == f->row_cap) {
        size_t cap = 2 * f->row_cap + 64;
        void *grown = realloc(f->rows, cap * sizeof *f->rows);
        if (!grown)
            return WITAN_ENOMEM;
        f->rows = grown;
        f->row_cap = cap;
    }
    struct row *r = &f->rows[f->row_count];
    memset(r, 0, sizeof *r);
    r->line = csv->line;
    r->first = f->value_count;
    size_t left_out = 0;
    for (size_t c = 0; c < f->ncols; c++) {
        const struct column *col = &f->cols[c];
        const char *cell = csv->fields[c];
        if (!col->name)
            continue;
        if (strcmp(col->name, "time") == 0) {
            int err = witan_time_parse(cell, &r->time_ms);
            if (err) {
                bad_row(f, "line %zu, column %zu (time): '%s' is invalid: %s",
                        csv->line, c + 1, cell, witan_time_error(err));
                return 0;
            }
            continue;
        }
        struct value *v = &f->values[r->first + r->count];
        v->column = c;
        if (cli_parse_decimal(cell, &v->mantissa, &v->scale)) {
            bad_row(f, "line %zu, column %zu (%s): '%s' is not an exact "
                       "decimal",
                    csv->line, c + 1, col->name, cell);
            return 0;
        }
        if (col->has_missing &&
            decimal_equal(v->mantissa, v->scale, col->missing_mantissa,
                          col->missing_scale)) {
            left_out++;
            continue;
        }
        r->count++;
    }
    if (r->count == 0) {
        bad_row(f, "line %zu: no value: each equals its missing-value "
                   "sentinel",
                csv->line);
        return 0;
    }
    f->value_count += r->count;
    f->left_out += left_out;
    f->row_count++;
    return 0;
}

/* Columns the rows have past --columns: named once, by the header. */
static void report_unused(struct csv_file *f)
{
    if (f->width_max <= f->ncols)
        return;
    struct witan_csv *csv = malloc(sizeof *csv);
    bool header = false;
    if (csv) {
        witan_csv_init(csv, f->text, f->size);
        header = witan_csv_next(csv, NULL, 0) == 1;
    }
    for (size_t c = f->ncols; c < f->width_max; c++) {
        bool named = header && c < csv->count;
        fprintf(stderr, "witan attest: %s: column %zu%s%s%s is not in "
                        "--columns: not attested\n",
                f->path, c + 1, named ? " ('" : "",
                named ? csv->fields[c] : "", named ? "')" : "");
    }
    free(csv);
}

static bool same_values(const struct csv_file *f, const struct row *a,
                        const struct row *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const struct value *x = &f->values[a->first + i];
        const struct value *y = &f->values[b->first + i];
        /* both in column order */
        if (x->column != y->column ||
            !decimal_equal(x->mantissa, x->scale, y->mantissa, y->scale))
            return false;
    }
    return true;
}

struct time_key {
    int64_t time_ms;
    size_t row;
};

static int time_key_cmp(const void *a, const void *b)
{
    const struct time_key *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Rows of the same time: repeats marked, conflicts named (refuse) or
 * settled (first, last). 0 or WITAN_ENOMEM. */
static int find_conflicts(struct csv_file *f)
{
    if (f->row_count < 2)
        return 0;
    struct time_key *keys = malloc(f->row_count * sizeof *keys);
    if (!keys)
        return WITAN_ENOMEM;
    for (size_t i = 0; i < f->row_count; i++)
        keys[i] = (struct time_key){f->rows[i].time_ms, i};
    qsort(keys, f->row_count, sizeof *keys, time_key_cmp);
    for (size_t i = 0, j; i < f->row_count; i = j) {
        bool differ = false;
        for (j = i + 1; j < f->row_count && keys[j].time_ms == keys[i].time_ms;
             j++)
            differ = differ || !same_values(f, &f->rows[keys[i].row],
                                            &f->rows[keys[j].row]);
        if (j - i == 1)
            continue;
        if (!differ) {
            for (size_t k = i + 1; k < j; k++)
                f->rows[keys[k].row].state = ROW_REPEAT;
            f->repeats += j - i - 1;
            continue;
        }
        if (f->conflicts++ < ATTEST_FILE_REPORT_COUNT_MAX &&
            f->on_conflict == ON_CONFLICT_REFUSE) {
            char when[64];
            cli_format_time(keys[i].time_ms, when, sizeof when);
            fprintf(stderr, "witan attest: %s: conflict: lines", f->path);
            for (size_t k = i; k < j && k < i + ATTEST_CONFLICT_LINE_COUNT_MAX;
                 k++)
                fprintf(stderr, "%s %zu", k == i ? "" : ",",
                        f->rows[keys[k].row].line);
            if (j - i > ATTEST_CONFLICT_LINE_COUNT_MAX)
                fprintf(stderr, " and %zu more",
                        j - i - ATTEST_CONFLICT_LINE_COUNT_MAX);
            fprintf(stderr, " observe %s with different values\n", when);
        }
        size_t keep = f->on_conflict == ON_CONFLICT_LAST ? j - 1 : i;
        for (size_t k = i; k < j; k++)
            if (k != keep) {
                f->rows[keys[k].row].state = ROW_CONFLICT;
                f->conflict_lost++;
            }
    }
    free(keys);
    return 0;
}

/* Reads, checks and resolves the whole file before any node is asked: 0,
 * or the exit status after saying what is wrong (2 for the file's content
 * or the flags, 1 when it cannot be read). */
static int csv_file_load(struct csv_file *f, int argc, char **argv,
                         const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    const char *spec = cli_flag(argc, argv, "--columns");
    const char *missing = cli_flag(argc, argv, "--missing");
    const char *conflict = cli_flag(argc, argv, "--on-conflict");
    if (!spec) {
        fprintf(stderr, "witan attest: --file needs --columns\n");
        return 2;
    }
    f->on_conflict = WITAN_ARRAY_COUNT(on_conflict_names);
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(on_conflict_names); i++)
        if (!conflict || strcmp(conflict, on_conflict_names[i]) == 0) {
            f->on_conflict = (enum on_conflict)i;
            break;
        }
    if (f->on_conflict == WITAN_ARRAY_COUNT(on_conflict_names)) {
        fprintf(stderr, "witan attest: --on-conflict '%s' is invalid: it "
                        "takes first, last or refuse\n",
                conflict);
        return 2;
    }
    f->spec = strdup(spec);
    f->missing = missing ? strdup(missing) : NULL;
    if (!f->spec || (missing && !f->missing))
        return cli_fail("memory", WITAN_ENOMEM);
    if (parse_columns(f))
        return 2;
    int err = witan_read_file(path, ATTEST_FILE_SIZE_MAX, &f->text, &f->size);
    if (err) {
        fprintf(stderr, "witan attest: %s: %s\n", path, witan_err_message(err));
        return 1;
    }
    struct witan_csv *csv = malloc(sizeof *csv);
    if (!csv)
        return cli_fail("memory", WITAN_ENOMEM);
    witan_csv_init(csv, f->text, f->size);
    char why[256];
    bool header = true; /* the first record names columns: --columns does */
    int got;
    while (!err && (got = witan_csv_next(csv, why, sizeof why)) != 0) {
        if (got < 0)
            bad_row(f, "%s", why);
        else if (!header)
            err = add_row(f, csv);
        header = false;
    }
    free(csv);
    if (!err)
        err = find_conflicts(f);
    if (err)
        return cli_fail("reading the file", err);
    report_unused(f);
    if (f->bad > ATTEST_FILE_REPORT_COUNT_MAX)
        fprintf(stderr, "witan attest: %s: %zu more bad rows not named\n",
                path, f->bad - ATTEST_FILE_REPORT_COUNT_MAX);
    if (f->bad) {
        fprintf(stderr, "witan attest: %s: %zu bad rows; nothing sent\n", path,
                f->bad);
        return 2;
    }
    if (f->conflicts && f->on_conflict == ON_CONFLICT_REFUSE) {
        if (f->conflicts > ATTEST_FILE_REPORT_COUNT_MAX)
            fprintf(stderr, "witan attest: %s: %zu more conflicts not "
                            "named\n",
                    path, f->conflicts - ATTEST_FILE_REPORT_COUNT_MAX);
        fprintf(stderr, "witan attest: %s: %zu times with rows of different "
                        "values; nothing sent. "
                        "--on-conflict first or last sends one of each\n",
                path, f->conflicts);
        return 2;
    }
    if (f->row_count == 0) {
        fprintf(stderr, "witan attest: %s: no rows after the header\n", path);
        return 2;
    }
    return 0;
}

/* Progress on stderr: one line redrawn on a terminal, plain lines every
 * ATTEST_PROGRESS_ROW_COUNT rows or ATTEST_PROGRESS_INTERVAL_MS elsewhere. */
struct progress {
    bool tty, wait;
    size_t total;     /* rows to send */
    size_t submitted, refused, committed, failed; /* failed: not OK, dropped */
    size_t done;      /* rows done in this phase (sent, or settled) */
    double phase_s, last_s;
    size_t last_done, drawn;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void progress_start_phase(struct progress *p)
{
    p->done = p->last_done = 0;
    p->phase_s = p->last_s = now_s();
}

static void progress_show(struct progress *p, bool final)
{
    double now = now_s();
    if (!final) {
        if (p->tty && (now - p->last_s) * 1000 < ATTEST_PROGRESS_TTY_MS)
            return;
        if (!p->tty && p->done - p->last_done < ATTEST_PROGRESS_ROW_COUNT &&
            (now - p->last_s) * 1000 < ATTEST_PROGRESS_INTERVAL_MS)
            return;
    }
    p->last_s = now;
    p->last_done = p->done;
    double rate = now > p->phase_s ? p->done / (now - p->phase_s) : 0;
    char line[256], eta[32] = "--";
    if (rate > 0)
        snprintf(eta, sizeof eta, "%.0fs", (p->total - p->done) / rate);
    int n = snprintf(line, sizeof line,
                     "witan attest: %zu/%zu submitted, %zu refused", p->submitted,
                     p->total, p->refused);
    if (p->wait)
        n += snprintf(line + n, sizeof line - n, ", %zu committed, %zu failed",
                      p->committed, p->failed);
    snprintf(line + n, sizeof line - n, "; %.0f rows/s, ETA %s", rate, eta);
    cli_progress_write(p->tty, &p->drawn, line);
}

static void progress_end(struct progress *p)
{
    progress_show(p, true);
    if (p->tty)
        fputc('\n', stderr);
}

/* Submits one batch: the rows idx[0..count) of f, signed in envs. Refusals
 * are named (up to the report bound). 0, or 1 when the node could not be
 * asked. */
static int submit_batch(const struct attest_opts *o, struct csv_file *f,
                        ProtobufCBinaryData *envs, const size_t *idx,
                        size_t count, struct progress *p)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = count;
    sr.envelopes = envs;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *resp;
    if (cli_call(o->address, &req, 60000, &resp))
        return 1;
    if (cli_response_error("submit", resp) || !resp->submit ||
        resp->submit->n_results != count) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        const Witan__SubmitResult *r = resp->submit->results[i];
        struct row *row = &f->rows[idx[i]];
        if (r->error) {
            if (p->refused < ATTEST_FILE_REPORT_COUNT_MAX)
                fprintf(stderr, "%switan attest: %s: line %zu refused: %s "
                                "(%s)\n",
                        p->tty && p->drawn ? "\n" : "", f->path, row->line,
                        r->error->message, r->error->name);
            p->drawn = 0;
            row->state = ROW_REFUSED;
            p->refused++;
        } else {
            row->state = ROW_SUBMITTED;
            p->submitted++;
        }
    }
    witan__response__free_unpacked(resp, NULL);
    return 0;
}

/* Signs and submits every row to send, in file order, o->batch at a time.
 * 0, or 1 when signing failed or the node could not be asked. */
static int send_rows(struct attest_opts *o, struct csv_file *f,
                     struct progress *p)
{
    ProtobufCBinaryData *envs = calloc(o->batch, sizeof *envs);
    size_t *idx = calloc(o->batch, sizeof *idx);
    if (!envs || !idx) {
        free(envs);
        free(idx);
        return cli_fail("memory", WITAN_ENOMEM);
    }
    int rc = 0;
    size_t pending = 0;
    for (size_t i = 0; i <= f->row_count && rc == 0; i++) {
        if (i < f->row_count && f->rows[i].state != ROW_SEND)
            continue;
        if (i < f->row_count) {
            struct row *r = &f->rows[i];
            Witan__NamedValue vals[WITAN_ATTEST_VALUE_COUNT_MAX];
            Witan__NamedValue *ptrs[WITAN_ATTEST_VALUE_COUNT_MAX];
            for (size_t k = 0; k < r->count; k++) {
                const struct value *v = &f->values[r->first + k];
                witan__named_value__init(&vals[k]);
                vals[k].name = (char *)f->cols[v->column].name;
                vals[k].mantissa = v->mantissa;
                vals[k].scale = v->scale;
                ptrs[k] = &vals[k];
            }
            int err = sign_attest(o, r->time_ms, ptrs, r->count, NULL, NULL,
                                  &envs[pending], r->hash);
            if (err) {
                rc = cli_fail("signing", err);
                break;
            }
            idx[pending++] = i;
        }
        if (pending == o->batch || (i == f->row_count && pending)) {
            rc = submit_batch(o, f, envs, idx, pending, p);
            for (size_t k = 0; k < pending; k++)
                free(envs[k].data);
            p->done += pending;
            pending = 0;
            progress_show(p, false);
        }
    }
    for (size_t k = 0; k < pending; k++)
        free(envs[k].data);
    free(envs);
    free(idx);
    return rc;
}

/* Polls every submitted row until it is committed or dropped, in file
 * order; tallies receipts by status and names those not OK (up to the
 * report bound). 0, or 1 when the node could not be asked or a
 * transaction stayed unknown or pending (named). */
static int wait_rows(const struct attest_opts *o, struct csv_file *f,
                     struct progress *p, size_t *status, size_t *dropped)
{
    size_t named = 0;
    for (size_t i = 0; i < f->row_count; i++) {
        const struct row *r = &f->rows[i];
        if (r->state != ROW_SUBMITTED)
            continue;
        char hex[2 * WITAN_HASH_SIZE + 1];
        witan_hex_encode(r->hash, WITAN_HASH_SIZE, hex);
        for (int attempt = 0;; attempt++) {
            Witan__Request req = WITAN__REQUEST__INIT;
            Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
            tr.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE,
                                               (uint8_t *)r->hash};
            req.kind_case = WITAN__REQUEST__KIND_TX;
            req.tx = &tr;
            Witan__Response *resp;
            if (cli_call(o->address, &req, 10000, &resp))
                return 1;
            if (cli_response_error("query", resp)) {
                witan__response__free_unpacked(resp, NULL);
                return 1;
            }
            const Witan__TxResponse *t = resp->tx;
            bool committed = t && t->receipt &&
                             t->state == WITAN__TX_STATE__TX_STATE_COMMITTED;
            bool was_dropped =
                t && t->state == WITAN__TX_STATE__TX_STATE_DROPPED;
            bool ok = committed &&
                      t->receipt->status == WITAN__TX_STATUS__TX_STATUS_OK;
            if ((committed || was_dropped) && !ok &&
                named++ < ATTEST_FILE_REPORT_COUNT_MAX) {
                if (p->tty && p->drawn)
                    fputc('\n', stderr);
                p->drawn = 0;
                char by[2 * WITAN_HASH_SIZE + 1] = "(unknown)";
                if (t->displaced_by.len == WITAN_HASH_SIZE)
                    witan_hex_encode(t->displaced_by.data, WITAN_HASH_SIZE,
                                     by);
                if (committed)
                    fprintf(stderr, "witan attest: %s: line %zu: %s "
                                    "committed at height %llu: %s\n",
                            f->path, r->line, hex,
                            (unsigned long long)t->receipt->height,
                            cli_tx_status_name(t->receipt->status));
                else
                    fprintf(stderr, "witan attest: %s: line %zu: %s dropped: "
                                    "its nonce was taken by committed "
                                    "transaction %s\n",
                            f->path, r->line, hex, by);
                if (committed && t->receipt->status ==
                                     WITAN__TX_STATUS__TX_STATUS_DUPLICATE)
                    explain_duplicate(o, r->time_ms);
            }
            if (committed) {
                status[t->receipt->status < ATTEST_STATUS_COUNT
                           ? t->receipt->status
                           : 0]++;
                p->committed += ok;
                p->failed += !ok;
            } else if (was_dropped) {
                (*dropped)++;
                p->failed++;
            }
            bool unknown = !t || t->state == WITAN__TX_STATE__TX_STATE_UNKNOWN;
            witan__response__free_unpacked(resp, NULL);
            if (committed || was_dropped)
                break;
            if (unknown || attempt > CLI_WAIT_POLL_COUNT_MAX) {
                if (p->tty && p->drawn)
                    fputc('\n', stderr);
                fprintf(stderr, "witan attest: %s: line %zu: %s is %s\n",
                        f->path, r->line, hex,
                        unknown ? "unknown to the node" : "still pending");
                return 1;
            }
            usleep(CLI_WAIT_POLL_MS * 1000);
        }
        p->done++;
        progress_show(p, false);
    }
    return 0;
}

/* The tally of a file as one JSON object (--json): counts by what became
 * of the rows, and with --wait the receipts by status. Exit status. */
static int tally_json(const struct attest_opts *o, const struct csv_file *f,
                      const struct progress *p, const size_t *status,
                      size_t dropped)
{
    struct render_json b = {0};
    render_json_puts(&b, "{\"file\":");
    render_json_str(&b, f->path);
    render_json_printf(&b, ",\"submitted\":%zu,\"refused\":%zu,"
                           "\"left_out_values\":%zu,\"repeated_rows\":%zu,"
                           "\"conflicting_rows\":%zu,\"on_conflict\":\"%s\"",
                       p->submitted, p->refused, f->left_out, f->repeats,
                       f->conflict_lost, on_conflict_names[f->on_conflict]);
    if (o->wait) {
        render_json_puts(&b, ",\"receipts\":{");
        const char *sep = "";
        for (size_t s = 0; s < ATTEST_STATUS_COUNT; s++)
            if (status[s]) {
                render_json_printf(&b, "%s\"TX_STATUS_%s\":%zu", sep,
                                   cli_tx_status_name((Witan__TxStatus)s),
                                   status[s]);
                sep = ",";
            }
        render_json_printf(&b, "},\"dropped\":%zu", dropped);
    }
    render_json_puts(&b, "}");
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

/* Sends the rows of a loaded file, waits with --wait, and prints the
 * tally: the exit status, 1 when anything was refused, dropped or
 * committed with a status other than OK, or the node failed us. */
static int many_from_file(struct attest_opts *o, struct csv_file *f)
{
    struct progress p = {.tty = isatty(STDERR_FILENO) == 1, .wait = o->wait};
    for (size_t i = 0; i < f->row_count; i++)
        p.total += f->rows[i].state == ROW_SEND;
    size_t status[ATTEST_STATUS_COUNT] = {0}, dropped = 0;
    progress_start_phase(&p);
    int rc = send_rows(o, f, &p);
    if (rc == 0 && o->wait) {
        progress_start_phase(&p);
        p.total = p.submitted;
        rc = wait_rows(o, f, &p, status, &dropped);
    }
    progress_end(&p);
    if (p.refused > ATTEST_FILE_REPORT_COUNT_MAX)
        fprintf(stderr, "witan attest: %s: %zu more refusals not named\n",
                f->path, p.refused - ATTEST_FILE_REPORT_COUNT_MAX);
    if (o->json) {
        int err = tally_json(o, f, &p, status, dropped);
        return rc || err || p.refused || p.failed ? 1 : 0;
    }
    printf("%s: %zu rows submitted, %zu refused; %zu values equal to their "
           "missing-value sentinel left out",
           f->path, p.submitted, p.refused, f->left_out);
    if (f->repeats)
        printf("; %zu repeated rows not sent", f->repeats);
    if (f->conflict_lost)
        printf("; %zu conflicting rows not sent (--on-conflict %s)",
               f->conflict_lost, on_conflict_names[f->on_conflict]);
    printf("\n");
    if (o->wait) {
        printf("receipts:");
        const char *sep = " ";
        for (size_t s = 0; s < ATTEST_STATUS_COUNT; s++)
            if (status[s]) {
                printf("%s%zu %s", sep, status[s],
                       cli_tx_status_name((Witan__TxStatus)s));
                sep = ", ";
            }
        printf("%s%zu dropped\n", sep, dropped);
    }
    return rc || p.refused || p.failed ? 1 : 0;
}

int cli_attest(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_args_check(argc, argv, 1, attest_opts, 0, "attest"))
        return 2;
    const char *file = cli_flag(argc, argv, "--file");
    const char *const *wrong = file ? flags_only : file_only;
    size_t wrong_count = file ? WITAN_ARRAY_COUNT(flags_only)
                              : WITAN_ARRAY_COUNT(file_only);
    for (size_t i = 0; i < wrong_count; i++)
        if (cli_has_flag(argc, argv, wrong[i])) {
            fprintf(stderr, "witan attest: %s %s --file\n", wrong[i],
                    file ? "is not taken with" : "needs");
            return 2;
        }
    struct attest_opts o;
    memset(&o, 0, sizeof o);
    const char *nonce = cli_flag(argc, argv, "--nonce");
    const char *batch = cli_flag(argc, argv, "--batch");
    uint64_t n = ATTEST_BATCH_DEFAULT;
    if ((nonce && cli_parse_u64("attest", "--nonce", nonce, UINT64_MAX,
                                &o.nonce)) ||
        (batch && cli_parse_u64("attest", "--batch", batch,
                                WITAN_CLIENT_BATCH_COUNT_MAX, &n)))
        return 2;
    if (n == 0) {
        fprintf(stderr, "witan attest: --batch 0 is invalid: a batch holds "
                        "1 to %d transactions\n",
                WITAN_CLIENT_BATCH_COUNT_MAX);
        return 2;
    }
    o.batch = (size_t)n;
    struct one_attest one;
    if (!file && one_parse(argc, argv, &one))
        return 2;
    struct csv_file f; /* checked whole before any node is asked */
    if (file) {
        int frc = csv_file_load(&f, argc, argv, file);
        if (frc) {
            csv_file_free(&f);
            return frc;
        }
    }
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    o.address = address;
    o.feed = cli_flag(argc, argv, "--feed");
    o.subject = cli_flag(argc, argv, "--subject");
    o.unit = cli_flag(argc, argv, "--unit");
    o.wait = cli_has_flag(argc, argv, "--wait");
    o.json = cli_has_flag(argc, argv, "--json");
    const char *key = cli_flag(argc, argv, "--key");
    if (!key || !o.feed || !o.subject) {
        fprintf(stderr, "witan attest: --key, --feed and --subject are "
                        "required\n%s", usage);
        if (file)
            csv_file_free(&f);
        return 2;
    }
    int err = wcrypto_keyfile_read(key, &o.key);
    if (err) {
        fprintf(stderr, "witan attest: %s: %s%s\n", key, witan_err_message(err),
                err == WITAN_EKEYPERM ? " (chmod 600 it)" : "");
        if (file)
            csv_file_free(&f);
        return 1;
    }
    if (cli_sender(argc, argv, &o.key, o.sender)) {
        wcrypto_keypair_wipe(&o.key);
        if (file)
            csv_file_free(&f);
        return 2;
    }
    int rc;
    if (chain_id_of(address, chain_id, sizeof chain_id)) {
        rc = 1;
    } else if (nonce) {
        rc = -1;
    } else {
        rc = cli_next_nonce(address, o.sender, &o.nonce) ? 1 : -1;
        o.auto_nonce = true;
    }
    if (rc < 0) {
        rc = file ? many_from_file(&o, &f) : one_from_flags(&o, &one);
    }
    if (file)
        csv_file_free(&f);
    wcrypto_keypair_wipe(&o.key);
    return rc;
}
