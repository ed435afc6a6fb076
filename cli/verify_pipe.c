/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay of witan audit verify (cli.h, "re-verifying blocks"): blocks
 * tip+1 .. height from a source, applied to the auditor's ledger in order,
 * each one's roots held to the source's.
 *
 * Checking transaction signatures is most of the work of applying a block,
 * and it needs no state: ledger_tx_decode with its signature check on (the
 * validators' stateless admission rule) depends on the bytes and the
 * genesis alone. So while this thread executes block h, other threads run
 * that rule on every transaction of blocks h+1 .. h+CLI_VERIFY_BLOCKS_AHEAD
 * (and this thread joins them whenever it would otherwise wait). A block
 * whose every transaction passed is applied with verify_signatures false —
 * the ledger still runs every other check of the rule again itself; any
 * other block is applied with it true, so the ledger finds and names the
 * first bad transaction exactly as a one-thread run does. Which way a block
 * goes depends on its bytes only, never on thread timing: the verdict, the
 * messages and the auditor's state are those of one thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* Transactions a thread takes at once: a lock round trip per chunk is
 * nothing beside 16 signature checks, and a block of a few hundred still
 * splits evenly across the threads. */
#define VERIFY_CHUNK 16

/* One block in flight. */
struct slot {
    uint64_t height;
    int err; /* the source's, when it could not give the block */
    const Witan__BlockResponse *b;
    void *handle;
    size_t n;    /* transactions to check (0 when none are pre-checked) */
    size_t next; /* the first not yet handed to a thread */
    size_t done; /* checked, or given up on once one failed */
    bool bad;    /* one failed the rule: apply with verify_signatures */
};

struct pipe {
    const ledger *l;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a chunk to take, or stop */
    pthread_cond_t done; /* a chunk finished */
    struct slot ring[CLI_VERIFY_BLOCKS_AHEAD];
    size_t head, count; /* the oldest slot; slots in use */
    bool stop;
    pthread_t threads[CLI_VERIFY_THREADS_MAX];
    unsigned started;
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
    return n > CLI_VERIFY_THREADS_MAX ? CLI_VERIFY_THREADS_MAX : (unsigned)n;
}

/* The next chunk to check, oldest block first (so the block the applying
 * thread waits for is finished first); NULL when none. With p->mu held. */
static struct slot *take(struct pipe *p, size_t *from, size_t *to)
{
    for (size_t k = 0; k < p->count; k++) {
        struct slot *s = &p->ring[(p->head + k) % CLI_VERIFY_BLOCKS_AHEAD];
        if (s->next >= s->n)
            continue;
        if (s->bad) { /* the block goes to the ledger's own check anyway */
            s->done += s->n - s->next;
            s->next = s->n;
            if (s->done == s->n)
                pthread_cond_broadcast(&p->done);
            continue;
        }
        *from = s->next;
        *to = s->next + VERIFY_CHUNK < s->n ? s->next + VERIFY_CHUNK : s->n;
        s->next = *to;
        return s;
    }
    return NULL;
}

/* The rule of a validator's admission, signature included, on
 * transactions [from, to) of a block; false at the first that fails it.
 * Without p->mu: the slot stays put until its chunks are done. */
static bool check(const ledger *l, const struct slot *s, size_t from,
                  size_t to)
{
    char why[LEDGER_WHY_SIZE];
    for (size_t i = from; i < to; i++) {
        const ProtobufCBinaryData *env = &s->b->block->txs[i];
        struct ledger_tx tx;
        if (ledger_tx_decode(l, env->data, env->len, true, &tx, why,
                             sizeof why) != 0)
            return false;
        ledger_tx_release(&tx);
    }
    return true;
}

/* Records a checked chunk. With p->mu held. */
static void finish(struct pipe *p, struct slot *s, size_t from, size_t to,
                   bool ok)
{
    s->done += to - from;
    if (!ok)
        s->bad = true;
    if (s->done == s->n)
        pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg)
{
    struct pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        size_t from, to;
        struct slot *s = take(p, &from, &to);
        if (!s) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        bool ok = check(p->l, s, from, to);
        pthread_mutex_lock(&p->mu);
        finish(p, s, from, to, ok);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Fetches block h into a new slot and hands its transactions to the
 * threads (none with `precheck` false). The source is asked in height
 * order, by this thread only. */
static void submit(struct pipe *p, const struct cli_verify_source *src,
                   uint64_t h, bool precheck)
{
    struct slot s;
    memset(&s, 0, sizeof s);
    s.height = h;
    s.err = src->fetch(src->ctx, h, &s.b, &s.handle);
    if (!s.err && precheck)
        s.n = s.b->block->n_txs;
    pthread_mutex_lock(&p->mu);
    p->ring[(p->head + p->count) % CLI_VERIFY_BLOCKS_AHEAD] = s;
    p->count++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* Waits until every chunk of the oldest slot is done, checking chunks
 * itself meanwhile. */
static struct slot *wait_oldest(struct pipe *p)
{
    pthread_mutex_lock(&p->mu);
    struct slot *s = &p->ring[p->head];
    while (s->done < s->n) {
        size_t from, to;
        struct slot *t = take(p, &from, &to);
        if (!t) {
            pthread_cond_wait(&p->done, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        bool ok = check(p->l, t, from, to);
        pthread_mutex_lock(&p->mu);
        finish(p, t, from, to, ok);
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void release_oldest(struct pipe *p, const struct cli_verify_source *src)
{
    pthread_mutex_lock(&p->mu);
    struct slot s = p->ring[p->head];
    p->head = (p->head + 1) % CLI_VERIFY_BLOCKS_AHEAD;
    p->count--;
    pthread_mutex_unlock(&p->mu);
    if (!s.err)
        src->release(src->ctx, s.handle);
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
     * applied holds exactly the envelopes the threads checked. */
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
        err = ledger_block_apply(mine, bytes, size, b->cert, !prechecked, st,
                                 why, sizeof why);
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
                      uint64_t height, unsigned threads, bool progress,
                      struct cli_verify_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (threads < 1)
        threads = 1;
    if (threads > CLI_VERIFY_THREADS_MAX)
        threads = CLI_VERIFY_THREADS_MAX;
    /* One thread checks each signature as it applies, as a validator
     * does: nothing to gain from checking ahead. */
    bool precheck = threads > 1;
    struct pipe *p = calloc(1, sizeof *p);
    if (!p)
        return cli_fail("audit", WITAN_ENOMEM);
    p->l = mine;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    /* This thread is one of them. One that cannot start leaves its share
     * to the others: the verdict never depends on how many run. */
    for (unsigned i = 1; precheck && i < threads; i++)
        if (pthread_create(&p->threads[p->started], NULL, worker, p) == 0)
            p->started++;

    struct ledger_tip tip;
    ledger_tip(mine, &tip);
    uint64_t first = tip.height + 1, next = first;
    struct cli_progress shown;
    cli_progress_start(&shown, "audit verify", "blocks", progress);
    int rc = 0;
    for (uint64_t h = first; h <= height && !rc; h++) {
        uint64_t t0 = now_ns();
        /* A block the source cannot give stops the fetching; it is
         * reported when its turn comes, after the blocks before it. */
        while (p->count < CLI_VERIFY_BLOCKS_AHEAD && next <= height &&
               (p->count == 0 ||
                !p->ring[(p->head + p->count - 1) % CLI_VERIFY_BLOCKS_AHEAD]
                     .err))
            submit(p, src, next++, precheck);
        uint64_t t1 = now_ns();
        struct slot *s = wait_oldest(p);
        uint64_t t2 = now_ns();
        bool prechecked = precheck && !s->err && !s->bad;
        struct ledger_apply_stats st;
        rc = apply(mine, s, prechecked, &st);
        uint64_t t3 = now_ns();
        stats->fetch_ns += t1 - t0;
        stats->wait_ns += t2 - t1;
        stats->apply_ns += t3 - t2;
        if (!rc) {
            stats->blocks++;
            stats->txs += st.tx_count;
            stats->prechecked += prechecked;
        }
        release_oldest(p, src);
        if (!rc)
            cli_progress_show(&shown, h - first + 1, height - first + 1,
                              h == height);
    }
    cli_progress_break(&shown);

    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    while (p->count) /* blocks fetched ahead of a failure */
        release_oldest(p, src);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return rc;
}
