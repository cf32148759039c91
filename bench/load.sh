#!/usr/bin/env bash
# Load benchmark: the auth demo (pikku-rs) against the hand-written baseline (bench/baseline), over HTTP on
# loopback with wrk. One command:
#
#   bench/load.sh
#
# It builds both servers with the benchmark profile (`bench-release`: fat LTO, one codegen unit; see the root
# Cargo.toml), installs wrk if missing (apt-get, as root), starts both with the same
# PIKKU_JWT_SECRET, logs in on the demo (POST /login) for a bearer token and a session cookie, checks that both
# servers answer GET /me with them, then runs wrk on each scenario, interleaving the servers (A B A B ...), and
# prints one table: requests/s and p50 / p99 latency (medians over the rounds), peak RSS (VmHWM at the end) and
# the ratios pikku / baseline. Servers are killed on exit.
#
# Settings (environment):
#   DURATION=5s      one wrk run
#   ROUNDS=3         runs per server and scenario (medians are taken over them)
#   CONNECTIONS=64   wrk -c
#   THREADS=2        wrk -t
#   PIN=auto         auto|1|0: with taskset and >= 2 CPUs, server on CPU 0 and wrk on CPU 1 (so they do not
#                    fight over a core; each server's tokio runtime then runs 1 worker)
#   DEMO_PORT=3100 BASELINE_PORT=3101
#   SKIP_BUILD=1     use the binaries already built
#   PROFILE=bench-release   the Cargo profile both servers are built with (and read from target/<profile>/)
#   DEMO_BIN=path BASELINE_BIN=path   other binaries in either place (with SKIP_BUILD=1): e.g. an earlier
#                    build of the demo as BASELINE_BIN, BASELINE_NAME=before, to set two commits side by side
#   DEMO_NAME=pikku BASELINE_NAME=baseline   the names in the table
#   OUT=file         also write the table there
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PIN=${PIN:-auto}
DEMO_PORT=${DEMO_PORT:-3100}
BASELINE_PORT=${BASELINE_PORT:-3101}
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

log() { echo "load.sh: $*" >&2; }

if [[ -z ${SKIP_BUILD:-} ]]; then
    log "building both servers (profile $PROFILE)"
    cargo build --profile "$PROFILE" -p auth-demo -p pikku-baseline >&2
fi
DEMO_BIN=${DEMO_BIN:-$TARGET_DIR/$PROFILE/auth-demo}
BASELINE_BIN=${BASELINE_BIN:-$TARGET_DIR/$PROFILE/pikku-baseline}
DEMO_NAME=${DEMO_NAME:-pikku}
BASELINE_NAME=${BASELINE_NAME:-baseline}

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update >&2 && apt-get install -y wrk >&2
fi

SERVER_PIN=()
WRK_PIN=()
if [[ $PIN == 1 || ($PIN == auto && $(nproc) -ge 2) ]] && command -v taskset >/dev/null; then
    SERVER_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
    PINNING="server on CPU 0, wrk on CPU 1"
else
    PINNING="none"
fi

wait_ready() { # port
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null && return 0
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
PIKKU_JWT_SECRET=$SECRET PORT=$BASELINE_PORT HOST=127.0.0.1 RUST_LOG=warn \
    "${SERVER_PIN[@]}" "$BASELINE_BIN" >"$WORK/baseline.log" 2>&1 &
BASELINE_PID=$!
PIDS+=("$BASELINE_PID")
wait_ready "$DEMO_PORT"
wait_ready "$BASELINE_PORT"

log "logging in"
curl -fsS -D "$WORK/login.headers" -o "$WORK/login.json" -H 'content-type: application/json' \
    -d '{"email":"alice@example.com","password":"correct horse"}' "http://127.0.0.1:$DEMO_PORT/login"
TOKEN=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$WORK/login.json")
COOKIE=$(tr -d '\r' <"$WORK/login.headers" | sed -n 's/^[Ss]et-[Cc]ookie: *\(session=[^;]*\).*/\1/p' | head -1)
[[ -n $TOKEN ]] || { log "no token in the /login response"; exit 1; }
[[ -n $COOKIE ]] || { log "no session cookie in the /login response"; exit 1; }

for port in "$DEMO_PORT" "$BASELINE_PORT"; do
    bearer=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/me")
    cookie=$(curl -fsS -H "Cookie: $COOKIE" "http://127.0.0.1:$port/me")
    log "port $port: /me bearer -> $bearer, /me cookie -> $cookie"
    [[ $bearer == "$cookie" && $bearer == *'"userId"'* ]] || { log "port $port does not answer /me"; exit 1; }
done

SCENARIOS=(health me_bearer me_cookie)
scenario_args() { # scenario -> path and header for wrk
    case $1 in
        health) echo "/health" ;;
        me_bearer) echo "/me" "Authorization: Bearer $TOKEN" ;;
        me_cookie) echo "/me" "Cookie: $COOKIE" ;;
    esac
}

