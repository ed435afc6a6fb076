/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision contracts on chain from the command line (spec/contracts.md):
 * deploy a module with its triggers, call an entry, retire a contract,
 * list and show contracts. Transactions are signed with --key like every
 * other transaction command and always waited for: what a person wants
 * back is the contract id and the receipt, and for a call the run.
 *
 * Text for people; --json prints the protobuf answers as the HTTP gateway
 * does (render/json.c).
 */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "contracts/lang/lang.h"
#include "ledger/ledger.h"
#include "render/render.h"
#include "vm/vm.h"

#define CLI_ASM_LANGUAGE "witan-asm"
#define CLI_DEPLOY_ARG_COUNT_MAX 256

static const struct cli_opt deploy_opts[] = {
    CLI_OPTS_NODE,
    {"--json", false, false},
    {"--key", true, false}, {"--account", true, false},
    {"--name", true, false},
    {"--model", true, true},
    CLI_OPTS_DEPLOYMENT,
    {NULL, false, false}};

static const struct cli_opt call_opts[] = {
    CLI_OPTS_NODE,         {"--json", false, false}, {"--key", true, false}, {"--account", true, false},
    {"--int", true, true}, {"--bytes", true, true},  {"--text", true, true},
    {"--gas", true, false}, {NULL, false, false}};

static const struct cli_opt retire_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {"--key", true, false}, {"--account", true, false},
    {NULL, false, false}};

static const struct cli_opt list_opts[] = {
    CLI_OPTS_NODE,           {"--json", false, false}, {"--model", true, false},
    {"--limit", true, false}, {"--cursor", true, false}, {NULL, false, false}};

static const struct cli_opt show_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {"--source", false, false},
    {NULL, false, false}};

/* --- transactions ---------------------------------------------------------------- */


/* A trapped run of a contract deployed with a source map (language.md
 * section 10): the source line of the trap, read from the contract's
 * source on chain. Rendered here, never stored. Prints nothing when the
 * contract has no map or the node cannot say. */
static void print_trap_line(const char *address, const Witan__ContractRun *run)
{
    if (!run->trap || run->contract.len != WITAN_HASH_SIZE)
        return;
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = run->contract;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    req.contracts = &q;
    Witan__Response *resp;
    if (cli_call(address, &req, 30000, &resp))
        return;
    uint32_t line, col;
    const char *ls;
    size_t ln;
    if (resp->contracts && resp->contracts->n_contracts == 1) {
        const Witan__ContractRecord *c = resp->contracts->contracts[0];
        if (lang_trap_source(c->source_map.data, c->source_map.len,
                             c->source, run->trap_function, run->trap_offset,
                             &line, &col, &ls, &ln) == 0)
            printf("  trap at line %u:%u of the source: %.*s\n", line, col,
                   (int)(ln > 200 ? 200 : ln), ls);
    }
    witan__response__free_unpacked(resp, NULL);
}

/* Signs body, submits it and waits for its receipt; prints the receipt (or
 * with `json` the TxResponse) and, when it caused runs, the runs. With
 * `id_name` (a deploy) the transaction's hash is first printed as that:
 * a contract's id is its deploy transaction's hash. Exit status: 0 only
 * when committed OK. */
