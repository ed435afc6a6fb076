/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The temporary ledger of the ledger-backed fuzz harnesses (fixture.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fixture.h"

static const char genesis_json[] =
    "{\"protocol_version\": 1, \"chain_id\": \"fuzz\", \"genesis_time_ms\": 0,"
    " \"validators\": [{\"name\": \"v\", \"pubkey\": "
    "\"79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\"}],"
    " \"members\": [{\"name\": \"p\", \"key_type\": \"ed25519\", \"pubkey\": "
    "\"79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\", "
    "\"roles\": [\"data_provider\", \"admin\"]}]}";

static char fuzz_dir[64];

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fuzz_dir);
    if (system(cmd) != 0)
        return;
}

ledger *fuzz_ledger_open(const char *what)
{
    char why[LEDGER_WHY_SIZE];
    snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/witan-fuzz-%s-XXXXXX", what);
    Witan__Genesis *g;
    ledger *l;
    if (wcrypto_init() != 0 || !mkdtemp(fuzz_dir) ||
        ledger_genesis_parse(genesis_json, strlen(genesis_json), &g, why,
                             sizeof why) != 0)
        abort();
    struct store_options o = {1 << 20, 1 << 20, false};
    if (ledger_open(fuzz_dir, g, &o, &l, why, sizeof why) != 0)
        abort();
    atexit(remove_dir);
    witan_log_set_level(WITAN_LOG_OFF);
    return l; /* the genesis lives as long as the ledger: the process */
}
