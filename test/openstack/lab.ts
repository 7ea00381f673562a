/**
 * Shared harness of the real-Nova suite: credentials, the project's own compute client and
 * engine, the few lab operations the bot never does itself (boot, stop, delete servers; stop a
 * nova-compute process), and `restoreLab()`, which every test file runs before and after itself
 * so tests are independent and a re-run after an interrupted one starts from a clean lab.
 *
 * Bounds are generous on purpose: this is a real cloud on a 2-core machine.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_PLANNING_OPTIONS, createEngine, type EvacuationEngine } from '../../src/engine/index.js';
import type { ControlContext } from '../../src/engine/api.js';
import type { EvacuationRequest, EvacuationRun } from '../../src/engine/types.js';
import { createComputeClient, type NovaComputeClient } from '../../src/nova/compute-client.js';
import { loadCredentials, type OpenStackCredentials } from '../../src/nova/credentials.js';
import { OpenStackError } from '../../src/nova/errors.js';
import type { ComputeService, ServerInfo } from '../../src/nova/types.js';
import type { Logger } from '../../src/log.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const COMPUTE_HOSTS = ['compute1', 'compute2', 'compute3'] as const;
export type ComputeHost = (typeof COMPUTE_HOSTS)[number];
/** Every server a test boots is named with this prefix, so a later restore can find leftovers. */
export const TEST_SERVER_PREFIX = 'labtest-';
/** The lab's own servers (up.sh): lab-vm-N lives on compute((N-1) % 3 + 1). */
const LAB_SERVER = /^lab-vm-(\d+)$/;
/** The microversion of the lab-only requests (2.74+ lets an admin boot onto a given host). */
const LAB_MICROVERSION = '2.93';

export const WAIT_MS = 180_000;

const LAB_DEFAULTS: Record<string, string> = {
  OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
  OS_USERNAME: 'admin',
  OS_PASSWORD: 'admin',
  OS_PROJECT_NAME: 'admin',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
  OS_IDENTITY_API_VERSION: '3',
};

/**
 * OS_* from the environment when it names a cloud, else the lab's admin. A pinned
 * OS_COMPUTE_API_VERSION is dropped: the suite starts from the range the lab really reports.
 */
export function labEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith('OS_') && entry[0] !== 'OS_COMPUTE_API_VERSION' && entry[1] !== undefined,
    ),
  );
  return env.OS_AUTH_URL || env.OS_CLOUD ? fromEnv : { ...LAB_DEFAULTS, ...fromEnv };
}

export function labCredentials(): OpenStackCredentials {
  return loadCredentials(labEnvironment());
}

export function labDir(): string {
  const dir = process.env.OPENSTACK_LAB_DIR ?? resolve(REPO_ROOT, '../shared/openstack-lab');
  if (!existsSync(join(dir, 'compute.sh'))) {
    throw new Error(
      `The OpenStack lab scripts are not at ${dir} (no compute.sh): set OPENSTACK_LAB_DIR to the openstack-lab folder.`,
    );
  }
  return dir;
}

/** `compute.sh start|stop|status HOST`: the lab's way to kill or revive one fake hypervisor. */
export async function computeProcess(command: 'start' | 'stop', host: ComputeHost): Promise<void> {
  await execFileAsync('bash', [join(labDir(), 'compute.sh'), command, host], { timeout: WAIT_MS });
}

export async function computeProcessRunning(host: ComputeHost): Promise<boolean> {
  try {
    await execFileAsync('bash', [join(labDir(), 'compute.sh'), 'status', host], { timeout: 30_000 });
    return true;
  } catch (error) {
    // status exits 1 for "stopped"; anything else (missing lab, timeout) is a real problem
    if ((error as { code?: unknown }).code === 1) return false;
    throw error;
  }
}

/** Runs the real `openstack` CLI against the same cloud, returning its parsed `-f json` output. */
export async function openstackCli(args: string[]): Promise<unknown> {
  const { stdout } = await execFileAsync('openstack', [...args, '-f', 'json'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...labEnvironment() },
    timeout: 120_000,
  });
  return JSON.parse(stdout) as unknown;
}

function brief(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 600) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Thrown by a probe to end a wait at once: the awaited state can no longer come (e.g. ERROR). */
export class WaitAbortedError extends Error {
  override name = 'WaitAbortedError';
}

