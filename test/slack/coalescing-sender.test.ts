import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoalescingSender } from '../../src/slack/coalescing-sender.js';

const logger = pino({ level: 'silent' });

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A send that records when it ran and what state it carried. */
function recorder(latencyMs = 0) {
  const sent: Array<{ at: number; value: number }> = [];
  let failuresLeft = 0;
  let permanent = false;
  return {
    sent,
    failNext(times: number, asPermanent = false) {
      failuresLeft = times;
      permanent = asPermanent;
    },
    send(value: () => number) {
      return async () => {
        if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw permanent
            ? Object.assign(new Error('gone'), { data: { error: 'message_not_found' } })
            : Object.assign(new Error('HTTP 503'), { statusCode: 503 });
        }
        sent.push({ at: Date.now(), value: value() });
      };
    },
  };
}

describe('CoalescingSender', () => {
  it('sends the first request at once, then at most one per interval, always the latest state', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 2000, logger });
    const rec = recorder();
    let state = 0;
    for (let i = 0; i < 100; i += 1) {
      state = i;
      sender.request(
        'm',
        rec.send(() => state),
      );
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(5000);
    // 10 s of requests every 100 ms: about five edits, not a hundred.
    expect(rec.sent.length).toBeLessThanOrEqual(7);
    for (let i = 1; i < rec.sent.length; i += 1) {
      expect(rec.sent[i]!.at - rec.sent[i - 1]!.at).toBeGreaterThanOrEqual(2000);
    }
    expect(rec.sent.at(-1)!.value).toBe(99);
    expect(rec.sent[0]!.at).toBe(0);
  });

  it('measures the interval from the end of a slow send', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 2000, logger });
    const rec = recorder(1500);
    sender.request(
      'm',
      rec.send(() => 1),
    );
    await vi.advanceTimersByTimeAsync(100);
    sender.request(
      'm',
      rec.send(() => 2),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rec.sent.map((s) => s.value)).toEqual([1, 2]);
    // The first completed at 1500; the second started no earlier than 3500 and completed 1500 later.
    expect(rec.sent[1]!.at - rec.sent[0]!.at).toBeGreaterThanOrEqual(3500);
  });

  it('keys are independent', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 2000, logger });
    const rec = recorder();
    sender.request(
      'a',
      rec.send(() => 1),
    );
    sender.request(
      'b',
      rec.send(() => 2),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.sent.map((s) => s.value).sort()).toEqual([1, 2]);
  });

  it('retries a failed final state until it lands, with the newest content', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 2000, logger, maxFailures: 2 });
    const rec = recorder();
    let state = 1;
    rec.failNext(6);
    sender.request(
      'm',
      rec.send(() => state),
      { final: true },
    );
    await vi.advanceTimersByTimeAsync(3000);
    state = 2;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0]!.value).toBe(2);
    const idle = sender.idle();
    await vi.advanceTimersByTimeAsync(0);
    await idle;
  });

  it('gives up on a non-final state after maxFailures (a later request revives the key)', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 100, logger, maxFailures: 2 });
    const rec = recorder();
    rec.failNext(2);
    sender.request(
      'm',
      rec.send(() => 1),
    );
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rec.sent).toHaveLength(0);
    sender.request(
      'm',
      rec.send(() => 2),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(rec.sent.map((s) => s.value)).toEqual([2]);
  });

  it('drops a message Slack refuses for good', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 100, logger });
    const rec = recorder();
    rec.failNext(1, true);
    sender.request(
      'm',
      rec.send(() => 1),
      { final: true },
    );
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rec.sent).toHaveLength(0);
    const idle = sender.idle('m');
    await vi.advanceTimersByTimeAsync(0);
    await idle;
  });

  it('stop drops what is pending', async () => {
    const sender = new CoalescingSender({ minIntervalMs: 2000, logger });
    const rec = recorder();
    sender.request(
      'm',
      rec.send(() => 1),
    );
    await vi.advanceTimersByTimeAsync(0);
    sender.request(
      'm',
      rec.send(() => 2),
    );
    sender.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rec.sent.map((s) => s.value)).toEqual([1]);
  });
});
