/**
 * `ComputeApi` over HTTP: Keystone v3 for the token and catalog, Nova's compute API for the rest.
 * Every response is parsed with the schemas in `schemas.ts` and normalised into the domain types
 * of `types.ts`, hiding the differences between microversions from the engine.
 */
import type { z } from 'zod';
import { logger as rootLogger, type Logger } from '../log.js';
import {
  parseCredentials,
  type OpenStackCredentials,
  type OpenStackCredentialsInput,
} from './credentials.js';
import { OpenStackError } from './errors.js';
import {
  HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type RequestCounter,
  type RetryPolicy,
} from './http.js';
import { KeystoneSession } from './keystone.js';
import {
  CONFIRM_RESIZE_BODY,
  FLAVOR_EMBEDDED_MIN,
  FORCE_COMPLETE_BODY,
  HYPERVISORS_PAGINATED_MIN,
  INSTANCE_ACTIONS_PAGINATED_MIN,
  LIVE_MIGRATION_ABORT_MIN,
  LIVE_MIGRATION_FORCE_COMPLETE_MIN,
  LIVE_MIGRATION_LIST_MIN,
  MIGRATIONS_PAGINATED_MIN,
  MicroversionError,
  coldMigrateBody,
  evacuateBody,
  hypervisorDetailMicroversion,
  isAtLeast,
  liveMigrateBody,
  negotiateMicroversion,
  parseMicroversionPin,
  requireMicroversion,
  serviceUpdateRequest,
  type JsonBody,
  type ServiceChange,
} from './microversion.js';
import {
  computeVersionDocumentSchema,
  flavorExtraSpecsSchema,
  flavorShowSchema,
  hypervisorListSchema,
  instanceActionListSchema,
  instanceActionShowSchema,
  liveMigrationListSchema,
  migrationListSchema,
  nextPageMarker,
  parseNovaTime,
  parseResponse,
  serverGroupListSchema,
  serverListSchema,
  serverShowSchema,
  serviceListSchema,
  servicePartialSchema,
  serviceShowSchema,
  type ComputeVersion,
  type NovaHypervisor,
  type NovaMigration,
  type NovaServer,
  type NovaService,
} from './schemas.js';
import type {
  ActionReceipt,
  ChangesSnapshot,
  ColdMigrateOptions,
  ComputeApi,
  ComputeService,
  EvacuateOptions,
  FlavorInfo,
  Hypervisor,
  InstanceAction,
  InstanceActionEvent,
  ListMigrationsQuery,
  LiveMigrateOptions,
  LiveMigrationProgress,
  MicroversionRange,
  MigrationRecord,
  ServerGroup,
  ServerInfo,
} from './types.js';

/** Nova's default `[api] max_limit`: the largest page it returns. */
export const DEFAULT_PAGE_SIZE = 1000;
/** How far `nextSince` is set back from the server's clock, so late commits are not missed. */
export const DEFAULT_CHANGES_BACKDATE_MS = 5_000;
/** Longest `disabled_reason` Nova stores. */
export const MAX_DISABLED_REASON_LENGTH = 255;

export interface ComputeClientOptions {
  logger?: Logger;
  /** Per-request timeout (default 30 s, or clouds.yaml `api_timeout`). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Injectable wait between retries (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable jitter source (tests). */
  random?: () => number;
  /** Injectable clock for token expiry (tests). */
  now?: () => number;
  /** Upper bound of the token renewal margin (default 60 s; 10% of the lifetime when smaller). */
  tokenRefreshMarginMs?: number;
  /** `limit` for paginated lists (default 1000, Nova's usual maximum). */
  pageSize?: number;
  changesBackdateMs?: number;
  /** Pin a microversion, overriding OS_COMPUTE_API_VERSION ("2.60", or "latest"). */
  computeApiVersion?: string;
}

type PageLinks = { rel: string; href: string }[] | undefined;

interface ComputeContext {
  endpoint: string;
  range: MicroversionRange;
}

interface CallOptions {
  operation: string;
  method?: HttpMethod;
  path: string;
  query?: HttpRequest['query'];
  body?: JsonBody;
  /** Defaults to the negotiated version. */
  microversion?: string;
  counter?: RequestCounter;
  /** Actions: the status is what matters; a body (e.g. evacuate's adminPass) is not read. */
  ignoreBody?: boolean;
}

