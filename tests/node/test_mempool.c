/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mempool on its own, against a real ledger made by `witan init`:
 * bounds by count and bytes with the "mempool full, retry" error, a
 * transaction sent again, a nonce held by another, selection in nonce order
 * whatever the arrival order, removal of what a block carried, and the check
 * a validator relies on to skip a signature: the pool must hold the exact
 * envelope bytes, not merely the same transaction hash; and pipelining:
 * a block built while others are in flight leaves theirs out and goes on
 * with the nonces past them; applied nonces kept per sender.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/internal.h"
#include "tests/node/nodetest.h"

#define TX_COUNT 8

static struct {
    char home[600];
    Witan__Genesis *g;
    ledger *l;
    ProtobufCBinaryData env[TX_COUNT];
    uint8_t hash[TX_COUNT][32];
} w;

static void decode(int i, struct ledger_tx *tx)
{
    char why[LEDGER_WHY_SIZE];
    assert_int_equal(ledger_tx_decode(w.l, w.env[i].data, w.env[i].len, true,
                                      tx, why, sizeof why),
                     0);
}

static int add(struct mempool *m, int i, char *why, size_t why_size)
{
    struct ledger_tx tx;
    decode(i, &tx);
    int err = mempool_add(m, &tx, 1000 + i, why, why_size); /* a time */
    ledger_tx_release(&tx); /* a no-op when the pool took it */
    return err;
}

