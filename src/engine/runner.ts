/**
 * One run in memory: its authoritative state, the per-server state machine, the moves it has in
 * flight and the host preparation (disable the service, force it down). Every change is a
 * committed store step before it is visible in memory or announced as an event, and every Nova
 * action is bracketed by an intent step and a result step.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { OpenStackError } from '../nova/errors.js';
import type { ActionReceipt, ComputeService, ServerInfo } from '../nova/types.js';
import type { AuditEntry } from './api.js';
import { EngineHaltedError, isRefusal, novaText, type EngineContext } from './context.js';
import { MoveTracker } from './move-tracker.js';
import { wasSent } from './reconcile.js';
import type {
  ControlRecord,
  JournalEntryInput,
  JournalOutcome,
  MoveContext,
  NovaAction,
  RunInternal,
  RunStoreWrite,
  StoredRun,
} from './store.js';
import {
  TERMINAL_SERVER_STATES,
  type EngineEvent,
  type EvacuationRun,
  type MoveKind,
  type ServerFailure,
  type ServerProgress,
  type ServerRun,
  type ServerRunState,
} from './types.js';
import { parseNovaTime } from './verify.js';

export interface ServerChange {
  serverId: string;
  set?: Partial<Omit<ServerRun, 'serverId'>>;
  move?: Partial<MoveContext>;
  /** Announce this intermediate state first (e.g. `moving` when a move is seen finished at once). */
  via?: ServerRunState;
}

export interface RunChange {
  run?: Partial<Omit<EvacuationRun, 'id' | 'servers' | 'plan'>>;
  internal?: Partial<RunInternal>;
  servers?: ServerChange[];
  journal?: Array<Omit<JournalEntryInput, 'runId' | 'at'> & { at?: string }>;
  audit?: Array<Omit<AuditEntry, 'runId' | 'at'> & { at?: string }>;
  claimControl?: ControlRecord;
  finishControl?: RunStoreWrite['finishControl'];
  /** Emitted after the write and before the per-server events. */
  runEvent?: (run: EvacuationRun) => EngineEvent;
}

export const ACTIVE_RUN_STATES: ReadonlySet<EvacuationRun['state']> = new Set([
  'confirmed',
  'running',
  'stopping',
]);

/** Moves Nova is working on (or may be: an open intent) for this server. */
export function isInFlight(server: ServerRun, move: MoveContext | undefined): boolean {
  return (
    server.state === 'requested' ||
    server.state === 'moving' ||
    server.state === 'confirming' ||
    (server.state === 'pending' && move?.openIntent != null)
  );
}

export class ActiveRun {
  private current: EvacuationRun;
  private currentInternal: RunInternal;
  private readonly moves = new Map<string, MoveContext>();
  private readonly positions = new Map<string, number>();
  private readonly trackers = new Map<string, MoveTracker>();
  private readonly limit: LimitFunction;
  private finishing = false;

  constructor(
    private readonly ctx: EngineContext,
    stored: StoredRun,
    private readonly onFinished: (run: ActiveRun) => void,
  ) {
    this.current = freezeRun(stored.run);
    this.currentInternal = { ...stored.internal };
    stored.run.servers.forEach((server, index) => {
      this.positions.set(server.serverId, index);
      const move = stored.moves[server.serverId];
      if (move) this.moves.set(server.serverId, move);
    });
    this.limit = pLimit(Math.max(1, stored.run.plan.concurrency));
  }

  get id(): string {
    return this.current.id;
  }

  get run(): EvacuationRun {
    return this.current;
  }

  get internal(): RunInternal {
    return this.currentInternal;
  }

  server(serverId: string): ServerRun {
    const index = this.positions.get(serverId);
    const server = index === undefined ? undefined : this.current.servers[index];
    if (!server) throw new Error(`Server ${serverId} is not part of run ${this.id}.`);
    return server;
  }

  hasServer(serverId: string): boolean {
    return this.positions.has(serverId);
  }

  move(serverId: string): MoveContext {
    const move = this.moves.get(serverId);
    if (!move) throw new Error(`Server ${serverId} of run ${this.id} has no move context.`);
    return move;
  }

  isTerminal(state: ServerRunState): boolean {
    return TERMINAL_SERVER_STATES.has(state);
  }

