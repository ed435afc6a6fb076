/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan testnet: a local network of validators on 127.0.0.1 — homes with one
 * shared genesis, started and stopped as background processes, with a
 * status line per node.
 */
#include <dirent.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "node/node.h"
#include "render/render.h"

#define TESTNET_PORT_DEFAULT 7400
#define TESTNET_PORT_STRIDE 10
#define TESTNET_STOP_WAIT_MS 10000
/* How long start waits for each node to answer its client API. */
#define TESTNET_START_WAIT_MS 10000
/* LISTEN sockets on one port looked at (SO_REUSEPORT may make several). */
#define TESTNET_LISTEN_INODE_MAX 16
/* Descriptors a started witand is cleared of, at most (3 and up). */
#define TESTNET_FD_CLOSE_MAX 65536

static const char usage[] =
    "usage: witan testnet init --validators N --dir DIR [--base-port P]\n"
    "                          [--chain-id ID] [--tls]\n"
    "                          [--checkpoint-interval K]\n"
    "                          [--pipeline-depth L]\n"
    "                          [--allow-no-fault-tolerance]\n"
    "                          [--json]\n"
    "       witan testnet start|stop|status DIR [--json]\n"
    "\n"
    "init    writes DIR/node0 .. DIR/node<N-1>: each a node home (config,\n"
    "        validator.key, data/) with one shared genesis.json, and\n"
    "        DIR/operator.key, a member key with every role but\n"
    "        validator_operator, and DIR/node<i>/operator.key, the key of\n"
    "        member operator-<i> that votes on proposals for validator i.\n"
    "        Node i serves clients on tcp://127.0.0.1:P+10i and peers on\n"
    "        P+10i+1 (P defaults to 7400). With --tls the validator links run\n"
    "        over tls+tcp: a testnet CA (DIR/tls-ca.pem) signs an ECDSA\n"
    "        P-256 certificate per node (CN validator-<i>), separate from\n"
    "        the Ed25519 signing keys, and every node requires its peers'.\n"
    "        The client API is then tls+tcp:// too, on the same ports: give\n"
    "        clients --tls-ca DIR/tls-ca.pem, or --home DIR/node<i>.\n"
    "        --checkpoint-interval sets the genesis parameter K (default\n"
    "        100): validators sign a history head every K blocks.\n"
    "        --pipeline-depth sets the genesis parameter L (1-8, default\n"
    "        1): up to L blocks in flight, block h carrying the results\n"
    "        of block h - L.\n"
    "        N is 4 or more: a chain of 1-3 validators tolerates no faulty\n"
    "        validator (PBFT needs 3f+1 for f faults), so fewer are refused\n"
    "        unless --allow-no-fault-tolerance is given (for tests).\n"
    "start   runs every node's witand in the background (log in\n"
    "        DIR/node<i>/log, pid in DIR/node<i>/witand.pid) and waits until\n"
    "        each listens on its client address; exits 1 naming a node that\n"
    "        died on start-up (a port in use, say).\n"
    "stop    sends SIGTERM to each and waits for it to finish; says which\n"
    "        were not running (a pid file whose process is gone).\n"
    "status  prints each node's height, block hash and mempool, asking\n"
    "        the address its config names, and says when a node is down or\n"
    "        answers for another chain than its genesis (exit 1); --json\n"
    "        prints one JSON array.\n";

/* The fewest validators that tolerate one faulty validator (3f+1, f=1). */
#define TESTNET_FAULT_TOLERANT_COUNT_MIN 4

static const struct cli_opt init_opts[] = {
    {"--validators", true, false},
    {"--dir", true, false},
    {"--base-port", true, false},
    {"--chain-id", true, false},
    {"--tls", false, false},
    {"--checkpoint-interval", true, false},
    {"--pipeline-depth", true, false},
    {"--allow-no-fault-tolerance", false, false},
    {"--json", false, false},
    {NULL, false, false},
};
static const struct cli_opt dir_opts[] = {{"--json", false, false},
                                          {NULL, false, false}};
