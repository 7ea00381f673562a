/**
 * `npm start`: the evacuation bot, wired for whatever this machine has.
 *
 * Slack is real when Slack tokens are configured, otherwise the bot runs in the local workspace
 * (a Slack look-alike in the browser). The cloud is real when `OS_CLOUD` or `OS_AUTH_URL` is set,
 * otherwise a simulated OpenStack starts in-process. Any mix works; the start-up log says which
 * is which, and shouts when the cloud is simulated.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { loadAppConfig, type AppConfig, type PolicyConfig } from './config.js';
import { createEngine, ENGINE_DEFAULTS } from './engine/engine.js';
import { logger as rootLogger, type Logger } from './log.js';
import { loadCredentials, type OpenStackCredentials } from './nova/credentials.js';
import { createComputeClient } from './nova/compute-client.js';
import { createSlackApp } from './slack/app.js';
import { policySchema, type Policy } from './slack/policy.js';
import { startSimCloud, type SimCloud } from './sim/index.js';
import { forcedDownThroughNova } from './workspace/drills.js';
import { defaultDirectory, type WorkspaceDirectory } from './workspace/model.js';
import { startLocalWorkspace, type LocalWorkspace } from './workspace/server.js';

export class LaunchConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Cannot start:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'LaunchConfigError';
  }
}

export type SlackSide =
  | { kind: 'slack'; config: AppConfig }
  | {
      kind: 'local';
      port: number;
      host: string;
      /** WORKSPACE_USER_ID / WORKSPACE_USER_NAME, when set. */
      userId: string | undefined;
      userName: string | undefined;
      policy: PolicyConfig;
    };

export type CloudSide =
  | { kind: 'real'; credentials: OpenStackCredentials; source: string }
  | {
      kind: 'simulated';
      scenario: string | undefined;
      timeScale: number | undefined;
      seed: number | undefined;
    };

export interface LaunchPlan {
  slack: SlackSide;
  cloud: CloudSide;
  dbPath: string;
  pollIntervalMs: number | undefined;
}

const SLACK_VARIABLES = ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'] as const;

const blankToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const launchEnvSchema = z.object({
  WORKSPACE_PORT: optional(
    z.coerce
      .number({ error: 'WORKSPACE_PORT must be a TCP port number 0..65535 (0 picks a free one)' })
      .int('WORKSPACE_PORT must be a whole number')
      .min(0, 'WORKSPACE_PORT must be 0..65535')
      .max(65_535, 'WORKSPACE_PORT must be 0..65535'),
  ),
  WORKSPACE_HOST: optional(z.string()),
  WORKSPACE_USER_ID: optional(
    z
      .string()
      .regex(/^[UW][A-Z0-9]{2,}$/, 'WORKSPACE_USER_ID must look like a Slack user id, e.g. U0123ABCD'),
  ),
  WORKSPACE_USER_NAME: optional(z.string().max(80, 'WORKSPACE_USER_NAME is limited to 80 characters')),
  SIM_SCENARIO: optional(z.string()),
  SIM_TIME_SCALE: optional(
    z.coerce
      .number({ error: 'SIM_TIME_SCALE must be a number, e.g. 0.1 for ten times faster' })
      .positive('SIM_TIME_SCALE must be greater than 0 (0.1 = ten times faster, 2 = half speed)'),
  ),
  SIM_SEED: optional(
    z.coerce.number({ error: 'SIM_SEED must be a whole number' }).int('SIM_SEED must be a whole number'),
  ),
  EVAC_DB_PATH: optional(z.string()),
  EVAC_POLL_INTERVAL_MS: optional(
    z.coerce
      .number({ error: 'EVAC_POLL_INTERVAL_MS must be a number of milliseconds' })
      .int()
      .min(100, 'EVAC_POLL_INTERVAL_MS must be at least 100'),
  ),
});

/**
 * What the local workspace allows when no policy is configured. Against the simulated cloud,
 * the on-call group (you and the second person) may do everything and the guest may only
 * preview, so refusals can be tried too. Against a real cloud nobody may move anything until a
 * policy says so: the workspace has no login, whoever reaches the page would act.
 */
export function localPolicy(directory: WorkspaceDirectory, cloud: CloudSide['kind']): Policy {
  const onCall = directory.userGroups[0]?.id;
  const channels = directory.channels.map((channel) => channel.id);
  const team = { everyone: false, users: [], groups: onCall ? [onCall] : [] };
  const nobody = { everyone: false, users: [], groups: [] };
  return policySchema.parse({
    channels,
    permissions: {
      preview: { everyone: true, users: [], groups: [] },
      live: cloud === 'simulated' ? team : nobody,
      cold: cloud === 'simulated' ? team : nobody,
      evacuate: cloud === 'simulated' ? team : nobody,
      control: cloud === 'simulated' ? team : nobody,
    },
  });
}

