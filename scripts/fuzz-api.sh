#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis and fails on any 5xx.
# Starts a fresh `lathe serve` on a free loopback port with a temporary SQLite data dir,
# creates an admin, a workspace, an API token and a released app, and fuzzes with that token.
# Needs schemathesis in target/fuzz-venv (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${FUZZ_EXAMPLES:-25}"

cargo build -p lathe --locked --quiet
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

target/debug/lathe serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^lathe listening on ' "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^lathe listening on //p' "$work/stdout")
[[ -n "$url" ]] || { cat "$work/server.log"; echo "server did not start" >&2; exit 1; }

password='fuzzing admin password'
printf '%s\n' "$password" | target/debug/lathe admin create --email fuzz@example.com --data-dir "$work/data" >/dev/null
curl -sf -c "$work/cookies" -H 'content-type: application/json' -H "origin: $url" \
  -d "{\"email\":\"fuzz@example.com\",\"password\":\"$password\"}" "$url/api/v1/auth/login" >/dev/null
ws=$(curl -sf -b "$work/cookies" -H 'content-type: application/json' -H "origin: $url" \
  -d '{"name":"Fuzz"}' "$url/api/v1/workspaces" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
token=$(curl -sf -b "$work/cookies" -H 'content-type: application/json' -H "origin: $url" \
  -d "{\"name\":\"fuzz\",\"workspace_id\":\"$ws\",\"expires_in_days\":1}" "$url/api/v1/tokens" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# An app from the example, released, so that paths under /apps/{app} reach real rows; the
# workspace id and the app's slug are substituted into every path that names them.
python3 -c 'import json; print(json.dumps({"name": "Customers", "slug": "customers",
  "definition": json.load(open("examples/apps/customers.json"))}))' >"$work/app.json"
curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d @"$work/app.json" "$url/api/v1/workspaces/$ws/apps" >/dev/null
curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{}' "$url/api/v1/workspaces/$ws/apps/customers/release" >/dev/null
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.ws" = "$ws"
"path.app" = "customers"
TOML

status=0
# Run from the temporary directory: schemathesis keeps a cache in its working directory and
# reads its schemathesis.toml from there.
st="$PWD/target/fuzz-venv/bin/st"
(cd "$work" && "$st" run "$url/api/v1/openapi.json" \
  --checks "${FUZZ_CHECKS:-not_a_server_error}" \
  --max-examples "$examples" \
  --request-timeout 30 \
  -H "Authorization: Bearer $token") || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- server log ---"; tail -n 200 "$work/server.log"
fi
exit $status
