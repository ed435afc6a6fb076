/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Genesis: the JSON file people edit, the Genesis message it stands for, and
 * the genesis hash (spec/genesis.md).
 *
 * The JSON is read into a temporary message whose strings point into the
 * parsed document, validated, packed canonically and unpacked again, so that
 * the caller gets one protobuf-c-owned message and the hash is taken over
 * exactly the bytes any other implementation would produce.
 */
#include <string.h>

#include "ledger/ledger.h"

static const char *const role_names[] = {
    [WITAN__ROLE__ROLE_DATA_PROVIDER] = "data_provider",
    [WITAN__ROLE__ROLE_MODEL_OPERATOR] = "model_operator",
    [WITAN__ROLE__ROLE_PROPOSER] = "proposer",
    [WITAN__ROLE__ROLE_AUDITOR] = "auditor",
    [WITAN__ROLE__ROLE_ADMIN] = "admin",
    [WITAN__ROLE__ROLE_CONTRACT_OPERATOR] = "contract_operator",
    [WITAN__ROLE__ROLE_VALIDATOR_OPERATOR] = "validator_operator",
};

const char *ledger_role_name(Witan__Role role)
{
    if ((unsigned)role < WITAN_ARRAY_COUNT(role_names) && role_names[role])
        return role_names[role];
    return "unknown";
}

int ledger_role_parse(const char *name, Witan__Role *out)
{
    for (unsigned r = 1; r < WITAN_ARRAY_COUNT(role_names); r++) {
        if (strcmp(name, role_names[r]) == 0) {
            *out = (Witan__Role)r;
            return WITAN_OK;
        }
    }
    return WITAN_EINVAL;
}

struct gen_ctx {
    const witan_json *doc;
    char *why;
    size_t why_size;
};

static int bad(struct gen_ctx *c, int err, const char *fmt, const char *a)
{
    snprintf(c->why, c->why_size, fmt, a);
    return err;
}

/* Refuses members of `obj` not in `known`: a misspelt field must not be
 * silently ignored in the file that defines a chain. */
static int only_known(struct gen_ctx *c, witan_json_ref obj,
                      const char *const *known, const char *where)
{
    if (witan_json_type_of(c->doc, obj) != WITAN_JSON_OBJECT)
        return bad(c, WITAN_EINVAL, "%s must be an object", where);
    for (size_t i = 0; i < witan_json_count(c->doc, obj); i++) {
        const char *key;
        witan_json_at(c->doc, obj, i, &key);
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, key) == 0;
        if (!ok) {
            snprintf(c->why, c->why_size, "unknown field \"%s\" in %s", key,
                     where);
            return WITAN_EINVAL;
        }
    }
    return WITAN_OK;
}

static int get_string(struct gen_ctx *c, witan_json_ref obj, const char *key,
                      const char **out)
{
    if (witan_json_string(c->doc, witan_json_get(c->doc, obj, key), out))
        return bad(c, WITAN_EINVAL, "\"%s\" must be a string", key);
    return WITAN_OK;
}

static int get_uint(struct gen_ctx *c, witan_json_ref obj, const char *key,
                    uint64_t max, uint64_t dflt, uint64_t *out)
{
    witan_json_ref r = witan_json_get(c->doc, obj, key);
    if (r == WITAN_JSON_NONE) {
        *out = dflt;
        return WITAN_OK;
    }
    int64_t v;
    if (witan_json_int(c->doc, r, &v) || v < 0 || (uint64_t)v > max) {
        snprintf(c->why, c->why_size,
                 "\"%s\" must be an integer from 0 to %llu", key,
                 (unsigned long long)max);
        return WITAN_ERANGE;
    }
    *out = (uint64_t)v;
    return WITAN_OK;
}

static int get_key(struct gen_ctx *c, witan_json_ref obj, size_t size,
                   uint8_t *out, const char *who)
{
    const char *hex;
    if (get_string(c, obj, "pubkey", &hex))
        return WITAN_EINVAL;
    if (strlen(hex) != 2 * size || witan_hex_decode(hex, out, size))
        return bad(c, WITAN_EKEY, "public key of %s is not valid hex of the "
                                  "right length", who);
    return WITAN_OK;
}

