/**
 * The evacuation engine: the one place Slack, the local console and the tests drive. It plans
 * (preview), runs confirmed plans with bounded concurrency, observes every move through one
 * batched observer, verifies each result, journals every Nova action before and after sending
 * it, answers controls idempotently, and resumes unfinished runs after a restart.
 */
import { randomBytes } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';
import { logger as rootLogger, type Logger } from '../log.js';
import { OpenStackError } from '../nova/errors.js';
import type { ComputeApi, ComputeService } from '../nova/types.js';
import {
  ActiveRunError,
  UnknownHostError,
  type AuditEntry,
  type ControlContext,
  type ControlOutcome,
  type ControlResult,
  type EvacuationEngineApi,
  type ListRunsQuery,
  type PlanChanges,
} from './api.js';
import { systemClock, type Clock } from './clock.js';
import { EngineHaltedError, novaText, type EngineContext, type EngineSettings } from './context.js';
import { closedRunMessage, clockTime, plural, serverLabel } from './messages.js';
import { ChangeObserver, type ObserverStats } from './observer.js';
import {
  DEFAULT_PLANNING_OPTIONS,
  planEvacuation,
  PlanValidationError,
  replanServer,
  type PlanningOptions,
} from './plan.js';
import { ACTIVE_RUN_STATES, ActiveRun, type RunChange } from './runner.js';
import { SqliteRunStore } from './store-sqlite.js';
import {
  DuplicateControlError,
  newMoveContext,
  newRunInternal,
  type ControlRecord,
  type JournalEntry,
  type RunStore,
  type RunStoreWrite,
  type StoredRun,
} from './store.js';
import type {
  EngineEvent,
  EvacuationPlan,
  EvacuationRequest,
  EvacuationRun,
  MoveKind,
  ServerRun,
} from './types.js';

const MINUTE = 60_000;

export const DEFAULT_TIMEOUTS_MS: Record<MoveKind, number> = {
  'live-migrate': 30 * MINUTE,
  'cold-migrate': 30 * MINUTE,
  evacuate: 20 * MINUTE,
};

export const ENGINE_DEFAULTS = {
  pollIntervalMs: 2000,
  fastPollIntervalMs: 250,
  globalConcurrency: DEFAULT_PLANNING_OPTIONS.maxConcurrency,
  previewTtlMs: 15 * MINUTE,
  clockSkewMs: 2 * MINUTE,
  verificationGraceMs: MINUTE,
  progressPerCycle: 4,
  directLooksPerCycle: 4,
  progressAfterCycles: 2,
  cyclesBeforeLook: 3,
  cyclesBetweenLooks: 3,
  sinceMarginMs: MINUTE,
} as const;

export interface EngineOptions {
  compute: ComputeApi;
  /** A store, or where to open the SQLite one. */
  store: RunStore | { path: string };
  clock?: Clock;
  logger?: Logger;
  /** Time between two polls of Nova for changes (default 2000). */
  pollIntervalMs?: number;
  /**
   * Time between polls while a move is expected to finish (from how long moves of its kind have
   * taken so far), so a finished move frees its slot sooner (default 250; capped by pollIntervalMs).
   */
  fastPollIntervalMs?: number;
  /** Per kind of move, how long before a move counts as timed out (defaults: live 30 min, cold 30 min, evacuate 20 min). */
  timeoutsMs?: Partial<Record<MoveKind, number>>;
  planning?: Partial<PlanningOptions>;
  /** Moves in flight across all runs (default: the planning cap, 20). */
  globalConcurrency?: number;
  /** How long a preview blocks its host and can be confirmed (default 15 min). */
  previewTtlMs?: number;
  /** Allowed clock difference with Nova when matching records to intents (default 2 min). */
  clockSkewMs?: number;
  /** How long a moved server may wait for its migration record to agree (default 60 s). */
  verificationGraceMs?: number;
  /** Live-migration progress requests per poll cycle, shared by all moves (default 4). */
  progressPerCycle?: number;
  /** Direct looks (server GET + its migrations) per poll cycle, shared by all moves (default 4). */
  directLooksPerCycle?: number;
}

const positiveInt = z.number().int().positive();
const optionsSchema = z.object({
  pollIntervalMs: positiveInt.optional(),
  fastPollIntervalMs: positiveInt.optional(),
  timeoutsMs: z
    .object({
      'live-migrate': positiveInt.optional(),
      'cold-migrate': positiveInt.optional(),
      evacuate: positiveInt.optional(),
    })
    .strict()
    .optional(),
  globalConcurrency: positiveInt.optional(),
  previewTtlMs: positiveInt.optional(),
  clockSkewMs: z.number().int().nonnegative().optional(),
  verificationGraceMs: z.number().int().nonnegative().optional(),
  progressPerCycle: z.number().int().nonnegative().optional(),
  directLooksPerCycle: positiveInt.optional(),
});

/** Options that cannot work (e.g. a poll interval of 0). */
export class EngineOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineOptionsError';
  }
}

/** A control or query named a run the engine has never seen. */
export class UnknownRunError extends Error {
  constructor(readonly runId: string) {
    super(`No evacuation run with id "${runId}".`);
    this.name = 'UnknownRunError';
  }
}

/** A control without an actor or idempotency key, or with arguments of the wrong kind. */
export class ControlInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlInputError';
  }
}

const MOVE_KINDS: readonly MoveKind[] = ['live-migrate', 'cold-migrate', 'evacuate'];

const planChangesSchema = z
  .object({
    mode: z.enum(['auto', 'live', 'cold', 'evacuate']).optional(),
    targetHost: z.string().trim().min(1).nullable().optional(),
    concurrency: z.number().optional(),
    hostFenced: z.boolean().optional(),
    keepServiceEnabled: z.boolean().optional(),
  })
  .strict();

/** What one control does once its checks pass. */
interface ControlSession {
  readonly actor: string;
  readonly key: string;
  /** Adds the idempotency claim to the first write of the control (no-op afterwards). */
  claim(change: RunChange): RunChange;
}

interface ControlAnswer {
  outcome: Exclude<ControlOutcome, 'duplicate'>;
  message: string;
  detail?: Record<string, unknown>;
}

