/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness over what a validator takes off its peer socket: the
 * input is opened as a frame (node_frame_open, with the link keys of a
 * four-validator set) and, whatever that says, also stepped into a PBFT
 * core as a consensus message, as are the items of a frame that opens. The
 * first byte picks which validator the core is (so inputs can be
 * well-formed for any of them). Nothing may crash, leak, hang or allocate
 * past the decode budget (the harness runs under ASan's allocator limits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define N 4
static wcrypto_keypair keys[N];
static wcrypto_pubkey pubs[N];
static uint8_t links[N][N][WCRYPTO_LINK_KEY_SIZE];
static pbft *cores[N];
static uint32_t steps;

static pbft *new_core(uint32_t self)
{
    pbft_config c;
    memset(&c, 0, sizeof c);
    c.chain_id = "fuzz";
    c.validator_count = N;
    c.validators = pubs;
    c.self = self;
    c.key = &keys[self];
    c.pipeline_depth = 2;
    c.checkpoint_interval = 2;
    c.view_timeout_ms = 1000;
    c.view_timeout_max_ms = 8000;
    c.retransmit_ms = 500;
    c.state_block_count = 8;
    c.sig_scheme = PBFT_SIG_ED25519;
    c.txs_root = ledger_txs_root;
    pbft_boot b;
    memset(&b, 0, sizeof b);
    wcrypto_history_init(&b.history);
    pbft *r;
    if (pbft_new(&c, &b, &r) != 0)
        abort();
    return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (wcrypto_init() != 0)
        abort();
    witan_log_set_level(WITAN_LOG_OFF);
    for (int i = 0; i < N; i++) {
        uint8_t seed[WCRYPTO_SEED_SIZE];
        memset(seed, 0x40 + i, sizeof seed);
        if (wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, &keys[i]))
            abort();
        pubs[i] = keys[i].pub;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j &&
                wcrypto_link_key(&keys[i], &pubs[j], "fuzz", links[i][j]))
                abort();
    for (uint32_t i = 0; i < N; i++)
        cores[i] = new_core(i);
    return 0;
}

static void step(pbft *r, const uint8_t *data, size_t size)
{
    pbft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PBFT_EV_MESSAGE;
    ev.u.message = (pbft_bytes){data, size};
    int err = pbft_step(r, &ev);
    WITAN_ASSERT(err == 0 || err == WITAN_ENOMEM);
    pbft_actions acts;
    pbft_ready(r, &acts);
    pbft_advance(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint32_t self = data[0] % N;
    /* A core's state is bounded by its windows, but start afresh now and
     * then so that inputs stay independent enough to reproduce. */
    if (++steps % 4096 == 0) {
        pbft_free(cores[self]);
        cores[self] = new_core(self);
    }
    struct node_frame f;
    if (node_frame_open(data + 1, size - 1, self, N,
                        (const uint8_t(*)[WCRYPTO_LINK_KEY_SIZE])links[self],
                        &f) == 0) {
        const uint8_t *item;
        size_t item_size, at = 0;
        while (node_frame_item(&f, &at, &item, &item_size))
            if (f.kind == NODE_FRAME_CONSENSUS)
                step(cores[self], item, item_size);
    }
    step(cores[self], data + 1, size - 1);
    return 0;
}
