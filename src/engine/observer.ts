/**
 * One observer for the whole engine. Each poll cycle asks Nova once for everything that changed
 * (`pollChanges`: one or two list requests) and hands each change to the moves it concerns,
 * however many servers and runs are in flight. Per-server requests are rationed: at most
 * `progressPerCycle` live-migration progress requests and `directLooksPerCycle` direct looks
 * (a server GET or its migration records, when the batched view was not enough) per cycle,
 * shared round-robin so every move gets its turn.
 */
import type { Logger } from 'pino';
import type { ComputeApi, LiveMigrationProgress, MigrationRecord, ServerInfo } from '../nova/types.js';
import type { Clock } from './clock.js';

export interface Watch {
  /** Unique per watched move (run id + server id). */
  readonly key: string;
  readonly serverId: string;
  onServer(server: ServerInfo, cycleStartedAt: number): void;
  onMigration(record: MigrationRecord): void;
  /** After the cycle's data is dispatched: decide and act (may start async work of its own). */
  evaluate(cycleStartedAt: number): void;
  /** Live migrations running long enough to be worth a progress request. */
  wantsProgress(): boolean;
  onProgress(progress: LiveMigrationProgress[]): void;
  /** The batched view was not enough (nothing seen, or unverified): a direct look is needed. */
  wantsDirectLook(): boolean;
  /** Performs the direct look; returns the number of Nova requests it made. */
  directLook(): Promise<number>;
  /**
   * When this move is expected to finish (engine time), from how long moves of its kind have
   * taken so far; null while nothing is known.
   */
  dueWindow(): { from: number; to: number } | null;
}

export interface ObserverOptions {
  compute: ComputeApi;
  clock: Clock;
  logger: Logger;
  pollIntervalMs: number;
  /**
   * Interval while some move is in its expected completion window: noticing a finished move
   * sooner frees its slot sooner. Equal to `pollIntervalMs` to turn it off.
   */
  fastPollIntervalMs: number;
  progressPerCycle: number;
  directLooksPerCycle: number;
  /** How far before an engine-clock time to ask for changes, to absorb clock skew with Nova. */
  sinceMarginMs: number;
}

export interface CycleRecord {
  startedAt: number;
  watched: number;
  pollRequests: number;
  progressRequests: number;
  directLookRequests: number;
}

export interface ObserverStats {
  cycles: number;
  pollRequests: number;
  progressRequests: number;
  directLookRequests: number;
  pollErrors: number;
  /** The most recent cycles (up to 1000), oldest first. */
  recent: CycleRecord[];
}

const RECENT_CYCLES = 1000;

export class ChangeObserver {
  private readonly watches = new Map<string, Watch>();
  private since: number | null = null;
  private loop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private progressCursor = 0;
  private lookCursor = 0;
  private readonly statistics: ObserverStats = {
    cycles: 0,
    pollRequests: 0,
    progressRequests: 0,
    directLookRequests: 0,
    pollErrors: 0,
    recent: [],
  };

  constructor(private readonly options: ObserverOptions) {}

  /**
   * Starts watching. The running cursor (Nova's own clock, from the last poll) already covers
   * anything that happens from now on; `rewindToMs` (engine time) asks for older changes too,
   * e.g. for moves that were in flight before a restart.
   */
  watch(watch: Watch, rewindToMs?: number): void {
    this.watches.set(watch.key, watch);
    if (rewindToMs !== undefined) {
      const from = rewindToMs - this.options.sinceMarginMs;
      if (this.since === null || from < this.since) this.since = from;
    }
    this.ensureRunning();
  }

  unwatch(key: string): void {
    this.watches.delete(key);
  }

  get watching(): number {
    return this.watches.size;
  }

  stats(): ObserverStats {
    return { ...this.statistics, recent: [...this.statistics.recent] };
  }

  /** Stops polling; resolves when the current cycle (if any) has finished. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private ensureRunning(): void {
    if (this.loop || this.abort.signal.aborted) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      // A watch registered while the loop was winding down must not be left unobserved.
      if (this.watches.size > 0 && !this.abort.signal.aborted) this.ensureRunning();
    });
  }

  private async run(): Promise<void> {
    const { clock } = this.options;
    let lastStart = clock.now();
    while (this.watches.size > 0 && !this.abort.signal.aborted) {
      // Cycles start on a schedule (not an interval after the previous one ended), so a slow poll
      // does not stretch the time it takes to notice a finished move.
      await clock.sleep(Math.max(0, this.nextCycleAt(lastStart) - clock.now()), this.abort.signal);
      if (this.abort.signal.aborted || this.watches.size === 0) break;
      if (clock.now() < this.nextCycleAt(lastStart)) continue;
      lastStart = clock.now();
      await this.cycle();
    }
    if (this.watches.size === 0) this.since = null;
  }

  /** The slow schedule, or the fast one while a move is due (or becomes due before the next slow cycle). */
  private nextCycleAt(lastStart: number): number {
    const { pollIntervalMs, fastPollIntervalMs } = this.options;
    const slow = lastStart + pollIntervalMs;
    const fast = lastStart + Math.min(fastPollIntervalMs, pollIntervalMs);
    let next = slow;
    for (const watch of this.watches.values()) {
      const window = watch.dueWindow();
      if (!window || window.to < lastStart) continue;
      next = Math.min(next, Math.max(fast, window.from));
      if (next === fast) break;
    }
    return next;
  }

