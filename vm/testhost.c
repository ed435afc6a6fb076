/*
 * The test host: a few host functions over an integer map and a log, for the
 * tests, the benchmark and `witan contract run`. It stands in for the ledger's
 * contract storage (a later module binds the real one); nothing here reaches
 * state. The map is open addressing with linear probing on a power-of-two
 * table that doubles at half load. A key's home slot is the key modulo the
 * (odd) capacity minus one, as Lua does for integer keys: nearby keys land in
 * nearby slots, which keeps sequential workloads in cache.
 */
#include <string.h>

#include "vm/vm.h"

struct entry {
    int64_t key;
    int64_t value;
    uint8_t used;
};

struct vm_testhost {
    vm_host host;
    struct entry *tab;
    uint32_t cap, count;
    char *log;
    size_t log_size;
};

static struct entry *slot(struct vm_testhost *th, int64_t key)
{
    uint32_t mask = th->cap - 1;
    for (uint32_t i = (uint32_t)((uint64_t)key % mask);; i = (i + 1) & mask)
        if (!th->tab[i].used || th->tab[i].key == key)
            return &th->tab[i];
}

static int grow(struct vm_testhost *th)
{
    uint32_t old_cap = th->cap;
    struct entry *old = th->tab;
    uint32_t cap = old_cap ? 2 * old_cap : 1024;
    struct entry *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return WITAN_ENOMEM;
    th->tab = tab;
    th->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].used)
            *slot(th, old[i].key) = old[i];
    free(old);
    return 0;
}

static int h_store_put(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    struct vm_testhost *th = ctx;
    (void)n;
    (void)r;
    if (2 * (th->count + 1) > th->cap) {
        if (th->count >= WITAN_VM_TESTHOST_ENTRY_COUNT_MAX)
            return WITAN_ELIMIT;
        int e = grow(th);
        if (e)
            return e;
    }
    struct entry *s = slot(th, a[0].i);
    if (!s->used) {
        if (th->count >= WITAN_VM_TESTHOST_ENTRY_COUNT_MAX)
            return WITAN_ELIMIT;
        th->count++;
    }
    s->used = 1;
    s->key = a[0].i;
    s->value = a[1].i;
    return 0;
}

static int h_store_get(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    struct vm_testhost *th = ctx;
    (void)n;
    r->i = 0;
    if (th->cap) {
        struct entry *s = slot(th, a[0].i);
        if (s->used)
            r->i = s->value;
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
    free(th->tab);
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
