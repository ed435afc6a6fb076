/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames between validators and the memory a frame may cost:
 *
 * - both sides of a link derive the same key, and no one else does;
 * - a sealed frame opens only at its receiver, and a change to any one of
 *   its bytes is refused (by the MAC, or by the header checks before it);
 * - an authenticated frame whose items do not fill its payload is refused;
 * - decoding is budgeted: a message of empty repeated submessages (two wire
 *   bytes, a whole struct each in memory) is refused, an honest one is not;
 * - the bound of the issue, measured with a counting allocator: opening a
 *   crafted 8 MiB ViewChange frame and stepping it into a core grows the
 *   heap by at most 2 × its size + 64 KiB (and the same bytes decoded
 *   without a budget grow it by far more: printed, for comparison).
 * - backlogs: while a peer floods a validator, every frame of the other
 *   peers is served, and the flooder's are served or counted as dropped at
 *   its own backlog (real nng sockets);
 * - across a validator-set switch, a peer that addresses frames by the
 *   other set's places is heard and answered (node_mesh_places), and a
 *   validator only the other set holds is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/node.h"
#include "spec/consensus.pb-c.h"
#include "tests/node/nodetest.h"

#define CHAIN "frame-test"
#define N 4

/* --- a counting allocator ------------------------------------------------------
 * The sanitizers bring their own malloc, so the heap is measured in plain
 * builds only; the other tests run in both. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTED 0
#else
#define HEAP_COUNTED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static atomic_size_t heap_live, heap_peak;

static void heap_add(void *p)
{
    if (!p)
        return;
    size_t live = atomic_fetch_add(&heap_live, malloc_usable_size(p)) +
                  malloc_usable_size(p);
    size_t peak = atomic_load(&heap_peak);
    while (live > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, live))
        ;
}

static void heap_sub(void *p)
{
    if (p)
        atomic_fetch_sub(&heap_live, malloc_usable_size(p));
}

void *malloc(size_t size)
{
    void *p = __libc_malloc(size);
    heap_add(p);
    return p;
}

void *calloc(size_t count, size_t size)
{
    void *p = __libc_calloc(count, size);
    heap_add(p);
    return p;
}

void *realloc(void *old, size_t size)
{
    heap_sub(old);
    void *p = __libc_realloc(old, size);
    heap_add(p ? p : old);
    return p;
}

void free(void *p)
{
    heap_sub(p);
    __libc_free(p);
}

/* Peak growth over what was live when counting started. */
static size_t heap_start(void)
{
    size_t live = atomic_load(&heap_live);
    atomic_store(&heap_peak, live);
    return live;
}
#endif

static wcrypto_keypair keys[N];
static wcrypto_pubkey pubs[N];
static uint8_t links[N][N][WCRYPTO_LINK_KEY_SIZE]; /* [self][peer] */

static int setup(void **state)
{
    (void)state;
    if (wcrypto_init() != 0)
        return -1;
    for (int i = 0; i < N; i++) {
        uint8_t seed[WCRYPTO_SEED_SIZE];
        memset(seed, 0x40 + i, sizeof seed);
        if (wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, &keys[i]))
            return -1;
        pubs[i] = keys[i].pub;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j &&
                wcrypto_link_key(&keys[i], &pubs[j], CHAIN, links[i][j]))
                return -1;
    return 0;
}

static void test_link_keys(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j)
                assert_memory_equal(links[i][j], links[j][i],
                                    WCRYPTO_LINK_KEY_SIZE);
    assert_memory_not_equal(links[0][1], links[0][2], WCRYPTO_LINK_KEY_SIZE);
    uint8_t other[WCRYPTO_LINK_KEY_SIZE];
    assert_int_equal(wcrypto_link_key(&keys[0], &pubs[1], "other", other), 0);
    assert_memory_not_equal(other, links[0][1], WCRYPTO_LINK_KEY_SIZE);
    wcrypto_keypair secp;
    assert_int_equal(wcrypto_keypair_generate(WCRYPTO_KEY_SECP256K1, &secp), 0);
    assert_int_equal(wcrypto_link_key(&keys[0], &secp.pub, CHAIN, other),
                     WITAN_EKEYTYPE);
    wcrypto_keypair_wipe(&secp);
}

