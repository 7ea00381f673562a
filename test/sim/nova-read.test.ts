import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, generateScenario, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { Nova, getToken, http, serverId } from './helpers.js';

let clock: ManualClock;
let sim: SimCloud;
let nova: Nova;

beforeAll(async () => {
  clock = new ManualClock();
  sim = await startSimCloud({ clock });
  nova = await Nova.admin(sim, '2.90');
});

afterAll(async () => {
  await sim.close();
});

describe('versions and microversions', () => {
  it('serves the version documents without a token', async () => {
    const root = await http('GET', `${sim.url}/compute/`);
    expect(root.json.versions.map((v: { id: string }) => v.id)).toEqual(['v2.0', 'v2.1']);
    const v21 = await http('GET', sim.computeUrl);
    expect(v21.json.version).toMatchObject({
      id: 'v2.1',
      version: '2.96',
      min_version: '2.1',
      status: 'CURRENT',
    });
    expect((await http('GET', `${sim.computeUrl}/`)).status).toBe(200);
  });

  it('defaults to 2.1, accepts both headers and latest, echoes the version, and stamps request ids', async () => {
    const plain = await http('GET', `${sim.computeUrl}/os-services`, {
      headers: { 'X-Auth-Token': nova.token },
    });
    expect(plain.headers.get('openstack-api-version')).toBe('compute 2.1');
    expect(plain.json.services[2].id).toBe(3);
    const legacy = await http('GET', `${sim.computeUrl}/os-services`, {
      headers: { 'X-Auth-Token': nova.token, 'X-OpenStack-Nova-API-Version': '2.53' },
    });
    expect(legacy.headers.get('x-openstack-nova-api-version')).toBe('2.53');
    expect(typeof legacy.json.services[2].id).toBe('string');
    const latest = await nova.at('latest').get('/os-services');
    expect(latest.headers.get('openstack-api-version')).toBe('compute 2.96');
    expect(latest.headers.get('vary')).toContain('OpenStack-API-Version');
    const id = latest.headers.get('x-openstack-request-id');
    expect(id).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(latest.headers.get('x-compute-request-id')).toBe(id);
  });

  it('answers 406 out of range and 400 for a malformed version', async () => {
    const high = await nova.at('2.97').get('/servers');
    expect(high.status).toBe(406);
    expect(high.json).toEqual({
      computeFault: {
        code: 406,
        message: 'Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96.',
      },
    });
    const bad = await nova.at('2.x').get('/servers');
    expect(bad.status).toBe(400);
    expect(bad.json.badRequest.message).toBe(
      'API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.',
    );
  });

  it('mimics Zed when the scenario caps the microversion at 2.93', async () => {
    const zed = await startSimCloud({
      clock,
      scenario: { ...sim.scenario, settings: { ...sim.scenario.settings, max_microversion: '2.93' } },
    });
    try {
      const n = await Nova.admin(zed, '2.95');
      const r = await n.get('/servers');
      expect(r.status).toBe(406);
      expect(r.json.computeFault.message).toBe(
        'Version 2.95 is not supported by the API. Minimum is 2.1 and maximum is 2.93.',
      );
    } finally {
      await zed.close();
    }
  });

  it('answers unknown routes with the HTML 404 and unknown servers with itemNotFound', async () => {
    const route = await nova.get('/nosuch');
    expect(route.status).toBe(404);
    expect(route.headers.get('content-type')).toContain('text/html');
    const server = await nova.get('/servers/nope');
    expect(server.json).toEqual({
      itemNotFound: { code: 404, message: 'Instance nope could not be found.' },
    });
  });
});

