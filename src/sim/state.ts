/**
 * The simulated cloud's database: identities, flavors, hosts and their compute services,
 * servers, server groups, migration records and instance actions, plus the derived views
 * Nova computes on the fly (service up/down, resource usage per host).
 */
import type { SimClock } from './clock.js';
import {
  PowerState,
  VmState,
  type AppCredentialRecord,
  type FlavorRecord,
  type HostRecord,
  type ImageRecord,
  type InstanceActionRecord,
  type MigrationRecord,
  type ProjectRecord,
  type ServerGroupRecord,
  type ServerRecord,
  type TokenRecord,
  type UserRecord,
} from './model.js';
import { createHash } from 'node:crypto';
import {
  stableHexId,
  stableUuid,
  type OperationDurationKind,
  type ParsedScenario,
  type ScenarioSettings,
} from './scenario.js';

export interface ControllerService {
  id: number;
  uuid: string;
  binary: 'nova-conductor' | 'nova-scheduler';
  host: string;
}

export interface ResourceUsage {
  vcpus: number;
  pcpus: number;
  ramMb: number;
  diskGb: number;
  vgpus: number;
  pci: Record<string, number>;
  /** Servers whose instance lives on the host (not counting in-flight claims). */
  instances: number;
}

export interface FlavorNeeds {
  vcpus: number;
  pcpus: number;
  ramMb: number;
  diskGb: number;
  vgpus: number;
  pci: Record<string, number>;
}

/** Migration statuses after which the move holds no resources and is finished. */
export const TERMINAL_MIGRATION_STATUSES = new Set([
  'completed',
  'error',
  'failed',
  'cancelled',
  'confirmed',
  'reverted',
  'done',
]);

export function flavorNeeds(flavor: FlavorRecord, bootFromVolume: boolean): FlavorNeeds {
  const dedicated = flavor.extraSpecs['hw:cpu_policy'] === 'dedicated';
  const pci: Record<string, number> = {};
  const aliasSpec = flavor.extraSpecs['pci_passthrough:alias'];
  if (aliasSpec) {
    for (const part of aliasSpec.split(',')) {
      const [alias, count] = part.trim().split(':');
      if (alias) pci[alias] = (pci[alias] ?? 0) + Number(count ?? 1);
    }
  }
  return {
    vcpus: dedicated ? 0 : flavor.vcpus,
    pcpus: dedicated ? flavor.vcpus : 0,
    ramMb: flavor.ramMb,
    diskGb: bootFromVolume ? 0 : flavor.diskGb,
    vgpus: Number(flavor.extraSpecs['resources:VGPU'] ?? 0) || 0,
    pci,
  };
}

function emptyUsage(): ResourceUsage {
  return { vcpus: 0, pcpus: 0, ramMb: 0, diskGb: 0, vgpus: 0, pci: {}, instances: 0 };
}

function addNeeds(usage: ResourceUsage, needs: FlavorNeeds): void {
  usage.vcpus += needs.vcpus;
  usage.pcpus += needs.pcpus;
  usage.ramMb += needs.ramMb;
  usage.diskGb += needs.diskGb;
  usage.vgpus += needs.vgpus;
  for (const [alias, count] of Object.entries(needs.pci)) usage.pci[alias] = (usage.pci[alias] ?? 0) + count;
}

export interface StateOptions {
  clock: SimClock;
  timeScale: number;
  serviceDownTimeSeconds: number;
  tokenTtlSeconds: number;
}

export class CloudState {
  readonly settings: ScenarioSettings;
  readonly durations: Record<OperationDurationKind, number>;
  readonly projects = new Map<string, ProjectRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly flavors = new Map<string, FlavorRecord>();
  readonly images = new Map<string, ImageRecord>();
  readonly hosts = new Map<string, HostRecord>();
  readonly controllerServices: ControllerService[];
  readonly servers = new Map<string, ServerRecord>();
  readonly groups = new Map<string, ServerGroupRecord>();
  readonly migrations: MigrationRecord[] = [];
  readonly actions = new Map<string, InstanceActionRecord[]>();
  readonly clock: SimClock;
  readonly timeScale: number;
  readonly startedMs: number;
  serviceDownTimeSeconds: number;
  tokenTtlSeconds: number;
  private nextMigrationId = 1;
  private nextInstanceNumber = 1;

