/**
 * Time source for the simulator. Every simulated duration and timestamp goes through a
 * `SimClock`, so tests can replace wall time with a `ManualClock` and step through a live
 * migration deterministically instead of sleeping.
 */

export type SimTimerHandle = { readonly __simTimer: true } | NodeJS.Timeout;

export interface SimClock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): SimTimerHandle;
  clearTimeout(handle: SimTimerHandle): void;
}

export const realClock: SimClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, Math.max(0, ms));
    // A pending simulated operation must never keep a test process or the CLI alive on its own.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface ManualTimer {
  readonly __simTimer: true;
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires due timers in time order (timers
 * scheduled by a callback within the window fire too), so a test can say "10 simulated
 * seconds pass" and then assert on the state.
 */
export class ManualClock implements SimClock {
  private current: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  constructor(startMs: number = Date.parse('2030-01-01T00:00:00Z')) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): SimTimerHandle {
    const timer: ManualTimer = {
      __simTimer: true,
      id: this.nextId++,
      dueMs: this.current + Math.max(0, ms),
      callback,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: SimTimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.dueMs <= target)
        .sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.dueMs);
      due.callback();
    }
    this.current = target;
  }

  /** Fires timers until none are left (bounded, so a self-rescheduling timer cannot hang a test). */
  runAll(maxSteps = 100_000): void {
    for (let step = 0; step < maxSteps; step++) {
      const next = [...this.timers].sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!next) return;
      this.advance(Math.max(0, next.dueMs - this.current));
    }
    throw new Error(`ManualClock.runAll: still ${this.timers.length} timers after ${maxSteps} steps`);
  }
}
