/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A validator among others: the ledger as the application of the consensus
 * driver (node/driver.c over the links of node/mesh.c).
 *
 * The driver carries out the PBFT core's actions; this file says what
 * blocks mean here: a proposal is a selection from the mempool, a proposal
 * is valid when its transactions decode, are signed and were not committed
 * before, a committed block is applied by ledger/, and a peer that fell
 * behind is sent certified blocks from the store. Consensus records go to
 * the ledger's own LMDB environment, synced. Between validators, besides
 * consensus messages, a frame may carry a batch of admitted client
 * transactions (NODE_FRAME_TXS), relayed so that every validator can
 * propose them. Client requests are served from the loop, between rounds of
 * consensus.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "consensus/consensus.h"
#include "node/internal.h"
#include "spec/consensus.pb-c.h"

#define REPLICA_VALIDATED_RING 16
#define REPLICA_RETRANSMIT_MS 500
#define REPLICA_STATE_BLOCK_COUNT 32
/* Following the chain from sync_from: how long one block request may take,
 * and the pause before asking again for a block not there yet. */
#define REPLICA_SYNC_TIMEOUT_MS 5000
#define REPLICA_SYNC_WAIT_MS 200
/* Requests forwarded at most, per view timer: a full block's worth. */
#define REPLICA_FORWARD_COUNT_MAX 4096

struct replica {
    struct node_mesh *mesh;
    struct node_driver *driver;
    char log_path[NODE_RECORDS_PATH_MAX]; /* the consensus-record log */
    /* Validator-set changes (spec/governance.md section 7): the first
     * height of the change handed to the core, and of the set the mesh is
     * linked for. */
    uint64_t handed_from, linked_from;
    uint8_t validated[REPLICA_VALIDATED_RING][WITAN_HASH_SIZE];
    uint32_t validated_next;
    /* This node's last proposals, by height modulo the ring: their
     * transactions' pool entries say so (mempool `proposed`), so a block
     * in flight that is one of them needs no decoding when the next is
     * built. */
    struct built {
        uint64_t height;
        uint8_t txs_root[WITAN_HASH_SIZE];
    } built[WITAN_PIPELINE_DEPTH_MAX];
    struct delivery *delivering; /* the block deliver() applies, or NULL */
    /* The transactions of the last proposal this node judged valid that
     * its pool did not hold, so their signatures were checked then: by
     * hash, with their exact bytes, until a block at that height commits.
     * A relayed copy that comes after the proposal is not checked again
     * (replica_vouched). `judging` collects them during the judgement. */
    struct vouched {
        uint64_t height;
        size_t count, cap;
        struct vouched_tx {
            uint8_t hash[WITAN_HASH_SIZE];
            uint8_t *bytes;
            size_t size;
        } *txs;
    } vouched, judging;
};

/* A committed block on its way through deliver(): what the pool and the
 * metrics learn of it once it is executed (settle_pool). */
struct delivery {
    const Witan__Block *b;
    uint64_t height;
    int64_t commit_us; /* when the core delivered it */
    uint8_t (*hashes)[WITAN_HASH_SIZE];
    bool *held; /* the pool held transaction i */
    struct ledger_tx *given; /* its decoded form, taken from the pool */
    struct node_drop *drops;
    size_t drop_count;
    bool settled;
};

/* --- helpers ------------------------------------------------------------------ */

/* The address of validator v: a `peers` entry NAME=URL naming it, else
 * the entry at the place of the genesis validator with its key or its
 * name (a rotated key keeps its validator's address). NULL when none. */
static const char *peer_url(const struct node *n, const Witan__Validator *v)
{
    const struct node_config *c = n->cfg;
    size_t len = strlen(v->name);
    for (uint32_t i = 0; i < c->peer_count; i++)
        if (node_peer_named(c->peers[i]) &&
            strncmp(c->peers[i], v->name, len) == 0 && c->peers[i][len] == '=')
            return c->peers[i] + len + 1;
    const Witan__Genesis *g = n->genesis;
    for (size_t j = 0; j < g->n_validators && j < c->peer_count; j++)
        if ((g->validators[j]->pubkey.len == v->pubkey.len &&
             memcmp(g->validators[j]->pubkey.data, v->pubkey.data,
                    v->pubkey.len) == 0) ||
            strcmp(g->validators[j]->name, v->name) == 0)
            return node_peer_named(c->peers[j]) ? NULL : c->peers[j];
    return NULL;
}

/* Reads DIR/validator.next.key when the node holds no next key yet: the
 * operator may put it there while the node runs, any time before the
 * change's boundary. Absent is no error. */
static int next_key_read(struct node *n)
{
    if (n->has_next_key)
        return WITAN_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/validator.next.key", n->home);
    if (access(path, F_OK) != 0)
        return WITAN_OK;
    int err = node_validator_key_read(path, "next validator key", &n->next_key);
    n->has_next_key = err == WITAN_OK;
    return err;
}

/* The keys of set vs, in its order. */
static int set_parse(const Witan__ValidatorSet *vs, wcrypto_pubkey *keys)
{
    if (vs->n_validators == 0 || vs->n_validators > WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_EDBCORRUPT;
    for (size_t i = 0; i < vs->n_validators; i++) {
        const Witan__Validator *v = vs->validators[i];
        int err = wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, v->pubkey.data,
                                       v->pubkey.len, &keys[i]);
        if (err)
            return err;
    }
    return WITAN_OK;
}

/* The place of `pub` among n keys; UINT32_MAX: none. */
static uint32_t key_place(const wcrypto_pubkey *keys, size_t n,
                          const wcrypto_pubkey *pub)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(keys[i].bytes, pub->bytes, WCRYPTO_ED25519_PUBKEY_SIZE) ==
            0)
            return (uint32_t)i;
    return UINT32_MAX;
}

/* The keys of set vs, and this node's index in it (UINT32_MAX: none):
 * the place of its key, or else of its next key (validator.next.key), and
 * then *rotated says so. */
static int set_keys(const struct node *n, const Witan__ValidatorSet *vs,
                    wcrypto_pubkey *keys, uint32_t *self, bool *rotated)
{
    *self = UINT32_MAX;
    *rotated = false;
    int err = set_parse(vs, keys);
    if (err)
        return err;
    *self = key_place(keys, vs->n_validators, &n->key.pub);
    if (*self == UINT32_MAX && n->has_next_key) {
        *self = key_place(keys, vs->n_validators, &n->next_key.pub);
        *rotated = *self != UINT32_MAX;
    }
    return WITAN_OK;
}

/* The rotation is in force: the node signs with its next key from now on
 * (links, heads), as the core does since its switch; the old one is
 * wiped. The files stay as they are, and a restart picks the key the set
 * in force holds. */
static int take_next_key(struct node *n, uint64_t from)
{
    /* Its consensus records are this validator's own still (at a start,
     * before the driver opens them). */
    struct replica *r = n->replica;
    int err = r->driver ? node_driver_records_rekey(r->driver, &n->key.pub,
                                                    &n->next_key.pub)
                        : node_records_rekey_file(r->log_path, &n->key.pub,
                                                  &n->next_key.pub);
    if (err) {
        WITAN_ERROR("node", "cannot hand the consensus records to the next "
                            "key: %s",
                    witan_err_message(err));
        return err;
    }
    wcrypto_keypair_wipe(&n->key);
    n->key = n->next_key;
    wcrypto_keypair_wipe(&n->next_key);
    n->has_next_key = false;
    witan_log_event(WITAN_LOG_INFO, "node", "validator key rotated",
                    "from_height=%llu key=validator.next.key",
                    (unsigned long long)from);
    WITAN_INFO("node", "this validator signs with validator.next.key from "
                       "height %llu on; move it to validator.key before the "
                       "next rotation, and retire the old key",
               (unsigned long long)from);
    return WITAN_OK;
}

/* The mesh of set vs with this node at `self`. */
static int mesh_config(struct node *n, const Witan__ValidatorSet *vs,
                       const wcrypto_pubkey *keys, uint32_t self,
                       struct node_mesh_config *mc);

