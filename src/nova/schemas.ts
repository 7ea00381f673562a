/**
 * zod schemas of the Keystone and Nova responses this client reads. Unknown fields pass (every
 * microversion adds some) but are left out of the result: the fields the client uses are checked
 * and copied, nothing else (a loose object would copy every unknown field of every server on every
 * poll, several times the cost of the checks). A response that does not fit becomes an
 * `invalid_response` OpenStackError naming the operation and the path of the offending field.
 */
import { z } from 'zod';
import { OpenStackError } from './errors.js';
import type { HttpResponse } from './http.js';
import { redactUrl } from './http.js';

export interface ResponseContext {
  operation: string;
  method: string;
  url: string;
}

function formatPath(path: readonly PropertyKey[]): string {
  let result = '';
  for (const segment of path) {
    if (typeof segment === 'number') result += `[${segment}]`;
    else result += result === '' ? String(segment) : `.${String(segment)}`;
  }
  return result || '(body)';
}

/** Describes the first few problems of a failed parse, e.g. `servers[3].status: expected string`. */
export function describeZodError(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

/** Parses a response body, or throws `invalid_response` naming the operation and the bad field. */
export function parseResponse<T extends z.ZodType>(
  schema: T,
  response: Pick<HttpResponse, 'body' | 'status' | 'requestId'>,
  context: ResponseContext,
): z.output<T> {
  const result = schema.safeParse(response.body);
  if (result.success) return result.data;
  throw new OpenStackError({
    kind: 'invalid_response',
    operation: context.operation,
    status: response.status,
    detail: `unexpected response: ${describeZodError(result.error)}`,
    requestId: response.requestId,
    method: context.method,
    url: redactUrl(context.url),
  });
}

/** Nova's ids are integers before some microversion and UUID strings after. */
const idSchema = z.union([z.string().min(1), z.number().int()]).transform(String);
// `.nullable().default(null)` rather than `.nullish().transform(...)`: the same result (absent or
// null reads as null) without a pipe, which costs zod a second pass and a payload per field; a
// poll parses thousands of these fields every cycle.
const nullableText = z.string().nullable().default(null);
const dateText = z.string().refine((text) => !Number.isNaN(parseNovaTime(text)), 'not a date-time');
const nullableDate = dateText.nullable().default(null);
const nullableCount = z.number().nullable().default(null);

/**
 * Nova writes UTC times both with a zone ("2026-11-27T10:36:00Z") and without one
 * ("2026-11-27T10:37:25.000000"); the latter must not be read as local time.
 */
export function parseNovaTime(text: string): number {
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text.trim());
  return Date.parse(hasZone ? text : `${text.trim()}Z`);
}

// --- compute API version document -------------------------------------------------------------

const computeVersionSchema = z.object({
  id: z.string(),
  status: z.string().nullish(),
  version: z.string(),
  min_version: z.string(),
});

export const computeVersionDocumentSchema = z.union([
  z.object({ version: computeVersionSchema }).transform((document) => [document.version]),
  z.object({ versions: z.array(computeVersionSchema) }).transform((document) => document.versions),
]);
export type ComputeVersion = z.infer<typeof computeVersionSchema>;

// --- Keystone tokens ------------------------------------------------------------------------------

const endpointSchema = z.object({
  interface: z.string(),
  url: z.string().min(1),
  region_id: z.string().nullish(),
  region: z.string().nullish(),
});

export const catalogEntrySchema = z.object({
  type: z.string(),
  name: z.string().nullish(),
  endpoints: z.array(endpointSchema),
});

export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

export const tokenResponseSchema = z.object({
  token: z.object({
    expires_at: z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'not a date'),
    issued_at: z
      .string()
      .refine((text) => !Number.isNaN(Date.parse(text)), 'not a date')
      .nullish(),
    catalog: z.array(catalogEntrySchema).default([]),
    project: z.object({ id: z.string(), name: z.string().nullish() }).nullish(),
    user: z.object({ id: z.string(), name: z.string().nullish() }).nullish(),
  }),
});

// --- identity version discovery -----------------------------------------------------------------