  constructor(scenario: ParsedScenario, options: StateOptions) {
    this.clock = options.clock;
    this.timeScale = options.timeScale;
    this.startedMs = options.clock.now();
    this.settings = structuredClone(scenario.settings);
    this.durations = { ...scenario.settings.durations };
    this.serviceDownTimeSeconds = options.serviceDownTimeSeconds;
    this.tokenTtlSeconds = options.tokenTtlSeconds;

    for (const project of scenario.projects) {
      const id = project.id ?? stableHexId('project', project.name);
      this.projects.set(id, {
        id,
        name: project.name,
        domainId: domainIdFor(project.domain),
        domainName: project.domain,
      });
    }
    for (const user of scenario.users) {
      const id = user.id ?? stableHexId('user', user.name);
      const defaultProject = this.projectByName(user.project);
      const projectIds = [user.project, ...user.projects].map((name) => this.projectByName(name)?.id ?? '');
      const applicationCredentials: AppCredentialRecord[] = user.application_credentials.map((cred) => ({
        id: cred.id ?? stableHexId('application_credential', `${user.name}/${cred.name}`),
        name: cred.name,
        secret: cred.secret,
      }));
      this.users.set(id, {
        id,
        name: user.name,
        domainId: domainIdFor(user.domain),
        domainName: user.domain,
        password: user.password,
        defaultProjectId: defaultProject?.id ?? '',
        projectIds,
        roles: user.roles,
        applicationCredentials,
      });
    }
    for (const flavor of scenario.flavors) {
      this.flavors.set(flavor.id, {
        id: flavor.id,
        name: flavor.name,
        vcpus: flavor.vcpus,
        ramMb: flavor.ram_mb,
        diskGb: flavor.disk_gb,
        extraSpecs: { ...flavor.extra_specs },
        isPublic: flavor.is_public,
      });
    }
    for (const image of scenario.images) {
      const id = image.id ?? stableUuid('image', image.name);
      this.images.set(id, { id, name: image.name });
    }
    this.controllerServices = [
      {
        id: 1,
        uuid: stableUuid('service', 'controller/nova-conductor'),
        binary: 'nova-conductor',
        host: 'controller',
      },
      {
        id: 2,
        uuid: stableUuid('service', 'controller/nova-scheduler'),
        binary: 'nova-scheduler',
        host: 'controller',
      },
    ];
    scenario.hosts.forEach((host, index) => {
      const alive = host.state === 'up';
      this.hosts.set(host.name, {
        name: host.name,
        az: host.az,
        vcpus: host.vcpus,
        ramMb: host.ram_mb,
        diskGb: host.disk_gb,
        pinned: host.pinned,
        pcpus: host.pcpus ?? (host.pinned ? host.vcpus : 0),
        vgpus: host.vgpus,
        pciDevices: { ...host.pci_devices },
        serviceUuid: stableUuid('service', `${host.name}/nova-compute`),
        serviceId: index + 3,
        hypervisorUuid: stableUuid('hypervisor', host.name),
        hypervisorId: index + 1,
        enabled: host.enabled,
        disabledReason: host.enabled ? null : (host.disabled_reason ?? null),
        forcedDown: host.forced_down,
        alive,
        // A host that starts down stopped heartbeating long enough ago to already show `down`.
        lastHeartbeatMs: alive ? this.startedMs : this.startedMs - this.serviceDownTimeMs() - 1000,
        serviceUpdatedMs: this.startedMs,
        maxConcurrentLiveMigrations: host.max_concurrent_live_migrations ?? null,
        liveMigrationFailureRate: host.live_migration_failure_rate ?? null,
        reservedVcpus: 0,
        reservedRamMb: 0,
        reservedPcpus: 0,
      });
    });
    for (const group of scenario.server_groups) {
      const project = this.projectByName(group.project);
      const id = group.id ?? stableUuid('server_group', group.name);
      const owner = [...this.users.values()].find((u) => u.defaultProjectId === project?.id);
      this.groups.set(id, {
        id,
        name: group.name,
        policy: group.policy,
        projectId: project?.id ?? '',
        userId: owner?.id ?? '',
        rules: { ...group.rules },
        members: [],
      });
    }
    scenario.servers.forEach((server, index) => {
      const project = this.projectByName(server.project);
      const projectId = project?.id ?? '';
      const owner = server.user
        ? [...this.users.values()].find((u) => u.name === server.user)
        : ([...this.users.values()].find((u) => u.defaultProjectId === projectId) ??
          [...this.users.values()].find((u) => u.roles.includes('admin')));
      const flavor = this.findFlavor(server.flavor);
      if (!flavor) throw new Error(`scenario server ${server.name}: unknown flavor ${server.flavor}`);
      const image = server.image ? this.findImage(server.image) : undefined;
      const id = server.id ?? stableUuid('server', server.name);
      const host = server.host ? this.hosts.get(server.host) : undefined;
      const { vmState, powerState } = initialStates(server.status);
      const createdMs = this.startedMs - (scenario.servers.length - index) * 60_000;
      const groupIds = server.group
        ? [...this.groups.values()].filter((g) => g.name === server.group).map((g) => g.id)
        : [];
      const volumeCount = server.volumes ?? (server.boot_from_volume ? 1 : 0);
      const record: ServerRecord = {
        id,
        name: server.name,
        projectId,
        userId: owner?.id ?? '',
        flavor: { ...flavor, extraSpecs: { ...flavor.extraSpecs } },
        imageId: image?.id ?? null,
        volumeIds: Array.from({ length: volumeCount }, (_, i) => stableUuid('volume', `${server.name}/${i}`)),
        host: host?.name ?? null,
        node: host?.name ?? null,
        az: host?.az ?? server.availability_zone ?? null,
        requestedAz: server.availability_zone ?? null,
        vmState,
        taskState: server.task_state,
        powerState,
        locked: server.locked,
        lockedReason: server.locked ? (server.locked_reason ?? null) : null,
        lockedBy: server.locked ? 'admin' : null,
        groupIds,
        fault:
          server.status === 'ERROR'
            ? { code: 500, message: server.fault_message ?? 'Unknown', details: '', createdMs }
            : null,
        createdMs,
        updatedMs: createdMs + 2000,
        launchedMs: createdMs + 2000,
        deletedMs: null,
        instanceName: this.nextInstanceName(),
        metadata: { ...server.metadata },
        hostId: hostIdFor(projectId, host?.name ?? null),
      };
      this.servers.set(id, record);
      for (const groupId of groupIds) this.groups.get(groupId)?.members.push(id);
      this.addAction({
        action: 'create',
        requestId: `req-${stableUuid('request', `create/${server.name}`)}`,
        instanceUuid: id,
        userId: record.userId,
        projectId,
        startMs: createdMs,
        updatedMs: createdMs + 2000,
        message: null,
        events: [
          {
            event: 'compute__do_build_and_run_instance',
            startMs: createdMs + 1000,
            finishMs: createdMs + 2000,
            result: 'Success',
            traceback: null,
            details: null,
            host: record.host,
          },
        ],
      });
    });
  }

