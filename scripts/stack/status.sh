#!/usr/bin/env bash
# Shows whether the broker and Kafka Connect run and answer, and the registered connectors with
# their state. Exit status 0 when both are ready, 3 when not (like an init script's status).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rc=0
if pid=$(pid_of broker); then
  if broker_ready; then say "broker:  running (pid $pid), $KAFKA_HOST:$KAFKA_PORT answers"
  else say "broker:  running (pid $pid) but not ready yet"; rc=3; fi
elif port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
  say "broker:  not started by these scripts, but something listens on $KAFKA_HOST:$KAFKA_PORT"
else
  say "broker:  stopped"; rc=3
fi

if pid=$(pid_of connect); then
  if connect_ready; then say "connect: running (pid $pid), $CONNECT_URL lists the Debezium connectors"
  else say "connect: running (pid $pid) but not ready yet"; rc=3; fi
elif connect_plugins >/dev/null; then
  say "connect: not started by these scripts, but $CONNECT_URL answers"
else
  say "connect: stopped"; rc=3
fi

if states=$(curl -fsS --max-time 5 "$CONNECT_URL/connectors?expand=status" 2>/dev/null); then
  # one line per connector: name, connector state, task states (no jq needed)
  node -e '
    const s = JSON.parse(process.argv[1]);
    const names = Object.keys(s).sort();
    if (!names.length) console.log("[stack] connectors: none registered");
    for (const n of names) {
      const st = s[n].status;
      const tasks = (st.tasks || []).map((t) => `task ${t.id} ${t.state}`).join(", ") || "no tasks";
      console.log(`[stack] connector ${n}: ${st.connector.state} (${st.type}), ${tasks}`);
    }' "$states" 2>/dev/null || say "connectors: $states"
fi
say "logs: $LOG_DIR"
exit $rc
