/**
 * What every click listener does around its one engine call: find the run the button belongs to,
 * refuse early with a clear note when there is nothing to do, serialise clicks on the same run,
 * and turn the engine's answer (applied / duplicate / rejected, or an error) into what the
 * clicker sees.
 */
import type { BlockElementAction } from '@slack/bolt';
import type { ControlContext, ControlResult } from '../../engine/api.js';
import type { EvacuationRun } from '../../engine/types.js';
import {
  ActionValueError,
  decodeActionValue,
  decodeRunBlockId,
  type ActionContext,
} from '../../slack/action-ids.js';
import type { SlackDeps } from '../../slack/context.js';
import {
  controlContext,
  describeFailure,
  endedNote,
  notice,
  refusal,
  replyPrivately,
  type ActionArgs,
} from '../../slack/middleware.js';

/** A click that cannot be acted on, with the note for the clicker. */
export class ClickRefused extends Error {
  /** `authorisation`: the reason holds mentions and is sent as mrkdwn (see `refusal`). */
  constructor(
    message: string,
    readonly kind: 'note' | 'authorisation' = 'note',
  ) {
    super(message);
    this.name = 'ClickRefused';
  }
}

function buttonValue(action: BlockElementAction): unknown {
  return 'value' in action ? action.value : undefined;
}

/** The run a button points at (value `{ runId, … }`). Throws ClickRefused for garbage or unknown runs. */
export function buttonContext(
  deps: SlackDeps,
  action: BlockElementAction,
): { context: ActionContext; run: EvacuationRun } {
  let context: ActionContext;
  try {
    context = decodeActionValue(buttonValue(action));
  } catch (error) {
    if (error instanceof ActionValueError) {
      throw new ClickRefused(`This button is not one I can act on (${error.message}).`);
    }
    throw error;
  }
  const run = deps.engine.getRun(context.runId);
  if (!run) throw new ClickRefused('This run no longer exists; start again with /evacuate HOST.');
  return { context, run };
}

/** The run a select menu belongs to (its block_id) and the chosen option value. */
export function selectContext(
  deps: SlackDeps,
  action: BlockElementAction,
): { run: EvacuationRun; selected: string } {
  let runId: string;
  try {
    runId = decodeRunBlockId(action.block_id).runId;
  } catch (error) {
    if (error instanceof ActionValueError) {
      throw new ClickRefused(`This menu is not one I can act on (${error.message}).`);
    }
    throw error;
  }
  const selected =
    'selected_option' in action && action.selected_option && typeof action.selected_option.value === 'string'
      ? action.selected_option.value
      : undefined;
  if (selected === undefined) throw new ClickRefused('No option was selected.');
  const run = deps.engine.getRun(runId);
  if (!run) throw new ClickRefused('This run no longer exists; start again with /evacuate HOST.');
  return { run, selected };
}

/** The run's mode, for capability checks of Confirm / Approve (throws when the click is unusable). */
export function runOfButton(deps: SlackDeps, args: ActionArgs): EvacuationRun {
  return buttonContext(deps, args.action).run;
}

export function requirePlanned(run: EvacuationRun): void {
  if (run.state === 'planned') return;
  if (run.state === 'finished' || run.state === 'cancelled')
    throw new ClickRefused(`${endedNote(run)} Nothing to change.`);
  throw new ClickRefused(
    `This run was already confirmed and is ${run.state}; its plan can no longer change.`,
  );
}

export interface ControlOptions {
  /** What the click does, for logs ("stop", "retry server"). */
  what: string;
  /** Refuse with a note unless the run is in one of these states. */
  allowedStates?: ReadonlyArray<EvacuationRun['state']>;
}

/**
 * Runs one control for a click: resolves the run, serialises with other clicks on it, calls the
 * engine, refreshes the run's message when something changed, and tells the clicker privately
 * when nothing did (and why).
 */
export async function handleClick(
  deps: SlackDeps,
  args: ActionArgs,
  options: ControlOptions,
  resolveRun: () => EvacuationRun,
  apply: (run: EvacuationRun, ctx: ControlContext) => Promise<ControlResult | null>,
): Promise<void> {
  const ctx = controlContext(args.body, args.action);
  const log = deps.logger.child({
    action: args.action.action_id,
    user: args.body.user.id,
    what: options.what,
  });
  try {
    const initial = resolveRun();
    await deps.locks.run(initial.id, async () => {
      const run = deps.engine.getRun(initial.id) ?? initial;
      if (options.allowedStates && !options.allowedStates.includes(run.state)) {
        throw new ClickRefused(
          run.state === 'finished' || run.state === 'cancelled'
            ? `${endedNote(run)} Nothing to ${options.what}.`
            : `This run is ${run.state}; nothing to ${options.what} now.`,
        );
      }
      const result = await apply(run, ctx);
      if (result === null) return;
      log.info(
        { runId: run.id, outcome: result.outcome, idempotencyKey: ctx.idempotencyKey },
        'control applied',
      );
      if (result.outcome === 'applied') {
        deps.reporter.refresh(run.id);
      } else if (result.outcome === 'rejected') {
        await replyPrivately(args, notice(result.message));
      }
      // duplicate: the same click delivered twice; the first delivery already answered.
    });
  } catch (error) {
    if (error instanceof ClickRefused) {
      log.info({ reason: error.message }, 'click refused');
      await replyPrivately(
        args,
        error.kind === 'authorisation' ? refusal(error.message) : notice(error.message),
      );
      return;
    }
    log.error({ err: error }, 'control failed');
    await replyPrivately(args, notice(describeFailure(error)));
  }
}
