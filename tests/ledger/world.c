/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger tests' world (world.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/ledger/world.h"
#include "vm/vm.h"


void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

void seeded(enum wcrypto_key_type t, uint8_t b, wcrypto_keypair *kp)
{
    uint8_t seed[32];
    memset(seed, b, sizeof seed);
    assert_int_equal(wcrypto_keypair_from_seed(t, seed, kp), 0);
}

void hex(const uint8_t *d, size_t n, char *out)
{
    witan_hex_encode(d, n, out);
}

/* Genesis JSON with one validator, an admin, a data provider and a
 * secp256k1 provider. The outsider is not a member. */
uint32_t tx_size_max = 4096, model_gas_max = 1000000;
uint64_t block_gas_max = 1000000000, contract_gas_max = 10000000;

void make_genesis(struct world *w, const char *chain,
                         uint32_t block_size_max, Witan__Genesis **out)
{
    char v[65], a[65], p[65], s[67], json[4096], why[WHY_SIZE];
    hex(w->validator.pub.bytes, 32, v);
    hex(w->admin.pub.bytes, 32, a);
    hex(w->provider.pub.bytes, 32, p);
    hex(w->secp.pub.bytes, 33, s);
    snprintf(json, sizeof json,
             "{\"protocol_version\": 1, \"chain_id\": \"%s\", "
             "\"genesis_time_ms\": 1700000000000,"
             "\"validators\": [{\"name\": \"v0\", \"pubkey\": \"%s\"}],"
             "\"members\": ["
             " {\"name\": \"admin\", \"key_type\": \"ed25519\", \"pubkey\": "
             "\"%s\", \"roles\": [\"model_operator\", \"admin\", \"contract_operator\"]},"
             " {\"name\": \"noaa\", \"key_type\": \"ed25519\", \"pubkey\": "
             "\"%s\", \"roles\": [\"data_provider\"]},"
             " {\"name\": \"k1\", \"key_type\": \"secp256k1\", \"pubkey\": "
             "\"%s\", \"roles\": [\"data_provider\", \"auditor\"]}],"
             "\"params\": {\"block_size_max\": %u, \"tx_size_max\": %u, "
             "\"model_gas_max\": %u, \"block_gas_max\": %llu, "
             "\"contract_gas_max\": %llu}}",
             chain, v, a, p, s, block_size_max, tx_size_max, model_gas_max,
             (unsigned long long)block_gas_max,
             (unsigned long long)contract_gas_max);
    assert_int_equal(ledger_genesis_parse(json, strlen(json), out, why,
                                          sizeof why),
                     0);
}

void open_world(struct world *w, const char *name)
{
    snprintf(w->dir, sizeof w->dir, "%s/witan-ledger-%d-%s",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             name);
    rm_rf(w->dir);
    assert_int_equal(mkdir(w->dir, 0700), 0);
    char why[WHY_SIZE];
    struct store_options o = {1 << 20, 64 << 20, false};
    assert_int_equal(ledger_open(w->dir, w->g, &o, &w->l, why, sizeof why), 0);
}

struct world *new_world(const char *name)
{
    struct world *w = calloc(1, sizeof *w);
    seeded(WCRYPTO_KEY_ED25519, 1, &w->validator);
    seeded(WCRYPTO_KEY_ED25519, 2, &w->admin);
    seeded(WCRYPTO_KEY_ED25519, 3, &w->provider);
    seeded(WCRYPTO_KEY_ED25519, 4, &w->outsider);
    seeded(WCRYPTO_KEY_SECP256K1, 5, &w->secp);
    wcrypto_address(&w->admin.pub, w->admin_addr);
    wcrypto_address(&w->provider.pub, w->provider_addr);
    wcrypto_address(&w->outsider.pub, w->outsider_addr);
    wcrypto_address(&w->secp.pub, w->secp_addr);
    w->admin_nonce = w->provider_nonce = w->secp_nonce = 1;
    make_genesis(w, "witan-test", 1 << 20, &w->g);
    open_world(w, name);
    return w;
}

void free_world(struct world *w)
{
    ledger_close(w->l);
    rm_rf(w->dir);
    ledger_genesis_free(w->g);
    free(w);
}

