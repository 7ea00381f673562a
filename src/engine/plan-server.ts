/**
 * Per-server planning rules: which move a server gets, or why it stays, and what the operator
 * must know about it. The state rules mirror Nova 26 (Zed) `nova/compute/api.py`:
 * `live_migrate` accepts vm_state active/paused, `resize` (cold migration) active/stopped and
 * `evacuate` active/stopped/error, all only with no task in progress; `live_migrate` also rejects
 * SEV, vTPM and accelerator flavors, `resize` accelerators, `evacuate` vTPM, and the conductor's
 * live-migration pre-check rejects flavor PCI passthrough.
 */
import type { ServerGroup, ServerInfo } from '../nova/types.js';
import type { Finding, MoveKind, PlannedAction, PlannedServer, RequestedMode } from './types.js';

export type PlanMode = Exclude<RequestedMode, 'auto'>;

const MOVABLE_VM_STATES: Record<MoveKind, ReadonlySet<string>> = {
  'live-migrate': new Set(['active', 'paused']),
  'cold-migrate': new Set(['active', 'stopped']),
  evacuate: new Set(['active', 'stopped', 'error']),
};

/** Nova's API status for each vm_state, for servers whose vm_state Nova did not show us. */
const VM_STATE_BY_STATUS: Record<string, string> = {
  ACTIVE: 'active',
  SHUTOFF: 'stopped',
  PAUSED: 'paused',
  SUSPENDED: 'suspended',
  ERROR: 'error',
  SHELVED: 'shelved',
  SHELVED_OFFLOADED: 'shelved_offloaded',
  RESCUE: 'rescued',
  VERIFY_RESIZE: 'resized',
  BUILD: 'building',
  SOFT_DELETED: 'soft-delete',
  DELETED: 'deleted',
};

export function vmStateOf(server: ServerInfo): string {
  return server.vmState?.toLowerCase() ?? VM_STATE_BY_STATUS[server.status.toUpperCase()] ?? 'unknown';
}

export function blocker(code: string, message: string): Finding {
  return { severity: 'blocker', code, message };
}
export function warning(code: string, message: string): Finding {
  return { severity: 'warning', code, message };
}
export function info(code: string, message: string): Finding {
  return { severity: 'info', code, message };
}

/** Which servers the request names, matched by id or exact name (names are not unique in Nova). */
export interface ServerSelection {
  include?: ReadonlySet<string>;
  exclude?: ReadonlySet<string>;
}

export interface ServerPlanContext {
  /** The host being emptied. */
  host: string;
  requestedMode: RequestedMode;
  /** The resolved plan mode. */
  mode: PlanMode;
  /** Forces this move whatever the mode says (retry "as cold"). */
  forcedKind?: MoveKind;
  selection: ServerSelection;
  /** Hard affinity groups with more than one member, by member server id. */
  affinityGroups: ReadonlyMap<string, ServerGroup[]>;
}

/** The move the mode implies for a server in this vm_state. */
function intendedKind(vmState: string, context: ServerPlanContext): MoveKind {
  if (context.forcedKind) return context.forcedKind;
  if (context.mode === 'evacuate') return 'evacuate';
  if (context.mode === 'cold') return 'cold-migrate';
  // Auto on a live host: a stopped server has no memory to copy, so it is cold-migrated.
  if (context.requestedMode === 'auto' && vmState === 'stopped') return 'cold-migrate';
  return 'live-migrate';
}

function selected(server: ServerInfo, selection: ServerSelection): Finding | null {
  const named = (names: ReadonlySet<string>) => names.has(server.id) || names.has(server.name);
  if (selection.exclude && named(selection.exclude)) return info('excluded', 'Excluded by request.');
  if (selection.include && !named(selection.include)) {
    return info('not-included', 'Not in the list of servers to move.');
  }
  return null;
}

