#!/usr/bin/env bash
# Starts Lathe from a fresh clone: installs the build prerequisites, builds the first-party
# connectors and the server (release), and runs `lathe serve` with any arguments given.
# Data goes to ./.lathe (SQLite) unless LATHE_DATA_DIR or LATHE_DATABASE_URL say otherwise;
# the connectors are loaded from ./plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-build.sh
./scripts/build-wasm.sh
exec cargo run --release --locked -p lathe -- serve "$@"
