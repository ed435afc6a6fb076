/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The times witan reads (witan_time_parse): every form its help lists gives
 * the instant it names, to the millisecond; dates that are not on the
 * calendar, times of day without a zone, precision finer than the chain
 * keeps and bare numbers that may be seconds are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/common.h"

static void test_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"1958-03", -373593600000},                 /* Mauna Loa's start */
        {"1958-03-01", -373593600000},
        {"2024-02-29", 1709164800000},              /* a leap day */
        {"2024-01-01T00:00Z", 1704067200000},
        {"2024-01-01T00:00:00Z", 1704067200000},
        {"2024-01-01T00:00:00.5Z", 1704067200500},
        {"2024-01-01T00:00:00.05Z", 1704067200050},
        {"2024-01-01T00:00:00.123Z", 1704067200123},
        {"2024-01-01T00:00:00+02:00", 1704060000000},
        {"2024-01-01T00:00:00-03:30", 1704067200000 + 12600000},
        {"@1700000000", 1700000000000},
        {"@-1", -1000},
        {"ms:1700000000123", 1700000000123},
        {"ms:-373593600000", -373593600000},
        {"1700000000123", 1700000000123},           /* 13 digits: ms */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = 0;
        int err = witan_time_parse(ok[i].text, &ms);
        if (err || ms != ok[i].ms)
            fail_msg("'%s': error %d, %lld, not %lld", ok[i].text, err,
                     (long long)ms, (long long)ok[i].ms);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "2024-13", "2024-00", "2024-02-30", "2023-02-29",
        "2024-04-31", "2024-01-01T00:00", "2024-01-01T00:00:00",
        "2024-01-01T24:00Z", "2024-01-01T00:60Z", "2024-01-01T00:00:00.1234Z",
        "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+2:00",
        "2024-01-01T00:00:00+24:00", "2024-01-01 00:00Z", "2024-1-01",
        "ms:", "ms:12x", "@", "@1.5", "12x", "2024-01-01Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        if (witan_time_parse(bad[i], &ms) != WITAN_EINVAL)
            fail_msg("'%s' was not refused as invalid", bad[i]);
    }
    /* a bare number that may be seconds: refused, with its own message */
    int64_t ms;
    assert_int_equal(witan_time_parse("1700000000", &ms), WITAN_ERANGE);
    assert_int_equal(witan_time_parse("-86400", &ms), WITAN_ERANGE);
    assert_int_equal(witan_time_parse("2024", &ms), WITAN_ERANGE);
    assert_non_null(strstr(witan_time_error(WITAN_ERANGE), "@SECONDS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("time", tests, NULL, NULL);
}
