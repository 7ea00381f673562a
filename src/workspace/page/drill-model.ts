/**
 * What the drill panel reads from the simulator's `GET /_sim/state` and which requests each
 * drill sends. Kept apart from the DOM code so it is unit-tested against the real simulator.
 */
import { z } from 'zod';

export interface DrillHost {
  name: string;
  zone: string | null;
  state: 'up' | 'down';
  enabled: boolean;
  forcedDown: boolean;
  /** nova-compute heartbeating (a host can be alive yet still `down` for a while, and vice versa). */
  alive: boolean;
  /** Nothing more fits: free vCPU or RAM is exhausted (a Fill drill, or simply busy). */
  full: boolean;
  servers: number;
  /** Servers on it with a task in progress (moving in or out). */
  moving: number;
}

export interface DrillState {
  hosts: DrillHost[];
  /** Moves the simulator is running right now. */
  operations: number;
}

const resourcesSchema = z.looseObject({ vcpus: z.number(), ramMb: z.number() });

const hostSchema = z.looseObject({
  name: z.string(),
  availabilityZone: z.string().nullish(),
  status: z.enum(['enabled', 'disabled']),
  state: z.enum(['up', 'down']),
  forcedDown: z.boolean(),
  alive: z.boolean(),
  capacity: resourcesSchema,
  used: resourcesSchema,
});

const serverSchema = z.looseObject({
  host: z.string().nullable(),
  taskState: z.string().nullable(),
  deleted: z.boolean().optional(),
});

const stateSchema = z.looseObject({
  hosts: z.array(hostSchema),
  servers: z.array(serverSchema),
  operations: z.array(z.unknown()).default([]),
});

export function parseDrillState(json: unknown): DrillState {
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `The simulator's state is not what the drill panel expects (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'})`,
    );
  }
  const state = parsed.data;
  const live = state.servers.filter((server) => !server.deleted);
  return {
    hosts: state.hosts.map((host) => {
      const onHost = live.filter((server) => server.host === host.name);
      return {
        name: host.name,
        zone: host.availabilityZone ?? null,
        state: host.state,
        enabled: host.status === 'enabled',
        forcedDown: host.forcedDown,
        alive: host.alive,
        full: host.used.vcpus >= host.capacity.vcpus || host.used.ramMb >= host.capacity.ramMb,
        servers: onHost.length,
        moving: onHost.filter((server) => server.taskState !== null).length,
      };
    }),
    operations: state.operations.length,
  };
}

/** Hosts in natural order (host-2 before host-10). */
export function sortedHosts(state: DrillState): DrillHost[] {
  return [...state.hosts].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export interface DrillRequest {
  method: 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

export interface Drill {
  requests: DrillRequest[];
  /** What the toast says once it worked. */
  done: string;
}

/** Durations (simulated seconds, scaled by the simulator's time scale) for the speed presets. */
export const SPEED_PRESETS = {
  fast: { label: 'Fast (1 s per move)', seconds: 1 },
  normal: { label: 'Normal (5 s per move)', seconds: 5 },
  slow: { label: 'Slow (30 s per move)', seconds: 30 },
  crawl: { label: 'Crawling (2 min per move)', seconds: 120 },
} as const;
export type SpeedPreset = keyof typeof SPEED_PRESETS;

export function isSpeedPreset(value: string): value is SpeedPreset {
  return Object.prototype.hasOwnProperty.call(SPEED_PRESETS, value);
}

const MOVE_KINDS = ['live_migration', 'cold_migration', 'evacuation'] as const;

/**
 * The requests behind each drill button. Forcing a host down is not a simulator trick but a Nova
 * call (what an operator does once a host is fenced), so it goes to the workspace server, which
 * makes it through the bot's compute client.
 */
export function drillRequests(drill: string, host: string, preset?: string): Drill {
  const hostPath = `/_sim/hosts/${encodeURIComponent(host)}`;
  switch (drill) {
    case 'down':
      return {
        requests: [{ method: 'POST', path: `${hostPath}/alive`, body: { alive: false } }],
        done: `${host}: nova-compute stopped. Nova reports the service down once service_down_time has passed.`,
      };
    case 'up':
      return {
        requests: [{ method: 'POST', path: `${hostPath}/alive`, body: { alive: true } }],
        done: `${host}: nova-compute is running and heartbeating again.`,
      };
    case 'force':
      return {
        requests: [
          {
            method: 'POST',
            path: `/workspace/drills/hosts/${encodeURIComponent(host)}/forced-down`,
            body: { forcedDown: true },
          },
        ],
        done: `${host} is forced down (as after fencing): evacuation is allowed now.`,
      };
    case 'unforce':
      return {
        requests: [
          {
            method: 'POST',
            path: `/workspace/drills/hosts/${encodeURIComponent(host)}/forced-down`,
            body: { forcedDown: false },
          },
        ],
        done: `${host}: forced_down unset.`,
      };
    case 'fill':
      return {
        requests: [{ method: 'POST', path: `${hostPath}/fill` }],
        done: `${host} is full: the scheduler will not place anything there.`,
      };
    case 'unfill':
      return {
        requests: [{ method: 'DELETE', path: `${hostPath}/fill` }],
        done: `${host} has its free capacity back.`,
      };
    case 'fail-next':
      return {
        requests: [{ method: 'POST', path: '/_sim/live-migration-failures', body: {} }],
        done: 'Armed: the next live migration is accepted, then fails on the compute host.',
      };
    case 'speed': {
      if (preset === undefined || !isSpeedPreset(preset)) throw new Error(`Unknown speed "${preset ?? ''}"`);
      const { seconds, label } = SPEED_PRESETS[preset];
      return {
        requests: MOVE_KINDS.map((kind) => ({
          method: 'POST' as const,
          path: '/_sim/durations',
          body: { kind, seconds },
        })),
        done: `Moves are now ${label.toLowerCase()}.`,
      };
    }
    default:
      throw new Error(`Unknown drill "${drill}"`);
  }
}
