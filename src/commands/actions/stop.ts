/** Stop on the status message: no new moves start; the ones in flight finish. */
import type { App } from '@slack/bolt';
import { ActionId } from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { ackFirst, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { handleClick, runOfButton } from './shared.js';

export async function stop(deps: SlackDeps, args: ActionArgs): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'stop', allowedStates: ['confirmed', 'running'] },
    () => runOfButton(deps, args),
    (run, ctx) => deps.engine.stop(run.id, ctx),
  );
}

export function register(app: App, deps: SlackDeps): void {
  app.action(
    ActionId.Stop,
    ackFirst,
    requireCapability(deps, () => 'control'),
    async (args) => stop(deps, args as ActionArgs),
  );
}
