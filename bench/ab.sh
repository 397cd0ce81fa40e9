#!/usr/bin/env bash
# Two builds of sosik, one cold `sosik poll` each in turn, ROUNDS times, over the same corpus
# served by the same nginx: the way to tell a change from this VM's slow phases, which move a
# single run's figures by a third.
#
#   bench/ab.sh BEFORE_BIN AFTER_BIN [ROUNDS]     # ROUNDS defaults to 6, in ABBA order
#
# Needs a corpus that bench/run.sh wrote (OUT, default bench/out: its www/ and sosik.toml).
# Prints one line per poll ("before 4.16") and each build's median. Loopback only; nginx is
# stopped on exit; each poll starts from an empty store of its own under OUT/ab-store.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: bench/ab.sh BEFORE_BIN AFTER_BIN [ROUNDS]"
BEFORE=$1 AFTER=$2 ROUNDS=${3:-6}
OUT=$(cd "${OUT:-$REPO/bench/out}" && pwd)
[ -f "$OUT/sosik.toml" ] || die "no corpus in $OUT: run bench/run.sh first"
trap stop_nginx EXIT
start_nginx "$OUT"
first=$(awk -F'"' '/^url = "http/ { print $2; exit }' "$OUT/sosik.toml")
wait_http "$first"
config=$OUT/ab.toml
sed "s#^path = .*#path = \"$OUT/ab-store\"#" "$OUT/sosik.toml" >"$config"
declare -A times
# ABBA: the order alternates between rounds, so neither build always runs second.
for round in $(seq "$ROUNDS"); do
    order="before after"
    [ $((round % 2)) = 0 ] && order="after before"
    for which in $order; do
        bin=$BEFORE
        [ "$which" = after ] && bin=$AFTER
        rm -rf "$OUT/ab-store"
        start=$(date +%s.%N)
        "$bin" --config "$config" poll >/dev/null || true
        took=$(echo "$(date +%s.%N) - $start" | bc)
        printf '%s %.2f\n' "$which" "$took"
        times[$which]+="$took "
    done
done
for which in before after; do
    # shellcheck disable=SC2086
    median=$(printf '%s\n' ${times[$which]} | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    printf '%s median %.2f s\n' "$which" "$median"
done
rm -rf "$OUT/ab-store"