/* Signs a body into envelope bytes (malloc'd). */
uint8_t *sign_body(Witan__TxBody *body, const wcrypto_keypair *kp,
                          size_t *size)
{
    size_t bs = witan__tx_body__get_packed_size(body);
    uint8_t *b = malloc(bs), hash[32], sig[64];
    witan__tx_body__pack(body, b);
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, b, bs, hash);
    assert_int_equal(wcrypto_sign(kp, hash, sig), 0);
    Witan__Envelope e = WITAN__ENVELOPE__INIT;
    e.body = (ProtobufCBinaryData){bs, b};
    e.key_type = (Witan__KeyType)kp->pub.type;
    e.pubkey = (ProtobufCBinaryData){kp->pub.size, (uint8_t *)kp->pub.bytes};
    e.signature = (ProtobufCBinaryData){64, sig};
    *size = witan__envelope__get_packed_size(&e);
    uint8_t *out = malloc(*size);
    witan__envelope__pack(&e, out);
    free(b);
    return out;
}


uint8_t *attest_tx(const wcrypto_keypair *kp, const uint8_t sender[20],
                          uint64_t nonce, struct attest_spec s, size_t *size)
{
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = "co2";
    v.mantissa = s.co2;
    v.scale = 2;
    Witan__NamedValue *vs[] = {&v};
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = (char *)(s.feed ? s.feed : "climate/co2/mauna-loa");
    a.subject = "mauna-loa";
    a.observed_at_ms = s.time_ms;
    a.n_values = 1;
    a.values = vs;
    a.unit = "ppm";
    if (s.corrects)
        a.corrects = (ProtobufCBinaryData){32, (uint8_t *)s.corrects};
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = (char *)(s.chain ? s.chain : "witan-test");
    b.sender = (ProtobufCBinaryData){20, (uint8_t *)sender};
    b.nonce = nonce;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    b.attest = &a;
    return sign_body(&b, kp, size);
}

uint8_t *membership_tx(struct world *w, Witan__Membership *m,
                              size_t *size)
{
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_MEMBERSHIP;
    b.membership = m;
    return sign_body(&b, &w->admin, size);
}

/* Certifies a built block with the world's single validator and applies
 * it; returns what ledger_block_apply returns (why holds its reason). */
int certify_and_apply(struct world *w, const struct ledger_block *blk,
                             bool verify, char why[WHY_SIZE])
{
    uint8_t digest[32], sig[64], signers = 1;
    wcrypto_vote_digest("witan-test", blk->height, 0, blk->hash, digest);
    assert_int_equal(wcrypto_sign(&w->validator, digest, sig), 0);
    Witan__CommitCertificate cert = WITAN__COMMIT_CERTIFICATE__INIT;
    ProtobufCBinaryData sigs[1] = {{64, sig}};
    cert.height = blk->height;
    cert.block_hash = (ProtobufCBinaryData){32, (uint8_t *)blk->hash};
    cert.signers = (ProtobufCBinaryData){1, &signers};
    cert.n_signatures = 1;
    cert.signatures = sigs;
    struct ledger_apply_stats st;
    return ledger_block_apply(w->l, blk->bytes, blk->size, &cert, verify,
                              NULL, &st, why, WHY_SIZE);
}


/* Decodes, admits, builds a one-validator block of the given envelopes,
 * certifies and applies it; returns the receipts' statuses. */
void commit_block(struct world *w, uint8_t **envs, size_t *sizes,
                         size_t n, Witan__TxStatus *statuses)
{
    struct ledger_tx txs[16], *ptrs[16];
    char why[WHY_SIZE];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ledger_tx_decode(w->l, envs[i], sizes[i], true,
                                          &txs[i], why, sizeof why),
                         0);
        ptrs[i] = &txs[i];
    }
    struct ledger_block blk;
    struct ledger_tip tip;
    ledger_tip(w->l, &tip);
    assert_int_equal(ledger_block_build(w->l, ptrs, n, tip.time_ms + 1000, 0,
                                        0, &blk),
                     0);
    assert_int_equal(certify_and_apply(w, &blk, true, why), 0);
    for (size_t i = 0; i < n; i++) {
        Witan__TxResponse *r;
        assert_int_equal(ledger_get_tx(w->l, txs[i].hash, &r), 0);
        assert_int_equal(r->state, WITAN__TX_STATE__TX_STATE_COMMITTED);
        if (statuses)
            statuses[i] = r->receipt->status;
        ledger_tx_response_free(r);
        ledger_tx_release(&txs[i]);
    }
    ledger_block_free(&blk);
}


