/**
 * An in-memory `ComputeApi` for engine tests: configurable services, servers, hypervisors,
 * server groups, migrations and instance actions, with every call recorded.
 *
 * Reads return copies, like a real client returning freshly parsed JSON. Service changes
 * (disable, enable, forced_down) update the state; moves (live/cold migrate, evacuate, ...) only
 * record the call unless a test scripts them with `on(...)`, because what a move does over time
 * is what the test is about. `failNext(method, error)` makes the next call(s) of a method throw.
 */
import { OpenStackError } from '../../src/nova/errors.js';
import type {
  ActionReceipt,
  ChangesSnapshot,
  ComputeApi,
  ComputeService,
  FlavorInfo,
  Hypervisor,
  InstanceAction,
  ListMigrationsQuery,
  LiveMigrationProgress,
  MicroversionRange,
  MigrationRecord,
  ServerGroup,
  ServerInfo,
} from '../../src/nova/types.js';

export type FakeMethod = keyof ComputeApi;

export interface FakeCall {
  method: FakeMethod;
  args: unknown[];
}

export interface FakeComputeState {
  services?: ComputeService[];
  servers?: ServerInfo[];
  hypervisors?: Hypervisor[];
  groups?: ServerGroup[];
  migrations?: MigrationRecord[];
  instanceActions?: Record<string, InstanceAction[]>;
  liveMigrations?: Record<string, LiveMigrationProgress[]>;
  microversions?: MicroversionRange;
}

type Handler<M extends FakeMethod> = ComputeApi[M] extends (...args: infer A) => Promise<infer R>
  ? (...args: A) => R | Promise<R>
  : never;

let uuidCounter = 0;
/** Deterministic UUID-shaped ids, unique within a test run. */
export function fakeUuid(prefix = 0): string {
  uuidCounter += 1;
  const tail = uuidCounter.toString(16).padStart(12, '0');
  return `${prefix.toString(16).padStart(8, '0')}-0000-4000-8000-${tail}`;
}

export function makeFlavor(overrides: Partial<FlavorInfo> = {}): FlavorInfo {
  return { id: null, name: 'm1.small', vcpus: 1, ramMb: 2048, diskGb: 20, extraSpecs: {}, ...overrides };
}

export function makeService(host: string, overrides: Partial<ComputeService> = {}): ComputeService {
  return {
    id: fakeUuid(1),
    binary: 'nova-compute',
    host,
    zone: 'nova',
    status: 'enabled',
    state: 'up',
    disabledReason: null,
    forcedDown: false,
    updatedAt: '2026-01-01T00:00:00.000000',
    ...overrides,
  };
}

export function makeHypervisor(host: string, overrides: Partial<Hypervisor> = {}): Hypervisor {
  return {
    id: fakeUuid(2),
    hypervisorHostname: host,
    host,
    state: 'up',
    status: 'enabled',
    vcpus: 32,
    vcpusUsed: 0,
    memoryMb: 131072,
    memoryMbUsed: 0,
    runningVms: 0,
    ...overrides,
  };
}

