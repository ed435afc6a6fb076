/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness over the node's configuration file: any text is read
 * into a configuration or refused with a sentence naming the line; nothing
 * may crash, leak or hang, and what is accepted keeps the cross-checks
 * (TLS files together, timeouts and map sizes in order).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > NODE_CONFIG_SIZE_MAX)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct node_config c;
    node_config_defaults(&c);
    char why[512] = "";
    int err = node_config_parse("fuzz", text, &c, why, sizeof why);
    WITAN_ASSERT(err == 0 || why[0] != '\0');
    if (err == 0) {
        WITAN_ASSERT(c.view_timeout_ms <= c.view_timeout_max_ms);
        WITAN_ASSERT(c.map_size <= c.map_size_max);
        WITAN_ASSERT(!c.tls_cert[0] == !c.tls_key[0]);
    }
    free(text);
    return 0;
}
