/**
 * Authorisation: the policy (policy.ts) applied to a Slack user in a channel. Group membership
 * comes from `usergroups.users.list`, which Slack rate-limits (Tier 2), so each group is fetched
 * at most once per TTL and concurrent checks share the one request in flight.
 */
import { z } from 'zod';
import type { Logger } from '../log.js';
import {
  CAPABILITIES,
  IMPLIED_BY,
  PERMISSIVE_DEV_POLICY,
  PREVIEW_ONLY_POLICY,
  type Capability,
  type PermissionRule,
  type Policy,
} from './policy.js';

/** The slice of the Web API client this module calls (a Bolt `app.client` fits). */
export interface UsergroupsClient {
  usergroups: {
    list(args?: { include_disabled?: boolean }): Promise<unknown>;
    users: { list(args: { usergroup: string }): Promise<unknown> };
  };
}

export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

const usersListResponse = z.object({ ok: z.literal(true), users: z.array(z.string()) });
const groupsListResponse = z.object({
  ok: z.literal(true),
  usergroups: z.array(z.object({ id: z.string(), handle: z.string() })),
});

export class GroupLookupError extends Error {
  constructor(
    readonly group: string,
    message: string,
  ) {
    super(message);
    this.name = 'GroupLookupError';
  }
}

interface CacheEntry<T> {
  value: T | undefined;
  fetchedAt: number;
  inFlight: Promise<T> | undefined;
}

/**
 * A TTL cache with one request in flight per key. After the TTL the next reader refreshes; if the
 * refresh fails and a previous value exists, that value keeps serving (Slack being briefly
 * unhappy should not lock the on-call engineer out) and the failure is logged.
 */
class SingleFlightCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async get(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { value: undefined, fetchedAt: 0, inFlight: undefined };
      this.entries.set(key, entry);
    }
    if (entry.value !== undefined && this.clock.now() - entry.fetchedAt < this.ttlMs) return entry.value;
    if (entry.inFlight !== undefined) return entry.inFlight;
    const current = entry;
    current.inFlight = load()
      .then((value) => {
        current.value = value;
        current.fetchedAt = this.clock.now();
        return value;
      })
      .catch((error: unknown) => {
        if (current.value !== undefined) {
          this.logger.warn({ key, err: error }, 'refresh failed; serving the previous value');
          return current.value;
        }
        throw error;
      })
      .finally(() => {
        current.inFlight = undefined;
      });
    return current.inFlight;
  }
}

export interface UserGroupDirectoryOptions {
  client: UsergroupsClient;
  ttlMs: number;
  logger: Logger;
  clock?: Clock;
}

/** Members of Slack user groups, by id (`S…`) or handle (`@oncall`). */
export class UserGroupDirectory {
  private readonly memberCache: SingleFlightCache<ReadonlySet<string>>;
  private readonly handleCache: SingleFlightCache<ReadonlyMap<string, string>>;
  private readonly client: UsergroupsClient;

  constructor(options: UserGroupDirectoryOptions) {
    const clock = options.clock ?? systemClock;
    this.client = options.client;
    this.memberCache = new SingleFlightCache(options.ttlMs, clock, options.logger);
    this.handleCache = new SingleFlightCache(options.ttlMs, clock, options.logger);
  }

  /** The group id for a reference (`S…` as is; `@handle` through usergroups.list). */
  async resolve(group: string): Promise<string> {
    if (!group.startsWith('@')) return group;
    const handles = await this.handleCache.get('handles', async () => {
      const response = groupsListResponse.safeParse(
        await this.client.usergroups.list({ include_disabled: false }),
      );
      if (!response.success) {
        throw new GroupLookupError(group, 'usergroups.list answered something unexpected');
      }
      return new Map(response.data.usergroups.map((entry) => [entry.handle.toLowerCase(), entry.id]));
    });
    const id = handles.get(group.slice(1).toLowerCase());
    if (id === undefined) throw new GroupLookupError(group, `No user group with handle ${group}`);
    return id;
  }

  async membersOf(group: string): Promise<ReadonlySet<string>> {
    const id = await this.resolve(group);
    return this.memberCache.get(id, async () => {
      const response = usersListResponse.safeParse(
        await this.client.usergroups.users.list({ usergroup: id }),
      );
      if (!response.success) {
        throw new GroupLookupError(group, `usergroups.users.list for ${group} answered something unexpected`);
      }
      return new Set(response.data.users);
    });
  }
}

export interface Subject {
  userId: string;
  channelId: string | undefined;
}

export type AuthDecision = { allowed: true } | { allowed: false; reason: string };

export type PolicyKind = 'configured' | 'dev-permissive' | 'preview-only';

const CAPABILITY_VERBS: Record<Capability, string> = {
  preview: 'preview evacuations',
  live: 'start live migrations',
  cold: 'start cold migrations',
  evacuate: 'evacuate (rebuild) servers',
  control: 'stop, retry or re-enable runs',
};

export function describeCapability(capability: Capability): string {
  return CAPABILITY_VERBS[capability];
}

export interface AuthorizerOptions {
  policy: Policy | null;
  /** Only then does a missing policy mean "everyone may do everything". */
  cloudIsSimulated: boolean;
  directory: Pick<UserGroupDirectory, 'membersOf'>;
  logger: Logger;
}