/* The mesh's places in set vs, where this node holds `key`
 * (node_mesh_places): peers across a switch are heard and answered. Not
 * fatal: without them such a peer is heard once both sides switched. */
static void link_places(struct node *n, int slot, const Witan__ValidatorSet *vs,
                        const wcrypto_keypair *key)
{
    struct replica *r = n->replica;
    if (!r || !r->mesh)
        return;
    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
    struct node_mesh_config mc;
    memset(&mc, 0, sizeof mc);
    int err = set_parse(vs, keys);
    if (!err) {
        mc.self = key_place(keys, vs->n_validators, &key->pub);
        mc.validator_count = (uint32_t)vs->n_validators;
        mc.key = key;
        mc.validators = keys;
        mc.chain_id = n->genesis->chain_id;
        err = node_mesh_places(r->mesh, slot, &mc);
    }
    if (err)
        WITAN_WARN("node", "peers addressing this node by the validator set "
                           "from height %llu are not heard until they "
                           "switch: %s",
                   (unsigned long long)vs->first_height,
                   witan_err_name(err));
}

/* After each executed block: a change the ledger stored for a later
 * height goes to the core as soon as it holds no other, which is always
 * before anything at its first height is proposed (governance.md
 * section 7). */
static int hand_change(struct node *n)
{
    struct replica *r = n->replica;
    if (!r || !r->driver || pbft_change_pending(node_driver_core(r->driver)))
        return WITAN_OK;
    /* The next change, not the newest: two may be stored (K ≤ L), and
     * the core takes them in order. */
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    Witan__ValidatorSet *vs;
    int err = ledger_validator_set_after(n->l, tip.height + 1, &vs);
    if (err == WITAN_ENOTFOUND)
        return WITAN_OK;
    if (err)
        return err;
    if (vs->first_height != r->handed_from) {
        wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
        uint32_t self;
        bool rotated;
        err = next_key_read(n);
        if (!err)
            err = set_keys(n, vs, keys, &self, &rotated);
        if (!err && self == UINT32_MAX)
            WITAN_WARN("node", "this validator's key is not in the validator "
                               "set from height %llu: unless it was removed, "
                               "put its rotated key in validator.next.key "
                               "before then, or it stops there",
                       (unsigned long long)vs->first_height);
        if (!err)
            err = node_driver_set_validators(r->driver, vs->first_height, keys,
                                             (uint32_t)vs->n_validators, self,
                                             rotated ? &n->next_key : NULL);
        if (!err) {
            link_places(n, NODE_MESH_PENDING, vs,
                        rotated ? &n->next_key : &n->key);
            r->handed_from = vs->first_height;
            witan_log_event(WITAN_LOG_INFO, "node", "validator set change",
                            "from_height=%llu validators=%zu member=%s",
                            (unsigned long long)vs->first_height,
                            vs->n_validators,
                            self == UINT32_MAX ? "no"
                            : rotated          ? "yes, with its next key"
                                               : "yes");
        } else {
            WITAN_ERROR("node", "the validator set from height %llu cannot "
                                "be handed to consensus: %s",
                        (unsigned long long)vs->first_height,
                        witan_err_name(err));
        }
    }
    witan__validator_set__free_unpacked(vs, NULL);
    return err;
}

bool replica_peer_key(struct node *n, uint32_t index,
                      uint8_t key[WCRYPTO_ED25519_PUBKEY_SIZE])
{
    struct replica *r = n->replica;
    Witan__ValidatorSet *vs;
    if (!r || ledger_validator_set(n->l, r->linked_from ? r->linked_from : 1,
                                   &vs))
        return false;
    bool ok = index < vs->n_validators &&
              vs->validators[index]->pubkey.len == WCRYPTO_ED25519_PUBKEY_SIZE;
    if (ok)
        memcpy(key, vs->validators[index]->pubkey.data,
               WCRYPTO_ED25519_PUBKEY_SIZE);
    witan__validator_set__free_unpacked(vs, NULL);
    return ok;
}

/* Once a round: when the core has switched sets, the mesh follows; a
 * validator no longer in the set stops. */
static int follow_set(struct node *n)
{
    struct replica *r = n->replica;
    const pbft *core = node_driver_core(r->driver);
    uint64_t from = pbft_set_from(core);
    if (from == r->linked_from)
        return WITAN_OK;
    if (!pbft_is_member(core)) {
        WITAN_ERROR("node", "this validator's key is not in the validator "
                            "set in force from height %llu: it no longer "
                            "validates, and stops",
                    (unsigned long long)from);
        return WITAN_ESTATE;
    }
    Witan__ValidatorSet *vs;
    int err = ledger_validator_set(n->l, from, &vs);
    if (err)
        return err;
    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
    uint32_t self;
    bool rotated;
    struct node_mesh_config mc;
    err = set_keys(n, vs, keys, &self, &rotated);
    if (!err && self == UINT32_MAX)
        err = WITAN_ESTATE;
    /* The key this node held in the set before, for its places there. */
    wcrypto_keypair before = n->key;
    if (!err && rotated)
        err = take_next_key(n, from);
    if (!err)
        err = mesh_config(n, vs, keys, self, &mc);
    if (!err)
        err = node_mesh_relink(r->mesh, &mc);
    Witan__ValidatorSet *prev = NULL;
    if (!err && ledger_validator_set(n->l, from - 1, &prev) == WITAN_OK) {
        link_places(n, NODE_MESH_PREVIOUS, prev, &before);
        witan__validator_set__free_unpacked(prev, NULL);
    }
    wcrypto_keypair_wipe(&before);
    if (!err) {
        n->validator_index = self;
        r->linked_from = from;
        witan_log_event(WITAN_LOG_INFO, "node", "validator set in force",
                        "from_height=%llu validators=%zu index=%u",
                        (unsigned long long)from, vs->n_validators, self);
    } else {
        WITAN_ERROR("node", "cannot link to the validator set from height "
                            "%llu: %s",
                    (unsigned long long)from, witan_err_name(err));
    }
    witan__validator_set__free_unpacked(vs, NULL);
    return err;
}

static bool was_validated(struct replica *r,
                          const uint8_t hash[WITAN_HASH_SIZE])
{
    for (size_t i = 0; i < REPLICA_VALIDATED_RING; i++)
        if (memcmp(r->validated[i], hash, WITAN_HASH_SIZE) == 0)
            return true;
    return false;
}

static void vouched_clear(struct vouched *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->txs[i].bytes);
    free(v->txs);
    memset(v, 0, sizeof *v);
}

static int vouched_cmp(const void *a, const void *b)
{
    return memcmp(((const struct vouched_tx *)a)->hash,
                  ((const struct vouched_tx *)b)->hash, WITAN_HASH_SIZE);
}

/* An envelope byte for byte in the pool was checked in full on admission.
 * One that is not will be checked by the judgement: noted, to be vouched
 * for if the proposal passes (out of memory, it is simply not noted). */
static bool pool_checked(void *ctx, const uint8_t *env, size_t size,
                         uint8_t hash[WITAN_HASH_SIZE])
{
    struct node *n = ctx;
    if (ledger_envelope_tx_hash(env, size, hash) != 0)
        return false;
    if (mempool_holds_bytes(&n->pool, hash, env, size))
        return true;
    struct vouched *j = &n->replica->judging;
    if (j->count == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 64;
        struct vouched_tx *t = realloc(j->txs, cap * sizeof *t);
        if (!t)
            return false;
        j->txs = t;
        j->cap = cap;
    }
    struct vouched_tx *t = &j->txs[j->count];
    if (!(t->bytes = malloc(size ? size : 1)))
        return false;
    memcpy(t->bytes, env, size);
    memcpy(t->hash, hash, WITAN_HASH_SIZE);
    t->size = size;
    j->count++;
    return false;
}

bool replica_vouched(const struct node *n,
                     const uint8_t hash[WITAN_HASH_SIZE], const uint8_t *env,
                     size_t size)
{
    const struct vouched *v = n->replica ? &n->replica->vouched : NULL;
    if (!v || !v->count)
        return false;
    struct vouched_tx key;
    memcpy(key.hash, hash, WITAN_HASH_SIZE);
    const struct vouched_tx *t =
        bsearch(&key, v->txs, v->count, sizeof *v->txs, vouched_cmp);
    return t && t->size == size && memcmp(t->bytes, env, size) == 0;
}

