import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { Nova, getToken, serverId } from './helpers.js';

// Default durations: scheduling 0.2 s, live migration 5 s (20 % preparing, 80 % running).
let clock: ManualClock;
let sim: SimCloud;
let nova: Nova;

beforeEach(async () => {
  clock = new ManualClock();
  sim = await startSimCloud({ clock, seed: 42 });
  nova = await Nova.admin(sim, '2.90');
});

afterEach(async () => {
  await sim.close();
});

function migrationOf(id: string) {
  const all = sim.control.state().migrations.filter((m) => m.serverId === id);
  return all[all.length - 1];
}

describe('live migration lifecycle', () => {
  it('goes accepted -> queued -> preparing -> running -> completed and switches host only at the end', async () => {
    const id = serverId(sim, 'web-2');
    const post = await nova.liveMigrate(id);
    expect(post.status).toBe(202);
    expect(post.text).toBe('');

    let server = await nova.server(id);
    expect(server.status).toBe('MIGRATING');
    expect(server['OS-EXT-STS:task_state']).toBe('migrating');
    expect(server['OS-EXT-SRV-ATTR:host']).toBe('host-1');
    expect(migrationOf(id)?.status).toBe('accepted');

    clock.advance(200); // conductor picks a destination; the source starts at once (free slot)
    const m = migrationOf(id);
    expect(m?.status).toBe('preparing');
    expect(m?.destCompute).toBeTruthy();
    expect(m?.destCompute).not.toBe('host-1');

    clock.advance(1000);
    expect(migrationOf(id)?.status).toBe('running');
    clock.advance(2000); // half of the 4 s transfer
    const progress = await nova.get(`/servers/${id}/migrations`);
    expect(progress.status).toBe(200);
    const live = progress.json.migrations[0];
    expect(live.status).toBe('running');
    expect(live.memory_total_bytes).toBe(2048 * 1024 * 1024);
    expect(live.memory_processed_bytes).toBe(1024 * 1024 * 1024);
    expect(live.memory_remaining_bytes).toBe(1024 * 1024 * 1024);
    expect(live.uuid).toBeTruthy();
    server = await nova.server(id);
    expect(server['OS-EXT-SRV-ATTR:host']).toBe('host-1');

    clock.advance(2000);
    server = await nova.server(id);
    expect(server.status).toBe('ACTIVE');
    expect(server['OS-EXT-STS:task_state']).toBeNull();
    expect(server['OS-EXT-SRV-ATTR:host']).toBe(m?.destCompute);
    expect(server['OS-EXT-SRV-ATTR:hypervisor_hostname']).toBe(m?.destCompute);
    expect(migrationOf(id)?.status).toBe('completed');
    expect((await nova.get(`/servers/${id}/migrations`)).json.migrations).toEqual([]);

    const action = await nova.actionDetail(id, 'live-migration');
    expect(action.request_id).toBe(post.headers.get('x-openstack-request-id'));
    expect(action.events.map((e: { event: string }) => e.event)).toEqual([
      'conductor_live_migrate_instance',
      'compute_check_can_live_migrate_destination',
      'compute_check_can_live_migrate_source',
      'compute_live_migration',
      'compute_pre_live_migration',
      'compute_post_live_migration_at_destination',
    ]);
    expect(action.events.every((e: { result: string }) => e.result === 'Success')).toBe(true);

    const records = await nova.get(`/os-migrations?instance_uuid=${id}`);
    expect(records.json.migrations[0]).toMatchObject({
      migration_type: 'live-migration',
      status: 'completed',
      source_compute: 'host-1',
    });
  });

  it('queues moves off one source host beyond max_concurrent_live_migrations (default 1)', async () => {
    const a = serverId(sim, 'web-2');
    const b = serverId(sim, 'web-3');
    const c = serverId(sim, 'web-4'); // on host-2: its own slot
    expect((await nova.liveMigrate(a)).status).toBe(202);
    expect((await nova.liveMigrate(b)).status).toBe(202);
    expect((await nova.liveMigrate(c)).status).toBe(202);
    clock.advance(200);
    expect(migrationOf(a)?.status).toBe('preparing');
    expect(migrationOf(b)?.status).toBe('queued');
    expect(migrationOf(c)?.status).toBe('preparing');
    clock.advance(4999);
    expect(migrationOf(b)?.status).toBe('queued');
    clock.advance(1);
    expect(migrationOf(a)?.status).toBe('completed');
    expect(migrationOf(b)?.status).toBe('preparing');
    clock.advance(5000);
    expect(migrationOf(b)?.status).toBe('completed');

    const ops = sim.control.counters().operations;
    expect(ops.liveMigrationsRunningBySourceHost['host-1']?.max).toBe(1);
    expect(ops.bySourceHost['host-1']?.max).toBe(2);
    expect(ops.total.max).toBe(3);
    expect(ops.total.current).toBe(0);
  });

  it('honours a per-host limit', async () => {
    sim.control.setMaxConcurrentLiveMigrations(2, 'host-1');
    const ids = ['web-1', 'web-2', 'web-3'].map((n) => serverId(sim, n));
    for (const id of ids) expect((await nova.liveMigrate(id)).status).toBe(202);
    clock.advance(200);
    expect(ids.map((id) => migrationOf(id)?.status)).toEqual(['preparing', 'preparing', 'queued']);
    expect(sim.control.counters().operations.liveMigrationsRunningBySourceHost['host-1']?.max).toBe(2);
  });
});

