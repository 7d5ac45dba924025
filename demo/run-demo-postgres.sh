#!/usr/bin/env bash
# Customer 360 on a server warehouse (what `make demo-postgres` runs): the same loop as
# run-demo.sh, with the platform's compute plugin set to postgres. It starts a private
# PostgreSQL on 127.0.0.1 (initdb into a temp folder, a free port), runs
#
#   platform team   compile (compute: postgres, create_roles) -> publish signed
#   data team       floe init -> floe compile -> floe run: dbt build on PostgreSQL, then
#                   the platform's grants applied as real GRANTs and verified
#   and then        a privilege granted by hand is caught by the next floe run (exit 1)
#
# and stops the server again. Needs Debian's postgresql and dbt-postgres (make dev).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FLOE="${FLOE:-$ROOT/.venv/bin/floe}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export FLOE_SIGNING_PASSWORD="${FLOE_SIGNING_PASSWORD:-demo}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1 FLOE_POSTGRES_PASSWORD=""

VERSION=v1.2.3
BUILD="$ROOT/.floe/demo-postgres"
REGISTRY="oci-layout://$BUILD/registry/floe-platform"
PROJECT="$BUILD/customer-360"

if [ -t 1 ]; then BOLD=$'\033[1m' RESET=$'\033[0m'; else BOLD="" RESET=""; fi
banner() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
remove() { for p in "$@"; do if [ -e "$p" ]; then chmod -R u+w "$p" && rm -rf "$p"; fi; done; }

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PGBIN/initdb" ] || { echo "demo-postgres: install Debian's postgresql" >&2; exit 2; }
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGROOT="$(mktemp -d /tmp/floe-demo-pg.XXXXXX)"
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
[ "$(id -u)" = 0 ] && chown postgres "$PGROOT"
stop_server() {
  as_server "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGROOT"
}
trap stop_server EXIT

banner "Starting PostgreSQL on 127.0.0.1:$PORT"
as_server "$PGBIN/initdb" -D "$PGROOT/data" -U floe --auth=trust -E UTF8 >/dev/null
as_server "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGROOT" start >/dev/null

banner "Platform team: the acme platform on PostgreSQL"
remove "$BUILD"
mkdir -p "$BUILD/manifests" "$BUILD/policies" "$BUILD/keys"
cp -R manifests/acme "$BUILD/manifests/acme"
cp -R policies/acme "$BUILD/policies/acme"
"$FLOE" platform keygen --output-key-prefix "$BUILD/keys/cosign" >/dev/null
"$PYTHON" - "$BUILD/manifests/acme/manifest.yaml" "$PORT" "$BUILD/keys/cosign.pub" <<'PY'
import sys

import yaml

path, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, encoding="utf-8") as f:
    source = yaml.safe_load(f)
source["plugins"]["compute"] = {
    "type": "postgres",
    "version": ">=1.9,<2",
    "config": {"host": "127.0.0.1", "port": port, "user": "floe", "dbname": "postgres",
               "schema": "public", "threads": 4, "create_roles": True,
               "password": "${env:FLOE_POSTGRES_PASSWORD}"},
}
source["security"]["trusted_keys"] = [key]
with open(path, "w", encoding="utf-8") as f:
    yaml.safe_dump(source, f, sort_keys=False)
PY
"$FLOE" platform compile "$BUILD/manifests/acme/manifest.yaml" --out "$BUILD/artifacts"
"$FLOE" platform publish "$VERSION" --registry "$REGISTRY" --artifacts "$BUILD/artifacts" \
  --key "$BUILD/keys/cosign.key"

banner "Data team: floe init, compile, run on PostgreSQL"
cp -R demo/customer-360 "$PROJECT"
remove "$PROJECT/.floe" "$PROJECT/target" "$PROJECT/logs" "$PROJECT/profiles.yml"
cat >"$PROJECT/floe.yaml" <<YAML
platform:
  ref: $REGISTRY:$VERSION
  version: $VERSION
security:
  require_signed_artifacts: true
  trusted_keys: [$BUILD/keys/cosign.pub]
YAML
(cd "$PROJECT" && "$FLOE" init --platform="$VERSION")
(cd "$PROJECT" && "$FLOE" compile)
(cd "$PROJECT" && "$FLOE" run)

banner "Someone grants a privilege by hand: the next floe run catches it (exit 1 expected)"
"$PYTHON" - "$PORT" <<'PY'
import sys

import psycopg2

with psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="floe", dbname="postgres") as c:
    c.cursor().execute("GRANT CREATE ON SCHEMA gold TO analyst")
PY
status=0
(cd "$PROJECT" && "$FLOE" run -- --select bronze_customers) >"$BUILD/drift.log" 2>&1 || status=$?
grep -E "error\[warehouse|Warehouse drift" "$BUILD/drift.log" || true
if [ "$status" -ne 1 ]; then
  echo "demo-postgres: expected the grant drift to fail floe run (exit 1), got $status" >&2
  exit 1
fi
echo "The hand-made grant was caught; the run record is $PROJECT/target/floe/run.json"
