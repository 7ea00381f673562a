/**
 * Block Kit view builders: pure functions from engine data to Slack messages, each within
 * Slack's limits (see `limits.ts`). The Slack app posts what they return as is.
 */
export type { SlackMessage } from './block-kit.js';
export { escapeMrkdwn } from './block-kit.js';
export { SlackLimits, checkMessageLimits, messageTextLength, type LimitViolation } from './limits.js';
export { previewMessage, serverListThreadMessages, type PreviewOptions } from './preview.js';
export { statusMessage, summaryMessage, estimateRemainingMs, runProgress } from './status.js';
export { failureThreadMessage, completionsThreadMessage, progressThreadMessage } from './thread.js';
export { runsListMessage } from './runs-list.js';
export { helpMessage, errorMessage, EVACUATE_USAGE, type HelpPermissions } from './help.js';
export { approvalRequestMessage } from './approval.js';
