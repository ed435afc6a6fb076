#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The witan command refuses mistakes before they reach a node: each case
# runs witan with an invalid value (no node is needed, none is asked) and
# requires exit status 2 and a message that names the value as invalid
# rather than missing. usage: test_cli.sh BIN_DIR
set -u
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/witan-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
# case EXPECTED_STATUS PATTERN -- ARGS...
case_() {
    want=$1 pattern=$2
    shift 3
    out=$("$bin/witan" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ] || ! printf '%s' "$out" | grep -q -- "$pattern"; then
        echo "  FAIL  witan $*: exit $rc (want $want), output: $out"
        fails=$((fails + 1))
    else
        echo "  ok    witan $*: $(printf '%s' "$out" | head -n 1)"
    fi
}
"$bin/witan" keys new --out "$tmp/k.key" >/dev/null
node=tcp://127.0.0.1:1   # nothing listens: a case that asks it fails
case_ 2 "--pubkey 'abcd' is invalid" -- member rotate --key "$tmp/k.key" \
    --address 57730065ee05f5a5449f9400a921f3e39ca7758a --pubkey abcd --node $node
case_ 2 "--pubkey 'abcd' is invalid" -- member add --key "$tmp/k.key" \
    --name x --pubkey abcd --node $node
case_ 2 "--key-type 'rsa' is invalid" -- member add --key "$tmp/k.key" \
    --name x --pubkey abcd --key-type rsa --node $node
case_ 2 "--base-port 65530 is invalid" -- testnet init --validators 4 \
    --dir "$tmp/net" --base-port 65530
case_ 2 "not 'x'" -- testnet init --validators x --dir "$tmp/net2"
case_ 2 "tolerates no faulty validator" -- testnet init --validators 1 \
    --dir "$tmp/net"
case_ 2 "unknown option '--validator'" -- testnet init --validator 4 \
    --dir "$tmp/net"
case_ 2 "unknown option '--jsn'" -- testnet status "$tmp/net" --jsn
case_ 2 "unexpected argument 'b'" -- testnet stop "$tmp/a" b
case_ 2 "DIR is required" -- testnet start
# Positional arguments may follow the options.
case_ 1 "$tmp/nonet holds no testnet" -- testnet status --json "$tmp/nonet"
case_ 0 '"kind":"linear-regression"' -- model show --json tests/fixtures/models/linreg_temp.bin
case_ 1 "cannot reach a node at $node" -- model ask --node $node \
    --key "$tmp/k.key" 4398000000000000000000000000000000000000000000000000000000000000
case_ 2 "not '-1'" -- query block -1 --node $node
case_ 2 "not '12x'" -- query block 12x --node $node
case_ 2 "--model takes 64 hex digits, not '4398'" -- query predictions \
    --model 4398 --node $node
case_ 2 "--account '12' is invalid" -- attest --key "$tmp/k.key" \
    --account 12 --feed a/b --subject s --time 2020-01 --value v=1 --node $node
case_ 2 "unknown option '--nodee'" -- query status --nodee X --bogus
case_ 2 "unknown option '--histroy'" -- query attestations --feed a \
    --subject b --histroy --node $node
case_ 2 "HASH takes 64 hex digits, not 'ab'" -- query tx --node $node ab
addr=57730065ee05f5a5449f9400a921f3e39ca7758a
case_ 2 "unknown option '--typ'" -- keys new --out "$tmp/k2.key" --typ ed25519
case_ 2 "--type 'rsa' is invalid" -- keys new --out "$tmp/k2.key" --type rsa
case_ 2 "unknown option '--jsn'" -- keys show "$tmp/k.key" --jsn
case_ 2 "unknown option '--hom'" -- init --hom "$tmp/home"
case_ 2 "unknown option '--outt'" -- node backup --home "$tmp/a" --outt "$tmp/b"
case_ 2 "unknown option '--rol'" -- member add --key "$tmp/k.key" --name x \
    --pubkey abcd --rol admin --node $node
case_ 2 "--role 'boss' is invalid" -- member grant --key "$tmp/k.key" \
    --address $addr --role boss --node $node
case_ 2 "--address '12' is invalid" -- member remove --key "$tmp/k.key" \
    --address 12 --node $node
case_ 2 "unknown option '--jsonn'" -- member show $addr --jsonn --node $node
case_ 2 "ADDR 'zz' is invalid" -- member show zz --node $node
case_ 2 "unknown option '--tim'" -- attest --key "$tmp/k.key" --feed a/b \
    --subject s --tim 2020-01 --value v=1 --node $node
case_ 2 "not '1x'" -- attest --key "$tmp/k.key" --feed a/b --subject s \
    --time 2020-01 --value v=1 --nonce 1x --node $node
case_ 2 "--value 'v=1x' is invalid" -- attest --key "$tmp/k.key" --feed a/b \
    --subject s --time 2020-01 --value v=1x --node $node
case_ 2 "--corrects takes 64 hex digits, not 'ab'" -- attest --key "$tmp/k.key" \
    --feed a/b --subject s --time 2020-01 --value v=1 --corrects ab --node $node
case_ 2 "--batch 0 is invalid" -- attest --key "$tmp/k.key" --feed a/b \
    --subject s --file "$tmp/none.csv" --columns time,v --batch 0 --node $node
case_ 2 "--time is not taken with --file" -- attest --key "$tmp/k.key" \
    --feed a/b --subject s --file "$tmp/none.csv" --columns time,v \
    --time 2020-01 --node $node
