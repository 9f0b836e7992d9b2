#!/usr/bin/env bash
# Installs and starts what the test suites need, idempotently, on a Debian machine of this kind:
# wasm target + wasm-bindgen CLI, ClickHouse, Chromium, docker-compose (for `config` checks only),
# Postgres and Redis running, the Python venv and the browser suite's npm packages.
# Sourced by scripts/test.sh; safe to run on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
PY_VENV=${KEYWAY_PY_VENV:-$HOME/.cache/keyway-py}
log() { printf '\n==> %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

log "Rust targets and tools"
rustup target add wasm32-unknown-unknown >/dev/null
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  # Without --locked: the CLI's lock file pins a webpki-roots the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

missing=()
command -v clickhouse-server >/dev/null || missing+=(clickhouse-server clickhouse-client)
command -v chromium >/dev/null || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  log "Installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

wait_for() { # name, command
  for _ in $(seq 1 60); do eval "$2" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "$1 did not come up" >&2; return 1
}

log "Services"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for postgres "pg_isready -q -h 127.0.0.1 -p 5432"
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for redis "redis-cli -h 127.0.0.1 -p 6379 ping"
fi
if ! curl -sf http://127.0.0.1:8123/ping >/dev/null 2>&1; then
  (cd /tmp && nohup clickhouse-server --config-file=/etc/clickhouse-server/config.xml \
      >/tmp/keyway-clickhouse.log 2>&1 &)
  wait_for clickhouse "curl -sf http://127.0.0.1:8123/ping"
fi
echo "postgres, redis, clickhouse $(curl -s http://127.0.0.1:8123/ -d 'SELECT version()') up"

log "Python packages"
[ -x "$PY_VENV/bin/python" ] || python3 -m venv "$PY_VENV"
"$PY_VENV/bin/pip" install -q -r tests/requirements.txt

log "Browser and Node SDK suite packages"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/sdk-node && npm ci --no-audit --no-fund --loglevel=error)
