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
