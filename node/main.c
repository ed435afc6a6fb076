/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witand — the Witan validator daemon. Parses its flags, installs the
 * signal handlers that stop it cleanly, and runs the node in its home.
 */
#include <pthread.h>
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
    "HTTP gateway likewise on http:// or https://), and with\n"
    "stream_listen the same API as framed streams, many requests in\n"
    "flight on one connection; it commits a block whenever\n"
    "transactions wait.\n"
    "\n"
    "  --home DIR         the node's home\n"
    "  --log-level LEVEL  debug, info, warn, error or off (overrides the\n"
    "                     config until SIGHUP)\n"
    "  --version          print the release, git commit and protocol\n"
    "\n"
    "With one validator in genesis it commits alone. With more, it runs\n"
    "PBFT with the other validators over framed nng streams (config:\n"
    "p2p_listen, peers),\n"
    "relays admitted transactions to them, and catches up by state\n"
    "transfer after a restart. `witan testnet` sets up such a network.\n"
    "The validator set changes by governance while it runs: a rotated\n"
    "key is taken from DIR/validator.next.key at the change, and a\n"
    "validator the set does not hold yet (added, started from genesis)\n"
    "follows the chain from the node named by sync_from until it does.\n"
    "\n"
    "Logs go to stderr, one line per event (each committed block, view\n"
    "changes, peers lost and found), or one JSON object per line with\n"
    "log_format = json in the config.\n"
    "\n"
    "SIGTERM or SIGINT stops it cleanly. SIGHUP re-reads log_level and\n"
    "log_format from DIR/config; nothing else changes while it runs.\n"
    "It refuses a home whose protocol version, schema version or genesis\n"
    "hash does not match, saying which.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

/* SIGHUP, taken by this thread alone (every other thread blocks it): the
 * config file is read again and its log level and format applied. Reading
 * a file and logging are not async-signal-safe, hence a thread in sigwait
 * rather than a handler. A config that no longer parses changes nothing. */
static void *reload_thread(void *arg)
{
    const char *path = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
            continue;
        struct node_config cfg;
        char why[512];
        node_config_defaults(&cfg);
        if (node_config_load(path, &cfg, why, sizeof why) != 0) {
            WITAN_WARN("node", "SIGHUP: config not re-read, logging "
                               "unchanged: %s", why);
            continue;
        }
        /* Said at the more verbose of the two levels, so that it shows. */
        enum witan_log_level old = witan_log_get_level();
        if (cfg.log_level < old)
            witan_log_set_level(cfg.log_level);
        witan_log_set_format(cfg.log_format);
        witan_log_event(cfg.log_level < old ? cfg.log_level : old, "node",
                        "SIGHUP: logging from config", "log_level=%s log_format=%s",
                        level_names[cfg.log_level],
                        cfg.log_format == WITAN_LOG_JSON ? "json" : "text");
        witan_log_set_level(cfg.log_level);
    }
    return NULL;
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
    static char path[4096];
    char why[512];
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
    witan_log_set_format(cfg.log_format);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Blocked before any thread exists, so that every thread the node
     * starts inherits the mask and only reload_thread takes SIGHUP. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    pthread_t reloader;
    if (pthread_create(&reloader, NULL, reload_thread, path) == 0)
        pthread_detach(reloader);
    else
        WITAN_WARN("node", "no SIGHUP thread: the log level is fixed");
    err = node_run(home, &cfg, &stop_flag);
    return err ? 1 : 0;
}