describe('silent live-migration failure', () => {
  it('answers 202, then quietly puts the server back on the source; the reason is only in the events', async () => {
    const id = serverId(sim, 'web-2');
    sim.control.failNextLiveMigration({
      host: 'host-1',
      message: 'internal error: qemu unexpectedly closed the monitor',
    });
    expect((await nova.liveMigrate(id)).status).toBe(202);
    clock.advance(200 + 1000 + 2000); // fails half-way through the transfer
    const server = await nova.server(id);
    expect(server.status).toBe('ACTIVE');
    expect(server['OS-EXT-STS:task_state']).toBeNull();
    expect(server['OS-EXT-SRV-ATTR:host']).toBe('host-1');
    expect(server.fault).toBeUndefined();
    expect(migrationOf(id)?.status).toBe('failed');

    const action = await nova.at('2.84').actionDetail(id, 'live-migration');
    expect(action.message).toBe('Error');
    const event = action.events.find((e: { event: string }) => e.event === 'compute_live_migration');
    expect(event.result).toBe('Error');
    expect(event.traceback).toContain(
      'libvirt.libvirtError: internal error: qemu unexpectedly closed the monitor',
    );
    expect(event.details).toBe('libvirtError');

    // Before 2.84 there is no `details`; non-admins never see tracebacks.
    const old = await nova.at('2.51').actionDetail(id, 'live-migration');
    expect(old.events[0]).not.toHaveProperty('details');

    // The next live migration is not affected by the consumed plan.
    expect((await nova.liveMigrate(id)).status).toBe(202);
    clock.advance(5200);
    expect(migrationOf(id)?.status).toBe('completed');
  });

  it('keeps an armed failure for a move that reaches the compute host, not one the scheduler refuses', async () => {
    const id = serverId(sim, 'web-2');
    sim.control.failNextLiveMigration({ host: 'host-1' });
    // Asking for the source itself: the scheduler finds no valid host, the move never starts.
    expect((await nova.liveMigrate(id, 'host-1')).status).toBe(202);
    clock.advance(200);
    expect(migrationOf(id)?.status).toBe('error');

    expect((await nova.liveMigrate(id)).status).toBe(202);
    clock.advance(5200);
    expect(migrationOf(id)?.status).toBe('failed');
    expect((await nova.server(id))['OS-EXT-SRV-ATTR:host']).toBe('host-1');
  });

  it('can end in status error and fail only moves matching the plan', async () => {
    const onHost1 = serverId(sim, 'web-2');
    const onHost2 = serverId(sim, 'web-4');
    sim.control.failNextLiveMigration({ host: 'host-1', status: 'error', atFraction: 0 });
    await nova.liveMigrate(onHost2);
    await nova.liveMigrate(onHost1);
    clock.advance(200 + 1000);
    expect(migrationOf(onHost1)?.status).toBe('error');
    clock.advance(4000);
    expect(migrationOf(onHost2)?.status).toBe('completed');
  });

  it('fails at the configured rate, reproducibly for a seed', async () => {
    const outcomes = async (seed: number) => {
      const c = new ManualClock();
      const s = await startSimCloud({ clock: c, seed });
      try {
        s.control.setLiveMigrationFailureRate(0.5);
        s.control.setMaxConcurrentLiveMigrations(10);
        const n = await Nova.admin(s);
        const names = ['web-1', 'web-2', 'web-3', 'batch-1', 'paused-1', 'bfv-1'];
        for (const name of names) expect((await n.liveMigrate(serverId(s, name))).status).toBe(202);
        c.advance(10_000);
        return names.map(
          (name) => s.control.state().migrations.find((m) => m.serverId === serverId(s, name))?.status,
        );
      } finally {
        await s.close();
      }
    };
    const first = await outcomes(7);
    expect(first).toEqual(await outcomes(7));
    expect(first).toContain('failed');
    expect(first).toContain('completed');
  });

  it('always fails for a vGPU server (libvirt refuses host devices)', async () => {
    const c = new ManualClock();
    const withSecondGpuHost = await startSimCloud({
      clock: c,
      scenario: {
        ...sim.scenario,
        hosts: sim.scenario.hosts.map((h) => (h.name === 'host-2' ? { ...h, vgpus: 2 } : h)),
      },
    });
    try {
      const n = await Nova.admin(withSecondGpuHost);
      const id = serverId(withSecondGpuHost, 'gpu-1');
      expect((await n.liveMigrate(id)).status).toBe(202);
      c.advance(10_000);
      const m = withSecondGpuHost.control.state().migrations.find((x) => x.serverId === id);
      expect(m).toMatchObject({ status: 'failed', destCompute: 'host-2' });
      const action = await n.actionDetail(id, 'live-migration');
      expect(JSON.stringify(action.events)).toContain('domain has assigned non-USB host devices');
      expect((await n.server(id))['OS-EXT-SRV-ATTR:host']).toBe('host-6');
    } finally {
      await withSecondGpuHost.close();
    }
  });
});

