import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadAppConfig } from '../../src/config.js';

const SOCKET = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_APP_TOKEN: 'xapp-1-A1-xyz' };
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5'.replace(/[yz]/g, 'f');

function problems(env: Record<string, string | undefined>, files: Record<string, string> = {}): string[] {
  try {
    loadAppConfig(env, {
      readFile: (path) => {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadAppConfig', () => {
  it('socket mode by default', () => {
    const config = loadAppConfig(SOCKET);
    expect(config.slack).toEqual({
      mode: 'socket',
      botToken: SOCKET.SLACK_BOT_TOKEN,
      appToken: SOCKET.SLACK_APP_TOKEN,
    });
    expect(config.policy).toEqual({ policy: null, source: 'none' });
  });

  it('http mode with its defaults', () => {
    const config = loadAppConfig({
      SLACK_MODE: 'http',
      SLACK_BOT_TOKEN: 'xoxb-x',
      SLACK_SIGNING_SECRET: SECRET,
    });
    expect(config.slack).toEqual({
      mode: 'http',
      botToken: 'xoxb-x',
      signingSecret: SECRET,
      port: 3000,
      eventsPath: '/slack/events',
    });
  });

  it('http mode with port, path and API URL (trailing slash added)', () => {
    const config = loadAppConfig({
      SLACK_MODE: 'HTTP',
      SLACK_BOT_TOKEN: 'xoxb-x',
      SLACK_SIGNING_SECRET: SECRET,
      PORT: '8080',
      SLACK_EVENTS_PATH: '/hooks/slack',
      SLACK_API_URL: 'https://slack-gov.com/api',
    });
    expect(config.slack).toMatchObject({
      port: 8080,
      eventsPath: '/hooks/slack',
      apiUrl: 'https://slack-gov.com/api/',
    });
  });

  it('reports everything missing at once, with what a good value looks like', () => {
    expect(problems({})).toEqual([
      'SLACK_BOT_TOKEN is required (the bot token, starts with xoxb-)',
      'SLACK_APP_TOKEN is required in socket mode (starts with xapp-); or set SLACK_MODE=http',
    ]);
    expect(problems({ SLACK_MODE: 'http', SLACK_BOT_TOKEN: 'xoxb-1' })).toEqual([
      'SLACK_SIGNING_SECRET is required in http mode (Basic Information → App Credentials → Signing Secret)',
    ]);
  });

  it.each([
    [{ ...SOCKET, SLACK_BOT_TOKEN: 'xoxp-user-token' }, /SLACK_BOT_TOKEN must be a bot token/],
    [{ ...SOCKET, SLACK_APP_TOKEN: 'xoxb-wrong' }, /SLACK_APP_TOKEN must be an app-level token/],
    [{ ...SOCKET, SLACK_MODE: 'websocket' }, /SLACK_MODE must be "socket" \(default\) or "http"/],
    [{ ...SOCKET, PORT: '99999' }, /PORT must be a TCP port number 0..65535/],
    [{ ...SOCKET, PORT: 'eighty' }, /PORT must be a TCP port number/],
    [{ ...SOCKET, SLACK_EVENTS_PATH: 'slack/events' }, /SLACK_EVENTS_PATH must be a URL path/],
    [{ ...SOCKET, SLACK_API_URL: 'not a url' }, /SLACK_API_URL must be an absolute http\(s\) URL/],
    [{ ...SOCKET, SLACK_API_URL: 'ftp://x/api/' }, /SLACK_API_URL must use http or https/],
    [
      { SLACK_MODE: 'http', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'hunter2' },
      /does not look like a signing secret/,
    ],
  ])('rejects %o', (env, expected) => {
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it('never puts a secret in an error message', () => {
    const env = {
      SLACK_MODE: 'http',
      SLACK_BOT_TOKEN: 'xoxp-secret-value-123',
      SLACK_SIGNING_SECRET: 'secret-signing-value',
    };
    const text = problems(env).join('\n');
    expect(text).not.toContain('secret-value-123');
    expect(text).not.toContain('secret-signing-value');
  });

  it('describeConfig has no secrets', () => {
    const config = loadAppConfig({
      SLACK_MODE: 'http',
      SLACK_BOT_TOKEN: 'xoxb-very-secret',
      SLACK_SIGNING_SECRET: SECRET,
    });
    const described = JSON.stringify(describeConfig(config));
    expect(described).not.toContain('very-secret');
    expect(described).not.toContain(SECRET);
    expect(described).toContain('"mode":"http"');
  });
});

describe('policy configuration', () => {
  const yaml = `
channels: [C0OPS]
permissions:
  preview: { everyone: true }
  live: { groups: ['@oncall'] }
  evacuate: { users: [U0ALICE] }
  control: { groups: [S0ONCALL] }
approval:
  evacuate: true
  minServers: 50
groupCacheTtlSeconds: 120
`;

  it('loads a YAML file', () => {
    const config = loadAppConfig(
      { ...SOCKET, EVAC_POLICY_FILE: '/etc/evac/policy.yaml' },
      { readFile: () => yaml },
    );
    expect(config.policy.source).toBe('EVAC_POLICY_FILE=/etc/evac/policy.yaml');
    expect(config.policy.policy).toMatchObject({
      channels: ['C0OPS'],
      permissions: {
        preview: { everyone: true, users: [], groups: [] },
        live: { everyone: false, groups: ['@oncall'] },
        cold: { everyone: false, users: [], groups: [] },
        evacuate: { users: ['U0ALICE'] },
      },
      approval: { evacuate: true, minServers: 50 },
      groupCacheTtlSeconds: 120,
    });
  });

  it('loads JSON from EVAC_POLICY', () => {
    const config = loadAppConfig({
      ...SOCKET,
      EVAC_POLICY: '{"permissions":{"control":{"users":["U0BOB"]}}}',
    });
    expect(config.policy.policy?.permissions.control.users).toEqual(['U0BOB']);
    expect(config.policy.policy?.approval).toEqual({ evacuate: false });
  });

  it.each([
    [{ EVAC_POLICY_FILE: '/a', EVAC_POLICY: '{}' }, {}, /both set/],
    [{ EVAC_POLICY_FILE: '/missing' }, {}, /EVAC_POLICY_FILE=\/missing: cannot read the file \(ENOENT\)/],
    [{ EVAC_POLICY_FILE: '/bad' }, { '/bad': 'permissions: [unclosed' }, /not valid YAML at line 1/],
    [{ EVAC_POLICY: '{nope' }, {}, /EVAC_POLICY: not valid JSON/],
    [
      { EVAC_POLICY: '{"permissions":{"live":{"users":["alice"]}}}' },
      {},
      /permissions\.live\.users\.0: must be a Slack user id/,
    ],
    [
      { EVAC_POLICY: '{"permissions":{"live":{"groups":["oncall"]}}}' },
      {},
      /must be a user group id such as S0123ABCD or a handle such as @oncall/,
    ],
    [{ EVAC_POLICY: '{"permissions":{"deploy":{}}}' }, {}, /permissions: Unrecognized key/],
    [
      { EVAC_POLICY: '{"channels":["#ops"],"permissions":{}}' },
      {},
      /channels\.0: must be a Slack channel id/,
    ],
    [{ EVAC_POLICY: '{"permissions":{},"approval":{"minServers":0}}' }, {}, /approval\.minServers/],
  ])('rejects %o', (env, files, expected) => {
    const found = problems({ ...SOCKET, ...env }, files);
    expect(found.join('\n')).toMatch(expected);
  });
});
