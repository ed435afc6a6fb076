/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the node tests and benchmarks: talking to a running witand
 * over its client API, and signing streams of attestations.
 */
#ifndef WITAN_TESTS_NODETEST_H
#define WITAN_TESTS_NODETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include <nng/nng.h>

#include "cli/cli.h"

struct node_links;

void nt_sleep_ms(int ms);
/* Seconds on the monotonic clock. */
double nt_now_s(void);

/* Signs `count` attestations of climate/co2/mauna-loa by the member whose
 * key file is `key_path`, with nonces first_nonce, first_nonce + 1, ... and
 * one observation a minute; envs[i].data is malloc'ed. 0 or an error. */
/* What nt_sign_attestations observes: from this time (default 1970), co2
 * values 400.00 + (k mod span) / 100 (default span 5000). */
extern int64_t nt_attest_time_base_ms;
extern int nt_attest_co2_span;
int nt_sign_attestations(const char *key_path, const char *chain,
                         uint64_t first_nonce, size_t count,
                         ProtobufCBinaryData *envs, uint8_t (*hashes)[32]);

/* `count` attestations signed as nt_sign_attestations does from nonce 1,
 * in a calloc'ed array (free each data, then the array); NULL on failure. */
ProtobufCBinaryData *nt_signed_load(const char *key_path, const char *chain,
                                    size_t count);

/* The metrics answer of the node at `addr` (r->metrics set); NULL when
 * it does not answer with one. The caller frees it. */
Witan__Response *nt_metrics(const char *addr);
/* The transaction signatures the node at `addr` has checked since it
 * started (its metrics); false when it does not answer. */
bool nt_signatures_checked(const char *addr, uint64_t *count);

/* Height and pool size of the node at `addr`; false when it does not
 * answer. */
bool nt_status(const char *addr, uint64_t *height, uint32_t *pool);

/* Waits up to timeout_ms for the node at `addr` to answer a status
 * request, trying every NT_AWAIT_STEP_MS: true with its height. Quiet
 * while nothing listens yet (a node starting), where nt_status, through
 * the CLI's client, says each refusal on stderr. */
#define NT_AWAIT_STEP_MS 20
bool nt_await_status(const char *addr, int timeout_ms, uint64_t *height);

/* The state of a transaction (Witan__TxState), its height when committed;
 * -1 when the node does not answer. */
int nt_tx_state(const char *addr, const uint8_t hash[32], uint64_t *height);

/* The same over a long-lived connection (see nt_dial). */
int nt_tx_state_on(nng_socket sock, const uint8_t hash[32], uint64_t *height);

/* A long-lived REQ connection to the node at `addr` (a fresh connection per
 * request costs more than what benchmarks measure); false when it cannot
 * dial. Close it with nng_close. */
bool nt_dial(const char *addr, nng_socket *sock);
/* One request over it: the answer (free it with
 * witan__response__free_unpacked), or NULL. */
Witan__Response *nt_rpc(nng_socket sock, const Witan__Request *req);

/* Hash and state root of block `height`; false when absent or unreachable. */
bool nt_block(const char *addr, uint64_t height, uint8_t hash[32],
              uint8_t root[32]);

/* Submits envs[0..count) in batches; false as soon as the node does not
 * answer (refusals inside a batch are not failures here). */
bool nt_submit(const char *addr, ProtobufCBinaryData *envs, size_t count,
               size_t batch);

/* Starts program `exe` (a witand) as `witand --home home` in a session of
 * its own, stdout and stderr appended to `log`, with WITAN_MUTATE=mutation
 * in its environment when mutation is not NULL: its pid, or -1. */
pid_t nt_spawn_witand(const char *exe, const char *home, const char *log,
                      const char *mutation);

/* One HTTP/1.1 request to 127.0.0.1:port with Connection: close (a body
 * of `size` bytes of `type` when body is not NULL): the status code, and the
 * whole answer, NUL-terminated and cut at out_size, in out. -1 when nothing
 * listens. */
int nt_http(int port, const char *method, const char *path, const char *type,
            const void *body, size_t size, char *out, size_t out_size);

/* Runs a shell command (printf-style): its exit status, or -1 when it did
 * not run or exit; its stdout (and what the command sends there) in out,
 * NUL-terminated and cut at out_size. */
int nt_run(char *out, size_t out_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Submits one envelope to `addr` and waits up to `ms` milliseconds for it
 * to commit: the height it committed at, 0 when it did not. */
uint64_t nt_submit_committed(const char *addr, ProtobufCBinaryData *env,
                             const uint8_t hash[32], int ms);

/* What a power loss can do to the database of the stopped node at `home`
 * under MDB_NOMETASYNC: its last commit's meta page never reached the
 * disk, so LMDB opens the commit before it. Returns the transaction id
 * undone; 0 when the file is not as expected (two meta pages one commit
 * apart). */
uint64_t nt_undo_last_commit(const char *home);

/* A port the kernel says is free now (bound to port 0 on 127.0.0.1, then
 * released), so that tests running at the same time do not collide. */
int nt_free_port(void);

/* CPU seconds (user and system) process `pid` has used, from /proc; 0
 * when it cannot be read. */
double nt_proc_cpu_s(pid_t pid);
/* The same for one of its threads (tid == pid: the main thread). */
double nt_thread_cpu_s(pid_t pid, pid_t tid);

/* A link set of its own (node/link.c) with one stream dialled to `url` as
 * link 0: a raw peer of the validator links, or a client of the stream
 * API. Frames up to `frame_size_max` both ways, `count` queued each way.
 * Aborts the program when it cannot be opened. */
struct node_links *nt_links_to(const char *url, size_t frame_size_max,
                               uint32_t count);
/* Stream API (spec/api.md): queues request `req` under `id` on link 0
 * (unflushed); 0 or the link's error. */
int nt_stream_queue(struct node_links *k, uint64_t id,
                    const Witan__Request *req);
/* The next answer within ms milliseconds, its id in *id; NULL when none
 * came or it does not decode. */
Witan__Response *nt_stream_answer(struct node_links *k, int ms, uint64_t *id);

/* This machine's single-core Ed25519 verifications per second, measured
 * over `seconds`: the reference the node benchmarks divide by. */
double nt_ed25519_verify_rate(double seconds);
/* The same on `threads` threads at once (at most NT_VERIFY_THREADS_MAX),
 * summed: what the machine's cores verify together, which on a shared
 * or hyperthreaded machine is less than threads times one core's rate.
 * The ceiling a node's several verifier threads (or several nodes on one
 * machine) can reach. */
#define NT_VERIFY_THREADS_MAX 64
double nt_ed25519_verify_rate_together(double seconds, unsigned threads);
/* Both, for a benchmark that prints them side by side: one core's rate
 * (returned) measured half before and half after `threads` together
 * (*together), so that a machine whose speed drifts during the second
 * does not make the two disagree. */
double nt_ed25519_verify_rates(double seconds, unsigned threads,
                               double *together);

#endif
