/**
 * Domain view of the OpenStack compute API, as the rest of the bot sees it.
 *
 * These are the shapes the compute client returns after parsing Nova's JSON with zod and
 * normalising the differences between microversions (e.g. flavor embedded since 2.47, service
 * ids that became UUIDs in 2.53). The engine depends only on this file and on `ComputeApi`,
 * never on HTTP details, so it can be driven by the real client or by a test double.
 */

export type ServiceState = 'up' | 'down';
export type ServiceStatus = 'enabled' | 'disabled';

export interface ComputeService {
  /** UUID at microversion >= 2.53, the integer id (as a string) before. */
  id: string;
  binary: string;
  host: string;
  zone: string | null;
  status: ServiceStatus;
  state: ServiceState;
  disabledReason: string | null;
  forcedDown: boolean;
  updatedAt: string | null;
}

export interface FlavorInfo {
  /** Flavor id when Nova gives it (< 2.47), otherwise null. */
  id: string | null;
  /** `original_name` at >= 2.47, looked-up name before. */
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  extraSpecs: Record<string, string>;
}

export interface ServerFault {
  code: number;
  message: string;
  details: string | null;
  created: string | null;
}

export interface ServerInfo {
  id: string;
  name: string;
  projectId: string;
  userId: string | null;
  /** Nova's API status: ACTIVE, SHUTOFF, PAUSED, SUSPENDED, ERROR, MIGRATING, VERIFY_RESIZE, REBUILD, SHELVED_OFFLOADED, ... */
  status: string;
  /** OS-EXT-STS:vm_state: active, stopped, paused, error, resized, shelved_offloaded, ... */
  vmState: string | null;
  /** OS-EXT-STS:task_state: null when idle, e.g. migrating, resize_migrating, rebuilding. */
  taskState: string | null;
  /** OS-EXT-STS:power_state (0 nostate, 1 running, 3 paused, 4 shutdown, 6 crashed, 7 suspended). */
  powerState: number | null;
  /** OS-EXT-SRV-ATTR:host: the compute service host that owns the server. */
  host: string | null;
  hypervisorHostname: string | null;
  availabilityZone: string | null;
  locked: boolean;
  lockedReason: string | null;
  flavor: FlavorInfo;
  /** Image id, or null when the server boots from a volume. */
  imageId: string | null;
  bootFromVolume: boolean;
  volumeIds: string[];
  /** Server group ids (microversion >= 2.71), otherwise empty: use `listServerGroups` then. */
  serverGroupIds: string[];
  fault: ServerFault | null;
  created: string | null;
  updated: string | null;
}

export type MigrationType = 'live-migration' | 'migration' | 'evacuation' | 'resize';

/** A row of `/os-migrations`: the record Nova keeps for every move, finished or not. */
export interface MigrationRecord {
  id: number;
  uuid: string | null;
  instanceId: string;
  migrationType: MigrationType | string;
  /** e.g. queued, preparing, running, post-migrating, migrating, finished, confirmed, done, completed, error, failed, cancelled */
  status: string;
  sourceCompute: string | null;
  destCompute: string | null;
  sourceNode: string | null;
  destNode: string | null;
  createdAt: string;
  updatedAt: string | null;
}

/** An in-progress live migration (`/servers/{id}/migrations`), with memory figures where the driver gives them. */
export interface LiveMigrationProgress {
  id: number;
  serverId: string;
  status: string;
  sourceCompute: string | null;
  destCompute: string | null;
  memoryTotalBytes: number | null;
  memoryProcessedBytes: number | null;
  memoryRemainingBytes: number | null;
  diskTotalBytes: number | null;
  diskProcessedBytes: number | null;
  diskRemainingBytes: number | null;
  createdAt: string;
  updatedAt: string | null;
}

export interface InstanceActionEvent {
  event: string;
  startTime: string | null;
  finishTime: string | null;
  /** 'Success', 'Error', or null while running. */
  result: string | null;
  traceback: string | null;
  /** Microversion >= 2.84: the failure reason, readable by non-admins. */
  details: string | null;
  host: string | null;
}

