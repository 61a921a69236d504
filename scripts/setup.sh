#!/usr/bin/env bash
# Installs what building and testing Lathe needs on a fresh machine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-build.sh
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
