/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger — the deterministic state machine: genesis, admission rules, block
 * building and applying, membership and roles, receipts and roots, queries.
 *
 * The same code runs in the node and in the auditor's offline re-execution.
 * Every state change goes through storage/ inside one write transaction per
 * block. Nothing here reads a clock: block time is an input. Two ledgers that
 * apply the same blocks hold byte-identical state (spec/state.md).
 *
 * Errors: functions return 0 or a negative WITAN_E* code; where a person needs
 * more than the code (which limit, which nonce, which height), a `why` buffer
 * of at least LEDGER_WHY_SIZE bytes receives one sentence.
 */
#ifndef WITAN_LEDGER_H
#define WITAN_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "crypto/crypto.h"
#include "spec/witan.pb-c.h"
#include "storage/storage.h"

#define LEDGER_WHY_SIZE 256
/* Bumped whenever a table's layout or a stored record changes meaning. */
#define LEDGER_SCHEMA_VERSION 5
/* The oldest schema a database is upgraded from when opened. */
#define LEDGER_SCHEMA_OLDEST 3
/* The txs index is written one key range per block: a committed
 * transaction's entry waits in memory at most this many blocks, and
 * ledger_open reads the transactions of the last this many blocks again. */
#define LEDGER_TXS_RANGES 64

/* --- genesis ---------------------------------------------------------------- */

/*
 * Parses genesis JSON (spec/genesis.md) into a validated Genesis message.
 * WITAN_EDECODE / WITAN_ELIMIT / WITAN_EINVAL with `why` naming the field.
 * *out is owned by the caller: ledger_genesis_free.
 */
int ledger_genesis_parse(const char *json, size_t size, Witan__Genesis **out,
                         char *why, size_t why_size);
int ledger_genesis_load(const char *path, Witan__Genesis **out, char *why,
                        size_t why_size);
void ledger_genesis_free(Witan__Genesis *g);

/* H("witan/genesis/v1", canonical Genesis). Never fails on a parsed genesis. */
void ledger_genesis_hash(const Witan__Genesis *g, uint8_t out[WITAN_HASH_SIZE]);

/* Writes the genesis as JSON that ledger_genesis_parse reads back to the same
 * hash. WITAN_EIO on a write error. */
int ledger_genesis_write(FILE *out, const Witan__Genesis *g);

/* The highest role number (roles are 1 .. LEDGER_ROLE_MAX). */
#define LEDGER_ROLE_MAX WITAN__ROLE__ROLE_VALIDATOR_OPERATOR

/* True when p satisfies every bound of spec/genesis.md, each parameter's
 * own and those between them; `why` says which fails. */
bool ledger_params_ok(const Witan__Params *p, char *why, size_t why_size);

const char *ledger_role_name(Witan__Role role);
int ledger_role_parse(const char *name, Witan__Role *out);

/* --- the ledger ---------------------------------------------------------------- */

typedef struct ledger ledger;

/*
 * Opens the database in `dir`. An empty database is initialised from the
 * genesis (accounts of its members at height 0). An existing one must match:
 * WITAN_EVERSION when its protocol or schema version differs, WITAN_EGENESIS
 * when its genesis hash differs — `why` says which, with both values.
 * `g` must outlive the ledger.
 */
int ledger_open(const char *dir, const Witan__Genesis *g,
                const struct store_options *options, ledger **out, char *why,
                size_t why_size);
void ledger_close(ledger *l);

store *ledger_store(ledger *l);
const Witan__Genesis *ledger_genesis(const ledger *l);
/* The parameters in force for the next block (tip + 1): the genesis's
 * until governance changes one (spec/governance.md, section 6). Every
 * reader of a changeable parameter — block validity, building, admission,
 * gas — reads it here, so one rule holds on every node at every height. */
const Witan__Params *ledger_params(const ledger *l);
const uint8_t *ledger_genesis_hash_of(const ledger *l);