static bool printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool chain_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WITAN_CHAIN_ID_SIZE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* Storage for the temporary message: fixed maxima, so nothing to free but
 * this one block. */
struct gen_tmp {
    Witan__Genesis g;
    Witan__Params params;
    Witan__Validator validators[WITAN_VALIDATOR_COUNT_MAX];
    Witan__Validator *validator_ptrs[WITAN_VALIDATOR_COUNT_MAX];
    uint8_t validator_keys[WITAN_VALIDATOR_COUNT_MAX]
                          [WCRYPTO_ED25519_PUBKEY_SIZE];
    Witan__Member members[WITAN_MEMBER_COUNT_MAX];
    Witan__Member *member_ptrs[WITAN_MEMBER_COUNT_MAX];
    uint8_t member_keys[WITAN_MEMBER_COUNT_MAX][WITAN_PUBKEY_SIZE_MAX];
    Witan__Role member_roles[WITAN_MEMBER_COUNT_MAX][LEDGER_ROLE_MAX];
    uint8_t validator_ops[WITAN_VALIDATOR_COUNT_MAX][WITAN_ADDRESS_SIZE];
    uint8_t member_addrs[WITAN_MEMBER_COUNT_MAX][WITAN_ADDRESS_SIZE];
};

static int parse_params(struct gen_ctx *c, witan_json_ref r, Witan__Params *p)
{
    static const char *const known[] = {
        "block_tx_count_max", "block_size_max",      "block_interval_ms",
        "pipeline_depth",     "checkpoint_interval", "tx_size_max",
        "model_gas_max",      "block_gas_max",       "contract_gas_max",
        "membership_by_governance_only", NULL};
    if (r != WITAN_JSON_NONE && only_known(c, r, known, "params"))
        return WITAN_EINVAL;
    uint64_t v[9];
    int err = 0;
    err = err ? err : get_uint(c, r, "block_tx_count_max", WITAN_BLOCK_TX_COUNT_MAX, 1000, &v[0]);
    err = err ? err : get_uint(c, r, "block_size_max", WITAN_BLOCK_SIZE_MAX, 4 * 1024 * 1024, &v[1]);
    err = err ? err : get_uint(c, r, "block_interval_ms", 60000, 1000, &v[2]);
    err = err ? err : get_uint(c, r, "pipeline_depth", WITAN_PIPELINE_DEPTH_MAX, 1, &v[3]);
    err = err ? err : get_uint(c, r, "checkpoint_interval", WITAN_CHECKPOINT_INTERVAL_MAX, 100, &v[4]);
    err = err ? err : get_uint(c, r, "tx_size_max", WITAN_TX_SIZE_MAX, WITAN_TX_SIZE_DEFAULT, &v[5]);
    err = err ? err : get_uint(c, r, "model_gas_max", WITAN_GAS_MAX, 10000000, &v[6]);
    err = err ? err : get_uint(c, r, "block_gas_max", WITAN_GAS_MAX, 1000000000, &v[7]);
    err = err ? err : get_uint(c, r, "contract_gas_max", WITAN_GAS_MAX, 10000000, &v[8]);
    if (err)
        return err;
    witan_json_ref gov = witan_json_get(c->doc, r, "membership_by_governance_only");
    int only = 0;
    if (gov != WITAN_JSON_NONE && witan_json_bool(c->doc, gov, &only))
        return bad(c, WITAN_EINVAL, "%s",
                   "\"membership_by_governance_only\" must be true or false");
    p->membership_by_governance_only = only != 0;
    p->block_tx_count_max = (uint32_t)v[0];
    p->block_size_max = (uint32_t)v[1];
    p->block_interval_ms = (uint32_t)v[2];
    p->pipeline_depth = (uint32_t)v[3];
    p->checkpoint_interval = (uint32_t)v[4];
    p->tx_size_max = (uint32_t)v[5];
    p->model_gas_max = v[6];
    p->block_gas_max = v[7];
    p->contract_gas_max = v[8];
    /* One rule for genesis and governance (spec/governance.md, section 6). */
    char inner[160];
    if (!ledger_params_ok(p, inner, sizeof inner))
        return bad(c, WITAN_ERANGE, "params: %s", inner);
    return WITAN_OK;
}