static int submit_and_report(int argc, char **argv, Witan__TxBody *body,
                             bool json, const char *id_name)
{
    char address[256];
    uint8_t hash[WITAN_HASH_SIZE];
    Witan__Response *tx;
    int rc = cli_sign_submit(argc, argv, body, true, address, sizeof address,
                             hash, &tx);
    if (rc)
        return rc;
    const Witan__TxResponse *t = tx->tx;
    Witan__Response *runs = NULL;
    bool ok = t->state == WITAN__TX_STATE__TX_STATE_COMMITTED &&
              t->receipt->status == WITAN__TX_STATUS__TX_STATUS_OK;
    if (t->receipt && t->receipt->run_count > 0 &&
        cli_fetch_runs(address, hash, &runs)) {
        witan__response__free_unpacked(tx, NULL);
        return 1;
    }
    if (json) {
        struct render_json b = {0};
        bool first = true;
        render_json_puts(&b, "{");
        if (id_name) {
            render_json_str(&b, id_name);
            render_json_puts(&b, ":");
            render_json_hex(&b, hash, WITAN_HASH_SIZE);
            render_json_puts(&b, ",");
        }
        /* The /v1/tx shape with tx_hash, as every signed command's. */
        render_json_puts(&b, "\"tx_hash\":");
        render_json_hex(&b, hash, WITAN_HASH_SIZE);
        first = false;
        render_json_fields(&b, &t->base, &first);
        if (runs) {
            render_json_puts(&b, ",\"runs\":");
            render_json_message(&b, &runs->runs->base);
        }
        render_json_puts(&b, "}\n");
        if (b.oom || fwrite(b.p, 1, b.len, stdout) != b.len)
            rc = cli_fail("output", b.oom ? WITAN_ENOMEM : WITAN_EIO);
        free(b.p);
    } else {
        if (id_name) {
            char hex[2 * WITAN_HASH_SIZE + 1];
            witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
            printf("%s %s\n", id_name, hex);
        }
        cli_print_settled(hash, t);
        if (t->receipt)
            printf("gas used %llu\n",
                   (unsigned long long)t->receipt->gas_used);
        if (runs) {
            cli_print_runs(runs->runs);
            for (size_t i = 0; i < runs->runs->n_runs; i++)
                print_trap_line(address, runs->runs->runs[i]);
        }
    }
    if (runs)
        witan__response__free_unpacked(runs, NULL);
    witan__response__free_unpacked(tx, NULL);
    return rc ? rc : ok ? 0 : 1;
}

/* --- deploy -------------------------------------------------------------------- */

/* "K:DECIMAL" into output k and threshold mantissa × 10^−scale. */
static int parse_threshold(const char *flag, const char *text,
                           Witan__ContractTrigger *t)
{
    const char *colon = strchr(text, ':');
    uint64_t k;
    char digits[24];
    size_t n = colon ? (size_t)(colon - text) : 0;
    if (!colon || n == 0 || n >= sizeof digits) {
        fprintf(stderr, "witan contract deploy: %s takes OUTPUT:DECIMAL "
                        "(e.g. 0:415.5), not '%s'\n",
                flag, text);
        return 2;
    }
    memcpy(digits, text, n);
    digits[n] = '\0';
    if (cli_parse_u64("contract deploy", flag, digits, UINT32_MAX, &k))
        return 2;
    if (cli_parse_decimal(colon + 1, &t->threshold_mantissa,
                          &t->threshold_scale)) {
        fprintf(stderr, "witan contract deploy: %s: '%s' is not a decimal of "
                        "at most %d fraction digits\n",
                flag, colon + 1, WITAN_DECIMAL_SCALE_MAX);
        return 2;
    }
    t->output = (uint32_t)k;
    return 0;
}

/* The triggers, in the order given: each --model starts one, and --kind,
 * --above, --below and --label that follow it shape it. */
