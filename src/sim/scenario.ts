/**
 * Scenario files: the cloud a simulator starts with (settings, identities, flavors, hosts,
 * servers). YAML or JSON, validated with zod so a typo in a drill file fails with the path of
 * the bad field instead of a half-built cloud.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const moduleDir = dirname(fileURLToPath(import.meta.url));
/** The shipped default scenario (next to this module, or in the sources when running from `dist/`). */
export const defaultScenarioPath =
  [
    join(moduleDir, 'scenarios', 'default.yaml'),
    join(moduleDir, '..', '..', '..', 'src', 'sim', 'scenarios', 'default.yaml'),
  ].find((candidate) => existsSync(candidate)) ?? join(moduleDir, 'scenarios', 'default.yaml');

const microversionString = z.string().regex(/^2\.\d+$/, 'must look like "2.93"');
const seconds = z.number().nonnegative();

export const operationDurationKinds = [
  'scheduling',
  'live_migration',
  'cold_migration',
  'evacuation',
  'confirm_resize',
  'revert_resize',
  'stop',
  'start',
] as const;
export type OperationDurationKind = (typeof operationDurationKinds)[number];

const durationsSchema = z
  .object({
    /** Conductor + scheduler time before a move starts on the compute host. */
    scheduling: seconds.default(0.2),
    /** Whole live migration once it leaves the queue (preparing + running). */
    live_migration: seconds.default(5),
    cold_migration: seconds.default(6),
    evacuation: seconds.default(4),
    confirm_resize: seconds.default(1),
    revert_resize: seconds.default(2),
    stop: seconds.default(1),
    start: seconds.default(1),
  })
  .strict();

export const scenarioSettingsSchema = z
  .object({
    region: z.string().min(1).default('RegionOne'),
    min_microversion: microversionString.default('2.1'),
    /** 2.93 mimics Zed exactly; the default lets clients exercise 2.95+ evacuate semantics. */
    max_microversion: microversionString.default('2.96'),
    /** Nova's `service_down_time`, in simulated seconds. */
    service_down_time: seconds.optional(),
    /** How often a live compute service heartbeats (its `updated_at` moves in these steps). */
    report_interval: z.number().positive().default(10),
    max_concurrent_live_migrations: z.number().int().positive().default(1),
    cpu_allocation_ratio: z.number().positive().default(4),
    ram_allocation_ratio: z.number().positive().default(1),
    /** `resize_confirm_window`: when > 0, VERIFY_RESIZE servers are confirmed automatically after it. */
    resize_confirm_window: seconds.default(0),
    /** Chance that a live migration fails silently (ends back on the source). */
    live_migration_failure_rate: z.number().min(0).max(1).default(0),
    /**
     * Real Nova lets admins act on locked servers (only non-admins get "Instance ... is locked").
     * Set false to make locks bind admins too, e.g. to rehearse the refusal path.
     */
    admin_bypasses_lock: z.boolean().default(true),
    /** Default page size cap of list APIs (`[api] max_limit`). */
    max_limit: z.number().int().positive().default(1000),
    durations: durationsSchema.default(durationsSchema.parse({})),
  })
  .strict();

const applicationCredentialSchema = z
  .object({
    id: z.string().min(1).optional(),
    name: z.string().min(1),
    secret: z.string().min(1),
  })
  .strict();

const userSchema = z
  .object({
    name: z.string().min(1),
    id: z.string().min(1).optional(),
    domain: z.string().min(1).default('Default'),
    password: z.string().min(1),
    /** Default project (the one a token is scoped to when the request names none). */
    project: z.string().min(1),
    /** Role names on `project` (and on `projects`). */
    roles: z.array(z.string().min(1)).default(['member']),
    /** Other projects this user has the same roles on. */
    projects: z.array(z.string().min(1)).default([]),
    application_credentials: z.array(applicationCredentialSchema).default([]),
  })
  .strict();

const projectSchema = z
  .object({
    name: z.string().min(1),
    id: z.string().min(1).optional(),
    domain: z.string().min(1).default('Default'),
  })
  .strict();

