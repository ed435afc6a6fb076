#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make demo: the whole story of Witan in well under a minute.
#
#   1. four validators start from one genesis, on 127.0.0.1, in a temporary
#      folder;
#   2. the consortium's admin admits three members, each with its own key:
#      two data providers (NOAA GML for CO2 at Mauna Loa, NOAA NCEI for the
#      global temperature) and a model operator (climate-lab);
#   3. climate-lab registers the climate model and deploys the decision
#      contract that acts on its predictions;
#   4. the providers attest the real monthly records (NOAA's whole Mauna Loa
#      CO2 series up to 2025, the gcag temperature anomaly: no subset is
#      needed, the demo takes about 10 s on 2 cores), the ledger scores
#      the model on every reading, the contract records decisions, the
#      observed temperatures score the model (its scorecard); all four
#      validators must list the same decisions (`decisions list --json`,
#      compared byte for byte), or the demo fails;
#   5. one validator is killed (kill -9) and the chain goes on with three of
#      four: the 2026 CO2 readings and a correction are attested and new
#      blocks commit;
#   6. an auditor exports the chain to one archive, verifies the whole
#      history offline from it, proves one decision with its whole chain of
#      evidence and checks that proof with the genesis alone.
#
# The network is stopped and the temporary folder removed on every exit,
# failure and Ctrl-C included. set -eu: any step that fails ends the demo
# with a non-zero status.
#   usage: demo.sh BIN_DIR
set -eu
bin=$1
co2=tests/fixtures/data/co2-mm-mlo.csv
temp=tests/fixtures/data/global-temp-monthly.csv
net=$(mktemp -d "${TMPDIR:-/tmp}/witan-demo.XXXXXX")
port=$((17000 + ($$ % 100) * 50))
tn=$net/testnet
started=
cleanup() {
    status=$?
    trap - EXIT INT TERM
    if [ -n "$started" ]; then
        "$bin/witan" testnet stop "$tn" >/dev/null 2>&1 || true
    fi
    rm -rf "$net"
    [ "$status" = 0 ] || printf '\ndemo FAILED (exit %s)\n' "$status" >&2
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

witan() { "$bin/witan" "$@"; }
# Runs witan with its output kept in $out for a filter to read: a pipe
# (witan ... | head) would hide witan's exit status from set -e.
out=$net/out
keep() { "$bin/witan" "$@" > "$out"; }
step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }

# Wait until node $1's mempool is empty (its transactions are in blocks).
drain() {
    for i in $(seq 1 300); do
        keep query status --home "$1" --json
        pending=$(sed 's/.*"mempool_count":\([0-9]*\).*/\1/' "$out")
        [ "$pending" = 0 ] && return 0
        sleep 0.1
    done
    echo "the mempool of $1 did not empty in 30 s" >&2
    return 1
}
height_of() {
    keep query status --home "$1" --json
    sed 's/.*"height":"\([0-9]*\)".*/\1/' "$out"
}

step "four validators, one genesis"
keep testnet init --validators 4 --dir "$tn" --base-port "$port" \
    --chain-id witan-demo
head -n 3 "$out"
genesis=$tn/node0/genesis.json   # the file an auditor trusts
admin=$tn/operator.key           # the consortium's admin: every role
witan testnet start "$tn" >/dev/null
started=1
for i in $(seq 1 100); do
    witan testnet status "$tn" >/dev/null 2>&1 && break
    sleep 0.1
done
witan testnet status "$tn"

# Clients talk to node1 until the end; node0 is the one that will be killed.
home=$tn/node1

step "the admin admits three members, each with a key of its own"
member() { # NAME ROLE...
    name=$1; shift
    witan keys new --out "$net/$name.key" >/dev/null
    keep keys show "$net/$name.key" --json
    pub=$(sed 's/.*"pubkey":"\([0-9a-f]*\)".*/\1/' "$out")
    addr=$(sed 's/.*"address":"\([0-9a-f]*\)".*/\1/' "$out")
    roles=
    for r in "$@"; do roles="$roles --role $r"; done
    # shellcheck disable=SC2086
    witan member add --home "$home" --key "$admin" --name "$name" \
        --pubkey "$pub" $roles --wait >/dev/null
    printf '   %-12s %s  %s\n' "$name" "$addr" "$*"
}
member noaa-gml data_provider                          # CO2 at Mauna Loa
member noaa-ncei data_provider                         # global temperature
member climate-lab model_operator contract_operator    # model and contract
gml=$net/noaa-gml.key
ncei=$net/noaa-ncei.key
lab=$net/climate-lab.key