static int parse_triggers(int argc, char **argv, Witan__ContractTrigger *t,
                          uint8_t (*models)[WITAN_HASH_SIZE], size_t *count)
{
    const char *what = "contract deploy";
    size_t n = 0;
    bool kind_set = false;
    for (int i = 2; i + 1 < argc; i++) {
        const char *a = argv[i], *v = argv[i + 1];
        bool model = strcmp(a, "--model") == 0,
             kind = strcmp(a, "--kind") == 0,
             above = strcmp(a, "--above") == 0,
             below = strcmp(a, "--below") == 0,
             label = strcmp(a, "--label") == 0;
        if (!model && !kind && !above && !below && !label)
            continue;
        i++;
        if (model) {
            if (n == WITAN_CONTRACT_TRIGGER_COUNT_MAX) {
                fprintf(stderr, "witan %s: at most %d triggers (--model)\n",
                        what, WITAN_CONTRACT_TRIGGER_COUNT_MAX);
                return 2;
            }
            witan__contract_trigger__init(&t[n]);
            if (cli_parse_hash(what, "--model", v, models[n], WITAN_HASH_SIZE))
                return 2;
            t[n].model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, models[n]};
            /* Only what the ledger computed, unless asked: a posted
             * prediction is its operator's word. */
            t[n].kind = WITAN__TRIGGER_KIND__TRIGGER_COMPUTED;
            kind_set = false;
            n++;
            continue;
        }
        if (n == 0) {
            fprintf(stderr, "witan %s: %s belongs to a trigger: give --model "
                            "HASH before it\n",
                    what, a);
            return 2;
        }
        Witan__ContractTrigger *cur = &t[n - 1];
        if (kind) {
            if (kind_set) {
                fprintf(stderr, "witan %s: --kind given twice for one "
                                "--model\n", what);
                return 2;
            }
            kind_set = true;
            if (strcmp(v, "computed") == 0)
                cur->kind = WITAN__TRIGGER_KIND__TRIGGER_COMPUTED;
            else if (strcmp(v, "posted") == 0)
                cur->kind = WITAN__TRIGGER_KIND__TRIGGER_POSTED;
            else if (strcmp(v, "any") == 0)
                cur->kind = WITAN__TRIGGER_KIND__TRIGGER_ANY;
            else {
                fprintf(stderr, "witan %s: --kind is computed, posted or "
                                "any, not '%s'\n",
                        what, v);
                return 2;
            }
            continue;
        }
        if (cur->filter != WITAN__FILTER_OP__FILTER_NONE) {
            fprintf(stderr, "witan %s: one filter per --model (--above, "
                            "--below or --label); %s is a second\n",
                    what, a);
            return 2;
        }
        if (label) {
            if (cli_parse_u64(what, "--label", v, UINT64_MAX, &cur->label))
                return 2;
            cur->filter = WITAN__FILTER_OP__FILTER_LABEL_EQUALS;
        } else {
            if (parse_threshold(a, v, cur))
                return 2;
            cur->filter = above ? WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE
                                : WITAN__FILTER_OP__FILTER_OUTPUT_BELOW;
        }
    }
    *count = n;
    return 0;
}

int cli_deployment_parse(int argc, char **argv, const char *what,
                         struct cli_deployment *out)
{
    memset(out, 0, sizeof *out);
    witan__deploy_contract__init(&out->d);
    const char *name = cli_flag(argc, argv, "--name"),
               *version = cli_flag(argc, argv, "--version"),
               *module = cli_flag(argc, argv, "--module"),
               *asm_path = cli_flag(argc, argv, "--asm"),
               *wcl_path = cli_flag(argc, argv, "--wcl"),
               *gas = cli_flag(argc, argv, "--gas"),
               *source = cli_flag(argc, argv, "--source"),
               *source_map = cli_flag(argc, argv, "--source-map"),
               *language = cli_flag(argc, argv, "--language"),
               *compiler = cli_flag(argc, argv, "--compiler"),
               *replaces = cli_flag(argc, argv, "--replaces"),
               *start = cli_flag(argc, argv, "--start-height");
    if (!name || !version || !gas ||
        (!!module + !!asm_path + !!wcl_path) != 1) {
        fprintf(stderr, "witan %s: --name, --version, --gas and one of "
                        "--module FILE.wvm, --asm FILE.wvs or --wcl "
                        "FILE.wcl are required\n",
                what);
        return 2;
    }
    if (source && cli_has_flag(argc, argv, "--no-source")) {
        fprintf(stderr, "witan %s: --source and --no-source exclude each "
                        "other\n", what);
        return 2;
    }
    Witan__DeployContract *d = &out->d;
    uint64_t n;
    if (cli_parse_u64(what, "--version", version, UINT32_MAX, &n))
        return 2;
    d->version = (uint32_t)n;
    if (cli_parse_u64(what, "--gas", gas, WITAN_GAS_MAX, &d->gas_limit) ||
        (start && cli_parse_u64(what, "--start-height", start, UINT64_MAX,
                                &d->start_height)))
        return 2;
    if (replaces) {
        if (cli_parse_hash(what, "--replaces", replaces, out->replaced,
                           sizeof out->replaced))
            return 2;
        d->replaces = (ProtobufCBinaryData){sizeof out->replaced, out->replaced};
    }
    size_t tcount;
    if (parse_triggers(argc, argv, out->triggers, out->models, &tcount))
        return 2;
    for (size_t i = 0; i < tcount; i++)
        out->tptr[i] = &out->triggers[i];
    d->n_triggers = tcount;
    d->triggers = out->tptr;

