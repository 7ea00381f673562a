/**
 * New messages in a channel (previews, thread replies, summaries), one queue per channel, at most
 * one post per `minIntervalMs`: Slack allows about one message per second per channel, and a
 * thread that scrolls faster than that is unreadable anyway.
 *
 * Entries are built at send time, and an entry with a coalescing key stays queued once: while the
 * queue is busy, completions keep accumulating into the one batch that will go out when its turn
 * comes. The spacing is measured from the end of one post to the start of the next, so Slack never
 * sees two posts closer than the interval, retries included.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from '../log.js';
import type { SlackMessage } from '../views/block-kit.js';
import { isPermanentSlackError, retryBackoffMs, slackErrorCode } from './slack-errors.js';

export interface PostContent extends SlackMessage {
  thread_ts?: string;
  reply_broadcast?: boolean;
}

export interface EnqueueOptions {
  /** At most one queued entry per key; enqueueing again while queued is a no-op (the build sees the latest data). */
  key?: string;
  /** Tries including the first (default 3); Infinity for messages that must land (summaries). */
  attempts?: number;
  /**
   * `high` goes ahead of queued background posts (completions, progress, lists): someone is
   * waiting for it (a preview they asked for, an approval request).
   */
  priority?: 'high' | 'normal';
}

interface Entry {
  key: string | undefined;
  high: boolean;
  build: () => PostContent | null;
  /** What was built for the first try: a retry posts the same thing (the batch it drained). */
  built?: PostContent;
  attemptsLeft: number;
  failures: number;
  resolve: (ts: string | null) => void;
  reject: (error: unknown) => void;
}

interface ChannelQueue {
  entries: Entry[];
  running: boolean;
  /** When the last post finished; undefined = never. */
  lastPostAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  idleWaiters: Array<() => void>;
}

export type PostMessageClient = Pick<webApi.WebClient, 'chat'>;

export interface ChannelPosterOptions {
  client: PostMessageClient;
  minIntervalMs: number;
  logger: Logger;
  backoffMs?: (failures: number) => number;
}

export class ChannelPoster {
  private readonly channels = new Map<string, ChannelQueue>();
  private readonly backoffMs: (failures: number) => number;
  private stopped = false;

  constructor(private readonly options: ChannelPosterOptions) {
    this.backoffMs = options.backoffMs ?? ((failures) => retryBackoffMs(failures));
  }

  /**
   * Queues a message for `channel`. Resolves with its ts when posted, with null when the build
   * returned null (nothing to say any more) or the key was already queued; rejects when it could
   * not be posted (permanent refusal, or out of attempts).
   */
  enqueue(
    channel: string,
    build: () => PostContent | null,
    options: EnqueueOptions = {},
  ): Promise<string | null> {
    if (this.stopped) return Promise.resolve(null);
    const queue = this.queueFor(channel);
    if (options.key !== undefined && queue.entries.some((entry) => entry.key === options.key)) {
      return Promise.resolve(null);
    }
    return new Promise<string | null>((resolve, reject) => {
      const entry: Entry = {
        key: options.key,
        high: options.priority === 'high',
        build,
        attemptsLeft: options.attempts ?? 3,
        failures: 0,
        resolve,
        reject,
      };
      if (entry.high) {
        const firstNormal = queue.entries.findIndex((queued) => !queued.high);
        if (firstNormal < 0) queue.entries.push(entry);
        else queue.entries.splice(firstNormal, 0, entry);
      } else {
        queue.entries.push(entry);
      }
      this.schedule(channel, queue, 0);
    });
  }

  /** Posts exactly this message (in its turn). */
  post(
    channel: string,
    content: PostContent,
    options: Omit<EnqueueOptions, 'key'> = {},
  ): Promise<string | null> {
    return this.enqueue(channel, () => content, options);
  }

  /** Whether an entry with this key is waiting (not yet sent). */
  isQueued(channel: string, key: string): boolean {
    return this.channels.get(channel)?.entries.some((entry) => entry.key === key) ?? false;
  }

