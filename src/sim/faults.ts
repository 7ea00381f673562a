/**
 * Fault injection and request counters. Rules are matched by endpoint key (method + route
 * template, e.g. `POST /servers/{id}/action`), optionally narrowed to one server action;
 * which matching request fails is drawn from the seeded generator, so a seeded run fails the
 * same requests every time.
 */
import { z } from 'zod';
import type { SeededRandom } from './random.js';

export const faultRuleSchema = z
  .object({
    /** Endpoint key, `*` for every endpoint, or a prefix ending in `*` (e.g. `GET /servers*`). */
    endpoint: z.string().min(1).default('*'),
    /** For `POST /servers/{id}/action`: only requests for this action (e.g. `os-migrateLive`). */
    action: z.string().min(1).optional(),
    /** Fraction of matching requests that fail: 0 never, 1 always. */
    errorRate: z.number().min(0).max(1).default(1),
    /** HTTP status of an injected failure, or `timeout`: the request is accepted and never answered. */
    error: z.union([z.number().int().min(400).max(599), z.literal('timeout')]).optional(),
    /** Latency added to every matching request, in real milliseconds (not scaled). */
    latencyMs: z.number().nonnegative().default(0),
    /** Stop injecting errors after this many (latency keeps applying until the rule is removed). */
    count: z.number().int().positive().optional(),
    /** Message in the injected error body. */
    message: z.string().min(1).optional(),
  })
  .strict()
  .refine((rule) => rule.error !== undefined || rule.latencyMs > 0, {
    message: 'a fault rule needs an `error` (status or "timeout") or a `latencyMs`',
  });

export type FaultRuleInput = z.input<typeof faultRuleSchema>;
export type FaultRule = z.output<typeof faultRuleSchema> & { id: number; injected: number };

export interface FaultDecision {
  latencyMs: number;
  error: { status: number; message: string } | 'timeout' | null;
  ruleId: number | null;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;

  constructor(private readonly random: SeededRandom) {}

  add(input: FaultRuleInput): FaultRule {
    const parsed = faultRuleSchema.parse(input);
    const rule: FaultRule = { ...parsed, id: this.nextId++, injected: 0 };
    this.rules.push(rule);
    return rule;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  decide(endpoint: string, action: string | null): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, error: null, ruleId: null };
    for (const rule of this.rules) {
      if (!endpointMatches(rule.endpoint, endpoint)) continue;
      if (rule.action !== undefined && rule.action !== action) continue;
      decision.latencyMs += rule.latencyMs;
      if (decision.error || rule.error === undefined) continue;
      if (rule.count !== undefined && rule.injected >= rule.count) continue;
      if (!this.random.chance(rule.errorRate)) continue;
      rule.injected += 1;
      decision.ruleId = rule.id;
      decision.error =
        rule.error === 'timeout'
          ? 'timeout'
          : { status: rule.error, message: rule.message ?? defaultMessage(rule.error) };
    }
    return decision;
  }
}

function endpointMatches(pattern: string, endpoint: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return endpoint.startsWith(pattern.slice(0, -1));
  return pattern === endpoint;
}

function defaultMessage(status: number): string {
  if (status >= 500) {
    return "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'oslo_messaging.exceptions.MessagingTimeout'>";
  }
  if (status === 409) return 'Simulated conflict (injected fault).';
  return `Simulated HTTP ${status} (injected fault).`;
}

export interface RequestCounters {
  /** Requests by endpoint key (`GET /servers/detail`, `POST /identity/v3/auth/tokens`, ...). */
  requests: Record<string, number>;
  /** `POST /servers/{id}/action` requests by action name. */
  actions: Record<string, number>;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** Errors injected by fault rules, by endpoint key. */
  injectedFaults: Record<string, number>;
  total: number;
}

export function emptyRequestCounters(): RequestCounters {
  return { requests: {}, actions: {}, statuses: {}, injectedFaults: {}, total: 0 };
}
