/**
 * A Bolt `Receiver` for the local workspace. Slack delivers slash commands and button clicks as
 * payloads to a receiver, which hands them to `app.processEvent`; this one builds the same
 * payloads from what the person did on the local page, so the bot's real listeners (and their
 * middleware: authorisation, idempotency) run unchanged.
 */
import { randomBytes } from 'node:crypto';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from '../log.js';
import type { BlockJson, StoredMessage } from './model.js';
import { SlackApiError, type LocalSlackState } from './slack-state.js';
import { messageJson } from './web-api.js';

/** Slack waits three seconds for the acknowledgement, then tells the person the app failed. */
export const SLACK_ACK_TIMEOUT_MS = 3000;
const STOP_GRACE_MS = 5000;

export interface DispatchResult {
  acknowledged: boolean;
  /** How long the app took to acknowledge (ms), or null if it never did. */
  ackMs: number | null;
  /** Set when Slack would have shown an error to the person (timeout, no listener, crash). */
  error: string | null;
}

export interface SlashCommandInput {
  userId: string;
  channelId: string;
  /** Including the slash: `/evacuate`. */
  command: string;
  text: string;
}

export interface BlockActionInput {
  userId: string;
  channelId: string;
  messageTs: string;
  blockId: string;
  actionId: string;
  /** For selects: the chosen option's value. */
  selectedValue?: string;
  /**
   * The page's current choice in every select of the message (block id → action id → value),
   * sent as `state.values` like Slack does.
   */
  selections?: Record<string, Record<string, string>>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface FoundElement {
  element: Json;
  blockId: string;
}

/** Every interactive element of a message with the block it sits in. */
function interactiveElements(blocks: BlockJson[]): FoundElement[] {
  const found: FoundElement[] = [];
  for (const block of blocks) {
    const blockId = typeof block.block_id === 'string' ? block.block_id : '';
    if (block.type === 'actions' && Array.isArray(block.elements)) {
      for (const element of block.elements) if (isObject(element)) found.push({ element, blockId });
    }
    if (block.type === 'section' && isObject(block.accessory))
      found.push({ element: block.accessory, blockId });
  }
  return found;
}

function selectOptions(element: Json): Json[] {
  if (Array.isArray(element.options)) return element.options.filter(isObject);
  if (Array.isArray(element.option_groups)) {
    return element.option_groups
      .filter(isObject)
      .flatMap((group) => (Array.isArray(group.options) ? group.options.filter(isObject) : []));
  }
  return [];
}

function optionValue(option: unknown): string | null {
  return isObject(option) && typeof option.value === 'string' ? option.value : null;
}

/** Slack's action_ts: seconds with microseconds, unique per click. */
function actionTs(): string {
  const micros = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
}

export interface LocalReceiverOptions {
  state: LocalSlackState;
  /** The base URL response_urls point at (the workspace server), known once it listens. */
  publicUrl: () => string;
  logger: Logger;
  ackTimeoutMs?: number;
}

export class LocalReceiver implements Receiver {
  private app: App | null = null;
  private started = false;
  private readonly state: LocalSlackState;
  private readonly publicUrl: () => string;
  private readonly logger: Logger;
  private readonly ackTimeoutMs: number;
  /** Listeners still running after their ack: awaited on stop so nothing is cut mid-flight. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: LocalReceiverOptions) {
    this.state = options.state;
    this.publicUrl = options.publicUrl;
    this.logger = options.logger;
    this.ackTimeoutMs = options.ackTimeoutMs ?? SLACK_ACK_TIMEOUT_MS;
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {
    if (!this.app)
      throw new Error('LocalReceiver.start() before init(app): pass it as `receiver` to the Bolt App');
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    // Let listeners that are mid-way finish their Slack calls, but never hold up a shutdown for long.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    clearTimeout(timer);
  }

  get isStarted(): boolean {
    return this.started;
  }

  private user(userId: string) {
    const user = this.state.findUser(userId);
    if (!user) throw new SlackApiError('user_not_found', [`No local user ${userId}`]);
    return user;
  }

  private responseUrl(token: string): string {
    return `${this.publicUrl()}/response/${token}`;
  }

  private baseBody(userId: string, channelId: string): Json {
    const { directory } = this.state;
    return {
      token: 'local-verification-token',
      team_id: directory.teamId,
      api_app_id: directory.bot.appId,
      is_enterprise_install: false,
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
      user_id: userId,
      channel_id: channelId,
    };
  }

  /** `/evacuate host-2` typed in the composer, delivered as Slack's slash-command payload. */
  async slashCommand(input: SlashCommandInput): Promise<DispatchResult> {
    const user = this.user(input.userId);
    const channel = this.state.resolveChannel(input.channelId);
    const { directory } = this.state;
    const token = this.state.createResponseTarget({
      channel: channel.id,
      userId: user.id,
      messageTs: null,
      messageIsEphemeral: false,
      threadTs: null,
    });
    const body: Json = {
      ...this.baseBody(user.id, channel.id),
      team_domain: directory.teamDomain,
      channel_name: channel.name,
      user_name: user.name,
      command: input.command,
      text: input.text,
      response_url: this.responseUrl(token),
    };
    return this.dispatch(
      body,
      (response) => this.showCommandAck(response, channel.id, user.id),
      () => {
        this.state.post({
          channel: channel.id,
          user: directory.bot.userId,
          botId: directory.bot.botId,
          text: `\`${input.command}\` failed with the error "operation_timeout"`,
          ephemeralTo: user.id,
        });
      },
    );
  }