bool ledger_params_ok(const Witan__Params *p, char *why, size_t why_size)
{
    const char *fault = NULL;
    if (p->block_tx_count_max < 1 ||
        p->block_tx_count_max > WITAN_BLOCK_TX_COUNT_MAX)
        fault = "block_tx_count_max must be 1 to 10000";
    else if (p->block_size_max < 65536 ||
             p->block_size_max > WITAN_BLOCK_SIZE_MAX)
        fault = "block_size_max must be 65536 to 16 MiB";
    else if (p->block_interval_ms < 1 || p->block_interval_ms > 60000)
        fault = "block_interval_ms must be 1 to 60000";
    else if (p->pipeline_depth < 1 ||
             p->pipeline_depth > WITAN_PIPELINE_DEPTH_MAX)
        fault = "pipeline_depth must be 1 to 8";
    else if (p->checkpoint_interval < 1 ||
             p->checkpoint_interval > WITAN_CHECKPOINT_INTERVAL_MAX)
        fault = "checkpoint_interval must be 1 to 1024";
    else if (p->tx_size_max < 256 || p->tx_size_max > WITAN_TX_SIZE_MAX ||
             p->tx_size_max > p->block_size_max)
        fault = "tx_size_max must be 256 to 1 MiB and at most block_size_max";
    else if (p->model_gas_max < 1 || p->model_gas_max > WITAN_GAS_MAX ||
             p->contract_gas_max < 1 || p->contract_gas_max > WITAN_GAS_MAX ||
             p->block_gas_max > WITAN_GAS_MAX)
        fault = "model_gas_max, contract_gas_max and block_gas_max must be 1 "
              "to 2^40";
    else if (p->block_gas_max < p->model_gas_max ||
             p->block_gas_max < p->contract_gas_max)
        fault = "block_gas_max must be at least model_gas_max and "
              "contract_gas_max";
    if (fault && why)
        snprintf(why, why_size, "%s", fault);
    return fault == NULL;
}

static int parse_validators(struct gen_ctx *c, witan_json_ref arr,
                            struct gen_tmp *t)
{
    size_t n = witan_json_count(c->doc, arr);
    if (witan_json_type_of(c->doc, arr) != WITAN_JSON_ARRAY || n == 0 ||
        n > WITAN_VALIDATOR_COUNT_MAX)
        return bad(c, WITAN_EINVAL, "%s",
                   "\"validators\" must be a list of 1 to 64 validators");
    static const char *const known[] = {"name", "pubkey", "operator", NULL};
    for (size_t i = 0; i < n; i++) {
        witan_json_ref v = witan_json_at(c->doc, arr, i, NULL);
        Witan__Validator *m = &t->validators[i];
        witan__validator__init(m);
        const char *name;
        if (only_known(c, v, known, "a validator") ||
            get_string(c, v, "name", &name))
            return WITAN_EINVAL;
        if (!printable(name, WITAN_NAME_SIZE_MAX))
            return bad(c, WITAN_EINVAL, "validator name \"%s\" is empty, too "
                                        "long or not printable", name);
        if (get_key(c, v, WCRYPTO_ED25519_PUBKEY_SIZE, t->validator_keys[i],
                    name))
            return WITAN_EKEY;
        wcrypto_pubkey pk;
        if (wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, t->validator_keys[i],
                                 WCRYPTO_ED25519_PUBKEY_SIZE, &pk))
            return bad(c, WITAN_EKEY, "validator %s: invalid Ed25519 key",
                       name);
        for (size_t j = 0; j < i; j++)
            if (memcmp(t->validator_keys[j], t->validator_keys[i],
                       WCRYPTO_ED25519_PUBKEY_SIZE) == 0)
                return bad(c, WITAN_EEXIST, "validator %s: key listed twice",
                           name);
        m->name = (char *)name;
        m->pubkey = (ProtobufCBinaryData){WCRYPTO_ED25519_PUBKEY_SIZE,
                                          t->validator_keys[i]};
        witan_json_ref op = witan_json_get(c->doc, v, "operator");
        if (op != WITAN_JSON_NONE) {
            const char *hex;
            if (witan_json_string(c->doc, op, &hex) ||
                strlen(hex) != 2 * WITAN_ADDRESS_SIZE ||
                witan_hex_decode(hex, t->validator_ops[i], WITAN_ADDRESS_SIZE))
                return bad(c, WITAN_EINVAL,
                           "validator %s: \"operator\" must be a member's "
                           "address, 40 hex digits",
                           name);
            m->operator_ = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE,
                                                 t->validator_ops[i]};
        }
        t->validator_ptrs[i] = m;
    }
    t->g.n_validators = n;
    t->g.validators = t->validator_ptrs;
    return WITAN_OK;
}

