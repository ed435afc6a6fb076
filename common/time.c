/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Times as people and programs write them, into Unix milliseconds: the
 * one parser of the CLI's flags and the HTTP gateway's query parameters,
 * so that both take the same forms (spec/api.md). Real calendar dates
 * only, and no guessing whether a bare number is seconds or milliseconds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

/* Days from 1970-01-01 to a proleptic Gregorian date (exact for any year
 * in range): shift the year to start in March so leap days come last. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at *p into *v; false unless exactly n digits. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A signed decimal integer that is the whole text, into *v. */
static bool whole_number(const char *t, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(t, &end, 10);
    if (!*t || *end || errno || !(t[0] == '-' || (t[0] >= '0' && t[0] <= '9')))
        return false;
    *v = x;
    return true;
}

const char *witan_time_error(int err)
{
    return err == WITAN_ERANGE
               ? "a bare number of fewer than 12 digits may be seconds: write "
                 "@SECONDS or ms:MILLISECONDS"
               : "not a time (YYYY-MM[-DD[THH:MM[:SS[.sss]]Z]], an offset, "
                 "@SECONDS or ms:MS)";
}

int witan_time_parse(const char *text, int64_t *ms)
{
    int64_t v;
    /* Explicit epochs: no guessing which unit a number is in. */
    if (strncmp(text, "ms:", 3) == 0)
        return whole_number(text + 3, ms) ? WITAN_OK : WITAN_EINVAL;
    if (text[0] == '@') {
        if (!whole_number(text + 1, &v) || v > INT64_MAX / 1000 ||
            v < INT64_MIN / 1000)
            return WITAN_EINVAL;
        *ms = v * 1000;
        return WITAN_OK;
    }
    if (whole_number(text, &v)) {
        /* 12 digits or more is milliseconds since 1973; fewer may well be
         * seconds, and a guess would put the record in the wrong year. */
        size_t n = strlen(text) - (text[0] == '-');
        if (n < WITAN_TIME_BARE_DIGITS_MIN)
            return WITAN_ERANGE;
        *ms = v;
        return WITAN_OK;
    }
    const char *p = text;
    int y, mo, d = 1, h = 0, mi = 0, sec = 0, milli = 0, off = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo))
        return WITAN_EINVAL;
    if (*p == '-') {
        p++;
        if (!digits(&p, 2, &d))
            return WITAN_EINVAL;
        if (*p == 'T') {
            p++;
            if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
                return WITAN_EINVAL;
            if (*p == ':') {
                p++;
                if (!digits(&p, 2, &sec))
                    return WITAN_EINVAL;
                if (*p == '.') {
                    p++;
                    int n = 0;
                    while (p[n] >= '0' && p[n] <= '9')
                        n++;
                    /* milliseconds are what the chain keeps */
                    if (n < 1 || n > 3)
                        return WITAN_EINVAL;
                    digits(&p, n, &milli);
                    for (int k = n; k < 3; k++)
                        milli *= 10;
                }
            }
            if (*p == 'Z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) ||
                    oh > 23 || om > 59)
                    return WITAN_EINVAL;
                off = sign * (oh * 60 + om);
            } else {
                return WITAN_EINVAL; /* a time of day names its zone */
            }
        }
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*p || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 ||
        sec > 59)
        return WITAN_EINVAL;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 24 + h) * 60 + mi - off) * 60000 + (int64_t)sec * 1000 +
          milli;
    return WITAN_OK;
}

