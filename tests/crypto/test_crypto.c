/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto: the test vectors of spec/encoding.md, refusals of bad signatures,
 * key-file permissions, and RFC 6962 proofs over every tree size up to a few
 * hundred, with every corruption of a proof refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "spec/witan.pb-c.h"

static const char SEED_HEX[] =
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

struct key_vector {
    enum wcrypto_key_type type;
    const char *pubkey, *address, *body, *tx_hash, *signature;
};

/* Copied from spec/encoding.md, "Test vectors". */
static const struct key_vector key_vectors[] = {
    {WCRYPTO_KEY_ED25519,
     "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664",
     "500c27b1763bad113b9aacbf1dcb050128a1cb09",
     "0a0a776974616e2d746573741214500c27b1763bad113b9aacbf1dcb050128a1cb0918"
     "01523b0a15636c696d6174652f636f322f6d61756e612d6c6f6112096d61756e612d6c"
     "6f611880d08fa59863220b0a03636f321082920518022a0370706d",
     "91d5f2360eea9081f4ffc0a808301ddd782cfd435ceab2702aaa5046e82730e9",
     "5fe4940133d4cc3e251e22da6b01f23f6e7c53e0fb509742042221241501a1d57e21dd"
     "6119ff0c95cecdbb680abef1b3bb9eb256fafb5614368a5a4642bba70f"},
    {WCRYPTO_KEY_SECP256K1,
     "0284bf7562262bbd6940085748f3be6afa52ae317155181ece31b66351ccffa4b0",
     "58a2b703205e650172c89c3d1d8c75a8b53b3326",
     "0a0a776974616e2d74657374121458a2b703205e650172c89c3d1d8c75a8b53b332618"
     "01523b0a15636c696d6174652f636f322f6d61756e612d6c6f6112096d61756e612d6c"
     "6f611880d08fa59863220b0a03636f321082920518022a0370706d",
     "edc316879aaf7d3f50ec0432fcf0cac0eb8d7a872430b942b8740c28ce476273",
     "7d87745a5a166774b59a7451f24b08e76d6e3c26b1f4bbb2fe4dfe8e575c8db6309"
     "08edbf8bca214bde1bc75208ffc1a161eb03f5a278d3ed60ebffd3d3260d0"},
};

static void unhex(const char *text, uint8_t *out, size_t size)
{
    assert_int_equal(witan_hex_decode(text, out, size), 0);
}

static void assert_hex(const uint8_t *data, size_t size, const char *expected)
{
    char buf[1024];
    assert_true(2 * size < sizeof buf);
    witan_hex_encode(data, size, buf);
    assert_string_equal(buf, expected);
}

static void seed_keypair(enum wcrypto_key_type type, wcrypto_keypair *kp)
{
    uint8_t seed[32];
    unhex(SEED_HEX, seed, sizeof seed);
    assert_int_equal(wcrypto_keypair_from_seed(type, seed, kp), 0);
}

/* Builds the vector's TxBody with this project's encoder. */
static size_t vector_body(const uint8_t addr[20], uint8_t *out)
{
    Witan__NamedValue value = WITAN__NAMED_VALUE__INIT;
    value.name = "co2";
    value.mantissa = 42113;
    value.scale = 2;
    Witan__NamedValue *values[] = {&value};
    Witan__Attest attest = WITAN__ATTEST__INIT;
    attest.feed = "climate/co2/mauna-loa";
    attest.subject = "mauna-loa";
    attest.observed_at_ms = 1704067200000LL;
    attest.n_values = 1;
    attest.values = values;
    attest.unit = "ppm";
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.chain_id = "witan-test";
    body.sender.data = (uint8_t *)addr;
    body.sender.len = 20;
    body.nonce = 1;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    body.attest = &attest;
    return witan__tx_body__pack(&body, out);
}

