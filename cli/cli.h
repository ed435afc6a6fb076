/*
 * cli — the witan command. main.c dispatches on the first word to one
 * function per command group, each in its own file; each group parses its own
 * flags, prints human-readable text by default (JSON with --json where the
 * group offers it) and answers --help.
 *
 * A group function returns the process exit status: 0 on success, 1 when the
 * operation failed (the message is already printed on stderr), 2 on a usage
 * error.
 */
#ifndef WITAN_CLI_H
#define WITAN_CLI_H

#include "common/common.h"

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the group's name */
};

int cli_keys(int argc, char **argv);
int cli_model(int argc, char **argv);

/* Prints "witan: <what>: <message of err>" on stderr and returns 1. */
int cli_fail(const char *what, int err);

/* True when argv[1..] contains --help or -h. */
int cli_wants_help(int argc, char **argv);

#endif
