/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pbft — the replica state machine (consensus.h has the contract,
 * spec/consensus.md the protocol).
 *
 * Layout: a window of slots, one per height in (low, low + W], each holding
 * the current view's proposal and votes plus the prepared certificate that
 * survives view changes; a ring of results of executed blocks (roots and
 * certificates needed by the headers of later blocks); per-validator view
 * changes and checkpoint votes; a buffer of messages for later views. Every
 * handler validates before it changes anything; `pump` then advances every
 * slot as far as it can (prepare, commit, deliver, propose), so the order in
 * which messages arrive never matters.
 */
#include <stdio.h>
#include <string.h>

#include "consensus/consensus.h"
#include "spec/consensus.pb-c.h"
#include "spec/witan.pb-c.h"

#define TAG_PRE_PREPARE "witan/preprepare/v1"
#define TAG_PREPARE "witan/prepare/v1"
#define TAG_CHECKPOINT "witan/checkpoint/v1"
#define TAG_VIEW_CHANGE "witan/viewchange/v1"
#define TAG_NEW_VIEW "witan/newview/v1"
#define TAG_STATUS "witan/status/v1"
#define TAG_STATE_REQUEST "witan/statereq/v1"
#define TAG_STATE_RESPONSE "witan/stateresp/v1"
#define TAG_SUSPECT "witan/suspect/v1"
#define TAG_TEST_SIG "witan/test-sig/v1"

#define RECORD_MESSAGE 'M'
#define RECORD_PREPARED 'P'

#define VMAX WITAN_VALIDATOR_COUNT_MAX
/* Sets kept below the one in force, for the certificates of blocks a
 * lagging replica still fetches after switching (struct pbft, `older`).
 * Changes come at least L + 1 blocks apart, so four cover a replica that
 * is behind by four changes; one further behind is restored from a backup
 * (governance.md section 12). 4 * VMAX keys: 8 KiB. */
#define PBFT_OLDER_SETS 4
#define VC_PER_SENDER 3
/* Blocks delivered in a row, each before the view timer's first half
 * ended, that take one doubling off the timer. A view that failed because
 * the blocks were slow, not the primary (an overloaded network), would
 * otherwise be followed at once by a timer as short as before and fail
 * again; this keeps the longer timer while blocks need it (consensus.md,
 * "Timer"). */
#define PBFT_CALM_BLOCKS 16

/* --- signatures ------------------------------------------------------------ */

static void test_sig(const wcrypto_pubkey *pub,
                     const uint8_t digest[WITAN_HASH_SIZE],
                     uint8_t sig[WITAN_SIGNATURE_SIZE])
{
    uint8_t buf[WCRYPTO_PUBKEY_SIZE_MAX + WITAN_HASH_SIZE];
    memcpy(buf, pub->bytes, pub->size);
    memcpy(buf + pub->size, digest, WITAN_HASH_SIZE);
    wcrypto_hash_tagged(TAG_TEST_SIG, buf, pub->size + 32u, sig);
    wcrypto_hash_tagged(TAG_TEST_SIG, sig, WITAN_HASH_SIZE,
                        sig + WITAN_HASH_SIZE);
}

static int sig_make(enum pbft_sig_scheme scheme, const wcrypto_keypair *key,
                    const uint8_t digest[WITAN_HASH_SIZE],
                    uint8_t sig[WITAN_SIGNATURE_SIZE])
{
    if (scheme == PBFT_SIG_TEST_HASH) {
        test_sig(&key->pub, digest, sig);
        return 0;
    }
    return wcrypto_sign(key, digest, sig);
}

static int sig_check(enum pbft_sig_scheme scheme, const wcrypto_pubkey *pub,
                     const uint8_t digest[WITAN_HASH_SIZE],
                     const uint8_t sig[WITAN_SIGNATURE_SIZE])
{
    if (scheme == PBFT_SIG_TEST_HASH) {
        uint8_t want[WITAN_SIGNATURE_SIZE];
        test_sig(pub, digest, want);
        return memcmp(want, sig, WITAN_SIGNATURE_SIZE) == 0 ? 0 : WITAN_ESIG;
    }
    return wcrypto_verify(pub, digest, sig);
}

static const char *kind_tag(int kind)
{
    switch (kind) {
    case PBFT_MSG_PRE_PREPARE: return TAG_PRE_PREPARE;
    case PBFT_MSG_PREPARE: return TAG_PREPARE;
    case PBFT_MSG_CHECKPOINT: return TAG_CHECKPOINT;
    case PBFT_MSG_VIEW_CHANGE: return TAG_VIEW_CHANGE;
    case PBFT_MSG_NEW_VIEW: return TAG_NEW_VIEW;
    case PBFT_MSG_STATUS: return TAG_STATUS;
    case PBFT_MSG_STATE_REQUEST: return TAG_STATE_REQUEST;
    case PBFT_MSG_STATE_RESPONSE: return TAG_STATE_RESPONSE;
    case PBFT_MSG_SUSPECT: return TAG_SUSPECT;
    default: return NULL;
    }
}

/* The digest a message's signature covers (a Commit: its Vote). */
static int message_digest(const char *chain_id,
                          const Witan__ConsensusMessage *cm,
                          const uint8_t *body, size_t body_size,
                          uint8_t out[WITAN_HASH_SIZE])
{
    if (cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_COMMIT) {
        const Witan__Commit *c = cm->commit;
        if (c->block_hash.len != WITAN_HASH_SIZE)
            return WITAN_EDECODE;
        pbft_vote_digest(chain_id, c->height, c->view, c->block_hash.data, out);
        return 0;
    }
    const char *tag = kind_tag((int)cm->kind_case);
    if (tag == NULL)
        return WITAN_EDECODE;
    wcrypto_hash_tagged(tag, body, body_size, out);
    return 0;
}

/* Packs `cm` and signs it; *out is malloc'ed. */
static int encode_signed(const char *chain_id, enum pbft_sig_scheme scheme,
                         const wcrypto_keypair *key, uint32_t sender,
                         Witan__ConsensusMessage *cm, uint8_t **out,
                         size_t *out_size)
{
    cm->chain_id = (char *)chain_id;
    size_t body_size = witan__consensus_message__get_packed_size(cm);
    uint8_t *body = malloc(body_size ? body_size : 1);
    if (body == NULL)
        return WITAN_ENOMEM;
    witan__consensus_message__pack(cm, body);
    uint8_t digest[WITAN_HASH_SIZE], sig[WITAN_SIGNATURE_SIZE];
    int rc = message_digest(chain_id, cm, body, body_size, digest);
    if (rc == 0)
        rc = sig_make(scheme, key, digest, sig);
    if (rc != 0) {
        free(body);
        return rc;
    }
    Witan__SignedMessage sm = WITAN__SIGNED_MESSAGE__INIT;
    sm.sender = sender;
    sm.body.data = body;
    sm.body.len = body_size;
    sm.signature.data = sig;
    sm.signature.len = WITAN_SIGNATURE_SIZE;
    size_t size = witan__signed_message__get_packed_size(&sm);
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        free(body);
        return WITAN_ENOMEM;
    }
    witan__signed_message__pack(&sm, buf);
    free(body);
    *out = buf;
    *out_size = size;
    return 0;
}

int pbft_msg_sign(const char *chain_id, enum pbft_sig_scheme scheme,
                  const wcrypto_keypair *key, uint32_t sender,
                  const pbft_msg *m, uint8_t **out, size_t *out_size)
{
    Witan__ConsensusMessage cm = WITAN__CONSENSUS_MESSAGE__INIT;
    Witan__PrePrepare pp = WITAN__PRE_PREPARE__INIT;
    Witan__Prepare p = WITAN__PREPARE__INIT;
    Witan__Commit c = WITAN__COMMIT__INIT;
    Witan__Checkpoint ck = WITAN__CHECKPOINT__INIT;
    Witan__Status st = WITAN__STATUS__INIT;
    Witan__Suspect su = WITAN__SUSPECT__INIT;
    ProtobufCBinaryData hash = {WITAN_HASH_SIZE, (uint8_t *)m->hash};
    switch (m->kind) {
    case PBFT_MSG_PRE_PREPARE:
        pp.view = m->view;
        pp.height = m->height;
        pp.block.data = (uint8_t *)m->block.data;
        pp.block.len = m->block.size;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE;
        cm.pre_prepare = &pp;
        break;
    case PBFT_MSG_PREPARE:
        p.view = m->view;
        p.height = m->height;
        p.block_hash = hash;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_PREPARE;
        cm.prepare = &p;
        break;
    case PBFT_MSG_COMMIT:
        c.view = m->view;
        c.height = m->height;
        c.block_hash = hash;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_COMMIT;
        cm.commit = &c;
        break;
    case PBFT_MSG_CHECKPOINT:
        ck.height = m->height;
        ck.state_root = hash;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT;
        cm.checkpoint = &ck;
        break;
    case PBFT_MSG_STATUS:
        st.view = m->view;
        st.delivered_height = m->height;
        st.stable_height = m->aux;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_STATUS;
        cm.status = &st;
        break;
    case PBFT_MSG_SUSPECT:
        su.view = m->view;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_SUSPECT;
        cm.suspect = &su;
        break;
    default:
        return WITAN_EINVAL;
    }
    return encode_signed(chain_id, scheme, key, sender, &cm, out, out_size);
}

/* pbft_cert_verify, except that a signature byte for byte the same as the
 * one `known` holds for that signer and vote is not checked again: `known`
 * is a certificate this replica already checked (or built from votes it
 * checked), and a valid Ed25519 signature stays valid. NULL: check all. */
static int cert_verify(const char *chain_id, enum pbft_sig_scheme scheme,
                       const wcrypto_pubkey *validators, uint32_t n,
                       const pbft_cert *cert, const pbft_cert *known,
                       char *why, size_t why_size)
{
#define REFUSE(...)                                                            \
    do {                                                                       \
        if (why != NULL && why_size > 0)                                       \
            snprintf(why, why_size, __VA_ARGS__);                              \
        return WITAN_ECONSENSUS;                                               \
    } while (0)
    if (n == 0 || n > VMAX)
        REFUSE("validator set of %u", n);
    if (n < WITAN_SIGNATURE_SIZE && (cert->signers >> n) != 0)
        REFUSE("certificate names a signer outside the %u validators", n);
    if ((uint32_t)__builtin_popcountll(cert->signers) != cert->sig_count)
        REFUSE("certificate's signatures are not one per signer");
    if (cert->sig_count < pbft_quorum(n))
        REFUSE("certificate has %u signatures; the quorum of %u validators "
               "is %u",
               cert->sig_count, n, pbft_quorum(n));
    if (known != NULL &&
        (known->height != cert->height || known->view != cert->view ||
         memcmp(known->block_hash, cert->block_hash, WITAN_HASH_SIZE) != 0))
        known = NULL;
    uint8_t digest[WITAN_HASH_SIZE];
    pbft_vote_digest(chain_id, cert->height, cert->view, cert->block_hash,
                     digest);
    uint32_t k = 0, j = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool in_known = known != NULL && (known->signers & (1ull << i));
        if (!(cert->signers & (1ull << i))) {
            j += in_known;
            continue;
        }
        bool seen =
            in_known && j < known->sig_count &&
            memcmp(known->sigs[j], cert->sigs[k], WITAN_SIGNATURE_SIZE) == 0;
        j += in_known;
        if (!seen &&
            sig_check(scheme, &validators[i], digest, cert->sigs[k]) != 0)
            REFUSE("certificate signature of validator %u does not verify",
                   i);
        k++;
    }
#undef REFUSE
    return 0;
}

int pbft_cert_verify(const char *chain_id, enum pbft_sig_scheme scheme,
                     const wcrypto_pubkey *validators, uint32_t n,
                     const pbft_cert *cert)
{
    return cert_verify(chain_id, scheme, validators, n, cert, NULL, NULL, 0);
}

int pbft_cert_check(const char *chain_id, enum pbft_sig_scheme scheme,
                    const wcrypto_pubkey *validators, uint32_t n,
                    const pbft_cert *cert, char *why, size_t why_size)
{
    return cert_verify(chain_id, scheme, validators, n, cert, NULL, why,
                       why_size);
}

int pbft_cert_check_known(const char *chain_id, enum pbft_sig_scheme scheme,
                          const wcrypto_pubkey *validators, uint32_t n,
                          const pbft_cert *cert, const pbft_cert *known,
                          char *why, size_t why_size)
{
    return cert_verify(chain_id, scheme, validators, n, cert, known, why,
                       why_size);
}

/* --- state ------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *data;
    size_t size;
} buf;

struct vote {
    bool has;
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t sig[WITAN_SIGNATURE_SIZE];
    buf raw;
};

struct header_info {
    uint64_t height, view, results_height;
    uint32_t proposer;
    uint32_t tx_count;
    int64_t time_ms;
    uint8_t prev_hash[WITAN_HASH_SIZE];
    uint8_t history_root[WITAN_HASH_SIZE];
    uint8_t txs_root[WITAN_HASH_SIZE];
    uint8_t state_root[WITAN_HASH_SIZE], receipts_root[WITAN_HASH_SIZE];
    bool has_roots;
    bool has_cert;
    pbft_cert cert;
    bool chain_ok;
};

struct slot {
    uint64_t height; /* 0: empty */
    /* current view */
    bool has_pp;
    bool pp_from_new_view;
    uint8_t digest[WITAN_HASH_SIZE];
    buf block;
    buf pp_raw;
    struct header_info hdr;
    int verdict; /* 0 unknown, 1 valid, -1 refused */
    bool asked;  /* VALIDATE emitted for the block held */
    bool checked;  /* links and results checked and found right */
    bool refused;
    bool prepare_sent, commit_sent, prepared;
    uint64_t vote_view;
    struct vote *prepares;
    struct vote *commits;
    /* prepared certificate (kept across views) */
    bool has_pc;
    uint64_t pc_view;
    uint8_t pc_digest[WITAN_HASH_SIZE];
    buf pc_block;
    buf *pc_prepares;
    uint32_t pc_count;
    /* outcome */
    bool committed;
    pbft_cert cert;
};

struct result {
    uint64_t height;
    bool executed;
    uint8_t block_hash[WITAN_HASH_SIZE];
    int64_t time_ms;
    uint8_t state_root[WITAN_HASH_SIZE], receipts_root[WITAN_HASH_SIZE];
    pbft_cert cert;
};

struct ckvote {
    bool has;
    uint64_t height;
    uint8_t root[WITAN_HASH_SIZE];
    buf raw;
};

struct ckentry {
    uint64_t height;
    struct ckvote votes[VMAX];
};

struct future {
    uint64_t view;
    buf raw;
};

struct vset {
    uint32_t n, f, q, self;
    wcrypto_pubkey keys[VMAX];
};

struct pbft {
    char chain_id[WITAN_CHAIN_ID_SIZE_MAX + 1];
    wcrypto_keypair key;
    struct vset set;
    uint64_t set_from;   /* first height of `set` */
    /* The sets before `set`, newest first; older[i] is in force from
     * older_from[i] (0 for the earliest one known, which a replica booted
     * with: it stands for every height below). A replica that lagged
     * switches when a quorum's checkpoints make the boundary stable, before
     * it has executed up to it, and may switch again before it has caught
     * up: the certificates of the blocks it still fetches are checked by
     * the sets it switched away from. */
    struct vset older[PBFT_OLDER_SETS];
    uint64_t older_from[PBFT_OLDER_SETS];
    uint32_t older_count;
    bool change_pending;
    uint64_t change_from;
    /* The node offered a change while one was pending (WITAN_ESTATE) and
     * has not handed it since: known_through is bounded by it. */
    bool change_refused;
    struct vset next_set;
    /* A rotated key (pbft_set_validators): the replica signs with it from
     * the switch on, and the old one is wiped then. */
    bool next_key_set;
    wcrypto_keypair next_key;
    uint32_t L, K, W;
    uint32_t view_timeout_ms, view_timeout_max_ms, retransmit_ms;
    uint32_t state_block_count;
    enum pbft_sig_scheme scheme;
    int (*txs_root)(const uint8_t *const *txs, const size_t *sizes,
                    size_t count, uint8_t root[WITAN_HASH_SIZE]);
    uint32_t flags;
    bool restoring;
    /* Lazy records (spec/consensus.md, "Lazy records"). `anchored`:
     * since the last stable checkpoint this replica synced a record of its
     * own of view anchor_view, so a proposal or prepare of that view may
     * be written lazily: a power loss that takes it leaves that record,
     * and the replica boots in a view at least as high, muted there. */
    bool anchored;
    uint64_t anchor_view;
    bool restored_own; /* a record of its own message was replayed */
    /* The boot rule holds in mute_view up to mute_height (the boot's low
     * + W); 0: no rule. */
    uint64_t mute_view, mute_height;

    uint64_t view;
    bool vc_active;
    /* The view in force when the validator set last switched. A view
     * change under way then, or begun in the next view, may never gather
     * a quorum: what was signed under the previous set's indices (view
     * changes gathered, this replica's own, suspicions) cannot be checked
     * by the new set, and the replicas' switches are not simultaneous, so
     * some justified the view change under the old set and some under the
     * new. Their timers run without waiting for a quorum; timing out, the
     * replicas suspect that view under the new set and move on together. */
    uint64_t switch_view;
    uint32_t failed_views; /* the timer's doublings (view_timeout) */
    uint32_t calm_blocks;  /* delivered since failed_views last moved */
    bool view_timer_armed;
    bool progress;

    uint64_t low;
    /* The highest height a slot was ever given: pump looks no higher, as
     * every slot above it is empty (a step would otherwise walk all W). */
    uint64_t slot_top;
    uint8_t stable_root[WITAN_HASH_SIZE];
    buf *stable_proof;
    uint32_t stable_proof_count;

    uint64_t delivered;
    uint8_t delivered_hash[WITAN_HASH_SIZE];
    int64_t delivered_time;
    wcrypto_history hist;
    uint64_t executed;
    uint64_t delivered_at_tick;
    uint64_t peer_delivered_max; /* highest in a valid Status from a peer */
    uint64_t peer_status_count;  /* valid Statuses from peers */
    bool halted;

    uint64_t proposed; /* highest height proposed or re-proposed in view */
    bool building;
    uint64_t building_height;
    uint64_t requests;
    uint64_t last_nonempty;

    struct slot *slots; /* W of them */
    struct result *results;
    uint32_t result_ring;

    /* View changes received, a few views per sender (a replica that moved
     * on still has its earlier view changes counted: it resends them). */
    buf vc_raw[VMAX][VC_PER_SENDER];
    uint64_t vc_view[VMAX][VC_PER_SENDER];
    buf own_vc;
    buf own_vc_prev;
    /* Each validator's latest Suspect (consensus.md, "View
     * synchronisation"): the view and the signed bytes. */
    buf susp_raw[VMAX];
    uint64_t susp_view[VMAX];
    /* The view timer runs in two halves: forward, then suspect. */
    bool forwarded;
    buf own_nv;
    uint64_t own_nv_view;
    /* The NewView that started this replica's view (whoever sent it), for
     * a peer that reports an earlier view: it is the proof that lets the
     * peer join (consensus.md, "View synchronisation"). */
    buf view_nv;
    uint64_t view_nv_view;

