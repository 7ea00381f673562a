/**
 * Authorisation on the command and again on every click, the two-person rule, and clicks that
 * arrive twice (re-delivered, double clicked, concurrent) or on finished runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/sim/index.js';
import { ActionId, encodeActionValue } from '../../src/slack/action-ids.js';
import { policySchema } from '../../src/slack/policy.js';
import {
  ALICE,
  BOB,
  EVE,
  ONCALL,
  OPS,
  TEST_POLICY,
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

const smallCloud = () =>
  generateScenario({
    hosts: 3,
    serversPerHost: 3,
    loadedHosts: ['host-1', 'host-2'],
    settings: { max_concurrent_live_migrations: 4 },
  });

async function previewOf(h: SlackHarness, text: string, user = ALICE) {
  await (
    await h.command(text, { user })
  ).done;
  const host = text.split(' ')[0]!;
  const run = await h.waitForRun(host);
  return { run, message: h.runMessage(run) };
}

describe('authorisation', () => {
  it('checks every click: a viewer can preview but not confirm, stop or retry', async () => {
    const h = (harness = await startSlackHarness({ scenario: smallCloud() }));
    // Slow moves (1 s each at this time scale), so the run is still going when Eve clicks Stop.
    h.sim.control.setOperationDuration('live_migration', 100);
    const { run, message } = await previewOf(h, 'host-1 --live', EVE);
    // Eve may preview; the team sees Confirm because on-call people may click it.
    expect(hasElement(message, ActionId.Confirm)).toBe(true);

    const refused = await h.click(message, ActionId.Confirm, { user: EVE });
    expect(refused.acknowledged).toBe(true);
    await refused.done;
    expect(h.engine.getRun(run.id)?.state).toBe('planned');
    const note = h.ephemeralTexts(EVE).at(-1) ?? '';
    expect(note).toContain('You are not allowed to start live migrations');
    expect(note).toContain('<!subteam^S0ONCALL>');
    // One lookup of the group, however many checks.
    const lookups = h.fake.callsTo('usergroups.users.list').length;
    expect(lookups).toBe(1);

    // Bob is on call: his click starts it.
    await (
      await h.click(message, ActionId.Confirm, { user: BOB })
    ).done;
    const running = await h.waitForRunState(run.id, ['running', 'finished']);
    expect(running.confirmedBy).toBe(BOB);

    // Eve cannot stop it either (checked on the click, not on who can see it).
    await h.fake.waitFor(() => hasElement(h.runMessage(run), ActionId.Stop), { what: 'the Stop button' });
    await (
      await h.click(h.runMessage(run), ActionId.Stop, { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('not allowed to stop, retry or re-enable runs');
    expect(h.engine.getRun(run.id)?.stoppedBy).toBeNull();
    expect(h.engine.getRun(run.id)?.state).toBe('running');
    await h.waitForRunState(run.id, ['finished']);
    await h.bot.reporter.drain();
    // Concurrent checks shared the one cached lookup.
    expect(h.fake.callsTo('usergroups.users.list').length).toBe(lookups);
    expect(h.fake.callsTo('usergroups.list').length).toBeLessThanOrEqual(1);
  });

  it('evacuation needs the evacuate right: on-call Bob may not confirm a rebuild, Alice may', async () => {
    const h = (harness = await startSlackHarness({ scenario: smallCloud() }));
    h.sim.control.setHostAlive('host-2', false);
    await h.fake.waitFor(
      () => h.sim.control.state().hosts.find((host) => host.name === 'host-2')?.state === 'down',
      {
        what: 'host-2 down',
      },
    );
    const { run, message } = await previewOf(h, 'host-2 --rebuild --fenced', BOB);
    expect(run.plan.mode).toBe('evacuate');
    await (
      await h.click(message, ActionId.Confirm, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toContain('not allowed to evacuate (rebuild) servers');
    expect(h.engine.getRun(run.id)?.state).toBe('planned');
    await (
      await h.click(message, ActionId.Confirm, { user: ALICE })
    ).done;
    const finished = await h.waitForRunState(run.id, ['finished']);
    expect(finished.confirmedBy).toBe(ALICE);
  });

  it('refusals are logged for audit', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const h = (harness = await startSlackHarness({ scenario: smallCloud(), app: {} }));
    // Build a second app on the same engine with a capturing logger to see the audit line.
    const { createSlackApp } = await import('../../src/slack/app.js');
    const { DirectReceiver } = await import('../../src/slack/direct-receiver.js');
    const receiver = new DirectReceiver();
    const audited = createSlackApp(
      {
        slack: { mode: 'socket', botToken: 'xoxb-test-bot-token', appToken: 'xapp-x', apiUrl: h.fake.apiUrl },
        policy: { policy: TEST_POLICY, source: 'test' },
      },
      { engine: h.engine, logger, receiver },
    );
    await audited.start();
    try {
      const { message } = await previewOf(h, 'host-1 --cold');
      await (
        await receiver.deliver({
          type: 'block_actions',
          user: { id: EVE, username: 'eve' },
          team: { id: 'T0FAKE', domain: 'fake' },
          channel: { id: OPS, name: 'ops' },
          container: { type: 'message', message_ts: message.ts, channel_id: OPS },
          message: { type: 'message', ts: message.ts },
          response_url: h.fake.newResponseUrl({ user: EVE, channel: OPS }),
          actions: [
            {
              type: 'button',
              action_id: ActionId.Confirm,
              block_id: 'b',
              value: JSON.parse(JSON.stringify(findValue(message.blocks, ActionId.Confirm))),
              action_ts: '1.1',
            },
          ],
        })
      ).done;
      const audit = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry.audit === 'refused');
      expect(audit).toMatchObject({
        audit: 'refused',
        user: EVE,
        channel: OPS,
        action: ActionId.Confirm,
        capability: 'cold',
      });
      expect(lines.join('\n')).not.toContain('xoxb-test-bot-token');
    } finally {
      await audited.stop();
    }
  });
});

function findValue(blocks: unknown[], actionId: string): unknown {
  for (const block of blocks as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>) {
    for (const element of block.elements ?? []) if (element.action_id === actionId) return element.value;
  }
  return undefined;
}

describe('authorisation on the command', () => {
  it('someone without the preview right gets a private refusal and nothing is planned', async () => {
    const policy = policySchema.parse({
      ...TEST_POLICY,
      permissions: { ...TEST_POLICY.permissions, preview: { users: [ALICE] } },
    });
    const h = (harness = await startSlackHarness({ scenario: smallCloud(), policy }));
    await (
      await h.command('host-1 --live', { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('You are not allowed to preview evacuations');
    expect(h.engine.listRuns({ host: 'host-1' })).toEqual([]);
    expect(h.fake.callsTo('chat.postMessage')).toEqual([]);
    await (
      await h.command('status', { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('You are not allowed to preview evacuations');
    await (
      await h.command('help', { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('not authorised to use /evacuate');
  });
});

describe('two-person rule', () => {
  it('a run above the threshold needs a second authorised person; nobody approves their own request', async () => {
    const policy = policySchema.parse({ ...TEST_POLICY, approval: { minServers: 2 } });
    const h = (harness = await startSlackHarness({ scenario: smallCloud(), policy }));
    const { run, message } = await previewOf(h, 'host-1 --live', ALICE);
    expect(messageText(message)).toContain('Two-person rule');

    await (
      await h.click(message, ActionId.Confirm, { user: ALICE })
    ).done;
    expect(h.engine.getRun(run.id)?.state).toBe('planned');
    expect(h.ephemeralTexts(ALICE).at(-1)).toContain('the run starts when someone else approves');
    const request = await h.fake.waitFor(
      () => h.fake.threadReplies(OPS, message.ts).find((reply) => hasElement(reply, ActionId.Approve)),
      { what: 'the approval request' },
    );
    expect(request.replyBroadcast).toBe(true);
    expect(messageText(request)).toContain('Approval needed');

    // Alice cannot approve her own request.
    await (
      await h.click(request, ActionId.Approve, { user: ALICE })
    ).done;
    expect(h.ephemeralTexts(ALICE).at(-1)).toContain('a second authorised person must approve it');
    expect(h.engine.getRun(run.id)?.state).toBe('planned');

    // Eve is not authorised to approve a live migration.
    await (
      await h.click(request, ActionId.Approve, { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('not allowed to start live migrations');
    expect(h.engine.getRun(run.id)?.state).toBe('planned');

    // Bob approves: the run starts, confirmed by him.
    await (
      await h.click(request, ActionId.Approve, { user: BOB })
    ).done;
    const started = await h.waitForRunState(run.id, ['running', 'finished']);
    expect(started.confirmedBy).toBe(BOB);
    await h.waitForRunState(run.id, ['finished']);
    await h.bot.reporter.drain();
    // The approval request no longer offers Approve.
    const updated = h.fake.message(OPS, request.ts)!;
    expect(hasElement(updated, ActionId.Approve)).toBe(false);
  });

  it('a plan changed after approval was requested cannot be approved', async () => {
    const policy = policySchema.parse({ ...TEST_POLICY, approval: { minServers: 1 } });
    const h = (harness = await startSlackHarness({ scenario: smallCloud(), policy }));
    const { run, message } = await previewOf(h, 'host-1 --live', ALICE);
    await (
      await h.click(message, ActionId.Confirm, { user: ALICE })
    ).done;
    const request = await h.fake.waitFor(
      () => h.fake.threadReplies(OPS, message.ts).find((reply) => hasElement(reply, ActionId.Approve)),
      { what: 'the approval request' },
    );
    await (
      await h.click(message, ActionId.ChangeParallel, { user: ALICE, option: '1' })
    ).done;
    expect(h.engine.getRun(run.id)?.plan.concurrency).toBe(1);
    await (
      await h.click(request, ActionId.Approve, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toContain('The plan changed after approval was requested');
    expect(h.engine.getRun(run.id)?.state).toBe('planned');
  });
});

describe('clicks that arrive twice', () => {
  it('a re-delivered click (same action_ts) and a concurrent double click confirm once', async () => {
    const h = (harness = await startSlackHarness({ scenario: smallCloud() }));
    const { run, message } = await previewOf(h, 'host-1 --live', ALICE);
    // Slack re-delivers the same payload: same action_ts, same key.
    const [first, redelivered, doubleClick] = await Promise.all([
      h.click(message, ActionId.Confirm, { user: ALICE, actionTs: '1700000001.000001' }),
      h.click(message, ActionId.Confirm, { user: ALICE, actionTs: '1700000001.000001' }),
      h.click(message, ActionId.Confirm, { user: BOB, actionTs: '1700000001.000002' }),
    ]);
    await Promise.all([first.done, redelivered.done, doubleClick.done]);
    expect([first, redelivered, doubleClick].every((result) => result.acknowledged)).toBe(true);
    const audit = h.engine.audit(run.id);
    expect(audit.filter((entry) => entry.action === 'run-confirmed')).toHaveLength(1);
    expect(audit.filter((entry) => entry.detail.outcome === 'applied')).toHaveLength(1);
    // The second person's click came after the first: told, not acted on.
    expect(h.ephemeralTexts(BOB).at(-1)).toMatch(/already confirmed|nothing to confirm/i);
    await h.waitForRunState(run.id, ['finished']);
    await h.bot.reporter.drain();
    // Each server was moved exactly once.
    const moves = h.sim.control
      .state()
      .instanceActions.filter(
        (action) =>
          action.action === 'live-migration' && run.servers.some((s) => s.serverId === action.serverId),
      );
    expect(moves).toHaveLength(run.servers.length);
  });

  it('a button on a finished run answers with a note instead of acting', async () => {
    const h = (harness = await startSlackHarness({ scenario: smallCloud() }));
    const { run, message } = await previewOf(h, 'host-1 --live', ALICE);
    const staleStop = {
      ...message,
      blocks: [
        {
          type: 'actions',
          elements: [
            { type: 'button', action_id: ActionId.Stop, value: encodeActionValue({ runId: run.id }) },
          ],
        },
      ],
    };
    // The preview as people saw it: the live message is edited into the status message.
    const asPreviewed = { ...message, blocks: [...message.blocks] };
    await (
      await h.click(message, ActionId.Confirm, { user: ALICE })
    ).done;
    await h.waitForRunState(run.id, ['finished']);
    await (
      await h.click(staleStop, ActionId.Stop, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toMatch(/This run finished at .*Nothing to stop/);
    expect(h.engine.getRun(run.id)?.stoppedBy).toBeNull();
    // Confirm on the old preview does nothing either.
    await (
      await h.click(asPreviewed, ActionId.Confirm, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toMatch(/This run finished/);
  });

  it('garbage in a button value is refused with a clear note', async () => {
    const h = (harness = await startSlackHarness({ scenario: smallCloud() }));
    const { message } = await previewOf(h, 'host-1 --live', ALICE);
    const tampered = {
      ...message,
      blocks: [
        { type: 'actions', elements: [{ type: 'button', action_id: ActionId.Stop, value: 'not json' }] },
      ],
    };
    await (
      await h.click(tampered, ActionId.Stop, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toContain('This button is not one I can act on');
    const unknownRun = {
      ...message,
      blocks: [
        {
          type: 'actions',
          elements: [
            { type: 'button', action_id: ActionId.Stop, value: encodeActionValue({ runId: 'r-nope' }) },
          ],
        },
      ],
    };
    await (
      await h.click(unknownRun, ActionId.Stop, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toContain('This run no longer exists');
    void ONCALL;
  });
});
