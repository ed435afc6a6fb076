/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What node/'s files share: the mempool, and the HTTP gateway.
 */
#ifndef WITAN_NODE_INTERNAL_H
#define WITAN_NODE_INTERNAL_H

#include "ledger/ledger.h"
#include "node/node.h"

/* Passes over the pool when selecting, to pick up nonces that arrived out of
 * order; each pass is O(pool). */
#define MEMPOOL_SELECT_PASS_MAX 4
/* The pool keeps its entries decoded, oldest first, while what that holds
 * stays under size_max / MEMPOOL_DECODED_SHARE; the rest keep only their
 * bytes and are decoded again when a block executes them. */
#define MEMPOOL_DECODED_SHARE 2
/* Values of struct mempool's `selected`. */
enum { MEMPOOL_FREE = 0, MEMPOOL_SELECTED = 1, MEMPOOL_IN_FLIGHT = 2 };

/* A sender's last applied nonce as read when the ledger was at at − 1
 * (at 0: an empty slot). */
struct mempool_sender {
    uint8_t addr[WITAN_ADDRESS_SIZE];
    uint64_t applied, at;
};

struct mempool {
    struct ledger_tx *txs; /* arrival order; owned */
    uint8_t *selected;     /* per entry, MEMPOOL_*, for the block built */
    uint64_t *proposed;    /* per entry, height of this node's last
                              proposal holding it (0: none) */
    int64_t *admitted_us;  /* per entry, when it was added (the caller's
                              clock): commit latency is timed from it */
    struct mempool_sender *senders; /* applied nonces read, table_cap */
    uint32_t sender_count;
    uint32_t count, count_max;
    uint64_t size, size_max;
    /* What the entries kept decoded hold (ledger_tx.decoded_size), and its
     * bound: size_max / MEMPOOL_DECODED_SHARE. */
    uint64_t decoded, decoded_max;
    uint32_t *by_hash, *by_nonce; /* open addressing, entry index + 1 */
    size_t table_cap;
};

int mempool_init(struct mempool *m, uint32_t count_max, uint64_t size_max);
void mempool_free(struct mempool *m);
/* Takes ownership of *tx on success (and zeroes it), added at time
 * `admitted_us`. WITAN_EEXIST (already pending), WITAN_ENONCE (nonce held
 * by another), WITAN_EFULL. */
int mempool_add(struct mempool *m, struct ledger_tx *tx, int64_t admitted_us,
                char *why, size_t why_size);
const struct ledger_tx *mempool_find(const struct mempool *m,
                                     const uint8_t hash[WITAN_HASH_SIZE]);
/* When the pooled transaction with this hash was added; 0 if not pooled. */
int64_t mempool_admitted_us(const struct mempool *m,
                            const uint8_t hash[WITAN_HASH_SIZE]);
/* Whether the pool holds exactly these envelope bytes: then they passed
 * every stateless check, the signature included, when admitted. The same
 * hash is not enough: it covers the body, and a proposer could pair a
 * pooled body with other signature bytes. *hash gets the transaction hash
 * when the envelope decodes (it is left alone otherwise). */
bool mempool_holds(const struct mempool *m, const uint8_t *env, size_t size,
                   uint8_t hash[WITAN_HASH_SIZE]);
/* mempool_holds for an envelope whose transaction hash is known. */
bool mempool_holds_bytes(const struct mempool *m,
                         const uint8_t hash[WITAN_HASH_SIZE],
                         const uint8_t *env, size_t size);
/* Moves the decoded form (envelope, body, hash, sender, nonce) of the
 * pooled transaction with this hash into *out, for ledger_block_apply to
 * execute; the entry keeps its bytes. False (and *out zeroed) when it is
 * not pooled or not kept decoded. */
bool mempool_take_decoded(struct mempool *m,
                          const uint8_t hash[WITAN_HASH_SIZE],
                          struct ledger_tx *out);
/* The pooled transaction holding (sender, nonce), or NULL. */
const struct ledger_tx *mempool_find_nonce(const struct mempool *m,
                                           const uint8_t *sender,
                                           uint64_t nonce);