const flavorSchema = z
  .object({
    id: z.union([z.string().min(1), z.number().int().transform(String)]),
    name: z.string().min(1),
    vcpus: z.number().int().positive(),
    ram_mb: z.number().int().positive(),
    disk_gb: z.number().int().nonnegative().default(0),
    extra_specs: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .default({}),
    is_public: z.boolean().default(true),
  })
  .strict();

const imageSchema = z
  .object({
    id: z.string().min(1).optional(),
    name: z.string().min(1),
  })
  .strict();

const hostSchema = z
  .object({
    name: z.string().min(1),
    az: z.string().min(1).default('nova'),
    vcpus: z.number().int().positive(),
    ram_mb: z.number().int().positive(),
    disk_gb: z.number().int().nonnegative().default(2000),
    /** Host offers dedicated CPUs (`hw:cpu_policy=dedicated` flavors can only land here). */
    pinned: z.boolean().default(false),
    /** Dedicated CPUs (defaults to `vcpus` on a pinned host). */
    pcpus: z.number().int().nonnegative().optional(),
    vgpus: z.number().int().nonnegative().default(0),
    /** PCI passthrough devices by alias name, e.g. `{ a1: 2 }`. */
    pci_devices: z.record(z.string(), z.number().int().nonnegative()).default({}),
    /** `down`: nova-compute is not running (no heartbeat since the scenario started). */
    state: z.enum(['up', 'down']).default('up'),
    enabled: z.boolean().default(true),
    disabled_reason: z.string().min(1).optional(),
    forced_down: z.boolean().default(false),
    /** Overrides `settings.max_concurrent_live_migrations` for this source host. */
    max_concurrent_live_migrations: z.number().int().positive().optional(),
    /** Overrides `settings.live_migration_failure_rate` for moves off this host. */
    live_migration_failure_rate: z.number().min(0).max(1).optional(),
  })
  .strict();

const serverGroupSchema = z
  .object({
    name: z.string().min(1),
    id: z.string().min(1).optional(),
    policy: z.enum(['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']),
    project: z.string().min(1),
    rules: z.record(z.string(), z.number().int()).default({}),
  })
  .strict();

export const serverStatuses = [
  'ACTIVE',
  'SHUTOFF',
  'PAUSED',
  'SUSPENDED',
  'ERROR',
  'SHELVED_OFFLOADED',
] as const;