    size_t bin_size = 0, src_size, map_size = 0;
    size_t wcl_map_size = 0;
    int e = module ? cli_contract_read(module, WITAN_VM_MODULE_SIZE_MAX,
                                       &out->bin, &bin_size)
            : asm_path ? cli_contract_assemble(asm_path, &out->bin, &bin_size,
                                               &out->asm_text)
                       : cli_contract_compile(wcl_path, false, &out->bin,
                                              &bin_size, &out->wcl_map,
                                              &wcl_map_size, &out->wcl_text);
    if (e == WITAN_ECOMPILE) {
        cli_deployment_free(out);
        return 1;
    }
    if (!e && source)
        e = cli_contract_read(source, WITAN_TX_SIZE_MAX, &out->src, &src_size);
    /* Kept verbatim, like the source: bounded only by the tx size. */
    if (!e && source_map)
        e = cli_contract_read(source_map, WITAN_TX_SIZE_MAX, &out->map,
                              &map_size);
    if (e) {
        cli_deployment_free(out);
        return cli_fail(what, e);
    }
    d->name = (char *)name;
    d->module = (ProtobufCBinaryData){bin_size, out->bin};
    /* Assembly is its own source: kept on chain unless --no-source. */
    bool keep = !cli_has_flag(argc, argv, "--no-source");
    if (out->src)
        d->source = (char *)out->src;
    else if (out->asm_text && keep)
        d->source = out->asm_text;
    else if (out->wcl_text && keep)
        d->source = out->wcl_text;
    if (language)
        d->language = (char *)language;
    else if (out->asm_text && d->source == out->asm_text)
        d->language = CLI_ASM_LANGUAGE;
    else if (out->wcl_text && d->source == out->wcl_text)
        d->language = LANG_LANGUAGE_TAG;
    /* The compiler that made the module: what `audit source` rebuilds
     * with. */
    snprintf(out->compiler, sizeof out->compiler, "%s", lang_compiler_id());
    if (compiler)
        d->compiler = (char *)compiler;
    else if (out->wcl_text)
        d->compiler = out->compiler;
    if (out->map)
        d->source_map = (ProtobufCBinaryData){map_size, out->map};
    else if (out->wcl_map && keep)
        d->source_map = (ProtobufCBinaryData){wcl_map_size,
                                              (uint8_t *)out->wcl_map};
    return 0;
}

void cli_deployment_free(struct cli_deployment *x)
{
    free(x->bin);
    free(x->src);
    free(x->map);
    free(x->asm_text);
    free(x->wcl_text);
    free(x->wcl_map);
    x->bin = x->src = x->map = NULL;
    x->asm_text = x->wcl_text = x->wcl_map = NULL;
}

static int cmd_deploy(int argc, char **argv)
{
    const char *what = "contract deploy";
    if (cli_args_check(argc, argv, 2, deploy_opts, 1, what))
        return 2;
    /* A positional FILE is --wcl, --asm or --module by its extension. */
    const char *file = NULL;
    char *argv2[CLI_DEPLOY_ARG_COUNT_MAX + 2];
    if (cli_positional(argc, argv, 2, deploy_opts, 0, &file) == 0) {
        if (argc > CLI_DEPLOY_ARG_COUNT_MAX) {
            fprintf(stderr, "witan %s: too many arguments\n", what);
            return 2;
        }
        size_t n = strlen(file);
        const char *flag = n > 4 && strcmp(file + n - 4, ".wvs") == 0
                               ? "--asm"
                           : n > 4 && strcmp(file + n - 4, ".wvm") == 0
                               ? "--module"
                               : "--wcl";
        int k = 0;
        for (int i = 0; i < argc; i++)
            if (argv[i] != file)
                argv2[k++] = argv[i];
        argv2[k++] = (char *)flag;
        argv2[k++] = (char *)file;
        argv2[k] = NULL;
        argc = k;
        argv = argv2;
    }
    static struct cli_deployment x;
    int rc = cli_deployment_parse(argc, argv, what, &x);
    if (rc)
        return rc;
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT;
    body.deploy_contract = &x.d;
    bool json = cli_has_flag(argc, argv, "--json");
    rc = submit_and_report(argc, argv, &body, json, json ? "contract_id"
                                                          : "contract");
    cli_deployment_free(&x);
    return rc;
}