/* --- the consensus-record log (node/records.c, spec/node.md) ----------------- */

#define NODE_RECORDS_PATH_MAX 1024
/* The log's place in a node's home. */
#define NODE_RECORDS_FILE "data/consensus.log"
struct node_records;
/*
 * Opens the log at `path`, which is created (holding `initial`, in order)
 * when absent; a log of another owner is emptied (logged). A write cut
 * short at its end is dropped. *records (node_records_free) gets its
 * records in order but those about a height at or below `stable`.
 * WITAN_EDBCORRUPT (no valid header; logged), WITAN_EIO, WITAN_ENOSPACE,
 * WITAN_ELIMIT (path too long), WITAN_ENOMEM. On success *out is the
 * caller's: node_records_close.
 */
int node_records_open(const char *path, const wcrypto_pubkey *owner,
                      uint64_t stable, const pbft_bytes *initial,
                      size_t initial_count, struct node_records **out,
                      pbft_bytes **records, size_t *count);
void node_records_free(pbft_bytes *records, size_t count);
void node_records_close(struct node_records *rl);
/* Appends the PERSIST records among `actions`, in order, with one write
 * and, unless every one is lazy, one fdatasync (*synced); *written gets
 * their count. WITAN_EIO, WITAN_ENOSPACE, WITAN_ENOMEM (logged but
 * ENOMEM). */
int node_records_append(struct node_records *rl, const pbft_action *actions,
                        size_t action_count, size_t *written, bool *synced);
/* Makes lazy records written since the last sync durable (a stable
 * checkpoint: the core's anchor for them may go). Errors as append. */
int node_records_sync(struct node_records *rl);
/* A clean stop: appends the stop mark, synced, after which nothing may be
 * appended or sent. Errors as append. */
int node_records_mark_stopped(struct node_records *rl);
/* Whether the log ended with the stop mark when it was opened (the mark
 * is then taken off the file and out of the records). */
bool node_records_stopped_cleanly(const struct node_records *rl);
/* Once the log has grown enough since it was last rewritten, rewrites it
 * without the records at or below `stable`. Errors as append. */
int node_records_prune(struct node_records *rl, uint64_t stable);
/* The records become `to`'s when they are `from`'s (rewritten); nothing
 * otherwise. Errors as append. */
int node_records_rekey(struct node_records *rl, const wcrypto_pubkey *from,
                       const wcrypto_pubkey *to);
/* The same for the log at `path` while no one has it open (a validator
 * starting with its rotated key); nothing when there is none. */
int node_records_rekey_file(const char *path, const wcrypto_pubkey *from,
                            const wcrypto_pubkey *to);
/* Bytes of the log, its header included. */
uint64_t node_records_size(const struct node_records *rl);

/* --- dropped transactions (node/drops.c, table 12) ---------------------------- */

/* Drops remembered at least; older ones are forgotten. */
#define NODE_DROPS_COUNT_MAX 100000
struct node_drop {
    uint8_t hash[WITAN_HASH_SIZE]; /* the dropped transaction */
    uint8_t by[WITAN_HASH_SIZE];   /* the committed one that took its nonce */
};
/* Records drops (a hash already recorded is skipped), keeping the last
 * `bound`. Storage errors. */
int node_drops_record(store *s, uint32_t bound, const struct node_drop *drops,
                      size_t count);
/* 0 and *by for a remembered drop, WITAN_ENOTFOUND, storage errors. */
int node_drops_find(store *s, const uint8_t hash[WITAN_HASH_SIZE],
                    uint8_t by[WITAN_HASH_SIZE]);
/* Marks (MEMPOOL_SELECTED) and returns, pointers into the pool, up to
 * count_max transactions, leaving out those in flight: held
 * (mempool_hold) or proposed by this node at a height in (lo, hi). Call
 * with no other marks; mempool_clear_selection after. */
size_t mempool_select(struct mempool *m, ledger *l, uint64_t lo, uint64_t hi,
                      size_t count_max, size_t size_max,
                      struct ledger_tx **out);
/* Holds a pooled transaction out of the next mempool_select (it is in
 * another node's block in flight). */
