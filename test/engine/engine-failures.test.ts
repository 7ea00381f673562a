/**
 * Failure in each phase, against the simulated cloud: a request Nova refuses, a live migration
 * that fails silently, an evacuation that ends in ERROR, a move that never finishes; and the
 * operator's answers to them (retry, retry as cold, retry all failed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EvacuationRun, ServerRun } from '../../src/engine/types.js';
import {
  actionCounts,
  ctl,
  novaRequest,
  serverId,
  startHarness,
  waitFor,
  waitForRunState,
  type Harness,
} from './harness.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

function server(run: EvacuationRun, name: string): ServerRun {
  const found = run.servers.find((s) => s.name === name);
  if (!found) throw new Error(`no server ${name} in run`);
  return found;
}

describe('failures', () => {
  it('a request Nova refuses fails at once with the 409 text and request id', async () => {
    h = await startHarness();
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    // The server is stopped behind the engine's back between preview and confirm.
    const stopped = await novaRequest(h.sim, 'POST', `/servers/${serverId(h.sim, 'web-2')}/action`, {
      'os-stop': null,
    });
    expect(stopped.status).toBe(202);
    await waitFor('web-2 to be SHUTOFF', () => h?.sim.control.server('web-2').status === 'SHUTOFF');

    await h.engine.confirm(run.id, ctl());
    const done = await waitForRunState(h.engine, run.id, 'finished');
    const web2 = server(done, 'web-2');
    expect(web2.state).toBe('failed');
    expect(web2.failure).toMatchObject({ source: 'api', httpStatus: 409 });
    expect(web2.failure?.message).toMatch(
      /Cannot 'os-migrateLive' instance .* while it is in vm_state stopped/,
    );
    expect(web2.failure?.requestId).toMatch(/^req-/);
    expect(
      h.engine
        .journal(run.id)
        .filter((j) => j.serverId === web2.serverId)
        .map((j) => [j.phase, j.outcome]),
    ).toEqual([
      ['intent', null],
      ['result', 'refused'],
    ]);
  });

  it('a silent live-migration failure is a failure with the instance-action reason; retried as cold it lands', async () => {
    h = await startHarness();
    const id = serverId(h.sim, 'web-3');
    h.sim.control.failNextLiveMigration({
      serverId: id,
      message: 'Unable to pre-create chardev file console.log',
      status: 'error',
    });
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-3'],
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const failed = await waitForRunState(h.engine, run.id, 'finished');
    const web3 = server(failed, 'web-3');
    expect(web3.state).toBe('failed');
    expect(web3.failure?.source).toBe('instance-action');
    expect(web3.failure?.message).toContain('Unable to pre-create chardev file console.log');
    expect(web3.failure?.message).toContain('"error"');
    expect(web3.failure?.requestId).toMatch(/^req-/);
    // Nova's silent failure: the server is back ACTIVE on the source.
    expect(h.sim.control.server(id)).toMatchObject({ host: 'host-1', status: 'ACTIVE' });

    const retried = await h.engine.retryServer(run.id, id, ctl('U2'), { as: 'cold-migrate' });
    expect(retried.outcome).toBe('applied');
    expect(retried.message).toMatch(/as cold-migrate \(was live-migrate\)/);
    expect(retried.run.state).toBe('running');
    const done = await waitForRunState(h.engine, run.id, 'finished');
    const after = server(done, 'web-3');
    expect(after).toMatchObject({ state: 'done', action: 'cold-migrate', attempt: 2, failure: null });
    expect(h.sim.control.server(id).host).toBe(after.destinationHost);
    expect(actionCounts(h.sim, 'live-migration').get(id)).toBe(1);
    expect(actionCounts(h.sim, 'migrate').get(id)).toBe(1);
    const retryAudit = h.engine.audit(run.id).find((a) => a.action === 'server-retry');
    expect(retryAudit).toMatchObject({ actor: 'U2', detail: { serverId: id, as: 'cold-migrate' } });
  });

  it('an evacuation that ends in ERROR reports the fault; retry all failed once capacity is back', async () => {
    h = await startHarness();
    h.sim.control.setHostAlive('host-1', false);
    for (const host of ['host-2', 'host-3', 'host-4', 'host-5', 'host-6', 'host-10'])
      h.sim.control.fillHost(host);
    await waitFor('host-1 down', () => h?.sim.control.host('host-1').state === 'down');
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'evacuate',
      include: ['web-1', 'web-2'],
      hostFenced: true,
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const failed = await waitForRunState(h.engine, run.id, 'finished');
    for (const name of ['web-1', 'web-2']) {
      const s = server(failed, name);
      expect(s.state).toBe('failed');
      expect(s.failure?.source).toBe('fault');
      expect(s.failure?.message).toMatch(/No valid host was found/);
      expect(h.sim.control.server(name).status).toBe('ERROR');
    }
    // web-1 is in an anti-affinity group with servers on host-2 and host-3: host-4 is its only way out.
    for (const host of ['host-2', 'host-3', 'host-4']) h.sim.control.unfillHost(host);
    const retried = await h.engine.retryFailed(run.id, ctl());
    expect(retried).toMatchObject({ outcome: 'applied', message: 'Retrying 2 servers.' });
    const done = await waitForRunState(h.engine, run.id, 'finished');
    expect(server(done, 'web-1').failure).toBeNull();
    expect(server(done, 'web-1').state).toBe('done');
    expect(server(done, 'web-2').state).toBe('done');
    expect(h.sim.control.server('web-1').status).toBe('ACTIVE');
    expect(h.sim.control.server('web-1').host).toBe('host-4');
  });

  it('a move that never finishes times out with what was last seen, and frees its slot', async () => {
    h = await startHarness({ engine: { timeoutsMs: { 'live-migrate': 400 } } });
    h.sim.control.setOperationDuration('live_migration', 100_000);
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-1', 'web-2'],
      concurrency: 1,
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const done = await waitForRunState(h.engine, run.id, 'finished');
    for (const name of ['web-1', 'web-2']) {
      const s = server(done, name);
      expect(s.state).toBe('timed_out');
      expect(s.failure?.source).toBe('timeout');
      expect(s.failure?.message).toMatch(/^No result after 0 s|^No result after \d+ s/);
      expect(s.failure?.message).toMatch(
        /last seen: MIGRATING, task migrating on host-1; migration \d+ "(running|queued|preparing)"/,
      );
    }
    // Retrying a server Nova is still moving is refused by planning (a task is in progress).
    const retry = await h.engine.retryServer(run.id, serverId(h.sim, 'web-1'), ctl());
    expect(retry.outcome).toBe('rejected');
    expect(retry.message).toMatch(/^Cannot retry web-1/);
  });
});

describe('requests without a clear answer', () => {
  it('a 503 on the move request: Nova never got it, so the server fails with that, and was not moved', async () => {
    h = await startHarness();
    h.sim.control.addFault({
      endpoint: 'POST /servers/{id}/action',
      action: 'os-migrateLive',
      error: 503,
      count: 1,
    });
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const done = await waitForRunState(h.engine, run.id, 'finished');
    const web2 = server(done, 'web-2');
    expect(web2.state).toBe('failed');
    expect(web2.failure?.source).toBe('api');
    expect(web2.failure?.message).toMatch(
      /^The live-migrate request got no clear answer \(.*\); Nova has recorded no live-migration action for the server since, so the request never reached it\.$/s,
    );
    expect(actionCounts(h.sim, 'live-migration').get(web2.serverId)).toBeUndefined();
    const outcomes = h.engine
      .journal(run.id)
      .filter((j) => j.serverId === web2.serverId)
      .map((j) => j.outcome);
    expect(outcomes).toEqual([null, 'unknown']);
    // The operator can retry: the request goes out once more.
    await h.engine.retryServer(run.id, web2.serverId, ctl());
    const after = await waitForRunState(h.engine, run.id, 'finished');
    expect(server(after, 'web-2').state).toBe('done');
    expect(actionCounts(h.sim, 'live-migration').get(web2.serverId)).toBe(1);
  });

  it('a move request that timed out on our side but reached Nova is followed, not sent again', async () => {
    h = await startHarness({ client: { timeoutMs: 300 } });
    // Nova answers only after 800 ms, long after the client gave up; it still performs the move.
    const slow = h.sim.control.addFault({
      endpoint: 'POST /servers/{id}/action',
      action: 'os-migrateLive',
      latencyMs: 800,
    });
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    await waitFor('the timed-out request to be journaled', () =>
      h?.engine.journal(run.id).some((j) => j.outcome === 'unknown'),
    );
    h.sim.control.removeFault(slow.id);
    const done = await waitForRunState(h.engine, run.id, 'finished');
    const web2 = server(done, 'web-2');
    expect(web2.state, web2.failure?.message).toBe('done');
    expect(h.sim.control.server(web2.serverId).host).toBe(web2.destinationHost);
    expect(actionCounts(h.sim, 'live-migration').get(web2.serverId)).toBe(1);
  });
});

describe('stop, abort, force-complete', () => {
  it('stop half way: pending servers become stopped, the move in flight finishes; retry reopens the run', async () => {
    h = await startHarness({ sim: { timeScale: 0.02 } });
    const names = ['web-1', 'web-2', 'web-3', 'batch-1'];
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: names,
      concurrency: 1,
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    await waitFor('the first move to finish and the second to start', () => {
      const now = h?.engine.getRun(run.id);
      const done = now?.servers.filter((s) => s.state === 'done').length ?? 0;
      const inFlight = now?.servers.filter((s) => ['requested', 'moving'].includes(s.state)).length ?? 0;
      return done >= 1 && inFlight === 1;
    });
    const stop = await h.engine.stop(run.id, ctl('U-stopper'));
    expect(stop.outcome).toBe('applied');
    expect(stop.message).toBe('Stopping: 2 pending servers will not be moved. 1 move in flight will finish.');
    expect(stop.run.state).toBe('stopping');
    const done = await waitForRunState(h.engine, run.id, 'finished');
    const states = done.servers
      .filter((s) => s.action !== 'skip')
      .map((s) => s.state)
      .sort();
    expect(states).toEqual(['done', 'done', 'stopped', 'stopped']);
    expect(done.stoppedBy).toBe('U-stopper');
    const stoppedIds = done.servers.filter((s) => s.state === 'stopped').map((s) => s.serverId);
    const live = actionCounts(h.sim, 'live-migration');
    for (const id of stoppedIds) expect(live.get(id)).toBeUndefined();
    expect(h.events.some((e) => e.type === 'run.stopping' && e.by === 'U-stopper')).toBe(true);

    const again = await h.engine.stop(run.id, ctl());
    expect(again.outcome).toBe('rejected');
    expect(again.message).toMatch(/^This run finished at \d\d:\d\d UTC; nothing to stop\.$/);

    const [first] = stoppedIds;
    const retried = await h.engine.retryServer(run.id, first ?? '', ctl());
    expect(retried.outcome).toBe('applied');
    const after = await waitForRunState(h.engine, run.id, 'finished');
    expect(after.servers.find((s) => s.serverId === first)?.state).toBe('done');
  });

  it('stop with abortInFlight aborts the running live migration; the server stays on its host as stopped', async () => {
    h = await startHarness({ sim: { timeScale: 0.01 } });
    h.sim.control.setOperationDuration('live_migration', 300);
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-1', 'web-2'],
      concurrency: 1,
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    await waitFor('a live migration running with a known migration id', () => {
      const s = h?.engine.getRun(run.id)?.servers.find((x) => x.state === 'moving');
      return (
        s &&
        h?.sim.control.state().migrations.some((m) => m.serverId === s.serverId && m.status === 'running')
      );
    });
    const stop = await h.engine.stop(run.id, ctl('U9'), { abortInFlight: true });
    expect(stop.outcome).toBe('applied');
    expect(stop.message).toBe(
      'Stopping: 1 pending server will not be moved. 1 live migration asked to abort.',
    );
    const done = await waitForRunState(h.engine, run.id, 'finished');
    expect(done.servers.filter((s) => s.action !== 'skip').map((s) => s.state)).toEqual([
      'stopped',
      'stopped',
    ]);
    const aborted = done.servers.find((s) => s.failure !== null);
    expect(aborted?.failure?.message).toBe('Live migration aborted by U9; the server stayed on host-1.');
    expect(h.sim.control.server(aborted?.serverId ?? '').host).toBe('host-1');
    expect(h.sim.control.state().migrations.find((m) => m.id === aborted?.migrationId)?.status).toBe(
      'cancelled',
    );
  });

  it('force-complete finishes a long live migration; abort of a finished one is rejected', async () => {
    h = await startHarness({ sim: { timeScale: 0.01 } });
    h.sim.control.setOperationDuration('live_migration', 300);
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    await h.engine.confirm(run.id, ctl());
    const id = serverId(h.sim, 'web-2');
    await waitFor('the live migration to be running', () =>
      h?.sim.control.state().migrations.some((m) => m.serverId === id && m.status === 'running'),
    );
    const forced = await h.engine.forceCompleteLiveMigration(run.id, id, ctl());
    expect(forced.outcome).toBe('applied');
    expect(forced.message).toMatch(/^Asked Nova to force-complete the live migration of web-2/);
    const done = await waitForRunState(h.engine, run.id, 'finished', 10_000);
    expect(server(done, 'web-2').state).toBe('done');
    const late = await h.engine.abortLiveMigration(run.id, id, ctl());
    expect(late).toMatchObject({ outcome: 'rejected' });
    expect(late.message).toMatch(/^This run finished at .* UTC; nothing to abort\.$/);
  });
});

describe('controls', () => {
  it('answers duplicate for a repeated idempotency key and does nothing twice', async () => {
    h = await startHarness();
    const run = await h.engine.preview({
      host: 'host-1',
      mode: 'live',
      include: ['web-2'],
      requestedBy: 'U1',
    });
    const context = ctl('U1', 'slack-action-123');
    const [first, second] = await Promise.all([
      h.engine.confirm(run.id, context),
      h.engine.confirm(run.id, context),
    ]);
    expect(first.outcome).toBe('applied');
    expect(second.outcome).toBe('duplicate');
    const third = await h.engine.confirm(run.id, context);
    expect(third.outcome).toBe('duplicate');
    expect(third.message).toMatch(/^Already handled \(applied\): Started/);
    await waitForRunState(h.engine, run.id, 'finished');
    expect(h.engine.audit(run.id).filter((a) => a.action === 'confirm')).toHaveLength(1);
    expect(actionCounts(h.sim, 'live-migration').get(serverId(h.sim, 'web-2'))).toBe(1);
    // A different key for the same thing is a new control: rejected now, with a reason.
    const late = await h.engine.confirm(run.id, ctl());
    expect(late.outcome).toBe('rejected');
    expect(late.message).toMatch(/^This run finished at/);
  });

  it('one active run per host: a second preview throws ActiveRunError until the first is cancelled', async () => {
    h = await startHarness();
    const first = await h.engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U1' });
    await expect(h.engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U2' })).rejects.toMatchObject(
      {
        name: 'ActiveRunError',
        run: { id: first.id },
      },
    );
    expect(h.engine.activeRunForHost('host-1')?.id).toBe(first.id);
    expect(h.engine.activeRunForHost('host-10')).toBeNull();
    const cancelled = await h.engine.cancel(first.id, ctl());
    expect(cancelled).toMatchObject({ outcome: 'applied', message: 'Cancelled; nothing was moved.' });
    expect(h.engine.activeRunForHost('host-1')).toBeNull();
    const second = await h.engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U2' });
    expect(second.id).not.toBe(first.id);
    const confirmCancelled = await h.engine.confirm(first.id, ctl());
    expect(confirmCancelled.message).toMatch(
      /^This run was cancelled at \d\d:\d\d UTC; nothing to confirm\.$/,
    );
    await expect(h.engine.preview({ host: 'hots-1', mode: 'auto', requestedBy: 'U2' })).rejects.toMatchObject(
      {
        name: 'UnknownHostError',
        suggestions: expect.arrayContaining(['host-1']),
      },
    );
    await expect(h.engine.confirm('r-nope', ctl())).rejects.toMatchObject({ name: 'UnknownRunError' });
    await expect(
      h.engine.confirm(second.id, { actor: { id: '' }, idempotencyKey: 'k' }),
    ).rejects.toMatchObject({
      name: 'ControlInputError',
    });
  });

  it('updatePlan re-plans a preview; bad changes are rejected with the reason', async () => {
    h = await startHarness();
    const run = await h.engine.preview({ host: 'host-1', mode: 'auto', requestedBy: 'U1' });
    const bad = await h.engine.updatePlan(run.id, { concurrency: 0 }, ctl());
    expect(bad.outcome).toBe('rejected');
    expect(bad.message).toMatch(/concurrency|parallel/i);
    const typo = await h.engine.updatePlan(run.id, { mode: 'sideways' as never }, ctl());
    expect(typo.outcome).toBe('rejected');
    expect(typo.message).toMatch(/^Cannot change the plan: mode/);
    const ok = await h.engine.updatePlan(run.id, { concurrency: 2, mode: 'cold' }, ctl());
    expect(ok.outcome).toBe('applied');
    expect(ok.run.plan.concurrency).toBe(2);
    expect(ok.run.plan.mode).toBe('cold');
    expect(h.engine.getRun(run.id)?.plan.mode).toBe('cold');
    h.engine.setFrontEnd(run.id, { channel: 'C1', ts: '123.45' });
    expect(h.engine.getRun(run.id)?.frontEnd).toEqual({ channel: 'C1', ts: '123.45' });
    expect(h.engine.listRuns({ activeOnly: true }).map((r) => r.id)).toEqual([run.id]);
  });
});