/* --- call and retire ------------------------------------------------------------ */

static int contract_id_arg(int argc, char **argv, const struct cli_opt *opts,
                           const char *what, uint8_t id[WITAN_HASH_SIZE])
{
    const char *text;
    if (cli_positional(argc, argv, 2, opts, 0, &text)) {
        fprintf(stderr, "witan %s: a contract ID (64 hex digits, its deploy "
                        "transaction's hash) is required\n",
                what);
        return 2;
    }
    return cli_parse_hash(what, "ID", text, id, WITAN_HASH_SIZE);
}

static int cmd_call(int argc, char **argv)
{
    const char *what = "contract call";
    uint8_t id[WITAN_HASH_SIZE];
    const char *entry;
    if (cli_args_check(argc, argv, 2, call_opts, 2, what) ||
        contract_id_arg(argc, argv, call_opts, what, id))
        return 2;
    if (cli_positional(argc, argv, 2, call_opts, 1, &entry)) {
        fprintf(stderr, "witan %s: the ENTRY to call is required\n", what);
        return 2;
    }
    Witan__ContractArg args[WITAN_VM_PARAM_COUNT_MAX],
        *aptr[WITAN_VM_PARAM_COUNT_MAX];
    static uint8_t bytes[WITAN_VM_PARAM_COUNT_MAX][WITAN_VM_BYTES_SIZE_MAX];
    size_t count = 0;
    for (int i = 2; i + 1 < argc; i++) {
        bool is_int = strcmp(argv[i], "--int") == 0,
             is_bytes = strcmp(argv[i], "--bytes") == 0,
             is_text = strcmp(argv[i], "--text") == 0;
        if (!is_int && !is_bytes && !is_text)
            continue;
        const char *v = argv[++i];
        if (count == WITAN_VM_PARAM_COUNT_MAX) {
            fprintf(stderr, "witan %s: at most %d arguments\n", what,
                    WITAN_VM_PARAM_COUNT_MAX);
            return 2;
        }
        Witan__ContractArg *a = &args[count];
        witan__contract_arg__init(a);
        if (is_int) {
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || end == v || *end) {
                fprintf(stderr, "witan %s: --int takes a 64-bit integer, not "
                                "'%s'\n",
                        what, v);
                return 2;
            }
            a->value_case = WITAN__CONTRACT_ARG__VALUE_INT;
            a->int_ = x;
        } else {
            size_t len = strlen(v);
            size_t size = is_bytes ? len / 2 : len;
            if (size > sizeof bytes[0] || (is_bytes && len % 2) ||
                (is_bytes && witan_hex_decode(v, bytes[count], size))) {
                fprintf(stderr, "witan %s: %s takes %s of at most %zu "
                                "bytes\n",
                        what, argv[i - 1], is_bytes ? "hex" : "text",
                        sizeof bytes[0]);
                return 2;
            }
            a->value_case = WITAN__CONTRACT_ARG__VALUE_BYTES;
            a->bytes = (ProtobufCBinaryData){
                size, is_text ? (uint8_t *)v : bytes[count]};
        }
        aptr[count] = a;
        count++;
    }
    Witan__CallContract c = WITAN__CALL_CONTRACT__INIT;
    const char *gas = cli_flag(argc, argv, "--gas");
    if (gas && cli_parse_u64(what, "--gas", gas, WITAN_GAS_MAX, &c.gas_limit))
        return 2;
    c.contract = (ProtobufCBinaryData){WITAN_HASH_SIZE, id};
    c.entry = (char *)entry;
    c.n_args = count;
    c.args = aptr;
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT;
    body.call_contract = &c;
    return submit_and_report(argc, argv, &body,
                             cli_has_flag(argc, argv, "--json"), NULL);
}