void mempool_hold(struct mempool *m, const struct ledger_tx *tx);
/* The selected transactions are in this node's proposal at `height`. */
void mempool_propose_selected(struct mempool *m, uint64_t height);
/* Forgets proposals at heights lo … hi (executed, or replaced by
 * another block at that height). */
void mempool_unpropose(struct mempool *m, uint64_t lo, uint64_t hi);
/* Removes what the last mempool_select marked (after its block committed). */
void mempool_remove_selected(struct mempool *m);
void mempool_drop_stale(struct mempool *m, ledger *l);
/* Forgets the marks of the last mempool_select (a proposal that did not
 * become a block must not remove anything). */
void mempool_clear_selection(struct mempool *m);
/* Marks the transaction with this hash, if pooled, for removal by
 * mempool_remove_selected. */
void mempool_mark(struct mempool *m, const uint8_t hash[WITAN_HASH_SIZE]);

/* --- the node ----------------------------------------------------------- */

#include <nng/nng.h>

#define NODE_IDLE_WAIT_MS 50
#define NODE_REQUESTS_PER_ROUND_MAX 256
/* A stream API frame begins with the request's id, echoed in its answer. */
#define NODE_STREAM_ID_SIZE 8
/* A serving round whose requests submit at least this many transactions
 * has their signatures checked on the pool while the loop goes on with
 * consensus (executing blocks), and is answered after it (replica.c).
 * Below it the round is answered at once: at a light load, waiting for a
 * block's execution would cost latency and save nothing. */
#define NODE_OVERLAP_ENVELOPES_MIN 64
/* All of one stream's held status requests falling due together fit its
 * queue of answers (2 x NODE_REQUESTS_PER_ROUND_MAX) beside a round's. */
_Static_assert(WITAN_STATUS_WAIT_STREAM_MAX <= NODE_REQUESTS_PER_ROUND_MAX,
               "held status answers fit a stream's queue");
/* How soon a held status answer its stream had no room for is tried
 * again (status.c). */
#define NODE_STATUS_RETRY_MS 100

struct replica; /* node/replica.c: consensus with other validators */

#define NODE_LATENCY_BUCKET_COUNT 13

/* What /metrics reports (server.c, spec/api.md). Commit latency runs from a
 * transaction's admission to its block's commit: admission times are kept
 * by the first 8 bytes of the hash in an open-addressing table twice the
 * pool's size, emptied (losing those samples) if transactions the pool
 * dropped as stale ever fill three quarters of it. */
/* Refusal reasons counted: WITAN_E* codes are negative and dense, so -code
 * indexes the counts (common.h; a code past it counts as the last). */
#define NODE_REFUSAL_CODE_MAX 128
/* Recent heights whose proposal time is kept for the phase metrics: a
 * block commits within the consensus window of its proposal. */
#define NODE_PHASE_RING 256
/* Refusals are logged as one summary line per this interval at most. */
#define NODE_REFUSAL_LOG_MS 60000
struct node_metrics {
    uint64_t commits;
    uint64_t tx_admitted;
    uint64_t status_deferred; /* held status answers put off: stream full */
    uint64_t tx_refused[NODE_REFUSAL_CODE_MAX]; /* by -code */
    /* The counts at the last summary line, and its time. */
    uint64_t tx_refused_logged[NODE_REFUSAL_CODE_MAX];
    int64_t refusal_log_ms;
    uint64_t latency_bucket[NODE_LATENCY_BUCKET_COUNT]; /* not cumulative */
    uint64_t latency_over, latency_sum_ms, latency_count;
    /* Where the time of the transactions this node admitted went, summed
     * over phase_count of them (spec/node.md, "Metrics"): admission to the
     * proposal that carried it (built here, or first judged here), that
     * proposal to its commit (the core delivering it), and commit to
     * durable (the ledger's synced write). */
    uint64_t phase_admit_proposal_us, phase_proposal_commit_us,
        phase_commit_durable_us, phase_count;
    struct node_proposal_at {
        uint64_t height; /* 0: empty */
        int64_t us;
    } proposal_at[NODE_PHASE_RING];
};

