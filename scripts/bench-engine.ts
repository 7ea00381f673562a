/**
 * `npm run bench` — the evacuation engine on the simulated cloud:
 *
 *  1. makespan: 200 servers on one host, 5-second live migrations, concurrency 10, against the
 *     ideal ceil(N/C) × D, for a few poll intervals (the engine notices a finished move at the
 *     next poll, so the interval is the main overhead);
 *  2. Nova requests per poll cycle as the number of servers in flight grows;
 *  3. engine RSS with 10 such runs at once, the simulator in a separate process so that only
 *     the engine's memory is measured: with V8's defaults, and with the V8 heap flags `npm start`
 *     runs the bot with (read from package.json, so the two cannot drift apart).
 *
 * Every duration, the poll intervals included, runs on the simulator's scaled clock, so the
 * figures are those of a real-time cloud compressed in time; fixed costs (HTTP, SQLite) are not
 * scaled and weigh more the smaller the scale.
 *
 * Options: --time-scale N (default 0.25: a 5 s move takes 1.25 s), --servers N (200),
 * --concurrency N (10), --memory-time-scale N (default 0.25), --skip-rss.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createEngine, ENGINE_DEFAULTS, type EvacuationEngine } from '../src/engine/engine.js';
import type { EvacuationRun } from '../src/engine/types.js';
import { createComputeClient, DEFAULT_CHANGES_BACKDATE_MS } from '../src/nova/compute-client.js';
import { z } from 'zod';
import type { Scenario, SimCloud } from '../src/sim/index.js';

const { values } = parseArgs({
  options: {
    'time-scale': { type: 'string', default: '0.25' },
    'memory-time-scale': { type: 'string', default: '0.25' },
    root: { type: 'string' },
    'scenario-file': { type: 'string' },
    servers: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '10' },
    'skip-rss': { type: 'boolean', default: false },
    'memory-child': { type: 'boolean', default: false },
  },
});
const TIME_SCALE = Number(values['memory-child'] ? values['memory-time-scale'] : values['time-scale']);
const ROOT = values.root ?? fileURLToPath(new URL('..', import.meta.url));
const SERVERS = Number(values.servers);
const CONCURRENCY = Number(values.concurrency);
if (
  !(TIME_SCALE > 0) ||
  !Number.isInteger(SERVERS) ||
  SERVERS < 1 ||
  !Number.isInteger(CONCURRENCY) ||
  CONCURRENCY < 1
) {
  console.error('usage: npm run bench -- [--time-scale 0.1] [--servers 200] [--concurrency 10] [--skip-rss]');
  process.exit(2);
}
const MOVE_SECONDS = 5;
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const workDir = mkdtempSync(join(tmpdir(), 'bench-engine-'));

let scenarioCounter = 0;
/** Writes a generated scenario for the simulator process; returns its path. */
async function scenarioFile(loadedHosts: number, emptyHosts: number): Promise<string> {
  // Imported here only: the memory-measuring process must not load the simulator's code.
  const { generateScenario } = await import('../src/sim/index.js');
  const content: Scenario = generateScenario({
    hosts: loadedHosts + emptyHosts,
    serversPerHost: SERVERS,
    loadedHosts: Array.from({ length: loadedHosts }, (_, i) => `host-${i + 1}`),
    settings: {
      // Nova queues live migrations per source host (default 1): raised, or this measures Nova's queue.
      max_concurrent_live_migrations: 10_000,
      // D = exactly the live migration: no scheduler delay on top.
      durations: { scheduling: 0, live_migration: MOVE_SECONDS },
    },
  });
  const file = join(workDir, `scenario-${++scenarioCounter}.json`);
  writeFileSync(file, JSON.stringify(content));
  return file;
}

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/**
 * Resolves with the final snapshots once every run has finished. Waits for `run.finished`
 * events rather than polling `getRun`: a finished run is no longer in memory, so polling would
 * re-read and re-parse it from SQLite every few milliseconds, and the benchmark would measure
 * its own polling instead of the engine.
 */