step "climate-lab registers the model: temperature anomaly from CO2 and year"
model=tests/fixtures/models/linreg_temp.bin
keep model show "$model"
head -n 2 "$out"
witan model register "$model" --home "$home" --key "$lab" \
    --name temperature-from-co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,year \
    --trigger climate/co2/mauna-loa:mauna-loa \
    --target feed=climate/temp/global,subject=global,value=anomaly \
    --wait >/dev/null
keep model list --home "$home"
hash=$(cut -c1-64 "$out")
say "registered as model $hash"

step "climate-lab deploys the decision contract (contracts/examples/climate.wcl)"
sed -n '5,12p' contracts/examples/climate.wcl
keep contract deploy contracts/examples/climate.wcl --home "$home" \
    --key "$lab" --name emissions-review --version 1 --gas 100000 \
    --model "$hash"
contract=$(sed -n 's/^contract \([0-9a-f]*\).*/\1/p' "$out")
keep contract show "$contract" --home "$home"
head -n 4 "$out"
say "anyone can check that the module running is built from that source:"
keep audit source "$contract" --home "$home"
tail -n 1 "$out"

# The 2026 readings are held back: they are attested after a validator dies.
step "noaa-gml attests the monthly Mauna Loa CO2 series, 1958-03 to 2025-12"
say "each reading triggers the model on every validator; the contract acts"
say "on its predictions"
before=$net/co2-to-2025.csv
after=$net/co2-2026.csv
head -n 1 "$co2" | tee "$before" > "$after"
grep -v '^2026-' "$co2" | tail -n +2 >> "$before"
grep '^2026-' "$co2" >> "$after"
witan attest --home "$home" --key "$gml" \
    --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
    --file "$before" \
    --columns time,-,co2,co2_deseasonalised,days,stddev,uncertainty \
    --missing days=-1,stddev=-9.99,uncertainty=-0.99
drain "$home"

step "noaa-ncei attests the observed global temperature anomaly (NOAA gcag)"
temps=$net/gcag.csv
{ head -n 1 "$temp"
  grep '^gcag,' "$temp" | awk -F, '$2 >= "1958-03"'; } > "$temps"
witan attest --home "$home" --key "$ncei" \
    --feed climate/temp/global --subject global --unit degC \
    --file "$temps" --columns -,time,anomaly
drain "$home"

step "the model's scorecard: each prediction against the observed anomaly"
witan model scorecard temperature-from-co2 --home "$home"

step "the contract's decisions"
keep decisions list --home "$home" --kind emissions-review --limit 1000
say "$(grep -c '^decision' "$out") recorded; the last two:"
tail -n 6 "$out"

step "the last one's evidence: contract, run, prediction, model, input"
keep decisions list --home "$home" --kind emissions-review --limit 1000 --json
last=$(grep -o '"id":"[0-9a-f]*"' "$out" | tail -n 1 | cut -d'"' -f4)
keep decisions show "$last" --home "$home"
tail -n +4 "$out"

step "every validator holds the same decisions"
# All of them (page by page) as each of the four answers them with --json;
# a validator still applying the last block is given a few seconds.
decisions_of() { # HOME FILE
    : > "$2"
    cursor=
    while :; do
        if [ -n "$cursor" ]; then
            keep decisions list --home "$1" --limit 1000 --json \
                --cursor "$cursor"
        else
            keep decisions list --home "$1" --limit 1000 --json
        fi
        cat "$out" >> "$2"
        cursor=$(grep -o '"next_cursor":"[0-9a-f]*"' "$out" | cut -d'"' -f4)
        [ -n "$cursor" ] || break
    done
}
for i in $(seq 1 51); do
    for n in 0 1 2 3; do decisions_of "$tn/node$n" "$net/decisions$n.json"; done
    same=1
    for n in 1 2 3; do
        cmp -s "$net/decisions0.json" "$net/decisions$n.json" || same=
    done
    [ -n "$same" ] && break
    if [ "$i" = 51 ]; then
        for n in 1 2 3; do
            cmp "$net/decisions0.json" "$net/decisions$n.json" || true
        done
        echo "the validators do not hold the same decisions" >&2
        exit 1
    fi
    sleep 0.2
