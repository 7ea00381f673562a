/**
 * The one place that talks HTTP to OpenStack. It owns timeouts, TLS settings, the retry policy
 * (idempotent requests only), request logging, and turning every failure into an
 * `OpenStackError` that carries the status, the service's own message and the request id.
 *
 * Secrets never leave this module in errors or logs: axios errors (whose config holds the request
 * body and the X-Auth-Token header) are replaced by plain errors before they are attached as a
 * cause, and log lines carry only method, path, status, timing and request id.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from '../log.js';
import { CredentialsError, OpenStackError, kindForStatus } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RetryPolicy {
  /** Total tries of an idempotent request, first one included. */
  attempts: number;
  /** Backoff cap for the first retry; doubles with every further retry. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface TlsOptions {
  /** Path of a PEM bundle to trust (OS_CACERT). */
  cacert?: string;
  /** Skip certificate verification (OS_INSECURE). */
  insecure?: boolean;
  /** Client certificate and key paths (OS_CERT, OS_KEY). */
  cert?: string;
  key?: string;
}

export interface HttpClientOptions {
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Injectable for tests: how to wait between retries. */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests: jitter source in [0, 1). */
  random?: () => number;
  logger?: Logger;
  tls?: TlsOptions;
  userAgent?: string;
}

/** Counts the HTTP exchanges an operation made (retries included). */
export interface RequestCounter {
  count: number;
}

export interface HttpRequest {
  /** What the caller was doing, e.g. "listServersOnHost"; named in errors and logs. */
  operation: string;
  method: HttpMethod;
  /** Absolute URL. */
  url: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  body?: unknown;
  /** May be re-sent after a transient failure. Default: GET only. */
  idempotent?: boolean;
  /** Statuses below 400 are success; add others here (e.g. 300 from a version document). */
  acceptStatus?: (status: number) => boolean;
  /** Success is the status alone; the body is not parsed (actions, whose bodies vary by version). */
  ignoreBody?: boolean;
  counter?: RequestCounter;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON, or null for an empty body. */
  body: unknown;
  requestId: string | null;
  /** The server's `Date` header, when it sent one. */
  date: Date | null;
}

const TRANSIENT_STATUSES = new Set([502, 503, 504]);

/** What the retry loop needs to know about a failure beyond the public error fields. */
interface RetryHints {
  /** False for failures a resend cannot fix (e.g. a TLS certificate problem). */
  retryable?: boolean;
  /** From a Retry-After header. */
  retryAfterMs?: number;
}
const retryHints = new WeakMap<OpenStackError, RetryHints>();

// ERR_CANCELED: the overall deadline below aborted the request (nothing else cancels here).
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ERR_CANCELED']);
const TLS_CODE_PATTERN = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

const SECRET_QUERY_PATTERN = /token|password|secret|passwd|signature|credential|key/i;

/** Full-jitter exponential backoff: a random delay up to base·2^(retry-1), capped. */
export function retryDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** The URL as it may appear in errors: query values that look secret are masked. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.split('?')[0] ?? url;
  }
  parsed.username = '';
  parsed.password = '';
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_QUERY_PATTERN.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textField(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/**
 * The service's own words from an error body: Keystone's `{"error": {"message"}}`, Nova's
 * single-key `{"conflictingRequest": {"message"}}` family, placement's `{"errors": [{"detail"}]}`,
 * a bare `{"message"}`, or a short plain-text body (e.g. from a proxy).
 */
export function extractServiceMessage(body: unknown, rawText?: string): string | null {
  if (isRecord(body)) {
    const direct = textField(body.message) ?? textField(body.detail) ?? textField(body.title);
    if (direct) return direct;
    if (Array.isArray(body.errors)) {
      const first: unknown = body.errors[0];
      if (isRecord(first)) {
        const text = textField(first.detail) ?? textField(first.title) ?? textField(first.message);
        if (text) return text;
      }
    }
    const values = Object.values(body);
    const wrapped = isRecord(body.error)
      ? body.error
      : values.length === 1 && isRecord(values[0])
        ? values[0]
        : null;
    if (wrapped) {
      const text = textField(wrapped.message) ?? textField(wrapped.detail) ?? textField(wrapped.title);
      if (text) return text;
    }
    return null;
  }
  if (typeof body === 'string') return textField(body);
  if (rawText !== undefined) {
    const stripped = rawText
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (stripped) return stripped.length > 300 ? `${stripped.slice(0, 300)}…` : stripped;
  }
  return null;
}

function requestIdOf(headers: Record<string, string>): string | null {
  return headers['x-openstack-request-id'] ?? headers['x-compute-request-id'] ?? null;
}

function flattenHeaders(response: AxiosResponse): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    if (value === undefined || value === null) continue;
    result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return result;
}

