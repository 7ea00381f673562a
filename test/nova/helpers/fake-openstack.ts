/**
 * A tiny scripted Keystone + Nova on loopback for the client's unit tests: real HTTP, but every
 * Nova answer is chosen by the test, so faults (503 then 200, resets, hangs, 401 after a token
 * is revoked) and exact bodies at a given microversion can be produced on demand.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path below the compute endpoint (e.g. `/servers/detail`), or the full path for Keystone. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  rawBody: string;
  microversion: string | null;
  token: string | null;
}

export type FakeReply =
  { status: number; body?: unknown; text?: string; headers?: Record<string, string> } | 'reset' | 'hang';

export type FakeHandler = (request: FakeRequest, call: number) => FakeReply | Promise<FakeReply>;

export interface FakeOpenStackOptions {
  minVersion?: string;
  maxVersion?: string;
  tokenTtlSeconds?: number;
  /** Skew Keystone's timestamps by this much (ms) relative to real time. */
  keystoneClockOffsetMs?: number;
  password?: string;
  applicationCredential?: { id: string; secret: string };
  /** Extra catalog regions (a compute endpoint each), besides RegionOne. */
  extraRegions?: string[];
  /** Send a Date header on Nova responses (Node adds one by default). */
  sendDate?: boolean;
}

interface Route {
  method: string;
  pattern: RegExp | string;
  handler: FakeHandler;
  calls: number;
}

export const FAKE_PASSWORD = 'hunter2-very-secret-password';
export const FAKE_APP_CREDENTIAL = { id: 'appcred-1', secret: 'appcred-secret-s3cr3t-value' };

export class FakeOpenStack {
  readonly server: http.Server;
  url = '';
  readonly requests: FakeRequest[] = [];
  readonly issuedTokens: string[] = [];
  private readonly validTokens = new Map<string, number>();
  private readonly routes: Route[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  authRequests = 0;
  /** When set, the next N auth requests get this reply instead. */
  authFailures: FakeReply[] = [];

  constructor(readonly options: FakeOpenStackOptions = {}) {
    this.server = http.createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.keepAliveTimeout = 2_000;
  }

  get authUrl(): string {
    return `${this.url}/identity/v3`;
  }

  get computeUrl(): string {
    return `${this.url}/compute/v2.1`;
  }

  get credentials() {
    return {
      authUrl: this.authUrl,
      username: 'admin',
      password: this.options.password ?? FAKE_PASSWORD,
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
    };
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Adds a Nova route (path below the compute endpoint). Later routes win over earlier ones. */
  on(method: string, pattern: RegExp | string, handler: FakeHandler): this {
    this.routes.unshift({ method, pattern, handler, calls: 0 });
    return this;
  }

  /** Answers with `replies` in turn, repeating the last one. */
  sequence(method: string, pattern: RegExp | string, replies: FakeReply[]): this {
    return this.on(
      method,
      pattern,
      (_request, call) => replies[Math.min(call, replies.length - 1)] as FakeReply,
    );
  }

  revokeAllTokens(): void {
    this.validTokens.clear();
  }

  novaRequests(method?: string, path?: string): FakeRequest[] {
    return this.requests.filter(
      (request) =>
        request.path !== '/' &&
        !request.path.startsWith('/identity') &&
        (method === undefined || request.method === method) &&
        (path === undefined || request.path === path),
    );
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    try {
      body = rawBody ? JSON.parse(rawBody) : null;
    } catch {
      body = rawBody;
    }
    const url = new URL(request.url ?? '/', this.url);
    const token =
      typeof request.headers['x-auth-token'] === 'string' ? request.headers['x-auth-token'] : null;
    const versionHeader = request.headers['openstack-api-version'];
    const microversion = typeof versionHeader === 'string' ? versionHeader.replace(/^compute\s+/, '') : null;
    const isCompute = url.pathname.startsWith('/compute/v2.1');
    const fake: FakeRequest = {
      method: request.method ?? 'GET',
      path: isCompute ? url.pathname.slice('/compute/v2.1'.length) || '/' : url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
      rawBody,
      microversion,
      token,
    };
    this.requests.push(fake);

    if (url.pathname === '/identity/v3/auth/tokens' && fake.method === 'POST') {
      return this.reply(response, this.authenticate(fake));
    }
    if ((url.pathname === '/identity' || url.pathname === '/identity/') && fake.method === 'GET') {
      return this.reply(response, {
        status: 300,
        body: {
          versions: {
            values: [{ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: `${this.authUrl}/` }] }],
          },
        },
      });
    }
    if (!isCompute)
      return this.reply(response, { status: 404, body: { error: { code: 404, message: 'Not Found' } } });

    const expiry = token ? this.validTokens.get(token) : undefined;
    if (expiry === undefined || expiry < Date.now()) {
      return this.reply(response, {
        status: 401,
        body: {
          error: {
            code: 401,
            title: 'Unauthorized',
            message: 'The request you have made requires authentication.',
          },
        },
      });
    }
    if (fake.path === '/' && fake.method === 'GET') {
      return this.reply(response, {
        status: 200,
        body: {
          version: {
            id: 'v2.1',
            status: 'CURRENT',
            version: this.options.maxVersion ?? '2.96',
            min_version: this.options.minVersion ?? '2.1',
            links: [{ rel: 'self', href: `${this.computeUrl}/` }],
          },
        },
      });
    }
    for (const route of this.routes) {
      if (route.method !== fake.method) continue;
      const matches =
        typeof route.pattern === 'string' ? route.pattern === fake.path : route.pattern.test(fake.path);
      if (!matches) continue;
      const call = route.calls++;
      return this.reply(response, await route.handler(fake, call));
    }
    const requestId = `req-${randomUUID()}`;
    return this.reply(response, {
      status: 404,
      body: { itemNotFound: { code: 404, message: `no fake route for ${fake.method} ${fake.path}` } },
      headers: { 'x-openstack-request-id': requestId },
    });
  }

