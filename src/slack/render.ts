/**
 * Which message a run shows in its channel slot: the preview while it is planned (and for a
 * preview discarded before it started), the status message from confirmation on. One function,
 * used by the command, the click listeners and the reporter, so they never disagree.
 */
import type { EvacuationPlan, EvacuationRun, RequestedMode } from '../engine/types.js';
import { previewMessage, statusMessage, type PreviewOptions, type SlackMessage } from '../views/index.js';
import { describeCapability, type Authorizer } from './authz.js';
import { slackRef } from './front-end.js';
import type { Capability } from './policy.js';

export interface RenderContext {
  authorizer: Authorizer;
  /** Highest parallelism the preview offers (the engine's cap). */
  maxParallel?: number;
  now?: () => Date;
}

/** The capability needed to start a run in this mode. */
export function capabilityForMode(mode: Exclude<RequestedMode, 'auto'>): Capability {
  return mode;
}

export function movingServerCount(plan: EvacuationPlan): number {
  return plan.servers.filter((server) => server.action !== 'skip').length;
}

export function previewOptions(run: EvacuationRun, ctx: RenderContext): PreviewOptions {
  const ref = slackRef(run);
  const options: PreviewOptions = { canRun: false };
  if (ctx.maxParallel !== undefined) options.maxParallel = ctx.maxParallel;
  if (ref?.dryRun) return { ...options, dryRun: true };
  const capability = capabilityForMode(run.plan.mode);
  options.canRun = ctx.authorizer.grantedToAnyone(capability);
  if (!options.canRun) {
    options.cannotRunReason = `Nobody may ${describeCapability(capability)} under the current policy.`;
  }
  if (ctx.authorizer.approvalRequired(run.plan.mode, movingServerCount(run.plan)) !== null) {
    options.approvalNeeded = {};
  }
  return options;
}

export function renderRunMessage(run: EvacuationRun, ctx: RenderContext): SlackMessage {
  const neverStarted = run.state === 'planned' || (run.state === 'cancelled' && run.startedAt === null);
  if (neverStarted || slackRef(run)?.dryRun) return previewMessage(run, previewOptions(run, ctx));
  return statusMessage(run, ctx.now ? ctx.now() : new Date());
}
