import { describe, expect, it } from 'vitest';
import {
  ActionId,
  RunBlock,
  decodeActionValue,
  decodeRunBlockId,
  planRevision,
} from '../../src/slack/action-ids.js';
import { parallelChoices, previewMessage, serverListThreadMessages } from '../../src/views/preview.js';
import { makeRun } from './fixtures.js';
import { actionIds, blockText, element, expectWithinLimits, visibleText } from './helpers.js';

function countActions(run: ReturnType<typeof makeRun>) {
  const count = (action: string) => run.plan.servers.filter((server) => server.action === action).length;
  return {
    live: count('live-migrate'),
    cold: count('cold-migrate'),
    evacuate: count('evacuate'),
    skip: count('skip'),
  };
}

describe('previewMessage', () => {
  it('shows the host, its service state, the mode and why, and the counts by action', () => {
    const run = makeRun({
      servers: 20,
      service: { status: 'disabled', disabledReason: 'maintenance <ticket & co>' },
    });
    const message = previewMessage(run, { canRun: true });
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(message.blocks[0]).toMatchObject({
      type: 'header',
      text: { text: 'Evacuation preview: host-12' },
    });
    expect(text).toContain('🟢 up · disabled · not forced down');
    expect(text).toContain('Disabled reason: “maintenance &lt;ticket &amp; co&gt;”');
    expect(text).toContain(run.plan.modeReason);
    const counts = countActions(run);
    expect(counts).toEqual({ live: 14, cold: 4, evacuate: 0, skip: 2 });
    expect(text).toContain('live 14 · cold 4 · evacuate 0 · skip 2');
    expect(text).toContain('18 to move · 2 skipped');
    expect(text).toContain('Requested by <@U0REQUESTER>');
    expect(text).toContain('*Reason:* kernel upgrade CVE-2024-1086');
    expect(message.text).toContain('host-12');
    expect(message.text).toContain('18 servers to move');
  });

  it('lists plan findings blockers first, then warnings', () => {
    const run = makeRun({
      servers: 3,
      runnable: false,
      findings: [
        { severity: 'warning', code: 'capacity-tight', message: 'Capacity is tight.' },
        { severity: 'info', code: 'note', message: 'Just so you know.' },
        { severity: 'blocker', code: 'service-up', message: 'Evacuation needs the service down.' },
      ],
    });
    const text = visibleText(previewMessage(run, { canRun: true }));
    const blocker = text.indexOf('⛔ Evacuation needs the service down.');
    const warning = text.indexOf('⚠️ Capacity is tight.');
    const info = text.indexOf('ℹ️ Just so you know.');
    expect(blocker).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(blocker);
    expect(info).toBeGreaterThan(warning);
  });

  it('lists every server compactly, problems first, with status, flavor, project and action', () => {
    const run = makeRun({ servers: 8 });
    const text = visibleText(previewMessage(run, { canRun: true }));
    for (const server of run.plan.servers) expect(text).toContain(`\`${server.name}\``);
    const lines = text.split('\n').filter((line) => line.startsWith('• '));
    expect(lines).toHaveLength(8);
    expect(lines[0]).toMatch(
      /`vm-0006` ACTIVE · m1\.small · project proj0000 → \*skip\* · ⛔ Server is locked/,
    );
    expect(lines[1]).toMatch(/`vm-0002`.*→ \*live\* · ⚠️ Member of anti-affinity group/);
    expect(lines.find((line) => line.includes('vm-0004'))).toMatch(/SHUTOFF · m1\.small .*→ \*cold\*/);
  });

  it('offers the mode, target and parallelism selects with the current plan selected', () => {
    const run = makeRun({
      servers: 5,
      requestedMode: 'live',
      concurrency: 3,
      candidateHosts: ['host-3', 'host-12', 'host-4'],
    });
    const message = previewMessage(run, { canRun: true, maxParallel: 16 });
    expectWithinLimits(message);
    const mode = element(message, ActionId.ChangeMode);
    expect(mode.options!.map((option) => option.value)).toEqual(['auto', 'live', 'cold', 'evacuate']);
    expect(mode.initial_option!.value).toBe('live');
    const target = element(message, ActionId.ChangeTarget);
    // The host being drained is never offered as a destination.
    expect(target.options!.map((option) => option.value)).toEqual([
      '(scheduler chooses)',
      'host-3',
      'host-4',
    ]);
    expect(target.initial_option!.text.text).toBe('Scheduler chooses');
    const parallel = element(message, ActionId.ChangeParallel);
    expect(parallel.options!.map((option) => option.value)).toEqual(['1', '2', '3', '4', '8', '16']);
    expect(parallel.initial_option!.value).toBe('3');
    // The selects' block carries the run id and the plan revision.
    expect(decodeRunBlockId(mode.blockId)).toEqual({
      purpose: RunBlock.PlanControls,
      runId: 'run-0001',
      revision: planRevision(run.plan),
    });
    expect(target.blockId).toBe(mode.blockId);
  });

  it('keeps a chosen target selectable even when it is not a candidate, and caps the options at 100', () => {
    const candidateHosts = Array.from({ length: 150 }, (_, i) => `compute-${i}`);
    const run = makeRun({ servers: 2, targetHost: 'special-host', candidateHosts });
    const message = previewMessage(run, { canRun: true });
    expectWithinLimits(message);
    const target = element(message, ActionId.ChangeTarget);
    expect(target.options).toHaveLength(100);
    expect(target.initial_option!.value).toBe('special-host');
    expect(visibleText(message)).toContain('*Target*\nspecial-host');
  });

  it('has Confirm (danger, with a dialog naming host, count and mode) and Cancel for a runnable plan', () => {
    const run = makeRun({ servers: 20 });
    const message = previewMessage(run, { canRun: true });
    const confirm = element(message, ActionId.Confirm);
    expect(confirm.style).toBe('danger');
    expect(decodeActionValue(confirm.value)).toEqual({ runId: 'run-0001', nonce: planRevision(run.plan) });
    expect(confirm.confirm!.title.text).toBe('Evacuate host-12?');
    expect(confirm.confirm!.text.text).toMatch(
      /^Move \*18 servers\* off \*host-12\* in \*live\* mode \(live 14, cold 4\)/,
    );
    expect(confirm.confirm!.text.text).toContain('2 servers stay (skipped)');
    expect(confirm.confirm!.text.text.length).toBeLessThanOrEqual(300);
    expect(decodeActionValue(element(message, ActionId.Cancel).value)).toEqual({ runId: 'run-0001' });
    expect(actionIds(message)).not.toContain(ActionId.ConfirmFenced);
  });

  it('keeps the host and count in the confirm dialog even for a 255-character host name', () => {
    const host = `h${'x'.repeat(254)}`;
    const run = makeRun({ servers: 3, host });
    const message = previewMessage(run, { canRun: true });
    expectWithinLimits(message);
    const dialog = element(message, ActionId.Confirm).confirm!;
    expect(dialog.text.text).toMatch(/^Move \*3 servers\* off \*hxxxx/);
    expect(dialog.title.text.length).toBeLessThanOrEqual(100);
  });

  it('offers no Confirm when the plan cannot run, and says why', () => {
    const run = makeRun({
      servers: 4,
      runnable: false,
      findings: [
        {
          severity: 'blocker',
          code: 'service-up',
          message: 'The compute service is up: evacuation would corrupt disks.',
        },
      ],
    });
    const message = previewMessage(run, { canRun: true });
    expect(actionIds(message)).not.toContain(ActionId.Confirm);
    expect(actionIds(message)).toContain(ActionId.Cancel);
    const text = visibleText(message);
    expect(text).toContain('⛔ The compute service is up: evacuation would corrupt disks.');
    expect(text).toContain('This plan cannot run: 1 blocker above');
    expect(message.text).toContain('Cannot run');
  });

  it('offers no Confirm to someone who may not run it, with the reason given', () => {
    const message = previewMessage(makeRun({ servers: 4 }), {
      canRun: false,
      cannotRunReason: 'Only #cloud-oncall may evacuate hosts.',
    });
    expect(actionIds(message)).not.toContain(ActionId.Confirm);
    expect(visibleText(message)).toContain('🔒 Only #cloud-oncall may evacuate hosts.');
  });

  it('offers the fenced button only while the service must still be forced down', () => {
    const needs = makeRun({ servers: 3, mode: 'evacuate', needsForceDown: true, service: { state: 'down' } });
    const message = previewMessage(needs, { canRun: true });
    const fenced = element(message, ActionId.ConfirmFenced);
    expect(fenced.text!.text).toBe('Host is fenced, force it down');
    expect(fenced.confirm!.text.text).toContain('powered off or isolated');
    expect(decodeActionValue(fenced.value).runId).toBe('run-0001');
    expect(visibleText(message)).toContain('🔴 down');

    const fencedAlready = makeRun({ servers: 3, mode: 'evacuate', needsForceDown: true });
    fencedAlready.plan.request.hostFenced = true;
    expect(actionIds(previewMessage(fencedAlready, { canRun: true }))).not.toContain(ActionId.ConfirmFenced);
  });

  it('says a second person must approve under the two-person rule', () => {
    const message = previewMessage(makeRun({ servers: 4 }), {
      canRun: true,
      approvalNeeded: { approvers: ['U0BOSS', 'U0OTHER'] },
    });
    const confirm = element(message, ActionId.Confirm);
    expect(confirm.text!.text).toContain('needs approval');
    expect(confirm.confirm!.text.text).toContain('A second authorised person must then approve.');
    expect(visibleText(message)).toContain('a second authorised person (<@U0BOSS>, <@U0OTHER>) must approve');
  });

  it('has no controls in a dry run or once the run left the planned state', () => {
    const dry = previewMessage(makeRun({ servers: 4 }), { canRun: true, dryRun: true });
    expect(actionIds(dry)).toEqual([]);
    expect(visibleText(dry)).toContain('Dry run: nothing will be moved');
    const cancelled = previewMessage(makeRun({ servers: 4, state: 'cancelled' }), { canRun: true });
    expect(actionIds(cancelled)).toEqual([]);
    expect(visibleText(cancelled)).toContain('This run is cancelled.');
  });

  it('says so when the host has no servers', () => {
    const message = previewMessage(makeRun({ servers: 0 }), { canRun: true });
    expectWithinLimits(message);
    expect(visibleText(message)).toContain('No servers on *host-12*: nothing to move.');
  });

  it('cuts a long list with "…and N more (full list in the thread)" and keeps the controls', () => {
    const run = makeRun({ servers: 300 });
    const message = previewMessage(run, { canRun: true });
    expectWithinLimits(message);
    const text = visibleText(message);
    const shown = text.split('\n').filter((line) => line.startsWith('• ')).length;
    expect(shown).toBeGreaterThan(20);
    expect(shown).toBeLessThan(300);
    expect(text).toContain(`…and ${300 - shown} more servers (full list in the thread)`);
    // Every skipped server comes before the cut, so the problems stay visible.
    const skipped = run.plan.servers.filter((server) => server.action === 'skip');
    for (const server of skipped.slice(0, Math.min(skipped.length, shown)))
      expect(text).toContain(`\`${server.name}\``);
    expect(actionIds(message)).toEqual([
      ActionId.ChangeMode,
      ActionId.ChangeTarget,
      ActionId.ChangeParallel,
      ActionId.Confirm,
      ActionId.Cancel,
    ]);
  });

  it('escapes server names and Nova text so nothing pings or breaks formatting', () => {
    const run = makeRun({
      servers: 2,
      editServer: (server, index) =>
        index === 0
          ? {
              ...server,
              name: '<!channel> db & `cache`*',
              findings: [{ severity: 'warning', code: 'x', message: 'a <b> & c' }],
            }
          : server,
    });
    const message = previewMessage(run, { canRun: true });
    const all = blockText(message);
    expect(all).not.toContain('<!channel>');
    expect(all).toContain("`&lt;!channel&gt; db &amp; 'cache'*`");
    expect(all).toContain('a &lt;b&gt; &amp; c');
  });
});

