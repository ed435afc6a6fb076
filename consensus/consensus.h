/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consensus — PBFT (Castro and Liskov) as a pure state machine.
 *
 * A replica is a `pbft` value. Everything enters through pbft_step() as an
 * event (a message from a peer, a timer that fired, the node's answer to an
 * earlier action); everything leaves as a list of actions the caller takes
 * with pbft_ready() and acknowledges with pbft_advance(). The core does no
 * I/O: no sockets, clock, threads, randomness or files. Time enters only as
 * timer events; the node carries out every effect (spec/consensus.md).
 *
 * The caller's contract, per Ready:
 *   1. Carry out the actions in the order given. A PBFT_ACT_PERSIST must be
 *      durable (fsync) before any later action of the same Ready is carried
 *      out: the core always places the record of a message before its send,
 *      so this is "persist before send", and a crash at any point can never
 *      make the replica contradict what it sent. A lazy one (`lazy`) must
 *      be written, in order with the others, before any later action, and
 *      be durable once a later PERSIST that is not lazy, or a
 *      PBFT_ACT_STABLE, has been carried out: the core marks lazy only a
 *      proposal or a prepare whose loss its boot rule covers (pbft_new).
 *   2. Pointers inside actions stay valid until pbft_advance(); copy what you
 *      keep.
 *   3. Answers (PBFT_EV_EXECUTED, PBFT_EV_VERDICT, PBFT_EV_PROPOSAL,
 *      PBFT_EV_BLOCKS_READ) may come in later steps, in any interleaving with
 *      messages; the core tolerates answers that no longer matter.
 *   4. Blocks are delivered (PBFT_ACT_DELIVER) in height order, each once;
 *      the node executes them in that order and reports each with
 *      PBFT_EV_EXECUTED.
 *
 * The core orders opaque blocks: it builds and checks the header of
 * spec/witan.proto (height, view, prev_hash, history_root, proposer, the
 * results of block h − L and its certificate) but never looks inside
 * transactions; the node builds the transaction list (PBFT_ACT_BUILD) and
 * judges a proposal's contents (PBFT_ACT_VALIDATE).
 *
 * Memory: pbft_new allocates everything the replica needs for its window;
 * messages and blocks are copied in; no pointer given to pbft_step is kept.
 */
#ifndef WITAN_CONSENSUS_H
#define WITAN_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "crypto/crypto.h"

typedef struct pbft pbft;

/* Signature scheme. ED25519 is the protocol. TEST_HASH is for the simulator
 * only: a keyless hash "signature" that is checked the same way but costs a
 * hash instead of a curve operation, so that hundreds of thousands of seeds
 * can run; spec/consensus.md says so. A node never sets it. */
enum pbft_sig_scheme {
    PBFT_SIG_ED25519 = 0,
    PBFT_SIG_TEST_HASH = 1,
};

/* Test-only flags that break the protocol, so the simulator can show it
 * catches a broken replica. Zero in every real configuration. */
enum pbft_test_flag {
    /* Commit on f + 1 matching commits instead of a quorum. */
    PBFT_TEST_WEAK_COMMIT = 1u << 0,
    /* Forget prepared certificates when building a view change. */
    PBFT_TEST_DROP_PREPARED = 1u << 1,
    /* Propose and prepare in the view the replica booted in, though a
     * lazy record of what it sent there may have been lost. */
    PBFT_TEST_NO_BOOT_MUTE = 1u << 2,
};