export class EvacuationEngine implements EvacuationEngineApi {
  private readonly compute: ComputeApi;
  private readonly store: RunStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly settings: EngineSettings;
  private readonly planning: Partial<PlanningOptions>;
  private readonly observer: ChangeObserver;
  private readonly globalLimit: LimitFunction;
  private readonly runs = new Map<string, ActiveRun>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly controlsInProgress = new Set<string>();
  private readonly ctx: EngineContext;
  private chosenMicroversion: string | null = null;
  private readonly moveDurations = new Map<MoveKind, number>();
  private haltedBy: unknown = null;
  private closed = false;

  constructor(options: EngineOptions) {
    const parsed = optionsSchema.safeParse({
      pollIntervalMs: options.pollIntervalMs,
      fastPollIntervalMs: options.fastPollIntervalMs,
      timeoutsMs: options.timeoutsMs,
      globalConcurrency: options.globalConcurrency,
      previewTtlMs: options.previewTtlMs,
      clockSkewMs: options.clockSkewMs,
      verificationGraceMs: options.verificationGraceMs,
      progressPerCycle: options.progressPerCycle,
      directLooksPerCycle: options.directLooksPerCycle,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new EngineOptionsError(
        `Invalid engine option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid value'}.`,
      );
    }
    const o = parsed.data;
    this.compute = options.compute;
    this.store = 'path' in options.store ? new SqliteRunStore({ path: options.store.path }) : options.store;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? rootLogger).child({ module: 'engine' });
    this.planning = {
      ...options.planning,
      ...(options.planning?.now ? {} : { now: () => new Date(this.clock.now()) }),
    };
    this.settings = {
      timeoutsMs: { ...DEFAULT_TIMEOUTS_MS, ...o.timeoutsMs },
      clockSkewMs: o.clockSkewMs ?? ENGINE_DEFAULTS.clockSkewMs,
      verificationGraceMs: o.verificationGraceMs ?? ENGINE_DEFAULTS.verificationGraceMs,
      progressAfterCycles: ENGINE_DEFAULTS.progressAfterCycles,
      cyclesBeforeLook: ENGINE_DEFAULTS.cyclesBeforeLook,
      cyclesBetweenLooks: ENGINE_DEFAULTS.cyclesBetweenLooks,
      previewTtlMs: o.previewTtlMs ?? ENGINE_DEFAULTS.previewTtlMs,
    };
    const pollIntervalMs = o.pollIntervalMs ?? ENGINE_DEFAULTS.pollIntervalMs;
    this.observer = new ChangeObserver({
      compute: this.compute,
      clock: this.clock,
      logger: this.log,
      pollIntervalMs,
      fastPollIntervalMs: Math.min(
        pollIntervalMs,
        o.fastPollIntervalMs ?? ENGINE_DEFAULTS.fastPollIntervalMs,
      ),
      progressPerCycle: o.progressPerCycle ?? ENGINE_DEFAULTS.progressPerCycle,
      directLooksPerCycle: o.directLooksPerCycle ?? ENGINE_DEFAULTS.directLooksPerCycle,
      sinceMarginMs: ENGINE_DEFAULTS.sinceMarginMs,
    });
    this.globalLimit = pLimit(o.globalConcurrency ?? ENGINE_DEFAULTS.globalConcurrency);
    const isHalted = () => this.haltedBy !== null || this.closed;
    this.ctx = {
      compute: this.compute,
      clock: this.clock,
      logger: this.log,
      observer: this.observer,
      globalLimit: this.globalLimit,
      settings: this.settings,
      get halted() {
        return isHalted();
      },
      persist: (write) => this.persist(write),
      emit: (event) => this.emit(event),
      microversion: () => this.chosenMicroversion ?? '2.1',
      expectedDurationMs: (kind) => this.moveDurations.get(kind) ?? null,
      recordDuration: (kind, ms) => {
        const previous = this.moveDurations.get(kind);
        this.moveDurations.set(kind, previous === undefined ? ms : 0.7 * previous + 0.3 * ms);
      },
      pollIntervalMs,
      nowIso: () => new Date(this.clock.now()).toISOString(),
    };
  }

  // ---- plumbing -----------------------------------------------------------------------

