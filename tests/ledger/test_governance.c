/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Governance in the ledger (spec/governance.md), on real LMDB homes with
 * four validators, each voted for by its own operator, and certificates
 * signed by three of them: a parameter change that passes and takes effect
 * at the boundary (a block over the new block_tx_count_max is valid at the
 * boundary, invalid after it, on two ledgers alike); proposals that fail
 * by votes and expire; every refusal; membership by governance only;
 * validator-set changes, and proofs and signed heads that follow them
 * from the genesis (spec/proofs.md), with every tampering refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/ledger/world.h"

#define NV 4
#define CHAIN "witan-gov"

struct gw {
    char dir[2][256];
    Witan__Genesis *g;
    ledger *l[2]; /* the second applies the same blocks, when opened */
    int ledgers;
    wcrypto_keypair val[NV], op[NV], admin, spare;
    uint8_t op_addr[NV][20], admin_addr[20], spare_addr[20];
    uint64_t op_nonce[NV], admin_nonce, spare_nonce;
    /* Who certifies the next blocks: bit i of `mask` signs as index i
     * with signer[i] (validators 0-2 of the genesis by default). */
    uint64_t mask;
    const wcrypto_keypair *signer[8];
};

static void open_at(struct gw *w, int i, const char *name)
{
    snprintf(w->dir[i], sizeof w->dir[i], "%s/witan-gov-%d-%s-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             name, i);
    rm_rf(w->dir[i]);
    assert_int_equal(mkdir(w->dir[i], 0700), 0);
    char why[WHY_SIZE];
    struct store_options o = {1 << 20, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir[i], w->g, &o, &w->l[i], why,
                                 sizeof why),
                     0);
}

/* K = checkpoint_interval; `extra` goes into params. */
static struct gw *gw_new(const char *name, int ledgers, unsigned K,
                         const char *extra)
{
    struct gw *w = calloc(1, sizeof *w);
    char json[8192], vk[65], ok[65], oa[41], ak[65], sk[65];
    size_t n = 0;
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "{\"protocol_version\": 1, \"chain_id\": \"%s\", "
                          "\"genesis_time_ms\": 1700000000000, "
                          "\"validators\": [",
                          CHAIN);
    for (int i = 0; i < NV; i++) {
        seeded(WCRYPTO_KEY_ED25519, (uint8_t)(10 + i), &w->val[i]);
        seeded(WCRYPTO_KEY_ED25519, (uint8_t)(20 + i), &w->op[i]);
        wcrypto_address(&w->op[i].pub, w->op_addr[i]);
        w->op_nonce[i] = 1;
        hex(w->val[i].pub.bytes, 32, vk);
        hex(w->op_addr[i], 20, oa);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"name\": \"v%d\", \"pubkey\": \"%s\", "
                              "\"operator\": \"%s\"}",
                              i ? ", " : "", i, vk, oa);
    }
    seeded(WCRYPTO_KEY_ED25519, 30, &w->admin);
    seeded(WCRYPTO_KEY_ED25519, 31, &w->spare);
    wcrypto_address(&w->admin.pub, w->admin_addr);
    wcrypto_address(&w->spare.pub, w->spare_addr);
    w->admin_nonce = w->spare_nonce = 1;
    hex(w->admin.pub.bytes, 32, ak);
    hex(w->spare.pub.bytes, 32, sk);
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "], \"members\": [{\"name\": \"admin\", "
                          "\"key_type\": \"ed25519\", \"pubkey\": \"%s\", "
                          "\"roles\": [\"data_provider\", \"proposer\", "
                          "\"admin\", \"contract_operator\"]}, "
                          "{\"name\": \"spare\", \"key_type\": \"ed25519\", "
                          "\"pubkey\": \"%s\", \"roles\": "
                          "[\"validator_operator\"]}",
                          ak, sk);
    for (int i = 0; i < NV; i++) {
        hex(w->op[i].pub.bytes, 32, ok);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              ", {\"name\": \"op%d\", \"key_type\": "
                              "\"ed25519\", \"pubkey\": \"%s\", \"roles\": "
                              "[\"validator_operator\"]}",
                              i, ok);
    }
    snprintf(json + n, sizeof json - n,
             "], \"params\": {\"checkpoint_interval\": %u%s}}", K,
             extra ? extra : "");
    char why[WHY_SIZE];
    int err = ledger_genesis_parse(json, strlen(json), &w->g, why, sizeof why);
    if (err)
        fail_msg("genesis: %s", why);
    w->ledgers = ledgers;
    w->mask = 0x07;
    for (int i = 0; i < NV; i++)
        w->signer[i] = &w->val[i];
    for (int i = 0; i < ledgers; i++)
        open_at(w, i, name);
    return w;
}

static void gw_free(struct gw *w)
{
    for (int i = 0; i < w->ledgers; i++) {
        ledger_close(w->l[i]);
        rm_rf(w->dir[i]);
    }
    ledger_genesis_free(w->g);
    free(w);
}

/* The validators of w->mask sign, each with its w->signer key. */
static void certify(const uint8_t hash[32], uint64_t height,
                    Witan__CommitCertificate *cert, uint8_t sigs[8][64],
                    ProtobufCBinaryData *sv, uint8_t *signers,
                    const struct gw *w)
{
    uint8_t digest[32];
    wcrypto_vote_digest(CHAIN, height, 0, hash, digest);
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (!(w->mask >> i & 1))
            continue;
        assert_int_equal(wcrypto_sign(w->signer[i], digest, sigs[n]), 0);
        sv[n] = (ProtobufCBinaryData){64, sigs[n]};
        n++;
    }
    *signers = (uint8_t)w->mask;
    witan__commit_certificate__init(cert);
    cert->height = height;
    cert->block_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    cert->signers = (ProtobufCBinaryData){1, signers};
    cert->n_signatures = n;
    cert->signatures = sv;
}

/* Applies block bytes on every ledger; returns the first's result. */
static int apply_bytes(struct gw *w, const uint8_t *bytes, size_t size,
                       const uint8_t hash[32], uint64_t height, char *why)
{
    Witan__CommitCertificate cert;
    uint8_t sigs[8][64], signers;
    ProtobufCBinaryData sv[8];
    certify(hash, height, &cert, sigs, sv, &signers, w);
    struct ledger_apply_stats st;
    int first = 0;
    for (int i = 0; i < w->ledgers; i++) {
        int err = ledger_block_apply(w->l[i], bytes, size, &cert, true, NULL,
                                     &st, why, WHY_SIZE);
        if (i == 0)
            first = err;
        else
            assert_int_equal(err, first);
    }
    return first;
}

/* Builds (on the first ledger) and applies a block of these envelopes;
 * the receipts' statuses into `statuses`, and each Propose's id. */
static void commit(struct gw *w, uint8_t **envs, size_t *sizes, size_t n,
                   Witan__TxStatus *statuses, uint64_t *proposal)
{
    struct ledger_tx txs[8], *ptrs[8];
    char why[WHY_SIZE];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        int err = ledger_tx_decode(w->l[0], envs[i], sizes[i], true, &txs[i],
                                   why, sizeof why);
        if (err)
            fail_msg("decode %zu: %s", i, why);
        ptrs[i] = &txs[i];
    }
    struct ledger_block blk;
    struct ledger_tip tip;
    ledger_tip(w->l[0], &tip);
    assert_int_equal(ledger_block_build(w->l[0], ptrs, n, tip.time_ms + 1000,
                                        0, 0, &blk),
                     0);
    int err = apply_bytes(w, blk.bytes, blk.size, blk.hash, blk.height, why);
    if (err)
        fail_msg("apply: %s", why);
    for (size_t i = 0; i < n; i++) {
        Witan__TxResponse *r;
        assert_int_equal(ledger_get_tx(w->l[0], txs[i].hash, &r), 0);
        if (statuses)
            statuses[i] = r->receipt->status;
        if (proposal)
            proposal[i] = r->receipt->proposal;
        ledger_tx_response_free(r);
        ledger_tx_release(&txs[i]);
        free(envs[i]);
    }
    ledger_block_free(&blk);
}

static Witan__TxStatus gcommit1(struct gw *w, uint8_t *env, size_t size,
                               uint64_t *proposal)
{
    Witan__TxStatus s;
    commit(w, &env, &size, 1, &s, proposal);
    return s;
}

static uint8_t *body_tx(Witan__TxBody *b, const wcrypto_keypair *kp,
                        const uint8_t *sender, uint64_t *nonce, size_t *size)
{
    b->chain_id = CHAIN;
    b->sender = (ProtobufCBinaryData){20, (uint8_t *)sender};
    b->nonce = (*nonce)++;
    return sign_body(b, kp, size);
}

static uint8_t *propose_tx(struct gw *w, Witan__ProposalAction **acts,
                           size_t n, uint64_t deadline, size_t *size)
{
    Witan__Propose p = WITAN__PROPOSE__INIT;
    p.n_actions = n;
    p.actions = acts;
    p.deadline = deadline;
    p.rationale = "https://example.org/rationale";
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_PROPOSE;
    b.propose = &p;
    return body_tx(&b, &w->admin, w->admin_addr, &w->admin_nonce, size);
}

/* One set_param proposal. */
static uint8_t *set_param_tx(struct gw *w, const char *name, uint64_t value,
                             uint64_t deadline, size_t *size)
{
    Witan__ParamChange pc = WITAN__PARAM_CHANGE__INIT;
    pc.name = (char *)name;
    pc.value = value;
    Witan__ProposalAction a = WITAN__PROPOSAL_ACTION__INIT;
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM;
    a.set_param = &pc;
    Witan__ProposalAction *acts[] = {&a};
    return propose_tx(w, acts, 1, deadline, size);
}

static uint8_t *vote_tx(struct gw *w, int op, uint64_t id,
                        Witan__VoteChoice c, size_t *size)
{
    Witan__CastVote v = WITAN__CAST_VOTE__INIT;
    v.proposal = id;
    v.choice = c;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_VOTE;
    b.vote = &v;
    if (op < 0)
        return body_tx(&b, &w->spare, w->spare_addr, &w->spare_nonce, size);
    return body_tx(&b, &w->op[op], w->op_addr[op], &w->op_nonce[op], size);
}

