/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan query: status, blocks, transactions with their receipts,
 * attestations of a feed and subject (paged with a cursor), accounts.
 * Text for people by default, one JSON object with --json.
 */
#include <string.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "render/render.h"

static const char usage[] =
    "usage: witan query status\n"
    "       witan query block HEIGHT\n"
    "       witan query tx HASH   (with the contract runs it caused)\n"
    "       witan query attestations --feed F --subject S [--from T] [--to T]\n"
    "                                [--limit N] [--cursor HEX] [--history]\n"
    "       witan query predictions --model HASH [--subject S] [--from H]\n"
    "                               [--to H] [--limit N] [--cursor HEX]\n"
    "       witan query feeds [--feed F] [--limit N] [--cursor HEX]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR] [--json]\n"
    "\n"
    CLI_TIME_HELP
    "A page holds at most\n"
    "1000 attestations (100 by default); when more remain the output ends\n"
    "with the cursor to pass for the next page. --history also lists every\n"
    "earlier revision of a corrected attestation. Predictions are listed by\n"
    "height (--from/--to are heights), each with its inputs, outputs and the\n"
    "transactions that registered its model and attested its inputs.\n"
    "feeds lists the feeds and subjects that have attestations (with --feed,\n"
    "that feed's subjects), each with its earliest observation: what to\n"
    "give attestations as --feed and --subject.\n"
    "\n" CLI_NODE_HELP;

static void hex_of(ProtobufCBinaryData b, char *out)
{
    witan_hex_encode(b.data, b.len, out);
}

static const char *status_name(Witan__TxStatus s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&witan__tx_status__descriptor, s);
    return v ? v->name + strlen("TX_STATUS_") : "UNKNOWN";
}

static void print_values(const Witan__Attest *a)
{
    for (size_t i = 0; i < a->n_values; i++) {
        char num[48];
        cli_format_decimal(a->values[i]->mantissa, a->values[i]->scale, num,
                           sizeof num);
        printf(" %s=%s", a->values[i]->name, num);
    }
}

static void print_record(const Witan__AttestationRecord *r)
{
    char t[32], tx[65], sup[65];
    cli_format_time(r->attest->observed_at_ms, t, sizeof t);
    hex_of(r->tx_hash, tx);
    hex_of(r->superseded_by, sup);
    printf("%s", t);
    print_values(r->attest);
    printf(" %s  rev %u  height %llu  tx %.16s", r->attest->unit, r->revision,
           (unsigned long long)r->height, tx);
    if (sup[0])
        printf("  superseded by %.16s", sup);
    printf("\n");
}