    struct ckentry *cks;
    uint32_t ck_ring;
    struct ckvote ck_latest[VMAX];
    buf own_ck;

    struct future *future;
    uint32_t future_count;

    pbft_evidence *evidence;
    size_t evidence_stored;

    bool st_pending;
    /* A state response whose blocks from st_held_next on wait for their
     * sets to be known (st_apply). */
    Witan__ConsensusMessage *st_held;
    size_t st_held_next;

    pbft_action *actions;
    size_t action_count, action_cap;
    void **scratch;
    size_t scratch_count, scratch_cap;

    pbft_stats stats;
};

static void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->size = 0;
}

static int buf_set(buf *b, const uint8_t *data, size_t size)
{
    uint8_t *d = malloc(size ? size : 1);
    if (d == NULL)
        return WITAN_ENOMEM;
    if (size)
        memcpy(d, data, size);
    free(b->data);
    b->data = d;
    b->size = size;
    return 0;
}

static uint32_t primary_of(const pbft *r, uint64_t view)
{
    return (uint32_t)(view % r->set.n);
}

static bool is_validator(const pbft *r)
{
    return r->set.self < r->set.n;
}

/* --- actions ---------------------------------------------------------------- */

static int scratch_keep(pbft *r, void *p)
{
    if (r->scratch_count == r->scratch_cap) {
        size_t cap = r->scratch_cap ? r->scratch_cap * 2 : 64;
        void **s = realloc(r->scratch, cap * sizeof(*s));
        if (s == NULL) {
            free(p);
            return WITAN_ENOMEM;
        }
        r->scratch = s;
        r->scratch_cap = cap;
    }
    r->scratch[r->scratch_count++] = p;
    return 0;
}

static int emit(pbft *r, const pbft_action *a)
{
    if (r->restoring && (a->type == PBFT_ACT_SEND || a->type == PBFT_ACT_PERSIST))
        return 0;
    if (r->action_count == r->action_cap) {
        size_t cap = r->action_cap ? r->action_cap * 2 : 64;
        pbft_action *n = realloc(r->actions, cap * sizeof(*n));
        if (n == NULL)
            return WITAN_ENOMEM;
        r->actions = n;
        r->action_cap = cap;
    }
    r->actions[r->action_count++] = *a;
    return 0;
}

/* How a sent message is kept: not at all (status, retransmissions of
 * what is kept), synced before the send, or written before it and synced
 * by the next sync (a proposal or prepare of an anchored view). */
enum keep { KEEP_NONE, KEEP_SYNCED, KEEP_LAZY };

/* Whether the boot rule forbids a new proposal or prepare of height h
 * now. Nothing sent before the boot was above the boot's low water mark
 * plus the window: a higher low was durable before anything above it was
 * sent (the caller syncs a STABLE before the actions after it). */
static bool muted(const pbft *r, uint64_t h)
{
    return h <= r->mute_height && r->view == r->mute_view;
}

/* How this replica's proposal or prepare in its view is kept. */
static enum keep vote_keep(const pbft *r)
{
    return r->anchored && r->anchor_view == r->view ? KEEP_LAZY : KEEP_SYNCED;
}

/* Hands `data` (malloc'ed, now owned by the scratch list) to a PERSIST
 * (unless KEEP_NONE) and then a SEND. */
static int emit_message(pbft *r, uint8_t *data, size_t size, uint32_t to,
                        enum keep keep)
{
    int rc = scratch_keep(r, data);
    if (rc != 0)
        return rc;
    pbft_action a = {0};
    if (keep != KEEP_NONE) {
        /* Records carry a type byte; the message follows it. */
        uint8_t *rec = malloc(size + 1);
        if (rec == NULL)
            return WITAN_ENOMEM;
        rec[0] = RECORD_MESSAGE;
        memcpy(rec + 1, data, size);
        if ((rc = scratch_keep(r, rec)) != 0)
            return rc;
        a.type = PBFT_ACT_PERSIST;
        a.data.data = rec;
        a.data.size = size + 1;
        a.lazy = keep == KEEP_LAZY;
        if ((rc = emit(r, &a)) != 0)
            return rc;
        /* Every message kept is of the view it is sent in or (a view
         * change) of a later one, so a synced one anchors this view. */
        if (keep == KEEP_SYNCED && !r->restoring) {
            r->anchored = true;
            r->anchor_view = r->view;
        }
    }
    memset(&a, 0, sizeof(a));
    a.type = PBFT_ACT_SEND;
    a.to = to;
    a.data.data = data;
    a.data.size = size;
    return emit(r, &a);
}

static int emit_timer(pbft *r, enum pbft_timer t, uint64_t ms)
{
    pbft_action a = {0};
    a.type = PBFT_ACT_SET_TIMER;
    a.timer = t;
    a.ms = ms;
    return emit(r, &a);
}

static int sign_cm(pbft *r, Witan__ConsensusMessage *cm, uint8_t **out,
                   size_t *size)
{
    return encode_signed(r->chain_id, r->scheme, &r->key, r->set.self, cm, out,
                         size);
}

/* Signs a simple message with this replica's key. */
static int sign_simple(pbft *r, const pbft_msg *m, uint8_t **out, size_t *size)
{
    return pbft_msg_sign(r->chain_id, r->scheme, &r->key, r->set.self, m, out,
                         size);
}

/* --- evidence and drops ------------------------------------------------------ */

static int drop(pbft *r, enum pbft_drop why)
{
    r->stats.dropped[why]++;
    return 0;
}

static int keep_evidence(pbft *r, uint32_t who, const buf *first,
                         const uint8_t *second, size_t second_size)
{
    r->stats.evidence_count++;
    if (r->evidence_stored >= WITAN_PBFT_EVIDENCE_COUNT_MAX || first->data == NULL)
        return 0;
    pbft_evidence *e = &r->evidence[r->evidence_stored];
    uint8_t *a = malloc(first->size ? first->size : 1);
    uint8_t *b = malloc(second_size ? second_size : 1);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return WITAN_ENOMEM;
    }
    memcpy(a, first->data, first->size);
    memcpy(b, second, second_size);
    e->validator = who;
    e->first.data = a;
    e->first.size = first->size;
    e->second.data = b;
    e->second.size = second_size;
    r->evidence_stored++;
    return 0;
}

/* --- slots and results ------------------------------------------------------- */

static void slot_clear_view(pbft *r, struct slot *s)
{
    /* A committed block stays: its certificate is final, whatever view. */
    if (!s->committed) {
        s->has_pp = false;
        s->pp_from_new_view = false;
        buf_free(&s->block);
    }
    buf_free(&s->pp_raw);
    s->verdict = 0;
    s->asked = false;
    s->checked = false;
    s->refused = false;
    s->prepare_sent = s->commit_sent = s->prepared = false;
    for (uint32_t i = 0; i < r->set.n; i++) {
        s->prepares[i].has = false;
        buf_free(&s->prepares[i].raw);
        s->commits[i].has = false;
        buf_free(&s->commits[i].raw);
    }
    s->vote_view = r->view;
}

static void slot_clear_pc(struct slot *s)
{
    s->has_pc = false;
    buf_free(&s->pc_block);
    for (uint32_t i = 0; i < s->pc_count; i++)
        buf_free(&s->pc_prepares[i]);
    free(s->pc_prepares);
    s->pc_prepares = NULL;
    s->pc_count = 0;
}

static void slot_reset(pbft *r, struct slot *s, uint64_t height)
{
    s->committed = false;
    slot_clear_view(r, s);
    slot_clear_pc(s);
    s->height = height;
    if (height > r->slot_top)
        r->slot_top = height;
}

/* The slot of `height`, or NULL outside (low, low + W]. */
static struct slot *slot_get(pbft *r, uint64_t height)
{
    if (height <= r->low || height > r->low + r->W)
        return NULL;
    struct slot *s = &r->slots[height % r->W];
    if (s->height != height)
        slot_reset(r, s, height);
    /* Votes of an earlier view never count in this one. */
    if (s->vote_view < r->view)
        slot_clear_view(r, s);
    WITAN_ASSERT(s->height == height && s->vote_view >= r->view);
    return s;
}

static struct slot *slot_peek(pbft *r, uint64_t height)
{
    if (height <= r->low || height > r->low + r->W)
        return NULL;
    struct slot *s = &r->slots[height % r->W];
    return s->height == height ? s : NULL;
}

/* The highest height a slot may hold now: the walks over the window made
 * at every step stop there, not at its end. */
static uint64_t slots_top(const pbft *r)
{
    uint64_t top = r->low + r->W;
    return r->slot_top < top ? r->slot_top : top;
}

static struct result *result_at(pbft *r, uint64_t height)
{
    struct result *x = &r->results[height % r->result_ring];
    return x->height == height ? x : NULL;
}

static const struct vset *set_at(const pbft *r, uint64_t height)
{
    if (r->change_pending && height >= r->change_from)
        return &r->next_set;
    if (height >= r->set_from || r->older_count == 0)
        return &r->set;
    for (uint32_t i = 0; i + 1 < r->older_count; i++)
        if (height >= r->older_from[i])
            return &r->older[i];
    return &r->older[r->older_count - 1];
}

/* The certificate of a block at height h is checked against the set of
 * h, which this replica knows for certain only up to executed + L + 1: a
 * change its node has not handed yet was enacted at a boundary B above
 * executed and comes in force after E >= B + L + 1. A block above that
 * waits (st_held) until the node has executed enough to hand any change
 * before it; checked against a set that might be out of date, a
 * certificate by validators removed at E could pass. */
static uint64_t known_through(const pbft *r)
{
    uint64_t k = r->executed + r->L + 1;
    /* A change the node could not hand (the core held another: ESTATE)
     * comes in force after E' >= E + L + 1, E the last height of the set
     * in force or of the pending one's predecessor. */
    if (r->change_refused) {
        uint64_t c =
            (r->change_pending ? r->change_from : r->set_from) + r->L;
        if (c < k)
            k = c;
    }
    return k;
}

static bool set_known(const pbft *r, uint64_t height)
{
    return height <= known_through(r);
}

/* --- header decoding ----------------------------------------------------------- */

static int decode_header(const uint8_t *block, size_t size,
                         struct header_info *h, const char *chain_id)
{
    memset(h, 0, sizeof(*h));
    Witan__Block *b;
    Witan__BlockHeader *hd;
    int rc = pbft_block_decode(block, size, &b, &hd, NULL, 0);
    if (rc != 0)
        return rc;
    rc = WITAN_EDECODE;
    if (hd->protocol_version != WITAN_PROTOCOL_VERSION ||
        strcmp(hd->chain_id, chain_id) != 0 ||
        hd->prev_hash.len != WITAN_HASH_SIZE ||
        hd->history_root.len != WITAN_HASH_SIZE ||
        hd->txs_root.len != WITAN_HASH_SIZE || hd->tx_count != b->n_txs)
        goto out2;
    memcpy(h->txs_root, hd->txs_root.data, WITAN_HASH_SIZE);
    h->height = hd->height;
    h->view = hd->view;
    h->proposer = hd->proposer;
    h->tx_count = hd->tx_count;
    h->time_ms = hd->time_ms;
    memcpy(h->prev_hash, hd->prev_hash.data, WITAN_HASH_SIZE);
    memcpy(h->history_root, hd->history_root.data, WITAN_HASH_SIZE);
    h->results_height = hd->results_height;
    if (hd->results_state_root.len == WITAN_HASH_SIZE &&
        hd->results_receipts_root.len == WITAN_HASH_SIZE) {
        h->has_roots = true;
        memcpy(h->state_root, hd->results_state_root.data, WITAN_HASH_SIZE);
        memcpy(h->receipts_root, hd->results_receipts_root.data,
               WITAN_HASH_SIZE);
    } else if (hd->results_state_root.len != 0 ||
               hd->results_receipts_root.len != 0) {
        goto out2;
    }
    if (hd->results_cert != NULL) {
        if (pbft_cert_from_proto(hd->results_cert, &h->cert, NULL, 0) != 0)
            goto out2;
        h->has_cert = true;
    }
    rc = 0;
out2:
    witan__block_header__free_unpacked(hd, NULL);
    witan__block__free_unpacked(b, NULL);
    return rc;
}

/* --- decoding and checking signed messages -------------------------------------- */

/* Opens a SignedMessage: checks size, sender, chain id and signature under
 * the current set. On success *cm is the decoded body (caller frees). */
/* A vote that can change nothing here: our own (echoed), one for a height
 * already delivered, a commit for a slot already committed, or a new
 * prepare for a slot already prepared in this view. on_message ignores such
 * votes before checking their signature, the dearest step of a message: in
 * the normal case one vote in three arrives after its quorum. */
static bool vote_is_moot(pbft *r, uint32_t sender,
                         const Witan__ConsensusMessage *m)
{
    uint64_t view, height;
    bool commit = m->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_COMMIT;
    if (commit) {
        view = m->commit->view;
        height = m->commit->height;
    } else if (m->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_PREPARE) {
        view = m->prepare->view;
        height = m->prepare->height;
    } else {
        return false;
    }
    if (sender == r->set.self)
        return true;
    if (view != r->view || r->vc_active)
        return false;
    if (height <= r->delivered)
        return true;
    struct slot *s = slot_peek(r, height);
    if (s == NULL || s->vote_view != r->view)
        return false;
    return commit ? s->committed : s->prepared && !s->prepares[sender].has;
}

/* Decodes a SignedMessage and checks its signature by a validator of
 * `vs`. With may_skip (messages from the network), returns 1 without
 * checking for a moot vote. */
static int open_signed_by(pbft *r, const struct vset *vs, const uint8_t *raw,
                          size_t size, uint32_t *sender,
                          Witan__ConsensusMessage **cm, enum pbft_drop *why,
                          bool may_skip)
{
    *cm = NULL;
    if (size == 0 || size > WITAN_MESSAGE_SIZE_MAX) {
        *why = PBFT_DROP_DECODE;
        return WITAN_ECONSENSUS;
    }
    /* One budget for the message and the body it wraps: together they
     * never allocate more than WITAN_UNPACK_BUDGET(size). */
    size_t budget = WITAN_UNPACK_BUDGET(size);
    ProtobufCMessage *pm;
    int err = witan_unpack_from(&budget, &witan__signed_message__descriptor,
                                raw, size, &pm);
    if (err) {
        *why = err == WITAN_EBUDGET ? PBFT_DROP_BUDGET : PBFT_DROP_DECODE;
        return WITAN_ECONSENSUS;
    }
    Witan__SignedMessage *sm = (Witan__SignedMessage *)pm;
    int rc = WITAN_ECONSENSUS;
    if (sm->signature.len != WITAN_SIGNATURE_SIZE) {
        *why = PBFT_DROP_BAD_SIG;
        goto out;
    }
    err = witan_unpack_from(&budget, &witan__consensus_message__descriptor,
                            sm->body.data, sm->body.len, &pm);
    Witan__ConsensusMessage *m = (Witan__ConsensusMessage *)pm;
    if (err || strcmp(m->chain_id, r->chain_id) != 0) {
        if (m)
            witan__consensus_message__free_unpacked(m, NULL);
        *why = err == WITAN_EBUDGET ? PBFT_DROP_BUDGET : PBFT_DROP_DECODE;
        goto out;
    }
    /* A state response proves itself: each block comes with its
     * certificate, checked against the set of its height. Its signature is
     * not checked, so that a replica behind a set change hears the peers
     * whose index changed (they sign with their index in a set it does not
     * hold yet). */
    if (may_skip &&
        m->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_STATE_RESPONSE) {
        *sender = UINT32_MAX;
        *cm = m;
        rc = 0;
        goto out;
    }
    if (sm->sender >= vs->n) {
        witan__consensus_message__free_unpacked(m, NULL);
        *why = PBFT_DROP_UNKNOWN_KEY;
        goto out;
    }
    if (may_skip && vote_is_moot(r, sm->sender, m)) {
        witan__consensus_message__free_unpacked(m, NULL);
        rc = 1;
        goto out;
    }
    uint8_t digest[WITAN_HASH_SIZE];
    if (message_digest(r->chain_id, m, sm->body.data, sm->body.len, digest) !=
        0) {
        witan__consensus_message__free_unpacked(m, NULL);
        *why = PBFT_DROP_DECODE;
        goto out;
    }
    if (sig_check(r->scheme, &vs->keys[sm->sender], digest,
                  sm->signature.data) != 0) {
        witan__consensus_message__free_unpacked(m, NULL);
        *why = PBFT_DROP_BAD_SIG;
        goto out;
    }
    *sender = sm->sender;
    *cm = m;
    rc = 0;
out:
    witan__signed_message__free_unpacked(sm, NULL);
    return rc;
}

/* By a validator of the set in force. */
static int open_signed(pbft *r, const uint8_t *raw, size_t size,
                       uint32_t *sender, Witan__ConsensusMessage **cm,
                       enum pbft_drop *why, bool may_skip)
{
    return open_signed_by(r, &r->set, raw, size, sender, cm, why, may_skip);
}

/* Same for a nested, already packed SignedMessage, signed by `vs`. */
static int open_nested_by(pbft *r, const struct vset *vs,
                          const Witan__SignedMessage *sm, uint32_t *sender,
                          Witan__ConsensusMessage **cm)
{
    size_t size = witan__signed_message__get_packed_size(sm);
    uint8_t *tmp = malloc(size ? size : 1);
    if (tmp == NULL)
        return WITAN_ENOMEM;
    witan__signed_message__pack(sm, tmp);
    enum pbft_drop why;
    int rc = open_signed_by(r, vs, tmp, size, sender, cm, &why, false);
    free(tmp);
    return rc;
}

static int open_nested(pbft *r, const Witan__SignedMessage *sm,
                       uint32_t *sender, Witan__ConsensusMessage **cm)
{
    return open_nested_by(r, &r->set, sm, sender, cm);
}

static int pack_signed(const Witan__SignedMessage *sm, buf *out)
{
    size_t size = witan__signed_message__get_packed_size(sm);
    uint8_t *d = malloc(size ? size : 1);
    if (d == NULL)
        return WITAN_ENOMEM;
    witan__signed_message__pack(sm, d);
    free(out->data);
    out->data = d;
    out->size = size;
    return 0;
}

/* Checks a checkpoint proof: a quorum of distinct validators signing
 * Checkpoint(height, root), of the set in force at that height (those
 * that executed it: the checkpoint below a change is the old set's). */
