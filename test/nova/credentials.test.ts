import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  configFileCandidates,
  loadCredentials,
  parseCredentials,
  type LoadCredentialsOptions,
} from '../../src/nova/credentials.js';
import { CredentialsError } from '../../src/nova/errors.js';

const LAB_ENV = {
  OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
  OS_USERNAME: 'admin',
  OS_PASSWORD: 'admin-pass',
  OS_PROJECT_NAME: 'admin',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
};

let root: string;
let dirs: { cwd: string; home: string; xdg: string; site: string };
let options: LoadCredentialsOptions;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'nova-credentials-'));
  dirs = {
    cwd: path.join(root, 'work'),
    home: path.join(root, 'home'),
    xdg: path.join(root, 'xdg'),
    site: path.join(root, 'etc-openstack'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  options = { cwd: dirs.cwd, homeDir: dirs.home, siteConfigDir: dirs.site };
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function expectCredentialsError(fn: () => unknown, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CredentialsError);
  for (const pattern of patterns) expect((caught as Error).message).toMatch(pattern);
}

describe('OS_* environment variables', () => {
  it('reads the lab settings the way the CLI does', () => {
    const credentials = loadCredentials(LAB_ENV, options);
    expect(credentials).toMatchObject({
      authUrl: 'http://127.0.0.1:5000/v3',
      authType: 'password',
      username: 'admin',
      password: 'admin-pass',
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
      interface: 'public',
      insecure: false,
    });
    expect(credentials.computeApiVersion).toBeUndefined();
  });

  it('accepts ids, the tenant aliases and trailing slashes', () => {
    const credentials = loadCredentials(
      {
        OS_AUTH_URL: 'https://keystone.example:5000/v3/',
        OS_USER_ID: 'u-123',
        OS_PASSWORD: 'x',
        OS_TENANT_ID: 'p-456',
      },
      options,
    );
    expect(credentials).toMatchObject({
      authUrl: 'https://keystone.example:5000/v3',
      userId: 'u-123',
      projectId: 'p-456',
    });
    expect(
      loadCredentials({ ...LAB_ENV, OS_PROJECT_NAME: '', OS_TENANT_NAME: 'legacy' }, options).projectName,
    ).toBe('legacy');
  });

  it('falls back from OS_DOMAIN_NAME, then to the default domain', () => {
    const shared = loadCredentials(
      {
        OS_AUTH_URL: LAB_ENV.OS_AUTH_URL,
        OS_USERNAME: 'u',
        OS_PASSWORD: 'p',
        OS_PROJECT_NAME: 'p',
        OS_DOMAIN_NAME: 'Corp',
      },
      options,
    );
    expect(shared).toMatchObject({ userDomainName: 'Corp', projectDomainName: 'Corp' });
    const partial = loadCredentials(
      {
        OS_AUTH_URL: LAB_ENV.OS_AUTH_URL,
        OS_USERNAME: 'u',
        OS_PASSWORD: 'p',
        OS_PROJECT_NAME: 'p',
        OS_DOMAIN_ID: 'd-1',
        OS_USER_DOMAIN_NAME: 'Users',
      },
      options,
    );
    expect(partial).toMatchObject({ userDomainName: 'Users', projectDomainId: 'd-1' });
    expect(partial.userDomainId).toBeUndefined();
    const bare = loadCredentials(
      { OS_AUTH_URL: LAB_ENV.OS_AUTH_URL, OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'p' },
      options,
    );
    expect(bare).toMatchObject({ userDomainId: 'default', projectDomainId: 'default' });
  });

  it.each([
    ['public', 'public'],
    ['internal', 'internal'],
    ['admin', 'admin'],
    ['publicURL', 'public'],
    ['internalURL', 'internal'],
    ['adminURL', 'admin'],
  ])('accepts OS_INTERFACE=%s', (value, expected) => {
    expect(loadCredentials({ ...LAB_ENV, OS_INTERFACE: value }, options).interface).toBe(expected);
  });

  it('rejects an unknown interface by name', () => {
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_INTERFACE: 'private' }, options),
      /OS_INTERFACE "private"/,
    );
  });

  it('reads TLS settings and the microversion pin', () => {
    const credentials = loadCredentials(
      {
        ...LAB_ENV,
        OS_CACERT: '/etc/ssl/ca.pem',
        OS_INSECURE: 'True',
        OS_CERT: '/c.pem',
        OS_KEY: '/k.pem',
        OS_COMPUTE_API_VERSION: '2.60',
      },
      options,
    );
    expect(credentials).toMatchObject({
      cacert: '/etc/ssl/ca.pem',
      insecure: true,
      cert: '/c.pem',
      key: '/k.pem',
      computeApiVersion: '2.60',
    });
    expect(loadCredentials({ ...LAB_ENV, OS_COMPUTE_API_VERSION: 'latest' }, options).computeApiVersion).toBe(
      'latest',
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_INSECURE: 'maybe' }, options),
      /OS_INSECURE must be true or false/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_COMPUTE_API_VERSION: '3.1' }, options),
      /OS_COMPUTE_API_VERSION.*only 2\.x/,
    );
  });

  it.each(['password', 'v3password', 'V3Password'])('accepts OS_AUTH_TYPE=%s', (type) => {
    expect(loadCredentials({ ...LAB_ENV, OS_AUTH_TYPE: type }, options).authType).toBe('password');
  });

  it('reads application credentials, by id or by name plus user', () => {
    const byId = loadCredentials(
      {
        OS_AUTH_URL: LAB_ENV.OS_AUTH_URL,
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: 'ac-1',
        OS_APPLICATION_CREDENTIAL_SECRET: 's3cret',
      },
      options,
    );
    expect(byId).toMatchObject({ authType: 'v3applicationcredential', applicationCredentialId: 'ac-1' });
    const inferred = loadCredentials(
      {
        OS_AUTH_URL: LAB_ENV.OS_AUTH_URL,
        OS_APPLICATION_CREDENTIAL_NAME: 'bot',
        OS_APPLICATION_CREDENTIAL_SECRET: 's3cret',
        OS_USERNAME: 'svc',
        OS_USER_DOMAIN_NAME: 'Default',
      },
      options,
    );
    expect(inferred).toMatchObject({
      authType: 'v3applicationcredential',
      applicationCredentialName: 'bot',
      username: 'svc',
    });
  });

  it('names every missing setting and where it looked', () => {
    expectCredentialsError(
      () => loadCredentials({}, options),
      /OS_AUTH_URL is missing/,
      /OS_PASSWORD is missing/,
      /OS_USERNAME \(or OS_USER_ID\) is missing/,
      /OS_PROJECT_NAME \(or OS_PROJECT_ID\) is missing/,
      /looked in the OS_\* environment variables \(OS_CLOUD is not set\)/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_PASSWORD: undefined }, options),
      /^OpenStack credentials are incomplete: OS_PASSWORD is missing \(looked in/,
    );
    expectCredentialsError(
      () =>
        loadCredentials(
          {
            OS_AUTH_URL: LAB_ENV.OS_AUTH_URL,
            OS_AUTH_TYPE: 'v3applicationcredential',
            OS_APPLICATION_CREDENTIAL_NAME: 'bot',
          },
          options,
        ),
      /OS_APPLICATION_CREDENTIAL_SECRET is missing/,
      /application credential given by name needs its user/,
    );
  });

  it('refuses contradictory or unsupported settings', () => {
    expectCredentialsError(
      () =>
        loadCredentials(
          { ...LAB_ENV, OS_APPLICATION_CREDENTIAL_ID: 'ac', OS_APPLICATION_CREDENTIAL_SECRET: 's' },
          options,
        ),
      /both a password .* and an application credential secret/,
      /set OS_AUTH_TYPE/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_AUTH_TYPE: 'token' }, options),
      /OS_AUTH_TYPE "token" is not supported/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_IDENTITY_API_VERSION: '2' }, options),
      /only Keystone v3/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_AUTH_URL: 'http://k:5000/v2.0' }, options),
      /OS_AUTH_URL points at Keystone v2\.0/,
    );
    expectCredentialsError(
      () => loadCredentials({ ...LAB_ENV, OS_AUTH_URL: 'keystone:5000' }, options),
      /OS_AUTH_URL must be an http\(s\) URL/,
    );
  });
});

