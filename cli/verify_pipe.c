/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay of witan audit verify (cli.h, "re-verifying blocks"): blocks
 * tip+1 .. height from a source, applied to the auditor's ledger in order,
 * each one's roots held to the source's.
 *
 * Checking transaction signatures is most of the work of applying a block,
 * and it needs no state: ledger_tx_decode with its signature check on (the
 * validators' stateless admission rule) depends on the bytes and the
 * genesis alone. So blocks come in batches of CLI_VERIFY_BLOCKS_AHEAD, and
 * while this thread applies the blocks of one batch, the pool's threads run
 * that rule on every transaction of the next (one witan_pool_start; this
 * thread joins them in witan_pool_wait once its batch is applied). A block
 * whose every transaction passed is applied with verify_signatures false —
 * the ledger still runs every other check of the rule again itself; any
 * other block is applied with it true, so the ledger finds and names the
 * first bad transaction exactly as a one-thread run does. Which way a block
 * goes depends on its bytes only, never on thread timing: the verdict, the
 * messages and the auditor's state are those of one thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* One transaction for the pool to check: slot i of a loop, its own. */
struct check {
    const ProtobufCBinaryData *env;
    bool ok;
};

/* One block fetched. */
struct slot {
    uint64_t height;
    int err; /* the source's, when it could not give the block */
    const Witan__BlockResponse *b;
    void *handle;
    bool listed;     /* its transactions are in the batch's checks, */
    size_t first, n; /* these */
};

/* Blocks fetched together and checked as one loop of the pool. */
struct batch {
    const ledger *l;
    struct slot slots[CLI_VERIFY_BLOCKS_AHEAD];
    size_t count;
    struct check *checks; /* every transaction of the batch, in order */
    size_t check_count, check_cap;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned cli_verify_threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > WITAN_POOL_THREADS_MAX ? WITAN_POOL_THREADS_MAX : (unsigned)n;
}

/* The rule of a validator's admission, signature included, on one
 * transaction; on a pool thread, writing only its own check. */
static void check_one(void *ctx, size_t i)
{
    struct batch *bt = ctx;
    struct check *c = &bt->checks[i];
    char why[LEDGER_WHY_SIZE];
    struct ledger_tx tx;
    c->ok = ledger_tx_decode(bt->l, c->env->data, c->env->len, true, &tx, why,
                             sizeof why) == 0;
    if (c->ok)
        ledger_tx_release(&tx);
}

/* Room for n more checks; false when memory runs out. */
static bool reserve(struct batch *bt, size_t n)
{
    if (bt->check_count + n <= bt->check_cap)
        return true;
    size_t cap = 2 * bt->check_cap > bt->check_count + n
                     ? 2 * bt->check_cap
                     : bt->check_count + n;
    struct check *c = realloc(bt->checks, cap * sizeof *c);
    if (!c)
        return false;
    bt->checks = c;
    bt->check_cap = cap;
    return true;
}

/* Fetches blocks *next .. into the empty batch, up to its size, `height`,
 * and a block the source cannot give (reported when its turn comes, after
 * the blocks before it); lists their transactions for the pool unless
 * `precheck` is false. The source is asked in height order, by this
 * thread only. */
static void fetch_batch(struct batch *bt, const struct cli_verify_source *src,
                        uint64_t *next, uint64_t height, bool precheck)
{
    WITAN_ASSERT(bt->count == 0 && bt->check_count == 0);
    while (bt->count < CLI_VERIFY_BLOCKS_AHEAD && *next <= height) {
        struct slot *s = &bt->slots[bt->count++];
        memset(s, 0, sizeof *s);
        s->height = (*next)++;
        s->err = src->fetch(src->ctx, s->height, &s->b, &s->handle);
        if (s->err) {
            *next = height + 1; /* nothing after it is asked for */
            break;
        }
        size_t n = s->b->block->n_txs;
        /* Without room the block goes the ledger's own way: slower, the
         * same verdict. */
        if (!precheck || !reserve(bt, n))
            continue;
        s->listed = true;
        s->first = bt->check_count;
        s->n = n;
        for (size_t i = 0; i < n; i++)
            bt->checks[bt->check_count++] =
                (struct check){&s->b->block->txs[i], false};
    }
}

/* Whether the pool passed every transaction of a block (after its wait). */
static bool prechecked(const struct batch *bt, const struct slot *s)
{
    if (!s->listed)
        return false;
    for (size_t i = s->first; i < s->first + s->n; i++)
        if (!bt->checks[i].ok)
            return false;
    return true;
}

/* Gives every block back to the source and empties the batch. */
static void release_batch(struct batch *bt, const struct cli_verify_source *src)
{
    for (size_t k = 0; k < bt->count; k++)
        if (!bt->slots[k].err)
            src->release(src->ctx, bt->slots[k].handle);
    bt->count = 0;
    bt->check_count = 0;
}

static void hex32(const uint8_t *d, char out[65])
{
    witan_hex_encode(d, WITAN_HASH_SIZE, out);
}

/* Applies one fetched block and holds its roots to the source's: 0, or
 * 1 with the failure printed (the words of the one-thread replay). */
static int apply(ledger *mine, const struct slot *s, bool prechecked,
                 struct ledger_apply_stats *st)
{
    unsigned long long h = (unsigned long long)s->height;
    if (s->err) {
        fprintf(stderr, "\nwitan audit: block %llu: cannot read it: %s\n", h,
                witan_err_message(s->err));
        return 1;
    }
    const Witan__BlockResponse *b = s->b;
    size_t size = witan__block__get_packed_size(b->block);
    uint8_t *bytes = malloc(size ? size : 1);
    if (!bytes)
        return cli_fail("audit", WITAN_ENOMEM);
    /* Packing writes each transaction's bytes as they are: the block
     * applied holds exactly the envelopes the pool checked. */
    witan__block__pack(b->block, bytes);
    char why[LEDGER_WHY_SIZE];
    why[0] = 0;
    int err;
    if (!b->cert) {
        fprintf(stderr, "\nwitan audit: block %llu: no commit "
                        "certificate comes with it\n",
                h);
        err = WITAN_EINVAL;
    } else {
        err = ledger_block_apply(mine, bytes, size, b->cert, !prechecked,
                                 NULL, st, why, sizeof why);
        if (err)
            fprintf(stderr, "\nwitan audit: block %llu does not hold: %s "
                            "(%s)\n",
                    h, why[0] ? why : "refused", witan_err_name(err));
    }
    free(bytes);
    if (!err && (b->state_root.len != WITAN_HASH_SIZE ||
                 memcmp(st->state_root, b->state_root.data,
                        WITAN_HASH_SIZE) != 0 ||
                 b->receipts_root.len != WITAN_HASH_SIZE ||
                 memcmp(st->receipts_root, b->receipts_root.data,
                        WITAN_HASH_SIZE) != 0)) {
        char mine_s[65], mine_r[65], its_s[65] = "(none)",
                                         its_r[65] = "(none)";
        hex32(st->state_root, mine_s);
        hex32(st->receipts_root, mine_r);
        if (b->state_root.len == WITAN_HASH_SIZE)
            hex32(b->state_root.data, its_s);
        if (b->receipts_root.len == WITAN_HASH_SIZE)
            hex32(b->receipts_root.data, its_r);
        fprintf(stderr,
                "\nwitan audit: block %llu: re-executed, its roots "
                "differ from the source's:\n  state root    %s "
                "(re-executed)\n                %s (source)\n  receipts "
                "root %s (re-executed)\n                %s (source)\n",
                h, mine_s, its_s, mine_r, its_r);
        err = WITAN_EINVAL;
    }
    return err ? 1 : 0;
}

int cli_verify_replay(ledger *mine, const struct cli_verify_source *src,
                      uint64_t height, witan_pool *pool, bool progress,
                      struct cli_verify_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    /* One thread checks each signature as it applies, as a validator
     * does: nothing to gain from checking ahead. */
    bool precheck = witan_pool_threads(pool) > 1;
    struct batch two[2];
    memset(two, 0, sizeof two);
    two[0].l = two[1].l = mine;
    struct batch *cur = &two[0], *ahead = &two[1];

    struct ledger_tip tip;
    ledger_tip(mine, &tip);
    uint64_t first = tip.height + 1, next = first;
    struct cli_progress shown;
    cli_progress_start(&shown, "audit verify", "blocks", progress);
    /* The first batch is checked before anything is applied: there is
     * nothing yet to do beside it. */
    uint64_t t0 = now_ns();
    fetch_batch(cur, src, &next, height, precheck);
    uint64_t t1 = now_ns();
    witan_pool_run(pool, cur->check_count, check_one, cur);
    stats->fetch_ns += t1 - t0;
    stats->wait_ns += now_ns() - t1;
    int rc = 0;
    while (cur->count) {
        t0 = now_ns();
        fetch_batch(ahead, src, &next, height, precheck);
        stats->fetch_ns += now_ns() - t0;
        witan_pool_start(pool, ahead->check_count, check_one, ahead);
        for (size_t k = 0; k < cur->count && !rc; k++) {
            const struct slot *s = &cur->slots[k];
            bool fast = precheck && prechecked(cur, s);
            struct ledger_apply_stats st;
            t0 = now_ns();
            rc = apply(mine, s, fast, &st);
            stats->apply_ns += now_ns() - t0;
            if (rc)
                break;
            stats->blocks++;
            stats->txs += st.tx_count;
            stats->prechecked += fast;
            cli_progress_show(&shown, s->height - first + 1,
                              height - first + 1, s->height == height);
        }
        /* Also after a failure: the pool still reads the next batch. */
        t0 = now_ns();
        witan_pool_wait(pool);
        stats->wait_ns += now_ns() - t0;
        release_batch(cur, src);
        if (rc) /* blocks fetched ahead of the failure */
            release_batch(ahead, src);
        struct batch *t = cur;
        cur = ahead;
        ahead = t;
    }
    cli_progress_break(&shown);
    free(two[0].checks);
    free(two[1].checks);
    return rc;
}
