/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactions: stateless decoding and checking, stateful admission against
 * committed state, and applying each payload kind (attestations, membership).
 *
 * The same rules run twice: at admission, to answer a client at once, and at
 * apply, against the state of the block being applied, because state may
 * have changed in between (a key rotated, a role revoked, a nonce used). Only
 * apply decides what enters state; it never fails a block for a refused
 * transaction, it writes a receipt with the reason.
 */
#include <string.h>

#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

int pack_message(const ProtobufCMessage *m, uint8_t **out, size_t *size)
{
    *size = protobuf_c_message_get_packed_size(m);
    *out = malloc(*size ? *size : 1);
    if (!*out)
        return WITAN_ENOMEM;
    protobuf_c_message_pack(m, *out);
    return WITAN_OK;
}

int store_message(store_txn *txn, enum store_table table, const void *key,
                  size_t key_size, const ProtobufCMessage *m)
{
    uint8_t *buf;
    size_t size;
    int err = pack_message(m, &buf, &size);
    if (err)
        return err;
    err = store_put(txn, table, key, key_size, buf, size);
    free(buf);
    return err;
}

bool ledger_text_ok(const char *s, size_t max, bool may_be_empty)
{
    size_t n = strlen(s);
    if (n > max || (n == 0 && !may_be_empty))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool ledger_feed_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WITAN_FEED_SIZE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static int check_attest(const Witan__Attest *a, char *why, size_t why_size)
{
    if (!ledger_feed_ok(a->feed)) {
        WHY("feed must be 1 to %d characters of a-z, 0-9, '/', '-', '_', '.'",
            WITAN_FEED_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (!ledger_text_ok(a->subject, WITAN_SUBJECT_SIZE_MAX, false)) {
        WHY("subject must be 1 to %d printable characters",
            WITAN_SUBJECT_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (!ledger_text_ok(a->unit, WITAN_UNIT_SIZE_MAX, true)) {
        WHY("unit must be at most %d printable characters",
            WITAN_UNIT_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (a->n_values == 0 || a->n_values > WITAN_ATTEST_VALUE_COUNT_MAX) {
        WHY("an attestation carries 1 to %d values, not %zu",
            WITAN_ATTEST_VALUE_COUNT_MAX, a->n_values);
        return a->n_values ? WITAN_ELIMIT : WITAN_EINVAL;
    }
    for (size_t i = 0; i < a->n_values; i++) {
        const Witan__NamedValue *v = a->values[i];
        if (!ledger_text_ok(v->name, WITAN_VALUE_NAME_SIZE_MAX, false)) {
            WHY("value %zu: name must be 1 to %d printable characters", i,
                WITAN_VALUE_NAME_SIZE_MAX);
            return WITAN_EINVAL;
        }
        if (v->scale > WITAN_DECIMAL_SCALE_MAX) {
            WHY("value %s: scale %u is over %d", v->name, v->scale,
                WITAN_DECIMAL_SCALE_MAX);
            return WITAN_ERANGE;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->values[j]->name, v->name) == 0) {
                WHY("value name %s appears twice", v->name);
                return WITAN_EINVAL;
            }
    }
    if (a->document_hash.len != 0 && a->document_hash.len != WITAN_HASH_SIZE) {
        WHY("document_hash must be empty or 32 bytes");
        return WITAN_EINVAL;
    }
    if (a->corrects.len != 0 && a->corrects.len != WITAN_HASH_SIZE) {
        WHY("corrects must be empty or a 32-byte transaction hash");
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

static bool role_ok(Witan__Role r)
{
    return r >= WITAN__ROLE__ROLE_DATA_PROVIDER && r <= LEDGER_ROLE_MAX;
}

static int check_key(Witan__KeyType type, ProtobufCBinaryData key, char *why,
                     size_t why_size)
{
    wcrypto_pubkey pk;
    int err = wcrypto_pubkey_parse((enum wcrypto_key_type)type, key.data,
                                   key.len, &pk);
    if (err)
        WHY("the member's public key is not a valid %s key",
            wcrypto_key_type_name((enum wcrypto_key_type)type));
    return err;
}

int membership_check(const Witan__Membership *m, char *why,
                     size_t why_size)
{
    switch (m->change_case) {
    case WITAN__MEMBERSHIP__CHANGE_ADD: {
        const Witan__MemberAdd *a = m->add;
        if (!ledger_text_ok(a->name, WITAN_NAME_SIZE_MAX, false)) {
            WHY("member name must be 1 to %d printable characters",
                WITAN_NAME_SIZE_MAX);
            return WITAN_EINVAL;
        }
        if (a->n_roles > LEDGER_ROLE_MAX) {
            WHY("at most %d roles", LEDGER_ROLE_MAX);
            return WITAN_ELIMIT;
        }
        for (size_t i = 0; i < a->n_roles; i++) {
            if (!role_ok(a->roles[i]) || (i && a->roles[i] <= a->roles[i - 1])) {
                WHY("roles must be known roles in increasing order, no "
                    "repeats");
                return WITAN_EINVAL;
            }
        }
        return check_key(a->key_type, a->pubkey, why, why_size);
    }
    case WITAN__MEMBERSHIP__CHANGE_REMOVE:
        if (m->remove.len != WITAN_ADDRESS_SIZE) {
            WHY("remove names a 20-byte address");
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    case WITAN__MEMBERSHIP__CHANGE_GRANT:
    case WITAN__MEMBERSHIP__CHANGE_REVOKE: {
        const Witan__RoleChange *r =
            m->change_case == WITAN__MEMBERSHIP__CHANGE_GRANT ? m->grant
                                                              : m->revoke;
        if (r->address.len != WITAN_ADDRESS_SIZE || !role_ok(r->role)) {
            WHY("a role change names a 20-byte address and a known role");
            return WITAN_EINVAL;
        }
        return WITAN_OK;
    }
    case WITAN__MEMBERSHIP__CHANGE_ROTATE:
        if (m->rotate->address.len != WITAN_ADDRESS_SIZE) {
            WHY("a key rotation names a 20-byte address");
            return WITAN_EINVAL;
        }
        return check_key(m->rotate->key_type, m->rotate->pubkey, why,
                         why_size);
    default:
        WHY("membership change has no kind");
        return WITAN_EINVAL;
    }
}

void ledger_tx_shed(struct ledger_tx *tx)
{
    if (tx->body)
        witan__tx_body__free_unpacked(tx->body, NULL);
    if (tx->envelope)
        witan__envelope__free_unpacked(tx->envelope, NULL);
    tx->body = NULL;
    tx->envelope = NULL;
    tx->decoded_size = 0;
}

void ledger_tx_release(struct ledger_tx *tx)
{
    ledger_tx_shed(tx);
    free(tx->bytes);
    memset(tx, 0, sizeof *tx);
}

/* Transaction signatures this process checked: a node's figure, since a
 * process runs one node (/metrics). */
static _Atomic uint64_t signatures_checked;

uint64_t ledger_tx_signatures_checked(void)
{
    return atomic_load_explicit(&signatures_checked, memory_order_relaxed);
}

/* The signature rule, one place for both ways in. */
static int check_signature(const wcrypto_pubkey *pub,
                           const struct ledger_tx *tx, char *why,
                           size_t why_size)
{
    atomic_fetch_add_explicit(&signatures_checked, 1, memory_order_relaxed);
    if (wcrypto_verify(pub, tx->hash, tx->envelope->signature.data) != 0) {
        WHY("signature does not verify for the envelope's %s key",
            wcrypto_key_type_name(pub->type));
        return WITAN_ESIG;
    }
    return WITAN_OK;
}

int ledger_tx_verify(const struct ledger_tx *tx, char *why, size_t why_size)
{
    const Witan__Envelope *env = tx->envelope;
    wcrypto_pubkey pub;
    /* ledger_tx_decode checked the key and the signature's size already. */
    WITAN_ASSERT(env != NULL && env->signature.len == WITAN_SIGNATURE_SIZE);
    int err = wcrypto_pubkey_parse((enum wcrypto_key_type)env->key_type,
                                   env->pubkey.data, env->pubkey.len, &pub);
    WITAN_ASSERT(err == 0);
    return check_signature(&pub, tx, why, why_size);
}

int ledger_tx_decode(const ledger *l, const uint8_t *bytes, size_t size,
                     bool verify_signature, struct ledger_tx *tx, char *why,
                     size_t why_size)
{
    memset(tx, 0, sizeof *tx);
    why[0] = '\0';
    size_t max = atomic_load_explicit(&l->tx_size_max, memory_order_relaxed);
    if (size > max) {
        WHY("transaction is %zu bytes; the limit is %zu", size, max);
        return WITAN_ELIMIT;
    }
    int err = WITAN_OK;
    /* Each with its own budget, as witan_unpack gives; what they took is
     * the decoded form's size, which the pool counts. */
    size_t left = WITAN_UNPACK_BUDGET(size);
    ProtobufCMessage *m;
    int derr = witan_unpack_from(&left, &witan__envelope__descriptor, bytes,
                                 size, &m);
    tx->envelope = (Witan__Envelope *)m;
    if (derr) {
        WHY("not a valid Envelope (protobuf decoding failed)");
        return WITAN_EDECODE;
    }
    const Witan__Envelope *env = tx->envelope;
    if (env->key_type != WITAN__KEY_TYPE__KEY_TYPE_ED25519 &&
        env->key_type != WITAN__KEY_TYPE__KEY_TYPE_SECP256K1) {
        WHY("unknown key type %d", (int)env->key_type);
        err = WITAN_EKEYTYPE;
        goto fail;
    }
    wcrypto_pubkey pub;
    if (wcrypto_pubkey_parse((enum wcrypto_key_type)env->key_type,
                             env->pubkey.data, env->pubkey.len, &pub)) {
        WHY("public key is not a valid %s key (%zu bytes)",
            wcrypto_key_type_name((enum wcrypto_key_type)env->key_type),
            env->pubkey.len);
        err = WITAN_EKEY;
        goto fail;
    }
    if (env->signature.len != WITAN_SIGNATURE_SIZE) {
        WHY("signature is %zu bytes; expected %d", env->signature.len,
            WITAN_SIGNATURE_SIZE);
        err = WITAN_ESIG;
        goto fail;
    }
    tx->decoded_size = WITAN_UNPACK_BUDGET(size) - left;
    left = WITAN_UNPACK_BUDGET(env->body.len);
    derr = witan_unpack_from(&left, &witan__tx_body__descriptor,
                             env->body.data, env->body.len, &m);
    tx->body = (Witan__TxBody *)m;
    if (derr) {
        WHY("envelope body is not a valid TxBody");
        err = WITAN_EDECODE;
        goto fail;
    }
    tx->decoded_size += WITAN_UNPACK_BUDGET(env->body.len) - left;
    const Witan__TxBody *body = tx->body;
    if (strcmp(body->chain_id, l->g->chain_id) != 0) {
        WHY("transaction is for chain '%.64s'; this is chain '%s'",
            body->chain_id, l->g->chain_id);
        err = WITAN_ECHAIN;
        goto fail;
    }
    if (body->sender.len != WITAN_ADDRESS_SIZE) {
        WHY("sender must be a 20-byte address, not %zu bytes",
            body->sender.len);
        err = WITAN_EINVAL;
        goto fail;
    }
    if (body->nonce == 0) {
        WHY("nonces start at 1");
        err = WITAN_ENONCE;
        goto fail;
    }
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, env->body.data, env->body.len,
                        tx->hash);
    if (verify_signature &&
        (err = check_signature(&pub, tx, why, why_size)) != 0)
        goto fail;
    switch (body->payload_case) {
    case WITAN__TX_BODY__PAYLOAD_ATTEST:
        err = check_attest(body->attest, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_MEMBERSHIP:
        err = membership_check(body->membership, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL:
        err = models_check_register(l, body->register_model, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_SCORE:
        err = models_check_score(body->score, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_POST_PREDICTION:
        err = models_check_post(body->post_prediction, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT:
        err = contracts_check_deploy(body->deploy_contract, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT:
        err = contracts_check_call(body->call_contract, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT:
        err = contracts_check_retire(body->retire_contract, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_PROPOSE:
        err = gov_check_propose(body->propose, why, why_size);
        break;
    case WITAN__TX_BODY__PAYLOAD_VOTE:
        err = gov_check_vote(body->vote, why, why_size);
        break;
    default:
        WHY("transaction has no payload");
        err = WITAN_EINVAL;
    }
    if (err)
        goto fail;
    tx->bytes = malloc(size ? size : 1);
    if (!tx->bytes) {
        err = WITAN_ENOMEM;
        goto fail;
    }
    memcpy(tx->bytes, bytes, size);
    tx->size = size;
    memcpy(tx->sender, body->sender.data, WITAN_ADDRESS_SIZE);
    tx->nonce = body->nonce;
    return WITAN_OK;
fail:
    ledger_tx_release(tx);
    return err;
}

Witan__Role tx_required_role(const Witan__TxBody *body)
{
    switch (body->payload_case) {
    case WITAN__TX_BODY__PAYLOAD_ATTEST:
        return WITAN__ROLE__ROLE_DATA_PROVIDER;
    case WITAN__TX_BODY__PAYLOAD_MEMBERSHIP:
        return WITAN__ROLE__ROLE_ADMIN;
    case WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL:
    case WITAN__TX_BODY__PAYLOAD_POST_PREDICTION:
        return WITAN__ROLE__ROLE_MODEL_OPERATOR;
    case WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT:
    case WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT:
        return WITAN__ROLE__ROLE_CONTRACT_OPERATOR;
    case WITAN__TX_BODY__PAYLOAD_PROPOSE:
        return WITAN__ROLE__ROLE_PROPOSER;
    case WITAN__TX_BODY__PAYLOAD_VOTE:
        return WITAN__ROLE__ROLE_VALIDATOR_OPERATOR;
    case WITAN__TX_BODY__PAYLOAD_SCORE:
    case WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT:
        return WITAN__ROLE__ROLE_UNSPECIFIED; /* any member may ask */
    default:
        return WITAN__ROLE__ROLE_ADMIN;
    }
}

static bool has_role(const Witan__Account *a, Witan__Role role)
{
    for (size_t i = 0; i < a->n_roles; i++)
        if (a->roles[i] == role)
            return true;
    return false;
}

static const Witan__KeyEpoch *current_key(const Witan__Account *a)
{
    WITAN_ASSERT(a->n_keys > 0);
    return a->keys[a->n_keys - 1];
}

static bool same_key(const Witan__KeyEpoch *k, const Witan__Envelope *env)
{
    return k->key_type == env->key_type && k->pubkey.len == env->pubkey.len &&
           memcmp(k->pubkey.data, env->pubkey.data, k->pubkey.len) == 0;
}

/* The stateful rules shared by admission and apply. */
static int check_sender(const ledger *l, const Witan__Account *a,
                        const Witan__Envelope *env, const Witan__TxBody *body,
                        Witan__TxStatus *status, char *why, size_t why_size)
{
    if (!a || a->removed) {
        /* Only a refusal names the address: every transaction passes here
         * twice (admission and execution). */
        char addr[2 * WITAN_ADDRESS_SIZE + 1];
        witan_hex_encode(body->sender.data, WITAN_ADDRESS_SIZE, addr);
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_SENDER;
        if (a)
            WHY("member %s (%s) has been removed", addr, a->name);
        else
            WHY("no member has address %s", addr);
        return WITAN_ESENDER;
    }
    if (!same_key(current_key(a), env)) {
        *status = WITAN__TX_STATUS__TX_STATUS_WRONG_KEY;
        for (size_t i = 0; i + 1 < a->n_keys; i++)
            if (same_key(a->keys[i], env)) {
                WHY("signed with a key of %s that was rotated out at height "
                    "%llu",
                    a->name, (unsigned long long)a->keys[i]->until_height);
                return WITAN_EKEY;
            }
        WHY("signed with a key that is not the current key of %s", a->name);
        return WITAN_EKEY;
    }
    Witan__Role role = tx_required_role(body);
    if (role != WITAN__ROLE__ROLE_UNSPECIFIED && !has_role(a, role)) {
        *status = WITAN__TX_STATUS__TX_STATUS_MISSING_ROLE;
        WHY("%s lacks the %s role", a->name, ledger_role_name(role));
        return WITAN_EROLE;
    }
    /* The genesis took the admin's direct powers away: whoever signs, a
     * member changes only by proposal (governance.md, section 9). */
    if (body->payload_case == WITAN__TX_BODY__PAYLOAD_MEMBERSHIP &&
        ledger_params(l)->membership_by_governance_only) {
        *status = WITAN__TX_STATUS__TX_STATUS_GOVERNANCE_ONLY;
        WHY("membership changes on this chain need a proposal "
            "(membership_by_governance_only)");
        return WITAN_EROLE;
    }
    return WITAN_OK;
}

int ledger_tx_admit(ledger *l, const struct ledger_tx *tx,
                    uint64_t nonce_window, char *why, size_t why_size)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    Witan__Account *a = NULL;
    err = account_get(txn, tx->sender, &a);
    store_abort(txn);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    Witan__TxStatus status;
    err = check_sender(l, a, tx->envelope, tx->body, &status, why, why_size);
    if (!err && tx->nonce <= a->nonce) {
        WHY("nonce %llu was already used (last applied nonce of %s is %llu)",
            (unsigned long long)tx->nonce, a->name,
            (unsigned long long)a->nonce);
        err = WITAN_ENONCE;
    } else if (!err && tx->nonce - a->nonce > nonce_window) {
        WHY("nonce %llu skips ahead: the next nonce of %s is %llu (at most "
            "%llu ahead are held)",
            (unsigned long long)tx->nonce, a->name,
            (unsigned long long)a->nonce + 1,
            (unsigned long long)nonce_window);
        err = WITAN_ENONCE;
    }
    ledger_account_free(a);
    return err;
}

/* --- apply ------------------------------------------------------------------- */

size_t attest_key(const char *feed, const char *subject, int64_t time_ms,
                  const uint8_t provider[WITAN_ADDRESS_SIZE],
                  bool with_revision, uint32_t revision,
                  uint8_t out[WITAN_STORE_KEY_SIZE_MAX])
{
    size_t feed_size = strlen(feed), subject_size = strlen(subject);
    WITAN_ASSERT(feed_size <= WITAN_FEED_SIZE_MAX &&
                 subject_size <= WITAN_SUBJECT_SIZE_MAX);
    size_t n = 0;
    memcpy(out + n, feed, feed_size);
    n += feed_size;
    out[n++] = 0;
    memcpy(out + n, subject, subject_size);
    n += subject_size;
    out[n++] = 0;
    /* Flipping the sign bit makes unsigned byte order numeric order. */
    store_be64(out + n, (uint64_t)time_ms ^ (UINT64_C(1) << 63));
    n += 8;
    if (provider) {
        memcpy(out + n, provider, WITAN_ADDRESS_SIZE);
        n += WITAN_ADDRESS_SIZE;
        if (with_revision) {
            store_be32(out + n, revision);
            n += 4;
        }
    }
    return n;
}

static int put_record(store_txn *txn, const uint8_t *key, size_t key_size,
                      const Witan__AttestationRecord *r)
{
    return store_message(txn, STORE_ATTESTATIONS, key, key_size, &r->base);
}

static int apply_attest(store_txn *txn, const Witan__TxBody *body,
                        const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                        Witan__TxStatus *status, uint32_t *revision)
{
    const Witan__Attest *a = body->attest;
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX], key[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size = attest_key(a->feed, a->subject, a->observed_at_ms,
                                    body->sender.data, false, 0, prefix);

    /* Find the latest revision of this key, if any. */
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_ATTESTATIONS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    Witan__AttestationRecord *latest = NULL;
    uint32_t latest_revision = 0;
    for (err = store_cursor_seek(c, prefix, prefix_size, &k, &ks, &v, &vs);
         err == 0 && ks == prefix_size + 4 && memcmp(k, prefix, prefix_size) == 0;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        latest_revision = store_read_be32((const uint8_t *)k + prefix_size);
        if (latest)
            witan__attestation_record__free_unpacked(latest, NULL);
        latest = witan__attestation_record__unpack(NULL, vs, v);
        if (!latest) {
            store_cursor_close(c);
            return WITAN_EDBCORRUPT;
        }
    }
    store_cursor_close(c);
    if (err && err != WITAN_ENOTFOUND) {
        if (latest)
            witan__attestation_record__free_unpacked(latest, NULL);
        return err;
    }

    Witan__AttestationRecord rec = WITAN__ATTESTATION_RECORD__INIT;
    rec.attest = (Witan__Attest *)a;
    rec.provider = body->sender;
    rec.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
    rec.height = height;
    err = WITAN_OK;
    if (!latest) {
        if (a->corrects.len) {
            *status = WITAN__TX_STATUS__TX_STATUS_BAD_CORRECTION;
            return WITAN_OK;
        }
        rec.revision = 0;
    } else {
        if (!a->corrects.len) {
            *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
        } else if (latest->tx_hash.len != WITAN_HASH_SIZE ||
                   memcmp(latest->tx_hash.data, a->corrects.data,
                          WITAN_HASH_SIZE) != 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_BAD_CORRECTION;
        } else {
            /* Link both ways: the old revision names its successor. */
            latest->superseded_by =
                (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
            size_t n = attest_key(a->feed, a->subject, a->observed_at_ms,
                                  body->sender.data, true, latest_revision,
                                  key);
            err = put_record(txn, key, n, latest);
            latest->superseded_by = (ProtobufCBinaryData){0, NULL};
            rec.revision = latest_revision + 1;
        }
        witan__attestation_record__free_unpacked(latest, NULL);
        if (*status != WITAN__TX_STATUS__TX_STATUS_OK || err)
            return err;
    }
    size_t n = attest_key(a->feed, a->subject, a->observed_at_ms,
                          body->sender.data, true, rec.revision, key);
    *revision = rec.revision;
    return put_record(txn, key, n, &rec);
}

static int add_event(Witan__Account *a, uint64_t height,
                     const uint8_t hash[WITAN_HASH_SIZE], const char *what,
                     Witan__Role role)
{
    Witan__AccountEvent **ev =
        realloc(a->events, (a->n_events + 1) * sizeof *ev);
    if (!ev)
        return WITAN_ENOMEM;
    a->events = ev;
    Witan__AccountEvent *e = malloc(sizeof *e);
    char *w = strdup(what);
    uint8_t *h = hash ? malloc(WITAN_HASH_SIZE) : NULL;
    if (!e || !w || (hash && !h)) {
        free(e);
        free(w);
        free(h);
        return WITAN_ENOMEM;
    }
    witan__account_event__init(e);
    e->height = height;
    e->what = w;
    e->role = role;
    if (hash) {
        memcpy(h, hash, WITAN_HASH_SIZE);
        e->tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, h};
    }
    a->events[a->n_events++] = e;
    return WITAN_OK;
}

static int set_role(Witan__Account *a, Witan__Role role, bool on)
{
    bool has = has_role(a, role);
    if (has == on)
        return WITAN_EEXIST;
    if (on) {
        Witan__Role *r = realloc(a->roles, (a->n_roles + 1) * sizeof *r);
        if (!r)
            return WITAN_ENOMEM;
        a->roles = r;
        size_t i = a->n_roles++;
        /* Insert keeping the roles sorted: the canonical form. */
        while (i > 0 && a->roles[i - 1] > role) {
            a->roles[i] = a->roles[i - 1];
            i--;
        }
        a->roles[i] = role;
    } else {
        size_t j = 0;
        for (size_t i = 0; i < a->n_roles; i++)
            if (a->roles[i] != role)
                a->roles[j++] = a->roles[i];
        a->n_roles = j;
    }
    return WITAN_OK;
}

static int add_key(Witan__Account *a, Witan__KeyType type,
                   ProtobufCBinaryData pub, uint64_t height)
{
    Witan__KeyEpoch **keys = realloc(a->keys, (a->n_keys + 1) * sizeof *keys);
    if (!keys)
        return WITAN_ENOMEM;
    a->keys = keys;
    Witan__KeyEpoch *k = malloc(sizeof *k);
    uint8_t *data = malloc(pub.len ? pub.len : 1);
    if (!k || !data) {
        free(k);
        free(data);
        return WITAN_ENOMEM;
    }
    witan__key_epoch__init(k);
    memcpy(data, pub.data, pub.len);
    k->key_type = type;
    k->pubkey = (ProtobufCBinaryData){pub.len, data};
    k->from_height = height;
    if (a->n_keys)
        a->keys[a->n_keys - 1]->until_height = height;
    a->keys[a->n_keys++] = k;
    return WITAN_OK;
}

int ledger_account_new(const char *name, Witan__KeyType type,
                       ProtobufCBinaryData pub, const Witan__Role *roles,
                       size_t role_count, uint64_t height,
                       const uint8_t *tx_hash, Witan__Account **out)
{
    *out = NULL;
    Witan__Account *a = calloc(1, sizeof *a);
    if (!a)
        return WITAN_ENOMEM;
    witan__account__init(a);
    wcrypto_pubkey pk;
    int err = wcrypto_pubkey_parse((enum wcrypto_key_type)type, pub.data,
                                   pub.len, &pk);
    if (err) {
        free(a);
        return err;
    }
    a->address.data = malloc(WITAN_ADDRESS_SIZE);
    a->name = strdup(name);
    if (!a->address.data || !a->name) {
        ledger_account_free(a);
        return WITAN_ENOMEM;
    }
    wcrypto_address(&pk, a->address.data);
    a->address.len = WITAN_ADDRESS_SIZE;
    err = add_key(a, type, pub, height);
    for (size_t i = 0; !err && i < role_count; i++)
        err = set_role(a, roles[i], true);
    if (!err)
        err = add_event(a, height, tx_hash, "created", 0);
    if (err) {
        ledger_account_free(a);
        return err == WITAN_EEXIST ? WITAN_EINVAL : err;
    }
    *out = a;
    return WITAN_OK;
}

int membership_apply(store_txn *txn, const Witan__Membership *m,
                     const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                     Witan__TxStatus *status)
{
    Witan__TxStatus invalid = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
    Witan__Account *target = NULL;
    int err;
    if (m->change_case == WITAN__MEMBERSHIP__CHANGE_ADD) {
        const Witan__MemberAdd *add = m->add;
        err = ledger_account_new(add->name, add->key_type, add->pubkey,
                                 add->roles, add->n_roles, height, hash,
                                 &target);
        if (err)
            return err == WITAN_EINVAL ? (*status = invalid, 0) : err;
        Witan__Account *existing = NULL;
        err = account_get(txn, target->address.data, &existing);
        if (err == WITAN_OK) {
            /* Addresses are never reused, not even after a removal. */
            *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
            ledger_account_free(existing);
            ledger_account_free(target);
            return WITAN_OK;
        }
        if (err != WITAN_ENOTFOUND) {
            ledger_account_free(target);
            return err;
        }
        err = account_put(txn, target);
        ledger_account_free(target);
        return err;
    }

    const uint8_t *addr;
    switch (m->change_case) {
    case WITAN__MEMBERSHIP__CHANGE_REMOVE: addr = m->remove.data; break;
    case WITAN__MEMBERSHIP__CHANGE_GRANT: addr = m->grant->address.data; break;
    case WITAN__MEMBERSHIP__CHANGE_REVOKE: addr = m->revoke->address.data; break;
    case WITAN__MEMBERSHIP__CHANGE_ROTATE: addr = m->rotate->address.data; break;
    default:
        *status = invalid;
        return WITAN_OK;
    }
    err = account_get(txn, addr, &target);
    if (err == WITAN_ENOTFOUND || (err == 0 && target->removed)) {
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_SENDER;
        ledger_account_free(target);
        return WITAN_OK;
    }
    if (err)
        return err;
    switch (m->change_case) {
    case WITAN__MEMBERSHIP__CHANGE_REMOVE:
        target->removed = true;
        err = add_event(target, height, hash, "removed", 0);
        break;
    case WITAN__MEMBERSHIP__CHANGE_GRANT:
    case WITAN__MEMBERSHIP__CHANGE_REVOKE: {
        bool grant = m->change_case == WITAN__MEMBERSHIP__CHANGE_GRANT;
        Witan__Role role = grant ? m->grant->role : m->revoke->role;
        err = set_role(target, role, grant);
        if (err == WITAN_EEXIST) {
            *status = invalid; /* granting a held role, revoking a missing one */
            err = WITAN_OK;
            break;
        }
        if (!err)
            err = add_event(target, height, hash, grant ? "grant" : "revoke",
                            role);
        break;
    }
    case WITAN__MEMBERSHIP__CHANGE_ROTATE: {
        const Witan__KeyEpoch *cur = current_key(target);
        if (cur->key_type == m->rotate->key_type &&
            cur->pubkey.len == m->rotate->pubkey.len &&
            memcmp(cur->pubkey.data, m->rotate->pubkey.data,
                   cur->pubkey.len) == 0) {
            *status = invalid; /* rotating to the same key */
            break;
        }
        err = add_key(target, m->rotate->key_type, m->rotate->pubkey, height);
        if (!err)
            err = add_event(target, height, hash, "rotate", 0);
        break;
    }
    default:
        break;
    }
    if (!err && *status == WITAN__TX_STATUS__TX_STATUS_OK)
        err = account_put(txn, target);
    ledger_account_free(target);
    return err;
}

int tx_apply(ledger *l, store_txn *txn, const Witan__Envelope *env,
             const Witan__TxBody *body, const uint8_t hash[WITAN_HASH_SIZE],
             uint64_t height, Witan__TxStatus *status)
{
    char why[LEDGER_WHY_SIZE];
    *status = WITAN__TX_STATUS__TX_STATUS_OK;
    l->tx_gas = 0;
    l->tx_runs = 0;
    l->tx_proposal = 0;
    l->tx_hash = hash;
    l->tx_sender = body->sender.data;
    l->tx_height = height;
    Witan__Account *a = NULL;
    int err = account_get(txn, body->sender.data, &a);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    if (check_sender(l, a, env, body, status, why, sizeof why) != 0) {
        ledger_account_free(a);
        return WITAN_OK;
    }
    if (body->nonce != a->nonce + 1) {
        *status = WITAN__TX_STATUS__TX_STATUS_BAD_NONCE;
        ledger_account_free(a);
        return WITAN_OK;
    }
    /* The nonce is spent whatever the payload's fate, so a refused
     * transaction can never be replayed into acceptance later. */
    a->nonce = body->nonce;
    err = account_put(txn, a);
    ledger_account_free(a);
    if (err)
        return err;
    switch (body->payload_case) {
    case WITAN__TX_BODY__PAYLOAD_ATTEST: {
        uint32_t revision = 0;
        err = apply_attest(txn, body, hash, height, status, &revision);
        if (err || *status != WITAN__TX_STATUS__TX_STATUS_OK)
            return err;
        /* A stored attestation first resolves the predictions made of
         * what it observes, then scores every model it triggers. */
        err = scores_on_attestation(l, txn, body->attest, hash, revision,
                                    height);
        if (!err)
            err = models_on_attestation(l, txn, body->attest, hash, height);
        return err;
    }
    case WITAN__TX_BODY__PAYLOAD_MEMBERSHIP:
        return membership_apply(txn, body->membership, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_PROPOSE:
        return gov_apply_propose(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_VOTE:
        return gov_apply_vote(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL:
        return models_apply_register(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_SCORE:
        return models_apply_score(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_POST_PREDICTION:
        return models_apply_post(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT:
        return contracts_apply_deploy(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT:
        return contracts_apply_retire(l, txn, body, hash, height, status);
    case WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT:
        return contracts_apply_call(l, txn, body, hash, height, status);
    default:
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
}
