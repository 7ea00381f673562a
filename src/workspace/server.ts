/**
 * The local workspace server: one loopback HTTP server that is at once the Slack "client" (the
 * page, its event stream, its commands and clicks), the Slack Web API the bot's WebClient calls,
 * the response_url endpoint, and a proxy to the simulated cloud's `/_sim` control API for drills.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { loadPageAssets, type PageAssets } from './assets.js';
import {
  defaultDirectory,
  type StoredMessage,
  type WorkspaceChange,
  type WorkspaceDirectory,
} from './model.js';
import type { SlashCommandInfo, WorkspaceInfo } from './page/api.js';
import { LocalReceiver } from './receiver.js';
import { LocalSlackState, SlackApiError } from './slack-state.js';
import { HttpError, readBody, serveResponseUrl, serveWebApi } from './web-api.js';

export interface WorkspaceCloud {
  kind: 'simulated' | 'real';
  /** One line for people: which cloud the bot is driving. */
  description: string;
  /** The simulated cloud's base URL (its `/_sim` API); drills are off without it. */
  controlUrl?: string;
  /**
   * Sets or clears a compute service's forced_down through Nova (the bot's compute client), as
   * an operator does after fencing a host. The drill panel's Force down button calls it.
   */
  setForcedDown?: (host: string, forcedDown: boolean) => Promise<void>;
}

export interface LocalWorkspaceOptions {
  logger: Logger;
  cloud: WorkspaceCloud;
  /** 0 picks a free port (tests). */
  port?: number;
  /** Loopback by default: the workspace has no authentication, so it must not listen on a network. */
  host?: string;
  directory?: WorkspaceDirectory;
  /** The slash commands the bot registers, for the composer's hints and "not a valid command". */
  commands?: SlashCommandInfo[];
  ackTimeoutMs?: number;
}

export interface LocalWorkspace {
  /** The page, e.g. http://127.0.0.1:3000 */
  url: string;
  /** For the bot's WebClient: `clientOptions.slackApiUrl`. */
  slackApiUrl: string;
  /** The bot token the local Web API accepts. */
  botToken: string;
  directory: WorkspaceDirectory;
  state: LocalSlackState;
  /** Pass as `receiver` to the Bolt App. */
  receiver: LocalReceiver;
  close(): Promise<void>;
}

const SLACKBOT_USER_ID = 'USLACKBOT';
const SSE_HEARTBEAT_MS = 20_000;
const SIM_PROXY_TIMEOUT_MS = 15_000;

const DEFAULT_COMMANDS: SlashCommandInfo[] = [
  {
    command: '/evacuate',
    description: 'Drain or evacuate a compute host',
    usageHint: 'HOST [--live|--cold|--rebuild] [--to HOST] [--parallel N] [--reason "…"] | status | help',
  },
];

const userIdSchema = z.string().min(1).max(64);
const commandRequestSchema = z.object({
  userId: userIdSchema,
  channelId: z.string().min(1).max(64),
  text: z
    .string()
    .min(1, 'Type a message or a /command')
    .max(4000, 'Messages are limited to 4,000 characters here'),
  threadTs: z
    .string()
    .regex(/^\d+\.\d+$/, 'threadTs must be a Slack ts')
    .optional(),
});
const forcedDownSchema = z.object({ forcedDown: z.boolean() }).strict();
const actionRequestSchema = z.object({
  userId: userIdSchema,
  channelId: z.string().min(1).max(64),
  messageTs: z.string().regex(/^\d+\.\d+$/, 'messageTs must be a Slack ts'),
  blockId: z.string().max(255),
  actionId: z.string().min(1).max(255),
  selectedValue: z.string().max(2000).optional(),
  selections: z.record(z.string(), z.record(z.string(), z.string())).optional(),
});

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, 256 * 1024);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new HttpError(400, 'The request body is not JSON');
  }
}

function parseRequest<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new HttpError(
      400,
      result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '),
    );
  }
  return result.data;
}

/** Only what a person may see: other people's ephemeral messages never leave the server. */
function visibleTo(change: WorkspaceChange, userId: string): boolean {
  if (change.type === 'message')
    return change.message.ephemeralTo === null || change.message.ephemeralTo === userId;
  if (change.type === 'deleted') return change.ephemeralTo === null || change.ephemeralTo === userId;
  return change.userId === null || change.userId === userId;
}

