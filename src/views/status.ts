/**
 * The run's status message (the preview, edited in place once the run is confirmed) and the
 * end-of-run summary broadcast to the channel.
 */
import type { EvacuationRun, ServerRun } from '../engine/types.js';
import { ActionId, encodeActionValue } from '../slack/action-ids.js';
import {
  type Button,
  type KnownBlock,
  type SlackMessage,
  actions,
  button,
  confirmDialog,
  context,
  escapeMrkdwn,
  escapeTruncated,
  fallbackText,
  fieldsSection,
  header,
  packLines,
  section,
  truncate,
} from './block-kit.js';
import {
  GROUP_ICON,
  GROUP_NAME,
  actionShort,
  countByGroup,
  countsLine,
  durationBetween,
  formatDuration,
  formatEstimate,
  hostLabel,
  parseTime,
  plural,
  progressBar,
  runStateName,
  serverLabel,
  slackTime,
  stateGroup,
  userRef,
} from './format.js';
import { SlackLimits, messageTextLength } from './limits.js';

/** Most in-flight servers listed in the status message; the thread has the rest. */
const MAX_MOVING_LINES = 10;
/** Most failures listed in the status message. */
const MAX_FAILURE_LINES = 10;
const FAILURE_EXCERPT_CHARS = 200;

function isRunning(run: EvacuationRun): boolean {
  return run.state === 'confirmed' || run.state === 'running';
}

function statusTitle(run: EvacuationRun): string {
  switch (run.state) {
    case 'planned':
      return `Evacuation preview: ${run.host}`;
    case 'confirmed':
      return `Evacuating ${run.host} (starting)`;
    case 'running':
      return `Evacuating ${run.host}`;
    case 'stopping':
      return `Stopping evacuation of ${run.host}`;
    case 'finished':
      return run.stoppedBy ? `Evacuation of ${run.host} stopped` : `Evacuation of ${run.host} finished`;
    case 'cancelled':
      return `Evacuation of ${run.host} cancelled`;
  }
}

/** Mean time of the completed moves, the basis of the estimate. */
function averageMoveMs(servers: readonly ServerRun[]): number | null {
  const durations = servers
    .filter((server) => server.state === 'done')
    .map((server) => durationBetween(server.startedAt, server.finishedAt))
    .filter((ms): ms is number => ms !== null);
  if (durations.length === 0) return null;
  return durations.reduce((sum, ms) => sum + ms, 0) / durations.length;
}

/**
 * Time left if the remaining servers take as long as the finished ones did, `concurrency` at a
 * time. Null until at least one move has completed (no basis for a guess).
 */
export function estimateRemainingMs(run: EvacuationRun): number | null {
  const average = averageMoveMs(run.servers);
  if (average === null) return null;
  const counts = countByGroup(run.servers);
  const remaining = counts.pending + counts.moving;
  if (remaining === 0) return 0;
  const parallel = Math.max(1, run.plan.concurrency);
  return Math.ceil(remaining / parallel) * average;
}

/** Share of the movable servers (skipped ones excluded) that reached a terminal state. */
export function runProgress(run: EvacuationRun): { handled: number; movable: number; fraction: number } {
  const counts = countByGroup(run.servers);
  const movable = run.servers.length - counts.skipped;
  const handled = counts.done + counts.failed + counts.timed_out + counts.stopped;
  return { handled, movable, fraction: movable === 0 ? 1 : handled / movable };
}

function elapsedMs(run: EvacuationRun, now: Date): number | null {
  const start = parseTime(run.startedAt);
  if (start === null) return null;
  const end = parseTime(run.finishedAt) ?? now.getTime();
  return Math.max(0, end - start);
}

function movingLine(server: ServerRun, now: Date): string {
  const percent = server.progress?.percent;
  const parts = [
    `🔄 ${serverLabel(server.name, 50)} → ${server.destinationHost ? hostLabel(server.destinationHost, 60) : 'scheduler-chosen host'}`,
    server.action === 'skip' ? 'skip' : actionShort(server.action),
    server.state === 'confirming' ? 'confirming resize' : server.state,
  ];
  if (percent !== null && percent !== undefined) parts.push(`${Math.round(percent)}%`);
  const started = parseTime(server.startedAt);
  if (started !== null) parts.push(formatDuration(Math.max(0, now.getTime() - started)));
  return parts.join(' · ');
}

function failureLine(server: ServerRun): string {
  const group = stateGroup(server.state);
  const message = server.failure?.message
    ? `: ${escapeTruncated(server.failure.message.replace(/\s+/g, ' ').trim(), FAILURE_EXCERPT_CHARS)}`
    : '';
  const attempt = server.attempt > 1 ? ` (attempt ${server.attempt})` : '';
  return `${GROUP_ICON[group]} ${serverLabel(server.name, 50)} ${GROUP_NAME[group]}${attempt}${message}`;
}

