/**
 * Evacuation planning: turns "evacuate host-12" into the plan the operator previews and
 * confirms. Planning only reads, and costs a fixed number of API calls whatever the number of
 * servers: the services list, the servers on the host (one paginated list), hypervisors and
 * server groups.
 */
import { z } from 'zod';
import type { ComputeApi, ComputeService, ServerInfo } from '../nova/types.js';
import { UnknownHostError } from './api.js';
import { suggestHosts } from './plan-hosts.js';
import {
  assessCapacity,
  checkAntiAffinity,
  checkTargetHost,
  checkZone,
  destinationHosts,
  groupsByServer,
  hardAffinityGroups,
} from './plan-placement.js';
import {
  blocker,
  info,
  planServer,
  planned,
  warning,
  type PlanMode,
  type ServerPlanContext,
  type ServerSelection,
} from './plan-server.js';
import type {
  EvacuationPlan,
  EvacuationRequest,
  Finding,
  MoveKind,
  PlannedServer,
  RequestedMode,
} from './types.js';

export { suggestHosts } from './plan-hosts.js';

export interface PlanningOptions {
  /** Parallel moves when the request does not say, per kind of move. */
  defaultConcurrency: Record<MoveKind, number>;
  /** Global cap on parallel moves, whatever the request asks. */
  maxConcurrency: number;
  now?: () => Date;
}

export const DEFAULT_PLANNING_OPTIONS: PlanningOptions = {
  // Nova runs one live migration per source host at a time by default
  // (max_concurrent_live_migrations=1) and queues the rest, so more only helps where that is raised.
  defaultConcurrency: { 'live-migrate': 4, 'cold-migrate': 4, evacuate: 8 },
  maxConcurrency: 20,
};

