#!/usr/bin/env bash
# The auth demo's OpenAPI document against real tools: the demo (already built by `cargo test`) is started on
# a free loopback port, its `/openapi.json` validated with openapi-spec-validator, and schemathesis run against
# it with an admin's bearer token (.ci/openapi-check.sh). The two logout operations revoke the token they are
# called with, so they are fuzzed last, in a run of their own with a token of their own: fuzzed among the
# others, they would turn every later request into a 401.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="${CARGO_TARGET_DIR:-$root/target}/debug/auth-demo"
[ -x "$demo" ] || { echo "openapi-demo: $demo is not built (run cargo test --workspace first)" >&2; exit 2; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
log="$(mktemp)"
PORT="$port" HOST=127.0.0.1 PIKKU_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$demo" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 100); do
    curl -sf "$base/health" >/dev/null && break
    sleep 0.1
done
curl -sf "$base/health" >/dev/null || { echo "openapi-demo: the demo did not start:" >&2; cat "$log" >&2; exit 1; }

login() {
    curl -sf -X POST "$base/login" -H 'content-type: application/json' \
        -d '{"email":"alice@example.com","password":"correct horse"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
fuzz_token="$(login)"
logout_token="$(login)"

"$root/.ci/openapi-check.sh" "$base" "$fuzz_token" \
    --exclude-operation-id logout --exclude-operation-id logout_everywhere
OPENAPI_CHECK_MAX_TIME=15 "$root/.ci/openapi-check.sh" "$base" "$logout_token" \
    --include-operation-id logout --include-operation-id logout_everywhere

# Whatever the fuzzing sent, the demo is still serving.
curl -sf "$base/health" >/dev/null || { echo "openapi-demo: the demo stopped answering:" >&2; tail -50 "$log" >&2; exit 1; }
echo "openapi-demo: passed"
