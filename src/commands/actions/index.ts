/** Every button and menu the bot's messages carry, registered on the app. */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../../slack/context.js';
import { register as registerApprove } from './approve.js';
import { register as registerCancel } from './cancel.js';
import { register as registerConfirm } from './confirm.js';
import { register as registerLiveMigration } from './live-migration.js';
import { register as registerPlanControls } from './plan-controls.js';
import { register as registerReenable } from './reenable.js';
import { register as registerRetry } from './retry.js';
import { register as registerStop } from './stop.js';

export function register(app: App, deps: SlackDeps): void {
  registerConfirm(app, deps);
  registerApprove(app, deps);
  registerCancel(app, deps);
  registerPlanControls(app, deps);
  registerStop(app, deps);
  registerRetry(app, deps);
  registerReenable(app, deps);
  registerLiveMigration(app, deps);
}
