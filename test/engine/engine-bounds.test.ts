/**
 * The engine's promises about load, measured by the simulator itself: the concurrency bound is
 * never exceeded (per run and across runs), and each poll cycle costs a bounded number of Nova
 * requests whatever the number of servers in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/sim/index.js';
import type { SimCounters } from '../../src/sim/index.js';
import { ctl, startHarness, waitForRunState, type Harness } from './harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

function scenario(serversPerHost: number, loadedHosts: string[]) {
  return generateScenario({
    hosts: 4,
    serversPerHost,
    loadedHosts,
    // Nova's default of 1 live migration per source host would hide the engine's own bound.
    settings: { max_concurrent_live_migrations: 100 },
  });
}

function requests(counters: SimCounters, endpoint: string): number {
  return counters.requests[endpoint] ?? 0;
}

describe('concurrency', () => {
  it('never has more than the run concurrency in flight (the sim counts concurrent operations)', async () => {
    h = await startHarness({ sim: { scenario: scenario(30, ['host-1']), timeScale: 0.02 } });
    const run = await h.engine.preview({ host: 'host-1', mode: 'live', concurrency: 6, requestedBy: 'U1' });
    expect(run.plan.concurrency).toBe(6);
    h.sim.control.resetCounters();
    await h.engine.confirm(run.id, ctl());
    const done = await waitForRunState(h.engine, run.id, 'finished', 60_000);
    expect(done.servers.every((s) => s.state === 'done')).toBe(true);
    const ops = h.sim.control.counters().operations;
    expect(ops.total.max).toBeLessThanOrEqual(6);
    // Not vacuous: the engine did run moves in parallel.
    expect(ops.total.max).toBeGreaterThanOrEqual(3);
    expect(ops.total.current).toBe(0);
  });

  it('the global cap bounds moves across runs on different hosts', async () => {
    h = await startHarness({
      sim: { scenario: scenario(12, ['host-1', 'host-2']), timeScale: 0.02 },
      engine: { globalConcurrency: 5 },
    });
    const a = await h.engine.preview({ host: 'host-1', mode: 'live', concurrency: 4, requestedBy: 'U1' });
    const b = await h.engine.preview({ host: 'host-2', mode: 'live', concurrency: 4, requestedBy: 'U2' });
    h.sim.control.resetCounters();
    await Promise.all([h.engine.confirm(a.id, ctl()), h.engine.confirm(b.id, ctl())]);
    await waitForRunState(h.engine, a.id, 'finished', 60_000);
    await waitForRunState(h.engine, b.id, 'finished', 60_000);
    const ops = h.sim.control.counters().operations;
    expect(ops.total.max).toBeLessThanOrEqual(5);
    expect(ops.total.max).toBeGreaterThanOrEqual(3);
    for (const host of ['host-1', 'host-2']) expect(ops.bySourceHost[host]?.max ?? 0).toBeLessThanOrEqual(4);
  });
});

describe('Nova requests per poll cycle', () => {
  async function measure(servers: number, concurrency: number) {
    h = await startHarness({ sim: { scenario: scenario(servers, ['host-1']), timeScale: 0.05 } });
    const run = await h.engine.preview({ host: 'host-1', mode: 'live', concurrency, requestedBy: 'U1' });
    await h.engine.confirm(run.id, ctl());
    const before = h.engine.observerStats();
    h.sim.control.resetCounters();
    const done = await waitForRunState(h.engine, run.id, 'finished', 60_000);
    expect(done.servers.every((s) => s.state === 'done')).toBe(true);
    const counters = h.sim.control.counters();
    const after = h.engine.observerStats();
    const cycles = after.cycles - before.cycles;
    const cyclesRecorded = after.recent.slice(-cycles);
    const maxWatched = Math.max(...cyclesRecorded.map((c) => c.watched));
    const result = {
      cycles,
      maxWatched,
      listRequests: requests(counters, 'GET /servers/detail') + requests(counters, 'GET /os-migrations'),
      perServerRequests:
        requests(counters, 'GET /servers/{id}') +
        requests(counters, 'GET /servers/{id}/migrations') +
        requests(counters, 'GET /servers/{id}/os-instance-actions') +
        requests(counters, 'GET /servers/{id}/os-instance-actions/{rid}'),
      maxPollPerCycle: Math.max(...cyclesRecorded.map((c) => c.pollRequests)),
      maxOtherPerCycle: Math.max(...cyclesRecorded.map((c) => c.progressRequests + c.directLookRequests)),
      moves: requests(counters, 'POST /servers/{id}/action'),
    };
    await h.close();
    h = null;
    return result;
  }

  it('stays constant as the number of servers in flight grows (2 vs 40)', async () => {
    const small = await measure(4, 2);
    const large = await measure(40, 40);
    expect(small.maxWatched).toBeLessThanOrEqual(2);
    expect(large.maxWatched).toBeGreaterThanOrEqual(20);
    for (const m of [small, large]) {
      // One servers list + one migrations list per cycle.
      expect(m.maxPollPerCycle).toBeLessThanOrEqual(2);
      expect(m.listRequests).toBeLessThanOrEqual(2 * m.cycles);
      // Progress and direct looks are rationed per cycle (4 + 4 looks of up to 3 requests each).
      expect(m.maxOtherPerCycle).toBeLessThanOrEqual(4 + 4 * 3);
      expect(m.perServerRequests).toBeLessThanOrEqual(m.cycles * (4 + 4 * 3));
    }
    expect(large.moves).toBe(40);
    // With 20x the servers in flight, a cycle costs the same number of list requests.
    expect(large.maxPollPerCycle).toBe(small.maxPollPerCycle);
  });
});
