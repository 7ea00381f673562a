/**
 * OpenStack credentials, read the way the `openstack` CLI reads them: `OS_*` environment
 * variables, or a named cloud from `clouds.yaml` (+ `secure.yaml`) selected with `OS_CLOUD`,
 * with `OS_*` variables overriding the file. Everything ends up in one zod-checked
 * `OpenStackCredentials` object; anything missing or contradictory is a `CredentialsError` that
 * names the setting and where it was looked for.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CredentialsError } from './errors.js';
import { MicroversionError, parseMicroversionPin } from './microversion.js';

export const AUTH_TYPES = ['password', 'v3applicationcredential'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
export const INTERFACES = ['public', 'internal', 'admin'] as const;
export type EndpointInterface = (typeof INTERFACES)[number];

/** Domain id keystoneauth's CLI defaults to when a name is given without a domain. */
export const DEFAULT_DOMAIN_ID = 'default';

const optionalText = z.string().trim().min(1).optional();

const credentialsShape = z.object({
  // Optional here so that a missing URL is reported together with every other problem.
  authUrl: z
    .string()
    .trim()
    .regex(/^https?:\/\/[^\s/]+/i, 'must be an http(s) URL')
    .optional(),
  authType: z.enum(AUTH_TYPES).default('password'),
  username: optionalText,
  userId: optionalText,
  password: z.string().min(1).optional(),
  userDomainName: optionalText,
  userDomainId: optionalText,
  projectName: optionalText,
  projectId: optionalText,
  projectDomainName: optionalText,
  projectDomainId: optionalText,
  applicationCredentialId: optionalText,
  applicationCredentialName: optionalText,
  applicationCredentialSecret: z.string().min(1).optional(),
  regionName: optionalText,
  interface: z.enum(INTERFACES).default('public'),
  cacert: optionalText,
  insecure: z.boolean().default(false),
  cert: optionalText,
  key: optionalText,
  /** OS_COMPUTE_API_VERSION: "2.60", "latest", or unset (negotiate). */
  computeApiVersion: optionalText,
  /** clouds.yaml `api_timeout`, seconds. */
  timeoutSeconds: z.number().positive().optional(),
  /** Where these credentials came from, for log lines and error messages (never secrets). */
  origin: z
    .object({
      cloud: z.string().nullable(),
      cloudsFile: z.string().nullable(),
      secureFile: z.string().nullable(),
    })
    .optional(),
});

/**
 * The credentials schema. Accepts the flat object the simulator hands out
 * (`{authUrl, username, password, projectName, userDomainName, projectDomainName, regionName}`)
 * as well as what `loadCredentials` builds.
 */
export const OpenStackCredentialsSchema = credentialsShape
  .superRefine((value, ctx) => {
    if (value.authUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['authUrl'], message: 'is missing' });
    } else if (/\/v2\.0\/?$/.test(value.authUrl)) {
      ctx.addIssue({
        code: 'custom',
        path: ['authUrl'],
        message: 'points at Keystone v2.0, which is not supported: use the v3 URL',
      });
    }
    if (value.computeApiVersion !== undefined) {
      try {
        parseMicroversionPin(value.computeApiVersion);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['computeApiVersion'],
          message: error instanceof MicroversionError ? (error.detail ?? error.message) : String(error),
        });
      }
    }
    if (value.authType === 'password') {
      if (value.password === undefined)
        ctx.addIssue({ code: 'custom', path: ['password'], message: 'is missing' });
      if (value.username === undefined && value.userId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['username'],
          message: 'is missing (a user name or user id is needed)',
        });
      }
      if (value.projectName === undefined && value.projectId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['projectName'],
          message: 'is missing (a project name or id is needed: Nova needs a project-scoped token)',
        });
      }
    } else {
      if (value.applicationCredentialSecret === undefined) {
        ctx.addIssue({ code: 'custom', path: ['applicationCredentialSecret'], message: 'is missing' });
      }
      if (value.applicationCredentialId === undefined) {
        if (value.applicationCredentialName === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['applicationCredentialId'],
            message: 'is missing (an application credential id, or its name plus the user)',
          });
        } else if (value.username === undefined && value.userId === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['username'],
            message: 'is missing (an application credential given by name needs its user name or id)',
          });
        }
      }
    }
  })
  .transform((value) => {
    // A user or project named without a domain lives in the default domain, as with the CLI.
    const needsUserDomain =
      value.username !== undefined &&
      value.userId === undefined &&
      value.userDomainName === undefined &&
      value.userDomainId === undefined;
    const needsProjectDomain =
      value.authType === 'password' &&
      value.projectName !== undefined &&
      value.projectId === undefined &&
      value.projectDomainName === undefined &&
      value.projectDomainId === undefined;
    return {
      ...value,
      ...(needsUserDomain ? { userDomainId: DEFAULT_DOMAIN_ID } : {}),
      ...(needsProjectDomain ? { projectDomainId: DEFAULT_DOMAIN_ID } : {}),
      // Always present here: the refinement above rejected a missing URL.
      authUrl: (value.authUrl ?? '').replace(/\/+$/, ''),
    };
  });

