import { App, LogLevel, type BlockAction, type ButtonAction, type StaticSelectAction } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/workspace/model.js';
import type { LocalWorkspace } from '../../src/workspace/server.js';
import { postJson, SseReader, startTestWorkspace } from './helpers.js';

/**
 * A tiny Bolt app proves the receiver: the same `app.command` / `app.action` listeners a Slack
 * deployment registers receive Slack-shaped payloads and answer through the local Web API.
 */
let workspace: LocalWorkspace;
let app: App;
let channel: string;
let me: string;
const clicks: BlockAction[] = [];

const noopLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

function previewBlocks(host: string) {
  return [
    { type: 'header', text: { type: 'plain_text', text: `Evacuate ${host}` } },
    {
      type: 'section',
      block_id: 'mode',
      text: { type: 'mrkdwn', text: 'Mode' },
      accessory: {
        type: 'static_select',
        action_id: 'pick_mode',
        initial_option: { text: { type: 'plain_text', text: 'Auto' }, value: 'auto' },
        options: ['auto', 'live', 'cold'].map((value) => ({
          text: { type: 'plain_text', text: value },
          value,
        })),
      },
    },
    {
      type: 'actions',
      block_id: 'controls',
      elements: [
        {
          type: 'button',
          action_id: 'confirm',
          style: 'danger',
          text: { type: 'plain_text', text: 'Confirm' },
          value: `run:${host}`,
          confirm: {
            title: { type: 'plain_text', text: 'Sure?' },
            text: { type: 'mrkdwn', text: 'Really' },
            confirm: { type: 'plain_text', text: 'Go' },
            deny: { type: 'plain_text', text: 'No' },
          },
        },
        { type: 'button', action_id: 'private', text: { type: 'plain_text', text: 'Tell me' }, value: 'p' },
        { type: 'button', action_id: 'never_acks', text: { type: 'plain_text', text: 'Hang' } },
      ],
    },
  ];
}

beforeAll(async () => {
  workspace = await startTestWorkspace({ ackTimeoutMs: 300 });
  channel = workspace.directory.channels[0]!.id;
  me = workspace.directory.users[0]!.id;
  app = new App({
    token: workspace.botToken,
    receiver: workspace.receiver,
    logger: noopLogger,
    clientOptions: { slackApiUrl: workspace.slackApiUrl, retryConfig: { retries: 0 } },
  });
  app.command('/evacuate', async ({ command, ack, client, respond }) => {
    if (command.text === 'help') {
      await ack({ text: 'Usage: /evacuate HOST' });
      return;
    }
    if (command.text === 'slow') return; // never acks
    await ack();
    if (command.text === 'whisper') {
      await respond({ text: `psst ${command.user_name}` });
      return;
    }
    await client.chat.postMessage({
      channel: command.channel_id,
      text: `Preview for ${command.text} by <@${command.user_id}>`,
      blocks: previewBlocks(command.text),
    });
  });
  app.action<BlockAction<ButtonAction>>('confirm', async ({ ack, body, action, respond }) => {
    await ack();
    clicks.push(body);
    await respond({ replace_original: true, text: `Confirmed ${action.value} by ${body.user.id}` });
  });
  app.action<BlockAction<StaticSelectAction>>('pick_mode', async ({ ack, body }) => {
    await ack();
    clicks.push(body);
  });
  app.action<BlockAction<ButtonAction>>('private', async ({ ack, client, body }) => {
    await ack();
    clicks.push(body);
    await client.chat.postEphemeral({
      channel: body.channel!.id,
      user: body.user.id,
      text: 'secret',
      blocks: previewBlocks('eph'),
    });
  });
  await app.start();
});

afterAll(async () => {
  await app.stop();
  await workspace.close();
});

async function command(text: string, userId = me) {
  return postJson(`${workspace.url}/workspace/command`, { userId, channelId: channel, text });
}

function findMessage(predicate: (message: StoredMessage) => boolean): StoredMessage {
  const message = workspace.state.allMessages().find(predicate);
  if (!message) throw new Error('message not found');
  return message;
}

async function waitForMessage(
  predicate: (message: StoredMessage) => boolean,
  user = me,
): Promise<StoredMessage> {
  const stream = new SseReader(`${workspace.url}/workspace/events?user=${user}`);
  try {
    const event = await stream.next(
      (e) =>
        (e.event === 'message' && predicate(e.data as StoredMessage)) ||
        (e.event === 'snapshot' && (e.data as { messages: StoredMessage[] }).messages.some(predicate)),
    );
    return event.event === 'message'
      ? (event.data as StoredMessage)
      : (event.data as { messages: StoredMessage[] }).messages.find(predicate)!;
  } finally {
    await stream.close();
  }
}

