/**
 * The compute client against real Nova (Zed): the microversion range the lab reports, the exact
 * list of a host's servers (checked against the real `openstack` CLI), and the compute-service
 * controls the engine relies on, at the newest microversion and through the pre-2.53 routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComputeClient } from '../../src/nova/compute-client.js';
import { OpenStackError } from '../../src/nova/errors.js';
import { Lab, COMPUTE_HOSTS, labCredentials, openstackCli, restoreLab } from './lab.js';

let lab: Lab;

beforeAll(async () => {
  lab = new Lab();
  await restoreLab(lab);
});

afterAll(async () => {
  if (!lab) return;
  await restoreLab(lab);
  lab.close();
});

describe('real Nova: microversions, services and servers', () => {
  it('starts from the range the lab reports: 2.1 to 2.93, and uses 2.93', async () => {
    expect(await lab.client.microversions()).toEqual({ min: '2.1', max: '2.93', chosen: '2.93' });
  });

  it('lists exactly the servers of a host, the same set as `openstack server list --host`', async () => {
    for (const host of COMPUTE_HOSTS) {
      const fromClient = await lab.client.listServersOnHost(host);
      const fromCli = (await openstackCli([
        'server',
        'list',
        '--all-projects',
        '--host',
        host,
        '-c',
        'ID',
      ])) as { ID: string }[];
      expect(fromClient.map((s) => s.id).sort(), host).toEqual(fromCli.map((s) => s.ID).sort());
      expect(fromClient.length, `${host} has the lab's servers`).toBeGreaterThan(0);
      for (const server of fromClient) {
        expect(server.host).toBe(host);
        expect(server.hypervisorHostname).toBe(host);
        expect(server.flavor).toMatchObject({ name: 'm1.tiny', vcpus: 1, ramMb: 64, diskGb: 1 });
      }
    }
    // Nova's host filter is exact; a prefix of a real host name matches nothing.
    expect(await lab.client.listServersOnHost('compute')).toEqual([]);
    expect(await lab.client.findComputeService('compute')).toBeNull();
  });

  it('reads the same servers at 2.1 (flavor looked up by id) as at 2.93', async () => {
    const old = createComputeClient(labCredentials(), { computeApiVersion: '2.1', timeoutMs: 60_000 });
    try {
      expect((await old.microversions()).chosen).toBe('2.1');
      const atOld = await old.listServersOnHost('compute1');
      const atNew = await lab.client.listServersOnHost('compute1');
      expect(atOld.map((s) => s.id).sort()).toEqual(atNew.map((s) => s.id).sort());
      for (const server of atOld) {
        const same = atNew.find((s) => s.id === server.id);
        expect(server.flavor).toMatchObject({ name: 'm1.tiny', vcpus: 1, ramMb: 64 });
        expect({ host: server.host, status: server.status }).toEqual({
          host: same?.host,
          status: same?.status,
        });
      }
    } finally {
      old.close();
    }
  });

  it('disables a compute service with a reason and enables it again (2.53+, by UUID)', async () => {
    const service = await lab.service('compute2');
    const reason = `real-Nova suite ${Date.now()}`;
    const disabled = await lab.client.disableComputeService(service, reason);
    expect(disabled).toMatchObject({ host: 'compute2', status: 'disabled', disabledReason: reason });
    const cli = (await openstackCli([
      'compute',
      'service',
      'list',
      '--service',
      'nova-compute',
      '--long',
    ])) as {
      Host: string;
      Status: string;
      'Disabled Reason': string | null;
    }[];
    expect(cli.find((row) => row.Host === 'compute2')).toMatchObject({
      Status: 'disabled',
      'Disabled Reason': reason,
    });
    const enabled = await lab.client.enableComputeService(disabled);
    expect(enabled).toMatchObject({ host: 'compute2', status: 'enabled', disabledReason: null });
    expect(await lab.service('compute2')).toMatchObject({ status: 'enabled', state: 'up' });
  });

  it('drives the same controls through the old routes at 2.52 (host + binary, force-down)', async () => {
    const old = createComputeClient(labCredentials(), { computeApiVersion: '2.52', timeoutMs: 60_000 });
    try {
      const service = await old.findComputeService('compute2');
      expect(service).not.toBeNull();
      if (!service) return;
      // before 2.53 the id is Nova's integer id; the client keeps it as text
      expect(service.id).toMatch(/^\d+$/);
      const disabled = await old.disableComputeService(service, 'real-Nova suite, old route');
      expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'real-Nova suite, old route' });
      // forced_down makes Nova report the (running) service down at once; unsetting it brings it back
      const forced = await old.setForcedDown(disabled, true);
      expect(forced.forcedDown).toBe(true);
      expect(await lab.service('compute2')).toMatchObject({
        forcedDown: true,
        state: 'down',
        status: 'disabled',
      });
      const unforced = await old.setForcedDown(forced, false);
      expect(unforced.forcedDown).toBe(false);
      await old.enableComputeService(unforced);
      expect(await lab.waitForServiceState('compute2', 'up')).toMatchObject({
        status: 'enabled',
        forcedDown: false,
      });
    } finally {
      old.close();
    }
  });

  it("reports Nova's own words for a refused service change", async () => {
    const service = await lab.service('compute2');
    const unknown = { ...service, id: '00000000-0000-0000-0000-000000000000' };
    const error = await lab.client.enableComputeService(unknown).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenStackError);
    expect(error).toMatchObject({
      status: 404,
      kind: 'not_found',
      serviceMessage: 'Service 00000000-0000-0000-0000-000000000000 could not be found.',
    });
    expect((error as OpenStackError).requestId).toMatch(/^req-/);
  });
});