static int parse_members(struct gen_ctx *c, witan_json_ref arr,
                         struct gen_tmp *t)
{
    if (arr == WITAN_JSON_NONE)
        return WITAN_OK;
    size_t n = witan_json_count(c->doc, arr);
    if (witan_json_type_of(c->doc, arr) != WITAN_JSON_ARRAY ||
        n > WITAN_MEMBER_COUNT_MAX)
        return bad(c, WITAN_EINVAL, "%s",
                   "\"members\" must be a list of at most 4096 members");
    static const char *const known[] = {"name", "key_type", "pubkey", "roles",
                                        NULL};
    for (size_t i = 0; i < n; i++) {
        witan_json_ref v = witan_json_at(c->doc, arr, i, NULL);
        Witan__Member *m = &t->members[i];
        witan__member__init(m);
        const char *name, *type_name;
        enum wcrypto_key_type type;
        if (only_known(c, v, known, "a member") ||
            get_string(c, v, "name", &name) ||
            get_string(c, v, "key_type", &type_name))
            return WITAN_EINVAL;
        if (!printable(name, WITAN_NAME_SIZE_MAX))
            return bad(c, WITAN_EINVAL, "member name \"%s\" is empty, too "
                                        "long or not printable", name);
        if (wcrypto_key_type_parse(type_name, &type))
            return bad(c, WITAN_EKEYTYPE, "member %s: key_type must be "
                                          "ed25519 or secp256k1", name);
        size_t key_size = type == WCRYPTO_KEY_ED25519
                              ? WCRYPTO_ED25519_PUBKEY_SIZE
                              : WCRYPTO_SECP256K1_PUBKEY_SIZE;
        wcrypto_pubkey pk;
        if (get_key(c, v, key_size, t->member_keys[i], name) ||
            wcrypto_pubkey_parse(type, t->member_keys[i], key_size, &pk))
            return bad(c, WITAN_EKEY, "member %s: invalid public key", name);
        wcrypto_address(&pk, t->member_addrs[i]);
        for (size_t j = 0; j < i; j++)
            if (memcmp(t->member_addrs[j], t->member_addrs[i],
                       WITAN_ADDRESS_SIZE) == 0)
                return bad(c, WITAN_EEXIST, "member %s: key listed twice",
                           name);

        witan_json_ref roles = witan_json_get(c->doc, v, "roles");
        size_t rn = witan_json_count(c->doc, roles);
        if (witan_json_type_of(c->doc, roles) != WITAN_JSON_ARRAY ||
            rn > LEDGER_ROLE_MAX) /* every role once */
            return bad(c, WITAN_EINVAL, "member %s: \"roles\" must be a list",
                       name);
        /* Kept sorted and unique: the canonical form of a role set. */
        bool has[LEDGER_ROLE_MAX + 1] = {false};
        for (size_t k = 0; k < rn; k++) {
            const char *rname;
            Witan__Role role;
            if (witan_json_string(c->doc, witan_json_at(c->doc, roles, k, NULL),
                                  &rname) ||
                ledger_role_parse(rname, &role))
                return bad(c, WITAN_EINVAL,
                           "member %s: unknown role (data_provider, "
                           "model_operator, proposer, auditor, admin, "
                           "contract_operator, validator_operator)",
                           name);
            has[role] = true;
        }
        size_t count = 0;
        for (unsigned r = 1; r <= LEDGER_ROLE_MAX; r++)
            if (has[r])
                t->member_roles[i][count++] = (Witan__Role)r;
        m->name = (char *)name;
        m->key_type = (Witan__KeyType)type;
        m->pubkey = (ProtobufCBinaryData){key_size, t->member_keys[i]};
        m->n_roles = count;
        m->roles = t->member_roles[i];
        t->member_ptrs[i] = m;
    }
    t->g.n_members = n;
    t->g.members = t->member_ptrs;
    return WITAN_OK;
}

