import { describe, expect, it } from 'vitest';
import type { ServerRun } from '../../src/engine/types.js';
import { ActionId, decodeActionValue } from '../../src/slack/action-ids.js';
import {
  completionsThreadMessage,
  excerpt,
  failureThreadMessage,
  migrationPercent,
  progressThreadMessage,
} from '../../src/views/thread.js';
import { FIXTURE_EPOCH, NOVA_LIVE_MIGRATION_ERROR, makeRun, novaTraceback } from './fixtures.js';
import { actionIds, element, expectWithinLimits, visibleText } from './helpers.js';

function serverIn(run: ReturnType<typeof makeRun>, predicate: (server: ServerRun) => boolean): ServerRun {
  const found = run.servers.find(predicate);
  if (!found) throw new Error('fixture has no such server');
  return found;
}

describe('failureThreadMessage', () => {
  it("quotes Nova's own words in a code block with the request id and attempt, and offers Retry", () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'failed');
    server.attempt = 2;
    const message = failureThreadMessage(run, server);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain(`❌ \`${server.name}\` *failed*: cold migration, attempt 2`);
    expect(text).toContain('host-12 → host-4');
    expect(text).toContain(
      `*Nova says* (instance-action):\n\`\`\`${NOVA_LIVE_MIGRATION_ERROR.replace('<', '&lt;')}\`\`\``,
    );
    expect(text).toContain(`request \`req-${server.serverId}\``);
    const retry = element(message, ActionId.RetryServer);
    expect(decodeActionValue(retry.value)).toEqual({ runId: 'run-0001', serverId: server.serverId });
    // A cold migration that failed is not offered as a cold migration again.
    expect(actionIds(message)).toEqual([ActionId.RetryServer]);
    expect(message.text).toContain(`❌ ${server.name} failed (cold migration): Migration pre-check error`);
  });

  it('offers "Retry as cold migration" for a failed live migration while the host service is up', () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'failed');
    server.action = 'live-migrate';
    const message = failureThreadMessage(run, server);
    const cold = element(message, ActionId.RetryServerAsCold);
    expect(cold.text!.text).toBe('Retry as cold migration');
    expect(cold.confirm!.text.text).toContain('reboot');
    expect(decodeActionValue(cold.value)).toEqual({ runId: 'run-0001', serverId: server.serverId });

    const down = makeRun({ servers: 10, state: 'running', service: { state: 'down' } });
    const downServer = serverIn(down, (s) => s.state === 'failed');
    downServer.action = 'live-migrate';
    expect(actionIds(failureThreadMessage(down, downServer))).toEqual([ActionId.RetryServer]);
  });

  it('keeps the beginning and the end of a 10 KB traceback, escaped, within limits', () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'failed');
    server.failure!.message = novaTraceback(10_240);
    const message = failureThreadMessage(run, server);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain('```Traceback (most recent call last):');
    expect(text).toMatch(/… \d+ characters omitted …/);
    expect(text).toContain(
      'MigrationPreCheckError: Migration pre-check error: &lt;libvirt&gt; said "disk &amp; memory" &gt; limit```',
    );
  });

  it('survives a message of nothing but characters that need escaping', () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'failed');
    server.failure!.message = '<&>'.repeat(4000);
    server.name = '&'.repeat(255);
    const message = failureThreadMessage(run, server);
    expectWithinLimits(message);
    const codeBlock = /```([\s\S]*)```/.exec(visibleText(message))?.[1] ?? '';
    expect(codeBlock.length).toBeGreaterThan(1000);
    expect(codeBlock).not.toMatch(/[<>]/);
    expect(codeBlock.replace(/&(amp|lt|gt);/g, '').replace(/…$/, '')).toBe('');
  });

  it('handles a timeout without Nova text, and offers no retry once the server is no longer failed', () => {
    const run = makeRun({ servers: 20, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'timed_out');
    server.failure = null;
    const message = failureThreadMessage(run, server);
    expect(visibleText(message)).toContain('⌛');
    expect(visibleText(message)).toContain('Nova gave no error text');
    expect(actionIds(message)).toContain(ActionId.RetryServer);
    server.state = 'moving';
    expect(actionIds(failureThreadMessage(run, server))).toEqual([]);
  });
});

