/**
 * Listener middleware shared by every click: acknowledge first (Slack's 3 seconds), then check
 * the clicker against the policy for what the button does (anyone who can see a message can click
 * it), refusing privately and leaving an audit line.
 */
import type {
  AllMiddlewareArgs,
  BlockAction,
  BlockElementAction,
  Middleware,
  RespondArguments,
  SlackActionMiddlewareArgs,
} from '@slack/bolt';
import type { Actor, ControlContext } from '../engine/api.js';
import type { EvacuationRun } from '../engine/types.js';
import { OpenStackError } from '../nova/errors.js';
import { errorMessage, type SlackMessage } from '../views/index.js';
import type { Subject } from './authz.js';
import type { SlackDeps } from './context.js';
import type { Capability } from './policy.js';

export type ActionArgs = SlackActionMiddlewareArgs<BlockAction<BlockElementAction>> & AllMiddlewareArgs;
export type ActionMiddleware = Middleware<SlackActionMiddlewareArgs<BlockAction<BlockElementAction>>>;

/** Acknowledge before anything that could take time (policy lookups, the engine, Nova). */
export const ackFirst: ActionMiddleware = async ({ ack, next }) => {
  await ack();
  await next();
};

export function actionSubject(body: BlockAction): Subject {
  return { userId: body.user.id, channelId: body.channel?.id };
}

export function actorOf(body: BlockAction): Actor {
  const name = body.user.username ?? body.user.name;
  return name ? { id: body.user.id, name } : { id: body.user.id };
}

/**
 * The click's idempotency key: Slack re-delivers a payload it thinks was lost with the same
 * message, action and action_ts, so a re-delivery maps to the same key and the engine answers
 * `duplicate`. A genuine second click has a new action_ts: the run's state decides that one.
 */
export function clickKey(body: BlockAction, action: BlockElementAction): string {
  const messageTs = typeof body.container?.message_ts === 'string' ? body.container.message_ts : '';
  return `slack:${messageTs}:${action.action_id}:${action.action_ts}:${body.user.id}`;
}

export function controlContext(body: BlockAction, action: BlockElementAction): ControlContext {
  return { actor: actorOf(body), idempotencyKey: clickKey(body, action) };
}

/** The thread the clicked message is in, so a private reply appears next to it. */
function threadOf(body: BlockAction): string | undefined {
  const threadTs = body.message?.thread_ts;
  return typeof threadTs === 'string' ? threadTs : undefined;
}

/**
 * A reply only the clicker sees: through the interaction's response_url, or chat.postEphemeral
 * when that fails (response_urls expire after 30 minutes and 5 uses).
 */
export async function replyPrivately(
  args: Pick<ActionArgs, 'body' | 'respond' | 'client' | 'logger'>,
  message: SlackMessage,
): Promise<void> {
  const payload: RespondArguments =
    message.blocks.length > 0
      ? { response_type: 'ephemeral', replace_original: false, text: message.text, blocks: message.blocks }
      : { response_type: 'ephemeral', replace_original: false, text: message.text };
  try {
    await args.respond(payload);
    return;
  } catch (error) {
    args.logger.warn({ err: error }, 'response_url failed; falling back to chat.postEphemeral');
  }
  const channel = args.body.channel?.id;
  if (!channel) return;
  const thread = threadOf(args.body);
  try {
    await args.client.chat.postEphemeral({
      channel,
      user: args.body.user.id,
      text: message.text,
      ...(message.blocks.length > 0 ? { blocks: message.blocks } : {}),
      ...(thread ? { thread_ts: thread } : {}),
    });
  } catch (error) {
    args.logger.error({ err: error }, 'could not reply privately to a click');
  }
}

/** A note about something that did not happen; `text` may hold anything (it is escaped). */
export function notice(text: string): SlackMessage {
  return errorMessage(text);
}

/**
 * An authorisation refusal. Its reason is built by the authorizer from validated Slack ids only,
 * with mentions (`<#C…>`, `<@U…>`, `<!subteam^S…>`) that must render, so it is sent as mrkdwn text.
 */
export function refusal(reason: string): SlackMessage {
  return { text: `🔒 ${reason}`, blocks: [] };
}

/** What to tell the clicker when something failed underneath: Nova's words, never a stack trace. */
export function describeFailure(error: unknown): string {
  if (error instanceof OpenStackError) {
    const requestId = error.requestId ? ` (request id ${error.requestId})` : '';
    return `OpenStack refused: ${error.serviceMessage ?? error.message}${requestId}`;
  }
  if (error instanceof Error && error.message) return `That did not work: ${error.message}`;
  return 'That did not work, for a reason I could not determine. The details are in the bot log.';
}

/**
 * Refuses the click unless the clicker has the capability the action needs. `capabilityFor` gets
 * the click and may look up the run (e.g. Confirm needs the run's mode); returning null skips
 * the check for listeners that decide themselves (e.g. Cancel: the requester, or control rights).
 */
export function requireCapability(
  deps: SlackDeps,
  capabilityFor: (args: ActionArgs) => Capability | Capability[] | null,
): ActionMiddleware {
  return async (args) => {
    const full = args as ActionArgs;
    let needed: Capability[];
    try {
      const capability = capabilityFor(full);
      needed = capability === null ? [] : Array.isArray(capability) ? capability : [capability];
    } catch (error) {
      // The button itself is unusable (garbled value, unknown run): the listener explains.
      deps.logger.debug({ err: error }, 'capability check deferred to the listener');
      needed = [];
    }
    const subject = actionSubject(full.body);
    for (const capability of needed) {
      const decision = await deps.authorizer.check(subject, capability);
      if (!decision.allowed) {
        auditRefusal(deps, subject, full.action.action_id, capability, decision.reason);
        await replyPrivately(full, refusal(decision.reason));
        return;
      }
    }
    await full.next();
  };
}

export function auditRefusal(
  deps: Pick<SlackDeps, 'logger'>,
  subject: Subject,
  action: string,
  capability: Capability | 'channel' | 'own-request',
  reason: string,
): void {
  deps.logger.warn(
    { audit: 'refused', user: subject.userId, channel: subject.channelId, action, capability, reason },
    'authorisation refused',
  );
}

/** When the run ended, for "nothing to do" notes. */
export function endedNote(run: EvacuationRun): string {
  const when = run.finishedAt
    ? ` at ${run.finishedAt
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
        .replace(/Z$/, ' UTC')}`
    : '';
  return run.state === 'cancelled' ? `This run was cancelled${when}.` : `This run finished${when}.`;
}
