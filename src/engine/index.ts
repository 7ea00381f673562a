/**
 * The evacuation engine's public surface: what front ends, the local console and the
 * benchmarks import.
 */
export * from './api.js';
export * from './types.js';
export {
  createEngine,
  EvacuationEngine,
  DEFAULT_TIMEOUTS_MS,
  ENGINE_DEFAULTS,
  EngineOptionsError,
  UnknownRunError,
  ControlInputError,
  type EngineOptions,
} from './engine.js';
export { EngineHaltedError } from './context.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { SqliteRunStore, SCHEMA_VERSION, type SqliteRunStoreOptions } from './store-sqlite.js';
export {
  DuplicateControlError,
  RunStoreError,
  type RunStore,
  type RunStoreWrite,
  type StoredRun,
  type JournalEntry,
  type NovaAction,
  type ControlRecord,
} from './store.js';
export type { ObserverStats, CycleRecord } from './observer.js';
export { DEFAULT_PLANNING_OPTIONS, PlanValidationError, type PlanningOptions } from './plan.js';
