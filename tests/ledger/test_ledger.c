/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger: every refusal reason of admission and apply, corrections and
 * revisions, membership changes with their heights, two ledgers applying the
 * same blocks to identical roots, genesis errors, a database from another
 * chain, and a map that fills up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "storage/storage.h"
#include "tests/ledger/world.h"


/* An empty block on the tip and the world's validator's signature of its
 * vote (view 0). */
static void signed_empty_block(struct world *w, struct ledger_block *blk,
                               uint8_t sig[64])
{
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    assert_int_equal(ledger_block_build(w->l, NULL, 0, tip.time_ms + 1000, 0,
                                        0, blk),
                     0);
    uint8_t digest[32];
    wcrypto_vote_digest("witan-test", blk->height, 0, blk->hash, digest);
    assert_int_equal(wcrypto_sign(&w->validator, digest, sig), 0);
}

/* Every non-canonical form of a valid certificate is refused by the
 * ledger with a reason, through the same decoder the replicas use; the
 * canonical one is then accepted. A form one accepts and the other refuses
 * is how a faulty primary would halt every correct replica. */
static void test_cert_canonical(void **state)
{
    (void)state;
    struct world *w = new_world("certs");
    struct ledger_block blk;
    char why[WHY_SIZE];
    uint8_t sig[64];
    signed_empty_block(w, &blk, sig);
    ProtobufCBinaryData sigs[2] = {{64, sig}, {64, sig}};
    uint8_t bitmap[2] = {1, 0}, zero = 0;
    ProtobufCMessageUnknownField unknown = {15, PROTOBUF_C_WIRE_TYPE_VARINT,
                                            1, &zero};
    static const char *const want[] = {
        "ends in a zero byte", "1 signers but carries 2 signatures",
        "bitmap is 0 bytes", "fields the spec does not define",
        "signature 0 is 63 bytes"};
    for (int mode = 0; mode < 5; mode++) {
        Witan__CommitCertificate cert = WITAN__COMMIT_CERTIFICATE__INIT;
        cert.height = blk.height;
        cert.block_hash = (ProtobufCBinaryData){32, blk.hash};
        cert.signers = (ProtobufCBinaryData){1, bitmap};
        cert.n_signatures = 1;
        cert.signatures = sigs;
        if (mode == 0)
            cert.signers.len = 2;
        if (mode == 1)
            cert.n_signatures = 2;
        if (mode == 2) {
            cert.signers.len = 0;
            cert.n_signatures = 0;
        }
        if (mode == 3) {
            cert.base.n_unknown_fields = 1;
            cert.base.unknown_fields = &unknown;
        }
        ProtobufCBinaryData short_sig = {63, sig};
        if (mode == 4)
            cert.signatures = &short_sig;
        /* Through the wire, as a peer's bytes would arrive. */
        size_t size = witan__commit_certificate__get_packed_size(&cert);
        uint8_t *bytes = malloc(size);
        witan__commit_certificate__pack(&cert, bytes);
        Witan__CommitCertificate *got =
            witan__commit_certificate__unpack(NULL, size, bytes);
        assert_non_null(got);
        pbft_cert c;
        char inner[WHY_SIZE];
        assert_int_equal(pbft_cert_from_proto(got, &c, inner, sizeof inner),
                         WITAN_EDECODE);
        struct ledger_apply_stats st;
        assert_int_not_equal(ledger_block_apply(w->l, blk.bytes, blk.size, got,
                                                true, NULL, &st, why, WHY_SIZE),
                             0);
        if (strstr(why, want[mode]) == NULL)
            fail_msg("mode %d: reason \"%s\" lacks \"%s\"", mode, why,
                     want[mode]);
        witan__commit_certificate__free_unpacked(got, NULL);
        free(bytes);
    }
    assert_int_equal(certify_and_apply(w, &blk, true, why), 0);
    ledger_block_free(&blk);
    free_world(w);
}

/* A certificate's signatures are checked once: the ledger remembers the
 * ones it found valid (or a caller vouched for), and a copy with one byte
 * of a signature changed is still refused after the valid one was
 * accepted, and before and after the remembered one is accepted again. */
static void test_cert_remembered(void **state)
{
    (void)state;
    struct world *w = new_world("cert-cache");
    struct ledger_block blk;
    char why[WHY_SIZE];
    uint8_t sig[64], bad[64], signers = 1;
    signed_empty_block(w, &blk, sig);
    memcpy(bad, sig, 64);
    bad[10] ^= 0x01;
    ProtobufCBinaryData good_sig = {64, sig}, bad_sig = {64, bad};
    Witan__CommitCertificate cert = WITAN__COMMIT_CERTIFICATE__INIT;
    cert.height = blk.height;
    cert.block_hash = (ProtobufCBinaryData){32, blk.hash};
    cert.signers = (ProtobufCBinaryData){1, &signers};
    cert.n_signatures = 1;
    for (int round = 0; round < 3; round++) {
        cert.signatures = &bad_sig;
        assert_int_equal(
            ledger_cert_verify(w->l, &cert, blk.height, blk.hash, why, WHY_SIZE),
            WITAN_ESIG);
        assert_non_null(strstr(why, "signature"));
        cert.signatures = &good_sig;
        assert_int_equal(
            ledger_cert_verify(w->l, &cert, blk.height, blk.hash, why, WHY_SIZE),
            0);
    }
    /* Remembered for its vote only: the same signature for another view
     * is not a signature of that vote. */
    cert.view = 1;
    assert_int_equal(
        ledger_cert_verify(w->l, &cert, blk.height, blk.hash, why, WHY_SIZE),
        WITAN_ESIG);
    /* Vouched for by the caller (the consensus core checked it): taken as
     * it is, those signature bytes only; any other is checked. */
    cert.view = 2;
    cert.signatures = &bad_sig;
    assert_int_equal(ledger_cert_vouch(w->l, &cert, blk.height), 0);
    assert_int_equal(
        ledger_cert_verify(w->l, &cert, blk.height, blk.hash, why, WHY_SIZE),
        0);
    cert.signatures = &good_sig;
    assert_int_equal(
        ledger_cert_verify(w->l, &cert, blk.height, blk.hash, why, WHY_SIZE),
        WITAN_ESIG);
    ledger_block_free(&blk);
    free_world(w);
}

/* A block's signatures checked on a pool of threads (ledger_set_pool):
 * the verdict and the message, the first bad transaction in block order
 * named, are those of one thread, wherever the bad ones are and however
 * many threads run. */
static void test_signatures_on_pool(void **state)
{
    (void)state;
    enum { N = 40 };
    struct world *w = new_world("pool");
    static const int bad_sets[][2] = {{-1, -1}, {0, -1}, {17, -1},
                                      {39, -1}, {17, 5},  {38, 39}};
    witan_pool *pools[3] = {NULL, NULL, NULL};
    static const unsigned threads[3] = {2, 3, 4};
    for (int t = 0; t < 3; t++)
        assert_int_equal(witan_pool_new(threads[t], &pools[t]), 0);
    for (size_t b = 0; b < sizeof bad_sets / sizeof bad_sets[0]; b++) {
        uint8_t *envs[N];
        size_t sizes[N];
        struct ledger_tx txs[N], *ptrs[N];
        char why[WHY_SIZE];
        for (int i = 0; i < N; i++) {
            envs[i] = attest_tx(&w->provider, w->provider_addr, 1 + (uint64_t)i,
                                (struct attest_spec){.time_ms = 1 + i,
                                                     .feed = "pool/x"},
                                &sizes[i]);
            if (i == bad_sets[b][0] || i == bad_sets[b][1])
                envs[i][sizes[i] - 1] ^= 0x01; /* its signature's last byte */
            assert_int_equal(ledger_tx_decode(w->l, envs[i], sizes[i], false,
                                              &txs[i], why, sizeof why),
                             0);
            ptrs[i] = &txs[i];
        }
        struct ledger_tip tip;
        ledger_tip(w->l, &tip);
        struct ledger_block blk;
        assert_int_equal(ledger_block_build(w->l, ptrs, N, tip.time_ms + 1000,
                                            0, 0, &blk),
                         0);
        const struct ledger_check_opts opts = {.verify_signatures = true};
        char one[WHY_SIZE] = "";
        ledger_set_pool(w->l, NULL);
        int want = ledger_block_check(w->l, blk.bytes, blk.size, &opts, one,
                                      sizeof one);
        assert_int_equal(want, bad_sets[b][0] < 0 ? 0 : WITAN_ESIG);
        for (int t = 0; t < 3; t++) {
            for (int round = 0; round < 5; round++) {
                char many[WHY_SIZE] = "";
                ledger_set_pool(w->l, pools[t]);
                assert_int_equal(ledger_block_check(w->l, blk.bytes, blk.size,
                                                    &opts, many, sizeof many),
                                 want);
                assert_string_equal(many, one);
            }
        }
        if (want) {
            char first[32];
            int k = bad_sets[b][1] >= 0 && bad_sets[b][1] < bad_sets[b][0]
                        ? bad_sets[b][1]
                        : bad_sets[b][0];
            snprintf(first, sizeof first, "transaction %d of", k);
            assert_non_null(strstr(one, first));
        }
        ledger_set_pool(w->l, NULL);
        ledger_block_free(&blk);
        for (int i = 0; i < N; i++) {
            ledger_tx_release(&txs[i]);
            free(envs[i]);
        }
    }
    for (int t = 0; t < 3; t++)
        witan_pool_free(pools[t]);
    free_world(w);
}

/* The transactions root covers whole envelopes, signatures included: a
 * block whose copy of a transaction differs from the proposed one only in
 * signature bytes has another root, so it is refused by the one validity
 * function (and, with its own root, has another block hash: a replica can
 * never deliver its copy under the certificate of the other). */
