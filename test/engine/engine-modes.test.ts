/**
 * Each kind of move end to end against the simulated cloud over HTTP (real client, real sim):
 * the engine's verdicts are checked against what the simulator itself says happened.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineEvent, EvacuationRun, ServerRunState } from '../../src/engine/types.js';
import {
  actionCounts,
  ctl,
  startHarness,
  statesOf,
  waitFor,
  waitForRunState,
  type Harness,
} from './harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

function transitionsOf(events: EngineEvent[], serverName: string): ServerRunState[] {
  const states: ServerRunState[] = [];
  for (const event of events) {
    if (event.type !== 'server.changed' || event.server.name !== serverName) continue;
    if (states.length === 0) states.push(event.previous);
    states.push(event.server.state);
  }
  return states;
}

/** Every journaled intent has exactly one result, and nothing else is in the journal. */
function expectJournalPaired(harness: Harness, run: EvacuationRun): void {
  const open = new Map<string, number>();
  for (const entry of harness.engine.journal(run.id)) {
    const key = `${entry.serverId ?? 'host'}/${entry.action}/${entry.attempt}`;
    open.set(key, (open.get(key) ?? 0) + (entry.phase === 'intent' ? 1 : -1));
  }
  expect([...open.entries()].filter(([, n]) => n !== 0)).toEqual([]);
}

describe('live migration (service up)', () => {
  it('drains host-1: every movable server verified on another host, skips reported, service disabled', async () => {
    h = await startHarness();
    const before = h.sim.control.state();
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'auto',
      reason: 'kernel upgrade',
      requestedBy: 'U-alice',
    });
    expect(run.state).toBe('planned');
    expect(statesOf(run)).toMatchObject({
      'db-primary': 'skipped',
      'broken-1': 'skipped',
      'web-1': 'pending',
    });
    expect(run.servers.find((s) => s.name === 'db-primary')?.skipReason).toMatch(/locked/i);

    const confirmed = await h.engine.confirm(run.id, ctl('U-bob'));
    expect(confirmed.outcome).toBe('applied');
    expect(confirmed.message).toMatch(/^Started: moving 8 servers off host-1/);
    const done = await waitForRunState(h.engine, run.id, 'finished');

    const sim = h.sim.control.state();
    const simServer = (id: string) => sim.servers.find((s) => s.id === id);
    for (const server of done.servers) {
      const now = simServer(server.serverId);
      const was = before.servers.find((s) => s.id === server.serverId);
      if (server.state === 'skipped') {
        expect(now?.host).toBe('host-1');
        continue;
      }
      expect(server.state, `${server.name}: ${server.failure?.message ?? ''}`).toBe('done');
      expect(server.destinationHost).not.toBe('host-1');
      expect(now?.host).toBe(server.destinationHost);
      // State as before: PAUSED stays PAUSED, a stopped server (cold-migrated) stays SHUTOFF.
      expect(now?.status).toBe(was?.status);
      expect(server.failure).toBeNull();
      expect(server.migrationId).not.toBeNull();
    }
    expect(done.servers.find((s) => s.name === 'db-replica-1')?.action).toBe('cold-migrate');
    expect(done.servers.find((s) => s.name === 'paused-1')?.action).toBe('live-migrate');
    // Records agree: live `completed`, cold `confirmed`.
    for (const server of done.servers.filter((s) => s.state === 'done')) {
      const record = sim.migrations.find((m) => m.id === server.migrationId);
      expect(record?.status).toBe(server.action === 'cold-migrate' ? 'confirmed' : 'completed');
    }
    // host-10 is a different host: untouched.
    for (const s of sim.servers.filter(
      (s) => before.servers.find((b) => b.id === s.id)?.host === 'host-10',
    )) {
      expect(s.host).toBe('host-10');
    }

    const host = h.sim.control.host('host-1');
    expect(host.status).toBe('disabled');
    expect(host.disabledReason).toBe(`evacuation-bot run ${run.id} by U-bob: kernel upgrade`);
    expect(done.serviceDisabledByRun).toBe(true);

    expect(transitionsOf(h.events, 'web-2')).toEqual(['pending', 'requested', 'moving', 'done']);
    expect(h.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['run.planned', 'run.started', 'service.changed', 'run.finished']),
    );
    expect(h.events.filter((e) => e.type === 'run.finished')).toHaveLength(1);

    const audit = h.engine.audit(run.id);
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'preview',
        'run-confirmed',
        'service-disable-service',
        'run-started',
        'run-finished',
      ]),
    );
    expect(audit.filter((a) => a.action === 'server-done')).toHaveLength(8);
    expect(audit.find((a) => a.action === 'preview')?.actor).toBe('U-alice');
    expect(audit.find((a) => a.action === 'confirm')).toMatchObject({
      actor: 'U-bob',
      detail: { outcome: 'applied' },
    });
    expectJournalPaired(h, done);
    // Exactly one move request per server.
    const live = actionCounts(h.sim, 'live-migration');
    for (const server of done.servers.filter((s) => s.action === 'live-migrate')) {
      expect(live.get(server.serverId)).toBe(1);
    }

    const reenabled = await h.engine.reenableService(run.id, ctl('U-bob'));
    expect(reenabled).toMatchObject({ outcome: 'applied' });
    expect(h.sim.control.host('host-1').status).toBe('enabled');
    expect(h.engine.getRun(run.id)?.serviceDisabledByRun).toBe(false);
    const again = await h.engine.reenableService(run.id, ctl('U-bob'));
    expect(again.outcome).toBe('rejected');
    expect(again.message).toMatch(/already re-enabled/);
  });

  it('reports live-migration progress from the memory figures while a move runs', async () => {
    h = await startHarness({ sim: { timeScale: 0.05 } });
    h.sim.control.setOperationDuration('live_migration', 20);
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const progress = await waitFor('a progress event', () =>
      h?.events.find((e) => e.type === 'server.progress' && e.server.progress?.percent !== null),
    );
    expect(progress.type).toBe('server.progress');
    if (progress.type === 'server.progress') {
      expect(progress.server.progress?.memoryTotalBytes).toBeGreaterThan(0);
      expect(progress.server.progress?.percent).toBeGreaterThanOrEqual(0);
      expect(progress.server.progress?.percent).toBeLessThanOrEqual(100);
    }
    const done = await waitForRunState(h.engine, run.id, 'finished');
    expect(done.servers.find((s) => s.name === 'web-2')?.state).toBe('done');
  });
});

