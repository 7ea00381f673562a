/**
 * Engine behaviour that depends on time, driven by a manual clock and an in-memory compute
 * double (no waiting): move timeouts, preview expiry; plus option validation and what a halted
 * engine does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ManualClock, settle } from '../../src/engine/clock.js';
import { createEngine, type EvacuationEngine } from '../../src/engine/engine.js';
import { SqliteRunStore } from '../../src/engine/store-sqlite.js';
import type { RunStore } from '../../src/engine/store.js';
import { CrashingStore } from './crashing-store.js';
import { FakeCompute, makeHypervisor, makeServer, makeService } from './fake-compute.js';

const logger = pino({ level: 'silent' });
let engine: EvacuationEngine | null = null;
afterEach(async () => {
  await engine?.close();
  engine = null;
});

function cloud(clock: ManualClock) {
  const compute = new FakeCompute({
    services: [makeService('host-1'), makeService('host-2')],
    hypervisors: [makeHypervisor('host-1'), makeHypervisor('host-2')],
    servers: [makeServer({ id: 'vm-a', name: 'vm-a', host: 'host-1' })],
  });
  // Nova accepts the live migration and then never finishes it.
  compute.on('liveMigrate', (id) => {
    compute.updateServer(id, {
      status: 'MIGRATING',
      taskState: 'migrating',
      updated: new Date(clock.now()).toISOString(),
    });
    return { requestId: 'req-live-1' };
  });
  compute.on('pollChanges', (since) => ({
    servers: compute.servers,
    migrations: [],
    nextSince: since,
    requests: 2,
  }));
  return compute;
}

const ctx = (key: string) => ({ actor: { id: 'U1' }, idempotencyKey: key });

describe('with a manual clock', () => {
  it('times a move out after its kind’s timeout, quoting what Nova showed last', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T10:00:00Z'));
    const compute = cloud(clock);
    engine = createEngine({
      compute,
      store: { path: ':memory:' },
      clock,
      logger,
      pollIntervalMs: 2000,
      timeoutsMs: { 'live-migrate': 60_000 },
    });
    const run = await engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U1' });
    expect((await engine.confirm(run.id, ctx('c1'))).outcome).toBe('applied');
    await settle();
    expect(engine.getRun(run.id)?.servers[0]?.state).toBe('requested');
    for (let t = 0; t < 58_000; t += 2000) await clock.advance(2000);
    expect(engine.getRun(run.id)?.servers[0]?.state).toBe('moving');
    for (let t = 0; t < 6000; t += 2000) await clock.advance(2000);
    const finished = engine.getRun(run.id);
    expect(finished?.state).toBe('finished');
    expect(finished?.servers[0]).toMatchObject({
      state: 'timed_out',
      failure: {
        source: 'timeout',
        message:
          'No result after 1 min; last seen: MIGRATING, task migrating on host-1; no migration record.',
        requestId: 'req-live-1',
      },
    });
    // One poll per cycle, no more.
    expect(compute.callCount('pollChanges')).toBe(engine.observerStats().cycles);
    expect(compute.callCount('liveMigrate')).toBe(1);
  });

  it('a preview blocks its host only for the preview TTL, then cannot be confirmed', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T10:00:00Z'));
    const compute = cloud(clock);
    engine = createEngine({ compute, store: { path: ':memory:' }, clock, logger, previewTtlMs: 15 * 60_000 });
    const run = await engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U1' });
    await clock.advance(14 * 60_000);
    await expect(engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U2' })).rejects.toMatchObject({
      name: 'ActiveRunError',
    });
    await clock.advance(2 * 60_000);
    expect(engine.activeRunForHost('host-1')).toBeNull();
    const late = await engine.confirm(run.id, ctx('late'));
    expect(late).toMatchObject({
      outcome: 'rejected',
      message: 'This preview expired at 10:15 UTC; preview the host again.',
    });
    expect(engine.getRun(run.id)?.state).toBe('cancelled');
    expect(compute.callCount('disableComputeService')).toBe(0);
    const fresh = await engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U2' });
    expect(fresh.state).toBe('planned');
  });
});

describe('options and failures of the engine itself', () => {
  it('rejects options that cannot work with a clear message', () => {
    const compute = new FakeCompute();
    const store = { path: ':memory:' };
    expect(() => createEngine({ compute, store, pollIntervalMs: 0 })).toThrow(
      /Invalid engine option pollIntervalMs/,
    );
    expect(() => createEngine({ compute, store, timeoutsMs: { 'live-migrate': -1 } })).toThrow(
      /Invalid engine option timeoutsMs.live-migrate/,
    );
    expect(() => createEngine({ compute, store, globalConcurrency: 1.5 })).toThrow(/globalConcurrency/);
    expect(() => createEngine({ compute, store, timeoutsMs: { teleport: 5 } as never })).toThrow(
      /timeoutsMs/,
    );
  });

  it('halts when the store cannot be written: nothing more is sent to Nova and controls say why', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T10:00:00Z'));
    const compute = cloud(clock);
    let crashing: CrashingStore | null = null;
    const wrap = (inner: RunStore) => (crashing = new CrashingStore(inner, 3));
    engine = createEngine({ compute, store: wrap(new SqliteRunStore({ path: ':memory:' })), clock, logger });
    const run = await engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U1' });
    // preview (1), confirmed (2), disable intent (3); the disable result cannot be written.
    await expect(engine.confirm(run.id, ctx('c1'))).rejects.toMatchObject({ name: 'EngineHaltedError' });
    expect((crashing as CrashingStore | null)?.crashed).toBe(true);
    expect(engine.halted).toBe(true);
    expect(compute.callCount('disableComputeService')).toBe(1);
    expect(compute.callCount('liveMigrate')).toBe(0);
    await expect(engine.stop(run.id, ctx('s1'))).rejects.toThrow(/halted after a run store failure/);
  });

  it('a listener that throws does not disturb the engine or other listeners', async () => {
    const clock = new ManualClock();
    engine = createEngine({ compute: cloud(clock), store: { path: ':memory:' }, clock, logger });
    const seen: string[] = [];
    engine.subscribe(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = engine.subscribe((event) => seen.push(event.type));
    await engine.preview({ host: 'host-1', mode: 'live', requestedBy: 'U1' });
    unsubscribe();
    expect(seen).toEqual(['run.planned']);
  });
});
