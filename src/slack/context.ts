/**
 * What every listener gets: the engine and the Slack-side services, built once by `createSlackApp`.
 * Listeners take this as `deps` so a test can call one with fakes.
 */
import type { EvacuationEngineApi } from '../engine/api.js';
import type { EvacuationRun } from '../engine/types.js';
import type { Logger } from '../log.js';
import type { SlackMessage } from '../views/index.js';
import type { Authorizer } from './authz.js';
import type { ChannelPoster } from './channel-poster.js';
import type { KeyedLock } from './keyed-lock.js';
import type { RunReporter } from './run-reporter.js';

export interface SlackDeps {
  engine: EvacuationEngineApi;
  logger: Logger;
  authorizer: Authorizer;
  reporter: RunReporter;
  poster: ChannelPoster;
  locks: KeyedLock;
  /** The run's message as it should look now (preview or status). */
  render: (run: EvacuationRun) => SlackMessage;
  /** The engine's parallelism cap, offered as the highest choice in the preview. */
  maxParallel?: number;
}
