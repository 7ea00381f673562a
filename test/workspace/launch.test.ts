import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, LaunchConfigError, localPolicy, planLaunch, type RunningBot } from '../../src/main.js';
import type { StoredMessage } from '../../src/workspace/model.js';
import { defaultDirectory } from '../../src/workspace/model.js';
import { postJson, silentLogger, SseReader } from './helpers.js';

const realCloudEnv = {
  OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
  OS_USERNAME: 'admin',
  OS_PASSWORD: 'admin',
  OS_PROJECT_NAME: 'admin',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    planLaunch(env);
  } catch (error) {
    if (error instanceof LaunchConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a LaunchConfigError');
}

describe('planLaunch: which Slack, which cloud', () => {
  it('runs the local workspace on the simulated cloud when nothing is configured', () => {
    const plan = planLaunch({});
    expect(plan.slack).toMatchObject({ kind: 'local', port: 3000, host: '127.0.0.1' });
    expect(plan.cloud).toEqual({
      kind: 'simulated',
      scenario: undefined,
      timeScale: undefined,
      seed: undefined,
    });
    expect(plan.dbPath).toBe(path.resolve('data', 'evacuations.sqlite'));
    if (plan.slack.kind !== 'local') throw new Error('expected local');
    expect(plan.slack.policy.source).toBe('local workspace default (simulated cloud)');
  });

  it('takes the simulator and workspace settings from the environment', () => {
    const plan = planLaunch({
      SIM_SCENARIO: 'drills/big.yaml',
      SIM_TIME_SCALE: '0.1',
      SIM_SEED: '42',
      WORKSPACE_PORT: '0',
      WORKSPACE_USER_ID: 'U0ALICE1',
      WORKSPACE_USER_NAME: 'Alice',
      EVAC_DB_PATH: '/var/lib/evac/runs.sqlite',
      EVAC_POLL_INTERVAL_MS: '500',
    });
    expect(plan.cloud).toEqual({ kind: 'simulated', scenario: 'drills/big.yaml', timeScale: 0.1, seed: 42 });
    expect(plan.slack).toMatchObject({ kind: 'local', port: 0, userId: 'U0ALICE1', userName: 'Alice' });
    expect(plan.dbPath).toBe('/var/lib/evac/runs.sqlite');
    expect(plan.pollIntervalMs).toBe(500);
  });

  it('reports every bad value at once, each naming its variable', () => {
    const problems = problemsOf({ SIM_TIME_SCALE: '0', WORKSPACE_PORT: 'http', WORKSPACE_USER_ID: 'alice' });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/SIM_TIME_SCALE must be greater than 0/);
    expect(problems.join('\n')).toMatch(/WORKSPACE_PORT must be a TCP port number/);
    expect(problems.join('\n')).toMatch(/WORKSPACE_USER_ID must look like a Slack user id/);
  });

  it('uses a real cloud when OS_AUTH_URL or OS_CLOUD is set, and says what is missing', () => {
    const plan = planLaunch(realCloudEnv);
    expect(plan.cloud).toMatchObject({ kind: 'real', source: 'OS_AUTH_URL=http://127.0.0.1:5000/v3' });
    if (plan.slack.kind !== 'local') throw new Error('expected local');
    expect(plan.slack.policy.source).toBe('local workspace default (real cloud)');
    const problems = problemsOf({ OS_AUTH_URL: 'http://127.0.0.1:5000/v3' });
    expect(problems[0]).toMatch(/^OpenStack credentials \(OS_AUTH_URL is set\): /);
  });

  it('uses real Slack when a Slack token is set, and says what else it needs', () => {
    const plan = planLaunch({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(plan.slack).toMatchObject({ kind: 'slack', config: { slack: { mode: 'socket' } } });
    expect(problemsOf({ SLACK_BOT_TOKEN: 'xoxb-1' })[0]).toMatch(
      /SLACK_APP_TOKEN is required in socket mode/,
    );
  });

  it('lets EVAC_POLICY replace the local default policy', () => {
    const policy = JSON.stringify({ permissions: { preview: { everyone: true } } });
    const plan = planLaunch({ EVAC_POLICY: policy });
    if (plan.slack.kind !== 'local') throw new Error('expected local');
    expect(plan.slack.policy.source).toBe('EVAC_POLICY');
    expect(plan.slack.policy.policy?.permissions.live.everyone).toBe(false);
    expect(problemsOf({ EVAC_POLICY: '{"permissions": {"live": {"users": ["bob"]}}}' })[0]).toMatch(
      /permissions\.live\.users\.0: must be a Slack user id/,
    );
  });
});

describe('localPolicy', () => {
  const directory = defaultDirectory();

  it('lets the on-call group do everything on the simulated cloud, and the guest only preview', () => {
    const policy = localPolicy(directory, 'simulated');
    expect(policy.channels).toEqual(['CLOCALOPS']);
    for (const capability of ['live', 'cold', 'evacuate', 'control'] as const) {
      expect(policy.permissions[capability]).toEqual({ everyone: false, users: [], groups: ['SONCALL1'] });
    }
    expect(policy.permissions.preview.everyone).toBe(true);
    expect(directory.userGroups[0]?.members).not.toContain('UGUEST1');
  });

  it('moves nothing on a real cloud until a policy says so', () => {
    const policy = localPolicy(directory, 'real');
    expect(policy.permissions.live).toEqual({ everyone: false, users: [], groups: [] });
    expect(policy.permissions.preview.everyone).toBe(true);
  });
});

describe('launch: local workspace on the simulated cloud, in-process', () => {
  let workDir: string;
  let bot: RunningBot;
  let banner = '';

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'evac-launch-'));
    const plan = planLaunch({
      WORKSPACE_PORT: '0',
      SIM_TIME_SCALE: '0.05',
      EVAC_DB_PATH: path.join(workDir, 'nested', 'runs.sqlite'),
    });
    bot = await launch(plan, silentLogger, { announce: (text) => (banner += text) });
  });

  afterAll(async () => {
    await bot?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('serves the page and says loudly that the cloud is simulated', async () => {
    expect(banner).toContain('# SIMULATED CLOUD: nothing here touches a real OpenStack.');
    expect(banner).toContain(`Local workspace (no Slack install needed): ${bot.workspaceUrl}`);
    expect(bot.workspaceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(bot.simUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const info = (await (await fetch(`${bot.workspaceUrl}/workspace/info`)).json()) as Record<
      string,
      unknown
    >;
    expect(info).toMatchObject({ botReady: true, drills: true, mode: { cloud: 'simulated' } });
  });

  function confirmButton(message: StoredMessage): { blockId: string; actionId: string } | null {
    for (const block of message.blocks) {
      if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
      for (const element of block.elements as { action_id?: string; text?: { text?: string } }[]) {
        if (element.text?.text?.startsWith('Confirm') && element.action_id) {
          return { blockId: String(block.block_id), actionId: element.action_id };
        }
      }
    }
    return null;
  }

  it('lets the guest preview but not confirm, through the real listeners and policy', async () => {
    const url = bot.workspaceUrl!;
    const stream = new SseReader(`${url}/workspace/events?user=UGUEST1`);
    const isPreview = (host: string) => (event: { event: string; data: unknown }) =>
      event.event === 'message' &&
      (event.data as StoredMessage).text.includes(host) &&
      (event.data as StoredMessage).blocks.some((b) => b.type === 'header');
    try {
      const command = (userId: string, text: string) =>
        postJson(`${url}/workspace/command`, { userId, channelId: 'CLOCALOPS', text });
      expect((await command('UGUEST1', '/evacuate host-3')).json.acknowledged).toBe(true);
      const preview = (await stream.next(isPreview('host-3'), 20_000)).data as StoredMessage;
      // Anyone who sees a preview can click it, so the click is checked against the policy too.
      const confirm = confirmButton(preview);
      expect(confirm).not.toBeNull();
      const click = await postJson(`${url}/workspace/action`, {
        userId: 'UGUEST1',
        channelId: 'CLOCALOPS',
        messageTs: preview.ts,
        ...confirm,
      });
      expect(click.json, JSON.stringify(click.json)).toMatchObject({ acknowledged: true });
      const refusal = await stream.next(
        (event) =>
          event.event === 'message' &&
          (event.data as StoredMessage).ephemeralTo === 'UGUEST1' &&
          Number((event.data as StoredMessage).ts) > Number(preview.ts),
        20_000,
      );
      expect((refusal.data as StoredMessage).text).toMatch(/not allowed|may not|permission|cannot/i);
      expect(bot.workspaceUrl).toBeTruthy();
    } finally {
      await stream.close();
    }
  });
});
