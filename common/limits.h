/* SPDX-License-Identifier: Apache-2.0 */
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

/* JSON documents people edit (genesis, configuration). */
#define WITAN_JSON_SIZE_MAX (4 * 1024 * 1024)
#define WITAN_JSON_DEPTH_MAX 32
#define WITAN_JSON_NODE_COUNT_MAX 200000

/* --- transactions and blocks ---------------------------------------------- */

/* A chain's tx_size_max: its default, and the most a genesis may set (a
 * 48 KiB contract module with its source text needs more than the default). */
#define WITAN_TX_SIZE_DEFAULT (64 * 1024)
#define WITAN_TX_SIZE_MAX (1024 * 1024)
#define WITAN_BLOCK_TX_COUNT_MAX 10000
#define WITAN_BLOCK_SIZE_MAX (16 * 1024 * 1024)
#define WITAN_HEADER_SIZE_MAX 4096
#define WITAN_MESSAGE_SIZE_MAX (WITAN_BLOCK_SIZE_MAX + 64 * 1024)
#define WITAN_CLIENT_BATCH_COUNT_MAX 1000
#define WITAN_CLIENT_REQUEST_SIZE_MAX (8 * 1024 * 1024)
#define WITAN_HTTP_BODY_SIZE_MAX WITAN_CLIENT_REQUEST_SIZE_MAX /* refused unread */
/* POST /v1/tx?wait=MS: the longest one submission waits for its commit
 * over HTTP, and how many may wait at once (past it they answer at once,
 * as a wait that timed out would). */
#define WITAN_HTTP_WAIT_MS_MAX 30000
#define WITAN_HTTP_WAIT_COUNT_MAX 1024
/* A status request on the stream API that waits for the height to move:
 * the longest wait, and how many may wait at once in one node and from
 * one stream (past either they are refused with WITAN_EFULL). */
#define WITAN_STATUS_WAIT_MS_MAX 30000
#define WITAN_STATUS_WAIT_COUNT_MAX 1024
#define WITAN_STATUS_WAIT_STREAM_MAX 256

/* Attestations. */
#define WITAN_FEED_SIZE_MAX 128
#define WITAN_SUBJECT_SIZE_MAX 128
#define WITAN_UNIT_SIZE_MAX 32
#define WITAN_VALUE_NAME_SIZE_MAX 64
#define WITAN_ATTEST_VALUE_COUNT_MAX 32
#define WITAN_DECIMAL_SCALE_MAX 18
/* CSV (common/csv.c): one record's fields, unquoted, and their count. */
#define WITAN_CSV_RECORD_SIZE_MAX 65536
#define WITAN_CSV_FIELD_COUNT_MAX 1024

/* Genesis and membership. */
#define WITAN_VALIDATOR_COUNT_MAX 64
#define WITAN_MEMBER_COUNT_MAX 4096
#define WITAN_NAME_SIZE_MAX 64
#define WITAN_GENESIS_SIZE_MAX (1024 * 1024)

/* Governance (spec/governance.md): actions of one proposal, its rationale,
 * how far ahead its deadline may be, and proposals open at once (the tally
 * reads each open one at every block end). */
#define WITAN_GOV_ACTION_COUNT_MAX 16
#define WITAN_GOV_RATIONALE_SIZE_MAX 1024
#define WITAN_GOV_DEADLINE_MAX 1000000
#define WITAN_GOV_OPEN_COUNT_MAX 64

/* Gas: model scoring per block and per score are genesis parameters below
 * this; sums of gas stay far from overflow. */
#define WITAN_GAS_MAX (1ull << 40)

/* Models on chain: bindings and triggers of one registration. */
#define WITAN_MODEL_WINDOW_MAX 64
#define WITAN_MODEL_TRIGGER_COUNT_MAX 16
#define WITAN_MODEL_CACHE_COUNT 16

/* Queries take a limit and return a cursor; a page never exceeds this. */
#define WITAN_QUERY_PAGE_COUNT_MAX 1000

/* --- storage --------------------------------------------------------------- */

/* LMDB's compiled-in key limit. */
#define WITAN_STORE_KEY_SIZE_MAX 511
/* State-table writes of one block, keys and values together. */
#define WITAN_WRITE_SET_SIZE_MAX (256 * 1024 * 1024)
#define WITAN_MAP_SIZE_DEFAULT (1024ull * 1024 * 1024)
#define WITAN_MAP_SIZE_MAX_DEFAULT (64ull * 1024 * 1024 * 1024)

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

/* A module travels inside a deploy transaction, with room left for the rest. */
#define WITAN_VM_MODULE_SIZE_MAX (48 * 1024)
#define WITAN_VM_CONST_COUNT_MAX 1024   /* int constants; bytes constants alike */
#define WITAN_VM_IMPORT_COUNT_MAX 64
#define WITAN_VM_FUNC_COUNT_MAX 256
#define WITAN_VM_EXPORT_COUNT_MAX 64
#define WITAN_VM_NAME_SIZE_MAX 32
/* Registers per frame: operands are 8-bit register numbers. */
#define WITAN_VM_REG_COUNT_MAX 256
#define WITAN_VM_PARAM_COUNT_MAX 16
/* Code words per function; gas blocks can at most double it internally and
 * 16-bit signed jump offsets must still reach every word. */
