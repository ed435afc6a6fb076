/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan export: what the chain holds, for analysts — attestations,
 * predictions, decisions or scorecards as CSV or JSON Lines
 * (render/export.c writes the rows, the same bytes as the gateway's
 * GET /v1/export/{kind}), and `witan export chain`, the archive that
 * `witan audit export` writes (one implementation, in cli/audit.c).
 *
 * Rows stream: each page of the node's answer is written out before the
 * next is asked for, so memory stays that of one page whatever the size.
 * With --out the file is written beside and renamed once whole, so a
 * failed export never leaves a file that looks complete.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "render/render.h"

static const char usage[] =
    "usage: witan export KIND [--format csv|jsonl] [--out FILE]\n"
    "                    [--feed F] [--subject S] [--from T] [--to T]\n"
    "                    [--model HASH] [--contract ID] [--page-size N]\n"
    "                    [--json]\n"
    "       witan export chain --genesis FILE (--node URL | --home DIR |\n"
    "                          --from DATA_DIR) --out FILE [--json]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "KIND is attestations, predictions, decisions or scorecards; the\n"
    "format is csv (RFC 4180, a header row, CRLF line ends; the default)\n"
    "or jsonl (one JSON object per line, every value a string). Output\n"
    "goes to stdout, or to FILE (written whole, or not at all). Progress\n"
    "(rows, rows/s) and the count of rows written go to stderr. --json:\n"
    "with --out, the tally as one JSON object on stdout ({\"out\", \"kind\",\n"
    "\"format\", \"rows\"}); without, the rows as JSON Lines (--format\n"
    "jsonl).\n"
    "\n"
    "attestations  --feed and --subject required; --from/--to bound the\n"
    "              observation time. One row per value: feed, subject,\n"
    "              observed_at, name, value (the decimal as signed:\n"
    "              414.50), unit, provider, revision, corrects,\n"
    "              superseded_by, document_hash, tx_hash, height. The\n"
    "              latest revision of each observation.\n"
    "predictions   of --model, or of every model; --subject (the trigger's),\n"
    "              --from/--to bound the block time. Columns: model_hash,\n"
    "              model_name, model_tx, subject, height, time, status,\n"
    "              problem, outputs (name=value;... exactly), label,\n"
    "              inputs, input_txs (each input's attestation), tx_hash,\n"
    "              computed, operator.\n"
    "decisions     --contract, --subject (text, or 0x and hex), --model\n"
    "              (decisions on its predictions), --from/--to bound the\n"
    "              block time. Columns: id, contract, contract_name,\n"
    "              contract_version, kind, subject, values, data, height,\n"
    "              time, sequence, tx_hash (the trigger), run, prediction,\n"
    "              model_hash.\n"
    "scorecards    of --model, or of every model with a target: the sums\n"
    "              of errors exactly (spec/api.md, \"Export\").\n"
    "chain         the whole chain as an archive for `witan audit verify\n"
    "              --archive` (the same as `witan audit export`).\n"
    "\n"
    CLI_TIME_HELP
    "Times are written as 2020-01-01T00:00:00.000Z. --page-size (1 to 1000, default 1000) is how\n"
    "many records each request to the node asks for.\n"
    "\n" CLI_NODE_HELP;

static const struct cli_opt opts[] = {
    CLI_OPTS_NODE,
    {"--format", true, false},
    {"--out", true, false},
    {"--feed", true, false},
    {"--subject", true, false},
    {"--from", true, false},
    {"--to", true, false},
    {"--model", true, false},
    {"--contract", true, false},
    {"--page-size", true, false},
    {"--json", false, false},
    {NULL, false, false}};

static int node_call(void *address, const Witan__Request *req,
                     Witan__Response **out)
{
    return cli_call(address, req, 30000, out);
}

/* Reads the flags into x; prints what is wrong and returns 2. */
static int read_flags(int argc, char **argv, struct render_export *x)
{
    const char *what = "export";
    const char *v;
    if ((v = cli_flag(argc, argv, "--format")) &&
        render_export_format_parse(v, &x->format)) {
        fprintf(stderr, "witan export: --format is csv or jsonl, not '%s'\n",
                v);
        return 2;
    }
    x->feed = cli_flag(argc, argv, "--feed");
    x->subject = cli_flag(argc, argv, "--subject");
    if ((v = cli_flag(argc, argv, "--from"))) {
        int terr = witan_time_parse(v, &x->from_ms);
        if (terr) {
            fprintf(stderr, "witan export: --from '%s' is invalid: %s\n", v,
                    witan_time_error(terr));
            return 2;
        }
        x->has_from = true;
    }
    if ((v = cli_flag(argc, argv, "--to"))) {
        int terr = witan_time_parse(v, &x->to_ms);
        if (terr) {
            fprintf(stderr, "witan export: --to '%s' is invalid: %s\n", v,
                    witan_time_error(terr));
            return 2;
        }
        x->has_to = true;
    }
    if ((v = cli_flag(argc, argv, "--model"))) {
        if (cli_parse_hash(what, "--model", v, x->model, sizeof x->model))
            return 2;
        x->has_model = true;
    }
    if ((v = cli_flag(argc, argv, "--contract"))) {
        if (cli_parse_hash(what, "--contract", v, x->contract,
                           sizeof x->contract))
            return 2;
        x->has_contract = true;
    }
    uint64_t n;
    if ((v = cli_flag(argc, argv, "--page-size"))) {
        if (cli_parse_u64(what, "--page-size", v, WITAN_QUERY_PAGE_COUNT_MAX,
                          &n))
            return 2;
        if (n == 0) {
            fprintf(stderr, "witan export: --page-size is 1 to %d\n",
                    WITAN_QUERY_PAGE_COUNT_MAX);
            return 2;
        }
        x->page_size = (uint32_t)n;
    } else {
        x->page_size = RENDER_EXPORT_PAGE_DEFAULT;
    }
    if (render_export_check(x, "--")) {
        fprintf(stderr, "witan export: %s\n", x->why);
        return 2;
    }
    return 0;
}

