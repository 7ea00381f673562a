/**
 * The evacuation engine's vocabulary: plans, runs, per-server states and the events front ends
 * (Slack, the local workspace, tests) render. Free of Slack and HTTP on purpose.
 */
import type { ComputeService, ServerInfo } from '../nova/types.js';

/** How the operator asked to move the host's servers. `auto` decides from the compute service state. */
export type RequestedMode = 'auto' | 'live' | 'cold' | 'evacuate';

/** What the engine will do to one server. */
export type MoveKind = 'live-migrate' | 'cold-migrate' | 'evacuate';
export type PlannedAction = MoveKind | 'skip';

export type Severity = 'blocker' | 'warning' | 'info';

/**
 * A reason the operator must see before confirming. A blocker on a server turns its action into
 * `skip`; a blocker on the plan (e.g. evacuating while the service is up) makes the plan not runnable.
 */
export interface Finding {
  severity: Severity;
  /** Stable machine code, e.g. 'locked', 'cpu-pinned', 'not-volume-backed', 'service-up'. */
  code: string;
  message: string;
}

export interface EvacuationRequest {
  host: string;
  mode: RequestedMode;
  /** Ask Nova for this destination; undefined lets the scheduler choose. */
  targetHost?: string;
  /** Parallel moves for this run; undefined takes the mode's default (capped by the engine's global cap). */
  concurrency?: number;
  /** Only these servers (ids or exact names); undefined = every server on the host. */
  include?: string[];
  /** Leave these servers (ids or exact names) where they are. */
  exclude?: string[];
  reason?: string;
  /** Do not disable the compute service before moving (default: disable). */
  keepServiceEnabled?: boolean;
  /**
   * The operator states the host is fenced (powered off / isolated), so the engine may set
   * `forced_down` on a down-but-not-forced service to allow evacuation.
   */
  hostFenced?: boolean;
  /** Who asked (an opaque id from the front end, e.g. a Slack user id). */
  requestedBy: string;
}

export interface PlannedServer {
  serverId: string;
  name: string;
  projectId: string;
  status: string;
  flavorName: string;
  vcpus: number;
  ramMb: number;
  action: PlannedAction;
  /** Why this action (e.g. "ACTIVE on a host whose service is up: live migration"). */
  why: string;
  findings: Finding[];
  /** The server as it was when planned. */
  snapshot: ServerInfo;
}

export interface CapacitySummary {
  /** Known when Nova reports hypervisor capacity; null otherwise (the plan says so). */
  freeVcpus: number | null;
  freeRamMb: number | null;
  neededVcpus: number;
  neededRamMb: number;
  candidateHosts: string[];
}

export interface EvacuationPlan {
  request: EvacuationRequest;
  host: string;
  service: ComputeService;
  /** The mode the engine resolved `auto` to, or the requested one. */
  mode: Exclude<RequestedMode, 'auto'>;
  modeReason: string;
  servers: PlannedServer[];
  /** Plan-level findings (service state, capacity, anti-affinity, ...). */
  findings: Finding[];
  /** False when a plan-level blocker prevents running it at all. */
  runnable: boolean;
  /** True when the service is down but not forced down and evacuation would need `hostFenced`. */
  needsForceDown: boolean;
  capacity: CapacitySummary;
  concurrency: number;
  createdAt: string;
}

/** The per-server state machine. Terminal states: done, failed, timed_out, skipped, stopped. */
export type ServerRunState =
  | 'pending'
  | 'requested'
  | 'moving'
  | 'confirming' // cold migration: waiting on / sending confirmResize
  | 'done'
  | 'failed'
  | 'timed_out'
  | 'skipped'
  | 'stopped';

export const TERMINAL_SERVER_STATES: ReadonlySet<ServerRunState> = new Set([
  'done',
  'failed',
  'timed_out',
  'skipped',
  'stopped',
]);

export interface ServerFailure {
  /** Nova's own words: server fault, migration status, instance-action event, or the API error. */
  message: string;
  /** Where the message came from: 'api' | 'fault' | 'migration' | 'instance-action' | 'timeout' | 'verification' */
  source: string;
  requestId: string | null;
  httpStatus: number | null;
}

export interface ServerProgress {
  /** 0..100 from live-migration memory figures, when Nova reports them. */
  percent: number | null;
  memoryProcessedBytes: number | null;
  memoryTotalBytes: number | null;
  migrationStatus: string | null;
}

export interface ServerRun {
  serverId: string;
  name: string;
  action: PlannedAction;
  state: ServerRunState;
  attempt: number;
  sourceHost: string;
  destinationHost: string | null;
  migrationId: number | null;
  requestId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  progress: ServerProgress | null;
  failure: ServerFailure | null;
  /** Why it was skipped (from the plan). */
  skipReason: string | null;
}

export type RunState = 'planned' | 'confirmed' | 'running' | 'stopping' | 'finished' | 'cancelled';

export interface RunSummary {
  total: number;
  byState: Record<ServerRunState, number>;
}

export interface EvacuationRun {
  id: string;
  host: string;
  state: RunState;
  plan: EvacuationPlan;
  servers: ServerRun[];
  requestedBy: string;
  confirmedBy: string | null;
  stoppedBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Whether the engine disabled the compute service for this run (so re-enabling is offered). */
  serviceDisabledByRun: boolean;
  /** Opaque front-end data (e.g. Slack channel and message ts), stored with the run. */
  frontEnd: Record<string, unknown>;
}

export type EngineEvent =
  | { type: 'run.planned'; run: EvacuationRun }
  | { type: 'run.started'; run: EvacuationRun }
  | { type: 'server.changed'; run: EvacuationRun; server: ServerRun; previous: ServerRunState }
  | { type: 'server.progress'; run: EvacuationRun; server: ServerRun }
  | { type: 'run.stopping'; run: EvacuationRun; by: string }
  | { type: 'run.finished'; run: EvacuationRun }
  | { type: 'run.cancelled'; run: EvacuationRun; by: string }
  | { type: 'service.changed'; run: EvacuationRun; service: ComputeService; by: string };
