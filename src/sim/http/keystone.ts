/**
 * Keystone v3, the parts clients use: version discovery, password and application-credential
 * authentication with a service catalog, token validation and revocation.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ProjectRecord, TokenRecord, UserRecord } from '../model.js';
import { keystoneTime } from '../model.js';
import { stableHexId } from '../scenario.js';
import type { CloudState } from '../state.js';
import { Router, type SimRequest, type SimResponse } from './router.js';

export interface Endpoints {
  base: string;
  identity: string;
  compute: string;
  image: string;
}

export function keystoneError(status: number, title: string, message: string): SimResponse {
  return { status, body: { error: { code: status, title, message } } };
}

const unauthorized = (message = 'The request you have made requires authentication.') =>
  keystoneError(401, 'Unauthorized', message);

const domainRef = z.object({ id: z.string().optional(), name: z.string().optional() }).optional();

const authBodySchema = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).min(1),
      password: z
        .object({
          user: z.object({
            id: z.string().optional(),
            name: z.string().optional(),
            domain: domainRef,
            password: z.string(),
          }),
        })
        .optional(),
      application_credential: z
        .object({
          id: z.string().optional(),
          name: z.string().optional(),
          secret: z.string(),
          user: z
            .object({ id: z.string().optional(), name: z.string().optional(), domain: domainRef })
            .optional(),
        })
        .optional(),
      token: z.object({ id: z.string() }).optional(),
    }),
    scope: z
      .union([
        z.literal('unscoped'),
        z.object({
          project: z
            .object({ id: z.string().optional(), name: z.string().optional(), domain: domainRef })
            .optional(),
          system: z.unknown().optional(),
          domain: z.unknown().optional(),
        }),
      ])
      .optional(),
  }),
});

function domainMatches(
  ref: { id?: string | undefined; name?: string | undefined } | undefined,
  domainId: string,
  domainName: string,
): boolean {
  if (!ref) return false;
  if (ref.id !== undefined) return ref.id === domainId;
  if (ref.name !== undefined) return ref.name === domainName;
  return false;
}

export class KeystoneService {
  readonly router = new Router<null>();

  constructor(
    private readonly state: CloudState,
    private readonly endpoints: () => Endpoints,
  ) {
    this.router
      .add('GET', '/', () => this.versions())
      .add('GET', '/v3', () => this.version())
      .add('POST', '/v3/auth/tokens', (_c, req) => this.issue(req))
      .add('GET', '/v3/auth/tokens', (_c, req) => this.validate(req))
      .add('HEAD', '/v3/auth/tokens', (_c, req) => ({ ...this.validate(req), body: undefined }))
      .add('DELETE', '/v3/auth/tokens', (_c, req) => this.revoke(req));
  }

  private versionEntry() {
    return {
      id: 'v3.14',
      status: 'stable',
      updated: '2020-04-07T00:00:00Z',
      links: [{ rel: 'self', href: `${this.endpoints().identity}/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
    };
  }

  private versions(): SimResponse {
    return { status: 300, body: { versions: { values: [this.versionEntry()] } } };
  }

  private version(): SimResponse {
    return { status: 200, body: { version: this.versionEntry() } };
  }

  /** The live token for `value`, or null if unknown, revoked or expired. */
  lookup(value: string | undefined): TokenRecord | null {
    if (!value) return null;
    const token = this.state.tokens.get(value);
    if (!token) return null;
    if (token.expiresMs <= this.state.now()) return null;
    return token;
  }

  private findUser(ref: {
    id?: string | undefined;
    name?: string | undefined;
    domain?: { id?: string | undefined; name?: string | undefined } | undefined;
  }): UserRecord | undefined {
    if (ref.id !== undefined) return this.state.users.get(ref.id);
    if (ref.name === undefined) return undefined;
    return [...this.state.users.values()].find(
      (u) => u.name === ref.name && domainMatches(ref.domain, u.domainId, u.domainName),
    );
  }

  private issue(req: SimRequest): SimResponse {
    if (req.malformedBody)
      return keystoneError(400, 'Bad Request', 'The request body could not be parsed as JSON.');
    const parsed = authBodySchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return keystoneError(
        400,
        'Bad Request',
        `Invalid input for field '${issue?.path.join('/') ?? 'auth'}': ${issue?.message ?? 'invalid'}`,
      );
    }
    const { identity, scope } = parsed.data.auth;
    let user: UserRecord | undefined;
    let appCredential: { id: string; name: string } | null = null;
    const method = identity.methods[0];
    if (method === 'password') {
      if (!identity.password)
        return keystoneError(400, 'Bad Request', "Invalid input for field 'identity/password': missing");
      user = this.findUser(identity.password.user);
      if (!user || user.password !== identity.password.user.password) return unauthorized();
    } else if (method === 'application_credential') {
      const cred = identity.application_credential;
      if (!cred)
        return keystoneError(
          400,
          'Bad Request',
          "Invalid input for field 'identity/application_credential': missing",
        );
      for (const candidate of this.state.users.values()) {
        const match = candidate.applicationCredentials.find((c) =>
          cred.id !== undefined
            ? c.id === cred.id
            : c.name === cred.name && cred.user !== undefined && this.findUser(cred.user) === candidate,
        );
        if (match) {
          user = candidate;
          appCredential = match.secret === cred.secret ? { id: match.id, name: match.name } : null;
          break;
        }
      }
      if (!user || !appCredential) return unauthorized();
      if (scope !== undefined) {
        return unauthorized('Application credentials cannot request a scope.');
      }
    } else if (method === 'token') {
      const existing = this.lookup(identity.token?.id);
      if (!existing)
        return keystoneError(404, 'Not Found', `Could not find token: ${identity.token?.id ?? ''}.`);
      user = this.state.users.get(existing.userId);
      if (!user) return unauthorized();
    } else {
      return unauthorized(`Attempted to authenticate with an unsupported method.`);
    }

    let project: ProjectRecord | undefined;
    if (scope && scope !== 'unscoped' && scope.project) {
      const ref = scope.project;
      project =
        ref.id !== undefined
          ? this.state.projects.get(ref.id)
          : [...this.state.projects.values()].find(
              (p) => p.name === ref.name && domainMatches(ref.domain, p.domainId, p.domainName),
            );
      if (!project) {
        return unauthorized(`Could not find project: ${ref.id ?? ref.name ?? ''}.`);
      }
      if (!user.projectIds.includes(project.id)) {
        return unauthorized(`User ${user.id} has no access to project ${project.id}`);
      }
    } else {
      project = this.state.projects.get(user.defaultProjectId);
    }
    if (!project) return unauthorized('No project to scope the token to.');

    const now = this.state.now();
    const token: TokenRecord = {
      token: `gAAAAA${randomBytes(60).toString('base64url')}`,
      userId: user.id,
      projectId: project.id,
      roles: user.roles,
      methods: [method],
      issuedMs: now,
      expiresMs: now + this.state.tokenTtlSeconds * 1000,
      applicationCredentialId: appCredential?.id ?? null,
    };
    this.state.tokens.set(token.token, token);
    return {
      status: 201,
      headers: { 'X-Subject-Token': token.token },
      body: this.tokenBody(token, appCredential),
    };
  }

  private validate(req: SimRequest): SimResponse {
    const caller = this.lookup(headerValue(req, 'x-auth-token'));
    if (!caller) return unauthorized();
    const subjectValue = headerValue(req, 'x-subject-token');
    const subject = this.lookup(subjectValue);
    if (!subject) return keystoneError(404, 'Not Found', `Could not find token: ${subjectValue ?? ''}.`);
    const user = this.state.users.get(subject.userId);
    const cred = user?.applicationCredentials.find((c) => c.id === subject.applicationCredentialId);
    return {
      status: 200,
      headers: { 'X-Subject-Token': subject.token },
      body: this.tokenBody(subject, cred ? { id: cred.id, name: cred.name } : null),
    };
  }

  private revoke(req: SimRequest): SimResponse {
    const caller = this.lookup(headerValue(req, 'x-auth-token'));
    if (!caller) return unauthorized();
    const subjectValue = headerValue(req, 'x-subject-token') ?? '';
    if (!this.state.tokens.delete(subjectValue))
      return keystoneError(404, 'Not Found', `Could not find token: ${subjectValue}.`);
    return { status: 204 };
  }

  private tokenBody(token: TokenRecord, appCredential: { id: string; name: string } | null) {
    const user = this.state.users.get(token.userId);
    const project = this.state.projects.get(token.projectId);
    const endpoints = this.endpoints();
    const region = this.state.settings.region;
    const service = (type: string, name: string, url: string) => ({
      endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
        id: stableHexId('endpoint', `${type}/${iface}`),
        interface: iface,
        region_id: region,
        url,
        region,
      })),
      id: stableHexId('service', type),
      type,
      name,
    });
    return {
      token: {
        methods: token.methods,
        user: {
          domain: { id: user?.domainId ?? 'default', name: user?.domainName ?? 'Default' },
          id: token.userId,
          name: user?.name ?? '',
          password_expires_at: null,
        },
        audit_ids: [randomBytes(16).toString('base64url').slice(0, 22)],
        expires_at: keystoneTime(token.expiresMs),
        issued_at: keystoneTime(token.issuedMs),
        project: {
          domain: { id: project?.domainId ?? 'default', name: project?.domainName ?? 'Default' },
          id: token.projectId,
          name: project?.name ?? '',
        },
        is_domain: false,
        roles: token.roles.map((name) => ({ id: stableHexId('role', name), name })),
        ...(appCredential
          ? { application_credential: { id: appCredential.id, name: appCredential.name, restricted: true } }
          : {}),
        catalog: [
          service('identity', 'keystone', endpoints.identity),
          service('compute', 'nova', endpoints.compute),
          service('image', 'glance', endpoints.image),
        ],
      },
    };
  }
}

export function headerValue(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