/* Judges a proposal with the ledger's one validity function; the core asks
 * only once the block before has executed, so the ledger's tip is the
 * block's parent and this is all its apply will check before executing. */
static bool validate(void *ctx, const pbft_action *a)
{
    struct node *n = ctx;
    node_metrics_proposal(n, a->height);
    const struct ledger_check_opts opts = {
        .verify_signatures = true, .checked = pool_checked, .ctx = n};
    char why[LEDGER_WHY_SIZE];
    struct replica *r = n->replica;
    WITAN_ASSERT(r->judging.count == 0); /* emptied after each judgement */
    int err = ledger_block_check(n->l, a->data.data, a->data.size, &opts, why,
                                 sizeof why);
    if (!err) { /* what the pool did not hold was checked just now */
        vouched_clear(&r->vouched);
        r->vouched = r->judging;
        r->vouched.height = a->height;
        memset(&r->judging, 0, sizeof r->judging);
        if (r->vouched.count) /* txs is NULL when none */
            qsort(r->vouched.txs, r->vouched.count, sizeof *r->vouched.txs,
                  vouched_cmp);
    }
    vouched_clear(&r->judging);
    if (err) {
        WITAN_WARN("node", "proposal %llu refused: %s (%s)",
                   (unsigned long long)a->height, why, witan_err_name(err));
        return false;
    }
    memcpy(r->validated[r->validated_next++ % REPLICA_VALIDATED_RING],
           a->block_hash, WITAN_HASH_SIZE);
    return true;
}

/* Marks for removal the pooled transactions whose nonce a transaction of
 * committed block b took (another transaction, since the pool holds one per
 * nonce) and lists them in drops (b->n_txs of room). Only a block
 * transaction the pool does not hold (held_by_pool[i] false) can displace
 * one, so the usual block costs nothing here. */
static size_t displaced(struct node *n, const Witan__Block *b,
                        const bool *held_by_pool, struct node_drop *drops)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n_txs; i++) {
        const ProtobufCBinaryData *env = &b->txs[i];
        if (held_by_pool[i])
            continue;
        struct ledger_tx tx;
        char why[LEDGER_WHY_SIZE];
        if (ledger_tx_decode(n->l, env->data, env->len, false, &tx, why,
                             sizeof why) != 0)
            continue; /* executed as a failed transaction; takes no nonce */
        const struct ledger_tx *held =
            mempool_find_nonce(&n->pool, tx.sender, tx.nonce);
        if (held && memcmp(held->hash, tx.hash, WITAN_HASH_SIZE) != 0) {
            memcpy(drops[k].hash, held->hash, WITAN_HASH_SIZE);
            memcpy(drops[k].by, tx.hash, WITAN_HASH_SIZE);
            mempool_mark(&n->pool, held->hash);
            WITAN_INFO("node", "pooled transaction dropped: its nonce %llu "
                               "was taken by a committed one",
                       (unsigned long long)tx.nonce);
            k++;
        }
        ledger_tx_release(&tx);
    }
    return k;
}


/* The operator's line for each block this node commits (spec/node.md,
 * "Logs"): height, transactions (and how many applied without error),
 * the proposer's time, the view and the proposer. */
static void log_committed(const Witan__Block *b,
                          const struct ledger_apply_stats *stats)
{
    Witan__BlockHeader *h = witan_unpack_or_null(
        &witan__block_header__descriptor, b->header.data, b->header.len);
    if (!h)
        return; /* applied, so it decodes; never worth failing a block */
    time_t secs = (time_t)(h->time_ms / 1000);
    struct tm tm;
    char when[48] = "?";
    if (h->time_ms >= 0 && gmtime_r(&secs, &tm))
        snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(h->time_ms % 1000));
    witan_log_event(WITAN_LOG_INFO, "node", "block committed",
                    "height=%llu txs=%u ok=%u block_time=%s view=%llu "
                    "proposer=%u",
                    (unsigned long long)h->height, stats->tx_count,
                    stats->ok_count, when, (unsigned long long)h->view,
                    h->proposer);
    witan__block_header__free_unpacked(h, NULL);
}
/* The round's answers on the stream API go out: one write a stream. */
static void flush_answers(void *ctx)
{
    struct node *n = ctx;
    if (n->streams)
        node_links_flush(n->streams);
}

/* The pool and the metrics learn of an executed block: its transactions
 * leave the pool, with the pooled ones whose nonces it took. Once a block:
 * from replica_executed, before the ledger's commit syncs it, or after the
 * commit when the ledger does not call that. */
static void settle_pool(struct node *n, struct delivery *dv)
{
    if (dv->settled)
        return;
    dv->settled = true;
    const Witan__Block *b = dv->b;
    /* Timed from their admission, which the pool keeps until below. */
    node_metrics_commit_hashes(n, dv->height, dv->commit_us,
                               node_monotonic_us(),
                               (const uint8_t(*)[WITAN_HASH_SIZE])dv->hashes,
                               b->n_txs);
    for (size_t i = 0; i < b->n_txs; i++)
        mempool_mark(&n->pool, dv->hashes[i]);
    dv->drop_count = displaced(n, b, dv->held, dv->drops);
    mempool_remove_selected(&n->pool);
    /* Left in the pool: proposals of this node at this height or below
     * that lost to another block. */
    mempool_unpropose(&n->pool, 0, dv->height);
}

void replica_executed(void *ctx)
{
    struct node *n = ctx;
    if (n->replica && n->replica->delivering)
        settle_pool(n, n->replica->delivering);
    /* Clients following the chain hear of the block now. It is durable
     * already: this node's records hold its commit (spec/state.md,
     * "Durability"). Every later request is served after the commit. */
    node_status_wake(n);
    flush_answers(n);
}

