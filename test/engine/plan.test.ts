import { describe, expect, it } from 'vitest';
import { UnknownHostError } from '../../src/engine/api.js';
import {
  DEFAULT_PLANNING_OPTIONS,
  PlanValidationError,
  planEvacuation,
  type PlanningOptions,
} from '../../src/engine/plan.js';
import type { EvacuationPlan, EvacuationRequest, Finding, PlannedServer } from '../../src/engine/types.js';
import type { ComputeService, Hypervisor, ServerGroup, ServerInfo } from '../../src/nova/types.js';
import {
  FakeCompute,
  makeFlavor,
  makeGroup,
  makeHypervisor,
  makeServer,
  makeService,
  STATES,
} from './fake-compute.js';

const SOURCE = 'host-1';

interface CloudSetup {
  source?: Partial<ComputeService>;
  servers?: ServerInfo[];
  /** Other hosts; default host-2, host-3 usable and host-10 (a name host-1 must never match). */
  others?: ComputeService[];
  hypervisors?: Hypervisor[];
  groups?: ServerGroup[];
}

function cloud(setup: CloudSetup = {}): FakeCompute {
  const others = setup.others ?? [makeService('host-2'), makeService('host-3'), makeService('host-10')];
  const services = [makeService(SOURCE, setup.source), ...others];
  return new FakeCompute({
    services,
    servers: setup.servers ?? [],
    hypervisors: setup.hypervisors ?? services.map((s) => makeHypervisor(s.host)),
    groups: setup.groups ?? [],
  });
}

function request(overrides: Partial<EvacuationRequest> = {}): EvacuationRequest {
  return { host: SOURCE, mode: 'auto', requestedBy: 'U123', ...overrides };
}

function server(name: string, overrides: Partial<ServerInfo> = {}): ServerInfo {
  return makeServer({ name, host: SOURCE, ...overrides });
}

function byName(plan: EvacuationPlan, name: string): PlannedServer {
  const found = plan.servers.find((s) => s.name === name);
  if (!found) throw new Error(`no planned server ${name}`);
  return found;
}

function codes(findings: Finding[], severity?: Finding['severity']): string[] {
  return findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code);
}

function finding(findings: Finding[], code: string): Finding {
  const found = findings.find((f) => f.code === code);
  if (!found) throw new Error(`no finding ${code} in ${JSON.stringify(findings)}`);
  return found;
}

const DOWN_FORCED: Partial<ComputeService> = { state: 'down', forcedDown: true, status: 'disabled' };

