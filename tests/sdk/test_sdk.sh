#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Python SDK (sdk/python) against a real chain: four witand validators
# on 127.0.0.1, attestations from an Ed25519 and a secp256k1 member (some
# blocks holding several), the chain exported as an archive; the Python
# verifier must accept it and find the same genesis and tip as the C code,
# and must refuse tampered copies, naming the place: a byte flipped in a
# stored block, a field the spec does not define, a certificate below
# quorum, one with a signer outside the validator set, one with a forged
# signature, a recorded state root the next header does not certify, a
# truncated file, trailing bytes, another genesis. The C verifier (witan
# audit verify --archive) judges the same files, so a disagreement between
# the two shows here.
# Then proofs (spec/proofs.md): the chain registers a model, deploys the
# climate contract and gets a decision from the CO2 rows; `witan audit
# prove` writes proofs of a secp256k1 transaction, of the decision's record
# and its evidence, `witan audit head` two signed heads (checkpoint interval
# 2), node0's HTTP gateway a consistency proof between them. The SDK must
# accept each, saying what C says, and refuse tampered copies naming the
# step (a flipped bit in a path, a record value, results_cert; a proof
# left out of the evidence; a forged head signature; a head below quorum; a
# changed consistency hash; heads of two histories of one genesis: a second
# chain started from a copy of the same homes). C judges the same files.
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
net2=$dir/fork
http=http://127.0.0.1:$((port + 2)) # node0's gateway, between its ports
started=
started2=
failures=0
cleanup() {
    [ -n "$started" ] && "$bin/witan" testnet stop "$net" >/dev/null 2>&1
    [ -n "$started2" ] && "$bin/witan" testnet stop "$net2" >/dev/null 2>&1
    if [ "$failures" -eq 0 ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT INT TERM

verify_py() { "$py" sdk/python/witan-audit.py verify "$@"; }
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; failures=$((failures + 1)); }

echo "== sdk/python: spec/encoding.md's vectors"
"$py" sdk/python/witan-audit.py selftest || bad "selftest"

echo "== a chain of four validators (ports $port..), heads every 2 blocks"
"$bin/witan" testnet init --validators 4 --dir "$net" --base-port "$port" \
    --chain-id sdk-test --checkpoint-interval 2 >/dev/null
key=$net/operator.key
gen=$net/node0/genesis.json
# The same homes again on ports base + 32 .. 39 (node i: 32 + 2i, 33 + 2i):
# the same genesis, validators and keys, another history.
cp -R "$net" "$net2"
for i in 0 1 2 3; do
    for j in 0 1; do
        from=$((port + 10 * i + j)) to=$((port + 32 + 2 * i + j))
        for c in "$net2"/node*/config; do
            sed "s/127\.0\.0\.1:$from\([^0-9]\|\$\)/127.0.0.1:$to\1/g" \
                "$c" > "$c.new" && mv "$c.new" "$c"
        done
    done
done
sed "s|^http_listen = *\$|http_listen = $http|" "$net/node0/config" \
    > "$dir/config" && mv "$dir/config" "$net/node0/config"
grep -q "^http_listen = $http" "$net/node0/config" ||
    bad "node0's config has no http_listen line to set"

wait_up() {
    for i in $(seq 1 100); do
        "$bin/witan" testnet status "$1" >/dev/null 2>&1 && return
        sleep 0.1
    done
}
# head SIZE NODE OUT: the signed head of SIZE blocks once assembled
head_of() {
    for i in $(seq 1 50); do
        "$bin/witan" audit head --size "$1" --node "$2" --out "$3" \
            >/dev/null 2>&1 && return
        sleep 0.1
    done
    bad "no signed head of $1 blocks from $2"
}
"$bin/witan" testnet start "$net2" >/dev/null
started2=1
"$bin/witan" testnet start "$net" >/dev/null
started=1
node=tcp://127.0.0.1:$port
wait_up "$net2"
# the other history: one attestation, its block and the results block
"$bin/witan" attest --node "tcp://127.0.0.1:$((port + 32))" --key "$key" \
    --feed climate/co2/mauna-loa --subject fork --unit ppm --time 2024-01 \
    --value co2=1 --wait >/dev/null
head_of 2 "tcp://127.0.0.1:$((port + 32))" "$dir/fork-head-2.txt"
"$bin/witan" testnet stop "$net2" >/dev/null
started2=
wait_up "$net"
# A model, the climate contract on its predictions, then the CO2 rows:
# predictions above 0.8 degrees three months running make a decision.
model=$("$bin/witan" model register tests/fixtures/models/linreg_temp.bin \
    --node "$node" --key "$key" --name temp \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,year \
    --trigger climate/co2/mauna-loa:mauna-loa \
    --target feed=climate/temp/global,subject=global,value=anomaly \
    --wait | sed -n 's/^model \([0-9a-f]*\).*/\1/p')
"$bin/witan" contract deploy --node "$node" --key "$key" --name review \
    --version 1 --gas 100000 --asm contracts/examples/climate.wvs \
    --model "$model" >/dev/null
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
        --time 2024-$m --value co2=421.$m --wait > "$dir/k1.out"
done
k1tx=$(sed -n 's/^\([0-9a-f]\{64\}\) committed.*/\1/p' "$dir/k1.out")
"$bin/witan" attest --node "$node" --key "$key" --feed climate/co2/mauna-loa \
    --subject mauna-loa --unit ppm --time 2024-01 --value co2=422.8 \
    --wait >/dev/null
sleep 1.5 # the results of the last block, certified in one more
"$bin/witan" audit export --genesis "$gen" --node "$node" \
    --out "$dir/chain.wa" | sed 's/^/  /'
tip=$("$bin/witan" testnet status "$net" | sed -n 's/^node0 *height *[0-9]* *\([0-9a-f]*\).*/\1/p')
# proofs, heads and a consistency proof, while the chain runs
decision=$("$bin/witan" decisions list --node "$node" |
    sed -n 's/^decision \([0-9a-f]*\)$/\1/p' | head -n 1)
[ -n "$decision" ] || bad "the chain made no decision"
"$bin/witan" audit prove "$k1tx" --node "$node" --out "$dir/tx.json" \
    >/dev/null || bad "witan audit prove $k1tx"
"$bin/witan" audit prove --decision "$decision" --node "$node" \
    --out "$dir/decision.json" >/dev/null || bad "witan audit prove --decision"
"$bin/witan" audit prove --decision "$decision" --evidence --node "$node" \
    --out "$dir/evidence.json" >/dev/null ||
    bad "witan audit prove --decision --evidence"
"$bin/witan" audit head --node "$node" --out "$dir/head-latest.txt" >/dev/null
size=$(sed -n 2p "$dir/head-latest.txt")
head_of 2 "$node" "$dir/head-2.txt"
head_of "$size" "$node" "$dir/head-new.txt"
"$py" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read()
                 .decode())' "$http/v1/proofs/consistency?from=2&to=$size" \
    > "$dir/consistency.json" || bad "GET /v1/proofs/consistency from $http"