const identityVersionSchema = z.object({
  id: z.string(),
  status: z.string().nullish(),
  links: z.array(z.object({ rel: z.string(), href: z.string() })).default([]),
});

export const identityDiscoverySchema = z.union([
  z.object({ version: identityVersionSchema }).transform((document) => [document.version]),
  z
    .object({ versions: z.object({ values: z.array(identityVersionSchema) }) })
    .transform((document) => document.versions.values),
  z.object({ versions: z.array(identityVersionSchema) }).transform((document) => document.versions),
]);

// --- services -----------------------------------------------------------------------------------

export const serviceSchema = z.object({
  id: idSchema,
  binary: z.string(),
  host: z.string(),
  zone: nullableText,
  status: z.enum(['enabled', 'disabled']),
  state: z.enum(['up', 'down']),
  updated_at: nullableDate,
  disabled_reason: nullableText,
  /** 2.11+ */
  forced_down: z.boolean().optional(),
});
export type NovaService = z.infer<typeof serviceSchema>;

export const serviceListSchema = z.object({ services: z.array(serviceSchema) });
export const serviceShowSchema = z.object({ service: serviceSchema });

/** The pre-2.53 `PUT /os-services/<action>` answer: only what changed. */
export const servicePartialSchema = z.object({
  service: z.object({
    host: z.string(),
    binary: z.string(),
    status: z.enum(['enabled', 'disabled']).optional(),
    disabled_reason: z.string().nullish(),
    forced_down: z.boolean().optional(),
  }),
});

// --- hypervisors --------------------------------------------------------------------------------

const linksSchema = z.array(z.object({ rel: z.string(), href: z.string() })).optional();

export const hypervisorSchema = z.object({
  id: idSchema,
  hypervisor_hostname: z.string(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  service: z.object({ host: z.string() }),
  vcpus: nullableCount,
  vcpus_used: nullableCount,
  memory_mb: nullableCount,
  memory_mb_used: nullableCount,
  running_vms: nullableCount,
});
export type NovaHypervisor = z.infer<typeof hypervisorSchema>;

export const hypervisorListSchema = z.object({
  hypervisors: z.array(hypervisorSchema),
  hypervisors_links: linksSchema,
});

// --- flavors ------------------------------------------------------------------------------------

const extraSpecsSchema = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
);

/** 2.47+: the flavor as it was when the server was created, embedded in the server. */
export const embeddedFlavorSchema = z.object({
  original_name: z.string(),
  vcpus: z.number().int().nonnegative(),
  ram: z.number().int().nonnegative(),
  disk: z.number().int().nonnegative(),
  extra_specs: extraSpecsSchema.optional(),
});

/** Below 2.47: a reference to look up. */
export const flavorRefSchema = z.object({ id: idSchema });

export const flavorShowSchema = z.object({
  flavor: z.object({
    id: idSchema,
    name: z.string(),
    vcpus: z.number().int().nonnegative(),
    ram: z.number().int().nonnegative(),
    disk: z.number().int().nonnegative(),
    extra_specs: extraSpecsSchema.optional(),
  }),
});

export const flavorExtraSpecsSchema = z.object({ extra_specs: extraSpecsSchema });

// --- servers ------------------------------------------------------------------------------------

const faultSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  details: nullableText,
  created: nullableDate,
});

export const serverSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string().min(1),
  tenant_id: z.string(),
  user_id: nullableText,
  // An object with the image id, or "" for a server booted from a volume (the common case is
  // tried first: a failed union branch costs zod an issue object per server).
  image: z.union([z.object({ id: z.string() }), z.literal('')]).nullish(),
  flavor: z.union([
    embeddedFlavorSchema.transform((flavor) => ({
      kind: 'embedded' as const,
      name: flavor.original_name,
      vcpus: flavor.vcpus,
      ram: flavor.ram,
      disk: flavor.disk,
      extraSpecs: flavor.extra_specs ?? {},
    })),
    flavorRefSchema.transform((flavor) => ({ kind: 'reference' as const, id: flavor.id })),
  ]),
  'OS-EXT-STS:vm_state': nullableText,
  'OS-EXT-STS:task_state': nullableText,
  'OS-EXT-STS:power_state': z.number().int().nullish(),
  'OS-EXT-SRV-ATTR:host': nullableText,
  'OS-EXT-SRV-ATTR:hypervisor_hostname': nullableText,
  'OS-EXT-AZ:availability_zone': nullableText,
  /** 2.9+ */
  locked: z.boolean().optional(),
  /** 2.73+ */
  locked_reason: nullableText,
  'os-extended-volumes:volumes_attached': z.array(z.object({ id: z.string() })).optional(),
  /** 2.71+, in `GET /servers/{id}` only. */
  server_groups: z.array(z.string()).optional(),
  fault: faultSchema.nullish(),
  created: nullableDate,
  updated: nullableDate,
});
export type NovaServer = z.infer<typeof serverSchema>;

