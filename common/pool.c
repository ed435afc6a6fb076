/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pool of threads for one parallel loop at a time (common.h, "Thread
 * pool"): witan_pool_run(n, fn) calls fn(ctx, i) once for every i < n, on
 * the pool's threads and on the caller's, and returns when all are done.
 * It is witan_pool_start, which hands the loop to the pool's threads and
 * returns, then witan_pool_wait, where the caller joins them: between the
 * two the caller may do other work while the loop runs.
 * Which thread runs which i is timing; what each call writes is its own
 * slot, so results never depend on it. Created at the edge (the node, the
 * CLI) and handed to cores that want it; they never make threads.
 */
#include <pthread.h>
#include <stdlib.h>

#include "common/common.h"

/* Indices a thread takes at once: one lock round trip beside a few
 * signature checks is nothing, and a block of a few hundred still splits
 * evenly. */
#define POOL_CHUNK 8

struct witan_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a new loop, or stop */
    pthread_cond_t done; /* the last chunk of a loop finished */
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n, next, finished;
    uint64_t generation; /* one per loop: a worker takes part once */
    bool open;           /* started and not yet waited for */
    bool stop;
    unsigned count; /* threads started, the caller not counted */
    pthread_t threads[WITAN_POOL_THREADS_MAX];
};

/* Runs chunks of the current loop until none is left; called and
 * returning with p->mu held. */
static void take_chunks(witan_pool *p)
{
    while (p->next < p->n) {
        size_t from = p->next;
        size_t to = from + POOL_CHUNK < p->n ? from + POOL_CHUNK : p->n;
        p->next = to;
        void (*fn)(void *, size_t) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        for (size_t i = from; i < to; i++)
            fn(ctx, i);
        pthread_mutex_lock(&p->mu);
        p->finished += to - from;
        if (p->finished == p->n)
            pthread_cond_broadcast(&p->done);
    }
}

static void *worker(void *arg)
{
    witan_pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        take_chunks(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int witan_pool_new(unsigned threads, witan_pool **out)
{
    *out = NULL;
    if (threads < 1 || threads > WITAN_POOL_THREADS_MAX)
        return WITAN_EINVAL;
    witan_pool *p = calloc(1, sizeof *p);
    if (!p)
        return WITAN_ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return WITAN_ENOMEM;
    }
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (unsigned i = 0; i + 1 < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            witan_pool_free(p);
            return WITAN_ENOMEM;
        }
        p->count++;
    }
    *out = p;
    return WITAN_OK;
}

unsigned witan_pool_threads(const witan_pool *p)
{
    return p ? p->count + 1 : 1;
}

/* Whether the loop runs on the caller alone, in order: no pool threads,
 * or nothing to share. */
static bool inline_loop(const witan_pool *p, size_t n)
{
    return !p || p->count == 0 || n <= 1;
}

void witan_pool_start(witan_pool *p, size_t n,
                      void (*fn)(void *ctx, size_t i), void *ctx)
{
    if (inline_loop(p, n)) {
        if (p) { /* one loop at a time, also when it runs here */
            pthread_mutex_lock(&p->mu);
            WITAN_ASSERT(!p->open);
            p->open = true;
            pthread_mutex_unlock(&p->mu);
        }
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    WITAN_ASSERT(!p->open && p->finished == p->n); /* one loop at a time */
    p->open = true;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next = 0;
    p->finished = 0;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void witan_pool_wait(witan_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    take_chunks(p);
    while (p->finished < p->n)
        pthread_cond_wait(&p->done, &p->mu);
    p->open = false;
    pthread_mutex_unlock(&p->mu);
}

void witan_pool_run(witan_pool *p, size_t n, void (*fn)(void *ctx, size_t i),
                    void *ctx)
{
    witan_pool_start(p, n, fn, ctx);
    witan_pool_wait(p);
}

void witan_pool_free(witan_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    WITAN_ASSERT(!p->open); /* its loop's calls may still be running */
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->count; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
