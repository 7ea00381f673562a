/**
 * The moving parts: live migration, cold migration (+ confirm/revert), evacuation, stop and
 * start, each a timed sequence of state changes on the simulated clock, mirroring the order
 * in which Nova's API, conductor, scheduler and computes change task states, migration
 * records and instance action events.
 */
import type { SimTimerHandle } from './clock.js';
import {
  PowerState,
  VmState,
  badRequest,
  conflict,
  type ActionEventRecord,
  type InstanceActionRecord,
  type MigrationRecord,
  type RequestContext,
  type ServerRecord,
} from './model.js';
import type { SeededRandom } from './random.js';
import { NO_VALID_HOST_REASON, freeRamMb, selectDestination } from './scheduler.js';
import { hostIdFor, type CloudState } from './state.js';

export type OperationKind = 'live-migration' | 'migration' | 'evacuation';

export interface LiveMigrationFailurePlan {
  /** Only moves off this source host (default: any). */
  host?: string;
  /** Only this server (default: any). */
  serverId?: string;
  /** The libvirt error text that ends up in the event traceback. */
  message?: string;
  /** Migration record status after the failure: Zed's rollback writes `failed`; `error` is also seen. */
  status?: 'failed' | 'error';
  /** How far into the transfer it fails (0..1, default 0.5). */
  atFraction?: number;
}

interface ConcurrencyCell {
  current: number;
  max: number;
}

export interface ConcurrencySnapshot {
  total: ConcurrencyCell;
  byKind: Record<string, ConcurrencyCell>;
  bySourceHost: Record<string, ConcurrencyCell>;
  byKindAndSourceHost: Record<string, Record<string, ConcurrencyCell>>;
  /** Live migrations actually transferring (preparing/running) per source host: the queue's effect. */
  liveMigrationsRunningBySourceHost: Record<string, ConcurrencyCell>;
}

interface Operation {
  id: number;
  kind: OperationKind;
  server: ServerRecord;
  migration: MigrationRecord;
  action: InstanceActionRecord;
  sourceHost: string;
  timers: Set<SimTimerHandle>;
  finished: boolean;
  /** live migration */
  /** `frozen`: the source nova-compute died mid-move; nothing happens until it is back. */
  phase: 'scheduling' | 'queued' | 'preparing' | 'running' | 'frozen' | 'done';
  computeEvent?: ActionEventRecord;
  failure?: Required<Omit<LiveMigrationFailurePlan, 'host' | 'serverId'>>;
  runStartMs?: number;
  runMs?: number;
  completionTimer?: SimTimerHandle;
  /** cold migration / evacuation: what the server was before the move */
  oldVmState?: string;
  oldPowerState?: number;
}

const LIBVIRT_DEFAULT_FAILURE = 'operation failed: migration out job: unexpectedly failed';

function libvirtTraceback(message: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "/usr/lib/python3/dist-packages/nova/compute/manager.py", line 8795, in _do_live_migration',
    '    self.driver.live_migration(context, instance, dest,',
    '  File "/usr/lib/python3/dist-packages/nova/virt/libvirt/driver.py", line 10219, in live_migration',
    '    self._live_migration(context, instance, dest,',
    '  File "/usr/lib/python3/dist-packages/nova/virt/libvirt/driver.py", line 10734, in _live_migration_operation',
    '    guest.migrate(self._live_migration_uri(dest),',
    '  File "/usr/lib/python3/dist-packages/nova/virt/libvirt/guest.py", line 655, in migrate',
    '    self._domain.migrateToURI3(',
    '  File "/usr/lib/python3/dist-packages/libvirt.py", line 2119, in migrateToURI3',
    "    raise libvirtError('virDomainMigrateToURI3() failed')",
    `libvirt.libvirtError: ${message}`,
    '',
  ].join('\n');
}

function novaTraceback(exceptionClass: string, message: string, where: string): string {
  return [
    'Traceback (most recent call last):',
    `  File "/usr/lib/python3/dist-packages/nova/${where}", line 1, in execute`,
    '    return self._execute()',
    `nova.exception.${exceptionClass}: ${message}`,
    '',
  ].join('\n');
}

interface PrecheckFailure {
  exceptionClass: string;
  message: string;
  /** What an old (< 2.34) synchronous API call returns for it. */
  status: 400 | 409;
}

export class OperationEngine {
  private nextOperationId = 1;
  private readonly operations = new Map<number, Operation>();
  private readonly operationByMigration = new Map<number, Operation>();
  private readonly liveQueues = new Map<string, Operation[]>();
  private readonly failurePlans: LiveMigrationFailurePlan[] = [];
  private concurrency: ConcurrencySnapshot = emptyConcurrency();
  /** What a VERIFY_RESIZE server was before the move (Nova keeps it in system_metadata). */
  private readonly resizeMemory = new Map<string, { oldVmState: string; oldPowerState: number }>();
  /** Casts to a dead compute, delivered when it starts again. */
  private readonly waitingForHost = new Map<string, (() => void)[]>();