/* A filler attestation from the admin (a data provider). */
static uint8_t *filler_tx(struct gw *w, size_t *size)
{
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = "co2";
    v.mantissa = 42000 + (int64_t)w->admin_nonce;
    v.scale = 2;
    Witan__NamedValue *vs[] = {&v};
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = "climate/co2/mauna-loa";
    a.subject = "mauna-loa";
    a.observed_at_ms = 1700000000000LL + (int64_t)w->admin_nonce * 1000;
    a.n_values = 1;
    a.values = vs;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    b.attest = &a;
    return body_tx(&b, &w->admin, w->admin_addr, &w->admin_nonce, size);
}

static void empty_block(struct gw *w)
{
    commit(w, NULL, NULL, 0, NULL, NULL);
}

static Witan__Proposal *proposal(struct gw *w, uint64_t id,
                                 Witan__ProposalsResponse **keep)
{
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    q.id = id;
    assert_int_equal(ledger_query_proposals(w->l[0], &q, keep), 0);
    assert_int_equal((*keep)->n_proposals, 1);
    return (*keep)->proposals[0]->proposal;
}

static uint64_t height_of(struct gw *w)
{
    struct ledger_tip t;
    ledger_tip(w->l[0], &t);
    return t.height;
}

/* Adds one envelope to a built block: new tx count, transactions root and
 * header, so that only the count rule can refuse it. */
static void add_tx(struct ledger_block *blk, const uint8_t *env, size_t size)
{
    Witan__Block *b = witan__block__unpack(NULL, blk->size, blk->bytes);
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, b->header.len, b->header.data);
    assert_non_null(b);
    assert_non_null(h);
    size_t n = b->n_txs + 1;
    ProtobufCBinaryData *txs = calloc(n, sizeof *txs);
    const uint8_t **ptrs = calloc(n, sizeof *ptrs);
    size_t *sizes = calloc(n, sizeof *sizes);
    for (size_t i = 0; i + 1 < n; i++)
        txs[i] = b->txs[i];
    txs[n - 1] = (ProtobufCBinaryData){size, (uint8_t *)env};
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = txs[i].data;
        sizes[i] = txs[i].len;
    }
    uint8_t root[32];
    assert_int_equal(ledger_txs_root(ptrs, sizes, n, root), 0);
    h->tx_count = (uint32_t)n;
    ProtobufCBinaryData old_root = h->txs_root;
    h->txs_root = (ProtobufCBinaryData){32, root};
    size_t hs = witan__block_header__get_packed_size(h);
    uint8_t *hb = malloc(hs);
    witan__block_header__pack(h, hb);
    h->txs_root = old_root;
    Witan__Block nb = WITAN__BLOCK__INIT;
    nb.header = (ProtobufCBinaryData){hs, hb};
    nb.n_txs = n;
    nb.txs = txs;
    free(blk->bytes);
    blk->size = witan__block__get_packed_size(&nb);
    blk->bytes = malloc(blk->size);
    witan__block__pack(&nb, blk->bytes);
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, hb, hs, blk->hash);
    free(hb);
    free(txs);
    free(ptrs);
    free(sizes);
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
}

/* --- tests ---------------------------------------------------------------------- */

static void test_parameter_change_at_boundary(void **state)
{
    (void)state;
    /* K = 4, L = 1: a proposal passing at the end of block 3 takes effect
     * at the end of block 4 (the first multiple of 4 at least 3 + 1). */
    struct gw *w = gw_new("param", 2, 4, NULL);
    size_t s[4];
    uint8_t *e[4];
    uint64_t ids[4];
    e[0] = set_param_tx(w, "block_tx_count_max", 2, 50, &s[0]);
    Witan__TxStatus st[4];
    commit(w, e, s, 1, st, ids); /* height 1 */
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(ids[0], 1);

    e[0] = vote_tx(w, 0, 1, WITAN__VOTE_CHOICE__VOTE_YES, &s[0]);
    e[1] = vote_tx(w, 1, 1, WITAN__VOTE_CHOICE__VOTE_YES, &s[1]);
    commit(w, e, s, 2, st, NULL); /* height 2: 2 of 4 is not > 2/3 */
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__ProposalsResponse *r;
    Witan__Proposal *p = proposal(w, 1, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_OPEN);
    assert_int_equal(p->yes, 2);
    assert_int_equal(p->validator_count, NV);
    ledger_proposals_response_free(r);

    e[0] = vote_tx(w, 2, 1, WITAN__VOTE_CHOICE__VOTE_YES, &s[0]);
    assert_int_equal(gcommit1(w, e[0], s[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK); /* height 3 */
    p = proposal(w, 1, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    assert_int_equal(p->yes, 3);
    assert_int_equal(p->closed_height, 3);
    assert_int_equal(p->effect_height, 4);
    assert_int_equal(r->proposals[0]->n_votes, 3);
    assert_int_equal(r->proposals[0]->n_events, 1); /* governance/passed */
    ledger_proposals_response_free(r);
    /* A vote on a closed proposal. */
    e[0] = vote_tx(w, 3, 1, WITAN__VOTE_CHOICE__VOTE_NO, &s[0]);
    uint8_t *late = e[0];
    size_t late_size = s[0];

    /* Block 4, the boundary: still under the old limit, three transactions
     * are valid (and the late vote is refused). */
    assert_int_equal(ledger_params(w->l[0])->block_tx_count_max, 1000);
    e[0] = late;
    s[0] = late_size;
    e[1] = filler_tx(w, &s[1]);
    e[2] = filler_tx(w, &s[2]);
    commit(w, e, s, 3, st, NULL);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_PROPOSAL_CLOSED);
    assert_int_equal(height_of(w), 4);
    /* In force from block 5, on both ledgers. */
    assert_int_equal(ledger_params(w->l[0])->block_tx_count_max, 2);
    assert_int_equal(ledger_params(w->l[1])->block_tx_count_max, 2);
    p = proposal(w, 1, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED);
    assert_int_equal(p->event_count, 1);
    assert_int_equal(r->proposals[0]->n_events, 2);
    const Witan__Event *ev = r->proposals[0]->events[1];
    assert_int_equal(ev->height, 4);
    assert_int_equal(ev->proposal, 1);
    assert_memory_equal(ev->topic.data, "governance/applied", ev->topic.len);
    assert_int_equal(r->params->block_tx_count_max, 2);
    ledger_proposals_response_free(r);

    /* Block 5: the builder refuses three, and a block of three made by
     * hand is invalid by the one validity rule; two are fine. */
    struct ledger_tx txs[3], *ptrs[3];
    uint8_t *env[3];
    size_t sz[3];
    char why[WHY_SIZE];
    for (int i = 0; i < 3; i++) {
        env[i] = filler_tx(w, &sz[i]);
        assert_int_equal(ledger_tx_decode(w->l[0], env[i], sz[i], true,
                                          &txs[i], why, sizeof why),
                         0);
        ptrs[i] = &txs[i];
    }
    struct ledger_block blk;
    struct ledger_tip tip;
    ledger_tip(w->l[0], &tip);
    assert_int_equal(ledger_block_build(w->l[0], ptrs, 3, tip.time_ms + 1000,
                                        0, 0, &blk),
                     WITAN_ELIMIT);
    assert_int_equal(ledger_block_build(w->l[0], ptrs, 2, tip.time_ms + 1000,
                                        0, 0, &blk),
                     0);
    add_tx(&blk, env[2], sz[2]);
    struct ledger_check_opts o = {.verify_signatures = true};
    for (int i = 0; i < 2; i++)
        assert_int_equal(ledger_block_check(w->l[i], blk.bytes, blk.size, &o,
                                            why, sizeof why),
                         WITAN_ELIMIT);
    assert_non_null(strstr(why, "over the limit 2"));
    assert_int_equal(apply_bytes(w, blk.bytes, blk.size, blk.hash, 5, why),
                     WITAN_ELIMIT);
    ledger_block_free(&blk);
    for (int i = 0; i < 3; i++)
        ledger_tx_release(&txs[i]);
    commit(w, env, sz, 2, st, NULL);
    assert_int_equal(st[1], WITAN__TX_STATUS__TX_STATUS_OK);
    free(env[2]);

    /* Two ledgers that applied the same blocks agree on every root. */
    struct ledger_tip a, b;
    ledger_tip(w->l[0], &a);
    ledger_tip(w->l[1], &b);
    assert_int_equal(a.height, 5);
    assert_memory_equal(a.state_root, b.state_root, 32);
    assert_memory_equal(a.receipts_root, b.receipts_root, 32);

    /* Reopened, a ledger reads the parameters in force from state. */
    ledger_close(w->l[1]);
    char why2[WHY_SIZE];
    struct store_options so = {1 << 20, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir[1], w->g, &so, &w->l[1], why2,
                                 sizeof why2),
                     0);
    assert_int_equal(ledger_params(w->l[1])->block_tx_count_max, 2);
    gw_free(w);
}

static void test_fail_by_votes_and_changed_vote(void **state)
{
    (void)state;
    struct gw *w = gw_new("fail", 1, 4, NULL);
    size_t s[2];
    uint8_t *e[2];
    uint64_t id;
    e[0] = set_param_tx(w, "block_interval_ms", 500, 50, &s[0]);
    assert_int_equal(gcommit1(w, e[0], s[0], &id),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    e[0] = vote_tx(w, 0, id, WITAN__VOTE_CHOICE__VOTE_YES, &s[0]);
    assert_int_equal(gcommit1(w, e[0], s[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__ProposalsResponse *r;
    assert_int_equal(proposal(w, id, &r)->yes, 1);
    ledger_proposals_response_free(r);
    /* Operator 0 changes its mind; with operator 1's no, 2 of 4 can no
     * longer exceed two thirds. */
    e[0] = vote_tx(w, 0, id, WITAN__VOTE_CHOICE__VOTE_NO, &s[0]);
    e[1] = vote_tx(w, 1, id, WITAN__VOTE_CHOICE__VOTE_ABSTAIN, &s[1]);
    Witan__TxStatus st[2];
    commit(w, e, s, 2, st, NULL);
    Witan__Proposal *p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_FAILED);
    assert_int_equal(p->yes, 0);
    assert_int_equal(p->no, 1);
    assert_int_equal(p->abstain, 1);
    assert_int_equal(r->proposals[0]->n_votes, 2);
    ledger_proposals_response_free(r);
    e[0] = vote_tx(w, 2, id, WITAN__VOTE_CHOICE__VOTE_YES, &s[0]);
    assert_int_equal(gcommit1(w, e[0], s[0], NULL),
                     WITAN__TX_STATUS__TX_STATUS_PROPOSAL_CLOSED);
    for (int i = 0; i < 4; i++)
        empty_block(w); /* past a boundary: nothing changes */
    assert_int_equal(ledger_params(w->l[0])->block_interval_ms, 1000);
    gw_free(w);
}

static void test_expiry(void **state)
{
    (void)state;
    struct gw *w = gw_new("expiry", 1, 4, NULL);
    size_t s;
    uint8_t *e;
    uint64_t id;
    e = set_param_tx(w, "tx_size_max", 4096, 3, &s); /* height 1 */
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    e = vote_tx(w, 0, id, WITAN__VOTE_CHOICE__VOTE_YES, &s);
    assert_int_equal(gcommit1(w, e, s, NULL), WITAN__TX_STATUS__TX_STATUS_OK);
    empty_block(w); /* height 3, the deadline */
    Witan__ProposalsResponse *r;
    Witan__Proposal *p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_EXPIRED);
    assert_int_equal(p->closed_height, 3);
    ledger_proposals_response_free(r);
    e = vote_tx(w, 1, id, WITAN__VOTE_CHOICE__VOTE_YES, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_PROPOSAL_CLOSED);
    /* The listing shows it with the parameters in force. */
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    assert_int_equal(ledger_query_proposals(w->l[0], &q, &r), 0);
    assert_int_equal(r->n_proposals, 1);
    assert_int_equal(r->params->tx_size_max, w->g->params->tx_size_max);
    assert_int_equal(r->height, 4);
    ledger_proposals_response_free(r);
    gw_free(w);
}

static void test_refusals(void **state)
{
    (void)state;
    struct gw *w = gw_new("refusals", 1, 4, NULL);
    size_t s;
    uint8_t *e;
    uint64_t id;
    e = set_param_tx(w, "block_tx_count_max", 10, 50, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);

    /* Votes: an account voting for no validator, one without the role, an
     * unknown proposal. */
    e = vote_tx(w, -1, id, WITAN__VOTE_CHOICE__VOTE_YES, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_VALIDATOR_OPERATOR);
    Witan__CastVote v = WITAN__CAST_VOTE__INIT;
    v.proposal = id;
    v.choice = WITAN__VOTE_CHOICE__VOTE_YES;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_VOTE;
    b.vote = &v;
    e = body_tx(&b, &w->admin, w->admin_addr, &w->admin_nonce, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_MISSING_ROLE);
    w->admin_nonce--; /* a sender refused by role spends no nonce */
    e = vote_tx(w, 0, 99, WITAN__VOTE_CHOICE__VOTE_YES, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_PROPOSAL);

    /* Parameters out of bounds, alone or together. */
    e = set_param_tx(w, "block_tx_count_max", 20000, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS);
    e = set_param_tx(w, "tx_size_max", 8 * 1024 * 1024, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS);
    e = set_param_tx(w, "model_gas_max", 2000000000ull, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL), /* over block_gas_max */
                     WITAN__TX_STATUS__TX_STATUS_PARAM_OUT_OF_BOUNDS);

    /* Actions naming what does not exist. */
    uint8_t nobody[20], nothing[32];
    memset(nobody, 0xab, sizeof nobody);
    memset(nothing, 0xcd, sizeof nothing);
    Witan__ProposalAction a = WITAN__PROPOSAL_ACTION__INIT;
    Witan__ProposalAction *acts[] = {&a};
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_MEMBER;
    a.remove_member = (ProtobufCBinaryData){20, nobody};
    e = propose_tx(w, acts, 1, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MEMBER);
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_RETIRE_CONTRACT;
    a.retire_contract = (ProtobufCBinaryData){32, nothing};
    e = propose_tx(w, acts, 1, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT);
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_RETIRE_MODEL;
    a.retire_model = (ProtobufCBinaryData){32, nothing};
    e = propose_tx(w, acts, 1, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MODEL);
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    rc.address = (ProtobufCBinaryData){20, w->admin_addr};
    rc.role = WITAN__ROLE__ROLE_ADMIN; /* already held */
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_GRANT;
    a.grant = &rc;
    e = propose_tx(w, acts, 1, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);

    /* A deadline already passed; a proposer without the role. */
    e = set_param_tx(w, "block_tx_count_max", 10, 2, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD);
    Witan__ParamChange pc = WITAN__PARAM_CHANGE__INIT;
    pc.name = "block_tx_count_max";
    pc.value = 10;
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_SET_PARAM;
    a.set_param = &pc;
    Witan__Propose p = WITAN__PROPOSE__INIT;
    p.n_actions = 1;
    p.actions = acts;
    p.deadline = 100;
    Witan__TxBody pb = WITAN__TX_BODY__INIT;
    pb.payload_case = WITAN__TX_BODY__PAYLOAD_PROPOSE;
    pb.propose = &p;
    e = body_tx(&pb, &w->op[0], w->op_addr[0], &w->op_nonce[0], &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_MISSING_ROLE);
    w->op_nonce[0]--;

    /* Stateless: parameters that never change, and unknown ones, are
     * refused at admission with the reason. */
    const char *fixed[] = {"pipeline_depth", "checkpoint_interval",
                           "chain_id", "membership_by_governance_only",
                           "no_such_param"};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(fixed); i++) {
        struct ledger_tx tx;
        char why[WHY_SIZE];
        e = set_param_tx(w, fixed[i], 2, 50, &s);
        assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                          sizeof why),
                         WITAN_EINVAL);
        assert_non_null(strstr(why, i < 4 ? "cannot change"
                                          : "no parameter named"));
        free(e);
        w->admin_nonce--;
    }
    gw_free(w);
}

