/**
 * The Slack app: a Bolt `App` with the `/evacuate` command, every button and menu, the
 * authorisation policy and the run reporter, wired to the evacuation engine.
 *
 * Socket Mode by default, HTTP (Events API request URL) on request, or any receiver passed in:
 * tests and the local workspace hand it a `DirectReceiver` (or their own) and point the Web API at
 * a local look-alike with `SLACK_API_URL`, and go through exactly the listeners production uses.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, type Receiver, type webApi } from '@slack/bolt';
import { register as registerCommands } from '../commands/index.js';
import type { AppConfig } from '../config.js';
import type { EvacuationEngineApi } from '../engine/api.js';
import type { EvacuationRun } from '../engine/types.js';
import type { Logger } from '../log.js';
import { Authorizer, UserGroupDirectory, type Clock } from './authz.js';
import { toSlackLogger } from './bolt-logger.js';
import { ChannelPoster } from './channel-poster.js';
import type { SlackDeps } from './context.js';
import { KeyedLock } from './keyed-lock.js';
import { renderRunMessage } from './render.js';
import { RunReporter, type RunReporterOptions } from './run-reporter.js';
import { slackErrorCode } from './slack-errors.js';

export interface SlackAppDeps {
  engine: EvacuationEngineApi;
  logger: Logger;
  /**
   * The engine is driving a simulated cloud: only then does a missing policy mean "everyone may
   * do everything" (said loudly at start-up). Against a real cloud it means preview-only.
   */
  cloudIsSimulated?: boolean;
  /** Replaces Socket Mode / HTTP (e.g. `DirectReceiver`). */
  receiver?: Receiver;
  /** Merged over the defaults (e.g. a faster `retryConfig` in tests). */
  clientOptions?: Omit<webApi.WebClientOptions, 'slackApiUrl' | 'logger'>;
  /** Verify the bot token with auth.test before handling the first event (Bolt's default: true). */
  tokenVerification?: boolean;
  reporter?: Pick<RunReporterOptions, 'statusEditIntervalMs' | 'slowMoveAfterMs' | 'progressIntervalMs'>;
  /** Minimum spacing of new posts per channel (ms). Default 1000. */
  threadPostIntervalMs?: number;
  /** Highest parallelism offered in the preview (the engine's global cap). */
  maxParallel?: number;
  groupCacheClock?: Clock;
}

export interface EvacuationSlackApp {
  /** The Bolt app, with every listener registered. */
  app: App;
  authorizer: Authorizer;
  reporter: RunReporter;
  poster: ChannelPoster;
  deps: SlackDeps;
  /** Starts reporting run events, then the receiver (socket connection / HTTP server). */
  start(): Promise<void>;
  /** In HTTP mode once started: where the events endpoint listens (PORT=0 picks a free port). */
  httpAddress(): AddressInfo | null;
  /** In HTTP mode once started: the server behind the events endpoint (for metrics). */
  httpServer(): Server | null;
  /** Stops the receiver and the reporter; queued Slack posts are dropped, the engine is left alone. */
  stop(): Promise<void>;
}

/** Slack refused to let the app start (bad token, unreachable API). */
export class SlackStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlackStartError';
  }
}

/** Default retries of the Web API client: 429s honour Retry-After; 5xx and network errors back off. */
const DEFAULT_RETRY_CONFIG = { retries: 10, factor: 2, minTimeout: 500, maxTimeout: 30_000, randomize: true };

export function createSlackApp(config: AppConfig, deps: SlackAppDeps): EvacuationSlackApp {
  const logger = deps.logger.child({ module: 'slack' });
  const { slack } = config;
  const clientOptions: webApi.WebClientOptions = {
    retryConfig: DEFAULT_RETRY_CONFIG,
    ...deps.clientOptions,
    ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}),
  };
  const common = {
    token: slack.botToken,
    // Verify the token in start() (auth.test), where a bad token is a clear start-up error rather
    // than a rejected promise Bolt would cache and trip over on the first event.
    deferInitialization: true,
    logger: toSlackLogger(logger.child({ component: 'bolt' })),
    clientOptions,
    tokenVerificationEnabled: deps.tokenVerification ?? true,
  };
  let app: App;
  if (deps.receiver) {
    app = new App({ ...common, receiver: deps.receiver });
  } else if (slack.mode === 'socket') {
    app = new App({ ...common, socketMode: true, appToken: slack.appToken });
  } else {
    app = new App({
      ...common,
      signingSecret: slack.signingSecret,
      port: slack.port,
      endpoints: slack.eventsPath,
    });
  }

  const directory = new UserGroupDirectory({
    client: app.client,
    ttlMs: (config.policy.policy?.groupCacheTtlSeconds ?? 300) * 1000,
    logger: logger.child({ component: 'usergroups' }),
    ...(deps.groupCacheClock ? { clock: deps.groupCacheClock } : {}),
  });
  const authorizer = new Authorizer({
    policy: config.policy.policy,
    cloudIsSimulated: deps.cloudIsSimulated ?? false,
    directory,
    logger: logger.child({ component: 'authz' }),
  });
  const poster = new ChannelPoster({
    client: app.client,
    minIntervalMs: deps.threadPostIntervalMs ?? 1000,
    logger: logger.child({ component: 'channel-poster' }),
  });
  const renderContext = {
    authorizer,
    ...(deps.maxParallel !== undefined ? { maxParallel: deps.maxParallel } : {}),
  };
  const render = (run: EvacuationRun) => renderRunMessage(run, renderContext);
  const reporter = new RunReporter({
    engine: deps.engine,
    client: app.client,
    poster,
    render,
    logger: logger.child({ component: 'reporter' }),
    ...deps.reporter,
  });
  const slackDeps: SlackDeps = {
    engine: deps.engine,
    logger,
    authorizer,
    reporter,
    poster,
    locks: new KeyedLock(),
    render,
    ...(deps.maxParallel !== undefined ? { maxParallel: deps.maxParallel } : {}),
  };
  registerCommands(app, slackDeps);
  app.error(async (error) => {
    logger.error({ err: error }, 'unhandled error in a Slack listener');
  });

  let started = false;
  let httpServer: Server | undefined;
  return {
    app,
    authorizer,
    reporter,
    poster,
    deps: slackDeps,
    async start() {
      if (started) return;
      started = true;
      try {
        await app.init();
      } catch (error) {
        started = false;
        const code = slackErrorCode(error);
        throw new SlackStartError(
          code === 'invalid_auth' ||
            code === 'not_authed' ||
            code === 'account_inactive' ||
            code === 'token_revoked'
            ? `Slack rejected SLACK_BOT_TOKEN (${code}): use the Bot User OAuth Token (xoxb-…) of an installed app.`
            : `Could not verify SLACK_BOT_TOKEN with auth.test${code ? ` (${code})` : ''}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      authorizer.announce();
      reporter.start();
      const result: unknown = await app.start();
      if (
        slack.mode === 'http' &&
        !deps.receiver &&
        result !== null &&
        typeof result === 'object' &&
        'address' in result
      ) {
        httpServer = result as Server;
      }
      logger.info({ mode: deps.receiver ? 'custom receiver' : slack.mode }, 'Slack app started');
    },
    httpServer() {
      return httpServer ?? null;
    },
    httpAddress() {
      const address = httpServer?.address();
      return address !== null && typeof address === 'object' ? address : null;
    },
    async stop() {
      if (!started) return;
      started = false;
      httpServer = undefined;
      reporter.stop();
      poster.stop();
      await app.stop();
    },
  };
}
