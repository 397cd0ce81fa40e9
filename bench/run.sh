#!/usr/bin/env bash
# The end-to-end benchmarks of issue 6, in one run, each figure next to its baseline.
#
#   bench/run.sh                      # the issue's corpus: 2,000 feeds x 50 items
#   FEEDS=200 WRK_SECS=3 bench/run.sh # a quick smoke run
#
# Steps: build (release); generate the corpus and configs (examples/bench_gen.rs) in OUT;
# serve it with nginx on 127.0.0.1; baselines (feed-rs parse-only, sled writes with sosik's
# layout); cold `sosik poll` (wall time, peak RSS); a second poll where every source answers
# 304; render of the `it` output in-process and as `sosik render` (hyperfine); `sosik run` on
# the store with sources disabled: idle RSS once settled, then wrk against /feeds/it.xml and
# against nginx serving the same bytes as a static file. Prints a Markdown table and writes it
# to OUT/results.md; raw outputs stay in OUT. Loopback only; nginx and sosik are stopped on
# exit. As root on Debian, missing tools are installed (nginx-light, wrk, hyperfine, time).
#
# Knobs (environment): OUT (default bench/out), FEEDS (2000), ITEMS (50), SEED (1),
# COLD_RUNS (3: cold polls, the median reported; the baselines take medians of 3 too),
# WRK_SECS (10), WRK_CONNS (50), WRK_THREADS (2), RENDER_RUNS (30), FEED_PORT (18081),
# SERVE_PORT (18080), CONCURRENCY (poll.concurrency and per_host_concurrency, 16),
# POLL_TIMEOUT (600 s per poll), CARGO_TARGET_DIR,
# SKIP_BUILD=1 to use the binaries as built.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