static void test_key_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(key_vectors); i++) {
        const struct key_vector *v = &key_vectors[i];
        wcrypto_keypair kp;
        seed_keypair(v->type, &kp);
        assert_hex(kp.pub.bytes, kp.pub.size, v->pubkey);

        uint8_t addr[20];
        wcrypto_address(&kp.pub, addr);
        assert_hex(addr, sizeof addr, v->address);

        uint8_t body[512];
        size_t body_size = vector_body(addr, body);
        assert_hex(body, body_size, v->body);

        uint8_t hash[32], sig[64], expected_sig[64];
        wcrypto_hash_tagged(WCRYPTO_TAG_TX, body, body_size, hash);
        assert_hex(hash, sizeof hash, v->tx_hash);
        assert_int_equal(wcrypto_sign(&kp, hash, sig), 0);
        assert_hex(sig, sizeof sig, v->signature);

        unhex(v->signature, expected_sig, sizeof expected_sig);
        assert_int_equal(wcrypto_verify(&kp.pub, hash, expected_sig), 0);
        wcrypto_keypair_wipe(&kp);
    }
}

static void test_block_and_merkle_vectors(void **state)
{
    (void)state;
    wcrypto_digest leaves[7];
    for (uint8_t i = 0; i < 7; i++)
        wcrypto_sha256(&i, 1, leaves[i]);
    uint8_t root[32];
    wcrypto_merkle_root(leaves, 0, root);
    assert_hex(root, 32,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    wcrypto_merkle_root(leaves, 3, root);
    assert_hex(root, 32,
               "d1f13800048f5909d4043fc0c152f6643280cba608b672715e56ce159a20629f");
    wcrypto_merkle_root(leaves, 7, root);
    assert_hex(root, 32,
               "bee2275db16667589a4515f63e0d053a2fa602c1d9f9703e98920a5bdad59baf");

    static const char *const incl[] = {
        "36e4970e7c84e559ed7290304c3c0672289a6918e7746d48397b0e122db7748f",
        "604d540f09268b91672ab011394d5266ccd7d4484d0d109411a55848126a1b2c",
        "8da0dadfa0aaea7d9f4cd621d80cfbda617c8d13798abb8c3854351059e33be0"};
    static const char *const cons[] = {
        "27d02c8f713c90ea0c37901129db86ac03186ee22a1f6f13da67e6b5bcee2044",
        incl[0], incl[1], incl[2]};
    wcrypto_digest proof[WITAN_MERKLE_CONSISTENCY_COUNT_MAX];
    size_t count;
    assert_int_equal(wcrypto_merkle_inclusion_proof(leaves, 7, 2, proof, &count),
                     0);
    assert_int_equal(count, 3);
    for (size_t i = 0; i < count; i++)
        assert_hex(proof[i], 32, incl[i]);
    assert_int_equal(
        wcrypto_merkle_consistency_proof(leaves, 7, 3, proof, &count), 0);
    assert_int_equal(count, 4);
    for (size_t i = 0; i < count; i++)
        assert_hex(proof[i], 32, cons[i]);

    Witan__BlockHeader h = WITAN__BLOCK_HEADER__INIT;
    uint8_t prev[32], empty[32], buf[512], hash[32];
    memset(prev, 0x11, sizeof prev);
    wcrypto_sha256(NULL, 0, empty);
    h.protocol_version = 1;
    h.chain_id = "witan-test";
    h.height = 1;
    h.time_ms = 1704067200000LL;
    h.prev_hash = (ProtobufCBinaryData){32, prev};
    h.txs_root = (ProtobufCBinaryData){32, root};
    h.history_root = (ProtobufCBinaryData){32, empty};
    h.tx_count = 7;
    size_t size = witan__block_header__pack(&h, buf);
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, buf, size, hash);
    assert_hex(hash, 32,
               "b8a6de6fdd5e757664911a4a2505d0473b99a2ce14bed6c916c5709be6eec521");
}

