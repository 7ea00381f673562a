/**
 * What counts as a finished, failed or still-running move, from what Nova shows: the server
 * (host, status, task_state, fault) and the migration record of this attempt. Pure functions,
 * so the rules can be read and tested on their own. "Done" is only ever returned when the
 * server is on another host, in the state it must be in, AND the migration record agrees.
 */
import type { InstanceAction, MigrationRecord, ServerInfo } from '../nova/types.js';
import type { MoveKind } from './types.js';

/** `migration_type` of the record Nova creates for each move. */
export const MIGRATION_TYPE: Record<MoveKind, string> = {
  'live-migrate': 'live-migration',
  'cold-migrate': 'migration',
  evacuate: 'evacuation',
};

/** `action` of the instance action Nova records when it accepts each request. */
export const INSTANCE_ACTION: Record<MoveKind | 'confirm-resize', string> = {
  'live-migrate': 'live-migration',
  'cold-migrate': 'migrate',
  evacuate: 'evacuate',
  'confirm-resize': 'confirmResize',
};

/** Migration statuses that mean this move succeeded. */
export const SUCCESS_MIGRATION_STATUSES: Record<MoveKind, ReadonlySet<string>> = {
  'live-migrate': new Set(['completed']),
  'cold-migrate': new Set(['confirmed']),
  // 'done' until the source compute restarts, then 'completed'.
  evacuate: new Set(['done', 'completed']),
};

/** Migration statuses from which this move will not succeed. */
export const FAILED_MIGRATION_STATUSES: ReadonlySet<string> = new Set([
  'error',
  'failed',
  'cancelled',
  'reverted',
  'revert_failed',
]);

/** Nova API statuses of a server something is happening to. */
const BUSY_STATUSES: ReadonlySet<string> = new Set([
  'MIGRATING',
  'RESIZE',
  'REBUILD',
  'BUILD',
  'REVERT_RESIZE',
  'HARD_REBOOT',
  'REBOOT',
]);

/** The microversion from which every evacuated server lands stopped (Nova 2023.1). */
export const EVACUATE_LANDS_STOPPED_MICROVERSION = '2.95';

/**
 * The statuses a server may end in after a successful move. Live migration keeps the status
 * (ACTIVE or PAUSED); cold migration brings a stopped server back stopped and a running one back
 * running once the resize is confirmed. Evacuation rebuilds a stopped server and powers it off
 * again (seen on real Zed); from 2.95 on every other evacuated server lands SHUTOFF too, so its
 * owner can check it before starting it, except an ERROR one, which Nova brings back ACTIVE.
 */
export function expectedFinalStatuses(kind: MoveKind, statusBefore: string, microversion: string): string[] {
  const before = statusBefore.toUpperCase();
  switch (kind) {
    case 'live-migrate':
      return before === 'PAUSED' ? ['PAUSED'] : ['ACTIVE'];
    case 'cold-migrate':
      return before === 'SHUTOFF' ? ['SHUTOFF'] : ['ACTIVE'];
    case 'evacuate':
      if (before === 'SHUTOFF') return ['SHUTOFF'];
      if (before === 'ERROR') return ['ACTIVE'];
      return compareMicroversions(microversion, EVACUATE_LANDS_STOPPED_MICROVERSION) >= 0
        ? ['SHUTOFF']
        : ['ACTIVE'];
  }
}

/** Compares "2.95" and "2.100" as versions, not as strings. */
export function compareMicroversions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map((part) => Number.parseInt(part, 10));
  const [bMajor = 0, bMinor = 0] = b.split('.').map((part) => Number.parseInt(part, 10));
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

/** Nova returns some timestamps without a zone (they are UTC); JavaScript would read them as local time. */
export function parseNovaTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const withZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? null : ms;
}

export interface AttemptIdentity {
  kind: MoveKind;
  sourceHost: string;
  /** Engine time the request was about to be sent, minus the allowed clock skew. */
  notBeforeMs: number;
  /** Migration ids of earlier attempts: never this attempt's record. */
  earlierMigrationIds: readonly number[];
}

