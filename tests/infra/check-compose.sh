#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker daemon:
#   - it parses and interpolates (`config -q`) with the required variables set,
#   - it lists exactly the expected services,
#   - it refuses to render without KEYWAY_MASTER_KEY (the required substitution works),
#   - every Keyway service waits for migrations and has a /readyz healthcheck,
#   - the gateway replicas run the data-plane binary (keyway-gateway).
# Runs with Debian's docker-compose 1.29 and, when installed, with `docker compose` too.
# Usage: tests/infra/check-compose.sh [compose-file]   (exit status 0 = all checks passed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FILE="${1:-$ROOT/docker-compose.yml}"
EXPECTED_SERVICES="api clickhouse gateway-1 gateway-2 migrate postgres redis"
KEYWAY_SERVICES="api gateway-1 gateway-2"

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Dummy values: the check is about the file, not about secrets.
DUMMY_ENV=(KEYWAY_MASTER_KEY="$(printf 'k%.0s' {1..32} | base64)")

check_with() {
    local -a compose=("$@")
    local label="${compose[*]}"
    echo "== $label"

    if ! env "${DUMMY_ENV[@]}" "${compose[@]}" -f "$FILE" config -q; then
        fail "$label: config -q rejected the file"
        return
    fi

    local services
    services="$(env "${DUMMY_ENV[@]}" "${compose[@]}" -f "$FILE" config --services | sort | xargs)"
    if [[ "$services" != "$EXPECTED_SERVICES" ]]; then
        fail "$label: services are '$services', expected '$EXPECTED_SERVICES'"
    fi

    if env -u KEYWAY_MASTER_KEY "${compose[@]}" -f "$FILE" config -q 2>/dev/null; then
        fail "$label: config accepted a missing KEYWAY_MASTER_KEY"
    fi

    local rendered
    rendered="$(env "${DUMMY_ENV[@]}" "${compose[@]}" -f "$FILE" config)"
    for service in $KEYWAY_SERVICES; do
        # The service's block: from its header to the next service header at the same indent.
        local block
        block="$(awk -v s="  $service:" '$0 == s {on = 1; next} on && /^  [^ ]/ {exit} on' <<<"$rendered")"
        grep -q "service_completed_successfully" <<<"$block" \
            || fail "$label: $service does not wait for migrate to complete"
        grep -q "/readyz" <<<"$block" || fail "$label: $service has no /readyz healthcheck"
        grep -q "KEYWAY_MASTER_KEY" <<<"$block" || fail "$label: $service gets no KEYWAY_MASTER_KEY"
    done
    for service in gateway-1 gateway-2; do
        local block
        block="$(awk -v s="  $service:" '$0 == s {on = 1; next} on && /^  [^ ]/ {exit} on' <<<"$rendered")"
        grep -q "keyway-gateway" <<<"$block" \
            || fail "$label: $service does not run the data-plane binary (keyway-gateway)"
    done
}

if [[ -x /usr/bin/docker-compose ]] || command -v docker-compose >/dev/null 2>&1; then
    check_with docker-compose
else
    fail "docker-compose is not installed (Debian: apt-get install docker-compose)"
fi
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    check_with docker compose
fi

if ((failures > 0)); then
    echo "$failures compose check(s) failed" >&2
    exit 1
fi
echo "compose checks passed"
