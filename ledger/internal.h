/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the ledger's files share and nobody else sees.
 */
#ifndef WITAN_LEDGER_INTERNAL_H
#define WITAN_LEDGER_INTERNAL_H

#include <stdatomic.h>

#include "consensus/consensus.h"
#include "contracts/contracts.h"
#include "ledger/ledger.h"

/* A validator set with the height it is in force from (spec/governance.md
 * section 7): the genesis's from 1, then each stored in table 27. */
struct ledger_vset {
    uint64_t first;
    uint32_t count;
    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
    char names[WITAN_VALIDATOR_COUNT_MAX][WITAN_NAME_SIZE_MAX + 1];
    uint8_t operators[WITAN_VALIDATOR_COUNT_MAX][WITAN_ADDRESS_SIZE];
    bool has_operator[WITAN_VALIDATOR_COUNT_MAX];
};

struct ledger;
/* Puts `p` in force (l->params and what other threads read of it). */
void params_in_force(struct ledger *l, const Witan__Params *p);

/* Certificates whose verdict a ledger remembers (struct ledger). */
#define LEDGER_CERT_CACHE_COUNT 16

/* A transaction's place in the chain, be64 height || be32 index: the txs
 * index's value and the receipts table's key. */
#define LEDGER_TX_LOC_SIZE 12

/* Entries of one range: at most those of the LEDGER_TXS_RANGES blocks
 * since it was last written, and the next block's, reserved before its
 * write lets them go (every transaction of them in one range, if their
 * hashes were ground to be). */
#define LEDGER_TXS_WAITING_MAX \
    ((size_t)(LEDGER_TXS_RANGES + 1) * WITAN_BLOCK_TX_COUNT_MAX)

struct txs_entry {
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t loc[LEDGER_TX_LOC_SIZE];
};

/* One range's waiting entries and an open-addressing table of them
 * (entry index + 1; 0 is empty). */
struct txs_range {
    struct txs_entry *entries;
    size_t count, entry_cap;
    uint32_t *slots;
    size_t slot_cap;
};

struct ledger {
    store *s;
    /* Committed transactions not yet in the txs index, by key range. */
    struct txs_range txs_waiting[LEDGER_TXS_RANGES];
    /* Threads a block's signatures are checked on (ledger_set_pool); NULL:
     * the caller's alone. */
    witan_pool *pool;
    /* ledger_on_executed's; NULL: none. */
    void (*on_executed)(void *ctx);
    void *on_executed_ctx;
    const Witan__Genesis *g;
    uint8_t genesis_hash[WITAN_HASH_SIZE];
    struct ledger_tip tip;
    /* The last block ledger_block_check passed (SHA-256 of its bytes) and
     * the tip it was judged on: applying those bytes on that tip does not
     * judge them again (the same bytes on the same state get the same
     * verdict). */
    uint8_t checked_hash[WITAN_HASH_SIZE], checked_parent[WITAN_HASH_SIZE];
    bool checked;
    /* The validator set in force at tip + 1 and the one before it (equal
     * while the genesis's is in force): the certificates a block carries
     * are checked against them without a read. */
    struct ledger_vset vs_cur, vs_prev;
    /* While a block's effects are enacted: the newest set with the
     * changes so far (governance.c). */
    struct ledger_vset vs_next;
    bool vs_changed;
    /* The newest stored set's first height (1: none but the genesis's),
     * and whether the block being applied stored one: vs_cur and vs_prev
     * are read again only then, or when the tip reaches that height. */
    uint64_t vs_newest_first;
    bool vs_written;
    /* Per block being applied: model gas spent, predictions written. */
    uint64_t block_gas;
    uint32_t prediction_seq;
    int64_t block_time_ms;
    /* Per transaction being applied: gas it caused. */
    uint64_t tx_gas;
    /* Loaded models by hash: immutable, so a cache changes no result. */
    struct model_cache_entry {
        uint8_t hash[WITAN_HASH_SIZE];
        struct infer_model *model;
    } model_cache[WITAN_MODEL_CACHE_COUNT];
    uint32_t model_cache_next;
    /* Certificates found valid lately, with a digest of the set they
     * were checked against: a block's certificate is checked when it is
     * applied and returns as the results of block h + L, checked when
     * that proposal is judged and again when it is applied. A signature
     * of one of them is not checked again (pbft_cert_check_known); the
     * verdicts are the same. */
    struct ledger_cert_ok {
        uint8_t set[WITAN_HASH_SIZE];
        pbft_cert cert;
    } cert_ok[LEDGER_CERT_CACHE_COUNT];
    uint32_t cert_ok_next;
    /* Decision contracts: the runtime, loaded modules by id, the block's
     * next decision and event sequences, and the transaction being
     * applied (its hash, sender and height; runs so far). */
    struct contract_runtime *rt;
    struct contract_cache_entry {
        uint8_t id[WITAN_HASH_SIZE];
        struct vm_module *module;
        Witan__ContractRecord *record; /* without module, source and map */
    } contract_cache[WITAN_CONTRACT_CACHE_COUNT];
    uint32_t contract_cache_next;
    uint32_t decision_seq, event_seq;
    const uint8_t *tx_hash, *tx_sender;
    uint64_t tx_height;
    uint32_t tx_runs;
    /* Governance: the parameters in force for block tip + 1, and those a
     * block being applied leaves in force after it (copied into `params`
     * once it is committed); the id a Propose being applied was given (0:
     * none), for its receipt. */
    Witan__Params params, next_params;
    /* params.tx_size_max, for the stateless check on other threads (an
     * auditor's pool checks blocks ahead while this one commits; set by
     * params_in_force). */
    _Atomic uint32_t tx_size_max;
    uint64_t tx_proposal;
};

