/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make bench (bench_verify): how fast an auditor re-verifies a chain in
 * full — every header, certificate, signature and admission rule, and
 * re-execution of every transaction into a ledger of its own on a real
 * LMDB home with durable commits — with the code of witan audit verify
 * (cli_verify_replay, fed from a database as --from feeds it), on one
 * thread and on every online CPU, beside the rate at which one core checks
 * Ed25519 signatures (wcrypto_verify), measured in the same run. The chain:
 * BLOCKS blocks of PER_BLOCK attestations, each signed with Ed25519,
 * built in-process on a one-validator chain. Each figure is the best of
 * ROUNDS; the per-phase split is the best round's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "tests/ledger/world.h"

#define ROUNDS 3
#define BLOCKS 200
#define PER_BLOCK 250
#define SIG_LOOPS 20000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The chain: BLOCKS blocks of PER_BLOCK attestations by the provider. */
static void build_chain(struct world *w)
{
    static struct ledger_tx txs[PER_BLOCK];
    struct ledger_tx *ptrs[PER_BLOCK];
    char why[WHY_SIZE];
    int64_t hour = 0;
    for (int b = 0; b < BLOCKS; b++) {
        for (int i = 0; i < PER_BLOCK; i++, hour++) {
            size_t size;
            uint8_t *env = attest_tx(&w->provider, w->provider_addr,
                                     w->provider_nonce++,
                                     (struct attest_spec){
                                         .time_ms = 946684800000LL +
                                                    hour * 3600000LL,
                                         .co2 = 38000 + hour % 1000,
                                         .feed = "bench/verify"},
                                     &size);
            /* Signed just now: checked below, by the auditor. */
            if (ledger_tx_decode(w->l, env, size, false, &txs[i], why,
                                 sizeof why))
                fail_msg("%s", why);
            free(env);
            ptrs[i] = &txs[i];
        }
        struct ledger_block blk;
        struct ledger_tip tip;
        ledger_tip(w->l, &tip);
        if (ledger_block_build(w->l, ptrs, PER_BLOCK, tip.time_ms + 1000, 0, 0,
                               &blk))
            fail_msg("build");
        if (certify_and_apply(w, &blk, false, why))
            fail_msg("apply: %s", why);
        ledger_block_free(&blk);
        for (int i = 0; i < PER_BLOCK; i++)
            ledger_tx_release(&txs[i]);
    }
}

/* The source: the chain's own database, as audit verify --from reads it. */
static int fetch(void *ctx, uint64_t height, const Witan__BlockResponse **out,
                 void **handle)
{
    Witan__BlockResponse *r;
    int err = ledger_get_block(ctx, height, &r);
    if (!err) {
        *out = r;
        *handle = r;
    }
    return err;
}

static void release(void *ctx, void *handle)
{
    (void)ctx;
    ledger_block_response_free(handle);
}

/* One full verification into a fresh work folder; seconds. */
static double verify(struct world *w, unsigned threads,
                     struct cli_verify_stats *st)
{
    char dir[300], why[WHY_SIZE];
    snprintf(dir, sizeof dir, "%s/witan-bench-verify-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    rm_rf(dir);
    if (mkdir(dir, 0700) != 0)
        fail_msg("mkdir %s", dir);
    /* What audit verify opens its work folder with: durable commits. */
    struct store_options o = {WITAN_MAP_SIZE_DEFAULT,
                              WITAN_MAP_SIZE_MAX_DEFAULT, false};
    ledger *mine;
    if (ledger_open(dir, w->g, &o, &mine, why, sizeof why))
        fail_msg("open: %s", why);
    const struct cli_verify_source src = {fetch, release, w->l};
    witan_pool *pool = NULL; /* as audit verify makes it */
    if (threads > 1 && witan_pool_new(threads, &pool))
        fail_msg("pool of %u threads", threads);
    double t0 = now();
    int rc = cli_verify_replay(mine, &src, BLOCKS, pool, false, st);
    double t = now() - t0;
    witan_pool_free(pool);
    struct ledger_tip a, b;
    ledger_tip(mine, &a);
    ledger_tip(w->l, &b);
    if (rc != 0 || st->blocks != BLOCKS ||
        st->txs != (uint64_t)BLOCKS * PER_BLOCK ||
        memcmp(a.state_root, b.state_root, 32) != 0 ||
        memcmp(a.block_hash, b.block_hash, 32) != 0)
        fail_msg("verification with %u threads did not reach the chain's tip",
                 threads);
    if (threads > 1 && st->prechecked != BLOCKS)
        fail_msg("only %llu blocks were checked ahead",
                 (unsigned long long)st->prechecked);
    ledger_close(mine);
    rm_rf(dir);
    return t;
}

/* One core checking one Ed25519 signature over a transaction digest, as
 * ledger_tx_decode does; signatures per second. */
static double ed25519_rate(const struct world *w)
{
    uint8_t digest[32], sig[64];
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, "bench", 5, digest);
    if (wcrypto_sign(&w->provider, digest, sig))
        fail_msg("sign");
    double t0 = now();
    for (int i = 0; i < SIG_LOOPS; i++)
        if (wcrypto_verify(&w->provider.pub, digest, sig) != 0)
            fail_msg("verify");
    return SIG_LOOPS / (now() - t0);
}

