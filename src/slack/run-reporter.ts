/**
 * Keeps the channel informed while runs go: subscribes to engine events and turns them into
 * Slack traffic that stays within Slack's limits and readable for people.
 *
 * - The run's message (preview, then status) is edited in place, at most once per
 *   `statusEditIntervalMs`, always with the run's state at send time; the last state is retried
 *   until it lands.
 * - The thread gets one post per failure (Nova's text, request id, Retry buttons), completions in
 *   batches, progress for slow live migrations; all through the per-channel queue (at most one post
 *   per `threadPostIntervalMs`), so a burst of 200 completions becomes a handful of posts.
 * - When the run ends: a summary replying in the thread and broadcast to the channel.
 *
 * Nothing here is needed to recover after a restart: where the messages are is stored with the run
 * (front-end.ts), and the engine's events carry the run.
 */
import type { webApi } from '@slack/bolt';
import type { EvacuationEngineApi } from '../engine/api.js';
import type { EngineEvent, EvacuationRun, ServerRun } from '../engine/types.js';
import type { Logger } from '../log.js';
import {
  completionsThreadMessage,
  failureThreadMessage,
  progressThreadMessage,
  summaryMessage,
  type SlackMessage,
} from '../views/index.js';
import type { ChannelPoster } from './channel-poster.js';
import { CoalescingSender } from './coalescing-sender.js';
import { saveSlackRef, slackRef, type SlackRunRef } from './front-end.js';

export interface RunReporterOptions {
  engine: Pick<EvacuationEngineApi, 'subscribe' | 'getRun' | 'setFrontEnd'>;
  client: Pick<webApi.WebClient, 'chat'>;
  poster: ChannelPoster;
  render: (run: EvacuationRun) => SlackMessage;
  logger: Logger;
  /** Minimum spacing of edits of one message. Default 2000. */
  statusEditIntervalMs?: number;
  /** A live migration running longer than this gets progress posts in the thread. Default 60 s. */
  slowMoveAfterMs?: number;
  /** At most one progress post per server per this interval. Default 120 s. */
  progressIntervalMs?: number;
  now?: () => Date;
}

const FAILURE_STATES = new Set(['failed', 'timed_out']);

export class RunReporter {
  private readonly sender: CoalescingSender;
  private readonly completions = new Map<string, ServerRun[]>();
  private readonly lastProgressPost = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private unsubscribe: (() => void) | undefined;
  private readonly slowMoveAfterMs: number;
  private readonly progressIntervalMs: number;
  private readonly now: () => Date;