static int check_ck_proof(pbft *r, uint64_t height,
                          const uint8_t root[WITAN_HASH_SIZE],
                          Witan__SignedMessage *const *msgs, size_t count)
{
    if (height == 0)
        return count == 0 ? 0 : WITAN_ECONSENSUS;
    const struct vset *vs = set_at(r, height);
    uint64_t seen = 0;
    uint32_t good = 0;
    for (size_t i = 0; i < count && i < VMAX; i++) {
        uint32_t s;
        Witan__ConsensusMessage *cm;
        if (open_nested_by(r, vs, msgs[i], &s, &cm) != 0)
            return WITAN_ECONSENSUS;
        bool ok = cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT &&
                  cm->checkpoint->height == height &&
                  cm->checkpoint->state_root.len == WITAN_HASH_SIZE &&
                  memcmp(cm->checkpoint->state_root.data, root,
                         WITAN_HASH_SIZE) == 0 &&
                  !(seen & (1ull << s));
        witan__consensus_message__free_unpacked(cm, NULL);
        if (!ok)
            return WITAN_ECONSENSUS;
        seen |= 1ull << s;
        good++;
    }
    return good >= vs->q ? 0 : WITAN_ECONSENSUS;
}

/* Checks a prepared proof: the block hashes to d and a quorum of distinct
 * validators of the set in force at its height signed Prepare(view,
 * height, d), with view < below_view. */
static int check_prepared_proof(pbft *r, const Witan__PreparedProof *p,
                                uint64_t below_view,
                                uint8_t digest[WITAN_HASH_SIZE])
{
    if (p->view >= below_view ||
        pbft_block_hash(p->block.data, p->block.len, digest) != 0)
        return WITAN_ECONSENSUS;
    const struct vset *vs = set_at(r, p->height);
    uint64_t seen = 0;
    uint32_t good = 0;
    for (size_t i = 0; i < p->n_prepares && i < VMAX; i++) {
        uint32_t s;
        Witan__ConsensusMessage *cm;
        if (open_nested_by(r, vs, p->prepares[i], &s, &cm) != 0)
            return WITAN_ECONSENSUS;
        bool ok =
            cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_PREPARE &&
            cm->prepare->view == p->view && cm->prepare->height == p->height &&
            cm->prepare->block_hash.len == WITAN_HASH_SIZE &&
            memcmp(cm->prepare->block_hash.data, digest, WITAN_HASH_SIZE) ==
                0 &&
            !(seen & (1ull << s));
        witan__consensus_message__free_unpacked(cm, NULL);
        if (!ok)
            return WITAN_ECONSENSUS;
        seen |= 1ull << s;
        good++;
    }
    return good >= vs->q ? 0 : WITAN_ECONSENSUS;
}

static int suspect_store(pbft *r, uint32_t sender, uint64_t view,
                         const uint8_t *raw, size_t size);

/* A ViewChange's justification: f + 1 Suspects, senders ascending, each
 * well signed and of view new_view - 1 or later. With `keep`, they are
 * kept as their senders' suspicions (they are as good as received). */
static int check_suspicion_by(pbft *r, const struct vset *vs,
                              const Witan__ViewChange *vc, bool keep)
{
    if (vc->n_suspicion < vs->f + 1 || vc->n_suspicion > vs->n)
        return WITAN_ECONSENSUS;
    int rc = 0;
    int64_t last = -1;
    for (size_t i = 0; i < vc->n_suspicion && rc == 0; i++) {
        uint32_t s;
        Witan__ConsensusMessage *cm;
        rc = open_nested_by(r, vs, vc->suspicion[i], &s, &cm);
        if (rc != 0)
            return rc == WITAN_ENOMEM ? rc : WITAN_ECONSENSUS;
        if (cm->kind_case != WITAN__CONSENSUS_MESSAGE__KIND_SUSPECT ||
            (int64_t)s <= last || cm->suspect->view + 1 < vc->new_view)
            rc = WITAN_ECONSENSUS;
        last = s;
        buf raw = {0};
        if (rc == 0 && keep && (rc = pack_signed(vc->suspicion[i], &raw)) == 0)
            rc = suspect_store(r, s, cm->suspect->view, raw.data, raw.size);
        buf_free(&raw);
        witan__consensus_message__free_unpacked(cm, NULL);
    }
    return rc;
}

static int check_suspicion(pbft *r, const Witan__ViewChange *vc, bool keep)
{
    int rc = check_suspicion_by(r, &r->set, vc, keep);
    /* A view change begun before the last set change carries the old
     * set's suspicions: f + 1 of that set, so one correct validator gave
     * up on the view, and views go on across a change. They are not kept:
     * their indices are the old set's. */
    if (rc == WITAN_ECONSENSUS && r->older_count != 0)
        rc = check_suspicion_by(r, &r->older[0], vc, false);
    return rc;
}

static int check_view_change(pbft *r, const Witan__ViewChange *vc, bool keep)
{
    int rc = check_suspicion(r, vc, keep);
    if (rc != 0)
        return rc;
    if (vc->stable_height != 0 && vc->stable_state_root.len != WITAN_HASH_SIZE)
        return WITAN_ECONSENSUS;
    if (vc->stable_height % r->K != 0)
        return WITAN_ECONSENSUS;
    static const uint8_t zero[WITAN_HASH_SIZE];
    const uint8_t *root =
        vc->stable_height ? vc->stable_state_root.data : zero;
    if (check_ck_proof(r, vc->stable_height, root, vc->checkpoint_proof,
                       vc->n_checkpoint_proof) != 0)
        return WITAN_ECONSENSUS;
    if (vc->n_prepared > r->W)
        return WITAN_ECONSENSUS;
    for (size_t i = 0; i < vc->n_prepared; i++) {
        const Witan__PreparedProof *p = vc->prepared[i];
        uint8_t d[WITAN_HASH_SIZE];
        if (p->height <= vc->stable_height ||
            p->height > vc->stable_height + r->W ||
            check_prepared_proof(r, p, vc->new_view, d) != 0)
            return WITAN_ECONSENSUS;
    }
    return 0;
}

/* --- forward declarations --------------------------------------------------------- */

static int pump(pbft *r);
static int start_view_change(pbft *r, uint64_t new_view);
static int make_stable(pbft *r, uint64_t height,
                       const uint8_t root[WITAN_HASH_SIZE], const buf *proof,
                       uint32_t proof_count);

/* --- normal case -------------------------------------------------------------------- */

static int install_pp(pbft *r, struct slot *s, uint64_t view,
                      const uint8_t digest[WITAN_HASH_SIZE],
                      const uint8_t *block, size_t block_size,
                      const struct header_info *h, const uint8_t *raw,
                      size_t raw_size, bool from_nv)
{
    /* One proposal per height and view; a committed block never changes. */
    WITAN_ASSERT(s->height > r->low && s->height <= r->low + r->W);
    WITAN_ASSERT(!s->committed || memcmp(s->digest, digest,
                                         WITAN_HASH_SIZE) == 0);
    WITAN_ASSERT(view == r->view);
    int rc;
    if ((rc = buf_set(&s->block, block, block_size)) != 0)
        return rc;
    if (raw != NULL && (rc = buf_set(&s->pp_raw, raw, raw_size)) != 0)
        return rc;
    s->has_pp = true;
    s->pp_from_new_view = from_nv;
    memcpy(s->digest, digest, WITAN_HASH_SIZE);
    s->hdr = *h;
    s->verdict = 0;
    s->asked = false;
    s->checked = false;
    s->refused = false;
    (void)view;
    (void)r;
    return 0;
}

/* The node judges a block against its ledger's tip, so it is asked only
 * once the block before has executed: then the tip is that block and the
 * node's check is the whole of what its ledger will check when it applies
 * the block (spec/consensus.md, "Validity"). pump asks for the rest. */
static int ask_verdict(pbft *r, struct slot *s)
{
    if (s->asked || !s->has_pp || s->verdict != 0 ||
        r->executed + 1 < s->height)
        return 0;
    s->asked = true;
    pbft_action a = {0};
    a.type = PBFT_ACT_VALIDATE;
    a.height = s->height;
    memcpy(a.block_hash, s->digest, WITAN_HASH_SIZE);
    uint8_t *copy = malloc(s->block.size);
    if (copy == NULL)
        return WITAN_ENOMEM;
    memcpy(copy, s->block.data, s->block.size);
    int rc = scratch_keep(r, copy);
    if (rc != 0)
        return rc;
    a.data.data = copy;
    a.data.size = s->block.size;
    return emit(r, &a);
}

static int on_pre_prepare(pbft *r, uint32_t sender, const Witan__PrePrepare *pp,
                          const uint8_t *raw, size_t raw_size)
{
    uint64_t h = pp->height;
    if (h <= r->delivered)
        return 0;
    if (h <= r->low || h > r->low + r->W ||
        (r->change_pending && h >= r->change_from))
        return drop(r, PBFT_DROP_WATERMARK);
    if (sender != primary_of(r, pp->view))
        return drop(r, PBFT_DROP_INVALID);
    uint8_t digest[WITAN_HASH_SIZE];
    if (pbft_block_hash(pp->block.data, pp->block.len, digest) != 0)
        return drop(r, PBFT_DROP_INVALID);
    struct slot *s = slot_get(r, h);
    if (s->committed)
        return 0;
    if (s->has_pp) {
        if (memcmp(s->digest, digest, WITAN_HASH_SIZE) == 0)
            return 0;
        if (!s->pp_from_new_view) {
            int rc = keep_evidence(r, sender, &s->pp_raw, raw, raw_size);
            if (rc != 0)
                return rc;
        }
        return drop(r, PBFT_DROP_CONFLICT);
    }
    struct header_info hi;
    if (decode_header(pp->block.data, pp->block.len, &hi, r->chain_id) != 0 ||
        hi.height != h || hi.view != pp->view || hi.proposer != sender) {
        r->stats.bad_proposals++;
        return drop(r, PBFT_DROP_INVALID);
    }
    int rc = install_pp(r, s, pp->view, digest, pp->block.data, pp->block.len,
                        &hi, raw, raw_size, false);
    if (rc == 0)
        rc = ask_verdict(r, s);
    return rc;
}

static int on_vote(pbft *r, uint32_t sender, uint64_t height,
                   const ProtobufCBinaryData *hash, bool commit,
                   const uint8_t *sig_or_null, const uint8_t *raw,
                   size_t raw_size)
{
    if (height <= r->delivered)
        return 0;
    if (hash->len != WITAN_HASH_SIZE)
        return drop(r, PBFT_DROP_DECODE);
    struct slot *s = slot_get(r, height);
    if (s == NULL)
        return drop(r, PBFT_DROP_WATERMARK);
    struct vote *v = commit ? &s->commits[sender] : &s->prepares[sender];
    if (v->has) {
        if (memcmp(v->hash, hash->data, WITAN_HASH_SIZE) == 0)
            return 0;
        int rc = keep_evidence(r, sender, &v->raw, raw, raw_size);
        if (rc != 0)
            return rc;
        return drop(r, PBFT_DROP_CONFLICT);
    }
    int rc = buf_set(&v->raw, raw, raw_size);
    if (rc != 0)
        return rc;
    v->has = true;
    memcpy(v->hash, hash->data, WITAN_HASH_SIZE);
    if (sig_or_null)
        memcpy(v->sig, sig_or_null, WITAN_SIGNATURE_SIZE);
    return 0;
}

/* The sig of a raw SignedMessage (already verified). */
static int raw_sig(const uint8_t *raw, size_t size,
                   uint8_t sig[WITAN_SIGNATURE_SIZE])
{
    Witan__SignedMessage *sm =
        witan_unpack_or_null(&witan__signed_message__descriptor, raw, size);
    if (sm == NULL || sm->signature.len != WITAN_SIGNATURE_SIZE) {
        if (sm)
            witan__signed_message__free_unpacked(sm, NULL);
        return WITAN_EDECODE;
    }
    memcpy(sig, sm->signature.data, WITAN_SIGNATURE_SIZE);
    witan__signed_message__free_unpacked(sm, NULL);
    return 0;
}

/* Computes the history root over blocks 1..height−1 along the chain of
 * slots this replica prepared; false when a link is unknown. */
static bool history_before(pbft *r, uint64_t height, wcrypto_history *out)
{
    *out = r->hist;
    for (uint64_t h = r->delivered + 1; h < height; h++) {
        struct slot *s = slot_peek(r, h);
        if (s == NULL || !s->has_pp || !(s->prepared || s->committed))
            return false;
        if (wcrypto_history_append(out, s->digest) != 0)
            return false;
    }
    return true;
}

/* Links, time, history and results of a proposal: 1 right, 0 not yet
 * decidable, -1 wrong. */
static int check_links(pbft *r, struct slot *s)
{
    uint64_t h = s->height;
    const struct header_info *hi = &s->hdr;
    const uint8_t *prev_hash;
    int64_t prev_time;
    if (h - 1 == r->delivered) {
        prev_hash = r->delivered_hash;
        prev_time = r->delivered_time;
    } else {
        struct slot *p = slot_peek(r, h - 1);
        if (p == NULL || !p->has_pp || !(p->prepared || p->committed))
            return 0;
        prev_hash = p->digest;
        prev_time = p->hdr.time_ms;
    }
    if (memcmp(prev_hash, hi->prev_hash, WITAN_HASH_SIZE) != 0 ||
        hi->time_ms < prev_time)
        return -1;
    wcrypto_history hist;
    if (!history_before(r, h, &hist))
        return 0;
    uint8_t root[WITAN_HASH_SIZE];
    wcrypto_history_root(&hist, root);
    if (memcmp(root, hi->history_root, WITAN_HASH_SIZE) != 0)
        return -1;
    if (h <= r->L)
        return (hi->results_height == 0 && !hi->has_roots && !hi->has_cert)
                   ? 1
                   : -1;
    if (r->executed < h - r->L)
        return 0;
    struct result *x = result_at(r, h - r->L);
    if (x == NULL || !x->executed)
        return 0;
    if (hi->results_height != h - r->L || !hi->has_roots || !hi->has_cert ||
        memcmp(hi->state_root, x->state_root, WITAN_HASH_SIZE) != 0 ||
        memcmp(hi->receipts_root, x->receipts_root, WITAN_HASH_SIZE) != 0 ||
        hi->cert.height != h - r->L ||
        memcmp(hi->cert.block_hash, x->block_hash, WITAN_HASH_SIZE) != 0)
        return -1;
    /* The certificate is for a block this replica delivered: signatures
     * it already holds for it are not checked twice. */
    const struct vset *vs = set_at(r, h - r->L);
    if (cert_verify(r->chain_id, r->scheme, vs->keys, vs->n, &hi->cert,
                    &x->cert, NULL, 0) != 0)
        return -1;
    return 1;
}

static int send_vote(pbft *r, struct slot *s, bool commit)
{
    /* A replica votes only for the proposal it holds, in its view, as a
     * validator, and commits only what it prepared. */
    WITAN_ASSERT(s->has_pp && s->vote_view == r->view && is_validator(r));
    WITAN_ASSERT(!commit || s->prepared);
    pbft_msg m = {0};
    m.kind = commit ? PBFT_MSG_COMMIT : PBFT_MSG_PREPARE;
    m.view = r->view;
    m.height = s->height;
    memcpy(m.hash, s->digest, WITAN_HASH_SIZE);
    uint8_t *out;
    size_t size;
    int rc = sign_simple(r, &m, &out, &size);
    if (rc != 0)
        return rc;
    struct vote *v = commit ? &s->commits[r->set.self] : &s->prepares[r->set.self];
    if ((rc = buf_set(&v->raw, out, size)) != 0) {
        free(out);
        return rc;
    }
    v->has = true;
    memcpy(v->hash, s->digest, WITAN_HASH_SIZE);
    if (commit && (rc = raw_sig(out, size, v->sig)) != 0) {
        free(out);
        return rc;
    }
    if (commit)
        s->commit_sent = true;
    else
        s->prepare_sent = true;
    return emit_message(r, out, size, PBFT_TO_ALL,
                        commit ? KEEP_SYNCED : vote_keep(r));
}

static uint32_t count_matching(const struct vote *votes, uint32_t n,
                               const uint8_t digest[WITAN_HASH_SIZE])
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (votes[i].has && memcmp(votes[i].hash, digest, WITAN_HASH_SIZE) == 0)
            c++;
    return c;
}

static int persist_prepared(pbft *r, struct slot *s)
{
    Witan__PreparedProof p = WITAN__PREPARED_PROOF__INIT;
    p.view = s->pc_view;
    p.height = s->height;
    p.block.data = s->pc_block.data;
    p.block.len = s->pc_block.size;
    Witan__SignedMessage *ptrs[VMAX];
    Witan__SignedMessage *unpacked[VMAX];
    uint32_t k = 0;
    int rc = 0;
    for (uint32_t i = 0; i < s->pc_count; i++) {
        unpacked[i] = witan_unpack_or_null(&witan__signed_message__descriptor,
                                           s->pc_prepares[i].data,
                                           s->pc_prepares[i].size);
        if (unpacked[i] == NULL) {
            rc = WITAN_EDECODE;
            break;
        }
        ptrs[k++] = unpacked[i];
    }
    if (rc == 0) {
        p.n_prepares = k;
        p.prepares = ptrs;
        Witan__PreparedRecord rec = WITAN__PREPARED_RECORD__INIT;
        rec.proof = &p;
        size_t size = witan__prepared_record__get_packed_size(&rec);
        uint8_t *d = malloc(size + 1);
        if (d == NULL) {
            rc = WITAN_ENOMEM;
        } else {
            d[0] = RECORD_PREPARED;
            witan__prepared_record__pack(&rec, d + 1);
            if ((rc = scratch_keep(r, d)) == 0) {
                pbft_action a = {0};
                a.type = PBFT_ACT_PERSIST;
                a.data.data = d;
                a.data.size = size + 1;
                rc = emit(r, &a);
            }
        }
    }
    for (uint32_t i = 0; i < k; i++)
        witan__signed_message__free_unpacked(unpacked[i], NULL);
    return rc;
}

static int become_prepared(pbft *r, struct slot *s)
{
    WITAN_ASSERT(s->has_pp && !s->prepared);
    WITAN_ASSERT(count_matching(s->prepares, r->set.n, s->digest) >=
                 r->set.q);
    s->prepared = true;
    slot_clear_pc(s);
    s->pc_prepares = calloc(r->set.n, sizeof(buf));
    if (s->pc_prepares == NULL)
        return WITAN_ENOMEM;
    int rc = buf_set(&s->pc_block, s->block.data, s->block.size);
    if (rc != 0)
        return rc;
    s->has_pc = true;
    s->pc_view = r->view;
    memcpy(s->pc_digest, s->digest, WITAN_HASH_SIZE);
    for (uint32_t i = 0; i < r->set.n && s->pc_count < r->set.q; i++) {
        struct vote *v = &s->prepares[i];
        if (!v->has || memcmp(v->hash, s->digest, WITAN_HASH_SIZE) != 0)
            continue;
        if ((rc = buf_set(&s->pc_prepares[s->pc_count], v->raw.data,
                          v->raw.size)) != 0)
            return rc;
        s->pc_count++;
    }
    WITAN_ASSERT(s->pc_count == r->set.q);
    return persist_prepared(r, s);
}

