#!/bin/sh
# Builds the AFL target and fuzzes decode -> parse -> normalize for SECONDS (default 120).
# Seeds are the demo feeds (and small feeds of ../../shared/corpus when present), each behind
# a 0 byte: the target's first byte picks the Content-Type. Findings land in fuzz/out/.
# Needs `cargo install cargo-afl` once. Not part of CI.
set -eu
cd "$(dirname "$0")"
seconds="${1:-120}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../target}/afl"
cargo afl build --release
rm -rf out/in && mkdir -p out/in
i=0
for f in ../config/demo/* $(find ../../shared/corpus/feed-rs ../../shared/corpus/gofeed/testdata/parser \
    -name '*.xml' -size -3k 2>/dev/null | head -n 40); do
    i=$((i + 1))
    { printf '\000'; cat "$f"; } > "out/in/seed$i"
done
AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    cargo afl fuzz -i out/in -o out/findings -V "$seconds" "$CARGO_TARGET_DIR/release/read_document"
echo "crashes: $(ls out/findings/default/crashes 2>/dev/null | grep -vc README || true)"
