/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan model import|show|score: the model tools. import converts an ONNX
 * file into Witan's fixed-point format (inference/, spec/models.md) and
 * reports the quantisation error on sample inputs; show prints a model and
 * its identity hash; score runs one input through the integer scorer.
 */
#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "render/render.h"
#include "crypto/crypto.h"
#include "inference/inference.h"

static const char usage[] =
    "usage: witan model import FILE.onnx --out MODEL.bin [--samples FILE.csv]\n"
    "                          [--max-error X] [--force] [--name NAME]\n"
    "                          [--margin SHARE]\n"
    "       witan model show MODEL.bin [--json]\n"
    "       witan model score MODEL.bin --input v1,v2,...\n"
    "       witan model score MODEL.bin --file INPUTS.csv [--out RESULTS.csv]\n"
    "\n"
    "import  converts an ONNX graph (spec/models.md lists the operators) to a\n"
    "        fixed-point model. With --samples (CSV, one input per row, an\n"
    "        optional header of feature names) it calibrates the fixed-point\n"
    "        formats and reports the largest absolute and relative error of\n"
    "        the integer model against the float graph; above the bound the\n"
    "        model is refused unless --force is given. The bound is\n"
    "        --max-error X (absolute; inf for none), by default 1% of the\n"
    "        widest range an output takes on the samples. Each input's\n"
    "        calibrated range is its range on the samples widened on each side\n"
    "        by --margin (a share of it; 0.1 by default); outside it a score\n"
    "        on chain is refused unless the model allows extrapolation.\n"
    "show    prints kind, shapes, parameters, gas bound and the model hash\n"
    "        (SHA-256 with domain tag \"witan/model/v1\").\n"
    "score   scores one input (decimal values, converted exactly) and prints\n"
    "        each output, the label of a classifier and the gas charged; with\n"
    "        --file, every row of a CSV file in one process (a header row\n"
    "        names the columns, matched to the inputs by name), writing one\n"
    "        CSV line per row: its line, each output exactly, the label. A\n"
    "        row that cannot be read is reported and skipped (exit status 1).\n"
    "\n"
    "On chain (through a node):\n"
    "       witan model register MODEL.bin --key K --name NAME [--version N]\n"
    "                  --input feed=F,subject=S,value=V[,window=K][,max_age_ms=M]\n"
    "                  --input feed=F,subject=S,year   (one per model input)\n"
    "                  [--trigger FEED:SUBJECT ...] [--allow-extrapolation]\n"
    "                  [--target feed=F,value=V[,subject=S][,horizon_ms=H]\n"
    "                   [,output=K][,window=N]] [--wait]\n"
    "       witan model list | witan model show HASH\n"
    "       witan model scorecard NAME|HASH\n"
    "       witan model ask HASH --key K [--input v1,v2,...] [--wait]\n"
    "       witan model post HASH --key K --output name=v,... [--input ...]\n"
    "                  [--input-tx TXHASH ...] [--wait]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR] [--json]\n"
    "          (the model or models, the predictions, the scorecard, or the\n"
    "          transaction as GET /v1/tx answers it, as JSON; options may\n"
    "          come before HASH or MODEL.bin)\n"
    "register  (role model_operator) binds each model input to attested data\n"
    "          and names the feeds whose attestations trigger a score; every\n"
    "          validator then scores it and records the prediction.\n"
    "          --target names what the model predicts (a feed's value for\n"
    "          the trigger's subject or S, horizon_ms after the observation\n"
    "          that triggered it): each prediction is then scored against that\n"
    "          observation when it arrives (spec/contracts.md section 7).\n"
    "scorecard the model's errors against what happened: count, RMSE and\n"
    "          MAE, all time and over its recent window.\n"
    "ask       asks for a score now, on the bindings or on explicit inputs.\n"
    "post      records the output of a model too large to run on chain, as\n"
    "          attested by its operator (role model_operator).\n"
    "Predictions: witan query predictions --model HASH.\n" CLI_SIGN_HELP
    CLI_NODE_HELP;

