/**
 * JSON views of Nova resources at a given microversion: which fields exist at which version,
 * and which only admins see.
 */
import {
  novaApiTime,
  novaDbTime,
  statusFromState,
  type FlavorRecord,
  type HostRecord,
  type InstanceActionRecord,
  type MigrationRecord,
  type RequestContext,
  type ServerGroupRecord,
  type ServerRecord,
} from '../model.js';
import { hostIdFor, type CloudState, type ControllerService, type ResourceUsage } from '../state.js';

export const LIVE_MIGRATION_IN_PROGRESS = ['queued', 'preparing', 'running', 'post-migrating'];

export class NovaViews {
  constructor(
    private readonly state: CloudState,
    /** `http://host:port/compute` (the version-less root) */
    private readonly computeRoot: () => string,
  ) {}

  private selfLink(path: string) {
    return { rel: 'self', href: `${this.computeRoot()}/v2.1${path}` };
  }

  private bookmark(path: string) {
    return { rel: 'bookmark', href: `${this.computeRoot()}${path}` };
  }

  serverSummary(server: ServerRecord) {
    return {
      id: server.id,
      name: server.name,
      links: [this.selfLink(`/servers/${server.id}`), this.bookmark(`/servers/${server.id}`)],
    };
  }

  flavorInServer(ctx: RequestContext, flavor: FlavorRecord) {
    if (ctx.microversion >= 47) {
      return {
        vcpus: flavor.vcpus,
        ram: flavor.ramMb,
        disk: flavor.diskGb,
        ephemeral: 0,
        swap: 0,
        original_name: flavor.name,
        extra_specs: { ...flavor.extraSpecs },
      };
    }
    return { id: flavor.id, links: [this.bookmark(`/flavors/${flavor.id}`)] };
  }

  server(ctx: RequestContext, server: ServerRecord, options: { show: boolean }) {
    const mv = ctx.microversion;
    const status = statusFromState(server.vmState, server.taskState);
    const view: Record<string, unknown> = {
      id: server.id,
      name: server.name,
      status,
      tenant_id: server.projectId,
      user_id: server.userId,
      metadata: { ...server.metadata },
      hostId: server.hostId,
      image:
        server.imageId === null
          ? ''
          : { id: server.imageId, links: [this.bookmark(`/images/${server.imageId}`)] },
      flavor: this.flavorInServer(ctx, server.flavor),
      created: novaApiTime(server.createdMs),
      updated: novaApiTime(server.updatedMs),
      addresses: {},
      accessIPv4: '',
      accessIPv6: '',
      links: [this.selfLink(`/servers/${server.id}`), this.bookmark(`/servers/${server.id}`)],
      'OS-DCF:diskConfig': 'MANUAL',
      progress: 0,
      'OS-EXT-AZ:availability_zone': server.az ?? '',
      config_drive: '',
      key_name: null,
      'OS-SRV-USG:launched_at': server.launchedMs === null ? null : novaDbTime(server.launchedMs),
      'OS-SRV-USG:terminated_at': server.deletedMs === null ? null : novaDbTime(server.deletedMs),
    };
    if (ctx.isAdmin) {
      view['OS-EXT-SRV-ATTR:host'] = server.host;
      view['OS-EXT-SRV-ATTR:instance_name'] = server.instanceName;
      view['OS-EXT-SRV-ATTR:hypervisor_hostname'] = server.node;
      if (mv >= 3) {
        Object.assign(view, {
          'OS-EXT-SRV-ATTR:reservation_id': `r-${server.id.slice(0, 8)}`,
          'OS-EXT-SRV-ATTR:launch_index': 0,
          'OS-EXT-SRV-ATTR:hostname': server.name,
          'OS-EXT-SRV-ATTR:kernel_id': '',
          'OS-EXT-SRV-ATTR:ramdisk_id': '',
          'OS-EXT-SRV-ATTR:root_device_name': server.imageId === null ? '/dev/vda' : '/dev/sda',
          'OS-EXT-SRV-ATTR:user_data': null,
        });
      }
    }
    Object.assign(view, {
      'OS-EXT-STS:task_state': server.taskState,
      'OS-EXT-STS:vm_state': server.vmState,
      'OS-EXT-STS:power_state': server.powerState,
      'os-extended-volumes:volumes_attached': server.volumeIds.map((id) =>
        mv >= 3 ? { id, delete_on_termination: false } : { id },
      ),
    });
    if (server.fault && (status === 'ERROR' || status === 'DELETED')) {
      const fault: Record<string, unknown> = {
        code: server.fault.code,
        created: novaApiTime(server.fault.createdMs),
        message: server.fault.message,
      };
      if (ctx.isAdmin || server.fault.code !== 500) fault.details = server.fault.details;
      view.fault = fault;
    }
    if (mv >= 9) view.locked = server.locked;
    if (mv >= 73) view.locked_reason = server.lockedReason;
    if (mv >= 19) view.description = null;
    if (mv >= 26) view.tags = [];
    if (mv >= 63) view.trusted_image_certificates = null;
    if (mv >= 16 && ctx.isAdmin) view.host_status = this.state.hostStatus(server);
    if (mv >= 71 && options.show) view.server_groups = [...server.groupIds];
    if (mv >= 96) view.pinned_availability_zone = server.requestedAz;
    return view;
  }