/** An ACTIVE, unlocked, image-backed server; override what the test is about. */
export function makeServer(overrides: Partial<ServerInfo> & { host: string | null }): ServerInfo {
  const id = overrides.id ?? fakeUuid(3);
  return {
    id,
    name: `server-${id.slice(-4)}`,
    projectId: 'project-a',
    userId: 'user-a',
    status: 'ACTIVE',
    vmState: 'active',
    taskState: null,
    powerState: 1,
    hypervisorHostname: overrides.host,
    availabilityZone: 'nova',
    locked: false,
    lockedReason: null,
    flavor: makeFlavor(),
    imageId: 'image-cirros',
    bootFromVolume: false,
    volumeIds: [],
    serverGroupIds: [],
    fault: null,
    created: '2026-01-01T00:00:00Z',
    updated: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}

/** Shorthands for the server states planning cares about. */
export const STATES = {
  active: { status: 'ACTIVE', vmState: 'active', powerState: 1 },
  shutoff: { status: 'SHUTOFF', vmState: 'stopped', powerState: 4 },
  paused: { status: 'PAUSED', vmState: 'paused', powerState: 3 },
  suspended: { status: 'SUSPENDED', vmState: 'suspended', powerState: 7 },
  error: { status: 'ERROR', vmState: 'error', powerState: 0 },
  shelved: { status: 'SHELVED', vmState: 'shelved', powerState: 4 },
  shelvedOffloaded: { status: 'SHELVED_OFFLOADED', vmState: 'shelved_offloaded', powerState: 4 },
  rescued: { status: 'RESCUE', vmState: 'rescued', powerState: 1 },
  verifyResize: { status: 'VERIFY_RESIZE', vmState: 'resized', powerState: 1 },
} as const satisfies Record<string, Partial<ServerInfo>>;

export function makeGroup(overrides: Partial<ServerGroup> & { members: string[] }): ServerGroup {
  return {
    id: fakeUuid(4),
    name: 'group',
    policy: 'anti-affinity',
    rules: {},
    projectId: 'project-a',
    ...overrides,
  };
}

function notFound(operation: string, message: string): OpenStackError {
  return new OpenStackError({ kind: 'not_found', operation, status: 404, serviceMessage: message });
}

export class FakeCompute implements ComputeApi {
  services: ComputeService[];
  servers: ServerInfo[];
  hypervisors: Hypervisor[];
  groups: ServerGroup[];
  migrations: MigrationRecord[];
  instanceActions: Record<string, InstanceAction[]>;
  liveMigrations: Record<string, LiveMigrationProgress[]>;
  range: MicroversionRange;
  readonly calls: FakeCall[] = [];
  private readonly failures = new Map<FakeMethod, unknown[]>();
  private readonly handlers = new Map<FakeMethod, (...args: never[]) => unknown>();
  private requestCounter = 0;

  constructor(state: FakeComputeState = {}) {
    this.services = state.services ?? [];
    this.servers = state.servers ?? [];
    this.hypervisors = state.hypervisors ?? [];
    this.groups = state.groups ?? [];
    this.migrations = state.migrations ?? [];
    this.instanceActions = state.instanceActions ?? {};
    this.liveMigrations = state.liveMigrations ?? {};
    this.range = state.microversions ?? { min: '2.1', max: '2.93', chosen: '2.93' };
  }

  /** Scripts a method: the handler replaces the default behaviour (calls are still recorded). */
  on<M extends FakeMethod>(method: M, handler: Handler<M>): this {
    this.handlers.set(method, handler as (...args: never[]) => unknown);
    return this;
  }

  /** The next call of `method` throws `error` (queue several to fail several calls). */
  failNext(method: FakeMethod, error: unknown): this {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
    return this;
  }

  callCount(method?: FakeMethod): number {
    return method ? this.calls.filter((c) => c.method === method).length : this.calls.length;
  }

  /** Calls per method, e.g. `{ listComputeServices: 1, listServersOnHost: 1 }`. */
  callCounts(): Partial<Record<FakeMethod, number>> {
    const counts: Partial<Record<FakeMethod, number>> = {};
    for (const call of this.calls) counts[call.method] = (counts[call.method] ?? 0) + 1;
    return counts;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  server(id: string): ServerInfo {
    const server = this.servers.find((s) => s.id === id);
    if (!server) throw new Error(`fake compute: no server ${id}`);
    return server;
  }

  /** Changes a server in place (e.g. to simulate a move finishing). */
  updateServer(id: string, patch: Partial<ServerInfo>): ServerInfo {
    const server = this.server(id);
    Object.assign(server, patch);
    return server;
  }

  private async call<T>(method: FakeMethod, args: unknown[], fallback: () => T): Promise<T> {
    this.calls.push({ method, args: structuredClone(args) });
    const queued = this.failures.get(method);
    if (queued && queued.length > 0) throw queued.shift();
    const handler = this.handlers.get(method) as ((...a: unknown[]) => T | Promise<T>) | undefined;
    const result = handler ? await handler(...args) : fallback();
    return structuredClone(result);
  }

  private receipt(): ActionReceipt {
    this.requestCounter += 1;
    return { requestId: `req-fake-${this.requestCounter}` };
  }

  private service(method: string, target: ComputeService): ComputeService {
    const service = this.services.find((s) => s.id === target.id);
    if (!service) throw notFound(method, `Service ${target.id} not found.`);
    return service;
  }

  microversions(): Promise<MicroversionRange> {
    return this.call('microversions', [], () => this.range);
  }

  listComputeServices(): Promise<ComputeService[]> {
    return this.call('listComputeServices', [], () =>
      this.services.filter((s) => s.binary === 'nova-compute'),
    );
  }

  findComputeService(host: string): Promise<ComputeService | null> {
    return this.call(
      'findComputeService',
      [host],
      () => this.services.find((s) => s.binary === 'nova-compute' && s.host === host) ?? null,
    );
  }

  disableComputeService(service: ComputeService, reason: string): Promise<ComputeService> {
    return this.call('disableComputeService', [service, reason], () =>
      Object.assign(this.service('disableComputeService', service), {
        status: 'disabled',
        disabledReason: reason,
      }),
    );
  }

  enableComputeService(service: ComputeService): Promise<ComputeService> {
    return this.call('enableComputeService', [service], () =>
      Object.assign(this.service('enableComputeService', service), {
        status: 'enabled',
        disabledReason: null,
      }),
    );
  }

  setForcedDown(service: ComputeService, forcedDown: boolean): Promise<ComputeService> {
    return this.call('setForcedDown', [service, forcedDown], () => {
      const stored = this.service('setForcedDown', service);
      stored.forcedDown = forcedDown;
      if (forcedDown) stored.state = 'down';
      return stored;
    });
  }

  listHypervisors(): Promise<Hypervisor[]> {
    return this.call('listHypervisors', [], () => this.hypervisors);
  }

  listServersOnHost(host: string): Promise<ServerInfo[]> {
    return this.call('listServersOnHost', [host], () => this.servers.filter((s) => s.host === host));
  }

  getServer(id: string): Promise<ServerInfo> {
    return this.call('getServer', [id], () => {
      const server = this.servers.find((s) => s.id === id);
      if (!server) throw notFound('getServer', `Instance ${id} could not be found.`);
      return server;
    });
  }

  listServerGroups(): Promise<ServerGroup[]> {
    return this.call('listServerGroups', [], () => this.groups);
  }

  liveMigrate(serverId: string, options?: { host?: string }): Promise<ActionReceipt> {
    return this.call('liveMigrate', [serverId, options], () => this.receipt());
  }

  coldMigrate(serverId: string, options?: { host?: string }): Promise<ActionReceipt> {
    return this.call('coldMigrate', [serverId, options], () => this.receipt());
  }

  confirmResize(serverId: string): Promise<ActionReceipt> {
    return this.call('confirmResize', [serverId], () => this.receipt());
  }

  evacuate(serverId: string, options?: { host?: string }): Promise<ActionReceipt> {
    return this.call('evacuate', [serverId, options], () => this.receipt());
  }

  listLiveMigrations(serverId: string): Promise<LiveMigrationProgress[]> {
    return this.call('listLiveMigrations', [serverId], () => this.liveMigrations[serverId] ?? []);
  }

  abortLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt> {
    return this.call('abortLiveMigration', [serverId, migrationId], () => this.receipt());
  }

  forceCompleteLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt> {
    return this.call('forceCompleteLiveMigration', [serverId, migrationId], () => this.receipt());
  }

  listMigrations(query: ListMigrationsQuery = {}): Promise<MigrationRecord[]> {
    return this.call('listMigrations', [query], () =>
      this.migrations.filter(
        (m) =>
          (query.instanceId === undefined || m.instanceId === query.instanceId) &&
          (query.migrationType === undefined || m.migrationType === query.migrationType) &&
          (query.sourceCompute === undefined || m.sourceCompute === query.sourceCompute) &&
          (query.changesSince === undefined || (m.updatedAt ?? m.createdAt) >= query.changesSince),
      ),
    );
  }

  listInstanceActions(serverId: string): Promise<InstanceAction[]> {
    return this.call('listInstanceActions', [serverId], () => this.instanceActions[serverId] ?? []);
  }

  getInstanceAction(serverId: string, requestId: string): Promise<InstanceAction> {
    return this.call('getInstanceAction', [serverId, requestId], () => {
      const action = (this.instanceActions[serverId] ?? []).find((a) => a.requestId === requestId);
      if (!action) throw notFound('getInstanceAction', `Action ${requestId} not found`);
      return action;
    });
  }

  pollChanges(since: string): Promise<ChangesSnapshot> {
    return this.call('pollChanges', [since], () => ({
      servers: this.servers.filter((s) => s.updated === null || s.updated >= since),
      migrations: this.migrations.filter((m) => (m.updatedAt ?? m.createdAt) >= since),
      nextSince: new Date().toISOString(),
      requests: 2,
    }));
  }
}