/** Reads the environment and decides the mix. Every problem is reported at once. */
export function planLaunch(env: Record<string, string | undefined>): LaunchPlan {
  const problems: string[] = [];
  const parsed = launchEnvSchema.safeParse(env);
  if (!parsed.success) throw new LaunchConfigError(parsed.error.issues.map((issue) => issue.message));
  const vars = parsed.data;

  let cloud: CloudSide;
  const cloudVariable = env.OS_CLOUD?.trim() ? 'OS_CLOUD' : env.OS_AUTH_URL?.trim() ? 'OS_AUTH_URL' : null;
  if (cloudVariable) {
    try {
      const credentials = loadCredentials(env);
      cloud = {
        kind: 'real',
        credentials,
        source:
          cloudVariable === 'OS_CLOUD'
            ? `cloud "${env.OS_CLOUD}" from clouds.yaml`
            : `OS_AUTH_URL=${env.OS_AUTH_URL}`,
      };
    } catch (error) {
      problems.push(
        `OpenStack credentials (${cloudVariable} is set): ${error instanceof Error ? error.message : String(error)}`,
      );
      cloud = { kind: 'simulated', scenario: undefined, timeScale: undefined, seed: undefined };
    }
  } else {
    cloud = {
      kind: 'simulated',
      scenario: vars.SIM_SCENARIO,
      timeScale: vars.SIM_TIME_SCALE,
      seed: vars.SIM_SEED,
    };
  }

  let slack: SlackSide;
  const slackConfigured = SLACK_VARIABLES.some((name) => (env[name] ?? '').trim() !== '');
  if (slackConfigured) {
    let config: AppConfig | null = null;
    try {
      config = loadAppConfig(env);
    } catch (error) {
      problems.push(
        `Slack (a Slack token is set, so Slack is real): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    slack = config
      ? { kind: 'slack', config }
      : {
          kind: 'local',
          port: 0,
          host: '',
          userId: undefined,
          userName: undefined,
          policy: { policy: null, source: 'none' },
        };
  } else {
    const directory = defaultDirectory({
      ...(vars.WORKSPACE_USER_ID ? { userId: vars.WORKSPACE_USER_ID } : {}),
      ...(vars.WORKSPACE_USER_NAME ? { userName: vars.WORKSPACE_USER_NAME } : {}),
    });
    let policy: PolicyConfig = {
      policy: localPolicy(directory, cloud.kind),
      source: `local workspace default (${cloud.kind} cloud)`,
    };
    if (env.EVAC_POLICY?.trim() || env.EVAC_POLICY_FILE?.trim()) {
      try {
        // The policy part of the app configuration; the Slack tokens it also wants are the local ones.
        policy = loadAppConfig({
          ...env,
          SLACK_BOT_TOKEN: 'xoxb-local',
          SLACK_APP_TOKEN: 'xapp-local',
        }).policy;
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    slack = {
      kind: 'local',
      port: vars.WORKSPACE_PORT ?? 3000,
      host: vars.WORKSPACE_HOST ?? '127.0.0.1',
      userId: vars.WORKSPACE_USER_ID,
      userName: vars.WORKSPACE_USER_NAME,
      policy,
    };
  }

  if (problems.length > 0) throw new LaunchConfigError(problems);
  return {
    slack,
    cloud,
    dbPath: path.resolve(vars.EVAC_DB_PATH ?? path.join('data', 'evacuations.sqlite')),
    pollIntervalMs: vars.EVAC_POLL_INTERVAL_MS,
  };
}

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((line) => line.length)) + 4;
  const rule = '#'.repeat(width + 2);
  return [rule, ...lines.map((line) => `# ${line.padEnd(width - 2)} #`), rule].join('\n');
}

export interface RunningBot {
  /** The local workspace page, when Slack is local. */
  workspaceUrl: string | null;
  /** The simulated cloud's base URL, when the cloud is simulated. */
  simUrl: string | null;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Where the start-up banner goes (default: stdout, for the person who ran `npm start`). */
  announce?: (text: string) => void;
}

/** Starts everything the plan asks for; on failure, stops what had started and rethrows. */
export async function launch(
  plan: LaunchPlan,
  logger: Logger = rootLogger,
  options: LaunchOptions = {},
): Promise<RunningBot> {
  const announce = options.announce ?? ((text: string) => process.stdout.write(text));
  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, 'error while shutting down');
      }
    }
    cleanups.length = 0;
  };
  try {
    let sim: SimCloud | null = null;
    let credentials: OpenStackCredentials | SimCloud['credentials'];
    let cloudDescription: string;
    if (plan.cloud.kind === 'simulated') {
      sim = await startSimCloud({
        ...(plan.cloud.scenario !== undefined ? { scenario: plan.cloud.scenario } : {}),
        ...(plan.cloud.timeScale !== undefined ? { timeScale: plan.cloud.timeScale } : {}),
        ...(plan.cloud.seed !== undefined ? { seed: plan.cloud.seed } : {}),
      });
      const simCloud = sim;
      cleanups.push(() => simCloud.close());
      credentials = sim.credentials;
      const scenario = plan.cloud.scenario ?? 'the default scenario';
      cloudDescription = `Simulated OpenStack (${scenario}, time scale ${plan.cloud.timeScale ?? 1}) at ${sim.url}`;
    } else {
      credentials = plan.cloud.credentials;
      cloudDescription = `OpenStack from ${plan.cloud.source}`;
    }

    const compute = createComputeClient(credentials, { logger });
    cleanups.push(() => compute.close());
    const range = await compute.microversions().catch((error: unknown) => {
      throw new Error(
        `Cannot reach the compute API (${cloudDescription}): ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    logger.info({ microversions: range }, 'compute API reachable');

    mkdirSync(path.dirname(plan.dbPath), { recursive: true });
    const engine = createEngine({
      compute,
      store: { path: plan.dbPath },
      logger,
      ...(plan.pollIntervalMs !== undefined ? { pollIntervalMs: plan.pollIntervalMs } : {}),
    });
    cleanups.push(() => engine.close());
    await engine.resume();

    let workspace: LocalWorkspace | null = null;
    let config: AppConfig;
    if (plan.slack.kind === 'local') {
      const directory = defaultDirectory({
        ...(plan.slack.userId !== undefined ? { userId: plan.slack.userId } : {}),
        ...(plan.slack.userName !== undefined ? { userName: plan.slack.userName } : {}),
      });
      workspace = await startLocalWorkspace({
        logger,
        port: plan.slack.port,
        host: plan.slack.host,
        directory,
        cloud: {
          kind: plan.cloud.kind,
          description: cloudDescription,
          ...(sim ? { controlUrl: sim.url, setForcedDown: forcedDownThroughNova(compute) } : {}),
        },
      });
      const localWorkspace = workspace;
      cleanups.push(() => localWorkspace.close());
      config = {
        slack: {
          mode: 'socket',
          botToken: workspace.botToken,
          appToken: 'xapp-local-workspace',
          apiUrl: workspace.slackApiUrl,
        },
        policy: plan.slack.policy,
      };
    } else {
      config = plan.slack.config;
    }

    const app = createSlackApp(config, {
      engine,
      logger,
      maxParallel: ENGINE_DEFAULTS.globalConcurrency,
      cloudIsSimulated: plan.cloud.kind === 'simulated',
      ...(workspace ? { receiver: workspace.receiver } : {}),
    });
    await app.start();
    cleanups.push(() => app.stop());

    const lines: string[] = [];
    if (plan.cloud.kind === 'simulated') {
      lines.push(
        'SIMULATED CLOUD: nothing here touches a real OpenStack.',
        cloudDescription,
        'Set OS_CLOUD or OS_AUTH_URL to drive a real cloud.',
      );
    } else {
      lines.push(`REAL CLOUD: ${cloudDescription}`, 'Moves here move real servers.');
    }
    if (workspace) {
      lines.push(
        '',
        `Local workspace (no Slack install needed): ${workspace.url}`,
        `Policy: ${plan.slack.kind === 'local' ? plan.slack.policy.source : ''}`,
      );
    } else {
      lines.push(
        '',
        `Slack: ${config.slack.mode} mode${config.slack.apiUrl ? ` via ${config.slack.apiUrl}` : ''}, policy ${config.policy.source}`,
      );
    }
    lines.push(`Runs are journaled in ${plan.dbPath}`);
    announce(`\n${banner(lines)}\n\n`);
    logger.info(
      {
        slack: plan.slack.kind === 'local' ? 'local workspace' : `${config.slack.mode} mode`,
        cloud: plan.cloud.kind,
        workspaceUrl: workspace?.url ?? null,
        simUrl: sim?.url ?? null,
        db: plan.dbPath,
      },
      plan.cloud.kind === 'simulated'
        ? 'evacuation bot started against a SIMULATED cloud'
        : 'evacuation bot started',
    );

    return { workspaceUrl: workspace?.url ?? null, simUrl: sim?.url ?? null, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  let plan: LaunchPlan;
  try {
    plan = planLaunch(process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const bot = await launch(plan);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      rootLogger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    rootLogger.info(
      { signal },
      'shutting down: in-flight Nova operations carry on and are picked up at the next start',
    );
    bot.close().then(
      () => process.exit(0),
      (error: unknown) => {
        rootLogger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  main().catch((error: unknown) => {
    rootLogger.fatal({ err: error }, 'start-up failed');
    process.stderr.write(`\nStart-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