/**
 * Polls `probe` until it returns `{ done: true }`, at most `timeoutMs`; the error names what was
 * awaited and what was last seen, so a failure explains itself.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value: T }>,
  { timeoutMs = WAIT_MS, intervalMs = 1000 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const result = await probe();
      if (result.done) return result.value;
      last = result.value;
    } catch (error) {
      if (error instanceof WaitAbortedError) throw error;
      // a transient API hiccup must not end the wait early; it is reported if the wait times out
      last = error instanceof Error ? `${error.name}: ${error.message}` : error;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last seen: ${brief(last)}`,
      );
    }
    await new Promise((resolveSleep) => setTimeout(resolveSleep, intervalMs));
  }
}

function summarize(server: ServerInfo) {
  return {
    name: server.name,
    status: server.status,
    taskState: server.taskState,
    host: server.host,
    fault: server.fault?.message ?? null,
  };
}

interface RawResponse {
  status: number;
  body: unknown;
}

/** The project's compute client plus the lab-only calls, over the client's own Keystone session. */
export class Lab {
  readonly client: NovaComputeClient;
  private imageId: Promise<string> | null = null;

  /** Where the client and the engines started on this lab log (default: the app's logger). */
  readonly logger: Logger | undefined;

  constructor(options: { logger?: Logger } = {}) {
    this.logger = options.logger;
    this.client = createComputeClient(labCredentials(), {
      timeoutMs: 60_000,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  close(): void {
    this.client.close();
  }

  private async call(
    service: 'compute' | 'image' | 'placement',
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<RawResponse> {
    const endpoint = await this.client.session.endpoint(service);
    const versionHeader: Record<string, string> =
      service === 'compute'
        ? { 'OpenStack-API-Version': `compute ${LAB_MICROVERSION}` }
        : service === 'placement'
          ? { 'OpenStack-API-Version': 'placement 1.14' }
          : {};
    const response = await this.client.session.request({
      operation: `lab ${method} ${path.split('?')[0]}`,
      method,
      url: `${endpoint}${path}`,
      headers: versionHeader,
      body,
      idempotent: method === 'GET',
    });
    return { status: response.status, body: response.body };
  }

  private async fakeImage(): Promise<string> {
    this.imageId ??= this.call('image', 'GET', '/v2/images?name=fake-image').then(({ body }) => {
      const id = (body as { images?: { id?: unknown }[] }).images?.[0]?.id;
      if (typeof id !== 'string') throw new Error('The lab has no image named fake-image (run up.sh).');
      return id;
    });
    return this.imageId;
  }

  /** Boots an m1.tiny server onto `host` (2.74+ `host`: an admin's requested destination) and waits until it is ACTIVE. */
  async bootServer(name: string, host: ComputeHost): Promise<ServerInfo> {
    if (!name.startsWith(TEST_SERVER_PREFIX))
      throw new Error(`test servers must be named ${TEST_SERVER_PREFIX}*`);
    const { body } = await this.call('compute', 'POST', '/servers', {
      server: { name, imageRef: await this.fakeImage(), flavorRef: '1', networks: 'none', host },
    });
    const id = (body as { server?: { id?: unknown } }).server?.id;
    if (typeof id !== 'string')
      throw new Error(`boot of ${name} answered without a server id: ${brief(body)}`);
    return this.waitForServer(
      id,
      `${name} ACTIVE on ${host}`,
      (s) => s.status === 'ACTIVE' && s.taskState === null,
    );
  }

  async bootServers(prefix: string, host: ComputeHost, count: number): Promise<ServerInfo[]> {
    // Booted one by one: a 2-core lab is no faster in parallel, and errors stay attributable.
    const servers: ServerInfo[] = [];
    for (let i = 1; i <= count; i++) servers.push(await this.bootServer(`${prefix}-${i}`, host));
    return servers;
  }

  async stopServer(id: string): Promise<ServerInfo> {
    await this.call('compute', 'POST', `/servers/${id}/action`, { 'os-stop': null });
    return this.waitForServer(id, `${id} SHUTOFF`, (s) => s.status === 'SHUTOFF' && s.taskState === null);
  }

  async deleteServer(id: string): Promise<void> {
    try {
      await this.call('compute', 'DELETE', `/servers/${id}`);
    } catch (error) {
      if (error instanceof OpenStackError && error.status === 404) return;
      throw error;
    }
  }

  /** All servers of every project whose name starts with `prefix` (Nova's name filter is a regex). */
  async serversNamed(prefix: string): Promise<{ id: string; name: string; status: string }[]> {
    const { body } = await this.call(
      'compute',
      'GET',
      `/servers/detail?all_tenants=1&name=${encodeURIComponent(`^${prefix}`)}`,
    );
    const servers = (body as { servers?: { id: string; name: string; status: string }[] }).servers ?? [];
    return servers.map(({ id, name, status }) => ({ id, name, status }));
  }

  async waitForServer(id: string, what: string, ready: (server: ServerInfo) => boolean): Promise<ServerInfo> {
    return waitFor(what, async () => {
      const server = await this.client.getServer(id);
      if (server.status === 'ERROR' && !ready(server)) {
        throw new WaitAbortedError(
          `server ${server.name} (${id}) went to ERROR: ${server.fault?.message ?? 'no fault'}`,
        );
      }
      return { done: ready(server), value: server };
    });
  }

  async service(host: ComputeHost): Promise<ComputeService> {
    const service = await this.client.findComputeService(host);
    if (!service) throw new Error(`The lab has no nova-compute service on ${host}.`);
    return service;
  }

  async waitForServiceState(
    host: ComputeHost,
    state: 'up' | 'down',
    timeoutMs = WAIT_MS,
  ): Promise<ComputeService> {
    return waitFor(
      `nova-compute on ${host} to be ${state}`,
      async () => {
        const service = await this.service(host);
        return { done: service.state === state, value: service };
      },
      { timeoutMs },
    );
  }

  /**
   * Traits of the host's resource provider in Placement. While COMPUTE_STATUS_DISABLED is there the
   * scheduler skips the host, even after Nova reports the service enabled (see docs/openstack-testing.md).
   */
  async placementTraits(host: ComputeHost): Promise<string[]> {
    const { body } = await this.call('placement', 'GET', `/resource_providers?name=${host}`);
    const provider = (body as { resource_providers?: { uuid: string }[] }).resource_providers?.[0];
    if (!provider) throw new Error(`Placement has no resource provider named ${host}`);
    const traits = await this.call('placement', 'GET', `/resource_providers/${provider.uuid}/traits`);
    return (traits.body as { traits?: string[] }).traits ?? [];
  }

  /** Evacuation records of `host` that keep Nova from unsetting forced_down until its nova-compute restarts. */
  async pendingEvacuations(host: ComputeHost): Promise<number> {
    const records = await this.client.listMigrations({ migrationType: 'evacuation', sourceCompute: host });
    return records.filter((r) => ['done', 'accepted', 'pre-migrating'].includes(r.status)).length;
  }
}

/**
 * Puts the lab back the way up.sh leaves it: every nova-compute running, up, enabled and not
 * forced down (and schedulable: no COMPUTE_STATUS_DISABLED trait left), no test servers, no
 * resize waiting for confirmation, and lab-vm-N back on its home host.
 */
export async function restoreLab(lab: Lab): Promise<void> {
  const { client } = lab;
  const started = Date.now();
  let phaseStarted = started;
  const phases: string[] = [];
  const phase = (name: string) => {
    const now = Date.now();
    if (now - phaseStarted >= 2000) phases.push(`${name} ${((now - phaseStarted) / 1000).toFixed(1)} s`);
    phaseStarted = now;
  };
  for (const host of COMPUTE_HOSTS) {
    if (!(await computeProcessRunning(host))) await computeProcess('start', host);
  }
  phase('compute processes');
  for (const host of COMPUTE_HOSTS) {
    let service = await lab.service(host);
    if (service.forcedDown) {
      // Nova refuses to unset forced_down while 'done' evacuation records remain; the restarted
      // nova-compute turns them into 'completed'.
      await waitFor(`no pending evacuation records of ${host}`, async () => {
        const pending = await lab.pendingEvacuations(host);
        return { done: pending === 0, value: pending };
      });
      service = await client.setForcedDown(service, false);
    }
    // Enabling while the service still looks down would leave the disabled trait in Placement.
    service = await lab.waitForServiceState(host, 'up');
    if (service.status === 'disabled') await client.enableComputeService(service);
  }
  phase('services');
  for (const host of COMPUTE_HOSTS) {
    await waitFor(`${host} schedulable (no COMPUTE_STATUS_DISABLED trait)`, async () => {
      const traits = await lab.placementTraits(host);
      return { done: !traits.includes('COMPUTE_STATUS_DISABLED'), value: traits };
    });
  }
  phase('placement traits');

  const leftovers = await lab.serversNamed(TEST_SERVER_PREFIX);
  await Promise.all(leftovers.map((server) => lab.deleteServer(server.id)));
  await Promise.all(
    leftovers.map((server) =>
      waitFor(`leftover ${server.name} to be deleted`, async () => {
        try {
          const current = await client.getServer(server.id);
          return { done: current.status === 'DELETED', value: summarize(current) };
        } catch (error) {
          if (error instanceof OpenStackError && error.status === 404) return { done: true, value: null };
          throw error;
        }
      }),
    ),
  );
  phase(`deleting ${leftovers.length} test servers`);

  await rebalanceLabServers(lab);
  phase('rebalancing lab-vm-*');
  // Slow restores are where a real-cloud suite loses its time: say where it went.
  if (phases.length > 0) {
    console.info(`restoreLab took ${((Date.now() - started) / 1000).toFixed(1)} s: ${phases.join(', ')}`);
  }
}

/** Live-migrates every lab-vm-N that is not on its home host back there, like up.sh does. */
export async function rebalanceLabServers(lab: Lab): Promise<void> {
  const { client } = lab;
  const labServers = (await lab.serversNamed('lab-vm-')).filter((s) => LAB_SERVER.test(s.name));
  const moves: { id: string; name: string; home: ComputeHost }[] = [];
  for (const { id } of labServers) {
    let server = await client.getServer(id);
    const index = Number(LAB_SERVER.exec(server.name)?.[1]);
    const home = COMPUTE_HOSTS[(index - 1) % COMPUTE_HOSTS.length] as ComputeHost;
    if (server.status === 'VERIFY_RESIZE') {
      await client.confirmResize(id);
      server = await lab.waitForServer(
        id,
        `${server.name} confirmed`,
        (s) => s.status !== 'VERIFY_RESIZE' && s.taskState === null,
      );
    }
    if (server.host === home) continue;
    if (server.status === 'SHUTOFF') {
      await client.coldMigrate(id, { host: home });
      await lab.waitForServer(
        id,
        `${server.name} resized to ${home}`,
        (s) => s.status === 'VERIFY_RESIZE' && s.taskState === null,
      );
      await client.confirmResize(id);
      moves.push({ id, name: server.name, home });
    } else if (server.status === 'ACTIVE') {
      await client.liveMigrate(id, { host: home });
      moves.push({ id, name: server.name, home });
    }
  }
  for (const move of moves) {
    await lab.waitForServer(
      move.id,
      `${move.name} back on ${move.home}`,
      (s) =>
        s.host === move.home && s.taskState === null && (s.status === 'ACTIVE' || s.status === 'SHUTOFF'),
    );
  }
}

/** The engine under test, on a fresh SQLite store in a temp folder. */
export interface EngineHarness {
  engine: EvacuationEngine;
  close(): Promise<void>;
}

export interface EngineHarnessOptions {
  /** Moves in flight at once, across runs and per run (raises the planner's cap to match). */
  concurrency?: number;
  pollIntervalMs?: number;
}

export function startEngine(lab: Lab, options: EngineHarnessOptions = {}): EngineHarness {
  const dir = mkdtempSync(join(tmpdir(), 'evac-openstack-'));
  const engine = createEngine({
    compute: lab.client,
    store: { path: join(dir, 'runs.sqlite') },
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    ...(lab.logger ? { logger: lab.logger } : {}),
    timeoutsMs: { 'live-migrate': WAIT_MS, 'cold-migrate': WAIT_MS, evacuate: WAIT_MS },
    ...(options.concurrency
      ? {
          globalConcurrency: options.concurrency,
          planning: {
            maxConcurrency: Math.max(options.concurrency, DEFAULT_PLANNING_OPTIONS.maxConcurrency),
          },
        }
      : {}),
  });
  return {
    engine,
    async close() {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let controlCounter = 0;
export function control(actor = 'openstack-suite'): ControlContext {
  controlCounter += 1;
  return {
    actor: { id: actor, name: 'real-Nova suite' },
    idempotencyKey: `${actor}-${process.pid}-${Date.now()}-${controlCounter}`,
  };
}

export function previewRequest(request: Omit<EvacuationRequest, 'requestedBy'>): EvacuationRequest {
  return { requestedBy: 'openstack-suite', reason: 'real-Nova suite', ...request };
}

/** Waits until the run is finished (every server in a terminal state), bounded. */
export async function waitForRun(
  engine: EvacuationEngine,
  runId: string,
  timeoutMs = WAIT_MS,
): Promise<EvacuationRun> {
  await waitFor(
    `run ${runId} to finish`,
    async () => {
      const run = engine.getRun(runId);
      if (!run) throw new Error(`the engine lost run ${runId}`);
      return {
        done: run.state === 'finished' || run.state === 'cancelled',
        value: {
          ...run,
          plan: undefined,
          servers: run.servers.map((s) => ({ name: s.name, state: s.state, failure: s.failure })),
        },
      };
    },
    { timeoutMs, intervalMs: 250 },
  );
  const run = engine.getRun(runId);
  if (!run) throw new Error(`the engine lost run ${runId}`);
  return run;
}

/** Confirms a previewed run and waits for it to finish. */
export async function confirmAndWait(engine: EvacuationEngine, run: EvacuationRun): Promise<EvacuationRun> {
  const confirmed = await engine.confirm(run.id, control());
  if (confirmed.outcome !== 'applied') {
    throw new Error(`confirm of run ${run.id} was ${confirmed.outcome}: ${confirmed.message}`);
  }
  return waitForRun(engine, run.id);
}
