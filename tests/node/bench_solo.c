/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Solo-node throughput: a real witand process fed 20,000 pre-signed
 * attestations by concurrent clients in batches, timed from the first
 * submission until the last is committed (on disk, fsync'd). Printed beside
 * this machine's single-core Ed25519 verification rate measured in the same
 * run: the node checks every signature once, so the ratio says how much of
 * its time per transaction goes to anything else. Beside it, the rate of
 * two threads verifying at once: on a machine whose two cores share a
 * physical core or a host, less than twice one core's, and the ceiling of
 * the 2-thread run. Beside each run, the transaction signatures the node
 * checked per attestation (its metrics; 1.00 when none was checked
 * twice), the bytes the node wrote per
 * attestation: the database's pages dominate, so the figure shows how
 * many pages a block dirties for each transaction. Last, a model of how
 * the node scales with cores (Amdahl's law with the 1-thread run's
 * costs): the signatures spread over every core, the loop's other work
 * per transaction does not.
 *
 * Then the 2-thread run again with the clients on the stream API, in the
 * same way (a batch, its answer, the next): the node takes every waiting
 * stream request into one round and checks their signatures together,
 * where its REQ/REP socket gives it one request a round.
 *
 * Last, the 2-thread REQ/REP run again with each client signing as a
 * member of its own: in the runs before, one sender's nonces interleave
 * across the clients, so a batch that arrives early waits in the pool's
 * nonce window and blocks come in bursts. This row says whether that,
 * rather than the node's CPU, sets the rate.
 *
 *   bench_solo [COUNT]
 */
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "node/node.h"
#include "tests/node/nodetest.h"

#define BENCH_TX_COUNT_DEFAULT 20000
#define BENCH_CLIENTS 4
#define BENCH_BATCH 500

static char bin_dir[1024 - 16];
static char addr[64];
static char stream_addr[64]; /* the node's stream API */
static bool use_stream;      /* clients on it instead of REQ/REP */
static int senders = 1;      /* 1, or one sender per client */
static ProtobufCBinaryData *envs;
static int tx_count;


/* The size of the batch that starts at load index i: the last may be
 * short. */
static size_t batch_at(int i)
{
    return (size_t)(tx_count - i < BENCH_BATCH ? tx_count - i : BENCH_BATCH);
}

/* Client k sends every BENCH_CLIENTS-th batch: nonces interleave across
 * clients, and the pool's nonce window holds what arrives early. */
static void *client(void *p)
{
    int k = (int)(intptr_t)p;
    struct node_links *link = NULL;
    if (use_stream &&
        !(link = nt_links_to(stream_addr, 8 + (size_t)NODE_FRAME_SIZE_MAX, 64)))
        return (void *)1;
    uint64_t id = 0;
    for (int i = k * BENCH_BATCH; i < tx_count; i += BENCH_CLIENTS * BENCH_BATCH) {
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
        sr.n_envelopes = batch_at(i);
        sr.envelopes = &envs[i];
        req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
        req.submit = &sr;
        Witan__Response *r = NULL;
        if (link) { /* one request at a time, as over REQ/REP */
            uint64_t got;
            if (nt_stream_queue(link, ++id, &req) == 0) {
                node_links_flush(link);
                r = nt_stream_answer(link, 60000, &got);
            }
            if (!r || got != id || r->kind_case != WITAN__RESPONSE__KIND_SUBMIT) {
                if (r)
                    witan__response__free_unpacked(r, NULL);
                node_links_close(link);
                return (void *)1;
            }
        } else if (cli_call(addr, &req, 60000, &r)) {
            return (void *)1;
        }
        for (size_t j = 0; r->submit && j < r->submit->n_results; j++)
            if (r->submit->results[j]->error) {
                fprintf(stderr, "bench: refused: %s\n",
                        r->submit->results[j]->error->message);
                witan__response__free_unpacked(r, NULL);
                if (link)
                    node_links_close(link);
                return (void *)1;
            }
        witan__response__free_unpacked(r, NULL);
    }
    if (link)
        node_links_close(link);
    return NULL;
}

/* One sender per client (run_once with senders > 1): a key for each in
 * the home, each a member of the chain with the data_provider role, put
 * into genesis.json before the node first starts. 0 or -1. */
static int add_senders(const char *home)
{
    char path[300], *text = NULL, entry[256];
    size_t size;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    if (witan_read_file(path, 1 << 20, &text, &size) != 0)
        return -1;
    static const char members[] = "\"members\": [";
    const char *at = strstr(text, members);
    /* The new entries go right after the list's opening bracket. */
    size_t head = at ? (size_t)(at - text) + strlen(members) : 0;
    FILE *f = at ? fopen(path, "w") : NULL;
    bool ok = f != NULL;
    if (ok)
        ok = fwrite(text, 1, head, f) == head;
    for (int k = 0; ok && k < BENCH_CLIENTS; k++) {
        wcrypto_keypair kp;
        char key[300];
        snprintf(key, sizeof key, "%s/sender-%d.key", home, k);
        ok = wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &kp) == 0 &&
             wcrypto_keyfile_write(key, &kp) == 0;
        int n = snprintf(entry, sizeof entry,
                         "\n    {\"name\": \"sender-%d\", \"key_type\": "
                         "\"ed25519\", \"roles\": [\"data_provider\"], "
                         "\"pubkey\": \"",
                         k);
        for (int i = 0; ok && i < 32; i++)
            n += snprintf(entry + n, sizeof entry - (size_t)n, "%02x",
                          kp.pub.bytes[i]);
        snprintf(entry + n, sizeof entry - (size_t)n, "\"},");
        wcrypto_keypair_wipe(&kp);
        ok = ok && fputs(entry, f) >= 0;
    }
    if (ok)
        ok = fputs(text + head, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    free(text);
    return ok ? 0 : -1;
}

/* The load signed by the senders add_senders made: sender k's nonces 1,
 * 2, … fill client k's batches in order, so that no client's batch waits
 * in the pool's nonce window for another's. NULL on failure. */
static ProtobufCBinaryData *signed_by_clients(const char *home)
{
    ProtobufCBinaryData *all = calloc((size_t)tx_count, sizeof *all),
                        *own = calloc((size_t)tx_count, sizeof *own);
    uint8_t(*hashes)[32] = calloc((size_t)tx_count, 32);
    bool ok = all && own && hashes;
    for (int k = 0; ok && k < BENCH_CLIENTS; k++) {
        /* Client k sends batches k, k + CLIENTS, k + 2 CLIENTS, …: as
         * many transactions as it signs. */
        size_t per = 0;
        for (int i = k * BENCH_BATCH; i < tx_count;
             i += BENCH_CLIENTS * BENCH_BATCH)
            per += batch_at(i);
        char path[300];
        snprintf(path, sizeof path, "%s/sender-%d.key", home, k);
        ok = per == 0 ||
             nt_sign_attestations(path, "bench", 1, per, own, hashes) == 0;
        size_t m = 0;
        for (int i = k * BENCH_BATCH; ok && i < tx_count;
             i += BENCH_CLIENTS * BENCH_BATCH)
            for (size_t j = 0; j < batch_at(i); j++)
                all[(size_t)i + j] = own[m++];
        WITAN_ASSERT(!ok || m == per);
    }
    free(own);
    free(hashes);
    if (!ok) {
        for (int i = 0; all && i < tx_count; i++)
            free(all[i].data);
        free(all);
        return NULL;
    }
    return all;
}

/* Bytes the node handed to write(2) and its kin so far (database pages,
 * the consensus log, its own log): /proc/PID/io's wchar; 0 where absent. */
static uint64_t node_written(pid_t node)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)node);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* The node's anonymous resident memory (heap, stacks: not LMDB's mapped
 * file), sampled every few milliseconds while it runs; the peak is what
 * its pool and buffers cost at the load's height. */