describe('cold migration', () => {
  it('moves a running and a stopped server through VERIFY_RESIZE and confirms each resize', async () => {
    h = await startHarness();
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'cold',
      include: ['web-2', 'db-replica-1'],
      requestedBy: 'U1',
    });
    expect(
      run.servers
        .filter((s) => s.action === 'cold-migrate')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['db-replica-1', 'web-2']);
    await h.engine.confirm(run.id, ctl());
    const done = await waitForRunState(h.engine, run.id, 'finished');
    expect(statesOf(done)).toMatchObject({ 'web-2': 'done', 'db-replica-1': 'done' });
    for (const name of ['web-2', 'db-replica-1']) {
      expect(transitionsOf(h.events, name)).toEqual(['pending', 'requested', 'moving', 'confirming', 'done']);
    }
    const sim = h.sim.control;
    expect(sim.server('web-2').status).toBe('ACTIVE');
    expect(sim.server('db-replica-1').status).toBe('SHUTOFF');
    expect(sim.server('web-2').host).not.toBe('host-1');
    const confirms = actionCounts(h.sim, 'confirmResize');
    const migrates = actionCounts(h.sim, 'migrate');
    for (const server of done.servers.filter((s) => s.state === 'done')) {
      expect(confirms.get(server.serverId)).toBe(1);
      expect(migrates.get(server.serverId)).toBe(1);
      expect(sim.state().migrations.find((m) => m.id === server.migrationId)?.status).toBe('confirmed');
    }
  });
});

describe('evacuation (host dead)', () => {
  it('refuses until the host is stated fenced, forces it down, rebuilds elsewhere; re-enable waits for Nova', async () => {
    h = await startHarness();
    h.sim.control.setHostAlive('host-1', false);
    await waitFor('host-1 to be reported down', () => h?.sim.control.host('host-1').state === 'down');

    const run = await h.engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U1' });
    expect(run.plan.mode).toBe('evacuate');
    expect(run.plan.needsForceDown).toBe(true);
    const refused = await h.engine.confirm(run.id, ctl());
    expect(refused.outcome).toBe('rejected');
    expect(refused.message).toMatch(/^This plan cannot run: /);
    expect(h.sim.control.host('host-1').status).toBe('enabled');

    const fenced = await h.engine.updatePlan(run.id, { hostFenced: true }, ctl());
    expect(fenced.outcome).toBe('applied');
    const started = await h.engine.confirm(run.id, ctl());
    expect(started.outcome).toBe('applied');
    const done = await waitForRunState(h.engine, run.id, 'finished');

    const movable = done.servers.filter((s) => s.action === 'evacuate');
    expect(movable.map((s) => s.name)).toEqual(expect.arrayContaining(['broken-1', 'db-replica-1', 'web-1']));
    for (const server of movable) {
      expect(server.state, `${server.name}: ${server.failure?.message ?? ''}`).toBe('done');
      const now = h.sim.control.server(server.serverId);
      expect(now.host).toBe(server.destinationHost);
      expect(now.host).not.toBe('host-1');
    }
    // At 2.95+ every evacuated server lands SHUTOFF, except an ERROR one, which is rebuilt ACTIVE.
    expect(h.sim.control.server('db-replica-1').status).toBe('SHUTOFF');
    expect(h.sim.control.server('web-1').status).toBe('SHUTOFF');
    expect(h.sim.control.server('broken-1').status).toBe('ACTIVE');
    expect(h.sim.control.host('host-1')).toMatchObject({ forcedDown: true, status: 'disabled' });
    const evacuations = h.sim.control.state().migrations.filter((m) => m.migrationType === 'evacuation');
    expect(evacuations.every((m) => m.status === 'done')).toBe(true);

    // Nova will not unset forced_down while 'done' evacuation records remain: its words reach the operator.
    const tooEarly = await h.engine.reenableService(run.id, ctl());
    expect(tooEarly.outcome).toBe('rejected');
    expect(tooEarly.message).toContain('evacuation migration records remain associated with the host');
    expect(h.sim.control.host('host-1').forcedDown).toBe(true);

    h.sim.control.setHostAlive('host-1', true);
    await waitFor('evacuation records to complete', () =>
      h?.sim.control
        .state()
        .migrations.filter((m) => m.migrationType === 'evacuation')
        .every((m) => m.status === 'completed'),
    );
    const reenabled = await h.engine.reenableService(run.id, ctl());
    expect(reenabled.outcome).toBe('applied');
    expect(reenabled.message).toMatch(/forced_down unset, enabled/);
    expect(h.sim.control.host('host-1')).toMatchObject({ forcedDown: false, status: 'enabled' });
    const actions = h.engine.audit(run.id).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'service-force-down',
        'service-unset-force-down-failed',
        'service-unset-force-down',
        'service-enable-service',
      ]),
    );
  });
});
