/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Governance from the command line (spec/governance.md): witan propose,
 * witan vote, witan proposals. Transactions are signed with --key like
 * every other transaction command and waited for: what a person wants back
 * is the proposal's id, or that the vote counted.
 *
 * Text for people; --json prints the protobuf answers as the HTTP gateway
 * does (render/json.c).
 */
#include <string.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "render/render.h"

/* Deadlines given as +N are N blocks past the node's height; this many by
 * default. */
#define CLI_PROPOSAL_DEADLINE_DEFAULT 100

static const char propose_usage[] =
    "usage: witan propose KIND --key PROPOSERKEY [--deadline H|+N]\n"
    "                     [--rationale TEXT] [--rationale-hash HEX] [--json]\n"
    "  kinds and their flags:\n"
    "    add-member --name NAME --pubkey HEX [--key-type ed25519|secp256k1]\n"
    "               [--role R ...]\n"
    "    remove-member --address ADDR\n"
    "    grant|revoke --address ADDR --role R\n"
    "    rotate-key --address ADDR --pubkey HEX [--key-type T]\n"
    "    set-param --param NAME=VALUE [--param NAME=VALUE ...]\n"
    "    retire-contract --contract ID\n"
    "    retire-model --model HASH\n"
    "    add-validator --name NAME --pubkey HEX [--operator ADDR]\n"
    "    remove-validator --pubkey HEX\n"
    "    rotate-validator-key --pubkey HEX --new-pubkey HEX\n"
    "               (validator keys are Ed25519; a change that leaves\n"
    "               fewer than 4 validators needs --allow-no-fault-tolerance)\n"
    "    deploy-contract|replace-contract: the flags of `witan contract\n"
    "               deploy` (--name, --version, --module|--asm, --gas,\n"
    "               --model HASH [trigger flags] ..., --source,\n"
    "               --source-map, ...);\n"
    "               replace-contract also --replaces ID\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "Asks the validators' operators to agree to a change (role proposer).\n"
    "It passes when yes-votes exceed two thirds of the validators, and takes\n"
    "effect at the first checkpoint boundary at least pipeline_depth blocks\n"
    "after; it fails when that can no longer happen, or at the deadline\n"
    "(default +100: 100 blocks past the node's height). Parameters:\n"
    "block_tx_count_max, block_size_max, block_interval_ms, tx_size_max,\n"
    "model_gas_max, block_gas_max, contract_gas_max, within the bounds of\n"
    "spec/genesis.md. A contract deployed by proposal has no operator: only\n"
    "proposals retire or replace it; its id is the Propose transaction's\n"
    "hash. A validator-set change is in force from the first checkpoint\n"
    "boundary at least pipeline_depth + 1 blocks after it took effect; every\n"
    "validator's config must list an added validator's address in peers as\n"
    "NAME=URL.\n"
    "Prints the proposal's id.\n"
    "\n" CLI_NODE_HELP;

static const char vote_usage[] =
    "usage: witan vote ID yes|no|abstain --key OPERATORKEY [--json]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "Votes on proposal ID for every validator the key's account operates\n"
    "(role validator_operator; genesis names each validator's operator).\n"
    "A later vote replaces an earlier one while the proposal is open.\n"
    "\n" CLI_NODE_HELP;

static const char proposals_usage[] =
    "usage: witan proposals list [--limit N] [--cursor HEX] [--json]\n"
    "       witan proposals show ID [--json]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "list: proposals in id order with status and tally, and the parameters\n"
    "in force. show: one proposal with its actions, its votes (the latest\n"
    "per validator, each with its transaction) and its events (outcome and\n"
    "effects).\n"
    "\n" CLI_NODE_HELP;

static const struct cli_opt propose_opts[] = {
    CLI_OPTS_NODE,
    {"--json", false, false},
    {"--key", true, false},
    {"--deadline", true, false},
    {"--rationale", true, false},
    {"--rationale-hash", true, false},
    {"--name", true, false},
    {"--pubkey", true, false},
    {"--key-type", true, false},
    {"--role", true, true},
    {"--address", true, false},
    {"--param", true, true},
    {"--contract", true, false},
    {"--model", true, true},
    {"--operator", true, false},
    {"--new-pubkey", true, false},
    {"--allow-no-fault-tolerance", false, false},
    /* deploy-contract and replace-contract: contract deploy's flags */
    CLI_OPTS_DEPLOYMENT,
    {NULL, false, false}};

