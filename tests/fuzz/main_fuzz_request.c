/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness over what a client sends a node: the bytes of a
 * witan.Request decoded under the network budget, and each envelope of a
 * SubmitRequest through admission's stateless and stateful checks against
 * a real (temporary) LMDB ledger; and the same bytes as the JSON body of
 * POST /v1/tx. Any input is answered or refused with a reason; nothing may
 * crash, leak or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/fuzz/fixture.h"
#include "node/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ledger *fuzz_ledger;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_ledger = fuzz_ledger_open("request");
    return 0;
}

static void admit(const uint8_t *env, size_t size)
{
    struct ledger_tx tx;
    char why[LEDGER_WHY_SIZE] = "";
    if (ledger_tx_decode(fuzz_ledger, env, size, false, &tx, why,
                         sizeof why) != 0) {
        WITAN_ASSERT(why[0] != '\0');
        return;
    }
    why[0] = '\0';
    int err = ledger_tx_admit(fuzz_ledger, &tx, 10, why, sizeof why);
    WITAN_ASSERT(err == 0 || why[0] != '\0');
    ledger_tx_release(&tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WITAN_CLIENT_REQUEST_SIZE_MAX)
        return 0;
    ProtobufCMessage *m;
    if (witan_unpack(&witan__request__descriptor, data, size, &m) == 0) {
        Witan__Request *req = (Witan__Request *)m;
        if (req->kind_case == WITAN__REQUEST__KIND_SUBMIT &&
            req->submit->n_envelopes <= WITAN_CLIENT_BATCH_COUNT_MAX)
            for (size_t i = 0; i < req->submit->n_envelopes; i++)
                admit(req->submit->envelopes[i].data,
                      req->submit->envelopes[i].len);
        witan__request__free_unpacked(req, NULL);
    }
    ProtobufCBinaryData *envs = NULL;
    size_t count = 0;
    bool batch = false;
    char why[256] = "";
    int err = node_http_parse_tx_json((const char *)data, size, &envs, &count,
                                      &batch, why, sizeof why);
    WITAN_ASSERT(err == 0 || why[0] != '\0');
    for (size_t i = 0; i < count; i++) {
        if (!err)
            admit(envs[i].data, envs[i].len);
        free(envs[i].data);
    }
    free(envs);
    return 0;
}