/* A validator's operator is a genesis member with the validator_operator
 * role: the account that votes for it (spec/governance.md, section 2). */
static int check_operators(struct gen_ctx *c, const struct gen_tmp *t)
{
    for (size_t i = 0; i < t->g.n_validators; i++) {
        const Witan__Validator *v = t->g.validators[i];
        if (v->operator_.len == 0)
            continue;
        const Witan__Member *m = NULL;
        for (size_t j = 0; j < t->g.n_members && !m; j++)
            if (memcmp(t->member_addrs[j], v->operator_.data,
                       WITAN_ADDRESS_SIZE) == 0)
                m = t->g.members[j];
        bool role = false;
        for (size_t r = 0; m && r < m->n_roles; r++)
            role |= m->roles[r] == WITAN__ROLE__ROLE_VALIDATOR_OPERATOR;
        if (!m || !role)
            return bad(c, WITAN_EINVAL,
                       "validator %s: its operator must be a member listed "
                       "here with the validator_operator role",
                       v->name);
    }
    return WITAN_OK;
}

int ledger_genesis_parse(const char *json, size_t size, Witan__Genesis **out,
                         char *why, size_t why_size)
{
    *out = NULL;
    witan_json *doc;
    char jwhy[160];
    int err = witan_json_parse(json, size, &doc, jwhy, sizeof jwhy);
    if (err) {
        snprintf(why, why_size, "genesis is not valid JSON: %s", jwhy);
        return err;
    }
    struct gen_tmp *t = calloc(1, sizeof *t);
    if (!t) {
        witan_json_free(doc);
        return WITAN_ENOMEM;
    }
    struct gen_ctx c = {doc, why, why_size};
    static const char *const known[] = {"protocol_version", "chain_id",
                                        "genesis_time_ms",  "validators",
                                        "members",          "params",
                                        NULL};
    witan__genesis__init(&t->g);
    witan__params__init(&t->params);
    const char *chain_id;
    uint64_t version;
    int64_t time_ms = 0;
    witan_json_ref root = WITAN_JSON_ROOT;
    err = only_known(&c, root, known, "the genesis");
    if (!err)
        err = get_uint(&c, root, "protocol_version", UINT32_MAX, 0, &version);
    if (!err && version != WITAN_PROTOCOL_VERSION) {
        snprintf(why, why_size,
                 "genesis protocol_version is %llu; this build speaks %d",
                 (unsigned long long)version, WITAN_PROTOCOL_VERSION);
        err = WITAN_EVERSION;
    }
    if (!err)
        err = get_string(&c, root, "chain_id", &chain_id);
    if (!err && !chain_id_ok(chain_id))
        err = bad(&c, WITAN_EINVAL, "%s",
                  "chain_id must be 1 to 64 letters, digits, '-', '_' or '.'");
    if (!err && witan_json_int(doc, witan_json_get(doc, root, "genesis_time_ms"),
                               &time_ms))
        err = bad(&c, WITAN_EINVAL, "%s",
                  "\"genesis_time_ms\" must be an integer (Unix ms, UTC)");
    if (!err)
        err = parse_validators(&c, witan_json_get(doc, root, "validators"), t);
    if (!err)
        err = parse_members(&c, witan_json_get(doc, root, "members"), t);
    if (!err)
        err = check_operators(&c, t);
    if (!err)
        err = parse_params(&c, witan_json_get(doc, root, "params"), &t->params);
    if (!err) {
        t->g.protocol_version = (uint32_t)version;
        t->g.chain_id = (char *)chain_id;
        t->g.genesis_time_ms = time_ms;
        t->g.params = &t->params;
        size_t packed_size = witan__genesis__get_packed_size(&t->g);
        uint8_t *buf = malloc(packed_size);
        if (!buf) {
            err = WITAN_ENOMEM;
        } else {
            witan__genesis__pack(&t->g, buf);
            *out = witan__genesis__unpack(NULL, packed_size, buf);
            free(buf);
            if (!*out)
                err = WITAN_ENOMEM;
        }
    }
    free(t);
    witan_json_free(doc);
    return err;
}

