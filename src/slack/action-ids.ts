/**
 * Every interactive element the bot puts in Slack, named once. Listeners register on these ids
 * (`app.action(ActionId.Confirm, ...)`) and the view builders stamp them on buttons and selects,
 * so the two sides cannot drift apart.
 *
 * Context travels with the element, never in process memory, so a click still works after a
 * restart: buttons carry `{ runId, serverId?, nonce? }` in their `value`; selects carry only the
 * choice in the option value (options are limited to 150 chars) and the run id in their block's
 * `block_id`.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { EvacuationPlan, RequestedMode } from '../engine/types.js';

export const ActionId = {
  /** Preview: start the run. Value: { runId, nonce: planRevision(plan) }. */
  Confirm: 'evac_confirm',
  /** Preview / approval request: discard the previewed run. Value: { runId }. */
  Cancel: 'evac_cancel',
  /** Status message: no new moves start; in-flight ones finish. Value: { runId }. */
  Stop: 'evac_stop',
  /** Failure in the thread: move this server again with the same kind of move. Value: { runId, serverId }. */
  RetryServer: 'evac_retry_server',
  /** Failure of a live migration: move this server again as a cold migration. Value: { runId, serverId }. */
  RetryServerAsCold: 'evac_retry_server_cold',
  /** Summary: retry every failed / timed-out server of the run. Value: { runId }. */
  RetryFailed: 'evac_retry_failed',
  /** Summary: enable the compute service the run disabled. Value: { runId }. */
  ReenableHost: 'evac_reenable',
  /** Preview select: requested mode. Option value: a RequestedMode (decodeModeOption). */
  ChangeMode: 'evac_mode',
  /** Preview select: destination host. Option value: host name or the scheduler sentinel (decodeTargetOption). */
  ChangeTarget: 'evac_target',
  /** Preview select: parallel moves. Option value: a positive integer (decodeParallelOption). */
  ChangeParallel: 'evac_parallel',
  /** Preview: the operator states the host is fenced, so the service may be forced down. Value: { runId }. */
  ConfirmFenced: 'evac_fenced',
  /** Two-person rule: a second authorised person approves (and starts) the run. Value: { runId, nonce }. */
  Approve: 'evac_approve',
  /** Slow live migration in the thread: abort it. Value: { runId, serverId }. */
  AbortMigration: 'evac_abort',
  /** Slow live migration in the thread: force it to complete (pauses the guest). Value: { runId, serverId }. */
  ForceComplete: 'evac_force_complete',
} as const;

export type ActionIdName = keyof typeof ActionId;
export type ActionIdValue = (typeof ActionId)[ActionIdName];

const ACTION_ID_VALUES: ReadonlySet<string> = new Set(Object.values(ActionId));

/** True when `id` is one of ours: lets a catch-all listener ignore other apps' actions. */
export function isActionId(id: unknown): id is ActionIdValue {
  return typeof id === 'string' && ACTION_ID_VALUES.has(id);
}

/** A Slack button `value` may hold 2,000 characters; these caps keep any combination well inside it. */
const MAX_RUN_ID_LENGTH = 200;
const MAX_SERVER_ID_LENGTH = 200;
const MAX_NONCE_LENGTH = 100;

/** What a button carries back to the listener. */
export interface ActionContext {
  runId: string;
  serverId?: string;
  /** Identifies the version of what the person saw (e.g. the plan revision), to refuse stale clicks. */
  nonce?: string;
}

/** The wire form: short keys because the value is echoed in every interaction payload. */
const actionValueWire = z
  .object({
    r: z.string().min(1, 'run id is empty').max(MAX_RUN_ID_LENGTH, 'run id is too long'),
    s: z.string().min(1, 'server id is empty').max(MAX_SERVER_ID_LENGTH, 'server id is too long').optional(),
    n: z.string().min(1, 'nonce is empty').max(MAX_NONCE_LENGTH, 'nonce is too long').optional(),
  })
  .strict();

