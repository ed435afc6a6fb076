/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scenario — a small interpreter for text scenarios (tests/sim/scenarios).
 * One command per line; '#' starts a comment. The world's own checks
 * (agreement, validity, equal state roots) run throughout; `expect` lines add
 * the scenario's own claims. Commands:
 *
 *   config n=4 L=2 K=4 batch=4 seed=1 window=0 timeout=400 max=6400
 *          retransmit=500
 *                              (the first line that acts)
 *   submit NODE COUNT          requests to NODE (or `all`)
 *   run MS                     advance virtual time by MS
 *   crash NODE [lose]          crash (lose: at its next record, unpersisted)
 *   restart NODE
 *   byzantine NODE KIND        silent | equivocate | conflict | replay
 *   partition A,B,...          the listed nodes on one side, the rest apart
 *   heal
 *   gossip on|off              off: requests spread only when forwarded
 *   network DROP DUP MIN MAX   per-mille drops and duplicates, delays in ms
 *   drop KIND from SET to SET  KIND: preprepare prepare commit checkpoint
 *                              viewchange newview status all; SET: * or A,B
 *   clear                      remove every drop
 *   expect delivered NODE|all >= V     (also <=, ==)
 *   expect view NODE|all >= V
 *   expect stable NODE|all >= V
 *   expect evidence NODE|all >= V      equivocation pairs seen
 *   expect conflicts NODE|all >= V     messages dropped as conflicting
 *   expect viewchanges NODE|all <= V   view changes started
 *   expect same                every correct replica that is up at one height
 *   expect requests            every request committed at every correct replica
 *   expect sameview            every correct replica that is up in one view
 */
#include <stdio.h>
#include <string.h>

#include "tests/sim/sim.h"

static uint64_t parse_set(const char *t, uint32_t n)
{
    if (strcmp(t, "*") == 0 || strcmp(t, "all") == 0)
        return n >= 64 ? ~0ull : (1ull << n) - 1;
    uint64_t m = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", t);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        m |= 1ull << (strtoul(p, NULL, 10) & 63);
    return m;
}

static uint32_t parse_kind(const char *t)
{
    static const struct {
        const char *name;
        uint32_t kind;
    } kinds[] = {
        {"preprepare", PBFT_MSG_PRE_PREPARE}, {"prepare", PBFT_MSG_PREPARE},
        {"commit", PBFT_MSG_COMMIT},          {"checkpoint", PBFT_MSG_CHECKPOINT},
        {"viewchange", PBFT_MSG_VIEW_CHANGE}, {"newview", PBFT_MSG_NEW_VIEW},
        {"status", PBFT_MSG_STATUS},          {"all", 0},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(t, kinds[i].name) == 0)
            return kinds[i].kind;
    return UINT32_MAX;
}

static bool compare(uint64_t a, const char *op, uint64_t b)
{
    if (strcmp(op, ">=") == 0)
        return a >= b;
    if (strcmp(op, "<=") == 0)
        return a <= b;
    if (strcmp(op, "==") == 0)
        return a == b;
    return false;
}

