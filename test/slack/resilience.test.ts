/**
 * Slack being unhappy while a run goes: a 429 storm (Retry-After honoured), and a 5xx outage
 * longer than the Web API client's own retries. The run's final state and summary still land.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/sim/index.js';
import { ActionId } from '../../src/slack/action-ids.js';
import { statusMessage } from '../../src/views/index.js';
import { ALICE, BOB, OPS, hasElement, messageText, startSlackHarness, type SlackHarness } from './harness.js';

let harness: SlackHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const cloud = () =>
  generateScenario({
    hosts: 3,
    serversPerHost: 6,
    loadedHosts: ['host-1'],
    settings: { max_concurrent_live_migrations: 6 },
  });

async function startRun(h: SlackHarness) {
  // 0.4 s per move at this time scale: the run spans the injected trouble.
  h.sim.control.setOperationDuration('live_migration', 40);
  await (
    await h.command('host-1 --live --parallel 2')
  ).done;
  const run = await h.waitForRun('host-1');
  const preview = h.runMessage(run);
  await h.bot.reporter.drain();
  return { run, preview };
}

/** The finished run's status message, as the builder draws it (a finished run's text does not depend on now). */
function finalStatus(h: SlackHarness, runId: string) {
  return statusMessage(h.engine.getRun(runId)!, new Date());
}

describe('Slack rate limits and outages', () => {
  it('a 429 storm during a run: Retry-After is honoured and the final state is still posted', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud() }));
    const { run, preview } = await startRun(h);
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    h.fake.injectFault({ method: 'chat.update', status: 429, retryAfterSeconds: 1, forMs: 2_500 });
    h.fake.injectFault({ method: 'chat.postMessage', status: 429, retryAfterSeconds: 1, forMs: 2_500 });

    await h.waitForRunState(run.id, ['finished'], 60_000);
    await h.bot.reporter.drain();

    const limited = h.fake.calls.filter((call) => call.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    // After each 429, that method was not called again before Retry-After had passed.
    for (const hit of limited) {
      const next = h.fake.calls.find((call) => call.method === hit.method && call.at > hit.at);
      if (next) expect(next.at - hit.at).toBeGreaterThanOrEqual(950);
    }
    const status = h.fake.message(OPS, preview.ts)!;
    expect(status.blocks).toEqual(finalStatus(h, run.id).blocks);
    expect(hasElement(status, ActionId.Stop)).toBe(false);
    const summary = h.fake.threadReplies(OPS, preview.ts).find((reply) => reply.replyBroadcast);
    expect(summary, 'the summary landed after the storm').toBeDefined();
    expect(h.fake.violations).toEqual([]);
  });

  it('a 5xx outage longer than the client retries: the reporter keeps the latest state and posts it', async () => {
    const h = (harness = await startSlackHarness({
      scenario: cloud(),
      // Two quick tries only, so the outage outlasts the client and the reporter has to cope.
      app: { clientOptions: { retryConfig: { retries: 1, minTimeout: 20, maxTimeout: 20 } } },
    }));
    const { run, preview } = await startRun(h);
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    h.fake.injectFault({ method: 'chat.update', status: 503, forMs: 2_000 });
    h.fake.injectFault({ method: 'chat.postMessage', status: 500, forMs: 2_000 });

    await h.waitForRunState(run.id, ['finished'], 60_000);
    await h.bot.reporter.drain();

    expect(h.fake.calls.some((call) => call.status === 503)).toBe(true);
    const lastUpdate = h.fake
      .callsTo('chat.update')
      .filter((call) => call.ok && call.args.ts === preview.ts)
      .at(-1);
    expect(lastUpdate).toBeDefined();
    expect(lastUpdate!.at).toBeGreaterThan(h.fake.calls.filter((call) => call.status === 503).at(-1)!.at);
    const status = h.fake.message(OPS, preview.ts)!;
    expect(status.blocks).toEqual(finalStatus(h, run.id).blocks);
    expect(h.fake.threadReplies(OPS, preview.ts).some((reply) => reply.replyBroadcast)).toBe(true);
  });

  it('Stop from the status message: pending servers stop, the summary says so', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud() }));
    const { run, preview } = await startRun(h);
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    await h.fake.waitFor(() => hasElement(h.runMessage(run), ActionId.Stop), { what: 'the Stop button' });
    await (
      await h.click(h.runMessage(run), ActionId.Stop, { user: BOB })
    ).done;
    const stopped = await h.waitForRunState(run.id, ['finished'], 60_000);
    await h.bot.reporter.drain();
    expect(stopped.stoppedBy).toBe(BOB);
    expect(stopped.servers.some((server) => server.state === 'stopped')).toBe(true);
    const summary = h.fake.threadReplies(OPS, preview.ts).find((reply) => reply.replyBroadcast)!;
    expect(messageText(summary)).toMatch(/[Ss]topped/);
  });
});

describe('restarting the Slack app mid-run', () => {
  it('a fresh app on the same engine keeps editing the same status message and its buttons work', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud() }));
    const { run, preview } = await startRun(h);
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    await h.bot.stop();

    const { createSlackApp } = await import('../../src/slack/app.js');
    const { DirectReceiver } = await import('../../src/slack/direct-receiver.js');
    const { TEST_POLICY, BOT_TOKEN, testLogger } = await import('./harness.js');
    const receiver = new DirectReceiver();
    const second = createSlackApp(
      {
        slack: { mode: 'socket', botToken: BOT_TOKEN, appToken: 'xapp-x', apiUrl: h.fake.apiUrl },
        policy: { policy: TEST_POLICY, source: 'test' },
      },
      { engine: h.engine, logger: testLogger, receiver, reporter: { statusEditIntervalMs: 300 } },
    );
    await second.start();
    try {
      const finished = await h.waitForRunState(run.id, ['finished'], 60_000);
      await second.reporter.drain();
      expect(h.fake.message(OPS, preview.ts)!.blocks).toEqual(statusMessage(finished, new Date()).blocks);
      const summary = h.fake.threadReplies(OPS, preview.ts).find((reply) => reply.replyBroadcast);
      expect(summary).toBeDefined();
      // Its buttons reach the new app.
      await (
        await h.click(summary!, ActionId.ReenableHost, { user: BOB, via: receiver })
      ).done;
      await h.fake.waitFor(() => h.sim.control.host('host-1').status === 'enabled', {
        what: 'host-1 re-enabled',
      });
      expect(h.fake.channelMessages(OPS).filter((message) => message.threadTs === undefined)).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });
});
