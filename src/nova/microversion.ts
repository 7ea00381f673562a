/**
 * Compute API microversions: parsing, negotiation, and the request bodies whose shape depends on
 * the version. The body builders are pure functions so every range can be unit-tested without a
 * cloud; the client only decides which version to send.
 */
import { OpenStackError } from './errors.js';
import type { MicroversionRange } from './types.js';

/** A parsed `2.N` microversion. Only major version 2 exists for the compute API. */
export interface Microversion {
  readonly major: number;
  readonly minor: number;
}

/** The lowest microversion of the v2.1 API (what a request without a version header gets). */
export const BASE_MICROVERSION = '2.1';

/**
 * The highest microversion whose request and response bodies this client implements. Sending a
 * higher one could change a body under us, so negotiation never goes above it.
 */
export const CLIENT_MAX_MICROVERSION = '2.96';

/**
 * Below 2.88 `/os-hypervisors/detail` still carries vcpus, memory_mb and running_vms; later
 * versions dropped them (placement owns capacity). Requesting this version gives the capacity
 * figures while the cloud still accepts it.
 */
export const HYPERVISOR_CAPACITY_MAX_MICROVERSION = '2.87';

const MICROVERSION_PATTERN = /^(\d+)\.(\d+)$/;

/**
 * A request this client refuses to build for the negotiated (or pinned) microversion, or a
 * version it cannot use. Nothing was sent to the cloud when this is thrown. It is an
 * `OpenStackError` (kind `bad_request`, no HTTP status) so callers handle it with the rest;
 * `detail` holds the explanation.
 */
export class MicroversionError extends OpenStackError {
  /** Always false: the refusal happened before any request. */
  readonly sent = false;

  constructor(detail: string, operation = 'microversion') {
    super({ kind: 'bad_request', operation, detail });
    this.name = 'MicroversionError';
  }
}

export function parseMicroversion(text: string): Microversion {
  const match = MICROVERSION_PATTERN.exec(text.trim());
  if (!match) {
    throw new MicroversionError(
      `"${text}" is not a compute microversion (expected e.g. "2.60")`,
      'parseMicroversion',
    );
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major !== 2) {
    throw new MicroversionError(
      `"${text}" is not a compute microversion: only 2.x exists`,
      'parseMicroversion',
    );
  }
  return { major, minor };
}

export function formatMicroversion(version: Microversion): string {
  return `${version.major}.${version.minor}`;
}

/** Negative when a < b, 0 when equal, positive when a > b (numeric, so 2.9 < 2.10). */
export function compareMicroversions(a: string | Microversion, b: string | Microversion): number {
  const left = typeof a === 'string' ? parseMicroversion(a) : a;
  const right = typeof b === 'string' ? parseMicroversion(b) : b;
  return left.major !== right.major ? left.major - right.major : left.minor - right.minor;
}

export function isAtLeast(version: string, minimum: string): boolean {
  return compareMicroversions(version, minimum) >= 0;
}

export function minMicroversion(a: string, b: string): string {
  return compareMicroversions(a, b) <= 0 ? a : b;
}

export function maxMicroversion(a: string, b: string): string {
  return compareMicroversions(a, b) >= 0 ? a : b;
}

const NEGOTIATE = 'discoverMicroversions';

/** What the operator asked for: nothing (negotiate), `latest` (negotiate, explicitly), or one version. */
export type MicroversionPin = { kind: 'negotiate' } | { kind: 'exact'; version: string };

/**
 * Reads OS_COMPUTE_API_VERSION / `compute_api_version`. "2" and "2.0" mean the base API, as they
 * do for python-novaclient; "latest" means the highest version both sides support.
 */