int ledger_genesis_load(const char *path, Witan__Genesis **out, char *why,
                        size_t why_size)
{
    char *text;
    size_t size;
    int err = witan_read_file(path, WITAN_GENESIS_SIZE_MAX, &text, &size);
    if (err) {
        snprintf(why, why_size, "cannot read genesis file %s: %s", path,
                 witan_err_message(err));
        return err;
    }
    err = ledger_genesis_parse(text, size, out, why, why_size);
    free(text);
    return err;
}

void ledger_genesis_free(Witan__Genesis *g)
{
    if (g)
        witan__genesis__free_unpacked(g, NULL);
}

void ledger_genesis_hash(const Witan__Genesis *g, uint8_t out[WITAN_HASH_SIZE])
{
    size_t size = witan__genesis__get_packed_size(g);
    uint8_t *buf = malloc(size ? size : 1);
    WITAN_ASSERT(buf);
    witan__genesis__pack(g, buf);
    wcrypto_hash_tagged(WCRYPTO_TAG_GENESIS, buf, size, out);
    free(buf);
}

int ledger_genesis_write(FILE *out, const Witan__Genesis *g)
{
    char hex[2 * WITAN_PUBKEY_SIZE_MAX + 1];
    fprintf(out, "{\n  \"protocol_version\": %u,\n  \"chain_id\": ",
            g->protocol_version);
    witan_json_write_string(out, g->chain_id);
    fprintf(out, ",\n  \"genesis_time_ms\": %lld,\n  \"validators\": [",
            (long long)g->genesis_time_ms);
    for (size_t i = 0; i < g->n_validators; i++) {
        witan_hex_encode(g->validators[i]->pubkey.data,
                         g->validators[i]->pubkey.len, hex);
        fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
        witan_json_write_string(out, g->validators[i]->name);
        fprintf(out, ", \"pubkey\": \"%s\"", hex);
        if (g->validators[i]->operator_.len == WITAN_ADDRESS_SIZE) {
            char ahex[2 * WITAN_ADDRESS_SIZE + 1];
            witan_hex_encode(g->validators[i]->operator_.data,
                             WITAN_ADDRESS_SIZE, ahex);
            fprintf(out, ", \"operator\": \"%s\"", ahex);
        }
        fprintf(out, "}");
    }
    fprintf(out, "\n  ],\n  \"members\": [");
    for (size_t i = 0; i < g->n_members; i++) {
        const Witan__Member *m = g->members[i];
        witan_hex_encode(m->pubkey.data, m->pubkey.len, hex);
        fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
        witan_json_write_string(out, m->name);
        fprintf(out, ", \"key_type\": \"%s\", \"pubkey\": \"%s\", \"roles\": [",
                wcrypto_key_type_name((enum wcrypto_key_type)m->key_type), hex);
        for (size_t r = 0; r < m->n_roles; r++)
            fprintf(out, "%s\"%s\"", r ? ", " : "",
                    ledger_role_name(m->roles[r]));
        fprintf(out, "]}");
    }
    const Witan__Params *p = g->params;
    fprintf(out,
            "\n  ],\n  \"params\": {\n    \"block_tx_count_max\": %u,\n"
            "    \"block_size_max\": %u,\n    \"block_interval_ms\": %u,\n"
            "    \"pipeline_depth\": %u,\n    \"checkpoint_interval\": %u,\n"
            "    \"tx_size_max\": %u,\n    \"model_gas_max\": %llu,\n"
            "    \"block_gas_max\": %llu,\n    \"contract_gas_max\": %llu%s\n"
            "  }\n}\n",
            p->block_tx_count_max, p->block_size_max, p->block_interval_ms,
            p->pipeline_depth, p->checkpoint_interval, p->tx_size_max,
            (unsigned long long)p->model_gas_max,
            (unsigned long long)p->block_gas_max,
            (unsigned long long)p->contract_gas_max,
            p->membership_by_governance_only
                ? ",\n    \"membership_by_governance_only\": true"
                : "");
    return ferror(out) ? WITAN_EIO : WITAN_OK;
}
