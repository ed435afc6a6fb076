#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every `--json` output of witan is valid JSON, against a real chain (a
# testnet of one validator): each command is run with --json and what it
# prints on stdout is parsed by Python's json module (python3 comes with
# the project's Debian packages). A command may print one document, or
# one per line (JSON Lines) when it reports many things as they happen;
# empty output fails. Also checks a few values the shared renderer adds
# (decimal text beside mantissa and scale, ISO 8601 beside Unix ms), and
# that audit verify and export show plain progress lines and a tally when
# stderr is not a terminal.
# usage: test_json.sh BIN_DIR
# Ports 1100-1499 (WITAN_TEST_PORT gives another base): below every other
# test's and below Linux's ephemeral ports (32768-60999), which
# connections, the test's own included, take at random.
set -u
bin=$1
w="$bin/witan"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/witan-json.XXXXXX")
. "$(dirname "$0")/ports.sh"
lo=${WITAN_TEST_PORT:-1100}
span=${WITAN_TEST_PORT:+990}
span=${span:-400}
port=$((lo + ($$ % (span / 10)) * 10))
# Another base when something holds one of ours (at most a few tries).
next_port() {
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((lo + (port - lo + 370) % span))
        ports_free "$port" 10 && return 0
    done
    return 1
}
ports_free "$port" 10 || next_port
net=$tmp/net
fails=0
checks=0
cleanup() {
    "$w" testnet stop "$net" >/dev/null 2>&1
    if [ "$fails" -eq 0 ]; then rm -rf "$tmp"; else echo "  kept $tmp"; fi
}
trap cleanup EXIT
fail() {
    echo "  FAIL  $*"
    fails=$((fails + 1))
}
# A document, or JSON Lines; prints nothing and fails on anything else.
parse() {
    python3 -c '
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
if not text.strip():
    sys.exit("empty output")
try:
    json.loads(text)
except ValueError:
    for n, line in enumerate(text.splitlines(), 1):
        try:
            json.loads(line)
        except ValueError as e:
            sys.exit("line %d: %s: %s" % (n, e, line[:200]))
' "$1"
}
# j NAME ARGS...: runs witan ARGS (which include --json), wants exit 0 and
# JSON on stdout, kept in $tmp/out.
j() {
    name=$1
    shift
    checks=$((checks + 1))
    "$w" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$name: exit $rc: $(head -c 400 "$tmp/err")"
    elif ! why=$(parse "$tmp/out" 2>&1); then
        fail "$name: not JSON ($why)"
    else
        echo "  ok    $name"
    fi
}
# field NAME: the first string value of "NAME" in $tmp/out
field() {
    python3 -c '
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == sys.argv[2] and isinstance(x, (str, int)):
                return str(x)
            r = walk(x)
            if r is not None:
                return r
    elif isinstance(v, list):
        for x in v:
            r = walk(x)
            if r is not None:
                return r
    return None
text = open(sys.argv[1], encoding="utf-8").read()
try:
    docs = [json.loads(text)]
except ValueError:
    docs = [json.loads(l) for l in text.splitlines() if l.strip()]
for d in docs:
    r = walk(d)
    if r is not None:
        print(r)
        break
' "$tmp/out" "$1"
}
# has NAME VALUE: "NAME" in $tmp/out is VALUE
has() {
    checks=$((checks + 1))
    got=$(field "$1")
    if [ "$got" != "$2" ]; then
        fail "$name: $1 is '$got', want '$2'"
    else
        echo "  ok    $name: $1 = $2"
    fi
}

# A port taken between the check and the bind: again, elsewhere.
for attempt in 1 2 3; do
    rm -rf "$net"
    "$w" testnet init --validators 1 --dir "$net" --base-port "$port" \
        --allow-no-fault-tolerance --checkpoint-interval 2 >/dev/null &&
        "$w" testnet start "$net" >/dev/null && break
    "$w" testnet stop "$net" >/dev/null 2>&1
    next_port
done
"$w" testnet stop "$net" >/dev/null 2>&1
rm -rf "$net"
j "testnet init" testnet init --validators 1 --dir "$net" --base-port "$port" \
    --allow-no-fault-tolerance --checkpoint-interval 2 --json
