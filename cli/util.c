/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers every command group shares: failure messages and --help detection.
 */
#include <string.h>

#include "cli/cli.h"

int cli_fail(const char *what, int err)
{
    fprintf(stderr, "witan: %s: %s (%s)\n", what, witan_err_message(err),
            witan_err_name(err));
    return 1;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* A word that is an option name: '-' then a letter or '-'. "-1" is a
 * (negative, so invalid) number, for the command to call invalid. */
static bool option_word(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

int cli_args_check(int argc, char **argv, int first,
                   const struct cli_opt *opts, int positional_max,
                   const char *what)
{
    int positional = 0;
    bool seen[CLI_OPT_COUNT_MAX] = {false};
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!option_word(a)) {
            if (positional++ == positional_max) {
                fprintf(stderr, "witan %s: unexpected argument '%s' (see "
                                "--help)\n",
                        what, a);
                return 2;
            }
            continue;
        }
        size_t k = 0;
        while (opts[k].name && strcmp(opts[k].name, a) != 0)
            k++;
        WITAN_ASSERT(k < CLI_OPT_COUNT_MAX);
        if (!opts[k].name) {
            fprintf(stderr, "witan %s: unknown option '%s' (see --help)\n",
                    what, a);
            return 2;
        }
        if (seen[k] && !opts[k].repeat) {
            fprintf(stderr, "witan %s: %s given twice\n", what, a);
            return 2;
        }
        seen[k] = true;
        if (opts[k].value && (i + 1 >= argc || argv[i + 1][0] == '\0')) {
            fprintf(stderr, "witan %s: %s needs a value\n", what, a);
            return 2;
        }
        i += opts[k].value;
    }
    return 0;
}

int cli_positional(int argc, char **argv, int first,
                   const struct cli_opt *opts, int index, const char **out)
{
    int n = 0;
    for (int i = first; i < argc; i++) {
        if (option_word(argv[i])) {
            for (size_t k = 0; opts[k].name; k++)
                if (strcmp(opts[k].name, argv[i]) == 0 && opts[k].value)
                    i++;
            continue;
        }
        if (n++ == index) {
            *out = argv[i];
            return 0;
        }
    }
    return WITAN_ENOTFOUND;
}

void cli_positional_first(int argc, char **argv, int first,
                          const struct cli_opt *opts)
{
    for (int i = first; i < argc; i++) {
        if (option_word(argv[i])) {
            for (size_t k = 0; opts[k].name; k++)
                if (strcmp(opts[k].name, argv[i]) == 0 && opts[k].value)
                    i++;
            continue;
        }
        char *word = argv[i];
        memmove(&argv[first + 1], &argv[first],
                (size_t)(i - first) * sizeof *argv);
        argv[first] = word;
        return;
    }
}

int cli_parse_u64(const char *what, const char *flag, const char *text,
                  uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    bool ok = text[0] != '\0' && strlen(text) <= 20;
    for (const char *p = text; ok && *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        ok = *p >= '0' && *p <= '9' && v <= (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    if (!ok || v > max) {
        fprintf(stderr, "witan %s: %s takes a whole number from 0 to %llu, "
                        "not '%s'\n",
                what, flag, (unsigned long long)max, text);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_parse_cursor(const char *what, const char *text, uint8_t *out,
                     size_t size, size_t *len)
{
    size_t n = strlen(text) / 2;
    if (n <= size && strlen(text) % 2 == 0 &&
        witan_hex_decode(text, out, n) == 0) {
        *len = n;
        return 0;
    }
    fprintf(stderr, "witan %s: --cursor '%s' is invalid: give the hex a "
                    "previous page printed\n",
            what, text);
    return 2;
}

int cli_parse_hash(const char *what, const char *flag, const char *text,
                   uint8_t *out, size_t size)
{
    if (strlen(text) == 2 * size && witan_hex_decode(text, out, size) == 0)
        return 0;
    fprintf(stderr, "witan %s: %s takes %zu hex digits, not '%s'\n", what,
            flag, 2 * size, text);
    return 2;
}