struct ledger_tip {
    uint64_t height;
    uint8_t block_hash[WITAN_HASH_SIZE]; /* genesis hash at height 0 */
    uint8_t state_root[WITAN_HASH_SIZE];
    uint8_t receipts_root[WITAN_HASH_SIZE];
    int64_t time_ms;
    uint64_t last_nonempty_height;
    wcrypto_history history; /* over blocks 1..height */
};
void ledger_tip(const ledger *l, struct ledger_tip *out);
/* The tip's height alone (0 before the first block). Never fails. */
uint64_t ledger_height(const ledger *l);

/* --- transactions ---------------------------------------------------------------- */

/* A decoded, signature-checked transaction. Owns its memory. */
struct ledger_tx {
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t sender[WITAN_ADDRESS_SIZE];
    uint64_t nonce;
    uint8_t *bytes; /* the Envelope as received */
    size_t size;
    Witan__Envelope *envelope;
    Witan__TxBody *body;
    size_t decoded_size; /* what decoding envelope and body allocated;
                            0 once they are shed */
};

/*
 * Stateless admission: decode the Envelope and its TxBody, every size limit,
 * the chain id, the key, the signature (skipped when verify_signature is
 * false, for transactions whose signature this process already checked), and
 * the payload's own rules. On success *tx owns a copy of the bytes.
 * WITAN_EDECODE, WITAN_ELIMIT, WITAN_ECHAIN, WITAN_EKEY, WITAN_EKEYTYPE,
 * WITAN_ESIG, WITAN_EINVAL (payload), each with `why`.
 */
int ledger_tx_decode(const ledger *l, const uint8_t *bytes, size_t size,
                     bool verify_signature, struct ledger_tx *tx, char *why,
                     size_t why_size);

/*
 * The hash of the transaction in envelope bytes `env` (its body's, tagged),
 * read off the wire format without decoding it: to find a transaction
 * known by its bytes (the pool compares them whole), never to judge one.
 * WITAN_EDECODE when the bytes are not shaped like an envelope.
 */
int ledger_envelope_tx_hash(const uint8_t *env, size_t size,
                            uint8_t hash[WITAN_HASH_SIZE]);

/* The signature rule of ledger_tx_decode alone, for a transaction it
 * decoded without (so that a node checks a signature only once it knows
 * the transaction is new to it). Needs the decoded Envelope: not after
 * ledger_tx_shed. Thread-safe. WITAN_ESIG, with `why`. */
int ledger_tx_verify(const struct ledger_tx *tx, char *why, size_t why_size);

/* How many transaction signatures this process has checked, by either
 * function above (on any thread): a node checks each transaction's once,
 * and this is how that is seen. */
uint64_t ledger_tx_signatures_checked(void);
void ledger_tx_release(struct ledger_tx *tx);
/* Frees the decoded Envelope and TxBody but keeps the bytes, hash, sender
 * and nonce: all a pool needs, at a fraction of the memory. Cannot fail. */
void ledger_tx_shed(struct ledger_tx *tx);

/*
 * Stateful admission against committed state: the sender exists and was not
 * removed, the envelope carries its current key, it holds the role the
 * payload needs, and the nonce lies in (last applied, last applied +
 * nonce_window]. WITAN_ESENDER, WITAN_EKEY, WITAN_EROLE, WITAN_ENONCE.
 */
int ledger_tx_admit(ledger *l, const struct ledger_tx *tx,
                    uint64_t nonce_window, char *why, size_t why_size);

/* The last nonce applied for an address (0 if none); WITAN_ENOTFOUND. */
int ledger_account_nonce(ledger *l, const uint8_t addr[WITAN_ADDRESS_SIZE],
                         uint64_t *nonce);

/* --- blocks ---------------------------------------------------------------- */

struct ledger_block {
    uint8_t *bytes; /* serialized Block; owned, free with ledger_block_free */
    size_t size;
    uint8_t hash[WITAN_HASH_SIZE];
    uint64_t height;
};
void ledger_block_free(struct ledger_block *b);