typedef struct pbft_config {
    const char *chain_id;          /* copied */
    uint32_t validator_count;      /* n, 1..WITAN_VALIDATOR_COUNT_MAX */
    const wcrypto_pubkey *validators; /* n Ed25519 keys, copied */
    uint32_t self;                 /* this replica's index */
    const wcrypto_keypair *key;    /* copied; must match validators[self] */
    uint32_t pipeline_depth;       /* L, 1..WITAN_PIPELINE_DEPTH_MAX */
    uint32_t checkpoint_interval;  /* K, 1..WITAN_CHECKPOINT_INTERVAL_MAX */
    uint32_t window;               /* W: high − low water mark; a multiple of
                                      K, at least K + L, at most
                                      WITAN_PBFT_WINDOW_MAX; 0 means 2K + L
                                      rounded up to a multiple of K */
    uint32_t view_timeout_ms;      /* first view-change timeout */
    uint32_t view_timeout_max_ms;  /* ceiling of the doubling */
    uint32_t retransmit_ms;        /* period of status and retransmission */
    uint32_t state_block_count;    /* blocks per state request, 1..max */
    enum pbft_sig_scheme sig_scheme;
    uint32_t test_flags;           /* enum pbft_test_flag; 0 in production */
    /* After a validator-set change: `validators` is in force from
     * set_from on and prev_validators (prev_validator_count keys) below
     * it, for the certificates of earlier heights. Zero: none. */
    uint64_t set_from;
    const wcrypto_pubkey *prev_validators;
    uint32_t prev_validator_count;
    /* The root of a block's transactions as its header's txs_root holds it
     * (witand: ledger_txs_root). A block fetched by state transfer is
     * delivered only when its transactions give its header's root: its
     * certificate covers the header alone, and a peer could swap the body.
     * Must be set. */
    int (*txs_root)(const uint8_t *const *txs, const size_t *sizes,
                    size_t count, uint8_t root[WCRYPTO_HASH_SIZE]);
} pbft_config;

/* A commit certificate (spec/witan.proto CommitCertificate, decoded). */
typedef struct pbft_cert {
    uint64_t view;
    uint64_t height;
    uint8_t block_hash[WCRYPTO_HASH_SIZE];
    uint64_t signers; /* bit i: validator i */
    uint32_t sig_count;
    uint8_t sigs[WITAN_VALIDATOR_COUNT_MAX][WCRYPTO_SIG_SIZE]; /* by index */
} pbft_cert;

/* The results of one executed block, as the boot state carries them. */
typedef struct pbft_result {
    uint64_t height;
    uint8_t block_hash[WCRYPTO_HASH_SIZE];
    uint8_t state_root[WCRYPTO_HASH_SIZE];
    uint8_t receipts_root[WCRYPTO_HASH_SIZE];
    int64_t time_ms;
    pbft_cert cert;
} pbft_result;

typedef struct pbft_bytes {
    const uint8_t *data;
    size_t size;
} pbft_bytes;

/*
 * What the node knows at start: the last executed block and the results of
 * the L blocks up to it (oldest first), its stable checkpoint with its proof,
 * and the records it persisted (PBFT_ACT_PERSIST, in order). A fresh chain is
 * all zeros (height 0, the genesis hash as block_hash).
 */
typedef struct pbft_boot {
    uint64_t height;
    uint8_t block_hash[WCRYPTO_HASH_SIZE];
    int64_t time_ms;
    wcrypto_history history; /* over the hashes of blocks 1..height */
    const pbft_result *results;
    uint32_t result_count; /* min(height, L) */
    uint64_t stable_height;
    uint8_t stable_state_root[WCRYPTO_HASH_SIZE];
    const pbft_bytes *stable_proof; /* signed Checkpoint messages */
    uint32_t stable_proof_count;
    const pbft_bytes *records;
    size_t record_count;
    /* The records hold every message the replica sent, lazy ones
     * included: it stopped cleanly (spec/node.md). No boot rule then. */
    bool clean_stop;
} pbft_boot;

enum pbft_timer {
    PBFT_TIMER_VIEW = 0,       /* view change */
    PBFT_TIMER_RETRANSMIT = 1, /* status and retransmission */
    PBFT_TIMER_COUNT = 2,
};