function requireText(value: unknown, name: string, operation: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${operation}: ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireMigrationId(value: unknown, operation: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `${operation}: migrationId must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function toComputeService(raw: NovaService): ComputeService {
  return {
    id: raw.id,
    binary: raw.binary,
    host: raw.host,
    zone: raw.zone,
    status: raw.status,
    state: raw.state,
    disabledReason: raw.disabled_reason,
    forcedDown: raw.forced_down ?? false,
    updatedAt: raw.updated_at,
  };
}

function toHypervisor(raw: NovaHypervisor): Hypervisor {
  return {
    id: raw.id,
    hypervisorHostname: raw.hypervisor_hostname,
    host: raw.service.host,
    state: raw.state,
    status: raw.status,
    vcpus: raw.vcpus,
    vcpusUsed: raw.vcpus_used,
    memoryMb: raw.memory_mb,
    memoryMbUsed: raw.memory_mb_used,
    runningVms: raw.running_vms,
  };
}

function toMigrationRecord(raw: NovaMigration, fallbackType: string | undefined): MigrationRecord {
  return {
    id: raw.id,
    uuid: raw.uuid ?? null,
    instanceId: raw.instance_uuid,
    // Below 2.23 Nova does not say; the filter we asked with is the best knowledge there is.
    migrationType: raw.migration_type ?? fallbackType ?? 'unknown',
    status: raw.status,
    sourceCompute: raw.source_compute,
    destCompute: raw.dest_compute,
    sourceNode: raw.source_node,
    destNode: raw.dest_node,
    createdAt: raw.created_at,
    updatedAt: raw.updated_at,
  };
}

function toInstanceAction(raw: z.infer<typeof instanceActionShowSchema>['instanceAction']): InstanceAction {
  return {
    action: raw.action,
    requestId: raw.request_id,
    instanceId: raw.instance_uuid,
    startTime: raw.start_time,
    updatedAt: raw.updated_at,
    message: raw.message,
    events: (raw.events ?? []).map((event): InstanceActionEvent => ({
      event: event.event,
      startTime: event.start_time,
      finishTime: event.finish_time,
      result: event.result,
      traceback: event.traceback,
      details: event.details,
      host: event.host,
    })),
  };
}

/** Formats an instant the way Nova's `changes-since` accepts it, to whole seconds. */
export function formatChangesSince(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export class NovaComputeClient implements ComputeApi {
  readonly session: KeystoneSession;
  private readonly http: HttpClient;
  private readonly logger: Logger;
  private readonly pageSize: number;
  private readonly changesBackdateMs: number;
  private readonly pinText: string | undefined;
  private context: Promise<ComputeContext> | null = null;
  private readonly flavorCache = new Map<string, Promise<FlavorInfo>>();
  /** Server id → group ids, from the last `listServerGroups`: used where a body lacks them. */
  private groupMembership: Map<string, string[]> | null = null;

  constructor(credentials: OpenStackCredentials, options: ComputeClientOptions = {}) {
    this.logger = (options.logger ?? rootLogger).child({ module: 'nova' });
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${options.pageSize}`);
    }
    this.changesBackdateMs = options.changesBackdateMs ?? DEFAULT_CHANGES_BACKDATE_MS;
    this.pinText = options.computeApiVersion ?? credentials.computeApiVersion;
    // Validate the pin now: a bad OS_COMPUTE_API_VERSION should fail at startup, not mid-drain.
    parseMicroversionPin(this.pinText);
    this.http = new HttpClient({
      timeoutMs:
        options.timeoutMs ??
        (credentials.timeoutSeconds !== undefined ? credentials.timeoutSeconds * 1000 : undefined),
      retry: options.retry,
      sleep: options.sleep,
      random: options.random,
      logger: this.logger,
      tls: {
        cacert: credentials.cacert,
        insecure: credentials.insecure,
        cert: credentials.cert,
        key: credentials.key,
      },
    });
    this.session = new KeystoneSession(credentials, {
      http: this.http,
      logger: this.logger,
      now: options.now,
      refreshMarginMs: options.tokenRefreshMarginMs,
    });
  }

  /** Frees sockets. The client must not be used afterwards. */
  close(): void {
    this.http.close();
  }

  // --- plumbing -------------------------------------------------------------------------------

  private computeContext(): Promise<ComputeContext> {
    if (!this.context) {
      this.context = this.discover().catch((error: unknown) => {
        this.context = null;
        throw error;
      });
    }
    return this.context;
  }

  private async discover(): Promise<ComputeContext> {
    const endpoint = await this.session.endpoint('compute');
    const version = await this.fetchVersionDocument(endpoint);
    if (version.version === '' || version.min_version === '') {
      throw new OpenStackError({
        kind: 'invalid_response',
        operation: 'discoverMicroversions',
        detail: `the compute endpoint ${endpoint} is the legacy v2.0 API without microversions; point the catalog at v2.1`,
      });
    }
    let range: MicroversionRange;
    try {
      range = negotiateMicroversion(version.min_version, version.version, parseMicroversionPin(this.pinText));
    } catch (error) {
      if (error instanceof MicroversionError) {
        throw new MicroversionError(`${error.detail} (compute endpoint ${endpoint})`, error.operation);
      }
      throw error;
    }
    this.logger.info({ endpoint, ...range }, 'compute API microversions negotiated');
    return { endpoint, range };
  }

  /**
   * The versioned root (`GET <endpoint>/`) describes the range. Catalogs that still carry the
   * project id in the URL answer that path with 404, so the parent is tried next.
   */
  private async fetchVersionDocument(endpoint: string): Promise<ComputeVersion> {
    const candidates = [`${endpoint}/`];
    const parent = endpoint.replace(/\/[^/]+$/, '');
    if (parent !== endpoint && /\/v2(\.\d+)?\/[^/]+$/.test(endpoint)) candidates.push(`${parent}/`);
    let lastError: unknown = null;
    for (const url of candidates) {
      try {
        const response = await this.session.request({
          operation: 'discoverMicroversions',
          method: 'GET',
          url,
        });
        const versions = parseResponse(computeVersionDocumentSchema, response, {
          operation: 'discoverMicroversions',
          method: 'GET',
          url,
        });
        const current =
          versions.find((entry) => entry.id === 'v2.1') ?? versions.find((entry) => entry.version !== '');
        if (current) return current;
        lastError = new OpenStackError({
          kind: 'invalid_response',
          operation: 'discoverMicroversions',
          detail: `no v2.1 entry in the version document at ${url}`,
          method: 'GET',
          url,
        });
      } catch (error) {
        if (
          !(error instanceof OpenStackError) ||
          (error.kind !== 'not_found' && error.kind !== 'invalid_response')
        ) {
          throw error;
        }
        lastError = error;
      }
    }
    throw lastError;
  }

  private async send(options: CallOptions): Promise<HttpResponse> {
    const { endpoint, range } = await this.computeContext();
    const version = options.microversion ?? range.chosen;
    return this.session.request({
      operation: options.operation,
      method: options.method ?? 'GET',
      url: `${endpoint}${options.path}`,
      query: options.query,
      body: options.body,
      counter: options.counter,
      ignoreBody: options.ignoreBody,
      headers: { 'OpenStack-API-Version': `compute ${version}`, 'X-OpenStack-Nova-API-Version': version },
    });
  }

  private async call<T extends z.ZodType>(
    schema: T,
    options: CallOptions,
  ): Promise<{ data: z.output<T>; response: HttpResponse }> {
    const response = await this.send(options);
    const { endpoint } = await this.computeContext();
    const data = parseResponse(schema, response, {
      operation: options.operation,
      method: options.method ?? 'GET',
      url: `${endpoint}${options.path}`,
    });
    return { data, response };
  }

  private async action(options: CallOptions): Promise<ActionReceipt> {
    const response = await this.send({ ...options, ignoreBody: true });
    return { requestId: response.requestId };
  }

  private async version(): Promise<string> {
    return (await this.computeContext()).range.chosen;
  }

  /**
   * Collects every page of a marker-paginated list. Only the marker is taken from Nova's
   * `rel: next` link; items already seen are skipped, and a marker that does not advance is an
   * error rather than an endless loop.
   */
  private async collectPages<T extends z.ZodType, Item>(
    schema: T,
    options: CallOptions & { paginated: boolean },
    read: (data: z.output<T>) => { items: Item[]; links: PageLinks },
    keyOf: (item: Item) => string,
  ): Promise<{ items: Item[]; dates: Date[] }> {
    const { paginated, ...call } = options;
    const items: Item[] = [];
    // Only each page's Date header is kept: holding the responses would keep every page's whole
    // parsed body alive until the caller is done (a poll waits for its migrations list with the
    // servers list parsed), long enough for V8 to promote it to the old generation.
    const dates: Date[] = [];
    const seen = new Set<string>();
    let marker: string | null = null;
    for (;;) {
      const query = paginated
        ? { ...call.query, limit: this.pageSize, marker: marker ?? undefined }
        : call.query;
      const page: { data: z.output<T>; response: HttpResponse } = await this.call(schema, { ...call, query });
      if (page.response.date) dates.push(page.response.date);
      const { items: pageItems, links } = read(page.data);
      for (const item of pageItems) {
        const key = keyOf(item);
        if (seen.has(key)) continue;
        seen.add(key);
        items.push(item);
      }
      const last = pageItems.at(-1);
      const next = paginated ? nextPageMarker(links, last === undefined ? null : keyOf(last)) : null;
      if (next === null || pageItems.length === 0) return { items, dates };
      if (next === marker) {
        throw new OpenStackError({
          kind: 'invalid_response',
          operation: call.operation,
          detail: `pagination did not advance (marker ${next} repeated)`,
        });
      }
      marker = next;
    }
  }

  // --- microversions --------------------------------------------------------------------------

  async microversions(): Promise<MicroversionRange> {
    return { ...(await this.computeContext()).range };
  }

  // --- services -------------------------------------------------------------------------------

  async listComputeServices(): Promise<ComputeService[]> {
    const { data } = await this.call(serviceListSchema, {
      operation: 'listComputeServices',
      path: '/os-services',
      query: { binary: 'nova-compute' },
    });
    return data.services.filter((service) => service.binary === 'nova-compute').map(toComputeService);
  }

  async findComputeService(host: string): Promise<ComputeService | null> {
    requireText(host, 'host', 'findComputeService');
    const { data, response } = await this.call(serviceListSchema, {
      operation: 'findComputeService',
      path: '/os-services',
      query: { binary: 'nova-compute', host },
    });
    // Nova's filter is a database match (case-insensitive on MySQL); only the exact name counts.
    const matches = data.services.filter(
      (service) => service.binary === 'nova-compute' && service.host === host,
    );
    if (matches.length > 1) {
      throw new OpenStackError({
        kind: 'invalid_response',
        operation: 'findComputeService',
        requestId: response.requestId,
        detail: `${matches.length} nova-compute services are named "${host}" (ids ${matches.map((m) => m.id).join(', ')}); refusing to guess`,
      });
    }
    const [match] = matches;
    return match ? toComputeService(match) : null;
  }

  async disableComputeService(service: ComputeService, reason: string): Promise<ComputeService> {
    requireText(reason, 'reason', 'disableComputeService');
    if (reason.length > MAX_DISABLED_REASON_LENGTH) {
      throw new RangeError(
        `disableComputeService: the reason is ${reason.length} characters; Nova stores at most ${MAX_DISABLED_REASON_LENGTH}`,
      );
    }
    return this.updateService('disableComputeService', service, { kind: 'disable', reason });
  }

  async enableComputeService(service: ComputeService): Promise<ComputeService> {
    return this.updateService('enableComputeService', service, { kind: 'enable' });
  }

  async setForcedDown(service: ComputeService, forcedDown: boolean): Promise<ComputeService> {
    if (typeof forcedDown !== 'boolean') {
      throw new TypeError(`setForcedDown: forcedDown must be a boolean, got ${JSON.stringify(forcedDown)}`);
    }
    return this.updateService('setForcedDown', service, { kind: 'forceDown', forcedDown });
  }

  private async updateService(
    operation: string,
    service: ComputeService,
    change: ServiceChange,
  ): Promise<ComputeService> {
    requireText(service?.host, 'service.host', operation);
    requireText(service?.id, 'service.id', operation);
    const version = await this.version();
    const update = serviceUpdateRequest(version, service, change);
    if (update.returnsFullService) {
      const { data, response } = await this.call(serviceShowSchema, {
        operation,
        method: update.method,
        path: update.path,
        body: update.body,
      });
      this.logger.info(
        { operation, host: service.host, change: change.kind, requestId: response.requestId },
        'compute service updated',
      );
      return toComputeService(data.service);
    }
    const { response } = await this.call(servicePartialSchema, {
      operation,
      method: update.method,
      path: update.path,
      body: update.body,
    });
    this.logger.info(
      { operation, host: service.host, change: change.kind, requestId: response.requestId },
      'compute service updated',
    );
    // The old API answers with only the changed fields; read the whole service back.
    const refreshed = await this.findComputeService(service.host);
    if (!refreshed) {
      throw new OpenStackError({
        kind: 'not_found',
        operation,
        detail: `the nova-compute service of ${service.host} disappeared after the update`,
      });
    }
    return refreshed;
  }

  // --- hypervisors ----------------------------------------------------------------------------

  async listHypervisors(): Promise<Hypervisor[]> {
    const { range } = await this.computeContext();
    const microversion = hypervisorDetailMicroversion(range);
    const { items } = await this.collectPages(
      hypervisorListSchema,
      {
        operation: 'listHypervisors',
        path: '/os-hypervisors/detail',
        microversion,
        paginated: isAtLeast(microversion, HYPERVISORS_PAGINATED_MIN),
      },
      (data) => ({ items: data.hypervisors, links: data.hypervisors_links }),
      (hypervisor) => hypervisor.id,
    );
    return items.map(toHypervisor);
  }

  // --- servers --------------------------------------------------------------------------------

  async listServersOnHost(host: string): Promise<ServerInfo[]> {
    // An empty host filter would list every server in the cloud.
    requireText(host, 'host', 'listServersOnHost');
    const counter: RequestCounter = { count: 0 };
    const { servers: raw } = await this.listServerPages(
      'listServersOnHost',
      { all_tenants: 1, host },
      counter,
    );
    const onHost = raw.filter((server) => server['OS-EXT-SRV-ATTR:host'] === host);
    const needsGroups = onHost.some((server) => server.server_groups === undefined);
    const membership = needsGroups ? await this.fetchGroupMembership() : null;
    return this.normaliseServers('listServersOnHost', onHost, membership, counter);
  }

  async getServer(id: string): Promise<ServerInfo> {
    requireText(id, 'id', 'getServer');
    const { data } = await this.call(serverShowSchema, {
      operation: 'getServer',
      path: `/servers/${encodeURIComponent(id)}`,
    });
    const membership = data.server.server_groups === undefined ? await this.fetchGroupMembership() : null;
    const [server] = await this.normaliseServers('getServer', [data.server], membership, undefined);
    return server as ServerInfo;
  }

  private async listServerPages(
    operation: string,
    filters: Record<string, string | number>,
    counter: RequestCounter,
  ): Promise<{ servers: NovaServer[]; dates: Date[] }> {
    const { items, dates } = await this.collectPages(
      serverListSchema,
      { operation, path: '/servers/detail', query: filters, counter, paginated: true },
      (data) => ({ items: data.servers, links: data.servers_links }),
      (server) => server.id,
    );
    return { servers: items, dates };
  }

  private async normaliseServers(
    operation: string,
    servers: NovaServer[],
    membership: Map<string, string[]> | null,
    counter: RequestCounter | undefined,
  ): Promise<ServerInfo[]> {
    const flavors = await this.flavorsOf(operation, servers, counter);
    return servers.map((server, index) => {
      const image = server.image;
      const bootFromVolume = image === '' || image === null || image === undefined;
      return {
        id: server.id,
        name: server.name,
        projectId: server.tenant_id,
        userId: server.user_id,
        status: server.status,
        vmState: server['OS-EXT-STS:vm_state'],
        taskState: server['OS-EXT-STS:task_state'],
        powerState: server['OS-EXT-STS:power_state'] ?? null,
        host: server['OS-EXT-SRV-ATTR:host'],
        hypervisorHostname: server['OS-EXT-SRV-ATTR:hypervisor_hostname'],
        availabilityZone: server['OS-EXT-AZ:availability_zone'],
        locked: server.locked ?? false,
        lockedReason: server.locked_reason,
        flavor: flavors[index] as FlavorInfo,
        imageId: typeof image === 'object' && image !== null ? image.id : null,
        bootFromVolume,
        volumeIds: (server['os-extended-volumes:volumes_attached'] ?? []).map((volume) => volume.id),
        serverGroupIds: server.server_groups ?? membership?.get(server.id) ?? [],
        fault: server.fault
          ? {
              code: server.fault.code,
              message: server.fault.message,
              details: server.fault.details,
              created: server.fault.created,
            }
          : null,
        created: server.created,
        updated: server.updated,
      };
    });
  }

  /**
   * Embedded flavors (2.47+, every server of a modern cloud) are read in place, so a poll of
   * hundreds of servers does not create a promise per server; references need lookups.
   */
  private async flavorsOf(
    operation: string,
    servers: NovaServer[],
    counter: RequestCounter | undefined,
  ): Promise<FlavorInfo[]> {
    const embedded: FlavorInfo[] = [];
    for (const server of servers) {
      if (server.flavor.kind !== 'embedded') {
        return Promise.all(servers.map((each) => this.flavorOf(operation, each, counter)));
      }
      embedded.push(embeddedFlavor(server.flavor));
    }
    return embedded;
  }

  private async flavorOf(
    operation: string,
    server: NovaServer,
    counter: RequestCounter | undefined,
  ): Promise<FlavorInfo> {
    const flavor = server.flavor;
    if (flavor.kind === 'embedded') return embeddedFlavor(flavor);
    const cached = this.flavorCache.get(flavor.id);
    if (cached) return cached;
    const lookup = this.fetchFlavor(operation, flavor.id, server.id, counter);
    this.flavorCache.set(flavor.id, lookup);
    lookup.catch(() => this.flavorCache.delete(flavor.id));
    return lookup;
  }

  /** Below 2.47 servers only reference their flavor; each distinct one is fetched once. */
  private async fetchFlavor(
    operation: string,
    flavorId: string,
    serverId: string,
    counter: RequestCounter | undefined,
  ): Promise<FlavorInfo> {
    const path = `/flavors/${encodeURIComponent(flavorId)}`;
    let flavor: z.infer<typeof flavorShowSchema>['flavor'];
    try {
      flavor = (await this.call(flavorShowSchema, { operation, path, counter })).data.flavor;
    } catch (error) {
      if (error instanceof OpenStackError && error.kind === 'not_found') {
        throw new OpenStackError({
          kind: 'not_found',
          operation,
          status: error.status,
          requestId: error.requestId,
          serviceMessage: error.serviceMessage,
          detail: `flavor ${flavorId} of server ${serverId} no longer exists; at compute API ${FLAVOR_EMBEDDED_MIN}+ Nova embeds it in the server`,
          method: 'GET',
          url: error.url,
        });
      }
      throw error;
    }
    const extraSpecs =
      flavor.extra_specs ??
      (await this.call(flavorExtraSpecsSchema, { operation, path: `${path}/os-extra_specs`, counter })).data
        .extra_specs;
    return {
      id: flavor.id,
      name: flavor.name,
      vcpus: flavor.vcpus,
      ramMb: flavor.ram,
      diskGb: flavor.disk,
      extraSpecs: { ...extraSpecs },
    };
  }

  // --- server groups --------------------------------------------------------------------------

  async listServerGroups(): Promise<ServerGroup[]> {
    const groups: ServerGroup[] = [];
    const seen = new Set<string>();
    for (let offset = 0; ; offset += this.pageSize) {
      const { data, response } = await this.call(serverGroupListSchema, {
        operation: 'listServerGroups',
        path: '/os-server-groups',
        query: { all_projects: 'True', limit: this.pageSize, offset: offset || undefined },
      });
      for (const group of data.server_groups) {
        if (seen.has(group.id)) continue;
        seen.add(group.id);
        const policy = group.policy ?? group.policies?.[0];
        if (policy === undefined) {
          throw new OpenStackError({
            kind: 'invalid_response',
            operation: 'listServerGroups',
            requestId: response.requestId,
            detail: `unexpected response: server group ${group.id} has neither "policy" nor "policies"`,
          });
        }
        groups.push({
          id: group.id,
          name: group.name,
          policy,
          members: [...group.members],
          rules: { ...(group.rules ?? {}) },
          projectId: group.project_id,
        });
      }
      if (data.server_groups.length < this.pageSize) break;
    }
    this.groupMembership = membershipOf(groups);
    return groups;
  }

  private async fetchGroupMembership(): Promise<Map<string, string[]>> {
    await this.listServerGroups();
    return this.groupMembership ?? new Map();
  }

  // --- moves ----------------------------------------------------------------------------------

  async liveMigrate(serverId: string, options: LiveMigrateOptions = {}): Promise<ActionReceipt> {
    checkMoveArguments('liveMigrate', serverId, options.host);
    const body = liveMigrateBody(await this.version(), options.host);
    return this.serverAction('liveMigrate', serverId, body, options.host, 'live migration requested');
  }

  async coldMigrate(serverId: string, options: ColdMigrateOptions = {}): Promise<ActionReceipt> {
    checkMoveArguments('coldMigrate', serverId, options.host);
    const body = coldMigrateBody(await this.version(), options.host);
    return this.serverAction('coldMigrate', serverId, body, options.host, 'cold migration requested');
  }

  async confirmResize(serverId: string): Promise<ActionReceipt> {
    checkMoveArguments('confirmResize', serverId, undefined);
    return this.serverAction('confirmResize', serverId, CONFIRM_RESIZE_BODY, undefined, 'resize confirmed');
  }

  async evacuate(serverId: string, options: EvacuateOptions = {}): Promise<ActionReceipt> {
    checkMoveArguments('evacuate', serverId, options.host);
    const body = evacuateBody(await this.version(), options.host);
    // 2.14+ answers 200 with an empty body; before, the body holds the new admin password,
    // which is neither parsed nor logged.
    return this.serverAction('evacuate', serverId, body, options.host, 'evacuation requested');
  }

  /** POST /servers/{id}/action, logged with its request id (the body is never logged). */
  private async serverAction(
    operation: string,
    serverId: string,
    body: JsonBody,
    host: string | undefined,
    done: string,
  ): Promise<ActionReceipt> {
    const receipt = await this.action({
      operation,
      method: 'POST',
      path: `/servers/${encodeURIComponent(serverId)}/action`,
      body,
    });
    this.logger.info({ serverId, host: host ?? null, requestId: receipt.requestId }, done);
    return receipt;
  }

  // --- live migration progress ----------------------------------------------------------------

  async listLiveMigrations(serverId: string): Promise<LiveMigrationProgress[]> {
    requireText(serverId, 'serverId', 'listLiveMigrations');
    requireMicroversion(
      await this.version(),
      LIVE_MIGRATION_LIST_MIN,
      'listing the live migrations of a server',
      'listLiveMigrations',
    );
    const { data } = await this.call(liveMigrationListSchema, {
      operation: 'listLiveMigrations',
      path: `/servers/${encodeURIComponent(serverId)}/migrations`,
    });
    return data.migrations.map((migration) => ({
      id: migration.id,
      serverId: migration.server_uuid,
      status: migration.status,
      sourceCompute: migration.source_compute,
      destCompute: migration.dest_compute,
      memoryTotalBytes: migration.memory_total_bytes,
      memoryProcessedBytes: migration.memory_processed_bytes,
      memoryRemainingBytes: migration.memory_remaining_bytes,
      diskTotalBytes: migration.disk_total_bytes,
      diskProcessedBytes: migration.disk_processed_bytes,
      diskRemainingBytes: migration.disk_remaining_bytes,
      createdAt: migration.created_at,
      updatedAt: migration.updated_at,
    }));
  }

  async abortLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt> {
    requireText(serverId, 'serverId', 'abortLiveMigration');
    requireMigrationId(migrationId, 'abortLiveMigration');
    requireMicroversion(
      await this.version(),
      LIVE_MIGRATION_ABORT_MIN,
      'aborting a live migration',
      'abortLiveMigration',
    );
    const receipt = await this.action({
      operation: 'abortLiveMigration',
      method: 'DELETE',
      path: `/servers/${encodeURIComponent(serverId)}/migrations/${migrationId}`,
    });
    this.logger.info(
      { serverId, migrationId, requestId: receipt.requestId },
      'live migration abort requested',
    );
    return receipt;
  }

  async forceCompleteLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt> {
    requireText(serverId, 'serverId', 'forceCompleteLiveMigration');
    requireMigrationId(migrationId, 'forceCompleteLiveMigration');
    requireMicroversion(
      await this.version(),
      LIVE_MIGRATION_FORCE_COMPLETE_MIN,
      'forcing a live migration to complete',
      'forceCompleteLiveMigration',
    );
    const receipt = await this.action({
      operation: 'forceCompleteLiveMigration',
      method: 'POST',
      path: `/servers/${encodeURIComponent(serverId)}/migrations/${migrationId}/action`,
      body: FORCE_COMPLETE_BODY,
    });
    this.logger.info(
      { serverId, migrationId, requestId: receipt.requestId },
      'live migration force-complete requested',
    );
    return receipt;
  }

  // --- migration records, actions -------------------------------------------------------------

  async listMigrations(query: ListMigrationsQuery = {}): Promise<MigrationRecord[]> {
    return this.fetchMigrations('listMigrations', query, { count: 0 }).then(({ records }) => records);
  }

  private async fetchMigrations(
    operation: string,
    query: ListMigrationsQuery,
    counter: RequestCounter,
  ): Promise<{ records: MigrationRecord[]; dates: Date[] }> {
    const sinceMs = query.changesSince !== undefined ? parseSince(query.changesSince, operation) : null;
    const version = await this.version();
    const paginated = isAtLeast(version, MIGRATIONS_PAGINATED_MIN);
    const filters: Record<string, string | number | undefined> = {
      instance_uuid: query.instanceId,
      migration_type: query.migrationType,
      source_compute: query.sourceCompute,
      // changes-since exists from 2.59; below that it is filtered here instead.
      'changes-since': paginated ? query.changesSince : undefined,
    };
    const { items: raw, dates } = await this.collectPages(
      migrationListSchema,
      { operation, path: '/os-migrations', query: filters, counter, paginated },
      (data) => ({ items: data.migrations, links: data.migrations_links }),
      // The marker is the uuid (2.59+, where pages exist); the integer id identifies it before.
      (migration) => migration.uuid ?? String(migration.id),
    );
    // One pass: a poll reads hundreds of records every cycle.
    const records: MigrationRecord[] = [];
    for (const migration of raw) {
      if (query.instanceId !== undefined && migration.instance_uuid !== query.instanceId) continue;
      if (query.sourceCompute !== undefined && migration.source_compute !== query.sourceCompute) continue;
      if (
        query.migrationType !== undefined &&
        migration.migration_type !== undefined &&
        migration.migration_type !== query.migrationType
      ) {
        continue;
      }
      // Nova filters changes-since itself from 2.59; below that this is the only filter.
      if (
        sinceMs !== null &&
        !paginated &&
        !(parseNovaTime(migration.updated_at ?? migration.created_at) >= sinceMs)
      ) {
        continue;
      }
      records.push(toMigrationRecord(migration, query.migrationType));
    }
    return { records, dates };
  }

  async listInstanceActions(serverId: string): Promise<InstanceAction[]> {
    requireText(serverId, 'serverId', 'listInstanceActions');
    const { items } = await this.collectPages(
      instanceActionListSchema,
      {
        operation: 'listInstanceActions',
        path: `/servers/${encodeURIComponent(serverId)}/os-instance-actions`,
        paginated: isAtLeast(await this.version(), INSTANCE_ACTIONS_PAGINATED_MIN),
      },
      (data) => ({ items: data.instanceActions, links: data.links }),
      (action) => action.request_id,
    );
    return items.map(toInstanceAction);
  }

  async getInstanceAction(serverId: string, requestId: string): Promise<InstanceAction> {
    requireText(serverId, 'serverId', 'getInstanceAction');
    requireText(requestId, 'requestId', 'getInstanceAction');
    const { data } = await this.call(instanceActionShowSchema, {
      operation: 'getInstanceAction',
      path: `/servers/${encodeURIComponent(serverId)}/os-instance-actions/${encodeURIComponent(requestId)}`,
    });
    return toInstanceAction(data.instanceAction);
  }

  // --- change polling -------------------------------------------------------------------------

  /**
   * One servers request and one migrations request (more only when a page overflows, or below
   * 2.47 for flavors not seen before). Server group ids come from the server bodies where Nova
   * includes them, else from the membership seen at the last `listServerGroups`.
   */
  async pollChanges(since: string): Promise<ChangesSnapshot> {
    const sinceMs = parseSince(since, 'pollChanges');
    const counter: RequestCounter = { count: 0 };
    const sinceText = formatChangesSince(sinceMs);
    const [servers, migrations] = await Promise.all([
      this.pollServers(sinceText, counter),
      this.fetchMigrations('pollChanges', { changesSince: sinceText }, counter),
    ]);
    const serverDates = [...servers.dates, ...migrations.dates].map((date) => date.getTime());
    let nextMs: number;
    if (serverDates.length > 0) {
      // Nova's own clock, so skew between this host and the cloud cannot open a gap; set back a
      // few seconds because a change committed just before the answer may be missing from it.
      nextMs = Math.min(...serverDates) - this.changesBackdateMs;
    } else {
      const seen = [
        ...servers.infos.map((server) => server.updated),
        ...migrations.records.map((migration) => migration.updatedAt ?? migration.createdAt),
      ]
        .filter((text): text is string => text !== null)
        .map(parseNovaTime)
        .filter((t) => !Number.isNaN(t));
      nextMs = seen.length > 0 ? Math.max(sinceMs, Math.max(...seen) - this.changesBackdateMs) : sinceMs;
    }
    return {
      servers: servers.infos,
      migrations: migrations.records,
      nextSince: formatChangesSince(nextMs),
      requests: counter.count,
    };
  }

  private async pollServers(
    since: string,
    counter: RequestCounter,
  ): Promise<{ infos: ServerInfo[]; dates: Date[] }> {
    const { servers, dates } = await this.listServerPages(
      'pollChanges',
      { all_tenants: 1, 'changes-since': since },
      counter,
    );
    const infos = await this.normaliseServers('pollChanges', servers, this.groupMembership, counter);
    return { infos, dates };
  }
}

