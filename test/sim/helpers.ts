/**
 * Plain-fetch helpers for talking to the simulator the way any HTTP client would.
 */
import { startSimCloud, type SimCloud, type SimCloudOptions } from '../../src/sim/index.js';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export async function http(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: unknown; signal?: AbortSignal } = {},
): Promise<HttpResult> {
  const init: RequestInit = {
    method,
    headers: {
      Accept: 'application/json',
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
  };
  if (options.body !== undefined)
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  if (options.signal) init.signal = options.signal;
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function passwordAuthBody(user: string, password: string, project?: string) {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, domain: { name: 'Default' }, password } },
      },
      ...(project ? { scope: { project: { name: project, domain: { name: 'Default' } } } } : {}),
    },
  };
}

export async function getToken(
  sim: SimCloud,
  user = 'admin',
  password = 'admin',
  project = 'admin',
): Promise<string> {
  const result = await http('POST', `${sim.authUrl}/auth/tokens`, {
    body: passwordAuthBody(user, password, project),
  });
  if (result.status !== 201) throw new Error(`auth as ${user} failed: ${result.status} ${result.text}`);
  const token = result.headers.get('x-subject-token');
  if (!token) throw new Error('no X-Subject-Token');
  return token;
}

/** A Nova client pinned to one token and a default microversion. */
export class Nova {
  constructor(
    readonly sim: SimCloud,
    readonly token: string,
    readonly microversion = '2.90',
  ) {}

  static async admin(sim: SimCloud, microversion = '2.90'): Promise<Nova> {
    return new Nova(sim, await getToken(sim), microversion);
  }

  at(microversion: string): Nova {
    return new Nova(this.sim, this.token, microversion);
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<HttpResult> {
    return http(method, `${this.sim.computeUrl}${path}`, {
      headers: {
        'X-Auth-Token': this.token,
        'OpenStack-API-Version': `compute ${this.microversion}`,
        ...extraHeaders,
      },
      ...(body !== undefined ? { body } : {}),
    });
  }

  get(path: string): Promise<HttpResult> {
    return this.request('GET', path);
  }

  action(serverId: string, body: unknown): Promise<HttpResult> {
    return this.request('POST', `/servers/${serverId}/action`, body);
  }

  async server(id: string) {
    const result = await this.get(`/servers/${id}`);
    if (result.status !== 200) throw new Error(`GET server ${id}: ${result.status} ${result.text}`);
    return result.json.server;
  }

  liveMigrate(
    serverId: string,
    host: string | null = null,
    extra: Record<string, unknown> = {},
  ): Promise<HttpResult> {
    return this.action(serverId, { 'os-migrateLive': { host, block_migration: 'auto', ...extra } });
  }

  async actions(serverId: string) {
    const list = await this.get(`/servers/${serverId}/os-instance-actions`);
    return list.json.instanceActions as { action: string; request_id: string }[];
  }

  async actionDetail(serverId: string, action: string) {
    const list = await this.actions(serverId);
    const found = list.find((a) => a.action === action);
    if (!found) throw new Error(`no ${action} action on ${serverId}`);
    const detail = await this.get(`/servers/${serverId}/os-instance-actions/${found.request_id}`);
    return detail.json.instanceAction;
  }
}

/** Id of the server named `name` (names are unique in the test scenarios). */
export function serverId(sim: SimCloud, name: string): string {
  return sim.control.server(name).id;
}

/** Polls `check` until it returns a value (real time; only for tests on the real clock). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function withSim<T>(options: SimCloudOptions, fn: (sim: SimCloud) => Promise<T>): Promise<T> {
  const sim = await startSimCloud(options);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}
