/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan member: membership changes signed by an admin — add, remove, grant
 * or revoke a role, rotate a member's key.
 */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "render/render.h"

static const char usage[] =
    "usage: witan member add --key ADMINKEY --name NAME --pubkey HEX\n"
    "                        [--key-type ed25519|secp256k1] [--role R ...]\n"
    "       witan member remove --key ADMINKEY --address ADDR\n"
    "       witan member grant|revoke --key ADMINKEY --address ADDR --role R\n"
    "       witan member rotate --key ADMINKEY --address ADDR --pubkey HEX\n"
    "                        [--key-type ed25519|secp256k1]\n"
    "       witan member show ADDR [--json]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR] [--wait] [--json]\n"
    "\n"
    "Roles: data_provider, model_operator, proposer, auditor, admin,\n"
    "contract_operator, validator_operator.\n"
    "Each change takes effect at the height of its block and is kept in the\n"
    "member's history. Validators are not members: their set changes only\n"
    "through governance. A new member's address derives from its first key\n"
    "and never changes; a rotation gives the account a new current key.\n"
    "\n" CLI_SIGN_HELP CLI_NODE_HELP;

static const struct cli_opt add_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--name", true, false},
    {"--pubkey", true, false},
    {"--key-type", true, false},
    {"--role", true, true},
    {NULL, false, false},
};
static const struct cli_opt remove_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN, {"--address", true, false},
    {NULL, false, false},
};
static const struct cli_opt role_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--address", true, false},
    {"--role", true, false},
    {NULL, false, false},
};
static const struct cli_opt rotate_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--address", true, false},
    {"--pubkey", true, false},
    {"--key-type", true, false},
    {NULL, false, false},
};
static const struct cli_opt show_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false},
};

/* The options of `verb`, or NULL for a verb member does not know. */
static const struct cli_opt *verb_opts(const char *verb)
{
    if (strcmp(verb, "add") == 0)
        return add_opts;
    if (strcmp(verb, "remove") == 0)
        return remove_opts;
    if (strcmp(verb, "grant") == 0 || strcmp(verb, "revoke") == 0)
        return role_opts;
    if (strcmp(verb, "rotate") == 0)
        return rotate_opts;
    if (strcmp(verb, "show") == 0)
        return show_opts;
    return NULL;
}

/* --pubkey of --key-type: WITAN_ENOTFOUND when absent; when present but
 * invalid, says so (not "required") and returns WITAN_EINVAL. */
static int parse_pubkey(int argc, char **argv, Witan__KeyType *type,
                        uint8_t *key, size_t *size)
{
    const char *t = cli_flag(argc, argv, "--key-type");
    const char *hex = cli_flag(argc, argv, "--pubkey");
    enum wcrypto_key_type kt = WCRYPTO_KEY_ED25519;
    if (t && wcrypto_key_type_parse(t, &kt)) {
        fprintf(stderr, "witan member: --key-type '%s' is invalid: ed25519 "
                        "or secp256k1\n", t);
        return WITAN_EINVAL;
    }
    if (!hex)
        return WITAN_ENOTFOUND;
    *size = kt == WCRYPTO_KEY_ED25519 ? 32 : 33;
    *type = (Witan__KeyType)kt;
    if (strlen(hex) != 2 * *size || witan_hex_decode(hex, key, *size)) {
        fprintf(stderr, "witan member: --pubkey '%s' is invalid: an %s key is "
                        "%zu hex digits\n",
                hex, kt == WCRYPTO_KEY_ED25519 ? "ed25519" : "secp256k1",
                2 * *size);
        return WITAN_EINVAL;
    }
    return 0;
}

static int show(const char *address, const char *addr_hex, bool json)
{
    uint8_t addr[WITAN_ADDRESS_SIZE];
    if (witan_hex_decode(addr_hex, addr, WITAN_ADDRESS_SIZE)) {
        fprintf(stderr, "witan member show: ADDR '%s' is invalid: an address "
                        "is 40 hex digits\n",
                addr_hex);
        return 2;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__AccountRequest ar = WITAN__ACCOUNT_REQUEST__INIT;
    ar.address = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, addr};
    req.kind_case = WITAN__REQUEST__KIND_ACCOUNT;
    req.account = &ar;
    Witan__Response *resp;
    if (cli_call(address, &req, 10000, &resp))
        return 1;
    if (cli_response_error("member show", resp)) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    const Witan__Account *a = resp->account->account;
    if (json) { /* what GET /v1/accounts/{address} answers */
        int err = render_json_print(stdout, &resp->account->base);
        witan__response__free_unpacked(resp, NULL);
        return err ? cli_fail("output", err) : 0;
    }
    printf("member:  %s (%s)%s\nnonce:   %llu\nroles:  ", a->name, addr_hex,
           a->removed ? " REMOVED" : "", (unsigned long long)a->nonce);
    for (size_t i = 0; i < a->n_roles; i++)
        printf(" %s", ledger_role_name(a->roles[i]));
    printf("\nkeys:\n");
    for (size_t i = 0; i < a->n_keys; i++) {
        char hex[67];
        witan_hex_encode(a->keys[i]->pubkey.data, a->keys[i]->pubkey.len, hex);
        printf("  %s %s from height %llu", hex,
               wcrypto_key_type_name((enum wcrypto_key_type)a->keys[i]->key_type),
               (unsigned long long)a->keys[i]->from_height);
        if (a->keys[i]->until_height)
            printf(" until %llu", (unsigned long long)a->keys[i]->until_height);
        printf("\n");
    }
    printf("history:\n");
    for (size_t i = 0; i < a->n_events; i++)
        printf("  height %llu: %s%s%s\n",
               (unsigned long long)a->events[i]->height, a->events[i]->what,
               a->events[i]->role ? " " : "",
               a->events[i]->role ? ledger_role_name(a->events[i]->role) : "");
    witan__response__free_unpacked(resp, NULL);
    return 0;
}

