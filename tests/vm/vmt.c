/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM test support: see vmt.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tests/vm/vmt.h"

static vm_testhost *host;

vm_testhost *vmt_host(void)
{
    if (!host)
        assert_int_equal(vm_testhost_new(&host), 0);
    return host;
}

void vmt_asm(const char *src, uint8_t **out, size_t *size)
{
    vm_asm_error err;
    int e = vm_assemble(src, strlen(src), out, size, &err);
    if (e)
        fail_msg("assembly failed: line %u: %s", err.line, err.message);
}

int vmt_run(const char *src, const vm_value *args, uint32_t arg_count,
            uint64_t gas, vm_result *res)
{
    uint8_t *bin;
    size_t size;
    vmt_asm(src, &bin, &size);
    vm_module *m;
    vm_verify_error verr;
    int e = vm_module_load(bin, size, vm_testhost_host(vmt_host()), &m, &verr);
    free(bin);
    if (e)
        fail_msg("load failed: %s at %u", vm_verify_reason_text(verr.reason),
                 verr.offset);
    uint32_t fi;
    assert_int_equal(vm_module_export(m, "main", &fi), 0);
    vm_exec *x;
    assert_int_equal(vm_exec_new(&x), 0);
    vm_result r2;
    vm_exec_set_dispatch(x, VM_DISPATCH_SWITCH);
    int e2 = vm_call(x, m, fi, args, arg_count, gas, &r2);
    /* Copy a bytes result out before the next call reuses the memory. */
    uint8_t copy[256];
    uint32_t copy_size = 0;
    if (e2 == 0 && r2.value.type == VM_TYPE_BYTES && r2.value.size <= 256) {
        copy_size = r2.value.size;
        if (copy_size)
            memcpy(copy, r2.value.bytes, copy_size);
    }
    vm_exec_set_dispatch(x, VM_DISPATCH_DEFAULT);
    e = vm_call(x, m, fi, args, arg_count, gas, res);
    assert_int_equal(e, e2);
    assert_int_equal(res->gas_used, r2.gas_used);
    assert_int_equal(res->trap, r2.trap);
    assert_int_equal(res->trap_func, r2.trap_func);
    assert_int_equal(res->trap_offset, r2.trap_offset);
    assert_int_equal(res->value.type, r2.value.type);
    assert_int_equal(res->value.i, r2.value.i);
    if (e == 0 && res->value.type == VM_TYPE_BYTES && res->value.size <= 256) {
        assert_int_equal(res->value.size, copy_size);
        if (copy_size)
            assert_memory_equal(res->value.bytes, copy, copy_size);
    }
    /* The result's bytes live in x: keep x until the next run. */
    static vm_exec *last_x;
    static vm_module *last_m;
    vm_exec_free(last_x);
    vm_module_free(last_m);
    last_x = x;
    last_m = m;
    return e;
}

int64_t vmt_int(const char *src, int64_t arg)
{
    vm_value a = vm_int(arg);
    vm_result r;
    int e = vmt_run(src, &a, 1, 1000000, &r);
    if (e)
        fail_msg("call failed: %s (trap %s at %u)", witan_err_name(e),
                 vm_trap_text(r.trap), r.trap_offset);
    return r.value.i;
}
