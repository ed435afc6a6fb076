/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan — the command-line client: keys, transactions, queries and tools.
 * One table names every command group; each group lives in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

static const struct cli_command commands[] = {
    {"init", "make a node home for a one-validator chain", cli_init},
    {"keys", "create and show key files", cli_keys},
    {"model", "import ONNX models, show and score them", cli_model},
    {"contract", "contracts: build, check (the contract language), asm, "
                 "disasm, run; deploy, call, retire, list, show",
     cli_contract},
    {"decisions", "what contracts decided, with the evidence", cli_decisions},
    {"audit", "verify a whole chain from its genesis file; export archives; "
              "check a contract's source",
     cli_audit},
    {"export", "attestations, predictions, decisions, scorecards as CSV or "
               "JSONL; the chain",
     cli_export},
    {"attest", "sign and submit attestations (flags or CSV)", cli_attest},
    {"member", "membership changes by an admin; show a member", cli_member},
    {"propose", "propose a governed change (members, roles, parameters, "
                "contracts, models, validators)",
     cli_governance},
    {"vote", "vote on a proposal for the validators a key operates",
     cli_governance},
    {"proposals", "proposals with their tally, votes and effects",
     cli_governance},
    {"validators", "the validator set in force at a height, and a pending "
                   "change",
     cli_governance},
    {"query", "status, blocks, transactions, attestations", cli_query},
    {"node", "operate a node: backup of a running node's database", cli_node},
    {"testnet", "a local network of validators: init, start, stop, status",
     cli_testnet},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: witan <command> [options]   (witan <command> --help)\n"
                 "\ncommands:\n");
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version",
            "print the release, commit and protocol version [--json]");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") != 0)) {
            fprintf(stderr, "witan version: unexpected argument '%s' (it "
                            "takes only --json)\n",
                    argv[2]);
            return 2;
        }
        if (argc == 3) {
            printf("{\"release\":");
            witan_json_write_string(stdout, witan_release());
            printf(",\"commit\":");
            witan_json_write_string(stdout, witan_commit());
            printf(",\"protocol\":%d}\n", WITAN_PROTOCOL_VERSION);
        } else {
            printf("witan %s (commit %s, protocol %d)\n", witan_release(),
                   witan_commit(), WITAN_PROTOCOL_VERSION);
        }
        return 0;
    }
    int err = wcrypto_init();
    if (err)
        return cli_fail("crypto", err);
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(commands); i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "witan: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