/*
 * Builds block tip+1 from `txs` in order: header with the previous hash, the
 * transactions and history roots, and the results (state and receipts roots
 * and canonical certificate) of block height − L. `time_ms` is clamped to be
 * above the tip's time. WITAN_ELIMIT if the block would exceed its limits.
 */
int ledger_block_build(ledger *l, struct ledger_tx *const *txs, size_t count,
                       int64_t time_ms, uint64_t view, uint32_t proposer,
                       struct ledger_block *out);

/*
 * The transactions root of a block: the Merkle root over
 * H("witan/envelope/v1", envelope bytes) of each transaction in block order
 * (spec/encoding.md). It covers the signatures, so a block hash fixes every
 * byte of the block. txs[i] points at envelope i, sizes[i] its size.
 * WITAN_ELIMIT over WITAN_BLOCK_TX_COUNT_MAX, WITAN_ENOMEM.
 */
int ledger_txs_root(const uint8_t *const *txs, const size_t *sizes,
                    size_t count, uint8_t root[WITAN_HASH_SIZE]);

/* How ledger_block_check treats transaction signatures. `checked`, when
 * set, says whether an envelope is byte for byte one this process checked
 * in full before (then its hash is written and its signature skipped). */
struct ledger_check_opts {
    bool verify_signatures;
    bool (*checked)(void *ctx, const uint8_t *env, size_t size,
                    uint8_t hash[WITAN_HASH_SIZE]);
    void *ctx;
};

/*
 * The one validity function of a block (spec/consensus.md, "Validity"):
 * every rule of applying block tip+1 that does not need executing it. Size
 * and count limits, the header against the tip (version, chain, height,
 * previous hash, time, history root, tx_count), the results of height − L
 * and their certificate, every transaction's stateless checks (signatures
 * per `o`), none twice, none committed before, and the transactions root.
 * A replica calls it before it prepares a block and ledger_block_apply
 * calls it before it executes one, so a block a correct replica certified
 * is never refused by a correct ledger; the ledger remembers the last block
 * it passed with signatures checked (per `o`) and the tip it was judged on,
 * and applying that block on that tip does not judge it a second time.
 * Nothing written.
 */
/* Hands the ledger a pool of threads (common.h) on which blocks' transaction
 * signatures are checked, block check and apply alike; NULL: one thread.
 * Verdicts and messages are those of one thread. The caller keeps it and
 * frees it after the ledger. */
void ledger_set_pool(ledger *l, witan_pool *pool);

int ledger_block_check(ledger *l, const uint8_t *block, size_t size,
                       const struct ledger_check_opts *o, char *why,
                       size_t why_size);

struct ledger_apply_stats {
    uint32_t tx_count;
    uint32_t ok_count;
    uint8_t state_root[WITAN_HASH_SIZE];
    uint8_t receipts_root[WITAN_HASH_SIZE];
};

/*
 * Checks block tip+1 with ledger_block_check's rules (unless that passed it
 * on this tip already) and `cert` against the
 * validator set, applies every transaction (a receipt for each; a refused one
 * changes nothing but its receipt), and commits it all in one durable write
 * transaction. When the map fills, the store is grown and the block redone;
 * WITAN_EMAPFULL if it cannot grow: nothing of the block is stored.
 * verify_signatures false skips signature checks of transactions this
 * process decoded and verified itself. `given` is NULL or has an entry per
 * transaction of the block: one with a body is what ledger_tx_decode made
 * of exactly that transaction's bytes, its signature checked, and is
 * executed as it is instead of being decoded again (a validator's pool
 * holds most of a block decoded already); every entry stays the caller's.
 */
int ledger_block_apply(ledger *l, const uint8_t *block, size_t size,
                       const Witan__CommitCertificate *cert,
                       bool verify_signatures, const struct ledger_tx *given,
                       struct ledger_apply_stats *stats, char *why,
                       size_t why_size);

