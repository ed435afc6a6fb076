#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs each cmocka test program given as an argument from the project root,
# counts the cases cmocka reports, and ends with one summary line:
#   tests: N passed, M failed
# A program that crashes or exits non-zero without a cmocka summary counts as
# one failed case, so nothing can pass by dying early.
passed=0
failed=0
broken=""
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
    name=${t#*/}
    if "$t" >"$out" 2>&1; then rc=0; else rc=$?; fi
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
        cat "$out"
        broken="$broken $name"
    fi
    printf '%-40s %4d passed %4d failed\n' "$name" "$p" "$f"
    passed=$((passed + p))
    failed=$((failed + f))
done
[ -n "$broken" ] && echo "failing programs:$broken"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