int sim_scenario_run(const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(err, "%s: cannot open\n", path);
        return -1;
    }
    sim *s = NULL;
    char line[512];
    int lineno = 0, failures = 0;
    while (fgets(line, sizeof(line), f) && failures == 0) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *w[12];
        int nw = 0;
        char *save = NULL;
        for (char *p = strtok_r(line, " \t\r\n", &save); p && nw < 12;
             p = strtok_r(NULL, " \t\r\n", &save))
            w[nw++] = p;
        if (nw == 0)
            continue;
        const char *cmd = w[0];
        if (strcmp(cmd, "config") == 0) {
            sim_config c;
            sim_config_default(&c);
            for (int i = 1; i < nw; i++) {
                char *eq = strchr(w[i], '=');
                if (eq == NULL)
                    continue;
                *eq = 0;
                unsigned long v = strtoul(eq + 1, NULL, 10);
                if (strcmp(w[i], "n") == 0)
                    c.n = (uint32_t)v;
                else if (strcmp(w[i], "L") == 0)
                    c.pipeline_depth = (uint32_t)v;
                else if (strcmp(w[i], "K") == 0)
                    c.checkpoint_interval = (uint32_t)v;
                else if (strcmp(w[i], "batch") == 0)
                    c.batch_max = (uint32_t)v;
                else if (strcmp(w[i], "seed") == 0)
                    c.seed = v;
                else if (strcmp(w[i], "window") == 0)
                    c.window = (uint32_t)v;
                else if (strcmp(w[i], "timeout") == 0)
                    c.view_timeout_ms = (uint32_t)v;
                else if (strcmp(w[i], "max") == 0)
                    c.view_timeout_max_ms = (uint32_t)v;
                else if (strcmp(w[i], "retransmit") == 0)
                    c.retransmit_ms = (uint32_t)v;
            }
            s = sim_new(&c);
            continue;
        }
        if (s == NULL) {
            fprintf(err, "%s:%d: `config` must come first\n", path, lineno);
            failures++;
            break;
        }
        uint32_t n = sim_n(s);
        if (strcmp(cmd, "submit") == 0 && nw == 3) {
            uint64_t m = parse_set(w[1], n);
            for (uint32_t i = 0; i < n; i++)
                if (m >> i & 1)
                    sim_submit(s, i, (uint32_t)strtoul(w[2], NULL, 10));
        } else if (strcmp(cmd, "run") == 0 && nw == 2) {
            sim_run_until(s, sim_now(s) + strtoull(w[1], NULL, 10));
        } else if (strcmp(cmd, "crash") == 0 && nw >= 2) {
            sim_crash(s, (uint32_t)strtoul(w[1], NULL, 10),
                      nw == 3 && strcmp(w[2], "lose") == 0);
        } else if (strcmp(cmd, "restart") == 0 && nw == 2) {
            sim_restart(s, (uint32_t)strtoul(w[1], NULL, 10));
        } else if (strcmp(cmd, "byzantine") == 0 && nw == 3) {
            static const char *names[] = {"correct", "silent", "equivocate",
                                          "conflict", "replay"};
            int k = -1;
            for (int i = 0; i < SIM_BYZ_KINDS; i++)
                if (strcmp(w[2], names[i]) == 0)
                    k = i;
            if (k < 0) {
                fprintf(err, "%s:%d: unknown behaviour %s\n", path, lineno, w[2]);
                failures++;
            } else {
                sim_set_byzantine(s, (uint32_t)strtoul(w[1], NULL, 10),
                                  (enum sim_byz)k);
            }
        } else if (strcmp(cmd, "partition") == 0 && nw == 2) {
            sim_partition(s, parse_set(w[1], n));
        } else if (strcmp(cmd, "heal") == 0) {
            sim_heal(s);
        } else if (strcmp(cmd, "gossip") == 0 && nw == 2) {
            sim_set_gossip(s, strcmp(w[1], "on") == 0);
        } else if (strcmp(cmd, "network") == 0 && nw == 5) {
            sim_set_network(s, (uint32_t)strtoul(w[1], NULL, 10),
                            (uint32_t)strtoul(w[2], NULL, 10),
                            (uint32_t)strtoul(w[3], NULL, 10),
                            (uint32_t)strtoul(w[4], NULL, 10));
        } else if (strcmp(cmd, "drop") == 0 && nw == 6 &&
                   strcmp(w[2], "from") == 0 && strcmp(w[4], "to") == 0) {
            uint32_t kind = parse_kind(w[1]);
            if (kind == UINT32_MAX) {
                fprintf(err, "%s:%d: unknown kind %s\n", path, lineno, w[1]);
                failures++;
            } else {
                sim_filter(s, kind, parse_set(w[3], n), parse_set(w[5], n));
            }
        } else if (strcmp(cmd, "clear") == 0) {
            sim_clear_filters(s);
        } else if (strcmp(cmd, "expect") == 0 && nw >= 2) {
            const char *what = w[1];
            if (strcmp(what, "same") == 0) {
                uint64_t h = UINT64_MAX;
                for (uint32_t i = 0; i < n && failures == 0; i++) {
                    if (!sim_is_up(s, i))
                        continue;
                    if (h == UINT64_MAX)
                        h = sim_delivered(s, i);
                    if (sim_delivered(s, i) != h) {
                        fprintf(err, "%s:%d: node %u at height %llu, not %llu\n",
                                path, lineno, i,
                                (unsigned long long)sim_delivered(s, i),
                                (unsigned long long)h);
                        failures++;
                    }
                }
            } else if (strcmp(what, "requests") == 0) {
                if (!sim_check_requests(s))
                    failures++;
            } else if (strcmp(what, "sameview") == 0) {
                uint64_t v = 0;
                if (!sim_views_agree(s, &v)) {
                    fprintf(err, "%s:%d: correct replicas in different views:",
                            path, lineno);
                    for (uint32_t i = 0; i < n; i++)
                        if (sim_is_up(s, i))
                            fprintf(err, " n%u=%llu", i,
                                    (unsigned long long)sim_view(s, i));
                    fprintf(err, "\n");
                    failures++;
                }
            } else if (nw == 5) {
                uint64_t m = parse_set(w[2], n);
                uint64_t want = strtoull(w[4], NULL, 10);
                for (uint32_t i = 0; i < n && failures == 0; i++) {
                    if (!(m >> i & 1))
                        continue;
                    uint64_t got;
                    if (strcmp(what, "delivered") == 0)
                        got = sim_delivered(s, i);
                    else if (strcmp(what, "view") == 0)
                        got = sim_view(s, i);
                    else if (strcmp(what, "stable") == 0)
                        got = sim_stable(s, i);
                    else if (strcmp(what, "evidence") == 0) {
                        pbft_stats st;
                        sim_get_stats(s, i, &st);
                        got = st.evidence_count;
                    } else if (strcmp(what, "conflicts") == 0) {
                        pbft_stats st;
                        sim_get_stats(s, i, &st);
                        got = st.dropped[PBFT_DROP_CONFLICT];
                    } else if (strcmp(what, "viewchanges") == 0) {
                        pbft_stats st;
                        sim_get_stats(s, i, &st);
                        got = st.view_changes;
                    } else {
                        fprintf(err, "%s:%d: unknown expectation\n", path,
                                lineno);
                        failures++;
                        break;
                    }
                    if (!compare(got, w[3], want)) {
                        fprintf(err, "%s:%d: %s of node %u is %llu, expected %s %llu\n",
                                path, lineno, what, i, (unsigned long long)got,
                                w[3], (unsigned long long)want);
                        failures++;
                    }
                }
            } else {
                fprintf(err, "%s:%d: bad expect\n", path, lineno);
                failures++;
            }
        } else {
            fprintf(err, "%s:%d: cannot read `%s`\n", path, lineno, cmd);
            failures++;
        }
        const char *why;
        if (sim_failed(s, &why)) {
            fprintf(err, "%s:%d: the world's check failed: %s\n", path, lineno,
                    why);
            failures++;
        }
    }
    fclose(f);
    if (failures && s)
        sim_print_trace(s, err);
    sim_free(s);
    return failures ? -1 : 0;
}
