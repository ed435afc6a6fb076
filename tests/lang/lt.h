/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the contract-language tests: compile a source, run an entry
 * of the result on the VM (bound to the contracts host table, for programs
 * that call no host function) or through contract_run with an in-memory
 * state and a prediction (for those that do), and map a trap back to its
 * source line with the source map.
 */
#ifndef WITAN_TESTS_LT_H
#define WITAN_TESTS_LT_H

#include <stdbool.h>
#include <stdint.h>

#include "contracts/contracts.h"
#include "contracts/lang/lang.h"
#include "vm/vm.h"

/* Compiles src ("t.wcl"); fails the test with the diagnostics on error. */
void lt_compile(const char *src, lang_output *out);

/* Compiles src expecting errors; returns the malloc'd diagnostics (never
 * NULL) and fails the test if it compiles. Every message seen is also
 * appended to a log that lt_messages returns. */
char *lt_errors(const char *src);
const char *lt_messages(void);

/* Runs entry `name` of a compiled program (no host calls) with args and
 * gas; returns vm_call's code; *line is the trap's source line (0 when
 * none). */
int lt_run(const lang_output *o, const char *name, const vm_value *args,
           uint32_t n, uint64_t gas, vm_result *res, uint32_t *line);

/* Compiles src and runs entry "main" with int arguments; asserts success
 * and returns its int result. */
int64_t lt_int(const char *src, const int64_t *args, uint32_t n);

#endif
