/**
 * Every client operation against the simulated cloud over real HTTP: state changes are checked
 * both through the client and through the simulator's own view (control.state()), and faults
 * come from the simulator's fault injection. Durations are scaled down (timeScale) and waits are
 * polls with generous deadlines, so nothing depends on timing luck.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createComputeClient,
  type ComputeClientOptions,
  type NovaComputeClient,
} from '../../src/nova/compute-client.js';
import { OpenStackError } from '../../src/nova/errors.js';
import type { ServerInfo } from '../../src/nova/types.js';
import {
  generateScenario,
  loadScenario,
  defaultScenarioPath,
  startSimCloud,
  type SimCloud,
  type SimCloudOptions,
} from '../../src/sim/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  simOptions: SimCloudOptions = {},
  clientOptions: ComputeClientOptions = {},
): Promise<{ sim: SimCloud; client: NovaComputeClient }> {
  const sim = await startSimCloud({ timeScale: 0.01, seed: 11, ...simOptions });
  cleanups.push(() => sim.close());
  const client = createComputeClient(sim.credentials, { sleep: async () => {}, ...clientOptions });
  cleanups.push(() => client.close());
  return { sim, client };
}

/** Polls until `check` returns a value, with a deadline far above what the scaled moves need. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function failure(promise: Promise<unknown>): Promise<OpenStackError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OpenStackError);
    return error as OpenStackError;
  }
  throw new Error('expected a failure');
}

function serverNamed(servers: ServerInfo[], name: string): ServerInfo {
  const server = servers.find((candidate) => candidate.name === name);
  if (!server) throw new Error(`no server named ${name}`);
  return server;
}

function requestsTo(sim: SimCloud, endpoint: string): number {
  return sim.control.counters().requests[endpoint] ?? 0;
}

describe('discovery and compute services', () => {
  it('negotiates 2.96 with the default simulator and 2.93 with a Zed-like one', async () => {
    const { client } = await setup();
    expect(await client.microversions()).toEqual({ min: '2.1', max: '2.96', chosen: '2.96' });
    const scenario = loadScenario(defaultScenarioPath);
    const zed = await setup({
      scenario: { ...scenario, settings: { ...scenario.settings, max_microversion: '2.93' } },
    });
    expect(await zed.client.microversions()).toEqual({ min: '2.1', max: '2.93', chosen: '2.93' });
  });

  it('finds host-1 exactly, never host-10', async () => {
    const { sim, client } = await setup();
    const services = await client.listComputeServices();
    expect(services.map((service) => service.host).sort()).toEqual(
      sim.control
        .state()
        .hosts.map((host) => host.name)
        .sort(),
    );
    const service = await client.findComputeService('host-1');
    expect(service).toMatchObject({
      host: 'host-1',
      binary: 'nova-compute',
      status: 'enabled',
      state: 'up',
      forcedDown: false,
    });
    expect(service?.id).toBe(sim.control.host('host-1').serviceId);
    expect((await client.findComputeService('host-10'))?.host).toBe('host-10');
    expect(await client.findComputeService('host')).toBeNull();
    expect(await client.findComputeService('host-1 ')).toBeNull();
  });

  it('disables with a reason, enables, forces down and up (2.53+ API)', async () => {
    const { sim, client } = await setup();
    const service = (await client.findComputeService('host-2'))!;
    const disabled = await client.disableComputeService(service, 'evacuation EV-12 by @alice');
    expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'evacuation EV-12 by @alice' });
    expect(sim.control.host('host-2')).toMatchObject({
      status: 'disabled',
      disabledReason: 'evacuation EV-12 by @alice',
    });

    const down = await client.setForcedDown(disabled, true);
    expect(down).toMatchObject({ forcedDown: true, state: 'down' });
    expect(sim.control.host('host-2')).toMatchObject({ forcedDown: true, state: 'down' });

    const up = await client.setForcedDown(down, false);
    expect(up).toMatchObject({ forcedDown: false, state: 'up' });
    const enabled = await client.enableComputeService(up);
    expect(enabled).toMatchObject({ status: 'enabled', disabledReason: null });
    expect(sim.control.host('host-2')).toMatchObject({ status: 'enabled', forcedDown: false, state: 'up' });
    expect(requestsTo(sim, 'PUT /os-services/{id}')).toBe(4);
  });

  it('uses the host+binary service API when pinned below 2.53', async () => {
    const { sim, client } = await setup({}, { computeApiVersion: '2.52' });
    const service = (await client.findComputeService('host-3'))!;
    expect(service.id).toMatch(/^\d+$/);
    expect(await client.disableComputeService(service, 'old API')).toMatchObject({
      status: 'disabled',
      disabledReason: 'old API',
    });
    expect(await client.setForcedDown(service, true)).toMatchObject({ forcedDown: true, state: 'down' });
    expect(await client.setForcedDown(service, false)).toMatchObject({ forcedDown: false });
    expect(await client.enableComputeService(service)).toMatchObject({ status: 'enabled' });
    expect(sim.control.host('host-3')).toMatchObject({ status: 'enabled', forcedDown: false });
    // Each update is a PUT plus a GET to read the whole service back (the old API answers in part).
    expect(requestsTo(sim, 'PUT /os-services/{id}')).toBe(4);
    expect(requestsTo(sim, 'GET /os-services')).toBe(5);
  });

  it('lists hypervisors with capacity', async () => {
    const { sim, client } = await setup();
    const hypervisors = await client.listHypervisors();
    expect(hypervisors.map((hypervisor) => hypervisor.host).sort()).toEqual(
      sim.control
        .state()
        .hosts.map((host) => host.name)
        .sort(),
    );
    const host1 = hypervisors.find((hypervisor) => hypervisor.host === 'host-1');
    expect(host1?.vcpus).toBeGreaterThan(0);
    expect(host1?.runningVms).toBe(sim.control.host('host-1').used.instances);
  });
});

describe('servers', () => {
  it('lists every server on host-1 and only those, normalised', async () => {
    const { sim, client } = await setup();
    const servers = await client.listServersOnHost('host-1');
    const expected = sim.control
      .state()
      .servers.filter((server) => server.host === 'host-1' && !server.deleted)
      .map((server) => server.id)
      .sort();
    expect(servers.map((server) => server.id).sort()).toEqual(expected);
    expect(servers.every((server) => server.host === 'host-1')).toBe(true);

    const web1 = serverNamed(servers, 'web-1');
    expect(web1.serverGroupIds).toEqual(sim.control.server('web-1').serverGroupIds);
    expect(web1.serverGroupIds).toHaveLength(1);
    expect(serverNamed(servers, 'db-primary')).toMatchObject({
      locked: true,
      lockedReason: 'primary database, page the DBA',
    });
    expect(serverNamed(servers, 'bfv-1')).toMatchObject({ bootFromVolume: true, imageId: null });
    expect(serverNamed(servers, 'bfv-1').volumeIds).toHaveLength(2);
    expect(serverNamed(servers, 'broken-1')).toMatchObject({
      status: 'ERROR',
      fault: { message: 'Instance failed to spawn' },
    });
    expect(serverNamed(servers, 'pinned-1').flavor).toMatchObject({
      name: 'c1.pinned',
      vcpus: 4,
      extraSpecs: { 'hw:cpu_policy': 'dedicated' },
    });
    expect(serverNamed(servers, 'db-replica-1')).toMatchObject({ status: 'SHUTOFF', vmState: 'stopped' });
    expect(serverNamed(servers, 'paused-1').status).toBe('PAUSED');
  });

  it('follows pagination past 1,000 servers', async () => {
    const scenario = generateScenario({ hosts: 2, serversPerHost: 1100, loadedHosts: ['host-1'] });
    const { sim, client } = await setup({ scenario });
    const servers = await client.listServersOnHost('host-1');
    expect(servers).toHaveLength(1100);
    expect(new Set(servers.map((server) => server.id)).size).toBe(1100);
    expect(requestsTo(sim, 'GET /servers/detail')).toBe(2);
  });

  it('follows small pages too', async () => {
    const { sim, client } = await setup({}, { pageSize: 3 });
    const servers = await client.listServersOnHost('host-1');
    expect(servers).toHaveLength(10);
    expect(requestsTo(sim, 'GET /servers/detail')).toBe(4);
  });

  it('looks flavors up once each below 2.47', async () => {
    const { sim, client } = await setup({}, { computeApiVersion: '2.46' });
    const servers = await client.listServersOnHost('host-1');
    expect(serverNamed(servers, 'pinned-1').flavor).toMatchObject({
      id: '10',
      name: 'c1.pinned',
      extraSpecs: { 'hw:cpu_policy': 'dedicated' },
    });
    const distinct = new Set(servers.map((server) => server.flavor.id)).size;
    expect(requestsTo(sim, 'GET /flavors/{id}')).toBe(distinct);
    await client.listServersOnHost('host-1');
    expect(requestsTo(sim, 'GET /flavors/{id}')).toBe(distinct);
  });

  it('gets one server with its groups, and 404s an unknown one with Nova’s text', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-1').id;
    const server = await client.getServer(id);
    expect(server).toMatchObject({ id, name: 'web-1', host: 'host-1' });
    expect(server.serverGroupIds).toEqual(sim.control.server('web-1').serverGroupIds);
    const error = await failure(client.getServer('00000000-0000-0000-0000-000000000000'));
    expect(error).toMatchObject({ kind: 'not_found', status: 404 });
    expect(error.serviceMessage).toMatch(/could not be found/);
    expect(error.requestId).toMatch(/^req-/);
  });
});

describe('moves', () => {
  it('live-migrates, with the record and the action events to show for it', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-2').id;
    const receipt = await client.liveMigrate(id);
    expect(receipt.requestId).toMatch(/^req-/);
    const moved = await eventually('web-2 to leave host-1', async () => {
      const server = await client.getServer(id);
      return server.host !== 'host-1' && server.status === 'ACTIVE' && server.taskState === null
        ? server
        : null;
    });
    expect(sim.control.server(id).host).toBe(moved.host);
    const [record] = await client.listMigrations({ instanceId: id, migrationType: 'live-migration' });
    expect(record).toMatchObject({
      instanceId: id,
      migrationType: 'live-migration',
      status: 'completed',
      sourceCompute: 'host-1',
      destCompute: moved.host,
    });
    const action = await client.getInstanceAction(id, receipt.requestId!);
    expect(action.action).toBe('live-migration');
    expect(action.events.length).toBeGreaterThan(0);
    expect((await client.listInstanceActions(id)).map((entry) => entry.requestId)).toContain(
      receipt.requestId,
    );
  });

  it('live-migrates to a named host', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-3').id;
    await client.liveMigrate(id, { host: 'host-3' });
    await eventually(
      'web-3 on host-3',
      async () => sim.control.server(id).host === 'host-3' && sim.control.server(id).status === 'ACTIVE',
    );
  });

  it('reports progress, forces completion, and aborts', async () => {
    const { sim, client } = await setup();
    sim.control.setOperationDuration('live_migration', 1000);
    sim.control.setMaxConcurrentLiveMigrations(4);
    const fast = sim.control.server('web-2').id;
    const aborted = sim.control.server('batch-1').id;
    await client.liveMigrate(fast);
    await client.liveMigrate(aborted);
    const running = await eventually('a running live migration with memory figures', async () => {
      const [migration] = await client.listLiveMigrations(fast);
      return migration?.status === 'running' && migration.memoryTotalBytes !== null ? migration : null;
    });
    expect(running).toMatchObject({ serverId: fast, sourceCompute: 'host-1' });
    expect(running.memoryProcessedBytes).not.toBeNull();

    await client.forceCompleteLiveMigration(fast, running.id);
    await eventually(
      'the forced migration to complete',
      async () => sim.control.server(fast).host !== 'host-1' && sim.control.server(fast).taskState === null,
    );

    const toAbort = await eventually('the second migration to run', async () => {
      const [migration] = await client.listLiveMigrations(aborted);
      return migration && ['running', 'preparing', 'queued'].includes(migration.status) ? migration : null;
    });
    await client.abortLiveMigration(aborted, toAbort.id);
    await eventually('the abort to settle', async () => {
      const server = await client.getServer(aborted);
      return server.taskState === null && server.status === 'ACTIVE' ? server : null;
    });
    expect(sim.control.server(aborted).host).toBe('host-1');
    const [record] = await client.listMigrations({ instanceId: aborted });
    expect(record?.status).toBe('cancelled');
  });

  it('cold-migrates to VERIFY_RESIZE and confirms', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('db-replica-1').id;
    await client.coldMigrate(id);
    const resized = await eventually('VERIFY_RESIZE', async () => {
      const server = await client.getServer(id);
      return server.status === 'VERIFY_RESIZE' ? server : null;
    });
    expect(resized.host).not.toBe('host-1');
    expect((await client.listMigrations({ instanceId: id }))[0]).toMatchObject({
      migrationType: 'migration',
      status: 'finished',
    });
    await client.confirmResize(id);
    const confirmed = await eventually('the confirmed server', async () => {
      const server = await client.getServer(id);
      return server.status === 'SHUTOFF' && server.taskState === null ? server : null;
    });
    expect(confirmed.host).toBe(resized.host);
    await eventually(
      'the confirmed record',
      async () => (await client.listMigrations({ instanceId: id }))[0]?.status === 'confirmed',
    );
  });

  it('cold-migrates to a named host at 2.56+', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('batch-1').id;
    await client.coldMigrate(id, { host: 'host-2' });
    await eventually(
      'VERIFY_RESIZE on host-2',
      async () =>
        sim.control.server(id).status === 'VERIFY_RESIZE' && sim.control.server(id).host === 'host-2',
    );
  });

  it('refuses to evacuate while the service is up, then evacuates a dead, forced-down host', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-2').id;
    const refused = await failure(client.evacuate(id));
    expect(refused).toMatchObject({
      kind: 'bad_request',
      status: 400,
      serviceMessage: 'Compute service of host-1 is still in use.',
    });
    expect(refused.requestId).toMatch(/^req-/);

    const service = (await client.findComputeService('host-1'))!;
    await client.disableComputeService(service, 'evacuating');
    sim.control.setHostAlive('host-1', false);
    await client.setForcedDown(service, true);
    const receipt = await client.evacuate(id);
    expect(receipt.requestId).toMatch(/^req-/);
    // The client negotiates 2.96 with the simulator: from 2.95 an evacuated server lands stopped.
    const landed = await eventually('web-2 rebuilt elsewhere', async () => {
      const server = await client.getServer(id);
      return server.host !== 'host-1' && server.status === 'SHUTOFF' && server.taskState === null
        ? server
        : null;
    });
    expect(sim.control.server(id).host).toBe(landed.host);
    const records = await client.listMigrations({ migrationType: 'evacuation', sourceCompute: 'host-1' });
    expect(records.map((record) => [record.instanceId, record.status])).toContainEqual([id, 'done']);
  });
});

describe('Nova refusals and silent failures', () => {
  it('returns 409 with Nova’s text for a live migration of a stopped server', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('db-replica-1').id;
    const error = await failure(client.liveMigrate(id));
    expect(error).toMatchObject({ kind: 'conflict', status: 409, operation: 'liveMigrate', method: 'POST' });
    expect(error.serviceMessage).toBe(
      `Cannot 'os-migrateLive' instance ${id} while it is in vm_state stopped`,
    );
    expect(error.requestId).toMatch(/^req-/);
    expect(error.transient).toBe(false);
  });

  it('shows a silent live-migration failure in the record and the action events', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-2').id;
    sim.control.failNextLiveMigration({
      serverId: id,
      message: 'operation failed: migration out job: unexpectedly failed',
    });
    const receipt = await client.liveMigrate(id);
    const record = await eventually('the failed record', async () => {
      const [migration] = await client.listMigrations({ instanceId: id, migrationType: 'live-migration' });
      return migration && ['error', 'failed'].includes(migration.status) ? migration : null;
    });
    expect(record.sourceCompute).toBe('host-1');
    const server = await eventually('the server back on its source', async () => {
      const current = await client.getServer(id);
      return current.taskState === null ? current : null;
    });
    expect(server).toMatchObject({ host: 'host-1', status: 'ACTIVE' });
    const action = await client.getInstanceAction(id, receipt.requestId!);
    const failed = action.events.find((event) => event.result === 'Error');
    expect(failed).toBeDefined();
    expect(`${failed?.details ?? ''}${failed?.traceback ?? ''}`).toContain('unexpectedly failed');
  });
});

describe('faults and retries', () => {
  it('retries GETs through injected 503s', async () => {
    const { sim, client } = await setup();
    await client.microversions();
    sim.control.addFault({ endpoint: 'GET /servers/detail', error: 503, count: 2 });
    sim.control.resetCounters();
    expect(await client.listServersOnHost('host-1')).toHaveLength(10);
    expect(requestsTo(sim, 'GET /servers/detail')).toBe(3);
  });

  it('never re-sends an action after a 503, and keeps Nova’s message', async () => {
    const { sim, client } = await setup();
    const id = sim.control.server('web-2').id;
    await client.microversions();
    sim.control.addFault({
      endpoint: 'POST /servers/{id}/action',
      action: 'os-migrateLive',
      error: 503,
      count: 1,
    });
    sim.control.resetCounters();
    const error = await failure(client.liveMigrate(id));
    expect(error).toMatchObject({ kind: 'server', status: 503 });
    expect(error.serviceMessage).toMatch(/Unexpected API Error/);
    expect(error.transient).toBe(true);
    expect(requestsTo(sim, 'POST /servers/{id}/action')).toBe(1);
    expect(sim.control.server(id).taskState).toBeNull();
  });

  it('times out a hung GET and succeeds on the retry; a hung POST fails once as a timeout', async () => {
    const { sim, client } = await setup({}, { timeoutMs: 300 });
    await client.microversions();
    sim.control.addFault({ endpoint: 'GET /os-services', error: 'timeout', count: 1 });
    sim.control.resetCounters();
    expect(await client.findComputeService('host-1')).not.toBeNull();
    expect(requestsTo(sim, 'GET /os-services')).toBe(2);

    sim.control.addFault({ endpoint: 'POST /servers/{id}/action', error: 'timeout', count: 1 });
    const error = await failure(client.liveMigrate(sim.control.server('web-2').id));
    expect(error).toMatchObject({ kind: 'timeout', operation: 'liveMigrate' });
    expect(requestsTo(sim, 'POST /servers/{id}/action')).toBe(1);
  });

  it('re-authenticates once when tokens expire under it', async () => {
    const { sim, client } = await setup();
    await client.listComputeServices();
    sim.control.expireTokens();
    await client.listComputeServices();
    expect(requestsTo(sim, 'POST /identity/v3/auth/tokens')).toBe(2);
    expect(sim.control.counters().statuses['401']).toBe(1);
  });

  it('renews a short-lived token before it expires', async () => {
    const clock = { offsetMs: 0 };
    const { sim, client } = await setup({ tokenTtlSeconds: 60 }, { now: () => Date.now() + clock.offsetMs });
    await client.listComputeServices();
    clock.offsetMs = 55_000; // past 90% of the lifetime: renew before use
    await client.listComputeServices();
    expect(requestsTo(sim, 'POST /identity/v3/auth/tokens')).toBe(2);
    expect(sim.control.counters().statuses['401'] ?? 0).toBe(0);
  });

  it('authenticates with the scenario’s application credential', async () => {
    const sim = await startSimCloud({ timeScale: 0.01 });
    cleanups.push(() => sim.close());
    const credential = sim.applicationCredential!;
    const client = createComputeClient({
      authUrl: sim.authUrl,
      authType: 'v3applicationcredential',
      applicationCredentialId: credential.id,
      applicationCredentialSecret: credential.secret,
    });
    cleanups.push(() => client.close());
    expect(await client.findComputeService('host-1')).not.toBeNull();
  });
});

describe('pollChanges', () => {
  it('sees a move in one servers request and one migrations request', async () => {
    const { sim, client } = await setup({}, { changesBackdateMs: 2000 });
    const first = await client.pollChanges(new Date(Date.now() - 60_000).toISOString());
    expect(first.requests).toBe(2);
    const id = sim.control.server('web-2').id;
    await client.liveMigrate(id);
    await eventually(
      'the move to finish',
      async () => sim.control.server(id).host !== 'host-1' && sim.control.server(id).taskState === null,
    );
    sim.control.resetCounters();
    const snapshot = await client.pollChanges(first.nextSince);
    expect(snapshot.requests).toBe(2);
    expect(requestsTo(sim, 'GET /servers/detail')).toBe(1);
    expect(requestsTo(sim, 'GET /os-migrations')).toBe(1);
    expect(snapshot.servers.find((server) => server.id === id)?.host).toBe(sim.control.server(id).host);
    expect(snapshot.migrations.find((migration) => migration.instanceId === id)?.status).toBe('completed');
    expect(Date.parse(snapshot.nextSince)).toBeGreaterThanOrEqual(Date.parse(first.nextSince));
  });
});
