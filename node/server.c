/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The solo node's loop: answer client requests over nng request/reply, and
 * propose and commit a block whenever transactions wait.
 *
 * One thread does everything, in rounds: drain the requests that are ready
 * (each admitted transaction is checked once, here), then build, sign and
 * apply one block. While a block is being written and synced, new requests
 * queue in nng, so the next round's block takes them all: batching comes
 * from the load itself, never from a timer. A transaction is reported
 * committed only after the block's LMDB transaction has reached the disk.
 *
 * Empty blocks are proposed only until the results of the last non-empty
 * block are certified (L blocks later; DESIGN.md), then the node idles.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "node/internal.h"



int64_t node_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t node_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t node_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static Witan__Error *make_error(int code, const char *why)
{
    Witan__Error *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    witan__error__init(e);
    e->code = code;
    e->name = (char *)witan_err_name(code);
    e->message = strdup(why && why[0] ? why : witan_err_message(code));
    return e;
}

static void free_error(Witan__Error *e)
{
    if (!e)
        return;
    free(e->message);
    free(e);
}

/* --- metrics ---------------------------------------------------------------- */

static const uint64_t latency_le_ms[NODE_LATENCY_BUCKET_COUNT] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

static int64_t positive(int64_t d)
{
    return d > 0 ? d : 0;
}

static void metrics_committed(struct node_metrics *m, int64_t admit_us,
                              int64_t proposal_us, int64_t commit_us,
                              int64_t durable_us)
{
    uint64_t latency = (uint64_t)positive(durable_us - admit_us) / 1000;
    if (proposal_us && proposal_us >= admit_us) {
        m->phase_admit_proposal_us += (uint64_t)(proposal_us - admit_us);
        m->phase_proposal_commit_us +=
            (uint64_t)positive(commit_us - proposal_us);
        m->phase_commit_durable_us +=
            (uint64_t)positive(durable_us - commit_us);
        m->phase_count++;
    }
    size_t b = 0;
    while (b < NODE_LATENCY_BUCKET_COUNT && latency > latency_le_ms[b])
        b++;
    if (b < NODE_LATENCY_BUCKET_COUNT)
        m->latency_bucket[b]++;
    else
        m->latency_over++;
    m->latency_sum_ms += latency;
    m->latency_count++;
}

void node_metrics_proposal(struct node *n, uint64_t height)
{
    struct node_proposal_at *p =
        &n->metrics.proposal_at[height % NODE_PHASE_RING];
    if (p->height != height) /* the first time only: a view change may
                                re-propose it */
        *p = (struct node_proposal_at){height, node_monotonic_us()};
}

void node_metrics_commit_hashes(struct node *n, uint64_t height,
                                int64_t commit_us, int64_t durable_us,
                                const uint8_t (*hashes)[WITAN_HASH_SIZE],
                                size_t count)
{
    const struct node_proposal_at *p =
        &n->metrics.proposal_at[height % NODE_PHASE_RING];
    /* A block fetched by state transfer had no proposal here. */
    int64_t proposal_us = p->height == height ? p->us : 0;
    for (size_t i = 0; i < count; i++) {
        int64_t admit_us = mempool_admitted_us(&n->pool, hashes[i]);
        if (admit_us)
            metrics_committed(&n->metrics, admit_us, proposal_us, commit_us,
                              durable_us);
    }
    n->metrics.commits++;
}

/* Storage for one metrics answer, owned by handle_request's frame. */
struct metrics_answer {
    Witan__MetricsResponse response;
    Witan__LatencyBucket buckets[NODE_LATENCY_BUCKET_COUNT];
    Witan__LatencyBucket *pointers[NODE_LATENCY_BUCKET_COUNT];
    Witan__DropCount drops[REPLICA_DROP_REASON_MAX];
    Witan__DropCount *drop_pointers[REPLICA_DROP_REASON_MAX];
    const char *reasons[REPLICA_DROP_REASON_MAX];
    uint64_t counts[REPLICA_DROP_REASON_MAX];
    Witan__DropCount refused[NODE_REFUSAL_CODE_MAX];
    Witan__DropCount *refused_pointers[NODE_REFUSAL_CODE_MAX];
    char refused_reasons[NODE_REFUSAL_CODE_MAX][32];
    char not_ready[256];
};

static void handle_metrics(struct node *n, struct metrics_answer *a,
                           Witan__Response *resp)
{
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    witan__metrics_response__init(&a->response);
    a->response.height = tip.height;
    a->response.commits = n->metrics.commits;
    a->response.peers_connected = replica_peers_connected(n);
    a->response.mempool_count = n->pool.count;
    a->response.mempool_size = n->pool.size;
    struct node_disk disk;
    node_disk_figures(n, &disk);
    a->response.disk_free_bytes = disk.free;
    a->response.disk_need_bytes = disk.need;
    a->response.map_used_bytes = disk.map_used;
    a->response.map_max_bytes = disk.map_max;
    a->response.disk_low = disk.low;
    a->response.refused_disk = disk.refused;
    a->response.phase_admit_proposal_us = n->metrics.phase_admit_proposal_us;
    a->response.phase_proposal_commit_us = n->metrics.phase_proposal_commit_us;
    a->response.phase_commit_durable_us = n->metrics.phase_commit_durable_us;
    a->response.phase_count = n->metrics.phase_count;
    a->response.status_answers_deferred = n->metrics.status_deferred;
    a->response.tx_signatures_checked = ledger_tx_signatures_checked();
    size_t drop_count = replica_figures(
        n, &a->response.view, &a->response.view_changes, a->reasons,
        a->counts, REPLICA_DROP_REASON_MAX);
    for (size_t i = 0; i < drop_count; i++) {
        witan__drop_count__init(&a->drops[i]);
        a->drops[i].reason = (char *)a->reasons[i];
        a->drops[i].count = a->counts[i];
        a->drop_pointers[i] = &a->drops[i];
    }
    a->response.n_dropped = drop_count;
    a->response.dropped = a->drop_pointers;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < NODE_LATENCY_BUCKET_COUNT; b++) {
        cumulative += n->metrics.latency_bucket[b];
        witan__latency_bucket__init(&a->buckets[b]);
        a->buckets[b].le_ms = latency_le_ms[b];
        a->buckets[b].count = cumulative;
        a->pointers[b] = &a->buckets[b];
    }
    a->response.n_commit_latency_buckets = NODE_LATENCY_BUCKET_COUNT;
    a->response.commit_latency_buckets = a->pointers;
    a->response.commit_latency_sum_ms = n->metrics.latency_sum_ms;
    a->response.commit_latency_count = n->metrics.latency_count;
    struct node_http_counters http;
    node_http_counters(n->http, &http);
    a->response.http_connections_open = (uint32_t)http.open;
    a->response.http_connections_closed_idle = http.closed_idle;
    a->response.http_connections_closed_slow = http.closed_slow;
    a->response.http_connections_refused = http.refused;
    node_metrics_admissions(&n->metrics, a->refused, a->refused_pointers,
                            a->refused_reasons, &a->response);
    a->not_ready[0] = '\0';
    a->response.ready = !disk.low && replica_ready(n, a->not_ready,
                                                   sizeof a->not_ready);
    if (disk.low)
        snprintf(a->not_ready, sizeof a->not_ready,
                 "disk_low: disk low, transactions refused");
    a->response.not_ready = a->not_ready;
    resp->kind_case = WITAN__RESPONSE__KIND_METRICS;
    resp->metrics = &a->response;
}

