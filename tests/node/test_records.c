/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consensus-record log on real files: records come back in the order
 * appended, across reopening, lazy or not; a clean stop's mark is seen
 * once and taken off; a write cut short at the end is dropped and
 * the log goes on after it; a damaged header stops the start; another
 * validator's log is emptied; pruning keeps what is above the stable
 * checkpoint (and view changes) and skips what is at or below it; a key
 * rotation keeps the records, open or not; the file's bytes are those of
 * spec/node.md.
 */
#include <fcntl.h>
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
#include "spec/consensus.pb-c.h"

static char dir[256], path[300];
static wcrypto_pubkey alice, bob;

/* A record as the core writes it: 'M' and a signed Prepare (or, with
 * height 0, a view change, about no height). */
static pbft_bytes record(uint64_t height, uint8_t tag)
{
    Witan__ConsensusMessage m = WITAN__CONSENSUS_MESSAGE__INIT;
    Witan__Prepare p = WITAN__PREPARE__INIT;
    Witan__ViewChange vc = WITAN__VIEW_CHANGE__INIT;
    m.chain_id = "records-test";
    if (height) {
        p.height = height;
        p.view = tag;
        m.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_PREPARE;
        m.prepare = &p;
    } else {
        vc.new_view = tag;
        m.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_VIEW_CHANGE;
        m.view_change = &vc;
    }
    uint8_t body[256];
    size_t body_size = witan__consensus_message__pack(&m, body);
    uint8_t sig[64];
    memset(sig, tag, sizeof sig);
    Witan__SignedMessage sm = WITAN__SIGNED_MESSAGE__INIT;
    sm.body = (ProtobufCBinaryData){body_size, body};
    sm.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t size = witan__signed_message__get_packed_size(&sm);
    uint8_t *data = malloc(size + 1);
    assert_non_null(data);
    data[0] = 'M';
    witan__signed_message__pack(&sm, data + 1);
    return (pbft_bytes){data, size + 1};
}

/* Appends `count` records, lazy where bit i of `lazy` is set, and checks
 * that the append synced unless every one was lazy. */
static void append_lazy(struct node_records *rl, const pbft_bytes *recs,
                        size_t count, unsigned lazy)
{
    pbft_action a[8];
    assert_true(count <= 8);
    memset(a, 0, sizeof a);
    bool all_lazy = true;
    for (size_t i = 0; i < count; i++) {
        a[i].type = PBFT_ACT_PERSIST;
        a[i].data = recs[i];
        a[i].lazy = (lazy >> i) & 1;
        all_lazy &= a[i].lazy;
    }
    /* A send between them is not a record. */
    pbft_action all[9];
    memcpy(all, a, count * sizeof *a);
    memset(&all[count], 0, sizeof all[count]);
    all[count].type = PBFT_ACT_SEND;
    size_t written;
    bool synced;
    assert_int_equal(
        node_records_append(rl, all, count + 1, &written, &synced), 0);
    assert_int_equal(written, count);
    assert_int_equal(synced, count > 0 && !all_lazy);
}

static void append(struct node_records *rl, const pbft_bytes *recs,
                   size_t count)
{
    append_lazy(rl, recs, count, 0);
}

static void expect_records(pbft_bytes *got, size_t got_count,
                           const pbft_bytes *want, size_t want_count)
{
    assert_int_equal(got_count, want_count);
    for (size_t i = 0; i < want_count; i++) {
        assert_int_equal(got[i].size, want[i].size);
        assert_memory_equal(got[i].data, want[i].data, want[i].size);
    }
    node_records_free(got, got_count);
}

/* A new log of `recs` under `owner`, closed. */
static void make_log(const wcrypto_pubkey *owner, const pbft_bytes *recs,
                     size_t count)
{
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    assert_int_equal(node_records_open(path, owner, 0, recs, count, &rl, &got,
                                       &n),
                     0);
    node_records_free(got, n);
    node_records_close(rl);
}

