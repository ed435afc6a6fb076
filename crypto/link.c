/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Link keys and frame MACs between validators. The shared secret is X25519
 * of one side's secret and the other's public key, both converted from
 * Ed25519; the link key hashes it with the chain id and both public keys (in
 * byte order, so that both sides agree), which binds it to this chain and
 * this pair and keeps the raw curve output out of the MAC.
 */
#include "crypto/crypto.h"

#include <sodium.h>
#include <string.h>

_Static_assert(WCRYPTO_LINK_KEY_SIZE == crypto_generichash_KEYBYTES,
               "the link key is a BLAKE2b key");
_Static_assert(WCRYPTO_MAC_SIZE >= crypto_generichash_BYTES_MIN &&
                   WCRYPTO_MAC_SIZE <= crypto_generichash_BYTES_MAX,
               "the MAC is a BLAKE2b output");

int wcrypto_link_key(const wcrypto_keypair *self, const wcrypto_pubkey *peer,
                     const char *chain_id, uint8_t out[WCRYPTO_LINK_KEY_SIZE])
{
    if (self->pub.type != WCRYPTO_KEY_ED25519 ||
        peer->type != WCRYPTO_KEY_ED25519)
        return WITAN_EKEYTYPE;
    uint8_t x_secret[crypto_scalarmult_curve25519_BYTES];
    uint8_t x_peer[crypto_scalarmult_curve25519_BYTES];
    uint8_t shared[crypto_scalarmult_curve25519_BYTES];
    int err = WITAN_EKEY;
    if (crypto_sign_ed25519_sk_to_curve25519(x_secret, self->secret) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(x_peer, peer->bytes) != 0 ||
        crypto_scalarmult_curve25519(shared, x_secret, x_peer) != 0)
        goto out;
    const uint8_t *lo = self->pub.bytes, *hi = peer->bytes;
    if (memcmp(lo, hi, WCRYPTO_ED25519_PUBKEY_SIZE) > 0) {
        lo = peer->bytes;
        hi = self->pub.bytes;
    }
    size_t id_size = strlen(chain_id);
    uint8_t be[4] = {(uint8_t)(id_size >> 24), (uint8_t)(id_size >> 16),
                     (uint8_t)(id_size >> 8), (uint8_t)id_size};
    wcrypto_hasher h;
    wcrypto_hasher_init(&h, WCRYPTO_TAG_LINK);
    wcrypto_hasher_update(&h, shared, sizeof shared);
    wcrypto_hasher_update(&h, be, sizeof be);
    wcrypto_hasher_update(&h, chain_id, id_size);
    wcrypto_hasher_update(&h, lo, WCRYPTO_ED25519_PUBKEY_SIZE);
    wcrypto_hasher_update(&h, hi, WCRYPTO_ED25519_PUBKEY_SIZE);
    wcrypto_hasher_final(&h, out);
    err = WITAN_OK;
out:
    sodium_memzero(x_secret, sizeof x_secret);
    sodium_memzero(shared, sizeof shared);
    return err;
}

void wcrypto_mac(const uint8_t key[WCRYPTO_LINK_KEY_SIZE], const void *data,
                 size_t size, uint8_t out[WCRYPTO_MAC_SIZE])
{
    crypto_generichash(out, WCRYPTO_MAC_SIZE, data, size, key,
                       WCRYPTO_LINK_KEY_SIZE);
}

bool wcrypto_mac_ok(const uint8_t key[WCRYPTO_LINK_KEY_SIZE], const void *data,
                    size_t size, const uint8_t mac[WCRYPTO_MAC_SIZE])
{
    uint8_t want[WCRYPTO_MAC_SIZE];
    wcrypto_mac(key, data, size, want);
    return sodium_memcmp(want, mac, WCRYPTO_MAC_SIZE) == 0;
}
