import { afterEach, describe, expect, it } from 'vitest';
import { parseCredentials, type OpenStackCredentialsInput } from '../../src/nova/credentials.js';
import { CredentialsError, OpenStackError } from '../../src/nova/errors.js';
import { HttpClient } from '../../src/nova/http.js';
import {
  KeystoneSession,
  buildAuthRequest,
  selectEndpoint,
  type CatalogEntry,
} from '../../src/nova/keystone.js';
import {
  FAKE_APP_CREDENTIAL,
  startFakeOpenStack,
  type FakeOpenStack,
  type FakeOpenStackOptions,
} from './helpers/fake-openstack.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  fake: FakeOpenStack;
  session: KeystoneSession;
  clock: { now: number };
  get: () => Promise<unknown>;
}

async function setup(
  fakeOptions: FakeOpenStackOptions = {},
  credentials: Partial<OpenStackCredentialsInput> = {},
): Promise<Setup> {
  const fake = await startFakeOpenStack(fakeOptions);
  cleanups.push(() => fake.close());
  fake.on('GET', '/servers', () => ({ status: 200, body: { servers: [] } }));
  const http = new HttpClient({ sleep: async () => {}, retry: { attempts: 3 } });
  cleanups.push(() => http.close());
  const clock = { now: Date.now() };
  const session = new KeystoneSession(parseCredentials({ ...fake.credentials, ...credentials }), {
    http,
    now: () => clock.now,
  });
  const get = async () =>
    (await session.request({ operation: 'listServers', method: 'GET', url: `${fake.computeUrl}/servers` }))
      .body;
  return { fake, session, clock, get };
}

async function failure(promise: Promise<unknown>): Promise<OpenStackError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OpenStackError);
    return error as OpenStackError;
  }
  throw new Error('expected a failure');
}

describe('authentication requests', () => {
  it('sends a project-scoped password request by names and domains', async () => {
    const { fake, get } = await setup();
    await get();
    const auth = fake.requests.find((request) => request.path === '/identity/v3/auth/tokens');
    expect(auth?.body).toEqual({
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: { name: 'admin', domain: { name: 'Default' }, password: fake.credentials.password },
          },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
  });

  it('prefers ids when given, and defaults domains to "default"', () => {
    const body = buildAuthRequest(
      parseCredentials({ authUrl: 'http://k/v3', userId: 'u1', password: 'p', projectName: 'ops' }),
    );
    expect(body).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u1', password: 'p' } } },
        scope: { project: { name: 'ops', domain: { id: 'default' } } },
      },
    });
  });

  it('sends an unscoped application credential request', async () => {
    const { fake, get } = await setup(
      {},
      {
        authType: 'v3applicationcredential',
        applicationCredentialId: FAKE_APP_CREDENTIAL.id,
        applicationCredentialSecret: FAKE_APP_CREDENTIAL.secret,
        password: undefined,
      },
    );
    await get();
    const auth = fake.requests.find((request) => request.path === '/identity/v3/auth/tokens');
    expect(auth?.body).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: FAKE_APP_CREDENTIAL.id, secret: FAKE_APP_CREDENTIAL.secret },
        },
      },
    });
    const byName = buildAuthRequest(
      parseCredentials({
        authUrl: 'http://k/v3',
        authType: 'v3applicationcredential',
        applicationCredentialName: 'bot',
        applicationCredentialSecret: 's',
        username: 'svc',
        userDomainName: 'Corp',
      }),
    );
    expect(byName).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            name: 'bot',
            secret: 's',
            user: { name: 'svc', domain: { name: 'Corp' } },
          },
        },
      },
    });
  });

  it('reports a refused password with Keystone’s message', async () => {
    const { get } = await setup({}, { password: 'wrong' });
    const error = await failure(get());
    expect(error).toMatchObject({
      kind: 'unauthorized',
      status: 401,
      operation: 'authenticate',
      serviceMessage: 'The request you have made requires authentication.',
    });
    expect(error.requestId).toMatch(/^req-/);
  });

  it('retries authentication after a 503 (asking twice is harmless)', async () => {
    const { fake, get } = await setup();
    fake.authFailures.push({ status: 503, body: { error: { code: 503, message: 'busy' } } });
    await get();
    expect(fake.authRequests).toBe(2);
  });

  it('calls a token answer without X-Subject-Token invalid', async () => {
    const { fake, get } = await setup();
    fake.authFailures.push({ status: 201, body: { token: { expires_at: new Date().toISOString() } } });
    const error = await failure(get());
    expect(error).toMatchObject({ kind: 'invalid_response', operation: 'authenticate' });
    expect(error.message).toMatch(/X-Subject-Token/);
  });

  it('names the bad field of a malformed token body', async () => {
    const { fake, get } = await setup();
    fake.authFailures.push({
      status: 201,
      headers: { 'X-Subject-Token': 't' },
      body: { token: { expires_at: 'soon' } },
    });
    const error = await failure(get());
    expect(error.message).toMatch(
      /authenticate failed \(HTTP 201\): unexpected response: token\.expires_at: not a date/,
    );
  });
});

