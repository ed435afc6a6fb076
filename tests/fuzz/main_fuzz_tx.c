/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness over transaction admission: decoding an Envelope and its
 * TxBody, every limit, the key, the signature and the payload rules, then
 * the stateful checks against a real (temporary) LMDB ledger. Any input is
 * admitted or refused with a reason; nothing may crash, leak or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/fuzz/fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ledger *fuzz_ledger;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_ledger = fuzz_ledger_open("tx");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ledger_tx tx;
    char why[LEDGER_WHY_SIZE] = "";
    /* Without signature checks too, so the fuzzer reaches the payload
     * rules that a valid signature would otherwise guard. */
    for (int verify = 0; verify <= 1; verify++) {
        int err = ledger_tx_decode(fuzz_ledger, data, size, verify, &tx, why,
                                   sizeof why);
        if (err) {
            WITAN_ASSERT(why[0] != '\0');
            continue;
        }
        WITAN_ASSERT(tx.size == size && tx.body && tx.envelope);
        why[0] = '\0';
        err = ledger_tx_admit(fuzz_ledger, &tx, 10, why, sizeof why);
        WITAN_ASSERT(err == 0 || why[0] != '\0');
        ledger_tx_release(&tx);
    }
    return 0;
}
