/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consensus wire helpers: block hashes, vote digests, signing of consensus
 * messages and commit certificates. Public because the node, the simulator
 * and the tests build the same bytes the core checks; the core (pbft.c) uses
 * them through consensus.h like everyone else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "spec/consensus.pb-c.h"
#include "spec/witan.pb-c.h"

uint32_t pbft_faults(uint32_t n) { return witan_faults(n); }

uint32_t pbft_quorum(uint32_t n) { return witan_quorum(n); }

int pbft_block_hash(const uint8_t *block, size_t size,
                    uint8_t out[WCRYPTO_HASH_SIZE])
{
    if (block == NULL || size == 0 || size > WITAN_MESSAGE_SIZE_MAX)
        return WITAN_EDECODE;
    Witan__Block *b =
        witan_unpack_or_null(&witan__block__descriptor, block, size);
    if (b == NULL)
        return WITAN_EDECODE;
    int rc = 0;
    if (b->header.len == 0 || b->header.len > WITAN_HEADER_SIZE_MAX)
        rc = WITAN_EDECODE;
    else
        wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, b->header.data, b->header.len,
                            out);
    witan__block__free_unpacked(b, NULL);
    return rc;
}

/* Whether a decoded message re-encodes to exactly `bytes`. protobuf-c keeps
 * unknown fields and writes them back, so they are refused first. */
static int same_encoding(const ProtobufCMessage *m, const uint8_t *bytes,
                         size_t size)
{
    if (m->n_unknown_fields != 0)
        return WITAN_EDECODE;
    if (protobuf_c_message_get_packed_size(m) != size)
        return WITAN_EDECODE;
    uint8_t *again = malloc(size ? size : 1);
    if (again == NULL)
        return WITAN_ENOMEM;
    protobuf_c_message_pack(m, again);
    int rc = memcmp(again, bytes, size) == 0 ? WITAN_OK : WITAN_EDECODE;
    free(again);
    return rc;
}

int pbft_block_decode(const uint8_t *block, size_t size, Witan__Block **b,
                      Witan__BlockHeader **h, char *why, size_t why_size)
{
#define BLOCK_REFUSE(...)                                                      \
    do {                                                                       \
        if (why != NULL && why_size > 0)                                       \
            snprintf(why, why_size, __VA_ARGS__);                              \
    } while (0)
    *b = NULL;
    *h = NULL;
    *b = witan_unpack_or_null(&witan__block__descriptor, block, size);
    if (*b == NULL) {
        BLOCK_REFUSE("not a valid Block");
        return WITAN_EDECODE;
    }
    int rc = WITAN_OK;
    if ((*b)->header.len == 0 || (*b)->header.len > WITAN_HEADER_SIZE_MAX) {
        BLOCK_REFUSE("block header is %zu bytes, not 1 to %d",
                     (*b)->header.len, WITAN_HEADER_SIZE_MAX);
        rc = WITAN_EDECODE;
    } else if ((rc = same_encoding(&(*b)->base, block, size)) != 0) {
        BLOCK_REFUSE("block is not in canonical form");
    } else if ((*h = witan_unpack_or_null(&witan__block_header__descriptor,
                                          (*b)->header.data,
                                          (*b)->header.len)) == NULL) {
        BLOCK_REFUSE("block header is not a valid BlockHeader");
        rc = WITAN_EDECODE;
    } else if ((rc = same_encoding(&(*h)->base, (*b)->header.data,
                                   (*b)->header.len)) != 0) {
        BLOCK_REFUSE("block header is not in canonical form");
    }
#undef BLOCK_REFUSE
    if (rc) {
        if (*h)
            witan__block_header__free_unpacked(*h, NULL);
        witan__block__free_unpacked(*b, NULL);
        *b = NULL;
        *h = NULL;
    }
    return rc;
}

void pbft_vote_digest(const char *chain_id, uint64_t height, uint64_t view,
                      const uint8_t block_hash[WCRYPTO_HASH_SIZE],
                      uint8_t out[WCRYPTO_HASH_SIZE])
{
    wcrypto_vote_digest(chain_id, height, view, block_hash, out);
}

/* The one decoder of a CommitCertificate, shared by the core, the node and
 * the ledger so that no two of them can disagree on what a certificate is.
 * Only the canonical form passes: the form pbft_cert_encode writes. */