  constructor(private readonly options: RunReporterOptions) {
    this.sender = new CoalescingSender({
      minIntervalMs: options.statusEditIntervalMs ?? 2000,
      logger: options.logger.child({ component: 'status-edits' }),
    });
    this.slowMoveAfterMs = options.slowMoveAfterMs ?? 60_000;
    this.progressIntervalMs = options.progressIntervalMs ?? 120_000;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.options.engine.subscribe((event) => {
      try {
        this.onEvent(event);
      } catch (error) {
        // An engine listener must never throw into the engine.
        this.options.logger.error({ err: error, type: event.type }, 'run reporter failed on an event');
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sender.stop();
  }

  /**
   * Brings the run's message up to date (throttled). Listeners call it after a click changed the
   * run, so every edit of a message goes through the same queue and never overtakes another.
   */
  refresh(runId: string, options: { final?: boolean } = {}): void {
    this.sender.request(
      `run:${runId}`,
      async () => {
        const run = this.options.engine.getRun(runId);
        const ref = run ? slackRef(run) : null;
        if (!run || !ref) return;
        const message = this.options.render(run);
        await this.options.client.chat.update({
          channel: ref.channel,
          ts: ref.messageTs,
          text: message.text,
          blocks: message.blocks,
        });
      },
      options,
    );
  }

  /** Resolves once nothing is queued or in flight (tests, shutdown). */
  async drain(): Promise<void> {
    for (;;) {
      await Promise.all([...this.pending]);
      await this.sender.idle();
      await this.options.poster.idle();
      if (this.pending.size === 0) return;
    }
  }

  private onEvent(event: EngineEvent): void {
    const ref = slackRef(event.run);
    if (!ref || ref.dryRun) return;
    const runId = event.run.id;
    switch (event.type) {
      case 'run.planned':
        return;
      case 'run.started':
      case 'run.stopping':
        this.refresh(runId);
        return;
      case 'server.changed':
        this.refresh(runId);
        if (FAILURE_STATES.has(event.server.state) && !FAILURE_STATES.has(event.previous)) {
          this.postFailure(ref, event.run, event.server);
        } else if (event.server.state === 'done' && event.previous !== 'done') {
          this.addCompletion(ref, runId, event.server);
        }
        return;
      case 'server.progress':
        this.refresh(runId);
        this.maybePostProgress(ref, event.run, event.server);
        return;
      case 'run.finished':
        this.refresh(runId, { final: true });
        this.postSummary(ref, runId);
        return;
      case 'run.cancelled':
        this.refresh(runId, { final: true });
        return;
      case 'service.changed':
        this.refresh(runId);
        this.refreshSummary(runId);
        return;
    }
  }

  private track<T>(promise: Promise<T>, what: string): void {
    const tracked = promise
      .catch((error: unknown) => {
        this.options.logger.error({ err: error, what }, 'could not post to the run thread');
      })
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private postFailure(ref: SlackRunRef, run: EvacuationRun, server: ServerRun): void {
    // The server as it failed (a retry may have moved on since); the run as it is at send time.
    this.track(
      this.options.poster.enqueue(
        ref.channel,
        () => ({
          ...failureThreadMessage(this.options.engine.getRun(run.id) ?? run, server),
          thread_ts: ref.messageTs,
        }),
        { attempts: 5 },
      ),
      'failure',
    );
  }

  private addCompletion(ref: SlackRunRef, runId: string, server: ServerRun): void {
    const batch = this.completions.get(runId) ?? [];
    batch.push(server);
    this.completions.set(runId, batch);
    this.track(
      this.options.poster.enqueue(
        ref.channel,
        () => {
          const drained = this.completions.get(runId) ?? [];
          this.completions.delete(runId);
          if (drained.length === 0) return null;
          const run = this.options.engine.getRun(runId);
          if (!run) return null;
          return { ...completionsThreadMessage(run, drained), thread_ts: ref.messageTs };
        },
        { key: `completions:${runId}`, attempts: 5 },
      ),
      'completions',
    );
  }

  private maybePostProgress(ref: SlackRunRef, run: EvacuationRun, server: ServerRun): void {
    if (server.action !== 'live-migrate' || server.state !== 'moving' || server.startedAt === null) return;
    const now = this.now().getTime();
    const startedAt = Date.parse(server.startedAt);
    if (!Number.isFinite(startedAt) || now - startedAt < this.slowMoveAfterMs) return;
    const key = `${run.id}:${server.serverId}:${server.attempt}`;
    const last = this.lastProgressPost.get(key);
    if (last !== undefined && now - last < this.progressIntervalMs) return;
    this.lastProgressPost.set(key, now);
    this.track(
      this.options.poster.enqueue(
        ref.channel,
        () => {
          const latest = this.options.engine
            .getRun(run.id)
            ?.servers.find((s) => s.serverId === server.serverId);
          // Finished while waiting for its turn: the completion or failure says it all.
          if (!latest || latest.state !== 'moving') return null;
          return { ...progressThreadMessage(run, latest, this.now()), thread_ts: ref.messageTs };
        },
        { key: `progress:${key}`, attempts: 2 },
      ),
      'progress',
    );
  }

  private postSummary(ref: SlackRunRef, runId: string): void {
    const posted = this.options.poster.enqueue(
      ref.channel,
      () => {
        const run = this.options.engine.getRun(runId);
        if (!run) return null;
        return { ...summaryMessage(run), thread_ts: ref.messageTs, reply_broadcast: true };
      },
      // The summary is the record of what happened: it must land, however long Slack needs.
      { key: `summary:${runId}`, attempts: Number.POSITIVE_INFINITY },
    );
    this.track(
      posted.then((ts) => {
        if (ts !== null) saveSlackRef(this.options.engine, runId, { summaryTs: ts });
      }),
      'summary',
    );
  }

  private refreshSummary(runId: string): void {
    this.sender.request(`summary:${runId}`, async () => {
      const run = this.options.engine.getRun(runId);
      const ref = run ? slackRef(run) : null;
      if (!run || !ref?.summaryTs) return;
      const message = summaryMessage(run);
      await this.options.client.chat.update({
        channel: ref.channel,
        ts: ref.summaryTs,
        text: message.text,
        blocks: message.blocks,
      });
    });
  }
}