export type OpenStackCredentials = z.output<typeof OpenStackCredentialsSchema>;
export type OpenStackCredentialsInput = z.input<typeof OpenStackCredentialsSchema>;

/** Names of each credential field in the environment and in clouds.yaml, for error messages. */
const FIELD_SOURCES: Record<string, { env: string; cloud: string }> = {
  authUrl: { env: 'OS_AUTH_URL', cloud: 'auth.auth_url' },
  authType: { env: 'OS_AUTH_TYPE', cloud: 'auth_type' },
  username: { env: 'OS_USERNAME (or OS_USER_ID)', cloud: 'auth.username (or auth.user_id)' },
  userId: { env: 'OS_USER_ID', cloud: 'auth.user_id' },
  password: { env: 'OS_PASSWORD', cloud: 'auth.password' },
  userDomainName: { env: 'OS_USER_DOMAIN_NAME', cloud: 'auth.user_domain_name' },
  userDomainId: { env: 'OS_USER_DOMAIN_ID', cloud: 'auth.user_domain_id' },
  projectName: { env: 'OS_PROJECT_NAME (or OS_PROJECT_ID)', cloud: 'auth.project_name (or auth.project_id)' },
  projectId: { env: 'OS_PROJECT_ID', cloud: 'auth.project_id' },
  projectDomainName: { env: 'OS_PROJECT_DOMAIN_NAME', cloud: 'auth.project_domain_name' },
  projectDomainId: { env: 'OS_PROJECT_DOMAIN_ID', cloud: 'auth.project_domain_id' },
  applicationCredentialId: {
    env: 'OS_APPLICATION_CREDENTIAL_ID (or _NAME)',
    cloud: 'auth.application_credential_id (or _name)',
  },
  applicationCredentialName: {
    env: 'OS_APPLICATION_CREDENTIAL_NAME',
    cloud: 'auth.application_credential_name',
  },
  applicationCredentialSecret: {
    env: 'OS_APPLICATION_CREDENTIAL_SECRET',
    cloud: 'auth.application_credential_secret',
  },
  regionName: { env: 'OS_REGION_NAME', cloud: 'region_name' },
  interface: { env: 'OS_INTERFACE', cloud: 'interface' },
  cacert: { env: 'OS_CACERT', cloud: 'cacert' },
  insecure: { env: 'OS_INSECURE', cloud: 'verify / insecure' },
  cert: { env: 'OS_CERT', cloud: 'cert' },
  key: { env: 'OS_KEY', cloud: 'key' },
  computeApiVersion: { env: 'OS_COMPUTE_API_VERSION', cloud: 'compute_api_version' },
  timeoutSeconds: { env: '(none)', cloud: 'api_timeout' },
};

/** Parses an already-assembled credentials object (e.g. the simulator's), with a clear error. */
export function parseCredentials(input: unknown, where = 'the credentials object'): OpenStackCredentials {
  const result = OpenStackCredentialsSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(root)';
    return `${field} ${describeIssue(issue, input)}`;
  });
  throw new CredentialsError(`invalid OpenStack credentials in ${where}: ${problems.join('; ')}`);
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path[0];
  const absent =
    issue.code === 'invalid_type' &&
    issue.path.length === 1 &&
    (typeof input !== 'object' ||
      input === null ||
      (input as Record<string, unknown>)[String(field)] === undefined);
  return absent ? 'is missing' : issue.message;
}

// ---------------------------------------------------------------------------------------------
// Loading from the environment and clouds.yaml