static int run(const char *address, Witan__Request *req, bool json,
               const char *what)
{
    Witan__Response *resp;
    if (cli_call(address, req, 30000, &resp))
        return 1;
    if (cli_response_error(what, resp)) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    char a[129], b[129], c[129];
    int rc = 0;
    switch (resp->kind_case) {
    case WITAN__RESPONSE__KIND_STATUS: {
        const Witan__StatusResponse *s = resp->status;
        hex_of(s->genesis_hash, a);
        hex_of(s->block_hash, b);
        hex_of(s->state_root, c);
        if (json) {
            rc = render_json_print(stdout, &s->base);
            break;
        }
            printf("chain:        %s\nheight:       %llu\nblock hash:   %s\n"
                   "state root:   %s\ngenesis hash: %s\nmempool:      %u "
                   "transactions, %llu bytes\nvalidators:   %u\n",
                   s->chain_id, (unsigned long long)s->height, b, c, a,
                   s->mempool_count, (unsigned long long)s->mempool_size,
                   s->validator_count);
        break;
    }
    case WITAN__RESPONSE__KIND_BLOCK: {
        const Witan__BlockResponse *r = resp->block;
        if (json) {
            struct render_json j = {0};
            render_json_block(&j, r);
            rc = render_json_write(stdout, &j);
            break;
        }
        Witan__BlockHeader *h = witan__block_header__unpack(
            NULL, r->block->header.len, r->block->header.data);
        if (!h) {
            fprintf(stderr, "witan query: block header does not decode\n");
            witan__response__free_unpacked(resp, NULL);
            return 1;
        }
        char t[32];
        cli_format_time(h->time_ms, t, sizeof t);
        hex_of(r->block_hash, a);
        hex_of(r->state_root, b);
        hex_of(h->prev_hash, c);
            printf("height:       %llu\nhash:         %s\nprevious:     %s\n"
                   "time:         %s\ntransactions: %u\nstate root:   %s\n"
                   "certificate:  %zu signature(s), view %llu\n",
                   (unsigned long long)h->height, a, c, t, h->tx_count, b,
                   r->cert ? r->cert->n_signatures : 0,
                   r->cert ? (unsigned long long)r->cert->view : 0ull);
        witan__block_header__free_unpacked(h, NULL);
        break;
    }
    case WITAN__RESPONSE__KIND_TX: {
        const Witan__TxResponse *t = resp->tx;
        static const char *const states[] = {"unknown", "pending",
                                             "committed", "dropped"};
        const char *state = states[t->state <= 3 ? t->state : 0];
        char by[2 * WITAN_HASH_SIZE + 1] = "";
        if (t->displaced_by.len == WITAN_HASH_SIZE)
            witan_hex_encode(t->displaced_by.data, WITAN_HASH_SIZE, by);
        /* The contract runs it caused, each with its end in words. */
        Witan__Response *runs = NULL;
        if (t->receipt && t->receipt->run_count > 0 &&
            cli_fetch_runs(address, req->tx->tx_hash.data, &runs)) {
            witan__response__free_unpacked(resp, NULL);
            return 1;
        }
        if (json) {
            struct render_json j = {0};
            render_json_tx(&j, req->tx->tx_hash.data, t, NULL,
                           runs ? runs->runs : NULL);
            rc = render_json_write(stdout, &j);
        } else {
            printf("state:  %s\n", state);
            if (by[0]) /* never to commit: another took its nonce */
                printf("displaced by: %s\n", by);
            if (t->receipt) {
                hex_of(t->block_hash, a);
                printf("height: %llu (index %u)\nblock:  %s\nstatus: %s\n"
                       "gas:    %llu\n",
                       (unsigned long long)t->receipt->height,
                       t->receipt->index, a, status_name(t->receipt->status),
                       (unsigned long long)t->receipt->gas_used);
            }
            if (runs) {
                printf("runs:   %u\n", t->receipt->run_count);
                cli_print_runs(runs->runs);
            }
        }
        if (runs)
            witan__response__free_unpacked(runs, NULL);
        break;
    }
    case WITAN__RESPONSE__KIND_FEEDS: {
        const Witan__FeedsResponse *r = resp->feeds;
        if (json) {
            rc = render_json_print(stdout, &r->base);
            break;
        }
        for (size_t i = 0; i < r->n_feeds; i++) {
            char t[32];
            cli_format_time(r->feeds[i]->first_observed_at_ms, t, sizeof t);
            printf("%s  %s  since %s\n", r->feeds[i]->feed,
                   r->feeds[i]->subject, t);
        }
        hex_of(r->next_cursor, a);
        if (a[0])
            printf("more: --cursor %s\n", a);
        break;
    }
    case WITAN__RESPONSE__KIND_ATTESTATIONS: {
        const Witan__AttestationsResponse *r = resp->attestations;
        if (json) {
            rc = render_json_print(stdout, &r->base);
            break;
        }
        for (size_t i = 0; i < r->n_records; i++)
            print_record(r->records[i]);
        if (r->n_history)
            printf("earlier revisions:\n");
        for (size_t i = 0; i < r->n_history; i++)
            print_record(r->history[i]);
        hex_of(r->next_cursor, a);
        if (a[0])
            printf("more: --cursor %s\n", a);
        break;
    }
    default:
        fprintf(stderr, "witan query: unexpected answer\n");
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    witan__response__free_unpacked(resp, NULL);
    return rc ? cli_fail("output", rc) : 0;
}

int cli_query(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* Each query's options: a misspelt one is an error naming it, never
     * ignored (it may be the node the question was meant for). */
    static const struct cli_opt base_opts[] = {
        CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false}};
    static const struct cli_opt attest_opts[] = {
        CLI_OPTS_NODE,           {"--json", false, false},
        {"--feed", true, false}, {"--subject", true, false},
        {"--from", true, false}, {"--to", true, false},
        {"--limit", true, false}, {"--cursor", true, false},
        {"--history", false, false}, {NULL, false, false}};
    static const struct cli_opt pred_opts[] = {
        CLI_OPTS_NODE,            {"--json", false, false},
        {"--model", true, false}, {"--subject", true, false},
        {"--from", true, false},  {"--to", true, false},
        {"--limit", true, false}, {"--cursor", true, false},
        {NULL, false, false}};
    static const struct cli_opt feeds_opts[] = {
        CLI_OPTS_NODE,            {"--json", false, false},
        {"--feed", true, false},  {"--limit", true, false},
        {"--cursor", true, false}, {NULL, false, false}};
    const char *what = argv[1];
    bool positional = strcmp(what, "block") == 0 || strcmp(what, "tx") == 0;
    const struct cli_opt *opts = strcmp(what, "attestations") == 0 ? attest_opts
                                 : strcmp(what, "predictions") == 0 ? pred_opts
                                 : strcmp(what, "feeds") == 0       ? feeds_opts
                                                                     : base_opts;
    char name[64];
    snprintf(name, sizeof name, "query %s", what);
    if (cli_args_check(argc, argv, 2, opts, positional ? 1 : 0, name))
        return 2;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    bool json = cli_has_flag(argc, argv, "--json");
    const char *arg = NULL; /* block's height, tx's hash */
    cli_positional(argc, argv, 2, opts, 0, &arg);
    Witan__Request req = WITAN__REQUEST__INIT;
    if (strcmp(what, "status") == 0) {
        Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
        req.kind_case = WITAN__REQUEST__KIND_STATUS;
        req.status = &s;
        return run(address, &req, json, "status");
    }
    if (strcmp(what, "block") == 0) {
        if (!arg) {
            fprintf(stderr, "witan query block: a height is required\n");
            return 2;
        }
        Witan__BlockRequest b = WITAN__BLOCK_REQUEST__INIT;
        if (cli_parse_u64("query block", "HEIGHT", arg, UINT64_MAX,
                          &b.height))
            return 2;
        req.kind_case = WITAN__REQUEST__KIND_BLOCK;
        req.block = &b;
        return run(address, &req, json, "block");
    }
    if (strcmp(what, "tx") == 0) {
        uint8_t hash[WITAN_HASH_SIZE];
        if (!arg) {
            fprintf(stderr, "witan query tx: a 64-hex-digit hash is "
                            "required\n");
            return 2;
        }
        if (cli_parse_hash("query tx", "HASH", arg, hash, WITAN_HASH_SIZE))
            return 2;
        Witan__TxRequest t = WITAN__TX_REQUEST__INIT;
        t.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
        req.kind_case = WITAN__REQUEST__KIND_TX;
        req.tx = &t;
        return run(address, &req, json, "tx");
    }
    if (strcmp(what, "attestations") == 0) {
        Witan__AttestationsRequest a = WITAN__ATTESTATIONS_REQUEST__INIT;
        const char *feed = cli_flag(argc, argv, "--feed");
        const char *subject = cli_flag(argc, argv, "--subject");
        const char *from = cli_flag(argc, argv, "--from");
        const char *to = cli_flag(argc, argv, "--to");
        const char *limit = cli_flag(argc, argv, "--limit");
        const char *cursor = cli_flag(argc, argv, "--cursor");
        uint8_t cur[WITAN_STORE_KEY_SIZE_MAX];
        if (!feed || !subject) {
            fprintf(stderr, "witan query attestations: --feed and --subject "
                            "are required\n");
            return 2;
        }
        a.feed = (char *)feed;
        a.subject = (char *)subject;
        a.from_ms = INT64_MIN;
        int ferr = from ? witan_time_parse(from, &a.from_ms) : 0;
        int terr = !ferr && to ? witan_time_parse(to, &a.to_ms) : 0;
        if (ferr || terr) {
            fprintf(stderr, "witan query attestations: --%s '%s' is invalid: "
                            "%s\n",
                    ferr ? "from" : "to", ferr ? from : to,
                    witan_time_error(ferr ? ferr : terr));
            return 2;
        }
        uint64_t n_limit = 0;
        if (limit && cli_parse_u64("query attestations", "--limit", limit,
                                   WITAN_QUERY_PAGE_COUNT_MAX, &n_limit))
            return 2;
        a.limit = (uint32_t)n_limit;
        if (cursor) {
            size_t n;
            if (cli_parse_cursor("query attestations", cursor, cur,
                                 sizeof cur, &n))
                return 2;
            a.cursor = (ProtobufCBinaryData){n, cur};
        }
        a.history = cli_has_flag(argc, argv, "--history");
        req.kind_case = WITAN__REQUEST__KIND_ATTESTATIONS;
        req.attestations = &a;
        return run(address, &req, json, "attestations");
    }
    if (strcmp(what, "predictions") == 0)
        return cli_query_predictions(address, argc, argv);
    if (strcmp(what, "feeds") == 0) {
        Witan__FeedsRequest f = WITAN__FEEDS_REQUEST__INIT;
        const char *feed = cli_flag(argc, argv, "--feed");
        const char *limit = cli_flag(argc, argv, "--limit");
        const char *cursor = cli_flag(argc, argv, "--cursor");
        uint8_t cur[WITAN_STORE_KEY_SIZE_MAX];
        f.feed = (char *)(feed ? feed : "");
        uint64_t n_limit = 0;
        if (limit && cli_parse_u64("query feeds", "--limit", limit,
                                   WITAN_QUERY_PAGE_COUNT_MAX, &n_limit))
            return 2;
        f.limit = (uint32_t)n_limit;
        if (cursor) {
            size_t n;
            if (cli_parse_cursor("query feeds", cursor, cur, sizeof cur, &n))
                return 2;
            f.cursor = (ProtobufCBinaryData){n, cur};
        }
        req.kind_case = WITAN__REQUEST__KIND_FEEDS;
        req.feeds = &f;
        return run(address, &req, json, "feeds");
    }
    fprintf(stderr, "witan query: unknown query '%s'\n%s", what, usage);
    return 2;
}