function stopButton(run: EvacuationRun): Button {
  const counts = countByGroup(run.servers);
  return button({
    text: 'Stop',
    actionId: ActionId.Stop,
    value: encodeActionValue({ runId: run.id }),
    style: 'danger',
    confirm: confirmDialog({
      title: `Stop evacuating ${truncate(run.host, 70)}?`,
      text:
        `No new moves start: ${plural(counts.pending, 'pending server')} ${counts.pending === 1 ? 'stays' : 'stay'} on *${escapeTruncated(run.host, 60)}*. ` +
        (counts.moving === 1
          ? 'The move in flight finishes on its own.'
          : `The ${counts.moving} moves in flight finish on their own.`),
      confirm: 'Stop the run',
      deny: 'Keep going',
      style: 'danger',
    }),
  });
}

/**
 * The status message of a confirmed run, rebuilt from the run on every edit: progress bar, counts
 * by state, elapsed time and an estimate of what is left (from completed moves), who confirmed,
 * what is moving now and what failed (details in the thread), and Stop while the run is going.
 * Finished and cancelled runs get no buttons.
 */
export function statusMessage(run: EvacuationRun, now: Date): SlackMessage {
  const counts = countByGroup(run.servers);
  const progress = runProgress(run);
  const head: KnownBlock[] = [header(statusTitle(run))];
  head.push(
    section(
      `\`${progressBar(progress.fraction)}\` ${progress.handled} of ${plural(progress.movable, 'server')} handled\n${countsLine(counts)}`,
    ),
  );

  const elapsed = elapsedMs(run, now);
  const remaining = isRunning(run) || run.state === 'stopping' ? estimateRemainingMs(run) : null;
  const fields = [
    `*Mode*\n${run.plan.mode} · ${run.plan.concurrency} at a time`,
    `*Target*\n${run.plan.request.targetHost ? hostLabel(run.plan.request.targetHost) : 'scheduler chooses'}`,
    `*Elapsed*\n${elapsed === null ? 'not started' : formatDuration(elapsed)}`,
  ];
  if (isRunning(run)) {
    fields.push(
      `*Remaining (estimate)*\n${remaining === null ? 'after the first move completes' : formatEstimate(remaining)}`,
    );
  }
  fields.push(`*Requested by*\n${userRef(run.requestedBy)}`);
  fields.push(`*Confirmed by*\n${run.confirmedBy ? userRef(run.confirmedBy) : 'not yet'}`);
  if (run.stoppedBy)
    fields.push(`*${run.state === 'cancelled' ? 'Cancelled' : 'Stopped'} by*\n${userRef(run.stoppedBy)}`);
  if (run.startedAt) fields.push(`*Started*\n${slackTime(run.startedAt)}`);
  if (run.finishedAt) fields.push(`*Finished*\n${slackTime(run.finishedAt)}`);
  head.push(fieldsSection(fields));
  if (run.plan.request.reason)
    head.push(context([`Reason: ${escapeTruncated(run.plan.request.reason, 500)}`]));

  const tail: KnownBlock[] = [
    context(['Every server, and each failure with Nova’s own words, is in the thread.']),
  ];
  if (isRunning(run)) tail.push(actions([stopButton(run)]));

  const text = fallbackText(
    `${escapeMrkdwn(statusTitle(run))}: ${progress.handled}/${progress.movable} handled, ${counts.done} done, ${counts.failed + counts.timed_out} failed.`,
  );
  const moving = run.servers.filter((server) => stateGroup(server.state) === 'moving');
  const failed = run.servers.filter((server) => server.state === 'failed' || server.state === 'timed_out');
  const lists: KnownBlock[] = [];
  let budget = SlackLimits.messageTextBudget - messageTextLength({ text, blocks: [...head, ...tail] });
  const blocksLeft = () => SlackLimits.blocksPerMessage - head.length - tail.length - lists.length;
  if (moving.length > 0) {
    const packed = packLines(['*Moving now*', ...moving.map((server) => movingLine(server, now))], {
      maxBlocks: 1,
      maxLines: MAX_MOVING_LINES + 1,
      maxChars: Math.min(budget, SlackLimits.sectionText),
      moreLine: (hidden) => `…and ${plural(hidden, 'more server')} in flight`,
    });
    lists.push(...packed.blocks.slice(0, blocksLeft()));
    budget -= messageTextLength({ text: '', blocks: packed.blocks });
  }
  if (failed.length > 0 && blocksLeft() > 0 && budget > 200) {
    const packed = packLines(['*Failures*', ...failed.map(failureLine)], {
      maxBlocks: 1,
      maxLines: MAX_FAILURE_LINES + 1,
      maxChars: Math.min(budget, SlackLimits.sectionText),
      moreLine: (hidden) => `…and ${plural(hidden, 'more failure')} (details in the thread)`,
    });
    lists.push(...packed.blocks.slice(0, blocksLeft()));
  }
  return { text, blocks: [...head, ...lists, ...tail] };
}