int cli_export(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "chain") == 0)
        return cli_audit_export(argc, argv);
    struct render_export *x = calloc(1, sizeof *x);
    if (!x)
        return cli_fail("export", WITAN_ENOMEM);
    if (render_export_kind_parse(argv[1], &x->kind)) {
        fprintf(stderr, "witan export: unknown kind '%s': attestations, "
                        "predictions, decisions, scorecards or chain\n",
                argv[1]);
        free(x);
        return 2;
    }
    if (cli_args_check(argc, argv, 2, opts, 0, "export") ||
        read_flags(argc, argv, x)) {
        free(x);
        return 2;
    }
    const char *outp = cli_flag(argc, argv, "--out");
    bool json = cli_has_flag(argc, argv, "--json");
    if (json && !outp) {
        const char *format = cli_flag(argc, argv, "--format");
        if (format && strcmp(format, "jsonl") != 0) {
            fprintf(stderr, "witan export: --json without --out writes JSON "
                            "Lines; --format %s contradicts it\n",
                    format);
            free(x);
            return 2;
        }
        x->format = RENDER_EXPORT_JSONL;
    }
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);

    char tmp[1100] = "";
    FILE *f = stdout;
    if (outp) {
        snprintf(tmp, sizeof tmp, "%s.partial", outp);
        if (!(f = fopen(tmp, "wb"))) {
            fprintf(stderr, "witan export: cannot write %s\n", tmp);
            free(x);
            return 1;
        }
    }
    struct render_json page = {0};
    int err = WITAN_OK;
    char what[64];
    snprintf(what, sizeof what, "export %s", render_export_kind_name(x->kind));
    struct cli_progress shown;
    cli_progress_start(&shown, what, "rows", true);
    while (!err && !x->done) {
        page.len = 0; /* the buffer is kept: one page's worth, reused */
        err = render_export_page(x, node_call, address, &page);
        cli_progress_show(&shown, x->row_count, 0, false);
        if (!err && page.len && fwrite(page.p, 1, page.len, f) != page.len) {
            snprintf(x->why, sizeof x->why, "cannot write %s",
                     outp ? tmp : "stdout");
            err = WITAN_EIO;
        }
    }
    free(page.p);
    if (fflush(f) != 0 && !err) {
        snprintf(x->why, sizeof x->why, "cannot write %s",
                 outp ? tmp : "stdout");
        err = WITAN_EIO;
    }
    if (outp) {
        if (fclose(f) != 0 && !err) {
            snprintf(x->why, sizeof x->why, "cannot write %s", tmp);
            err = WITAN_EIO;
        }
        if (!err && rename(tmp, outp) != 0) {
            snprintf(x->why, sizeof x->why, "cannot rename %s to %s", tmp,
                     outp);
            err = WITAN_EIO;
        }
        if (err)
            unlink(tmp);
    }
    if (!err)
        cli_progress_show(&shown, x->row_count, 0, true);
    cli_progress_break(&shown);
    int rc = 0;
    if (err) {
        fprintf(stderr, "witan export %s: %s (%s)\n",
                render_export_kind_name(x->kind),
                x->why[0] ? x->why : witan_err_message(err),
                witan_err_name(err));
        rc = 1;
    } else if (outp && json) {
        printf("{\"out\":");
        witan_json_write_string(stdout, outp);
        printf(",\"kind\":\"%s\",\"format\":\"%s\",\"rows\":\"%llu\"}\n",
               render_export_kind_name(x->kind),
               x->format == RENDER_EXPORT_JSONL ? "jsonl" : "csv",
               (unsigned long long)x->row_count);
    } else if (outp) {
        fprintf(stderr, "wrote %s: %llu %s rows\n", outp,
                (unsigned long long)x->row_count,
                render_export_kind_name(x->kind));
    } else {
        fprintf(stderr, "witan export %s: %llu rows\n",
                render_export_kind_name(x->kind),
                (unsigned long long)x->row_count);
    }
    free(x);
    return rc;
}
