/**
 * Realistic evacuation plans and runs for tests, deterministic (no clocks, no randomness).
 *
 * `makeRun({ servers: 40, state: 'running' })` gives a run of 40 servers in a mix of per-server
 * states that fits the run state (every kind of move, skips with blockers, warnings, failures
 * with Nova's messages, progress figures). Every piece can be overridden; other suites may reuse
 * this file.
 */
import type { ComputeService, ServerInfo } from '../../src/nova/types.js';
import type {
  EvacuationPlan,
  EvacuationRun,
  Finding,
  PlannedAction,
  PlannedServer,
  RunState,
  ServerRun,
  ServerRunState,
} from '../../src/engine/types.js';

/** Every fixture time derives from this instant, so tests can use fixed `now` values. */
export const FIXTURE_EPOCH = Date.parse('2024-05-01T10:00:00.000Z');

export function isoAt(secondsAfterEpoch: number): string {
  return new Date(FIXTURE_EPOCH + secondsAfterEpoch * 1000).toISOString();
}

export function makeService(overrides: Partial<ComputeService> = {}): ComputeService {
  return {
    id: 'b2f1c3d4-0000-4000-8000-000000000012',
    binary: 'nova-compute',
    host: 'host-12',
    zone: 'nova',
    status: 'enabled',
    state: 'up',
    disabledReason: null,
    forcedDown: false,
    updatedAt: isoAt(-5),
    ...overrides,
  };
}

