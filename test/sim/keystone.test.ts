import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { http, passwordAuthBody } from './helpers.js';

let clock: ManualClock;
let sim: SimCloud;

beforeAll(async () => {
  clock = new ManualClock();
  sim = await startSimCloud({ clock, tokenTtlSeconds: 600 });
});

afterAll(async () => {
  await sim.close();
});

const tokens = () => `${sim.authUrl}/auth/tokens`;

describe('version discovery', () => {
  it('serves the v3 document and the version list', async () => {
    const v3 = await http('GET', sim.authUrl);
    expect(v3.status).toBe(200);
    expect(v3.json.version).toMatchObject({ id: 'v3.14', status: 'stable' });
    expect(v3.json.version.links[0].href).toBe(`${sim.authUrl}/`);
    const root = await http('GET', `${sim.url}/identity`);
    expect(root.status).toBe(300);
    expect(root.json.versions.values[0].id).toBe('v3.14');
  });
});

describe('password authentication', () => {
  it('issues a scoped token with X-Subject-Token, expires_at and a catalog', async () => {
    const r = await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-subject-token')).toMatch(/^gAAAAA/);
    const token = r.json.token;
    expect(token.project.name).toBe('admin');
    expect(token.roles.map((x: { name: string }) => x.name)).toContain('admin');
    expect(Date.parse(token.expires_at) - clock.now()).toBe(600_000);
    const compute = token.catalog.find((s: { type: string }) => s.type === 'compute');
    expect(compute.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual([
      'admin',
      'internal',
      'public',
    ]);
    expect(
      compute.endpoints.every(
        (e: { url: string; region_id: string }) => e.url === sim.computeUrl && e.region_id === 'RegionOne',
      ),
    ).toBe(true);
    expect(token.catalog.map((s: { type: string }) => s.type).sort()).toEqual([
      'compute',
      'identity',
      'image',
    ]);
  });

  it('accepts ids instead of names and scopes to the default project when unscoped', async () => {
    const named = await http('POST', tokens(), { body: passwordAuthBody('alice', 'alice') });
    expect(named.status).toBe(201);
    const { user, project } = named.json.token;
    expect(project.name).toBe('web');
    const byId = await http('POST', tokens(), {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { id: user.id, password: 'alice' } } },
          scope: { project: { id: project.id } },
        },
      },
    });
    expect(byId.status).toBe(201);
    expect(byId.json.token.project.id).toBe(project.id);
  });

  it('rejects a wrong password, an unknown domain and a project without access with 401', async () => {
    const wrong = await http('POST', tokens(), { body: passwordAuthBody('admin', 'nope', 'admin') });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
    const domain = await http('POST', tokens(), {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { name: 'Other' }, password: 'admin' } },
          },
        },
      },
    });
    expect(domain.status).toBe(401);
    const noAccess = await http('POST', tokens(), { body: passwordAuthBody('alice', 'alice', 'db') });
    expect(noAccess.status).toBe(401);
    const malformed = await http('POST', tokens(), { body: '{nope' });
    expect(malformed.status).toBe(400);
    const missing = await http('POST', tokens(), { body: { auth: {} } });
    expect(missing.status).toBe(400);
  });
});

describe('application credentials', () => {
  it('authenticates by id, or by name + user, and refuses a scope or a bad secret', async () => {
    const cred = sim.applicationCredential;
    expect(cred).not.toBeNull();
    const byId = await http('POST', tokens(), {
      body: {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: cred?.id, secret: cred?.secret },
          },
        },
      },
    });
    expect(byId.status).toBe(201);
    expect(byId.json.token.application_credential).toMatchObject({ id: cred?.id, name: 'evacuation-bot' });
    expect(byId.json.token.project.name).toBe('admin');
    const byName = await http('POST', tokens(), {
      body: {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: {
              name: cred?.name,
              secret: cred?.secret,
              user: { name: 'admin', domain: { name: 'Default' } },
            },
          },
        },
      },
    });
    expect(byName.status).toBe(201);
    const bad = await http('POST', tokens(), {
      body: {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: cred?.id, secret: 'x' },
          },
        },
      },
    });
    expect(bad.status).toBe(401);
    const scoped = await http('POST', tokens(), {
      body: {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: cred?.id, secret: cred?.secret },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    expect(scoped.status).toBe(401);
  });
});

describe('token lifetime', () => {
  it('validates tokens and answers 401 on Nova routes once a token has expired', async () => {
    const issued = await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') });
    const token = issued.headers.get('x-subject-token') ?? '';
    const check = await http('GET', tokens(), {
      headers: { 'X-Auth-Token': token, 'X-Subject-Token': token },
    });
    expect(check.status).toBe(200);
    expect(check.json.token.user.name).toBe('admin');

    const servers = () => http('GET', `${sim.computeUrl}/servers`, { headers: { 'X-Auth-Token': token } });
    expect((await servers()).status).toBe(200);
    clock.advance(599_000);
    expect((await servers()).status).toBe(200);
    clock.advance(1_000);
    const expired = await servers();
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe(`Keystone uri="${sim.url}/identity"`);
    expect(expired.json.error.message).toBe('The request you have made requires authentication.');
  });

  it('follows setTokenTtl for new tokens, expireTokens for old ones, and revocation', async () => {
    sim.control.setTokenTtl(5);
    const short = await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') });
    expect(Date.parse(short.json.token.expires_at) - clock.now()).toBe(5000);
    sim.control.setTokenTtl(600);
    const token =
      (await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') })).headers.get(
        'x-subject-token',
      ) ?? '';
    sim.control.expireTokens();
    expect(
      (await http('GET', `${sim.computeUrl}/servers`, { headers: { 'X-Auth-Token': token } })).status,
    ).toBe(401);

    const fresh =
      (await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') })).headers.get(
        'x-subject-token',
      ) ?? '';
    const victim =
      (await http('POST', tokens(), { body: passwordAuthBody('admin', 'admin', 'admin') })).headers.get(
        'x-subject-token',
      ) ?? '';
    expect(
      (await http('DELETE', tokens(), { headers: { 'X-Auth-Token': fresh, 'X-Subject-Token': victim } }))
        .status,
    ).toBe(204);
    expect(
      (await http('GET', `${sim.computeUrl}/servers`, { headers: { 'X-Auth-Token': victim } })).status,
    ).toBe(401);
    expect((await http('GET', `${sim.computeUrl}/servers`)).status).toBe(401);
  });
});