describe('unversioned auth URL', () => {
  it('finds /v3 from the version list', async () => {
    const fake = await startFakeOpenStack();
    cleanups.push(() => fake.close());
    fake.on('GET', '/servers', () => ({ status: 200, body: { servers: [] } }));
    const http = new HttpClient();
    cleanups.push(() => http.close());
    const session = new KeystoneSession(
      parseCredentials({ ...fake.credentials, authUrl: `${fake.url}/identity` }),
      { http },
    );
    await session.request({ operation: 'x', method: 'GET', url: `${fake.computeUrl}/servers` });
    expect(fake.requests.map((request) => `${request.method} ${request.path}`).slice(0, 2)).toEqual([
      'GET /identity',
      'POST /identity/v3/auth/tokens',
    ]);
  });
});

describe('token lifetime', () => {
  it('reuses the token and shares one authentication among concurrent callers', async () => {
    const { fake, get } = await setup();
    await Promise.all(Array.from({ length: 10 }, () => get()));
    await get();
    expect(fake.authRequests).toBe(1);
    expect(fake.novaRequests('GET', '/servers')).toHaveLength(11);
  });

  it('renews 60 s before expiry for a one-hour token', async () => {
    const { fake, clock, get } = await setup({ tokenTtlSeconds: 3600 });
    const start = clock.now;
    await get();
    clock.now = start + (3600 - 61) * 1000;
    await get();
    expect(fake.authRequests).toBe(1);
    clock.now = start + (3600 - 59) * 1000;
    await get();
    expect(fake.authRequests).toBe(2);
  });

  it('keeps the current token when an early renewal fails, until it expires', async () => {
    const { fake, clock, get } = await setup({ tokenTtlSeconds: 3600 });
    const start = clock.now;
    await get();
    const down = { status: 503, body: { error: { code: 503, message: 'keystone down' } } } as const;
    fake.authFailures.push(down, down, down);
    clock.now = start + (3600 - 30) * 1000;
    await expect(get()).resolves.toEqual({ servers: [] });
    expect(fake.authRequests).toBe(4);
    expect(fake.novaRequests('GET', '/servers').map((request) => request.token)).toEqual([
      fake.issuedTokens[0],
      fake.issuedTokens[0],
    ]);
    fake.authFailures.push(down, down, down);
    clock.now = start + 3600 * 1000;
    const error = await failure(get());
    expect(error).toMatchObject({ operation: 'authenticate', status: 503 });
  });

  it('renews at 10% of the lifetime for short tokens', async () => {
    const { fake, clock, get } = await setup({ tokenTtlSeconds: 20 });
    const start = clock.now;
    await get();
    clock.now = start + 17_900;
    await get();
    expect(fake.authRequests).toBe(1);
    clock.now = start + 18_100;
    await get();
    expect(fake.authRequests).toBe(2);
  });

  it.each([2 * 3600_000, -2 * 3600_000])(
    'is not fooled by a Keystone clock %i ms off from ours',
    async (offset) => {
      const { fake, clock, get } = await setup({ tokenTtlSeconds: 3600, keystoneClockOffsetMs: offset });
      const start = clock.now;
      await get();
      clock.now = start + 30 * 60_000;
      await get();
      expect(fake.authRequests).toBe(1);
      clock.now = start + 3600_000;
      await get();
      expect(fake.authRequests).toBe(2);
    },
  );
});

