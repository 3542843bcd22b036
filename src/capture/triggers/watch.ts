// `run` in trigger mode keeps an eye on its capture objects: a LANBilling upgrade may drop the
// triggers it doesn't know, or the triggers' definer may be dropped, while the service runs. Every
// `intervalMs` (and at start) it checks (src/capture/triggers/checks.ts), logs each problem as an
// error, and keeps the result for /health. Periodic, not per reconcile: a dropped trigger is one
// error a minute, not one per change.
import type { Logger } from '../../log.js';

export class CaptureWatch {
  private timer: NodeJS.Timeout | null = null;
  private last: string[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: { check: () => Promise<string[]>; logger: Logger; intervalMs?: number },
  ) {}

  start(): void {
    if (this.timer) return;
    this.running = this.tick();
    this.timer = setInterval(() => {
      this.running ??= this.tick();
    }, this.deps.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The problems the last check found (empty = capture in place). */
  problems(): string[] {
    return [...this.last];
  }

  private async tick(): Promise<void> {
    try {
      this.last = await this.deps.check();
      for (const problem of this.last) this.deps.logger.error({ problem }, 'trigger capture is broken');
    } catch (err) {
      // the database being unreachable is reported by /health on its own
      this.deps.logger.warn({ err: (err as Error).message }, 'cannot check the capture triggers');
    } finally {
      this.running = null;
    }
  }
}
