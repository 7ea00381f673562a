/**
 * Speed on real Nova, side by side: draining one lab host of ~20 servers with
 *   (a) `nova host-evacuate-live --strict HOST` (python-novaclient: submits one live migration per
 *       server and returns; timed here until Nova reports the host empty), and
 *   (b) the project's engine (preview, confirm, every move verified), at each concurrency asked,
 * moving the servers back onto the host between measurements, in rounds (a), (b)... repeated, and
 * comparing means. Goal: (b) <= 1.2 x (a).
 *
 *   npm run bench:openstack -- [--servers 20] [--host compute1] [--concurrency 1,4,22] [--rounds 2] [--json FILE]
 *
 * Needs the lab (../shared/openstack-lab, up.sh) and the `nova` CLI. Leaves the lab as up.sh does.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pLimit from 'p-limit';
import { createLogger } from '../src/log.js';
import {
  COMPUTE_HOSTS,
  Lab,
  confirmAndWait,
  control,
  labEnvironment,
  previewRequest,
  restoreLab,
  startEngine,
  waitFor,
  type ComputeHost,
} from '../test/openstack/lab.js';

const execFileAsync = promisify(execFile);
const BENCH_PREFIX = 'labtest-bench';
const GOAL_RATIO = 1.2;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string', default: '20' },
      host: { type: 'string', default: 'compute1' },
      concurrency: { type: 'string', default: '1,4,22' },
      rounds: { type: 'string', default: '2' },
      json: { type: 'string' },
    },
  });
  const servers = Number(values.servers);
  if (!Number.isInteger(servers) || servers < 1 || servers > 200) {
    throw new Error(`--servers must be a whole number from 1 to 200 (got ${values.servers})`);
  }
  const host = values.host as ComputeHost;
  if (!COMPUTE_HOSTS.includes(host)) {
    throw new Error(`--host must be one of ${COMPUTE_HOSTS.join(', ')} (got ${values.host})`);
  }
  const concurrencies = values.concurrency.split(',').map((text) => {
    const value = Number(text.trim());
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`--concurrency takes whole numbers of at least 1, comma-separated (got "${text}")`);
    }
    return value;
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
    throw new Error(`--rounds must be a whole number from 1 to 10 (got ${values.rounds})`);
  }
  return { servers, host, concurrencies, rounds, json: values.json };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls Nova every 250 ms from `start` until the host has no server left; returns the elapsed ms. */
async function timeUntilHostEmpty(lab: Lab, host: ComputeHost, start: number): Promise<number> {
  return waitFor(
    `${host} to be empty`,
    async () => {
      const left = await lab.client.listServersOnHost(host);
      return { done: left.length === 0, value: left.length === 0 ? Date.now() - start : left.length };
    },
    { intervalMs: 250, timeoutMs: 600_000 },
  );
}

/** Waits until no server of `ids` has a task in progress (the moves Nova accepted have all ended). */
async function waitIdle(lab: Lab, ids: string[]): Promise<void> {
  await waitFor(
    'every moved server to be idle',
    async () => {
      const servers = await Promise.all(ids.map((id) => lab.client.getServer(id)));
      const busy = servers.filter((s) => s.taskState !== null || s.status !== 'ACTIVE');
      return { done: busy.length === 0, value: busy.map((s) => `${s.name}:${s.status}/${s.taskState}`) };
    },
    { timeoutMs: 600_000 },
  );
}

/** Live-migrates every server in `ids` back onto `host` (Nova queues them per source host). */
async function moveBack(lab: Lab, ids: string[], host: ComputeHost): Promise<void> {
  const limit = pLimit(8);
  await Promise.all(
    ids.map((id) =>
      limit(async () => {
        const server = await lab.client.getServer(id);
        if (server.host !== host) await lab.client.liveMigrate(id, { host });
      }),
    ),
  );
  await waitFor(
    `all ${ids.length} servers back on ${host}`,
    async () => {
      const servers = await Promise.all(ids.map((id) => lab.client.getServer(id)));
      const away = servers.filter((s) => s.host !== host || s.taskState !== null);
      return { done: away.length === 0, value: away.map((s) => `${s.name}@${s.host}`) };
    },
    { timeoutMs: 600_000 },
  );
}

interface NovaDrain {
  submittedMs: number;
  hostEmptyMs: number;
  allIdleMs: number;
}

/** (a): `nova host-evacuate-live` only submits; the drain ends when Nova shows the host empty. */
async function drainWithNovaClient(lab: Lab, host: ComputeHost, ids: string[]): Promise<NovaDrain> {
  const start = Date.now();
  await execFileAsync('nova', ['host-evacuate-live', '--strict', host], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...labEnvironment(),
      OS_COMPUTE_API_VERSION: '2.90',
    },
    timeout: 600_000,
  });
  const submittedMs = Date.now() - start;
  const hostEmptyMs = await timeUntilHostEmpty(lab, host, start);
  await waitIdle(lab, ids);
  return { submittedMs, hostEmptyMs, allIdleMs: Date.now() - start };
}

interface EngineDrain {
  concurrency: number;
  previewMs: number;
  hostEmptyMs: number;
  verifiedMs: number;
  done: number;
}