static int cmd_retire(int argc, char **argv)
{
    const char *what = "contract retire";
    uint8_t id[WITAN_HASH_SIZE];
    if (cli_args_check(argc, argv, 2, retire_opts, 1, what) ||
        contract_id_arg(argc, argv, retire_opts, what, id))
        return 2;
    Witan__RetireContract r = WITAN__RETIRE_CONTRACT__INIT;
    r.contract = (ProtobufCBinaryData){WITAN_HASH_SIZE, id};
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT;
    body.retire_contract = &r;
    return submit_and_report(argc, argv, &body,
                             cli_has_flag(argc, argv, "--json"), NULL);
}

/* --- list and show -------------------------------------------------------------- */

static void print_hex(const ProtobufCBinaryData *b)
{
    for (size_t i = 0; i < b->len; i++)
        printf("%02x", b->data[i]);
}

static void print_trigger(const Witan__ContractTrigger *t)
{
    static const char *const kinds[] = {"?", "computed", "posted", "any"};
    printf("    model ");
    print_hex(&t->model_hash);
    printf(", %s predictions", kinds[t->kind <= 3 ? t->kind : 0]);
    char num[48];
    switch (t->filter) {
    case WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE:
    case WITAN__FILTER_OP__FILTER_OUTPUT_BELOW:
        cli_format_decimal(t->threshold_mantissa, t->threshold_scale, num,
                           sizeof num);
        printf(", when output %u is %s %s", t->output,
               t->filter == WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE ? "above"
                                                                 : "below",
               num);
        break;
    case WITAN__FILTER_OP__FILTER_LABEL_EQUALS:
        printf(", when the label is %llu", (unsigned long long)t->label);
        break;
    default:
        break;
    }
    printf("\n");
}

/* The source map as it was deployed: text as text, anything else (a
 * byte that is neither printable nor whitespace) as hex. */
static void print_source_map(const ProtobufCBinaryData *m)
{
    bool text = true;
    for (size_t i = 0; i < m->len && text; i++)
        text = (m->data[i] >= 0x20 && m->data[i] != 0x7f) ||
               m->data[i] == '\n' || m->data[i] == '\t' || m->data[i] == '\r';
    if (text) {
        printf("  source map:\n");
        fwrite(m->data, 1, m->len, stdout);
        if (m->data[m->len - 1] != '\n')
            printf("\n");
        return;
    }
    printf("  source map (hex):\n");
    for (size_t i = 0; i < m->len; i++)
        printf("%02x%s", m->data[i], i % 32 == 31 || i + 1 == m->len ? "\n" : "");
}