/* The secp256k1 group order n, big-endian. */
static const uint8_t SECP_ORDER[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
    0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* s' = n - s: the other, high-S encoding of the same ECDSA signature. */
static void negate_s(uint8_t sig[64])
{
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = SECP_ORDER[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

static void test_bad_signatures(void **state)
{
    (void)state;
    for (int type = WCRYPTO_KEY_ED25519; type <= WCRYPTO_KEY_SECP256K1;
         type++) {
        wcrypto_keypair kp, other;
        seed_keypair(type, &kp);
        assert_int_equal(wcrypto_keypair_generate(type, &other), 0);
        uint8_t digest[32], other_digest[32], sig[64], bad[64];
        wcrypto_hash_tagged(WCRYPTO_TAG_TX, "abc", 3, digest);
        wcrypto_hash_tagged(WCRYPTO_TAG_TX, "abd", 3, other_digest);
        assert_int_equal(wcrypto_sign(&kp, digest, sig), 0);
        assert_int_equal(wcrypto_verify(&kp.pub, digest, sig), 0);

        /* by the wrong key */
        assert_int_equal(wcrypto_verify(&other.pub, digest, sig), WITAN_ESIG);
        /* over other bytes */
        assert_int_equal(wcrypto_verify(&kp.pub, other_digest, sig),
                         WITAN_ESIG);
        /* same bytes under another domain tag */
        uint8_t vote_digest[32];
        wcrypto_hash_tagged(WCRYPTO_TAG_VOTE, "abc", 3, vote_digest);
        assert_int_equal(wcrypto_verify(&kp.pub, vote_digest, sig),
                         WITAN_ESIG);
        /* every single-bit flip */
        for (int bit = 0; bit < 512; bit++) {
            memcpy(bad, sig, 64);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(wcrypto_verify(&kp.pub, digest, bad), WITAN_ESIG);
        }
        /* truncated, and one byte too long */
        for (size_t size = 0; size < 64; size++)
            assert_int_equal(wcrypto_verify_wire(type, kp.pub.bytes,
                                                 kp.pub.size, digest, sig,
                                                 size),
                             WITAN_ESIG);
        uint8_t longer[65];
        memcpy(longer, sig, 64);
        longer[64] = 0;
        assert_int_equal(wcrypto_verify_wire(type, kp.pub.bytes, kp.pub.size,
                                             digest, longer, 65),
                         WITAN_ESIG);
        assert_int_equal(wcrypto_verify_wire(type, kp.pub.bytes, kp.pub.size,
                                             digest, sig, 64),
                         0);
        /* a truncated key is refused as a key */
        assert_int_equal(wcrypto_verify_wire(type, kp.pub.bytes,
                                             kp.pub.size - 1u, digest, sig,
                                             64),
                         WITAN_EKEY);
        wcrypto_keypair_wipe(&kp);
        wcrypto_keypair_wipe(&other);
    }
}

static void test_secp256k1_high_s_refused(void **state)
{
    (void)state;
    wcrypto_keypair kp;
    seed_keypair(WCRYPTO_KEY_SECP256K1, &kp);
    for (int i = 0; i < 16; i++) {
        uint8_t digest[32], sig[64];
        wcrypto_hash_tagged(WCRYPTO_TAG_TX, &i, sizeof i, digest);
        assert_int_equal(wcrypto_sign(&kp, digest, sig), 0);
        assert_true(sig[32] < 0x80); /* low-S: s <= n/2 */
        assert_int_equal(wcrypto_verify(&kp.pub, digest, sig), 0);
        negate_s(sig);
        assert_true(sig[32] >= 0x7f);
        assert_int_equal(wcrypto_verify(&kp.pub, digest, sig), WITAN_ESIG);
    }
}

static void test_keys_from_seed(void **state)
{
    (void)state;
    uint8_t zero[32] = {0}, order[32];
    wcrypto_keypair kp;
    assert_int_equal(wcrypto_keypair_from_seed(WCRYPTO_KEY_SECP256K1, zero,
                                               &kp),
                     WITAN_EKEY);
    memcpy(order, SECP_ORDER, 32);
    assert_int_equal(wcrypto_keypair_from_seed(WCRYPTO_KEY_SECP256K1, order,
                                               &kp),
                     WITAN_EKEY);
    assert_int_equal(wcrypto_keypair_from_seed(7, zero, &kp), WITAN_EKEYTYPE);
    /* secp256k1 secret 1 is the generator G. */
    uint8_t one[32] = {0};
    one[31] = 1;
    assert_int_equal(
        wcrypto_keypair_from_seed(WCRYPTO_KEY_SECP256K1, one, &kp), 0);
    assert_hex(kp.pub.bytes, kp.pub.size,
               "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    /* RFC 8032, section 7.1, test 1. */
    uint8_t seed[32];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
          seed, 32);
    assert_int_equal(wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, &kp),
                     0);
    assert_hex(kp.pub.bytes, kp.pub.size,
               "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    wcrypto_keypair_wipe(&kp);
    for (size_t i = 0; i < sizeof kp; i++)
        assert_int_equal(((uint8_t *)&kp)[i], 0);

    wcrypto_pubkey pub;
    uint8_t junk[33];
    memset(junk, 0x05, sizeof junk);
    assert_int_equal(wcrypto_pubkey_parse(WCRYPTO_KEY_SECP256K1, junk, 33,
                                          &pub),
                     WITAN_EKEY);
    assert_int_equal(wcrypto_pubkey_parse(WCRYPTO_KEY_ED25519, junk, 33, &pub),
                     WITAN_EKEY);
    assert_int_equal(wcrypto_pubkey_parse(0, junk, 32, &pub), WITAN_EKEYTYPE);
}

/* --- key files ---------------------------------------------------------- */

static void temp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/witan-test-%d-%s",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             name);
    unlink(out);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_keyfile_round_trip_and_permissions(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "key");
    mode_t old_umask = umask(0); /* the file must be 0600 anyway */
    for (int type = WCRYPTO_KEY_ED25519; type <= WCRYPTO_KEY_SECP256K1;
         type++) {
        unlink(path);
        wcrypto_keypair kp, back;
        assert_int_equal(wcrypto_keypair_generate(type, &kp), 0);
        assert_int_equal(wcrypto_keyfile_write(path, &kp), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(wcrypto_keyfile_write(path, &kp), WITAN_EEXIST);
        assert_int_equal(wcrypto_keyfile_read(path, &back), 0);
        assert_memory_equal(&kp.pub, &back.pub, sizeof kp.pub);
        assert_memory_equal(kp.seed, back.seed, sizeof kp.seed);

        static const mode_t loose[] = {0640, 0604, 0644, 0660, 0602, 0610};
        for (size_t i = 0; i < WITAN_ARRAY_COUNT(loose); i++) {
            assert_int_equal(chmod(path, loose[i]), 0);
            assert_int_equal(wcrypto_keyfile_read(path, &back),
                             WITAN_EKEYPERM);
            for (size_t j = 0; j < sizeof back; j++)
                assert_int_equal(((uint8_t *)&back)[j], 0);
        }
        /* what the file is comes first: missing, or not a key file */
        char other[300];
        snprintf(other, sizeof other, "%s.none", path);
        unlink(other);
        assert_int_equal(wcrypto_keyfile_read(other, &back), WITAN_ENOTFOUND);
        FILE *f = fopen(other, "w");
        assert_non_null(f);
        fputs("hello\n", f);
        fclose(f);
        assert_int_equal(chmod(other, 0644), 0);
        assert_int_equal(wcrypto_keyfile_read(other, &back), WITAN_EKEYFILE);
        unlink(other);
        assert_int_equal(chmod(path, 0400), 0);
        assert_int_equal(wcrypto_keyfile_read(path, &back), 0);
        wcrypto_keypair_wipe(&kp);
        wcrypto_keypair_wipe(&back);
    }
    umask(old_umask);
    unlink(path);
}

static void test_keyfile_malformed(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "bad");
    wcrypto_keypair kp;
    assert_int_equal(wcrypto_keyfile_read(path, &kp), WITAN_ENOTFOUND); /* a missing file */

    static const char *const bad[] = {
        "",
        "type: ed25519\n",
        "type: rsa\nseed: 0102030405060708090a0b0c0d0e0f101112131415161718191a"
        "1b1c1d1e1f20\npublic: 00\n",
        /* public key does not match the seed */
        "type: ed25519\nseed: 0102030405060708090a0b0c0d0e0f10111213141516171"
        "8191a1b1c1d1e1f20\npublic: 79b5562e8fe654f94078b112e8a98ba7901f853ae6"
        "95bed7e0e3910bad049665\n",
        /* short seed */
        "type: ed25519\nseed: 0102\npublic: 79b5562e8fe654f94078b112e8a98ba79"
        "01f853ae695bed7e0e3910bad049664\n",
        /* non-hex seed */
        "type: ed25519\nseed: zz02030405060708090a0b0c0d0e0f101112131415161718"
        "191a1b1c1d1e1f20\npublic: 79b5562e8fe654f94078b112e8a98ba7901f853ae69"
        "5bed7e0e3910bad049664\n",
    };
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(bad); i++) {
        write_text(path, bad[i], 0600);
        assert_int_equal(wcrypto_keyfile_read(path, &kp), WITAN_EKEYFILE);
    }
    write_text(path,
               "type: ed25519\nseed: 0102030405060708090a0b0c0d0e0f10111213141"
               "5161718191a1b1c1d1e1f20\npublic: 79b5562e8fe654f94078b112e8a98b"
               "a7901f853ae695bed7e0e3910bad049664\n",
               0600);
    assert_int_equal(wcrypto_keyfile_read(path, &kp), 0);
    wcrypto_keypair_wipe(&kp);

    /* over the size limit */
    char big[WITAN_KEY_FILE_SIZE_MAX + 16];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_text(path, big, 0600);
    assert_int_equal(wcrypto_keyfile_read(path, &kp), WITAN_EKEYFILE);
    unlink(path);
}

/* --- Merkle trees ---------------------------------------------------------- */

#define TREE_SIZE_MAX 300

static wcrypto_digest tree_leaves[TREE_SIZE_MAX];

static int setup_leaves(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < TREE_SIZE_MAX; i++)
        wcrypto_sha256(&i, sizeof i, tree_leaves[i]);
    return 0;
}