static int try_commit(pbft *r, struct slot *s)
{
    /* Nor above executed + L + 1: by then the node has executed the
     * boundary that enacted any change in force there and handed it (a
     * change in force from E + 1 is enacted at B <= E - L - 1), so the
     * quorum counted is the right set's. */
    if (s->committed || !s->has_pp ||
        (r->change_pending && s->height >= r->change_from) ||
        !set_known(r, s->height))
        return 0;
    uint32_t need = r->set.q;
    if (r->flags & PBFT_TEST_WEAK_COMMIT)
        need = r->set.f + 1;
    if (count_matching(s->commits, r->set.n, s->digest) < need)
        return 0;
    pbft_cert *c = &s->cert;
    memset(c, 0, sizeof(*c));
    c->view = r->view;
    c->height = s->height;
    memcpy(c->block_hash, s->digest, WITAN_HASH_SIZE);
    for (uint32_t i = 0; i < r->set.n && c->sig_count < need; i++) {
        struct vote *v = &s->commits[i];
        if (!v->has || memcmp(v->hash, s->digest, WITAN_HASH_SIZE) != 0)
            continue;
        c->signers |= 1ull << i;
        memcpy(c->sigs[c->sig_count++], v->sig, WITAN_SIGNATURE_SIZE);
    }
    WITAN_ASSERT(c->sig_count == need &&
                 (uint32_t)__builtin_popcountll(c->signers) == need);
    s->committed = true;
    return 0;
}

static int deliver(pbft *r, uint64_t height, const uint8_t *block, size_t size,
                   const uint8_t digest[WITAN_HASH_SIZE],
                   const struct header_info *hi, const pbft_cert *cert)
{
    /* In height order, each exactly once, on the tip delivered before it,
     * with a certificate for exactly this block. */
    WITAN_ASSERT(height == r->delivered + 1);
    /* (Unless a test flag broke the protocol on purpose, for the simulator
     * to catch the fork it makes.) */
    WITAN_ASSERT(r->flags != 0 || memcmp(hi->prev_hash, r->delivered_hash,
                                         WITAN_HASH_SIZE) == 0);
    WITAN_ASSERT(cert->height == height &&
                 memcmp(cert->block_hash, digest, WITAN_HASH_SIZE) == 0);
    int64_t time_ms = hi->time_ms;
    /* Whoever proposed it, the results of a non-empty block need the next
     * L blocks to be certified. */
    if (hi->tx_count > 0 && height > r->last_nonempty)
        r->last_nonempty = height;
    uint8_t *copy = malloc(size ? size : 1);
    pbft_cert *cc = malloc(sizeof(*cc));
    if (copy == NULL || cc == NULL) {
        free(copy);
        free(cc);
        return WITAN_ENOMEM;
    }
    memcpy(copy, block, size);
    *cc = *cert;
    int rc = scratch_keep(r, copy);
    if (rc == 0)
        rc = scratch_keep(r, cc);
    else
        free(cc);
    if (rc != 0)
        return rc;
    pbft_action a = {0};
    a.type = PBFT_ACT_DELIVER;
    a.height = height;
    a.data.data = copy;
    a.data.size = size;
    memcpy(a.block_hash, digest, WITAN_HASH_SIZE);
    a.cert = cc;
    if ((rc = emit(r, &a)) != 0)
        return rc;
    r->delivered = height;
    memcpy(r->delivered_hash, digest, WITAN_HASH_SIZE);
    r->delivered_time = time_ms;
    if ((rc = wcrypto_history_append(&r->hist, digest)) != 0)
        return rc;
    struct result *x = &r->results[height % r->result_ring];
    memset(x, 0, sizeof(*x));
    x->height = height;
    memcpy(x->block_hash, digest, WITAN_HASH_SIZE);
    x->time_ms = time_ms;
    x->cert = *cert;
    r->stats.delivered++;
    r->progress = true;
    /* A block that came after the timer's first half would not have come
     * in time under a timer of half the length: it keeps the doublings. */
    if (r->forwarded && r->set.n > 1) {
        r->calm_blocks = 0;
    } else if (r->failed_views > 0 && ++r->calm_blocks >= PBFT_CALM_BLOCKS) {
        r->failed_views--;
        r->calm_blocks = 0;
    }
    if (r->proposed < height)
        r->proposed = height;
    return 0;
}

/* Whether block `height` can be built now: every earlier block of the chain
 * is known, its slot is free and the results it must carry are known. */
static bool can_propose(pbft *r, uint64_t h)
{
    for (uint64_t k = r->delivered + 1; k < h; k++) {
        struct slot *p = slot_peek(r, k);
        if (p == NULL || !p->has_pp)
            return false;
    }
    struct slot *s = slot_peek(r, h);
    if (s != NULL && s->vote_view == r->view && s->has_pp)
        return false;
    if (h > r->L) {
        struct result *x = result_at(r, h - r->L);
        if (x == NULL || !x->executed)
            return false;
    }
    return h > r->low && h <= r->low + r->W;
}

/* Block h certifies the results of a non-empty block L below it; before
 * the first non-empty block none are owed. Without requests and without
 * owed results no block is made: an empty chain stays still. */
static bool results_owed(const pbft *r, uint64_t h)
{
    return r->last_nonempty != 0 && h <= r->last_nonempty + r->L;
}

static int maybe_propose(pbft *r)
{
    if (r->vc_active || r->halted || r->building || !is_validator(r) ||
        primary_of(r, r->view) != r->set.self)
        return 0;
    uint64_t h = (r->proposed > r->delivered ? r->proposed : r->delivered) + 1;
    if (muted(r, h) || h <= r->low || h > r->low + r->W ||
        (r->change_pending && h >= r->change_from) || !set_known(r, h))
        return 0;
    if (h > r->L && r->executed < h - r->L)
        return 0;
    /* A block made only to certify results waits until the block before
     * it has executed: pipelined, such empty blocks would hold the slots
     * that the next transaction to arrive needs (with L = 1 the wait is
     * there anyway). */
    if (r->requests == 0 && !(results_owed(r, h) && r->executed + 1 >= h))
        return 0;
    if (!can_propose(r, h))
        return 0;
    r->building = true;
    r->building_height = h;
    pbft_action a = {0};
    a.type = PBFT_ACT_BUILD;
    a.height = h;
    return emit(r, &a);
}

/* Whether this replica's own side of a prepared certificate holds: its
 * prepare is for the proposal held, or, muted, it judged the proposal
 * valid and counts a quorum of the others' votes (a prepare of its own
 * that a power loss took is one of them at most, and it never sends
 * another in this view). */
static bool own_vote_ok(const pbft *r, const struct slot *s)
{
    if (s->prepare_sent)
        return memcmp(s->prepares[r->set.self].hash, s->digest,
                      WITAN_HASH_SIZE) == 0;
    return s->checked && muted(r, s->height);
}

/* Advances every slot as far as it goes, then delivers in order. */
static int pump(pbft *r)
{
    if (r->halted)
        return 0;
    int rc;
    bool again = true;
    for (int round = 0; again && round < 4; round++) {
        again = false;
        uint64_t top = slots_top(r);
        for (uint64_t h = r->delivered + 1; h <= top; h++) {
            struct slot *s = slot_peek(r, h);
            if (s == NULL)
                continue;
            if (s->has_pp && !s->asked && s->verdict == 0 &&
                (rc = ask_verdict(r, s)) != 0)
                return rc;
            if (s->vote_view != r->view)
                continue;
            if (!r->vc_active && s->has_pp && !s->prepare_sent &&
                !s->checked && !s->refused && s->verdict == 1 &&
                is_validator(r) &&
                !(r->change_pending && h >= r->change_from) &&
                set_known(r, h)) {
                int k = check_links(r, s);
                if (k < 0) {
                    s->refused = true;
                    r->stats.bad_proposals++;
                } else if (k > 0) {
                    s->checked = true;
                    if (!muted(r, h) && (rc = send_vote(r, s, false)) != 0)
                        return rc;
                }
            }
            if (!r->vc_active && s->has_pp && !s->prepared &&
                own_vote_ok(r, s) &&
                count_matching(s->prepares, r->set.n, s->digest) >= r->set.q) {
                if ((rc = become_prepared(r, s)) != 0)
                    return rc;
                if ((rc = send_vote(r, s, true)) != 0)
                    return rc;
                again = true;
            }
            if (!r->vc_active && (rc = try_commit(r, s)) != 0)
                return rc;
        }
        for (;;) {
            struct slot *s = slot_peek(r, r->delivered + 1);
            if (s == NULL || !s->committed || !s->has_pp)
                break;
            if ((rc = deliver(r, s->height, s->block.data, s->block.size,
                              s->digest, &s->hdr, &s->cert)) != 0)
                return rc;
            again = true;
        }
    }
    return maybe_propose(r);
}

static int on_proposal(pbft *r, const pbft_event *ev)
{
    if (!r->building || ev->u.proposal.height != r->building_height ||
        r->vc_active || r->halted || primary_of(r, r->view) != r->set.self)
        return 0;
    r->building = false;
    uint64_t h = ev->u.proposal.height;
    if (!can_propose(r, h)) {
        /* The world moved since the BUILD; ask again later, not now. */
        r->building_height = 0;
        return 0;
    }
    if (ev->u.proposal.tx_count > WITAN_BLOCK_TX_COUNT_MAX ||
        (ev->u.proposal.tx_count > 0 && ev->u.proposal.txs == NULL))
        return WITAN_EINVAL;
    if (ev->u.proposal.tx_count == 0 && !results_owed(r, h)) {
        /* The requests that asked for it went in an earlier block. */
        r->building_height = 0;
        return 0;
    }
    struct slot *s = slot_get(r, h);
    if (s == NULL || s->has_pp)
        return 0;
    const uint8_t *prev_hash;
    int64_t prev_time;
    if (h - 1 == r->delivered) {
        prev_hash = r->delivered_hash;
        prev_time = r->delivered_time;
    } else {
        struct slot *p = slot_peek(r, h - 1);
        if (p == NULL || !p->has_pp)
            return 0;
        prev_hash = p->digest;
        prev_time = p->hdr.time_ms;
    }
    /* History over the chain this primary proposed (every earlier slot
     * holds its proposal). */
    wcrypto_history hist = r->hist;
    for (uint64_t k = r->delivered + 1; k < h; k++) {
        struct slot *p = slot_peek(r, k);
        if (p == NULL || !p->has_pp)
            return 0;
        if (wcrypto_history_append(&hist, p->digest) != 0)
            return 0;
    }
    uint8_t hroot[WITAN_HASH_SIZE];
    wcrypto_history_root(&hist, hroot);

    Witan__BlockHeader hd = WITAN__BLOCK_HEADER__INIT;
    hd.protocol_version = WITAN_PROTOCOL_VERSION;
    hd.chain_id = r->chain_id;
    hd.height = h;
    hd.view = r->view;
    hd.time_ms = ev->u.proposal.time_ms > prev_time ? ev->u.proposal.time_ms
                                                    : prev_time;
    hd.prev_hash.data = (uint8_t *)prev_hash;
    hd.prev_hash.len = WITAN_HASH_SIZE;
    hd.txs_root.data = (uint8_t *)ev->u.proposal.txs_root;
    hd.txs_root.len = WITAN_HASH_SIZE;
    hd.history_root.data = hroot;
    hd.history_root.len = WITAN_HASH_SIZE;
    hd.tx_count = ev->u.proposal.tx_count;
    hd.proposer = r->set.self;
    if (ev->u.proposal.next_validators_hash != NULL) {
        hd.next_validators_hash.data =
            (uint8_t *)ev->u.proposal.next_validators_hash;
        hd.next_validators_hash.len = WITAN_HASH_SIZE;
    }
    Witan__CommitCertificate cc = WITAN__COMMIT_CERTIFICATE__INIT;
    uint8_t *cert_bytes = NULL;
    size_t cert_size = 0;
    int rc = 0;
    if (h > r->L) {
        struct result *x = result_at(r, h - r->L);
        if (x == NULL || !x->executed)
            return 0;
        hd.results_height = h - r->L;
        hd.results_state_root.data = x->state_root;
        hd.results_state_root.len = WITAN_HASH_SIZE;
        hd.results_receipts_root.data = x->receipts_root;
        hd.results_receipts_root.len = WITAN_HASH_SIZE;
        if ((rc = pbft_cert_encode(&x->cert, &cert_bytes, &cert_size)) != 0)
            return rc;
        Witan__CommitCertificate *un = witan_unpack_or_null(
            &witan__commit_certificate__descriptor, cert_bytes, cert_size);
        free(cert_bytes);
        if (un == NULL)
            return WITAN_ENOMEM;
        cc = *un;
        hd.results_cert = &cc;
        size_t hsize = witan__block_header__get_packed_size(&hd);
        uint8_t *hbytes = malloc(hsize);
        if (hbytes == NULL) {
            witan__commit_certificate__free_unpacked(un, NULL);
            return WITAN_ENOMEM;
        }
        witan__block_header__pack(&hd, hbytes);
        witan__commit_certificate__free_unpacked(un, NULL);
        cert_bytes = hbytes;
        cert_size = hsize;
    } else {
        size_t hsize = witan__block_header__get_packed_size(&hd);
        cert_bytes = malloc(hsize);
        if (cert_bytes == NULL)
            return WITAN_ENOMEM;
        witan__block_header__pack(&hd, cert_bytes);
        cert_size = hsize;
    }
    /* cert_bytes now holds the header. */
    Witan__Block b = WITAN__BLOCK__INIT;
    b.header.data = cert_bytes;
    b.header.len = cert_size;
    ProtobufCBinaryData *txs = NULL;
    if (ev->u.proposal.tx_count > 0) {
        txs = malloc(ev->u.proposal.tx_count * sizeof(*txs));
        if (txs == NULL) {
            free(cert_bytes);
            return WITAN_ENOMEM;
        }
        for (uint32_t i = 0; i < ev->u.proposal.tx_count; i++) {
            txs[i].data = (uint8_t *)ev->u.proposal.txs[i].data;
            txs[i].len = ev->u.proposal.txs[i].size;
        }
    }
    b.n_txs = ev->u.proposal.tx_count;
    b.txs = txs;
    size_t bsize = witan__block__get_packed_size(&b);
    uint8_t *block = malloc(bsize);
    if (block == NULL) {
        free(txs);
        free(cert_bytes);
        return WITAN_ENOMEM;
    }
    witan__block__pack(&b, block);
    free(txs);
    uint8_t digest[WITAN_HASH_SIZE];
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, cert_bytes, cert_size, digest);
    free(cert_bytes);
    struct header_info hi;
    if (bsize > WITAN_MESSAGE_SIZE_MAX - 1024 ||
        decode_header(block, bsize, &hi, r->chain_id) != 0) {
        free(block);
        return WITAN_ELIMIT;
    }
    pbft_msg m = {0};
    m.kind = PBFT_MSG_PRE_PREPARE;
    m.view = r->view;
    m.height = h;
    m.block.data = block;
    m.block.size = bsize;
    uint8_t *raw;
    size_t raw_size;
    if ((rc = sign_simple(r, &m, &raw, &raw_size)) != 0) {
        free(block);
        return rc;
    }
    rc = install_pp(r, s, r->view, digest, block, bsize, &hi, raw, raw_size,
                    false);
    free(block);
    if (rc != 0) {
        free(raw);
        return rc;
    }
    s->verdict = 1;
    r->proposed = h;
    if (ev->u.proposal.tx_count > 0)
        r->last_nonempty = h;
    return emit_message(r, raw, raw_size, PBFT_TO_ALL, vote_keep(r));
}

/* --- checkpoints ------------------------------------------------------------------ */

static void ck_entry_clear(struct ckentry *e)
{
    for (uint32_t i = 0; i < VMAX; i++) {
        e->votes[i].has = false;
        buf_free(&e->votes[i].raw);
    }
    e->height = 0;
}

static int fork_found(pbft *r, uint64_t height,
                      const uint8_t own[WITAN_HASH_SIZE],
                      const uint8_t stable[WITAN_HASH_SIZE])
{
    r->halted = true;
    pbft_action a = {0};
    a.type = PBFT_ACT_FORK;
    a.height = height;
    memcpy(a.own_root, own, WITAN_HASH_SIZE);
    memcpy(a.stable_root, stable, WITAN_HASH_SIZE);
    return emit(r, &a);
}

static int encode_proof(pbft *r, const buf *proof, uint32_t count,
                        pbft_bytes *out)
{
    size_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size += 4 + proof[i].size;
    uint8_t *d = malloc(size ? size : 1);
    if (d == NULL)
        return WITAN_ENOMEM;
    size_t o = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t s = (uint32_t)proof[i].size;
        d[o] = (uint8_t)(s >> 24);
        d[o + 1] = (uint8_t)(s >> 16);
        d[o + 2] = (uint8_t)(s >> 8);
        d[o + 3] = (uint8_t)s;
        memcpy(d + o + 4, proof[i].data, s);
        o += 4 + s;
    }
    out->data = d;
    out->size = size;
    return scratch_keep(r, d);
}

static int switch_set(pbft *r);
static int st_apply(pbft *r);

static int make_stable(pbft *r, uint64_t height,
                       const uint8_t root[WITAN_HASH_SIZE], const buf *proof,
                       uint32_t proof_count)
{
    if (height <= r->low)
        return 0;
    WITAN_ASSERT(height % r->K == 0); /* checkpoints only */
    buf *np = calloc(proof_count ? proof_count : 1, sizeof(buf));
    if (np == NULL)
        return WITAN_ENOMEM;
    for (uint32_t i = 0; i < proof_count; i++)
        if (buf_set(&np[i], proof[i].data, proof[i].size) != 0) {
            for (uint32_t k = 0; k < i; k++)
                buf_free(&np[k]);
            free(np);
            return WITAN_ENOMEM;
        }
    for (uint32_t i = 0; i < r->stable_proof_count; i++)
        buf_free(&r->stable_proof[i]);
    free(r->stable_proof);
    r->stable_proof = np;
    r->stable_proof_count = proof_count;
    /* Slots at or below the new low water mark go. */
    for (uint32_t i = 0; i < r->W; i++) {
        struct slot *s = &r->slots[i];
        if (s->height != 0 && s->height <= height) {
            slot_reset(r, s, 0);
        }
    }
    r->low = height;
    memcpy(r->stable_root, root, WITAN_HASH_SIZE);
    for (uint32_t i = 0; i < r->ck_ring; i++)
        if (r->cks[i].height != 0 && r->cks[i].height <= height)
            ck_entry_clear(&r->cks[i]);
    if (r->proposed < height)
        r->proposed = height;
    pbft_action a = {0};
    a.type = PBFT_ACT_STABLE;
    a.height = height;
    memcpy(a.stable_root, root, WITAN_HASH_SIZE);
    int rc = encode_proof(r, r->stable_proof, r->stable_proof_count, &a.data);
    if (rc == 0)
        rc = emit(r, &a);
    /* The node may now drop records at or below `height`, this view's
     * anchor among them, and skips them at boot: the next proposal or
     * prepare is synced, and anchors the view again. */
    r->anchored = false;
    if (rc != 0)
        return rc;
    struct result *x = result_at(r, height);
    if (x != NULL && x->executed &&
        memcmp(x->state_root, root, WITAN_HASH_SIZE) != 0)
        return fork_found(r, height, x->state_root, root);
    if (r->change_pending && r->change_from == height + 1)
        return switch_set(r);
    return 0;
}

