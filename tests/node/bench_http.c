/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the HTTP/JSON gateway costs: a real witand answers the same status
 * request sequentially over one HTTP/1.1 keep-alive connection (GET
 * /v1/status, rendered as JSON) and over one nng REQ socket (the protobuf
 * StatusRequest the gateway itself sends), timed in the same run. The
 * difference is the HTTP parsing, the hop through the gateway's thread and
 * inproc socket, and the JSON rendering.
 *
 *   bench_http [COUNT]
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

#define BENCH_COUNT_DEFAULT 5000

/* Reads one HTTP response (headers, then Content-Length bytes) from fd;
 * returns its status or -1. `buf` carries bytes read past it over. */
static int read_response(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strstr(buf, "Content-Length:");
            if (!cl || cl > end)
                return -1;
            size_t body = strtoul(cl + 15, NULL, 10);
            size_t total = (size_t)(end + 4 - buf) + body;
            if (*have >= total) {
                int status = atoi(buf + 9);
                memmove(buf, buf + total, *have - total);
                *have -= total;
                return status;
            }
        }
        if (*have + 1 >= cap)
            return -1;
        ssize_t r = read(fd, buf + *have, cap - *have - 1);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
}

static double bench_http(int port, int count)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    static const char req[] =
        "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    static char buf[65536];
    size_t have = 0;
    double start = nt_now_s();
    for (int i = 0; i < count; i++) {
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1) ||
            read_response(fd, buf, sizeof buf, &have) != 200) {
            close(fd);
            return -1;
        }
    }
    double t = nt_now_s() - start;
    close(fd);
    return t;
}

static double bench_nng(const char *addr, int count)
{
    nng_socket s;
    if (nng_req0_open(&s) != 0 || nng_dial(s, addr, NULL, 0) != 0)
        return -1;
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest sr = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &sr;
    uint8_t packed[64];
    size_t size = witan__request__pack(&req, packed);
    double start = nt_now_s();
    for (int i = 0; i < count; i++) {
        nng_msg *msg;
        if (nng_send(s, packed, size, 0) != 0 || nng_recvmsg(s, &msg, 0) != 0)
            return -1;
        Witan__Response *r = witan__response__unpack(NULL, nng_msg_len(msg),
                                                     nng_msg_body(msg));
        nng_msg_free(msg);
        if (!r || !r->status)
            return -1;
        witan__response__free_unpacked(r, NULL);
    }
    double t = nt_now_s() - start;
    nng_close(s);
    return t;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : BENCH_COUNT_DEFAULT;
    if (count <= 0 || wcrypto_init() != 0)
        return 2;
    char exe[1024], bin_dir[1100], home[512], addr[64], cmd[4096];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(home, sizeof home, "%s/witan-bench-http-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    int port = 5000 + (int)(getpid() % 2500) * 4 + 2;
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    snprintf(cmd, sizeof cmd,
             "%s/witan init --home %s --chain-id bench --listen %s "
             ">/dev/null && echo 'http_listen = http://127.0.0.1:%d' >> "
             "%s/config",
             bin_dir, home, addr, port + 1, home);
    if (system(cmd) != 0)
        return 1;
    pid_t node = fork();
    if (node == 0) {
        char daemon[1200], log[600];
        snprintf(daemon, sizeof daemon, "%s/witand", bin_dir);
        snprintf(log, sizeof log, "%s/log", home);
        freopen(log, "a", stderr);
        execl(daemon, "witand", "--home", home, (char *)NULL);
        _exit(127);
    }
    double http_s = -1, nng_s = -1;
    for (int i = 0; i < 250 && http_s < 0; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        http_s = bench_http(port + 1, 10); /* warm up, and wait for it */
    }
    if (http_s >= 0) {
        nng_s = bench_nng(addr, count);
        http_s = bench_http(port + 1, count);
    }
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd) != 0)
        return 1;
    if (http_s < 0 || nng_s < 0) {
        fprintf(stderr, "bench_http: the node did not answer\n");
        return 1;
    }
    printf("status requests, one client, sequential (%d each):\n", count);
    printf("  nng REQ/REP, protobuf (reference) %8.0f /s  %6.1f us each\n",
           count / nng_s, 1e6 * nng_s / count);
    printf("  HTTP/1.1 keep-alive, JSON         %8.0f /s  %6.1f us each\n",
           count / http_s, 1e6 * http_s / count);
    printf("  gateway overhead                  %8.1f us per request\n",
           1e6 * (http_s - nng_s) / count);
    return 0;
}