const serverSchema = z
  .object({
    name: z.string().min(1),
    id: z.string().min(1).optional(),
    project: z.string().min(1),
    /** Owner user name; defaults to the first user of the project. */
    user: z.string().min(1).optional(),
    flavor: z.union([z.string().min(1), z.number().int().transform(String)]),
    /** Image name or id; omit together with `boot_from_volume: true`. */
    image: z.string().min(1).optional(),
    boot_from_volume: z.boolean().default(false),
    volumes: z.number().int().nonnegative().optional(),
    /** Compute host; omitted for SHELVED_OFFLOADED servers. */
    host: z.string().min(1).optional(),
    status: z.enum(serverStatuses).default('ACTIVE'),
    /** A task stuck in progress, e.g. `rebuilding` or `migrating`. */
    task_state: z.string().min(1).nullable().default(null),
    locked: z.boolean().default(false),
    locked_reason: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    /** The AZ the server was booted into explicitly (the scheduler must keep it there). */
    availability_zone: z.string().min(1).optional(),
    fault_message: z.string().min(1).optional(),
    metadata: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().min(1).default('unnamed'),
    description: z.string().optional(),
    settings: scenarioSettingsSchema.default(scenarioSettingsSchema.parse({})),
    projects: z.array(projectSchema).min(1),
    users: z.array(userSchema).min(1),
    flavors: z.array(flavorSchema).min(1),
    images: z.array(imageSchema).default([]),
    hosts: z.array(hostSchema).min(1),
    server_groups: z.array(serverGroupSchema).default([]),
    servers: z.array(serverSchema).default([]),
  })
  .strict()
  .superRefine((scenario, ctx) => {
    const dup = (items: { name: string }[], what: string, path: string) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.name)) {
          ctx.addIssue({
            code: 'custom',
            path: [path, index, 'name'],
            message: `duplicate ${what} name "${item.name}"`,
          });
        }
        seen.add(item.name);
      });
    };
    dup(scenario.projects, 'project', 'projects');
    dup(scenario.users, 'user', 'users');
    dup(scenario.hosts, 'host', 'hosts');
    dup(scenario.server_groups, 'server group', 'server_groups');
    dup(scenario.images, 'image', 'images');
    const projects = new Set(scenario.projects.map((p) => p.name));
    const hosts = new Set(scenario.hosts.map((h) => h.name));
    const flavors = new Set(scenario.flavors.flatMap((f) => [f.id, f.name]));
    const images = new Set(scenario.images.flatMap((i) => [i.name, ...(i.id ? [i.id] : [])]));
    const groups = new Set(scenario.server_groups.map((g) => g.name));
    scenario.users.forEach((user, index) => {
      for (const project of [user.project, ...user.projects]) {
        if (!projects.has(project)) {
          ctx.addIssue({ code: 'custom', path: ['users', index], message: `unknown project "${project}"` });
        }
      }
    });
    scenario.server_groups.forEach((group, index) => {
      if (!projects.has(group.project)) {
        ctx.addIssue({
          code: 'custom',
          path: ['server_groups', index, 'project'],
          message: `unknown project "${group.project}"`,
        });
      }
    });
    scenario.servers.forEach((server, index) => {
      const at = (field: string) => ['servers', index, field];
      if (!projects.has(server.project)) {
        ctx.addIssue({ code: 'custom', path: at('project'), message: `unknown project "${server.project}"` });
      }
      if (!flavors.has(server.flavor)) {
        ctx.addIssue({ code: 'custom', path: at('flavor'), message: `unknown flavor "${server.flavor}"` });
      }
      if (server.boot_from_volume && server.image) {
        ctx.addIssue({
          code: 'custom',
          path: at('image'),
          message: 'a boot-from-volume server has no image',
        });
      }
      if (!server.boot_from_volume && !server.image) {
        ctx.addIssue({
          code: 'custom',
          path: at('image'),
          message: 'image is required unless boot_from_volume is true',
        });
      }
      if (server.image && !images.has(server.image)) {
        ctx.addIssue({ code: 'custom', path: at('image'), message: `unknown image "${server.image}"` });
      }
      if (server.status === 'SHELVED_OFFLOADED') {
        if (server.host) {
          ctx.addIssue({
            code: 'custom',
            path: at('host'),
            message: 'a SHELVED_OFFLOADED server has no host',
          });
        }
      } else if (!server.host) {
        ctx.addIssue({
          code: 'custom',
          path: at('host'),
          message: `host is required for a ${server.status} server`,
        });
      } else if (!hosts.has(server.host)) {
        ctx.addIssue({ code: 'custom', path: at('host'), message: `unknown host "${server.host}"` });
      }
      if (server.group && !groups.has(server.group)) {
        ctx.addIssue({
          code: 'custom',
          path: at('group'),
          message: `unknown server group "${server.group}"`,
        });
      }
      if (server.user && !scenario.users.some((u) => u.name === server.user)) {
        ctx.addIssue({ code: 'custom', path: at('user'), message: `unknown user "${server.user}"` });
      }
    });
  });

export type Scenario = z.input<typeof scenarioSchema>;
export type ParsedScenario = z.output<typeof scenarioSchema>;
export type ScenarioSettings = ParsedScenario['settings'];
export type ScenarioHost = ParsedScenario['hosts'][number];
export type ScenarioServer = ParsedScenario['servers'][number];

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Validates a scenario object, with every problem listed by its path. */
export function parseScenario(input: unknown, source = 'scenario'): ParsedScenario {
  const result = scenarioSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new ScenarioError(`invalid ${source}:\n${problems.join('\n')}`);
  }
  return result.data;
}

/**
 * Loads a scenario from a YAML/JSON file path or from YAML/JSON text. A string that names an
 * existing file is read as a file; anything with a newline or a `{` is parsed as text.
 */
export function loadScenario(pathOrText: string): Scenario {
  return loadParsedScenario(pathOrText);
}

