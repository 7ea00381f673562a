/**
 * Retry buttons: one server (from its failure in the thread, optionally as a cold migration) or
 * every failed server (from the summary). The engine re-plans each from its current state.
 */
import type { App } from '@slack/bolt';
import { ActionId } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { ackFirst, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { ClickRefused, buttonContext, handleClick, runOfButton } from './shared.js';

function serverOf(deps: SlackDeps, args: ActionArgs): string {
  const { context } = buttonContext(deps, args.action);
  if (!context.serverId) throw new ClickRefused('This button does not say which server to retry.');
  return context.serverId;
}

export async function retryServer(deps: SlackDeps, args: ActionArgs, asCold: boolean): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: asCold ? 'retry as cold migration' : 'retry' },
    () => runOfButton(deps, args),
    (run, ctx) =>
      deps.engine.retryServer(run.id, serverOf(deps, args), ctx, asCold ? { as: 'cold-migrate' } : undefined),
  );
}

export async function retryFailed(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'retry' },
    () => runOfButton(deps, args),
    (run, ctx) => deps.engine.retryFailed(run.id, ctx),
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.RetryServer,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => retryServer(deps, args as ActionArgs, false),
  );
  app.action(
    ActionId.RetryServerAsCold,
    ackFirst,
    requireCapability(deps, () => ['control', 'cold']),
    async (args) => retryServer(deps, args as ActionArgs, true),
  );
  app.action(
    ActionId.RetryFailed,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => retryFailed(deps, args as ActionArgs),
  );
}
