/**
 * A failure real Nova produces, reported with Nova's own reason, then a retry that succeeds.
 *
 * The target host is disabled after the preview (the plan saw it enabled): Nova accepts the live
 * migration (202, the conductor works asynchronously at 2.34+), its scheduler finds no valid
 * host, the migration record turns `error`, and the reason is only in the instance action's
 * event. Once the host is enabled again, retrying the server moves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  confirmAndWait,
  control,
  previewRequest,
  restoreLab,
  startEngine,
  waitForRun,
  waitFor,
  type EngineHarness,
} from './lab.js';

const HOST = 'compute1';
const TARGET = 'compute3';
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

describe('real Nova: a refused move, reported in Nova’s words, then retried', () => {
  it('fails a live migration to a host disabled after the preview, then retries it once the host is back', async () => {
    const booted = await lab.bootServer('labtest-fail-1', HOST);
    harness = startEngine(lab);
    const { engine } = harness;

    const preview = await engine.preview(
      previewRequest({
        host: HOST,
        mode: 'live',
        include: [booted.id],
        targetHost: TARGET,
        keepServiceEnabled: true,
      }),
    );
    expect(preview.plan.runnable).toBe(true);

    const target = await lab.service(TARGET);
    await lab.client.disableComputeService(target, 'real-Nova suite: target taken away after the preview');

    const failedRun = await confirmAndWait(engine, preview);
    const failed = failedRun.servers.find((s) => s.serverId === booted.id);
    expect(failed?.state).toBe('failed');
    // Nova's reason, as its conductor recorded it in the instance action event
    expect(failed?.failure?.message).toMatch(/No valid host was found/);
    expect(failed?.failure?.requestId ?? '').toMatch(/^req-/);

    // What Nova itself says: still ACTIVE on the source, a live-migration record in error.
    const server = await lab.client.getServer(booted.id);
    expect(server).toMatchObject({ status: 'ACTIVE', taskState: null, host: HOST });
    const records = await lab.client.listMigrations({
      instanceId: booted.id,
      migrationType: 'live-migration',
    });
    expect(records.map((r) => r.status)).toEqual(['error']);
    const actions = await lab.client.listInstanceActions(booted.id);
    const migration = actions.find((a) => a.action === 'live-migration');
    expect(migration?.message).toBe('Error');
    const detail = await lab.client.getInstanceAction(booted.id, migration?.requestId ?? '');
    expect(detail.events.find((e) => e.result === 'Error')?.details).toMatch(/No valid host was found/);

    await lab.client.enableComputeService(await lab.service(TARGET));
    await waitFor(`${TARGET} schedulable again`, async () => {
      const traits = await lab.placementTraits(TARGET);
      return { done: !traits.includes('COMPUTE_STATUS_DISABLED'), value: traits };
    });

    const retried = await engine.retryServer(failedRun.id, booted.id, control());
    expect(retried.outcome, retried.message).toBe('applied');
    const run = await waitForRun(engine, failedRun.id);
    const outcome = run.servers.find((s) => s.serverId === booted.id);
    expect({ state: outcome?.state, attempt: outcome?.attempt, failure: outcome?.failure ?? null }).toEqual({
      state: 'done',
      attempt: 2,
      failure: null,
    });
    expect(await lab.client.getServer(booted.id)).toMatchObject({
      status: 'ACTIVE',
      taskState: null,
      host: TARGET,
    });
    const after = await lab.client.listMigrations({ instanceId: booted.id, migrationType: 'live-migration' });
    expect(after.map((r) => r.status).sort()).toEqual(['completed', 'error']);
  });
});