static const struct cli_opt vote_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {"--key", true, false},
    {NULL, false, false}};

static const struct cli_opt list_opts[] = {
    CLI_OPTS_NODE,           {"--json", false, false}, {"--limit", true, false},
    {"--cursor", true, false}, {NULL, false, false}};

static const struct cli_opt show_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false}};

/* --- shared ------------------------------------------------------------------ */

static const char *enum_name(const ProtobufCEnumDescriptor *d, int v,
                             const char *prefix)
{
    const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
    if (!e)
        return "UNKNOWN";
    size_t n = strlen(prefix);
    return strncmp(e->name, prefix, n) == 0 ? e->name + n : e->name;
}

static int print_json(const ProtobufCMessage *m)
{
    int err = render_json_print(stdout, m);
    return err ? cli_fail("output", err) : 0;
}

/* Signs, submits, waits; prints the receipt (with `what_id` the proposal's
 * id first). Exit status: 0 only when committed OK. */
static int submit(int argc, char **argv, Witan__TxBody *body, bool json,
                  bool prints_id)
{
    char address[256];
    uint8_t hash[WITAN_HASH_SIZE];
    Witan__Response *tx;
    int rc = cli_sign_submit(argc, argv, body, true, address, sizeof address,
                             hash, &tx);
    if (rc)
        return rc;
    const Witan__TxResponse *t = tx->tx;
    bool ok = t->state == WITAN__TX_STATE__TX_STATE_COMMITTED && t->receipt &&
              t->receipt->status == WITAN__TX_STATUS__TX_STATUS_OK;
    if (json) {
        rc = print_json(&t->base);
    } else {
        if (prints_id && ok)
            printf("proposal %llu\n",
                   (unsigned long long)t->receipt->proposal);
        cli_print_settled(hash, t);
    }
    witan__response__free_unpacked(tx, NULL);
    return rc ? rc : ok ? 0 : 1;
}

/* The node's height, for a relative deadline. */
static int node_height(int argc, char **argv, uint64_t *height)
{
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    Witan__Response *resp;
    if (cli_call(address, &req, 10000, &resp))
        return 1;
    if (cli_response_error("status", resp)) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    *height = resp->status->height;
    witan__response__free_unpacked(resp, NULL);
    return 0;
}

/* --- propose ----------------------------------------------------------------- */

static int parse_pubkey(int argc, char **argv, Witan__KeyType *type,
                        uint8_t *key, size_t *size)
{
    const char *t = cli_flag(argc, argv, "--key-type");
    const char *hex = cli_flag(argc, argv, "--pubkey");
    enum wcrypto_key_type kt = WCRYPTO_KEY_ED25519;
    if ((t && wcrypto_key_type_parse(t, &kt)) || !hex) {
        fprintf(stderr, "witan propose: --pubkey HEX is required (and "
                        "--key-type ed25519 or secp256k1)\n");
        return 2;
    }
    *size = kt == WCRYPTO_KEY_ED25519 ? 32 : 33;
    *type = (Witan__KeyType)kt;
    return cli_parse_hash("propose", "--pubkey", hex, key, *size);
}

static int need_address(int argc, char **argv, uint8_t addr[WITAN_ADDRESS_SIZE])
{
    const char *a = cli_flag(argc, argv, "--address");
    if (!a) {
        fprintf(stderr, "witan propose: --address ADDR is required\n");
        return 2;
    }
    return cli_parse_hash("propose", "--address", a, addr, WITAN_ADDRESS_SIZE);
}