  inFlightServers(): ServerRun[] {
    return this.current.servers.filter((s) => isInFlight(s, this.moves.get(s.serverId)));
  }

  /** Writes a change as one step, then makes it visible and announces it. */
  apply(change: RunChange): void {
    const at = this.ctx.nowIso();
    const runFields = change.run ?? {};
    const servers = [...this.current.servers];
    const serverWrites: NonNullable<RunStoreWrite['servers']> = [];
    const events: Array<{ server: ServerRun; previous: ServerRunState; via?: ServerRunState }> = [];
    const newMoves = new Map<string, MoveContext>();
    for (const serverChange of change.servers ?? []) {
      const index = this.positions.get(serverChange.serverId);
      const before = index === undefined ? undefined : servers[index];
      if (index === undefined || !before)
        throw new Error(`Server ${serverChange.serverId} is not in run ${this.id}.`);
      const after: ServerRun = Object.freeze({ ...before, ...serverChange.set });
      const move: MoveContext = { ...this.move(serverChange.serverId), ...serverChange.move };
      servers[index] = after;
      newMoves.set(after.serverId, move);
      serverWrites.push({ runId: this.id, position: index, server: after, move });
      if (after.state !== before.state) {
        events.push({
          server: after,
          previous: before.state,
          ...(serverChange.via && serverChange.via !== before.state ? { via: serverChange.via } : {}),
        });
      }
    }
    const run: EvacuationRun = Object.freeze({ ...this.current, ...runFields, servers });
    const internal: RunInternal = { ...this.currentInternal, ...change.internal };
    const write: RunStoreWrite = {
      journal: (change.journal ?? []).map((entry) => ({ ...entry, runId: this.id, at: entry.at ?? at })),
      audit: (change.audit ?? []).map((entry) => ({ ...entry, runId: this.id, at: entry.at ?? at })),
    };
    if (change.run || change.internal) write.run = { run, internal };
    if (serverWrites.length > 0) write.servers = serverWrites;
    if (change.claimControl) write.claimControl = change.claimControl;
    if (change.finishControl) write.finishControl = change.finishControl;
    this.ctx.persist(write);

    this.current = run;
    this.currentInternal = internal;
    for (const [serverId, move] of newMoves) this.moves.set(serverId, move);
    if (change.runEvent) this.ctx.emit(change.runEvent(run));
    for (const event of events) {
      if (event.via) {
        this.ctx.emit({
          type: 'server.changed',
          run,
          server: Object.freeze({ ...event.server, state: event.via }),
          previous: event.previous,
        });
      }
      this.ctx.emit({
        type: 'server.changed',
        run,
        server: event.server,
        previous: event.via ?? event.previous,
      });
    }
  }

  /** In-memory only (not journaled): figures that are refreshed every few cycles anyway. */
  private touch(serverId: string, set: Partial<ServerRun>): ServerRun {
    const index = this.positions.get(serverId);
    const before = index === undefined ? undefined : this.current.servers[index];
    if (index === undefined || !before) throw new Error(`Server ${serverId} is not in run ${this.id}.`);
    const after = Object.freeze({ ...before, ...set });
    const servers = [...this.current.servers];
    servers[index] = after;
    this.current = Object.freeze({ ...this.current, servers });
    return after;
  }

  noteProgress(serverId: string, progress: ServerProgress, migrationId: number): void {
    const before = this.server(serverId);
    if (JSON.stringify(before.progress) === JSON.stringify(progress) && before.migrationId === migrationId)
      return;
    const server = this.touch(serverId, { progress, migrationId: before.migrationId ?? migrationId });
    this.ctx.emit({ type: 'server.progress', run: this.current, server });
  }

  noteSeen(serverId: string, lastSeen: string, migrationId: number | null): void {
    const move = this.move(serverId);
    if (move.lastSeen !== lastSeen) this.moves.set(serverId, { ...move, lastSeen });
    const server = this.server(serverId);
    if (migrationId !== null && server.migrationId === null) this.touch(serverId, { migrationId });
  }

  // ---- host preparation ---------------------------------------------------------------

