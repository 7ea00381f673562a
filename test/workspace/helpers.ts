import { createLogger } from '../../src/log.js';
import {
  startLocalWorkspace,
  type LocalWorkspace,
  type LocalWorkspaceOptions,
} from '../../src/workspace/server.js';

export const silentLogger = createLogger({ level: 'silent' });

export async function startTestWorkspace(
  options: Partial<LocalWorkspaceOptions> = {},
): Promise<LocalWorkspace> {
  return startLocalWorkspace({
    logger: silentLogger,
    cloud: { kind: 'real', description: 'test cloud' },
    port: 0,
    ...options,
  });
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a server-sent event stream and lets a test wait for an event matching a predicate. */
export class SseReader {
  readonly events: SseEvent[] = [];
  private readonly controller = new AbortController();
  private waiters: { predicate: (event: SseEvent) => boolean; resolve: (event: SseEvent) => void }[] = [];
  private readonly done: Promise<void>;

  constructor(url: string) {
    this.done = this.read(url).catch(() => undefined);
  }

  private async read(url: string): Promise<void> {
    const response = await fetch(url, { signal: this.controller.signal });
    if (!response.body) throw new Error('no body');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of raw.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data === '') continue;
        const parsed: SseEvent = { event, data: JSON.parse(data) as unknown };
        this.events.push(parsed);
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.predicate(parsed)) return true;
          waiter.resolve(parsed);
          return false;
        });
      }
    }
  }

  /** Resolves with the first event (already received or future) that matches. */
  next(predicate: (event: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