describe('parallelChoices', () => {
  it('offers powers of two up to the cap, the cap and the current value', () => {
    expect(parallelChoices(4, 16)).toEqual([1, 2, 4, 8, 16]);
    expect(parallelChoices(6, 10)).toEqual([1, 2, 4, 6, 8, 10]);
    expect(parallelChoices(20, 8)).toEqual([1, 2, 4, 8, 16, 20]);
    expect(parallelChoices(1, 1)).toEqual([1]);
    expect(parallelChoices(2, Number.NaN)).toEqual([1, 2, 4, 8, 16]);
    expect(parallelChoices(0.5, 0)).toEqual([1]);
    expect(parallelChoices(4, 1_000_000).length).toBeLessThanOrEqual(100);
    expect(Math.max(...parallelChoices(4, 1_000_000))).toBe(1000);
  });
});

describe('serverListThreadMessages', () => {
  it('posts every server exactly once, in plan order, split into messages within limits', () => {
    const run = makeRun({ servers: 300 });
    const messages = serverListThreadMessages(run);
    expect(messages.length).toBeGreaterThan(1);
    messages.forEach((message, index) => {
      expectWithinLimits(message, `part ${index + 1}`);
      expect(visibleText(message)).toContain(`(part ${index + 1} of ${messages.length})`);
    });
    const names = messages
      .flatMap((message) => visibleText(message).split('\n'))
      .filter((line) => line.startsWith('• '))
      .map((line) => /^• `([^`]+)`/.exec(line)?.[1]);
    expect(names).toEqual(run.plan.servers.map((server) => server.name));
  });

  it('shows ids, flavors, reasons and every finding in full', () => {
    const run = makeRun({ servers: 7 });
    const [message] = serverListThreadMessages(run);
    const text = visibleText(message!);
    expect(text).toContain('`00000000-0000-4000-8000-000000000006` → *skip*');
    expect(text).toContain('m1.large (4 vCPU, 8.0 GiB)');
    expect(text).toContain('_Locked servers are left alone._');
    expect(text).toContain('⛔ Server is locked (legal hold). `locked`');
    expect(text).not.toContain('(part ');
  });

  it('shows 255-character names in full', () => {
    const longName = `${'n'.repeat(250)}-tail`;
    const run = makeRun({ servers: 3, editServer: (server) => ({ ...server, name: longName }) });
    const messages = serverListThreadMessages(run);
    for (const message of messages) expectWithinLimits(message);
    expect(visibleText(messages[0]!)).toContain(`\`${longName}\``);
  });
});
