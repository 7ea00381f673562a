/**
 * A `RunStore` wrapper that dies after a given number of writes: the (N+1)th commit and every
 * later one throw, as if the process had been killed right after the Nth step reached the disk.
 */
import type { RunStore, RunStoreWrite } from '../../src/engine/store.js';

export class SimulatedCrash extends Error {
  constructor(readonly afterWrites: number) {
    super(`simulated crash after ${afterWrites} writes`);
    this.name = 'SimulatedCrash';
  }
}

export class CrashingStore implements RunStore {
  writes = 0;
  crashed = false;
  /** What each successful write contained, for test diagnostics. */
  readonly log: string[] = [];

  constructor(
    private readonly inner: RunStore,
    private readonly crashAfter: number = Number.POSITIVE_INFINITY,
  ) {}

  commit(write: RunStoreWrite): void {
    if (this.crashed || this.writes >= this.crashAfter) {
      this.crashed = true;
      throw new SimulatedCrash(this.crashAfter);
    }
    this.inner.commit(write);
    this.writes++;
    this.log.push(describe(write));
  }

  getRun(runId: string) {
    return this.inner.getRun(runId);
  }
  listRuns(query?: Parameters<RunStore['listRuns']>[0]) {
    return this.inner.listRuns(query);
  }
  findControl(key: string) {
    return this.inner.findControl(key);
  }
  journal(runId: string) {
    return this.inner.journal(runId);
  }
  audit(runId: string) {
    return this.inner.audit(runId);
  }
  close(): void {
    this.inner.close();
  }
}

function describe(write: RunStoreWrite): string {
  const parts: string[] = [];
  if (write.run) parts.push(`run:${write.run.run.state}`);
  for (const s of write.servers ?? []) parts.push(`${s.server.name}:${s.server.state}`);
  for (const j of write.journal ?? []) parts.push(`${j.phase}:${j.action}`);
  for (const a of write.audit ?? []) parts.push(`audit:${a.action}`);
  return parts.join(' ');
}
