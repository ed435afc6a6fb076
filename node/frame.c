/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames between validators (spec/node.md, "Frames"): a 16-byte header
 * naming the kind, the sender and the receiver, a payload of one or more
 * length-prefixed items, and a MAC under the link key the two validators
 * share. Opening a frame checks its length, its addressing and its MAC
 * before it looks at a single item, so bytes from anyone who is not the
 * named sender cost one hash and nothing else. Pure: no sockets, no clocks.
 */
#include <string.h>

#include "node/node.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static bool kind_known(uint8_t kind)
{
    return kind == NODE_FRAME_CONSENSUS || kind == NODE_FRAME_TXS ||
           kind == NODE_FRAME_HEADS;
}

int node_frame_build(uint8_t kind, uint32_t sender, const pbft_bytes *items,
                     uint32_t count, uint8_t *out, size_t out_size,
                     size_t *written)
{
    *written = 0;
    if (!kind_known(kind) || count == 0 || count > NODE_FRAME_ITEM_COUNT_MAX)
        return WITAN_EINVAL;
    size_t payload = NODE_FRAME_COUNT_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        if (items[i].size == 0 || items[i].size > WITAN_MESSAGE_SIZE_MAX)
            return WITAN_ELIMIT;
        payload += NODE_FRAME_LENGTH_SIZE + items[i].size;
    }
    if (payload > NODE_FRAME_PAYLOAD_SIZE_MAX)
        return WITAN_ELIMIT;
    size_t size = NODE_FRAME_HEADER_SIZE + payload + WCRYPTO_MAC_SIZE;
    if (out_size < size)
        return WITAN_ELIMIT;
    out[0] = NODE_FRAME_MAGIC_0;
    out[1] = NODE_FRAME_MAGIC_1;
    out[2] = NODE_FRAME_VERSION;
    out[3] = kind;
    put_be32(out + 4, sender);
    put_be32(out + 8, 0); /* the receiver: node_frame_seal */
    put_be32(out + 12, (uint32_t)payload);
    uint8_t *p = out + NODE_FRAME_HEADER_SIZE;
    p[0] = (uint8_t)(count >> 8);
    p[1] = (uint8_t)count;
    p += NODE_FRAME_COUNT_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        put_be32(p, (uint32_t)items[i].size);
        memcpy(p + NODE_FRAME_LENGTH_SIZE, items[i].data, items[i].size);
        p += NODE_FRAME_LENGTH_SIZE + items[i].size;
    }
    memset(p, 0, WCRYPTO_MAC_SIZE);
    *written = size;
    return WITAN_OK;
}

void node_frame_seal(uint8_t *frame, size_t size, uint32_t receiver,
                     const uint8_t key[WCRYPTO_LINK_KEY_SIZE])
{
    WITAN_ASSERT(size >= NODE_FRAME_HEADER_SIZE + WCRYPTO_MAC_SIZE);
    put_be32(frame + 8, receiver);
    size_t covered = size - WCRYPTO_MAC_SIZE;
    wcrypto_mac(key, frame, covered, frame + covered);
}

void node_frame_seal_from(uint8_t *frame, size_t size, uint32_t sender,
                          uint32_t receiver,
                          const uint8_t key[WCRYPTO_LINK_KEY_SIZE])
{
    WITAN_ASSERT(size >= NODE_FRAME_HEADER_SIZE + WCRYPTO_MAC_SIZE);
    put_be32(frame + 4, sender);
    node_frame_seal(frame, size, receiver, key);
}

int node_frame_open(const uint8_t *bytes, size_t size, uint32_t self,
                    uint32_t n, const uint8_t (*keys)[WCRYPTO_LINK_KEY_SIZE],
                    struct node_frame *out)
{
    memset(out, 0, sizeof *out);
    if (size < NODE_FRAME_HEADER_SIZE + NODE_FRAME_COUNT_SIZE +
                   WCRYPTO_MAC_SIZE ||
        size > NODE_FRAME_SIZE_MAX || bytes[0] != NODE_FRAME_MAGIC_0 ||
        bytes[1] != NODE_FRAME_MAGIC_1 || bytes[2] != NODE_FRAME_VERSION ||
        !kind_known(bytes[3]))
        return WITAN_EDECODE;
    uint32_t payload = get_be32(bytes + 12);
    if ((size_t)payload !=
        size - NODE_FRAME_HEADER_SIZE - WCRYPTO_MAC_SIZE)
        return WITAN_EDECODE;
    uint32_t sender = get_be32(bytes + 4), receiver = get_be32(bytes + 8);
    if (sender >= n || sender == self || receiver != self)
        return WITAN_EAUTH;
    size_t covered = size - WCRYPTO_MAC_SIZE;
    if (!wcrypto_mac_ok(keys[sender], bytes, covered, bytes + covered))
        return WITAN_EAUTH;
    /* Authenticated: now the items, which must fill the payload exactly. */
    const uint8_t *p = bytes + NODE_FRAME_HEADER_SIZE;
    uint32_t count = (uint32_t)p[0] << 8 | p[1];
    if (count == 0 || count > NODE_FRAME_ITEM_COUNT_MAX)
        return WITAN_EDECODE;
    size_t at = NODE_FRAME_COUNT_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        if (payload - at < NODE_FRAME_LENGTH_SIZE)
            return WITAN_EDECODE;
        uint32_t item = get_be32(p + at);
        at += NODE_FRAME_LENGTH_SIZE;
        if (item == 0 || item > WITAN_MESSAGE_SIZE_MAX || item > payload - at)
            return WITAN_EDECODE;
        at += item;
    }
    if (at != payload)
        return WITAN_EDECODE;
    out->kind = bytes[3];
    out->sender = sender;
    out->count = count;
    out->items = p + NODE_FRAME_COUNT_SIZE;
    out->items_size = payload - NODE_FRAME_COUNT_SIZE;
    return WITAN_OK;
}

bool node_frame_item(const struct node_frame *f, size_t *at,
                     const uint8_t **data, size_t *size)
{
    if (*at >= f->items_size)
        return false;
    /* Opening checked every length, so each prefix is in bounds. */
    uint32_t item = get_be32(f->items + *at);
    *data = f->items + *at + NODE_FRAME_LENGTH_SIZE;
    *size = item;
    *at += NODE_FRAME_LENGTH_SIZE + item;
    WITAN_ASSERT(*at <= f->items_size);
    return true;
}