/*
 * fn(ctx) is called each time ledger_block_apply has executed a block and
 * written all of it into its transaction, just before that commits (the
 * commit syncs): ledger_tip and ledger_height give the block's tip for the
 * call, and nothing may be read from the store, which does not hold the
 * block yet. Not called for a block after which the validator sets turn
 * (they are read from the store after the commit). NULL: none.
 */
void ledger_on_executed(ledger *l, void (*fn)(void *ctx), void *ctx);

/* --- votes and certificates ------------------------------------------------ */

/* 0 when cert is a valid commit certificate of (height, hash) for this
 * chain's validator set; WITAN_ESIG / WITAN_EINVAL with `why`. */
int ledger_cert_verify(ledger *l, const Witan__CommitCertificate *cert,
                       uint64_t height, const uint8_t hash[WITAN_HASH_SIZE],
                       char *why, size_t why_size);

/* The caller checked every signature of `cert` (a certificate of block
 * `height`) itself: the consensus core that built it from commits it
 * verified, or checked it in a state transfer. The ledger takes them as
 * found valid (ledger_cert_verify does not check them again); whether the
 * certificate is a quorum for the block is still checked where it is
 * used. WITAN_EDECODE for a certificate that does not decode. */
int ledger_cert_vouch(ledger *l, const Witan__CommitCertificate *cert,
                      uint64_t height);

/* The same rule for a validator set given by itself (an auditor's, from a
 * genesis): what ledger_cert_verify checks, ledger_cert_verify calls. */
int ledger_cert_check(const char *chain_id, const wcrypto_pubkey *validators,
                      uint32_t validator_count,
                      const Witan__CommitCertificate *cert, uint64_t height,
                      const uint8_t hash[WITAN_HASH_SIZE], char *why,
                      size_t why_size);

/* The validator set in force at `height`, or with height 0 the newest one
 * (in force from a later height while a change is pending): its first
 * height and validators in index order (spec/governance.md section 7).
 * Free with witan__validator_set__free_unpacked. */
int ledger_validator_set(ledger *l, uint64_t height, Witan__ValidatorSet **out);

/* The stored set with the smallest first height above `height`: the next
 * change after it (WITAN_ENOTFOUND when none). */
int ledger_validator_set_after(ledger *l, uint64_t height,
                               Witan__ValidatorSet **out);

/* Whether block `height` ends a validator set, and then the hash its
 * header must carry as next_validators_hash: H("witan/validators/v1", the
 * next set as table 27 holds it) (consensus.md, "Validity"). What
 * ledger_block_build and ledger_block_check use; for a consensus core that
 * builds headers itself. */
int ledger_next_validators_hash(ledger *l, uint64_t height, bool *has,
                                uint8_t hash[WITAN_HASH_SIZE]);

/* How many validators the set in force for the next block has. */
uint32_t ledger_validator_count(const ledger *l);

/* The validator keys a genesis names, in its order (out holds
 * WITAN_VALIDATOR_COUNT_MAX). */
int ledger_validators_of(const Witan__Genesis *g, wcrypto_pubkey *out,
                         uint32_t *count);

/* --- signed history heads (spec/proofs.md) ---------------------------------- */

/* A checkpoint's text is origin, size and root; a signed head adds a line
 * for each of at most 64 validators and for witnesses. */
#define LEDGER_HEAD_TEXT_SIZE_MAX 256
#define LEDGER_HEAD_SIZE_MAX (16 * 1024)

/* "witan/<chain id>/<genesis hash hex>\n<size>\n<base64 root>\n": the
 * length written, or WITAN_ELIMIT. */
int ledger_head_text(const Witan__Genesis *g, uint64_t size,
                     const uint8_t root[WITAN_HASH_SIZE], char *out,
                     size_t out_size);
