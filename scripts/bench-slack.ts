/**
 * `npm run bench:slack`: the Slack side under load, on loopback (simulated cloud, real client,
 * real engine, real Bolt app, fake Slack Web API).
 *
 * 1. 50 `/evacuate` commands at once, in-process (the receiver the local workspace uses) and as
 *    signed HTTP requests (HTTP mode): every one acknowledged; p99 acknowledgement latency < 100 ms.
 * 2. A 200-server run with the production intervals: at most one status edit per 2 s, at most one
 *    thread post per second, every completion reported, the final state and summary posted.
 *
 * The simulated cloud runs in a child process, as Nova would on other machines, so its CPU does
 * not count against the bot's event loop. Prints a table and exits non-zero if a goal is missed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createEngine, type EvacuationEngine } from '../src/engine/engine.js';
import { createComputeClient } from '../src/nova/compute-client.js';
import { generateScenario, type Scenario } from '../src/sim/index.js';
import { ActionId } from '../src/slack/action-ids.js';
import { createSlackApp, type EvacuationSlackApp } from '../src/slack/app.js';
import { DirectReceiver } from '../src/slack/direct-receiver.js';
import { slackRef } from '../src/slack/front-end.js';
import { PERMISSIVE_DEV_POLICY } from '../src/slack/policy.js';
import { checkMessageLimits } from '../src/views/index.js';
import { FakeSlackApi } from '../test/slack/fake-slack-api.js';

const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' });
const BOT_TOKEN = 'xoxb-bench';
const SECRET = '0123456789abcdef0123456789abcdef';
const CHANNEL = 'C0BENCH';
const USER = 'U0BENCH';

interface Stack {
  engine: EvacuationEngine;
  fake: FakeSlackApi;
  close(): Promise<void>;
}

interface SimProcess {
  credentials: {
    authUrl: string;
    username: string;
    password: string;
    projectName: string;
    userDomainName: string;
    projectDomainName: string;
    regionName: string;
  };
  child: ChildProcess;
}

/** Starts `src/sim/cli.ts` on a free port and reads the OS_* variables it prints. */
async function startSimProcess(scenario: Scenario, timeScale: number, dir: string): Promise<SimProcess> {
  const file = join(dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario));
  const child = spawn(
    join(process.cwd(), 'node_modules', '.bin', 'tsx'),
    ['src/sim/cli.ts', '--scenario', file, '--time-scale', String(timeScale), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const env = await new Promise<Record<string, string>>((resolve, reject) => {
    const vars: Record<string, string> = {};
    let buffer = '';
    child.once('exit', (code) => reject(new Error(`the simulator exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const match of buffer.matchAll(/^export (OS_[A-Z_]+)=(.*)$/gm)) vars[match[1]!] = match[2]!;
      if (vars.OS_INTERFACE) resolve(vars);
    });
  });
  return {
    child,
    credentials: {
      authUrl: env.OS_AUTH_URL ?? '',
      username: env.OS_USERNAME ?? '',
      password: env.OS_PASSWORD ?? '',
      projectName: env.OS_PROJECT_NAME ?? '',
      userDomainName: env.OS_USER_DOMAIN_NAME ?? '',
      projectDomainName: env.OS_PROJECT_DOMAIN_NAME ?? '',
      regionName: env.OS_REGION_NAME ?? '',
    },
  };
}

async function startStack(scenario: Scenario, timeScale: number): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-slack-'));
  const sim = await startSimProcess(scenario, timeScale, dir);
  const compute = createComputeClient(sim.credentials, { logger });
  const engine = createEngine({
    compute,
    store: { path: join(dir, 'runs.db') },
    logger,
    pollIntervalMs: 250,
  });
  const fake = await FakeSlackApi.start({
    botToken: BOT_TOKEN,
    validateMessage: (message) => checkMessageLimits(message).map((v) => `${v.path}: ${v.message}`),
  });
  return {
    engine,
    fake,
    async close() {
      await engine.close();
      await fake.close();
      const exited = new Promise((resolve) => sim.child.once('exit', resolve));
      sim.child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

function commandPayload(
  fake: FakeSlackApi,
  host: string,
  index: number,
  channel = CHANNEL,
): Record<string, string> {
  return {
    token: 'unused',
    team_id: 'T0FAKE',
    team_domain: 'fake',
    channel_id: channel,
    channel_name: 'bench',
    user_id: USER,
    user_name: 'bench',
    command: '/evacuate',
    text: `${host} --live`,
    api_app_id: 'A0EVAC',
    response_url: fake.newResponseUrl({ user: USER, channel }),
    trigger_id: `t-${index}`,
  };
}

const rows: Array<[string, string, string, boolean]> = [];
function row(metric: string, value: string, goal: string, ok: boolean): void {
  rows.push([metric, value, goal, ok]);
}

async function benchCommands(): Promise<void> {
  const hosts = Array.from({ length: 50 }, (_, i) => `host-${i + 1}`);
  const stack = await startStack(
    generateScenario({ hosts: 52, serversPerHost: 4, loadedHosts: hosts }),
    0.05,
  );
  const config = (mode: 'socket' | 'http') =>
    ({
      slack:
        mode === 'http'
          ? {
              mode,
              botToken: BOT_TOKEN,
              signingSecret: SECRET,
              port: 0,
              eventsPath: '/slack/events',
              apiUrl: stack.fake.apiUrl,
            }
          : { mode, botToken: BOT_TOKEN, appToken: 'xapp-bench', apiUrl: stack.fake.apiUrl },
      policy: { policy: PERMISSIVE_DEV_POLICY, source: 'bench' },
    }) as const;
  try {
    // In-process: what the listeners themselves take to acknowledge.
    const receiver = new DirectReceiver({ logger });
    const direct = createSlackApp(config('socket'), {
      engine: stack.engine,
      logger,
      receiver,
      cloudIsSimulated: true,
    });
    await direct.start();
    // Warm-up: Bolt checks the token once (auth.test) before the first event.
    await (
      await receiver.deliver(commandPayload(stack.fake, 'nosuch --bad-flag', -1))
    ).done;
    const started = performance.now();
    const results = await Promise.all(
      hosts.map((host, i) => receiver.deliver(commandPayload(stack.fake, host, i))),
    );
    const acked = results.filter((result) => result.acknowledged).length;
    const ackMs = results.map((result) => result.ackMs);
    await Promise.all(results.map((result) => result.done));
    const allPreviews = performance.now() - started;
    // The server lists for the threads are still queued behind the previews: not measured here.
    const previews = hosts.filter((host) => {
      const run = stack.engine.activeRunForHost(host);
      return run !== null && slackRef(run) !== null;
    }).length;
    row('in-process: commands acknowledged', `${acked}/50`, '50/50', acked === 50);
    row(
      'in-process: ack latency p50 / p99 / max',
      `${percentile(ackMs, 50).toFixed(1)} / ${percentile(ackMs, 99).toFixed(1)} / ${Math.max(...ackMs).toFixed(1)} ms`,
      'p99 < 100 ms',
      percentile(ackMs, 99) < 100,
    );
    row(
      'in-process: previews posted (time to all)',
      `${previews}/50 (${(allPreviews / 1000).toFixed(1)} s)`,
      '50/50',
      previews === 50,
    );
    await direct.stop();

    // HTTP mode: signed requests over loopback, as Slack sends them.
    for (const host of hosts) {
      const run = stack.engine.activeRunForHost(host);
      if (run)
        await stack.engine.cancel(run.id, { actor: { id: USER }, idempotencyKey: `bench-cancel-${run.id}` });
    }
    const http = createSlackApp(config('http'), { engine: stack.engine, logger, cloudIsSimulated: true });
    await http.start();
    const address = http.httpAddress();
    const server = http.httpServer();
    if (!address || !server) throw new Error('HTTP receiver did not start');
    // What the app controls: from the request's arrival to the acknowledgement leaving.
    const serverMs: number[] = [];
    server.prependListener('request', (_request, response) => {
      const arrived = performance.now();
      response.once('finish', () => serverMs.push(performance.now() - arrived));
    });
    const url = `http://127.0.0.1:${address.port}/slack/events`;
    const send = async (payload: Record<string, string>) => {
      const body = new URLSearchParams(payload).toString();
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = `v0=${createHmac('sha256', SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
      const t0 = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(timestamp),
          'x-slack-signature': signature,
        },
        body,
      });
      await response.arrayBuffer();
      return { ok: response.status === 200, ms: performance.now() - t0 };
    };
    await send(commandPayload(stack.fake, 'nosuch --bad-flag', -2));
    serverMs.length = 0;
    const httpResults = await Promise.all(
      hosts.map((host, i) => send(commandPayload(stack.fake, host, 100 + i))),
    );
    const httpMs = httpResults.map((result) => result.ms);
    const httpOk = httpResults.filter((result) => result.ok).length;
    row('HTTP: commands answered 200', `${httpOk}/50`, '50/50', httpOk === 50);
    row(
      'HTTP: ack latency in the app p50 / p99 / max',
      `${percentile(serverMs, 50).toFixed(1)} / ${percentile(serverMs, 99).toFixed(1)} / ${Math.max(...serverMs).toFixed(1)} ms`,
      'p99 < 100 ms',
      serverMs.length === 50 && percentile(serverMs, 99) < 100,
    );
    // Includes this process acting as 50 Slack clients at once: informational, not the app's latency.
    row(
      'HTTP: round trip seen by the caller p50 / p99',
      `${percentile(httpMs, 50).toFixed(1)} / ${percentile(httpMs, 99).toFixed(1)} ms`,
      '< 3000 ms (Slack)',
      percentile(httpMs, 99) < 3000,
    );
    await stack.fake.waitFor(
      () =>
        hosts.every((host) => {
          const run = stack.engine.activeRunForHost(host);
          return run !== null && slackRef(run) !== null;
        }),
      { timeoutMs: 120_000, what: 'every HTTP-mode preview' },
    );
    await http.stop();
    row(
      'messages within Slack limits',
      `${stack.fake.violations.length} violations`,
      '0',
      stack.fake.violations.length === 0,
    );
  } finally {
    await stack.close();
  }
}

async function benchRun(): Promise<void> {
  const stack = await startStack(
    generateScenario({
      hosts: 4,
      serversPerHost: 200,
      loadedHosts: ['host-1'],
      settings: { max_concurrent_live_migrations: 10 },
    }),
    // A 5 s live migration takes 0.4 s: the run lasts long enough for the throttles to matter.
    0.08,
  );
  const receiver = new DirectReceiver({ logger });
  const bot: EvacuationSlackApp = createSlackApp(
    {
      slack: { mode: 'socket', botToken: BOT_TOKEN, appToken: 'xapp-bench', apiUrl: stack.fake.apiUrl },
      policy: { policy: PERMISSIVE_DEV_POLICY, source: 'bench' },
    },
    // Production intervals: 2 s between status edits, 1 s between posts in a channel.
    { engine: stack.engine, logger, receiver, cloudIsSimulated: true },
  );
  await bot.start();
  try {
    const command = await receiver.deliver(commandPayload(stack.fake, 'host-1 --parallel 10', 0));
    await command.done;
    const run = await stack.fake.waitFor(() => {
      const active = stack.engine.activeRunForHost('host-1');
      return active && slackRef(active) ? active : undefined;
    });
    const ref = slackRef(run)!;
    const preview = stack.fake.message(ref.channel, ref.messageTs)!;
    const confirm = preview.blocks
      .flatMap(
        (block) =>
          ((block as { elements?: unknown[] }).elements ?? []) as Array<{
            action_id?: string;
            value?: string;
          }>,
      )
      .find((element) => element.action_id === ActionId.Confirm);
    await bot.reporter.drain();
    const threadBefore = stack.fake.threadReplies(CHANNEL, ref.messageTs).length;
    const confirmedAt = Date.now();
    await (
      await receiver.deliver({
        type: 'block_actions',
        user: { id: USER, username: 'bench' },
        team: { id: 'T0FAKE', domain: 'fake' },
        channel: { id: CHANNEL, name: 'bench' },
        container: { type: 'message', message_ts: ref.messageTs, channel_id: CHANNEL },
        message: { type: 'message', ts: ref.messageTs },
        response_url: stack.fake.newResponseUrl({ user: USER, channel: CHANNEL }),
        actions: [
          {
            type: 'button',
            action_id: ActionId.Confirm,
            block_id: 'b',
            value: confirm?.value,
            action_ts: '1.1',
          },
        ],
      })
    ).done;
    const finished = await stack.fake.waitFor(
      () => {
        const current = stack.engine.getRun(run.id);
        return current?.state === 'finished' ? current : undefined;
      },
      { timeoutMs: 600_000, what: 'the 200-server run to finish' },
    );
    await bot.reporter.drain();
    const runSeconds = (Date.now() - confirmedAt) / 1000;

    const edits = stack.fake.calls.filter(
      (call) => call.method === 'chat.update' && call.ok && call.args.ts === ref.messageTs,
    );
    const maxEdits2s = stack.fake.maxCallsInWindow(
      'chat.update',
      2000,
      (call) => call.args.ts === ref.messageTs,
    );
    const editGap = stack.fake.minGapMs('chat.update', (call) => call.args.ts === ref.messageTs);
    const thread = stack.fake.threadReplies(CHANNEL, ref.messageTs).slice(threadBefore);
    const maxPosts1s = stack.fake.maxCallsInWindow(
      'chat.postMessage',
      1000,
      (call) => call.args.channel === CHANNEL && call.at >= confirmedAt,
    );
    const postGap = stack.fake.minGapMs(
      'chat.postMessage',
      (call) => call.args.channel === CHANNEL && call.at >= confirmedAt,
    );
    const threadText = thread.map((message) => `${message.text}${JSON.stringify(message.blocks)}`).join('\n');
    const done = finished.servers.filter((server) => server.state === 'done');
    const reported = done.filter((server) => threadText.includes(server.name)).length;
    const finalStatus = stack.fake.message(CHANNEL, ref.messageTs)!;
    const finalShown = !JSON.stringify(finalStatus.blocks).includes(ActionId.Stop);
    const summary = thread.some((message) => message.replyBroadcast);

    row(
      '200-server run: duration / servers done',
      `${runSeconds.toFixed(1)} s / ${done.length} of 200`,
      '200',
      done.length === 200,
    );
    row(
      'status edits (total, max in any 2 s, min gap)',
      `${edits.length}, ${maxEdits2s}, ${editGap.toFixed(0)} ms`,
      '≤ 1 per 2 s',
      maxEdits2s <= 1 && editGap >= 2000,
    );
    row(
      'thread posts (total, max in any 1 s, min gap)',
      `${thread.length}, ${maxPosts1s}, ${postGap.toFixed(0)} ms`,
      '≤ 1 per s',
      maxPosts1s <= 1 && postGap >= 1000,
    );
    row('completions reported in the thread', `${reported}/${done.length}`, 'all', reported === done.length);
    row(
      'final state and summary posted',
      `${finalShown ? 'final status' : 'STALE status'}, ${summary ? 'summary' : 'NO summary'}`,
      'both',
      finalShown && summary,
    );
    row(
      'run messages within Slack limits',
      `${stack.fake.violations.length} violations`,
      '0',
      stack.fake.violations.length === 0,
    );
  } finally {
    await bot.stop();
    await stack.close();
  }
}

async function main(): Promise<void> {
  await benchCommands();
  await benchRun();
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((r) => String(r[column]).length), 6));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`\n${line(['metric', 'value', 'goal'])}  result\n`);
  for (const [metric, value, goal, ok] of rows)
    process.stdout.write(`${line([metric, value, goal])}  ${ok ? 'ok' : 'MISSED'}\n`);
  const missed = rows.filter((r) => !r[3]).length;
  process.stdout.write(missed === 0 ? '\nAll goals met.\n' : `\n${missed} goal(s) missed.\n`);
  process.exitCode = missed === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench-slack failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