/* --- the disk (node/disk.c) ---------------------------------------------------- */

#define NODE_DISK_CHECK_MS 200
#define NODE_DISK_FACTOR 4
#define NODE_DISK_SLACK (8u << 20)
struct node_disk {
    int64_t checked_ms;
    uint64_t free;             /* bytes free for the database's file system */
    uint64_t need;             /* node_disk_need */
    uint64_t map_used, map_max; /* LMDB map, bytes */
    bool low;                  /* refusing transactions */
    uint64_t refused;          /* transactions refused for it */
};
struct node;
struct node_config;
/* What admitting must leave free: NODE_DISK_FACTOR × (mempool_size_max +
 * block_size_max) + NODE_DISK_SLACK. */
uint64_t node_disk_need(const struct node_config *c, const Witan__Params *p);
/* 0, or WITAN_ENOSPACE and a sentence with the figures when the disk or the
 * map is below what is needed. Rechecks at most every NODE_DISK_CHECK_MS. */
int node_disk_check(struct node *n, char *why, size_t why_size);
/* The figures, measured at most NODE_DISK_CHECK_MS ago. */
void node_disk_figures(struct node *n, struct node_disk *out);

/* --- signed history heads (node/heads.c) ------------------------------------ */

/* Checkpoint sizes gathered at once, and how many intervals ahead of this
 * node's tip a peer's signature may be: a node up to that many intervals
 * behind still gathers its peers' signatures. The window, (tip − (SLOTS −
 * AHEAD)·K, tip + AHEAD·K], holds exactly SLOTS sizes, so no size in it
 * evicts another's slot. */
#define NODE_HEADS_SLOTS 16
#define NODE_HEADS_AHEAD_MAX 8

struct node_head_slot {
    uint64_t size; /* 0: empty */
    bool have_root; /* and the set in force at size */
    uint8_t root[WITAN_HASH_SIZE];
    /* The set in force at `size` signs it (proofs.md): its first height
     * and keys, known once this node has executed `size`. */
    uint64_t set_first;
    uint32_t set_count;
    uint8_t keys[WITAN_VALIDATOR_COUNT_MAX][WCRYPTO_ED25519_PUBKEY_SIZE];
    /* By index in that set: a signature and the key of the peer that sent
     * it (checked against the set's key once it is known). */
    uint8_t sig[WITAN_VALIDATOR_COUNT_MAX][WITAN_SIGNATURE_SIZE];
    uint8_t from[WITAN_VALIDATOR_COUNT_MAX][WCRYPTO_ED25519_PUBKEY_SIZE];
    uint8_t state[WITAN_VALIDATOR_COUNT_MAX]; /* none, unchecked, valid */
    uint32_t written_count; /* signatures in the note last stored */
};

struct node_heads {
    struct node_head_slot slot[NODE_HEADS_SLOTS];
    uint64_t assembled, refused;
};

/* Reads a validator's Ed25519 key file (`what` names it in the log,
 * which says what is wrong). Errors of wcrypto_keyfile_read (logged),
 * WITAN_EKEYTYPE. */
int node_validator_key_read(const char *path, const char *what,
                            wcrypto_keypair *kp);

