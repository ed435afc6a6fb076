#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's command examples, run as written: every indented line of
# README.md that starts with `witan`, `witand` or `curl` (continuation
# lines joined, trailing `# comments` dropped), in the README's order,
# with HOME a fresh folder (so ~/witan-node is a new node home) and the
# files the examples name (tests/..., contracts/...) reachable from the
# folder they run in. What the test changes, and only that:
#   - ports: the node of ~/witan-node listens on P (README: 7400), its
#     gateway on P+1 (7480), the testnet's base port is P+10, and
#     tcp://validator:7400 is that node;
#   - placeholders the README leaves to the reader: <hex> (a new key's
#     public key), <hash> and <model hash> after --model (the registered
#     model), <id> (the deployed contract), <decision id> and ID (a decision
#     it made), <hash> of `query tx` and TX_HASH (the attestation's
#     transaction), genesis.json (~/witan-node's), copy-of-HOME (a backup
#     of its database), old-head.txt (an earlier signed head) and
#     old-sets.json (its set chain);
#   - steps between examples that a reader would take: waiting for witand
#     to answer after starting it, a second attestation that triggers the
#     model so that the contract decides, and genesis checkpoints every 2
#     blocks so that signed heads exist in a short run.
# Each example must exit 0 (or N, when its comment says "exits N"). usage: test_readme.sh BIN_DIR (from the source
# root). Ports 1500-1949 (WITAN_TEST_PORT gives another base): below every
# other test's and below Linux's ephemeral ports (32768-60999), which
# connections, the nodes' own included, take at random.
set -u
root=$(pwd)
bin=$(cd "$1" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/witan-readme.XXXXXX")
. "$(dirname "$0")/ports.sh"
lo=${WITAN_TEST_PORT:-1500}
span=${WITAN_TEST_PORT:+950}
span=${span:-450}
P=$((lo + ($$ % (span / 50)) * 50))
# Another base when something holds one of ours (at most a few tries).
for _ in 1 2 3 4 5 6 7 8; do
    ports_free "$P" 50 && break
    P=$((lo + (P - lo + 350) % span))
done
H=$((P + 1))
Q=$((P + 10))
export HOME="$tmp/home" PATH="$bin:$PATH"
mkdir -p "$HOME" "$tmp/cwd"
for d in tests contracts sdk; do ln -s "$root/$d" "$tmp/cwd/$d"; done
cd "$tmp/cwd" || exit 1
fails=0
runs=0
witand_pid=
cleanup() {
    [ -n "$witand_pid" ] && kill "$witand_pid" 2>/dev/null
    witan testnet stop "$HOME/witan-net" >/dev/null 2>&1
    cd "$root" || true
    if [ "$fails" -eq 0 ]; then rm -rf "$tmp"; else echo "  kept $tmp"; fi
}
trap cleanup EXIT
fail() {
    echo "  FAIL  $*"
    fails=$((fails + 1))
}

# The examples, one per line.
awk '
    /^    (witan|witand|curl) / || cont {
        line = substr($0, 5)
        sub(/^ +/, "", line)
        if (cont) cmd = cmd " " line; else cmd = line
        if (line ~ /\\$/) { sub(/ *\\$/, "", cmd); cont = 1; next }
        cont = 0
        want = 0
        if (match(cmd, / +# exits [0-9]+/))
            want = substr(cmd, RSTART, RLENGTH)
        sub(/ +# .*$/, "", cmd)
        gsub(/[^0-9]/, "", want)
        print (want + 0) "\t" cmd
    }' "$root/README.md" > "$tmp/examples"
[ -s "$tmp/examples" ] || { fail "no examples found in README.md"; exit 1; }

# What one README line becomes here (ports and placeholders only).
rewrite() {
    printf '%s\n' "$1" | sed \
        -e "s|tcp://validator:7400|tcp://127.0.0.1:$P|g" \
        -e "s|--base-port 7400|--base-port $Q|g" \
        -e "s|127.0.0.1:7480|127.0.0.1:$H|g" \
        -e "s|--genesis genesis.json|--genesis $HOME/witan-node/genesis.json|g" \
        -e "s|copy-of-HOME|$tmp/copy-of-HOME|g" \
        -e "s|<hex>|${PUB:-}|g" \
        -e "s|<model hash>|${MODEL:-}|g" \
        -e "s|--model <hash>|--model ${MODEL:-}|g" \
        -e "s|query tx <hash>|query tx ${TX:-}|g" \
        -e "s|TX_HASH|${TX:-}|g" \
        -e "s|<decision id>|${DECISION:-}|g" \
        -e "s|--decision ID|--decision ${DECISION:-}|g" \
        -e "s|<id>|${CONTRACT:-}|g"
}

# Steps before an example (a reader's preparation).
before() {
    case "$1" in
    "witan member add"*)
        PUB=$(witan keys new --out "$tmp/noaa.key" --json |
            sed 's/.*"pubkey":"\([0-9a-f]*\)".*/\1/') ;;
    "witan audit verify --genesis genesis.json --from"*)
        mkdir -p "$tmp/copy-of-HOME"
        witan node backup --home "$HOME/witan-node" \
            --out "$tmp/copy-of-HOME/data" >/dev/null ||
            fail "backing up for the --from example" ;;
    "witan audit consistency"*)
        witan audit head --size 2 --out old-head.txt \
            --sets-out old-sets.json --home "$HOME/witan-node" >/dev/null ||
            fail "an earlier head for the consistency example" ;;
    esac
}

# Steps after an example, and what its output names.
after() {
    case "$1" in
    "witan init --home ~/witan-node"*)
        sed -i -e "s|^listen = .*|listen = tcp://127.0.0.1:$P|" \
            -e "s|^http_listen = .*|http_listen = http://127.0.0.1:$H|" \
            "$HOME/witan-node/config"
        sed -i 's/"checkpoint_interval": 100/"checkpoint_interval": 2/' \
            "$HOME/witan-node/genesis.json" ;;
    "witand --home ~/witan-node &")
        for _ in $(seq 1 100); do
            witan query status --home "$HOME/witan-node" >/dev/null 2>&1 &&
                break
            sleep 0.1
        done ;;
    "witan attest "*)
        TX=${TX:-$(sed -n 's/^\([0-9a-f]\{64\}\) committed.*/\1/p' "$tmp/out")} ;;
    "witan model register "*)
        MODEL=$(sed -n 's/^model \([0-9a-f]\{64\}\)$/\1/p' "$tmp/out") ;;
    "witan contract deploy "*"--name warm "*)
        CONTRACT=$(sed -n 's/^contract \([0-9a-f]\{64\}\)$/\1/p' "$tmp/out")
        # A new reading triggers the model; the contract decides on it.
        witan attest --home "$HOME/witan-node" \
            --key "$HOME/witan-node/operator.key" \
            --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
            --time 2024-02 --value co2=430 --wait >/dev/null ||
            fail "the attestation that triggers the model"
        DECISION=$(witan decisions list --home "$HOME/witan-node" --json |
            sed -n 's/.*"decisions":\[{"id":"\([0-9a-f]*\)".*/\1/p')
        [ -n "$DECISION" ] || fail "the contract made no decision" ;;
    "witan contract deploy "*)
        CONTRACT=$(sed -n 's/^contract \([0-9a-f]\{64\}\)$/\1/p' "$tmp/out") ;;
    esac
}