/* Executes a committed block and takes its transactions out of the pool. */
static int deliver(void *ctx, const pbft_action *a,
                   uint8_t state_root[WITAN_HASH_SIZE],
                   uint8_t receipts_root[WITAN_HASH_SIZE])
{
    struct node *n = ctx;
    struct replica *r = n->replica;
    struct delivery dv = {.height = a->height,
                          .commit_us = node_monotonic_us()};
    Witan__Block *b = witan_unpack_or_null(&witan__block__descriptor,
                                           a->data.data, a->data.size);
    if (!b)
        return WITAN_EDECODE; /* certified, so the core checked it decodes */
    dv.b = b;
    /* Envelopes this node admitted had their signatures checked then, and
     * so had those of a proposal it validated: only a block with others
     * (state transfer, a foreign proposal) is checked again. */
    bool all_known = true;
    size_t slots = b->n_txs ? b->n_txs : 1;
    dv.hashes = calloc(slots, WITAN_HASH_SIZE);
    dv.drops = calloc(slots, sizeof *dv.drops);
    dv.held = calloc(slots, sizeof *dv.held);
    dv.given = calloc(slots, sizeof *dv.given);
    if (!dv.hashes || !dv.drops || !dv.held || !dv.given) {
        free(dv.hashes);
        free(dv.drops);
        free(dv.held);
        free(dv.given);
        witan__block__free_unpacked(b, NULL);
        return WITAN_ENOMEM;
    }
    /* What the pool holds decoded executes as it is: those bytes exactly
     * were decoded and checked when admitted. */
    for (size_t i = 0; i < b->n_txs; i++) {
        dv.held[i] = mempool_holds(&n->pool, b->txs[i].data, b->txs[i].len,
                                   dv.hashes[i]);
        if (dv.held[i])
            mempool_take_decoded(&n->pool, dv.hashes[i], &dv.given[i]);
        all_known = all_known && dv.held[i];
    }
    bool verify = !all_known && !was_validated(r, a->block_hash);

    uint8_t *cert_bytes;
    size_t cert_size;
    int err = pbft_cert_encode(a->cert, &cert_bytes, &cert_size);
    Witan__CommitCertificate *cert = NULL;
    if (!err) {
        cert = witan_unpack_or_null(&witan__commit_certificate__descriptor,
                                    cert_bytes, cert_size);
        free(cert_bytes);
        if (!cert)
            err = WITAN_ENOMEM;
    }
    struct ledger_apply_stats stats;
    char why[LEDGER_WHY_SIZE];
    /* The core built or checked the certificate, every signature of it,
     * on this node: the ledger does not check them a second time. */
    if (!err && ledger_cert_vouch(n->l, cert, a->height) != 0)
        WITAN_DEBUG("node", "certificate of block %llu not vouched for: "
                            "the ledger checks it",
                    (unsigned long long)a->height);
    if (!err) {
        r->delivering = &dv;
        err = ledger_block_apply(n->l, a->data.data, a->data.size, cert,
                                 verify, dv.given, &stats, why, sizeof why);
        r->delivering = NULL;
        if (err)
            WITAN_ERROR("node",
                        "committed block %llu cannot be executed: %s (%s); "
                        "stopping rather than diverge",
                        (unsigned long long)a->height, why,
                        witan_err_name(err));
    }
    if (cert)
        witan__commit_certificate__free_unpacked(cert, NULL);
    if (!err) {
        settle_pool(n, &dv);
        int derr = node_drops_record(ledger_store(n->l), NODE_DROPS_COUNT_MAX,
                                     dv.drops, dv.drop_count);
        if (derr)
            WITAN_WARN("node", "%zu dropped transactions not remembered: %s",
                       dv.drop_count, witan_err_message(derr));
        if (stats.ok_count != stats.tx_count)
            mempool_drop_stale(&n->pool, n->l);
        log_committed(b, &stats);
    }
    for (size_t i = 0; i < b->n_txs; i++)
        ledger_tx_release(&dv.given[i]);
    /* Committed now, or another block took the height: a relayed copy is
     * known to the chain, or was never checked here. */
    if (r->vouched.height <= a->height)
        vouched_clear(&r->vouched);
    free(dv.hashes);
    free(dv.drops);
    free(dv.held);
    free(dv.given);
    witan__block__free_unpacked(b, NULL);
    if (err)
        return err;
    /* Held requests the ledger could not answer before its commit (the
     * validator set turned) are answered now. */
    node_status_wake(n);
    node_heads_executed(n, a->height);
    node_metrics_log_refusals(&n->metrics);
    err = hand_change(n);
    if (err)
        return err;
    memcpy(state_root, stats.state_root, WITAN_HASH_SIZE);
    memcpy(receipts_root, stats.receipts_root, WITAN_HASH_SIZE);
    return WITAN_OK;
}

/* --- answers ----------------------------------------------------------------- */

#ifdef WITAN_TEST_MUTATE
/*
 * Test builds only (build/test-bin/witand-mutant, never installed): this
 * node, as primary, corrupts its proposals as the WITAN_MUTATE environment
 * variable names, so that tests/node/test_byzantine.c can show the other
 * validators refuse them, change view away from it and lose nothing:
 *   txs-root       a transactions root that is not the list's
 *   bad-signature  the first envelope's last byte (its signature) flipped
 *   duplicate      the first transaction twice
 *   committed      from the second proposal on, the first proposal's first
 *                  transaction again (committed by then)
 *   relay-late     not a corruption: the batches it admits are relayed only
 *                  after its next proposal has gone out, so that the others
 *                  judge that proposal first (tests/node/test_byzantine.c:
 *                  none checks a signature twice)
 * The list's root is computed after the change unless the root is what is
 * mutated, so each proposal breaks exactly one rule.
 */
static uint8_t *mutant_bytes;
static size_t mutant_size;
/* relay-late: the packed batches held back, and whether a proposal went
 * out since. */
static struct {
    uint8_t *buf[64];
    size_t size[64];
    int count;
    bool proposed;
} late;

static bool relay_late(void)
{
    const char *m = getenv("WITAN_MUTATE");
    return m && strcmp(m, "relay-late") == 0;
}

/* At the end of a round (settle): the held batches go out after the
 * proposal, on the same links. */
static void relay_late_send(struct node *n)
{
    if (!late.proposed || !late.count || !n->replica || !n->replica->mesh)
        return;
    for (int i = 0; i < late.count; i++) {
        node_mesh_send(n->replica->mesh, PBFT_TO_ALL, NODE_FRAME_TXS,
                       late.buf[i], late.size[i]);
        free(late.buf[i]);
    }
    late.count = 0;
    late.proposed = false;
}
static void mutate(pbft_bytes *txs, size_t *count, uint8_t **scratch)
{
    const char *m = getenv("WITAN_MUTATE");
    if (!m || *count == 0)
        return;
    if (strcmp(m, "bad-signature") == 0) {
        *scratch = malloc(txs[0].size);
        if (!*scratch)
            return;
        memcpy(*scratch, txs[0].data, txs[0].size);
        (*scratch)[txs[0].size - 1] ^= 0x01;
        txs[0].data = *scratch;
    } else if (strcmp(m, "duplicate") == 0) {
        txs[(*count)++] = txs[0];
    } else if (strcmp(m, "committed") == 0) {
        if (mutant_bytes) {
            txs[(*count)++] = (pbft_bytes){mutant_bytes, mutant_size};
        } else if ((mutant_bytes = malloc(txs[0].size)) != NULL) {
            memcpy(mutant_bytes, txs[0].data, txs[0].size);
            mutant_size = txs[0].size;
        }
    }
}
#endif

/* The pooled transactions a block in flight holds, or whose nonce it
 * takes, are held out of the next selection. */
static void hold_block(struct node *n, const Witan__Block *b)
{
    for (size_t i = 0; i < b->n_txs; i++) {
        const ProtobufCBinaryData *env = &b->txs[i];
        uint8_t hash[WITAN_HASH_SIZE];
        const struct ledger_tx *held = NULL;
        struct ledger_tx tx;
        char why[LEDGER_WHY_SIZE];
        if (mempool_holds(&n->pool, env->data, env->len, hash)) {
            held = mempool_find(&n->pool, hash);
        } else if (ledger_tx_decode(n->l, env->data, env->len, false, &tx,
                                    why, sizeof why) == 0) {
            held = mempool_find_nonce(&n->pool, tx.sender, tx.nonce);
            ledger_tx_release(&tx);
        }
        if (held)
            mempool_hold(&n->pool, held);
    }
}

/* Pipelining (L > 1): blocks tip + 1 … height − 1 are in flight, not yet
 * executed. Block `height` must not repeat their transactions (a backup
 * judges it once they are committed) and each sender's nonces go on past
 * them. This node's own proposals are known by their pool entries; any
 * other block in flight (a new view's) is read. */
static void hold_in_flight(struct node *n, struct node_driver *d,
                           uint64_t tip, uint64_t height)
{
    struct replica *r = n->replica;
    for (uint64_t k = tip + 1; k < height; k++) {
        pbft_bytes bytes;
        Witan__Block *b = NULL;
        Witan__BlockHeader *h = NULL;
        char why[LEDGER_WHY_SIZE];
        if (pbft_block_at(node_driver_core(d), k, &bytes) != 0 ||
            pbft_block_decode(bytes.data, bytes.size, &b, &h, why,
                              sizeof why) != 0) {
            /* The core builds h only when it holds every block below
             * (consensus.md); nothing to hold if it does not. */
            mempool_unpropose(&n->pool, k, k);
            continue;
        }
        const struct built *own =
            &r->built[k % WITAN_PIPELINE_DEPTH_MAX];
        if (own->height != k ||
            !(h->txs_root.len == WITAN_HASH_SIZE &&
              memcmp(h->txs_root.data, own->txs_root, WITAN_HASH_SIZE) == 0)) {
            mempool_unpropose(&n->pool, k, k);
            hold_block(n, b);
        }
        witan__block_header__free_unpacked(h, NULL);
        witan__block__free_unpacked(b, NULL);
    }
}

