/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The thread pool (common/pool.c): every index of a loop runs exactly once,
 * on 1 to 8 threads, loop after loop; sizes around the chunk; a NULL pool
 * runs in order on the caller; bounds refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>

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
        cmocka_unit_test(test_null_pool_in_order),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