static void test_txs_root_covers_signatures(void **state)
{
    (void)state;
    struct world *w = new_world("sigroot");
    char why[WHY_SIZE];
    size_t sz;
    uint8_t *env = attest_tx(&w->provider, w->provider_addr, 1,
                             (struct attest_spec){.time_ms = 1}, &sz);
    uint8_t *other = malloc(sz);
    memcpy(other, env, sz);
    other[sz - 1] ^= 0x01; /* the envelope ends with its signature */
    const uint8_t *p1[1] = {env}, *p2[1] = {other};
    size_t s1[1] = {sz};
    uint8_t r1[32], r2[32];
    assert_int_equal(ledger_txs_root(p1, s1, 1, r1), 0);
    assert_int_equal(ledger_txs_root(p2, s1, 1, r2), 0);
    assert_memory_not_equal(r1, r2, 32);

    struct ledger_tx tx, *ptr = &tx;
    assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                      sizeof why),
                     0);
    struct ledger_block blk;
    assert_int_equal(ledger_block_build(w->l, &ptr, 1, 1000, 0, 0, &blk), 0);
    const struct ledger_check_opts opts = {.verify_signatures = false};
    assert_int_equal(ledger_block_check(w->l, blk.bytes, blk.size, &opts, why,
                                        sizeof why),
                     0);
    /* The same header over the other copy. */
    Witan__Block *b = witan__block__unpack(NULL, blk.size, blk.bytes);
    assert_non_null(b);
    uint8_t *own = b->txs[0].data;
    b->txs[0].data = other;
    size_t size = witan__block__get_packed_size(b);
    uint8_t *bytes = malloc(size);
    witan__block__pack(b, bytes);
    b->txs[0].data = own; /* freed with the message; `other` is ours */
    witan__block__free_unpacked(b, NULL);
    assert_int_equal(ledger_block_check(w->l, bytes, size, &opts, why,
                                        sizeof why),
                     WITAN_EINVAL);
    assert_non_null(strstr(why, "transactions root"));
    free(bytes);
    ledger_block_free(&blk);
    ledger_tx_release(&tx);
    free(other);
    free(env);
    free_world(w);
}

/* A block the ledger passed on this tip is applied without being judged
 * again, and the shortcut holds only for those bytes: another body under
 * the same header (the certificate's hash) is still refused by its
 * transactions root, even with signatures unchecked. The state reached is
 * the one a ledger that never checked the block reaches. */
static void test_apply_after_check(void **state)
{
    (void)state;
    struct world *w = new_world("checked"), *plain = new_world("unchecked");
    char why[WHY_SIZE];
    size_t sz;
    uint8_t *env = attest_tx(&w->provider, w->provider_addr, 1,
                             (struct attest_spec){.time_ms = 1}, &sz);
    struct ledger_block blk[2];
    struct world *ws[2] = {w, plain};
    uint8_t hash[32];
    for (int k = 0; k < 2; k++) {
        struct ledger_tx tx, *ptr = &tx;
        assert_int_equal(ledger_tx_decode(ws[k]->l, env, sz, true, &tx, why,
                                          sizeof why),
                         0);
        memcpy(hash, tx.hash, 32);
        assert_int_equal(
            ledger_block_build(ws[k]->l, &ptr, 1, 1000, 0, 0, &blk[k]), 0);
        ledger_tx_release(&tx);
    }
    assert_memory_equal(blk[0].hash, blk[1].hash, 32);
    const struct ledger_check_opts opts = {.verify_signatures = true};
    assert_int_equal(ledger_block_check(w->l, blk[0].bytes, blk[0].size, &opts,
                                        why, sizeof why),
                     0);

    uint8_t *other = malloc(sz);
    memcpy(other, env, sz);
    other[sz - 1] ^= 0x01; /* the envelope ends with its signature */
    Witan__Block *b = witan__block__unpack(NULL, blk[0].size, blk[0].bytes);
    assert_non_null(b);
    uint8_t *own = b->txs[0].data;
    b->txs[0].data = other;
    struct ledger_block forged = blk[0];
    forged.size = witan__block__get_packed_size(b);
    forged.bytes = malloc(forged.size);
    witan__block__pack(b, forged.bytes);
    b->txs[0].data = own;
    witan__block__free_unpacked(b, NULL);
    assert_int_equal(certify_and_apply(w, &forged, false, why), WITAN_EINVAL);
    assert_non_null(strstr(why, "transactions root"));

    bool committed = true;
    assert_int_equal(ledger_tx_committed(w->l, hash, &committed), 0);
    assert_false(committed); /* the forged body left nothing behind */
    assert_int_equal(certify_and_apply(w, &blk[0], false, why), 0);
    assert_int_equal(certify_and_apply(plain, &blk[1], true, why), 0);
    assert_int_equal(ledger_tx_committed(w->l, hash, &committed), 0);
    assert_true(committed);
    struct ledger_tip t[2];
    ledger_tip(w->l, &t[0]);
    ledger_tip(plain->l, &t[1]);
    assert_int_equal(t[0].height, 1);
    assert_memory_equal(t[0].state_root, t[1].state_root, 32);
    assert_memory_equal(t[0].receipts_root, t[1].receipts_root, 32);
    /* Applied: the same bytes on the new tip are judged again. */
    assert_int_not_equal(ledger_block_check(w->l, blk[0].bytes, blk[0].size,
                                            &opts, why, sizeof why),
                         0);
    assert_non_null(strstr(why, "height"));
    free(forged.bytes);
    ledger_block_free(&blk[0]);
    ledger_block_free(&blk[1]);
    free(other);
    free(env);
    free_world(w);
    free_world(plain);
}

/* Bytes with one more varint field (number < 16, value < 128) at the end. */
static uint8_t *append_varint(const uint8_t *d, size_t size, unsigned field,
                              unsigned value, size_t *out_size)
{
    /* The tag as a varint: one byte below field 16, two up to 2047. */
    uint8_t *out = malloc(size + 3);
    assert_non_null(out);
    assert_true(field < 2048 && value < 128);
    memcpy(out, d, size);
    unsigned tag = field << 3, k = 0;
    if (tag >= 0x80) {
        out[size + k++] = (uint8_t)(tag | 0x80);
        tag >>= 7;
    }
    out[size + k++] = (uint8_t)tag;
    out[size + k++] = (uint8_t)value;
    *out_size = size + k;
    return out;
}

/* The block with its header bytes replaced (the header hash changes with
 * them, as a primary who re-encoded would make it). */
static uint8_t *with_header(const struct ledger_block *blk,
                            const uint8_t *header, size_t header_size,
                            size_t *out_size)
{
    Witan__Block *b = witan__block__unpack(NULL, blk->size, blk->bytes);
    assert_non_null(b);
    ProtobufCBinaryData own = b->header;
    b->header = (ProtobufCBinaryData){header_size, (uint8_t *)header};
    *out_size = witan__block__get_packed_size(b);
    uint8_t *out = malloc(*out_size);
    assert_non_null(out);
    witan__block__pack(b, out);
    b->header = own;
    witan__block__free_unpacked(b, NULL);
    return out;
}

/* One encoding per block: a block or header that decodes to the same fields
 * from other bytes (a field unknown to the spec, one written twice) is
 * refused by the one validity function, so no two replicas can store
 * different bytes under one block hash. */
static void test_block_canonical(void **state)
{
    (void)state;
    struct world *w = new_world("canon");
    char why[WHY_SIZE];
    size_t sz;
    uint8_t *env = attest_tx(&w->provider, w->provider_addr, 1,
                             (struct attest_spec){.time_ms = 1}, &sz);
    struct ledger_tx tx, *ptr = &tx;
    assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                      sizeof why),
                     0);
    struct ledger_block blk;
    assert_int_equal(ledger_block_build(w->l, &ptr, 1, 1000, 0, 0, &blk), 0);
    const struct ledger_check_opts opts = {.verify_signatures = true};
    assert_int_equal(ledger_block_check(w->l, blk.bytes, blk.size, &opts, why,
                                        sizeof why),
                     0);
    Witan__Block *b = witan__block__unpack(NULL, blk.size, blk.bytes);
    assert_non_null(b);
    size_t n;
    uint8_t *bad[3];
    size_t bad_size[3];
    /* an unknown field after the block's transactions */
    bad[0] = append_varint(blk.bytes, blk.size, 3, 1, &bad_size[0]);
    /* an unknown header field */
    uint8_t *h1 = append_varint(b->header.data, b->header.len, 16, 1, &n);
    bad[1] = with_header(&blk, h1, n, &bad_size[1]);
    /* protocol_version written twice: decodes to the same header */
    uint8_t *h2 = append_varint(b->header.data, b->header.len, 1,
                                WITAN_PROTOCOL_VERSION, &n);
    bad[2] = with_header(&blk, h2, n, &bad_size[2]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ledger_block_check(w->l, bad[i], bad_size[i], &opts,
                                            why, sizeof why),
                         WITAN_EDECODE);
        if (!strstr(why, "canonical"))
            fail_msg("%d: %s", i, why);
        free(bad[i]);
    }
    free(h1);
    free(h2);
    witan__block__free_unpacked(b, NULL);
    ledger_block_free(&blk);
    ledger_tx_release(&tx);
    free(env);
    free_world(w);
}

static int decode_err(struct world *w, const uint8_t *b, size_t n)
{
    struct ledger_tx tx;
    char why[WHY_SIZE];
    int err = ledger_tx_decode(w->l, b, n, true, &tx, why, sizeof why);
    if (err == 0)
        ledger_tx_release(&tx);
    else
        assert_true(strlen(why) > 0); /* every refusal says why */
    return err;
}

static int admit_err(struct world *w, const uint8_t *b, size_t n)
{
    struct ledger_tx tx;
    char why[WHY_SIZE];
    int err = ledger_tx_decode(w->l, b, n, true, &tx, why, sizeof why);
    if (err)
        return err;
    err = ledger_tx_admit(w->l, &tx, 10, why, sizeof why);
    if (err)
        assert_true(strlen(why) > 0);
    ledger_tx_release(&tx);
    return err;
}

static void test_stateless_refusals(void **state)
{
    (void)state;
    struct world *w = new_world("stateless");
    size_t n;
    uint8_t *good = attest_tx(&w->provider, w->provider_addr, 1,
                              (struct attest_spec){.time_ms = 1}, &n);
    assert_int_equal(decode_err(w, good, n), 0);

    /* truncated protobuf: every prefix is refused */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(decode_err(w, good, cut), 0);
    /* garbage */
    uint8_t garbage[64];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    assert_int_not_equal(decode_err(w, garbage, sizeof garbage), 0);

    /* wrong signature: flip a bit of the signature (the last 64 bytes) */
    uint8_t *bad = malloc(n);
    memcpy(bad, good, n);
    bad[n - 5] ^= 1;
    assert_int_equal(decode_err(w, bad, n), WITAN_ESIG);

    /* signed by another key than the one in the envelope */
    Witan__Envelope *e = witan__envelope__unpack(NULL, n, good);
    assert_non_null(e);
    uint8_t hash[32], sig[64];
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, e->body.data, e->body.len, hash);
    assert_int_equal(wcrypto_sign(&w->outsider, hash, sig), 0);
    memcpy(e->signature.data, sig, 64);
    size_t n2 = witan__envelope__get_packed_size(e);
    uint8_t *other = malloc(n2);
    witan__envelope__pack(e, other);
    assert_int_equal(decode_err(w, other, n2), WITAN_ESIG);
    witan__envelope__free_unpacked(e, NULL);

    /* wrong chain id */
    size_t n3;
    uint8_t *wrong_chain = attest_tx(&w->provider, w->provider_addr, 1,
                                     (struct attest_spec){.chain = "other",
                                                          .time_ms = 1},
                                     &n3);
    assert_int_equal(decode_err(w, wrong_chain, n3), WITAN_ECHAIN);

    /* oversize: a feed name past its limit, then a whole transaction past
     * tx_size_max (4096 in this genesis) */
    char feed[WITAN_FEED_SIZE_MAX + 2];
    memset(feed, 'a', sizeof feed - 1);
    feed[sizeof feed - 1] = '\0';
    size_t n4;
    uint8_t *long_feed = attest_tx(&w->provider, w->provider_addr, 1,
                                   (struct attest_spec){.time_ms = 1,
                                                        .feed = feed},
                                   &n4);
    assert_int_equal(decode_err(w, long_feed, n4), WITAN_EINVAL);
    uint8_t *huge = calloc(1, 5000);
    memcpy(huge, good, n);
    assert_int_equal(decode_err(w, huge, 5000), WITAN_ELIMIT);

    free(good);
    free(bad);
    free(other);
    free(wrong_chain);
    free(long_feed);
    free(huge);
    free_world(w);
}