export async function startLocalWorkspace(options: LocalWorkspaceOptions): Promise<LocalWorkspace> {
  const logger = options.logger.child({ module: 'workspace' });
  const directory = options.directory ?? defaultDirectory();
  const commands = options.commands ?? DEFAULT_COMMANDS;
  const state = new LocalSlackState(directory);
  let publicUrl = '';
  const receiver = new LocalReceiver({
    state,
    publicUrl: () => publicUrl,
    logger,
    ...(options.ackTimeoutMs !== undefined ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
  });
  const assets: PageAssets = await loadPageAssets();
  const streams = new Set<ServerResponse>();

  const info = (): WorkspaceInfo => ({
    teamName: directory.teamName,
    users: directory.users,
    channels: directory.channels,
    bot: { userId: directory.bot.userId, name: directory.bot.name },
    commands,
    mode: { cloud: options.cloud.kind, cloudDescription: options.cloud.description },
    drills: options.cloud.controlUrl !== undefined,
    botReady: receiver.isStarted,
  });

  const serveEvents = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const userId = url.searchParams.get('user') ?? '';
    if (!state.findUser(userId)) {
      sendJson(res, 400, { error: `Unknown user "${userId}"` });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('snapshot', { messages: state.visibleMessages(userId) });
    const unsubscribe = state.subscribe((change) => {
      if (!visibleTo(change, userId)) return;
      if (change.type === 'message') send('message', change.message satisfies StoredMessage);
      else if (change.type === 'deleted') send('deleted', { channel: change.channel, ts: change.ts });
      else send('notice', { level: change.level, text: change.text });
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    heartbeat.unref();
    streams.add(res);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  };

  const serveCommand = async (req: IncomingMessage, res: ServerResponse) => {
    const request = parseRequest(commandRequestSchema, await readJson(req));
    if (!state.findUser(request.userId)) throw new HttpError(400, `Unknown user "${request.userId}"`);
    const text = request.text.trim();
    if (!text.startsWith('/')) {
      state.post({
        channel: request.channelId,
        user: request.userId,
        text,
        threadTs: request.threadTs ?? null,
      });
      sendJson(res, 200, { acknowledged: true, ackMs: 0, error: null });
      return;
    }
    const [commandWord = '', ...rest] = text.split(/\s+/);
    const command = commandWord.toLowerCase();
    const known = commands.some((candidate) => candidate.command === command);
    if (!known) {
      state.post({
        channel: request.channelId,
        user: SLACKBOT_USER_ID,
        botId: 'BSLACKBOT',
        text: `\`${commandWord}\` is not a valid command. In Slack, all messages that start with the "/" character are interpreted as commands.`,
        ephemeralTo: request.userId,
      });
      sendJson(res, 200, { acknowledged: true, ackMs: 0, error: null });
      return;
    }
    if (!receiver.isStarted) throw new HttpError(503, 'The bot is still starting; try again in a moment.');
    const argumentText = text.slice(commandWord.length).trim();
    const result = await receiver.slashCommand({
      userId: request.userId,
      channelId: request.channelId,
      command,
      text: rest.length > 0 ? argumentText : '',
    });
    sendJson(res, 200, result);
  };

  const serveAction = async (req: IncomingMessage, res: ServerResponse) => {
    const request = parseRequest(actionRequestSchema, await readJson(req));
    if (!receiver.isStarted) throw new HttpError(503, 'The bot is still starting; try again in a moment.');
    const result = await receiver.blockAction({
      userId: request.userId,
      channelId: request.channelId,
      messageTs: request.messageTs,
      blockId: request.blockId,
      actionId: request.actionId,
      ...(request.selectedValue !== undefined ? { selectedValue: request.selectedValue } : {}),
      ...(request.selections !== undefined ? { selections: request.selections } : {}),
    });
    sendJson(res, 200, result);
  };

  const proxySim = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const controlUrl = options.cloud.controlUrl;
    if (!controlUrl) {
      sendJson(res, 404, {
        error: 'Drills need the simulated cloud; the bot is connected to a real OpenStack cloud.',
      });
      return;
    }
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, 256 * 1024);
    let upstream: Response;
    try {
      upstream = await fetch(new URL(url.pathname + url.search, controlUrl), {
        method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(SIM_PROXY_TIMEOUT_MS),
      });
    } catch (error) {
      logger.warn({ err: error, path: url.pathname }, 'simulated cloud control API unreachable');
      sendJson(res, 502, {
        error: `The simulated cloud did not answer: ${error instanceof Error ? error.message : String(error)}`,
      });
      return;
    }
    const text = await upstream.text();
    sendText(res, upstream.status, upstream.headers.get('content-type') ?? 'application/json', text);
  };

  const serveForcedDown = async (req: IncomingMessage, res: ServerResponse, host: string) => {
    const setForcedDown = options.cloud.setForcedDown;
    if (!setForcedDown || options.cloud.controlUrl === undefined) {
      throw new HttpError(
        404,
        'Drills need the simulated cloud; the bot is connected to a real OpenStack cloud.',
      );
    }
    const { forcedDown } = parseRequest(forcedDownSchema, await readJson(req));
    try {
      await setForcedDown(host, forcedDown);
    } catch (error) {
      // Nova's own refusal (e.g. unknown host, done evacuations) is what the person needs to read.
      throw new HttpError(409, error instanceof Error ? error.message : String(error));
    }
    sendJson(res, 200, { ok: true, host, forcedDown });
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const { pathname } = url;
    if (pathname.startsWith('/api/')) {
      if (method !== 'POST' && method !== 'GET')
        return sendJson(res, 405, { ok: false, error: 'method_not_allowed' });
      return serveWebApi(
        { state, publicUrl: () => publicUrl },
        pathname.slice('/api/'.length),
        req,
        res,
        logger,
      );
    }
    if (pathname.startsWith('/response/') && method === 'POST') {
      return serveResponseUrl(state, pathname.slice('/response/'.length), req, res, logger);
    }
    if (pathname === '/_sim' || pathname.startsWith('/_sim/')) return proxySim(req, res, url);
    const forcedDown = /^\/workspace\/drills\/hosts\/([^/]+)\/forced-down$/.exec(pathname);
    if (forcedDown && method === 'POST')
      return serveForcedDown(req, res, decodeURIComponent(forcedDown[1] ?? ''));
    if (
      method === 'GET' &&
      (pathname === '/' || pathname === '/index.html' || pathname.startsWith('/archives/'))
    ) {
      return sendText(res, 200, 'text/html; charset=utf-8', assets.html);
    }
    if (method === 'GET' && pathname === '/assets/app.js')
      return sendText(res, 200, 'text/javascript; charset=utf-8', assets.js);
    if (method === 'GET' && pathname === '/assets/style.css')
      return sendText(res, 200, 'text/css; charset=utf-8', assets.css);
    if (method === 'GET' && pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (method === 'GET' && pathname === '/healthz')
      return sendJson(res, 200, { ok: true, botReady: receiver.isStarted });
    if (method === 'GET' && pathname === '/workspace/info') return sendJson(res, 200, info());
    if (method === 'GET' && pathname === '/workspace/events') return serveEvents(req, res, url);
    if (method === 'POST' && pathname === '/workspace/command') return serveCommand(req, res);
    if (method === 'POST' && pathname === '/workspace/action') return serveAction(req, res);
    return sendJson(res, 404, { error: `Nothing at ${method} ${pathname}` });
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message });
      if (error instanceof SlackApiError) return sendJson(res, 400, { error: error.message });
      logger.error({ err: error, url: req.url }, 'workspace request failed');
      sendJson(res, 500, { error: 'The workspace server failed; see its log.' });
    });
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${options.port ?? 3000} on ${host} is in use: set WORKSPACE_PORT to a free port`)
          : error,
      );
    };
    server.once('error', onError);
    server.listen(options.port ?? 3000, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  publicUrl = `http://${urlHost}:${address.port}`;
  logger.info({ url: publicUrl }, 'local workspace listening');

  let closed: Promise<void> | null = null;
  return {
    url: publicUrl,
    slackApiUrl: `${publicUrl}/api/`,
    botToken: directory.bot.token,
    directory,
    state,
    receiver,
    close() {
      closed ??= (async () => {
        for (const stream of streams) stream.end();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}