/* A second, deliberately naive root: hash a level at a time, carrying an
 * odd last node up unchanged — the other classic statement of RFC 6962. */
static void level_root(size_t n, uint8_t out[32])
{
    static wcrypto_digest level[TREE_SIZE_MAX];
    if (n == 0) {
        wcrypto_sha256(NULL, 0, out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        wcrypto_merkle_leaf_hash(tree_leaves[i], level[i]);
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i + 1 < n; i += 2)
            wcrypto_merkle_node_hash(level[i], level[i + 1], level[m++]);
        if (n & 1)
            memcpy(level[m++], level[n - 1], 32);
        n = m;
    }
    memcpy(out, level[0], 32);
}

static void test_merkle_roots_and_history(void **state)
{
    (void)state;
    wcrypto_history h;
    wcrypto_history_init(&h);
    uint8_t a[32], b[32], c[32];
    for (size_t n = 0; n <= TREE_SIZE_MAX; n++) {
        wcrypto_merkle_root(tree_leaves, n, a);
        level_root(n, b);
        wcrypto_history_root(&h, c);
        assert_memory_equal(a, b, 32);
        assert_memory_equal(a, c, 32);
        assert_int_equal(h.size, n);
        if (n < TREE_SIZE_MAX)
            assert_int_equal(wcrypto_history_append(&h, tree_leaves[n]), 0);
    }
    h.size = UINT64_MAX;
    assert_int_equal(wcrypto_history_append(&h, tree_leaves[0]), WITAN_ELIMIT);
}