static void test_stateful_refusals_and_receipts(void **state)
{
    (void)state;
    struct world *w = new_world("stateful");
    uint8_t *env[4];
    size_t sz[4];
    Witan__TxStatus st[4];

    /* sender without the role: the admin attests */
    env[0] = attest_tx(&w->admin, w->admin_addr, 1,
                       (struct attest_spec){.time_ms = 1}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_EROLE);
    /* not a member at all */
    env[1] = attest_tx(&w->outsider, w->outsider_addr, 1,
                       (struct attest_spec){.time_ms = 1}, &sz[1]);
    assert_int_equal(admit_err(w, env[1], sz[1]), WITAN_ESENDER);
    /* skipped nonce (window 10) */
    env[2] = attest_tx(&w->provider, w->provider_addr, 12,
                       (struct attest_spec){.time_ms = 1}, &sz[2]);
    assert_int_equal(admit_err(w, env[2], sz[2]), WITAN_ENONCE);
    for (int i = 0; i < 3; i++)
        free(env[i]);

    /* commit nonce 1, then replay it */
    env[0] = attest_tx(&w->provider, w->provider_addr, 1,
                       (struct attest_spec){.time_ms = 1000, .co2 = 42000},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_ENONCE);
    free(env[0]);

    /* apply-time refusals get receipts: a nonce gap inside a block, a
     * duplicate attestation, a correction naming the wrong transaction;
     * the secp256k1 provider attests fine */
    uint8_t wrong[32];
    memset(wrong, 7, sizeof wrong);
    env[0] = attest_tx(&w->provider, w->provider_addr, 3,
                       (struct attest_spec){.time_ms = 2000}, &sz[0]);
    env[1] = attest_tx(&w->provider, w->provider_addr, 2,
                       (struct attest_spec){.time_ms = 1000, .co2 = 1},
                       &sz[1]);
    env[2] = attest_tx(&w->secp, w->secp_addr, 1,
                       (struct attest_spec){.time_ms = 1000, .co2 = 5},
                       &sz[2]);
    commit_block(w, env, sz, 3, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_BAD_NONCE);
    assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_DUPLICATE);
    assert_int_equal(st[2], WITAN__TX_STATUS__TX_STATUS_OK);
    for (int i = 0; i < 3; i++)
        free(env[i]);
    env[0] = attest_tx(&w->provider, w->provider_addr, 3,
                       (struct attest_spec){.time_ms = 1000, .co2 = 2,
                                            .corrects = wrong},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_BAD_CORRECTION);
    free(env[0]);
    uint64_t nonce;
    assert_int_equal(ledger_account_nonce(w->l, w->provider_addr, &nonce), 0);
    assert_int_equal(nonce, 3);
    free_world(w);
}

static void test_corrections_keep_history(void **state)
{
    (void)state;
    struct world *w = new_world("corrections");
    uint8_t *env[1];
    size_t sz[1];
    Witan__TxStatus st[1];
    uint8_t first_hash[32], second_hash[32];
    char why[WHY_SIZE];
    struct ledger_tx tx;

    env[0] = attest_tx(&w->provider, w->provider_addr, 1,
                       (struct attest_spec){.time_ms = -359683200000LL,
                                            .co2 = 31571},
                       &sz[0]);
    assert_int_equal(ledger_tx_decode(w->l, env[0], sz[0], true, &tx, why,
                                      sizeof why),
                     0);
    memcpy(first_hash, tx.hash, 32);
    ledger_tx_release(&tx);
    commit_block(w, env, sz, 1, st);
    free(env[0]);

    env[0] = attest_tx(&w->provider, w->provider_addr, 2,
                       (struct attest_spec){.time_ms = -359683200000LL,
                                            .co2 = 31580,
                                            .corrects = first_hash},
                       &sz[0]);
    assert_int_equal(ledger_tx_decode(w->l, env[0], sz[0], true, &tx, why,
                                      sizeof why),
                     0);
    memcpy(second_hash, tx.hash, 32);
    ledger_tx_release(&tx);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);

    /* correcting the superseded revision again is refused */
    env[0] = attest_tx(&w->provider, w->provider_addr, 3,
                       (struct attest_spec){.time_ms = -359683200000LL,
                                            .co2 = 31590,
                                            .corrects = first_hash},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_BAD_CORRECTION);
    free(env[0]);

    Witan__AttestationsRequest q = WITAN__ATTESTATIONS_REQUEST__INIT;
    q.feed = "climate/co2/mauna-loa";
    q.subject = "mauna-loa";
    q.from_ms = INT64_MIN;
    q.history = true;
    Witan__AttestationsResponse *r;
    assert_int_equal(ledger_query_attestations(w->l, &q, &r), 0);
    assert_int_equal(r->n_records, 1);
    assert_int_equal(r->records[0]->revision, 1);
    assert_int_equal(r->records[0]->attest->values[0]->mantissa, 31580);
    assert_int_equal(r->n_history, 1);
    assert_int_equal(r->history[0]->revision, 0);
    assert_memory_equal(r->history[0]->superseded_by.data, second_hash, 32);
    ledger_attestations_response_free(r);
    free_world(w);
}

static void test_paging_with_cursor(void **state)
{
    (void)state;
    struct world *w = new_world("paging");
    uint8_t *env[10];
    size_t sz[10];
    for (int i = 0; i < 10; i++)
        env[i] = attest_tx(&w->provider, w->provider_addr, (uint64_t)i + 1,
                           (struct attest_spec){.time_ms = i * 1000,
                                                .co2 = 40000 + i},
                           &sz[i]);
    commit_block(w, env, sz, 10, NULL);
    for (int i = 0; i < 10; i++)
        free(env[i]);
    Witan__AttestationsRequest q = WITAN__ATTESTATIONS_REQUEST__INIT;
    q.feed = "climate/co2/mauna-loa";
    q.subject = "mauna-loa";
    q.from_ms = 2000;
    q.to_ms = 8000;
    q.limit = 3;
    int64_t seen[16];
    size_t count = 0;
    uint8_t cursor[512];
    for (int page = 0; page < 10; page++) {
        Witan__AttestationsResponse *r;
        assert_int_equal(ledger_query_attestations(w->l, &q, &r), 0);
        assert_true(r->n_records <= 3);
        for (size_t i = 0; i < r->n_records; i++)
            seen[count++] = r->records[i]->attest->observed_at_ms;
        bool more = r->next_cursor.len > 0;
        if (more) {
            memcpy(cursor, r->next_cursor.data, r->next_cursor.len);
            q.cursor = (ProtobufCBinaryData){r->next_cursor.len, cursor};
        }
        ledger_attestations_response_free(r);
        if (!more)
            break;
    }
    assert_int_equal(count, 7); /* 2000 … 8000 inclusive */
    for (size_t i = 0; i < count; i++)
        assert_int_equal(seen[i], 2000 + (int64_t)i * 1000);
    q.limit = WITAN_QUERY_PAGE_COUNT_MAX + 1;
    Witan__AttestationsResponse *r;
    assert_int_equal(ledger_query_attestations(w->l, &q, &r), WITAN_ELIMIT);
    free_world(w);
}