done
say "nodes 0-3: $(grep -o '"id":"[0-9a-f]*"' "$net/decisions0.json" | wc -l) decisions each, byte for byte the same ($(wc -c < "$net/decisions0.json") bytes of JSON)"

step "kill -9 one validator: node0, the primary of view 0"
pid=$(cat "$tn/node0/witand.pid")
kill -9 "$pid"
say "killed witand pid $pid; the others time out on it and elect node1"
h0=$(height_of "$home")
witan testnet status "$tn" 2>/dev/null || true   # exits 1: node0 is down

step "the chain goes on with 3 of 4: noaa-gml attests the 2026 readings"
witan attest --home "$home" --key "$gml" \
    --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
    --file "$after" \
    --columns time,-,co2,co2_deseasonalised,days,stddev,uncertainty \
    --missing days=-1,stddev=-9.99,uncertainty=-0.99
drain "$home"
keep query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2026-01 --to 2026-06
sed 's/ days=.* ppm / ppm /' "$out"

step "a correction, still with 3 of 4: NOAA revises 2026-06; both are kept"
keep query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2026-06 --to 2026-06 --json
tx=$(sed 's/.*"tx_hash":"\([0-9a-f]*\)".*/\1/' "$out")
witan attest --home "$home" --key "$gml" \
    --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
    --time 2026-06 --value co2=431.50 --value co2_deseasonalised=429.10 \
    --corrects "$tx" --wait
keep query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2026-06 --to 2026-06 --history
sed 's/ days=.* ppm / ppm /' "$out"

step "blocks go on committing, certified by the three live validators"
h1=$(height_of "$home")
if [ "$h1" -le "$h0" ]; then
    echo "no block committed after node0 died (height $h0)" >&2
    exit 1
fi
say "height $h0 when node0 died, $h1 now; the last block:"
keep query block "$h1" --home "$home"
grep -E '^(height|transactions|certificate):' "$out"
say "the three live validators hold the same chain:"
for i in $(seq 1 101); do
    witan testnet status "$tn" > "$out" 2>/dev/null || true
    [ "$(awk '$2 == "height" {print $4}' "$out" | sort -u | wc -l)" = 1 ] &&
        [ "$(grep -c ' height ' "$out")" = 3 ] && break
    if [ "$i" = 101 ]; then
        cat "$out"
        echo "the live validators do not agree" >&2
        exit 1
    fi
    sleep 0.1
done
cat "$out"

step "an auditor exports the whole chain to one archive"
archive=$net/witan-demo.archive
witan audit export --genesis "$genesis" --home "$home" --out "$archive"
say "$(wc -c < "$archive") bytes: the genesis, every block, its certificate and roots"

step "and verifies the whole history offline, from the archive and genesis"
say "every header, certificate and signature; every block executed again"
witan audit verify --archive "$archive" --genesis "$genesis"

keep decisions list --home "$home" --kind emissions-review --limit 1000 --json
latest=$(grep -o '"id":"[0-9a-f]*"' "$out" | tail -n 1 | cut -d'"' -f4)
step "the auditor proves the latest decision with its whole chain of evidence"
say "decision $latest"
dh=$((0x$(printf '%s' "$latest" | cut -c65-80)))   # id: contract, height, index
if [ "$dh" -gt "$h0" ]; then
    say "recorded at height $dh, after node0 died; its evidence reaches back to"
    say "the contract and the model, registered before it"
fi
proof=$net/decision-evidence.json
witan audit prove --home "$home" --decision "$latest" --evidence --out "$proof"

step "and checks the proof offline, with the genesis alone"
witan audit check "$proof" --genesis "$genesis"

step "stop the network"
keep testnet stop "$tn"
started=
grep -v '^node0 ' "$out"        # node0 was killed above