  constructor(
    private readonly state: CloudState,
    private readonly random: SeededRandom,
  ) {}

  // ---------------------------------------------------------------- shared helpers

  private schedule(op: Operation | null, seconds: number, fn: () => void): SimTimerHandle {
    const handle = this.state.clock.setTimeout(() => {
      op?.timers.delete(handle);
      fn();
    }, this.state.scaledMs(seconds));
    op?.timers.add(handle);
    return handle;
  }

  startAction(server: ServerRecord, action: string, ctx: RequestContext): InstanceActionRecord {
    const now = this.state.now();
    return this.state.addAction({
      action,
      requestId: ctx.requestId,
      instanceUuid: server.id,
      userId: ctx.userId,
      projectId: ctx.projectId,
      startMs: now,
      updatedMs: now,
      message: null,
      events: [],
    });
  }

  private startEvent(action: InstanceActionRecord, event: string, host: string | null): ActionEventRecord {
    const record: ActionEventRecord = {
      event,
      startMs: this.state.now(),
      finishMs: null,
      result: null,
      traceback: null,
      details: null,
      host,
    };
    action.events.push(record);
    action.updatedMs = this.state.now();
    return record;
  }

  private finishEvent(
    action: InstanceActionRecord,
    event: ActionEventRecord,
    result: 'Success' | 'Error',
    failure?: { traceback: string; details: string },
  ): void {
    event.finishMs = this.state.now();
    event.result = result;
    if (failure) {
      event.traceback = failure.traceback;
      event.details = failure.details;
      action.message = 'Error';
    }
    action.updatedMs = this.state.now();
  }

  private quickEvent(action: InstanceActionRecord, event: string, host: string | null): void {
    this.finishEvent(action, this.startEvent(action, event, host), 'Success');
  }