static void test_merkle_inclusion_every_size(void **state)
{
    (void)state;
    wcrypto_digest proof[WITAN_MERKLE_PROOF_COUNT_MAX + 1];
    size_t count;
    uint8_t root[32];
    for (size_t n = 1; n <= TREE_SIZE_MAX; n++) {
        wcrypto_merkle_root(tree_leaves, n, root);
        /* Every index for sizes up to 200; the ends and the middle above. */
        for (size_t i = 0; i < n; i++) {
            if (n > 200 && i > 2 && i + 3 < n && i != n / 2)
                continue;
            assert_int_equal(
                wcrypto_merkle_inclusion_proof(tree_leaves, n, i, proof,
                                               &count),
                0);
            assert_int_equal(wcrypto_merkle_inclusion_verify(
                                 tree_leaves[i], i, n, proof, count, root),
                             0);
            /* wrong leaf, wrong index, an index past the size. (A proof need
             * not pin the tree size: a root is only ever trusted together
             * with its size, as in RFC 9162's signed tree heads.) */
            assert_int_equal(wcrypto_merkle_inclusion_verify(
                                 tree_leaves[(i + 1) % TREE_SIZE_MAX], i, n,
                                 proof, count, root),
                             WITAN_EPROOF);
            if (n > 1)
                assert_int_equal(wcrypto_merkle_inclusion_verify(
                                     tree_leaves[i], (i + 1) % n, n, proof,
                                     count, root),
                                 WITAN_EPROOF);
            assert_int_equal(wcrypto_merkle_inclusion_verify(
                                 tree_leaves[i], i, i, proof, count, root),
                             WITAN_EPROOF);
            /* truncated and extended */
            if (count > 0)
                assert_int_equal(wcrypto_merkle_inclusion_verify(
                                     tree_leaves[i], i, n, proof, count - 1,
                                     root),
                                 WITAN_EPROOF);
            memcpy(proof[count], root, 32);
            assert_int_equal(wcrypto_merkle_inclusion_verify(
                                 tree_leaves[i], i, n, proof, count + 1, root),
                             WITAN_EPROOF);
            /* every hash of the proof corrupted in turn */
            for (size_t k = 0; k < count; k++) {
                proof[k][k % 32] ^= 0x40;
                assert_int_equal(wcrypto_merkle_inclusion_verify(
                                     tree_leaves[i], i, n, proof, count, root),
                                 WITAN_EPROOF);
                proof[k][k % 32] ^= 0x40;
            }
        }
        assert_int_equal(wcrypto_merkle_inclusion_proof(tree_leaves, n, n,
                                                        proof, &count),
                         WITAN_ERANGE);
    }
}