static int build(void *ctx, struct node_driver *d, uint64_t height)
{
    struct node *n = ctx;
    struct replica *r = n->replica;
    node_metrics_proposal(n, height);
    uint64_t tip = ledger_height(n->l);
    hold_in_flight(n, d, tip, height);
    if (height > tip + 1)
        WITAN_DEBUG("node", "building block %llu with %llu in flight",
                    (unsigned long long)height,
                    (unsigned long long)(height - tip - 1));
    /* The parameters in force for the block being built: governance may
     * have changed them at the last boundary (spec/governance.md). */
    const Witan__Params *params = ledger_params(n->l);
    size_t count = mempool_select(&n->pool, n->l, tip, height,
                                  params->block_tx_count_max,
                                  params->block_size_max - WITAN_HEADER_SIZE_MAX,
                                  n->selection);
    /* Removal happens when the block is delivered, by hash: a proposal that
     * never commits must leave the pool as it was, but for the note that
     * this proposal holds them while it is in flight. */
    mempool_propose_selected(&n->pool, height);
    mempool_clear_selection(&n->pool);
    /* One more slot than selected: room for a test build's mutation. */
    pbft_bytes *txs = calloc(count + 1, sizeof *txs);
    const uint8_t **ptrs = calloc(count + 1, sizeof *ptrs);
    size_t *sizes = calloc(count + 1, sizeof *sizes);
    int err = txs && ptrs && sizes ? WITAN_OK : WITAN_ENOMEM;
    for (size_t i = 0; !err && i < count; i++)
        txs[i] = (pbft_bytes){n->selection[i]->bytes, n->selection[i]->size};
#ifdef WITAN_TEST_MUTATE
    uint8_t *scratch = NULL;
    if (!err)
        mutate(txs, &count, &scratch);
#endif
    for (size_t i = 0; !err && i < count; i++) {
        ptrs[i] = txs[i].data;
        sizes[i] = txs[i].size;
    }
    uint8_t root[WITAN_HASH_SIZE];
    if (!err)
        err = ledger_txs_root(ptrs, sizes, count, root);
#ifdef WITAN_TEST_MUTATE
    const char *m = getenv("WITAN_MUTATE");
    if (!err && count && m && strcmp(m, "txs-root") == 0)
        root[0] ^= 0x01;
#endif
    /* Block E of a change names the next set (the ledger stored it when
     * its boundary executed, at least L + 1 blocks before). */
    uint8_t next_vs[WITAN_HASH_SIZE];
    bool has_next = false;
    if (!err)
        err = ledger_next_validators_hash(n->l, height, &has_next, next_vs);
    if (!err) {
        r->built[height % WITAN_PIPELINE_DEPTH_MAX].height = height;
        memcpy(r->built[height % WITAN_PIPELINE_DEPTH_MAX].txs_root, root,
               WITAN_HASH_SIZE);
    }
    if (!err)
        err = node_driver_propose(d, height, node_wall_ms(), root, txs,
                                  (uint32_t)count, has_next ? next_vs : NULL);
#ifdef WITAN_TEST_MUTATE
    late.proposed = late.proposed || (!err && count > 0);
#endif
    free(txs);
    free(ptrs);
    free(sizes);
#ifdef WITAN_TEST_MUTATE
    free(scratch);
#endif
    return err;
}

static int read_blocks(void *ctx, struct node_driver *d, uint32_t peer,
                       uint64_t first, uint32_t count)
{
    struct node *n = ctx;
    if (count > REPLICA_STATE_BLOCK_COUNT)
        count = REPLICA_STATE_BLOCK_COUNT;
    pbft_certified_block blocks[REPLICA_STATE_BLOCK_COUNT];
    pbft_cert certs[REPLICA_STATE_BLOCK_COUNT];
    uint8_t *bytes[REPLICA_STATE_BLOCK_COUNT] = {NULL};
    memset(blocks, 0, sizeof blocks);
    uint32_t got = 0;
    for (; got < count; got++) {
        Witan__BlockResponse *b;
        if (ledger_get_block(n->l, first + got, &b) != 0)
            break;
        bool ok = b->cert && pbft_cert_from_proto(b->cert, &certs[got], NULL, 0) == 0;
        size_t size = ok ? witan__block__get_packed_size(b->block) : 0;
        bytes[got] = ok ? malloc(size) : NULL;
        if (bytes[got])
            witan__block__pack(b->block, bytes[got]);
        ledger_block_response_free(b);
        if (!bytes[got])
            break;
        blocks[got].block = (pbft_bytes){bytes[got], size};
        blocks[got].cert = &certs[got];
    }
    int err = node_driver_blocks_read(d, peer, blocks, got);
    for (uint32_t i = 0; i < got; i++)
        free(bytes[i]);
    return err;
}

/* What could be proposed: transactions behind a nonce gap would make empty
 * blocks, and on backups view changes against a primary that has nothing to
 * propose. One selectable transaction is enough to know (the first in
 * arrival order almost always is). */
static uint64_t waiting(void *ctx)
{
    struct node *n = ctx;
    uint64_t count = 0;
    if (n->pool.count > 0) {
        /* What this node's blocks in flight hold is spoken for. */
        count = mempool_select(&n->pool, n->l, ledger_height(n->l),
                               UINT64_MAX, 1,
                               SIZE_MAX, n->selection)
                    ? n->pool.count
                    : 0;
        mempool_clear_selection(&n->pool);
    }
    return count;
}

/* Up to `budget` requests of the stream API into the round (the round's
 * bound is shared with the socket). Returns how many were taken. */
static int take_streams(struct node *n, int budget)
{
    struct node_round *r = &n->round;
    int taken = 0;
    for (; taken < budget; taken++) {
        nng_msg *msg;
        uint64_t from;
        if (node_links_recv(n->streams, &msg, &from) != 0)
            break;
        size_t size = nng_msg_len(msg);
        if (size < NODE_STREAM_ID_SIZE) {
            nng_msg_free(msg); /* no id to answer to */
            continue;
        }
        const uint8_t *p = nng_msg_body(msg);
        uint64_t id = 0;
        for (int k = 0; k < NODE_STREAM_ID_SIZE; k++)
            id = id << 8 | p[k];
        size -= NODE_STREAM_ID_SIZE;
        Witan__Request *req =
            size > WITAN_CLIENT_REQUEST_SIZE_MAX
                ? NULL
                : witan_unpack_or_null(&witan__request__descriptor,
                                       p + NODE_STREAM_ID_SIZE, size);
        nng_msg_free(msg);
        r->streams[r->stream_count++] =
            (struct node_round_request){req, size, from, id};
    }
    return taken;
}

/* The envelopes a request submits, or none for one that will be refused
 * whole (over the batch bound: handle_submit says so). */
static size_t submitted(const Witan__Request *req)
{
    return req && req->kind_case == WITAN__REQUEST__KIND_SUBMIT &&
                   req->submit->n_envelopes <= WITAN_CLIENT_BATCH_COUNT_MAX
               ? req->submit->n_envelopes
               : 0;
}

static void gather(struct node_round *r, const Witan__Request *req)
{
    for (size_t e = 0; e < submitted(req); e++)
        r->envs[r->env_count++] = req->submit->envelopes[e];
}

/* Answers the round's requests in the order they came, with the verdicts
 * of its signatures (handle_submit, server.c, takes them in that order). */
static void answer_round(struct node *n)
{
    struct node_round *r = &n->round;
    if (r->txs) {
        n->presigned.txs = r->txs;
        n->presigned.count = r->env_count;
        n->presigned.next = 0;
    }
    if (r->sock_req)
        node_handle_decoded(n, r->sock_req, r->sock_size);
    for (int k = 0; k < r->stream_count; k++) {
        n->answer.on = true;
        n->answer.from = r->streams[k].from;
        n->answer.id = r->streams[k].id;
        node_handle_decoded(n, r->streams[k].req, r->streams[k].size);
        n->answer.on = false;
    }
    memset(&n->presigned, 0, sizeof n->presigned);
    /* What no request took (one that checked its own instead). */
    node_presigned_release(r->txs, r->env_count);
    free(r->envs);
    free(r->txs);
    memset(r, 0, sizeof *r);
}