/* --- requests --------------------------------------------------------------- */

/* Whether the pool holds the transaction or the chain committed it. */
static bool known(struct node *n, const uint8_t hash[WITAN_HASH_SIZE])
{
    if (mempool_find(&n->pool, hash))
        return true;
    bool committed;
    return ledger_tx_committed(n->l, hash, &committed) == 0 && committed;
}

/* Decoded here, on a pool thread, the transaction is kept: admission on
 * the loop then only looks it up and admits it. A failure leaves txs[i]
 * zeroed, and admission decodes it again to name what is wrong; so does
 * one the node knew already, which admission answers without checking
 * its signature. */
static void presign_one(void *ctx, size_t i)
{
    struct node_presign_job *p = ctx;
    if (p->known[i])
        return;
    char why[LEDGER_WHY_SIZE];
    ledger_tx_decode(p->n->l, p->envs[i].data, p->envs[i].len, true,
                     &p->txs[i], why, sizeof why);
}

/* Which envelopes the node knows already, by their hash read off the
 * wire: a client that sends a batch again must not cost the pool a
 * signature check for each (admission answers a known transaction before
 * its signature is looked at). NULL when out of memory: the caller then
 * leaves the batch to admission on the loop. */
static bool *mark_known(struct node *n, const ProtobufCBinaryData *envs,
                        size_t count)
{
    bool *k = calloc(count ? count : 1, sizeof *k);
    for (size_t i = 0; k && i < count; i++) {
        uint8_t hash[WITAN_HASH_SIZE];
        k[i] = ledger_envelope_tx_hash(envs[i].data, envs[i].len, hash) ==
                   0 &&
               known(n, hash);
    }
    return k;
}

void node_presign(struct node *n, const ProtobufCBinaryData *envs,
                  size_t count, struct ledger_tx *txs)
{
    memset(txs, 0, count * sizeof *txs);
    if (count < 2 || witan_pool_threads(n->verify_pool) < 2 ||
        n->presign_job.running)
        return;
    bool *k = mark_known(n, envs, count);
    if (!k)
        return; /* admission decodes and checks each on the loop */
    struct node_presign_job p = {n, envs, txs, k, false};
    witan_pool_run(n->verify_pool, count, presign_one, &p);
    free(k);
}

void node_presigned_release(struct ledger_tx *txs, size_t count)
{
    for (size_t i = 0; txs && i < count; i++)
        ledger_tx_release(&txs[i]);
}

bool node_presign_start(struct node *n, const ProtobufCBinaryData *envs,
                        size_t count, struct ledger_tx *txs)
{
    memset(txs, 0, count * sizeof *txs);
    if (count < NODE_OVERLAP_ENVELOPES_MIN ||
        witan_pool_threads(n->verify_pool) < 2 || n->presign_job.running)
        return false;
    bool *k = mark_known(n, envs, count);
    if (!k)
        return false;
    n->presign_job = (struct node_presign_job){n, envs, txs, k, true};
    /* The block checks run on the loop meanwhile; they reach the same
     * verdicts without the pool. */
    ledger_set_pool(n->l, NULL);
    witan_pool_start(n->verify_pool, count, presign_one, &n->presign_job);
    return true;
}

void node_presign_finish(struct node *n)
{
    if (!n->presign_job.running)
        return;
    witan_pool_wait(n->verify_pool);
    n->presign_job.running = false;
    free(n->presign_job.known);
    n->presign_job.known = NULL;
    ledger_set_pool(n->l, n->verify_pool);
}

/* Admission of a decoded transaction new to the node; takes *tx.
 * sig_checked: its signature passed already (on the pool). */
static int admit_new(struct node *n, struct ledger_tx *tx, bool sig_checked,
                     char *why, size_t why_size)
{
    int err;
    if ((sig_checked || (err = ledger_tx_verify(tx, why, why_size)) == 0) &&
        (err = ledger_tx_admit(n->l, tx, n->cfg->nonce_window, why,
                               why_size)) == 0)
        err = mempool_add(&n->pool, tx, node_monotonic_us(), why, why_size);
    ledger_tx_release(tx); /* a no-op when the pool took it */
    return err;
}

/* A transaction the node knows already is answered before its signature
 * is checked: a copy (sent again by a client, forwarded by a peer) costs a
 * lookup, not a verification, and adds nothing whatever its signature. */
