import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComputeClient } from '../../src/nova/compute-client.js';
import { startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { forcedDownThroughNova } from '../../src/workspace/drills.js';
import { drillRequests, parseDrillState, sortedHosts } from '../../src/workspace/page/drill-model.js';
import type { LocalWorkspace } from '../../src/workspace/server.js';
import { startTestWorkspace } from './helpers.js';

/** The drill panel's requests, sent through the workspace proxy to a real simulated cloud. */
let sim: SimCloud;
let workspace: LocalWorkspace;
let compute: ReturnType<typeof createComputeClient>;

beforeAll(async () => {
  sim = await startSimCloud({ timeScale: 0.01, seed: 3 });
  compute = createComputeClient(sim.credentials);
  workspace = await startTestWorkspace({
    cloud: {
      kind: 'simulated',
      description: 'simulated cloud',
      controlUrl: sim.url,
      setForcedDown: forcedDownThroughNova(compute),
    },
  });
});

afterAll(async () => {
  await workspace.close();
  await sim.close();
});

async function runDrill(drill: string, host = '', preset?: string): Promise<void> {
  for (const request of drillRequests(drill, host, preset).requests) {
    const response = await fetch(`${workspace.url}${request.path}`, {
      method: request.method,
      headers: { 'content-type': 'application/json' },
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
    if (!response.ok) throw new Error(`${request.path}: ${response.status} ${await response.text()}`);
  }
}

async function drillState() {
  const response = await fetch(`${workspace.url}/_sim/state`);
  expect(response.status).toBe(200);
  return parseDrillState(await response.json());
}

describe('drill panel against the simulated cloud', () => {
  it('reads hosts with service state and server counts through the proxy', async () => {
    const state = await drillState();
    const names = sortedHosts(state).map((host) => host.name);
    expect(names.slice(0, 3)).toEqual(['host-1', 'host-2', 'host-3']);
    expect(names.at(-1)).toBe('host-10');
    const host2 = state.hosts.find((host) => host.name === 'host-2')!;
    const expected = sim.control
      .state()
      .servers.filter((server) => server.host === 'host-2' && !server.deleted).length;
    expect(host2).toMatchObject({
      state: 'up',
      enabled: true,
      alive: true,
      forcedDown: false,
      full: false,
      servers: expected,
    });
  });

  it('takes a host down and brings it back', async () => {
    await runDrill('down', 'host-3');
    expect(sim.control.host('host-3').alive).toBe(false);
    expect((await drillState()).hosts.find((host) => host.name === 'host-3')?.alive).toBe(false);
    await runDrill('up', 'host-3');
    expect(sim.control.host('host-3').alive).toBe(true);
  });

  it('forces a host down through Nova and unsets it', async () => {
    await runDrill('force', 'host-4');
    const forced = (await drillState()).hosts.find((host) => host.name === 'host-4')!;
    expect(forced).toMatchObject({ forcedDown: true, state: 'down' });
    await runDrill('unforce', 'host-4');
    expect(sim.control.host('host-4')).toMatchObject({ forcedDown: false, state: 'up' });
    await expect(runDrill('force', 'host-99')).rejects.toThrow(/409.*host-99/);
  });

  it('fills a host and frees it', async () => {
    await runDrill('fill', 'host-5');
    expect((await drillState()).hosts.find((host) => host.name === 'host-5')?.full).toBe(true);
    await runDrill('unfill', 'host-5');
    expect((await drillState()).hosts.find((host) => host.name === 'host-5')?.full).toBe(false);
  });

  it('arms a live-migration failure and changes move durations', async () => {
    await runDrill('fail-next');
    await runDrill('speed', '', 'slow');
    await expect(runDrill('speed', '', 'warp')).rejects.toThrow('Unknown speed "warp"');
    await expect(runDrill('down', 'host-99')).rejects.toThrow(/404.*unknown host/);
  });

  it('says plainly when drills are off because the cloud is real', async () => {
    const real = await startTestWorkspace();
    try {
      const response = await fetch(`${real.url}/_sim/state`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toContain('real OpenStack cloud');
    } finally {
      await real.close();
    }
  });

  it("rejects a state that is not the simulator's", () => {
    expect(() => parseDrillState({ hosts: [{ name: 'x' }], servers: [] })).toThrow(
      /drill panel expects \(hosts\.0\./,
    );
  });
});
