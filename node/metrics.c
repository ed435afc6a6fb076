/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics in the Prometheus text format (spec/api.md, "/metrics"), from a
 * MetricsResponse and this process's own figures. Apart from http.c so that
 * the names, kept to Prometheus's conventions, live in one place: base
 * units (_seconds, _bytes), _total on counters, what is counted in the name,
 * label values without spaces.
 */
#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "node/internal.h"
#include "render/render.h"

/* "WITAN_ENONCE" -> "nonce": short, stable within a release, no spaces. */
static void reason_name(int code, char out[32])
{
    const char *name = witan_err_name(code);
    if (strncmp(name, "WITAN_E", 7) == 0)
        name += 7;
    size_t i = 0;
    for (; name[i] && i < 31; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a'
                                                         : name[i]);
    out[i] = '\0';
}

void node_metrics_log_refusals(struct node_metrics *m)
{
    int64_t now = node_monotonic_ms();
    if (m->refusal_log_ms != 0 && now - m->refusal_log_ms < NODE_REFUSAL_LOG_MS)
        return;
    char line[1024], name[32];
    size_t len = 0;
    uint64_t total = 0;
    for (int i = 1; i < NODE_REFUSAL_CODE_MAX; i++) {
        uint64_t d = m->tx_refused[i] - m->tx_refused_logged[i];
        if (!d)
            continue;
        total += d;
        reason_name(-i, name);
        if (len < sizeof line)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %" PRIu64,
                                    len ? ", " : "", name, d);
    }
    if (!total)
        return;
    int64_t since = m->refusal_log_ms ? (now - m->refusal_log_ms) / 1000 : 0;
    if (m->refusal_log_ms)
        WITAN_INFO("node", "%" PRIu64 " transactions refused in the last %"
                   PRId64 " s: %s", total, since, line);
    else
        WITAN_INFO("node", "%" PRIu64 " transactions refused since start: %s",
                   total, line);
    memcpy(m->tx_refused_logged, m->tx_refused, sizeof m->tx_refused_logged);
    m->refusal_log_ms = now;
}

void node_metrics_admissions(const struct node_metrics *m,
                             Witan__DropCount *items, Witan__DropCount **ptrs,
                             char (*names)[32], Witan__MetricsResponse *out)
{
    size_t k = 0;
    for (int i = 1; i < NODE_REFUSAL_CODE_MAX; i++) {
        if (!m->tx_refused[i])
            continue;
        witan__drop_count__init(&items[k]);
        reason_name(-i, names[k]);
        items[k].reason = names[k];
        items[k].count = m->tx_refused[i];
        ptrs[k] = &items[k];
        k++;
    }
    out->tx_admitted = m->tx_admitted;
    out->n_tx_refused = k;
    out->tx_refused = ptrs;
}

/* In pieces, with no format: a help text is written as it is. */
static void head(struct render_json *b, const char *name, const char *type,
                 const char *help)
{
    const char *parts[] = {"# HELP ", name, " ", help, "\n# TYPE ",
                           name, " ", type, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        render_json_puts(b, parts[i]);
}

static void one(struct render_json *b, const char *name, const char *type,
                const char *help, uint64_t v)
{
    head(b, name, type, help);
    render_json_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* A label value: backslash, quote and newline escaped (exposition format),
 * and spaces made underscores, so that every value is one token for the
 * people and scripts that read them. */
static void label(struct render_json *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            render_json_printf(b, "\\%c", *s);
        else if (*s == '\n')
            render_json_puts(b, "\\n");
        else if (*s == ' ')
            render_json_puts(b, "_");
        else
            render_json_put(b, s, 1);
    }
}

static void reasons(struct render_json *b, const char *name,
                    Witan__DropCount *const *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        render_json_printf(b, "%s{reason=\"", name);
        label(b, items[i]->reason);
        render_json_printf(b, "\"} %" PRIu64 "\n", items[i]->count);
    }
}

