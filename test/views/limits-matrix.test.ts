/**
 * Every builder, for hosts of 0 to 2,000 servers, in every run state, with ordinary and with
 * hostile data (255-character names full of mrkdwn control characters, 10 KB tracebacks, huge
 * reasons): Slack must accept every message.
 */
import { describe, expect, it } from 'vitest';
import type { EvacuationRun, RunState } from '../../src/engine/types.js';
import type { SlackMessage } from '../../src/views/block-kit.js';
import {
  approvalRequestMessage,
  checkMessageLimits,
  completionsThreadMessage,
  errorMessage,
  failureThreadMessage,
  helpMessage,
  previewMessage,
  progressThreadMessage,
  runsListMessage,
  serverListThreadMessages,
  statusMessage,
  summaryMessage,
} from '../../src/views/index.js';
import { FIXTURE_EPOCH, makeRun, novaTraceback, type RunFixtureOptions } from './fixtures.js';

const SIZES = [0, 1, 40, 300, 2000] as const;
const STATES: readonly RunState[] = ['planned', 'confirmed', 'running', 'stopping', 'finished', 'cancelled'];
const now = new Date(FIXTURE_EPOCH + 3_600_000);

const hostile = (length: number) => {
  const pattern = '<!channel>&`*_~🚀';
  return pattern
    .repeat(Math.ceil(length / pattern.length))
    .slice(0, length)
    .replace(/[\uD800-\uDBFF]$/, 'x');
};

function hostileOptions(): RunFixtureOptions {
  return {
    id: 'r'.repeat(200),
    host: `h${hostile(254)}`,
    reason: hostile(5000),
    requestedBy: hostile(500),
    targetHost: 't'.repeat(150),
    candidateHosts: Array.from({ length: 500 }, (_, i) => `${i}-${'c'.repeat(250)}`),
    service: { disabledReason: hostile(3000), zone: hostile(300), status: 'disabled' },
    needsForceDown: true,
    findings: Array.from({ length: 30 }, (_, i) => ({
      severity: i % 2 === 0 ? ('blocker' as const) : ('warning' as const),
      code: hostile(100),
      message: hostile(2000),
    })),
    editServer: (server) => ({
      ...server,
      name: hostile(255),
      projectId: hostile(255),
      flavorName: hostile(255),
      status: hostile(50),
      why: hostile(1000),
      findings: [...server.findings, { severity: 'warning', code: hostile(80), message: hostile(1500) }],
    }),
  };
}

function withHostileFailures(run: EvacuationRun): EvacuationRun {
  for (const server of run.servers) {
    if (server.failure)
      server.failure = { ...server.failure, message: novaTraceback(10_240), source: hostile(100) };
    if (server.skipReason) server.skipReason = hostile(2000);
    if (server.destinationHost) server.destinationHost = hostile(255);
    server.sourceHost = hostile(255);
  }
  return run;
}

function mrkdwnTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(mrkdwnTexts);
  if (typeof value !== 'object' || value === null) return [];
  const node = value as Record<string, unknown>;
  const own = node.type === 'mrkdwn' && typeof node.text === 'string' ? [node.text] : [];
  return [...own, ...Object.values(node).flatMap(mrkdwnTexts)];
}

function allMessages(run: EvacuationRun): Array<[string, SlackMessage]> {
  const messages: Array<[string, SlackMessage]> = [
    ['preview', previewMessage(run, { canRun: true })],
    [
      'preview (approval)',
      previewMessage(run, { canRun: true, approvalNeeded: { approvers: [hostile(300)] } }),
    ],
    ['preview (no rights)', previewMessage(run, { canRun: false, cannotRunReason: hostile(3000) })],
    ['status', statusMessage(run, now)],
    ['summary', summaryMessage(run)],
    ['completions', completionsThreadMessage(run, run.servers)],
    [
      'runs list',
      runsListMessage([run, run, run], () => `https://team.slack.com/archives/C1/p${'1'.repeat(1900)}`),
    ],
    ['approval', approvalRequestMessage(run, { id: hostile(300) })],
  ];
  serverListThreadMessages(run).forEach((message, i) => messages.push([`server list ${i + 1}`, message]));
  // One of each kind of per-server thread message is enough: they do not grow with the host.
  const failed = run.servers.find((server) => server.failure !== null);
  if (failed) messages.push(['failure', failureThreadMessage(run, failed)]);
  const moving = run.servers.find((server) => server.state === 'moving');
  if (moving) messages.push(['progress', progressThreadMessage(run, moving, now)]);
  return messages;
}

describe.each([
  ['ordinary data', (): RunFixtureOptions => ({})],
  ['hostile data', hostileOptions],
])('every builder stays within Slack limits with %s', (_label, options) => {
  it.each(SIZES)('%i servers, every run state', (size) => {
    for (const state of STATES) {
      const run = withHostileFailures(makeRun({ ...options(), servers: size, state }));
      for (const [name, message] of allMessages(run)) {
        const violations = checkMessageLimits(message);
        expect(violations, `${name}, ${size} servers, ${state}`).toEqual([]);
        expect(message.text.length, `${name} fallback`).toBeGreaterThan(0);
      }
    }
  });
});

describe('hostile data never leaks mrkdwn control sequences', () => {
  // plain_text is shown literally by Slack; mrkdwn and the fallback text are parsed, so they must be escaped.
  it.each(STATES)('shows no raw <!channel> in any mrkdwn or fallback text (%s)', (state) => {
    const run = withHostileFailures(makeRun({ ...hostileOptions(), servers: 40, state }));
    for (const [name, message] of allMessages(run)) {
      expect(message.text, `${name} fallback`).not.toContain('<!channel>');
      for (const text of mrkdwnTexts(message.blocks)) expect(text, name).not.toContain('<!channel>');
    }
  });
});

describe('builders are pure', () => {
  it('return equal messages for equal input and do not modify the run', () => {
    const run = makeRun({ servers: 40, state: 'running' });
    const before = JSON.stringify(run);
    const first = JSON.stringify(allMessages(run));
    expect(JSON.stringify(allMessages(run))).toBe(first);
    expect(JSON.stringify(run)).toBe(before);
  });
});

describe('the static messages', () => {
  it('stay within limits for every combination of permissions', () => {
    for (let mask = 0; mask < 32; mask++) {
      const allowed = {
        preview: (mask & 1) !== 0,
        live: (mask & 2) !== 0,
        cold: (mask & 4) !== 0,
        evacuate: (mask & 8) !== 0,
        control: (mask & 16) !== 0,
      };
      expect(checkMessageLimits(helpMessage(allowed)), JSON.stringify(allowed)).toEqual([]);
    }
    expect(checkMessageLimits(errorMessage(hostile(50_000), hostile(50_000)))).toEqual([]);
  });
});