function embeddedFlavor(flavor: Extract<NovaServer['flavor'], { kind: 'embedded' }>): FlavorInfo {
  return {
    id: null,
    name: flavor.name,
    vcpus: flavor.vcpus,
    ramMb: flavor.ram,
    diskGb: flavor.disk,
    extraSpecs: { ...flavor.extraSpecs },
  };
}

function membershipOf(groups: ServerGroup[]): Map<string, string[]> {
  const membership = new Map<string, string[]>();
  for (const group of groups) {
    for (const member of group.members) {
      const list = membership.get(member) ?? [];
      list.push(group.id);
      membership.set(member, list);
    }
  }
  return membership;
}

function parseSince(since: string, operation: string): number {
  const ms = typeof since === 'string' ? parseNovaTime(since) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new TypeError(`${operation}: since must be an ISO 8601 date-time, got ${JSON.stringify(since)}`);
  }
  return ms;
}

/**
 * The client for the configured cloud. Accepts `loadCredentials()` output or a plain object of
 * the same shape (e.g. the simulator's `credentials`). Call `close()` when done.
 */
/** Rejects an empty server id or target host before anything is sent. */
function checkMoveArguments(operation: string, serverId: string, host: string | undefined): void {
  requireText(serverId, 'serverId', operation);
  if (host !== undefined) requireText(host, 'options.host', operation);
}

export function createComputeClient(
  credentials: OpenStackCredentials | OpenStackCredentialsInput,
  options: ComputeClientOptions = {},
): NovaComputeClient {
  return new NovaComputeClient(parseCredentials(credentials), options);
}