enum pbft_event_type {
    PBFT_EV_MESSAGE = 1,   /* bytes of a SignedMessage from the network */
    PBFT_EV_TIMER,         /* a timer the core set has fired */
    PBFT_EV_REQUESTS,      /* how many requests wait in the node's pool */
    PBFT_EV_PROPOSAL,      /* answer to PBFT_ACT_BUILD */
    PBFT_EV_VERDICT,       /* answer to PBFT_ACT_VALIDATE */
    PBFT_EV_EXECUTED,      /* a delivered block was executed */
    PBFT_EV_BLOCKS_READ,   /* answer to PBFT_ACT_READ_BLOCKS */
};

typedef struct pbft_certified_block {
    pbft_bytes block;
    const pbft_cert *cert;
} pbft_certified_block;

typedef struct pbft_event {
    enum pbft_event_type type;
    union {
        pbft_bytes message;
        enum pbft_timer timer;
        uint64_t request_count;
        struct {
            uint64_t height;
            int64_t time_ms;        /* the primary's clock, for the header */
            uint8_t txs_root[WCRYPTO_HASH_SIZE];
            const pbft_bytes *txs;  /* exact Envelope bytes */
            uint32_t tx_count;
            /* NULL, or the 32-byte hash block `height` must name as its
             * next_validators_hash: it ends a validator set (the
             * application knows; consensus.md, "Validity"). */
            const uint8_t *next_validators_hash;
        } proposal;
        struct {
            uint64_t height;
            uint8_t block_hash[WCRYPTO_HASH_SIZE];
            bool valid;
        } verdict;
        struct {
            uint64_t height;
            uint8_t state_root[WCRYPTO_HASH_SIZE];
            uint8_t receipts_root[WCRYPTO_HASH_SIZE];
        } executed;
        struct {
            uint32_t peer;
            const pbft_certified_block *blocks;
            uint32_t count;
        } blocks_read;
    } u;
} pbft_event;

#define PBFT_TO_ALL UINT32_MAX

enum pbft_action_type {
    PBFT_ACT_PERSIST = 1, /* make `data` durable before the next action
                             (written now, durable later when `lazy`) */
    PBFT_ACT_SEND,        /* send `data` to peer `to` or to all others */
    PBFT_ACT_DELIVER,     /* execute committed block `height` */
    PBFT_ACT_BUILD,       /* build the transaction list of block `height` */
    PBFT_ACT_VALIDATE,    /* judge the contents of proposal `height` */
    PBFT_ACT_READ_BLOCKS, /* read certified blocks for peer `to` */
    PBFT_ACT_SET_TIMER,   /* (re)arm timer to fire after `ms` */
    PBFT_ACT_CANCEL_TIMER,
    PBFT_ACT_STABLE,      /* checkpoint `height` is stable (to be durable,
                             with every record written before it, before
                             the next action: the boot rule counts on it):
                             persisted records
                             of lower heights may go; `data` is its proof,
                             (count of SignedMessages, each length-prefixed
                             by 4 bytes big-endian) for pbft_boot */
    PBFT_ACT_FORK,        /* own state root differs from a stable checkpoint:
                             execution stopped; evidence in the fields */
    PBFT_ACT_FORWARD,     /* the view timer is half gone: send the requests
                             this replica holds to `to` (every other replica,
                             the primary included) before suspecting it */
};

typedef struct pbft_action {
    enum pbft_action_type type;
    uint32_t to;                 /* SEND, READ_BLOCKS */
    uint64_t height;             /* DELIVER, BUILD, VALIDATE, STABLE, FORK,
                                    READ_BLOCKS (first height) */
    uint32_t count;              /* READ_BLOCKS */
    pbft_bytes data;             /* PERSIST, SEND, DELIVER/VALIDATE (block),
                                    STABLE (proof) */
    bool lazy;                   /* PERSIST: durable with the next sync */
    uint8_t block_hash[WCRYPTO_HASH_SIZE]; /* DELIVER, VALIDATE */
    const pbft_cert *cert;       /* DELIVER */
    enum pbft_timer timer;       /* SET_TIMER, CANCEL_TIMER */
    uint64_t ms;                 /* SET_TIMER */
    uint8_t own_root[WCRYPTO_HASH_SIZE];    /* FORK */
    uint8_t stable_root[WCRYPTO_HASH_SIZE]; /* FORK, STABLE */
} pbft_action;

