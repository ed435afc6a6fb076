/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm — the contract virtual machine: binary module format, load-time verifier,
 * gas-metered interpreter, host-function interface, assembler and
 * disassembler. spec/vm.md is the normative description; this header is its
 * C interface.
 *
 * The machine is a register machine with statically typed registers (int64 or
 * immutable bytes), so the verifier proves every operand's type and range once
 * and the interpreter runs without tag checks. It knows nothing of ledgers:
 * everything outside the module comes in through a vm_host table supplied by
 * the embedder. It does no I/O and allocates only in the *_new functions, the
 * loader, the assembler and the disassembler.
 *
 * Return values follow the project's rule: 0 or a negative WITAN_E* code.
 */
#ifndef WITAN_VM_H
#define WITAN_VM_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Value types, as encoded in modules (spec/vm.md, section 1). */
enum vm_type {
    VM_TYPE_NONE = 0, /* only as a result type: the function returns nothing */
    VM_TYPE_INT = 1,
    VM_TYPE_BYTES = 2,
};

/* A value crossing the boundary (entry arguments and result, host calls).
 * For VM_TYPE_BYTES, bytes/size describe memory owned by whoever made the
 * value; see each function for how long it stays valid. */
typedef struct vm_value {
    uint8_t type; /* enum vm_type */
    int64_t i;
    const uint8_t *bytes;
    uint32_t size;
} vm_value;

static inline vm_value vm_int(int64_t i)
{
    vm_value v = {VM_TYPE_INT, i, NULL, 0};
    return v;
}

static inline vm_value vm_bytes(const void *bytes, uint32_t size)
{
    vm_value v = {VM_TYPE_BYTES, 0, (const uint8_t *)bytes, size};
    return v;
}

/*
 * A host function. args holds exactly the declared parameters, already of the
 * declared types; bytes arguments point into VM memory valid until the
 * function returns. For a result of type int set result->i; for bytes set
 * result->bytes/size to memory that stays valid until the function returns
 * (the VM copies it). Return 0, or a negative WITAN_E* code: the contract
 * then traps with VM_TRAP_HOST and the code is reported in vm_result.host_err.
 */
typedef int (*vm_host_fn)(void *ctx, const vm_value *args, uint32_t arg_count,
                          vm_value *result);

typedef struct vm_host_func {
    const char *name;   /* identifier, at most WITAN_VM_NAME_SIZE_MAX bytes */
    const char *params; /* one letter per parameter: 'i' int, 'b' bytes */
    char result;        /* 'i', 'b' or 'v' (nothing) */
    uint32_t gas;       /* charged before the call; <= WITAN_VM_HOST_GAS_MAX */
    vm_host_fn fn;
} vm_host_func;

/* The embedder's table. Modules bind their imports to it by name when loaded;
 * it (and ctx) must outlive every module loaded against it. */
typedef struct vm_host {
    const vm_host_func *funcs;
    uint32_t count;
    void *ctx; /* passed to every host function */
} vm_host;

/* Why the loader refused a module (spec/vm.md, "Verification"). */
#define VM_VERIFY_REASONS(X)                                                   \
    X(VM_VERR_NONE, "no error")                                                \
    X(VM_VERR_TRUNCATED, "module ends inside a field")                         \
    X(VM_VERR_MAGIC, "bad magic")                                              \
    X(VM_VERR_VERSION, "unsupported module version")                           \
    X(VM_VERR_MODULE_SIZE, "module over its size limit")                       \
    X(VM_VERR_TRAILING, "bytes after the last section")                        \
    X(VM_VERR_COUNT, "count over its limit")                                   \
    X(VM_VERR_CONST_SIZE, "bytes constant over its size limit")                \
    X(VM_VERR_NAME, "name empty, too long or not an identifier")               \
    X(VM_VERR_DUP_NAME, "duplicate import or export name")                     \
    X(VM_VERR_TYPE, "unknown type code")                                       \
    X(VM_VERR_PARAMS, "parameter count over its limit or the register count")  \
    X(VM_VERR_REGS, "register count over its limit")                           \
    X(VM_VERR_CODE_SIZE, "function code empty or over its size limit")         \
    X(VM_VERR_IMPORT_UNKNOWN, "import not provided by the host")               \
    X(VM_VERR_IMPORT_SIG, "import signature differs from the host's")          \
    X(VM_VERR_EXPORT_FUNC, "export names no function")                         \
    X(VM_VERR_OPCODE, "unknown opcode")                                        \
    X(VM_VERR_RESERVED, "unused operand bits are not zero")                    \
    X(VM_VERR_REG, "register out of range")                                    \
    X(VM_VERR_REG_TYPE, "register of the wrong type")                          \
    X(VM_VERR_CONST, "constant index out of range")                            \
    X(VM_VERR_FUNC, "function index out of range")                             \
    X(VM_VERR_IMPORT, "import index out of range")                             \
    X(VM_VERR_CALL_ARGS, "call arguments or result outside the frame")         \
    X(VM_VERR_RESULT, "result type does not match")                            \
    X(VM_VERR_IMM, "immediate out of range")                                   \
    X(VM_VERR_JUMP_RANGE, "jump target outside the function")                  \
    X(VM_VERR_JUMP_OPERAND, "jump target inside an instruction")               \
    X(VM_VERR_FALLTHROUGH, "control falls off the end of the function")

