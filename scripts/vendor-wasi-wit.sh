#!/usr/bin/env bash
# Copies the WASI 0.2 interface definitions that `lathe:connector` imports into
# wit/<version>/deps, from the wasmtime-wasi-http crate the host is built with, so that the
# guest SDK and the host bind exactly the WASI version the runtime implements.
# Run it after bumping wasmtime, then commit the result; builds never run it.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-0.1.0}"
cargo fetch --quiet
src=$(cargo metadata --format-version 1 |
  python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="wasmtime-wasi-http"))')
deps="$(dirname "$src")/wit/deps"
mkdir -p "wit/$version/deps"
cp "$deps"/*.wit "wit/$version/deps/"
echo "copied $(ls "$deps" | wc -l) WASI packages from $deps"