struct node {
    const char *home;
    const struct node_config *cfg;
    Witan__Genesis *genesis;
    ledger *l;
    witan_pool *verify_pool; /* the ledger's (ledger_set_pool) */
    wcrypto_keypair key;
    /* DIR/validator.next.key, when present: the key a rotation by
     * proposal gives this validator; consensus takes it up at the switch
     * (node/replica.c), and the old key signs nothing after. */
    bool has_next_key;
    wcrypto_keypair next_key;
    uint32_t validator_index; /* in the validator set in force */
    struct mempool pool;
    nng_socket sock;
    /* The stream API (stream_listen), or NULL; and, while a request that
     * came on it is handled, where its answer goes: the stream and the
     * request's id (spec/api.md, "Stream API"). */
    struct node_links *streams;
    struct {
        bool on;
        uint64_t from, id;
    } answer;
    /* The envelopes the submit requests of one serving round carry,
     * decoded and checked together on the pool and taken in order
     * (replica.c). */
    struct node_presigned {
        struct ledger_tx *txs; /* NULL: none; each request checks its own */
        size_t count, next;
    } presigned;
    /* A check of signatures running on the pool while the loop goes on
     * (node_presign_start); the ledger and node_presign do not use the
     * pool meanwhile. */
    struct node_presign_job {
        struct node *n;
        const ProtobufCBinaryData *envs;
        struct ledger_tx *txs;
        bool *known; /* per envelope: the node holds it or committed it */
        bool running;
    } presign_job;
    /* The serving round whose signatures are being checked (replica.c):
     * the request taken from the socket (at most one: the socket holds
     * one request at a time), then the streams' in arrival order, and
     * their envelopes in that order. */
    struct node_round {
        Witan__Request *sock_req;
        size_t sock_size;
        struct node_round_request {
            Witan__Request *req;
            size_t size;
            uint64_t from, id;
        } streams[NODE_REQUESTS_PER_ROUND_MAX];
        int stream_count;
        ProtobufCBinaryData *envs;
        struct ledger_tx *txs;
        size_t env_count;
    } round;
    struct ledger_tx **selection;
    struct replica *replica; /* NULL on a one-validator chain */
    /* One-validator chains: pool size at which nothing in the pool could
     * be proposed (nonce gaps); no block is made for it until the pool
     * changes or a block with transactions commits. 0 when not stuck. */
    uint32_t stuck_count;
    struct node_metrics metrics;
    struct node_disk disk;
    struct node_http *http; /* the HTTP gateway, or NULL when it is off */
    struct node_heads heads;
    /* Status requests held until the height moves (status.c), in the
     * order they came. */
    struct node_status_wait {
        uint64_t from, id, after_height;
        int64_t deadline_ms;
    } status_waits[WITAN_STATUS_WAIT_COUNT_MAX];
    uint32_t status_wait_count;
};

/* Block `height` was executed: at a checkpoint height, sign its head and
 * send the signature to the other validators. */
void node_heads_executed(struct node *n, uint64_t height);
/* A HeadSignature from validator `sender` (frame kind 03): a validator
 * signs for itself only, so no peer can displace another's signature. */
void node_heads_on_frame(struct node *n, uint32_t sender, const uint8_t *data,
                         size_t size);
/* The signed head of `size` blocks (0: the latest) into *out; *note is
 * malloc'd (the caller frees it after out is sent). WITAN_ENOTFOUND. */
int node_heads_get(struct node *n, uint64_t size, Witan__HeadResponse *out,
                   char **note);
/* The key of validator `index` of the set the mesh is linked for (the
 * authenticated sender of a frame); false when there is none. */
bool replica_peer_key(struct node *n, uint32_t index,
                      uint8_t key[WCRYPTO_ED25519_PUBKEY_SIZE]);
/* ledger_on_executed's callback (ctx: the node), before the ledger's
 * commit of an executed block syncs: the pool lets the block's
 * transactions go, and the held status requests it answers leave. */
void replica_executed(void *ctx);
/* Whether these exact envelope bytes (transaction `hash`) are in the last
 * proposal this node judged valid, uncommitted yet, without its pool
 * holding them then: their signature was checked in that judgement. */
bool replica_vouched(const struct node *n,
                     const uint8_t hash[WITAN_HASH_SIZE], const uint8_t *env,
                     size_t size);
/* One item to validator `to` (or PBFT_TO_ALL) over the mesh. */
void replica_send(struct node *n, uint32_t to, uint8_t kind,
                  const uint8_t *data, size_t size);

/* Counts one committed block and the commit latency of its transactions
 * (those admitted here and still pooled, so before the pool lets them go;
 * others are not timed). Cannot fail. */
void node_metrics_commit_hashes(struct node *n, uint64_t height,
                                int64_t commit_us, int64_t durable_us,
                                const uint8_t (*hashes)[WITAN_HASH_SIZE],
                                size_t count);
/* The moment this node built, or first judged, the proposal of `height`. */
void node_metrics_proposal(struct node *n, uint64_t height);

