/**
 * The preview: what the team sees in the channel before anything moves, with the controls to
 * adjust the plan and to confirm it; and the full server list posted in its thread.
 */
import type {
  EvacuationPlan,
  EvacuationRun,
  Finding,
  PlannedAction,
  PlannedServer,
  RequestedMode,
} from '../engine/types.js';
import {
  ActionId,
  MAX_OPTION_VALUE_LENGTH,
  MAX_PARALLEL_OPTION,
  RunBlock,
  SCHEDULER_CHOOSES_OPTION,
  encodeActionValue,
  encodeModeOption,
  encodeParallelOption,
  encodeTargetOption,
  planRevision,
  runBlockId,
} from '../slack/action-ids.js';
import {
  type Button,
  type KnownBlock,
  type PlainTextOption,
  type SlackMessage,
  type StaticSelect,
  actions,
  button,
  confirmDialog,
  context,
  divider,
  escapeMrkdwn,
  escapeTruncated,
  fallbackText,
  fieldsSection,
  header,
  inlineCode,
  option,
  packLines,
  paginateLines,
  section,
  truncate,
} from './block-kit.js';
import {
  SEVERITY_ICON,
  actionShort,
  formatRamMb,
  hostLabel,
  modeName,
  plural,
  runStateName,
  serverLabel,
  slackTime,
  userRef,
} from './format.js';
import { SlackLimits, messageTextLength } from './limits.js';

export interface PreviewOptions {
  /**
   * Whether Confirm is offered: the plan is the requester's to start (the caller decides
   * authorisation). A plan that is not runnable never gets Confirm, whatever this says.
   */
  canRun: boolean;
  /** Shown when `canRun` is false for a runnable plan, e.g. "Only #cloud-oncall may evacuate hosts." */
  cannotRunReason?: string;
  /** Two-person rule: after Confirm, a second authorised person must approve. */
  approvalNeeded?: {
    /** Who may approve (Slack user ids shown as mentions, or plain names); omitted = "a second authorised person". */
    approvers?: string[];
  };
  /** `--dry-run`: show the plan only, with no controls. */
  dryRun?: boolean;
  /** Highest parallelism the select offers (the engine's global cap). Default 16. */
  maxParallel?: number;
}

const ACTION_ORDER: readonly PlannedAction[] = ['live-migrate', 'cold-migrate', 'evacuate', 'skip'];
const SEVERITY_ORDER = { blocker: 0, warning: 1, info: 2 } as const;
/** Longest server name in a compact line; the thread list shows names in full. */
const COMPACT_NAME_CHARS = 60;
/** Most findings per server in a compact line (the rest are counted). */
const COMPACT_FINDINGS = 2;
const COMPACT_FINDING_CHARS = 90;
/** Parallelism cap the select offers when the caller does not pass the engine's cap. */
const DEFAULT_MAX_PARALLEL = 16;

export function countByAction(servers: readonly PlannedServer[]): Record<PlannedAction, number> {
  const counts: Record<PlannedAction, number> = {
    'live-migrate': 0,
    'cold-migrate': 0,
    evacuate: 0,
    skip: 0,
  };
  for (const server of servers) counts[server.action] += 1;
  return counts;
}

/** "live 12 · cold 3 · evacuate 0 · skip 2". */
export function actionCountsLine(counts: Record<PlannedAction, number>): string {
  return ACTION_ORDER.map((action) => `${actionShort(action)} ${counts[action]}`).join(' · ');
}

function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
}

function findingLine(finding: Finding, maxChars: number): string {
  return `${SEVERITY_ICON[finding.severity]} ${escapeTruncated(finding.message, maxChars)} ${inlineCode(finding.code, 60)}`;
}

function movingCount(plan: EvacuationPlan): number {
  return plan.servers.filter((server) => server.action !== 'skip').length;
}

function serviceLine(plan: EvacuationPlan): string {
  const service = plan.service;
  const parts = [
    service.state === 'up' ? '🟢 up' : '🔴 down',
    service.status === 'enabled' ? 'enabled' : 'disabled',
    service.forcedDown ? 'forced down' : 'not forced down',
  ];
  let line = parts.join(' · ');
  if (service.disabledReason) line += `\nDisabled reason: “${escapeTruncated(service.disabledReason, 200)}”`;
  if (service.zone) line += `\nZone: ${escapeTruncated(service.zone, 80)}`;
  return line;
}

