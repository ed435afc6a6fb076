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