function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CredentialsError(`${setting} file ${file} cannot be read: ${(error as Error).message}`);
  }
}

function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface FailureDescription {
  kind: 'timeout' | 'network';
  detail: string;
  retryable: boolean;
}

function describeTransportFailure(error: unknown, timeoutMs: number): FailureDescription {
  const code = isRecord(error) && typeof error.code === 'string' ? error.code : '';
  const message = error instanceof Error ? error.message : String(error);
  if (TIMEOUT_CODES.has(code) || /timeout/i.test(message)) {
    return { kind: 'timeout', detail: `no answer within ${timeoutMs} ms`, retryable: true };
  }
  if (TLS_CODE_PATTERN.test(code)) {
    // Retrying cannot fix a certificate; say what to configure instead.
    return {
      kind: 'network',
      detail: `TLS failure (${code}): ${message}; set OS_CACERT to the cloud's CA bundle, or OS_INSECURE=true to skip verification`,
      retryable: false,
    };
  }
  return { kind: 'network', detail: code ? `${code}: ${message}` : message, retryable: true };
}

/**
 * HTTP to OpenStack with timeouts, retries for idempotent requests and uniform errors.
 * One instance per cloud connection; `close()` frees its sockets.
 */
export class HttpClient {
  readonly timeoutMs: number;
  readonly retryPolicy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly axios: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent }[];
  private readonly reusingAgents: { http: http.Agent; https: https.Agent };
  private readonly freshAgents: { http: http.Agent; https: https.Agent };

  constructor(options: HttpClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${this.timeoutMs}`);
    }
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    if (!Number.isInteger(this.retryPolicy.attempts) || this.retryPolicy.attempts < 1) {
      throw new RangeError(`retry.attempts must be an integer >= 1, got ${this.retryPolicy.attempts}`);
    }
    this.sleep = options.sleep ?? sleepFor;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;

    const tls = options.tls ?? {};
    const tlsOptions: https.AgentOptions = {
      rejectUnauthorized: !tls.insecure,
      ...(tls.cacert ? { ca: readPem(tls.cacert, 'OS_CACERT') } : {}),
      ...(tls.cert ? { cert: readPem(tls.cert, 'OS_CERT') } : {}),
      ...(tls.key ? { key: readPem(tls.key, 'OS_KEY') } : {}),
    };
    // Reads reuse connections. Writes get a fresh connection each: a reused socket the server
    // has just closed fails with ECONNRESET, which is harmless to retry for a GET but leaves a
    // POST in doubt (did Nova get it?), and actions must never be in doubt for that reason.
    this.reusingAgents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ...tlsOptions }),
    };
    this.freshAgents = {
      http: new http.Agent({ keepAlive: false }),
      https: new https.Agent({ keepAlive: false, ...tlsOptions }),
    };
    this.agents = [this.reusingAgents, this.freshAgents];

    this.axios = axios.create({
      timeout: this.timeoutMs,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true },
      headers: { 'User-Agent': options.userAgent ?? 'evacuation-bot nova-client' },
      proxy: false,
    });
  }

  /** Sends one request, retrying idempotent ones on transient failures. Throws OpenStackError. */
  async request(request: HttpRequest): Promise<HttpResponse> {
    const idempotent = request.idempotent ?? request.method === 'GET';
    const attempts = idempotent ? this.retryPolicy.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(request, attempt);
      } catch (error) {
        if (!(error instanceof OpenStackError) || attempt >= attempts || !this.isRetryable(error))
          throw error;
        const retryAfterMs = retryHints.get(error)?.retryAfterMs;
        const delay =
          retryAfterMs !== undefined
            ? Math.min(this.retryPolicy.maxDelayMs, retryAfterMs)
            : retryDelayMs(attempt, this.retryPolicy, this.random);
        this.logger?.warn(
          {
            operation: request.operation,
            method: request.method,
            path: pathOf(request.url),
            status: error.status,
            kind: error.kind,
            attempt,
            delayMs: delay,
          },
          'retrying OpenStack request after a transient failure',
        );
        await this.sleep(delay);
      }
    }
  }

  private isRetryable(error: OpenStackError): boolean {
    if (error.kind === 'timeout') return true;
    if (error.kind === 'network') return retryHints.get(error)?.retryable !== false;
    return error.status !== null && TRANSIENT_STATUSES.has(error.status);
  }

  private async send(request: HttpRequest, attempt: number): Promise<HttpResponse> {
    const url = buildUrl(request.url, request.query);
    const safeUrl = redactUrl(url);
    const started = performance.now();
    const agents = request.method === 'GET' ? this.reusingAgents : this.freshAgents;
    if (request.counter) request.counter.count += 1;
    const hasBody = request.body !== undefined;
    let response: AxiosResponse<string>;
    try {
      response = await this.axios.request<string>({
        method: request.method,
        url,
        headers: {
          Accept: 'application/json',
          ...(hasBody ? { 'Content-Type': 'application/json' } : {}),
          ...request.headers,
        },
        data: hasBody ? JSON.stringify(request.body) : undefined,
        httpAgent: agents.http,
        httpsAgent: agents.https,
        // axios' timeout is a socket idle timer; this bounds the whole exchange as well, so a
        // peer that trickles bytes cannot hold a request open forever.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const failure = describeTransportFailure(error, this.timeoutMs);
      const durationMs = Math.round(performance.now() - started);
      this.logger?.debug(
        {
          operation: request.operation,
          method: request.method,
          path: pathOf(url),
          kind: failure.kind,
          durationMs,
          attempt,
        },
        'OpenStack request failed without an answer',
      );
      const failed = new OpenStackError({
        kind: failure.kind,
        operation: request.operation,
        detail: failure.detail,
        method: request.method,
        url: safeUrl,
        cause: new Error(failure.detail),
      });
      retryHints.set(failed, { retryable: failure.retryable });
      throw failed;
    }

    const headers = flattenHeaders(response);
    const requestId = requestIdOf(headers);
    const durationMs = Math.round(performance.now() - started);
    this.logger?.debug(
      {
        operation: request.operation,
        method: request.method,
        path: pathOf(url),
        status: response.status,
        durationMs,
        requestId,
        attempt,
      },
      'OpenStack request',
    );

    const rawText = typeof response.data === 'string' ? response.data : '';
    const accepted = response.status < 300 || (request.acceptStatus?.(response.status) ?? false);
    let body: unknown = null;
    let parseFailure: string | null = null;
    if (rawText.trim() !== '' && !(accepted && request.ignoreBody)) {
      try {
        body = JSON.parse(rawText);
      } catch (error) {
        parseFailure = (error as Error).message;
      }
    }

    if (!accepted) {
      const serviceMessage = extractServiceMessage(parseFailure === null ? body : undefined, rawText);
      const failed = new OpenStackError({
        kind: kindForStatus(response.status),
        operation: request.operation,
        status: response.status,
        serviceMessage,
        requestId,
        method: request.method,
        url: safeUrl,
      });
      const retryAfter = Number(headers['retry-after'] ?? Number.NaN);
      if (headers['retry-after']?.trim() && Number.isFinite(retryAfter) && retryAfter >= 0) {
        retryHints.set(failed, { retryAfterMs: retryAfter * 1000 });
      }
      throw failed;
    }
    if (parseFailure !== null) {
      throw new OpenStackError({
        kind: 'invalid_response',
        operation: request.operation,
        status: response.status,
        detail: `the response body is not JSON (${parseFailure})`,
        requestId,
        method: request.method,
        url: safeUrl,
      });
    }
    const dateHeader = headers.date;
    const date = dateHeader ? new Date(dateHeader) : null;
    return {
      status: response.status,
      headers,
      body,
      requestId,
      date: date && !Number.isNaN(date.getTime()) ? date : null,
    };
  }

  /** Frees pooled sockets; the client must not be used afterwards. */
  close(): void {
    for (const pair of this.agents) {
      pair.http.destroy();
      pair.https.destroy();
    }
  }
}

function buildUrl(base: string, query: HttpRequest['query']): string {
  if (!query) return base;
  const url = new URL(base);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url.toString();
}

/** Path and query for log lines (no scheme/host noise, secrets masked). */
export function pathOf(url: string): string {
  try {
    const parsed = new URL(redactUrl(url));
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}