static void test_membership_and_rotation(void **state)
{
    (void)state;
    struct world *w = new_world("membership");
    uint8_t *env[2];
    size_t sz[2];
    Witan__TxStatus st[2];

    /* add the outsider as a data provider; it can then attest */
    Witan__Membership m = WITAN__MEMBERSHIP__INIT;
    Witan__MemberAdd add = WITAN__MEMBER_ADD__INIT;
    Witan__Role roles[] = {WITAN__ROLE__ROLE_DATA_PROVIDER};
    add.name = "newcomer";
    add.key_type = WITAN__KEY_TYPE__KEY_TYPE_ED25519;
    add.pubkey = (ProtobufCBinaryData){32, w->outsider.pub.bytes};
    add.n_roles = 1;
    add.roles = roles;
    m.change_case = WITAN__MEMBERSHIP__CHANGE_ADD;
    m.add = &add;
    env[0] = membership_tx(w, &m, &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    env[0] = attest_tx(&w->outsider, w->outsider_addr, 1,
                       (struct attest_spec){.time_ms = 5}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), 0);
    free(env[0]);

    /* a non-admin cannot change membership */
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = 1;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_MEMBERSHIP;
    b.membership = &m;
    env[0] = sign_body(&b, &w->provider, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_EROLE);
    free(env[0]);

    /* rotate the provider's key: the old key is refused afterwards */
    wcrypto_keypair fresh;
    seeded(WCRYPTO_KEY_ED25519, 9, &fresh);
    Witan__KeyRotation rot = WITAN__KEY_ROTATION__INIT;
    rot.address = (ProtobufCBinaryData){20, w->provider_addr};
    rot.key_type = WITAN__KEY_TYPE__KEY_TYPE_ED25519;
    rot.pubkey = (ProtobufCBinaryData){32, fresh.pub.bytes};
    m.change_case = WITAN__MEMBERSHIP__CHANGE_ROTATE;
    m.rotate = &rot;
    env[0] = membership_tx(w, &m, &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    env[0] = attest_tx(&w->provider, w->provider_addr, 1,
                       (struct attest_spec){.time_ms = 5}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_EKEY);
    free(env[0]);
    env[0] = attest_tx(&fresh, w->provider_addr, 1,
                       (struct attest_spec){.time_ms = 5}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), 0);
    free(env[0]);

    /* revoke the role: refused; the history records both heights */
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    rc.address = (ProtobufCBinaryData){20, w->provider_addr};
    rc.role = WITAN__ROLE__ROLE_DATA_PROVIDER;
    m.change_case = WITAN__MEMBERSHIP__CHANGE_REVOKE;
    m.revoke = &rc;
    env[0] = membership_tx(w, &m, &sz[0]);
    commit_block(w, env, sz, 1, st);
    free(env[0]);
    env[0] = attest_tx(&fresh, w->provider_addr, 1,
                       (struct attest_spec){.time_ms = 5}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_EROLE);
    free(env[0]);

    /* remove the newcomer: refused as a sender afterwards */
    m.change_case = WITAN__MEMBERSHIP__CHANGE_REMOVE;
    m.remove = (ProtobufCBinaryData){20, w->outsider_addr};
    env[0] = membership_tx(w, &m, &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    env[0] = attest_tx(&w->outsider, w->outsider_addr, 1,
                       (struct attest_spec){.time_ms = 6}, &sz[0]);
    assert_int_equal(admit_err(w, env[0], sz[0]), WITAN_ESENDER);
    free(env[0]);

    Witan__Account *a;
    assert_int_equal(ledger_get_account(w->l, w->provider_addr, &a), 0);
    assert_int_equal(a->n_keys, 2);
    assert_int_equal(a->keys[0]->until_height, 2);
    assert_int_equal(a->keys[1]->from_height, 2);
    assert_int_equal(a->n_roles, 0);
    assert_int_equal(a->n_events, 3); /* created, rotate, revoke */
    assert_int_equal(a->events[2]->height, 3);
    assert_string_equal(a->events[2]->what, "revoke");
    ledger_account_free(a);
    wcrypto_keypair_wipe(&fresh);
    free_world(w);
}

/* Two ledgers applying the same blocks hold the same roots; the state root
 * does not depend on the order of writes inside a block, only on values. */
static void test_same_blocks_same_roots(void **state)
{
    (void)state;
    struct world *a = new_world("twin-a");
    struct world *b = calloc(1, sizeof *b);
    *b = *a;
    b->l = NULL;
    make_genesis(b, "witan-test", 1 << 20, &b->g);
    open_world(b, "twin-b");
    for (int blk = 0; blk < 5; blk++) {
        /* a builds and applies; b applies a's exact block bytes */
        struct ledger_tip before;
        ledger_tip(a->l, &before);
        uint8_t *env[3];
        size_t sz[3];
        for (int i = 0; i < 3; i++)
            env[i] = attest_tx(&a->provider, a->provider_addr,
                               a->provider_nonce++,
                               (struct attest_spec){.time_ms = blk * 10 + i,
                                                    .co2 = blk * 100 + i},
                               &sz[i]);
        commit_block(a, env, sz, 3, NULL);
        for (int i = 0; i < 3; i++)
            free(env[i]);
        struct ledger_tip ta;
        ledger_tip(a->l, &ta);
        Witan__BlockResponse *r;
        assert_int_equal(ledger_get_block(a->l, ta.height, &r), 0);
        size_t size = witan__block__get_packed_size(r->block);
        uint8_t *bytes = malloc(size);
        witan__block__pack(r->block, bytes);
        struct ledger_apply_stats st;
        char why[WHY_SIZE];
        /* Every other block with some of its transactions given decoded,
         * as a validator's pool gives them: the same roots, and what was
         * given is still the caller's. */
        struct ledger_tx given[3] = {0};
        size_t n = r->block->n_txs;
        assert_int_equal(n, 3);
        for (size_t i = 1; blk % 2 && i < n; i++)
            assert_int_equal(ledger_tx_decode(b->l, r->block->txs[i].data,
                                              r->block->txs[i].len, true,
                                              &given[i], why, sizeof why),
                             0);
        assert_int_equal(ledger_block_apply(b->l, bytes, size, r->cert, true,
                                            blk % 2 ? given : NULL, &st, why,
                                            sizeof why),
                         0);
        for (size_t i = 1; blk % 2 && i < n; i++) {
            assert_non_null(given[i].body);
            assert_non_null(given[i].envelope);
            ledger_tx_release(&given[i]);
        }
        /* applying it twice is refused: nothing is applied twice */
        assert_int_equal(ledger_block_apply(b->l, bytes, size, r->cert, true,
                                            NULL, &st, why, sizeof why),
                         WITAN_ESTATE);
        free(bytes);
        ledger_block_response_free(r);
        struct ledger_tip tb;
        ledger_tip(b->l, &tb);
        assert_memory_equal(ta.block_hash, tb.block_hash, 32);
        assert_memory_equal(ta.state_root, tb.state_root, 32);
        assert_memory_equal(ta.receipts_root, tb.receipts_root, 32);
        uint8_t ha[32], hb[32];
        wcrypto_history_root(&ta.history, ha);
        wcrypto_history_root(&tb.history, hb);
        assert_memory_equal(ha, hb, 32);
        assert_memory_not_equal(before.state_root, ta.state_root, 32);
    }
    ledger_close(b->l);
    rm_rf(b->dir);
    ledger_genesis_free(b->g);
    free(b);
    free_world(a);
}

static void test_other_chain_refused(void **state)
{
    (void)state;
    struct world *w = new_world("other-chain");
    ledger_close(w->l);
    w->l = NULL;
    Witan__Genesis *other;
    make_genesis(w, "another-chain", 1 << 20, &other);
    char why[WHY_SIZE];
    struct store_options o = {1 << 20, 64 << 20, false};
    ledger *l;
    assert_int_equal(ledger_open(w->dir, other, &o, &l, why, sizeof why),
                     WITAN_EGENESIS);
    assert_non_null(strstr(why, "genesis"));
    ledger_genesis_free(other);
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why), 0);
    free_world(w);
}

/* Receipts the upgrade moves in more than one batch: made-up transactions
 * past the tip, each indexed and with a receipt under its hash. */
#define UPGRADE_EXTRA 9000

static void extra_tx(uint32_t i, uint8_t hash[32], uint8_t loc[12])
{
    uint8_t be[4];
    store_be32(be, i);
    wcrypto_sha256(be, 4, hash);
    store_be64(loc, 1000 + i / 100);
    store_be32(loc + 8, i % 100);
}

static void put_schema(store_txn *t, uint32_t schema)
{
    uint8_t be[4];
    store_be32(be, schema);
    assert_int_equal(store_put(t, STORE_META, "schema_version", 14, be, 4), 0);
}

/* A write transaction on the ledger's store, under the ledger's feet. */
static store_txn *raw_begin(const char *dir, store **s)
{
    struct store_options o = {16 << 20, 64 << 20, false};
    assert_int_equal(store_open(dir, &o, s), 0);
    store_txn *t;
    assert_int_equal(store_write_begin(*s, &t), 0);
    return t;
}

static void raw_end(store *s, store_txn *t)
{
    assert_int_equal(store_commit(t), 0);
    store_close(s);
}

static void set_schema(const char *dir, uint32_t schema)
{
    store *s;
    store_txn *t = raw_begin(dir, &s);
    put_schema(t, schema);
    raw_end(s, t);
}

/* Moves the receipts back to their schema-3 keys (transaction hash), all
 * but those of block `keep_height`, as an upgrade cut short leaves them;
 * adds the extra ones; writes version 3. */
static void as_schema3(const char *dir, uint64_t keep_height)
{
    store *s;
    store_txn *t = raw_begin(dir, &s);
    store_cursor *c;
    assert_int_equal(store_cursor_open(t, STORE_RECEIPTS, &c), 0);
    struct { uint8_t key[12], *value; size_t size; } moved[16];
    size_t n = 0;
    const void *k, *v;
    size_t ks, vs;
    for (int err = store_cursor_seek(c, "", 0, &k, &ks, &v, &vs); err == 0;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        assert_int_equal(ks, 12);
        if (store_read_be64(k) == keep_height)
            continue;
        assert_true(n < 16);
        memcpy(moved[n].key, k, 12);
        moved[n].value = malloc(vs);
        memcpy(moved[n].value, v, vs);
        moved[n++].size = vs;
    }
    store_cursor_close(c);
    for (size_t i = 0; i < n; i++) {
        Witan__Receipt *r =
            witan__receipt__unpack(NULL, moved[i].size, moved[i].value);
        assert_non_null(r);
        assert_int_equal(r->tx_hash.len, 32);
        assert_int_equal(store_put(t, STORE_RECEIPTS, r->tx_hash.data, 32,
                                   moved[i].value, moved[i].size),
                         0);
        /* its txs index held every committed transaction */
        assert_int_equal(store_put(t, STORE_TXS, r->tx_hash.data, 32,
                                   moved[i].key, 12),
                         0);
        assert_int_equal(store_del(t, STORE_RECEIPTS, moved[i].key, 12), 0);
        witan__receipt__free_unpacked(r, NULL);
        free(moved[i].value);
    }
    for (uint32_t i = 0; i < UPGRADE_EXTRA; i++) {
        uint8_t hash[32], loc[12];
        extra_tx(i, hash, loc);
        assert_int_equal(store_put(t, STORE_TXS, hash, 32, loc, 12), 0);
        assert_int_equal(store_put(t, STORE_RECEIPTS, hash, 32, loc, 12), 0);
    }
    put_schema(t, 3);
    raw_end(s, t);
}

/* Six attestations from the provider committed in blocks of 3, 2 and 1:
 * their envelopes (the caller frees them), sizes and hashes. */
static void commit_six(struct world *w, uint8_t *env[6], size_t sz[6],
                       uint8_t hashes[6][32])
{
    char why[WHY_SIZE];
    for (int i = 0; i < 6; i++) {
        env[i] = attest_tx(&w->provider, w->provider_addr, (uint64_t)i + 1,
                           (struct attest_spec){.time_ms = 1000 * (i + 1)},
                           &sz[i]);
        struct ledger_tx tx;
        assert_int_equal(ledger_tx_decode(w->l, env[i], sz[i], false, &tx,
                                          why, sizeof why),
                         0);
        memcpy(hashes[i], tx.hash, 32);
        ledger_tx_release(&tx);
    }
    commit_block(w, env, sz, 3, NULL);
    commit_block(w, env + 3, sz + 3, 2, NULL);
    commit_block(w, env + 5, sz + 5, 1, NULL);
}

/* A committed transaction is answered with its own envelope and its
 * block's hash, read from the stored block without decoding the rest of
 * it; a stored block that is not one is named corrupt, not misread. */