static void test_membership_by_governance_only(void **state)
{
    (void)state;
    struct gw *w =
        gw_new("govonly", 1, 2, ", \"membership_by_governance_only\": true");
    assert_true(ledger_params(w->l[0])->membership_by_governance_only);
    wcrypto_keypair newbie;
    seeded(WCRYPTO_KEY_ED25519, 40, &newbie);
    uint8_t newbie_addr[20];
    wcrypto_address(&newbie.pub, newbie_addr);

    /* The admin's direct power is gone, at admission and in a block. */
    Witan__MemberAdd add = WITAN__MEMBER_ADD__INIT;
    add.name = "newbie";
    add.key_type = WITAN__KEY_TYPE__KEY_TYPE_ED25519;
    add.pubkey = (ProtobufCBinaryData){32, newbie.pub.bytes};
    Witan__Membership m = WITAN__MEMBERSHIP__INIT;
    m.change_case = WITAN__MEMBERSHIP__CHANGE_ADD;
    m.add = &add;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_MEMBERSHIP;
    b.membership = &m;
    size_t s;
    uint8_t *e = body_tx(&b, &w->admin, w->admin_addr, &w->admin_nonce, &s);
    struct ledger_tx tx;
    char why[WHY_SIZE];
    assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                      sizeof why),
                     0);
    assert_int_equal(ledger_tx_admit(w->l[0], &tx, 16, why, sizeof why),
                     WITAN_EROLE);
    assert_non_null(strstr(why, "membership_by_governance_only"));
    ledger_tx_release(&tx);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_GOVERNANCE_ONLY);
    w->admin_nonce--; /* refused as a sender: no nonce spent */

    /* By proposal: add the member and grant it a role, in one. */
    Witan__ProposalAction a1 = WITAN__PROPOSAL_ACTION__INIT,
                          a2 = WITAN__PROPOSAL_ACTION__INIT;
    a1.action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_MEMBER;
    a1.add_member = &add;
    Witan__RoleChange rc = WITAN__ROLE_CHANGE__INIT;
    rc.address = (ProtobufCBinaryData){20, w->spare_addr};
    rc.role = WITAN__ROLE__ROLE_DATA_PROVIDER;
    a2.action_case = WITAN__PROPOSAL_ACTION__ACTION_GRANT;
    a2.grant = &rc;
    Witan__ProposalAction *acts[] = {&a1, &a2};
    uint64_t id;
    e = propose_tx(w, acts, 2, 50, &s); /* height 2 */
    Witan__TxStatus st = gcommit1(w, e, s, &id);
    assert_int_equal(st, WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t *v[3];
    size_t vs[3];
    Witan__TxStatus vst[3];
    for (int i = 0; i < 3; i++)
        v[i] = vote_tx(w, i, id, WITAN__VOTE_CHOICE__VOTE_YES, &vs[i]);
    commit(w, v, vs, 3, vst, NULL); /* height 3: passes; B = 4 (K 2) */
    Witan__ProposalsResponse *r;
    Witan__Proposal *p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    assert_int_equal(p->effect_height, 4);
    uint8_t ptx[32];
    memcpy(ptx, p->tx_hash.data, 32);
    ledger_proposals_response_free(r);
    Witan__Account *acct;
    assert_int_equal(ledger_get_account(w->l[0], newbie_addr, &acct),
                     WITAN_ENOTFOUND);
    empty_block(w); /* height 4: the boundary */
    assert_int_equal(ledger_get_account(w->l[0], newbie_addr, &acct), 0);
    assert_int_equal(acct->events[0]->height, 4);
    assert_memory_equal(acct->events[0]->tx_hash.data, ptx, 32);
    ledger_account_free(acct);
    assert_int_equal(ledger_get_account(w->l[0], w->spare_addr, &acct), 0);
    bool provider = false;
    for (size_t i = 0; i < acct->n_roles; i++)
        provider |= acct->roles[i] == WITAN__ROLE__ROLE_DATA_PROVIDER;
    assert_true(provider);
    ledger_account_free(acct);
    p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED);
    assert_int_equal(p->event_count, 2);
    ledger_proposals_response_free(r);

    /* The same add again, proposed now: the address is taken. */
    e = propose_tx(w, acts, 1, 50, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_DUPLICATE);
    gw_free(w);
}

