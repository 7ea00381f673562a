/**
 * The simulator's HTTP front door: one `node:http` server that routes `/identity`, `/compute`,
 * `/image` and `/_sim`, stamps request ids, counts requests, injects faults, authenticates
 * tokens the way keystonemiddleware does and negotiates compute microversions.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlError, type SimControlImpl } from '../control.js';
import type { FaultInjector } from '../faults.js';
import { NovaApiError, errorKeyForStatus, type RequestContext } from '../model.js';
import type { CloudState } from '../state.js';
import type { GlanceService } from './glance.js';
import { headerValue, keystoneError, type KeystoneService } from './keystone.js';
import type { NovaService } from './nova.js';
import type { Router, SimRequest, SimResponse } from './router.js';

type RouteOutcome =
  | {
      kind: 'found';
      template: string;
      invoke: (ctx: RequestContext | null, req: SimRequest) => Promise<SimResponse>;
    }
  | { kind: 'method-not-allowed'; template: string; allowed: string[] }
  | { kind: 'not-found' };

/** Matches in a router whose handlers expect `C` (null for unauthenticated services, a context otherwise). */
function matchRoute<C extends RequestContext | null>(
  router: Router<C>,
  method: string,
  path: string,
): RouteOutcome {
  const match = router.match(method, path);
  if (match.kind !== 'found') return match;
  const { route, params } = match;
  return {
    kind: 'found',
    template: route.template,
    invoke: async (ctx, req) => route.handler(ctx as C, req, params),
  };
}

const MAX_BODY_BYTES = 1024 * 1024;

export interface SimHttpDeps {
  state: CloudState;
  keystone: KeystoneService;
  nova: NovaService;
  glance: GlanceService;
  control: SimControlImpl;
  controlRouter: Router<null>;
  faults: FaultInjector;
  /** Base URL once listening (for WWW-Authenticate). */
  baseUrl: () => string;
}

function parseMinor(version: string): number | null {
  const match = /^(\d+)\.(\d+)$/.exec(version.trim());
  if (!match) return null;
  return match[1] === '2' ? Number(match[2]) : -1;
}

/** The requested compute microversion (minor number), or a Nova error response. */
export function negotiateMicroversion(req: SimRequest, min: number, max: number): number | SimResponse {
  let requested: string | undefined;
  const modern = headerValue(req, 'openstack-api-version');
  if (modern) {
    for (const entry of modern.split(',')) {
      const [service, version] = entry.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version) requested = version;
    }
  }
  requested ??= headerValue(req, 'x-openstack-nova-api-version');
  if (requested === undefined) return min;
  if (requested.trim().toLowerCase() === 'latest') return max;
  const minor = parseMinor(requested);
  if (minor === null) {
    return {
      status: 400,
      body: {
        badRequest: {
          code: 400,
          message: `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`,
        },
      },
    };
  }
  if (minor < min || minor > max) {
    return {
      status: 406,
      headers: versionHeaders(requested.trim()),
      body: {
        computeFault: {
          code: 406,
          message: `Version ${requested.trim()} is not supported by the API. Minimum is 2.${min} and maximum is 2.${max}.`,
        },
      },
    };
  }
  return minor;
}