/* Validator `index`'s key name in signed notes, for the set in force from
 * `set_first`: "<chain id>/<index>" for the genesis's set (set_first 1),
 * "<chain id>/<set_first>/<index>" for a set governance made. */
void ledger_head_key_name(const Witan__Genesis *g, uint64_t set_first,
                          uint32_t index, char *out, size_t out_size);
/* Its signature line over a head's text: "— name base64(id ‖ sig)\n",
 * with `pubkey` (32 bytes) the validator's key in that set. */
int ledger_head_signature_line(const Witan__Genesis *g, uint64_t set_first,
                               uint32_t index, const uint8_t *pubkey,
                               const uint8_t sig[WITAN_SIGNATURE_SIZE],
                               char *out, size_t out_size);
/* Checks a signed head against the genesis and the validator-set changes
 * (as a proof carries them; none for a chain without changes, and any
 * in force only past the head's size are ignored): its text is this
 * chain's checkpoint, every signature by a key of the set in force at its
 * size verifies (others are ignored) and a quorum of that set signed. Its
 * size and root, and the number of validators that signed. */
int ledger_head_check(const Witan__Genesis *g,
                      Witan__ValidatorChange *const *changes,
                      size_t change_count, const char *note, size_t size,
                      uint64_t *tree_size, uint8_t root[WITAN_HASH_SIZE],
                      uint32_t *signers, char *why, size_t why_size);
/* Compares two set chains, of heads (or proofs) of sizes size_a and size_b
 * (proofs.md, "Comparing set chains"): each must hold from the genesis
 * (up to its own size); then the changes in force at or below the
 * smaller size must be the same blocks E naming the same sets. If not,
 * *differs and `said` names the first change that differs: its index,
 * the set in force before it (which certified both sides) and each
 * side's block E and next-set hash, or that one side has none. */
int ledger_set_chains_compare(const Witan__Genesis *g,
                              Witan__ValidatorChange *const *a, size_t na,
                              uint64_t size_a,
                              Witan__ValidatorChange *const *b, size_t nb,
                              uint64_t size_b, bool *differs, char *said,
                              size_t said_size, char *why, size_t why_size);
/* The validator-set changes in force at or below `height` (every one with
 * height 0), as a proof carries them. Free with
 * ledger_validator_changes_free. */
int ledger_validator_changes(ledger *l, uint64_t height,
                             Witan__ValidatorChange ***out, size_t *count,
                             char *why, size_t why_size);
void ledger_validator_changes_free(Witan__ValidatorChange **changes,
                                   size_t count);
/* A set-chain file: {"version": 1, "validator_changes": [...]}
 * (proofs.md). Reading takes the "validator_changes" of any object, a
 * proof.json of version 2 included; *changes is malloc'd, also on error.
 * Nothing in it is trusted: every change is checked from the genesis. */
int ledger_validator_changes_to_json(Witan__ValidatorChange *const *changes,
                                     size_t count, char **text, size_t *size);
int ledger_validator_changes_from_json(const char *text, size_t size,
                                       Witan__ValidatorChange ***changes,
                                       size_t *count, char *why,
                                       size_t why_size);

/* An RFC 6962 consistency proof between the history at two sizes (proof
 * holds WITAN_MERKLE_CONSISTENCY_COUNT_MAX), with both roots. */
int ledger_history_consistency(ledger *l, uint64_t old_size, uint64_t new_size,
                               wcrypto_digest *proof, size_t *proof_count,
                               uint8_t old_root[WITAN_HASH_SIZE],
                               uint8_t new_root[WITAN_HASH_SIZE], char *why,
                               size_t why_size);

/* --- proofs (spec/proofs.md) ---------------------------------------------- */

/* Version 1 proves blocks the genesis's validators certify; version 2
 * adds the validator-set changes up to its height (proofs.md), at most
 * LEDGER_PROOF_CHANGE_COUNT_MAX of them. A node writes version 1 when no
 * change is in force at or below h + L. */
