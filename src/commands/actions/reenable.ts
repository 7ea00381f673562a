/** Re-enable host on the summary: enables the compute service the run disabled. */
import type { App } from '@slack/bolt';
import { ActionId } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { ackFirst, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { handleClick, runOfButton } from './shared.js';

export async function reenable(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 're-enable' },
    () => runOfButton(deps, args),
    (run, ctx) => deps.engine.reenableService(run.id, ctx),
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.ReenableHost,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => reenable(deps, args as ActionArgs),
  );
}
