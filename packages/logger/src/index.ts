// The one logger factory: JSON lines by default, pretty when stdout is a terminal.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line (API keys, credentials). */
const redactedPaths = [
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

/** Query parameters whose values never reach a log line: any name holding key, token, password or secret. */
const SECRET_PARAMETER = /key|token|passw|secret/i;

/** The URL with the values of secret-looking query parameters replaced: a key put in the URL is not logged. */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const parameters = url
    .slice(query + 1)
    .split('&')
    .map((parameter) => {
      const name = parameter.split('=', 1)[0]!;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: judge the name as written
      }
      return SECRET_PARAMETER.test(decoded) ? `${name}=[redacted]` : parameter;
    });
  return `${url.slice(0, query)}?${parameters.join('&')}`;
}

/** A request as logged (Fastify's own fields), its URL redacted. */
function serializeRequest(request: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}) {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : redactUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

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
    level: options.level ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    serializers: { req: serializeRequest },
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
export { closeOnSignals } from './shutdown.ts';
export { repeatedErrorLog } from './repeated.ts';
