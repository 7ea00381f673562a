import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Authorizer, UserGroupDirectory, type UsergroupsClient } from '../../src/slack/authz.js';
import { policySchema, type Policy } from '../../src/slack/policy.js';

const logger = pino({ level: 'silent' });

/** A usergroups API double that counts calls and can be made to fail or stall. */
function groupsApi(groups: Record<string, { handle: string; users: string[] }>) {
  const calls = { users: 0, list: 0 };
  let failing = false;
  let gate: Promise<void> | undefined;
  const client: UsergroupsClient = {
    usergroups: {
      async list() {
        calls.list += 1;
        return {
          ok: true,
          usergroups: Object.entries(groups).map(([id, group]) => ({ id, handle: group.handle })),
        };
      },
      users: {
        async list({ usergroup }) {
          calls.users += 1;
          if (gate) await gate;
          if (failing) throw Object.assign(new Error('ratelimited'), { data: { error: 'ratelimited' } });
          const group = groups[usergroup];
          if (!group) return { ok: false, error: 'no_such_subteam' };
          return { ok: true, users: [...group.users] };
        },
      },
    },
  };
  return {
    client,
    calls,
    fail(value: boolean) {
      failing = value;
    },
    hold() {
      let release: () => void = () => undefined;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('UserGroupDirectory', () => {
  it('one request per group per TTL, shared by concurrent checks', async () => {
    const api = groupsApi({ S1: { handle: 'oncall', users: ['U1'] } });
    const time = clock();
    const directory = new UserGroupDirectory({ client: api.client, ttlMs: 60_000, logger, clock: time });
    const release = api.hold();
    const pending = Promise.all(Array.from({ length: 20 }, () => directory.membersOf('S1')));
    release();
    const results = await pending;
    expect(results.every((members) => members.has('U1'))).toBe(true);
    expect(api.calls.users).toBe(1);
    time.advance(59_000);
    await directory.membersOf('S1');
    expect(api.calls.users).toBe(1);
    time.advance(2_000);
    await directory.membersOf('S1');
    expect(api.calls.users).toBe(2);
  });

  it('resolves @handles through usergroups.list (cached too)', async () => {
    const api = groupsApi({ S1: { handle: 'oncall', users: ['U1'] } });
    const directory = new UserGroupDirectory({ client: api.client, ttlMs: 60_000, logger, clock: clock() });
    expect((await directory.membersOf('@OnCall')).has('U1')).toBe(true);
    expect((await directory.membersOf('@oncall')).has('U1')).toBe(true);
    expect(api.calls.list).toBe(1);
    await expect(directory.membersOf('@nobody')).rejects.toThrow('No user group with handle @nobody');
  });

  it('keeps serving the previous members when a refresh fails, and fails when there is nothing to serve', async () => {
    const api = groupsApi({ S1: { handle: 'oncall', users: ['U1'] } });
    const time = clock();
    const directory = new UserGroupDirectory({ client: api.client, ttlMs: 1_000, logger, clock: time });
    await directory.membersOf('S1');
    api.fail(true);
    time.advance(5_000);
    expect((await directory.membersOf('S1')).has('U1')).toBe(true);
    await expect(directory.membersOf('S2')).rejects.toThrow();
  });

  it('an unknown group is an error, not an empty group', async () => {
    const api = groupsApi({});
    const directory = new UserGroupDirectory({ client: api.client, ttlMs: 1_000, logger });
    await expect(directory.membersOf('S404')).rejects.toThrow(/answered something unexpected/);
  });
});

function authorizer(
  policy: Policy | null,
  options: { simulated?: boolean; groups?: Record<string, string[]> } = {},
) {
  const groups = options.groups ?? {};
  return new Authorizer({
    policy,
    cloudIsSimulated: options.simulated ?? false,
    directory: {
      async membersOf(group: string) {
        const members = groups[group];
        if (!members) throw new Error(`unknown group ${group}`);
        return new Set(members);
      },
    },
    logger,
  });
}

const policy = policySchema.parse({
  channels: ['C0OPS'],
  permissions: {
    preview: { users: ['U0VIEW'] },
    live: { groups: ['S0LIVE'] },
    cold: { users: ['U0COLD'] },
    evacuate: { users: ['U0BOSS'] },
    control: { groups: ['@ctl'] },
  },
  approval: { evacuate: true, minServers: 10 },
});

describe('Authorizer', () => {
  const subject = (userId: string, channelId = 'C0OPS') => ({ userId, channelId });

  it('grants by user and by group membership', async () => {
    const authz = authorizer(policy, { groups: { S0LIVE: ['U0LIVE'], '@ctl': ['U0CTL'] } });
    expect(await authz.check(subject('U0LIVE'), 'live')).toEqual({ allowed: true });
    expect(await authz.check(subject('U0COLD'), 'cold')).toEqual({ allowed: true });
    expect(await authz.check(subject('U0CTL'), 'control')).toEqual({ allowed: true });
    expect((await authz.check(subject('U0COLD'), 'live')).allowed).toBe(false);
  });

  it('higher rights imply lower ones: evacuate ⊃ live, cold ⊃ preview; control ⊃ preview', async () => {
    const authz = authorizer(policy, { groups: { S0LIVE: [], '@ctl': ['U0CTL'] } });
    expect(await authz.capabilities(subject('U0BOSS'))).toEqual({
      preview: true,
      live: true,
      cold: true,
      evacuate: true,
      control: false,
    });
    expect(await authz.capabilities(subject('U0CTL'))).toEqual({
      preview: true,
      live: false,
      cold: false,
      evacuate: false,
      control: true,
    });
    expect((await authz.capabilities(subject('U0NOBODY'))).preview).toBe(false);
  });

  it('refuses outside the policy channels, naming them', async () => {
    const authz = authorizer(policy);
    expect(await authz.check(subject('U0BOSS', 'C0OTHER'), 'preview')).toEqual({
      allowed: false,
      reason: 'This bot only acts in <#C0OPS>.',
    });
    expect(await authz.check({ userId: 'U0BOSS', channelId: undefined }, 'preview')).toMatchObject({
      allowed: false,
    });
  });

  it('says who may, and when a group could not be checked', async () => {
    const authz = authorizer(policy, { groups: {} });
    const decision = await authz.check(subject('U0VIEW'), 'live');
    expect(decision).toEqual({
      allowed: false,
      reason:
        'You are not allowed to start live migrations: the policy allows members of <!subteam^S0LIVE> (membership of S0LIVE could not be checked right now; try again shortly).',
    });
  });

  it('without a policy against a real cloud: preview only, said loudly', async () => {
    const authz = authorizer(null);
    expect(authz.kind).toBe('preview-only');
    expect(await authz.capabilities(subject('U0ANY', 'C0ANY'))).toEqual({
      preview: true,
      live: false,
      cold: false,
      evacuate: false,
      control: false,
    });
    expect((await authz.check(subject('U0ANY'), 'evacuate')) as { reason: string }).toMatchObject({
      reason: expect.stringContaining('nobody is, under the current policy'),
    });
    expect(authz.grantedToAnyone('live')).toBe(false);
  });

  it('without a policy against a simulated cloud: everyone may do everything', async () => {
    const authz = authorizer(null, { simulated: true });
    expect(authz.kind).toBe('dev-permissive');
    expect(Object.values(await authz.capabilities(subject('U0ANY', 'C0ANY'))).every(Boolean)).toBe(true);
  });

  it('the announcement says which default is in force', () => {
    for (const [simulated, expected] of [
      [true, /EVERYONE may preview, move, evacuate/],
      [false, /NOBODY may move, evacuate/],
    ] as const) {
      const lines: string[] = [];
      const capture = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
      new Authorizer({
        policy: null,
        cloudIsSimulated: simulated,
        directory: { membersOf: async () => new Set() },
        logger: capture,
      }).announce();
      expect(lines.join('')).toMatch(expected);
      expect(lines.join('')).toContain('"level":40');
    }
  });

  it('two-person rule by mode and by size', () => {
    const authz = authorizer(policy);
    expect(authz.approvalRequired('evacuate', 1)).toMatch(/evacuation \(rebuild\) needs a second/);
    expect(authz.approvalRequired('live', 10)).toBeNull();
    expect(authz.approvalRequired('live', 11)).toMatch(/more than 10 servers/);
    expect(authorizer(null).approvalRequired('evacuate', 1000)).toBeNull();
  });

  it('grantedToAnyone follows the implications', () => {
    const onlyBoss = policySchema.parse({ permissions: { evacuate: { users: ['U0BOSS'] } } });
    const authz = authorizer(onlyBoss);
    expect(authz.grantedToAnyone('live')).toBe(true);
    expect(authz.grantedToAnyone('evacuate')).toBe(true);
    expect(authz.grantedToAnyone('control')).toBe(false);
  });
});
