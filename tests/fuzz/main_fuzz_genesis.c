/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness over the JSON reader and the genesis rules: any input is
 * either refused with a reason or yields a genesis that writes back to JSON
 * which parses to the same genesis hash. Nothing may crash, leak or hang.
 */
#include <stdint.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (wcrypto_init() != 0)
            return 0;
        ready = 1;
    }
    Witan__Genesis *g;
    char why[LEDGER_WHY_SIZE] = "";
    int err = ledger_genesis_parse((const char *)data, size, &g, why,
                                   sizeof why);
    if (err) {
        WITAN_ASSERT(why[0] != '\0');
        return 0;
    }
    char *text;
    size_t text_size;
    FILE *f = open_memstream(&text, &text_size);
    WITAN_ASSERT(f && ledger_genesis_write(f, g) == 0);
    fclose(f);
    Witan__Genesis *back;
    WITAN_ASSERT(ledger_genesis_parse(text, text_size, &back, why,
                                      sizeof why) == 0);
    uint8_t a[32], b[32];
    ledger_genesis_hash(g, a);
    ledger_genesis_hash(back, b);
    WITAN_ASSERT(memcmp(a, b, 32) == 0);
    ledger_genesis_free(back);
    ledger_genesis_free(g);
    free(text);
    return 0;
}