static const struct cli_opt status_opts[] = {
    {"--json", false, false},
    {NULL, false, false},
};

static int cmd_init(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, init_opts, 0, "testnet init"))
        return 2;
    const char *dir = cli_flag(argc, argv, "--dir");
    const char *nv = cli_flag(argc, argv, "--validators");
    const char *bp = cli_flag(argc, argv, "--base-port");
    const char *chain = cli_flag(argc, argv, "--chain-id");
    bool tls = cli_has_flag(argc, argv, "--tls");
    const char *ck = cli_flag(argc, argv, "--checkpoint-interval");
    uint64_t checkpoint = 0, depth = 0;
    if (ck && cli_parse_u64("testnet init", "--checkpoint-interval", ck, 1024,
                            &checkpoint))
        return 2;
    const char *pd = cli_flag(argc, argv, "--pipeline-depth");
    if (pd && cli_parse_u64("testnet init", "--pipeline-depth", pd,
                            WITAN_PIPELINE_DEPTH_MAX, &depth))
        return 2;
    uint64_t nvals = 0, port = TESTNET_PORT_DEFAULT;
    if (!dir || !nv) {
        fprintf(stderr, "witan testnet init: --validators N and --dir DIR are "
                        "required\n%s", usage);
        return 2;
    }
    if (cli_parse_u64("testnet init", "--validators", nv,
                      WITAN_VALIDATOR_COUNT_MAX, &nvals) ||
        (bp && cli_parse_u64("testnet init", "--base-port", bp, 65535, &port)))
        return 2;
    int n = (int)nvals, base = (int)port;
    if (n < 1) {
        fprintf(stderr, "witan testnet init: --validators 0 is invalid: a "
                        "chain has 1 to %d\n", WITAN_VALIDATOR_COUNT_MAX);
        return 2;
    }
    if (n < TESTNET_FAULT_TOLERANT_COUNT_MIN &&
        !cli_has_flag(argc, argv, "--allow-no-fault-tolerance")) {
        fprintf(stderr, "witan testnet init: --validators %d is refused: a "
                        "chain of 1-3 validators tolerates no faulty "
                        "validator (it needs %d or more to tolerate one); "
                        "give --allow-no-fault-tolerance to make it anyway\n",
                n, TESTNET_FAULT_TOLERANT_COUNT_MIN);
        return 2;
    }
    if (base < 1024 || base + TESTNET_PORT_STRIDE * n > 65535) {
        fprintf(stderr, "witan testnet init: --base-port %d is invalid: %d "
                        "validators use ports P to P+%d, which must lie in "
                        "1024..65535\n",
                base, n, TESTNET_PORT_STRIDE * n - 1);
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "witan testnet: cannot create %s\n", dir);
        return 1;
    }
    char path[4096];
    wcrypto_keypair kp;
    char *json = malloc(64 * 1024), *ops = malloc(32 * 1024);
    if (!json || !ops) {
        free(json);
        free(ops);
        return cli_fail("memory", WITAN_ENOMEM);
    }
    size_t used = 0, ops_used = 0;
    ops[0] = '\0';
    used += (size_t)snprintf(json + used, 64 * 1024 - used,
                             "{\"protocol_version\": %d, \"chain_id\": \"%s\", "
                             "\"genesis_time_ms\": %lld, \"validators\": [",
                             WITAN_PROTOCOL_VERSION,
                             chain ? chain : "witan-testnet",
                             (long long)time(NULL) * 1000);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/node%d", dir, i);
        if (mkdir(path, 0700) != 0) {
            fprintf(stderr, "witan testnet: %s exists already\n", path);
            free(json);
            free(ops);
            return 1;
        }
        snprintf(path, sizeof path, "%s/node%d/data", dir, i);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/node%d/validator.key", dir, i);
        int err = wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &kp);
        if (!err)
            err = wcrypto_keyfile_write(path, &kp);
        if (err) {
            free(json);
            free(ops);
            return cli_fail(path, err);
        }
        char hex[65];
        witan_hex_encode(kp.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE, hex);
        wcrypto_keypair_wipe(&kp);
        /* One operator member per validator votes for it on proposals
         * (spec/governance.md, section 2), as in a consortium. */
        char opath[4096], okey[65], oaddr[41];
        uint8_t oa[WITAN_ADDRESS_SIZE];
        snprintf(opath, sizeof opath, "%s/node%d/operator.key", dir, i);
        err = wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &kp);
        if (!err)
            err = wcrypto_keyfile_write(opath, &kp);
        if (err) {
            free(json);
            free(ops);
            return cli_fail(opath, err);
        }
        witan_hex_encode(kp.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE, okey);
        wcrypto_address(&kp.pub, oa);
        witan_hex_encode(oa, WITAN_ADDRESS_SIZE, oaddr);
        wcrypto_keypair_wipe(&kp);
        used += (size_t)snprintf(json + used, 64 * 1024 - used,
                                 "%s{\"name\": \"validator-%d\", \"pubkey\": "
                                 "\"%s\", \"operator\": \"%s\"}",
                                 i ? ", " : "", i, hex, oaddr);
        ops_used += (size_t)snprintf(
            ops + ops_used, 32 * 1024 - ops_used,
            ", {\"name\": \"operator-%d\", \"key_type\": \"ed25519\", "
            "\"pubkey\": \"%s\", \"roles\": [\"validator_operator\"]}",
            i, okey);
    }
    snprintf(path, sizeof path, "%s/operator.key", dir);
    int err = wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &kp);
    if (!err)
        err = wcrypto_keyfile_write(path, &kp);
    if (err) {
        free(json);
        free(ops);
        return cli_fail(path, err);
    }
    char ohex[65];
    witan_hex_encode(kp.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE, ohex);
    wcrypto_keypair_wipe(&kp);
    /* Genesis parameters given, the rest at their defaults. */
    used += (size_t)snprintf(json + used, 64 * 1024 - used, "], \"params\": {");
    if (checkpoint)
        used += (size_t)snprintf(json + used, 64 * 1024 - used,
                                 "\"checkpoint_interval\": %llu%s",
                                 (unsigned long long)checkpoint,
                                 depth ? ", " : "");
    if (depth)
        used += (size_t)snprintf(json + used, 64 * 1024 - used,
                                 "\"pipeline_depth\": %llu",
                                 (unsigned long long)depth);
    snprintf(json + used, 64 * 1024 - used,
             "}, \"members\": [{\"name\": \"operator\", \"key_type\": "
             "\"ed25519\", \"pubkey\": \"%s\", \"roles\": [\"data_provider\", "
             "\"model_operator\", \"proposer\", \"auditor\", \"admin\", "
             "\"contract_operator\"]}%s]}",
             ohex, ops);
    free(ops);
    Witan__Genesis *g;
    char why[LEDGER_WHY_SIZE];
    err = ledger_genesis_parse(json, strlen(json), &g, why, sizeof why);
    free(json);
    if (err) {
        fprintf(stderr, "witan testnet: %s\n", why);
        return 1;
    }
    struct node_config cfg;
    node_config_defaults(&cfg);
    cfg.peer_count = (uint32_t)n;
    for (int i = 0; i < n; i++)
        snprintf(cfg.peers[i], sizeof cfg.peers[i], "%s://127.0.0.1:%d",
                 tls ? "tls+tcp" : "tcp", base + TESTNET_PORT_STRIDE * i + 1);
    if (tls) {
        snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "tls-cert.pem");
        snprintf(cfg.tls_key, sizeof cfg.tls_key, "tls-key.pem");
        snprintf(cfg.tls_ca, sizeof cfg.tls_ca, "tls-ca.pem");
    }
    for (int i = 0; i < n && !err; i++) {
        snprintf(path, sizeof path, "%s/node%d/genesis.json", dir, i);
        FILE *f = fopen(path, "wx");
        err = f ? ledger_genesis_write(f, g) : WITAN_EIO;
        if (f && fclose(f) != 0)
            err = WITAN_EIO;
        snprintf(cfg.listen, sizeof cfg.listen, "%s://127.0.0.1:%d",
                 tls ? "tls+tcp" : "tcp", base + TESTNET_PORT_STRIDE * i);
        if (n > 1)
            snprintf(cfg.p2p_listen, sizeof cfg.p2p_listen, "%s", cfg.peers[i]);
        else
            cfg.peer_count = 0;
        snprintf(path, sizeof path, "%s/node%d/config", dir, i);
        if (!err)
            err = node_config_write(path, &cfg);
    }
    uint8_t ghash[WITAN_HASH_SIZE];
    ledger_genesis_hash(g, ghash);
    ledger_genesis_free(g);
    if (!err && tls)
        err = cli_tls_testnet(dir, n);
    if (err)
        return cli_fail("writing the homes", err);
    char gh[65];
    witan_hex_encode(ghash, WITAN_HASH_SIZE, gh);
    if (cli_has_flag(argc, argv, "--json")) {
        struct render_json b = {0};
        render_json_puts(&b, "{\"dir\":");
        render_json_str(&b, dir);
        render_json_printf(&b, ",\"validators\":%d,\"genesis_hash\":\"%s\","
                               "\"clients\":[",
                           n, gh);
        for (int i = 0; i < n; i++)
            render_json_printf(&b, "%s\"%s://127.0.0.1:%d\"", i ? "," : "",
                               tls ? "tls+tcp" : "tcp",
                               base + TESTNET_PORT_STRIDE * i);
        snprintf(path, sizeof path, "%s/operator.key", dir);
        render_json_puts(&b, "],\"operator_key\":");
        render_json_str(&b, path);
        render_json_puts(&b, "}");
        err = render_json_write(stdout, &b);
        return err ? cli_fail("output", err) : 0;
    }
    printf("testnet of %d validators in %s\ngenesis hash: %s\n"
           "clients: %s://127.0.0.1:%d .. :%d%s%s%s\n"
           "operator key: %s/operator.key\n"
           "start it with: witan testnet start %s\n",
           n, dir, gh, tls ? "tls+tcp" : "tcp", base,
           base + TESTNET_PORT_STRIDE * (n - 1), tls ? " (--tls-ca " : "",
           tls ? dir : "", tls ? "/tls-ca.pem, or --home)" : "", dir, dir);
    return 0;
}

