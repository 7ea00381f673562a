/**
 * What a run and its moves need from the engine that owns them.
 */
import type { Logger } from 'pino';
import type { LimitFunction } from 'p-limit';
import { OpenStackError } from '../nova/errors.js';
import type { ComputeApi } from '../nova/types.js';
import type { Clock } from './clock.js';
import type { ChangeObserver } from './observer.js';
import type { RunStoreWrite } from './store.js';
import type { EngineEvent, MoveKind } from './types.js';

export interface EngineSettings {
  timeoutsMs: Record<MoveKind, number>;
  /** Allowed difference between the engine's clock and Nova's when matching records to intents. */
  clockSkewMs: number;
  /** How long a moved server may wait for its migration record to agree before it counts as failed. */
  verificationGraceMs: number;
  /** Live migrations get progress requests once they have been moving this many cycles. */
  progressAfterCycles: number;
  /** Cycles without any sighting, or idle on the source host, before a direct look. */
  cyclesBeforeLook: number;
  /** Cycles between two direct looks at the same move. */
  cyclesBetweenLooks: number;
  /** A preview (planned run) blocks its host and can be confirmed for this long. */
  previewTtlMs: number;
}

export interface EngineContext {
  readonly compute: ComputeApi;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ChangeObserver;
  readonly globalLimit: LimitFunction;
  readonly settings: EngineSettings;
  /** True once a store write failed: the engine stops acting (nothing it does could be journaled). */
  readonly halted: boolean;
  /** Writes one step; on failure halts the engine and throws `EngineHaltedError`. */
  persist(write: RunStoreWrite): void;
  emit(event: EngineEvent): void;
  /** The compute microversion the client speaks (for version-dependent verification). */
  microversion(): string;
  /** How long a move of this kind takes, from acceptance to verified done (moving average); null until known. */
  expectedDurationMs(kind: MoveKind): number | null;
  recordDuration(kind: MoveKind, ms: number): void;
  /** The slow poll interval (moves due to finish are watched more often). */
  readonly pollIntervalMs: number;
  nowIso(): string;
}

/** The engine cannot continue because its journal cannot be written. */
export class EngineHaltedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineHaltedError';
  }
}

/** Nova answered and did not act (4xx): safe to report as a refusal, no need to look for the action. */
export function isRefusal(err: unknown): err is OpenStackError {
  return err instanceof OpenStackError && err.status !== null && err.status >= 400 && err.status < 500;
}

/** Nova's own words when it gave some, otherwise the error's. */
export function novaText(err: unknown): string {
  if (err instanceof OpenStackError) return err.serviceMessage ?? err.detail ?? err.message;
  return err instanceof Error ? err.message : String(err);
}
