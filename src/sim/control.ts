/**
 * The drill panel: read the whole simulated state, kill and revive compute hosts, plan
 * failures, change timings, inject faults and read counters. The same operations are served
 * as JSON under `/_sim/...` for other processes.
 */
import { z } from 'zod';
import type {
  ConcurrencySnapshot,
  LiveMigrationFailurePlan,
  OperationEngine,
  OperationKind,
} from './engine.js';
import {
  type FaultInjector,
  type FaultRule,
  type FaultRuleInput,
  type RequestCounters,
  emptyRequestCounters,
} from './faults.js';
import { novaDbTime, statusFromState, type ServerRecord } from './model.js';
import { operationDurationKinds, type OperationDurationKind } from './scenario.js';
import type { CloudState } from './state.js';
import { Router, type SimResponse } from './http/router.js';

export interface SimHostSnapshot {
  name: string;
  availabilityZone: string;
  serviceId: string;
  /** Service status: enabled/disabled. */
  status: 'enabled' | 'disabled';
  /** Service state as Nova reports it now. */
  state: 'up' | 'down';
  disabledReason: string | null;
  forcedDown: boolean;
  /** Is nova-compute running (heartbeating)? */
  alive: boolean;
  lastHeartbeat: string;
  capacity: {
    vcpus: number;
    pcpus: number;
    ramMb: number;
    diskGb: number;
    vgpus: number;
    pci: Record<string, number>;
  };
  used: {
    vcpus: number;
    pcpus: number;
    ramMb: number;
    diskGb: number;
    vgpus: number;
    pci: Record<string, number>;
    instances: number;
  };
  maxConcurrentLiveMigrations: number;
}

export interface SimServerSnapshot {
  id: string;
  name: string;
  projectId: string;
  status: string;
  vmState: string;
  taskState: string | null;
  powerState: number;
  host: string | null;
  availabilityZone: string | null;
  locked: boolean;
  lockedReason: string | null;
  flavor: string;
  bootFromVolume: boolean;
  serverGroupIds: string[];
  fault: { code: number; message: string } | null;
  deleted: boolean;
  updated: string;
}

export interface SimMigrationSnapshot {
  id: number;
  uuid: string;
  serverId: string;
  migrationType: string;
  status: string;
  sourceCompute: string | null;
  destCompute: string | null;
  createdAt: string;
  updatedAt: string | null;
}

export interface SimActionSnapshot {
  serverId: string;
  action: string;
  requestId: string;
  startTime: string;
  message: string | null;
  events: {
    event: string;
    result: string | null;
    host: string | null;
    details: string | null;
    traceback: string | null;
  }[];
}

export interface SimStateSnapshot {
  now: string;
  hosts: SimHostSnapshot[];
  servers: SimServerSnapshot[];
  migrations: SimMigrationSnapshot[];
  instanceActions: SimActionSnapshot[];
  operations: {
    id: number;
    kind: OperationKind;
    serverId: string;
    sourceHost: string;
    phase: string;
    migrationId: number;
  }[];
}

export interface SimCounters extends RequestCounters {
  operations: ConcurrencySnapshot;
}

