/*
 * witan model import|show|score: the model tools. import converts an ONNX
 * file into Witan's fixed-point format (inference/, spec/models.md) and
 * reports the quantisation error on sample inputs; show prints a model and
 * its identity hash; score runs one input through the integer scorer.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "inference/inference.h"

static const char usage[] =
    "usage: witan model import FILE.onnx --out MODEL.bin [--samples FILE.csv]\n"
    "                          [--max-error X] [--force] [--name NAME]\n"
    "       witan model show MODEL.bin\n"
    "       witan model score MODEL.bin --input v1,v2,...\n"
    "\n"
    "import  converts an ONNX graph (spec/models.md lists the operators) to a\n"
    "        fixed-point model. With --samples (CSV, one input per row, an\n"
    "        optional header of feature names) it calibrates the fixed-point\n"
    "        formats and reports the largest absolute and relative error of\n"
    "        the integer model against the float graph; above the bound the\n"
    "        model is refused unless --force is given. The bound is\n"
    "        --max-error X (absolute; inf for none), by default 1% of the\n"
    "        widest range an output takes on the samples.\n"
    "show    prints kind, shapes, parameters, gas bound and the model hash\n"
    "        (SHA-256 with domain tag \"witan/model/v1\").\n"
    "score   scores one input (decimal values, converted exactly) and prints\n"
    "        each output, the label of a classifier and the gas charged.\n"
    "\n"
    "On chain (through a node):\n"
    "       witan model register MODEL.bin --key K --name NAME [--version N]\n"
    "                  --input feed=F,subject=S,value=V[,window=K][,max_age_ms=M]\n"
    "                  --input feed=F,subject=S,year   (one per model input)\n"
    "                  [--trigger FEED:SUBJECT ...] [--wait]\n"
    "       witan model list | witan model show HASH\n"
    "       witan model ask HASH --key K [--input v1,v2,...] [--wait]\n"
    "       witan model post HASH --key K --output name=v,... [--input ...]\n"
    "                  [--input-tx TXHASH ...] [--wait]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "register  (role model_operator) binds each model input to attested data\n"
    "          and names the feeds whose attestations trigger a score; every\n"
    "          validator then scores it and records the prediction.\n"
    "ask       asks for a score now, on the bindings or on explicit inputs.\n"
    "post      records the output of a model too large to run on chain, as\n"
    "          attested by its operator (role model_operator).\n"
    "Predictions: witan query predictions --model HASH.\n" CLI_NODE_HELP;

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

static int cmd_import(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *samples = NULL, *name = NULL;
    double max_err = -1;
    bool force = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(a, "--samples") && i + 1 < argc)
            samples = argv[++i];
        else if (!strcmp(a, "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(a, "--max-error") && i + 1 < argc) {
            char *end;
            max_err = strtod(argv[++i], &end);
            if (*end || !(max_err >= 0)) {
                fprintf(stderr, "witan: --max-error wants a number >= 0\n");
                return 2;
            }
        } else if (!strcmp(a, "--force"))
            force = true;
        else if (a[0] != '-' && !in)
            in = a;
        else {
            fprintf(stderr, "witan: model import: unexpected '%s'\n%s", a, usage);
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
        .max_abs_error = max_err, .force = force};
    struct infer_import_report rep;
    int err = infer_onnx_import(onnx, onnx_size, &opt, &model, &model_size,
                                &rep, why, sizeof why);
    if (rep.sample_count)
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
    if (rep.sample_count && rep.bound_is_default)
        printf("bound: %.6g, 1%% of the outputs' range on the samples (%.6g); "
               "--max-error sets another\n",
               rep.bound, rep.output_range);
    if (rep.over_bound)
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
    printf("wrote %s: %zu bytes, %zu ONNX nodes, hash %s\n", out, model_size,
           rep.node_count, hex);
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

static int cmd_show(int argc, char **argv)
{
    if (argc != 3) {
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
    printf("model:       %s\nkind:        %s\nhash:        %s\nsize:        %zu bytes\n",
           in.name, infer_kind_name(in.kind), hex, size);
    char fmt[32];
    if (in.input_encoding == INFER_IN_FLOAT32_ORDER)
        snprintf(fmt, sizeof fmt, "float32, as ONNX compares");
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
        printf("  input %-3zu %-20s offset ", i, infer_input_name(m, i));
        print_fixed(off, in.input_frac_bits);
        printf(" scale %d/2^%u\n", sc, sf);
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

static int cmd_score(int argc, char **argv)
{
    const char *path = NULL, *input = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc)
            input = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "witan: model score: unexpected '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!path || !input) {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *bytes;
    size_t size;
    infer_model *m;
    int rc = load_model(path, &bytes, &size, &m);
    if (rc)
        return rc;
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
        if (!err)
            err = infer_input_from_decimal(m, mant, scale, &x[n]);
        if (err) {
            fprintf(stderr, "witan: input value %zu '%.*s': %s\n", n + 1,
                    (int)len, p, witan_err_message(err));
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
    /* show takes a file, or the hash of a registered model */
    if (!strcmp(argv[1], "show") &&
        (argc < 3 || strlen(argv[2]) != 2 * WITAN_HASH_SIZE ||
         access(argv[2], F_OK) == 0))
        return cmd_show(argc, argv);
    if (!strcmp(argv[1], "score"))
        return cmd_score(argc, argv);
    if (!strcmp(argv[1], "register") || !strcmp(argv[1], "list") ||
        !strcmp(argv[1], "show") || !strcmp(argv[1], "ask") ||
        !strcmp(argv[1], "post"))
        return cli_model_chain(argc, argv);
    fprintf(stderr, "witan: model: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
