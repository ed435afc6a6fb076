/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The links under the validator mesh (node/link.c) on real TCP sockets on
 * 127.0.0.1: frames arrive whole and in order at any size, a stream that
 * breaks the format is closed and counted, a link redials and delivers what
 * was queued while its peer was down, a stream arriving as the receiver
 * closes is closed with it, idle streams cannot hold every slot,
 * and a receiver that does not read pushes back on the sender instead of
 * losing frames or growing without bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nng/nng.h>

#include "node/node.h"
#include "tests/node/nodetest.h"

#define FRAME_MAX (256 * 1024)

static void pause_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static struct node_links *open_set(int listen_port, uint32_t in_count,
                                   uint32_t out_count)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", listen_port);
    struct node_links_config c;
    memset(&c, 0, sizeof c);
    c.listen = listen_port ? url : NULL;
    c.frame_size_max = FRAME_MAX;
    c.in_queue_count = in_count;
    c.in_queue_size = 4 * FRAME_MAX;
    c.out_queue_count = out_count;
    c.out_queue_size = 4 * FRAME_MAX;
    struct node_links *s;
    assert_int_equal(node_links_open(&c, &s), 0);
    return s;
}

static void dial_to(struct node_links *s, int port)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    assert_int_equal(node_links_dial(s, 0, url, NULL), 0);
}

static bool wait_up(struct node_links *s, bool up, int ms)
{
    for (int t = 0; t < ms; t += 5) {
        if (node_links_up(s, 0) == up)
            return true;
        pause_ms(5);
    }
    return false;
}

/* A receiver *b listening on `port` (`b_in` frames waiting at most) and a
 * sender *a dialled to it (`a_out` frames queued at most), its link up. */
static void linked_pair(int port, uint32_t b_in, uint32_t a_out,
                        struct node_links **a, struct node_links **b)
{
    *b = open_set(port, b_in, 64);
    *a = open_set(0, 64, a_out);
    dial_to(*a, port);
    assert_true(wait_up(*a, true, 5000));
}

/* The next frame within ms milliseconds, waiting on the set's descriptor. */
static nng_msg *recv_within(struct node_links *s, int ms)
{
    struct pollfd p = {.fd = node_links_fd(s), .events = POLLIN};
    for (int t = 0; t <= ms; t += 10) {
        nng_msg *m;
        if (node_links_recv(s, &m, NULL) == 0)
            return m;
        poll(&p, 1, 10);
    }
    return NULL;
}

static size_t size_of(uint32_t i)
{
    static const size_t sizes[] = {1, 16, 100, 1500, 65536, 70001,
                                   FRAME_MAX};
    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static void fill(uint8_t *p, size_t size, uint32_t i)
{
    for (size_t k = 0; k < size; k++)
        p[k] = (uint8_t)(i * 31 + k * 7);
}

/* Frames of every size from 1 byte to the largest, some flushed one by one
 * and some many to a write, arrive whole and in order. */
static void test_order_and_sizes(void **state)
{
    (void)state;
    int port = nt_free_port();
    struct node_links *a, *b;
    linked_pair(port, 64, 64, &a, &b);
    enum { COUNT = 700 };
    uint8_t *want = malloc(FRAME_MAX);
    uint32_t sent = 0, got = 0;
    while (got < COUNT) {
        /* Send ahead of what arrived, a burst of up to 20 per flush. */
        while (sent < COUNT && sent - got < 40) {
            fill(want, size_of(sent), sent);
            int err = node_links_send(a, 0, want, size_of(sent));
            if (err == WITAN_EFULL)
                break;
            assert_int_equal(err, 0);
            sent++;
            if (sent % 20 == 0 || sent % 7 == 3)
                node_links_flush(a);
        }
        node_links_flush(a);
        nng_msg *m = recv_within(b, 5000);
        assert_non_null(m);
        fill(want, size_of(got), got);
        assert_int_equal(nng_msg_len(m), size_of(got));
        assert_memory_equal(nng_msg_body(m), want, size_of(got));
        nng_msg_free(m);
        got++;
    }
    assert_int_equal(node_links_send(a, 0, want, FRAME_MAX + 1), WITAN_EINVAL);
    assert_int_equal(node_links_send(a, 5, want, 1), WITAN_ENOTFOUND);
    free(want);
    node_links_close(a);
    node_links_close(b);
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Whether the receiver closed the raw stream within about 5 s, serving
 * the set meanwhile. */
static bool closed_by_peer(struct node_links *s, int fd)
{
    for (int t = 0; t < 500; t++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            char c;
            return read(fd, &c, 1) <= 0;
        }
        nng_msg *m;
        if (node_links_recv(s, &m, NULL) == 0)
            nng_msg_free(m);
    }
    return false;
}

/* A wrong hello, a zero size and a size past the largest frame each close
 * the stream and are counted; a good stream beside them is served. */
static void test_bad_streams_closed(void **state)
{
    (void)state;
    int port = nt_free_port();
    struct node_links *b = open_set(port, 64, 64);
    static const uint8_t bad[3][8] = {
        {'W', 'F', 0, 1, 0, 0, 0, 1},              /* not the hello */
        {'W', 'L', 0, 1, 0, 0, 0, 0},              /* size 0 */
        {'W', 'L', 0, 1, 0, 0x04, 0, 1}};          /* 256 KiB + 1 */
    for (int k = 0; k < 3; k++) {
        uint64_t before = node_links_refused(b, true);
        int fd = raw_connect(port);
        assert_int_equal(write(fd, bad[k], sizeof bad[k]), sizeof bad[k]);
        assert_true(closed_by_peer(b, fd));
        assert_int_equal(node_links_refused(b, true), before + 1);
        close(fd);
    }
    /* A good raw stream: hello, then a 3-byte frame sent a byte a write. */
    int fd = raw_connect(port);
    static const uint8_t good[] = {'W', 'L', 0, 1, 0, 0, 0, 3, 'a', 'b', 'c'};
    for (size_t i = 0; i < sizeof good; i++) {
        assert_int_equal(write(fd, good + i, 1), 1);
        pause_ms(2);
    }
    nng_msg *m = recv_within(b, 5000);
    assert_non_null(m);
    assert_int_equal(nng_msg_len(m), 3);
    assert_memory_equal(nng_msg_body(m), "abc", 3);
    nng_msg_free(m);
    close(fd);
    node_links_close(b);
}

/* A stream that arrives as the receiver closes is closed with it, never
 * left open (a sender would then wait on it for ever): each round connects
 * and closes at once, so that nng's accept finishes while the set closes
 * in some of them. */
static void test_close_ends_streams_being_accepted(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        int port = nt_free_port();
        struct node_links *b = open_set(port, 64, 64);
        int fd = raw_connect(port);
        struct timespec t = {0, (round % 4) * 100000L}; /* 0-300 us */
        nanosleep(&t, NULL);
        node_links_close(b);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        char c;
        assert_true(read(fd, &c, 1) <= 0);
        close(fd);
    }
}