/* --- contracts by governance ------------------------------------------------------ */

static const char adder_asm[] =
    ".func add i i -> i\n    add r0, r0, r1\n    ret r0\n.end\n"
    ".export add add\n";

/* A proposal of one deploy (or replace) action. */
static uint8_t *deploy_proposal(struct gw *w, const uint8_t *module,
                                size_t module_size, const uint8_t *replaces,
                                uint32_t version, size_t *size)
{
    Witan__DeployContract d = WITAN__DEPLOY_CONTRACT__INIT;
    d.name = "gov-adder";
    d.version = version;
    d.module = (ProtobufCBinaryData){module_size, (uint8_t *)module};
    d.gas_limit = 1000;
    Witan__ProposalAction a = WITAN__PROPOSAL_ACTION__INIT;
    if (replaces) {
        d.replaces = (ProtobufCBinaryData){32, (uint8_t *)replaces};
        a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT;
        a.replace_contract = &d;
    } else {
        a.action_case = WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT;
        a.deploy_contract = &d;
    }
    Witan__ProposalAction *acts[] = {&a};
    return propose_tx(w, acts, 1, 50, size);
}

/* Proposal `id` voted through by operators 0-2, then empty blocks up to
 * its boundary; returns its Propose transaction's hash. */
static void pass_and_enact(struct gw *w, uint64_t id, uint8_t tx[32])
{
    uint8_t *e[3];
    size_t s[3];
    Witan__TxStatus st[3];
    for (int i = 0; i < 3; i++)
        e[i] = vote_tx(w, i, id, WITAN__VOTE_CHOICE__VOTE_YES, &s[i]);
    commit(w, e, s, 3, st, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(st[i], WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__ProposalsResponse *r;
    Witan__Proposal *p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    uint64_t at = p->effect_height;
    memcpy(tx, p->tx_hash.data, 32);
    ledger_proposals_response_free(r);
    while (height_of(w) < at)
        empty_block(w);
    p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED);
    ledger_proposals_response_free(r);
}

static Witan__ContractRecord *contract(struct gw *w, const uint8_t id[32],
                                       Witan__ContractsResponse **keep)
{
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = (ProtobufCBinaryData){32, (uint8_t *)id};
    assert_int_equal(ledger_query_contracts(w->l[0], &q, keep), 0);
    assert_int_equal((*keep)->n_contracts, 1);
    return (*keep)->contracts[0];
}

/* A contract deployed by proposal: its id is the Propose transaction's
 * hash, it has no operator, members may call it but not retire or replace
 * it, and a second proposal replaces it. The stateless rules: one
 * deployment per proposal, deploy without and replace with `replaces`. */
static void test_contract_by_governance(void **state)
{
    (void)state;
    struct gw *w = gw_new("contract", 2, 2, NULL);
    size_t ms, s;
    uint8_t *module = assemble(adder_asm, &ms);
    uint64_t id;
    uint8_t *e = deploy_proposal(w, module, ms, NULL, 1, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t cid[32];
    pass_and_enact(w, id, cid);
    uint64_t enacted = height_of(w);

    Witan__ContractsResponse *cr;
    Witan__ContractRecord *c = contract(w, cid, &cr);
    assert_string_equal(c->name, "gov-adder");
    assert_int_equal(c->operator_.len, 0);
    assert_int_equal(c->height, enacted);
    assert_false(c->retired);
    ledger_contracts_response_free(cr);

    /* Any member calls it; nobody retires it by transaction. */
    Witan__ContractArg a = WITAN__CONTRACT_ARG__INIT, b = a;
    a.value_case = b.value_case = WITAN__CONTRACT_ARG__VALUE_INT;
    a.int_ = 40;
    b.int_ = 2;
    Witan__ContractArg *ab[] = {&a, &b};
    Witan__CallContract call = WITAN__CALL_CONTRACT__INIT;
    call.contract = (ProtobufCBinaryData){32, cid};
    call.entry = "add";
    call.n_args = 2;
    call.args = ab;
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_CALL_CONTRACT;
    body.call_contract = &call;
    e = body_tx(&body, &w->op[3], w->op_addr[3], &w->op_nonce[3], &s);
    assert_int_equal(gcommit1(w, e, s, NULL), WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__RetireContract rt = WITAN__RETIRE_CONTRACT__INIT;
    rt.contract = (ProtobufCBinaryData){32, cid};
    Witan__TxBody rb = WITAN__TX_BODY__INIT;
    rb.payload_case = WITAN__TX_BODY__PAYLOAD_RETIRE_CONTRACT;
    rb.retire_contract = &rt;
    e = body_tx(&rb, &w->admin, w->admin_addr, &w->admin_nonce, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_OPERATOR);

    /* Stateless refusals, at admission, with the reason. */
    struct ledger_tx tx;
    char why[WHY_SIZE];
    uint8_t other[32];
    memset(other, 0x77, sizeof other);
    e = deploy_proposal(w, module, ms, NULL, 2, &s);
    {
        /* the same deployment twice in one proposal */
        Witan__DeployContract d = WITAN__DEPLOY_CONTRACT__INIT;
        d.name = "twice";
        d.version = 1;
        d.module = (ProtobufCBinaryData){ms, module};
        d.gas_limit = 10;
        Witan__ProposalAction x = WITAN__PROPOSAL_ACTION__INIT, y;
        x.action_case = WITAN__PROPOSAL_ACTION__ACTION_DEPLOY_CONTRACT;
        x.deploy_contract = &d;
        y = x;
        Witan__ProposalAction *two[] = {&x, &y};
        free(e);
        w->admin_nonce--;
        e = propose_tx(w, two, 2, 50, &s);
        assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                          sizeof why),
                         WITAN_EINVAL);
        assert_non_null(strstr(why, "at most one contract"));
        free(e);
        w->admin_nonce--;
        d.replaces = (ProtobufCBinaryData){32, other};
        Witan__ProposalAction *one[] = {&x};
        e = propose_tx(w, one, 1, 50, &s);
        assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                          sizeof why),
                         WITAN_EINVAL);
        assert_non_null(strstr(why, "replace_contract"));
        free(e);
        w->admin_nonce--;
        d.replaces = (ProtobufCBinaryData){0, NULL};
        x.action_case = WITAN__PROPOSAL_ACTION__ACTION_REPLACE_CONTRACT;
        x.replace_contract = &d;
        e = propose_tx(w, one, 1, 50, &s);
        assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                          sizeof why),
                         WITAN_EINVAL);
        assert_non_null(strstr(why, "names the contract it replaces"));
        free(e);
        w->admin_nonce--;
    }
    /* Stateful: replacing a contract that does not exist. */
    e = deploy_proposal(w, module, ms, other, 2, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT);

    /* Replaced by a second proposal: the old one retired at the boundary,
     * pointing at the new one. */
    e = deploy_proposal(w, module, ms, cid, 2, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    uint8_t cid2[32];
    pass_and_enact(w, id, cid2);
    c = contract(w, cid, &cr);
    assert_true(c->retired);
    assert_int_equal(c->retired_height, height_of(w));
    assert_memory_equal(c->replaced_by.data, cid2, 32);
    ledger_contracts_response_free(cr);
    c = contract(w, cid2, &cr);
    assert_int_equal(c->version, 2);
    assert_memory_equal(c->replaces.data, cid, 32);
    ledger_contracts_response_free(cr);
    free(module);
    gw_free(w);
}

/* --- the validator set ------------------------------------------------------------- */

/* An empty block certified by w->mask; 0 or the ledgers' error. */
static int try_empty_block(struct gw *w, char *why)
{
    struct ledger_block blk;
    struct ledger_tip tip;
    ledger_tip(w->l[0], &tip);
    assert_int_equal(ledger_block_build(w->l[0], NULL, 0, tip.time_ms + 1000,
                                        0, 0, &blk),
                     0);
    int err = apply_bytes(w, blk.bytes, blk.size, blk.hash, blk.height, why);
    ledger_block_free(&blk);
    return err;
}

static uint8_t *validator_proposal(struct gw *w, Witan__ProposalAction *a,
                                   bool allow_few, size_t *size)
{
    Witan__ProposalAction *acts[] = {a};
    Witan__Propose p = WITAN__PROPOSE__INIT;
    p.n_actions = 1;
    p.actions = acts;
    p.deadline = height_of(w) + 40;
    p.allow_no_fault_tolerance = allow_few;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_PROPOSE;
    b.propose = &p;
    return body_tx(&b, &w->admin, w->admin_addr, &w->admin_nonce, size);
}

/* The newest set's first height and size. */
static uint64_t newest_set(struct gw *w, uint32_t *count)
{
    Witan__ValidatorSet *v;
    assert_int_equal(ledger_validator_set(w->l[1], 0, &v), 0);
    uint64_t first = v->first_height;
    *count = (uint32_t)v->n_validators;
    witan__validator_set__free_unpacked(v, NULL);
    return first;
}

/* Blocks up to the newest set's first height − 1 under the old signers;
 * then the first block of the new set is refused when signed as `old_mask`
 * with the old keys and accepted as `new_mask`. */
static void cross_boundary(struct gw *w, uint64_t old_mask, uint64_t new_mask,
                           const char *refusal, int swap,
                           const wcrypto_keypair *swap_key)
{
    uint32_t n;
    uint64_t first = newest_set(w, &n);
    char why[WHY_SIZE];
    while (height_of(w) + 1 < first)
        assert_int_equal(try_empty_block(w, why), 0);
    uint64_t keep = w->mask;
    w->mask = old_mask;
    assert_int_not_equal(try_empty_block(w, why), 0);
    if (!strstr(why, refusal))
        fail_msg("block %llu: '%s' does not say '%s'",
                 (unsigned long long)first, why, refusal);
    (void)keep;
    if (swap >= 0) /* a rotated key signs from the boundary on */
        w->signer[swap] = swap_key;
    w->mask = new_mask;
    if (try_empty_block(w, why) != 0)
        fail_msg("block %llu signed as %#llx: %s", (unsigned long long)first,
                 (unsigned long long)new_mask, why);
    assert_int_equal(height_of(w), first);
}