static int cli_propose(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(propose_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_args_check(argc, argv, 2, propose_opts, 0, "propose"))
        return 2;
    const char *kind = argv[1];
    bool json = cli_has_flag(argc, argv, "--json");

    Witan__ProposalAction *actions[WITAN_GOV_ACTION_COUNT_MAX];
    Witan__ProposalAction act[WITAN_GOV_ACTION_COUNT_MAX];
    /* Static: its trigger arrays are large. The process exits after one
     * command, so an early return leaves nothing behind. */
    static struct cli_deployment deployment;
    Witan__Validator val = WITAN__VALIDATOR__INIT;
    Witan__ValidatorKeyRotation vrot = WITAN__VALIDATOR_KEY_ROTATION__INIT;
    uint8_t vkey[32], vnew[32];
    bool deploying = false;
    Witan__ParamChange pc[WITAN_GOV_ACTION_COUNT_MAX];
    char pnames[WITAN_GOV_ACTION_COUNT_MAX][64];
    size_t n = 0;
    Witan__MemberAdd add = WITAN__MEMBER_ADD__INIT;
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    Witan__KeyRotation rot = WITAN__KEY_ROTATION__INIT;
    Witan__Role roles[LEDGER_ROLE_MAX];
    uint8_t addr[WITAN_ADDRESS_SIZE], key[33], id[WITAN_HASH_SIZE];
    size_t key_size;
    Witan__KeyType key_type;
    for (size_t i = 0; i < WITAN_GOV_ACTION_COUNT_MAX; i++) {
        witan__proposal_action__init(&act[i]);
        actions[i] = &act[i];
    }
    int r;
    if (strcmp(kind, "add-member") == 0) {
        const char *name = cli_flag(argc, argv, "--name");
        if (!name) {
            fprintf(stderr, "witan propose add-member: --name is required\n");
            return 2;
        }
        if ((r = parse_pubkey(argc, argv, &key_type, key, &key_size)))
            return r;
        bool has[LEDGER_ROLE_MAX + 1] = {false};
        for (int i = 1; i + 1 < argc; i++) {
            Witan__Role role;
            if (strcmp(argv[i], "--role") != 0)
                continue;
            if (ledger_role_parse(argv[i + 1], &role)) {
                fprintf(stderr, "witan propose: unknown role '%s'\n",
                        argv[i + 1]);
                return 2;
            }
            has[role] = true;
        }
        size_t nr = 0;
        for (int k = 1; k <= LEDGER_ROLE_MAX; k++)
            if (has[k])
                roles[nr++] = (Witan__Role)k;
        add.name = (char *)name;
        add.key_type = key_type;
        add.pubkey = (ProtobufCBinaryData){key_size, key};
        add.n_roles = nr;
        add.roles = roles;
        act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_MEMBER;
        act[n++].add_member = &add;
    } else if (strcmp(kind, "remove-member") == 0) {
        if ((r = need_address(argc, argv, addr)))
            return r;
        act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_MEMBER;
        act[n++].remove_member = (ProtobufCBinaryData){sizeof addr, addr};
    } else if (strcmp(kind, "grant") == 0 || strcmp(kind, "revoke") == 0) {
        const char *role = cli_flag(argc, argv, "--role");
        if ((r = need_address(argc, argv, addr)))
            return r;
        if (!role || ledger_role_parse(role, &rc.role)) {
            fprintf(stderr, "witan propose %s: --role R (a role name) is "
                            "required\n",
                    kind);
            return 2;
        }
        rc.address = (ProtobufCBinaryData){sizeof addr, addr};
        if (kind[0] == 'g') {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_GRANT;
            act[n++].grant = &rc;
        } else {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_REVOKE;
            act[n++].revoke = &rc;
        }
    } else if (strcmp(kind, "rotate-key") == 0) {
        if ((r = need_address(argc, argv, addr)) ||
            (r = parse_pubkey(argc, argv, &key_type, key, &key_size)))
            return r;
        rot.address = (ProtobufCBinaryData){sizeof addr, addr};
        rot.key_type = key_type;
        rot.pubkey = (ProtobufCBinaryData){key_size, key};
        act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_ROTATE_MEMBER_KEY;
        act[n++].rotate_member_key = &rot;
    } else if (strcmp(kind, "set-param") == 0) {
        for (int i = 1; i + 1 < argc; i++) {
            if (strcmp(argv[i], "--param") != 0)
                continue;
            const char *eq = strchr(argv[i + 1], '=');
            size_t len = eq ? (size_t)(eq - argv[i + 1]) : 0;
            if (!eq || len == 0 || len >= sizeof pnames[0]) {
                fprintf(stderr, "witan propose set-param: --param takes "
                                "NAME=VALUE, not '%s'\n",
                        argv[i + 1]);
                return 2;
            }
            if (n == WITAN_GOV_ACTION_COUNT_MAX) {
                fprintf(stderr, "witan propose: at most %d actions\n",
                        WITAN_GOV_ACTION_COUNT_MAX);
                return 2;
            }
            witan__param_change__init(&pc[n]);
            memcpy(pnames[n], argv[i + 1], len);
            pnames[n][len] = '\0';
            pc[n].name = pnames[n];
            if ((r = cli_parse_u64("propose", "--param", eq + 1, UINT64_MAX,
                                   &pc[n].value)))
                return r;
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM;
            act[n].set_param = &pc[n];
            n++;
        }
        if (n == 0) {
            fprintf(stderr, "witan propose set-param: --param NAME=VALUE is "
                            "required\n");
            return 2;
        }
    } else if (strcmp(kind, "retire-contract") == 0 ||
               strcmp(kind, "retire-model") == 0) {
        bool contract = strcmp(kind, "retire-contract") == 0;
        const char *flag = contract ? "--contract" : "--model";
        const char *hex = cli_flag(argc, argv, flag);
        if (!hex) {
            fprintf(stderr, "witan propose %s: %s (64 hex digits) is "
                            "required\n",
                    kind, flag);
            return 2;
        }
        if ((r = cli_parse_hash("propose", flag, hex, id, sizeof id)))
            return r;
        if (contract) {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT;
            act[n++].retire_contract = (ProtobufCBinaryData){sizeof id, id};
        } else {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL;
            act[n++].retire_model = (ProtobufCBinaryData){sizeof id, id};
        }
    } else if (strcmp(kind, "add-validator") == 0 ||
               strcmp(kind, "remove-validator") == 0 ||
               strcmp(kind, "rotate-validator-key") == 0) {
        const char *pub = cli_flag(argc, argv, "--pubkey");
        if (!pub) {
            fprintf(stderr, "witan propose %s: --pubkey HEX (the validator's "
                            "Ed25519 key) is required\n",
                    kind);
            return 2;
        }
        if ((r = cli_parse_hash("propose", "--pubkey", pub, vkey, 32)))
            return r;
        if (kind[0] == 'a') {
            const char *name = cli_flag(argc, argv, "--name"),
                       *op = cli_flag(argc, argv, "--operator");
            if (!name) {
                fprintf(stderr, "witan propose add-validator: --name is "
                                "required\n");
                return 2;
            }
            if (op && (r = cli_parse_hash("propose", "--operator", op, addr,
                                          WITAN_ADDRESS_SIZE)))
                return r;
            val.name = (char *)name;
            val.pubkey = (ProtobufCBinaryData){32, vkey};
            if (op)
                val.operator_ = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, addr};
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR;
            act[n++].add_validator = &val;
        } else if (kind[0] == 'r' && kind[1] == 'e') {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR;
            act[n++].remove_validator = (ProtobufCBinaryData){32, vkey};
        } else {
            const char *np = cli_flag(argc, argv, "--new-pubkey");
            if (!np) {
                fprintf(stderr, "witan propose rotate-validator-key: "
                                "--new-pubkey HEX is required\n");
                return 2;
            }
            if ((r = cli_parse_hash("propose", "--new-pubkey", np, vnew, 32)))
                return r;
            vrot.pubkey = (ProtobufCBinaryData){32, vkey};
            vrot.new_pubkey = (ProtobufCBinaryData){32, vnew};
            act[n].action_case =
                WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY;
            act[n++].rotate_validator_key = &vrot;
        }
    } else if (strcmp(kind, "deploy-contract") == 0 ||
               strcmp(kind, "replace-contract") == 0) {
        bool replace = kind[0] == 'r';
        if (replace != (cli_flag(argc, argv, "--replaces") != NULL)) {
            fprintf(stderr, "witan propose %s: %s\n", kind,
                    replace ? "--replaces ID (the contract replaced) is "
                              "required"
                            : "--replaces is for replace-contract");
            return 2;
        }
        if ((r = cli_deployment_parse(argc, argv, replace
                                                      ? "propose replace-contract"
                                                      : "propose deploy-contract",
                                      &deployment)))
            return r;
        deploying = true;
        if (replace) {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT;
            act[n++].replace_contract = &deployment.d;
        } else {
            act[n].action_case = WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT;
            act[n++].deploy_contract = &deployment.d;
        }
    } else {
        fprintf(stderr, "witan propose: unknown kind '%s'\n%s", kind,
                propose_usage);
        return 2;
    }

    Witan__Propose p = WITAN__PROPOSE__INIT;
    p.n_actions = n;
    p.actions = actions;
    p.allow_no_fault_tolerance =
        cli_has_flag(argc, argv, "--allow-no-fault-tolerance");
    const char *dl = cli_flag(argc, argv, "--deadline");
    uint64_t ahead = CLI_PROPOSAL_DEADLINE_DEFAULT;
    if (dl && dl[0] != '+') {
        if ((r = cli_parse_u64("propose", "--deadline", dl, UINT64_MAX,
                               &p.deadline)))
            return r;
    } else {
        uint64_t height;
        if (dl && (r = cli_parse_u64("propose", "--deadline", dl + 1,
                                     WITAN_GOV_DEADLINE_MAX, &ahead)))
            return r;
        if (node_height(argc, argv, &height))
            return 1;
        p.deadline = height + ahead;
    }
    const char *rationale = cli_flag(argc, argv, "--rationale");
    p.rationale = (char *)(rationale ? rationale : "");
    uint8_t rh[WITAN_HASH_SIZE];
    const char *rhex = cli_flag(argc, argv, "--rationale-hash");
    if (rhex) {
        if ((r = cli_parse_hash("propose", "--rationale-hash", rhex, rh,
                                sizeof rh)))
            return r;
        p.rationale_hash = (ProtobufCBinaryData){sizeof rh, rh};
    }
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_PROPOSE;
    body.propose = &p;
    r = submit(argc, argv, &body, json, true);
    if (deploying)
        cli_deployment_free(&deployment);
    return r;
}