/* The receiver goes away: the link says so, frames queue meanwhile (up to
 * the queue's bound), and when a receiver listens again on the port the
 * link redials and delivers them, in order. */
static void test_redial_delivers_queued(void **state)
{
    (void)state;
    int port = nt_free_port();
    struct node_links *a, *b;
    linked_pair(port, 64, 8, &a, &b);
    node_links_close(b);
    assert_true(wait_up(a, false, 5000));
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(node_links_send(a, 0, (const uint8_t *)&i, sizeof i),
                         0);
    uint32_t over = 8;
    assert_int_equal(node_links_send(a, 0, (const uint8_t *)&over, 4),
                     WITAN_EFULL);
    node_links_flush(a); /* nothing to write to: they stay queued */
    b = open_set(port, 64, 64);
    assert_true(wait_up(a, true, 10000));
    for (uint32_t i = 0; i < 8; i++) {
        nng_msg *m = recv_within(b, 5000);
        assert_non_null(m);
        uint32_t v;
        assert_int_equal(nng_msg_len(m), sizeof v);
        memcpy(&v, nng_msg_body(m), sizeof v);
        assert_int_equal(v, i);
        nng_msg_free(m);
    }
    node_links_close(a);
    node_links_close(b);
}

/* More idle streams than slots, as from someone who connects and sends
 * nothing: a real peer that dials after them still gets through. */
static void test_idle_streams_cannot_hold_slots(void **state)
{
    (void)state;
    int port = nt_free_port();
    struct node_links *b = open_set(port, 64, 64);
    enum { IDLE = NODE_LINK_IN_MAX + 8 };
    int fds[IDLE];
    for (int i = 0; i < IDLE; i++)
        fds[i] = raw_connect(port);
    pause_ms(200);
    struct node_links *a = open_set(0, 64, 64);
    dial_to(a, port);
    const char *text = "through";
    nng_msg *m = NULL;
    for (int t = 0; t < 100 && !m; t++) {
        if (node_links_up(a, 0)) {
            assert_int_equal(node_links_send(a, 0, (const uint8_t *)text, 7),
                             0);
            node_links_flush(a);
        }
        m = recv_within(b, 100);
    }
    assert_non_null(m);
    assert_memory_equal(nng_msg_body(m), text, 7);
    nng_msg_free(m);
    printf("idle streams: %d opened, %llu refused while the slots were "
           "full\n",
           IDLE, (unsigned long long)node_links_refused(b, false));
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
    node_links_close(a);
    node_links_close(b);
}

/* The receiver takes nothing for a while: its queue stops at its bound,
 * TCP pushes back, the sender's queue fills and refuses; then every frame
 * the sender took arrives, none lost. */
static void test_backpressure_loses_nothing(void **state)
{
    (void)state;
    int port = nt_free_port();
    struct node_links *a, *b;
    linked_pair(port, 16, 64, &a, &b);
    uint8_t *frame = calloc(1, 65536);
    uint32_t taken = 0;
    bool refused = false;
    for (int round = 0; round < 2000 && !refused; round++) {
        for (int k = 0; k < 8; k++) {
            memcpy(frame, &taken, sizeof taken);
            int err = node_links_send(a, 0, frame, 65536);
            if (err == WITAN_EFULL) {
                refused = true;
                break;
            }
            assert_int_equal(err, 0);
            taken++;
        }
        node_links_flush(a);
        pause_ms(1);
    }
    assert_true(refused);
    for (uint32_t i = 0; i < taken; i++) {
        if (i % 32 == 0)
            node_links_flush(a);
        nng_msg *m = recv_within(b, 5000);
        assert_non_null(m);
        uint32_t v;
        memcpy(&v, nng_msg_body(m), sizeof v);
        assert_int_equal(v, i);
        nng_msg_free(m);
    }
    printf("backpressure: the sender took %u frames of 64 KiB before its "
           "queue refused one; all arrived\n",
           taken);
    free(frame);
    node_links_close(a);
    node_links_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_sizes),
        cmocka_unit_test(test_bad_streams_closed),
        cmocka_unit_test(test_close_ends_streams_being_accepted),
        cmocka_unit_test(test_redial_delivers_queued),
        cmocka_unit_test(test_idle_streams_cannot_hold_slots),
        cmocka_unit_test(test_backpressure_loses_nothing),
    };
    return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