  private serviceReason(): string {
    const run = this.current;
    const reason = run.plan.request.reason?.trim() || 'host evacuation';
    // Nova stores at most 255 characters.
    return `evacuation-bot run ${run.id} by ${run.confirmedBy ?? run.requestedBy}: ${reason}`.slice(0, 255);
  }

  /**
   * Disables the compute service (unless asked not to) and forces it down when the plan needs it
   * and the operator stated the host is fenced. Safe to repeat after a restart: what is already
   * done (recognised by our reason text, or an open intent) is not sent again.
   * Returns null when ready, or why not (Nova's words).
   */
  async prepareHost(actor: string): Promise<string | null> {
    const { compute } = this.ctx;
    const run = this.current;
    const request = run.plan.request;
    let found: ComputeService | null;
    try {
      found = await compute.findComputeService(run.host);
    } catch (err) {
      return `Could not read the compute service of ${run.host}: ${novaText(err)}`;
    }
    if (!found) return `The compute service of ${run.host} no longer exists.`;
    let service: ComputeService = found;

    if (run.plan.mode === 'evacuate' && service.state === 'up' && !service.forcedDown) {
      return (
        `The compute service of ${run.host} is up again, and Nova refuses to evacuate a host whose service is up. ` +
        `Preview again (live or cold migration may be possible now).`
      );
    }

    if (!request.keepServiceEnabled) {
      const reason = this.serviceReason();
      if (service.status === 'disabled') {
        const ours =
          service.disabledReason === reason || this.currentInternal.openServiceAction === 'disable-service';
        if (ours && !run.serviceDisabledByRun) {
          this.apply({
            run: { serviceDisabledByRun: true },
            internal: { openServiceAction: null },
            journal: [serviceJournal('result', 'disable-service', 'reconciled-sent', null, { reason })],
          });
        }
      } else {
        const result = await this.serviceAction(
          actor,
          'disable-service',
          () => compute.disableComputeService(found, reason),
          { onAccepted: { run: { serviceDisabledByRun: true } } },
        );
        if (typeof result === 'string') return result;
        service = result;
      }
    }

    if (run.plan.mode === 'evacuate' && request.hostFenced === true && !service.forcedDown) {
      const current = service;
      const result = await this.serviceAction(
        actor,
        'force-down',
        () => compute.setForcedDown(current, true),
        {
          onAccepted: { internal: { forcedDownByRun: true } },
        },
      );
      if (typeof result === 'string') return result;
    } else if (service.forcedDown && this.currentInternal.openServiceAction === 'force-down') {
      this.apply({
        internal: { forcedDownByRun: true, openServiceAction: null },
        journal: [serviceJournal('result', 'force-down', 'reconciled-sent', null, {})],
      });
    }
    return null;
  }

  /**
   * Sends one service action between an intent and a result step; `onAccepted` is written with
   * the result. Returns the service as Nova now shows it, or Nova's refusal text.
   */
  async serviceAction(
    actor: string,
    action: NovaAction,
    send: () => Promise<ComputeService>,
    steps: {
      intent?: Pick<RunChange, 'claimControl' | 'audit'>;
      onAccepted?: Pick<RunChange, 'run' | 'internal'>;
    } = {},
  ): Promise<ComputeService | string> {
    this.apply({
      ...steps.intent,
      internal: { openServiceAction: action },
      journal: [serviceJournal('intent', action, null, null, { by: actor })],
    });
    if (this.ctx.halted) throw new EngineHaltedError('engine halted');
    try {
      const service = await send();
      this.apply({
        ...steps.onAccepted,
        internal: { ...steps.onAccepted?.internal, openServiceAction: null },
        journal: [
          serviceJournal('result', action, 'accepted', null, {
            status: service.status,
            forcedDown: service.forcedDown,
          }),
        ],
        audit: [
          {
            actor,
            action: `service-${action}`,
            detail: { host: this.current.host, status: service.status, forcedDown: service.forcedDown },
          },
        ],
        runEvent: (run) => ({ type: 'service.changed', run, service, by: actor }),
      });
      return service;
    } catch (err) {
      if (err instanceof EngineHaltedError) throw err;
      const text = novaText(err);
      const requestId = err instanceof OpenStackError ? err.requestId : null;
      this.apply({
        internal: { openServiceAction: null },
        journal: [
          serviceJournal('result', action, isRefusal(err) ? 'refused' : 'unknown', requestId, {
            error: text,
          }),
        ],
        audit: [
          { actor, action: `service-${action}-failed`, detail: { host: this.current.host, error: text } },
        ],
      });
      return `Nova refused to ${describeServiceAction(action)} ${this.current.host}: ${text}`;
    }
  }

