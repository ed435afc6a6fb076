#!/bin/sh
# make demo: a one-validator Witan chain in a temporary home, fed the whole
# monthly Mauna Loa CO2 series (NOAA), then queried back, then stopped.
#   usage: demo.sh BIN_DIR
set -eu
bin=$1
data=tests/fixtures/data/co2-mm-mlo.csv
home=$(mktemp -d "${TMPDIR:-/tmp}/witan-demo.XXXXXX")
port=$((17000 + $$ % 2000))
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
    rm -rf "$home"
}
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

step "a node home for a one-validator chain"
"$bin/witan" init --home "$home" --chain-id witan-demo --listen "tcp://127.0.0.1:$port"

step "start witand (log in $home/log)"
"$bin/witand" --home "$home" 2>"$home/log" &
node_pid=$!
for i in $(seq 1 100); do
    "$bin/witan" query status --home "$home" >/dev/null 2>&1 && break
    sleep 0.1
done
"$bin/witan" query status --home "$home"

step "register a model on chain: temperature anomaly from CO2 and year"
model=tests/fixtures/models/linreg_temp.bin
"$bin/witan" model show "$model" | head -n 4
"$bin/witan" model register "$model" --home "$home" --key "$home/operator.key" \
    --name temperature-from-co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 \
    --input feed=climate/co2/mauna-loa,subject=mauna-loa,year \
    --trigger climate/co2/mauna-loa:mauna-loa --wait
hash=$("$bin/witan" model list --home "$home" | cut -c1-64)

step "attest every month of $data (columns by position; sentinels left out)"
"$bin/witan" attest --home "$home" --key "$home/operator.key" \
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
"$bin/witan" attest --home "$home" --key "$home/operator.key" \
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
"$bin/witan" model ask "$hash" --home "$home" --key "$home/operator.key" \
    --input 450,2040 --wait
"$bin/witan" query predictions --home "$home" --model "$hash" --from "$height_now"

step "the last block, with its certificate"
height=$("$bin/witan" query status --home "$home" --json |
    sed 's/.*"height":"\([0-9]*\)".*/\1/')
"$bin/witan" query block "$height" --home "$home"

step "stop the node (SIGTERM)"
kill "$node_pid"
wait "$node_pid"
node_pid=
tail -n 1 "$home/log"
