#!/usr/bin/env bash
# The whole test suite: formatting, lints, the connector components, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
./scripts/build-wasm.sh
cargo nextest run --workspace --locked --no-fail-fast