enum vm_verify_reason {
#define VM_VERR_ENUM_(name, msg) name,
    VM_VERIFY_REASONS(VM_VERR_ENUM_)
#undef VM_VERR_ENUM_
    VM_VERR_COUNT_
};

typedef struct vm_verify_error {
    int reason;      /* enum vm_verify_reason */
    uint32_t offset; /* byte offset in the module of the offending field */
} vm_verify_error;

/* The reason's text; static, never fails. */
const char *vm_verify_reason_text(int reason);

/* Traps (spec/vm.md, "Traps"). The numbers are part of the specification. */
#define VM_TRAPS(X)                                                            \
    X(VM_TRAP_NONE, 0, "no trap")                                              \
    X(VM_TRAP_GAS, 1, "out of gas")                                            \
    X(VM_TRAP_DIV_ZERO, 2, "division by zero")                                 \
    X(VM_TRAP_OVERFLOW, 3, "integer overflow")                                 \
    X(VM_TRAP_STACK, 4, "register stack exhausted")                            \
    X(VM_TRAP_DEPTH, 5, "call depth over its limit")                           \
    X(VM_TRAP_MEMORY, 6, "bytes memory over its limit")                        \
    X(VM_TRAP_BOUNDS, 7, "index or length out of bounds")                      \
    X(VM_TRAP_HOST, 8, "host function failed")                                 \
    X(VM_TRAP_ABORT, 9, "contract aborted")

enum vm_trap {
#define VM_TRAP_ENUM_(name, value, msg) name = value,
    VM_TRAPS(VM_TRAP_ENUM_)
#undef VM_TRAP_ENUM_
};

/* The trap's text; static, never fails. */
const char *vm_trap_text(int trap);

/* What a call did. On success value holds the result (type VM_TYPE_NONE for a
 * function that returns nothing); bytes results point into the vm_exec and
 * stay valid until its next call or vm_exec_free. */
typedef struct vm_result {
    vm_value value;
    uint64_t gas_used;
    int trap;             /* enum vm_trap; VM_TRAP_NONE on success */
    uint32_t trap_func;   /* function index of the trapping instruction */
    uint32_t trap_offset; /* its word offset within that function's code */
    int64_t abort_code;   /* VM_TRAP_ABORT: the contract's code */
    int host_err;         /* VM_TRAP_HOST: what the host function returned */
} vm_result;

typedef struct vm_module vm_module;
typedef struct vm_exec vm_exec;

/*
 * Parses and verifies a binary module completely and prepares it to run.
 * host may be NULL: the module is then checked and can be disassembled, but
 * its imports are unbound and vm_call refuses it. On success *out is a new
 * module the caller frees with vm_module_free; it does not refer to bytes.
 * Fails with WITAN_EVERIFY (err says where and why; err may be NULL),
 * WITAN_ENOMEM, or WITAN_EINVAL on NULL arguments or a host table that breaks
 * vm_host_func's rules (bad name or letters, gas over the maximum, no fn).
 */
int vm_module_load(const uint8_t *bytes, size_t size, const vm_host *host,
                   vm_module **out, vm_verify_error *err);

/* Frees a module (NULL is fine). Never fails. */
void vm_module_free(vm_module *module);

/* Looks up an export's function index. WITAN_ENOTFOUND when no export has
 * that name, WITAN_EINVAL on NULL arguments. */
int vm_module_export(const vm_module *module, const char *name,
                     uint32_t *func_index);

