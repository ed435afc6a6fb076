/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common — what every Witan module shares: error codes, assertions, logging.
 *
 * Every fallible function in the project returns 0 on success or one of the
 * negative WITAN_E* codes below, and hands its results back through pointer
 * arguments. Codes from libraries (libsodium, libsecp256k1, LMDB, nng) are
 * translated where the library is called, so nothing above that boundary ever
 * sees a foreign convention. The named limits live in common/limits.h, which
 * this header includes.
 *
 * These codes are internal: they may be renumbered. What reaches state (the
 * status of a receipt) is the stable enum in spec/witan.proto instead.
 */
#ifndef WITAN_COMMON_H
#define WITAN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/limits.h"

/*
 * X(name, value, message). Keep values dense and negative; group by module.
 * The message is what a user reads: it says what went wrong, not where.
 */
#define WITAN_ERRORS(X)                                                        \
    X(WITAN_OK, 0, "success")                                                  \
    /* general */                                                              \
    X(WITAN_EINVAL, -1, "invalid argument")                                    \
    X(WITAN_ENOMEM, -2, "out of memory")                                       \
    X(WITAN_ELIMIT, -3, "size or count over its limit")                        \
    X(WITAN_EDECODE, -4, "malformed encoding")                                 \
    X(WITAN_EIO, -5, "input/output error")                                     \
    X(WITAN_ENOTFOUND, -6, "not found")                                        \
    X(WITAN_EEXIST, -7, "already exists")                                      \
    X(WITAN_ERANGE, -8, "value out of range")                                  \
    X(WITAN_EOVERFLOW, -9, "arithmetic overflow")                              \
    X(WITAN_EUNSUPPORTED, -10, "not supported")                                \
    X(WITAN_ESTATE, -11, "operation not valid in the current state")           \
    X(WITAN_EAGAIN, -12, "temporarily unavailable, retry")                     \
    X(WITAN_ECONFIG, -13, "invalid configuration")                             \
    X(WITAN_ELIBRARY, -14, "a library call failed")                            \
    /* crypto */                                                               \
    X(WITAN_ESIG, -20, "signature does not verify")                            \
    X(WITAN_EKEY, -21, "invalid key")                                          \
    X(WITAN_EKEYTYPE, -22, "unknown key type")                                 \
    X(WITAN_EKEYPERM, -23, "key file is readable by group or others")          \
    X(WITAN_EKEYFILE, -24, "not a key file, or a damaged one")                 \
    X(WITAN_EPROOF, -25, "Merkle proof does not verify")                       \
    X(WITAN_ECRYPTOINIT, -26, "crypto library failed to initialise")           \
    /* storage */                                                              \
    X(WITAN_EMAPFULL, -30, "database map is full")                             \
    X(WITAN_EDBVERSION, -31, "database version does not match")                \
    X(WITAN_EDBCORRUPT, -32, "database is corrupt")                            \
    X(WITAN_ENOSPACE, -33, "no space left for the database")                   \
    /* ledger and admission */                                                 \
    X(WITAN_ECHAIN, -40, "wrong chain id")                                     \
    X(WITAN_ENONCE, -41, "wrong nonce")                                        \
    X(WITAN_EROLE, -42, "sender lacks the required role")                      \
    X(WITAN_ESENDER, -43, "unknown sender")                                    \
    X(WITAN_EGENESIS, -44, "genesis does not match")                           \
    X(WITAN_EVERSION, -45, "protocol or schema version does not match")        \
    X(WITAN_EFULL, -46, "queue full, retry")                                   \
    /* vm */                                                                   \
    X(WITAN_EVERIFY, -50, "bytecode module fails verification")                \
    X(WITAN_ETRAP, -51, "contract execution trapped")                          \
    X(WITAN_EGAS, -52, "out of gas")                                           \
    X(WITAN_EASM, -53, "assembly error")                                       \
    X(WITAN_ECOMPILE, -54, "contract source does not compile")                 \
    /* inference */                                                            \
    X(WITAN_EMODEL, -60, "invalid model")                                      \
    X(WITAN_EONNX, -61, "ONNX graph cannot be imported")                       \
    X(WITAN_EQUANT, -62, "quantisation error over the allowed bound")          \
    /* consensus */                                                            \
    X(WITAN_ECONSENSUS, -70, "consensus message refused")                      \
    X(WITAN_EFORK, -71, "state diverges from a stable checkpoint")             \
    X(WITAN_EAUTH, -72, "frame not authenticated by its sender")               \
    X(WITAN_EBUDGET, -73, "decoding would allocate over its budget")           \
    /* node and network */                                                     \
    X(WITAN_ENET, -80, "network error")                                        \
    X(WITAN_ETIMEOUT, -81, "timed out")                                        \
    X(WITAN_ECLOSED, -82, "closed")