static int admit_decoded(struct node *n, struct ledger_tx *tx,
                         bool sig_checked, char *why, size_t why_size)
{
    if (known(n, tx->hash)) {
        ledger_tx_release(tx);
        return WITAN_EEXIST;
    }
    return admit_new(n, tx, sig_checked, why, why_size);
}

static int admit(struct node *n, const uint8_t *env, size_t size,
                 struct ledger_tx *pre, uint8_t hash_out[WITAN_HASH_SIZE],
                 bool *decoded, char *why, size_t why_size)
{
    struct ledger_tx tx = {0};
    bool checked = pre && pre->bytes;
    if (checked) { /* taken, whatever follows */
        tx = *pre;
        memset(pre, 0, sizeof *pre);
    }
    *decoded = false;
    int err = node_disk_check(n, why, why_size);
    if (!err && !checked)
        err = ledger_tx_decode(n->l, env, size, false, &tx, why, why_size);
    if (err) {
        ledger_tx_release(&tx);
        return err;
    }
    *decoded = true;
    memcpy(hash_out, tx.hash, WITAN_HASH_SIZE);
    return admit_decoded(n, &tx, checked, why, why_size);
}

/* Counts an admission's outcome for /metrics: admitted, or refused by
 * reason. */
static void count_outcome(struct node *n, int err)
{
    if (!err) {
        n->metrics.tx_admitted++;
        return;
    }
    n->metrics.tx_refused[-err < NODE_REFUSAL_CODE_MAX
                              ? -err : NODE_REFUSAL_CODE_MAX - 1]++;
    node_metrics_log_refusals(&n->metrics);
}

int node_admit(struct node *n, const uint8_t *env, size_t size,
               struct ledger_tx *pre, uint8_t hash_out[WITAN_HASH_SIZE],
               bool *decoded, char *why, size_t why_size)
{
    int err = admit(n, env, size, pre, hash_out, decoded, why, why_size);
    count_outcome(n, err);
    return err;
}

struct relay_job {
    struct ledger_tx *txs;
    int *errs; /* 0: decoded and new to this node, so checked here; 1: the
                  same, but checked already (replica_vouched) */
};

static void verify_one(void *ctx, size_t i)
{
    struct relay_job *j = ctx;
    char why[LEDGER_WHY_SIZE];
    if (j->errs[i] == 0)
        j->errs[i] = ledger_tx_verify(&j->txs[i], why, sizeof why);
}

void node_admit_relayed(struct node *n, const ProtobufCBinaryData *envs,
                        size_t count)
{
    char why[LEDGER_WHY_SIZE];
    int err = node_disk_check(n, why, sizeof why);
    struct ledger_tx *txs = NULL;
    int *errs = NULL;
    if (!err && count > 0) {
        txs = calloc(count, sizeof *txs);
        errs = calloc(count, sizeof *errs);
        if (!txs || !errs)
            err = WITAN_ENOMEM;
    }
    if (err) {
        /* Lost here, not for good: the sender forwards what it holds
         * when its view timer is half gone. */
        for (size_t i = 0; i < count; i++)
            count_outcome(n, err);
        free(txs);
        free(errs);
        return;
    }
    /* Each decoded once; what the node holds already goes no further. One
     * the proposal it came after holds was checked then: errs[i] = 1 marks
     * it, and it is admitted without a second check. */
    size_t fresh = 0;
    for (size_t i = 0; i < count; i++) {
        errs[i] = ledger_tx_decode(n->l, envs[i].data, envs[i].len, false,
                                   &txs[i], why, sizeof why);
        if (errs[i] == 0 && known(n, txs[i].hash)) {
            errs[i] = WITAN_EEXIST;
            ledger_tx_release(&txs[i]);
        } else if (errs[i] == 0 && replica_vouched(n, txs[i].hash,
                                                   envs[i].data,
                                                   envs[i].len)) {
            errs[i] = 1;
        }
        fresh += errs[i] == 0;
    }
    struct relay_job j = {txs, errs};
    bool pooled = fresh > 1 && witan_pool_threads(n->verify_pool) > 1 &&
                  !n->presign_job.running;
    if (pooled)
        witan_pool_run(n->verify_pool, count, verify_one, &j);
    for (size_t i = 0; i < count; i++) {
        if (errs[i] == 0 || errs[i] == 1) /* known() passed above; the pool
                                           * refuses a second copy from this
                                           * batch */
            errs[i] = admit_new(n, &txs[i], pooled || errs[i] == 1, why,
                                sizeof why);
        else
            ledger_tx_release(&txs[i]); /* still held when its check failed */
        count_outcome(n, errs[i]);
    }
    free(txs);
    free(errs);
}

/* Admits one envelope for a client; true when it newly entered the pool. */
static bool submit_one(struct node *n, const ProtobufCBinaryData *env,
                       struct ledger_tx *pre, Witan__SubmitResult *res,
                       uint8_t hash_out[WITAN_HASH_SIZE])
{
    char why[LEDGER_WHY_SIZE] = "";
    bool decoded;
    int err = node_admit(n, env->data, env->len, pre, hash_out, &decoded,
                         why, sizeof why);
    if (decoded)
        res->tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash_out};
    if (err == WITAN_EEXIST)
        return false; /* pending or committed already: not an error */
    if (err)
        res->error = make_error(err, why);
    return err == 0;
}

/* The answer to one submit request; every array has one entry per envelope. */
struct submit_batch {
    Witan__SubmitResponse response;
    Witan__SubmitResult *results;
    Witan__SubmitResult **pointers;
    uint8_t (*hashes)[WITAN_HASH_SIZE];
};