function capacityLine(plan: EvacuationPlan): string {
  const capacity = plan.capacity;
  const needed = `needs ${capacity.neededVcpus} vCPU / ${formatRamMb(capacity.neededRamMb)}`;
  if (capacity.freeVcpus === null || capacity.freeRamMb === null) {
    return `${needed}; free capacity unknown (Nova does not report it)`;
  }
  return `${needed}; free ${capacity.freeVcpus} vCPU / ${formatRamMb(capacity.freeRamMb)} on ${plural(capacity.candidateHosts.length, 'candidate host')}`;
}

function targetText(plan: EvacuationPlan): string {
  return plan.request.targetHost ? hostLabel(plan.request.targetHost) : 'scheduler chooses';
}

function serviceHandling(plan: EvacuationPlan): string {
  if (plan.request.keepServiceEnabled) return 'stays as it is (--keep-enabled)';
  return plan.service.status === 'disabled' ? 'already disabled' : 'disabled before the first move';
}

/** A server on one line for the preview: the problems first, cut to a readable length. */
function compactServerLine(server: PlannedServer): string {
  const findings = sortFindings(server.findings.filter((finding) => finding.severity !== 'info'));
  const shown = findings
    .slice(0, COMPACT_FINDINGS)
    .map(
      (finding) =>
        `${SEVERITY_ICON[finding.severity]} ${escapeTruncated(finding.message, COMPACT_FINDING_CHARS)}`,
    );
  if (findings.length > COMPACT_FINDINGS) shown.push(`+${findings.length - COMPACT_FINDINGS} more`);
  const facts = [
    escapeTruncated(server.status, 30),
    escapeTruncated(server.flavorName, 40),
    `project ${escapeTruncated(server.projectId.slice(0, 8), 20)}`,
  ].join(' · ');
  const problems = shown.length > 0 ? ` · ${shown.join(' · ')}` : '';
  return `• ${serverLabel(server.name, COMPACT_NAME_CHARS)} ${facts} → *${actionShort(server.action)}*${problems}`;
}

/** Servers with problems first, so a truncated list still shows every skip and warning it can. */
function previewOrder(servers: readonly PlannedServer[]): PlannedServer[] {
  const rank = (server: PlannedServer): number => {
    if (server.action === 'skip' || server.findings.some((f) => f.severity === 'blocker')) return 0;
    if (server.findings.some((f) => f.severity === 'warning')) return 1;
    return 2;
  };
  return servers
    .map((server, index) => ({ server, index }))
    .sort((a, b) => rank(a.server) - rank(b.server) || a.index - b.index)
    .map(({ server }) => server);
}

function approverText(approvers: string[] | undefined): string {
  if (!approvers || approvers.length === 0) return 'a second authorised person';
  const shown = approvers.slice(0, 5).map((approver) => userRef(approver));
  const more = approvers.length > 5 ? ` or ${approvers.length - 5} others` : '';
  return `a second authorised person (${shown.join(', ')}${more})`;
}

const MODE_OPTIONS: ReadonlyArray<{ mode: RequestedMode; label: string }> = [
  { mode: 'auto', label: 'Auto (from service state)' },
  { mode: 'live', label: 'Live migration' },
  { mode: 'cold', label: 'Cold migration' },
  { mode: 'evacuate', label: 'Evacuate (host down)' },
];

function modeSelect(plan: EvacuationPlan): StaticSelect {
  const options = MODE_OPTIONS.map(({ mode, label }) => option(label, encodeModeOption(mode)));
  const initial = options.find((candidate) => candidate.value === encodeModeOption(plan.request.mode));
  return {
    type: 'static_select',
    action_id: ActionId.ChangeMode,
    placeholder: { type: 'plain_text', text: 'Mode' },
    options,
    ...(initial ? { initial_option: initial } : {}),
  };
}

