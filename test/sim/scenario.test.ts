import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  ScenarioError,
  defaultScenarioPath,
  generateScenario,
  loadScenario,
  parseScenario,
  startSimCloud,
} from '../../src/sim/index.js';
import { Nova, serverId } from './helpers.js';

const minimal = `
name: tiny
projects: [{ name: admin }]
users: [{ name: admin, password: pw, project: admin, roles: [admin] }]
flavors: [{ id: "1", name: small, vcpus: 1, ram_mb: 512 }]
images: [{ name: cirros }]
hosts: [{ name: a, vcpus: 4, ram_mb: 4096 }, { name: b, vcpus: 4, ram_mb: 4096 }]
servers: [{ name: vm, project: admin, flavor: small, image: cirros, host: a }]
`;

describe('loadScenario', () => {
  it('loads the shipped default scenario with every kind of awkward server', () => {
    const scenario = parseScenario(loadScenario(defaultScenarioPath));
    expect(scenario.hosts.map((h) => h.name)).toContain('host-10');
    expect(scenario.servers.length).toBeGreaterThanOrEqual(35);
    const statuses = new Set(scenario.servers.map((s) => s.status));
    for (const status of ['ACTIVE', 'SHUTOFF', 'PAUSED', 'ERROR', 'SHELVED_OFFLOADED'])
      expect(statuses).toContain(status);
    expect(scenario.servers.some((s) => s.locked)).toBe(true);
    expect(scenario.servers.some((s) => s.boot_from_volume)).toBe(true);
    expect(scenario.flavors.some((f) => f.extra_specs['hw:cpu_policy'] === 'dedicated')).toBe(true);
    expect(scenario.flavors.some((f) => f.extra_specs['pci_passthrough:alias'])).toBe(true);
    expect(scenario.server_groups.some((g) => g.policy === 'anti-affinity')).toBe(true);
  });

  it('loads YAML text, JSON text and files, filling defaults', () => {
    const fromText = parseScenario(loadScenario(minimal));
    expect(fromText.settings.max_microversion).toBe('2.96');
    expect(fromText.settings.durations.live_migration).toBe(5);
    const fromJson = parseScenario(loadScenario(JSON.stringify(fromText)));
    expect(fromJson.hosts).toHaveLength(2);
    const dir = mkdtempSync(join(tmpdir(), 'sim-scenario-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, minimal);
    expect(parseScenario(loadScenario(file)).name).toBe('tiny');
  });

  it('names every problem with its path', () => {
    const broken = minimal
      .replace('host: a }', 'host: z, status: RUNNING }')
      .replace(
        'flavors: [{ id: "1", name: small, vcpus: 1, ram_mb: 512 }]',
        'flavors: [{ id: "1", name: small, vcpus: 0, ram_mb: 512 }]',
      );
    let message = '';
    try {
      loadScenario(broken);
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioError);
      message = (err as Error).message;
    }
    expect(message).toContain('flavors.0.vcpus');
    expect(message).toContain('servers.0.status');
    expect(() => loadScenario(minimal.replace('host: a }', 'host: z }'))).toThrow(
      /servers\.0\.host: unknown host "z"/,
    );
    expect(() => loadScenario(minimal.replace('name: b,', 'name: a,'))).toThrow(/duplicate host name "a"/);
    expect(() => loadScenario(minimal.replace('image: cirros, host', 'host'))).toThrow(
      /image is required unless boot_from_volume/,
    );
    expect(() => loadScenario(minimal + 'typo_field: 1\n')).toThrow(/Unrecognized key/);
    expect(() => loadScenario('/no/such/scenario.yaml')).toThrow(/scenario file not found/);
    expect(() => loadScenario('a: [1,\n')).toThrow(/not valid YAML/);
  });

  it('starts a cloud from a minimal scenario and from a file path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-scenario-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, minimal);
    const sim = await startSimCloud({ scenario: file, clock: new ManualClock() });
    try {
      expect(sim.credentials).toMatchObject({
        username: 'admin',
        password: 'pw',
        projectName: 'admin',
        regionName: 'RegionOne',
      });
      expect(sim.control.state().servers).toHaveLength(1);
    } finally {
      await sim.close();
    }
    await expect(startSimCloud({ timeScale: 0 })).rejects.toThrow(/timeScale must be > 0/);
  });
});

describe('generateScenario', () => {
  it('builds 250 servers on one host with room to drain them elsewhere', async () => {
    const scenario = generateScenario({ hosts: 4, serversPerHost: 250, loadedHosts: ['host-1'] });
    const clock = new ManualClock();
    const sim = await startSimCloud({ scenario, clock, timeScale: 0.01 });
    try {
      const nova = await Nova.admin(sim);
      const onHost = await nova.get('/servers/detail?all_tenants=1&host=host-1&limit=1000');
      expect(onHost.json.servers).toHaveLength(250);
      sim.control.setMaxConcurrentLiveMigrations(250);
      for (const s of onHost.json.servers.slice(0, 50))
        expect((await nova.liveMigrate(s.id)).status).toBe(202);
      clock.advance(1000);
      const done = sim.control.state().migrations.filter((m) => m.status === 'completed');
      expect(done).toHaveLength(50);
      expect(sim.control.counters().operations.total.max).toBe(50);
      expect(serverId(sim, 'host-1-vm-001')).toBeTruthy();
    } finally {
      await sim.close();
    }
    expect(() => generateScenario({ hosts: 0, serversPerHost: 1 })).toThrow(/hosts must be >= 1/);
    expect(() => generateScenario({ hosts: 2, serversPerHost: 1, loadedHosts: ['host-9'] })).toThrow(
      /unknown loaded host/,
    );
  });
});