/*
 * Client requests, at most a round's worth between rounds of consensus,
 * taken together: the signatures of all the transactions they submit are
 * checked at once on the pool, so that clients sending one transaction a
 * request are checked on every core too. A round that submits many
 * (NODE_OVERLAP_ENVELOPES_MIN) is checked while the loop goes on with
 * consensus, and answered when it settles (below); a smaller one at once.
 */
static int serve(void *ctx, struct node_driver *d)
{
    (void)d;
    struct node *n = ctx;
    struct node_round *r = &n->round;
    WITAN_ASSERT(!n->presign_job.running);
    int err = follow_set(n);
    if (err)
        return err;
    node_status_wake(n); /* the waits that ran out */
    bool overlap = witan_pool_threads(n->verify_pool) > 1;
    int i = 0;
    for (; i < NODE_REQUESTS_PER_ROUND_MAX; i++) {
        nng_msg *msg;
        if (nng_recvmsg(n->sock, &msg, NNG_FLAG_NONBLOCK) != 0)
            break;
        size_t size;
        Witan__Request *req = node_request_decode(msg, &size);
        /* The socket answers one request before it takes the next. */
        if (overlap && submitted(req) >= NODE_OVERLAP_ENVELOPES_MIN) {
            r->sock_req = req;
            r->sock_size = size;
            i++;
            break;
        }
        node_handle_decoded(n, req, size);
    }
    if (n->streams && i < NODE_REQUESTS_PER_ROUND_MAX)
        i += take_streams(n, NODE_REQUESTS_PER_ROUND_MAX - i);
    size_t envs = submitted(r->sock_req);
    for (int k = 0; k < r->stream_count; k++)
        envs += submitted(r->streams[k].req);
    if (envs > 1) {
        r->envs = malloc(envs * sizeof *r->envs);
        r->txs = r->envs ? calloc(envs, sizeof *r->txs) : NULL;
    }
    if (r->txs) {
        gather(r, r->sock_req);
        for (int k = 0; k < r->stream_count; k++)
            gather(r, r->streams[k].req);
        if (node_presign_start(n, r->envs, r->env_count, r->txs))
            return 1; /* answered when the round settles */
        node_presign(n, r->envs, r->env_count, r->txs);
    }
    answer_round(n);
    return i == NODE_REQUESTS_PER_ROUND_MAX;
}

/* The loop wakes when a held status request's wait runs out. */
static int64_t status_deadline(void *ctx)
{
    return node_status_deadline(ctx);
}

/* Last in a round: the requests whose signatures were being checked are
 * answered (and their transactions admitted). 1 when there were any. */
static int settle(void *ctx, struct node_driver *d)
{
    (void)d;
    struct node *n = ctx;
#ifdef WITAN_TEST_MUTATE
    relay_late_send(n);
#endif
    if (!n->presign_job.running)
        return 0;
    node_presign_finish(n);
    answer_round(n);
    return 1;
}

void replica_on_admitted(struct node *n, const ProtobufCBinaryData *envs,
                         size_t count)
{
    /* A lone validator has nobody to tell: no batch is packed for none. */
    if (!n->replica || !n->replica->mesh ||
        node_mesh_peers(n->replica->mesh) == 0)
        return;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    sr.n_envelopes = count;
    sr.envelopes = (ProtobufCBinaryData *)envs;
    size_t size = witan__submit_request__get_packed_size(&sr);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return;
    witan__submit_request__pack(&sr, buf);
#ifdef WITAN_TEST_MUTATE
    if (relay_late() && late.count < 64) {
        late.buf[late.count] = buf;
        late.size[late.count++] = size;
        return;
    }
#endif
    node_mesh_send(n->replica->mesh, PBFT_TO_ALL, NODE_FRAME_TXS, buf, size);
    free(buf);
}

/* The view timer is half gone with requests still waiting: send them all
 * again, in batches, so that a primary (or any validator) that missed a
 * relay gets them before this node suspects it. Oldest first: they are the
 * ones a primary should have proposed already. */
static void forward(void *ctx, uint32_t to)
{
    struct node *n = ctx;
    if (!n->replica || !n->replica->mesh)
        return;
    const struct mempool *pool = &n->pool;
    ProtobufCBinaryData envs[WITAN_CLIENT_BATCH_COUNT_MAX];
    uint32_t sent = 0;
    while (sent < pool->count && sent < REPLICA_FORWARD_COUNT_MAX) {
        size_t k = 0, bytes = 0;
        while (k < WITAN_CLIENT_BATCH_COUNT_MAX && sent < pool->count &&
               sent < REPLICA_FORWARD_COUNT_MAX &&
               bytes + pool->txs[sent].size <= WITAN_CLIENT_REQUEST_SIZE_MAX) {
            envs[k].data = pool->txs[sent].bytes;
            envs[k].len = pool->txs[sent].size;
            bytes += pool->txs[sent].size + 8; /* with its framing */
            k++;
            sent++;
        }
        WITAN_ASSERT(k > 0); /* a transaction is far below a request */
        Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
        sr.n_envelopes = k;
        sr.envelopes = envs;
        size_t size = witan__submit_request__get_packed_size(&sr);
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
            return;
        witan__submit_request__pack(&sr, buf);
        node_mesh_send(n->replica->mesh, to, NODE_FRAME_TXS, buf, size);
        free(buf);
    }
}

/* Transactions another validator admitted: admitted here on their own
 * merits (signatures and state are checked again), never relayed on. */
static void on_relayed(void *ctx, uint8_t kind, uint32_t sender,
                       const uint8_t *data, size_t size)
{
    struct node *n = ctx;
    if (kind == NODE_FRAME_HEADS) {
        node_heads_on_frame(n, sender, data, size);
        return;
    }
    if (kind != NODE_FRAME_TXS)
        return;
    Witan__SubmitRequest *sr =
        witan_unpack_or_null(&witan__submit_request__descriptor, data, size);
    if (!sr || sr->n_envelopes > WITAN_CLIENT_BATCH_COUNT_MAX) {
        if (sr)
            witan__submit_request__free_unpacked(sr, NULL);
        return;
    }
    node_admit_relayed(n, sr->envelopes, sr->n_envelopes);
    witan__submit_request__free_unpacked(sr, NULL);
}

void replica_send(struct node *n, uint32_t to, uint8_t kind,
                  const uint8_t *data, size_t size)
{
    node_mesh_send(n->replica->mesh, to, kind, data, size);
}

uint32_t replica_peers_connected(const struct node *n)
{
    const struct replica *r = n->replica;
    return r && r->mesh ? node_mesh_connected(r->mesh) : 0;
}

bool replica_ready(const struct node *n, char *why, size_t why_size)
{
    const struct replica *r = n->replica;
    if (!r || !r->driver)
        return true;
    const pbft *core = node_driver_core(r->driver);
    /* Behind first: a node catching up after a pause or a partition says
     * so even while its links come back. */
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    uint64_t statuses;
    uint64_t peers = pbft_peer_delivered_height(core, &statuses);
    int64_t silence_ms = node_driver_silence_ms(r->driver);
    if (silence_ms) {
        snprintf(why, why_size, "behind: no Status from a validator for "
                 "%lld ms; catching up from committed height %llu",
                 (long long)silence_ms, (unsigned long long)tip.height);
        return false;
    }
    if (peers > tip.height + NODE_READY_BLOCKS_BEHIND_MAX) {
        snprintf(why, why_size, "behind: committed height %llu, a validator "
                 "reports %llu (more than %u blocks ahead)",
                 (unsigned long long)tip.height, (unsigned long long)peers,
                 (unsigned)NODE_READY_BLOCKS_BEHIND_MAX);
        return false;
    }
    uint32_t count = ledger_validator_count(n->l);
    uint32_t linked = replica_peers_connected(n) + 1;
    if (linked < witan_quorum(count)) {
        snprintf(why, why_size, "quorum: linked to %u of %u validators "
                 "(itself included), a quorum is %u", linked, count,
                 witan_quorum(count));
        return false;
    }
    if (pbft_halted(core)) {
        snprintf(why, why_size,
                 "halted: consensus halted on conflicting blocks");
        return false;
    }
    if (pbft_in_view_change(core)) {
        snprintf(why, why_size, "view_change: view change to view %llu "
                 "under way", (unsigned long long)pbft_view(core));
        return false;
    }
    return true;
}

