#!/usr/bin/env bash
# The README's demo, end to end with curl: log in, make a workspace, connect a PostgreSQL
# datasource, create and fill a `customers` table through it, import the example app
# (examples/apps/customers.json), release it, and run its `customers_list` query.
#
# Needs a running Lathe that may reach the database (e.g. `./scripts/serve.sh --egress-allow
# 127.0.0.1`) and an instance admin. Settings (environment):
#   LATHE_URL (http://127.0.0.1:8080), LATHE_EMAIL, LATHE_PASSWORD,
#   PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), PGPASSWORD (none), PGDATABASE (postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
url=${LATHE_URL:-http://127.0.0.1:8080}
: "${LATHE_EMAIL:?set LATHE_EMAIL to the email of an instance admin}"
: "${LATHE_PASSWORD:?set LATHE_PASSWORD}"
export LATHE_EMAIL LATHE_PASSWORD
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT

# JSON is built and read with python3, so nothing but curl and python3 is needed: `pyjson`
# prints the JSON of a Python expression over `env` (the environment) and `arg` (its 2nd
# argument); `field` reads one field of the JSON on stdin.
pyjson() { python3 -c 'import json, os, sys; env = os.environ; arg = sys.argv[2:] and sys.argv[2]; print(json.dumps(eval(sys.argv[1])))' "$@"; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
api() {
  local method=$1 path=$2 body=${3:-}
  curl -sS --fail-with-body -b "$jar" -c "$jar" -X "$method" \
    -H "origin: $url" -H 'content-type: application/json' \
    ${body:+--data-binary "$body"} "$url/api/v1$path"
}

api POST /auth/login "$(pyjson '{"email": env["LATHE_EMAIL"], "password": env["LATHE_PASSWORD"]}')" >/dev/null
ws=$(api POST /workspaces '{"name":"Demo"}' | field id)
echo "workspace $ws" >&2

config='{"host": env.get("PGHOST", "127.0.0.1"), "port": int(env.get("PGPORT", "5432")),
  "username": env.get("PGUSER", "postgres"), "database": env.get("PGDATABASE", "postgres"),
  "ssl_mode": "prefer", **({"password": env["PGPASSWORD"]} if env.get("PGPASSWORD") else {})}'
ds=$(api POST "/workspaces/$ws/datasources" \
  "$(pyjson "{'name': 'customers-db', 'plugin': 'postgres', 'config': $config}")" | field id)
echo "datasource $ds" >&2

# The builder's preview runs ad-hoc SQL on the datasource: make the demo table.
preview() {
  api POST "/workspaces/$ws/datasources/$ds/run" \
    "$(pyjson '{"operation": "sql", "query": {"sql": arg}}' "$1")" >/dev/null
}
preview 'create table if not exists customers (id serial primary key, name text not null, email text)'
preview "insert into customers (name, email) select * from (values
  ('Ada Lovelace', 'ada@example.com'), ('Grace Hopper', 'grace@example.com'),
  ('Alan Turing', 'alan@example.com')) v where not exists (select 1 from customers)"

# An export document wraps the example definition; import maps datasources by name.
document=$(pyjson '{"document": {"format": "lathe.app", "formatVersion": 1,
  "exportedAt": "2026-12-04T00:00:00Z", "app": {"name": "Customers", "slug": "customers"},
  "version": "draft", "definition": json.load(open(arg)), "datasources": ["customers-db"]}}' \
  examples/apps/customers.json)
api POST "/workspaces/$ws/apps/import" "$document" >/dev/null
api POST "/workspaces/$ws/apps/customers/release" '{"note":"first release"}' >/dev/null

# What a viewer's browser sends: the query's name and its inputs, never SQL.
api POST "/workspaces/$ws/apps/customers/queries/customers_list/run" '{"inputs":{"search":"a"}}'
echo
