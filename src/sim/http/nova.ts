/**
 * Nova's compute API (v2.1 with microversions): the read paths an evacuation needs, the server
 * actions that move servers, and the admin APIs around compute services, hypervisors and
 * migrations. Checks run in the order real Nova runs them, so the first refusal a client sees
 * is the one Nova would give.
 */
import { z } from 'zod';
import type { OperationEngine } from '../engine.js';
import {
  KNOWN_STATUSES,
  PowerState,
  VmState,
  badRequest,
  conflict,
  forbidden,
  invalidStateError,
  notFound,
  novaDbTime,
  parseIsoTime,
  statusFromState,
  type HostRecord,
  type MigrationRecord,
  type NovaApiError,
  type RequestContext,
  type ServerRecord,
} from '../model.js';
import type { SeededRandom } from '../random.js';
import type { CloudState } from '../state.js';
import {
  novaBoolean,
  novaBooleanValue,
  novaEnum,
  novaHost,
  NOVA_BOOLEAN_VALUES,
  validateBody,
} from '../validation.js';
import { LIVE_MIGRATION_IN_PROGRESS, NovaViews } from './nova-views.js';
import { Router, type SimRequest, type SimResponse } from './router.js';

const json = (status: number, body: unknown): SimResponse => ({ status, body });
const empty = (status: number): SimResponse => ({ status });

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function policyDenied(rule: string): NovaApiError {
  return forbidden(`Policy doesn't allow ${rule} to be performed.`);
}

function requireAdmin(ctx: RequestContext, rule: string): void {
  if (!ctx.isAdmin) throw policyDenied(rule);
}

/** The route exists only from/until some microversion; outside it Nova answers a plain 404. */
function requireVersion(ctx: RequestContext, min: number, max = Number.POSITIVE_INFINITY): void {
  if (ctx.microversion < min || ctx.microversion > max) throw notFound('The resource could not be found.');
}

function isAllTenants(query: URLSearchParams): boolean {
  if (!query.has('all_tenants')) return false;
  const value = query.get('all_tenants') ?? '';
  if (value === '') return true;
  const lowered = value.toLowerCase();
  if (['true', '1', 'on', 'yes', 't', 'y'].includes(lowered)) return true;
  if (['false', '0', 'off', 'no', 'f', 'n'].includes(lowered)) return false;
  throw badRequest(`Invalid value '${value}' for all_tenants: it must be a boolean`);
}

function parseLimit(query: URLSearchParams, maxLimit: number): number {
  const raw = query.get('limit');
  if (raw === null) return maxLimit;
  if (!/^-?\d+$/.test(raw)) throw badRequest('limit param must be an integer');
  const limit = Number(raw);
  if (limit < 0) throw badRequest('limit param must be positive');
  return Math.min(limit, maxLimit);
}

function regexFilter(pattern: string): (value: string) => boolean {
  try {
    const re = new RegExp(pattern);
    return (value) => re.test(value);
  } catch {
    return (value) => value.includes(pattern);
  }
}

// ------------------------------------------------------------------ request bodies

const liveMigrateV21 = z
  .object({
    'os-migrateLive': z
      .object({ block_migration: novaBoolean, disk_over_commit: novaBoolean, host: novaHost.nullable() })
      .strict(),
  })
  .strict();
const blockMigrationAuto = novaEnum<string | boolean>([...NOVA_BOOLEAN_VALUES, 'auto']);
const liveMigrateV225 = z
  .object({
    'os-migrateLive': z.object({ block_migration: blockMigrationAuto, host: novaHost.nullable() }).strict(),
  })
  .strict();
const liveMigrateV230 = z
  .object({
    'os-migrateLive': z
      .object({
        block_migration: blockMigrationAuto,
        host: novaHost.nullable(),
        force: novaBoolean.optional(),
      })
      .strict(),
  })
  .strict();

const evacuateV21 = z
  .object({
    evacuate: z
      .object({ host: novaHost.optional(), onSharedStorage: novaBoolean, adminPass: z.string().optional() })
      .strict(),
  })
  .strict();
const evacuateV214 = z
  .object({ evacuate: z.object({ host: novaHost.optional(), adminPass: z.string().optional() }).strict() })
  .strict();
const evacuateV229 = z
  .object({
    evacuate: z
      .object({ host: novaHost.optional(), adminPass: z.string().optional(), force: novaBoolean.optional() })
      .strict(),
  })
  .strict();

const migrateV256 = z
  .object({ migrate: z.object({ host: novaHost.nullable().optional() }).strict().nullable() })
  .strict();

const lockV273 = z
  .object({
    lock: z
      .object({ locked_reason: z.string().min(1).max(255).optional() })
      .strict()
      .nullable(),
  })
  .strict();

const serviceUpdateV253 = z
  .object({
    status: novaEnum(['enabled', 'disabled']).optional(),
    disabled_reason: z.string().min(1).max(255).optional(),
    forced_down: novaBoolean.optional(),
  })
  .strict();

const serviceUpdateLegacy = z
  .object({
    host: novaHost,
    binary: z.string().min(1).max(255),
    disabled_reason: z.string().min(1).max(255).optional(),
    forced_down: novaBoolean.optional(),
  })
  .strict();

const forceCompleteBody = z.object({ force_complete: z.null() }).strict();

// ------------------------------------------------------------------ service

export class NovaService {
  readonly router = new Router<RequestContext>();
  readonly versionRouter = new Router<null>();
  private readonly views: NovaViews;