  now(): number {
    return this.clock.now();
  }

  /** A simulated duration in real milliseconds. */
  scaledMs(seconds: number): number {
    return seconds * 1000 * this.timeScale;
  }

  serviceDownTimeMs(): number {
    return this.scaledMs(this.serviceDownTimeSeconds);
  }

  reportIntervalMs(): number {
    return Math.max(1, this.scaledMs(this.settings.report_interval));
  }

  projectByName(name: string): ProjectRecord | undefined {
    return [...this.projects.values()].find((p) => p.name === name);
  }

  findFlavor(idOrName: string): FlavorRecord | undefined {
    return this.flavors.get(idOrName) ?? [...this.flavors.values()].find((f) => f.name === idOrName);
  }

  findImage(idOrName: string): ImageRecord | undefined {
    return this.images.get(idOrName) ?? [...this.images.values()].find((i) => i.name === idOrName);
  }

  nextInstanceName(): string {
    return `instance-${(this.nextInstanceNumber++).toString(16).padStart(8, '0')}`;
  }

  /** Is nova-compute on `host` considered up (servicegroup DB driver semantics)? */
  isServiceUp(host: HostRecord): boolean {
    if (host.forcedDown) return false;
    if (host.alive) return true;
    return this.now() - host.lastHeartbeatMs <= this.serviceDownTimeMs();
  }

