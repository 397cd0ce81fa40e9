#!/usr/bin/env bash
# Where a cold `sosik poll` spends its time, on the benchmark corpus served by nginx.
#
#   bench/profile.sh                       # both profilers below
#   PROFILER=perf bench/profile.sh         # perf sampling (cpu-clock) of the full corpus
#   PROFILER=callgrind bench/profile.sh    # valgrind instruction counts, smaller corpus
#
# perf: `perf record -e cpu-clock` (a software clock: this VM has no hardware counters) over
# the whole run, every thread, kernel included; reports self time per function and per crate.
# callgrind: exact instruction counts (no I/O waits, no kernel) over PROFILE_FEEDS feeds (100),
# with inclusive costs, so the stages' totals show. Outputs go to OUT (bench/out/profile):
# profile-perf-self.txt, profile-perf-crates.txt, profile-callgrind-self.txt,
# profile-callgrind-inclusive.txt. Knobs as in run.sh: FEEDS (2000), ITEMS (50), SEED (1),
# CONCURRENCY (16), FEED_PORT, CARGO_TARGET_DIR, SKIP_BUILD=1.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

OUT=$(mkdir -p "${OUT:-$REPO/bench/out/profile}" && cd "${OUT:-$REPO/bench/out/profile}" && pwd)
PROFILER=${PROFILER:-both}
FEEDS=${FEEDS:-2000}
PROFILE_FEEDS=${PROFILE_FEEDS:-100}
ITEMS=${ITEMS:-50}
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-16}

trap stop_nginx EXIT
trap 'exit 130' INT TERM
ensure_tools nginx-light:nginx curl:curl || die "nginx and curl are needed"
[ "${SKIP_BUILD:-}" = 1 ] || build

# crates FILE: self time summed per crate (the first path segment of each symbol; symbols
# without one are C: libc's allocator and memcpy, or the kernel). Approximate: a generic
# function counts for the crate that defines it, not the one that instantiated it.
crates() {
    awk '/%/ && $2 ~ /^\[/ {
        pct = $1; sub(/%/, "", pct); kind = $2
        sym = $0; sub(/^[^]]*\] /, "", sym); sub(/^</, "", sym)
        if (kind == "[k]") crate = "kernel"
        else if (sym ~ /::/) { crate = sym; sub(/::.*/, "", crate); sub(/<.*/, "", crate) }
        else if (sym ~ /malloc|free|realloc|calloc|unlink_chunk|consolidate|memmove|memcpy|memset|memcmp|strlen/) crate = "libc (allocator, mem*)"
        else if (sym ~ /blake3/) crate = "blake3 (C)"
        else if (sym ~ /syscall|sched_yield|pthread|futex/) crate = "libc (syscalls, threads)"
        else crate = "other C: " sym
        total[crate] += pct
    } END { for (c in total) printf "%6.2f%%  %s\n", total[c], c }' "$1" | sort -rn
}

if [ "$PROFILER" = perf ] || [ "$PROFILER" = both ]; then
    ensure_tools linux-perf:perf || die "perf is needed (apt-get install linux-perf)"
    log "perf: cold poll of $FEEDS feeds"
    gen "$OUT" "$FEEDS" "$ITEMS" "$SEED" --concurrency "$CONCURRENCY"
    start_nginx "$OUT"
    perf record -q -e cpu-clock -F 999 -o "$OUT/perf.data" -- \
        timeout 900 "$SOSIK" --config "$OUT/sosik.toml" poll >"$OUT/poll-perf.txt"
    stop_nginx
    # Files first, then head: a reader that stops early would fail the pipeline (pipefail).
    perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio --percent-limit 0 \
        2>/dev/null | grep -v '^#' | grep '%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' |
        sort -rn >"$OUT/perf-all.txt"
    awk '{ p = $1; sub(/%/, "", p) } p + 0 >= 0.3' "$OUT/perf-all.txt" >"$OUT/profile-perf-self.txt"
    crates "$OUT/perf-all.txt" >"$OUT/profile-perf-crates.txt"
    echo "== perf, cold poll of $FEEDS feeds: self time by function (top 25)"
    head -25 "$OUT/profile-perf-self.txt"
    echo "== perf: self time by crate"
    head -20 "$OUT/profile-perf-crates.txt"
fi

if [ "$PROFILER" = callgrind ] || [ "$PROFILER" = both ]; then
    ensure_tools valgrind:valgrind || die "valgrind is needed (apt-get install valgrind)"
    log "callgrind: cold poll of $PROFILE_FEEDS feeds"
    gen "$OUT" "$PROFILE_FEEDS" "$ITEMS" "$SEED" --concurrency "$CONCURRENCY"
    start_nginx "$OUT"
    timeout 1800 valgrind -q --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
        "$SOSIK" --config "$OUT/sosik.toml" poll >"$OUT/poll-callgrind.txt"
    stop_nginx
    # Paths shortened to crate/file; whole reports kept (a `head` would end the script).
    shorten() { sed -E 's|/root/.cargo/registry/src/index.crates.io-[0-9a-f]+/||; s|/rustc/[0-9a-f]+/||; s| \[[^]]*\]$||'; }
    callgrind_annotate --inclusive=no "$OUT/callgrind.out" 2>/dev/null | shorten \
        >"$OUT/profile-callgrind-self.txt"
    callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null | shorten \
        >"$OUT/profile-callgrind-inclusive.txt"
    echo "== callgrind, cold poll of $PROFILE_FEEDS feeds: instructions by function, self"
    sed -n '1,45p' "$OUT/profile-callgrind-self.txt"
    echo "== callgrind: inclusive, sosik's stages and the crates they call (top 40)"
    grep -E 'sosik::|sled::transaction|feed_rs::parser::Parser::parse|ammonia::Builder::clean$' \
        "$OUT/profile-callgrind-inclusive.txt" | awk 'NR <= 40'
fi
