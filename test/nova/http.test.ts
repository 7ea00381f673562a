import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenStackError } from '../../src/nova/errors.js';
import {
  HttpClient,
  extractServiceMessage,
  redactUrl,
  retryDelayMs,
  type HttpClientOptions,
} from '../../src/nova/http.js';

type Step =
  { status: number; body?: string; headers?: Record<string, string> } | 'reset' | 'hang' | 'trickle';

interface ScriptedServer {
  url: string;
  hits: { method: string; url: string }[];
  close(): Promise<void>;
}

const openServers: ScriptedServer[] = [];
const openClients: HttpClient[] = [];

/** A loopback server answering each request with the next step of the script (the last repeats). */
async function scripted(
  steps: Step[],
  create: typeof http.createServer = http.createServer,
  tls?: object,
): Promise<ScriptedServer> {
  const hits: { method: string; url: string }[] = [];
  const hanging: http.ServerResponse[] = [];
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    request.resume();
    request.on('end', () => {
      const step = steps[Math.min(hits.length, steps.length - 1)] as Step;
      hits.push({ method: request.method ?? '', url: request.url ?? '' });
      if (step === 'reset') return request.socket.destroy();
      if (step === 'hang') return void hanging.push(response);
      if (step === 'trickle') {
        // Headers at once, then a byte every 50 ms: never idle, never finished.
        response.writeHead(200, { 'Content-Type': 'application/json' });
        const timer = setInterval(() => response.write(' '), 50);
        response.on('close', () => clearInterval(timer));
        return void hanging.push(response);
      }
      response.writeHead(step.status, { 'Content-Type': 'application/json', ...step.headers });
      response.end(step.body ?? '');
    });
  };
  const server = tls ? https.createServer(tls, handler) : create(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = tls ? 'https' : 'http';
  const result: ScriptedServer = {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  openServers.push(result);
  return result;
}

function client(options: HttpClientOptions = {}): { http: HttpClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const instance = new HttpClient({
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  openClients.push(instance);
  return { http: instance, sleeps };
}

async function failure(promise: Promise<unknown>): Promise<OpenStackError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OpenStackError);
    return error as OpenStackError;
  }
  throw new Error('expected the request to fail');
}

afterEach(async () => {
  for (const instance of openClients.splice(0)) instance.close();
  for (const server of openServers.splice(0)) await server.close();
});

const NOVA_409 = JSON.stringify({
  conflictingRequest: {
    code: 409,
    message: "Cannot 'os-migrateLive' instance 6a1c while it is in task_state rebuilding",
  },
});