/* The nodes DIR holds (node0, node1, ... with a config), at most
 * WITAN_VALIDATOR_COUNT_MAX: init makes no more. */
static int node_count(const char *dir)
{
    char path[4096];
    int n = 0;
    for (; n < WITAN_VALIDATOR_COUNT_MAX; n++) {
        snprintf(path, sizeof path, "%s/node%d/config", dir, n);
        if (access(path, F_OK) != 0)
            return n;
    }
    return n;
}

/* The pid in home's pid file when that process is this home's witand
 * (pids are reused: a live process with that pid may be another); 0 when
 * none runs. *stale says a pid file named a process that is gone. */
static pid_t read_pid(const char *home, bool *stale)
{
    char path[4096], *text;
    size_t size;
    if (stale)
        *stale = false;
    snprintf(path, sizeof path, "%s/witand.pid", home);
    if (witan_read_file(path, 64, &text, &size) != 0)
        return 0;
    pid_t pid = (pid_t)atol(text);
    free(text);
    /* witand's command line is "witand\0--home\0HOME\0" as start wrote it */
    char cmdline[4200], want[4200];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "rb") : NULL;
    size_t n = f ? fread(cmdline, 1, sizeof cmdline, f) : 0;
    if (f)
        fclose(f);
    int wn = snprintf(want, sizeof want, "witand%c--home%c%s", 0, 0, home);
    bool ours = wn > 0 && n >= (size_t)wn + 1 &&
                memcmp(cmdline, want, (size_t)wn + 1) == 0;
    if (!ours && stale)
        *stale = true;
    return ours ? pid : 0;
}

