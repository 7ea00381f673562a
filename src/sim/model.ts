/**
 * The simulator's records: what Nova and Keystone keep in their databases, reduced to the
 * fields the API shows or the behaviour depends on.
 */

export interface FlavorRecord {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  extraSpecs: Record<string, string>;
  isPublic: boolean;
}

export interface ProjectRecord {
  id: string;
  name: string;
  domainId: string;
  domainName: string;
}

export interface AppCredentialRecord {
  id: string;
  name: string;
  secret: string;
}

export interface UserRecord {
  id: string;
  name: string;
  domainId: string;
  domainName: string;
  password: string;
  defaultProjectId: string;
  /** Project ids this user has `roles` on. */
  projectIds: string[];
  roles: string[];
  applicationCredentials: AppCredentialRecord[];
}

export interface TokenRecord {
  token: string;
  userId: string;
  projectId: string;
  roles: string[];
  methods: string[];
  issuedMs: number;
  expiresMs: number;
  applicationCredentialId: string | null;
}

export interface ImageRecord {
  id: string;
  name: string;
}

export interface HostRecord {
  name: string;
  az: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  pinned: boolean;
  pcpus: number;
  vgpus: number;
  pciDevices: Record<string, number>;
  serviceUuid: string;
  serviceId: number;
  hypervisorUuid: string;
  hypervisorId: number;
  enabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** nova-compute process running (heartbeating). */
  alive: boolean;
  /** Last heartbeat while alive is false; while alive, heartbeats are continuous. */
  lastHeartbeatMs: number;
  /** Service record last written (status/forced_down changes). */
  serviceUpdatedMs: number;
  maxConcurrentLiveMigrations: number | null;
  liveMigrationFailureRate: number | null;
  /** Capacity taken by `fillHost` (outside Nova's view of instances). */
  reservedVcpus: number;
  reservedRamMb: number;
  reservedPcpus: number;
}

export interface FaultRecord {
  code: number;
  message: string;
  details: string;
  createdMs: number;
}

export interface ServerRecord {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  flavor: FlavorRecord;
  imageId: string | null;
  volumeIds: string[];
  host: string | null;
  node: string | null;
  az: string | null;
  /** AZ requested at boot: the scheduler must keep the server in it. */
  requestedAz: string | null;
  vmState: string;
  taskState: string | null;
  powerState: number;
  locked: boolean;
  lockedReason: string | null;
  lockedBy: 'admin' | 'owner' | null;
  groupIds: string[];
  fault: FaultRecord | null;
  createdMs: number;
  updatedMs: number;
  launchedMs: number | null;
  deletedMs: number | null;
  instanceName: string;
  metadata: Record<string, string>;
  hostId: string;
}

export interface ServerGroupRecord {
  id: string;
  name: string;
  policy: string;
  projectId: string;
  userId: string;
  rules: Record<string, number>;
  members: string[];
}

export interface MigrationRecord {
  id: number;
  uuid: string;
  instanceUuid: string;
  migrationType: 'live-migration' | 'migration' | 'evacuation' | 'resize';
  status: string;
  sourceCompute: string | null;
  destCompute: string | null;
  sourceNode: string | null;
  destNode: string | null;
  destHost: string | null;
  oldFlavorId: string;
  newFlavorId: string;
  createdMs: number;
  updatedMs: number | null;
  userId: string;
  projectId: string;
  hidden: boolean;
  memoryTotal: number | null;
  memoryProcessed: number | null;
  memoryRemaining: number | null;
  diskTotal: number | null;
  diskProcessed: number | null;
  diskRemaining: number | null;
}

export interface ActionEventRecord {
  event: string;
  startMs: number;
  finishMs: number | null;
  result: string | null;
  traceback: string | null;
  details: string | null;
  host: string | null;
}

export interface InstanceActionRecord {
  action: string;
  requestId: string;
  instanceUuid: string;
  userId: string;
  projectId: string;
  startMs: number;
  updatedMs: number;
  message: string | null;
  events: ActionEventRecord[];
}

/** Who is calling and at which microversion: what every Nova handler decides on. */
export interface RequestContext {
  requestId: string;
  userId: string;
  projectId: string;
  roles: string[];
  isAdmin: boolean;
  /** The minor part of the compute microversion (2.X), 0 for non-compute requests. */
  microversion: number;
}

/** Nova's task states and vm states as used here. */
export const VmState = {
  active: 'active',
  stopped: 'stopped',
  paused: 'paused',
  suspended: 'suspended',
  error: 'error',
  resized: 'resized',
  shelvedOffloaded: 'shelved_offloaded',
  deleted: 'deleted',
} as const;

export const PowerState = {
  nostate: 0,
  running: 1,
  paused: 3,
  shutdown: 4,
  crashed: 6,
  suspended: 7,
} as const;

const STATE_MAP: Record<string, Record<string, string>> = {
  active: {
    default: 'ACTIVE',
    rebooting: 'REBOOT',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: {
    default: 'SHUTOFF',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: {
    default: 'ERROR',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  deleted: { default: 'DELETED' },
  soft_deleted: { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

/** The API `status` for a vm_state/task_state pair (Nova's `status_from_state`). */
export function statusFromState(vmState: string, taskState: string | null): string {
  const map = STATE_MAP[vmState];
  if (!map) return 'UNKNOWN';
  return (taskState !== null ? map[taskState] : undefined) ?? map.default ?? 'UNKNOWN';
}

/** Every status string the API knows (for `?status=` validation). */
export const KNOWN_STATUSES = new Set(Object.values(STATE_MAP).flatMap((m) => Object.values(m)));

/** Nova's JSON error envelope names, by HTTP status. */
export function errorKeyForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'badRequest';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'itemNotFound';
    case 405:
      return 'badMethod';
    case 409:
      return 'conflictingRequest';
    case 413:
      return 'overLimit';
    case 501:
      return 'notImplemented';
    case 503:
      return 'serviceUnavailable';
    default:
      return 'computeFault';
  }
}

/** An error Nova's API would return, with its exact message. */
export class NovaApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'NovaApiError';
  }
}

export const badRequest = (message: string) => new NovaApiError(400, message);
export const forbidden = (message: string) => new NovaApiError(403, message);
export const notFound = (message: string) => new NovaApiError(404, message);
export const conflict = (message: string) => new NovaApiError(409, message);

export function invalidStateError(
  action: string,
  serverId: string,
  attr: string,
  state: string | null,
): NovaApiError {
  return conflict(`Cannot '${action}' instance ${serverId} while it is in ${attr} ${state ?? 'None'}`);
}

/** `2026-11-27T10:36:00.000000`: Nova's DB datetime format (migrations, actions, services). */
export function novaDbTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}000`;
}

/** `2026-11-27T10:36:00Z`: the servers API `created`/`updated` format. */
export function novaApiTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Keystone's `expires_at` format. */
export function keystoneTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.000000Z`;
}

/**
 * Parses the ISO 8601 forms clients send in `changes-since` (with or without zone, fraction).
 * Returns null when it cannot be parsed.
 */
export function parseIsoTime(value: string): number | null {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    value.trim(),
  );
  if (!match) return null;
  const [, date, time, fraction, zone] = match;
  const ms = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  let zonePart = zone ?? 'Z';
  if (/^[+-]\d{4}$/.test(zonePart)) zonePart = `${zonePart.slice(0, 3)}:${zonePart.slice(3)}`;
  const base = Date.parse(`${date}T${time?.length === 5 ? `${time}:00` : time}${zonePart}`);
  if (Number.isNaN(base)) return null;
  return base + ms;
}