tab=$(printf '\t')
while IFS= read -r entry; do
    want=${entry%%"$tab"*}
    line=${entry#*"$tab"}
    case "$line" in
    curl*) command -v curl >/dev/null || { echo "  skip  $line (no curl)"; continue; } ;;
    esac
    before "$line"
    cmd=$(rewrite "$line")
    runs=$((runs + 1))
    case "$cmd" in
    *" &")
        # exec: $! is the daemon itself, and its log is its own file.
        eval "exec ${cmd% &}" >"$tmp/daemon.log" 2>&1 </dev/null &
        witand_pid=$!
        rc=0 ;;
    *)
        eval "$cmd" >"$tmp/out" 2>&1 </dev/null
        rc=$? ;;
    esac
    # curl -s prints nothing about a refusal: the answer's own status.
    case "$cmd" in
    curl*) grep -q '"error"' "$tmp/out" && rc=22 ;;
    esac
    # An example whose comment says "exits N" shows a refusal on purpose.
    if [ "$rc" -ne "$want" ]; then
        fail "$line: exit $rc: $(head -c 600 "$tmp/out")"
    else
        echo "  ok    $line"
    fi
    after "$line"
done < "$tmp/examples"

echo "test_readme: $runs examples, $fails failed"
[ "$fails" -eq 0 ]
