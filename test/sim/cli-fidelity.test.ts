/**
 * The real `openstack` (python-openstackclient 6.0) and `nova` (python-novaclient) CLIs against
 * the simulator: if they work unmodified, the sim speaks Keystone and Nova well enough for
 * any client built on the same API reference.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { eventually } from './helpers.js';

const run = promisify(execFile);

function cliAvailable(command: string): boolean {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return probe.status === 0;
}

const haveClis = cliAvailable('openstack') && cliAvailable('nova');
if (!haveClis) {
  console.warn(
    'cli-fidelity: skipped because the `openstack` and/or `nova` CLIs are not installed (apt install python3-openstackclient python3-novaclient)',
  );
}

let sim: SimCloud;

function cliEnv(): NodeJS.ProcessEnv {
  const c = sim.credentials;
  // Only what the CLIs need: nothing from the caller's OS_* environment (e.g. a real lab) leaks in.
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    OS_AUTH_URL: c.authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_AUTH_TYPE: 'password',
    OS_USERNAME: c.username,
    OS_PASSWORD: c.password,
    OS_PROJECT_NAME: c.projectName,
    OS_USER_DOMAIN_NAME: c.userDomainName,
    OS_PROJECT_DOMAIN_NAME: c.projectDomainName,
    OS_REGION_NAME: c.regionName,
    OS_INTERFACE: 'public',
  };
}

async function cli(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      env: cliEnv(),
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} exited ${e.code ?? '?'}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

describe.skipIf(!haveClis)('real OpenStack CLIs against the simulator', () => {
  beforeAll(async () => {
    // 0.02: a 5 s live migration takes 100 ms; `--wait` still polls every 5 real seconds.
    sim = await startSimCloud({ timeScale: 0.02, seed: 3 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('openstack compute service list', async () => {
    const out = await cli('openstack', ['compute', 'service', 'list', '-f', 'json']);
    const services = JSON.parse(out) as { Binary: string; Host: string; State: string; Status: string }[];
    expect(
      services
        .filter((s) => s.Binary === 'nova-compute')
        .map((s) => s.Host)
        .sort(),
    ).toEqual(
      sim.control
        .state()
        .hosts.map((h) => h.name)
        .sort(),
    );
    expect(services.every((s) => s.State === 'up' && s.Status === 'enabled')).toBe(true);
  });

  it('openstack server list --all-projects --host host-1 --long', async () => {
    const out = await cli('openstack', [
      'server',
      'list',
      '--all-projects',
      '--host',
      'host-1',
      '--long',
      '-f',
      'json',
    ]);
    const rows = JSON.parse(out) as { Name: string; Host: string; Status: string; 'Image Name': string }[];
    const expected = sim.control
      .state()
      .servers.filter((s) => s.host === 'host-1')
      .map((s) => s.name)
      .sort();
    expect(rows.map((r) => r.Name).sort()).toEqual(expected);
    expect(rows.every((r) => r.Host === 'host-1')).toBe(true);
    expect(rows.find((r) => r.Name === 'bfv-1')?.['Image Name']).toContain('booted from volume');
  });

  it('openstack compute service set --disable --disable-reason', async () => {
    await cli('openstack', [
      'compute',
      'service',
      'set',
      '--disable',
      '--disable-reason',
      'drain drill',
      'host-1',
      'nova-compute',
    ]);
    expect(sim.control.host('host-1')).toMatchObject({ status: 'disabled', disabledReason: 'drain drill' });
  });

  it('openstack server migrate --live-migration --wait', async () => {
    const id = sim.control.server('web-2').id;
    const out = await cli('openstack', [
      '--os-compute-api-version',
      '2.90',
      'server',
      'migrate',
      '--live-migration',
      '--wait',
      id,
    ]);
    expect(out).toContain('Complete');
    const server = sim.control.server(id);
    expect(server.status).toBe('ACTIVE');
    expect(server.host).not.toBe('host-1');
    expect(
      sim.control
        .state()
        .migrations.filter((m) => m.serverId === id)
        .at(-1)?.status,
    ).toBe('completed');
    expect(sim.control.counters().requests['POST /servers/{id}/action']).toBeGreaterThanOrEqual(1);
  });

  it('nova host-evacuate-live host-1', async () => {
    const out = await cli('nova', ['host-evacuate-live', 'host-1']);
    expect(out).toContain('Live Migration Accepted');
    // Only live-migratable servers leave; the CLI reports the others' 409s in its table.
    const movable = (s: { vmState: string }) => s.vmState === 'active' || s.vmState === 'paused';
    await eventually(
      () => {
        const left = sim.control.state().servers.filter((s) => s.host === 'host-1');
        return left.every((s) => !movable(s)) && sim.control.state().operations.length === 0
          ? true
          : undefined;
      },
      30_000,
      50,
    );
    const left = sim.control.state().servers.filter((s) => s.host === 'host-1');
    expect(left.map((s) => s.name).sort()).toEqual(['broken-1', 'db-replica-1']);
    expect(out).toContain(
      `Cannot 'os-migrateLive' instance ${sim.control.server('db-replica-1').id} while it is in vm_state stopped`,
    );
    // Without --strict the hypervisor search is a substring match: host-10 was drained too, as on a real cloud.
    expect(
      sim.control
        .state()
        .servers.filter((s) => s.host === 'host-10')
        .map((s) => s.name),
    ).toEqual(['tools-10']);
    const failures = sim.control
      .state()
      .migrations.filter((m) => m.status === 'error' || m.status === 'failed');
    expect(failures).toEqual([]);
  });
});