/** This attempt's migration record among the server's records: the newest that fits. */
export function pickMigration(
  records: Iterable<MigrationRecord>,
  attempt: AttemptIdentity,
): MigrationRecord | null {
  let best: MigrationRecord | null = null;
  for (const record of records) {
    if (!migrationMatches(record, attempt)) continue;
    if (!best || record.id > best.id) best = record;
  }
  return best;
}

function migrationMatches(record: MigrationRecord, attempt: AttemptIdentity): boolean {
  if (attempt.earlierMigrationIds.includes(record.id)) return false;
  // Below 2.23 Nova does not say the type; the time and source still identify the record.
  if (record.migrationType && record.migrationType !== MIGRATION_TYPE[attempt.kind]) return false;
  if (record.sourceCompute && record.sourceCompute !== attempt.sourceHost) return false;
  const created = parseNovaTime(record.createdAt);
  return created === null || created >= attempt.notBeforeMs;
}

export interface MoveFacts {
  kind: MoveKind;
  sourceHost: string;
  statusBefore: string;
  microversion: string;
  /** The server as last seen after Nova accepted the request; null if not seen yet. */
  server: ServerInfo | null;
  migration: MigrationRecord | null;
  confirmSent: boolean;
}

export type FailureSource = 'api' | 'fault' | 'migration' | 'instance-action' | 'timeout' | 'verification';

export type MoveVerdict =
  /** Nothing seen yet since the request was accepted. */
  | { verdict: 'unseen' }
  /** Nova is working on it. */
  | { verdict: 'moving' }
  /** Cold migration waiting for confirmResize (server VERIFY_RESIZE on the destination). */
  | { verdict: 'needs-confirm'; destinationHost: string }
  | { verdict: 'done'; destinationHost: string; migrationId: number | null }
  /**
   * It failed. `lookForEvent` asks the caller to fetch the instance action: Nova keeps the real
   * reason there (a silent live-migration failure leaves nothing else).
   */
  | { verdict: 'failed'; source: FailureSource; message: string; lookForEvent: boolean }
  /** The server is idle on its source host with no sign of failure yet: look at the instance action. */
  | { verdict: 'idle-on-source' }
  /**
   * The server and the migration record do not (yet) agree: the server looks moved but the record
   * does not, or the record says done while the server still shows on its source (the two lists
   * are read one after the other, and Nova updates them apart). Looked at again, then failed
   * after a grace period. `destinationHost` is null when the server has not been seen elsewhere.
   */
  | { verdict: 'unverified'; destinationHost: string | null; message: string };