typedef struct pbft_ready {
    const pbft_action *actions;
    size_t count;
} pbft_actions;

/* Why messages were dropped; pbft_stats counts each. */
enum pbft_drop {
    PBFT_DROP_DECODE = 0,   /* malformed or wrong chain id */
    PBFT_DROP_UNKNOWN_KEY,  /* sender outside the validator set */
    PBFT_DROP_BAD_SIG,
    PBFT_DROP_PAST_VIEW,
    PBFT_DROP_WATERMARK,    /* height outside the water marks */
    PBFT_DROP_CONFLICT,     /* contradicts what the sender said before */
    PBFT_DROP_INVALID,      /* well signed but breaks a protocol rule */
    PBFT_DROP_BUFFER_FULL,  /* later view, buffer full */
    PBFT_DROP_BUDGET,       /* would decode to more than its budget */
    PBFT_DROP_COUNT
};

typedef struct pbft_stats {
    uint64_t dropped[PBFT_DROP_COUNT];
    uint64_t evidence_count;   /* conflicting pairs seen (kept up to a limit) */
    uint64_t view_changes;     /* views this replica moved to */
    uint64_t suspicions;       /* Suspects this replica sent */
    uint64_t forwards;         /* times it forwarded its requests */
    uint64_t delivered;        /* blocks delivered */
    uint64_t state_transfers;  /* blocks delivered by state transfer */
    uint64_t bad_proposals;    /* proposals refused (verdict, roots, links) */
} pbft_stats;

/* Two signed messages from one validator that contradict each other. */
typedef struct pbft_evidence {
    uint32_t validator;
    pbft_bytes first;  /* SignedMessage bytes, owned by the replica */
    pbft_bytes second;
} pbft_evidence;

/*
 * Creates a replica. WITAN_ECONFIG when the configuration is inconsistent (a
 * count or interval out of range, a key that is not validators[self]),
 * WITAN_EDECODE when a boot record or proof does not decode, WITAN_ENOMEM.
 * The caller frees *out with pbft_free. The first Ready arms the timers.
 *
 * The boot rule: a replica of several that restores any message of its
 * own, and did not stop cleanly, sends no new proposal or prepare in the
 * view it boots in (its boot view; pbft_boot_muted) for a height up to its
 * boot's stable checkpoint plus the window (pbft_boot_mute_height); it
 * still commits what it sees prepared, and votes normally above that
 * height and from the next view on. A lazy record it sent may have been
 * lost by a power loss, and without the rule it could contradict it.
 */
int pbft_new(const pbft_config *cfg, const pbft_boot *boot, pbft **out);
/* Whether the boot rule holds the replica silent for its next height. */
bool pbft_boot_muted(const pbft *r);
/* The last height the boot rule covers in the boot view; 0: no rule. */
uint64_t pbft_boot_mute_height(const pbft *r);
/* Frees the replica and wipes its key; NULL is allowed. */
void pbft_free(pbft *r);

/*
 * Feeds one event. Returns 0 when the event was taken (a dropped message is
 * counted, not an error; a late or stale answer is ignored); WITAN_EINVAL for
 * an event that breaks the contract (unknown type or timer, NULL data, an
 * EXECUTED that is not the next delivered height, more blocks than asked);
 * WITAN_ENOMEM. After an error the replica must be discarded and booted
 * again from what the node persisted. Nothing of `ev` is kept.
 */
int pbft_step(pbft *r, const pbft_event *ev);

/* The actions produced since the last pbft_advance. Never fails. */
void pbft_ready(pbft *r, pbft_actions *out);
/* Acknowledges the last Ready: its actions are carried out. */
void pbft_advance(pbft *r);

