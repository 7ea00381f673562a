/**
 * Nothing lost, nothing done twice: the engine is interrupted after every single journal step of
 * a run (its store dies after the Nth write), then a fresh engine on the same database resumes.
 * Every server must end verified on another host, having been sent its move exactly once: the
 * simulator's instance actions are the witness.
 */
import { describe, expect, it } from 'vitest';
import type { EvacuationEngine } from '../../src/engine/engine.js';
import type { EvacuationRun } from '../../src/engine/types.js';
import { CrashingStore } from './crashing-store.js';
import { actionCounts, ctl, startHarness, waitFor, waitForRunState, type Harness } from './harness.js';

const REQUEST = {
  host: 'host-1',
  mode: 'auto' as const,
  // Two live migrations and a cold one (a stopped server): the confirmResize step is crashed too.
  include: ['web-2', 'batch-1', 'db-replica-1'],
  concurrency: 2,
  requestedBy: 'U1',
};

async function startRun(engine: EvacuationEngine): Promise<string | null> {
  let runId: string | null = null;
  try {
    runId = (await engine.preview(REQUEST)).id;
    await engine.confirm(runId, ctl());
  } catch (err) {
    if ((err as Error).name !== 'EngineHaltedError') throw err;
  }
  return runId;
}

function expectMovedOnce(h: Harness, run: EvacuationRun, label: string): void {
  const live = actionCounts(h.sim, 'live-migration');
  const migrate = actionCounts(h.sim, 'migrate');
  const confirms = actionCounts(h.sim, 'confirmResize');
  const moving = run.servers.filter((s) => s.action !== 'skip');
  expect(moving).toHaveLength(3);
  for (const server of moving) {
    const where = `${label}, ${server.name}`;
    expect(server.state, `${where}: ${server.failure?.message ?? ''}`).toBe('done');
    const now = h.sim.control.server(server.serverId);
    expect(now.host, where).toBe(server.destinationHost);
    expect(now.host, where).not.toBe('host-1');
    if (server.action === 'live-migrate') {
      expect(live.get(server.serverId) ?? 0, `${where}: live-migration actions`).toBe(1);
    } else {
      expect(migrate.get(server.serverId) ?? 0, `${where}: migrate actions`).toBe(1);
      expect(confirms.get(server.serverId) ?? 0, `${where}: confirmResize actions`).toBe(1);
      expect(now.status, where).toBe('SHUTOFF');
    }
  }
}

describe('crash after every journal step, then resume', () => {
  it('moves every server exactly once whatever step the engine died after', async () => {
    // A clean run first, to learn how many steps a run takes.
    const counting = { store: null as CrashingStore | null };
    const clean = await startHarness({
      wrapStore: (inner) => (counting.store = new CrashingStore(inner)),
    });
    try {
      const runId = await startRun(clean.engine);
      const run = await waitForRunState(clean.engine, runId ?? '', 'finished');
      expectMovedOnce(clean, run, 'clean run');
    } finally {
      await clean.close();
    }
    const total = counting.store?.writes ?? 0;
    expect(total).toBeGreaterThan(15);

    const crashedAt: number[] = [];
    for (let n = 0; n < total; n++) {
      const crashing = { store: null as CrashingStore | null };
      const h = await startHarness({ wrapStore: (inner) => (crashing.store = new CrashingStore(inner, n)) });
      try {
        let runId = await startRun(h.engine);
        await waitFor(`crash after ${n} writes or the run to finish`, () => {
          if (crashing.store?.crashed) return true;
          return runId !== null && h.engine.getRun(runId)?.state === 'finished';
        });
        if (crashing.store?.crashed) crashedAt.push(n);

        const engine = await h.restart();
        await engine.resume();
        const stored = runId ? engine.getRun(runId) : null;
        if (!stored) {
          // Died while storing the preview: the operator previews again.
          runId = (await engine.preview(REQUEST)).id;
        }
        if (engine.getRun(runId ?? '')?.state === 'planned') {
          // Died before the confirmation was stored: the operator clicks again.
          await engine.confirm(runId ?? '', ctl());
        }
        const run = await waitForRunState(engine, runId ?? '', 'finished');
        expectMovedOnce(h, run, `crash after write ${n} (${crashing.store?.log[n - 1] ?? 'start'})`);
        const journal = engine.journal(run.id);
        const open = new Map<string, number>();
        for (const entry of journal) {
          const key = `${entry.serverId ?? 'host'}/${entry.action}/${entry.attempt}`;
          open.set(key, (open.get(key) ?? 0) + (entry.phase === 'intent' ? 1 : -1));
        }
        expect(
          [...open].filter(([, count]) => count !== 0),
          `open intents after crash at ${n}`,
        ).toEqual([]);
      } finally {
        await h.close();
      }
    }
    // Most crash points were actually reached (a run can take a step or two fewer than the clean one).
    console.log('total', total, 'crashedAt', crashedAt.join(','));
    expect(crashedAt.length).toBeGreaterThanOrEqual(total - 3);
  }, 180_000);
});
