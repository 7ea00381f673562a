import { describe, expect, it } from 'vitest';
import { ActionId, decodeActionValue } from '../../src/slack/action-ids.js';
import { estimateRemainingMs, runProgress, statusMessage, summaryMessage } from '../../src/views/status.js';
import { FIXTURE_EPOCH, isoAt, makeRun } from './fixtures.js';
import { actionIds, element, expectWithinLimits, visibleText } from './helpers.js';

const tenMinutesIn = new Date(FIXTURE_EPOCH + 10 * 60_000);

describe('statusMessage', () => {
  it('shows progress, counts by state, elapsed time, an estimate and who confirmed while running', () => {
    const run = makeRun({ servers: 23, state: 'running' });
    const message = statusMessage(run, tenMinutesIn);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { text: 'Evacuating host-12' } });
    // 23 servers: 3 skipped; of the 20 movable, done 7, failed 2, timed out 1 → 10 handled.
    expect(runProgress(run)).toEqual({ handled: 10, movable: 20, fraction: 0.5 });
    expect(text).toContain('`▓▓▓▓▓░░░░░ 50%` 10 of 20 servers handled');
    expect(text).toContain(
      '✅ done *7* · 🔄 moving *7* · ⏳ pending *3* · ❌ failed *2* · ⌛ timed out *1* · ⏭️ skipped *3* · ⏹️ stopped *0*',
    );
    expect(text).toContain('*Elapsed*\n9 min 30 s');
    expect(text).toMatch(/\*Remaining \(estimate\)\*\nabout \d+ min/);
    expect(text).toContain('*Confirmed by*\n<@U0CONFIRMER>');
    expect(text).toContain('*Moving now*');
    expect(text).toContain('🔄 `vm-0002` → host-7 · live · moving · 8 min 40 s');
    expect(text).toContain('*Failures*');
    expect(text).toContain('❌ `vm-0004` failed: Migration pre-check error');
    expect(message.text).toBe('Evacuating host-12: 10/20 handled, 7 done, 3 failed.');
  });

  it('has a Stop button with a confirm dialog while the run is going, and none once it is not', () => {
    const running = makeRun({ servers: 10, state: 'running' });
    const stop = element(statusMessage(running, tenMinutesIn), ActionId.Stop);
    expect(stop.style).toBe('danger');
    expect(decodeActionValue(stop.value)).toEqual({ runId: 'run-0001' });
    expect(stop.confirm!.title.text).toBe('Stop evacuating host-12?');
    expect(stop.confirm!.text.text).toMatch(/No new moves start: \d+ pending servers? stays? on \*host-12\*/);
    expect(actionIds(statusMessage(makeRun({ servers: 10, state: 'confirmed' }), tenMinutesIn))).toEqual([
      ActionId.Stop,
    ]);
    for (const state of ['stopping', 'finished', 'cancelled'] as const) {
      expect(actionIds(statusMessage(makeRun({ servers: 10, state }), tenMinutesIn)), state).toEqual([]);
    }
  });

  it('estimates the time left from completed moves, parallelism included', () => {
    const run = makeRun({ servers: 10, state: 'running', concurrency: 2 });
    // Make every move take exactly 60 s; 4 servers remain (2 pending, 2 in flight) → 2 waves.
    for (const server of run.servers) {
      if (server.state === 'done')
        server.finishedAt = new Date(Date.parse(server.startedAt!) + 60_000).toISOString();
    }
    const remaining = run.servers.filter((server) =>
      ['pending', 'moving', 'requested', 'confirming'].includes(server.state),
    );
    expect(estimateRemainingMs(run)).toBe(Math.ceil(remaining.length / 2) * 60_000);
    const none = makeRun({
      servers: 10,
      state: 'running',
      serverState: (_i, state) => (state === 'done' ? 'pending' : state),
    });
    expect(estimateRemainingMs(none)).toBeNull();
    expect(visibleText(statusMessage(none, tenMinutesIn))).toContain('after the first move completes');
  });

  it('shows the finished state, duration and who stopped it, without buttons', () => {
    const run = makeRun({ servers: 12, state: 'finished', stoppedBy: 'U0STOPPER' });
    const message = statusMessage(run, tenMinutesIn);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(message.blocks[0]).toMatchObject({ text: { text: 'Evacuation of host-12 stopped' } });
    expect(text).toContain('*Stopped by*\n<@U0STOPPER>');
    expect(text).not.toContain('Remaining');
    expect(text).toContain(`*Elapsed*\n`);
    expect(actionIds(message)).toEqual([]);
  });

  it('caps the lists of moving servers and failures, pointing at the thread', () => {
    const run = makeRun({ servers: 300, state: 'running' });
    const message = statusMessage(run, tenMinutesIn);
    expectWithinLimits(message);
    const text = visibleText(message);
    const moving = run.servers.filter((server) =>
      ['moving', 'requested', 'confirming'].includes(server.state),
    ).length;
    const failed = run.servers.filter((server) => ['failed', 'timed_out'].includes(server.state)).length;
    expect(text).toContain(`…and ${moving - 10} more servers in flight`);
    expect(text).toContain(`…and ${failed - 10} more failures (details in the thread)`);
  });

  it('escapes hostile server names in the lists', () => {
    const run = makeRun({
      servers: 5,
      state: 'running',
      editServer: (server) => ({ ...server, name: '<@U999> & <!here>' }),
    });
    const text = visibleText(statusMessage(run, tenMinutesIn));
    expect(text).not.toContain('<!here>');
    expect(text).toContain('`&lt;@U999&gt; &amp; &lt;!here&gt;`');
  });
});