describe('401 from a service', () => {
  it('authenticates again once and repeats the request', async () => {
    const { fake, session, get } = await setup();
    await get();
    fake.revokeAllTokens();
    await expect(get()).resolves.toEqual({ servers: [] });
    expect(fake.authRequests).toBe(2);
    expect(session.authentications).toBe(2);
  });

  it('shares the re-authentication among concurrent requests', async () => {
    const { fake, get } = await setup();
    await get();
    fake.revokeAllTokens();
    await Promise.all(Array.from({ length: 6 }, () => get()));
    expect(fake.authRequests).toBe(2);
  });

  it('repeats even a POST after a 401, since Nova refused it before acting', async () => {
    const { fake, session } = await setup();
    fake.on('POST', '/servers/s1/action', () => ({ status: 202 }));
    await session.token();
    fake.revokeAllTokens();
    const response = await session.request({
      operation: 'liveMigrate',
      method: 'POST',
      url: `${fake.computeUrl}/servers/s1/action`,
      body: { 'os-migrateLive': { host: null, block_migration: 'auto' } },
    });
    expect(response.status).toBe(202);
    expect(fake.novaRequests('POST', '/servers/s1/action')).toHaveLength(2);
  });

  it('fails with the 401 when the fresh token is refused too', async () => {
    const { fake, get } = await setup();
    fake.on('GET', '/servers', () => ({
      status: 401,
      body: { error: { code: 401, message: 'The request you have made requires authentication.' } },
    }));
    const error = await failure(get());
    expect(error).toMatchObject({ kind: 'unauthorized', status: 401, operation: 'listServers' });
    expect(fake.authRequests).toBe(2);
    expect(fake.novaRequests('GET', '/servers')).toHaveLength(2);
  });
});

describe('endpoint selection', () => {
  const catalog: CatalogEntry[] = [
    {
      type: 'compute',
      name: 'nova',
      endpoints: [
        { interface: 'public', region_id: 'RegionOne', url: 'https://nova.one/v2.1/' },
        { interface: 'internal', region_id: 'RegionOne', url: 'http://nova.one.internal/v2.1' },
        { interface: 'public', region_id: 'RegionTwo', url: 'https://nova.two/v2.1' },
      ],
    },
    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'https://k/v3' }] },
  ];

  it('picks by interface and region', () => {
    expect(selectEndpoint(catalog, 'compute', 'public', 'RegionOne')).toBe('https://nova.one/v2.1');
    expect(selectEndpoint(catalog, 'compute', 'internal', 'RegionOne')).toBe('http://nova.one.internal/v2.1');
    expect(selectEndpoint(catalog, 'compute', 'public', 'RegionTwo')).toBe('https://nova.two/v2.1');
    expect(selectEndpoint(catalog, 'compute', 'internal', undefined)).toBe('http://nova.one.internal/v2.1');
  });

  it('explains what is missing or ambiguous', () => {
    expect(() => selectEndpoint(catalog, 'compute', 'admin', 'RegionOne')).toThrow(
      /no compute endpoint for interface "admin" in region "RegionOne" .* the catalog has: public@RegionOne, internal@RegionOne, public@RegionTwo/,
    );
    expect(() => selectEndpoint(catalog, 'compute', 'public', undefined)).toThrow(
      /several regions \(RegionOne, RegionTwo\): set OS_REGION_NAME/,
    );
    expect(() => selectEndpoint(catalog, 'volumev3', 'public', undefined)).toThrow(CredentialsError);
    expect(() => selectEndpoint(catalog, 'volumev3', 'public', undefined)).toThrow(
      /no "volumev3" service \(it lists: compute, identity\)/,
    );
  });

  it('reads the endpoint from a real token', async () => {
    const { session, fake } = await setup({ extraRegions: ['RegionTwo'] });
    expect(await session.endpoint('compute')).toBe(fake.computeUrl);
  });
});
