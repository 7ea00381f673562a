/**
 * The Slack app's configuration, from the environment, validated once at start-up. Every problem
 * is reported at once, each naming the variable and what a good value looks like, so a
 * half-configured deployment fails fast with a message an operator can act on. Secrets are
 * never part of an error message or of `describeConfig`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { policySchema, type Policy } from './slack/policy.js';

export interface SocketModeConfig {
  mode: 'socket';
  botToken: string;
  appToken: string;
  /** Web API base, e.g. https://slack-gov.com/api/ or a local fake; undefined = Slack's default. */
  apiUrl?: string;
}

export interface HttpModeConfig {
  mode: 'http';
  botToken: string;
  signingSecret: string;
  port: number;
  eventsPath: string;
  apiUrl?: string;
}

export type SlackConfig = SocketModeConfig | HttpModeConfig;

export interface PolicyConfig {
  /** null when none is configured: the app then applies its documented default (see authz.ts). */
  policy: Policy | null;
  /** Where it came from, for the start-up log: `EVAC_POLICY_FILE=/etc/evac/policy.yaml`, `EVAC_POLICY`, or `none`. */
  source: string;
}

export interface AppConfig {
  slack: SlackConfig;
  policy: PolicyConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value));

const envSchema = z.object({
  SLACK_MODE: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_SIGNING_SECRET: optionalText,
  PORT: optionalText,
  SLACK_EVENTS_PATH: optionalText,
  SLACK_API_URL: optionalText,
  EVAC_POLICY_FILE: optionalText,
  EVAC_POLICY: optionalText,
});

export interface LoadConfigOptions {
  /** Reads the policy file; injectable for tests. */
  readFile?: (path: string) => string;
}

function parsePort(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return 3000;
  if (!/^\d+$/.test(raw) || Number(raw) > 65_535) {
    problems.push(`PORT must be a TCP port number 0..65535 (0 picks a free one), got ${JSON.stringify(raw)}`);
    return 0;
  }
  return Number(raw);
}

function parseApiUrl(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(
      `SLACK_API_URL must be an absolute http(s) URL such as https://slack.com/api/, got ${JSON.stringify(raw)}`,
    );
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(`SLACK_API_URL must use http or https, got ${url.protocol}`);
    return undefined;
  }
  // The WebClient appends method names to this base: without the slash `.../api` + `chat.update` breaks.
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

function describePolicyIssues(error: z.ZodError, where: string): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `${where}: ${path}: ${issue.message}`;
  });
}

function loadPolicy(
  env: z.infer<typeof envSchema>,
  readFile: (path: string) => string,
  problems: string[],
): PolicyConfig {
  if (env.EVAC_POLICY_FILE !== undefined && env.EVAC_POLICY !== undefined) {
    problems.push('EVAC_POLICY_FILE and EVAC_POLICY are both set: use one of them');
    return { policy: null, source: 'none' };
  }
  let raw: unknown;
  let where: string;
  if (env.EVAC_POLICY_FILE !== undefined) {
    where = `EVAC_POLICY_FILE=${env.EVAC_POLICY_FILE}`;
    let text: string;
    try {
      text = readFile(env.EVAC_POLICY_FILE);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(`${where}: cannot read the file${code ? ` (${code})` : ''}`);
      return { policy: null, source: where };
    }
    try {
      raw = parseYaml(text);
    } catch (error) {
      const line =
        error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
      problems.push(`${where}: not valid YAML${line}: ${(error as Error).message.split('\n')[0]}`);
      return { policy: null, source: where };
    }
  } else if (env.EVAC_POLICY !== undefined) {
    where = 'EVAC_POLICY';
    try {
      raw = JSON.parse(env.EVAC_POLICY);
    } catch (error) {
      problems.push(`EVAC_POLICY: not valid JSON: ${(error as Error).message}`);
      return { policy: null, source: where };
    }
  } else {
    return { policy: null, source: 'none' };
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...describePolicyIssues(parsed.error, where));
    return { policy: null, source: where };
  }
  return { policy: parsed.data, source: where };
}

/** Reads and validates the configuration. Throws ConfigError listing every problem found. */
export function loadAppConfig(
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): AppConfig {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const vars = envSchema.parse(env);
  const problems: string[] = [];

  const mode = (vars.SLACK_MODE ?? 'socket').toLowerCase();
  if (mode !== 'socket' && mode !== 'http') {
    problems.push(`SLACK_MODE must be "socket" (default) or "http", got ${JSON.stringify(vars.SLACK_MODE)}`);
  }

  const botToken = vars.SLACK_BOT_TOKEN;
  if (botToken === undefined) {
    problems.push('SLACK_BOT_TOKEN is required (the bot token, starts with xoxb-)');
  } else if (!botToken.startsWith('xoxb-')) {
    problems.push('SLACK_BOT_TOKEN must be a bot token (starts with xoxb-)');
  }

  let appToken = vars.SLACK_APP_TOKEN;
  let signingSecret = vars.SLACK_SIGNING_SECRET;
  if (mode === 'socket') {
    if (appToken === undefined) {
      problems.push('SLACK_APP_TOKEN is required in socket mode (starts with xapp-); or set SLACK_MODE=http');
    } else if (!appToken.startsWith('xapp-')) {
      problems.push(
        'SLACK_APP_TOKEN must be an app-level token (starts with xapp-) with the connections:write scope',
      );
    }
  } else if (mode === 'http') {
    if (signingSecret === undefined) {
      problems.push(
        'SLACK_SIGNING_SECRET is required in http mode (Basic Information → App Credentials → Signing Secret)',
      );
    } else if (!/^[0-9a-f]{16,}$/i.test(signingSecret)) {
      problems.push('SLACK_SIGNING_SECRET does not look like a signing secret (a hex string)');
    }
  }

  const port = parsePort(vars.PORT, problems);
  const eventsPath = vars.SLACK_EVENTS_PATH ?? '/slack/events';
  if (!eventsPath.startsWith('/') || /\s/.test(eventsPath)) {
    problems.push(
      `SLACK_EVENTS_PATH must be a URL path starting with "/", got ${JSON.stringify(eventsPath)}`,
    );
  }
  const apiUrl = parseApiUrl(vars.SLACK_API_URL, problems);
  const policy = loadPolicy(vars, readFile, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  appToken ??= '';
  signingSecret ??= '';
  const slack: SlackConfig =
    mode === 'http'
      ? { mode: 'http', botToken: botToken ?? '', signingSecret, port, eventsPath }
      : { mode: 'socket', botToken: botToken ?? '', appToken };
  if (apiUrl !== undefined) slack.apiUrl = apiUrl;
  return { slack, policy };
}

/** What is safe to log about the configuration: no token or secret, not even a prefix of one. */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  const { slack } = config;
  return {
    mode: slack.mode,
    apiUrl: slack.apiUrl ?? 'https://slack.com/api/',
    ...(slack.mode === 'http' ? { port: slack.port, eventsPath: slack.eventsPath } : {}),
    policy: config.policy.source,
  };
}
