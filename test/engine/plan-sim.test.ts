/**
 * Planning against the simulated cloud over HTTP, through the real compute client: the default
 * scenario's host-1 carries one of everything that makes a drain hard. The sim runs on a manual
 * clock, so "the host stopped heartbeating a minute ago" is a clock step, not a wait.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnknownHostError } from '../../src/engine/api.js';
import { planEvacuation } from '../../src/engine/plan.js';
import type { EvacuationPlan, EvacuationRequest, PlannedAction } from '../../src/engine/types.js';
import { createComputeClient, type NovaComputeClient } from '../../src/nova/compute-client.js';
import { OpenStackError } from '../../src/nova/errors.js';
import { generateScenario, ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';

const AUTO: EvacuationRequest = { host: 'host-1', mode: 'auto', requestedBy: 'U-sim' };

/** What the default scenario puts on host-1, and what planning must make of it. */
const LIVE_HOST_ACTIONS: Record<string, PlannedAction> = {
  'batch-1': 'live-migrate',
  'bfv-1': 'live-migrate',
  'broken-1': 'skip', // ERROR: only evacuation can rebuild it
  'db-primary': 'skip', // locked
  'db-replica-1': 'cold-migrate', // SHUTOFF
  'paused-1': 'live-migrate',
  'pinned-1': 'live-migrate',
  'web-1': 'live-migrate',
  'web-2': 'live-migrate',
  'web-3': 'live-migrate',
};

const DEAD_HOST_ACTIONS: Record<string, PlannedAction> = {
  ...LIVE_HOST_ACTIONS,
  'batch-1': 'evacuate',
  'bfv-1': 'evacuate',
  'broken-1': 'evacuate',
  'db-replica-1': 'evacuate',
  'paused-1': 'skip', // Nova evacuates active, stopped and error servers only
  'pinned-1': 'evacuate',
  'web-1': 'evacuate',
  'web-2': 'evacuate',
  'web-3': 'evacuate',
};

function actions(plan: EvacuationPlan): Record<string, PlannedAction> {
  return Object.fromEntries(plan.servers.map((s) => [s.name, s.action]));
}

function serverId(plan: EvacuationPlan, name: string): string {
  const found = plan.servers.find((s) => s.name === name);
  if (!found) throw new Error(`no server ${name} in the plan`);
  return found.serverId;
}

async function novaRefusal(action: Promise<unknown>): Promise<OpenStackError> {
  const error = await action.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenStackError);
  return error as OpenStackError;
}

