/** Slash-command listener arguments and the helpers every sub-command shares. */
import type { AllMiddlewareArgs, RespondArguments, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { Subject } from '../slack/authz.js';
import type { SlackMessage } from '../views/index.js';

export type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

export function commandSubject(args: Pick<CommandArgs, 'command'>): Subject {
  return { userId: args.command.user_id, channelId: args.command.channel_id };
}

/** An answer only the person who typed the command sees. */
export function ephemeral(message: SlackMessage): RespondArguments {
  if (message.blocks.length === 0) return { response_type: 'ephemeral', text: message.text };
  return { response_type: 'ephemeral', text: message.text, blocks: message.blocks };
}

export async function reply(
  args: Pick<CommandArgs, 'respond' | 'logger'>,
  message: SlackMessage,
): Promise<void> {
  try {
    await args.respond(ephemeral(message));
  } catch (error) {
    args.logger.error({ err: error }, 'could not answer the command through its response_url');
  }
}