static void test_bounds_and_repeats(void **state)
{
    (void)state;
    struct mempool m;
    char why[256];
    assert_int_equal(mempool_init(&m, 3, 1 << 20), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(add(&m, i, why, sizeof why), 0);
    assert_int_equal(add(&m, 0, why, sizeof why), WITAN_EEXIST);
    assert_int_equal(add(&m, 3, why, sizeof why), WITAN_EFULL);
    assert_non_null(strstr(why, "mempool full"));
    assert_non_null(strstr(why, "retry"));
    assert_int_equal(m.count, 3);
    /* Well under its bound: every entry kept decoded, and counted. */
    uint64_t decoded = 0;
    for (uint32_t i = 0; i < m.count; i++) {
        assert_non_null(m.txs[i].body);
        assert_non_null(m.txs[i].bytes);
        assert_true(m.txs[i].decoded_size > sizeof *m.txs[i].body);
        decoded += m.txs[i].decoded_size;
    }
    assert_int_equal(m.decoded, decoded);
    mempool_free(&m);

    /* Bounded by bytes as well: room for two envelopes, not three. */
    assert_int_equal(
        mempool_init(&m, 100, w.env[0].len + w.env[1].len + w.env[2].len - 1),
        0);
    assert_int_equal(add(&m, 0, why, sizeof why), 0);
    assert_int_equal(add(&m, 1, why, sizeof why), 0);
    assert_int_equal(add(&m, 2, why, sizeof why), WITAN_EFULL);
    mempool_free(&m);
}

/* The decoded forms are kept oldest first up to their bound; the rest keep
 * their bytes alone. One taken for a block leaves the entry its bytes, and
 * the count follows every way out. */
static void test_decoded_bound(void **state)
{
    (void)state;
    struct ledger_tx tx[3];
    for (int i = 0; i < 3; i++)
        decode(i, &tx[i]);
    uint64_t room = tx[0].decoded_size + tx[1].decoded_size;
    for (int i = 0; i < 3; i++)
        ledger_tx_release(&tx[i]);
    struct mempool m;
    char why[256];
    assert_int_equal(mempool_init(&m, 16, MEMPOOL_DECODED_SHARE * room), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(add(&m, i, why, sizeof why), 0);
    assert_non_null(m.txs[0].body);
    assert_non_null(m.txs[1].body);
    assert_null(m.txs[2].body); /* past the bound */
    assert_null(m.txs[2].envelope);
    assert_int_equal(m.txs[2].decoded_size, 0);
    assert_non_null(m.txs[2].bytes);
    assert_int_equal(m.decoded, room);

    struct ledger_tx out;
    assert_true(mempool_take_decoded(&m, w.hash[0], &out));
    assert_non_null(out.body);
    assert_null(out.bytes); /* the entry keeps them */
    assert_memory_equal(out.hash, w.hash[0], 32);
    assert_int_equal(out.nonce, 1);
    assert_int_equal(m.decoded, room - out.decoded_size);
    assert_null(m.txs[0].body);
    assert_non_null(mempool_find(&m, w.hash[0]));
    uint8_t hash[32];
    assert_true(mempool_holds(&m, w.env[0].data, w.env[0].len, hash));
    ledger_tx_release(&out);
    struct ledger_tx none;
    assert_false(mempool_take_decoded(&m, w.hash[0], &none)); /* taken */
    assert_null(none.body);
    assert_false(mempool_take_decoded(&m, w.hash[2], &none)); /* shed */
    assert_false(mempool_take_decoded(&m, w.hash[5], &none)); /* not pooled */

    /* Room again once a decoded entry leaves. */
    mempool_mark(&m, w.hash[1]);
    mempool_remove_selected(&m);
    assert_int_equal(m.decoded, 0);
    assert_int_equal(add(&m, 3, why, sizeof why), 0);
    assert_non_null(m.txs[m.count - 1].body);
    assert_int_equal(m.decoded, m.txs[m.count - 1].decoded_size);
    mempool_free(&m); /* with one still decoded: nothing leaks (SAN=1) */
}

static void test_nonce_held_by_another(void **state)
{
    (void)state;
    struct mempool m;
    char why[256];
    assert_int_equal(mempool_init(&m, 16, 1 << 20), 0);
    assert_int_equal(add(&m, 0, why, sizeof why), 0);
    struct ledger_tx tx;
    decode(0, &tx);
    tx.hash[0] ^= 1; /* as if another body had the same sender and nonce */
    assert_int_equal(mempool_add(&m, &tx, 1, why, sizeof why), WITAN_ENONCE);
    assert_non_null(strstr(why, "nonce 1 "));
    ledger_tx_release(&tx);
    assert_int_equal(m.count, 1);
    mempool_free(&m);
}

static void expect_nonces(struct ledger_tx **out, size_t n, int first,
                          int count)
{
    assert_int_equal(n, (size_t)count);
    for (int i = 0; i < count; i++)
        assert_memory_equal(out[i]->hash, w.hash[first + i], 32);
}

static void add_all(struct mempool *m, const int *arrival, size_t count)
{
    char why[256];
    for (size_t k = 0; k < count; k++)
        assert_int_equal(add(m, arrival[k], why, sizeof why), 0);
}

static void test_select_in_nonce_order(void **state)
{
    (void)state;
    struct mempool m;
    assert_int_equal(mempool_init(&m, 16, 1 << 20), 0);
    static const int arrival[] = {3, 1, 0, 2, 5};
    add_all(&m, arrival, WITAN_ARRAY_COUNT(arrival));
    struct ledger_tx *out[16];
    size_t n = mempool_select(&m, w.l, 0, 1, 16, SIZE_MAX, out);
    /* Nonces 1..4 (indexes 0..3) in order; nonce 6 waits behind the gap. */
    expect_nonces(out, n, 0, 4);
    assert_int_equal(mempool_admitted_us(&m, w.hash[3]), 1003);
    /* A block that carried them takes them out; the gapped one stays, with
     * the time it was added. */
    mempool_remove_selected(&m);
    assert_int_equal(m.count, 1);
    assert_non_null(mempool_find(&m, w.hash[5]));
    assert_null(mempool_find(&m, w.hash[0]));
    assert_int_equal(mempool_admitted_us(&m, w.hash[5]), 1005);
    assert_int_equal(mempool_admitted_us(&m, w.hash[0]), 0);
    mempool_free(&m);
}

/* The applied nonces are kept per sender: a slot read at another height is
 * read again, and a table that has seen as many senders as it may is wiped
 * before it takes one more. */
static void test_sender_table(void **state)
{
    (void)state;
    struct mempool m;
    assert_int_equal(mempool_init(&m, 8, 1 << 20), 0);
    assert_int_equal(m.table_cap, 16);
    for (uint32_t k = 0; k < m.table_cap / 2; k++) {
        m.senders[2 * k].addr[0] = (uint8_t)(k + 1);
        m.senders[2 * k].applied = 5;
        m.senders[2 * k].at = 1;
    }
    m.sender_count = (uint32_t)m.table_cap / 2;
    static const int arrival[] = {3, 1, 0, 2};
    add_all(&m, arrival, WITAN_ARRAY_COUNT(arrival));
    struct ledger_tx *out[8];
    size_t n = mempool_select(&m, w.l, 0, 1, 8, SIZE_MAX, out);
    expect_nonces(out, n, 0, 4);
    assert_int_equal(m.sender_count, 1);

    /* A wrong nonce read at another height is not believed. */
    mempool_clear_selection(&m);
    for (size_t i = 0; i < m.table_cap; i++)
        if (m.senders[i].at) {
            m.senders[i].applied = 2;
            m.senders[i].at = ledger_height(w.l) + 7;
        }
    n = mempool_select(&m, w.l, 0, 1, 8, SIZE_MAX, out);
    assert_int_equal(n, 4);
    assert_memory_equal(out[0]->hash, w.hash[0], 32);
    mempool_free(&m);
}

static void test_select_past_blocks_in_flight(void **state)
{
    (void)state;
    struct mempool m;
    char why[256];
    struct ledger_tx *out[16];
    assert_int_equal(mempool_init(&m, 16, 1 << 20), 0);
    for (int k = 0; k < 6; k++) /* nonces 1..6 of one sender */
        assert_int_equal(add(&m, k, why, sizeof why), 0);
    /* Block 1 takes nonces 1 and 2 and is in flight (tip 0). */
    expect_nonces(out, mempool_select(&m, w.l, 0, 1, 2, SIZE_MAX, out), 0, 2);
    mempool_propose_selected(&m, 1);
    mempool_clear_selection(&m);
    /* Block 2 leaves them out and goes on from nonce 3. */
    expect_nonces(out, mempool_select(&m, w.l, 0, 2, 16, SIZE_MAX, out), 2, 4);
    mempool_propose_selected(&m, 2);
    mempool_clear_selection(&m);
    /* Everything is spoken for: nothing waits for a block 3. */
    assert_int_equal(mempool_select(&m, w.l, 0, UINT64_MAX, 1, SIZE_MAX, out),
                     0);
    mempool_clear_selection(&m);
    /* Block 2 built again (a new view): its own earlier proposal is no
     * longer in flight, block 1 still is. */
    expect_nonces(out, mempool_select(&m, w.l, 0, 2, 16, SIZE_MAX, out), 2, 4);
    mempool_clear_selection(&m);
    /* Block 1 replaced by another node's holding nonce 1 only: nonce 2 is
     * free again and follows it. */
    mempool_unpropose(&m, 1, 1);
    mempool_hold(&m, mempool_find(&m, w.hash[0]));
    expect_nonces(out, mempool_select(&m, w.l, 0, 2, 16, SIZE_MAX, out), 1, 5);
    mempool_clear_selection(&m);
    /* Without the hold nonce 1 is proposed again. */
    expect_nonces(out, mempool_select(&m, w.l, 0, 2, 16, SIZE_MAX, out), 0, 6);
    mempool_clear_selection(&m);
    /* Block 1 commits with nonces 1 and 2: they leave, the rest keep
     * their place in block 2. */
    mempool_propose_selected(&m, 2);
    mempool_mark(&m, w.hash[0]);
    mempool_mark(&m, w.hash[1]);
    mempool_remove_selected(&m);
    mempool_unpropose(&m, 0, 1);
    assert_int_equal(m.count, 4);
    assert_int_equal(mempool_select(&m, w.l, 1, 3, 16, SIZE_MAX, out), 0);
    mempool_clear_selection(&m);
    mempool_free(&m);
}

static void test_holds_exact_bytes_only(void **state)
{
    (void)state;
    struct mempool m;
    char why[256];
    assert_int_equal(mempool_init(&m, 16, 1 << 20), 0);
    assert_int_equal(add(&m, 0, why, sizeof why), 0);
    uint8_t hash[32];
    assert_true(mempool_holds(&m, w.env[0].data, w.env[0].len, hash));
    assert_memory_equal(hash, w.hash[0], 32);
    assert_false(mempool_holds(&m, w.env[1].data, w.env[1].len, hash));

    /* The same body with other signature bytes: same hash, not held. */
    Witan__Envelope *e =
        witan__envelope__unpack(NULL, w.env[0].len, w.env[0].data);
    assert_non_null(e);
    assert_true(e->signature.len > 0);
    e->signature.data[0] ^= 0x01;
    size_t size = witan__envelope__get_packed_size(e);
    uint8_t *forged = malloc(size);
    witan__envelope__pack(e, forged);
    witan__envelope__free_unpacked(e, NULL);
    memset(hash, 0, sizeof hash);
    assert_false(mempool_holds(&m, forged, size, hash));
    assert_memory_equal(hash, w.hash[0], 32);
    /* ... and it is what a full check refuses. */
    struct ledger_tx tx;
    assert_int_equal(ledger_tx_decode(w.l, forged, size, true, &tx, why,
                                      sizeof why),
                     WITAN_ESIG);
    free(forged);
    /* Bytes that are no envelope at all. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_false(mempool_holds(&m, junk, sizeof junk, hash));
    mempool_free(&m);
}

/* The dropped-transaction ring in the node's own table: the last `bound`
 * are found with what displaced them, older ones are forgotten, a drop
 * recorded twice is kept once. */
static void test_drops_ring(void **state)
{
    (void)state;
    store *s = ledger_store(w.l);
    struct node_drop d[5];
    for (int i = 0; i < 5; i++) {
        memset(d[i].hash, 0x10 + i, WITAN_HASH_SIZE);
        memset(d[i].by, 0x80 + i, WITAN_HASH_SIZE);
    }
    uint8_t by[WITAN_HASH_SIZE];
    assert_int_equal(node_drops_find(s, d[0].hash, by), WITAN_ENOTFOUND);
    assert_int_equal(node_drops_record(s, 3, d, 2), 0);
    assert_int_equal(node_drops_record(s, 3, d, 2), 0); /* again: kept once */
    assert_int_equal(node_drops_record(s, 3, d + 2, 3), 0);
    for (int i = 0; i < 5; i++) {
        int err = node_drops_find(s, d[i].hash, by);
        if (i < 2) {
            assert_int_equal(err, WITAN_ENOTFOUND);
        } else {
            assert_int_equal(err, 0);
            assert_memory_equal(by, d[i].by, WITAN_HASH_SIZE);
        }
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024], bin_dir[1100], cmd[4096], why[LEDGER_WHY_SIZE];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(w.home, sizeof w.home, "%s/witan-mempool-test-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "%s/witan init --home %s --chain-id pool-test >/dev/null", bin_dir,
             w.home);
    if (system(cmd) != 0)
        return 1;
    char path[700], data[700];
    snprintf(path, sizeof path, "%s/genesis.json", w.home);
    snprintf(data, sizeof data, "%s/pool-data", w.home);
    mkdir(data, 0700);
    struct store_options opts = {16u << 20, 64u << 20, false};
    if (ledger_genesis_load(path, &w.g, why, sizeof why) != 0 ||
        ledger_open(data, w.g, &opts, &w.l, why, sizeof why) != 0) {
        fprintf(stderr, "test_mempool: %s\n", why);
        return 1;
    }
    snprintf(path, sizeof path, "%s/operator.key", w.home);
    if (nt_sign_attestations(path, "pool-test", 1, TX_COUNT, w.env, w.hash) !=
        0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_repeats),
        cmocka_unit_test(test_decoded_bound),
        cmocka_unit_test(test_nonce_held_by_another),
        cmocka_unit_test(test_select_in_nonce_order),
        cmocka_unit_test(test_sender_table),
        cmocka_unit_test(test_select_past_blocks_in_flight),
        cmocka_unit_test(test_holds_exact_bytes_only),
        cmocka_unit_test(test_drops_ring),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < TX_COUNT; i++)
        free(w.env[i].data);
    ledger_close(w.l);
    ledger_genesis_free(w.g);
    snprintf(cmd, sizeof cmd, "rm -rf %s", w.home);
    if (system(cmd) != 0)
        return 1;
    return failed;
}