#define WITAN_VM_FUNC_WORDS_MAX 8192
/* Run time: register slots over all frames, frames, bytes values. */
#define WITAN_VM_STACK_SLOT_COUNT_MAX 65536
#define WITAN_VM_CALL_DEPTH_MAX 512
#define WITAN_VM_MEMORY_SIZE_MAX (1024 * 1024)  /* bytes made in one call */
#define WITAN_VM_BYTES_COUNT_MAX 65536          /* bytes values made in one call */
#define WITAN_VM_BYTES_SIZE_MAX (64 * 1024)     /* one bytes value */
/* Gas: the most one call may be given, and one host function's price. */
#define WITAN_VM_GAS_MAX (1ULL << 48)
#define WITAN_VM_HOST_GAS_MAX 1000000
/* The largest static cost of one instruction (spec/vm.md's table): a call
 * costs 4 plus one per 16 registers of the callee's frame. */
#define WITAN_VM_OP_COST_MAX (4 + WITAN_VM_REG_COUNT_MAX / 16)
/* Decision contracts (spec/contracts.md). */
#define WITAN_CONTRACT_TRIGGER_COUNT_MAX 16
#define WITAN_MODEL_CONTRACT_COUNT_MAX 64      /* contracts listening to one model */
#define WITAN_CONTRACT_LANGUAGE_SIZE_MAX 32
#define WITAN_CONTRACT_COMPILER_SIZE_MAX 64
#define WITAN_CONTRACT_KEY_SIZE_MAX 64
#define WITAN_CONTRACT_VALUE_SIZE_MAX 1024
#define WITAN_CONTRACT_STORAGE_COUNT_MAX 4096   /* keys of one contract */
#define WITAN_CONTRACT_STORAGE_SIZE_MAX (256 * 1024) /* their keys and values */
#define WITAN_CONTRACT_RUN_WRITE_COUNT_MAX 64
#define WITAN_CONTRACT_RUN_DECISION_COUNT_MAX 16
#define WITAN_CONTRACT_RUN_EVENT_COUNT_MAX 16
#define WITAN_DECISION_KIND_SIZE_MAX 64          /* also an event's topic */
#define WITAN_DECISION_SUBJECT_SIZE_MAX 128
#define WITAN_DECISION_VALUE_COUNT_MAX 16
#define WITAN_DECISION_DATA_SIZE_MAX 1024
#define WITAN_CONTRACT_CACHE_COUNT 16            /* loaded modules kept */
#define WITAN_CONTRACT_FEED_SCAN_MAX 256         /* observations feed_* look back */
/* Scorecards: the recent window (default and most) and the predictions one
 * observation resolves at most (the rest stay waiting). */
#define WITAN_SCORECARD_WINDOW_DEFAULT 24
#define WITAN_SCORECARD_WINDOW_MAX 1024
#define WITAN_RESOLVE_COUNT_MAX 1024
#define WITAN_TARGET_HORIZON_MS_MAX 3155760000000LL /* 100 years */
/* Tools: assembly text, its names (labels, functions, constants) and the
 * tokens of one line (a .regs line lists up to 256 types). */
#define WITAN_VM_ASM_TEXT_SIZE_MAX (1024 * 1024)
#define WITAN_VM_ASM_NAME_SIZE_MAX 64
#define WITAN_VM_ASM_LINE_TOKEN_COUNT_MAX 300
/* The test host (tests, benchmark, `witan contract run`; never a ledger). */
#define WITAN_VM_TESTHOST_ENTRY_COUNT_MAX (4 * 1024 * 1024)
#define WITAN_VM_TESTHOST_LOG_SIZE_MAX (64 * 1024)

/* --- inference ------------------------------------------------------------- */

/* spec/models.md proves the accumulators cannot overflow within these. */
#define WITAN_MODEL_SIZE_MAX (4 * 1024 * 1024)   /* encoded Model bytes */
#define WITAN_MODEL_INPUT_COUNT_MAX 1024
#define WITAN_MODEL_WIDTH_MAX 1024               /* dense layer inputs/outputs */
#define WITAN_MODEL_LAYER_COUNT_MAX 16
#define WITAN_MODEL_PARAM_COUNT_MAX (1024 * 1024) /* weights + leaf values */
#define WITAN_MODEL_OUTPUT_COUNT_MAX 256          /* scores and classes */
#define WITAN_MODEL_TREE_COUNT_MAX 1024
#define WITAN_MODEL_TREE_NODE_COUNT_MAX 65535    /* per tree */
#define WITAN_MODEL_NODE_COUNT_MAX (1024 * 1024) /* all trees */
#define WITAN_MODEL_TREE_DEPTH_MAX 32            /* edges root to leaf */
#define WITAN_MODEL_NAME_SIZE_MAX 64             /* model, input, output names */
#define WITAN_MODEL_INPUT_ABS_MAX (1LL << 46)    /* |raw input|, |offset|, |threshold| */
#define WITAN_MODEL_BIAS_ABS_MAX (1LL << 46)     /* |bias|, |base value| */
#define WITAN_MODEL_FRAC_BITS_MAX 30             /* input, weight, output frac bits */
#define WITAN_MODEL_ACT_FRAC_BITS_MAX 14         /* int16 activations */