export function parseMicroversionPin(text: string | null | undefined): MicroversionPin {
  if (text === null || text === undefined || text.trim() === '') return { kind: 'negotiate' };
  const value = text.trim();
  if (value.toLowerCase() === 'latest') return { kind: 'negotiate' };
  if (value === '2' || value === '2.0') return { kind: 'exact', version: BASE_MICROVERSION };
  const parsed = parseMicroversion(value);
  if (compareMicroversions(parsed, BASE_MICROVERSION) < 0) {
    throw new MicroversionError(
      `compute API version ${value} is below the lowest microversion ${BASE_MICROVERSION}`,
      'parseMicroversion',
    );
  }
  return { kind: 'exact', version: formatMicroversion(parsed) };
}

/**
 * Picks the version to send. `cloudMin`/`cloudMax` come from the versioned endpoint document.
 * A pinned version must lie inside both the cloud's and this client's range.
 */
export function negotiateMicroversion(
  cloudMin: string,
  cloudMax: string,
  pin: MicroversionPin = { kind: 'negotiate' },
  clientMax: string = CLIENT_MAX_MICROVERSION,
): MicroversionRange {
  const min = formatMicroversion(parseMicroversion(cloudMin));
  const max = formatMicroversion(parseMicroversion(cloudMax));
  if (compareMicroversions(min, max) > 0) {
    throw new MicroversionError(
      `the compute API reports an empty microversion range ${min}–${max}`,
      NEGOTIATE,
    );
  }
  if (pin.kind === 'exact') {
    if (compareMicroversions(pin.version, min) < 0 || compareMicroversions(pin.version, max) > 0) {
      throw new MicroversionError(
        `compute API version ${pin.version} was requested but the cloud supports ${min} to ${max}`,
        NEGOTIATE,
      );
    }
    if (compareMicroversions(pin.version, clientMax) > 0) {
      throw new MicroversionError(
        `compute API version ${pin.version} was requested but this client implements up to ${clientMax}`,
        NEGOTIATE,
      );
    }
    return { min, max, chosen: pin.version };
  }
  const chosen = minMicroversion(max, clientMax);
  if (compareMicroversions(chosen, min) < 0) {
    throw new MicroversionError(
      `the cloud's lowest compute microversion ${min} is above this client's highest ${clientMax}`,
      NEGOTIATE,
    );
  }
  return { min, max, chosen };
}

/**
 * The version for `/os-hypervisors/detail`: capacity fields vanish at 2.88, so ask for at most
 * 2.87 as long as the cloud still serves it.
 */
export function hypervisorDetailMicroversion(range: MicroversionRange): string {
  const capped = minMicroversion(range.chosen, HYPERVISOR_CAPACITY_MAX_MICROVERSION);
  return compareMicroversions(capped, range.min) >= 0 ? capped : range.chosen;
}

// ---------------------------------------------------------------------------------------------
// Server action bodies

export type JsonBody = Record<string, unknown>;

/** `os-migrateLive` for the given version. `host` undefined lets the scheduler choose. */
export function liveMigrateBody(version: string, host?: string): JsonBody {
  const args: Record<string, unknown> = { host: host ?? null };
  if (isAtLeast(version, '2.25')) {
    // "auto" lets Nova pick block migration only when there is no shared storage.
    args.block_migration = 'auto';
  } else {
    args.block_migration = false;
    args.disk_over_commit = false;
  }
  // Between 2.30 and 2.67 a named host bypasses the scheduler unless force is false; we always
  // want the scheduler's checks. 2.68 removed the parameter.
  if (host !== undefined && isAtLeast(version, '2.30') && !isAtLeast(version, '2.68')) {
    args.force = false;
  }
  return { 'os-migrateLive': args };
}

/** `migrate` (cold migration). A target host needs 2.56. */
export function coldMigrateBody(version: string, host?: string): JsonBody {
  if (host === undefined) return { migrate: null };
  if (!isAtLeast(version, '2.56')) {
    throw new MicroversionError(
      `cold migration to a named host needs compute API 2.56 or later (using ${version}); omit the host to let the scheduler choose`,
      'coldMigrate',
    );
  }
  return { migrate: { host } };
}

