#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Proofs and signed heads across validator-set changes (spec/proofs.md,
# "Validator-set changes"), checked by both implementations, C (witan
# audit check) and the Python SDK, from files a five-validator chain wrote
# after three changes by governance (a validator removed, added back, a
# key rotated: tests/fixtures/sets/, see its README.md). No process, no
# port. Both must accept the proof and the head (with its set chain), with
# the same sentence, and refuse tampered copies: a byte of a set, a change
# left out, the changes dropped (version 1), a change of the set chain
# left out, a head checked without its set chain. Then an archive across
# changes, verified by both (the SDK with its set chain), and refused
# without it, with a set left out or altered, or a signature altered.
#   usage: test_sets.sh BIN_DIR      (PYTHON: the interpreter, /usr/bin/python3)
set -eu
bin=$1
py=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
fx=tests/fixtures/sets
gen=$fx/genesis.json
dir=$(mktemp -d "${TMPDIR:-/tmp}/witan-sets.XXXXXX")
failures=0
cleanup() {
    if [ "$failures" -eq 0 ]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT INT TERM
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; failures=$((failures + 1)); }

# genuine NAME FILE [SETS]: both accept, with one sentence
genuine() {
    sets=${3:+--sets $3}
    # shellcheck disable=SC2086
    if ! "$bin/witan" audit check "$2" --genesis "$gen" $sets \
        > "$dir/c.out" 2>&1; then
        bad "$1: C refuses it: $(cat "$dir/c.out")"
        return 0
    fi
    # shellcheck disable=SC2086
    if ! "$py" sdk/python/witan-audit.py check "$2" --genesis "$gen" $sets \
        > "$dir/py.out" 2>&1; then
        bad "$1: Python refuses it: $(cat "$dir/py.out")"
        return 0
    fi
    if cmp -s "$dir/c.out" "$dir/py.out"; then
        ok "$1: $(cat "$dir/c.out")"
    else
        bad "$1: C says $(cat "$dir/c.out"), Python $(cat "$dir/py.out")"
    fi
}

# refused NAME FILE C_TEXT PY_TEXT [SETS]: both refuse, naming the place
refused() {
    sets=${5:+--sets $5}
    # shellcheck disable=SC2086
    if "$bin/witan" audit check "$2" --genesis "$gen" $sets \
        > "$dir/c.out" 2>&1; then
        bad "$1: C accepts it"
    elif ! grep -q -- "$3" "$dir/c.out"; then
        bad "$1: C: expected \"$3\" in: $(cat "$dir/c.out")"
    else
        ok "$1 (C): $(cat "$dir/c.out")"
    fi
    # shellcheck disable=SC2086
    if "$py" sdk/python/witan-audit.py check "$2" --genesis "$gen" $sets \
        > "$dir/py.out" 2>&1; then
        bad "$1: Python accepts it"
    elif ! grep -q -- "$4" "$dir/py.out"; then
        bad "$1: Python: expected \"$4\" in: $(cat "$dir/py.out")"
    else
        ok "$1 (Python): $(cat "$dir/py.out")"
    fi
}

# edit IN OUT HOW: a tampered copy of a JSON file (validator_changes)
edit() {
    "$py" - "$1" "$2" "$3" <<'EOF'
import base64, json, sys
src, dst, how = sys.argv[1:]
doc = json.load(open(src))
ch = doc["validator_changes"]
if how == "set-byte":
    b = bytearray(base64.b64decode(ch[1]["validator_set"]))
    b[5] ^= 1
    ch[1]["validator_set"] = base64.b64encode(bytes(b)).decode()
elif how == "drop-1":
    del ch[1]
elif how == "drop-all":
    del doc["validator_changes"]
    doc["version"] = 1
json.dump(doc, open(dst, "w"), indent=2)
EOF
}

echo "== proofs and heads across three validator-set changes"
genuine "a proof after the changes" "$fx/proof.json"
genuine "a head after the changes, with its set chain" "$fx/head.txt" \
    "$fx/sets.json"
genuine "the same head, the proof's changes as its set chain" \
    "$fx/head.txt" "$fx/proof.json"
refused "the head without its set chain" "$fx/head.txt" \
    "signed by 0 of 5" "signed by 0 distinct validator(s)"
edit "$fx/proof.json" "$dir/t-set.json" set-byte
refused "a byte of a set in the proof" "$dir/t-set.json" \
    "validator_changes\[1\]: validator_set: its hash is not" \
    "step 3 (the validator sets): validator_changes\[1\]: validator_set: its hash is not"
edit "$fx/proof.json" "$dir/t-drop.json" drop-1
refused "a change left out of the proof" "$dir/t-drop.json" \
    "validator_changes\[1\]: cert: block" \
    "step 3 (the validator sets): validator_changes\[1\]: cert: block"
edit "$fx/proof.json" "$dir/t-v1.json" drop-all
refused "the changes dropped (version 1)" "$dir/t-v1.json" \
    "results_cert:" "step 4 (results_cert)"
