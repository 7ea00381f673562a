/**
 * The preview's controls re-plan through the engine and redraw the preview in place.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/sim/index.js';
import {
  ActionId,
  encodeModeOption,
  encodeParallelOption,
  encodeTargetOption,
} from '../../src/slack/action-ids.js';
import { ALICE, BOB, EVE, hasElement, messageText, startSlackHarness, type SlackHarness } from './harness.js';

let harness: SlackHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const cloud = () =>
  generateScenario({
    hosts: 3,
    serversPerHost: 3,
    loadedHosts: ['host-1', 'host-2'],
    settings: { max_concurrent_live_migrations: 4 },
  });

/** The selected option of a select in the message, by action id. */
function selected(message: { blocks: unknown[] }, actionId: string): string | undefined {
  for (const block of message.blocks as Array<{
    elements?: Array<{ action_id?: string; initial_option?: { value: string } }>;
  }>) {
    for (const element of block.elements ?? [])
      if (element.action_id === actionId) return element.initial_option?.value;
  }
  return undefined;
}

describe('preview controls', () => {
  it('mode, target and parallelism selects re-plan and redraw the preview', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud() }));
    await (
      await h.command('host-1', { user: EVE })
    ).done;
    const run = await h.waitForRun('host-1');
    expect(run.plan.mode).toBe('live');

    await (
      await h.click(h.runMessage(run), ActionId.ChangeMode, { user: EVE, option: encodeModeOption('cold') })
    ).done;
    await (
      await h.click(h.runMessage(run), ActionId.ChangeTarget, {
        user: EVE,
        option: encodeTargetOption('host-3'),
      })
    ).done;
    await (
      await h.click(h.runMessage(run), ActionId.ChangeParallel, {
        user: EVE,
        option: encodeParallelOption(1),
      })
    ).done;
    const replanned = h.engine.getRun(run.id)!;
    expect(replanned.plan.mode).toBe('cold');
    expect(replanned.plan.request.targetHost).toBe('host-3');
    expect(replanned.plan.concurrency).toBe(1);

    await h.bot.reporter.drain();
    const preview = h.runMessage(run);
    expect(selected(preview, ActionId.ChangeMode)).toBe('cold');
    expect(selected(preview, ActionId.ChangeTarget)).toBe('host-3');
    expect(selected(preview, ActionId.ChangeParallel)).toBe('1');
    expect(messageText(preview)).toContain('Cold');
    // Back to the scheduler.
    await (
      await h.click(preview, ActionId.ChangeTarget, { user: EVE, option: encodeTargetOption(null) })
    ).done;
    expect(h.engine.getRun(run.id)!.plan.request.targetHost).toBeUndefined();
  });

  it('"host is fenced" needs the evacuate right, and lets the plan force the service down', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud(), timeScale: 0.01 }));
    h.sim.control.setHostAlive('host-2', false);
    await h.fake.waitFor(() => h.sim.control.host('host-2').state === 'down', {
      what: 'host-2 down',
      timeoutMs: 20_000,
    });
    await (
      await h.command('host-2 --rebuild', { user: BOB })
    ).done;
    const run = await h.waitForRun('host-2');
    expect(run.plan.needsForceDown).toBe(true);
    const preview = h.runMessage(run);
    expect(hasElement(preview, ActionId.ConfirmFenced)).toBe(true);

    await (
      await h.click(preview, ActionId.ConfirmFenced, { user: BOB })
    ).done;
    expect(h.ephemeralTexts(BOB).at(-1)).toContain('not allowed to evacuate (rebuild) servers');
    expect(h.engine.getRun(run.id)!.plan.request.hostFenced).toBeFalsy();

    await (
      await h.click(preview, ActionId.ConfirmFenced, { user: ALICE })
    ).done;
    expect(h.engine.getRun(run.id)!.plan.request.hostFenced).toBe(true);
    await h.bot.reporter.drain();
    expect(hasElement(h.runMessage(run), ActionId.ConfirmFenced)).toBe(false);
    expect(messageText(h.runMessage(run))).toContain('stated by the operator');
  });

  it('cancel: the requester may discard their preview, others need control rights', async () => {
    const h = (harness = await startSlackHarness({ scenario: cloud() }));
    await (
      await h.command('host-1', { user: ALICE })
    ).done;
    const run = await h.waitForRun('host-1');
    await (
      await h.click(h.runMessage(run), ActionId.Cancel, { user: EVE })
    ).done;
    expect(h.ephemeralTexts(EVE).at(-1)).toContain('Only the person who asked for this preview');
    expect(h.engine.getRun(run.id)!.state).toBe('planned');
    await (
      await h.click(h.runMessage(run), ActionId.Cancel, { user: ALICE })
    ).done;
    expect(h.engine.getRun(run.id)!.state).toBe('cancelled');
    await h.bot.reporter.drain();
    const preview = h.runMessage(run);
    expect(hasElement(preview, ActionId.Confirm)).toBe(false);
    expect(messageText(preview)).toMatch(/cancelled/i);
  });
});
