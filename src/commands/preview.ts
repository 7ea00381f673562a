/**
 * `/evacuate HOST …`: plans through the engine and posts the preview in the channel (team-visible),
 * its full server list in the thread, and stores where it is with the run. Every way this can go
 * wrong ends in a specific private answer to the person who typed the command.
 */
import { ActiveRunError, UnknownHostError } from '../engine/api.js';
import type { EvacuationRequest, EvacuationRun } from '../engine/types.js';
import type { SlackDeps } from '../slack/context.js';
import { saveSlackRef, slackRef } from '../slack/front-end.js';
import { auditRefusal, describeFailure, refusal } from '../slack/middleware.js';
import { slackErrorCode } from '../slack/slack-errors.js';
import { errorMessage, previewMessage, serverListThreadMessages } from '../views/index.js';
import { commandSubject, reply, type CommandArgs } from './command-context.js';
import { USAGE, type EvacuateOptions } from './parse.js';

/** Planning errors that are the operator's to fix: shown with the usage line. */
const INPUT_ERRORS = new Set(['PlanValidationError']);

export function toEvacuationRequest(options: EvacuateOptions, requestedBy: string): EvacuationRequest {
  const request: EvacuationRequest = {
    host: options.host,
    mode: options.mode,
    keepServiceEnabled: options.keepServiceEnabled,
    hostFenced: options.hostFenced,
    requestedBy,
  };
  if (options.targetHost !== undefined) request.targetHost = options.targetHost;
  if (options.concurrency !== undefined) request.concurrency = options.concurrency;
  if (options.include !== undefined) request.include = options.include;
  if (options.exclude !== undefined) request.exclude = options.exclude;
  if (options.reason !== undefined) request.reason = options.reason;
  return request;
}

function activeRunText(run: EvacuationRun): string {
  const ref = slackRef(run);
  const where = ref?.permalink
    ? ` Its message: ${ref.permalink}`
    : ref
      ? ' See its message in the channel.'
      : '';
  const what = run.state === 'planned' ? 'a preview waiting for confirmation' : `a run that is ${run.state}`;
  return `${run.host} already has ${what} (${run.id}, requested by ${run.requestedBy}). One run per host at a time.${where}`;
}

async function discard(deps: SlackDeps, run: EvacuationRun, userId: string, why: string): Promise<void> {
  try {
    await deps.engine.cancel(run.id, {
      actor: { id: userId },
      idempotencyKey: `slack:discard:${run.id}:${why}`,
    });
  } catch (error) {
    deps.logger.warn({ err: error, runId: run.id }, 'could not discard a preview');
  }
}

export async function startPreview(
  deps: SlackDeps,
  args: CommandArgs,
  options: EvacuateOptions,
): Promise<void> {
  const subject = commandSubject(args);
  const { command } = args;
  const decision = await deps.authorizer.check(subject, 'preview');
  if (!decision.allowed) {
    auditRefusal(deps, subject, '/evacuate', 'preview', decision.reason);
    await reply(args, refusal(decision.reason));
    return;
  }

  let run: EvacuationRun;
  try {
    run = await deps.engine.preview(toEvacuationRequest(options, command.user_id));
  } catch (error) {
    if (error instanceof UnknownHostError) {
      await reply(args, errorMessage(error.message, USAGE));
    } else if (error instanceof ActiveRunError) {
      await reply(args, errorMessage(activeRunText(error.run)));
    } else if (error instanceof Error && INPUT_ERRORS.has(error.name)) {
      await reply(args, errorMessage(error.message, USAGE));
    } else {
      deps.logger.error({ err: error, host: options.host }, 'planning failed');
      await reply(
        args,
        errorMessage(`Could not plan the evacuation of ${options.host}. ${describeFailure(error)}`),
      );
    }
    return;
  }

  const channel = command.channel_id;
  const message = options.dryRun
    ? previewMessage(run, {
        canRun: false,
        dryRun: true,
        ...(deps.maxParallel !== undefined ? { maxParallel: deps.maxParallel } : {}),
      })
    : deps.render(run);
  let ts: string | null;
  try {
    ts = await deps.poster.post(channel, message, { attempts: 2, priority: 'high' });
  } catch (error) {
    await discard(deps, run, command.user_id, 'not-posted');
    const code = slackErrorCode(error);
    const text =
      code === 'not_in_channel' || code === 'channel_not_found'
        ? 'I cannot post in this channel. Invite me first (/invite @Evacuation Bot), or use a channel I am in.'
        : `Could not post the preview: ${describeFailure(error)}`;
    await reply(args, errorMessage(text));
    return;
  }
  if (ts === null) {
    await discard(deps, run, command.user_id, 'not-posted');
    await reply(args, errorMessage('Could not post the preview (the bot is shutting down). Try again.'));
    return;
  }
  // A dry run must not hold the host: discard it before anyone could act on it.
  if (options.dryRun) await discard(deps, run, command.user_id, 'dry-run');
  saveSlackRef(deps.engine, run.id, {
    channel,
    messageTs: ts,
    ...(command.team_id ? { teamId: command.team_id } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  deps.logger.info(
    { audit: 'previewed', runId: run.id, host: run.host, user: command.user_id, dryRun: options.dryRun },
    'preview posted',
  );

  try {
    const permalink = await args.client.chat.getPermalink({ channel, message_ts: ts });
    if (typeof permalink.permalink === 'string')
      saveSlackRef(deps.engine, run.id, { permalink: permalink.permalink });
  } catch (error) {
    deps.logger.warn({ err: error, runId: run.id }, 'could not fetch the preview permalink');
  }

  for (const page of serverListThreadMessages(run)) {
    deps.poster.post(channel, { ...page, thread_ts: ts }, { attempts: 3 }).catch((error: unknown) => {
      deps.logger.warn({ err: error, runId: run.id }, 'could not post the server list to the thread');
    });
  }
}
