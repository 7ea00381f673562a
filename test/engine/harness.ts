/**
 * Starts the simulated cloud, a real compute client over HTTP and an engine on a temporary
 * SQLite file: the setup every engine integration test shares.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createComputeClient, type ComputeClientOptions } from '../../src/nova/compute-client.js';
import type { ComputeApi } from '../../src/nova/types.js';
import type { ControlContext } from '../../src/engine/api.js';
import { createEngine, type EngineOptions, type EvacuationEngine } from '../../src/engine/engine.js';
import { SqliteRunStore } from '../../src/engine/store-sqlite.js';
import type { RunStore } from '../../src/engine/store.js';
import type { EngineEvent, EvacuationRun, RunState, ServerRunState } from '../../src/engine/types.js';
import { startSimCloud, type SimCloud, type SimCloudOptions } from '../../src/sim/index.js';

export const quietLogger = pino({ level: process.env.ENGINE_TEST_LOG ?? 'silent' });

export interface HarnessOptions {
  sim?: SimCloudOptions;
  engine?: Partial<Omit<EngineOptions, 'compute' | 'store'>>;
  /** Options for the compute client (e.g. a short request timeout). */
  client?: Partial<ComputeClientOptions>;
  /** Wraps the store (e.g. to crash it after N writes). */
  wrapStore?: (store: RunStore) => RunStore;
}

export interface Harness {
  sim: SimCloud;
  compute: ComputeApi;
  engine: EvacuationEngine;
  dbPath: string;
  events: EngineEvent[];
  /** A fresh engine on the same database (after a crash or close). */
  restart(options?: HarnessOptions): Promise<EvacuationEngine>;
  close(): Promise<void>;
}

/** Fast defaults for tests against the simulator (timeScale ~0.01: a 5 s move takes ~50 ms). */
export const FAST_ENGINE: Partial<EngineOptions> = {
  pollIntervalMs: 25,
  logger: quietLogger,
  verificationGraceMs: 2_000,
  timeoutsMs: { 'live-migrate': 30_000, 'cold-migrate': 30_000, evacuate: 30_000 },
};

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sim = await startSimCloud({ timeScale: 0.01, seed: 7, ...options.sim });
  const compute = createComputeClient(sim.credentials, {
    logger: quietLogger,
    changesBackdateMs: 2_000,
    ...options.client,
  });
  const dir = mkdtempSync(join(tmpdir(), 'engine-test-'));
  const dbPath = join(dir, 'runs.db');
  const events: EngineEvent[] = [];
  let engine = makeEngine(options);

  function makeEngine(opts: HarnessOptions): EvacuationEngine {
    const base = new SqliteRunStore({ path: dbPath });
    const store = opts.wrapStore ? opts.wrapStore(base) : base;
    const created = createEngine({ compute, store, ...FAST_ENGINE, ...opts.engine });
    created.subscribe((event) => events.push(event));
    return created;
  }

  const harness: Harness = {
    sim,
    compute,
    get engine() {
      return engine;
    },
    dbPath,
    events,
    async restart(opts = {}) {
      await engine.close().catch(() => undefined);
      engine = makeEngine({ engine: options.engine, ...opts });
      return engine;
    },
    async close() {
      await engine.close().catch(() => undefined);
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

let keyCounter = 0;
/** A control context with a fresh idempotency key. */
export function ctl(actor = 'U123', key?: string): ControlContext {
  keyCounter += 1;
  return {
    actor: { id: actor, name: `user ${actor}` },
    idempotencyKey: key ?? `key-${process.pid}-${keyCounter}`,
  };
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function waitForRunState(
  engine: EvacuationEngine,
  runId: string,
  state: RunState,
  timeoutMs = 20_000,
): Promise<EvacuationRun> {
  return waitFor(
    `run ${runId} to be ${state} (is ${engine.getRun(runId)?.state ?? 'unknown'})`,
    () => {
      const run = engine.getRun(runId);
      return run?.state === state ? run : undefined;
    },
    timeoutMs,
  );
}

export function statesOf(run: EvacuationRun): Record<string, ServerRunState> {
  return Object.fromEntries(run.servers.map((s) => [s.name, s.state]));
}

/** Instance actions of one kind per server, as the simulator recorded them. */
export function actionCounts(sim: SimCloud, action: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of sim.control.state().instanceActions) {
    if (a.action === action) counts.set(a.serverId, (counts.get(a.serverId) ?? 0) + 1);
  }
  return counts;
}

/** Sends a raw request to the simulated Nova as the admin (test setup: stop or lock a server, ...). */
export async function novaRequest(
  sim: SimCloud,
  method: string,
  path: string,
  body?: unknown,
  microversion = '2.90',
): Promise<{ status: number; text: string }> {
  const c = sim.credentials;
  const auth = await fetch(`${c.authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } },
        },
        scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
      },
    }),
  });
  const token = auth.headers.get('x-subject-token');
  if (!token) throw new Error(`sim auth failed: ${auth.status}`);
  const response = await fetch(`${sim.computeUrl}${path}`, {
    method,
    headers: {
      'x-auth-token': token,
      'content-type': 'application/json',
      'openstack-api-version': `compute ${microversion}`,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

/** The server's id in the simulator, by name. */
export function serverId(sim: SimCloud, name: string): string {
  return sim.control.server(name).id;
}
