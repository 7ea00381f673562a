/**
 * Re-enabling a host after an evacuation: Nova keeps the COMPUTE_STATUS_DISABLED trait in
 * Placement if a service is enabled while it still counts as down (seen on real Zed: no new
 * servers on that host for about a minute), so the engine enables only a service reporting up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ManualClock, settle } from '../../src/engine/clock.js';
import { createEngine, type EvacuationEngine } from '../../src/engine/engine.js';
import { FakeCompute, makeHypervisor, makeServer, makeService } from './fake-compute.js';

const logger = pino({ level: 'silent' });
let engine: EvacuationEngine | null = null;
afterEach(async () => {
  await engine?.close();
  engine = null;
});

const ctl = (key: string) => ({ actor: { id: 'U1' }, idempotencyKey: key });

function deadHostCloud(clock: ManualClock): FakeCompute {
  const compute = new FakeCompute({
    services: [makeService('host-1', { state: 'down', forcedDown: true }), makeService('host-2')],
    hypervisors: [makeHypervisor('host-1'), makeHypervisor('host-2')],
    servers: [makeServer({ id: 'vm-a', name: 'vm-a', host: 'host-1', imageId: null, bootFromVolume: true })],
  });
  // Nova rebuilds the server on host-2 at once and records the evacuation as done.
  compute.on('evacuate', (id) => {
    const at = new Date(clock.now()).toISOString();
    compute.updateServer(id, { host: 'host-2', hypervisorHostname: 'host-2', updated: at });
    compute.migrations.push({
      id: 1,
      uuid: null,
      instanceId: id,
      migrationType: 'evacuation',
      status: 'done',
      sourceCompute: 'host-1',
      destCompute: 'host-2',
      sourceNode: 'host-1',
      destNode: 'host-2',
      createdAt: at,
      updatedAt: at,
    });
    return { requestId: 'req-evac-1' };
  });
  compute.on('pollChanges', (since) => ({
    servers: compute.servers,
    migrations: compute.migrations,
    nextSince: since,
    requests: 2,
  }));
  return compute;
}

describe('re-enabling the compute service', () => {
  it('waits until nova-compute reports up, then enables', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T10:00:00Z'));
    const compute = deadHostCloud(clock);
    engine = createEngine({ compute, store: { path: ':memory:' }, clock, logger, pollIntervalMs: 1000 });
    const run = await engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U1' });
    expect(run.plan.mode).toBe('evacuate');
    expect((await engine.confirm(run.id, ctl('confirm'))).outcome).toBe('applied');
    for (let i = 0; i < 10 && engine.getRun(run.id)?.state !== 'finished'; i += 1) {
      await clock.advance(1000);
      await settle();
    }
    expect(engine.getRun(run.id)?.servers[0]?.state).toBe('done');
    expect(compute.services[0]).toMatchObject({ status: 'disabled', state: 'down' });

    const early = await engine.reenableService(run.id, ctl('reenable-1'));
    expect(early.outcome).toBe('rejected');
    expect(early.message).toContain('nova-compute is not reporting up yet');
    expect(compute.callCount('enableComputeService')).toBe(0);
    expect(compute.services[0]?.status).toBe('disabled');

    // The repaired host's nova-compute reports in again.
    Object.assign(compute.services[0] ?? {}, { state: 'up', forcedDown: false });
    const later = await engine.reenableService(run.id, ctl('reenable-2'));
    expect(later.outcome).toBe('applied');
    expect(compute.callCount('enableComputeService')).toBe(1);
    expect(compute.services[0]?.status).toBe('enabled');
  });
});
