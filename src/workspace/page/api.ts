/**
 * What the workspace server tells the page and what the page sends back: one definition for both
 * sides, so a renamed field is a type error rather than a silent blank page.
 */
import type { StoredMessage, WorkspaceChannel, WorkspaceUser } from '../model.js';

export interface SlashCommandInfo {
  command: string;
  description: string;
  usageHint: string;
}

export interface WorkspaceInfo {
  teamName: string;
  users: WorkspaceUser[];
  channels: WorkspaceChannel[];
  bot: { userId: string; name: string };
  commands: SlashCommandInfo[];
  /** How the bot is wired: the page says it plainly in its header. */
  mode: {
    cloud: 'simulated' | 'real';
    /** e.g. "simulated cloud (default scenario, time scale 0.2)" or "OpenStack at https://…". */
    cloudDescription: string;
  };
  /** True when the drill panel can reach the simulated cloud's control API. */
  drills: boolean;
  /** False while the bot is still starting (commands get a clear "starting" answer then). */
  botReady: boolean;
}

export interface CommandRequest {
  userId: string;
  channelId: string;
  text: string;
  /** A reply typed in the thread pane. */
  threadTs?: string;
}

export interface ActionRequest {
  userId: string;
  channelId: string;
  messageTs: string;
  blockId: string;
  actionId: string;
  selectedValue?: string;
  selections?: Record<string, Record<string, string>>;
}

export interface DispatchAnswer {
  acknowledged: boolean;
  ackMs: number | null;
  error: string | null;
}

/** Server-sent events, by event name. */
export interface StreamEvents {
  snapshot: { messages: StoredMessage[] };
  message: StoredMessage;
  deleted: { channel: string; ts: string };
  notice: { level: 'info' | 'warning' | 'error'; text: string };
}
