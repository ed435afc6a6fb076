/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Governance (spec/governance.md): proposals and votes, the tally at each
 * block's end, effects at checkpoint boundaries, and the parameters in
 * force.
 *
 * Everything here reaches state, so every loop runs in key order (ids and
 * validator indexes are big-endian in keys) and nothing reads a clock: the
 * height is the only time. Effects and outcomes are written at the end of
 * a block, after its transactions and before its state root.
 */
#include <string.h>

#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* Keys of the governance table (26). */
#define GOV_KEY_PARAMS "params"
#define GOV_KEY_NEXT "next"
#define GOV_OPEN 'o' /* 'o' ‖ be64(id): open proposals */
#define GOV_DUE 'd'  /* 'd' ‖ be64(boundary) ‖ be64(id): passed, waiting */

/* --- parameters --------------------------------------------------------------- */

/* The parameters governance may change, and where each lives. */
static const struct {
    const char *name;
    size_t offset;
    bool wide; /* uint64 field; else uint32 */
} changeable[] = {
    {"block_tx_count_max", offsetof(Witan__Params, block_tx_count_max), false},
    {"block_size_max", offsetof(Witan__Params, block_size_max), false},
    {"block_interval_ms", offsetof(Witan__Params, block_interval_ms), false},
    {"tx_size_max", offsetof(Witan__Params, tx_size_max), false},
    {"model_gas_max", offsetof(Witan__Params, model_gas_max), true},
    {"block_gas_max", offsetof(Witan__Params, block_gas_max), true},
    {"contract_gas_max", offsetof(Witan__Params, contract_gas_max), true},
};

int ledger_param_set(Witan__Params *p, const char *name, uint64_t value,
                     char *why, size_t why_size)
{
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(changeable); i++) {
        if (strcmp(name, changeable[i].name) != 0)
            continue;
        uint8_t *at = (uint8_t *)p + changeable[i].offset;
        if (changeable[i].wide) {
            memcpy(at, &value, sizeof value);
        } else {
            if (value > UINT32_MAX) {
                WHY("%s takes at most %u", name, UINT32_MAX);
                return WITAN_ERANGE;
            }
            uint32_t v = (uint32_t)value;
            memcpy(at, &v, sizeof v);
        }
        return WITAN_OK;
    }
    /* The reasons are governance.md's, section 6, in one line each. */
    if (strcmp(name, "pipeline_depth") == 0)
        WHY("pipeline_depth cannot change: headers carry the results of the "
            "block L before them and the effect boundary is stated in L");
    else if (strcmp(name, "checkpoint_interval") == 0)
        WHY("checkpoint_interval cannot change: it is the grid of "
            "checkpoints, signed heads and effect boundaries");
    else if (strcmp(name, "chain_id") == 0)
        WHY("the chain id cannot change: every transaction and vote signs "
            "it, and the genesis hash covers it");
    else if (strcmp(name, "membership_by_governance_only") == 0)
        WHY("membership_by_governance_only cannot change: the genesis "
            "sets who may change members");
    else {
        WHY("no parameter named '%.64s' (block_tx_count_max, block_size_max, "
            "block_interval_ms, tx_size_max, model_gas_max, block_gas_max, "
            "contract_gas_max)",
            name);
        return WITAN_ENOTFOUND;
    }
    return WITAN_EUNSUPPORTED;
}

static void be64_key(uint8_t tag, uint64_t a, uint8_t out[9])
{
    out[0] = tag;
    store_be64(out + 1, a);
}

int gov_open(ledger *l)
{
    const Witan__Genesis *g = l->g;
    params_in_force(l, g->params);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    const void *v;
    size_t vs;
    err = store_get(txn, STORE_GOVERNANCE, GOV_KEY_PARAMS,
                    strlen(GOV_KEY_PARAMS), &v, &vs);
    if (err == WITAN_OK) {
        Witan__Params *p = witan__params__unpack(NULL, vs, v);
        if (!p) {
            err = WITAN_EDBCORRUPT;
        } else {
            params_in_force(l, p);
            witan__params__free_unpacked(p, NULL);
        }
    } else if (err == WITAN_ENOTFOUND) {
        err = WITAN_OK; /* none changed yet: the genesis's are in force */
    }
    store_abort(txn);
    l->next_params = l->params;
    return err;
}

/* --- records ---------------------------------------------------------------------- */

