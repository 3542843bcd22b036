#!/usr/bin/env bash
# Registers (or updates) a Debezium connector on Kafka Connect from a template of connectors/
# and waits until the connector and its task run.
#
#   register-connector.sh <postgres|mysql|mariadb> <db-name> [topic-prefix]
#
# PUT /connectors/{name}/config is idempotent: running it again with other values updates the
# connector in place. The connector name is $CONNECTOR_NAME, else lifestream-<type>-<db-name>.
# Every other placeholder of the template comes from the environment (see connectors/README.md),
# e.g. DB_HOST DB_PORT DB_USER DB_PASSWORD SLOT_NAME PUBLICATION_NAME SNAPSHOT_MODE.
# DB_SERVER_ID (MySQL/MariaDB), when unset, is derived from the connector name so that two
# connectors on one server don't take each other's replication client id.
# Env: CONNECT_URL (default http://127.0.0.1:$CONNECT_PORT), REGISTER_TIMEOUT [60] seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONNECT_URL=${LIFESTREAM_CONNECT_URL:-$CONNECT_URL}

usage() { die "usage: $0 <postgres|mysql|mariadb> <db-name> [topic-prefix]"; }
(($# >= 2 && $# <= 3)) || usage
type=$1
case $type in postgres | mysql | mariadb) ;; *) usage ;; esac
template=$REPO_ROOT/connectors/$type.json
[[ -f $template ]] || die "no template $template"

export DB_NAME=$2
[[ $# -eq 3 ]] && export TOPIC_PREFIX=$3
name=${CONNECTOR_NAME:-lifestream-$type-$DB_NAME}
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "connector name '$name' may hold only letters, digits, '.', '_' and '-'"
if [[ $type != postgres && -z ${DB_SERVER_ID:-} ]]; then
  # 100000..1073841823: clear of the small ids servers themselves use
  DB_SERVER_ID=$((100000 + $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 1073741824))
  export DB_SERVER_ID
fi
: "${REGISTER_TIMEOUT:=60}"

config=$(node "$STACK_SCRIPTS/render-connector.mjs" "$template") || die "could not render $template"
say "registering connector $name ($type, database $DB_NAME, topic prefix ${TOPIC_PREFIX:-lanbilling}) on $CONNECT_URL"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
code=$(curl -sS -o "$body" -w '%{http_code}' --max-time 30 -X PUT -H 'Content-Type: application/json' \
  --data-binary "$config" "$CONNECT_URL/connectors/$name/config") ||
  die "Kafka Connect does not answer at $CONNECT_URL (scripts/stack/start.sh?)"
case $code in
  200) say "updated the configuration of $name" ;;
  201) say "created $name" ;;
  *)
    # Connect 4.3 answers a bare 500 (NullPointerException in AbstractHerder.maybeAddConfigErrors)
    # when a Debezium 3.6 connector's config has errors; the validate endpoint names them.
    class=$(node -e 'console.log(JSON.parse(process.argv[1])["connector.class"])' "$config")
    errors=$(curl -sS --max-time 60 -X PUT -H 'Content-Type: application/json' \
      --data-binary "$(node -e 'const c = JSON.parse(process.argv[1]); c.name = process.argv[2]; console.log(JSON.stringify(c))' "$config" "$name")" \
      "$CONNECT_URL/connector-plugins/${class##*.}/config/validate" | node -e '
        let r; try { r = JSON.parse(require("fs").readFileSync(0, "utf8")); } catch { process.exit(0); }
        for (const c of r.configs || []) for (const e of (c.value && c.value.errors) || []) console.log(`  ${c.value.name}: ${e}`);' || true)
    die "PUT /connectors/$name/config answered $code: $(cat "$body")${errors:+$'\n'configuration errors:$'\n'$errors}"
    ;;
esac

# Wait for RUNNING; a FAILED connector or task ends the wait with its trace.
deadline=$((SECONDS + REGISTER_TIMEOUT))
while :; do
  status=$(curl -fsS --max-time 5 "$CONNECT_URL/connectors/$name/status" 2>/dev/null || true)
  verdict=$(node -e '
    let s; try { s = JSON.parse(process.argv[1]); } catch { console.log("wait"); process.exit(0); }
    const states = [s.connector.state, ...(s.tasks || []).map((t) => t.state)];
    const failed = [s.connector, ...(s.tasks || [])].find((x) => x.state === "FAILED");
    if (failed) console.log("failed " + (failed.trace || "").split("\n").slice(0, 12).join("\n"));
    else if ((s.tasks || []).length > 0 && states.every((x) => x === "RUNNING")) console.log("running");
    else console.log("wait " + states.join(","));' "${status:-x}")
  case $verdict in
    running) break ;;
    failed*) die "connector $name FAILED: ${verdict#failed }" ;;
  esac
  ((SECONDS < deadline)) || die "connector $name is not RUNNING after ${REGISTER_TIMEOUT}s (${verdict#wait }); see $LOG_DIR/connect.log"
  sleep 0.5
done
say "connector $name is RUNNING"
