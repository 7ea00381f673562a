/**
 * A Keystone v3 session: gets a project-scoped token (password or application credential),
 * finds service endpoints in its catalog, renews it before it expires, and re-authenticates
 * once when a service answers 401. Concurrent callers share one authentication request.
 */
import type { Logger } from '../log.js';
import type { OpenStackCredentials } from './credentials.js';
import { CredentialsError, OpenStackError } from './errors.js';
import type { HttpClient, HttpRequest, HttpResponse } from './http.js';
import type { CatalogEntry } from './schemas.js';
import { identityDiscoverySchema, parseResponse, tokenResponseSchema } from './schemas.js';

/** Renew this long before expiry at most; short-lived tokens use 10% of their lifetime instead. */
export const DEFAULT_REFRESH_MARGIN_MS = 60_000;

export type { CatalogEntry };
type CatalogEndpoint = CatalogEntry['endpoints'][number];

export interface TokenState {
  readonly token: string;
  /** Local clock (ms) after which the token is no longer valid. */
  readonly expiresAt: number;
  /** Local clock (ms) from which a new token is fetched before use. */
  readonly renewAt: number;
  readonly catalog: CatalogEntry[];
  readonly projectId: string | null;
  readonly userId: string | null;
}

export interface KeystoneSessionOptions {
  http: HttpClient;
  logger?: Logger;
  /** Injectable clock (ms since epoch) for expiry decisions. */
  now?: () => number;
  refreshMarginMs?: number;
}

/** The Keystone v3 `auth` document for the configured method. Contains secrets: never log it. */
export function buildAuthRequest(credentials: OpenStackCredentials): Record<string, unknown> {
  const userRef = (): Record<string, unknown> => {
    if (credentials.userId !== undefined) return { id: credentials.userId };
    const domain =
      credentials.userDomainId !== undefined
        ? { id: credentials.userDomainId }
        : { name: credentials.userDomainName };
    return { name: credentials.username, domain };
  };
  if (credentials.authType === 'v3applicationcredential') {
    const applicationCredential: Record<string, unknown> =
      credentials.applicationCredentialId !== undefined
        ? { id: credentials.applicationCredentialId, secret: credentials.applicationCredentialSecret }
        : {
            name: credentials.applicationCredentialName,
            secret: credentials.applicationCredentialSecret,
            user: userRef(),
          };
    // An application credential carries its own project scope; Keystone rejects an explicit one.
    return {
      auth: {
        identity: { methods: ['application_credential'], application_credential: applicationCredential },
      },
    };
  }
  const project: Record<string, unknown> =
    credentials.projectId !== undefined
      ? { id: credentials.projectId }
      : {
          name: credentials.projectName,
          domain:
            credentials.projectDomainId !== undefined
              ? { id: credentials.projectDomainId }
              : { name: credentials.projectDomainName },
        };
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { ...userRef(), password: credentials.password } },
      },
      scope: { project },
    },
  };
}

/**
 * Chooses the endpoint of `serviceType` for the configured interface and region. Ambiguity
 * (several regions and none configured) is an error rather than a guess.
 */
export function selectEndpoint(
  catalog: CatalogEntry[],
  serviceType: string,
  endpointInterface: string,
  regionName: string | undefined,
): string {
  const services = catalog.filter((entry) => entry.type === serviceType);
  const regionOf = (endpoint: CatalogEndpoint) => endpoint.region_id ?? endpoint.region ?? null;
  const describeAll = () =>
    services
      .flatMap((entry) =>
        entry.endpoints.map((endpoint) => `${endpoint.interface}@${regionOf(endpoint) ?? '(no region)'}`),
      )
      .join(', ') || 'none';
  if (services.length === 0) {
    const types = [...new Set(catalog.map((entry) => entry.type))].join(', ') || 'nothing';
    throw new CredentialsError(`the Keystone catalog has no "${serviceType}" service (it lists: ${types})`);
  }
  const candidates = services
    .flatMap((entry) => entry.endpoints)
    .filter((endpoint) => endpoint.interface.toLowerCase().replace(/url$/, '') === endpointInterface)
    .filter((endpoint) => regionName === undefined || regionOf(endpoint) === regionName);
  if (candidates.length === 0) {
    throw new CredentialsError(
      `no ${serviceType} endpoint for interface "${endpointInterface}"${regionName ? ` in region "${regionName}"` : ''} (OS_INTERFACE / OS_REGION_NAME); the catalog has: ${describeAll()}`,
    );
  }
  const regions = [...new Set(candidates.map(regionOf))];
  if (regionName === undefined && regions.length > 1) {
    throw new CredentialsError(
      `${serviceType} endpoints exist in several regions (${regions.join(', ')}): set OS_REGION_NAME (or region_name) to choose one`,
    );
  }
  const [first] = candidates;
  return (first as CatalogEndpoint).url.replace(/\/+$/, '');
}

export class KeystoneSession {
  private readonly credentials: OpenStackCredentials;
  private readonly http: HttpClient;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly refreshMarginMs: number;
  private current: TokenState | null = null;
  private pending: Promise<TokenState> | null = null;
  private tokensUrl: Promise<string> | null = null;
  /** How many tokens this session has obtained (tests and metrics). */
  authentications = 0;

  constructor(credentials: OpenStackCredentials, options: KeystoneSessionOptions) {
    this.credentials = credentials;
    this.http = options.http;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  }

