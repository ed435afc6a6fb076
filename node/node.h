/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node — the witand daemon: configuration, the node home, the mempool, the
 * client API over nng request/reply, and the loop that proposes, commits and
 * answers. This header is what node/main.c and the tests use; the rest of the
 * module is static or in node/internal.h.
 */
#ifndef WITAN_NODE_H
#define WITAN_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define NODE_ADDRESS_SIZE_MAX 256

/* Every setting of the config file (spec/node.md lists them with defaults). */
struct node_config {
    char listen[NODE_ADDRESS_SIZE_MAX]; /* client API, nng URL */
    char http_listen[NODE_ADDRESS_SIZE_MAX]; /* HTTP/JSON gateway; "": off */
    /* /metrics, /healthz and /readyz alone, on a listener of their own;
     * "": off. */
    char metrics_listen[NODE_ADDRESS_SIZE_MAX];
    /* The client API as framed streams (spec/api.md, "Stream API"); "":
     * off. */
    char stream_listen[NODE_ADDRESS_SIZE_MAX];
    /* The gateway's connections (node/http_conns.c): closed after this
     * long without a request, or when a request's head and body (or its
     * answer) take longer; at most this many open. */
    uint32_t http_idle_timeout_ms;
    uint32_t http_request_timeout_ms;
    uint32_t http_connection_count_max;
    uint64_t map_size;                  /* bytes */
    uint64_t map_size_max;              /* bytes */
    enum witan_log_level log_level;
    enum witan_log_format log_format; /* text or json lines */
    uint32_t mempool_count_max;
    uint64_t mempool_size_max; /* bytes */
    uint32_t nonce_window;     /* also the most one sender may hold pending */
    /* Validators: where this node listens for its peers, and every
     * validator's address in genesis order (this node's own included). */
    char p2p_listen[NODE_ADDRESS_SIZE_MAX];
    /* Each entry a URL (the genesis's validators, in order) or NAME=URL
     * (a validator added by governance, by its name). */
    char peers[WITAN_VALIDATOR_COUNT_MAX][NODE_ADDRESS_SIZE_MAX];
    uint32_t peer_count;
    /* A validator no set in force at its next height holds yet (added by
     * governance, started from genesis): another node's client API to
     * follow the chain from until one does; "": none. */
    char sync_from[NODE_ADDRESS_SIZE_MAX];
    uint32_t view_timeout_ms;     /* first view-change timeout */
    uint32_t view_timeout_max_ms; /* ceiling of its doubling */
    uint32_t send_queue_count;    /* messages queued per peer, then dropped */
    /* Threads a block's signatures are checked on (0: the online CPUs, at
     * most WITAN_POOL_THREADS_MAX). */
    uint32_t verify_threads;
    /* TLS on validator links (tls+tcp:// addresses): this node's ECDSA
     * certificate and key, and the CA its peers' certificates must chain to.
     * Paths relative to the home. Empty: no TLS. */
    char tls_cert[NODE_ADDRESS_SIZE_MAX];
    char tls_key[NODE_ADDRESS_SIZE_MAX];
    char tls_ca[NODE_ADDRESS_SIZE_MAX];
};

void node_config_defaults(struct node_config *c);

/*
 * Reads "key = value" lines ('#' starts a comment) over the defaults.
 * WITAN_ECONFIG with `why` naming the line for an unknown key or a bad value;
 * WITAN_EIO / WITAN_ENOTFOUND when the file cannot be read.
 */
int node_config_load(const char *path, struct node_config *c, char *why,
                     size_t why_size);
/* The same from text already read (NUL-terminated, modified in place);
 * `path` names it in `why`. */
int node_config_parse(const char *path, char *text, struct node_config *c,
                      char *why, size_t why_size);
#define NODE_CONFIG_SIZE_MAX (64 * 1024)

/* Writes a config file with every setting and its meaning. */
int node_config_write(const char *path, const struct node_config *c);

/*
 * The HTTP gateway's routes (node/http.c's table, spec/openapi.yaml): route
 * i's method ("GET", which also serves HEAD, or "POST") and path pattern
 * (OpenAPI's, "/v1/blocks/{height}"). 0, or WITAN_ENOTFOUND past the last.
 */
int node_http_route(size_t i, const char **method, const char **pattern);

/*
 * Runs the node in `home` (config, genesis.json, validator.key, data/) until
 * *stop becomes non-zero (the signal handler's flag), then shuts down
 * cleanly. Returns 0 after a clean stop, or the error that stopped it (it has
 * been logged with what to do about it).
 */
