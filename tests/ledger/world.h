/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger tests' world: a one-validator chain in a temporary LMDB home,
 * its members' keys, and builders of signed transactions and certified
 * blocks (shared by test_ledger and test_contracts).
 */
#ifndef WITAN_TESTS_LEDGER_WORLD_H
#define WITAN_TESTS_LEDGER_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define WHY_SIZE LEDGER_WHY_SIZE

struct world {
    char dir[256];
    Witan__Genesis *g;
    ledger *l;
    wcrypto_keypair validator, admin, provider, outsider, secp;
    uint8_t admin_addr[20], provider_addr[20], outsider_addr[20],
        secp_addr[20];
    uint64_t admin_nonce, provider_nonce, secp_nonce;
};

struct attest_spec {
    const char *chain;
    int64_t time_ms;
    int64_t co2;
    const uint8_t *corrects;
    const char *feed;
};

/* Genesis parameters new_world uses (tests may change them first). */
extern uint32_t tx_size_max, model_gas_max;
extern uint64_t block_gas_max, contract_gas_max;

void rm_rf(const char *dir);
void seeded(enum wcrypto_key_type t, uint8_t b, wcrypto_keypair *kp);
void hex(const uint8_t *d, size_t n, char *out);
void make_genesis(struct world *w, const char *chain, uint32_t block_size_max, Witan__Genesis **out);
void open_world(struct world *w, const char *name);
struct world *new_world(const char *name);
void free_world(struct world *w);
uint8_t *sign_body(Witan__TxBody *body, const wcrypto_keypair *kp, size_t *size);
uint8_t *attest_tx(const wcrypto_keypair *kp, const uint8_t sender[20], uint64_t nonce, struct attest_spec s, size_t *size);
uint8_t *membership_tx(struct world *w, Witan__Membership *m, size_t *size);
int certify_and_apply(struct world *w, const struct ledger_block *blk, bool verify, char why[WHY_SIZE]);
void commit_block(struct world *w, uint8_t **envs, size_t *sizes, size_t n, Witan__TxStatus *statuses);
uint8_t *read_model(size_t *size);
uint8_t *register_tx(struct world *w, const uint8_t *model, size_t model_size, size_t *size);
/* register_tx with a target (NULL: none). */
uint8_t *register_target_tx(struct world *w, const uint8_t *model,
                            size_t model_size, Witan__ModelTarget *target,
                            size_t *size);
uint8_t *score_tx(struct world *w, const uint8_t hash[32], size_t *size);
Witan__PredictionsResponse *predictions(struct world *w, const uint8_t hash[32]);

/* Contracts and data (test_contracts, test_examples). */
struct deploy_spec {
    const uint8_t *module;
    size_t module_size;
    uint64_t gas;
    const uint8_t *model; /* NULL: no trigger */
    Witan__FilterOp filter;
    int64_t threshold;    /* thousandths */
    const uint8_t *replaces;
    uint64_t start_height;
    const wcrypto_keypair *kp; /* default: the admin */
    const uint8_t *sender;
    uint64_t *nonce;
    const char *name;     /* default "review" */
    uint32_t output;      /* the output ABOVE and BELOW compare */
    Witan__TriggerKind kind; /* default (0): ANY */
    uint64_t label;       /* LABEL_EQUALS */
};

uint8_t *assemble(const char *text, size_t *size);
uint8_t *deploy_tx(struct world *w, struct deploy_spec d, size_t *size);
Witan__TxStatus commit1(struct world *w, uint8_t *env, const size_t *size_p, uint8_t hash_out[32]);
Witan__RunsResponse *runs_of(struct world *w, const uint8_t tx[32]);
void parse_decimal(const char *t, int64_t *m, uint32_t *s);
int64_t month_ms(const char *ym);
uint8_t *value_tx(struct world *w, const char *feed, const char *subject, const char *name, int64_t time_ms, int64_t m, uint32_t scale, const uint8_t *corrects, size_t *size);

#endif
