/**
 * The local workspace's memory: every message the bot and the people posted, edited or deleted,
 * with Slack's rules for threads and ephemeral messages. The Web API writes to it; the page
 * server reads it and streams every change to the browsers that may see it.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type {
  BlockJson,
  StoredMessage,
  WorkspaceChange,
  WorkspaceChannel,
  WorkspaceDirectory,
  WorkspaceUser,
} from './model.js';

/** Slack's own error codes, so the bot handles them exactly as it would in Slack. */
export class SlackApiError extends Error {
  constructor(
    readonly code: string,
    readonly details: string[] = [],
  ) {
    super(details.length > 0 ? `${code}: ${details.join('; ')}` : code);
    this.name = 'SlackApiError';
  }
}

export interface NewMessage {
  channel: string;
  user: string;
  botId?: string | null;
  text: string;
  blocks?: BlockJson[];
  threadTs?: string | null;
  ephemeralTo?: string | null;
  replyBroadcast?: boolean;
}

/** Where a response_url posts: the message (or command) it answers and for whom. */
export interface ResponseTarget {
  channel: string;
  userId: string;
  /** The message an interaction came from (absent for slash commands). */
  messageTs: string | null;
  messageIsEphemeral: boolean;
  threadTs: string | null;
}

/** Slack lets a response_url be used five times within thirty minutes. */
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

export class LocalSlackState {
  readonly directory: WorkspaceDirectory;
  private readonly messages = new Map<string, StoredMessage>();
  private readonly events = new EventEmitter();
  private readonly responseTargets = new Map<
    string,
    ResponseTarget & { usesLeft: number; expiresAt: number }
  >();
  private lastTsMicros = 0;
  private readonly now: () => number;

  constructor(directory: WorkspaceDirectory, options: { now?: () => number } = {}) {
    this.directory = directory;
    this.now = options.now ?? Date.now;
    // One browser tab per user and a few tests: more than ten listeners is normal here.
    this.events.setMaxListeners(0);
  }