#define MODEL_FILE_MAX (64u * 1024 * 1024)

static int read_file(const char *path, uint8_t **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "witan: %s: %s\n", path, strerror(errno));
        return WITAN_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        if (cap >= MODEL_FILE_MAX) {
            free(buf);
            fclose(f);
            fprintf(stderr, "witan: %s: larger than %u bytes\n", path, MODEL_FILE_MAX);
            return WITAN_ELIMIT;
        }
        cap *= 2;
        uint8_t *b2 = realloc(buf, cap + 1);
        if (!b2)
            free(buf);
        buf = b2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return WITAN_ENOMEM;
    if (bad) {
        free(buf);
        return WITAN_EIO;
    }
    buf[n] = 0;
    *out = buf;
    *size = n;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "witan: %s: %s\n", path, strerror(errno));
        return WITAN_EIO;
    }
    size_t w = fwrite(data, 1, size, f);
    int bad = fclose(f) != 0 || w != size;
    return bad ? WITAN_EIO : 0;
}

static int load_model(const char *path, uint8_t **bytes, size_t *size,
                      infer_model **m)
{
    int err = read_file(path, bytes, size);
    if (err)
        return err == WITAN_EIO ? 1 : cli_fail(path, err);
    char why[256] = "";
    err = infer_model_load(*bytes, *size, m, why, sizeof why);
    if (err) {
        fprintf(stderr, "witan: %s: %s: %s\n", path, witan_err_message(err), why);
        free(*bytes);
        return 1;
    }
    return 0;
}

static void print_fixed(int64_t v, uint32_t frac)
{
    printf("%.*f", frac > 6 ? 6 : (int)frac + 1, ldexp((double)v, -(int)frac));
}

/* An input in the model's encoding (fixed point Q.frac), as the number it
 * stands for. */
static void print_input(const struct infer_info *in, uint32_t frac, int64_t v)
{
    if (in->input_encoding == INFER_IN_FLOAT32_ORDER) {
        printf("%.9g", (double)infer_float32_of_key(v));
    } else {
        print_fixed(v, frac);
    }
}

static const struct cli_opt import_opts[] = {
    {"--out", true, false},
    {"--samples", true, false},
    {"--max-error", true, false},
    {"--force", false, false},
    {"--name", true, false},
    {"--margin", true, false},
    {"--json", false, false},
    {NULL, false, false},
};
static const struct cli_opt score_opts[] = {
    {"--input", true, false},
    {"--file", true, false},
    {"--out", true, false},
    {"--json", false, false},
    {NULL, false, false},
};

/* A measured error as a JSON number, or null when it is not finite. */
static void json_measure(struct render_json *b, const char *name, double v)
{
    if (isfinite(v))
        render_json_printf(b, ",\"%s\":%.9g", name, v);
    else
        render_json_printf(b, ",\"%s\":null", name);
}

