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
# left out, a head checked without its set chain.
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

if [ "$failures" -ne 0 ]; then
    echo "test_sets: $failures failure(s)"
    exit 1
fi
echo "test_sets: all held"