  /** A token that is valid now, authenticating first if needed. Concurrent callers share one request. */
  async token(): Promise<TokenState> {
    const current = this.current;
    if (current && this.now() < current.renewAt) return current;
    if (!this.pending) {
      this.pending = this.authenticate().finally(() => {
        this.pending = null;
      });
    }
    try {
      return await this.pending;
    } catch (error) {
      // An early renewal failed (Keystone briefly away), but the token we hold is still valid:
      // keep using it; the next call tries to renew again.
      if (current && this.current === current && this.now() < current.expiresAt) {
        this.logger?.warn(
          { error: error instanceof Error ? error.message : String(error) },
          'token renewal failed; using the current token until it expires',
        );
        return current;
      }
      throw error;
    }
  }

  /** Drops `state` if it is still the current token, so the next call authenticates again. */
  invalidate(state: TokenState): void {
    if (this.current === state) this.current = null;
  }

  async endpoint(serviceType: string): Promise<string> {
    const state = await this.token();
    return selectEndpoint(
      state.catalog,
      serviceType,
      this.credentials.interface,
      this.credentials.regionName,
    );
  }

  /**
   * Sends `request` with the token. A 401 means the token was refused before anything happened,
   * so the request is safe to repeat once with a fresh token, whatever its method.
   */
  async request(request: HttpRequest): Promise<HttpResponse> {
    const state = await this.token();
    try {
      return await this.http.request(withToken(request, state.token));
    } catch (error) {
      if (!(error instanceof OpenStackError) || error.status !== 401) throw error;
      this.logger?.info(
        { operation: request.operation, requestId: error.requestId },
        'token refused (401): authenticating again and retrying once',
      );
      this.invalidate(state);
      const fresh = await this.token();
      return this.http.request(withToken(request, fresh.token));
    }
  }

  private async authenticate(): Promise<TokenState> {
    const url = await this.resolveTokensUrl();
    const requestedAt = this.now();
    const response = await this.http.request({
      operation: 'authenticate',
      method: 'POST',
      url,
      body: buildAuthRequest(this.credentials),
      // Asking for a token twice is harmless, so transient failures may be retried.
      idempotent: true,
    });
    const token = response.headers['x-subject-token'];
    if (!token) {
      throw new OpenStackError({
        kind: 'invalid_response',
        operation: 'authenticate',
        status: response.status,
        detail: 'Keystone answered without an X-Subject-Token header',
        requestId: response.requestId,
        method: 'POST',
        url,
      });
    }
    const body = parseResponse(tokenResponseSchema, response, {
      operation: 'authenticate',
      method: 'POST',
      url,
    });
    const expiresAt = Date.parse(body.token.expires_at);
    // Lifetime from Keystone's own two timestamps, applied to our clock, so a skewed local clock
    // neither renews every request nor uses an expired token.
    const issuedAt = body.token.issued_at
      ? Date.parse(body.token.issued_at)
      : (response.date?.getTime() ?? requestedAt);
    const lifetime = Math.max(0, expiresAt - issuedAt);
    const localExpiry = requestedAt + lifetime;
    const margin = Math.min(this.refreshMarginMs, lifetime * 0.1);
    const state: TokenState = {
      token,
      expiresAt: localExpiry,
      renewAt: localExpiry - margin,
      catalog: body.token.catalog,
      projectId: body.token.project?.id ?? null,
      userId: body.token.user?.id ?? null,
    };
    this.current = state;
    this.authentications += 1;
    this.logger?.debug(
      {
        method: this.credentials.authType,
        projectId: state.projectId,
        userId: state.userId,
        lifetimeSeconds: Math.round(lifetime / 1000),
        requestId: response.requestId,
      },
      'authenticated with Keystone',
    );
    return state;
  }

  /** `<auth_url>/auth/tokens`, discovering the v3 URL when OS_AUTH_URL is the unversioned root. */
  private resolveTokensUrl(): Promise<string> {
    if (!this.tokensUrl) {
      this.tokensUrl = this.discoverV3().catch((error: unknown) => {
        this.tokensUrl = null;
        throw error;
      });
    }
    return this.tokensUrl;
  }

  private async discoverV3(): Promise<string> {
    const authUrl = this.credentials.authUrl.replace(/\/+$/, '');
    if (/\/v3(\.\d+)?$/.test(authUrl)) return `${authUrl}/auth/tokens`;
    const response = await this.http.request({
      operation: 'discoverIdentity',
      method: 'GET',
      url: authUrl,
      acceptStatus: (status) => status === 300,
    });
    const versions = parseResponse(identityDiscoverySchema, response, {
      operation: 'discoverIdentity',
      method: 'GET',
      url: authUrl,
    });
    const v3 = versions.find((version) => /^v3(\.|$)/.test(version.id));
    const self = v3?.links.find((link) => link.rel === 'self')?.href;
    if (!v3 || !self) {
      throw new CredentialsError(
        `OS_AUTH_URL ${authUrl} does not offer Keystone v3 (versions: ${versions.map((v) => v.id).join(', ') || 'none'})`,
      );
    }
    return `${self.replace(/\/+$/, '')}/auth/tokens`;
  }
}

function withToken(request: HttpRequest, token: string): HttpRequest {
  return { ...request, headers: { ...request.headers, 'X-Auth-Token': token } };
}