  /**
   * Re-reads the host's servers once before moving: servers that left the host since the preview
   * are skipped, and each move's "state before" is taken from now, not from the preview.
   */
  async refreshFromHost(): Promise<ServerChange[]> {
    let onHost: ServerInfo[];
    try {
      onHost = await this.ctx.compute.listServersOnHost(this.current.host);
    } catch (err) {
      this.ctx.logger.warn(
        { err, run: this.id },
        'could not re-read the servers on the host; using the preview',
      );
      return [];
    }
    const byId = new Map(onHost.map((s) => [s.id, s]));
    const changes: ServerChange[] = [];
    for (const server of this.current.servers) {
      if (server.state !== 'pending' || this.move(server.serverId).openIntent) continue;
      const now = byId.get(server.serverId);
      if (!now) {
        changes.push({
          serverId: server.serverId,
          set: { state: 'skipped', skipReason: `No longer on ${this.current.host} when the run started.` },
        });
      } else if (now.status !== this.move(server.serverId).statusBefore) {
        changes.push({ serverId: server.serverId, move: { statusBefore: now.status } });
      }
    }
    return changes;
  }

  // ---- moves ------------------------------------------------------------------------

  /** Queues every pending server (and holds slots for moves already in flight after a restart). */
  scheduleAll(): void {
    for (const tracker of this.trackers.values()) this.holdSlot(tracker);
    for (const server of this.current.servers) {
      if (server.state === 'pending' && !this.move(server.serverId).openIntent)
        this.schedule(server.serverId);
    }
  }

  schedule(serverId: string): void {
    void this.limit(() => this.ctx.globalLimit(() => this.executeMove(serverId))).catch((err: unknown) =>
      this.workerError(serverId, err),
    );
  }

  private holdSlot(tracker: MoveTracker): void {
    void this.limit(() => this.ctx.globalLimit(() => tracker.finished));
  }

  private workerError(serverId: string, err: unknown): void {
    if (this.ctx.halted) return;
    this.ctx.logger.error({ err, run: this.id, server: serverId }, 'move worker failed');
  }

  private async executeMove(serverId: string): Promise<void> {
    if (this.ctx.halted) return;
    const server = this.server(serverId);
    const before = this.move(serverId);
    if (server.state !== 'pending' || before.openIntent || server.action === 'skip') return;
    if (this.current.state !== 'running') {
      if (this.current.state === 'stopping') {
        this.apply({ servers: [{ serverId, set: { state: 'stopped', finishedAt: this.ctx.nowIso() } }] });
        this.checkFinished();
      }
      return;
    }
    const kind: MoveKind = server.action;
    const attempt = server.attempt + 1;
    const at = this.ctx.nowIso();
    const target = this.current.plan.request.targetHost;
    this.apply({
      servers: [
        {
          serverId,
          set: { attempt, startedAt: server.startedAt ?? at, failure: null, progress: null },
          move: {
            kind,
            intentAt: at,
            acceptedAt: null,
            openIntent: { action: kind, attempt, at },
            confirmSentAt: null,
            abortRequestedBy: null,
            lastSeen: null,
            unconfirmedRequest: null,
          },
        },
      ],
      journal: [
        {
          serverId,
          attempt,
          phase: 'intent',
          action: kind,
          at,
          detail: target ? { targetHost: target } : {},
        },
      ],
    });
    if (this.ctx.halted) return;
    let receipt: ActionReceipt;
    try {
      receipt = await this.sendMove(kind, serverId, target);
    } catch (err) {
      if (err instanceof EngineHaltedError) return;
      if (isRefusal(err)) {
        this.refused(serverId, kind, attempt, err);
        return;
      }
      await this.unknownOutcome(serverId, kind, attempt, err);
      return;
    }
    this.apply({
      servers: [
        {
          serverId,
          set: { state: 'requested', requestId: receipt.requestId },
          move: { acceptedAt: this.ctx.nowIso(), openIntent: null },
        },
      ],
      journal: [
        {
          serverId,
          attempt,
          phase: 'result',
          action: kind,
          outcome: 'accepted',
          requestId: receipt.requestId,
        },
      ],
    });
    await this.track(serverId).finished;
  }