export interface LoadCredentialsOptions {
  /** Cloud name in clouds.yaml; overrides OS_CLOUD. */
  cloud?: string;
  /** Directory searched first for clouds.yaml (default: process.cwd()). */
  cwd?: string;
  /** Home directory for `~/.config/openstack` (default: os.homedir()). */
  homeDir?: string;
  /** The site-wide directory searched last (default: /etc/openstack). */
  siteConfigDir?: string;
  /** Replaces the standard search directories entirely (tests, unusual layouts). */
  searchDirs?: string[];
}

type Environment = Record<string, string | undefined>;

const CONFIG_SUFFIXES = ['.yaml', '.yml', '.json'] as const;

/** The directories openstacksdk searches, in its order: current dir, user config, site config. */
export function configSearchDirs(
  env: Environment = process.env,
  options: LoadCredentialsOptions = {},
): string[] {
  if (options.searchDirs) return [...options.searchDirs];
  const home = options.homeDir ?? homedir();
  const dirs = [options.cwd ?? process.cwd()];
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  if (xdg) dirs.push(path.join(xdg, 'openstack'));
  dirs.push(path.join(home, '.config', 'openstack'));
  dirs.push(options.siteConfigDir ?? '/etc/openstack');
  return [...new Set(dirs.map((dir) => path.resolve(dir)))];
}

/** Candidate files for `clouds` or `secure`, override file first, in search order. */
export function configFileCandidates(
  base: 'clouds' | 'secure',
  env: Environment = process.env,
  options: LoadCredentialsOptions = {},
): string[] {
  const override = nonEmpty(base === 'clouds' ? env.OS_CLIENT_CONFIG_FILE : env.OS_CLIENT_SECURE_FILE);
  const files = configSearchDirs(env, options).flatMap((dir) =>
    CONFIG_SUFFIXES.map((suffix) => path.join(dir, `${base}${suffix}`)),
  );
  return override ? [path.resolve(options.cwd ?? process.cwd(), override), ...files] : files;
}

const cloudsFileSchema = z.looseObject({
  clouds: z.record(z.string(), z.looseObject({})).optional(),
});

type PlainObject = Record<string, unknown>;