describe('servers', () => {
  it('lists one host exactly (host-1 is not host-10), all projects, including ERROR servers', async () => {
    const r = await nova.get('/servers/detail?all_tenants=1&host=host-1');
    const names = r.json.servers.map((s: { name: string }) => s.name).sort();
    expect(names).toEqual([
      'batch-1',
      'bfv-1',
      'broken-1',
      'db-primary',
      'db-replica-1',
      'paused-1',
      'pinned-1',
      'web-1',
      'web-2',
      'web-3',
    ]);
    expect(r.json.servers.every((s: Record<string, unknown>) => s['OS-EXT-SRV-ATTR:host'] === 'host-1')).toBe(
      true,
    );
    const ten = await nova.get('/servers/detail?all_tenants=True&host=host-10');
    expect(ten.json.servers).toHaveLength(4);
  });

  it('scopes non-admins to their project and forbids all_tenants', async () => {
    const alice = new Nova(sim, await getToken(sim, 'alice', 'alice', 'web'), '2.90');
    const own = await alice.get('/servers/detail?host=host-99');
    expect(own.status).toBe(200);
    const projects = new Set(own.json.servers.map((s: { tenant_id: string }) => s.tenant_id));
    expect(projects.size).toBe(1);
    expect(own.json.servers.length).toBeGreaterThan(5); // the host filter is admin-only and ignored
    expect(own.json.servers[0]).not.toHaveProperty('OS-EXT-SRV-ATTR:host');
    expect(own.json.servers[0]).not.toHaveProperty('host_status');
    const all = await alice.get('/servers/detail?all_tenants=1');
    expect(all.status).toBe(403);
    expect(all.json.forbidden.message).toBe(
      "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed.",
    );
    expect((await alice.get('/os-services')).status).toBe(403);
    expect((await alice.get('/os-hypervisors/detail')).status).toBe(403);
    expect((await alice.get('/os-migrations')).status).toBe(403);
  });

  it('filters by status and name (regex), and rejects bad filters', async () => {
    const shutoff = await nova.get('/servers/detail?all_tenants=1&status=SHUTOFF');
    expect(shutoff.json.servers.map((s: { name: string }) => s.name).sort()).toEqual([
      'db-replica-1',
      'stopped-3',
      'tools-10',
    ]);
    const byName = await nova.get('/servers?all_tenants=1&name=^web-b-');
    expect(byName.json.servers.map((s: { name: string }) => s.name).sort()).toEqual(['web-b-1', 'web-b-2']);
    expect(Object.keys(byName.json.servers[0]).sort()).toEqual(['id', 'links', 'name']);
    expect((await nova.get('/servers?status=BOGUS')).json.badRequest.message).toBe('Invalid status value');
    expect((await nova.at('2.37').get('/servers?status=BOGUS')).json).toEqual({ servers: [] });
    expect((await nova.get('/servers?changes-since=yesterday')).json.badRequest.message).toBe(
      'Invalid filter field: changes-since.',
    );
    expect((await nova.get('/servers?limit=-1')).status).toBe(400);
    expect((await nova.get('/servers?marker=nope')).json.badRequest.message).toBe('marker [nope] not found');
  });

  it('paginates with limit/marker and a next link', async () => {
    const seen: string[] = [];
    let url: string | null = `/servers?all_tenants=1&limit=15`;
    let pages = 0;
    while (url) {
      const r = await nova.get(url);
      seen.push(...r.json.servers.map((s: { id: string }) => s.id));
      const next = r.json.servers_links?.find((l: { rel: string }) => l.rel === 'next')?.href as
        string | undefined;
      url = next ? next.slice(sim.computeUrl.length) : null;
      pages++;
    }
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(40);
  });

  it('caps pages at max_limit (1000) for big clouds', async () => {
    const big = await startSimCloud({
      clock,
      scenario: generateScenario({
        hosts: 3,
        serversPerHost: 400,
        loadedHosts: ['host-1', 'host-2', 'host-3'],
      }),
    });
    try {
      const n = await Nova.admin(big);
      const first = await n.get('/servers?all_tenants=1');
      expect(first.json.servers).toHaveLength(1000);
      expect(first.json.servers_links[0].href).toContain('limit=1000');
      const onHost = await n.get('/servers/detail?all_tenants=1&host=host-2');
      expect(onHost.json.servers).toHaveLength(400);
    } finally {
      await big.close();
    }
  });

  it('reports changes since a time, deleted servers included', async () => {
    const before = new Date(clock.now()).toISOString();
    clock.advance(1000);
    const id = serverId(sim, 'tools-2');
    const alice = serverId(sim, 'web-7');
    expect((await nova.request('DELETE', `/servers/${id}`)).status).toBe(204);
    await nova.action(alice, { lock: { locked_reason: 'audit' } });
    const changed = await nova.get(
      `/servers/detail?all_tenants=1&changes-since=${encodeURIComponent(before)}`,
    );
    const byName = Object.fromEntries(
      changed.json.servers.map((s: { name: string; status: string }) => [s.name, s.status]),
    );
    expect(byName).toEqual({ 'tools-2': 'DELETED', 'web-7': 'ACTIVE' });
    expect((await nova.get(`/servers/${id}`)).status).toBe(404);
    const normal = await nova.get('/servers?all_tenants=1');
    expect(normal.json.servers.map((s: { id: string }) => s.id)).not.toContain(id);
    const later = await nova.get(
      `/servers/detail?all_tenants=1&changes-since=${encodeURIComponent(new Date(clock.now() + 1000).toISOString())}`,
    );
    expect(later.json.servers).toEqual([]);
    await nova.action(alice, { unlock: null });
  });

  it('shows the fields each microversion has', async () => {
    const id = serverId(sim, 'db-primary');
    const v21 = await nova.at('2.1').server(id);
    expect(v21.flavor).toMatchObject({ id: '4' });
    expect(v21).not.toHaveProperty('locked');
    expect(v21).not.toHaveProperty('OS-EXT-SRV-ATTR:hostname');
    const v29 = await nova.at('2.9').server(id);
    expect(v29.locked).toBe(true);
    expect(v29).not.toHaveProperty('locked_reason');
    const v247 = await nova.at('2.47').server(id);
    expect(v247.flavor).toEqual({
      vcpus: 4,
      ram: 8192,
      disk: 80,
      ephemeral: 0,
      swap: 0,
      original_name: 'm1.large',
      extra_specs: {},
    });
    expect(await nova.at('2.70').server(id)).not.toHaveProperty('server_groups');
    const v273 = await nova.at('2.73').server(id);
    expect(v273.locked_reason).toBe('primary database, page the DBA');
    const web1 = await nova.at('2.71').server(serverId(sim, 'web-1'));
    const groups = (await nova.get('/os-server-groups?all_projects=true')).json.server_groups;
    const anti = groups.find((g: { name: string }) => g.name === 'web-anti-affinity');
    expect(web1.server_groups).toEqual([anti.id]);
    const list = await nova.at('2.71').get('/servers/detail?all_tenants=1&name=^web-1$');
    expect(list.json.servers[0]).not.toHaveProperty('server_groups');
    expect((await nova.at('2.96').server(serverId(sim, 'web-b-1'))).pinned_availability_zone).toBe('az-b');
  });

  it('shows boot-from-volume, faults, pinned extra specs and host_status', async () => {
    const bfv = await nova.server(serverId(sim, 'bfv-1'));
    expect(bfv.image).toBe('');
    expect(bfv['os-extended-volumes:volumes_attached']).toHaveLength(2);
    const broken = await nova.server(serverId(sim, 'broken-1'));
    expect(broken).toMatchObject({
      status: 'ERROR',
      fault: { code: 500, message: 'Instance failed to spawn' },
    });
    const ok = await nova.server(serverId(sim, 'web-2'));
    expect(ok).not.toHaveProperty('fault');
    expect(ok.host_status).toBe('UP');
    const pinned = await nova.server(serverId(sim, 'pinned-1'));
    expect(pinned.flavor.extra_specs).toEqual({ 'hw:cpu_policy': 'dedicated' });
    const shelved = await nova.server(serverId(sim, 'shelved-1'));
    expect(shelved).toMatchObject({
      status: 'SHELVED_OFFLOADED',
      'OS-EXT-SRV-ATTR:host': null,
      host_status: '',
    });
  });
});

