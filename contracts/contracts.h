/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision contracts: the host functions that bind the VM to ledger state,
 * the trigger filter, and one run with its writes held back until it ends
 * (spec/contracts.md). Pure: state comes in through the callbacks of
 * struct contract_state, which the ledger implements over storage/, and
 * what a run did comes back in struct contract_outcome for the ledger to
 * write. The VM stays ignorant of ledgers.
 */
#ifndef WITAN_CONTRACTS_H
#define WITAN_CONTRACTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"
#include "common/limits.h"
#include "spec/witan.pb-c.h"
#include "vm/vm.h"

/* The entry a prediction calls. */
#define CONTRACT_ENTRY_PREDICTION "on_prediction"

struct contract_scorecard {
    uint32_t frac_bits;
    uint64_t count, recent_count;
    unsigned __int128 sum_sq, sum_abs, recent_sum_sq, recent_sum_abs;
};

/*
 * What a run reads from the ledger. Each returns 0, WITAN_ENOTFOUND where
 * said, or a storage error, which ends the run and is returned by
 * contract_run (the ledger then aborts the block: a failing disk is not a
 * contract's fault).
 */
struct contract_state {
    /* The contract's committed value of key, copied into a malloc'd *value
     * the caller frees; WITAN_ENOTFOUND. */
    int (*get)(void *ctx, const uint8_t *key, size_t key_size,
               uint8_t **value, size_t *size);
    /* The contract's committed storage: key count and bytes. */
    int (*usage)(void *ctx, uint32_t *count, uint32_t *bytes);
    /* The named value of the n newest observations (latest revisions) of
     * feed/subject that have it, newest first, as decimals; *found of them. */
    int (*feed)(void *ctx, const char *feed, const char *subject,
                const char *value, uint32_t n, int64_t *mantissas,
                uint32_t *scales, uint32_t *found);
    /* A model's scorecard sums (spec/contracts.md section 7), the
     * 128-bit ones as hi/lo halves; WITAN_ENOTFOUND if it has none. */
    int (*scorecard)(void *ctx, const uint8_t *model_hash,
                     struct contract_scorecard *out);
    void *ctx;
};

/* One run: a called entry, or on_prediction with its prediction. */
struct contract_call {
    const vm_module *module;
    uint32_t func;
    const vm_value *args;
    uint32_t arg_count;
    uint64_t gas;
    const uint8_t *contract_id; /* WITAN_HASH_SIZE */
    const uint8_t *caller;      /* WITAN_ADDRESS_SIZE */
    uint64_t height;
    int64_t time_ms;
    const Witan__PredictionRecord *prediction; /* NULL for a call */
    uint32_t decision_seq;  /* the block's next decision sequence */
    const struct contract_state *state;
};

struct contract_write {
    uint8_t key[WITAN_CONTRACT_KEY_SIZE_MAX];
    uint32_t key_size;
    bool del;
    uint8_t *value; /* malloc'd; NULL for a delete or an empty value */
    uint32_t size;
};

/* A decision or an event, as the contract made it. */
struct contract_record {
    uint8_t *kind; /* the decision's kind or the event's topic */
    uint32_t kind_size;
    uint8_t *subject; /* decisions only */
    uint32_t subject_size;
    int64_t values[WITAN_DECISION_VALUE_COUNT_MAX];
    uint32_t value_count;
    uint8_t *data;
    uint32_t data_size;
};

struct contract_outcome {
    Witan__RunStatus status;
    vm_result res;
    Witan__HostError host_error;
    /* RUN_OK only: what takes effect, in the order it was made. */
    struct contract_write writes[WITAN_CONTRACT_RUN_WRITE_COUNT_MAX];
    uint32_t write_count;
    struct contract_record decisions[WITAN_CONTRACT_RUN_DECISION_COUNT_MAX];
    uint32_t decision_count;
    struct contract_record events[WITAN_CONTRACT_RUN_EVENT_COUNT_MAX];
    uint32_t event_count;
    /* The contract's storage after the writes (when write_count > 0). */
    uint32_t storage_count, storage_bytes;
    uint8_t *result_bytes; /* malloc'd copy of a bytes result */
};

typedef struct contract_runtime contract_runtime;

/* A runtime owns the VM executor and the host table its modules are bound
 * to; one per ledger. WITAN_ENOMEM. */
int contract_runtime_new(contract_runtime **out);
void contract_runtime_free(contract_runtime *rt);

/* Loads and verifies a module against the host table, bound to rt (rt may
 * be NULL to verify only: the module is then freed). WITAN_EVERIFY with
 * `err`, WITAN_ENOMEM. */
int contract_module_load(contract_runtime *rt, const uint8_t *bytes,
                         size_t size, vm_module **out, vm_verify_error *err);

/* The stateless check of a deployed module: it loads against the host
 * table, and with_trigger requires an exported on_prediction taking no
 * parameters. WITAN_EVERIFY / WITAN_EINVAL with `why` naming the VM's
 * reason and byte offset, or what is missing. */
int contract_module_verify(const uint8_t *bytes, size_t size,
                           bool with_trigger, char *why, size_t why_size);

/* The function an entry name and argument types call: WITAN_ENOTFOUND when
 * the module exports no such name, WITAN_EINVAL when its parameters are not
 * exactly `types` ('i'/'b' per argument). */
int contract_entry(const vm_module *m, const char *name, const char *types,
                   uint32_t *func);

/* Runs c on rt. Sets *out (free with contract_outcome_free) and returns 0
 * whatever the contract did; an error only when a state callback failed
 * (nothing of the run counts then). */
int contract_run(contract_runtime *rt, const struct contract_call *c,
                 struct contract_outcome *out);
void contract_outcome_free(struct contract_outcome *out);

/* True when trigger t admits prediction p (contracts.md section 2):
 * status OK, kind, filter. Exact, no gas. */
bool contract_trigger_matches(const Witan__ContractTrigger *t,
                              const Witan__PredictionRecord *p);

/* The stateless rule of a trigger; false with `why`. */
bool contract_trigger_ok(const Witan__ContractTrigger *t, char *why,
                         size_t why_size);

/* The host table (for tools that list or check imports). */
const vm_host_func *contract_host_funcs(uint32_t *count);

#endif
