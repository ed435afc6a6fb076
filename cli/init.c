/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan init: a node home for a one-validator chain — config, genesis,
 * the validator's key, and an operator key holding every member role, so
 * that a fresh chain can be used at once.
 */
#include <errno.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "node/node.h"

static const char usage[] =
    "usage: witan init --home DIR [--chain-id ID] [--listen URL] [--json]\n"
    "\n"
    "Makes a node home for a one-validator chain in DIR (created; it must\n"
    "not exist or be empty):\n"
    "  DIR/config         witand settings (spec/node.md)\n"
    "  DIR/genesis.json   the chain: id, validator, members, parameters\n"
    "  DIR/validator.key  the validator's Ed25519 key (mode 0600)\n"
    "  DIR/operator.key   a member key with every role (admin,\n"
    "                     data_provider, model_operator, proposer, auditor,\n"
    "                     contract_operator, validator_operator: it votes\n"
    "                     on proposals for the validator)\n"
    "Defaults: chain id witan-local, listen tcp://127.0.0.1:7400.\n";

static const struct cli_opt init_opts[] = {
    {"--home", true, false},
    {"--chain-id", true, false},
    {"--listen", true, false},
    {"--json", false, false},
    {NULL, false, false},
};

static int new_key(const char *home, const char *name, wcrypto_keypair *kp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", home, name);
    int err = wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, kp);
    if (!err)
        err = wcrypto_keyfile_write(path, kp);
    if (err)
        fprintf(stderr, "witan init: %s: %s\n", path, witan_err_message(err));
    return err;
}

int cli_init(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    if (cli_args_check(argc, argv, 1, init_opts, 0, "init"))
        return 2;
    const char *home = cli_flag(argc, argv, "--home");
    const char *chain = cli_flag(argc, argv, "--chain-id");
    const char *listen = cli_flag(argc, argv, "--listen");
    if (!home) {
        fprintf(stderr, "witan init: --home DIR is required\n%s", usage);
        return 2;
    }
    if (mkdir(home, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "witan init: cannot create %s: %s\n", home,
                strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/genesis.json", home);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "witan init: %s already holds a node home\n", home);
        return 1;
    }
    snprintf(path, sizeof path, "%s/data", home);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "witan init: cannot create %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    wcrypto_keypair validator, operator;
    if (new_key(home, "validator.key", &validator))
        return 1;
    if (new_key(home, "operator.key", &operator)) {
        wcrypto_keypair_wipe(&validator);
        return 1;
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char vhex[65], ohex[65], oaddr[41], json[4096];
    uint8_t oa[WITAN_ADDRESS_SIZE];
    witan_hex_encode(validator.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE, vhex);
    witan_hex_encode(operator.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE, ohex);
    /* The one member also votes for the one validator (governance.md). */
    wcrypto_address(&operator.pub, oa);
    witan_hex_encode(oa, WITAN_ADDRESS_SIZE, oaddr);
    snprintf(json, sizeof json,
             "{\"protocol_version\": %d, \"chain_id\": \"%s\", "
             "\"genesis_time_ms\": %lld, "
             "\"validators\": [{\"name\": \"validator-0\", \"pubkey\": \"%s\", "
             "\"operator\": \"%s\"}], "
             "\"members\": [{\"name\": \"operator\", \"key_type\": \"ed25519\", "
             "\"pubkey\": \"%s\", \"roles\": [\"data_provider\", "
             "\"model_operator\", \"proposer\", \"auditor\", \"admin\", "
             "\"contract_operator\", \"validator_operator\"]}]}",
             WITAN_PROTOCOL_VERSION, chain ? chain : "witan-local",
             (long long)ts.tv_sec * 1000, vhex, oaddr, ohex);
    wcrypto_keypair_wipe(&validator);
    Witan__Genesis *g;
    char why[LEDGER_WHY_SIZE];
    int err = ledger_genesis_parse(json, strlen(json), &g, why, sizeof why);
    if (err) {
        fprintf(stderr, "witan init: %s\n", why);
        wcrypto_keypair_wipe(&operator);
        return 1;
    }
    snprintf(path, sizeof path, "%s/genesis.json", home);
    FILE *f = fopen(path, "wx");
    err = f ? ledger_genesis_write(f, g) : WITAN_EIO;
    if (f && fclose(f) != 0)
        err = WITAN_EIO;
    uint8_t ghash[WITAN_HASH_SIZE];
    ledger_genesis_hash(g, ghash);
    ledger_genesis_free(g);
    if (err) {
        fprintf(stderr, "witan init: cannot write %s\n", path);
        wcrypto_keypair_wipe(&operator);
        return 1;
    }
    struct node_config cfg;
    node_config_defaults(&cfg);
    if (listen)
        snprintf(cfg.listen, sizeof cfg.listen, "%s", listen);
    snprintf(path, sizeof path, "%s/config", home);
    err = node_config_write(path, &cfg);
    if (err) {
        fprintf(stderr, "witan init: cannot write %s: %s\n", path,
                witan_err_message(err));
        wcrypto_keypair_wipe(&operator);
        return 1;
    }
    uint8_t addr[WITAN_ADDRESS_SIZE];
    char addr_hex[41], ghex[65];
    wcrypto_address(&operator.pub, addr);
    witan_hex_encode(addr, WITAN_ADDRESS_SIZE, addr_hex);
    witan_hex_encode(ghash, WITAN_HASH_SIZE, ghex);
    wcrypto_keypair_wipe(&operator);
    if (cli_has_flag(argc, argv, "--json")) {
        printf("{\"home\":");
        witan_json_write_string(stdout, home);
        printf(",\"chain_id\":");
        witan_json_write_string(stdout, chain ? chain : "witan-local");
        printf(",\"genesis_hash\":\"%s\",\"listen\":", ghex);
        witan_json_write_string(stdout, cfg.listen);
        printf(",\"operator\":\"%s\"}\n", addr_hex);
        return 0;
    }
    printf("home:         %s\nchain:        %s\ngenesis hash: %s\n"
           "listen:       %s\noperator:     %s (%s/operator.key)\n"
           "start it with: witand --home %s\n",
           home, chain ? chain : "witan-local", ghex, cfg.listen, addr_hex,
           home, home);
    return 0;
}
