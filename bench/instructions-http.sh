#!/usr/bin/env bash
# Instructions per request over HTTP, connection layer included: a server binary runs under callgrind while
# h2load sends a fixed number of requests (4 connections, one stream at a time), once with N1 and once with
# N2 requests; the difference over N2 - N1 is the cost of one request, start-up and shutdown left out.
# Deterministic within a few hundred instructions (the allocator's state moves it a little), where load
# figures on a shared machine move by tens of percent: the figure to compare two builds of the server by.
#
#   bench/instructions-http.sh BINARY PROTOCOL PATH [HEADER]
#   bench/instructions-http.sh target/bench-release/auth-demo h1 /health
#   bench/instructions-http.sh target/bench-release/auth-demo h2 /me "Authorization: Bearer $TOKEN"
#
# PROTOCOL is h1 (HTTP/1.1) or h2 (HTTP/2 with prior knowledge). The server gets PIKKU_JWT_SECRET (the
# benchmark secret of bench/load.sh, or the environment's), PORT (3400, or $PORT), HOST=127.0.0.1 and one
# Tokio worker. A bearer token for /me: log in on a normally started server with the same secret (bench/load.sh
# shows how); tokens do not depend on the process. Installs valgrind and h2load (nghttp2-client) if missing.
# Settings: N1=1000 N2=11000.
set -euo pipefail

BIN=$1 PROTO=$2 URLPATH=$3 HEADER=${4:-}
PORT=${PORT:-3400}
N1=${N1:-1000}
N2=${N2:-11000}
SECRET=${PIKKU_JWT_SECRET:-load-benchmark-secret-0123456789abcdef}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    apt-get update >&2 && apt-get install -y "${missing[@]}" >&2
fi

total_instructions() { # requests
    local requests=$1 out=$WORK/callgrind.$1
    PIKKU_JWT_SECRET=$SECRET PORT=$PORT HOST=127.0.0.1 RUST_LOG=warn TOKIO_WORKER_THREADS=1 \
        valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" >"$WORK/server.log" 2>&1 &
    local pid=$!
    local up=
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    [[ -n $up ]] || { echo "the server did not come up" >&2; cat "$WORK/server.log" >&2; kill "$pid"; exit 1; }
    local args=(-n "$requests" -c 4 -m 1 -t 1)
    [[ $PROTO == h1 ]] && args+=(--h1)
    [[ -n $HEADER ]] && args+=(-H "$HEADER")
    h2load "${args[@]}" "http://127.0.0.1:$PORT$URLPATH" >"$WORK/h2load.txt"
    if ! grep -q "^status codes: $requests 2xx" "$WORK/h2load.txt"; then
        echo "not every request got a 2xx answer:" >&2
        cat "$WORK/h2load.txt" >&2
        kill "$pid"
        exit 1
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}

first=$(total_instructions "$N1")
second=$(total_instructions "$N2")
echo "$BIN $PROTO $URLPATH: $(((second - first) / (N2 - N1))) instructions per request"