/* Validators added, rotated and removed by proposal (governance.md
 * section 7): each change is stored with the first height it is in force
 * from, the boundary at least L + 1 blocks past its enactment; blocks
 * before it are certified by the old set, from it only by the new one (a
 * block certified with the added validator's signature among the quorum;
 * an old key refused after a rotation; a removed index refused); votes
 * count for the validators in force when a proposal was made; and every
 * refusal of the new actions. */
/* The heights ledger_on_executed was called at. */
struct executed_log {
    ledger *l;
    uint64_t height[64];
    int count;
};

static void note_executed(void *ctx)
{
    struct executed_log *e = ctx;
    assert_true(e->count < 64);
    e->height[e->count++] = ledger_height(e->l);
}

static void test_validator_set_changes(void **state)
{
    (void)state;
    struct gw *w = gw_new("vset", 2, 2, NULL);
    wcrypto_keypair added, rotated;
    seeded(WCRYPTO_KEY_ED25519, 40, &added);
    seeded(WCRYPTO_KEY_ED25519, 41, &rotated);
    size_t s;
    uint8_t *e;
    uint64_t id;
    Witan__ProposalAction a = WITAN__PROPOSAL_ACTION__INIT;

    /* Refusals. */
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR;
    a.remove_validator = (ProtobufCBinaryData){32, w->val[3].pub.bytes};
    e = validator_proposal(w, &a, false, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_TOO_FEW_VALIDATORS);
    a.remove_validator = (ProtobufCBinaryData){32, added.pub.bytes};
    e = validator_proposal(w, &a, true, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_UNKNOWN_VALIDATOR);
    Witan__Validator nv = WITAN__VALIDATOR__INIT;
    nv.name = "v4";
    nv.pubkey = (ProtobufCBinaryData){32, w->val[0].pub.bytes};
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR;
    a.add_validator = &nv;
    e = validator_proposal(w, &a, false, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_DUPLICATE);
    nv.pubkey = (ProtobufCBinaryData){32, added.pub.bytes};
    nv.operator_ = (ProtobufCBinaryData){20, w->admin_addr};
    e = validator_proposal(w, &a, false, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_VALIDATOR_OPERATOR);
    Witan__ValidatorKeyRotation rot = WITAN__VALIDATOR_KEY_ROTATION__INIT;
    rot.pubkey = (ProtobufCBinaryData){32, w->val[1].pub.bytes};
    rot.new_pubkey = (ProtobufCBinaryData){32, w->val[2].pub.bytes};
    Witan__ProposalAction r = WITAN__PROPOSAL_ACTION__INIT;
    r.action_case = WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY;
    r.rotate_validator_key = &rot;
    e = validator_proposal(w, &r, false, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_DUPLICATE);
    {
        struct ledger_tx tx;
        char why[WHY_SIZE];
        uint8_t short_key[31] = {0};
        a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR;
        a.remove_validator = (ProtobufCBinaryData){31, short_key};
        e = validator_proposal(w, &a, false, &s);
        assert_int_equal(ledger_tx_decode(w->l[0], e, s, true, &tx, why,
                                          sizeof why),
                         WITAN_EINVAL);
        assert_non_null(strstr(why, "Ed25519 key"));
        free(e);
        w->admin_nonce--;
    }

    /* Add a fifth validator, operated by `spare`. */
    nv.operator_ = (ProtobufCBinaryData){20, w->spare_addr};
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR;
    a.add_validator = &nv;
    e = validator_proposal(w, &a, false, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    uint64_t before_add = id;
    uint8_t tx[32];
    struct executed_log ex = {.l = w->l[0]};
    ledger_on_executed(w->l[0], note_executed, &ex);
    uint64_t h0 = height_of(w);
    pass_and_enact(w, id, tx);
    uint64_t B = height_of(w);
    uint32_t n;
    /* K = 2, L = 1: the first boundary at least 2 past B is B + 2. */
    assert_int_equal(newest_set(w, &n), B + 3);
    assert_int_equal(n, 5);
    Witan__ValidatorSet *vs;
    assert_int_equal(ledger_validator_set(w->l[0], B + 2, &vs), 0);
    assert_int_equal(vs->n_validators, 4);
    witan__validator_set__free_unpacked(vs, NULL);
    w->signer[4] = &added;
    /* Three of five are no quorum; with the new validator they are. */
    cross_boundary(w, 0x07, 0x17, "quorum", -1, NULL);
    /* The ledger told of every block before its commit but two: the one
     * that stored the set (B) and the one after which it came into force
     * (B + 2). */
    ledger_on_executed(w->l[0], NULL, NULL);
    uint64_t top = height_of(w);
    assert_true(top >= B + 3);
    assert_int_equal(ex.count, (int)(top - h0) - 2);
    for (int i = 0, k = 0; i < ex.count; i++, k++) {
        uint64_t want = h0 + 1 + (uint64_t)k;
        want += want >= B;
        want += want >= B + 2;
        assert_int_equal(ex.height[i], want);
    }
    assert_int_equal(ledger_validator_set(w->l[0], B + 3, &vs), 0);
    assert_int_equal(vs->n_validators, 5);
    assert_memory_equal(vs->validators[4]->pubkey.data, added.pub.bytes, 32);
    assert_memory_equal(vs->validators[4]->operator_.data, w->spare_addr, 20);
    witan__validator_set__free_unpacked(vs, NULL);

    /* A proposal made now counts five; the new operator votes on it, not
     * on one made before (none is open, so propose one more of each kind
     * by checking the old one's voters: `spare` operated nothing then). */
    (void)before_add;
    e = validator_proposal(w, &r, false, &s); /* rotate v1 */
    rot.new_pubkey = (ProtobufCBinaryData){32, rotated.pub.bytes};
    free(e);
    w->admin_nonce--;
    e = validator_proposal(w, &r, false, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    Witan__ProposalsResponse *pr;
    Witan__Proposal *p = proposal(w, id, &pr);
    assert_int_equal(p->validator_count, 5);
    ledger_proposals_response_free(pr);
    uint8_t *ve[4];
    size_t vsz[4];
    Witan__TxStatus st[4];
    ve[0] = vote_tx(w, 0, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[0]);
    ve[1] = vote_tx(w, 2, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[1]);
    ve[2] = vote_tx(w, 3, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[2]);
    commit(w, ve, vsz, 3, st, NULL);
    p = proposal(w, id, &pr); /* 3 of 5 do not pass it */
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_OPEN);
    ledger_proposals_response_free(pr);
    ve[0] = vote_tx(w, -1, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[0]);
    commit(w, ve, vsz, 1, st, NULL);
    assert_int_equal(st[0], WITAN__TX_STATUS__TX_STATUS_OK);
    p = proposal(w, id, &pr);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    uint64_t at = p->effect_height;
    ledger_proposals_response_free(pr);
    while (height_of(w) < at)
        empty_block(w);
    /* After the rotation, validator 1's old key certifies nothing. */
    cross_boundary(w, 0x17, 0x17, "signature of validator 1", 1, &rotated);

    /* Remove the fifth: four again, and index 4 signs no more. */
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR;
    a.remove_validator = (ProtobufCBinaryData){32, added.pub.bytes};
    e = validator_proposal(w, &a, false, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    ve[0] = vote_tx(w, 0, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[0]);
    ve[1] = vote_tx(w, 2, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[1]);
    ve[2] = vote_tx(w, 3, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[2]);
    ve[3] = vote_tx(w, -1, id, WITAN__VOTE_CHOICE__VOTE_YES, &vsz[3]);
    commit(w, ve, vsz, 4, st, NULL);
    p = proposal(w, id, &pr);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    at = p->effect_height;
    ledger_proposals_response_free(pr);
    while (height_of(w) < at)
        empty_block(w);
    cross_boundary(w, 0x13, 0x07, "", -1, NULL);
    assert_int_equal(newest_set(w, &n), height_of(w));
    assert_int_equal(n, 4);
    /* the spare operates no validator in force now */
    e = set_param_tx(w, "block_tx_count_max", 9, height_of(w) + 20, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    e = vote_tx(w, -1, id, WITAN__VOTE_CHOICE__VOTE_YES, &s);
    assert_int_equal(gcommit1(w, e, s, NULL),
                     WITAN__TX_STATUS__TX_STATUS_NOT_VALIDATOR_OPERATOR);
    gw_free(w);
}

/* --- proofs across validator-set changes (proofs.md) ------------------------------- */

/* An empty block with its next_validators_hash replaced (how 0: none,
 * 1: a made-up one, 2: the built one with a bit flipped), re-hashed and
 * certified: the ledgers' verdict. */
static int try_next_hash(struct gw *w, int how)
{
    struct ledger_block blk;
    struct ledger_tip tip;
    char why[WHY_SIZE];
    ledger_tip(w->l[0], &tip);
    assert_int_equal(ledger_block_build(w->l[0], NULL, 0, tip.time_ms + 1000,
                                        0, 0, &blk),
                     0);
    Witan__Block *b = witan__block__unpack(NULL, blk.size, blk.bytes);
    assert_non_null(b);
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, b->header.len, b->header.data);
    assert_non_null(h);
    uint8_t made_up[32];
    memset(made_up, 0x5a, sizeof made_up);
    ProtobufCBinaryData keep = h->next_validators_hash;
    if (how == 0)
        h->next_validators_hash = (ProtobufCBinaryData){0, NULL};
    else if (how == 1)
        h->next_validators_hash = (ProtobufCBinaryData){32, made_up};
    else if (keep.len == 32)
        keep.data[31] ^= 1;
    size_t hs = witan__block_header__get_packed_size(h);
    uint8_t *hb = malloc(hs);
    witan__block_header__pack(h, hb);
    h->next_validators_hash = keep;
    Witan__Block nb = WITAN__BLOCK__INIT;
    nb.header = (ProtobufCBinaryData){hs, hb};
    size_t bs = witan__block__get_packed_size(&nb);
    uint8_t *bb = malloc(bs), hash[32];
    witan__block__pack(&nb, bb);
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, hb, hs, hash);
    int err = apply_bytes(w, bb, bs, hash, blk.height, why);
    if (err == WITAN_EINVAL && !strstr(why, "next_validators_hash"))
        fail_msg("block %llu: '%s'", (unsigned long long)blk.height, why);
    free(bb);
    free(hb);
    witan__block_header__free_unpacked(h, NULL);
    witan__block__free_unpacked(b, NULL);
    ledger_block_free(&blk);
    return err;
}

/* Proposal `id` voted yes by the operators in `ops` (-1: spare), then
 * empty blocks up to the block before its set's first height, certified
 * by the old signers; the new signers (mask and keys) take over there. */
static uint64_t enact_set_change(struct gw *w, uint64_t id, const int *ops,
                                 int n_ops, uint64_t new_mask,
                                 const wcrypto_keypair *const *new_signers)
{
    uint8_t *e[5];
    size_t s[5];
    Witan__TxStatus st[5];
    for (int i = 0; i < n_ops; i++)
        e[i] = vote_tx(w, ops[i], id, WITAN__VOTE_CHOICE__VOTE_YES, &s[i]);
    commit(w, e, s, (size_t)n_ops, st, NULL);
    Witan__ProposalsResponse *r;
    Witan__Proposal *p = proposal(w, id, &r);
    assert_int_equal(p->status, WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED);
    uint64_t at = p->effect_height;
    ledger_proposals_response_free(r);
    while (height_of(w) < at)
        empty_block(w);
    uint32_t n;
    uint64_t first = newest_set(w, &n);
    while (height_of(w) + 2 < first) {
        /* No block but E names a next set. */
        assert_int_equal(try_next_hash(w, 1), WITAN_EINVAL);
        empty_block(w);
    }
    /* Block E must name it: left out, or another set's hash, refused by
     * the validity rule on both ledgers. */
    assert_int_equal(try_next_hash(w, 0), WITAN_EINVAL);
    assert_int_equal(try_next_hash(w, 2), WITAN_EINVAL);
    empty_block(w);
    /* Block E (the tip now) names the next set, and its hash is the
     * stored set's. */
    Witan__BlockResponse *b;
    assert_int_equal(ledger_get_block(w->l[0], first - 1, &b), 0);
    Witan__BlockHeader *h = witan__block_header__unpack(
        NULL, b->block->header.len, b->block->header.data);
    assert_non_null(h);
    assert_int_equal(h->next_validators_hash.len, 32);
    witan__block_header__free_unpacked(h, NULL);
    ledger_block_response_free(b);
    w->mask = new_mask;
    for (int i = 0; i < 8 && new_signers[i]; i++)
        w->signer[i] = new_signers[i];
    return first;
}

/* A Propose of one action, committed; its id. */
static uint64_t propose1(struct gw *w, Witan__ProposalAction *a)
{
    size_t s;
    uint64_t id;
    uint8_t *e = validator_proposal(w, a, false, &s);
    assert_int_equal(gcommit1(w, e, s, &id), WITAN__TX_STATUS__TX_STATUS_OK);
    return id;
}

/* A filler transaction committed now, then L blocks so it can be proved;
 * its hash. */
static void provable_tx(struct gw *w, uint8_t hash[32])
{
    size_t s;
    uint8_t *e = filler_tx(w, &s);
    Witan__Envelope *env = witan__envelope__unpack(NULL, s, e);
    assert_non_null(env);
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, env->body.data, env->body.len, hash);
    witan__envelope__free_unpacked(env, NULL);
    assert_int_equal(gcommit1(w, e, s, NULL), WITAN__TX_STATUS__TX_STATUS_OK);
    for (uint32_t i = 0; i < w->g->params->pipeline_depth; i++)
        empty_block(w);
}

