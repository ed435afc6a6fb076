/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the contract-language tests (lt.h).
 */
#include "tests/lang/lt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LT_LOG_SIZE_MAX (1024 * 1024)

static char *msg_log;
static size_t msg_len;

void lt_compile(const char *src, lang_output *out)
{
    int e = lang_compile("t.wcl", src, strlen(src), LANG_COMPILER_VERSION,
                         false, out);
    if (e)
        fail_msg("does not compile (%s):\n%s\n%s", witan_err_name(e),
                 out->errors ? out->errors : "", src);
}

char *lt_errors(const char *src)
{
    lang_output o;
    int e = lang_compile("t.wcl", src, strlen(src), LANG_COMPILER_VERSION,
                         false, &o);
    if (e == 0)
        fail_msg("compiles, but should not:\n%s", src);
    assert_non_null(o.errors);
    char *errs = o.errors;
    o.errors = NULL;
    lang_output_free(&o);
    size_t n = strlen(errs);
    if (!msg_log)
        msg_log = calloc(1, LT_LOG_SIZE_MAX);
    assert_non_null(msg_log);
    if (msg_len + n + 1 < LT_LOG_SIZE_MAX) {
        memcpy(msg_log + msg_len, errs, n + 1);
        msg_len += n;
    }
    return errs;
}

const char *lt_messages(void) { return msg_log ? msg_log : ""; }

int lt_run(const lang_output *o, const char *name, const vm_value *args,
           uint32_t n, uint64_t gas, vm_result *res, uint32_t *line)
{
    uint32_t count;
    vm_host h = {contract_host_funcs(&count), 0, NULL};
    h.count = count;
    vm_module *m;
    vm_verify_error ve;
    int e = vm_module_load(o->module, o->module_size, &h, &m, &ve);
    if (e)
        fail_msg("module refused: %s at %u", vm_verify_reason_text(ve.reason),
                 ve.offset);
    uint32_t f;
    assert_int_equal(vm_module_export(m, name, &f), 0);
    static vm_exec *x;
    if (!x)
        assert_int_equal(vm_exec_new(&x), 0);
    e = vm_call(x, m, f, args, n, gas, res);
    *line = 0;
    if (e == WITAN_ETRAP || e == WITAN_EGAS) {
        uint32_t col;
        if (lang_map_lookup(o->source_map, o->source_map_size, res->trap_func,
                            res->trap_offset, line, &col) != 0)
            fail_msg("no source position for a trap at %u:%u",
                     res->trap_func, res->trap_offset);
    }
    vm_module_free(m);
    return e;
}

int64_t lt_int(const char *src, const int64_t *args, uint32_t n)
{
    lang_output o;
    lt_compile(src, &o);
    vm_value v[16];
    for (uint32_t i = 0; i < n; i++)
        v[i] = vm_int(args[i]);
    vm_result r;
    uint32_t line;
    int e = lt_run(&o, "main", v, n, 1000000, &r, &line);
    if (e)
        fail_msg("main trapped (%s, trap %d at line %u):\n%s",
                 witan_err_name(e), r.trap, line, src);
    lang_output_free(&o);
    return r.value.i;
}
