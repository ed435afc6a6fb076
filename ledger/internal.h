/*
 * What the ledger's files share and nobody else sees.
 */
#ifndef WITAN_LEDGER_INTERNAL_H
#define WITAN_LEDGER_INTERNAL_H

#include "ledger/ledger.h"

struct ledger {
    store *s;
    const Witan__Genesis *g;
    uint8_t genesis_hash[WITAN_HASH_SIZE];
    struct ledger_tip tip;
    uint32_t validator_count;
    wcrypto_pubkey validators[WITAN_VALIDATOR_COUNT_MAX];
};

/* Meta keys. "r" + be64(height) holds state root || receipts root. */
#define META_PROTOCOL "protocol_version"
#define META_SCHEMA "schema_version"
#define META_GENESIS "genesis_hash"
#define META_CHAIN "chain_id"
#define META_TIP "tip"

/* Accounts, as unpacked protobuf (free with ledger_account_free). */
int account_get(store_txn *txn, const uint8_t addr[WITAN_ADDRESS_SIZE],
                Witan__Account **out);
int account_put(store_txn *txn, const Witan__Account *a);

/* Packs a message into a malloc'd buffer. WITAN_ENOMEM. */
int pack_message(const ProtobufCMessage *m, uint8_t **out, size_t *size);

/* Applies one decoded transaction in block `height` at `index`: every
 * stateful rule, then the payload. Sets *status; returns an error only for a
 * storage failure (which aborts the whole block). */
int tx_apply(ledger *l, store_txn *txn, const Witan__Envelope *env,
             const Witan__TxBody *body, const uint8_t hash[WITAN_HASH_SIZE],
             uint64_t height, Witan__TxStatus *status);

/* Builds a new account (created at `height`) on the heap, as unpack would;
 * free with ledger_account_free. WITAN_EINVAL for a bad key or roles. */
int ledger_account_new(const char *name, Witan__KeyType type,
                       ProtobufCBinaryData pub, const Witan__Role *roles,
                       size_t role_count, uint64_t height,
                       const uint8_t *tx_hash, Witan__Account **out);

/* The role a payload needs. */
Witan__Role tx_required_role(const Witan__TxBody *body);

/* Attestation table key: feed 0x00 subject 0x00 be64(time ^ 2^63)
 * provider [be32 revision]. Returns the size (prefix without revision when
 * with_revision is false). */
size_t attest_key(const char *feed, const char *subject, int64_t time_ms,
                  const uint8_t provider[WITAN_ADDRESS_SIZE],
                  bool with_revision, uint32_t revision,
                  uint8_t out[WITAN_STORE_KEY_SIZE_MAX]);

#endif