describe('planning host-1 of the default simulated cloud', () => {
  let clock: ManualClock;
  let sim: SimCloud;
  let client: NovaComputeClient;

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2030-01-01T03:00:00Z'));
    sim = await startSimCloud({ clock });
    client = createComputeClient(sim.credentials);
  });

  afterEach(async () => {
    client.close();
    await sim.close();
  });

  it('live-migrates, cold-migrates and skips per server while the service is up', async () => {
    const plan = await planEvacuation(client, AUTO);
    expect(plan.mode).toBe('live');
    expect(plan.runnable).toBe(true);
    expect(plan.needsForceDown).toBe(false);
    // Exactly host-1's servers: host-10's never match, shelved-offloaded ones have no host.
    expect(actions(plan)).toEqual(LIVE_HOST_ACTIONS);
    const byName = new Map(plan.servers.map((s) => [s.name, s]));
    expect(byName.get('db-primary')?.why).toMatch(/^Locked \("primary database, page the DBA"\)/);
    expect(byName.get('broken-1')?.findings.map((f) => f.code)).toEqual(['error-state']);
    expect(byName.get('pinned-1')?.findings.map((f) => f.code)).toEqual(['cpu-pinned']);
    expect(plan.findings.filter((f) => f.severity === 'blocker')).toEqual([]);
    expect(plan.findings.find((f) => f.code === 'servers-remain')?.message).toBe(
      '2 servers stay on host-1 (2 cannot move): the host will not be empty.',
    );
    expect(plan.capacity.candidateHosts).toEqual([
      'host-2',
      'host-3',
      'host-4',
      'host-5',
      'host-6',
      'host-10',
    ]);
    expect(plan.capacity.neededVcpus).toBe(
      plan.servers.filter((s) => s.action !== 'skip').reduce((sum, s) => sum + s.vcpus, 0),
    );
    if (plan.capacity.freeVcpus === null) {
      expect(plan.findings.map((f) => f.code)).toContain('capacity-unknown');
    } else {
      expect(plan.capacity.freeRamMb).toBeGreaterThan(plan.capacity.neededRamMb);
    }
  });

  it('skips the errored server because Nova refuses to live-migrate it', async () => {
    // The locked one is skipped by choice: Nova lets admins move locked servers, the bot does not.
    const plan = await planEvacuation(client, AUTO);
    const errored = await novaRefusal(client.liveMigrate(serverId(plan, 'broken-1')));
    expect(errored.status).toBe(409);
    expect(errored.serviceMessage).toMatch(/while it is in vm_state error/);
  });

  it('refuses evacuation while the service is up, with the words Nova uses', async () => {
    const plan = await planEvacuation(client, { ...AUTO, mode: 'evacuate' });
    expect(plan.runnable).toBe(false);
    const refusal = await novaRefusal(client.evacuate(serverId(plan, 'web-1')));
    expect(refusal.status).toBe(400);
    expect(refusal.serviceMessage).toBe('Compute service of host-1 is still in use.');
    const blocker = plan.findings.find((f) => f.code === 'service-up');
    expect(blocker?.message).toContain(`"${refusal.serviceMessage}"`);
  });

  it('evacuates once the host is dead: fenced by the operator, or forced down', async () => {
    sim.control.setHostAlive('host-1', false);
    clock.advance(61_000); // past service_down_time (60 s)

    const unfenced = await planEvacuation(client, AUTO);
    expect(unfenced.service.state).toBe('down');
    expect(unfenced.mode).toBe('evacuate');
    expect(unfenced.needsForceDown).toBe(true);
    expect(unfenced.runnable).toBe(false);
    expect(unfenced.findings.filter((f) => f.severity === 'blocker').map((f) => f.code)).toEqual([
      'not-fenced',
    ]);
    expect(actions(unfenced)).toEqual(DEAD_HOST_ACTIONS);

    const fenced = await planEvacuation(client, { ...AUTO, hostFenced: true });
    expect(fenced.runnable).toBe(true);
    expect(fenced.needsForceDown).toBe(true);

    await client.setForcedDown(unfenced.service, true);
    const forced = await planEvacuation(client, AUTO);
    expect(forced.needsForceDown).toBe(false);
    expect(forced.runnable).toBe(true);
    expect(actions(forced)).toEqual(DEAD_HOST_ACTIONS);
    const imageBacked = forced.servers.filter((s) => s.findings.some((f) => f.code === 'not-volume-backed'));
    expect(imageBacked.map((s) => s.name).sort()).toEqual(
      ['batch-1', 'broken-1', 'db-replica-1', 'pinned-1', 'web-1', 'web-2', 'web-3'].sort(),
    );
    // The paused server is skipped because Nova would refuse it.
    const paused = await novaRefusal(client.evacuate(serverId(forced, 'paused-1')));
    expect(paused.status).toBe(409);
    expect(paused.serviceMessage).toMatch(/vm_state paused/);
  });

  it('blocks live migration of a host that is down', async () => {
    sim.control.setHostAlive('host-1', false);
    clock.advance(61_000);
    const plan = await planEvacuation(client, { ...AUTO, mode: 'live' });
    expect(plan.runnable).toBe(false);
    expect(plan.findings.find((f) => f.code === 'service-down')?.severity).toBe('blocker');
  });

  it('names the nearest hosts for a typo and never matches host-10 for host-1', async () => {
    const error = await planEvacuation(client, { ...AUTO, host: 'host1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownHostError);
    expect((error as UnknownHostError).suggestions[0]).toBe('host-1');
    const ten = await planEvacuation(client, { ...AUTO, host: 'host-10' });
    expect(ten.servers.map((s) => s.name).sort()).toEqual(['batch-10', 'db-10', 'tools-10', 'web-10']);
  });
});

describe('planning cost over HTTP', () => {
  async function requestsToPlan(serversOnHost: number): Promise<Record<string, number>> {
    const sim = await startSimCloud({
      scenario: generateScenario({ hosts: 3, serversPerHost: serversOnHost, loadedHosts: ['host-1'] }),
    });
    const client = createComputeClient(sim.credentials, { pageSize: 100 });
    try {
      await client.microversions();
      sim.control.resetCounters();
      const plan = await planEvacuation(client, AUTO);
      expect(plan.servers).toHaveLength(serversOnHost);
      expect(plan.servers.every((s) => s.action === 'live-migrate')).toBe(true);
      return sim.control.counters().requests;
    } finally {
      client.close();
      await sim.close();
    }
  }

  it('grows only by result pages, not per server', async () => {
    const small = await requestsToPlan(5);
    const large = await requestsToPlan(250);
    expect(small['GET /servers/detail']).toBe(1);
    expect(large['GET /servers/detail']).toBe(3); // 100 + 100 + 50
    const { ['GET /servers/detail']: _small, ...smallRest } = small;
    const { ['GET /servers/detail']: _large, ...largeRest } = large;
    expect(largeRest).toEqual(smallRest);
    expect(Object.values(smallRest).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6);
  });
});