function waitFinished(
  engine: EvacuationEngine,
  runIds: string[],
  timeoutMs: number,
): Promise<EvacuationRun[]> {
  return new Promise((resolve, reject) => {
    const finished = new Map<string, EvacuationRun>();
    const settle = () => {
      if (finished.size < runIds.length) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(runIds.map((id) => finished.get(id) as EvacuationRun));
    };
    const unsubscribe = engine.subscribe((event) => {
      if (event.type === 'run.finished' && runIds.includes(event.run.id)) {
        finished.set(event.run.id, event.run);
        settle();
      }
    });
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`runs did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    // Runs that finished before the subscription.
    for (const id of runIds) {
      const run = engine.getRun(id);
      if (run?.state === 'finished') finished.set(id, run);
    }
    settle();
  });
}

function assertAllDone(runs: EvacuationRun[]): void {
  const bad = runs.flatMap((r) => r.servers.filter((s) => s.state !== 'done'));
  if (bad.length > 0) {
    throw new Error(
      `${bad.length} servers not done, e.g. ${bad[0]?.name}: ${bad[0]?.state} ${bad[0]?.failure?.message ?? ''}`,
    );
  }
}

/** A real-world interval (ms) on the simulator's scaled clock. */
const scaled = (ms: number) => Math.max(1, Math.round(ms * TIME_SCALE));

interface Polling {
  pollIntervalMs: number;
  fastPollIntervalMs: number;
}
const DEFAULT_POLLING: Polling = {
  pollIntervalMs: scaled(ENGINE_DEFAULTS.pollIntervalMs),
  fastPollIntervalMs: scaled(ENGINE_DEFAULTS.fastPollIntervalMs),
};

let dbCounter = 0;
function newEngine(
  sim: { credentials: SimCloud['credentials'] },
  options: Polling & { maxConcurrency?: number },
) {
  // The changes-since backdate absorbs clock skew between the bot and Nova (none here); scaled
  // like every other duration so that a poll returns what it would on a real-time cloud.
  const compute = createComputeClient(sim.credentials, {
    logger,
    changesBackdateMs: scaled(DEFAULT_CHANGES_BACKDATE_MS),
  });
  return createEngine({
    compute,
    store: { path: join(workDir, `runs-${++dbCounter}.db`) },
    logger,
    pollIntervalMs: options.pollIntervalMs,
    fastPollIntervalMs: options.fastPollIntervalMs,
    planning: { maxConcurrency: options.maxConcurrency ?? 20 },
    globalConcurrency: options.maxConcurrency ?? 20,
  });
}

// ---- 1 + 2: in-process simulator --------------------------------------------------------

interface Measured {
  makespanMs: number;
  cycles: number;
  listRequests: number;
  perServerRequests: number;
  byInFlight: Map<number, { cycles: number; poll: number; other: number }>;
}

async function measureRun(polling: Polling, concurrency: number): Promise<Measured> {
  const sim = await startSimProcess(await scenarioFile(1, 3));
  const engine = newEngine(sim, { ...polling, maxConcurrency: Math.max(20, concurrency) });
  try {
    const run = await engine.preview({ host: 'host-1', mode: 'live', concurrency, requestedBy: 'bench' });
    if (run.plan.concurrency !== concurrency) throw new Error(`planned concurrency ${run.plan.concurrency}`);
    await sim.resetCounters();
    const cyclesBefore = engine.observerStats().cycles;
    const started = performance.now();
    await engine.confirm(run.id, { actor: { id: 'bench' }, idempotencyKey: `bench-${run.id}` });
    const [done] = await waitFinished(engine, [run.id], 30 * 60_000);
    const makespanMs = performance.now() - started;
    assertAllDone([done as EvacuationRun]);
    const stats = engine.observerStats();
    const cycles = stats.cycles - cyclesBefore;
    const counters = await sim.requestCounters();
    const count = (key: string) => counters[key] ?? 0;
    const byInFlight = new Map<number, { cycles: number; poll: number; other: number }>();
    for (const cycle of stats.recent.slice(-cycles)) {
      const cell = byInFlight.get(cycle.watched) ?? { cycles: 0, poll: 0, other: 0 };
      cell.cycles++;
      cell.poll += cycle.pollRequests;
      cell.other += cycle.progressRequests + cycle.directLookRequests;
      byInFlight.set(cycle.watched, cell);
    }
    return {
      makespanMs,
      cycles,
      listRequests: count('GET /servers/detail') + count('GET /os-migrations'),
      perServerRequests:
        count('GET /servers/{id}') +
        count('GET /servers/{id}/migrations') +
        count('GET /servers/{id}/os-instance-actions') +
        count('GET /servers/{id}/os-instance-actions/{rid}'),
      byInFlight,
    };
  } finally {
    await engine.close();
    await sim.stop();
  }
}

// ---- the simulator, always in its own process (its CPU and memory are not the engine's) ----

interface SimProcess {
  credentials: SimCloud['credentials'];
  resetCounters(): Promise<void>;
  requestCounters(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

async function startSimProcess(file: string): Promise<SimProcess> {
  const cli = join(ROOT, 'src/sim/cli.ts');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cli, '--scenario', file, '--time-scale', String(TIME_SCALE), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT },
  );
  const env: Record<string, string> = {};
  let url = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited early (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening?.[1]) url = listening[1];
      const match = /^export (OS_[A-Z_]+)=(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) env[match[1]] = match[2];
      if (env.OS_INTERFACE) resolve();
    });
  });
  const required = (key: string) => {
    const value = env[key];
    if (!value) throw new Error(`simulator did not print ${key}`);
    return value;
  };
  const control = async (method: string, path: string): Promise<unknown> => {
    const response = await fetch(`${url}/_sim${path}`, { method });
    if (!response.ok) throw new Error(`sim control ${method} ${path}: HTTP ${response.status}`);
    return response.json();
  };
  return {
    credentials: {
      authUrl: required('OS_AUTH_URL'),
      username: required('OS_USERNAME'),
      password: required('OS_PASSWORD'),
      projectName: required('OS_PROJECT_NAME'),
      userDomainName: required('OS_USER_DOMAIN_NAME'),
      projectDomainName: required('OS_PROJECT_DOMAIN_NAME'),
      regionName: required('OS_REGION_NAME'),
    },
    resetCounters: async () => {
      await control('POST', '/counters/reset');
    },
    requestCounters: async () => {
      const counters = z
        .object({ requests: z.record(z.string(), z.number()) })
        .parse(await control('GET', '/counters'));
      return counters.requests;
    },
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

// ---- 3: memory of one engine process driving 10 runs at once -----------------------------

const MEMORY_RUNS = 10;
const MEMORY_EMPTY_HOSTS = 5;

async function measureMemory(runs: number, polling: Polling, file: string) {
  const empty = MEMORY_EMPTY_HOSTS;
  const sim = await startSimProcess(file);
  const engine = newEngine(sim, { ...polling, maxConcurrency: runs * CONCURRENCY });
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  };
  global.gc?.();
  sample();
  const baselineRss = process.memoryUsage().rss;
  const sampler = setInterval(sample, 50);
  let retainedHeap: number | null = null;
  try {
    const ids: string[] = [];
    for (let i = 1; i <= runs; i++) {
      // Each drained host sends its servers to one of the empty hosts, never to another drained host.
      const target = `host-${runs + 1 + ((i - 1) % empty)}`;
      const run = await engine.preview({
        host: `host-${i}`,
        mode: 'live',
        concurrency: CONCURRENCY,
        targetHost: target,
        requestedBy: 'bench',
      });
      ids.push(run.id);
    }
    const started = performance.now();
    await Promise.all(
      ids.map((id) => engine.confirm(id, { actor: { id: 'bench' }, idempotencyKey: `bench-${id}` })),
    );
    // Half way, what the engine really holds: the heap after a full collection (with --expose-gc).
    const half = Math.ceil(SERVERS / CONCURRENCY / 2) * MOVE_SECONDS * 1000 * TIME_SCALE;
    const probe = setTimeout(() => {
      if (!global.gc) return;
      global.gc();
      retainedHeap = process.memoryUsage().heapUsed;
    }, half);
    const done = await waitFinished(engine, ids, 60 * 60_000);
    clearTimeout(probe);
    const makespanMs = performance.now() - started;
    assertAllDone(done);
    sample();
    return {
      servers: done.reduce((n, r) => n + r.servers.length, 0),
      makespanMs,
      baselineRssMb: mb(baselineRss),
      peakRssMb: mb(peakRss),
      peakHeapMb: mb(peakHeap),
      retainedHeapMb: retainedHeap === null ? null : mb(retainedHeap),
    };
  } finally {
    clearInterval(sampler);
    await engine.close();
    await sim.stop();
  }
}

// ---- report -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const moveMs = MOVE_SECONDS * 1000 * TIME_SCALE;
  const idealMs = Math.ceil(SERVERS / CONCURRENCY) * moveMs;
  console.log(
    `# engine benchmark: ${SERVERS} servers on one host, ${MOVE_SECONDS} s live migrations, concurrency ${CONCURRENCY}, ` +
      `time scale ${TIME_SCALE} (a move takes ${moveMs} ms)\n`,
  );

  console.log('## 1. makespan against the ideal ceil(N/C) x D');
  const real = (ms: number) => `${(ms / TIME_SCALE / 1000).toFixed(2)} s`;
  const configurations: Array<{ label: string; polling: Polling }> = [
    { label: 'defaults', polling: DEFAULT_POLLING },
    {
      label: 'no fast polling',
      polling: {
        pollIntervalMs: DEFAULT_POLLING.pollIntervalMs,
        fastPollIntervalMs: DEFAULT_POLLING.pollIntervalMs,
      },
    },
  ];
  const makespans: Array<Array<string | number>> = [];
  let detailed: Measured | null = null;
  for (const { label, polling } of configurations) {
    const measured = await measureRun(polling, CONCURRENCY);
    detailed ??= measured;
    makespans.push([
      `${label}: ${real(polling.pollIntervalMs)} / ${real(polling.fastPollIntervalMs)}`,
      `${(idealMs / 1000).toFixed(2)} s`,
      `${(measured.makespanMs / 1000).toFixed(2)} s`,
      `${(((measured.makespanMs - idealMs) / idealMs) * 100).toFixed(1)} %`,
      measured.cycles,
      (measured.listRequests / (idealMs / 1000 / TIME_SCALE)).toFixed(2),
    ]);
  }
  console.log(
    table(
      [
        'polling (interval / when due, real time)',
        'ideal',
        'makespan',
        'over ideal',
        'poll cycles',
        'list requests per real second',
      ],
      makespans,
    ),
  );
  console.log('');

  console.log('## 2. Nova requests per poll cycle as the number of servers in flight varies');
  const rows: Array<Array<string | number>> = [];
  if (detailed) {
    for (const [inFlight, cell] of [...detailed.byInFlight.entries()].sort((a, b) => a[0] - b[0])) {
      if (cell.cycles < 3) continue;
      rows.push([
        `${inFlight} (C=${CONCURRENCY})`,
        cell.cycles,
        (cell.poll / cell.cycles).toFixed(2),
        (cell.other / cell.cycles).toFixed(2),
      ]);
    }
  }
  for (const concurrency of [50, 200].filter((c) => c <= SERVERS)) {
    const measured = await measureRun(DEFAULT_POLLING, concurrency);
    const busiest = Math.max(...measured.byInFlight.keys());
    const cell = measured.byInFlight.get(busiest);
    if (cell) {
      rows.push([
        `${busiest} (C=${concurrency})`,
        cell.cycles,
        (cell.poll / cell.cycles).toFixed(2),
        (cell.other / cell.cycles).toFixed(2),
      ]);
    }
    rows.push([
      `all cycles (C=${concurrency}), sim counters`,
      measured.cycles,
      (measured.listRequests / measured.cycles).toFixed(2),
      (measured.perServerRequests / measured.cycles).toFixed(2),
    ]);
  }
  console.log(
    table(
      [
        'servers in flight',
        'cycles',
        'list requests / cycle',
        'per-server requests / cycle (progress, looks)',
      ],
      rows,
    ),
  );
  console.log('');

  if (!values['skip-rss']) {
    const memoryScale = Number(values['memory-time-scale']);
    console.log(
      `## 3. engine memory with ${MEMORY_RUNS} runs at once (engine and simulator each in a fresh process, time scale ${memoryScale})`,
    );
    const memoryIdeal = Math.ceil(SERVERS / CONCURRENCY) * MOVE_SECONDS * 1000 * memoryScale;
    const file = await scenarioFile(MEMORY_RUNS, MEMORY_EMPTY_HOSTS);
    const rows: Array<Array<string | number>> = [];
    const production = productionHeapFlags();
    const configurations = [
      { label: 'V8 defaults', flags: [] },
      ...(production.length > 0
        ? [{ label: `as npm start: ${production.join(' ')}`, flags: production }]
        : []),
    ];
    for (const { label, flags } of configurations) {
      const memory = await memoryInChildProcess(['--expose-gc', ...flags], file);
      rows.push([
        label,
        memory.servers,
        `${(memory.makespanMs / 1000).toFixed(2)} s (ideal ${(memoryIdeal / 1000).toFixed(2)} s)`,
        `${memory.baselineRssMb} MB`,
        `${memory.peakRssMb} MB`,
        `${memory.peakHeapMb} MB`,
        memory.retainedHeapMb === null ? 'n/a' : `${memory.retainedHeapMb} MB`,
      ]);
    }
    console.log(
      table(
        [
          'node flags',
          'servers',
          'makespan',
          'RSS at start',
          'peak RSS',
          'peak heap used',
          'heap retained half way',
        ],
        rows,
      ),
    );
  }
}

/**
 * The V8 heap flags of the `start` script in package.json: the production setting, measured here
 * the same way it runs.
 */
function productionHeapFlags(): string[] {
  const manifest = z
    .object({ scripts: z.object({ start: z.string() }) })
    .parse(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')));
  return manifest.scripts.start.match(/--max-(?:old|semi)-space-size=\d+/g) ?? [];
}

const memoryResultSchema = z.object({
  servers: z.number(),
  makespanMs: z.number(),
  baselineRssMb: z.number(),
  peakRssMb: z.number(),
  peakHeapMb: z.number(),
  retainedHeapMb: z.number().nullable(),
});

/**
 * Runs the memory measurement in a fresh process, so earlier measurements' garbage does not
 * count, from a plain JavaScript bundle: the tsx loader (its hooks run in a second V8 isolate)
 * would add its own ~30 MB, which is not the engine's.
 */
async function memoryInChildProcess(
  nodeFlags: string[],
  file: string,
): Promise<z.infer<typeof memoryResultSchema>> {
  const { build } = await import('esbuild');
  // Inside the repository, so the bundle's external imports resolve from its node_modules.
  const bundle = join(ROOT, 'node_modules', '.cache', 'bench-engine', 'bench-engine.mjs');
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: bundle,
    logLevel: 'error',
    // The simulator runs in its own process; its code has no place in the measured one.
    plugins: [
      {
        name: 'simulator-stays-out',
        setup(plugin) {
          plugin.onResolve({ filter: /\/sim\/index\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
  const args = [
    '--memory-time-scale',
    String(values['memory-time-scale']),
    '--servers',
    String(SERVERS),
    '--concurrency',
    String(CONCURRENCY),
    '--root',
    ROOT,
    '--scenario-file',
    file,
  ];
  const child = spawn(process.execPath, [...nodeFlags, bundle, '--memory-child', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`memory measurement failed (exit ${code})`);
  const last = output.trim().split('\n').pop() ?? '';
  return memoryResultSchema.parse(JSON.parse(last));
}

async function memoryChild(): Promise<void> {
  const file = values['scenario-file'];
  if (!file) throw new Error('--memory-child needs --scenario-file');
  const result = await measureMemory(MEMORY_RUNS, DEFAULT_POLLING, file);
  console.log(JSON.stringify(result));
}

(values['memory-child'] ? memoryChild() : main())
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  })
  .finally(() => rmSync(workDir, { recursive: true, force: true }));