int node_run(const char *home, const struct node_config *c,
             volatile sig_atomic_t *stop);

/* --- The consensus driver (node/driver.c) and validator links (node/mesh.c) --
 *
 * What witand runs between validators, split so that other programs (the
 * ordering benchmark, tests/node/bench_ordering.c) run the very same code
 * with another application. Three parts:
 *   - the mesh: streams accepted from every peer and one dialled to each
 *     (node/link.c); a frame is authenticated under a link key
 *     (node/frame.c); sends never block (a full queue drops the frame and
 *     counts it by reason);
 *   - the driver: the PBFT core's actions carried out in the order its header
 *     demands (persist before send), timers, the answers the core asked for,
 *     and the loop that waits on the mesh, the application's descriptors and
 *     the next timer;
 *   - the application (struct node_app): what the blocks mean. witand's is
 *     the ledger (node/replica.c).
 * One thread: every function here is called from the loop's thread.
 */
#include <nng/nng.h>

#include "consensus/consensus.h"
#include "storage/storage.h"

/* Frame kinds between validators (spec/node.md). */
enum node_frame_kind {
    NODE_FRAME_CONSENSUS = 0x01, /* SignedMessages for the core */
    NODE_FRAME_TXS = 0x02,       /* the ledger's relayed transactions */
    NODE_FRAME_HEADS = 0x03,     /* HeadSignatures (signed history heads) */
};

/* --- Frames (node/frame.c) ----------------------------------------------------
 *
 * header (16 bytes): 'W' 'F' version kind be32(sender) be32(receiver)
 * be32(payload size); payload: be16(item count) then each item as be32(size)
 * and its bytes; then the keyed BLAKE2b-256 MAC of header and payload under
 * the link key of sender and receiver (wcrypto_link_key). One frame may carry
 * up to NODE_FRAME_ITEM_COUNT_MAX messages under one MAC.
 */
#define NODE_FRAME_MAGIC_0 0x57 /* 'W' */
#define NODE_FRAME_MAGIC_1 0x46 /* 'F' */
#define NODE_FRAME_VERSION 1
#define NODE_FRAME_HEADER_SIZE 16
#define NODE_FRAME_COUNT_SIZE 2
#define NODE_FRAME_LENGTH_SIZE 4
#define NODE_FRAME_ITEM_COUNT_MAX 1024
/* One item of the largest size fits; batches must fit the same bound. */
#define NODE_FRAME_PAYLOAD_SIZE_MAX                                            \
    (NODE_FRAME_COUNT_SIZE + NODE_FRAME_LENGTH_SIZE + WITAN_MESSAGE_SIZE_MAX)
#define NODE_FRAME_SIZE_MAX                                                    \
    (NODE_FRAME_HEADER_SIZE + NODE_FRAME_PAYLOAD_SIZE_MAX + WCRYPTO_MAC_SIZE)

/* An opened frame: a view into the bytes it was opened from. */
struct node_frame {
    uint8_t kind;
    uint32_t sender;
    uint32_t count;        /* items, 1..NODE_FRAME_ITEM_COUNT_MAX */
    const uint8_t *items;  /* the first item's length prefix */
    size_t items_size;
};

/* Writes a frame of `count` items from `sender` into out (its size is
 * NODE_FRAME_HEADER_SIZE + 2 + Σ(4 + item) + WCRYPTO_MAC_SIZE, in
 * *written), unsealed. WITAN_EINVAL for an unknown kind or a count out of
 * range, WITAN_ELIMIT for an empty or oversized item or a small buffer. */
int node_frame_build(uint8_t kind, uint32_t sender, const pbft_bytes *items,
                     uint32_t count, uint8_t *out, size_t out_size,
                     size_t *written);
/* Addresses a built frame to `receiver` and writes its MAC under their link
 * key; may be called again for another receiver. Never fails. */
void node_frame_seal(uint8_t *frame, size_t size, uint32_t receiver,
                     const uint8_t key[WCRYPTO_LINK_KEY_SIZE]);
/* The same, from `sender`'s place rather than the one it was built with
 * (a place in another validator set: node_mesh_places). Never fails. */
void node_frame_seal_from(uint8_t *frame, size_t size, uint32_t sender,
                          uint32_t receiver,
                          const uint8_t key[WCRYPTO_LINK_KEY_SIZE]);
