/**
 * Edits of one Slack message (the status message), throttled and coalesced: at most one edit
 * every `minIntervalMs` per message, intermediate states dropped, the latest always sent.
 *
 * A request does not carry the content, only a way to produce it at send time, so what goes out
 * is the state of the run at that moment, never a stale snapshot. The interval is measured from
 * the completion of one edit to the start of the next, so even when Slack (or the WebClient's
 * own 429/5xx retries) delays an edit, the edits Slack receives stay `minIntervalMs` apart.
 *
 * Failures the WebClient could not retry away are retried here with backoff (the latest state,
 * not the failed one); a permanent refusal (message deleted, channel archived) drops the key.
 */
import type { Logger } from '../log.js';
import { isPermanentSlackError, retryBackoffMs, slackErrorCode } from './slack-errors.js';

export interface CoalescingSenderOptions {
  minIntervalMs: number;
  logger: Logger;
  /** Backoff after a failed send (attempt = consecutive failures). */
  backoffMs?: (failures: number) => number;
  /** Gives up on a non-final state after this many consecutive failures (the next request revives it). */
  maxFailures?: number;
}

interface KeyState {
  send: (() => Promise<void>) | undefined;
  /** The pending state is the last one (e.g. a finished run): never give up on it. */
  final: boolean;
  inFlight: boolean;
  /** When the last send finished (successfully or not); undefined = never. */
  lastSentAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  failures: number;
  idleWaiters: Array<() => void>;
}

export class CoalescingSender {
  private readonly keys = new Map<string, KeyState>();
  private readonly backoffMs: (failures: number) => number;
  private readonly maxFailures: number;
  private stopped = false;

  constructor(private readonly options: CoalescingSenderOptions) {
    this.backoffMs = options.backoffMs ?? ((failures) => retryBackoffMs(failures));
    this.maxFailures = options.maxFailures ?? 5;
  }

  /**
   * Asks for the message `key` to be brought up to date by `send`. Replaces any pending request
   * for the same key. `final` marks the last state of the message: it is retried until it lands.
   */
  request(key: string, send: () => Promise<void>, options: { final?: boolean } = {}): void {
    if (this.stopped) return;
    let state = this.keys.get(key);
    if (state === undefined) {
      state = {
        send: undefined,
        final: false,
        inFlight: false,
        lastSentAt: undefined,
        timer: undefined,
        failures: 0,
        idleWaiters: [],
      };
      this.keys.set(key, state);
    }
    state.send = send;
    state.final ||= options.final === true;
    this.schedule(key, state, 0);
  }

  /** Resolves when `key` (or every key) has nothing pending or in flight. */
  async idle(key?: string): Promise<void> {
    const states =
      key === undefined ? [...this.keys.values()] : [this.keys.get(key)].filter((s) => s !== undefined);
    await Promise.all(
      states.map(
        (state) =>
          new Promise<void>((resolve) => {
            if (this.isIdle(state)) resolve();
            else state.idleWaiters.push(resolve);
          }),
      ),
    );
  }

  /** Drops everything pending (shutdown). In-flight sends finish on their own. */
  stop(): void {
    this.stopped = true;
    for (const state of this.keys.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      state.send = undefined;
      this.notifyIdle(state);
    }
  }

  private isIdle(state: KeyState): boolean {
    return state.send === undefined && !state.inFlight && state.timer === undefined;
  }

  private notifyIdle(state: KeyState): void {
    if (!this.isIdle(state)) return;
    const waiters = state.idleWaiters.splice(0);
    for (const waiter of waiters) waiter();
  }

  private schedule(key: string, state: KeyState, extraDelayMs: number): void {
    if (state.inFlight || state.timer !== undefined || state.send === undefined || this.stopped) return;
    const earliest = state.lastSentAt === undefined ? 0 : state.lastSentAt + this.options.minIntervalMs;
    const delay = Math.max(0, earliest - Date.now(), extraDelayMs);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.run(key, state);
    }, delay);
  }

  private async run(key: string, state: KeyState): Promise<void> {
    const send = state.send;
    if (send === undefined || this.stopped) {
      this.notifyIdle(state);
      return;
    }
    const wasFinal = state.final;
    state.send = undefined;
    state.final = false;
    state.inFlight = true;
    let retryDelay = 0;
    try {
      await send();
      state.failures = 0;
    } catch (error) {
      if (isPermanentSlackError(error)) {
        this.options.logger.error(
          { err: error, key, slackError: slackErrorCode(error) },
          'Slack refused the message update for good; dropping it',
        );
        state.failures = 0;
      } else {
        state.failures += 1;
        const giveUp = !wasFinal && state.failures >= this.maxFailures;
        this.options.logger.warn(
          { err: error, key, failures: state.failures, final: wasFinal, giveUp },
          'message update failed; the latest state will be sent again',
        );
        if (giveUp) {
          state.failures = 0;
        } else {
          // Keep a newer request if one arrived meanwhile; otherwise resend what failed.
          if (state.send === undefined) state.send = send;
          state.final ||= wasFinal;
          retryDelay = this.backoffMs(state.failures);
        }
      }
    } finally {
      state.inFlight = false;
      state.lastSentAt = Date.now();
    }
    this.schedule(key, state, retryDelay);
    this.notifyIdle(state);
  }
}
