/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The thread pool (common/pool.c): every index of a loop runs exactly once,
 * on 1 to 8 threads, loop after loop; sizes around the chunk; a NULL pool
 * runs in order on the caller; bounds refused. A loop started with
 * witan_pool_start runs on the pool's threads while the caller does
 * something else (it finishes without the caller), and witan_pool_wait
 * completes it; without pool threads start runs it whole, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common/common.h"

struct job {
    size_t n;
    atomic_uint *hits; /* per index */
    uint64_t *out;
    size_t last; /* NULL pool: the order seen */
    bool in_order;
};

static void one(void *ctx, size_t i)
{
    struct job *j = ctx;
    atomic_fetch_add(&j->hits[i], 1);
    j->out[i] = (uint64_t)i * 2654435761u;
    if (i != 0 && i != j->last + 1)
        j->in_order = false;
    j->last = i;
}

/* On the pool's threads: only index i's own slots. */
static void one_shared(void *ctx, size_t i)
{
    struct job *j = ctx;
    atomic_fetch_add(&j->hits[i], 1);
    j->out[i] = (uint64_t)i * 2654435761u;
}

static void test_every_index_once(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 7, 8, 9, 63, 1000};
    for (unsigned t = 1; t <= 8; t++) {
        witan_pool *p;
        assert_int_equal(witan_pool_new(t, &p), 0);
        assert_int_equal(witan_pool_threads(p), t);
        for (int round = 0; round < 50; round++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t n = sizes[s];
                struct job j = {n, calloc(n ? n : 1, sizeof(atomic_uint)),
                                calloc(n ? n : 1, sizeof(uint64_t)), 0, true};
                witan_pool_run(p, n, one_shared, &j);
                for (size_t i = 0; i < n; i++) {
                    assert_int_equal(atomic_load(&j.hits[i]), 1);
                    assert_true(j.out[i] == (uint64_t)i * 2654435761u);
                }
                free(j.hits);
                free(j.out);
            }
        witan_pool_free(p);
    }
}

/* All n indices seen, without the caller's help: polled, up to 10 s. */
static bool finishes_alone(const struct job *j)
{
    struct timespec pause = {0, 1000000};
    for (int tries = 0; tries < 10000; tries++) {
        size_t seen = 0;
        for (size_t i = 0; i < j->n; i++)
            seen += atomic_load(&j->hits[i]) != 0;
        if (seen == j->n)
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

static void test_start_then_wait(void **state)
{
    (void)state;
    enum { N = 1000 };
    for (unsigned t = 1; t <= 8; t++) {
        witan_pool *p;
        assert_int_equal(witan_pool_new(t, &p), 0);
        witan_pool_wait(p); /* nothing started: returns at once */
        for (int round = 0; round < 20; round++) {
            struct job j = {N, calloc(N, sizeof(atomic_uint)),
                            calloc(N, sizeof(uint64_t)), 0, true};
            witan_pool_start(p, N, t == 1 ? one : one_shared, &j);
            if (t == 1) /* no pool threads: done here, in order */
                assert_true(j.in_order && j.last == N - 1);
            /* the caller never joins, and the loop still ends */
            if (round % 2 == 0)
                assert_true(finishes_alone(&j));
            witan_pool_wait(p);
            for (size_t i = 0; i < N; i++) {
                assert_int_equal(atomic_load(&j.hits[i]), 1);
                assert_true(j.out[i] == (uint64_t)i * 2654435761u);
            }
            free(j.hits);
            free(j.out);
        }
        /* run after start and wait: the pool is free for the next loop */
        struct job j = {9, calloc(9, sizeof(atomic_uint)),
                        calloc(9, sizeof(uint64_t)), 0, true};
        witan_pool_run(p, 9, one_shared, &j);
        for (size_t i = 0; i < 9; i++)
            assert_int_equal(atomic_load(&j.hits[i]), 1);
        free(j.hits);
        free(j.out);
        witan_pool_free(p);
    }
    struct job j = {N, calloc(N, sizeof(atomic_uint)),
                    calloc(N, sizeof(uint64_t)), 0, true};
    witan_pool_start(NULL, N, one, &j);
    assert_true(j.in_order && j.last == N - 1);
    witan_pool_wait(NULL);
    free(j.hits);
    free(j.out);
}

static void test_null_pool_in_order(void **state)
{
    (void)state;
    enum { N = 100 };
    struct job j = {N, calloc(N, sizeof(atomic_uint)), calloc(N, sizeof(uint64_t)),
                    0, true};
    witan_pool_run(NULL, N, one, &j);
    assert_true(j.in_order);
    assert_int_equal(j.last, N - 1);
    assert_int_equal(witan_pool_threads(NULL), 1);
    free(j.hits);
    free(j.out);
}

static void test_bounds(void **state)
{
    (void)state;
    witan_pool *p = (witan_pool *)&p;
    assert_int_equal(witan_pool_new(0, &p), WITAN_EINVAL);
    assert_null(p);
    assert_int_equal(witan_pool_new(WITAN_POOL_THREADS_MAX + 1, &p),
                     WITAN_EINVAL);
    witan_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_start_then_wait),
        cmocka_unit_test(test_null_pool_in_order),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