j "testnet start" testnet start "$net" --json
j "testnet status" testnet status "$net" --json
node=tcp://127.0.0.1:$port
key=$net/operator.key
n="--node $node"

j "version" version --json
j "query status" query status $n --json
has chain_id witan-testnet
j "keys new" keys new --out "$tmp/a.key" --json
pub=$(field pubkey)
addr=$(field address)
j "keys show" keys show "$tmp/a.key" --json
j "keys new (a quote in the path)" keys new --out "$tmp/q\"k.key" --json
j "member add --wait" member add $n --key "$key" --name alice --pubkey "$pub" \
    --role data_provider --wait --json
j "member grant --wait" member grant $n --key "$key" --address "$addr" \
    --role model_operator --wait --json
j "member revoke (no wait)" member revoke $n --key "$key" --address "$addr" \
    --role proposer --json
j "member show" member show "$addr" $n --json
j "attest (no wait)" attest $n --key "$tmp/a.key" --feed t/x --subject s \
    --time 2020-01-01 --value v=414.50 --json
j "attest --wait" attest $n --key "$tmp/a.key" --feed t/x --subject s \
    --time 2020-02-01T00:00:00Z --value v=1.25 --wait --json
tx=$(field tx_hash)
j "query tx" query tx "$tx" $n --json
printf 'time,v\n2020-03,410\n2020-04,430\n' > "$tmp/a.csv"
j "attest --file" attest $n --key "$tmp/a.key" --feed t/x --subject s \
    --file "$tmp/a.csv" --columns time,v --wait --json
j "query attestations" query attestations $n --feed t/x --subject s \
    --from 2020-01-01 --to 2020-01-01 --json
has value 414.50
has observed_at 2020-01-01T00:00:00.000Z
j "query feeds" query feeds $n --json
has feed t/x
has subject s
has first_observed_at 2020-01-01T00:00:00.000Z
j "query feeds --feed" query feeds --feed t/x $n --limit 1 --json
j "query block" query block 1 $n --json
has time "$(python3 -c '
import json,sys,datetime
d=json.load(open(sys.argv[1]))
def find(v):
    if isinstance(v,dict):
        if "time_ms" in v: return v["time_ms"]
        for x in v.values():
            r=find(x)
            if r is not None: return r
    return None
