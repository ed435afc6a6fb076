/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the VM tests: assemble, load against the test host, and run a
 * program under both dispatch strategies, checking that they agree exactly.
 */
#ifndef WITAN_TESTS_VMT_H
#define WITAN_TESTS_VMT_H

#include "vm/vm.h"

/* Assembles src (failing the test on an assembly or load error), runs
 * export "main" with args under both dispatches, asserts both give the same
 * return code, result, gas and trap, and returns that code. */
int vmt_run(const char *src, const vm_value *args, uint32_t arg_count,
            uint64_t gas, vm_result *res);

/* The same with one int argument, gas 1e6; returns the int result and fails
 * the test unless the call succeeds. */
int64_t vmt_int(const char *src, int64_t arg);

/* Assembles src; fails the test on error. *out is malloc'd. */
void vmt_asm(const char *src, uint8_t **out, size_t *size);

/* The shared test host (made on first use). */
vm_testhost *vmt_host(void);

#endif
