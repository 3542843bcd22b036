// Kafka Connect's REST API, as far as `migrate` and `doctor` need it: register (create or update
// in place) the connector and wait until it runs, read its state, remove it with its offsets.
//
// Kafka Connect 4.3 answers a bare 500 (`Cannot invoke "…ConfigValueInfo.errors()"…`) when a
// Debezium 3.6 config has any validation error, a wrong password or an unreachable database among
// them (KAFKA-20693). On any refusal the config is sent to `…/config/validate`, which still names
// the real errors, and those are what the operator reads. Nothing here logs the config, and every
// message built from Connect's answers has the password scrubbed out.
import { type ConnectorPlan, scrub } from './connector.js';

export interface ConnectorState {
  connector: string;
  tasks: { id: number; state: string; trace?: string }[];
}

export class ConnectError extends Error {
  override name = 'ConnectError';
}

export interface RegisterOptions {
  /** how long to wait for the connector and its task to run (default 60 s) */
  waitMs?: number;
  /** progress lines for the operator */
  onProgress?: (line: string) => void;
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
    await this.waitRunning(plan, opts.waitMs ?? 60_000);
    return verb;
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
      connector: { state: string };
      tasks?: { id: number; state: string; trace?: string }[];
    };
    return { connector: s.connector.state, tasks: s.tasks ?? [] };
  }

  private async waitRunning(plan: ConnectorPlan, waitMs: number): Promise<void> {
    const end = Date.now() + waitMs;
    let last = 'unknown';
    for (;;) {
      const s = await this.status(plan.name).catch(() => null);
      if (s) {
        const failed =
          s.connector === 'FAILED' ? { trace: undefined } : s.tasks.find((t) => t.state === 'FAILED');
        if (failed) {
          const trace = (failed.trace ?? '').split('\n').slice(0, 12).join('\n');
          throw new ConnectError(
            scrub(`connector ${plan.name} FAILED${trace ? `:\n${trace}` : ''}`, plan.secrets),
          );
        }
        last = [s.connector, ...s.tasks.map((t) => t.state)].join(',');
        if (s.connector === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING'))
          return;
      }
      if (Date.now() > end)
        throw new ConnectError(
          `connector ${plan.name} is not RUNNING after ${Math.round(waitMs / 1000)} s (state ${last}); see the Connect worker's log`,
        );
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