enum witan_err {
#define WITAN_ERR_ENUM_(name, value, msg) name = value,
    WITAN_ERRORS(WITAN_ERR_ENUM_)
#undef WITAN_ERR_ENUM_
};

/* The code's name ("WITAN_ESIG"), or "WITAN_E?" for a value that is not one.
 * Never fails; the string is static. */
const char *witan_err_name(int err);

/* The code's message ("signature does not verify"); static, never fails. */
const char *witan_err_message(int err);

/* Library conventions, translated once, here. */

/* libsodium: 0 success, -1 failure. */
static inline int witan_from_sodium(int rc, int err_on_failure)
{
    return rc == 0 ? WITAN_OK : err_on_failure;
}

/* libsecp256k1: 1 success, 0 failure. */
static inline int witan_from_secp(int rc, int err_on_failure)
{
    return rc == 1 ? WITAN_OK : err_on_failure;
}

/*
 * Assertions. WITAN_ASSERT is always on, also in release builds: it states an
 * invariant the code has proved, and a broken invariant must stop the process
 * before it corrupts state. It is never used on input (input gets an error).
 */
#define WITAN_ASSERT(cond)                                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            witan_assert_fail(#cond, __FILE__, __LINE__, __func__);            \
    } while (0)

_Noreturn void witan_assert_fail(const char *expr, const char *file, int line,
                                 const char *func);

/* Byzantine faults tolerated by n validators, f = floor((n - 1) / 3), and
 * the quorum ceil((n + f + 1) / 2): 2f + 1 when n = 3f + 1, and still two
 * quorums intersect in a correct validator for the other n. */
static inline uint32_t witan_faults(uint32_t n) { return n ? (n - 1) / 3 : 0; }
static inline uint32_t witan_quorum(uint32_t n)
{
    return (n + witan_faults(n) + 2) / 2;
}

#define WITAN_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Logging: one line per event on stderr, "time level component: message",
 * or in the JSON format one object per line, {"time", "level", "component",
 * "msg"} and the event's fields, for log collectors. The time is wall-clock
 * and so only ever for people, never for state. The level and format may be
 * changed from any thread at any time (witand does on SIGHUP).
 */
enum witan_log_level {
    WITAN_LOG_DEBUG = 0,
    WITAN_LOG_INFO = 1,
    WITAN_LOG_WARN = 2,
    WITAN_LOG_ERROR = 3,
    WITAN_LOG_OFF = 4,
};

/* Messages below this level are dropped. Default WITAN_LOG_INFO. */
void witan_log_set_level(enum witan_log_level level);
enum witan_log_level witan_log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off". WITAN_EINVAL otherwise. */
int witan_log_level_parse(const char *text, enum witan_log_level *level);