  /** One poll cycle (public so that tests can drive it directly). */
  async cycle(): Promise<void> {
    const { compute, clock, logger } = this.options;
    const startedAt = clock.now();
    const record: CycleRecord = {
      startedAt,
      watched: this.watches.size,
      pollRequests: 0,
      progressRequests: 0,
      directLookRequests: 0,
    };
    const since = new Date(this.since ?? startedAt - this.options.sinceMarginMs).toISOString();
    try {
      const snapshot = await compute.pollChanges(since);
      record.pollRequests = snapshot.requests;
      const next = Date.parse(snapshot.nextSince);
      if (!Number.isNaN(next)) this.since = next;
      this.dispatch(snapshot.servers, snapshot.migrations, startedAt);
    } catch (err) {
      // Moves keep their deadlines; a Nova outage shows up as timeouts, not as a stuck engine.
      this.statistics.pollErrors++;
      logger.warn({ err, since }, 'polling Nova for changes failed; will retry next cycle');
    }
    // Decide on what the batch showed first: a finished move frees its slot without waiting
    // for this cycle's per-server requests.
    this.evaluateAll(startedAt, [...this.watches.values()]);
    record.progressRequests = await this.fetchProgress();
    const looks = await this.directLooks();
    record.directLookRequests = looks.requests;
    this.evaluateAll(startedAt, looks.looked);
    this.statistics.cycles++;
    this.statistics.pollRequests += record.pollRequests;
    this.statistics.progressRequests += record.progressRequests;
    this.statistics.directLookRequests += record.directLookRequests;
    this.statistics.recent.push(record);
    if (this.statistics.recent.length > RECENT_CYCLES) this.statistics.recent.shift();
  }

  private evaluateAll(startedAt: number, watches: Watch[]): void {
    for (const watch of watches) {
      if (!this.watches.has(watch.key)) continue;
      try {
        watch.evaluate(startedAt);
      } catch (err) {
        this.options.logger.error({ err, server: watch.serverId }, 'evaluating a move failed');
      }
    }
  }

  private dispatch(servers: ServerInfo[], migrations: MigrationRecord[], startedAt: number): void {
    if (this.watches.size === 0) return;
    const byServer = new Map<string, Watch[]>();
    for (const watch of this.watches.values()) {
      const list = byServer.get(watch.serverId);
      if (list) list.push(watch);
      else byServer.set(watch.serverId, [watch]);
    }
    for (const server of servers) {
      for (const watch of byServer.get(server.id) ?? []) watch.onServer(server, startedAt);
    }
    for (const migration of migrations) {
      for (const watch of byServer.get(migration.instanceId) ?? []) watch.onMigration(migration);
    }
  }

  private pickRoundRobin(
    candidates: Watch[],
    cursor: number,
    max: number,
  ): { picked: Watch[]; next: number } {
    if (candidates.length === 0 || max <= 0) return { picked: [], next: cursor };
    const start = cursor % candidates.length;
    const picked: Watch[] = [];
    for (let i = 0; i < Math.min(max, candidates.length); i++) {
      const watch = candidates[(start + i) % candidates.length];
      if (watch) picked.push(watch);
    }
    return { picked, next: start + picked.length };
  }

  private async fetchProgress(): Promise<number> {
    const candidates = [...this.watches.values()].filter((w) => w.wantsProgress());
    const { picked, next } = this.pickRoundRobin(
      candidates,
      this.progressCursor,
      this.options.progressPerCycle,
    );
    this.progressCursor = next;
    await Promise.all(
      picked.map(async (watch) => {
        try {
          watch.onProgress(await this.options.compute.listLiveMigrations(watch.serverId));
        } catch (err) {
          this.options.logger.debug({ err, server: watch.serverId }, 'live-migration progress unavailable');
        }
      }),
    );
    return picked.length;
  }

  private async directLooks(): Promise<{ requests: number; looked: Watch[] }> {
    const candidates = [...this.watches.values()].filter((w) => w.wantsDirectLook());
    const { picked, next } = this.pickRoundRobin(
      candidates,
      this.lookCursor,
      this.options.directLooksPerCycle,
    );
    this.lookCursor = next;
    const counts = await Promise.all(
      picked.map(async (watch) => {
        try {
          return await watch.directLook();
        } catch (err) {
          this.options.logger.debug({ err, server: watch.serverId }, 'direct look at a server failed');
          return 1;
        }
      }),
    );
    return { requests: counts.reduce((sum, n) => sum + n, 0), looked: picked };
  }
}
