/**
 * Which Slack failures are worth another try. The WebClient already retries 429 (honouring
 * Retry-After) and 5xx with backoff; what reaches our queues after that is either still transient
 * (Slack down for longer than the client's patience: try again later) or a refusal that will not
 * change (message deleted, channel archived, bot removed: stop trying).
 */

/** Slack `error` codes that a retry cannot fix. */
const PERMANENT_PLATFORM_ERRORS = new Set([
  'message_not_found',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'cant_update_message',
  'edit_window_closed',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'restricted_action',
  'thread_not_found',
  'user_not_found',
  'user_not_in_channel',
]);

/** The Slack `error` code carried by a WebClient platform error, if any. */
export function slackErrorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const data = (error as { data?: unknown }).data;
  if (data === null || typeof data !== 'object') return undefined;
  const code = (data as { error?: unknown }).error;
  return typeof code === 'string' ? code : undefined;
}

export function isPermanentSlackError(error: unknown): boolean {
  const code = slackErrorCode(error);
  return code !== undefined && PERMANENT_PLATFORM_ERRORS.has(code);
}

/** Backoff for our own re-tries after the WebClient gave up: 1 s, 2 s, 4 s … capped at 60 s. */
export function retryBackoffMs(failures: number, baseMs = 1000, capMs = 60_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
}
