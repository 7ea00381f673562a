/**
 * HTTP mode (Events API request URL): Slack's signed requests are verified and acknowledged
 * within 3 seconds; unsigned, badly signed or replayed requests are refused.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvacuationEngineApi } from '../../src/engine/api.js';
import { createSlackApp, type EvacuationSlackApp } from '../../src/slack/app.js';
import { FakeSlackApi } from './fake-slack-api.js';
import { BOT_TOKEN, TEST_POLICY, testLogger } from './harness.js';

const SECRET = '0123456789abcdef0123456789abcdef';

/** An engine that is never reached in these tests (parse errors and help stop before it). */
const idleEngine = {
  subscribe: () => () => undefined,
  getRun: () => null,
  listRuns: () => [],
} as unknown as EvacuationEngineApi;

let fake: FakeSlackApi;
let bot: EvacuationSlackApp;
let url: string;

beforeAll(async () => {
  fake = await FakeSlackApi.start({ botToken: BOT_TOKEN });
  bot = createSlackApp(
    {
      slack: {
        mode: 'http',
        botToken: BOT_TOKEN,
        signingSecret: SECRET,
        port: 0,
        eventsPath: '/hooks/slack',
        apiUrl: fake.apiUrl,
      },
      policy: { policy: TEST_POLICY, source: 'test' },
    },
    { engine: idleEngine, logger: testLogger },
  );
  await bot.start();
  const address = bot.httpAddress();
  if (!address) throw new Error('HTTP receiver did not start');
  url = `http://127.0.0.1:${address.port}/hooks/slack`;
});

afterAll(async () => {
  await bot.stop();
  await fake.close();
});

function sign(body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${createHmac('sha256', SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature,
  };
}

function commandBody(text: string): string {
  return new URLSearchParams({
    token: 'unused',
    team_id: 'T0FAKE',
    team_domain: 'fake',
    channel_id: 'C0OPS',
    channel_name: 'ops',
    user_id: 'U0ALICE',
    user_name: 'alice',
    command: '/evacuate',
    text,
    api_app_id: 'A0EVAC',
    response_url: fake.newResponseUrl({ user: 'U0ALICE', channel: 'C0OPS' }),
    trigger_id: 't',
  }).toString();
}

describe('HTTP mode', () => {
  it('a signed slash command is acknowledged at once, with the parser error as the ephemeral answer', async () => {
    const body = commandBody('host-1 --paralel 2');
    const started = performance.now();
    const response = await fetch(url, { method: 'POST', headers: sign(body), body });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(200);
    expect(elapsed).toBeLessThan(3000);
    const answer = (await response.json()) as { response_type: string; text: string };
    expect(answer.response_type).toBe('ephemeral');
    expect(answer.text).toContain('Unknown option --paralel');
  });

  it('help is acknowledged empty, then answered through the response_url', async () => {
    const body = commandBody('help');
    const response = await fetch(url, { method: 'POST', headers: sign(body), body });
    expect(response.status).toBe(200);
    await fake.waitFor(() => fake.ephemeralsFor('U0ALICE').find((e) => e.text.includes('/evacuate help')), {
      what: 'the help answer',
    });
  });

  it('refuses a bad signature and a replayed (old) request', async () => {
    const body = commandBody('help');
    const forged = { ...sign(body), 'x-slack-signature': 'v0=deadbeef' };
    expect((await fetch(url, { method: 'POST', headers: forged, body })).status).toBe(401);
    const old = sign(body, Math.floor(Date.now() / 1000) - 600);
    expect((await fetch(url, { method: 'POST', headers: old, body })).status).toBe(401);
  });

  it('answers Slack’s url_verification challenge', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'unused' });
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...sign(body), 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('abc123');
  });
});

describe('start-up', () => {
  it('a token Slack rejects is a clear start-up error', async () => {
    const { DirectReceiver } = await import('../../src/slack/direct-receiver.js');
    const wrong = createSlackApp(
      {
        slack: { mode: 'socket', botToken: 'xoxb-revoked', appToken: 'xapp-x', apiUrl: fake.apiUrl },
        policy: { policy: TEST_POLICY, source: 'test' },
      },
      { engine: idleEngine, logger: testLogger, receiver: new DirectReceiver() },
    );
    await expect(wrong.start()).rejects.toThrow(
      'Slack rejected SLACK_BOT_TOKEN (invalid_auth): use the Bot User OAuth Token (xoxb-…) of an installed app.',
    );
  });
});
