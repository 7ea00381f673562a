/**
 * Failures talking to OpenStack, as data. Everything the operator needs to act on or to quote
 * to the cloud team travels with the error: the HTTP status, Nova's own message, the request id
 * and which operation it was.
 */

export type OpenStackErrorKind =
  | 'bad_request' // 400
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'server' // 5xx
  | 'timeout' // no answer in time
  | 'network' // connection refused / reset
  | 'invalid_response' // answered, but not what the API reference says
  | 'other';

export interface OpenStackErrorInit {
  kind: OpenStackErrorKind;
  operation: string;
  status?: number | null;
  /** The service's own message, e.g. Nova's "Compute service of host-1 is still in use." */
  serviceMessage?: string | null;
  requestId?: string | null;
  /** What went wrong when the service said nothing itself (e.g. "connect ECONNREFUSED 127.0.0.1:8774"). */
  detail?: string | null;
  method?: string;
  url?: string;
  cause?: unknown;
}

export class OpenStackError extends Error {
  readonly kind: OpenStackErrorKind;
  readonly operation: string;
  readonly status: number | null;
  readonly serviceMessage: string | null;
  readonly requestId: string | null;
  readonly detail: string | null;
  readonly method: string | undefined;
  readonly url: string | undefined;

  constructor(init: OpenStackErrorInit) {
    const what = init.serviceMessage ?? init.detail ?? init.kind.replace('_', ' ');
    const status = init.status ? ` (HTTP ${init.status})` : '';
    super(`${init.operation} failed${status}: ${what}`, init.cause ? { cause: init.cause } : undefined);
    this.name = 'OpenStackError';
    this.kind = init.kind;
    this.operation = init.operation;
    this.status = init.status ?? null;
    this.serviceMessage = init.serviceMessage ?? null;
    this.requestId = init.requestId ?? null;
    this.detail = init.detail ?? null;
    this.method = init.method;
    this.url = init.url;
  }

  /** True when resending could help and cannot do harm (the caller still decides for actions). */
  get transient(): boolean {
    return (
      this.kind === 'timeout' ||
      this.kind === 'network' ||
      (this.kind === 'server' && (this.status === 502 || this.status === 503 || this.status === 504))
    );
  }
}

export function kindForStatus(status: number): OpenStackErrorKind {
  if (status === 400) return 'bad_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status >= 500) return 'server';
  return 'other';
}

/** Configuration that cannot work (missing OS_AUTH_URL, unknown cloud in clouds.yaml, ...). */
export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsError';
  }
}