  constructor(
    private readonly state: CloudState,
    private readonly engine: OperationEngine,
    private readonly random: SeededRandom,
    private readonly computeRoot: () => string,
  ) {
    this.views = new NovaViews(state, computeRoot);
    this.versionRouter.add('GET', '/', () => this.versions()).add('GET', '/v2.1', () => this.version());

    const r = this.router;
    r.add('GET', '/', () => this.version());
    r.add('GET', '/servers', (ctx, req) => this.listServers(ctx, req, false));
    r.add('GET', '/servers/detail', (ctx, req) => this.listServers(ctx, req, true));
    r.add('GET', '/servers/{id}', (ctx, _req, p) =>
      json(200, { server: this.views.server(ctx, this.getServer(ctx, p.id), { show: true }) }),
    );
    r.add('DELETE', '/servers/{id}', (ctx, _req, p) => this.deleteServer(ctx, this.getServer(ctx, p.id)));
    r.add('POST', '/servers/{id}/action', (ctx, req, p) => this.serverAction(ctx, req, p.id ?? ''));
    r.add('GET', '/servers/{id}/migrations', (ctx, _req, p) => this.listServerMigrations(ctx, p.id ?? ''));
    r.add('GET', '/servers/{id}/migrations/{mid}', (ctx, _req, p) =>
      this.showServerMigration(ctx, p.id ?? '', p.mid ?? ''),
    );
    r.add('DELETE', '/servers/{id}/migrations/{mid}', (ctx, _req, p) =>
      this.abortServerMigration(ctx, p.id ?? '', p.mid ?? ''),
    );
    r.add('POST', '/servers/{id}/migrations/{mid}/action', (ctx, req, p) =>
      this.forceCompleteServerMigration(ctx, req, p.id ?? '', p.mid ?? ''),
    );
    r.add('GET', '/servers/{id}/os-instance-actions', (ctx, _req, p) => this.listActions(ctx, p.id ?? ''));
    r.add('GET', '/servers/{id}/os-instance-actions/{rid}', (ctx, _req, p) =>
      this.showAction(ctx, p.id ?? '', p.rid ?? ''),
    );
    r.add('GET', '/os-services', (ctx, req) => this.listServices(ctx, req));
    r.add('PUT', '/os-services/{id}', (ctx, req, p) => this.updateService(ctx, req, p.id ?? ''));
    r.add('GET', '/os-hypervisors', (ctx, req) => this.listHypervisors(ctx, req, false));
    r.add('GET', '/os-hypervisors/detail', (ctx, req) => this.listHypervisors(ctx, req, true));
    r.add('GET', '/os-hypervisors/{id}', (ctx, req, p) => this.showHypervisor(ctx, req, p.id ?? ''));
    r.add('GET', '/os-hypervisors/{pattern}/servers', (ctx, _req, p) =>
      this.searchHypervisors(ctx, p.pattern ?? '', true),
    );
    r.add('GET', '/os-hypervisors/{pattern}/search', (ctx, _req, p) =>
      this.searchHypervisors(ctx, p.pattern ?? '', false),
    );
    r.add('GET', '/os-migrations', (ctx, req) => this.listMigrations(ctx, req));
    r.add('GET', '/flavors', (ctx, req) => this.listFlavors(ctx, req, false));
    r.add('GET', '/flavors/detail', (ctx, req) => this.listFlavors(ctx, req, true));
    r.add('GET', '/flavors/{id}', (ctx, _req, p) =>
      json(200, { flavor: this.views.flavor(ctx, this.getFlavor(p.id ?? '')) }),
    );
    r.add('GET', '/flavors/{id}/os-extra_specs', (_ctx, _req, p) =>
      json(200, { extra_specs: { ...this.getFlavor(p.id ?? '').extraSpecs } }),
    );
    r.add('GET', '/os-server-groups', (ctx, req) => this.listServerGroups(ctx, req));
    r.add('GET', '/os-server-groups/{id}', (ctx, _req, p) => this.showServerGroup(ctx, p.id ?? ''));
    r.add('GET', '/os-availability-zone', () => this.availabilityZones(false));
    r.add('GET', '/os-availability-zone/detail', (ctx) => {
      requireAdmin(ctx, 'os_compute_api:os-availability-zone:detail');
      return this.availabilityZones(true);
    });
    r.add('GET', '/limits', (ctx) => this.limits(ctx));
  }

  // ---------------------------------------------------------------- versions