/* Whether process `pid` itself holds a listening TCP socket on the port of
 * a node URL (tcp:// or tls+tcp://): the node has bound its client
 * listener. A connection would not do: another process holding the port
 * (why the node died) accepts it too. Linux: the LISTEN sockets of that
 * port in /proc/net/tcp{,6}, matched against the process's descriptors. */
static bool listening(pid_t pid, const char *url)
{
    const char *colon = strrchr(url, ':');
    unsigned port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
    if (!port)
        return false;
    unsigned long inodes[TESTNET_LISTEN_INODE_MAX];
    size_t count = 0;
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        char line[512];
        while (f && fgets(line, sizeof line, f) && count < TESTNET_LISTEN_INODE_MAX) {
            char local[128];
            unsigned st;
            unsigned long inode;
            /* sl local rem st tx:rx tr:tm retr uid timeout inode */
            if (sscanf(line, " %*s %127s %*s %x %*s %*s %*s %*s %*s %lu",
                       local, &st, &inode) != 3 || st != 0x0A)
                continue;
            const char *pc = strrchr(local, ':');
            if (pc && strtoul(pc + 1, NULL, 16) == port)
                inodes[count++] = inode;
        }
        if (f)
            fclose(f);
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = count ? opendir(dir) : NULL;
    bool ours = false;
    for (struct dirent *e; d && !ours && (e = readdir(d));) {
        char link[64 + 256 + 2], target[64];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        unsigned long inode;
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (size_t i = 0; i < count && !ours; i++)
            ours = inodes[i] == inode;
    }
    if (d)
        closedir(d);
    return ours;
}