edit "$fx/sets.json" "$dir/t-sets.json" drop-1
refused "a change left out of the head's set chain" "$fx/head.txt" \
    "the set chain: validator_changes\[1\]: cert" \
    "the set chain: validator_changes\[1\]: cert" "$dir/t-sets.json"

# Two heads with a set chain each (consistency --old-sets): a side that
# does not hold is refused before any comparison or node (none runs here).
if "$bin/witan" audit consistency "$fx/head.txt" "$fx/head.txt" \
    --genesis "$gen" --sets "$fx/sets.json" --old-sets "$dir/t-sets.json" \
    --node tcp://127.0.0.1:1 > "$dir/c.out" 2>&1; then
    bad "consistency, the older set chain with a change left out: accepted"
elif ! grep -q "does NOT hold: the set chain: validator_changes\[1\]" \
    "$dir/c.out"; then
    bad "consistency, the older set chain with a change left out: $(cat "$dir/c.out")"
else
    ok "consistency, the older set chain with a change left out (C): $(cat "$dir/c.out")"
fi

# An archive across the same kind of changes (another run: its own
# genesis, tests/fixtures/sets/archive/README.md). The C auditor
# re-executes and finds the sets in state; the SDK takes them from a set
# chain and holds each to the next_validators_hash a header of the archive
# names.
ax=$fx/archive
echo "== an archive across three validator-set changes"
if "$bin/witan" audit verify --archive "$ax/chain.archive" \
    --genesis "$ax/genesis.json" --work "$dir/work" > "$dir/c.out" 2>&1; then
    ok "archive (C): $(tail -n 1 "$dir/c.out")"
else
    bad "archive: C refuses it: $(cat "$dir/c.out")"
fi
# verify_py ARCHIVE [SETS]: the SDK's verify; its output in py.out
verify_py() {
    sets=${2:+--sets $2}
    # shellcheck disable=SC2086
    "$py" sdk/python/witan-audit.py verify --archive "$1" \
        --genesis "$ax/genesis.json" $sets > "$dir/py.out" 2>&1
}
if verify_py "$ax/chain.archive" "$ax/sets.json" &&
    grep -q "validator sets: 3 change(s), in force from 17, 33, 57" \
        "$dir/py.out"; then
    ok "archive with its set chain (Python): $(tail -n 1 "$dir/py.out")"
else
    bad "archive with its set chain (Python): $(cat "$dir/py.out")"
fi
# py_refused NAME ARCHIVE TEXT [SETS]
py_refused() {
    if verify_py "$2" "${4:-}"; then
        bad "$1: Python accepts it"
    elif ! grep -q -- "$3" "$dir/py.out"; then
        bad "$1: Python: expected \"$3\" in: $(cat "$dir/py.out")"
    else
        ok "$1 (Python): $(cat "$dir/py.out")"
    fi
}
py_refused "the archive without its set chain" "$ax/chain.archive" \
    "FAILED at block 17: block 17 is certified by the validator set block 16 names"
edit "$ax/sets.json" "$dir/a-drop.json" drop-1
py_refused "the archive, a change left out of its set chain" \
    "$ax/chain.archive" \
    "FAILED at block 33: block 33 is certified by the validator set block 32" \
    "$dir/a-drop.json"
edit "$ax/sets.json" "$dir/a-set.json" set-byte
py_refused "the archive, a byte of a set changed" "$ax/chain.archive" \
    "FAILED at block 33: block 33 is certified by the validator set block 32" \
    "$dir/a-set.json"
py_refused "the archive, another chain's sets" "$ax/chain.archive" \
    "FAILED at block 17: block 17 is certified by the validator set block 16" \
    "$fx/sets.json"
# The last block's certificate (by the set in force from 57), one
# signature byte changed: both refuse it.
"$py" - "$ax/chain.archive" "$dir/a-sig.archive" <<'EOF'
import sys
sys.path.insert(0, "tests/sdk")
from tamper import join, parse  # noqa: E402
head, _, records = parse(open(sys.argv[1], "rb").read())
cert = bytearray(records[-1][1])
cert[-1] ^= 1
records[-1][1] = bytes(cert)
open(sys.argv[2], "wb").write(join(head, records))
EOF
py_refused "the archive, a signature of the last set changed" \
    "$dir/a-sig.archive" \
    "FAILED at block 65: the archive's certificate: signature of validator" \
    "$ax/sets.json"
if "$bin/witan" audit verify --archive "$dir/a-sig.archive" \
    --genesis "$ax/genesis.json" --work "$dir/work2" > "$dir/c.out" 2>&1; then
    bad "the archive, a signature of the last set changed: C accepts it"
elif ! grep -q "block 65 does not hold: certificate signature" "$dir/c.out"
then
    bad "the archive, a signature of the last set changed: C: $(cat "$dir/c.out")"
else
    ok "the archive, a signature of the last set changed (C): $(grep "block 65" "$dir/c.out")"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_sets: $failures failure(s)"
    exit 1
fi
echo "test_sets: all held"
