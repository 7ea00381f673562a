/**
 * Sentences the engine answers controls with. They end up in Slack in front of an on-call
 * operator, so they say what happened and what to do next.
 */
import type { EvacuationRun, ServerRun } from './types.js';

/** "10:42 UTC", with the date when it is not today. */
export function clockTime(iso: string | null, nowMs: number): string {
  if (!iso) return 'an unknown time';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const time = `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')} UTC`;
  const today = new Date(nowMs).toISOString().slice(0, 10);
  const day = date.toISOString().slice(0, 10);
  return day === today ? time : `${day} ${time}`;
}

/** Why a control cannot apply to a run that is over. */
export function closedRunMessage(run: EvacuationRun, nothingTo: string, nowMs: number): string {
  const when = clockTime(run.finishedAt, nowMs);
  return run.state === 'cancelled'
    ? `This run was cancelled at ${when}; nothing to ${nothingTo}.`
    : `This run finished at ${when}; nothing to ${nothingTo}.`;
}

export function serverLabel(server: ServerRun): string {
  return server.name && server.name !== server.serverId
    ? `${server.name} (${server.serverId})`
    : server.serverId;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