/** The verdict for one attempt from what Nova shows now. */
export function judgeMove(facts: MoveFacts): MoveVerdict {
  const { server, migration, kind } = facts;
  if (!server) return { verdict: 'unseen' };
  const status = server.status.toUpperCase();
  const idle = server.taskState === null && !BUSY_STATUSES.has(status);
  const onSource = server.host === facts.sourceHost;
  const migrationFailed = migration !== null && FAILED_MIGRATION_STATUSES.has(migration.status);
  const migrationSucceeded = migration !== null && SUCCESS_MIGRATION_STATUSES[kind].has(migration.status);

  if (status === 'DELETED' || status === 'SOFT_DELETED') {
    return {
      verdict: 'failed',
      source: 'verification',
      message: 'The server was deleted during the move.',
      lookForEvent: false,
    };
  }
  if (status === 'ERROR' && server.taskState === null) {
    const fault = server.fault;
    return fault
      ? {
          verdict: 'failed',
          source: 'fault',
          message: faultText(fault.message, fault.details),
          lookForEvent: false,
        }
      : {
          verdict: 'failed',
          source: 'fault',
          message: 'The server went to ERROR (Nova gave no fault).',
          lookForEvent: true,
        };
  }
  if (!idle) {
    // A VERIFY_RESIZE server is idle; everything else busy is still moving.
    return { verdict: 'moving' };
  }
  if (kind === 'cold-migrate' && status === 'VERIFY_RESIZE') {
    if (onSource) {
      return {
        verdict: 'failed',
        source: 'verification',
        message: `The resize finished but the server is still on ${facts.sourceHost}.`,
        lookForEvent: false,
      };
    }
    return facts.confirmSent
      ? { verdict: 'moving' }
      : { verdict: 'needs-confirm', destinationHost: server.host ?? '' };
  }
  if (onSource || server.host === null) {
    if (migrationFailed && migration) {
      return {
        verdict: 'failed',
        source: 'migration',
        message: `The ${MIGRATION_TYPE[kind]} ended with status "${migration.status}"; the server is ${status} on ${server.host ?? 'no host'}.`,
        lookForEvent: true,
      };
    }
    if (migrationSucceeded && migration) {
      return {
        verdict: 'unverified',
        destinationHost: null,
        message: `Nova reports the ${MIGRATION_TYPE[kind]} ${migration.status}, but the server is still on ${facts.sourceHost}.`,
      };
    }
    return { verdict: 'idle-on-source' };
  }

  const destinationHost = server.host;
  const expected = expectedFinalStatuses(kind, facts.statusBefore, facts.microversion);
  if (kind === 'cold-migrate' && !facts.confirmSent && !migrationSucceeded) {
    // Moved and already ACTIVE/SHUTOFF without our confirm: only fine if Nova auto-confirmed.
    return {
      verdict: 'unverified',
      destinationHost,
      message: `The server is ${status} on ${destinationHost} but the resize was not confirmed${
        migration ? ` (migration ${migration.id} is "${migration.status}")` : ''
      }.`,
    };
  }
  if (!expected.includes(status)) {
    return {
      verdict: 'failed',
      source: 'verification',
      message: `The server moved to ${destinationHost} but is ${status}; expected ${expected.join(' or ')}.`,
      lookForEvent: false,
    };
  }
  if (migrationFailed && migration) {
    return {
      verdict: 'failed',
      source: 'migration',
      message: `The server is ${status} on ${destinationHost}, but the ${MIGRATION_TYPE[kind]} record says "${migration.status}".`,
      lookForEvent: true,
    };
  }
  if (!migrationSucceeded) {
    return {
      verdict: 'unverified',
      destinationHost,
      message: migration
        ? `The server is ${status} on ${destinationHost}, but migration ${migration.id} is "${migration.status}" (expected ${[
            ...SUCCESS_MIGRATION_STATUSES[kind],
          ].join(' or ')}).`
        : `The server is ${status} on ${destinationHost}, but Nova shows no ${MIGRATION_TYPE[kind]} record for this move.`,
    };
  }
  return { verdict: 'done', destinationHost, migrationId: migration?.id ?? null };
}

function faultText(message: string, details: string | null): string {
  const detail = lastLine(details);
  return detail && !message.includes(detail) ? `${message} (${detail})` : message;
}

/** The last non-empty line: the exception at the bottom of a Python traceback. */
export function lastLine(text: string | null | undefined): string | null {
  if (!text) return null;
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return lines[lines.length - 1] ?? null;
}

/**
 * Nova's reason for a failed action: the first event with result Error. `details` (2.84+) is
 * only the exception's class for unexpected errors (e.g. "libvirtError"), so the traceback's
 * last line, which carries the message, is preferred when it says more.
 */
export function failureFromAction(action: InstanceAction): string | null {
  for (const event of action.events) {
    if (event.result?.toLowerCase() !== 'error') continue;
    const details = event.details?.trim() || null;
    const traceback = lastLine(event.traceback);
    let reason = traceback ?? details;
    if (traceback && details && !traceback.includes(details)) reason = `${details}: ${traceback}`;
    return reason ? `${event.event}: ${reason}` : `${event.event} failed (Nova gave no details).`;
  }
  return null;
}

/** One line about what the server looked like, quoted when a move times out. */
export function describeSeen(server: ServerInfo | null, migration: MigrationRecord | null): string {
  if (!server) return 'nothing seen from Nova since the request was accepted';
  const task = server.taskState ? `, task ${server.taskState}` : '';
  const record = migration ? `; migration ${migration.id} "${migration.status}"` : '; no migration record';
  return `${server.status}${task} on ${server.host ?? 'no host'}${record}`;
}