  /** The service's `updated_at`: its last heartbeat (live hosts beat every report_interval). */
  serviceUpdatedAt(host: HostRecord): number {
    const lastBeat = host.alive ? this.lastHeartbeatTick() : host.lastHeartbeatMs;
    return Math.max(lastBeat, host.serviceUpdatedMs);
  }

  lastHeartbeatTick(): number {
    const interval = this.reportIntervalMs();
    return this.startedMs + Math.floor((this.now() - this.startedMs) / interval) * interval;
  }

  setHostAlive(host: HostRecord, alive: boolean): void {
    if (host.alive === alive) return;
    if (!alive) {
      host.lastHeartbeatMs = this.lastHeartbeatTick();
      host.alive = false;
      return;
    }
    host.alive = true;
    host.lastHeartbeatMs = this.now();
    // A restarted nova-compute cleans up evacuated instances and marks their records completed.
    for (const migration of this.migrations) {
      if (
        migration.migrationType === 'evacuation' &&
        migration.sourceCompute === host.name &&
        migration.status === 'done'
      ) {
        this.setMigrationStatus(migration, 'completed');
      }
    }
  }

  /** Nova's `host_status` (2.16+): UP, DOWN, MAINTENANCE, UNKNOWN or "" without a host. */
  hostStatus(server: ServerRecord): string {
    if (!server.host) return '';
    const host = this.hosts.get(server.host);
    if (!host) return 'UNKNOWN';
    if (host.forcedDown) return 'DOWN';
    if (!this.isServiceUp(host)) return 'UNKNOWN';
    if (!host.enabled) return 'MAINTENANCE';
    return 'UP';
  }

  touch(server: ServerRecord): void {
    server.updatedMs = Math.max(this.now(), server.updatedMs);
  }

  createMigration(
    init: Omit<
      MigrationRecord,
      | 'id'
      | 'uuid'
      | 'createdMs'
      | 'updatedMs'
      | 'hidden'
      | 'memoryTotal'
      | 'memoryProcessed'
      | 'memoryRemaining'
      | 'diskTotal'
      | 'diskProcessed'
      | 'diskRemaining'
    >,
  ): MigrationRecord {
    const id = this.nextMigrationId++;
    const migration: MigrationRecord = {
      ...init,
      id,
      uuid: stableUuid('migration', `${this.startedMs}/${id}`),
      createdMs: this.now(),
      updatedMs: null,
      hidden: false,
      memoryTotal: null,
      memoryProcessed: null,
      memoryRemaining: null,
      diskTotal: null,
      diskProcessed: null,
      diskRemaining: null,
    };
    this.migrations.push(migration);
    return migration;
  }

  setMigrationStatus(migration: MigrationRecord, status: string): void {
    migration.status = status;
    migration.updatedMs = this.now();
  }

  activeMigrationFor(serverId: string): MigrationRecord | undefined {
    for (let i = this.migrations.length - 1; i >= 0; i--) {
      const migration = this.migrations[i];
      if (
        migration &&
        migration.instanceUuid === serverId &&
        !TERMINAL_MIGRATION_STATUSES.has(migration.status)
      ) {
        return migration;
      }
    }
    return undefined;
  }

  addAction(action: InstanceActionRecord): InstanceActionRecord {
    const list = this.actions.get(action.instanceUuid) ?? [];
    list.push(action);
    this.actions.set(action.instanceUuid, list);
    return action;
  }

