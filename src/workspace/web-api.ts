/**
 * The Slack Web API methods the bot calls, answered locally: the bot's own `WebClient` is
 * pointed here with `slackApiUrl`, so the code that talks to Slack is the code that runs here.
 * Requests and answers follow Slack's wire format (form-encoded or JSON in, `{ ok, ... }` out,
 * Slack's error codes), and every argument is parsed with zod.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { validateBlocks } from './block-limits.js';
import type { BlockJson, StoredMessage } from './model.js';
import { SlackApiError, type LocalSlackState } from './slack-state.js';

/** Slack truncates past this; refusing is clearer for a bot under test. */
const MAX_TEXT_CHARS = 40_000;
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw new HttpError(413, `Request body larger than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The WebClient form-encodes arguments and JSON-encodes the structured ones (blocks,
 * attachments); other clients send JSON. Both arrive here as one flat object.
 */
export function parseApiArguments(contentType: string | undefined, body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  if (contentType?.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new SlackApiError('invalid_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new SlackApiError('invalid_json');
    return parsed as Record<string, unknown>;
  }
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    args[key] = value;
  }
  return args;
}

const booleanArg = z.preprocess(
  (value) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value),
  z.boolean(),
);

const blocksArg = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}, z.unknown());

const channelArg = z.string({ error: 'channel_not_found' }).min(1, { error: 'channel_not_found' });

const messageArgs = z.object({
  channel: channelArg,
  text: z.string().optional(),
  blocks: blocksArg.optional(),
  thread_ts: z.string().optional(),
});

const postMessageArgs = messageArgs.extend({ reply_broadcast: booleanArg.optional() });
const postEphemeralArgs = messageArgs.extend({ user: z.string({ error: 'user_not_found' }) });
const updateArgs = messageArgs.extend({ ts: z.string({ error: 'message_not_found' }) });
const deleteArgs = z.object({ channel: channelArg, ts: z.string({ error: 'message_not_found' }) });
const permalinkArgs = z.object({ channel: channelArg, message_ts: z.string({ error: 'message_not_found' }) });
const userGroupArgs = z.object({ usergroup: z.string({ error: 'no_such_subteam' }) });
const userArgs = z.object({ user: z.string({ error: 'user_not_found' }) });
const channelInfoArgs = z.object({ channel: channelArg });

function parseArgs<T extends z.ZodType>(schema: T, args: Record<string, unknown>): z.output<T> {
  const result = schema.safeParse(args);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // Slack's codes where we set one (channel_not_found ...); invalid_arguments otherwise.
  const code = issue && /^[a-z_]+$/.test(issue.message) ? issue.message : 'invalid_arguments';
  throw new SlackApiError(
    code,
    result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
  );
}

/** Text and blocks together: Slack needs at least one, and refuses blocks it cannot render. */
function messageContent(args: { text?: string | undefined; blocks?: unknown }): {
  text: string;
  blocks: BlockJson[] | undefined;
} {
  let blocks: BlockJson[] | undefined;
  if (args.blocks !== undefined) {
    const errors = validateBlocks(args.blocks);
    if (errors.length > 0) throw new SlackApiError('invalid_blocks', errors);
    blocks = args.blocks as BlockJson[];
  }
  const text = args.text ?? '';
  if (text === '' && (blocks === undefined || blocks.length === 0)) throw new SlackApiError('no_text');
  if (text.length > MAX_TEXT_CHARS) throw new SlackApiError('msg_too_long');
  return { text, blocks };
}

/** The message as the Web API returns it (and as interaction payloads carry it). */
export function messageJson(message: StoredMessage, teamId: string): Record<string, unknown> {
  const json: Record<string, unknown> = {
    type: 'message',
    ts: message.ts,
    user: message.user,
    text: message.text,
    team: teamId,
  };
  if (message.botId) json.bot_id = message.botId;
  if (message.blocks.length > 0) json.blocks = message.blocks;
  if (message.threadTs) json.thread_ts = message.threadTs;
  if (message.editedAt) json.edited = { user: message.user, ts: message.editedAt };
  if (message.replyCount > 0) {
    json.thread_ts = message.ts;
    json.reply_count = message.replyCount;
    json.reply_users = message.replyUsers;
    json.latest_reply = message.latestReply;
  }
  return json;
}

export interface WebApiContext {
  state: LocalSlackState;
  /** Base URL of the workspace page, for permalinks. */
  publicUrl: () => string;
}

/** One Web API call: `method` as in the URL (`chat.postMessage`), arguments already decoded. */
export function callWebApi(
  context: WebApiContext,
  method: string,
  args: Record<string, unknown>,
  token: string | null,
): Record<string, unknown> {
  const { state } = context;
  const { bot, teamId } = state.directory;
  if (token === null || token === '') throw new SlackApiError('not_authed');
  if (token !== bot.token) throw new SlackApiError('invalid_auth');

  switch (method) {
    case 'api.test':
      return { ok: true, args };
    case 'auth.test':
      return {
        ok: true,
        url: `${context.publicUrl()}/`,
        team: state.directory.teamName,
        user: bot.name,
        team_id: teamId,
        user_id: bot.userId,
        bot_id: bot.botId,
        is_enterprise_install: false,
      };
    case 'chat.postMessage': {
      const a = parseArgs(postMessageArgs, args);
      const content = messageContent(a);
      const message = state.post({
        channel: a.channel,
        user: bot.userId,
        botId: bot.botId,
        text: content.text,
        blocks: content.blocks,
        threadTs: a.thread_ts ?? null,
        replyBroadcast: a.reply_broadcast ?? false,
      });
      return { ok: true, channel: message.channel, ts: message.ts, message: messageJson(message, teamId) };
    }
    case 'chat.postEphemeral': {
      const a = parseArgs(postEphemeralArgs, args);
      const content = messageContent(a);
      if (!state.findUser(a.user)) throw new SlackApiError('user_not_in_channel');
      const message = state.post({
        channel: a.channel,
        user: bot.userId,
        botId: bot.botId,
        text: content.text,
        blocks: content.blocks,
        threadTs: a.thread_ts ?? null,
        ephemeralTo: a.user,
      });
      return { ok: true, message_ts: message.ts };
    }
    case 'chat.update': {
      const a = parseArgs(updateArgs, args);
      const content = messageContent({ text: a.text, blocks: a.blocks });
      const message = state.update(
        a.channel,
        a.ts,
        { text: a.text ?? content.text, ...(content.blocks !== undefined ? { blocks: content.blocks } : {}) },
        bot.userId,
      );
      return {
        ok: true,
        channel: message.channel,
        ts: message.ts,
        text: message.text,
        message: messageJson(message, teamId),
      };
    }
    case 'chat.delete': {
      const a = parseArgs(deleteArgs, args);
      const message = state.getMessage(state.resolveChannel(a.channel).id, a.ts);
      if (message && message.user !== bot.userId) throw new SlackApiError('cant_delete_message');
      state.delete(a.channel, a.ts);
      return { ok: true, channel: a.channel, ts: a.ts };
    }
    case 'chat.getPermalink': {
      const a = parseArgs(permalinkArgs, args);
      const channel = state.resolveChannel(a.channel);
      const message = state.getMessage(channel.id, a.message_ts);
      if (!message || message.ephemeralTo !== null) throw new SlackApiError('message_not_found');
      const base = `${context.publicUrl()}/archives/${channel.id}/p${message.ts.replace('.', '')}`;
      const permalink = message.threadTs ? `${base}?thread_ts=${message.threadTs}&cid=${channel.id}` : base;
      return { ok: true, channel: channel.id, permalink };
    }
    case 'usergroups.users.list': {
      const a = parseArgs(userGroupArgs, args);
      const group = state.directory.userGroups.find((g) => g.id === a.usergroup);
      if (!group) throw new SlackApiError('no_such_subteam');
      return { ok: true, users: group.members };
    }
    case 'usergroups.list':
      return {
        ok: true,
        usergroups: state.directory.userGroups.map((g) => ({
          id: g.id,
          team_id: teamId,
          handle: g.handle,
          name: g.name,
          user_count: g.members.length,
        })),
      };
    case 'users.info': {
      const a = parseArgs(userArgs, args);
      const user = state.findUser(a.user);
      if (user) {
        return {
          ok: true,
          user: {
            id: user.id,
            team_id: teamId,
            name: user.name,
            real_name: user.realName,
            is_bot: false,
            profile: { display_name: user.name, real_name: user.realName },
          },
        };
      }
      if (a.user === bot.userId) {
        return {
          ok: true,
          user: {
            id: bot.userId,
            team_id: teamId,
            name: bot.name,
            is_bot: true,
            profile: { real_name: bot.name },
          },
        };
      }
      throw new SlackApiError('user_not_found');
    }
    case 'conversations.info': {
      const a = parseArgs(channelInfoArgs, args);
      const channel = state.resolveChannel(a.channel);
      return {
        ok: true,
        channel: {
          id: channel.id,
          name: channel.name,
          is_channel: true,
          is_member: true,
          topic: { value: channel.topic },
        },
      };
    }
    default:
      throw new SlackApiError('unknown_method');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function bearerToken(req: IncomingMessage, args: Record<string, unknown>): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  return typeof args.token === 'string' ? args.token : null;
}

/** HTTP glue for `POST /api/<method>`. Errors are Slack-shaped: HTTP 200 with `ok: false`. */
export async function serveWebApi(
  context: WebApiContext,
  method: string,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  try {
    const args = parseApiArguments(req.headers['content-type'], await readBody(req));
    const token = bearerToken(req, args);
    delete args.token;
    const result = callWebApi(context, method, args, token);
    logger.debug({ method }, 'web api call');
    sendJson(res, 200, result);
  } catch (error) {
    if (error instanceof SlackApiError) {
      logger.warn({ method, error: error.code, details: error.details }, 'web api call refused');
      const body: Record<string, unknown> = { ok: false, error: error.code };
      if (error.details.length > 0) body.response_metadata = { messages: error.details };
      sendJson(res, 200, body);
      return;
    }
    if (error instanceof HttpError) {
      sendJson(res, error.status, { ok: false, error: 'request_too_large' });
      return;
    }
    logger.error({ err: error, method }, 'web api call crashed');
    sendJson(res, 500, { ok: false, error: 'internal_error' });
  }
}

const responseUrlBody = z.object({
  text: z.string().optional(),
  blocks: z.unknown().optional(),
  response_type: z.enum(['ephemeral', 'in_channel']).optional(),
  replace_original: booleanArg.optional(),
  delete_original: booleanArg.optional(),
  thread_ts: z.string().optional(),
});

/**
 * A `response_url` POST: replaces or deletes the message an interaction came from, or posts a
 * new message (ephemeral to the person unless `response_type: in_channel`), as Slack does.
 */
export function applyResponseUrl(state: LocalSlackState, token: string, body: Record<string, unknown>): void {
  const target = state.useResponseTarget(token);
  const parsed = responseUrlBody.safeParse(body);
  if (!parsed.success)
    throw new SlackApiError(
      'invalid_payload',
      parsed.error.issues.map((i) => i.message),
    );
  const payload = parsed.data;
  const { bot } = state.directory;
  if (payload.delete_original) {
    if (!target.messageTs) throw new SlackApiError('message_not_found');
    state.delete(target.channel, target.messageTs);
    return;
  }
  const content = messageContent(payload);
  if (payload.replace_original) {
    if (!target.messageTs) throw new SlackApiError('message_not_found');
    const original = state.getMessage(target.channel, target.messageTs);
    if (!original) throw new SlackApiError('message_not_found');
    state.update(
      target.channel,
      target.messageTs,
      { text: content.text, blocks: content.blocks ?? [] },
      original.user,
    );
    return;
  }
  state.post({
    channel: target.channel,
    user: bot.userId,
    botId: bot.botId,
    text: content.text,
    blocks: content.blocks,
    threadTs: payload.thread_ts ?? target.threadTs,
    ephemeralTo: payload.response_type === 'in_channel' ? null : target.userId,
  });
}

export async function serveResponseUrl(
  state: LocalSlackState,
  token: string,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  try {
    const raw = await readBody(req);
    const body = parseApiArguments(req.headers['content-type'] ?? 'application/json', raw);
    applyResponseUrl(state, token, body);
    sendJson(res, 200, { ok: true });
  } catch (error) {
    if (error instanceof SlackApiError) {
      logger.warn({ error: error.code, details: error.details }, 'response_url post refused');
      const status = error.code === 'invalid_url' || error.code === 'expired_url' ? 404 : 200;
      sendJson(res, status, {
        ok: false,
        error: error.code,
        ...(error.details.length ? { response_metadata: { messages: error.details } } : {}),
      });
      return;
    }
    logger.error({ err: error }, 'response_url post crashed');
    sendJson(res, 500, { ok: false, error: 'internal_error' });
  }
}