/* A function's signature: parameter count and types ('i'/'b' letters, NUL
 * terminated, into params[WITAN_VM_PARAM_COUNT_MAX + 1]) and result letter.
 * WITAN_ERANGE for a bad index. */
int vm_module_signature(const vm_module *module, uint32_t func_index,
                        char *params, char *result);

/* An execution context: register stack, frames and bytes memory (about
 * 2.5 MiB, allocated here once), reused by every call made with it. One
 * context runs one call at a time; it may run any module. The caller frees
 * it with vm_exec_free (NULL is fine). Fails with WITAN_ENOMEM. */
int vm_exec_new(vm_exec **out);
void vm_exec_free(vm_exec *exec);

/* Dispatch strategy; both are built from the same interpreter body. */
enum vm_dispatch {
    VM_DISPATCH_DEFAULT = 0, /* computed goto where the compiler has it */
    VM_DISPATCH_SWITCH = 1,
};
/* Chooses the dispatch for the next calls (enum vm_dispatch). Results and
 * gas are identical either way; only speed differs. Never fails. */
void vm_exec_set_dispatch(vm_exec *exec, int dispatch);

/*
 * Runs function func_index of module with args and at most gas_limit gas.
 * Returns 0 when the function returned (out->value is its result),
 * WITAN_EGAS when gas ran out, WITAN_ETRAP for any other trap (out says which
 * and where); in both cases out->gas_used is what was consumed. Returns
 * WITAN_EINVAL (nothing ran) for a wrong argument count or type, an unbound
 * module or a bad index, WITAN_ELIMIT for gas_limit over WITAN_VM_GAS_MAX or
 * bytes arguments that do not fit the memory limit.
 */
int vm_call(vm_exec *exec, const vm_module *module, uint32_t func_index,
            const vm_value *args, uint32_t arg_count, uint64_t gas_limit,
            vm_result *out);

/* --- assembler and disassembler (spec/vm.md, "Assembly text") ----------- */

typedef struct vm_asm_error {
    uint32_t line; /* 1-based line of the text */
    char message[120];
} vm_asm_error;

/*
 * Assembles text (size bytes, need not be NUL-terminated) into a binary
 * module. On success *out is malloc'd (caller frees) and holds *out_size
 * bytes; the module is verified without a host before it is returned.
 * Fails with WITAN_EASM (err says the line and why), WITAN_EVERIFY if the
 * result does not verify (err->message names the reason and offset),
 * WITAN_ELIMIT for text over WITAN_VM_ASM_TEXT_SIZE_MAX, WITAN_ENOMEM.
 */
int vm_assemble(const char *text, size_t size, uint8_t **out, size_t *out_size,
                vm_asm_error *err);

/*
 * Writes a module's text. Assembling the text gives back exactly the same
 * bytes. On success *out is a malloc'd NUL-terminated string the caller
 * frees. Fails as vm_module_load does (err may be NULL), or WITAN_ENOMEM.
 */
int vm_disassemble(const uint8_t *bytes, size_t size, char **out,
                   vm_verify_error *err);

/* --- the test host ------------------------------------------------------ */

/*
 * A small host for tests, benchmarks and `witan contract run`; never for a
 * ledger. It offers:
 *   store_put(i key, i value) -> v     gas 20   an integer map
 *   store_get(i key) -> i              gas 10   0 when absent
 *   emit(b data) -> v                  gas 10   appends to a log
 *   echo(b data) -> b                  gas 5    returns its argument
 *   fail(i code) -> v                  gas 1    fails with WITAN_EINVAL
 * The map holds at most WITAN_VM_TESTHOST_ENTRY_COUNT_MAX keys (then
 * store_put fails with WITAN_ELIMIT), the log WITAN_VM_TESTHOST_LOG_SIZE_MAX
 * bytes (then emit fails with WITAN_ELIMIT).
 */

typedef struct vm_testhost vm_testhost;

/* A new, empty test host; free with vm_testhost_free (NULL is fine). Fails
 * with WITAN_ENOMEM. */
int vm_testhost_new(vm_testhost **out);
void vm_testhost_free(vm_testhost *th);
/* The table to load modules against; owned by th. */
const vm_host *vm_testhost_host(const vm_testhost *th);
/* The log of emit calls: one record per call, each followed by '\n', with
 * NUL and '\n' bytes inside a record shown as '.'; owned by th. */
const char *vm_testhost_log(const vm_testhost *th, size_t *size);
/* Keys in the map. Never fails. */
uint32_t vm_testhost_entry_count(const vm_testhost *th);

#endif
