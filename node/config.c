/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's config file: "key = value" lines over documented defaults.
 * Unknown keys are errors, so that a misspelt setting is never silently
 * ignored on a validator.
 */
#include <errno.h>
#include <string.h>

#include "node/node.h"

void node_config_defaults(struct node_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "tcp://127.0.0.1:7400");
    c->http_idle_timeout_ms = 30000;
    c->http_request_timeout_ms = 10000;
    c->http_connection_count_max = 512; /* well below the usual 1024 files */
    c->map_size = WITAN_MAP_SIZE_DEFAULT;
    c->map_size_max = WITAN_MAP_SIZE_MAX_DEFAULT;
    c->log_level = WITAN_LOG_INFO;
    c->mempool_count_max = 50000;
    c->mempool_size_max = 16ull << 20; /* with the rest, under 64 MiB resident */
    c->nonce_window = 1000;
    c->view_timeout_ms = 1000;
    c->view_timeout_max_ms = 30000;
    c->send_queue_count = 1024;
}

bool node_peer_named(const char *entry)
{
    const char *eq = strchr(entry, '='), *scheme = strstr(entry, "://");
    return eq && (!scheme || eq < scheme);
}

/* "a, b, c" into the peer list. */
static int parse_peers(char *value, struct node_config *c)
{
    c->peer_count = 0;
    for (char *tok = strtok(value, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (n == 0 || n >= NODE_ADDRESS_SIZE_MAX ||
            c->peer_count == WITAN_VALIDATOR_COUNT_MAX)
            return WITAN_ECONFIG;
        snprintf(c->peers[c->peer_count++], NODE_ADDRESS_SIZE_MAX, "%s", tok);
    }
    return c->peer_count ? WITAN_OK : WITAN_ECONFIG;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return WITAN_ERANGE;
    *out = x;
    return WITAN_OK;
}

int node_config_load(const char *path, struct node_config *c, char *why,
                     size_t why_size)
{
    char *text;
    size_t size;
    int err = witan_read_file(path, NODE_CONFIG_SIZE_MAX, &text, &size);
    if (err) {
        snprintf(why, why_size, "cannot read %s: %s", path,
                 witan_err_message(err));
        return err;
    }
    err = node_config_parse(path, text, c, why, why_size);
    free(text);
    return err;
}

int node_config_parse(const char *path, char *text, struct node_config *c,
                      char *why, size_t why_size)
{
    int line_no = 0;
    int err = WITAN_OK;
    for (char *line = text, *next; line && !err; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, why_size, "%s:%d: expected key = value", path,
                     line_no);
            err = WITAN_ECONFIG;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        uint64_t v = 0;
        int bad = 0;
        if (strcmp(key, "listen") == 0) {
            bad = strlen(value) == 0 || strlen(value) >= sizeof c->listen;
            if (!bad)
                snprintf(c->listen, sizeof c->listen, "%s", value);
        } else if (strcmp(key, "stream_listen") == 0) {
            /* Empty: off; otherwise an nng stream URL (tcp://, ipc://,
             * tls+tcp://). */
            bad = strlen(value) >= sizeof c->stream_listen;
            if (!bad)
                snprintf(c->stream_listen, sizeof c->stream_listen, "%s",
                         value);
        } else if (strcmp(key, "http_listen") == 0) {
            /* Empty turns the gateway off; otherwise an http:// or
             * https:// URL. */
            bad = strlen(value) >= sizeof c->http_listen ||
                  (value[0] && strncmp(value, "http://", 7) != 0 &&
                   strncmp(value, "https://", 8) != 0);
            if (!bad)
                snprintf(c->http_listen, sizeof c->http_listen, "%s", value);
        } else if (strcmp(key, "metrics_listen") == 0) {
            bad = strlen(value) >= sizeof c->metrics_listen ||
                  (value[0] && strncmp(value, "http://", 7) != 0 &&
                   strncmp(value, "https://", 8) != 0);
            if (!bad)
                snprintf(c->metrics_listen, sizeof c->metrics_listen, "%s",
                         value);
        } else if (strcmp(key, "http_idle_timeout_ms") == 0) {
            bad = parse_u64(value, 100, 3600000, &v);
            c->http_idle_timeout_ms = (uint32_t)v;
        } else if (strcmp(key, "http_request_timeout_ms") == 0) {
            bad = parse_u64(value, 100, 600000, &v);
            c->http_request_timeout_ms = (uint32_t)v;
        } else if (strcmp(key, "http_connection_count_max") == 0) {
            bad = parse_u64(value, 1, 65536, &v);
            c->http_connection_count_max = (uint32_t)v;
        } else if (strcmp(key, "map_size_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 24, &v);
            c->map_size = v << 20;
        } else if (strcmp(key, "map_size_max_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 24, &v);
            c->map_size_max = v << 20;
        } else if (strcmp(key, "log_level") == 0) {
            bad = witan_log_level_parse(value, &c->log_level);
        } else if (strcmp(key, "log_format") == 0) {
            bad = witan_log_format_parse(value, &c->log_format);
        } else if (strcmp(key, "mempool_count_max") == 0) {
            bad = parse_u64(value, 1, 10000000, &v);
            c->mempool_count_max = (uint32_t)v;
        } else if (strcmp(key, "mempool_size_max_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 16, &v);
            c->mempool_size_max = v << 20;
        } else if (strcmp(key, "nonce_window") == 0) {
            bad = parse_u64(value, 1, 1000000, &v);
            c->nonce_window = (uint32_t)v;
        } else if (strcmp(key, "p2p_listen") == 0) {
            bad = strlen(value) == 0 || strlen(value) >= sizeof c->p2p_listen;
            if (!bad)
                snprintf(c->p2p_listen, sizeof c->p2p_listen, "%s", value);
        } else if (strcmp(key, "peers") == 0) {
            bad = parse_peers(value, c) != 0;
        } else if (strcmp(key, "sync_from") == 0) {
            bad = strlen(value) >= sizeof c->sync_from;
            if (!bad)
                snprintf(c->sync_from, sizeof c->sync_from, "%s", value);
        } else if (strcmp(key, "view_timeout_ms") == 0) {
            bad = parse_u64(value, 10, 600000, &v);
            c->view_timeout_ms = (uint32_t)v;
        } else if (strcmp(key, "view_timeout_max_ms") == 0) {
            bad = parse_u64(value, 10, 600000, &v);
            c->view_timeout_max_ms = (uint32_t)v;
        } else if (strcmp(key, "tls_cert") == 0 || strcmp(key, "tls_key") == 0 ||
                   strcmp(key, "tls_ca") == 0) {
            char *dst = key[4] == 'c' && key[5] == 'e' ? c->tls_cert
                        : key[4] == 'k'                ? c->tls_key
                                                       : c->tls_ca;
            bad = strlen(value) == 0 || strlen(value) >= NODE_ADDRESS_SIZE_MAX;
            if (!bad)
                snprintf(dst, NODE_ADDRESS_SIZE_MAX, "%s", value);
        } else if (strcmp(key, "send_queue_count") == 0) {
            bad = parse_u64(value, 1, 65536, &v);
            c->send_queue_count = (uint32_t)v;
        } else if (strcmp(key, "verify_threads") == 0) {
            bad = parse_u64(value, 0, WITAN_POOL_THREADS_MAX, &v);
            c->verify_threads = (uint32_t)v;
        } else {
            snprintf(why, why_size, "%s:%d: unknown setting '%s'", path,
                     line_no, key);
            err = WITAN_ECONFIG;
            break;
        }
        if (bad) {
            snprintf(why, why_size, "%s:%d: bad value '%s' for %s", path,
                     line_no, value, key);
            err = WITAN_ECONFIG;
        }
    }
    if (!err && (!c->tls_cert[0] != !c->tls_key[0] ||
                 !c->tls_cert[0] != !c->tls_ca[0])) {
        snprintf(why, why_size, "%s: tls_cert, tls_key and tls_ca go together",
                 path);
        err = WITAN_ECONFIG;
    }
    if (!err && !c->tls_cert[0] &&
        (strncmp(c->listen, "tls+tcp://", 10) == 0 ||
         strncmp(c->http_listen, "https://", 8) == 0 ||
         strncmp(c->metrics_listen, "https://", 8) == 0)) {
        snprintf(why, why_size, "%s: a tls+tcp:// listen or an https:// "
                                "http_listen or metrics_listen needs "
                                "tls_cert, tls_key and tls_ca",
                 path);
        err = WITAN_ECONFIG;
    }
    if (!err && c->view_timeout_ms > c->view_timeout_max_ms) {
        snprintf(why, why_size, "%s: view_timeout_ms is larger than "
                                "view_timeout_max_ms", path);
        err = WITAN_ECONFIG;
    }
    if (!err && c->map_size > c->map_size_max) {
        snprintf(why, why_size, "%s: map_size_mb is larger than "
                                "map_size_max_mb", path);
        err = WITAN_ECONFIG;
    }
    return err;
}

int node_config_write(const char *path, const struct node_config *c)
{
    FILE *f = fopen(path, "wx");
    if (!f)
        return errno == EEXIST ? WITAN_EEXIST : WITAN_EIO;
    static const char *const levels[] = {"debug", "info", "warn", "error",
                                         "off"};
    char peers_text[WITAN_VALIDATOR_COUNT_MAX * (NODE_ADDRESS_SIZE_MAX + 2)];
    size_t used = 0;
    peers_text[0] = '\0';
    for (uint32_t i = 0; i < c->peer_count; i++)
        used += (size_t)snprintf(peers_text + used, sizeof peers_text - used,
                                 "%s%s", i ? ", " : "", c->peers[i]);
    if (!c->peer_count)
        snprintf(peers_text, sizeof peers_text,
                 "tcp://127.0.0.1:7401, tcp://127.0.0.1:7411");
    fprintf(f,
            "# witand configuration (spec/node.md). Every setting is shown with "
            "its value.\n\n"
            "# Client API address (nng URL). Keep it on 127.0.0.1 unless "
            "its readers\n# may read the chain; tls+tcp://host:port serves "
            "it over TLS with\n# tls_cert (clients verify it against "
            "tls_ca: witan --tls-ca).\n"
            "listen = %s\n\n"
            "# HTTP/JSON gateway and /metrics (spec/api.md), e.g.\n"
            "# http://127.0.0.1:7480, or https://... with tls_cert. "
            "Empty: off.\n"
            "http_listen = %s\n\n"
            "# /metrics, /healthz and /readyz alone on a listener of their\n"
            "# own (the JSON gateway may stay off), e.g. "
            "http://127.0.0.1:7490.\n# Empty: off.\n"
            "metrics_listen = %s\n\n"
            "# The client API as a stream (spec/api.md, \"Stream API\"): many\n"
            "# requests in flight on one connection, answers coalesced;\n"
            "# tcp://, ipc:// or tls+tcp://. Empty: off.\n"
            "stream_listen = %s\n\n"
            "# HTTP connections: closed after this long without a request,\n"
            "# or when one request's head and body, or its answer, take\n"
            "# longer; at most this many open (past it the longest-idle one\n"
            "# is closed, or the new one when none is idle).\n"
            "http_idle_timeout_ms = %u\nhttp_request_timeout_ms = %u\n"
            "http_connection_count_max = %u\n\n"
            "# LMDB map: initial size, and the most it may grow to when it "
            "fills.\n"
            "map_size_mb = %llu\nmap_size_max_mb = %llu\n\n"
            "# debug, info, warn, error or off; SIGHUP re-reads it.\n"
            "log_level = %s\n\n"
            "# text (time level component: message) or json (one object "
            "per line).\n"
            "log_format = %s\n\n"
            "# Mempool bounds: transactions and bytes held before clients "
            "are told to retry.\n"
            "mempool_count_max = %u\nmempool_size_max_mb = %llu\n\n"
            "# Nonces admitted ahead of the last applied one; also the most "
            "one sender\n# may have pending.\n"
            "nonce_window = %u\n\n"
            "# Validators only (more than one in genesis): the address this node\n"
            "# listens on for its peers, and every validator's address in\n"
            "# genesis order, this node's own included.\n"
            "%sp2p_listen = %s\n%speers = %s\n\n"
            "# A validator added by governance that starts from genesis (or\n"
            "# from a copy older than the change): another node's client API,\n"
            "# to follow the chain from until the set in force holds this\n"
            "# node's key. Empty: none (start such a node from a backup).\n"
            "sync_from = %s\n\n"
            "# View change: first timeout, and the ceiling it doubles up to.\n"
            "# Consensus assumes that once the network settles, messages\n"
            "# arrive within the ceiling (spec/consensus.md).\n"
            "view_timeout_ms = %u\nview_timeout_max_ms = %u\n\n"
            "# Messages queued for one peer; past it they are dropped and\n"
            "# counted, so a slow peer never blocks the others.\n"
            "send_queue_count = %u\n\n"
            "# Threads a block's transaction signatures are checked on (0:\n"
            "# the online CPUs).\n"
            "verify_threads = %u\n\n"
            "# TLS between validators (with tls+tcp:// addresses): this node's\n"
            "# ECDSA P-256 certificate and key, and the CA every peer's\n"
            "# certificate must chain to (peers without one are refused).\n"
            "# The same certificate serves a tls+tcp:// listen and an\n"
            "# https:// http_listen (clients show none).\n"
            "# Paths are relative to the home.\n"
            "%stls_cert = %s\n%stls_key = %s\n%stls_ca = %s\n",
            c->listen, c->http_listen, c->metrics_listen, c->stream_listen,
            c->http_idle_timeout_ms,
            c->http_request_timeout_ms, c->http_connection_count_max,
            (unsigned long long)(c->map_size >> 20),
            (unsigned long long)(c->map_size_max >> 20), levels[c->log_level],
            c->log_format == WITAN_LOG_JSON ? "json" : "text",
            c->mempool_count_max,
            (unsigned long long)(c->mempool_size_max >> 20), c->nonce_window,
            c->p2p_listen[0] ? "" : "# ", c->p2p_listen[0] ? c->p2p_listen
                                                             : "tcp://127.0.0.1:7401",
            c->peer_count ? "" : "# ", peers_text, c->sync_from,
            c->view_timeout_ms,
            c->view_timeout_max_ms, c->send_queue_count, c->verify_threads,
            c->tls_cert[0] ? "" : "# ",
            c->tls_cert[0] ? c->tls_cert : "tls-cert.pem",
            c->tls_key[0] ? "" : "# ", c->tls_key[0] ? c->tls_key : "tls-key.pem",
            c->tls_ca[0] ? "" : "# ", c->tls_ca[0] ? c->tls_ca : "tls-ca.pem");
    int err = ferror(f) ? WITAN_EIO : WITAN_OK;
    if (fclose(f) != 0)
        err = WITAN_EIO;
    return err;
}