if "$py" sdk/python/witan-audit.py consistency "$dir/head-2.txt" \
    "$dir/head-new.txt" --genesis "$gen" --http "$http" > "$dir/py.out" 2>&1
then
    ok "consistency of heads 2 and $size, the proof asked of $http"
else
    bad "consistency over HTTP: $(cat "$dir/py.out")"
fi
"$bin/witan" audit consistency "$dir/head-2.txt" "$dir/head-new.txt" \
    --genesis "$gen" --node "$node" > "$dir/c-consistency.out" 2>&1 ||
    bad "C refuses the consistency of heads 2 and $size"
"$bin/witan" audit consistency "$dir/fork-head-2.txt" "$dir/head-new.txt" \
    --genesis "$gen" --node "$node" > "$dir/c-fork.out" 2>&1 &&
    bad "C finds the other history's head consistent with this one"
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

check_py() { "$py" sdk/python/witan-audit.py check "$@"; }

echo "== proofs, evidence and signed heads as they are"
# genuine NAME FILE: both accept it and say the same sentence
genuine() {
    if check_py "$2" --genesis "$gen" > "$dir/py.out" 2>&1; then
        "$bin/witan" audit check "$2" --genesis "$gen" > "$dir/c.out" 2>&1 ||
            bad "$1: the C checker refuses it: $(cat "$dir/c.out")"
        if cmp -s "$dir/py.out" "$dir/c.out"; then
            ok "$1: $(cat "$dir/py.out")"
        else
            bad "$1: Python says \"$(cat "$dir/py.out")\", C says \"$(cat "$dir/c.out")\""
        fi
    else
        bad "$1: the Python checker refuses it: $(cat "$dir/py.out")"
    fi
}
genuine "a secp256k1 transaction" "$dir/tx.json"
genuine "the decision's record" "$dir/decision.json"
genuine "the decision's evidence" "$dir/evidence.json"
genuine "the head of 2 blocks" "$dir/head-2.txt"
genuine "the head of $size blocks" "$dir/head-new.txt"
genuine "the other history's head of 2 blocks" "$dir/fork-head-2.txt"
if "$py" sdk/python/witan-audit.py consistency "$dir/head-2.txt" \
    "$dir/head-new.txt" --genesis "$gen" --proof "$dir/consistency.json" \
    > "$dir/py.out" 2>&1; then
    ok "$(cat "$dir/py.out")"
