/**
 * The reporter against a scripted engine, on a fake clock with the production intervals: a
 * 200-server run makes at most one status edit per 2 s, at most one thread post per second,
 * loses no completion, and always posts the final state and the summary.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EvacuationEngineApi } from '../../src/engine/api.js';
import type { EngineEvent, EvacuationRun, ServerRun, ServerRunState } from '../../src/engine/types.js';
import { ChannelPoster } from '../../src/slack/channel-poster.js';
import { RunReporter } from '../../src/slack/run-reporter.js';
import { makeRun } from '../views/fixtures.js';

const logger = pino({ level: 'silent' });

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2024-05-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Just enough engine for the reporter: stores runs, emits events. */
class ScriptedEngine implements Pick<EvacuationEngineApi, 'subscribe' | 'getRun' | 'setFrontEnd'> {
  readonly runs = new Map<string, EvacuationRun>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  subscribe(listener: (event: EngineEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  getRun(id: string) {
    return this.runs.get(id) ?? null;
  }
  setFrontEnd(id: string, data: Record<string, unknown>) {
    const run = this.runs.get(id);
    if (run) this.runs.set(id, { ...run, frontEnd: data });
  }
  emit(event: EngineEvent) {
    this.runs.set(event.run.id, event.run);
    for (const listener of this.listeners) listener(event);
  }
  setServer(
    runId: string,
    serverId: string,
    patch: Partial<ServerRun>,
  ): { run: EvacuationRun; server: ServerRun; previous: ServerRunState } {
    const run = this.runs.get(runId)!;
    const index = run.servers.findIndex((server) => server.serverId === serverId);
    const previous = run.servers[index]!.state;
    const server = { ...run.servers[index]!, ...patch };
    const servers = [...run.servers];
    servers[index] = server;
    const updated = { ...run, servers };
    this.runs.set(runId, updated);
    return { run: updated, server, previous };
  }
}

function stubSlack() {
  const updates: Array<{ at: number; ts: string; text: string }> = [];
  const posts: Array<{
    at: number;
    text: string;
    thread_ts?: string;
    reply_broadcast?: boolean;
    blocks: unknown[];
  }> = [];
  let counter = 0;
  let failUpdatesUntil = 0;
  const client = {
    chat: {
      update: async (args: { ts: string; text: string }) => {
        if (Date.now() < failUpdatesUntil) throw Object.assign(new Error('HTTP 503'), { statusCode: 503 });
        updates.push({ at: Date.now(), ts: args.ts, text: args.text });
        return { ok: true };
      },
      postMessage: async (args: {
        text: string;
        thread_ts?: string;
        reply_broadcast?: boolean;
        blocks: unknown[];
      }) => {
        counter += 1;
        posts.push({ at: Date.now(), ...args });
        return { ok: true, ts: `2.${counter}` };
      },
    },
  };
  return {
    client,
    updates,
    posts,
    failUpdatesFor(ms: number) {
      failUpdatesUntil = Date.now() + ms;
    },
  };
}

function minGap(times: number[]): number {
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < times.length; i += 1) gap = Math.min(gap, times[i]! - times[i - 1]!);
  return gap;
}

function setup() {
  const engine = new ScriptedEngine();
  const slack = stubSlack();
  const poster = new ChannelPoster({ client: slack.client as never, minIntervalMs: 1000, logger });
  const reporter = new RunReporter({
    engine,
    client: slack.client as never,
    poster,
    logger,
    render: (run) => ({
      text: `${run.state}: ${run.servers.filter((server) => server.state === 'done').length} done`,
      blocks: [],
    }),
  });
  reporter.start();
  return { engine, slack, reporter };
}

function pendingRun(servers: number): EvacuationRun {
  const run = makeRun({ servers, state: 'running', mode: 'live', serverState: () => 'pending' });
  return {
    ...run,
    servers: run.servers.map((server) => ({
      ...server,
      action: 'live-migrate',
      state: 'pending',
      failure: null,
    })),
    frontEnd: { slack: { channel: 'C1', messageTs: '1.1' } },
  };
}

describe('RunReporter', () => {
  it('200 servers: ≤ 1 edit per 2 s, ≤ 1 thread post per s, no completion lost, final state and summary posted', async () => {
    const { engine, slack, reporter } = setup();
    const run = pendingRun(200);
    engine.emit({ type: 'run.started', run });
    const failedIds = new Set([run.servers[10]!.serverId, run.servers[120]!.serverId]);
    for (const [index, planned] of run.servers.entries()) {
      await vi.advanceTimersByTimeAsync(index % 10 === 0 ? 400 : 37);
      const failed = failedIds.has(planned.serverId);
      const change = engine.setServer(run.id, planned.serverId, {
        state: failed ? 'failed' : 'done',
        destinationHost: 'host-2',
        startedAt: new Date(Date.now() - 5000).toISOString(),
        finishedAt: new Date().toISOString(),
        failure: failed
          ? { message: 'Nova: boom', source: 'api', requestId: 'req-1', httpStatus: 409 }
          : null,
      });
      engine.emit({ type: 'server.changed', ...change });
    }
    const finished = {
      ...engine.getRun(run.id)!,
      state: 'finished' as const,
      finishedAt: new Date().toISOString(),
    };
    engine.emit({ type: 'run.finished', run: finished });
    const drained = reporter.drain();
    await vi.advanceTimersByTimeAsync(30_000);
    await drained;

    expect(minGap(slack.updates.map((update) => update.at))).toBeGreaterThanOrEqual(2000);
    expect(slack.updates.at(-1)!.text).toBe('finished: 198 done');
    const threadPosts = slack.posts.filter((post) => post.thread_ts === '1.1');
    expect(minGap(threadPosts.map((post) => post.at))).toBeGreaterThanOrEqual(1000);
    const allText = threadPosts.map((post) => JSON.stringify(post.blocks) + post.text).join('\n');
    for (const server of finished.servers.filter((s) => s.state === 'done'))
      expect(allText).toContain(server.name);
    expect(
      threadPosts.filter((post) => JSON.stringify(post.blocks).includes('"evac_retry_server"')),
    ).toHaveLength(2);
    expect(threadPosts.at(-1)!.reply_broadcast).toBe(true);
    // Far fewer posts than servers: the completions were batched.
    expect(threadPosts.length).toBeLessThan(40);
    reporter.stop();
  });

  it('the final state is posted even when edits fail for a while', async () => {
    const { engine, slack, reporter } = setup();
    const run = pendingRun(3);
    engine.emit({ type: 'run.started', run });
    await vi.advanceTimersByTimeAsync(10);
    slack.failUpdatesFor(20_000);
    const finished = {
      ...run,
      state: 'finished' as const,
      servers: run.servers.map((server) => ({ ...server, state: 'done' as const })),
    };
    engine.emit({ type: 'run.finished', run: finished });
    const drained = reporter.drain();
    await vi.advanceTimersByTimeAsync(120_000);
    await drained;
    expect(slack.updates.at(-1)!.text).toBe('finished: 3 done');
    expect(slack.updates.at(-1)!.at).toBeGreaterThanOrEqual(Date.parse('2024-05-01T10:00:20Z'));
    reporter.stop();
  });

  it('ignores runs without Slack references and dry runs', async () => {
    const { engine, slack, reporter } = setup();
    const foreign = { ...pendingRun(2), id: 'r-foreign', frontEnd: {} };
    const dry = {
      ...pendingRun(2),
      id: 'r-dry',
      frontEnd: { slack: { channel: 'C1', messageTs: '1.2', dryRun: true } },
    };
    engine.emit({ type: 'run.cancelled', run: foreign, by: 'U1' });
    engine.emit({ type: 'run.cancelled', run: dry, by: 'U1' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(slack.updates).toEqual([]);
    expect(slack.posts).toEqual([]);
    reporter.stop();
  });

  it('posts progress for a slow live migration, at most once per interval', async () => {
    const { engine, slack, reporter } = setup();
    const run = pendingRun(1);
    engine.emit({ type: 'run.started', run });
    const serverId = run.servers[0]!.serverId;
    const startedAt = new Date().toISOString();
    for (let second = 0; second < 200; second += 5) {
      await vi.advanceTimersByTimeAsync(5000);
      const change = engine.setServer(run.id, serverId, {
        state: 'moving',
        startedAt,
        progress: {
          percent: Math.min(99, second / 2),
          memoryProcessedBytes: null,
          memoryTotalBytes: null,
          migrationStatus: 'running',
        },
      });
      engine.emit({ type: 'server.progress', run: change.run, server: change.server });
    }
    const drained = reporter.drain();
    await vi.advanceTimersByTimeAsync(10_000);
    await drained;
    const progress = slack.posts.filter(
      (post) =>
        post.text.toLowerCase().includes('taking a while') ||
        JSON.stringify(post.blocks).includes('taking a while'),
    );
    // 200 s of a move: first post after 60 s, then every 120 s at most.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(2);
    expect(progress[0]!.at - Date.parse(startedAt)).toBeGreaterThanOrEqual(60_000);
    reporter.stop();
  });
});
