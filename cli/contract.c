/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan contract asm|disasm|build|check|run: the contract tools. asm turns
 * assembly text into a module, build compiles the contract language
 * (spec/language.md) into a module and its source map, check only type-checks,
 * disasm prints a module as text, run executes an entry point against the
 * test host (an in-memory map and log, never a ledger) and names the source
 * line of a trap when it has the source. Runs are deterministic: same module,
 * arguments and gas, same output.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "contracts/lang/lang.h"
#include "vm/vm.h"

static const char usage[] =
    "usage: witan contract asm FILE [--out OUT]\n"
    "       witan contract build FILE.wcl [--out OUT.wvm] [--json]\n"
    "       witan contract check FILE.wcl [--json]\n"
    "       witan contract disasm FILE\n"
    "       witan contract run FILE --entry NAME [--args ARG...] [--gas N]\n"
    "       witan contract deploy [FILE] --key K --name N --version V --gas G\n"
    "                  [--module FILE.wvm | --asm FILE.wvs | --wcl FILE.wcl]\n"
    "                  [--no-source]\n"
    "                  [--model HASH [--kind computed|posted|any]\n"
    "                   [--above K:DECIMAL | --below K:DECIMAL | --label N]]...\n"
    "                  [--replaces ID] [--start-height H]\n"
    "                  [--source FILE] [--language TAG] [--compiler TEXT]\n"
    "                  [--source-map FILE]\n"
    "       witan contract call ID ENTRY --key K\n"
    "                  [--int N | --bytes HEX | --text STR]... [--gas G]\n"
    "       witan contract retire ID --key K\n"
    "       witan contract list [--model HASH] [--limit N] [--cursor C]\n"
    "       witan contract show ID [--source]\n"
    "  on chain: [--node URL [--tls-ca FILE] | --home DIR] [--json]\n"
    "  asm, disasm and run take --json too: {out, bytes}, {text}, and\n"
    "  {emitted: [hex], result: {int}|{bytes: hex}|null, gas_used} or\n"
    "  {trap, trap_text, function, word, gas_used}\n"
    "\n"
    "asm     assembles FILE (spec/vm.md, \"Assembly text\") into a module,\n"
    "        written to OUT (default: FILE with .wvs replaced by .wvm).\n"
    "build   compiles FILE, a contract in the Witan contract language\n"
    "        (spec/language.md), into a module written to OUT (default: FILE\n"
    "        with .wcl replaced by .wvm) and its source map to OUT.map.\n"
    "        Errors are shown as FILE:LINE:COL with the line and a caret,\n"
    "        all of them up to 20; exit 1 when there are any.\n"
    "check   type-checks FILE without writing anything; exit 1 on errors.\n"
    "disasm  prints the module FILE as assembly; assembling it gives the\n"
    "        same bytes.\n"
    "run     runs export NAME of FILE (a module, assembly text, or a .wcl\n"
    "        source, compiled first: a trap then names its source line; one\n"
    "        that uses the ledger's host functions runs only on a chain) with the\n"
    "        test host (store_put, store_get, emit, echo, fail). ARGs follow\n"
    "        the entry's parameters: integers for i, text or 0xHEX for b.\n"
    "        --gas defaults to 10000000. Prints the result, the gas used and\n"
    "        anything emitted; a trap exits 1.\n"
    "\n"
    "deploy  signs and submits a DeployContract (spec/contracts.md) and\n"
    "        waits for its receipt; prints the contract's id (the deploy\n"
    "        transaction's hash) and the receipt. FILE is a .wcl source, a\n"
    "        .wvs assembly or a .wvm module (the same as --wcl, --asm or\n"
    "        --module). --wcl compiles FILE and keeps on chain its source,\n"
    "        language wcl, the compiler and its version (" LANG_COMPILER_NAME "\n"
    "        N) and the source map (unless --source-map names another).\n"
    "        --asm assembles FILE and\n"
    "        keeps its text on chain as the source, language witan-asm\n"
    "        (--no-source: the module only). Each --model HASH adds a\n"
    "        trigger: that model's predictions call on_prediction; --kind\n"
    "        (default computed: only those the ledger scored), and one\n"
    "        filter: --above/--below OUTPUT:DECIMAL (output OUTPUT, from 0,\n"
    "        strictly above or below) or --label N. A module the VM refuses\n"
    "        is refused with its reason and byte offset. --source FILE\n"
    "        keeps FILE as the source instead; --source-map FILE keeps\n"
    "        FILE verbatim as the source map (from the compiler: where\n"
    "        each instruction came from in the source), for auditors.\n"
    "call    calls ENTRY of contract ID with the arguments in order\n"
    "        (--int, --bytes hex, --text), with --gas (default: the\n"
    "        contract's own); prints the receipt, the run (its end in\n"
    "        words), its result, decisions and events; a trap in a\n"
    "        contract deployed with a source map is shown with its\n"
    "        source line.\n"
    "retire  retires a contract you deployed: no prediction triggers it and\n"
    "        calls are refused from the next transaction on.\n"
    "list    contracts in id order (only those --model triggers).\n"
    "show    one contract: triggers, gas, language, module size, the\n"
    "        source map's size and SHA-256, and with --source its source\n"
    "        text and source map.\n"
    "\n" CLI_SIGN_HELP CLI_NODE_HELP;