void witan_log(enum witan_log_level level, const char *component,
               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum witan_log_format {
    WITAN_LOG_TEXT = 0,
    WITAN_LOG_JSON = 1,
};
void witan_log_set_format(enum witan_log_format format);
/* Parses "text" or "json". WITAN_EINVAL otherwise. */
int witan_log_format_parse(const char *text, enum witan_log_format *format);

/*
 * An event with named fields, for the lines operators search and graph
 * (blocks, view changes, peers): `fields` formats to "key=value" pairs
 * separated by single spaces, values without spaces. Text: "msg key=value
 * ...". JSON: each pair a member, a value of digits alone a number (up to
 * 15 digits, so that every reader keeps it exact), anything else a string.
 */
void witan_log_event(enum witan_log_level level, const char *component,
                     const char *msg, const char *fields, ...)
    __attribute__((format(printf, 4, 5)));

#define WITAN_DEBUG(comp, ...) witan_log(WITAN_LOG_DEBUG, comp, __VA_ARGS__)
#define WITAN_INFO(comp, ...) witan_log(WITAN_LOG_INFO, comp, __VA_ARGS__)
#define WITAN_WARN(comp, ...) witan_log(WITAN_LOG_WARN, comp, __VA_ARGS__)
#define WITAN_ERROR(comp, ...) witan_log(WITAN_LOG_ERROR, comp, __VA_ARGS__)

/*
 * This build: its release (the VERSION file) and the git commit it was built
 * from, "unknown" when it was built outside a git checkout (from a tarball)
 * and with "-dirty" when the checkout had uncommitted changes. The Makefile
 * writes them into build/gen/witan_version.h; operators and /metrics
 * (witan_build_info) read them to know exactly what runs.
 */
const char *witan_release(void);
const char *witan_commit(void);

/* Lowercase hex. witan_hex_encode writes 2*size+1 bytes including the NUL. */
void witan_hex_encode(const uint8_t *data, size_t size, char *out);

/* Decodes exactly out_size bytes from hex text of exactly 2*out_size digits
 * (either case). WITAN_EDECODE on a wrong length or a non-hex digit. */
int witan_hex_decode(const char *text, uint8_t *out, size_t out_size);

/*
 * JSON reader for the files people edit (genesis, configuration). Numbers are
 * integers only: a fraction or an exponent is an error, since nothing Witan
 * reads from JSON may be a float. Input is bounded (WITAN_JSON_SIZE_MAX bytes,
 * WITAN_JSON_DEPTH_MAX levels, WITAN_JSON_NODE_COUNT_MAX values); a document
 * that breaks a bound or the grammar is refused with a message naming the line
 * and column.
 */
enum witan_json_type {
    WITAN_JSON_NULL,
    WITAN_JSON_BOOL,
    WITAN_JSON_INT,
    WITAN_JSON_STRING,
    WITAN_JSON_ARRAY,
    WITAN_JSON_OBJECT,
};

typedef struct witan_json witan_json;

/* A value in a document: an index; WITAN_JSON_NONE for a missing one. The
 * document's root is WITAN_JSON_ROOT. */
typedef int32_t witan_json_ref;
#define WITAN_JSON_NONE (-1)
#define WITAN_JSON_ROOT 0

/* Parses text. On success *out owns the document (witan_json_free). On
 * WITAN_EDECODE or WITAN_ELIMIT, `why` says what and where. */
int witan_json_parse(const char *text, size_t size, witan_json **out,
                     char *why, size_t why_size);
void witan_json_free(witan_json *doc);

enum witan_json_type witan_json_type_of(const witan_json *doc,
                                        witan_json_ref ref);
/* Member `key` of an object, or WITAN_JSON_NONE. */
witan_json_ref witan_json_get(const witan_json *doc, witan_json_ref object,
                              const char *key);
/* Number of elements of an array or members of an object (0 otherwise). */
size_t witan_json_count(const witan_json *doc, witan_json_ref ref);
/* Element i of an array, member i of an object (its key through *key). */
witan_json_ref witan_json_at(const witan_json *doc, witan_json_ref ref,
                             size_t i, const char **key);
/* Typed access: WITAN_EINVAL when the value has another type. A string is
 * NUL-terminated and owned by the document; one holding a NUL is refused. */
int witan_json_string(const witan_json *doc, witan_json_ref ref,
                      const char **out);
int witan_json_int(const witan_json *doc, witan_json_ref ref, int64_t *out);
int witan_json_bool(const witan_json *doc, witan_json_ref ref, int *out);

/* Writes s as a JSON string literal, quotes included. */
void witan_json_write_string(FILE *out, const char *s);

/* Reads a whole file of at most size_max bytes into a NUL-terminated buffer
 * the caller frees. WITAN_EIO, WITAN_ELIMIT. */
/* --- CSV (common/csv.c) ---------------------------------------------------
 *
 * The project's one CSV reader, RFC 4180: records end with LF or CRLF,
 * fields are separated by commas, a field may be quoted ("a ""b"", c", a
 * quoted field may hold commas and line ends), and spaces and tabs around a
 * field, outside its quotes, are dropped. A blank line is no record. Nothing
 * is truncated: a record over WITAN_CSV_RECORD_SIZE_MAX bytes or
 * WITAN_CSV_FIELD_COUNT_MAX fields is an error. After an error the reader
 * has skipped that record, so a caller can report every bad one and go on.
 */
struct witan_csv {
    const char *p, *end;
    size_t line;                     /* where the current record starts */
    size_t next_line;
    size_t count;                    /* fields of the current record */
    const char *fields[WITAN_CSV_FIELD_COUNT_MAX]; /* NUL-terminated */
    size_t sizes[WITAN_CSV_FIELD_COUNT_MAX];
    char buf[WITAN_CSV_RECORD_SIZE_MAX + WITAN_CSV_FIELD_COUNT_MAX];
};

/* Starts reading `size` bytes of text (kept by the caller meanwhile). */
void witan_csv_init(struct witan_csv *r, const char *text, size_t size);
/* The next record into r->fields: 1, or 0 at the end, or WITAN_EDECODE /
 * WITAN_ELIMIT with `why` naming the line (the record is skipped). */
int witan_csv_next(struct witan_csv *r, char *why, size_t why_size);

int witan_read_file(const char *path, size_t size_max, char **out,
                    size_t *size);

/*
 * Decodes a protobuf message of type `desc` from bytes that came off the
 * network, allocating no more than WITAN_UNPACK_BUDGET(size) in all: protobuf-c
 * allocates in proportion to what is declared (an empty repeated submessage
 * costs two bytes on the wire and a whole struct in memory), so an unbounded
 * decode lets a few bytes cost a hundred times their size. WITAN_EBUDGET when
 * the budget would be passed, WITAN_EDECODE for bytes that do not parse. The
 * message is freed with the generated free_unpacked(m, NULL) as usual.
 */
#define WITAN_UNPACK_BUDGET(size) (2 * (size_t)(size) + 64 * 1024)
struct ProtobufCMessageDescriptor;
struct ProtobufCMessage;
int witan_unpack(const struct ProtobufCMessageDescriptor *desc,
                 const uint8_t *data, size_t size,
                 struct ProtobufCMessage **out);
/* The same from a budget shared by several decodes (a message and what it
 * wraps): *left is what remains, and this decode's allocations come off it,
 * also when it fails. */
int witan_unpack_from(size_t *left, const struct ProtobufCMessageDescriptor *desc,
                      const uint8_t *data, size_t size,
                      struct ProtobufCMessage **out);
/* The same where the reason does not matter: the message, or NULL. */
void *witan_unpack_or_null(const struct ProtobufCMessageDescriptor *desc,
                           const uint8_t *data, size_t size);

/* Parses a time into Unix ms: "YYYY-MM" and "YYYY-MM-DD" (UTC),
 * "YYYY-MM-DDTHH:MM[:SS[.s|.ss|.sss]]" with "Z" or "+HH:MM"/"-HH:MM", real
 * calendar dates only; "@SECONDS" and "ms:MILLISECONDS" since 1970; a bare
 * integer of WITAN_TIME_BARE_DIGITS_MIN digits or more as milliseconds.
 * WITAN_ERANGE for a shorter bare integer (perhaps seconds), WITAN_EINVAL
 * for anything else. */
#define WITAN_TIME_BARE_DIGITS_MIN 12
int witan_time_parse(const char *text, int64_t *ms);
/* What is wrong with a time that did not parse, by witan_time_parse's
 * error: a sentence without a leading capital or final stop. */
const char *witan_time_error(int err);

/* --- Thread pool (common/pool.c) ------------------------------------------- */

/* The most threads a pool runs, the caller's included. */
#define WITAN_POOL_THREADS_MAX 64

/* One parallel loop at a time over `threads` threads, the caller's
 * included (threads - 1 are started). Made at the edge (the node, the
 * CLI) and handed to cores, which never make threads themselves. */
typedef struct witan_pool witan_pool;
int witan_pool_new(unsigned threads, witan_pool **out);
void witan_pool_free(witan_pool *p);
/* Threads a loop runs on, the caller's included; 1 for a NULL pool. */
unsigned witan_pool_threads(const witan_pool *p);
/* Calls fn(ctx, i) once for every i < n and returns when all have
 * returned; NULL pool: in order, on the caller's thread. Each call must
 * write only what is its own (slot i), so that results never depend on
 * which thread ran it. The same as witan_pool_start then witan_pool_wait. */
void witan_pool_run(witan_pool *p, size_t n, void (*fn)(void *ctx, size_t i),
                    void *ctx);
/* witan_pool_run in two halves, for a caller with work of its own to do
 * meanwhile. start hands the loop to the pool's threads and returns; with
 * none (a NULL or one-thread pool) or n <= 1 it runs the whole loop here,
 * in order, before returning. wait runs what is left of it on the
 * caller's thread too and returns when every call has returned; the
 * caller must not read what the loop writes, nor change what it reads,
 * before then. Every start needs its wait before the pool runs another
 * loop or is freed (asserted); wait without a start returns at once.
 * Neither can fail. */
void witan_pool_start(witan_pool *p, size_t n,
                      void (*fn)(void *ctx, size_t i), void *ctx);
void witan_pool_wait(witan_pool *p);

#endif
