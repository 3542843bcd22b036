// Kafka Connect's REST API, as far as `migrate` and `doctor` need it: register (create or update
// in place) the connector and wait until it runs, read its state, remove it with its offsets.
//
// Kafka Connect 4.3 answers a bare 500 (`Cannot invoke "…ConfigValueInfo.errors()"…`) when a
// Debezium 3.6 config has any validation error, a wrong password or an unreachable database among
// them (KAFKA-20693). On any refusal the config is sent to `…/config/validate`, which still names
// the real errors, and those are what the operator reads. Nothing here logs the config, and every
// message built from Connect's answers has the password scrubbed out.
import { BINLOG_LOST_ADVICE, binlogPositionLost, rootCause } from './cause.js';
import { type ConnectorPlan, scrub } from './connector.js';

export interface ConnectorState {
  connector: string;
  /** the connector instance's own failure trace, when it FAILED */
  connectorTrace?: string;
  /** the worker running it */
  workerId?: string;
  tasks: { id: number; state: string; trace?: string }[];
}

export class ConnectError extends Error {
  override name = 'ConnectError';
}

export interface RegisterOptions {
  /** how long to wait for the connector and its task to run (default 60 s) */
  waitMs?: number;
  /** how long they must then stay RUNNING (a task that fails a second later is not running; default 0) */
  settleMs?: number;
  /** progress lines for the operator */
  onProgress?: (line: string) => void;
  /** the full Java trace of a failure (debug level), scrubbed */
  onTrace?: (trace: string) => void;
}

