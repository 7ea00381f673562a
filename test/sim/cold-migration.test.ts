import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { Nova, serverId } from './helpers.js';

// Default durations: scheduling 0.2 s, cold migration 6 s (60 % resize, 10 % migrated, 30 % finish), confirm 1 s.
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

describe('cold migration', () => {
  it('walks the resize task states and stops at VERIFY_RESIZE with the host already switched', async () => {
    const id = serverId(sim, 'web-2');
    const post = await nova.action(id, { migrate: null });
    expect(post.status).toBe(202);
    let s = await nova.server(id);
    expect(s).toMatchObject({
      status: 'RESIZE',
      'OS-EXT-STS:task_state': 'resize_prep',
      'OS-EXT-SRV-ATTR:host': 'host-1',
    });
    expect(lastMigration(id)?.status).toBe('pre-migrating');

    clock.advance(200);
    s = await nova.server(id);
    expect(s['OS-EXT-STS:task_state']).toBe('resize_migrating');
    expect(lastMigration(id)?.status).toBe('migrating');
    const dest = lastMigration(id)?.destCompute;
    expect(dest).toBeTruthy();

    clock.advance(3600);
    expect((await nova.server(id))['OS-EXT-STS:task_state']).toBe('resize_migrated');
    expect(lastMigration(id)?.status).toBe('post-migrating');
    clock.advance(600);
    s = await nova.server(id);
    expect(s['OS-EXT-STS:task_state']).toBe('resize_finish');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe(dest);
    clock.advance(1800);
    s = await nova.server(id);
    expect(s).toMatchObject({
      status: 'VERIFY_RESIZE',
      'OS-EXT-STS:vm_state': 'resized',
      'OS-EXT-STS:task_state': null,
    });
    expect(s['OS-EXT-SRV-ATTR:host']).toBe(dest);
    expect(lastMigration(id)?.status).toBe('finished');

    // No auto-confirm by default: it waits forever.
    clock.advance(1_800_000);
    expect((await nova.server(id)).status).toBe('VERIFY_RESIZE');

    const confirm = await nova.action(id, { confirmResize: null });
    expect(confirm.status).toBe(204);
    clock.advance(1000);
    s = await nova.server(id);
    expect(s).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': dest });
    expect(lastMigration(id)?.status).toBe('confirmed');
    const events = (await nova.actionDetail(id, 'migrate')).events.map((e: { event: string }) => e.event);
    expect(events).toEqual([
      'conductor_migrate_server',
      'compute_prep_resize',
      'compute_resize_instance',
      'compute_finish_resize',
    ]);
    expect((await nova.actions(id)).map((a) => a.action)).toContain('confirmResize');
  });

  it('keeps a stopped server SHUTOFF after confirm', async () => {
    const id = serverId(sim, 'db-replica-1');
    expect((await nova.action(id, { migrate: null })).status).toBe(202);
    clock.advance(6200);
    expect((await nova.server(id)).status).toBe('VERIFY_RESIZE');
    await nova.action(id, { confirmResize: null });
    clock.advance(1000);
    const s = await nova.server(id);
    expect(s).toMatchObject({ status: 'SHUTOFF', 'OS-EXT-STS:power_state': 4 });
  });

  it('reverts back to the source', async () => {
    const id = serverId(sim, 'web-2');
    await nova.action(id, { migrate: null });
    clock.advance(6200);
    const revert = await nova.action(id, { revertResize: null });
    expect(revert.status).toBe(202);
    expect((await nova.server(id)).status).toBe('REVERT_RESIZE');
    clock.advance(2000);
    const s = await nova.server(id);
    expect(s).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'host-1' });
    expect(lastMigration(id)?.status).toBe('reverted');
  });

  it('auto-confirms after resize_confirm_window when the scenario says so', async () => {
    const c = new ManualClock();
    const auto = await startSimCloud({
      clock: c,
      scenario: { ...sim.scenario, settings: { ...sim.scenario.settings, resize_confirm_window: 30 } },
    });
    try {
      const n = await Nova.admin(auto);
      const id = serverId(auto, 'web-2');
      await n.action(id, { migrate: null });
      c.advance(6200);
      expect((await n.server(id)).status).toBe('VERIFY_RESIZE');
      c.advance(31_000);
      expect((await n.server(id)).status).toBe('ACTIVE');
      expect(auto.control.state().migrations.at(-1)?.status).toBe('confirmed');
    } finally {
      await auto.close();
    }
  });

  it('takes a destination at 2.56+, and refuses the same or an unknown host', async () => {
    const id = serverId(sim, 'web-2');
    const same = await nova.action(id, { migrate: { host: 'host-1' } });
    expect(same.status).toBe(400);
    expect(same.json.badRequest.message).toBe('Cannot migrate to the host where the server exists.');
    const unknown = await nova.action(id, { migrate: { host: 'host-99' } });
    expect(unknown.json.badRequest.message).toBe('Compute host host-99 could not be found.');
    const extra = await nova.action(id, { migrate: { host: 'host-3', force: true } });
    expect(extra.status).toBe(400);
    expect((await nova.action(id, { migrate: { host: 'host-3' } })).status).toBe(202);
    clock.advance(6200);
    expect(lastMigration(id)).toMatchObject({ status: 'finished', destCompute: 'host-3' });
  });

  it('refuses when the source compute service is down, and when not resized', async () => {
    const id = serverId(sim, 'web-2');
    const notResized = await nova.action(id, { confirmResize: null });
    expect(notResized.status).toBe(409);
    expect(notResized.json.conflictingRequest.message).toBe(
      `Cannot 'confirmResize' instance ${id} while it is in vm_state active`,
    );

    sim.control.setHostAlive('host-1', false);
    clock.advance(59_000);
    expect((await nova.action(id, { migrate: null })).status).toBe(202); // still "up" for a while
    clock.advance(7_000);
    await nova.action(id, { confirmResize: null });
    clock.advance(1000);
    const other = serverId(sim, 'web-3');
    const down = await nova.action(other, { migrate: null });
    expect(down.status).toBe(409);
    expect(down.json).toEqual({
      conflictingRequest: { code: 409, message: 'Service is unavailable at this time.' },
    });
  });

  it('ends NoValidHost back in the old state with migration error', async () => {
    const id = serverId(sim, 'pinned-1');
    sim.control.fillHost('host-4');
    sim.control.fillHost('host-6');
    expect((await nova.action(id, { migrate: null })).status).toBe(202);
    clock.advance(200);
    const s = await nova.server(id);
    expect(s).toMatchObject({
      status: 'ACTIVE',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-SRV-ATTR:host': 'host-1',
    });
    expect(lastMigration(id)?.status).toBe('error');
    const action = await nova.actionDetail(id, 'migrate');
    expect(action.events[0]).toMatchObject({ event: 'conductor_migrate_server', result: 'Error' });
  });
});