/* A frame of three items from validator 1, sealed for 2. */
static size_t sample_frame(uint8_t *out, size_t size)
{
    static const uint8_t a[] = {1, 2, 3}, b[] = {4}, c[] = {5, 6, 7, 8, 9};
    pbft_bytes items[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
    size_t written;
    assert_int_equal(node_frame_build(NODE_FRAME_CONSENSUS, 1, items, 3, out,
                                      size, &written),
                     0);
    node_frame_seal(out, written, 2, links[1][2]);
    return written;
}

static int open_at(uint32_t self, const uint8_t *bytes, size_t size,
                   struct node_frame *f)
{
    return node_frame_open(bytes, size, self, N,
                           (const uint8_t(*)[WCRYPTO_LINK_KEY_SIZE])links[self],
                           f);
}

static void test_seal_open_tamper(void **state)
{
    (void)state;
    uint8_t frame[128];
    size_t size = sample_frame(frame, sizeof frame);
    assert_int_equal(size, NODE_FRAME_HEADER_SIZE + 2 + 3 * 4 + 9 +
                               WCRYPTO_MAC_SIZE);
    struct node_frame f;
    assert_int_equal(open_at(2, frame, size, &f), 0);
    assert_int_equal(f.kind, NODE_FRAME_CONSENSUS);
    assert_int_equal(f.sender, 1);
    assert_int_equal(f.count, 3);
    const uint8_t *item;
    size_t item_size, at = 0, total = 0;
    int k = 0;
    while (node_frame_item(&f, &at, &item, &item_size)) {
        total += item_size;
        k++;
    }
    assert_int_equal(k, 3);
    assert_int_equal(total, 9);

    /* Only its receiver opens it. */
    assert_int_equal(open_at(3, frame, size, &f), WITAN_EAUTH);
    assert_int_equal(open_at(1, frame, size, &f), WITAN_EAUTH);
    /* Any one byte changed: refused, and never with items to read. */
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            frame[i] ^= (uint8_t)(1u << bit);
            int err = open_at(2, frame, size, &f);
            assert_true(err == WITAN_EAUTH || err == WITAN_EDECODE);
            assert_int_equal(f.count, 0);
            frame[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Short, long, empty. */
    assert_int_equal(open_at(2, frame, size - 1, &f), WITAN_EDECODE);
    uint8_t longer[129];
    memcpy(longer, frame, size);
    longer[size] = 0;
    assert_int_equal(open_at(2, longer, size + 1, &f), WITAN_EDECODE);
    assert_int_equal(open_at(2, frame, 0, &f), WITAN_EDECODE);
    /* Still opens untouched. */
    assert_int_equal(open_at(2, frame, size, &f), 0);
}

/* Items must fill the payload exactly, even under a good MAC (a faulty
 * validator can seal anything). */
static void test_items_fill_payload(void **state)
{
    (void)state;
    uint8_t frame[128];
    size_t size = sample_frame(frame, sizeof frame);
    struct node_frame f;
    uint8_t *count = frame + NODE_FRAME_HEADER_SIZE;
    const uint8_t counts[][2] = {{0, 2}, {0, 4}, {0, 0}, {0xff, 0xff}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        count[0] = counts[i][0];
        count[1] = counts[i][1];
        node_frame_seal(frame, size, 2, links[1][2]);
        assert_int_equal(open_at(2, frame, size, &f), WITAN_EDECODE);
    }
    count[0] = 0;
    count[1] = 3;
    /* An empty item, and a length past the payload. */
    uint8_t *len = count + NODE_FRAME_COUNT_SIZE;
    len[3] = 0;
    node_frame_seal(frame, size, 2, links[1][2]);
    assert_int_equal(open_at(2, frame, size, &f), WITAN_EDECODE);
    len[3] = 200;
    node_frame_seal(frame, size, 2, links[1][2]);
    assert_int_equal(open_at(2, frame, size, &f), WITAN_EDECODE);
    len[3] = 3;
    node_frame_seal(frame, size, 2, links[1][2]);
    assert_int_equal(open_at(2, frame, size, &f), 0);
    /* A sender claiming to be the receiver, or outside the set. */
    uint8_t *sender = frame + 4;
    sender[3] = 2;
    node_frame_seal(frame, size, 2, links[1][2]);
    assert_int_equal(open_at(2, frame, size, &f), WITAN_EAUTH);
    sender[3] = N;
    node_frame_seal(frame, size, 2, links[1][2]);
    assert_int_equal(open_at(2, frame, size, &f), WITAN_EAUTH);
}

/* Varint into p; returns its size. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* A SignedMessage from `sender` whose body is a ViewChange of `count`
 * empty PreparedProofs: about 2 × count bytes. The signature is junk: the
 * point is what decoding it costs before any signature can be checked. */
static uint8_t *crafted_view_change(uint32_t sender, size_t count,
                                    size_t *size)
{
    size_t vc = 2 * count;
    uint8_t *m = malloc(vc + 256);
    assert_non_null(m);
    uint8_t *p = m;
    *p++ = 0x08; /* sender */
    p += put_varint(p, sender);
    *p++ = 0x12; /* body */
    uint8_t *body_len = p;
    p += 5;      /* filled below, as a 5-byte varint */
    uint8_t *body = p;
    *p++ = 0x0a; /* chain_id */
    *p++ = (uint8_t)strlen(CHAIN);
    memcpy(p, CHAIN, strlen(CHAIN));
    p += strlen(CHAIN);
    *p++ = 0x72; /* view_change = 14 */
    p += put_varint(p, vc);
    for (size_t i = 0; i < count; i++) {
        *p++ = 0x2a; /* prepared = 5, empty */
        *p++ = 0x00;
    }
    size_t blen = (size_t)(p - body);
    for (int i = 0; i < 5; i++)
        body_len[i] = (uint8_t)(((blen >> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0));
    *p++ = 0x1a; /* signature */
    *p++ = 64;
    memset(p, 0x55, 64);
    p += 64;
    *size = (size_t)(p - m);
    return m;
}

static void test_budget(void **state)
{
    (void)state;
    size_t size;
    uint8_t *m = crafted_view_change(1, 100000, &size);
    Witan__SignedMessage *sm =
        witan__signed_message__unpack(NULL, size, m);
    assert_non_null(sm);
    ProtobufCMessage *out;
    assert_int_equal(witan_unpack(&witan__consensus_message__descriptor,
                                  sm->body.data, sm->body.len, &out),
                     WITAN_EBUDGET);
    assert_null(out);
    /* Garbage is a decode error, not a budget one. */
    static const uint8_t junk[] = {0x0a, 0x7f};
    assert_int_equal(witan_unpack(&witan__consensus_message__descriptor, junk,
                                  sizeof junk, &out),
                     WITAN_EDECODE);
    /* An honest message decodes. */
    pbft_msg pm;
    memset(&pm, 0, sizeof pm);
    pm.kind = PBFT_MSG_COMMIT;
    pm.height = 7;
    uint8_t *signed_msg;
    size_t signed_size;
    assert_int_equal(pbft_msg_sign(CHAIN, PBFT_SIG_ED25519, &keys[1], 1, &pm,
                                   &signed_msg, &signed_size),
                     0);
    assert_int_equal(witan_unpack(&witan__signed_message__descriptor,
                                  signed_msg, signed_size, &out),
                     0);
    protobuf_c_message_free_unpacked(out, NULL);
    free(signed_msg);
    witan__signed_message__free_unpacked(sm, NULL);
    free(m);
}

#if HEAP_COUNTED
static pbft *new_core(uint32_t self)
{
    pbft_config c;
    memset(&c, 0, sizeof c);
    c.chain_id = CHAIN;
    c.validator_count = N;
    c.validators = pubs;
    c.self = self;
    c.key = &keys[self];
    c.pipeline_depth = 2;
    c.checkpoint_interval = 2;
    c.view_timeout_ms = 1000;
    c.view_timeout_max_ms = 8000;
    c.retransmit_ms = 500;
    c.state_block_count = 8;
    c.sig_scheme = PBFT_SIG_ED25519;
    c.txs_root = ledger_txs_root;
    pbft_boot b;
    memset(&b, 0, sizeof b);
    wcrypto_history_init(&b.history);
    pbft *r;
    assert_int_equal(pbft_new(&c, &b, &r), 0);
    pbft_actions acts;
    pbft_ready(r, &acts);
    return r;
}
#endif

static void test_heap_bound(void **state)
{
    (void)state;
#if !HEAP_COUNTED
    skip();
#else
    size_t msg_size;
    uint8_t *m = crafted_view_change(1, 4u << 20, &msg_size); /* ~8 MiB */
    pbft_bytes item = {m, msg_size};
    size_t frame_cap = NODE_FRAME_HEADER_SIZE + NODE_FRAME_COUNT_SIZE +
                       NODE_FRAME_LENGTH_SIZE + msg_size + WCRYPTO_MAC_SIZE;
    uint8_t *frame = malloc(frame_cap);
    assert_non_null(frame);
    size_t frame_size;
    assert_int_equal(node_frame_build(NODE_FRAME_CONSENSUS, 1, &item, 1, frame,
                                      frame_cap, &frame_size),
                     0);
    node_frame_seal(frame, frame_size, 0, links[1][0]);
    free(m);
    pbft *core = new_core(0);

    /* Before: the same bytes decoded as the core used to, with no budget. */
    size_t base = heap_start();
    Witan__SignedMessage *sm =
        witan__signed_message__unpack(NULL, msg_size, frame +
                                      NODE_FRAME_HEADER_SIZE +
                                      NODE_FRAME_COUNT_SIZE +
                                      NODE_FRAME_LENGTH_SIZE);
    assert_non_null(sm);
    Witan__ConsensusMessage *cm =
        witan__consensus_message__unpack(NULL, sm->body.len, sm->body.data);
    assert_non_null(cm);
    size_t unbudgeted = atomic_load(&heap_peak) - base;
    witan__consensus_message__free_unpacked(cm, NULL);
    witan__signed_message__free_unpacked(sm, NULL);

    /* After: the frame opened, its message stepped into the core. */
    pbft_stats before, after;
    pbft_get_stats(core, &before);
    base = heap_start();
    struct node_frame f;
    assert_int_equal(open_at(0, frame, frame_size, &f), 0);
    const uint8_t *data;
    size_t size, at = 0;
    assert_true(node_frame_item(&f, &at, &data, &size));
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_MESSAGE;
    ev.u.message = (pbft_bytes){data, size};
    assert_int_equal(pbft_step(core, &ev), 0);
    size_t budgeted = atomic_load(&heap_peak) - base;
    pbft_get_stats(core, &after);
    assert_int_equal(after.dropped[PBFT_DROP_BUDGET],
                     before.dropped[PBFT_DROP_BUDGET] + 1);
    printf("heap growth for a %zu-byte ViewChange frame: %zu bytes (x%.1f) "
           "decoded without a budget, %zu bytes (x%.1f) opened and stepped; "
           "bound 2 x size + 64 KiB = %zu\n",
           frame_size, unbudgeted, (double)unbudgeted / (double)frame_size,
           budgeted, (double)budgeted / (double)frame_size,
           WITAN_UNPACK_BUDGET(frame_size));
    assert_true(budgeted <= WITAN_UNPACK_BUDGET(frame_size));
    assert_true(unbudgeted > WITAN_UNPACK_BUDGET(frame_size));
    pbft_free(core);
    free(frame);
#endif
}

/* --- backlogs over real sockets ------------------------------------------------ */

/* A raw sender: a link set of its own with one stream dialled to the mesh
 * at `port`, up when this returns. */
static struct node_links *dial(int port)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    struct node_links *s = nt_links_to(url, NODE_FRAME_SIZE_MAX, 8192);
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int k = 0; k < 1000 && !node_links_up(s, 0); k++)
        nanosleep(&pause, NULL);
    assert_true(node_links_up(s, 0));
    return s;
}

static void send_raw(struct node_links *s, const uint8_t *frame, size_t size)
{
    assert_int_equal(node_links_send(s, 0, frame, size), 0);
    node_links_flush(s);
}

static void send_flushed(struct node_mesh *m, uint32_t to, uint8_t kind,
                         const uint8_t *data, size_t size)
{
    node_mesh_send(m, to, kind, data, size);
    node_mesh_flush(m);
}

static void send_from(struct node_links *s, uint32_t sender, uint32_t tag,
                      size_t item_size)
{
    uint8_t *item = calloc(1, item_size);
    assert_non_null(item);
    memcpy(item, &tag, sizeof tag);
    pbft_bytes it = {item, item_size};
    size_t cap = NODE_FRAME_HEADER_SIZE + NODE_FRAME_COUNT_SIZE +
                 NODE_FRAME_LENGTH_SIZE + item_size + WCRYPTO_MAC_SIZE;
    uint8_t *frame = malloc(cap);
    size_t size;
    assert_int_equal(node_frame_build(NODE_FRAME_TXS, sender, &it, 1, frame,
                                      cap, &size),
                     0);
    node_frame_seal(frame, size, 0, links[sender][0]);
    send_raw(s, frame, size);
    free(frame);
    free(item);
}

/* Validator 1 floods validator 0's socket with frames while 2 and 3 send
 * a few: every frame of 2 and 3 is served, and each of 1's is served or
 * dropped and counted at its backlog. */
static void test_flood_fills_only_its_backlog(void **state)
{
    (void)state;
    int port = nt_free_port();
    char listen[64], peer[N][64];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);
    struct node_mesh_config c;
    memset(&c, 0, sizeof c);
    c.validator_count = N;
    c.self = 0;
    c.listen = listen;
    for (int i = 1; i < N; i++) {
        snprintf(peer[i], sizeof peer[i], "tcp://127.0.0.1:%d", port + 1);
        c.peers[i] = peer[i]; /* nobody listens there: sends are dropped */
    }
    c.send_queue_count = 4;
    c.key = &keys[0];
    c.validators = pubs;
    c.chain_id = CHAIN;
    struct node_mesh *mesh;
    assert_int_equal(node_mesh_open(&c, &mesh), 0);
    struct node_links *s1 = dial(port), *s2 = dial(port), *s3 = dial(port);
    enum { FLOOD = 2000, FEW = 20 };
    for (int k = 0; k < FLOOD; k++)
        send_from(s1, 1, (uint32_t)k, 64);
    for (int k = 0; k < FEW; k++) {
        send_from(s2, 2, (uint32_t)k, 64);
        send_from(s3, 3, (uint32_t)k, 64);
    }
    /* Serve nothing until everything has arrived (or been dropped). */
    uint32_t served[N] = {0};
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int idle = 0; idle < 100;) {
        struct node_frame f;
        nng_msg *msg;
        if (node_mesh_recv(mesh, &f, &msg) != 0) {
            idle++;
            nanosleep(&pause, NULL);
            continue;
        }
        idle = 0;
        served[f.sender]++;
        nng_msg_free(msg);
    }
    assert_int_equal(served[2], FEW);
    assert_int_equal(served[3], FEW);
    assert_int_equal(served[1] + node_mesh_dropped(mesh, NODE_DROP_PEER_BACKLOG),
                     FLOOD);
    printf("flood: %u of %d frames from the flooding peer served, %llu "
           "dropped at its backlog; %u and %u of %d from the others\n",
           served[1], FLOOD,
           (unsigned long long)node_mesh_dropped(mesh, NODE_DROP_PEER_BACKLOG),
           served[2], served[3], FEW);
    node_links_close(s1);
    node_links_close(s2);
    node_links_close(s3);
    node_mesh_close(mesh);
}