function targetSelect(plan: EvacuationPlan): StaticSelect {
  const current = plan.request.targetHost ?? null;
  const hosts: string[] = [];
  const seen = new Set<string>();
  const selectable = (host: string) =>
    host.length > 0 &&
    host.length <= MAX_OPTION_VALUE_LENGTH &&
    host !== plan.host &&
    host !== SCHEDULER_CHOOSES_OPTION &&
    !seen.has(host);
  // The current target first: it must be an option to be shown as selected.
  for (const host of [...(current ? [current] : []), ...plan.capacity.candidateHosts]) {
    if (hosts.length >= SlackLimits.selectOptions - 1) break;
    if (!selectable(host)) continue;
    seen.add(host);
    hosts.push(host);
  }
  const schedulerOption = option('Scheduler chooses', encodeTargetOption(null));
  const options: PlainTextOption[] = [
    schedulerOption,
    ...hosts.map((host) => option(host, encodeTargetOption(host))),
  ];
  const initial = current ? options.find((candidate) => candidate.value === current) : schedulerOption;
  return {
    type: 'static_select',
    action_id: ActionId.ChangeTarget,
    placeholder: { type: 'plain_text', text: 'Target host' },
    options,
    ...(initial ? { initial_option: initial } : {}),
  };
}

/** 1, 2, 4, 8, … up to the cap, plus the cap and the current value. */
export function parallelChoices(current: number, maxParallel: number): number[] {
  const wanted = Number.isFinite(maxParallel) ? Math.floor(maxParallel) : DEFAULT_MAX_PARALLEL;
  const currentWhole = Number.isInteger(current) ? current : 1;
  const cap = Math.min(Math.max(1, wanted, currentWhole), MAX_PARALLEL_OPTION);
  const values = new Set<number>();
  for (let value = 1; value <= cap; value *= 2) values.add(value);
  values.add(cap);
  if (currentWhole >= 1 && currentWhole <= MAX_PARALLEL_OPTION) values.add(currentWhole);
  return [...values].sort((a, b) => a - b).slice(0, SlackLimits.selectOptions);
}

function parallelSelect(plan: EvacuationPlan, maxParallel: number): StaticSelect {
  const options = parallelChoices(plan.concurrency, maxParallel).map((value) =>
    option(value === 1 ? 'One at a time' : `${value} at a time`, encodeParallelOption(value)),
  );
  const initial = options.find((candidate) => candidate.value === String(plan.concurrency));
  return {
    type: 'static_select',
    action_id: ActionId.ChangeParallel,
    placeholder: { type: 'plain_text', text: 'Parallel moves' },
    options,
    ...(initial ? { initial_option: initial } : {}),
  };
}

function confirmButton(run: EvacuationRun, opts: PreviewOptions): Button {
  const plan = run.plan;
  const moving = movingCount(plan);
  const counts = countByAction(plan.servers);
  const kinds = ACTION_ORDER.filter((action) => action !== 'skip' && counts[action] > 0)
    .map((action) => `${actionShort(action)} ${counts[action]}`)
    .join(', ');
  const host = escapeTruncated(plan.host, 60);
  const sentences = [
    `Move *${plural(moving, 'server')}* off *${host}* in *${plan.mode}* mode${kinds ? ` (${kinds})` : ''}.`,
    `${plan.concurrency} at a time, target: ${plan.request.targetHost ? escapeTruncated(plan.request.targetHost, 40) : 'scheduler chooses'}.`,
    counts.skip > 0
      ? `${plural(counts.skip, 'server')} ${counts.skip === 1 ? 'stays' : 'stay'} (skipped).`
      : '',
    plan.request.keepServiceEnabled ? '' : 'The compute service is disabled first.',
    opts.approvalNeeded ? 'A second authorised person must then approve.' : '',
  ];
  return button({
    text: opts.approvalNeeded
      ? `Confirm ${moving} (needs approval)`
      : `Confirm: move ${plural(moving, 'server')}`,
    actionId: ActionId.Confirm,
    value: encodeActionValue({ runId: run.id, nonce: planRevision(plan) }),
    style: 'danger',
    confirm: confirmDialog({
      title: `Evacuate ${truncate(plan.host, 80)}?`,
      text: sentences.filter((sentence) => sentence.length > 0).join(' '),
      confirm: opts.approvalNeeded ? 'Ask for approval' : 'Start',
      deny: 'Back',
      style: 'danger',
    }),
  });
}