/* What start or stop did to each node, for --json (words of the help). */
struct testnet_report {
    pid_t pid[WITAN_VALIDATOR_COUNT_MAX];
    const char *state[WITAN_VALIDATOR_COUNT_MAX];
    bool json;
};

/* With --json, the report as one object; else nothing. Exit status. */
static int report_json(const char *dir, int n,
                       const struct testnet_report *r)
{
    if (!r->json)
        return 0;
    struct render_json b = {0};
    render_json_puts(&b, "{\"dir\":");
    render_json_str(&b, dir);
    render_json_puts(&b, ",\"nodes\":[");
    for (int i = 0; i < n && i < WITAN_VALIDATOR_COUNT_MAX; i++) {
        char log[4200];
        snprintf(log, sizeof log, "%s/node%d/log", dir, i);
        render_json_printf(&b, "%s{\"node\":%d,\"pid\":%d,\"state\":\"%s\","
                               "\"log\":",
                           i ? "," : "", i, (int)r->pid[i],
                           r->state[i] ? r->state[i] : "unknown");
        render_json_str(&b, log);
        render_json_puts(&b, "}");
    }
    render_json_puts(&b, "]}");
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

/* After start: each new node listens on its client address, or has died
 * (its log says why). 0 unless one died. */
static int await_started(const char *dir, const pid_t *pids, int n,
                         struct testnet_report *r)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (!pids[i])
            continue;
        char home[4096], address[256];
        snprintf(home, sizeof home, "%s/node%d", dir, i);
        cli_node_address(NULL, home, address, sizeof address);
        bool up = false, dead = false;
        for (int t = 0; t < TESTNET_START_WAIT_MS / 20 && !up && !dead; t++) {
            int st;
            if (waitpid(pids[i], &st, WNOHANG) == pids[i])
                dead = true;
            else if (!(up = listening(pids[i], address)))
                usleep(20000);
        }
        r->state[i] = dead ? "died" : up ? "started" : "not_listening";
        if (dead) {
            if (!r->json)
                printf("node%d died on start-up: see %s/log\n", i, home);
            failed++;
        } else if (!up && !r->json) {
            printf("node%d does not listen on %s yet: see %s/log\n", i,
                   address, home);
        }
    }
    return failed ? 1 : 0;
}