  /**
   * What nova-api does when it accepts a move: sets the task state, records the instance action
   * and a migration record with no destination yet (set once the conductor has one, so a pending
   * move never claims resources twice), and tracks the operation.
   */
  private acceptMove(
    ctx: RequestContext,
    server: ServerRecord,
    move: { taskState: string; action: string; kind: OperationKind; status: string },
  ) {
    const source = server.host ?? '';
    server.taskState = move.taskState;
    this.state.touch(server);
    const action = this.startAction(server, move.action, ctx);
    const migration = this.state.createMigration({
      instanceUuid: server.id,
      migrationType: move.kind,
      status: move.status,
      sourceCompute: source,
      destCompute: null,
      sourceNode: server.node,
      destNode: null,
      destHost: null,
      oldFlavorId: server.flavor.id,
      newFlavorId: server.flavor.id,
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    return { source, action, migration, op: this.register(move.kind, server, migration, action) };
  }

  private register(
    kind: OperationKind,
    server: ServerRecord,
    migration: MigrationRecord,
    action: InstanceActionRecord,
  ): Operation {
    const op: Operation = {
      id: this.nextOperationId++,
      kind,
      server,
      migration,
      action,
      sourceHost: migration.sourceCompute ?? '',
      timers: new Set(),
      finished: false,
      phase: 'scheduling',
    };
    this.operations.set(op.id, op);
    this.operationByMigration.set(migration.id, op);
    this.bump(kind, op.sourceHost, +1);
    return op;
  }

  private finish(op: Operation): void {
    if (op.finished) return;
    op.finished = true;
    op.phase = 'done';
    for (const timer of op.timers) this.state.clock.clearTimeout(timer);
    op.timers.clear();
    this.operations.delete(op.id);
    this.operationByMigration.delete(op.migration.id);
    this.bump(op.kind, op.sourceHost, -1);
  }

  private bump(kind: OperationKind, host: string, delta: number): void {
    const c = this.concurrency;
    const apply = (cell: ConcurrencyCell) => {
      cell.current += delta;
      cell.max = Math.max(cell.max, cell.current);
    };
    apply(c.total);
    apply((c.byKind[kind] ??= { current: 0, max: 0 }));
    apply((c.bySourceHost[host] ??= { current: 0, max: 0 }));
    const perKind = (c.byKindAndSourceHost[kind] ??= {});
    apply((perKind[host] ??= { current: 0, max: 0 }));
  }

  private bumpRunning(host: string, delta: number): void {
    const cell = (this.concurrency.liveMigrationsRunningBySourceHost[host] ??= { current: 0, max: 0 });
    cell.current += delta;
    cell.max = Math.max(cell.max, cell.current);
  }

  concurrencySnapshot(): ConcurrencySnapshot {
    return structuredClone(this.concurrency);
  }

  /** Forgets the maxima (current values stay: operations in flight are still in flight). */
  resetConcurrency(): void {
    const reset = (cell: ConcurrencyCell) => {
      cell.max = cell.current;
    };
    const c = this.concurrency;
    reset(c.total);
    Object.values(c.byKind).forEach(reset);
    Object.values(c.bySourceHost).forEach(reset);
    Object.values(c.byKindAndSourceHost).forEach((m) => Object.values(m).forEach(reset));
    Object.values(c.liveMigrationsRunningBySourceHost).forEach(reset);
  }

  /** Operations in flight (accepted and not finished). */
  inFlight(): {
    id: number;
    kind: OperationKind;
    serverId: string;
    sourceHost: string;
    phase: string;
    migrationId: number;
  }[] {
    return [...this.operations.values()].map((op) => ({
      id: op.id,
      kind: op.kind,
      serverId: op.server.id,
      sourceHost: op.sourceHost,
      phase: op.phase,
      migrationId: op.migration.id,
    }));
  }

  addFailurePlan(plan: LiveMigrationFailurePlan): void {
    this.failurePlans.push(plan);
  }

  clearFailurePlans(): void {
    this.failurePlans.length = 0;
  }

  pendingFailurePlans(): LiveMigrationFailurePlan[] {
    return this.failurePlans.map((p) => ({ ...p }));
  }

  /** Stops every timer (the simulator is shutting down). */
  shutdown(): void {
    for (const op of [...this.operations.values()]) {
      for (const timer of op.timers) this.state.clock.clearTimeout(timer);
      op.timers.clear();
    }
  }

  // ---------------------------------------------------------------- live migration

  /**
   * Accepts a live migration the API has validated. `synchronousPrechecks` is true below 2.34,
   * where the conductor's checks run inside the request and fail it with 400/409.
   */
  startLiveMigration(
    ctx: RequestContext,
    server: ServerRecord,
    options: { host: string | null; force: boolean | null; synchronousPrechecks: boolean },
  ): void {
    const { source, action, op } = this.acceptMove(ctx, server, {
      taskState: 'migrating',
      action: 'live-migration',
      kind: 'live-migration',
      status: 'accepted',
    });
    const conductorEvent = this.startEvent(action, 'conductor_live_migrate_instance', 'controller');

    const runChecks = (): boolean => {
      const result = this.liveMigrationPrecheck(server, source, options.host, options.force);
      if ('failure' in result) {
        this.failLiveMigrationPrecheck(op, conductorEvent, result.failure);
        return false;
      }
      // An armed failure is used up only by a move that reaches the compute host: a move the
      // scheduler refuses must not swallow the drill.
      op.failure = this.takeFailurePlan(server, source);
      this.enqueueLiveMigration(op, conductorEvent, result.dest);
      return true;
    };

    if (options.synchronousPrechecks) {
      const result = this.liveMigrationPrecheck(server, source, options.host, options.force);
      if ('failure' in result) {
        this.failLiveMigrationPrecheck(op, conductorEvent, result.failure);
        if (result.failure.status === 409) throw conflict(result.failure.message);
        throw badRequest(result.failure.message);
      }
      op.failure = this.takeFailurePlan(server, source);
      this.enqueueLiveMigration(op, conductorEvent, result.dest);
      return;
    }
    this.schedule(op, this.state.durations.scheduling, () => {
      runChecks();
    });
  }

  private takeFailurePlan(server: ServerRecord, source: string): Operation['failure'] {
    const index = this.failurePlans.findIndex(
      (plan) =>
        (plan.host === undefined || plan.host === source) &&
        (plan.serverId === undefined || plan.serverId === server.id),
    );
    let plan: LiveMigrationFailurePlan | undefined;
    if (index >= 0) {
      plan = this.failurePlans.splice(index, 1)[0];
    } else if (server.flavor.extraSpecs['resources:VGPU']) {
      // libvirt refuses to migrate a domain with a mediated device (Zed has no vGPU live migration).
      plan = { message: 'Requested operation is not valid: domain has assigned non-USB host devices' };
    } else {
      const host = this.state.hosts.get(source);
      const rate = host?.liveMigrationFailureRate ?? this.state.settings.live_migration_failure_rate;
      if (this.random.chance(rate)) plan = {};
    }
    if (!plan) return undefined;
    return {
      message: plan.message ?? LIBVIRT_DEFAULT_FAILURE,
      status: plan.status ?? 'failed',
      atFraction: Math.min(1, Math.max(0, plan.atFraction ?? 0.5)),
    };
  }

  /** The conductor's LiveMigrationTask checks; returns the destination or why not. */
  private liveMigrationPrecheck(
    server: ServerRecord,
    source: string,
    requestedHost: string | null,
    force: boolean | null,
  ): { dest: string } | { failure: PrecheckFailure } {
    const sourceHost = this.state.hosts.get(source);
    if (!sourceHost || !this.state.isServiceUp(sourceHost)) {
      return {
        failure: {
          exceptionClass: 'ComputeServiceUnavailable',
          message: `Compute service of ${source} is unavailable at this time.`,
          status: 400,
        },
      };
    }
    if (Object.keys(server.flavor.extraSpecs).includes('pci_passthrough:alias')) {
      return {
        failure: {
          exceptionClass: 'MigrationPreCheckError',
          message:
            'Migration pre-check error: non-VIF related PCI requests for instance are not allowed for live migration.',
          status: 400,
        },
      };
    }
    const noValidHost = (): { failure: PrecheckFailure } => ({
      failure: {
        exceptionClass: 'NoValidHost',
        message: `No valid host was found. ${NO_VALID_HOST_REASON}`,
        status: 400,
      },
    });
    if (requestedHost === null || force === false) {
      const result = selectDestination(this.state, {
        server,
        excludeHosts: [source],
        ...(requestedHost !== null ? { onlyHost: requestedHost } : {}),
      });
      return result.ok ? { dest: result.host.name } : noValidHost();
    }
    // A forced (or pre-2.30) destination skips the scheduler; only the conductor's own checks apply.
    if (requestedHost === source) {
      return {
        failure: {
          exceptionClass: 'UnableToMigrateToSelf',
          message: `Unable to migrate instance (${server.id}) to current host (${source}).`,
          status: 400,
        },
      };
    }
    const dest = this.state.hosts.get(requestedHost);
    if (!dest || !this.state.isServiceUp(dest)) {
      return {
        failure: {
          exceptionClass: 'ComputeServiceUnavailable',
          message: `Compute service of ${requestedHost} is unavailable at this time.`,
          status: 400,
        },
      };
    }
    const free = freeRamMb(this.state, dest);
    if (free <= server.flavor.ramMb) {
      return {
        failure: {
          exceptionClass: 'MigrationPreCheckError',
          message: `Migration pre-check error: Unable to migrate ${server.id} to ${requestedHost}: Lack of memory(host:${free} <= instance:${server.flavor.ramMb})`,
          status: 400,
        },
      };
    }
    return { dest: requestedHost };
  }

  private failLiveMigrationPrecheck(
    op: Operation,
    conductorEvent: ActionEventRecord,
    failure: PrecheckFailure,
  ): void {
    this.finishEvent(op.action, conductorEvent, 'Error', {
      traceback: novaTraceback(failure.exceptionClass, failure.message, 'conductor/tasks/live_migrate.py'),
      details: failure.message,
    });
    this.state.setMigrationStatus(op.migration, 'error');
    op.server.taskState = null;
    this.state.touch(op.server);
    this.finish(op);
  }

  private enqueueLiveMigration(op: Operation, conductorEvent: ActionEventRecord, dest: string): void {
    const { migration, action } = op;
    migration.destCompute = dest;
    migration.destNode = dest;
    migration.updatedMs = this.state.now();
    this.quickEvent(action, 'compute_check_can_live_migrate_destination', dest);
    this.quickEvent(action, 'compute_check_can_live_migrate_source', op.sourceHost);
    this.finishEvent(action, conductorEvent, 'Success');
    op.computeEvent = this.startEvent(action, 'compute_live_migration', op.sourceHost);
    op.phase = 'queued';
    this.state.setMigrationStatus(migration, 'queued');
    const queue = this.liveQueues.get(op.sourceHost) ?? [];
    queue.push(op);
    this.liveQueues.set(op.sourceHost, queue);
    this.pumpLiveQueue(op.sourceHost);
  }

  private liveSlots(host: string): number {
    return (
      this.state.hosts.get(host)?.maxConcurrentLiveMigrations ??
      this.state.settings.max_concurrent_live_migrations
    );
  }

  private runningLiveMigrations(host: string): number {
    let running = 0;
    for (const op of this.operations.values()) {
      if (
        op.kind === 'live-migration' &&
        op.sourceHost === host &&
        (op.phase === 'preparing' || op.phase === 'running')
      )
        running++;
    }
    return running;
  }

  private pumpLiveQueue(host: string): void {
    const queue = this.liveQueues.get(host);
    // A dead compute consumes nothing from its RPC queue; the casts wait for it to come back.
    if (!queue || !this.state.hosts.get(host)?.alive) return;
    while (queue.length > 0 && this.runningLiveMigrations(host) < this.liveSlots(host)) {
      const op = queue.shift();
      if (op && !op.finished) this.beginLiveMigration(op);
    }
  }

  private beginLiveMigration(op: Operation): void {
    const total = this.state.durations.live_migration;
    const dest = op.migration.destCompute;
    op.phase = 'preparing';
    this.bumpRunning(op.sourceHost, +1);
    this.state.setMigrationStatus(op.migration, 'preparing');
    const preEvent = this.startEvent(op.action, 'compute_pre_live_migration', dest);
    this.schedule(op, total * 0.2, () => {
      this.finishEvent(op.action, preEvent, 'Success');
      op.phase = 'running';
      op.runStartMs = this.state.now();
      op.runMs = this.state.scaledMs(total * 0.8);
      const memoryTotal = op.server.flavor.ramMb * 1024 * 1024;
      const diskTotal = op.server.imageId === null ? 0 : op.server.flavor.diskGb * 1024 * 1024 * 1024;
      Object.assign(op.migration, {
        memoryTotal,
        memoryProcessed: 0,
        memoryRemaining: memoryTotal,
        diskTotal,
        diskProcessed: 0,
        diskRemaining: diskTotal,
      });
      this.state.setMigrationStatus(op.migration, 'running');
      if (op.failure) {
        const failure = op.failure;
        this.schedule(op, total * 0.8 * failure.atFraction, () => this.failLiveMigrationSilently(op));
      } else {
        op.completionTimer = this.schedule(op, total * 0.8, () => this.completeLiveMigration(op));
      }
    });
  }

  /** Memory/disk progress of a running live migration, derived from elapsed time. */
  refreshProgress(migration: MigrationRecord): void {
    const op = this.operationByMigration.get(migration.id);
    if (!op || op.phase !== 'running' || op.runStartMs === undefined || !op.runMs) return;
    const fraction = Math.min(1, (this.state.now() - op.runStartMs) / op.runMs);
    const memoryTotal = migration.memoryTotal ?? 0;
    const diskTotal = migration.diskTotal ?? 0;
    migration.memoryProcessed = Math.floor(memoryTotal * fraction);
    migration.memoryRemaining = memoryTotal - migration.memoryProcessed;
    migration.diskProcessed = Math.floor(diskTotal * fraction);
    migration.diskRemaining = diskTotal - migration.diskProcessed;
  }

  private endLiveTransfer(op: Operation): void {
    if (op.phase === 'preparing' || op.phase === 'running') this.bumpRunning(op.sourceHost, -1);
  }

  private completeLiveMigration(op: Operation): void {
    const { server, migration } = op;
    const dest = migration.destCompute ?? op.sourceHost;
    const destHost = this.state.hosts.get(dest);
    this.endLiveTransfer(op);
    this.refreshProgress(migration);
    migration.memoryProcessed = migration.memoryTotal;
    migration.memoryRemaining = 0;
    migration.diskProcessed = migration.diskTotal;
    migration.diskRemaining = 0;
    this.quickEvent(op.action, 'compute_post_live_migration_at_destination', dest);
    if (op.computeEvent) this.finishEvent(op.action, op.computeEvent, 'Success');
    server.host = dest;
    server.node = dest;
    server.az = destHost?.az ?? server.az;
    server.hostId = hostIdFor(server.projectId, dest);
    server.taskState = null;
    this.state.touch(server);
    this.state.setMigrationStatus(migration, 'completed');
    this.finish(op);
    this.pumpLiveQueue(op.sourceHost);
  }

  /** The 202 was long ago; now the server is quietly back on the source, task cleared. */
  private failLiveMigrationSilently(op: Operation): void {
    const failure = op.failure ?? {
      message: LIBVIRT_DEFAULT_FAILURE,
      status: 'failed' as const,
      atFraction: 0.5,
    };
    this.endLiveTransfer(op);
    this.refreshProgress(op.migration);
    if (op.computeEvent) {
      this.finishEvent(op.action, op.computeEvent, 'Error', {
        traceback: libvirtTraceback(failure.message),
        details: 'libvirtError',
      });
    }
    this.quickEvent(op.action, 'compute_rollback_live_migration_at_destination', op.migration.destCompute);
    op.server.taskState = null;
    this.state.touch(op.server);
    this.state.setMigrationStatus(op.migration, failure.status);
    this.finish(op);
    this.pumpLiveQueue(op.sourceHost);
  }

  findLiveOperation(serverId: string, migrationId: number): Operation | undefined {
    const op = this.operationByMigration.get(migrationId);
    return op && op.kind === 'live-migration' && op.server.id === serverId ? op : undefined;
  }

  /** DELETE /servers/{id}/migrations/{mid}: the API has checked state; roll the move back. */
  abortLiveMigration(ctx: RequestContext, server: ServerRecord, migration: MigrationRecord): void {
    const action = this.startAction(server, 'live_migration_cancel', ctx);
    const abortEvent = this.startEvent(action, 'compute_live_migration_abort', migration.sourceCompute);
    const op = this.findLiveOperation(server.id, migration.id);
    this.schedule(null, this.state.durations.scheduling, () => {
      this.finishEvent(action, abortEvent, 'Success');
      if (!op || op.finished) return;
      this.endLiveTransfer(op);
      const queue = this.liveQueues.get(op.sourceHost);
      if (queue)
        this.liveQueues.set(
          op.sourceHost,
          queue.filter((q) => q !== op),
        );
      if (op.computeEvent) {
        this.finishEvent(op.action, op.computeEvent, 'Error', {
          traceback: libvirtTraceback('operation aborted: migration out job: canceled by client'),
          details: 'libvirtError',
        });
      }
      op.server.taskState = null;
      this.state.touch(op.server);
      this.state.setMigrationStatus(op.migration, 'cancelled');
      this.finish(op);
      this.pumpLiveQueue(op.sourceHost);
    });
  }

  /** POST .../migrations/{mid}/action force_complete: switch to post-copy, finish quickly. */
  forceCompleteLiveMigration(ctx: RequestContext, server: ServerRecord, migration: MigrationRecord): void {
    const action = this.startAction(server, 'live_migration_force_complete', ctx);
    this.quickEvent(action, 'compute_live_migration_force_complete', migration.sourceCompute);
    const op = this.findLiveOperation(server.id, migration.id);
    if (!op || op.failure || !op.completionTimer) return;
    this.state.clock.clearTimeout(op.completionTimer);
    op.timers.delete(op.completionTimer);
    op.completionTimer = this.schedule(op, this.state.durations.scheduling, () =>
      this.completeLiveMigration(op),
    );
  }

  /**
   * nova-compute on `host` stopped or started. Live migrations it was driving freeze; when it
   * starts again it resets them the way `_init_instance` does (task cleared, migration `error`).
   */
  onHostAliveChanged(host: string, alive: boolean): void {
    const moving = [...this.operations.values()].filter(
      (op) => op.kind === 'live-migration' && op.sourceHost === host,
    );
    if (!alive) {
      for (const op of moving) {
        if (op.phase !== 'preparing' && op.phase !== 'running') continue;
        this.refreshProgress(op.migration);
        this.endLiveTransfer(op);
        for (const timer of op.timers) this.state.clock.clearTimeout(timer);
        op.timers.clear();
        op.phase = 'frozen';
      }
      return;
    }
    for (const op of moving) {
      if (op.phase !== 'frozen') continue;
      if (op.computeEvent) {
        this.finishEvent(op.action, op.computeEvent, 'Error', {
          traceback: libvirtTraceback('Unable to read from monitor: Connection reset by peer'),
          details: 'libvirtError',
        });
      }
      op.server.taskState = null;
      this.state.touch(op.server);
      this.state.setMigrationStatus(op.migration, 'error');
      this.finish(op);
    }
    const waiting = this.waitingForHost.get(host) ?? [];
    this.waitingForHost.delete(host);
    for (const deliver of waiting) deliver();
    this.pumpLiveQueue(host);
  }

  // ---------------------------------------------------------------- cold migration

  startColdMigration(ctx: RequestContext, server: ServerRecord, requestedHost: string | null): void {
    const { source, action, migration, op } = this.acceptMove(ctx, server, {
      taskState: 'resize_prep',
      action: 'migrate',
      kind: 'migration',
      status: 'pre-migrating',
    });
    op.oldVmState = server.vmState;
    op.oldPowerState = server.powerState;
    const conductorEvent = this.startEvent(action, 'conductor_migrate_server', 'controller');
    const total = this.state.durations.cold_migration;
    this.schedule(op, this.state.durations.scheduling, () => {
      const result = selectDestination(this.state, {
        server,
        excludeHosts: [source],
        ...(requestedHost !== null ? { onlyHost: requestedHost } : {}),
      });
      if (!result.ok) {
        const message = 'No valid host was found. No valid host found for cold migrate';
        this.finishEvent(action, conductorEvent, 'Error', {
          traceback: novaTraceback('NoValidHost', message, 'conductor/manager.py'),
          details: message,
        });
        server.taskState = null;
        this.recordFault(server, 500, message);
        this.state.touch(server);
        this.state.setMigrationStatus(migration, 'error');
        this.finish(op);
        return;
      }
      const dest = result.host;
      migration.destCompute = dest.name;
      migration.destNode = dest.name;
      migration.destHost = '127.0.0.1';
      migration.updatedMs = this.state.now();
      this.finishEvent(action, conductorEvent, 'Success');
      this.quickEvent(action, 'compute_prep_resize', dest.name);
      const resizeEvent = this.startEvent(action, 'compute_resize_instance', source);
      server.taskState = 'resize_migrating';
      this.state.touch(server);
      this.state.setMigrationStatus(migration, 'migrating');
      this.schedule(op, total * 0.6, () => {
        server.taskState = 'resize_migrated';
        this.state.touch(server);
        this.state.setMigrationStatus(migration, 'post-migrating');
        this.finishEvent(action, resizeEvent, 'Success');
        const finishEvent = this.startEvent(action, 'compute_finish_resize', dest.name);
        this.schedule(op, total * 0.1, () => {
          server.taskState = 'resize_finish';
          server.host = dest.name;
          server.node = dest.name;
          server.az = dest.az;
          server.hostId = hostIdFor(server.projectId, dest.name);
          this.state.touch(server);
          this.schedule(op, total * 0.3, () => {
            server.taskState = null;
            server.vmState = VmState.resized;
            this.state.touch(server);
            this.state.setMigrationStatus(migration, 'finished');
            this.finishEvent(action, finishEvent, 'Success');
            this.finish(op);
            this.resizeMemory.set(server.id, {
              oldVmState: op.oldVmState ?? VmState.active,
              oldPowerState: op.oldPowerState ?? PowerState.running,
            });
            const window = this.state.settings.resize_confirm_window;
            if (window > 0) {
              this.schedule(null, window, () => {
                if (server.vmState === VmState.resized && server.taskState === null) {
                  this.confirmResize({ ...ctx, requestId: `req-${this.random.uuid()}` }, server, migration);
                }
              });
            }
          });
        });
      });
    });
  }

  /** The migration a VERIFY_RESIZE server is waiting on (status `finished`). */
  finishedResizeMigration(server: ServerRecord): MigrationRecord | undefined {
    for (let i = this.state.migrations.length - 1; i >= 0; i--) {
      const m = this.state.migrations[i];
      if (
        m &&
        m.instanceUuid === server.id &&
        m.status === 'finished' &&
        (m.migrationType === 'migration' || m.migrationType === 'resize')
      ) {
        return m;
      }
    }
    return undefined;
  }

  confirmResize(ctx: RequestContext, server: ServerRecord, migration: MigrationRecord): void {
    const action = this.startAction(server, 'confirmResize', ctx);
    this.state.setMigrationStatus(migration, 'confirming');
    const event = this.startEvent(action, 'compute_confirm_resize', migration.sourceCompute);
    this.schedule(null, this.state.durations.confirm_resize, () => {
      const memory = this.resizeMemory.get(server.id);
      this.resizeMemory.delete(server.id);
      server.vmState = memory?.oldVmState === VmState.stopped ? VmState.stopped : VmState.active;
      server.powerState = memory?.oldVmState === VmState.stopped ? PowerState.shutdown : PowerState.running;
      this.state.touch(server);
      this.state.setMigrationStatus(migration, 'confirmed');
      this.finishEvent(action, event, 'Success');
    });
  }

  revertResize(ctx: RequestContext, server: ServerRecord, migration: MigrationRecord): void {
    const action = this.startAction(server, 'revertResize', ctx);
    server.taskState = 'resize_reverting';
    this.state.touch(server);
    this.state.setMigrationStatus(migration, 'reverting');
    const revertEvent = this.startEvent(action, 'compute_revert_resize', migration.destCompute);
    const total = this.state.durations.revert_resize;
    this.schedule(null, total * 0.5, () => {
      this.finishEvent(action, revertEvent, 'Success');
      const finishEvent = this.startEvent(action, 'compute_finish_revert_resize', migration.sourceCompute);
      this.schedule(null, total * 0.5, () => {
        const memory = this.resizeMemory.get(server.id);
        this.resizeMemory.delete(server.id);
        const source = migration.sourceCompute ?? server.host;
        const sourceHost = source ? this.state.hosts.get(source) : undefined;
        server.host = source;
        server.node = source;
        server.az = sourceHost?.az ?? server.az;
        server.hostId = hostIdFor(server.projectId, source);
        server.vmState = memory?.oldVmState === VmState.stopped ? VmState.stopped : VmState.active;
        server.powerState = memory?.oldVmState === VmState.stopped ? PowerState.shutdown : PowerState.running;
        server.taskState = null;
        this.state.touch(server);
        this.state.setMigrationStatus(migration, 'reverted');
        this.finishEvent(action, finishEvent, 'Success');
      });
    });
  }

  // ---------------------------------------------------------------- evacuation

  startEvacuation(
    ctx: RequestContext,
    server: ServerRecord,
    options: { host: string | null; force: boolean | null },
  ): void {
    const oldVmState = server.vmState;
    const { source, action, migration, op } = this.acceptMove(ctx, server, {
      taskState: 'rebuilding',
      action: 'evacuate',
      kind: 'evacuation',
      status: 'accepted',
    });
    op.oldVmState = oldVmState;
    // Nova's rebuild powers a stopped server off again at every microversion (seen on real Zed);
    // from 2.95 every evacuated server lands stopped, except an ERROR one, which comes back ACTIVE.
    const landStopped =
      oldVmState === VmState.stopped || (ctx.microversion >= 95 && oldVmState !== VmState.error);
    const total = this.state.durations.evacuation;
    this.schedule(op, this.state.durations.scheduling, () => {
      let destName: string;
      if (options.host !== null && options.force !== false) {
        // Forced or pre-2.29 destination: no scheduler, the destination compute claims (and may refuse).
        destName = options.host;
      } else {
        const result = selectDestination(this.state, {
          server,
          excludeHosts: [source],
          ...(options.host !== null ? { onlyHost: options.host } : {}),
        });
        if (!result.ok) {
          const message = `No valid host was found. ${NO_VALID_HOST_REASON}`;
          server.vmState = VmState.error;
          server.taskState = null;
          this.recordFault(
            server,
            500,
            message,
            novaTraceback('NoValidHost', message, 'conductor/manager.py'),
          );
          this.state.touch(server);
          this.state.setMigrationStatus(migration, 'error');
          action.message = 'Error';
          this.finish(op);
          return;
        }
        destName = result.host.name;
      }
      const dest = this.state.hosts.get(destName);
      migration.destCompute = destName;
      migration.destNode = destName;
      migration.destHost = '127.0.0.1';
      this.state.setMigrationStatus(migration, 'pre-migrating');
      const rebuildEvent = this.startEvent(action, 'compute_rebuild_instance', destName);
      if (!dest || !this.state.isServiceUp(dest) || freeRamMb(this.state, dest) < 0) {
        const message = `Insufficient compute resources: host ${destName} cannot take the instance.`;
        this.finishEvent(action, rebuildEvent, 'Error', {
          traceback: novaTraceback('ComputeResourcesUnavailable', message, 'compute/manager.py'),
          details: message,
        });
        server.taskState = null;
        this.recordFault(server, 500, message);
        this.state.touch(server);
        this.state.setMigrationStatus(migration, 'failed');
        this.finish(op);
        return;
      }
      this.schedule(op, total * 0.5, () => {
        server.taskState = 'rebuild_spawning';
        server.host = destName;
        server.node = destName;
        server.az = dest.az;
        server.hostId = hostIdFor(server.projectId, destName);
        this.state.touch(server);
        this.schedule(op, total * 0.5, () => {
          server.taskState = null;
          server.vmState = landStopped ? VmState.stopped : VmState.active;
          server.powerState = landStopped ? PowerState.shutdown : PowerState.running;
          server.fault = null;
          this.state.touch(server);
          this.state.setMigrationStatus(migration, 'done');
          this.finishEvent(action, rebuildEvent, 'Success');
          this.finish(op);
        });
      });
    });
  }

  // ---------------------------------------------------------------- power

  powerAction(ctx: RequestContext, server: ServerRecord, kind: 'stop' | 'start'): void {
    const action = this.startAction(server, kind, ctx);
    server.taskState = kind === 'stop' ? 'powering-off' : 'powering-on';
    this.state.touch(server);
    const host = server.host ?? '';
    const event = this.startEvent(
      action,
      kind === 'stop' ? 'compute_stop_instance' : 'compute_start_instance',
      host,
    );
    const complete = () => {
      server.taskState = null;
      server.vmState = kind === 'stop' ? VmState.stopped : VmState.active;
      server.powerState = kind === 'stop' ? PowerState.shutdown : PowerState.running;
      this.state.touch(server);
      this.finishEvent(action, event, 'Success');
    };
    this.schedule(null, this.state.durations[kind], () => {
      // A dead compute never answers the cast: the server keeps its task state until it is back.
      if (this.state.hosts.get(host)?.alive) complete();
      else this.waitingForHost.set(host, [...(this.waitingForHost.get(host) ?? []), complete]);
    });
  }

  recordFault(server: ServerRecord, code: number, message: string, details = ''): void {
    server.fault = { code, message, details, createdMs: this.state.now() };
  }
}

function emptyConcurrency(): ConcurrencySnapshot {
  return {
    total: { current: 0, max: 0 },
    byKind: {},
    bySourceHost: {},
    byKindAndSourceHost: {},
    liveMigrationsRunningBySourceHost: {},
  };
}
