/**
 * Approve, under the two-person rule: a second authorised person starts the run somebody else
 * confirmed. The approver needs the same right as for confirming (the run's mode), must not be
 * the person who asked, and approves the plan revision that was asked for, nothing newer.
 */
import type { App } from '@slack/bolt';
import { ActionId, planRevision } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { saveSlackRef, slackRef } from '../../slack/front-end.js';
import {
  ackFirst,
  actionSubject,
  auditRefusal,
  requireCapability,
  type ActionArgs,
} from '../../slack/middleware.js';
import { capabilityForMode } from '../../slack/render.js';
import { approvalRequestMessage } from '../../views/index.js';
import { ClickRefused, buttonContext, handleClick, requirePlanned, runOfButton } from './shared.js';

export async function approve(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'approve', allowedStates: ['planned'] },
    () => runOfButton(deps, args),
    async (run, ctx) => {
      requirePlanned(run);
      const ref = slackRef(run);
      const approval = ref?.approval;
      if (!ref || !approval) throw new ClickRefused('Nobody has asked for approval of this run.');
      const { context } = buttonContext(deps, args.action);
      if (context.nonce !== approval.revision || approval.revision !== planRevision(run.plan)) {
        throw new ClickRefused(
          'The plan changed after approval was requested. The requester has to confirm the current plan again.',
        );
      }
      if (ctx.actor.id === approval.requestedBy) {
        const reason = 'You asked for this run: a second authorised person must approve it.';
        auditRefusal(deps, actionSubject(args.body), args.action.action_id, 'own-request', reason);
        throw new ClickRefused(reason, 'authorisation');
      }
      const result = await deps.engine.confirm(run.id, {
        actor: {
          ...ctx.actor,
          name: `${ctx.actor.name ?? ctx.actor.id} (approving ${approval.requestedBy})`,
        },
        idempotencyKey: ctx.idempotencyKey,
      });
      if (result.outcome === 'applied') {
        deps.logger.info({
          audit: 'approved',
          runId: run.id,
          approver: ctx.actor.id,
          requester: approval.requestedBy,
        });
        saveSlackRef(deps.engine, run.id, {
          approval: { ...approval, approvedBy: ctx.actor.id, approvedAt: new Date().toISOString() },
        });
        if (approval.messageTs) {
          const message = approvalRequestMessage(result.run, { id: approval.requestedBy });
          await args.client.chat
            .update({
              channel: ref.channel,
              ts: approval.messageTs,
              text: message.text,
              blocks: message.blocks,
            })
            .catch((error: unknown) =>
              deps.logger.warn({ err: error }, 'could not update the approval request'),
            );
        }
      }
      return result;
    },
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.Approve,
    ackFirst,
    requireCapability(deps, (args) => capabilityForMode(runOfButton(deps, args).plan.mode)),
    async (args) => approve(deps, args as ActionArgs),
  );
}
