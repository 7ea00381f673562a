/**
 * The operator's whole story through the real Bolt app, engine, client and simulated cloud:
 * command → preview → confirm → progress → a silent live-migration failure → retry → done.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { generateScenario } from '../../src/sim/index.js';
import { ActionId } from '../../src/slack/action-ids.js';
import { slackRef } from '../../src/slack/front-end.js';
import {
  ALICE,
  BOB,
  BOT_TOKEN,
  OPS,
  hasElement,
  messageText,
  startSlackHarness,
  type SlackHarness,
} from './harness.js';

let harness: SlackHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const fourServers = () =>
  generateScenario({
    hosts: 3,
    serversPerHost: 4,
    loadedHosts: ['host-1'],
    settings: { max_concurrent_live_migrations: 4 },
  });

describe('command → preview → confirm → failure → retry → done', () => {
  it('drains a host, reporting every step in the channel and its thread', async () => {
    const h = (harness = await startSlackHarness({ scenario: fourServers() }));

    const ack = await h.command('host-1 --live --parallel 2 --reason "kernel upgrade"');
    expect(ack.acknowledged).toBe(true);
    expect(JSON.stringify(ack.ackBody)).toContain('Planning the evacuation of host-1');
    await ack.done;

    const planned = await h.waitForRun('host-1');
    expect(planned.state).toBe('planned');
    expect(planned.plan.mode).toBe('live');
    expect(planned.plan.concurrency).toBe(2);
    const preview = h.runMessage(planned);
    expect(preview.channel).toBe(OPS);
    expect(messageText(preview)).toContain('Evacuation preview: host-1');
    expect(messageText(preview)).toContain('kernel upgrade');
    expect(hasElement(preview, ActionId.Confirm)).toBe(true);
    // The permalink is stored for /evacuate status and for "already running" answers.
    expect(slackRef(h.engine.getRun(planned.id)!)?.permalink).toMatch(/\/archives\/C0OPS\/p/);
    // The full server list goes to the thread.
    await h.fake.waitFor(() => h.fake.threadReplies(OPS, preview.ts).length > 0, {
      what: 'server list in the thread',
    });
    expect(messageText(h.fake.threadReplies(OPS, preview.ts)[0]!)).toContain('Servers on');

    const serverIds = planned.servers.map((server) => server.serverId);
    h.sim.control.failNextLiveMigration({
      host: 'host-1',
      message: 'Live migration failed: unable to connect to qemu+tls://host-2',
    });
    const confirm = await h.click(preview, ActionId.Confirm, { user: ALICE });
    expect(confirm.acknowledged).toBe(true);
    await confirm.done;

    const finished = await h.waitForRunState(planned.id, ['finished']);
    const failed = finished.servers.filter((server) => server.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(finished.servers.filter((server) => server.state === 'done')).toHaveLength(3);
    await h.bot.reporter.drain();

    // The preview became the status message, edited in place, no buttons at the end.
    const status = h.runMessage(finished);
    expect(status.ts).toBe(preview.ts);
    expect(status.history.length).toBeGreaterThan(1);
    expect(messageText(status)).not.toContain('Evacuation preview');
    expect(hasElement(status, ActionId.Stop)).toBe(false);

    // The failure in the thread, with Nova's reason and a Retry button.
    const thread = h.fake.threadReplies(OPS, preview.ts);
    const failure = thread.find((message) => hasElement(message, ActionId.RetryServer));
    expect(failure, 'a failure post with Retry').toBeDefined();
    expect(messageText(failure!)).toContain('compute_live_migration');
    // Completions batched: fewer posts than completed servers is fine, none lost.
    const completionsText = thread.map(messageText).join('\n');
    for (const server of finished.servers.filter((s) => s.state === 'done')) {
      expect(completionsText).toContain(server.name);
    }
    // The summary, broadcast to the channel, offering Retry all failed and Re-enable.
    const summary = thread.find((message) => message.replyBroadcast);
    expect(summary, 'a broadcast summary').toBeDefined();
    expect(hasElement(summary!, ActionId.RetryFailed)).toBe(true);
    expect(hasElement(summary!, ActionId.ReenableHost)).toBe(true);

    // Bob retries the failed server from the thread.
    const retry = await h.click(failure!, ActionId.RetryServer, { user: BOB });
    expect(retry.acknowledged).toBe(true);
    await retry.done;
    const retried = await h.fake.waitFor(
      () => {
        const run = h.engine.getRun(planned.id);
        return run && run.state === 'finished' && run.servers.every((s) => s.state === 'done')
          ? run
          : undefined;
      },
      { timeoutMs: 30_000, what: 'every server done after the retry' },
    );
    await h.bot.reporter.drain();
    expect(retried.servers.every((s) => s.destinationHost !== 'host-1')).toBe(true);
    const onHost1 = h.sim.control
      .state()
      .servers.filter((s) => serverIds.includes(s.id) && s.host === 'host-1');
    expect(onHost1).toEqual([]);
    expect(messageText(h.runMessage(retried))).not.toContain('failed: 1');

    // Bob re-enables the host from the latest summary; the summary drops the button.
    const latestSummary = h.fake
      .threadReplies(OPS, preview.ts)
      .filter((message) => message.replyBroadcast)
      .at(-1)!;
    expect(hasElement(latestSummary, ActionId.ReenableHost)).toBe(true);
    await (
      await h.click(latestSummary, ActionId.ReenableHost, { user: BOB })
    ).done;
    await h.fake.waitFor(() => h.sim.control.host('host-1').status === 'enabled', {
      what: 'host-1 re-enabled',
    });
    await h.bot.reporter.drain();
    expect(hasElement(h.fake.message(OPS, latestSummary.ts)!, ActionId.ReenableHost)).toBe(false);

    // Throttling held: status edits at least the configured interval apart, thread posts too.
    expect(h.fake.minGapMs('chat.update', (call) => call.args.ts === preview.ts)).toBeGreaterThanOrEqual(300);
    expect(h.fake.minGapMs('chat.postMessage', (call) => call.args.channel === OPS)).toBeGreaterThanOrEqual(
      100,
    );
    expect(h.fake.violations).toEqual([]);
    // Nothing went wrong for the people clicking.
    expect(h.ephemeralTexts(ALICE).join('\n')).not.toMatch(/⚠️/);
    expect(h.ephemeralTexts(BOB).join('\n')).not.toMatch(/⚠️/);
  });
});

describe('secrets', () => {
  it('the bot token never reaches the log, even at debug level', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const h = (harness = await startSlackHarness({ scenario: fourServers(), logger }));
    await (
      await h.command('host-1 --live')
    ).done;
    const run = await h.waitForRun('host-1');
    await (
      await h.click(h.runMessage(run), ActionId.Confirm, { user: ALICE })
    ).done;
    await h.waitForRunState(run.id, ['finished']);
    await h.bot.reporter.drain();
    // Make sure something was logged at all, including Bolt's and the WebClient's own debug lines.
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((line) => line.includes('"component":"bolt"'))).toBe(true);
    expect(lines.some((line) => line.includes('http request headers'))).toBe(true);
    const all = lines.join('\n');
    expect(all).not.toContain(BOT_TOKEN);
    expect(all).not.toContain(BOT_TOKEN.slice(5));
  });
});
