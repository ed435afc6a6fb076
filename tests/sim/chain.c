/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator's ledger mode (chain.h): genesis, clients and their signed
 * transactions, the replicas' stores, and the Byzantine primary's rewrites.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/witan.pb-c.h"
#include "tests/sim/chain.h"

#define SIMCHAIN_CLIENTS 4
#define SIMCHAIN_DIR_SIZE 96
#define SIMCHAIN_NMAX 16
#define SIMCHAIN_MAP_SIZE (4u << 20)
#define SIMCHAIN_MAP_SIZE_MAX (256u << 20)
#define SIMCHAIN_FEED "sim/requests"

struct simchain {
    char dir[SIMCHAIN_DIR_SIZE];
    Witan__Genesis *genesis;
    uint8_t genesis_hash[WITAN_HASH_SIZE];
    wcrypto_keypair clients[SIMCHAIN_CLIENTS];
    uint8_t addrs[SIMCHAIN_CLIENTS][WITAN_ADDRESS_SIZE];
    wcrypto_keypair outsider; /* a key in no validator set */
    pbft_bytes *txs;          /* txs[id - 1], made on demand */
    size_t tx_cap;
};

static const char *const names[SIMCHAIN_M_COUNT] = {
    [SIMCHAIN_M_VERSION] = "header-version",
    [SIMCHAIN_M_CHAIN] = "header-chain",
    [SIMCHAIN_M_HEIGHT] = "header-height",
    [SIMCHAIN_M_VIEW] = "header-view",
    [SIMCHAIN_M_TIME_BACK] = "header-time-back",
    [SIMCHAIN_M_PREV_HASH] = "header-prev-hash",
    [SIMCHAIN_M_HISTORY_ROOT] = "header-history-root",
    [SIMCHAIN_M_PROPOSER] = "header-proposer",
    [SIMCHAIN_M_TX_COUNT] = "header-tx-count",
    [SIMCHAIN_M_RESULTS_HEIGHT] = "results-height",
    [SIMCHAIN_M_RESULTS_STATE] = "results-state-root",
    [SIMCHAIN_M_RESULTS_RECEIPTS] = "results-receipts-root",
    [SIMCHAIN_M_RESULTS_EARLY] = "results-early",
    [SIMCHAIN_M_RESULTS_MISSING] = "results-missing",
    [SIMCHAIN_M_CERT_TRAILING_ZERO] = "cert-trailing-zero",
    [SIMCHAIN_M_CERT_EMPTY_BITMAP] = "cert-empty-bitmap",
    [SIMCHAIN_M_CERT_EXTRA_SIG] = "cert-extra-signature",
    [SIMCHAIN_M_CERT_DUP_SIG] = "cert-duplicate-signature",
    [SIMCHAIN_M_CERT_REORDERED] = "cert-reordered",
    [SIMCHAIN_M_CERT_VIEW] = "cert-view",
    [SIMCHAIN_M_CERT_HEIGHT] = "cert-height",
    [SIMCHAIN_M_CERT_HASH] = "cert-block-hash",
    [SIMCHAIN_M_CERT_OUTSIDER] = "cert-outsider",
    [SIMCHAIN_M_CERT_SHORT] = "cert-short",
    [SIMCHAIN_M_TX_BAD_SIG] = "tx-bad-signature",
    [SIMCHAIN_M_TX_DUPLICATE] = "tx-duplicate",
    [SIMCHAIN_M_TX_ROOT] = "tx-root",
    [SIMCHAIN_M_TX_COMMITTED] = "tx-committed",
    [SIMCHAIN_M_TX_JUNK] = "tx-junk",
    [SIMCHAIN_M_TX_OVERSIZE] = "tx-oversize",
    [SIMCHAIN_M_TX_OVERCOUNT] = "tx-overcount",
    [SIMCHAIN_M_HEADER_UNKNOWN] = "header-unknown-field",
    [SIMCHAIN_M_HEADER_TWICE] = "header-field-twice",
    [SIMCHAIN_M_BLOCK_UNKNOWN] = "block-unknown-field",
    [SIMCHAIN_M_VALID_TIME_AHEAD] = "valid-time-ahead",
    [SIMCHAIN_M_VALID_TX_DROPPED] = "valid-tx-dropped",
    [SIMCHAIN_M_VALID_TX_SWAPPED] = "valid-tx-swapped",
};

const char *simchain_mutation_name(enum simchain_mutation m)
{
    return m < SIMCHAIN_M_COUNT ? names[m] : "?";
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "sim: ledger mode: %s: %s\n", what, why);
    abort();
}