function fencedButton(run: EvacuationRun): Button {
  const host = truncate(run.plan.host, 60);
  return button({
    text: 'Host is fenced, force it down',
    actionId: ActionId.ConfirmFenced,
    value: encodeActionValue({ runId: run.id, nonce: planRevision(run.plan) }),
    confirm: confirmDialog({
      title: `Is ${host} fenced?`,
      text:
        `Only if *${escapeTruncated(run.plan.host, 60)}* is powered off or isolated: the bot will mark its compute ` +
        'service *forced down* so Nova allows evacuation. Rebuilding servers of a host that is still running ' +
        'can corrupt their disks.',
      confirm: 'It is fenced',
      deny: 'Back',
      style: 'danger',
    }),
  });
}

function cancelButton(run: EvacuationRun): Button {
  return button({ text: 'Cancel', actionId: ActionId.Cancel, value: encodeActionValue({ runId: run.id }) });
}

/**
 * The team-visible preview of a planned run: host state, mode and why, counts, findings (blockers
 * first), the servers (problems first, cut with "…and N more (full list in the thread)"), and
 * while the run is still `planned` the controls: mode / target / parallelism selects, the fenced
 * button when the service must be forced down, Confirm (only for a runnable plan the caller may
 * start) and Cancel.
 */
export function previewMessage(run: EvacuationRun, opts: PreviewOptions): SlackMessage {
  const plan = run.plan;
  const counts = countByAction(plan.servers);
  const moving = movingCount(plan);
  const blockers = plan.findings.filter((finding) => finding.severity === 'blocker');
  const editable = run.state === 'planned' && !opts.dryRun;
  const offerConfirm = editable && plan.runnable && opts.canRun;

  const head: KnownBlock[] = [header(`Evacuation preview: ${plan.host}`)];
  const requested = [`Requested by ${userRef(run.requestedBy)} · ${slackTime(run.createdAt)}`];
  if (plan.request.reason) requested.push(`*Reason:* ${escapeTruncated(plan.request.reason, 500)}`);
  head.push(section(requested.join('\n')));
  const fields = [
    `*Compute service*\n${serviceLine(plan)}`,
    `*Mode*\n${modeName(plan.mode)}${plan.request.mode === 'auto' ? ' (auto)' : ''}`,
    `*Target*\n${targetText(plan)}`,
    `*Parallel*\n${plan.concurrency} at a time`,
    `*Servers*\n${moving} to move · ${counts.skip} skipped`,
    `*Capacity*\n${capacityLine(plan)}`,
    `*Service handling*\n${serviceHandling(plan)}`,
  ];
  if (plan.request.include?.length) {
    fields.push(`*Only*\n${plan.request.include.map((name) => escapeTruncated(name, 60)).join(', ')}`);
  }
  if (plan.request.exclude?.length) {
    fields.push(`*Excluding*\n${plan.request.exclude.map((name) => escapeTruncated(name, 60)).join(', ')}`);
  }
  if (plan.request.hostFenced) fields.push('*Fenced*\nstated by the operator');
  head.push(fieldsSection(fields));
  head.push(
    section(
      `*Why ${plan.mode}:* ${escapeTruncated(plan.modeReason, 600)}\n*Plan:* ${actionCountsLine(counts)}`,
    ),
  );
  const findingLines = sortFindings(plan.findings).map((finding) => findingLine(finding, 400));
  if (findingLines.length > 0) {
    head.push(
      ...packLines([blockers.length > 0 ? '*Blockers and warnings*' : '*Findings*', ...findingLines], {
        maxBlocks: 2,
        maxChars: 3500,
        moreLine: (hidden) => `…and ${plural(hidden, 'more finding')}`,
      }).blocks,
    );
  }
  head.push(divider());

  const notes: string[] = [];
  if (run.state !== 'planned') notes.push(`This run is ${runStateName(run.state)}.`);
  if (opts.dryRun)
    notes.push('🧪 Dry run: nothing will be moved. Run the command without `--dry-run` to confirm.');
  if (!plan.runnable) {
    notes.push(
      `⛔ This plan cannot run: ${plural(blockers.length, 'blocker')} above. Fix them or change the mode.`,
    );
  } else if (editable && !opts.canRun) {
    notes.push(
      `🔒 ${opts.cannotRunReason ? escapeTruncated(opts.cannotRunReason, 300) : 'The requester may preview this evacuation but not start it.'}`,
    );
  }
  if (plan.needsForceDown && !plan.request.hostFenced) {
    notes.push('🔌 The service is down but not forced down: evacuation needs the host fenced first.');
  }
  if (opts.approvalNeeded && offerConfirm) {
    notes.push(
      `👥 Two-person rule: after Confirm, ${approverText(opts.approvalNeeded.approvers)} must approve.`,
    );
  }
  const tail: KnownBlock[] = [];
  if (notes.length > 0) tail.push(context(notes));
  if (editable) {
    tail.push(
      actions(
        [
          modeSelect(plan),
          targetSelect(plan),
          parallelSelect(plan, opts.maxParallel ?? DEFAULT_MAX_PARALLEL),
        ],
        runBlockId(RunBlock.PlanControls, run.id, planRevision(plan)),
      ),
    );
    const buttons: Button[] = [];
    if (plan.needsForceDown && !plan.request.hostFenced) buttons.push(fencedButton(run));
    if (offerConfirm) buttons.push(confirmButton(run, opts));
    buttons.push(cancelButton(run));
    tail.push(actions(buttons));
  }

  const text = previewFallback(run);
  const used = messageTextLength({ text, blocks: [...head, ...tail] });
  const list =
    plan.servers.length === 0
      ? [section(`No servers on *${escapeTruncated(plan.host, 100)}*: nothing to move.`)]
      : packLines(previewOrder(plan.servers).map(compactServerLine), {
          maxBlocks: SlackLimits.blocksPerMessage - head.length - tail.length,
          maxChars: SlackLimits.messageTextBudget - used,
          moreLine: (hidden) => `…and ${plural(hidden, 'more server')} (full list in the thread)`,
        }).blocks;
  return { text, blocks: [...head, ...list, ...tail] };
}

