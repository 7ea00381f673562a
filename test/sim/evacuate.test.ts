import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { Nova, serverId } from './helpers.js';

// Default durations: scheduling 0.2 s, evacuation 4 s; service_down_time 60 s.
let clock: ManualClock;
let sim: SimCloud;
let nova: Nova;

beforeEach(async () => {
  clock = new ManualClock();
  sim = await startSimCloud({ clock });
  nova = await Nova.admin(sim, '2.90');
});

afterEach(async () => {
  await sim.close();
});

const lastMigration = (id: string) =>
  sim.control
    .state()
    .migrations.filter((m) => m.serverId === id)
    .at(-1);

async function service(host: string) {
  const r = await nova.get(`/os-services?host=${host}&binary=nova-compute`);
  return r.json.services[0];
}

async function killHost(host: string) {
  sim.control.setHostAlive(host, false);
  clock.advance(61_000);
}

describe('compute service state', () => {
  it('turns down only service_down_time after the heartbeat stops', async () => {
    expect((await service('host-1')).state).toBe('up');
    sim.control.setHostAlive('host-1', false);
    clock.advance(59_000);
    expect((await service('host-1')).state).toBe('up');
    expect(sim.control.host('host-1')).toMatchObject({ alive: false, state: 'up' });
    clock.advance(2_000);
    expect((await service('host-1')).state).toBe('down');
    const server = await nova.server(serverId(sim, 'web-2'));
    expect(server.host_status).toBe('UNKNOWN');
    sim.control.setHostAlive('host-1', true);
    expect((await service('host-1')).state).toBe('up');
  });

  it('is down at once when forced down (2.53 PUT by uuid), and forced_down needs 2.53 on that route', async () => {
    const svc = await service('host-1');
    const put = await nova.request('PUT', `/os-services/${svc.id}`, { forced_down: true });
    expect(put.status).toBe(200);
    expect(put.json.service).toMatchObject({
      host: 'host-1',
      state: 'down',
      forced_down: true,
      status: 'enabled',
    });
    // Below 2.53 the path segment is an action name and the body needs host/binary (the lab saw 400).
    const old = await nova.at('2.52').request('PUT', `/os-services/${svc.id}`, { forced_down: true });
    expect(old.status).toBe(400);
    expect((await nova.server(serverId(sim, 'web-2'))).host_status).toBe('DOWN');
  });

  it('disables with a reason, and rejects bad updates with Nova texts', async () => {
    const svc = await service('host-1');
    const disable = await nova.request('PUT', `/os-services/${svc.id}`, {
      status: 'disabled',
      disabled_reason: 'maintenance',
    });
    expect(disable.json.service).toMatchObject({
      status: 'disabled',
      disabled_reason: 'maintenance',
      state: 'up',
    });
    const bad = await nova.request('PUT', `/os-services/${svc.id}`, {
      status: 'enabled',
      disabled_reason: 'x',
    });
    expect(bad.json.badRequest.message).toBe(
      "Specifying 'disabled_reason' with status 'enabled' is invalid.",
    );
    const nothing = await nova.request('PUT', `/os-services/${svc.id}`, {});
    expect(nothing.json.badRequest.message).toBe(
      "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
    );
    const notUuid = await nova.request('PUT', '/os-services/disable', {
      host: 'host-1',
      binary: 'nova-compute',
    });
    expect(notUuid.json.badRequest.message).toBe('Invalid uuid disable');
    const conductor = (await nova.get('/os-services?binary=nova-conductor')).json.services[0];
    const notCompute = await nova.request('PUT', `/os-services/${conductor.id}`, { status: 'disabled' });
    expect(notCompute.json.badRequest.message).toBe(
      'Updating a nova-conductor service is not supported. Only nova-compute services can be updated.',
    );
    expect((await nova.server(serverId(sim, 'web-2'))).host_status).toBe('MAINTENANCE');
  });

  it('supports the pre-2.53 action routes', async () => {
    const old = nova.at('2.11');
    const disable = await old.request('PUT', '/os-services/disable-log-reason', {
      host: 'host-2',
      binary: 'nova-compute',
      disabled_reason: 'old style',
    });
    expect(disable.json).toEqual({
      service: { host: 'host-2', binary: 'nova-compute', status: 'disabled', disabled_reason: 'old style' },
    });
    const missing = await old.request('PUT', '/os-services/disable-log-reason', {
      host: 'host-2',
      binary: 'nova-compute',
    });
    expect(missing.json.badRequest.message).toBe('Missing disabled reason field');
    const force = await old.request('PUT', '/os-services/force-down', {
      host: 'host-2',
      binary: 'nova-compute',
      forced_down: true,
    });
    expect(force.json).toEqual({ service: { host: 'host-2', binary: 'nova-compute', forced_down: true } });
    const list = await old.get('/os-services?host=host-2');
    expect(list.json.services[0]).toMatchObject({
      id: 4,
      status: 'disabled',
      state: 'down',
      forced_down: true,
    });
    expect(
      (
        await nova.at('2.10').request('PUT', '/os-services/force-down', {
          host: 'host-2',
          binary: 'nova-compute',
          forced_down: false,
        })
      ).status,
    ).toBe(400);
    const enable = await old.request('PUT', '/os-services/enable', {
      host: 'host-2',
      binary: 'nova-compute',
    });
    expect(enable.json.service.status).toBe('enabled');
    const unknownHost = await old.request('PUT', '/os-services/enable', {
      host: 'host-99',
      binary: 'nova-compute',
    });
    expect(unknownHost.status).toBe(404);
  });
});