export interface InstanceAction {
  action: string;
  requestId: string;
  instanceId: string;
  startTime: string | null;
  updatedAt: string | null;
  message: string | null;
  events: InstanceActionEvent[];
}

export interface ServerGroup {
  id: string;
  name: string;
  /** affinity, anti-affinity, soft-affinity, soft-anti-affinity */
  policy: string;
  members: string[];
  /** e.g. { max_server_per_host: 1 } (>= 2.64) */
  rules: Record<string, number>;
  projectId: string | null;
}

export interface Hypervisor {
  id: string;
  hypervisorHostname: string;
  /** The compute service host name. */
  host: string;
  state: ServiceState;
  status: ServiceStatus;
  /** Capacity figures: null where Nova no longer reports them (>= 2.88 without a fallback). */
  vcpus: number | null;
  vcpusUsed: number | null;
  memoryMb: number | null;
  memoryMbUsed: number | null;
  runningVms: number | null;
}

export interface MicroversionRange {
  min: string;
  max: string;
  /** The version this client sends by default: the highest both sides support. */
  chosen: string;
}

/** What an accepted action request returns: enough to find it again in instance actions and logs. */
export interface ActionReceipt {
  requestId: string | null;
}

export interface LiveMigrateOptions {
  /** Target host, or undefined to let the scheduler choose. */
  host?: string;
}

export interface ColdMigrateOptions {
  host?: string;
}

export interface EvacuateOptions {
  host?: string;
}

export interface ListMigrationsQuery {
  instanceId?: string;
  migrationType?: MigrationType;
  sourceCompute?: string;
  /** ISO 8601; only records updated at or after this time. */
  changesSince?: string;
}

/** One poll of everything that changed: the cheap way to observe many in-flight servers. */
export interface ChangesSnapshot {
  /** Servers (all projects) changed since `since`, deleted ones included where Nova reports them. */
  servers: ServerInfo[];
  /** Migration records updated since `since`. */
  migrations: MigrationRecord[];
  /** Pass this as `since` to the next poll (the server clock, slightly backdated to avoid gaps). */
  nextSince: string;
  /** Number of HTTP requests this poll made (for the bounded-requests guarantee). */
  requests: number;
}

/**
 * Everything the evacuation engine needs from OpenStack. Implemented over HTTP by
 * `NovaComputeClient`; tests may implement it directly.
 */
export interface ComputeApi {
  microversions(): Promise<MicroversionRange>;

  listComputeServices(): Promise<ComputeService[]>;
  /** The nova-compute service whose host is exactly `host`, or null. Never a substring match. */
  findComputeService(host: string): Promise<ComputeService | null>;
  disableComputeService(service: ComputeService, reason: string): Promise<ComputeService>;
  enableComputeService(service: ComputeService): Promise<ComputeService>;
  setForcedDown(service: ComputeService, forcedDown: boolean): Promise<ComputeService>;

  listHypervisors(): Promise<Hypervisor[]>;

  /** Every server on the host, all projects, following pagination. */
  listServersOnHost(host: string): Promise<ServerInfo[]>;
  getServer(id: string): Promise<ServerInfo>;
  listServerGroups(): Promise<ServerGroup[]>;

  liveMigrate(serverId: string, options?: LiveMigrateOptions): Promise<ActionReceipt>;
  coldMigrate(serverId: string, options?: ColdMigrateOptions): Promise<ActionReceipt>;
  confirmResize(serverId: string): Promise<ActionReceipt>;
  evacuate(serverId: string, options?: EvacuateOptions): Promise<ActionReceipt>;

  listLiveMigrations(serverId: string): Promise<LiveMigrationProgress[]>;
  abortLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt>;
  forceCompleteLiveMigration(serverId: string, migrationId: number): Promise<ActionReceipt>;

  listMigrations(query?: ListMigrationsQuery): Promise<MigrationRecord[]>;
  listInstanceActions(serverId: string): Promise<InstanceAction[]>;
  /** One action with its events: where Nova puts the real reason a live migration failed. */
  getInstanceAction(serverId: string, requestId: string): Promise<InstanceAction>;

  /** Servers and migrations changed since `since` (ISO 8601), in one or two list requests. */
  pollChanges(since: string): Promise<ChangesSnapshot>;
}