static void key_of(uint8_t tag, uint32_t i, wcrypto_keypair *kp)
{
    uint8_t seed[32] = {0};
    seed[0] = (uint8_t)i;
    seed[1] = tag;
    if (wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, kp) != 0)
        die("key", "cannot derive");
}

simchain *simchain_new(uint32_t n, const wcrypto_pubkey *validators,
                       uint32_t L, uint32_t K)
{
    WITAN_ASSERT(n >= 1 && n <= SIMCHAIN_NMAX);
    simchain *c = calloc(1, sizeof *c);
    if (!c)
        die("memory", "out of memory");
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/witan-sim-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir))
        die(c->dir, "cannot make the directory");
    key_of(0xc1, 0, &c->outsider);
    /* The genesis as people write it, parsed as a node parses it. */
    size_t cap = 4096 + (n + SIMCHAIN_CLIENTS) * 160;
    char *json = malloc(cap);
    if (!json)
        die("memory", "out of memory");
    size_t k = (size_t)snprintf(json, cap,
                                "{\"protocol_version\": %d, \"chain_id\": "
                                "\"" SIMCHAIN_ID "\", \"genesis_time_ms\": 0,"
                                " \"validators\": [",
                                WITAN_PROTOCOL_VERSION);
    char hex[2 * WCRYPTO_PUBKEY_SIZE_MAX + 1];
    for (uint32_t i = 0; i < n; i++) {
        witan_hex_encode(validators[i].bytes, validators[i].size, hex);
        k += (size_t)snprintf(json + k, cap - k,
                              "%s{\"name\": \"v%u\", \"pubkey\": \"%s\"}",
                              i ? ", " : "", i, hex);
    }
    k += (size_t)snprintf(json + k, cap - k, "], \"members\": [");
    for (uint32_t i = 0; i < SIMCHAIN_CLIENTS; i++) {
        key_of(0xc0, i, &c->clients[i]);
        wcrypto_address(&c->clients[i].pub, c->addrs[i]);
        witan_hex_encode(c->clients[i].pub.bytes, c->clients[i].pub.size,
                         hex);
        k += (size_t)snprintf(json + k, cap - k,
                              "%s{\"name\": \"c%u\", \"key_type\": "
                              "\"ed25519\", \"pubkey\": \"%s\", \"roles\": "
                              "[\"data_provider\"]}",
                              i ? ", " : "", i, hex);
    }
    k += (size_t)snprintf(json + k, cap - k,
                          "], \"params\": {\"block_tx_count_max\": %d, "
                          "\"block_size_max\": %d, \"pipeline_depth\": %u, "
                          "\"checkpoint_interval\": %u}}",
                          SIMCHAIN_BLOCK_TX_COUNT_MAX, SIMCHAIN_BLOCK_SIZE_MAX,
                          L, K);
    WITAN_ASSERT(k < cap);
    char why[LEDGER_WHY_SIZE];
    if (ledger_genesis_parse(json, k, &c->genesis, why, sizeof why) != 0)
        die("genesis", why);
    free(json);
    ledger_genesis_hash(c->genesis, c->genesis_hash);
    return c;
}

void simchain_free(simchain *c)
{
    if (!c)
        return;
    char cmd[SIMCHAIN_DIR_SIZE + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "sim: could not remove %s\n", c->dir);
    for (size_t i = 0; i < c->tx_cap; i++)
        free((void *)c->txs[i].data);
    free(c->txs);
    for (uint32_t i = 0; i < SIMCHAIN_CLIENTS; i++)
        wcrypto_keypair_wipe(&c->clients[i]);
    wcrypto_keypair_wipe(&c->outsider);
    ledger_genesis_free(c->genesis);
    free(c);
}

const uint8_t *simchain_genesis_hash(const simchain *c)
{
    return c->genesis_hash;
}

int64_t simchain_genesis_time(const simchain *c)
{
    return c->genesis->genesis_time_ms;
}

ledger *simchain_open(simchain *c, uint32_t i)
{
    char dir[SIMCHAIN_DIR_SIZE + 16];
    snprintf(dir, sizeof dir, "%s/n%u", c->dir, i);
    if (access(dir, F_OK) != 0 && mkdir(dir, 0700) != 0)
        die(dir, "cannot make the directory");
    const struct store_options o = {SIMCHAIN_MAP_SIZE, SIMCHAIN_MAP_SIZE_MAX,
                                    true};
    ledger *l;
    char why[LEDGER_WHY_SIZE];
    if (ledger_open(dir, c->genesis, &o, &l, why, sizeof why) != 0)
        die(dir, why);
    return l;
}