OUT=$(mkdir -p "${OUT:-$REPO/bench/out}" && cd "${OUT:-$REPO/bench/out}" && pwd)
FEEDS=${FEEDS:-2000}
ITEMS=${ITEMS:-50}
SEED=${SEED:-1}
WRK_SECS=${WRK_SECS:-10}
WRK_CONNS=${WRK_CONNS:-50}
WRK_THREADS=${WRK_THREADS:-2}
RENDER_RUNS=${RENDER_RUNS:-30}
CONCURRENCY=${CONCURRENCY:-16}
POLL_TIMEOUT=${POLL_TIMEOUT:-600}
COLD_RUNS=${COLD_RUNS:-3}
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
HAVE_WRK=1 HAVE_HYPERFINE=1
ensure_tools wrk:wrk || {
    HAVE_WRK=
    log "wrk is missing: the serve comparison is skipped"
}
ensure_tools hyperfine:hyperfine || {
    HAVE_HYPERFINE=
    log "hyperfine is missing: the 'sosik render' process timing is skipped"
}
[ "${SKIP_BUILD:-}" = 1 ] || build

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "generating $FEEDS feeds x $ITEMS items (seed $SEED) in $OUT"
gen "$OUT" "$FEEDS" "$ITEMS" "$SEED" --concurrency "$CONCURRENCY"
# The corpus's dirty pages reach the disk now, not during the first measures: sled waits for
# its own writes (sync_file_range), and the kernel's writeback of 83 MB slowed them by half.
sync
DISTINCT=$(grep -oP '"distinct_stories": \K[0-9]+' "$OUT/manifest.json")
ITEMS_TOTAL=$(grep -oP '"items_total": \K[0-9]+' "$OUT/manifest.json")
MBYTES=$(grep -oP '"bytes_total": \K[0-9]+' "$OUT/manifest.json" | awk '{ printf "%.1f", $1 / 1e6 }')
start_nginx "$OUT"
etag=$(curl -sI "http://127.0.0.1:$FEED_PORT/feeds/f0000.xml" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" \
    "http://127.0.0.1:$FEED_PORT/feeds/f0000.xml")" = 304 ] || die "nginx does not answer 304"

log "baseline: feed-rs parse-only, one core"
"$EXAMPLES/bench_parse" "$OUT" --runs 3 >"$OUT/parse.txt"
log "baseline: sled writes with sosik's layout, one core; the floor (commits beside feed-rs); the poll without the network"
"$EXAMPLES/bench_sled" "$OUT" >"$OUT/sled.txt"

log "cold ingest: sosik poll ($FEEDS sources), $COLD_RUNS runs on an empty store"
: >"$OUT/poll-cold.runs"
for run in $(seq "$COLD_RUNS"); do
    rm -rf "$OUT/data"
    start=$(date +%s.%N)
    /usr/bin/time -f '%e %M' -o "$OUT/poll-cold.time" \
        timeout "$POLL_TIMEOUT" "$SOSIK" --config "$OUT/sosik.toml" poll >"$OUT/poll-cold.txt" ||
        die "the cold poll failed or hung (${POLL_TIMEOUT}s); see $OUT/poll-cold.txt"
    echo "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }') $(awk '{ print $2 }' "$OUT/poll-cold.time")" >>"$OUT/poll-cold.runs"
    log "  run $run: $(tail -1 "$OUT/poll-cold.runs")"
done
# The median wall time; the largest peak RSS.
COLD_SECS=$(sort -n "$OUT/poll-cold.runs" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
COLD_RSS_KIB=$(sort -n -k2 "$OUT/poll-cold.runs" | tail -1 | awk '{ print $2 }')
STORED=$(tail -1 "$OUT/poll-cold.txt" | grep -oP '[0-9]+(?= stories stored)')
[ "$STORED" = "$DISTINCT" ] || log "WARNING: $STORED stories stored, $DISTINCT expected"

log "re-poll: every source answers 304"
start=$(date +%s.%N)
timeout "$POLL_TIMEOUT" "$SOSIK" --config "$OUT/sosik.toml" poll >"$OUT/poll-304.txt" ||
    die "the re-poll failed or hung (${POLL_TIMEOUT}s); see $OUT/poll-304.txt"
REPOLL_SECS=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')
NOT_MODIFIED=$(grep -c 'ok 304' "$OUT/poll-304.txt" || true)
[ "$NOT_MODIFIED" = "$FEEDS" ] || log "WARNING: $NOT_MODIFIED of $FEEDS sources answered 304"

log "render: in-process ($RENDER_RUNS cache misses)"
"$EXAMPLES/bench_render" "$OUT/sosik.toml" --output it --runs "$RENDER_RUNS" >"$OUT/render.txt"
RENDER_CLI_MS=
if [ -n "$HAVE_HYPERFINE" ]; then
    log "render: sosik render it (hyperfine)"
    hyperfine --style none --warmup 2 --runs 20 --export-csv "$OUT/render-cli.csv" \
        "$SOSIK --config $OUT/sosik.toml render it" >"$OUT/render-cli.txt"
    RENDER_CLI_MS=$(awk -F, 'NR == 2 { printf "%.1f", $2 * 1000 }' "$OUT/render-cli.csv")
fi

log "serve: sosik run on the store, sources disabled"
"$SOSIK" --config "$OUT/sosik-serve.toml" run 2>"$OUT/run.log" &
SOSIK_PID=$!
wait_http "http://127.0.0.1:$SERVE_PORT/healthz" || die "sosik run does not answer; see $OUT/run.log"
IDLE_RSS_KIB=$(steady_rss_kib "$SOSIK_PID")
mkdir -p "$OUT/www/static"
curl -sf "http://127.0.0.1:$SERVE_PORT/feeds/it.xml" -o "$OUT/www/static/it.xml" ||
    die "sosik does not serve /feeds/it.xml"
chmod a+r "$OUT/www/static/it.xml"
FEED_BYTES=$(stat -c %s "$OUT/www/static/it.xml")
SERVE_RPS='' NGINX_RPS=''
if [ -n "$HAVE_WRK" ]; then
    wrk_run() {
        wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WRK_SECS}s" "$1" >"$2"
        grep -q 'Non-2xx' "$2" && log "WARNING: non-2xx answers, see $2"
        grep -oP 'Requests/sec:\s*\K[0-9.]+' "$2"
    }
    log "serve: wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s, sosik then nginx"
    SERVE_RPS=$(wrk_run "http://127.0.0.1:$SERVE_PORT/feeds/it.xml" "$OUT/wrk-sosik.txt")
    NGINX_RPS=$(wrk_run "http://127.0.0.1:$FEED_PORT/static/it.xml" "$OUT/wrk-nginx.txt")
fi
LOADED_RSS_KIB=$(rss_kib "$SOSIK_PID")
kill -TERM "$SOSIK_PID"
wait "$SOSIK_PID" || log "WARNING: sosik run exited with $?"
SOSIK_PID=

log "idle after a round: sosik run polling every source once on an empty store of its own"
sed "s|^path = .*|path = \"$OUT/data-round\"|" "$OUT/sosik.toml" >"$OUT/sosik-round.toml"
rm -rf "$OUT/data-round"
"$SOSIK" --config "$OUT/sosik-round.toml" run 2>"$OUT/run-round.log" &
SOSIK_PID=$!
wait_http "http://127.0.0.1:$SERVE_PORT/healthz" || die "sosik run does not answer; see $OUT/run-round.log"
fetched() { curl -sf "http://127.0.0.1:$SERVE_PORT/metrics" | awk '/^sosik_fetches_total/ { n += $2 } END { print n + 0 }'; }
for _ in $(seq 120); do
    [ "$(fetched)" -ge "$FEEDS" ] && break
    sleep 0.5
done
[ "$(fetched)" -ge "$FEEDS" ] || log "WARNING: the round did not finish in 60 s ($(fetched) of $FEEDS fetched)"
ROUND_RSS_KIB=$(steady_rss_kib "$SOSIK_PID")
kill -TERM "$SOSIK_PID"
wait "$SOSIK_PID" || log "WARNING: sosik run exited with $?"
SOSIK_PID=
rm -rf "$OUT/data-round"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# The table. ratio(a, b) and formatting in awk; "-" when a figure is missing.
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "") print "-"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
verdict() { # verdict VALUE OP LIMIT
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "" || v == "-") { print "?"; exit }
        sub(/x$/, "", v); ok = (op == "<=") ? v + 0 <= l + 0 : v + 0 >= l + 0
        print ok ? "met" : "MISSED" }'
}

