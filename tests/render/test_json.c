/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render/json.c, the one protobuf-to-JSON renderer of the gateway and the
 * CLI: the readable forms written beside the exact fields (decimal text
 * beside a mantissa and scale, ISO 8601 beside a point in time) on real
 * witan.proto messages, what is left out (a time of 0, a scale past 18, a
 * duration), and that every output parses (common/'s JSON reader).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "render/render.h"

/* m rendered; the caller frees it. Fails the test unless it parses. */
static char *render(const ProtobufCMessage *m)
{
    struct render_json b = {0};
    render_json_message(&b, m);
    assert_false(b.oom);
    witan_json *doc = NULL;
    char why[128] = "";
    if (witan_json_parse(b.p, b.len, &doc, why, sizeof why) != 0)
        fail_msg("not JSON (%s): %s", why, b.p);
    witan_json_free(doc);
    return b.p;
}

static void test_decimal_text(void **state)
{
    (void)state;
    Witan__NamedValue v = WITAN__NAMED_VALUE__INIT;
    v.name = "co2";
    v.mantissa = 41450;
    v.scale = 2;
    char *s = render(&v.base);
    assert_string_equal(s, "{\"name\":\"co2\",\"mantissa\":\"41450\","
                           "\"scale\":2,\"value\":\"414.50\"}");
    free(s);
    v.mantissa = -5;
    v.scale = 3;
    s = render(&v.base);
    assert_non_null(strstr(s, "\"value\":\"-0.005\""));
    free(s);
    v.mantissa = INT64_MIN;
    v.scale = 18;
    s = render(&v.base);
    assert_non_null(strstr(s, "\"value\":\"-9.223372036854775808\""));
    free(s);
    /* Refused on chain, so never rendered as a number. */
    v.scale = 19;
    s = render(&v.base);
    assert_null(strstr(s, "\"value\""));
    free(s);

    /* A prefix names the pair: threshold_mantissa/_scale. */
    Witan__ContractTrigger t = WITAN__CONTRACT_TRIGGER__INIT;
    t.threshold_mantissa = 5;
    t.threshold_scale = 1;
    s = render(&t.base);
    assert_non_null(strstr(s, "\"threshold_value\":\"0.5\""));
    free(s);
}

static void test_times(void **state)
{
    (void)state;
    Witan__Attest a = WITAN__ATTEST__INIT;
    a.feed = "f";
    a.subject = "s";
    a.observed_at_ms = 1577836800123; /* 2020-01-01T00:00:00.123Z */
    char *s = render(&a.base);
    assert_non_null(strstr(s, "\"observed_at_ms\":\"1577836800123\""));
    assert_non_null(strstr(s, "\"observed_at\":\"2020-01-01T00:00:00.123Z\""));
    free(s);
    a.observed_at_ms = -1; /* before 1970, to the millisecond */
    s = render(&a.base);
    assert_non_null(strstr(s, "\"observed_at\":\"1969-12-31T23:59:59.999Z\""));
    free(s);
    /* 0 is "no time": the exact field only. */
    a.observed_at_ms = 0;
    s = render(&a.base);
    assert_null(strstr(s, "\"observed_at\":"));
    free(s);

    Witan__BlockHeader h = WITAN__BLOCK_HEADER__INIT;
    h.time_ms = 86400000;
    s = render(&h.base);
    assert_non_null(strstr(s, "\"time\":\"1970-01-02T00:00:00.000Z\""));
    free(s);

    /* A duration stays a number of milliseconds. */
    Witan__ModelTarget m = WITAN__MODEL_TARGET__INIT;
    m.horizon_ms = 60000;
    s = render(&m.base);
    assert_non_null(strstr(s, "\"horizon_ms\":\"60000\""));
    assert_null(strstr(s, "\"horizon\""));
    free(s);
}

/* Formatted text of any length is written whole, after what the buffer
 * held: short pieces and one past the stack's 256 bytes alike. */
static void test_printf_any_length(void **state)
{
    (void)state;
    enum { LONG = 5000 };
    char *text = malloc(LONG + 1);
    assert_non_null(text);
    for (size_t i = 0; i < LONG; i++)
        text[i] = (char)('a' + i % 26);
    text[LONG] = '\0';
    struct render_json b = {0};
    render_json_printf(&b, "[%d,", 7);
    render_json_printf(&b, "%s", text + LONG - 255); /* the stack's most */
    render_json_printf(&b, "<%s>", text);
    render_json_printf(&b, "%d]", 8);
    assert_false(b.oom);
    assert_int_equal(b.len, 3 + 255 + 1 + LONG + 1 + 2);
    assert_int_equal(strlen(b.p), b.len);
    assert_memory_equal(b.p, "[7,", 3);
    assert_memory_equal(b.p + 3, text + LONG - 255, 255);
    assert_int_equal(b.p[3 + 255], '<');
    assert_memory_equal(b.p + 3 + 255 + 1, text, LONG);
    assert_string_equal(b.p + 3 + 255 + 1 + LONG, ">8]");
    free(b.p);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_text),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_printf_any_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