pbft_bytes simchain_tx(simchain *c, uint64_t id)
{
    WITAN_ASSERT(id >= 1);
    if (id > c->tx_cap) {
        size_t cap = c->tx_cap ? c->tx_cap : 256;
        while (cap < id)
            cap *= 2;
        pbft_bytes *txs = realloc(c->txs, cap * sizeof *txs);
        if (!txs)
            die("memory", "out of memory");
        memset(txs + c->tx_cap, 0, (cap - c->tx_cap) * sizeof *txs);
        c->txs = txs;
        c->tx_cap = cap;
    }
    pbft_bytes *t = &c->txs[id - 1];
    if (t->data)
        return *t;
    uint32_t who = (uint32_t)((id - 1) % SIMCHAIN_CLIENTS);
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = "n";
    v.mantissa = (int64_t)id;
    Witan__NamedValue *vs[] = {&v};
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = SIMCHAIN_FEED;
    a.subject = "sim";
    a.observed_at_ms = (int64_t)id; /* how simchain_tx_id finds it again */
    a.n_values = 1;
    a.values = vs;
    a.unit = "1";
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = SIMCHAIN_ID;
    b.sender = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, c->addrs[who]};
    b.nonce = (id - 1) / SIMCHAIN_CLIENTS + 1;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    b.attest = &a;
    uint8_t *env, hash[WITAN_HASH_SIZE];
    size_t size;
    if (cli_sign_tx(&b, &c->clients[who], &env, &size, hash) != 0)
        die("transaction", "cannot sign");
    *t = (pbft_bytes){env, size};
    return *t;
}

uint64_t simchain_tx_id(const uint8_t *env, size_t size)
{
    Witan__Envelope *e = witan__envelope__unpack(NULL, size, env);
    if (!e)
        return 0;
    Witan__TxBody *b =
        witan__tx_body__unpack(NULL, e->body.len, e->body.data);
    uint64_t id = 0;
    if (b && b->payload_case == WITAN__TX_BODY__PAYLOAD_ATTEST &&
        strcmp(b->attest->feed, SIMCHAIN_FEED) == 0 &&
        b->attest->observed_at_ms > 0)
        id = (uint64_t)b->attest->observed_at_ms;
    if (b)
        witan__tx_body__free_unpacked(b, NULL);
    witan__envelope__free_unpacked(e, NULL);
    return id;
}

/* --- mutations ------------------------------------------------------------ */

/* The transactions of a block being rewritten: borrowed from the decoded
 * block or from `own`, which this file frees. */
struct txlist {
    ProtobufCBinaryData v[SIMCHAIN_BLOCK_TX_COUNT_MAX + 2];
    size_t count;
    uint8_t *own; /* the one envelope a mutation made, if any */
};

static bool txs_mutate(enum simchain_mutation m, struct txlist *t,
                       pbft_bytes committed)
{
    const size_t max = SIMCHAIN_BLOCK_TX_COUNT_MAX;
    switch (m) {
    case SIMCHAIN_M_TX_BAD_SIG: {
        if (t->count == 0)
            return false;
        /* The signature is the envelope's last field. */
        uint8_t *copy = malloc(t->v[0].len);
        WITAN_ASSERT(copy != NULL);
        memcpy(copy, t->v[0].data, t->v[0].len);
        copy[t->v[0].len - 1] ^= 0x01;
        t->own = copy;
        t->v[0].data = copy;
        return true;
    }
    case SIMCHAIN_M_TX_DUPLICATE:
        if (t->count == 0 || t->count >= max)
            return false;
        t->v[t->count++] = t->v[0];
        return true;
    case SIMCHAIN_M_TX_COMMITTED:
        if (committed.size == 0 || t->count >= max)
            return false;
        t->v[t->count++] =
            (ProtobufCBinaryData){committed.size, (uint8_t *)committed.data};
        return true;
    case SIMCHAIN_M_TX_JUNK: {
        if (t->count >= max)
            return false;
        uint8_t *junk = malloc(24);
        WITAN_ASSERT(junk != NULL);
        memset(junk, 0xee, 24);
        t->own = junk;
        t->v[t->count++] = (ProtobufCBinaryData){24, junk};
        return true;
    }
    case SIMCHAIN_M_TX_OVERSIZE: {
        if (t->count >= max)
            return false;
        uint8_t *big = calloc(1, SIMCHAIN_BLOCK_SIZE_MAX);
        WITAN_ASSERT(big != NULL);
        t->own = big;
        t->v[t->count++] = (ProtobufCBinaryData){SIMCHAIN_BLOCK_SIZE_MAX, big};
        return true;
    }
    case SIMCHAIN_M_TX_OVERCOUNT: {
        uint8_t *one = malloc(1);
        WITAN_ASSERT(one != NULL);
        one[0] = 0;
        t->own = one;
        while (t->count < max + 1)
            t->v[t->count++] = (ProtobufCBinaryData){1, one};
        return true;
    }
    case SIMCHAIN_M_VALID_TX_DROPPED:
        if (t->count == 0)
            return false;
        t->count--;
        return true;
    case SIMCHAIN_M_VALID_TX_SWAPPED: {
        if (t->count < 2)
            return false;
        ProtobufCBinaryData x = t->v[0];
        t->v[0] = t->v[1];
        t->v[1] = x;
        return true;
    }
    default:
        return true; /* not a change of the list */
    }
}