static void test_get_tx_reads_its_block(void **state)
{
    (void)state;
    struct world *w = new_world("gettx");
    enum { N = 6 };
    uint8_t *env[N], hashes[N][32];
    size_t sz[N];
    char why[WHY_SIZE];
    commit_six(w, env, sz, hashes);
    static const uint64_t height[N] = {1, 1, 1, 2, 2, 3};
    static const uint32_t index[N] = {0, 1, 2, 0, 1, 0};
    for (int i = 0; i < N; i++) {
        Witan__TxResponse *r;
        assert_int_equal(ledger_get_tx(w->l, hashes[i], &r), 0);
        assert_int_equal(r->state, WITAN__TX_STATE__TX_STATE_COMMITTED);
        assert_int_equal(r->receipt->height, height[i]);
        assert_int_equal(r->receipt->index, index[i]);
        assert_int_equal(r->envelope.len, sz[i]);
        assert_memory_equal(r->envelope.data, env[i], sz[i]);
        Witan__BlockResponse *b;
        assert_int_equal(ledger_get_block(w->l, height[i], &b), 0);
        assert_int_equal(r->block_hash.len, 32);
        assert_memory_equal(r->block_hash.data, b->block_hash.data, 32);
        ledger_block_response_free(b);
        ledger_tx_response_free(r);
    }
    /* Blocks 1 to 3 out of the last LEDGER_TXS_RANGES, which an open
     * reads. */
    for (int i = 0; i < LEDGER_TXS_RANGES; i++)
        commit_block(w, NULL, NULL, 0, NULL);
    ledger_close(w->l);
    w->l = NULL;

    /* Block 2 cut inside its second transaction, then with a field no
     * block has: both refused. */
    static const uint8_t stray[] = {0x18, 0x01}; /* field 3, a varint */
    uint8_t key[8];
    store_be64(key, 2);
    store *st;
    store_txn *t = raw_begin(w->dir, &st);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_BLOCKS, key, 8, &v, &vs), 0);
    uint8_t *bytes = malloc(vs + sizeof stray);
    assert_non_null(bytes);
    memcpy(bytes, v, vs);
    memcpy(bytes + vs, stray, sizeof stray);
    raw_end(st, t);
    for (int k = 0; k < 2; k++) {
        t = raw_begin(w->dir, &st);
        size_t size = k == 0 ? vs - 1 : vs + sizeof stray;
        assert_int_equal(store_put(t, STORE_BLOCKS, key, 8, bytes, size), 0);
        raw_end(st, t);
        struct store_options o = {1 << 20, 64 << 20, false};
        assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why),
                         0);
        Witan__TxResponse *r = NULL;
        assert_int_equal(ledger_get_tx(w->l, hashes[4], &r), WITAN_EDBCORRUPT);
        assert_null(r);
        /* Block 1 is untouched and still read. */
        assert_int_equal(ledger_get_tx(w->l, hashes[2], &r), 0);
        assert_memory_equal(r->envelope.data, env[2], sz[2]);
        ledger_tx_response_free(r);
        ledger_close(w->l);
        w->l = NULL;
    }
    free(bytes);
    /* One of the last blocks damaged: the open that reads them says
     * which, rather than run without knowing what they committed. */
    uint64_t last = 3 + LEDGER_TXS_RANGES;
    store_be64(key, last);
    t = raw_begin(w->dir, &st);
    assert_int_equal(store_get(t, STORE_BLOCKS, key, 8, &v, &vs), 0);
    assert_int_equal(store_put(t, STORE_BLOCKS, key, 8, "\x0a\x7f", 2), 0);
    raw_end(st, t);
    struct store_options o = {1 << 20, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why),
                     WITAN_EDBCORRUPT);
    char want[64];
    snprintf(want, sizeof want, "stored block %llu", (unsigned long long)last);
    assert_non_null(strstr(why, want));
    for (int i = 0; i < N; i++)
        free(env[i]);
    free_world(w);
}

/* Schema 3 kept receipts under transaction hashes; opening such a database
 * moves them to (height, index), and every transaction is found and proved
 * as before, a half-done upgrade's included. Any other old version is
 * refused, naming it. */
static void test_schema3_upgraded(void **state)
{
    (void)state;
    struct world *w = new_world("schema3");
    enum { N = 6 };
    uint8_t *env[N], hashes[N][32], *before[N];
    size_t sz[N], before_size[N];
    char why[WHY_SIZE];
    commit_six(w, env, sz, hashes);
    for (int i = 0; i < N; i++) {
        Witan__TxResponse *r;
        assert_int_equal(ledger_get_tx(w->l, hashes[i], &r), 0);
        before_size[i] = witan__receipt__get_packed_size(r->receipt);
        before[i] = malloc(before_size[i]);
        witan__receipt__pack(r->receipt, before[i]);
        ledger_tx_response_free(r);
        free(env[i]);
    }
    ledger_close(w->l);
    w->l = NULL;

    as_schema3(w->dir, 2);
    struct store_options o = {1 << 20, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why), 0);
    for (int i = 0; i < N; i++) {
        Witan__TxResponse *r;
        assert_int_equal(ledger_get_tx(w->l, hashes[i], &r), 0);
        assert_int_equal(r->state, WITAN__TX_STATE__TX_STATE_COMMITTED);
        assert_int_equal(witan__receipt__get_packed_size(r->receipt),
                         before_size[i]);
        uint8_t buf[512];
        assert_true(before_size[i] <= sizeof buf);
        witan__receipt__pack(r->receipt, buf);
        assert_memory_equal(buf, before[i], before_size[i]);
        ledger_tx_response_free(r);
        free(before[i]);
    }
    /* a receipt proof reads its block's receipts in one sweep of the new
     * keys: the first block's, every one of which was moved */
    Witan__ProofRequest q;
    witan__proof_request__init(&q);
    q.target_case = WITAN__PROOF_REQUEST__TARGET_TX_HASH;
    q.tx_hash = (ProtobufCBinaryData){32, hashes[1]};
    Witan__Proof *p;
    assert_int_equal(ledger_prove(w->l, &q, &p, why, sizeof why), 0);
    char said[512];
    assert_int_equal(
        ledger_proof_check(w->g, p, said, sizeof said, why, sizeof why), 0);
    witan__proof__free_unpacked(p, NULL);
    ledger_close(w->l);
    w->l = NULL;

    /* written as version 4, no receipt left under a hash */
    store *s;
    assert_int_equal(store_open(w->dir, &o, &s), 0);
    store_txn *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    const void *k, *v;
    size_t ks, vs;
    assert_int_equal(store_get(t, STORE_META, "schema_version", 14, &v, &vs),
                     0);
    assert_int_equal(vs, 4);
    assert_int_equal(store_read_be32(v), LEDGER_SCHEMA_VERSION);
    store_cursor *c;
    assert_int_equal(store_cursor_open(t, STORE_RECEIPTS, &c), 0);
    int count = 0;
    for (int err = store_cursor_seek(c, "", 0, &k, &ks, &v, &vs); err == 0;
         err = store_cursor_next(c, &k, &ks, &v, &vs), count++)
        assert_int_equal(ks, 12);
    assert_int_equal(count, N + UPGRADE_EXTRA);
    /* the made-up receipts, moved over more than one batch, each under the
     * place its index names (their value is that place) */
    for (uint32_t i = 0; i < UPGRADE_EXTRA; i += 997) {
        uint8_t hash[32], loc[12];
        extra_tx(i, hash, loc);
        assert_int_equal(store_get(t, STORE_RECEIPTS, loc, 12, &v, &vs), 0);
        assert_int_equal(vs, 12);
        assert_memory_equal(v, loc, 12);
    }
    store_cursor_close(c);
    store_abort(t);
    store_close(s);

    /* Schema 4 wrote the whole txs index at every block: opening it only
     * writes the version, and every transaction is still found. */
    set_schema(w->dir, 4);
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why), 0);
    for (int i = 0; i < N; i++) {
        bool committed = false;
        assert_int_equal(ledger_tx_committed(w->l, hashes[i], &committed), 0);
        assert_true(committed);
    }
    ledger_close(w->l);
    w->l = NULL;
    assert_int_equal(store_open(w->dir, &o, &s), 0);
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_get(t, STORE_META, "schema_version", 14, &v, &vs),
                     0);
    assert_int_equal(store_read_be32(v), LEDGER_SCHEMA_VERSION);
    store_abort(t);
    store_close(s);

    set_schema(w->dir, 2);
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why),
                     WITAN_EVERSION);
    assert_non_null(strstr(why, "schema version 2"));
    set_schema(w->dir, LEDGER_SCHEMA_VERSION + 1);
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why),
                     WITAN_EVERSION);
    assert_non_null(strstr(why, "schema version 6"));
    free_world(w);
}

/* A block repeating committed transaction `env` is refused for it. */
static void refused_again(struct world *w, const uint8_t *env, size_t size)
{
    char why[WHY_SIZE];
    struct ledger_tx tx, *ptr = &tx;
    assert_int_equal(ledger_tx_decode(w->l, env, size, false, &tx, why,
                                      sizeof why),
                     0);
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    struct ledger_block blk;
    assert_int_equal(ledger_block_build(w->l, &ptr, 1, tip.time_ms + 1000, 0,
                                        0, &blk),
                     0);
    const struct ledger_check_opts opts = {.verify_signatures = false};
    assert_int_equal(ledger_block_check(w->l, blk.bytes, blk.size, &opts, why,
                                        sizeof why),
                     WITAN_EEXIST);
    assert_non_null(strstr(why, "already committed"));
    ledger_block_free(&blk);
    ledger_tx_release(&tx);
}

/* A committed transaction's entry in the txs index waits in memory until
 * the first later block whose height is its key range (mod
 * LEDGER_TXS_RANGES) writes it. Waiting or written, and across a reopen,
 * it is found where it stands and a block repeating it is refused. */