function previewFallback(run: EvacuationRun): string {
  const plan = run.plan;
  const counts = countByAction(plan.servers);
  const status = plan.runnable ? '' : ' Cannot run: see the blockers.';
  return fallbackText(
    `Evacuation preview for ${escapeMrkdwn(plan.host)} by ${userRef(run.requestedBy)}: ${plural(movingCount(plan), 'server')} to move (${actionCountsLine(counts)}).${status}`,
  );
}

/** Everything known about one server, for the thread list (names in full). */
function detailedServerLines(server: PlannedServer): string {
  const lines = [
    `• ${serverLabel(server.name, 300)} ${inlineCode(server.serverId, 80)} → *${actionShort(server.action)}*`,
    `   ${escapeTruncated(server.status, 30)} · ${escapeTruncated(server.flavorName, 80)} (${server.vcpus} vCPU, ${formatRamMb(server.ramMb)}) · project ${inlineCode(server.projectId, 80)}`,
  ];
  if (server.why) lines.push(`   _${escapeTruncated(server.why, 300)}_`);
  for (const finding of sortFindings(server.findings)) lines.push(`   ${findingLine(finding, 300)}`);
  return lines.join('\n');
}

/**
 * The full server list for the preview's thread, split over as many messages as it takes (each
 * within Slack's limits), in plan order, with every name, id, finding and reason in full.
 */
export function serverListThreadMessages(run: EvacuationRun): SlackMessage[] {
  const plan = run.plan;
  const counts = countByAction(plan.servers);
  if (plan.servers.length === 0) {
    return [
      {
        text: fallbackText(`No servers on ${escapeMrkdwn(plan.host)}.`),
        blocks: [section(`No servers on *${escapeTruncated(plan.host, 200)}*: nothing to move.`)],
      },
    ];
  }
  const titleRoom = 400;
  const pages = paginateLines(plan.servers.map(detailedServerLines), {
    maxBlocks: SlackLimits.blocksPerMessage - 1,
    maxChars: SlackLimits.messageTextBudget - titleRoom,
  });
  return pages.map((page, index) => {
    const part = pages.length > 1 ? ` (part ${index + 1} of ${pages.length})` : '';
    const title = `*Servers on ${hostLabel(plan.host, 100)}*${part}: ${plural(plan.servers.length, 'server')} · ${actionCountsLine(counts)}`;
    return {
      text: fallbackText(`Servers on ${escapeMrkdwn(plan.host)}${part}`),
      blocks: [section(title), ...page.map((text) => section(text))],
    };
  });
}