function notHere(server: ServerInfo, vmState: string, host: string): Finding | null {
  if (vmState === 'shelved_offloaded') {
    return info('shelved-offloaded', 'SHELVED_OFFLOADED: it has no host, so there is nothing to move.');
  }
  if (vmState === 'deleted' || vmState === 'soft-delete') {
    return info('deleted', `${server.status}: deleted, nothing to move.`);
  }
  if (server.host === null) return info('no-host', `${server.status} with no host: nothing to move.`);
  if (server.host === host) return null;
  return vmState === 'resized'
    ? info(
        'awaiting-confirm',
        `${server.status} on ${server.host}: its migration finished and awaits confirmation, nothing to move.`,
      )
    : info('not-on-host', `Now on ${server.host}, not ${host}: nothing to move.`);
}

/** Why Nova would refuse this vm_state for this move, or null when it accepts it. */
function stateRefusal(server: ServerInfo, vmState: string, kind: MoveKind, context: ServerPlanContext) {
  if (MOVABLE_VM_STATES[kind].has(vmState)) return null;
  const status = server.status;
  const fixThenRetry =
    kind === 'evacuate'
      ? 'Reset its state (`nova reset-state --active`) and retry, or recover it by hand.'
      : undefined;
  switch (vmState) {
    case 'stopped':
      return blocker(
        'stopped-live',
        `${status}: live migration needs a running server. Choose cold migration to move it (it stays off).`,
      );
    case 'paused':
      return blocker(
        'paused',
        `PAUSED: Nova cannot ${kind} a paused server. ${fixThenRetry ?? 'Unpause it, or use live migration.'}`,
      );
    case 'suspended':
      return blocker(
        'suspended',
        `SUSPENDED: Nova cannot ${kind} a suspended server. ${fixThenRetry ?? 'Resume it first.'}`,
      );
    case 'error':
      return blocker(
        'error-state',
        context.mode === 'evacuate'
          ? `ERROR: Nova cannot ${kind} a server in ERROR; only evacuation can rebuild it.`
          : 'ERROR: Nova cannot live- or cold-migrate a server in ERROR. Fix it first, or evacuate it once the host is down and fenced.',
      );
    case 'rescued':
      return blocker('rescued', `RESCUE: Nova cannot move a server in rescue mode. Unrescue it first.`);
    case 'shelved':
      return blocker(
        'shelved',
        'SHELVED: Nova cannot move a shelved server. Offload it (`openstack server shelve --offload`) to free the host.',
      );
    case 'resized':
      return blocker(
        'unconfirmed-resize',
        `${status}: a resize or migration is waiting to be confirmed. Confirm or revert it first.`,
      );
    case 'building':
      return blocker('building', `${status}: still being built. Retry when it is ACTIVE.`);
    default:
      return blocker('state-not-movable', `${status} (vm_state ${vmState}): Nova cannot ${kind} it.`);
  }
}

/** Flavor features that change what Nova does with a move. Image properties can set them too; we only see the flavor. */
interface FlavorFeatures {
  pinned: string | null;
  numaNodes: string | null;
  hugePages: string | null;
  pciAlias: string | null;
  vgpu: string | null;
  sev: boolean;
  vtpm: string | null;
  accelerator: string | null;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes', 'on'].includes(value.trim().toLowerCase());
}

function positive(value: string | undefined): boolean {
  return value !== undefined && Number(value) > 0;
}

export function flavorFeatures(extraSpecs: Record<string, string>): FlavorFeatures {
  const spec = (key: string) => extraSpecs[key];
  const cpuPolicy = spec('hw:cpu_policy')?.toLowerCase();
  const pageSize = spec('hw:mem_page_size');
  return {
    pinned:
      cpuPolicy === 'dedicated' || cpuPolicy === 'mixed'
        ? `hw:cpu_policy=${cpuPolicy}`
        : positive(spec('resources:PCPU'))
          ? `resources:PCPU=${spec('resources:PCPU')}`
          : null,
    numaNodes: spec('hw:numa_nodes') !== undefined ? `hw:numa_nodes=${spec('hw:numa_nodes')}` : null,
    hugePages:
      pageSize !== undefined && pageSize.toLowerCase() !== 'small' ? `hw:mem_page_size=${pageSize}` : null,
    pciAlias: spec('pci_passthrough:alias') ?? null,
    vgpu: positive(spec('resources:VGPU')) ? `resources:VGPU=${spec('resources:VGPU')}` : null,
    sev: isTrue(spec('hw:mem_encryption')) || positive(spec('resources:MEM_ENCRYPTION_CONTEXT')),
    vtpm: spec('hw:tpm_version') ?? null,
    accelerator: spec('accel:device_profile') ?? null,
  };
}