  private versionEntry(withMedia: boolean) {
    const base = {
      id: 'v2.1',
      status: 'CURRENT',
      version: this.state.settings.max_microversion,
      min_version: this.state.settings.min_microversion,
      updated: '2013-07-23T11:33:21Z',
      links: [{ rel: 'self', href: `${this.computeRoot()}/v2.1/` }],
    };
    if (!withMedia) return base;
    return {
      ...base,
      links: [...base.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [
        { base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' },
      ],
    };
  }

  private versions(): SimResponse {
    return json(200, {
      versions: [
        {
          id: 'v2.0',
          status: 'SUPPORTED',
          version: '',
          min_version: '',
          updated: '2011-01-21T11:33:21Z',
          links: [{ rel: 'self', href: `${this.computeRoot()}/v2/` }],
        },
        this.versionEntry(false),
      ],
    });
  }

  private version(): SimResponse {
    return json(200, { version: this.versionEntry(true) });
  }

  // ---------------------------------------------------------------- servers

  /** Nova's `common.get_instance`: project-scoped for non-admins, 404 otherwise. */
  getServer(ctx: RequestContext, id: string | undefined): ServerRecord {
    const server = this.state.servers.get(id ?? '');
    if (!server || server.deletedMs !== null || (!ctx.isAdmin && server.projectId !== ctx.projectId)) {
      throw notFound(`Instance ${id ?? ''} could not be found.`);
    }
    return server;
  }

  private listServers(ctx: RequestContext, req: SimRequest, detail: boolean): SimResponse {
    const q = req.query;
    for (const key of q.keys()) {
      if (key.startsWith('_')) throw badRequest(`Invalid filter field: ${key}.`);
    }
    const allTenants = isAllTenants(q);
    if (allTenants) {
      requireAdmin(ctx, `os_compute_api:servers:${detail ? 'detail' : 'index'}:get_all_tenants`);
    }
    let changesSince: number | null = null;
    if (q.has('changes-since')) {
      changesSince = parseIsoTime(q.get('changes-since') ?? '');
      if (changesSince === null) throw badRequest('Invalid filter field: changes-since.');
    }
    let changesBefore: number | null = null;
    if (q.has('changes-before')) {
      changesBefore = parseIsoTime(q.get('changes-before') ?? '');
      if (changesBefore === null) throw badRequest('Invalid filter field: changes-before.');
      if (changesSince !== null && changesBefore < changesSince) {
        throw badRequest('The value of changes-since must be less than or equal to changes-before.');
      }
    }
    const statuses = q.getAll('status').map((s) => s.toUpperCase());
    if (statuses.length > 0 && !statuses.some((s) => KNOWN_STATUSES.has(s))) {
      if (ctx.microversion >= 38) throw badRequest('Invalid status value');
      return json(200, { servers: [] });
    }
    let includeDeleted = changesSince !== null || changesBefore !== null;
    if (q.has('deleted')) {
      includeDeleted = novaBooleanValue(q.get('deleted') ?? 'false');
      if (includeDeleted && !ctx.isAdmin) includeDeleted = false;
    }
    const limit = parseLimit(q, this.state.settings.max_limit);
    const marker = q.get('marker');

    const projectFilter = allTenants ? (q.get('project_id') ?? q.get('tenant_id')) : ctx.projectId;
    const hostFilter = ctx.isAdmin ? q.get('host') : null;
    const nodeFilter = ctx.isAdmin ? q.get('node') : null;
    const nameFilter = q.has('name') ? regexFilter(q.get('name') ?? '') : null;
    const flavorFilter = q.get('flavor');
    const imageFilter = q.get('image');
    const lockedFilter =
      ctx.microversion >= 73 && q.has('locked') ? novaBooleanValue(q.get('locked') ?? 'false') : null;
    const azFilter = q.get('availability_zone');

    let servers = [...this.state.servers.values()].filter((s) => {
      if (s.deletedMs !== null && !includeDeleted) return false;
      if (projectFilter && s.projectId !== projectFilter) return false;
      if (hostFilter !== null && s.host !== hostFilter) return false;
      if (nodeFilter !== null && s.node !== nodeFilter) return false;
      if (nameFilter && !nameFilter(s.name)) return false;
      if (flavorFilter !== null && s.flavor.id !== flavorFilter) return false;
      if (imageFilter !== null && s.imageId !== imageFilter) return false;
      if (lockedFilter !== null && s.locked !== lockedFilter) return false;
      if (azFilter !== null && s.az !== azFilter) return false;
      if (changesSince !== null && s.updatedMs < changesSince) return false;
      if (changesBefore !== null && s.updatedMs > changesBefore) return false;
      if (statuses.length > 0 && !statuses.includes(statusFromState(s.vmState, s.taskState))) return false;
      return true;
    });
    // Nova's default order: created_at desc, id desc.
    servers.sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    if (marker !== null) {
      const index = servers.findIndex((s) => s.id === marker);
      if (index < 0) throw badRequest(`marker [${marker}] not found`);
      servers = servers.slice(index + 1);
    }
    const page = servers.slice(0, limit);
    const body: Record<string, unknown> = {
      servers: page.map((s) =>
        detail ? this.views.server(ctx, s, { show: false }) : this.views.serverSummary(s),
      ),
    };
    const last = page[page.length - 1];
    if (last && page.length === limit) {
      const next = new URLSearchParams(q);
      next.set('limit', String(limit));
      next.set('marker', last.id);
      body.servers_links = [
        {
          rel: 'next',
          href: `${this.computeRoot()}/v2.1/servers${detail ? '/detail' : ''}?${next.toString()}`,
        },
      ];
    }
    return json(200, body);
  }

  private deleteServer(ctx: RequestContext, server: ServerRecord): SimResponse {
    this.checkLock(ctx, server);
    server.vmState = VmState.deleted;
    server.taskState = null;
    server.powerState = PowerState.nostate;
    server.deletedMs = this.state.now();
    this.state.touch(server);
    for (const group of this.state.groups.values())
      group.members = group.members.filter((id) => id !== server.id);
    this.engine.startAction(server, 'delete', ctx);
    return empty(204);
  }

  private checkLock(ctx: RequestContext, server: ServerRecord): void {
    if (server.locked && (!ctx.isAdmin || !this.state.settings.admin_bypasses_lock)) {
      throw conflict(`Instance ${server.id} is locked`);
    }
  }

  private checkState(
    action: string,
    server: ServerRecord,
    vmStates: string[] | null,
    taskStates: (string | null)[] | null = [null],
  ): void {
    if (vmStates && !vmStates.includes(server.vmState))
      throw invalidStateError(action, server.id, 'vm_state', server.vmState);
    if (taskStates && !taskStates.includes(server.taskState)) {
      throw invalidStateError(action, server.id, 'task_state', server.taskState);
    }
  }

  private serverAction(ctx: RequestContext, req: SimRequest, id: string): SimResponse {
    if (req.malformedBody || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      throw badRequest('Malformed request body');
    }
    const body = req.body as Record<string, unknown>;
    const name = Object.keys(body)[0];
    const server = this.getServer(ctx, id);
    switch (name) {
      case 'os-migrateLive':
        return this.liveMigrate(ctx, server, body);
      case 'migrate':
        return this.coldMigrate(ctx, server, body);
      case 'evacuate':
        return this.evacuate(ctx, server, body);
      case 'confirmResize':
        return this.confirmResize(ctx, server);
      case 'revertResize':
        return this.revertResize(ctx, server);
      case 'os-stop':
        return this.power(ctx, server, 'stop');
      case 'os-start':
        return this.power(ctx, server, 'start');
      case 'lock':
        return this.lock(ctx, server, body);
      case 'unlock':
        return this.unlock(ctx, server);
      default:
        throw badRequest(`There is no such action: ${name ?? ''}`);
    }
  }

  private liveMigrate(ctx: RequestContext, server: ServerRecord, body: Record<string, unknown>): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-migrate-server:migrate_live');
    const mv = ctx.microversion;
    let host: string | null;
    let force: boolean | null;
    if (mv < 25) {
      const parsed = validateBody(liveMigrateV21, body, {
        'os-migrateLive': ['block_migration', 'disk_over_commit', 'host'],
      });
      host = parsed['os-migrateLive'].host;
      force = null;
    } else if (mv < 30) {
      const parsed = validateBody(liveMigrateV225, body, { 'os-migrateLive': ['block_migration', 'host'] });
      host = parsed['os-migrateLive'].host;
      force = null;
    } else if (mv < 68) {
      const parsed = validateBody(liveMigrateV230, body, { 'os-migrateLive': ['block_migration', 'host'] });
      host = parsed['os-migrateLive'].host;
      const rawForce = parsed['os-migrateLive'].force;
      force = rawForce === undefined ? false : novaBooleanValue(rawForce);
      if (force && !host) throw badRequest("Can't force to a non-provided destination");
    } else {
      const parsed = validateBody(liveMigrateV225, body, { 'os-migrateLive': ['block_migration', 'host'] });
      host = parsed['os-migrateLive'].host;
      force = false;
    }
    this.checkLock(ctx, server);
    this.checkState('os-migrateLive', server, [VmState.active, VmState.paused]);
    if (host !== null && !this.state.hosts.has(host))
      throw badRequest(`Compute host ${host} could not be found.`);
    this.engine.startLiveMigration(ctx, server, { host, force, synchronousPrechecks: mv < 34 });
    return empty(202);
  }

  private coldMigrate(ctx: RequestContext, server: ServerRecord, body: Record<string, unknown>): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-migrate-server:migrate');
    let host: string | null = null;
    if (ctx.microversion >= 56) {
      const parsed = validateBody(migrateV256, body);
      host = parsed.migrate?.host ?? null;
    }
    this.checkLock(ctx, server);
    this.checkState('migrate', server, [VmState.active, VmState.stopped]);
    this.requireHostUp(server);
    if (host !== null) {
      if (host === server.host) throw badRequest('Cannot migrate to the host where the server exists.');
      if (!this.state.hosts.has(host)) throw badRequest(`Compute host ${host} could not be found.`);
    }
    this.engine.startColdMigration(ctx, server, host);
    return empty(202);
  }