/*
 * A validator-set change effective at height `from_height` (one above a
 * multiple of K). The replica proposes and prepares nothing at or above it
 * until the checkpoint below it is stable, then switches (view unchanged);
 * when that checkpoint is its stable one already (a lagging replica learned
 * it from its peers), it switches at once. WITAN_ERANGE when from_height is
 * not on a boundary, is below the stable checkpoint's next height, or is not
 * above what the replica proposed or delivered; WITAN_ECONFIG for a bad
 * set, WITAN_ESTATE when one is pending.
 * `self` is this replica's index in the new set, or UINT32_MAX if it leaves.
 * `key`, when not NULL, is a rotated key: the one at `self` in the new set,
 * which the replica signs with from the switch on (the old key is wiped
 * then and signs nothing at or above from_height); NULL keeps the key.
 */
int pbft_set_validators(pbft *r, uint64_t from_height,
                        const wcrypto_pubkey *validators, uint32_t count,
                        uint32_t self, const wcrypto_keypair *key);

/* The first height of the set in force (0: the initial one), whether a
 * change handed by pbft_set_validators waits for its boundary, and whether
 * this replica is in the set in force. Never fail. */
uint64_t pbft_set_from(const pbft *r);
bool pbft_change_pending(const pbft *r);
bool pbft_is_member(const pbft *r);

/* Read-only views. Never fail. An evidence pair belongs to the replica and
 * lives until pbft_free; pbft_evidence_at returns NULL past the count. */
void pbft_get_stats(const pbft *r, pbft_stats *out);
uint64_t pbft_view(const pbft *r);
bool pbft_in_view_change(const pbft *r);
uint64_t pbft_delivered_height(const pbft *r);
/* The block this replica holds at `height` with its pre-prepare (the
 * view's proposal, or a committed block still inside the water marks):
 * a node building block h while h − L + 1 … h − 1 are in flight leaves
 * their transactions out. The bytes belong to the replica and stay valid
 * until the next pbft_step. WITAN_ENOTFOUND when it holds none. */
int pbft_block_at(const pbft *r, uint64_t height, pbft_bytes *out);
uint64_t pbft_stable_height(const pbft *r);
/* The highest delivered height a validator has claimed in a valid (signed)
 * Status since this replica started, 0 before the first; and how many such
 * Statuses came (the caller tells fresh news from stale by its change). A
 * claim, not a proof: a faulty validator can overstate it. */
uint64_t pbft_peer_delivered_height(const pbft *r, uint64_t *status_count);
bool pbft_halted(const pbft *r); /* stopped on a fork */
size_t pbft_evidence_count(const pbft *r);
const pbft_evidence *pbft_evidence_at(const pbft *r, size_t index);

/* f = ⌊(n−1)/3⌋ and quorum = ⌈(n+f+1)/2⌉. */
uint32_t pbft_faults(uint32_t n);
uint32_t pbft_quorum(uint32_t n);

/* --- wire helpers (also used by tests to act as a peer) ------------------ */

/* The block hash: H("witan/block/v1", header bytes) of an encoded Block.
 * WITAN_EDECODE when `block` is not a Block. */
int pbft_block_hash(const uint8_t *block, size_t size,
                    uint8_t out[WCRYPTO_HASH_SIZE]);

/* What a commit signs: H("witan/vote/v1", canonical Vote). Never fails. */
void pbft_vote_digest(const char *chain_id, uint64_t height, uint64_t view,
                      const uint8_t block_hash[WCRYPTO_HASH_SIZE],
                      uint8_t out[WCRYPTO_HASH_SIZE]);

enum pbft_msg_kind {
    PBFT_MSG_PRE_PREPARE = 10,
    PBFT_MSG_PREPARE = 11,
    PBFT_MSG_COMMIT = 12,
    PBFT_MSG_CHECKPOINT = 13,
    PBFT_MSG_VIEW_CHANGE = 14,
    PBFT_MSG_NEW_VIEW = 15,
    PBFT_MSG_STATUS = 16,
    PBFT_MSG_STATE_REQUEST = 17,
    PBFT_MSG_STATE_RESPONSE = 18,
    PBFT_MSG_SUSPECT = 19,
};