struct rss_watch {
    pid_t pid;
    volatile int stop;
    uint64_t peak_kib;
};

static void *watch_rss(void *p)
{
    struct rss_watch *w = p;
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)w->pid);
    while (!w->stop) {
        FILE *f = fopen(path, "r");
        unsigned long long kib;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "RssAnon: %llu kB", &kib) == 1 &&
                kib > w->peak_kib)
                w->peak_kib = kib;
        if (f)
            fclose(f);
        usleep(5000);
    }
    return NULL;
}

/* One run with the node's signatures on `threads` threads
 * (verify_threads): committed attestations per second, or < 0; the
 * node's CPU seconds, and its loop's (the main thread) while loaded. */
static double run_once(unsigned threads, double *node_cpu_out,
                       double *loop_cpu_out, uint64_t *blocks_out,
                       double *elapsed_out, uint64_t *written_out,
                       uint64_t *peak_kib_out, double *checks_out)
{
    char exe[1100], home[256], cmd[4096];
    snprintf(home, sizeof home, "%s/witan-bench-%d-%u",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             threads);
    /* The pool must hold the whole load; the window covers interleaving. */
    snprintf(cmd, sizeof cmd,
             "%s/witan init --home %s --chain-id bench --listen %s >/dev/null"
             " && sed -i 's/^nonce_window = .*/nonce_window = %d/;"
             "s/^verify_threads = .*/verify_threads = %u/' %s/config"
             " && echo 'stream_listen = %s' >> %s/config",
             bin_dir, home, addr, tx_count, threads, home, stream_addr, home);
    if (system(cmd) != 0)
        return -1;
    if (senders > 1 && add_senders(home) != 0)
        return -1;
    char keyfile[300];
    snprintf(keyfile, sizeof keyfile, "%s/operator.key", home);
    envs = senders > 1 ? signed_by_clients(home)
                       : nt_signed_load(keyfile, "bench", (size_t)tx_count);
    if (!envs)
        return -1;

    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    struct rusage before;
    getrusage(RUSAGE_CHILDREN, &before);
    pid_t node = fork();
    if (node == 0) {
        char log[300];
        snprintf(log, sizeof log, "%s/log", home);
        freopen(log, "w", stderr);
        execl(exe, "witand", "--home", home, (char *)NULL);
        _exit(127);
    }
    uint64_t height = 0;
    uint32_t pool = 0;
    if (!nt_await_status(addr, 4000, &height)) {
        fprintf(stderr, "bench: node did not start\n");
        kill(node, SIGKILL);
        return -1;
    }

    struct rss_watch rss = {node, 0, 0};
    pthread_t watcher;
    pthread_create(&watcher, NULL, watch_rss, &rss);
    double start = nt_now_s(), loop0 = nt_thread_cpu_s(node, node);
    pthread_t threads_c[BENCH_CLIENTS];
    for (intptr_t k = 0; k < BENCH_CLIENTS; k++)
        pthread_create(&threads_c[k], NULL, client, (void *)k);
    int failed = 0;
    for (int k = 0; k < BENCH_CLIENTS; k++) {
        void *rc;
        pthread_join(threads_c[k], &rc);
        failed |= rc != NULL;
    }
    while (!failed) {
        if (!nt_status(addr, &height, &pool)) {
            failed = 1;
            break;
        }
        if (pool == 0)
            break;
        usleep(1000);
    }
    double elapsed = nt_now_s() - start;
    *loop_cpu_out = nt_thread_cpu_s(node, node) - loop0;
    *written_out = node_written(node);
    /* Signatures the node checked, over the transactions committed: 1.0
     * when each was checked once (the node started at none). */
    Witan__Response *m = nt_metrics(addr);
    *checks_out = m && m->metrics ? (double)m->metrics->tx_signatures_checked /
                                        tx_count
                                  : -1;
    if (m)
        witan__response__free_unpacked(m, NULL);
    rss.stop = 1;
    pthread_join(watcher, NULL);
    *peak_kib_out = rss.peak_kib;
    kill(node, SIGTERM);
    int ws;
    waitpid(node, &ws, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    *node_cpu_out = (double)(ru.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                    (ru.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
                    (double)(ru.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                    (ru.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", home);
    for (int i = 0; i < tx_count; i++)
        free(envs[i].data);
    free(envs);
    envs = NULL;
    if (failed) {
        fprintf(stderr, "bench: the run failed\n");
        return -1;
    }
    *blocks_out = height;
    *elapsed_out = elapsed;
    return tx_count / elapsed;
}

int main(int argc, char **argv)
{
    if (wcrypto_init() != 0)
        return 1;
    tx_count = argc > 1 ? atoi(argv[1]) : BENCH_TX_COUNT_DEFAULT;
    if (tx_count < 1) {
        fprintf(stderr, "usage: bench_solo [COUNT], COUNT at least 1\n");
        return 2;
    }
    char exe[1100];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    int port = 30000 + (int)(getpid() % 2000); /* below the ephemeral range */
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    snprintf(stream_addr, sizeof stream_addr, "tcp://127.0.0.1:%d", port + 1);
    printf("solo node: %d pre-signed attestations, %d clients, batches of "
           "%d, each client waiting for its answer before it sends again; "
           "the node's signature threads (verify_threads) 1, then 2, over "
           "nng REQ/REP; then 2 with the clients on the stream API (the "
           "node takes every waiting stream request in one round, where its "
           "REQ/REP socket gives one); last, 2 over REQ/REP with each client "
           "its own sender (in the runs before, one sender's nonces "
           "interleave across the clients)\n",
           tx_count, BENCH_CLIENTS, BENCH_BATCH);
    double verify2;
    double verify = nt_ed25519_verify_rates(1.0, 2, &verify2);
    static const struct {
        unsigned threads;
        bool stream;
        int senders;
        const char *label;
    } runs[] = {{1, false, 1, "1 thread "},
                {2, false, 1, "2 threads"},
                {2, true, 1, "2 threads, stream API"},
                {2, false, BENCH_CLIENTS, "2 threads, 4 senders"}};
    enum { RUNS = sizeof runs / sizeof runs[0] };
    double rates[RUNS], cpu1 = 0, loop1 = 0;
    for (int k = 0; k < RUNS; k++) {
        double cpu = 0, loop = 0, elapsed = 0;
        uint64_t blocks = 0, written = 0, peak_kib = 0;
        double checks = 0;
        use_stream = runs[k].stream;
        senders = runs[k].senders;
        rates[k] = run_once(runs[k].threads, &cpu, &loop, &blocks, &elapsed,
                            &written, &peak_kib, &checks);
        if (rates[k] < 0)
            return 1;
        printf("  committed attestations/s, %-21s %8.0f   (%d in "
               "%.2f s, %llu blocks, node CPU %.2f s, %.2f s of it on the "
               "loop, %.2f signature checks an attestation, written %.1f "
               "KiB an attestation, peak %.1f MiB resident besides the "
               "database's mapped file)\n",
               runs[k].label, rates[k], tx_count, elapsed,
               (unsigned long long)blocks, cpu, loop, checks,
               (double)written / 1024 / tx_count, (double)peak_kib / 1024);
        if (k == 0) {
            cpu1 = cpu;
            loop1 = loop;
        }
    }
    printf("  ed25519 verify/s, 1 core           %10.0f   (reference, same "
           "run)\n",
           verify);
    printf("  ed25519 verify/s, 2 threads at once %9.0f   (%.2f x 1 core: "
           "the most two verifier threads reach on this machine, with "
           "nothing else to do)\n",
           verify2, verify2 / verify);
    printf("  ratio, 1 thread                    %10.2f   (target >= 0.5)\n",
           rates[0] / verify);
    printf("  ratio, 2 threads                   %10.2f   (issue target >= "
           "1.5; the clients share the same two cores; %.2f of the "
           "2-thread rate above)\n",
           rates[1] / verify, rates[1] / verify2);
    printf("  ratio, 2 threads, stream API       %10.2f   (the same target; "
           "%.2f of the 2-thread rate above)\n",
           rates[2] / verify, rates[2] / verify2);
    printf("  ratio, 2 threads, 4 senders        %10.2f   (the same target; "
           "%.2f of the 2-thread rate above)\n",
           rates[3] / verify, rates[3] / verify2);
    /* Amdahl's law with the 1-thread run's costs: every core can verify,
     * but the loop admits, executes and commits one transaction at a
     * time, so its work besides the signature check bounds the rate
     * however many cores there are. */
    double total_us = 1e6 * cpu1 / tx_count;
    double serial_us = 1e6 * loop1 / tx_count - 1e6 / verify;
    if (serial_us > 0) {
        printf("  model: an attestation costs the node %.1f us of CPU, "
               "%.1f us of it on the loop besides its signature (serial)\n",
               total_us, serial_us);
        static const int cores[] = {2, 4, 16};
        for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++) {
            double by_cores = cores[i] * 1e6 / total_us,
                   by_loop = 1e6 / serial_us,
                   r = by_cores < by_loop ? by_cores : by_loop;
            printf("    %2d cores: at most %8.0f /s (%.2f x 1 core's "
                   "verify rate; bound by %s)\n",
                   cores[i], r, r / verify,
                   by_cores < by_loop ? "the cores" : "the loop");
        }
    } else {
        printf("  model: not drawn (the loop's CPU an attestation, %.1f us, "
               "is under the reference's time to verify one)\n",
               1e6 * loop1 / tx_count);
    }
    return 0;
}
