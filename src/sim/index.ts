/**
 * The simulated OpenStack cloud: Keystone v3 + Nova compute API (+ a sliver of Glance) over
 * real HTTP, seeded from a scenario, with drills, fault injection and counters.
 *
 *   const sim = await startSimCloud({ timeScale: 0.01, seed: 7 });
 *   // point a client at sim.credentials.authUrl ... sim.control.setHostAlive('host-1', false)
 *   await sim.close();
 */
import { realClock, type SimClock } from './clock.js';
import { SimControlImpl, controlRouter, type SimControl } from './control.js';
import { OperationEngine } from './engine.js';
import { FaultInjector } from './faults.js';
import { GlanceService } from './http/glance.js';
import { KeystoneService } from './http/keystone.js';
import { NovaService } from './http/nova.js';
import { SimHttpServer } from './http/server.js';
import { SeededRandom } from './random.js';
import {
  defaultScenarioPath,
  loadParsedScenario,
  parseScenario,
  type ParsedScenario,
  type Scenario,
} from './scenario.js';
import { CloudState } from './state.js';

export {
  defaultScenarioPath,
  generateScenario,
  loadScenario,
  parseScenario,
  scenarioSchema,
  operationDurationKinds,
  ScenarioError,
  type GenerateScenarioOptions,
  type OperationDurationKind,
  type ParsedScenario,
  type Scenario,
} from './scenario.js';
export { ManualClock, realClock, type SimClock } from './clock.js';
export type {
  SimControl,
  SimCounters,
  SimStateSnapshot,
  SimHostSnapshot,
  SimServerSnapshot,
  SimMigrationSnapshot,
  SimActionSnapshot,
} from './control.js';
export type { LiveMigrationFailurePlan, ConcurrencySnapshot, OperationKind } from './engine.js';
export type { FaultRule, FaultRuleInput } from './faults.js';

export interface SimCloudOptions {
  /** Parsed scenario object, or a path to a YAML/JSON file; default: the shipped default scenario. */
  scenario?: Scenario | string;
  /** Multiplies every simulated duration (0.01 => a 5 s move takes 50 ms). Default 1. */
  timeScale?: number;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Seeds all randomness (fault injection, failure rates). Default 1. */
  seed?: number;
  /** Keystone token lifetime (real seconds, NOT scaled). Default 3600. */
  tokenTtlSeconds?: number;
  /** Nova's service_down_time (scaled by timeScale). Default: the scenario's, else 60. */
  serviceDownTimeSeconds?: number;
  /** Injectable clock for tests (default: real time). */
  clock?: SimClock;
}

export interface SimCredentials {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  regionName: string;
}

export interface SimCloud {
  /** Base, e.g. http://127.0.0.1:PORT */
  url: string;
  /** Keystone v3 base, e.g. http://127.0.0.1:PORT/identity/v3 */
  authUrl: string;
  /** The compute endpoint in the catalog, e.g. http://127.0.0.1:PORT/compute/v2.1 */
  computeUrl: string;
  /** The admin user. */
  credentials: SimCredentials;
  /** Application credential of the admin user, when the scenario defines one. */
  applicationCredential: { id: string; name: string; secret: string } | null;
  control: SimControl;
  /** The effective (parsed, defaulted) scenario. */
  scenario: ParsedScenario;
  close(): Promise<void>;
}

function resolveScenario(input: Scenario | string | undefined): ParsedScenario {
  if (input === undefined) return loadParsedScenario(defaultScenarioPath);
  if (typeof input === 'string') return loadParsedScenario(input);
  return parseScenario(input);
}

export async function startSimCloud(options: SimCloudOptions = {}): Promise<SimCloud> {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new Error(`startSimCloud: timeScale must be > 0, got ${timeScale}`);
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  if (!(tokenTtlSeconds > 0))
    throw new Error(`startSimCloud: tokenTtlSeconds must be > 0, got ${tokenTtlSeconds}`);
  const scenario = resolveScenario(options.scenario);
  const serviceDownTimeSeconds = options.serviceDownTimeSeconds ?? scenario.settings.service_down_time ?? 60;
  if (!(serviceDownTimeSeconds >= 0)) {
    throw new Error(`startSimCloud: serviceDownTimeSeconds must be >= 0, got ${serviceDownTimeSeconds}`);
  }
  const seed = options.seed ?? 1;
  const clock = options.clock ?? realClock;

  const state = new CloudState(scenario, { clock, timeScale, serviceDownTimeSeconds, tokenTtlSeconds });
  const engineRandom = new SeededRandom(seed);
  const faultRandom = new SeededRandom(seed ^ 0x5bd1e995);
  const engine = new OperationEngine(state, engineRandom);
  const faults = new FaultInjector(faultRandom);
  const control = new SimControlImpl(state, engine, faults);

  let baseUrl = '';
  const endpoints = () => ({
    base: baseUrl,
    identity: `${baseUrl}/identity/v3`,
    compute: `${baseUrl}/compute/v2.1`,
    image: `${baseUrl}/image`,
  });
  const keystone = new KeystoneService(state, endpoints);
  const nova = new NovaService(state, engine, engineRandom, () => `${baseUrl}/compute`);
  const glance = new GlanceService(state, () => `${baseUrl}/image`);
  const http = new SimHttpServer({
    state,
    keystone,
    nova,
    glance,
    control,
    controlRouter: controlRouter(control),
    faults,
    baseUrl: () => baseUrl,
  });
  const host = options.host ?? '127.0.0.1';
  const address = await http.listen(options.port ?? 0, host);
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${hostForUrl}:${address.port}`;

  const admin = scenario.users.find((u) => u.roles.includes('admin')) ?? scenario.users[0];
  if (!admin) throw new Error('startSimCloud: the scenario has no users');
  const adminRecord = [...state.users.values()].find((u) => u.name === admin.name);
  const adminProject = scenario.projects.find((p) => p.name === admin.project);
  const appCred = adminRecord?.applicationCredentials[0] ?? null;

  let closed = false;
  return {
    url: baseUrl,
    authUrl: `${baseUrl}/identity/v3`,
    computeUrl: `${baseUrl}/compute/v2.1`,
    credentials: {
      authUrl: `${baseUrl}/identity/v3`,
      username: admin.name,
      password: admin.password,
      projectName: admin.project,
      userDomainName: admin.domain,
      projectDomainName: adminProject?.domain ?? 'Default',
      regionName: scenario.settings.region,
    },
    applicationCredential: appCred ? { ...appCred } : null,
    control,
    scenario,
    close: async () => {
      if (closed) return;
      closed = true;
      engine.shutdown();
      await http.close();
    },
  };
}