/* --- node ------------------------------------------------------------------- */

/* A decision's id as clients see it: its key, contract id ‖ be64(height) ‖
 * be32(sequence) (spec/contracts.md, table 17); a decisions cursor is at
 * most an index key, 'k' or 's' ‖ u8 length ‖ kind or subject ‖ that key. */
#define WITAN_DECISION_ID_SIZE (WITAN_HASH_SIZE + 12)
#define WITAN_DECISION_CURSOR_SIZE_MAX (2 + 255 + WITAN_DECISION_ID_SIZE)

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
_Static_assert(WITAN_MODEL_INPUT_COUNT_MAX <= WITAN_MODEL_WIDTH_MAX,
               "the first layer's input count is a layer width");
_Static_assert((long long)WITAN_MODEL_WIDTH_MAX * 32767 * 32767 +
                       WITAN_MODEL_BIAS_ABS_MAX < (1LL << 62),
               "a dense accumulator cannot overflow (spec/models.md)");
_Static_assert((long long)WITAN_MODEL_TREE_COUNT_MAX * 2147483647LL +
                       WITAN_MODEL_BIAS_ABS_MAX < (1LL << 62),
               "a tree-sum accumulator cannot overflow (spec/models.md)");
_Static_assert(2 * WITAN_MODEL_INPUT_ABS_MAX * 32767 < (1LL << 62),
               "a normalisation product cannot overflow (spec/models.md)");
_Static_assert(WITAN_MODEL_TREE_NODE_COUNT_MAX <= WITAN_MODEL_NODE_COUNT_MAX,
               "one tree fits in the node budget");
_Static_assert(WITAN_MODEL_OUTPUT_COUNT_MAX <= WITAN_MODEL_WIDTH_MAX,
               "outputs are a layer's width");
_Static_assert(WITAN_VM_MODULE_SIZE_MAX < WITAN_TX_SIZE_MAX,
               "a module fits in a deploy transaction");
_Static_assert(WITAN_VM_REG_COUNT_MAX <= 256, "registers are 8-bit operands");
_Static_assert(WITAN_VM_PARAM_COUNT_MAX <= WITAN_VM_REG_COUNT_MAX,
               "parameters are the first registers");
_Static_assert(WITAN_VM_CONST_COUNT_MAX < 65535 &&
                   WITAN_VM_FUNC_COUNT_MAX <= 65536 &&
                   WITAN_VM_IMPORT_COUNT_MAX <= 65536,
               "constants, functions and imports are 16-bit operands");
_Static_assert(2 * WITAN_VM_FUNC_WORDS_MAX + 2 < 32767,
               "internal code with gas words keeps 16-bit jump offsets");
_Static_assert((unsigned long long)WITAN_VM_FUNC_WORDS_MAX *
                       WITAN_VM_OP_COST_MAX < (1ULL << 24),
               "a block's gas fits the 24-bit operand of a gas word");
_Static_assert(WITAN_VM_CALL_DEPTH_MAX * WITAN_VM_REG_COUNT_MAX >
                   WITAN_VM_STACK_SLOT_COUNT_MAX / 2,
               "both the depth and the slot limits can be reached");
_Static_assert(WITAN_VM_ASM_LINE_TOKEN_COUNT_MAX > WITAN_VM_REG_COUNT_MAX + 1 &&
                   WITAN_VM_ASM_NAME_SIZE_MAX >= WITAN_VM_NAME_SIZE_MAX,
               "a .regs line and every module name can be written as text");
_Static_assert(WITAN_VM_BYTES_SIZE_MAX <= WITAN_VM_MEMORY_SIZE_MAX,
               "a maximal bytes value fits in memory");
_Static_assert(WITAN_VM_GAS_MAX + 2ULL * WITAN_VM_MEMORY_SIZE_MAX +
                       WITAN_VM_HOST_GAS_MAX < (1ULL << 63),
               "gas arithmetic stays far from overflow (spec/vm.md)");
_Static_assert(WITAN_FEED_SIZE_MAX + WITAN_SUBJECT_SIZE_MAX + 2 + 8 +
                       WITAN_ADDRESS_SIZE + 4 <=
                   WITAN_STORE_KEY_SIZE_MAX,
               "an attestation key fits in an LMDB key");
_Static_assert(WITAN_WRITE_SET_SIZE_MAX >= 4 * WITAN_BLOCK_SIZE_MAX,
               "the write set of a full block fits");
_Static_assert(WITAN_PBFT_WINDOW_MAX >=
                   WITAN_CHECKPOINT_INTERVAL_MAX + WITAN_PIPELINE_DEPTH_MAX,
               "the log window must reach the next checkpoint with a full "
               "pipeline in flight");

#endif
