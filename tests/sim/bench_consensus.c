/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_consensus — the cost of the PBFT core alone: blocks committed per
 * second of CPU with 4 replicas in one process, messages handed over at once
 * (no network delay), a node that answers every action immediately and does
 * no real execution (the state root is one hash per block). Batches of 1,
 * 100 and 1,000 requests of 100 bytes each. Reference in the same run: the
 * Ed25519 verifications per second of this machine, which bound what any
 * signed protocol can do (each block costs every replica about 2n + 1
 * verifications here).
 *
 *   bench_consensus [BATCH BLOCKS]   one batch size only (bench_ordering
 *                                    prints the core's cost this way)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"

#define N 4
#define TX_SIZE 100

struct msg {
    uint32_t to;
    uint8_t *data;
    size_t size;
};

static struct {
    pbft *r[N];
    wcrypto_keypair keys[N];
    wcrypto_pubkey pubs[N];
    struct msg *q;
    size_t head, count, cap;
    uint64_t delivered[N];
    uint32_t batch;
    uint8_t *tx_data;
    pbft_bytes *txs;
    uint8_t txs_root[32];
    uint64_t pending[N];
} w;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void step(uint32_t i, const pbft_event *ev);

static void carry(uint32_t i)
{
    pbft_actions rd;
    pbft_ready(w.r[i], &rd);
    size_t n = rd.count;
    pbft_action *acts = malloc((n ? n : 1) * sizeof(*acts));
    memcpy(acts, rd.actions, n * sizeof(*acts));
    /* Sends are copied before advance; other answers need no data. */
    for (size_t k = 0; k < n; k++) {
        pbft_action *a = &acts[k];
        if (a->type != PBFT_ACT_SEND)
            continue;
        for (uint32_t d = 0; d < N; d++) {
            if (d == i || (a->to != PBFT_TO_ALL && a->to != d))
                continue;
            if (w.count == w.cap) {
                w.cap = w.cap ? w.cap * 2 : 1024;
                w.q = realloc(w.q, w.cap * sizeof(*w.q));
            }
            struct msg *m = &w.q[w.count++];
            m->to = d;
            m->data = malloc(a->data.size);
            memcpy(m->data, a->data.data, a->data.size);
            m->size = a->data.size;
        }
    }
    pbft_advance(w.r[i]);
    for (size_t k = 0; k < n; k++) {
        pbft_action *a = &acts[k];
        pbft_event ev = {0};
        switch (a->type) {
        case PBFT_ACT_BUILD:
            ev.type = PBFT_EV_PROPOSAL;
            ev.u.proposal.height = a->height;
            ev.u.proposal.time_ms = (int64_t)a->height;
            memcpy(ev.u.proposal.txs_root, w.txs_root, 32);
            ev.u.proposal.txs = w.txs;
            ev.u.proposal.tx_count = w.pending[i] ? w.batch : 0;
            step(i, &ev);
            break;
        case PBFT_ACT_VALIDATE:
            ev.type = PBFT_EV_VERDICT;
            ev.u.verdict.height = a->height;
            memcpy(ev.u.verdict.block_hash, a->block_hash, 32);
            ev.u.verdict.valid = true;
            step(i, &ev);
            break;
        case PBFT_ACT_DELIVER:
            w.delivered[i] = a->height;
            ev.type = PBFT_EV_EXECUTED;
            ev.u.executed.height = a->height;
            wcrypto_hash_tagged(WCRYPTO_TAG_STATE, a->block_hash, 32,
                                ev.u.executed.state_root);
            memcpy(ev.u.executed.receipts_root, ev.u.executed.state_root, 32);
            step(i, &ev);
            break;
        default:
            break;
        }
    }
    free(acts);
}

static void step(uint32_t i, const pbft_event *ev)
{
    int rc = pbft_step(w.r[i], ev);
    if (rc != 0) {
        fprintf(stderr, "pbft_step: %s\n", witan_err_name(rc));
        exit(1);
    }
    carry(i);
}

static double run(uint32_t batch, enum pbft_sig_scheme scheme, uint64_t blocks)
{
    memset(&w, 0, sizeof(w));
    w.batch = batch;
    w.tx_data = malloc((size_t)batch * TX_SIZE);
    w.txs = calloc(batch, sizeof(*w.txs));
    wcrypto_digest *leaves = calloc(batch, sizeof(*leaves));
    for (uint32_t k = 0; k < batch; k++) {
        memset(w.tx_data + (size_t)k * TX_SIZE, (int)k, TX_SIZE);
        w.txs[k].data = w.tx_data + (size_t)k * TX_SIZE;
        w.txs[k].size = TX_SIZE;
        wcrypto_hash_tagged(WCRYPTO_TAG_ENVELOPE, w.txs[k].data, TX_SIZE,
                            leaves[k]);
    }
    wcrypto_merkle_root(leaves, batch, w.txs_root);
    free(leaves);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 1)};
        if (wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, &w.keys[i]) != 0)
            exit(1);
        w.pubs[i] = w.keys[i].pub;
    }
    double start = cpu_now();
    for (uint32_t i = 0; i < N; i++) {
        pbft_config c = {0};
        c.chain_id = "bench";
        c.validator_count = N;
        c.validators = w.pubs;
        c.self = i;
        c.key = &w.keys[i];
        c.pipeline_depth = 2;
        c.checkpoint_interval = 64;
        c.view_timeout_ms = 1000;
        c.view_timeout_max_ms = 8000;
        c.retransmit_ms = 1000;
        c.state_block_count = 16;
        c.sig_scheme = scheme;
        c.txs_root = ledger_txs_root;
        pbft_boot b = {0};
        wcrypto_history_init(&b.history);
        if (pbft_new(&c, &b, &w.r[i]) != 0)
            exit(1);
        carry(i);
        w.pending[i] = 1;
        pbft_event ev = {0};
        ev.type = PBFT_EV_REQUESTS;
        ev.u.request_count = 1;
        step(i, &ev);
    }
    while (w.head < w.count) {
        struct msg m = w.q[w.head++];
        if (w.head > 4096 && w.head * 2 > w.count) {
            memmove(w.q, w.q + w.head, (w.count - w.head) * sizeof(*w.q));
            w.count -= w.head;
            w.head = 0;
        }
        if (w.delivered[0] >= blocks && w.pending[0]) {
            for (uint32_t i = 0; i < N; i++) {
                w.pending[i] = 0;
                pbft_event ev = {0};
                ev.type = PBFT_EV_REQUESTS;
                step(i, &ev);
            }
        }
        pbft_event ev = {0};
        ev.type = PBFT_EV_MESSAGE;
        ev.u.message.data = m.data;
        ev.u.message.size = m.size;
        step(m.to, &ev);
        free(m.data);
    }
    double cpu = cpu_now() - start;
    uint64_t done = w.delivered[0];
    for (uint32_t i = 1; i < N; i++)
        if (w.delivered[i] < done)
            done = w.delivered[i];
    for (uint32_t i = 0; i < N; i++)
        pbft_free(w.r[i]);
    free(w.q);
    free(w.tx_data);
    free(w.txs);
    if (done < blocks) {
        fprintf(stderr, "only %llu blocks committed\n", (unsigned long long)done);
        exit(1);
    }
    return (double)done / cpu;
}