describe('source compute dying mid-move', () => {
  it('freezes the migration until nova-compute restarts, which resets it to error', async () => {
    const id = serverId(sim, 'web-2');
    const queued = serverId(sim, 'web-3');
    await nova.liveMigrate(id);
    await nova.liveMigrate(queued);
    clock.advance(200 + 1000 + 1000);
    expect(migrationOf(id)?.status).toBe('running');
    sim.control.setHostAlive('host-1', false);
    clock.advance(600_000);
    expect(migrationOf(id)?.status).toBe('running');
    expect(migrationOf(queued)?.status).toBe('queued');
    expect((await nova.server(id)).status).toBe('MIGRATING');
    const frozen = (await nova.get(`/servers/${id}/migrations`)).json.migrations[0];
    expect(frozen.memory_processed_bytes).toBe(frozen.memory_total_bytes / 4);

    sim.control.setHostAlive('host-1', true);
    expect(migrationOf(id)?.status).toBe('error');
    expect(await nova.server(id)).toMatchObject({
      status: 'ACTIVE',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-SRV-ATTR:host': 'host-1',
    });
    // The cast that was waiting in the dead host's queue runs once it is back.
    expect(migrationOf(queued)?.status).toBe('preparing');
    clock.advance(5000);
    expect(migrationOf(queued)?.status).toBe('completed');
    expect(sim.control.counters().operations.total.current).toBe(0);
  });
});

