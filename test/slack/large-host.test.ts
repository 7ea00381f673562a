/**
 * A 300-server host, end to end: every message the bot sends (preview, thread list, status
 * edits, completion batches, summary) stays within Slack's limits, and the thread is batched
 * rather than one post per server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/sim/index.js';
import { ActionId } from '../../src/slack/action-ids.js';
import { checkMessageLimits } from '../../src/views/index.js';
import { ALICE, OPS, hasElement, messageText, startSlackHarness, type SlackHarness } from './harness.js';

let h: SlackHarness | undefined;
afterAll(async () => {
  await h?.close();
});

describe('a 300-server host', () => {
  it('renders within Slack limits from preview to summary', async () => {
    h = await startSlackHarness({
      scenario: generateScenario({
        hosts: 4,
        serversPerHost: 300,
        loadedHosts: ['host-1'],
        settings: { max_concurrent_live_migrations: 20 },
      }),
      engine: { globalConcurrency: 20 },
    });
    await (
      await h.command('host-1 --live --parallel 20')
    ).done;
    const run = await h.waitForRun('host-1');
    expect(run.plan.servers).toHaveLength(300);
    const preview = h.runMessage(run);
    expect(checkMessageLimits(preview)).toEqual([]);
    expect(messageText(preview)).toMatch(/more/);
    expect(hasElement(preview, ActionId.Confirm)).toBe(true);

    await h.bot.reporter.drain();
    const listPages = h.fake.threadReplies(OPS, preview.ts);
    expect(listPages.length).toBeGreaterThan(1);
    for (const page of listPages) expect(checkMessageLimits(page)).toEqual([]);
    const listed = listPages.map(messageText).join('\n');
    for (const server of run.plan.servers) expect(listed).toContain(server.name);

    const threadBefore = listPages.length;
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    const finished = await h.waitForRunState(run.id, ['finished'], 120_000);
    await h.bot.reporter.drain();
    expect(finished.servers.filter((server) => server.state === 'done')).toHaveLength(300);

    const status = h.fake.message(OPS, preview.ts)!;
    for (const version of status.history) expect(checkMessageLimits(version)).toEqual([]);
    const runThread = h.fake.threadReplies(OPS, preview.ts).slice(threadBefore);
    for (const post of runThread) expect(checkMessageLimits(post)).toEqual([]);
    // Batched: at most one post per interval (100 ms here) whatever the number of completions.
    const threadSpan = (runThread.at(-1)?.history[0]?.at ?? 0) - (runThread[0]?.history[0]?.at ?? 0);
    expect(runThread.length).toBeLessThanOrEqual(Math.floor(threadSpan / 100) + 1);
    expect(runThread.length).toBeLessThan(300 / 3);
    expect(runThread.some((post) => post.replyBroadcast)).toBe(true);
    // Everything the fake saw passed the same validator (ephemerals included).
    expect(h.fake.violations).toEqual([]);
  });
});
