/**
 * A local stand-in for Slack's Web API, on loopback: the Bolt app (pointed at it with
 * `clientOptions.slackApiUrl`) talks to it over real HTTP exactly as it would to slack.com.
 *
 * It keeps the channel history the bot produced (messages, edits, thread replies, ephemerals,
 * `response_url` answers), records every call with its arrival time, validates messages (e.g. with
 * `checkMessageLimits`), and injects faults (429 with Retry-After, 5xx, Slack error codes) so the
 * retry and throttling paths can be exercised. Reusable beyond tests: the local workspace builds
 * on the same idea.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  /** Web API method (`chat.postMessage`) or `response_url`. */
  method: string;
  args: Record<string, unknown>;
  /** The bearer token sent, if any. */
  token: string | null;
  /** Arrival time (Date.now()). */
  at: number;
  /** HTTP status answered. */
  status: number;
  /** Slack `ok` answered (false for errors and injected faults). */
  ok: boolean;
  /** Slack error code answered, if any. */
  error?: string;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks: unknown[];
  replyBroadcast: boolean;
  /** Every version: [0] is what was posted, the last is what Slack shows now. */
  history: Array<{ text: string; blocks: unknown[]; at: number }>;
}

export interface FakeEphemeral {
  channel: string | null;
  user: string | null;
  threadTs?: string;
  text: string;
  blocks: unknown[];
  via: 'chat.postEphemeral' | 'response_url';
  /** response_url answers: replace_original / delete_original. */
  replaceOriginal?: boolean;
  responseType?: string;
  at: number;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

export interface FaultSpec {
  /** Method name, `response_url`, or `*` for every Web API method. */
  method: string;
  /** HTTP status to answer (429, 500, 503, ...). 200 with `slackError` gives `{ ok: false, error }`. */
  status: number;
  retryAfterSeconds?: number;
  slackError?: string;
  /** How many calls to fail (default: unlimited while active). */
  times?: number;
  /** Stop failing after this many milliseconds (default: no deadline). */
  forMs?: number;
  /** Only calls whose args match (e.g. a channel). */
  match?: (args: Record<string, unknown>) => boolean;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
  until: number;
  hits: number;
}

export interface UserGroup {
  id: string;
  handle: string;
  users: string[];
}

export interface FakeSlackApiOptions {
  /** Bot token the app must send; other tokens get `invalid_auth`. Undefined accepts any. */
  botToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  userGroups?: UserGroup[];
  /** Channels the bot is not a member of: posting there fails with `not_in_channel`. */
  channelsWithoutBot?: string[];
  /** Called with every posted/updated message; returned strings are recorded as violations. */
  validateMessage?: (message: { text: string; blocks: unknown[] }) => string[];
  /** Simulated processing time per Web API call (ms). */
  latencyMs?: number;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

function parseFormValue(key: string, value: string): unknown {
  if (JSON_FIELDS.has(key)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseArgs(contentType: string | undefined, raw: string): Record<string, unknown> {
  if (raw.length === 0) return {};
  if (contentType?.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  }
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) args[key] = parseFormValue(key, value);
  return args;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function asBlocks(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export class FakeSlackApi {
  readonly calls: RecordedCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly ephemerals: FakeEphemeral[] = [];
  readonly responseUrlPosts: ResponseUrlPost[] = [];
  readonly violations: Array<{ method: string; problems: string[] }> = [];
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  url = '';

  private readonly server: Server;
  private readonly faults: ActiveFault[] = [];
  private readonly userGroups = new Map<string, UserGroup>();
  private readonly channelsWithoutBot: Set<string>;
  private readonly waiters = new Set<() => void>();
  private tsCounter = 0;
  private readonly responseUrlOwners = new Map<string, { user?: string; channel?: string }>();

  private constructor(private readonly options: FakeSlackApiOptions) {
    this.teamId = options.teamId ?? 'T0FAKE';
    this.botUserId = options.botUserId ?? 'U0BOT';
    this.botId = options.botId ?? 'B0BOT';
    for (const group of options.userGroups ?? []) this.userGroups.set(group.id, group);
    this.channelsWithoutBot = new Set(options.channelsWithoutBot ?? []);
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(String(error));
      });
    });
  }

  static async start(options: FakeSlackApiOptions = {}): Promise<FakeSlackApi> {
    const api = new FakeSlackApi(options);
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    const { port } = api.server.address() as AddressInfo;
    api.url = `http://127.0.0.1:${port}`;
    return api;
  }