describe('admin read APIs', () => {
  it('lists services with host/binary filters', async () => {
    const all = await nova.get('/os-services');
    expect(all.json.services).toHaveLength(9);
    const one = await nova.get('/os-services?host=host-1&binary=nova-compute');
    expect(one.json.services).toHaveLength(1);
    expect(one.json.services[0]).toMatchObject({
      binary: 'nova-compute',
      host: 'host-1',
      zone: 'nova',
      status: 'enabled',
      state: 'up',
      forced_down: false,
    });
    expect(one.json.services[0].updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect((await nova.at('2.10').get('/os-services?host=host-1')).json.services[0]).not.toHaveProperty(
      'forced_down',
    );
  });

  it('shows hypervisor capacity below 2.88 and not from 2.88', async () => {
    const old = await nova.at('2.87').get('/os-hypervisors/detail');
    const h1 = old.json.hypervisors.find(
      (h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'host-1',
    );
    expect(h1).toMatchObject({
      vcpus: 32,
      memory_mb: 131072,
      running_vms: 10,
      state: 'up',
      status: 'enabled',
    });
    expect(h1.vcpus_used).toBeGreaterThan(0);
    const now = await nova.at('2.88').get('/os-hypervisors/detail');
    expect(now.json.hypervisors[0]).not.toHaveProperty('vcpus');
    expect(now.json.hypervisors[0]).toHaveProperty('uptime');
    expect((await nova.at('2.1').get('/os-hypervisors/detail')).json.hypervisors[0].id).toBe(1);
  });

  it('searches hypervisors by substring, the way `nova host-evacuate-live` sees them', async () => {
    const modern = await nova.get('/os-hypervisors?hypervisor_hostname_pattern=host-1&with_servers=true');
    const names = modern.json.hypervisors
      .map((h: { hypervisor_hostname: string }) => h.hypervisor_hostname)
      .sort();
    expect(names).toEqual(['host-1', 'host-10']);
    const h1 = modern.json.hypervisors.find(
      (h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'host-1',
    );
    expect(h1.servers).toHaveLength(10);
    expect(h1.servers[0]).toEqual({ name: expect.stringMatching(/^instance-/), uuid: expect.any(String) });
    const legacy = await nova.at('2.1').get('/os-hypervisors/host-1/servers');
    expect(legacy.json.hypervisors).toHaveLength(2);
    expect((await nova.at('2.53').get('/os-hypervisors/host-1/servers')).status).toBe(404);
    const none = await nova.get('/os-hypervisors?hypervisor_hostname_pattern=nope');
    expect(none.json.itemNotFound.message).toBe("No hypervisor matching 'nope' could be found.");
    const detail = await nova.get('/os-hypervisors/detail?with_servers=true');
    expect(
      detail.json.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'host-3')
        .servers,
    ).toHaveLength(5);
  });

  it('serves flavors, extra specs, server groups, AZs, limits and the Glance image list', async () => {
    const flavors = await nova.get('/flavors/detail');
    expect(flavors.json.flavors.map((f: { name: string }) => f.name)).toContain('c1.pinned');
    const spec = await nova.get('/flavors/30/os-extra_specs');
    expect(spec.json).toEqual({ extra_specs: { 'pci_passthrough:alias': 'a1:1' } });
    expect((await nova.get('/flavors/999')).json.itemNotFound.message).toBe('Flavor 999 could not be found.');
    const groups = await nova.at('2.64').get('/os-server-groups?all_projects=true');
    expect(groups.json.server_groups.find((g: { name: string }) => g.name === 'db-affinity')).toMatchObject({
      policy: 'affinity',
      rules: {},
    });
    const own = await nova.get('/os-server-groups');
    expect(own.json.server_groups).toEqual([]);
    const zones = await nova.get('/os-availability-zone');
    expect(zones.json.availabilityZoneInfo.map((z: { zoneName: string }) => z.zoneName).sort()).toEqual([
      'az-b',
      'nova',
    ]);
    const limits = await nova.get('/limits');
    const adminProject = sim.control.server('tools-1').projectId;
    const live = sim.control.state().servers.filter((x) => x.projectId === adminProject && !x.deleted);
    expect(limits.json.limits.absolute.totalInstancesUsed).toBe(live.length);
    expect(live.length).toBeGreaterThan(2);
    const images = await http('GET', `${sim.url}/image/v2/images`, {
      headers: { 'X-Auth-Token': nova.token },
    });
    expect(images.json.images.map((i: { name: string }) => i.name).sort()).toEqual([
      'cirros-0.6.2',
      'ubuntu-22.04',
    ]);
    expect((await http('GET', `${sim.url}/image/v2/images`)).status).toBe(401);
  });

  it('lists migrations with filters, paging and per-version fields', async () => {
    const c = new ManualClock();
    const s = await startSimCloud({ clock: c });
    try {
      const n = await Nova.admin(s);
      s.control.setMaxConcurrentLiveMigrations(5);
      for (const name of ['web-2', 'web-3', 'web-4']) await n.liveMigrate(serverId(s, name));
      c.advance(10_000);
      const since = new Date(c.now()).toISOString();
      c.advance(1000);
      await n.liveMigrate(serverId(s, 'batch-1'));
      c.advance(200);
      const all = await n.get('/os-migrations');
      expect(all.json.migrations).toHaveLength(4);
      expect(all.json.migrations[0]).toMatchObject({ migration_type: 'live-migration', status: 'preparing' });
      expect(all.json.migrations[0].links).toHaveLength(2);
      const fromHost1 = await n.get(
        '/os-migrations?source_compute=host-1&migration_type=live-migration&status=completed',
      );
      expect(fromHost1.json.migrations).toHaveLength(2);
      const recent = await n.get(`/os-migrations?changes-since=${encodeURIComponent(since)}`);
      expect(recent.json.migrations).toHaveLength(1);
      const page = await n.get('/os-migrations?limit=2');
      expect(page.json.migrations).toHaveLength(2);
      const next = page.json.migrations_links[0].href as string;
      const rest = await n.get(next.slice(s.computeUrl.length));
      expect(rest.json.migrations).toHaveLength(2);
      const old = await n.at('2.22').get('/os-migrations');
      expect(old.json.migrations[0]).not.toHaveProperty('migration_type');
      expect(old.json.migrations[0]).not.toHaveProperty('uuid');
      expect(old.json.migrations[0].id).toBe(1);
      expect((await n.at('2.80').get('/os-migrations')).json.migrations[0]).toHaveProperty('project_id');
    } finally {
      await s.close();
    }
  });
});