function readConfigFile(file: string): PlainObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CredentialsError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new CredentialsError(
      `${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  const parsed = cloudsFileSchema.safeParse(document ?? {});
  if (!parsed.success) {
    throw new CredentialsError(
      `${file} does not look like a clouds file: "clouds" must map cloud names to settings`,
    );
  }
  return parsed.data as PlainObject;
}

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** secure.yaml values win; nested maps (e.g. `auth`) merge key by key, as openstacksdk does. */
export function deepMerge(base: PlainObject, override: PlainObject): PlainObject {
  const result: PlainObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = result[key];
    result[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return result;
}

function nonEmpty(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** First non-empty value among clouds.yaml keys, accepting dash and underscore spellings. */
function pick(source: PlainObject | undefined, ...keys: string[]): string | undefined {
  if (!source) return undefined;
  for (const key of keys) {
    for (const spelling of [key, key.replaceAll('_', '-')]) {
      const value = nonEmpty(source[spelling]);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

function pickEnv(env: Environment, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on', 'y', 't']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off', 'n', 'f']);

function parseBoolean(value: string | undefined, setting: string): boolean | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  throw new CredentialsError(`${setting} must be true or false, got "${value}"`);
}

/** keystoneauth accepts both `internal` and the old catalog spelling `internalURL`. */
export function normaliseInterface(
  value: string | undefined,
  setting: string,
): EndpointInterface | undefined {
  if (value === undefined) return undefined;
  const bare = value.toLowerCase().replace(/url$/, '');
  if ((INTERFACES as readonly string[]).includes(bare)) return bare as EndpointInterface;
  throw new CredentialsError(
    `${setting} "${value}" is not an endpoint interface: use public, internal or admin (or publicURL, internalURL, adminURL)`,
  );
}

export function normaliseAuthType(value: string | undefined, setting: string): AuthType | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase().replaceAll('-', '').replaceAll('_', '');
  if (lower === 'password' || lower === 'v3password') return 'password';
  if (lower === 'v3applicationcredential' || lower === 'applicationcredential')
    return 'v3applicationcredential';
  throw new CredentialsError(
    `${setting} "${value}" is not supported: use password, v3password or v3applicationcredential`,
  );
}

interface RawSettings {
  authUrl?: string;
  authType?: AuthType;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  domainName?: string;
  domainId?: string;
  defaultDomainName?: string;
  defaultDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  regionName?: string;
  interface?: EndpointInterface;
  cacert?: string;
  insecure?: boolean;
  cert?: string;
  key?: string;
  computeApiVersion?: string;
  identityApiVersion?: string;
  timeoutSeconds?: number;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function settingsFromCloud(cloud: PlainObject, describe: (key: string) => string): RawSettings {
  const auth = isPlainObject(cloud.auth) ? cloud.auth : {};
  const verify = cloud.verify;
  const insecureFlag = parseBoolean(pick(cloud, 'insecure'), describe('insecure'));
  let insecure: boolean | undefined;
  if (verify !== undefined) {
    const verifies = parseBoolean(nonEmpty(verify), describe('verify'));
    if (verifies !== undefined) insecure = !verifies;
  }
  if (insecureFlag !== undefined) insecure = insecureFlag;
  const timeoutText = pick(cloud, 'api_timeout');
  let timeoutSeconds: number | undefined;
  if (timeoutText !== undefined) {
    timeoutSeconds = Number(timeoutText);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
      throw new CredentialsError(
        `${describe('api_timeout')} must be a positive number of seconds, got "${timeoutText}"`,
      );
    }
  }
  return definedOnly({
    authUrl: pick(auth, 'auth_url') ?? pick(cloud, 'auth_url'),
    authType: normaliseAuthType(pick(cloud, 'auth_type'), describe('auth_type')),
    username: pick(auth, 'username', 'user_name'),
    userId: pick(auth, 'user_id'),
    password: pick(auth, 'password'),
    userDomainName: pick(auth, 'user_domain_name'),
    userDomainId: pick(auth, 'user_domain_id'),
    projectName: pick(auth, 'project_name', 'tenant_name'),
    projectId: pick(auth, 'project_id', 'tenant_id'),
    projectDomainName: pick(auth, 'project_domain_name'),
    projectDomainId: pick(auth, 'project_domain_id'),
    domainName: pick(auth, 'domain_name') ?? pick(cloud, 'domain_name'),
    domainId: pick(auth, 'domain_id') ?? pick(cloud, 'domain_id'),
    defaultDomainName: pick(auth, 'default_domain_name'),
    defaultDomainId: pick(auth, 'default_domain_id', 'default_domain'),
    applicationCredentialId: pick(auth, 'application_credential_id'),
    applicationCredentialName: pick(auth, 'application_credential_name'),
    applicationCredentialSecret: pick(auth, 'application_credential_secret'),
    regionName: pick(cloud, 'region_name') ?? firstRegion(cloud.regions),
    interface: normaliseInterface(pick(cloud, 'interface', 'endpoint_type'), describe('interface')),
    cacert: pick(cloud, 'cacert'),
    insecure,
    cert: pick(cloud, 'cert'),
    key: pick(cloud, 'key'),
    computeApiVersion: pick(cloud, 'compute_api_version'),
    identityApiVersion: pick(cloud, 'identity_api_version'),
    timeoutSeconds,
  });
}

/** openstacksdk uses the first entry of `regions` when `region_name` is not given. */
function firstRegion(regions: unknown): string | undefined {
  if (!Array.isArray(regions) || regions.length === 0) return undefined;
  const first: unknown = regions[0];
  if (typeof first === 'string') return nonEmpty(first);
  if (isPlainObject(first)) return nonEmpty(first.name);
  return undefined;
}

function settingsFromEnv(env: Environment): RawSettings {
  return definedOnly({
    authUrl: pickEnv(env, 'OS_AUTH_URL'),
    authType: normaliseAuthType(pickEnv(env, 'OS_AUTH_TYPE'), 'OS_AUTH_TYPE'),
    username: pickEnv(env, 'OS_USERNAME'),
    userId: pickEnv(env, 'OS_USER_ID'),
    password: pickEnv(env, 'OS_PASSWORD'),
    userDomainName: pickEnv(env, 'OS_USER_DOMAIN_NAME'),
    userDomainId: pickEnv(env, 'OS_USER_DOMAIN_ID'),
    projectName: pickEnv(env, 'OS_PROJECT_NAME', 'OS_TENANT_NAME'),
    projectId: pickEnv(env, 'OS_PROJECT_ID', 'OS_TENANT_ID'),
    projectDomainName: pickEnv(env, 'OS_PROJECT_DOMAIN_NAME'),
    projectDomainId: pickEnv(env, 'OS_PROJECT_DOMAIN_ID'),
    domainName: pickEnv(env, 'OS_DOMAIN_NAME'),
    domainId: pickEnv(env, 'OS_DOMAIN_ID'),
    defaultDomainName: pickEnv(env, 'OS_DEFAULT_DOMAIN_NAME'),
    defaultDomainId: pickEnv(env, 'OS_DEFAULT_DOMAIN_ID', 'OS_DEFAULT_DOMAIN'),
    applicationCredentialId: pickEnv(env, 'OS_APPLICATION_CREDENTIAL_ID'),
    applicationCredentialName: pickEnv(env, 'OS_APPLICATION_CREDENTIAL_NAME'),
    applicationCredentialSecret: pickEnv(env, 'OS_APPLICATION_CREDENTIAL_SECRET'),
    regionName: pickEnv(env, 'OS_REGION_NAME'),
    interface: normaliseInterface(pickEnv(env, 'OS_INTERFACE', 'OS_ENDPOINT_TYPE'), 'OS_INTERFACE'),
    cacert: pickEnv(env, 'OS_CACERT'),
    insecure: parseBoolean(pickEnv(env, 'OS_INSECURE'), 'OS_INSECURE'),
    cert: pickEnv(env, 'OS_CERT'),
    key: pickEnv(env, 'OS_KEY'),
    computeApiVersion: pickEnv(env, 'OS_COMPUTE_API_VERSION'),
    identityApiVersion: pickEnv(env, 'OS_IDENTITY_API_VERSION'),
  });
}

interface CloudSelection {
  cloud: PlainObject;
  cloudsFile: string;
  secureFile: string | null;
}

function selectCloud(name: string, env: Environment, options: LoadCredentialsOptions): CloudSelection {
  const cloudsCandidates = configFileCandidates('clouds', env, options);
  const cloudsFile = cloudsCandidates.find((file) => existsSync(file));
  if (!cloudsFile) {
    throw new CredentialsError(
      `cloud "${name}" was requested (OS_CLOUD) but no clouds.yaml was found; looked for: ${cloudsCandidates.join(', ')}`,
    );
  }
  const secureFile = configFileCandidates('secure', env, options).find((file) => existsSync(file)) ?? null;
  const clouds = readConfigFile(cloudsFile);
  const merged = secureFile ? deepMerge(clouds, readConfigFile(secureFile)) : clouds;
  const all = isPlainObject(merged.clouds) ? merged.clouds : {};
  const cloud = all[name];
  if (!isPlainObject(cloud)) {
    const known = Object.keys(all);
    throw new CredentialsError(
      `cloud "${name}" is not defined in ${cloudsFile}${secureFile ? ` or ${secureFile}` : ''}; ` +
        (known.length ? `defined clouds: ${known.join(', ')}` : 'it defines no clouds'),
    );
  }
  if (cloud.profile !== undefined) {
    throw new CredentialsError(
      `cloud "${name}" in ${cloudsFile} uses a vendor profile ("profile: ${String(cloud.profile)}"), which this client does not resolve; write its auth_url and settings out in full`,
    );
  }
  return { cloud, cloudsFile, secureFile };
}

/**
 * Reads credentials like the `openstack` CLI: `OS_CLOUD` (or `options.cloud`) selects a cloud
 * from clouds.yaml/secure.yaml; `OS_*` variables fill in or override its values.
 */
export function loadCredentials(
  env: Environment = process.env,
  options: LoadCredentialsOptions = {},
): OpenStackCredentials {
  const cloudName = options.cloud ?? pickEnv(env, 'OS_CLOUD');
  let fromCloud: RawSettings = {};
  let selection: CloudSelection | null = null;
  if (cloudName !== undefined) {
    selection = selectCloud(cloudName, env, options);
    const file = selection.cloudsFile;
    fromCloud = settingsFromCloud(selection.cloud, (key) => `${key} of cloud "${cloudName}" in ${file}`);
  }
  const fromEnv = settingsFromEnv(env);
  const merged: RawSettings = { ...fromCloud, ...fromEnv };

  // A name-or-id pair set in the environment replaces the file's pair entirely; otherwise a file's
  // user_id would survive next to OS_USERNAME and silently name a different user.
  const pairs: [keyof RawSettings, keyof RawSettings][] = [
    ['username', 'userId'],
    ['projectName', 'projectId'],
    ['userDomainName', 'userDomainId'],
    ['projectDomainName', 'projectDomainId'],
    ['domainName', 'domainId'],
    ['applicationCredentialName', 'applicationCredentialId'],
  ];
  for (const [nameKey, idKey] of pairs) {
    if (fromEnv[nameKey] !== undefined || fromEnv[idKey] !== undefined) {
      Object.assign(merged, { [nameKey]: fromEnv[nameKey], [idKey]: fromEnv[idKey] });
    }
  }

  if (merged.identityApiVersion !== undefined && !/^3(\.\d+)?$/.test(merged.identityApiVersion)) {
    throw new CredentialsError(
      `identity API version "${merged.identityApiVersion}" (OS_IDENTITY_API_VERSION / identity_api_version) is not supported: only Keystone v3 is`,
    );
  }

  const where = describeSources(cloudName, selection);
  if (merged.authType === undefined) {
    const hasPassword = merged.password !== undefined;
    const hasAppCredential = merged.applicationCredentialSecret !== undefined;
    if (hasPassword && hasAppCredential) {
      throw new CredentialsError(
        `both a password (OS_PASSWORD / auth.password) and an application credential secret (OS_APPLICATION_CREDENTIAL_SECRET / auth.application_credential_secret) are set in ${where}; set OS_AUTH_TYPE (password or v3applicationcredential) to say which to use`,
      );
    }
    merged.authType = hasAppCredential ? 'v3applicationcredential' : 'password';
  }

  // keystoneauth lets one domain stand for both the user's and the project's (OS_DOMAIN_*),
  // and the CLI falls back to its default domain (OS_DEFAULT_DOMAIN_*) after that.
  const fillDomain = (
    nameKey: 'userDomainName' | 'projectDomainName',
    idKey: 'userDomainId' | 'projectDomainId',
  ) => {
    if (merged[nameKey] !== undefined || merged[idKey] !== undefined) return;
    if (merged.domainId !== undefined) merged[idKey] = merged.domainId;
    else if (merged.domainName !== undefined) merged[nameKey] = merged.domainName;
    else if (merged.defaultDomainId !== undefined) merged[idKey] = merged.defaultDomainId;
    else if (merged.defaultDomainName !== undefined) merged[nameKey] = merged.defaultDomainName;
  };
  fillDomain('userDomainName', 'userDomainId');
  fillDomain('projectDomainName', 'projectDomainId');

  const candidate = definedOnly({
    authUrl: merged.authUrl,
    authType: merged.authType,
    username: merged.username,
    userId: merged.userId,
    password: merged.password,
    userDomainName: merged.userDomainName,
    userDomainId: merged.userDomainId,
    projectName: merged.projectName,
    projectId: merged.projectId,
    projectDomainName: merged.projectDomainName,
    projectDomainId: merged.projectDomainId,
    applicationCredentialId: merged.applicationCredentialId,
    applicationCredentialName: merged.applicationCredentialName,
    applicationCredentialSecret: merged.applicationCredentialSecret,
    regionName: merged.regionName,
    interface: merged.interface,
    cacert: merged.cacert,
    insecure: merged.insecure,
    cert: merged.cert,
    key: merged.key,
    computeApiVersion: merged.computeApiVersion,
    timeoutSeconds: merged.timeoutSeconds,
  });

  const result = OpenStackCredentialsSchema.safeParse({
    ...candidate,
    origin: {
      cloud: cloudName ?? null,
      cloudsFile: selection?.cloudsFile ?? null,
      secureFile: selection?.secureFile ?? null,
    },
  });
  if (result.success) return result.data;

  const problems = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    const names = FIELD_SOURCES[field];
    const label = names ? (cloudName !== undefined ? `${names.env} / ${names.cloud}` : names.env) : field;
    return `${label} ${describeIssue(issue, candidate)}`;
  });
  throw new CredentialsError(
    `OpenStack credentials are incomplete: ${problems.join('; ')} (looked in ${where})`,
  );
}

function describeSources(cloudName: string | undefined, selection: CloudSelection | null): string {
  if (cloudName === undefined || !selection) return 'the OS_* environment variables (OS_CLOUD is not set)';
  const files = [selection.cloudsFile, selection.secureFile].filter((file): file is string => file !== null);
  return `the OS_* environment variables and cloud "${cloudName}" in ${files.join(' + ')}`;
}
