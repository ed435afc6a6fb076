/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client-side helpers shared by the node tests and benchmarks.
 */
#include "tests/node/nodetest.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#include <nng/protocol/reqrep0/req.h>

#include "node/node.h"

void nt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int64_t nt_attest_time_base_ms = 0;
int nt_attest_co2_span = 5000;

int nt_sign_attestations(const char *key_path, const char *chain,
                         uint64_t first_nonce, size_t count,
                         ProtobufCBinaryData *envs, uint8_t (*hashes)[32])
{
    wcrypto_keypair kp;
    int err = wcrypto_keyfile_read(key_path, &kp);
    if (err)
        return err;
    uint8_t addr[20];
    wcrypto_address(&kp.pub, addr);
    for (size_t i = 0; i < count && !err; i++) {
        uint64_t k = first_nonce - 1 + i;
        Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
        v.name = "co2";
        v.mantissa = 40000 + (int64_t)(k % (uint64_t)nt_attest_co2_span);
        v.scale = 2;
        Witan__NamedValue *vs[] = {&v};
        Witan__Attest a = WITAN__ATTEST__INIT;
        a.feed = "climate/co2/mauna-loa";
        a.subject = "mauna-loa";
        a.observed_at_ms = nt_attest_time_base_ms + (int64_t)k * 60000;
        a.n_values = 1;
        a.values = vs;
        a.unit = "ppm";
        Witan__TxBody b = WITAN__TX_BODY__INIT;
        b.chain_id = (char *)chain;
        b.sender = (ProtobufCBinaryData){20, addr};
        b.nonce = k + 1;
        b.payload_case = WITAN__TX_BODY__PAYLOAD_ATTEST;
        b.attest = &a;
        err = cli_sign_tx(&b, &kp, &envs[i].data, &envs[i].len, hashes[i]);
    }
    wcrypto_keypair_wipe(&kp);
    return err;
}

static Witan__Response *call(const char *addr, Witan__Request *req)
{
    Witan__Response *r = NULL;
    if (cli_call(addr, req, 5000, &r) != 0)
        return NULL;
    return r;
}

Witan__Response *nt_metrics(const char *addr)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__MetricsRequest mq = WITAN__METRICS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_METRICS;
    req.metrics = &mq;
    Witan__Response *r = call(addr, &req);
    if (r && r->kind_case != WITAN__RESPONSE__KIND_METRICS) {
        witan__response__free_unpacked(r, NULL);
        r = NULL;
    }
    return r;
}

bool nt_signatures_checked(const char *addr, uint64_t *count)
{
    Witan__Response *m = nt_metrics(addr);
    if (!m)
        return false;
    *count = m->metrics->tx_signatures_checked;
    witan__response__free_unpacked(m, NULL);
    return true;
}

/* The answer to a status request, which it frees: whether it is one,
 * with the height and pool size (pool may be NULL). */
static bool status_answer(Witan__Response *r, uint64_t *height, uint32_t *pool)
{
    bool ok = r && r->status;
    if (ok) {
        *height = r->status->height;
        if (pool)
            *pool = r->status->mempool_count;
    }
    if (r)
        witan__response__free_unpacked(r, NULL);
    return ok;
}

bool nt_status(const char *addr, uint64_t *height, uint32_t *pool)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    return status_answer(call(addr, &req), height, pool);
}

bool nt_await_status(const char *addr, int timeout_ms, uint64_t *height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest s = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &s;
    for (int tried = 0; tried <= timeout_ms; tried += NT_AWAIT_STEP_MS) {
        nng_socket sock;
        if (nt_dial(addr, &sock)) {
            nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000);
            Witan__Response *r = nt_rpc(sock, &req);
            nng_close(sock);
            if (status_answer(r, height, NULL))
                return true;
        }
        nt_sleep_ms(NT_AWAIT_STEP_MS);
    }
    return false;
}

static void tx_request(Witan__Request *req, Witan__TxRequest *t,
                       const uint8_t hash[32])
{
    t->tx_hash = (ProtobufCBinaryData){32, (uint8_t *)hash};
    req->kind_case = WITAN__REQUEST__KIND_TX;
    req->tx = t;
}

/* The state in an answer to a TxRequest, which it frees. */
static int tx_state(Witan__Response *r, uint64_t *height)
{
    int state = -1;
    if (r && r->tx) {
        state = r->tx->state;
        if (height && r->tx->receipt)
            *height = r->tx->receipt->height;
    }
    if (r)
        witan__response__free_unpacked(r, NULL);
    return state;
}

int nt_tx_state(const char *addr, const uint8_t hash[32], uint64_t *height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__TxRequest t = WITAN__TX_REQUEST__INIT;
    tx_request(&req, &t, hash);
    return tx_state(call(addr, &req), height);
}

int nt_tx_state_on(nng_socket sock, const uint8_t hash[32], uint64_t *height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__TxRequest t = WITAN__TX_REQUEST__INIT;
    tx_request(&req, &t, hash);
    return tx_state(nt_rpc(sock, &req), height);
}

