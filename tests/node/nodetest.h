/*
 * Support for the node tests and benchmarks: talking to a running witand
 * over its client API, and signing streams of attestations.
 */
#ifndef WITAN_TESTS_NODETEST_H
#define WITAN_TESTS_NODETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

void nt_sleep_ms(int ms);

/* Signs `count` attestations of climate/co2/mauna-loa by the member whose
 * key file is `key_path`, with nonces first_nonce, first_nonce + 1, ... and
 * one observation a minute; envs[i].data is malloc'ed. 0 or an error. */
int nt_sign_attestations(const char *key_path, const char *chain,
                         uint64_t first_nonce, size_t count,
                         ProtobufCBinaryData *envs, uint8_t (*hashes)[32]);

/* Height and pool size of the node at `addr`; false when it does not
 * answer. */
bool nt_status(const char *addr, uint64_t *height, uint32_t *pool);

/* The state of a transaction (Witan__TxState), its height when committed;
 * -1 when the node does not answer. */
int nt_tx_state(const char *addr, const uint8_t hash[32], uint64_t *height);

/* Hash and state root of block `height`; false when absent or unreachable. */
bool nt_block(const char *addr, uint64_t height, uint8_t hash[32],
              uint8_t root[32]);

/* Submits envs[0..count) in batches; false as soon as the node does not
 * answer (refusals inside a batch are not failures here). */
bool nt_submit(const char *addr, ProtobufCBinaryData *envs, size_t count,
               size_t batch);

#endif