/* The one rule for a feed id, wherever one is named (attestations, model
 * inputs and triggers): 1 to WITAN_FEED_SIZE_MAX of [a-z0-9/._-], a path of
 * lowercase words like "climate/co2/mauna-loa". */
bool ledger_feed_ok(const char *s);
/* Text that is at most max bytes, none of them a control character, and
 * not empty unless may_be_empty. */
bool ledger_text_ok(const char *s, size_t max, bool may_be_empty);

/* Meta keys. "r" + be64(height) holds state root || receipts root. */
#define META_PROTOCOL "protocol_version"
#define META_SCHEMA "schema_version"
void ledger_tx_loc(uint64_t height, uint32_t index,
                   uint8_t out[LEDGER_TX_LOC_SIZE]);
#define META_GENESIS "genesis_hash"
#define META_CHAIN "chain_id"
#define META_TIP "tip"

/* Accounts, as unpacked protobuf (free with ledger_account_free). */
int account_get(store_txn *txn, const uint8_t addr[WITAN_ADDRESS_SIZE],
                Witan__Account **out);
int account_put(store_txn *txn, const Witan__Account *a);

/* Packs a message into a malloc'd buffer. WITAN_ENOMEM. */
int pack_message(const ProtobufCMessage *m, uint8_t **out, size_t *size);
/* Packs a message and puts it under key. */
int store_message(store_txn *txn, enum store_table table, const void *key,
                  size_t key_size, const ProtobufCMessage *m);
/*
 * The header and, when `tx` is not NULL, the transaction at `index` of a
 * stored block, read off its wire format (spec/witan.proto: Block {bytes
 * header = 1; repeated bytes txs = 2;}, both length-delimited) without
 * decoding the rest: a block holds up to a thousand transactions and the
 * caller wants one, or only the header. The results point into `bytes`.
 * WITAN_EDBCORRUPT when they are not such a block or hold no transaction
 * at `index`.
 */
int stored_block_parts(const uint8_t *bytes, size_t size, uint32_t index,
                       ProtobufCBinaryData *header, ProtobufCBinaryData *tx);
/* A malloc'd copy of size bytes into *out (query results own their bytes). */
int ledger_dup_bytes(ProtobufCBinaryData *out, const void *data, size_t size);

/* Applies one decoded transaction in block `height` at `index`: every
 * stateful rule, then the payload. Sets *status; returns an error only for a
 * storage failure (which aborts the whole block). */
int tx_apply(ledger *l, store_txn *txn, const Witan__Envelope *env,
             const Witan__TxBody *body, const uint8_t hash[WITAN_HASH_SIZE],
             uint64_t height, Witan__TxStatus *status);

/* Builds a new account (created at `height`) on the heap, as unpack would;
 * free with ledger_account_free. WITAN_EINVAL for a bad key or roles. */
int ledger_account_new(const char *name, Witan__KeyType type,
                       ProtobufCBinaryData pub, const Witan__Role *roles,
                       size_t role_count, uint64_t height,
                       const uint8_t *tx_hash, Witan__Account **out);

/* Models (ledger/models.c). Stateless rules of the three payloads: */
int models_check_register(const ledger *l, const Witan__RegisterModel *r,
                          char *why, size_t why_size);
int models_check_score(const Witan__Score *s, char *why, size_t why_size);
int models_check_post(const Witan__PostPrediction *p, char *why,
                      size_t why_size);
