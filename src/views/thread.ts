/**
 * Messages posted in the run's thread as it goes: one per failure (with Nova's own words and the
 * retry buttons), batches of completions, and progress of slow live migrations.
 */
import type { EvacuationRun, ServerRun } from '../engine/types.js';
import { ActionId, encodeActionValue } from '../slack/action-ids.js';
import {
  type Button,
  type KnownBlock,
  type SlackMessage,
  actions,
  button,
  codeBlock,
  confirmDialog,
  context,
  escapeMrkdwn,
  escapeTruncated,
  fallbackText,
  inlineCode,
  packLines,
  section,
} from './block-kit.js';
import {
  GROUP_ICON,
  GROUP_NAME,
  durationBetween,
  formatBytes,
  formatDuration,
  hostLabel,
  moveName,
  parseTime,
  plural,
  progressBar,
  serverLabel,
  slackTime,
  stateGroup,
} from './format.js';
import { SlackLimits, messageTextLength } from './limits.js';
import { runProgress } from './status.js';

/** Raw characters of a Nova message shown in the code block (the escaped form is cut again if needed). */
const ERROR_EXCERPT_CHARS = 2400;
/** Of an over-long message, how much of its beginning is kept; the rest of the room goes to its end. */
const ERROR_HEAD_SHARE = 0.3;

const RETRYABLE_STATES = new Set(['failed', 'timed_out', 'stopped']);

/**
 * Keeps the beginning and the end of a long text. A Python traceback says where it started at the
 * top and what went wrong at the bottom; the middle is the least useful part to lose.
 */
export function excerpt(raw: string, max: number): string {
  const text = raw.replace(/\r\n/g, '\n').trim();
  if (text.length <= max) return text;
  const marker = (omitted: number) => `\n… ${omitted} characters omitted …\n`;
  const room = max - marker(text.length).length;
  const headChars = Math.floor(room * ERROR_HEAD_SHARE);
  const tailChars = room - headChars;
  // Never leave half of a surrogate pair at either cut.
  const head = text.slice(0, headChars).replace(/[\uD800-\uDBFF]$/, '');
  const tail = text.slice(text.length - tailChars).replace(/^[\uDC00-\uDFFF]/, '');
  return `${head}${marker(text.length - head.length - tail.length)}${tail}`;
}

function moveKindText(server: ServerRun): string {
  return server.action === 'skip' ? 'skipped' : moveName(server.action);
}

function destinationText(server: ServerRun): string {
  return server.destinationHost ? hostLabel(server.destinationHost, 80) : 'scheduler-chosen host';
}

/**
 * One failed, timed-out or stopped server, for the run's thread: what was attempted, Nova's own
 * error text in a code block (long tracebacks keep their beginning and end), the request id to
 * quote to the cloud team, and Retry, plus "Retry as cold migration" when a live migration failed
 * and the host's service is up (a cold migration needs the source compute service).
 */
export function failureThreadMessage(run: EvacuationRun, server: ServerRun): SlackMessage {
  const group = stateGroup(server.state);
  const failure = server.failure;
  const blocks: KnownBlock[] = [
    section(
      `${GROUP_ICON[group]} ${serverLabel(server.name, 200)} *${GROUP_NAME[group]}*: ${moveKindText(server)}, attempt ${server.attempt}\n` +
        `${hostLabel(server.sourceHost, 100)} → ${destinationText(server)}`,
    ),
  ];
  if (failure && failure.message.trim().length > 0) {
    blocks.push(
      section(
        `*Nova says* (${escapeTruncated(failure.source, 40)}):\n${codeBlock(excerpt(failure.message, ERROR_EXCERPT_CHARS), 2800)}`,
      ),
    );
  } else {
    blocks.push(section('_Nova gave no error text for this server._'));
  }
  const requestId = failure?.requestId ?? server.requestId;
  const facts = [`Server ${inlineCode(server.serverId, 80)}`];
  if (requestId) facts.push(`request ${inlineCode(requestId, 100)}`);
  if (failure?.httpStatus) facts.push(`HTTP ${failure.httpStatus}`);
  if (server.migrationId !== null) facts.push(`migration ${server.migrationId}`);
  if (server.finishedAt) facts.push(slackTime(server.finishedAt));
  blocks.push(context([facts.join(' · ')]));

  const buttons: Button[] = [];
  if (RETRYABLE_STATES.has(server.state) && run.state !== 'cancelled' && server.action !== 'skip') {
    buttons.push(
      button({
        text: 'Retry',
        actionId: ActionId.RetryServer,
        value: encodeActionValue({ runId: run.id, serverId: server.serverId }),
        style: 'primary',
      }),
    );
    if (server.action === 'live-migrate' && run.plan.service.state === 'up') {
      buttons.push(
        button({
          text: 'Retry as cold migration',
          actionId: ActionId.RetryServerAsCold,
          value: encodeActionValue({ runId: run.id, serverId: server.serverId }),
          confirm: confirmDialog({
            title: 'Retry as cold migration?',
            text:
              `${serverLabel(server.name, 60)} is shut down, moved off *${escapeTruncated(server.sourceHost, 60)}* ` +
              'and started again on the new host: its users see a reboot.',
            confirm: 'Cold migrate',
            deny: 'Back',
          }),
        }),
      );
    }
  }
  if (buttons.length > 0) blocks.push(actions(buttons));

  const summary = failure?.message ? `: ${failure.message.replace(/\s+/g, ' ').trim()}` : '';
  return {
    text: fallbackText(
      `${GROUP_ICON[group]} ${escapeMrkdwn(server.name)} ${GROUP_NAME[group]} (${moveKindText(server)})${escapeMrkdwn(summary)}`,
    ),
    blocks,
  };
}