describe('conductor pre-checks', () => {
  it('turns NoValidHost into migration error + event at 2.34+, but a synchronous 400 before', async () => {
    const pinned = serverId(sim, 'pinned-1');
    sim.control.fillHost('host-4');
    sim.control.fillHost('host-6');
    expect((await nova.liveMigrate(pinned)).status).toBe(202);
    clock.advance(200);
    expect(migrationOf(pinned)?.status).toBe('error');
    const server = await nova.server(pinned);
    expect(server.status).toBe('ACTIVE');
    expect(server['OS-EXT-STS:task_state']).toBeNull();
    const action = await nova.actionDetail(pinned, 'live-migration');
    expect(action.events[0]).toMatchObject({ event: 'conductor_live_migrate_instance', result: 'Error' });
    expect(action.events[0].details).toBe('No valid host was found. There are not enough hosts available.');

    const old = await nova
      .at('2.33')
      .action(pinned, { 'os-migrateLive': { host: null, block_migration: 'auto' } });
    expect(old.status).toBe(400);
    expect(old.json).toEqual({
      badRequest: { code: 400, message: 'No valid host was found. There are not enough hosts available.' },
    });
    expect((await nova.server(pinned))['OS-EXT-STS:task_state']).toBeNull();
  });

  it('refuses live migration of a flavor-PCI server in the conductor', async () => {
    const pci = serverId(sim, 'pci-1');
    const old = await nova.at('2.25').liveMigrate(pci);
    expect(old.status).toBe(400);
    expect(old.json.badRequest.message).toBe(
      'Migration pre-check error: non-VIF related PCI requests for instance are not allowed for live migration.',
    );
  });

  it('reports a dead source host asynchronously', async () => {
    sim.control.setHostAlive('host-1', false);
    clock.advance(61_000);
    const id = serverId(sim, 'web-2');
    expect((await nova.liveMigrate(id)).status).toBe(202);
    clock.advance(200);
    expect(migrationOf(id)?.status).toBe('error');
    const action = await nova.at('2.90').actionDetail(id, 'live-migration');
    expect(action.events[0].details).toBe('Compute service of host-1 is unavailable at this time.');
  });

  it('checks a forced destination only for self, liveness and memory', async () => {
    const id = serverId(sim, 'web-2');
    const syncSelf = await nova.at('2.30').liveMigrate(id, 'host-1', { force: true });
    expect(syncSelf.status).toBe(400);
    expect(syncSelf.json.badRequest.message).toBe(
      `Unable to migrate instance (${id}) to current host (host-1).`,
    );
    const self = await nova.at('2.67').liveMigrate(id, 'host-1', { force: true });
    expect(self.status).toBe(202);
    clock.advance(200);
    expect(migrationOf(id)?.status).toBe('error');
    const action = await nova.actionDetail(id, 'live-migration');
    expect(action.events[0].details).toBe(`Unable to migrate instance (${id}) to current host (host-1).`);

    sim.control.fillHost('host-3');
    const full = await nova.at('2.67').liveMigrate(id, 'host-3', { force: true });
    expect(full.status).toBe(202);
    clock.advance(200);
    expect(migrationOf(id)?.status).toBe('error');

    // Unforced: the scheduler checks the requested host (and it is full).
    await nova.at('2.68').liveMigrate(id, 'host-3');
    clock.advance(200);
    expect(migrationOf(id)?.status).toBe('error');

    await nova.at('2.68').liveMigrate(id, 'host-2');
    clock.advance(5200);
    expect(migrationOf(id)).toMatchObject({ status: 'completed', destCompute: 'host-2' });
  });
});

describe('API refusals', () => {
  it('uses Nova texts for state, host and lock problems', async () => {
    const stopped = serverId(sim, 'db-replica-1');
    const r1 = await nova.liveMigrate(stopped);
    expect(r1.status).toBe(409);
    expect(r1.json).toEqual({
      conflictingRequest: {
        code: 409,
        message: `Cannot 'os-migrateLive' instance ${stopped} while it is in vm_state stopped`,
      },
    });

    const busy = serverId(sim, 'web-2');
    expect((await nova.liveMigrate(busy)).status).toBe(202);
    const r2 = await nova.liveMigrate(busy);
    expect(r2.status).toBe(409);
    expect(r2.json.conflictingRequest.message).toBe(
      `Cannot 'os-migrateLive' instance ${busy} while it is in task_state migrating`,
    );

    const r3 = await nova.liveMigrate(serverId(sim, 'web-3'), 'host-99');
    expect(r3.status).toBe(400);
    expect(r3.json.badRequest.message).toBe('Compute host host-99 could not be found.');

    const r4 = await nova.liveMigrate('00000000-0000-0000-0000-000000000000');
    expect(r4.status).toBe(404);
    expect(r4.json).toEqual({
      itemNotFound: {
        code: 404,
        message: 'Instance 00000000-0000-0000-0000-000000000000 could not be found.',
      },
    });

    // Admins pass a lock, like real Nova.
    const locked = serverId(sim, 'db-primary');
    expect((await nova.liveMigrate(locked)).status).toBe(202);
  });

  it('refuses a locked server with 409 when locks bind admins', async () => {
    const c = new ManualClock();
    const strict = await startSimCloud({
      clock: c,
      scenario: { ...sim.scenario, settings: { ...sim.scenario.settings, admin_bypasses_lock: false } },
    });
    try {
      const n = await Nova.admin(strict);
      const locked = serverId(strict, 'db-primary');
      const r = await n.liveMigrate(locked);
      expect(r.status).toBe(409);
      expect(r.json.conflictingRequest.message).toBe(`Instance ${locked} is locked`);
    } finally {
      await strict.close();
    }
  });

  it('validates the body for each microversion range', async () => {
    const id = serverId(sim, 'web-2');
    const at68 = await nova.at('2.68').liveMigrate(id, null, { force: false });
    expect(at68.status).toBe(400);
    expect(at68.json.badRequest.message).toBe(
      "Invalid input for field/attribute os-migrateLive. Value: {'host': None, 'block_migration': 'auto', 'force': False}. Additional properties are not allowed ('force' was unexpected)",
    );
    const noBlock = await nova.action(id, { 'os-migrateLive': { host: null } });
    expect(noBlock.json.badRequest.message).toBe(
      "Invalid input for field/attribute os-migrateLive. Value: {'host': None}. 'block_migration' is a required property",
    );
    const autoAt21 = await nova
      .at('2.1')
      .action(id, { 'os-migrateLive': { host: null, block_migration: 'auto', disk_over_commit: false } });
    expect(autoAt21.status).toBe(400);
    expect(autoAt21.json.badRequest.message).toContain("'auto' is not one of [True, 'True'");
    const noDisk = await nova
      .at('2.1')
      .action(id, { 'os-migrateLive': { host: null, block_migration: false } });
    expect(noDisk.json.badRequest.message).toContain("'disk_over_commit' is a required property");
    const forceNoHost = await nova.at('2.30').liveMigrate(id, null, { force: true });
    expect(forceNoHost.json.badRequest.message).toBe("Can't force to a non-provided destination");
    const ok21 = await nova
      .at('2.1')
      .action(id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } });
    expect(ok21.status).toBe(202);
  });

  it('is admin-only', async () => {
    const alice = new Nova(sim, await getToken(sim, 'alice', 'alice', 'web'), '2.90');
    const r = await alice.liveMigrate(serverId(sim, 'web-2'));
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      forbidden: {
        code: 403,
        message: "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
      },
    });
    // Another project's server simply does not exist for her.
    const other = await alice.liveMigrate(serverId(sim, 'db-2'));
    expect(other.status).toBe(404);
  });
});