static void test_merkle_consistency_every_pair(void **state)
{
    (void)state;
    wcrypto_digest proof[WITAN_MERKLE_CONSISTENCY_COUNT_MAX + 1];
    static uint8_t roots[TREE_SIZE_MAX + 1][32];
    size_t count;
    for (size_t n = 0; n <= TREE_SIZE_MAX; n++)
        wcrypto_merkle_root(tree_leaves, n, roots[n]);
    for (size_t n = 1; n <= TREE_SIZE_MAX; n++) {
        for (size_t m = 1; m <= n; m++) {
            /* every pair up to 128 leaves; a sample of old sizes above */
            if (n > 128 && m % 17 != 0 && m > 3 && m + 2 < n)
                continue;
            assert_int_equal(wcrypto_merkle_consistency_proof(
                                 tree_leaves, n, m, proof, &count),
                             0);
            assert_int_equal(wcrypto_merkle_consistency_verify(
                                 m, n, roots[m], roots[n], proof, count),
                             0);
            /* wrong roots, wrong old size */
            if (m > 1)
                assert_int_equal(wcrypto_merkle_consistency_verify(
                                     m, n, roots[m - 1], roots[n], proof,
                                     count),
                                 WITAN_EPROOF);
            if (n > 1)
                assert_int_equal(wcrypto_merkle_consistency_verify(
                                     m, n, roots[m], roots[n - 1], proof,
                                     count),
                                 WITAN_EPROOF);
            if (m < n)
                assert_int_equal(wcrypto_merkle_consistency_verify(
                                     m + 1, n, roots[m], roots[n], proof,
                                     count),
                                 WITAN_EPROOF);
            /* truncated and extended */
            if (count > 0)
                assert_int_equal(wcrypto_merkle_consistency_verify(
                                     m, n, roots[m], roots[n], proof,
                                     count - 1),
                                 WITAN_EPROOF);
            memcpy(proof[count], roots[n], 32);
            assert_int_equal(wcrypto_merkle_consistency_verify(
                                 m, n, roots[m], roots[n], proof, count + 1),
                             WITAN_EPROOF);
            for (size_t k = 0; k < count; k++) {
                proof[k][(k * 7) % 32] ^= 0x01;
                assert_int_equal(wcrypto_merkle_consistency_verify(
                                     m, n, roots[m], roots[n], proof, count),
                                 WITAN_EPROOF);
                proof[k][(k * 7) % 32] ^= 0x01;
            }
        }
    }
    assert_int_equal(wcrypto_merkle_consistency_proof(tree_leaves, 5, 0, proof,
                                                      &count),
                     WITAN_ERANGE);
    assert_int_equal(wcrypto_merkle_consistency_proof(tree_leaves, 5, 6, proof,
                                                      &count),
                     WITAN_ERANGE);
    assert_int_equal(wcrypto_merkle_consistency_verify(0, 5, roots[0],
                                                       roots[5], proof, 0),
                     WITAN_EPROOF);
}

