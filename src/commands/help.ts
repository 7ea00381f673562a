/** `/evacuate help`: usage and flags, limited to what the caller may run. */
import type { SlackDeps } from '../slack/context.js';
import { refusal } from '../slack/middleware.js';
import { errorMessage, helpMessage } from '../views/index.js';
import { commandSubject, reply, type CommandArgs } from './command-context.js';

export async function showHelp(deps: SlackDeps, args: CommandArgs): Promise<void> {
  const subject = commandSubject(args);
  if (!deps.authorizer.channelAllowed(subject.channelId)) {
    const decision = await deps.authorizer.check(subject, 'preview');
    await reply(
      args,
      decision.allowed ? errorMessage('This channel is not one the bot acts in.') : refusal(decision.reason),
    );
    return;
  }
  const allowed = await deps.authorizer.capabilities(subject);
  await reply(args, helpMessage(allowed));
}
