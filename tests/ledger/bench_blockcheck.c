/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make bench (bench_blockcheck): how fast a validator judges a proposal it
 * has none of the transactions of (the one validity function,
 * ledger_block_check, every signature checked), with the ledger's pool of
 * threads (ledger_set_pool) at 1, 2 and every online CPU, beside the rate
 * at which one core checks Ed25519 signatures (wcrypto_verify), measured in
 * the same run. The block: PER_BLOCK attestations signed with Ed25519 on a
 * one-validator chain. Each figure is the best of ROUNDS.
 *
 * The model for a larger machine: the signatures split evenly over the
 * threads (chunks of 8) and the rest of the check (decoding, the
 * transactions root, the duplicate and committed lookups) stays on one
 * thread, so with c cores the rate is about 1 / (s / c + r), s the time of
 * one signature (the reference) and r the serial rest per transaction
 * (the one-thread figure less s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/ledger/world.h"

#define ROUNDS 5
#define PER_BLOCK 1000
#define SIG_LOOPS 20000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double ed25519_rate(const struct world *w)
{
    uint8_t digest[32], sig[64];
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, "bench", 5, digest);
    if (wcrypto_sign(&w->provider, digest, sig))
        fail_msg("sign");
    double best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (int i = 0; i < SIG_LOOPS; i++)
            if (wcrypto_verify(&w->provider.pub, digest, sig) != 0)
                fail_msg("verify");
        double rate = SIG_LOOPS / (now() - t0);
        if (rate > best)
            best = rate;
    }
    return best;
}

/* Transactions per second of ledger_block_check on blk with `threads`. */
static double check_rate(struct world *w, const struct ledger_block *blk,
                         unsigned threads)
{
    witan_pool *p = NULL;
    if (threads > 1 && witan_pool_new(threads, &p))
        fail_msg("pool");
    ledger_set_pool(w->l, p);
    const struct ledger_check_opts opts = {.verify_signatures = true};
    char why[WHY_SIZE];
    double best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        if (ledger_block_check(w->l, blk->bytes, blk->size, &opts, why,
                               sizeof why))
            fail_msg("check: %s", why);
        double rate = PER_BLOCK / (now() - t0);
        if (rate > best)
            best = rate;
    }
    ledger_set_pool(w->l, NULL);
    witan_pool_free(p);
    return best;
}

static void bench(void **state)
{
    (void)state;
    struct world *w = new_world("bench-blockcheck");
    struct ledger_tx *txs = calloc(PER_BLOCK, sizeof *txs);
    struct ledger_tx **ptrs = calloc(PER_BLOCK, sizeof *ptrs);
    char why[WHY_SIZE];
    for (int i = 0; i < PER_BLOCK; i++) {
        size_t size;
        uint8_t *env = attest_tx(&w->provider, w->provider_addr,
                                 1 + (uint64_t)i,
                                 (struct attest_spec){.time_ms = 1 + i,
                                                      .co2 = 40000 + i,
                                                      .feed = "bench/check"},
                                 &size);
        if (ledger_tx_decode(w->l, env, size, false, &txs[i], why, sizeof why))
            fail_msg("%s", why);
        free(env);
        ptrs[i] = &txs[i];
    }
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    struct ledger_block blk;
    int err = ledger_block_build(w->l, ptrs, PER_BLOCK, tip.time_ms + 1000, 0,
                                 0, &blk);
    if (err)
        fail_msg("build: %s", witan_err_name(err));
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned all = online < 1 ? 1 : online > 64 ? 64 : (unsigned)online;
    double sig = ed25519_rate(w);
    double one = check_rate(w, &blk, 1), two = check_rate(w, &blk, 2);
    double many = all > 2 ? check_rate(w, &blk, all) : two;
    printf("bench_blockcheck: a proposal of %d Ed25519-signed attestations, "
           "every signature checked (ledger_block_check), best of %d\n",
           PER_BLOCK, ROUNDS);
    printf("  Ed25519 verify, one core (reference)   %9.0f /s\n", sig);
    printf("  block check, 1 thread                  %9.0f tx/s  %.2f x the "
           "reference\n",
           one, one / sig);
    printf("  block check, 2 threads                 %9.0f tx/s  %.2f x the "
           "reference, %.2f x 1 thread\n",
           two, two / sig, two / one);
    if (all > 2)
        printf("  block check, %2u threads (online CPUs)  %9.0f tx/s  %.2f x "
               "the reference\n",
               all, many, many / sig);
    /* The model: s, a signature, from the reference; r, the serial rest,
     * from one thread: 1/one = s + r; c cores: 1 / (s / c + r). */
    double sv = 1 / sig, r = 1 / one - sv;
    if (r < 0)
        r = 0;
    printf("  model: %.1f us a signature, %.1f us serial per transaction; "
           "16 cores would check about %.0f tx/s (%.1f x the reference)\n",
           sv * 1e6, r * 1e6, 1 / (sv / 16 + r), 1 / (sv / 16 + r) / sig);
    ledger_block_free(&blk);
    for (int i = 0; i < PER_BLOCK; i++)
        ledger_tx_release(&txs[i]);
    free(txs);
    free(ptrs);
    free_world(w);
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