/* What import wrote and measured, as one JSON object. Exit status. */
static int import_json(const char *out, size_t size, const char *hash_hex,
                       const struct infer_import_report *rep)
{
    struct render_json b = {0};
    render_json_puts(&b, "{\"out\":");
    render_json_str(&b, out);
    render_json_printf(&b, ",\"bytes\":\"%zu\",\"onnx_nodes\":\"%zu\","
                           "\"hash\":\"%s\",\"samples\":\"%zu\"",
                       size, rep->node_count, hash_hex, rep->sample_count);
    if (rep->sample_count) {
        json_measure(&b, "max_abs_error", rep->max_abs_error);
        json_measure(&b, "max_rel_error", rep->max_rel_error);
        json_measure(&b, "bound", rep->bound);
        render_json_printf(&b, ",\"bound_is_default\":%s,\"over_bound\":%s",
                           rep->bound_is_default ? "true" : "false",
                           rep->over_bound ? "true" : "false");
    }
    render_json_puts(&b, ",\"coarsest\":");
    render_json_str(&b, rep->coarsest);
    render_json_puts(&b, "}");
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

static int cmd_import(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, import_opts, 1, "model import"))
        return 2;
    const char *in = NULL, *out = cli_flag(argc, argv, "--out"),
               *samples = cli_flag(argc, argv, "--samples"),
               *name = cli_flag(argc, argv, "--name"),
               *max_text = cli_flag(argc, argv, "--max-error"),
               *margin_text = cli_flag(argc, argv, "--margin");
    cli_positional(argc, argv, 2, import_opts, 0, &in);
    double max_err = -1, margin = 0;
    bool force = cli_has_flag(argc, argv, "--force");
    bool json = cli_has_flag(argc, argv, "--json");
    char *end;
    if (max_text) {
        errno = 0;
        max_err = strtod(max_text, &end);
        if (!max_text[0] || *end || errno || !(max_err >= 0)) {
            fprintf(stderr, "witan model import: --max-error '%s' is "
                            "invalid: a number >= 0 (or inf)\n",
                    max_text);
            return 2;
        }
    }
    if (margin_text) {
        errno = 0;
        margin = strtod(margin_text, &end);
        if (!margin_text[0] || *end || errno || !(margin > 0 && margin <= 10)) {
            fprintf(stderr, "witan model import: --margin '%s' is invalid: "
                            "a share over 0, at most 10 (0.1 is 10%%)\n",
                    margin_text);
            return 2;
        }
    }
    if (!in || !out) {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *onnx = NULL, *csv = NULL, *model = NULL;
    size_t onnx_size = 0, csv_size = 0, model_size = 0;
    double *values = NULL;
    char **names = NULL;
    size_t rows = 0, cols = 0;
    char why[512] = "";
    int rc = 1;
    if (read_file(in, &onnx, &onnx_size))
        goto done;
    if (samples) {
        if (read_file(samples, &csv, &csv_size))
            goto done;
        int err = infer_csv_parse((const char *)csv, csv_size, &values, &rows,
                                  &cols, &names, why, sizeof why);
        if (err) {
            fprintf(stderr, "witan: %s: %s: %s\n", samples, witan_err_message(err), why);
            goto done;
        }
    }
    struct infer_import_options opt = {
        .name = name, .samples = values, .sample_count = rows,
        .feature_count = cols, .feature_names = (const char *const *)names,
        .max_abs_error = max_err, .force = force, .margin = margin};
    struct infer_import_report rep;
    int err = infer_onnx_import(onnx, onnx_size, &opt, &model, &model_size,
                                &rep, why, sizeof why);
    if (json)
        ; /* one object at the end */
    else if (rep.sample_count)
        printf("quantisation: %zu samples, largest absolute error %.6g "
               "(sample %zu, output %zu), largest relative error %.6g\n",
               rep.sample_count, rep.max_abs_error, rep.worst_sample,
               rep.worst_output, rep.max_rel_error);
    else if (!err)
        printf("quantisation: no samples, error not measured\n");
    if (err) {
        fprintf(stderr, "witan: %s: %s: %s\n", in, witan_err_message(err), why);
        goto done;
    }
    if (rep.coarsest[0] && !json)
        printf("coarsest part: %s\n", rep.coarsest);
    if (rep.sample_count && rep.bound_is_default && !json)
        printf("bound: %.6g, 1%% of the outputs' range on the samples (%.6g); "
               "--max-error sets another\n",
               rep.bound, rep.output_range);
    if (rep.over_bound && !json)
        printf("warning: error over the bound %.6g, kept because of --force\n",
               rep.bound);
    if (write_file(out, model, model_size)) {
        fprintf(stderr, "witan: %s: cannot write\n", out);
        goto done;
    }
    uint8_t hash[WCRYPTO_HASH_SIZE];
    char hex[2 * WCRYPTO_HASH_SIZE + 1];
    wcrypto_hash_tagged(INFER_TAG_MODEL, model, model_size, hash);
    witan_hex_encode(hash, sizeof hash, hex);
    if (json) {
        rc = import_json(out, model_size, hex, &rep);
        goto done;
    }
    printf("wrote %s: %zu bytes, %zu ONNX nodes, hash %s\n", out, model_size,
           rep.node_count, hex);
    infer_model *im;
    if (infer_model_load(model, model_size, &im, why, sizeof why) == 0) {
        struct infer_info info;
        infer_model_info(im, &info);
        printf("input formats:");
        for (size_t i = 0; i < info.input_count; i++) {
            if (info.input_encoding == INFER_IN_FLOAT32_ORDER)
                printf("%s %s float32", i ? "," : "", infer_input_name(im, i));
            else
                printf("%s %s Q.%u", i ? "," : "", infer_input_name(im, i),
                       infer_input_frac_bits(im, i));
        }
        printf("\n");
        infer_model_free(im);
    }
    rc = 0;
done:
    free(onnx);
    free(csv);
    free(model);
    free(values);
    for (size_t i = 0; names && i < cols; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* A model file's description as one JSON object. Exit status. */
static int show_json(const infer_model *m, const struct infer_info *in,
                     const char *hash_hex, size_t size, const char *transform)
{
    struct render_json b = {0};
    render_json_puts(&b, "{\"name\":");
    render_json_str(&b, in->name);
    render_json_puts(&b, ",\"kind\":");
    render_json_str(&b, infer_kind_name(in->kind));
    render_json_printf(&b, ",\"hash\":\"%s\",\"size\":\"%zu\","
                           "\"input_encoding\":\"%s\",\"inputs\":[",
                       hash_hex, size,
                       in->input_encoding == INFER_IN_FLOAT32_ORDER
                           ? "float32"
                           : "fixed");
    for (size_t i = 0; i < in->input_count; i++) {
        render_json_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        render_json_str(&b, infer_input_name(m, i));
        render_json_printf(&b, ",\"frac_bits\":%u}",
                           infer_input_frac_bits(m, i));
    }
    render_json_printf(&b, "],\"output_frac_bits\":%u,\"transform\":\"%s\","
                           "\"outputs\":[",
                       in->output_frac_bits, transform);
    for (size_t k = 0; k < in->output_count; k++) {
        render_json_puts(&b, k ? "," : "");
        render_json_str(&b, infer_output_name(m, k));
    }
    render_json_printf(&b, "],\"parameters\":\"%zu\",\"gas_max\":\"%llu\","
                           "\"calibrated\":%s}",
                       in->param_count, (unsigned long long)in->gas_max,
                       in->calibrated ? "true" : "false");
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

static int cmd_show(int argc, char **argv)
{
    static const struct cli_opt show_opts[] = {{"--json", false, false},
                                               {NULL, false, false}};
    if (cli_args_check(argc, argv, 2, show_opts, 1, "model show"))
        return 2;
    bool json = cli_has_flag(argc, argv, "--json");
    if (argc != 3 + json || argv[2][0] == '-') {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *bytes;
    size_t size;
    infer_model *m;
    int rc = load_model(argv[2], &bytes, &size, &m);
    if (rc)
        return rc;
    struct infer_info in;
    infer_model_info(m, &in);
    uint8_t hash[WCRYPTO_HASH_SIZE];
    char hex[2 * WCRYPTO_HASH_SIZE + 1];
    wcrypto_hash_tagged(INFER_TAG_MODEL, bytes, size, hash);
    witan_hex_encode(hash, sizeof hash, hex);
    static const char *const tn[] = {"none", "sigmoid", "softmax"};
    if (json) {
        rc = show_json(m, &in, hex, size, tn[in.transform]);
        infer_model_free(m);
        free(bytes);
        return rc;
    }
    printf("model:       %s\nkind:        %s\nhash:        %s\nsize:        %zu bytes\n",
           in.name, infer_kind_name(in.kind), hex, size);
    char fmt[32];
    if (in.input_encoding == INFER_IN_FLOAT32_ORDER)
        snprintf(fmt, sizeof fmt, "float32, as ONNX compares");
    else if (in.per_feature_frac)
        snprintf(fmt, sizeof fmt, "each its own format");
    else
        snprintf(fmt, sizeof fmt, "Q.%u", in.input_frac_bits);
    printf("inputs:      %zu (%s)\noutputs:     %zu (Q.%u, transform %s)\n",
           in.input_count, fmt, in.output_count, in.output_frac_bits,
           tn[in.transform]);
    printf("parameters:  %zu\ngas bound:   %llu\n", in.param_count,
           (unsigned long long)in.gas_max);
    for (size_t i = 0; i < in.input_count; i++) {
        int64_t off;
        int32_t sc;
        uint32_t sf;
        infer_input_norm(m, i, &off, &sc, &sf);
        uint32_t frac = infer_input_frac_bits(m, i);
        printf("  input %-3zu %-20s", i, infer_input_name(m, i));
        if (in.input_encoding != INFER_IN_FLOAT32_ORDER)
            printf(" Q.%-2u", frac);
        printf(" offset ");
        print_fixed(off, frac);
        printf(" scale %d/2^%u", sc, sf);
        if (in.calibrated) {
            int64_t lo, hi;
            infer_input_range(m, i, &lo, &hi);
            printf(" calibrated ");
            print_input(&in, frac, lo);
            printf(" .. ");
            print_input(&in, frac, hi);
        }
        printf("\n");
    }
    for (size_t l = 0; l < in.layer_count; l++) {
        size_t ni, no;
        enum infer_activation act;
        uint32_t wf, of;
        infer_layer_info(m, l, &ni, &no, &act, &wf, &of);
        printf("  layer %-3zu %zu -> %zu %-8s weights Q.%u, out Q.%u\n", l, ni,
               no, infer_activation_name(act), wf, of);
    }
    if (in.tree_count)
        printf("  trees     %zu, %zu nodes, depth <= %zu\n", in.tree_count,
               in.node_count, in.tree_depth_max);
    for (size_t k = 0; k < in.output_count; k++) {
        printf("  output %-3zu %s", k, infer_output_name(m, k));
        if (in.class_count)
            printf(" (class %lld)", (long long)infer_class_label(m, k));
        printf("\n");
    }
    infer_model_free(m);
    free(bytes);
    return 0;
}

/* v * 2^-frac exactly, in decimal: the exporter's rule (render/export.c),
 * so `score --file` and `witan export` write an output alike. */
static void format_exact(int64_t v, uint32_t frac, char *out, size_t size)
{
    render_export_fixed(v, frac, out, size);
}

/* What is wrong with a decimal that could not be an input. */
static const char *decimal_problem(int err, bool parsed)
{
    if (!parsed)
        return err == WITAN_ERANGE
                   ? "has more than 18 significant digits or decimal places"
                   : "is not a decimal number";
    return err == WITAN_ERANGE ? "is outside the values the model takes"
                               : witan_err_message(err);
}

/* Rows scored per call of the batched path. */
#define SCORE_FILE_BATCH 1024
/* Refused rows reported one by one; the rest are counted. */
#define SCORE_FILE_REPORT_MAX 20
#define SCORE_FILE_SIZE_MAX ((size_t)1 << 30)

struct score_file {
    const infer_model *m;
    struct infer_info in;
    FILE *out;
    int64_t *x;      /* SCORE_FILE_BATCH rows of inputs */
    size_t *lines;   /* their lines in the file */
    size_t rows;     /* pending in x */
    size_t scored;
    uint64_t gas;
};

/* Scores the pending rows and writes one result line each. */
static int score_flush(struct score_file *f)
{
    if (!f->rows)
        return 0;
    size_t no = f->in.output_count;
    int32_t *outs = malloc(f->rows * no * sizeof *outs);
    size_t *labels = malloc(f->rows * sizeof *labels);
    uint64_t gas = 0;
    int err = outs && labels ? infer_score_batch(f->m, f->x, f->rows, outs,
                                                 labels, &gas)
                             : WITAN_ENOMEM;
    for (size_t r = 0; !err && r < f->rows; r++) {
        fprintf(f->out, "%zu", f->lines[r]);
        for (size_t k = 0; k < no; k++) {
            char num[96];
            format_exact(outs[r * no + k], f->in.output_frac_bits, num,
                         sizeof num);
            fprintf(f->out, ",%s", num);
        }
        if (f->in.class_count)
            fprintf(f->out, ",%lld",
                    (long long)infer_class_label(f->m, labels[r]));
        fputc('\n', f->out);
    }
    free(outs);
    free(labels);
    if (!err) {
        f->scored += f->rows;
        f->gas += gas;
    }
    f->rows = 0;
    return err;
}

/* witan model score MODEL --file CSV [--out CSV]: every row in one process.
 * A header (a first record that is not all numbers) names the columns, which
 * are matched to the model's inputs by name; without one, columns are the
 * inputs in order. */
static int score_file(const infer_model *m, const char *file,
                      const char *out_path, bool json)
{
    char *text;
    size_t size;
    int err = witan_read_file(file, SCORE_FILE_SIZE_MAX, &text, &size);
    if (err) {
        fprintf(stderr, "witan: %s: %s\n", file, witan_err_message(err));
        return 2;
    }
    struct score_file f = {.m = m};
    infer_model_info(m, &f.in);
    size_t ni = f.in.input_count;
    f.out = out_path ? fopen(out_path, "w") : stdout;
    f.x = malloc(SCORE_FILE_BATCH * ni * sizeof *f.x);
    f.lines = malloc(SCORE_FILE_BATCH * sizeof *f.lines);
    struct witan_csv *csv = malloc(sizeof *csv);
    int rc = 0;
    if (!f.out) {
        fprintf(stderr, "witan: %s: cannot write\n", out_path);
        rc = 2;
    } else if (!f.x || !f.lines || !csv) {
        fprintf(stderr, "witan: out of memory\n");
        rc = 2;
    }
    size_t column[WITAN_MODEL_INPUT_COUNT_MAX]; /* input i reads column[i] */
    for (size_t i = 0; i < ni; i++)
        column[i] = i;
    size_t width = ni, refused = 0;
    bool first = true;
    char why[256];
    if (!rc) {
        witan_csv_init(csv, text, size);
        fprintf(f.out, "line");
        for (size_t k = 0; k < f.in.output_count; k++)
            fprintf(f.out, ",%s", infer_output_name(m, k));
        fprintf(f.out, f.in.class_count ? ",label\n" : "\n");
    }
    int got;
    while (!rc && (got = witan_csv_next(csv, why, sizeof why)) != 0) {
        const char *bad = NULL;
        char badbuf[320];
        int64_t *x = f.x + f.rows * ni;
        if (got < 0) {
            bad = why;
        } else if (first && !isdigit((unsigned char)csv->fields[0][0]) &&
                   csv->fields[0][0] != '-' && csv->fields[0][0] != '+' &&
                   csv->fields[0][0] != '.') {
            /* the header: every input by name, every column used or said */
            first = false;
            width = csv->count;
            for (size_t i = 0; i < ni && !rc; i++) {
                size_t c = 0;
                while (c < csv->count &&
                       strcmp(csv->fields[c], infer_input_name(m, i)) != 0)
                    c++;
                if (c == csv->count) {
                    fprintf(stderr, "witan: %s: no column names input '%s'\n",
                            file, infer_input_name(m, i));
                    rc = 2;
                }
                column[i] = c;
            }
            for (size_t c = 0; c < csv->count && !rc; c++) {
                bool used = false;
                for (size_t i = 0; i < ni; i++)
                    used = used || column[i] == c;
                if (!used)
                    fprintf(stderr, "witan: %s: column '%s' is not an input "
                                    "of the model; ignored\n",
                            file, csv->fields[c]);
            }
            continue;
        } else if (csv->count != width) {
            snprintf(badbuf, sizeof badbuf, "line %zu: %zu values, expected %zu",
                     csv->line, csv->count, width);
            bad = badbuf;
        } else {
            for (size_t i = 0; i < ni && !bad; i++) {
                const char *cell = csv->fields[column[i]];
                int64_t mant;
                uint32_t scale;
                int e = infer_decimal_parse(cell, csv->sizes[column[i]], &mant,
                                            &scale);
                bool parsed = e == 0;
                if (parsed)
                    e = infer_input_from_decimal(m, i, mant, scale, &x[i]);
                if (e) {
                    snprintf(badbuf, sizeof badbuf, "line %zu, input '%s': '%s' %s",
                             csv->line, infer_input_name(m, i), cell,
                             decimal_problem(e, parsed));
                    bad = badbuf;
                }
            }
        }
        first = false;
        if (bad) {
            if (refused++ < SCORE_FILE_REPORT_MAX)
                fprintf(stderr, "witan: %s: %s\n", file, bad);
            continue;
        }
        f.lines[f.rows++] = csv->line;
        if (f.rows == SCORE_FILE_BATCH && (err = score_flush(&f)) != 0)
            rc = cli_fail("score", err);
    }
    if (!rc && (err = score_flush(&f)) != 0)
        rc = cli_fail("score", err);
    if (refused > SCORE_FILE_REPORT_MAX)
        fprintf(stderr, "witan: %s: %zu more rows refused\n", file,
                refused - SCORE_FILE_REPORT_MAX);
    if (!rc && json) { /* the rows went to --out: the tally on stdout */
        printf("{\"out\":");
        witan_json_write_string(stdout, out_path);
        printf(",\"scored\":\"%zu\",\"refused\":\"%zu\",\"gas\":\"%llu\"}\n",
               f.scored, refused, (unsigned long long)f.gas);
    } else if (!rc) {
        fprintf(stderr, "scored %zu rows, %zu refused, gas %llu\n", f.scored,
                refused, (unsigned long long)f.gas);
    }
    if (f.out && f.out != stdout && fclose(f.out) != 0 && !rc) {
        fprintf(stderr, "witan: %s: cannot write\n", out_path);
        rc = 2;
    }
    free(csv);
    free(f.x);
    free(f.lines);
    free(text);
    return rc ? rc : refused ? 1 : 0;
}

/* One score as JSON: each output exactly (its decimal, its integer and
 * format), a classifier's label, the gas. Exit status. */
static int score_json(const infer_model *m, const struct infer_info *in,
                      const int32_t *out, const struct infer_result *r)
{
    struct render_json b = {0};
    render_json_puts(&b, "{\"outputs\":[");
    for (size_t k = 0; k < in->output_count; k++) {
        char v[RENDER_EXPORT_FIXED_SIZE];
        render_export_fixed(out[k], in->output_frac_bits, v, sizeof v);
        render_json_puts(&b, k ? ",{\"name\":" : "{\"name\":");
        render_json_str(&b, infer_output_name(m, k));
        render_json_printf(&b, ",\"value\":\"%s\",\"raw\":%d,"
                               "\"frac_bits\":%u}",
                           v, out[k], in->output_frac_bits);
    }
    render_json_puts(&b, "]");
    if (in->class_count)
        render_json_printf(&b, ",\"label\":\"%lld\"",
                           (long long)infer_class_label(m, r->label));
    render_json_printf(&b, ",\"gas\":\"%llu\"}",
                       (unsigned long long)r->gas);
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

static int cmd_score(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, score_opts, 1, "model score"))
        return 2;
    const char *path = NULL, *input = cli_flag(argc, argv, "--input"),
               *file = cli_flag(argc, argv, "--file"),
               *out = cli_flag(argc, argv, "--out");
    cli_positional(argc, argv, 2, score_opts, 0, &path);
    bool json = cli_has_flag(argc, argv, "--json");
    if (!path || !input == !file || (out && !file)) {
        fputs(usage, stderr);
        return 2;
    }
    if (json && file && !out) {
        fprintf(stderr, "witan model score: --json with --file needs --out "
                        "FILE (stdout then holds the tally, the rows the "
                        "file)\n");
        return 2;
    }
    uint8_t *bytes;
    size_t size;
    infer_model *m;
    int rc = load_model(path, &bytes, &size, &m);
    if (rc)
        return rc;
    if (file) {
        rc = score_file(m, file, out, json);
        infer_model_free(m);
        free(bytes);
        return rc;
    }
    struct infer_info in;
    infer_model_info(m, &in);
    int64_t x[WITAN_MODEL_INPUT_COUNT_MAX];
    size_t n = 0;
    const char *p = input;
    rc = 0;
    while (!rc) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int64_t mant;
        uint32_t scale;
        int err = n >= WITAN_MODEL_INPUT_COUNT_MAX ? WITAN_ELIMIT
                                                  : infer_decimal_parse(p, len, &mant, &scale);
        bool parsed = err == 0;
        if (parsed)
            err = infer_input_from_decimal(m, n, mant, scale, &x[n]);
        if (err) {
            fprintf(stderr, "witan: input value %zu '%.*s': %s\n", n + 1,
                    (int)len, p,
                    err == WITAN_ELIMIT ? "more values than any model takes"
                                        : decimal_problem(err, parsed));
            rc = 2;
            break;
        }
        n++;
        if (!e)
            break;
        p = e + 1;
    }
    if (!rc && n != in.input_count) {
        fprintf(stderr, "witan: %zu input values, the model takes %zu\n", n,
                in.input_count);
        rc = 2;
    }
    if (!rc) {
        int32_t out[WITAN_MODEL_OUTPUT_COUNT_MAX];
        struct infer_result r;
        int err = infer_score(m, x, n, out, in.output_count, &r);
        if (err) {
            rc = cli_fail("score", err);
        } else {
            if (json) {
                rc = score_json(m, &in, out, &r);
                infer_model_free(m);
                free(bytes);
                return rc;
            }
            for (size_t k = 0; k < in.output_count; k++)
                printf("%-24s %.6f  (%d / 2^%u)\n", infer_output_name(m, k),
                       ldexp(out[k], -(int)in.output_frac_bits), out[k],
                       in.output_frac_bits);
            if (in.class_count)
                printf("label: %lld\n", (long long)infer_class_label(m, r.label));
            printf("gas: %llu\n", (unsigned long long)r.gas);
        }
    }
    infer_model_free(m);
    free(bytes);
    return rc;
}

int cli_model(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "import"))
        return cmd_import(argc, argv);
    /* show takes a file, or the hash of a registered model, before or
     * after the options */
    static const struct cli_opt show_any_opts[] = {
        CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false}};
    if (!strcmp(argv[1], "show"))
        cli_positional_first(argc, argv, 2, show_any_opts);
    if (!strcmp(argv[1], "show") &&
        (argc < 3 || strlen(argv[2]) != 2 * WITAN_HASH_SIZE ||
         access(argv[2], F_OK) == 0))
        return cmd_show(argc, argv);
    if (!strcmp(argv[1], "score"))
        return cmd_score(argc, argv);
    if (!strcmp(argv[1], "register") || !strcmp(argv[1], "list") ||
        !strcmp(argv[1], "show") || !strcmp(argv[1], "ask") ||
        !strcmp(argv[1], "post") || !strcmp(argv[1], "scorecard"))
        return cli_model_chain(argc, argv);
    fprintf(stderr, "witan: model: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