export interface SimControl {
  /** A consistent snapshot of everything the simulator knows. */
  state(): SimStateSnapshot;
  /** One server by id or (unique) name. Throws when unknown. */
  server(idOrName: string): SimServerSnapshot;
  host(name: string): SimHostSnapshot;
  /** Starts/stops nova-compute's heartbeat. The service reads `down` only `serviceDownTimeSeconds` later (or at once when forced down). */
  setHostAlive(host: string, alive: boolean): void;
  /** The next live migration (matching `opts`) is accepted, runs, then fails silently. */
  failNextLiveMigration(opts?: LiveMigrationFailurePlan): void;
  /** Chance that a live migration fails silently, globally or for moves off one host. */
  setLiveMigrationFailureRate(rate: number, host?: string): void;
  setOperationDuration(kind: OperationDurationKind, seconds: number): void;
  setMaxConcurrentLiveMigrations(value: number, host?: string): void;
  /** Consumes the host's free capacity (vCPU, RAM, PCPU) so nothing more is scheduled there. */
  fillHost(host: string): void;
  unfillHost(host: string): void;
  addFault(rule: FaultRuleInput): FaultRule;
  removeFault(id: number): boolean;
  clearFaults(): void;
  listFaults(): FaultRule[];
  /** Lifetime of tokens issued from now on (real seconds). */
  setTokenTtl(seconds: number): void;
  /** Expires every token issued so far (clients must re-authenticate). */
  expireTokens(): void;
  counters(): SimCounters;
  resetCounters(): void;
}

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export class SimControlImpl implements SimControl {
  requestCounters: RequestCounters = emptyRequestCounters();

  constructor(
    private readonly cloud: CloudState,
    private readonly engine: OperationEngine,
    private readonly faults: FaultInjector,
  ) {}

  private hostRecord(name: string) {
    const host = this.cloud.hosts.get(name);
    if (!host) throw new ControlError(404, `unknown host "${name}"`);
    return host;
  }

  private hostSnapshot(name: string, usage = this.cloud.usageByHost()): SimHostSnapshot {
    const h = this.hostRecord(name);
    const used = usage.get(name);
    return {
      name: h.name,
      availabilityZone: h.az,
      serviceId: h.serviceUuid,
      status: h.enabled ? 'enabled' : 'disabled',
      state: this.cloud.isServiceUp(h) ? 'up' : 'down',
      disabledReason: h.disabledReason,
      forcedDown: h.forcedDown,
      alive: h.alive,
      lastHeartbeat: novaDbTime(this.cloud.serviceUpdatedAt(h)),
      capacity: {
        vcpus: h.vcpus * this.cloud.settings.cpu_allocation_ratio,
        pcpus: h.pcpus,
        ramMb: h.ramMb * this.cloud.settings.ram_allocation_ratio,
        diskGb: h.diskGb,
        vgpus: h.vgpus,
        pci: { ...h.pciDevices },
      },
      used: {
        vcpus: used?.vcpus ?? 0,
        pcpus: used?.pcpus ?? 0,
        ramMb: used?.ramMb ?? 0,
        diskGb: used?.diskGb ?? 0,
        vgpus: used?.vgpus ?? 0,
        pci: { ...(used?.pci ?? {}) },
        instances: used?.instances ?? 0,
      },
      maxConcurrentLiveMigrations:
        h.maxConcurrentLiveMigrations ?? this.cloud.settings.max_concurrent_live_migrations,
    };
  }

  private serverSnapshot(s: ServerRecord): SimServerSnapshot {
    return {
      id: s.id,
      name: s.name,
      projectId: s.projectId,
      status: statusFromState(s.vmState, s.taskState),
      vmState: s.vmState,
      taskState: s.taskState,
      powerState: s.powerState,
      host: s.host,
      availabilityZone: s.az,
      locked: s.locked,
      lockedReason: s.lockedReason,
      flavor: s.flavor.name,
      bootFromVolume: s.imageId === null,
      serverGroupIds: [...s.groupIds],
      fault: s.fault ? { code: s.fault.code, message: s.fault.message } : null,
      deleted: s.deletedMs !== null,
      updated: novaDbTime(s.updatedMs),
    };
  }

  state(): SimStateSnapshot {
    const usage = this.cloud.usageByHost();
    const actions: SimActionSnapshot[] = [];
    for (const [serverId, list] of this.cloud.actions) {
      for (const a of list) {
        actions.push({
          serverId,
          action: a.action,
          requestId: a.requestId,
          startTime: novaDbTime(a.startMs),
          message: a.message,
          events: a.events.map((e) => ({
            event: e.event,
            result: e.result,
            host: e.host,
            details: e.details,
            traceback: e.traceback,
          })),
        });
      }
    }
    for (const m of this.cloud.migrations) this.engine.refreshProgress(m);
    return {
      now: novaDbTime(this.cloud.now()),
      hosts: [...this.cloud.hosts.keys()].map((name) => this.hostSnapshot(name, usage)),
      servers: [...this.cloud.servers.values()].map((s) => this.serverSnapshot(s)),
      migrations: this.cloud.migrations.map((m) => ({
        id: m.id,
        uuid: m.uuid,
        serverId: m.instanceUuid,
        migrationType: m.migrationType,
        status: m.status,
        sourceCompute: m.sourceCompute,
        destCompute: m.destCompute,
        createdAt: novaDbTime(m.createdMs),
        updatedAt: m.updatedMs === null ? null : novaDbTime(m.updatedMs),
      })),
      instanceActions: actions,
      operations: this.engine.inFlight(),
    };
  }

  server(idOrName: string): SimServerSnapshot {
    const byId = this.cloud.servers.get(idOrName);
    if (byId) return this.serverSnapshot(byId);
    const byName = [...this.cloud.servers.values()].filter((s) => s.name === idOrName);
    if (byName.length === 1 && byName[0]) return this.serverSnapshot(byName[0]);
    if (byName.length > 1) throw new ControlError(409, `more than one server is named "${idOrName}"`);
    throw new ControlError(404, `unknown server "${idOrName}"`);
  }

  host(name: string): SimHostSnapshot {
    return this.hostSnapshot(name);
  }

  setHostAlive(host: string, alive: boolean): void {
    const record = this.hostRecord(host);
    if (record.alive === alive) return;
    this.cloud.setHostAlive(record, alive);
    this.engine.onHostAliveChanged(host, alive);
  }

  failNextLiveMigration(opts: LiveMigrationFailurePlan = {}): void {
    if (opts.host !== undefined) this.hostRecord(opts.host);
    if (opts.serverId !== undefined && !this.cloud.servers.has(opts.serverId)) {
      throw new ControlError(404, `unknown server "${opts.serverId}"`);
    }
    this.engine.addFailurePlan(opts);
  }

  setLiveMigrationFailureRate(rate: number, host?: string): void {
    if (!(rate >= 0 && rate <= 1))
      throw new ControlError(400, `failure rate must be within 0..1, got ${rate}`);
    if (host === undefined) this.cloud.settings.live_migration_failure_rate = rate;
    else this.hostRecord(host).liveMigrationFailureRate = rate;
  }

  setOperationDuration(kind: OperationDurationKind, seconds: number): void {
    if (!operationDurationKinds.includes(kind)) {
      throw new ControlError(
        400,
        `unknown operation kind "${String(kind)}" (one of ${operationDurationKinds.join(', ')})`,
      );
    }
    if (!(seconds >= 0)) throw new ControlError(400, `duration must be >= 0 seconds, got ${seconds}`);
    this.cloud.durations[kind] = seconds;
  }

  setMaxConcurrentLiveMigrations(value: number, host?: string): void {
    if (!Number.isInteger(value) || value < 1)
      throw new ControlError(400, `max concurrent live migrations must be an integer >= 1, got ${value}`);
    if (host === undefined) this.cloud.settings.max_concurrent_live_migrations = value;
    else this.hostRecord(host).maxConcurrentLiveMigrations = value;
  }

  fillHost(host: string): void {
    this.cloud.fillHost(this.hostRecord(host));
  }

  unfillHost(host: string): void {
    this.cloud.unfillHost(this.hostRecord(host));
  }

  addFault(rule: FaultRuleInput): FaultRule {
    const parsed = this.faultsParse(rule);
    return parsed;
  }

  private faultsParse(rule: FaultRuleInput): FaultRule {
    try {
      return this.faults.add(rule);
    } catch (err) {
      if (err instanceof z.ZodError) {
        throw new ControlError(
          400,
          `invalid fault rule: ${err.issues.map((i) => `${i.path.join('.') || '(rule)'}: ${i.message}`).join('; ')}`,
        );
      }
      throw err;
    }
  }

  removeFault(id: number): boolean {
    return this.faults.remove(id);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  listFaults(): FaultRule[] {
    return this.faults.list();
  }

  setTokenTtl(seconds: number): void {
    if (!(seconds > 0)) throw new ControlError(400, `token TTL must be > 0 seconds, got ${seconds}`);
    this.cloud.tokenTtlSeconds = seconds;
  }

  expireTokens(): void {
    const now = this.cloud.now();
    for (const token of this.cloud.tokens.values()) token.expiresMs = Math.min(token.expiresMs, now);
  }

  counters(): SimCounters {
    return { ...structuredClone(this.requestCounters), operations: this.engine.concurrencySnapshot() };
  }

  resetCounters(): void {
    this.requestCounters = emptyRequestCounters();
    this.engine.resetConcurrency();
  }
}

// ------------------------------------------------------------------ HTTP

const aliveBody = z.object({ alive: z.boolean() }).strict();
const failureBody = z
  .object({
    host: z.string().min(1).optional(),
    serverId: z.string().min(1).optional(),
    message: z.string().min(1).optional(),
    status: z.enum(['failed', 'error']).optional(),
    atFraction: z.number().min(0).max(1).optional(),
  })
  .strict();
const rateBody = z.object({ rate: z.number().min(0).max(1), host: z.string().min(1).optional() }).strict();
const durationBody = z
  .object({ kind: z.enum(operationDurationKinds), seconds: z.number().nonnegative() })
  .strict();
const maxConcurrentBody = z
  .object({ value: z.number().int().positive(), host: z.string().min(1).optional() })
  .strict();
const ttlBody = z.object({ seconds: z.number().positive() }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    throw new ControlError(
      400,
      result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
    );
  }
  return result.data;
}

