/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one CSV reader (common/csv.c): RFC 4180 fields, spaces around fields,
 * line numbers through quoted line ends, every refusal naming its line, and
 * reading on after a bad record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"

static struct witan_csv csv;

static void expect_record(const char *const *fields, size_t count,
                          size_t line)
{
    char why[128] = "";
    int got = witan_csv_next(&csv, why, sizeof why);
    if (got != 1)
        fail_msg("expected a record at line %zu, got %d: %s", line, got, why);
    assert_int_equal(csv.count, count);
    assert_int_equal(csv.line, line);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(csv.fields[i], fields[i]);
        assert_int_equal(csv.sizes[i], strlen(fields[i]));
    }
}

static void test_fields(void **state)
{
    (void)state;
    static const char text[] =
        "feed, subject ,value\r\n"
        "\n"
        "  \n"
        "\"climate/co2\",\"a, b\",\"say \"\"hi\"\"\"\n"
        "x,\"two\nlines\",\n"
        "last,\"\",  \t\n"
        "no end";
    witan_csv_init(&csv, text, sizeof text - 1);
    expect_record((const char *[]){"feed", "subject", "value"}, 3, 1);
    expect_record((const char *[]){"climate/co2", "a, b", "say \"hi\""}, 3, 4);
    expect_record((const char *[]){"x", "two\nlines", ""}, 3, 5);
    expect_record((const char *[]){"last", "", ""}, 3, 7);
    expect_record((const char *[]){"no end"}, 1, 8);
    char why[64];
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), 0);
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), 0);
}

/* Each bad record is refused with its line, and the next one is read. */
static void test_refusals(void **state)
{
    (void)state;
    static const char text[] = "ok,1\n"
                               "bad\"quote,2\n"
                               "\"closed\" then,3\n"
                               "ok,4\n"
                               "\"never closed,5\nok,6\n";
    witan_csv_init(&csv, text, sizeof text - 1);
    char why[128];
    expect_record((const char *[]){"ok", "1"}, 2, 1);
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), WITAN_EDECODE);
    assert_string_equal(why,
                        "line 2, field 1: a quote inside an unquoted field");
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), WITAN_EDECODE);
    assert_string_equal(why, "line 3, field 1: text after a closing quote");
    expect_record((const char *[]){"ok", "4"}, 2, 4);
    /* an open quote runs to the end: nothing after it is a record */
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), WITAN_EDECODE);
    assert_string_equal(why, "line 5: a quoted field is not closed");
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), 0);
}

/* Nothing is truncated: too many fields or bytes is an error, not a cut. */
static void test_bounds(void **state)
{
    (void)state;
    size_t n = WITAN_CSV_FIELD_COUNT_MAX + 1;
    char *many = malloc(2 * n + 8);
    assert_non_null(many);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        many[k++] = '1';
        many[k++] = i + 1 < n ? ',' : '\n';
    }
    memcpy(many + k, "ok\n", 3);
    witan_csv_init(&csv, many, k + 3);
    char why[128];
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), WITAN_ELIMIT);
    assert_non_null(strstr(why, "line 1: more than 1024 fields"));
    expect_record((const char *[]){"ok"}, 1, 2);
    free(many);

    size_t big = WITAN_CSV_RECORD_SIZE_MAX + 1;
    char *wide = malloc(big + 8);
    assert_non_null(wide);
    memset(wide, 'x', big);
    memcpy(wide + big, "\nok\n", 4);
    witan_csv_init(&csv, wide, big + 4);
    assert_int_equal(witan_csv_next(&csv, why, sizeof why), WITAN_ELIMIT);
    assert_non_null(strstr(why, "line 1: a record over 65536 bytes"));
    expect_record((const char *[]){"ok"}, 1, 2);
    free(wide);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