/* Apply: each sets *status; errors only for storage failures. */
int models_apply_register(ledger *l, store_txn *txn, const Witan__TxBody *body,
                          const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                          Witan__TxStatus *status);
int models_apply_score(ledger *l, store_txn *txn, const Witan__TxBody *body,
                       const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                       Witan__TxStatus *status);
int models_apply_post(ledger *l, store_txn *txn, const Witan__TxBody *body,
                      const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                      Witan__TxStatus *status);
/* After an attestation is stored: score every model it triggers. */
int models_on_attestation(ledger *l, store_txn *txn, const Witan__Attest *a,
                          const uint8_t hash[WITAN_HASH_SIZE], uint64_t height);
void models_cache_clear(ledger *l);

/* Contracts (ledger/contracts.c): stateless rules, apply, triggers. */
int contracts_check_deploy(const Witan__DeployContract *d, char *why,
                           size_t why_size);
int contracts_check_call(const Witan__CallContract *c, char *why,
                         size_t why_size);
int contracts_check_retire(const Witan__RetireContract *r, char *why,
                           size_t why_size);
/* A deployment's stateful rules under `params` and, when `write`, its
 * effects: contract `id` with `operator_` (empty: deployed by governance,
 * which may replace any contract; spec/governance.md section 7). */
int contracts_deploy(store_txn *txn, const Witan__DeployContract *d,
                     const uint8_t id[WITAN_HASH_SIZE],
                     const ProtobufCBinaryData *operator_,
                     const Witan__Params *params, uint64_t height, bool write,
                     Witan__TxStatus *status);
int contracts_apply_deploy(ledger *l, store_txn *txn, const Witan__TxBody *body,
                           const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                           Witan__TxStatus *status);
int contracts_apply_retire(ledger *l, store_txn *txn, const Witan__TxBody *body,
                           const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                           Witan__TxStatus *status);
int contracts_apply_call(ledger *l, store_txn *txn, const Witan__TxBody *body,
                         const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                         Witan__TxStatus *status);
/* Right after prediction p is written under pkey: runs every contract it
 * triggers (spec/contracts.md section 2). Errors only for storage. */
int contracts_on_prediction(ledger *l, store_txn *txn,
                            const Witan__PredictionRecord *p,
                            const uint8_t *pkey, size_t pkey_size);
void contracts_cache_clear(ledger *l);

/* Scorecards (ledger/scores.c). After prediction p of model r is written
 * under pkey from an observation at observed_ms: wait for its target. */
int scores_pending(ledger *l, store_txn *txn, const Witan__ModelRecord *r,
                   const Witan__PredictionRecord *p, const uint8_t *pkey,
                   size_t pkey_size, int64_t observed_ms);
/* After attestation a (its tx hash and revision) is stored: resolve the
 * predictions waiting for it, or re-score those its correction changes. */
int scores_on_attestation(ledger *l, store_txn *txn, const Witan__Attest *a,
                          const uint8_t hash[WITAN_HASH_SIZE],
                          uint32_t revision, uint64_t height);
/* A model's scorecard sums for contracts; WITAN_ENOTFOUND if none. */
int scores_card(store_txn *txn, const uint8_t model[WITAN_HASH_SIZE],
                struct contract_scorecard *out);

/* Membership (ledger/tx.c): the stateless rules of a change, and applying
 * one at `height` for transaction `hash` (a proposal's effects use both). */
int membership_check(const Witan__Membership *m, char *why, size_t why_size);
int membership_apply(store_txn *txn, const Witan__Membership *m,
                     const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                     Witan__TxStatus *status);

/* Retirement by governance: with `by` (the Propose transaction) retires
 * the contract or model at `height`; without, only checks it could be.
 * *status says why not (unknown, already retired). Storage errors only. */
int contracts_retire(store_txn *txn, const uint8_t id[WITAN_HASH_SIZE],
                     uint64_t height, const uint8_t by[WITAN_HASH_SIZE],
                     Witan__TxStatus *status);
int models_retire(store_txn *txn, const uint8_t hash[WITAN_HASH_SIZE],
                  uint64_t height, const uint8_t by[WITAN_HASH_SIZE],
                  Witan__TxStatus *status);

/* Governance (ledger/governance.c, spec/governance.md). */
int gov_check_propose(const Witan__Propose *p, char *why, size_t why_size);
int gov_check_vote(const Witan__CastVote *v, char *why, size_t why_size);
int gov_apply_propose(ledger *l, store_txn *txn, const Witan__TxBody *body,
                      const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                      Witan__TxStatus *status);