/* The next frame the mesh hands out within about ms milliseconds. */
static bool recv_within(struct node_mesh *m, struct node_frame *f,
                        nng_msg **msg, int ms)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int k = 0; k < ms / 10; k++) {
        if (node_mesh_recv(m, f, msg) == 0)
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

static bool item_is(const struct node_frame *f, const char *text)
{
    size_t at = 0, size;
    const uint8_t *data;
    return node_frame_item(f, &at, &data, &size) && size == strlen(text) &&
           memcmp(data, text, size) == 0;
}

/* Validator 1 of four is removed; the set linked at A (validator 2) is
 * the new one, {0, 2, 3}, where 2 and 3 are at 1 and 2. B (validator 3)
 * lags and still links the old set. Without places A refuses B's frames
 * (addressed by the old places); with the old set's places it hears them
 * from B's new place, and answers B by the old places, which B opens
 * under the set it links. The removed validator is heard by neither
 * (real nng sockets). */
static void test_places_across_a_switch(void **state)
{
    (void)state;
    int pa = nt_free_port(), pb = nt_free_port();
    char la[64], lb[64], nowhere[64];
    snprintf(la, sizeof la, "tcp://127.0.0.1:%d", pa);
    snprintf(lb, sizeof lb, "tcp://127.0.0.1:%d", pb);
    snprintf(nowhere, sizeof nowhere, "tcp://127.0.0.1:%d", nt_free_port());
    wcrypto_pubkey now[3] = {pubs[0], pubs[2], pubs[3]};
    struct node_mesh_config ca, cb, old;
    memset(&ca, 0, sizeof ca);
    ca.validator_count = 3;
    ca.self = 1;
    ca.listen = la;
    ca.peers[0] = nowhere;
    ca.peers[2] = lb;
    ca.send_queue_count = 16;
    ca.key = &keys[2];
    ca.validators = now;
    ca.chain_id = CHAIN;
    memset(&cb, 0, sizeof cb);
    cb.validator_count = N;
    cb.self = 3;
    cb.listen = lb;
    cb.peers[0] = cb.peers[1] = nowhere;
    cb.peers[2] = la;
    cb.send_queue_count = 16;
    cb.key = &keys[3];
    cb.validators = pubs;
    cb.chain_id = CHAIN;
    struct node_mesh *a, *b;
    assert_int_equal(node_mesh_open(&ca, &a), 0);
    assert_int_equal(node_mesh_open(&cb, &b), 0);
    struct node_frame f;
    nng_msg *msg;

    /* B addresses A by its old place, 2: refused without places. */
    const char *hello = "hello";
    for (int k = 0; k < 200 && node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) == 0;
         k++) {
        send_flushed(b, 2, NODE_FRAME_TXS, (const uint8_t *)hello, 5);
        assert_false(recv_within(a, &f, &msg, 50) && (nng_msg_free(msg), true));
    }
    assert_true(node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) > 0);

    /* With the old set's places, B is heard at its new place. */
    old = ca;
    old.validator_count = N;
    old.self = 2;
    old.validators = pubs;
    assert_int_equal(node_mesh_places(a, NODE_MESH_PREVIOUS, &old), 0);
    send_flushed(b, 2, NODE_FRAME_TXS, (const uint8_t *)hello, 5);
    assert_true(recv_within(a, &f, &msg, 5000));
    assert_int_equal(f.sender, 2);
    assert_true(item_is(&f, hello));
    nng_msg_free(msg);

    /* A answers B at its new place; B, still on the old set, hears it
     * from A's old place. */
    const char *back = "back";
    send_flushed(a, 2, NODE_FRAME_TXS, (const uint8_t *)back, 4);
    assert_true(recv_within(b, &f, &msg, 5000));
    assert_int_equal(f.sender, 2);
    assert_true(item_is(&f, back));
    nng_msg_free(msg);

    /* The removed validator 1, by the old places with a good MAC: the set
     * A links holds it not, so it is dropped and counted. */
    uint64_t refused = node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED);
    struct node_links *s1 = dial(pa);
    uint8_t frame[128];
    size_t size;
    pbft_bytes it = {(const uint8_t *)hello, 5};
    assert_int_equal(node_frame_build(NODE_FRAME_TXS, 1, &it, 1, frame,
                                      sizeof frame, &size),
                     0);
    node_frame_seal(frame, size, 2, links[1][2]);
    for (int k = 0; k < 200 &&
                    node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) == refused;
         k++) {
        send_raw(s1, frame, size);
        assert_false(recv_within(a, &f, &msg, 50) && (nng_msg_free(msg), true));
    }
    assert_true(node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) > refused);

    /* Places cleared: B's old addressing is refused again. */
    assert_int_equal(node_mesh_places(a, NODE_MESH_PREVIOUS, NULL), 0);
    refused = node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED);
    for (int k = 0; k < 200 &&
                    node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) == refused;
         k++) {
        send_flushed(b, 2, NODE_FRAME_TXS, (const uint8_t *)hello, 5);
        assert_false(recv_within(a, &f, &msg, 50) && (nng_msg_free(msg), true));
    }
    assert_true(node_mesh_dropped(a, NODE_DROP_UNAUTHENTICATED) > refused);
    node_links_close(s1);
    node_mesh_close(a);
    node_mesh_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_keys),
        cmocka_unit_test(test_seal_open_tamper),
        cmocka_unit_test(test_items_fill_payload),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_heap_bound),
        cmocka_unit_test(test_flood_fills_only_its_backlog),
        cmocka_unit_test(test_places_across_a_switch),
    };
    return cmocka_run_group_tests_name("frame", tests, setup, NULL);
}
