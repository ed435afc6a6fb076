/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-vm: the same three programs on this VM (gas metering on, the test
 * host for storage) and on Debian's lua5.4, in the same run, side by side:
 *   fib     recursive fib(35)
 *   loop    the sum of i*i mod 7 for i = 1..100,000,000
 *   map     1,000,000 integer-key writes then reads (host storage / a table)
 * Each program's result must agree between the two, or the run fails.
 * Sources: tests/vm/{fib,loop,map}.{wvs,lua}. Run from the project root
 * (`make bench-vm`); `bench-vm --quick` runs smaller sizes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vm/vm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file(const char *path, char **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return WITAN_EIO;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return WITAN_ENOMEM;
    *out = buf;
    *size = n;
    return 0;
}

static int run_vm(const char *name, int64_t n, int64_t *result, double *secs,
                  uint64_t *gas)
{
    char path[256], *text;
    size_t size;
    snprintf(path, sizeof path, "tests/vm/%s.wvs", name);
    int e = read_file(path, &text, &size);
    if (e) {
        fprintf(stderr, "bench-vm: cannot read %s\n", path);
        return e;
    }
    uint8_t *bin;
    size_t bin_size;
    vm_asm_error aerr;
    e = vm_assemble(text, size, &bin, &bin_size, &aerr);
    free(text);
    if (e) {
        fprintf(stderr, "bench-vm: %s:%u: %s\n", path, aerr.line, aerr.message);
        return e;
    }
    vm_testhost *th;
    vm_exec *x;
    vm_module *m;
    vm_verify_error verr;
    uint32_t fi;
    if ((e = vm_testhost_new(&th)) || (e = vm_exec_new(&x)))
        return e;
    e = vm_module_load(bin, bin_size, vm_testhost_host(th), &m, &verr);
    free(bin);
    if (e)
        return e;
    if ((e = vm_module_export(m, name, &fi)))
        return e;
    vm_value arg = vm_int(n);
    vm_result res;
    double t0 = now_s();
    e = vm_call(x, m, fi, &arg, 1, WITAN_VM_GAS_MAX, &res);
    *secs = now_s() - t0;
    if (e) {
        fprintf(stderr, "bench-vm: %s trapped: %s\n", name,
                vm_trap_text(res.trap));
        return e;
    }
    *result = res.value.i;
    *gas = res.gas_used;
    vm_module_free(m);
    vm_exec_free(x);
    vm_testhost_free(th);
    return 0;
}

static int run_lua(const char *name, int64_t n, int64_t *result, double *secs)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "lua5.4 tests/vm/%s.lua %lld", name,
             (long long)n);
    double t0 = now_s();
    FILE *p = popen(cmd, "r");
    if (!p)
        return WITAN_EIO;
    long long v = 0;
    int got = fscanf(p, "%lld", &v);
    int rc = pclose(p);
    *secs = now_s() - t0;
    if (got != 1 || rc != 0) {
        fprintf(stderr, "bench-vm: '%s' failed\n", cmd);
        return WITAN_EIO;
    }
    *result = v;
    return 0;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    struct {
        const char *name, *what;
        int64_t n;
    } progs[] = {
        {"fib", "fib(35), recursive", quick ? 25 : 35},
        {"loop", "sum i*i mod 7, i=1..1e8", quick ? 1000000 : 100000000},
        {"map", "1e6 map writes+reads", quick ? 10000 : 1000000},
    };
    int failed = 0;
    printf("%-26s %10s %10s %8s %14s\n", "program", "vm (s)", "lua5.4 (s)",
           "vm/lua", "vm gas");
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(progs); i++) {
        int64_t rv = 0, rl = 0;
        double tv = 0, tl = 0;
        uint64_t gas = 0;
        if (run_vm(progs[i].name, progs[i].n, &rv, &tv, &gas) ||
            run_lua(progs[i].name, progs[i].n, &rl, &tl)) {
            failed = 1;
            continue;
        }
        if (rv != rl) {
            fprintf(stderr, "bench-vm: %s: vm %lld, lua %lld\n", progs[i].name,
                    (long long)rv, (long long)rl);
            failed = 1;
        }
        printf("%-26s %10.3f %10.3f %8.2f %14llu\n", progs[i].what, tv, tl,
               tv / tl, (unsigned long long)gas);
    }
    return failed;
}