# wrk prints latencies as 1.23us / 4.56ms / 1.20s: convert to microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000; else if (u == "m") m = 60000000; else m = 1
        printf "%.1f", n * m }'
}

# CPU time (user + system) a process has used, in clock ticks: the server's cost per request is its CPU
# time over the requests served, a figure that the VM's scheduling noise moves far less than requests/s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

run_wrk() { # server port scenario round pid
    local server=$1 port=$2 scenario=$3 round=$4 pid=$5 path header out cpu_before cpu_after
    path=$(scenario_args "$scenario" | cut -d' ' -f1)
    header=$(scenario_args "$scenario" | cut -s -d' ' -f2-)
    out=$WORK/wrk-$server-$scenario-$round.txt
    cpu_before=$(cpu_ticks "$pid")
    if [[ -n $header ]]; then
        "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$header" \
            "http://127.0.0.1:$port$path" >"$out"
    else
        "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port$path" >"$out"
    fi
    if grep -q 'Non-2xx' "$out"; then
        log "$server $scenario: non-2xx responses"
        cat "$out" >&2
        exit 1
    fi
    cpu_after=$(cpu_ticks "$pid")
    local rps p50 p99 requests cpu_us
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    requests=$(awk '/requests in/ {print $1}' "$out")
    cpu_us=$(awk -v t="$((cpu_after - cpu_before))" -v hz="$CLK_TCK" -v n="$requests" \
        'BEGIN {printf "%.2f", t / hz * 1000000 / n}')
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
    echo "$scenario $server $round $rps $p50 $p99 $cpu_us" >>"$WORK/results.txt"
    log "round $round $scenario $server: $rps req/s, p50 ${p50}us, p99 ${p99}us, server CPU ${cpu_us}us/request"
}

: >"$WORK/results.txt"
log "wrk: $ROUNDS rounds x ${#SCENARIOS[@]} scenarios x 2 servers, $DURATION each, -c$CONNECTIONS -t$THREADS"
for round in $(seq "$ROUNDS"); do
    for scenario in "${SCENARIOS[@]}"; do
        run_wrk "$DEMO_NAME" "$DEMO_PORT" "$scenario" "$round" "$DEMO_PID"
        run_wrk "$BASELINE_NAME" "$BASELINE_PORT" "$scenario" "$round" "$BASELINE_PID"
    done
done

hwm() { awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
DEMO_HWM=$(hwm "$DEMO_PID")
BASELINE_HWM=$(hwm "$BASELINE_PID")

median() { # scenario server column
    awk -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v {print $c}' "$WORK/results.txt" | sort -g |
        awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

{
    echo "Load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $ROUNDS interleaved rounds (medians), loopback," \
        "pinning: $PINNING; profile $PROFILE; $(nproc) CPUs, $(date -u +%Y-%m-%d)"
    echo
    echo "| scenario | server | requests/s | p50 | p99 | server CPU per request | peak RSS | rps $DEMO_NAME/$BASELINE_NAME | p99 $DEMO_NAME/$BASELINE_NAME | CPU/request $DEMO_NAME/$BASELINE_NAME |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scenario in "${SCENARIOS[@]}"; do
        pr=$(median "$scenario" "$DEMO_NAME" 4); p50=$(median "$scenario" "$DEMO_NAME" 5); pp=$(median "$scenario" "$DEMO_NAME" 6)
        br=$(median "$scenario" "$BASELINE_NAME" 4); b50=$(median "$scenario" "$BASELINE_NAME" 5)
        bp=$(median "$scenario" "$BASELINE_NAME" 6)
        rr=$(awk -v a="$pr" -v b="$br" 'BEGIN {printf "%.2f", a / b}')
        rp=$(awk -v a="$pp" -v b="$bp" 'BEGIN {printf "%.2f", a / b}')
        pc=$(median "$scenario" "$DEMO_NAME" 7); bc=$(median "$scenario" "$BASELINE_NAME" 7)
        rc=$(awk -v a="$pc" -v b="$bc" 'BEGIN {printf "%.2f", a / b}')
        fmt() { awk -v u="$1" 'BEGIN { if (u >= 1000) printf "%.2f ms", u / 1000; else printf "%.0f us", u }'; }
        printf '| %s | %s | %.0f | %s | %s | %.2f us | %s | %s | %s | %s |\n' "$scenario" "$DEMO_NAME" "$pr" \
            "$(fmt "$p50")" "$(fmt "$pp")" "$pc" "$DEMO_HWM" "$rr" "$rp" "$rc"
        printf '| %s | %s | %.0f | %s | %s | %.2f us | %s | | | |\n' "$scenario" "$BASELINE_NAME" "$br" \
            "$(fmt "$b50")" "$(fmt "$bp")" "$bc" "$BASELINE_HWM"
    done
} | tee "${OUT:-/dev/null}"
