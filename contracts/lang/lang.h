/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lang — the compiler of the Witan contract language (spec/language.md):
 * a hand-written lexer and recursive-descent parser, a type checker and a
 * code generator to the VM's binary module (spec/vm.md), with a source map
 * beside the module. A compiler version is a pure function from source
 * bytes to module bytes: no clock, no floats, no unordered iteration, so
 * `witan audit source` can recompile a deployed contract and compare.
 */
#ifndef WITAN_LANG_H
#define WITAN_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define LANG_SOURCE_SIZE_MAX (256 * 1024)
#define LANG_ERROR_COUNT_MAX 20
#define LANG_NODE_COUNT_MAX 65536
#define LANG_NEST_MAX 64
#define LANG_EXPR_DEPTH_MAX 256 /* levels of one expression's tree */
#define LANG_STRING_SIZE_MAX 1024
#define LANG_IDENT_SIZE_MAX 32
#define LANG_ERRORS_SIZE_MAX (64 * 1024) /* rendered diagnostics */

/* The one compiler version this build has; DeployContract.compiler holds
 * LANG_COMPILER_NAME " " version. */
#define LANG_COMPILER_VERSION 1
#define LANG_COMPILER_NAME "witan-wcl"
#define LANG_LANGUAGE_TAG "wcl"

typedef struct lang_output {
    uint8_t *module; /* malloc'd; NULL when the source has errors */
    size_t module_size;
    char *source_map; /* malloc'd text (spec/language.md section 10) */
    size_t source_map_size;
    char *errors; /* malloc'd, NUL-terminated rendered diagnostics, or NULL */
    uint32_t error_count;
} lang_output;

/*
 * Compiles src (size bytes, need not be NUL-terminated) named file (used in
 * messages and the source map) with compiler `version`. check_only stops
 * after type checking (no module, no map). Returns 0 with out->module set,
 * WITAN_ECOMPILE with out->errors rendered as `file:line:col: error: ...`,
 * the source line and a caret, WITAN_EUNSUPPORTED for a version this build
 * does not have, WITAN_ELIMIT for a source over LANG_SOURCE_SIZE_MAX (also
 * rendered in out->errors), WITAN_ENOMEM. Free *out with lang_output_free
 * whatever the result.
 */
int lang_compile(const char *file, const char *src, size_t size,
                 uint32_t version, bool check_only, lang_output *out);
void lang_output_free(lang_output *out);

/* The compiler field to record on chain for this build ("witan-wcl 1"). */
const char *lang_compiler_id(void);

/* Reads a compiler field: 0 and *version when it names LANG_COMPILER_NAME
 * and a version number; WITAN_EINVAL when it is not of that form. Whether
 * the version is one this build has is a separate question
 * (version == LANG_COMPILER_VERSION). */
int lang_compiler_parse(const char *field, uint32_t *version);

/* The source position of word `word` of function `func` in a source map:
 * 0 with *line and *col, WITAN_ENOTFOUND when the map says nothing of it,
 * WITAN_EDECODE when map is not a source map. */
int lang_map_lookup(const char *map, size_t map_size, uint32_t func,
                    uint32_t word, uint32_t *line, uint32_t *col);

/* Line `line` (1-based) of src: *start and *len, without its newline.
 * WITAN_ENOTFOUND past the end. */
int lang_source_line(const char *src, size_t size, uint32_t line,
                     const char **start, size_t *len);

/* Where a trap at word `word` of function `func` stands in a deployed
 * contract's source (its map and its source text): *line, *col and that
 * line of the source (*text, *len). 0, or the error of either step. */
int lang_trap_source(const uint8_t *map, size_t map_size, const char *src,
                     uint32_t func, uint32_t word, uint32_t *line,
                     uint32_t *col, const char **text, size_t *len);

#endif