  private sendMove(kind: MoveKind, serverId: string, target: string | undefined): Promise<ActionReceipt> {
    const { compute } = this.ctx;
    const options = target ? { host: target } : undefined;
    switch (kind) {
      case 'live-migrate':
        return compute.liveMigrate(serverId, options);
      case 'cold-migrate':
        return compute.coldMigrate(serverId, options);
      case 'evacuate':
        return compute.evacuate(serverId, options);
    }
  }

  private refused(
    serverId: string,
    kind: MoveKind,
    attempt: number,
    err: { requestId: string | null; status: number | null } & Error,
  ): void {
    const message = novaText(err);
    const move = this.move(serverId);
    this.apply({
      servers: [
        {
          serverId,
          set: {
            state: 'failed',
            finishedAt: this.ctx.nowIso(),
            requestId: err.requestId,
            failure: { message, source: 'api', requestId: err.requestId, httpStatus: err.status },
          },
          move: {
            openIntent: null,
            // A refused request can still leave an instance action behind: never take it for a later attempt's.
            earlierRequestIds: err.requestId
              ? [...move.earlierRequestIds, err.requestId]
              : move.earlierRequestIds,
          },
        },
      ],
      journal: [
        {
          serverId,
          attempt,
          phase: 'result',
          action: kind,
          outcome: 'refused',
          requestId: err.requestId,
          detail: { status: err.status, error: message },
        },
      ],
      audit: [
        {
          actor: 'engine',
          action: 'server-failed',
          detail: { serverId, kind, attempt, reason: message, source: 'api' },
        },
      ],
    });
    this.checkFinished();
  }

  /** No clear answer (timeout, connection lost, 5xx): Nova's records decide whether it arrived. */
  private async unknownOutcome(
    serverId: string,
    kind: MoveKind,
    attempt: number,
    err: unknown,
  ): Promise<void> {
    const text = novaText(err);
    this.apply({
      servers: [
        {
          serverId,
          set: { state: 'requested' },
          move: {
            acceptedAt: this.ctx.nowIso(),
            openIntent: null,
            unconfirmedRequest: `The ${kind} request got no clear answer (${text})`,
          },
        },
      ],
      journal: [
        { serverId, attempt, phase: 'result', action: kind, outcome: 'unknown', detail: { error: text } },
      ],
    });
    await this.track(serverId).finished;
  }

  track(serverId: string, rewindToMs?: number): MoveTracker {
    this.trackers.get(serverId)?.stop();
    const tracker = new MoveTracker(this.ctx, this, serverId, { observeFromMs: this.ctx.clock.now() });
    this.trackers.set(serverId, tracker);
    void tracker.finished.then(() => {
      if (this.trackers.get(serverId) === tracker) this.trackers.delete(serverId);
    });
    this.ctx.observer.watch(tracker, rewindToMs);
    return tracker;
  }

  markMoving(serverId: string, migrationId: number | null): void {
    const server = this.server(serverId);
    if (server.state !== 'requested') return;
    this.apply({
      servers: [{ serverId, set: { state: 'moving', migrationId: server.migrationId ?? migrationId } }],
    });
  }

