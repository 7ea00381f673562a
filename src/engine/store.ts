/**
 * Where runs, per-server states, the Nova-action journal, the audit trail and the idempotency
 * keys of controls live. The engine writes through `commit`, one atomic batch per step, so a
 * crash leaves the store at a step boundary: every Nova action is preceded by a committed
 * intent and followed by a committed result, and `resume()` can tell which ones are open.
 *
 * The interface is synchronous because the engine's read side (`getRun`, `audit`) is; a shared
 * database for several replicas would sit behind a local cache or make these calls async.
 * Nothing here is SQLite-specific: each method is one transaction.
 */
import type { AuditEntry, ControlOutcome } from './api.js';
import type { EvacuationRun, MoveKind, RunState, ServerRun } from './types.js';

/** The Nova actions the engine journals (every POST/PUT/DELETE it sends). */
export type NovaAction =
  | 'disable-service'
  | 'force-down'
  | 'enable-service'
  | 'unset-force-down'
  | 'live-migrate'
  | 'cold-migrate'
  | 'confirm-resize'
  | 'evacuate'
  | 'abort-live-migration'
  | 'force-complete-live-migration';

export type JournalPhase = 'intent' | 'result';

/**
 * The result of an action: `accepted` (Nova answered 2xx), `refused` (Nova answered 4xx: it
 * did not act), `unknown` (no clear answer: it may have acted), `reconciled-sent` and
 * `reconciled-not-sent` (what Nova's records showed after an unknown result or a restart),
 * `skipped` (not needed any more, e.g. the service was already disabled).
 */
export type JournalOutcome =
  'accepted' | 'refused' | 'unknown' | 'reconciled-sent' | 'reconciled-not-sent' | 'skipped';

export interface JournalEntryInput {
  runId: string;
  /** null for host-level actions (service). */
  serverId: string | null;
  attempt: number;
  phase: JournalPhase;
  action: NovaAction;
  at: string;
  requestId?: string | null;
  outcome?: JournalOutcome | null;
  detail?: Record<string, unknown>;
}

export interface JournalEntry extends Required<JournalEntryInput> {
  seq: number;
}

/** An action whose intent is committed but whose result is not (yet). */
export interface OpenIntent {
  action: NovaAction;
  attempt: number;
  /** ISO time the intent was committed, just before the request was sent. */
  at: string;
}

/** Engine bookkeeping for one server, stored next to its public `ServerRun`. */
export interface MoveContext {
  /** What the current attempt does (differs from the plan after a retry as cold migration). */
  kind: MoveKind | null;
  /** Nova status right before the move: the state the server must be back in afterwards. */
  statusBefore: string;
  /** ISO time the current attempt's move request was about to be sent. */
  intentAt: string | null;
  /** ISO time Nova accepted the current attempt's move request. */
  acceptedAt: string | null;
  openIntent: OpenIntent | null;
  /** Request ids and migration ids of earlier attempts: never mistaken for the current one. */
  earlierRequestIds: string[];
  earlierMigrationIds: number[];
  confirmSentAt: string | null;
  /** Who asked to abort the live migration (stop with abortInFlight, or the abort control). */
  abortRequestedBy: string | null;
  /** Human summary of the last observation, quoted when the move times out. */
  lastSeen: string | null;
  /** The move request got no clear answer (e.g. a timeout): this says why; Nova's records decide. */
  unconfirmedRequest: string | null;
}

/** Engine bookkeeping for one run. */
export interface RunInternal {
  /** The run set forced_down (so re-enabling unsets it). */
  forcedDownByRun: boolean;
  serviceReenabledAt: string | null;
  stopAbortInFlight: boolean;
  /** A service action whose intent is committed but whose result is not. */
  openServiceAction: NovaAction | null;
  /** When the current plan was made (the preview expires a TTL after it). */
  previewedAt: string;
}

export interface StoredServer {
  server: ServerRun;
  move: MoveContext;
}

export interface StoredRun {
  run: EvacuationRun;
  internal: RunInternal;
  moves: Record<string, MoveContext>;
}

export interface ControlRecord {
  idempotencyKey: string;
  runId: string;
  action: string;
  actor: string;
  at: string;
  outcome: ControlOutcome | null;
  message: string | null;
}

/** One atomic step. Everything in it is written, or nothing is. */
export interface RunStoreWrite {
  /** Run-level fields; `run.servers` is ignored here (see `servers`). The plan is written only with `writePlan`. */
  run?: { run: EvacuationRun; internal: RunInternal; writePlan?: boolean };
  servers?: Array<{ runId: string; position: number; server: ServerRun; move: MoveContext }>;
  /** Deletes this run's server rows first (a re-plan can change the set of servers). */
  replaceServersOf?: string;
  journal?: JournalEntryInput[];
  audit?: AuditEntry[];
  /** Claims an idempotency key: the whole write fails with `DuplicateControlError` if it exists. */
  claimControl?: ControlRecord;
  /** Records how a claimed control ended. */
  finishControl?: { idempotencyKey: string; outcome: ControlOutcome; message: string };
}

export interface ListStoredRunsQuery {
  states?: RunState[];
  host?: string;
  /** Newest first; default 50. */
  limit?: number;
}

export interface RunStore {
  commit(write: RunStoreWrite): void;
  getRun(runId: string): StoredRun | null;
  listRuns(query?: ListStoredRunsQuery): StoredRun[];
  findControl(idempotencyKey: string): ControlRecord | null;
  journal(runId: string): JournalEntry[];
  audit(runId: string): AuditEntry[];
  close(): void;
}

export class DuplicateControlError extends Error {
  constructor(readonly idempotencyKey: string) {
    super(`Control with idempotency key "${idempotencyKey}" was already applied.`);
    this.name = 'DuplicateControlError';
  }
}

/** The store could not be read or written (disk full, corrupt file, a newer schema, ...). */
export class RunStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunStoreError';
  }
}

export function newMoveContext(statusBefore: string, kind: MoveKind | null): MoveContext {
  return {
    kind,
    statusBefore,
    intentAt: null,
    acceptedAt: null,
    openIntent: null,
    earlierRequestIds: [],
    earlierMigrationIds: [],
    confirmSentAt: null,
    abortRequestedBy: null,
    lastSeen: null,
    unconfirmedRequest: null,
  };
}

export function newRunInternal(previewedAt: string): RunInternal {
  return {
    forcedDownByRun: false,
    serviceReenabledAt: null,
    stopAbortInFlight: false,
    openServiceAction: null,
    previewedAt,
  };
}