int gov_apply_vote(ledger *l, store_txn *txn, const Witan__TxBody *body,
                   const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                   Witan__TxStatus *status);
/* After block `height`'s last transaction: effects due at it, then the
 * tally of open proposals. Storage errors only. */
int gov_block_end(ledger *l, store_txn *txn, uint64_t height);
/* Loads the parameters in force at open. */
int gov_open(ledger *l);

/* Validator sets (ledger/validators.c). */
int vset_from_genesis(const Witan__Genesis *g, struct ledger_vset *out);
/* The set in force at `height` (txn may be NULL: a read of its own). */
int vset_at(const ledger *l, store_txn *txn, uint64_t height,
            struct ledger_vset *out);
/* The newest set, in force now or from a later height. */
int vset_latest(const ledger *l, store_txn *txn, struct ledger_vset *out);
/* Writes `v` as the set in force from v->first, enacted at `height`. */
int vset_put(store_txn *txn, const struct ledger_vset *v, uint64_t height);
/* Reloads vs_cur and vs_prev for tip + 1 (at open, after each block). */
int vsets_load(ledger *l);
/* Whether a set is stored in force from height + 1 (block `height` ends
 * the one before it), and then H("witan/validators/v1", its stored bytes):
 * the hash header `height` must carry as next_validators_hash. */
int vset_next_hash(store_txn *txn, uint64_t height, bool *has,
                   uint8_t hash[WITAN_HASH_SIZE]);
/* Index of `key` in v, or -1. */
int vset_find(const struct ledger_vset *v, const uint8_t *key, size_t size);

/* A validator set as an auditor follows it from the genesis through the
 * changes a proof carries (ledger/proof.c): its keys in index order, in
 * force from `first` until the next one's first height. */
struct ledger_pset {
    uint64_t first;
    uint32_t count;
    wcrypto_pubkey keys[WITAN_VALIDATOR_COUNT_MAX];
};
/* From the genesis's set, each change in order: block E's header is
 * certified by the set in force at E and names the next set, in force
 * from E + 1. `at_h` and `at_later` end as the sets in force at heights
 * h ≤ later (cur is scratch). `strict` (a proof): a change at or past
 * `later` is refused; otherwise (a head) the walk stops at it. */
int sets_follow(const Witan__Genesis *g, Witan__ValidatorChange *const *changes,
                size_t count, uint64_t h, uint64_t later, bool strict,
                struct ledger_pset *at_h, struct ledger_pset *at_later,
                struct ledger_pset *cur, char *why, size_t why_size);

/* The role a payload needs. */
Witan__Role tx_required_role(const Witan__TxBody *body);

/* Attestation table key: feed 0x00 subject 0x00 be64(time ^ 2^63)
 * provider [be32 revision]. Returns the size (prefix without revision when
 * with_revision is false). */
size_t attest_key(const char *feed, const char *subject, int64_t time_ms,
                  const uint8_t provider[WITAN_ADDRESS_SIZE],
                  bool with_revision, uint32_t revision,
                  uint8_t out[WITAN_STORE_KEY_SIZE_MAX]);

/* --- the txs index (txindex.c) --- */

/* Where a committed transaction stands (height || index), waiting in
 * memory or in the txs index (table 4); WITAN_ENOTFOUND: not committed. */
int ledger_txn_locate(const ledger *l, store_txn *txn,
                      const uint8_t hash[WITAN_HASH_SIZE],
                      uint8_t loc[LEDGER_TX_LOC_SIZE]);
/* The rule "already committed": ledger_txn_locate finds it. */
int ledger_txn_committed(const ledger *l, store_txn *txn,
                         const uint8_t hash[WITAN_HASH_SIZE], bool *committed);
/* Room for a block's entries, taken before its commit so that
 * txindex_committed cannot fail after it. */
int txindex_reserve(ledger *l, const uint8_t (*hashes)[WITAN_HASH_SIZE],
                    size_t n);
/* Within block `height`'s write: the range it writes. */
int txindex_write(const ledger *l, store_txn *txn, uint64_t height);
/* After block `height` committed: the range it wrote is let go and its own
 * transactions wait. */
void txindex_committed(ledger *l, uint64_t height,
                       const uint8_t (*hashes)[WITAN_HASH_SIZE], size_t n);
/* At open: the entries of the last LEDGER_TXS_RANGES blocks wait again. */
int txindex_load(ledger *l, char *why, size_t why_size);
void txindex_free(ledger *l);

#endif