  private authenticate(request: FakeRequest): FakeReply {
    this.authRequests += 1;
    const failure = this.authFailures.shift();
    if (failure) return failure;
    const identity = (request.body as { auth?: { identity?: Record<string, unknown> } })?.auth?.identity;
    const password = (identity?.password as { user?: { password?: string } } | undefined)?.user?.password;
    const appCredential = identity?.application_credential as { id?: string; secret?: string } | undefined;
    const expected = this.options.applicationCredential ?? FAKE_APP_CREDENTIAL;
    const ok =
      password === (this.options.password ?? FAKE_PASSWORD) ||
      (appCredential !== undefined &&
        appCredential.id === expected.id &&
        appCredential.secret === expected.secret);
    if (!ok) {
      return {
        status: 401,
        body: {
          error: {
            code: 401,
            message: 'The request you have made requires authentication.',
            title: 'Unauthorized',
          },
        },
        headers: { 'x-openstack-request-id': `req-${randomUUID()}` },
      };
    }
    const token = `gAAAAAB-fake-token-${this.issuedTokens.length + 1}-${randomUUID()}`;
    const ttlMs = (this.options.tokenTtlSeconds ?? 3600) * 1000;
    this.issuedTokens.push(token);
    this.validTokens.set(token, Date.now() + ttlMs);
    const keystoneNow = Date.now() + (this.options.keystoneClockOffsetMs ?? 0);
    const endpoints = (region: string) =>
      ['public', 'internal', 'admin'].map((iface) => ({
        id: randomUUID(),
        interface: iface,
        region_id: region,
        region,
        url: region === 'RegionOne' ? this.computeUrl : `${this.url}/${region}/compute/v2.1`,
      }));
    return {
      status: 201,
      headers: { 'X-Subject-Token': token, 'x-openstack-request-id': `req-${randomUUID()}` },
      body: {
        token: {
          methods: ['password'],
          user: { id: 'u-admin', name: 'admin', domain: { id: 'default', name: 'Default' } },
          project: { id: 'p-admin', name: 'admin', domain: { id: 'default', name: 'Default' } },
          issued_at: new Date(keystoneNow).toISOString(),
          expires_at: new Date(keystoneNow + ttlMs).toISOString(),
          catalog: [
            {
              type: 'identity',
              name: 'keystone',
              endpoints: [{ id: 'k1', interface: 'public', region_id: 'RegionOne', url: this.authUrl }],
            },
            {
              type: 'compute',
              name: 'nova',
              endpoints: ['RegionOne', ...(this.options.extraRegions ?? [])].flatMap(endpoints),
            },
          ],
        },
      },
    };
  }

  private reply(response: http.ServerResponse, reply: FakeReply): void {
    if (reply === 'reset') {
      response.socket?.destroy();
      return;
    }
    if (reply === 'hang') {
      this.hanging.add(response);
      return;
    }
    const headers: Record<string, string> = {
      'x-openstack-request-id': `req-${randomUUID()}`,
      ...reply.headers,
    };
    headers['x-compute-request-id'] ??= headers['x-openstack-request-id'] as string;
    let payload = '';
    if (reply.text !== undefined) payload = reply.text;
    else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['Content-Type'] ??= 'application/json';
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    response.sendDate = this.options.sendDate !== false;
    response.writeHead(reply.status, headers);
    response.end(payload);
  }
}

export async function startFakeOpenStack(options: FakeOpenStackOptions = {}): Promise<FakeOpenStack> {
  return new FakeOpenStack(options).start();
}

/** A Nova server body as real Nova 26 returns it at `version` (2.47+ embeds the flavor). */
export function novaServer(
  overrides: Record<string, unknown> & { id: string; host?: string | null },
  version = '2.93',
): Record<string, unknown> {
  const minor = Number(version.split('.')[1]);
  const { host = 'compute1', ...rest } = overrides;
  const base: Record<string, unknown> = {
    id: overrides.id,
    name: `vm-${overrides.id.slice(0, 8)}`,
    status: 'ACTIVE',
    tenant_id: 'p-admin',
    user_id: 'u-admin',
    metadata: {},
    hostId: 'abc',
    image: { id: 'img-1', links: [] },
    flavor:
      minor >= 47
        ? {
            vcpus: 2,
            ram: 2048,
            disk: 20,
            ephemeral: 0,
            swap: 0,
            original_name: 'm1.small',
            extra_specs: { 'hw:cpu_policy': 'shared' },
          }
        : { id: '2', links: [{ rel: 'bookmark', href: 'http://x/flavors/2' }] },
    created: '2026-11-27T10:35:58Z',
    updated: '2026-11-27T10:36:00Z',
    addresses: {},
    'OS-EXT-SRV-ATTR:host': host,
    'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
    'OS-EXT-SRV-ATTR:instance_name': 'instance-00000001',
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-STS:power_state': 1,
    'OS-EXT-AZ:availability_zone': 'nova',
    'os-extended-volumes:volumes_attached': [],
  };
  if (minor >= 9) base.locked = false;
  if (minor >= 73) base.locked_reason = null;
  return { ...base, ...rest };
}
