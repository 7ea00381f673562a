/**
 * The preview's controls: mode, target and parallelism selects, and "Host is fenced". Each
 * re-plans through the engine and redraws the preview; nothing moves until Confirm. Changing the
 * plan outdates a pending approval (the approver must approve what will run).
 */
import type { App } from '@slack/bolt';
import type { PlanChanges } from '../../engine/api.js';
import {
  ActionId,
  ActionValueError,
  decodeModeOption,
  decodeParallelOption,
  decodeTargetOption,
} from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import { slackRef } from '../../slack/front-end.js';
import { ackFirst, requireCapability, type ActionArgs } from '../../slack/middleware.js';
import { ClickRefused, handleClick, requirePlanned, runOfButton, selectContext } from './shared.js';

function decodeChange(actionId: string, selected: string): PlanChanges {
  try {
    if (actionId === ActionId.ChangeMode) return { mode: decodeModeOption(selected) };
    if (actionId === ActionId.ChangeTarget) return { targetHost: decodeTargetOption(selected) };
    return { concurrency: decodeParallelOption(selected) };
  } catch (error) {
    if (error instanceof ActionValueError) throw new ClickRefused(error.message);
    throw error;
  }
}

export async function changePlan(
  deps: SlackDeps,
  args: ActionArgs,
  changesOf: () => PlanChanges,
  resolve: () => ReturnType<typeof runOfButton>,
): Promise<void> {
  await handleClick(
    deps,
    args,
    { what: 'change the plan', allowedStates: ['planned'] },
    resolve,
    async (run, ctx) => {
      requirePlanned(run);
      const result = await deps.engine.updatePlan(run.id, changesOf(), ctx);
      const approval = slackRef(result.run)?.approval;
      if (result.outcome === 'applied' && approval && !approval.approvedBy) {
        // The pending request names the old plan revision, so Approve now refuses; Confirm asks again.
        deps.logger.info(
          { audit: 'approval-outdated', runId: run.id, user: ctx.actor.id },
          'plan changed under a pending approval',
        );
      }
      return result;
    },
  );
}

export function register(app: App, deps: SlackDeps): void {
  for (const actionId of [ActionId.ChangeMode, ActionId.ChangeTarget, ActionId.ChangeParallel]) {
    app.action(
      actionId,
      ackFirst,
      requireCapability(deps, () => 'preview'),
      async (raw) => {
        const args = raw as ActionArgs;
        await changePlan(
          deps,
          args,
          () => decodeChange(actionId, selectContext(deps, args.action).selected),
          () => selectContext(deps, args.action).run,
        );
      },
    );
  }
  // Stating the host is fenced lets the engine force the service down: an evacuation-level decision.
  app.action(
    ActionId.ConfirmFenced,
    ackFirst,
    requireCapability(deps, () => 'evacuate'),
    async (raw) => {
      const args = raw as ActionArgs;
      await changePlan(
        deps,
        args,
        () => ({ hostFenced: true }),
        () => runOfButton(deps, args),
      );
    },
  );
}
