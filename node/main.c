/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witand — the Witan validator daemon. Parses its flags, installs the
 * signal handlers that stop it cleanly, and runs the node in its home.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "node/node.h"

static const char usage[] =
    "usage: witand --home DIR [--log-level LEVEL]\n"
    "       witand --version | --help\n"
    "\n"
    "Runs a Witan validator from its home directory, made by\n"
    "`witan init --home DIR`: DIR/config (settings, see spec/node.md),\n"
    "DIR/genesis.json, DIR/validator.key and the database in DIR/data.\n"
    "It serves the client API (nng request/reply) on the configured\n"
    "address (tcp://, or tls+tcp:// with the node's certificate; the\n"
    "HTTP gateway likewise on http:// or https://) and commits a block\n"
    "whenever transactions wait.\n"
    "\n"
    "  --home DIR         the node's home\n"
    "  --log-level LEVEL  debug, info, warn, error or off (overrides config)\n"
    "\n"
    "With one validator in genesis it commits alone. With more, it runs\n"
    "PBFT with the other validators over nng (config: p2p_listen, peers),\n"
    "relays admitted transactions to them, and catches up by state\n"
    "transfer after a restart. `witan testnet` sets up such a network.\n"
    "\n"
    "SIGTERM or SIGINT stops it cleanly. It refuses a home whose protocol\n"
    "version, schema version or genesis hash does not match, saying which.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int main(int argc, char **argv)
{
    const char *home = NULL, *level = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("witand %s (commit %s, protocol %d)\n", witan_release(),
                   witan_commit(), WITAN_PROTOCOL_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level = argv[++i];
        } else {
            fprintf(stderr, "witand: unexpected argument '%s'\n%s", argv[i],
                    usage);
            return 2;
        }
    }
    if (!home) {
        fputs(usage, stderr);
        return 2;
    }
    struct node_config cfg;
    node_config_defaults(&cfg);
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/config", home);
    int err = node_config_load(path, &cfg, why, sizeof why);
    if (err) {
        fprintf(stderr, "witand: %s\n", why);
        return 1;
    }
    if (level && witan_log_level_parse(level, &cfg.log_level) != 0) {
        fprintf(stderr, "witand: unknown log level '%s'\n", level);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    err = node_run(home, &cfg, &stop_flag);
    return err ? 1 : 0;
}
