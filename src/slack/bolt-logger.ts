/**
 * Bolt and the WebClient log through `@slack/logger`'s interface; this routes them into our pino
 * logger so there is one log stream with one redaction policy (tokens never reach the output).
 */
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../log.js';

const PINO_TO_SLACK: Record<string, LogLevel> = {
  trace: LogLevel.DEBUG,
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warn: LogLevel.WARN,
  error: LogLevel.ERROR,
  fatal: LogLevel.ERROR,
  silent: LogLevel.ERROR,
};

/** Slack's loggers call `logger.info('text', obj, ...)`: keep the first error/object as data. */
function split(args: unknown[]): [Record<string, unknown>, string] {
  const data: Record<string, unknown> = {};
  const words: string[] = [];
  for (const arg of args) {
    if (arg instanceof Error) data.err = arg;
    else if (typeof arg === 'string') words.push(arg);
    else if (arg !== null && typeof arg === 'object' && Object.keys(data).length === 0)
      Object.assign(data, { detail: arg });
    else words.push(String(arg));
  }
  return [data, words.join(' ')];
}

export function toSlackLogger(logger: Logger): SlackLogger {
  let current = logger;
  return {
    debug: (...args: unknown[]) => current.debug(...split(args)),
    info: (...args: unknown[]) => current.info(...split(args)),
    warn: (...args: unknown[]) => current.warn(...split(args)),
    error: (...args: unknown[]) => current.error(...split(args)),
    // The level is pino's (LOG_LEVEL); Bolt asking to change it is ignored on purpose.
    setLevel: () => undefined,
    getLevel: () => PINO_TO_SLACK[current.level] ?? LogLevel.INFO,
    setName: (name: string) => {
      current = logger.child({ component: name });
    },
  };
}
