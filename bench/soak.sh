#!/usr/bin/env bash
# Soak test: the auth demo (release build) under minutes of mixed traffic, checked as it goes. One command:
#
#   bench/soak.sh
#
# It builds the demo and the soak client (bench/soak, `pikku-soak`) in release, starts the demo on a free
# loopback port (PORT=0; the port is read from its first line), and runs the client: several keep-alive
# connections of health, good and bad logins, /me by bearer, cookie and API key, bad and expired tokens,
# tampered cookies, /admin, notes added and listed, and logouts of fresh logins, every answer checked against
# docs/auth-demo.md. The server's RSS and open descriptors are sampled from /proc into a CSV. At the end every
# accepted note must be listed, no request may have had a 5xx or a connection error, and the server's
# descriptors must be back to their starting count. It prints a summary (requests, req/s, statuses per
# operation, RSS and descriptors start/max/end) and exits non-zero on any violation, or if the server died.
#
# Settings (environment):
#   SOAK_SECONDS=300        how long the traffic runs (default 5 minutes)
#   SOAK_CONNECTIONS=8      concurrent connections
#   SOAK_SAMPLE_SECONDS=5   seconds between RSS / descriptor samples
#   SOAK_CSV=file           where the samples go (default: a temporary file, path printed)
#   SOAK_STATELESS=1        leave out notes and logouts (state the demo keeps by contract), so the server's
#                           memory should stay flat
#   SKIP_BUILD=1            use the binaries already built
#
# Bad logins come from 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux): the demo's login throttle counts
# failures per client address, so they get 401 then 429 without locking out the good logins from 127.0.0.1.
set -euo pipefail

SECONDS_TO_RUN=${SOAK_SECONDS:-300}
CONNECTIONS=${SOAK_CONNECTIONS:-8}
SAMPLE_SECONDS=${SOAK_SAMPLE_SECONDS:-5}
SECRET=${PIKKU_JWT_SECRET:-soak-test-secret-soak-test-secret-0123456789}

cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORK=$(mktemp -d)
CSV=${SOAK_CSV:-$WORK/samples.csv}
SERVER_PID=

log() { echo "soak.sh: $*" >&2; }

cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -z ${SOAK_CSV:-} && -n ${KEEP_WORK:-} ]]; then
        log "samples kept in $CSV"
    elif [[ -z ${SOAK_CSV:-} ]]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${SKIP_BUILD:-} ]]; then
    # Two builds, not one: built together, the client's dependencies would change the demo's features.
    log "building the demo and the soak client (release)"
    cargo build --release -p auth-demo >&2
    cargo build --release -p pikku-soak >&2
fi

# The demo prints `listening on http://127.0.0.1:<port>` first; it writes its logs to stderr.
PIKKU_JWT_SECRET=$SECRET HOST=127.0.0.1 PORT=0 RUST_LOG=warn NO_COLOR=1 "$TARGET_DIR/release/auth-demo" \
    >"$WORK/demo.out" 2>"$WORK/demo.err" &
SERVER_PID=$!
ADDR=
for _ in $(seq 100); do
    ADDR=$(sed -n 's|^listening on http://\(.*\)$|\1|p' "$WORK/demo.out" | head -1)
    [[ -n $ADDR ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "the demo exited at start:"; cat "$WORK/demo.err" >&2; exit 1; }
    sleep 0.1
done
[[ -n $ADDR ]] || { log "the demo printed no address"; exit 1; }
log "demo pid $SERVER_PID on $ADDR; $SECONDS_TO_RUN s of traffic on $CONNECTIONS connections; $(nproc) CPUs; samples in $CSV"

status=0
PIKKU_JWT_SECRET=$SECRET "$TARGET_DIR/release/pikku-soak" --addr "$ADDR" --seconds "$SECONDS_TO_RUN" \
    --connections "$CONNECTIONS" --pid "$SERVER_PID" --sample-seconds "$SAMPLE_SECONDS" --csv "$CSV" \
    ${SOAK_STATELESS:+--stateless} || status=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "the demo died during the run:"
    tail -20 "$WORK/demo.err" >&2
    exit 1
fi
# A 5xx or a panic is logged at ERROR level.
if grep -qE 'panicked| ERROR ' "$WORK/demo.err"; then
    log "the demo logged errors:"
    grep -E 'panicked| ERROR ' "$WORK/demo.err" | head -20 >&2
    status=1
fi
exit "$status"