static int proposal_get(store_txn *txn, uint64_t id, Witan__Proposal **out)
{
    uint8_t key[8];
    const void *v;
    size_t vs;
    *out = NULL;
    store_be64(key, id);
    int err = store_get(txn, STORE_PROPOSALS, key, sizeof key, &v, &vs);
    if (err)
        return err;
    *out = witan__proposal__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

static int proposal_put(store_txn *txn, const Witan__Proposal *p)
{
    uint8_t key[8];
    store_be64(key, p->id);
    return store_message(txn, STORE_PROPOSALS, key, sizeof key, &p->base);
}

/* The ids under a one-byte tag (and, for `due`, a boundary) of the
 * governance table, in key order: malloc'd into *ids. */
static int ids_under(store_txn *txn, const uint8_t *prefix, size_t prefix_size,
                     uint64_t **ids, size_t *count)
{
    *ids = NULL;
    *count = 0;
    size_t cap = 0;
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_GOVERNANCE, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    for (err = store_cursor_seek(c, prefix, prefix_size, &k, &ks, &v, &vs);
         err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != prefix_size + 8 || memcmp(k, prefix, prefix_size) != 0)
            break;
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            uint64_t *n = realloc(*ids, cap * sizeof *n);
            if (!n) {
                err = WITAN_ENOMEM;
                break;
            }
            *ids = n;
        }
        (*ids)[(*count)++] = store_read_be64((const uint8_t *)k + prefix_size);
    }
    store_cursor_close(c);
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (err) {
        free(*ids);
        *ids = NULL;
        *count = 0;
    }
    return err;
}

/* Writes one governance event at this block's next sequence. */
static int put_event(ledger *l, store_txn *txn, uint64_t height,
                     const Witan__Proposal *p, const char *topic,
                     const int64_t *values, size_t value_count,
                     const Witan__ProposalAction *action, uint32_t *seq)
{
    Witan__Event e = WITAN__EVENT__INIT;
    e.topic = (ProtobufCBinaryData){strlen(topic), (uint8_t *)topic};
    e.n_values = value_count;
    e.values = (int64_t *)values;
    e.height = height;
    e.sequence = l->event_seq++;
    e.tx_hash = p->tx_hash;
    e.proposal = p->id;
    uint8_t *data = NULL;
    int err = WITAN_OK;
    if (action) {
        size_t size;
        err = pack_message(&action->base, &data, &size);
        e.data = (ProtobufCBinaryData){size, data};
    }
    uint8_t key[12];
    store_be64(key, height);
    store_be32(key + 8, e.sequence);
    if (!err)
        err = store_message(txn, STORE_EVENTS, key, sizeof key, &e.base);
    free(data);
    if (seq)
        *seq = e.sequence;
    return err;
}

/* --- stateless rules ---------------------------------------------------------- */

static bool ed25519_key_ok(const ProtobufCBinaryData *k)
{
    wcrypto_pubkey pk;
    return k->len == WCRYPTO_ED25519_PUBKEY_SIZE &&
           wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, k->data, k->len, &pk) == 0;
}

static bool changes_validators(const Witan__ProposalAction *a)
{
    return a->action_case == WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR ||
           a->action_case == WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR ||
           a->action_case ==
               WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY;
}

static bool deploys_contract(const Witan__ProposalAction *a)
{
    return a->action_case == WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT ||
           a->action_case == WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT;
}

/* The DeployContract of a deploy or replace action. */
static const Witan__DeployContract *deployment(const Witan__ProposalAction *a)
{
    return a->action_case == WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT
               ? a->deploy_contract
               : a->replace_contract;
}

/* The Membership change a member action stands for; false for other
 * actions. */
static bool membership_of(const Witan__ProposalAction *a, Witan__Membership *m)
{
    witan__membership__init(m);
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_MEMBER:
        m->change_case = WITAN__MEMBERSHIP__CHANGE_ADD;
        m->add = a->add_member;
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_MEMBER:
        m->change_case = WITAN__MEMBERSHIP__CHANGE_REMOVE;
        m->remove = a->remove_member;
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_GRANT:
        m->change_case = WITAN__MEMBERSHIP__CHANGE_GRANT;
        m->grant = a->grant;
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_REVOKE:
        m->change_case = WITAN__MEMBERSHIP__CHANGE_REVOKE;
        m->revoke = a->revoke;
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_MEMBER_KEY:
        m->change_case = WITAN__MEMBERSHIP__CHANGE_ROTATE;
        m->rotate = a->rotate_member_key;
        break;
    default:
        return false;
    }
    return true;
}