/* The signer bitmap and signatures of a certificate being rewritten. */
struct certwork {
    uint8_t signers[PBFT_SIGNERS_SIZE_MAX + 1];
    size_t signers_size;
    ProtobufCBinaryData sigs[SIMCHAIN_NMAX + 1];
    size_t sig_count;
    uint8_t hash[WITAN_HASH_SIZE];
    uint8_t outsider_sig[WCRYPTO_SIG_SIZE];
};

static bool cert_mutate(simchain *c, enum simchain_mutation m,
                        Witan__CommitCertificate *cc, struct certwork *w,
                        uint32_t n)
{
    if (cc->signers.len > PBFT_SIGNERS_SIZE_MAX ||
        cc->n_signatures > SIMCHAIN_NMAX || cc->block_hash.len != 32)
        return false;
    if (cc->signers.len)
        memcpy(w->signers, cc->signers.data, cc->signers.len);
    w->signers_size = cc->signers.len;
    if (cc->n_signatures)
        memcpy(w->sigs, cc->signatures, cc->n_signatures * sizeof *w->sigs);
    w->sig_count = cc->n_signatures;
    memcpy(w->hash, cc->block_hash.data, 32);
    switch (m) {
    case SIMCHAIN_M_CERT_TRAILING_ZERO:
        w->signers[w->signers_size++] = 0;
        break;
    case SIMCHAIN_M_CERT_EMPTY_BITMAP:
        w->signers_size = 0;
        w->sig_count = 0;
        break;
    case SIMCHAIN_M_CERT_EXTRA_SIG:
        w->sigs[w->sig_count++] = w->sigs[0];
        break;
    case SIMCHAIN_M_CERT_DUP_SIG:
        if (w->sig_count < 2)
            return false;
        w->sigs[1] = w->sigs[0];
        break;
    case SIMCHAIN_M_CERT_REORDERED: {
        if (w->sig_count < 2)
            return false;
        ProtobufCBinaryData x = w->sigs[0];
        w->sigs[0] = w->sigs[1];
        w->sigs[1] = x;
        break;
    }
    case SIMCHAIN_M_CERT_VIEW:
        cc->view++;
        break;
    case SIMCHAIN_M_CERT_HEIGHT:
        cc->height++;
        break;
    case SIMCHAIN_M_CERT_HASH:
        w->hash[0] ^= 0x01;
        break;
    case SIMCHAIN_M_CERT_OUTSIDER: {
        /* Signer n, one past the set, with a real signature of the vote. */
        if (n / 8 >= PBFT_SIGNERS_SIZE_MAX)
            return false;
        while (w->signers_size <= n / 8)
            w->signers[w->signers_size++] = 0;
        w->signers[n / 8] |= (uint8_t)(1u << (n % 8));
        uint8_t digest[WITAN_HASH_SIZE];
        pbft_vote_digest(SIMCHAIN_ID, cc->height, cc->view, w->hash, digest);
        if (wcrypto_sign(&c->outsider, digest, w->outsider_sig) != 0)
            return false;
        w->sigs[w->sig_count++] =
            (ProtobufCBinaryData){WCRYPTO_SIG_SIZE, w->outsider_sig};
        break;
    }
    case SIMCHAIN_M_CERT_SHORT: {
        /* The highest signer out, and the bitmap kept canonical. */
        size_t i = w->signers_size;
        while (i > 0 && w->signers[i - 1] == 0)
            i--;
        if (i == 0 || w->sig_count == 0)
            return false;
        uint8_t *byte = &w->signers[i - 1];
        int bit = 7;
        while (!(*byte >> bit & 1))
            bit--;
        *byte &= (uint8_t)~(1u << bit);
        while (w->signers_size > 0 && w->signers[w->signers_size - 1] == 0)
            w->signers_size--;
        w->sig_count--;
        break;
    }
    default:
        return false;
    }
    cc->signers = (ProtobufCBinaryData){w->signers_size, w->signers};
    cc->signatures = w->sigs;
    cc->n_signatures = w->sig_count;
    cc->block_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, w->hash};
    return true;
}

