/**
 * What the Slack side stores with a run (`engine.setFrontEnd`): where its messages are, so that
 * after a restart the status message is still edited in place and clicks still find their run.
 * Stored under the `slack` key; read back through zod (the engine stores it as opaque JSON).
 */
import { z } from 'zod';
import type { EvacuationEngineApi } from '../engine/api.js';
import type { EvacuationRun } from '../engine/types.js';

const approvalSchema = z.object({
  /** Who clicked Confirm and is waiting for a second person. */
  requestedBy: z.string(),
  requestedAt: z.string(),
  /** planRevision of the plan that was confirmed: Approve must match it. */
  revision: z.string(),
  reason: z.string(),
  /** The approval request message (thread reply, broadcast). */
  messageTs: z.string().optional(),
  approvedBy: z.string().optional(),
  approvedAt: z.string().optional(),
});

export const slackRunRefSchema = z.object({
  channel: z.string(),
  /** The preview, later the status message. */
  messageTs: z.string(),
  permalink: z.string().optional(),
  teamId: z.string().optional(),
  dryRun: z.boolean().optional(),
  /** The end-of-run summary (edited when the host is re-enabled). */
  summaryTs: z.string().optional(),
  approval: approvalSchema.optional(),
});

export type SlackRunRef = z.infer<typeof slackRunRefSchema>;
export type ApprovalState = z.infer<typeof approvalSchema>;

/** The run's Slack references, or null for runs started elsewhere (or stored by an older version). */
export function slackRef(run: EvacuationRun): SlackRunRef | null {
  const parsed = slackRunRefSchema.safeParse(run.frontEnd?.slack);
  return parsed.success ? parsed.data : null;
}

/** Stores `patch` merged into the run's Slack references, keeping other front ends' data. */
export function saveSlackRef(
  engine: Pick<EvacuationEngineApi, 'setFrontEnd' | 'getRun'>,
  runId: string,
  patch: Partial<SlackRunRef> & Pick<SlackRunRef, 'channel' | 'messageTs'>,
): SlackRunRef;
export function saveSlackRef(
  engine: Pick<EvacuationEngineApi, 'setFrontEnd' | 'getRun'>,
  runId: string,
  patch: Partial<SlackRunRef>,
): SlackRunRef | null;
export function saveSlackRef(
  engine: Pick<EvacuationEngineApi, 'setFrontEnd' | 'getRun'>,
  runId: string,
  patch: Partial<SlackRunRef>,
): SlackRunRef | null {
  const run = engine.getRun(runId);
  const frontEnd = run?.frontEnd ?? {};
  const current = run ? slackRef(run) : null;
  const merged = slackRunRefSchema.safeParse({ ...(current ?? {}), ...patch });
  if (!merged.success) return null;
  engine.setFrontEnd(runId, { ...frontEnd, slack: merged.data });
  return merged.data;
}