  finishMove(
    serverId: string,
    result: {
      state: Extract<ServerRunState, 'done' | 'failed' | 'timed_out' | 'stopped'>;
      destinationHost: string | null;
      migrationId: number | null;
      failure?: ServerFailure;
    },
  ): void {
    const server = this.server(serverId);
    if (this.isTerminal(server.state)) return;
    const move = this.move(serverId);
    const acceptedMs = parseNovaTime(move.acceptedAt);
    if (result.state === 'done' && move.kind && acceptedMs !== null) {
      this.ctx.recordDuration(move.kind, this.ctx.clock.now() - acceptedMs);
    }
    this.apply({
      servers: [
        {
          serverId,
          set: {
            state: result.state,
            finishedAt: this.ctx.nowIso(),
            destinationHost: result.destinationHost,
            migrationId: result.migrationId ?? server.migrationId,
            failure: result.failure ?? null,
            ...(result.state === 'done' && server.progress
              ? { progress: { ...server.progress, percent: 100 } }
              : {}),
          },
          move: { openIntent: null, lastSeen: move.lastSeen },
          ...(server.state === 'requested' ? { via: 'moving' as const } : {}),
        },
      ],
      audit: [
        {
          actor: 'engine',
          action: `server-${result.state}`,
          detail: {
            serverId,
            name: server.name,
            kind: move.kind,
            attempt: server.attempt,
            destinationHost: result.destinationHost,
            ...(result.failure ? { reason: result.failure.message, source: result.failure.source } : {}),
          },
        },
      ],
    });
    this.checkFinished();
  }

  beginConfirm(serverId: string, destinationHost: string, migrationId: number | null): void {
    const server = this.server(serverId);
    this.apply({
      servers: [
        {
          serverId,
          set: { state: 'confirming', destinationHost, migrationId: server.migrationId ?? migrationId },
          move: { openIntent: { action: 'confirm-resize', attempt: server.attempt, at: this.ctx.nowIso() } },
          ...(server.state === 'requested' ? { via: 'moving' as const } : {}),
        },
      ],
      journal: [{ serverId, attempt: server.attempt, phase: 'intent', action: 'confirm-resize' }],
    });
  }

  confirmResult(
    serverId: string,
    attempt: number,
    result: { outcome: JournalOutcome; requestId: string | null; error?: unknown },
  ): void {
    const sent =
      result.outcome === 'accepted' || result.outcome === 'reconciled-sent' || result.outcome === 'unknown';
    this.apply({
      servers: [{ serverId, move: { openIntent: null, confirmSentAt: sent ? this.ctx.nowIso() : null } }],
      journal: [
        {
          serverId,
          attempt,
          phase: 'result',
          action: 'confirm-resize',
          outcome: result.outcome,
          requestId: result.requestId,
          detail: result.error ? { error: novaText(result.error) } : {},
        },
      ],
    });
  }

  // ---- resume -------------------------------------------------------------------------

  /**
   * After a restart: settles every open intent from Nova's records (sent → observe; not sent →
   * back to pending, to be sent once), then watches what is in flight, asking for the changes
   * since the oldest intent.
   */
  async reconcile(): Promise<void> {
    for (const server of this.current.servers) {
      const move = this.move(server.serverId);
      if (this.isTerminal(server.state)) continue;
      const open = move.openIntent;
      if (
        open &&
        (open.action === 'live-migrate' || open.action === 'cold-migrate' || open.action === 'evacuate')
      ) {
        await this.reconcileMove(server, move, open.action);
      } else if (open?.action === 'confirm-resize') {
        await this.reconcileConfirm(server, move);
      } else if (open) {
        // Abort / force-complete: Nova's state shows whether it happened; the move is observed either way.
        this.apply({
          servers: [{ serverId: server.serverId, move: { openIntent: null } }],
          journal: [
            {
              serverId: server.serverId,
              attempt: open.attempt,
              phase: 'result',
              action: open.action,
              outcome: 'unknown',
              detail: { reason: 'restarted before the answer was recorded' },
            },
          ],
        });
      }
      const after = this.server(server.serverId);
      if (after.state === 'requested' || after.state === 'moving' || after.state === 'confirming') {
        const intentMs = parseNovaTime(this.move(server.serverId).intentAt) ?? this.ctx.clock.now();
        this.track(server.serverId, intentMs);
      }
    }
  }

