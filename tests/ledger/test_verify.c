/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay of witan audit verify (cli_verify_replay) on pools of 1, 2, 3
 * and 8 threads: a clean chain of Ed25519 and secp256k1 attestations verifies to
 * the same tip with every count (and with more than one, every block's
 * signatures were checked ahead); a chain with signatures changed in a
 * block — two in one block, one in a later block — fails at that block,
 * naming its first bad transaction, with output and the auditor's state
 * byte for byte those of one thread, run after run; a block the source
 * cannot give is reported after the blocks before it are applied.
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
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "tests/ledger/world.h"

#define BLOCKS 10
#define PER_BLOCK 40
#define OUT_SIZE 8192

static const unsigned thread_counts[] = {1, 2, 3, 8};

/* BLOCKS blocks of PER_BLOCK attestations, every third by the secp256k1
 * provider. */
static void build_chain(struct world *w)
{
    struct ledger_tx txs[PER_BLOCK], *ptrs[PER_BLOCK];
    char why[WHY_SIZE];
    int64_t hour = 0;
    for (int b = 0; b < BLOCKS; b++) {
        for (int i = 0; i < PER_BLOCK; i++, hour++) {
            bool k1 = i % 3 == 2;
            size_t size;
            uint8_t *env = attest_tx(
                k1 ? &w->secp : &w->provider,
                k1 ? w->secp_addr : w->provider_addr,
                k1 ? w->secp_nonce++ : w->provider_nonce++,
                (struct attest_spec){.time_ms = 946684800000LL +
                                                hour * 3600000LL,
                                     .co2 = 38000 + hour,
                                     .feed = "test/verify"},
                &size);
            assert_int_equal(ledger_tx_decode(w->l, env, size, true, &txs[i],
                                              why, sizeof why),
                             0);
            free(env);
            ptrs[i] = &txs[i];
        }
        struct ledger_block blk;
        struct ledger_tip tip;
        ledger_tip(w->l, &tip);
        assert_int_equal(ledger_block_build(w->l, ptrs, PER_BLOCK,
                                            tip.time_ms + 1000, 0, 0, &blk),
                         0);
        assert_int_equal(certify_and_apply(w, &blk, true, why), 0);
        ledger_block_free(&blk);
        for (int i = 0; i < PER_BLOCK; i++)
            ledger_tx_release(&txs[i]);
    }
}

/* The source: the chain's database, with some transactions' last byte
 * (inside the signature, the envelope's last field) flipped as served,
 * and a height it cannot give. */
struct flip {
    uint64_t height;
    size_t tx;
};
struct source {
    ledger *l;
    const struct flip *flips;
    size_t flip_count;
    uint64_t missing; /* 0: none */
};

static int fetch(void *ctx, uint64_t height, const Witan__BlockResponse **out,
                 void **handle)
{
    struct source *s = ctx;
    if (height == s->missing)
        return WITAN_ENOTFOUND;
    Witan__BlockResponse *r;
    int err = ledger_get_block(s->l, height, &r);
    if (err)
        return err;
    for (size_t i = 0; i < s->flip_count; i++)
        if (s->flips[i].height == height) {
            ProtobufCBinaryData *env = &r->block->txs[s->flips[i].tx];
            env->data[env->len - 1] ^= 0x01;
        }
    *out = r;
    *handle = r;
    return WITAN_OK;
}

static void release(void *ctx, void *handle)
{
    (void)ctx;
    ledger_block_response_free(handle);
}

struct outcome {
    int rc;
    char err[OUT_SIZE]; /* what it printed on stderr */
    struct cli_verify_stats stats;
    struct ledger_tip tip; /* the auditor's, after */
};