  /** A click on a button or a choice in a select, delivered as a `block_actions` payload. */
  async blockAction(input: BlockActionInput): Promise<DispatchResult> {
    const user = this.user(input.userId);
    const channel = this.state.resolveChannel(input.channelId);
    const message = this.state.getMessage(channel.id, input.messageTs);
    if (!message || (message.ephemeralTo !== null && message.ephemeralTo !== user.id)) {
      throw new SlackApiError('message_not_found');
    }
    const elements = interactiveElements(message.blocks);
    // The page may have shown an earlier version of a message the bot has just edited: like
    // Slack, deliver the click if the element is still there, even in another block.
    const sameAction = elements.filter((candidate) => candidate.element.action_id === input.actionId);
    const found =
      sameAction.find((candidate) => candidate.blockId === input.blockId) ??
      (sameAction.length === 1 ? sameAction[0] : undefined);
    if (!found)
      throw new SlackApiError('action_not_found', [`No element ${input.actionId} in block ${input.blockId}`]);
    const action = this.actionPayload(found, input);
    const { directory } = this.state;
    const token = this.state.createResponseTarget({
      channel: channel.id,
      userId: user.id,
      messageTs: message.ts,
      messageIsEphemeral: message.ephemeralTo !== null,
      threadTs: message.threadTs,
    });
    const body: Json = {
      type: 'block_actions',
      token: 'local-verification-token',
      api_app_id: directory.bot.appId,
      is_enterprise_install: false,
      enterprise: null,
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
      team: { id: directory.teamId, domain: directory.teamDomain },
      user: { id: user.id, username: user.name, name: user.name, team_id: directory.teamId },
      channel: { id: channel.id, name: channel.name },
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: channel.id,
        is_ephemeral: message.ephemeralTo !== null,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
      state: { values: this.stateValues(message, input.selections ?? {}, input) },
      response_url: this.responseUrl(token),
      actions: [action],
    };
    // Slack leaves the message out of payloads from ephemeral messages.
    if (message.ephemeralTo === null) body.message = messageJson(message, directory.teamId);
    return this.dispatch(
      body,
      () => undefined,
      () => {
        this.state.notify(
          user.id,
          'warning',
          'The app did not respond in time (Slack shows a warning icon on the button).',
        );
      },
    );
  }