/* Opens frame bytes that arrived at validator `self` of n; keys[i] is the
 * link key with validator i. WITAN_EDECODE for a malformed header or payload,
 * WITAN_EAUTH for a frame not addressed to self or whose MAC is not the named
 * sender's; nothing past the header is read before the MAC checks. */
int node_frame_open(const uint8_t *bytes, size_t size, uint32_t self,
                    uint32_t n, const uint8_t (*keys)[WCRYPTO_LINK_KEY_SIZE],
                    struct node_frame *out);
/* The next item of an opened frame from offset *at (start at 0): false
 * once all are read. Never fails. */
bool node_frame_item(const struct node_frame *f, size_t *at,
                     const uint8_t **data, size_t *size);

/*
 * Links (node/link.c, spec/node.md "Links"): framed byte streams over nng's
 * stream API. A set listens (optionally) and dials. Frames go both ways on
 * a stream: the validator mesh sends only on the streams it dialled, the
 * client stream API answers on the streams it accepted. Each way opens
 * with the 4-byte hello "WL", 00, version; each frame follows as be32 size
 * (1 ... frame_size_max) and its bytes. Frames queued between two flushes
 * go out in one write, and frames read at once wake the owner once. Sends
 * never block: a full queue refuses the frame.
 */
#define NODE_LINK_MAGIC_0 0x57 /* 'W' */
#define NODE_LINK_MAGIC_1 0x4C /* 'L' */
#define NODE_LINK_VERSION 1
#define NODE_LINK_OUT_MAX WITAN_VALIDATOR_COUNT_MAX /* dialled, by id */
#define NODE_LINK_IN_MAX (2 * WITAN_VALIDATOR_COUNT_MAX) /* accepted */

struct nng_tls_config;
struct node_links;

struct node_links_config {
    const char *listen;        /* nng URL to accept streams on, or NULL */
    struct nng_tls_config *tls; /* the listener's TLS, or NULL */
    size_t frame_size_max;     /* a larger size prefix closes the stream */
    size_t send_size_max;      /* the largest frame sent; 0: frame_size_max */
    /* What waits, per stream: received frames before reading pauses (the
     * peer's writes then wait in TCP), and queued frames before a send is
     * refused. The sizes are at least frame_size_max and send_size_max. */
    uint32_t in_queue_count, out_queue_count;
    size_t in_queue_size, out_queue_size;
    /* Told, on one of nng's threads, when dialled link `id` comes up or
     * goes down; may be NULL. */
    void (*on_link)(void *ctx, uint32_t id, bool up);
    void *ctx;
};

/* Opens a set, listening when c->listen is set. WITAN_ECONFIG,
 * WITAN_ENOMEM, WITAN_EIO, WITAN_ENET (logged). */
int node_links_open(const struct node_links_config *c, struct node_links **out);
/* Dials `url` as link `id` (< NODE_LINK_OUT_MAX) and keeps it dialled,
 * with backoff, until undialled; TLS when tls is set. WITAN_EINVAL,
 * WITAN_EEXIST, WITAN_ENET (logged). */
int node_links_dial(struct node_links *s, uint32_t id, const char *url,
                    struct nng_tls_config *tls);
/* Closes link `id` and drops what it queued. Not from an nng callback. */
void node_links_undial(struct node_links *s, uint32_t id);
/* Queues a frame for `to`: a dialled link's id, or the stream a received
 * frame came from (node_links_recv's *from). It goes out at the next flush
 * (or when the link comes up). WITAN_EFULL when the queue is full,
 * WITAN_ENOTFOUND for no such link or a stream that is gone, WITAN_EINVAL
 * for a size out of range, WITAN_ENOMEM. */
int node_links_send(struct node_links *s, uint64_t to, const uint8_t *frame,
                    size_t size);
/* Starts a write on every link with frames queued. Never fails. */
void node_links_flush(struct node_links *s);
/* The next received frame, streams served in turn: 0, *msg (the caller
 * frees it) and *from (where it came from, to answer it; may be NULL), or
 * WITAN_ENOTFOUND when none waits. An accepted stream whose answers wait
 * past half its queue is not served until they drain. */
int node_links_recv(struct node_links *s, nng_msg **msg, uint64_t *from);
/* Readable while a frame may wait (for poll). */
int node_links_fd(const struct node_links *s);
/* Whether dialled link `id` has a stream up now. */
bool node_links_up(struct node_links *s, uint32_t id);
/* Accepted streams closed so far: malformed (no hello, a size out of
 * range), or refused (every slot taken, out of memory). */
