/**
 * The whole bot on loopback: the simulated cloud, the real compute client, the real engine on a
 * temporary SQLite file, the real Bolt app (through `DirectReceiver`, exactly the listeners
 * production registers), and the fake Slack Web API capturing what the bot says.
 *
 * `command()` types a slash command as a user; `click()` clicks an element of a message the bot
 * posted, building the `block_actions` payload Slack would send from that message's blocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { AppConfig } from '../../src/config.js';
import { createEngine, type EngineOptions, type EvacuationEngine } from '../../src/engine/engine.js';
import type { EvacuationRun } from '../../src/engine/types.js';
import { createComputeClient } from '../../src/nova/compute-client.js';
import { startSimCloud, type Scenario, type SimCloud } from '../../src/sim/index.js';
import { createSlackApp, type EvacuationSlackApp, type SlackAppDeps } from '../../src/slack/app.js';
import { DirectReceiver, type DeliveryResult } from '../../src/slack/direct-receiver.js';
import { slackRef } from '../../src/slack/front-end.js';
import type { Policy } from '../../src/slack/policy.js';
import { policySchema } from '../../src/slack/policy.js';
import { checkMessageLimits } from '../../src/views/index.js';
import {
  FakeSlackApi,
  type FakeMessage,
  type FakeSlackApiOptions,
  type UserGroup,
} from './fake-slack-api.js';

export const BOT_TOKEN = 'xoxb-test-bot-token';
export const TEAM = 'T0FAKE';
export const OPS = 'C0OPS';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
export const EVE = 'U0EVE';
export const ONCALL: UserGroup = { id: 'S0ONCALL', handle: 'oncall', users: [ALICE, BOB] };

/** Alice and Bob are on call (live, cold, control); Alice alone may evacuate; Eve may only look. */
export const TEST_POLICY: Policy = policySchema.parse({
  channels: [OPS],
  permissions: {
    preview: { everyone: true },
    live: { groups: [ONCALL.id] },
    cold: { groups: [ONCALL.id] },
    evacuate: { users: [ALICE] },
    control: { groups: ['@oncall'] },
  },
});

export const testLogger: Logger = pino({ level: process.env.SLACK_TEST_LOG ?? 'silent' });

export interface SlackHarnessOptions {
  scenario?: Scenario;
  timeScale?: number;
  policy?: Policy | null;
  cloudIsSimulated?: boolean;
  fake?: FakeSlackApiOptions;
  engine?: Partial<Omit<EngineOptions, 'compute' | 'store'>>;
  app?: Partial<Omit<SlackAppDeps, 'engine' | 'logger' | 'receiver'>>;
  /** The Slack app's logger (default: silent). */
  logger?: Logger;
}

export interface SlackHarness {
  sim: SimCloud;
  engine: EvacuationEngine;
  fake: FakeSlackApi;
  bot: EvacuationSlackApp;
  receiver: DirectReceiver;
  command(text: string, as?: { user?: string; channel?: string }): Promise<DeliveryResult>;
  click(
    message: FakeMessage,
    actionId: string,
    as?: { user?: string; option?: string; actionTs?: string; via?: DirectReceiver },
  ): Promise<DeliveryResult>;
  /** The bot's top-level message about a run (preview / status). */
  runMessage(run: EvacuationRun): FakeMessage;
  /** Waits for the one active run on `host` to have a Slack message. */
  waitForRun(host: string, timeoutMs?: number): Promise<EvacuationRun>;
  waitForRunState(
    runId: string,
    states: EvacuationRun['state'][],
    timeoutMs?: number,
  ): Promise<EvacuationRun>;
  ephemeralTexts(user: string): string[];
  close(): Promise<void>;
}

/** Fast engine settings against a sim at timeScale ~0.01 (a 5 s move takes ~50 ms). */
const FAST_ENGINE: Partial<EngineOptions> = {
  pollIntervalMs: 25,
  verificationGraceMs: 2_000,
  timeoutsMs: { 'live-migrate': 30_000, 'cold-migrate': 30_000, evacuate: 30_000 },
};

let actionCounter = 0;

/** Every text a message shows (fallback + blocks), for assertions about content. */
export function messageText(message: { text: string; blocks: unknown[] }): string {
  return `${message.text}\n${JSON.stringify(message.blocks)}`;
}

interface FoundElement {
  blockId: string | undefined;
  element: Record<string, unknown>;
}

function findElement(blocks: unknown[], actionId: string): FoundElement | undefined {
  for (const block of blocks) {
    if (block === null || typeof block !== 'object') continue;
    const record = block as Record<string, unknown>;
    const candidates: unknown[] = [];
    if (Array.isArray(record.elements)) candidates.push(...record.elements);
    if (record.accessory) candidates.push(record.accessory);
    for (const candidate of candidates) {
      if (
        candidate &&
        typeof candidate === 'object' &&
        (candidate as Record<string, unknown>).action_id === actionId
      ) {
        return {
          blockId: typeof record.block_id === 'string' ? record.block_id : undefined,
          element: candidate as Record<string, unknown>,
        };
      }
    }
  }
  return undefined;
}

export function hasElement(message: { blocks: unknown[] }, actionId: string): boolean {
  return findElement(message.blocks, actionId) !== undefined;
}