static void test_txs_index_waits(void **state)
{
    (void)state;
    struct world *w = new_world("txindex");
    enum { N = LEDGER_TXS_RANGES + 10 };
    uint8_t *env[N], hashes[N][32];
    size_t sz[N];
    char why[WHY_SIZE];
    for (int i = 0; i < N; i++) { /* transaction i in block i + 1 */
        env[i] = attest_tx(&w->provider, w->provider_addr, (uint64_t)i + 1,
                           (struct attest_spec){.time_ms = 1000 * (i + 1)},
                           &sz[i]);
        struct ledger_tx tx;
        assert_int_equal(ledger_tx_decode(w->l, env[i], sz[i], false, &tx,
                                          why, sizeof why),
                         0);
        memcpy(hashes[i], tx.hash, 32);
        ledger_tx_release(&tx);
        commit_block(w, &env[i], &sz[i], 1, NULL);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            Witan__TxResponse *r;
            assert_int_equal(ledger_get_tx(w->l, hashes[i], &r), 0);
            assert_int_equal(r->state, WITAN__TX_STATE__TX_STATE_COMMITTED);
            assert_int_equal(r->receipt->height, i + 1);
            assert_int_equal(r->receipt->index, 0);
            ledger_tx_response_free(r);
            bool committed = false;
            assert_int_equal(ledger_tx_committed(w->l, hashes[i], &committed),
                             0);
            assert_true(committed);
        }
        /* the last one waits (no block after it); the first is written */
        refused_again(w, env[N - 1], sz[N - 1]);
        refused_again(w, env[0], sz[0]);
        ledger_close(w->l);
        w->l = NULL;
        if (pass == 0) {
            struct store_options o = {1 << 20, 64 << 20, false};
            assert_int_equal(
                ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why), 0);
        }
    }
    /* In the table: exactly those whose range a later block had. */
    store *st;
    store_txn *t = raw_begin(w->dir, &st);
    int written = 0, waiting = 0;
    for (int i = 0; i < N; i++) {
        unsigned range = hashes[i][0] / (256 / LEDGER_TXS_RANGES);
        bool want = false;
        for (uint64_t h = (uint64_t)i + 2; h <= N; h++)
            want = want || h % LEDGER_TXS_RANGES == range;
        const void *v;
        size_t vs;
        int err = store_get(t, STORE_TXS, hashes[i], 32, &v, &vs);
        assert_int_equal(err, want ? 0 : WITAN_ENOTFOUND);
        if (want) {
            assert_int_equal(vs, 12);
            assert_int_equal(store_read_be64(v), i + 1);
            assert_int_equal(store_read_be32((const uint8_t *)v + 8), 0);
        }
        written += want;
        waiting += !want;
    }
    assert_true(written > 0 && waiting > 0);
    raw_end(st, t);
    for (int i = 0; i < N; i++)
        free(env[i]);
    free_world(w);
}

/* What the ledger_on_executed callback of test_executed_before_commit saw
 * at each call. */
struct executed_seen {
    ledger *l;
    uint64_t height[4];
    bool stored[4]; /* the block at that height was in the store */
    int count;
};

static void note_executed(void *ctx)
{
    struct executed_seen *e = ctx;
    if (e->count == 4)
        fail_msg("called more than once a block");
    uint64_t h = ledger_height(e->l);
    e->height[e->count] = h;
    /* A read transaction of its own beside the block's write. */
    store_txn *t;
    assert_int_equal(store_read_begin(ledger_store(e->l), &t), 0);
    uint8_t key[8];
    store_be64(key, h);
    const void *v;
    size_t vs;
    e->stored[e->count++] = store_get(t, STORE_BLOCKS, key, 8, &v, &vs) == 0;
    store_abort(t);
}

/* The callback comes once a block, when the tip is the block's and before
 * its commit (the store does not hold it yet); none once it is taken off. */
static void test_executed_before_commit(void **state)
{
    (void)state;
    struct world *w = new_world("executed");
    struct executed_seen seen = {.l = w->l};
    ledger_on_executed(w->l, note_executed, &seen);
    uint64_t h0 = ledger_height(w->l);
    for (int i = 0; i < 3; i++) {
        size_t sz;
        uint8_t *env = attest_tx(&w->provider, w->provider_addr,
                                 (uint64_t)i + 1,
                                 (struct attest_spec){.time_ms = 100 + i}, &sz);
        commit_block(w, i < 2 ? &env : NULL, &sz, i < 2 ? 1 : 0, NULL);
        free(env);
        assert_int_equal(seen.count, i + 1);
        assert_int_equal(seen.height[i], h0 + (uint64_t)i + 1);
        assert_false(seen.stored[i]);
        assert_int_equal(ledger_height(w->l), h0 + (uint64_t)i + 1);
    }
    ledger_on_executed(w->l, NULL, NULL);
    commit_block(w, NULL, NULL, 0, NULL);
    assert_int_equal(seen.count, 3);
    free_world(w);
}

/* The hash read off an envelope's wire format is the one decoding finds,
 * the last body included when one is repeated (as a decoder takes it);
 * bytes not shaped like an envelope have none. */
static void test_envelope_tx_hash(void **state)
{
    (void)state;
    struct world *w = new_world("envhash");
    char why[WHY_SIZE];
    size_t sz[2];
    uint8_t *env[2];
    for (int i = 0; i < 2; i++)
        env[i] = attest_tx(&w->provider, w->provider_addr, (uint64_t)i + 1,
                           (struct attest_spec){.time_ms = 1000 * (i + 1)},
                           &sz[i]);
    struct ledger_tx tx[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(ledger_tx_decode(w->l, env[i], sz[i], false, &tx[i],
                                          why, sizeof why),
                         0);
    uint8_t hash[32];
    assert_int_equal(ledger_envelope_tx_hash(env[0], sz[0], hash), 0);
    assert_memory_equal(hash, tx[0].hash, 32);
    /* envelope 0 then envelope 1's fields: body 1 is the last */
    uint8_t *both = malloc(sz[0] + sz[1]);
    memcpy(both, env[0], sz[0]);
    memcpy(both + sz[0], env[1], sz[1]);
    assert_int_equal(ledger_envelope_tx_hash(both, sz[0] + sz[1], hash), 0);
    assert_memory_equal(hash, tx[1].hash, 32);
    free(both);
    static const uint8_t fixed32[] = {0x0d, 1, 2, 3, 4}; /* wire type 5 */
    static const uint8_t no_body[] = {0x10, 0x01};      /* key_type only */
    assert_int_equal(ledger_envelope_tx_hash(fixed32, sizeof fixed32, hash),
                     WITAN_EDECODE);
    assert_int_equal(ledger_envelope_tx_hash(no_body, sizeof no_body, hash),
                     WITAN_EDECODE);
    assert_int_equal(ledger_envelope_tx_hash(env[0], sz[0] - 1, hash),
                     WITAN_EDECODE);
    for (int i = 0; i < 2; i++) {
        ledger_tx_release(&tx[i]);
        free(env[i]);
    }
    free_world(w);
}

static void test_genesis_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "{\"protocol_version\": 1}",
        "{\"protocol_version\": 2, \"chain_id\": \"x\", \"genesis_time_ms\": 0,"
        " \"validators\": []}",
        "{\"protocol_version\": 1, \"chain_id\": \"bad chain\", "
        "\"genesis_time_ms\": 0, \"validators\": []}",
        "{\"protocol_version\": 1, \"chain_id\": \"c\", \"genesis_time_ms\": "
        "0, \"validators\": []}",
        "{\"protocol_version\": 1, \"chain_id\": \"c\", \"genesis_time_ms\": "
        "0.5, \"validators\": []}",
        "{\"protocol_version\": 1, \"chain_id\": \"c\", \"genesis_time_ms\": "
        "0, \"validators\": [{\"name\": \"v\", \"pubkey\": \"00\"}]}",
        "{\"protocol_version\": 1, \"chain_id\": \"c\", \"genesis_time_ms\": "
        "0, \"colour\": \"blue\"}",
    };
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(bad); i++) {
        Witan__Genesis *g;
        char why[WHY_SIZE] = "";
        assert_int_not_equal(ledger_genesis_parse(bad[i], strlen(bad[i]), &g,
                                                  why, sizeof why),
                             0);
        assert_true(strlen(why) > 0);
    }
    /* The written form reads back to the same genesis hash. */
    struct world *w = new_world("genesis-rt");
    char *text;
    size_t size;
    FILE *f = open_memstream(&text, &size);
    assert_int_equal(ledger_genesis_write(f, w->g), 0);
    fclose(f);
    Witan__Genesis *back;
    char why[WHY_SIZE];
    assert_int_equal(ledger_genesis_parse(text, size, &back, why, sizeof why),
                     0);
    uint8_t h1[32], h2[32];
    ledger_genesis_hash(w->g, h1);
    ledger_genesis_hash(back, h2);
    assert_memory_equal(h1, h2, 32);
    free(text);
    ledger_genesis_free(back);
    free_world(w);
}

/* A map that fills up: with no room to grow the block is refused with
 * WITAN_EMAPFULL and nothing of it is stored; with room, the map grows. */
static void test_map_full(void **state)
{
    (void)state;
    struct world *w = new_world("mapfull");
    ledger_close(w->l);
    rm_rf(w->dir);
    assert_int_equal(mkdir(w->dir, 0700), 0);
    char why[WHY_SIZE];
    struct store_options tight = {256 * 1024, 256 * 1024, false};
    assert_int_equal(ledger_open(w->dir, w->g, &tight, &w->l, why, sizeof why),
                     0);
    int err = 0;
    uint64_t committed = 0;
    struct ledger_tip tip;
    for (int blk = 0; blk < 200 && !err; blk++) {
        struct ledger_tx txs[16], *ptrs[16];
        for (int i = 0; i < 16; i++) {
            size_t sz;
            uint8_t *e = attest_tx(&w->provider, w->provider_addr,
                                   committed + (uint64_t)i + 1,
                                   (struct attest_spec){.time_ms = blk * 100 + i},
                                   &sz);
            assert_int_equal(ledger_tx_decode(w->l, e, sz, true, &txs[i], why,
                                              sizeof why),
                             0);
            ptrs[i] = &txs[i];
            free(e);
        }
        struct ledger_block b;
        ledger_tip(w->l, &tip);
        assert_int_equal(ledger_block_build(w->l, ptrs, 16, tip.time_ms + 1, 0,
                                            0, &b),
                         0);
        err = certify_and_apply(w, &b, false, why);
        if (!err)
            committed += 16;
        ledger_block_free(&b);
        for (int i = 0; i < 16; i++)
            ledger_tx_release(&txs[i]);
    }
    assert_int_equal(err, WITAN_EMAPFULL);
    assert_non_null(strstr(why, "map"));
    ledger_tip(w->l, &tip);
    assert_true(tip.height > 0);
    uint64_t nonce;
    assert_int_equal(ledger_account_nonce(w->l, w->provider_addr, &nonce), 0);
    assert_int_equal(nonce, committed);

    /* Reopen with room to grow: the same database is intact and grows. */
    ledger_close(w->l);
    struct store_options roomy = {256 * 1024, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir, w->g, &roomy, &w->l, why, sizeof why),
                     0);
    struct ledger_tip again;
    ledger_tip(w->l, &again);
    assert_int_equal(again.height, tip.height);
    assert_memory_equal(again.state_root, tip.state_root, 32);
    uint8_t *env[16];
    size_t sz[16];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 16; i++)
            env[i] = attest_tx(&w->provider, w->provider_addr, ++committed,
                               (struct attest_spec){.time_ms = 1000000 +
                                                               round * 100 + i},
                               &sz[i]);
        commit_block(w, env, sz, 16, NULL);
        for (int i = 0; i < 16; i++)
            free(env[i]);
    }
    assert_true(store_map_size(ledger_store(w->l)) > 256 * 1024);
    free_world(w);
}

