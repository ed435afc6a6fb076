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
    uint64_t map_size;                  /* bytes */
    uint64_t map_size_max;              /* bytes */
    enum witan_log_level log_level;
    uint32_t mempool_count_max;
    uint64_t mempool_size_max; /* bytes */
    uint32_t nonce_window;     /* also the most one sender may hold pending */
};

void node_config_defaults(struct node_config *c);

/*
 * Reads "key = value" lines ('#' starts a comment) over the defaults.
 * WITAN_ECONFIG with `why` naming the line for an unknown key or a bad value;
 * WITAN_EIO / WITAN_ENOTFOUND when the file cannot be read.
 */
int node_config_load(const char *path, struct node_config *c, char *why,
                     size_t why_size);

/* Writes a config file with every setting and its meaning. */
int node_config_write(const char *path, const struct node_config *c);

/*
 * Runs the node in `home` (config, genesis.json, validator.key, data/) until
 * *stop becomes non-zero (the signal handler's flag), then shuts down
 * cleanly. Returns 0 after a clean stop, or the error that stopped it (it has
 * been logged with what to do about it).
 */
int node_run(const char *home, const struct node_config *c,
             volatile sig_atomic_t *stop);

#endif