#define LEDGER_PROOF_VERSION 1
#define LEDGER_PROOF_VERSION_SETS 2
#define LEDGER_PROOF_CHANGE_COUNT_MAX 256
/* An evidence bundle's own format version; its proofs carry theirs. */
#define LEDGER_EVIDENCE_VERSION 1

/* A proof of a transaction (and, for a record target, of the record it
 * last wrote). WITAN_ENOTFOUND with `why` when the target is unknown, or
 * its block is not yet followed by block h + L. Free with
 * witan__proof__free_unpacked. */
int ledger_prove(ledger *l, const Witan__ProofRequest *req, Witan__Proof **out,
                 char *why, size_t why_size);

/* Checks a proof with the genesis alone. 0 with one sentence saying what
 * it proved in `said`; WITAN_EPROOF (or WITAN_ESIG, WITAN_EDECODE) with
 * `why` naming the first step that fails. */
int ledger_proof_check(const Witan__Genesis *g, const Witan__Proof *p,
                       char *said, size_t said_size, char *why,
                       size_t why_size);

/* proof.json: the Proof with bytes in standard base64, as the proto3 JSON
 * mapping writes them (proofs.md). *text is
 * malloc'd and NUL-terminated. */
int ledger_proof_to_json(const Witan__Proof *p, char **text, size_t *size);
int ledger_proof_from_json(const char *text, size_t size, Witan__Proof **out,
                           char *why, size_t why_size);

/* A decision's evidence: proofs of the decision, its prediction, the
 * contract's deployment, the model's registration and every input
 * attestation's transaction (proofs.md, "Evidence"). */
#define LEDGER_EVIDENCE_PROOF_COUNT_MAX 64
/* The largest proof or evidence file an auditor reads. */
#define LEDGER_PROOF_FILE_SIZE_MAX (8 * 1024 * 1024)
int ledger_evidence_to_json(const Witan__Proof *const *proofs, size_t count,
                            char **text, size_t *size);
/* A proof.json (count 1) or an evidence bundle; *proofs is malloc'd and
 * so is each proof (witan__proof__free_unpacked), also on error. */
int ledger_evidence_from_json(const char *text, size_t size,
                              Witan__Proof ***proofs, size_t *count,
                              char *why, size_t why_size);
/* One proof, or a bundle: every proof, then every link of the chain. */
int ledger_evidence_check(const Witan__Genesis *g, Witan__Proof *const *proofs,
                          size_t count, char *said, size_t said_size,
                          char *why, size_t why_size);

/* --- queries (read transactions; results owned by the caller) -------------- */

/* Block `height` with its stored certificate and roots. WITAN_ENOTFOUND. */
int ledger_get_block(ledger *l, uint64_t height, Witan__BlockResponse **out);
void ledger_block_response_free(Witan__BlockResponse *r);

/* A transaction by hash: committed (with receipt) or unknown. */
int ledger_get_tx(ledger *l, const uint8_t hash[WITAN_HASH_SIZE],
                  Witan__TxResponse **out);
/* Whether a transaction with this hash is committed (one lookup; what
 * ledger_block_check calls "already committed"). */
int ledger_tx_committed(ledger *l, const uint8_t hash[WITAN_HASH_SIZE],
                        bool *committed);
void ledger_tx_response_free(Witan__TxResponse *r);

/* Attestations of feed and subject observed in [from, to], latest revision
 * of each key, at most `limit` (capped at WITAN_QUERY_PAGE_COUNT_MAX), from
 * `cursor` on; next_cursor is set when more remain. */
int ledger_query_attestations(ledger *l, const Witan__AttestationsRequest *req,
                              Witan__AttestationsResponse **out);
void ledger_attestations_response_free(Witan__AttestationsResponse *r);

