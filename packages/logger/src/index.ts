// The one logger factory: JSON lines by default, pretty when stdout is a terminal.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line (API keys, credentials). */
export const redactedPaths = [
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'headers["x-api-key"]',
  'headers.authorization',
  'password',
  '*.password',
];

export interface LoggerOptions {
  name?: string;
  level?: string;
  /** Force pretty output on or off; by default pretty only when stdout is a TTY. */
  pretty?: boolean;
  /** Write somewhere other than stdout (tests). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base = {
    name: options.name ?? 'catchup',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
export { closeOnSignals } from './shutdown.ts';