describe('retry policy', () => {
  it('retries a GET after 503s with bounded, jittered backoff', async () => {
    const server = await scripted([{ status: 503 }, { status: 503 }, { status: 200, body: '{"ok": true}' }]);
    const { http: h, sleeps } = client({ retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 } });
    const counter = { count: 0 };
    const response = await h.request({ operation: 'probe', method: 'GET', url: `${server.url}/x`, counter });
    expect(response.body).toEqual({ ok: true });
    expect(server.hits).toHaveLength(3);
    expect(counter.count).toBe(3);
    // random() = 0.5: half of 100·2^0, then half of 100·2^1.
    expect(sleeps).toEqual([50, 100]);
  });

  it('gives up after the configured attempts with the last status', async () => {
    const server = await scripted([{ status: 504, body: '' }]);
    const { http: h, sleeps } = client({ retry: { attempts: 3 } });
    const error = await failure(
      h.request({ operation: 'listThings', method: 'GET', url: `${server.url}/x` }),
    );
    expect(error).toMatchObject({ kind: 'server', status: 504, operation: 'listThings' });
    expect(error.transient).toBe(true);
    expect(server.hits).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it.each(['POST', 'PUT', 'DELETE'] as const)('never re-sends a %s after a 503', async (method) => {
    const server = await scripted([
      { status: 503, body: '{"computeFault": {"code": 503, "message": "busy"}}' },
      { status: 202 },
    ]);
    const { http: h, sleeps } = client();
    const error = await failure(
      h.request({ operation: 'liveMigrate', method, url: `${server.url}/a`, body: {} }),
    );
    expect(error).toMatchObject({ kind: 'server', status: 503, serviceMessage: 'busy', method });
    expect(server.hits).toHaveLength(1);
    expect(sleeps).toHaveLength(0);
  });

  it('does not retry client errors', async () => {
    const server = await scripted([{ status: 400, body: '{"badRequest": {"code": 400, "message": "no"}}' }]);
    const { http: h } = client();
    await failure(h.request({ operation: 'x', method: 'GET', url: server.url }));
    expect(server.hits).toHaveLength(1);
  });

  it('retries a GET after a connection reset', async () => {
    const server = await scripted(['reset', { status: 200, body: '[]' }]);
    const { http: h } = client();
    const response = await h.request({ operation: 'x', method: 'GET', url: server.url });
    expect(response.body).toEqual([]);
    expect(server.hits).toHaveLength(2);
  });

  it('turns a reset during a POST into a network error without re-sending', async () => {
    const server = await scripted(['reset', { status: 202 }]);
    const { http: h } = client();
    const error = await failure(
      h.request({
        operation: 'evacuate',
        method: 'POST',
        url: `${server.url}/s/action`,
        body: { evacuate: {} },
      }),
    );
    expect(error.kind).toBe('network');
    expect(error.message).toMatch(/^evacuate failed: /);
    expect(error.status).toBeNull();
    expect(server.hits).toHaveLength(1);
  });

  it('times out a GET that never answers, retrying it within bounds', async () => {
    const server = await scripted(['hang']);
    const { http: h, sleeps } = client({ timeoutMs: 150, retry: { attempts: 2 } });
    const error = await failure(h.request({ operation: 'slow', method: 'GET', url: server.url }));
    expect(error).toMatchObject({ kind: 'timeout', detail: 'no answer within 150 ms' });
    expect(error.message).toBe('slow failed: no answer within 150 ms');
    expect(server.hits).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it('bounds the whole exchange, not only idle time', async () => {
    const server = await scripted(['trickle']);
    const { http: h } = client({ timeoutMs: 300, retry: { attempts: 1 } });
    const started = Date.now();
    const error = await failure(h.request({ operation: 'slowBody', method: 'GET', url: server.url }));
    expect(error.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('times out a POST once and leaves the decision to the caller', async () => {
    const server = await scripted(['hang']);
    const { http: h } = client({ timeoutMs: 150 });
    const error = await failure(
      h.request({ operation: 'liveMigrate', method: 'POST', url: server.url, body: {} }),
    );
    expect(error.kind).toBe('timeout');
    expect(error.transient).toBe(true);
    expect(server.hits).toHaveLength(1);
  });

  it('reports connection refused as a network error after retrying', async () => {
    const server = await scripted([{ status: 200 }]);
    const url = server.url;
    await server.close();
    openServers.splice(openServers.indexOf(server), 1);
    const { http: h, sleeps } = client({ retry: { attempts: 2 } });
    const error = await failure(h.request({ operation: 'x', method: 'GET', url }));
    expect(error.kind).toBe('network');
    expect(error.detail).toMatch(/ECONNREFUSED/);
    expect(sleeps).toHaveLength(1);
  });

  it('honours Retry-After, capped by the policy', async () => {
    const server = await scripted([
      { status: 503, headers: { 'Retry-After': '3' } },
      { status: 200, body: '{}' },
    ]);
    const { http: h, sleeps } = client({ retry: { maxDelayMs: 2000 } });
    await h.request({ operation: 'x', method: 'GET', url: server.url });
    expect(sleeps).toEqual([2000]);
  });

  it('computes full-jitter exponential delays under the cap', () => {
    const policy = { attempts: 10, baseDelayMs: 500, maxDelayMs: 8000 };
    expect(retryDelayMs(1, policy, () => 0.999)).toBe(499);
    expect(retryDelayMs(3, policy, () => 0.999)).toBe(1998);
    expect(retryDelayMs(9, policy, () => 0.999)).toBe(7992);
    expect(retryDelayMs(9, policy, () => 0)).toBe(0);
  });

  it('validates its own options', () => {
    expect(() => new HttpClient({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
    expect(() => new HttpClient({ retry: { attempts: 0 } })).toThrow(
      /retry\.attempts must be an integer >= 1/,
    );
  });
});

describe('responses and errors', () => {
  it('carries Nova’s message, status and request id', async () => {
    const server = await scripted([
      {
        status: 409,
        body: NOVA_409,
        headers: { 'x-openstack-request-id': 'req-11111111-2222-3333-4444-555555555555' },
      },
    ]);
    const { http: h } = client();
    const error = await failure(
      h.request({
        operation: 'liveMigrate',
        method: 'POST',
        url: `${server.url}/v2.1/servers/6a1c/action?x=1`,
        body: {},
      }),
    );
    expect(error).toMatchObject({
      kind: 'conflict',
      status: 409,
      operation: 'liveMigrate',
      serviceMessage: "Cannot 'os-migrateLive' instance 6a1c while it is in task_state rebuilding",
      requestId: 'req-11111111-2222-3333-4444-555555555555',
      method: 'POST',
      url: `${server.url}/v2.1/servers/6a1c/action?x=1`,
    });
    expect(error.message).toBe(
      "liveMigrate failed (HTTP 409): Cannot 'os-migrateLive' instance 6a1c while it is in task_state rebuilding",
    );
  });

  it('uses x-compute-request-id when that is the only id', async () => {
    const server = await scripted([
      {
        status: 404,
        body: '{"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}',
        headers: { 'x-compute-request-id': 'req-abc' },
      },
    ]);
    const { http: h } = client();
    const error = await failure(h.request({ operation: 'getServer', method: 'GET', url: server.url }));
    expect(error).toMatchObject({
      kind: 'not_found',
      requestId: 'req-abc',
      serviceMessage: 'Instance x could not be found.',
    });
  });

  it.each([
    [
      { badRequest: { code: 400, message: 'Compute service of compute1 is still in use.' } },
      'Compute service of compute1 is still in use.',
    ],
    [
      {
        error: {
          code: 401,
          title: 'Unauthorized',
          message: 'The request you have made requires authentication.',
        },
      },
      'The request you have made requires authentication.',
    ],
    [{ computeFault: { code: 500, message: 'Unexpected API Error.' } }, 'Unexpected API Error.'],
    [
      {
        forbidden: {
          code: 403,
          message: "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
        },
      },
      "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
    ],
    [
      { errors: [{ status: 409, title: 'Conflict', detail: 'resource provider generation conflict' }] },
      'resource provider generation conflict',
    ],
    [{ message: 'plain message' }, 'plain message'],
    [{ a: 1, b: 2 }, null],
    [[1, 2], null],
  ])('extracts the service message from %j', (body, expected) => {
    expect(extractServiceMessage(body)).toBe(expected);
  });

  it('summarises an HTML error page from a proxy', async () => {
    const server = await scripted([
      {
        status: 502,
        body: '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>',
        headers: { 'Content-Type': 'text/html' },
      },
    ]);
    const { http: h } = client({ retry: { attempts: 1 } });
    const error = await failure(h.request({ operation: 'x', method: 'GET', url: server.url }));
    expect(error).toMatchObject({ kind: 'server', status: 502, serviceMessage: '502 Bad Gateway nginx' });
  });

  it('reports an error status with an empty body by its kind', async () => {
    const server = await scripted([{ status: 500 }]);
    const { http: h } = client();
    const error = await failure(h.request({ operation: 'confirmResize', method: 'POST', url: server.url }));
    expect(error.message).toBe('confirmResize failed (HTTP 500): server');
  });

  it('accepts an empty 200 body (evacuate at 2.14+) without parsing it', async () => {
    const server = await scripted([{ status: 200, body: '', headers: { 'Content-Length': '0' } }]);
    const { http: h } = client();
    const response = await h.request({
      operation: 'evacuate',
      method: 'POST',
      url: server.url,
      body: { evacuate: {} },
    });
    expect(response.status).toBe(200);
    expect(response.body).toBeNull();
  });

  it('calls a non-JSON success body an invalid response, unless the body is ignored', async () => {
    const server = await scripted([{ status: 200, body: 'not json' }]);
    const { http: h } = client();
    const error = await failure(h.request({ operation: 'listServers', method: 'GET', url: server.url }));
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toMatch(/^listServers failed \(HTTP 200\): the response body is not JSON/);
    const ignored = await h.request({
      operation: 'evacuate',
      method: 'POST',
      url: server.url,
      ignoreBody: true,
    });
    expect(ignored.body).toBeNull();
  });

  it('reads the Date header and lower-cases header names', async () => {
    const server = await scripted([{ status: 200, body: '{}', headers: { 'X-Subject-Token': 'abc' } }]);
    const { http: h } = client();
    const response = await h.request({ operation: 'x', method: 'GET', url: server.url });
    expect(response.headers['x-subject-token']).toBe('abc');
    expect(response.date).toBeInstanceOf(Date);
    expect(Math.abs((response.date as Date).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('masks secret-looking query values in URLs', () => {
    expect(redactUrl('http://u:p@h/x?token=abc&host=h1&password=pw&marker=m')).toBe(
      'http://h/x?token=***&host=h1&password=***&marker=m',
    );
  });
});

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('TLS settings (needs the openssl CLI to make a throwaway certificate)', () => {
  it('fails clearly on an untrusted certificate, and works with OS_CACERT or OS_INSECURE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nova-tls-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      const certFile = path.join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          keyFile,
          '-out',
          certFile,
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const server = await scripted([{ status: 200, body: '{"ok": 1}' }], http.createServer, {
        key: readFileSync(keyFile),
        cert: readFileSync(certFile),
      });
      const untrusted = client({ retry: { attempts: 3 } });
      const error = await failure(untrusted.http.request({ operation: 'x', method: 'GET', url: server.url }));
      expect(error.kind).toBe('network');
      expect(error.detail).toMatch(/TLS failure .*set OS_CACERT/);
      expect(untrusted.sleeps).toHaveLength(0);

      const trusted = client({ tls: { cacert: certFile } });
      expect((await trusted.http.request({ operation: 'x', method: 'GET', url: server.url })).body).toEqual({
        ok: 1,
      });
      const insecure = client({ tls: { insecure: true } });
      expect((await insecure.http.request({ operation: 'x', method: 'GET', url: server.url })).body).toEqual({
        ok: 1,
      });
      expect(() => new HttpClient({ tls: { cacert: path.join(dir, 'missing.pem') } })).toThrow(
        /OS_CACERT file .*missing\.pem cannot be read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
