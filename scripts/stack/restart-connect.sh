#!/usr/bin/env bash
# Restarts the Kafka Connect worker (for reliability tests and operators) and waits until it
# lists the Debezium connectors again. Registered connectors resume from their committed
# offsets (WAL/binlog position); events after the last offset commit are delivered again.
#   restart-connect.sh          graceful (SIGTERM: tasks stop and commit offsets)
#   restart-connect.sh --kill   crash it (SIGKILL)
#   restart-connect.sh --down N stop it, wait N seconds, start it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=term down=0
while (($#)); do
  case $1 in
    --kill) mode=kill ;;
    --down) down=${2:?--down needs seconds}; shift ;;
    *) die "usage: $0 [--kill] [--down SECONDS]" ;;
  esac
  shift
done

if [[ $mode == kill ]] && pid=$(pid_of connect); then
  say "connect: SIGKILL pid $pid"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  rm -f "$RUN_DIR/connect.pid"
else
  stop_role connect "${CONNECT_STOP_GRACE:-30}"
fi
((down > 0)) && { say "connect: staying down for ${down}s"; sleep "$down"; }
exec "$STACK_SCRIPTS/start.sh"