describe('excerpt', () => {
  it('returns short text unchanged and long text within the limit with both ends', () => {
    expect(excerpt('short', 100)).toBe('short');
    const long = `START${'m'.repeat(5000)}END`;
    const cut = excerpt(long, 500);
    expect(cut.length).toBeLessThanOrEqual(500);
    expect(cut.startsWith('START')).toBe(true);
    expect(cut.endsWith('END')).toBe(true);
  });
});

describe('completionsThreadMessage', () => {
  it('lists each moved server with its destination and duration', () => {
    const run = makeRun({ servers: 23, state: 'running' });
    const done = run.servers.filter((server) => server.state === 'done');
    const message = completionsThreadMessage(run, done);
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(text).toContain(
      `✅ ${done.length} servers moved off *host-12* (${done.length} of 20 moved so far)`,
    );
    expect(text).toContain('• `vm-0000` → host-3 (30 s)');
    expect(message.text).toMatch(/^✅ 7 servers moved: vm-0000 → host-3 \(30 s\), vm-0001 → host-4 \(45 s\)/);
  });

  it('cuts a batch of 2,000 with "…and N more"', () => {
    const run = makeRun({ servers: 2000, state: 'finished', serverState: () => 'done' });
    const message = completionsThreadMessage(run, run.servers);
    expectWithinLimits(message);
    const text = visibleText(message);
    const shown = text.split('\n').filter((line) => line.startsWith('• ')).length;
    expect(text).toContain(`…and ${2000 - shown} more servers`);
    expect(message.text.length).toBeLessThanOrEqual(300);
  });

  it('handles an empty batch', () => {
    const run = makeRun({ servers: 3, state: 'running' });
    const message = completionsThreadMessage(run, []);
    expectWithinLimits(message);
    expect(message.text).toBe('✅ 0 servers moved');
  });
});

describe('progressThreadMessage', () => {
  it('shows percent from the memory figures and offers abort and force complete', () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'moving' && s.action === 'live-migrate');
    const message = progressThreadMessage(run, server, new Date(FIXTURE_EPOCH + 10 * 60_000));
    expectWithinLimits(message);
    const text = visibleText(message);
    expect(migrationPercent(server)).toBe(37.5);
    expect(text).toContain('`▓▓▓░░░░░░░ 37%` (3.0 GiB of 8.0 GiB memory copied)');
    expect(text).toContain('migration status `running`');
    expect(text).toContain('running for 8 min 40 s');
    const abort = element(message, ActionId.AbortMigration);
    expect(abort.style).toBe('danger');
    expect(decodeActionValue(abort.value)).toEqual({ runId: 'run-0001', serverId: server.serverId });
    expect(element(message, ActionId.ForceComplete).confirm!.text.text).toContain('paused');
    expect(message.text).toBe(`🐢 ${server.name}: live migration 37%`);
  });

  it("prefers Nova's percent and copes with no figures at all", () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'moving' && s.action === 'live-migrate');
    server.progress = {
      percent: 91,
      memoryProcessedBytes: null,
      memoryTotalBytes: null,
      migrationStatus: 'running',
    };
    expect(visibleText(progressThreadMessage(run, server))).toContain('91%');
    server.progress = null;
    const message = progressThreadMessage(run, server);
    expectWithinLimits(message);
    expect(visibleText(message)).toContain('Nova reports no memory figures');
  });

  it('offers no controls once the migration is over or for other kinds of move', () => {
    const run = makeRun({ servers: 10, state: 'running' });
    const server = serverIn(run, (s) => s.state === 'moving' && s.action === 'live-migrate');
    server.state = 'done';
    expect(actionIds(progressThreadMessage(run, server))).toEqual([]);
    server.state = 'moving';
    server.action = 'cold-migrate';
    expect(actionIds(progressThreadMessage(run, server))).toEqual([]);
  });
});