/* Milliseconds as seconds, exactly (three decimals). */
static void seconds_ms(struct render_json *b, uint64_t ms)
{
    render_json_printf(b, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
}

/* --- this process (Linux /proc) ----------------------------------------------- */

struct process_figures {
    bool have_stat;
    double cpu_seconds, start_time_seconds;
    uint64_t resident_bytes, virtual_bytes;
    bool have_fds;
    uint64_t open_fds, max_fds;
};

static void process_figures(struct process_figures *p)
{
    memset(p, 0, sizeof *p);
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char text[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields
     * are counted from the last ')'. Field 14 is utime, 15 stime, 22
     * starttime (ticks after boot), 23 vsize (bytes), 24 rss (pages). */
    char *close = strrchr(text, ')');
    unsigned long long utime, stime, start, vsize;
    long long rss;
    if (close && ticks > 0 && page > 0 &&
        sscanf(close + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
               "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) == 5) {
        p->have_stat = true;
        p->cpu_seconds = (double)(utime + stime) / (double)ticks;
        p->virtual_bytes = vsize;
        p->resident_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
        unsigned long long boot = 0;
        FILE *s = fopen("/proc/stat", "r");
        char line[256];
        while (s && fgets(line, sizeof line, s))
            if (sscanf(line, "btime %llu", &boot) == 1)
                break;
        if (s)
            fclose(s);
        p->start_time_seconds = (double)boot + (double)start / (double)ticks;
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            p->open_fds += e->d_name[0] != '.';
        closedir(d);
        p->open_fds--; /* the descriptor reading the directory */
        struct rlimit rl;
        p->have_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0;
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
    }
}

/* --- the page ------------------------------------------------------------------- */

void node_metrics_render(const Witan__MetricsResponse *m, struct render_json *b)
{
    head(b, "witan_build_info", "gauge",
         "Always 1; the release, git commit and protocol version of this "
         "witand.");
    render_json_puts(b, "witan_build_info{version=\"");
    label(b, witan_release());
    render_json_puts(b, "\",commit=\"");
    label(b, witan_commit());
    render_json_printf(b, "\",protocol=\"%d\"} 1\n", WITAN_PROTOCOL_VERSION);

    one(b, "witan_height", "gauge", "Height of the last committed block.",
        m->height);
    one(b, "witan_view", "gauge", "Current consensus view.", m->view);
    one(b, "witan_blocks_committed_total", "counter",
        "Blocks committed since the node started.", m->commits);
    one(b, "witan_view_changes_total", "counter",
        "View changes since the node started.", m->view_changes);
    one(b, "witan_ready", "gauge",
        "1 when /readyz answers 200: a quorum linked, no view change, "
        "consensus not halted, the disk not low.", m->ready ? 1 : 0);

    one(b, "witan_transactions_admitted_total", "counter",
        "Transactions admitted into the mempool (from clients or relayed "
        "by peers).", m->tx_admitted);
    one(b, "witan_transaction_signatures_checked_total", "counter",
        "Transaction signatures checked since the node started: each "
        "transaction's once, on admission or judging a proposal.",
        m->tx_signatures_checked);
    head(b, "witan_transactions_refused_total", "counter",
         "Transactions refused on admission, by reason (the error's name: "
         "nonce, sig, nospace, exist, ...).");
    reasons(b, "witan_transactions_refused_total", m->tx_refused,
            m->n_tx_refused);
    one(b, "witan_mempool_transactions", "gauge",
        "Transactions waiting in the mempool.", m->mempool_count);
    one(b, "witan_mempool_bytes", "gauge",
        "Bytes of the transactions waiting in the mempool.", m->mempool_size);

    one(b, "witan_peers_connected", "gauge",
        "Validator peers this node's link to is up.", m->peers_connected);
    head(b, "witan_messages_dropped_total", "counter",
         "Consensus messages dropped, by reason.");
    reasons(b, "witan_messages_dropped_total", m->dropped, m->n_dropped);

    one(b, "witan_disk_free_bytes", "gauge",
        "Bytes free on the file system of the database.", m->disk_free_bytes);
    one(b, "witan_disk_need_bytes", "gauge",
        "Bytes that must stay free for transactions to be admitted.",
        m->disk_need_bytes);
    one(b, "witan_disk_low", "gauge",
        "1 while transactions are refused for lack of space.",
        m->disk_low ? 1 : 0);
    one(b, "witan_map_used_bytes", "gauge", "Bytes of the LMDB map in use.",
        m->map_used_bytes);
    one(b, "witan_map_max_bytes", "gauge",
        "The most the LMDB map may grow to (map_size_max_mb).",
        m->map_max_bytes);

    head(b, "witan_commit_latency_seconds", "histogram",
         "Seconds from a transaction's admission to its block's commit.");
    for (size_t i = 0; i < m->n_commit_latency_buckets; i++) {
        /* %g: 0.01 and 10 rather than 0.010 and 10.000. */
        render_json_printf(b,
                           "witan_commit_latency_seconds_bucket{le=\"%g\"} "
                           "%" PRIu64 "\n",
                           (double)m->commit_latency_buckets[i]->le_ms / 1000.0,
                           m->commit_latency_buckets[i]->count);
    }
    render_json_printf(b,
                       "witan_commit_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64
                       "\nwitan_commit_latency_seconds_sum ",
                       m->commit_latency_count);
    seconds_ms(b, m->commit_latency_sum_ms);
    render_json_printf(b, "\nwitan_commit_latency_seconds_count %" PRIu64 "\n",
                       m->commit_latency_count);

    head(b, "witan_transaction_phase_seconds", "summary",
         "Where the time of the transactions this node admitted went: from "
         "admission to the proposal that carried it, that proposal to its "
         "commit, commit to durable.");
    static const char *const phases[3] = {"admission_to_proposal",
                                          "proposal_to_commit",
                                          "commit_to_durable"};
    const uint64_t sums[3] = {m->phase_admit_proposal_us,
                              m->phase_proposal_commit_us,
                              m->phase_commit_durable_us};
    for (int k = 0; k < 3; k++)
        render_json_printf(b,
                           "witan_transaction_phase_seconds_sum{phase=\"%s\"} "
                           "%" PRIu64 ".%06u\n"
                           "witan_transaction_phase_seconds_count{phase=\"%s\"} "
                           "%" PRIu64 "\n",
                           phases[k], sums[k] / 1000000,
                           (unsigned)(sums[k] % 1000000), phases[k],
                           m->phase_count);

    one(b, "witan_status_answers_deferred_total", "counter",
        "Answers to held status requests put off because the client's "
        "stream had no room (tried again within 100 ms).",
        m->status_answers_deferred);
    one(b, "witan_http_connections_open", "gauge", "HTTP connections open.",
        m->http_connections_open);
    head(b, "witan_http_connections_closed_total", "counter",
         "HTTP connections the node closed, by reason: idle (idle timeout, "
         "or the longest idle at the cap), slow (request or answer over the "
         "request timeout).");
    render_json_printf(b,
                       "witan_http_connections_closed_total{reason=\"idle\"} "
                       "%" PRIu64 "\n"
                       "witan_http_connections_closed_total{reason=\"slow\"} "
                       "%" PRIu64 "\n",
                       m->http_connections_closed_idle,
                       m->http_connections_closed_slow);
    one(b, "witan_http_connections_refused_total", "counter",
        "HTTP connections refused at the cap with none idle.",
        m->http_connections_refused);

    /* The process, under the names every Prometheus client library uses. */
    struct process_figures p;
    process_figures(&p);
    if (p.have_stat) {
        head(b, "process_cpu_seconds_total", "counter",
             "User and system CPU time spent in seconds.");
        render_json_printf(b, "process_cpu_seconds_total %.2f\n", p.cpu_seconds);
        one(b, "process_resident_memory_bytes", "gauge",
            "Resident memory size in bytes.", p.resident_bytes);
        one(b, "process_virtual_memory_bytes", "gauge",
            "Virtual memory size in bytes.", p.virtual_bytes);
        head(b, "process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.");
        render_json_printf(b, "process_start_time_seconds %.2f\n",
                           p.start_time_seconds);
    }
    if (p.have_fds) {
        one(b, "process_open_fds", "gauge", "Number of open file descriptors.",
            p.open_fds);
        one(b, "process_max_fds", "gauge",
            "Maximum number of open file descriptors.", p.max_fds);
    }
}
