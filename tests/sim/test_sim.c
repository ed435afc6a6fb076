/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulator tests: the text scenarios, short seeded runs for every replica
 * count the issue names, determinism of a seed, real Ed25519 signatures, the
 * ledger mode under a mutating primary, and the proof that the simulator
 * can fail: protocol-breaking test flags (the boot rule's among them) are
 * caught within a few hundred seeds, and replicas that skip the ledger's
 * validity check are caught.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_scenarios(void **state)
{
    (void)state;
    const char *dir = "tests/sim/scenarios";
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".txt") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    assert_true(n >= 3);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        int rc = sim_scenario_run(path, stdout);
        printf("scenario %-40s %s\n", names[i], rc == 0 ? "ok" : "FAILED");
        failed += rc != 0;
        free(names[i]);
    }
    assert_int_equal(failed, 0);
}

static void run_seeds(uint32_t n, uint64_t first, uint64_t count)
{
    for (uint64_t seed = first; seed < first + count; seed++) {
        sim_config c;
        sim_random_config(seed, n, false, &c);
        sim_outcome o;
        sim_random_run(&c, &o, NULL);
        if (!o.ok) {
            printf("seed %llu n=%u: %s\nreplay: build/tests/sim/main_sim "
                   "--seed %llu --n %u\n",
                   (unsigned long long)seed, n, o.why,
                   (unsigned long long)seed, n);
            sim_random_run(&c, &o, stdout);
        }
        assert_true(o.ok);
        assert_true(o.delivered_min > 0);
    }
}

static void test_n1(void **s) { (void)s; run_seeds(1, 1, 20); }
static void test_n4(void **s) { (void)s; run_seeds(4, 1, 20); }
static void test_n5(void **s) { (void)s; run_seeds(5, 1, 20); }
static void test_n6(void **s) { (void)s; run_seeds(6, 1, 20); }
static void test_n7(void **s) { (void)s; run_seeds(7, 1, 20); }
static void test_n10(void **s) { (void)s; run_seeds(10, 1, 20); }

/* Seeds that once broke agreement (a restarted replica left out the prepared
 * certificates of heights it had delivered above its stable checkpoint, and
 * a new view cut the chain at the gap). */
static void test_regression_seeds(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        uint32_t n;
    } seeds[] = {{1006713, 4}, {1008582, 4}, {1008640, 5}};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        run_seeds(seeds[i].n, seeds[i].seed, 1);
}

static void test_seed_replays_exactly(void **state)
{
    (void)state;
    sim_config c;
    sim_random_config(4242, 7, false, &c);
    sim_outcome a, b;
    sim_random_run(&c, &a, NULL);
    sim_random_run(&c, &b, NULL);
    assert_true(a.ok && b.ok);
    assert_int_equal(a.messages, b.messages);
    assert_int_equal(a.delivered_max, b.delivered_max);
    assert_int_equal(a.view_max, b.view_max);
}

static void test_ed25519(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sim_config c;
        sim_random_config(seed, 4, false, &c);
        c.sig_scheme = PBFT_SIG_ED25519;
        sim_outcome o;
        sim_random_run(&c, &o, NULL);
        assert_true(o.ok);
    }
}

/* Returns the first failing seed under `flags`, or 0. */
static uint64_t first_failure(uint32_t flags, uint64_t limit, char *why,
                              size_t why_size)
{
    static const uint32_t ns[] = {4, 5, 7};
    for (uint64_t seed = 1; seed <= limit; seed++) {
        sim_config c;
        sim_random_config(seed, ns[seed % 3], false, &c);
        c.test_flags = flags;
        sim_outcome o;
        sim_random_run(&c, &o, NULL);
        if (!o.ok) {
            snprintf(why, why_size, "%s", o.why);
            return seed;
        }
    }
    return 0;
}

static void test_weak_commit_is_caught(void **state)
{
    (void)state;
    char why[256];
    uint64_t seed = first_failure(PBFT_TEST_WEAK_COMMIT, 300, why, sizeof(why));
    printf("commit on f+1: caught at seed %llu: %s\n", (unsigned long long)seed,
           why);
    assert_true(seed != 0);
}

static void test_forgotten_prepared_is_caught(void **state)
{
    (void)state;
    char why[256];
    uint64_t seed =
        first_failure(PBFT_TEST_DROP_PREPARED, 500, why, sizeof(why));
    printf("view change without prepared certificates: caught at seed %llu: "
           "%s\n",
           (unsigned long long)seed, why);
    assert_true(seed != 0);
    assert_non_null(strstr(why, "AGREEMENT"));
}