  /** Slack ts: seconds.microseconds, unique and increasing within the workspace. */
  private nextTs(): string {
    const micros = Math.max(this.now() * 1000, this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    const seconds = Math.floor(micros / 1_000_000);
    const fraction = String(micros % 1_000_000).padStart(6, '0');
    return `${seconds}.${fraction}`;
  }

  subscribe(listener: (change: WorkspaceChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(change: WorkspaceChange): void {
    this.events.emit('change', change);
  }

  notify(userId: string | null, level: 'info' | 'warning' | 'error', text: string): void {
    this.emit({ type: 'notice', userId, level, text });
  }

  findUser(id: string): WorkspaceUser | undefined {
    return this.directory.users.find((user) => user.id === id);
  }

  /** Accepts an id (`CLOCALOPS`), a name (`ops-evacuations`) or `#name`, like chat.postMessage does. */
  resolveChannel(ref: string): WorkspaceChannel {
    const name = ref.startsWith('#') ? ref.slice(1) : ref;
    const channel = this.directory.channels.find((c) => c.id === ref || c.name === name);
    if (!channel) throw new SlackApiError('channel_not_found');
    return channel;
  }

  private key(channel: string, ts: string): string {
    return `${channel}/${ts}`;
  }

  getMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(this.key(channel, ts));
  }

  /** Messages in posting order that `userId` may see (everything but other people's ephemeral messages). */
  visibleMessages(userId: string): StoredMessage[] {
    return [...this.messages.values()]
      .filter((message) => message.ephemeralTo === null || message.ephemeralTo === userId)
      .sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  allMessages(): StoredMessage[] {
    return [...this.messages.values()].sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  post(input: NewMessage): StoredMessage {
    const channel = this.resolveChannel(input.channel);
    let threadTs: string | null = null;
    if (input.threadTs) {
      const parent = this.getMessage(channel.id, input.threadTs);
      if (!parent || parent.ephemeralTo !== null) throw new SlackApiError('thread_not_found');
      // Replying to a reply lands in the same thread, as in Slack.
      threadTs = parent.threadTs ?? parent.ts;
    }
    const message: StoredMessage = {
      channel: channel.id,
      ts: this.nextTs(),
      threadTs,
      user: input.user,
      botId: input.botId ?? null,
      text: input.text,
      blocks: withBlockIds(input.blocks ?? []),
      ephemeralTo: input.ephemeralTo ?? null,
      replyBroadcast: threadTs !== null && (input.replyBroadcast ?? false),
      editedAt: null,
      replyCount: 0,
      replyUsers: [],
      latestReply: null,
    };
    this.messages.set(this.key(channel.id, message.ts), message);
    this.emit({ type: 'message', message });
    if (threadTs !== null && message.ephemeralTo === null) {
      const parent = this.getMessage(channel.id, threadTs);
      if (parent) {
        parent.replyCount += 1;
        parent.latestReply = message.ts;
        if (!parent.replyUsers.includes(message.user)) parent.replyUsers.push(message.user);
        this.emit({ type: 'message', message: parent });
      }
    }
    return message;
  }

  update(
    channelRef: string,
    ts: string,
    change: { text?: string; blocks?: BlockJson[] },
    editor: string,
  ): StoredMessage {
    const channel = this.resolveChannel(channelRef);
    const message = this.getMessage(channel.id, ts);
    if (!message) throw new SlackApiError('message_not_found');
    if (message.user !== editor) throw new SlackApiError('cant_update_message');
    if (change.text !== undefined) message.text = change.text;
    if (change.blocks !== undefined) message.blocks = withBlockIds(change.blocks);
    message.editedAt = this.nextTs();
    this.emit({ type: 'message', message });
    return message;
  }

  delete(channelRef: string, ts: string): void {
    const channel = this.resolveChannel(channelRef);
    const message = this.getMessage(channel.id, ts);
    if (!message) throw new SlackApiError('message_not_found');
    this.messages.delete(this.key(channel.id, ts));
    this.emit({ type: 'deleted', channel: channel.id, ts, ephemeralTo: message.ephemeralTo });
    if (message.threadTs !== null && message.ephemeralTo === null) {
      const parent = this.getMessage(channel.id, message.threadTs);
      if (parent) {
        parent.replyCount = Math.max(0, parent.replyCount - 1);
        this.emit({ type: 'message', message: parent });
      }
    }
  }

  /** A fresh response_url token for one slash command or interaction. */
  createResponseTarget(target: ResponseTarget): string {
    const token = randomBytes(12).toString('hex');
    this.responseTargets.set(token, {
      ...target,
      usesLeft: RESPONSE_URL_USES,
      expiresAt: this.now() + RESPONSE_URL_TTL_MS,
    });
    return token;
  }

  /** Consumes one use of a response_url; Slack answers `expired_url` / `used_url` past the limits. */
  useResponseTarget(token: string): ResponseTarget {
    const target = this.responseTargets.get(token);
    if (!target) throw new SlackApiError('invalid_url');
    if (this.now() > target.expiresAt) {
      this.responseTargets.delete(token);
      throw new SlackApiError('expired_url');
    }
    if (target.usesLeft <= 0) throw new SlackApiError('used_url');
    target.usesLeft -= 1;
    return target;
  }
}

/**
 * Slack fills in a block_id on every block that has none; interactions then carry it. Derived
 * from the position and type so that a message edited in place keeps its ids, and a click on
 * the version the page showed a moment ago still finds its block.
 */
function withBlockIds(blocks: BlockJson[]): BlockJson[] {
  return blocks.map((block, index) =>
    typeof block.block_id === 'string' && block.block_id.length > 0
      ? block
      : { ...block, block_id: `${block.type.slice(0, 3)}${index}` },
  );
}