/* /metrics (node/metrics.c): the admission counts into a response (items,
 * ptrs and names hold NODE_REFUSAL_CODE_MAX entries and must outlive it),
 * and the whole page in the Prometheus text format. */
/* Logs, at most once per NODE_REFUSAL_LOG_MS, the transactions refused
 * since the last such line, by reason: one line however many clients
 * misbehave. Called where refusals happen and at each commit. */
void node_metrics_log_refusals(struct node_metrics *m);
void node_metrics_admissions(const struct node_metrics *m,
                             Witan__DropCount *items, Witan__DropCount **ptrs,
                             char (*names)[32], Witan__MetricsResponse *out);
struct render_json;
void node_metrics_render(const Witan__MetricsResponse *m, struct render_json *b);

/* One request/reply over a REQ socket to a node's client API (server.c).
 * An answer from another node (`remote`) is decoded under a budget; this
 * node's own (the HTTP gateway's calls) is trusted and decoded whole. On
 * success *out is the caller's (witan__response__free_unpacked);
 * WITAN_ENOMEM, WITAN_ECLOSED, WITAN_ETIMEOUT (the socket's own timeouts),
 * WITAN_ENET, WITAN_EDECODE. */
int node_rpc(nng_socket s, const Witan__Request *req, bool remote,
             Witan__Response **out);

/* Sends a response to the request being handled: on the stream API to
 * `answer`'s stream and id, else on the client socket (server.c). */
void node_send_response(struct node *n, Witan__Response *resp);
/* The same on the stream API, with what became of it: WITAN_ENOTFOUND
 * (the stream is gone), WITAN_EFULL (its queue of answers is: the client
 * reads none), WITAN_ENOMEM; nothing is logged. */
int node_stream_answer(struct node *n, Witan__Response *resp);
/* A status request (status.c): answered now, or, with wait_ms on the
 * stream API, held until the height is above after_height or the wait
 * runs out. WITAN_EINVAL (wait_ms over the bound, or not on the stream
 * API) and WITAN_EFULL (WITAN_STATUS_WAIT_COUNT_MAX held in all, or
 * WITAN_STATUS_WAIT_STREAM_MAX from its stream), with `why`; on success
 * the request is answered or held. */
int node_status_request(struct node *n, const Witan__StatusRequest *req,
                        char *why, size_t why_size);
/* Answers every held status request whose height has come or whose wait
 * ran out: after each executed block, and once a round. An answer its
 * stream has no room for stays held, tried again within
 * NODE_STATUS_RETRY_MS. */
void node_status_wake(struct node *n);
/* When the first held status request's wait runs out (node_monotonic_ms),
 * or 0 when none is held: the loop sleeps no longer than that. */
int64_t node_status_deadline(const struct node *n);

/* Answers one client request (server.c). Takes ownership of msg. */
void node_handle_request(struct node *n, nng_msg *msg);
/* Decodes a request from the client socket (NULL: it did not decode or is
 * over the limit); frees msg and gives its size. */
Witan__Request *node_request_decode(nng_msg *msg, size_t *size);
/* The same for a request already decoded (NULL: it did not decode, or was
 * over the limit at `size` bytes); takes ownership of req. */
void node_handle_decoded(struct node *n, Witan__Request *req, size_t size);

/* Admits one envelope into the pool (server.c): decode, signature, state,
 * pool rules. `pre`, when not NULL and holding a transaction, is the
 * envelope decoded with its signature checked (node_presign), and is
 * taken: the loop then neither decodes nor verifies it again. 0 when
 * admitted; WITAN_EEXIST when known already; the error and `why`
 * otherwise. *hash_out gets the transaction hash when it decoded. */
int node_admit(struct node *n, const uint8_t *env, size_t size,
               struct ledger_tx *pre, uint8_t hash_out[WITAN_HASH_SIZE],
               bool *decoded, char *why, size_t why_size);
/* Admits transactions another validator relayed or forwarded: each is
 * decoded once, and only those new to this node have their signatures
 * checked (on the pool, when it has two threads or more and is free).
 * Outcomes are counted as node_admit's are. */
void node_admit_relayed(struct node *n, const ProtobufCBinaryData *envs,
                        size_t count);
