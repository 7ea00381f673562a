/**
 * A route table keyed by method and path template (`/servers/{id}/action`). The template is
 * also the name requests are counted and faults are injected under.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SimRequest {
  method: string;
  /** Path below the service prefix, e.g. `/servers/detail`. */
  path: string;
  url: URL;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  /** True when a body was sent but is not JSON. */
  malformedBody: boolean;
  requestId: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-serialised unless `text` is set. Omit for an empty body. */
  body?: unknown;
  text?: string;
}

export type RouteHandler<C> = (
  ctx: C,
  req: SimRequest,
  params: Record<string, string>,
) => SimResponse | Promise<SimResponse>;

interface Route<C> {
  method: string;
  template: string;
  segments: string[];
  handler: RouteHandler<C>;
}

export type RouteMatch<C> =
  | { kind: 'found'; route: Route<C>; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: string[]; template: string }
  | { kind: 'not-found' };

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

export class Router<C> {
  private readonly routes: Route<C>[] = [];

  add(method: string, template: string, handler: RouteHandler<C>): this {
    this.routes.push({ method, template, segments: split(template), handler });
    return this;
  }

  match(method: string, path: string): RouteMatch<C> {
    const parts = split(path);
    const allowed: string[] = [];
    let matchedTemplate = '';
    // Literal segments win over parameters (`/servers/detail` before `/servers/{id}`).
    const candidates = this.routes
      .map((route) => ({ route, params: matchSegments(route.segments, parts) }))
      .filter((c): c is { route: Route<C>; params: Record<string, string> } => c.params !== null)
      .sort((a, b) => literalScore(b.route.segments) - literalScore(a.route.segments));
    for (const candidate of candidates) {
      if (candidate.route.method === method)
        return { kind: 'found', route: candidate.route, params: candidate.params };
      allowed.push(candidate.route.method);
      matchedTemplate ||= candidate.route.template;
    }
    if (allowed.length > 0) return { kind: 'method-not-allowed', allowed, template: matchedTemplate };
    return { kind: 'not-found' };
  }
}

function literalScore(segments: string[]): number {
  return segments.filter((s) => !s.startsWith('{')).length;
}

function matchSegments(template: string[], parts: string[]): Record<string, string> | null {
  if (template.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] ?? '';
    const p = parts[i] ?? '';
    if (t.startsWith('{') && t.endsWith('}')) {
      try {
        params[t.slice(1, -1)] = decodeURIComponent(p);
      } catch {
        return null;
      }
    } else if (t !== p) {
      return null;
    }
  }
  return params;
}
