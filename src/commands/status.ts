/** `/evacuate status [HOST]`: active and recent runs with links to their status messages. */
import type { EvacuationRun } from '../engine/types.js';
import type { SlackDeps } from '../slack/context.js';
import { slackRef } from '../slack/front-end.js';
import { auditRefusal, refusal } from '../slack/middleware.js';
import { runsListMessage } from '../views/index.js';
import { commandSubject, reply, type CommandArgs } from './command-context.js';

/** How many finished runs the list shows after the active ones. */
export const RECENT_RUNS = 10;

export function runsForStatus(deps: Pick<SlackDeps, 'engine'>, host?: string): EvacuationRun[] {
  const hostFilter = host !== undefined ? { host } : {};
  const active = deps.engine.listRuns({ ...hostFilter, activeOnly: true });
  const seen = new Set(active.map((run) => run.id));
  const recent = deps.engine
    .listRuns({ ...hostFilter, limit: RECENT_RUNS + active.length + 20 })
    .filter((run) => !seen.has(run.id) && !slackRef(run)?.dryRun)
    .slice(0, RECENT_RUNS);
  return [...active, ...recent];
}

export async function showStatus(deps: SlackDeps, args: CommandArgs, host?: string): Promise<void> {
  const subject = commandSubject(args);
  const [preview, control] = await Promise.all([
    deps.authorizer.check(subject, 'preview'),
    deps.authorizer.check(subject, 'control'),
  ]);
  if (!preview.allowed && !control.allowed) {
    auditRefusal(deps, subject, '/evacuate status', 'preview', preview.reason);
    await reply(args, refusal(preview.reason));
    return;
  }
  const runs = runsForStatus(deps, host);
  await reply(
    args,
    runsListMessage(runs, (run) => slackRef(run)?.permalink ?? null),
  );
}
