/**
 * Did Nova receive a request whose answer we never saw (a crash between intent and result, or a
 * timeout on the POST)? Nova records an instance action (and for moves a migration record) when
 * its API accepts the request, so: look for one of the right type, newer than the intent, that
 * belongs to no earlier attempt. Found: it was sent, keep observing. Not found: safe to send.
 */
import type { ComputeApi, InstanceAction, MigrationRecord } from '../nova/types.js';
import type { MoveKind } from './types.js';
import { INSTANCE_ACTION, parseNovaTime, pickMigration } from './verify.js';

export interface SentQuery {
  serverId: string;
  action: MoveKind | 'confirm-resize';
  sourceHost: string;
  /** Engine time the intent was committed. */
  intentAtMs: number;
  /** Allowed difference between the engine's clock and Nova's. */
  clockSkewMs: number;
  earlierRequestIds: readonly string[];
  earlierMigrationIds: readonly number[];
}

export type SentAnswer =
  | {
      sent: true;
      requestId: string | null;
      migration: MigrationRecord | null;
      evidence: string;
      requests: number;
    }
  | { sent: false; evidence: string; requests: number };

/** This attempt's instance action among the server's actions, if Nova has one. */
export function findAttemptAction(actions: InstanceAction[], query: SentQuery): InstanceAction | null {
  const notBefore = query.intentAtMs - query.clockSkewMs;
  const name = INSTANCE_ACTION[query.action];
  const matches = actions.filter((action) => {
    if (action.action !== name || query.earlierRequestIds.includes(action.requestId)) return false;
    const started = parseNovaTime(action.startTime);
    return started === null || started >= notBefore;
  });
  matches.sort((a, b) => (parseNovaTime(b.startTime) ?? 0) - (parseNovaTime(a.startTime) ?? 0));
  return matches[0] ?? null;
}

export async function wasSent(compute: ComputeApi, query: SentQuery): Promise<SentAnswer> {
  const actions = await compute.listInstanceActions(query.serverId);
  const action = findAttemptAction(actions, query);
  if (action) {
    return {
      sent: true,
      requestId: action.requestId,
      migration: null,
      evidence: `instance action ${action.action} ${action.requestId} started ${action.startTime ?? '(no time)'}`,
      requests: 1,
    };
  }
  if (query.action === 'confirm-resize') {
    return { sent: false, evidence: 'no confirmResize instance action after the intent', requests: 1 };
  }
  const records = await compute.listMigrations({ instanceId: query.serverId });
  const migration = pickMigration(records, {
    kind: query.action,
    sourceHost: query.sourceHost,
    notBeforeMs: query.intentAtMs - query.clockSkewMs,
    earlierMigrationIds: query.earlierMigrationIds,
  });
  if (migration) {
    return {
      sent: true,
      requestId: null,
      migration,
      evidence: `migration ${migration.id} (${migration.status}) created ${migration.createdAt}`,
      requests: 2,
    };
  }
  return {
    sent: false,
    evidence: `no ${INSTANCE_ACTION[query.action]} instance action or migration record after the intent`,
    requests: 2,
  };
}