uint8_t *read_model(size_t *size)
{
    char *text;
    assert_int_equal(witan_read_file("tests/fixtures/models/linreg_temp.bin",
                                     WITAN_MODEL_SIZE_MAX, &text, size),
                     0);
    return (uint8_t *)text;
}

/* linreg_temp: temperature anomaly from (co2_ppm, year). Bound to the latest
 * Mauna Loa co2 value and the year of that observation; triggered by new
 * Mauna Loa attestations. */
uint8_t *register_tx(struct world *w, const uint8_t *model,
                            size_t model_size, size_t *size)
{
    return register_target_tx(w, model, model_size, NULL, size);
}

uint8_t *register_target_tx(struct world *w, const uint8_t *model,
                            size_t model_size, Witan__ModelTarget *target,
                            size_t *size)
{
    Witan__ModelInput co2 = WITAN__MODEL_INPUT__INIT, year =
                                                          WITAN__MODEL_INPUT__INIT;
    co2.feed = year.feed = "climate/co2/mauna-loa";
    co2.subject = year.subject = "mauna-loa";
    co2.value = "co2";
    year.observed_year = true;
    Witan__ModelInput *inputs[] = {&co2, &year};
    Witan__ModelTrigger trig = WITAN__MODEL_TRIGGER__INIT;
    trig.feed = "climate/co2/mauna-loa";
    trig.subject = "mauna-loa";
    Witan__ModelTrigger *trigs[] = {&trig};
    Witan__RegisterModel r = WITAN__REGISTER_MODEL__INIT;
    r.name = "temperature-from-co2";
    r.version = 1;
    r.model = (ProtobufCBinaryData){model_size, (uint8_t *)model};
    r.n_inputs = 2;
    r.inputs = inputs;
    r.n_triggers = 1;
    r.triggers = trigs;
    r.target = target;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->admin_addr};
    b.nonce = w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
    b.register_model = &r;
    return sign_body(&b, &w->admin, size);
}

uint8_t *score_tx(struct world *w, const uint8_t hash[32],
                         size_t *size)
{
    Witan__Score sc = WITAN__SCORE__INIT;
    sc.model_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_SCORE;
    b.score = &sc;
    return sign_body(&b, &w->provider, size);
}

Witan__PredictionsResponse *predictions(struct world *w,
                                               const uint8_t hash[32])
{
    Witan__PredictionsRequest q = WITAN__PREDICTIONS_REQUEST__INIT;
    q.model_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    Witan__PredictionsResponse *r;
    assert_int_equal(ledger_query_predictions(w->l, &q, &r), 0);
    return r;
}


/* --- contracts --------------------------------------------------------------- */

uint8_t *assemble(const char *text, size_t *size)
{
    uint8_t *m;
    vm_asm_error e;
    int err = vm_assemble(text, strlen(text), &m, size, &e);
    if (err)
        fail_msg("line %u: %s", e.line, e.message);
    return m;
}



uint8_t *deploy_tx(struct world *w, struct deploy_spec d, size_t *size)
{
    Witan__ContractTrigger t = WITAN__CONTRACT_TRIGGER__INIT;
    Witan__ContractTrigger *ts[] = {&t};
    Witan__DeployContract dc = WITAN__DEPLOY_CONTRACT__INIT;
    dc.name = (char *)(d.name ? d.name : "review");
    dc.version = 1;
    dc.module = (ProtobufCBinaryData){d.module_size, (uint8_t *)d.module};
    dc.language = "witan-asm";
    dc.gas_limit = d.gas ? d.gas : 100000;
    if (d.model) {
        t.model_hash = (ProtobufCBinaryData){32, (uint8_t *)d.model};
        t.kind = d.kind ? d.kind : WITAN__TRIGGER_KIND__TRIGGER_ANY;
        t.filter = d.filter;
        if (d.filter == WITAN__FILTER_OP__FILTER_LABEL_EQUALS)
            t.label = d.label;
        if (d.filter == WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE ||
            d.filter == WITAN__FILTER_OP__FILTER_OUTPUT_BELOW) {
            t.output = d.output;
            t.threshold_mantissa = d.threshold;
            t.threshold_scale = 3;
        }
        dc.n_triggers = 1;
        dc.triggers = ts;
    }
    if (d.replaces)
        dc.replaces = (ProtobufCBinaryData){32, (uint8_t *)d.replaces};
    dc.start_height = d.start_height;
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, (uint8_t *)(d.sender ? d.sender
                                                              : w->admin_addr)};
    b.nonce = d.nonce ? (*d.nonce)++ : w->admin_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_DEPLOY_CONTRACT;
    b.deploy_contract = &dc;
    return sign_body(&b, d.kp ? d.kp : &w->admin, size);
}


