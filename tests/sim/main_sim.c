/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main_sim — runs seeded simulations of PBFT (tests/sim/sim.h).
 *
 *   main_sim [--seeds N] [--first S] [--n 4,5,7] [--flag weak-commit]
 *            [--ed25519 | --ledger | --reconfig] [--stop-after K]
 *   main_sim --seed S --n N [--flag ...] [--ledger | --reconfig] [--trace]
 *                                                   replays one seed
 *
 * --ledger runs the ledger mode (tests/sim/chain.h): real ledgers, Ed25519,
 * a mutating primary; it ends with how many proposals each mutation
 * rewrote and how many of those were committed.
 *
 * --reconfig (hash mode) lets the simulated application change the
 * validator set at checkpoint boundaries (sim_config.reconfig): adds,
 * removes and key rotations under all the faults; it ends with how many
 * changes were decided and came in force.
 *
 * Seed i runs with the i-th replica count of the list, round robin. A failing
 * seed prints the last events of its run and the one command that replays it.
 * Exit status: 0 when every seed held, 1 when one failed, 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/sim/sim.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: main_sim [--seeds N] [--first S] [--n 4,5,7] "
            "[--flag weak-commit|drop-prepared|no-boot-mute] "
            "[--ed25519 | --ledger | --reconfig] [--stop-after K]\n"
            "       main_sim --seed S --n N [--flag ...] "
            "[--ledger | --reconfig] [--trace]\n"
            "  --reconfig  validator-set changes at checkpoint boundaries "
            "(adds, removes,\n"
            "              key rotations; spec/governance.md section 12), "
            "hash mode only\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 100, first = 1, single = 0;
    bool have_single = false, trace = false, ed = false, ledger = false,
         reconfig = false;
    uint64_t adds = 0, removes = 0, rotations = 0, in_force = 0, copies = 0,
             hot = 0,
             timing_copies = 0, stuck_copies = 0, views_waiting = 0;
    uint64_t mutated[SIMCHAIN_M_COUNT] = {0},
             mutated_committed[SIMCHAIN_M_COUNT] = {0};
    uint32_t ns[16] = {4, 5, 7};
    uint32_t n_count = 3;
    uint32_t flags = 0;
    const char *flag_name = NULL;
    uint64_t stop_after = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            seeds = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--first") == 0 && v) {
            first = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            single = strtoull(v, NULL, 10);
            have_single = true;
            i++;
        } else if (strcmp(a, "--stop-after") == 0 && v) {
            stop_after = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--n") == 0 && v) {
            n_count = 0;
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && n_count < 16;
                 t = strtok_r(NULL, ",", &save)) {
                long x = strtol(t, NULL, 10);
                if (x < 1 || x > 16) {
                    free(copy);
                    return usage();
                }
                ns[n_count++] = (uint32_t)x;
            }
            free(copy);
            if (n_count == 0)
                return usage();
            i++;
        } else if (strcmp(a, "--flag") == 0 && v) {
            flag_name = v;
            if (strcmp(v, "weak-commit") == 0)
                flags |= PBFT_TEST_WEAK_COMMIT;
            else if (strcmp(v, "drop-prepared") == 0)
                flags |= PBFT_TEST_DROP_PREPARED;
            else if (strcmp(v, "no-boot-mute") == 0)
                flags |= PBFT_TEST_NO_BOOT_MUTE;
            else
                return usage();
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            trace = true;
        } else if (strcmp(a, "--ed25519") == 0) {
            ed = true;
        } else if (strcmp(a, "--ledger") == 0) {
            ledger = true;
        } else if (strcmp(a, "--reconfig") == 0) {
            reconfig = true;
        } else {
            return usage();
        }
    }
    if (ledger && reconfig)
        return usage();
    if (have_single) {
        first = single;
        seeds = 1;
    }
    clock_t start = clock();
    uint64_t failures = 0, delivered = 0, views = 0, msgs = 0;
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t seed = first + k;
        uint32_t n = ns[(have_single ? 0 : seed) % n_count];
        sim_config c;
        sim_random_config(seed, n, ledger, &c);
        c.test_flags = flags;
        c.trace = trace;
        c.reconfig = reconfig;
        if (ed)
            c.sig_scheme = PBFT_SIG_ED25519;
        sim_outcome o;
        sim_random_run(&c, &o, NULL);
        for (int m = 0; m < SIMCHAIN_M_COUNT; m++) {
            mutated[m] += o.mutated[m];
            mutated_committed[m] += o.mutated_committed[m];
        }
        adds += o.adds;
        removes += o.removes;
        rotations += o.rotations;
        in_force += o.changes_in_force;
        copies += o.rotate_copies;
        hot += o.hot_rotations;
        timing_copies += o.timing_copies;
        stuck_copies += o.stuck_copies;
        views_waiting += o.views_waiting;
        delivered += o.delivered_max;
        views += o.view_max;
        msgs += o.messages;
        if (!o.ok) {
            failures++;
            printf("seed %llu (n=%u, L=%u, K=%u, byzantine %u) FAILED: %s\n",
                   (unsigned long long)seed, n, c.pipeline_depth,
                   c.checkpoint_interval, o.byz_count, o.why);
            sim_random_run(&c, &o, stdout);
            fflush(stdout);
            printf("replay: build/tests/sim/main_sim --seed %llu --n %u%s%s%s%s%s"
                   "\n",
                   (unsigned long long)seed, n, flag_name ? " --flag " : "",
                   flag_name ? flag_name : "", ed ? " --ed25519" : "",
                   ledger ? " --ledger" : "", reconfig ? " --reconfig" : "");
            if (failures >= stop_after)
                break;
        } else if (have_single) {
            printf("seed %llu (n=%u, L=%u, K=%u, byzantine %u): ok, %llu blocks, "
                   "view %llu, %llu messages\n",
                   (unsigned long long)seed, n, c.pipeline_depth,
                   c.checkpoint_interval, o.byz_count,
                   (unsigned long long)o.delivered_max,
                   (unsigned long long)o.view_max,
                   (unsigned long long)o.messages);
            if (reconfig)
                printf("  changes: %u adds, %u removes, %u rotations (%u "
                       "keys taken up at the switch); %u in force; restored "
                       "from a copy: %u rotated behind E, %u past E before "
                       "B, %u stuck; %u waiting for a view\n",
                       o.adds, o.removes, o.rotations, o.hot_rotations,
                       o.changes_in_force, o.rotate_copies, o.timing_copies, o.stuck_copies,
                       o.views_waiting);
        }
    }
    double cpu = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (ledger) {
        /* Committed is 0 for every mutation that breaks a rule: those
         * blocks were all refused (a commit would have failed the run). */
        printf("%-28s %10s %10s\n", "mutation", "proposals", "committed");
        for (int m = 0; m < SIMCHAIN_M_COUNT; m++)
            printf("%-28s %10llu %10llu\n",
                   simchain_mutation_name((enum simchain_mutation)m),
                   (unsigned long long)mutated[m],
                   (unsigned long long)mutated_committed[m]);
    }
    if (reconfig)
        printf("changes: %llu adds, %llu removes, %llu rotations decided "
               "(%llu keys taken up at the switch); %llu in force; replicas "
               "restored from a copy: %llu rotated behind E, %llu stable past "
               "E before executing B, %llu stuck behind a boundary; %llu view "
               "checks skipped a replica started without records\n",
               (unsigned long long)adds, (unsigned long long)removes,
               (unsigned long long)rotations, (unsigned long long)hot,
               (unsigned long long)in_force,
               (unsigned long long)copies, (unsigned long long)timing_copies,
               (unsigned long long)stuck_copies,
               (unsigned long long)views_waiting);
    printf("sim%s: %llu seeds from %llu, n in {",
           ledger ? " --ledger" : reconfig ? " --reconfig" : "",
           (unsigned long long)seeds, (unsigned long long)first);
    for (uint32_t i = 0; i < n_count; i++)
        printf("%s%u", i ? "," : "", ns[i]);
    printf("}: %llu failed; %llu blocks, %llu views, %llu messages; %.1f s CPU\n",
           (unsigned long long)failures, (unsigned long long)delivered,
           (unsigned long long)views, (unsigned long long)msgs, cpu);
    fflush(stdout);
    return failures ? 1 : 0;
}
