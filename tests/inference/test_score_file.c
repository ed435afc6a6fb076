/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `witan model score MODEL --file CSV`, the real command in its own process:
 * columns found by name in any order (a quoted one, spaces, an extra column
 * reported), every good row scored exactly as the library scores it, every
 * bad row reported with its line and skipped, exit status 1 for them.
 */
#include <libgen.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/inference/support.h"

static char bin_dir[1024];

static void test_score_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/witan-score-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[256], out[256], err[256], cmd[2048];
    snprintf(in, sizeof in, "%s/in.csv", dir);
    snprintf(out, sizeof out, "%s/out.csv", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    /* gb_cls_tercile reads co2_trend_ppm, month_sin, month_cos */
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("month_cos, \"co2_trend_ppm\",note,month_sin\n"
          "0.5,314.44,first,0.866\n"
          "-1, 400.25 ,\"a, quoted note\",0\n"
          "1,oops,x,0\n"
          "0.25,350\n"
          "0,330.5,last,-1\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s/witan model score " TSUP_DIR "gb_cls_tercile.bin --file %s "
             "--out %s 2>%s",
             bin_dir, in, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1); /* two rows refused */
    size_t err_size;
    char *e = (char *)tsup_read(err, &err_size);
    assert_non_null(e);
    printf("%s", e);
    assert_non_null(strstr(e, "column 'note' is not an input"));
    assert_non_null(strstr(e, "line 4, input 'co2_trend_ppm': 'oops' is not "
                              "a decimal number"));
    assert_non_null(strstr(e, "line 5: 2 values, expected 4"));
    assert_non_null(strstr(e, "scored 3 rows, 2 refused"));
    free(e);

    size_t size;
    uint8_t *bytes = tsup_read(TSUP_DIR "gb_cls_tercile.bin", &size);
    infer_model *m;
    char why[256];
    assert_int_equal(infer_model_load(bytes, size, &m, why, sizeof why), 0);
    struct infer_info info;
    infer_model_info(m, &info);
    static const int64_t rows[3][3][2] = { /* (mantissa, scale) in input order */
        {{31444, 2}, {866, 3}, {5, 1}},
        {{40025, 2}, {0, 0}, {-1, 0}},
        {{3305, 1}, {-1, 0}, {0, 0}},
    };
    static const int lines[3] = {2, 3, 6};
    f = fopen(out, "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "line,p_0,p_1,p_2,label\n");
    for (int r = 0; r < 3; r++) {
        int64_t x[3];
        for (int i = 0; i < 3; i++)
            assert_int_equal(infer_input_from_decimal(m, (size_t)i, rows[r][i][0],
                                                      (uint32_t)rows[r][i][1],
                                                      &x[i]),
                             0);
        int32_t want[3];
        struct infer_result res;
        assert_int_equal(infer_score(m, x, 3, want, 3, &res), 0);
        assert_non_null(fgets(line, sizeof line, f));
        char *p = line;
        assert_int_equal(strtol(p, &p, 10), lines[r]);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(*p++, ',');
            /* exact decimals: they parse back to the very value */
            double got = strtod(p, &p);
            assert_true(got == ldexp(want[k], -(int)info.output_frac_bits));
        }
        assert_int_equal(*p++, ',');
        assert_int_equal(strtoll(p, &p, 10),
                         infer_class_label(m, res.label));
    }
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    infer_model_free(m);
    free(bytes);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 1;
    exe[n] = '\0';
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