static Witan__Proof *prove(struct gw *w, const uint8_t tx[32])
{
    Witan__ProofRequest q;
    witan__proof_request__init(&q);
    q.target_case = WITAN__PROOF_REQUEST__TARGET_TX_HASH;
    q.tx_hash = (ProtobufCBinaryData){32, (uint8_t *)tx};
    Witan__Proof *p;
    char why[WHY_SIZE];
    int err = ledger_prove(w->l[0], &q, &p, why, sizeof why);
    if (err)
        fail_msg("prove: %s", why);
    return p;
}

/* The proof through JSON and back (what an auditor reads). */
static Witan__Proof *via_json(const Witan__Proof *p)
{
    char *text, why[WHY_SIZE];
    size_t n;
    assert_int_equal(ledger_proof_to_json(p, &text, &n), 0);
    Witan__Proof *q;
    int err = ledger_proof_from_json(text, n, &q, why, sizeof why);
    if (err)
        fail_msg("from_json: %s", why);
    free(text);
    return q;
}

/* p holds, or fails with a message containing `want`. */
static void expect(const Witan__Genesis *g, const Witan__Proof *p,
                   const char *want, const char *what)
{
    char said[1024], why[WHY_SIZE];
    int err = ledger_proof_check(g, p, said, sizeof said, why, sizeof why);
    if (!want && err)
        fail_msg("%s: refused: %s", what, why);
    if (want && !err)
        fail_msg("%s: held, should fail with '%s'", what, want);
    if (want && !strstr(why, want))
        fail_msg("%s: '%s' does not say '%s'", what, why, want);
}

/* Re-encoded: a copy to tamper with. */
static Witan__Proof *copy_proof(const Witan__Proof *p)
{
    size_t n = witan__proof__get_packed_size(p);
    uint8_t *b = malloc(n);
    witan__proof__pack(p, b);
    Witan__Proof *q = witan__proof__unpack(NULL, n, b);
    free(b);
    assert_non_null(q);
    return q;
}

/* Drops change i from a copy. */
static void drop_change(Witan__Proof *q, size_t i)
{
    witan__validator_change__free_unpacked(q->validator_changes[i], NULL);
    memmove(&q->validator_changes[i], &q->validator_changes[i + 1],
            (q->n_validator_changes - i - 1) * sizeof *q->validator_changes);
    q->n_validator_changes--;
}

/* A block's results certificate re-signed by `mask` with `signers`. */
static void resign(struct gw *w, Witan__Proof *q, uint64_t mask,
                   const wcrypto_keypair *const *signers)
{
    Witan__BlockHeader *h = witan__block_header__unpack(
        NULL, q->results_header.len, q->results_header.data);
    assert_non_null(h);
    uint8_t hash[32], sigs[8][64], bits;
    ProtobufCBinaryData sv[8];
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, q->results_header.data,
                        q->results_header.len, hash);
    uint64_t keep_mask = w->mask;
    const wcrypto_keypair *keep[8];
    memcpy(keep, w->signer, sizeof keep);
    w->mask = mask;
    for (int i = 0; i < 8 && signers[i]; i++)
        w->signer[i] = signers[i];
    Witan__CommitCertificate c;
    certify(hash, h->height, &c, sigs, sv, &bits, w);
    w->mask = keep_mask;
    memcpy(w->signer, keep, sizeof keep);
    free(q->results_cert.data);
    q->results_cert.len = witan__commit_certificate__get_packed_size(&c);
    q->results_cert.data = malloc(q->results_cert.len);
    witan__commit_certificate__pack(&c, q->results_cert.data);
    witan__block_header__free_unpacked(h, NULL);
}

/* A head of `size` signed by keys[i] as index idx[i] of the set in force
 * from set_first (n of them), into note. */
static size_t make_head(struct gw *w, uint64_t size, uint64_t set_first,
                        const wcrypto_keypair *const *keys, const uint32_t *idx,
                        size_t n, char *note, size_t note_size)
{
    uint8_t root[32];
    memset(root, 0x42, sizeof root);
    int len = ledger_head_text(w->g, size, root, note, note_size);
    assert_true(len > 0);
    size_t at = (size_t)len;
    note[at++] = '\n';
    for (size_t i = 0; i < n; i++) {
        uint8_t sig[64];
        assert_int_equal(wcrypto_ed25519_sign_message(keys[i], note,
                                                      (size_t)len, sig),
                         0);
        int l = ledger_head_signature_line(w->g, set_first, idx[i],
                                           keys[i]->pub.bytes, sig, note + at,
                                           note_size - at);
        assert_true(l > 0);
        at += (size_t)l;
    }
    return at;
}

static void expect_head(struct gw *w, Witan__ValidatorChange *const *ch,
                        size_t n, const char *note, size_t size,
                        const char *want, const char *what)
{
    uint64_t tree;
    uint8_t root[32];
    uint32_t signers;
    char why[WHY_SIZE];
    int err = ledger_head_check(w->g, ch, n, note, size, &tree, root,
                                &signers, why, sizeof why);
    if (!want && err)
        fail_msg("%s: refused: %s", what, why);
    if (want && !err)
        fail_msg("%s: held, should fail with '%s'", what, want);
    if (want && !strstr(why, want))
        fail_msg("%s: '%s' does not say '%s'", what, why, want);
}

/* Heads (proofs.md, "Signed history heads"): each size is signed by the
 * set in force at it, under key names that carry the set's first height;
 * checked with the genesis and the changes a node hands out (those in
 * force past the size are ignored); a head signed by the genesis's set
 * past a change, or by a removed validator or an old key in the new
 * set's name, is refused, and so is a tampered set chain. */