else
    bad "the consistency proof: $(cat "$dir/py.out")"
fi

echo "== tampered proofs and heads: each refused, the place named"
# refused NAME FILE TEXT [GENESIS]: both refuse FILE; Python's message
# holds TEXT
refused() {
    g=${4:-$gen}
    if check_py "$2" --genesis "$g" > "$dir/py.out" 2>&1; then
        bad "$1: the Python checker accepts it"
    elif grep -q -- "$3" "$dir/py.out"; then
        ok "$1: $(cat "$dir/py.out")"
    else
        bad "$1: expected \"$3\" in: $(cat "$dir/py.out")"
    fi
    "$bin/witan" audit check "$2" --genesis "$g" > "$dir/c.out" 2>&1 &&
        bad "$1: the C checker accepts it"
    return 0
}
tp() { "$py" tests/sdk/tamper_proof.py "$dir/$1" "$dir/$3" "$2"; }
tp decision.json tx-path t-tx-path.json
refused "a bit of tx_path" "$dir/t-tx-path.json" \
    "step 7 (the transaction): tx_path does not lead"
tp decision.json receipts-path t-receipts-path.json
refused "a bit of receipts_path" "$dir/t-receipts-path.json" \
    "step 6 (the receipt): receipts_path does not lead"
tp decision.json value t-value.json
refused "a bit of the record's value" "$dir/t-value.json" \
    "step 8 (the record): its record hash .* is not among"
tp tx.json results-cert t-cert.json
refused "a bit of results_cert" "$dir/t-cert.json" \
    "step 4 (results_cert): .*signature of validator . (.*) does not verify"
n=$(tp evidence.json evidence-path t-ev-path.json)
refused "a bit of a path in proof $n of the evidence" \
    "$dir/t-ev-path.json" "proof $n of the evidence, step 6 (the receipt)"
tp evidence.json evidence-drop t-ev-drop.json
refused "the model's registration left out of the evidence" \
    "$dir/t-ev-drop.json" "evidence: no proof of the model's registration"
tp head-new.txt head-forge t-forged.txt
refused "a forged head signature" "$dir/t-forged.txt" \
    "the signature of sdk-test/1 (validator 1, .*) does not verify"
tp head-new.txt head-weak t-weak.txt
refused "a head signed by 2 of 4" "$dir/t-weak.txt" \
    "signed by 2 distinct validator(s); a quorum is 3 of 4"
tp head-new.txt head-witness t-witness.txt
genuine "a head with a witness's line added" "$dir/t-witness.txt"
refused "a head against another chain's genesis" "$dir/head-2.txt" \
    "origin .* is not this genesis's" "$dir/other.json"
refused "a proof against another chain's genesis" "$dir/tx.json" \
    "step 1 (version, chain and genesis): genesis_hash" "$dir/other.json"
tp consistency.json hash t-consistency.json
# inconsistent NAME OLD NEW PROOF TEXT: Python refuses, naming TEXT
inconsistent() {
    if "$py" sdk/python/witan-audit.py consistency "$2" "$3" \
        --genesis "$gen" --proof "$4" > "$dir/py.out" 2>&1; then
        bad "$1: the Python checker accepts it"
    elif grep -q -- "$5" "$dir/py.out"; then
        ok "$1: $(cat "$dir/py.out")"
    else
        bad "$1: expected \"$5\" in: $(cat "$dir/py.out")"
    fi
}
inconsistent "a consistency proof with one hash changed" "$dir/head-2.txt" \
    "$dir/head-new.txt" "$dir/t-consistency.json" \
    "does not show the signed history of 2 blocks .* to be a prefix"
inconsistent "heads of two histories from one genesis (a fork)" \
    "$dir/fork-head-2.txt" "$dir/head-new.txt" "$dir/consistency.json" \
    "does not show the signed history of 2 blocks .* to be a prefix"
grep -q . "$dir/c-fork.out" && ok "C on the fork: $(cat "$dir/c-fork.out")"

if [ "$failures" -ne 0 ]; then
    echo "sdk/python: $failures check(s) failed"
    exit 1
fi
echo "sdk/python: every check holds"
