/**
 * What front ends (Slack, the local workspace, tests) may ask of the evacuation engine.
 * The engine implements it; front ends depend on this interface only.
 */
import type { EngineEvent, EvacuationRequest, EvacuationRun, MoveKind, RequestedMode } from './types.js';

/** Who is acting, as the front end identifies them (e.g. Slack user id) plus a display name for audit. */
export interface Actor {
  id: string;
  name?: string;
}

/**
 * Every control carries an idempotency key (e.g. Slack's action_ts + user + action id): the
 * same key applied twice does nothing the second time and answers `duplicate`.
 */
export interface ControlContext {
  actor: Actor;
  idempotencyKey: string;
}

export type ControlOutcome = 'applied' | 'duplicate' | 'rejected';

export interface ControlResult {
  outcome: ControlOutcome;
  /** For the person who clicked: what happened, or why nothing did (e.g. "This run finished at 10:42."). */
  message: string;
  run: EvacuationRun;
}

/** Changes the operator may make to a previewed (not yet confirmed) run. */
export interface PlanChanges {
  mode?: RequestedMode;
  /** null clears the target (scheduler chooses). */
  targetHost?: string | null;
  concurrency?: number;
  hostFenced?: boolean;
  keepServiceEnabled?: boolean;
}

export interface AuditEntry {
  runId: string;
  at: string;
  actor: string;
  action: string;
  /** Free-form detail: server id, outcome, idempotency key, ... */
  detail: Record<string, unknown>;
}

export interface ListRunsQuery {
  activeOnly?: boolean;
  host?: string;
  limit?: number;
}

export interface EvacuationEngineApi {
  /**
   * Plans the evacuation and stores it as a run in state `planned` (the preview).
   * Throws `UnknownHostError` (with nearest host names) for an unknown host, and
   * `ActiveRunError` (carrying the active run) when the host already has an active run.
   */
  preview(request: EvacuationRequest): Promise<EvacuationRun>;
  /** Re-plans a previewed run with changes (mode, target, parallelism, fenced). */
  updatePlan(runId: string, changes: PlanChanges, ctx: ControlContext): Promise<ControlResult>;
  /** Starts a previewed run. Refused if the plan is not runnable. */
  confirm(runId: string, ctx: ControlContext): Promise<ControlResult>;
  cancel(runId: string, ctx: ControlContext): Promise<ControlResult>;
  /** No new moves start; in-flight ones finish (or are aborted where Nova allows and `abortInFlight`). */
  stop(runId: string, ctx: ControlContext, options?: { abortInFlight?: boolean }): Promise<ControlResult>;
  /** Re-plans one failed/timed-out/stopped server from its current state and moves it again. */
  retryServer(
    runId: string,
    serverId: string,
    ctx: ControlContext,
    options?: { as?: MoveKind },
  ): Promise<ControlResult>;
  retryFailed(runId: string, ctx: ControlContext): Promise<ControlResult>;
  abortLiveMigration(runId: string, serverId: string, ctx: ControlContext): Promise<ControlResult>;
  forceCompleteLiveMigration(runId: string, serverId: string, ctx: ControlContext): Promise<ControlResult>;
  /** Re-enables the compute service the run disabled (only once the run is finished). */
  reenableService(runId: string, ctx: ControlContext): Promise<ControlResult>;

  getRun(runId: string): EvacuationRun | null;
  listRuns(query?: ListRunsQuery): EvacuationRun[];
  activeRunForHost(host: string): EvacuationRun | null;
  audit(runId: string): AuditEntry[];
  /** Stores opaque front-end data with the run (e.g. Slack channel + status message ts). */
  setFrontEnd(runId: string, data: Record<string, unknown>): void;

  /** Subscribes to engine events; returns the unsubscribe function. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
  /** Resumes unfinished runs after a restart (reconciling in-flight servers with Nova first). */
  resume(): Promise<void>;
  /** Stops polling and closes the store; in-flight Nova operations are left to Nova. */
  close(): Promise<void>;
}

export class UnknownHostError extends Error {
  constructor(
    readonly host: string,
    readonly suggestions: string[],
  ) {
    super(
      suggestions.length > 0
        ? `No compute host named "${host}". Did you mean ${suggestions.map((s) => `"${s}"`).join(', ')}?`
        : `No compute host named "${host}".`,
    );
    this.name = 'UnknownHostError';
  }
}

export class ActiveRunError extends Error {
  constructor(readonly run: EvacuationRun) {
    super(`Host ${run.host} already has an active run (${run.id}, ${run.state}).`);
    this.name = 'ActiveRunError';
  }
}