static void handle_submit(struct node *n, const Witan__SubmitRequest *req,
                          Witan__Response *resp, struct submit_batch *b)
{
    if (req->n_envelopes > WITAN_CLIENT_BATCH_COUNT_MAX) {
        char why[128];
        snprintf(why, sizeof why,
                 "a request carries at most %d transactions, not %zu",
                 WITAN_CLIENT_BATCH_COUNT_MAX, req->n_envelopes);
        resp->error = make_error(WITAN_ELIMIT, why);
        return;
    }
    size_t count = req->n_envelopes, alloc = count ? count : 1;
    b->results = calloc(alloc, sizeof *b->results);
    b->pointers = calloc(alloc, sizeof *b->pointers);
    b->hashes = calloc(alloc, sizeof *b->hashes);
    if (!b->results || !b->pointers || !b->hashes) {
        resp->error = make_error(WITAN_ENOMEM, NULL);
        return;
    }
    ProtobufCBinaryData *admitted = calloc(alloc, sizeof *admitted);
    /* Decoded and checked already with the round's other requests
     * (replica.c), in order; else here, this request's envelopes
     * together. */
    struct node_presigned *r = &n->presigned;
    struct ledger_tx *own = NULL, *pre = NULL;
    if (r->txs && r->next + count <= r->count) {
        pre = r->txs + r->next;
        r->next += count;
    } else if ((own = calloc(alloc, sizeof *own)) != NULL) {
        node_presign(n, req->envelopes, count, own);
        pre = own;
    }
    size_t admitted_count = 0;
    for (size_t i = 0; i < count; i++) {
        witan__submit_result__init(&b->results[i]);
        if (submit_one(n, &req->envelopes[i], pre ? &pre[i] : NULL,
                       &b->results[i], b->hashes[i]) &&
            admitted)
            admitted[admitted_count++] = req->envelopes[i];
        b->pointers[i] = &b->results[i];
    }
    free(own); /* node_admit took every one */
    /* Other validators get every admitted transaction, so that whoever is
     * primary, now or after a view change, can propose it. */
    if (n->replica && admitted_count)
        replica_on_admitted(n, admitted, admitted_count);
    free(admitted);
    b->response.n_results = count;
    b->response.results = b->pointers;
    resp->kind_case = WITAN__RESPONSE__KIND_SUBMIT;
    resp->submit = &b->response;
}

static void submit_batch_free(struct submit_batch *b)
{
    for (size_t i = 0; b->results && i < b->response.n_results; i++)
        free_error(b->results[i].error);
    free(b->results);
    free(b->pointers);
    free(b->hashes);
}

int node_stream_answer(struct node *n, Witan__Response *resp)
{
    size_t size = NODE_STREAM_ID_SIZE + witan__response__get_packed_size(resp);
    uint8_t *frame = malloc(size);
    if (!frame)
        return WITAN_ENOMEM;
    for (int i = 0; i < NODE_STREAM_ID_SIZE; i++)
        frame[i] = (uint8_t)(n->answer.id >> (56 - 8 * i));
    witan__response__pack(resp, frame + NODE_STREAM_ID_SIZE);
    int err = node_links_send(n->streams, n->answer.from, frame, size);
    free(frame);
    return err;
}

int node_rpc(nng_socket s, const Witan__Request *req, bool remote,
             Witan__Response **out)
{
    *out = NULL;
    size_t size = witan__request__get_packed_size(req);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, size) != 0)
        return WITAN_ENOMEM;
    witan__request__pack(req, nng_msg_body(msg));
    int rc = nng_sendmsg(s, msg, 0);
    if (rc)
        nng_msg_free(msg);
    else
        rc = nng_recvmsg(s, &msg, 0);
    if (rc)
        return rc == NNG_ECLOSED     ? WITAN_ECLOSED
               : rc == NNG_ETIMEDOUT ? WITAN_ETIMEOUT
                                     : WITAN_ENET;
    *out = remote ? witan_unpack_or_null(&witan__response__descriptor,
                                         nng_msg_body(msg), nng_msg_len(msg))
                  : witan__response__unpack(NULL, nng_msg_len(msg),
                                            nng_msg_body(msg));
    nng_msg_free(msg);
    return *out ? WITAN_OK : WITAN_EDECODE;
}

void node_send_response(struct node *n, Witan__Response *resp)
{
    if (n->answer.on) {
        int err = node_stream_answer(n, resp);
        /* Gone: the client hung up. Full: it reads none of its answers
         * (node_links_recv then stops serving it). */
        if (err && err != WITAN_ENOTFOUND)
            WITAN_WARN("node", "stream answer not sent: %s",
                       witan_err_message(err));
        return;
    }
    size_t size = witan__response__get_packed_size(resp);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, size) != 0) {
        WITAN_ERROR("node", "out of memory for a %zu-byte response", size);
        return;
    }
    witan__response__pack(resp, nng_msg_body(msg));
    int rc = nng_sendmsg(n->sock, msg, 0);
    if (rc != 0) {
        WITAN_WARN("node", "reply not sent: %s", nng_strerror(rc));
        nng_msg_free(msg);
    }
}

Witan__Request *node_request_decode(nng_msg *msg, size_t *size)
{
    *size = nng_msg_len(msg);
    Witan__Request *req =
        *size > WITAN_CLIENT_REQUEST_SIZE_MAX
            ? NULL
            : witan_unpack_or_null(&witan__request__descriptor,
                                   nng_msg_body(msg), *size);
    nng_msg_free(msg);
    return req;
}

void node_handle_request(struct node *n, nng_msg *msg)
{
    size_t size;
    Witan__Request *req = node_request_decode(msg, &size);
    node_handle_decoded(n, req, size);
}

