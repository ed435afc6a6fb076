/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chain — the simulator's ledger mode (support code of tests/sim).
 *
 * With sim_config.ledger set, every replica executes blocks with the real
 * ledger/ on its own throwaway LMDB store (unsynced: crashes are simulated
 * above it), clients submit real signed transactions, consensus messages and
 * certificates carry real Ed25519 signatures, and a Byzantine primary
 * (SIM_MUTATE) rewrites its proposals to break one rule of a valid block at
 * a time: every header field, every way of mis-encoding the certificate it
 * carries, and the transaction list. A correct replica must refuse every
 * block its ledger would refuse, so a certified block that a correct ledger
 * cannot apply is a failure of the run.
 */
#ifndef WITAN_TESTS_SIM_CHAIN_H
#define WITAN_TESTS_SIM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"

/* The chain id of every simulated chain, as the cores sign it. */
#define SIMCHAIN_ID "sim"
/* Genesis limits, small enough that a mutation can cross them. */
#define SIMCHAIN_BLOCK_TX_COUNT_MAX 16
#define SIMCHAIN_BLOCK_SIZE_MAX 65536

/* What a Byzantine primary does to one proposal. The first group makes a
 * block every correct replica must refuse; the VALID_ ones make another
 * block that is just as valid (they must commit and apply like any). */
enum simchain_mutation {
    /* header fields */
    SIMCHAIN_M_VERSION = 0,
    SIMCHAIN_M_CHAIN,
    SIMCHAIN_M_HEIGHT,
    SIMCHAIN_M_VIEW,
    SIMCHAIN_M_TIME_BACK,
    SIMCHAIN_M_PREV_HASH,
    SIMCHAIN_M_HISTORY_ROOT,
    SIMCHAIN_M_PROPOSER,
    SIMCHAIN_M_TX_COUNT,
    SIMCHAIN_M_RESULTS_HEIGHT,
    SIMCHAIN_M_RESULTS_STATE,
    SIMCHAIN_M_RESULTS_RECEIPTS,
    SIMCHAIN_M_RESULTS_EARLY,   /* results while none are due */
    SIMCHAIN_M_RESULTS_MISSING, /* none while they are due */
    /* the certificate of the results */
    SIMCHAIN_M_CERT_TRAILING_ZERO, /* a zero byte after the signer bitmap */
    SIMCHAIN_M_CERT_EMPTY_BITMAP,
    SIMCHAIN_M_CERT_EXTRA_SIG,     /* a signature with no signer */
    SIMCHAIN_M_CERT_DUP_SIG,       /* one signature twice */
    SIMCHAIN_M_CERT_REORDERED,     /* two signatures swapped */
    SIMCHAIN_M_CERT_VIEW,
    SIMCHAIN_M_CERT_HEIGHT,
    SIMCHAIN_M_CERT_HASH,
    SIMCHAIN_M_CERT_OUTSIDER,      /* a well-signed vote by a key outside */
    SIMCHAIN_M_CERT_SHORT,         /* the last signer left out */
    /* the transaction list */
    SIMCHAIN_M_TX_BAD_SIG,
    SIMCHAIN_M_TX_DUPLICATE,
    SIMCHAIN_M_TX_ROOT,
    SIMCHAIN_M_TX_COMMITTED,       /* one committed in an earlier block */
    SIMCHAIN_M_TX_JUNK,            /* bytes that are no Envelope */
    SIMCHAIN_M_TX_OVERSIZE,        /* the block over block_size_max */
    SIMCHAIN_M_TX_OVERCOUNT,       /* over block_tx_count_max */
    /* encodings other than the canonical one (same fields, other bytes) */
    SIMCHAIN_M_HEADER_UNKNOWN,     /* an unknown header field */
    SIMCHAIN_M_HEADER_TWICE,       /* a header field written twice */
    SIMCHAIN_M_BLOCK_UNKNOWN,      /* an unknown block field */
    /* other valid blocks */
    SIMCHAIN_M_VALID_TIME_AHEAD,
    SIMCHAIN_M_VALID_TX_DROPPED,
    SIMCHAIN_M_VALID_TX_SWAPPED,
    SIMCHAIN_M_COUNT
};

const char *simchain_mutation_name(enum simchain_mutation m);
/* The first mutation that yields a valid block. */
#define SIMCHAIN_M_FIRST_VALID SIMCHAIN_M_VALID_TIME_AHEAD

typedef struct simchain simchain;

/* A genesis of n validators with these keys (and pipeline depth L,
 * checkpoint interval K), SIMCHAIN_CLIENTS data providers, and a fresh
 * directory for the stores. Aborts on failure: the simulator cannot run. */
simchain *simchain_new(uint32_t n, const wcrypto_pubkey *validators,
                       uint32_t L, uint32_t K);
/* Removes the directory with every store in it. NULL: no-op. */
void simchain_free(simchain *c);

const uint8_t *simchain_genesis_hash(const simchain *c);
int64_t simchain_genesis_time(const simchain *c);

/* Opens (creating or reopening) replica i's ledger; aborts on failure. */
ledger *simchain_open(simchain *c, uint32_t i);

/* The envelope of request `id` (1, 2, ...): an attestation from client
 * (id − 1) mod SIMCHAIN_CLIENTS with its next nonce, made and signed on
 * first use. Owned by the chain. */
pbft_bytes simchain_tx(simchain *c, uint64_t id);
/* The request id of an envelope made by simchain_tx; 0 for any other bytes. */
uint64_t simchain_tx_id(const uint8_t *env, size_t size);

/*
 * Rewrites a correct primary's proposal `block` by mutation m into *out
 * (malloc'd). `committed` is an envelope committed in an earlier block
 * (size 0 when there is none yet); `n` the validator count. False when m
 * does not apply to this block (no results yet, no transaction to change,
 * ...); *out is then untouched.
 */
bool simchain_mutate(simchain *c, enum simchain_mutation m,
                     const uint8_t *block, size_t size, pbft_bytes committed,
                     uint32_t n, uint8_t **out, size_t *out_size);

#endif
