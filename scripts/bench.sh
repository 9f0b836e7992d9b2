#!/usr/bin/env bash
# Gateway benchmark: the mock provider (plain HTTP/1.1, and a second one over HTTPS with HTTP/2),
# the gateway process (`keyway-gateway gateway`: the data-plane binary as deployed in replicas,
# with virtual-key auth and SQLite analytics events on, as by default) and the load generator
# (`keyway-bench`, one thread), all on 127.0.0.1. Prints one table, direct-to-mock | through the
# gateway | added, with the targets of the gateway issue next to the figures, then the latency
# rows again with all three processes pinned to one CPU. A missed target is reported, not an
# error: the exit code is non-zero only when something broke.
#
# Usage: scripts/bench.sh [keyway-bench options, e.g. --samples 10000 --seconds 5]
# A cold build takes ~10 minutes on 2 cores; later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/keyway-target}
bin=$CARGO_TARGET_DIR/dataplane

echo "==> Building keyway-gateway and keyway-bench (dataplane profile)" >&2
# The data-plane binary is the server package without its default `control-plane` feature, in
# the profile the container image builds it with; it also runs the mock provider and seeds the
# store (`mock-provider`, `admin`).
cargo build --profile dataplane -p keyway -p keyway-bench --no-default-features >&2

# 1,000 client sockets plus the gateway's and the mock's own: well above the usual 1,024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d "${TMPDIR:-/tmp}/keyway-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # A graceful drain gets 10 s, then the process is killed.
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Waits (at most 30 s) for a line starting with $2 in file $1 and prints what follows it.
await_line() {
  local file=$1 prefix=$2 pid=$3
  for _ in $(seq 300); do
    local line
    line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
    if [ -n "$line" ]; then
      echo "${line#"$prefix"}" | tr -d '[:space:]'
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: process $pid exited before printing '$prefix'" >&2
      cat "$file" "$file.err" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  echo "error: timed out waiting for '$prefix' in $file" >&2
  return 1
}

echo "==> Starting the mock provider" >&2
"$bin/keyway" mock-provider --addr 127.0.0.1:0 >"$work/mock.out" 2>"$work/mock.out.err" &
mock_pid=$!
pids+=("$mock_pid")
mock_url=$(await_line "$work/mock.out" "mock provider listening on " "$mock_pid")

# A second mock over HTTPS, reached as hosted providers are: HTTP/2 by ALPN, all requests on one
# connection. The gateway trusts the certificate authority it made (gateway.upstream_ca_file).
"$bin/keyway" mock-provider --addr 127.0.0.1:0 --tls-ca-out "$work/mock-ca.pem" \
  >"$work/mock-tls.out" 2>"$work/mock-tls.out.err" &
mock_tls_pid=$!
pids+=("$mock_tls_pid")
mock_tls_url=$(await_line "$work/mock-tls.out" "mock provider listening on " "$mock_tls_pid")

echo "==> Seeding an org, the mock credential and a virtual key" >&2
data=$work/data
"$bin/keyway" admin create-org bench --data-dir "$data" >/dev/null
UPSTREAM_KEY=sk-bench "$bin/keyway" admin add-provider --org bench --slug mock --kind mock \
  --base-url "$mock_url/v1" --api-key-env UPSTREAM_KEY --data-dir "$data" >/dev/null
UPSTREAM_KEY=sk-bench "$bin/keyway" admin add-provider --org bench --slug mock-tls --kind mock \
  --base-url "$mock_tls_url/v1" --api-key-env UPSTREAM_KEY --data-dir "$data" >/dev/null
key=$("$bin/keyway" admin issue-key --org bench --data-dir "$data")

echo "==> Starting the gateway" >&2
# MALLOC_ARENA_MAX as the container image sets it (infra/Dockerfile); override it to compare.
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS=true \
  KEYWAY_GATEWAY__UPSTREAM_CA_FILE="$work/mock-ca.pem" \
  KEYWAY_LOG=warn "$bin/keyway" gateway --gateway-addr 127.0.0.1:0 --data-dir "$data" \
  >"$work/gateway.out" 2>"$work/gateway.out.err" &
gateway_pid=$!
pids+=("$gateway_pid")
gateway_url=$(await_line "$work/gateway.out" "Keyway gateway:" "$gateway_pid")

echo "==> Measuring: mock $mock_url, gateway $gateway_url (pid $gateway_pid)" >&2
echo "Keyway gateway benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, loopback;" \
  "mock, gateway and load generator share the CPUs"
KEYWAY_BENCH_KEY=$key "$bin/keyway-bench" --mock "$mock_url" --gateway "$gateway_url" \
  --tls-provider-slug mock-tls --gateway-pid "$gateway_pid" "$@"

# The same latency measurement with the mock, the gateway and the load generator pinned to one
# CPU: every wake-up is then local, so the figure is the gateway's own work plus two loopback
# hops, without the cross-CPU wake-ups that a virtual machine makes expensive.
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
  echo
  echo "Latency again, all three processes pinned to CPU 0 (no cross-CPU wake-ups):"
  for pid in "$mock_pid" "$gateway_pid"; do
    taskset -a -p -c 0 "$pid" >/dev/null
  done
  KEYWAY_BENCH_KEY=$key taskset -c 0 "$bin/keyway-bench" --mock "$mock_url" \
    --gateway "$gateway_url" --gateway-pid "$gateway_pid" --latency-only "$@"
fi

if [ -s "$work/gateway.out.err" ]; then
  echo "==> Gateway warnings during the run (last 20 lines):" >&2
  tail -n 20 "$work/gateway.out.err" >&2
fi
