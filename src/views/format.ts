/**
 * Wording shared by the builders: people, times, durations, sizes, actions and states, so the
 * preview, the status message and the summary describe the same thing the same way.
 */
import type {
  EvacuationRun,
  MoveKind,
  PlannedAction,
  RequestedMode,
  RunState,
  ServerRun,
  ServerRunState,
  Severity,
} from '../engine/types.js';
import { escapeMrkdwn, escapeTruncated, inlineCode } from './block-kit.js';

/** Slack user ids (U…/W…) become mentions; anything else (a CLI user, a test actor) is shown as text. */
export function userRef(id: string | null | undefined): string {
  if (!id) return 'someone';
  if (/^[UW][A-Z0-9]{2,30}$/.test(id)) return `<@${id}>`;
  return escapeTruncated(id, 80);
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** "42 s", "3 min 10 s", "1 h 5 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    const rest = seconds % 60;
    return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days} d` : `${days} d ${rest} h`;
}

/** A guess, so no false precision: "under a minute", "about 7 min", "about 1 h 20 min". */
export function formatEstimate(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 60_000) return 'under a minute';
  return `about ${formatDuration(Math.round(ms / 60_000) * 60_000)}`;
}

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** Milliseconds between two ISO times, or null when either is missing or unparsable. */
export function durationBetween(start: string | null, end: string | null): number | null {
  const from = parseTime(start);
  const to = parseTime(end);
  if (from === null || to === null || to < from) return null;
  return to - from;
}

/**
 * A time rendered in each reader's own time zone by Slack (`<!date^…>`), with the ISO time as the
 * fallback for clients that cannot.
 */
export function slackTime(iso: string | null | undefined): string {
  const ms = parseTime(iso);
  if (ms === null || !iso) return 'unknown time';
  const epoch = Math.floor(ms / 1000);
  return `<!date^${epoch}^{date_short_pretty} {time}|${escapeMrkdwn(new Date(ms).toISOString())}>`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatRamMb(mb: number): string {
  return formatBytes(mb * 1024 * 1024);
}

/** `▓▓▓▓▓░░░░░ 48%`. */
export function progressBar(fraction: number, width = 10): string {
  const clamped = Number.isFinite(fraction) ? Math.min(Math.max(fraction, 0), 1) : 0;
  const percent = Math.floor(clamped * 100);
  const filled = Math.floor(clamped * width);
  return `${'▓'.repeat(filled)}${'░'.repeat(width - filled)} ${percent}%`;
}

const MOVE_NAMES: Record<MoveKind, string> = {
  'live-migrate': 'live migration',
  'cold-migrate': 'cold migration',
  evacuate: 'evacuation (rebuild elsewhere)',
};

export function moveName(kind: MoveKind): string {
  return MOVE_NAMES[kind];
}

const ACTION_SHORT: Record<PlannedAction, string> = {
  'live-migrate': 'live',
  'cold-migrate': 'cold',
  evacuate: 'evacuate',
  skip: 'skip',
};

export function actionShort(action: PlannedAction): string {
  return ACTION_SHORT[action];
}

const MODE_NAMES: Record<RequestedMode, string> = {
  auto: 'auto (decide from the service state)',
  live: 'live migration',
  cold: 'cold migration',
  evacuate: 'evacuation (host is down)',
};

export function modeName(mode: RequestedMode): string {
  return MODE_NAMES[mode];
}

export const SEVERITY_ICON: Record<Severity, string> = {
  blocker: '⛔',
  warning: '⚠️',
  info: 'ℹ️',
};

/** Display groups of the per-server states: what the operator counts. */
export type StateGroup = 'done' | 'moving' | 'pending' | 'failed' | 'timed_out' | 'skipped' | 'stopped';

export const STATE_GROUPS: readonly StateGroup[] = [
  'done',
  'moving',
  'pending',
  'failed',
  'timed_out',
  'skipped',
  'stopped',
];

export const GROUP_ICON: Record<StateGroup, string> = {
  done: '✅',
  moving: '🔄',
  pending: '⏳',
  failed: '❌',
  timed_out: '⌛',
  skipped: '⏭️',
  stopped: '⏹️',
};

export const GROUP_NAME: Record<StateGroup, string> = {
  done: 'done',
  moving: 'moving',
  pending: 'pending',
  failed: 'failed',
  timed_out: 'timed out',
  skipped: 'skipped',
  stopped: 'stopped',
};

export function stateGroup(state: ServerRunState): StateGroup {
  switch (state) {
    case 'requested':
    case 'moving':
    case 'confirming':
      return 'moving';
    default:
      return state;
  }
}

export function countByGroup(servers: readonly ServerRun[]): Record<StateGroup, number> {
  const counts: Record<StateGroup, number> = {
    done: 0,
    moving: 0,
    pending: 0,
    failed: 0,
    timed_out: 0,
    skipped: 0,
    stopped: 0,
  };
  for (const server of servers) counts[stateGroup(server.state)] += 1;
  return counts;
}

/** "✅ done 20 · 🔄 moving 4 · …" with every group, zeros included, so the line does not jump about. */
export function countsLine(counts: Record<StateGroup, number>): string {
  return STATE_GROUPS.map((group) => `${GROUP_ICON[group]} ${GROUP_NAME[group]} *${counts[group]}*`).join(
    ' · ',
  );
}

const RUN_STATE_NAMES: Record<RunState, string> = {
  planned: 'previewed, not started',
  confirmed: 'confirmed, starting',
  running: 'running',
  stopping: 'stopping (in-flight moves finish)',
  finished: 'finished',
  cancelled: 'cancelled',
};

export function runStateName(state: RunState): string {
  return RUN_STATE_NAMES[state];
}

export const RUN_STATE_ICON: Record<RunState, string> = {
  planned: '📝',
  confirmed: '▶️',
  running: '🔄',
  stopping: '⏸️',
  finished: '🏁',
  cancelled: '🚫',
};

export function isRunActive(run: EvacuationRun): boolean {
  return (
    run.state === 'planned' ||
    run.state === 'confirmed' ||
    run.state === 'running' ||
    run.state === 'stopping'
  );
}

/**
 * A server name for a line: in inline code, because names may hold `*`, `_` or `~` that mrkdwn
 * would otherwise read as formatting; escaped and cut to `max` characters.
 */
export function serverLabel(name: string, max = 60): string {
  return inlineCode(name.length > 0 ? name : '(unnamed)', max + 2);
}

/** A host name: escaped and cut so it cannot crowd out the rest of a line. */
export function hostLabel(host: string | null, max = 80): string {
  return host ? escapeTruncated(host, max) : 'scheduler-chosen host';
}
