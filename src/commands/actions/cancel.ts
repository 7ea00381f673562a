/**
 * Cancel on a preview (or an approval request): discards the planned run. The person who asked
 * for the preview may discard it; anyone else needs control rights.
 */
import type { App } from '@slack/bolt';
import { ActionId } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import {
  ackFirst,
  actionSubject,
  auditRefusal,
  requireCapability,
  type ActionArgs,
} from '../../slack/middleware.js';
import { ClickRefused, handleClick, runOfButton } from './shared.js';

export async function cancel(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'cancel', allowedStates: ['planned'] },
    () => runOfButton(deps, args),
    async (run, ctx) => {
      if (ctx.actor.id !== run.requestedBy) {
        const subject = actionSubject(args.body);
        const decision = await deps.authorizer.check(subject, 'control');
        if (!decision.allowed) {
          const reason = `Only the person who asked for this preview, or someone with control rights, may cancel it. ${decision.reason}`;
          auditRefusal(deps, subject, args.action.action_id, 'control', reason);
          throw new ClickRefused(reason, 'authorisation');
        }
      }
      return deps.engine.cancel(run.id, ctx);
    },
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.Cancel,
    ackFirst,
    requireCapability(deps, () => 'preview'),
    async (args) => cancel(deps, args as ActionArgs),
  );
}