/* --- vote ---------------------------------------------------------------------- */

static int cli_vote(int argc, char **argv)
{
    if (argc < 3 || cli_wants_help(argc, argv)) {
        fputs(vote_usage, argc < 3 && !cli_wants_help(argc, argv) ? stderr
                                                                 : stdout);
        return cli_wants_help(argc, argv) ? 0 : 2;
    }
    if (cli_args_check(argc, argv, 1, vote_opts, 2, "vote"))
        return 2;
    const char *id_text, *choice;
    if (cli_positional(argc, argv, 1, vote_opts, 0, &id_text) ||
        cli_positional(argc, argv, 1, vote_opts, 1, &choice)) {
        fputs(vote_usage, stderr);
        return 2;
    }
    Witan__CastVote v = WITAN__CAST_VOTE__INIT;
    int r = cli_parse_u64("vote", "ID", id_text, UINT64_MAX, &v.proposal);
    if (r)
        return r;
    if (strcmp(choice, "yes") == 0)
        v.choice = WITAN__VOTE_CHOICE__VOTE_YES;
    else if (strcmp(choice, "no") == 0)
        v.choice = WITAN__VOTE_CHOICE__VOTE_NO;
    else if (strcmp(choice, "abstain") == 0)
        v.choice = WITAN__VOTE_CHOICE__VOTE_ABSTAIN;
    else {
        fprintf(stderr, "witan vote: the choice is yes, no or abstain, not "
                        "'%s'\n",
                choice);
        return 2;
    }
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_VOTE;
    body.vote = &v;
    return submit(argc, argv, &body, cli_has_flag(argc, argv, "--json"),
                  false);
}

