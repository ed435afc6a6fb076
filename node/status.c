/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status answers (spec/api.md, "Following the chain"): at once, or, on the
 * stream API, held until the node's height passes the one the client
 * names or its wait runs out. A client that follows the chain then asks
 * once a block instead of polling, and learns of each block as soon as it
 * is executed: the held requests are answered as soon as the block that
 * moves the height is executed, before the database's commit of it syncs
 * (replica_executed), and the loop wakes for the first deadline among them
 * (node_status_deadline) to answer those whose wait ran out.
 */
#include <stdio.h>
#include <string.h>

#include "node/internal.h"

/* A StatusResponse and the storage it points into. */
struct status_answer {
    Witan__Response resp;
    Witan__StatusResponse status;
    Witan__StatusDrop drops[REPLICA_DROP_REASON_MAX];
    Witan__StatusDrop *drop_ptrs[REPLICA_DROP_REASON_MAX];
    const char *drop_reasons[REPLICA_DROP_REASON_MAX];
    uint64_t drop_counts[REPLICA_DROP_REASON_MAX];
    uint8_t tip_hash[WITAN_HASH_SIZE], tip_root[WITAN_HASH_SIZE];
};

/* The status as of now into *a (which must not move while a->resp is
 * used). */
static void status_fill(struct node *n, struct status_answer *a)
{
    Witan__StatusResponse *st = &a->status;
    witan__response__init(&a->resp);
    witan__status_response__init(st);
    struct ledger_tip tip;
    ledger_tip(n->l, &tip);
    memcpy(a->tip_hash, tip.block_hash, WITAN_HASH_SIZE);
    memcpy(a->tip_root, tip.state_root, WITAN_HASH_SIZE);
    st->chain_id = n->genesis->chain_id;
    st->genesis_hash = (ProtobufCBinaryData){
        WITAN_HASH_SIZE, (uint8_t *)ledger_genesis_hash_of(n->l)};
    st->height = tip.height;
    st->block_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, a->tip_hash};
    st->state_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, a->tip_root};
    st->protocol_version = WITAN_PROTOCOL_VERSION;
    struct node_disk disk;
    node_disk_figures(n, &disk);
    st->disk_free_bytes = disk.free;
    st->disk_need_bytes = disk.need;
    st->map_free_bytes = disk.map_max - disk.map_used;
    st->admitting = !disk.low;
    st->mempool_count = n->pool.count;
    st->mempool_size = n->pool.size;
    st->time_ms = tip.time_ms;
    st->validator_count = ledger_validator_count(n->l);
    size_t drop_count =
        replica_figures(n, &st->view, &st->view_changes, a->drop_reasons,
                        a->drop_counts, REPLICA_DROP_REASON_MAX);
    for (size_t i = 0; i < drop_count; i++) {
        witan__status_drop__init(&a->drops[i]);
        a->drops[i].reason = (char *)a->drop_reasons[i];
        a->drops[i].count = a->drop_counts[i];
        a->drop_ptrs[i] = &a->drops[i];
    }
    st->n_dropped = drop_count;
    st->dropped = a->drop_ptrs;
    a->resp.kind_case = WITAN__RESPONSE__KIND_STATUS;
    a->resp.status = st;
}

/* How many requests of stream `from` are held. */
static uint32_t held_on(const struct node *n, uint64_t from)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n->status_wait_count; i++)
        count += n->status_waits[i].from == from;
    return count;
}

int node_status_request(struct node *n, const Witan__StatusRequest *req,
                        char *why, size_t why_size)
{
    if (req->wait_ms > WITAN_STATUS_WAIT_MS_MAX) {
        snprintf(why, why_size, "wait_ms %u is over %d", req->wait_ms,
                 WITAN_STATUS_WAIT_MS_MAX);
        return WITAN_EINVAL;
    }
    if (req->wait_ms && !n->answer.on) {
        /* A request held on the socket would hold up every other client
         * of it: the socket answers one request at a time. */
        snprintf(why, why_size,
                 "a status request with wait_ms is answered on the stream "
                 "API only (stream_listen)");
        return WITAN_EINVAL;
    }
    if (!req->wait_ms || ledger_height(n->l) > req->after_height) {
        struct status_answer a;
        status_fill(n, &a);
        node_send_response(n, &a.resp);
        return WITAN_OK;
    }
    if (n->status_wait_count == WITAN_STATUS_WAIT_COUNT_MAX) {
        snprintf(why, why_size,
                 "%d status requests wait already: ask again without "
                 "wait_ms, or later",
                 WITAN_STATUS_WAIT_COUNT_MAX);
        return WITAN_EFULL;
    }
    /* So that one client cannot hold every place. */
    if (held_on(n, n->answer.from) == WITAN_STATUS_WAIT_STREAM_MAX) {
        snprintf(why, why_size,
                 "%d status requests of this stream wait already",
                 WITAN_STATUS_WAIT_STREAM_MAX);
        return WITAN_EFULL;
    }
    n->status_waits[n->status_wait_count++] = (struct node_status_wait){
        n->answer.from, n->answer.id, req->after_height,
        node_monotonic_ms() + (int64_t)req->wait_ms};
    return WITAN_OK;
}

void node_status_wake(struct node *n)
{
    if (!n->status_wait_count)
        return;
    uint64_t height = ledger_height(n->l);
    int64_t now = node_monotonic_ms();
    bool was_on = n->answer.on;
    uint64_t was_from = n->answer.from, was_id = n->answer.id;
    /* One status for every answer of this wake: only the ids differ. */
    struct status_answer a;
    bool filled = false;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n->status_wait_count; i++) {
        const struct node_status_wait *w = &n->status_waits[i];
        if (height <= w->after_height && now < w->deadline_ms) {
            n->status_waits[kept++] = *w;
            continue;
        }
        if (!filled)
            status_fill(n, &a);
        filled = true;
        n->answer.on = true;
        n->answer.from = w->from;
        n->answer.id = w->id;
        /* A client that hung up meanwhile is not found: the request goes.
         * One whose answers fill its stream's queue (it has not read the
         * others yet) is tried again in a later round, at the latest in
         * NODE_STATUS_RETRY_MS: not at once, or a client that reads
         * nothing would keep the loop from sleeping. */
        if (node_stream_answer(n, &a.resp) == WITAN_EFULL) {
            n->metrics.status_deferred++;
            n->status_waits[kept] = *w;
            n->status_waits[kept++].deadline_ms = now + NODE_STATUS_RETRY_MS;
        }
    }
    n->status_wait_count = kept;
    n->answer.on = was_on;
    n->answer.from = was_from;
    n->answer.id = was_id;
}

int64_t node_status_deadline(const struct node *n)
{
    int64_t first = 0;
    for (uint32_t i = 0; i < n->status_wait_count; i++)
        if (!first || n->status_waits[i].deadline_ms < first)
            first = n->status_waits[i].deadline_ms;
    return first;
}
