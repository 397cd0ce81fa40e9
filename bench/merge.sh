#!/usr/bin/env bash
# What merging stories costs (issue 20): cold `sosik poll` of bench/run.sh's corpus (10% of
# each feed's own stories rewrite another outlet's) with merging on (store.merge_window 48h,
# the default) and off (0s), alternating (ABBA) on an empty store each time, wall and CPU time
# from /usr/bin/time; then the idle daemon's RSS on the polled store, merging on and off (the
# window's index, rebuilt at start, is what merging keeps in memory: every story of a cold
# poll is in the window).
#
#   bench/merge.sh               # 2,000 feeds x 50 items, 4 rounds (ABBA twice)
#   FEEDS=200 ROUNDS=2 bench/merge.sh
#
# Knobs: OUT (bench/out-merge), FEEDS (2000), ITEMS (50), SEED (1), ROUNDS (4), SKIP_BUILD=1.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

OUT=$(mkdir -p "${OUT:-$REPO/bench/out-merge}" && cd "${OUT:-$REPO/bench/out-merge}" && pwd)
FEEDS=${FEEDS:-2000}
ITEMS=${ITEMS:-50}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-4}
SOSIK_PID=

cleanup() {
    if [ -n "$SOSIK_PID" ]; then
        kill -TERM "$SOSIK_PID" 2>/dev/null || true
        wait "$SOSIK_PID" 2>/dev/null || true
    fi
    stop_nginx
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_tools nginx-light:nginx time:/usr/bin/time curl:curl ||
    die "nginx, /usr/bin/time and curl are needed (apt-get install nginx-light time curl)"
[ "${SKIP_BUILD:-}" = 1 ] || build
gen "$OUT" "$FEEDS" "$ITEMS" "$SEED"
sync
start_nginx "$OUT"

# One cold poll with store.merge_window=$1 into an empty store: "wall user sys maxrss_kib".
cold() {
    rm -rf "$OUT/data"
    SOSIK__STORE__MERGE_WINDOW=$1 /usr/bin/time -f '%e %U %S %M' -o "$OUT/cold.time" \
        "$SOSIK" --config "$OUT/sosik.toml" poll >"$OUT/cold-$1.txt" || die "the cold poll failed"
    cat "$OUT/cold.time"
}

: >"$OUT/merge.runs"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="48h 0s"; else order="0s 48h"; fi
    for window in $order; do
        echo "$window $(cold "$window")" >>"$OUT/merge.runs"
        log "round $round, merge_window $window: $(tail -1 "$OUT/merge.runs")"
    done
done

# The last poll's store: how many stories merged.
rm -rf "$OUT/data"
"$SOSIK" --config "$OUT/sosik.toml" poll >/dev/null
STORED=$("$SOSIK" --config "$OUT/sosik.toml" items --json | wc -l)
WITH_COPIES=$("$SOSIK" --config "$OUT/sosik.toml" items --json | grep -c '"copies":\[{' || true)

idle() {
    SOSIK__STORE__MERGE_WINDOW=$1 "$SOSIK" --config "$OUT/sosik-serve.toml" run 2>"$OUT/run-$1.log" &
    SOSIK_PID=$!
    wait_http "http://127.0.0.1:$SERVE_PORT/healthz" || die "sosik run does not answer"
    steady_rss_kib "$SOSIK_PID"
    kill -TERM "$SOSIK_PID"
    wait "$SOSIK_PID" || true
    SOSIK_PID=
}
IDLE_ON=$(idle 48h)
IDLE_OFF=$(idle 0s)

{
    echo "## Merging (issue 20), $(date -u +%Y-%m-%dT%H:%MZ), $FEEDS feeds x $ITEMS items"
    echo
    echo "| merge_window | runs (wall s, user s, sys s) | median wall | median CPU (user+sys) | peak RSS |"
    echo "|---|---|---|---|---|"
    for window in 48h 0s; do
        awk -v w="$window" '$1 == w { printf "%s/%s/%s ", $2, $3, $4 }' "$OUT/merge.runs" >"$OUT/runs.$window"
        wall=$(awk -v w="$window" '$1 == w { print $2 }' "$OUT/merge.runs" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
        cpu=$(awk -v w="$window" '$1 == w { printf "%.2f\n", $3 + $4 }' "$OUT/merge.runs" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
        rss=$(awk -v w="$window" '$1 == w { print $5 }' "$OUT/merge.runs" | sort -n | tail -1)
        echo "| $window | $(cat "$OUT/runs.$window") | ${wall} s | ${cpu} s | $((rss / 1024)) MiB |"
    done
    echo
    echo "Stories stored: $STORED; with other copies named: $WITH_COPIES."
    echo "Idle \`sosik run\` on that store: ${IDLE_ON} KiB merging, ${IDLE_OFF} KiB not:" \
        "$(( (IDLE_ON - IDLE_OFF) * 1024 / STORED )) bytes per story in the window."
} | tee "$OUT/results.md"