void node_handle_decoded(struct node *n, Witan__Request *req, size_t size)
{
    Witan__Response resp = WITAN__RESPONSE__INIT;
    struct submit_batch sub = {WITAN__SUBMIT_RESPONSE__INIT, NULL, NULL, NULL};
    Witan__BlockResponse *block = NULL;
    Witan__TxResponse *tx = NULL;
    Witan__AttestationsResponse *att = NULL;
    Witan__FeedsResponse *feeds = NULL;
    Witan__AccountResponse acct = WITAN__ACCOUNT_RESPONSE__INIT;
    Witan__PredictionsResponse *preds = NULL;
    Witan__ModelsResponse *models = NULL;
    Witan__ContractsResponse *contracts = NULL;
    Witan__DecisionsResponse *decisions = NULL;
    Witan__RunsResponse *runs = NULL;
    Witan__ScorecardResponse *card = NULL;
    Witan__ProposalsResponse *proposals = NULL;
    Witan__ValidatorsResponse vals = WITAN__VALIDATORS_RESPONSE__INIT;
    Witan__ProofResponse proof = WITAN__PROOF_RESPONSE__INIT;
    Witan__HeadResponse head = WITAN__HEAD_RESPONSE__INIT;
    char *head_note = NULL;
    Witan__ConsistencyResponse cons = WITAN__CONSISTENCY_RESPONSE__INIT;
    wcrypto_digest cons_proof[WITAN_MERKLE_CONSISTENCY_COUNT_MAX];
    ProtobufCBinaryData cons_items[WITAN_MERKLE_CONSISTENCY_COUNT_MAX];
    uint8_t cons_roots[2][WITAN_HASH_SIZE];
    Witan__Account *account = NULL;
    struct metrics_answer metrics;
    uint8_t displaced_by[WITAN_HASH_SIZE];
    char why[LEDGER_WHY_SIZE] = "";
    int err = WITAN_OK;
    bool answered = false;

    if (!req) {
        snprintf(why, sizeof why,
                 size > WITAN_CLIENT_REQUEST_SIZE_MAX
                     ? "request of %zu bytes is over the limit"
                     : "request of %zu bytes is not a valid Request",
                 size);
        resp.error = make_error(size > WITAN_CLIENT_REQUEST_SIZE_MAX
                                    ? WITAN_ELIMIT
                                    : WITAN_EDECODE,
                                why);
        node_send_response(n, &resp);
        free_error(resp.error);
        return;
    }

    switch (req->kind_case) {
    case WITAN__REQUEST__KIND_SUBMIT:
        handle_submit(n, req->submit, &resp, &sub);
        break;
    case WITAN__REQUEST__KIND_STATUS:
        /* Answered, or held until the height moves, by status.c. */
        err = node_status_request(n, req->status, why, sizeof why);
        answered = !err;
        break;
    case WITAN__REQUEST__KIND_BLOCK:
        err = ledger_get_block(n->l, req->block->height, &block);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no block at height %llu",
                     (unsigned long long)req->block->height);
        resp.kind_case = WITAN__RESPONSE__KIND_BLOCK;
        resp.block = block;
        break;
    case WITAN__REQUEST__KIND_TX:
        if (req->tx->tx_hash.len != WITAN_HASH_SIZE) {
            err = WITAN_EINVAL;
            snprintf(why, sizeof why, "a transaction hash is 32 bytes");
            break;
        }
        err = ledger_get_tx(n->l, req->tx->tx_hash.data, &tx);
        if (!err && tx->state == WITAN__TX_STATE__TX_STATE_UNKNOWN) {
            if (mempool_find(&n->pool, req->tx->tx_hash.data)) {
                tx->state = WITAN__TX_STATE__TX_STATE_PENDING;
            } else if (node_drops_find(ledger_store(n->l),
                                       req->tx->tx_hash.data,
                                       displaced_by) == 0) {
                /* The response is freed as an unpacked message. */
                uint8_t *by = malloc(WITAN_HASH_SIZE);
                if (!by) {
                    err = WITAN_ENOMEM;
                    break;
                }
                memcpy(by, displaced_by, WITAN_HASH_SIZE);
                tx->state = WITAN__TX_STATE__TX_STATE_DROPPED;
                tx->displaced_by = (ProtobufCBinaryData){WITAN_HASH_SIZE, by};
            }
        }
        resp.kind_case = WITAN__RESPONSE__KIND_TX;
        resp.tx = tx;
        break;
    case WITAN__REQUEST__KIND_ATTESTATIONS:
        err = ledger_query_attestations(n->l, req->attestations, &att);
        if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why,
                     "limit is at most %d, feed and subject at most %d and "
                     "%d bytes",
                     WITAN_QUERY_PAGE_COUNT_MAX, WITAN_FEED_SIZE_MAX,
                     WITAN_SUBJECT_SIZE_MAX);
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why,
                     "cursor does not belong to this feed, subject and range");
        resp.kind_case = WITAN__RESPONSE__KIND_ATTESTATIONS;
        resp.attestations = att;
        break;
    case WITAN__REQUEST__KIND_FEEDS:
        err = ledger_query_feeds(n->l, req->feeds, &feeds);
        if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why,
                     "limit is at most %d, feed at most %d bytes",
                     WITAN_QUERY_PAGE_COUNT_MAX, WITAN_FEED_SIZE_MAX);
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "cursor does not belong to this feed");
        resp.kind_case = WITAN__RESPONSE__KIND_FEEDS;
        resp.feeds = feeds;
        break;
    case WITAN__REQUEST__KIND_ACCOUNT:
        if (req->account->address.len != WITAN_ADDRESS_SIZE) {
            err = WITAN_EINVAL;
            snprintf(why, sizeof why, "an address is 20 bytes");
            break;
        }
        err = ledger_get_account(n->l, req->account->address.data, &account);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no account with that address");
        acct.account = account;
        if (account) {
            /* Clients sign their next transaction with this: past what
             * this node holds pending, which the ledger does not know. */
            uint64_t next = account->nonce + 1;
            while (next - account->nonce <= n->pool.count &&
                   mempool_find_nonce(&n->pool, account->address.data, next))
                next++;
            acct.next_nonce = next;
        }
        resp.kind_case = WITAN__RESPONSE__KIND_ACCOUNT;
        resp.account = &acct;
        break;
    case WITAN__REQUEST__KIND_PREDICTIONS:
        err = ledger_query_predictions(n->l, req->predictions, &preds);
        if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "a model hash is 32 bytes, and a cursor "
                                      "must come from this model's pages");
        else if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why, "limit is at most %d",
                     WITAN_QUERY_PAGE_COUNT_MAX);
        resp.kind_case = WITAN__RESPONSE__KIND_PREDICTIONS;
        resp.predictions = preds;
        break;
    case WITAN__REQUEST__KIND_MODELS:
        err = ledger_query_models(n->l, req->models, &models);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no model with that hash");
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "hashes and cursors are 32 bytes");
        resp.kind_case = WITAN__RESPONSE__KIND_MODELS;
        resp.models = models;
        break;
    case WITAN__REQUEST__KIND_CONTRACTS:
        err = ledger_query_contracts(n->l, req->contracts, &contracts);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no contract with that id");
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why,
                     "contract ids, model hashes and cursors are 32 bytes");
        else if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why, "limit is at most %d",
                     WITAN_QUERY_PAGE_COUNT_MAX);
        resp.kind_case = WITAN__RESPONSE__KIND_CONTRACTS;
        resp.contracts = contracts;
        break;
    case WITAN__REQUEST__KIND_DECISIONS:
        err = ledger_query_decisions(n->l, req->decisions, &decisions);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no decision with that id");
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why,
                     "a decision id is %d bytes, a contract id 32, a kind "
                     "at most %d and a subject at most %d bytes, and a "
                     "cursor must come from the same filters' pages",
                     WITAN_DECISION_ID_SIZE, WITAN_DECISION_KIND_SIZE_MAX,
                     WITAN_DECISION_SUBJECT_SIZE_MAX);
        else if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why, "limit is at most %d",
                     WITAN_QUERY_PAGE_COUNT_MAX);
        resp.kind_case = WITAN__RESPONSE__KIND_DECISIONS;
        resp.decisions = decisions;
        break;
    case WITAN__REQUEST__KIND_RUNS:
        err = ledger_query_runs(n->l, req->runs, &runs);
        if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "a transaction hash is 32 bytes");
        resp.kind_case = WITAN__RESPONSE__KIND_RUNS;
        resp.runs = runs;
        break;
    case WITAN__REQUEST__KIND_SCORECARD:
        err = ledger_get_scorecard(n->l, req->scorecard, &card);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no model with that hash");
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "a model hash is 32 bytes");
        resp.kind_case = WITAN__RESPONSE__KIND_SCORECARD;
        resp.scorecard = card;
        break;
    case WITAN__REQUEST__KIND_PROPOSALS:
        err = ledger_query_proposals(n->l, req->proposals, &proposals);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why, "no proposal with that id");
        else if (err == WITAN_EINVAL)
            snprintf(why, sizeof why, "a cursor is 8 bytes");
        else if (err == WITAN_ELIMIT)
            snprintf(why, sizeof why, "limit is at most %d",
                     WITAN_QUERY_PAGE_COUNT_MAX);
        resp.kind_case = WITAN__RESPONSE__KIND_PROPOSALS;
        resp.proposals = proposals;
        break;
    case WITAN__REQUEST__KIND_VALIDATORS: {
        struct ledger_tip t;
        ledger_tip(n->l, &t);
        uint64_t at = req->validators->height ? req->validators->height
                                              : t.height + 1;
        vals.height = t.height;
        if (at > t.height + 1) {
            err = WITAN_EINVAL;
            snprintf(why, sizeof why, "height %llu is past the next block "
                                      "(%llu)",
                     (unsigned long long)at, (unsigned long long)t.height + 1);
        } else {
            err = ledger_validator_set(n->l, at, &vals.set);
        }
        if (!err)
            err = ledger_validator_set(n->l, 0, &vals.pending);
        /* Pending: not in force yet for the next block, whatever the
         * height asked. */
        if (!err && vals.pending->first_height <= t.height + 1) {
            witan__validator_set__free_unpacked(vals.pending, NULL);
            vals.pending = NULL;
        }
        resp.kind_case = WITAN__RESPONSE__KIND_VALIDATORS;
        resp.validators = &vals;
        break;
    }
    case WITAN__REQUEST__KIND_PROOF:
        err = ledger_prove(n->l, req->proof, &proof.proof, why, sizeof why);
        resp.kind_case = WITAN__RESPONSE__KIND_PROOF;
        resp.proof = &proof;
        break;
    case WITAN__REQUEST__KIND_HEAD:
        err = node_heads_get(n, req->head->size, &head, &head_note);
        if (!err)
            err = ledger_validator_changes(n->l, head.size,
                                           &head.validator_changes,
                                           &head.n_validator_changes, why,
                                           sizeof why);
        if (err == WITAN_ENOTFOUND)
            snprintf(why, sizeof why,
                     req->head->size ? "no signed head of that size here "
                                       "(heads are made every %llu blocks)"
                                     : "no signed head yet (heads are made "
                                       "every %llu blocks)",
                     (unsigned long long)
                         n->genesis->params->checkpoint_interval);
        resp.kind_case = WITAN__RESPONSE__KIND_HEAD;
        resp.head = &head;
        break;
    case WITAN__REQUEST__KIND_CONSISTENCY: {
        size_t count = 0;
        err = ledger_history_consistency(n->l, req->consistency->from,
                                         req->consistency->to, cons_proof,
                                         &count, cons_roots[0], cons_roots[1],
                                         why, sizeof why);
        for (size_t i = 0; !err && i < count; i++)
            cons_items[i] = (ProtobufCBinaryData){WITAN_HASH_SIZE,
                                                  cons_proof[i]};
        cons.from = req->consistency->from;
        cons.to = req->consistency->to;
        cons.from_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, cons_roots[0]};
        cons.to_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, cons_roots[1]};
        cons.n_proof = err ? 0 : count;
        cons.proof = cons_items;
        resp.kind_case = WITAN__RESPONSE__KIND_CONSISTENCY;
        resp.consistency = &cons;
        break;
    }
    case WITAN__REQUEST__KIND_METRICS:
        handle_metrics(n, &metrics, &resp);
        break;
    default:
        err = WITAN_EINVAL;
        snprintf(why, sizeof why, "request names no known kind");
    }
    if (err) {
        resp.kind_case = WITAN__RESPONSE__KIND__NOT_SET;
        resp.error = make_error(err, why);
    }
    if (!answered)
        node_send_response(n, &resp);

    free_error(resp.error);
    submit_batch_free(&sub);
    ledger_block_response_free(block);
    ledger_tx_response_free(tx);
    ledger_attestations_response_free(att);
    ledger_feeds_response_free(feeds);
    ledger_account_free(account);
    ledger_predictions_response_free(preds);
    ledger_models_response_free(models);
    ledger_contracts_response_free(contracts);
    ledger_decisions_response_free(decisions);
    ledger_runs_response_free(runs);
    ledger_scorecard_response_free(card);
    ledger_proposals_response_free(proposals);
    if (vals.set)
        witan__validator_set__free_unpacked(vals.set, NULL);
    if (vals.pending)
        witan__validator_set__free_unpacked(vals.pending, NULL);
    if (proof.proof)
        witan__proof__free_unpacked(proof.proof, NULL);
    free(head_note);
    ledger_validator_changes_free(head.validator_changes,
                                  head.n_validator_changes);
    witan__request__free_unpacked(req, NULL);
}

