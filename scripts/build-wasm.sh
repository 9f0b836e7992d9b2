#!/usr/bin/env bash
# Builds the dashboard's browser bundle into "$SITE/pkg":
#   keyway.js      wasm-bindgen's ES module, imported by Leptos' hydration script
#   keyway.wasm    the hydrate build (see the note on file names below)
#   keyway.css     the stylesheet
# SITE defaults to ${KEYWAY_SITE_ROOT:-${CARGO_TARGET_DIR:-target}/site}; point the server's
# site_root (KEYWAY_SERVER__SITE_ROOT) at the same directory.
# KEYWAY_RELEASE=1 builds with the size-optimised `wasm-release` profile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SITE="${KEYWAY_SITE_ROOT:-$TARGET_DIR/site}"
PKG="$SITE/pkg"
NAME=keyway

if ! command -v wasm-bindgen >/dev/null 2>&1; then
    echo "error: wasm-bindgen not found on PATH." >&2
    echo "       install the CLI matching the crate: cargo install wasm-bindgen-cli --version 0.2.130" >&2
    exit 1
fi
# The CLI must match the wasm-bindgen crate exactly, or the generated glue does not fit the wasm.
WANT_VERSION=0.2.130
HAVE_VERSION="$(wasm-bindgen --version | awk '{print $2}')"
if [[ "$HAVE_VERSION" != "$WANT_VERSION" ]]; then
    echo "error: wasm-bindgen $HAVE_VERSION on PATH, the crate pins $WANT_VERSION." >&2
    echo "       cargo install wasm-bindgen-cli --version $WANT_VERSION" >&2
    exit 1
fi

PROFILE_ARGS=()
PROFILE_DIR=debug
if [[ "${KEYWAY_RELEASE:-0}" == "1" ]]; then
    PROFILE_ARGS=(--profile wasm-release)
    PROFILE_DIR=wasm-release
fi

# LEPTOS_OUTPUT_NAME comes from .cargo/config.toml, which cargo only reads from this tree.
cargo build -p keyway-dashboard --lib --target wasm32-unknown-unknown --features hydrate \
    "${PROFILE_ARGS[@]}"

WASM_IN="$TARGET_DIR/wasm32-unknown-unknown/$PROFILE_DIR/keyway_dashboard.wasm"
if [[ ! -f "$WASM_IN" ]]; then
    echo "error: cargo did not produce $WASM_IN" >&2
    exit 1
fi

mkdir -p "$PKG"
wasm-bindgen --target web --no-typescript --out-dir "$PKG" --out-name "$NAME" "$WASM_IN"

# Leptos' <HydrationScripts/> imports $NAME.js and loads $NAME.wasm when LEPTOS_OUTPUT_NAME was
# set at compile time (our case), but $NAME_bg.wasm when it was not; wasm-bindgen writes
# $NAME_bg.wasm. Provide both names for one file.
ln -f "$PKG/${NAME}_bg.wasm" "$PKG/$NAME.wasm"

cp frontend/style/keyway.css "$PKG/$NAME.css"

echo "dashboard assets written to $PKG:"
ls -l "$PKG"