static void test_tagged_hash_and_hex(void **state)
{
    (void)state;
    /* H(tag, data) is SHA-256 over tag, one zero byte, data. */
    uint8_t a[32], b[32];
    wcrypto_hash_tagged("witan/tx/v1", "xyz", 3, a);
    wcrypto_sha256("witan/tx/v1\0xyz", 15, b);
    assert_memory_equal(a, b, 32);
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, "witan/tx/v1");
    wcrypto_hasher_update(&h, "x", 1);
    wcrypto_hasher_update(&h, "yz", 2);
    wcrypto_hasher_final(&h, b);
    assert_memory_equal(a, b, 32);

    uint8_t out[2];
    assert_int_equal(witan_hex_decode("aBff", out, 2), 0);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(witan_hex_decode("abf", out, 2), WITAN_EDECODE);
    assert_int_equal(witan_hex_decode("abfg", out, 2), WITAN_EDECODE);
    assert_string_equal(witan_err_name(WITAN_ESIG), "WITAN_ESIG");
    assert_string_equal(witan_err_name(12345), "WITAN_E?");
}

static void expect_sha256(const void *data, size_t size, const char *hex)
{
    uint8_t want[32], got[32];
    assert_int_equal(witan_hex_decode(hex, want, sizeof want), 0);
    wcrypto_sha256(data, size, got);
    assert_memory_equal(got, want, 32);
}

/* Known answers (FIPS 180-4 examples), then every length up to a few blocks
 * against libsodium's SHA-256, whole and in pieces cut at every place
 * around a block boundary; on both compression functions where the
 * processor has the SHA extensions. */
static void test_sha256_both_ways(void **state)
{
    (void)state;
    static uint8_t data[1100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 7) * 7 + 1);
    static char million_a[1000000];
    memset(million_a, 'a', sizeof million_a);
    bool accel = wcrypto_sha256_accelerate(true);
    for (int pass = 0; pass < (accel ? 2 : 1); pass++) {
        wcrypto_sha256_accelerate(pass == 0);
        expect_sha256("", 0,
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        expect_sha256("abc", 3,
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        expect_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                      56,
                      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        expect_sha256(million_a, sizeof million_a,
                      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        for (size_t n = 0; n <= sizeof data; n++) {
            uint8_t want[32], got[32];
            crypto_hash_sha256(want, data, n);
            wcrypto_sha256(data, n, got);
            assert_memory_equal(got, want, 32);
            if (n > 200)
                continue;
            for (size_t cut = 0; cut <= n; cut++) {
                wcrypto_hasher h;
                wcrypto_hasher_init(&h, "t");
                wcrypto_hasher_update(&h, data, cut);
                wcrypto_hasher_update(&h, data + cut, n - cut);
                wcrypto_hasher_final(&h, got);
                crypto_hash_sha256_state st;
                crypto_hash_sha256_init(&st);
                crypto_hash_sha256_update(&st, (const uint8_t *)"t", 2);
                crypto_hash_sha256_update(&st, data, n);
                crypto_hash_sha256_final(&st, want);
                assert_memory_equal(got, want, 32);
            }
        }
    }
    wcrypto_sha256_accelerate(accel);
}

int main(void)
{
    if (wcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_vectors),
        cmocka_unit_test(test_block_and_merkle_vectors),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_secp256k1_high_s_refused),
        cmocka_unit_test(test_keys_from_seed),
        cmocka_unit_test(test_keyfile_round_trip_and_permissions),
        cmocka_unit_test(test_keyfile_malformed),
        cmocka_unit_test(test_merkle_roots_and_history),
        cmocka_unit_test(test_merkle_inclusion_every_size),
        cmocka_unit_test(test_merkle_consistency_every_pair),
        cmocka_unit_test(test_tagged_hash_and_hex),
        cmocka_unit_test(test_sha256_both_ways),
    };
    return cmocka_run_group_tests_name("crypto", tests, setup_leaves, NULL);
}
