/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan attest: sign and submit attestations — one from flags, or one per
 * row of a CSV file, sent in batches. Values are decimals kept exact as
 * mantissa and scale; a value equal to a declared sentinel is missing and is
 * left out of the record (never written as the sentinel), and the command
 * says how many it left out.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define ATTEST_BATCH_DEFAULT 500
#define CSV_COLUMN_COUNT_MAX 32
#define CSV_LINE_SIZE_MAX 4096

static const char usage[] =
    "usage: witan attest --key FILE --feed FEED --subject S --time T\n"
    "                    --value NAME=DECIMAL [--value ...] [--unit U]\n"
    "                    [--corrects TXHASH] [--document-hash HASH]\n"
    "                    [--nonce N] [--wait] [--json]\n"
    "                    [--node URL [--tls-ca FILE] | --home DIR]\n"
    "       witan attest --key FILE --feed FEED --subject S --file CSV\n"
    "                    --columns SPEC [--missing NAME=SENTINEL,...] [--unit U]\n"
    "                    [--batch N] [--wait]\n"
    "                    [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "Signs attestations with the key (a member with the data_provider role)\n"
    "and submits them. Values are exact decimals (421.13 is mantissa\n"
    "42113, scale 2). A correction names the transaction hash of the\n"
    "revision it replaces.\n" CLI_TIME_HELP
    "\n"
    "CSV: --columns names the file's columns by position, comma-separated:\n"
    "'time' for the observation time, '-' to skip a column, any other word\n"
    "to attest that column as a value of that name. The first line is a\n"
    "header and is skipped (its names are not trusted). --missing lists\n"
    "sentinels: a value equal to its sentinel is left out, and counted.\n"
    "Example (NOAA's monthly Mauna Loa file):\n"
    "  --columns time,-,co2,co2_deseasonalised,days,stddev,uncertainty\n"
    "  --missing days=-1,stddev=-9.99,uncertainty=-0.99\n"
    "\n"
    "--wait waits until every transaction is committed and prints receipts;\n"
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
    {NULL, false, false},
};
/* The flags of one mode that the other does not take. */
static const char *const flags_only[] = {"--time", "--value", "--corrects",
                                         "--document-hash"};
static const char *const file_only[] = {"--columns", "--missing", "--batch"};

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


/* Prints a settled transaction's receipt, or that it was dropped;
 * 1 unless committed OK. */
static int print_settled(const struct attest_opts *o, const char *hex,
                         const Witan__TxResponse *t)
{
    if (t->state == WITAN__TX_STATE__TX_STATE_COMMITTED) {
        if (o->json)
            printf("{\"tx_hash\":\"%s\",\"height\":%llu,"
                   "\"status\":\"%s\"}\n",
                   hex, (unsigned long long)t->receipt->height,
                   cli_tx_status_name(t->receipt->status));
        else
            printf("%s committed at height %llu: %s\n", hex,
                   (unsigned long long)t->receipt->height,
                   cli_tx_status_name(t->receipt->status));
        return t->receipt->status != WITAN__TX_STATUS__TX_STATUS_OK;
    }
    char by[2 * WITAN_HASH_SIZE + 1] = "(unknown)";
    if (t->displaced_by.len == WITAN_HASH_SIZE)
        witan_hex_encode(t->displaced_by.data, WITAN_HASH_SIZE, by);
    if (o->json)
        printf("{\"tx_hash\":\"%s\",\"state\":\"dropped\","
               "\"displaced_by\":\"%s\"}\n",
               hex, by);
    else
        printf("%s dropped: its nonce was taken by committed transaction "
               "%s\n",
               hex, by);
    return 1;
}

/* Polls until every hash is committed; prints each receipt. */
static int wait_committed(const struct attest_opts *o,
                          uint8_t (*hashes)[WITAN_HASH_SIZE], size_t count)
{
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        char hex[65];
        witan_hex_encode(hashes[i], WITAN_HASH_SIZE, hex);
        for (int attempt = 0;; attempt++) {
            Witan__Request req = WITAN__REQUEST__INIT;
            Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
            tr.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hashes[i]};
            req.kind_case = WITAN__REQUEST__KIND_TX;
            req.tx = &tr;
            Witan__Response *resp;
            if (cli_call(o->address, &req, 10000, &resp))
                return 1;
            if (cli_response_error("query", resp)) {
                witan__response__free_unpacked(resp, NULL);
                return 1;
            }
            Witan__TxResponse *t = resp->tx;
            if (t && ((t->state == WITAN__TX_STATE__TX_STATE_COMMITTED &&
                       t->receipt) ||
                      t->state == WITAN__TX_STATE__TX_STATE_DROPPED)) {
                failures += print_settled(o, hex, t);
                witan__response__free_unpacked(resp, NULL);
                break;
            }
            bool unknown = !t || t->state == WITAN__TX_STATE__TX_STATE_UNKNOWN;
            witan__response__free_unpacked(resp, NULL);
            if (unknown || attempt > CLI_WAIT_POLL_COUNT_MAX) {
                fprintf(stderr, "witan attest: %s is %s\n", hex,
                        unknown ? "unknown to the node" : "still pending");
                return 1;
            }
            usleep(CLI_WAIT_POLL_MS * 1000);
        }
    }
    return failures ? 1 : 0;
}

