/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the contract-language compiler (contracts/lang/):
 * any bytes as a source file. Built with clang and libFuzzer by
 * tests/lang/rules.mk (`make fuzz-lang`), and replayed over the committed
 * corpus tests/fuzz/corpus/lang by `make test`. For every input:
 *   - the compiler returns (no crash, no sanitizer report; its work is
 *     linear in the source, so no hang) with a module or with diagnostics;
 *   - type-checking only accepts exactly when compiling does (or compiling
 *     hits a code-generation limit);
 *   - an accepted program's module loads in the VM against the contracts
 *     host table and passes the deployment check (with on_prediction when
 *     it has one), and a second compilation gives the same bytes and map;
 *   - every source-map position names a line that exists in the source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "contracts/lang/lang.h"
#include "vm/vm.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_lang: property broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LANG_SOURCE_SIZE_MAX + 16)
        return 0;
    const char *src = (const char *)data;
    lang_output a, b, k;
    int ea = lang_compile("f.wcl", src, size, LANG_COMPILER_VERSION, false, &a);
    int ek = lang_compile("f.wcl", src, size, LANG_COMPILER_VERSION, true, &k);
    check(ea == 0 || ea == WITAN_ECOMPILE || ea == WITAN_ELIMIT ||
              ea == WITAN_ENOMEM,
          "compile result");
    check(ea != 0 || ek == 0, "check rejects what compiles");
    check(ea == 0 || a.errors != NULL, "an error without diagnostics");
    if (ea == 0) {
        uint32_t count;
        vm_host h = {contract_host_funcs(&count), 0, NULL};
        h.count = count;
        vm_module *m;
        vm_verify_error ve;
        check(vm_module_load(a.module, a.module_size, &h, &m, &ve) == 0,
              "the loader refuses an accepted program");
        uint32_t f;
        bool handler = vm_module_export(m, CONTRACT_ENTRY_PREDICTION, &f) == 0;
        vm_module_free(m);
        char why[160];
        check(contract_module_verify(a.module, a.module_size, handler, why,
                                     sizeof why) == 0,
              "the deployment check refuses an accepted program");
        check(lang_compile("f.wcl", src, size, LANG_COMPILER_VERSION, false,
                           &b) == 0,
              "second compilation");
        check(a.module_size == b.module_size &&
                  memcmp(a.module, b.module, a.module_size) == 0 &&
                  a.source_map_size == b.source_map_size &&
                  memcmp(a.source_map, b.source_map, a.source_map_size) == 0,
              "two compilations differ");
        lang_output_free(&b);
        /* every position the map gives is a line of the source */
        for (uint32_t fn = 0; fn < 4; fn++)
            for (uint32_t w = 0; w < 64; w += 7) {
                uint32_t line, col;
                const char *ls;
                size_t ln;
                if (lang_map_lookup(a.source_map, a.source_map_size, fn, w,
                                    &line, &col) == 0)
                    check(lang_source_line(src, size, line, &ls, &ln) == 0 &&
                              col >= 1,
                          "a map position outside the source");
            }
    }
    lang_output_free(&a);
    lang_output_free(&k);
    return 0;
}