/* --- proposals ------------------------------------------------------------------- */

static void hexline(const char *label, const ProtobufCBinaryData *b)
{
    char hex[2 * WITAN_HASH_SIZE + 1];
    size_t n = b->len > WITAN_HASH_SIZE ? WITAN_HASH_SIZE : b->len;
    witan_hex_encode(b->data, n, hex);
    printf("%s%s", label, hex);
}

static void print_action(const Witan__ProposalAction *a)
{
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_MEMBER:
        printf("add member %s", a->add_member->name);
        for (size_t i = 0; i < a->add_member->n_roles; i++)
            printf(" %s", ledger_role_name(a->add_member->roles[i]));
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_MEMBER:
        hexline("remove member ", &a->remove_member);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_GRANT:
        printf("grant %s to ", ledger_role_name(a->grant->role));
        hexline("", &a->grant->address);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_REVOKE:
        printf("revoke %s from ", ledger_role_name(a->revoke->role));
        hexline("", &a->revoke->address);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_MEMBER_KEY:
        hexline("rotate the key of ", &a->rotate_member_key->address);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM:
        printf("set %s = %llu", a->set_param->name,
               (unsigned long long)a->set_param->value);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT:
        hexline("retire contract ", &a->retire_contract);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL:
        hexline("retire model ", &a->retire_model);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR:
        printf("add validator %s ", a->add_validator->name);
        hexline("", &a->add_validator->pubkey);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR:
        hexline("remove validator ", &a->remove_validator);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY:
        hexline("rotate validator ", &a->rotate_validator_key->pubkey);
        hexline(" to ", &a->rotate_validator_key->new_pubkey);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT:
    case WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT: {
        const Witan__DeployContract *d =
            a->action_case == WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT
                ? a->deploy_contract
                : a->replace_contract;
        printf("%s contract %s v%u", d->replaces.len ? "replace" : "deploy",
               d->name, d->version);
        if (d->replaces.len)
            hexline(", replacing ", &d->replaces);
        break;
    }
    default:
        printf("(unknown action)");
    }
}

