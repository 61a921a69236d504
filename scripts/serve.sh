#!/usr/bin/env bash
# Starts Lathe from a fresh clone: installs the build prerequisites, builds the first-party
# connectors, the server (release) and the builder frontend, publishes the connectors to a
# demo registry in the data dir and installs them from it (scripts/demo-registry.sh), then
# runs `lathe serve` with the builder at http://127.0.0.1:8080/ and any arguments given. Data goes to ./.lathe (SQLite) unless LATHE_DATA_DIR or
# LATHE_DATABASE_URL say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-build.sh
./scripts/build-wasm.sh
cargo build --release --locked -p lathe
(cd builder && npm ci --no-audit --no-fund && npm run build)
LATHE_BIN=./target/release/lathe ./scripts/demo-registry.sh
exec ./target/release/lathe serve --builder-dir builder/dist "$@"
