#!/usr/bin/env bash
# Checks the builder frontend (builder/) end to end, from the repository root:
#   npm ci, generated API types up to date, type check, Vitest, Vite build; then a real Lathe
#   server on a free loopback port serving builder/dist over a fresh SQLite data dir, with the
#   demo connectors installed and a PostgreSQL database of its own (builder_e2e_*), and the
#   Playwright tests (playwright-core driving Debian's Chromium) against it. Screenshots of
#   the pages land in docs/screenshots/.
#
# Needs: Node 20.19+ and npm, PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), a
# built lathe binary (LATHE_BIN, default target/debug/lathe) and the connector components
# (scripts/build-wasm.sh). Chromium and the PostgreSQL client are installed with apt when
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
lathe=${LATHE_BIN:-target/debug/lathe}
lathe=$(cd "$(dirname "$lathe")" && pwd)/$(basename "$lathe")
[ -x "$lathe" ] || { echo "no lathe binary at $lathe (set LATHE_BIN)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*" >&2; }

step "builder: install, check generated types, type-check, unit tests, build"
(
  cd builder
  npm ci --no-audit --no-fund
  npm run check:api
  npm run typecheck
  npm test
  npm run build
)

step "browser and database client"
apt_updated=
need() {
  command -v "$1" >/dev/null && return
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need chromium chromium
need psql postgresql-client

data=$(mktemp -d)
db="builder_e2e_$(date +%s)_$$"
# A role with a password of its own, for the datasource the admin tests create through the UI.
pg_role="${db}_user"
pg_password="e2e-pg-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
server_pid=
psql_admin() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql_admin -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  psql_admin -c "drop role if exists $pg_role" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] && [ -f "$data/server.log" ]; then
    echo "--- last lines of the server log" >&2
    tail -n 40 "$data/server.log" >&2
  fi
  rm -rf "$data"
  exit "$status"
}
trap cleanup EXIT

step "database $db"
psql_admin -c "create database $db"
psql_admin -c "create role $pg_role login password '$pg_password'"

step "server: connectors, admin, start"
LATHE_BIN="$lathe" LATHE_DATA_DIR="$data" ./scripts/demo-registry.sh >/dev/null
admin_email=admin@example.com
admin_password="e2e-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$admin_password" | "$lathe" admin create --email "$admin_email" --data-dir "$data" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Every browser test signs in afresh from 127.0.0.1: more than the default 30 logins per
# address and minute (the limit itself has its own tests in host/cli/tests/auth.rs).
"$lathe" serve --data-dir "$data" --listen "127.0.0.1:$port" --base-url "$base" \
  --builder-dir "$root/builder/dist" --egress-allow 127.0.0.1 \
  --login-address-limit 10000 >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q "lathe listening on" "$data/server.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
  sleep 0.2
done
grep -q "lathe listening on" "$data/server.log" || { echo "the server did not start" >&2; exit 1; }

# builder.test.mjs runs first: the admin tests add a workspace, and the first test expects
# the admin's only workspace to be the one it seeded.
step "end-to-end tests against $base"
mkdir -p docs/screenshots
(
  cd builder
  LATHE_URL="$base" E2E_ADMIN_EMAIL="$admin_email" E2E_ADMIN_PASSWORD="$admin_password" \
    E2E_DATABASE="$db" E2E_SCREENSHOTS="$root/docs/screenshots" \
    E2E_EXAMPLE_APP="$root/examples/apps/customers.json" \
    E2E_PG_ROLE="$pg_role" E2E_PG_PASSWORD="$pg_password" E2E_LATHE_BIN="$lathe" \
    sh -c 'node --test e2e/builder.test.mjs && node --test e2e/admin.test.mjs'
)
