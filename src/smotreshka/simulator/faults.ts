// Fault injection: rules that make matching platform calls slow, fail, hang or drop the
// connection. Rules are checked in the order they were added; every matching 'latency' rule adds
// its delay, and the first matching rule of any other kind decides the answer. A rule with `count`
// is removed after firing that many times.
import { z } from 'zod';

export const FAULT_KINDS = ['5xx', '429', 'latency', 'hang', '403', 'reset', 'respond'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultRuleInput = z
  .object({
    kind: z.enum(FAULT_KINDS),
    /** '5xx': 500..599 (default 500); 'respond': any status (default 200) */
    status: z.number().int().min(100).max(599).optional(),
    /** 'latency': the delay */
    ms: z.number().int().min(0).max(600_000).optional(),
    /** '429': the Retry-After header, in seconds (absent = no header) */
    retryAfter: z.number().int().min(0).max(86_400).optional(),
    /** 'respond': the body; a string is sent as is (text/plain), anything else as JSON */
    body: z.unknown().optional(),
    /** chance that a matching call is hit, 0..1 (default 1) */
    probability: z.number().min(0).max(1).optional(),
    /** fire this many times, then the rule removes itself */
    count: z.number().int().min(1).optional(),
    match: z
      .object({
        method: z.string().min(1).optional(),
        /** start of the path as sent (percent-encoded), e.g. `/v2/accounts` */
        pathPrefix: z.string().min(1).optional(),
        /** a regular expression tested against the path as sent */
        pathRegex: z.string().min(1).optional(),
        /** the account the call is about, by platform id */
        accountId: z.string().min(1).optional(),
        /** the account the call is about, by username (also the username of a create) */
        username: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.kind === 'latency' && r.ms === undefined)
      ctx.addIssue({ code: 'custom', message: "'latency' needs ms" });
    if (r.kind === '5xx' && r.status !== undefined && r.status < 500) {
      ctx.addIssue({ code: 'custom', message: "'5xx' status must be 500..599" });
    }
    if (r.match?.pathRegex !== undefined) {
      try {
        new RegExp(r.match.pathRegex);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'match.pathRegex is not a valid regular expression' });
      }
    }
  });

export type FaultRuleInput = z.infer<typeof faultRuleInput>;

export interface FaultRule extends FaultRuleInput {
  id: number;
  /** how many times it has fired */
  fired: number;
}

/** What a call is about, for matching. */
export interface FaultTarget {
  method: string;
  path: string;
  /** the `{id}` of the path, if any */
  ref?: string;
  /** the account `ref` resolves to, or the username a create asks for */
  account?: { id?: string; username?: string };
}

export interface FaultDecision {
  /** sum of matching 'latency' rules */
  delayMs: number;
  /** the rule that decides the answer, if any */
  rule?: FaultRule;
}

interface Held {
  ruleId: number;
  release(proceed: boolean): void;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private regexes = new Map<number, RegExp>();
  private nextId = 1;
  private held = new Set<Held>();

  constructor(private readonly random: () => number = Math.random) {}

  get active(): boolean {
    return this.rules.length > 0;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  add(input: FaultRuleInput): FaultRule {
    const rule: FaultRule = { ...input, id: this.nextId++, fired: 0 };
    if (input.match?.pathRegex) this.regexes.set(rule.id, new RegExp(input.match.pathRegex));
    this.rules.push(rule);
    return { ...rule };
  }

  /** Removes a rule and lets the calls it holds ('hang') go on. False if there was no such rule. */
  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    this.regexes.delete(id);
    this.releaseHeld((h) => h.ruleId === id, true);
    return this.rules.length !== before;
  }

  /** Removes every rule; held calls go on (or, when `drop`, are dropped without an answer). */
  clear(drop = false): number {
    const n = this.rules.length;
    this.rules = [];
    this.regexes.clear();
    this.releaseHeld(() => true, !drop);
    return n;
  }

  get heldCount(): number {
    return this.held.size;
  }

  decide(target: FaultTarget): FaultDecision {
    let delayMs = 0;
    for (const rule of this.rules) {
      if (!this.matches(rule, target)) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      this.fire(rule);
      if (rule.kind === 'latency') {
        delayMs += rule.ms ?? 0;
        continue;
      }
      return { delayMs, rule };
    }
    return { delayMs };
  }

  /**
   * Holds a call for a 'hang' rule: resolves true when the rule is cleared (the call then goes on),
   * false when `closed` fires first (the client gave up; the call is not applied).
   */
  hold(ruleId: number, onClose: (listener: () => void) => void): Promise<boolean> {
    return new Promise((resolve) => {
      const held: Held = {
        ruleId,
        release: (proceed) => {
          if (!this.held.delete(held)) return;
          resolve(proceed);
        },
      };
      this.held.add(held);
      onClose(() => held.release(false));
    });
  }

  private releaseHeld(which: (h: Held) => boolean, proceed: boolean): void {
    for (const h of [...this.held]) if (which(h)) h.release(proceed);
  }

  private fire(rule: FaultRule): void {
    rule.fired++;
    if (rule.count !== undefined && rule.fired >= rule.count) {
      // Exhausted: gone from the list, but calls it holds stay held until cleared explicitly.
      this.rules = this.rules.filter((r) => r !== rule);
      this.regexes.delete(rule.id);
    }
  }

  private matches(rule: FaultRule, t: FaultTarget): boolean {
    const m = rule.match;
    if (!m) return true;
    if (m.method !== undefined && m.method.toUpperCase() !== t.method) return false;
    if (m.pathPrefix !== undefined && !t.path.startsWith(m.pathPrefix)) return false;
    if (m.pathRegex !== undefined && !this.regexes.get(rule.id)?.test(t.path)) return false;
    if (m.accountId !== undefined && t.ref !== m.accountId && t.account?.id !== m.accountId) return false;
    if (m.username !== undefined && t.ref !== m.username && t.account?.username !== m.username) return false;
    return true;
  }
}