  flavor(ctx: RequestContext, flavor: FlavorRecord) {
    const view: Record<string, unknown> = {
      id: flavor.id,
      name: flavor.name,
      ram: flavor.ramMb,
      disk: flavor.diskGb,
      swap: 0,
      'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false,
      vcpus: flavor.vcpus,
      'os-flavor-access:is_public': flavor.isPublic,
      rxtx_factor: 1.0,
      links: [this.selfLink(`/flavors/${flavor.id}`), this.bookmark(`/flavors/${flavor.id}`)],
    };
    if (ctx.microversion >= 55) view.description = null;
    if (ctx.microversion >= 61) view.extra_specs = { ...flavor.extraSpecs };
    return view;
  }

  computeService(ctx: RequestContext, host: HostRecord) {
    const view: Record<string, unknown> = {
      binary: 'nova-compute',
      host: host.name,
      id: ctx.microversion >= 53 ? host.serviceUuid : host.serviceId,
      zone: host.az,
      status: host.enabled ? 'enabled' : 'disabled',
      state: this.state.isServiceUp(host) ? 'up' : 'down',
      updated_at: novaDbTime(this.state.serviceUpdatedAt(host)),
      disabled_reason: host.disabledReason,
    };
    if (ctx.microversion >= 11) view.forced_down = host.forcedDown;
    return view;
  }

  controllerService(ctx: RequestContext, service: ControllerService) {
    const view: Record<string, unknown> = {
      binary: service.binary,
      host: service.host,
      id: ctx.microversion >= 53 ? service.uuid : service.id,
      zone: 'internal',
      status: 'enabled',
      state: 'up',
      updated_at: novaDbTime(this.state.lastHeartbeatTick()),
      disabled_reason: null,
    };
    if (ctx.microversion >= 11) view.forced_down = false;
    return view;
  }

  hypervisor(
    ctx: RequestContext,
    host: HostRecord,
    options: {
      detail: boolean;
      servers?: ServerRecord[];
      withServers: boolean;
      usage?: Map<string, ResourceUsage>;
    },
  ) {
    const mv = ctx.microversion;
    const view: Record<string, unknown> = {
      id: mv >= 53 ? host.hypervisorUuid : host.hypervisorId,
      hypervisor_hostname: host.name,
      state: this.state.isServiceUp(host) ? 'up' : 'down',
      status: host.enabled ? 'enabled' : 'disabled',
    };
    if (options.detail) {
      Object.assign(view, {
        hypervisor_type: 'QEMU',
        hypervisor_version: 6002000,
        host_ip: '127.0.0.1',
        service: {
          id: mv >= 53 ? host.serviceUuid : host.serviceId,
          host: host.name,
          disabled_reason: host.disabledReason,
        },
      });
      if (mv <= 87) {
        const usage = (options.usage ?? this.state.usageByHost()).get(host.name);
        const vcpusUsed = (usage?.vcpus ?? 0) + (usage?.pcpus ?? 0);
        const ramUsed = (usage?.ramMb ?? 0) + 512;
        const diskUsed = usage?.diskGb ?? 0;
        const cpuInfo = {
          arch: 'x86_64',
          model: 'Cascadelake-Server',
          vendor: 'Intel',
          topology: { cells: 2, sockets: 1, cores: host.vcpus / 4, threads: 2 },
          features: ['pge', 'avx2', 'vmx'],
        };
        Object.assign(view, {
          vcpus: host.vcpus,
          memory_mb: host.ramMb,
          local_gb: host.diskGb,
          vcpus_used: vcpusUsed,
          memory_mb_used: ramUsed,
          local_gb_used: diskUsed,
          free_ram_mb: host.ramMb - ramUsed,
          free_disk_gb: host.diskGb - diskUsed,
          current_workload: 0,
          running_vms: usage?.instances ?? 0,
          disk_available_least: host.diskGb - diskUsed,
          cpu_info: mv <= 27 ? JSON.stringify(cpuInfo) : cpuInfo,
        });
      } else {
        view.uptime = this.state.hosts.get(host.name)?.alive
          ? ' 10:00:00 up 42 days,  3:14,  0 users,  load average: 0.42, 0.40, 0.38'
          : null;
      }
    }
    if (options.servers && options.servers.length > 0) {
      view.servers = options.servers.map((s) => ({ name: s.instanceName, uuid: s.id }));
    } else if (options.withServers && mv >= 75) {
      view.servers = [];
    }
    return view;
  }

