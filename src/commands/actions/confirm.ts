/**
 * Confirm on the preview: starts the run, or under the two-person rule asks for a second
 * authorised person first. The button carries the plan revision it was drawn with, so a click on
 * a plan someone changed a second earlier is refused rather than starting something unseen.
 */
import type { App } from '@slack/bolt';
import { ActionId, planRevision } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { saveSlackRef, slackRef } from '../../slack/front-end.js';
import { ackFirst, replyPrivately, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { capabilityForMode, movingServerCount } from '../../slack/render.js';
import { approvalRequestMessage } from '../../views/index.js';
import { ClickRefused, buttonContext, handleClick, requirePlanned, runOfButton } from './shared.js';

export async function confirm(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'confirm', allowedStates: ['planned'] },
    () => runOfButton(deps, args),
    async (run, ctx) => {
      requirePlanned(run);
      const { context: clicked } = buttonContext(deps, args.action);
      if (clicked.nonce !== planRevision(run.plan)) {
        deps.reporter.refresh(run.id);
        throw new ClickRefused(
          'The plan changed after this message was drawn (mode, target or parallelism). Check the updated preview and confirm again.',
        );
      }
      const approvalReason = deps.authorizer.approvalRequired(run.plan.mode, movingServerCount(run.plan));
      if (approvalReason === null) return deps.engine.confirm(run.id, ctx);

      const ref = slackRef(run);
      if (!ref) throw new ClickRefused('This run has no Slack message to attach an approval request to.');
      const revision = planRevision(run.plan);
      if (ref.approval && ref.approval.revision === revision && !ref.approval.approvedBy) {
        throw new ClickRefused(
          `Already waiting for a second authorised person to approve: ${ref.approval.reason}.`,
        );
      }
      const requester = ctx.actor;
      saveSlackRef(deps.engine, run.id, {
        approval: {
          requestedBy: requester.id,
          requestedAt: new Date().toISOString(),
          revision,
          reason: approvalReason,
        },
      });
      const ts = await deps.poster.post(
        ref.channel,
        { ...approvalRequestMessage(run, requester), thread_ts: ref.messageTs, reply_broadcast: true },
        { attempts: 3, priority: 'high' },
      );
      const current = deps.engine.getRun(run.id);
      const currentRef = current ? slackRef(current) : null;
      if (ts !== null && currentRef?.approval?.revision === revision) {
        saveSlackRef(deps.engine, run.id, { approval: { ...currentRef.approval, messageTs: ts } });
      }
      deps.logger.info({
        audit: 'approval-requested',
        runId: run.id,
        user: requester.id,
        reason: approvalReason,
      });
      await replyPrivately(args, {
        text: `Two-person rule: ${approvalReason}. I asked the channel; the run starts when someone else approves.`,
        blocks: [],
      });
      return null;
    },
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.Confirm,
    ackFirst,
    requireCapability(deps, (args) => capabilityForMode(runOfButton(deps, args).plan.mode)),
    async (args) => confirm(deps, args as ActionArgs),
  );
}
