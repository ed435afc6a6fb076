/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim — a deterministic world for PBFT replicas (support code of tests/sim).
 *
 * All replicas live in one process on virtual time. The world plays the node
 * for each replica: it carries out the core's actions in the order the
 * header demands, keeps a durable store per replica (persisted records,
 * delivered blocks with certificates, the stable checkpoint) and an in-memory
 * executor whose state root is a hash chain over applied transactions. The
 * network is driven by one seeded PRNG: drops, delays (so reordering),
 * duplicates, partitions and per-kind filters. Replicas crash and restart from
 * their store; Byzantine replicas run a correct core whose outgoing messages
 * the world rewrites (equivocation, conflicting votes, replays and garbage,
 * silence).
 *
 * After every delivery and execution the world checks agreement (one block
 * and one state root per height among correct replicas) and validity (a
 * certificate of a quorum over a block its view's primary proposed); the
 * first violation stops the run and is kept in `failure`. In ledger mode
 * (sim_config.ledger, tests/sim/chain.h) the executor is the real ledger,
 * and a correct replica's ledger refusing a block it delivered is a
 * violation too.
 */
#ifndef WITAN_TESTS_SIM_H
#define WITAN_TESTS_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "tests/sim/chain.h"

enum sim_byz {
    SIM_CORRECT = 0,
    SIM_SILENT,
    SIM_EQUIVOCATE, /* different blocks / votes to different peers */
    SIM_CONFLICT,   /* conflicting votes and checkpoints */
    SIM_REPLAY,     /* replays old messages, sends garbage */
    SIM_BYZ_KINDS,  /* the kinds above: those the hash-chain mode draws */
    /* Ledger mode only: as primary, rewrites its proposals to break one rule
     * of a valid block (tests/sim/chain.h); otherwise correct. */
    SIM_MUTATE = SIM_BYZ_KINDS,
};

typedef struct sim_config {
    uint64_t seed;
    uint32_t n;
    uint32_t pipeline_depth;      /* L */
    uint32_t checkpoint_interval; /* K */
    uint32_t window;              /* 0: default */
    uint32_t batch_max;           /* requests per block */
    uint32_t test_flags;
    enum pbft_sig_scheme sig_scheme;
    /* Replicas execute with the real ledger (tests/sim/chain.h); implies
     * Ed25519 signatures. Off: an in-memory hash-chain executor. */
    bool ledger;
    /* Test of the test (ledger mode): every replica's verdict on a proposal
     * is "valid" without asking its ledger, so the run must fail. */
    bool skip_validity;
    /* Hash mode only: validator-set changes by the application at
     * checkpoint boundaries (spec/governance.md section 12): replicas
     * added (a fresh node that starts from a copy of a correct replica's
     * state at or after E), removed (n stays >= 4 and the faulty within f)
     * or with a key rotated (the node stops at the switch and restarts
     * with the new key). Certificates are checked against the set in force
     * at their height; a removed replica must deliver nothing past E and
     * an added one must deliver past E. */
    bool reconfig;
    uint32_t view_timeout_ms, view_timeout_max_ms, retransmit_ms;
    bool trace;                   /* print every event as it happens */
} sim_config;

typedef struct sim sim;

/* Fills a configuration with the defaults (n = 4, L = 2, K = 8). */
void sim_config_default(sim_config *c);

sim *sim_new(const sim_config *c);
void sim_free(sim *s);

/* Runs events up to virtual time t_ms. Returns false once a check failed. */
bool sim_run_until(sim *s, uint64_t t_ms);
uint64_t sim_now(const sim *s);

void sim_submit(sim *s, uint32_t node, uint32_t count);
void sim_crash(sim *s, uint32_t node, bool lose_unpersisted);
void sim_restart(sim *s, uint32_t node);
void sim_set_byzantine(sim *s, uint32_t node, enum sim_byz kind);
/* A SIM_MUTATE primary rewrites every proposal by mutation m (each one it
 * applies to); SIMCHAIN_M_COUNT: three in four, by a mutation drawn at
 * random (the default). */
void sim_force_mutation(sim *s, enum simchain_mutation m);
void sim_partition(sim *s, uint64_t side_a_mask);
void sim_heal(sim *s);
/* Off: requests reach other pools only when a replica forwards them
 * (PBFT_ACT_FORWARD), never by the periodic gossip. */
void sim_set_gossip(sim *s, bool on);
/* Whether every correct replica that is up is in the same view (*view). */
bool sim_views_agree(const sim *s, uint64_t *view);
/* Cancels crashes scheduled for a node's next record. */
void sim_calm(sim *s);
void sim_set_network(sim *s, uint32_t drop_permille, uint32_t dup_permille,
                     uint32_t delay_min_ms, uint32_t delay_max_ms);
/* Drops every message of `kind` (enum pbft_msg_kind, 0: all) from a node in
 * from_mask to a node in to_mask while set. Up to 8 filters. */
void sim_filter(sim *s, uint32_t kind, uint64_t from_mask, uint64_t to_mask);
void sim_clear_filters(sim *s);

bool sim_failed(const sim *s, const char **why);
uint64_t sim_delivered(const sim *s, uint32_t node);
uint64_t sim_view(const sim *s, uint32_t node);
uint64_t sim_stable(const sim *s, uint32_t node);
bool sim_is_up(const sim *s, uint32_t node);
uint32_t sim_n(const sim *s);
/* Checks every submitted request to a correct replica is applied at every
 * correct replica that is up; sets the failure otherwise. */
bool sim_check_requests(sim *s);
/* True when sim_check_requests would hold now. */
bool sim_requests_done(const sim *s);
void sim_get_stats(const sim *s, uint32_t node, pbft_stats *out);

void sim_print_trace(const sim *s, FILE *out);
uint64_t sim_messages(const sim *s);

/* The seeded chaos-then-liveness run used by `make sim`. */
typedef struct sim_outcome {
    bool ok;
    char why[256];
    uint64_t delivered_max, delivered_min, requests, view_max, messages;
    uint32_t byz_count, crashes;
    /* Ledger mode: proposals a SIM_MUTATE primary rewrote, by mutation, and
     * how many of those blocks were committed (only valid ones may be). */
    uint64_t mutated[SIMCHAIN_M_COUNT], mutated_committed[SIMCHAIN_M_COUNT];
    /* Reconfig: changes decided, by kind; how many came in force (the
     * chain passed their E); rotated replicas that took up their new key
     * at the switch, and those that stopped behind E and restarted from a
     * copy. */
    uint32_t adds, removes, rotations, changes_in_force, hot_rotations,
        rotate_copies;
    /* Replicas restored from a copy because their core could not take a
     * change (its stable checkpoint had passed E before it executed B), or
     * stuck behind a boundary (no delivery for a while, their core on an
     * older set than the chain's); checks of views that skipped a replica
     * started without records (waiting for a view change). */
    uint32_t timing_copies, stuck_copies, views_waiting;
} sim_outcome;

/* A seed's configuration; in ledger mode with slower retransmission and a
 * lower view-timeout ceiling (each message costs a real signature). */
void sim_random_config(uint64_t seed, uint32_t n, bool ledger, sim_config *c);
void sim_random_run(const sim_config *c, sim_outcome *out, FILE *trace_out);
/* Reconfig: checks that every added replica that is up and correct
 * delivered past its E (when the chain did), and fills the counts of
 * `out`. False once a check failed. */
bool sim_check_reconfig(sim *s, sim_outcome *out);
/* Reconfig: marks for a restore from a copy every correct replica that
 * delivered nothing for a while and runs an older set than the one in
 * force at the chain's top (it cannot cross the boundary by itself). */
void sim_restore_stuck(sim *s);
/* Fills out->mutated and out->mutated_committed so far (ledger mode). */
void sim_get_mutations(const sim *s, sim_outcome *out);

/* Scenario interpreter: runs a text scenario (tests/sim/scenarios, one .txt file each).
 * Returns 0 when every expectation held; prints what failed to `err`. */
int sim_scenario_run(const char *path, FILE *err);

#endif