COMMIT_SECS=$(kv "$OUT/sled.txt" commit_secs)
PARSE_RATE=$(kv "$OUT/parse.txt" parse_items_per_sec)
POLL_RATE=$(awk -v n="$ITEMS_TOTAL" -v s="$COLD_SECS" 'BEGIN { printf "%.0f", n / s }')
STORE_RATIO=$(ratio "$COLD_SECS" "$COMMIT_SECS")
FLOOR_SECS=$(kv "$OUT/sled.txt" floor_feed_rs_secs)
FLOOR_OF_COMMIT=$(ratio "$FLOOR_SECS" "$COMMIT_SECS")
POLL_OF_FLOOR=$(ratio "$COLD_SECS" "$FLOOR_SECS")
FILES_SECS=$(kv "$OUT/sled.txt" poll_files_secs)
GROUPED_SECS=$(kv "$OUT/sled.txt" commit_grouped_secs)
FLOOR_GROUPED_SECS=$(kv "$OUT/sled.txt" floor_grouped_secs)
PARSE_RATIO=$(ratio "$POLL_RATE" "$PARSE_RATE")
COLD_RSS_MIB=$(awk -v k="$COLD_RSS_KIB" 'BEGIN { printf "%.0f", k / 1024 }')
REPOLL_RATE=$(awk -v n="$FEEDS" -v s="$REPOLL_SECS" 'BEGIN { printf "%.0f", n / s }')
RENDER_MS=$(kv "$OUT/render.txt" render_ms_median)
SERVE_RATIO=$(ratio "$SERVE_RPS" "$NGINX_RPS")
IDLE_MIB=$(awk -v k="$IDLE_RSS_KIB" 'BEGIN { printf "%.1f", k / 1024 }')
LOADED_MIB=$(awk -v k="$LOADED_RSS_KIB" 'BEGIN { printf "%.1f", k / 1024 }')
ROUND_MIB=$(awk -v k="$ROUND_RSS_KIB" 'BEGIN { printf "%.1f", k / 1024 }')

