/** Abort and Force complete on a slow live migration's progress post in the thread. */
import type { App } from '@slack/bolt';
import { ActionId } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { ackFirst, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { ClickRefused, buttonContext, handleClick, runOfButton } from './shared.js';

function serverOf(deps: SlackDeps, args: ActionArgs): string {
  const { context } = buttonContext(deps, args.action);
  if (!context.serverId) throw new ClickRefused('This button does not say which server it is for.');
  return context.serverId;
}

export async function abortMigration(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'abort', allowedStates: ['running', 'stopping'] },
    () => runOfButton(deps, args),
    (run, ctx) => deps.engine.abortLiveMigration(run.id, serverOf(deps, args), ctx),
  );
}

export async function forceComplete(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'force complete', allowedStates: ['running', 'stopping'] },
    () => runOfButton(deps, args),
    (run, ctx) => deps.engine.forceCompleteLiveMigration(run.id, serverOf(deps, args), ctx),
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.AbortMigration,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => abortMigration(deps, args as ActionArgs),
  );
  app.action(
    ActionId.ForceComplete,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => forceComplete(deps, args as ActionArgs),
  );
}
