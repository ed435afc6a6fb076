/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main_load — runs one benchmark and says how loaded the machine was
 * while it ran, so that a figure can be read beside what else competed
 * for the cores (`make bench` runs every benchmark through it).
 *
 *   main_load COMMAND [ARG...]
 *
 * The command's output passes through untouched; then one line: the
 * machine's CPUs busy over the run (from /proc/stat), split into the
 * benchmark's own processes and everything else; time waiting for the
 * disk; time the hypervisor gave to other guests (steal); the 1-minute
 * load average before and after. Exit status: the command's.
 *
 * The benchmark's own processes are the command and every descendant:
 * main_load is their subreaper (PR_SET_CHILD_SUBREAPER), so a daemon a
 * benchmark starts (`witan testnet start`) is reaped here when it ends,
 * and its CPU time (wait4) counted, rather than lost to init.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shorter runs are a few clock ticks of /proc/stat: no share is told. */
#define LOAD_ELAPSED_MIN_S 0.5

/* The first eight fields of /proc/stat's "cpu" line, in clock ticks. */
enum { USER, NICE, SYSTEM, IDLE, IOWAIT, IRQ, SOFTIRQ, STEAL, FIELDS };

static bool read_stat(uint64_t t[FIELDS])
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[FIELDS];
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                     &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    for (int i = 0; i < FIELDS; i++)
        t[i] = got == FIELDS ? v[i] : 0;
    return got == FIELDS;
}

static double load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f && fscanf(f, "%lf", &l) != 1)
        l = -1;
    if (f)
        fclose(f);
    return l;
}

static double cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: main_load COMMAND [ARG...]\n");
        return 2;
    }
    uint64_t before[FIELDS], after[FIELDS];
    bool stat_ok = read_stat(before);
    double load0 = load_average(), t0 = now_s();
    fflush(stdout);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        perror("main_load: daemons it starts are not counted: prctl");
    pid_t pid = fork();
    if (pid < 0) {
        perror("main_load: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "main_load: cannot run %s\n", argv[1]);
        _exit(127);
    }
    /* Every child that ends is reaped at once, the command's orphans too:
     * one that waits for a daemon to go (kill(pid, 0)) must not find it
     * a zombie here. */
    int status = 0;
    double own = 0;
    for (;;) {
        int st;
        struct rusage ru;
        pid_t got = wait4(-1, &st, 0, &ru);
        if (got < 0) {
            perror("main_load: wait4");
            return 2;
        }
        own += cpu_s(&ru);
        if (got == pid) {
            status = st;
            break;
        }
    }
    int st;
    struct rusage ru;
    while (wait4(-1, &st, WNOHANG, &ru) > 0)
        own += cpu_s(&ru);
    double elapsed = now_s() - t0, load1 = load_average();
    stat_ok = read_stat(after) && stat_ok;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN), hz = sysconf(_SC_CLK_TCK);
    double d[FIELDS], total = 0;
    for (int i = 0; i < FIELDS; i++) {
        d[i] = stat_ok ? (double)(after[i] - before[i]) : 0;
        total += d[i];
    }
    if (!stat_ok || total <= 0 || cpus < 1 || hz < 1) {
        printf("  machine load: not measured (no /proc/stat)\n");
    } else if (elapsed < LOAD_ELAPSED_MIN_S) {
        printf("  machine load: not measured (the run took %.2f s, under "
               "the clock ticks' resolution)\n",
               elapsed);
    } else {
        double busy = (d[USER] + d[NICE] + d[SYSTEM] + d[IRQ] + d[SOFTIRQ]) /
                      total,
               mine = own / (elapsed * (double)cpus),
               others = busy > mine ? busy - mine : 0;
        printf("  machine load while it ran: %ld CPUs %.0f %% busy over "
               "%.1f s (this benchmark's processes %.0f %%, everything else "
               "%.0f %%), waiting for the disk %.0f %%, stolen by the "
               "hypervisor %.0f %%; load average %.2f before, %.2f after\n",
               cpus, 100 * busy, elapsed, 100 * mine, 100 * others,
               100 * d[IOWAIT] / total, 100 * d[STEAL] / total, load0,
               load1);
    }
    fflush(stdout);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "main_load: %s ended by signal %d\n", argv[1],
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}
