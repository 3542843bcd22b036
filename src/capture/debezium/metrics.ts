// Debezium mode's metrics on the service's /metrics registry, read at scrape time from the
// connector watch (watch.ts) and the consumer: the connector's and tasks' state (one series per
// state, 1 for the current one), when a failure was last seen, restarts made, the heartbeat's age,
// the replication slot's retained WAL (PostgreSQL), and the partitions this member holds.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DebeziumCapture } from './capture.js';

const STATES = [
  'RUNNING',
  'FAILED',
  'PAUSED',
  'STOPPED',
  'UNASSIGNED',
  'RESTARTING',
  'MISSING',
  'UNREACHABLE',
];

export function registerDebeziumMetrics(registry: Registry, capture: DebeziumCapture): void {
  const snap = () => capture.watch.snapshot();
  new Gauge({
    name: 'lifestream_debezium_connector_state',
    help: 'the Debezium connector on Kafka Connect: 1 for its current state (MISSING = not registered, UNREACHABLE = Connect did not answer)',
    labelNames: ['connector', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const s = snap();
      if (s.state === null) return;
      for (const state of new Set([...STATES, s.state]))
        this.set({ connector: s.connector, state }, state === s.state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lifestream_debezium_task_state',
    help: "the connector's tasks: 1 for each task's current state",
    labelNames: ['connector', 'task', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const s = snap();
      for (const t of s.tasks)
        for (const state of new Set([...STATES.slice(0, 6), t.state]))
          this.set({ connector: s.connector, task: String(t.id), state }, state === t.state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lifestream_debezium_last_failure_timestamp_seconds',
    help: 'when the connector or a task was last seen FAILED (0 = never since start)',
    labelNames: ['connector'],
    registers: [registry],
    collect() {
      const s = snap();
      this.set({ connector: s.connector }, s.lastFailureAt ? s.lastFailureAt.getTime() / 1000 : 0);
    },
  });
  new Counter({
    name: 'lifestream_debezium_task_restarts_total',
    help: 'restarts of failed connector tasks made by this instance',
    labelNames: ['connector'],
    registers: [registry],
    collect() {
      this.reset();
      const s = snap();
      this.inc({ connector: s.connector }, s.restartsTotal);
    },
  });
  new Gauge({
    name: 'lifestream_debezium_heartbeat_age_seconds',
    help: "time since the connector's heartbeat topic last grew (counted from this instance's start)",
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      const h = snap().heartbeat;
      if (h.ageMs !== null) this.set({ topic: h.topic }, h.ageMs / 1000);
    },
  });
  new Gauge({
    name: 'lifestream_debezium_slot_retained_wal_bytes',
    help: 'PostgreSQL: WAL the replication slot holds back (warned above capture.connect.retainedWalWarnMb)',
    labelNames: ['slot'],
    registers: [registry],
    collect() {
      this.reset();
      const slot = snap().slot;
      if (slot?.retainedBytes != null) this.set({ slot: slot.slot }, slot.retainedBytes);
    },
  });
  new Gauge({
    name: 'lifestream_kafka_partitions_assigned',
    help: 'capture partitions this instance holds in the consumer group',
    registers: [registry],
    collect() {
      this.set(Object.values(capture.stats().assignment).reduce((n, p) => n + p.length, 0));
    },
  });
  new Gauge({
    name: 'lifestream_kafka_consuming',
    help: '1 once this instance has joined the consumer group',
    registers: [registry],
    collect() {
      this.set(capture.consumer.joined() ? 1 : 0);
    },
  });
}