/** One line on a FAILED task: its root cause, and what a lost binlog position means. */
export function failureLine(trace: string | undefined): string {
  const cause = rootCause(trace) ?? 'no trace (see the Connect worker log)';
  return binlogPositionLost(trace) ? `${BINLOG_LOST_ADVICE} (${cause})` : cause;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ConnectClient {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.url.replace(/\/$/, '')}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ConnectError(
        `Kafka Connect does not answer at ${this.url} (${(err as Error).message}): is it running? (capture.connect.url)`,
      );
    }
    return { status: res.status, text: await res.text() };
  }

  /** Creates or updates the connector (PUT …/config is idempotent) and waits until it runs. */
  async register(plan: ConnectorPlan, opts: RegisterOptions = {}): Promise<'created' | 'updated'> {
    const { status, text } = await this.call(
      'PUT',
      `/connectors/${encodeURIComponent(plan.name)}/config`,
      plan.config,
    );
    if (status !== 200 && status !== 201) {
      const errors = await this.validationErrors(plan).catch(() => [] as string[]);
      const detail = errors.length
        ? `\nconfiguration errors:\n  ${errors.join('\n  ')}`
        : `: ${text.slice(0, 500)}`;
      throw new ConnectError(
        scrub(`Kafka Connect refused connector ${plan.name} (HTTP ${status})${detail}`, plan.secrets),
      );
    }
    const verb = status === 201 ? 'created' : 'updated';
    opts.onProgress?.(`connector ${plan.name} ${verb} on ${this.url}; waiting until it runs`);
    await this.waitRunning(plan, opts.waitMs ?? 60_000, opts);
    if ((opts.settleMs ?? 0) > 0) {
      opts.onProgress?.(
        `connector ${plan.name} RUNNING; checking that it stays so for ${Math.round(opts.settleMs! / 1000)} s`,
      );
      await this.waitRunning(plan, opts.settleMs!, opts, true);
    }
    return verb;
  }

  /** The connector's stored config (what Connect keeps in its config topic); null when there is none. */
  async connectorConfig(name: string): Promise<Record<string, string> | null> {
    const { status, text } = await this.call('GET', `/connectors/${encodeURIComponent(name)}/config`);
    if (status === 404) return null;
    if (status !== 200)
      throw new ConnectError(`GET /connectors/${name}/config answered ${status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, string>;
  }

  /** The connector's committed source offsets (KIP-875): MySQL/MariaDB `{file, pos, gtids…}`, PostgreSQL `{lsn…}`. */
  async sourceOffsets(name: string): Promise<Record<string, unknown>[] | null> {
    const { status, text } = await this.call('GET', `/connectors/${encodeURIComponent(name)}/offsets`);
    if (status !== 200) return null;
    const body = JSON.parse(text) as { offsets?: { offset?: Record<string, unknown> }[] };
    return (body.offsets ?? []).map((o) => o.offset ?? {});
  }

  /** Restarts the connector's failed instances (connector and tasks) and nothing that runs. */
  async restartFailed(name: string): Promise<void> {
    const { status, text } = await this.call(
      'POST',
      `/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=true`,
    );
    if (status >= 300)
      throw new ConnectError(`POST /connectors/${name}/restart answered ${status}: ${text.slice(0, 300)}`);
  }

  /** The real reasons behind a refusal, from the validate endpoint (one line per error). */
  async validationErrors(plan: ConnectorPlan): Promise<string[]> {
    const cls = plan.config['connector.class'] ?? '';
    const simple = cls.slice(cls.lastIndexOf('.') + 1);
    const { status, text } = await this.call(
      'PUT',
      `/connector-plugins/${encodeURIComponent(simple)}/config/validate`,
      {
        ...plan.config,
        name: plan.name,
      },
    );
    if (status !== 200) return [];
    const report = JSON.parse(text) as { configs?: { value?: { name?: string; errors?: string[] } }[] };
    return (report.configs ?? []).flatMap((c) =>
      (c.value?.errors ?? []).map((e) => `${c.value?.name}: ${e}`),
    );
  }

  async status(name: string): Promise<ConnectorState | null> {
    const { status, text } = await this.call('GET', `/connectors/${encodeURIComponent(name)}/status`);
    if (status === 404) return null;
    if (status !== 200)
      throw new ConnectError(`GET /connectors/${name}/status answered ${status}: ${text.slice(0, 300)}`);
    const s = JSON.parse(text) as {
      connector: { state: string; trace?: string; worker_id?: string };
      tasks?: { id: number; state: string; trace?: string }[];
    };
    return {
      connector: s.connector.state,
      connectorTrace: s.connector.trace,
      workerId: s.connector.worker_id,
      tasks: s.tasks ?? [],
    };
  }

  /**
   * Until the connector and every task are RUNNING (or, `settle`, for as long as they stay so):
   * a FAILED one ends the wait with its root cause in one line, the trace goes to `onTrace`.
   */
  private async waitRunning(
    plan: ConnectorPlan,
    waitMs: number,
    opts: RegisterOptions,
    settle = false,
  ): Promise<void> {
    const end = Date.now() + waitMs;
    let last = 'unknown';
    for (;;) {
      const s = await this.status(plan.name).catch(() => null);
      if (s) {
        const failed =
          s.connector === 'FAILED'
            ? { id: 'connector', trace: s.connectorTrace }
            : s.tasks.find((t) => t.state === 'FAILED');
        if (failed) {
          if (failed.trace) opts.onTrace?.(scrub(failed.trace, plan.secrets));
          const which = failed.id === 'connector' ? 'connector' : `task ${failed.id}`;
          throw new ConnectError(
            scrub(
              `connector ${plan.name}: ${which} FAILED${settle ? ' after starting' : ''}: ${failureLine(failed.trace)}`,
              plan.secrets,
            ),
          );
        }
        last = [s.connector, ...s.tasks.map((t) => t.state)].join(',');
        const running =
          s.connector === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
        if (running && !settle) return;
        if (!running && settle)
          throw new ConnectError(
            `connector ${plan.name} left RUNNING after starting (state ${last}); see \`lbcore-lifestream doctor\` and the Connect worker's log`,
          );
      }
      if (Date.now() > end) {
        if (settle) return;
        throw new ConnectError(
          `connector ${plan.name} is not RUNNING after ${Math.round(waitMs / 1000)} s (state ${last}); see the Connect worker's log`,
        );
      }
      await sleep(500);
    }
  }

  /**
   * Stops the connector, forgets its source offsets (so that one registered again under the same
   * name starts afresh instead of at a WAL/binlog position that is gone) and deletes it.
   * False when there was no such connector.
   */
  async remove(name: string): Promise<boolean> {
    const path = `/connectors/${encodeURIComponent(name)}`;
    const stop = await this.call('PUT', `${path}/stop`);
    if (stop.status === 404) return false;
    if (stop.status < 300) {
      for (let i = 0; i < 60; i++) {
        if ((await this.status(name))?.connector === 'STOPPED') break;
        await sleep(250);
      }
      // best effort: a connector that never committed offsets answers an error here
      await this.call('DELETE', `${path}/offsets`);
    }
    const del = await this.call('DELETE', path);
    if (del.status >= 300 && del.status !== 404)
      throw new ConnectError(`DELETE ${path} answered ${del.status}: ${del.text.slice(0, 300)}`);
    return true;
  }
}