export function serverId(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/** The planned action of server `index` in the default mix: skips, cold moves and live moves. */
export function defaultAction(index: number, mode: EvacuationPlan['mode']): PlannedAction {
  if (index % 7 === 6) return 'skip';
  if (mode === 'evacuate') return 'evacuate';
  if (mode === 'cold' || index % 5 === 4) return 'cold-migrate';
  return 'live-migrate';
}

export function makeServerInfo(index: number, overrides: Partial<ServerInfo> = {}): ServerInfo {
  const shutOff = index % 5 === 4;
  return {
    id: serverId(index),
    name: `vm-${String(index).padStart(4, '0')}`,
    projectId: `proj${(index % 4).toString().padStart(28, '0')}`,
    userId: 'user-1',
    status: shutOff ? 'SHUTOFF' : 'ACTIVE',
    vmState: shutOff ? 'stopped' : 'active',
    taskState: null,
    powerState: shutOff ? 4 : 1,
    host: 'host-12',
    hypervisorHostname: 'host-12.example.net',
    availabilityZone: 'nova',
    locked: index % 7 === 6,
    lockedReason: index % 7 === 6 ? 'legal hold' : null,
    flavor: {
      id: null,
      name: index % 2 === 0 ? 'm1.small' : 'm1.large',
      vcpus: index % 2 === 0 ? 1 : 4,
      ramMb: index % 2 === 0 ? 2048 : 8192,
      diskGb: 20,
      extraSpecs: {},
    },
    imageId: 'img-1',
    bootFromVolume: false,
    volumeIds: [],
    serverGroupIds: [],
    fault: null,
    created: isoAt(-86400),
    updated: isoAt(-3600),
    ...overrides,
  };
}

export function makePlannedServer(
  index: number,
  mode: EvacuationPlan['mode'] = 'live',
  overrides: Partial<PlannedServer> = {},
): PlannedServer {
  const snapshot = makeServerInfo(index);
  const action = overrides.action ?? defaultAction(index, mode);
  const findings: Finding[] = [];
  if (action === 'skip') {
    findings.push({ severity: 'blocker', code: 'locked', message: 'Server is locked (legal hold).' });
  }
  if (index % 3 === 2) {
    findings.push({
      severity: 'warning',
      code: 'anti-affinity',
      message: 'Member of anti-affinity group web-tier: may fail to schedule.',
    });
  }
  return {
    serverId: snapshot.id,
    name: snapshot.name,
    projectId: snapshot.projectId,
    status: snapshot.status,
    flavorName: snapshot.flavor.name,
    vcpus: snapshot.flavor.vcpus,
    ramMb: snapshot.flavor.ramMb,
    action,
    why:
      action === 'skip'
        ? 'Locked servers are left alone.'
        : action === 'cold-migrate'
          ? 'SHUTOFF: cold migration.'
          : action === 'evacuate'
            ? 'Host is down: evacuation.'
            : 'ACTIVE on a host whose service is up: live migration.',
    findings,
    snapshot,
    ...overrides,
  };
}

export interface PlanFixtureOptions {
  servers?: number;
  host?: string;
  mode?: EvacuationPlan['mode'];
  requestedMode?: EvacuationPlan['request']['mode'];
  service?: Partial<ComputeService>;
  findings?: Finding[];
  runnable?: boolean;
  needsForceDown?: boolean;
  concurrency?: number;
  targetHost?: string;
  reason?: string;
  candidateHosts?: string[];
  requestedBy?: string;
  /** Changes each planned server after the default mix is built. */
  editServer?: (server: PlannedServer, index: number) => PlannedServer;
}

export function makePlan(options: PlanFixtureOptions = {}): EvacuationPlan {
  const host = options.host ?? 'host-12';
  const mode = options.mode ?? 'live';
  const servers = Array.from({ length: options.servers ?? 12 }, (_, index) => {
    const server = makePlannedServer(index, mode);
    return options.editServer ? options.editServer(server, index) : server;
  });
  const moving = servers.filter((server) => server.action !== 'skip');
  return {
    request: {
      host,
      mode: options.requestedMode ?? 'auto',
      ...(options.targetHost !== undefined ? { targetHost: options.targetHost } : {}),
      ...(options.reason !== undefined
        ? { reason: options.reason }
        : { reason: 'kernel upgrade CVE-2024-1086' }),
      requestedBy: options.requestedBy ?? 'U0REQUESTER',
    },
    host,
    service: makeService({ host, ...options.service }),
    mode,
    modeReason:
      mode === 'live'
        ? 'The compute service is up and enabled: live migration keeps servers running.'
        : mode === 'evacuate'
          ? 'The compute service is down: servers are rebuilt on other hosts.'
          : 'Cold migration was requested.',
    servers,
    findings: options.findings ?? [
      {
        severity: 'warning',
        code: 'capacity-tight',
        message: 'Free RAM on the candidate hosts is within 10% of what the servers need.',
      },
    ],
    runnable: options.runnable ?? true,
    needsForceDown: options.needsForceDown ?? false,
    capacity: {
      freeVcpus: 512,
      freeRamMb: 1_048_576,
      neededVcpus: moving.reduce((sum, server) => sum + server.vcpus, 0),
      neededRamMb: moving.reduce((sum, server) => sum + server.ramMb, 0),
      candidateHosts: options.candidateHosts ?? ['host-3', 'host-4', 'host-7'],
    },
    concurrency: options.concurrency ?? 4,
    createdAt: isoAt(0),
  };
}

/** Per-server states cycled through for a run that is under way. */
export const RUNNING_STATE_CYCLE: readonly ServerRunState[] = [
  'done',
  'done',
  'moving',
  'pending',
  'failed',
  'done',
  'timed_out',
  'requested',
  'confirming',
  'pending',
];
/** Per-server states cycled through for a finished run. */
export const FINISHED_STATE_CYCLE: readonly ServerRunState[] = [
  'done',
  'done',
  'failed',
  'done',
  'timed_out',
  'stopped',
];

export const NOVA_LIVE_MIGRATION_ERROR =
  'Migration pre-check error: Unable to migrate 00000000-0000-4000-8000-000000000004: ' +
  'Disk of instance is too large(available on destination host:42949672960 < need:53687091200)';

function stateFor(index: number, action: PlannedAction, runState: RunState): ServerRunState {
  if (action === 'skip') return 'skipped';
  if (runState === 'planned' || runState === 'cancelled') return 'pending';
  if (runState === 'confirmed') return index % 4 === 0 ? 'requested' : 'pending';
  const cycle = runState === 'finished' ? FINISHED_STATE_CYCLE : RUNNING_STATE_CYCLE;
  const state = cycle[index % cycle.length] ?? 'pending';
  // Only a cold migration waits on confirmResize.
  return state === 'confirming' && action !== 'cold-migrate' ? 'moving' : state;
}

export function makeServerRun(planned: PlannedServer, index: number, state: ServerRunState): ServerRun {
  const started = 60 + index * 10;
  const began = state === 'pending' || state === 'skipped' ? null : isoAt(started);
  const finished =
    state === 'done' || state === 'failed' || state === 'timed_out' || state === 'stopped'
      ? isoAt(started + 30 + (index % 4) * 15)
      : null;
  const destinations = ['host-3', 'host-4', 'host-7'];
  return {
    serverId: planned.serverId,
    name: planned.name,
    action: planned.action,
    state,
    attempt: state === 'failed' && index % 3 === 0 ? 2 : 1,
    sourceHost: planned.snapshot.host ?? 'host-12',
    destinationHost: state === 'pending' || state === 'skipped' ? null : (destinations[index % 3] ?? null),
    migrationId: began ? 1000 + index : null,
    requestId: began ? `req-${serverId(index)}` : null,
    startedAt: began,
    finishedAt: finished,
    progress:
      state === 'moving' && planned.action === 'live-migrate'
        ? {
            percent: null,
            memoryProcessedBytes: 3 * 1024 ** 3,
            memoryTotalBytes: 8 * 1024 ** 3,
            migrationStatus: 'running',
          }
        : null,
    failure:
      state === 'failed'
        ? {
            message: NOVA_LIVE_MIGRATION_ERROR,
            source: 'instance-action',
            requestId: `req-${serverId(index)}`,
            httpStatus: null,
          }
        : state === 'timed_out'
          ? {
              message: 'No change for 900 s: migration 1006 still "running".',
              source: 'timeout',
              requestId: null,
              httpStatus: null,
            }
          : null,
    skipReason: state === 'skipped' ? planned.why : null,
  };
}

export interface RunFixtureOptions extends PlanFixtureOptions {
  id?: string;
  state?: RunState;
  confirmedBy?: string | null;
  stoppedBy?: string | null;
  serviceDisabledByRun?: boolean;
  /** Overrides the state of server `index` (after the default mix). */
  serverState?: (index: number, defaultState: ServerRunState) => ServerRunState;
}

export function makeRun(options: RunFixtureOptions = {}): EvacuationRun {
  const plan = makePlan(options);
  const state = options.state ?? 'planned';
  const servers = plan.servers.map((planned, index) => {
    const defaultState = stateFor(index, planned.action, state);
    return makeServerRun(
      planned,
      index,
      options.serverState ? options.serverState(index, defaultState) : defaultState,
    );
  });
  const started = state === 'planned' || state === 'cancelled' ? null : isoAt(30);
  const lastFinish = servers.reduce((latest, server) => {
    const at = server.finishedAt ? Date.parse(server.finishedAt) : 0;
    return Math.max(latest, at);
  }, FIXTURE_EPOCH + 60_000);
  return {
    id: options.id ?? 'run-0001',
    host: plan.host,
    state,
    plan,
    servers,
    requestedBy: plan.request.requestedBy,
    confirmedBy:
      options.confirmedBy !== undefined ? options.confirmedBy : state === 'planned' ? null : 'U0CONFIRMER',
    stoppedBy: options.stoppedBy ?? null,
    createdAt: isoAt(0),
    startedAt: started,
    finishedAt: state === 'finished' ? new Date(lastFinish + 5000).toISOString() : null,
    serviceDisabledByRun: options.serviceDisabledByRun ?? state !== 'planned',
    frontEnd: {},
  };
}

/** A Python traceback of about `bytes` characters, shaped like the ones Nova stores in instance actions. */
export function novaTraceback(bytes: number): string {
  const frame = (n: number) =>
    `  File "/usr/lib/python3/dist-packages/nova/compute/manager.py", line ${8000 + n}, in _do_live_migration\n` +
    `    self.driver.live_migration(context, instance, dest, post_method, recover_method)\n`;
  let text = 'Traceback (most recent call last):\n';
  let n = 0;
  while (text.length < bytes - 200) text += frame(n++);
  return `${text}nova.exception.MigrationPreCheckError: Migration pre-check error: <libvirt> said "disk & memory" > limit`;
}
