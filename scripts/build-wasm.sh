#!/usr/bin/env bash
# Builds every connector component (first-party plugins and test fixtures) for wasm32-wasip2.
# Output: target/wasm32-wasip2/wasm/<crate>.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
crates=(lathe-plugin-postgres lathe-plugin-rest lathe-fixture-hostile lathe-fixture-legacy)
cargo build --target wasm32-wasip2 --profile wasm --locked $(printf -- '-p %s ' "${crates[@]}")
