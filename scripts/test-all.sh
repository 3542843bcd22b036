#!/usr/bin/env bash
# The full test suite as CI and a newcomer run it: makes sure PostgreSQL and MariaDB run with the
# settings change capture needs, starts a MariaDB 10.1 (a MySQL-5.6-class server with STATEMENT
# binlog, scripts/ci/legacy-mariadb.sh) and the local Kafka + Kafka Connect + Debezium stack (both
# fetched from Maven Central on first use) for the end-to-end tests, then runs every test once.
# Ends with one plain line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ci/ensure-databases.sh
bash scripts/ci/legacy-mariadb.sh start
bash scripts/stack/start.sh

mkdir -p .ci/out
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.ci/out/vitest.json "$@" || status=$?

if [ -f .ci/out/vitest.json ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(".ci/out/vitest.json", "utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
  '
fi
exit "$status"
