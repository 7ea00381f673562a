/**
 * The engine cold-migrating a stopped server on real Nova: `auto` picks cold migration for it,
 * Nova stops at VERIFY_RESIZE, the engine confirms the resize, and the server ends SHUTOFF on
 * another host with a `confirmed` migration record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, confirmAndWait, previewRequest, restoreLab, startEngine, type EngineHarness } from './lab.js';

const HOST = 'compute2';
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

describe('real Nova: cold migration with the resize confirmation', () => {
  it('moves a stopped server to another host and confirms the resize', async () => {
    const booted = await lab.bootServer('labtest-cold-1', HOST);
    await lab.stopServer(booted.id);

    harness = startEngine(lab);
    const { engine } = harness;
    const preview = await engine.preview(
      previewRequest({ host: HOST, mode: 'auto', include: [booted.id], keepServiceEnabled: true }),
    );
    const planned = preview.plan.servers.find((s) => s.serverId === booted.id);
    expect(planned?.action).toBe('cold-migrate');
    // only the named server moves; the lab's own servers on the host are left alone
    expect(preview.servers.filter((s) => s.action !== 'skip').map((s) => s.serverId)).toEqual([booted.id]);

    const run = await confirmAndWait(engine, preview);
    const outcome = run.servers.find((s) => s.serverId === booted.id);
    expect({ state: outcome?.state, failure: outcome?.failure?.message ?? null }).toEqual({
      state: 'done',
      failure: null,
    });

    const server = await lab.client.getServer(booted.id);
    expect(server).toMatchObject({ status: 'SHUTOFF', vmState: 'stopped', taskState: null });
    expect(server.host).not.toBe(HOST);
    expect(outcome?.destinationHost).toBe(server.host);
    const records = await lab.client.listMigrations({ instanceId: booted.id, migrationType: 'migration' });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'confirmed', sourceCompute: HOST, destCompute: server.host });

    // keepServiceEnabled: the run never touched the service
    expect(run.serviceDisabledByRun).toBe(false);
    expect(await lab.service(HOST)).toMatchObject({ status: 'enabled' });
  });
});