function retryAllButton(run: EvacuationRun, failedCount: number): Button {
  return button({
    text: `Retry all failed (${failedCount})`,
    actionId: ActionId.RetryFailed,
    value: encodeActionValue({ runId: run.id }),
    style: 'primary',
    confirm: confirmDialog({
      title: `Retry ${plural(failedCount, 'server')}?`,
      text: `Each failed or timed-out server still on *${escapeTruncated(run.host, 60)}* is re-planned from its current state and moved again.`,
      confirm: 'Retry',
      deny: 'Back',
    }),
  });
}

function reenableButton(run: EvacuationRun): Button {
  return button({
    text: `Re-enable ${truncate(run.host, 55)}`,
    actionId: ActionId.ReenableHost,
    value: encodeActionValue({ runId: run.id }),
    confirm: confirmDialog({
      title: `Re-enable ${truncate(run.host, 80)}?`,
      text: `The compute service on *${escapeTruncated(run.host, 60)}* is enabled again and the scheduler may place new servers there.`,
      confirm: 'Enable',
      deny: 'Back',
    }),
  });
}

/**
 * The end-of-run summary for the channel: moved, failed, timed out, skipped and stopped counts,
 * duration, who started / confirmed / stopped it, the servers that did not move, and the buttons
 * that make sense now: Retry all failed (when any failed or timed out) and Re-enable host (when
 * this run disabled the service).
 */
export function summaryMessage(run: EvacuationRun): SlackMessage {
  const counts = countByGroup(run.servers);
  const failedCount = counts.failed + counts.timed_out;
  const duration = durationBetween(run.startedAt, run.finishedAt);
  const title = statusTitle(run);
  const head: KnownBlock[] = [header(title)];
  head.push(
    section(
      [
        `✅ moved *${counts.done}* · ❌ failed *${counts.failed}* · ⌛ timed out *${counts.timed_out}* · ⏭️ skipped *${counts.skipped}* · ⏹️ stopped *${counts.stopped}*` +
          (counts.pending + counts.moving > 0 ? ` · still open *${counts.pending + counts.moving}*` : ''),
        `Duration: ${duration === null ? 'unknown' : formatDuration(duration)}` +
          (run.finishedAt ? ` · finished ${slackTime(run.finishedAt)}` : ` · ${runStateName(run.state)}`),
      ].join('\n'),
    ),
  );
  const people = [`Requested by ${userRef(run.requestedBy)}`];
  if (run.confirmedBy) people.push(`confirmed by ${userRef(run.confirmedBy)}`);
  if (run.stoppedBy)
    people.push(`${run.state === 'cancelled' ? 'cancelled' : 'stopped'} by ${userRef(run.stoppedBy)}`);
  head.push(section(`${people.join(' · ')}\nMode: ${run.plan.mode} · ${run.plan.concurrency} at a time`));
  if (run.serviceDisabledByRun) {
    head.push(
      section(
        `🔧 The compute service on *${escapeTruncated(run.host, 100)}* was disabled by this run and stays disabled until someone re-enables it.`,
      ),
    );
  }

  const buttons: Button[] = [];
  if (run.state === 'finished') {
    if (failedCount > 0) buttons.push(retryAllButton(run, failedCount));
    if (run.serviceDisabledByRun) buttons.push(reenableButton(run));
  }
  const tail: KnownBlock[] = buttons.length > 0 ? [actions(buttons)] : [];

  const text = fallbackText(
    `${escapeMrkdwn(title)}: ${counts.done} moved, ${counts.failed} failed, ${counts.timed_out} timed out, ${counts.skipped} skipped, ${counts.stopped} stopped${run.stoppedBy ? ` (${run.state === 'cancelled' ? 'cancelled' : 'stopped'} by ${userRef(run.stoppedBy)})` : ''}.`,
  );
  const notMoved = run.servers.filter((server) => server.state !== 'done' && server.state !== 'skipped');
  const skipped = run.servers.filter((server) => server.state === 'skipped');
  const lines = [
    ...(notMoved.length > 0 ? ['*Not moved*', ...notMoved.map(failureLine)] : []),
    ...(skipped.length > 0
      ? [
          '*Skipped*',
          ...skipped.map(
            (server) =>
              `⏭️ ${serverLabel(server.name, 50)}${server.skipReason ? `: ${escapeTruncated(server.skipReason, 120)}` : ''}`,
          ),
        ]
      : []),
  ];
  const used = messageTextLength({ text, blocks: [...head, ...tail] });
  const list =
    lines.length > 0
      ? packLines(lines, {
          maxBlocks: Math.min(4, SlackLimits.blocksPerMessage - head.length - tail.length),
          maxChars: SlackLimits.messageTextBudget - used,
          moreLine: (hidden) => `…and ${hidden} more (details in the thread)`,
        }).blocks
      : [];
  return { text, blocks: [...head, ...list, ...tail] };
}
