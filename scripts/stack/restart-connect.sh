#!/usr/bin/env bash
# Restarts the Kafka Connect worker (for reliability tests and operators) and waits until it
# lists the Debezium connectors again. Registered connectors resume from their committed
# offsets (WAL/binlog position); events after the last offset commit are delivered again.
#   restart-connect.sh          graceful (SIGTERM: tasks stop and commit offsets)
#   restart-connect.sh --kill   crash it (SIGKILL)
#   restart-connect.sh --down N stop it, wait N seconds, start it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
restart_role connect "$@"
