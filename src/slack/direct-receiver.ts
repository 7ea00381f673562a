/**
 * A Bolt receiver that takes payloads handed to it in-process instead of from Slack's servers:
 * the tests, the benchmark and the local workspace (a local Slack look-alike) deliver slash
 * commands and clicks through it and go through exactly the listeners production uses.
 *
 * It behaves like Slack on the other end of a real receiver: the delivery resolves when the
 * listener acknowledges (with whatever it acknowledged with), and a delivery not acknowledged
 * within Slack's 3 seconds is reported as such.
 */
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from '../log.js';

/** Slack shows "operation_timeout" to the user when an app takes longer than this to acknowledge. */
export const SLACK_ACK_DEADLINE_MS = 3000;

export interface DeliveryResult {
  /** Whether the listener acknowledged within the deadline. */
  acknowledged: boolean;
  /** What `ack()` was called with (e.g. an ephemeral message for a slash command), if anything. */
  ackBody: unknown;
  /** Milliseconds from delivery to acknowledgement (or to the deadline). */
  ackMs: number;
  /** Settles when every listener has finished (errors are logged, never thrown here). */
  done: Promise<void>;
}

export interface DirectReceiverOptions {
  logger?: Logger;
  ackDeadlineMs?: number;
}

export class DirectReceiver implements Receiver {
  private app: App | undefined;
  private readonly ackDeadlineMs: number;

  constructor(private readonly options: DirectReceiverOptions = {}) {
    this.ackDeadlineMs = options.ackDeadlineMs ?? SLACK_ACK_DEADLINE_MS;
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /**
   * Hands a payload (slash command body, `block_actions` body, event envelope) to the app, as
   * Slack would after parsing the form or JSON. Resolves at acknowledgement or at the deadline.
   */
  async deliver(body: Record<string, unknown>): Promise<DeliveryResult> {
    const app = this.app;
    if (app === undefined)
      throw new Error('DirectReceiver: the app has not been initialised with this receiver');
    const started = performance.now();
    let acked = false;
    let ackBody: unknown;
    let ackMs = 0;
    let settleAck: () => void = () => undefined;
    const ackSeen = new Promise<void>((resolve) => {
      settleAck = resolve;
    });
    const event: ReceiverEvent = {
      body,
      ack: async (response?: unknown) => {
        if (acked) {
          this.options.logger?.warn(
            { type: body.type },
            'listener acknowledged twice; the second ack is ignored',
          );
          return;
        }
        acked = true;
        ackBody = response;
        ackMs = performance.now() - started;
        settleAck();
      },
    };
    const done = app.processEvent(event).catch((error: unknown) => {
      this.options.logger?.error({ err: error }, 'listener failed');
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.ackDeadlineMs);
    });
    // A listener that finishes without acking is as bad as one that acks late: stop waiting then.
    await Promise.race([ackSeen, deadline, done.then(() => undefined)]);
    clearTimeout(timer);
    return {
      acknowledged: acked,
      ackBody,
      ackMs: acked ? ackMs : performance.now() - started,
      done,
    };
  }
}
