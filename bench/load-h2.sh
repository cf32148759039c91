#!/usr/bin/env bash
# HTTP/2 load benchmark: the auth demo (pikku-rs) against the hand-written baseline (bench/baseline), both
# over HTTP/2 with prior knowledge (h2c) on loopback, with h2load (nghttp2). One command:
#
#   bench/load-h2.sh
#
# The same servers, scenarios and interleaving as bench/load.sh (which measures HTTP/1.1 with wrk): both built
# with the `bench-release` profile, started with the same PIKKU_JWT_SECRET, a login on the demo for a bearer
# token and a session cookie, a check that both answer GET /me over HTTP/2 (curl --http2-prior-knowledge),
# then h2load on each scenario, pikku and baseline in turn, for ROUNDS rounds. It prints one table:
# requests/s, mean and max time per request (h2load reports no percentiles), the server's CPU time per
# request, peak RSS, and the ratios pikku / baseline. Installs h2load (Debian: nghttp2-client) if missing.
#
# Settings (environment):
#   DURATION=5       one h2load run, in seconds (h2load -D)
#   ROUNDS=3         runs per server and scenario (medians are taken over them)
#   CLIENTS=16       h2load -c: connections
#   STREAMS=10       h2load -m: concurrent streams per connection (so CLIENTS x STREAMS requests in flight)
#   PIN=auto         auto|1|0: with taskset and >= 2 CPUs, server on CPU 0 and h2load on CPU 1
#   DEMO_PORT=3200 BASELINE_PORT=3201
#   SKIP_BUILD=1     use the binaries already built
#   PROFILE=bench-release
#   OUT=file         also write the table there
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-10}
PIN=${PIN:-auto}
DEMO_PORT=${DEMO_PORT:-3200}
BASELINE_PORT=${BASELINE_PORT:-3201}
SECRET=${PIKKU_JWT_SECRET:-load-benchmark-secret-0123456789abcdef}
PROFILE=${PROFILE:-bench-release}

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "load-h2.sh: $*" >&2; }

if [[ -z ${SKIP_BUILD:-} ]]; then
    log "building both servers (profile $PROFILE)"
    cargo build --profile "$PROFILE" -p auth-demo -p pikku-baseline >&2
fi
DEMO_BIN=$TARGET_DIR/$PROFILE/auth-demo
BASELINE_BIN=$TARGET_DIR/$PROFILE/pikku-baseline

missing=()
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update >&2 && apt-get install -y "${missing[@]}" >&2
fi

SERVER_PIN=()
CLIENT_PIN=()
if [[ $PIN == 1 || ($PIN == auto && $(nproc) -ge 2) ]] && command -v taskset >/dev/null; then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
    PINNING="server on CPU 0, h2load on CPU 1"
else
    PINNING="none"
fi

wait_ready() { # port
    for _ in $(seq 100); do
        curl -fsS --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null && return 0
        sleep 0.1
    done
    log "server on port $1 did not come up"
    return 1
}

log "starting servers (pinning: $PINNING)"
PIKKU_JWT_SECRET=$SECRET PORT=$DEMO_PORT HOST=127.0.0.1 RUST_LOG=warn \
    "${SERVER_PIN[@]}" "$DEMO_BIN" >"$WORK/demo.log" 2>&1 &
DEMO_PID=$!
PIDS+=("$DEMO_PID")
PIKKU_JWT_SECRET=$SECRET PORT=$BASELINE_PORT "${SERVER_PIN[@]}" "$BASELINE_BIN" >"$WORK/baseline.log" 2>&1 &
BASELINE_PID=$!
PIDS+=("$BASELINE_PID")
wait_ready "$DEMO_PORT"
wait_ready "$BASELINE_PORT"

log "logging in"
curl -fsS --http2-prior-knowledge -D "$WORK/login.headers" -o "$WORK/login.json" \
    -H 'content-type: application/json' \
    -d '{"email":"alice@example.com","password":"correct horse"}' "http://127.0.0.1:$DEMO_PORT/login"
TOKEN=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$WORK/login.json")
COOKIE=$(tr -d '\r' <"$WORK/login.headers" | sed -n 's/^[Ss]et-[Cc]ookie: *\(session=[^;]*\).*/\1/p' | head -1)
[[ -n $TOKEN ]] || { log "no token in the /login response"; exit 1; }
[[ -n $COOKIE ]] || { log "no session cookie in the /login response"; exit 1; }

for port in "$DEMO_PORT" "$BASELINE_PORT"; do
    bearer=$(curl -fsS --http2-prior-knowledge -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/me")
    cookie=$(curl -fsS --http2-prior-knowledge -H "Cookie: $COOKIE" "http://127.0.0.1:$port/me")
    log "port $port: /me bearer -> $bearer, /me cookie -> $cookie"
    [[ $bearer == "$cookie" && $bearer == *'"userId"'* ]] || { log "port $port does not answer /me"; exit 1; }
done

SCENARIOS=(health me_bearer me_cookie)
scenario_path() {
    case $1 in
        health) echo "/health" ;;
        *) echo "/me" ;;
    esac
}
scenario_header() {
    case $1 in
        me_bearer) echo "Authorization: Bearer $TOKEN" ;;
        me_cookie) echo "Cookie: $COOKIE" ;;
    esac
}