describe('summaryMessage', () => {
  it('counts every outcome, with duration and people, and offers retry and re-enable', () => {
    const run = makeRun({ servers: 23, state: 'finished', serviceDisabledByRun: true });
    const message = summaryMessage(run);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain(
      '✅ moved *10* · ❌ failed *3* · ⌛ timed out *4* · ⏭️ skipped *3* · ⏹️ stopped *3*',
    );
    expect(text).toMatch(/Duration: 5 min 15 s/);
    expect(text).toContain('Requested by <@U0REQUESTER> · confirmed by <@U0CONFIRMER>');
    expect(text).toContain('was disabled by this run');
    expect(text).toContain('*Not moved*');
    expect(text).toContain('⏹️ `vm-0005` stopped');
    expect(text).toContain('⏭️ `vm-0006`: Locked servers are left alone.');
    const retry = element(message, ActionId.RetryFailed);
    expect(retry.text!.text).toBe('Retry all failed (7)');
    expect(decodeActionValue(retry.value)).toEqual({ runId: 'run-0001' });
    const reenable = element(message, ActionId.ReenableHost);
    expect(reenable.text!.text).toBe('Re-enable host-12');
    expect(reenable.confirm!.text.text).toContain('host-12');
    expect(message.text).toBe(
      'Evacuation of host-12 finished: 10 moved, 3 failed, 4 timed out, 3 skipped, 3 stopped.',
    );
  });

  it('offers no retry when nothing failed and no re-enable when the run did not disable the service', () => {
    const run = makeRun({
      servers: 10,
      state: 'finished',
      serviceDisabledByRun: false,
      serverState: (_i, state) => (state === 'skipped' ? state : 'done'),
    });
    const message = summaryMessage(run);
    expect(actionIds(message)).toEqual([]);
    expect(visibleText(message)).not.toContain('Not moved');
  });

  it('names who stopped or cancelled the run', () => {
    const stopped = summaryMessage(makeRun({ servers: 6, state: 'finished', stoppedBy: 'U0STOPPER' }));
    expect(visibleText(stopped)).toContain('stopped by <@U0STOPPER>');
    expect(stopped.text).toContain('(stopped by <@U0STOPPER>)');
    const cancelled = summaryMessage(makeRun({ servers: 6, state: 'cancelled', stoppedBy: 'U0CANCEL' }));
    expect(visibleText(cancelled)).toContain('cancelled by <@U0CANCEL>');
    expect(actionIds(cancelled)).toEqual([]);
  });

  it('cuts a long list of servers that did not move', () => {
    const run = makeRun({ servers: 2000, state: 'finished' });
    const message = summaryMessage(run);
    expectWithinLimits(message);
    expect(visibleText(message)).toMatch(/…and \d+ more \(details in the thread\)/);
  });

  it('gives an unknown duration when times are missing', () => {
    const run = makeRun({ servers: 3, state: 'finished' });
    run.startedAt = null;
    expect(visibleText(summaryMessage(run))).toContain('Duration: unknown');
    run.startedAt = isoAt(0);
    run.finishedAt = 'not a time';
    expectWithinLimits(summaryMessage(run));
  });
});
