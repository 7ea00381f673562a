/**
 * Secrets never reach the logs: capture everything the client logs at the most verbose level
 * (and the errors it throws, logged the way the app logs them) through a pino destination
 * stream, across successful and failed authentication, requests, re-authentication and
 * failures, then search the output for every secret involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createComputeClient } from '../../src/nova/compute-client.js';
import {
  FAKE_APP_CREDENTIAL,
  novaServer,
  startFakeOpenStack,
  type FakeOpenStack,
} from './helpers/fake-openstack.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

async function fakeCloud(): Promise<FakeOpenStack> {
  const fake = await startFakeOpenStack({ maxVersion: '2.13' });
  cleanups.push(() => fake.close());
  fake.on('GET', '/os-services', () => ({ status: 200, body: { services: [] } }));
  fake.sequence('GET', '/servers/detail', [
    { status: 503, body: { computeFault: { code: 503, message: 'try later' } } },
    { status: 200, body: { servers: [novaServer({ id: 's1', flavor: { id: '1', links: [] } }, '2.13')] } },
  ]);
  fake.on('GET', '/flavors/1', () => ({
    status: 200,
    body: { flavor: { id: '1', name: 'tiny', vcpus: 1, ram: 64, disk: 1 } },
  }));
  fake.on('GET', '/flavors/1/os-extra_specs', () => ({ status: 200, body: { extra_specs: {} } }));
  fake.on('GET', '/os-server-groups', () => ({ status: 200, body: { server_groups: [] } }));
  fake.on('POST', '/servers/s1/action', (request) =>
    'evacuate' in (request.body as object)
      ? { status: 200, body: { adminPass: 'evacuated-admin-password-XYZ' } }
      : {
          status: 409,
          body: {
            conflictingRequest: {
              code: 409,
              message: "Cannot 'os-migrateLive' instance s1 while it is in task_state migrating",
            },
          },
        },
  );
  return fake;
}

describe('no secret reaches the logs', () => {
  it('password auth, retries, re-auth, refusals and network failures', async () => {
    const fake = await fakeCloud();
    const { logger, lines } = capture();
    const client = createComputeClient(fake.credentials, { logger, sleep: async () => {}, timeoutMs: 2000 });
    cleanups.push(() => client.close());

    await client.listComputeServices();
    fake.revokeAllTokens();
    await client.listServersOnHost('compute1');
    await client.evacuate('s1');
    const conflict = await client.liveMigrate('s1').catch((error: unknown) => error);
    logger.error({ err: conflict }, 'live migration refused');

    const wrong = createComputeClient(
      { ...fake.credentials, password: 'wrong-password-ABC123' },
      { logger, sleep: async () => {} },
    );
    cleanups.push(() => wrong.close());
    logger.error({ err: await wrong.listComputeServices().catch((error: unknown) => error) }, 'auth failed');

    const url = fake.url;
    await fake.close();
    logger.error({ err: await client.liveMigrate('s1').catch((error: unknown) => error) }, 'network failure');

    const output = lines.join('');
    expect(fake.issuedTokens.length).toBeGreaterThanOrEqual(2);
    expect(output).toContain('"msg":"OpenStack request"');
    expect(output).toContain('"requestId":"req-');
    expect(output).toContain('"durationMs"');
    expect(output).toContain('retrying OpenStack request');
    expect(output).toContain('token refused (401)');
    expect(output).toContain('"type":"OpenStackError"');
    expect(output).toContain(url.replace('http://', ''));
    for (const secret of [
      fake.credentials.password,
      'wrong-password-ABC123',
      'evacuated-admin-password-XYZ',
      ...fake.issuedTokens,
    ]) {
      expect(output).not.toContain(secret);
    }
    // Also the token's distinctive part alone, in case something logs a prefix or suffix.
    for (const token of fake.issuedTokens) expect(output).not.toContain(token.slice(-36));
  });

  it('application credential auth, including a refused secret', async () => {
    const fake = await fakeCloud();
    const { logger, lines } = capture();
    const base = {
      authUrl: fake.authUrl,
      authType: 'v3applicationcredential' as const,
      applicationCredentialId: FAKE_APP_CREDENTIAL.id,
    };
    const client = createComputeClient(
      { ...base, applicationCredentialSecret: FAKE_APP_CREDENTIAL.secret },
      { logger },
    );
    cleanups.push(() => client.close());
    await client.listComputeServices();
    const refused = createComputeClient(
      { ...base, applicationCredentialSecret: 'refused-secret-QWERTY' },
      { logger },
    );
    cleanups.push(() => refused.close());
    const error = await refused.listComputeServices().catch((caught: unknown) => caught);
    logger.error({ err: error }, 'auth failed');
    expect(error).toMatchObject({ kind: 'unauthorized', operation: 'authenticate' });

    const output = lines.join('');
    expect(output).toContain('authenticated with Keystone');
    for (const secret of [FAKE_APP_CREDENTIAL.secret, 'refused-secret-QWERTY', ...fake.issuedTokens]) {
      expect(output).not.toContain(secret);
    }
  });

  it('errors carry no request bodies or headers when serialised', async () => {
    const fake = await fakeCloud();
    const client = createComputeClient(
      { ...fake.credentials, password: 'serialised-password-999' },
      { sleep: async () => {} },
    );
    cleanups.push(() => client.close());
    const error = await client.listComputeServices().catch((caught: unknown) => caught);
    const serialised =
      JSON.stringify(error, Object.getOwnPropertyNames(error as object)) + String((error as Error).stack);
    const cause = (error as Error).cause;
    expect(serialised + JSON.stringify(cause ?? null)).not.toContain('serialised-password-999');
  });
});