int cli_contract_read(const char *path, size_t max, uint8_t **out,
                      size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "witan contract: %s: %s\n", path, strerror(errno));
        return WITAN_EIO;
    }
    /* One byte over max tells a file too large; one more for the NUL. */
    uint8_t *buf = malloc(max + 2);
    if (!buf) {
        fclose(f);
        return WITAN_ENOMEM;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        free(buf);
        fprintf(stderr, "witan contract: %s: %s\n", path,
                bad ? "read error" : "file too large");
        return bad ? WITAN_EIO : WITAN_ELIMIT;
    }
    buf[n] = '\0';
    *out = buf;
    *size = n;
    return 0;
}

static int write_all(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "witan contract: %s: %s\n", path, strerror(errno));
        return WITAN_EIO;
    }
    size_t n = fwrite(data, 1, size, f);
    int bad = fclose(f) != 0 || n != size;
    return bad ? WITAN_EIO : 0;
}

int cli_contract_assemble(const char *path, uint8_t **bin, size_t *size,
                          char **keep)
{
    uint8_t *text;
    size_t text_size;
    int e = cli_contract_read(path, WITAN_VM_ASM_TEXT_SIZE_MAX, &text,
                              &text_size);
    if (e)
        return e;
    vm_asm_error err;
    e = vm_assemble((const char *)text, text_size, bin, size, &err);
    if (keep && !e)
        *keep = (char *)text;
    else
        free(text);
    if (e == WITAN_EASM)
        fprintf(stderr, "%s:%u: %s\n", path, err.line, err.message);
    else if (e == WITAN_EVERIFY)
        fprintf(stderr, "%s: %s\n", path, err.message);
    return e;
}

static bool ends_with(const char *s, const char *suffix);

/* A module file, a .wcl source compiled on the fly (its map and source kept
 * for trap reports), or assembly text assembled on the fly. */
static int load_any(const char *path, uint8_t **bin, size_t *size,
                    char **map, size_t *map_size, char **src)
{
    if (ends_with(path, ".wcl"))
        return cli_contract_compile(path, false, bin, size, map, map_size,
                                    src);
    uint8_t *data;
    size_t n;
    int e = cli_contract_read(path, WITAN_VM_ASM_TEXT_SIZE_MAX, &data, &n);
    if (e)
        return e;
    if (n >= 4 && memcmp(data, "\0wvm", 4) == 0) {
        *bin = data;
        *size = n;
        return 0;
    }
    free(data);
    return cli_contract_assemble(path, bin, size, NULL);
}