/* --- start and run ------------------------------------------------------------- */

int node_validator_key_read(const char *path, const char *what,
                            wcrypto_keypair *kp)
{
    int err = wcrypto_keyfile_read(path, kp);
    if (err) {
        WITAN_ERROR("node", "cannot use %s %s: %s%s", what, path,
                    witan_err_message(err),
                    err == WITAN_EKEYPERM ? " (chmod 600 it)" : "");
        return err;
    }
    if (kp->pub.type != WCRYPTO_KEY_ED25519) {
        wcrypto_keypair_wipe(kp);
        WITAN_ERROR("node", "%s %s must be ed25519", what, path);
        return WITAN_EKEYTYPE;
    }
    return WITAN_OK;
}

static int load_home(struct node *n, const char *home)
{
    char path[4096], why[LEDGER_WHY_SIZE];
    snprintf(path, sizeof path, "%s/genesis.json", home);
    int err = ledger_genesis_load(path, &n->genesis, why, sizeof why);
    if (err) {
        WITAN_ERROR("node", "%s", why);
        return err;
    }
    snprintf(path, sizeof path, "%s/validator.key", home);
    err = node_validator_key_read(path, "validator key", &n->key);
    if (err)
        return err;
    bool found = false;
    for (size_t i = 0; i < n->genesis->n_validators; i++)
        if (memcmp(n->genesis->validators[i]->pubkey.data, n->key.pub.bytes,
                   WCRYPTO_ED25519_PUBKEY_SIZE) == 0) {
            n->validator_index = (uint32_t)i;
            found = true;
        }
    /* With validators, consensus finds its key in the set in force (a
     * validator added by governance is in no genesis); alone, it must be
     * the genesis's one. */
    if (!found && n->genesis->n_validators == 1) {
        WITAN_ERROR("node", "validator key %s is not in the genesis "
                            "validator set", path);
        return WITAN_EKEY;
    }
    uint32_t positional = 0;
    for (uint32_t i = 0; i < n->cfg->peer_count; i++)
        positional += !node_peer_named(n->cfg->peers[i]);
    if (n->genesis->n_validators > 1 &&
        (positional != n->genesis->n_validators ||
         !n->cfg->p2p_listen[0])) {
        WITAN_ERROR("node",
                    "genesis has %zu validators: the config must set "
                    "p2p_listen and list all %zu validator addresses in "
                    "peers, NAME=URL entries aside (it lists %u)",
                    n->genesis->n_validators, n->genesis->n_validators,
                    positional);
        return WITAN_ECONFIG;
    }
    snprintf(path, sizeof path, "%s/data", home);
    struct store_options opts = {n->cfg->map_size, n->cfg->map_size_max, false};
    err = ledger_open(path, n->genesis, &opts, &n->l, why, sizeof why);
    if (err) {
        WITAN_ERROR("node", "home %s refused: %s", home, why);
        return err;
    }
    ledger_on_executed(n->l, replica_executed, n);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = n->cfg->verify_threads ? n->cfg->verify_threads
                       : online < 1 ? 1
                       : online > WITAN_POOL_THREADS_MAX
                           ? WITAN_POOL_THREADS_MAX
                           : (unsigned)online;
    err = witan_pool_new(threads, &n->verify_pool);
    if (err) {
        WITAN_ERROR("node", "no threads to check signatures on: %s",
                    witan_err_message(err));
        return err;
    }
    ledger_set_pool(n->l, n->verify_pool);
    return WITAN_OK;
}