/* Counts matching votes in `votes` (VMAX) and makes the checkpoint stable
 * at a quorum. */
static int ck_try_stable(pbft *r, const struct ckvote *votes, uint64_t height,
                         const uint8_t root[WITAN_HASH_SIZE])
{
    buf proof[VMAX] = {{0}};
    uint32_t c = 0;
    for (uint32_t i = 0; i < r->set.n; i++)
        if (votes[i].has && votes[i].height == height &&
            memcmp(votes[i].root, root, WITAN_HASH_SIZE) == 0 && c < r->set.q)
            proof[c++] = votes[i].raw;
    if (c < r->set.q)
        return 0;
    return make_stable(r, height, root, proof, c);
}

static int ck_vote(pbft *r, uint32_t sender, uint64_t height,
                   const uint8_t root[WITAN_HASH_SIZE], const uint8_t *raw,
                   size_t size)
{
    int rc;
    struct ckvote *lv = &r->ck_latest[sender];
    if (height > lv->height || !lv->has) {
        if ((rc = buf_set(&lv->raw, raw, size)) != 0)
            return rc;
        lv->has = true;
        lv->height = height;
        memcpy(lv->root, root, WITAN_HASH_SIZE);
        if ((rc = ck_try_stable(r, r->ck_latest, height, root)) != 0)
            return rc;
    }
    if (height <= r->low || height > r->low + (uint64_t)(r->ck_ring - 1) * r->K)
        return 0;
    struct ckentry *e = &r->cks[(height / r->K) % r->ck_ring];
    if (e->height != height) {
        ck_entry_clear(e);
        e->height = height;
    }
    struct ckvote *v = &e->votes[sender];
    if (v->has) {
        if (memcmp(v->root, root, WITAN_HASH_SIZE) != 0) {
            if ((rc = keep_evidence(r, sender, &v->raw, raw, size)) != 0)
                return rc;
            return drop(r, PBFT_DROP_CONFLICT);
        }
        return 0;
    }
    if ((rc = buf_set(&v->raw, raw, size)) != 0)
        return rc;
    v->has = true;
    v->height = height;
    memcpy(v->root, root, WITAN_HASH_SIZE);
    return ck_try_stable(r, e->votes, height, root);
}

static int on_checkpoint(pbft *r, uint32_t sender, const Witan__Checkpoint *ck,
                         const uint8_t *raw, size_t size)
{
    if (ck->state_root.len != WITAN_HASH_SIZE || ck->height == 0 ||
        ck->height % r->K != 0)
        return drop(r, PBFT_DROP_INVALID);
    if (ck->height <= r->low)
        return 0;
    /* A checkpoint counts only where this replica knows the set, and
     * checked it against that set: at or above set_from (the signature was
     * checked against `set`), at most executed + L + 1 (set_known), and
     * below a pending change. Counted by a set that might be out of date,
     * checkpoints past E could make a lagging replica stable past a change
     * its node has not handed yet. Peers resend their latest each tick. */
    if (ck->height < r->set_from || !set_known(r, ck->height) ||
        (r->change_pending && ck->height >= r->change_from))
        return 0;
    return ck_vote(r, sender, ck->height, ck->state_root.data, raw, size);
}

static int request_state(pbft *r, uint32_t peer)
{
    if (r->st_pending || peer == r->set.self || !is_validator(r))
        return 0;
    Witan__StateRequest q = WITAN__STATE_REQUEST__INIT;
    q.from_height = r->delivered + 1;
    q.count = r->state_block_count;
    Witan__ConsensusMessage cm = WITAN__CONSENSUS_MESSAGE__INIT;
    cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_STATE_REQUEST;
    cm.state_request = &q;
    uint8_t *out;
    size_t size;
    int rc = sign_cm(r, &cm, &out, &size);
    if (rc != 0)
        return rc;
    r->st_pending = true;
    return emit_message(r, out, size, peer, KEEP_NONE);
}

static int resend(pbft *r, const buf *b);

/* This replica's Checkpoint of h with state root `root`, kept in own_ck
 * (the retransmit tick sends it again): signed under the set of h, at its
 * place there, with the key it held there. *vs is that set, or NULL when
 * the replica has no key there (rotated away: nothing is signed). */
static int own_checkpoint(pbft *r, uint64_t h,
                          const uint8_t root[WITAN_HASH_SIZE],
                          const struct vset **vs)
{
    *vs = set_at(r, h);
    if ((*vs)->self == UINT32_MAX ||
        memcmp((*vs)->keys[(*vs)->self].bytes, r->key.pub.bytes,
               WCRYPTO_ED25519_PUBKEY_SIZE) != 0) {
        *vs = NULL;
        return 0;
    }
    pbft_msg m = {0};
    m.kind = PBFT_MSG_CHECKPOINT;
    m.height = h;
    memcpy(m.hash, root, WITAN_HASH_SIZE);
    uint8_t *out;
    size_t size;
    int rc = pbft_msg_sign(r->chain_id, r->scheme, &r->key, (*vs)->self, &m,
                           &out, &size);
    if (rc != 0)
        return rc;
    rc = buf_set(&r->own_ck, out, size);
    free(out);
    return rc;
}

static int on_executed(pbft *r, const pbft_event *ev)
{
    uint64_t h = ev->u.executed.height;
    if (h != r->executed + 1 || h > r->delivered)
        return WITAN_EINVAL;
    struct result *x = result_at(r, h);
    if (x == NULL)
        return WITAN_EINVAL;
    memcpy(x->state_root, ev->u.executed.state_root, WITAN_HASH_SIZE);
    memcpy(x->receipts_root, ev->u.executed.receipts_root, WITAN_HASH_SIZE);
    x->executed = true;
    r->executed = h;
    /* Only once every block delivered is executed: its node may execute
     * a block delivered now before those delivered earlier otherwise (it
     * may feed this event back while it still carries out the Ready that
     * delivered them). */
    if (r->st_held != NULL && r->executed == r->delivered) {
        int rc = st_apply(r);
        if (rc != 0)
            return rc;
    }
    if (h % r->K != 0 || r->halted)
        return 0;
    if (h <= r->low) {
        if (h == r->low &&
            memcmp(x->state_root, r->stable_root, WITAN_HASH_SIZE) != 0)
            return fork_found(r, h, x->state_root, r->stable_root);
        /* Made stable by its peers' checkpoints before this replica
         * executed it, a checkpoint is still sent: a replica that lagged
         * across a switch at h needs it to make h stable (the old set's
         * quorum), and the new set may wait for that replica. */
        if (h < r->low)
            return 0;
    }
    const struct vset *vs;
    int rc = own_checkpoint(r, h, x->state_root, &vs);
    if (rc != 0 || vs == NULL)
        return rc;
    if ((rc = resend(r, &r->own_ck)) != 0)
        return rc;
    if (h <= r->low || vs != &r->set)
        return 0;
    return ck_vote(r, r->set.self, h, x->state_root, r->own_ck.data,
                   r->own_ck.size);
}

/* --- view change -------------------------------------------------------------------- */

static uint64_t view_timeout(const pbft *r)
{
    uint64_t t = r->view_timeout_ms;
    for (uint32_t i = 0; i < r->failed_views && t < r->view_timeout_max_ms; i++)
        t *= 2;
    return t < r->view_timeout_max_ms ? t : r->view_timeout_max_ms;
}

static void enter_view(pbft *r, uint64_t view)
{
    WITAN_ASSERT(view >= r->view); /* views never go back */
    r->view = view;
    r->forwarded = false;
    for (uint32_t i = 0; i < r->W; i++)
        if (r->slots[i].height != 0 && r->slots[i].vote_view != view)
            slot_clear_view(r, &r->slots[i]);
    r->building = false;
}

static int build_view_change(pbft *r, uint64_t nv, uint8_t **out, size_t *size)
{
    Witan__ViewChange vc = WITAN__VIEW_CHANGE__INIT;
    vc.new_view = nv;
    vc.stable_height = r->low;
    if (r->low != 0) {
        vc.stable_state_root.data = r->stable_root;
        vc.stable_state_root.len = WITAN_HASH_SIZE;
    }
    int rc = 0;
    Witan__SignedMessage **proof = calloc(VMAX, sizeof(*proof));
    Witan__PreparedProof **pps = calloc(r->W, sizeof(*pps));
    if (proof == NULL || pps == NULL) {
        free(proof);
        free(pps);
        return WITAN_ENOMEM;
    }
    size_t np = 0, npp = 0;
    for (uint32_t i = 0; i < r->stable_proof_count && rc == 0; i++) {
        proof[np] = witan_unpack_or_null(&witan__signed_message__descriptor,
                                         r->stable_proof[i].data,
                                         r->stable_proof[i].size);
        if (proof[np] == NULL)
            rc = WITAN_EDECODE;
        else
            np++;
    }
    vc.n_checkpoint_proof = np;
    vc.checkpoint_proof = proof;
    if (!(r->flags & PBFT_TEST_DROP_PREPARED)) {
        for (uint64_t h = r->low + 1; h <= r->low + r->W && rc == 0; h++) {
            struct slot *s = slot_peek(r, h);
            if (s == NULL || !s->has_pc)
                continue;
            Witan__PreparedProof *p = calloc(1, sizeof(*p));
            Witan__SignedMessage **pr = calloc(s->pc_count, sizeof(*pr));
            if (p == NULL || pr == NULL) {
                free(p);
                free(pr);
                rc = WITAN_ENOMEM;
                break;
            }
            witan__prepared_proof__init(p);
            p->view = s->pc_view;
            p->height = h;
            p->block.data = s->pc_block.data;
            p->block.len = s->pc_block.size;
            p->prepares = pr;
            for (uint32_t k = 0; k < s->pc_count; k++) {
                pr[k] = witan__signed_message__unpack(
                    NULL, s->pc_prepares[k].size, s->pc_prepares[k].data);
                if (pr[k] == NULL) {
                    rc = WITAN_EDECODE;
                    break;
                }
                p->n_prepares++;
            }
            pps[npp++] = p;
        }
    }
    vc.n_prepared = npp;
    vc.prepared = pps;
    /* The justification: the first f + 1 validators, by index, whose
     * latest Suspect is of view nv - 1 or later. */
    Witan__SignedMessage *susp[VMAX];
    size_t ns = 0;
    for (uint32_t i = 0; i < r->set.n && ns < r->set.f + 1 && rc == 0; i++) {
        if (r->susp_raw[i].data == NULL || r->susp_view[i] + 1 < nv)
            continue;
        susp[ns] = witan_unpack_or_null(&witan__signed_message__descriptor,
                                        r->susp_raw[i].data,
                                        r->susp_raw[i].size);
        if (susp[ns] == NULL)
            rc = WITAN_EDECODE;
        else
            ns++;
    }
    if (rc == 0 && ns < r->set.f + 1)
        rc = WITAN_ECONSENSUS; /* callers move only when justified */
    vc.n_suspicion = ns;
    vc.suspicion = susp;
    if (rc == 0) {
        Witan__ConsensusMessage cm = WITAN__CONSENSUS_MESSAGE__INIT;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE;
        cm.view_change = &vc;
        rc = sign_cm(r, &cm, out, size);
    }
    for (size_t i = 0; i < np; i++)
        witan__signed_message__free_unpacked(proof[i], NULL);
    for (size_t i = 0; i < ns; i++)
        witan__signed_message__free_unpacked(susp[i], NULL);
    for (size_t i = 0; i < npp; i++) {
        for (size_t k = 0; k < pps[i]->n_prepares; k++)
            witan__signed_message__free_unpacked(pps[i]->prepares[k], NULL);
        free(pps[i]->prepares);
        free(pps[i]);
    }
    free(proof);
    free(pps);
    return rc;
}

static int try_new_view(pbft *r);

static int vc_find(const pbft *r, uint32_t sender, uint64_t view)
{
    for (int k = 0; k < VC_PER_SENDER; k++)
        if (r->vc_raw[sender][k].data != NULL && r->vc_view[sender][k] == view)
            return k;
    return -1;
}

static uint32_t vc_count(const pbft *r, uint64_t view)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < r->set.n; i++)
        c += vc_find(r, i, view) >= 0;
    return c;
}

/* Keeps a sender's view change, in place of its oldest one. */
static int vc_store(pbft *r, uint32_t sender, uint64_t view,
                    const uint8_t *raw, size_t size)
{
    int k = vc_find(r, sender, view);
    if (k < 0) {
        k = 0;
        for (int i = 0; i < VC_PER_SENDER; i++) {
            if (r->vc_raw[sender][i].data == NULL) {
                k = i;
                break;
            }
            if (r->vc_view[sender][i] < r->vc_view[sender][k])
                k = i;
        }
    }
    int rc = buf_set(&r->vc_raw[sender][k], raw, size);
    if (rc == 0)
        r->vc_view[sender][k] = view;
    return rc;
}

static int arm_vc_timer(pbft *r)
{
    if (!r->vc_active || r->view_timer_armed)
        return 0;
    if (vc_count(r, r->view) < r->set.q &&
        !(r->set_from != 0 && r->view <= r->switch_view + 1))
        return 0;
    r->view_timer_armed = true;
    return emit_timer(r, PBFT_TIMER_VIEW, view_timeout(r));
}

/* --- view synchronisation (consensus.md) ------------------------------------
 *
 * A replica whose timer runs out does not leave its view: it forwards its
 * requests, then broadcasts a Suspect and goes on taking part. It moves to
 * view u + 1 only once f + 1 validators suspect views >= u (so at least one
 * correct one gave up on u), and its ViewChange carries those f + 1
 * Suspects, so that every correct replica that receives it can follow. A
 * replica can thus never be alone in a view no other correct replica will
 * reach, and a faulty minority can neither move the others nor stop them.
 */

/* The largest u that f + 1 validators suspect a view >= u of; false when
 * fewer than f + 1 suspect anything. */
static bool suspected_view(const pbft *r, uint64_t *out)
{
    uint64_t views[VMAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->set.n; i++) {
        if (r->susp_raw[i].data == NULL)
            continue;
        /* Insertion, largest first. */
        uint32_t j = k++;
        while (j > 0 && views[j - 1] < r->susp_view[i]) {
            views[j] = views[j - 1];
            j--;
        }
        views[j] = r->susp_view[i];
    }
    if (k < r->set.f + 1)
        return false;
    *out = views[r->set.f];
    return true;
}

/* Keeps a checked Suspect of `view` when it is the sender's latest. */
static int suspect_store(pbft *r, uint32_t sender, uint64_t view,
                         const uint8_t *raw, size_t size)
{
    WITAN_ASSERT(sender < r->set.n);
    if (r->susp_raw[sender].data != NULL && r->susp_view[sender] >= view)
        return 0;
    int rc = buf_set(&r->susp_raw[sender], raw, size);
    if (rc == 0)
        r->susp_view[sender] = view;
    return rc;
}

/* Moves past the views f + 1 validators suspect, when that is ahead. */
static int follow_suspicion(pbft *r)
{
    uint64_t u;
    if (!suspected_view(r, &u) || u + 1 <= r->view)
        return 0;
    return start_view_change(r, u + 1);
}

/* This replica gives up on `view`: it says so to all (and keeps taking
 * part until f + 1 do). */
static int suspect(pbft *r, uint64_t view)
{
    if (!is_validator(r))
        return 0;
    pbft_msg m = {0};
    m.kind = PBFT_MSG_SUSPECT;
    m.view = view;
    uint8_t *out;
    size_t size;
    int rc = sign_simple(r, &m, &out, &size);
    if (rc != 0)
        return rc;
    if ((rc = suspect_store(r, r->set.self, view, out, size)) != 0) {
        free(out);
        return rc;
    }
    r->stats.suspicions++;
    if ((rc = emit_message(r, out, size, PBFT_TO_ALL, KEEP_NONE)) != 0)
        return rc;
    return follow_suspicion(r);
}

static int on_suspect(pbft *r, uint32_t sender, const Witan__Suspect *su,
                      const uint8_t *raw, size_t size)
{
    int rc = suspect_store(r, sender, su->view, raw, size);
    return rc != 0 ? rc : follow_suspicion(r);
}

/* The view timer: its first half ends in forwarding this replica's
 * requests to all (a primary that never got them is not at fault), its
 * second in a Suspect. */
static int on_view_timer(pbft *r)
{
    r->view_timer_armed = false;
    if (!r->vc_active && !r->forwarded && r->set.n > 1) {
        r->forwarded = true;
        r->stats.forwards++;
        pbft_action a = {0};
        a.type = PBFT_ACT_FORWARD;
        a.to = PBFT_TO_ALL;
        int rc = emit(r, &a);
        if (rc != 0)
            return rc;
        r->view_timer_armed = true;
        return emit_timer(r, PBFT_TIMER_VIEW,
                          view_timeout(r) - view_timeout(r) / 2);
    }
    r->forwarded = false;
    return suspect(r, r->view);
}

static int start_view_change(pbft *r, uint64_t nv)
{
    if (nv <= r->view && !(nv == r->view && !r->vc_active))
        return 0;
    if (nv < r->view)
        return 0;
    enter_view(r, nv);
    r->vc_active = true;
    /* Doublings past the ceiling would only delay the way back down. */
    if (view_timeout(r) < r->view_timeout_max_ms)
        r->failed_views++;
    r->calm_blocks = 0;
    r->stats.view_changes++;
    if (!is_validator(r))
        return 0;
    uint8_t *out;
    size_t size;
    int rc = build_view_change(r, nv, &out, &size);
    if (rc != 0)
        return rc;
    buf_free(&r->own_vc_prev);
    r->own_vc_prev = r->own_vc;
    r->own_vc.data = NULL;
    r->own_vc.size = 0;
    if ((rc = buf_set(&r->own_vc, out, size)) != 0 ||
        (rc = vc_store(r, r->set.self, nv, out, size)) != 0) {
        free(out);
        return rc;
    }
    if ((rc = emit_message(r, out, size, PBFT_TO_ALL, KEEP_SYNCED)) != 0)
        return rc;
    /* The timer for the next view waits for a quorum of view changes for
     * this one (Castro and Liskov's first liveness rule): a replica that
     * timed out alone must not run ahead of the others. */
    r->view_timer_armed = false;
    pbft_action a = {0};
    a.type = PBFT_ACT_CANCEL_TIMER;
    a.timer = PBFT_TIMER_VIEW;
    if ((rc = emit(r, &a)) != 0)
        return rc;
    if ((rc = arm_vc_timer(r)) != 0)
        return rc;
    return try_new_view(r);
}

/* The blocks a new view re-proposes, derived from a quorum of view changes
 * the same way by every replica. */
struct nv_plan {
    uint64_t min_s;
    uint8_t min_s_root[WITAN_HASH_SIZE];
    const Witan__ViewChange *min_s_vc;
    uint64_t max_h;
    const Witan__PreparedProof *chosen[WITAN_PBFT_WINDOW_MAX + 1];
};

