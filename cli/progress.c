/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress of long work on stderr, for people: on a terminal one line
 * redrawn in place a few times a second; otherwise (a log, a pipe, CI)
 * plain lines a few seconds apart, so a log shows the work moving without
 * filling up. Never part of stdout, which keeps the command's result.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double progress_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(struct cli_progress *p, const char *what,
                        const char *unit, bool on)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->unit = unit;
    p->on = on;
    p->tty = isatty(STDERR_FILENO) == 1;
    p->start_s = p->last_s = progress_now_s();
}

void cli_progress_show(struct cli_progress *p, uint64_t done, uint64_t total,
                       bool final)
{
    if (!p->on)
        return;
    double now = progress_now_s();
    double gap_ms = (now - p->last_s) * 1000;
    if (!final && gap_ms < (p->tty ? CLI_PROGRESS_TTY_MS
                                   : CLI_PROGRESS_INTERVAL_MS))
        return;
    p->last_s = now;
    double secs = now - p->start_s;
    double rate = secs > 1e-9 ? (double)done / secs : 0;
    char line[CLI_PROGRESS_LINE_SIZE], eta[32] = "--";
    if (rate > 0 && total >= done)
        snprintf(eta, sizeof eta, "%.0f s", (double)(total - done) / rate);
    if (total)
        snprintf(line, sizeof line, "witan %s: %llu of %llu %s; %.0f %s/s, "
                                    "ETA %s",
                 p->what, (unsigned long long)done,
                 (unsigned long long)total, p->unit, rate, p->unit, eta);
    else
        snprintf(line, sizeof line, "witan %s: %llu %s; %.0f %s/s", p->what,
                 (unsigned long long)done, p->unit, rate, p->unit);
    cli_progress_write(p->tty, &p->drawn, line);
}

void cli_progress_write(bool tty, size_t *drawn, const char *line)
{
    if (tty) {
        size_t len = strlen(line);
        fprintf(stderr, "\r%s%*s", line,
                (int)(*drawn > len ? *drawn - len : 0), "");
        *drawn = len;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void cli_progress_break(struct cli_progress *p)
{
    if (p->on && p->tty && p->drawn)
        fputc('\n', stderr);
    p->drawn = 0;
}