static void print_contract(const Witan__ContractRecord *c, bool full,
                           bool source)
{
    print_hex(&c->id);
    printf("  %s v%u  deployed at height %llu", c->name, c->version,
           (unsigned long long)c->height);
    if (c->retired)
        printf(", retired from height %llu",
               (unsigned long long)c->retired_height);
    printf("\n");
    if (!full)
        return;
    printf("  operator ");
    if (c->operator_.len == 0)
        printf("none: deployed by proposal (only proposals retire or "
               "replace it)");
    else
        print_hex(&c->operator_);
    printf("\n  gas limit %llu per run\n  language %s",
           (unsigned long long)c->gas_limit,
           c->language[0] ? c->language : "(none)");
    if (c->compiler[0])
        printf(", compiler \"%s\"", c->compiler);
    printf("\n  module %zu bytes, source %zu bytes%s\n", c->module.len,
           strlen(c->source), c->source[0] && !source ? " (--source shows it)"
                                                      : "");
    if (c->source_map.len) {
        uint8_t h[WCRYPTO_HASH_SIZE];
        char hex[2 * WCRYPTO_HASH_SIZE + 1];
        wcrypto_sha256(c->source_map.data, c->source_map.len, h);
        witan_hex_encode(h, sizeof h, hex);
        printf("  source map %zu bytes, sha256 %s%s\n", c->source_map.len, hex,
               source ? "" : " (--source shows it)");
    }
    if (c->start_height)
        printf("  triggers act from height %llu\n",
               (unsigned long long)c->start_height);
    printf("  triggers (%zu):\n", c->n_triggers);
    for (size_t i = 0; i < c->n_triggers; i++)
        print_trigger(c->triggers[i]);
    if (c->replaces.len) {
        printf("  replaces ");
        print_hex(&c->replaces);
        printf("\n");
    }
    if (c->replaced_by.len) {
        printf("  replaced by ");
        print_hex(&c->replaced_by);
        printf("\n");
    }
    if (c->retired_by.len) {
        printf("  retired by tx ");
        print_hex(&c->retired_by);
        printf("\n");
    }
    if (source && c->source[0])
        printf("  source:\n%s%s", c->source,
               c->source[strlen(c->source) - 1] == '\n' ? "" : "\n");
    if (source && c->source_map.len)
        print_source_map(&c->source_map);
}

static int contracts_query(int argc, char **argv, Witan__ContractsRequest *q,
                           bool full)
{
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    req.contracts = q;
    Witan__Response *resp;
    if (cli_call(address, &req, 30000, &resp))
        return 1;
    if (cli_response_error("contracts", resp) || !resp->contracts) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    const Witan__ContractsResponse *r = resp->contracts;
    int rc = 0;
    if (cli_has_flag(argc, argv, "--json")) {
        int err = render_json_print(stdout, &r->base);
        rc = err ? cli_fail("contracts", err) : 0;
    } else {
        for (size_t i = 0; i < r->n_contracts; i++)
            print_contract(r->contracts[i], full,
                           cli_has_flag(argc, argv, "--source"));
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
    const char *what = "contract list";
    if (cli_args_check(argc, argv, 2, list_opts, 0, what))
        return 2;
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    uint8_t model[WITAN_HASH_SIZE], cursor[WITAN_HASH_SIZE];
    const char *v;
    uint64_t n;
    if ((v = cli_flag(argc, argv, "--model"))) {
        if (cli_parse_hash(what, "--model", v, model, sizeof model))
            return 2;
        q.model_hash = (ProtobufCBinaryData){sizeof model, model};
    }
    if ((v = cli_flag(argc, argv, "--cursor"))) {
        if (cli_parse_hash(what, "--cursor", v, cursor, sizeof cursor))
            return 2;
        q.cursor = (ProtobufCBinaryData){sizeof cursor, cursor};
    }
    if ((v = cli_flag(argc, argv, "--limit"))) {
        if (cli_parse_u64(what, "--limit", v, WITAN_QUERY_PAGE_COUNT_MAX, &n))
            return 2;
        q.limit = (uint32_t)n;
    }
    return contracts_query(argc, argv, &q, false);
}

static int cmd_show(int argc, char **argv)
{
    const char *what = "contract show";
    uint8_t id[WITAN_HASH_SIZE];
    if (cli_args_check(argc, argv, 2, show_opts, 1, what) ||
        contract_id_arg(argc, argv, show_opts, what, id))
        return 2;
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = (ProtobufCBinaryData){WITAN_HASH_SIZE, id};
    return contracts_query(argc, argv, &q, true);
}

int cli_contract_chain(int argc, char **argv)
{
    const char *verb = argv[1];
    if (strcmp(verb, "deploy") == 0)
        return cmd_deploy(argc, argv);
    if (strcmp(verb, "call") == 0)
        return cmd_call(argc, argv);
    if (strcmp(verb, "retire") == 0)
        return cmd_retire(argc, argv);
    if (strcmp(verb, "list") == 0)
        return cmd_list(argc, argv);
    if (strcmp(verb, "show") == 0)
        return cmd_show(argc, argv);
    return -1;
}
