#!/usr/bin/env bash
# Publishes the first-party connectors (plugins/*, built by build-wasm.sh) to a demo registry
# directory in the data dir, signed by a demo publisher key kept beside it, and installs them
# into the store the way an admin would: the registry is added, the key trusted, each
# connector installed with its capabilities approved. Run by serve.sh before the server
# starts; safe to run again (a rebuilt connector becomes an update).
#
# The demo key signs only what this script packs on this machine; a production instance
# trusts its publishers' keys instead (docs/plugins.md).
#
# LATHE_BIN picks the lathe binary; LATHE_DATA_DIR / LATHE_DATABASE_URL pick the store, as
# for `lathe serve`.
set -euo pipefail
# The data dir and the demo key are private to whoever runs the server.
umask 077
cd "$(dirname "$0")/.."
lathe=${LATHE_BIN:-./target/release/lathe}
data=${LATHE_DATA_DIR:-.lathe}
mkdir -p "$data"
data=$(cd "$data" && pwd)
registry="$data/demo-registry"
key="$data/demo-publisher"
packages=$(mktemp -d)
trap 'rm -rf "$packages"' EXIT

if [ ! -f "$key.key" ]; then
  "$lathe" plugin keygen --out "$key" >/dev/null
fi
# The directory is rebuilt each time, so a connector rebuilt under the same version is
# published again rather than refused as a duplicate.
rm -rf "$registry"
for plugin in postgres rest; do
  "$lathe" plugin pack "plugins/$plugin" --no-build --key "$key.key" \
    --out "$packages/$plugin.lpkg" >/dev/null
  "$lathe" plugin publish "$packages/$plugin.lpkg" --registry "$registry" >/dev/null
done
"$lathe" registry add demo "$registry" >/dev/null
"$lathe" registry trust "Lathe demo publisher" "$key.pub" >/dev/null
for plugin in postgres rest; do
  "$lathe" plugin install "$plugin" --registry demo --yes
done