export async function startSlackHarness(options: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const sim = await startSimCloud({
    timeScale: options.timeScale ?? 0.01,
    seed: 11,
    ...(options.scenario ? { scenario: options.scenario } : {}),
  });
  const compute = createComputeClient(sim.credentials, { logger: testLogger, changesBackdateMs: 2_000 });
  const dir = mkdtempSync(join(tmpdir(), 'slack-test-'));
  const engine = createEngine({
    compute,
    store: { path: join(dir, 'runs.db') },
    logger: testLogger,
    ...FAST_ENGINE,
    ...options.engine,
  });
  const fake = await FakeSlackApi.start({
    botToken: BOT_TOKEN,
    teamId: TEAM,
    userGroups: [ONCALL],
    validateMessage: (message) => checkMessageLimits(message).map((v) => `${v.path}: ${v.message}`),
    ...options.fake,
  });
  const receiver = new DirectReceiver({ logger: testLogger });
  const config: AppConfig = {
    slack: { mode: 'socket', botToken: BOT_TOKEN, appToken: 'xapp-unused', apiUrl: fake.apiUrl },
    policy: {
      policy: options.policy === undefined ? TEST_POLICY : options.policy,
      source: 'test',
    },
  };
  const bot = createSlackApp(config, {
    engine,
    logger: options.logger ?? testLogger,
    receiver,
    cloudIsSimulated: options.cloudIsSimulated ?? false,
    clientOptions: { retryConfig: { retries: 4, factor: 2, minTimeout: 50, maxTimeout: 500 } },
    reporter: { statusEditIntervalMs: 300 },
    threadPostIntervalMs: 100,
    ...options.app,
  });
  await bot.start();

  const harness: SlackHarness = {
    sim,
    engine,
    fake,
    bot,
    receiver,
    async command(text, as = {}) {
      const user = as.user ?? ALICE;
      const channel = as.channel ?? OPS;
      return receiver.deliver({
        token: 'verification-token-unused',
        team_id: TEAM,
        team_domain: 'fake',
        channel_id: channel,
        channel_name: 'ops',
        user_id: user,
        user_name: user.toLowerCase(),
        command: '/evacuate',
        text,
        api_app_id: 'A0EVAC',
        is_enterprise_install: 'false',
        response_url: fake.newResponseUrl({ user, channel }),
        trigger_id: `trigger-${++actionCounter}`,
      });
    },
    async click(message, actionId, as = {}) {
      const user = as.user ?? ALICE;
      const found = findElement(message.blocks, actionId);
      if (!found) throw new Error(`message ${message.ts} has no element ${actionId}: ${message.text}`);
      const { element, blockId } = found;
      actionCounter += 1;
      const actionTs =
        as.actionTs ?? `${1_800_000_000 + actionCounter}.${String(actionCounter).padStart(6, '0')}`;
      let action: Record<string, unknown>;
      if (element.type === 'static_select') {
        const options = (element.options ?? []) as Array<{ value: string; text: unknown }>;
        const selected = options.find((option) => option.value === as.option);
        if (!selected) throw new Error(`select ${actionId} has no option ${as.option}`);
        action = {
          type: 'static_select',
          action_id: actionId,
          block_id: blockId ?? 'unknown',
          selected_option: selected,
          action_ts: actionTs,
        };
      } else {
        action = {
          type: 'button',
          action_id: actionId,
          block_id: blockId ?? 'unknown',
          value: element.value,
          text: element.text,
          action_ts: actionTs,
        };
      }
      return (as.via ?? receiver).deliver({
        type: 'block_actions',
        user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: TEAM },
        api_app_id: 'A0EVAC',
        token: 'verification-token-unused',
        container: {
          type: 'message',
          message_ts: message.ts,
          channel_id: message.channel,
          is_ephemeral: false,
          ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
        },
        trigger_id: `trigger-${actionCounter}`,
        team: { id: TEAM, domain: 'fake' },
        channel: { id: message.channel, name: 'ops' },
        message: {
          type: 'message',
          ts: message.ts,
          text: message.text,
          blocks: message.blocks,
          ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
        },
        response_url: fake.newResponseUrl({ user, channel: message.channel }),
        actions: [action],
      });
    },
    runMessage(run) {
      const latest = engine.getRun(run.id) ?? run;
      const ref = slackRef(latest);
      if (!ref) throw new Error(`run ${run.id} has no Slack message`);
      const message = fake.message(ref.channel, ref.messageTs);
      if (!message) throw new Error(`run ${run.id}: message ${ref.messageTs} not found in the fake`);
      return message;
    },
    async waitForRun(host, timeoutMs = 10_000) {
      return fake.waitFor(
        () => {
          const run = engine.activeRunForHost(host);
          return run && slackRef(run) ? run : undefined;
        },
        { timeoutMs, what: `a previewed run on ${host}` },
      );
    },
    async waitForRunState(runId, states, timeoutMs = 30_000) {
      return fake.waitFor(
        () => {
          const run = engine.getRun(runId);
          return run && states.includes(run.state) ? run : undefined;
        },
        { timeoutMs, what: `run ${runId} in ${states.join('/')} (is ${engine.getRun(runId)?.state})` },
      );
    },
    ephemeralTexts(user) {
      return fake.ephemeralsFor(user).map((e) => messageText(e));
    },
    async close() {
      await bot.stop();
      await engine.close().catch(() => undefined);
      await fake.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