/* The stateless rule, signature included, on every envelope of a batch at
 * once on the node's pool (verify_threads): txs[i] holds envelope i
 * decoded when it passed (node_admit's `pre`, so that the loop neither
 * decodes nor verifies it again), and is zeroed when it did not or with
 * one thread (node_admit then does it all). The caller releases what
 * node_admit did not take (node_presigned_release). */
void node_presign(struct node *n, const ProtobufCBinaryData *envs,
                  size_t count, struct ledger_tx *txs);
void node_presigned_release(struct ledger_tx *txs, size_t count);
/* node_presign in two halves, so that the loop executes blocks while the
 * pool checks: true when the check was started (NODE_OVERLAP_ENVELOPES_MIN
 * envelopes or more, two threads or more, none running), and then envs
 * and txs belong to the pool until node_presign_finish returns. */
bool node_presign_start(struct node *n, const ProtobufCBinaryData *envs,
                        size_t count, struct ledger_tx *txs);
void node_presign_finish(struct node *n);

/* The JSON body of POST /v1/tx (http.c): {"envelope": "<base64>"} or
 * {"envelopes": [...]} into a malloc'd array of malloc'd envelopes (free
 * each .data and the array, also on error). WITAN_EDECODE, WITAN_ELIMIT,
 * WITAN_ENOMEM with `why`. */
int node_http_parse_tx_json(const char *text, size_t size,
                            ProtobufCBinaryData **envs, size_t *count,
                            bool *batch, char *why, size_t why_size);

/* Monotonic and wall-clock milliseconds. */
int64_t node_monotonic_ms(void);
int64_t node_monotonic_us(void);
int64_t node_wall_ms(void);

/* Multi-validator operation (replica.c). replica_run replaces the solo
 * loop: it returns after *stop or on an error that stops the node. */
int replica_run(struct node *n, volatile sig_atomic_t *stop);
/* Called by submit handling after envelopes were admitted: relays them to
 * the other validators and tells consensus the pool grew. */
void replica_on_admitted(struct node *n, const ProtobufCBinaryData *envs,
                         size_t count);

/* --- TLS (node/tls.c) ------------------------------------------------------ */

#include <nng/supplemental/tls/tls.h>

enum node_tls_side {
    NODE_TLS_PEER_SERVER, /* validator link, listening: peers must show a
                             certificate chaining to tls_ca */
    NODE_TLS_PEER_CLIENT, /* validator link, dialling: likewise, and named
                             peer_name */
    NODE_TLS_API_SERVER,  /* client API and HTTP gateway: the node shows its
                             certificate; clients show none */
};

/*
 * A TLS configuration from the config's tls_cert, tls_key and (for validator
 * links) tls_ca, paths relative to n->home. peer_name: the name the peer's
 * certificate must carry (dialling side), or NULL. On success *out is the
 * caller's (nng_tls_config_free; a listener or dialer it is set on keeps
 * its own reference). WITAN_EIO / WITAN_ENOTFOUND when a file cannot be
 * read, WITAN_ECONFIG when nng refuses them; both logged.
 */
int node_tls_config(const struct node *n, enum node_tls_side side,
                    const char *peer_name, nng_tls_config **out);

/* --- HTTP/JSON gateway (node/http.c, spec/api.md "HTTP") -------------------- */

#include <nng/nng.h>

struct node_http;

/* The config's bounds on HTTP connections (spec/node.md). */
struct node_http_limits {
    uint32_t idle_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t connection_count_max;
};

/* What /metrics reports of them (MetricsResponse.http_connections_*). */
struct node_http_counters {
    uint64_t open, closed_idle, closed_slow, refused;
};

/*
 * Starts the gateway on `url` (http://host:port, or https://host:port with
 * `tls`, a server configuration it takes its own reference to). It adds the listener
 * inproc://witan-node-<pid> (inproc://witan-ops-<pid> when ops_only) to the
 * node's REP socket `rep` and answers each
 * HTTP request by sending a witan.Request there from its own threads, so it
 * never touches node state. With `ops_only` (the config's metrics_listen)
 * it serves /metrics, /healthz and /readyz only, and 404 elsewhere.
 * WITAN_ENET (logged) when it cannot listen,
 * WITAN_ENOMEM. On success *out is owned by the caller: node_http_stop.
 */