static int cmd_start(const char *dir, bool json)
{
    struct testnet_report r = {.json = json};
    char self[4096], witand[4200];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "witan testnet: cannot find my own program\n");
        return 1;
    }
    self[len] = '\0';
    snprintf(witand, sizeof witand, "%s/witand", dirname(self));
    int n = node_count(dir);
    if (n == 0) {
        fprintf(stderr, "witan testnet: %s holds no testnet (witan testnet "
                        "init)\n", dir);
        return 1;
    }
    pid_t started[WITAN_VALIDATOR_COUNT_MAX] = {0};
    for (int i = 0; i < n && i < WITAN_VALIDATOR_COUNT_MAX; i++) {
        char home[4096], log[4200], pidfile[4200];
        snprintf(home, sizeof home, "%s/node%d", dir, i);
        if ((r.pid[i] = read_pid(home, NULL))) {
            r.state[i] = "running";
            if (!json)
                printf("node%d is running already\n", i);
            continue;
        }
        snprintf(log, sizeof log, "%s/log", home);
        snprintf(pidfile, sizeof pidfile, "%s/witand.pid", home);
        pid_t pid = fork();
        if (pid < 0)
            return cli_fail("fork", WITAN_EIO);
        if (pid == 0) {
            setsid();
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0)
                dup2(null, 0);
            /* Nothing else this process holds reaches witand: a caller's
             * socket or pipe kept open by a daemon would outlive the
             * caller (a test's port reservation, a shell's pipe). */
            long open_max = sysconf(_SC_OPEN_MAX);
            if (open_max < 0 || open_max > TESTNET_FD_CLOSE_MAX)
                open_max = TESTNET_FD_CLOSE_MAX;
            for (int c = 3; c < open_max; c++)
                close(c);
            execl(witand, "witand", "--home", home, (char *)NULL);
            _exit(127);
        }
        FILE *f = fopen(pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)pid);
            fclose(f);
        }
        if (!json)
            printf("node%d started (pid %d)\n", i, (int)pid);
        started[i] = r.pid[i] = pid;
    }
    fflush(stdout);
    int rc = await_started(dir, started, n, &r);
    int jrc = report_json(dir, n, &r);
    return rc ? rc : jrc;
}

static int cmd_stop(const char *dir, bool json)
{
    struct testnet_report r = {.json = json};
    int n = node_count(dir);
    if (n == 0) {
        fprintf(stderr, "witan testnet: %s holds no testnet\n", dir);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char home[4096];
        snprintf(home, sizeof home, "%s/node%d", dir, i);
        bool stale;
        pid_t pid = read_pid(home, &stale);
        if (!pid) {
            r.state[i] = stale ? "stale_pid_file" : "not_running";
            if (!json)
                printf("node%d was not running%s\n", i,
                       stale ? " (its pid file named a process that is gone)"
                             : "");
            continue;
        }
        r.pid[i] = pid;
        kill(pid, SIGTERM);
        int waited = 0;
        while (kill(pid, 0) == 0 && waited < TESTNET_STOP_WAIT_MS) {
            waitpid(pid, NULL, WNOHANG);
            usleep(20000);
            waited += 20;
        }
        if (kill(pid, 0) == 0) {
            kill(pid, SIGKILL);
            r.state[i] = "killed";
            if (!json)
                printf("node%d did not stop in time: killed\n", i);
        } else {
            r.state[i] = "stopped";
            if (!json)
                printf("node%d stopped\n", i);
        }
    }
    return report_json(dir, n, &r);
}