  private persist(write: RunStoreWrite): void {
    if (this.closed) throw new EngineHaltedError('The engine is closed.');
    if (this.haltedBy !== null) throw new EngineHaltedError('The engine halted after a store failure.');
    try {
      this.store.commit(write);
    } catch (err) {
      if (err instanceof DuplicateControlError) throw err;
      this.halt(err);
      throw new EngineHaltedError(
        `The run store failed; the engine stopped acting: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Nothing more can be journaled, so nothing more may be sent to Nova. */
  private halt(err: unknown): void {
    if (this.haltedBy !== null) return;
    this.haltedBy = err;
    this.log.fatal({ err }, 'run store write failed: the engine stops acting until restarted');
    void this.observer.close();
    for (const run of this.runs.values()) run.detach();
  }

  /** True once a store failure stopped the engine (a restart resumes from the journal). */
  get halted(): boolean {
    return this.haltedBy !== null;
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.warn({ err, event: event.type }, 'an engine event listener threw');
      }
    }
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private assertUsable(): void {
    if (this.closed) throw new EngineHaltedError('The engine is closed.');
    if (this.haltedBy !== null) {
      throw new EngineHaltedError('The engine halted after a run store failure; restart it to resume.');
    }
  }

  private async ensureMicroversion(): Promise<void> {
    if (this.chosenMicroversion !== null) return;
    try {
      this.chosenMicroversion = (await this.compute.microversions()).chosen;
    } catch (err) {
      this.log.warn(
        { err },
        'could not read the compute microversion; verification assumes the oldest behaviour',
      );
    }
  }

  private isPreviewExpired(run: EvacuationRun, previewedAt: string): boolean {
    if (run.state !== 'planned') return false;
    const at = Date.parse(previewedAt);
    return !Number.isNaN(at) && this.clock.now() - at > this.settings.previewTtlMs;
  }

  private isActive(run: EvacuationRun, previewedAt: string): boolean {
    return (
      ACTIVE_RUN_STATES.has(run.state) ||
      (run.state === 'planned' && !this.isPreviewExpired(run, previewedAt))
    );
  }

  private onRunFinished = (active: ActiveRun): void => {
    if (this.runs.get(active.id) === active) this.runs.delete(active.id);
  };

  private newRunId(): string {
    for (;;) {
      const id = `r-${randomBytes(4).toString('hex').slice(0, 6)}`;
      if (!this.runs.has(id) && !this.store.getRun(id)) return id;
    }
  }

  /** The run in memory, or loaded from the store (registered only while it can still change). */
  private load(runId: string): ActiveRun | null {
    const inMemory = this.runs.get(runId);
    if (inMemory) return inMemory;
    const stored = this.store.getRun(runId);
    if (!stored) return null;
    const active = new ActiveRun(this.ctx, stored, this.onRunFinished);
    if (stored.run.state === 'planned') this.runs.set(runId, active);
    return active;
  }

  // ---- queries --------------------------------------------------------------------------

  getRun(runId: string): EvacuationRun | null {
    return this.runs.get(runId)?.run ?? this.store.getRun(runId)?.run ?? null;
  }

  listRuns(query: ListRunsQuery = {}): EvacuationRun[] {
    const stored = this.store.listRuns({
      ...(query.activeOnly ? { states: ['planned', 'confirmed', 'running', 'stopping'] } : {}),
      ...(query.host !== undefined ? { host: query.host } : {}),
      limit: query.limit ?? 50,
    });
    return stored
      .filter(
        (s) =>
          !query.activeOnly ||
          this.isActive(s.run, this.runs.get(s.run.id)?.internal.previewedAt ?? s.internal.previewedAt),
      )
      .map((s) => this.runs.get(s.run.id)?.run ?? s.run);
  }

  activeRunForHost(host: string): EvacuationRun | null {
    for (const active of this.runs.values()) {
      if (active.run.host === host && this.isActive(active.run, active.internal.previewedAt))
        return active.run;
    }
    const stored = this.store
      .listRuns({ host, states: ['planned', 'confirmed', 'running', 'stopping'], limit: 20 })
      .find((s) => this.isActive(s.run, s.internal.previewedAt));
    return stored ? (this.runs.get(stored.run.id)?.run ?? stored.run) : null;
  }

  audit(runId: string): AuditEntry[] {
    return this.store.audit(runId);
  }

  /** The Nova-action journal of a run (intents and results), oldest first. */
  journal(runId: string): JournalEntry[] {
    return this.store.journal(runId);
  }

  observerStats(): ObserverStats {
    return this.observer.stats();
  }

  setFrontEnd(runId: string, data: Record<string, unknown>): void {
    this.assertUsable();
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new ControlInputError('Front-end data must be a plain object.');
    }
    const active = this.load(runId);
    if (!active) throw new UnknownRunError(runId);
    active.apply({ run: { frontEnd: { ...active.run.frontEnd, ...data } } });
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- preview --------------------------------------------------------------------------

  async preview(request: EvacuationRequest): Promise<EvacuationRun> {
    this.assertUsable();
    if (typeof request !== 'object' || request === null) {
      throw new ControlInputError('An evacuation request is needed.');
    }
    const blocking = typeof request.host === 'string' ? this.activeRunForHost(request.host.trim()) : null;
    if (blocking) throw new ActiveRunError(blocking);
    const plan = await planEvacuation(this.compute, request, this.planning);
    // Another preview may have been stored while Nova was being asked.
    const raced = this.activeRunForHost(plan.host);
    if (raced) throw new ActiveRunError(raced);

    const now = this.nowIso();
    const id = this.newRunId();
    const run = buildRun(id, plan, now, {});
    const stored: StoredRun = { run, internal: newRunInternal(now), moves: movesFor(plan) };
    this.persist({
      run: { run, internal: stored.internal, writePlan: true },
      servers: run.servers.map((server, position) => ({
        runId: id,
        position,
        server,
        move: stored.moves[server.serverId] ?? newMoveContext(server.action, null),
      })),
      audit: [
        {
          runId: id,
          at: now,
          actor: plan.request.requestedBy,
          action: 'preview',
          detail: {
            host: plan.host,
            mode: plan.mode,
            runnable: plan.runnable,
            servers: plan.servers.length,
            moving: plan.servers.filter((s) => s.action !== 'skip').length,
            concurrency: plan.concurrency,
          },
        },
      ],
    });
    const active = new ActiveRun(this.ctx, stored, this.onRunFinished);
    this.runs.set(id, active);
    this.emit({ type: 'run.planned', run: active.run });
    return active.run;
  }

  // ---- controls -------------------------------------------------------------------------

  private validateContext(ctx: ControlContext): void {
    if (typeof ctx !== 'object' || ctx === null) throw new ControlInputError('A control needs a context.');
    if (typeof ctx.actor?.id !== 'string' || ctx.actor.id.trim() === '') {
      throw new ControlInputError('A control needs the id of the person acting (ctx.actor.id).');
    }
    if (typeof ctx.idempotencyKey !== 'string' || ctx.idempotencyKey.trim() === '') {
      throw new ControlInputError('A control needs an idempotency key (ctx.idempotencyKey).');
    }
  }

  /**
   * The frame every control runs in: duplicate detection by idempotency key, the claim written
   * with the control's first step, and the outcome audited and stored with the key.
   */
  private async control(
    runId: string,
    ctx: ControlContext,
    action: string,
    body: (active: ActiveRun, session: ControlSession) => Promise<ControlAnswer>,
  ): Promise<ControlResult> {
    this.validateContext(ctx);
    this.assertUsable();
    const active = this.load(runId);
    if (!active) throw new UnknownRunError(runId);
    const key = ctx.idempotencyKey;
    const previous = this.store.findControl(key);
    if (previous || this.controlsInProgress.has(key)) return this.duplicate(active, previous);

    const record: ControlRecord = {
      idempotencyKey: key,
      runId,
      action,
      actor: ctx.actor.id,
      at: this.nowIso(),
      outcome: null,
      message: null,
    };
    let claimed = false;
    const session: ControlSession = {
      actor: ctx.actor.id,
      key,
      claim: (change) => {
        if (claimed) return change;
        claimed = true;
        return { ...change, claimControl: record };
      },
    };
    this.controlsInProgress.add(key);
    try {
      let answer: ControlAnswer;
      try {
        answer = await body(active, session);
      } catch (err) {
        if (err instanceof DuplicateControlError) return this.duplicate(active, this.store.findControl(key));
        if (err instanceof EngineHaltedError || err instanceof ControlInputError) throw err;
        if (!(
          err instanceof OpenStackError ||
          err instanceof PlanValidationError ||
          err instanceof UnknownHostError
        )) {
          throw err;
        }
        answer = { outcome: 'rejected', message: novaText(err) };
      }
      const current = this.runs.get(runId) ?? active;
      const audit: NonNullable<RunChange['audit']> = [
        {
          actor: ctx.actor.id,
          action,
          detail: {
            outcome: answer.outcome,
            message: answer.message,
            idempotencyKey: key,
            ...(ctx.actor.name ? { actorName: ctx.actor.name } : {}),
            ...answer.detail,
          },
        },
      ];
      try {
        current.apply(
          session.claim({
            audit,
            finishControl: { idempotencyKey: key, outcome: answer.outcome, message: answer.message },
          }),
        );
      } catch (err) {
        if (err instanceof DuplicateControlError) return this.duplicate(current, this.store.findControl(key));
        throw err;
      }
      return { outcome: answer.outcome, message: answer.message, run: current.run };
    } finally {
      this.controlsInProgress.delete(key);
    }
  }

  private duplicate(active: ActiveRun, previous: ControlRecord | null): ControlResult {
    const message = previous?.message
      ? `Already handled (${previous.outcome ?? 'in progress'}): ${previous.message}`
      : 'This request is already being handled.';
    return { outcome: 'duplicate', message, run: this.runs.get(active.id)?.run ?? active.run };
  }

  /** Common refusals for a run that is not (or no longer) in the state a control needs. */
  private notPlanned(run: EvacuationRun, nothingTo: string): ControlAnswer {
    if (run.state === 'finished' || run.state === 'cancelled') {
      return { outcome: 'rejected', message: closedRunMessage(run, nothingTo, this.clock.now()) };
    }
    return {
      outcome: 'rejected',
      message: `This run was confirmed by ${run.confirmedBy ?? 'someone'} and is ${run.state}; nothing to ${nothingTo}.`,
    };
  }

  private expiredPreview(active: ActiveRun, session: ControlSession): ControlAnswer | null {
    if (!this.isPreviewExpired(active.run, active.internal.previewedAt)) return null;
    const expiredAt = new Date(
      Date.parse(active.internal.previewedAt) + this.settings.previewTtlMs,
    ).toISOString();
    active.apply(
      session.claim({
        run: { state: 'cancelled', finishedAt: this.nowIso(), stoppedBy: 'engine' },
        audit: [{ actor: 'engine', action: 'preview-expired', detail: { expiredAt } }],
        runEvent: (run) => ({ type: 'run.cancelled', run, by: 'engine (preview expired)' }),
      }),
    );
    this.runs.delete(active.id);
    return {
      outcome: 'rejected',
      message: `This preview expired at ${clockTime(expiredAt, this.clock.now())}; preview the host again.`,
    };
  }

  async updatePlan(runId: string, changes: PlanChanges, ctx: ControlContext): Promise<ControlResult> {
    return this.control(runId, ctx, 'update-plan', async (active, session) => {
      if (active.run.state !== 'planned') return this.notPlanned(active.run, 'change');
      const expired = this.expiredPreview(active, session);
      if (expired) return expired;
      const parsed = planChangesSchema.safeParse(changes);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return {
          outcome: 'rejected',
          message: `Cannot change the plan: ${issue?.path.join('.') || 'changes'} ${issue?.message ?? 'is invalid'}.`,
        };
      }
      const request: EvacuationRequest = { ...active.run.plan.request };
      const c = parsed.data;
      if (c.mode !== undefined) request.mode = c.mode;
      if (c.targetHost === null) delete request.targetHost;
      else if (c.targetHost !== undefined) request.targetHost = c.targetHost;
      if (c.concurrency !== undefined) request.concurrency = c.concurrency;
      if (c.hostFenced !== undefined) request.hostFenced = c.hostFenced;
      if (c.keepServiceEnabled !== undefined) request.keepServiceEnabled = c.keepServiceEnabled;
      const plan = await planEvacuation(this.compute, request, this.planning);
      if (active.run.state !== 'planned' || this.runs.get(runId) !== active)
        return this.notPlanned(active.run, 'change');

      const now = this.nowIso();
      const run = buildRun(runId, plan, active.run.createdAt, active.run.frontEnd);
      const stored: StoredRun = {
        run,
        internal: { ...active.internal, previewedAt: now },
        moves: movesFor(plan),
      };
      this.persist({
        claimControl: session.claim({}).claimControl,
        run: { run, internal: stored.internal, writePlan: true },
        replaceServersOf: runId,
        servers: run.servers.map((server, position) => ({
          runId,
          position,
          server,
          move: stored.moves[server.serverId] ?? newMoveContext(server.action, null),
        })),
      });
      const replanned = new ActiveRun(this.ctx, stored, this.onRunFinished);
      this.runs.set(runId, replanned);
      this.emit({ type: 'run.planned', run: replanned.run });
      const moving = plan.servers.filter((s) => s.action !== 'skip').length;
      return {
        outcome: 'applied',
        message: `Plan updated: ${plan.mode}, ${plural(moving, 'server')} to move, ${plan.concurrency} at a time${
          plan.runnable ? '.' : ' (not runnable: see the blockers).'
        }`,
        detail: { changes: c },
      };
    });
  }

  async confirm(runId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.control(runId, ctx, 'confirm', async (active, session) => {
      const run = active.run;
      if (run.state !== 'planned') {
        if (run.state === 'finished' || run.state === 'cancelled') {
          return { outcome: 'rejected', message: closedRunMessage(run, 'confirm', this.clock.now()) };
        }
        return {
          outcome: 'rejected',
          message: `This run is already ${run.state} (confirmed by ${run.confirmedBy ?? 'someone'}).`,
        };
      }
      const expired = this.expiredPreview(active, session);
      if (expired) return expired;
      if (!run.plan.runnable) {
        const blockers = run.plan.findings.filter((f) => f.severity === 'blocker').map((f) => f.message);
        return {
          outcome: 'rejected',
          message: `This plan cannot run: ${blockers.join(' ') || 'it has blockers.'}`,
        };
      }
      const other = [...this.runs.values()].find(
        (r) => r !== active && r.run.host === run.host && ACTIVE_RUN_STATES.has(r.run.state),
      );
      if (other) {
        return {
          outcome: 'rejected',
          message: `Host ${run.host} already has a ${other.run.state} run (${other.id}).`,
        };
      }
      active.apply(
        session.claim({
          run: { state: 'confirmed', confirmedBy: session.actor },
          audit: [{ actor: session.actor, action: 'run-confirmed', detail: { idempotencyKey: session.key } }],
        }),
      );
      await this.ensureMicroversion();
      const problem = await active.prepareHost(session.actor);
      if (problem) {
        const stillDisabled = active.run.serviceDisabledByRun
          ? ' The compute service stays disabled by this run: confirm again, or cancel and re-enable it.'
          : '';
        active.apply({ run: { state: 'planned', confirmedBy: null } });
        return { outcome: 'rejected', message: `${problem}${stillDisabled}` };
      }
      await this.startRunning(active);
      const servers = active.run.servers;
      const moving = servers.filter((s) => s.action !== 'skip' && s.state !== 'skipped').length;
      const skipped = servers.length - moving;
      return {
        outcome: 'applied',
        message: `Started: moving ${plural(moving, 'server')} off ${run.host}, ${run.plan.concurrency} at a time${
          skipped > 0 ? ` (${skipped} skipped)` : ''
        }.`,
      };
    });
  }

  private async startRunning(active: ActiveRun): Promise<void> {
    const refreshed = await active.refreshFromHost();
    if (active.run.state !== 'confirmed') {
      active.checkFinished();
      return;
    }
    active.apply({
      run: { state: 'running', startedAt: this.nowIso() },
      servers: refreshed,
      audit: [
        {
          actor: 'engine',
          action: 'run-started',
          detail: { leftHost: refreshed.filter((c) => c.set?.state === 'skipped').map((c) => c.serverId) },
        },
      ],
      runEvent: (run) => ({ type: 'run.started', run }),
    });
    active.scheduleAll();
    active.checkFinished();
  }

  async cancel(runId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.control(runId, ctx, 'cancel', async (active, session) => {
      const run = active.run;
      if (run.state !== 'planned') {
        if (run.state === 'finished' || run.state === 'cancelled') {
          return { outcome: 'rejected', message: closedRunMessage(run, 'cancel', this.clock.now()) };
        }
        return { outcome: 'rejected', message: `This run is ${run.state}; use stop to stop it.` };
      }
      active.apply(
        session.claim({
          run: { state: 'cancelled', finishedAt: this.nowIso(), stoppedBy: session.actor },
          runEvent: (cancelled) => ({ type: 'run.cancelled', run: cancelled, by: session.actor }),
        }),
      );
      this.runs.delete(runId);
      return {
        outcome: 'applied',
        message: active.run.serviceDisabledByRun
          ? 'Cancelled. The compute service is still disabled by this run: re-enable it if nothing else needs it down.'
          : 'Cancelled; nothing was moved.',
      };
    });
  }

  async stop(
    runId: string,
    ctx: ControlContext,
    options: { abortInFlight?: boolean } = {},
  ): Promise<ControlResult> {
    return this.control(runId, ctx, 'stop', async (active, session) => {
      const run = active.run;
      if (run.state === 'finished' || run.state === 'cancelled') {
        return { outcome: 'rejected', message: closedRunMessage(run, 'stop', this.clock.now()) };
      }
      if (run.state === 'planned')
        return { outcome: 'rejected', message: 'This run has not started; cancel it instead.' };
      if (run.state === 'stopping') {
        return {
          outcome: 'rejected',
          message: `This run is already stopping (asked by ${run.stoppedBy ?? 'someone'}).`,
        };
      }
      if (!this.runs.has(runId)) return this.notResumed();
      const abortInFlight = options.abortInFlight === true;
      const pending = run.servers.filter((s) => s.state === 'pending' && !active.move(s.serverId).openIntent);
      const now = this.nowIso();
      active.apply(
        session.claim({
          run: { state: 'stopping', stoppedBy: session.actor },
          internal: { stopAbortInFlight: abortInFlight },
          servers: pending.map((s) => ({
            serverId: s.serverId,
            set: { state: 'stopped' as const, finishedAt: now },
          })),
          audit: [
            {
              actor: session.actor,
              action: 'run-stopping',
              detail: { abortInFlight, stoppedServers: pending.map((s) => s.serverId) },
            },
          ],
          runEvent: (stopping) => ({ type: 'run.stopping', run: stopping, by: session.actor }),
        }),
      );
      const inFlight = active.inFlightServers();
      const notes: string[] = [];
      if (abortInFlight) {
        for (const server of inFlight) {
          if (active.move(server.serverId).kind !== 'live-migrate') continue;
          const answer = await this.abortMove(active, server.serverId, session);
          if (answer.outcome !== 'applied') notes.push(answer.message);
        }
      }
      active.checkFinished();
      const live = inFlight.filter((s) => active.move(s.serverId).kind === 'live-migrate').length;
      const others = inFlight.length - live;
      const parts = [`Stopping: ${plural(pending.length, 'pending server')} will not be moved.`];
      if (inFlight.length > 0) {
        parts.push(
          abortInFlight
            ? `${plural(live, 'live migration')} asked to abort${
                others > 0
                  ? `; ${plural(others, 'cold migration or evacuation')} cannot be aborted in Nova and will finish`
                  : ''
              }.`
            : `${plural(inFlight.length, 'move')} in flight will finish.`,
        );
      }
      return { outcome: 'applied', message: [...parts, ...notes].join(' ') };
    });
  }

  private notResumed(): ControlAnswer {
    return {
      outcome: 'rejected',
      message:
        'This run is not being driven by this engine yet (it was started before a restart): resume() first.',
    };
  }

  private async abortMove(
    active: ActiveRun,
    serverId: string,
    session: ControlSession,
  ): Promise<ControlAnswer> {
    const server = active.server(serverId);
    const label = serverLabel(server);
    const move = active.move(serverId);
    if (move.kind !== 'live-migrate') {
      return {
        outcome: 'rejected',
        message: `${label} is being moved by ${move.kind ?? server.action}; only live migrations can be aborted.`,
      };
    }
    if (server.state !== 'requested' && server.state !== 'moving') {
      return {
        outcome: 'rejected',
        message: `${label} is ${server.state}; there is no live migration to abort.`,
      };
    }
    const migrationId = server.migrationId ?? (await this.compute.listLiveMigrations(serverId))[0]?.id;
    if (migrationId === undefined) {
      return { outcome: 'rejected', message: `Nova shows no live migration in progress for ${label} (yet).` };
    }
    return this.migrationAction(active, serverId, session, 'abort-live-migration', migrationId, () =>
      this.compute.abortLiveMigration(serverId, migrationId),
    );
  }

  private async migrationAction(
    active: ActiveRun,
    serverId: string,
    session: ControlSession,
    action: 'abort-live-migration' | 'force-complete-live-migration',
    migrationId: number,
    send: () => Promise<{ requestId: string | null }>,
  ): Promise<ControlAnswer> {
    const server = active.server(serverId);
    const label = serverLabel(server);
    const previousAbort = active.move(serverId).abortRequestedBy;
    active.apply(
      session.claim({
        servers: [
          {
            serverId,
            move: {
              openIntent: { action, attempt: server.attempt, at: this.nowIso() },
              ...(action === 'abort-live-migration' ? { abortRequestedBy: session.actor } : {}),
            },
          },
        ],
        journal: [
          {
            serverId,
            attempt: server.attempt,
            phase: 'intent',
            action,
            detail: { migrationId, by: session.actor },
          },
        ],
      }),
    );
    try {
      const receipt = await send();
      active.apply({
        servers: [{ serverId, move: { openIntent: null } }],
        journal: [
          {
            serverId,
            attempt: server.attempt,
            phase: 'result',
            action,
            outcome: 'accepted',
            requestId: receipt.requestId,
            detail: { migrationId },
          },
        ],
      });
      const verb = action === 'abort-live-migration' ? 'Asked Nova to abort' : 'Asked Nova to force-complete';
      return {
        outcome: 'applied',
        message: `${verb} the live migration of ${label} (migration ${migrationId}).`,
      };
    } catch (err) {
      if (err instanceof EngineHaltedError) throw err;
      const text = novaText(err);
      active.apply({
        servers: [{ serverId, move: { openIntent: null, abortRequestedBy: previousAbort } }],
        journal: [
          {
            serverId,
            attempt: server.attempt,
            phase: 'result',
            action,
            outcome:
              err instanceof OpenStackError && err.status !== null && err.status < 500
                ? 'refused'
                : 'unknown',
            requestId: err instanceof OpenStackError ? err.requestId : null,
            detail: { migrationId, error: text },
          },
        ],
      });
      return { outcome: 'rejected', message: `Nova refused for ${label}: ${text}` };
    }
  }

  private liveMigrationControl(
    runId: string,
    serverId: string,
    ctx: ControlContext,
    action: 'abort-live-migration' | 'force-complete-live-migration',
  ): Promise<ControlResult> {
    return this.control(runId, ctx, action, async (active, session) => {
      const run = active.run;
      const what = action === 'abort-live-migration' ? 'abort' : 'force-complete';
      if (run.state === 'finished' || run.state === 'cancelled') {
        return { outcome: 'rejected', message: closedRunMessage(run, what, this.clock.now()) };
      }
      if (!active.hasServer(serverId)) {
        return { outcome: 'rejected', message: `Server ${serverId} is not part of run ${runId}.` };
      }
      if (run.state === 'planned')
        return { outcome: 'rejected', message: 'This run has not started; nothing to ' + what + '.' };
      if (!this.runs.has(runId)) return this.notResumed();
      if (action === 'abort-live-migration') return this.abortMove(active, serverId, session);
      const server = active.server(serverId);
      const label = serverLabel(server);
      if (
        active.move(serverId).kind !== 'live-migrate' ||
        (server.state !== 'requested' && server.state !== 'moving')
      ) {
        return {
          outcome: 'rejected',
          message: `${label} has no live migration in progress to force-complete.`,
        };
      }
      const migrationId = server.migrationId ?? (await this.compute.listLiveMigrations(serverId))[0]?.id;
      if (migrationId === undefined) {
        return {
          outcome: 'rejected',
          message: `Nova shows no live migration in progress for ${label} (yet).`,
        };
      }
      return this.migrationAction(active, serverId, session, action, migrationId, () =>
        this.compute.forceCompleteLiveMigration(serverId, migrationId),
      );
    });
  }

  abortLiveMigration(runId: string, serverId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.liveMigrationControl(runId, serverId, ctx, 'abort-live-migration');
  }

  forceCompleteLiveMigration(runId: string, serverId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.liveMigrationControl(runId, serverId, ctx, 'force-complete-live-migration');
  }

  /** Why a run cannot take retries now, or null. */
  private retryBlocked(active: ActiveRun): string | null {
    const run = active.run;
    if (run.state === 'cancelled') return closedRunMessage(run, 'retry', this.clock.now());
    if (run.state === 'planned') return 'This run has not started; confirm it first.';
    if (run.state === 'confirmed') return 'This run is starting; retry once it is running.';
    if (run.state === 'stopping') return 'This run is stopping; retry once it has finished.';
    if (run.state === 'running' && !this.runs.has(run.id)) return this.notResumed().message;
    if (run.state === 'finished') {
      if (active.internal.serviceReenabledAt) {
        return `The compute service of ${run.host} was re-enabled at ${clockTime(
          active.internal.serviceReenabledAt,
          this.clock.now(),
        )}; start a new run to move more servers off it.`;
      }
      const other = this.activeRunForHost(run.host);
      if (other && other.id !== run.id)
        return `Host ${run.host} has another active run (${other.id}); retry there.`;
    }
    return null;
  }

  /** Re-plans one server from its current state and queues it again. */
  private async retryOne(
    active: ActiveRun,
    serverId: string,
    session: ControlSession,
    as: MoveKind | undefined,
  ): Promise<{ ok: boolean; message: string }> {
    if (!active.hasServer(serverId))
      return { ok: false, message: `Server ${serverId} is not part of run ${active.id}.` };
    const before = active.server(serverId);
    const label = serverLabel(before);
    const retryable = (s: ServerRun) =>
      s.state === 'failed' || s.state === 'timed_out' || s.state === 'stopped';
    if (!retryable(before)) {
      return {
        ok: false,
        message: `${label} is ${before.state}; only failed, timed-out or stopped servers can be retried.`,
      };
    }
    let planned;
    try {
      planned = await replanServer(this.compute, active.run.plan, serverId, as);
    } catch (err) {
      if (
        err instanceof OpenStackError ||
        err instanceof PlanValidationError ||
        err instanceof UnknownHostError
      ) {
        return { ok: false, message: `Cannot retry ${label}: ${novaText(err)}` };
      }
      throw err;
    }
    const server = active.server(serverId);
    const blocked = this.retryBlocked(active);
    if (blocked) return { ok: false, message: blocked };
    if (!retryable(server))
      return { ok: false, message: `${label} is ${server.state} now; nothing to retry.` };
    if (planned.snapshot.host !== active.run.host) {
      return {
        ok: false,
        message: `${label} is no longer on ${active.run.host} (Nova shows it on ${planned.snapshot.host ?? 'no host'}); nothing to retry.`,
      };
    }
    if (planned.action === 'skip') return { ok: false, message: `Cannot retry ${label}: ${planned.why}` };

    const move = active.move(serverId);
    const reopen = active.run.state === 'finished';
    active.apply(
      session.claim({
        ...(reopen
          ? {
              run: { state: 'running' as const, finishedAt: null, stoppedBy: null },
              internal: { stopAbortInFlight: false },
            }
          : {}),
        servers: [
          {
            serverId,
            set: {
              state: 'pending',
              action: planned.action,
              failure: null,
              progress: null,
              destinationHost: null,
              migrationId: null,
              requestId: null,
              finishedAt: null,
            },
            move: {
              kind: planned.action,
              statusBefore: planned.snapshot.status,
              intentAt: null,
              acceptedAt: null,
              openIntent: null,
              confirmSentAt: null,
              abortRequestedBy: null,
              lastSeen: null,
              unconfirmedRequest: null,
              earlierRequestIds: server.requestId
                ? [...move.earlierRequestIds, server.requestId]
                : move.earlierRequestIds,
              earlierMigrationIds:
                server.migrationId !== null
                  ? [...move.earlierMigrationIds, server.migrationId]
                  : move.earlierMigrationIds,
            },
          },
        ],
        audit: [
          {
            actor: session.actor,
            action: 'server-retry',
            detail: {
              serverId,
              as: planned.action,
              previousState: server.state,
              previousAction: server.action,
            },
          },
        ],
      }),
    );
    if (reopen) this.runs.set(active.id, active);
    active.schedule(serverId);
    return {
      ok: true,
      message: `Retrying ${label} as ${planned.action}${planned.action !== server.action ? ` (was ${server.action})` : ''}.`,
    };
  }

  async retryServer(
    runId: string,
    serverId: string,
    ctx: ControlContext,
    options: { as?: MoveKind } = {},
  ): Promise<ControlResult> {
    return this.control(runId, ctx, 'retry', async (active, session) => {
      if (options.as !== undefined && !MOVE_KINDS.includes(options.as)) {
        return {
          outcome: 'rejected',
          message: `Unknown kind of move "${String(options.as)}": use live-migrate, cold-migrate or evacuate.`,
        };
      }
      const blocked = this.retryBlocked(active);
      if (blocked) return { outcome: 'rejected', message: blocked };
      const result = await this.retryOne(active, serverId, session, options.as);
      return { outcome: result.ok ? 'applied' : 'rejected', message: result.message, detail: { serverId } };
    });
  }

  async retryFailed(runId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.control(runId, ctx, 'retry-failed', async (active, session) => {
      const blocked = this.retryBlocked(active);
      if (blocked) return { outcome: 'rejected', message: blocked };
      const failed = active.run.servers.filter((s) => s.state === 'failed' || s.state === 'timed_out');
      if (failed.length === 0)
        return { outcome: 'rejected', message: 'No failed or timed-out servers to retry.' };
      const retried: string[] = [];
      const refused: string[] = [];
      for (const server of failed) {
        const result = await this.retryOne(active, server.serverId, session, undefined);
        (result.ok ? retried : refused).push(result.ok ? server.serverId : result.message);
      }
      if (retried.length === 0) return { outcome: 'rejected', message: refused.join(' ') };
      return {
        outcome: 'applied',
        message: [`Retrying ${plural(retried.length, 'server')}.`, ...refused].join(' '),
        detail: { retried },
      };
    });
  }

  async reenableService(runId: string, ctx: ControlContext): Promise<ControlResult> {
    return this.control(runId, ctx, 'reenable-service', async (active, session) => {
      const run = active.run;
      const host = run.host;
      if (run.state !== 'finished' && run.state !== 'cancelled') {
        return {
          outcome: 'rejected',
          message: `This run is ${run.state}; re-enable the compute service once it has finished (stop it first if needed).`,
        };
      }
      if (active.internal.serviceReenabledAt) {
        return {
          outcome: 'rejected',
          message: `The compute service of ${host} was already re-enabled at ${clockTime(
            active.internal.serviceReenabledAt,
            this.clock.now(),
          )}.`,
        };
      }
      if (!run.serviceDisabledByRun && !active.internal.forcedDownByRun) {
        return {
          outcome: 'rejected',
          message: `This run did not disable the compute service of ${host}; nothing to re-enable.`,
        };
      }
      let service: ComputeService | null = await this.compute.findComputeService(host);
      if (!service)
        return { outcome: 'rejected', message: `The compute service of ${host} no longer exists.` };
      const done: string[] = [];
      if (active.internal.forcedDownByRun && service.forcedDown) {
        const current = service;
        const result = await active.serviceAction(
          session.actor,
          'unset-force-down',
          () => this.compute.setForcedDown(current, false),
          {
            intent: { claimControl: session.claim({}).claimControl },
          },
        );
        if (typeof result === 'string') return { outcome: 'rejected', message: result };
        service = result;
        done.push('forced_down unset');
      }
      if (run.serviceDisabledByRun && service.status === 'disabled' && service.state === 'down') {
        // Enabling a service Nova still counts as down leaves the COMPUTE_STATUS_DISABLED trait
        // in Placement until the next periodic update (seen on real Zed: the host took no new
        // servers for ~1 minute), so wait for nova-compute to report in first.
        active.apply({ internal: { forcedDownByRun: false } });
        const first = done.length > 0 ? `forced_down unset; ` : '';
        return {
          outcome: done.length > 0 ? 'applied' : 'rejected',
          message: `Compute service of ${host}: ${first}nova-compute is not reporting up yet, so it stays disabled. Start nova-compute on ${host} and re-enable once the service is up.`,
        };
      }
      if (run.serviceDisabledByRun && service.status === 'disabled') {
        if (!service.disabledReason?.includes(run.id)) {
          return {
            outcome: 'rejected',
            message: `The compute service of ${host} was disabled again by someone else (reason: "${
              service.disabledReason ?? 'none'
            }"); leaving it disabled.`,
          };
        }
        const current = service;
        const result = await active.serviceAction(
          session.actor,
          'enable-service',
          () => this.compute.enableComputeService(current),
          {
            intent: { claimControl: session.claim({}).claimControl },
          },
        );
        if (typeof result === 'string') return { outcome: 'rejected', message: result };
        done.push('enabled');
      }
      active.apply({
        run: { serviceDisabledByRun: false },
        internal: { forcedDownByRun: false, serviceReenabledAt: this.nowIso() },
      });
      return {
        outcome: 'applied',
        message:
          done.length > 0
            ? `Compute service of ${host}: ${done.join(', ')}.`
            : `The compute service of ${host} was already enabled.`,
      };
    });
  }

  // ---- restart ------------------------------------------------------------------------

  async resume(): Promise<void> {
    this.assertUsable();
    await this.ensureMicroversion();
    const unfinished = this.store.listRuns({
      states: ['planned', 'confirmed', 'running', 'stopping'],
      limit: 10_000,
    });
    const failures: string[] = [];
    for (const stored of unfinished.reverse()) {
      if (this.runs.has(stored.run.id)) continue;
      const active = new ActiveRun(this.ctx, stored, this.onRunFinished);
      this.runs.set(stored.run.id, active);
      if (stored.run.state === 'planned') continue;
      try {
        active.apply({
          audit: [
            {
              actor: 'engine',
              action: 'run-resumed',
              detail: { state: stored.run.state, inFlight: active.inFlightServers().map((s) => s.serverId) },
            },
          ],
        });
        await active.reconcile();
        if (active.run.state === 'confirmed') {
          void this.resumeStart(active);
          continue;
        }
        active.scheduleAll();
        active.checkFinished();
      } catch (err) {
        if (err instanceof EngineHaltedError) throw err;
        active.detach();
        this.runs.delete(stored.run.id);
        failures.push(`${stored.run.id}: ${novaText(err)}`);
        this.log.error({ err, run: stored.run.id }, 'could not resume run');
      }
    }
    if (failures.length > 0) {
      throw new Error(
        `Could not resume ${plural(failures.length, 'run')} (call resume() again): ${failures.join('; ')}`,
      );
    }
  }

  /** A run confirmed just before the restart: finish preparing the host, then start it. */
  private async resumeStart(active: ActiveRun): Promise<void> {
    try {
      const problem = await active.prepareHost(active.run.confirmedBy ?? 'engine');
      if (problem) {
        active.apply({
          run: { state: 'planned', confirmedBy: null },
          audit: [{ actor: 'engine', action: 'run-start-failed', detail: { reason: problem } }],
        });
        return;
      }
      await this.startRunning(active);
    } catch (err) {
      if (!(err instanceof EngineHaltedError))
        this.log.error({ err, run: active.id }, 'could not start a resumed run');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.observer.close();
    for (const run of this.runs.values()) run.detach();
    this.runs.clear();
    this.store.close();
  }
}