/** Refusals (blockers) and caveats (warnings) that come from the flavor, for this move. */
function flavorFindings(features: FlavorFeatures, kind: MoveKind): Finding[] {
  const findings: Finding[] = [];
  const live = kind === 'live-migrate';
  if (features.sev) {
    findings.push(
      live
        ? blocker(
            'sev',
            'SEV memory encryption (hw:mem_encryption): Nova refuses to live-migrate it. Use cold migration (it reboots).',
          )
        : warning('sev', 'SEV memory encryption (hw:mem_encryption): the destination must support SEV.'),
    );
  }
  if (features.vtpm !== null && kind !== 'cold-migrate') {
    findings.push(
      blocker(
        'vtpm',
        live
          ? `Virtual TPM (hw:tpm_version=${features.vtpm}): Nova refuses to live-migrate it. Use cold migration (it reboots).`
          : `Virtual TPM (hw:tpm_version=${features.vtpm}): Nova refuses to evacuate it. Recover it by hand.`,
      ),
    );
  }
  if (features.accelerator !== null) {
    findings.push(
      kind === 'evacuate'
        ? warning(
            'accelerator',
            `Accelerator (accel:device_profile=${features.accelerator}): the destination needs the same device free.`,
          )
        : blocker(
            'accelerator',
            `Accelerator (accel:device_profile=${features.accelerator}): Nova refuses to ${kind} it.`,
          ),
    );
  }
  if (features.pciAlias !== null) {
    findings.push(
      live
        ? blocker(
            'pci-passthrough',
            `PCI passthrough (pci_passthrough:alias=${features.pciAlias}): Nova refuses to live-migrate flavor PCI devices. Use cold migration (it reboots).`,
          )
        : warning(
            'pci-passthrough',
            `PCI passthrough (pci_passthrough:alias=${features.pciAlias}): the destination needs a matching free PCI device.`,
          ),
    );
  }
  if (features.vgpu !== null) {
    findings.push(
      warning(
        'vgpu',
        live
          ? `vGPU (${features.vgpu}): Nova supports live-migrating vGPU servers only from 2024.1 (with libvirt 8.6+), and then needs a free vGPU of the same type. Cold migration is safer.`
          : `vGPU (${features.vgpu}): the destination needs a free vGPU of the same type.`,
      ),
    );
  }
  if (features.pinned !== null) {
    findings.push(
      warning(
        'cpu-pinned',
        `CPU-pinned (${features.pinned}): the destination needs enough free dedicated pCPUs; otherwise the move fails with "No valid host".`,
      ),
    );
  }
  if (features.numaNodes !== null) {
    findings.push(
      warning(
        'numa-topology',
        `NUMA topology (${features.numaNodes}): the destination needs the same NUMA layout free; otherwise the move fails with "No valid host".`,
      ),
    );
  }
  if (features.hugePages !== null) {
    findings.push(
      warning(
        'huge-pages',
        `Huge pages (${features.hugePages}): the destination needs enough free huge pages of that size.`,
      ),
    );
  }
  return findings;
}