/** `evacuate`. Shared storage must be stated below 2.14; `force` exists from 2.29 to 2.67. */
export function evacuateBody(version: string, host?: string): JsonBody {
  const args: Record<string, unknown> = {};
  if (host !== undefined) args.host = host;
  if (!isAtLeast(version, '2.14')) {
    // Nova checks the claim itself from 2.14; before, the client must say. Rebuilding from the
    // image (false) is the choice that cannot silently lose data on a wrong claim.
    args.onSharedStorage = false;
  }
  if (host !== undefined && isAtLeast(version, '2.29') && !isAtLeast(version, '2.68')) {
    args.force = false;
  }
  return { evacuate: args };
}

/** Evacuate answers 200 with an empty body from 2.14; before, `{"adminPass": ...}`. */
export function evacuateReturnsBody(version: string): boolean {
  return !isAtLeast(version, '2.14');
}

export const CONFIRM_RESIZE_BODY: JsonBody = { confirmResize: null };
export const FORCE_COMPLETE_BODY: JsonBody = { force_complete: null };

// ---------------------------------------------------------------------------------------------
// Compute service updates

export type ServiceChange =
  { kind: 'disable'; reason: string } | { kind: 'enable' } | { kind: 'forceDown'; forcedDown: boolean };

export interface ServiceUpdateRequest {
  method: 'PUT';
  path: string;
  body: JsonBody;
  /** True when Nova answers with the whole service; false for the pre-2.53 partial answers. */
  returnsFullService: boolean;
}

/** Where to send a service change: by id from 2.53, by host + binary before. */
export function serviceUpdateRequest(
  version: string,
  service: { id: string; host: string; binary: string },
  change: ServiceChange,
): ServiceUpdateRequest {
  if (isAtLeast(version, '2.53')) {
    const body: JsonBody =
      change.kind === 'disable'
        ? { status: 'disabled', disabled_reason: change.reason }
        : change.kind === 'enable'
          ? { status: 'enabled' }
          : { forced_down: change.forcedDown };
    return {
      method: 'PUT',
      path: `/os-services/${encodeURIComponent(service.id)}`,
      body,
      returnsFullService: true,
    };
  }
  const target = { host: service.host, binary: service.binary };
  switch (change.kind) {
    case 'disable':
      return {
        method: 'PUT',
        path: '/os-services/disable-log-reason',
        body: { ...target, disabled_reason: change.reason },
        returnsFullService: false,
      };
    case 'enable':
      return { method: 'PUT', path: '/os-services/enable', body: target, returnsFullService: false };
    case 'forceDown':
      if (!isAtLeast(version, '2.11')) {
        throw new MicroversionError(
          `forcing a compute service down needs compute API 2.11 or later (using ${version})`,
          'setForcedDown',
        );
      }
      return {
        method: 'PUT',
        path: '/os-services/force-down',
        body: { ...target, forced_down: change.forcedDown },
        returnsFullService: false,
      };
  }
}

/** Minimum versions of the per-server migration APIs. */
export const LIVE_MIGRATION_LIST_MIN = '2.23';
export const LIVE_MIGRATION_ABORT_MIN = '2.24';
export const LIVE_MIGRATION_FORCE_COMPLETE_MIN = '2.22';
/** Versions where list responses change shape. */
export const FLAVOR_EMBEDDED_MIN = '2.47';
export const SERVER_GROUPS_IN_SERVER_MIN = '2.71';
export const MIGRATIONS_PAGINATED_MIN = '2.59';
export const INSTANCE_ACTIONS_PAGINATED_MIN = '2.58';
export const HYPERVISORS_PAGINATED_MIN = '2.33';
export const SERVICE_UUID_MIN = '2.53';

export function requireMicroversion(version: string, minimum: string, what: string, operation: string): void {
  if (!isAtLeast(version, minimum)) {
    throw new MicroversionError(
      `${what} needs compute API ${minimum} or later (using ${version})`,
      operation,
    );
  }
}
