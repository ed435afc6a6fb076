#!/bin/sh
# make demo: four Witan validators on 127.0.0.1 in a temporary folder, a
# model registered on chain with its target, the climate decision contract
# deployed, the whole monthly Mauna Loa CO2 series (NOAA) streamed in, then
# the observed temperatures that score the model; decisions with their
# evidence, the model's scorecard, every validator showing the same blocks,
# queries, a correction, predictions; then the network is stopped.
#   usage: demo.sh BIN_DIR
set -eu
bin=$1
data=tests/fixtures/data/co2-mm-mlo.csv
net=$(mktemp -d "${TMPDIR:-/tmp}/witan-demo.XXXXXX")
port=$((17000 + ($$ % 100) * 50))
started=
cleanup() {
    [ -n "$started" ] && "$bin/witan" testnet stop "$net" >/dev/null 2>&1
    rm -rf "$net"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

step "four validators, one genesis"
"$bin/witan" testnet init --validators 4 --dir "$net/testnet" \
    --base-port "$port" --chain-id witan-demo
home=$net/testnet/node1          # the node this demo talks to
key=$net/testnet/operator.key    # a member with every role

step "start them (logs in $net/testnet/node*/log)"
"$bin/witan" testnet start "$net/testnet"
started=1
for i in $(seq 1 100); do
    "$bin/witan" testnet status "$net/testnet" >/dev/null 2>&1 && break
    sleep 0.1
done
"$bin/witan" testnet status "$net/testnet"

step "register a model on chain: temperature anomaly from CO2 and year"
model=tests/fixtures/models/linreg_temp.bin
"$bin/witan" model show "$model" | head -n 4
"$bin/witan" model register "$model" --home "$home" --key "$key" \
    --name temperature-from-co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,year \
    --trigger climate/co2/mauna-loa:mauna-loa \
    --target feed=climate/temp/global,subject=global,value=anomaly --wait
hash=$("$bin/witan" model list --home "$home" | cut -c1-64)

step "deploy the climate decision contract (contracts/examples/climate.wvs)"
sed -n '1,20p' contracts/examples/climate.wvs
contract=$("$bin/witan" contract deploy --home "$home" --key "$key" \
    --name emissions-review --version 1 --gas 100000 \
    --asm contracts/examples/climate.wvs --model "$hash" |
    sed -n 's/^contract \([0-9a-f]*\).*/\1/p')
"$bin/witan" contract show "$contract" --home "$home"

step "attest every month of $data (columns by position; sentinels left out)"
"$bin/witan" attest --home "$home" --key "$key" \
    --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
    --file "$data" \
    --columns time,-,co2,co2_deseasonalised,days,stddev,uncertainty \
    --missing days=-1,stddev=-9.99,uncertainty=-0.99

step "wait until the mempool is empty"
for i in $(seq 1 300); do
    pending=$("$bin/witan" query status --home "$home" --json |
        sed 's/.*"mempool_count":\([0-9]*\).*/\1/')
    [ "$pending" = 0 ] && break
    sleep 0.1
done
"$bin/witan" query status --home "$home"

step "attest the observed global temperature anomaly (NOAA gcag), month by month"
temps=$net/gcag.csv
{ head -n 1 tests/fixtures/data/global-temp-monthly.csv
  grep '^gcag,' tests/fixtures/data/global-temp-monthly.csv |
      awk -F, '$2 >= "1958-03"'; } > "$temps"
"$bin/witan" attest --home "$home" --key "$key" \
    --feed climate/temp/global --subject global --unit degC \
    --file "$temps" --columns -,time,anomaly
for i in $(seq 1 300); do
    pending=$("$bin/witan" query status --home "$home" --json |
        sed 's/.*"mempool_count":\([0-9]*\).*/\1/')
    [ "$pending" = 0 ] && break
    sleep 0.1
done

step "the model's scorecard: every prediction scored against the observed anomaly"
"$bin/witan" model scorecard temperature-from-co2 --home "$home"

step "decisions the contract recorded (the last three), and one with its evidence"
"$bin/witan" decisions list --home "$home" --kind emissions-review --limit 1000 | tail -n 9
last=$("$bin/witan" decisions list --home "$home" --kind emissions-review \
    --limit 1000 --json | grep -o '"id":"[0-9a-f]*"' | tail -n 1 | cut -d'"' -f4)
"$bin/witan" decisions show "$last" --home "$home"

step "the first months of the record"
"$bin/witan" query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --limit 4

step "the year 2025"
"$bin/witan" query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2025-01 --to 2025-12

step "a correction: NOAA revises 2026-06; both revisions are kept"
tx=$("$bin/witan" query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2026-06 --to 2026-06 --json |
    sed 's/.*"tx_hash":"\([0-9a-f]*\)".*/\1/')
"$bin/witan" attest --home "$home" --key "$key" \
    --feed climate/co2/mauna-loa --subject mauna-loa --unit ppm \
    --time 2026-06 --value co2=431.50 --value co2_deseasonalised=429.10 \
    --corrects "$tx" --wait
"$bin/witan" query attestations --home "$home" --feed climate/co2/mauna-loa \
    --subject mauna-loa --from 2026-06 --to 2026-06 --history

step "predictions recorded by the validator as each attestation arrived (first two)"
"$bin/witan" query predictions --home "$home" --model "$hash" --limit 2

step "ask for a score on explicit inputs: 450 ppm in 2040"
height_now=$("$bin/witan" query status --home "$home" --json |
    sed 's/.*"height":"\([0-9]*\)".*/\1/')
"$bin/witan" model ask "$hash" --home "$home" --key "$key" \
    --input 450,2040 --wait
"$bin/witan" query predictions --home "$home" --model "$hash" --from "$height_now"

step "the last block, with its certificate"
height=$("$bin/witan" query status --home "$home" --json |
    sed 's/.*"height":"\([0-9]*\)".*/\1/')
"$bin/witan" query block "$height" --home "$home"

step "every validator holds the same chain"
for i in $(seq 1 100); do
    distinct=$("$bin/witan" testnet status "$net/testnet" | awk '{print $4}' | sort -u | wc -l)
    [ "$distinct" = 1 ] && break
    sleep 0.1
done
"$bin/witan" testnet status "$net/testnet"

step "stop the network (SIGTERM)"
"$bin/witan" testnet stop "$net/testnet"
started=