uint64_t node_links_refused(struct node_links *s, bool malformed);
/* Closes every stream and frees the set; NULL is allowed. */
void node_links_close(struct node_links *s);

/* Why a frame was dropped, sending or receiving. */
enum node_mesh_drop {
    NODE_DROP_QUEUE_FULL = 0, /* the peer's send queue was full */
    NODE_DROP_SEND_ERROR,     /* no memory, or no link to that peer */
    NODE_DROP_MALFORMED,      /* received: not a well-formed frame */
    NODE_DROP_UNAUTHENTICATED, /* received: wrong address or MAC */
    NODE_DROP_PEER_BACKLOG,   /* received: the sender's backlog was full */
    NODE_DROP_COUNT
};
/* Each validator's backlog of received, authenticated frames, stepped in
 * turn so that one peer's flood delays only its own frames. */
#define NODE_PEER_BACKLOG_COUNT_MAX 256
#define NODE_PEER_BACKLOG_SIZE_MAX (2 * (size_t)NODE_FRAME_SIZE_MAX)

struct node_mesh;

/* Whether a `peers` entry is NAME=URL rather than a URL. */
bool node_peer_named(const char *entry);

struct node_mesh_config {
    uint32_t validator_count; /* n */
    uint32_t self;            /* this node's index */
    const char *listen;       /* nng URL to listen on for peers */
    const char *peers[WITAN_VALIDATOR_COUNT_MAX]; /* n URLs; [self] unused */
    uint32_t send_queue_count; /* frames queued per peer, then dropped */
    /* The link keys come from these: this validator's key pair, the n
     * validators' public keys and the chain id. */
    const wcrypto_keypair *key;
    const wcrypto_pubkey *validators;
    const char *chain_id;
    /* TLS on the links when set: a configuration for the listener
     * (server true, peer_name NULL) or for the dialer to peer `peer_name`
     * (the name its certificate must carry). The mesh frees what it gets.
     * Returns 0 or a WITAN_E* code (logged by the hook). */
    int (*tls)(void *ctx, bool server, const char *peer_name,
               struct nng_tls_config **out);
    void *tls_ctx;
};

/*
 * Listens and starts dialling every peer (a peer that is down is re-dialled
 * in the background with backoff). WITAN_ENET (logged) when it cannot
 * listen or dial, WITAN_ECONFIG from the TLS hook or for keys that give no
 * link key, WITAN_ENOMEM. On success *out is owned by the caller:
 * node_mesh_close.
 */
int node_mesh_open(const struct node_mesh_config *c, struct node_mesh **out);
/* Re-links the mesh for another validator set (a change by governance):
 * the listener stays, links and backlogs of the old set go, link keys and
 * dialers are made for the new one. Frames in flight under the old
 * indices are dropped; consensus retransmits. WITAN_ECONFIG, WITAN_ENET,
 * WITAN_ENOMEM (then the mesh must be closed). */
int node_mesh_relink(struct node_mesh *m, const struct node_mesh_config *c);
/*
 * Places in another validator set: the one the mesh's set followed, or a
 * change pending for a later height. A peer that has not switched yet, or
 * has switched first, addresses frames by its and this node's places in
 * that set; such a frame is opened under that set's places and link keys,
 * handed out as from the peer's place in the set linked, and the mesh
 * answers the peer the same way until a frame from it comes under the set
 * linked. A sender that set holds but the linked one does not (a removed
 * validator) is dropped as unauthenticated. Slot NODE_MESH_PREVIOUS or
 * NODE_MESH_PENDING; `self` UINT32_MAX (or a NULL config) clears the slot;
 * node_mesh_relink clears both. `key` is this node's key in that set (the
 * old one, for a set before its key rotated). WITAN_ECONFIG, WITAN_EINVAL.
 */
enum { NODE_MESH_PREVIOUS = 0, NODE_MESH_PENDING = 1, NODE_MESH_PLACES = 2 };
int node_mesh_places(struct node_mesh *m, int slot,
                     const struct node_mesh_config *c);
/* Closes the links, wipes the link keys and frees the mesh; NULL is
 * allowed. */
void node_mesh_close(struct node_mesh *m);
/* Sends one item in a frame to peer `to`, or to every other peer with
 * PBFT_TO_ALL, without blocking. Cannot fail: what is not sent is counted
 * by reason. */
void node_mesh_send(struct node_mesh *m, uint32_t to, uint8_t kind,
                    const uint8_t *data, size_t size);