static void plan_new_view(pbft *r, Witan__ViewChange *const *vcs, size_t count,
                          struct nv_plan *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < count; i++)
        if (vcs[i]->stable_height > p->min_s || p->min_s_vc == NULL) {
            if (vcs[i]->stable_height >= p->min_s) {
                p->min_s = vcs[i]->stable_height;
                p->min_s_vc = vcs[i];
                if (p->min_s)
                    memcpy(p->min_s_root, vcs[i]->stable_state_root.data,
                           WITAN_HASH_SIZE);
            }
        }
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < vcs[i]->n_prepared; k++) {
            const Witan__PreparedProof *pp = vcs[i]->prepared[k];
            if (pp->height <= p->min_s || pp->height > p->min_s + r->W)
                continue;
            uint64_t off = pp->height - p->min_s;
            if (p->chosen[off] == NULL || pp->view > p->chosen[off]->view)
                p->chosen[off] = pp;
        }
    p->max_h = p->min_s;
    for (uint64_t off = 1; off <= r->W && p->chosen[off] != NULL; off++)
        p->max_h = p->min_s + off;
}

static int apply_new_view(pbft *r, uint64_t v, Witan__ViewChange *const *vcs,
                          size_t count)
{
    struct nv_plan *p = malloc(sizeof(*p));
    if (p == NULL)
        return WITAN_ENOMEM;
    plan_new_view(r, vcs, count, p);
    int rc = 0;
    enter_view(r, v);
    r->vc_active = false;
    if (p->min_s > r->low) {
        const Witan__ViewChange *vc = p->min_s_vc;
        buf proof[VMAX] = {{0}};
        uint32_t c = 0;
        for (size_t i = 0; i < vc->n_checkpoint_proof && c < VMAX; i++) {
            proof[c].data = NULL;
            proof[c].size = 0;
            if ((rc = pack_signed(vc->checkpoint_proof[i], &proof[c])) != 0)
                break;
            c++;
        }
        if (rc == 0)
            rc = make_stable(r, p->min_s, p->min_s_root, proof, c);
        for (uint32_t i = 0; i < c; i++)
            buf_free(&proof[i]);
        if (rc != 0 || r->halted) {
            free(p);
            return rc;
        }
    }
    for (uint64_t h = p->min_s + 1; h <= p->max_h && rc == 0; h++) {
        const Witan__PreparedProof *pp = p->chosen[h - p->min_s];
        if (h <= r->delivered)
            continue;
        struct slot *s = slot_get(r, h);
        if (s == NULL || s->committed)
            continue;
        uint8_t d[WITAN_HASH_SIZE];
        struct header_info hi;
        if (pbft_block_hash(pp->block.data, pp->block.len, d) != 0 ||
            decode_header(pp->block.data, pp->block.len, &hi, r->chain_id) !=
                0 ||
            hi.height != h)
            continue;
        if ((rc = install_pp(r, s, v, d, pp->block.data, pp->block.len, &hi,
                             NULL, 0, true)) == 0)
            rc = ask_verdict(r, s);
    }
    uint64_t base = p->max_h > r->low ? p->max_h : r->low;
    r->proposed = base > r->delivered ? base : r->delivered;
    free(p);
    if (rc != 0)
        return rc;
    /* Replays what waited for this view. */
    uint32_t k = 0;
    struct future *fut = r->future;
    uint32_t n = r->future_count;
    struct future *replay = calloc(n ? n : 1, sizeof(*replay));
    if (replay == NULL)
        return WITAN_ENOMEM;
    uint32_t nr = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (fut[i].view == v)
            replay[nr++] = fut[i];
        else if (fut[i].view > v)
            fut[k++] = fut[i];
        else
            buf_free(&fut[i].raw);
    }
    r->future_count = k;
    pbft_event ev = {0};
    ev.type = PBFT_EV_MESSAGE;
    for (uint32_t i = 0; i < nr; i++) {
        ev.u.message.data = replay[i].raw.data;
        ev.u.message.size = replay[i].raw.size;
        if (rc == 0)
            rc = pbft_step(r, &ev);
        buf_free(&replay[i].raw);
    }
    free(replay);
    return rc;
}

/* Decodes the view changes stored for view `v` from distinct senders. */
static int collect_vcs(pbft *r, uint64_t v, Witan__SignedMessage **sms,
                       Witan__ViewChange **vcs, Witan__ConsensusMessage **cms,
                       size_t *count)
{
    *count = 0;
    for (uint32_t i = 0; i < r->set.n && *count < r->set.q; i++) {
        int k = vc_find(r, i, v);
        if (k < 0)
            continue;
        Witan__SignedMessage *sm = witan__signed_message__unpack(
            NULL, r->vc_raw[i][k].size, r->vc_raw[i][k].data);
        if (sm == NULL)
            continue;
        Witan__ConsensusMessage *cm = witan_unpack_or_null(
            &witan__consensus_message__descriptor, sm->body.data, sm->body.len);
        if (cm == NULL) {
            witan__signed_message__free_unpacked(sm, NULL);
            continue;
        }
        sms[*count] = sm;
        cms[*count] = cm;
        vcs[*count] = cm->view_change;
        (*count)++;
    }
    return 0;
}

static int try_new_view(pbft *r)
{
    if (!r->vc_active || primary_of(r, r->view) != r->set.self ||
        !is_validator(r))
        return 0;
    Witan__SignedMessage *sms[VMAX];
    Witan__ViewChange *vcs[VMAX];
    Witan__ConsensusMessage *cms[VMAX];
    size_t count;
    collect_vcs(r, r->view, sms, vcs, cms, &count);
    int rc = 0;
    if (count >= r->set.q) {
        Witan__NewView nv = WITAN__NEW_VIEW__INIT;
        nv.view = r->view;
        nv.n_view_changes = count;
        nv.view_changes = sms;
        Witan__ConsensusMessage cm = WITAN__CONSENSUS_MESSAGE__INIT;
        cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_NEW_VIEW;
        cm.new_view = &nv;
        uint8_t *out;
        size_t size;
        rc = sign_cm(r, &cm, &out, &size);
        if (rc == 0 && (rc = buf_set(&r->own_nv, out, size)) != 0)
            free(out);
        if (rc == 0) {
            r->own_nv_view = r->view;
            if ((rc = buf_set(&r->view_nv, out, size)) == 0)
                r->view_nv_view = r->view;
        }
        if (rc == 0)
            rc = emit_message(r, out, size, PBFT_TO_ALL, KEEP_SYNCED);
        if (rc == 0)
            rc = apply_new_view(r, r->view, vcs, count);
    }
    for (size_t i = 0; i < count; i++) {
        witan__consensus_message__free_unpacked(cms[i], NULL);
        witan__signed_message__free_unpacked(sms[i], NULL);
    }
    return rc;
}

static int on_view_change(pbft *r, uint32_t sender,
                          const Witan__ViewChange *vc, const uint8_t *raw,
                          size_t size)
{
    uint64_t nv = vc->new_view;
    if (nv < r->view || (nv == r->view && !r->vc_active))
        return drop(r, PBFT_DROP_PAST_VIEW);
    int rc = check_view_change(r, vc, true);
    if (rc == WITAN_ENOMEM)
        return rc;
    if (rc != 0)
        return drop(r, PBFT_DROP_INVALID);
    int k = vc_find(r, sender, nv);
    if (k >= 0) {
        if (r->vc_raw[sender][k].size == size &&
            memcmp(r->vc_raw[sender][k].data, raw, size) == 0)
            return 0;
        rc = keep_evidence(r, sender, &r->vc_raw[sender][k], raw, size);
        if (rc != 0)
            return rc;
        return drop(r, PBFT_DROP_CONFLICT);
    }
    rc = vc_store(r, sender, nv, raw, size);
    if (rc != 0)
        return rc;
    /* Its justification is now this replica's too: one well-justified
     * ViewChange is enough to follow (at least one correct validator gave
     * up on the view before it). */
    if ((rc = follow_suspicion(r)) != 0)
        return rc;
    if ((rc = arm_vc_timer(r)) != 0)
        return rc;
    return try_new_view(r);
}

static int on_new_view(pbft *r, uint32_t sender, const Witan__NewView *nv,
                       const uint8_t *raw, size_t raw_size)
{
    uint64_t v = nv->view;
    if (v < r->view || (v == r->view && !r->vc_active))
        return drop(r, PBFT_DROP_PAST_VIEW);
    if (sender != primary_of(r, v))
        return drop(r, PBFT_DROP_INVALID);
    if (nv->n_view_changes < r->set.q || nv->n_view_changes > r->set.n)
        return drop(r, PBFT_DROP_INVALID);
    Witan__ConsensusMessage *cms[VMAX];
    Witan__ViewChange *vcs[VMAX];
    size_t count = 0;
    uint64_t seen = 0;
    int rc = 0;
    bool ok = true;
    for (size_t i = 0; i < nv->n_view_changes && ok; i++) {
        uint32_t s;
        Witan__ConsensusMessage *cm;
        int e = open_nested(r, nv->view_changes[i], &s, &cm);
        if (e == WITAN_ENOMEM) {
            rc = e;
            ok = false;
            break;
        }
        if (e != 0) {
            ok = false;
            break;
        }
        cms[count] = cm;
        count++;
        if (cm->kind_case != WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE ||
            cm->view_change->new_view != v || (seen & (1ull << s)) ||
            check_view_change(r, cm->view_change, false) != 0) {
            ok = false;
            break;
        }
        vcs[count - 1] = cm->view_change;
        seen |= 1ull << s;
    }
    if (ok && rc == 0) {
        if (v > r->view || !r->vc_active) {
            r->stats.view_changes++;
        }
        rc = apply_new_view(r, v, vcs, count);
        if (rc == 0 && (rc = buf_set(&r->view_nv, raw, raw_size)) == 0)
            r->view_nv_view = v;
    } else if (rc == 0) {
        drop(r, PBFT_DROP_INVALID);
    }
    for (size_t i = 0; i < count; i++)
        witan__consensus_message__free_unpacked(cms[i], NULL);
    return rc;
}

/* --- state transfer ------------------------------------------------------------------- */

static int send_state_response(pbft *r, Witan__StateResponse *resp,
                               uint32_t to)
{
    Witan__ConsensusMessage cm = WITAN__CONSENSUS_MESSAGE__INIT;
    cm.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_STATE_RESPONSE;
    cm.state_response = resp;
    uint8_t *out;
    size_t size;
    int rc = sign_cm(r, &cm, &out, &size);
    return rc ? rc : emit_message(r, out, size, to, KEEP_NONE);
}

/* A StateResponse with no block, carrying the proof of this replica's
 * stable checkpoint (consensus.md, "State transfer"). */
static int send_stable_proof(pbft *r, uint32_t to)
{
    ProtobufCBinaryData proof[VMAX];
    uint32_t n = r->stable_proof_count < VMAX ? r->stable_proof_count : VMAX;
    for (uint32_t i = 0; i < n; i++) {
        proof[i].data = r->stable_proof[i].data;
        proof[i].len = r->stable_proof[i].size;
    }
    Witan__StateResponse resp = WITAN__STATE_RESPONSE__INIT;
    resp.n_stable_proof = n;
    resp.stable_proof = proof;
    return send_state_response(r, &resp, to);
}

static int on_state_request(pbft *r, uint32_t sender,
                            const Witan__StateRequest *q)
{
    /* A replica that delivered this one's stable checkpoint already, when
     * there is no block to give it: it gets the checkpoint's proof, without
     * which it may never make it stable (one that lagged across a switch
     * needs the old set's quorum, which a removed validator and faulty
     * ones may withhold, while the new set waits for it). */
    if (q->from_height > r->delivered && q->from_height > r->low &&
        r->low > 0 && r->stable_proof_count > 0)
        return send_stable_proof(r, sender);
    if (q->from_height == 0 || q->from_height > r->delivered)
        return 0;
    uint64_t count = q->count;
    if (count > r->state_block_count)
        count = r->state_block_count;
    if (count > r->delivered - q->from_height + 1)
        count = r->delivered - q->from_height + 1;
    if (count == 0)
        return 0;
    pbft_action a = {0};
    a.type = PBFT_ACT_READ_BLOCKS;
    a.to = sender;
    a.height = q->from_height;
    a.count = (uint32_t)count;
    return emit(r, &a);
}

static int on_blocks_read(pbft *r, const pbft_event *ev)
{
    uint32_t n = ev->u.blocks_read.count;
    if (n == 0 || ev->u.blocks_read.peer >= r->set.n || !is_validator(r))
        return 0;
    if (n > WITAN_PBFT_STATE_BLOCK_COUNT_MAX || ev->u.blocks_read.blocks == NULL)
        return WITAN_EINVAL;
    Witan__CertifiedBlock *cbs = calloc(n, sizeof(*cbs));
    Witan__CertifiedBlock **ptrs = calloc(n, sizeof(*ptrs));
    Witan__CommitCertificate **certs = calloc(n, sizeof(*certs));
    int rc = 0;
    if (cbs == NULL || ptrs == NULL || certs == NULL)
        rc = WITAN_ENOMEM;
    size_t total = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const pbft_certified_block *b = &ev->u.blocks_read.blocks[i];
        uint8_t *cb;
        size_t cs;
        if ((rc = pbft_cert_encode(b->cert, &cb, &cs)) != 0)
            break;
        certs[i] = witan_unpack_or_null(&witan__commit_certificate__descriptor,
                                        cb, cs);
        free(cb);
        if (certs[i] == NULL) {
            rc = WITAN_ENOMEM;
            break;
        }
        witan__certified_block__init(&cbs[i]);
        cbs[i].block.data = (uint8_t *)b->block.data;
        cbs[i].block.len = b->block.size;
        cbs[i].cert = certs[i];
        ptrs[i] = &cbs[i];
        total += b->block.size + cs;
        if (total > WITAN_MESSAGE_SIZE_MAX / 2) {
            n = i + 1;
            break;
        }
    }
    if (rc == 0) {
        Witan__StateResponse resp = WITAN__STATE_RESPONSE__INIT;
        resp.n_blocks = n;
        resp.blocks = ptrs;
        rc = send_state_response(r, &resp, ev->u.blocks_read.peer);
    }
    if (certs)
        for (uint32_t i = 0; i < ev->u.blocks_read.count; i++)
            if (certs[i])
                witan__commit_certificate__free_unpacked(certs[i], NULL);
    free(certs);
    free(ptrs);
    free(cbs);
    return rc;
}

/* The block's transactions give its header's txs_root. */
static int body_check(const pbft *r, const uint8_t *block, size_t size,
                      const struct header_info *hi)
{
    Witan__Block *b = witan_unpack_or_null(&witan__block__descriptor, block,
                                           size);
    if (b == NULL)
        return WITAN_EDECODE;
    int rc = WITAN_ENOMEM;
    const uint8_t **txs = malloc((b->n_txs ? b->n_txs : 1) * sizeof(*txs));
    size_t *sizes = malloc((b->n_txs ? b->n_txs : 1) * sizeof(*sizes));
    uint8_t root[WITAN_HASH_SIZE];
    if (txs != NULL && sizes != NULL) {
        for (size_t i = 0; i < b->n_txs; i++) {
            txs[i] = b->txs[i].data;
            sizes[i] = b->txs[i].len;
        }
        rc = r->txs_root(txs, sizes, b->n_txs, root);
        if (rc == 0 && memcmp(root, hi->txs_root, WITAN_HASH_SIZE) != 0)
            rc = WITAN_ECONSENSUS;
    }
    free(txs);
    free(sizes);
    witan__block__free_unpacked(b, NULL);
    return rc;
}

static void st_release(pbft *r)
{
    if (r->st_held != NULL)
        witan__consensus_message__free_unpacked(r->st_held, NULL);
    r->st_held = NULL;
    r->st_held_next = 0;
}

/* Delivers the blocks of st_held in height order from st_held_next, as far
 * as their sets are known; releases it once used up or found invalid. */
static int st_apply(pbft *r)
{
    const Witan__StateResponse *resp = r->st_held->state_response;
    int rc = 0;
    size_t i = r->st_held_next;
    for (; i < resp->n_blocks && rc == 0 && !r->halted; i++) {
        const Witan__CertifiedBlock *cb = resp->blocks[i];
        pbft_cert cert;
        if (pbft_cert_from_proto(cb->cert, &cert, NULL, 0) != 0) {
            st_release(r);
            return drop(r, PBFT_DROP_DECODE);
        }
        if (cert.height <= r->delivered)
            continue;
        if (cert.height != r->delivered + 1)
            break;
        /* Results of delivered blocks wait in the ring until executed. */
        if (r->delivered - r->executed >= WITAN_PBFT_STATE_BLOCK_COUNT_MAX ||
            !set_known(r, cert.height)) {
            r->st_held_next = i;
            return 0;
        }
        uint8_t d[WITAN_HASH_SIZE];
        struct header_info hi;
        const struct vset *vs = set_at(r, cert.height);
        if (pbft_block_hash(cb->block.data, cb->block.len, d) != 0 ||
            memcmp(d, cert.block_hash, WITAN_HASH_SIZE) != 0 ||
            decode_header(cb->block.data, cb->block.len, &hi, r->chain_id) !=
                0 ||
            hi.height != cert.height ||
            memcmp(hi.prev_hash, r->delivered_hash, WITAN_HASH_SIZE) != 0 ||
            body_check(r, cb->block.data, cb->block.len, &hi) != 0 ||
            pbft_cert_verify(r->chain_id, r->scheme, vs->keys, vs->n, &cert) !=
                0) {
            st_release(r);
            return drop(r, PBFT_DROP_INVALID);
        }
        /* A replica the set of this height holds not (removed, or its key
         * rotated) delivers nothing there: it switches, if it has not, and
         * its node stops it. */
        if (vs->self == UINT32_MAX) {
            st_release(r);
            return r->change_pending && cert.height == r->change_from
                       ? switch_set(r)
                       : 0;
        }
        struct slot *s = slot_peek(r, cert.height);
        if (s != NULL) {
            s->committed = true;
            s->cert = cert;
        }
        rc = deliver(r, cert.height, cb->block.data, cb->block.len, d, &hi,
                     &cert);
        r->stats.state_transfers++;
        /* The new set certified the change's first height: a quorum of it
         * holds the checkpoint below stable, which this replica, lagging,
         * missed. It switches now, before it proposes anything there. */
        if (rc == 0 && r->change_pending && cert.height == r->change_from)
            rc = switch_set(r);
    }
    st_release(r);
    return rc;
}

/* Takes *cm (the message holding the response): its blocks are delivered
 * now or, past what this replica may check yet, as it executes. */
static int on_state_response(pbft *r, Witan__ConsensusMessage **cm)
{
    r->st_pending = false;
    /* Each Checkpoint of a stable proof is signed: it is taken as if its
     * signer had sent it, by the same rules (and only Checkpoints). */
    const Witan__StateResponse *resp = (*cm)->state_response;
    for (size_t i = 0; i < resp->n_stable_proof && i < VMAX; i++) {
        uint32_t sender;
        Witan__ConsensusMessage *ck;
        enum pbft_drop why;
        const ProtobufCBinaryData *p = &resp->stable_proof[i];
        if (open_signed(r, p->data, p->len, &sender, &ck, &why, false) != 0) {
            drop(r, why);
            continue;
        }
        int rc = 0;
        if (ck->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT &&
            sender != r->set.self)
            rc = on_checkpoint(r, sender, ck->checkpoint, p->data, p->len);
        witan__consensus_message__free_unpacked(ck, NULL);
        if (rc != 0)
            return rc;
    }
    /* A response with no block (a proof alone) leaves the blocks held from
     * another one in place. */
    if (resp->n_blocks == 0)
        return 0;
    st_release(r);
    r->st_held = *cm;
    *cm = NULL;
    return st_apply(r);
}

