/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed history heads (spec/proofs.md): at every checkpoint height K, 2K,
 * ... each validator signs the C2SP checkpoint of the history tree after
 * that block and sends its signature to the others (frames of kind 03);
 * a node that holds a quorum of valid signatures writes the signed note to
 * its `heads` table, whence clients, auditors and witnesses fetch it.
 * Signatures are checked against the receiver's own root, so a validator
 * that signs another history only wastes a slot. Each size is signed by
 * the validator set in force at it, so heads follow governance's changes.
 */
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "node/internal.h"

enum { SIG_NONE, SIG_UNCHECKED, SIG_VALID };

static uint64_t interval(const struct node *n)
{
    return n->genesis->params->checkpoint_interval;
}

/* The slot of `size`: emptied for a newer size; NULL for an older one,
 * which this node no longer gathers. */
static struct node_head_slot *slot_of(struct node *n, uint64_t size)
{
    struct node_head_slot *s =
        &n->heads.slot[(size / interval(n)) % NODE_HEADS_SLOTS];
    if (s->size == size)
        return s;
    if (s->size > size)
        return NULL;
    memset(s, 0, sizeof *s);
    s->size = size;
    return s;
}

/* A signature held for validator v: sent by the peer whose key is v's in
 * the set in force at the slot's size, over this node's text. */
static bool verify(struct node *n, struct node_head_slot *s, uint32_t v)
{
    if (v >= s->set_count ||
        memcmp(s->from[v], s->keys[v], WCRYPTO_ED25519_PUBKEY_SIZE) != 0)
        return false;
    char text[LEDGER_HEAD_TEXT_SIZE_MAX];
    int len = ledger_head_text(n->genesis, s->size, s->root, text, sizeof text);
    return len > 0 && wcrypto_ed25519_verify_message(s->keys[v], text,
                                                     (size_t)len,
                                                     s->sig[v]) == 0;
}

/* With a quorum of valid signatures, (re)writes the signed note: its text,
 * a blank line, and the signatures in validator order. */
static void write_if_quorum(struct node *n, struct node_head_slot *s)
{
    uint32_t count = 0, nv = s->set_count;
    for (uint32_t v = 0; v < nv; v++)
        count += s->state[v] == SIG_VALID;
    if (count < pbft_quorum(nv) || count == s->written_count)
        return;
    char note[LEDGER_HEAD_SIZE_MAX];
    int len = ledger_head_text(n->genesis, s->size, s->root, note, sizeof note);
    if (len < 0)
        return;
    size_t at = (size_t)len;
    note[at++] = '\n';
    for (uint32_t v = 0; v < nv; v++) {
        if (s->state[v] != SIG_VALID)
            continue;
        int l = ledger_head_signature_line(n->genesis, s->set_first, v,
                                           s->keys[v], s->sig[v], note + at,
                                           sizeof note - at);
        if (l < 0)
            return;
        at += (size_t)l;
    }
    store *st = ledger_store(n->l);
    store_txn *txn;
    uint8_t key[8];
    store_be64(key, s->size);
    int err = store_write_begin(st, &txn);
    if (!err) {
        err = store_put(txn, STORE_HEADS, key, 8, note, at);
        if (err)
            store_abort(txn);
        else
            err = store_commit(txn);
    }
    if (err) {
        WITAN_WARN("node", "signed head of %llu blocks not stored: %s",
                   (unsigned long long)s->size, witan_err_message(err));
        return;
    }
    s->written_count = count;
    n->heads.assembled++;
    WITAN_DEBUG("node", "signed head of %llu blocks: %u of %u validators",
                (unsigned long long)s->size, count, nv);
}

/* The set in force at the slot's size, which has executed here. */
static int load_set(struct node *n, struct node_head_slot *s)
{
    Witan__ValidatorSet *vs;
    int err = ledger_validator_set(n->l, s->size, &vs);
    if (err)
        return err;
    if (vs->n_validators > WITAN_VALIDATOR_COUNT_MAX)
        err = WITAN_EDBCORRUPT;
    for (size_t i = 0; !err && i < vs->n_validators; i++) {
        if (vs->validators[i]->pubkey.len != WCRYPTO_ED25519_PUBKEY_SIZE)
            err = WITAN_EDBCORRUPT;
        else
            memcpy(s->keys[i], vs->validators[i]->pubkey.data,
                   WCRYPTO_ED25519_PUBKEY_SIZE);
    }
    if (!err) {
        s->set_first = vs->first_height;
        s->set_count = (uint32_t)vs->n_validators;
    }
    witan__validator_set__free_unpacked(vs, NULL);
    return err;
}