/** A button value that is not one the bot produced (tampered, truncated, from an older format). */
export class ActionValueError extends Error {
  constructor(
    message: string,
    readonly raw: unknown,
  ) {
    super(message);
    this.name = 'ActionValueError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = { r: 'runId', s: 'serverId', n: 'nonce' }[String(issue.path[0])] ?? issue.path.join('.');
      return field ? `${field}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Serialises a button's context. Throws ActionValueError for ids the listener could not decode. */
export function encodeActionValue(context: ActionContext): string {
  const wire = { r: context.runId, s: context.serverId, n: context.nonce };
  const parsed = actionValueWire.safeParse(wire);
  if (!parsed.success) {
    throw new ActionValueError(`Cannot encode button value: ${describeIssues(parsed.error)}`, context);
  }
  return JSON.stringify(parsed.data);
}

/** Parses a button value produced by `encodeActionValue`. Throws ActionValueError on anything else. */
export function decodeActionValue(raw: unknown): ActionContext {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new ActionValueError('Button value is missing or not a string.', raw);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ActionValueError(`Button value is not JSON: ${JSON.stringify(raw.slice(0, 80))}`, raw);
  }
  const parsed = actionValueWire.safeParse(json);
  if (!parsed.success) {
    throw new ActionValueError(
      `Button value is not a bot action value: ${describeIssues(parsed.error)}`,
      raw,
    );
  }
  const { r, s, n } = parsed.data;
  return { runId: r, ...(s !== undefined ? { serverId: s } : {}), ...(n !== undefined ? { nonce: n } : {}) };
}

/**
 * A short fingerprint of what a preview shows (plan time, mode, target, parallelism, servers and
 * their actions). Confirm and Approve carry it as their nonce: if the plan changed after the message
 * was drawn (someone picked another mode a second earlier), the listener can refuse the click.
 */
export function planRevision(plan: EvacuationPlan): string {
  const material = JSON.stringify([
    plan.createdAt,
    plan.mode,
    plan.request.targetHost ?? null,
    plan.concurrency,
    plan.request.hostFenced ?? false,
    plan.request.keepServiceEnabled ?? false,
    plan.servers.map((server) => [server.serverId, server.action]),
  ]);
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

/* ----------------------------------------------------------------------------------------------
 * Select menus: the option value is the choice, the run id rides in the block_id.
 * -------------------------------------------------------------------------------------------- */

/** Purposes of the blocks whose block_id carries a run id. */
export const RunBlock = {
  /** The preview's select menus (mode, target, parallelism). */
  PlanControls: 'evac_plan_controls',
} as const;
export type RunBlockPurpose = (typeof RunBlock)[keyof typeof RunBlock];

const RUN_BLOCK_PURPOSES: ReadonlySet<string> = new Set(Object.values(RunBlock));
const BLOCK_ID_SEPARATOR = ':';

const REVISION_PATTERN = /^[A-Za-z0-9_-]{0,32}$/;

/**
 * block_id for a block acting on a run. `revision` (e.g. `planRevision(plan)`) makes the id change
 * whenever the content does: Slack clients keep a select's local state per block_id, so an edited
 * message must use new block ids for the new initial options to show. Throws ActionValueError for
 * a run id or revision that would not fit.
 */
export function runBlockId(purpose: RunBlockPurpose, runId: string, revision = ''): string {
  if (runId.length === 0 || runId.length > MAX_RUN_ID_LENGTH) {
    throw new ActionValueError(
      `Cannot build block id: run id must be 1..${MAX_RUN_ID_LENGTH} characters.`,
      runId,
    );
  }
  if (!REVISION_PATTERN.test(revision)) {
    throw new ActionValueError(
      'Cannot build block id: revision must be up to 32 of [A-Za-z0-9_-].',
      revision,
    );
  }
  return [purpose, revision, runId].join(BLOCK_ID_SEPARATOR);
}

/** Inverse of `runBlockId`. Throws ActionValueError when the block id is not one of ours. */
export function decodeRunBlockId(blockId: unknown): {
  purpose: RunBlockPurpose;
  runId: string;
  revision: string;
} {
  if (typeof blockId !== 'string')
    throw new ActionValueError('Block id is missing or not a string.', blockId);
  const first = blockId.indexOf(BLOCK_ID_SEPARATOR);
  const second = first < 0 ? -1 : blockId.indexOf(BLOCK_ID_SEPARATOR, first + 1);
  const purpose = first > 0 ? blockId.slice(0, first) : '';
  const revision = second > first ? blockId.slice(first + 1, second) : '';
  const runId = second > first ? blockId.slice(second + 1) : '';
  if (
    !RUN_BLOCK_PURPOSES.has(purpose) ||
    !REVISION_PATTERN.test(revision) ||
    runId.length === 0 ||
    runId.length > MAX_RUN_ID_LENGTH
  ) {
    throw new ActionValueError(
      `Block id is not a bot run block: ${JSON.stringify(blockId.slice(0, 80))}`,
      blockId,
    );
  }
  return { purpose: purpose as RunBlockPurpose, runId, revision };
}

const REQUESTED_MODES = ['auto', 'live', 'cold', 'evacuate'] as const satisfies readonly RequestedMode[];
const modeOption = z.enum(REQUESTED_MODES);

/** Option value of the mode select. */
export function encodeModeOption(mode: RequestedMode): string {
  return mode;
}

export function decodeModeOption(raw: unknown): RequestedMode {
  const parsed = modeOption.safeParse(raw);
  if (!parsed.success) {
    throw new ActionValueError(
      `Unknown mode ${JSON.stringify(raw)}: expected one of ${REQUESTED_MODES.join(', ')}.`,
      raw,
    );
  }
  return parsed.data;
}

/**
 * The target select's "scheduler chooses" option. Nova host names are [a-zA-Z0-9._-], so a value
 * with spaces and brackets cannot collide with a real host.
 */
export const SCHEDULER_CHOOSES_OPTION = '(scheduler chooses)';
/** Slack caps an option value at 150 characters. */
export const MAX_OPTION_VALUE_LENGTH = 150;

/** Option value of the target select: null means "let the scheduler choose". */
export function encodeTargetOption(host: string | null): string {
  if (host === null) return SCHEDULER_CHOOSES_OPTION;
  if (host.length === 0 || host.length > MAX_OPTION_VALUE_LENGTH || host === SCHEDULER_CHOOSES_OPTION) {
    throw new ActionValueError(
      `Host name cannot be a select option: ${JSON.stringify(host.slice(0, 80))}`,
      host,
    );
  }
  return host;
}

/** Inverse of `encodeTargetOption`: a host name, or null for "scheduler chooses". */
export function decodeTargetOption(raw: unknown): string | null {
  if (raw === SCHEDULER_CHOOSES_OPTION) return null;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_OPTION_VALUE_LENGTH) {
    throw new ActionValueError(`Target host option is not a host name: ${JSON.stringify(raw)}`, raw);
  }
  return raw;
}

/** Upper bound for any parallelism a select may offer; the engine applies its own global cap. */
export const MAX_PARALLEL_OPTION = 1000;
const parallelOption = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, 'expected a positive whole number')
  .transform(Number)
  .pipe(z.number().int().min(1).max(MAX_PARALLEL_OPTION));

/** Option value of the parallelism select. */
export function encodeParallelOption(parallel: number): string {
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL_OPTION) {
    throw new ActionValueError(`Parallelism must be a whole number 1..${MAX_PARALLEL_OPTION}.`, parallel);
  }
  return String(parallel);
}

export function decodeParallelOption(raw: unknown): number {
  const parsed = parallelOption.safeParse(raw);
  if (!parsed.success) {
    throw new ActionValueError(
      `Parallelism option ${JSON.stringify(raw)} is not a whole number 1..${MAX_PARALLEL_OPTION}.`,
      raw,
    );
  }
  return parsed.data;
}
