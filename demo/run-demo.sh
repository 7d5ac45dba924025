#!/usr/bin/env bash
# The Customer 360 demo, end to end on one machine (what `make compile-demo` runs):
#
#   platform team   compile manifests/acme -> test -> demo signing key -> publish signed
#                   to the embedded OCI layout demo/.registry
#   data team       floe init -> floe compile -> floe run (dbt build on DuckDB)
#   and then        the broken project: floe compile blocks it (exit 1), dbt never starts
#
# Re-runnable: every run starts from a clean registry, key and project state.
# Environment: FLOE (default .venv/bin/floe), PYTHON (default .venv/bin/python),
# FLOE_SIGNING_PASSWORD (default "demo": the demo key's password, never a real one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FLOE="${FLOE:-$ROOT/.venv/bin/floe}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export FLOE_SIGNING_PASSWORD="${FLOE_SIGNING_PASSWORD:-demo}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1

VERSION=v1.2.3
REGISTRY="oci-layout://$ROOT/demo/.registry/floe-platform"
BUILD="$ROOT/.floe/demo"            # the demo's platform sources (git-ignored)
ARTIFACTS="$BUILD/artifacts"        # the compiled platform tree
PROJECT="$ROOT/demo/customer-360"
BROKEN="$ROOT/demo/customer-360-broken"

if [ -t 1 ]; then BOLD=$'\033[1m' RESET=$'\033[0m'; else BOLD="" RESET=""; fi
banner() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }

remove() {  # cached platform trees are read-only: make them writable first
  for path in "$@"; do
    if [ -e "$path" ]; then chmod -R u+w "$path" && rm -rf "$path"; fi
  done
}

banner "Cleaning previous demo state"
remove demo/.registry demo/keys "$BUILD"
for project in "$PROJECT" "$BROKEN"; do
  remove "$project/.floe" "$project/target" "$project/logs" "$project/profiles.yml"
done

banner "Platform team: demo signing key"
mkdir -p demo/keys
"$FLOE" platform keygen --output-key-prefix demo/keys/cosign

# The acme manifest trusts ACME's release workflow only; the demo platform also trusts
# the demo key (a copy of the sources under .floe/demo, the committed manifest untouched).
mkdir -p "$BUILD/manifests" "$BUILD/policies"
cp -R manifests/acme "$BUILD/manifests/acme"
cp -R policies/acme "$BUILD/policies/acme"
sed -i "s|^  trusted_keys: \[\]|  trusted_keys: [\"$ROOT/demo/keys/cosign.pub\"]|" \
  "$BUILD/manifests/acme/manifest.yaml"
grep -q "demo/keys/cosign.pub" "$BUILD/manifests/acme/manifest.yaml" ||
  { echo "run-demo: could not add the demo key to the manifest copy" >&2; exit 2; }

banner "Platform team: floe platform compile"
"$FLOE" platform compile "$BUILD/manifests/acme/manifest.yaml" --out "$ARTIFACTS"

banner "Platform team: floe platform test"
"$FLOE" platform test --artifacts "$ARTIFACTS" --manifest-dir "$BUILD/manifests/acme"

banner "Platform team: floe platform publish $VERSION (signed with the demo key)"
"$FLOE" platform publish "$VERSION" --registry "$REGISTRY" --artifacts "$ARTIFACTS" \
  --key demo/keys/cosign.key

banner "Data team: floe init --platform=$VERSION"
(cd "$PROJECT" && "$FLOE" init --platform="$VERSION")

banner "Data team: floe compile"
(cd "$PROJECT" && "$FLOE" compile)

banner "Data team: floe run (dbt build on DuckDB)"
(cd "$PROJECT" && "$FLOE" run)

banner "Broken project: floe compile blocks it (exit 1 expected)"
(cd "$BROKEN" && "$FLOE" init --platform="$VERSION" >/dev/null)
status=0
(cd "$BROKEN" && "$FLOE" compile) || status=$?
if [ "$status" -ne 1 ]; then
  echo "run-demo: expected floe compile to block the broken project (exit 1), got $status" >&2
  exit 1
fi
status=0
(cd "$BROKEN" && "$FLOE" run) >/dev/null 2>&1 || status=$?
if [ "$status" -ne 1 ] || [ -e "$BROKEN/target/run_results.json" ]; then
  echo "run-demo: floe run must refuse the broken project before dbt starts" >&2
  exit 1
fi
echo "floe run refused the broken project too: dbt never started."

banner "Where to look"
DB="$PROJECT/target/customer_360.duckdb"
cat <<EOF
  Signed platform      demo/.registry/floe-platform (OCI image layout, $VERSION)
  Locked platform      demo/customer-360/.floe/cache/artifacts.lock
  Compile report       demo/customer-360/target/floe/compiled.json (+ junit.xml, findings.sarif)
  Run record           demo/customer-360/target/floe/run.json
  Warehouse            ${DB#"$ROOT/"}
  Violations           demo/customer-360-broken/target/floe/findings.json

Top customers in gold.gold_customer_360:
EOF
"$PYTHON" - "$DB" <<'EOF'
import sys

import duckdb

with duckdb.connect(sys.argv[1], read_only=True) as con:
    rows = con.execute(
        "select customer_id, segment, customer_tier, order_count, lifetime_revenue "
        "from gold.gold_customer_360 order by lifetime_revenue desc, customer_id limit 5"
    ).fetchall()
print(f"  {'customer':>8}  {'segment':<15} {'tier':<9} {'orders':>6} {'revenue':>10}")
for customer_id, segment, tier, orders, revenue in rows:
    print(f"  {customer_id:>8}  {segment:<15} {tier:<9} {orders:>6} {revenue:>10}")
EOF