  private async reconcileMove(server: ServerRun, move: MoveContext, kind: MoveKind): Promise<void> {
    const open = move.openIntent;
    if (!open) return;
    const answer = await wasSent(this.ctx.compute, {
      serverId: server.serverId,
      action: kind,
      sourceHost: server.sourceHost,
      intentAtMs: parseNovaTime(open.at) ?? this.ctx.clock.now(),
      clockSkewMs: this.ctx.settings.clockSkewMs,
      earlierRequestIds: move.earlierRequestIds,
      earlierMigrationIds: move.earlierMigrationIds,
    });
    if (answer.sent) {
      this.apply({
        servers: [
          {
            serverId: server.serverId,
            set: {
              state: 'requested',
              requestId: answer.requestId ?? server.requestId,
              migrationId: answer.migration?.id ?? server.migrationId,
            },
            move: { openIntent: null, acceptedAt: open.at },
          },
        ],
        journal: [
          {
            serverId: server.serverId,
            attempt: open.attempt,
            phase: 'result',
            action: kind,
            outcome: 'reconciled-sent',
            requestId: answer.requestId,
            detail: { evidence: answer.evidence },
          },
        ],
      });
    } else {
      this.apply({
        servers: [
          {
            serverId: server.serverId,
            set: { attempt: open.attempt - 1 },
            move: { openIntent: null, intentAt: null },
          },
        ],
        journal: [
          {
            serverId: server.serverId,
            attempt: open.attempt,
            phase: 'result',
            action: kind,
            outcome: 'reconciled-not-sent',
            detail: { evidence: answer.evidence },
          },
        ],
      });
    }
  }

  private async reconcileConfirm(server: ServerRun, move: MoveContext): Promise<void> {
    const open = move.openIntent;
    if (!open) return;
    const answer = await wasSent(this.ctx.compute, {
      serverId: server.serverId,
      action: 'confirm-resize',
      sourceHost: server.sourceHost,
      intentAtMs: parseNovaTime(open.at) ?? this.ctx.clock.now(),
      clockSkewMs: this.ctx.settings.clockSkewMs,
      earlierRequestIds: move.earlierRequestIds,
      earlierMigrationIds: move.earlierMigrationIds,
    });
    this.confirmResult(server.serverId, open.attempt, {
      outcome: answer.sent ? 'reconciled-sent' : 'reconciled-not-sent',
      requestId: answer.sent ? answer.requestId : null,
    });
  }

  // ---- run lifecycle ----------------------------------------------------------------

  /** Finishes the run once every server is settled. */
  checkFinished(): void {
    const run = this.current;
    if (this.finishing || (run.state !== 'running' && run.state !== 'stopping')) return;
    const unsettled = run.servers.some(
      (s) => !this.isTerminal(s.state) || this.moves.get(s.serverId)?.openIntent,
    );
    if (unsettled) return;
    this.finishing = true;
    try {
      const byState = countStates(run.servers);
      this.apply({
        run: { state: 'finished', finishedAt: this.ctx.nowIso() },
        audit: [{ actor: 'engine', action: 'run-finished', detail: { byState } }],
        runEvent: (finished) => ({ type: 'run.finished', run: finished }),
      });
    } finally {
      this.finishing = false;
    }
    this.onFinished(this);
  }

  /** Stops every tracker (engine closing); Nova keeps doing what it was asked. */
  detach(): void {
    for (const tracker of this.trackers.values()) tracker.stop();
    this.trackers.clear();
  }
}

function serviceJournal(
  phase: 'intent' | 'result',
  action: NovaAction,
  outcome: JournalOutcome | null,
  requestId: string | null,
  detail: Record<string, unknown>,
): NonNullable<RunChange['journal']>[number] {
  return { serverId: null, attempt: 1, phase, action, outcome, requestId, detail };
}

function describeServiceAction(action: NovaAction): string {
  switch (action) {
    case 'disable-service':
      return 'disable the compute service of';
    case 'enable-service':
      return 'enable the compute service of';
    case 'force-down':
      return 'force down the compute service of';
    case 'unset-force-down':
      return 'unset forced_down on the compute service of';
    default:
      return `${action} on`;
  }
}

export function countStates(servers: readonly ServerRun[]): Record<ServerRunState, number> {
  const counts: Record<ServerRunState, number> = {
    pending: 0,
    requested: 0,
    moving: 0,
    confirming: 0,
    done: 0,
    failed: 0,
    timed_out: 0,
    skipped: 0,
    stopped: 0,
  };
  for (const server of servers) counts[server.state]++;
  return counts;
}

function freezeRun(run: EvacuationRun): EvacuationRun {
  return Object.freeze({ ...run, servers: run.servers.map((s) => Object.freeze({ ...s })) });
}