static bool is_cert_mutation(enum simchain_mutation m)
{
    return m >= SIMCHAIN_M_CERT_TRAILING_ZERO && m <= SIMCHAIN_M_CERT_SHORT;
}

static bool is_tx_mutation(enum simchain_mutation m)
{
    return (m >= SIMCHAIN_M_TX_BAD_SIG && m <= SIMCHAIN_M_TX_OVERCOUNT) ||
           m == SIMCHAIN_M_VALID_TX_DROPPED || m == SIMCHAIN_M_VALID_TX_SWAPPED;
}

/* Appends a varint field (number `field` < 16, value < 128) to packed
 * bytes: protobuf readers skip it when unknown and take the last value when
 * known, so only the canonical-form rule can refuse it. */
static uint8_t *with_varint(const uint8_t *d, size_t size, uint32_t field,
                            uint32_t value, size_t *out_size)
{
    /* The tag as a varint: one byte below field 16, two up to 2047. */
    uint8_t *out = malloc(size + 3);
    WITAN_ASSERT(out != NULL && field < 2048 && value < 128);
    memcpy(out, d, size);
    uint32_t tag = field << 3;
    size_t k = 0;
    if (tag >= 0x80) {
        out[size + k++] = (uint8_t)(tag | 0x80);
        tag >>= 7;
    }
    out[size + k++] = (uint8_t)tag;
    out[size + k++] = (uint8_t)value;
    *out_size = size + k;
    return out;
}