int node_http_start(nng_socket rep, const char *url, nng_tls_config *tls,
                    const struct node_http_limits *limits, bool ops_only,
                    struct node_http **out);

/* Stops and frees the gateway; requests in flight get 503. NULL: no-op.
 * Call it before the REP socket is closed. */
void node_http_stop(struct node_http *h);

/* The connection counters so far; all zero for NULL. Any thread. */
void node_http_counters(const struct node_http *h,
                        struct node_http_counters *out);

/* --- HTTP connections (node/http_conns.c) ----------------------------------
 *
 * The gateway's listener and connections: each request's head and body are
 * read without holding a gateway thread, under the limits above, and only
 * then handed over. */

#include <nng/supplemental/http/http.h>

struct http_conns;

struct http_conns_hooks {
    void *arg;
    /* Whether to read the body of `req` (its head only), and its size.
     * False: it is left unread, the gateway answers the request with the
     * refusal, and the connection is closed after the answer. */
    bool (*body_wanted)(nng_http_req *req, size_t *size);
    /* A request read whole: input 0 of `aio` is its nng_http_req, the body
     * (when read) its data. Answered with nng_aio_set_output(aio, 0, res)
     * (an nng_http_res, freed here; its status, reason, Content-Type,
     * Witan-Next-Cursor, Connection and data are sent) and nng_aio_finish(aio, 0), exactly
     * once; finishing with an error closes the connection unanswered. The
     * request stays valid until then. Runs on nng's threads: never block. */
    void (*dispatch)(void *arg, nng_aio *aio);
};

/* Listens on `url` (http:// or https:// with `tls`). WITAN_ENET (logged),
 * WITAN_ENOMEM. On success *out is the caller's: http_conns_shutdown, then
 * http_conns_free. */
int http_conns_start(const char *url, nng_tls_config *tls,
                     const struct node_http_limits *limits,
                     const struct http_conns_hooks *hooks,
                     struct http_conns **out);
/* Stops accepting and closes every connection; answers still owed are
 * taken (and dropped) when they come. */
void http_conns_shutdown(struct http_conns *s);
/* Waits until every connection is gone, then frees; call it once every
 * dispatched request has been answered. NULL: no-op. */
void http_conns_free(struct http_conns *s);
void http_conns_counters(const struct http_conns *s,
                         struct node_http_counters *out);
/* Consensus figures for status and metrics: the view, view changes, and
 * messages dropped by reason (consensus drops, then send-queue drops).
 * Returns the number of reasons written (at most max). */
#define REPLICA_DROP_REASON_MAX 16
/* What the client socket reads: requests between WITAN_CLIENT_REQUEST_SIZE_MAX
 * and this get Response.error; nng closes the connection of larger ones. */
#define NODE_CLIENT_RECV_SIZE_MAX (2 * (size_t)WITAN_CLIENT_REQUEST_SIZE_MAX)
/* Validator peers whose link is up (0 on a one-validator chain). */
uint32_t replica_peers_connected(const struct node *n);
/* /readyz: behind when a validator's Status claims a delivered height more
 * than this many blocks above this node's committed height. */
#define NODE_READY_BLOCKS_BEHIND_MAX 4
/* ... and after a silence (node_driver_silence_ms). */
/* Whether the node is ready to serve (/readyz): caught up (committed at
 * most NODE_READY_BLOCKS_BEHIND_MAX blocks below the highest height its
 * peers have reported), a quorum linked, this node included, no view
 * change under way, consensus not halted. When not, why says so, starting
 * with a one-word reason and a colon: "behind:", "quorum:", "halted:",
 * "view_change:" (server.c adds "disk_low:"). A one-validator chain is
 * ready while it runs. */
bool replica_ready(const struct node *n, char *why, size_t why_size);
size_t replica_figures(const struct node *n, uint64_t *view,
                       uint64_t *view_changes, const char **reasons,
                       uint64_t *counts, size_t max);

#endif