static void print_summary(const Witan__Proposal *p)
{
    printf("%llu  %-8s yes %u no %u abstain %u of %u  deadline %llu",
           (unsigned long long)p->id,
           enum_name(&witan__proposal_status__descriptor, p->status,
                     "PROPOSAL_"),
           p->yes, p->no, p->abstain, p->validator_count,
           (unsigned long long)p->deadline);
    if (p->effect_height)
        printf("  effect at %llu", (unsigned long long)p->effect_height);
    printf("\n");
}

static void print_params(const Witan__Params *p, uint64_t height)
{
    printf("parameters in force after height %llu: block_tx_count_max %u, "
           "block_size_max %u, block_interval_ms %u, tx_size_max %u, "
           "model_gas_max %llu, block_gas_max %llu, contract_gas_max %llu\n",
           (unsigned long long)height, p->block_tx_count_max,
           p->block_size_max, p->block_interval_ms, p->tx_size_max,
           (unsigned long long)p->model_gas_max,
           (unsigned long long)p->block_gas_max,
           (unsigned long long)p->contract_gas_max);
}

static void print_show(const Witan__ProposalInfo *info)
{
    const Witan__Proposal *p = info->proposal;
    printf("proposal %llu: %s\n", (unsigned long long)p->id,
           enum_name(&witan__proposal_status__descriptor, p->status,
                     "PROPOSAL_"));
    hexline("proposer   ", &p->proposer);
    hexline("\ntransaction ", &p->tx_hash);
    printf("\nproposed at %llu, deadline %llu\n",
           (unsigned long long)p->height, (unsigned long long)p->deadline);
    printf("tally       yes %u, no %u, abstain %u of %u validators\n", p->yes,
           p->no, p->abstain, p->validator_count);
    if (p->closed_height)
        printf("closed at   %llu\n", (unsigned long long)p->closed_height);
    if (p->effect_height)
        printf("effect at   %llu (the end of that block)\n",
               (unsigned long long)p->effect_height);
    if (p->rationale[0])
        printf("rationale   %s\n", p->rationale);
    if (p->rationale_hash.len)
        hexline("rationale hash ", &p->rationale_hash), printf("\n");
    printf("actions:\n");
    for (size_t i = 0; i < p->n_actions; i++) {
        printf("  %zu. ", i);
        print_action(p->actions[i]);
        printf("\n");
    }
    printf("votes:\n");
    for (size_t i = 0; i < info->n_votes; i++) {
        const Witan__ProposalVote *v = info->votes[i];
        printf("  validator %u: %-7s at height %llu, ", v->validator,
               enum_name(&witan__vote_choice__descriptor, v->choice, "VOTE_"),
               (unsigned long long)v->height);
        hexline("tx ", &v->tx_hash);
        printf("\n");
    }
    printf("events:\n");
    for (size_t i = 0; i < info->n_events; i++) {
        const Witan__Event *e = info->events[i];
        printf("  height %llu #%u %.*s", (unsigned long long)e->height,
               e->sequence, (int)e->topic.len, (const char *)e->topic.data);
        for (size_t k = 0; k < e->n_values; k++)
            printf(" %lld", (long long)e->values[k]);
        printf("\n");
    }
}

static int query(int argc, char **argv, Witan__ProposalsRequest *q,
                 Witan__Response **out)
{
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PROPOSALS;
    req.proposals = q;
    if (cli_call(address, &req, 10000, out))
        return 1;
    if (cli_response_error("proposals", *out)) {
        witan__response__free_unpacked(*out, NULL);
        return 1;
    }
    return 0;
}

