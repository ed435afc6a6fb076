/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan decisions list|show: what decision contracts decided, and for one
 * decision the whole chain of evidence the ledger linked to it
 * (spec/contracts.md section 6): decision → contract → run → prediction →
 * model → each input attestation. Also the printers of runs, decisions and
 * events that `witan contract call` and `witan query tx` share.
 *
 * Text for people; --json prints the protobuf response exactly as the HTTP
 * gateway does (render/json.c).
 */
#include <string.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "render/render.h"
#include "vm/vm.h"

static const char usage[] =
    "usage: witan decisions list [--contract ID] [--kind K] [--subject S]\n"
    "                            [--from H] [--to H] [--limit N] [--cursor C]\n"
    "       witan decisions show ID [--source]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR] [--json]\n"
    "\n"
    "list  decisions in key order (contract, height, sequence), at most\n"
    "      --limit (default 100, at most 1000); filters: the contract's id,\n"
    "      the kind or subject the contract gave (text, or 0x and hex), and\n"
    "      heights --from/--to. When more remain the output ends with the\n"
    "      --cursor to pass for the next page.\n"
    "show  one decision (ID: 88 hex digits, as list prints it) with its\n"
    "      evidence: the contract (deploy transaction, name, version,\n"
    "      language; its source with --source), the run that made it, the\n"
    "      prediction it rests on (model, outputs as decimals), the model's\n"
    "      registration, and each input's attestation (feed, subject, time,\n"
    "      values, provider, transaction, height).\n"
    "\n" CLI_NODE_HELP;

static const struct cli_opt list_opts[] = {
    CLI_OPTS_NODE,         {"--json", false, false},
    {"--contract", true, false}, {"--kind", true, false},
    {"--subject", true, false},  {"--from", true, false},
    {"--to", true, false},       {"--limit", true, false},
    {"--cursor", true, false},   {NULL, false, false}};

static const struct cli_opt show_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {"--source", false, false},
    {NULL, false, false}};

/* --- shared printers ---------------------------------------------------------- */

void cli_print_bytes_text(const ProtobufCBinaryData *b)
{
    if (render_json_printable(b)) {
        printf("\"%.*s\"", (int)b->len, (const char *)b->data);
        return;
    }
    printf("0x");
    for (size_t i = 0; i < b->len; i++)
        printf("%02x", b->data[i]);
}

static void print_hex(const ProtobufCBinaryData *b)
{
    for (size_t i = 0; i < b->len; i++)
        printf("%02x", b->data[i]);
    if (b->len == 0)
        printf("(none)");
}

static void print_values(const int64_t *v, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)v[i]);
    printf("]");
}

/* The decision's id is its key: contract ‖ be64(height) ‖ be32(sequence). */
static void print_decision_id(const Witan__Decision *d)
{
    print_hex(&d->contract);
    printf("%016llx%08x", (unsigned long long)d->height, d->sequence);
}

static void print_decision(const Witan__Decision *d, const char *indent)
{
    char t[32];
    cli_format_time(d->time_ms, t, sizeof t);
    printf("%sdecision ", indent);
    print_decision_id(d);
    printf("\n%s  kind ", indent);
    cli_print_bytes_text(&d->kind);
    printf("  subject ");
    cli_print_bytes_text(&d->subject);
    printf("  values ");
    print_values(d->values, d->n_values);
    if (d->data.len) {
        printf("  data ");
        cli_print_bytes_text(&d->data);
    }
    printf("\n%s  by %s v%u at height %llu (%s), sequence %u\n", indent,
           d->contract_name, d->contract_version,
           (unsigned long long)d->height, t, d->sequence);
}

static void print_run(const Witan__ContractRun *r, const char *indent)
{
    char why[LEDGER_WHY_SIZE];
    ledger_run_why(r, why, sizeof why);
    printf("%srun %u of tx ", indent, r->sequence);
    print_hex(&r->tx_hash);
    printf(" at height %llu\n%s  contract ", (unsigned long long)r->height,
           indent);
    print_hex(&r->contract);
    printf(" entry %s: %s; gas %llu\n", r->entry, why,
           (unsigned long long)r->gas);
    if (r->status != WITAN__RUN_STATUS__RUN_OK)
        return;
    if (r->result_type == VM_TYPE_INT) {
        printf("%s  result %lld\n", indent, (long long)r->result_int);
    } else if (r->result_type == VM_TYPE_BYTES) {
        printf("%s  result ", indent);
        cli_print_bytes_text(&r->result_bytes);
        printf("\n");
    }
}

void cli_print_runs(const Witan__RunsResponse *r)
{
    for (size_t i = 0; i < r->n_runs; i++)
        print_run(r->runs[i], "");
    for (size_t i = 0; i < r->n_decisions; i++)
        print_decision(r->decisions[i], "  ");
    for (size_t i = 0; i < r->n_events; i++) {
        const Witan__Event *e = r->events[i];
        printf("  event topic ");
        cli_print_bytes_text(&e->topic);
        printf("  values ");
        print_values(e->values, e->n_values);
        if (e->data.len) {
            printf("  data ");
            cli_print_bytes_text(&e->data);
        }
        printf("  (height %llu, sequence %u, run %u)\n",
               (unsigned long long)e->height, e->sequence, e->run);
    }
}

