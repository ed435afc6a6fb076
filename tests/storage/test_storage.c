/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage: tables, cursors, the write-set state root (order of writes does
 * not matter, last write wins, only state tables count), abort leaves
 * nothing, and a full map reported as WITAN_EMAPFULL and then grown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"

static char dir[256];

static void rm_rf(const char *d)
{
    DIR *h = opendir(d);
    if (!h)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(h)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", d, e->d_name);
            unlink(path);
        }
    closedir(h);
    rmdir(d);
}

static store *fresh(const char *name, size_t map, size_t max)
{
    snprintf(dir, sizeof dir, "%s/witan-store-%d-%s",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             name);
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    struct store_options o = {map, max, false};
    store *s;
    assert_int_equal(store_open(dir, &o, &s), 0);
    return s;
}

static void put(store_txn *t, enum store_table tb, const char *k, const char *v)
{
    assert_int_equal(store_put(t, tb, k, strlen(k), v, strlen(v)), 0);
}

static void root_of(store *s, const char *const *ops, size_t n,
                    uint8_t root[32])
{
    store_txn *t;
    uint8_t zero[32] = {0};
    assert_int_equal(store_write_begin(s, &t), 0);
    for (size_t i = 0; i < n; i += 3) {
        if (ops[i + 2])
            put(t, (enum store_table)(ops[i][0] - '0'), ops[i + 1], ops[i + 2]);
        else
            assert_int_equal(store_del(t, (enum store_table)(ops[i][0] - '0'),
                                       ops[i + 1], strlen(ops[i + 1])),
                             0);
    }
    assert_int_equal(store_state_root(t, zero, 7, root), 0);
    store_abort(t);
}

static void test_state_root_rules(void **state)
{
    (void)state;
    store *s = fresh("roots", 8 << 20, 8 << 20);
    /* table 6 = accounts, 7 = attestations (state); 4 = txs (not state) */
    static const char *const a[] = {"6", "k1", "v1", "7", "k2", "v2",
                                    "6", "k0", "v0"};
    static const char *const b[] = {"6", "k0", "v0", "7", "k2", "v2",
                                    "6", "k1", "old", "6", "k1", "v1"};
    static const char *const c[] = {"6", "k0", "v0", "7", "k2", "v2",
                                    "6", "k1", "v1", "4", "idx", "x"};
    static const char *const d[] = {"6", "k0", "v0", "7", "k2", "v2",
                                    "6", "k1", "v9"};
    static const char *const e[] = {"6", "k0", "v0", "7", "k2", "v2",
                                    "6", "k1", NULL};
    uint8_t ra[32], rb[32], rc[32], rd[32], re[32];
    root_of(s, a, WITAN_ARRAY_COUNT(a), ra);
    root_of(s, b, WITAN_ARRAY_COUNT(b), rb);
    root_of(s, c, WITAN_ARRAY_COUNT(c), rc);
    root_of(s, d, WITAN_ARRAY_COUNT(d), rd);
    root_of(s, e, WITAN_ARRAY_COUNT(e), re);
    assert_memory_equal(ra, rb, 32); /* order and overwritten values */
    assert_memory_equal(ra, rc, 32); /* non-state tables do not count */
    assert_memory_not_equal(ra, rd, 32);
    assert_memory_not_equal(ra, re, 32); /* a delete differs from a put */
    /* The next write transaction reuses a larger one's buffers, committed
     * or aborted, and its root owes them nothing. */
    for (int commit = 1; commit >= 0; commit--) {
        store_txn *t;
        assert_int_equal(store_write_begin(s, &t), 0);
        for (int i = 0; i < 5000; i++) {
            char k[32], v[64];
            snprintf(k, sizeof k, "big%d", i);
            snprintf(v, sizeof v, "%0*d", 40 + i % 20, i);
            put(t, STORE_ACCOUNTS, k, v);
        }
        if (commit)
            assert_int_equal(store_commit(t), 0);
        else
            store_abort(t);
        uint8_t again[32];
        root_of(s, a, WITAN_ARRAY_COUNT(a), again);
        assert_memory_equal(again, ra, 32);
    }
    store_close(s);
    rm_rf(dir);
}

/* Record hashes (spec/proofs.md, its worked example): per window of
 * writes, one per key, its last write, in (table, key) order; the window
 * is independent of the writes before it, and the state root is the same
 * after the windows were sorted. */
static void test_record_hashes(void **state)
{
    (void)state;
    store *s = fresh("records", 1 << 20, 1 << 20);
    store_txn *t;
    uint8_t key[32 + 5], value[8] = {0, 0, 0, 0, 0, 0, 0, 42};
    memset(key, 0x11, 32);
    memcpy(key + 32, "limit", 5);
    uint8_t want[32];
    assert_int_equal(witan_hex_decode("e500fc11ed8f244a48829f8280e0f505e12779"
                                      "7864fcf17546304d1172b179e8",
                                      want, 32),
                     0);
    assert_int_equal(store_write_begin(s, &t), 0);
    put(t, STORE_ACCOUNTS, "before", "x"); /* another transaction's */
    size_t mark = store_write_count(t);
    assert_int_equal(store_put(t, STORE_CONTRACT_STATE, key, sizeof key,
                               "old", 3),
                     0);
    put(t, STORE_ACCOUNTS, "z", "1");
    put(t, STORE_TXS, "not-state", "1");
    assert_int_equal(store_put(t, STORE_CONTRACT_STATE, key, sizeof key,
                               value, sizeof value),
                     0);
    uint8_t(*h)[32];
    size_t n;
    assert_int_equal(store_record_hashes(t, mark, &h, &n), 0);
    assert_int_equal(n, 2);
    /* accounts (6) before contract_state (16); the last write counts */
    assert_memory_equal(h[1], want, 32);
    assert_memory_not_equal(h[0], want, 32);
    free(h);
    uint8_t r1[32], zero[32] = {0};
    assert_int_equal(store_state_root(t, zero, 1, r1), 0);
    store_abort(t);
    /* the same writes without a window taken: the same root */
    assert_int_equal(store_write_begin(s, &t), 0);
    put(t, STORE_ACCOUNTS, "before", "x");
    assert_int_equal(store_put(t, STORE_CONTRACT_STATE, key, sizeof key,
                               "old", 3),
                     0);
    put(t, STORE_ACCOUNTS, "z", "1");
    assert_int_equal(store_put(t, STORE_CONTRACT_STATE, key, sizeof key,
                               value, sizeof value),
                     0);
    uint8_t r2[32];
    assert_int_equal(store_state_root(t, zero, 1, r2), 0);
    assert_memory_equal(r1, r2, 32);
    /* an empty window */
    assert_int_equal(store_record_hashes(t, store_write_count(t), &h, &n), 0);
    assert_int_equal(n, 0);
    store_abort(t);
    store_close(s);
    rm_rf(dir);
}