export function loadParsedScenario(pathOrText: string): ParsedScenario {
  const looksLikeText = pathOrText.includes('\n') || pathOrText.trimStart().startsWith('{');
  let text: string;
  let source: string;
  if (!looksLikeText) {
    if (!existsSync(pathOrText)) throw new ScenarioError(`scenario file not found: ${pathOrText}`);
    text = readFileSync(pathOrText, 'utf8');
    source = `scenario file ${pathOrText}`;
  } else {
    text = pathOrText;
    source = 'scenario text';
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ScenarioError(`${source} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseScenario(raw, source);
}

/** A UUID derived from a name, so scenario objects keep their ids across restarts. */
export function stableUuid(kind: string, name: string): string {
  const hex = createHash('sha1').update(`${kind}:${name}`).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** A Keystone-style 32-hex id derived from a name. */
export function stableHexId(kind: string, name: string): string {
  return createHash('sha1').update(`${kind}:${name}`).digest('hex').slice(0, 32);
}

export interface GenerateScenarioOptions {
  /** Number of compute hosts (`host-1` … `host-N`). */
  hosts: number;
  /** Servers placed on each host listed in `loadedHosts` (default: every host). */
  serversPerHost: number;
  /** Hosts that get `serversPerHost` servers; others start empty. Default: all hosts. */
  loadedHosts?: string[];
  /** vCPUs per host; default large enough for the servers to fit anywhere. */
  hostVcpus?: number;
  hostRamMb?: number;
  settings?: Scenario['settings'];
  /** Spread servers over this many projects (default 3). */
  projects?: number;
}

/**
 * Builds a large, regular scenario for benchmarks: N equal hosts, M small servers on each
 * loaded host, spread over a few projects, all ACTIVE. Hosts are big enough by default to
 * absorb a full drain of one loaded host.
 */
export function generateScenario(options: GenerateScenarioOptions): Scenario {
  const { hosts: hostCount, serversPerHost } = options;
  if (!Number.isInteger(hostCount) || hostCount < 1)
    throw new ScenarioError('generateScenario: hosts must be >= 1');
  if (!Number.isInteger(serversPerHost) || serversPerHost < 0) {
    throw new ScenarioError('generateScenario: serversPerHost must be >= 0');
  }
  const projectCount = options.projects ?? 3;
  const hostNames = Array.from({ length: hostCount }, (_, i) => `host-${i + 1}`);
  const loaded = options.loadedHosts ?? hostNames;
  for (const name of loaded) {
    if (!hostNames.includes(name)) throw new ScenarioError(`generateScenario: unknown loaded host "${name}"`);
  }
  const totalServers = loaded.length * serversPerHost;
  // Each server takes 1 vCPU / 512 MB; size hosts so every server could sit on any single host.
  const hostVcpus = options.hostVcpus ?? Math.max(64, Math.ceil(totalServers / 4) + 16);
  const hostRamMb = options.hostRamMb ?? Math.max(65536, totalServers * 512 + 8192);
  const projects = Array.from({ length: projectCount }, (_, i) => ({
    name: i === 0 ? 'admin' : `project-${i}`,
  }));
  return {
    name: `generated-${hostCount}x${serversPerHost}`,
    settings: options.settings ?? {},
    projects,
    users: [
      {
        name: 'admin',
        password: 'admin',
        project: 'admin',
        roles: ['admin', 'member', 'reader'],
        projects: projects.slice(1).map((p) => p.name),
        application_credentials: [{ name: 'evacuation-bot', secret: 'bot-secret' }],
      },
    ],
    flavors: [{ id: '1', name: 'm1.small', vcpus: 1, ram_mb: 512, disk_gb: 10 }],
    images: [{ name: 'cirros' }],
    hosts: hostNames.map((name) => ({ name, vcpus: hostVcpus, ram_mb: hostRamMb, disk_gb: 100000 })),
    servers: loaded.flatMap((host) =>
      Array.from({ length: serversPerHost }, (_, i) => ({
        name: `${host}-vm-${String(i + 1).padStart(3, '0')}`,
        project: projects[i % projectCount]?.name ?? 'admin',
        flavor: 'm1.small',
        image: 'cirros',
        host,
      })),
    ),
  };
}
