#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `witan attest --file` against a real chain (a testnet of one validator):
# quoted fields and spaces around them, a cell longer than any line the
# old reader took, a conflict settled with --on-conflict first and last
# (and what was committed is the row chosen), progress lines on stderr when
# it is not a terminal, the tally, and exit 1 when a row is not committed
# OK. usage: test_attest_file.sh BIN_DIR
# Ports 61000-65499: above Linux's ephemeral range (32768-60999) and every
# other test's, so it runs beside any of them.
set -u
bin=$1
w="$bin/witan"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/witan-attest-file.XXXXXX")
port=$((61000 + ($$ % 450) * 10))
net=$tmp/net
fails=0
cleanup() {
    "$w" testnet stop "$net" >/dev/null 2>&1
    if [ "$fails" -eq 0 ]; then rm -rf "$tmp"; else echo "  kept $tmp"; fi
}
trap cleanup EXIT
fail() {
    echo "  FAIL  $*"
    fails=$((fails + 1))
}
ok() { echo "  ok    $*"; }
# expect STATUS PATTERN FILE: the last run's status and output
expect() {
    if [ "$rc" -ne "$1" ] || ! grep -q -- "$2" "$3"; then
        fail "$name: exit $rc (want $1), no '$2' in: $(cat "$3")"
    else
        ok "$name: $(grep -- "$2" "$3" | head -n 1)"
    fi
}
"$w" testnet init --validators 1 --dir "$net" --base-port "$port" \
    --allow-no-fault-tolerance >/dev/null &&
    "$w" testnet start "$net" >/dev/null || { fails=1; echo "  FAIL  testnet"; exit 1; }
node=tcp://127.0.0.1:$port
key=$net/operator.key
attest() { # FEED FILE COLUMNS ARGS...: into $tmp/out and $tmp/err, $rc
    feed=$1 file=$2 cols=$3
    shift 3
    "$w" attest --node "$node" --key "$key" --feed "$feed" --subject s \
        --file "$file" --columns "$cols" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
# VALUE_AT FEED TIME: the value(s) the chain holds, as query prints them
value_at() {
    "$w" query attestations --node "$node" --feed "$1" --subject s \
        --from "$2" --to "$2" 2>&1
}

# Quoted fields (a comma and a quote inside), spaces around fields, and a
# skipped cell of 6000 bytes before the value (the old reader cut lines
# at 4096 bytes).
long=$(head -c 6000 /dev/zero | tr '\0' x)
{
    echo 'time,"note, with a comma",v'
    echo '  2020-01  , "say ""hi"", then go" ,  1.25  '
    echo "\"2020-02\",$long,\"2.5\""
} > "$tmp/quoted.csv"
name="quoted, spaced and long"; attest t/quoted "$tmp/quoted.csv" time,-,v --wait
expect 0 "2 OK, 0 dropped" "$tmp/out"
name="the value after the long cell"
value_at t/quoted 2020-02 > "$tmp/q" 2>&1; rc=0
expect 0 "v=2.5" "$tmp/q"
value_at t/quoted 2020-01 > "$tmp/q" 2>&1
name="the spaced value"; expect 0 "v=1.25" "$tmp/q"

# A conflict: refused by default (nothing sent), then first, then last.
printf 'source,time,v\na,2021-01,1\nb,2021-01,2\na,2021-02,3\nb,2021-02,3\n' \
    > "$tmp/conflict.csv"
name="a conflict refused"; attest t/first "$tmp/conflict.csv" -,time,v --wait
expect 2 "conflict: lines 2, 3 observe 2021-01" "$tmp/err"
value_at t/first 2021-01 > "$tmp/q"
grep -q "v=" "$tmp/q" && fail "a refused conflict sent something: $(cat "$tmp/q")"
name="--on-conflict first"; attest t/first "$tmp/conflict.csv" -,time,v \
    --on-conflict first --wait
expect 0 "1 repeated rows not sent; 1 conflicting rows not sent" "$tmp/out"
value_at t/first 2021-01 > "$tmp/q"
name="first kept"; rc=0; expect 0 "v=1" "$tmp/q"
name="--on-conflict last"; attest t/last "$tmp/conflict.csv" -,time,v \
    --on-conflict last --wait
expect 0 "2 rows submitted" "$tmp/out"
value_at t/last 2021-01 > "$tmp/q"
name="last kept"; rc=0; expect 0 "v=2" "$tmp/q"

# Progress when stderr is not a terminal: a plain line every 500 rows;
# the tally; the same file again commits as DUPLICATE: exit 1.
{
    echo time,v
    i=0
    while [ $i -lt 1200 ]; do
        echo "ms:$((1600000000000 + i * 60000)),$i"
        i=$((i + 1))
    done
} > "$tmp/many.csv"
name="progress lines"; attest t/many "$tmp/many.csv" time,v --batch 100 --wait
expect 0 "500/1200 submitted, 0 refused, 0 committed" "$tmp/err"
grep -q "$(printf '\r')" "$tmp/err" && fail "a carriage return when stderr is no terminal"
name="progress while waiting"; expect 0 "1200/1200 submitted, 0 refused, 500 committed" "$tmp/err"
name="tally"; expect 0 "1200 rows submitted, 0 refused" "$tmp/out"
name="receipts"; expect 0 "^receipts: 1200 OK, 0 dropped" "$tmp/out"
head -n 2 "$tmp/many.csv" > "$tmp/again.csv"
name="a DUPLICATE fails"; attest t/many "$tmp/again.csv" time,v --wait
expect 1 "receipts: 1 DUPLICATE, 0 dropped" "$tmp/out"
name="and is named by its line"; expect 1 "line 2: .* DUPLICATE" "$tmp/err"

if [ "$fails" -ne 0 ]; then
    echo "attest --file: $fails case(s) failed"
    exit 1
fi
echo "attest --file: every case passed"
