/**
 * Who may do what, as the operators write it (YAML file or JSON in an environment variable).
 * Validated with zod at start-up so a typo in a user id or a group handle is a start-up error, not
 * a silent "nobody may evacuate" at 3 a.m.
 */
import { z } from 'zod';

/**
 * What a person may do, by sensitivity. `evacuate` (rebuild on another host: the guest reboots and
 * loses local state) implies `live` and `cold`; any of them implies `preview`; `control` (stop,
 * retry, abort, re-enable) implies `preview`.
 */
export const CAPABILITIES = ['preview', 'live', 'cold', 'evacuate', 'control'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const IMPLIED_BY: Record<Capability, readonly Capability[]> = {
  preview: ['live', 'cold', 'evacuate', 'control'],
  live: ['evacuate'],
  cold: ['evacuate'],
  evacuate: [],
  control: [],
};

const userId = z
  .string()
  .regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id such as U0123ABCD (not a name or @handle)');
const groupRef = z
  .string()
  .regex(
    /^(S[A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*)$/,
    'must be a user group id such as S0123ABCD or a handle such as @oncall',
  );
const channelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD');

export const permissionRuleSchema = z
  .object({
    /** Everyone in an allowed channel. */
    everyone: z.boolean().default(false),
    users: z.array(userId).default([]),
    groups: z.array(groupRef).default([]),
  })
  .strict();
export type PermissionRule = z.infer<typeof permissionRuleSchema>;

const NOBODY: PermissionRule = { everyone: false, users: [], groups: [] };

export const policySchema = z
  .object({
    /** Channels where the bot acts (commands and clicks). Absent = any channel it is in. */
    channels: z.array(channelId).min(1, 'list at least one channel, or leave "channels" out').optional(),
    permissions: z
      .object({
        preview: permissionRuleSchema.default(NOBODY),
        live: permissionRuleSchema.default(NOBODY),
        cold: permissionRuleSchema.default(NOBODY),
        evacuate: permissionRuleSchema.default(NOBODY),
        control: permissionRuleSchema.default(NOBODY),
      })
      .strict(),
    /** Two-person rule: these runs need a second authorised person to click Approve. */
    approval: z
      .object({
        evacuate: z.boolean().default(false),
        /** Runs moving more than this many servers need approval. */
        minServers: z.number().int().positive().optional(),
      })
      .strict()
      .default({ evacuate: false }),
    /** How long a user group's member list is trusted (usergroups.users.list is rate-limited). */
    groupCacheTtlSeconds: z.number().int().min(10).max(86_400).default(300),
  })
  .strict();
export type Policy = z.infer<typeof policySchema>;

/** Everyone may do everything: only ever used against a simulated cloud. */
export const PERMISSIVE_DEV_POLICY: Policy = {
  permissions: {
    preview: { everyone: true, users: [], groups: [] },
    live: { everyone: true, users: [], groups: [] },
    cold: { everyone: true, users: [], groups: [] },
    evacuate: { everyone: true, users: [], groups: [] },
    control: { everyone: true, users: [], groups: [] },
  },
  approval: { evacuate: false },
  groupCacheTtlSeconds: 300,
};

/** Without a policy against a real cloud: anyone may look (previews are read-only), nobody may act. */
export const PREVIEW_ONLY_POLICY: Policy = {
  permissions: {
    preview: { everyone: true, users: [], groups: [] },
    live: NOBODY,
    cold: NOBODY,
    evacuate: NOBODY,
    control: NOBODY,
  },
  approval: { evacuate: false },
  groupCacheTtlSeconds: 300,
};