  /** What to pass as `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A fresh `response_url` for a command or interaction payload, answering to `owner`. */
  newResponseUrl(owner: { user?: string; channel?: string } = {}): string {
    const id = randomUUID();
    this.responseUrlOwners.set(id, owner);
    return `${this.url}/response/${id}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /* ------------------------------------------------------------------ faults and groups */

  injectFault(spec: FaultSpec): void {
    this.faults.push({
      ...spec,
      remaining: spec.times ?? Number.POSITIVE_INFINITY,
      until: spec.forMs !== undefined ? Date.now() + spec.forMs : Number.POSITIVE_INFINITY,
      hits: 0,
    });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  setUserGroup(group: UserGroup): void {
    this.userGroups.set(group.id, group);
  }

  /* ------------------------------------------------------------------ reading what happened */

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Top-level channel messages (not thread replies, unless broadcast). */
  channelMessages(channel: string): FakeMessage[] {
    return this.messages.filter(
      (m) => m.channel === channel && (m.threadTs === undefined || m.replyBroadcast),
    );
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  threadReplies(channel: string, threadTs: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.threadTs === threadTs);
  }

  ephemeralsFor(user: string): FakeEphemeral[] {
    return this.ephemerals.filter((e) => e.user === user);
  }

  /**
   * Largest number of successful calls of `method` in any window of `windowMs`, optionally
   * filtered: "at most one status edit per 2 s" is `maxCallsInWindow('chat.update', 2000) <= 1`
   * with a filter on the message ts.
   */
  maxCallsInWindow(
    method: string,
    windowMs: number,
    filter: (call: RecordedCall) => boolean = () => true,
  ): number {
    const times = this.calls
      .filter((call) => call.method === method && call.ok && filter(call))
      .map((call) => call.at)
      .sort((a, b) => a - b);
    let best = 0;
    let start = 0;
    for (let end = 0; end < times.length; end += 1) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start += 1;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  /** Smallest gap between consecutive successful calls matching the filter (Infinity if < 2). */
  minGapMs(method: string, filter: (call: RecordedCall) => boolean = () => true): number {
    const times = this.calls
      .filter((call) => call.method === method && call.ok && filter(call))
      .map((call) => call.at)
      .sort((a, b) => a - b);
    let gap = Number.POSITIVE_INFINITY;
    for (let i = 1; i < times.length; i += 1) gap = Math.min(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
    return gap;
  }

  /** Resolves when `predicate` holds (checked after every call), or rejects after `timeoutMs`. */
  async waitFor<T>(
    predicate: () => T | undefined | null | false,
    { timeoutMs = 10_000, what = 'condition' }: { timeoutMs?: number; what?: string } = {},
  ): Promise<T> {
    const immediate = predicate();
    if (immediate) return immediate;
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = predicate();
        if (value) {
          cleanup();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`FakeSlackApi: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      // Also poll: some conditions depend on state outside this fake (e.g. the engine).
      const poll = setInterval(check, 50);
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /* ------------------------------------------------------------------ HTTP handling */

  private nextTs(): string {
    this.tsCounter += 1;
    const seconds = 1_700_000_000 + Math.floor(this.tsCounter / 1000);
    return `${seconds}.${String(this.tsCounter % 1_000_000).padStart(6, '0')}`;
  }

  private activeFault(method: string, args: Record<string, unknown>): ActiveFault | undefined {
    const now = Date.now();
    for (const fault of this.faults) {
      if (fault.remaining <= 0 || now > fault.until) continue;
      if (fault.method !== method && !(fault.method === '*' && method !== 'response_url')) continue;
      if (fault.match && !fault.match(args)) continue;
      fault.remaining -= 1;
      fault.hits += 1;
      return fault;
    }
    return undefined;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const raw = await readBody(request);
    const args = parseArgs(request.headers['content-type'], raw);
    const at = Date.now();
    if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));

    const send = (
      method: string,
      status: number,
      body: Record<string, unknown>,
      headers: Record<string, string> = {},
    ) => {
      const ok = status === 200 && body.ok === true;
      const call: RecordedCall = { method, args, token: this.tokenOf(request, args), at, status, ok };
      if (typeof body.error === 'string') call.error = body.error;
      this.calls.push(call);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(JSON.stringify(body));
      this.notify();
    };

    if (request.method === 'POST' && url.pathname.startsWith('/response/')) {
      const id = url.pathname.slice('/response/'.length);
      const fault = this.activeFault('response_url', args);
      if (fault) return this.sendFault('response_url', fault, send);
      this.responseUrlPosts.push({ id, body: args, at });
      if (args.delete_original !== true) {
        const owner = this.responseUrlOwners.get(id) ?? {};
        const ephemeral: FakeEphemeral = {
          channel: owner.channel ?? null,
          user: owner.user ?? null,
          text: asString(args.text) ?? '',
          blocks: asBlocks(args.blocks),
          via: 'response_url',
          at,
        };
        if (typeof args.replace_original === 'boolean') ephemeral.replaceOriginal = args.replace_original;
        if (typeof args.response_type === 'string') ephemeral.responseType = args.response_type;
        this.ephemerals.push(ephemeral);
        this.validate('response_url', ephemeral);
      }
      return send('response_url', 200, { ok: true });
    }

    const match = /^\/api\/([A-Za-z0-9._]+)$/.exec(url.pathname);
    if (request.method !== 'POST' || match === null) {
      return send(url.pathname, 404, { ok: false, error: 'unknown_method' });
    }
    const method = match[1] ?? '';
    const fault = this.activeFault(method, args);
    if (fault) return this.sendFault(method, fault, send);

