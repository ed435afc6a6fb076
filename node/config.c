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
    c->map_size = WITAN_MAP_SIZE_DEFAULT;
    c->map_size_max = WITAN_MAP_SIZE_MAX_DEFAULT;
    c->log_level = WITAN_LOG_INFO;
    c->mempool_count_max = 50000;
    c->mempool_size_max = 64ull << 20;
    c->nonce_window = 1000;
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
    int err = witan_read_file(path, 64 * 1024, &text, &size);
    if (err) {
        snprintf(why, why_size, "cannot read %s: %s", path,
                 witan_err_message(err));
        return err;
    }
    int line_no = 0;
    err = WITAN_OK;
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
        } else if (strcmp(key, "map_size_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 24, &v);
            c->map_size = v << 20;
        } else if (strcmp(key, "map_size_max_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 24, &v);
            c->map_size_max = v << 20;
        } else if (strcmp(key, "log_level") == 0) {
            bad = witan_log_level_parse(value, &c->log_level);
        } else if (strcmp(key, "mempool_count_max") == 0) {
            bad = parse_u64(value, 1, 10000000, &v);
            c->mempool_count_max = (uint32_t)v;
        } else if (strcmp(key, "mempool_size_max_mb") == 0) {
            bad = parse_u64(value, 1, 1u << 16, &v);
            c->mempool_size_max = v << 20;
        } else if (strcmp(key, "nonce_window") == 0) {
            bad = parse_u64(value, 1, 1000000, &v);
            c->nonce_window = (uint32_t)v;
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
    if (!err && c->map_size > c->map_size_max) {
        snprintf(why, why_size, "%s: map_size_mb is larger than "
                                "map_size_max_mb", path);
        err = WITAN_ECONFIG;
    }
    free(text);
    return err;
}

int node_config_write(const char *path, const struct node_config *c)
{
    FILE *f = fopen(path, "wx");
    if (!f)
        return errno == EEXIST ? WITAN_EEXIST : WITAN_EIO;
    static const char *const levels[] = {"debug", "info", "warn", "error",
                                         "off"};
    fprintf(f,
            "# witand configuration (spec/node.md). Every setting is shown with "
            "its value.\n\n"
            "# Client API address (nng URL). Keep it on 127.0.0.1 unless a "
            "proxy or TLS\n# stands in front of it.\n"
            "listen = %s\n\n"
            "# LMDB map: initial size, and the most it may grow to when it "
            "fills.\n"
            "map_size_mb = %llu\nmap_size_max_mb = %llu\n\n"
            "# debug, info, warn, error or off.\n"
            "log_level = %s\n\n"
            "# Mempool bounds: transactions and bytes held before clients "
            "are told to retry.\n"
            "mempool_count_max = %u\nmempool_size_max_mb = %llu\n\n"
            "# Nonces admitted ahead of the last applied one; also the most "
            "one sender\n# may have pending.\n"
            "nonce_window = %u\n",
            c->listen, (unsigned long long)(c->map_size >> 20),
            (unsigned long long)(c->map_size_max >> 20), levels[c->log_level],
            c->mempool_count_max,
            (unsigned long long)(c->mempool_size_max >> 20), c->nonce_window);
    int err = ferror(f) ? WITAN_EIO : WITAN_OK;
    if (fclose(f) != 0)
        err = WITAN_EIO;
    return err;
}
