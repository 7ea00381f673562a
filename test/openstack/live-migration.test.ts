/**
 * The project's engine draining a real Nova host by live migration: every server on compute1
 * (the lab's own two plus three booted here) moves, and each move is checked against Nova
 * itself, not only against what the engine says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerInfo } from '../../src/nova/types.js';
import {
  Lab,
  confirmAndWait,
  control,
  openstackCli,
  previewRequest,
  restoreLab,
  startEngine,
  type EngineHarness,
} from './lab.js';

const HOST = 'compute1';
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

describe('real Nova: live-migrate every server off a host with the engine', () => {
  it('moves every server, verifies each move, and leaves the host empty and disabled by the run', async () => {
    await lab.bootServers('labtest-live', HOST, 3);
    const before = await lab.client.listServersOnHost(HOST);
    expect(before.length).toBe(5);
    const since = new Date(Date.now() - 5_000).toISOString();

    harness = startEngine(lab);
    const { engine } = harness;
    const preview = await engine.preview(previewRequest({ host: HOST, mode: 'live' }));
    expect(preview.plan.runnable).toBe(true);
    expect(preview.plan.mode).toBe('live');
    expect(preview.servers.map((s) => s.action)).toEqual(before.map(() => 'live-migrate'));

    const run = await confirmAndWait(engine, preview);
    expect(run.state).toBe('finished');
    const outcomes = run.servers.map((s) => ({
      name: s.name,
      state: s.state,
      failure: s.failure?.message ?? null,
    }));
    expect(outcomes).toEqual(run.servers.map((s) => ({ name: s.name, state: 'done', failure: null })));
    expect(run.servers.map((s) => s.serverId).sort()).toEqual(before.map((s) => s.id).sort());

    // Nova's own view of each move: another host, ACTIVE, idle, and a completed live-migration record.
    for (const moved of run.servers) {
      const server: ServerInfo = await lab.client.getServer(moved.serverId);
      expect(server, moved.name).toMatchObject({ status: 'ACTIVE', taskState: null });
      expect(server.host, moved.name).not.toBe(HOST);
      expect(moved.destinationHost, moved.name).toBe(server.host);
      const records = await lab.client.listMigrations({
        instanceId: moved.serverId,
        migrationType: 'live-migration',
      });
      const newest = records.sort((a, b) => b.id - a.id)[0];
      expect(newest, moved.name).toMatchObject({
        status: 'completed',
        sourceCompute: HOST,
        destCompute: server.host,
      });
    }

    expect(await lab.client.listServersOnHost(HOST)).toEqual([]);
    expect(await openstackCli(['server', 'list', '--all-projects', '--host', HOST, '-c', 'ID'])).toEqual([]);

    // The run disabled the service, saying which run and who; re-enabling is the operator's call.
    const service = await lab.service(HOST);
    expect(service.status).toBe('disabled');
    expect(service.disabledReason).toContain(run.id);
    const reenabled = await engine.reenableService(run.id, control());
    expect(reenabled.outcome, reenabled.message).toBe('applied');
    expect(await lab.service(HOST)).toMatchObject({ status: 'enabled', state: 'up' });

    // One changes poll sees every move: the servers and their migration records, in at most two requests.
    const changes = await lab.client.pollChanges(since);
    expect(changes.requests).toBeLessThanOrEqual(2);
    const changedIds = new Set(changes.servers.map((s) => s.id));
    const migratedIds = new Set(
      changes.migrations.filter((m) => m.migrationType === 'live-migration').map((m) => m.instanceId),
    );
    for (const server of before) {
      expect(changedIds.has(server.id), server.name).toBe(true);
      expect(migratedIds.has(server.id), server.name).toBe(true);
    }
  });
});
