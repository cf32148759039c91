#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind), pikku against the hand-written baseline, in-process:
# a count that does not move with the machine's noise, unlike time. One command:
#
#   bench/instructions.sh
#
# For each scenario and side it runs `request_loop` (examples/auth-demo/examples/request_loop.rs) with 0
# and with N requests under callgrind and prints (instructions(N) - instructions(0)) / N, so start-up
# (building the server, minting the token) is not counted. N=1000 by default (environment: N).
#
# REDIS=1 adds rows for pikku with its session store in Redis (`pikku-redis`: revocation answered from the
# store's local view), against a private redis-server on a free loopback port, killed on exit.
#
# Both sides run in the one `request_loop` binary, built with the benchmark profile (`bench-release`: fat
# LTO, one codegen unit, `debug = 1` for callgrind's symbols; see the root Cargo.toml). PROFILE=... to
# count another profile's build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
PROFILE=${PROFILE:-bench-release}

if ! command -v valgrind >/dev/null; then
    echo "instructions.sh: installing valgrind" >&2
    apt-get update >&2 && apt-get install -y valgrind >&2
fi
cargo build --profile "$PROFILE" -p auth-demo --example request_loop >&2
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/examples/request_loop
WORK=$(mktemp -d)
REDIS_PID=
trap '[[ -n $REDIS_PID ]] && kill "$REDIS_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

count() { # side scenario n -> instructions
    valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" "$1" "$2" "$3" 2>&1 |
        awk '/Collected :/ {print $NF}'
}

echo "Instructions per request (callgrind, in-process, N=$N, profile $PROFILE), $(date -u +%Y-%m-%d)"
echo
echo "| scenario | pikku | baseline | pikku/baseline |"
echo "|---|---:|---:|---:|"
for scenario in health me_bearer me_cookie; do
    declare -A per
    for side in pikku baseline; do
        zero=$(count "$side" "$scenario" 0)
        many=$(count "$side" "$scenario" "$N")
        per[$side]=$(( (many - zero) / N ))
    done
    awk -v s="$scenario" -v p="${per[pikku]}" -v b="${per[baseline]}" \
        'BEGIN {printf "| %s | %d | %d | %.2f |\n", s, p, b, p / b}'
done
# A function with a path parameter, a JSON body and a permission: pikku only (the baseline has no such route).
zero=$(count pikku add_note 0)
many=$(count pikku add_note "$N")
echo "| add_note (POST /users/u1/notes) | $(( (many - zero) / N )) | - | - |"

if [[ -n ${REDIS:-} ]]; then
    REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >/dev/null &
    REDIS_PID=$!
    until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done
    export PIKKU_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
    for scenario in health me_bearer me_cookie; do
        zero=$(count pikku-redis "$scenario" 0)
        many=$(count pikku-redis "$scenario" "$N")
        echo "| $scenario, Redis session store | $(( (many - zero) / N )) | - | - |"
    done
fi
