/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watching the disk, so that a full one is refused rather than crashed
 * into (spec/node.md, "Disk"). Before admitting a transaction the node
 * checks, at most every NODE_DISK_CHECK_MS, the free space of the file
 * system holding its database and the headroom of the LMDB map; when
 * either is below what the pool could still turn into blocks, it refuses
 * new transactions with WITAN_ENOSPACE and a sentence giving both figures,
 * keeps serving reads, and admits again by itself once space returns.
 */
#include <stdio.h>
#include <sys/statvfs.h>

#include "node/internal.h"

uint64_t node_disk_need(const struct node_config *c, const Witan__Params *p)
{
    /* Every byte the pool holds may become a block; a block is written
     * with its receipts and state, and LMDB copies the pages it changes. */
    return NODE_DISK_FACTOR * (c->mempool_size_max + p->block_size_max) +
           NODE_DISK_SLACK;
}

static void refresh(struct node *n)
{
    struct node_disk *d = &n->disk;
    char path[4096];
    snprintf(path, sizeof path, "%s/data", n->home);
    struct statvfs fs;
    if (statvfs(path, &fs) == 0)
        d->free = (uint64_t)fs.f_bavail * fs.f_frsize;
    uint64_t used, max;
    if (store_usage(ledger_store(n->l), &used, &max) == 0) {
        d->map_used = used;
        d->map_max = max;
    }
    d->need = node_disk_need(n->cfg, ledger_params(n->l)); /* in force */
    bool low = d->free < d->need || d->map_max - d->map_used < d->need;
    if (low && !d->low)
        WITAN_WARN("node",
                   "disk nearly full: %llu MiB free, database map %llu of "
                   "%llu MiB; need %llu MiB: refusing new transactions",
                   (unsigned long long)(d->free >> 20),
                   (unsigned long long)(d->map_used >> 20),
                   (unsigned long long)(d->map_max >> 20),
                   (unsigned long long)(d->need >> 20));
    else if (!low && d->low)
        WITAN_INFO("node", "disk space back (%llu MiB free): admitting again",
                   (unsigned long long)(d->free >> 20));
    d->low = low;
}

/* Measures again when the last measure is older than NODE_DISK_CHECK_MS:
 * admissions and status requests may come by the thousand a second. */
static void update(struct node *n)
{
    struct node_disk *d = &n->disk;
    int64_t now = node_monotonic_ms();
    if (d->checked_ms == 0 || now - d->checked_ms >= NODE_DISK_CHECK_MS) {
        refresh(n);
        d->checked_ms = now;
    }
}

int node_disk_check(struct node *n, char *why, size_t why_size)
{
    struct node_disk *d = &n->disk;
    update(n);
    if (!d->low)
        return WITAN_OK;
    d->refused++;
    if (d->free < d->need)
        snprintf(why, why_size,
                 "disk nearly full: %llu MiB free, need %llu MiB",
                 (unsigned long long)(d->free >> 20),
                 (unsigned long long)(d->need >> 20));
    else
        snprintf(why, why_size,
                 "database map nearly full: %llu of %llu MiB used, need "
                 "%llu MiB more (raise map_size_max_mb)",
                 (unsigned long long)(d->map_used >> 20),
                 (unsigned long long)(d->map_max >> 20),
                 (unsigned long long)(d->need >> 20));
    return WITAN_ENOSPACE;
}

void node_disk_figures(struct node *n, struct node_disk *out)
{
    update(n);
    *out = n->disk;
}