/* Commits one transaction; returns its status; frees env. */
Witan__TxStatus commit1(struct world *w, uint8_t *env,
                               const size_t *size_p, uint8_t hash_out[32])
{
    /* by pointer: the size is read after the builder in the same call
     * expression has set it */
    size_t size = *size_p;
    Witan__TxStatus st;
    struct ledger_tx tx;
    char why[WHY_SIZE];
    if (ledger_tx_decode(w->l, env, size, false, &tx, why, sizeof why))
        fail_msg("decode: %s", why);
    if (hash_out)
        memcpy(hash_out, tx.hash, 32);
    ledger_tx_release(&tx);
    commit_block(w, &env, &size, 1, &st);
    free(env);
    return st;
}

/* The runs a transaction caused. */
Witan__RunsResponse *runs_of(struct world *w, const uint8_t tx[32])
{
    Witan__RunsRequest q = WITAN__RUNS_REQUEST__INIT;
    q.tx_hash = (ProtobufCBinaryData){32, (uint8_t *)tx};
    Witan__RunsResponse *r;
    assert_int_equal(ledger_query_runs(w->l, &q, &r), 0);
    return r;
}


/* A decimal text like "-0.4177" as mantissa and scale. */
void parse_decimal(const char *t, int64_t *m, uint32_t *s)
{
    bool neg = *t == '-';
    t += neg || *t == '+';
    int64_t v = 0;
    uint32_t scale = 0;
    bool frac = false;
    for (; *t; t++) {
        if (*t == '.') {
            frac = true;
            continue;
        }
        assert_true(*t >= '0' && *t <= '9');
        v = v * 10 + (*t - '0');
        scale += frac;
    }
    *m = neg ? -v : v;
    *s = scale;
}

/* "YYYY-MM" (its first day) or "YYYY-MM-DD" to Unix ms at midnight UTC. */
int64_t month_ms(const char *ym)
{
    int y = atoi(ym), mo = atoi(ym + 5);
    int day = strlen(ym) >= 10 ? atoi(ym + 8) : 1;
    /* days from 1970-01-01 to the first of the month (civil calendar) */
    int yy = mo <= 2 ? y - 1 : y, era = yy / 400;
    int yoe = yy - era * 400, mp = (mo + 9) % 12;
    int doy = (153 * mp + 2) / 5, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return ((int64_t)era * 146097 + doe - 719468 + day - 1) * 86400000LL;
}

uint8_t *value_tx(struct world *w, const char *feed, const char *subject,
                  const char *name, int64_t time_ms, int64_t m,
                  uint32_t scale, const uint8_t *corrects, size_t *size)
{
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = (char *)name;
    v.mantissa = m;
    v.scale = scale;
    Witan__NamedValue *vs[] = {&v};
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = (char *)feed;
    a.subject = (char *)subject;
    a.observed_at_ms = time_ms;
    a.n_values = 1;
    a.values = vs;
    if (corrects)
        a.corrects = (ProtobufCBinaryData){32, (uint8_t *)corrects};
    Witan__TxBody b = WITAN__TX_BODY__INIT;
    b.chain_id = "witan-test";
    b.sender = (ProtobufCBinaryData){20, w->provider_addr};
    b.nonce = w->provider_nonce++;
    b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
    b.attest = &a;
    return sign_body(&b, &w->provider, size);
}