_Static_assert(PBFT_DROP_COUNT + NODE_DROP_COUNT <= REPLICA_DROP_REASON_MAX,
               "status names every drop reason");

size_t replica_figures(const struct node *n, uint64_t *view,
                       uint64_t *view_changes, const char **reasons,
                       uint64_t *counts, size_t max)
{
    const struct replica *r = n->replica;
    *view = 0;
    *view_changes = 0;
    if (!r || !r->driver)
        return 0;
    const pbft *core = node_driver_core(r->driver);
    pbft_stats st;
    pbft_get_stats(core, &st);
    *view = pbft_view(core);
    *view_changes = st.view_changes;
    size_t k = 0;
    for (int i = 0; i < PBFT_DROP_COUNT && k < max; i++, k++) {
        reasons[k] = pbft_drop_name((enum pbft_drop)i);
        counts[k] = st.dropped[i];
    }
    for (int i = 0; i < NODE_DROP_COUNT && k < max; i++, k++) {
        reasons[k] = node_mesh_drop_name((enum node_mesh_drop)i);
        counts[k] = node_mesh_dropped(r->mesh, (enum node_mesh_drop)i);
    }
    return k;
}

/* What the ledger knows at start: the last executed block and the results
 * of the L blocks up to it. The driver adds the stable checkpoint and the
 * persisted records. */
static int load_boot(struct node *n, pbft_boot *boot, pbft_result *results)
{
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    memset(boot, 0, sizeof *boot);
    boot->height = tip.height;
    memcpy(boot->block_hash, tip.block_hash, WITAN_HASH_SIZE);
    boot->time_ms = tip.time_ms;
    boot->history = tip.history;
    uint32_t depth = n->genesis->params->pipeline_depth;
    uint64_t first = tip.height > depth ? tip.height - depth + 1 : 1;
    uint32_t rc = 0;
    for (uint64_t h = first; h >= 1 && h <= tip.height; h++, rc++) {
        Witan__BlockResponse *b;
        int err = ledger_get_block(n->l, h, &b);
        if (err)
            return err;
        pbft_result *x = &results[rc];
        memset(x, 0, sizeof *x);
        x->height = h;
        memcpy(x->block_hash, b->block_hash.data, WITAN_HASH_SIZE);
        memcpy(x->state_root, b->state_root.data, WITAN_HASH_SIZE);
        memcpy(x->receipts_root, b->receipts_root.data, WITAN_HASH_SIZE);
        Witan__BlockHeader *hd = witan__block_header__unpack(
            NULL, b->block->header.len, b->block->header.data);
        x->time_ms = hd ? hd->time_ms : 0;
        if (hd)
            witan__block_header__free_unpacked(hd, NULL);
        err = pbft_cert_from_proto(b->cert, &x->cert, NULL, 0);
        ledger_block_response_free(b);
        if (err)
            return err;
    }
    boot->results = results;
    boot->result_count = rc;
    return WITAN_OK;
}

/* The mesh's TLS hook: this node's certificate and the validators' CA;
 * a dialer also requires the peer's certificate to carry `peer_name`. */
static int mesh_tls(void *ctx, bool server, const char *peer_name,
                    struct nng_tls_config **out)
{
    return node_tls_config(ctx,
                           server ? NODE_TLS_PEER_SERVER : NODE_TLS_PEER_CLIENT,
                           peer_name, out);
}

static void replica_free(struct node *n)
{
    struct replica *r = n->replica;
    if (!r)
        return;
    node_driver_free(r->driver);
    node_mesh_close(r->mesh);
    vouched_clear(&r->vouched);
    vouched_clear(&r->judging);
    free(r);
    n->replica = NULL;
}

static int mesh_config(struct node *n, const Witan__ValidatorSet *vs,
                       const wcrypto_pubkey *keys, uint32_t self,
                       struct node_mesh_config *mc)
{
    memset(mc, 0, sizeof *mc);
    mc->validator_count = (uint32_t)vs->n_validators;
    mc->self = self;
    mc->listen = n->cfg->p2p_listen;
    for (size_t i = 0; i < vs->n_validators; i++) {
        if (i == self)
            continue;
        mc->peers[i] = peer_url(n, vs->validators[i]);
        if (!mc->peers[i]) {
            WITAN_ERROR("node", "no address for validator '%s' (index %zu): "
                                "add %s=URL to peers in the config",
                        vs->validators[i]->name, i, vs->validators[i]->name);
            return WITAN_ECONFIG;
        }
    }
    mc->send_queue_count = n->cfg->send_queue_count;
    mc->key = &n->key;
    mc->validators = keys;
    mc->chain_id = n->genesis->chain_id;
    if (n->cfg->tls_cert[0] != '\0') {
        mc->tls = mesh_tls;
        mc->tls_ctx = n;
    }
    return WITAN_OK;
}

static int replica_start(struct node *n)
{
    struct replica *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    n->replica = r;
    if ((size_t)snprintf(r->log_path, sizeof r->log_path, "%s/%s", n->home,
                         NODE_RECORDS_FILE) >= sizeof r->log_path)
        return WITAN_ELIMIT;
    /* The set in force for the next block, and the one before it for the
     * certificates of earlier heights. */
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    Witan__ValidatorSet *cur = NULL, *prev = NULL;
    static wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX],
        prev_keys[WITAN_VALIDATOR_COUNT_MAX];
    uint32_t self, prev_self;
    bool rotated = false, prev_rotated;
    /* sync_until_member read validator.next.key and found this node in
     * the set in force at its next height. */
    int err = ledger_validator_set(n->l, tip.height + 1, &cur);
    if (!err && cur->first_height > 1)
        err = ledger_validator_set(n->l, cur->first_height - 1, &prev);
    if (!err)
        err = set_keys(n, cur, keys, &self, &rotated);
    /* The key this node held in the set before, for its places there. */
    wcrypto_keypair before = n->key;
    if (!err && rotated)
        err = take_next_key(n, cur->first_height);
    if (!err && prev)
        err = set_keys(n, prev, prev_keys, &prev_self, &prev_rotated);
    WITAN_ASSERT(err || self != UINT32_MAX);
    pbft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!err) {
        n->validator_index = self;
        cfg.chain_id = n->genesis->chain_id;
        cfg.validator_count = (uint32_t)cur->n_validators;
        cfg.validators = keys;
        cfg.self = self;
        cfg.key = &n->key;
        cfg.pipeline_depth = n->genesis->params->pipeline_depth;
        cfg.checkpoint_interval = n->genesis->params->checkpoint_interval;
        cfg.view_timeout_ms = n->cfg->view_timeout_ms;
        cfg.view_timeout_max_ms = n->cfg->view_timeout_max_ms;
        cfg.retransmit_ms = REPLICA_RETRANSMIT_MS;
        cfg.state_block_count = REPLICA_STATE_BLOCK_COUNT;
        cfg.sig_scheme = PBFT_SIG_ED25519;
        cfg.txs_root = ledger_txs_root;
        if (prev) {
            cfg.set_from = cur->first_height;
            cfg.prev_validators = prev_keys;
            cfg.prev_validator_count = (uint32_t)prev->n_validators;
        }
        r->linked_from = cfg.set_from;
    }
    pbft_boot boot;
    pbft_result results[WITAN_PIPELINE_DEPTH_MAX];
    if (!err) {
        err = load_boot(n, &boot, results);
        if (err)
            WITAN_ERROR("node", "consensus cannot start: %s",
                        witan_err_message(err));
    }
    struct node_mesh_config mc;
    if (!err)
        err = mesh_config(n, cur, keys, self, &mc);
    struct node_app app;
    memset(&app, 0, sizeof app);
    app.ctx = n;
    app.build = build;
    app.validate = validate;
    app.deliver = deliver;
    app.read_blocks = read_blocks;
    app.frame = on_relayed;
    app.forward = forward;
    app.waiting = waiting;
    app.serve = serve;
    app.deadline = status_deadline;
    app.settle = settle;
    app.flush = flush_answers;
    app.fd_count = 1;
    if (!err && nng_socket_get_int(n->sock, NNG_OPT_RECVFD, &app.fds[0]) != 0)
        err = WITAN_ENET;
    if (n->streams)
        app.fds[app.fd_count++] = node_links_fd(n->streams);
    if (!err)
        err = node_mesh_open(&mc, &r->mesh);
    if (!err && prev)
        link_places(n, NODE_MESH_PREVIOUS, prev, &before);
    wcrypto_keypair_wipe(&before);
    if (cur)
        witan__validator_set__free_unpacked(cur, NULL);
    if (prev)
        witan__validator_set__free_unpacked(prev, NULL);
    if (!err)
        err = node_driver_new(&cfg, &boot, ledger_store(n->l), r->log_path,
                              r->mesh, &app, &r->driver);
    /* A change stored for a later height waits for the core. */
    if (!err)
        err = hand_change(n);
    return err;
}

