/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Budgeted protobuf decoding for bytes from the network. The allocator
 * counts what a decode asks for and refuses once the budget is spent; the
 * memory itself is the C library's, so the usual free_unpacked(m, NULL)
 * releases it. Counting requests rather than live bytes is conservative
 * (protobuf-c frees little while it decodes) and keeps the allocator
 * stateless across messages.
 */
#include <protobuf-c/protobuf-c.h>

#include "common/common.h"

struct budget {
    size_t left;
    bool spent; /* an allocation was refused for the budget */
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *b = data;
    if (size > b->left) {
        b->spent = true;
        return NULL;
    }
    b->left -= size;
    return malloc(size ? size : 1);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

int witan_unpack_from(size_t *left, const ProtobufCMessageDescriptor *desc,
                      const uint8_t *data, size_t size, ProtobufCMessage **out)
{
    *out = NULL;
    struct budget b = {*left, false};
    ProtobufCAllocator a = {budget_alloc, budget_free, &b};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, size, data);
    *left = b.left;
    if (!m)
        return b.spent ? WITAN_EBUDGET : WITAN_EDECODE;
    *out = m;
    return WITAN_OK;
}

int witan_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                 size_t size, ProtobufCMessage **out)
{
    size_t left = WITAN_UNPACK_BUDGET(size);
    return witan_unpack_from(&left, desc, data, size, out);
}

void *witan_unpack_or_null(const ProtobufCMessageDescriptor *desc,
                           const uint8_t *data, size_t size)
{
    ProtobufCMessage *m;
    return witan_unpack(desc, data, size, &m) == 0 ? m : NULL;
}