static off_t file_size(void)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/witan-records-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/consensus.log", dir);
    memset(alice.bytes, 0xa1, sizeof alice.bytes);
    memset(bob.bytes, 0xb0, sizeof bob.bytes);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void free_all(pbft_bytes *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)r[i].data);
}

static void test_order_and_reopen(void **state)
{
    (void)state;
    pbft_bytes r[4] = {record(1, 1), record(2, 2), record(0, 3),
                       record(3, 4)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    /* Absent: made with the initial records (a legacy table's). */
    assert_int_equal(
        node_records_open(path, &alice, 0, r, 1, &rl, &got, &n), 0);
    expect_records(got, n, r, 1);
    append(rl, r + 1, 2);
    append(rl, r + 3, 1);
    /* Nothing to append is no write. */
    size_t written;
    bool synced;
    pbft_action send = {.type = PBFT_ACT_SEND};
    uint64_t before = node_records_size(rl);
    assert_int_equal(node_records_append(rl, &send, 1, &written, &synced), 0);
    assert_int_equal(written, 0);
    assert_false(synced);
    assert_int_equal(node_records_size(rl), before);
    assert_int_equal(file_size(), (off_t)before);
    node_records_close(rl);

    /* The initial records are for a new log only. */
    assert_int_equal(
        node_records_open(path, &alice, 0, r + 3, 1, &rl, &got, &n), 0);
    expect_records(got, n, r, 4);
    node_records_close(rl);
    /* Those at or below a stable checkpoint are skipped; view changes
     * stay. */
    assert_int_equal(node_records_open(path, &alice, 2, NULL, 0, &rl, &got, &n),
                     0);
    pbft_bytes above[2] = {r[2], r[3]};
    expect_records(got, n, above, 2);
    node_records_close(rl);
    free_all(r, 4);
}

/* The bytes spec/node.md defines: header, then length, record, check. */
/* Lazy records are written in order with the others (a killed process
 * loses none of them: they are in the file), an append of lazy records
 * alone does not sync, and one with a record that is not lazy does. */
static void test_lazy_records(void **state)
{
    (void)state;
    pbft_bytes r[5] = {record(1, 1), record(2, 2), record(2, 3),
                       record(3, 4), record(0, 5)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    assert_int_equal(
        node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n), 0);
    expect_records(got, n, NULL, 0);
    append_lazy(rl, r, 1, 1);          /* a lazy proposal alone */
    append_lazy(rl, r + 1, 2, 1);      /* a lazy prepare, a synced record */
    append_lazy(rl, r + 3, 1, 1);
    assert_int_equal(node_records_sync(rl), 0);
    assert_int_equal(node_records_sync(rl), 0); /* nothing left: no-op */
    append_lazy(rl, r + 4, 1, 0);
    uint64_t size = node_records_size(rl);
    node_records_close(rl);
    assert_int_equal(file_size(), (off_t)size);
    assert_int_equal(
        node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n), 0);
    expect_records(got, n, r, 5);
    node_records_close(rl);
    free_all(r, 5);
}

/* A clean stop appends a mark; the next open reports it, takes it off the
 * file and out of the records, so that a crash after that start finds
 * none; the one after reports nothing. */
static void test_stop_mark(void **state)
{
    (void)state;
    pbft_bytes r[2] = {record(1, 1), record(2, 2)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    assert_int_equal(
        node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n), 0);
    expect_records(got, n, NULL, 0);
    assert_false(node_records_stopped_cleanly(rl));
    append_lazy(rl, r, 2, 2);
    uint64_t size = node_records_size(rl);
    assert_int_equal(node_records_mark_stopped(rl), 0);
    node_records_close(rl);
    assert_int_equal(file_size(), (off_t)size + 4 + 1 + 8);
    assert_int_equal(
        node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n), 0);
    assert_true(node_records_stopped_cleanly(rl));
    expect_records(got, n, r, 2);
    assert_int_equal(file_size(), (off_t)size);
    assert_int_equal(node_records_size(rl), size);
    node_records_close(rl); /* a crash: no mark */
    assert_int_equal(
        node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n), 0);
    assert_false(node_records_stopped_cleanly(rl));
    expect_records(got, n, r, 2);
    node_records_close(rl);
    free_all(r, 2);
}