/* Submits one batch of envelopes; prints refusals. Returns the number
 * refused, or -1 when the node could not be asked. */
static int submit(const struct attest_opts *o, ProtobufCBinaryData *envs,
                  size_t count, uint8_t (*hashes)[WITAN_HASH_SIZE])
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = count;
    sr.envelopes = envs;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *resp;
    if (cli_call(o->address, &req, 60000, &resp))
        return -1;
    if (cli_response_error("submit", resp) || !resp->submit ||
        resp->submit->n_results != count) {
        witan__response__free_unpacked(resp, NULL);
        return -1;
    }
    int refused = 0;
    for (size_t i = 0; i < count; i++) {
        const Witan__SubmitResult *r = resp->submit->results[i];
        if (r->error) {
            fprintf(stderr, "witan attest: transaction %zu refused: %s (%s)\n",
                    i, r->error->message, r->error->name);
            refused++;
        } else if (!o->json && !o->wait && count == 1) {
            char hex[65];
            witan_hex_encode(hashes[i], WITAN_HASH_SIZE, hex);
            printf("submitted %s\n", hex);
        }
    }
    witan__response__free_unpacked(resp, NULL);
    return refused;
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
    int terr = cli_parse_time(time_text, &a->time_ms);
    if (terr) {
        fprintf(stderr, "witan attest: --time '%s' is invalid: %s\n",
                time_text, cli_time_error(terr));
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
            printf(o->json ? "{\"tx_hash\":\"%s\",\"state\":\"pending\"}\n"
                           : "submitted %s\n",
                   hex);
            return 0;
        }
        rc = print_settled(o, hex, tx->tx);
        if (tx->tx->receipt &&
            tx->tx->receipt->status == WITAN__TX_STATUS__TX_STATUS_DUPLICATE)
            explain_duplicate(o, time_ms);
        witan__response__free_unpacked(tx, NULL);
        return rc;
    }
}

struct column {
    const char *name; /* NULL: skip; "time": the time */
    bool has_missing;  /* the sentinel, compared by value: -1 equals -01 */
    int64_t missing_mantissa;
    uint32_t missing_scale;
};

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

static int parse_columns(char *spec, char *missing, struct column *cols,
                         size_t *count)
{
    *count = 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        if (*count == CSV_COLUMN_COUNT_MAX)
            return WITAN_ELIMIT;
        cols[*count].name = strcmp(tok, "-") == 0 ? NULL : tok;
        cols[*count].has_missing = false;
        (*count)++;
    }
    if (!missing)
        return WITAN_OK;
    for (char *tok = strtok(missing, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return WITAN_EINVAL;
        *eq = '\0';
        bool found = false;
        for (size_t i = 0; i < *count; i++)
            if (cols[i].name && strcmp(cols[i].name, tok) == 0) {
                if (cli_parse_decimal(eq + 1, &cols[i].missing_mantissa,
                                      &cols[i].missing_scale))
                    return WITAN_EINVAL;
                cols[i].has_missing = true;
                found = true;
            }
        if (!found)
            return WITAN_EINVAL;
    }
    return WITAN_OK;
}

