/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a validator's COMMIT signs (spec/encoding.md, "Votes and commit
 * certificates"): H("witan/vote/v1", canonical Vote). One definition, for the
 * consensus core that signs and collects votes and for the ledger (and so the
 * auditor) that checks certificates.
 */
#include "crypto/crypto.h"
#include "spec/witan.pb-c.h"

void wcrypto_vote_digest(const char *chain_id, uint64_t height, uint64_t view,
                         const uint8_t block_hash[WCRYPTO_HASH_SIZE],
                         uint8_t out[WCRYPTO_HASH_SIZE])
{
    Witan__Vote v = WITAN__VOTE__INIT;
    uint8_t buf[WITAN_CHAIN_ID_SIZE_MAX + 64];
    v.chain_id = (char *)chain_id;
    v.height = height;
    v.view = view;
    v.block_hash = (ProtobufCBinaryData){WCRYPTO_HASH_SIZE, (uint8_t *)block_hash};
    WITAN_ASSERT(witan__vote__get_packed_size(&v) <= sizeof buf);
    size_t size = witan__vote__pack(&v, buf);
    wcrypto_hash_tagged(WCRYPTO_TAG_VOTE, buf, size, out);
}
