/**
 * The client against a scripted Nova: exact request shapes per microversion and normalisation of
 * the bodies real Nova returns. Behaviour against a stateful cloud is in sim-integration.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createComputeClient,
  type ComputeClientOptions,
  type NovaComputeClient,
} from '../../src/nova/compute-client.js';
import type { OpenStackCredentialsInput } from '../../src/nova/credentials.js';
import { OpenStackError } from '../../src/nova/errors.js';
import { MicroversionError } from '../../src/nova/microversion.js';
import {
  novaServer,
  startFakeOpenStack,
  type FakeOpenStack,
  type FakeOpenStackOptions,
} from './helpers/fake-openstack.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  fakeOptions: FakeOpenStackOptions = {},
  clientOptions: ComputeClientOptions = {},
  credentials: Partial<OpenStackCredentialsInput> = {},
): Promise<{ fake: FakeOpenStack; client: NovaComputeClient }> {
  const fake = await startFakeOpenStack(fakeOptions);
  cleanups.push(() => fake.close());
  const client = createComputeClient(
    { ...fake.credentials, ...credentials },
    { sleep: async () => {}, ...clientOptions },
  );
  cleanups.push(() => client.close());
  return { fake, client };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

const SERVICE_UUID = '02e2bccb-e50b-4f83-862f-a8b4e988ee94';
function novaService(host: string, overrides: Record<string, unknown> = {}) {
  return {
    binary: 'nova-compute',
    host,
    id: host === 'host-1' ? SERVICE_UUID : `uuid-${host}`,
    zone: 'nova',
    status: 'enabled',
    state: 'up',
    updated_at: '2026-11-27T10:37:25.000000',
    disabled_reason: null,
    forced_down: false,
    ...overrides,
  };
}

describe('microversion negotiation', () => {
  it('sends the highest common version on every request', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    fake.on('GET', '/os-services', () => ({ status: 200, body: { services: [] } }));
    expect(await client.microversions()).toEqual({ min: '2.1', max: '2.93', chosen: '2.93' });
    await client.listComputeServices();
    const request = fake.novaRequests('GET', '/os-services')[0];
    expect(request?.microversion).toBe('2.93');
    expect(request?.headers['x-openstack-nova-api-version']).toBe('2.93');
  });

  it('caps at 2.96 on newer clouds and honours a pin', async () => {
    const newer = await setup({ maxVersion: '2.100' });
    expect((await newer.client.microversions()).chosen).toBe('2.96');
    const pinned = await setup({ maxVersion: '2.100' }, {}, { computeApiVersion: '2.60' });
    expect((await pinned.client.microversions()).chosen).toBe('2.60');
    const optionPin = await setup(
      { maxVersion: '2.100' },
      { computeApiVersion: 'latest' },
      { computeApiVersion: '2.60' },
    );
    expect((await optionPin.client.microversions()).chosen).toBe('2.96');
  });

  it('refuses a pin the cloud does not support, naming the endpoint', async () => {
    const { client, fake } = await setup({ maxVersion: '2.93' }, {}, { computeApiVersion: '2.95' });
    const error = await failure(client.microversions());
    expect(error).toBeInstanceOf(MicroversionError);
    expect(error).toBeInstanceOf(OpenStackError);
    expect(error).toMatchObject({
      kind: 'bad_request',
      status: null,
      sent: false,
      operation: 'discoverMicroversions',
    });
    expect(error.message).toBe(
      `discoverMicroversions failed: compute API version 2.95 was requested but the cloud supports 2.1 to 2.93 (compute endpoint ${fake.computeUrl})`,
    );
  });

  it('rejects a bad pin at construction', async () => {
    const fake = await startFakeOpenStack();
    cleanups.push(() => fake.close());
    expect(() => createComputeClient({ ...fake.credentials }, { computeApiVersion: 'two' })).toThrow(
      MicroversionError,
    );
  });
});

describe('compute services', () => {
  it('matches the host exactly: host-1 never matches host-10', async () => {
    const { fake, client } = await setup();
    // Nova's database filter may be looser than an exact match (case-insensitive collation).
    fake.on('GET', '/os-services', (request) => ({
      status: 200,
      body: {
        services: [novaService('host-10'), novaService('HOST-1'), novaService('host-1')].filter((service) =>
          service.host.toLowerCase().startsWith(request.query.get('host') ?? ''),
        ),
      },
    }));
    const found = await client.findComputeService('host-1');
    expect(found).toMatchObject({
      id: SERVICE_UUID,
      host: 'host-1',
      status: 'enabled',
      state: 'up',
      forcedDown: false,
    });
    const request = fake.novaRequests('GET', '/os-services')[0];
    expect(Object.fromEntries(request?.query ?? [])).toEqual({ binary: 'nova-compute', host: 'host-1' });
    expect(await client.findComputeService('host-1'.slice(0, 5))).toBeNull();
    await expect(client.findComputeService('')).rejects.toThrow(/host must be a non-empty string/);
  });

  it('refuses to guess between two services with the same host name', async () => {
    const { fake, client } = await setup();
    fake.on('GET', '/os-services', () => ({
      status: 200,
      body: { services: [novaService('h'), novaService('h', { id: 'other' })] },
    }));
    await expect(client.findComputeService('h')).rejects.toThrow(/2 nova-compute services are named "h"/);
  });

  it('disables, enables and forces down by service id at 2.53+', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    fake.on('GET', '/os-services', () => ({ status: 200, body: { services: [novaService('host-1')] } }));
    fake.on('PUT', `/os-services/${SERVICE_UUID}`, (request) => {
      const body = request.body as Record<string, unknown>;
      return {
        status: 200,
        body: {
          service: novaService('host-1', {
            status: body.status ?? 'disabled',
            disabled_reason: body.disabled_reason ?? null,
            forced_down: body.forced_down ?? false,
            state: body.forced_down ? 'down' : 'up',
          }),
        },
      };
    });
    const service = (await client.findComputeService('host-1'))!;
    const disabled = await client.disableComputeService(service, 'evacuation by @alice');
    expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'evacuation by @alice' });
    const down = await client.setForcedDown(service, true);
    expect(down).toMatchObject({ forcedDown: true, state: 'down' });
    await client.enableComputeService(service);
    expect(fake.novaRequests('PUT').map((request) => request.body)).toEqual([
      { status: 'disabled', disabled_reason: 'evacuation by @alice' },
      { forced_down: true },
      { status: 'enabled' },
    ]);
    await expect(client.disableComputeService(service, 'x'.repeat(256))).rejects.toThrow(
      /Nova stores at most 255/,
    );
  });

  it('uses the host+binary API below 2.53 and reads the service back', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { computeApiVersion: '2.52' });
    let disabled = false;
    fake.on('GET', '/os-services', () => ({
      status: 200,
      body: {
        services: [
          novaService('host-1', {
            id: 5,
            status: disabled ? 'disabled' : 'enabled',
            disabled_reason: disabled ? 'drain' : null,
          }),
        ],
      },
    }));
    fake.on('PUT', '/os-services/disable-log-reason', () => {
      disabled = true;
      return {
        status: 200,
        body: {
          service: { host: 'host-1', binary: 'nova-compute', status: 'disabled', disabled_reason: 'drain' },
        },
      };
    });
    const service = (await client.findComputeService('host-1'))!;
    expect(service.id).toBe('5');
    const result = await client.disableComputeService(service, 'drain');
    expect(result).toMatchObject({ id: '5', status: 'disabled', disabledReason: 'drain', state: 'up' });
    expect(fake.novaRequests('PUT')[0]?.body).toEqual({
      host: 'host-1',
      binary: 'nova-compute',
      disabled_reason: 'drain',
    });
    expect(fake.novaRequests('PUT')[0]?.microversion).toBe('2.52');
  });

  it('cannot force down below 2.11 and says so without calling Nova', async () => {
    const { fake, client } = await setup({}, { computeApiVersion: '2.10' });
    fake.on('GET', '/os-services', () => ({
      status: 200,
      body: { services: [novaService('host-1', { id: 5 })] },
    }));
    const service = (await client.findComputeService('host-1'))!;
    await expect(client.setForcedDown(service, true)).rejects.toThrow(
      /needs compute API 2\.11 or later \(using 2\.10\)/,
    );
    expect(fake.novaRequests('PUT')).toHaveLength(0);
  });
});

describe('hypervisors', () => {
  it('asks at 2.87 for capacity and follows pagination', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { pageSize: 1 });
    const hypervisor = (n: number) => ({
      id: `hv-${n}`,
      hypervisor_hostname: `node${n}.example`,
      state: 'up',
      status: 'enabled',
      service: { id: `svc-${n}`, host: `compute${n}`, disabled_reason: null },
      vcpus: 64,
      vcpus_used: n,
      memory_mb: 256000,
      memory_mb_used: 1024 * n,
      running_vms: n,
    });
    fake.on('GET', '/os-hypervisors/detail', (request) => {
      const marker = request.query.get('marker');
      const index = marker === null ? 1 : Number(marker.slice(3)) + 1;
      const links =
        index < 2
          ? [
              {
                rel: 'next',
                href: `http://public.example/v2.1/os-hypervisors/detail?limit=1&marker=hv-${index}`,
              },
            ]
          : undefined;
      return {
        status: 200,
        body: { hypervisors: index <= 2 ? [hypervisor(index)] : [], hypervisors_links: links },
      };
    });
    const hypervisors = await client.listHypervisors();
    expect(hypervisors).toEqual([
      {
        id: 'hv-1',
        hypervisorHostname: 'node1.example',
        host: 'compute1',
        state: 'up',
        status: 'enabled',
        vcpus: 64,
        vcpusUsed: 1,
        memoryMb: 256000,
        memoryMbUsed: 1024,
        runningVms: 1,
      },
      {
        id: 'hv-2',
        hypervisorHostname: 'node2.example',
        host: 'compute2',
        state: 'up',
        status: 'enabled',
        vcpus: 64,
        vcpusUsed: 2,
        memoryMb: 256000,
        memoryMbUsed: 2048,
        runningVms: 2,
      },
    ]);
    const requests = fake.novaRequests('GET', '/os-hypervisors/detail');
    expect(requests.map((request) => request.microversion)).toEqual(['2.87', '2.87']);
    expect(requests[1]?.query.get('marker')).toBe('hv-1');
  });

  it('reports missing capacity as null at 2.88+', async () => {
    const { fake, client } = await setup({ minVersion: '2.90', maxVersion: '2.96' });
    fake.on('GET', '/os-hypervisors/detail', () => ({
      status: 200,
      body: {
        hypervisors: [
          { id: 'hv', hypervisor_hostname: 'n', state: 'down', status: 'disabled', service: { host: 'c' } },
        ],
      },
    }));
    const [hypervisor] = await client.listHypervisors();
    expect(hypervisor).toMatchObject({
      state: 'down',
      status: 'disabled',
      vcpus: null,
      memoryMb: null,
      runningVms: null,
    });
  });
});

describe('servers on a host', () => {
  it('follows pages, filters the host exactly and normalises each server', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { pageSize: 2 });
    const servers = [
      novaServer({ id: 's1', name: 'web-1' }),
      novaServer({
        id: 's2',
        image: '',
        'os-extended-volumes:volumes_attached': [{ id: 'vol-1', delete_on_termination: false }],
      }),
      novaServer({
        id: 's3',
        status: 'ERROR',
        'OS-EXT-STS:vm_state': 'error',
        fault: { code: 500, message: 'No valid host was found. ', created: '2026-11-27T10:40:00Z' },
      }),
      novaServer({ id: 's4', host: 'host-10' }),
      novaServer({
        id: 's5',
        locked: true,
        locked_reason: 'maintenance',
        status: 'SHUTOFF',
        'OS-EXT-STS:vm_state': 'stopped',
        'OS-EXT-STS:power_state': 4,
      }),
    ];
    fake.on('GET', '/servers/detail', (request) => {
      const marker = request.query.get('marker');
      const start = marker === null ? 0 : servers.findIndex((server) => server.id === marker) + 1;
      const page = servers.slice(start, start + 2);
      const full = page.length === 2 && start + 2 < servers.length + 1;
      return {
        status: 200,
        body: {
          servers: page,
          servers_links: full
            ? [
                {
                  rel: 'next',
                  href: `http://public.example:8774/v2.1/servers/detail?all_tenants=1&host=compute1&limit=2&marker=${page.at(-1)?.id}`,
                },
              ]
            : undefined,
        },
      };
    });
    fake.on('GET', '/os-server-groups', () => ({
      status: 200,
      body: {
        server_groups: [
          {
            id: 'g1',
            name: 'ha',
            policy: 'anti-affinity',
            rules: { max_server_per_host: 1 },
            members: ['s1', 's5'],
            project_id: 'p-admin',
          },
        ],
      },
    }));
    const result = await client.listServersOnHost('compute1');
    expect(result.map((server) => server.id)).toEqual(['s1', 's2', 's3', 's5']);
    const requests = fake.novaRequests('GET', '/servers/detail');
    expect(requests.map((request) => request.query.get('marker'))).toEqual([null, 's2', 's4']);
    expect(Object.fromEntries(requests[0]?.query ?? [])).toEqual({
      all_tenants: '1',
      host: 'compute1',
      limit: '2',
    });
    expect(fake.novaRequests('GET', '/os-server-groups')).toHaveLength(1);

    const [web, bfv, errored, locked] = result;
    expect(web).toEqual({
      id: 's1',
      name: 'web-1',
      projectId: 'p-admin',
      userId: 'u-admin',
      status: 'ACTIVE',
      vmState: 'active',
      taskState: null,
      powerState: 1,
      host: 'compute1',
      hypervisorHostname: 'compute1',
      availabilityZone: 'nova',
      locked: false,
      lockedReason: null,
      flavor: {
        id: null,
        name: 'm1.small',
        vcpus: 2,
        ramMb: 2048,
        diskGb: 20,
        extraSpecs: { 'hw:cpu_policy': 'shared' },
      },
      imageId: 'img-1',
      bootFromVolume: false,
      volumeIds: [],
      serverGroupIds: ['g1'],
      fault: null,
      created: '2026-11-27T10:35:58Z',
      updated: '2026-11-27T10:36:00Z',
    });
    expect(bfv).toMatchObject({
      imageId: null,
      bootFromVolume: true,
      volumeIds: ['vol-1'],
      serverGroupIds: [],
    });
    expect(errored?.fault).toEqual({
      code: 500,
      message: 'No valid host was found. ',
      details: null,
      created: '2026-11-27T10:40:00Z',
    });
    expect(locked).toMatchObject({
      locked: true,
      lockedReason: 'maintenance',
      status: 'SHUTOFF',
      powerState: 4,
      serverGroupIds: ['g1'],
    });
  });

  it('never lists without a host filter', async () => {
    const { fake, client } = await setup();
    await expect(client.listServersOnHost('')).rejects.toThrow(TypeError);
    await expect(client.listServersOnHost('  ')).rejects.toThrow(/host must be a non-empty string/);
    expect(fake.novaRequests('GET', '/servers/detail')).toHaveLength(0);
  });

  it('looks each distinct flavor up once below 2.47', async () => {
    const { fake, client } = await setup({}, { computeApiVersion: '2.46' });
    const servers = ['a', 'b', 'c'].map((id) => novaServer({ id }, '2.46'));
    servers.push(novaServer({ id: 'd', flavor: { id: '3', links: [] } }, '2.46'));
    fake.on('GET', '/servers/detail', () => ({ status: 200, body: { servers } }));
    fake.on('GET', '/os-server-groups', () => ({ status: 200, body: { server_groups: [] } }));
    fake.on('GET', /^\/flavors\/\d+$/, (request) => {
      const id = request.path.split('/')[2];
      return {
        status: 200,
        body: { flavor: { id, name: `flavor-${id}`, vcpus: Number(id), ram: 512, disk: 1, links: [] } },
      };
    });
    fake.on('GET', /^\/flavors\/\d+\/os-extra_specs$/, (request) => ({
      status: 200,
      body: { extra_specs: request.path.includes('/3/') ? { 'hw:cpu_policy': 'dedicated' } : {} },
    }));
    const result = await client.listServersOnHost('compute1');
    expect(result.map((server) => server.flavor)).toEqual([
      { id: '2', name: 'flavor-2', vcpus: 2, ramMb: 512, diskGb: 1, extraSpecs: {} },
      { id: '2', name: 'flavor-2', vcpus: 2, ramMb: 512, diskGb: 1, extraSpecs: {} },
      { id: '2', name: 'flavor-2', vcpus: 2, ramMb: 512, diskGb: 1, extraSpecs: {} },
      {
        id: '3',
        name: 'flavor-3',
        vcpus: 3,
        ramMb: 512,
        diskGb: 1,
        extraSpecs: { 'hw:cpu_policy': 'dedicated' },
      },
    ]);
    expect(result[0]?.locked).toBe(false);
    expect(fake.novaRequests('GET', '/flavors/2')).toHaveLength(1);
    expect(fake.novaRequests('GET', '/flavors/3')).toHaveLength(1);
    await client.listServersOnHost('compute1');
    expect(fake.novaRequests('GET', '/flavors/2')).toHaveLength(1);
  });

  it('explains a deleted flavor below 2.47', async () => {
    const { fake, client } = await setup({}, { computeApiVersion: '2.40' });
    fake.on('GET', '/servers/s9', () => ({
      status: 200,
      body: { server: novaServer({ id: 's9' }, '2.40') },
    }));
    fake.on('GET', '/os-server-groups', () => ({ status: 200, body: { server_groups: [] } }));
    fake.on('GET', '/flavors/2', () => ({
      status: 404,
      body: { itemNotFound: { code: 404, message: 'Flavor 2 could not be found.' } },
    }));
    const error = await failure(client.getServer('s9'));
    expect(error).toBeInstanceOf(OpenStackError);
    expect(error).toMatchObject({ kind: 'not_found', serviceMessage: 'Flavor 2 could not be found.' });
    expect((error as OpenStackError).detail).toMatch(/flavor 2 of server s9 no longer exists/);
  });

  it('takes server groups from the server at 2.71+ without listing groups', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    fake.on('GET', '/servers/s1', () => ({
      status: 200,
      body: { server: novaServer({ id: 's1', server_groups: ['g7'] }) },
    }));
    expect((await client.getServer('s1')).serverGroupIds).toEqual(['g7']);
    expect(fake.novaRequests('GET', '/os-server-groups')).toHaveLength(0);
  });

  it('names the operation and the bad field of an unexpected body', async () => {
    const { fake, client } = await setup();
    fake.on('GET', '/servers/detail', () => ({
      status: 200,
      headers: { 'x-openstack-request-id': 'req-bad' },
      body: { servers: [novaServer({ id: 'ok' }), novaServer({ id: 'bad', status: 7 })] },
    }));
    const error = await failure(client.listServersOnHost('compute1'));
    expect(error).toBeInstanceOf(OpenStackError);
    expect(error).toMatchObject({
      kind: 'invalid_response',
      operation: 'listServersOnHost',
      requestId: 'req-bad',
    });
    expect(error.message).toMatch(
      /^listServersOnHost failed \(HTTP 200\): unexpected response: servers\[1\]\.status: /,
    );
  });

  it('accepts unknown fields and the no-timezone timestamps Nova writes', async () => {
    const { fake, client } = await setup();
    fake.on('GET', '/servers/s1', () => ({
      status: 200,
      body: {
        server: {
          ...novaServer({ id: 's1', server_groups: [] }),
          'OS-EXT-SRV-ATTR:brand_new_field': { x: 1 },
          pinned_availability_zone: 'az1',
        },
      },
    }));
    await expect(client.getServer('s1')).resolves.toMatchObject({ id: 's1' });
  });
});

describe('server actions', () => {
  it.each([
    ['2.93', { host: 'compute2' }, { 'os-migrateLive': { host: 'compute2', block_migration: 'auto' } }],
    [
      '2.60',
      { host: 'compute2' },
      { 'os-migrateLive': { host: 'compute2', block_migration: 'auto', force: false } },
    ],
    ['2.20', {}, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } }],
  ])('live-migrates at %s with the right body', async (version, options, body) => {
    const { fake, client } = await setup({}, { computeApiVersion: version });
    fake.on('POST', '/servers/s1/action', () => ({
      status: 202,
      headers: { 'x-openstack-request-id': 'req-lm' },
    }));
    expect(await client.liveMigrate('s1', options)).toEqual({ requestId: 'req-lm' });
    expect(fake.novaRequests('POST', '/servers/s1/action')[0]).toMatchObject({ body, microversion: version });
  });

  it('evacuates at 2.14+ and reads no body; below 2.14 ignores adminPass', async () => {
    const modern = await setup({ maxVersion: '2.93' });
    modern.fake.on('POST', '/servers/s1/action', () => ({
      status: 200,
      text: '',
      headers: { 'Content-Type': 'application/json' },
    }));
    await expect(modern.client.evacuate('s1')).resolves.toMatchObject({
      requestId: expect.stringMatching(/^req-/),
    });
    expect(modern.fake.novaRequests('POST')[0]?.body).toEqual({ evacuate: {} });

    const old = await setup({}, { computeApiVersion: '2.13' });
    old.fake.on('POST', '/servers/s1/action', () => ({
      status: 200,
      body: { adminPass: 'generated-admin-pass' },
    }));
    const receipt = await old.client.evacuate('s1', { host: 'compute3' });
    expect(JSON.stringify(receipt)).not.toContain('generated-admin-pass');
    expect(old.fake.novaRequests('POST')[0]?.body).toEqual({
      evacuate: { host: 'compute3', onSharedStorage: false },
    });
  });

  it('cold-migrates and confirms', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    fake.on('POST', '/servers/s1/action', (request) => ({
      status: 'confirmResize' in (request.body as object) ? 204 : 202,
    }));
    await client.coldMigrate('s1');
    await client.coldMigrate('s1', { host: 'compute3' });
    await client.confirmResize('s1');
    expect(fake.novaRequests('POST').map((request) => request.body)).toEqual([
      { migrate: null },
      { migrate: { host: 'compute3' } },
      { confirmResize: null },
    ]);
  });

  it('refuses a cold-migration target host below 2.56 before sending anything', async () => {
    const { fake, client } = await setup({}, { computeApiVersion: '2.55' });
    const error = await failure(client.coldMigrate('s1', { host: 'compute3' }));
    expect(error).toBeInstanceOf(MicroversionError);
    expect(error).toMatchObject({ operation: 'coldMigrate', kind: 'bad_request', sent: false });
    expect(error.message).toMatch(
      /^coldMigrate failed: cold migration to a named host needs compute API 2\.56 or later \(using 2\.55\)/,
    );
    expect(fake.novaRequests('POST')).toHaveLength(0);
  });

  it('surfaces Nova’s refusal with its text and request id', async () => {
    const { fake, client } = await setup();
    fake.on('POST', '/servers/s1/action', () => ({
      status: 400,
      headers: { 'x-openstack-request-id': 'req-still-in-use' },
      body: { badRequest: { code: 400, message: 'Compute service of compute1 is still in use.' } },
    }));
    const error = await failure(client.evacuate('s1'));
    expect(error).toMatchObject({
      kind: 'bad_request',
      status: 400,
      operation: 'evacuate',
      serviceMessage: 'Compute service of compute1 is still in use.',
      requestId: 'req-still-in-use',
      method: 'POST',
    });
  });

  it('lists live migrations with progress, aborts and forces completion', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    fake.on('GET', '/servers/s1/migrations', () => ({
      status: 200,
      body: {
        migrations: [
          {
            id: 42,
            uuid: 'm-uuid',
            server_uuid: 's1',
            status: 'running',
            source_compute: 'compute1',
            dest_compute: 'compute2',
            source_node: 'compute1',
            dest_node: 'compute2',
            dest_host: '10.0.0.2',
            memory_total_bytes: 4096,
            memory_processed_bytes: 1024,
            memory_remaining_bytes: 3072,
            disk_total_bytes: 0,
            disk_processed_bytes: 0,
            disk_remaining_bytes: 0,
            created_at: '2026-11-27T10:43:24.000000',
            updated_at: null,
          },
        ],
      },
    }));
    fake.on('DELETE', '/servers/s1/migrations/42', () => ({ status: 202 }));
    fake.on('POST', '/servers/s1/migrations/42/action', () => ({ status: 202 }));
    expect(await client.listLiveMigrations('s1')).toEqual([
      {
        id: 42,
        serverId: 's1',
        status: 'running',
        sourceCompute: 'compute1',
        destCompute: 'compute2',
        memoryTotalBytes: 4096,
        memoryProcessedBytes: 1024,
        memoryRemainingBytes: 3072,
        diskTotalBytes: 0,
        diskProcessedBytes: 0,
        diskRemainingBytes: 0,
        createdAt: '2026-11-27T10:43:24.000000',
        updatedAt: null,
      },
    ]);
    await client.abortLiveMigration('s1', 42);
    await client.forceCompleteLiveMigration('s1', 42);
    expect(fake.novaRequests('POST', '/servers/s1/migrations/42/action')[0]?.body).toEqual({
      force_complete: null,
    });
    expect(fake.novaRequests('DELETE', '/servers/s1/migrations/42')).toHaveLength(1);
    await expect(client.abortLiveMigration('s1', -1)).rejects.toThrow(
      /migrationId must be a non-negative integer/,
    );
  });

  it('says which version the migration APIs need', async () => {
    const { client } = await setup({}, { computeApiVersion: '2.21' });
    await expect(client.listLiveMigrations('s1')).rejects.toThrow(/needs compute API 2\.23/);
    await expect(client.abortLiveMigration('s1', 1)).rejects.toThrow(/needs compute API 2\.24/);
    await expect(client.forceCompleteLiveMigration('s1', 1)).rejects.toThrow(/needs compute API 2\.22/);
  });
});

function novaMigration(id: number, overrides: Record<string, unknown> = {}) {
  return {
    id,
    uuid: `mig-${id}`,
    instance_uuid: 's1',
    migration_type: 'live-migration',
    status: 'completed',
    source_compute: 'compute1',
    dest_compute: 'compute2',
    source_node: 'compute1',
    dest_node: 'compute2',
    dest_host: '127.0.0.1',
    old_instance_type_id: 1,
    new_instance_type_id: 1,
    created_at: '2026-11-27T10:43:24.000000',
    updated_at: '2026-11-27T10:43:27.000000',
    ...overrides,
  };
}

describe('migration records and instance actions', () => {
  it('filters, paginates by uuid and maps records', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { pageSize: 2 });
    const records = [novaMigration(3), novaMigration(2, { source_compute: 'compute10' }), novaMigration(1)];
    fake.on('GET', '/os-migrations', (request) => {
      const marker = request.query.get('marker');
      const start = marker === null ? 0 : records.findIndex((record) => record.uuid === marker) + 1;
      const page = records.slice(start, start + 2);
      return {
        status: 200,
        body: {
          migrations: page,
          migrations_links:
            page.length === 2
              ? [{ rel: 'next', href: `http://x/v2.1/os-migrations?limit=2&marker=${page.at(-1)?.uuid}` }]
              : undefined,
        },
      };
    });
    const result = await client.listMigrations({
      instanceId: 's1',
      migrationType: 'live-migration',
      sourceCompute: 'compute1',
      changesSince: '2026-11-27T10:00:00Z',
    });
    expect(result.map((record) => record.id)).toEqual([3, 1]);
    expect(result[0]).toEqual({
      id: 3,
      uuid: 'mig-3',
      instanceId: 's1',
      migrationType: 'live-migration',
      status: 'completed',
      sourceCompute: 'compute1',
      destCompute: 'compute2',
      sourceNode: 'compute1',
      destNode: 'compute2',
      createdAt: '2026-11-27T10:43:24.000000',
      updatedAt: '2026-11-27T10:43:27.000000',
    });
    const first = fake.novaRequests('GET', '/os-migrations')[0];
    expect(Object.fromEntries(first?.query ?? [])).toEqual({
      instance_uuid: 's1',
      migration_type: 'live-migration',
      source_compute: 'compute1',
      'changes-since': '2026-11-27T10:00:00Z',
      limit: '2',
    });
    expect(fake.novaRequests('GET', '/os-migrations')[1]?.query.get('marker')).toBe('mig-2');
  });

  it('filters changes-since itself below 2.59 and fills the type from the query below 2.23', async () => {
    const { fake, client } = await setup({}, { computeApiVersion: '2.20' });
    fake.on('GET', '/os-migrations', () => ({
      status: 200,
      body: {
        migrations: [
          {
            ...novaMigration(1, { updated_at: '2026-11-27T09:00:00.000000' }),
            uuid: undefined,
            migration_type: undefined,
          },
          { ...novaMigration(2), uuid: undefined, migration_type: undefined },
        ],
      },
    }));
    const result = await client.listMigrations({
      migrationType: 'evacuation',
      changesSince: '2026-11-27T10:00:00Z',
    });
    expect(result).toHaveLength(1);
    expect(result[0]).toMatchObject({ id: 2, uuid: null, migrationType: 'evacuation' });
    const query = fake.novaRequests('GET', '/os-migrations')[0]?.query;
    expect(query?.has('changes-since')).toBe(false);
    expect(query?.has('limit')).toBe(false);
  });

  it('lists instance actions across pages and reads one with its events', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { pageSize: 1 });
    const actions = [
      {
        action: 'live-migration',
        instance_uuid: 's1',
        request_id: 'req-2',
        user_id: 'u',
        project_id: 'p',
        start_time: '2026-11-27T10:43:30.000000',
        message: 'Error',
        updated_at: '2026-11-27T10:43:30.000000',
      },
      {
        action: 'create',
        instance_uuid: 's1',
        request_id: 'req-1',
        user_id: 'u',
        project_id: 'p',
        start_time: '2026-11-27T10:35:58.000000',
        message: null,
        updated_at: '2026-11-27T10:36:00.000000',
      },
    ];
    fake.on('GET', '/servers/s1/os-instance-actions', (request) => {
      const marker = request.query.get('marker');
      const index = marker === null ? 0 : actions.findIndex((action) => action.request_id === marker) + 1;
      const page = actions.slice(index, index + 1);
      return {
        status: 200,
        body: {
          instanceActions: page,
          links: page.length ? [{ rel: 'next', href: `http://x?marker=${page[0]?.request_id}` }] : [],
        },
      };
    });
    fake.on('GET', '/servers/s1/os-instance-actions/req-2', () => ({
      status: 200,
      body: {
        instanceAction: {
          ...actions[0],
          events: [
            {
              event: 'compute_live_migration',
              start_time: '2026-11-27T10:43:30.000000',
              finish_time: '2026-11-27T10:43:31.000000',
              result: 'Error',
              traceback: 'Traceback...',
              host: 'compute1',
              hostId: 'h',
              details: 'libvirtError: operation failed',
            },
          ],
        },
      },
    }));
    const list = await client.listInstanceActions('s1');
    expect(list.map((action) => action.requestId)).toEqual(['req-2', 'req-1']);
    expect(list[0]?.events).toEqual([]);
    const detail = await client.getInstanceAction('s1', 'req-2');
    expect(detail).toMatchObject({ action: 'live-migration', message: 'Error' });
    expect(detail.events).toEqual([
      {
        event: 'compute_live_migration',
        startTime: '2026-11-27T10:43:30.000000',
        finishTime: '2026-11-27T10:43:31.000000',
        result: 'Error',
        traceback: 'Traceback...',
        details: 'libvirtError: operation failed',
        host: 'compute1',
      },
    ]);
  });
});

describe('pollChanges', () => {
  function changesRoutes(fake: FakeOpenStack) {
    fake.on('GET', '/servers/detail', () => ({
      status: 200,
      body: {
        servers: [
          novaServer({
            id: 's1',
            status: 'MIGRATING',
            'OS-EXT-STS:task_state': 'migrating',
            updated: '2026-11-27T10:50:00Z',
          }),
          novaServer({ id: 's2', status: 'DELETED', updated: '2026-11-27T10:49:00Z' }),
        ],
      },
    }));
    fake.on('GET', '/os-migrations', () => ({
      status: 200,
      body: {
        migrations: [novaMigration(9, { status: 'running', updated_at: '2026-11-27T10:50:30.000000' })],
      },
    }));
  }

  it('makes one servers request and one migrations request', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' });
    changesRoutes(fake);
    await client.microversions();
    const snapshot = await client.pollChanges('2026-11-27T10:45:00.123Z');
    expect(snapshot.requests).toBe(2);
    expect(snapshot.servers.map((server) => [server.id, server.status, server.taskState])).toEqual([
      ['s1', 'MIGRATING', 'migrating'],
      ['s2', 'DELETED', null],
    ]);
    expect(snapshot.migrations.map((migration) => migration.id)).toEqual([9]);
    const servers = fake.novaRequests('GET', '/servers/detail')[0];
    expect(Object.fromEntries(servers?.query ?? [])).toEqual({
      all_tenants: '1',
      'changes-since': '2026-11-27T10:45:00Z',
      limit: '1000',
    });
    expect(fake.novaRequests('GET', '/os-migrations')[0]?.query.get('changes-since')).toBe(
      '2026-11-27T10:45:00Z',
    );
    expect(fake.novaRequests('GET', '/os-server-groups')).toHaveLength(0);
  });

  it('takes nextSince from the server clock, backdated', async () => {
    const { fake, client } = await setup({ maxVersion: '2.93' }, { changesBackdateMs: 5000 });
    changesRoutes(fake);
    const before = Date.now();
    const snapshot = await client.pollChanges('2026-11-27T10:45:00Z');
    const next = Date.parse(snapshot.nextSince);
    // The fake's Date header is its own (real) clock, to the second.
    expect(next).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 6000);
    expect(next).toBeLessThanOrEqual(Date.now() - 4000);
    expect(snapshot.nextSince).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('falls back to the newest change seen when Nova sends no Date header', async () => {
    const { fake, client } = await setup(
      { maxVersion: '2.93', sendDate: false },
      { changesBackdateMs: 5000 },
    );
    changesRoutes(fake);
    const snapshot = await client.pollChanges('2026-11-27T10:45:00Z');
    expect(snapshot.nextSince).toBe('2026-11-27T10:50:25Z');
    fake.on('GET', '/servers/detail', () => ({ status: 200, body: { servers: [] } }));
    fake.on('GET', '/os-migrations', () => ({ status: 200, body: { migrations: [] } }));
    expect((await client.pollChanges(snapshot.nextSince)).nextSince).toBe('2026-11-27T10:50:25Z');
  });

  it('rejects a since that is not a date', async () => {
    const { client } = await setup();
    await expect(client.pollChanges('yesterday')).rejects.toThrow(
      /since must be an ISO 8601 date-time, got "yesterday"/,
    );
  });
});