  private actionPayload(found: FoundElement, input: BlockActionInput): Json {
    const { element, blockId } = found;
    const base: Json = {
      type: element.type,
      action_id: element.action_id,
      block_id: blockId,
      action_ts: actionTs(),
    };
    if (element.type === 'button') {
      return {
        ...base,
        text: element.text,
        ...(typeof element.value === 'string' ? { value: element.value } : {}),
        ...(typeof element.style === 'string' ? { style: element.style } : {}),
      };
    }
    if (element.type === 'static_select' || element.type === 'overflow') {
      const option = selectOptions(element).find(
        (candidate) => optionValue(candidate) === input.selectedValue,
      );
      if (!option)
        throw new SlackApiError('invalid_option', [
          `"${input.selectedValue ?? ''}" is not an option of ${String(element.action_id)}`,
        ]);
      const chosen = { text: option.text, value: option.value };
      return element.type === 'overflow'
        ? { ...base, selected_option: chosen }
        : {
            ...base,
            selected_option: chosen,
            ...(isObject(element.placeholder) ? { placeholder: element.placeholder } : {}),
          };
    }
    throw new SlackApiError('unsupported_element', [
      `The local workspace cannot send ${String(element.type)} actions`,
    ]);
  }

  /** What Slack sends as `state.values`: the current value of every select in the message. */
  private stateValues(
    message: StoredMessage,
    selections: Record<string, Record<string, string>>,
    input: BlockActionInput,
  ): Json {
    const values: Record<string, Record<string, Json>> = {};
    for (const { element, blockId } of interactiveElements(message.blocks)) {
      if (element.type !== 'static_select' || typeof element.action_id !== 'string') continue;
      const actionId = element.action_id;
      const chosenValue =
        blockId === input.blockId && actionId === input.actionId
          ? input.selectedValue
          : (selections[blockId]?.[actionId] ?? optionValue(element.initial_option) ?? undefined);
      const option = selectOptions(element).find((candidate) => optionValue(candidate) === chosenValue);
      (values[blockId] ??= {})[actionId] = {
        type: 'static_select',
        selected_option: option ? { text: option.text, value: option.value } : null,
      };
    }
    return values;
  }

  /** Slack shows a command's acknowledgement body to the person who typed it. */
  private showCommandAck(response: unknown, channelId: string, userId: string): void {
    if (response === undefined || response === null || response === '') return;
    const { bot } = this.state.directory;
    const payload =
      typeof response === 'string'
        ? { text: response }
        : isObject(response)
          ? response
          : { text: String(response) };
    const text = typeof payload.text === 'string' ? payload.text : '';
    const blocks = Array.isArray(payload.blocks) ? (payload.blocks as BlockJson[]) : undefined;
    if (text === '' && !blocks) return;
    this.state.post({
      channel: channelId,
      user: bot.userId,
      botId: bot.botId,
      text,
      blocks,
      ephemeralTo: payload.response_type === 'in_channel' ? null : userId,
    });
  }

  /**
   * Hands the payload to Bolt and resolves once the listener acknowledged it (or the ack
   * deadline passed). The listener keeps running afterwards, as it would behind Slack.
   */
  private dispatch(
    body: Json,
    onAckResponse: (response: unknown) => void,
    onTimeout: () => void,
  ): Promise<DispatchResult> {
    const app = this.app;
    if (!app || !this.started) {
      return Promise.reject(new Error('The local workspace receiver is not started'));
    }
    const startedAt = performance.now();
    return new Promise<DispatchResult>((resolve) => {
      let settled = false;
      const settle = (result: DispatchResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        onTimeout();
        settle({ acknowledged: false, ackMs: null, error: 'operation_timeout' });
      }, this.ackTimeoutMs);
      let acked = false;
      const event: ReceiverEvent = {
        body,
        ack: async (response?: unknown) => {
          if (acked) {
            this.logger.warn('ack() called more than once; Slack ignores the second call');
            return;
          }
          acked = true;
          const ackMs = Math.round(performance.now() - startedAt);
          if (settled) {
            this.logger.warn({ ackMs }, 'ack() after the deadline; Slack has already shown an error');
            return;
          }
          try {
            onAckResponse(response);
          } catch (error) {
            this.logger.error({ err: error }, 'could not show the acknowledgement');
          }
          settle({ acknowledged: true, ackMs, error: null });
        },
      };
      const run = app
        .processEvent(event)
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'listener failed');
          if (!acked) settle({ acknowledged: false, ackMs: null, error: 'dispatch_failed' });
        })
        .finally(() => {
          this.inFlight.delete(run);
          // No listener matched, or one returned without ack(): Slack would time out.
          if (!acked && !settled) {
            this.logger.warn({ type: body.type ?? body.command }, 'event finished without ack()');
          }
        });
      this.inFlight.add(run);
    });
  }
}