/* --- models on chain ---------------------------------------------------- */

#include "inference/inference.h"

/* A RegisterModel of `model` under `name` with these bindings and
 * triggers, signed by the admin. */
static uint8_t *register_with(struct world *w, const char *name,
                              const uint8_t *model, size_t model_size,
                              Witan__ModelInput **inputs, size_t n_inputs,
                              Witan__ModelTrigger **trigs, size_t n_trigs,
                              bool allow_extrapolation, size_t *size)
{
    Witan__RegisterModel r = WITAN__REGISTER_MODEL__INIT;
    r.name = (char *)name;
    r.model = (ProtobufCBinaryData){model_size, (uint8_t *)model};
    r.n_inputs = n_inputs;
    r.inputs = inputs;
    r.n_triggers = n_trigs;
    r.triggers = trigs;
    r.allow_extrapolation = allow_extrapolation;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
    b.register_model = &r;
    return sign_body(&b, &w->admin, size);
}

/* A Score of model `hash` on two explicit integer inputs, by the provider. */
static uint8_t *explicit_score_tx(struct world *w, const uint8_t hash[32],
                                  const char *n0, int64_t v0, const char *n1,
                                  int64_t v1, size_t *size)
{
    Witan__NamedValue a = WITAN__NAMED_VALUE__INIT, c = a;
    a.name = (char *)n0;
    a.mantissa = v0;
    c.name = (char *)n1;
    c.mantissa = v1;
    Witan__NamedValue *vals[] = {&a, &c};
    Witan__Score sc = WITAN__SCORE__INIT;
    sc.model_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    sc.n_inputs = 2;
    sc.inputs = vals;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_SCORE;
    b.score = &sc;
    return sign_body(&b, &w->provider, size);
}

static void test_models_on_chain(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *a = new_world("models-a");
    struct world *b = calloc(1, sizeof *b);
    *b = *a;
    b->l = NULL;
    make_genesis(b, "witan-test", 1 << 20, &b->g);
    open_world(b, "models-b");

    size_t model_size, sz[3];
    uint8_t *model = read_model(&model_size), *env[3], hash[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, model, model_size, hash);
    Witan__TxStatus st[3];

    /* Register, and ask for a score before any data: a recorded, explained
     * missing input, never a guess. */
    env[0] = register_tx(a, model, model_size, &sz[0]);
    env[1] = score_tx(a, hash, &sz[1]);
    commit_block(a, env, sz, 2, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    free(env[1]);
    Witan__PredictionsResponse *p = predictions(a, hash);
    assert_int_equal(p->n_records, 1);
    assert_int_equal(p->records[0]->status,
                     WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT);
    /* Why, as codes and numbers (state), and the sentence clients show. */
    const Witan__PredictionProblem *why0 = p->records[0]->problem;
    assert_non_null(why0);
    assert_int_equal(why0->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_FEW);
    assert_int_equal(why0->binding, 1);
    assert_int_equal(why0->needed, 1);
    assert_int_equal(why0->found, 0);
    char sentence[256];
    ledger_prediction_why(why0, sentence, sizeof sentence);
    assert_string_equal(sentence,
                        "binding 1: 0 of the 1 observations needed exist");
    assert_int_equal(p->records[0]->n_outputs, 0);
    ledger_predictions_response_free(p);

    /* A stream of attestations: each triggers a score on its inputs. */
    static const int64_t co2[] = {41115, 41419, 41598};
    for (int i = 0; i < 3; i++)
        env[i] = attest_tx(&a->provider, a->provider_addr, a->provider_nonce++,
                           (struct attest_spec){.time_ms = 1577836800000LL +
                                                           i * 2678400000LL,
                                                .co2 = co2[i]},
                           &sz[i]);
    commit_block(a, env, sz, 3, st);
    for (int i = 0; i < 3; i++)
        assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
    p = predictions(a, hash);
    assert_int_equal(p->n_records, 4);
    infer_model *m;
    char why[160];
    assert_int_equal(infer_model_load(model, model_size, &m, why, sizeof why),
                     0);
    for (int i = 0; i < 3; i++) {
        const Witan__PredictionRecord *r = p->records[1 + i];
        struct ledger_tx tx;
        char w2[WHY_SIZE];
        assert_int_equal(ledger_tx_decode(a->l, env[i], sz[i], true, &tx, w2,
                                          sizeof w2),
                         0);
        assert_int_equal(r->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
        assert_true(r->computed);
        assert_memory_equal(r->tx_hash.data, tx.hash, 32);
        assert_string_equal(r->subject, "mauna-loa");
        /* inputs: the attested co2 and the year 2020, each in its own
         * format (the record says which), each traced to the attestation it
         * came from */
        assert_int_equal(r->input_frac_bits, 0);
        assert_int_equal(r->n_inputs_frac_bits, 2);
        int64_t want_co2, want_year;
        assert_int_equal(infer_fixed_from_decimal(co2[i], 2,
                                                  r->inputs_frac_bits[0],
                                                  &want_co2),
                         0);
        assert_int_equal(infer_fixed_from_decimal(2020, 0,
                                                  r->inputs_frac_bits[1],
                                                  &want_year),
                         0);
        assert_int_equal(r->n_inputs, 2);
        assert_int_equal(r->inputs[0], want_co2);
        assert_int_equal(r->inputs[1], want_year);
        assert_int_equal(r->n_input_txs, 2);
        assert_memory_equal(r->input_txs[0].data, tx.hash, 32);
        /* the output is exactly what the model computes on those inputs */
        int64_t in[2] = {want_co2, want_year};
        int32_t out[1];
        struct infer_result res;
        assert_int_equal(infer_score(m, in, 2, out, 1, &res), 0);
        assert_int_equal(r->n_outputs, 1);
        assert_int_equal(r->outputs[0], out[0]);
        assert_int_equal(r->gas, res.gas);
        ledger_tx_release(&tx);
    }
    infer_model_free(m);
    for (int i = 0; i < 3; i++)
        free(env[i]);

    /* A second ledger applying the same blocks records the same bytes. */
    struct ledger_tip tip;
    ledger_tip(a->l, &tip);
    for (uint64_t h = 1; h <= tip.height; h++) {
        Witan__BlockResponse *blk;
        assert_int_equal(ledger_get_block(a->l, h, &blk), 0);
        size_t size = witan__block__get_packed_size(blk->block);
        uint8_t *bytes = malloc(size);
        witan__block__pack(blk->block, bytes);
        struct ledger_apply_stats stats;
        char w2[WHY_SIZE];
        assert_int_equal(ledger_block_apply(b->l, bytes, size, blk->cert, true,
                                            NULL, &stats, w2, sizeof w2),
                         0);
        free(bytes);
        ledger_block_response_free(blk);
    }
    Witan__PredictionsResponse *q = predictions(b, hash);
    size_t pa = witan__predictions_response__get_packed_size(p);
    size_t pb = witan__predictions_response__get_packed_size(q);
    assert_int_equal(pa, pb);
    uint8_t *ba = malloc(pa), *bb = malloc(pb);
    witan__predictions_response__pack(p, ba);
    witan__predictions_response__pack(q, bb);
    assert_memory_equal(ba, bb, pa);
    struct ledger_tip tb;
    ledger_tip(b->l, &tb);
    assert_memory_equal(tip.state_root, tb.state_root, 32);
    free(ba);
    free(bb);
    ledger_predictions_response_free(p);
    ledger_predictions_response_free(q);

    /* The model is listed with its registration. */
    Witan__ModelsRequest mq = WITAN__MODELS_REQUEST__INIT;
    Witan__ModelsResponse *ms;
    assert_int_equal(ledger_query_models(a->l, &mq, &ms), 0);
    assert_int_equal(ms->n_models, 1);
    assert_string_equal(ms->models[0]->name, "temperature-from-co2");
    assert_memory_equal(ms->models[0]->hash.data, hash, 32);
    ledger_models_response_free(ms);

    ledger_close(b->l);
    rm_rf(b->dir);
    ledger_genesis_free(b->g);
    free(b);
    free(model);
    free_world(a);
    tx_size_max = 4096;
}

static void test_model_over_gas_refused(void **state)
{
    (void)state;
    tx_size_max = 65536;
    model_gas_max = 50; /* linreg_temp may cost up to 108 */
    struct world *w = new_world("models-gas");
    size_t model_size, sz;
    uint8_t *model = read_model(&model_size);
    uint8_t *env = register_tx(w, model, model_size, &sz);
    struct ledger_tx tx;
    char why[WHY_SIZE];
    assert_int_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                      sizeof why),
                     WITAN_ELIMIT);
    assert_non_null(strstr(why, "model_gas_max"));
    /* and a corrupted model is refused with the loader's reason */
    model[model_size / 2] ^= 0xff;
    free(env);
    env = register_tx(w, model, model_size, &sz);
    assert_int_not_equal(ledger_tx_decode(w->l, env, sz, true, &tx, why,
                                          sizeof why),
                         0);
    free(env);
    free(model);
    free_world(w);
    tx_size_max = 4096;
    model_gas_max = 1000000;
}

/* A posted prediction is stored as attested by its operator; a window that
 * the data cannot fill is a recorded gap. */