static void test_file_format(void **state)
{
    (void)state;
    pbft_bytes r = record(7, 9);
    make_log(&alice, &r, 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[1024];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(size, 48 + 4 + r.size + 8);
    assert_memory_equal(buf, "WITANRL1", 8);
    assert_memory_equal(buf + 8, alice.bytes, 32);
    uint8_t h[32];
    wcrypto_hash_tagged("witan/consensus-log/v1", buf, 40, h);
    assert_memory_equal(buf + 40, h, 8);
    assert_int_equal(store_read_be32(buf + 48), r.size);
    assert_memory_equal(buf + 52, r.data, r.size);
    wcrypto_hash_tagged("witan/consensus-log/v1", buf + 48, 4 + r.size, h);
    assert_memory_equal(buf + 52 + r.size, h, 8);
    free((void *)r.data);
}

/* A crash in the middle of an append: what was not whole was never
 * synced, so never sent; it is dropped and the log goes on. */
static void test_torn_tail(void **state)
{
    (void)state;
    pbft_bytes r[3] = {record(1, 1), record(2, 2), record(3, 3)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    make_log(&alice, r, 2);
    off_t whole = file_size();
    /* Cut in the middle of the second frame's check, then garbage after
     * a whole file. */
    assert_int_equal(truncate(path, whole - 3), 0);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    expect_records(got, n, r, 1);
    append(rl, r + 2, 1);
    node_records_close(rl);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x00\x00\x00\x05garbage!", 12), 12);
    close(fd);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    pbft_bytes want[2] = {r[0], r[2]};
    expect_records(got, n, want, 2);
    assert_int_equal(file_size(), (off_t)node_records_size(rl));
    node_records_close(rl);
    free_all(r, 3);
}

static void test_bad_header_refused(void **state)
{
    (void)state;
    pbft_bytes r = record(1, 1);
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    make_log(&alice, &r, 1);
    /* One bit of the owner's key flipped: its check no longer holds. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 20), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, 20), 1);
    close(fd);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     WITAN_EDBCORRUPT);
    assert_null(rl);
    /* An empty file is no log either. */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     WITAN_EDBCORRUPT);
    free((void *)r.data);
}

/* A copy of another validator's files: its records are not this one's. */
static void test_another_owner(void **state)
{
    (void)state;
    pbft_bytes r[2] = {record(1, 1), record(2, 2)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    make_log(&bob, r, 2);
    assert_int_equal(node_records_open(path, &alice, 0, r, 2, &rl, &got, &n),
                     0);
    assert_int_equal(n, 0);
    assert_null(got);
    append(rl, r + 1, 1);
    node_records_close(rl);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    expect_records(got, n, r + 1, 1);
    node_records_close(rl);
    free_all(r, 2);
}

static void test_prune(void **state)
{
    (void)state;
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    /* A quiet chain's log is not rewritten at every checkpoint. */
    pbft_bytes small[2] = {record(1, 1), record(0, 2)};
    append(rl, small, 2);
    uint64_t size = node_records_size(rl);
    assert_int_equal(node_records_prune(rl, 1), 0);
    assert_int_equal(node_records_size(rl), size);
    /* Past the bound: heights 1..k, each record ~8 KiB of signature. */
    pbft_bytes big[8];
    uint64_t h = 2;
    while (node_records_size(rl) < size + (1u << 20) + 8192) {
        for (int i = 0; i < 8; i++) {
            Witan__SignedMessage sm = WITAN__SIGNED_MESSAGE__INIT;
            Witan__ConsensusMessage m = WITAN__CONSENSUS_MESSAGE__INIT;
            Witan__Prepare p = WITAN__PREPARE__INIT;
            p.height = h++;
            m.kind_case = WITAN__CONSENSUS_MESSAGE__KIND_PREPARE;
            m.prepare = &p;
            uint8_t body[64], pad[8192];
            memset(pad, 7, sizeof pad);
            sm.body = (ProtobufCBinaryData){
                witan__consensus_message__pack(&m, body), body};
            sm.signature = (ProtobufCBinaryData){sizeof pad, pad};
            size_t s = witan__signed_message__get_packed_size(&sm);
            uint8_t *d = malloc(s + 1);
            d[0] = 'M';
            witan__signed_message__pack(&sm, d + 1);
            big[i] = (pbft_bytes){d, s + 1};
        }
        append(rl, big, 8);
        free_all(big, 8);
    }
    uint64_t top = h - 1;
    pbft_bytes last = record(top + 1, 5);
    append(rl, &last, 1);
    /* A rewrite of more than its write chunk (a rotated key keeps them
     * all) keeps every byte. */
    size = node_records_size(rl);
    assert_int_equal(node_records_rekey(rl, &alice, &bob), 0);
    assert_int_equal(node_records_size(rl), size);
    assert_int_equal(file_size(), (off_t)size);
    struct node_records *other;
    assert_int_equal(
        node_records_open(path, &bob, 0, NULL, 0, &other, &got, &n), 0);
    node_records_close(other);
    assert_int_equal(n, 2 + (top - 1) + 1); /* small, big, last */
    assert_int_equal(got[n - 1].size, last.size);
    assert_memory_equal(got[n - 1].data, last.data, last.size);
    node_records_free(got, n);
    assert_int_equal(node_records_rekey(rl, &bob, &alice), 0);
    assert_int_equal(node_records_prune(rl, top), 0);
    /* Left: the view change and the record above the checkpoint. */
    assert_true(node_records_size(rl) < 1024);
    assert_int_equal(file_size(), (off_t)node_records_size(rl));
    node_records_close(rl);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    pbft_bytes want[2] = {small[1], last};
    expect_records(got, n, want, 2);
    /* It goes on after a rewrite, with a record larger than the write
     * chunk (its buffer is let go) and a small one after it. */
    append(rl, small, 1);
    size_t huge_size = (3u << 19) + 1;
    uint8_t *huge = malloc(huge_size);
    assert_non_null(huge);
    memset(huge, 'M', huge_size);
    pbft_bytes two[2] = {{huge, huge_size}, small[1]};
    append(rl, two, 1);
    append(rl, two + 1, 1);
    node_records_close(rl);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(got[3 + i].size, two[i].size);
        assert_memory_equal(got[3 + i].data, two[i].data, two[i].size);
    }
    node_records_free(got, n);
    node_records_close(rl);
    free(huge);
    free_all(small, 2);
    free((void *)last.data);
}

/* A key rotation: the records stay this validator's, whether the log is
 * open (the node running) or not (a start with the new key). */
static void test_rekey(void **state)
{
    (void)state;
    pbft_bytes r[2] = {record(1, 1), record(2, 2)};
    struct node_records *rl;
    pbft_bytes *got;
    size_t n;
    assert_int_equal(node_records_open(path, &alice, 0, r, 1, &rl, &got, &n),
                     0);
    node_records_free(got, n);
    /* Not alice's to hand on from bob: nothing. */
    assert_int_equal(node_records_rekey(rl, &bob, &alice), 0);
    assert_int_equal(node_records_rekey(rl, &alice, &bob), 0);
    append(rl, r + 1, 1);
    node_records_close(rl);
    assert_int_equal(node_records_open(path, &bob, 0, NULL, 0, &rl, &got, &n),
                     0);
    expect_records(got, n, r, 2);
    node_records_close(rl);
    /* Closed: bob's back to alice; from a key it is not, nothing. */
    assert_int_equal(node_records_rekey_file(path, &alice, &bob), 0);
    assert_int_equal(node_records_rekey_file(path, &bob, &alice), 0);
    assert_int_equal(node_records_open(path, &alice, 0, NULL, 0, &rl, &got, &n),
                     0);
    expect_records(got, n, r, 2);
    node_records_close(rl);
    /* No log yet: nothing to do. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(node_records_rekey_file(path, &alice, &bob), 0);
    assert_int_equal(access(path, F_OK), -1);
    free_all(r, 2);
}

int main(void)
{
    witan_log_set_level(WITAN_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_another_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