/* The (feed, subject) pairs that have attestations, in key order, each
 * with its earliest observation time: all, or req->feed's only; at most
 * `limit` (capped at WITAN_QUERY_PAGE_COUNT_MAX), from `cursor` on.
 * Skips from one pair to the next, so a page costs one seek per pair
 * however many observations each has. WITAN_ELIMIT, WITAN_EINVAL (a cursor
 * that is no pair's). */
int ledger_query_feeds(ledger *l, const Witan__FeedsRequest *req,
                       Witan__FeedsResponse **out);
void ledger_feeds_response_free(Witan__FeedsResponse *r);

/* Model-output records of one model, in height order, optionally only
 * those triggered for `subject`, at most `limit`, from `cursor` on. */
int ledger_query_predictions(ledger *l, const Witan__PredictionsRequest *req,
                             Witan__PredictionsResponse **out);
void ledger_predictions_response_free(Witan__PredictionsResponse *r);
/* The sentence clients show for a prediction's problem (state holds only
 * its codes and numbers; spec/models.md gives the wording). Never fails:
 * an unknown reason is said to be unknown. */
void ledger_prediction_why(const Witan__PredictionProblem *p, char *out,
                           size_t out_size);

/* Registered models in hash order (without their bytes), or one by hash
 * (with them). WITAN_ENOTFOUND for an unknown hash. */
int ledger_query_models(ledger *l, const Witan__ModelsRequest *req,
                        Witan__ModelsResponse **out);
void ledger_models_response_free(Witan__ModelsResponse *r);

/* Decision contracts (spec/contracts.md). Contracts in id order (without
 * module and source), only those a model triggers with model_hash, or one
 * by id with everything; WITAN_ENOTFOUND for an unknown id. */
int ledger_query_contracts(ledger *l, const Witan__ContractsRequest *req,
                           Witan__ContractsResponse **out);
void ledger_contracts_response_free(Witan__ContractsResponse *r);
/* Decisions by contract, kind, subject or height, paged; with `id`, that
 * decision with its chain of evidence (contract, run, prediction, model,
 * input attestations). WITAN_ENOTFOUND for an unknown id. */
int ledger_query_decisions(ledger *l, const Witan__DecisionsRequest *req,
                           Witan__DecisionsResponse **out);
void ledger_decisions_response_free(Witan__DecisionsResponse *r);
/* The contract runs a transaction caused, with their decisions and events. */
int ledger_query_runs(ledger *l, const Witan__RunsRequest *req,
                      Witan__RunsResponse **out);
void ledger_runs_response_free(Witan__RunsResponse *r);
/* Proposals (spec/governance.md): in id order with their tally, or one by
 * id with its votes and events; with the parameters in force.
 * WITAN_ENOTFOUND for an unknown id. */
int ledger_query_proposals(ledger *l, const Witan__ProposalsRequest *req,
                           Witan__ProposalsResponse **out);
void ledger_proposals_response_free(Witan__ProposalsResponse *r);
/* A parameter by its genesis name: WITAN_ENOTFOUND for no such name,
 * WITAN_EUNSUPPORTED for one governance cannot change (`why` says why),
 * WITAN_ERANGE for a value its field cannot hold. */
int ledger_param_set(Witan__Params *p, const char *name, uint64_t value,
                     char *why, size_t why_size);
/* A model's scorecard with its recent sums, and its target.
 * WITAN_ENOTFOUND for an unknown model. */
int ledger_get_scorecard(ledger *l, const Witan__ScorecardRequest *req,
                         Witan__ScorecardResponse **out);
void ledger_scorecard_response_free(Witan__ScorecardResponse *r);
/* The sentence clients show for a run's end (state holds only codes):
 * "returned", "trapped: integer overflow at function 0, word 12", ... */
void ledger_run_why(const Witan__ContractRun *r, char *out, size_t out_size);

int ledger_get_account(ledger *l, const uint8_t addr[WITAN_ADDRESS_SIZE],
                       Witan__Account **out);
void ledger_account_free(Witan__Account *a);

#endif
