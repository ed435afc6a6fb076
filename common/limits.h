/*
 * Every named limit of Witan, in one place, with the relations between them
 * checked at compile time. A limit is checked where input enters (the decoder,
 * the admission rule, the loader); past it the caller gets WITAN_ELIMIT and
 * nothing is changed. Units come last in names: _size is bytes, _count is items,
 * _ms is milliseconds.
 *
 * Limits that reach state (they decide whether a transaction is valid) are
 * protocol constants or genesis parameters bounded by these maxima; changing
 * one is a protocol change.
 */
#ifndef WITAN_LIMITS_H
#define WITAN_LIMITS_H

/* The protocol version every header, home and peer must carry. */
#define WITAN_PROTOCOL_VERSION 1

/* --- encoding and crypto ------------------------------------------------ */

#define WITAN_HASH_SIZE 32
#define WITAN_ADDRESS_SIZE 20
#define WITAN_SIGNATURE_SIZE 64
#define WITAN_PUBKEY_SIZE_MAX 33 /* secp256k1 compressed; Ed25519 is 32 */
#define WITAN_CHAIN_ID_SIZE_MAX 64
#define WITAN_DOMAIN_TAG_SIZE_MAX 32

/* A Merkle proof has at most one hash per level of a 2^64-leaf tree. */
#define WITAN_MERKLE_PROOF_COUNT_MAX 64
/* Consistency proofs can need one more hash than inclusion proofs. */
#define WITAN_MERKLE_CONSISTENCY_COUNT_MAX (WITAN_MERKLE_PROOF_COUNT_MAX + 1)

/* Key files are small text files; anything larger is not one. */
#define WITAN_KEY_FILE_SIZE_MAX 1024

/* --- transactions and blocks ---------------------------------------------- */

#define WITAN_TX_SIZE_MAX (64 * 1024)
#define WITAN_BLOCK_TX_COUNT_MAX 10000
#define WITAN_BLOCK_SIZE_MAX (16 * 1024 * 1024)
#define WITAN_HEADER_SIZE_MAX 4096
#define WITAN_MESSAGE_SIZE_MAX (WITAN_BLOCK_SIZE_MAX + 64 * 1024)
#define WITAN_CLIENT_BATCH_COUNT_MAX 1000
#define WITAN_CLIENT_REQUEST_SIZE_MAX (8 * 1024 * 1024)

/* Attestations. */
#define WITAN_FEED_SIZE_MAX 128
#define WITAN_SUBJECT_SIZE_MAX 128
#define WITAN_UNIT_SIZE_MAX 32
#define WITAN_VALUE_NAME_SIZE_MAX 64
#define WITAN_ATTEST_VALUE_COUNT_MAX 32
#define WITAN_DECIMAL_SCALE_MAX 18

/* Genesis and membership. */
#define WITAN_VALIDATOR_COUNT_MAX 64
#define WITAN_MEMBER_COUNT_MAX 4096
#define WITAN_NAME_SIZE_MAX 64
#define WITAN_GENESIS_SIZE_MAX (1024 * 1024)

/* Queries take a limit and return a cursor; a page never exceeds this. */
#define WITAN_QUERY_PAGE_COUNT_MAX 1000

/* --- consensus ------------------------------------------------------------ */

#define WITAN_PIPELINE_DEPTH_MAX 8
#define WITAN_CHECKPOINT_INTERVAL_MAX 1024
/* Heights a replica keeps in its log above the stable checkpoint (the
 * distance between the low and the high water mark). */
#define WITAN_PBFT_WINDOW_MAX 2048
/* Messages for views the replica has not reached yet, kept until it does. */
#define WITAN_PBFT_FUTURE_COUNT_MAX 256
/* Pairs of conflicting signed messages kept as equivocation evidence. */
#define WITAN_PBFT_EVIDENCE_COUNT_MAX 64
/* Certified blocks asked for or sent in one state-transfer exchange. */
#define WITAN_PBFT_STATE_BLOCK_COUNT_MAX 64
/* The ceiling a configuration may give the view-change timer: never hours. */
#define WITAN_PBFT_VIEW_TIMEOUT_MS_MAX (10 * 60 * 1000)

/* --- vm --------------------------------------------------------------------- */

/* --- inference ------------------------------------------------------------- */

/* --- node ------------------------------------------------------------------- */

/* --- relations ------------------------------------------------------------ */

_Static_assert(WITAN_TX_SIZE_MAX <= WITAN_BLOCK_SIZE_MAX,
               "a block must hold at least one transaction of maximum size");
_Static_assert((long long)WITAN_BLOCK_TX_COUNT_MAX * 1 <= WITAN_BLOCK_SIZE_MAX,
               "a block's count limit must be reachable within its size");
_Static_assert(WITAN_BLOCK_SIZE_MAX + WITAN_HEADER_SIZE_MAX <
                   WITAN_MESSAGE_SIZE_MAX,
               "a full block and its header fit in one message");
_Static_assert((long long)WITAN_CLIENT_BATCH_COUNT_MAX * 64 <=
                   WITAN_CLIENT_REQUEST_SIZE_MAX,
               "a batch of small transactions fits in one request");
_Static_assert(WITAN_CLIENT_REQUEST_SIZE_MAX <= WITAN_MESSAGE_SIZE_MAX,
               "a client request fits in one message");
_Static_assert(WITAN_VALIDATOR_COUNT_MAX <= 64,
               "commit certificates carry signers as a 64-bit bitmap");
_Static_assert(WITAN_PUBKEY_SIZE_MAX >= 32, "an Ed25519 key must fit");
_Static_assert(WITAN_PBFT_WINDOW_MAX >=
                   WITAN_CHECKPOINT_INTERVAL_MAX + WITAN_PIPELINE_DEPTH_MAX,
               "the log window must reach the next checkpoint with a full "
               "pipeline in flight");

#endif
