/**
 * The people, channel and bot of the local workspace: a stand-in for a Slack workspace that
 * exists only on this machine, so the bot can be tried before anything is installed in Slack.
 */

export interface WorkspaceUser {
  id: string;
  /** Slack handle (`name` in the API). */
  name: string;
  realName: string;
  /** One line the user switcher shows, e.g. "on-call, may do everything". */
  role: string;
}

export interface WorkspaceChannel {
  id: string;
  name: string;
  topic: string;
}

export interface WorkspaceUserGroup {
  id: string;
  handle: string;
  name: string;
  members: string[];
}

export interface WorkspaceBot {
  userId: string;
  botId: string;
  appId: string;
  name: string;
  /** The token the bot's WebClient must present; anything else gets `invalid_auth`, as in Slack. */
  token: string;
}

export interface WorkspaceDirectory {
  teamId: string;
  teamName: string;
  teamDomain: string;
  users: WorkspaceUser[];
  channels: WorkspaceChannel[];
  userGroups: WorkspaceUserGroup[];
  bot: WorkspaceBot;
}

export const LOCAL_TEAM_ID = 'TLOCAL01';

export interface DirectoryOptions {
  /** The main local user (`WORKSPACE_USER_ID`, default `ULOCAL1`). Slack-shaped, so mentions render. */
  userId?: string;
  /** Their display name (`WORKSPACE_USER_NAME`, default "you"). */
  userName?: string;
  channelName?: string;
}

/**
 * Three people on purpose: the operator, a second authorised person (the two-person rule needs
 * someone other than the requester to approve) and a guest the policy does not know (to watch
 * the bot refuse).
 */
export function defaultDirectory(options: DirectoryOptions = {}): WorkspaceDirectory {
  const userId = options.userId ?? 'ULOCAL1';
  const secondId = userId === 'ULOCAL2' ? 'ULOCAL3' : 'ULOCAL2';
  return {
    teamId: LOCAL_TEAM_ID,
    teamName: 'Local workspace',
    teamDomain: 'local',
    users: [
      {
        id: userId,
        name: options.userName ?? 'you',
        realName: options.userName ?? 'You',
        role: 'on-call operator',
      },
      { id: secondId, name: 'sam', realName: 'Sam Second', role: 'second on-call (approves)' },
      { id: 'UGUEST1', name: 'guest', realName: 'Guest', role: 'not in the policy' },
    ],
    channels: [
      {
        id: 'CLOCALOPS',
        name: options.channelName ?? 'ops-evacuations',
        topic: 'Drain and evacuate compute hosts with /evacuate',
      },
    ],
    userGroups: [{ id: 'SONCALL1', handle: 'oncall', name: 'On-call', members: [userId, secondId] }],
    bot: {
      userId: 'UEVACBOT',
      botId: 'BEVACBOT',
      appId: 'AEVACLOCAL',
      name: 'evacuation-bot',
      token: 'xoxb-local-workspace',
    },
  };
}

/** A Slack Block Kit block, kept as the JSON the bot sent. */
export type BlockJson = Record<string, unknown> & { type: string };

export interface StoredMessage {
  channel: string;
  ts: string;
  /** The parent's ts for replies; null for channel messages. */
  threadTs: string | null;
  /** Author: a user id (the bot's user id for bot messages). */
  user: string;
  botId: string | null;
  text: string;
  blocks: BlockJson[];
  /** Only this user sees it ("Only visible to you"). */
  ephemeralTo: string | null;
  /** A thread reply also shown in the channel ("Also sent to the channel"). */
  replyBroadcast: boolean;
  editedAt: string | null;
  /** Thread parents only. */
  replyCount: number;
  replyUsers: string[];
  latestReply: string | null;
}

export type WorkspaceChange =
  | { type: 'message'; message: StoredMessage }
  | { type: 'deleted'; channel: string; ts: string; ephemeralTo: string | null }
  | { type: 'notice'; userId: string | null; level: 'info' | 'warning' | 'error'; text: string };
