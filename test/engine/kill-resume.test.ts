/**
 * A real process running the engine is killed with SIGKILL mid-run (twice), and a new process
 * on the same database resumes it. The simulator lives in the test process, so the cloud keeps
 * moving while the engine is dead; afterwards every server must be verified on another host,
 * moved exactly once.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRunStore } from '../../src/engine/store-sqlite.js';
import { generateScenario, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { actionCounts } from './harness.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/engine-process.ts', import.meta.url));

interface EngineProcess {
  child: ChildProcessWithoutNullStreams;
  lines: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when a reported line satisfies `match`. */
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
}

function startEngineProcess(config: Record<string, unknown>): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(config)], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    lines,
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      if (lines.some(match)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`engine process did not report the expected line; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(
              `engine process exited (${code ?? signal}) before the expected line; stderr: ${stderr}`,
            ),
          );
        });
      });
    },
  };
}

describe('SIGKILL mid-run, restart on the same database', () => {
  let sim: SimCloud;
  let dir: string;

  beforeAll(async () => {
    sim = await startSimCloud({
      scenario: generateScenario({
        hosts: 3,
        serversPerHost: 9,
        loadedHosts: ['host-1'],
        settings: { max_concurrent_live_migrations: 100 },
      }),
      timeScale: 0.06,
      seed: 3,
    });
    dir = mkdtempSync(join(tmpdir(), 'engine-kill-'));
  });

  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes after two kills and moves every server exactly once', async () => {
    const base = {
      dbPath: join(dir, 'runs.db'),
      credentials: sim.credentials,
      request: { host: 'host-1', mode: 'live', concurrency: 3, requestedBy: 'U-kill' },
    };
    const doneCount = (p: EngineProcess) => p.lines.filter((l) => l.state === 'done').length;

    // First life: killed while its first moves are in flight.
    const first = startEngineProcess({ ...base, mode: 'start' });
    await first.waitForLine((l) => l.event === 'server.changed' && l.state === 'requested');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    // Second life: resumes, and is killed again after a few more servers are done.
    const second = startEngineProcess({ ...base, mode: 'resume' });
    await second.waitForLine(() => doneCount(second) >= 3);
    second.child.kill('SIGKILL');
    expect((await second.exited).signal).toBe('SIGKILL');

    // Third life: finishes the run.
    const third = startEngineProcess({ ...base, mode: 'resume' });
    const end = await third.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(third.lines.some((l) => l.event === 'run.finished')).toBe(true);

    const store = new SqliteRunStore({ path: base.dbPath });
    try {
      const [stored] = store.listRuns();
      expect(stored?.run.state).toBe('finished');
      const run = stored?.run;
      expect(run?.servers).toHaveLength(9);
      const live = actionCounts(sim, 'live-migration');
      for (const server of run?.servers ?? []) {
        expect(server.state, `${server.name}: ${server.failure?.message ?? ''}`).toBe('done');
        const now = sim.control.server(server.serverId);
        expect(now.host).toBe(server.destinationHost);
        expect(now.host).not.toBe('host-1');
        expect(live.get(server.serverId), server.name).toBe(1);
      }
      const resumed = store.audit(run?.id ?? '').filter((a) => a.action === 'run-resumed');
      expect(resumed).toHaveLength(2);
      // The first kill left moves in flight that the second life reconciled rather than re-sent.
      expect(resumed[0]?.detail.inFlight).not.toEqual([]);
    } finally {
      store.close();
    }
  }, 120_000);
});