  /** Nova's `check_instance_host(check_is_up=True)`. */
  private requireHostUp(server: ServerRecord): void {
    if (!server.host) throw conflict(`Instance ${server.id} is not ready`);
    const host = this.state.hosts.get(server.host);
    // Nova hides the host name here on purpose (no host names leak to end users).
    if (!host || !this.state.isServiceUp(host)) throw conflict('Service is unavailable at this time.');
  }

  private evacuate(ctx: RequestContext, server: ServerRecord, body: Record<string, unknown>): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-evacuate');
    const mv = ctx.microversion;
    let host: string | null;
    let force: boolean | null = null;
    let adminPass: string | undefined;
    if (mv < 14) {
      const parsed = validateBody(evacuateV21, body, { evacuate: ['onSharedStorage'] });
      host = parsed.evacuate.host ?? null;
      adminPass = parsed.evacuate.adminPass;
      const onShared = novaBooleanValue(parsed.evacuate.onSharedStorage);
      if (adminPass !== undefined && onShared)
        throw badRequest("admin password can't be changed on existing disk");
      if (adminPass === undefined && !onShared) adminPass = this.random.hexId().slice(0, 12);
    } else if (mv < 29 || mv >= 68) {
      const parsed = validateBody(evacuateV214, body);
      host = parsed.evacuate.host ?? null;
      adminPass = parsed.evacuate.adminPass;
      force = mv >= 68 ? false : null;
    } else {
      const parsed = validateBody(evacuateV229, body);
      host = parsed.evacuate.host ?? null;
      adminPass = parsed.evacuate.adminPass;
      force = parsed.evacuate.force === undefined ? false : novaBooleanValue(parsed.evacuate.force);
      if (force && !host) throw badRequest("Can't force to a non-provided destination");
    }
    if (host !== null && !this.state.hosts.has(host)) throw notFound(`Compute host ${host} not found.`);
    if (server.host === host) throw badRequest("The target host can't be the same one.");
    this.checkState('evacuate', server, [VmState.active, VmState.stopped, VmState.error]);
    const source = server.host ? this.state.hosts.get(server.host) : undefined;
    if (source && this.state.isServiceUp(source))
      throw badRequest(`Compute service of ${source.name} is still in use.`);
    this.engine.startEvacuation(ctx, server, { host, force });
    if (mv < 14) return json(200, { adminPass: adminPass ?? null });
    return { status: 200, headers: { 'Content-Length': '0' } };
  }

  private confirmResize(ctx: RequestContext, server: ServerRecord): SimResponse {
    this.requireOwnerOrAdmin(ctx, server, 'os_compute_api:servers:confirm_resize');
    this.checkLock(ctx, server);
    this.checkState('confirmResize', server, [VmState.resized]);
    const migration = this.engine.finishedResizeMigration(server);
    if (!migration) throw badRequest('Instance has not been resized.');
    this.engine.confirmResize(ctx, server, migration);
    return empty(204);
  }

  private revertResize(ctx: RequestContext, server: ServerRecord): SimResponse {
    this.requireOwnerOrAdmin(ctx, server, 'os_compute_api:servers:revert_resize');
    this.checkLock(ctx, server);
    this.checkState('revertResize', server, [VmState.resized]);
    const migration = this.engine.finishedResizeMigration(server);
    if (!migration) throw badRequest('Instance has not been resized.');
    this.engine.revertResize(ctx, server, migration);
    return empty(202);
  }

  private requireOwnerOrAdmin(ctx: RequestContext, server: ServerRecord, rule: string): void {
    if (!ctx.isAdmin && server.projectId !== ctx.projectId) throw policyDenied(rule);
  }

  private power(ctx: RequestContext, server: ServerRecord, kind: 'stop' | 'start'): SimResponse {
    this.requireOwnerOrAdmin(ctx, server, `os_compute_api:servers:${kind}`);
    this.checkLock(ctx, server);
    if (!server.host) throw conflict(`Instance ${server.id} is not ready`);
    this.checkState(kind, server, kind === 'stop' ? [VmState.active, VmState.error] : [VmState.stopped]);
    this.engine.powerAction(ctx, server, kind);
    return empty(202);
  }

  private lock(ctx: RequestContext, server: ServerRecord, body: Record<string, unknown>): SimResponse {
    this.requireOwnerOrAdmin(ctx, server, 'os_compute_api:os-lock-server:lock');
    let reason: string | null = null;
    if (ctx.microversion >= 73) {
      const parsed = validateBody(lockV273, body);
      reason = parsed.lock?.locked_reason ?? null;
    }
    server.locked = true;
    server.lockedReason = reason;
    server.lockedBy = ctx.isAdmin ? 'admin' : 'owner';
    this.state.touch(server);
    this.engine.startAction(server, 'lock', ctx);
    return empty(202);
  }

  private unlock(ctx: RequestContext, server: ServerRecord): SimResponse {
    this.requireOwnerOrAdmin(ctx, server, 'os_compute_api:os-lock-server:unlock');
    if (server.locked && server.lockedBy === 'admin' && !ctx.isAdmin) {
      throw policyDenied('os_compute_api:os-lock-server:unlock:unlock_override');
    }
    server.locked = false;
    server.lockedReason = null;
    server.lockedBy = null;
    this.state.touch(server);
    this.engine.startAction(server, 'unlock', ctx);
    return empty(202);
  }

  // ---------------------------------------------------------------- server migrations

  private inProgressLiveMigrations(serverId: string): MigrationRecord[] {
    return this.state.migrations.filter(
      (m) =>
        m.instanceUuid === serverId &&
        m.migrationType === 'live-migration' &&
        LIVE_MIGRATION_IN_PROGRESS.includes(m.status),
    );
  }

  private listServerMigrations(ctx: RequestContext, id: string): SimResponse {
    requireVersion(ctx, 23);
    const server = this.getServer(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:index');
    const migrations = this.inProgressLiveMigrations(server.id);
    for (const m of migrations) this.engine.refreshProgress(m);
    return json(200, { migrations: migrations.map((m) => this.views.serverMigration(ctx, m)) });
  }

  private showServerMigration(ctx: RequestContext, id: string, mid: string): SimResponse {
    requireVersion(ctx, 23);
    const server = this.getServer(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:show');
    const migration = this.state.migrations.find((m) => String(m.id) === mid && m.instanceUuid === server.id);
    if (!migration) throw notFound(`In-progress live migration ${mid} is not found for server ${server.id}.`);
    if (migration.migrationType !== 'live-migration') {
      throw notFound(`Migration ${mid} for server ${server.id} is not live-migration.`);
    }
    if (!LIVE_MIGRATION_IN_PROGRESS.includes(migration.status)) {
      throw notFound(`Live migration ${mid} for server ${server.id} is not in progress.`);
    }
    this.engine.refreshProgress(migration);
    return json(200, { migration: this.views.serverMigration(ctx, migration) });
  }

  private abortServerMigration(ctx: RequestContext, id: string, mid: string): SimResponse {
    requireVersion(ctx, 24);
    const server = this.getServer(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:delete');
    this.checkLock(ctx, server);
    this.checkState('abort live migration', server, null, ['migrating']);
    const migration = this.state.migrations.find((m) => String(m.id) === mid && m.instanceUuid === server.id);
    if (!migration) throw notFound(`Migration ${mid} not found for instance ${server.id}`);
    const allowed = ctx.microversion >= 65 ? ['running', 'queued', 'preparing'] : ['running'];
    if (!allowed.includes(migration.status)) {
      throw badRequest(
        `Migration ${mid} state of instance ${server.id} is ${migration.status}. Cannot abort live migration while the migration is in this state.`,
      );
    }
    this.engine.abortLiveMigration(ctx, server, migration);
    return empty(202);
  }

  private forceCompleteServerMigration(
    ctx: RequestContext,
    req: SimRequest,
    id: string,
    mid: string,
  ): SimResponse {
    requireVersion(ctx, 22);
    if (req.malformedBody) throw badRequest('Malformed request body');
    const server = this.getServer(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:force_complete');
    validateBody(forceCompleteBody, req.body);
    this.checkLock(ctx, server);
    this.checkState('force_complete', server, [VmState.active], ['migrating']);
    const migration = this.state.migrations.find((m) => String(m.id) === mid && m.instanceUuid === server.id);
    if (!migration) throw badRequest(`Migration ${mid} not found for instance ${server.id}`);
    if (migration.status !== 'running') {
      throw badRequest(
        `Migration ${mid} state of instance ${server.id} is ${migration.status}. Cannot force complete while the migration is in this state.`,
      );
    }
    this.engine.forceCompleteLiveMigration(ctx, server, migration);
    return empty(202);
  }

  // ---------------------------------------------------------------- instance actions

  private listActions(ctx: RequestContext, id: string): SimResponse {
    const server = this.serverForActions(ctx, id);
    const actions = [...(this.state.actions.get(server.id) ?? [])].sort((a, b) => b.startMs - a.startMs);
    return json(200, { instanceActions: actions.map((a) => this.views.instanceAction(ctx, a, false)) });
  }

  private showAction(ctx: RequestContext, id: string, requestId: string): SimResponse {
    const server = this.serverForActions(ctx, id);
    const action = (this.state.actions.get(server.id) ?? []).find((a) => a.requestId === requestId);
    if (!action) throw notFound(`Action ${requestId} not found`);
    return json(200, { instanceAction: this.views.instanceAction(ctx, action, true) });
  }

  /** Instance actions stay readable for deleted servers (2.21+), like Nova's read_deleted. */
  private serverForActions(ctx: RequestContext, id: string): ServerRecord {
    const server = this.state.servers.get(id);
    const visible = server && (ctx.isAdmin || server.projectId === ctx.projectId);
    if (!server || !visible || (server.deletedMs !== null && ctx.microversion < 21)) {
      throw notFound(`Instance ${id} could not be found.`);
    }
    return server;
  }

  // ---------------------------------------------------------------- services

  private listServices(ctx: RequestContext, req: SimRequest): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-services:list');
    const host = req.query.get('host') ?? '';
    const binary = req.query.get('binary') ?? '';
    if (ctx.microversion >= 75) {
      for (const key of req.query.keys()) {
        if (key !== 'host' && key !== 'binary') {
          throw badRequest(
            `Invalid input for query parameters ${key}. Value: ${req.query.get(key) ?? ''}. Additional properties are not allowed ('${key}' was unexpected)`,
          );
        }
      }
    }
    const services = [
      ...this.state.controllerServices.map((s) => ({
        host: s.host,
        binary: s.binary,
        view: () => this.views.controllerService(ctx, s),
      })),
      ...[...this.state.hosts.values()].map((h) => ({
        host: h.name,
        binary: 'nova-compute',
        view: () => this.views.computeService(ctx, h),
      })),
    ].filter((s) => (host === '' || s.host === host) && (binary === '' || s.binary === binary));
    return json(200, { services: services.map((s) => s.view()) });
  }

  private updateService(ctx: RequestContext, req: SimRequest, id: string): SimResponse {
    if (req.malformedBody) throw badRequest('Malformed request body');
    if (ctx.microversion >= 53) return this.updateServiceByUuid(ctx, req, id);
    requireAdmin(ctx, 'os_compute_api:os-services:update');
    const actions = [
      'enable',
      'disable',
      'disable-log-reason',
      ...(ctx.microversion >= 11 ? ['force-down'] : []),
    ];
    const parsed = validateBody(serviceUpdateLegacy, req.body ?? {}, { '': ['host', 'binary'] });
    if (ctx.microversion < 11 && parsed.forced_down !== undefined) {
      // A top-level schema failure: Nova gives jsonschema's bare message.
      throw badRequest("Additional properties are not allowed ('forced_down' was unexpected)");
    }
    if (!actions.includes(id)) throw notFound('Unknown action');
    const host = this.legacyServiceHost(parsed.host, parsed.binary);
    if (id === 'enable') {
      host.enabled = true;
      host.disabledReason = null;
      host.serviceUpdatedMs = this.state.now();
      return json(200, { service: { host: parsed.host, binary: parsed.binary, status: 'enabled' } });
    }
    if (id === 'disable' || id === 'disable-log-reason') {
      if (id === 'disable-log-reason' && parsed.disabled_reason === undefined)
        throw badRequest('Missing disabled reason field');
      const reason = id === 'disable-log-reason' ? (parsed.disabled_reason ?? null) : null;
      host.enabled = false;
      host.disabledReason = reason;
      host.serviceUpdatedMs = this.state.now();
      return json(200, {
        service: {
          host: parsed.host,
          binary: parsed.binary,
          status: 'disabled',
          ...(reason ? { disabled_reason: reason } : {}),
        },
      });
    }
    if (parsed.forced_down === undefined) throw badRequest('Missing forced_down field');
    const forcedDown = novaBooleanValue(parsed.forced_down);
    if (!forcedDown) this.checkForEvacuations(host.name);
    host.forcedDown = forcedDown;
    host.serviceUpdatedMs = this.state.now();
    return json(200, { service: { host: parsed.host, binary: parsed.binary, forced_down: forcedDown } });
  }

  private legacyServiceHost(hostName: string, binary: string): HostRecord {
    if (binary !== 'nova-compute') {
      throw badRequest(
        `Updating a ${binary} service is not supported. Only nova-compute services can be updated.`,
      );
    }
    const host = this.state.hosts.get(hostName);
    if (!host) throw notFound(`Host '${hostName}' is not mapped to any cell`);
    return host;
  }

  private checkForEvacuations(hostName: string): void {
    const done = this.state.migrations.some(
      (m) => m.migrationType === 'evacuation' && m.sourceCompute === hostName && m.status === 'done',
    );
    if (done) {
      throw badRequest(
        `Unable to force up host ${hostName} as \`done\` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to \`completed\` before retrying this request.`,
      );
    }
  }

  private updateServiceByUuid(ctx: RequestContext, req: SimRequest, id: string): SimResponse {
    if (!UUID_RE.test(id)) throw badRequest(`Invalid uuid ${id}`);
    requireAdmin(ctx, 'os_compute_api:os-services:update');
    const controller = this.state.controllerServices.find((s) => s.uuid === id);
    const host = [...this.state.hosts.values()].find((h) => h.serviceUuid === id);
    if (!controller && !host) throw notFound(`Service ${id} could not be found.`);
    const body = validateBody(serviceUpdateV253, req.body ?? {});
    if (controller || !host) {
      throw badRequest(
        `Updating a ${controller?.binary ?? 'unknown'} service is not supported. Only nova-compute services can be updated.`,
      );
    }
    const next = { enabled: host.enabled, disabledReason: host.disabledReason, forcedDown: host.forcedDown };
    let changed = false;
    if (body.status !== undefined) {
      changed = true;
      if (body.status === 'enabled') {
        if (body.disabled_reason)
          throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
        next.enabled = true;
        next.disabledReason = null;
      } else {
        next.enabled = false;
        next.disabledReason = body.disabled_reason ?? null;
      }
    }
    if (body.forced_down !== undefined) {
      changed = true;
      next.forcedDown = novaBooleanValue(body.forced_down);
      if (!next.forcedDown) this.checkForEvacuations(host.name);
    }
    if (!changed)
      throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
    host.enabled = next.enabled;
    host.disabledReason = next.disabledReason;
    host.forcedDown = next.forcedDown;
    host.serviceUpdatedMs = this.state.now();
    return json(200, { service: this.views.computeService(ctx, host) });
  }

  // ---------------------------------------------------------------- hypervisors

  private serversOn(host: HostRecord): ServerRecord[] {
    return [...this.state.servers.values()].filter((s) => s.host === host.name && s.deletedMs === null);
  }

  private matchHypervisors(pattern: string): HostRecord[] {
    // Nova searches with SQL LIKE '%pattern%': "host-1" also matches "host-10".
    const needle = pattern.toLowerCase();
    const hosts = [...this.state.hosts.values()].filter((h) => h.name.toLowerCase().includes(needle));
    if (hosts.length === 0) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
    return hosts;
  }

  private listHypervisors(ctx: RequestContext, req: SimRequest, detail: boolean): SimResponse {
    requireAdmin(ctx, `os_compute_api:os-hypervisors:${detail ? 'list-detail' : 'list'}`);
    const q = req.query;
    const mv = ctx.microversion;
    let hosts = [...this.state.hosts.values()];
    let withServers = false;
    let paginate = mv >= 33;
    if (mv >= 53) {
      const rawWithServers = q.get('with_servers');
      if (rawWithServers !== null) {
        if (!NOVA_BOOLEAN_VALUES.includes(rawWithServers)) {
          throw badRequest(
            `Unrecognized value '${rawWithServers}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
          );
        }
        withServers = novaBooleanValue(rawWithServers);
      }
      const pattern = q.get('hypervisor_hostname_pattern');
      if (pattern !== null) {
        if (q.has('limit') || q.has('marker')) {
          throw badRequest(
            'Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.',
          );
        }
        hosts = this.matchHypervisors(pattern);
        paginate = false;
      }
    }
    let links: unknown[] | undefined;
    if (paginate) {
      const limit = parseLimit(q, this.state.settings.max_limit);
      const marker = q.get('marker');
      if (marker !== null) {
        const index = hosts.findIndex(
          (h) => (mv >= 53 ? h.hypervisorUuid : String(h.hypervisorId)) === marker,
        );
        if (index < 0) throw badRequest(`marker [${marker}] not found`);
        hosts = hosts.slice(index + 1);
      }
      const page = hosts.slice(0, limit);
      const last = page[page.length - 1];
      if (last && page.length === limit && q.has('limit')) {
        const next = new URLSearchParams(q);
        next.set('marker', mv >= 53 ? last.hypervisorUuid : String(last.hypervisorId));
        links = [
          {
            rel: 'next',
            href: `${this.computeRoot()}/v2.1/os-hypervisors${detail ? '/detail' : ''}?${next.toString()}`,
          },
        ];
      }
      hosts = page;
    }
    const usage = this.state.usageByHost();
    const body: Record<string, unknown> = {
      hypervisors: hosts.map((h) =>
        this.views.hypervisor(ctx, h, {
          detail,
          usage,
          withServers,
          ...(withServers ? { servers: this.serversOn(h) } : {}),
        }),
      ),
    };
    if (links) body.hypervisors_links = links;
    return json(200, body);
  }

  private showHypervisor(ctx: RequestContext, req: SimRequest, id: string): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-hypervisors:show');
    const mv = ctx.microversion;
    if (mv >= 53 && !UUID_RE.test(id)) throw badRequest(`Invalid uuid ${id}`);
    const host = [...this.state.hosts.values()].find((h) =>
      mv >= 53 ? h.hypervisorUuid === id : String(h.hypervisorId) === id,
    );
    if (!host) throw notFound(`Hypervisor with ID ${id} could not be found.`);
    const withServers = mv >= 53 && novaBooleanValue(req.query.get('with_servers') ?? 'false');
    return json(200, {
      hypervisor: this.views.hypervisor(ctx, host, {
        detail: true,
        withServers,
        ...(withServers ? { servers: this.serversOn(host) } : {}),
      }),
    });
  }

  private searchHypervisors(ctx: RequestContext, pattern: string, withServers: boolean): SimResponse {
    requireVersion(ctx, 1, 52);
    requireAdmin(ctx, `os_compute_api:os-hypervisors:${withServers ? 'servers' : 'search'}`);
    const hosts = this.matchHypervisors(pattern);
    return json(200, {
      hypervisors: hosts.map((h) =>
        this.views.hypervisor(ctx, h, {
          detail: false,
          withServers: false,
          ...(withServers ? { servers: this.serversOn(h) } : {}),
        }),
      ),
    });
  }

  // ---------------------------------------------------------------- migrations

  private listMigrations(ctx: RequestContext, req: SimRequest): SimResponse {
    requireAdmin(ctx, 'os_compute_api:os-migrations:index');
    const q = req.query;
    const mv = ctx.microversion;
    const paged = mv >= 59;
    let changesSince: number | null = null;
    if (paged && q.has('changes-since')) {
      changesSince = parseIsoTime(q.get('changes-since') ?? '');
      if (changesSince === null) {
        throw badRequest(
          `Invalid input for query parameters changes-since. Value: ${q.get('changes-since') ?? ''}. '${q.get('changes-since') ?? ''}' is not a 'date-time'`,
        );
      }
    }
    let changesBefore: number | null = null;
    if (mv >= 66 && q.has('changes-before')) {
      changesBefore = parseIsoTime(q.get('changes-before') ?? '');
      if (changesBefore === null) {
        throw badRequest(
          `Invalid input for query parameters changes-before. Value: ${q.get('changes-before') ?? ''}. '${q.get('changes-before') ?? ''}' is not a 'date-time'`,
        );
      }
      if (changesSince !== null && changesBefore < changesSince) {
        throw badRequest('The value of changes-since must be less than or equal to changes-before.');
      }
    }
    const filters: [string, (m: MigrationRecord, value: string) => boolean][] = [
      ['instance_uuid', (m, v) => m.instanceUuid === v],
      ['migration_type', (m, v) => m.migrationType === v],
      ['source_compute', (m, v) => m.sourceCompute === v],
      ['status', (m, v) => m.status === v],
      ['host', (m, v) => m.sourceCompute === v || m.destCompute === v],
    ];
    if (mv >= 80) {
      filters.push(['user_id', (m, v) => m.userId === v], ['project_id', (m, v) => m.projectId === v]);
    }
    const hidden = q.has('hidden') ? novaBooleanValue(q.get('hidden') ?? '0') : false;
    let migrations = this.state.migrations.filter((m) => {
      if (m.hidden !== hidden) return false;
      for (const [key, test] of filters) {
        const value = q.get(key);
        if (value !== null && !test(m, value)) return false;
      }
      const updated = m.updatedMs ?? m.createdMs;
      if (changesSince !== null && updated < changesSince) return false;
      if (changesBefore !== null && updated > changesBefore) return false;
      return true;
    });
    for (const m of migrations) this.engine.refreshProgress(m);
    const body: Record<string, unknown> = {};
    if (paged) {
      migrations = [...migrations].sort((a, b) => b.createdMs - a.createdMs || b.id - a.id);
      const marker = q.get('marker');
      if (marker !== null) {
        const index = migrations.findIndex((m) => m.uuid === marker);
        if (index < 0) throw badRequest(`Marker ${marker} could not be found.`);
        migrations = migrations.slice(index + 1);
      }
      const limit = parseLimit(q, this.state.settings.max_limit);
      migrations = migrations.slice(0, limit);
      const last = migrations[migrations.length - 1];
      if (last && migrations.length === limit) {
        const next = new URLSearchParams(q);
        next.set('limit', String(limit));
        next.set('marker', last.uuid);
        body.migrations_links = [
          { rel: 'next', href: `${this.computeRoot()}/v2.1/os-migrations?${next.toString()}` },
        ];
      }
    }
    body.migrations = migrations.map((m) => this.views.migration(ctx, m));
    return json(200, body);
  }

  // ---------------------------------------------------------------- flavors, groups, AZs, limits

  private getFlavor(id: string) {
    const flavor = this.state.flavors.get(id);
    if (!flavor) throw notFound(`Flavor ${id} could not be found.`);
    return flavor;
  }

  private listFlavors(ctx: RequestContext, req: SimRequest, detail: boolean): SimResponse {
    const isPublic = req.query.get('is_public');
    const flavors = [...this.state.flavors.values()].filter((f) => {
      if (!ctx.isAdmin || isPublic === null) return f.isPublic || ctx.isAdmin;
      if (isPublic.toLowerCase() === 'none') return true;
      return f.isPublic === novaBooleanValue(isPublic);
    });
    return json(200, {
      flavors: flavors.map((f) =>
        detail
          ? this.views.flavor(ctx, f)
          : {
              id: f.id,
              name: f.name,
              links: this.views.flavor(ctx, f).links,
              ...(ctx.microversion >= 55 ? { description: null } : {}),
            },
      ),
    });
  }

  private listServerGroups(ctx: RequestContext, req: SimRequest): SimResponse {
    const allProjects =
      ctx.isAdmin &&
      req.query.has('all_projects') &&
      novaBooleanValue(req.query.get('all_projects') || 'true');
    const groups = [...this.state.groups.values()].filter(
      (g) => allProjects || g.projectId === ctx.projectId,
    );
    return json(200, { server_groups: groups.map((g) => this.views.serverGroup(ctx, g)) });
  }

  private showServerGroup(ctx: RequestContext, id: string): SimResponse {
    const group = this.state.groups.get(id);
    if (!group || (!ctx.isAdmin && group.projectId !== ctx.projectId))
      throw notFound(`Instance group ${id} could not be found.`);
    return json(200, { server_group: this.views.serverGroup(ctx, group) });
  }

  private availabilityZones(detail: boolean): SimResponse {
    type ZoneHosts = Record<
      string,
      Record<string, { available: boolean; active: boolean; updated_at: string | null }>
    >;
    const zones = new Map<string, HostRecord[]>();
    for (const host of this.state.hosts.values()) {
      if (!host.enabled && !detail) continue;
      zones.set(host.az, [...(zones.get(host.az) ?? []), host]);
    }
    const info: { zoneName: string; zoneState: { available: boolean }; hosts: ZoneHosts | null }[] = [
      ...zones.entries(),
    ].map(([zoneName, hosts]) => ({
      zoneName,
      zoneState: { available: hosts.some((h) => h.enabled && this.state.isServiceUp(h)) },
      hosts: detail
        ? Object.fromEntries(
            hosts.map((h) => [
              h.name,
              {
                'nova-compute': {
                  available: h.enabled,
                  active: this.state.isServiceUp(h),
                  updated_at: novaDbTime(this.state.serviceUpdatedAt(h)),
                },
              },
            ]),
          )
        : null,
    }));
    if (detail) {
      const controller: ZoneHosts[string] = {};
      for (const s of this.state.controllerServices) {
        controller[s.binary] = {
          available: true,
          active: true,
          updated_at: novaDbTime(this.state.lastHeartbeatTick()),
        };
      }
      info.push({ zoneName: 'internal', zoneState: { available: true }, hosts: { controller } });
    }
    return json(200, { availabilityZoneInfo: info });
  }

  private limits(ctx: RequestContext): SimResponse {
    const mine = [...this.state.servers.values()].filter(
      (s) => s.projectId === ctx.projectId && s.deletedMs === null,
    );
    return json(200, {
      limits: {
        rate: [],
        absolute: {
          maxTotalInstances: -1,
          maxTotalCores: -1,
          maxTotalRAMSize: -1,
          maxServerMeta: 128,
          maxTotalKeypairs: 100,
          maxServerGroups: -1,
          maxServerGroupMembers: -1,
          totalRAMUsed: mine.reduce((sum, s) => sum + s.flavor.ramMb, 0),
          totalCoresUsed: mine.reduce((sum, s) => sum + s.flavor.vcpus, 0),
          totalInstancesUsed: mine.length,
          totalServerGroupsUsed: [...this.state.groups.values()].filter((g) => g.projectId === ctx.projectId)
            .length,
        },
      },
    });
  }
}