  async idle(): Promise<void> {
    await Promise.all(
      [...this.channels.values()].map(
        (queue) =>
          new Promise<void>((resolve) => {
            if (this.isIdle(queue)) resolve();
            else queue.idleWaiters.push(resolve);
          }),
      ),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const queue of this.channels.values()) {
      if (queue.timer) clearTimeout(queue.timer);
      queue.timer = undefined;
      for (const entry of queue.entries.splice(0)) entry.resolve(null);
      this.notifyIdle(queue);
    }
  }

  private queueFor(channel: string): ChannelQueue {
    let queue = this.channels.get(channel);
    if (queue === undefined) {
      queue = { entries: [], running: false, lastPostAt: undefined, timer: undefined, idleWaiters: [] };
      this.channels.set(channel, queue);
    }
    return queue;
  }

  private isIdle(queue: ChannelQueue): boolean {
    return queue.entries.length === 0 && !queue.running && queue.timer === undefined;
  }

  private notifyIdle(queue: ChannelQueue): void {
    if (!this.isIdle(queue)) return;
    for (const waiter of queue.idleWaiters.splice(0)) waiter();
  }

  private schedule(channel: string, queue: ChannelQueue, extraDelayMs: number): void {
    if (queue.running || queue.timer !== undefined || queue.entries.length === 0 || this.stopped) return;
    const earliest = queue.lastPostAt === undefined ? 0 : queue.lastPostAt + this.options.minIntervalMs;
    const delay = Math.max(0, earliest - Date.now(), extraDelayMs);
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      void this.runNext(channel, queue);
    }, delay);
  }

  private async runNext(channel: string, queue: ChannelQueue): Promise<void> {
    // Off the queue while in flight, so a new entry with the same key queues behind it.
    let entry: Entry | undefined;
    let content: PostContent | null = null;
    while (content === null) {
      entry = queue.entries.shift();
      if (entry === undefined || this.stopped) {
        entry?.resolve(null);
        this.notifyIdle(queue);
        return;
      }
      try {
        content = entry.built ?? entry.build();
      } catch (error) {
        this.options.logger.error({ err: error, channel }, 'could not build a message; skipping it');
        entry.reject(error);
        continue;
      }
      // Nothing to say any more (e.g. the batch went out with an earlier message): costs no post.
      if (content === null) entry.resolve(null);
    }
    if (entry === undefined) return;
    entry.built = content;
    queue.running = true;
    let retryDelay = 0;
    try {
      const result = await this.options.client.chat.postMessage(postArguments(channel, content));
      entry.resolve(typeof result.ts === 'string' ? result.ts : null);
    } catch (error) {
      entry.failures += 1;
      entry.attemptsLeft -= 1;
      const permanent = isPermanentSlackError(error);
      if (permanent || entry.attemptsLeft <= 0 || this.stopped) {
        this.options.logger.error(
          { err: error, channel, slackError: slackErrorCode(error), permanent },
          'could not post to Slack; giving up on this message',
        );
        entry.reject(error);
      } else {
        this.options.logger.warn(
          { err: error, channel, failures: entry.failures },
          'posting to Slack failed; it will be tried again',
        );
        queue.entries.unshift(entry);
        retryDelay = this.backoffMs(entry.failures);
      }
    } finally {
      queue.running = false;
      queue.lastPostAt = Date.now();
    }
    this.schedule(channel, queue, retryDelay);
    this.notifyIdle(queue);
  }
}

function postArguments(channel: string, content: PostContent): webApi.ChatPostMessageArguments {
  const { text, blocks } = content;
  if (content.thread_ts === undefined) return { channel, text, blocks };
  if (content.reply_broadcast === true) {
    return { channel, text, blocks, thread_ts: content.thread_ts, reply_broadcast: true };
  }
  return { channel, text, blocks, thread_ts: content.thread_ts };
}
