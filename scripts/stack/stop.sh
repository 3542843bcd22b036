#!/usr/bin/env bash
# Stops the local stack: Kafka Connect first, then the broker. SIGTERM (graceful: Connect commits
# offsets, the broker closes its logs cleanly), SIGKILL after a grace period.
#   stop.sh          stop both
#   stop.sh --wipe   stop both and delete the Kafka data (.stack/data): topics, offsets,
#                    registered connectors; the jars stay
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wipe=0
case ${1:-} in
  --wipe) wipe=1 ;;
  "") ;;
  *) die "usage: $0 [--wipe]" ;;
esac

stop_role connect "${CONNECT_STOP_GRACE:-30}"
stop_role broker "${KAFKA_STOP_GRACE:-45}"
if ((wipe)); then
  rm -rf "$STACK_DIR/data"
  say "wiped $STACK_DIR/data"
fi