static void test_commit_abort_and_cursor(void **state)
{
    (void)state;
    store *s = fresh("cursor", 1 << 20, 1 << 20);
    store_txn *t;
    assert_int_equal(store_write_begin(s, &t), 0);
    put(t, STORE_META, "b", "2");
    put(t, STORE_META, "a", "1");
    put(t, STORE_META, "c", "3");
    assert_int_equal(store_commit(t), 0);
    assert_int_equal(store_sync(s), 0); /* its meta page, on disk */
    assert_int_equal(store_write_begin(s, &t), 0);
    put(t, STORE_META, "d", "4");
    store_abort(t);

    assert_int_equal(store_read_begin(s, &t), 0);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_META, "d", 1, &v, &vs),
                     WITAN_ENOTFOUND);
    store_cursor *c;
    assert_int_equal(store_cursor_open(t, STORE_META, &c), 0);
    const void *k;
    size_t ks;
    char seen[8] = "";
    int err = store_cursor_seek(c, "b", 1, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs))
        strncat(seen, k, 1);
    assert_int_equal(err, WITAN_ENOTFOUND);
    assert_string_equal(seen, "bc");
    assert_int_equal(store_cursor_last(c, &k, &ks, &v, &vs), 0);
    assert_memory_equal(k, "c", 1);
    store_cursor_close(c);
    store_abort(t);
    store_close(s);
    rm_rf(dir);
}

static void test_map_full_then_grow(void **state)
{
    (void)state;
    store *s = fresh("grow", 64 * 1024, 1 << 20);
    char value[1000];
    memset(value, 'x', sizeof value);
    int err = 0, rounds = 0;
    for (int i = 0; i < 10000 && !err; i++) {
        store_txn *t;
        assert_int_equal(store_write_begin(s, &t), 0);
        char key[16];
        snprintf(key, sizeof key, "%08d", i);
        err = store_put(t, STORE_BLOCKS, key, 8, value, sizeof value);
        if (err)
            store_abort(t);
        else
            err = store_commit(t); /* the commit itself may find it full */
        if (err) {
            assert_int_equal(err, WITAN_EMAPFULL);
            err = store_grow(s);
            i--; /* redo the same write in the bigger map */
            rounds++;
        }
    }
    assert_int_equal(err, WITAN_EMAPFULL); /* at the maximum: stop, clearly */
    assert_true(rounds >= 2);
    assert_int_equal(store_map_size(s), 1 << 20);
    /* every committed write is still there */
    store_txn *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_BLOCKS, "00000000", 8, &v, &vs), 0);
    assert_int_equal(vs, sizeof value);
    store_abort(t);
    store_close(s);
    rm_rf(dir);
}

/* Ended reads are renewed, not begun again: each read still sees the last
 * commit, however many are open at once, before and after the map grows. */
static void test_reads_see_each_commit(void **state)
{
    (void)state;
    store *s = fresh("reads", 64 * 1024, 1 << 20);
    enum { OPEN = 7 }; /* more than the store keeps idle */
    for (int round = 0; round < 3; round++) {
        store_txn *t;
        char v[16];
        snprintf(v, sizeof v, "%d", round);
        assert_int_equal(store_write_begin(s, &t), 0);
        put(t, STORE_META, "k", v);
        assert_int_equal(store_commit(t), 0);
        store_txn *r[OPEN];
        for (int i = 0; i < OPEN; i++) {
            assert_int_equal(store_read_begin(s, &r[i]), 0);
            const void *got;
            size_t size;
            assert_int_equal(store_get(r[i], STORE_META, "k", 1, &got, &size),
                             0);
            assert_int_equal(size, strlen(v));
            assert_memory_equal(got, v, size);
        }
        /* A read open across a commit keeps its snapshot. */
        assert_int_equal(store_write_begin(s, &t), 0);
        put(t, STORE_META, "k", "later");
        assert_int_equal(store_commit(t), 0);
        const void *got;
        size_t size;
        assert_int_equal(store_get(r[0], STORE_META, "k", 1, &got, &size), 0);
        assert_memory_equal(got, v, size);
        for (int i = 0; i < OPEN; i++)
            store_abort(r[i]);
        if (round == 1)
            assert_int_equal(store_grow(s), 0);
    }
    store_close(s);
    rm_rf(dir);
}

int main(void)
{
    witan_log_set_level(WITAN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_root_rules),
        cmocka_unit_test(test_record_hashes),
        cmocka_unit_test(test_commit_abort_and_cursor),
        cmocka_unit_test(test_map_full_then_grow),
        cmocka_unit_test(test_reads_see_each_commit),
    };
    return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