static void heads_across_set_changes(struct gw *w, uint64_t first1,
                                     uint64_t first2, uint64_t first3,
                                     const wcrypto_keypair *added,
                                     const wcrypto_keypair *rotated)
{
    Witan__ValidatorChange **ch;
    size_t n;
    char why[WHY_SIZE], note[LEDGER_HEAD_SIZE_MAX];
    assert_int_equal(ledger_validator_changes(w->l[0], 0, &ch, &n, why,
                                              sizeof why),
                     0);
    assert_int_equal(n, 3);
    const wcrypto_keypair *gen[] = {&w->val[0], &w->val[1], &w->val[2]};
    const uint32_t i012[] = {0, 1, 2, 3};
    size_t len;
    /* Before the first change: the genesis's names, with or without the
     * chain of changes; block E of the add still the genesis's set's. */
    len = make_head(w, first1 - 1, 1, gen, i012, 3, note, sizeof note);
    expect_head(w, NULL, 0, note, len, NULL, "genesis head, no changes");
    expect_head(w, ch, n, note, len, NULL, "genesis head, with changes");
    /* After the add: five, four of them needed. */
    const wcrypto_keypair *five[] = {&w->val[0], &w->val[1], &w->val[2],
                                     added};
    const uint32_t i0124[] = {0, 1, 2, 4};
    len = make_head(w, first1, first1, five, i0124, 4, note, sizeof note);
    expect_head(w, ch, n, note, len, NULL, "head after the add");
    expect_head(w, NULL, 0, note, len, "signed by 0 of 4",
                "head after the add, genesis alone");
    len = make_head(w, first1, first1, five, i0124, 3, note, sizeof note);
    expect_head(w, ch, n, note, len, "signed by 3 of 5", "three of five");
    /* After the rotation: v1, v2 (its new key), v3. */
    const wcrypto_keypair *now[] = {&w->val[1], rotated, &w->val[3]};
    len = make_head(w, first3 + 4, first3, now, i012, 3, note, sizeof note);
    expect_head(w, ch, n, note, len, NULL, "head after all changes");
    /* The genesis's three past the change: their names are not the
     * set's, so they count for nothing. */
    len = make_head(w, first3 + 4, 1, gen, i012, 3, note, sizeof note);
    expect_head(w, ch, n, note, len, "signed by 0 of 4",
                "genesis set past the changes");
    /* The removed validator, and the rotated-out key, in the new set's
     * names: another key under that name, ignored, so no quorum. */
    const wcrypto_keypair *stale[] = {&w->val[0], &w->val[2], &w->val[3]};
    len = make_head(w, first3 + 4, first3, stale, i012, 3, note, sizeof note);
    expect_head(w, ch, n, note, len, "signed by 1 of 4",
                "removed validator and old key");
    /* Between the removal and the rotation, the old key still signs. */
    const wcrypto_keypair *mid[] = {&w->val[1], &w->val[2], &w->val[3]};
    len = make_head(w, first2, first2, mid, i012, 3, note, sizeof note);
    expect_head(w, ch, n, note, len, NULL, "head between changes");
    /* A set chain tampered with, or missing the removal. */
    len = make_head(w, first3 + 4, first3, now, i012, 3, note, sizeof note);
    ch[1]->validator_set.data[5] ^= 1;
    expect_head(w, ch, n, note, len,
                "the set chain: validator_changes[1]: validator_set",
                "tampered set chain");
    ch[1]->validator_set.data[5] ^= 1;
    Witan__ValidatorChange *skip[] = {ch[0], ch[2]};
    expect_head(w, skip, 2, note, len, "validator_changes[1]: cert",
                "set chain missing a change");
    /* Through a set-chain file and back. */
    char *text;
    size_t tn;
    assert_int_equal(ledger_validator_changes_to_json(ch, n, &text, &tn), 0);
    Witan__ValidatorChange **back;
    size_t bn;
    assert_int_equal(ledger_validator_changes_from_json(text, tn, &back, &bn,
                                                        why, sizeof why),
                     0);
    assert_int_equal(bn, 3);
    expect_head(w, back, bn, note, len, NULL, "set chain through JSON");
    ledger_validator_changes_free(back, bn);
    free(text);
    ledger_validator_changes_free(ch, n);
    /* Only the changes in force by a size are handed out with it. */
    assert_int_equal(ledger_validator_changes(w->l[0], first2 - 1, &ch, &n,
                                              why, sizeof why),
                     0);
    assert_int_equal(n, 1);
    ledger_validator_changes_free(ch, n);
}

/* A validator added, a genesis validator removed and a key rotated, by
 * proposal: a proof of a block after each change carries the changes
 * from the genesis on (version 2) and checks with the genesis alone, one
 * before any change is still version 1; a tampered set, a header whose
 * next_validators_hash names another set, a missing or skipped change,
 * changes out of order or past the proof's block, and a certificate
 * signed by the removed validator after its removal are each refused at
 * a named step. */
/* Change 0 of `ch` with its header's time moved on by a millisecond and
 * certified again by a quorum of the genesis set: another block E, as
 * validators replaced later could sign it (proofs.md, "Comparing set
 * chains"). */
static Witan__ValidatorChange *forged_change(struct gw *w,
                                             const Witan__ValidatorChange *c)
{
    Witan__BlockHeader *h =
        witan__block_header__unpack(NULL, c->header.len, c->header.data);
    assert_non_null(h);
    h->time_ms++;
    Witan__ValidatorChange *f = calloc(1, sizeof *f);
    assert_non_null(f);
    witan__validator_change__init(f);
    f->header.len = witan__block_header__get_packed_size(h);
    f->header.data = malloc(f->header.len);
    assert_non_null(f->header.data);
    witan__block_header__pack(h, f->header.data);
    f->validator_set.len = c->validator_set.len;
    f->validator_set.data = malloc(c->validator_set.len);
    assert_non_null(f->validator_set.data);
    memcpy(f->validator_set.data, c->validator_set.data, c->validator_set.len);
    uint8_t hash[32], sigs[8][64], bits;
    ProtobufCBinaryData sv[8];
    wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, f->header.data, f->header.len,
                        hash);
    uint64_t keep_mask = w->mask;
    const wcrypto_keypair *keep[8];
    memcpy(keep, w->signer, sizeof keep);
    w->mask = 0x0b; /* three of the genesis's four: a quorum */
    for (int i = 0; i < 4; i++)
        w->signer[i] = &w->val[i];
    Witan__CommitCertificate cert;
    certify(hash, h->height, &cert, sigs, sv, &bits, w);
    w->mask = keep_mask;
    memcpy(w->signer, keep, sizeof keep);
    f->cert.len = witan__commit_certificate__get_packed_size(&cert);
    f->cert.data = malloc(f->cert.len);
    assert_non_null(f->cert.data);
    witan__commit_certificate__pack(&cert, f->cert.data);
    witan__block_header__free_unpacked(h, NULL);
    return f;
}

static void expect_compare(struct gw *w, Witan__ValidatorChange *const *a,
                           size_t na, uint64_t size_a,
                           Witan__ValidatorChange *const *b, size_t nb,
                           uint64_t size_b, const char *want_said,
                           const char *want_why, const char *what)
{
    bool differs = true;
    char said[1024], why[WHY_SIZE];
    int err = ledger_set_chains_compare(w->g, a, na, size_a, b, nb, size_b,
                                        &differs, said, sizeof said, why,
                                        sizeof why);
    if (want_why) {
        if (!err)
            fail_msg("%s: compared, should fail with '%s'", what, want_why);
        if (!strstr(why, want_why))
            fail_msg("%s: '%s' does not say '%s'", what, why, want_why);
        return;
    }
    if (err)
        fail_msg("%s: %s", what, why);
    if (!want_said && differs)
        fail_msg("%s: said to differ: %s", what, said);
    if (want_said && !differs)
        fail_msg("%s: said to agree, should say '%s'", what, want_said);
    if (want_said && !strstr(said, want_said))
        fail_msg("%s: '%s' does not say '%s'", what, said, want_said);
}

/* Two set chains, each holding from the genesis (proofs.md, "Comparing
 * set chains"): a prefix of the real one agrees with it; one where the
 * genesis set certified another block E, or a head past the first change
 * with no change at all, disagrees at change 0, certified by the set in
 * force from 1; a forged side that does not hold is refused, not taken
 * for evidence. */
static void compare_set_chains(struct gw *w, uint64_t first1, uint64_t first2)
{
    Witan__ValidatorChange **ch;
    size_t n;
    char why[WHY_SIZE], want[200];
    uint64_t top = height_of(w);
    assert_int_equal(ledger_validator_changes(w->l[0], top, &ch, &n, why,
                                              sizeof why),
                     0);
    assert_int_equal(n, 3);
    expect_compare(w, ch, n, top, ch, 2, first2, NULL, NULL,
                   "the real chain and a prefix of it");
    expect_compare(w, ch, n, top, ch, n, top, NULL, NULL, "the same chain");
    Witan__ValidatorChange *f = forged_change(w, ch[0]);
    snprintf(want, sizeof want,
             "set chains disagree at change 0: A: block %llu (",
             (unsigned long long)(first1 - 1));
    expect_compare(w, ch, n, top, &f, 1, first1, want, NULL,
                   "another block E signed by the genesis set");
    expect_compare(w, ch, n, top, &f, 1, first1,
                   "both certified by a quorum of the set in force from 1 "
                   "(evidence of a fork by that set)",
                   NULL, "the same, which set signed both");
    /* Before the first change both agree: nothing to tell apart. */
    expect_compare(w, ch, n, first1 - 1, &f, 1, first1, NULL, NULL,
                   "a size before the change");
    snprintf(want, sizeof want, "B: no change before %llu",
             (unsigned long long)first1 + 1);
    expect_compare(w, ch, n, top, NULL, 0, first1 + 1, want, NULL,
                   "a head past the change with no change");
    /* One signature of the forged certificate altered: that side does
     * not hold, so it is no evidence of anything. */
    f->cert.data[f->cert.len - 1] ^= 1;
    expect_compare(w, ch, n, top, &f, 1, first1, NULL,
                   "set chain B: validator_changes[0]: cert", "a forged B");
    witan__validator_change__free_unpacked(f, NULL);
    ledger_validator_changes_free(ch, n);
}