void node_heads_executed(struct node *n, uint64_t height)
{
    if (height == 0 || height % interval(n) != 0)
        return;
    struct node_head_slot *s = slot_of(n, height);
    if (!s)
        return;
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    WITAN_ASSERT(tip.height == height);
    int err = load_set(n, s);
    if (err) {
        WITAN_WARN("node", "head of %llu blocks: the validator set in force "
                           "at it cannot be read: %s",
                   (unsigned long long)height, witan_err_message(err));
        return;
    }
    wcrypto_history_root(&tip.history, s->root);
    s->have_root = true;
    /* Signatures that came before this node got here are checked now. */
    for (uint32_t v = 0; v < WITAN_VALIDATOR_COUNT_MAX; v++)
        if (s->state[v] == SIG_UNCHECKED)
            s->state[v] = verify(n, s, v) ? SIG_VALID : SIG_NONE;
    char text[LEDGER_HEAD_TEXT_SIZE_MAX];
    int len = ledger_head_text(n->genesis, height, s->root, text, sizeof text);
    /* Signed by the set in force at this size, with this node's key in
     * it: a validator added signs from its set on, a removed one or an
     * old key no more. */
    uint32_t self = UINT32_MAX;
    for (uint32_t v = 0; v < s->set_count; v++)
        if (memcmp(s->keys[v], n->key.pub.bytes,
                   WCRYPTO_ED25519_PUBKEY_SIZE) == 0)
            self = v;
    if (self == UINT32_MAX || len < 0 ||
        wcrypto_ed25519_sign_message(&n->key, text, (size_t)len,
                                     s->sig[self]))
        return;
    memcpy(s->from[self], n->key.pub.bytes, WCRYPTO_ED25519_PUBKEY_SIZE);
    s->state[self] = SIG_VALID;
    if (s->set_count > 1 && n->replica) {
        Witan__HeadSignature h = WITAN__HEAD_SIGNATURE__INIT;
        h.size = height;
        h.validator = self;
        h.signature = (ProtobufCBinaryData){WITAN_SIGNATURE_SIZE, s->sig[self]};
        uint8_t buf[64 + WITAN_SIGNATURE_SIZE];
        size_t size = witan__head_signature__pack(&h, buf);
        WITAN_ASSERT(size <= sizeof buf);
        replica_send(n, PBFT_TO_ALL, NODE_FRAME_HEADS, buf, size);
    }
    write_if_quorum(n, s);
}

void node_heads_on_frame(struct node *n, uint32_t sender, const uint8_t *data,
                         size_t size)
{
    Witan__HeadSignature *h =
        witan_unpack_or_null(&witan__head_signature__descriptor, data, size);
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    uint64_t k = interval(n);
    /* `validator` is the signer's index in the set in force at `size`,
     * which may not be the set the mesh is linked for (and is not known
     * yet for a size this node has not executed): the sender's key goes
     * with the signature, and must be that index's key in that set. */
    uint8_t from[WCRYPTO_ED25519_PUBKEY_SIZE];
    /* Only checkpoint sizes near this node's tip: older ones are done,
     * and far-future ones would let a peer evict the slots in use. */
    bool ok = h && h->size > 0 && h->size % k == 0 &&
              h->validator < WITAN_VALIDATOR_COUNT_MAX &&
              replica_peer_key(n, sender, from) &&
              memcmp(from, n->key.pub.bytes, sizeof from) != 0 &&
              h->signature.len == WITAN_SIGNATURE_SIZE &&
              h->size <= tip.height + NODE_HEADS_AHEAD_MAX * k &&
              h->size + (NODE_HEADS_SLOTS - NODE_HEADS_AHEAD_MAX) * k >
                  tip.height;
    struct node_head_slot *s = ok ? slot_of(n, h->size) : NULL;
    /* A validator signs for itself only: a slot is taken by the peer
     * holding that index's key, so no peer displaces another's. */
    if (s && s->have_root &&
        (h->validator >= s->set_count ||
         memcmp(s->keys[h->validator], from, sizeof from) != 0))
        s = NULL;
    if (s && s->state[h->validator] != SIG_VALID) {
        memcpy(s->sig[h->validator], h->signature.data, WITAN_SIGNATURE_SIZE);
        memcpy(s->from[h->validator], from, sizeof from);
        s->state[h->validator] = SIG_UNCHECKED;
        if (s->have_root) {
            s->state[h->validator] =
                verify(n, s, h->validator) ? SIG_VALID : SIG_NONE;
            if (s->state[h->validator] == SIG_NONE)
                n->heads.refused++;
            write_if_quorum(n, s);
        }
    } else if (!s) {
        n->heads.refused++;
    }
    if (h)
        witan__head_signature__free_unpacked(h, NULL);
}

int node_heads_get(struct node *n, uint64_t size, Witan__HeadResponse *out,
                   char **note)
{
    *note = NULL;
    store_txn *txn;
    store_cursor *c = NULL;
    int err = store_read_begin(ledger_store(n->l), &txn);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    if (size) {
        uint8_t key[8];
        store_be64(key, size);
        k = key;
        ks = 8;
        err = store_get(txn, STORE_HEADS, key, 8, &v, &vs);
        if (!err)
            size = store_read_be64(key);
    } else {
        err = store_cursor_open(txn, STORE_HEADS, &c);
        if (!err)
            err = store_cursor_last(c, &k, &ks, &v, &vs);
        if (!err && ks != 8)
            err = WITAN_EDBCORRUPT;
        if (!err)
            size = store_read_be64(k);
    }
    if (!err && !(*note = malloc(vs + 1)))
        err = WITAN_ENOMEM;
    if (!err) {
        memcpy(*note, v, vs);
        (*note)[vs] = '\0';
        out->size = size;
        out->note = *note;
    }
    if (c)
        store_cursor_close(c);
    store_abort(txn);
    return err;
}