describe('LocalReceiver', () => {
  it('delivers a slash command to the Bolt listener and acknowledges it', async () => {
    const answer = await command('/evacuate host-2');
    expect(answer.status).toBe(200);
    expect(answer.json.acknowledged).toBe(true);
    expect(answer.json.error).toBeNull();
    const preview = await waitForMessage((m) => m.text.startsWith('Preview for host-2'));
    expect(preview.text).toBe(`Preview for host-2 by <@${me}>`);
    expect(preview.botId).toBe(workspace.directory.bot.botId);
  });

  it('shows an acknowledgement body to the person only', async () => {
    await command('/evacuate help');
    const help = findMessage((m) => m.text === 'Usage: /evacuate HOST');
    expect(help.ephemeralTo).toBe(me);
  });

  it('answers through response_url as an ephemeral message', async () => {
    await command('/evacuate whisper');
    const whisper = await waitForMessage((m) => m.text.startsWith('psst'));
    expect(whisper.text).toBe(`psst ${workspace.directory.users[0]!.name}`);
    expect(whisper.ephemeralTo).toBe(me);
  });

  it('tells the person when the app does not acknowledge in time, as Slack does', async () => {
    const answer = await command('/evacuate slow');
    expect(answer.json).toMatchObject({ acknowledged: false, error: 'operation_timeout' });
    const note = findMessage((m) => m.text.includes('failed with the error "operation_timeout"'));
    expect(note.ephemeralTo).toBe(me);
  });

  it('answers an unknown command like Slack, without bothering the bot', async () => {
    await command('/evacuat host-2');
    const note = findMessage((m) => m.text.includes('`/evacuat` is not a valid command'));
    expect(note.ephemeralTo).toBe(me);
  });

  it('posts plain text as the person', async () => {
    await command('hello team');
    expect(findMessage((m) => m.text === 'hello team').user).toBe(me);
  });

  it('turns a button click into a block_actions payload with the message, value and state', async () => {
    await command('/evacuate host-3');
    const preview = await waitForMessage((m) => m.text.startsWith('Preview for host-3'));
    const answer = await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'controls',
      actionId: 'confirm',
      selections: { mode: { pick_mode: 'cold' } },
    });
    expect(answer.json.acknowledged).toBe(true);
    const replaced = await waitForMessage((m) => m.ts === preview.ts && m.text.startsWith('Confirmed'));
    expect(replaced.text).toBe(`Confirmed run:host-3 by ${me}`);
    const body = clicks.find((click) => click.message?.ts === preview.ts)!;
    expect(body.type).toBe('block_actions');
    expect(body.user.id).toBe(me);
    expect(body.container).toMatchObject({
      type: 'message',
      message_ts: preview.ts,
      channel_id: channel,
      is_ephemeral: false,
    });
    expect(body.actions[0]).toMatchObject({
      type: 'button',
      action_id: 'confirm',
      block_id: 'controls',
      value: 'run:host-3',
      style: 'danger',
    });
    expect(body.state?.values).toEqual({
      mode: {
        pick_mode: {
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: 'cold' }, value: 'cold' },
        },
      },
    });
  });

  it('sends the chosen option of a static select', async () => {
    await command('/evacuate host-4');
    const preview = await waitForMessage((m) => m.text.startsWith('Preview for host-4'));
    await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'mode',
      actionId: 'pick_mode',
      selectedValue: 'live',
    });
    const body = clicks.find(
      (click) => click.message?.ts === preview.ts && click.actions[0]?.action_id === 'pick_mode',
    )!;
    expect((body.actions[0] as StaticSelectAction).selected_option.value).toBe('live');
    expect(body.state?.values.mode?.pick_mode?.selected_option?.value).toBe('live');
    const bad = await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'mode',
      actionId: 'pick_mode',
      selectedValue: 'teleport',
    });
    expect(bad.status).toBe(400);
    expect(String(bad.json.error)).toContain('"teleport" is not an option of pick_mode');
  });

  it('leaves the message out of payloads from ephemeral messages, and hides them from others', async () => {
    await command('/evacuate host-5');
    const preview = await waitForMessage((m) => m.text.startsWith('Preview for host-5'));
    await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'controls',
      actionId: 'private',
    });
    const secret = await waitForMessage((m) => m.text === 'secret');
    expect(secret.ephemeralTo).toBe(me);
    const other = workspace.directory.users[1]!.id;
    const denied = await postJson(`${workspace.url}/workspace/action`, {
      userId: other,
      channelId: channel,
      messageTs: secret.ts,
      blockId: 'controls',
      actionId: 'private',
    });
    expect(denied.status).toBe(400);
    await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: secret.ts,
      blockId: 'controls',
      actionId: 'private',
    });
    const body = clicks.filter((click) => click.container.message_ts === secret.ts).at(-1)!;
    expect(body.container.is_ephemeral).toBe(true);
    expect(body.message).toBeUndefined();
  });

  it('warns when a click is never acknowledged and rejects unknown elements and users', async () => {
    await command('/evacuate host-6');
    const preview = await waitForMessage((m) => m.text.startsWith('Preview for host-6'));
    const hang = await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'controls',
      actionId: 'never_acks',
    });
    expect(hang.json).toMatchObject({ acknowledged: false, error: 'operation_timeout' });
    const missing = await postJson(`${workspace.url}/workspace/action`, {
      userId: me,
      channelId: channel,
      messageTs: preview.ts,
      blockId: 'controls',
      actionId: 'nope',
    });
    expect(missing.status).toBe(400);
    expect(String(missing.json.error)).toContain('action_not_found');
    const stranger = await command('/evacuate host-2', 'UNOBODY1');
    expect(stranger.status).toBe(400);
    expect(String(stranger.json.error)).toContain('Unknown user');
    const malformed = await postJson(`${workspace.url}/workspace/action`, { userId: me });
    expect(malformed.status).toBe(400);
  });
});

describe('LocalReceiver before the app starts', () => {
  it('tells the page the bot is still starting', async () => {
    const idle = await startTestWorkspace();
    try {
      const answer = await postJson(`${idle.url}/workspace/command`, {
        userId: idle.directory.users[0]!.id,
        channelId: idle.directory.channels[0]!.id,
        text: '/evacuate host-2',
      });
      expect(answer.status).toBe(503);
      expect(answer.json.error).toBe('The bot is still starting; try again in a moment.');
    } finally {
      await idle.close();
    }
  });
});