export const serverListSchema = z.object({
  servers: z.array(serverSchema),
  servers_links: linksSchema,
});
export const serverShowSchema = z.object({ server: serverSchema });

// --- server groups ------------------------------------------------------------------------------

export const serverGroupSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** 2.64+ */
  policy: z.string().optional(),
  /** Below 2.64: a one-element list. */
  policies: z.array(z.string()).optional(),
  members: z.array(z.string()).default([]),
  rules: z.record(z.string(), z.number()).optional(),
  project_id: nullableText,
});
export const serverGroupListSchema = z.object({ server_groups: z.array(serverGroupSchema) });

// --- migrations ---------------------------------------------------------------------------------

export const migrationSchema = z.object({
  id: z.number().int(),
  /** 2.59+ */
  uuid: z.string().optional(),
  instance_uuid: z.string(),
  /** 2.23+ */
  migration_type: z.string().optional(),
  status: z.string(),
  source_compute: nullableText,
  dest_compute: nullableText,
  source_node: nullableText,
  dest_node: nullableText,
  created_at: dateText,
  updated_at: nullableDate,
});
export type NovaMigration = z.infer<typeof migrationSchema>;

export const migrationListSchema = z.object({
  migrations: z.array(migrationSchema),
  migrations_links: linksSchema,
});

export const liveMigrationSchema = z.object({
  id: z.number().int(),
  server_uuid: z.string(),
  status: z.string(),
  source_compute: nullableText,
  dest_compute: nullableText,
  memory_total_bytes: nullableCount,
  memory_processed_bytes: nullableCount,
  memory_remaining_bytes: nullableCount,
  disk_total_bytes: nullableCount,
  disk_processed_bytes: nullableCount,
  disk_remaining_bytes: nullableCount,
  created_at: dateText,
  updated_at: nullableDate,
});
export const liveMigrationListSchema = z.object({ migrations: z.array(liveMigrationSchema) });

// --- instance actions ---------------------------------------------------------------------------

export const instanceActionEventSchema = z.object({
  event: z.string(),
  start_time: nullableDate,
  finish_time: nullableDate,
  result: nullableText,
  traceback: nullableText,
  /** 2.84+ */
  details: nullableText,
  /** 2.62+ */
  host: nullableText,
});

export const instanceActionSchema = z.object({
  action: z.string(),
  request_id: z.string(),
  instance_uuid: z.string(),
  start_time: nullableDate,
  /** 2.58+ */
  updated_at: nullableDate,
  message: nullableText,
  events: z.array(instanceActionEventSchema).optional(),
});

export const instanceActionListSchema = z.object({
  instanceActions: z.array(instanceActionSchema),
  links: linksSchema,
});
export const instanceActionShowSchema = z.object({ instanceAction: instanceActionSchema });

/**
 * The marker for the next page, or null when there is none. Only the marker is taken from Nova's
 * `rel: next` link (its host may be a public name unreachable from here); without one the last
 * item's id is the marker, which is what Nova puts there.
 */
export function nextPageMarker(
  links: { rel: string; href: string }[] | undefined,
  lastId: string | null,
): string | null {
  const next = links?.find((link) => link.rel === 'next');
  if (!next) return null;
  let marker: string | null = null;
  try {
    marker = new URL(next.href, 'http://placeholder.invalid').searchParams.get('marker');
  } catch {
    marker = null;
  }
  return marker ?? lastId;
}