/* One core running the whole stateless check (decode, limits, signature,
 * payload rules) on the chain's block 1; transactions per second. */
static double tx_check_rate(struct world *w)
{
    Witan__BlockResponse *r;
    if (ledger_get_block(w->l, 1, &r))
        fail_msg("block 1");
    char why[WHY_SIZE];
    double t0 = now();
    for (size_t i = 0; i < r->block->n_txs; i++) {
        struct ledger_tx tx;
        if (ledger_tx_decode(w->l, r->block->txs[i].data,
                             r->block->txs[i].len, true, &tx, why, sizeof why))
            fail_msg("%s", why);
        ledger_tx_release(&tx);
    }
    double rate = (double)r->block->n_txs / (now() - t0);
    ledger_block_response_free(r);
    return rate;
}

static void show(const char *name, double t, const struct cli_verify_stats *s)
{
    const double n = (double)BLOCKS * PER_BLOCK;
    printf("  %-26s %7.0f blocks/s %8.0f tx/s   (per block: source %.2f ms, "
           "waiting for signatures %.2f ms, apply %.2f ms)\n",
           name, BLOCKS / t, n / t, (double)s->fetch_ns / BLOCKS * 1e-6,
           (double)s->wait_ns / BLOCKS * 1e-6,
           (double)s->apply_ns / BLOCKS * 1e-6);
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    struct world *w = new_world("bench-verify");
    build_chain(w);
    unsigned all = cli_verify_threads_default();

    double one = 1e9, many = 1e9, sig = 0, check = 0;
    struct cli_verify_stats one_st, many_st, st;
    for (int r = 0; r < ROUNDS; r++) {
        double t = verify(w, 1, &st);
        if (t < one) {
            one = t;
            one_st = st;
        }
        t = verify(w, all, &st);
        if (t < many) {
            many = t;
            many_st = st;
        }
        double s = ed25519_rate(w), c = tx_check_rate(w);
        sig = s > sig ? s : sig;
        check = c > check ? c : check;
    }
    const double n = (double)BLOCKS * PER_BLOCK;
    printf("audit verify (cli_verify_replay, as witan audit verify --from), "
           "%d blocks of %d Ed25519-signed attestations, full verification "
           "and re-execution into durable LMDB, best of %d:\n",
           BLOCKS, PER_BLOCK, ROUNDS);
    show("1 thread", one, &one_st);
    char name[64];
    snprintf(name, sizeof name, "%u threads (online CPUs)", all);
    show(name, many, &many_st);
    printf("  Ed25519 verify, one core (wcrypto_verify)  %8.0f /s  "
           "(reference)\n",
           sig);
    printf("  stateless tx check, one core (ledger_tx_decode with the "
           "signature)  %8.0f /s\n",
           check);
    printf("  %u threads over 1: %.2fx; full verification with %u threads "
           "beside one core's Ed25519 rate: %.2f (target >= 1)\n",
           all, one / many, all, (n / many) / sig);
    free_world(w);
    return 0;
}