function buildRun(
  id: string,
  plan: EvacuationPlan,
  createdAt: string,
  frontEnd: Record<string, unknown>,
): EvacuationRun {
  return {
    id,
    host: plan.host,
    state: 'planned',
    plan,
    servers: plan.servers.map((s): ServerRun => ({
      serverId: s.serverId,
      name: s.name,
      action: s.action,
      state: s.action === 'skip' ? 'skipped' : 'pending',
      attempt: 0,
      sourceHost: s.snapshot.host ?? plan.host,
      destinationHost: null,
      migrationId: null,
      requestId: null,
      startedAt: null,
      finishedAt: null,
      progress: null,
      failure: null,
      skipReason: s.action === 'skip' ? s.why : null,
    })),
    requestedBy: plan.request.requestedBy,
    confirmedBy: null,
    stoppedBy: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
    serviceDisabledByRun: false,
    frontEnd,
  };
}

function movesFor(plan: EvacuationPlan): StoredRun['moves'] {
  const moves: StoredRun['moves'] = {};
  for (const s of plan.servers)
    moves[s.serverId] = newMoveContext(s.status, s.action === 'skip' ? null : s.action);
  return moves;
}

export function createEngine(options: EngineOptions): EvacuationEngine {
  return new EvacuationEngine(options);
}
