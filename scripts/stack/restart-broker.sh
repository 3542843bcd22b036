#!/usr/bin/env bash
# Restarts the Kafka broker (for reliability tests and operators) and waits until the whole stack
# is ready again. Kafka Connect keeps running and reconnects by itself (its tasks restart after a
# rebalance: events written meanwhile arrive 10-20 s late, none is lost).
#   restart-broker.sh          graceful (SIGTERM)
#   restart-broker.sh --kill   crash it (SIGKILL), as a power loss would
#   restart-broker.sh --down N stop it, wait N seconds, start it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
restart_role broker "$@"