  migration(ctx: RequestContext, m: MigrationRecord) {
    const mv = ctx.microversion;
    const view: Record<string, unknown> = {
      id: m.id,
      status: m.status,
      instance_uuid: m.instanceUuid,
      source_node: m.sourceNode,
      source_compute: m.sourceCompute,
      dest_node: m.destNode,
      dest_compute: m.destCompute,
      dest_host: m.destHost,
      old_instance_type_id: Number(m.oldFlavorId) || 1,
      new_instance_type_id: Number(m.newFlavorId) || 1,
      created_at: novaDbTime(m.createdMs),
      updated_at: m.updatedMs === null ? null : novaDbTime(m.updatedMs),
    };
    if (mv >= 23) {
      view.migration_type = m.migrationType;
      if (m.migrationType === 'live-migration' && LIVE_MIGRATION_IN_PROGRESS.includes(m.status)) {
        const path = `/servers/${m.instanceUuid}/migrations/${m.id}`;
        view.links = [this.selfLink(path), this.bookmark(path)];
      }
    }
    if (mv >= 59) view.uuid = m.uuid;
    if (mv >= 80) {
      view.user_id = m.userId;
      view.project_id = m.projectId;
    }
    return view;
  }

  serverMigration(ctx: RequestContext, m: MigrationRecord) {
    const view: Record<string, unknown> = {
      created_at: novaDbTime(m.createdMs),
      dest_compute: m.destCompute,
      dest_host: m.destHost,
      dest_node: m.destNode,
      disk_processed_bytes: m.diskProcessed,
      disk_remaining_bytes: m.diskRemaining,
      disk_total_bytes: m.diskTotal,
      id: m.id,
      memory_processed_bytes: m.memoryProcessed,
      memory_remaining_bytes: m.memoryRemaining,
      memory_total_bytes: m.memoryTotal,
      server_uuid: m.instanceUuid,
      source_compute: m.sourceCompute,
      source_node: m.sourceNode,
      status: m.status,
      updated_at: m.updatedMs === null ? null : novaDbTime(m.updatedMs),
    };
    if (ctx.microversion >= 59) view.uuid = m.uuid;
    if (ctx.microversion >= 80) {
      view.user_id = m.userId;
      view.project_id = m.projectId;
    }
    return view;
  }

  instanceAction(ctx: RequestContext, action: InstanceActionRecord, withEvents: boolean) {
    const mv = ctx.microversion;
    const view: Record<string, unknown> = {
      action: action.action,
      instance_uuid: action.instanceUuid,
      request_id: action.requestId,
      user_id: action.userId,
      project_id: action.projectId,
      start_time: novaDbTime(action.startMs),
      message: action.message,
    };
    if (mv >= 58) view.updated_at = novaDbTime(action.updatedMs);
    if (withEvents) {
      const server = this.state.servers.get(action.instanceUuid);
      view.events = action.events.map((event) => {
        const e: Record<string, unknown> = {
          event: event.event,
          start_time: novaDbTime(event.startMs),
          finish_time: event.finishMs === null ? null : novaDbTime(event.finishMs),
          result: event.result,
        };
        // Nova shows tracebacks only to admins (policy `events:details`/`traceback`).
        if (ctx.isAdmin) e.traceback = event.traceback;
        if (mv >= 62) {
          if (ctx.isAdmin) e.host = event.host ?? '';
          e.hostId = event.host && server ? hostIdFor(server.projectId, event.host) : '';
        }
        if (mv >= 84) e.details = event.details;
        return e;
      });
    }
    return view;
  }

  serverGroup(ctx: RequestContext, group: ServerGroupRecord) {
    const mv = ctx.microversion;
    const view: Record<string, unknown> = {
      id: group.id,
      name: group.name,
      members: group.members.filter((id) => this.state.servers.get(id)?.deletedMs === null),
      metadata: {},
    };
    if (mv >= 64) {
      view.policy = group.policy;
      view.rules = { ...group.rules };
      delete view.metadata;
    } else {
      view.policies = [group.policy];
    }
    if (mv >= 13) {
      view.project_id = group.projectId;
      view.user_id = group.userId;
    }
    return view;
  }
}
