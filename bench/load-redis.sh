#!/usr/bin/env bash
# The session store's cost under load: the auth demo with the in-memory store against the same demo with
# PIKKU_REDIS_URL (revocations checked from the Redis store's local view), over HTTP on loopback with wrk.
# One command:
#
#   bench/load-redis.sh
#
# Builds the demo with the benchmark profile, starts a private redis-server on a free loopback port (killed
# on exit, like both demos), logs in once (the token and cookie verify on both: same secret), then runs wrk
# on GET /me with the bearer token and with the cookie, interleaving the two servers, and prints the median
# requests/s, p99 latency and server CPU time per request (from /proc/<pid>/stat) of each. With taskset and 2 CPUs the
# servers run on CPU 0, wrk and Redis on CPU 1.
#
# Settings (environment): DURATION=5s ROUNDS=5 CONNECTIONS=64 THREADS=2 SKIP_BUILD=1 PROFILE=bench-release
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PROFILE=${PROFILE:-bench-release}
SECRET=load-benchmark-secret-0123456789abcdef
MEMORY_PORT=${MEMORY_PORT:-3200}
REDIS_DEMO_PORT=${REDIS_DEMO_PORT:-3201}

cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/auth-demo
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "load-redis.sh: $*" >&2; }

command -v redis-server >/dev/null || { log "needs redis-server (apt-get install -y redis-server)"; exit 1; }
command -v wrk >/dev/null || { log "needs wrk (apt-get install -y wrk)"; exit 1; }
[[ -n ${SKIP_BUILD:-} ]] || cargo build --profile "$PROFILE" -p auth-demo >&2

SERVER_PIN=() OTHER_PIN=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then SERVER_PIN=(taskset -c 0) OTHER_PIN=(taskset -c 1); fi

REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${OTHER_PIN[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes --dir "$WORK" \
    >/dev/null &
PIDS+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

PIKKU_JWT_SECRET=$SECRET PORT=$MEMORY_PORT HOST=127.0.0.1 RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" \
    >"$WORK/memory.log" 2>&1 &
MEMORY_PID=$!
PIDS+=("$MEMORY_PID")
PIKKU_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 PIKKU_JWT_SECRET=$SECRET PORT=$REDIS_DEMO_PORT HOST=127.0.0.1 \
    RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" >"$WORK/redis.log" 2>&1 &
REDIS_DEMO_PID=$!
PIDS+=("$REDIS_DEMO_PID")
for port in "$MEMORY_PORT" "$REDIS_DEMO_PORT"; do
    for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done
done

curl -fsS -D "$WORK/login.headers" -o "$WORK/login.json" -H 'content-type: application/json' \
    -d '{"email":"alice@example.com","password":"correct horse"}' "http://127.0.0.1:$MEMORY_PORT/login"
TOKEN=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$WORK/login.json")
COOKIE=$(tr -d '\r' <"$WORK/login.headers" | sed -n 's/^[Ss]et-[Cc]ookie: *\(session=[^;]*\).*/\1/p' | head -1)
for port in "$MEMORY_PORT" "$REDIS_DEMO_PORT"; do
    curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/me"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk prints latencies as 812.00us, 1.20ms or 2.00s (as in load.sh).
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000; else if (u == "m") m = 60000000; else m = 1
        printf "%.1f", n * m }'
}
CLK_TCK=$(getconf CLK_TCK)
: >"$WORK/results.txt"
for round in $(seq "$ROUNDS"); do
    for scenario in me_bearer me_cookie; do
        if [[ $scenario == me_bearer ]]; then header="Authorization: Bearer $TOKEN"; else header="Cookie: $COOKIE"; fi
        for store in memory redis; do
            if [[ $store == memory ]]; then port=$MEMORY_PORT pid=$MEMORY_PID; else port=$REDIS_DEMO_PORT pid=$REDIS_DEMO_PID; fi
            before=$(ticks "$pid")
            out=$("${OTHER_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$header" \
                "http://127.0.0.1:$port/me")
            after=$(ticks "$pid")
            if grep -q 'Non-2xx' <<<"$out"; then log "$store $scenario: non-2xx responses"; echo "$out" >&2; exit 1; fi
            requests=$(awk '/requests in/ {print $1}' <<<"$out")
            rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
            cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
            p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
            log "round $round $scenario $store: $rps req/s, p99 ${p99}us, server CPU ${cpu}us/request"
            echo "$scenario $store $rps $cpu $p99" >>"$WORK/results.txt"
        done
    done
done

median() { # scenario store column
    awk -v s="$1" -v v="$2" -v c="$3" '$1 == s && $2 == v {print $c}' "$WORK/results.txt" | sort -g |
        awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
echo "Session store under load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS interleaved rounds (medians), $(date -u +%Y-%m-%d)"
echo
echo "| scenario | store | requests/s | p99 | server CPU per request | CPU redis/memory | p99 redis/memory |"
echo "|---|---|---:|---:|---:|---:|---:|"
for scenario in me_bearer me_cookie; do
    m=$(median "$scenario" memory 4) r=$(median "$scenario" redis 4)
    mp=$(median "$scenario" memory 5) rp=$(median "$scenario" redis 5)
    printf '| %s | memory | %.0f | %.0f us | %.2f us | | |\n' "$scenario" "$(median "$scenario" memory 3)" "$mp" "$m"
    printf '| %s | redis | %.0f | %.0f us | %.2f us | %s | %s |\n' "$scenario" "$(median "$scenario" redis 3)" "$rp" "$r" \
        "$(awk -v a="$r" -v b="$m" 'BEGIN {printf "%.2f", a / b}')" "$(awk -v a="$rp" -v b="$mp" 'BEGIN {printf "%.2f", a / b}')"
done