{
    echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo
    echo "Corpus: $FEEDS feeds x $ITEMS items (seed $SEED), $ITEMS_TOTAL items, $DISTINCT distinct stories, $MBYTES MB; poll.concurrency = $CONCURRENCY."
    echo "Load average before: $LOAD_BEFORE; after: $LOAD_AFTER."
    echo
    echo "| measure | sosik | baseline | ratio | target | |"
    echo "|---|---|---|---|---|---|"
    echo "| cold ingest: \`sosik poll\` wall time, $STORED stories stored | $(fmt "$COLD_SECS" '%.2f s') | sled commits, same records and layout: $(fmt "$COMMIT_SECS" '%.2f s') | $STORE_RATIO | <= 1.3x | $(verdict "$STORE_RATIO" '<=' 1.3) |"
    echo "| cold ingest: the floor, sled commits (a batch per source) and feed-rs's parse side by side | $(fmt "$FLOOR_SECS" '%.2f s') | sled commits: $(fmt "$COMMIT_SECS" '%.2f s') | $FLOOR_OF_COMMIT | (the least a poll committing each source alone can take) | reference |"
    echo "| cold ingest: \`sosik poll\` against that floor | $(fmt "$COLD_SECS" '%.2f s') | the floor: $(fmt "$FLOOR_SECS" '%.2f s') | $POLL_OF_FLOOR | <= 1.3x (proposed restatement) | $(verdict "$POLL_OF_FLOOR" '<=' 1.3) |"
    echo "| cold ingest: sled commits grouped as a poll's writer may group them ($CONCURRENCY sources a batch) | $(fmt "$GROUPED_SECS" '%.2f s') | sled commits: $(fmt "$COMMIT_SECS" '%.2f s') | $(ratio "$GROUPED_SECS" "$COMMIT_SECS") | (the store's fastest) | reference |"
    echo "| cold ingest: the floor again, with those grouped commits | $(fmt "$FLOOR_GROUPED_SECS" '%.2f s') | sled commits: $(fmt "$COMMIT_SECS" '%.2f s'); grouped: $(fmt "$GROUPED_SECS" '%.2f s') | $(ratio "$FLOOR_GROUPED_SECS" "$COMMIT_SECS"); $(ratio "$FLOOR_GROUPED_SECS" "$GROUPED_SECS") | (no poll can be faster: it also fetches, decodes and normalizes) | reference |"
    echo "| cold ingest: items/s overall | $(fmt "$POLL_RATE" '%d') | feed-rs parse-only, one core: $(fmt "$PARSE_RATE" '%d') | $PARSE_RATIO | >= 0.5x | $(verdict "$PARSE_RATIO" '>=' 0.5) |"
    echo "| cold ingest: peak RSS | $COLD_RSS_MIB MiB | | | <= 150 MiB | $(verdict "$COLD_RSS_MIB" '<=' 150) |"
    echo "| re-poll, all 304 ($NOT_MODIFIED/$FEEDS): sources/s | $REPOLL_RATE ($(fmt "$REPOLL_SECS" '%.2f s')) | | | >= 2000 | $(verdict "$REPOLL_RATE" '>=' 2000) |"
    echo "| render \`it\` in-process, cache miss (median of $RENDER_RUNS) | $(fmt "$RENDER_MS" '%.2f ms') | | | <= 20 ms | $(verdict "$RENDER_MS" '<=' 20) |"
    echo "| render \`it\` as \`sosik render it\` (mean; process start and store open included) | $(fmt "$RENDER_CLI_MS" '%s ms') | | | (the 20 ms target is in-process) | reference |"
    echo "| serve /feeds/it.xml ($FEED_BYTES bytes), wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s, req/s | $(fmt "$SERVE_RPS" '%.0f') | nginx, same bytes as a static file: $(fmt "$NGINX_RPS" '%.0f') | $SERVE_RATIO | >= 0.7x | $(verdict "$SERVE_RATIO" '>=' 0.7) |"
    echo "| idle \`sosik run\`, $STORED stories: RSS | $IDLE_MIB MiB | | | <= 50 MiB | $(verdict "$IDLE_MIB" '<=' 50) |"
    echo "| idle \`sosik run\` after polling all $FEEDS sources once into an empty store: RSS | $ROUND_MIB MiB | | | <= 50 MiB (the same target, read strictly) | $(verdict "$ROUND_MIB" '<=' 50) |"
    echo
    echo "For reference (same run):"
    echo
    echo "| measure | figure |"
    echo "|---|---|"
    echo "| cold polls, wall time and peak RSS of each run (median above) | $(awk '{ printf "%s%.2f s / %.0f MiB", (NR > 1 ? ", " : ""), $1, $2 / 1024 }' "$OUT/poll-cold.runs") |"
    echo "| baseline commits, each run (median above) | $(kv "$OUT/sled.txt" commit_secs_runs) s |"
    echo "| baseline commits, CPU time of the median run (sled's threads included) | $(kv "$OUT/sled.txt" commit_cpu_secs) s |"
    echo "| feed-rs parse with encoding_rs decode first, one core | $(kv "$OUT/parse.txt" decode_parse_items_per_sec) items/s |"
    echo "| sosik \`read_document\` (decode, parse, normalize, sanitize), one core | $(kv "$OUT/parse.txt" read_document_items_per_sec) items/s |"
    echo "| grouped commits, each run; CPU time of the median | $(kv "$OUT/sled.txt" commit_grouped_secs_runs) s; $(kv "$OUT/sled.txt" commit_grouped_cpu_secs) s |"
    echo "| the floor with grouped commits, each run; CPU time of the median | $(kv "$OUT/sled.txt" floor_grouped_secs_runs) s; $(kv "$OUT/sled.txt" floor_grouped_cpu_secs) s |"
    echo "| the floor, each run (median above); its CPU time | $(kv "$OUT/sled.txt" floor_feed_rs_secs_runs) s; $(kv "$OUT/sled.txt" floor_feed_rs_cpu_secs) s |"
    echo "| \`sosik poll\` without the network: \`pipeline::Ingest\` over file:// URLs of the documents (in the page cache), each run; CPU time of the median | $(kv "$OUT/sled.txt" poll_files_secs_runs) s; $(kv "$OUT/sled.txt" poll_files_cpu_secs) s |"
    echo "| so the network's share of the cold poll (the poll minus that) | $(awk -v a="$COLD_SECS" -v b="$FILES_SECS" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f s", a - b }') |"
    echo "| raw sled, 900-byte values, one batch per source, one tree | $(kv "$OUT/sled.txt" raw_one_tree_records_per_sec) records/s |"
    echo "| raw sled, same, plus an index tree (one transaction per batch) | $(kv "$OUT/sled.txt" raw_two_trees_records_per_sec) records/s |"
    echo "| sosik commits (\`commit_one\`), one core | $(kv "$OUT/sled.txt" commit_stories_per_sec) stories/s |"
    echo "| store size on disk after the commits | $(kv "$OUT/sled.txt" commit_store_bytes | awk '{ printf "%.0f MB", $1 / 1e6 }') |"
    echo "| store open (in-process) / first render after open | $(kv "$OUT/render.txt" open_ms) ms / $(kv "$OUT/render.txt" first_render_ms) ms |"
    echo "| \`sosik run\` RSS after the wrk run | $LOADED_MIB MiB |"
} | tee "$OUT/results.md"