static void test_proofs_across_set_changes(void **state)
{
    (void)state;
    struct gw *w = gw_new("vproof", 2, 2, NULL);
    wcrypto_keypair added, rotated;
    seeded(WCRYPTO_KEY_ED25519, 40, &added);
    seeded(WCRYPTO_KEY_ED25519, 41, &rotated);
    char why[WHY_SIZE];

    uint8_t t0[32], t1[32], t2[32];
    provable_tx(w, t0);

    /* 1. Add `added` (index 4, operated by spare). */
    Witan__Validator nv = WITAN__VALIDATOR__INIT;
    nv.name = "v4";
    nv.pubkey = (ProtobufCBinaryData){32, added.pub.bytes};
    nv.operator_ = (ProtobufCBinaryData){20, w->spare_addr};
    Witan__ProposalAction a = WITAN__PROPOSAL_ACTION__INIT;
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_ADD_VALIDATOR;
    a.add_validator = &nv;
    uint64_t id = propose1(w, &a);
    const int ops3[] = {0, 1, 2};
    const wcrypto_keypair *s1[] = {&w->val[0], &w->val[1], &w->val[2],
                                   &w->val[3], &added, NULL};
    uint64_t first1 = enact_set_change(w, id, ops3, 3, 0x17, s1);
    provable_tx(w, t1);

    /* 2. Remove genesis validator 0: the others move down an index. */
    a.action_case = WITAN__PROPOSAL_ACTION__ACTION_REMOVE_VALIDATOR;
    a.remove_validator = (ProtobufCBinaryData){32, w->val[0].pub.bytes};
    id = propose1(w, &a);
    const int ops4[] = {1, 2, 3, -1};
    const wcrypto_keypair *s2[] = {&w->val[1], &w->val[2], &w->val[3],
                                   &added, NULL};
    uint64_t first2 = enact_set_change(w, id, ops4, 4, 0x07, s2);
    /* The removed validator, at its old index, certifies nothing now. */
    {
        uint64_t keep = w->mask;
        const wcrypto_keypair *old[] = {&w->val[0], &w->val[1], &w->val[2],
                                        NULL};
        w->mask = 0x07;
        for (int i = 0; old[i]; i++)
            w->signer[i] = old[i];
        assert_int_not_equal(try_empty_block(w, why), 0);
        assert_non_null(strstr(why, "signature of validator 0"));
        w->mask = keep;
        for (int i = 0; s2[i]; i++)
            w->signer[i] = s2[i];
    }

    /* 3. Rotate genesis validator 2's key (index 1 now). */
    Witan__ValidatorKeyRotation rot = WITAN__VALIDATOR_KEY_ROTATION__INIT;
    rot.pubkey = (ProtobufCBinaryData){32, w->val[2].pub.bytes};
    rot.new_pubkey = (ProtobufCBinaryData){32, rotated.pub.bytes};
    Witan__ProposalAction r = WITAN__PROPOSAL_ACTION__INIT;
    r.action_case = WITAN__PROPOSAL_ACTION__ACTION_ROTATE_VALIDATOR_KEY;
    r.rotate_validator_key = &rot;
    id = propose1(w, &r);
    const int ops_r[] = {1, 2, 3};
    const wcrypto_keypair *s3[] = {&w->val[1], &rotated, NULL};
    uint64_t first3 = enact_set_change(w, id, ops_r, 3, 0x07, s3);
    assert_true(first1 < first2 && first2 < first3);
    provable_tx(w, t2);

    /* Before any change: version 1, as before. */
    Witan__Proof *p0 = prove(w, t0), *p1 = prove(w, t1), *p2 = prove(w, t2);
    assert_int_equal(p0->version, 1);
    assert_int_equal(p0->n_validator_changes, 0);
    expect(w->g, p0, NULL, "proof before any change");
    /* After the add: one change; after all three: three. */
    assert_int_equal(p1->version, 2);
    assert_int_equal(p1->n_validator_changes, 1);
    assert_int_equal(p2->version, 2);
    assert_int_equal(p2->n_validator_changes, 3);
    expect(w->g, p1, NULL, "proof after the add");
    expect(w->g, p2, NULL, "proof after add, remove and rotation");
    Witan__Proof *pj = via_json(p2);
    expect(w->g, pj, NULL, "proof after the changes, through JSON");
    {
        char said[1024];
        assert_int_equal(ledger_proof_check(w->g, pj, said, sizeof said, why,
                                            sizeof why),
                         0);
        assert_non_null(strstr(said, "3 change(s)"));
    }
    witan__proof__free_unpacked(pj, NULL);
    /* proof.json: validator_changes with version 2 only, and then
     * required (refused before step 1). */
    {
        const Witan__Proof *which[] = {p2, p0};
        for (int k = 0; k < 2; k++) {
            char *text;
            size_t tn;
            assert_int_equal(ledger_proof_to_json(which[k], &text, &tn), 0);
            char *v = strstr(text, k == 0 ? "\"version\": 2" : "\"version\": 1");
            assert_non_null(v);
            v[11] = k == 0 ? '1' : '2';
            Witan__Proof *bad;
            assert_int_not_equal(ledger_proof_from_json(text, tn, &bad, why,
                                                        sizeof why),
                                 0);
            assert_non_null(strstr(why, "validator_changes"));
            assert_null(bad);
            free(text);
        }
    }

    Witan__Proof *q;
    /* A tampered set: one byte of the removal's set. */
    q = copy_proof(p2);
    q->validator_changes[1]->validator_set.data[5] ^= 1;
    expect(w->g, q, "validator_changes[1]: validator_set: its hash is not",
           "tampered set");
    witan__proof__free_unpacked(q, NULL);
    /* A set other than the one block E names (the next change's). */
    q = copy_proof(p2);
    ProtobufCBinaryData sw = q->validator_changes[0]->validator_set;
    q->validator_changes[0]->validator_set =
        q->validator_changes[1]->validator_set;
    q->validator_changes[1]->validator_set = sw;
    expect(w->g, q, "validator_changes[0]: validator_set: its hash is not",
           "sets swapped");
    witan__proof__free_unpacked(q, NULL);
    /* A header whose next_validators_hash was changed to name another
     * set: its certificate no longer covers it. */
    q = copy_proof(p2);
    {
        Witan__ValidatorChange *ch = q->validator_changes[0];
        Witan__BlockHeader *h =
            witan__block_header__unpack(NULL, ch->header.len, ch->header.data);
        assert_non_null(h);
        h->next_validators_hash.data[0] ^= 1;
        free(ch->header.data);
        ch->header.len = witan__block_header__get_packed_size(h);
        ch->header.data = malloc(ch->header.len);
        witan__block_header__pack(h, ch->header.data);
        witan__block_header__free_unpacked(h, NULL);
    }
    expect(w->g, q, "validator_changes[0]: cert: block", "wrong next hash");
    witan__proof__free_unpacked(q, NULL);
    /* A missing link: without the removal, the rotation's block E is
     * checked against the five and does not verify. */
    q = copy_proof(p2);
    drop_change(q, 1);
    expect(w->g, q, "validator_changes[1]: cert: block", "missing link");
    witan__proof__free_unpacked(q, NULL);
    /* A chain skipping the first change: the removal's block E is not
     * certified by the genesis's four. */
    q = copy_proof(p2);
    drop_change(q, 0);
    expect(w->g, q, "validator_changes[0]: cert: block", "skipped change");
    witan__proof__free_unpacked(q, NULL);
    /* Without the last change the block is checked against the key the
     * rotation replaced. */
    q = copy_proof(p2);
    drop_change(q, 2);
    expect(w->g, q, "results_cert:", "last change left out");
    witan__proof__free_unpacked(q, NULL);
    /* Out of order. */
    q = copy_proof(p2);
    Witan__ValidatorChange *c0 = q->validator_changes[0];
    q->validator_changes[0] = q->validator_changes[1];
    q->validator_changes[1] = c0;
    expect(w->g, q, "validator_changes[0]: cert:", "changes out of order");
    witan__proof__free_unpacked(q, NULL);
    /* A change in force only past the proof's block. */
    q = copy_proof(p1);
    {
        Witan__Proof *more = copy_proof(p2);
        Witan__ValidatorChange **cs = calloc(2, sizeof *cs);
        cs[0] = q->validator_changes[0];
        cs[1] = more->validator_changes[1];
        more->validator_changes[1] = more->validator_changes[2];
        more->n_validator_changes = 2;
        free(q->validator_changes);
        q->validator_changes = cs;
        q->n_validator_changes = 2;
        witan__proof__free_unpacked(more, NULL);
    }
    expect(w->g, q, "validator_changes[1]: header: block", "change past h+L");
    witan__proof__free_unpacked(q, NULL);
    /* Version 1 with no changes, against the genesis's set: refused at
     * the certificate; version 2 with none, or version 1 with some, does
     * not decode. */
    q = copy_proof(p2);
    while (q->n_validator_changes)
        drop_change(q, q->n_validator_changes - 1);
    q->version = 1;
    expect(w->g, q, "results_cert:", "version 1 past a change");
    q->version = 2;
    expect(w->g, q, "carries 1 to 256 validator_changes", "empty version 2");
    witan__proof__free_unpacked(q, NULL);
    q = copy_proof(p2);
    q->version = 1;
    expect(w->g, q, "carries no validator_changes", "version 1 with changes");
    witan__proof__free_unpacked(q, NULL);
    /* The tamper the issue names: block h + L certified by the removed
     * validator with the others of its old set after its removal. */
    q = copy_proof(p2);
    {
        const wcrypto_keypair *old[] = {&w->val[0], &w->val[1], &w->val[3],
                                        NULL};
        resign(w, q, 0x07, old);
    }
    expect(w->g, q, "results_cert:", "certificate by a removed validator");
    /* ... and re-signed by the set in force, it holds again: the test can
     * tell the two apart. */
    {
        const wcrypto_keypair *now[] = {&w->val[1], &rotated, &w->val[3],
                                        NULL};
        resign(w, q, 0x07, now);
    }
    expect(w->g, q, NULL, "re-signed by the set in force");
    witan__proof__free_unpacked(q, NULL);

    /* Signed heads follow the same changes. */
    heads_across_set_changes(w, first1, first2, first3, &added, &rotated);
    compare_set_chains(w, first1, first2);

    witan__proof__free_unpacked(p0, NULL);
    witan__proof__free_unpacked(p1, NULL);
    witan__proof__free_unpacked(p2, NULL);
    gw_free(w);
}

int main(void)
{
    assert_int_equal(wcrypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_change_at_boundary),
        cmocka_unit_test(test_fail_by_votes_and_changed_vote),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_membership_by_governance_only),
        cmocka_unit_test(test_contract_by_governance),
        cmocka_unit_test(test_validator_set_changes),
        cmocka_unit_test(test_proofs_across_set_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