# h2load prints times as 1.23us / 4.56ms / 1.20s: convert to microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000; else m = 1
        printf "%.1f", n * m }'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

run_h2load() { # server port scenario round pid
    local server=$1 port=$2 scenario=$3 round=$4 pid=$5 path header out cpu_before cpu_after
    path=$(scenario_path "$scenario")
    header=$(scenario_header "$scenario")
    out=$WORK/h2load-$server-$scenario-$round.txt
    local args=(-t1 -c"$CLIENTS" -m"$STREAMS" -D"$DURATION")
    [[ -n $header ]] && args+=(-H "$header")
    cpu_before=$(cpu_ticks "$pid")
    "${CLIENT_PIN[@]}" h2load "${args[@]}" "http://127.0.0.1:$port$path" >"$out"
    cpu_after=$(cpu_ticks "$pid")
    local done ok failed rps mean max cpu_us
    # finished in 5.00s, 123.45 req/s, ...; time for request: min max mean sd
    # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
    done=$(awk '/^requests:/ {print $6}' "$out")
    ok=$(awk '/^status codes:/ {print $3}' "$out")
    failed=$(awk '/^requests:/ {print $10 + $12 + $14}' "$out")
    if [[ -z $done || $done -eq 0 || $ok -ne $done || $failed -ne 0 ]]; then
        log "$server $scenario: not every request succeeded with 2xx"
        cat "$out" >&2
        exit 1
    fi
    rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")
    mean=$(to_us "$(awk '/^time for request:/ {print $6}' "$out")")
    max=$(to_us "$(awk '/^time for request:/ {print $5}' "$out")")
    cpu_us=$(awk -v t="$((cpu_after - cpu_before))" -v hz="$CLK_TCK" -v n="$done" \
        'BEGIN {printf "%.2f", t / hz * 1000000 / n}')
    echo "$scenario $server $round $rps $mean $max $cpu_us" >>"$WORK/results.txt"
    log "round $round $scenario $server: $rps req/s, mean ${mean}us, max ${max}us, server CPU ${cpu_us}us/request"
}

: >"$WORK/results.txt"
log "h2load: $ROUNDS rounds x ${#SCENARIOS[@]} scenarios x 2 servers, ${DURATION}s each, -c$CLIENTS -m$STREAMS"
for round in $(seq "$ROUNDS"); do
    for scenario in "${SCENARIOS[@]}"; do
        run_h2load pikku "$DEMO_PORT" "$scenario" "$round" "$DEMO_PID"
        run_h2load baseline "$BASELINE_PORT" "$scenario" "$round" "$BASELINE_PID"
    done
done

hwm() { awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
DEMO_HWM=$(hwm "$DEMO_PID")
BASELINE_HWM=$(hwm "$BASELINE_PID")

median() { # scenario server column
    awk -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v {print $c}' "$WORK/results.txt" | sort -g |
        awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v u="$1" 'BEGIN { if (u >= 1000) printf "%.2f ms", u / 1000; else printf "%.0f us", u }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

{
    echo "Load over HTTP/2 (h2c, prior knowledge): h2load -t1 -c$CLIENTS -m$STREAMS -D$DURATION, $ROUNDS interleaved" \
        "rounds (medians), loopback, pinning: $PINNING; profile $PROFILE; $(nproc) CPUs, $(date -u +%Y-%m-%d)"
    echo
    echo "| scenario | server | requests/s | mean | max | server CPU per request | peak RSS | rps pikku/baseline | CPU/request pikku/baseline |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for scenario in "${SCENARIOS[@]}"; do
        pr=$(median "$scenario" pikku 4); pm=$(median "$scenario" pikku 5); px=$(median "$scenario" pikku 6)
        br=$(median "$scenario" baseline 4); bm=$(median "$scenario" baseline 5); bx=$(median "$scenario" baseline 6)
        pc=$(median "$scenario" pikku 7); bc=$(median "$scenario" baseline 7)
        printf '| %s | pikku | %.0f | %s | %s | %.2f us | %s | %s | %s |\n' "$scenario" "$pr" "$(fmt "$pm")" \
            "$(fmt "$px")" "$pc" "$DEMO_HWM" "$(ratio "$pr" "$br")" "$(ratio "$pc" "$bc")"
        printf '| %s | baseline | %.0f | %s | %s | %.2f us | %s | | |\n' "$scenario" "$br" "$(fmt "$bm")" \
            "$(fmt "$bx")" "$bc" "$BASELINE_HWM"
    done
} | tee "${OUT:-/dev/null}"