function completionLine(server: ServerRun): string {
  const duration = durationBetween(server.startedAt, server.finishedAt);
  const took = duration === null ? '' : ` (${formatDuration(duration)})`;
  if (server.state === 'done') return `• ${serverLabel(server.name, 60)} → ${destinationText(server)}${took}`;
  const group = stateGroup(server.state);
  return `• ${GROUP_ICON[group]} ${serverLabel(server.name, 60)} ${GROUP_NAME[group]}`;
}

/**
 * A batch of completed moves for the thread ("✅ 7 servers moved: vm-a → compute3 (42 s), …").
 * Servers given that are not `done` are listed with their state; a long batch is cut with
 * "…and N more".
 */
export function completionsThreadMessage(run: EvacuationRun, servers: ServerRun[]): SlackMessage {
  const moved = servers.filter((server) => server.state === 'done');
  const total = run.servers.filter((server) => server.state === 'done').length;
  const { movable } = runProgress(run);
  const title = `✅ ${plural(moved.length, 'server')} moved off *${hostLabel(run.host, 100)}* (${total} of ${movable} moved so far)`;
  const preview = moved
    .slice(0, 5)
    .map((server) => {
      const duration = durationBetween(server.startedAt, server.finishedAt);
      return `${escapeMrkdwn(server.name)} → ${escapeMrkdwn(server.destinationHost ?? 'another host')}${duration === null ? '' : ` (${formatDuration(duration)})`}`;
    })
    .join(', ');
  const text = fallbackText(
    `✅ ${plural(moved.length, 'server')} moved${preview ? `: ${preview}` : ''}${moved.length > 5 ? ', …' : ''}`,
  );
  const head: KnownBlock[] = [section(title)];
  if (servers.length === 0) return { text, blocks: head };
  const list = packLines(servers.map(completionLine), {
    maxBlocks: SlackLimits.blocksPerMessage - head.length,
    maxChars: SlackLimits.messageTextBudget - messageTextLength({ text, blocks: head }),
    moreLine: (hidden) => `…and ${plural(hidden, 'more server')}`,
  });
  return { text, blocks: [...head, ...list.blocks] };
}

/** Percent of memory copied: Nova's figure when given, else computed from the memory counters. */
export function migrationPercent(server: ServerRun): number | null {
  const progress = server.progress;
  if (!progress) return null;
  if (progress.percent !== null && Number.isFinite(progress.percent)) {
    return Math.min(Math.max(progress.percent, 0), 100);
  }
  const total = progress.memoryTotalBytes;
  const processed = progress.memoryProcessedBytes;
  if (total === null || processed === null || total <= 0) return null;
  return Math.min(Math.max((processed / total) * 100, 0), 100);
}

/**
 * Progress of a slow live migration for the thread: percent of memory copied, how long it has
 * run, Nova's migration status, and while it is still moving Abort and Force complete (which
 * pauses the guest so the last memory pages can be copied).
 */
export function progressThreadMessage(run: EvacuationRun, server: ServerRun, now?: Date): SlackMessage {
  const percent = migrationPercent(server);
  const progress = server.progress;
  const lines = [
    `🐢 ${serverLabel(server.name, 200)}: ${moveKindText(server)} ${hostLabel(server.sourceHost, 80)} → ${destinationText(server)} is taking a while`,
  ];
  if (percent !== null) {
    const memory =
      progress?.memoryProcessedBytes !== null &&
      progress?.memoryProcessedBytes !== undefined &&
      progress.memoryTotalBytes !== null
        ? ` (${formatBytes(progress.memoryProcessedBytes)} of ${formatBytes(progress.memoryTotalBytes)} memory copied)`
        : '';
    lines.push(`\`${progressBar(percent / 100)}\`${memory}`);
  } else {
    lines.push('Nova reports no memory figures for this migration yet.');
  }
  const facts: string[] = [];
  if (progress?.migrationStatus) facts.push(`migration status ${inlineCode(progress.migrationStatus, 40)}`);
  const started = parseTime(server.startedAt);
  if (started !== null) {
    facts.push(
      now
        ? `running for ${formatDuration(Math.max(0, now.getTime() - started))}`
        : `started ${slackTime(server.startedAt)}`,
    );
  }
  facts.push(`attempt ${server.attempt}`);
  if (server.migrationId !== null) facts.push(`migration ${server.migrationId}`);
  const blocks: KnownBlock[] = [section(lines.join('\n')), context([facts.join(' · ')])];

  const live = server.action === 'live-migrate' && server.state === 'moving' && run.state !== 'cancelled';
  if (live) {
    const value = encodeActionValue({ runId: run.id, serverId: server.serverId });
    blocks.push(
      actions([
        button({
          text: 'Abort migration',
          actionId: ActionId.AbortMigration,
          value,
          style: 'danger',
          confirm: confirmDialog({
            title: 'Abort this live migration?',
            text: `${serverLabel(server.name, 60)} stays on *${escapeTruncated(server.sourceHost, 60)}*, still running there.`,
            confirm: 'Abort',
            deny: 'Back',
            style: 'danger',
          }),
        }),
        button({
          text: 'Force complete',
          actionId: ActionId.ForceComplete,
          value,
          confirm: confirmDialog({
            title: 'Force the migration to complete?',
            text: `${serverLabel(server.name, 60)} is paused while its remaining memory is copied, then resumes on the new host.`,
            confirm: 'Force complete',
            deny: 'Back',
          }),
        }),
      ]),
    );
  }
  return {
    text: fallbackText(
      `🐢 ${escapeMrkdwn(server.name)}: ${moveKindText(server)} ${percent === null ? 'in progress' : `${Math.floor(percent)}%`}`,
    ),
    blocks,
  };
}