bool nt_dial(const char *addr, nng_socket *sock)
{
    if (nng_req0_open(sock) != 0)
        return false;
    nng_socket_set_ms(*sock, NNG_OPT_RECVTIMEO, 60000);
    if (nng_dial(*sock, addr, NULL, 0) != 0) {
        nng_close(*sock);
        return false;
    }
    return true;
}

Witan__Response *nt_rpc(nng_socket sock, const Witan__Request *req)
{
    size_t size = witan__request__get_packed_size(req);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, size) != 0)
        return NULL;
    witan__request__pack(req, nng_msg_body(msg));
    if (nng_sendmsg(sock, msg, 0) != 0) {
        nng_msg_free(msg);
        return NULL;
    }
    if (nng_recvmsg(sock, &msg, 0) != 0)
        return NULL;
    Witan__Response *r =
        witan__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    return r;
}

bool nt_block(const char *addr, uint64_t height, uint8_t hash[32],
              uint8_t root[32])
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest b = WITAN__BLOCK_REQUEST__INIT;
    b.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &b;
    Witan__Response *r = call(addr, &req);
    bool ok = r && r->block && r->block->block_hash.len == 32 &&
              r->block->state_root.len == 32;
    if (ok) {
        memcpy(hash, r->block->block_hash.data, 32);
        memcpy(root, r->block->state_root.data, 32);
    }
    if (r)
        witan__response__free_unpacked(r, NULL);
    return ok;
}

bool nt_submit(const char *addr, ProtobufCBinaryData *envs, size_t count,
               size_t batch)
{
    for (size_t i = 0; i < count; i += batch) {
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
        sr.n_envelopes = count - i < batch ? count - i : batch;
        sr.envelopes = &envs[i];
        req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
        req.submit = &sr;
        Witan__Response *r = call(addr, &req);
        if (!r)
            return false;
        witan__response__free_unpacked(r, NULL);
    }
    return true;
}

int nt_http(int port, const char *method, const char *path, const char *type,
            const void *body, size_t size, char *out, size_t out_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char head[1024];
    int n = body ? snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: test\r\nConnection: "
                            "close\r\nContent-Type: %s\r\nContent-Length: "
                            "%zu\r\n\r\n",
                            method, path, type, size)
                 : snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: test\r\nConnection: "
                            "close\r\n\r\n",
                            method, path);
    bool ok = write(fd, head, (size_t)n) == n &&
              (!body || write(fd, body, size) == (ssize_t)size);
    size_t got = 0;
    ssize_t r;
    while (ok && got + 1 < out_size &&
           (r = read(fd, out + got, out_size - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fd);
    int code = -1;
    if (ok && sscanf(out, "HTTP/1.1 %d", &code) != 1)
        code = -1;
    return code;
}

pid_t nt_spawn_witand(const char *exe, const char *home, const char *log,
                      const char *mutation)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setsid();
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (mutation)
        setenv("WITAN_MUTATE", mutation, 1);
    execl(exe, "witand", "--home", home, (char *)NULL);
    _exit(127);
}

int nt_run(char *out, size_t out_size, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    WITAN_ASSERT(len >= 0 && (size_t)len < sizeof cmd && out_size > 0);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct verify_run {
    double seconds, rate;
};

static void *verify_loop(void *p)
{
    struct verify_run *v = p;
    wcrypto_keypair kp;
    uint8_t digest[32] = {7}, sig[64];
    WITAN_ASSERT(wcrypto_keypair_generate(WCRYPTO_KEY_ED25519, &kp) == 0);
    WITAN_ASSERT(wcrypto_sign(&kp, digest, sig) == 0);
    int n = 0;
    double start = mono_s(), t;
    do {
        for (int i = 0; i < 256; i++)
            WITAN_ASSERT(wcrypto_verify(&kp.pub, digest, sig) == 0);
        n += 256;
        t = mono_s() - start;
    } while (t < v->seconds);
    wcrypto_keypair_wipe(&kp);
    v->rate = n / t;
    return NULL;
}

double nt_ed25519_verify_rate(double seconds)
{
    struct verify_run v = {seconds, 0};
    verify_loop(&v);
    return v.rate;
}

double nt_ed25519_verify_rate_together(double seconds, unsigned threads)
{
    struct verify_run v[NT_VERIFY_THREADS_MAX];
    pthread_t t[NT_VERIFY_THREADS_MAX];
    WITAN_ASSERT(threads >= 1 && threads <= NT_VERIFY_THREADS_MAX);
    for (unsigned i = 0; i < threads; i++) {
        v[i] = (struct verify_run){seconds, 0};
        WITAN_ASSERT(pthread_create(&t[i], NULL, verify_loop, &v[i]) == 0);
    }
    double sum = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        sum += v[i].rate;
    }
    return sum;
}

double nt_ed25519_verify_rates(double seconds, unsigned threads,
                               double *together)
{
    double before = nt_ed25519_verify_rate(seconds / 2);
    *together = nt_ed25519_verify_rate_together(seconds, threads);
    return (before + nt_ed25519_verify_rate(seconds / 2)) / 2;
}