export class Authorizer {
  readonly policy: Policy;
  readonly kind: PolicyKind;
  private readonly directory: Pick<UserGroupDirectory, 'membersOf'>;
  private readonly logger: Logger;

  constructor(options: AuthorizerOptions) {
    this.directory = options.directory;
    this.logger = options.logger;
    if (options.policy !== null) {
      this.policy = options.policy;
      this.kind = 'configured';
    } else if (options.cloudIsSimulated) {
      this.policy = PERMISSIVE_DEV_POLICY;
      this.kind = 'dev-permissive';
    } else {
      this.policy = PREVIEW_ONLY_POLICY;
      this.kind = 'preview-only';
    }
  }

  /** Says loudly, once, when the default policy is in force. */
  announce(): void {
    if (this.kind === 'dev-permissive') {
      this.logger.warn(
        'NO AUTHORISATION POLICY: the cloud is simulated, so EVERYONE may preview, move, evacuate and control runs. ' +
          'Set EVAC_POLICY_FILE or EVAC_POLICY before pointing this bot at a real cloud.',
      );
    } else if (this.kind === 'preview-only') {
      this.logger.warn(
        'No authorisation policy (EVAC_POLICY_FILE / EVAC_POLICY): everyone may preview, NOBODY may move, evacuate ' +
          'or control runs until a policy grants it.',
      );
    } else {
      this.logger.info(
        {
          channels: this.policy.channels ?? 'any',
          approval: this.policy.approval,
        },
        'authorisation policy loaded',
      );
    }
  }

  channelAllowed(channelId: string | undefined): boolean {
    const channels = this.policy.channels;
    if (channels === undefined) return true;
    return channelId !== undefined && channels.includes(channelId);
  }

  /** The channels the bot acts in, for refusal messages; undefined = any. */
  get allowedChannels(): readonly string[] | undefined {
    return this.policy.channels;
  }

  async check(subject: Subject, capability: Capability): Promise<AuthDecision> {
    if (!this.channelAllowed(subject.channelId)) {
      const list = (this.policy.channels ?? []).map((id) => `<#${id}>`).join(', ');
      return { allowed: false, reason: `This bot only acts in ${list}.` };
    }
    const granting = [capability, ...IMPLIED_BY[capability]];
    const rules = granting.map((name) => this.policy.permissions[name]);
    if (rules.some((rule) => rule.everyone || rule.users.includes(subject.userId))) return { allowed: true };

    const groups = [...new Set(rules.flatMap((rule) => rule.groups))];
    const lookupFailures: string[] = [];
    for (const group of groups) {
      try {
        const members = await this.directory.membersOf(group);
        if (members.has(subject.userId)) return { allowed: true };
      } catch (error) {
        lookupFailures.push(group);
        this.logger.error({ err: error, group }, 'cannot check user group membership');
      }
    }
    const rule = this.policy.permissions[capability];
    const who = describeRule(rule);
    const suffix =
      lookupFailures.length > 0
        ? ` (membership of ${lookupFailures.join(', ')} could not be checked right now; try again shortly)`
        : '';
    return {
      allowed: false,
      reason: `You are not allowed to ${CAPABILITY_VERBS[capability]}${who ? `: the policy allows ${who}` : ': nobody is, under the current policy'}${suffix}.`,
    };
  }

  /** Everything the subject may do (for `/evacuate help`, which shows only that). */
  async capabilities(subject: Subject): Promise<Record<Capability, boolean>> {
    const entries = await Promise.all(
      CAPABILITIES.map(
        async (capability) => [capability, (await this.check(subject, capability)).allowed] as const,
      ),
    );
    return Object.fromEntries(entries) as Record<Capability, boolean>;
  }

  /**
   * Whether anybody at all may exercise `capability` under the policy (ignoring channels): a
   * preview offers Confirm when someone could click it; each click is then checked for its clicker.
   */
  grantedToAnyone(capability: Capability): boolean {
    return [capability, ...IMPLIED_BY[capability]].some((name) => {
      const rule = this.policy.permissions[name];
      return rule.everyone || rule.users.length > 0 || rule.groups.length > 0;
    });
  }

  /** Whether a run of this size and mode needs a second person under the two-person rule. */
  approvalRequired(mode: 'live' | 'cold' | 'evacuate', movingServers: number): string | null {
    const { approval } = this.policy;
    if (approval.evacuate && mode === 'evacuate')
      return 'evacuation (rebuild) needs a second authorised person';
    if (approval.minServers !== undefined && movingServers > approval.minServers) {
      return `runs moving more than ${approval.minServers} servers need a second authorised person`;
    }
    return null;
  }
}

function describeRule(rule: PermissionRule): string {
  const parts: string[] = [];
  if (rule.groups.length > 0) {
    parts.push(
      `members of ${rule.groups.map((group) => (group.startsWith('@') ? group : `<!subteam^${group}>`)).join(', ')}`,
    );
  }
  if (rule.users.length > 0) parts.push(rule.users.map((user) => `<@${user}>`).join(', '));
  return parts.join(' and ');
}