/* Hands every frame queued since the last flush to the kernel: one write
 * per peer. The driver calls it at the end of each Ready, before work
 * that can take long, and once per round. Never fails. */
void node_mesh_flush(struct node_mesh *m);
/* Takes the next authenticated frame, without waiting: peers' backlogs are
 * served in turn. 0 and *f, *msg (the bytes *f points into; the caller frees
 * them with nng_msg_free), or WITAN_ENOTFOUND when none waits. */
int node_mesh_recv(struct node_mesh *m, struct node_frame *f, nng_msg **msg);
/* Whether authenticated frames wait in a backlog (the links' descriptor
 * does not say so). Never fails. */
bool node_mesh_pending(const struct node_mesh *m);
/* A descriptor that is readable while a frame may wait (for poll). */
int node_mesh_fd(const struct node_mesh *m);
/* Peers whose link is up now. Never fails. */
uint32_t node_mesh_connected(struct node_mesh *m);
/* Peers of the set the mesh is linked for, up or not. Never fails. */
uint32_t node_mesh_peers(const struct node_mesh *m);
/* Frames dropped for `reason` so far. Never fails. */
uint64_t node_mesh_dropped(const struct node_mesh *m,
                           enum node_mesh_drop reason);
/* What a reason is called in status and logs. */
const char *node_mesh_drop_name(enum node_mesh_drop reason);

struct node_driver;

#define NODE_APP_FD_MAX 4

/*
 * An application of the driver. Every callback gets `ctx`. The driver calls
 * them from its loop only; none may call node_driver_run.
 */
struct node_app {
    void *ctx;
    /* PBFT_ACT_BUILD: choose the requests of block `height` and answer
     * with node_driver_propose before returning. An error stops the loop. */
    int (*build)(void *ctx, struct node_driver *d, uint64_t height);
    /* PBFT_ACT_VALIDATE: whether the contents of proposal a->height (the
     * Block in a->data) are acceptable. */
    bool (*validate)(void *ctx, const pbft_action *a);
    /* PBFT_ACT_DELIVER: execute committed block a->height and give its
     * roots. An error stops the loop (never diverge). */
    int (*deliver)(void *ctx, const pbft_action *a,
                   uint8_t state_root[WITAN_HASH_SIZE],
                   uint8_t receipts_root[WITAN_HASH_SIZE]);
    /* PBFT_ACT_READ_BLOCKS: read up to `count` certified blocks from
     * `first` and answer with node_driver_blocks_read before returning.
     * NULL: the application keeps no blocks (an empty answer). */
    int (*read_blocks)(void *ctx, struct node_driver *d, uint32_t peer,
                       uint64_t first, uint32_t count);
    /* PBFT_ACT_FORWARD: send the requests this node holds to validator
     * `to` (or all). May be NULL. */
    void (*forward)(void *ctx, uint32_t to);
    /* An item of a frame of another kind than NODE_FRAME_CONSENSUS, from
     * validator `sender` (authenticated by the frame's MAC). May be NULL. */
    void (*frame)(void *ctx, uint8_t kind, uint32_t sender,
                  const uint8_t *data, size_t size);
    /* How many requests wait to be proposed; asked once per round. */
    uint64_t (*waiting)(void *ctx);
    /* Once per round, after the wait: serve the application's own
     * descriptors (fds). Returns 1 when work is left (the next wait does
     * not sleep), 0 when done, or an error that stops the loop. May be
     * NULL. */
    int (*serve)(void *ctx, struct node_driver *d);
    /* The next moment (monotonic ms) by which the application wants a
     * round even if nothing arrives, or 0 for none: the loop sleeps no
     * longer. May be NULL. */
    int64_t (*deadline)(void *ctx);
    /* Once per round, after consensus had its turn, also when the loop is
     * about to stop: finish what serve left running meanwhile. Returns 1
     * when it did something (the next wait does not sleep), 0 when there
     * was nothing. May be NULL. */
    int (*settle)(void *ctx, struct node_driver *d);
    /* Once per round, last: hand what the round queued for the
     * application's own links to the kernel. May be NULL. */
    void (*flush)(void *ctx);
    int fds[NODE_APP_FD_MAX]; /* polled for reading beside the mesh */
    size_t fd_count;
};