# attest --file checks the whole file before a node is asked (exit 2)
at="attest --key $tmp/k.key --feed a/b --subject s --node $node"
long=$(head -c 6000 /dev/zero | tr '\0' x)
printf 'time,v,w\n2020-01,1x,1\n2020-02\n"2020-03", 1 ,"2x"\nnot-a-time,1,2\n2020-05,%s,3\n' \
    "$long" > "$tmp/bad.csv"
case_ 2 "line 2, column 2 (v): '1x' is not an exact decimal" -- $at \
    --file "$tmp/bad.csv" --columns time,v,w
case_ 2 "line 3: 1 fields, --columns names 3" -- $at --file "$tmp/bad.csv" \
    --columns time,v,w
case_ 2 "line 4, column 3 (w): '2x'" -- $at --file "$tmp/bad.csv" \
    --columns time,v,w
case_ 2 "line 5, column 1 (time): 'not-a-time' is invalid" -- $at \
    --file "$tmp/bad.csv" --columns time,v,w
case_ 2 "line 6, column 2 (v): 'x\\{6000\\}' is not" -- $at \
    --file "$tmp/bad.csv" --columns time,v,w
case_ 2 "5 bad rows; nothing sent" -- $at --file "$tmp/bad.csv" \
    --columns time,v,w
{ echo time,v; i=0; while [ $i -lt 25 ]; do echo "2020-01,x$i"; i=$((i + 1)); done; } \
    > "$tmp/bad25.csv"
case_ 2 "5 more bad rows not named" -- $at --file "$tmp/bad25.csv" --columns time,v
printf 'time,v,extra\n2020-01,1,a\n' > "$tmp/extra.csv"
case_ 1 "column 3 ('extra') is not in --columns: not attested" -- $at \
    --file "$tmp/extra.csv" --columns time,v
printf 'src,time,v\na,2020-01,1\nb,2020-01,2\nc,2020-02,1\n' > "$tmp/twice.csv"
case_ 2 "conflict: lines 2, 3 observe 2020-01-01T00:00:00Z with different" \
    -- $at --file "$tmp/twice.csv" --columns -,time,v
case_ 1 "cannot reach a node" -- $at --file "$tmp/twice.csv" --columns -,time,v \
    --on-conflict last
case_ 2 "--on-conflict 'both' is invalid" -- $at --file "$tmp/twice.csv" \
    --columns -,time,v --on-conflict both
case_ 2 "--on-conflict is not taken with --file\|--on-conflict needs --file" -- \
    $at --time 2020-01 --value v=1 --on-conflict first
case_ 2 "--columns names 'v' twice" -- $at --file "$tmp/twice.csv" \
    --columns time,v,v
case_ 2 "--missing 'w=1' is invalid" -- $at --file "$tmp/twice.csv" \
    --columns -,time,v --missing w=1
case_ 2 "unknown option '--outt'" -- model import "$tmp/x.onnx" --outt "$tmp/y"
case_ 2 "--margin '0x' is invalid" -- model import "$tmp/x.onnx" \
    --out "$tmp/y" --margin 0x
case_ 2 "unknown option '--inputt'" -- model score "$tmp/m.bin" --inputt 1
case_ 2 "unknown option '--versoin'" -- model register "$tmp/m.bin" \
    --key "$tmp/k.key" --name n --versoin 2 --node $node
case_ 2 "not '2x'" -- model register "$tmp/m.bin" --key "$tmp/k.key" \
    --name n --version 2x --node $node
case_ 2 "unknown option '--inptu'" -- model ask \
    4398000000000000000000000000000000000000000000000000000000000000 \
    --key "$tmp/k.key" --inptu 1 --node $node
case_ 2 "unknown option '--jsn'" -- model scorecard n --jsn --node $node
case_ 2 "unknown option '--outt'" -- contract asm "$tmp/a.wvs" --outt "$tmp/b"
case_ 2 "unknown option '--x'" -- contract disasm "$tmp/a.wvm" --x
case_ 2 "unknown option '--entrey'" -- contract run "$tmp/a.wvm" --entrey f
case_ 2 "--gas '1x' is invalid" -- contract run "$tmp/a.wvm" --entry f --gas 1x
case_ 2 "not '10x'" -- query attestations --feed a --subject b --limit 10x \
    --node $node
case_ 2 "not '5y'" -- query predictions --model \
    4398000000000000000000000000000000000000000000000000000000000000 \
    --from 5y --node $node
case_ 1 "--home $tmp/none: .*no node asked" -- query status --home "$tmp/none"
case_ 1 "not found" -- keys show "$tmp/none.key"
echo hello > "$tmp/text" && chmod 644 "$tmp/text"
case_ 1 "not a key file" -- keys show "$tmp/text"
[ -e "$tmp/net" ] && { echo "  FAIL  testnet init wrote $tmp/net"; fails=$((fails + 1)); }
case_ 0 "testnet of 1 validators" -- testnet init --validators 1 --dir "$tmp/one" \
    --allow-no-fault-tolerance
[ -f "$tmp/one/node0/genesis.json" ] ||
    { echo "  FAIL  testnet init --allow-no-fault-tolerance wrote no node0"; fails=$((fails + 1)); }
if [ "$fails" -ne 0 ]; then
    echo "cli: $fails case(s) failed"
    exit 1
fi
echo "cli: every mistake refused"
