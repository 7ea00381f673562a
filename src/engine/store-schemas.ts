/**
 * The stored forms of runs, servers and journal details, parsed on every read: a store written
 * by another version or damaged by hand fails with the path of the bad field instead of
 * surfacing later as an engine bug. Objects are loose so fields added later survive a round trip.
 */
import { z } from 'zod';

const nullableString = z.string().nullable();
const moveKind = z.enum(['live-migrate', 'cold-migrate', 'evacuate']);

export const serverRunStateSchema = z.enum([
  'pending',
  'requested',
  'moving',
  'confirming',
  'done',
  'failed',
  'timed_out',
  'skipped',
  'stopped',
]);

export const runStateSchema = z.enum([
  'planned',
  'confirmed',
  'running',
  'stopping',
  'finished',
  'cancelled',
]);

const computeServiceSchema = z.looseObject({
  id: z.string(),
  binary: z.string(),
  host: z.string(),
  zone: nullableString,
  status: z.enum(['enabled', 'disabled']),
  state: z.enum(['up', 'down']),
  disabledReason: nullableString,
  forcedDown: z.boolean(),
  updatedAt: nullableString,
});

const serverInfoSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  projectId: z.string(),
  userId: nullableString,
  status: z.string(),
  vmState: nullableString,
  taskState: nullableString,
  powerState: z.number().nullable(),
  host: nullableString,
  hypervisorHostname: nullableString,
  availabilityZone: nullableString,
  locked: z.boolean(),
  lockedReason: nullableString,
  flavor: z.looseObject({
    id: nullableString,
    name: z.string(),
    vcpus: z.number(),
    ramMb: z.number(),
    diskGb: z.number(),
    extraSpecs: z.record(z.string(), z.string()),
  }),
  imageId: nullableString,
  bootFromVolume: z.boolean(),
  volumeIds: z.array(z.string()),
  serverGroupIds: z.array(z.string()),
  fault: z
    .looseObject({ code: z.number(), message: z.string(), details: nullableString, created: nullableString })
    .nullable(),
  created: nullableString,
  updated: nullableString,
});

const findingSchema = z.looseObject({
  severity: z.enum(['blocker', 'warning', 'info']),
  code: z.string(),
  message: z.string(),
});

const requestSchema = z.looseObject({
  host: z.string(),
  mode: z.enum(['auto', 'live', 'cold', 'evacuate']),
  targetHost: z.string().optional(),
  concurrency: z.number().optional(),
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  reason: z.string().optional(),
  keepServiceEnabled: z.boolean().optional(),
  hostFenced: z.boolean().optional(),
  requestedBy: z.string(),
});

export const planSchema = z.looseObject({
  request: requestSchema,
  host: z.string(),
  service: computeServiceSchema,
  mode: z.enum(['live', 'cold', 'evacuate']),
  modeReason: z.string(),
  servers: z.array(
    z.looseObject({
      serverId: z.string(),
      name: z.string(),
      projectId: z.string(),
      status: z.string(),
      flavorName: z.string(),
      vcpus: z.number(),
      ramMb: z.number(),
      action: z.enum(['live-migrate', 'cold-migrate', 'evacuate', 'skip']),
      why: z.string(),
      findings: z.array(findingSchema),
      snapshot: serverInfoSchema,
    }),
  ),
  findings: z.array(findingSchema),
  runnable: z.boolean(),
  needsForceDown: z.boolean(),
  capacity: z.looseObject({
    freeVcpus: z.number().nullable(),
    freeRamMb: z.number().nullable(),
    neededVcpus: z.number(),
    neededRamMb: z.number(),
    candidateHosts: z.array(z.string()),
  }),
  concurrency: z.number(),
  createdAt: z.string(),
});

export const serverRunSchema = z.looseObject({
  serverId: z.string(),
  name: z.string(),
  action: z.enum(['live-migrate', 'cold-migrate', 'evacuate', 'skip']),
  state: serverRunStateSchema,
  attempt: z.number().int().nonnegative(),
  sourceHost: z.string(),
  destinationHost: nullableString,
  migrationId: z.number().nullable(),
  requestId: nullableString,
  startedAt: nullableString,
  finishedAt: nullableString,
  progress: z
    .looseObject({
      percent: z.number().nullable(),
      memoryProcessedBytes: z.number().nullable(),
      memoryTotalBytes: z.number().nullable(),
      migrationStatus: nullableString,
    })
    .nullable(),
  failure: z
    .looseObject({
      message: z.string(),
      source: z.string(),
      requestId: nullableString,
      httpStatus: z.number().nullable(),
    })
    .nullable(),
  skipReason: nullableString,
});

/** The run row without its plan and servers (stored in their own columns/rows). */
export const runFieldsSchema = z.looseObject({
  id: z.string(),
  host: z.string(),
  state: runStateSchema,
  requestedBy: z.string(),
  confirmedBy: nullableString,
  stoppedBy: nullableString,
  createdAt: z.string(),
  startedAt: nullableString,
  finishedAt: nullableString,
  serviceDisabledByRun: z.boolean(),
  frontEnd: z.record(z.string(), z.unknown()),
});

const novaAction = z.enum([
  'disable-service',
  'force-down',
  'enable-service',
  'unset-force-down',
  'live-migrate',
  'cold-migrate',
  'confirm-resize',
  'evacuate',
  'abort-live-migration',
  'force-complete-live-migration',
]);

export const moveContextSchema = z.looseObject({
  kind: moveKind.nullable(),
  statusBefore: z.string(),
  intentAt: nullableString,
  acceptedAt: nullableString,
  openIntent: z.looseObject({ action: novaAction, attempt: z.number().int(), at: z.string() }).nullable(),
  earlierRequestIds: z.array(z.string()),
  earlierMigrationIds: z.array(z.number()),
  confirmSentAt: nullableString,
  abortRequestedBy: nullableString,
  lastSeen: nullableString,
  unconfirmedRequest: nullableString,
});

export const runInternalSchema = z.looseObject({
  forcedDownByRun: z.boolean(),
  serviceReenabledAt: nullableString,
  stopAbortInFlight: z.boolean(),
  openServiceAction: novaAction.nullable(),
  previewedAt: z.string(),
});

export const journalRowSchema = z.object({
  seq: z.number().int(),
  run_id: z.string(),
  server_id: nullableString,
  attempt: z.number().int(),
  phase: z.enum(['intent', 'result']),
  action: novaAction,
  at: z.string(),
  request_id: nullableString,
  outcome: z
    .enum(['accepted', 'refused', 'unknown', 'reconciled-sent', 'reconciled-not-sent', 'skipped'])
    .nullable(),
  detail: z.string(),
});

export const auditRowSchema = z.object({
  run_id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  detail: z.string(),
});

export const controlRowSchema = z.object({
  idempotency_key: z.string(),
  run_id: z.string(),
  action: z.string(),
  actor: z.string(),
  at: z.string(),
  outcome: z.enum(['applied', 'duplicate', 'rejected']).nullable(),
  message: nullableString,
});

export const detailSchema = z.record(z.string(), z.unknown());