int pbft_cert_from_proto(const Witan__CommitCertificate *c, pbft_cert *out,
                         char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
#define REFUSE(...)                                                            \
    do {                                                                       \
        if (why != NULL && why_size > 0)                                       \
            snprintf(why, why_size, __VA_ARGS__);                              \
        return WITAN_EDECODE;                                                  \
    } while (0)
    if (c == NULL)
        REFUSE("certificate missing");
    if (c->base.n_unknown_fields != 0)
        REFUSE("certificate carries fields the spec does not define");
    if (c->block_hash.len != WCRYPTO_HASH_SIZE)
        REFUSE("certificate's block hash is %zu bytes, not %d",
               c->block_hash.len, WCRYPTO_HASH_SIZE);
    if (c->signers.len == 0 || c->signers.len > PBFT_SIGNERS_SIZE_MAX)
        REFUSE("certificate's signer bitmap is %zu bytes, not 1 to %d",
               c->signers.len, PBFT_SIGNERS_SIZE_MAX);
    if (c->signers.data[c->signers.len - 1] == 0)
        REFUSE("certificate's signer bitmap ends in a zero byte");
    uint64_t signers = 0;
    for (size_t i = 0; i < c->signers.len; i++)
        signers |= (uint64_t)c->signers.data[i] << (8 * i);
    if ((size_t)__builtin_popcountll(signers) != c->n_signatures)
        REFUSE("certificate names %d signers but carries %zu signatures",
               __builtin_popcountll(signers), c->n_signatures);
    if (c->n_signatures > WITAN_VALIDATOR_COUNT_MAX)
        REFUSE("certificate carries %zu signatures, over %d",
               c->n_signatures, WITAN_VALIDATOR_COUNT_MAX);
    for (size_t i = 0; i < c->n_signatures; i++)
        if (c->signatures[i].len != WCRYPTO_SIG_SIZE)
            REFUSE("certificate's signature %zu is %zu bytes, not %d", i,
                   c->signatures[i].len, WCRYPTO_SIG_SIZE);
#undef REFUSE
    out->view = c->view;
    out->height = c->height;
    memcpy(out->block_hash, c->block_hash.data, WCRYPTO_HASH_SIZE);
    out->signers = signers;
    out->sig_count = (uint32_t)c->n_signatures;
    for (size_t i = 0; i < c->n_signatures; i++)
        memcpy(out->sigs[i], c->signatures[i].data, WCRYPTO_SIG_SIZE);
    return 0;
}

const char *pbft_drop_name(enum pbft_drop reason)
{
    static const char *const names[PBFT_DROP_COUNT] = {
        "decode", "unknown key", "bad signature", "past view",
        "outside water marks", "conflicting", "invalid", "buffer full",
        "over budget",
    };
    if ((unsigned)reason >= PBFT_DROP_COUNT)
        return "?";
    return names[reason];
}

int pbft_cert_encode(const pbft_cert *cert, uint8_t **out, size_t *out_size)
{
    Witan__CommitCertificate c = WITAN__COMMIT_CERTIFICATE__INIT;
    uint8_t bitmap[8];
    size_t bitmap_size = 0;
    for (size_t i = 0; i < 8; i++) {
        bitmap[i] = (uint8_t)(cert->signers >> (8 * i));
        if (bitmap[i] != 0)
            bitmap_size = i + 1;
    }
    ProtobufCBinaryData sigs[WITAN_VALIDATOR_COUNT_MAX];
    if (cert->sig_count > WITAN_VALIDATOR_COUNT_MAX)
        return WITAN_EINVAL;
    for (uint32_t i = 0; i < cert->sig_count; i++) {
        sigs[i].data = (uint8_t *)cert->sigs[i];
        sigs[i].len = WCRYPTO_SIG_SIZE;
    }
    c.view = cert->view;
    c.height = cert->height;
    c.block_hash.data = (uint8_t *)cert->block_hash;
    c.block_hash.len = WCRYPTO_HASH_SIZE;
    c.signers.data = bitmap;
    c.signers.len = bitmap_size;
    c.n_signatures = cert->sig_count;
    c.signatures = sigs;
    size_t size = witan__commit_certificate__get_packed_size(&c);
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return WITAN_ENOMEM;
    witan__commit_certificate__pack(&c, buf);
    *out = buf;
    *out_size = size;
    return 0;
}
