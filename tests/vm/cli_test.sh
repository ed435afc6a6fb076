#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# witan contract asm|disasm|run, end to end: BIN is build/bin/witan (or the
# sanitizer build's). Checks the round trip through text, a run's result and
# gas, a trap's exit status 1 and a usage error's 2.
set -u
BIN=${1:?usage: cli_test.sh WITAN}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-vm-cli: FAILED: $*"; exit 1; }

"$BIN" contract asm tests/vm/fib.wvs --out "$tmp/fib.wvm" >/dev/null || fail asm
"$BIN" contract disasm "$tmp/fib.wvm" >"$tmp/fib.txt" || fail disasm
"$BIN" contract asm "$tmp/fib.txt" --out "$tmp/again.wvm" >/dev/null || fail reasm
cmp -s "$tmp/fib.wvm" "$tmp/again.wvm" || fail "round trip bytes differ"
out=$("$BIN" contract run "$tmp/fib.wvm" --entry fib --args 20 --gas 1000000) ||
    fail run
echo "$out" | grep -q '^result: *6765$' || fail "fib(20) result: $out"
echo "$out" | grep -q '^gas used: *164177$' || fail "fib(20) gas: $out"
"$BIN" contract run tests/vm/fib.wvs --entry fib --args 20 --gas 1000 \
    >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "out of gas must exit 1"
grep -q 'out of gas' "$tmp/err" || fail "out of gas message"
"$BIN" contract run "$tmp/fib.wvm" --entry fib >/dev/null 2>&1
[ $? -eq 2 ] || fail "missing argument must exit 2"
"$BIN" contract frob >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command must exit 2"
"$BIN" contract --help | grep -q 'witan contract asm' || fail help
printf '.func f i -> v\n    frob\n.end\n' >"$tmp/bad.wvs"
"$BIN" contract asm "$tmp/bad.wvs" 2>"$tmp/err" >/dev/null
[ $? -eq 1 ] || fail "bad assembly must exit 1"
grep -q 'bad.wvs:2: unknown instruction' "$tmp/err" || fail "asm error line"
echo "test-vm-cli: ok"