const ok = (body: unknown = { ok: true }): SimResponse => ({ status: 200, body });

export function controlRouter(control: SimControl): Router<null> {
  const r = new Router<null>();
  r.add('GET', '/state', () => ok(control.state()));
  r.add('GET', '/servers/{id}', (_c, _r, p) => ok(control.server(p.id ?? '')));
  r.add('GET', '/hosts/{host}', (_c, _r, p) => ok(control.host(p.host ?? '')));
  r.add('POST', '/hosts/{host}/alive', (_c, req, p) => {
    control.setHostAlive(p.host ?? '', parse(aliveBody, req.body).alive);
    return ok(control.host(p.host ?? ''));
  });
  r.add('POST', '/hosts/{host}/fill', (_c, _r, p) => {
    control.fillHost(p.host ?? '');
    return ok(control.host(p.host ?? ''));
  });
  r.add('DELETE', '/hosts/{host}/fill', (_c, _r, p) => {
    control.unfillHost(p.host ?? '');
    return ok(control.host(p.host ?? ''));
  });
  r.add('POST', '/live-migration-failures', (_c, req) => {
    const body = parse(failureBody, req.body);
    control.failNextLiveMigration(
      Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)),
    );
    return ok();
  });
  r.add('POST', '/live-migration-failure-rate', (_c, req) => {
    const body = parse(rateBody, req.body);
    control.setLiveMigrationFailureRate(body.rate, body.host);
    return ok();
  });
  r.add('POST', '/durations', (_c, req) => {
    const body = parse(durationBody, req.body);
    control.setOperationDuration(body.kind, body.seconds);
    return ok();
  });
  r.add('POST', '/max-concurrent-live-migrations', (_c, req) => {
    const body = parse(maxConcurrentBody, req.body);
    control.setMaxConcurrentLiveMigrations(body.value, body.host);
    return ok();
  });
  r.add('GET', '/faults', () => ok({ faults: control.listFaults() }));
  r.add('POST', '/faults', (_c, req) => ({
    status: 201,
    body: { fault: control.addFault((req.body ?? {}) as FaultRuleInput) },
  }));
  r.add('DELETE', '/faults', () => {
    control.clearFaults();
    return ok();
  });
  r.add('DELETE', '/faults/{id}', (_c, _r, p) => {
    if (!control.removeFault(Number(p.id))) throw new ControlError(404, `unknown fault rule ${p.id ?? ''}`);
    return ok();
  });
  r.add('POST', '/tokens/ttl', (_c, req) => {
    control.setTokenTtl(parse(ttlBody, req.body).seconds);
    return ok();
  });
  r.add('POST', '/tokens/expire', () => {
    control.expireTokens();
    return ok();
  });
  r.add('GET', '/counters', () => ok(control.counters()));
  r.add('POST', '/counters/reset', () => {
    control.resetCounters();
    return ok();
  });
  return r;
}