/* A simple message to sign: pre-prepare (view, height, block), prepare and
 * commit (view, height, hash), checkpoint (height, hash = state root),
 * status (view, height = delivered, aux = stable). */
typedef struct pbft_msg {
    enum pbft_msg_kind kind;
    uint64_t view;
    uint64_t height;
    uint64_t aux;
    uint8_t hash[WCRYPTO_HASH_SIZE];
    pbft_bytes block;
} pbft_msg;

/*
 * Encodes and signs `m` as validator `sender` with `key` under `scheme`.
 * *out is malloc'ed, the caller frees it. WITAN_EINVAL for a kind this helper
 * does not build, WITAN_ENOMEM.
 */
int pbft_msg_sign(const char *chain_id, enum pbft_sig_scheme scheme,
                  const wcrypto_keypair *key, uint32_t sender,
                  const pbft_msg *m, uint8_t **out, size_t *out_size);

/* Checks a certificate: signers inside the set of n, at least a quorum of
 * them, and every signature valid over the Vote. WITAN_ECONSENSUS. */
int pbft_cert_verify(const char *chain_id, enum pbft_sig_scheme scheme,
                     const wcrypto_pubkey *validators, uint32_t n,
                     const pbft_cert *cert);

/* pbft_cert_verify that says in `why` (may be NULL) what was wrong. */
int pbft_cert_check(const char *chain_id, enum pbft_sig_scheme scheme,
                    const wcrypto_pubkey *validators, uint32_t n,
                    const pbft_cert *cert, char *why, size_t why_size);

/* pbft_cert_check given `known` (may be NULL), a certificate of the same
 * vote already found valid under the same validators: a signature equal
 * to known's by the same signer is not checked again (Ed25519 signatures
 * are deterministic, so each validator's vote has one signature). The
 * verdict is pbft_cert_check's. */
int pbft_cert_check_known(const char *chain_id, enum pbft_sig_scheme scheme,
                          const wcrypto_pubkey *validators, uint32_t n,
                          const pbft_cert *cert, const pbft_cert *known,
                          char *why, size_t why_size);

/* The longest signer bitmap: one bit per validator. */
#define PBFT_SIGNERS_SIZE_MAX ((WITAN_VALIDATOR_COUNT_MAX + 7) / 8)

/* The one decoder of a CommitCertificate (spec/consensus.md, "Canonical
 * certificates"): refuses every form pbft_cert_encode would not write (an
 * empty bitmap or one ending in a zero byte, signatures not one per signer,
 * unknown fields, wrong sizes). WITAN_EDECODE, with `why` (may be NULL). */
struct Witan__CommitCertificate;
int pbft_cert_from_proto(const struct Witan__CommitCertificate *c,
                         pbft_cert *out, char *why, size_t why_size);

/* The one decoder of a Block and its header (spec/encoding.md, "Canonical
 * blocks"), used by the core and the ledger alike: the block and its header
 * must each re-encode to exactly the bytes given (no unknown field, no field
 * twice or out of order, no zero written out), and the header be 1 to
 * WITAN_HEADER_SIZE_MAX bytes. Nothing else is checked. On success the
 * caller frees *b and *h (witan__block__free_unpacked and
 * witan__block_header__free_unpacked). WITAN_EDECODE with `why` (may be
 * NULL), WITAN_ENOMEM. */
struct Witan__Block;
struct Witan__BlockHeader;
int pbft_block_decode(const uint8_t *block, size_t size,
                      struct Witan__Block **b, struct Witan__BlockHeader **h,
                      char *why, size_t why_size);

/* A CommitCertificate's bytes (spec/witan.proto). *out is malloc'ed. */
int pbft_cert_encode(const pbft_cert *cert, uint8_t **out, size_t *out_size);

const char *pbft_drop_name(enum pbft_drop reason);

#endif