ms=int(find(d))
print(datetime.datetime.utcfromtimestamp(ms//1000).strftime("%Y-%m-%dT%H:%M:%S")+".%03dZ"%(ms%1000))' "$tmp/out")"

model=tests/fixtures/models/linreg_temp.bin
j "model show FILE" model show "$model" --json
j "model import" model import tests/fixtures/models/linreg_temp.onnx \
    --samples tests/fixtures/models/linreg_temp.samples.csv \
    --out "$tmp/m.bin" --json
# the hash it reports is the written file's
has hash "$("$w" model show "$tmp/m.bin" --json | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')"
j "model score --input" model score "$model" --input 400,2020 --json
j "model score --file" model score "$model" --file \
    tests/fixtures/models/linreg_temp.samples.csv --out "$tmp/s.csv" --json
j "contract asm" contract asm tests/vm/fib.wvs --out "$tmp/fib.wvm" --json
j "contract disasm" contract disasm --json "$tmp/fib.wvm"
j "contract run" contract run "$tmp/fib.wvm" --entry fib --args 20 --json
has int 6765
j "contract check" contract check contracts/examples/climate.wcl --json
j "contract build" contract build contracts/examples/climate.wcl \
    --out "$tmp/climate.wvm" --json
j "model register --wait" model register "$model" $n --key "$key" \
    --name lin --input feed=t/x,subject=s,value=v --input feed=t/x,subject=s,year \
    --target feed=t/x,subject=s,value=v --wait --json
j "model list" model list $n --json
hash=$(field hash)
j "model show HASH" model show "$hash" $n --json
j "contract deploy" contract deploy $n --key "$key" --name warm --version 1 \
    --gas 100000 --asm tests/fixtures/contracts/warm.wvs --model "$hash" \
    --above 0:-1000000 --json
j "contract list" contract list $n --json
cid=$(field id)
j "contract show" contract show "$cid" $n --json
j "audit source" audit source "$cid" $n --json
j "model ask --wait" model ask "$hash" $n --key "$key" --wait --json
j "model ask (no wait)" model ask "$hash" $n --key "$key" --json
j "query predictions" query predictions --model "$hash" $n --json
j "model scorecard" model scorecard lin $n --json
j "contract call" contract call "$cid" bump --int 1 $n --key "$key" --json
checks=$((checks + 1))
if python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["tx_hash"]) == 64 and d["tx_hash"] == d["receipt"]["tx_hash"]' \
    "$tmp/out" 2>/dev/null; then
    echo "  ok    contract call: tx_hash at the top, as every signed command"
else
    fail "contract call: no top-level tx_hash"
fi
j "decisions list" decisions list $n --json
did=$(field id)
j "decisions show" decisions show "$did" $n --json
j "contract retire" contract retire "$cid" $n --key "$key" --json
j "model post" model post "$hash" $n --key "$key" --output y=1.5 \
    --input 400,2020 --wait --json
j "propose" propose set-param --param block_tx_count_max=500 $n --key "$key" \
    --json
j "proposals list" proposals list $n --json
j "proposals show" proposals show 1 $n --json
j "vote" vote 1 yes $n --key "$net/node0/operator.key" --json
j "validators" validators $n --json
j "audit verify" audit verify --genesis "$net/node0/genesis.json" $n \
    --work "$tmp/audit" --json
j "audit export" audit export --genesis "$net/node0/genesis.json" $n \
    --out "$tmp/chain.wa" --json
j "audit verify --archive" audit verify --archive "$tmp/chain.wa" \
    --genesis "$net/node0/genesis.json" --work "$tmp/audit2" --json
j "audit prove" audit prove "$tx" $n --json
j "audit check (proof)" audit prove "$tx" $n --out "$tmp/proof.json" --json
j "audit check" audit check "$tmp/proof.json" --genesis "$net/node0/genesis.json" --json
has holds True
j "audit head" audit head $n --size 2 --out "$tmp/head2.txt" --json
j "audit head (stdout)" audit head $n --json
"$w" audit head $n --out "$tmp/head.txt" >/dev/null 2>&1
j "audit consistency" audit consistency "$tmp/head2.txt" "$tmp/head.txt" \
    --genesis "$net/node0/genesis.json" $n --json
j "node backup" node backup --home "$net/node0" --out "$tmp/backup" --json
j "init" init --home "$tmp/home" --json
j "export attestations" export attestations $n --feed t/x --subject s \
    --format jsonl
j "export --json" export attestations $n --feed t/x --subject s \
    --out "$tmp/x.csv" --json
# Long work when stderr is not a terminal: plain progress lines (no
# carriage returns) and a tally, for audit verify, audit export and export.
plain() { # NAME PATTERN FILE: a line matching PATTERN, and no \r
    checks=$((checks + 1))
    if grep -q "$(printf '\r')" "$3" || ! grep -q -- "$2" "$3"; then
        fail "$1: no plain '$2' in: $(cat "$3")"
    else
        echo "  ok    $1: $(grep -- "$2" "$3" | tail -n 1)"
    fi
}
"$w" audit verify --genesis "$net/node0/genesis.json" $n \
    --work "$tmp/audit3" >"$tmp/out" 2>"$tmp/err"
plain "audit verify progress" "^witan audit verify: [0-9]* of [0-9]* blocks" "$tmp/err"
plain "audit verify tally" "^verified [0-9]* blocks" "$tmp/out"
"$w" audit export --genesis "$net/node0/genesis.json" $n \
    --out "$tmp/chain2.wa" >"$tmp/out" 2>"$tmp/err"
plain "audit export progress" "^witan audit export: [0-9]* of [0-9]* blocks" "$tmp/err"
plain "audit export tally" "^wrote .*chain2.wa: [0-9]* blocks" "$tmp/out"
"$w" export attestations $n --feed t/x --subject s >"$tmp/out" 2>"$tmp/err"
plain "export progress" "^witan export attestations: 4 rows;" "$tmp/err"
plain "export tally" "^witan export attestations: 4 rows$" "$tmp/err"
j "testnet stop" testnet stop "$net" --json

echo "test_json: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