describe('evacuate', () => {
  it('refuses while the source service is still up', async () => {
    const id = serverId(sim, 'web-2');
    const r = await nova.action(id, { evacuate: {} });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      badRequest: { code: 400, message: 'Compute service of host-1 is still in use.' },
    });
    sim.control.setHostAlive('host-1', false);
    clock.advance(30_000); // dead but not yet reported down
    expect((await nova.action(id, { evacuate: {} })).status).toBe(400);
  });

  it('rebuilds the server on another host: REBUILD -> ACTIVE, migration done, 200 with an empty body', async () => {
    await killHost('host-1');
    const id = serverId(sim, 'web-2');
    const r = await nova.action(id, { evacuate: {} });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect(r.headers.get('content-length')).toBe('0');
    let s = await nova.server(id);
    expect(s).toMatchObject({
      status: 'REBUILD',
      'OS-EXT-STS:task_state': 'rebuilding',
      'OS-EXT-SRV-ATTR:host': 'host-1',
    });
    expect(lastMigration(id)).toMatchObject({ migrationType: 'evacuation', status: 'accepted' });
    clock.advance(200);
    expect(lastMigration(id)?.status).toBe('pre-migrating');
    clock.advance(2000);
    s = await nova.server(id);
    expect(s['OS-EXT-STS:task_state']).toBe('rebuild_spawning');
    clock.advance(2000);
    s = await nova.server(id);
    const dest = lastMigration(id)?.destCompute;
    expect(s).toMatchObject({
      status: 'ACTIVE',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-SRV-ATTR:host': dest,
    });
    expect(dest).not.toBe('host-1');
    expect(lastMigration(id)?.status).toBe('done');
    const events = (await nova.actionDetail(id, 'evacuate')).events;
    expect(events).toMatchObject([{ event: 'compute_rebuild_instance', result: 'Success', host: dest }]);
  });

  it('returns adminPass and needs onSharedStorage before 2.14', async () => {
    await killHost('host-1');
    const id = serverId(sim, 'web-2');
    const missing = await nova.at('2.13').action(id, { evacuate: {} });
    expect(missing.json.badRequest.message).toBe(
      "Invalid input for field/attribute evacuate. Value: {}. 'onSharedStorage' is a required property",
    );
    const r = await nova.at('2.13').action(id, { evacuate: { onSharedStorage: false } });
    expect(r.status).toBe(200);
    expect(typeof r.json.adminPass).toBe('string');
    const onShared = await nova
      .at('2.13')
      .action(serverId(sim, 'web-3'), { evacuate: { onSharedStorage: true, adminPass: 'x' } });
    expect(onShared.json.badRequest.message).toBe("admin password can't be changed on existing disk");
  });

  it('keeps a stopped server SHUTOFF (real Zed), and lands every running one SHUTOFF from 2.95', async () => {
    await killHost('host-1');
    const stopped = serverId(sim, 'db-replica-1');
    const running = serverId(sim, 'web-2');
    expect((await nova.at('2.93').action(stopped, { evacuate: {} })).status).toBe(200);
    expect((await nova.at('2.93').action(running, { evacuate: {} })).status).toBe(200);
    clock.advance(4200);
    expect((await nova.server(stopped)).status).toBe('SHUTOFF');
    expect((await nova.server(running)).status).toBe('ACTIVE');

    const c = new ManualClock();
    const newer = await startSimCloud({ clock: c });
    try {
      const n = await Nova.admin(newer, '2.95');
      newer.control.setHostAlive('host-1', false);
      c.advance(61_000);
      for (const name of ['db-replica-1', 'web-2']) {
        const id = serverId(newer, name);
        expect((await n.action(id, { evacuate: {} })).status).toBe(200);
      }
      c.advance(4200);
      for (const name of ['db-replica-1', 'web-2']) {
        expect(await n.server(serverId(newer, name))).toMatchObject({
          status: 'SHUTOFF',
          'OS-EXT-STS:power_state': 4,
        });
      }
    } finally {
      await newer.close();
    }
  });

  it('ends in ERROR with a NoValidHost fault when nothing fits', async () => {
    await killHost('host-1');
    sim.control.fillHost('host-4');
    sim.control.fillHost('host-6');
    const id = serverId(sim, 'pinned-1');
    expect((await nova.action(id, { evacuate: {} })).status).toBe(200);
    clock.advance(200);
    const s = await nova.server(id);
    expect(s.status).toBe('ERROR');
    expect(s['OS-EXT-STS:task_state']).toBeNull();
    expect(s.fault).toMatchObject({
      code: 500,
      message: 'No valid host was found. There are not enough hosts available.',
    });
    expect(s.fault.details).toContain('NoValidHost');
    expect(lastMigration(id)?.status).toBe('error');
    // An ERROR server can be evacuated again once room appears.
    sim.control.unfillHost('host-4');
    expect((await nova.action(id, { evacuate: {} })).status).toBe(200);
    clock.advance(4200);
    expect(await nova.server(id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'host-4' });
    expect((await nova.server(id)).fault).toBeUndefined();
  });

  it('checks target host, same host and task state with Nova texts', async () => {
    await killHost('host-1');
    const id = serverId(sim, 'web-2');
    const unknown = await nova.action(id, { evacuate: { host: 'host-99' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.itemNotFound.message).toBe('Compute host host-99 not found.');
    const same = await nova.action(id, { evacuate: { host: 'host-1' } });
    expect(same.json.badRequest.message).toBe("The target host can't be the same one.");
    await nova.action(id, { evacuate: { host: 'host-2' } });
    const again = await nova.action(id, { evacuate: {} });
    expect(again.status).toBe(409);
    expect(again.json.conflictingRequest.message).toBe(
      `Cannot 'evacuate' instance ${id} while it is in task_state rebuilding`,
    );
    const live = await nova.liveMigrate(id);
    expect(live.json.conflictingRequest.message).toBe(
      `Cannot 'os-migrateLive' instance ${id} while it is in task_state rebuilding`,
    );
    clock.advance(4200);
    expect(lastMigration(id)).toMatchObject({ status: 'done', destCompute: 'host-2' });
  });

  it("refuses to unset forced_down while 'done' evacuation records remain, until the host is back", async () => {
    const svc = await service('host-1');
    await nova.request('PUT', `/os-services/${svc.id}`, {
      status: 'disabled',
      disabled_reason: 'evacuating',
      forced_down: true,
    });
    const id = serverId(sim, 'web-2');
    expect((await nova.action(id, { evacuate: {} })).status).toBe(200);
    clock.advance(4200);
    sim.control.setHostAlive('host-1', false);
    const refused = await nova.request('PUT', `/os-services/${svc.id}`, { forced_down: false });
    expect(refused.status).toBe(400);
    expect(refused.json.badRequest.message).toBe(
      'Unable to force up host host-1 as `done` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to `completed` before retrying this request.',
    );
    sim.control.setHostAlive('host-1', true);
    expect(lastMigration(id)?.status).toBe('completed');
    const ok = await nova.request('PUT', `/os-services/${svc.id}`, { forced_down: false, status: 'enabled' });
    expect(ok.status).toBe(200);
    expect(ok.json.service).toMatchObject({ state: 'up', status: 'enabled', forced_down: false });
  });
});

