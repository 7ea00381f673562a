import { LogLevel, WebClient, type WebAPICallError } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/workspace/model.js';
import type { LocalWorkspace } from '../../src/workspace/server.js';
import { SseReader, startTestWorkspace } from './helpers.js';

let workspace: LocalWorkspace;
/** The refusals below are the point of the tests: the client need not log them. */
const quietLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};
let client: WebClient;
let channel: string;
let me: string;
let other: string;

function webClient(token: string): WebClient {
  return new WebClient(token, {
    slackApiUrl: workspace.slackApiUrl,
    retryConfig: { retries: 0 },
    logger: quietLogger,
  });
}

async function slackError(call: Promise<unknown>): Promise<{ error: string; messages: string[] }> {
  try {
    await call;
  } catch (error) {
    const data = (
      error as WebAPICallError & { data?: { error: string; response_metadata?: { messages?: string[] } } }
    ).data;
    return { error: data?.error ?? String(error), messages: data?.response_metadata?.messages ?? [] };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  workspace = await startTestWorkspace();
  client = webClient(workspace.botToken);
  channel = workspace.directory.channels[0]!.id;
  me = workspace.directory.users[0]!.id;
  other = workspace.directory.users[1]!.id;
});

afterAll(async () => {
  await workspace.close();
});

describe('local Slack Web API', () => {
  it('answers auth.test with the bot identity Bolt needs', async () => {
    const result = await client.auth.test();
    expect(result.user_id).toBe(workspace.directory.bot.userId);
    expect(result.bot_id).toBe(workspace.directory.bot.botId);
    expect(result.team_id).toBe(workspace.directory.teamId);
    expect(result.url).toBe(`${workspace.url}/`);
  });

  it('refuses a missing or wrong token like Slack', async () => {
    expect((await slackError(webClient('xoxb-wrong').auth.test())).error).toBe('invalid_auth');
    const response = await fetch(`${workspace.slackApiUrl}auth.test`, { method: 'POST' });
    expect(await response.json()).toEqual({ ok: false, error: 'not_authed' });
  });

  it('stores chat.postMessage with its blocks, assigns block ids and streams it to the page', async () => {
    const stream = new SseReader(`${workspace.url}/workspace/events?user=${me}`);
    try {
      const posted = await client.chat.postMessage({
        channel: '#ops-evacuations',
        text: 'Preview of host-2',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Evacuate host-2' } },
          { type: 'section', text: { type: 'mrkdwn', text: '*6 servers* will move' } },
        ],
      });
      expect(posted.channel).toBe(channel);
      const stored = workspace.state.getMessage(channel, posted.ts!);
      expect(stored?.blocks).toHaveLength(2);
      expect(
        stored?.blocks.every((block) => typeof block.block_id === 'string' && block.block_id.length > 0),
      ).toBe(true);
      const event = await stream.next(
        (e) => e.event === 'message' && (e.data as StoredMessage).ts === posted.ts,
      );
      expect((event.data as StoredMessage).text).toBe('Preview of host-2');
    } finally {
      await stream.close();
    }
  });

  it('edits in place with chat.update and marks the message edited', async () => {
    const posted = await client.chat.postMessage({ channel, text: 'Planning…' });
    const updated = await client.chat.update({
      channel,
      ts: posted.ts!,
      text: 'Running',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Running: 2/6' } }],
    });
    expect(updated.ts).toBe(posted.ts);
    const stored = workspace.state.getMessage(channel, posted.ts!);
    expect(stored?.text).toBe('Running');
    expect(stored?.editedAt).not.toBeNull();
    expect(stored?.blocks[0]?.type).toBe('section');
    expect((await slackError(client.chat.update({ channel, ts: '1.000001', text: 'x' }))).error).toBe(
      'message_not_found',
    );
  });

  it('threads replies and counts them on the parent, broadcasting when asked', async () => {
    const parent = await client.chat.postMessage({ channel, text: 'status' });
    const reply = await client.chat.postMessage({ channel, thread_ts: parent.ts!, text: 'vm-1 failed' });
    await client.chat.postMessage({ channel, thread_ts: reply.ts!, text: 'summary', reply_broadcast: true });
    const stored = workspace.state.getMessage(channel, parent.ts!);
    expect(stored?.replyCount).toBe(2);
    expect(stored?.replyUsers).toEqual([workspace.directory.bot.userId]);
    const broadcast = workspace.state.allMessages().find((m) => m.text === 'summary');
    expect(broadcast?.threadTs).toBe(parent.ts);
    expect(broadcast?.replyBroadcast).toBe(true);
    expect(
      (await slackError(client.chat.postMessage({ channel, thread_ts: '2.000002', text: 'x' }))).error,
    ).toBe('thread_not_found');
  });

  it('shows chat.postEphemeral only to its user', async () => {
    const meStream = new SseReader(`${workspace.url}/workspace/events?user=${me}`);
    const otherStream = new SseReader(`${workspace.url}/workspace/events?user=${other}`);
    try {
      await meStream.next((e) => e.event === 'snapshot');
      await otherStream.next((e) => e.event === 'snapshot');
      const result = await client.chat.postEphemeral({ channel, user: me, text: 'Only for you' });
      await meStream.next((e) => e.event === 'message' && (e.data as StoredMessage).ts === result.message_ts);
      // A later public message proves the other stream is live and skipped the ephemeral one.
      const marker = await client.chat.postMessage({ channel, text: 'public marker' });
      await otherStream.next((e) => e.event === 'message' && (e.data as StoredMessage).ts === marker.ts);
      expect(otherStream.events.some((e) => (e.data as StoredMessage).ts === result.message_ts)).toBe(false);
      expect(workspace.state.visibleMessages(other).some((m) => m.ts === result.message_ts)).toBe(false);
      expect(workspace.state.visibleMessages(me).some((m) => m.ts === result.message_ts)).toBe(true);
      expect(
        (await slackError(client.chat.postEphemeral({ channel, user: 'UNOBODY1', text: 'x' }))).error,
      ).toBe('user_not_in_channel');
    } finally {
      await meStream.close();
      await otherStream.close();
    }
  });

  it('gives permalinks that open the page on that message', async () => {
    const posted = await client.chat.postMessage({ channel, text: 'link me' });
    const reply = await client.chat.postMessage({ channel, text: 'in thread', thread_ts: posted.ts! });
    const link = await client.chat.getPermalink({ channel, message_ts: posted.ts! });
    expect(link.permalink).toBe(`${workspace.url}/archives/${channel}/p${posted.ts!.replace('.', '')}`);
    const page = await fetch(link.permalink!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div class="app">');
    const replyLink = await client.chat.getPermalink({ channel, message_ts: reply.ts! });
    expect(replyLink.permalink).toContain(`?thread_ts=${posted.ts}&cid=${channel}`);
    expect((await slackError(client.chat.getPermalink({ channel, message_ts: '3.000003' }))).error).toBe(
      'message_not_found',
    );
  });

  it('lists user group members and knows the people', async () => {
    const group = workspace.directory.userGroups[0]!;
    const members = await client.usergroups.users.list({ usergroup: group.id });
    expect(members.users).toEqual(group.members);
    expect((await slackError(client.usergroups.users.list({ usergroup: 'SNOPE' }))).error).toBe(
      'no_such_subteam',
    );
    const info = await client.users.info({ user: me });
    expect(info.user?.name).toBe(workspace.directory.users[0]!.name);
  });

  it('refuses what Slack refuses: unknown channel, no text, invalid blocks, unknown method', async () => {
    expect((await slackError(client.chat.postMessage({ channel: 'CNOPE', text: 'x' }))).error).toBe(
      'channel_not_found',
    );
    expect((await slackError(client.chat.postMessage({ channel, text: '' }))).error).toBe('no_text');
    const tooLong = await slackError(
      client.chat.postMessage({
        channel,
        text: 'x',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'a'.repeat(3001) } }],
      }),
    );
    expect(tooLong.error).toBe('invalid_blocks');
    expect(tooLong.messages[0]).toContain(
      'must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
    );
    const tooMany = await slackError(
      client.chat.postMessage({
        channel,
        text: 'x',
        blocks: Array.from({ length: 51 }, () => ({ type: 'divider' as const })),
      }),
    );
    expect(tooMany.messages[0]).toContain('no more than 50 items');
    const badStyle = await slackError(
      client.chat.postMessage({
        channel,
        text: 'x',
        blocks: [
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                text: { type: 'plain_text', text: 'Go' },
                action_id: 'go',
                style: 'loud' as 'primary',
              },
            ],
          },
        ],
      }),
    );
    expect(badStyle.messages[0]).toContain('/blocks/0/elements/0/style');
    expect((await slackError(client.apiCall('chat.explode', {}))).error).toBe('unknown_method');
  });

  it('accepts JSON bodies as well as form encoding', async () => {
    const response = await fetch(`${workspace.slackApiUrl}chat.postMessage`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        authorization: `Bearer ${workspace.botToken}`,
      },
      body: JSON.stringify({ channel, text: 'json', blocks: [{ type: 'divider' }] }),
    });
    const body = (await response.json()) as { ok: boolean; ts: string };
    expect(body.ok).toBe(true);
    expect(workspace.state.getMessage(channel, body.ts)?.blocks[0]?.type).toBe('divider');
  });
});