int main(int argc, char **argv)
{
    uint32_t one_batch = 0;
    uint64_t one_blocks = 0;
    if (argc == 3) {
        one_batch = (uint32_t)strtoul(argv[1], NULL, 10);
        one_blocks = strtoull(argv[2], NULL, 10);
    }
    if (argc != 1 && (argc != 3 || one_batch < 1 || one_batch > 5000 ||
                      one_blocks < 10 || one_blocks > 100000)) {
        fprintf(stderr, "usage: bench_consensus [BATCH BLOCKS]\n");
        return 2;
    }
    if (wcrypto_init() != 0)
        return 1;
    /* Reference: Ed25519 verifications per CPU second. */
    wcrypto_keypair kp;
    uint8_t seed[32] = {9}, digest[32] = {1}, sig[64];
    if (wcrypto_keypair_from_seed(WCRYPTO_KEY_ED25519, seed, &kp) != 0 ||
        wcrypto_sign(&kp, digest, sig) != 0)
        return 1;
    double t0 = cpu_now();
    int bad = 0;
    for (int i = 0; i < 20000; i++)
        bad += wcrypto_verify(&kp.pub, digest, sig) != 0;
    double verifies = 20000 / (cpu_now() - t0);
    if (bad)
        return 1;
    printf("bench-consensus: 4 replicas in one process, no network delay, "
           "L = 2, %d-byte requests\n", TX_SIZE);
    printf("  reference: Ed25519 verify %.0f /s of CPU\n", verifies);
    uint32_t batches[] = {1, 100, 1000};
    uint64_t blocks[] = {2000, 1000, 300};
    int runs = 3;
    if (one_batch) {
        batches[0] = one_batch;
        blocks[0] = one_blocks;
        runs = 1;
    }
    for (int k = 0; k < runs; k++) {
        double ed = run(batches[k], PBFT_SIG_ED25519, blocks[k]);
        double th = run(batches[k], PBFT_SIG_TEST_HASH, blocks[k]);
        printf("  batch %4u: %8.0f blocks/s of CPU (Ed25519)  %8.0f blocks/s "
               "(hash signatures, simulator only)  = %9.0f requests/s; "
               "%.1f verifications' worth per block\n",
               batches[k], ed, th, ed * batches[k], verifies / ed);
    }
    return 0;
}