describe('abort and force-complete', () => {
  it('aborts a running migration (2.24+) and a queued one only from 2.65', async () => {
    const a = serverId(sim, 'web-2');
    const b = serverId(sim, 'web-3');
    await nova.liveMigrate(a);
    await nova.liveMigrate(b);
    clock.advance(1200);
    const ma = migrationOf(a);
    const mb = migrationOf(b);
    expect(ma?.status).toBe('running');
    expect(mb?.status).toBe('queued');

    expect((await nova.at('2.23').request('DELETE', `/servers/${a}/migrations/${ma?.id}`)).status).toBe(404);
    const queuedOld = await nova.at('2.64').request('DELETE', `/servers/${b}/migrations/${mb?.id}`);
    expect(queuedOld.status).toBe(400);
    expect(queuedOld.json.badRequest.message).toBe(
      `Migration ${mb?.id} state of instance ${b} is queued. Cannot abort live migration while the migration is in this state.`,
    );
    expect((await nova.at('2.65').request('DELETE', `/servers/${b}/migrations/${mb?.id}`)).status).toBe(202);
    expect((await nova.at('2.24').request('DELETE', `/servers/${a}/migrations/${ma?.id}`)).status).toBe(202);
    clock.advance(200);
    expect(migrationOf(a)?.status).toBe('cancelled');
    expect(migrationOf(b)?.status).toBe('cancelled');
    const server = await nova.server(a);
    expect(server).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'host-1' });
    expect((await nova.actions(a)).map((x) => x.action)).toContain('live_migration_cancel');

    const notMigrating = await nova.request('DELETE', `/servers/${a}/migrations/${ma?.id}`);
    expect(notMigrating.status).toBe(409);
    expect(notMigrating.json.conflictingRequest.message).toBe(
      `Cannot 'abort live migration' instance ${a} while it is in task_state None`,
    );
  });

  it('force-completes only a running migration', async () => {
    const a = serverId(sim, 'web-2');
    await nova.liveMigrate(a);
    clock.advance(200);
    const m = migrationOf(a);
    const early = await nova.request('POST', `/servers/${a}/migrations/${m?.id}/action`, {
      force_complete: null,
    });
    expect(early.status).toBe(400);
    expect(early.json.badRequest.message).toBe(
      `Migration ${m?.id} state of instance ${a} is preparing. Cannot force complete while the migration is in this state.`,
    );
    clock.advance(1000);
    expect(
      (await nova.request('POST', `/servers/${a}/migrations/${m?.id}/action`, { force_complete: null }))
        .status,
    ).toBe(202);
    clock.advance(200);
    expect(migrationOf(a)?.status).toBe('completed');
  });
});