/** (b): the engine's live-migration run, timed from confirm until every move is verified. */
async function drainWithEngine(lab: Lab, host: ComputeHost, concurrency: number): Promise<EngineDrain> {
  const harness = startEngine(lab, { concurrency, pollIntervalMs: 1000 });
  try {
    const previewStart = Date.now();
    const preview = await harness.engine.preview(previewRequest({ host, mode: 'live', concurrency }));
    const previewMs = Date.now() - previewStart;
    if (!preview.plan.runnable) {
      throw new Error(`the plan is not runnable: ${JSON.stringify(preview.plan.findings)}`);
    }
    const start = Date.now();
    const emptyWatch = timeUntilHostEmpty(lab, host, start);
    const run = await confirmAndWait(harness.engine, preview);
    const verifiedMs = Date.now() - start;
    const hostEmptyMs = await emptyWatch;
    const notDone = run.servers.filter((s) => s.state !== 'done');
    if (notDone.length > 0) {
      console.log(
        `    not done: ${notDone.map((s) => `${s.name} ${s.state} ${s.failure?.message ?? ''}`).join('; ')}`,
      );
    }
    const reenabled = await harness.engine.reenableService(run.id, control('bench'));
    if (reenabled.outcome !== 'applied') throw new Error(`re-enabling ${host} failed: ${reenabled.message}`);
    return { concurrency, previewMs, hostEmptyMs, verifiedMs, done: run.servers.length - notDone.length };
  } finally {
    await harness.close();
  }
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

async function main(): Promise<void> {
  const options = parseOptions();
  const { host } = options;
  // the client's and engine's per-request info lines would bury the figures
  const lab = new Lab({ logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
  const results: Record<string, unknown> = { host, bootedServers: options.servers, rounds: options.rounds };
  try {
    console.log(`restoring the lab, then booting ${options.servers} m1.tiny servers on ${host} ...`);
    await restoreLab(lab);
    const bootStart = Date.now();
    const limit = pLimit(4);
    await Promise.all(
      Array.from({ length: options.servers }, (_, i) =>
        limit(() => lab.bootServer(`${BENCH_PREFIX}-${i + 1}`, host)),
      ),
    );
    const onHost = await lab.client.listServersOnHost(host);
    const ids = onHost.map((s) => s.id);
    console.log(`${onHost.length} servers on ${host} (booted in ${seconds(Date.now() - bootStart)})`);
    results.serversOnHost = onHost.length;

    // Rounds alternate (a) and (b) on the same servers: Nova's own timing varies from one drain to
    // the next (scheduler choices, periodic tasks), so one sample of each is not a comparison.
    const novaDrains: NovaDrain[] = [];
    const engineDrains: EngineDrain[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      if (round > 1) await moveBack(lab, ids, host);
      const nova = await drainWithNovaClient(lab, host, ids);
      novaDrains.push(nova);
      console.log(
        `round ${round} (a) nova host-evacuate-live: submitted ${ids.length} in ${seconds(nova.submittedMs)}, host empty at ${seconds(nova.hostEmptyMs)}, all idle at ${seconds(nova.allIdleMs)}`,
      );
      for (const concurrency of options.concurrencies) {
        await moveBack(lab, ids, host);
        const drain = await drainWithEngine(lab, host, concurrency);
        engineDrains.push(drain);
        console.log(
          `round ${round} (b) engine, concurrency ${concurrency}: host empty at ${seconds(drain.hostEmptyMs)}, ${drain.done}/${ids.length} verified at ${seconds(drain.verifiedMs)}`,
        );
      }
    }
    results.nova = novaDrains;
    results.engine = engineDrains;

    const novaMean = mean(novaDrains.map((d) => d.hostEmptyMs));
    const perConcurrency = options.concurrencies.map((concurrency) => {
      const drains = engineDrains.filter((d) => d.concurrency === concurrency);
      return {
        concurrency,
        complete: drains.every((d) => d.done === ids.length),
        hostEmptyMs: mean(drains.map((d) => d.hostEmptyMs)),
        verifiedMs: mean(drains.map((d) => d.verifiedMs)),
      };
    });
    const each = (values: number[]) => values.map(seconds).join(', ');
    console.log('');
    console.log(
      `| drain of ${host} (${ids.length} servers), mean of ${options.rounds} | host empty | every move verified |`,
    );
    console.log('|---|---|---|');
    console.log(
      `| (a) nova host-evacuate-live | ${seconds(novaMean)} (${each(novaDrains.map((d) => d.hostEmptyMs))}) | not verified |`,
    );
    for (const row of perConcurrency) {
      const drains = engineDrains.filter((d) => d.concurrency === row.concurrency);
      console.log(
        `| (b) engine, concurrency ${row.concurrency} | ${seconds(row.hostEmptyMs)} | ${seconds(row.verifiedMs)} (${each(drains.map((d) => d.verifiedMs))})${row.complete ? '' : ' NOT ALL DONE'} |`,
      );
    }
    const best = perConcurrency.filter((row) => row.complete).sort((x, y) => x.verifiedMs - y.verifiedMs)[0];
    if (!best) {
      console.log('\nNo engine concurrency moved every server every time: no ratio.');
      process.exitCode = 1;
    } else {
      const ratio = best.verifiedMs / novaMean;
      results.best = { concurrency: best.concurrency, ratio };
      console.log(
        `\nfastest engine concurrency: ${best.concurrency}; (b)/(a) = ${seconds(best.verifiedMs)} / ${seconds(novaMean)} = ${ratio.toFixed(2)} (goal <= ${GOAL_RATIO}) ${ratio <= GOAL_RATIO ? 'MET' : 'NOT MET'}`,
      );
      if (ratio > GOAL_RATIO) process.exitCode = 1;
    }
  } finally {
    console.log('cleaning up ...');
    await restoreLab(lab).catch((error: unknown) => {
      console.error('restoring the lab failed:', error);
      process.exitCode = 1;
    });
    lab.close();
  }
  if (options.json) {
    mkdirSync(dirname(options.json), { recursive: true });
    writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