int cli_member(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    const struct cli_opt *opts = verb_opts(verb);
    if (!opts) {
        fprintf(stderr, "witan member: unknown verb '%s'\n%s", verb, usage);
        return 2;
    }
    char what[32];
    snprintf(what, sizeof what, "member %s", verb);
    bool is_show = opts == show_opts;
    if (cli_args_check(argc, argv, 2, opts, is_show ? 1 : 0, what))
        return 2;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    if (is_show) {
        const char *addr_hex;
        if (cli_positional(argc, argv, 2, opts, 0, &addr_hex)) {
            fprintf(stderr, "witan member show: ADDR (40 hex digits) is "
                            "required\n");
            return 2;
        }
        return show(address, addr_hex, cli_has_flag(argc, argv, "--json"));
    }
    Witan__Membership m = WITAN__MEMBERSHIP__INIT;
    Witan__MemberAdd add = WITAN__MEMBER_ADD__INIT;
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    Witan__KeyRotation rot = WITAN__KEY_ROTATION__INIT;
    uint8_t addr[WITAN_ADDRESS_SIZE], key[33];
    size_t key_size = 0;
    Witan__KeyType key_type;
    Witan__Role roles[LEDGER_ROLE_MAX];
    size_t n_roles = 0;
    const char *addr_hex = cli_flag(argc, argv, "--address");
    const char *role = cli_flag(argc, argv, "--role");
    bool need_addr = strcmp(verb, "add") != 0;
    if (need_addr && !addr_hex) {
        fprintf(stderr, "witan member %s: --address ADDR is required\n",
                verb);
        return 2;
    }
    if (need_addr && witan_hex_decode(addr_hex, addr, WITAN_ADDRESS_SIZE)) {
        fprintf(stderr, "witan member %s: --address '%s' is invalid: an "
                        "address is 40 hex digits\n",
                verb, addr_hex);
        return 2;
    }
    if (strcmp(verb, "add") == 0) {
        const char *name = cli_flag(argc, argv, "--name");
        int perr = parse_pubkey(argc, argv, &key_type, key, &key_size);
        if (perr == WITAN_EINVAL)
            return 2;
        if (!name || perr) {
            fprintf(stderr, "witan member add: --name and --pubkey (hex of "
                            "the key type's size) are required\n");
            return 2;
        }
        bool has[LEDGER_ROLE_MAX + 1] = {false};
        for (int i = 1; i + 1 < argc; i++) {
            Witan__Role r;
            if (strcmp(argv[i], "--role") != 0)
                continue;
            if (ledger_role_parse(argv[i + 1], &r)) {
                fprintf(stderr, "witan member add: --role '%s' is invalid "
                                "(see the roles in --help)\n",
                        argv[i + 1]);
                return 2;
            }
            has[r] = true;
        }
        for (int r = 1; r <= LEDGER_ROLE_MAX; r++)
            if (has[r])
                roles[n_roles++] = (Witan__Role)r;
        add.name = (char *)name;
        add.key_type = key_type;
        add.pubkey = (ProtobufCBinaryData){key_size, key};
        add.n_roles = n_roles;
        add.roles = roles;
        m.change_case = WITAN__MEMBERSHIP__CHANGE_ADD;
        m.add = &add;
    } else if (strcmp(verb, "remove") == 0) {
        m.change_case = WITAN__MEMBERSHIP__CHANGE_REMOVE;
        m.remove = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, addr};
    } else if (strcmp(verb, "grant") == 0 || strcmp(verb, "revoke") == 0) {
        if (!role) {
            fprintf(stderr, "witan member %s: --role is required\n", verb);
            return 2;
        }
        if (ledger_role_parse(role, &rc.role)) {
            fprintf(stderr, "witan member %s: --role '%s' is invalid (see "
                            "the roles in --help)\n",
                    verb, role);
            return 2;
        }
        rc.address = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, addr};
        if (verb[0] == 'g') {
            m.change_case = WITAN__MEMBERSHIP__CHANGE_GRANT;
            m.grant = &rc;
        } else {
            m.change_case = WITAN__MEMBERSHIP__CHANGE_REVOKE;
            m.revoke = &rc;
        }
    } else if (strcmp(verb, "rotate") == 0) {
        int perr = parse_pubkey(argc, argv, &key_type, key, &key_size);
        if (perr == WITAN_ENOTFOUND)
            fprintf(stderr, "witan member rotate: --pubkey is required\n");
        if (perr)
            return 2;
        rot.address = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, addr};
        rot.key_type = key_type;
        rot.pubkey = (ProtobufCBinaryData){key_size, key};
        m.change_case = WITAN__MEMBERSHIP__CHANGE_ROTATE;
        m.rotate = &rot;
    } else {
        fprintf(stderr, "witan member: unknown verb '%s'\n%s", verb, usage);
        return 2;
    }

    const char *keyfile = cli_flag(argc, argv, "--key");
    if (!keyfile) {
        fprintf(stderr, "witan member: --key (an admin's key file) is "
                        "required\n");
        return 2;
    }
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_MEMBERSHIP;
    body.membership = &m;
    return cli_sign_and_submit(argc, argv, &body);
}