static int cli_proposals(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(proposals_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    bool json = cli_has_flag(argc, argv, "--json");
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    uint8_t cursor[8];
    int r;
    if (strcmp(verb, "list") == 0) {
        if (cli_args_check(argc, argv, 2, list_opts, 0, "proposals list"))
            return 2;
        const char *lim = cli_flag(argc, argv, "--limit");
        const char *cur = cli_flag(argc, argv, "--cursor");
        uint64_t limit = 0;
        if (lim && (r = cli_parse_u64("proposals", "--limit", lim,
                                      WITAN_QUERY_PAGE_COUNT_MAX, &limit)))
            return r;
        q.limit = (uint32_t)limit;
        if (cur) {
            if ((r = cli_parse_hash("proposals", "--cursor", cur, cursor,
                                    sizeof cursor)))
                return r;
            q.cursor = (ProtobufCBinaryData){sizeof cursor, cursor};
        }
    } else if (strcmp(verb, "show") == 0) {
        if (cli_args_check(argc, argv, 2, show_opts, 1, "proposals show"))
            return 2;
        const char *id;
        if (cli_positional(argc, argv, 2, show_opts, 0, &id)) {
            fputs(proposals_usage, stderr);
            return 2;
        }
        if ((r = cli_parse_u64("proposals", "ID", id, UINT64_MAX, &q.id)))
            return r;
        if (q.id == 0) {
            fprintf(stderr, "witan proposals: ids start at 1\n");
            return 2;
        }
    } else {
        fprintf(stderr, "witan proposals: unknown verb '%s'\n%s", verb,
                proposals_usage);
        return 2;
    }
    Witan__Response *resp;
    if (query(argc, argv, &q, &resp))
        return 1;
    const Witan__ProposalsResponse *pr = resp->proposals;
    if (json) {
        r = print_json(&pr->base);
    } else if (q.id) {
        r = 0;
        print_show(pr->proposals[0]);
    } else {
        r = 0;
        for (size_t i = 0; i < pr->n_proposals; i++)
            print_summary(pr->proposals[i]->proposal);
        if (pr->n_proposals == 0)
            printf("no proposals\n");
        if (pr->next_cursor.len == 8) {
            char hex[17];
            witan_hex_encode(pr->next_cursor.data, 8, hex);
            printf("more: --cursor %s\n", hex);
        }
        if (pr->params)
            print_params(pr->params, pr->height);
    }
    witan__response__free_unpacked(resp, NULL);
    return r;
}

/* --- validators ------------------------------------------------------------------- */

static const char validators_usage[] =
    "usage: witan validators [--at HEIGHT] [--json]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR]\n"
    "\n"
    "The validator set in force at HEIGHT (default: the next block): each\n"
    "validator's index, name, Ed25519 key and operator, and a change that\n"
    "is not in force yet with the height it takes effect from\n"
    "(spec/governance.md section 12).\n"
    "\n" CLI_NODE_HELP;

static const struct cli_opt validators_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {"--at", true, false},
    {NULL, false, false}};

static void print_set(const char *title, const Witan__ValidatorSet *v)
{
    printf("%s from height %llu: %zu validators\n", title,
           (unsigned long long)v->first_height, v->n_validators);
    for (size_t i = 0; i < v->n_validators; i++) {
        const Witan__Validator *x = v->validators[i];
        printf("  %2zu %-16s ", i, x->name);
        hexline("", &x->pubkey);
        if (x->operator_.len)
            hexline("  operator ", &x->operator_);
        printf("\n");
    }
}

static int cli_validators(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(validators_usage, stdout);
        return 0;
    }
    if (cli_args_check(argc, argv, 1, validators_opts, 0, "validators"))
        return 2;
    Witan__ValidatorsRequest q = WITAN__VALIDATORS_REQUEST__INIT;
    const char *at = cli_flag(argc, argv, "--at");
    if (at && cli_parse_u64("validators", "--at", at, UINT64_MAX, &q.height))
        return 2;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_VALIDATORS;
    req.validators = &q;
    Witan__Response *resp;
    if (cli_call(address, &req, 10000, &resp))
        return 1;
    if (cli_response_error("validators", resp)) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    if (cli_has_flag(argc, argv, "--json")) {
        print_json(&resp->validators->base);
    } else {
        print_set("in force", resp->validators->set);
        if (resp->validators->pending)
            print_set("pending", resp->validators->pending);
    }
    witan__response__free_unpacked(resp, NULL);
    return 0;
}

int cli_governance(int argc, char **argv)
{
    if (strcmp(argv[0], "validators") == 0)
        return cli_validators(argc, argv);
    if (strcmp(argv[0], "propose") == 0)
        return cli_propose(argc, argv);
    if (strcmp(argv[0], "vote") == 0)
        return cli_vote(argc, argv);
    return cli_proposals(argc, argv);
}