static int check_action(const Witan__ProposalAction *a, size_t i, char *why,
                        size_t why_size)
{
    Witan__Membership m;
    if (membership_of(a, &m)) {
        char inner[LEDGER_WHY_SIZE];
        int err = membership_check(&m, inner, sizeof inner);
        if (err)
            WHY("action %zu: %s", i, inner);
        return err;
    }
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM: {
        Witan__Params scratch = WITAN__PARAMS__INIT;
        char inner[LEDGER_WHY_SIZE];
        int err = ledger_param_set(&scratch, a->set_param->name,
                                   a->set_param->value, inner, sizeof inner);
        if (err)
            WHY("action %zu: %s", i, inner);
        return err == WITAN_OK ? WITAN_OK : WITAN_EINVAL;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT:
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL: {
        const ProtobufCBinaryData *h =
            a->action_case == WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT
                ? &a->retire_contract
                : &a->retire_model;
        if (h->len != WITAN_HASH_SIZE) {
            WHY("action %zu names a contract id or model hash of 32 bytes", i);
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT:
    case WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT: {
        bool replace = a->action_case ==
                       WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT;
        const Witan__DeployContract *d =
            replace ? a->replace_contract : a->deploy_contract;
        if ((d->replaces.len != 0) != replace) {
            WHY("action %zu: %s", i,
                replace ? "replace_contract names the contract it replaces"
                        : "deploy_contract replaces nothing (replacing is "
                          "replace_contract)");
            return WITAN_EINVAL;
        }
        char inner[LEDGER_WHY_SIZE];
        int err = contracts_check_deploy(d, inner, sizeof inner);
        if (err)
            WHY("action %zu: %s", i, inner);
        return err;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR: {
        const Witan__Validator *v = a->add_validator;
        if (!ledger_text_ok(v->name, WITAN_NAME_SIZE_MAX, false)) {
            WHY("action %zu: a validator's name is 1 to %d printable "
                "characters",
                i, WITAN_NAME_SIZE_MAX);
            return WITAN_EINVAL;
        }
        if (!ed25519_key_ok(&v->pubkey) ||
            (v->operator_.len != 0 && v->operator_.len != WITAN_ADDRESS_SIZE)) {
            WHY("action %zu: a validator has an Ed25519 key (32 bytes) and "
                "an operator address of 20 bytes or none",
                i);
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR:
        if (!ed25519_key_ok(&a->remove_validator)) {
            WHY("action %zu names a validator by its Ed25519 key (32 bytes)",
                i);
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY: {
        const Witan__ValidatorKeyRotation *r = a->rotate_validator_key;
        if (!ed25519_key_ok(&r->pubkey) || !ed25519_key_ok(&r->new_pubkey)) {
            WHY("action %zu: a validator's key and its new key are Ed25519 "
                "keys (32 bytes)",
                i);
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    }
    default:
        WHY("action %zu has no kind this chain governs", i);
        return WITAN_EINVAL;
    }
}

int gov_check_propose(const Witan__Propose *p, char *why, size_t why_size)
{
    if (p->n_actions == 0 || p->n_actions > WITAN_GOV_ACTION_COUNT_MAX) {
        WHY("a proposal carries 1 to %d actions, not %zu",
            WITAN_GOV_ACTION_COUNT_MAX, p->n_actions);
        return p->n_actions ? WITAN_ELIMIT : WITAN_EINVAL;
    }
    if (!ledger_text_ok(p->rationale, WITAN_GOV_RATIONALE_SIZE_MAX, true)) {
        WHY("rationale must be at most %d printable bytes",
            WITAN_GOV_RATIONALE_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (p->rationale_hash.len != 0 && p->rationale_hash.len != WITAN_HASH_SIZE) {
        WHY("rationale_hash must be empty or 32 bytes");
        return WITAN_EINVAL;
    }
    if (p->deadline == 0) {
        WHY("a proposal needs a deadline height");
        return WITAN_EINVAL;
    }
    size_t deploys = 0;
    for (size_t i = 0; i < p->n_actions; i++) {
        int err = check_action(p->actions[i], i, why, why_size);
        if (err)
            return err;
        deploys += deploys_contract(p->actions[i]);
    }
    /* The contract a proposal deploys is named by the Propose
     * transaction's hash, so a proposal deploys at most one. */
    if (deploys > 1) {
        WHY("a proposal deploys or replaces at most one contract, not %zu",
            deploys);
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

int gov_check_vote(const Witan__CastVote *v, char *why, size_t why_size)
{
    if (v->proposal == 0) {
        WHY("proposal ids start at 1");
        return WITAN_EINVAL;
    }
    if (v->choice != WITAN__VOTE_CHOICE__VOTE_YES &&
        v->choice != WITAN__VOTE_CHOICE__VOTE_NO &&
        v->choice != WITAN__VOTE_CHOICE__VOTE_ABSTAIN) {
        WHY("a vote is yes, no or abstain");
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

/* --- propose ---------------------------------------------------------------------- */

static bool holds(const Witan__Account *a, Witan__Role r)
{
    for (size_t i = 0; i < a->n_roles; i++)
        if (a->roles[i] == r)
            return true;
    return false;
}

/* A member an action names, current (not removed); NULL with
 * UNKNOWN_MEMBER otherwise. */
static int live_member(store_txn *txn, const ProtobufCBinaryData *addr,
                       Witan__Account **out, Witan__TxStatus *status)
{
    int err = account_get(txn, addr->data, out);
    if (err == WITAN_ENOTFOUND || (err == WITAN_OK && (*out)->removed)) {
        ledger_account_free(*out);
        *out = NULL;
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MEMBER;
        return WITAN_OK;
    }
    return err;
}

static bool ok(Witan__TxStatus s)
{
    return s == WITAN__TX_STATUS__TX_STATUS_OK;
}

/* One validator-set action applied to `v` (the newest set with the
 * changes so far), or *status saying why it does not apply. A removal may
 * leave fewer than 4 validators only with `allow_few`, and never none. */
static int validator_action(store_txn *txn, struct ledger_vset *v,
                            const Witan__ProposalAction *a, bool allow_few,
                            Witan__TxStatus *status)
{
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR: {
        const Witan__Validator *x = a->add_validator;
        if (vset_find(v, x->pubkey.data, x->pubkey.len) >= 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
            return WITAN_OK;
        }
        if (v->count == WITAN_VALIDATOR_COUNT_MAX) {
            *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
            return WITAN_OK;
        }
        if (x->operator_.len) {
            Witan__Account *acct = NULL;
            int err = live_member(txn, &x->operator_, &acct, status);
            if (!err && acct &&
                !holds(acct, WITAN__ROLE__ROLE_VALIDATOR_OPERATOR))
                *status = WITAN__TX_STATUS__TX_STATUS_NOT_VALIDATOR_OPERATOR;
            ledger_account_free(acct);
            if (err || !ok(*status))
                return err;
        }
        uint32_t i = v->count;
        int err = wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, x->pubkey.data,
                                       x->pubkey.len, &v->keys[i]);
        if (err) /* checked statelessly */
            return WITAN_EINVAL;
        snprintf(v->names[i], sizeof v->names[i], "%s", x->name);
        v->has_operator[i] = x->operator_.len == WITAN_ADDRESS_SIZE;
        memset(v->operators[i], 0, WITAN_ADDRESS_SIZE);
        if (v->has_operator[i])
            memcpy(v->operators[i], x->operator_.data, WITAN_ADDRESS_SIZE);
        v->count++;
        return WITAN_OK;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR: {
        int i = vset_find(v, a->remove_validator.data, a->remove_validator.len);
        if (i < 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_VALIDATOR;
            return WITAN_OK;
        }
        if (v->count == 1 || (v->count - 1 < 4 && !allow_few)) {
            *status = WITAN__TX_STATUS__TX_STATUS_TOO_FEW_VALIDATORS;
            return WITAN_OK;
        }
        /* Later validators move down one index, keeping their order. */
        for (uint32_t k = (uint32_t)i; k + 1 < v->count; k++) {
            v->keys[k] = v->keys[k + 1];
            memcpy(v->names[k], v->names[k + 1], sizeof v->names[k]);
            memcpy(v->operators[k], v->operators[k + 1], WITAN_ADDRESS_SIZE);
            v->has_operator[k] = v->has_operator[k + 1];
        }
        v->count--;
        return WITAN_OK;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY: {
        const Witan__ValidatorKeyRotation *r = a->rotate_validator_key;
        int i = vset_find(v, r->pubkey.data, r->pubkey.len);
        if (i < 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_VALIDATOR;
            return WITAN_OK;
        }
        if (vset_find(v, r->new_pubkey.data, r->new_pubkey.len) >= 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
            return WITAN_OK;
        }
        return wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, r->new_pubkey.data,
                                    r->new_pubkey.len, &v->keys[i])
                   ? WITAN_EINVAL
                   : WITAN_OK;
    }
    default:
        WITAN_ASSERT(!"not a validator action");
        return WITAN_EINVAL;
    }
}

/* The stateful rules of one action when proposed (governance.md section
 * 3); set_param changes *trial, which the caller checks as a whole. */
static int action_stateful(store_txn *txn, const Witan__ProposalAction *a,
                           uint64_t height, Witan__Params *trial,
                           struct ledger_vset *vtrial, bool allow_few,
                           Witan__TxStatus *status)
{
    if (changes_validators(a))
        return validator_action(txn, vtrial, a, allow_few, status);
    Witan__Account *acct = NULL;
    int err = WITAN_OK;
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_ADD_MEMBER: {
        const Witan__MemberAdd *add = a->add_member;
        err = ledger_account_new(add->name, add->key_type, add->pubkey,
                                 add->roles, add->n_roles, height, NULL, &acct);
        if (err == WITAN_EINVAL) {
            *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
            return WITAN_OK;
        }
        if (err)
            return err;
        Witan__Account *existing = NULL;
        err = account_get(txn, acct->address.data, &existing);
        if (err == WITAN_OK) /* addresses are never reused */
            *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
        else if (err == WITAN_ENOTFOUND)
            err = WITAN_OK;
        ledger_account_free(existing);
        break;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_REMOVE_MEMBER:
        err = live_member(txn, &a->remove_member, &acct, status);
        break;
    case WITAN__PROPOSAL_ACTION__ACTION_GRANT:
    case WITAN__PROPOSAL_ACTION__ACTION_REVOKE: {
        bool grant = a->action_case == WITAN__PROPOSAL_ACTION__ACTION_GRANT;
        const Witan__RoleChange *rc = grant ? a->grant : a->revoke;
        err = live_member(txn, &rc->address, &acct, status);
        if (!err && acct && holds(acct, rc->role) == grant)
            *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        break;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_ROTATE_MEMBER_KEY: {
        const Witan__KeyRotation *r = a->rotate_member_key;
        err = live_member(txn, &r->address, &acct, status);
        if (!err && acct) {
            const Witan__KeyEpoch *k = acct->keys[acct->n_keys - 1];
            if (k->key_type == r->key_type && k->pubkey.len == r->pubkey.len &&
                memcmp(k->pubkey.data, r->pubkey.data, k->pubkey.len) == 0)
                *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        }
        break;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM: {
        char why[LEDGER_WHY_SIZE];
        if (ledger_param_set(trial, a->set_param->name, a->set_param->value,
                             why, sizeof why))
            *status = WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS;
        break;
    }
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT:
        return contracts_retire(txn, a->retire_contract.data, height, NULL,
                                status);
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL:
        return models_retire(txn, a->retire_model.data, height, NULL, status);
    case WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT:
    case WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT: {
        /* Checked under the parameters the proposal's earlier actions
         * would leave; nothing written, so the id does not matter yet. */
        static const uint8_t none[WITAN_HASH_SIZE];
        ProtobufCBinaryData governance = {0, NULL};
        return contracts_deploy(txn, deployment(a), none, &governance, trial,
                                height, false, status);
    }
    default:
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        break;
    }
    ledger_account_free(acct);
    return err;
}

int gov_apply_propose(ledger *l, store_txn *txn, const Witan__TxBody *body,
                      const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                      Witan__TxStatus *status)
{
    const Witan__Propose *p = body->propose;
    if (p->deadline <= height || p->deadline - height > WITAN_GOV_DEADLINE_MAX) {
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
    uint8_t open_prefix[1] = {GOV_OPEN};
    uint64_t *open;
    size_t open_count;
    int err = ids_under(txn, open_prefix, 1, &open, &open_count);
    free(open);
    if (err)
        return err;
    if (open_count >= WITAN_GOV_OPEN_COUNT_MAX) {
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
    /* A chain of one validator runs without consensus (node.md): its set
     * cannot change. */
    for (size_t i = 0; i < p->n_actions && l->g->n_validators == 1; i++)
        if (changes_validators(p->actions[i])) {
            *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
            return WITAN_OK;
        }
    Witan__Params trial = l->params;
    /* Validator actions apply to the newest set, pending ones included. */
    struct ledger_vset vtrial;
    err = vset_latest(l, txn, &vtrial);
    if (err)
        return err;
    bool sets = false;
    for (size_t i = 0; i < p->n_actions && ok(*status); i++) {
        err = action_stateful(txn, p->actions[i], height, &trial, &vtrial,
                              p->allow_no_fault_tolerance, status);
        if (err)
            return err;
        sets |= p->actions[i]->action_case ==
                WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM;
    }
    if (ok(*status) && sets && !ledger_params_ok(&trial, NULL, 0))
        *status = WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS;
    if (!ok(*status))
        return WITAN_OK;

    uint64_t id = 1;
    const void *v;
    size_t vs;
    err = store_get(txn, STORE_GOVERNANCE, GOV_KEY_NEXT, strlen(GOV_KEY_NEXT),
                    &v, &vs);
    if (err == WITAN_OK && vs != 8)
        return WITAN_EDBCORRUPT;
    if (err == WITAN_OK)
        id = store_read_be64(v);
    else if (err != WITAN_ENOTFOUND)
        return err;
    uint8_t next[8], key[9];
    store_be64(next, id + 1);
    err = store_put(txn, STORE_GOVERNANCE, GOV_KEY_NEXT, strlen(GOV_KEY_NEXT),
                    next, sizeof next);
    be64_key(GOV_OPEN, id, key);
    if (!err)
        err = store_put(txn, STORE_GOVERNANCE, key, sizeof key, "", 0);

    Witan__Proposal rec = WITAN__PROPOSAL__INIT;
    rec.id = id;
    rec.proposer = body->sender;
    rec.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
    rec.height = height;
    rec.deadline = p->deadline;
    rec.rationale = p->rationale;
    rec.rationale_hash = p->rationale_hash;
    rec.n_actions = p->n_actions;
    rec.actions = p->actions;
    rec.validator_count = l->vs_cur.count;
    rec.allow_no_fault_tolerance = p->allow_no_fault_tolerance;
    rec.status = WITAN__PROPOSAL_STATUS__PROPOSAL_OPEN;
    if (!err)
        err = proposal_put(txn, &rec);
    if (!err)
        l->tx_proposal = id;
    return err;
}

/* --- vote ------------------------------------------------------------------------- */

static uint32_t *tally_of(Witan__Proposal *p, Witan__VoteChoice c)
{
    switch (c) {
    case WITAN__VOTE_CHOICE__VOTE_YES: return &p->yes;
    case WITAN__VOTE_CHOICE__VOTE_NO: return &p->no;
    case WITAN__VOTE_CHOICE__VOTE_ABSTAIN: return &p->abstain;
    default: return NULL;
    }
}

int gov_apply_vote(ledger *l, store_txn *txn, const Witan__TxBody *body,
                   const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                   Witan__TxStatus *status)
{
    const Witan__CastVote *cv = body->vote;
    Witan__Proposal *p;
    int err = proposal_get(txn, cv->proposal, &p);
    if (err == WITAN_ENOTFOUND) {
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_PROPOSAL;
        return WITAN_OK;
    }
    if (err)
        return err;
    if (p->status != WITAN__PROPOSAL_STATUS__PROPOSAL_OPEN ||
        height > p->deadline) {
        *status = WITAN__TX_STATUS__TX_STATUS_PROPOSAL_CLOSED;
        witan__proposal__free_unpacked(p, NULL);
        return WITAN_OK;
    }
    /* The validators in force when it was proposed vote on it. */
    struct ledger_vset vs;
    err = vset_at(l, txn, p->height, &vs);
    if (err) {
        witan__proposal__free_unpacked(p, NULL);
        return err;
    }
    uint32_t n = p->validator_count < vs.count ? p->validator_count : vs.count;
    uint32_t counted = 0;
    for (uint32_t i = 0; i < n && !err; i++) {
        if (!vs.has_operator[i] ||
            memcmp(vs.operators[i], body->sender.data, WITAN_ADDRESS_SIZE) != 0)
            continue;
        counted++;
        uint8_t key[12];
        store_be64(key, p->id);
        store_be32(key + 8, i);
        const void *v;
        size_t vs;
        /* The last vote counts: the earlier one leaves the tally. */
        err = store_get(txn, STORE_PROPOSAL_VOTES, key, sizeof key, &v, &vs);
        if (err == WITAN_OK) {
            Witan__ProposalVote *old = witan__proposal_vote__unpack(NULL, vs, v);
            if (!old) {
                err = WITAN_EDBCORRUPT;
                break;
            }
            uint32_t *t = tally_of(p, old->choice);
            if (t && *t > 0)
                (*t)--;
            witan__proposal_vote__free_unpacked(old, NULL);
        } else if (err != WITAN_ENOTFOUND) {
            break;
        }
        Witan__ProposalVote vote = WITAN__PROPOSAL_VOTE__INIT;
        vote.proposal = p->id;
        vote.validator = i;
        vote.voter = body->sender;
        vote.choice = cv->choice;
        vote.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
        vote.height = height;
        err = store_message(txn, STORE_PROPOSAL_VOTES, key, sizeof key,
                            &vote.base);
        (*tally_of(p, cv->choice))++;
    }
    if (!err && counted == 0)
        *status = WITAN__TX_STATUS__TX_STATUS_NOT_VALIDATOR_OPERATOR;
    else if (!err)
        err = proposal_put(txn, p);
    witan__proposal__free_unpacked(p, NULL);
    return err;
}

/* --- effects --------------------------------------------------------------------- */

/* One action at boundary `height`, re-checked against the state as it now
 * stands; *status is why it was skipped, OK when it took effect. */
static int enact_action(ledger *l, store_txn *txn, const Witan__Proposal *p,
                        const Witan__ProposalAction *a, uint64_t height,
                        Witan__TxStatus *status)
{
    const uint8_t *by = p->tx_hash.data;
    Witan__Membership m;
    if (changes_validators(a)) {
        /* On a copy, so that a skipped action leaves the set as it was. */
        struct ledger_vset v = l->vs_next;
        int err = validator_action(txn, &v, a, p->allow_no_fault_tolerance,
                                   status);
        if (!err && ok(*status)) {
            l->vs_next = v;
            l->vs_changed = true;
        }
        return err;
    }
    if (membership_of(a, &m)) {
        int err = membership_apply(txn, &m, by, height, status);
        /* Membership calls an unknown target an unknown sender; here it is
         * a member the action names. */
        if (*status == WITAN__TX_STATUS__TX_STATUS_UNKNOWN_SENDER)
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MEMBER;
        return err;
    }
    switch (a->action_case) {
    case WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM: {
        Witan__Params trial = l->next_params;
        char why[LEDGER_WHY_SIZE];
        if (ledger_param_set(&trial, a->set_param->name, a->set_param->value,
                             why, sizeof why) ||
            !ledger_params_ok(&trial, NULL, 0)) {
            *status = WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS;
            return WITAN_OK;
        }
        l->next_params = trial;
        return store_message(txn, STORE_GOVERNANCE, GOV_KEY_PARAMS,
                             strlen(GOV_KEY_PARAMS), &trial.base);
    }
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT:
        return contracts_retire(txn, a->retire_contract.data, height, by,
                                status);
    case WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL:
        return models_retire(txn, a->retire_model.data, height, by, status);
    case WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT:
    case WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT: {
        ProtobufCBinaryData governance = {0, NULL};
        return contracts_deploy(txn, deployment(a), by, &governance,
                                &l->next_params, height, true, status);
    }
    default:
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
}

static int enact(ledger *l, store_txn *txn, uint64_t id, uint64_t height)
{
    Witan__Proposal *p;
    int err = proposal_get(txn, id, &p);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    if (p->tx_hash.len != WITAN_HASH_SIZE) {
        witan__proposal__free_unpacked(p, NULL);
        return WITAN_EDBCORRUPT;
    }
    uint32_t first = l->event_seq;
    for (size_t i = 0; !err && i < p->n_actions; i++) {
        Witan__TxStatus st = WITAN__TX_STATUS__TX_STATUS_OK;
        err = enact_action(l, txn, p, p->actions[i], height, &st);
        int64_t values[4] = {(int64_t)p->id, (int64_t)i, ok(st) ? 1 : 0, st};
        if (!err)
            err = put_event(l, txn, height, p,
                            ok(st) ? "governance/applied"
                                   : "governance/skipped",
                            values, ok(st) ? 3 : 4, p->actions[i], NULL);
    }
    p->status = WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED;
    p->first_event = first;
    p->event_count = l->event_seq - first;
    if (!err)
        err = proposal_put(txn, p);
    uint8_t key[17];
    key[0] = GOV_DUE;
    store_be64(key + 1, height);
    store_be64(key + 9, id);
    if (!err)
        err = store_del(txn, STORE_GOVERNANCE, key, sizeof key);
    witan__proposal__free_unpacked(p, NULL);
    return err;
}

/* --- the tally ------------------------------------------------------------------- */

static int tally(ledger *l, store_txn *txn, uint64_t id, uint64_t height)
{
    Witan__Proposal *p;
    int err = proposal_get(txn, id, &p);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    uint64_t n = p->validator_count;
    uint64_t K = l->g->params->checkpoint_interval,
             L = l->g->params->pipeline_depth;
    const char *topic = NULL;
    if ((uint64_t)p->yes * 3 > 2 * n) {
        p->status = WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED;
        /* The first boundary at least L blocks on: every replica has
         * agreed on this block's results before anything changes. */
        p->effect_height = (height + L + K - 1) / K * K;
        topic = "governance/passed";
    } else if ((n - p->no - p->abstain) * 3 <= 2 * n) {
        p->status = WITAN__PROPOSAL_STATUS__PROPOSAL_FAILED;
        topic = "governance/failed";
    } else if (height >= p->deadline) {
        p->status = WITAN__PROPOSAL_STATUS__PROPOSAL_EXPIRED;
        topic = "governance/expired";
    }
    if (topic) {
        p->closed_height = height;
        uint8_t key[17];
        be64_key(GOV_OPEN, id, key);
        err = store_del(txn, STORE_GOVERNANCE, key, 9);
        if (!err && p->status == WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED) {
            key[0] = GOV_DUE;
            store_be64(key + 1, p->effect_height);
            store_be64(key + 9, id);
            err = store_put(txn, STORE_GOVERNANCE, key, sizeof key, "", 0);
        }
        int64_t values[5] = {(int64_t)p->id, p->yes, p->no, p->abstain,
                             p->validator_count};
        if (!err)
            err = put_event(l, txn, height, p, topic, values, 5, NULL, NULL);
        if (!err)
            err = proposal_put(txn, p);
    }
    witan__proposal__free_unpacked(p, NULL);
    return err;
}

int gov_block_end(ledger *l, store_txn *txn, uint64_t height)
{
    uint64_t *ids = NULL;
    size_t count = 0;
    int err = WITAN_OK;
    uint64_t K = l->g->params->checkpoint_interval,
             L = l->g->params->pipeline_depth;
    if (height % K == 0) {
        uint8_t due[9];
        be64_key(GOV_DUE, height, due);
        err = ids_under(txn, due, sizeof due, &ids, &count);
        l->vs_changed = false;
        if (!err && count)
            err = vset_latest(l, txn, &l->vs_next);
        /* The boundary the newest set (pending or not) took effect after. */
        uint64_t before = l->vs_next.first - 1;
        for (size_t i = 0; !err && i < count; i++)
            err = enact(l, txn, ids[i], height);
        free(ids);
        /* A changed set is in force after the first boundary E at least
         * L + 1 blocks past this one and past the previous change's: every
         * replica has executed this block before anything at or above
         * E + 1 is proposed, and hands consensus one change at a time
         * (governance.md section 7). */
        if (!err && l->vs_changed) {
            uint64_t from = (height > before ? height : before) + L + 1;
            l->vs_next.first = (from + K - 1) / K * K + 1;
            err = vset_put(txn, &l->vs_next, height);
            l->vs_written = true;
        }
        if (err)
            return err;
    }
    uint8_t open[1] = {GOV_OPEN};
    err = ids_under(txn, open, 1, &ids, &count);
    for (size_t i = 0; !err && i < count; i++)
        err = tally(l, txn, ids[i], height);
    free(ids);
    return err;
}

/* --- queries ----------------------------------------------------------------------- */

#define GOV_PAGE_DEFAULT 100

/* The events of proposal `id` in block `height`, appended to info. */
static int events_of(store_txn *txn, uint64_t id, uint64_t height,
                     Witan__ProposalInfo *info)
{
    uint8_t prefix[8];
    store_be64(prefix, height);
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_EVENTS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    for (err = store_cursor_seek(c, prefix, 8, &k, &ks, &v, &vs); err == 0;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != 12 || memcmp(k, prefix, 8) != 0)
            break;
        Witan__Event *e = witan__event__unpack(NULL, vs, v);
        if (!e) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        if (e->proposal != id) {
            witan__event__free_unpacked(e, NULL);
            continue;
        }
        Witan__Event **n =
            realloc(info->events, (info->n_events + 1) * sizeof *n);
        if (!n) {
            witan__event__free_unpacked(e, NULL);
            err = WITAN_ENOMEM;
            break;
        }
        info->events = n;
        info->events[info->n_events++] = e;
    }
    store_cursor_close(c);
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

static int votes_of(store_txn *txn, uint64_t id, Witan__ProposalInfo *info)
{
    uint8_t prefix[8];
    store_be64(prefix, id);
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_PROPOSAL_VOTES, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    for (err = store_cursor_seek(c, prefix, 8, &k, &ks, &v, &vs); err == 0;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != 12 || memcmp(k, prefix, 8) != 0)
            break;
        Witan__ProposalVote *pv = witan__proposal_vote__unpack(NULL, vs, v);
        Witan__ProposalVote **n =
            pv ? realloc(info->votes, (info->n_votes + 1) * sizeof *n) : NULL;
        if (!n) {
            if (pv)
                witan__proposal_vote__free_unpacked(pv, NULL);
            err = pv ? WITAN_ENOMEM : WITAN_EDBCORRUPT;
            break;
        }
        info->votes = n;
        info->votes[info->n_votes++] = pv;
    }
    store_cursor_close(c);
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

/* Frees what info_new and the two collectors built. */
static void info_free(Witan__ProposalInfo *info)
{
    if (!info)
        return;
    if (info->proposal)
        witan__proposal__free_unpacked(info->proposal, NULL);
    for (size_t i = 0; i < info->n_votes; i++)
        witan__proposal_vote__free_unpacked(info->votes[i], NULL);
    for (size_t i = 0; i < info->n_events; i++)
        witan__event__free_unpacked(info->events[i], NULL);
    free(info->votes);
    free(info->events);
    free(info);
}

int ledger_query_proposals(ledger *l, const Witan__ProposalsRequest *req,
                           Witan__ProposalsResponse **out)
{
    *out = NULL;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    if (req->cursor.len != 0 && req->cursor.len != 8)
        return WITAN_EINVAL;
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    /* Assembled from unpacked records, then packed and unpacked once: the
     * caller gets one message protobuf-c owns. */
    Witan__ProposalsResponse r = WITAN__PROPOSALS_RESPONSE__INIT;
    Witan__Params params = l->params;
    r.params = &params;
    r.height = l->tip.height;
    size_t limit = req->id ? 1 : req->limit ? req->limit : GOV_PAGE_DEFAULT;
    Witan__ProposalInfo **infos = calloc(limit + 1, sizeof *infos);
    uint8_t next_cursor[8];
    if (!infos)
        err = WITAN_ENOMEM;
    uint64_t id = req->id ? req->id
                 : req->cursor.len ? store_read_be64(req->cursor.data)
                                   : 1;
    while (!err && r.n_proposals < limit) {
        Witan__Proposal *p;
        err = proposal_get(txn, id, &p);
        if (err == WITAN_ENOTFOUND) {
            err = req->id ? WITAN_ENOTFOUND : WITAN_OK;
            break;
        }
        if (err)
            break;
        Witan__ProposalInfo *info = calloc(1, sizeof *info);
        if (!info) {
            witan__proposal__free_unpacked(p, NULL);
            err = WITAN_ENOMEM;
            break;
        }
        witan__proposal_info__init(info);
        info->proposal = p;
        infos[r.n_proposals++] = info;
        if (req->id) {
            err = votes_of(txn, id, info);
            if (!err && p->closed_height)
                err = events_of(txn, id, p->closed_height, info);
            if (!err && p->status == WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED)
                err = events_of(txn, id, p->effect_height, info);
        }
        id++;
    }
    if (!err && !req->id && r.n_proposals == limit) {
        Witan__Proposal *p;
        int more = proposal_get(txn, id, &p);
        if (more == WITAN_OK) {
            witan__proposal__free_unpacked(p, NULL);
            store_be64(next_cursor, id);
            r.next_cursor = (ProtobufCBinaryData){8, next_cursor};
        } else if (more != WITAN_ENOTFOUND) {
            err = more;
        }
    }
    store_abort(txn);
    r.proposals = infos;
    if (!err) {
        uint8_t *buf;
        size_t size;
        err = pack_message(&r.base, &buf, &size);
        if (!err) {
            *out = witan__proposals_response__unpack(NULL, size, buf);
            free(buf);
            if (!*out)
                err = WITAN_ENOMEM;
        }
    }
    for (size_t i = 0; infos && i < r.n_proposals; i++)
        info_free(infos[i]);
    free(infos);
    return err;
}

void ledger_proposals_response_free(Witan__ProposalsResponse *r)
{
    if (r)
        witan__proposals_response__free_unpacked(r, NULL);
}