uint64_t nt_submit_committed(const char *addr, ProtobufCBinaryData *env,
                             const uint8_t hash[32], int ms)
{
    if (!nt_submit(addr, env, 1, 1))
        return 0;
    uint64_t at = 0;
    for (int t = 0; t < ms / 10; t++) {
        if (nt_tx_state(addr, hash, &at) == WITAN__TX_STATE__TX_STATE_COMMITTED)
            return at;
        nt_sleep_ms(10);
    }
    return 0;
}

/* LMDB keeps two meta pages and takes the one with the higher
 * transaction id; zeroing the newer one's id (offset 16 + 128 in its page:
 * the page header, then magic, version, address, map size, two 48-byte
 * trees and the last page) leaves the commit before it. The lock file
 * goes too: no process has it open, and LMDB makes it again. */
uint64_t nt_undo_last_commit(const char *home)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/data.mdb", home);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return 0;
    uint8_t page[4096];
    uint32_t magic = 0, psize = 0;
    uint64_t txnid[2] = {0, 0};
    bool ok = pread(fd, page, sizeof page, 0) == (ssize_t)sizeof page;
    if (ok) {
        memcpy(&magic, page + 16, 4);
        memcpy(&psize, page + 40, 4); /* the free tree's md_pad: page size */
        ok = magic == 0xBEEFC0DE && psize >= 4096;
    }
    for (int m = 0; ok && m < 2; m++)
        ok = pread(fd, &txnid[m], 8, (off_t)m * psize + 144) == 8;
    int newer = txnid[1] > txnid[0];
    ok = ok && txnid[newer] == txnid[!newer] + 1;
    uint64_t zero = 0;
    ok = ok && pwrite(fd, &zero, 8, (off_t)newer * psize + 144) == 8 &&
         fsync(fd) == 0;
    close(fd);
    snprintf(path, sizeof path, "%s/data/lock.mdb", home);
    unlink(path);
    return ok ? txnid[newer] : 0;
}

int nt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        fprintf(stderr, "nt_free_port: no port\n");
        abort();
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* utime + stime of a /proc stat file, in seconds; 0 when unreadable. */
static double stat_cpu_s(const char *path)
{
    char stat[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* Fields 14 and 15 (utime, stime), after the ")" that ends the name. */
    char *p = strrchr(stat, ')');
    unsigned long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double nt_proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu_s(path);
}

double nt_thread_cpu_s(pid_t pid, pid_t tid)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    return stat_cpu_s(path);
}

struct node_links *nt_links_to(const char *url, size_t frame_size_max,
                               uint32_t count)
{
    struct node_links_config c;
    memset(&c, 0, sizeof c);
    c.frame_size_max = frame_size_max;
    c.in_queue_count = c.out_queue_count = count;
    c.in_queue_size = c.out_queue_size = 2 * frame_size_max;
    struct node_links *k;
    if (node_links_open(&c, &k) != 0 || node_links_dial(k, 0, url, NULL) != 0) {
        fprintf(stderr, "nt_links_to: cannot open links to %s\n", url);
        abort();
    }
    return k;
}

int nt_stream_queue(struct node_links *k, uint64_t id,
                    const Witan__Request *req)
{
    size_t size = 8 + witan__request__get_packed_size(req);
    uint8_t small[512];
    uint8_t *frame = size <= sizeof small ? small : malloc(size);
    if (!frame)
        return WITAN_ENOMEM;
    for (int i = 0; i < 8; i++)
        frame[i] = (uint8_t)(id >> (56 - 8 * i));
    witan__request__pack(req, frame + 8);
    int err = node_links_send(k, 0, frame, size);
    if (frame != small)
        free(frame);
    return err;
}

Witan__Response *nt_stream_answer(struct node_links *k, int ms, uint64_t *id)
{
    struct pollfd p = {.fd = node_links_fd(k), .events = POLLIN};
    for (int t = 0; t <= ms; t += 5) {
        nng_msg *m;
        if (node_links_recv(k, &m, NULL) != 0) {
            poll(&p, 1, 5);
            continue;
        }
        const uint8_t *b = nng_msg_body(m);
        size_t len = nng_msg_len(m);
        Witan__Response *r = NULL;
        if (len >= 8) {
            *id = 0;
            for (int i = 0; i < 8; i++)
                *id = *id << 8 | b[i];
            r = witan__response__unpack(NULL, len - 8, b + 8);
        }
        nng_msg_free(m);
        return r;
    }
    return NULL;
}

ProtobufCBinaryData *nt_signed_load(const char *key_path, const char *chain,
                                    size_t count)
{
    ProtobufCBinaryData *envs = calloc(count, sizeof *envs);
    uint8_t(*hashes)[32] = calloc(count, 32);
    if (!envs || !hashes ||
        nt_sign_attestations(key_path, chain, 1, count, envs, hashes) != 0) {
        free(envs);
        envs = NULL;
    }
    free(hashes);
    return envs;
}

double nt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
