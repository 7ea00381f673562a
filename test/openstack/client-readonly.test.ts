/**
 * The compute client against the real Nova (Zed) lab, read-only: nothing here changes the
 * cloud, so it can run beside the suites that move servers. Credentials come from OS_* like
 * the CLIs (`source <(bash ../shared/openstack-lab/lab-env.sh)`), or default to the lab's admin.
 * Run with `npm run test:openstack`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComputeClient, type NovaComputeClient } from '../../src/nova/compute-client.js';
import { loadCredentials, type OpenStackCredentials } from '../../src/nova/credentials.js';

const LAB_DEFAULTS = {
  OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
  OS_USERNAME: 'admin',
  OS_PASSWORD: 'admin',
  OS_PROJECT_NAME: 'admin',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
};

function labCredentials(): OpenStackCredentials {
  const fromEnvironment = process.env.OS_AUTH_URL || process.env.OS_CLOUD;
  return loadCredentials(
    fromEnvironment ? process.env : { ...LAB_DEFAULTS, ...pick(process.env, 'OS_COMPUTE_API_VERSION') },
  );
}

function pick(env: NodeJS.ProcessEnv, ...names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])));
}

const HOST = 'compute1';
let client: NovaComputeClient;
let credentials: OpenStackCredentials;

beforeAll(() => {
  credentials = labCredentials();
  client = createComputeClient(credentials, { timeoutMs: 60_000 });
});

afterAll(() => {
  client?.close();
});

describe('compute client against the real Nova lab (read-only)', () => {
  it('discovers the Zed range 2.1–2.93 and negotiates within it', async () => {
    const range = await client.microversions();
    expect(range).toMatchObject({ min: '2.1', max: '2.93' });
    const pinned = credentials.computeApiVersion;
    expect(range.chosen).toBe(pinned && pinned !== 'latest' ? pinned : '2.93');
  });

  it('lists the compute services and finds compute1 by its exact name', async () => {
    const services = await client.listComputeServices();
    const hosts = services.map((service) => service.host);
    expect(hosts).toEqual(expect.arrayContaining(['compute1', 'compute2', 'compute3']));
    expect(services.every((service) => service.binary === 'nova-compute')).toBe(true);
    const service = await client.findComputeService(HOST);
    expect(service).toMatchObject({ host: HOST, binary: 'nova-compute' });
    expect(['up', 'down']).toContain(service?.state);
    // Nova's own filter for "compute" returns nothing; a prefix must never match.
    expect(await client.findComputeService('compute')).toBeNull();
  });

  it('lists hypervisors with capacity figures', async () => {
    const hypervisors = await client.listHypervisors();
    expect(hypervisors.map((hypervisor) => hypervisor.host)).toEqual(
      expect.arrayContaining(['compute1', 'compute2', 'compute3']),
    );
    const compute1 = hypervisors.find((hypervisor) => hypervisor.host === HOST);
    expect(compute1?.hypervisorHostname).toBe(HOST);
    expect(compute1?.vcpus).toBeGreaterThan(0);
    expect(compute1?.memoryMb).toBeGreaterThan(0);
  });

  it('lists the servers of compute1, normalised, and reads one back', async () => {
    const servers = await client.listServersOnHost(HOST);
    for (const server of servers) {
      expect(server.host).toBe(HOST);
      expect(server.flavor.name.length).toBeGreaterThan(0);
      expect(server.flavor.vcpus).toBeGreaterThan(0);
    }
    const [first] = servers;
    if (first) {
      const again = await client.getServer(first.id);
      expect(again).toMatchObject({ id: first.id, name: first.name, projectId: first.projectId });
      const actions = await client.listInstanceActions(first.id);
      expect(actions.map((action) => action.action)).toContain('create');
      const create = actions.find((action) => action.action === 'create');
      const detail = await client.getInstanceAction(first.id, create!.requestId);
      expect(detail.events.length).toBeGreaterThan(0);
      expect(await client.listLiveMigrations(first.id)).toBeInstanceOf(Array);
    }
  });

  it('reads migration records and polls changes with two requests', async () => {
    const records = await client.listMigrations({ sourceCompute: HOST });
    expect(records.every((record) => record.sourceCompute === HOST)).toBe(true);
    const snapshot = await client.pollChanges(new Date(Date.now() - 24 * 3600_000).toISOString());
    expect(snapshot.requests).toBe(2);
    expect(Number.isNaN(Date.parse(snapshot.nextSince))).toBe(false);
    expect(await client.listServerGroups()).toBeInstanceOf(Array);
  });
});
