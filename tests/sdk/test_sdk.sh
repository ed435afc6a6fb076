#!/bin/sh
# The Python SDK (sdk/python) against a real chain: four witand validators
# on 127.0.0.1, attestations from an Ed25519 and a secp256k1 member (some
# blocks holding several), the chain exported as an archive; the Python
# verifier must accept it and find the same genesis and tip as the C code,
# and must refuse tampered copies, naming the place: a byte flipped in a
# stored block, a field the spec does not define, a certificate below
# quorum, one with a signer outside the validator set, one with a forged
# signature, a recorded state root the next header does not certify, a
# truncated file, trailing bytes, another genesis. The C verifier (witan audit verify --archive) judges the same
# files, so a disagreement between the two shows here.
#   usage: test_sdk.sh BIN_DIR      (PYTHON: the interpreter, /usr/bin/python3)
set -eu
bin=$1
py=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
dir=$(mktemp -d "${TMPDIR:-/tmp}/witan-sdk.XXXXXX")
# Ports 10000-11999, keyed by the pid: below the ephemeral range and apart
# from the other tests' ranges; four nodes take base .. base + 31.
port=$((10000 + ($$ % 39) * 50))
net=$dir/net
started=
failures=0
cleanup() {
    [ -n "$started" ] && "$bin/witan" testnet stop "$net" >/dev/null 2>&1
    if [ "$failures" -eq 0 ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT INT TERM

verify_py() { "$py" sdk/python/witan-audit.py verify "$@"; }
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; failures=$((failures + 1)); }

echo "== sdk/python: spec/encoding.md's vectors"
"$py" sdk/python/witan-audit.py selftest || bad "selftest"

echo "== a chain of four validators (ports $port..)"
"$bin/witan" testnet init --validators 4 --dir "$net" --base-port "$port" \
    --chain-id sdk-test >/dev/null
"$bin/witan" testnet start "$net" >/dev/null
started=1
node=tcp://127.0.0.1:$port
key=$net/operator.key
gen=$net/node0/genesis.json
for i in $(seq 1 100); do
    "$bin/witan" testnet status "$net" >/dev/null 2>&1 && break
    sleep 0.1
done
# twelve months in one submission: blocks with several transactions
{ head -n 1 tests/fixtures/data/co2-mm-mlo.csv
  grep '^2015-' tests/fixtures/data/co2-mm-mlo.csv; } > "$dir/co2.csv"
"$bin/witan" attest --node "$node" --key "$key" --feed climate/co2/mauna-loa \
    --subject mauna-loa --unit ppm --file "$dir/co2.csv" --columns \
    time,-,co2,co2_deseasonalised,days,stddev,uncertainty \
    --missing days=-1,stddev=-9.99,uncertainty=-0.99 --wait >/dev/null
"$bin/witan" keys new --out "$dir/k1.key" --type secp256k1 >/dev/null
k1=$("$bin/witan" keys show "$dir/k1.key" | sed -n 's/^pubkey: *//p')
"$bin/witan" member add --node "$node" --key "$key" --name station-k1 \
    --key-type secp256k1 --pubkey "$k1" --role data_provider --wait >/dev/null
for m in 01 02; do
    "$bin/witan" attest --node "$node" --key "$dir/k1.key" \
        --feed climate/co2/mauna-loa --subject k1 --unit ppm \
        --time 2024-$m --value co2=421.$m --wait >/dev/null
done
"$bin/witan" attest --node "$node" --key "$key" --feed climate/co2/mauna-loa \
    --subject mauna-loa --unit ppm --time 2024-01 --value co2=422.8 \
    --wait >/dev/null
sleep 1.5 # the results of the last block, certified in one more
"$bin/witan" audit export --genesis "$gen" --node "$node" \
    --out "$dir/chain.wa" | sed 's/^/  /'
tip=$("$bin/witan" testnet status "$net" | sed -n 's/^node0 *height *[0-9]* *\([0-9a-f]*\).*/\1/p')
"$bin/witan" testnet stop "$net" >/dev/null
started=

echo "== the archive as it is"
if verify_py --archive "$dir/chain.wa" --genesis "$gen" > "$dir/py.out" 2>&1
then
    sed 's/^/  /' "$dir/py.out"
    ok "the Python verifier accepts it"
else
    sed 's/^/  /' "$dir/py.out"
    bad "the Python verifier refuses the archive"
fi
"$bin/witan" audit verify --archive "$dir/chain.wa" --genesis "$gen" \
    > "$dir/c.out" 2>&1 || bad "the C verifier refuses the archive"
# the same genesis hash and tip as the C code
cgen=$(sed -n 's/.*(genesis \([0-9a-f]*\)).*/\1/p' "$dir/c.out")
grep -q "genesis $cgen" "$dir/py.out" && ok "genesis hash $cgen, as C" ||
    bad "genesis hash differs from C's ($cgen)"
grep -q "tip $tip" "$dir/py.out" && ok "tip $tip, as the nodes report" ||
    bad "tip differs from node0's ($tip)"
grep -q "secp256k1" "$dir/py.out" && ok "secp256k1 signatures verified" ||
    bad "no secp256k1 signature counted"

# expect NAME FILE TEXT [GENESIS]: both verifiers refuse FILE; Python's
# message holds TEXT.
expect() {
    name=$1 file=$2 text=$3 g=${4:-$gen}
    if verify_py --archive "$file" --genesis "$g" > "$dir/py.out" 2>&1; then
        bad "$name: the Python verifier accepts it"
    elif grep -q -- "$text" "$dir/py.out"; then
        ok "$name: $(cat "$dir/py.out")"
    else
        bad "$name: expected \"$text\" in: $(cat "$dir/py.out")"
    fi
    if "$bin/witan" audit verify --archive "$file" --genesis "$g" \
        > "$dir/c.out" 2>&1; then
        echo "  NOTE  $name: the C verifier accepts it (see spec/audit.md)"
    fi
}
tamper() { "$py" tests/sdk/tamper.py "$dir/chain.wa" "$dir/$1.wa" "$1"; }

echo "== tampered copies: each refused, the place named"
h=$(tamper flip)
expect "a byte flipped in block $h" "$dir/flip.wa" \
    "block $h: transaction .* signature does not verify"
h=$(tamper weak-cert)
expect "block $h's certificate below quorum" "$dir/weak-cert.wa" \
    "block $h: the archive's certificate: signers are below quorum"
h=$(tamper foreign-cert)
expect "block $h's certificate with a signer outside the set" \
    "$dir/foreign-cert.wa" "block $h: the archive's certificate: signer 4 is outside"
h=$(tamper forged-sig)
expect "block $h's certificate with a forged signature" "$dir/forged-sig.wa" \
    "block $h: the archive's certificate: signature of validator . (.*) does not verify"
h=$(tamper root)
expect "block $h's recorded state root changed" "$dir/root.wa" \
    "block $((h + 1)): results_state_root: the archive's state root of block $h"
h=$(tamper unknown-field)
expect "block $h with a field the spec does not define" \
    "$dir/unknown-field.wa" "block $h: the block carries a field"
h=$(tamper truncate)
expect "the file cut short in block $h's record" "$dir/truncate.wa" \
    "record of block $h, receipts root: the file ends"
h=$(tamper trailing)
expect "a byte after the last record" "$dir/trailing.wa" \
    "bytes follow the $h records"
sed 's/"genesis_time_ms": \([0-9]*\)/"genesis_time_ms": 1\1/' "$gen" \
    > "$dir/other.json"
expect "another chain's genesis" "$dir/chain.wa" \
    "the archive's genesis is not the trusted one" "$dir/other.json"

if [ "$failures" -ne 0 ]; then
    echo "sdk/python: $failures check(s) failed"
    exit 1
fi
echo "sdk/python: every check holds"
