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

/* Atomic: witand changes them on SIGHUP from its signal thread while
 * others log. */
static _Atomic int log_level = WITAN_LOG_INFO;
static _Atomic int log_format = WITAN_LOG_TEXT;

void witan_log_set_level(enum witan_log_level level)
{
    WITAN_ASSERT(level >= WITAN_LOG_DEBUG && level <= WITAN_LOG_OFF);
    log_level = level;
}

enum witan_log_level witan_log_get_level(void)
{
    return (enum witan_log_level)log_level;
}

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

void witan_log_set_format(enum witan_log_format format)
{
    WITAN_ASSERT(format == WITAN_LOG_TEXT || format == WITAN_LOG_JSON);
    log_format = format;
}

int witan_log_format_parse(const char *text, enum witan_log_format *format)
{
    if (strcmp(text, "text") == 0)
        *format = WITAN_LOG_TEXT;
    else if (strcmp(text, "json") == 0)
        *format = WITAN_LOG_JSON;
    else
        return WITAN_EINVAL;
    return WITAN_OK;
}

/* Appends to a line buffer, keeping its terminating NUL; what does not fit
 * is cut (a log line is bounded). */
struct log_line {
    char text[2048];
    size_t used;
};

static void line_put(struct log_line *l, const char *s, size_t n)
{
    size_t room = sizeof l->text - 1 - l->used;
    if (n > room)
        n = room;
    memcpy(l->text + l->used, s, n);
    l->used += n;
    l->text[l->used] = '\0';
}

static void line_puts(struct log_line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

/* A JSON string body: quote, backslash and control characters escaped. */
static void line_json(struct log_line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            line_put(l, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            line_puts(l, esc);
        } else {
            line_put(l, s + i, 1);
        }
    }
}

static void log_write(enum witan_log_level level, const char *component,
                      const char *msg, const char *fields)
{
    static const char *const labels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *const names[] = {"debug", "info", "warn", "error"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    /* One buffer, one write, so concurrent lines never interleave. */
    struct log_line l = {.used = 0};
    l.text[0] = '\0';
    if (log_format == WITAN_LOG_JSON) {
        line_puts(&l, "{\"time\":\"");
        line_puts(&l, when);
        line_puts(&l, "\",\"level\":\"");
        line_puts(&l, names[level]);
        line_puts(&l, "\",\"component\":\"");
        line_json(&l, component, strlen(component));
        line_puts(&l, "\",\"msg\":\"");
        line_json(&l, msg, strlen(msg));
        line_puts(&l, "\"");
        for (const char *p = fields; p && *p;) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            const char *eq = memchr(p, '=', n);
            if (n && eq && eq != p) {
                const char *v = eq + 1;
                size_t vn = (size_t)(p + n - v);
                bool number = vn > 0 && vn <= 15 && (vn == 1 || v[0] != '0');
                for (size_t i = 0; i < vn && number; i++)
                    number = v[i] >= '0' && v[i] <= '9';
                line_puts(&l, ",\"");
                line_json(&l, p, (size_t)(eq - p));
                line_puts(&l, number ? "\":" : "\":\"");
                if (number)
                    line_put(&l, v, vn);
                else
                    line_json(&l, v, vn);
                if (!number)
                    line_puts(&l, "\"");
            }
            p += n;
        }
        /* A cut line would not parse: the closing brace always fits. */
        if (l.used > sizeof l.text - 3)
            l.used = sizeof l.text - 3;
        l.text[l.used] = '\0';
        line_puts(&l, "}");
    } else {
        char head[128];
        snprintf(head, sizeof head, "%s %-5s ", when, labels[level]);
        line_puts(&l, head);
        line_puts(&l, component);
        line_puts(&l, ": ");
        line_puts(&l, msg);
        if (fields && *fields) {
            line_puts(&l, " ");
            line_puts(&l, fields);
        }
    }
    fprintf(stderr, "%s\n", l.text);
}

void witan_log(enum witan_log_level level, const char *component,
               const char *fmt, ...)
{
    if ((int)level < log_level || level >= WITAN_LOG_OFF)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_write(level, component, msg, NULL);
}

void witan_log_event(enum witan_log_level level, const char *component,
                     const char *msg, const char *fields, ...)
{
    if ((int)level < log_level || level >= WITAN_LOG_OFF)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fields);
    vsnprintf(text, sizeof text, fields, ap);
    va_end(ap);
    log_write(level, component, msg, text);
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