/* Whether the set in force at this node's next height holds its key (or
 * its next key). */
static int member_next(struct node *n, bool *member)
{
    *member = false;
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    Witan__ValidatorSet *vs;
    int err = next_key_read(n);
    if (!err)
        err = ledger_validator_set(n->l, tip.height + 1, &vs);
    if (err)
        return err;
    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
    uint32_t self;
    bool rotated;
    err = set_keys(n, vs, keys, &self, &rotated);
    *member = !err && self != UINT32_MAX;
    witan__validator_set__free_unpacked(vs, NULL);
    return err;
}

/* The height of the node at `s`. */
static int sync_height(nng_socket s, uint64_t *height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest sq = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &sq;
    Witan__Response *r;
    int err = node_rpc(s, &req, true, &r);
    if (!err && r->kind_case != WITAN__RESPONSE__KIND_STATUS)
        err = WITAN_EDECODE;
    if (!err)
        *height = r->status->height;
    if (r)
        witan__response__free_unpacked(r, NULL);
    return err;
}

/* Block tip + 1 from the node at `s`, applied as a replica applies a
 * block it fetched: the ledger checks it whole, its certificate against
 * the set of its height. WITAN_ENOTFOUND while that node has no such
 * block yet. */
static int sync_block(struct node *n, nng_socket s, uint64_t height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest bq = WITAN__BLOCK_REQUEST__INIT;
    bq.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &bq;
    Witan__Response *r;
    int err = node_rpc(s, &req, true, &r);
    if (err)
        return err;
    size_t size = 0;
    err = WITAN_ENOTFOUND;
    uint8_t *bytes = NULL;
    if (r->kind_case == WITAN__RESPONSE__KIND_BLOCK && r->block->block &&
        r->block->cert) {
        size = witan__block__get_packed_size(r->block->block);
        bytes = malloc(size ? size : 1);
        err = bytes ? WITAN_OK : WITAN_ENOMEM;
    }
    if (!err) {
        witan__block__pack(r->block->block, bytes);
        struct ledger_apply_stats stats;
        char why[LEDGER_WHY_SIZE];
        err = ledger_block_apply(n->l, bytes, size, r->block->cert, true,
                                 NULL, &stats, why, sizeof why);
        if (err)
            WITAN_ERROR("node", "block %llu from %s is refused: %s (%s)",
                        (unsigned long long)height, n->cfg->sync_from, why,
                        witan_err_name(err));
    }
    free(bytes);
    witan__response__free_unpacked(r, NULL);
    return err;
}

/* With `sync_from`, a validator first follows the chain from that node,
 * block by block, up to the height it had when asked, and then until the
 * set in force at its next height holds its key: one added by governance
 * and started from genesis, one down across changes (removed and added
 * back, or behind more than one switch). A member that cannot reach the
 * node starts as it would without it (a whole network restarting must not
 * wait on itself). Without `sync_from` a node no set in force holds
 * cannot take part, and says how to start it. */
static int sync_until_member(struct node *n, volatile sig_atomic_t *stop)
{
    bool member;
    int err = member_next(n, &member);
    if (err)
        return err;
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    if (!n->cfg->sync_from[0]) {
        if (member)
            return WITAN_OK;
        WITAN_ERROR("node", "this node's validator key is not in the "
                            "validator set in force at height %llu: start it "
                            "from a copy taken after the change that adds it "
                            "(witan node backup), or set sync_from to another "
                            "node's client API to follow the chain until then",
                    (unsigned long long)tip.height + 1);
        return WITAN_EKEY;
    }
    nng_socket s;
    int rc = nng_req0_open(&s);
    if (rc == 0) {
        nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, REPLICA_SYNC_TIMEOUT_MS);
        nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, REPLICA_SYNC_TIMEOUT_MS);
        nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
        rc = nng_dial(s, n->cfg->sync_from, NULL, NNG_FLAG_NONBLOCK);
        if (rc)
            nng_close(s);
    }
    if (rc) {
        WITAN_ERROR("node", "cannot dial sync_from %s: %s", n->cfg->sync_from,
                    nng_strerror(rc));
        return WITAN_ENET;
    }
    uint64_t target = 0;
    err = sync_height(s, &target);
    if (err && member) {
        WITAN_WARN("node", "sync_from %s does not answer (%s): starting from "
                           "height %llu",
                   n->cfg->sync_from, witan_err_name(err),
                   (unsigned long long)tip.height);
        nng_close(s);
        return WITAN_OK;
    }
    err = WITAN_OK;
    if (target > tip.height || !member)
        WITAN_INFO("node", "at height %llu: following the chain from %s to "
                           "height %llu%s",
                   (unsigned long long)tip.height, n->cfg->sync_from,
                   (unsigned long long)target,
                   member ? "" : " and until the validator set in force "
                                 "holds this node");
    uint64_t applied = 0;
    while (!*stop && !err && (!member || tip.height < target)) {
        /* Clients are answered meanwhile (status, queries). */
        for (int i = 0; i < NODE_REQUESTS_PER_ROUND_MAX; i++) {
            nng_msg *msg;
            if (nng_recvmsg(n->sock, &msg, NNG_FLAG_NONBLOCK) != 0)
                break;
            node_handle_request(n, msg);
        }
        err = sync_block(n, s, tip.height + 1);
        if (err == WITAN_ENOTFOUND || err == WITAN_ENET) {
            /* Not there yet, or the node is away: ask again. */
            err = WITAN_OK;
            struct timespec pause = {0, REPLICA_SYNC_WAIT_MS * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        if (!err) {
            applied++;
            ledger_tip(n->l, &tip);
            err = member_next(n, &member);
        }
    }
    nng_close(s);
    if (!err && applied)
        WITAN_INFO("node", "followed %llu blocks from %s, to height %llu",
                   (unsigned long long)applied, n->cfg->sync_from,
                   (unsigned long long)tip.height);
    return err;
}

int replica_run(struct node *n, volatile sig_atomic_t *stop)
{
    int err = sync_until_member(n, stop);
    if (!err && *stop)
        return WITAN_OK;
    if (!err)
        err = replica_start(n);
    struct replica *r = n->replica;
    if (!err)
        err = node_driver_run(r->driver, stop);
    /* Stopped by a signal, not by an error: every record is written and
     * nothing more will be sent, so the next start need not be muted
     * (spec/consensus.md, the boot rule). */
    if (!err && r && r->driver)
        err = node_driver_mark_stopped(r->driver);
    if (r && r->driver) {
        const pbft *core = node_driver_core(r->driver);
        pbft_stats st;
        pbft_get_stats(core, &st);
        WITAN_INFO("node",
                   "consensus: view %llu, %llu delivered, %llu view changes, "
                   "sends dropped %llu",
                   (unsigned long long)pbft_view(core),
                   (unsigned long long)st.delivered,
                   (unsigned long long)st.view_changes,
                   (unsigned long long)(
                       r->mesh ? node_mesh_dropped(r->mesh, NODE_DROP_QUEUE_FULL) +
                                     node_mesh_dropped(r->mesh,
                                                       NODE_DROP_SEND_ERROR)
                               : 0));
    }
    replica_free(n);
    return err;
}