/* How long a stopping node waits for nng to close its client socket. */
#define NODE_CLOSE_WAIT_MS 3000

struct closing {
    nng_socket sock;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
};

static void *close_main(void *arg)
{
    struct closing *c = arg;
    nng_close(c->sock);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    bool abandoned = c->abandoned;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (abandoned)
        free(c);
    return NULL;
}

/* nng 1.5's nng_close can wait for ever on a pipe that a client flooded
 * and never read (nanomsg/nng#1543, fixed after 1.5.2): the socket is
 * closed on a thread of its own, and a node whose every durable write is
 * done stops without it after NODE_CLOSE_WAIT_MS rather than hang. */
static void close_client_socket(nng_socket sock)
{
    struct closing *c = calloc(1, sizeof *c);
    pthread_t t;
    if (!c) {
        nng_close(sock);
        return;
    }
    c->sock = sock;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&t, NULL, close_main, c) != 0) {
        free(c);
        nng_close(sock);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += NODE_CLOSE_WAIT_MS / 1000;
    until.tv_nsec += (long)(NODE_CLOSE_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->done &&
           pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    bool done = c->done;
    c->abandoned = !done;
    pthread_mutex_unlock(&c->mu);
    if (done) {
        pthread_join(t, NULL);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
    } else {
        pthread_detach(t);
        WITAN_WARN("node", "the client socket did not close in %d ms (a "
                           "client that reads none of its answers); "
                           "stopping without it",
                   NODE_CLOSE_WAIT_MS);
    }
}

static void node_cleanup(struct node *n)
{
    /* Everything durable is closed first. */
    ledger_close(n->l);
    n->l = NULL;
    if (nng_socket_id(n->sock) > 0)
        close_client_socket(n->sock);
    node_links_close(n->streams);
    mempool_free(&n->pool);
    free(n->selection);
    witan_pool_free(n->verify_pool);
    ledger_genesis_free(n->genesis);
    wcrypto_keypair_wipe(&n->key);
    wcrypto_keypair_wipe(&n->next_key);
}

int node_run(const char *home, const struct node_config *cfg,
             volatile sig_atomic_t *stop)
{
    struct node n;
    memset(&n, 0, sizeof n);
    n.home = home;
    n.cfg = cfg;
    n.sock = (nng_socket)NNG_SOCKET_INITIALIZER;
    witan_log_set_level(cfg->log_level);
    int err = wcrypto_init();
    if (!err)
        err = load_home(&n, home);
    if (!err)
        err = mempool_init(&n.pool, cfg->mempool_count_max,
                           cfg->mempool_size_max);
    if (!err) {
        n.selection = calloc(WITAN_BLOCK_TX_COUNT_MAX, sizeof *n.selection);
        if (!n.selection)
            err = WITAN_ENOMEM;
    }
    /* One server configuration (the node's certificate) for the client
     * API and the gateway, when either asks for TLS. */
    nng_tls_config *tls = NULL;
    bool api_tls = strncmp(cfg->listen, "tls+tcp://", 10) == 0;
    bool stream_tls = strncmp(cfg->stream_listen, "tls+tcp://", 10) == 0;
    if (!err && (api_tls || stream_tls ||
                 strncmp(cfg->http_listen, "https://", 8) == 0 ||
                 strncmp(cfg->metrics_listen, "https://", 8) == 0))
        err = node_tls_config(&n, NODE_TLS_API_SERVER, NULL, &tls);
    int rc = 0;
    if (!err && (rc = nng_rep0_open(&n.sock)) == 0) {
        /* Above the API's limit, so that a request over it is answered
         * with an error instead of a dropped connection. */
        nng_socket_set_size(n.sock, NNG_OPT_RECVMAXSZ,
                            NODE_CLIENT_RECV_SIZE_MAX);
        nng_listener l;
        rc = nng_listener_create(&l, n.sock, cfg->listen);
        if (!rc && api_tls)
            rc = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls);
        if (!rc)
            rc = nng_listener_start(l, 0);
        if (rc)
            WITAN_ERROR("node", "cannot listen on %s: %s", cfg->listen,
                        nng_strerror(rc));
    }
    if (!err && rc)
        err = WITAN_ENET;
    if (!err && cfg->stream_listen[0]) {
        struct node_links_config sc;
        memset(&sc, 0, sizeof sc);
        sc.listen = cfg->stream_listen;
        sc.tls = stream_tls ? tls : NULL;
        sc.frame_size_max = NODE_STREAM_ID_SIZE + WITAN_CLIENT_REQUEST_SIZE_MAX;
        sc.send_size_max = NODE_STREAM_ID_SIZE + NODE_CLIENT_RECV_SIZE_MAX;
        sc.in_queue_count = NODE_REQUESTS_PER_ROUND_MAX;
        sc.in_queue_size = sc.frame_size_max;
        sc.out_queue_count = 2 * NODE_REQUESTS_PER_ROUND_MAX;
        sc.out_queue_size = 2 * sc.send_size_max;
        if (!err)
            err = node_links_open(&sc, &n.streams);
    }
    struct node_http *http = NULL;
    if (!err && cfg->http_listen[0]) {
        const struct node_http_limits limits = {
            cfg->http_idle_timeout_ms, cfg->http_request_timeout_ms,
            cfg->http_connection_count_max};
        err = node_http_start(n.sock, cfg->http_listen, tls, &limits, false,
                              &http);
        n.http = http;
    }
    /* The metrics listener: the same gateway code, /metrics, /healthz and
     * /readyz only; its connections are not in http_connections_*. */
    struct node_http *ops = NULL;
    if (!err && cfg->metrics_listen[0]) {
        const struct node_http_limits limits = {
            cfg->http_idle_timeout_ms, cfg->http_request_timeout_ms,
            cfg->http_connection_count_max};
        err = node_http_start(n.sock, cfg->metrics_listen, tls, &limits, true,
                              &ops);
        if (err) {
            n.http = NULL;
            node_http_stop(http);
        }
    }
    if (tls)
        nng_tls_config_free(tls); /* the listeners hold their own */
    if (err) {
        node_cleanup(&n);
        return err;
    }
    struct ledger_tip tip;
    ledger_tip(n.l, &tip);
    char hash[65];
    witan_hex_encode(tip.block_hash, WITAN_HASH_SIZE, hash);
    WITAN_INFO("node", "chain %s at height %llu (%s), listening on %s",
               n.genesis->chain_id, (unsigned long long)tip.height, hash,
               cfg->listen);

    /* One path for every chain: a lone validator runs the same core with
     * n = 1, whose own COMMIT is the whole quorum (spec/consensus.md). */
    err = replica_run(&n, stop);
    n.http = NULL;
    node_http_stop(ops);
    node_http_stop(http);
    ledger_tip(n.l, &tip);
    WITAN_INFO("node", "stopping at height %llu%s",
               (unsigned long long)tip.height, err ? " after an error" : "");
    node_cleanup(&n);
    return err;
}