/* One replay into a fresh work folder, stderr captured. */
static void verify(struct world *w, struct source *src, unsigned threads,
                   struct outcome *o)
{
    char dir[300], why[WHY_SIZE];
    snprintf(dir, sizeof dir, "%s/witan-test-verify-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    struct store_options so = {1 << 20, 64 << 20, false};
    ledger *mine;
    assert_int_equal(ledger_open(dir, w->g, &so, &mine, why, sizeof why), 0);
    src->l = w->l;
    const struct cli_verify_source vs = {fetch, release, src};

    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 2) >= 0);
    witan_pool *pool = NULL; /* as audit verify makes it */
    if (threads > 1)
        assert_int_equal(witan_pool_new(threads, &pool), 0);
    o->rc = cli_verify_replay(mine, &vs, BLOCKS, pool, false, &o->stats);
    witan_pool_free(pool);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(cap);
    size_t n = fread(o->err, 1, OUT_SIZE - 1, cap);
    o->err[n] = '\0';
    fclose(cap);

    ledger_tip(mine, &o->tip);
    ledger_close(mine);
    rm_rf(dir);
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
    assert_int_equal(a->rc, b->rc);
    assert_string_equal(a->err, b->err);
    assert_int_equal(a->stats.blocks, b->stats.blocks);
    assert_int_equal(a->stats.txs, b->stats.txs);
    assert_int_equal(a->tip.height, b->tip.height);
    assert_memory_equal(a->tip.block_hash, b->tip.block_hash, 32);
    assert_memory_equal(a->tip.state_root, b->tip.state_root, 32);
    assert_memory_equal(a->tip.receipts_root, b->tip.receipts_root, 32);
}

static struct world *world;

static int setup(void **state)
{
    (void)state;
    world = new_world("verify");
    build_chain(world);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_world(world);
    return 0;
}

static void test_clean_chain(void **state)
{
    (void)state;
    static struct outcome one, other;
    struct source src = {0};
    verify(world, &src, 1, &one);
    assert_int_equal(one.rc, 0);
    assert_string_equal(one.err, "");
    assert_int_equal(one.stats.blocks, BLOCKS);
    assert_int_equal(one.stats.txs, BLOCKS * PER_BLOCK);
    assert_int_equal(one.stats.prechecked, 0);
    struct ledger_tip tip;
    ledger_tip(world->l, &tip);
    assert_int_equal(one.tip.height, BLOCKS);
    assert_memory_equal(one.tip.state_root, tip.state_root, 32);
    for (size_t k = 1; k < WITAN_ARRAY_COUNT(thread_counts); k++) {
        verify(world, &src, thread_counts[k], &other);
        assert_same(&one, &other);
        /* every block went the fast way: signatures checked ahead */
        assert_int_equal(other.stats.prechecked, BLOCKS);
    }
}

static void test_bad_signatures(void **state)
{
    (void)state;
    /* Two in block 6 — the ledger names the first, 9 — and one in block
     * 8, which the threads may well have checked before block 6 fails. */
    static const struct flip flips[] = {{6, 31}, {6, 9}, {8, 0}};
    struct source src = {.flips = flips, .flip_count = 3};
    static struct outcome one, other;
    verify(world, &src, 1, &one);
    assert_int_equal(one.rc, 1);
    if (!strstr(one.err, "witan audit: block 6 does not hold: transaction 9 "
                         "of block 6 is invalid: signature does not verify"))
        fail_msg("one thread said: %s", one.err);
    assert_int_equal(one.stats.blocks, 5);
    assert_int_equal(one.tip.height, 5);
    for (int round = 0; round < 5; round++)
        for (size_t k = 1; k < WITAN_ARRAY_COUNT(thread_counts); k++) {
            verify(world, &src, thread_counts[k], &other);
            assert_same(&one, &other);
            assert_int_equal(other.stats.prechecked, 5);
        }

    /* a secp256k1 transaction (every third) alone */
    static const struct flip k1[] = {{3, 20}};
    struct source src1 = {.flips = k1, .flip_count = 1};
    verify(world, &src1, 1, &one);
    if (one.rc != 1 ||
        !strstr(one.err, "transaction 20 of block 3 is invalid: signature "
                         "does not verify for the envelope's secp256k1 key"))
        fail_msg("one thread said: %s", one.err);
    verify(world, &src1, 8, &other);
    assert_same(&one, &other);
}

static void test_missing_block(void **state)
{
    (void)state;
    struct source src = {.missing = 7};
    static struct outcome one, other;
    verify(world, &src, 1, &one);
    assert_int_equal(one.rc, 1);
    assert_non_null(strstr(one.err, "witan audit: block 7: cannot read it"));
    assert_int_equal(one.tip.height, 6);
    for (size_t k = 1; k < WITAN_ARRAY_COUNT(thread_counts); k++) {
        verify(world, &src, thread_counts[k], &other);
        assert_same(&one, &other);
    }
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_chain),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_missing_block),
    };
    return cmocka_run_group_tests_name("verify", tests, setup, teardown);
}