/* --- retransmission and status ------------------------------------------------------------ */

static int resend(pbft *r, const buf *b)
{
    if (b->data == NULL)
        return 0;
    uint8_t *copy = malloc(b->size);
    if (copy == NULL)
        return WITAN_ENOMEM;
    memcpy(copy, b->data, b->size);
    return emit_message(r, copy, b->size, PBFT_TO_ALL, KEEP_NONE);
}

static int on_retransmit(pbft *r)
{
    int rc = emit_timer(r, PBFT_TIMER_RETRANSMIT, r->retransmit_ms);
    if (rc != 0 || r->halted || !is_validator(r))
        return rc;
    r->st_pending = false;
    r->delivered_at_tick = r->delivered;
    pbft_msg m = {0};
    m.kind = PBFT_MSG_STATUS;
    m.view = r->view;
    m.height = r->delivered;
    m.aux = r->low;
    uint8_t *out;
    size_t size;
    if ((rc = sign_simple(r, &m, &out, &size)) != 0)
        return rc;
    if ((rc = emit_message(r, out, size, PBFT_TO_ALL, KEEP_NONE)) != 0)
        return rc;
    if (r->own_ck.data != NULL && (rc = resend(r, &r->own_ck)) != 0)
        return rc;
    /* A suspicion of this view or later stands until the view moves. */
    if (r->susp_raw[r->set.self].data != NULL &&
        r->susp_view[r->set.self] >= r->view &&
        (rc = resend(r, &r->susp_raw[r->set.self])) != 0)
        return rc;
    if (r->vc_active && (rc = arm_vc_timer(r)) != 0)
        return rc;
    if (r->vc_active)
        return (rc = resend(r, &r->own_vc_prev)) != 0 ? rc
                                                      : resend(r, &r->own_vc);
    bool pending = false;
    for (uint64_t h = r->delivered + 1, top = slots_top(r); h <= top; h++) {
        struct slot *s = slot_peek(r, h);
        if (s == NULL || s->vote_view != r->view || s->committed)
            continue;
        pending = pending || s->has_pp;
        if ((rc = resend(r, &s->pp_raw)) != 0)
            return rc;
        if (s->prepares[r->set.self].has &&
            (rc = resend(r, &s->prepares[r->set.self].raw)) != 0)
            return rc;
        if (s->commits[r->set.self].has &&
            (rc = resend(r, &s->commits[r->set.self].raw)) != 0)
            return rc;
    }
    if (pending && r->own_nv_view == r->view && r->own_nv.data != NULL)
        return resend(r, &r->own_nv);
    return 0;
}

static int on_status(pbft *r, uint32_t sender, const Witan__Status *st)
{
    /* A peer in an earlier view (it was down or cut off while the others
     * moved on) gets the NewView of this one: with it, it joins. Statuses
     * come once a tick, which bounds the resends. */
    if (st->view < r->view && !r->vc_active && r->view_nv.data != NULL &&
        r->view_nv_view == r->view) {
        uint8_t *copy = malloc(r->view_nv.size);
        if (copy == NULL)
            return WITAN_ENOMEM;
        memcpy(copy, r->view_nv.data, r->view_nv.size);
        int rc = emit_message(r, copy, r->view_nv.size, sender, KEEP_NONE);
        if (rc != 0)
            return rc;
    }
    r->peer_status_count++;
    if (st->delivered_height > r->peer_delivered_max)
        r->peer_delivered_max = st->delivered_height;
    /* A peer holds stable a checkpoint this replica delivered but does
     * not: it asks for what follows, and gets the proof (on_state_request). */
    if (st->stable_height > r->low && st->stable_height <= r->delivered &&
        st->stable_height % r->K == 0)
        return request_state(r, sender);
    if (st->delivered_height <= r->delivered)
        return 0;
    /* Ask when the peer is far ahead or this replica made no progress since
     * the last tick (normal pipelining keeps peers a block or two apart). */
    if (st->delivered_height > r->delivered + r->L + 1 ||
        r->delivered == r->delivered_at_tick || r->vc_active)
        return request_state(r, sender);
    return 0;
}

/* --- messages ------------------------------------------------------------------------------ */

static bool is_view_scoped(const Witan__ConsensusMessage *cm, uint64_t *view)
{
    switch (cm->kind_case) {
    case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE:
        *view = cm->pre_prepare->view;
        return true;
    case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
        *view = cm->prepare->view;
        return true;
    case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT:
        *view = cm->commit->view;
        return true;
    default:
        return false;
    }
}

static int buffer_future(pbft *r, uint64_t view, const uint8_t *raw,
                         size_t size)
{
    if (r->future_count >= WITAN_PBFT_FUTURE_COUNT_MAX)
        return drop(r, PBFT_DROP_BUFFER_FULL);
    struct future *f = &r->future[r->future_count];
    f->raw.data = NULL;
    int rc = buf_set(&f->raw, raw, size);
    if (rc != 0)
        return rc;
    f->view = view;
    r->future_count++;
    return 0;
}

/* The place in `to` of the validator at place i of `from` (the same
 * key); UINT32_MAX when `to` holds it not. */
static uint32_t place_of(const struct vset *from, uint32_t i,
                         const struct vset *to)
{
    if (i >= from->n)
        return UINT32_MAX;
    for (uint32_t j = 0; j < to->n; j++)
        if (memcmp(to->keys[j].bytes, from->keys[i].bytes,
                   WCRYPTO_ED25519_PUBKEY_SIZE) == 0)
            return j;
    return UINT32_MAX;
}

/* A Status or StateRequest signed under set vs (not the set in force):
 * true with *sender the same validator's place in the set in force, found
 * by its key, or the same place when the key was rotated there (a
 * rotated key keeps its place), so that the answer or the request goes to
 * that validator; *cm is the caller's then. */
static bool open_catching_up(pbft *r, const struct vset *vs,
                             const uint8_t *raw, size_t size,
                             uint32_t *sender, Witan__ConsensusMessage **cm)
{
    enum pbft_drop why;
    if (open_signed_by(r, vs, raw, size, sender, cm, &why, false) != 0)
        return false;
    uint32_t at = place_of(vs, *sender, &r->set);
    /* A rotation: neither set holds the other's key at that place. */
    if (at == UINT32_MAX && *sender < r->set.n &&
        place_of(&r->set, *sender, vs) == UINT32_MAX)
        at = *sender;
    if (((*cm)->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_STATE_REQUEST ||
         (*cm)->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_STATUS) &&
        at < r->set.n && at != r->set.self) {
        *sender = at;
        return true;
    }
    witan__consensus_message__free_unpacked(*cm, NULL);
    *cm = NULL;
    return false;
}