describe('response_url', () => {
  function responseToken(messageTs: string | null, userId = me): string {
    return workspace.state.createResponseTarget({
      channel,
      userId,
      messageTs,
      messageIsEphemeral: false,
      threadTs: null,
    });
  }

  async function respond(token: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${workspace.url}/response/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  }

  it('posts an ephemeral reply by default and an in_channel one when asked', async () => {
    const token = responseToken(null);
    expect((await respond(token, { text: 'just you' })).json).toEqual({ ok: true });
    const ephemeral = workspace.state.allMessages().find((m) => m.text === 'just you');
    expect(ephemeral?.ephemeralTo).toBe(me);
    await respond(token, { text: 'everyone', response_type: 'in_channel' });
    expect(workspace.state.allMessages().find((m) => m.text === 'everyone')?.ephemeralTo).toBeNull();
  });

  it('replaces and deletes the original message', async () => {
    const posted = await client.chat.postMessage({ channel, text: 'original' });
    const token = responseToken(posted.ts!);
    await respond(token, { replace_original: true, text: 'replaced', blocks: [{ type: 'divider' }] });
    const replaced = workspace.state.getMessage(channel, posted.ts!);
    expect(replaced?.text).toBe('replaced');
    expect(replaced?.editedAt).not.toBeNull();
    await respond(token, { delete_original: true });
    expect(workspace.state.getMessage(channel, posted.ts!)).toBeUndefined();
  });

  it('allows five uses, then answers used_url; unknown urls are 404', async () => {
    const token = responseToken(null);
    for (let i = 0; i < 5; i += 1) expect((await respond(token, { text: `use ${i}` })).status).toBe(200);
    expect((await respond(token, { text: 'sixth' })).json).toEqual({ ok: false, error: 'used_url' });
    expect((await respond('deadbeef', { text: 'x' })).status).toBe(404);
  });
});
