/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error names and messages, the assertion handler, logging and hex: the few
 * functions every module needs and none should own.
 */
#include "common/common.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

struct err_entry {
    int code;
    const char *name;
    const char *message;
};

static const struct err_entry err_table[] = {
#define WITAN_ERR_ENTRY_(name, value, msg) {value, #name, msg},
    WITAN_ERRORS(WITAN_ERR_ENTRY_)
#undef WITAN_ERR_ENTRY_
};

static const struct err_entry *err_find(int err)
{
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(err_table); i++)
        if (err_table[i].code == err)
            return &err_table[i];
    return NULL;
}

const char *witan_err_name(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->name : "WITAN_E?";
}

const char *witan_err_message(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->message : "unknown error code";
}

_Noreturn void witan_assert_fail(const char *expr, const char *file, int line,
                                 const char *func)
{
    fprintf(stderr, "assertion failed: %s (%s:%d, %s)\n", expr, file, line,
            func);
    fflush(stderr);
    abort();
}

static enum witan_log_level log_level = WITAN_LOG_INFO;

void witan_log_set_level(enum witan_log_level level)
{
    WITAN_ASSERT(level >= WITAN_LOG_DEBUG && level <= WITAN_LOG_OFF);
    log_level = level;
}

enum witan_log_level witan_log_get_level(void) { return log_level; }

int witan_log_level_parse(const char *text, enum witan_log_level *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error",
                                        "off"};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *level = (enum witan_log_level)i;
            return WITAN_OK;
        }
    }
    return WITAN_EINVAL;
}

void witan_log(enum witan_log_level level, const char *component,
               const char *fmt, ...)
{
    static const char *const labels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_level || level >= WITAN_LOG_OFF)
        return;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    /* One buffer, one write, so concurrent lines never interleave. */
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, labels[level],
                     component);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    if ((size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void witan_hex_encode(const uint8_t *data, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * size] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int witan_hex_decode(const char *text, uint8_t *out, size_t out_size)
{
    if (strlen(text) != 2 * out_size)
        return WITAN_EDECODE;
    for (size_t i = 0; i < out_size; i++) {
        int hi = hex_digit(text[2 * i]);
        int lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return WITAN_EDECODE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return WITAN_OK;
}