function versionHeaders(version: string): Record<string, string> {
  return {
    'OpenStack-API-Version': `compute ${version}`,
    'X-OpenStack-Nova-API-Version': version,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}

function novaError(status: number, message: string): SimResponse {
  return { status, body: { [errorKeyForStatus(status)]: { code: status, message } } };
}

const NOT_FOUND_HTML =
  '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>';

type Service = 'identity' | 'compute' | 'image' | 'control' | 'none';

interface Resolved {
  service: Service;
  /** Path below the service prefix. */
  path: string;
  /** Compute: the version document routes (no auth, no microversion). */
  versionDoc: boolean;
}

function resolve(pathname: string): Resolved {
  const take = (prefix: string) => pathname.slice(prefix.length) || '/';
  if (pathname === '/_sim' || pathname.startsWith('/_sim/'))
    return { service: 'control', path: take('/_sim'), versionDoc: false };
  if (pathname === '/identity' || pathname.startsWith('/identity/')) {
    return { service: 'identity', path: take('/identity').replace(/\/+$/, '') || '/', versionDoc: false };
  }
  if (pathname === '/compute' || pathname.startsWith('/compute/')) {
    const rest = take('/compute');
    if (rest === '/' || rest === '/v2.1' || rest === '/v2.1/') {
      return { service: 'compute', path: rest === '/' ? '/' : '/v2.1', versionDoc: true };
    }
    if (rest.startsWith('/v2.1/'))
      return { service: 'compute', path: rest.slice('/v2.1'.length).replace(/\/+$/, ''), versionDoc: false };
    return { service: 'none', path: rest, versionDoc: false };
  }
  if (pathname === '/image' || pathname.startsWith('/image/')) {
    return { service: 'image', path: take('/image').replace(/\/+$/, '') || '/', versionDoc: false };
  }
  return { service: 'none', path: pathname, versionDoc: false };
}

export class SimHttpServer {
  readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();
  private readonly delayTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: SimHttpDeps) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(
            JSON.stringify({
              computeFault: { code: 500, message: `simulator error: ${(err as Error).message}` },
            }),
          );
        }
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolvePromise, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolvePromise(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    for (const timer of this.delayTimers) clearTimeout(timer);
    this.delayTimers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    return new Promise((resolvePromise) => {
      this.server.close(() => resolvePromise());
      this.server.closeAllConnections();
    });
  }

  private readBody(req: IncomingMessage): Promise<string | null> {
    return new Promise((resolvePromise, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          resolvePromise(null);
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = `req-${randomUUID()}`;
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await this.readBody(req);
    if (raw === null) {
      this.send(res, requestId, null, {
        status: 413,
        body: { overLimit: { code: 413, message: 'Request is too large.' } },
      });
      return;
    }
    let body: unknown;
    let malformedBody = false;
    if (raw.trim().length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        malformedBody = true;
      }
    }
    const resolved = resolve(url.pathname);
    const simReq: SimRequest = {
      method,
      path: resolved.path,
      url,
      query: url.searchParams,
      headers: req.headers,
      body,
      malformedBody,
      requestId,
    };

    if (resolved.service === 'control') {
      this.send(res, requestId, null, await this.runControl(simReq));
      return;
    }
    if (resolved.service === 'none') {
      this.count(`${method} ${url.pathname}`, null, 404);
      this.send(res, requestId, null, {
        status: 404,
        text: NOT_FOUND_HTML,
        headers: { 'Content-Type': 'text/html; charset=UTF-8' },
      });
      return;
    }

    const match =
      resolved.service === 'identity'
        ? matchRoute(this.deps.keystone.router, method, simReq.path)
        : resolved.service === 'image'
          ? matchRoute(this.deps.glance.router, method, simReq.path)
          : resolved.versionDoc
            ? matchRoute(this.deps.nova.versionRouter, method, simReq.path)
            : matchRoute(this.deps.nova.router, method, simReq.path);
    const prefix =
      resolved.service === 'compute' ? (resolved.versionDoc ? '/compute' : '') : `/${resolved.service}`;
    const template = match.kind === 'not-found' ? simReq.path : match.template;
    const endpoint = `${method} ${prefix}${template === '/' && prefix ? '' : template}`;
    const actionName =
      match.kind === 'found' &&
      match.template === '/servers/{id}/action' &&
      body &&
      typeof body === 'object' &&
      !Array.isArray(body)
        ? (Object.keys(body)[0] ?? null)
        : null;
    const computeVersion = resolved.service === 'compute' && !resolved.versionDoc;

    const decision = this.deps.faults.decide(endpoint, actionName);
    if (decision.latencyMs > 0) await this.delay(decision.latencyMs);
    if (decision.error === 'timeout') {
      this.count(endpoint, actionName, 0, true);
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (decision.error) {
      this.count(endpoint, actionName, decision.error.status, true);
      const injected =
        resolved.service === 'identity'
          ? keystoneError(decision.error.status, 'Injected Fault', decision.error.message)
          : novaError(decision.error.status, decision.error.message);
      this.send(res, requestId, null, injected);
      return;
    }

    let response: SimResponse;
    let versionEcho: string | null = null;
    try {
      if (match.kind === 'not-found') {
        response = {
          status: 404,
          text: NOT_FOUND_HTML,
          headers: { 'Content-Type': 'text/html; charset=UTF-8' },
        };
      } else if (match.kind === 'method-not-allowed') {
        response = {
          ...novaError(405, 'The method specified is not allowed for this resource.'),
          headers: { Allow: match.allowed.join(', ') },
        };
      } else if (resolved.service === 'identity' || (resolved.service === 'compute' && resolved.versionDoc)) {
        response = await match.invoke(null, simReq);
        if (resolved.versionDoc && simReq.path === '/v2.1') versionEcho = '2.1';
      } else {
        const token = this.deps.keystone.lookup(headerValue(simReq, 'x-auth-token'));
        if (resolved.service === 'image' && simReq.path === '/') {
          response = await match.invoke(null, simReq);
        } else if (!token) {
          response = {
            ...keystoneError(401, 'Unauthorized', 'The request you have made requires authentication.'),
            headers: { 'WWW-Authenticate': `Keystone uri="${this.deps.baseUrl()}/identity"` },
          };
        } else {
          let microversion = 0;
          let versionFailure: SimResponse | null = null;
          if (computeVersion) {
            const settings = this.deps.state.settings;
            const negotiated = negotiateMicroversion(
              simReq,
              parseMinor(settings.min_microversion) ?? 1,
              parseMinor(settings.max_microversion) ?? 93,
            );
            if (typeof negotiated === 'number') {
              microversion = negotiated;
              versionEcho = `2.${negotiated}`;
            } else {
              versionFailure = negotiated;
            }
          }
          if (versionFailure) {
            response = versionFailure;
          } else {
            const ctx: RequestContext = {
              requestId,
              userId: token.userId,
              projectId: token.projectId,
              roles: token.roles,
              isAdmin: token.roles.includes('admin'),
              microversion,
            };
            response = await match.invoke(ctx, simReq);
          }
        }
      }
    } catch (err) {
      if (err instanceof NovaApiError) {
        response = novaError(err.status, err.message);
      } else {
        response = novaError(
          500,
          `Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class '${(err as Error).name}'>: ${(err as Error).message}`,
        );
      }
    }
    this.count(endpoint, actionName, response.status);
    this.send(res, requestId, versionEcho, response);
  }

  private async runControl(req: SimRequest): Promise<SimResponse> {
    if (req.malformedBody) return { status: 400, body: { error: 'request body is not valid JSON' } };
    const match = this.deps.controlRouter.match(req.method, req.path);
    if (match.kind === 'not-found')
      return { status: 404, body: { error: `no control endpoint ${req.method} /_sim${req.path}` } };
    if (match.kind === 'method-not-allowed') {
      return { status: 405, body: { error: `use ${match.allowed.join(' or ')} for /_sim${req.path}` } };
    }
    try {
      return await match.route.handler(null, req, match.params);
    } catch (err) {
      if (err instanceof ControlError) return { status: err.status, body: { error: err.message } };
      throw err;
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolvePromise) => {
      const timer = setTimeout(() => {
        this.delayTimers.delete(timer);
        resolvePromise();
      }, ms);
      this.delayTimers.add(timer);
    });
  }

  private count(endpoint: string, action: string | null, status: number, injected = false): void {
    const c = this.deps.control.requestCounters;
    c.total += 1;
    c.requests[endpoint] = (c.requests[endpoint] ?? 0) + 1;
    if (action) c.actions[action] = (c.actions[action] ?? 0) + 1;
    if (status > 0) c.statuses[String(status)] = (c.statuses[String(status)] ?? 0) + 1;
    if (injected) c.injectedFaults[endpoint] = (c.injectedFaults[endpoint] ?? 0) + 1;
  }

  private send(
    res: ServerResponse,
    requestId: string,
    versionEcho: string | null,
    response: SimResponse,
  ): void {
    const headers: Record<string, string> = {
      'x-openstack-request-id': requestId,
      'x-compute-request-id': requestId,
      Date: new Date(this.deps.state.now()).toUTCString(),
      ...(versionEcho ? versionHeaders(versionEcho) : {}),
      ...(response.headers ?? {}),
    };
    let payload = '';
    if (response.text !== undefined) {
      payload = response.text;
    } else if (response.body !== undefined) {
      payload = JSON.stringify(response.body);
      headers['Content-Type'] ??= 'application/json';
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(response.status, headers);
    res.end(payload);
  }
}
