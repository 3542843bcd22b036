#!/usr/bin/env bash
# Restarts the Kafka broker (for reliability tests and operators) and waits until the whole stack
# is ready again. Kafka Connect keeps running and reconnects by itself.
#   restart-broker.sh          graceful (SIGTERM)
#   restart-broker.sh --kill   crash it (SIGKILL), as a power loss would
#   restart-broker.sh --down N stop it, wait N seconds, start it
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

if [[ $mode == kill ]] && pid=$(pid_of broker); then
  say "broker: SIGKILL pid $pid"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  rm -f "$RUN_DIR/broker.pid"
else
  stop_role broker "${KAFKA_STOP_GRACE:-45}"
fi
((down > 0)) && { say "broker: staying down for ${down}s"; sleep "$down"; }
exec "$STACK_SCRIPTS/start.sh"
