/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A reference interpreter written from spec/vm.md alone, for tests and the
 * fuzz harness: slow and literal (module words, one instruction at a time,
 * its own cost table, leaders and memory accounting), so that agreeing with it
 * shows the real interpreter charges the gas and traps where the spec says.
 * It shares only the loader's parsed module (names, types, words, host
 * bindings) with vm/.
 */
#ifndef WITAN_TESTS_REFVM_H
#define WITAN_TESTS_REFVM_H

#include "vm/vm.h"

/* Runs function fi of m as spec/vm.md describes. Returns and fills *res as
 * vm_call does; a bytes result is copied into out_bytes (at least
 * WITAN_VM_BYTES_SIZE_MAX bytes) and res->value.bytes points there.
 * WITAN_ENOMEM if it cannot allocate its state. */
int refvm_call(const vm_module *m, uint32_t fi, const vm_value *args,
               uint32_t arg_count, uint64_t gas_limit, vm_result *res,
               uint8_t *out_bytes);

#endif