const CLOUDS_YAML = `
clouds:
  lab:
    auth:
      auth_url: http://10.0.0.1:5000/v3
      username: operator
      project_name: ops
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionTwo
    interface: internal
    compute_api_version: "2.90"
  other:
    auth:
      auth_url: http://10.9.9.9:5000/v3
`;

const SECURE_YAML = `
clouds:
  lab:
    auth:
      password: from-secure-yaml
`;

describe('clouds.yaml with OS_CLOUD', () => {
  it('merges secure.yaml into the named cloud', () => {
    write(path.join(dirs.home, '.config/openstack/clouds.yaml'), CLOUDS_YAML);
    write(path.join(dirs.home, '.config/openstack/secure.yaml'), SECURE_YAML);
    const credentials = loadCredentials({ OS_CLOUD: 'lab' }, options);
    expect(credentials).toMatchObject({
      authUrl: 'http://10.0.0.1:5000/v3',
      username: 'operator',
      password: 'from-secure-yaml',
      projectName: 'ops',
      regionName: 'RegionTwo',
      interface: 'internal',
      computeApiVersion: '2.90',
      origin: {
        cloud: 'lab',
        cloudsFile: path.join(dirs.home, '.config/openstack/clouds.yaml'),
        secureFile: path.join(dirs.home, '.config/openstack/secure.yaml'),
      },
    });
  });

  it('searches the current directory, then XDG_CONFIG_HOME, ~/.config, then the site directory', () => {
    const env = { OS_CLOUD: 'lab', OS_PASSWORD: 'p', XDG_CONFIG_HOME: dirs.xdg };
    const expected = [
      path.join(dirs.cwd, 'clouds.yaml'),
      path.join(dirs.cwd, 'clouds.yml'),
      path.join(dirs.cwd, 'clouds.json'),
      path.join(dirs.xdg, 'openstack/clouds.yaml'),
      path.join(dirs.xdg, 'openstack/clouds.yml'),
      path.join(dirs.xdg, 'openstack/clouds.json'),
      path.join(dirs.home, '.config/openstack/clouds.yaml'),
      path.join(dirs.home, '.config/openstack/clouds.yml'),
      path.join(dirs.home, '.config/openstack/clouds.json'),
      path.join(dirs.site, 'clouds.yaml'),
      path.join(dirs.site, 'clouds.yml'),
      path.join(dirs.site, 'clouds.json'),
    ];
    expect(configFileCandidates('clouds', env, options)).toEqual(expected);

    const cloudAt = (url: string) =>
      `clouds:\n  lab:\n    auth:\n      auth_url: ${url}\n      username: u\n      project_name: p\n`;
    write(path.join(dirs.site, 'clouds.yaml'), cloudAt('http://site:5000/v3'));
    expect(loadCredentials(env, options).authUrl).toBe('http://site:5000/v3');
    write(path.join(dirs.home, '.config/openstack/clouds.yaml'), cloudAt('http://home:5000/v3'));
    expect(loadCredentials(env, options).authUrl).toBe('http://home:5000/v3');
    write(path.join(dirs.xdg, 'openstack/clouds.yml'), cloudAt('http://xdg:5000/v3'));
    expect(loadCredentials(env, options).authUrl).toBe('http://xdg:5000/v3');
    write(path.join(dirs.cwd, 'clouds.yaml'), cloudAt('http://cwd:5000/v3'));
    expect(loadCredentials(env, options).authUrl).toBe('http://cwd:5000/v3');
    // The first file found wins outright: clouds are not merged across files.
    expect(() => loadCredentials({ ...env, OS_CLOUD: 'elsewhere' }, options)).toThrow(
      /cloud "elsewhere" is not defined in .*work\/clouds\.yaml; defined clouds: lab/,
    );
  });

  it('puts OS_CLIENT_CONFIG_FILE first, and reads JSON too', () => {
    const override = write(
      path.join(root, 'custom/my-clouds.json'),
      JSON.stringify({
        clouds: {
          lab: { auth: { auth_url: 'http://json:5000/v3', username: 'u', password: 'p', project_id: 'pid' } },
        },
      }),
    );
    write(path.join(dirs.cwd, 'clouds.yaml'), CLOUDS_YAML);
    const credentials = loadCredentials({ OS_CLOUD: 'lab', OS_CLIENT_CONFIG_FILE: override }, options);
    expect(credentials).toMatchObject({ authUrl: 'http://json:5000/v3', projectId: 'pid' });
  });

  it('lets OS_* variables override the file, pair by pair', () => {
    write(path.join(dirs.cwd, 'clouds.yaml'), CLOUDS_YAML);
    write(path.join(dirs.cwd, 'secure.yaml'), SECURE_YAML);
    const credentials = loadCredentials(
      {
        OS_CLOUD: 'lab',
        OS_PASSWORD: 'from-env',
        OS_REGION_NAME: 'RegionOne',
        OS_PROJECT_ID: 'p-env',
        OS_INTERFACE: 'public',
      },
      options,
    );
    expect(credentials).toMatchObject({
      password: 'from-env',
      regionName: 'RegionOne',
      projectId: 'p-env',
      interface: 'public',
    });
    // The file's project_name must not survive next to the environment's project id.
    expect(credentials.projectName).toBeUndefined();
  });

  it('understands verify: false, cacert, regions lists, auth_type and dashed keys', () => {
    write(
      path.join(dirs.cwd, 'clouds.yaml'),
      `clouds:
  edge:
    auth_type: v3applicationcredential
    auth:
      auth-url: https://edge:5000/v3
      application_credential_id: ac-9
      application_credential_secret: edge-secret
    regions:
      - name: EdgeA
      - EdgeB
    verify: false
    cacert: /etc/ssl/edge.pem
    api_timeout: 12
`,
    );
    expect(loadCredentials({ OS_CLOUD: 'edge' }, options)).toMatchObject({
      authType: 'v3applicationcredential',
      authUrl: 'https://edge:5000/v3',
      applicationCredentialId: 'ac-9',
      applicationCredentialSecret: 'edge-secret',
      regionName: 'EdgeA',
      insecure: true,
      cacert: '/etc/ssl/edge.pem',
      timeoutSeconds: 12,
    });
  });

  it('says where it looked when there is no clouds.yaml', () => {
    expectCredentialsError(
      () => loadCredentials({ OS_CLOUD: 'lab' }, options),
      /cloud "lab" was requested \(OS_CLOUD\) but no clouds\.yaml was found/,
      new RegExp(path.join(dirs.site, 'clouds.json').replaceAll('.', '\\.')),
    );
  });

  it('names the cloud and file when a value is missing there', () => {
    const file = write(path.join(dirs.cwd, 'clouds.yaml'), CLOUDS_YAML);
    expectCredentialsError(
      () => loadCredentials({ OS_CLOUD: 'lab' }, options),
      /OS_PASSWORD \/ auth\.password is missing/,
      new RegExp(`cloud "lab" in ${file.replaceAll('.', '\\.')}`),
    );
    expectCredentialsError(
      () => loadCredentials({ OS_CLOUD: 'other', OS_PASSWORD: 'p' }, options),
      /auth\.username \(or auth\.user_id\) is missing/,
    );
  });

  it('reports a broken file clearly', () => {
    write(path.join(dirs.cwd, 'clouds.yaml'), 'clouds: [unterminated');
    expectCredentialsError(
      () => loadCredentials({ OS_CLOUD: 'lab' }, options),
      /clouds\.yaml is not valid YAML/,
    );
    write(path.join(dirs.cwd, 'clouds.yaml'), 'clouds:\n  - not-a-map\n');
    expectCredentialsError(
      () => loadCredentials({ OS_CLOUD: 'lab' }, options),
      /does not look like a clouds file/,
    );
  });

  it('refuses vendor profiles it cannot resolve', () => {
    write(
      path.join(dirs.cwd, 'clouds.yaml'),
      'clouds:\n  vexx:\n    profile: vexxhost\n    auth:\n      username: u\n',
    );
    expectCredentialsError(() => loadCredentials({ OS_CLOUD: 'vexx' }, options), /vendor profile/);
  });

  it('takes the cloud from options before OS_CLOUD', () => {
    write(path.join(dirs.cwd, 'clouds.yaml'), CLOUDS_YAML);
    expect(
      loadCredentials({ OS_CLOUD: 'missing', OS_PASSWORD: 'p' }, { ...options, cloud: 'lab' }).authUrl,
    ).toBe('http://10.0.0.1:5000/v3');
  });
});

describe('parseCredentials', () => {
  it('accepts the simulator-style flat object', () => {
    const credentials = parseCredentials({
      authUrl: 'http://127.0.0.1:4000/identity/v3',
      username: 'admin',
      password: 'pw',
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
    });
    expect(credentials).toMatchObject({ authType: 'password', interface: 'public', insecure: false });
  });

  it('is idempotent on its own output', () => {
    const once = loadCredentials(LAB_ENV, options);
    expect(parseCredentials(once)).toEqual(once);
  });

  it('names the bad fields', () => {
    expectCredentialsError(
      () => parseCredentials({ authUrl: 'http://k/v3', username: 'u' }),
      /password is missing/,
      /projectName is missing/,
    );
    expectCredentialsError(() => parseCredentials(null), /invalid OpenStack credentials/);
  });
});
