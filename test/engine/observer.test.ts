/**
 * The batched observer with an in-memory compute double and a manual clock: one poll per cycle
 * whatever the number of watched moves, per-server requests rationed and shared round-robin.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ManualClock } from '../../src/engine/clock.js';
import { ChangeObserver, type Watch } from '../../src/engine/observer.js';
import type { LiveMigrationProgress, MigrationRecord, ServerInfo } from '../../src/nova/types.js';
import { FakeCompute, makeServer } from './fake-compute.js';

const logger = pino({ level: 'silent' });

class StubWatch implements Watch {
  readonly key: string;
  servers: ServerInfo[] = [];
  migrations: MigrationRecord[] = [];
  progressCalls = 0;
  looks = 0;
  evaluations = 0;
  constructor(
    readonly serverId: string,
    private readonly options: { progress?: boolean; look?: boolean } = {},
  ) {
    this.key = `run/${serverId}`;
  }
  onServer(server: ServerInfo): void {
    this.servers.push(server);
  }
  onMigration(record: MigrationRecord): void {
    this.migrations.push(record);
  }
  evaluate(): void {
    this.evaluations++;
  }
  wantsProgress(): boolean {
    return this.options.progress ?? false;
  }
  onProgress(_progress: LiveMigrationProgress[]): void {
    this.progressCalls++;
  }
  wantsDirectLook(): boolean {
    return this.options.look ?? false;
  }
  async directLook(): Promise<number> {
    this.looks++;
    return 2;
  }
  dueAt: number | null = null;
  dueWindow(): { from: number; to: number } | null {
    return this.dueAt === null ? null : { from: this.dueAt, to: this.dueAt + 5000 };
  }
}

function setup(servers: ServerInfo[]) {
  const clock = new ManualClock();
  const compute = new FakeCompute({ servers });
  compute.on('pollChanges', (since) => ({
    servers: compute.servers,
    migrations: [],
    nextSince: since,
    requests: 2,
  }));
  const observer = new ChangeObserver({
    compute,
    clock,
    logger,
    pollIntervalMs: 1000,
    fastPollIntervalMs: 100,
    progressPerCycle: 3,
    directLooksPerCycle: 2,
    sinceMarginMs: 60_000,
  });
  return { clock, compute, observer };
}

describe('ChangeObserver', () => {
  it('polls once per cycle for 100 watched moves and hands each its own server', async () => {
    const servers = Array.from({ length: 100 }, (_, i) => makeServer({ id: `s-${i}`, host: 'host-1' }));
    const { clock, compute, observer } = setup([...servers, makeServer({ id: 'other', host: 'host-2' })]);
    const watches = servers.map((s) => new StubWatch(s.id));
    for (const watch of watches) observer.watch(watch);
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(compute.callCount('pollChanges')).toBe(5);
    expect(compute.callCount()).toBe(5);
    expect(observer.stats().cycles).toBe(5);
    expect(observer.stats().recent.every((c) => c.pollRequests === 2 && c.watched === 100)).toBe(true);
    for (const watch of watches) {
      expect(watch.servers.map((s) => s.id)).toEqual(Array(5).fill(watch.serverId));
      expect(watch.evaluations).toBe(5);
    }
    await observer.close();
  });

  it('rations progress requests and direct looks per cycle, round-robin so every move gets its turn', async () => {
    const servers = Array.from({ length: 7 }, (_, i) => makeServer({ id: `s-${i}`, host: 'host-1' }));
    const { clock, compute, observer } = setup(servers);
    const watches = servers.map((s) => new StubWatch(s.id, { progress: true, look: true }));
    for (const watch of watches) observer.watch(watch);
    await clock.advance(1000);
    expect(compute.callCount('listLiveMigrations')).toBe(3);
    expect(watches.reduce((n, w) => n + w.looks, 0)).toBe(2);
    expect(observer.stats().recent[0]).toMatchObject({ progressRequests: 3, directLookRequests: 4 });
    for (let i = 0; i < 6; i++) await clock.advance(1000);
    // 7 cycles x 3 = 21 progress requests: exactly 3 per move.
    expect(watches.map((w) => w.progressCalls)).toEqual(Array(7).fill(3));
    expect(watches.map((w) => w.looks)).toEqual(Array(7).fill(2));
    await observer.close();
  });

  it('polls fast only while a move is in its expected completion window', async () => {
    const { clock, compute, observer } = setup([makeServer({ id: 's-1', host: 'host-1' })]);
    const t0 = clock.now();
    const watch = new StubWatch('s-1');
    watch.dueAt = t0 + 2500;
    observer.watch(watch);
    const polls = () => compute.callCount('pollChanges');
    await clock.advance(2400);
    expect(polls()).toBe(2); // t0+1000, t0+2000: slow
    await clock.advance(1000);
    expect(polls()).toBe(2 + 10); // t0+2500 .. t0+3400: every 100 ms
    await clock.advance(4200); // the window closes at t0+7500
    const atWindowEnd = polls();
    await clock.advance(3000);
    expect(polls() - atWindowEnd).toBe(3); // slow again
    await observer.close();
  });

  it('does not poll with nothing to watch, and keeps polling after Nova errors', async () => {
    const { clock, compute, observer } = setup([makeServer({ id: 's-1', host: 'host-1' })]);
    await clock.advance(5000);
    expect(compute.callCount('pollChanges')).toBe(0);
    const watch = new StubWatch('s-1');
    observer.watch(watch);
    compute.failNext('pollChanges', new Error('connection refused'));
    await clock.advance(1000);
    await clock.advance(1000);
    expect(compute.callCount('pollChanges')).toBe(2);
    expect(observer.stats().pollErrors).toBe(1);
    expect(watch.servers).toHaveLength(1);
    observer.unwatch(watch.key);
    await clock.advance(3000);
    expect(compute.callCount('pollChanges')).toBe(2);
    await observer.close();
  });

  it('rewinds the changes cursor for moves older than the last poll (after a restart)', async () => {
    const { clock, compute, observer } = setup([makeServer({ id: 's-1', host: 'host-1' })]);
    observer.watch(new StubWatch('s-1'), clock.now() - 3_600_000);
    await clock.advance(1000);
    const since = compute.calls.find((c) => c.method === 'pollChanges')?.args[0];
    expect(since).toBe(new Date(clock.now() - 1000 - 3_600_000 - 60_000).toISOString());
    await observer.close();
  });
});
