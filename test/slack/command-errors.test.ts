/**
 * Every way `/evacuate` can be given bad input, through the real app: each gets a specific,
 * private answer (with the usage line where the command itself is wrong), within Slack's
 * 3 seconds, and nothing is posted in the channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../../src/commands/parse.js';
import { generateScenario } from '../../src/sim/index.js';
import { SLACK_ACK_DEADLINE_MS } from '../../src/slack/direct-receiver.js';
import { ALICE, BOB, EVE, OPS, messageText, startSlackHarness, type SlackHarness } from './harness.js';

let h: SlackHarness;
beforeAll(async () => {
  h = await startSlackHarness({
    scenario: generateScenario({ hosts: 3, serversPerHost: 2, loadedHosts: ['host-1', 'host-2'] }),
    fake: { channelsWithoutBot: ['C0NOBOT'] },
    policy: undefined,
  });
});
afterAll(async () => {
  await h.close();
});

function ackText(ackBody: unknown): string {
  return JSON.stringify(ackBody);
}

describe('malformed commands are answered in the acknowledgement itself', () => {
  it.each([
    ['unknown flag', 'host-1 --force', /Unknown option --force/],
    ['bad number', 'host-1 --parallel lots', /--parallel expects a whole number/],
    ['conflicting modes', 'host-1 --live --rebuild', /--live and --rebuild cannot be combined/],
    ['missing host', '--live', /Which host\?/],
    ['empty command', '', /Which host\?/],
    ['missing flag value', 'host-1 --to', /--to needs a value/],
    ['extra arguments', 'host-1 host-2', /Unexpected argument \\"host-2\\"/],
    ['unquoted reason', 'host-1 --reason disk dead', /Put the --reason text in quotes/],
  ])('%s', async (_name, text, expected) => {
    const posted = h.fake.callsTo('chat.postMessage').length;
    const result = await h.command(text);
    await result.done;
    expect(result.acknowledged).toBe(true);
    expect(result.ackMs).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    const body = ackText(result.ackBody);
    expect(body).toContain('"response_type":"ephemeral"');
    expect(body).toMatch(expected);
    expect(body).toContain(JSON.stringify(USAGE).slice(1, 40));
    expect(body).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(h.fake.callsTo('chat.postMessage').length).toBe(posted);
  });
});

describe('valid commands that cannot be carried out get a specific private answer', () => {
  it('an unknown host, with the nearest names', async () => {
    const result = await h.command('host-4');
    await result.done;
    const texts = h.ephemeralTexts(ALICE);
    const last = texts.at(-1) ?? '';
    expect(last).toMatch(/No compute host named \\?"host-4\\?"/);
    expect(last).toMatch(/Did you mean/);
    expect(last).toContain('host-1');
    expect(last).toContain('Usage');
    expect(h.engine.listRuns({ host: 'host-4' })).toEqual([]);
  });

  it('a host that already has an active run: a link to it', async () => {
    const first = await h.command('host-2 --cold', { user: BOB });
    await first.done;
    const run = await h.waitForRun('host-2');
    const second = await h.command('host-2 --live', { user: ALICE });
    await second.done;
    const last = h.ephemeralTexts(ALICE).at(-1) ?? '';
    expect(last).toContain('host-2 already has a preview waiting for confirmation');
    expect(last).toContain(run.id);
    expect(last).toMatch(/archives\/C0OPS\/p\d+/);
    expect(h.engine.listRuns({ host: 'host-2' })).toHaveLength(1);
  });

  it('a command from a channel outside the policy is refused', async () => {
    const result = await h.command('host-1', { channel: 'C0ELSEWHERE', user: ALICE });
    await result.done;
    expect(h.ephemeralTexts(ALICE).at(-1)).toContain('This bot only acts in <#C0OPS>');
    expect(h.engine.activeRunForHost('host-1')).toBeNull();
  });

  it('a dry run previews without buttons and does not hold the host', async () => {
    const result = await h.command('host-1 --dry-run', { user: EVE });
    await result.done;
    const preview = h.fake.channelMessages(OPS).at(-1)!;
    expect(messageText(preview)).toContain('Dry run');
    expect(messageText(preview)).not.toContain('evac_confirm');
    expect(h.engine.activeRunForHost('host-1')).toBeNull();
  });

  it('--only naming a server that is not on the host: the preview warns about it', async () => {
    const result = await h.command('host-1 --only no-such-vm');
    await result.done;
    const run = await h.waitForRun('host-1');
    const preview = h.runMessage(run);
    expect(messageText(preview)).toContain('no-such-vm');
    expect(messageText(preview)).toContain('is not a server on host-1');
    expect(run.plan.servers.filter((server) => server.action !== 'skip')).toEqual([]);
    await (
      await h.click(preview, 'evac_cancel', { user: ALICE })
    ).done;
    expect(h.engine.activeRunForHost('host-1')).toBeNull();
  });
});

describe('status and help', () => {
  it('/evacuate status lists runs with links to their messages', async () => {
    const result = await h.command('status', { user: EVE });
    await result.done;
    const last = h.ephemeralTexts(EVE).at(-1) ?? '';
    expect(last).toContain('Evacuation runs');
    expect(last).toContain('host-2');
    expect(last).toMatch(/archives\/C0OPS\/p\d+\|status message/);
  });

  it('/evacuate help shows only what the caller may run', async () => {
    await (
      await h.command('help', { user: EVE })
    ).done;
    const eve = h.ephemeralTexts(EVE).at(-1) ?? '';
    await (
      await h.command('help', { user: ALICE })
    ).done;
    const alice = h.ephemeralTexts(ALICE).at(-1) ?? '';
    expect(eve).toContain('--dry-run');
    expect(eve).not.toContain('--rebuild');
    expect(eve).not.toContain('--live');
    expect(alice).toContain('--rebuild');
    expect(alice).toContain('--live');
  });
});

describe('not in the channel', () => {
  it('posting fails with not_in_channel: a hint to invite the bot, and the run is discarded', async () => {
    const policyFree = await startSlackHarness({
      scenario: generateScenario({ hosts: 2, serversPerHost: 1, loadedHosts: ['host-1'] }),
      fake: { channelsWithoutBot: ['C0NOBOT'] },
      policy: null,
      cloudIsSimulated: true,
    });
    try {
      const result = await policyFree.command('host-1', { channel: 'C0NOBOT', user: ALICE });
      await result.done;
      expect(policyFree.ephemeralTexts(ALICE).at(-1)).toContain('Invite me first');
      expect(policyFree.engine.activeRunForHost('host-1')).toBeNull();
    } finally {
      await policyFree.close();
    }
  });
});