static int many_from_file(struct attest_opts *o, int argc, char **argv,
                          const char *file)
{
    const char *spec_arg = cli_flag(argc, argv, "--columns");
    const char *missing_arg = cli_flag(argc, argv, "--missing");
    size_t batch = o->batch;
    if (!spec_arg) {
        fprintf(stderr, "witan attest: --file needs --columns\n");
        return 2;
    }
    char spec[1024], missing[1024];
    snprintf(spec, sizeof spec, "%s", spec_arg);
    snprintf(missing, sizeof missing, "%s", missing_arg ? missing_arg : "");
    struct column cols[CSV_COLUMN_COUNT_MAX];
    size_t ncols;
    if (parse_columns(spec, missing_arg ? missing : NULL, cols, &ncols)) {
        fprintf(stderr, "witan attest: --columns or --missing is malformed "
                        "(a sentinel must name a value column)\n");
        return 2;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "witan attest: cannot open %s\n", file);
        return 1;
    }
    ProtobufCBinaryData *envs = calloc(batch, sizeof *envs);
    uint8_t (*hashes)[WITAN_HASH_SIZE] = calloc(batch, WITAN_HASH_SIZE);
    uint8_t (*all_hashes)[WITAN_HASH_SIZE] = NULL;
    size_t all_count = 0;
    if (!envs || !hashes) {
        fclose(f);
        free(envs);
        free(hashes);
        return cli_fail("memory", WITAN_ENOMEM);
    }
    char line[CSV_LINE_SIZE_MAX];
    size_t line_no = 0, rows = 0, left_out = 0, pending = 0;
    int refused = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line_no++;
        if (line_no == 1)
            continue; /* header: named by --columns instead */
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        Witan__NamedValue vals[CSV_COLUMN_COUNT_MAX];
        Witan__NamedValue *ptrs[CSV_COLUMN_COUNT_MAX];
        size_t nv = 0, col = 0;
        int64_t time_ms = 0;
        bool has_time = false;
        /* Fields split on every comma, empty ones included, so that
         * positions never shift. */
        for (char *tok = line, *comma; tok && rc == 0; tok = comma, col++) {
            comma = strchr(tok, ',');
            if (comma)
                *comma++ = '\0';
            if (col >= ncols || !cols[col].name)
                continue;
            if (strcmp(cols[col].name, "time") == 0) {
                has_time = cli_parse_time(tok, &time_ms) == 0;
                continue;
            }
            witan__named_value__init(&vals[nv]);
            vals[nv].name = (char *)cols[col].name;
            if (cli_parse_decimal(tok, &vals[nv].mantissa, &vals[nv].scale)) {
                fprintf(stderr, "witan attest: %s:%zu: '%s' is not an exact "
                                "decimal\n", file, line_no, tok);
                rc = 1;
                break;
            }
            if (cols[col].has_missing &&
                decimal_equal(vals[nv].mantissa, vals[nv].scale,
                              cols[col].missing_mantissa,
                              cols[col].missing_scale)) {
                left_out++;
                continue;
            }
            ptrs[nv] = &vals[nv];
            nv++;
        }
        if (rc)
            break;
        if (!has_time || nv == 0) {
            fprintf(stderr, "witan attest: %s:%zu: no time or no value\n",
                    file, line_no);
            rc = 1;
            break;
        }
        int err = sign_attest(o, time_ms, ptrs, nv, NULL, NULL,
                              &envs[pending], hashes[pending]);
        if (err) {
            rc = cli_fail("signing", err);
            break;
        }
        if (o->wait) {
            void *grown =
                realloc(all_hashes, (all_count + 1) * WITAN_HASH_SIZE);
            if (!grown) {
                rc = cli_fail("memory", WITAN_ENOMEM);
                break;
            }
            all_hashes = grown;
            memcpy(all_hashes[all_count++], hashes[pending], WITAN_HASH_SIZE);
        }
        rows++;
        if (++pending == batch) {
            int r = submit(o, envs, pending, hashes);
            for (size_t i = 0; i < pending; i++)
                free(envs[i].data);
            pending = 0;
            if (r < 0)
                rc = 1;
            else
                refused += r;
        }
    }
    if (rc == 0 && pending) {
        int r = submit(o, envs, pending, hashes);
        if (r < 0)
            rc = 1;
        else
            refused += r;
    }
    for (size_t i = 0; i < pending; i++)
        free(envs[i].data);
    fclose(f);
    free(envs);
    free(hashes);
    if (rc == 0) {
        printf("%s: %zu rows submitted, %d refused; %zu values equal to their "
               "missing-value sentinel left out\n",
               file, rows, refused, left_out);
        if (refused)
            rc = 1;
    }
    if (rc == 0 && o->wait) {
        rc = wait_committed(o, all_hashes, all_count) ? 1 : 0;
    }
    free(all_hashes);
    return rc;
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
        return 2;
    }
    int err = wcrypto_keyfile_read(key, &o.key);
    if (err) {
        fprintf(stderr, "witan attest: %s: %s%s\n", key, witan_err_message(err),
                err == WITAN_EKEYPERM ? " (chmod 600 it)" : "");
        return 1;
    }
    if (cli_sender(argc, argv, &o.key, o.sender)) {
        wcrypto_keypair_wipe(&o.key);
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
        rc = file ? many_from_file(&o, argc, argv, file)
                  : one_from_flags(&o, &one);
    }
    wcrypto_keypair_wipe(&o.key);
    return rc;
}