int cli_fetch_runs(const char *address, const uint8_t hash[WITAN_HASH_SIZE],
                   Witan__Response **out)
{
    Witan__RunsRequest q = WITAN__RUNS_REQUEST__INIT;
    q.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_RUNS;
    req.runs = &q;
    if (cli_call(address, &req, 30000, out))
        return 1;
    if (cli_response_error("runs", *out) || !(*out)->runs) {
        witan__response__free_unpacked(*out, NULL);
        *out = NULL;
        return 1;
    }
    return 0;
}

/* --- the evidence ------------------------------------------------------------- */

static void print_contract_line(const Witan__ContractRecord *c)
{
    printf("contract ");
    print_hex(&c->id);
    printf("  %s v%u\n  deployed by tx ", c->name, c->version);
    print_hex(&c->id);
    printf(" at height %llu, operator ", (unsigned long long)c->height);
    print_hex(&c->operator_);
    printf("\n  language %s%s%s%s\n", c->language[0] ? c->language : "(none)",
           c->compiler[0] ? ", compiler \"" : "", c->compiler,
           c->compiler[0] ? "\"" : "");
    if (c->retired) {
        printf("  retired from height %llu", (unsigned long long)c->retired_height);
        if (c->replaced_by.len) {
            printf(", replaced by ");
            print_hex(&c->replaced_by);
        }
        printf("\n");
    }
}

static void print_prediction(const Witan__PredictionRecord *p)
{
    printf("prediction (%s) of model %s, subject %s, at height %llu\n",
           p->computed ? "computed by the ledger" : "posted by its operator",
           p->model_name, p->subject[0] ? p->subject : "(none)",
           (unsigned long long)p->height);
    printf("  caused by tx ");
    print_hex(&p->tx_hash);
    printf("\n");
    for (size_t j = 0; j < p->n_outputs; j++) {
        char num[48];
        cli_format_fixed(p->outputs[j], p->output_frac_bits, num, sizeof num);
        printf("  output %zu %s = %s\n", j,
               j < p->n_output_names ? p->output_names[j] : "", num);
    }
    for (size_t j = 0; j < p->n_posted_outputs; j++) {
        char num[48];
        cli_format_decimal(p->posted_outputs[j]->mantissa,
                           p->posted_outputs[j]->scale, num, sizeof num);
        printf("  output %zu %s = %s (posted)\n", j,
               p->posted_outputs[j]->name, num);
    }
    if (!p->computed && p->operator_.len) {
        printf("  attested by ");
        print_hex(&p->operator_);
        printf("\n");
    }
}

static void print_attestation(const Witan__AttestationRecord *r)
{
    char t[32];
    cli_format_time(r->attest->observed_at_ms, t, sizeof t);
    printf("  %s / %s at %s:", r->attest->feed, r->attest->subject, t);
    for (size_t i = 0; i < r->attest->n_values; i++) {
        char num[48];
        cli_format_decimal(r->attest->values[i]->mantissa,
                           r->attest->values[i]->scale, num, sizeof num);
        printf(" %s=%s", r->attest->values[i]->name, num);
    }
    printf(" %s\n    provider ", r->attest->unit);
    print_hex(&r->provider);
    printf(", tx ");
    print_hex(&r->tx_hash);
    printf(", height %llu, revision %u\n", (unsigned long long)r->height,
           r->revision);
}

static void print_evidence(const Witan__DecisionEvidence *ev,
                           const char *source)
{
    print_decision(ev->decision, "");
    if (ev->contract) {
        print_contract_line(ev->contract);
        if (source && source[0])
            printf("  source:\n%s%s", source,
                   source[strlen(source) - 1] == '\n' ? "" : "\n");
        else if (!source && ev->contract->language[0])
            printf("  (--source shows its source, if kept on chain)\n");
    }
    if (ev->run)
        print_run(ev->run, "");
    if (!ev->prediction) {
        printf("no prediction: a member called the contract\n");
        return;
    }
    print_prediction(ev->prediction);
    if (ev->model) {
        printf("model ");
        print_hex(&ev->model->hash);
        printf("  %s v%u\n  registered by tx ", ev->model->name,
               ev->model->version);
        print_hex(&ev->model->tx_hash);
        printf(" at height %llu, operator ",
               (unsigned long long)ev->model->height);
        print_hex(&ev->model->operator_);
        printf("\n");
    }
    printf("input attestations (%zu inputs):\n",
           ev->prediction->n_input_txs);
    for (size_t i = 0; i < ev->n_inputs; i++) /* each once (ledger) */
        print_attestation(ev->inputs[i]);
}

/* --- the commands ---------------------------------------------------------------- */