static int cmd_asm(int argc, char **argv)
{
    static const struct cli_opt asm_opts[] = {{"--out", true, false},
                                              {"--json", false, false},
                                              {NULL, false, false}};
    if (cli_args_check(argc, argv, 2, asm_opts, 1, "contract asm"))
        return 2;
    const char *in = NULL, *out = cli_flag(argc, argv, "--out");
    cli_positional(argc, argv, 2, asm_opts, 0, &in);
    if (!in) {
        fputs(usage, stderr);
        return 2;
    }
    char def[4096];
    if (!out) {
        size_t n = strlen(in);
        if (n + 5 > sizeof def)
            return cli_fail("asm", WITAN_ELIMIT);
        memcpy(def, in, n + 1);
        if (n > 4 && strcmp(def + n - 4, ".wvs") == 0)
            def[n - 4] = 0;
        strcat(def, ".wvm");
        out = def;
    }
    uint8_t *bin;
    size_t size;
    int e = cli_contract_assemble(in, &bin, &size, NULL);
    if (e)
        return cli_fail("asm", e);
    e = write_all(out, bin, size);
    free(bin);
    if (e)
        return cli_fail("asm", e);
    if (cli_has_flag(argc, argv, "--json")) {
        printf("{\"out\":");
        witan_json_write_string(stdout, out);
        printf(",\"bytes\":%zu}\n", size);
    } else {
        printf("wrote %s (%zu bytes)\n", out, size);
    }
    return 0;
}

/* Compiles a .wcl file; prints its errors. *map may be NULL. */
int cli_contract_compile(const char *path, bool check_only, uint8_t **bin,
                         size_t *size, char **map, size_t *map_size,
                         char **src_out)
{
    uint8_t *src;
    size_t n;
    int e = cli_contract_read(path, LANG_SOURCE_SIZE_MAX, &src, &n);
    if (e)
        return e;
    lang_output o;
    e = lang_compile(path, (const char *)src, n, LANG_COMPILER_VERSION,
                     check_only, &o);
    if (o.errors)
        fputs(o.errors, stderr);
    if (!e) {
        if (bin) {
            *bin = o.module;
            *size = o.module_size;
            o.module = NULL;
        }
        if (map) {
            *map = o.source_map;
            *map_size = o.source_map_size;
            o.source_map = NULL;
        }
    }
    lang_output_free(&o);
    if (!e && src_out)
        *src_out = (char *)src;
    else
        free(src);
    return e;
}

