import { describe, expect, it } from 'vitest';
import { ActionId, decodeActionValue, planRevision } from '../../src/slack/action-ids.js';
import { approvalRequestMessage } from '../../src/views/approval.js';
import { EVACUATE_USAGE, type HelpPermissions, errorMessage, helpMessage } from '../../src/views/help.js';
import { runsListMessage, safeLink } from '../../src/views/runs-list.js';
import { makeRun } from './fixtures.js';
import { actionIds, element, expectWithinLimits, visibleText } from './helpers.js';

const everything: HelpPermissions = { preview: true, live: true, cold: true, evacuate: true, control: true };

describe('runsListMessage', () => {
  it('lists active runs first, then recent ones, with state, counts and status links', () => {
    const running = makeRun({ id: 'run-a', host: 'host-1', servers: 23, state: 'running' });
    const finished = makeRun({ id: 'run-b', host: 'host-2', servers: 12, state: 'finished' });
    const planned = makeRun({ id: 'run-c', host: 'host-3', servers: 3 });
    const message = runsListMessage([finished, running, planned], (run) =>
      run.id === 'run-a' ? 'https://team.slack.com/archives/C123/p1714557600000100' : null,
    );
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text.indexOf('*Active (2)*')).toBeLessThan(text.indexOf('*host-1*'));
    expect(text.indexOf('*host-3*')).toBeLessThan(text.indexOf('*Recent (1)*'));
    expect(text.indexOf('*Recent (1)*')).toBeLessThan(text.indexOf('*host-2*'));
    expect(text).toContain(
      '🔄 *host-1* running · 10/20 handled (✅ 7 · ❌ 2 · ⌛ 1 · 🔄 7 · ⏳ 3) · live, by <@U0REQUESTER>',
    );
    expect(text).toContain('<https://team.slack.com/archives/C123/p1714557600000100|status message>');
    expect(text).toMatch(/🏁 \*host-2\* finished · 11\/11 handled .* took 3 min 40 s$/m);
    expect(text).toContain('📝 *host-3* previewed, not started');
    expect(message.text).toBe('Evacuation runs: 2 active, 1 recent.');
  });

  it('says when there are no runs, or no active ones', () => {
    expect(visibleText(runsListMessage([], () => null))).toContain('No evacuation runs yet.');
    const text = visibleText(runsListMessage([makeRun({ state: 'finished' })], () => null));
    expect(text).toContain('_None: no host is being evacuated._');
  });

  it('drops links Slack could not render safely', () => {
    expect(safeLink('https://ok.example/p1', 'x')).toBe('<https://ok.example/p1|x>');
    expect(safeLink('javascript:alert(1)', 'x')).toBeNull();
    expect(safeLink('https://evil.example/a|b', 'x')).toBeNull();
    expect(safeLink('https://evil.example/>', 'x')).toBeNull();
    expect(safeLink('not a url', 'x')).toBeNull();
    expect(safeLink(null, 'x')).toBeNull();
  });

  it('cuts a long list with "…and N more runs"', () => {
    const runs = Array.from({ length: 400 }, (_, i) =>
      makeRun({ id: `run-${i}`, host: `compute-${i}-${'x'.repeat(60)}`, servers: 3, state: 'finished' }),
    );
    const message = runsListMessage(runs, (run) => `https://team.slack.com/archives/C1/p${run.id.length}`);
    expectWithinLimits(message);
    expect(visibleText(message)).toMatch(/…and \d+ more runs$/);
  });
});

describe('helpMessage', () => {
  it('shows every flag and example to someone allowed everything', () => {
    const message = helpMessage(everything);
    expectWithinLimits(message);
    const text = visibleText(message);
    for (const flag of [
      '--live',
      '--cold',
      '--rebuild',
      '--to HOST',
      '--parallel N',
      '--dry-run',
      '--keep-enabled',
      '--reason "…"',
      '--fenced',
    ]) {
      expect(text, flag).toContain(`\`${flag}\``);
    }
    expect(text).toContain('`/evacuate HOST [flags]`');
    expect(text).toContain('`/evacuate host-12 --rebuild --fenced --reason "PSU failure"`');
    expect(text).toContain('You may use the run controls');
  });

  it('shows only what the caller may run', () => {
    const text = visibleText(
      helpMessage({ preview: true, live: true, cold: false, evacuate: false, control: false }),
    );
    expect(text).toContain('`--live`');
    expect(text).not.toContain('`--cold`');
    expect(text).not.toContain('`--rebuild`');
    expect(text).not.toContain('`--fenced`');
    expect(text).not.toContain('--rebuild --fenced');
    expect(text).toContain('You may run: live.');
    expect(text).toContain('for operators with control rights');

    const previewOnly = visibleText(
      helpMessage({ preview: true, live: false, cold: false, evacuate: false, control: false }),
    );
    expect(previewOnly).toContain('`--dry-run`');
    expect(previewOnly).not.toContain('`--parallel N`');
    expect(previewOnly).toContain('starting one needs more rights');
  });

  it('tells someone with no rights that they have none', () => {
    const message = helpMessage({
      preview: false,
      live: false,
      cold: false,
      evacuate: false,
      control: false,
    });
    expectWithinLimits(message);
    expect(message.text).toContain('not authorised');
    expect(visibleText(message)).not.toContain('--live');
  });
});

describe('errorMessage', () => {
  it('escapes the error and shows the usage line', () => {
    const message = errorMessage('Unknown flag "--fast" <or> & so on', EVACUATE_USAGE);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain('⚠️ Unknown flag "--fast" &lt;or&gt; &amp; so on');
    expect(text).toContain(`Usage: \`/evacuate HOST [--live|--cold|--rebuild]`);
    expect(message.text).toBe('⚠️ Unknown flag "--fast" &lt;or&gt; &amp; so on');
  });

  it('stays within limits for a huge error and copes with an empty one', () => {
    expectWithinLimits(errorMessage('<'.repeat(20_000), 'u'.repeat(5000)));
    expect(visibleText(errorMessage('   '))).toContain('Something went wrong.');
  });
});

describe('approvalRequestMessage', () => {
  it('asks a second person, with Approve carrying the plan revision and Cancel', () => {
    const run = makeRun({ servers: 20, reason: 'rack <7> & PDU swap' });
    const message = approvalRequestMessage(run, { id: 'U0REQUESTER', name: 'Alice' });
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain(
      '<@U0REQUESTER> wants to move *18 servers* off *host-12* in *live* mode, 4 at a time',
    );
    expect(text).toContain('*Reason:* rack &lt;7&gt; &amp; PDU swap');
    expect(text).toContain('Waiting for a second authorised person');
    const approve = element(message, ActionId.Approve);
    expect(approve.style).toBe('primary');
    expect(decodeActionValue(approve.value)).toEqual({ runId: 'run-0001', nonce: planRevision(run.plan) });
    expect(approve.confirm!.title.text).toBe('Approve evacuating host-12?');
    expect(actionIds(message)).toEqual([ActionId.Approve, ActionId.Cancel]);
    expect(message.text).toContain('Waiting for a second authorised person');
  });

  it('drops the buttons once the run no longer waits', () => {
    const message = approvalRequestMessage(makeRun({ servers: 3, state: 'running' }), { id: 'U0REQUESTER' });
    expect(actionIds(message)).toEqual([]);
    expect(visibleText(message)).toContain('No longer waiting: this run is running.');
  });
});
