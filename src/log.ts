import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

/**
 * Paths that may carry secrets anywhere in a log object. Redaction is by key, so a secret
 * logged under one of these names never reaches the output, whatever the nesting.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  '*.*.secret',
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers["x-auth-token"]',
  '*.headers["x-auth-token"]',
  'headers["x-subject-token"]',
  '*.headers["x-subject-token"]',
  'headers.authorization',
  '*.headers.authorization',
  'botToken',
  'appToken',
  'signingSecret',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  'applicationCredentialSecret',
  '*.applicationCredentialSecret',
];

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const base: LoggerOptions = {
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  };
  return destination ? pino(base, destination) : pino(base);
}

/** The process-wide logger. Modules take a child of it (`logger.child({ module: 'nova' })`). */
export const logger: Logger = createLogger();

export type { Logger };
