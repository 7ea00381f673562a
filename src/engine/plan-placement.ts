/**
 * Where the servers can go: the hosts left to receive them, their free capacity against what
 * must move, the requested target host, availability zones and server-group policies. All of
 * it comes from lists fetched once per plan, so the cost does not grow with the server count.
 */
import type { ComputeService, Hypervisor, ServerGroup, ServerInfo } from '../nova/types.js';
import { blocker, info, warning } from './plan-server.js';
import { sortHostNames, suggestHosts } from './plan-hosts.js';
import type { CapacitySummary, Finding, PlannedServer } from './types.js';

export function isUsableDestination(service: ComputeService): boolean {
  return service.status === 'enabled' && service.state === 'up' && !service.forcedDown;
}

export function formatRam(mb: number): string {
  return mb >= 1024 ? `${Number((mb / 1024).toFixed(1))} GB` : `${mb} MB`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Plan-level blockers for a requested target host; empty when the target is usable. */
export function checkTargetHost(target: string, source: string, services: ComputeService[]): Finding[] {
  if (target === source) {
    return [blocker('target-is-source', `Target ${target} is the host being emptied: choose another host.`)];
  }
  const service = services.find((s) => s.host === target);
  if (!service) {
    const suggestions = suggestHosts(
      target,
      services.map((s) => s.host).filter((h) => h !== source),
    );
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.join(', ')}?` : '';
    return [blocker('target-unknown', `Target host ${target} is not a compute host.${hint}`)];
  }
  const findings: Finding[] = [];
  if (service.status === 'disabled') {
    const reason = service.disabledReason ? ` ("${service.disabledReason}")` : '';
    findings.push(
      blocker('target-disabled', `Target ${target} is disabled${reason}: Nova will not place servers there.`),
    );
  }
  if (service.state === 'down' || service.forcedDown) {
    findings.push(blocker('target-down', `Target ${target} is down: it cannot receive servers.`));
  }
  return findings;
}

/** The hosts that may receive servers: the target if one was asked for, else every usable host but the source. */
export function destinationHosts(
  source: string,
  services: ComputeService[],
  target: string | undefined,
): string[] {
  if (target !== undefined)
    return services.some((s) => s.host === target) && target !== source ? [target] : [];
  return sortHostNames(
    new Set(services.filter((s) => s.host !== source && isUsableDestination(s)).map((s) => s.host)),
  );
}

interface HostFree {
  host: string;
  vcpus: number | null;
  ramMb: number | null;
}

function freeOnHost(host: string, hypervisors: Hypervisor[]): HostFree {
  const nodes = hypervisors.filter((h) => h.host === host);
  let vcpus: number | null = nodes.length > 0 ? 0 : null;
  let ramMb: number | null = nodes.length > 0 ? 0 : null;
  for (const node of nodes) {
    // An overcommitted node contributes nothing rather than cancelling out another's free room.
    vcpus =
      vcpus === null || node.vcpus === null || node.vcpusUsed === null
        ? null
        : vcpus + Math.max(0, node.vcpus - node.vcpusUsed);
    ramMb =
      ramMb === null || node.memoryMb === null || node.memoryMbUsed === null
        ? null
        : ramMb + Math.max(0, node.memoryMb - node.memoryMbUsed);
  }
  return { host, vcpus, ramMb };
}

export interface CapacityInput {
  source: string;
  destinations: string[];
  /** Whether the operator named the target (then its own findings explain an empty destination list). */
  targetRequested: boolean;
  hypervisors: Hypervisor[];
  moving: PlannedServer[];
}

export function assessCapacity(input: CapacityInput): { capacity: CapacitySummary; findings: Finding[] } {
  const { destinations, moving } = input;
  const neededVcpus = moving.reduce((sum, s) => sum + s.vcpus, 0);
  const neededRamMb = moving.reduce((sum, s) => sum + s.ramMb, 0);
  const free = destinations.map((host) => freeOnHost(host, input.hypervisors));
  const unknown = free.filter((f) => f.vcpus === null || f.ramMb === null).map((f) => f.host);
  const known = unknown.length === 0 && destinations.length > 0;
  const freeVcpus = known ? free.reduce((sum, f) => sum + (f.vcpus ?? 0), 0) : null;
  const freeRamMb = known ? free.reduce((sum, f) => sum + (f.ramMb ?? 0), 0) : null;
  const capacity: CapacitySummary = {
    freeVcpus,
    freeRamMb,
    neededVcpus,
    neededRamMb,
    candidateHosts: destinations,
  };

  const findings: Finding[] = [];
  if (moving.length === 0) return { capacity, findings };
  if (destinations.length === 0) {
    if (!input.targetRequested) {
      findings.push(
        blocker(
          'no-destination',
          `No other compute host is enabled and up: there is nowhere to move the servers from ${input.source}.`,
        ),
      );
    }
    return { capacity, findings };
  }
  const hosts = plural(destinations.length, 'usable host');
  if (freeVcpus === null || freeRamMb === null) {
    const which =
      unknown.length === destinations.length ? 'any usable host' : sortHostNames(unknown).join(', ');
    findings.push(
      info(
        'capacity-unknown',
        `Capacity unknown: Nova does not report free vCPUs/RAM for ${which}. ${plural(neededVcpus, 'vCPU')} and ${formatRam(neededRamMb)} RAM must move; the scheduler still checks each move.`,
      ),
    );
    return { capacity, findings };
  }
  if (neededRamMb > freeRamMb) {
    findings.push(
      warning(
        'capacity-ram',
        `Not enough RAM: ${formatRam(neededRamMb)} must move but the ${hosts} have ${formatRam(freeRamMb)} free; some moves will fail with "No valid host".`,
      ),
    );
  }
  if (neededVcpus > freeVcpus) {
    findings.push(
      warning(
        'capacity-vcpu',
        `Short of vCPUs: ${plural(neededVcpus, 'vCPU')} must move but the ${hosts} have ${freeVcpus} unallocated (before CPU overcommit, which may still make room).`,
      ),
    );
  }
  const roomiest = Math.max(...free.map((f) => f.ramMb ?? 0));
  const tooBig = moving.filter((s) => s.ramMb > roomiest);
  if (tooBig.length > 0 && neededRamMb <= freeRamMb) {
    const names = tooBig.map((s) => `${s.name} (${formatRam(s.ramMb)})`).join(', ');
    findings.push(
      warning(
        'no-host-fits',
        `No single usable host has enough free RAM for ${names}: the most free on one host is ${formatRam(roomiest)}.`,
      ),
    );
  }
  return { capacity, findings };
}

/** Warns when the source's availability zone has no destination left (servers created in a zone stay in it). */
export function checkZone(
  source: ComputeService,
  destinations: string[],
  services: ComputeService[],
): Finding[] {
  if (source.zone === null || destinations.length === 0) return [];
  const zoneOf = new Map(services.map((s) => [s.host, s.zone]));
  if (destinations.some((host) => zoneOf.get(host) === source.zone)) return [];
  return [
    warning(
      'no-host-in-zone',
      `No usable host left in availability zone ${source.zone}: servers created in that zone explicitly cannot move out of it.`,
    ),
  ];
}

/** Groups each server on the host belongs to, from the group lists and from the servers' own `server_groups`. */
export function groupsByServer(groups: ServerGroup[], servers: ServerInfo[]): Map<string, ServerGroup[]> {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const memberOf = new Map<string, Set<string>>();
  for (const group of groups) {
    for (const member of group.members) {
      const ids = memberOf.get(member) ?? new Set<string>();
      ids.add(group.id);
      memberOf.set(member, ids);
    }
  }
  const result = new Map<string, ServerGroup[]>();
  for (const server of servers) {
    const ids = new Set([...server.serverGroupIds, ...(memberOf.get(server.id) ?? [])]);
    const found = [...ids].map((id) => byId.get(id)).filter((g): g is ServerGroup => g !== undefined);
    if (found.length > 0) result.set(server.id, found);
  }
  return result;
}

/** Hard affinity groups with other members, by server id: every move of their members is suspect. */
export function hardAffinityGroups(membership: Map<string, ServerGroup[]>): Map<string, ServerGroup[]> {
  const result = new Map<string, ServerGroup[]>();
  for (const [serverId, groups] of membership) {
    const affinity = groups.filter((g) => g.policy === 'affinity' && g.members.length > 1);
    if (affinity.length > 0) result.set(serverId, affinity);
  }
  return result;
}

/**
 * Hard anti-affinity groups with members that move: do enough hosts remain for every member to
 * have its own (or `max_server_per_host` members per host)?
 */
export function checkAntiAffinity(
  membership: Map<string, ServerGroup[]>,
  moving: PlannedServer[],
  destinations: string[],
  target: string | undefined,
): Finding[] {
  const movingByGroup = new Map<string, { group: ServerGroup; members: PlannedServer[] }>();
  for (const server of moving) {
    for (const group of membership.get(server.serverId) ?? []) {
      if (group.policy !== 'anti-affinity') continue;
      const entry = movingByGroup.get(group.id) ?? { group, members: [] };
      entry.members.push(server);
      movingByGroup.set(group.id, entry);
    }
  }
  const findings: Finding[] = [];
  for (const { group, members } of movingByGroup.values()) {
    const perHost = group.rules.max_server_per_host ?? 1;
    const total = Math.max(group.members.length, members.length);
    if (target !== undefined && members.length > perHost) {
      findings.push(
        warning(
          'anti-affinity',
          `Anti-affinity group "${group.name}": ${members.length} of its members would all go to ${target}, which takes at most ${perHost}; the rest will fail with "No valid host".`,
        ),
      );
    } else if (target === undefined && destinations.length * perHost < total) {
      findings.push(
        warning(
          'anti-affinity',
          `Anti-affinity group "${group.name}" has ${plural(total, 'member')} (${members.length} on this host) but only ${plural(destinations.length, 'usable host')} remain, each taking ${perHost}: some members may find no host ("No valid host").`,
        ),
      );
    }
  }
  return findings;
}