static int on_message(pbft *r, const uint8_t *raw, size_t size)
{
    uint32_t sender;
    Witan__ConsensusMessage *cm;
    enum pbft_drop why;
    int opened = open_signed(r, raw, size, &sender, &cm, &why, true);
    if (opened == 1)
        return 0;
    /* Statuses and state requests, the messages of catching up, cross a
     * set switch both ways: from a replica that lags behind it they are
     * signed under its place in a set this one switched away from; from a
     * peer that switched first (it may have made the checkpoint below the
     * change stable from its peers' checkpoints before it had the blocks
     * up to it), under its place in the pending set. */
    for (uint32_t i = 0; opened != 0 && i <= r->older_count; i++) {
        const struct vset *vs = i < r->older_count ? &r->older[i]
                                : r->change_pending ? &r->next_set
                                                    : NULL;
        if (vs != NULL && open_catching_up(r, vs, raw, size, &sender, &cm))
            opened = 0;
    }
    if (opened != 0)
        return drop(r, why);
    int rc = 0;
    uint64_t view;
    if (sender == r->set.self) {
        /* Our own messages, echoed or replayed: we already hold them. */
        goto out;
    }
    if (is_view_scoped(cm, &view)) {
        if (view < r->view) {
            rc = drop(r, PBFT_DROP_PAST_VIEW);
            goto out;
        }
        if (view > r->view || r->vc_active) {
            rc = buffer_future(r, view, raw, size);
            goto out;
        }
    }
    switch (cm->kind_case) {
    case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE:
        rc = on_pre_prepare(r, sender, cm->pre_prepare, raw, size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
        rc = on_vote(r, sender, cm->prepare->height, &cm->prepare->block_hash,
                     false, NULL, raw, size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT: {
        uint8_t sig[WITAN_SIGNATURE_SIZE];
        if (raw_sig(raw, size, sig) != 0) {
            rc = drop(r, PBFT_DROP_DECODE);
            break;
        }
        rc = on_vote(r, sender, cm->commit->height, &cm->commit->block_hash,
                     true, sig, raw, size);
        break;
    }
    case WITAN__CONSENSUS_MESSAGE__KIND_CHECKPOINT:
        rc = on_checkpoint(r, sender, cm->checkpoint, raw, size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE:
        rc = on_view_change(r, sender, cm->view_change, raw, size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_NEW_VIEW:
        rc = on_new_view(r, sender, cm->new_view, raw, size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_STATUS:
        rc = on_status(r, sender, cm->status);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_STATE_REQUEST:
        rc = on_state_request(r, sender, cm->state_request);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_STATE_RESPONSE:
        rc = on_state_response(r, &cm);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_SUSPECT:
        rc = on_suspect(r, sender, cm->suspect, raw, size);
        break;
    default:
        rc = drop(r, PBFT_DROP_DECODE);
        break;
    }
out:
    if (cm != NULL)
        witan__consensus_message__free_unpacked(cm, NULL);
    return rc;
}

/* --- timers --------------------------------------------------------------------------------- */

static bool has_work(pbft *r)
{
    if (r->vc_active)
        return true;
    if (r->requests > 0)
        return true;
    for (uint64_t h = r->delivered + 1, top = slots_top(r); h <= top; h++) {
        struct slot *s = slot_peek(r, h);
        if (s != NULL && s->vote_view == r->view && s->has_pp && !s->committed)
            return true;
    }
    return false;
}

static int update_view_timer(pbft *r)
{
    if (r->halted || r->vc_active)
        return 0;
    bool want = has_work(r);
    int rc = 0;
    if (want && (!r->view_timer_armed || r->progress)) {
        /* One validator alone has no one to forward to: the whole. */
        r->forwarded = r->set.n == 1;
        rc = emit_timer(r, PBFT_TIMER_VIEW,
                        r->forwarded ? view_timeout(r) : view_timeout(r) / 2);
        r->view_timer_armed = true;
    } else if (!want && r->view_timer_armed) {
        pbft_action a = {0};
        a.type = PBFT_ACT_CANCEL_TIMER;
        a.timer = PBFT_TIMER_VIEW;
        rc = emit(r, &a);
        r->view_timer_armed = false;
    }
    r->progress = false;
    return rc;
}

/* --- public entry points ------------------------------------------------------------------------ */

int pbft_step(pbft *r, const pbft_event *ev)
{
    if (r == NULL || ev == NULL)
        return WITAN_EINVAL;
    int rc;
    if (r->halted && ev->type != PBFT_EV_BLOCKS_READ)
        return 0;
    switch (ev->type) {
    case PBFT_EV_MESSAGE:
        if (ev->u.message.data == NULL)
            return WITAN_EINVAL;
        rc = on_message(r, ev->u.message.data, ev->u.message.size);
        break;
    case PBFT_EV_TIMER:
        if (ev->u.timer == PBFT_TIMER_RETRANSMIT) {
            rc = on_retransmit(r);
        } else if (ev->u.timer == PBFT_TIMER_VIEW) {
            rc = on_view_timer(r);
        } else {
            return WITAN_EINVAL;
        }
        break;
    case PBFT_EV_REQUESTS:
        r->requests = ev->u.request_count;
        /* Requests that wait are proposed at once, not at the next tick. */
        rc = maybe_propose(r);
        break;
    case PBFT_EV_PROPOSAL:
        rc = on_proposal(r, ev);
        break;
    case PBFT_EV_VERDICT: {
        struct slot *s = slot_peek(r, ev->u.verdict.height);
        if (s != NULL && s->has_pp && s->verdict == 0 &&
            memcmp(s->digest, ev->u.verdict.block_hash, WITAN_HASH_SIZE) == 0) {
            s->verdict = ev->u.verdict.valid ? 1 : -1;
            if (!ev->u.verdict.valid)
                r->stats.bad_proposals++;
        }
        rc = 0;
        break;
    }
    case PBFT_EV_EXECUTED:
        rc = on_executed(r, ev);
        break;
    case PBFT_EV_BLOCKS_READ:
        rc = on_blocks_read(r, ev);
        break;
    default:
        return WITAN_EINVAL;
    }
    if (rc == 0 && !r->restoring)
        rc = pump(r);
    if (rc == 0 && !r->restoring)
        rc = update_view_timer(r);
    return rc;
}

void pbft_ready(pbft *r, pbft_actions *out)
{
    out->actions = r->actions;
    out->count = r->action_count;
}

void pbft_advance(pbft *r)
{
    r->action_count = 0;
    for (size_t i = 0; i < r->scratch_count; i++)
        free(r->scratch[i]);
    r->scratch_count = 0;
}

static int alloc_slots(pbft *r)
{
    for (uint32_t i = 0; i < r->W; i++) {
        struct slot *s = &r->slots[i];
        s->prepares = calloc(r->set.n, sizeof(struct vote));
        s->commits = calloc(r->set.n, sizeof(struct vote));
        if (s->prepares == NULL || s->commits == NULL)
            return WITAN_ENOMEM;
    }
    return 0;
}

static void free_slots(pbft *r)
{
    for (uint32_t i = 0; i < r->W; i++) {
        struct slot *s = &r->slots[i];
        if (s->prepares != NULL && s->commits != NULL)
            slot_reset(r, s, 0);
        free(s->prepares);
        free(s->commits);
        s->prepares = s->commits = NULL;
    }
}

static int set_init(struct vset *s, const wcrypto_pubkey *keys, uint32_t n,
                    uint32_t self)
{
    if (n == 0 || n > VMAX)
        return WITAN_ECONFIG;
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->f = pbft_faults(n);
    s->q = pbft_quorum(n);
    s->self = self;
    for (uint32_t i = 0; i < n; i++) {
        if (keys[i].type != WCRYPTO_KEY_ED25519 ||
            keys[i].size != WCRYPTO_ED25519_PUBKEY_SIZE)
            return WITAN_ECONFIG;
        s->keys[i] = keys[i];
    }
    return 0;
}

static int switch_set(pbft *r)
{
    /* This replica's own suspicion, while it stands (of its view or
     * later), is signed again under the new set below: a Suspect carries
     * no state, and without it a view the old set's f + 1 gave up on may
     * lack the one suspicion the new set's replicas need to follow. */
    bool kept = is_validator(r) && r->susp_raw[r->set.self].data != NULL &&
                r->susp_view[r->set.self] >= r->view;
    uint64_t own_susp = kept ? r->susp_view[r->set.self] : 0;
    free_slots(r);
    memmove(&r->older[1], &r->older[0],
            (PBFT_OLDER_SETS - 1) * sizeof(r->older[0]));
    memmove(&r->older_from[1], &r->older_from[0],
            (PBFT_OLDER_SETS - 1) * sizeof(r->older_from[0]));
    r->older[0] = r->set;
    r->older_from[0] = r->set_from;
    if (r->older_count < PBFT_OLDER_SETS)
        r->older_count++;
    r->set = r->next_set;
    r->set_from = r->change_from;
    r->change_pending = false;
    if (r->next_key_set) {
        wcrypto_keypair_wipe(&r->key);
        r->key = r->next_key;
        wcrypto_keypair_wipe(&r->next_key);
        r->next_key_set = false;
    }
    r->switch_view = r->view;
    for (uint32_t i = 0; i < VMAX; i++) {
        for (int k = 0; k < VC_PER_SENDER; k++) {
            buf_free(&r->vc_raw[i][k]);
            r->vc_view[i][k] = 0;
        }
        r->ck_latest[i].has = false;
        buf_free(&r->ck_latest[i].raw);
        /* Suspicions are signed by the old set's indices too. */
        buf_free(&r->susp_raw[i]);
        r->susp_view[i] = 0;
    }
    for (uint32_t i = 0; i < r->ck_ring; i++)
        ck_entry_clear(&r->cks[i]);
    for (uint32_t i = 0; i < r->W; i++)
        r->slots[i].vote_view = r->view;
    int rc = alloc_slots(r);
    if (rc == 0 && kept && is_validator(r)) {
        /* Kept, not sent: the retransmission tick sends it. */
        pbft_msg m = {0};
        m.kind = PBFT_MSG_SUSPECT;
        m.view = own_susp;
        uint8_t *out;
        size_t size;
        if ((rc = sign_simple(r, &m, &out, &size)) == 0) {
            rc = suspect_store(r, r->set.self, own_susp, out, size);
            free(out);
        }
    }
    return rc;
}

uint64_t pbft_set_from(const pbft *r) { return r->set_from; }
bool pbft_change_pending(const pbft *r) { return r->change_pending; }
bool pbft_is_member(const pbft *r) { return is_validator(r); }

int pbft_set_validators(pbft *r, uint64_t from_height,
                        const wcrypto_pubkey *validators, uint32_t count,
                        uint32_t self, const wcrypto_keypair *key)
{
    if (r->change_pending) {
        r->change_refused = true;
        return WITAN_ESTATE;
    }
    if (from_height == 0 || (from_height - 1) % r->K != 0 ||
        from_height <= r->low || from_height <= r->proposed ||
        from_height <= r->delivered)
        return WITAN_ERANGE;
    struct vset ns;
    int rc = set_init(&ns, validators, count, self);
    if (rc != 0)
        return rc;
    const wcrypto_keypair *signer = key != NULL ? key : &r->key;
    if (self != UINT32_MAX &&
        (self >= count || memcmp(validators[self].bytes, signer->pub.bytes,
                WCRYPTO_ED25519_PUBKEY_SIZE) != 0))
        return WITAN_ECONFIG;
    if (key != NULL && self == UINT32_MAX)
        return WITAN_ECONFIG;
    if (self == UINT32_MAX)
        ns.self = UINT32_MAX;
    r->next_set = ns;
    wcrypto_keypair_wipe(&r->next_key);
    r->next_key_set = key != NULL;
    if (key != NULL)
        r->next_key = *key;
    r->change_pending = true;
    r->change_refused = false;
    r->change_from = from_height;
    /* What a lagging replica gathered there before it knew of the change
     * (a proposal, votes, a commit counted by the old set) is void. */
    for (uint32_t i = 0; i < r->W; i++)
        if (r->slots[i].height >= from_height)
            slot_reset(r, &r->slots[i], r->slots[i].height);
    /* A replica that lagged may hold the checkpoint below the change
     * stable already (its peers' checkpoints came before it executed the
     * boundary): it switches now, as make_stable would have. */
    if (from_height == r->low + 1)
        return switch_set(r);
    return 0;
}

/* A record written before a change, under this replica's index in an
 * earlier set (the view-scoped ones, view changes and new views, stay on
 * disk across checkpoints): only the view it shows is kept (views never go
 * back, and a view change sent stays under way); what it says of heights
 * is at or below the switch, which the stable checkpoint covers. Records
 * are this replica's own (the node discards another's), and one of a set
 * before the previous one cannot be checked against any set it holds, so
 * after a change the record is decoded without its signature. */
static int restore_old_record(pbft *r, const uint8_t *raw, size_t size)
{
    if (r->set_from == 0)
        return WITAN_EDECODE;
    Witan__SignedMessage *sm =
        witan_unpack_or_null(&witan__signed_message__descriptor, raw, size);
    Witan__ConsensusMessage *cm =
        sm ? witan_unpack_or_null(&witan__consensus_message__descriptor,
                                  sm->body.data, sm->body.len)
           : NULL;
    if (sm)
        witan__signed_message__free_unpacked(sm, NULL);
    if (cm == NULL || strcmp(cm->chain_id, r->chain_id) != 0) {
        if (cm)
            witan__consensus_message__free_unpacked(cm, NULL);
        return WITAN_EDECODE;
    }
    uint64_t view;
    if (is_view_scoped(cm, &view)) {
        if (view > r->view || (view == r->view && r->vc_active)) {
            enter_view(r, view);
            r->vc_active = false;
        }
    } else if (cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE) {
        view = cm->view_change->new_view;
        if (view > r->view || (view == r->view && (r->vc_active || view == 0))) {
            enter_view(r, view);
            r->vc_active = true;
        }
    } else if (cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_NEW_VIEW) {
        view = cm->new_view->view;
        if (view > r->view || (view == r->view && r->vc_active)) {
            enter_view(r, view);
            r->vc_active = false;
        }
    }
    witan__consensus_message__free_unpacked(cm, NULL);
    return 0;
}

/* Replays one persisted record into a fresh replica (no sends). */
static int restore_record(pbft *r, const uint8_t *rec, size_t size)
{
    if (size < 2)
        return WITAN_EDECODE;
    if (rec[0] == RECORD_PREPARED) {
        Witan__PreparedRecord *pr = witan_unpack_or_null(
            &witan__prepared_record__descriptor, rec + 1, size - 1);
        if (pr == NULL || pr->proof == NULL) {
            if (pr)
                witan__prepared_record__free_unpacked(pr, NULL);
            return WITAN_EDECODE;
        }
        const Witan__PreparedProof *p = pr->proof;
        uint8_t d[WITAN_HASH_SIZE];
        int rc = 0;
        /* Certificates of delivered heights come back too: until a stable
         * checkpoint covers them, view changes must carry them (a new view
         * derives the chain from a quorum's certificates, with no gap). */
        struct slot *s = slot_get(r, p->height);
        if (s != NULL &&
            pbft_block_hash(p->block.data, p->block.len, d) == 0 &&
            (!s->has_pc || s->pc_view <= p->view)) {
            slot_clear_pc(s);
            s->pc_prepares = calloc(VMAX, sizeof(buf));
            if (s->pc_prepares == NULL)
                rc = WITAN_ENOMEM;
            if (rc == 0)
                rc = buf_set(&s->pc_block, p->block.data, p->block.len);
            for (size_t i = 0; i < p->n_prepares && i < VMAX && rc == 0; i++) {
                rc = pack_signed(p->prepares[i], &s->pc_prepares[i]);
                s->pc_count++;
            }
            s->has_pc = true;
            s->pc_view = p->view;
            memcpy(s->pc_digest, d, WITAN_HASH_SIZE);
        }
        witan__prepared_record__free_unpacked(pr, NULL);
        return rc;
    }
    if (rec[0] != RECORD_MESSAGE)
        return WITAN_EDECODE;
    uint32_t sender;
    Witan__ConsensusMessage *cm;
    enum pbft_drop why;
    if (open_signed(r, rec + 1, size - 1, &sender, &cm, &why, false) != 0 ||
        sender != r->set.self) {
        if (cm)
            witan__consensus_message__free_unpacked(cm, NULL);
        return restore_old_record(r, rec + 1, size - 1);
    }
    r->restored_own = true;
    int rc = 0;
    const uint8_t *raw = rec + 1;
    size_t raw_size = size - 1;
    uint64_t view;
    if (is_view_scoped(cm, &view)) {
        if (view < r->view)
            goto out;
        if (view > r->view || r->vc_active) {
            enter_view(r, view);
            r->vc_active = false;
        }
    }
    switch (cm->kind_case) {
    case WITAN__CONSENSUS_MESSAGE__KIND_PRE_PREPARE: {
        const Witan__PrePrepare *pp = cm->pre_prepare;
        struct slot *s = slot_get(r, pp->height);
        uint8_t d[WITAN_HASH_SIZE];
        struct header_info hi;
        if (s == NULL || pp->height <= r->delivered ||
            pbft_block_hash(pp->block.data, pp->block.len, d) != 0 ||
            decode_header(pp->block.data, pp->block.len, &hi, r->chain_id) !=
                0)
            break;
        rc = install_pp(r, s, view, d, pp->block.data, pp->block.len, &hi, raw,
                        raw_size, false);
        s->verdict = 1;
        if (pp->height > r->proposed)
            r->proposed = pp->height;
        break;
    }
    case WITAN__CONSENSUS_MESSAGE__KIND_PREPARE:
    case WITAN__CONSENSUS_MESSAGE__KIND_COMMIT: {
        bool commit = cm->kind_case == WITAN__CONSENSUS_MESSAGE__KIND_COMMIT;
        uint64_t h = commit ? cm->commit->height : cm->prepare->height;
        const ProtobufCBinaryData *hash =
            commit ? &cm->commit->block_hash : &cm->prepare->block_hash;
        struct slot *s = slot_get(r, h);
        if (s == NULL || h <= r->delivered || hash->len != WITAN_HASH_SIZE)
            break;
        struct vote *v = commit ? &s->commits[sender] : &s->prepares[sender];
        if ((rc = buf_set(&v->raw, raw, raw_size)) != 0)
            break;
        v->has = true;
        memcpy(v->hash, hash->data, WITAN_HASH_SIZE);
        if (commit) {
            rc = raw_sig(raw, raw_size, v->sig);
            s->commit_sent = true;
        } else {
            s->prepare_sent = true;
        }
        break;
    }
    case WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE:
        if (cm->view_change->new_view < r->view ||
            (cm->view_change->new_view == r->view && !r->vc_active &&
             r->view != 0))
            break;
        enter_view(r, cm->view_change->new_view);
        r->vc_active = true;
        buf_free(&r->own_vc_prev);
        r->own_vc_prev = r->own_vc;
        r->own_vc.data = NULL;
        r->own_vc.size = 0;
        if ((rc = buf_set(&r->own_vc, raw, raw_size)) == 0)
            rc = vc_store(r, sender, cm->view_change->new_view, raw, raw_size);
        break;
    case WITAN__CONSENSUS_MESSAGE__KIND_NEW_VIEW: {
        const Witan__NewView *nv = cm->new_view;
        if (nv->view < r->view)
            break;
        if ((rc = buf_set(&r->own_nv, raw, raw_size)) != 0)
            break;
        r->own_nv_view = nv->view;
        Witan__ConsensusMessage *cms[VMAX];
        Witan__ViewChange *vcs[VMAX];
        size_t count = 0;
        for (size_t i = 0; i < nv->n_view_changes && i < VMAX; i++) {
            uint32_t s;
            Witan__ConsensusMessage *x;
            if (open_nested(r, nv->view_changes[i], &s, &x) != 0)
                continue;
            if (x->kind_case != WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE) {
                witan__consensus_message__free_unpacked(x, NULL);
                continue;
            }
            cms[count] = x;
            vcs[count++] = x->view_change;
        }
        rc = apply_new_view(r, nv->view, vcs, count);
        for (size_t i = 0; i < count; i++)
            witan__consensus_message__free_unpacked(cms[i], NULL);
        break;
    }
    default:
        break;
    }
out:
    witan__consensus_message__free_unpacked(cm, NULL);
    return rc;
}

int pbft_new(const pbft_config *cfg, const pbft_boot *boot, pbft **out)
{
    *out = NULL;
    if (cfg == NULL || boot == NULL || cfg->chain_id == NULL ||
        strlen(cfg->chain_id) > WITAN_CHAIN_ID_SIZE_MAX || cfg->key == NULL ||
        cfg->validators == NULL || cfg->txs_root == NULL)
        return WITAN_ECONFIG;
    uint32_t K = cfg->checkpoint_interval, L = cfg->pipeline_depth;
    if (L == 0 || L > WITAN_PIPELINE_DEPTH_MAX || K == 0 ||
        K > WITAN_CHECKPOINT_INTERVAL_MAX || cfg->self >= cfg->validator_count ||
        cfg->view_timeout_ms == 0 ||
        cfg->view_timeout_max_ms < cfg->view_timeout_ms ||
        cfg->view_timeout_max_ms > WITAN_PBFT_VIEW_TIMEOUT_MS_MAX ||
        cfg->retransmit_ms == 0 || cfg->state_block_count == 0 ||
        cfg->state_block_count > WITAN_PBFT_STATE_BLOCK_COUNT_MAX ||
        boot->result_count > L)
        return WITAN_ECONFIG;
    uint32_t W = cfg->window;
    if (W == 0)
        W = ((2 * K + L + K - 1) / K) * K;
    if (W % K != 0 || W < K + L || W > WITAN_PBFT_WINDOW_MAX)
        return WITAN_ECONFIG;
    pbft *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return WITAN_ENOMEM;
    int rc = set_init(&r->set, cfg->validators, cfg->validator_count,
                      cfg->self);
    if (rc != 0 || memcmp(cfg->key->pub.bytes, cfg->validators[cfg->self].bytes,
                          WCRYPTO_ED25519_PUBKEY_SIZE) != 0) {
        free(r);
        return WITAN_ECONFIG;
    }
    if (cfg->prev_validators && cfg->prev_validator_count) {
        /* Its place there is where its key is: none when it was not a
         * member or its key was rotated since. */
        uint32_t prev_self = UINT32_MAX;
        for (uint32_t i = 0; i < cfg->prev_validator_count && i < VMAX; i++)
            if (memcmp(cfg->prev_validators[i].bytes, cfg->key->pub.bytes,
                       WCRYPTO_ED25519_PUBKEY_SIZE) == 0)
                prev_self = i;
        rc = set_init(&r->older[0], cfg->prev_validators,
                      cfg->prev_validator_count, prev_self);
        if (rc != 0) {
            free(r);
            return WITAN_ECONFIG;
        }
        r->older_count = 1;
        r->set_from = cfg->set_from;
    }
    strcpy(r->chain_id, cfg->chain_id);
    r->key = *cfg->key;
    r->L = L;
    r->K = K;
    r->W = W;
    r->view_timeout_ms = cfg->view_timeout_ms;
    r->view_timeout_max_ms = cfg->view_timeout_max_ms;
    r->retransmit_ms = cfg->retransmit_ms;
    r->state_block_count = cfg->state_block_count;
    r->scheme = cfg->sig_scheme;
    r->txs_root = cfg->txs_root;
    r->flags = cfg->test_flags;
    r->slots = calloc(W, sizeof(struct slot));
    /* Room for the window, the results headers refer to, and a full
     * state-transfer batch delivered before it is executed. */
    r->result_ring = W + 2 * L + 2 * K + WITAN_PBFT_STATE_BLOCK_COUNT_MAX;
    r->results = calloc(r->result_ring, sizeof(struct result));
    r->ck_ring = W / K + 2;
    r->cks = calloc(r->ck_ring, sizeof(struct ckentry));
    r->future = calloc(WITAN_PBFT_FUTURE_COUNT_MAX, sizeof(struct future));
    r->evidence = calloc(WITAN_PBFT_EVIDENCE_COUNT_MAX, sizeof(pbft_evidence));
    if (r->slots == NULL || r->results == NULL || r->cks == NULL ||
        r->future == NULL || r->evidence == NULL ||
        (rc = alloc_slots(r)) != 0) {
        pbft_free(r);
        return WITAN_ENOMEM;
    }
    /* Boot state. */
    r->delivered = r->executed = r->proposed = boot->height;
    r->last_nonempty = 0;
    memcpy(r->delivered_hash, boot->block_hash, WITAN_HASH_SIZE);
    r->delivered_time = boot->time_ms;
    r->hist = boot->history;
    for (uint32_t i = 0; i < boot->result_count; i++) {
        const pbft_result *b = &boot->results[i];
        struct result *x = &r->results[b->height % r->result_ring];
        x->height = b->height;
        x->executed = true;
        memcpy(x->block_hash, b->block_hash, WITAN_HASH_SIZE);
        memcpy(x->state_root, b->state_root, WITAN_HASH_SIZE);
        memcpy(x->receipts_root, b->receipts_root, WITAN_HASH_SIZE);
        x->time_ms = b->time_ms;
        x->cert = b->cert;
    }
    /* The last L blocks may carry transactions whose results still need
     * certifying by empty blocks. */
    r->last_nonempty = boot->height;
    if (boot->stable_height > 0) {
        buf proof[VMAX] = {{0}};
        uint32_t c = 0;
        for (uint32_t i = 0; i < boot->stable_proof_count && i < VMAX; i++) {
            proof[c].data = (uint8_t *)boot->stable_proof[i].data;
            proof[c].size = boot->stable_proof[i].size;
            c++;
        }
        r->restoring = true;
        rc = make_stable(r, boot->stable_height, boot->stable_state_root, proof,
                         c);
        r->restoring = false;
        r->action_count = 0; /* the node already knows its checkpoint */
        pbft_advance(r);
        if (rc != 0) {
            pbft_free(r);
            return rc;
        }
    }
    r->restoring = true;
    for (size_t i = 0; i < boot->record_count && rc == 0; i++)
        rc = restore_record(r, boot->records[i].data, boot->records[i].size);
    r->restoring = false;
    if (rc != 0) {
        pbft_free(r);
        return rc;
    }
    /* The checkpoint at or below the last block executed, when that
     * block's results are at hand and it is not below the stable one: its
     * Checkpoint is signed again and resent each tick, as after executing
     * it. A replica that executed a switch's last height and restarted in
     * the new set sends nothing else under the old one, and peers that lag
     * behind the switch may need it for the old set's quorum (spec/
     * consensus.md, "State transfer"). */
    uint64_t ck = boot->height - boot->height % K;
    if (ck > 0 && ck >= r->low && boot->height - ck < boot->result_count) {
        const struct result *x = &r->results[ck % r->result_ring];
        const struct vset *vs;
        rc = own_checkpoint(r, ck, x->state_root, &vs);
        if (rc == 0 && vs == &r->set && ck > r->low)
            rc = ck_vote(r, r->set.self, ck, x->state_root, r->own_ck.data,
                         r->own_ck.size);
        if (rc != 0) {
            pbft_free(r);
            return rc;
        }
    }
    /* The boot rule (spec/consensus.md). A lone validator has no one to
     * contradict. */
    if (r->restored_own && !boot->clean_stop && r->set.n > 1 &&
        !(r->flags & PBFT_TEST_NO_BOOT_MUTE)) {
        r->mute_view = r->view;
        r->mute_height = r->low + r->W;
    }
    /* Actions from the replay (a new view's VALIDATEs) stay; sends were
     * suppressed and are retransmitted by the timer. */
    if ((rc = emit_timer(r, PBFT_TIMER_RETRANSMIT, r->retransmit_ms)) != 0 ||
        (rc = arm_vc_timer(r)) != 0) {
        pbft_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void pbft_free(pbft *r)
{
    if (r == NULL)
        return;
    if (r->slots != NULL)
        free_slots(r);
    free(r->slots);
    free(r->results);
    if (r->cks != NULL)
        for (uint32_t i = 0; i < r->ck_ring; i++)
            ck_entry_clear(&r->cks[i]);
    free(r->cks);
    for (uint32_t i = 0; i < VMAX; i++) {
        for (int k = 0; k < VC_PER_SENDER; k++)
            buf_free(&r->vc_raw[i][k]);
        buf_free(&r->ck_latest[i].raw);
    }
    buf_free(&r->own_vc);
    for (uint32_t i = 0; i < VMAX; i++)
        buf_free(&r->susp_raw[i]);
    buf_free(&r->own_vc_prev);
    buf_free(&r->own_nv);
    buf_free(&r->view_nv);
    buf_free(&r->own_ck);
    st_release(r);
    for (uint32_t i = 0; i < r->stable_proof_count; i++)
        buf_free(&r->stable_proof[i]);
    free(r->stable_proof);
    if (r->future != NULL)
        for (uint32_t i = 0; i < r->future_count; i++)
            buf_free(&r->future[i].raw);
    free(r->future);
    if (r->evidence != NULL)
        for (size_t i = 0; i < r->evidence_stored; i++) {
            free((void *)r->evidence[i].first.data);
            free((void *)r->evidence[i].second.data);
        }
    free(r->evidence);
    pbft_advance(r);
    free(r->actions);
    free(r->scratch);
    wcrypto_keypair_wipe(&r->key);
    wcrypto_keypair_wipe(&r->next_key);
    free(r);
}

void pbft_get_stats(const pbft *r, pbft_stats *out)
{
    *out = r->stats;
}

uint64_t pbft_view(const pbft *r)
{
    return r->view;
}

bool pbft_boot_muted(const pbft *r)
{
    return muted(r, r->delivered + 1);
}

uint64_t pbft_boot_mute_height(const pbft *r)
{
    return r->mute_height;
}

bool pbft_in_view_change(const pbft *r)
{
    return r->vc_active;
}

uint64_t pbft_delivered_height(const pbft *r)
{
    return r->delivered;
}

int pbft_block_at(const pbft *r, uint64_t height, pbft_bytes *out)
{
    if (height <= r->low || height > r->low + r->W)
        return WITAN_ENOTFOUND;
    const struct slot *s = &r->slots[height % r->W];
    if (s->height != height || !s->has_pp)
        return WITAN_ENOTFOUND;
    out->data = s->block.data;
    out->size = s->block.size;
    return WITAN_OK;
}

uint64_t pbft_peer_delivered_height(const pbft *r, uint64_t *status_count)
{
    *status_count = r->peer_status_count;
    return r->peer_delivered_max;
}

uint64_t pbft_stable_height(const pbft *r)
{
    return r->low;
}

bool pbft_halted(const pbft *r)
{
    return r->halted;
}

size_t pbft_evidence_count(const pbft *r)
{
    return r->evidence_stored;
}

const pbft_evidence *pbft_evidence_at(const pbft *r, size_t index)
{
    return index < r->evidence_stored ? &r->evidence[index] : NULL;
}
