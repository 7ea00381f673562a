/**
 * The `/evacuate` slash command. Acknowledges at once (a malformed command is answered in the
 * acknowledgement itself; a valid one with "Planning…"), then does the work, which may need
 * Nova and take longer than Slack's 3 seconds.
 */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../slack/context.js';
import { describeFailure } from '../slack/middleware.js';
import { errorMessage } from '../views/index.js';
import { ephemeral, reply, type CommandArgs } from './command-context.js';
import { showHelp } from './help.js';
import { USAGE, parseEvacuateCommand } from './parse.js';
import { startPreview } from './preview.js';
import { showStatus } from './status.js';

export const COMMAND = '/evacuate';

export async function handleEvacuateCommand(deps: SlackDeps, args: CommandArgs): Promise<void> {
  const { command } = args;
  const parsed = parseEvacuateCommand(command.text ?? '');
  if (!parsed.ok) {
    deps.logger.info({ user: command.user_id, code: parsed.error.code }, 'command rejected by the parser');
    await args.ack(ephemeral(errorMessage(parsed.error.message, USAGE)));
    return;
  }
  const request = parsed.command;
  if (request.kind === 'evacuate') {
    const mode = request.mode === 'auto' ? '' : ` (${request.mode})`;
    await args.ack({
      response_type: 'ephemeral',
      text: `⏳ Planning the evacuation of ${request.host}${mode}${request.dryRun ? ', dry run' : ''}…`,
    });
  } else {
    await args.ack();
  }
  try {
    if (request.kind === 'help') await showHelp(deps, args);
    else if (request.kind === 'status') await showStatus(deps, args, request.host);
    else await startPreview(deps, args, request);
  } catch (error) {
    deps.logger.error({ err: error, text: command.text }, 'command failed');
    await reply(args, errorMessage(describeFailure(error)));
  }
}

export function register(app: App, deps: SlackDeps): void {
  app.command(COMMAND, async (args) => handleEvacuateCommand(deps, args));
}
