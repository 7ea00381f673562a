import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { Nova, getToken, http, serverId } from './helpers.js';

let clock: ManualClock;
let sim: SimCloud;
let nova: Nova;

beforeEach(async () => {
  clock = new ManualClock();
  sim = await startSimCloud({ clock, seed: 99 });
  nova = await Nova.admin(sim);
});

afterEach(async () => {
  await sim.close();
});

describe('fault injection', () => {
  it('fails a fraction of matching requests, the same ones for the same seed', async () => {
    const pattern = async (seed: number) => {
      const s = await startSimCloud({ clock, seed });
      try {
        const n = await Nova.admin(s);
        s.control.addFault({ endpoint: 'GET /servers/detail', errorRate: 0.5, error: 503 });
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) statuses.push((await n.get('/servers/detail')).status);
        expect((await n.get('/os-services')).status).toBe(200);
        return statuses;
      } finally {
        await s.close();
      }
    };
    const first = await pattern(5);
    expect(first).toEqual(await pattern(5));
    expect(first).toContain(503);
    expect(first).toContain(200);
  });

  it('injects Nova-shaped 5xx and 409 bodies, narrowed to one action, limited by count', async () => {
    const rule = sim.control.addFault({
      endpoint: 'POST /servers/{id}/action',
      action: 'os-migrateLive',
      error: 500,
      count: 1,
    });
    const id = serverId(sim, 'web-2');
    const failed = await nova.liveMigrate(id);
    expect(failed.status).toBe(500);
    expect(failed.json.computeFault.message).toContain('Unexpected API Error');
    expect((await nova.server(id)).status).toBe('ACTIVE'); // nothing happened
    expect((await nova.action(id, { 'os-stop': null })).status).toBe(202); // other actions pass
    clock.advance(1000);
    sim.control.addFault({
      endpoint: 'POST /servers/{id}/action',
      action: 'os-start',
      error: 409,
      message: 'busy',
    });
    const conflict = await nova.action(id, { 'os-start': null });
    expect(conflict.json).toEqual({ conflictingRequest: { code: 409, message: 'busy' } });
    expect(sim.control.listFaults().find((f) => f.id === rule.id)?.injected).toBe(1);
    expect((await nova.liveMigrate(serverId(sim, 'web-3'))).status).toBe(202);
    expect(sim.control.counters().injectedFaults).toEqual({ 'POST /servers/{id}/action': 2 });
  });

  it('can accept a request and never answer it', async () => {
    sim.control.addFault({ endpoint: 'GET /os-services', error: 'timeout' });
    await expect(
      http('GET', `${sim.computeUrl}/os-services`, {
        headers: { 'X-Auth-Token': nova.token },
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow(/abort|timeout/i);
    expect(sim.control.counters().requests['GET /os-services']).toBe(1);
    sim.control.clearFaults();
    expect((await nova.get('/os-services')).status).toBe(200);
  });

  it('adds latency (real milliseconds)', async () => {
    sim.control.addFault({ endpoint: 'GET /servers*', latencyMs: 150 });
    const started = Date.now();
    expect((await nova.get('/servers')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('fails Keystone too, with Keystone-shaped errors', async () => {
    sim.control.addFault({ endpoint: 'POST /identity/v3/auth/tokens', error: 503, count: 1 });
    await expect(getToken(sim)).rejects.toThrow(/503/);
    expect(await getToken(sim)).toMatch(/^gAAAAA/);
  });

  it('rejects a rule that does nothing or has a bad status', () => {
    expect(() => sim.control.addFault({ endpoint: '*' })).toThrow(/needs an `error`/);
    expect(() => sim.control.addFault({ endpoint: '*', error: 200 })).toThrow(/invalid fault rule/);
  });
});

describe('counters', () => {
  it('counts requests by route template and action, statuses, and concurrent operations', async () => {
    sim.control.resetCounters();
    await nova.get('/servers/detail?all_tenants=1');
    await nova.get(`/servers/${serverId(sim, 'web-1')}`);
    await nova.get(`/servers/${serverId(sim, 'web-2')}`);
    await nova.liveMigrate(serverId(sim, 'web-2'));
    await nova.liveMigrate(serverId(sim, 'web-3'));
    await nova.liveMigrate(serverId(sim, 'web-4'));
    const c = sim.control.counters();
    expect(c.requests).toEqual({
      'GET /servers/detail': 1,
      'GET /servers/{id}': 2,
      'POST /servers/{id}/action': 3,
    });
    expect(c.actions).toEqual({ 'os-migrateLive': 3 });
    expect(c.statuses).toEqual({ '200': 3, '202': 3 });
    expect(c.operations.total).toEqual({ current: 3, max: 3 });
    expect(c.operations.bySourceHost).toMatchObject({
      'host-1': { current: 2, max: 2 },
      'host-2': { current: 1, max: 1 },
    });
    expect(c.operations.byKindAndSourceHost['live-migration']?.['host-1']).toEqual({ current: 2, max: 2 });

    clock.advance(20_000);
    const after = sim.control.counters().operations;
    expect(after.total).toEqual({ current: 0, max: 3 });
    sim.control.resetCounters();
    const reset = sim.control.counters();
    expect(reset.total).toBe(0);
    expect(reset.operations.total).toEqual({ current: 0, max: 0 });
  });
});

describe('control API over HTTP', () => {
  const sim_ = (path: string, method = 'GET', body?: unknown) =>
    http(method, `${sim.url}/_sim${path}`, body === undefined ? {} : { body });

  it('reads state and drives drills from another process', async () => {
    const state = await sim_('/state');
    expect(state.json.hosts).toHaveLength(7);
    expect(state.json.servers).toHaveLength(40);
    expect(state.json.servers.find((s: { name: string }) => s.name === 'web-2')).toMatchObject({
      host: 'host-1',
      status: 'ACTIVE',
      vmState: 'active',
      taskState: null,
    });

    const dead = await sim_('/hosts/host-1/alive', 'POST', { alive: false });
    expect(dead.json).toMatchObject({ name: 'host-1', alive: false, state: 'up' });
    clock.advance(61_000);
    expect((await sim_('/hosts/host-1')).json.state).toBe('down');

    expect((await sim_('/durations', 'POST', { kind: 'evacuation', seconds: 1 })).status).toBe(200);
    const id = serverId(sim, 'web-2');
    await nova.action(id, { evacuate: {} });
    clock.advance(1200);
    expect((await sim_(`/servers/${id}`)).json.status).toBe('ACTIVE');
    expect((await sim_('/servers/web-3')).json.host).toBe('host-1');

    expect((await sim_('/live-migration-failures', 'POST', { host: 'host-2' })).status).toBe(200);
    expect((await sim_('/live-migration-failure-rate', 'POST', { rate: 0 })).status).toBe(200);
    expect(
      (await sim_('/max-concurrent-live-migrations', 'POST', { value: 3, host: 'host-2' })).json,
    ).toEqual({ ok: true });
    const filled = await sim_('/hosts/host-3/fill', 'POST');
    expect(filled.json.used.ramMb).toBe(filled.json.capacity.ramMb);
    const emptied = await sim_('/hosts/host-3/fill', 'DELETE');
    expect(emptied.json.used.ramMb).toBeLessThan(emptied.json.capacity.ramMb);

    const fault = await sim_('/faults', 'POST', { endpoint: 'GET /limits', error: 502 });
    expect(fault.status).toBe(201);
    expect((await nova.get('/limits')).status).toBe(502);
    expect((await sim_('/faults')).json.faults).toHaveLength(1);
    expect((await sim_(`/faults/${fault.json.fault.id}`, 'DELETE')).status).toBe(200);
    expect((await nova.get('/limits')).status).toBe(200);

    expect((await sim_('/tokens/ttl', 'POST', { seconds: 1 })).status).toBe(200);
    expect((await sim_('/tokens/expire', 'POST')).status).toBe(200);
    expect((await nova.get('/limits')).status).toBe(401);

    const counters = await sim_('/counters');
    expect(counters.json.requests['GET /limits']).toBe(3);
    expect((await sim_('/counters/reset', 'POST')).status).toBe(200);
    expect((await sim_('/counters')).json.total).toBe(0);
  });

  it('answers bad control requests with clear errors', async () => {
    expect((await sim_('/hosts/host-99/alive', 'POST', { alive: false })).json).toEqual({
      error: 'unknown host "host-99"',
    });
    const bad = await sim_('/hosts/host-1/alive', 'POST', { alive: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toContain('alive');
    expect((await sim_('/durations', 'POST', { kind: 'teleport', seconds: 1 })).status).toBe(400);
    expect((await sim_('/nope')).status).toBe(404);
    expect((await sim_('/state', 'DELETE')).status).toBe(405);
    expect((await http('POST', `${sim.url}/_sim/faults`, { body: '{oops' })).status).toBe(400);
    expect((await sim_('/faults', 'POST', { endpoint: '*', error: 'sometimes' })).status).toBe(400);
  });
});

describe('power and lock actions', () => {
  it('stops, starts, locks and unlocks with owner rules', async () => {
    const alice = new Nova(sim, await getToken(sim, 'alice', 'alice', 'web'), '2.90');
    const id = serverId(sim, 'web-2');
    expect((await alice.action(id, { 'os-stop': null })).status).toBe(202);
    expect((await nova.server(id))['OS-EXT-STS:task_state']).toBe('powering-off');
    clock.advance(1000);
    expect((await nova.server(id)).status).toBe('SHUTOFF');
    const again = await alice.action(id, { 'os-stop': null });
    expect(again.json.conflictingRequest.message).toBe(
      `Cannot 'stop' instance ${id} while it is in vm_state stopped`,
    );

    expect((await nova.action(id, { lock: { locked_reason: 'hands off' } })).status).toBe(202);
    const locked = await alice.action(id, { 'os-start': null });
    expect(locked.status).toBe(409);
    expect(locked.json.conflictingRequest.message).toBe(`Instance ${id} is locked`);
    const unlock = await alice.action(id, { unlock: null });
    expect(unlock.json.forbidden.message).toBe(
      "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.",
    );
    expect((await nova.action(id, { unlock: null })).status).toBe(202);
    expect((await alice.action(id, { 'os-start': null })).status).toBe(202);
    clock.advance(1000);
    expect((await nova.server(id)).status).toBe('ACTIVE');
    expect((await nova.action(id, { nosuch: null })).json.badRequest.message).toBe(
      'There is no such action: nosuch',
    );
    expect((await nova.action(id, '{bad json' as unknown as object)).json.badRequest.message).toBe(
      'Malformed request body',
    );
  });

  it('leaves a stop on a dead host in powering-off until nova-compute is back', async () => {
    sim.control.setHostAlive('host-2', false);
    const id = serverId(sim, 'web-4');
    expect((await nova.action(id, { 'os-stop': null })).status).toBe(202);
    clock.advance(10_000);
    expect((await nova.server(id))['OS-EXT-STS:task_state']).toBe('powering-off');
    sim.control.setHostAlive('host-2', true);
    expect(await nova.server(id)).toMatchObject({ status: 'SHUTOFF', 'OS-EXT-STS:task_state': null });
  });
});
