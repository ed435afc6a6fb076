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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ledger *fuzz_ledger;
static Witan__Genesis *fuzz_genesis;

static const char genesis_json[] =
    "{\"protocol_version\": 1, \"chain_id\": \"fuzz\", \"genesis_time_ms\": 0,"
    " \"validators\": [{\"name\": \"v\", \"pubkey\": "
    "\"79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\"}],"
    " \"members\": [{\"name\": \"p\", \"key_type\": \"ed25519\", \"pubkey\": "
    "\"79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\", "
    "\"roles\": [\"data_provider\", \"admin\"]}]}";

static char fuzz_dir[64];

/* The ledger's temporary directory goes when the process ends. */
static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fuzz_dir);
    if (system(cmd) != 0)
        return;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char why[LEDGER_WHY_SIZE];
    char dir[] = "/tmp/witan-fuzz-tx-XXXXXX";
    if (wcrypto_init() != 0 || !mkdtemp(dir) ||
        ledger_genesis_parse(genesis_json, strlen(genesis_json), &fuzz_genesis,
                             why, sizeof why) != 0)
        abort();
    struct store_options o = {1 << 20, 1 << 20};
    if (ledger_open(dir, fuzz_genesis, &o, &fuzz_ledger, why, sizeof why) != 0)
        abort();
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s", dir);
    atexit(remove_dir);
    witan_log_set_level(WITAN_LOG_OFF);
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
