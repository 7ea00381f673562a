/**
 * `/evacuate status`: active runs first, then recent ones, each with its state, counts and a link
 * to its live status message.
 */
import type { EvacuationRun } from '../engine/types.js';
import { type KnownBlock, type SlackMessage, header, packLines, section } from './block-kit.js';
import {
  RUN_STATE_ICON,
  countByGroup,
  durationBetween,
  formatDuration,
  hostLabel,
  isRunActive,
  plural,
  runStateName,
  slackTime,
  userRef,
} from './format.js';
import { SlackLimits, messageTextLength } from './limits.js';
import { runProgress } from './status.js';

/**
 * A link Slack can render: http(s) only, and none of the characters that end or split a
 * `<url|label>` link. Anything else is dropped rather than shown half-broken.
 */
export function safeLink(url: string | null, label: string): string | null {
  if (!url || url.length > 2000 || /[\s<>|]/.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  return `<${url}|${label}>`;
}

function runLine(run: EvacuationRun, link: string | null): string {
  const counts = countByGroup(run.servers);
  const progress = runProgress(run);
  const parts = [
    `${RUN_STATE_ICON[run.state]} *${hostLabel(run.host, 80)}* ${runStateName(run.state)}`,
    `${progress.handled}/${progress.movable} handled (✅ ${counts.done} · ❌ ${counts.failed} · ⌛ ${counts.timed_out} · 🔄 ${counts.moving} · ⏳ ${counts.pending})`,
    `${run.plan.mode}, by ${userRef(run.requestedBy)}`,
  ];
  if (run.startedAt) {
    const took = durationBetween(run.startedAt, run.finishedAt);
    parts.push(`started ${slackTime(run.startedAt)}${took === null ? '' : `, took ${formatDuration(took)}`}`);
  } else {
    parts.push(`previewed ${slackTime(run.createdAt)}`);
  }
  const linked = safeLink(link, 'status message');
  if (linked) parts.push(linked);
  return `• ${parts.join(' · ')}`;
}

/**
 * The runs overview for `/evacuate status`. `links(run)` gives the permalink of a run's status
 * message (null when there is none); runs are shown in the order given within each group, cut
 * with "…and N more" when the list is long.
 */
export function runsListMessage(
  runs: EvacuationRun[],
  links: (run: EvacuationRun) => string | null,
): SlackMessage {
  const active = runs.filter(isRunActive);
  const recent = runs.filter((run) => !isRunActive(run));
  const text = `Evacuation runs: ${active.length} active, ${recent.length} recent.`;
  const head: KnownBlock[] = [header('Evacuation runs')];
  if (runs.length === 0) {
    return { text: 'No evacuation runs yet.', blocks: [...head, section('No evacuation runs yet.')] };
  }
  const lines = [
    `*Active (${active.length})*`,
    ...(active.length > 0
      ? active.map((run) => runLine(run, links(run)))
      : ['_None: no host is being evacuated._']),
    ...(recent.length > 0
      ? [`*Recent (${recent.length})*`, ...recent.map((run) => runLine(run, links(run)))]
      : []),
  ];
  const list = packLines(lines, {
    maxBlocks: SlackLimits.blocksPerMessage - head.length,
    maxChars: SlackLimits.messageTextBudget - messageTextLength({ text, blocks: head }),
    moreLine: (hidden) => `…and ${plural(hidden, 'more run')}`,
  });
  return { text, blocks: [...head, ...list.blocks] };
}
