# shellcheck shell=bash
# Shared by bench/run.sh and bench/profile.sh: paths, tools, the release build, and nginx on
# 127.0.0.1 serving a generated corpus. Everything stays on loopback; every wait is bounded.

# Used by the scripts that source this file.
# shellcheck disable=SC2034
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
SOSIK=$TARGET/release/sosik
EXAMPLES=$TARGET/release/examples
FEED_PORT=${FEED_PORT:-18081}
SERVE_PORT=${SERVE_PORT:-18080}
NGINX_PID_FILE=

log() { printf '== %s\n' "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

# Installs the Debian packages whose commands are missing ("package:command" pairs), when root
# on Debian; otherwise says what is missing. Returns non-zero when something is still missing.
ensure_tools() {
    local pair missing=()
    for pair in "$@"; do
        have "${pair#*:}" || missing+=("${pair%%:*}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]}"
        if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
            apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
        fi
    else
        log "not root (or not Debian): cannot install ${missing[*]}"
    fi
    for pair in "$@"; do
        have "${pair#*:}" || return 1
    done
}

# Whether a command exists, also in sbin (nginx lives there, outside a user's PATH).
have() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || [ -x "$1" ]; }
nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }

# Builds sosik and the bench examples in release mode.
build() {
    log "building (release) into $TARGET"
    (cd "$REPO" && cargo build --release --locked --bin sosik --examples) >&2
}

# gen OUT FEEDS ITEMS SEED [bench_gen options]: a fresh corpus and configs in OUT (the old
# store goes too).
gen() {
    local out=$1 feeds=$2 items=$3 seed=$4
    shift 4
    rm -rf "$out/www" "$out/data"
    mkdir -p "$out"
    "$EXAMPLES/bench_gen" "$out" --feeds "$feeds" --items "$items" --seed "$seed" \
        --port "$FEED_PORT" --serve-port "$SERVE_PORT" "$@" >&2
    # nginx's workers run as an unprivileged user: everything served must be readable.
    chmod -R a+rX "$out"
}

# start_nginx OUT: nginx serving OUT/www on 127.0.0.1:FEED_PORT, static files with their ETag
# and Last-Modified (so a re-poll gets 304s), keep-alive without a request cap.
start_nginx() {
    local out=$1 conf
    mkdir -p "$out/nginx/tmp"
    conf=$out/nginx/nginx.conf
    NGINX_PID_FILE=$out/nginx/nginx.pid
    cat >"$conf" <<EOF
worker_processes ${NGINX_WORKERS:-auto};
pid $NGINX_PID_FILE;
error_log $out/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    types { text/xml xml; }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $out/nginx/tmp;
    server {
        listen 127.0.0.1:$FEED_PORT;
        root $out/www;
    }
}
EOF
    "$(nginx_bin)" -q -e "$out/nginx/error.log" -p "$out/nginx" -c "$conf" ||
        die "nginx did not start; see $out/nginx/error.log"
    wait_http "http://127.0.0.1:$FEED_PORT/feeds/f0000.xml" || die "nginx does not answer"
}

stop_nginx() {
    if [ -n "$NGINX_PID_FILE" ] && [ -s "$NGINX_PID_FILE" ]; then
        kill -QUIT "$(cat "$NGINX_PID_FILE")" 2>/dev/null || true
        for _ in $(seq 50); do
            [ -s "$NGINX_PID_FILE" ] || break
            sleep 0.1
        done
    fi
    NGINX_PID_FILE=
}

# wait_http URL: up to 20 s for a 200.
wait_http() {
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# kv FILE KEY: the value of KEY=VALUE in FILE (lines may hold several pairs).
kv() { grep -oP "(^|\\s)$2=\\K\\S+" "$1" | head -1; }

# The VmRSS of a process, in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# steady_rss_kib PID: its RSS once idle: until three samples a second apart agree within 256 KiB (30 s at most).
steady_rss_kib() {
    local prev=0 steady=0 now
    for _ in $(seq 30); do
        sleep 1
        now=$(rss_kib "$1")
        if [ $((now - prev)) -le 256 ] && [ $((prev - now)) -le 256 ]; then
            steady=$((steady + 1))
            [ "$steady" -ge 2 ] && break
        else
            steady=0
        fi
        prev=$now
    done
    rss_kib "$1"
}