  /**
   * Resources held on every host: instances where they live, plus claims of moves in flight
   * (a live migration's destination, a cold migration's source until confirmed).
   */
  usageByHost(): Map<string, ResourceUsage> {
    const usage = new Map<string, ResourceUsage>();
    for (const host of this.hosts.values()) {
      const u = emptyUsage();
      u.vcpus += host.reservedVcpus;
      u.ramMb += host.reservedRamMb;
      u.pcpus += host.reservedPcpus;
      usage.set(host.name, u);
    }
    for (const server of this.servers.values()) {
      if (server.deletedMs !== null || server.vmState === VmState.shelvedOffloaded || !server.host) continue;
      const u = usage.get(server.host);
      if (!u) continue;
      addNeeds(u, flavorNeeds(server.flavor, server.imageId === null));
      u.instances += 1;
    }
    for (const migration of this.migrations) {
      if (TERMINAL_MIGRATION_STATUSES.has(migration.status)) continue;
      const server = this.servers.get(migration.instanceUuid);
      if (!server || server.deletedMs !== null) continue;
      const needs = flavorNeeds(server.flavor, server.imageId === null);
      const claimHost =
        server.host === migration.destCompute ? migration.sourceCompute : migration.destCompute;
      // An evacuated server's source is dead; its resources there no longer matter for scheduling.
      if (migration.migrationType === 'evacuation' && claimHost === migration.sourceCompute) continue;
      if (claimHost && claimHost !== server.host) {
        const u = usage.get(claimHost);
        if (u) addNeeds(u, needs);
      }
    }
    return usage;
  }

  /** Hosts where a server holds or claims resources (its host plus a move's other end). */
  hostsHeldBy(server: ServerRecord): string[] {
    const held = new Set<string>();
    if (server.host && server.vmState !== VmState.shelvedOffloaded && server.deletedMs === null)
      held.add(server.host);
    const migration = this.activeMigrationFor(server.id);
    if (migration) {
      if (migration.destCompute) held.add(migration.destCompute);
      if (migration.sourceCompute && migration.migrationType !== 'evacuation')
        held.add(migration.sourceCompute);
    }
    return [...held];
  }

  /** Fill `host` so that nothing more fits (an operator "this host is full" drill). */
  fillHost(host: HostRecord): void {
    const usage = this.usageByHost().get(host.name) ?? emptyUsage();
    host.reservedVcpus += Math.max(0, host.vcpus * this.settings.cpu_allocation_ratio - usage.vcpus);
    host.reservedRamMb += Math.max(0, host.ramMb * this.settings.ram_allocation_ratio - usage.ramMb);
    host.reservedPcpus += Math.max(0, host.pcpus - usage.pcpus);
  }

  /** Gives back what `fillHost` took. */
  unfillHost(host: HostRecord): void {
    host.reservedVcpus = 0;
    host.reservedRamMb = 0;
    host.reservedPcpus = 0;
  }
}

function domainIdFor(domainName: string): string {
  return domainName.toLowerCase() === 'default' ? 'default' : stableHexId('domain', domainName);
}

/** Nova's `hostId`: sha224 of project id + host, so tenants can tell co-location apart. */
export function hostIdFor(projectId: string, host: string | null): string {
  if (!host) return '';
  return createHash('sha224').update(`${projectId}${host}`).digest('hex');
}

function initialStates(status: string): { vmState: string; powerState: number } {
  switch (status) {
    case 'SHUTOFF':
      return { vmState: VmState.stopped, powerState: PowerState.shutdown };
    case 'PAUSED':
      return { vmState: VmState.paused, powerState: PowerState.paused };
    case 'SUSPENDED':
      return { vmState: VmState.suspended, powerState: PowerState.suspended };
    case 'ERROR':
      return { vmState: VmState.error, powerState: PowerState.nostate };
    case 'SHELVED_OFFLOADED':
      return { vmState: VmState.shelvedOffloaded, powerState: PowerState.shutdown };
    default:
      return { vmState: VmState.active, powerState: PowerState.running };
  }
}