bool simchain_mutate(simchain *c, enum simchain_mutation m,
                     const uint8_t *block, size_t size, pbft_bytes committed,
                     uint32_t n, uint8_t **out, size_t *out_size)
{
    Witan__Block *b = witan__block__unpack(NULL, size, block);
    if (!b)
        return false;
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, b->header.len, b->header.data);
    if (!h || b->n_txs > SIMCHAIN_BLOCK_TX_COUNT_MAX) {
        if (h)
            witan__block_header__free_unpacked(h, NULL);
        witan__block__free_unpacked(b, NULL);
        return false;
    }
    /* Shallow copies: what changes points at local storage, the decoded
     * originals stay as they were and are freed as they came. */
    Witan__BlockHeader hh = *h;
    struct txlist t = {.count = b->n_txs};
    if (b->n_txs) /* memcpy's source may not be NULL, even for nothing */
        memcpy(t.v, b->txs, b->n_txs * sizeof *t.v);
    Witan__CommitCertificate cc;
    struct certwork cw;
    uint8_t flipped[3][WITAN_HASH_SIZE], root[WITAN_HASH_SIZE];
    uint8_t zeros[WITAN_HASH_SIZE] = {0};
    bool ok = true, due = h->results_cert != NULL;
    switch (m) {
    case SIMCHAIN_M_VERSION:
        hh.protocol_version++;
        break;
    case SIMCHAIN_M_CHAIN:
        hh.chain_id = SIMCHAIN_ID "-other";
        break;
    case SIMCHAIN_M_HEIGHT:
        hh.height++;
        break;
    case SIMCHAIN_M_VIEW:
        hh.view++;
        break;
    case SIMCHAIN_M_TIME_BACK:
        hh.time_ms = simchain_genesis_time(c) - 1;
        break;
    case SIMCHAIN_M_PREV_HASH:
    case SIMCHAIN_M_HISTORY_ROOT: {
        ProtobufCBinaryData *f = m == SIMCHAIN_M_PREV_HASH ? &hh.prev_hash
                                                          : &hh.history_root;
        ok = f->len == WITAN_HASH_SIZE;
        if (ok) {
            memcpy(flipped[0], f->data, WITAN_HASH_SIZE);
            flipped[0][WITAN_HASH_SIZE - 1] ^= 0x80;
            f->data = flipped[0];
        }
        break;
    }
    case SIMCHAIN_M_PROPOSER:
        hh.proposer = (hh.proposer + 1) % (n > 1 ? n : 2);
        break;
    case SIMCHAIN_M_TX_COUNT:
        hh.tx_count++;
        break;
    case SIMCHAIN_M_RESULTS_HEIGHT:
        ok = due;
        hh.results_height++;
        break;
    case SIMCHAIN_M_RESULTS_STATE:
    case SIMCHAIN_M_RESULTS_RECEIPTS: {
        ProtobufCBinaryData *f = m == SIMCHAIN_M_RESULTS_STATE
                                     ? &hh.results_state_root
                                     : &hh.results_receipts_root;
        ok = due && f->len == WITAN_HASH_SIZE;
        if (ok) {
            memcpy(flipped[1], f->data, WITAN_HASH_SIZE);
            flipped[1][0] ^= 0x01;
            f->data = flipped[1];
        }
        break;
    }
    case SIMCHAIN_M_RESULTS_EARLY:
        ok = !due;
        hh.results_height = 1;
        hh.results_state_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, zeros};
        hh.results_receipts_root = hh.results_state_root;
        break;
    case SIMCHAIN_M_RESULTS_MISSING:
        ok = due;
        hh.results_height = 0;
        hh.results_state_root = (ProtobufCBinaryData){0, NULL};
        hh.results_receipts_root = (ProtobufCBinaryData){0, NULL};
        hh.results_cert = NULL;
        break;
    case SIMCHAIN_M_VALID_TIME_AHEAD:
        hh.time_ms += 3600 * 1000;
        break;
    default:
        if (is_cert_mutation(m)) {
            ok = due;
            if (ok) {
                cc = *h->results_cert;
                ok = cert_mutate(c, m, &cc, &cw, n);
                hh.results_cert = &cc;
            }
        } else if (is_tx_mutation(m)) {
            ok = txs_mutate(m, &t, committed);
        }
        break;
    }
    if (ok && is_tx_mutation(m)) {
        /* The list changed: its count and root follow it, but for the
         * mutations that are about them. */
        const uint8_t *ptrs[SIMCHAIN_BLOCK_TX_COUNT_MAX + 2];
        size_t sizes[SIMCHAIN_BLOCK_TX_COUNT_MAX + 2];
        for (size_t i = 0; i < t.count; i++) {
            ptrs[i] = t.v[i].data;
            sizes[i] = t.v[i].len;
        }
        ok = ledger_txs_root(ptrs, sizes, t.count, root) == 0;
        hh.txs_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, root};
        hh.tx_count = (uint32_t)t.count;
    }
    if (ok && m == SIMCHAIN_M_TX_ROOT) {
        ok = hh.txs_root.len == WITAN_HASH_SIZE;
        if (ok) {
            memcpy(flipped[2], hh.txs_root.data, WITAN_HASH_SIZE);
            flipped[2][1] ^= 0x10;
            hh.txs_root.data = flipped[2];
        }
    }
    if (ok) {
        size_t hs = witan__block_header__get_packed_size(&hh);
        uint8_t *hb = malloc(hs ? hs : 1);
        WITAN_ASSERT(hb != NULL);
        witan__block_header__pack(&hh, hb);
        if (m == SIMCHAIN_M_HEADER_UNKNOWN) {
            uint8_t *x = with_varint(hb, hs, 16, 1, &hs);
            free(hb);
            hb = x;
        } else if (m == SIMCHAIN_M_HEADER_TWICE) {
            /* protocol_version again: decodes the same (the last wins),
             * is not the canonical form */
            uint8_t *x = with_varint(hb, hs, 1, hh.protocol_version, &hs);
            free(hb);
            hb = x;
        }
        Witan__Block nb = WITAN__BLOCK__INIT;
        nb.header = (ProtobufCBinaryData){hs, hb};
        nb.n_txs = t.count;
        nb.txs = t.v;
        size_t bs = witan__block__get_packed_size(&nb);
        uint8_t *bb = malloc(bs);
        WITAN_ASSERT(bb != NULL);
        witan__block__pack(&nb, bb);
        free(hb);
        if (m == SIMCHAIN_M_BLOCK_UNKNOWN) {
            uint8_t *x = with_varint(bb, bs, 3, 1, &bs);
            free(bb);
            bb = x;
        }
        *out = bb;
        *out_size = bs;
    }
    free(t.own);
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
    return ok;
}