/* Where the loop's time went (monotonic nanoseconds), for benchmarks. */
struct node_driver_stats {
    uint64_t rounds, readies, events;
    uint64_t persist_count;   /* records written */
    uint64_t persist_commits; /* synced appends to the log */
    uint64_t wait_ns, serve_ns, recv_ns, step_ns, persist_ns, send_ns,
        app_ns;
};

/*
 * Boots the core and starts nothing yet. `boot` carries what the
 * application knows (height, hash, time, history, results); the driver adds
 * the stable checkpoint, kept in `store` (its STORE_META table), and the
 * records of the consensus-record log at `records_path` (spec/node.md),
 * made when absent (from the records of the STORE_CONSENSUS table of an
 * older database, which are then removed). `store` and `records_path` NULL:
 * nothing is persisted (PERSIST actions are acknowledged without being
 * written; for benchmarks only — a restart could then equivocate). The
 * mesh and the store stay the caller's and must outlive the driver.
 * WITAN_EDECODE, WITAN_ECONFIG from the core, storage and log errors,
 * WITAN_EINVAL (one of store and records_path NULL), WITAN_ENOMEM
 * (logged). On success *out is owned by the caller: node_driver_free.
 */
int node_driver_new(const pbft_config *cfg, const pbft_boot *boot,
                    store *store, const char *records_path,
                    struct node_mesh *mesh, const struct node_app *app,
                    struct node_driver **out);
/* Frees the driver, its core (wiping the key) and its log; not the mesh
 * or the store. NULL is allowed. */
void node_driver_free(struct node_driver *d);

/*
 * Runs until *stop becomes non-zero or an error stops consensus (logged):
 * each round waits for the mesh, the application's descriptors or the next
 * timer (never when work is left), serves the application, steps every
 * frame and fired timer into the core, then carries out the core's actions
 * once for all of them, so that their records are appended to the log
 * with one write and one sync (group commit). Returns 0 after *stop, or
 * the error.
 */
int node_driver_run(struct node_driver *d, volatile sig_atomic_t *stop);

/* After node_driver_run returned 0: marks the consensus log stopped
 * cleanly (synced), so that the next start replays every message sent and
 * needs no boot rule. Nothing may be carried out after it. Errors of the
 * log (logged). */
int node_driver_mark_stopped(struct node_driver *d);

/* Answers PBFT_ACT_BUILD (from the build callback). `txs` stay the
 * caller's; next_validators_hash is NULL but in the last block of a
 * validator set (ledger_next_validators_hash). The core's errors (spec:
 * the replica must be discarded). */
int node_driver_propose(struct node_driver *d, uint64_t height, int64_t time_ms,
                        const uint8_t txs_root[WITAN_HASH_SIZE],
                        const pbft_bytes *txs, uint32_t tx_count,
                        const uint8_t *next_validators_hash);
/* Answers PBFT_ACT_READ_BLOCKS (from the read_blocks callback). */
int node_driver_blocks_read(struct node_driver *d, uint32_t peer,
                            const pbft_certified_block *blocks,
                            uint32_t count);

/* Read-only views; never fail. */
/* The consensus records written under key `from` become `to`'s (a
 * validator's key rotated: its own records stay its own, where a copy of
 * another validator's would be discarded); the log is rewritten. Log
 * errors. */
int node_driver_records_rekey(struct node_driver *d, const wcrypto_pubkey *from,
                              const wcrypto_pubkey *to);
/* Hands the core a validator-set change (pbft_set_validators). */
int node_driver_set_validators(struct node_driver *d, uint64_t from_height,
                               const wcrypto_pubkey *validators,
                               uint32_t count, uint32_t self,
                               const wcrypto_keypair *key);
const pbft *node_driver_core(const struct node_driver *d);
void node_driver_get_stats(const struct node_driver *d,
                           struct node_driver_stats *out);
bool node_driver_halted(const struct node_driver *d);
/* A silence: no peer's Status reached the core for more than
 * NODE_READY_STATUS_AGE_MAX_MS (Statuses come every retransmit period), as
 * after a pause or a partition. Its length in ms, from then until a fresh
 * Status came (NODE_READY_RESYNC_MS after the silence was noticed: those
 * queued through it are stale) and the frames waiting were all taken (the node cannot know
 * it is caught up before); 0 otherwise, and always on a one-validator
 * chain. */
#define NODE_READY_STATUS_AGE_MAX_MS 2000
/* A Status that ends a silence came at least this long after it was
 * noticed (Statuses come every 500 ms). */
#define NODE_READY_RESYNC_MS 1000
int64_t node_driver_silence_ms(const struct node_driver *d);

#endif
