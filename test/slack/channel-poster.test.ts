import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChannelPoster, type PostMessageClient } from '../../src/slack/channel-poster.js';

const logger = pino({ level: 'silent' });

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function stubClient() {
  const posts: Array<{
    at: number;
    channel: string;
    text: string;
    thread_ts?: string;
    reply_broadcast?: boolean;
  }> = [];
  const failures: Array<Error> = [];
  let ts = 0;
  const client = {
    chat: {
      postMessage: async (args: {
        channel: string;
        text?: string;
        thread_ts?: string;
        reply_broadcast?: boolean;
      }) => {
        const failure = failures.shift();
        if (failure) throw failure;
        ts += 1;
        posts.push({
          at: Date.now(),
          channel: args.channel,
          text: args.text ?? '',
          thread_ts: args.thread_ts,
          reply_broadcast: args.reply_broadcast,
        });
        return { ok: true, ts: `1.${ts}` };
      },
    },
  } as unknown as PostMessageClient;
  return { client, posts, failures };
}

const message = (text: string) => ({ text, blocks: [] });

describe('ChannelPoster', () => {
  it('posts at most once per interval per channel, in order; channels are independent', async () => {
    const { client, posts } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 1000, logger });
    const results = ['a', 'b', 'c'].map((text) => poster.post('C1', message(text)));
    const other = poster.post('C2', message('x'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(await Promise.all(results)).toEqual(expect.arrayContaining([expect.stringMatching(/^1\./)]));
    expect(await other).toMatch(/^1\./);
    const c1 = posts.filter((post) => post.channel === 'C1');
    expect(c1.map((post) => post.text)).toEqual(['a', 'b', 'c']);
    expect(c1[1]!.at - c1[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(c1[2]!.at - c1[1]!.at).toBeGreaterThanOrEqual(1000);
    expect(posts.find((post) => post.channel === 'C2')!.at).toBe(0);
  });

  it('a keyed entry is queued once and built at send time, so a burst becomes one batch', async () => {
    const { client, posts } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 1000, logger });
    void poster.post('C1', message('first'));
    const batch: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      batch.push(i);
      void poster.enqueue(
        'C1',
        () => {
          const drained = batch.splice(0);
          return drained.length ? message(`done ${drained.length}`) : null;
        },
        { key: 'done' },
      );
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(posts.map((post) => post.text)).toEqual(['first', 'done 50']);
  });

  it('a null build costs no post and no wait', async () => {
    const { client, posts } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 1000, logger });
    const skipped = poster.enqueue('C1', () => null);
    void poster.post('C1', message('after'));
    await vi.advanceTimersByTimeAsync(0);
    expect(await skipped).toBeNull();
    expect(posts.map((post) => [post.text, post.at])).toEqual([['after', 0]]);
  });

  it('retries transient failures with the content it built, gives up on permanent ones', async () => {
    const { client, posts, failures } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 100, logger });
    failures.push(new Error('socket hang up'), new Error('HTTP 500'));
    let builds = 0;
    const landed = poster.enqueue('C1', () => message(`built ${++builds}`), { attempts: 5 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await landed).toMatch(/^1\./);
    expect(posts.map((post) => post.text)).toEqual(['built 1']);

    failures.push(Object.assign(new Error('not_in_channel'), { data: { error: 'not_in_channel' } }));
    const refused = poster.post('C1', message('never'), { attempts: Number.POSITIVE_INFINITY });
    const assertion = expect(refused).rejects.toThrow('not_in_channel');
    await vi.advanceTimersByTimeAsync(1000);
    await assertion;
  });

  it('keeps trying an entry with unlimited attempts until it lands', async () => {
    const { client, posts, failures } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 100, logger });
    for (let i = 0; i < 8; i += 1) failures.push(new Error('HTTP 503'));
    const landed = poster.post('C1', message('summary'), { attempts: Number.POSITIVE_INFINITY });
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(await landed).toMatch(/^1\./);
    expect(posts.map((post) => post.text)).toEqual(['summary']);
  });

  it('passes thread and broadcast flags', async () => {
    const { client, posts } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 100, logger });
    void poster.post('C1', { ...message('reply'), thread_ts: '1.1', reply_broadcast: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(posts[0]).toMatchObject({ thread_ts: '1.1', reply_broadcast: true });
  });
});

describe('ChannelPoster priorities', () => {
  it('a high-priority post goes ahead of queued background posts, after other high ones', async () => {
    const { client, posts } = stubClient();
    const poster = new ChannelPoster({ client, minIntervalMs: 1000, logger });
    void poster.post('C1', message('first'));
    await vi.advanceTimersByTimeAsync(0);
    void poster.post('C1', message('list 1'));
    void poster.post('C1', message('list 2'));
    void poster.post('C1', message('preview A'), { priority: 'high' });
    void poster.post('C1', message('preview B'), { priority: 'high' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(posts.map((post) => post.text)).toEqual(['first', 'preview A', 'preview B', 'list 1', 'list 2']);
  });
});
