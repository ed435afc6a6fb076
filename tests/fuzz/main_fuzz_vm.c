/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the VM: loader, verifier, interpreter, assembler and
 * disassembler. Built only by tests/fuzz/rules.mk (clang, -fsanitize=fuzzer,
 * address,undefined); the normal build ignores main_* files.
 *
 * An input that starts with the module magic is a module; anything else is
 * assembly text, assembled first. For every module that loads it checks:
 *   - disassembling and reassembling gives back exactly the same bytes;
 *   - every export runs to completion or a trap within its gas, and the
 *     computed-goto interpreter, the switch interpreter and the reference
 *     interpreter written from spec/vm.md (tests/vm/refvm.c) agree on the
 *     result, the trap, where it happened and the gas used, to the unit.
 * Any crash, sanitizer report or broken property aborts.
 */
#include <stdio.h>
#include <string.h>

#include "tests/vm/refvm.h"
#include "vm/vm.h"

/* How run_all executes: the two dispatches of vm/, or the reference. */
#define MODE_REFERENCE 99

#define FUZZ_GAS 20000
#define FUZZ_EXPORTS_MAX 4

struct outcome {
    int rc;
    vm_result r;
    uint8_t bytes[64];
    uint32_t size;
};

static vm_exec *exec;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_vm: property broken: %s\n", what);
        abort();
    }
}

/* Runs every export (up to FUZZ_EXPORTS_MAX) with zero/empty arguments
 * against a fresh test host, under one dispatch strategy. */
static int run_all(const uint8_t *bin, size_t size, int mode,
                   struct outcome *out, uint32_t *count)
{
    vm_testhost *th;
    vm_module *m;
    check(vm_testhost_new(&th) == 0, "testhost");
    if (vm_module_load(bin, size, vm_testhost_host(th), &m, NULL)) {
        vm_testhost_free(th);
        return -1;
    }
    static const char *names[] = {"main", "f", "run", "fib", "loop", "map"};
    if (mode != MODE_REFERENCE)
        vm_exec_set_dispatch(exec, mode);
    *count = 0;
    for (size_t n = 0; n < sizeof names / sizeof names[0] &&
                       *count < FUZZ_EXPORTS_MAX; n++) {
        uint32_t fi;
        if (vm_module_export(m, names[n], &fi))
            continue;
        char params[WITAN_VM_PARAM_COUNT_MAX + 1], result;
        check(vm_module_signature(m, fi, params, &result) == 0, "signature");
        vm_value args[WITAN_VM_PARAM_COUNT_MAX];
        uint32_t argc = (uint32_t)strlen(params);
        for (uint32_t i = 0; i < argc; i++)
            args[i] = params[i] == 'i' ? vm_int(7) : vm_bytes("seed", 4);
        struct outcome *o = &out[(*count)++];
        memset(o, 0, sizeof *o);
        static uint8_t ref_bytes[WITAN_VM_BYTES_SIZE_MAX];
        if (mode == MODE_REFERENCE)
            o->rc = refvm_call(m, fi, args, argc, FUZZ_GAS, &o->r, ref_bytes);
        else
            o->rc = vm_call(exec, m, fi, args, argc, FUZZ_GAS, &o->r);
        check(o->r.gas_used <= FUZZ_GAS, "gas used within the limit");
        check(o->rc == 0 || o->rc == WITAN_ETRAP || o->rc == WITAN_EGAS,
              "call result");
        check((o->rc == WITAN_EGAS) == (o->r.trap == VM_TRAP_GAS),
              "gas trap code");
        if (o->rc == WITAN_EGAS)
            check(o->r.gas_used == FUZZ_GAS, "out of gas uses everything");
        if (o->rc == 0 && o->r.value.type == VM_TYPE_BYTES) {
            o->size = o->r.value.size < 64 ? o->r.value.size : 64;
            if (o->size)
                memcpy(o->bytes, o->r.value.bytes, o->size);
        }
        o->r.value.bytes = NULL;
    }
    vm_module_free(m);
    vm_testhost_free(th);
    return 0;
}

static void agree(const struct outcome *a, const struct outcome *b,
                  uint32_t na);

static void check_module(const uint8_t *bin, size_t size)
{
    /* Round trip through the text. */
    char *text;
    if (vm_disassemble(bin, size, &text, NULL) == 0) {
        uint8_t *again;
        size_t again_size;
        vm_asm_error err;
        int e = vm_assemble(text, strlen(text), &again, &again_size, &err);
        if (e)
            fprintf(stderr, "fuzz_vm: line %u: %s\n%s\n", err.line,
                    err.message, text);
        check(e == 0, "disassembly assembles");
        check(again_size == size && memcmp(again, bin, size) == 0,
              "round trip gives the same bytes");
        free(again);
        free(text);
    }
    struct outcome a[FUZZ_EXPORTS_MAX], b[FUZZ_EXPORTS_MAX];
    uint32_t na, nb;
    if (run_all(bin, size, VM_DISPATCH_SWITCH, a, &na))
        return;
    check(run_all(bin, size, VM_DISPATCH_DEFAULT, b, &nb) == 0, "reload");
    check(na == nb, "export count");
    agree(a, b, na);
    check(run_all(bin, size, MODE_REFERENCE, b, &nb) == 0, "reload");
    check(na == nb, "export count");
    agree(a, b, na);
}

/* Two runs of the same exports gave the same outcomes. */
static void agree(const struct outcome *a, const struct outcome *b,
                  uint32_t na)
{
    for (uint32_t i = 0; i < na; i++) {
        check(a[i].rc == b[i].rc, "runs agree: code");
        check(a[i].r.gas_used == b[i].r.gas_used, "runs agree: gas");
        check(a[i].r.trap == b[i].r.trap &&
                  a[i].r.abort_code == b[i].r.abort_code &&
                  a[i].r.host_err == b[i].r.host_err,
              "runs agree: trap");
        check(a[i].r.trap_func == b[i].r.trap_func &&
                  a[i].r.trap_offset == b[i].r.trap_offset,
              "runs agree: trap location");
        check(a[i].r.value.type == b[i].r.value.type &&
                  a[i].r.value.i == b[i].r.value.i &&
                  a[i].size == b[i].size &&
                  memcmp(a[i].bytes, b[i].bytes, a[i].size) == 0,
              "runs agree: value");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!exec && vm_exec_new(&exec))
        abort();
    if (size >= 4 && memcmp(data, "\0wvm", 4) == 0) {
        check_module(data, size);
        return 0;
    }
    if (size > 64 * 1024)
        return 0;
    uint8_t *bin;
    size_t bin_size;
    if (vm_assemble((const char *)data, size, &bin, &bin_size, NULL) == 0) {
        check_module(bin, bin_size);
        free(bin);
    }
    return 0;
}
