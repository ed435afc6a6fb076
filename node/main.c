/*
 * witand — the Witan validator daemon. This first layer only reports its
 * version; the node itself (storage, consensus, client API) arrives with the
 * solo-node and validator issues.
 */
#include <stdio.h>
#include <string.h>

#include "common/common.h"

static const char usage[] =
    "usage: witand --version | --help\n"
    "\n"
    "The Witan validator daemon. This build has the foundation only: keys,\n"
    "hashing and the wire schema. Running a node is not yet available.\n";

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("witand protocol %d\n", WITAN_PROTOCOL_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
