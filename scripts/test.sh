#!/usr/bin/env bash
# The whole test suite: formatting, lints, the connector components, an API fuzz run, then
# every test — the store-backed black-box tests twice, on the embedded SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
./scripts/build-wasm.sh
./scripts/fuzz-api.sh
cargo nextest run --workspace --locked --no-fail-fast
# Second pass: each test creates its own database on the PostgreSQL at 127.0.0.1:5432
# (user postgres, trust auth) and drops it when done.
# The connector tests don't touch the store, so they run once.
LATHE_TEST_BACKEND=postgres cargo nextest run --workspace --locked --no-fail-fast \
  -E 'package(lathe) & not (binary(rest) | binary(postgres) | binary(plugin_new))'
# The builder frontend: type check, unit tests, build, and the browser tests against the debug
# binary the passes above built (scripts/test-builder.sh).
./scripts/test-builder.sh
