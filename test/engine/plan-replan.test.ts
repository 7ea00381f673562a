import { describe, expect, it } from 'vitest';
import { UnknownHostError } from '../../src/engine/api.js';
import { PlanValidationError, planEvacuation, replanServer } from '../../src/engine/plan.js';
import type { EvacuationRequest } from '../../src/engine/types.js';
import type { ComputeService, ServerInfo } from '../../src/nova/types.js';
import {
  FakeCompute,
  makeFlavor,
  makeGroup,
  makeHypervisor,
  makeServer,
  makeService,
  STATES,
} from './fake-compute.js';

function setup(source: Partial<ComputeService> = {}, servers: ServerInfo[] = []) {
  const services = [makeService('host-1', source), makeService('host-2'), makeService('host-3')];
  return new FakeCompute({ services, servers, hypervisors: services.map((s) => makeHypervisor(s.host)) });
}

function request(overrides: Partial<EvacuationRequest> = {}): EvacuationRequest {
  return { host: 'host-1', mode: 'auto', requestedBy: 'U1', ...overrides };
}

describe('replanServer', () => {
  it('plans the same move again from the server current state, with three calls', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    // The live migration failed silently: Nova put it back, ACTIVE on the source.
    compute.resetCalls();
    const again = await replanServer(compute, plan, vm.id);
    expect(again.action).toBe('live-migrate');
    expect(again.snapshot).toEqual(vm);
    expect(compute.callCounts()).toEqual({ getServer: 1, findComputeService: 1, listServerGroups: 1 });
  });

  it('forces the kind of move when asked: a failed live migration retried cold', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    const cold = await replanServer(compute, plan, vm.id, 'cold-migrate');
    expect(cold.action).toBe('cold-migrate');
    expect(cold.why).toBe('ACTIVE: cold migration, as asked for this retry.');
    expect(cold.findings.map((f) => f.code)).toEqual(['downtime']);
  });

  it('follows the current state: a server that stopped meanwhile is cold-migrated in auto mode', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    compute.updateServer(vm.id, STATES.shutoff);
    expect((await replanServer(compute, plan, vm.id)).action).toBe('cold-migrate');
    compute.updateServer(vm.id, { ...STATES.active, taskState: 'migrating', status: 'MIGRATING' });
    const busy = await replanServer(compute, plan, vm.id);
    expect(busy.action).toBe('skip');
    expect(busy.why).toMatch(/^Busy: Nova task "migrating"/);
  });

  it('has nothing to do for a server that reached another host', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    compute.updateServer(vm.id, { host: 'host-3' });
    const moved = await replanServer(compute, plan, vm.id);
    expect(moved.action).toBe('skip');
    expect(moved.why).toBe('Now on host-3, not host-1: nothing to move.');
    expect(moved.findings[0]?.severity).toBe('info');

    compute.updateServer(vm.id, STATES.verifyResize);
    const resized = await replanServer(compute, plan, vm.id);
    expect(resized.findings[0]?.code).toBe('awaiting-confirm');
  });

  it('checks the service as it is now for the forced kind', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    const evacuate = await replanServer(compute, plan, vm.id, 'evacuate');
    expect(evacuate.action).toBe('skip');
    expect(evacuate.findings[0]?.code).toBe('service-up');

    // The host died after planning: live migration is impossible now.
    compute.services[0]!.state = 'down';
    const live = await replanServer(compute, plan, vm.id);
    expect(live.action).toBe('skip');
    expect(live.why).toMatch(/is down: Nova cannot live-migrate/);
    const unfenced = await replanServer(compute, plan, vm.id, 'evacuate');
    expect(unfenced.findings[0]?.code).toBe('not-fenced');
    compute.services[0]!.forcedDown = true;
    expect((await replanServer(compute, plan, vm.id, 'evacuate')).action).toBe('evacuate');
  });

  it('keeps evacuating in an evacuation plan of a fenced host, with per-server warnings', async () => {
    const vm = makeServer({
      name: 'vm',
      host: 'host-1',
      flavor: makeFlavor({ extraSpecs: { 'hw:cpu_policy': 'dedicated' } }),
    });
    const compute = setup({ state: 'down' }, [vm]);
    compute.groups = [makeGroup({ name: 'pair', policy: 'affinity', members: [vm.id, 'other'] })];
    const plan = await planEvacuation(compute, request({ hostFenced: true }));
    expect(plan.runnable).toBe(true);
    const again = await replanServer(compute, plan, vm.id);
    expect(again.action).toBe('evacuate');
    expect(again.findings.map((f) => f.code)).toEqual(['cpu-pinned', 'not-volume-backed', 'affinity']);
  });

  it('rejects a bad kind of move and propagates a missing server', async () => {
    const vm = makeServer({ name: 'vm', host: 'host-1' });
    const compute = setup({}, [vm]);
    const plan = await planEvacuation(compute, request());
    await expect(replanServer(compute, plan, vm.id, 'teleport' as never)).rejects.toThrow(
      new PlanValidationError(
        'Unknown kind of move "teleport": use live-migrate, cold-migrate or evacuate.',
        'as',
      ),
    );
    await expect(replanServer(compute, plan, '')).rejects.toBeInstanceOf(PlanValidationError);
    await expect(replanServer(compute, plan, 'no-such-id')).rejects.toThrow(/could not be found/);
    compute.services.shift();
    await expect(replanServer(compute, plan, vm.id)).rejects.toBeInstanceOf(UnknownHostError);
  });
});
