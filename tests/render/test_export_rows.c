/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render/export.c without a node: a fake client API answers one page of
 * attestations, so the exact bytes of CSV quoting (RFC 4180), JSONL
 * escaping, decimals, fixed point and times are checked directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "render/render.h"

static void test_fixed_and_time(void **state)
{
    (void)state;
    char t[RENDER_EXPORT_FIXED_SIZE];
    render_export_fixed(3 << 16, 16, t, sizeof t);
    assert_string_equal(t, "3");
    render_export_fixed(-1, 16, t, sizeof t);
    assert_string_equal(t, "-0.0000152587890625");
    render_export_fixed(3 << 14, 16, t, sizeof t); /* 0.75 */
    assert_string_equal(t, "0.75");
    render_export_fixed(-(5 << 15), 16, t, sizeof t); /* -2.5 */
    assert_string_equal(t, "-2.5");
    render_export_fixed(INT64_MIN, 0, t, sizeof t);
    assert_string_equal(t, "-9223372036854775808");
    render_export_time(0, t, sizeof t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    render_export_time(1577836800123, t, sizeof t);
    assert_string_equal(t, "2020-01-01T00:00:00.123Z");
    render_export_time(-1, t, sizeof t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
}

/* One page: an attestation whose unit needs quoting, two values. */
static int fake_call(void *ctx, const Witan__Request *req,
                     Witan__Response **out)
{
    (void)ctx;
    assert_int_equal(req->kind_case, WITAN__REQUEST__KIND_ATTESTATIONS);
    Witan__Response r = WITAN__RESPONSE__INIT;
    Witan__AttestationsResponse a = WITAN__ATTESTATIONS_RESPONSE__INIT;
    Witan__AttestationRecord rec = WITAN__ATTESTATION_RECORD__INIT;
    Witan__Attest at = WITAN__ATTEST__INIT;
    Witan__NamedValue v0 = WITAN__NAMED_VALUE__INIT,
                      v1 = WITAN__NAMED_VALUE__INIT;
    Witan__NamedValue *vs[2] = {&v0, &v1};
    uint8_t tx[32] = {0xab};
    v0.name = "co2";
    v0.mantissa = 41450;
    v0.scale = 2;
    v1.name = "dip";
    v1.mantissa = -5;
    v1.scale = 3;
    at.feed = "f";
    at.subject = "s";
    at.unit = "parts, \"per\"\nmillion";
    at.observed_at_ms = 1577836800000;
    at.n_values = 2;
    at.values = vs;
    rec.attest = &at;
    rec.tx_hash = (ProtobufCBinaryData){32, tx};
    rec.height = 7;
    Witan__AttestationRecord *recs[1] = {&rec};
    a.n_records = 1;
    a.records = recs;
    r.kind_case = WITAN__RESPONSE__KIND_ATTESTATIONS;
    r.attestations = &a;
    /* Through the wire form, as a node's answer arrives. */
    size_t n = witan__response__get_packed_size(&r);
    uint8_t *b = malloc(n);
    assert_non_null(b);
    witan__response__pack(&r, b);
    *out = witan__response__unpack(NULL, n, b);
    free(b);
    return *out ? 0 : WITAN_EDECODE;
}

static void export_one(enum render_export_format format, struct render_json *out)
{
    struct render_export x = {0};
    x.kind = RENDER_EXPORT_ATTESTATIONS;
    x.format = format;
    x.feed = "f";
    x.subject = "s";
    assert_int_equal(render_export_check(&x, "--"), 0);
    assert_int_equal(render_export_page(&x, fake_call, NULL, out), 0);
    assert_true(x.done);
    assert_int_equal(x.row_count, 2);
}

static void test_csv_and_jsonl(void **state)
{
    (void)state;
    char tx[65];
    uint8_t txb[32] = {0xab};
    witan_hex_encode(txb, 32, tx);
    char want[2048];
    snprintf(want, sizeof want,
             "feed,subject,observed_at,name,value,unit,provider,revision,"
             "corrects,superseded_by,document_hash,tx_hash,height\r\n"
             "f,s,2020-01-01T00:00:00.000Z,co2,414.50,\"parts, \"\"per\"\"\n"
             "million\",,0,,,,%s,7\r\n"
             "f,s,2020-01-01T00:00:00.000Z,dip,-0.005,\"parts, \"\"per\"\"\n"
             "million\",,0,,,,%s,7\r\n",
             tx, tx);
    struct render_json b = {0};
    export_one(RENDER_EXPORT_CSV, &b);
    assert_string_equal(b.p, want);
    free(b.p);

    snprintf(want, sizeof want,
             "{\"feed\":\"f\",\"subject\":\"s\",\"observed_at\":\"2020-01-01T"
             "00:00:00.000Z\",\"name\":\"co2\",\"value\":\"414.50\",\"unit\":"
             "\"parts, \\\"per\\\"\\nmillion\",\"provider\":\"\",\"revision\":"
             "\"0\",\"corrects\":\"\",\"superseded_by\":\"\","
             "\"document_hash\":\"\",\"tx_hash\":\"%s\",\"height\":\"7\"}\n",
             tx);
    b = (struct render_json){0};
    export_one(RENDER_EXPORT_JSONL, &b);
    assert_int_equal(strncmp(b.p, want, strlen(want)), 0);
    free(b.p);
}

static void test_check_names_the_filter(void **state)
{
    (void)state;
    struct render_export x = {0};
    x.kind = RENDER_EXPORT_PREDICTIONS;
    x.feed = "f";
    assert_int_equal(render_export_check(&x, "--"), WITAN_EINVAL);
    assert_non_null(strstr(x.why, "--feed applies to attestations only"));
    x = (struct render_export){0};
    x.kind = RENDER_EXPORT_ATTESTATIONS;
    assert_int_equal(render_export_check(&x, ""), WITAN_EINVAL);
    assert_string_equal(x.why, "attestations need feed and subject");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_and_time),
        cmocka_unit_test(test_csv_and_jsonl),
        cmocka_unit_test(test_check_names_the_filter),
    };
    return cmocka_run_group_tests_name("export rows", tests, NULL, NULL);
}