/* Lazy records without the boot rule: a replica that lost its proposal
 * or prepare to a power loss sends another in the same view. */
static void test_no_boot_mute_is_caught(void **state)
{
    (void)state;
    char why[256];
    uint64_t seed =
        first_failure(PBFT_TEST_NO_BOOT_MUTE, 1000, why, sizeof(why));
    printf("no boot rule after lazy records: caught at seed %llu: %s\n",
           (unsigned long long)seed, why);
    assert_true(seed != 0);
    assert_non_null(strstr(why, "EQUIVOCATION"));
}

/* Ledger mode, n = 4, validator 0 (view 0's primary) rewriting every
 * proposal by mutation m: requests trickle in for `until_ms`, and the
 * correct primary crashes for a moment now and then, so that the views
 * come round to the faulty one again. The caller inspects and frees. */
static sim *mutating_primary_run(enum simchain_mutation m, bool skip_validity,
                                 uint64_t until_ms)
{
    sim_config c;
    sim_random_config(77, 4, true, &c);
    c.pipeline_depth = 1;
    c.checkpoint_interval = 4;
    c.skip_validity = skip_validity;
    sim *s = sim_new(&c);
    sim_set_byzantine(s, 0, SIM_MUTATE);
    sim_force_mutation(s, m);
    for (uint64_t t = 100; t <= until_ms && !sim_failed(s, NULL); t += 100) {
        sim_submit(s, (uint32_t)(t / 100) % 4, 2);
        if (!sim_run_until(s, t))
            break;
        uint32_t primary = (uint32_t)(sim_view(s, 1) % 4);
        if (t % 1000 == 0 && primary != 0) {
            sim_crash(s, primary, false);
            t += 50;
            if (!sim_run_until(s, t))
                break;
            sim_restart(s, primary);
        }
    }
    for (uint64_t t = until_ms; t < until_ms + 30000; t += 500)
        if (!sim_run_until(s, t) || sim_requests_done(s))
            break;
    return s;
}

/* Every mutation in turn: the rule-breaking ones are proposed and never
 * committed, the valid ones commit, and every request is applied. */
static void test_ledger_mutating_primary(void **state)
{
    (void)state;
    for (int m = 0; m < SIMCHAIN_M_COUNT; m++) {
        sim *s = mutating_primary_run((enum simchain_mutation)m, false, 3000);
        const char *why = NULL;
        if (sim_failed(s, &why)) {
            sim_print_trace(s, stdout);
            fail_msg("%s: %s", simchain_mutation_name(m), why);
        }
        if (!sim_check_requests(s))
            fail_msg("%s: requests not applied", simchain_mutation_name(m));
        sim_outcome o;
        sim_get_mutations(s, &o);
        printf("%-28s %3llu proposals, %3llu committed\n",
               simchain_mutation_name(m), (unsigned long long)o.mutated[m],
               (unsigned long long)o.mutated_committed[m]);
        assert_true(o.mutated[m] >= 1);
        if (m >= SIMCHAIN_M_FIRST_VALID)
            assert_true(o.mutated_committed[m] >= 1);
        else if (m != SIMCHAIN_M_CERT_SHORT) /* still a quorum at n = 4 */
            assert_int_equal(o.mutated_committed[m], 0);
        sim_free(s);
    }
}

/* Replicas that vote for whatever the primary sends let a block through
 * that their ledgers refuse: the ledger mode must say so. */
static void test_ledger_skipped_validity_is_caught(void **state)
{
    (void)state;
    sim *s = mutating_primary_run(SIMCHAIN_M_TX_BAD_SIG, true, 3000);
    const char *why = NULL;
    assert_true(sim_failed(s, &why));
    printf("validity unchecked: %s\n", why);
    assert_non_null(strstr(why, "LEDGER"));
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_n1),
        cmocka_unit_test(test_n4),
        cmocka_unit_test(test_n5),
        cmocka_unit_test(test_n6),
        cmocka_unit_test(test_n7),
        cmocka_unit_test(test_n10),
        cmocka_unit_test(test_regression_seeds),
        cmocka_unit_test(test_seed_replays_exactly),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_weak_commit_is_caught),
        cmocka_unit_test(test_forgotten_prepared_is_caught),
        cmocka_unit_test(test_no_boot_mute_is_caught),
        cmocka_unit_test(test_ledger_mutating_primary),
        cmocka_unit_test(test_ledger_skipped_validity_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