static void test_posted_prediction_and_gap(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("models-post");
    uint8_t model_hash[32];
    memset(model_hash, 0x42, sizeof model_hash);
    Witan__NamedValue out = WITAN__NAMED_VALUE__INIT;
    out.name = "anomaly";
    out.mantissa = 123;
    out.scale = 2;
    Witan__NamedValue *outs[] = {&out};
    Witan__PostPrediction post = WITAN__POST_PREDICTION__INIT;
    post.model_hash = (ProtobufCBinaryData){32, model_hash};
    post.n_outputs = 1;
    post.outputs = outs;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_POST_PREDICTION;
    b.post_prediction = &post;
    size_t sz[2];
    uint8_t *env[2];
    Witan__TxStatus st[2];
    env[0] = sign_body(&b, &w->admin, &sz[0]);
    /* the provider lacks model_operator: refused */
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = 1;
    env[1] = sign_body(&b, &w->provider, &sz[1]);
    assert_int_equal(admit_err(w, env[1], sz[1]), WITAN_EROLE);
    free(env[1]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    Witan__PredictionsResponse *p = predictions(w, model_hash);
    assert_int_equal(p->n_records, 1);
    assert_false(p->records[0]->computed);
    assert_memory_equal(p->records[0]->operator_.data, w->admin_addr, 20);
    assert_int_equal(p->records[0]->n_posted_outputs, 1);
    assert_int_equal(p->records[0]->posted_outputs[0]->mantissa, 123);
    ledger_predictions_response_free(p);

    /* A window of 2 over a feed with one observation: an explained gap. */
    size_t model_size;
    uint8_t *model = read_model(&model_size), hash[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, model, model_size, hash);
    Witan__ModelInput co2 = WITAN__MODEL_INPUT__INIT;
    co2.feed = "climate/co2/mauna-loa";
    co2.subject = "mauna-loa";
    co2.value = "co2";
    co2.window = 2;
    Witan__ModelInput *inputs[] = {&co2};
    Witan__ModelTrigger trig = WITAN__MODEL_TRIGGER__INIT;
    trig.feed = "climate/co2/mauna-loa";
    trig.subject = "mauna-loa";
    Witan__ModelTrigger *trigs[] = {&trig};
    Witan__RegisterModel r = WITAN__REGISTER_MODEL__INIT;
    r.name = "windowed";
    r.model = (ProtobufCBinaryData){model_size, model};
    r.n_inputs = 1;
    r.inputs = inputs;
    r.n_triggers = 1;
    r.triggers = trigs;
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
    b.register_model = &r;
    env[0] = sign_body(&b, &w->admin, &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    env[0] = attest_tx(&w->provider, w->provider_addr, w->provider_nonce++,
                       (struct attest_spec){.time_ms = 1000, .co2 = 40000},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    free(env[0]);
    p = predictions(w, hash);
    assert_int_equal(p->n_records, 1);
    assert_int_equal(p->records[0]->status,
                     WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT);
    assert_int_equal(p->records[0]->problem->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_FEW);
    assert_int_equal(p->records[0]->problem->needed, 2);
    assert_int_equal(p->records[0]->problem->found, 1);
    ledger_predictions_response_free(p);
    /* a second observation fills the window: now it scores */
    env[0] = attest_tx(&w->provider, w->provider_addr, w->provider_nonce++,
                       (struct attest_spec){.time_ms = 2000, .co2 = 40100},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    free(env[0]);
    p = predictions(w, hash);
    assert_int_equal(p->n_records, 2);
    /* The window is in time order; its second value (401 ppm) feeds the
     * model's year input, far below the years it was calibrated on: scored
     * and charged, but no outputs, since extrapolation was not allowed. */
    const Witan__PredictionRecord *rec = p->records[1];
    assert_int_equal(rec->status,
                     WITAN__PREDICTION_STATUS__PREDICTION_OUT_OF_CALIBRATION);
    assert_true(rec->inputs[0] < rec->inputs[1]);
    assert_int_equal(rec->problem->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_OUT_OF_CALIBRATION);
    assert_int_equal(rec->problem->input, 2);
    assert_int_equal(rec->outside_calibration, 1);
    assert_int_equal(rec->n_outputs, 0);
    assert_true(rec->gas > 0);
    char why[256];
    ledger_prediction_why(rec->problem, why, sizeof why);
    assert_string_equal(why, "input 2 is outside the range the model was "
                             "calibrated on");
    ledger_predictions_response_free(p);
    free(model);
    free_world(w);
    tx_size_max = 4096;
}

/* A model registered to extrapolate is scored outside its calibrated
 * ranges, and the record says how far it went: inputs outside, values
 * saturated. */
static void test_extrapolation_allowed(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("extrapolate");
    size_t model_size, sz[1];
    uint8_t *model = read_model(&model_size), *env[1], hash[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, model, model_size, hash);
    Witan__ModelInput co2 = WITAN__MODEL_INPUT__INIT, year =
                                                          WITAN__MODEL_INPUT__INIT;
    co2.feed = year.feed = "climate/co2/mauna-loa";
    co2.subject = year.subject = "mauna-loa";
    co2.value = "co2";
    year.observed_year = true;
    Witan__ModelInput *inputs[] = {&co2, &year};
    env[0] = register_with(w, "extrapolating", model, model_size, inputs, 2,
                           NULL, 0, true, &sz[0]);
    Witan__TxStatus st[1];
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    /* 20,000 ppm in 1970: both inputs outside; the normalised co2 ends
     * at the int16 limit */
    env[0] = explicit_score_tx(w, hash, "co2", 20000, "year", 1970, &sz[0]);
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    Witan__PredictionsResponse *p = predictions(w, hash);
    assert_int_equal(p->n_records, 1);
    const Witan__PredictionRecord *rec = p->records[0];
    assert_int_equal(rec->status, WITAN__PREDICTION_STATUS__PREDICTION_OK);
    assert_null(rec->problem);
    assert_int_equal(rec->n_outputs, 1);
    assert_int_equal(rec->outside_calibration, 2);
    assert_true(rec->saturated >= 1);
    ledger_predictions_response_free(p);
    free(model);
    free_world(w);
    tx_size_max = 4096;
}

/* The prediction `index` of model `hash`: checks its status and that it
 * has no outputs, and renders its problem into `sentence`. */
static const Witan__PredictionProblem *
problem_of(struct world *w, const uint8_t hash[32], size_t index,
           Witan__PredictionStatus status, Witan__PredictionsResponse **p,
           char *sentence, size_t sentence_size)
{
    *p = predictions(w, hash);
    assert_true((*p)->n_records > index);
    const Witan__PredictionRecord *r = (*p)->records[index];
    assert_int_equal(r->status, status);
    assert_int_equal(r->n_outputs, 0);
    assert_non_null(r->problem);
    ledger_prediction_why(r->problem, sentence, sentence_size);
    return r->problem;
}

/* Every way a score can fail is recorded as codes and numbers that the
 * spec defines (no sentence in state), and rendered the same for all. */
static void test_prediction_problems(void **state)
{
    (void)state;
    tx_size_max = 65536;
    struct world *w = new_world("problems");
    size_t model_size, sz[2];
    uint8_t *model = read_model(&model_size), *env[2], hash[32];
    wcrypto_hash_tagged(INFER_TAG_MODEL, model, model_size, hash);
    /* co2, no older than 1500 ms; and a value the feed never carries */
    Witan__ModelInput co2 = WITAN__MODEL_INPUT__INIT;
    co2.feed = "climate/co2/mauna-loa";
    co2.subject = "mauna-loa";
    co2.value = "co2";
    co2.max_age_ms = 1500;
    Witan__ModelInput ch4 = co2;
    ch4.value = "ch4";
    ch4.max_age_ms = 0;
    Witan__ModelInput *inputs[] = {&co2, &ch4};
    Witan__ModelTrigger trig = WITAN__MODEL_TRIGGER__INIT;
    trig.feed = co2.feed;
    trig.subject = co2.subject;
    Witan__ModelTrigger *trigs[] = {&trig};
    env[0] = register_with(w, "problems", model, model_size, inputs, 2, trigs,
                           1, false, &sz[0]);
    Witan__TxStatus st[2];
    commit_block(w, env, sz, 1, st);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[0]);
    /* observed at 1 ms: it triggers a score at that time, which lacks ch4 */
    env[0] = attest_tx(&w->provider, w->provider_addr, w->provider_nonce++,
                       (struct attest_spec){.time_ms = 1, .co2 = 40000},
                       &sz[0]);
    commit_block(w, env, sz, 1, st);
    free(env[0]);
    /* a block later (its time is seconds on): co2 is too old; and explicit
     * inputs, the first far over any fixed-point bound */
    env[0] = score_tx(w, hash, &sz[0]);
    env[1] = explicit_score_tx(w, hash, "co2", INT64_MAX / 2, "ch4", 1, &sz[1]);
    commit_block(w, env, sz, 2, st);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
        free(env[i]);
    }

    char why[256];
    Witan__PredictionsResponse *p;
    const Witan__PredictionProblem *x =
        problem_of(w, hash, 0, WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT,
                   &p, why, sizeof why);
    assert_int_equal(x->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_NO_VALUE);
    assert_int_equal(x->binding, 2);
    assert_int_equal(x->observed_at_ms, 1);
    assert_string_equal(why, "binding 2: the observation at 1 ms has no "
                             "value for it");
    ledger_predictions_response_free(p);

    x = problem_of(w, hash, 1,
                   WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT, &p, why,
                   sizeof why);
    assert_int_equal(x->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_OLD);
    assert_int_equal(x->binding, 1);
    assert_int_equal(x->observed_at_ms, 1);
    assert_int_equal(x->limit, 1500);
    assert_string_equal(why, "binding 1: the newest observation, at 1 ms, is "
                             "older than its max age of 1500 ms");
    ledger_predictions_response_free(p);

    x = problem_of(w, hash, 2, WITAN__PREDICTION_STATUS__PREDICTION_INPUT_RANGE,
                   &p, why, sizeof why);
    assert_int_equal(x->reason,
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_VALUE_RANGE);
    assert_int_equal(x->binding, 0);
    assert_int_equal(x->input, 1);
    assert_string_equal(why, "input 1 is outside the values the model takes");
    ledger_predictions_response_free(p);
    free(model);
    free_world(w);
    tx_size_max = 4096;
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    witan_log_set_level(WITAN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stateless_refusals),
        cmocka_unit_test(test_cert_canonical),
        cmocka_unit_test(test_cert_remembered),
        cmocka_unit_test(test_txs_root_covers_signatures),
        cmocka_unit_test(test_apply_after_check),
        cmocka_unit_test(test_block_canonical),
        cmocka_unit_test(test_stateful_refusals_and_receipts),
        cmocka_unit_test(test_corrections_keep_history),
        cmocka_unit_test(test_paging_with_cursor),
        cmocka_unit_test(test_membership_and_rotation),
        cmocka_unit_test(test_same_blocks_same_roots),
        cmocka_unit_test(test_other_chain_refused),
        cmocka_unit_test(test_schema3_upgraded),
        cmocka_unit_test(test_genesis_errors),
        cmocka_unit_test(test_map_full),
        cmocka_unit_test(test_models_on_chain),
        cmocka_unit_test(test_model_over_gas_refused),
        cmocka_unit_test(test_posted_prediction_and_gap),
        cmocka_unit_test(test_prediction_problems),
        cmocka_unit_test(test_extrapolation_allowed),
        cmocka_unit_test(test_signatures_on_pool),
        cmocka_unit_test(test_get_tx_reads_its_block),
        cmocka_unit_test(test_txs_index_waits),
        cmocka_unit_test(test_executed_before_commit),
        cmocka_unit_test(test_envelope_tx_hash),
    };
    return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
