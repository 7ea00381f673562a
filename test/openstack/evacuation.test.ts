/**
 * The failed-host path on real Nova, the way an operator lives it: compute3's nova-compute dies,
 * Nova notices (state down after service_down_time), the operator states the host is fenced, and
 * the engine disables the service, forces it down and evacuates every server, a stopped one
 * included. Bringing the host back follows Nova's rules: forced_down cannot be unset while
 * 'done' evacuation records remain, i.e. until the host's nova-compute has restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  computeProcess,
  confirmAndWait,
  control,
  previewRequest,
  restoreLab,
  startEngine,
  waitFor,
  type EngineHarness,
} from './lab.js';

const HOST = 'compute3';
let lab: Lab;
let harness: EngineHarness | undefined;

beforeAll(async () => {
  lab = new Lab();
  await restoreLab(lab);
});

afterAll(async () => {
  await harness?.close();
  if (!lab) return;
  await restoreLab(lab);
  lab.close();
});

describe('real Nova: evacuating a dead host with the engine', () => {
  it('evacuates every server of a stopped, fenced host and brings the host back', async () => {
    const [running, stopped] = await lab.bootServers('labtest-evac', HOST, 2);
    if (!running || !stopped) throw new Error('boot returned fewer servers than asked');
    await lab.stopServer(stopped.id);
    const before = await lab.client.listServersOnHost(HOST);
    expect(before.length).toBe(4);
    const statusBefore = new Map(before.map((s) => [s.id, s.status]));

    await computeProcess('stop', HOST);
    // Without forced_down Nova needs service_down_time (60 s) without heartbeat to call it down.
    const down = await lab.waitForServiceState(HOST, 'down');
    expect(down).toMatchObject({ forcedDown: false, status: 'enabled' });

    harness = startEngine(lab);
    const { engine } = harness;
    const preview = await engine.preview(previewRequest({ host: HOST, mode: 'auto', hostFenced: true }));
    expect(preview.plan).toMatchObject({ mode: 'evacuate', needsForceDown: true, runnable: true });
    expect(preview.servers.map((s) => s.action)).toEqual(before.map(() => 'evacuate'));

    const run = await confirmAndWait(engine, preview);
    const outcomes = run.servers.map((s) => ({
      name: s.name,
      state: s.state,
      failure: s.failure?.message ?? null,
    }));
    // soft: the checks against Nova below still run and say more when the engine disagrees
    expect.soft(outcomes).toEqual(run.servers.map((s) => ({ name: s.name, state: 'done', failure: null })));
    expect(run.servers.map((s) => s.serverId).sort()).toEqual(before.map((s) => s.id).sort());

    // Nova's view: forced down and disabled by the run; every server rebuilt elsewhere, in the state
    // it had (Zed's rebuild powers a stopped server off again), with an evacuation record 'done'.
    const service = await lab.service(HOST);
    expect(service).toMatchObject({ status: 'disabled', forcedDown: true, state: 'down' });
    expect(service.disabledReason).toContain(run.id);
    for (const moved of run.servers) {
      const server = await lab.client.getServer(moved.serverId);
      expect(server.host, moved.name).not.toBe(HOST);
      expect.soft(moved.destinationHost, moved.name).toBe(server.host);
      expect({ status: server.status, taskState: server.taskState }, moved.name).toEqual({
        status: statusBefore.get(moved.serverId),
        taskState: null,
      });
      // lab-vm-* may carry records of earlier runs: the newest one is this run's
      const records = await lab.client.listMigrations({
        instanceId: moved.serverId,
        migrationType: 'evacuation',
      });
      const newest = records.sort((a, b) => b.id - a.id)[0];
      expect({ status: newest?.status, source: newest?.sourceCompute }, moved.name).toEqual({
        status: 'done',
        source: HOST,
      });
    }
    expect(await lab.client.listServersOnHost(HOST)).toEqual([]);

    // While the host is still dead Nova refuses to unset forced_down; the engine passes its words on.
    const tooEarly = await engine.reenableService(run.id, control());
    expect(tooEarly.outcome).toBe('rejected');
    expect(tooEarly.message).toContain(`Unable to force up host ${HOST}`);
    expect(await lab.service(HOST)).toMatchObject({ forcedDown: true, status: 'disabled' });

    await computeProcess('start', HOST);
    await waitFor(`the evacuation records of ${HOST} to become 'completed'`, async () => {
      const pending = await lab.pendingEvacuations(HOST);
      return { done: pending === 0, value: pending };
    });
    // Enabling while Nova still counts the service down would leave the COMPUTE_STATUS_DISABLED
    // trait in Placement for up to a minute, so the engine enables only once the service is up.
    const first = await engine.reenableService(run.id, control());
    expect(first.message).toMatch(/forced_down unset|enabled/);
    if (!/enabled\.$/.test(first.message)) {
      expect(first.message).toContain('nova-compute is not reporting up yet');
      expect(await lab.service(HOST)).toMatchObject({ forcedDown: false, status: 'disabled' });
      await lab.waitForServiceState(HOST, 'up');
      const second = await engine.reenableService(run.id, control());
      expect(second.outcome, second.message).toBe('applied');
    }
    const back = await lab.waitForServiceState(HOST, 'up');
    expect(back).toMatchObject({ status: 'enabled', forcedDown: false });
  });
});