/* Each node's height, tip and pool, asked at the address its home names;
 * a node that answers for another chain than its home's genesis is said
 * to (a stale process, another testnet on the same ports). With `json`,
 * one JSON array. 1 when a node is down or on another chain. */
static int cmd_status(const char *dir, bool json)
{
    int n = node_count(dir);
    if (n == 0) {
        fprintf(stderr, "witan testnet: %s holds no testnet\n", dir);
        return 1;
    }
    int bad = 0;
    if (json)
        printf("[");
    for (int i = 0; i < n; i++) {
        char home[4096], address[256], gpath[4200], why[LEDGER_WHY_SIZE];
        snprintf(home, sizeof home, "%s/node%d", dir, i);
        cli_node_address(NULL, home, address, sizeof address);
        snprintf(gpath, sizeof gpath, "%s/genesis.json", home);
        Witan__Genesis *g = NULL;
        if (ledger_genesis_load(gpath, &g, why, sizeof why))
            g = NULL;
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
        req.kind_case = WITAN__REQUEST__KIND_STATUS;
        req.status = &st;
        Witan__Response *resp = NULL;
        bool up = cli_call(address, &req, 2000, &resp) == 0 && resp->status;
        bool other = up && (!g || strcmp(g->chain_id,
                                         resp->status->chain_id) != 0);
        char hash[65] = "";
        if (up)
            witan_hex_encode(resp->status->block_hash.data,
                             resp->status->block_hash.len, hash);
        if (json) {
            printf("%s{\"node\":%d,\"address\":", i ? "," : "", i);
            witan_json_write_string(stdout, address);
            printf(",\"up\":%s", up ? "true" : "false");
            if (up) {
                printf(",\"chain_id\":");
                witan_json_write_string(stdout, resp->status->chain_id);
                printf(",\"height\":\"%llu\",\"block_hash\":\"%s\","
                       "\"mempool_count\":%u,\"own_chain\":%s",
                       (unsigned long long)resp->status->height, hash,
                       resp->status->mempool_count, other ? "false" : "true");
            }
            printf("}");
        } else if (!up) {
            printf("node%d  down (%s)\n", i, address);
        } else if (other) {
            printf("node%d  %s answers for chain '%s', not this testnet's "
                   "'%s'\n",
                   i, address, resp->status->chain_id,
                   g ? g->chain_id : "(its genesis does not load)");
        } else {
            printf("node%d  height %-8llu %s  mempool %u\n", i,
                   (unsigned long long)resp->status->height, hash,
                   resp->status->mempool_count);
        }
        bad += !up || other;
        if (resp)
            witan__response__free_unpacked(resp, NULL);
        if (g)
            ledger_genesis_free(g);
    }
    if (json)
        printf("]\n");
    return bad ? 1 : 0;
}

int cli_testnet(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc, argv);
    bool status = strcmp(argv[1], "status") == 0;
    if (status || strcmp(argv[1], "start") == 0 ||
        strcmp(argv[1], "stop") == 0) {
        char what[32];
        snprintf(what, sizeof what, "testnet %s", argv[1]);
        const struct cli_opt *opts = status ? status_opts : dir_opts;
        const char *dir;
        if (cli_args_check(argc, argv, 2, opts, 1, what))
            return 2;
        if (cli_positional(argc, argv, 2, opts, 0, &dir)) {
            fprintf(stderr, "witan %s: the testnet DIR is required\n%s", what,
                    usage);
            return 2;
        }
        bool json = cli_has_flag(argc, argv, "--json");
        if (status)
            return cmd_status(dir, json);
        return strcmp(argv[1], "start") == 0 ? cmd_start(dir, json)
                                             : cmd_stop(dir, json);
    }
    fprintf(stderr, "witan testnet: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