function moveReason(server: ServerInfo, vmState: string, kind: MoveKind, context: ServerPlanContext): string {
  const status = server.status;
  if (context.forcedKind) {
    const what = {
      'live-migrate': 'live migration',
      'cold-migrate': 'cold migration',
      evacuate: 'evacuation',
    };
    return `${status}: ${what[kind]}, as asked for this retry.`;
  }
  switch (kind) {
    case 'live-migrate':
      return vmState === 'paused'
        ? 'PAUSED on a live host: live migration (it stays paused).'
        : `${status} on a live host: live migration, no downtime.`;
    case 'cold-migrate':
      return vmState === 'stopped'
        ? `${status}: cold migration (it stays off).`
        : `${status}: cold migration as asked; it is shut down while it moves.`;
    case 'evacuate':
      return vmState === 'error'
        ? 'ERROR on a dead host: evacuation rebuilds it on another host.'
        : `${status} on a dead host: evacuation rebuilds it on another host.`;
  }
}

/** Plans one server. A skipped server's findings are all its blockers, and `why` is the first of them. */
export function planServer(server: ServerInfo, context: ServerPlanContext): PlannedServer {
  const vmState = vmStateOf(server);
  const kind = intendedKind(vmState, context);
  const findings: Finding[] = [];

  // Leaving a server alone on purpose, or finding nothing to move, is not a problem to list.
  const nothingToDo = selected(server, context.selection) ?? notHere(server, vmState, context.host);
  if (nothingToDo) return planned(server, 'skip', nothingToDo.message, [nothingToDo]);

  if (server.taskState !== null) {
    findings.push(
      blocker(
        'task-in-progress',
        `Busy: Nova task "${server.taskState}" is in progress (${server.status}). Retry when it finishes.`,
      ),
    );
  } else {
    const refusal = stateRefusal(server, vmState, kind, context);
    if (refusal) findings.push(refusal);
  }
  if (server.locked) {
    const reason = server.lockedReason ? ` ("${server.lockedReason}")` : '';
    findings.push(
      blocker(
        'locked',
        `Locked${reason}: its owner asked that it not be touched. Unlock it (\`openstack server unlock ${server.id}\`) and retry.`,
      ),
    );
  }
  findings.push(...flavorFindings(flavorFeatures(server.flavor.extraSpecs), kind));

  if (kind === 'cold-migrate' && vmState === 'active') {
    findings.push(
      warning('downtime', 'Running: cold migration shuts it down, moves it and starts it again.'),
    );
  }
  if (kind === 'evacuate') {
    if (vmState === 'error') {
      const fault = server.fault ? ` (fault: ${server.fault.message})` : '';
      findings.push(
        warning('error-rebuild', `In ERROR${fault}: evacuation rebuilds it; check it works afterwards.`),
      );
    }
    if (!server.bootFromVolume) {
      const image = server.imageId ?? 'unknown';
      findings.push(
        warning(
          'not-volume-backed',
          `Root disk is rebuilt from the image ${image}: data on the local disk is lost (unless instance disks are on shared storage).`,
        ),
      );
    }
  }
  for (const group of context.affinityGroups.get(server.id) ?? []) {
    findings.push(
      warning(
        'affinity',
        `Member of affinity group "${group.name}" (${group.members.length} members): Nova keeps the group on one host, so moving members one at a time is likely to fail with "No valid host".`,
      ),
    );
  }

  // Caveats about a move that will not happen only distract; they return when it is re-planned.
  const blockers = findings.filter((f) => f.severity === 'blocker');
  const [firstBlocker] = blockers;
  if (firstBlocker) return planned(server, 'skip', firstBlocker.message, blockers);
  return planned(server, kind, moveReason(server, vmState, kind, context), findings);
}

export function planned(
  server: ServerInfo,
  action: PlannedAction,
  why: string,
  findings: Finding[],
): PlannedServer {
  return {
    serverId: server.id,
    name: server.name,
    projectId: server.projectId,
    status: server.status,
    flavorName: server.flavor.name,
    vcpus: server.flavor.vcpus,
    ramMb: server.flavor.ramMb,
    action,
    why,
    findings,
    snapshot: server,
  };
}
