/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test host: a few host functions over an integer map and a log, for the
 * tests, the benchmark and `witan contract run`. It stands in for the ledger's
 * contract storage (a later module binds the real one); nothing here reaches
 * state. The map is open addressing with linear probing on a power-of-two
 * table that doubles before it is three quarters full. A key's home slot is the key modulo the
 * (odd) capacity minus one, as Lua does for integer keys: nearby keys land in
 * nearby slots, which keeps sequential workloads in cache.
 */
#include <string.h>

#include "vm/vm.h"

struct vm_testhost {
    vm_host host;
    /* The map: keys, values and a used flag per slot, in separate arrays so
     * that probing touches dense memory. */
    int64_t *keys, *values;
    uint8_t *used;
    uint32_t cap, count;
    char *log;
    size_t log_size;
};

/* The slot holding key, or the empty slot where it would go. */
static uint32_t slot(const struct vm_testhost *th, int64_t key)
{
    uint32_t mask = th->cap - 1;
    uint32_t i = (uint32_t)((uint64_t)key % mask);
    while (th->used[i] && th->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

/* Doubles the table (from 1024 slots); the load stays under 3/4. */
static int grow(struct vm_testhost *th)
{
    struct vm_testhost old = *th;
    uint32_t cap = old.cap ? 2 * old.cap : 1024;
    th->keys = malloc(cap * sizeof *th->keys);
    th->values = malloc(cap * sizeof *th->values);
    th->used = calloc(cap, 1);
    if (!th->keys || !th->values || !th->used) {
        free(th->keys);
        free(th->values);
        free(th->used);
        *th = old;
        return WITAN_ENOMEM;
    }
    th->cap = cap;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.used[i]) {
            uint32_t j = slot(th, old.keys[i]);
            th->used[j] = 1;
            th->keys[j] = old.keys[i];
            th->values[j] = old.values[i];
        }
    free(old.keys);
    free(old.values);
    free(old.used);
    return 0;
}

static int h_store_put(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    struct vm_testhost *th = ctx;
    (void)n;
    (void)r;
    if (4 * ((uint64_t)th->count + 1) > 3 * (uint64_t)th->cap) {
        if (th->count >= WITAN_VM_TESTHOST_ENTRY_COUNT_MAX)
            return WITAN_ELIMIT;
        int e = grow(th);
        if (e)
            return e;
    }
    uint32_t i = slot(th, a[0].i);
    if (!th->used[i]) {
        if (th->count >= WITAN_VM_TESTHOST_ENTRY_COUNT_MAX)
            return WITAN_ELIMIT;
        th->count++;
        th->used[i] = 1;
        th->keys[i] = a[0].i;
    }
    th->values[i] = a[1].i;
    return 0;
}

static int h_store_get(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    struct vm_testhost *th = ctx;
    (void)n;
    r->i = 0;
    if (th->cap) {
        uint32_t i = slot(th, a[0].i);
        if (th->used[i])
            r->i = th->values[i];
    }
    return 0;
}

static int h_emit(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    struct vm_testhost *th = ctx;
    (void)n;
    (void)r;
    if (a[0].size + 1 > WITAN_VM_TESTHOST_LOG_SIZE_MAX - th->log_size)
        return WITAN_ELIMIT;
    for (uint32_t i = 0; i < a[0].size; i++)
    {
        uint8_t c = a[0].bytes[i];
        th->log[th->log_size++] = c && c != '\n' ? (char)c : '.';
    }
    th->log[th->log_size++] = '\n';
    th->log[th->log_size] = 0;
    return 0;
}

static int h_echo(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)ctx;
    (void)n;
    r->bytes = a[0].bytes;
    r->size = a[0].size;
    return 0;
}

static int h_fail(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)ctx;
    (void)a;
    (void)n;
    (void)r;
    return WITAN_EINVAL;
}

static const vm_host_func testhost_funcs[] = {
    {"store_put", "ii", 'v', 20, h_store_put},
    {"store_get", "i", 'i', 10, h_store_get},
    {"emit", "b", 'v', 10, h_emit},
    {"echo", "b", 'b', 5, h_echo},
    {"fail", "i", 'v', 1, h_fail},
};

int vm_testhost_new(vm_testhost **out)
{
    if (!out)
        return WITAN_EINVAL;
    struct vm_testhost *th = calloc(1, sizeof *th);
    if (!th)
        return WITAN_ENOMEM;
    th->log = malloc(WITAN_VM_TESTHOST_LOG_SIZE_MAX + 1);
    if (!th->log) {
        free(th);
        return WITAN_ENOMEM;
    }
    th->log[0] = 0;
    th->host.funcs = testhost_funcs;
    th->host.count = (uint32_t)WITAN_ARRAY_COUNT(testhost_funcs);
    th->host.ctx = th;
    *out = th;
    return 0;
}

void vm_testhost_free(vm_testhost *th)
{
    if (!th)
        return;
    free(th->keys);
    free(th->values);
    free(th->used);
    free(th->log);
    free(th);
}

const vm_host *vm_testhost_host(const vm_testhost *th)
{
    return &th->host;
}

const char *vm_testhost_log(const vm_testhost *th, size_t *size)
{
    if (size)
        *size = th->log_size;
    return th->log;
}

uint32_t vm_testhost_entry_count(const vm_testhost *th)
{
    return th->count;
}