    const token = this.tokenOf(request, args);
    if (token === null) return send(method, 200, { ok: false, error: 'not_authed' });
    if (this.options.botToken !== undefined && token !== this.options.botToken) {
      return send(method, 200, { ok: false, error: 'invalid_auth' });
    }
    const result = this.dispatch(method, args, at);
    send(method, 200, result);
  }

  private sendFault(
    method: string,
    fault: ActiveFault,
    send: (
      method: string,
      status: number,
      body: Record<string, unknown>,
      headers?: Record<string, string>,
    ) => void,
  ): void {
    if (fault.status === 200) {
      send(method, 200, { ok: false, error: fault.slackError ?? 'fatal_error' });
      return;
    }
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    send(
      method,
      fault.status,
      { ok: false, error: fault.status === 429 ? 'ratelimited' : 'internal_error' },
      headers,
    );
  }

  private tokenOf(request: IncomingMessage, args: Record<string, unknown>): string | null {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
    return asString(args.token) ?? null;
  }

  private validate(method: string, message: { text: string; blocks: unknown[] }): void {
    if (!this.options.validateMessage) return;
    const problems = this.options.validateMessage(message);
    if (problems.length > 0) this.violations.push({ method, problems });
  }

  private dispatch(method: string, args: Record<string, unknown>, at: number): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: `${this.url}/`,
          team: 'Fake Workspace',
          team_id: this.teamId,
          user: 'evacuation-bot',
          user_id: this.botUserId,
          bot_id: this.botId,
        };
      case 'chat.postMessage':
        return this.postMessage(args, at);
      case 'chat.update':
        return this.update(args, at);
      case 'chat.postEphemeral':
        return this.postEphemeral(args, at);
      case 'chat.getPermalink': {
        const channel = asString(args.channel);
        const ts = asString(args.message_ts);
        if (channel === undefined || ts === undefined) return { ok: false, error: 'invalid_arguments' };
        if (!this.message(channel, ts)) return { ok: false, error: 'message_not_found' };
        return { ok: true, channel, permalink: `${this.url}/archives/${channel}/p${ts.replace('.', '')}` };
      }
      case 'usergroups.users.list': {
        const group = this.userGroups.get(asString(args.usergroup) ?? '');
        if (!group) return { ok: false, error: 'no_such_subteam' };
        return { ok: true, users: [...group.users] };
      }
      case 'usergroups.list':
        return {
          ok: true,
          usergroups: [...this.userGroups.values()].map((group) => ({
            id: group.id,
            handle: group.handle,
            name: group.handle,
          })),
        };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private postMessage(args: Record<string, unknown>, at: number): Record<string, unknown> {
    const channel = asString(args.channel);
    if (channel === undefined) return { ok: false, error: 'channel_not_found' };
    if (this.channelsWithoutBot.has(channel)) return { ok: false, error: 'not_in_channel' };
    const text = asString(args.text) ?? '';
    const blocks = asBlocks(args.blocks);
    if (text.length === 0 && blocks.length === 0) return { ok: false, error: 'no_text' };
    const threadTs = asString(args.thread_ts);
    if (threadTs !== undefined && !this.message(channel, threadTs))
      return { ok: false, error: 'thread_not_found' };
    const ts = this.nextTs();
    const message: FakeMessage = {
      channel,
      ts,
      text,
      blocks,
      replyBroadcast: args.reply_broadcast === true,
      history: [{ text, blocks, at }],
    };
    if (threadTs !== undefined) message.threadTs = threadTs;
    this.messages.push(message);
    this.validate('chat.postMessage', message);
    return {
      ok: true,
      channel,
      ts,
      message: { type: 'message', text, ts, bot_id: this.botId, user: this.botUserId },
    };
  }

  private update(args: Record<string, unknown>, at: number): Record<string, unknown> {
    const channel = asString(args.channel);
    const ts = asString(args.ts);
    if (channel === undefined || ts === undefined) return { ok: false, error: 'invalid_arguments' };
    const message = this.message(channel, ts);
    if (!message) return { ok: false, error: 'message_not_found' };
    const text = asString(args.text) ?? message.text;
    const blocks = args.blocks === undefined ? message.blocks : asBlocks(args.blocks);
    message.text = text;
    message.blocks = blocks;
    message.history.push({ text, blocks, at });
    this.validate('chat.update', message);
    return { ok: true, channel, ts, text };
  }

  private postEphemeral(args: Record<string, unknown>, at: number): Record<string, unknown> {
    const channel = asString(args.channel);
    const user = asString(args.user);
    if (channel === undefined) return { ok: false, error: 'channel_not_found' };
    if (user === undefined) return { ok: false, error: 'user_not_found' };
    if (this.channelsWithoutBot.has(channel)) return { ok: false, error: 'not_in_channel' };
    const ephemeral: FakeEphemeral = {
      channel,
      user,
      text: asString(args.text) ?? '',
      blocks: asBlocks(args.blocks),
      via: 'chat.postEphemeral',
      at,
    };
    const threadTs = asString(args.thread_ts);
    if (threadTs !== undefined) ephemeral.threadTs = threadTs;
    this.ephemerals.push(ephemeral);
    this.validate('chat.postEphemeral', ephemeral);
    return { ok: true, message_ts: this.nextTs() };
  }
}
