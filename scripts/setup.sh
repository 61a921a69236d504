#!/usr/bin/env bash
# Installs what building and testing Lathe needs on a fresh machine. Safe to run again.
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
if ! command -v cargo-nextest >/dev/null; then
  cargo install --locked cargo-nextest
fi
# schemathesis fuzzes the API from its OpenAPI document (scripts/fuzz-api.sh), from PyPI into
# a virtualenv under target/ so nothing is installed system-wide.
schemathesis_version=4.32.5
if ! target/fuzz-venv/bin/st --version 2>/dev/null | grep -q "$schemathesis_version"; then
  python3 -m venv target/fuzz-venv
  target/fuzz-venv/bin/pip install --quiet "schemathesis==$schemathesis_version"
fi
