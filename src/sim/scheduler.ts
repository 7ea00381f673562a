/**
 * A filter scheduler in the spirit of Nova's: a host is a candidate only if its compute
 * service is enabled and up, it is in the server's requested AZ, it has the capacity (vCPU
 * with allocation ratio, RAM, disk, dedicated CPUs, vGPUs, PCI devices) and the server's
 * group policies allow it. Candidates are weighed by free RAM (spreading), then by name, so
 * the choice is deterministic.
 */
import type { HostRecord, ServerRecord } from './model.js';
import { flavorNeeds, type CloudState, type ResourceUsage } from './state.js';

export const NO_VALID_HOST_REASON = 'There are not enough hosts available.';

export interface ScheduleRequest {
  server: ServerRecord;
  /** Hosts that may not be chosen (the source of a move). */
  excludeHosts: string[];
  /** Only this host may be chosen (a requested destination the scheduler must still verify). */
  onlyHost?: string;
}

export type ScheduleResult =
  { ok: true; host: HostRecord } | { ok: false; reason: string; rejections: Record<string, string> };

/** Why `host` cannot take `server` right now, or null if it can. */
export function hostRejection(
  state: CloudState,
  host: HostRecord,
  server: ServerRecord,
  usage: Map<string, ResourceUsage>,
): string | null {
  if (!host.enabled) return 'ComputeFilter: service disabled';
  if (!state.isServiceUp(host)) return 'ComputeFilter: service down';
  if (server.requestedAz && host.az !== server.requestedAz)
    return `AvailabilityZoneFilter: not in ${server.requestedAz}`;
  const capacity = fitsCapacity(state, host, server, usage.get(host.name));
  if (capacity) return capacity;
  return groupRejection(state, host, server);
}

function fitsCapacity(
  state: CloudState,
  host: HostRecord,
  server: ServerRecord,
  used: ResourceUsage | undefined,
): string | null {
  const needs = flavorNeeds(server.flavor, server.imageId === null);
  const u = used ?? { vcpus: 0, pcpus: 0, ramMb: 0, diskGb: 0, vgpus: 0, pci: {}, instances: 0 };
  if (needs.pcpus > 0) {
    if (!host.pinned) return 'NUMATopologyFilter: host has no dedicated CPUs';
    if (u.pcpus + needs.pcpus > host.pcpus)
      return `NUMATopologyFilter: ${host.pcpus - u.pcpus} free PCPUs < ${needs.pcpus}`;
  }
  const vcpuLimit = host.vcpus * state.settings.cpu_allocation_ratio;
  if (u.vcpus + needs.vcpus > vcpuLimit) return `VCPU: ${vcpuLimit - u.vcpus} free < ${needs.vcpus}`;
  const ramLimit = host.ramMb * state.settings.ram_allocation_ratio;
  if (u.ramMb + needs.ramMb > ramLimit) return `MEMORY_MB: ${ramLimit - u.ramMb} free < ${needs.ramMb}`;
  if (u.diskGb + needs.diskGb > host.diskGb)
    return `DISK_GB: ${host.diskGb - u.diskGb} free < ${needs.diskGb}`;
  if (needs.vgpus > 0 && u.vgpus + needs.vgpus > host.vgpus)
    return `VGPU: ${host.vgpus - u.vgpus} free < ${needs.vgpus}`;
  for (const [alias, count] of Object.entries(needs.pci)) {
    const total = host.pciDevices[alias] ?? 0;
    const taken = u.pci[alias] ?? 0;
    if (taken + count > total)
      return `PciPassthroughFilter: ${total - taken} free "${alias}" devices < ${count}`;
  }
  return null;
}

function groupRejection(state: CloudState, host: HostRecord, server: ServerRecord): string | null {
  for (const groupId of server.groupIds) {
    const group = state.groups.get(groupId);
    if (!group) continue;
    const others = group.members
      .filter((id) => id !== server.id)
      .map((id) => state.servers.get(id))
      .filter((s): s is ServerRecord => s !== undefined && s.deletedMs === null);
    if (group.policy === 'anti-affinity') {
      const maxPerHost = group.rules.max_server_per_host ?? 1;
      const onHost = others.filter((other) => state.hostsHeldBy(other).includes(host.name)).length;
      if (onHost + 1 > maxPerHost)
        return `ServerGroupAntiAffinityFilter: group ${group.name} already on ${host.name}`;
    } else if (group.policy === 'affinity') {
      const placed = others.map((other) => other.host).filter((h): h is string => h !== null);
      if (placed.length > 0 && !placed.every((h) => h === host.name)) {
        return `ServerGroupAffinityFilter: group ${group.name} lives on ${[...new Set(placed)].join(', ')}`;
      }
    }
  }
  return null;
}

export function selectDestination(state: CloudState, request: ScheduleRequest): ScheduleResult {
  const usage = state.usageByHost();
  const rejections: Record<string, string> = {};
  const candidates: { host: HostRecord; freeRam: number }[] = [];
  for (const host of state.hosts.values()) {
    if (request.onlyHost !== undefined && host.name !== request.onlyHost) continue;
    if (request.excludeHosts.includes(host.name)) {
      rejections[host.name] = 'source host';
      continue;
    }
    const rejection = hostRejection(state, host, request.server, usage);
    if (rejection) {
      rejections[host.name] = rejection;
      continue;
    }
    const used = usage.get(host.name);
    candidates.push({ host, freeRam: host.ramMb * state.settings.ram_allocation_ratio - (used?.ramMb ?? 0) });
  }
  candidates.sort(
    (a, b) => b.freeRam - a.freeRam || a.host.name.localeCompare(b.host.name, 'en', { numeric: true }),
  );
  const best = candidates[0];
  if (!best) return { ok: false, reason: NO_VALID_HOST_REASON, rejections };
  return { ok: true, host: best.host };
}

/** Free RAM on `host` for a forced move (what the live-migration pre-check looks at). */
export function freeRamMb(state: CloudState, host: HostRecord): number {
  const used = state.usageByHost().get(host.name);
  return host.ramMb * state.settings.ram_allocation_ratio - (used?.ramMb ?? 0);
}
