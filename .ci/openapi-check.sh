#!/usr/bin/env bash
# Checks a running server's OpenAPI document: it must be valid OpenAPI (openapi-spec-validator), and every
# response schemathesis provokes must be declared by it (status, content type, body schema) and none may be a
# 5xx.
#
#   .ci/openapi-check.sh <base-url> <bearer-token> [schemathesis options...]   # e.g. http://127.0.0.1:3000 "$token"
#   .ci/openapi-check.sh --validate <file>            # only validate a document on disk
#
# The tools live in a virtual environment in target/openapi-venv, created on first use (needs python3 3.11 or
# later with the venv module: Debian/Ubuntu `apt-get install -y python3-venv`) and reused after; pinned
# versions. Bounded: at most OPENAPI_CHECK_MAX_EXAMPLES cases per operation (default 20) within
# OPENAPI_CHECK_MAX_TIME seconds (default 60), the whole script killed after 120 s. Exits non-zero on any
# finding.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
MAX_EXAMPLES="${OPENAPI_CHECK_MAX_EXAMPLES:-20}"
MAX_TIME="${OPENAPI_CHECK_MAX_TIME:-60}"
# Hard stop for the fuzzing run, so a hanging server cannot hold CI: the time budget plus room to finish.
HARD_LIMIT=120

usage() {
    echo "usage: $0 <base-url> <bearer-token> [schemathesis options...] | $0 --validate <file>" >&2
    exit 2
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/openapi-venv"

ensure_tools() {
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "openapi-check: python3 3.11 or later is needed (schemathesis $SCHEMATHESIS_VERSION); found: $(python3 --version 2>&1 || echo none)" >&2
        exit 2
    fi
    if [ ! -x "$venv/bin/python" ]; then
        if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
            echo "openapi-check: the python3 venv module is missing: install python3-venv (apt-get install -y python3-venv)" >&2
            exit 2
        fi
        echo "openapi-check: creating $venv"
        python3 -m venv "$venv"
    fi
    local wanted="schemathesis==$SCHEMATHESIS_VERSION openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
    local installed
    installed="$("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | grep -iE '^(schemathesis|openapi-spec-validator)==' | sort -f | tr '\n' ' ' || true)"
    if [ "${installed% }" != "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION schemathesis==$SCHEMATHESIS_VERSION" ]; then
        echo "openapi-check: installing $wanted"
        # shellcheck disable=SC2086 # two requirement words
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $wanted
    fi
}

validate() {
    "$venv/bin/openapi-spec-validator" --validation-errors all "$1"
}

case "${1:-}" in
    --validate)
        [ $# -eq 2 ] || usage
        ensure_tools
        validate "$2"
        exit 0
        ;;
    "" | -*) usage ;;
esac
[ $# -ge 2 ] || usage
base_url="${1%/}"
token="$2"
shift 2

ensure_tools
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "openapi-check: fetching $base_url/openapi.json"
"$venv/bin/python" - "$base_url/openapi.json" "$work/openapi.json" <<'PY'
import sys, urllib.request, urllib.error
url, target = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(url, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            sys.exit(f"openapi-check: {url} answered Content-Type {content_type!r}, not JSON")
        body = response.read()
except urllib.error.URLError as error:
    sys.exit(f"openapi-check: cannot fetch {url}: {error}")
with open(target, "wb") as out:
    out.write(body)
PY

echo "openapi-check: validating the document"
validate "$work/openapi.json"

echo "openapi-check: schemathesis, at most $MAX_EXAMPLES cases per operation within ${MAX_TIME}s"
cd "$work"
status=0
timeout --kill-after=10 "$HARD_LIMIT" "$venv/bin/schemathesis" run "$work/openapi.json" \
    --url "$base_url" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --workers 1 \
    --generation-with-security-parameters false \
    --generation-database none \
    --no-color "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "openapi-check: schemathesis did not finish within ${HARD_LIMIT}s" >&2
fi
exit "$status"
