/** Registers the slash command and every interactive listener on a Bolt app. */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../slack/context.js';
import { register as registerActions } from './actions/index.js';
import { register as registerEvacuate } from './evacuate.js';

export function register(app: App, deps: SlackDeps): void {
  registerEvacuate(app, deps);
  registerActions(app, deps);
}