static int cmd_build(int argc, char **argv, bool check_only)
{
    static const struct cli_opt build_opts[] = {{"--out", true, false},
                                                {"--json", false, false},
                                                {NULL, false, false}};
    const char *what = check_only ? "contract check" : "contract build";
    if (cli_args_check(argc, argv, 2, check_only ? build_opts + 1 : build_opts,
                       1, what))
        return 2;
    const char *in = NULL, *out = cli_flag(argc, argv, "--out");
    cli_positional(argc, argv, 2, build_opts, 0, &in);
    if (!in) {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *bin = NULL;
    char *map = NULL;
    size_t size = 0, map_size = 0;
    int e = cli_contract_compile(in, check_only, &bin, &size, &map, &map_size,
                                 NULL);
    if (e == WITAN_ECOMPILE || e == WITAN_ELIMIT)
        return 1;
    if (e)
        return cli_fail(check_only ? "check" : "build", e);
    bool json = cli_has_flag(argc, argv, "--json");
    if (check_only) {
        if (json) {
            printf("{\"file\":");
            witan_json_write_string(stdout, in);
            printf(",\"errors\":0}\n");
        } else {
            printf("%s: no errors\n", in);
        }
        return 0;
    }
    char def[4096], mapname[4096 + 8];
    if (!out) {
        size_t n = strlen(in);
        if (n + 5 > sizeof def) {
            free(bin);
            free(map);
            return cli_fail("build", WITAN_ELIMIT);
        }
        memcpy(def, in, n + 1);
        if (n > 4 && strcmp(def + n - 4, ".wcl") == 0)
            def[n - 4] = 0;
        strcat(def, ".wvm");
        out = def;
    }
    snprintf(mapname, sizeof mapname, "%s.map", out);
    e = write_all(out, bin, size);
    if (!e)
        e = write_all(mapname, (const uint8_t *)map, map_size);
    free(bin);
    free(map);
    if (e)
        return cli_fail("build", e);
    if (json) {
        printf("{\"module\":");
        witan_json_write_string(stdout, out);
        printf(",\"bytes\":%zu,\"source_map\":", size);
        witan_json_write_string(stdout, mapname);
        printf("}\n");
    } else {
        printf("wrote %s (%zu bytes) and %s\n", out, size, mapname);
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int cmd_disasm(int argc, char **argv)
{
    static const struct cli_opt disasm_opts[] = {{"--json", false, false},
                                                 {NULL, false, false}};
    if (cli_args_check(argc, argv, 2, disasm_opts, 1, "contract disasm"))
        return 2;
    bool json = cli_has_flag(argc, argv, "--json");
    cli_positional_first(argc, argv, 2, disasm_opts);
    if (argc != 3 + json) {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *bin;
    size_t size;
    int e = cli_contract_read(argv[2], WITAN_VM_MODULE_SIZE_MAX, &bin, &size);
    if (e)
        return cli_fail("disasm", e);
    char *text;
    vm_verify_error err;
    e = vm_disassemble(bin, size, &text, &err);
    free(bin);
    if (e == WITAN_EVERIFY) {
        fprintf(stderr, "witan contract: %s: %s at byte %u\n", argv[2],
                vm_verify_reason_text(err.reason), err.offset);
        return 1;
    }
    if (e)
        return cli_fail("disasm", e);
    if (json) {
        printf("{\"text\":");
        witan_json_write_string(stdout, text);
        printf("}\n");
    } else {
        fputs(text, stdout);
    }
    free(text);
    return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 0);
    if (errno || end == s || *end)
        return WITAN_EINVAL;
    *v = x;
    return 0;
}

static void print_bytes(const uint8_t *p, uint32_t n)
{
    putchar('"');
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

/* A run as one JSON object (--json): what it emitted (hex, one per
 * record), its result and gas, or its trap. The exit status as without. */
static int run_json(const char *log, size_t log_size, int e,
                    const vm_result *res)
{
    char hex[2 * 256 + 1];
    if (e && e != WITAN_ETRAP && e != WITAN_EGAS)
        return cli_fail("run", e);
    printf("{\"emitted\":[");
    for (size_t at = 0, k = 0; at < log_size; k++) {
        const char *nl = memchr(log + at, '\n', log_size - at);
        size_t n = nl ? (size_t)(nl - (log + at)) : log_size - at;
        printf("%s\"", k ? "," : "");
        for (size_t j = 0; j < n; j += 256) {
            size_t part = n - j < 256 ? n - j : 256;
            witan_hex_encode((const uint8_t *)log + at + j, part, hex);
            fputs(hex, stdout);
        }
        printf("\"");
        at += n + 1;
    }
    printf("],");
    if (e) {
        printf("\"trap\":%d,\"trap_text\":", res->trap);
        witan_json_write_string(stdout, vm_trap_text(res->trap));
        printf(",\"function\":%u,\"word\":%u,\"gas_used\":\"%llu\"}\n",
               res->trap_func, res->trap_offset,
               (unsigned long long)res->gas_used);
        return 1;
    }
    if (res->value.type == VM_TYPE_INT) {
        printf("\"result\":{\"int\":\"%lld\"}", (long long)res->value.i);
    } else if (res->value.type == VM_TYPE_BYTES) {
        printf("\"result\":{\"bytes\":\"");
        for (uint32_t j = 0; j < res->value.size; j += 256) {
            uint32_t left = res->value.size - j;
            uint32_t part = left < 256 ? left : 256;
            witan_hex_encode(res->value.bytes + j, part, hex);
            fputs(hex, stdout);
        }
        printf("\"}");
    } else {
        printf("\"result\":null");
    }
    printf(",\"gas_used\":\"%llu\"}\n", (unsigned long long)res->gas_used);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *entry = NULL;
    const char *arg_text[WITAN_VM_PARAM_COUNT_MAX];
    uint32_t arg_count = 0;
    uint64_t gas = 10000000;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--entry") == 0 && i + 1 < argc) {
            entry = argv[++i];
        } else if (strcmp(argv[i], "--gas") == 0 && i + 1 < argc) {
            int64_t g;
            if (parse_i64(argv[++i], &g) || g < 0) {
                fprintf(stderr, "witan contract run: --gas '%s' is invalid: "
                                "a whole number >= 0\n",
                        argv[i]);
                return 2;
            }
            gas = (uint64_t)g;
        } else if (strcmp(argv[i], "--args") == 0) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (arg_count == WITAN_VM_PARAM_COUNT_MAX) {
                    fprintf(stderr, "witan contract run: too many --args\n");
                    return 2;
                }
                arg_text[arg_count++] = argv[++i];
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "witan contract run: %s '%s' (see --help)\n",
                    argv[i][0] == '-' && strcmp(argv[i], "--entry") &&
                            strcmp(argv[i], "--gas")
                        ? "unknown option"
                        : argv[i][0] == '-' ? "a value is needed after"
                                            : "unexpected argument",
                    argv[i]);
            return 2;
        }
    }
    if (!path || !entry) {
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *bin;
    size_t size;
    char *map = NULL, *src = NULL;
    size_t map_size = 0;
    int e = load_any(path, &bin, &size, &map, &map_size, &src);
    if (e == WITAN_ECOMPILE)
        return 1;
    if (e)
        return cli_fail("run", e);
    vm_testhost *th = NULL;
    vm_exec *x = NULL;
    vm_module *m = NULL;
    uint8_t *argbuf[WITAN_VM_PARAM_COUNT_MAX] = {0};
    int rc = 1;
    vm_verify_error verr;
    if ((e = vm_testhost_new(&th)) || (e = vm_exec_new(&x))) {
        rc = cli_fail("run", e);
        goto done;
    }
    e = vm_module_load(bin, size, vm_testhost_host(th), &m, &verr);
    if (e == WITAN_EVERIFY && verr.reason == VM_VERR_IMPORT_UNKNOWN && src) {
        fprintf(stderr, "witan contract run: %s calls the ledger's host "
                        "functions (the prediction, feeds, storage, decide, "
                        "emit, ...), which the test host does not have: run "
                        "it on a chain (witan contract deploy, call)\n",
                path);
        goto done;
    }
    if (e == WITAN_EVERIFY) {
        fprintf(stderr, "witan contract: %s: %s at byte %u\n", path,
                vm_verify_reason_text(verr.reason), verr.offset);
        goto done;
    }
    if (e) {
        rc = cli_fail("run", e);
        goto done;
    }
    uint32_t fi;
    if (vm_module_export(m, entry, &fi)) {
        fprintf(stderr, "witan contract run: no export named '%s'\n", entry);
        goto done;
    }
    char params[WITAN_VM_PARAM_COUNT_MAX + 1], result;
    WITAN_ASSERT(vm_module_signature(m, fi, params, &result) == 0);
    if (strlen(params) != arg_count) {
        fprintf(stderr,
                "witan contract run: %s takes %zu arguments (%s), got %u\n",
                entry, strlen(params), params, arg_count);
        rc = 2;
        goto done;
    }
    vm_value args[WITAN_VM_PARAM_COUNT_MAX];
    for (uint32_t i = 0; i < arg_count; i++) {
        const char *t = arg_text[i];
        if (params[i] == 'i') {
            int64_t v;
            if (parse_i64(t, &v)) {
                fprintf(stderr, "witan contract run: argument %u: not an "
                                "integer: '%s'\n", i + 1, t);
                rc = 2;
                goto done;
            }
            args[i] = vm_int(v);
        } else if (strncmp(t, "0x", 2) == 0) {
            size_t n = (strlen(t) - 2) / 2;
            argbuf[i] = malloc(n + 1);
            if (!argbuf[i] || strlen(t) % 2 ||
                witan_hex_decode(t + 2, argbuf[i], n)) {
                fprintf(stderr, "witan contract run: argument %u: bad hex\n",
                        i + 1);
                rc = 2;
                goto done;
            }
            args[i] = vm_bytes(argbuf[i], (uint32_t)n);
        } else {
            args[i] = vm_bytes(t, (uint32_t)strlen(t));
        }
    }
    vm_result res;
    e = vm_call(x, m, fi, args, arg_count, gas, &res);
    size_t log_size;
    const char *log = vm_testhost_log(th, &log_size);
    if (json) {
        rc = run_json(log, log_size, e, &res);
        goto done;
    }
    /* One emitted record per line, quoted so any byte prints safely. */
    for (size_t at = 0; at < log_size;) {
        const char *nl = memchr(log + at, '\n', log_size - at);
        size_t n = nl ? (size_t)(nl - (log + at)) : log_size - at;
        printf("emitted:  ");
        print_bytes((const uint8_t *)log + at, (uint32_t)n);
        putchar('\n');
        at += n + 1;
    }
    if (e == WITAN_ETRAP || e == WITAN_EGAS) {
        fprintf(stderr,
                "witan contract run: trap %d (%s) in function %u at word %u, "
                "gas used %llu",
                res.trap, vm_trap_text(res.trap), res.trap_func,
                res.trap_offset, (unsigned long long)res.gas_used);
        if (res.trap == VM_TRAP_ABORT)
            fprintf(stderr, ", abort code %lld", (long long)res.abort_code);
        if (res.trap == VM_TRAP_HOST)
            fprintf(stderr, ", host error %s", witan_err_name(res.host_err));
        fputc('\n', stderr);
        uint32_t line, col;
        const char *ls;
        size_t ln;
        if (map && src &&
            lang_map_lookup(map, map_size, res.trap_func, res.trap_offset,
                            &line, &col) == 0 &&
            lang_source_line(src, strlen(src), line, &ls, &ln) == 0)
            fprintf(stderr, "  at %s:%u:%u: %.*s\n", path, line, col,
                    (int)(ln > 200 ? 200 : ln), ls);
        goto done;
    }
    if (e) {
        rc = cli_fail("run", e);
        goto done;
    }
    printf("result:   ");
    if (res.value.type == VM_TYPE_INT)
        printf("%lld", (long long)res.value.i);
    else if (res.value.type == VM_TYPE_BYTES)
        print_bytes(res.value.bytes, res.value.size);
    else
        printf("(none)");
    printf("\ngas used: %llu\n", (unsigned long long)res.gas_used);
    rc = 0;
done:
    for (uint32_t i = 0; i < WITAN_VM_PARAM_COUNT_MAX; i++)
        free(argbuf[i]);
    vm_module_free(m);
    vm_exec_free(x);
    vm_testhost_free(th);
    free(bin);
    free(map);
    free(src);
    return rc;
}

int cli_contract(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "asm") == 0)
        return cmd_asm(argc, argv);
    if (strcmp(argv[1], "disasm") == 0)
        return cmd_disasm(argc, argv);
    if (strcmp(argv[1], "build") == 0)
        return cmd_build(argc, argv, false);
    if (strcmp(argv[1], "check") == 0)
        return cmd_build(argc, argv, true);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    int rc = cli_contract_chain(argc, argv);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "witan contract: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