/** A request or planning option that cannot be planned at all (e.g. a parallelism of 0). */
export class PlanValidationError extends Error {
  constructor(
    message: string,
    /** The offending field, e.g. `concurrency`. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'PlanValidationError';
  }
}

const MOVE_KINDS = ['live-migrate', 'cold-migrate', 'evacuate'] as const satisfies readonly MoveKind[];
const MODES = ['auto', 'live', 'cold', 'evacuate'] as const satisfies readonly RequestedMode[];
const KIND_OF_MODE: Record<PlanMode, MoveKind> = {
  live: 'live-migrate',
  cold: 'cold-migrate',
  evacuate: 'evacuate',
};

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function wholeNumber(what: string) {
  const error = (issue: { input?: unknown }) =>
    `${what} must be a whole number of at least 1 (got ${shown(issue.input)}).`;
  return z.number({ error }).int({ error }).min(1, { error });
}

const hostName = (what: string) =>
  z
    .string({ error: `${what} must be a host name.` })
    .trim()
    .min(1, { error: `${what} is empty.` })
    .regex(/^\S+$/, {
      error: (issue) => `${what} ${shown(issue.input)} contains spaces; host names never do.`,
    });

const serverList = (what: string) =>
  z.array(
    z
      .string({ error: `${what} lists something that is not a server name or id.` })
      .trim()
      .min(1, {
        error: `${what} has an empty entry.`,
      }),
    { error: `${what} must be a list of server names or ids.` },
  );

const requestSchema = z.object({
  host: hostName('Host name'),
  mode: z.enum(MODES, {
    error: (issue) => `Unknown mode ${shown(issue.input)}: use auto, live, cold or evacuate.`,
  }),
  targetHost: hostName('Target host').optional(),
  concurrency: wholeNumber('Parallelism').optional(),
  include: serverList('The include list')
    .min(1, { error: 'The include list is empty: leave it out to move every server.' })
    .optional(),
  exclude: serverList('The exclude list').optional(),
});

const optionsSchema = z.object({
  defaultConcurrency: z.object({
    'live-migrate': wholeNumber('Default parallelism for live migration'),
    'cold-migrate': wholeNumber('Default parallelism for cold migration'),
    evacuate: wholeNumber('Default parallelism for evacuation'),
  }),
  maxConcurrency: wholeNumber('Maximum parallelism'),
  now: z
    .custom<() => Date>((value) => typeof value === 'function', {
      error: 'Planning option now must be a function returning the current time.',
    })
    .optional(),
});

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new PlanValidationError(`${prefix}${issue?.message ?? 'invalid value.'}`, field);
}

function resolveOptions(options: Partial<PlanningOptions>): Required<PlanningOptions> {
  const merged = {
    ...DEFAULT_PLANNING_OPTIONS,
    ...options,
    defaultConcurrency: { ...DEFAULT_PLANNING_OPTIONS.defaultConcurrency, ...options.defaultConcurrency },
  };
  const parsed = parseOrThrow(optionsSchema, merged, 'Invalid planning options: ');
  return { ...parsed, now: options.now ?? (() => new Date()) };
}

function normalizeRequest(request: EvacuationRequest): EvacuationRequest {
  if (typeof request !== 'object' || request === null) {
    throw new PlanValidationError('The evacuation request is missing.', '');
  }
  const parsed = parseOrThrow(requestSchema, request, '');
  const normalized: EvacuationRequest = { ...request, host: parsed.host, mode: parsed.mode };
  if (parsed.targetHost !== undefined) normalized.targetHost = parsed.targetHost;
  if (parsed.include !== undefined) normalized.include = parsed.include;
  if (parsed.exclude !== undefined) normalized.exclude = parsed.exclude;
  return normalized;
}

function describeService(service: ComputeService): string {
  return `nova-compute on ${service.host}`;
}

function resolveMode(
  requested: RequestedMode,
  service: ComputeService,
): { mode: PlanMode; modeReason: string } {
  const who = describeService(service);
  switch (requested) {
    case 'auto':
      return service.state === 'up'
        ? {
            mode: 'live',
            modeReason: `${who} is up: running servers are live-migrated, stopped ones cold-migrated.`,
          }
        : {
            mode: 'evacuate',
            modeReason: `${who} is ${service.forcedDown ? 'forced down' : 'down'}: servers are evacuated, i.e. rebuilt on other hosts.`,
          };
    case 'live':
      return { mode: 'live', modeReason: 'Live migration, as asked: running servers move without downtime.' };
    case 'cold':
      return {
        mode: 'cold',
        modeReason:
          'Cold migration, as asked: each server is shut down, moved, and started again if it was running.',
      };
    case 'evacuate':
      return { mode: 'evacuate', modeReason: 'Evacuation, as asked: servers are rebuilt on other hosts.' };
  }
}

/** What the state of the source's compute service means for a move of this kind. */
function serviceFindings(kind: MoveKind, service: ComputeService, hostFenced: boolean): Finding[] {
  const who = describeService(service);
  if (kind === 'evacuate') {
    if (service.state === 'up') {
      return [
        blocker(
          'service-up',
          `${who} is still up, so Nova refuses to evacuate ("Compute service of ${service.host} is still in use."). Live-migrate instead, or power the host off and preview again once the service shows down (up to a minute).`,
        ),
      ];
    }
    if (service.forcedDown) return [info('forced-down', `${who} is forced down: evacuation can start.`)];
    return hostFenced
      ? [
          info(
            'force-down',
            `${who} is down but not forced down; you confirmed the host is fenced, so the run forces it down before evacuating.`,
          ),
        ]
      : [
          blocker(
            'not-fenced',
            `${who} is down but not forced down. Evacuating a host that may still be running can leave two copies of a server writing to the same disks. Confirm the host is powered off or isolated (fenced) to continue.`,
          ),
        ];
  }
  if (service.state === 'down') {
    const what = kind === 'live-migrate' ? 'live-migrate' : 'cold-migrate';
    return [
      blocker(
        'service-down',
        `${who} is down: Nova cannot ${what} servers off it (the source host must take part). Evacuate instead.`,
      ),
    ];
  }
  return [];
}

function serviceStatusFindings(
  request: EvacuationRequest,
  service: ComputeService,
  mode: PlanMode,
): Finding[] {
  const who = describeService(service);
  if (service.status === 'disabled') {
    const reason = service.disabledReason ? ` ("${service.disabledReason}")` : '';
    return [info('service-disabled', `${who} is already disabled${reason}.`)];
  }
  if (!request.keepServiceEnabled) {
    return [info('disable-service', `The run disables ${who} first, so no new servers are scheduled there.`)];
  }
  return mode === 'evacuate'
    ? []
    : [
        warning(
          'service-stays-enabled',
          `${who} stays enabled, as asked: new servers may be scheduled onto it while it is being emptied.`,
        ),
      ];
}

function selectionOf(request: EvacuationRequest): ServerSelection {
  const selection: ServerSelection = {};
  if (request.include) selection.include = new Set(request.include);
  if (request.exclude) selection.exclude = new Set(request.exclude);
  return selection;
}

/** Names in include/exclude that match nothing (a typo) or several servers (names are not unique). */
function selectionFindings(request: EvacuationRequest, servers: ServerInfo[]): Finding[] {
  const findings: Finding[] = [];
  const lists = [
    ['include', request.include, 'included'],
    ['exclude', request.exclude, 'excluded'],
  ] as const;
  for (const [list, names, verb] of lists) {
    for (const name of new Set(names ?? [])) {
      const matches = servers.filter((s) => s.id === name || s.name === name);
      if (matches.length === 0) {
        findings.push(
          warning(
            'unknown-server',
            `"${name}" (in ${list}) is not a server on ${request.host}: check the name.`,
          ),
        );
      } else if (matches.length > 1) {
        findings.push(
          warning(
            'ambiguous-name',
            `"${name}" (in ${list}) names ${matches.length} servers on ${request.host}: all of them are ${verb}.`,
          ),
        );
      }
    }
  }
  return findings;
}

const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

function uniqueById(servers: ServerInfo[]): ServerInfo[] {
  const seen = new Map<string, ServerInfo>();
  for (const server of servers) if (!seen.has(server.id)) seen.set(server.id, server);
  return [...seen.values()].sort((a, b) => naturalOrder.compare(a.name, b.name) || (a.id < b.id ? -1 : 1));
}

const LEFT_BY_REQUEST = new Set(['excluded', 'not-included']);

/** Do servers stay behind, and why: the operator's first question is whether the host ends up empty. */
function remainingFindings(host: string, servers: PlannedServer[]): Finding[] {
  const leftByRequest = (s: PlannedServer) => s.findings.some((f) => LEFT_BY_REQUEST.has(f.code));
  const cannotMove = (s: PlannedServer) => s.findings.some((f) => f.severity === 'blocker');
  const stay = servers.filter((s) => s.action === 'skip' && (cannotMove(s) || leftByRequest(s)));
  const nothingMoves = servers.every((s) => s.action === 'skip');
  if (stay.length === 0) {
    if (!nothingMoves) return [];
    const message =
      servers.length === 0 ? `No servers on ${host}: nothing to move.` : `Nothing on ${host} needs moving.`;
    return [info('nothing-to-move', message)];
  }
  const cannot = stay.filter(cannotMove).length;
  const byChoice = stay.length - cannot;
  const why = [cannot > 0 ? `${cannot} cannot move` : '', byChoice > 0 ? `${byChoice} left by request` : '']
    .filter(Boolean)
    .join(', ');
  const noun = stay.length === 1 ? 'server stays' : 'servers stay';
  return [
    warning(
      'servers-remain',
      nothingMoves
        ? `Nothing will move: ${stay.length} ${noun} on ${host} (${why}), so the host will not be empty.`
        : `${stay.length} ${noun} on ${host} (${why}): the host will not be empty.`,
    ),
  ];
}

function resolveConcurrency(
  request: EvacuationRequest,
  mode: PlanMode,
  options: PlanningOptions,
): { concurrency: number; findings: Finding[] } {
  const wanted = request.concurrency ?? options.defaultConcurrency[KIND_OF_MODE[mode]];
  const concurrency = Math.max(1, Math.min(wanted, options.maxConcurrency));
  const findings =
    concurrency < wanted
      ? [info('concurrency-capped', `Parallelism capped at ${concurrency} (asked for ${wanted}).`)]
      : [];
  return { concurrency, findings };
}

export async function planEvacuation(
  compute: ComputeApi,
  request: EvacuationRequest,
  options: Partial<PlanningOptions> = {},
): Promise<EvacuationPlan> {
  const settings = resolveOptions(options);
  const normalized = normalizeRequest(request);
  const host = normalized.host;

  const services = (await compute.listComputeServices()).filter((s) => s.binary === 'nova-compute');
  const service = services.find((s) => s.host === host);
  if (!service) {
    throw new UnknownHostError(
      host,
      suggestHosts(
        host,
        services.map((s) => s.host),
      ),
    );
  }
  const [onHost, hypervisors, groups] = await Promise.all([
    compute.listServersOnHost(host),
    compute.listHypervisors(),
    compute.listServerGroups(),
  ]);
  const servers = uniqueById(onHost);

  const { mode, modeReason } = resolveMode(normalized.mode, service);
  const membership = groupsByServer(groups, servers);
  const context: ServerPlanContext = {
    host,
    requestedMode: normalized.mode,
    mode,
    selection: selectionOf(normalized),
    affinityGroups: hardAffinityGroups(membership),
  };
  const plannedServers = servers.map((server) => planServer(server, context));
  const moving = plannedServers.filter((s) => s.action !== 'skip');

  const target = normalized.targetHost;
  const destinations = destinationHosts(host, services, target);
  const { capacity, findings: capacityFindings } = assessCapacity({
    source: host,
    destinations,
    targetRequested: target !== undefined,
    hypervisors,
    moving,
  });
  const { concurrency, findings: concurrencyFindings } = resolveConcurrency(normalized, mode, settings);
  const needsForceDown = mode === 'evacuate' && service.state === 'down' && !service.forcedDown;

  const findings: Finding[] = [
    ...serviceFindings(KIND_OF_MODE[mode], service, normalized.hostFenced === true),
    ...serviceStatusFindings(normalized, service, mode),
    ...(target !== undefined ? checkTargetHost(target, host, services) : []),
    ...capacityFindings,
    ...checkZone(service, destinations, services),
    ...checkAntiAffinity(membership, moving, destinations, target),
    ...selectionFindings(normalized, servers),
    ...remainingFindings(host, plannedServers),
    ...concurrencyFindings,
  ];

  return {
    request: normalized,
    host,
    service,
    mode,
    modeReason,
    servers: plannedServers,
    findings,
    runnable: !findings.some((f) => f.severity === 'blocker'),
    needsForceDown,
    capacity,
    concurrency,
    createdAt: settings.now().toISOString(),
  };
}

/**
 * Re-plans one server from its current state (used by retry). `as` forces the kind of move
 * (e.g. a live migration Nova refused, retried as a cold one). Include/exclude lists do not
 * apply: retrying a server is an explicit request for that server.
 */
export async function replanServer(
  compute: ComputeApi,
  plan: EvacuationPlan,
  serverId: string,
  as?: MoveKind,
): Promise<PlannedServer> {
  if (as !== undefined && !MOVE_KINDS.includes(as)) {
    throw new PlanValidationError(
      `Unknown kind of move ${shown(as)}: use live-migrate, cold-migrate or evacuate.`,
      'as',
    );
  }
  if (typeof serverId !== 'string' || serverId.trim() === '') {
    throw new PlanValidationError('Server id is empty.', 'serverId');
  }
  const [server, service, groups] = await Promise.all([
    compute.getServer(serverId),
    compute.findComputeService(plan.host),
    compute.listServerGroups(),
  ]);
  if (!service) throw new UnknownHostError(plan.host, []);

  const context: ServerPlanContext = {
    host: plan.host,
    requestedMode: plan.request.mode,
    mode: plan.mode,
    selection: {},
    affinityGroups: hardAffinityGroups(groupsByServer(groups, [server])),
  };
  if (as !== undefined) context.forcedKind = as;
  const result = planServer(server, context);
  if (result.action === 'skip') return result;

  const serviceProblems = serviceFindings(result.action, service, plan.request.hostFenced === true).filter(
    (f) => f.severity === 'blocker',
  );
  const [first] = serviceProblems;
  if (!first) return result;
  return planned(server, 'skip', first.message, serviceProblems);
}