describe('scheduler constraints', () => {
  it('keeps anti-affinity members apart, respects AZ pins, disabled hosts and capacity', async () => {
    await killHost('host-1');
    // web-1 is in web-anti-affinity with web-4 (host-2) and web-6 (host-3).
    const web1 = serverId(sim, 'web-1');
    await nova.action(web1, { evacuate: {} });
    clock.advance(4200);
    const dest = lastMigration(web1)?.destCompute;
    expect(dest).toBeDefined();
    expect(['host-2', 'host-3']).not.toContain(dest);

    // Requested destination that violates anti-affinity: NoValidHost -> ERROR.
    const web4 = serverId(sim, 'web-4');
    sim.control.setHostAlive('host-2', false);
    clock.advance(61_000);
    await nova.action(web4, { evacuate: { host: dest ?? '' } });
    clock.advance(200);
    expect((await nova.server(web4)).status).toBe('ERROR');
  });

  it('keeps an AZ-pinned server in its zone', async () => {
    await killHost('host-5');
    const pinnedToAzB = serverId(sim, 'web-b-1');
    await nova.action(pinnedToAzB, { evacuate: {} });
    clock.advance(200);
    const s = await nova.server(pinnedToAzB);
    expect(s.status).toBe('ERROR'); // host-5 is the only az-b host
    const unpinned = serverId(sim, 'batch-5');
    await nova.action(unpinned, { evacuate: {} });
    clock.advance(4200);
    expect((await nova.server(unpinned)).status).toBe('ACTIVE');
  });

  it('sends pinned flavors only to pinned hosts and skips disabled ones', async () => {
    const host4 = await service('host-4');
    await nova.request('PUT', `/os-services/${host4.id}`, { status: 'disabled' });
    await killHost('host-1');
    const id = serverId(sim, 'pinned-1');
    await nova.action(id, { evacuate: {} });
    clock.advance(4200);
    expect(lastMigration(id)?.destCompute).toBe('host-6');
  });
});