/* A kind or subject to filter on: text, or 0x and hex. */
static int bytes_arg(const char *flag, const char *text, uint8_t *buf,
                     size_t max, ProtobufCBinaryData *out)
{
    size_t n = strlen(text);
    if (strncmp(text, "0x", 2) == 0) {
        if ((n - 2) % 2 || (n - 2) / 2 > max ||
            witan_hex_decode(text + 2, buf, (n - 2) / 2)) {
            fprintf(stderr, "witan decisions list: %s takes text or 0x and "
                            "at most %zu bytes of hex, not '%s'\n",
                    flag, max, text);
            return 2;
        }
        *out = (ProtobufCBinaryData){(n - 2) / 2, buf};
        return 0;
    }
    if (n > max) {
        fprintf(stderr, "witan decisions list: %s is at most %zu bytes\n",
                flag, max);
        return 2;
    }
    *out = (ProtobufCBinaryData){n, (uint8_t *)text};
    return 0;
}

static int answer(const char *address, Witan__Request *req, bool json,
                  bool source)
{
    Witan__Response *resp;
    if (cli_call(address, req, 30000, &resp))
        return 1;
    if (cli_response_error("decisions", resp) || !resp->decisions) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    const Witan__DecisionsResponse *r = resp->decisions;
    int rc = 0;
    if (json) {
        int err = render_json_print(stdout, &r->base);
        rc = err ? cli_fail("decisions", err) : 0;
    } else if (req->decisions->id.len) {
        if (r->n_decisions == 1)
            /* the evidence carries the contract's source */
            print_evidence(r->decisions[0],
                           source && r->decisions[0]->contract
                               ? r->decisions[0]->contract->source
                               : NULL);
    } else {
        for (size_t i = 0; i < r->n_decisions; i++)
            print_decision(r->decisions[i]->decision, "");
        if (r->next_cursor.len) {
            printf("more: --cursor ");
            print_hex(&r->next_cursor);
            printf("\n");
        }
    }
    witan__response__free_unpacked(resp, NULL);
    return rc;
}

static int cmd_list(int argc, char **argv)
{
    const char *what = "decisions list";
    if (cli_args_check(argc, argv, 2, list_opts, 0, what))
        return 2;
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    uint8_t contract[WITAN_HASH_SIZE], kind[WITAN_DECISION_KIND_SIZE_MAX],
        subject[WITAN_DECISION_SUBJECT_SIZE_MAX],
        cursor[WITAN_DECISION_CURSOR_SIZE_MAX];
    const char *v;
    uint64_t n;
    if ((v = cli_flag(argc, argv, "--contract"))) {
        if (cli_parse_hash(what, "--contract", v, contract, sizeof contract))
            return 2;
        q.contract = (ProtobufCBinaryData){sizeof contract, contract};
    }
    if ((v = cli_flag(argc, argv, "--kind")) &&
        bytes_arg("--kind", v, kind, sizeof kind, &q.kind))
        return 2;
    if ((v = cli_flag(argc, argv, "--subject")) &&
        bytes_arg("--subject", v, subject, sizeof subject, &q.subject))
        return 2;
    if ((v = cli_flag(argc, argv, "--from")) &&
        cli_parse_u64(what, "--from", v, UINT64_MAX, &q.from_height))
        return 2;
    if ((v = cli_flag(argc, argv, "--to")) &&
        cli_parse_u64(what, "--to", v, UINT64_MAX, &q.to_height))
        return 2;
    if ((v = cli_flag(argc, argv, "--limit"))) {
        if (cli_parse_u64(what, "--limit", v, WITAN_QUERY_PAGE_COUNT_MAX, &n))
            return 2;
        q.limit = (uint32_t)n;
    }
    if ((v = cli_flag(argc, argv, "--cursor"))) {
        size_t len = strlen(v);
        if (len % 2 || len / 2 > sizeof cursor ||
            witan_hex_decode(v, cursor, len / 2)) {
            fprintf(stderr, "witan %s: --cursor takes the hex that a "
                            "previous page printed, not '%s'\n",
                    what, v);
            return 2;
        }
        q.cursor = (ProtobufCBinaryData){len / 2, cursor};
    }
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_DECISIONS;
    req.decisions = &q;
    return answer(address, &req, cli_has_flag(argc, argv, "--json"), false);
}

static int cmd_show(int argc, char **argv)
{
    const char *what = "decisions show";
    const char *id_text;
    uint8_t id[WITAN_DECISION_ID_SIZE];
    if (cli_args_check(argc, argv, 2, show_opts, 1, what))
        return 2;
    if (cli_positional(argc, argv, 2, show_opts, 0, &id_text)) {
        fprintf(stderr, "witan %s: a decision ID (%d hex digits) is "
                        "required\n",
                what, 2 * WITAN_DECISION_ID_SIZE);
        return 2;
    }
    if (cli_parse_hash(what, "ID", id_text, id, sizeof id))
        return 2;
    Witan__DecisionsRequest q = WITAN__DECISIONS_REQUEST__INIT;
    q.id = (ProtobufCBinaryData){sizeof id, id};
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_DECISIONS;
    req.decisions = &q;
    return answer(address, &req, cli_has_flag(argc, argv, "--json"),
                  cli_has_flag(argc, argv, "--source"));
}

int cli_decisions(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(argc, argv);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc, argv);
    fprintf(stderr, "witan decisions: unknown command '%s'\n%s", argv[1],
            usage);
    return 2;
}
