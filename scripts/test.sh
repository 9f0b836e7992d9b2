#!/usr/bin/env bash
# Runs every Keyway test suite, doing its own set-up first (scripts/setup.sh): lint, the Rust
# suites against real Postgres/Redis/ClickHouse, the official-SDK and chDB suites (Python), the
# browser suite against `scripts/run.sh` (the README's first command), and the compose check.
# Any failing step fails the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/keyway-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
PY_VENV=${KEYWAY_PY_VENV:-$HOME/.cache/keyway-py}
started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }

step "Set-up"
scripts/setup.sh

step "Prune stale build outputs"
# The workspace's crates get new hashes in every checkout path, so test binaries (hundreds of MB
# each) and incremental caches of earlier checkouts pile up in a shared target directory. Drop
# the ones untouched for an hour; cargo rebuilds whatever it still needs.
if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
  find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -executable ! -name '*.*' -mmin +60 -delete
fi
if [ -d "$CARGO_TARGET_DIR/debug/incremental" ]; then
  find "$CARGO_TARGET_DIR/debug/incremental" -mindepth 1 -maxdepth 1 -mmin +60 -exec rm -rf {} +
fi
# A fresh clone never reuses incremental state: skip writing it.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
fi

step "Format"
cargo fmt --all -- --check

step "Build (native, all targets) and dashboard wasm"
cargo build --workspace --all-targets --locked
scripts/build-wasm.sh

step "Clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The data-plane build (keyway-gateway: the server without the dashboard and API).
cargo clippy -p keyway --no-default-features --locked -- -D warnings

step "Rust suites (unit, integration, end-to-end against the binary)"
cargo nextest run --workspace --locked --no-fail-fast

step "Python suites: official SDKs (mock and gateway), control-plane API (schemathesis, logs), ClickHouse statements on chDB"
KEYWAY_BIN="$CARGO_TARGET_DIR/debug/keyway" "$PY_VENV/bin/python" -m pytest -q tests/sdk tests/api tests/clickhouse_compat crates/providers/tests/sdk

step "Node suite: the official openai SDK through the gateway"
KEYWAY_BIN="$CARGO_TARGET_DIR/debug/keyway" node --test tests/sdk-node/

step "Browser suite against the README's first command (scripts/run.sh)"
data_dir=$(mktemp -d)
serve_log="$data_dir/serve.log"
# The suite registers a mock provider on 127.0.0.1 from the UI, so this server allows private upstreams.
KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS=true \
  scripts/run.sh --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 --data-dir "$data_dir" >"$serve_log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q '^Keyway gateway:' "$serve_log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$serve_log"; echo "scripts/run.sh exited early" >&2; exit 1; }
  sleep 0.5
done
api_url=$(sed -n 's/^Keyway dashboard and API: *//p' "$serve_log")
gateway_url=$(sed -n 's/^Keyway gateway: *//p' "$serve_log" | sed 's#/v1$##')
[ -n "$api_url" ] && [ -n "$gateway_url" ] || { cat "$serve_log"; echo "no URLs printed" >&2; exit 1; }
curl -fsS "$api_url/healthz" >/dev/null && curl -fsS "$gateway_url/healthz" >/dev/null
echo "keyway serve up: dashboard $api_url, gateway $gateway_url"
KEYWAY_DASHBOARD_URL=$api_url KEYWAY_GATEWAY_URL=$gateway_url KEYWAY_DATA_DIR=$data_dir \
  KEYWAY_BIN="$CARGO_TARGET_DIR/debug/keyway" node --test tests/browser/
kill -TERM "$serve_pid"
wait "$serve_pid"
trap - EXIT

step "Compose file"
tests/infra/check-compose.sh

step "All suites passed in $((SECONDS - started))s"