describe('host lookup', () => {
  it('matches the host name exactly: host-1 never picks up host-10', async () => {
    const compute = cloud({
      servers: [server('on-1'), makeServer({ name: 'on-10', host: 'host-10' })],
    });
    const plan = await planEvacuation(compute, request());
    expect(plan.host).toBe('host-1');
    expect(plan.service.host).toBe('host-1');
    expect(plan.servers.map((s) => s.name)).toEqual(['on-1']);
    expect(compute.calls.find((c) => c.method === 'listServersOnHost')?.args).toEqual(['host-1']);
  });

  it('throws UnknownHostError with the nearest names for a typo', async () => {
    const error = await planEvacuation(cloud(), request({ host: 'hots-1' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownHostError);
    expect((error as UnknownHostError).suggestions[0]).toBe('host-1');
    expect((error as UnknownHostError).message).toMatch(
      /No compute host named "hots-1". Did you mean "host-1"/,
    );
  });

  it('does not match a prefix or substring of a real host', async () => {
    const error = await planEvacuation(cloud(), request({ host: 'host' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownHostError);
    expect((error as UnknownHostError).host).toBe('host');
  });

  it('suggests host-1 for host1 and lists nothing when no name is close', async () => {
    const typo = await planEvacuation(cloud(), request({ host: 'host1' })).catch((e: unknown) => e);
    expect((typo as UnknownHostError).suggestions[0]).toBe('host-1');
    const far = await planEvacuation(cloud(), request({ host: 'zebra-99' })).catch((e: unknown) => e);
    expect((far as UnknownHostError).suggestions).toEqual([]);
    expect((far as UnknownHostError).message).toBe('No compute host named "zebra-99".');
  });

  it('only considers nova-compute services', async () => {
    const compute = cloud();
    compute.services.push(makeService('controller-1', { binary: 'nova-scheduler' }));
    await expect(planEvacuation(compute, request({ host: 'controller-1' }))).rejects.toBeInstanceOf(
      UnknownHostError,
    );
  });

  it('trims stray whitespace around the host name', async () => {
    const plan = await planEvacuation(cloud({ servers: [server('a')] }), request({ host: '  host-1 ' }));
    expect(plan.host).toBe('host-1');
    expect(plan.request.host).toBe('host-1');
  });
});

describe('auto mode', () => {
  const servers = () => [
    server('running', STATES.active),
    server('paused', STATES.paused),
    server('stopped', STATES.shutoff),
    server('broken', {
      ...STATES.error,
      fault: { code: 500, message: 'disk gone', details: null, created: null },
    }),
  ];

  it('live-migrates running and paused servers and cold-migrates stopped ones when the service is up', async () => {
    const plan = await planEvacuation(cloud({ servers: servers() }), request());
    expect(plan.mode).toBe('live');
    expect(plan.modeReason).toMatch(/nova-compute on host-1 is up/);
    expect(byName(plan, 'running').action).toBe('live-migrate');
    expect(byName(plan, 'paused').action).toBe('live-migrate');
    expect(byName(plan, 'paused').why).toMatch(/stays paused/);
    expect(byName(plan, 'stopped').action).toBe('cold-migrate');
    expect(byName(plan, 'stopped').why).toMatch(/stays off/);
    expect(codes(byName(plan, 'stopped').findings)).not.toContain('downtime');
    expect(byName(plan, 'broken').action).toBe('skip');
    expect(byName(plan, 'broken').why).toMatch(/ERROR: Nova cannot live- or cold-migrate/);
    expect(plan.runnable).toBe(true);
    expect(plan.needsForceDown).toBe(false);
  });

  it('evacuates everything Nova can evacuate when the service is forced down', async () => {
    const plan = await planEvacuation(cloud({ source: DOWN_FORCED, servers: servers() }), request());
    expect(plan.mode).toBe('evacuate');
    expect(plan.modeReason).toMatch(/forced down: servers are evacuated/);
    expect(byName(plan, 'running').action).toBe('evacuate');
    expect(byName(plan, 'stopped').action).toBe('evacuate');
    expect(byName(plan, 'broken').action).toBe('evacuate');
    expect(finding(byName(plan, 'broken').findings, 'error-rebuild').message).toMatch(/fault: disk gone/);
    // Nova's evacuate accepts vm_state active, stopped and error only.
    expect(byName(plan, 'paused').action).toBe('skip');
    expect(byName(plan, 'paused').why).toMatch(
      /PAUSED: Nova cannot evacuate a paused server. Reset its state/,
    );
    expect(plan.runnable).toBe(true);
    expect(plan.needsForceDown).toBe(false);
    expect(codes(plan.findings)).toContain('forced-down');
  });

  it('needs the operator to declare the host fenced when the service is down but not forced down', async () => {
    const setup = { source: { state: 'down' as const }, servers: [server('a')] };
    const unfenced = await planEvacuation(cloud(setup), request());
    expect(unfenced.mode).toBe('evacuate');
    expect(unfenced.needsForceDown).toBe(true);
    expect(unfenced.runnable).toBe(false);
    expect(finding(unfenced.findings, 'not-fenced').severity).toBe('blocker');
    expect(finding(unfenced.findings, 'not-fenced').message).toMatch(/down but not forced down/);

    const fenced = await planEvacuation(cloud(setup), request({ hostFenced: true }));
    expect(fenced.needsForceDown).toBe(true);
    expect(fenced.runnable).toBe(true);
    expect(finding(fenced.findings, 'force-down').severity).toBe('info');
    expect(byName(fenced, 'a').action).toBe('evacuate');
  });
});

describe('explicit modes against the service state', () => {
  it('refuses evacuation while the service is up, quoting Nova', async () => {
    const plan = await planEvacuation(cloud({ servers: [server('a')] }), request({ mode: 'evacuate' }));
    expect(plan.mode).toBe('evacuate');
    expect(plan.runnable).toBe(false);
    expect(plan.needsForceDown).toBe(false);
    const up = finding(plan.findings, 'service-up');
    expect(up.severity).toBe('blocker');
    expect(up.message).toContain('"Compute service of host-1 is still in use."');
    // The servers are still planned, so the preview shows what evacuation would do.
    expect(byName(plan, 'a').action).toBe('evacuate');
  });

  it('refuses evacuation of an up service even when the operator says it is fenced', async () => {
    const plan = await planEvacuation(
      cloud({ servers: [server('a')] }),
      request({ mode: 'evacuate', hostFenced: true }),
    );
    expect(plan.runnable).toBe(false);
    expect(codes(plan.findings, 'blocker')).toEqual(['service-up']);
  });

  it.each(['live', 'cold'] as const)('blocks %s migration off a host whose service is down', async (mode) => {
    const plan = await planEvacuation(
      cloud({ source: DOWN_FORCED, servers: [server('a')] }),
      request({ mode }),
    );
    expect(plan.mode).toBe(mode);
    expect(plan.runnable).toBe(false);
    expect(finding(plan.findings, 'service-down').message).toMatch(
      /is down: Nova cannot .*-migrate servers off it/,
    );
  });

  it('live mode skips a stopped server with a reason pointing at cold migration', async () => {
    const plan = await planEvacuation(
      cloud({ servers: [server('stopped', STATES.shutoff), server('running')] }),
      request({ mode: 'live' }),
    );
    expect(byName(plan, 'running').action).toBe('live-migrate');
    const stopped = byName(plan, 'stopped');
    expect(stopped.action).toBe('skip');
    expect(stopped.why).toBe(
      'SHUTOFF: live migration needs a running server. Choose cold migration to move it (it stays off).',
    );
    expect(codes(stopped.findings, 'blocker')).toEqual(['stopped-live']);
  });

  it('cold mode moves a running server with a downtime warning, and cannot move a paused one', async () => {
    const plan = await planEvacuation(
      cloud({
        servers: [server('running'), server('stopped', STATES.shutoff), server('paused', STATES.paused)],
      }),
      request({ mode: 'cold' }),
    );
    expect(plan.modeReason).toMatch(/Cold migration, as asked/);
    const running = byName(plan, 'running');
    expect(running.action).toBe('cold-migrate');
    expect(finding(running.findings, 'downtime').severity).toBe('warning');
    expect(byName(plan, 'stopped').action).toBe('cold-migrate');
    expect(byName(plan, 'paused').action).toBe('skip');
    expect(byName(plan, 'paused').why).toMatch(/Nova cannot cold-migrate a paused server/);
  });
});

describe('per-server blockers', () => {
  it('skips locked servers, servers with a task in progress, and states Nova cannot move', async () => {
    const plan = await planEvacuation(
      cloud({
        servers: [
          server('locked', { locked: true, lockedReason: 'DB migration until Friday' }),
          server('busy', { status: 'MIGRATING', taskState: 'migrating' }),
          server('suspended', STATES.suspended),
          server('rescued', STATES.rescued),
          server('shelved', STATES.shelved),
          server('resized', STATES.verifyResize),
          server('building', { status: 'BUILD', vmState: 'building', taskState: null }),
        ],
      }),
      request(),
    );
    const locked = byName(plan, 'locked');
    expect(locked.action).toBe('skip');
    expect(locked.why).toMatch(/^Locked \("DB migration until Friday"\): .*openstack server unlock /);
    expect(byName(plan, 'busy').why).toBe(
      'Busy: Nova task "migrating" is in progress (MIGRATING). Retry when it finishes.',
    );
    expect(byName(plan, 'suspended').why).toMatch(/^SUSPENDED: Nova cannot live-migrate a suspended server/);
    expect(byName(plan, 'rescued').why).toMatch(/^RESCUE: .*Unrescue it first/);
    expect(byName(plan, 'shelved').why).toMatch(/^SHELVED: .*shelve --offload/);
    expect(byName(plan, 'resized').why).toMatch(/waiting to be confirmed/);
    expect(codes(byName(plan, 'building').findings, 'blocker')).toEqual(['building']);
    for (const s of plan.servers) expect(s.action).toBe('skip');
    // Each skip is explained by a blocker.
    for (const s of plan.servers) expect(s.findings.some((f) => f.severity === 'blocker')).toBe(true);
  });

  it('lists every blocker, leads with the most basic one, and drops caveats about the move', async () => {
    const pinned = makeFlavor({ extraSpecs: { 'hw:cpu_policy': 'dedicated' } });
    const plan = await planEvacuation(
      cloud({ servers: [server('both', { ...STATES.error, locked: true, flavor: pinned })] }),
      request(),
    );
    const both = byName(plan, 'both');
    expect(codes(both.findings)).toEqual(['error-state', 'locked']);
    expect(both.why).toMatch(/^ERROR/);

    const evacuation = await planEvacuation(
      cloud({ source: DOWN_FORCED, servers: [server('locked', { locked: true })] }),
      request(),
    );
    expect(codes(byName(evacuation, 'locked').findings)).toEqual(['locked']);
  });

  it('skips a shelved-offloaded server as having nothing to move, not as a problem', async () => {
    const plan = await planEvacuation(
      cloud({ servers: [server('offloaded', { ...STATES.shelvedOffloaded })] }),
      request(),
    );
    const offloaded = byName(plan, 'offloaded');
    expect(offloaded.action).toBe('skip');
    expect(offloaded.why).toBe('SHELVED_OFFLOADED: it has no host, so there is nothing to move.');
    expect(offloaded.findings).toEqual([
      { severity: 'info', code: 'shelved-offloaded', message: offloaded.why },
    ]);
  });

  it('refuses flavors Nova will not live-migrate, but allows them cold', async () => {
    const servers = [
      server('sev', { flavor: makeFlavor({ extraSpecs: { 'hw:mem_encryption': 'True' } }) }),
      server('pci', { flavor: makeFlavor({ extraSpecs: { 'pci_passthrough:alias': 'a1:2' } }) }),
      server('vtpm', { flavor: makeFlavor({ extraSpecs: { 'hw:tpm_version': '2.0' } }) }),
    ];
    const live = await planEvacuation(cloud({ servers }), request());
    expect(byName(live, 'sev').action).toBe('skip');
    expect(byName(live, 'sev').why).toMatch(
      /SEV memory encryption .*refuses to live-migrate.*Use cold migration/,
    );
    expect(byName(live, 'pci').why).toMatch(/PCI passthrough \(pci_passthrough:alias=a1:2\)/);
    expect(byName(live, 'vtpm').why).toMatch(/Virtual TPM .*refuses to live-migrate/);

    const cold = await planEvacuation(cloud({ servers }), request({ mode: 'cold' }));
    expect(byName(cold, 'sev').action).toBe('cold-migrate');
    expect(finding(byName(cold, 'sev').findings, 'sev').severity).toBe('warning');
    expect(byName(cold, 'pci').action).toBe('cold-migrate');
    expect(finding(byName(cold, 'pci').findings, 'pci-passthrough').severity).toBe('warning');
    expect(byName(cold, 'vtpm').action).toBe('cold-migrate');
    expect(codes(byName(cold, 'vtpm').findings)).not.toContain('vtpm');

    const evacuate = await planEvacuation(cloud({ servers, source: DOWN_FORCED }), request());
    expect(byName(evacuate, 'vtpm').action).toBe('skip');
    expect(byName(evacuate, 'vtpm').why).toMatch(/refuses to evacuate/);
    expect(byName(evacuate, 'sev').action).toBe('evacuate');
  });

  it('refuses accelerator flavors for migrations and warns for evacuation', async () => {
    const servers = [
      server('fpga', { flavor: makeFlavor({ extraSpecs: { 'accel:device_profile': 'fpga1' } }) }),
    ];
    const live = await planEvacuation(cloud({ servers }), request());
    expect(byName(live, 'fpga').action).toBe('skip');
    const evacuate = await planEvacuation(cloud({ servers, source: DOWN_FORCED }), request());
    expect(byName(evacuate, 'fpga').action).toBe('evacuate');
    expect(finding(byName(evacuate, 'fpga').findings, 'accelerator').severity).toBe('warning');
  });
});

describe('warnings', () => {
  it('warns about pinned, NUMA, huge pages, vGPU and PCI flavors without skipping them', async () => {
    const plan = await planEvacuation(
      cloud({
        servers: [
          server('pinned', {
            flavor: makeFlavor({ extraSpecs: { 'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2' } }),
          }),
          server('pcpu', { flavor: makeFlavor({ extraSpecs: { 'resources:PCPU': '4' } }) }),
          server('huge', { flavor: makeFlavor({ extraSpecs: { 'hw:mem_page_size': '1GB' } }) }),
          server('small-pages', { flavor: makeFlavor({ extraSpecs: { 'hw:mem_page_size': 'small' } }) }),
          server('gpu', { flavor: makeFlavor({ extraSpecs: { 'resources:VGPU': '1' } }) }),
          server('shared', { flavor: makeFlavor({ extraSpecs: { 'hw:cpu_policy': 'shared' } }) }),
        ],
      }),
      request(),
    );
    for (const s of plan.servers) expect(s.action).toBe('live-migrate');
    expect(codes(byName(plan, 'pinned').findings, 'warning')).toEqual(['cpu-pinned', 'numa-topology']);
    expect(finding(byName(plan, 'pinned').findings, 'cpu-pinned').message).toMatch(/hw:cpu_policy=dedicated/);
    expect(codes(byName(plan, 'pcpu').findings)).toEqual(['cpu-pinned']);
    expect(codes(byName(plan, 'huge').findings)).toEqual(['huge-pages']);
    expect(byName(plan, 'small-pages').findings).toEqual([]);
    expect(finding(byName(plan, 'gpu').findings, 'vgpu').message).toMatch(/resources:VGPU=1/);
    expect(byName(plan, 'shared').findings).toEqual([]);
  });

  it('warns that evacuating an image-backed server loses its local disk, not a volume-backed one', async () => {
    const plan = await planEvacuation(
      cloud({
        source: DOWN_FORCED,
        servers: [
          server('image', { imageId: '7d0f5b5c-image' }),
          server('volume', { imageId: null, bootFromVolume: true, volumeIds: ['vol-1'] }),
        ],
      }),
      request(),
    );
    expect(finding(byName(plan, 'image').findings, 'not-volume-backed').message).toMatch(
      /Root disk is rebuilt from the image 7d0f5b5c-image: data on the local disk is lost/,
    );
    expect(codes(byName(plan, 'volume').findings)).toEqual([]);
  });

  it('does not warn about local disks for live migration', async () => {
    const plan = await planEvacuation(cloud({ servers: [server('image')] }), request());
    expect(byName(plan, 'image').findings).toEqual([]);
  });
});

describe('include and exclude', () => {
  it('moves only the included servers and leaves excluded ones, matching ids or exact names', async () => {
    const a = server('web-1');
    const b = server('web-2');
    const c = server('db-1');
    const plan = await planEvacuation(
      cloud({ servers: [a, b, c] }),
      request({ include: ['web-1', b.id, 'web-3'], exclude: ['web-1'] }),
    );
    expect(byName(plan, 'web-1').action).toBe('skip');
    expect(byName(plan, 'web-1').why).toBe('Excluded by request.');
    expect(byName(plan, 'web-2').action).toBe('live-migrate');
    expect(byName(plan, 'db-1').why).toBe('Not in the list of servers to move.');
    expect(finding(plan.findings, 'unknown-server').message).toBe(
      '"web-3" (in include) is not a server on host-1: check the name.',
    );
    expect(finding(plan.findings, 'servers-remain').message).toMatch(
      /2 servers stay on host-1 \(2 left by request\)/,
    );
    // Leaving servers by request is not a problem.
    expect(byName(plan, 'web-1').findings.map((f) => f.severity)).toEqual(['info']);
  });

  it('never matches names by substring, and flags names shared by several servers', async () => {
    const plan = await planEvacuation(
      cloud({ servers: [server('web'), server('web', { projectId: 'project-b' }), server('web-10')] }),
      request({ exclude: ['web'] }),
    );
    expect(plan.servers.filter((s) => s.action === 'skip')).toHaveLength(2);
    expect(byName(plan, 'web-10').action).toBe('live-migrate');
    expect(finding(plan.findings, 'ambiguous-name').message).toBe(
      '"web" (in exclude) names 2 servers on host-1: all of them are excluded.',
    );
  });
});

describe('capacity', () => {
  it('sums free room on enabled, up hosts other than the source against what moves', async () => {
    const plan = await planEvacuation(
      cloud({
        others: [
          makeService('host-2'),
          makeService('host-3', { status: 'disabled' }),
          makeService('host-4', { state: 'down' }),
          makeService('host-5'),
        ],
        hypervisors: [
          makeHypervisor('host-1', { vcpus: 8, vcpusUsed: 8, memoryMb: 16384, memoryMbUsed: 16384 }),
          makeHypervisor('host-2', { vcpus: 16, vcpusUsed: 4, memoryMb: 32768, memoryMbUsed: 8192 }),
          makeHypervisor('host-3', { vcpus: 64, vcpusUsed: 0, memoryMb: 262144, memoryMbUsed: 0 }),
          makeHypervisor('host-4', { vcpus: 64, vcpusUsed: 0, memoryMb: 262144, memoryMbUsed: 0 }),
          // Overcommitted: counts as no room, not as negative room.
          makeHypervisor('host-5', { vcpus: 16, vcpusUsed: 20, memoryMb: 32768, memoryMbUsed: 30720 }),
        ],
        servers: [
          server('a', { flavor: makeFlavor({ vcpus: 4, ramMb: 8192 }) }),
          server('b', { flavor: makeFlavor({ vcpus: 2, ramMb: 4096 }) }),
          server('skipped', { ...STATES.error, flavor: makeFlavor({ vcpus: 16, ramMb: 65536 }) }),
        ],
      }),
      request(),
    );
    expect(plan.capacity).toEqual({
      freeVcpus: 12,
      freeRamMb: 24576 + 2048,
      neededVcpus: 6,
      neededRamMb: 12288,
      candidateHosts: ['host-2', 'host-5'],
    });
    expect(codes(plan.findings)).not.toContain('capacity-ram');
    expect(codes(plan.findings)).not.toContain('capacity-vcpu');
  });

  it('warns when what must move does not fit', async () => {
    const plan = await planEvacuation(
      cloud({
        others: [makeService('host-2'), makeService('host-3')],
        hypervisors: [
          makeHypervisor('host-2', { vcpus: 4, vcpusUsed: 2, memoryMb: 8192, memoryMbUsed: 4096 }),
          makeHypervisor('host-3', { vcpus: 4, vcpusUsed: 2, memoryMb: 8192, memoryMbUsed: 4096 }),
        ],
        servers: [server('big', { flavor: makeFlavor({ vcpus: 8, ramMb: 16384 }) })],
      }),
      request(),
    );
    expect(finding(plan.findings, 'capacity-ram').message).toBe(
      'Not enough RAM: 16 GB must move but the 2 usable hosts have 8 GB free; some moves will fail with "No valid host".',
    );
    expect(finding(plan.findings, 'capacity-vcpu').message).toMatch(
      /8 vCPUs must move but the 2 usable hosts have 4/,
    );
    expect(plan.runnable).toBe(true);
  });

  it('warns when the total fits but no single host can take the largest server', async () => {
    const plan = await planEvacuation(
      cloud({
        others: [makeService('host-2'), makeService('host-3')],
        hypervisors: [
          makeHypervisor('host-2', { memoryMb: 8192, memoryMbUsed: 0 }),
          makeHypervisor('host-3', { memoryMb: 8192, memoryMbUsed: 0 }),
        ],
        servers: [server('db', { flavor: makeFlavor({ name: 'm1.large', ramMb: 12288 }) })],
      }),
      request(),
    );
    expect(codes(plan.findings)).not.toContain('capacity-ram');
    expect(finding(plan.findings, 'no-host-fits').message).toBe(
      'No single usable host has enough free RAM for db (12 GB): the most free on one host is 8 GB.',
    );
  });

  it('says "capacity unknown" when Nova hides hypervisor figures', async () => {
    const hidden = { vcpus: null, vcpusUsed: null, memoryMb: null, memoryMbUsed: null };
    const plan = await planEvacuation(
      cloud({
        others: [makeService('host-2')],
        hypervisors: [makeHypervisor('host-2', hidden)],
        servers: [server('a')],
      }),
      request(),
    );
    expect(plan.capacity.freeVcpus).toBeNull();
    expect(plan.capacity.freeRamMb).toBeNull();
    expect(plan.capacity.neededVcpus).toBe(1);
    expect(finding(plan.findings, 'capacity-unknown').message).toMatch(/^Capacity unknown: /);
  });

  it('blocks when no other host can receive servers', async () => {
    const plan = await planEvacuation(
      cloud({ others: [makeService('host-2', { status: 'disabled' })], servers: [server('a')] }),
      request(),
    );
    expect(plan.runnable).toBe(false);
    expect(plan.capacity.candidateHosts).toEqual([]);
    expect(finding(plan.findings, 'no-destination').severity).toBe('blocker');
  });

  it('warns when the availability zone has no destination left', async () => {
    const plan = await planEvacuation(
      cloud({
        source: { zone: 'az-a' },
        others: [makeService('host-2', { zone: 'az-b' })],
        servers: [server('a')],
      }),
      request(),
    );
    expect(finding(plan.findings, 'no-host-in-zone').message).toMatch(/availability zone az-a/);
  });
});

describe('target host', () => {
  const servers = [server('a')];

  it('uses a usable target as the only destination', async () => {
    const plan = await planEvacuation(cloud({ servers }), request({ targetHost: 'host-3' }));
    expect(plan.runnable).toBe(true);
    expect(plan.capacity.candidateHosts).toEqual(['host-3']);
  });

  it.each([
    ['host-1', 'target-is-source', /is the host being emptied/],
    ['hots-2', 'target-unknown', /Target host hots-2 is not a compute host. Did you mean host-2/],
    ['host-20', 'target-unknown', /not a compute host/],
  ])('blocks target %s (%s)', async (target, code, message) => {
    const plan = await planEvacuation(cloud({ servers }), request({ targetHost: target }));
    expect(plan.runnable).toBe(false);
    expect(finding(plan.findings, code).message).toMatch(message);
    expect(codes(plan.findings, 'blocker')).toEqual([code]);
  });

  it('blocks a disabled or down target', async () => {
    const compute = cloud({
      servers,
      others: [
        makeService('host-2', { status: 'disabled', disabledReason: 'RMA' }),
        makeService('host-3', { state: 'down' }),
      ],
    });
    const disabled = await planEvacuation(compute, request({ targetHost: 'host-2' }));
    expect(finding(disabled.findings, 'target-disabled').message).toBe(
      'Target host-2 is disabled ("RMA"): Nova will not place servers there.',
    );
    const down = await planEvacuation(compute, request({ targetHost: 'host-3' }));
    expect(codes(down.findings, 'blocker')).toEqual(['target-down']);
  });
});

describe('server groups', () => {
  it('warns when fewer hosts remain than an anti-affinity group needs', async () => {
    const a = server('db-a');
    const group = makeGroup({
      name: 'db',
      policy: 'anti-affinity',
      members: [a.id, 'elsewhere-1', 'elsewhere-2'],
    });
    const tight = await planEvacuation(
      cloud({ servers: [a], groups: [group], others: [makeService('host-2'), makeService('host-3')] }),
      request(),
    );
    expect(finding(tight.findings, 'anti-affinity').message).toMatch(
      /Anti-affinity group "db" has 3 members \(1 on this host\) but only 2 usable hosts remain/,
    );
    expect(byName(tight, 'db-a').action).toBe('live-migrate');

    const roomy = await planEvacuation(
      cloud({
        servers: [a],
        groups: [group],
        others: [makeService('host-2'), makeService('host-3'), makeService('host-4')],
      }),
      request(),
    );
    expect(codes(roomy.findings)).not.toContain('anti-affinity');
  });

  it('honours max_server_per_host and ignores soft policies', async () => {
    const a = server('a');
    const others = [makeService('host-2')];
    const perHost = makeGroup({
      name: 'two-per-host',
      members: [a.id, 'x'],
      rules: { max_server_per_host: 2 },
    });
    const soft = makeGroup({ name: 'soft', policy: 'soft-anti-affinity', members: [a.id, 'x', 'y'] });
    const plan = await planEvacuation(cloud({ servers: [a], groups: [perHost, soft], others }), request());
    expect(codes(plan.findings)).not.toContain('anti-affinity');
  });

  it('warns when members of an anti-affinity group would all go to one target', async () => {
    const a = server('a');
    const b = server('b');
    const group = makeGroup({ name: 'web', members: [a.id, b.id] });
    const plan = await planEvacuation(
      cloud({ servers: [a, b], groups: [group] }),
      request({ targetHost: 'host-2' }),
    );
    expect(finding(plan.findings, 'anti-affinity').message).toMatch(
      /2 of its members would all go to host-2/,
    );
  });

  it('finds membership from the server (microversion 2.71+) as well as from the group', async () => {
    const group = makeGroup({ name: 'pair', policy: 'affinity', members: ['m1', 'm2'] });
    const member = server('member', { id: 'm1', serverGroupIds: [group.id] });
    const listed = server('listed', { id: 'm2' });
    const plan = await planEvacuation(cloud({ servers: [member, listed], groups: [group] }), request());
    for (const name of ['member', 'listed']) {
      const planned = byName(plan, name);
      expect(planned.action).toBe('live-migrate');
      expect(finding(planned.findings, 'affinity').message).toMatch(/affinity group "pair" \(2 members\)/);
    }
  });
});

describe('concurrency', () => {
  it('takes the mode default, capped by the global maximum', async () => {
    const compute = cloud({ servers: [server('a')] });
    expect((await planEvacuation(compute, request())).concurrency).toBe(4);
    const down = cloud({ source: DOWN_FORCED, servers: [server('a')] });
    expect((await planEvacuation(down, request())).concurrency).toBe(8);
    const options: Partial<PlanningOptions> = {
      defaultConcurrency: { 'live-migrate': 2, 'cold-migrate': 3, evacuate: 30 },
      maxConcurrency: 10,
    };
    expect((await planEvacuation(compute, request({ mode: 'cold' }), options)).concurrency).toBe(3);
    const capped = await planEvacuation(down, request(), options);
    expect(capped.concurrency).toBe(10);
    expect(finding(capped.findings, 'concurrency-capped').message).toBe(
      'Parallelism capped at 10 (asked for 30).',
    );
  });

  it('uses the requested parallelism, capped', async () => {
    const compute = cloud({ servers: [server('a')] });
    expect((await planEvacuation(compute, request({ concurrency: 1 }))).concurrency).toBe(1);
    const capped = await planEvacuation(compute, request({ concurrency: 500 }));
    expect(capped.concurrency).toBe(DEFAULT_PLANNING_OPTIONS.maxConcurrency);
    expect(codes(capped.findings)).toContain('concurrency-capped');
  });

  it.each([
    [0, 'Parallelism must be a whole number of at least 1 (got 0).'],
    [-3, 'Parallelism must be a whole number of at least 1 (got -3).'],
    [Number.NaN, 'Parallelism must be a whole number of at least 1 (got NaN).'],
    [2.5, 'Parallelism must be a whole number of at least 1 (got 2.5).'],
    [Number.POSITIVE_INFINITY, 'Parallelism must be a whole number of at least 1 (got Infinity).'],
  ])('rejects a parallelism of %s before calling Nova', async (concurrency, message) => {
    const compute = cloud();
    const error = await planEvacuation(compute, request({ concurrency })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanValidationError);
    expect((error as PlanValidationError).message).toBe(message);
    expect((error as PlanValidationError).field).toBe('concurrency');
    expect(compute.callCount()).toBe(0);
  });

  it('rejects nonsensical planning options', async () => {
    await expect(planEvacuation(cloud(), request(), { maxConcurrency: 0 })).rejects.toThrow(
      'Invalid planning options: Maximum parallelism must be a whole number of at least 1 (got 0).',
    );
    await expect(
      planEvacuation(cloud(), request(), {
        defaultConcurrency: { 'live-migrate': -1, 'cold-migrate': 1, evacuate: 1 },
      }),
    ).rejects.toBeInstanceOf(PlanValidationError);
  });
});

describe('request validation', () => {
  it.each([
    [{ host: '' }, 'Host name is empty.'],
    [{ host: 'host 1' }, 'Host name "host 1" contains spaces; host names never do.'],
    [{ mode: 'drain' as never }, 'Unknown mode "drain": use auto, live, cold or evacuate.'],
    [{ targetHost: ' ' }, 'Target host is empty.'],
    [{ include: ['a', ''] }, 'The include list has an empty entry.'],
    [{ include: [] }, 'The include list is empty: leave it out to move every server.'],
    [{ exclude: 'web-1' as never }, 'The exclude list must be a list of server names or ids.'],
  ])('rejects %j', async (overrides, message) => {
    const error = await planEvacuation(cloud(), request(overrides)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanValidationError);
    expect((error as Error).message).toBe(message);
  });
});

describe('plan summary', () => {
  it('costs a fixed number of API calls whatever the number of servers', async () => {
    const few = cloud({ servers: [server('a'), server('b', STATES.shutoff)] });
    await planEvacuation(few, request());
    const many = cloud({
      servers: Array.from({ length: 300 }, (_, i) => server(`vm-${i}`, i % 3 === 0 ? STATES.shutoff : {})),
      groups: [makeGroup({ members: ['x'] })],
    });
    const plan = await planEvacuation(many, request());
    expect(plan.servers).toHaveLength(300);
    const expected = {
      listComputeServices: 1,
      listServersOnHost: 1,
      listHypervisors: 1,
      listServerGroups: 1,
    };
    expect(few.callCounts()).toEqual(expected);
    expect(many.callCounts()).toEqual(expected);
  });

  it('says so when there is nothing to move, and stays runnable (the host just gets disabled)', async () => {
    const plan = await planEvacuation(cloud(), request());
    expect(plan.servers).toEqual([]);
    expect(plan.runnable).toBe(true);
    expect(finding(plan.findings, 'nothing-to-move').message).toBe('No servers on host-1: nothing to move.');
    expect(finding(plan.findings, 'disable-service').severity).toBe('info');
  });

  it('warns, rather than informs, when nothing moves because nothing can', async () => {
    const plan = await planEvacuation(
      cloud({
        servers: [server('a', { locked: true }), server('b'), server('gone', STATES.shelvedOffloaded)],
      }),
      request({ exclude: ['b'] }),
    );
    expect(codes(plan.findings)).not.toContain('nothing-to-move');
    expect(finding(plan.findings, 'servers-remain').message).toBe(
      'Nothing will move: 2 servers stay on host-1 (1 cannot move, 1 left by request), so the host will not be empty.',
    );
    const offloadedOnly = await planEvacuation(
      cloud({ servers: [server('gone', STATES.shelvedOffloaded)] }),
      request(),
    );
    expect(finding(offloadedOnly.findings, 'nothing-to-move').message).toBe(
      'Nothing on host-1 needs moving.',
    );
    expect(codes(offloadedOnly.findings)).not.toContain('servers-remain');
  });

  it('warns that the host will not be empty when servers cannot move', async () => {
    const plan = await planEvacuation(
      cloud({ servers: [server('a'), server('b', { locked: true }), server('c', STATES.error)] }),
      request(),
    );
    expect(finding(plan.findings, 'servers-remain').message).toBe(
      '2 servers stay on host-1 (2 cannot move): the host will not be empty.',
    );
  });

  it('reports the service status: already disabled, or kept enabled on request', async () => {
    const disabled = await planEvacuation(
      cloud({ source: { status: 'disabled', disabledReason: 'maintenance CHG-1' }, servers: [server('a')] }),
      request(),
    );
    expect(finding(disabled.findings, 'service-disabled').message).toBe(
      'nova-compute on host-1 is already disabled ("maintenance CHG-1").',
    );
    const kept = await planEvacuation(
      cloud({ servers: [server('a')] }),
      request({ keepServiceEnabled: true }),
    );
    expect(finding(kept.findings, 'service-stays-enabled').severity).toBe('warning');
  });

  it('stamps the plan with the injected clock, keeps the request and lists servers in natural order', async () => {
    const at = new Date('2026-03-04T05:06:07.000Z');
    const servers = [server('vm-10'), server('vm-2'), server('vm-1')];
    const plan = await planEvacuation(cloud({ servers }), request({ reason: 'PSU failure' }), {
      now: () => at,
    });
    expect(plan.createdAt).toBe('2026-03-04T05:06:07.000Z');
    expect(plan.request.reason).toBe('PSU failure');
    expect(plan.request.requestedBy).toBe('U123');
    expect(plan.servers.map((s) => s.name)).toEqual(['vm-1', 'vm-2', 'vm-10']);
    const first = plan.servers[0]!;
    expect(first).toMatchObject({
      serverId: servers[2]!.id,
      projectId: 'project-a',
      status: 'ACTIVE',
      flavorName: 'm1.small',
      vcpus: 1,
      ramMb: 2048,
    });
    expect(first.snapshot).toEqual(servers[2]);
  });

  it('passes OpenStack errors through unchanged', async () => {
    const compute = cloud();
    const failure = new Error('hypervisors unavailable');
    compute.failNext('listHypervisors', failure);
    await expect(planEvacuation(compute, request())).rejects.toBe(failure);
  });
});
