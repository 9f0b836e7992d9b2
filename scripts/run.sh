#!/usr/bin/env bash
# Builds Keyway (server binary and the dashboard's wasm) and starts `keyway serve` on the embedded
# default: SQLite, in-process limits, SQLite analytics, e-mail to ./keyway-data/outbox.
# Extra arguments go to `keyway serve` (e.g. --api-addr 0.0.0.0:3000). KEYWAY_RELEASE=1 builds
# optimised binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
profile_flag=() profile_dir=debug
if [ "${KEYWAY_RELEASE:-0}" = 1 ]; then profile_flag=(--release) profile_dir=release; fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "0.2.130" ]; then
  echo "==> Installing wasm-bindgen-cli 0.2.130 (once, ~3 minutes)"
  cargo install wasm-bindgen-cli --version 0.2.130
fi

echo "==> Building keyway"
cargo build -p keyway "${profile_flag[@]}"
echo "==> Building the dashboard (wasm)"
scripts/build-wasm.sh

export KEYWAY_SERVER__SITE_ROOT=${KEYWAY_SERVER__SITE_ROOT:-${KEYWAY_SITE_ROOT:-$CARGO_TARGET_DIR/site}}
exec "$CARGO_TARGET_DIR/$profile_dir/keyway" serve "$@"
