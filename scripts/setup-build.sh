#!/usr/bin/env bash
# Installs what building Lathe and its connectors needs on a fresh machine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# rust-toolchain.toml pins the compiler; this makes sure the wasm target is there.
rustup show active-toolchain >/dev/null
rustup target add wasm32-wasip2 >/dev/null
# ring (the TLS crypto inside the postgres connector) compiles its C and assembly for
# wasm32-wasip2 with clang; gcc has no wasm backend.
if ! command -v clang >/dev/null; then
  apt-get update -qq && apt-get install -y -qq clang >/dev/null
fi
