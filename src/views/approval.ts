/**
 * The two-person rule: after the requester confirms, a second authorised person approves.
 */
import type { Actor } from '../engine/api.js';
import type { EvacuationRun } from '../engine/types.js';
import { ActionId, encodeActionValue, planRevision } from '../slack/action-ids.js';
import {
  type KnownBlock,
  type SlackMessage,
  actions,
  button,
  confirmDialog,
  context,
  escapeMrkdwn,
  escapeTruncated,
  fallbackText,
  header,
  section,
  truncate,
} from './block-kit.js';
import { hostLabel, plural, runStateName, userRef } from './format.js';
import { actionCountsLine, countByAction } from './preview.js';

/**
 * Asks for a second authorised person: what will happen (host, servers, mode, parallelism,
 * reason), who asked, and Approve (carrying the plan revision, so an approval of an outdated plan
 * can be refused) and Cancel while the run still waits. The Slack app decides who may approve:
 * the requester must not approve their own run.
 */
export function approvalRequestMessage(run: EvacuationRun, requester: Actor): SlackMessage {
  const plan = run.plan;
  const counts = countByAction(plan.servers);
  const moving = plan.servers.length - counts.skip;
  const waiting = run.state === 'planned';
  const blocks: KnownBlock[] = [header(`Approval needed: evacuate ${plan.host}`)];
  const lines = [
    `${userRef(requester.id)} wants to move *${plural(moving, 'server')}* off *${hostLabel(plan.host, 100)}* in *${plan.mode}* mode, ${plan.concurrency} at a time (${actionCountsLine(counts)}).`,
  ];
  if (plan.request.targetHost) lines.push(`Target: ${hostLabel(plan.request.targetHost, 100)}`);
  if (plan.request.reason) lines.push(`*Reason:* ${escapeTruncated(plan.request.reason, 500)}`);
  const blockers = plan.findings.filter((finding) => finding.severity === 'blocker').length;
  const warnings =
    plan.findings.filter((finding) => finding.severity === 'warning').length +
    plan.servers.reduce(
      (sum, server) => sum + server.findings.filter((f) => f.severity === 'warning').length,
      0,
    );
  if (blockers + warnings > 0) {
    lines.push(`${plural(blockers, 'blocker')}, ${plural(warnings, 'warning')}: see the preview.`);
  }
  blocks.push(section(lines.join('\n')));
  if (waiting) {
    blocks.push(
      context(['👥 Waiting for a second authorised person: the requester cannot approve their own run.']),
    );
    blocks.push(
      actions([
        button({
          text: 'Approve',
          actionId: ActionId.Approve,
          value: encodeActionValue({ runId: run.id, nonce: planRevision(plan) }),
          style: 'primary',
          confirm: confirmDialog({
            title: `Approve evacuating ${truncate(plan.host, 70)}?`,
            text: `${plural(moving, 'server')} move off *${escapeTruncated(plan.host, 60)}* as soon as you approve (${plan.mode} mode, ${plan.concurrency} at a time).`,
            confirm: 'Approve and start',
            deny: 'Back',
            style: 'primary',
          }),
        }),
        button({ text: 'Cancel', actionId: ActionId.Cancel, value: encodeActionValue({ runId: run.id }) }),
      ]),
    );
  } else {
    blocks.push(context([`No longer waiting: this run is ${runStateName(run.state)}.`]));
  }
  return {
    text: fallbackText(
      `${userRef(requester.id)} asks for approval to evacuate ${escapeMrkdwn(plan.host)} (${plural(moving, 'server')}). Waiting for a second authorised person.`,
    ),
    blocks,
  };
}
