// Turns a failure to reach PostgreSQL or Redis into one line an operator can act on.
import { ConfigError } from './errors.ts';
import { redactUrl } from '@catchup/db';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH']);

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: unknown; errors?: unknown[] };
  return e?.code ?? codeOf(e?.cause) ?? (e?.errors?.length ? codeOf(e.errors[0]) : undefined);
}

/** Marks a connection error as Redis's, so that the message names the right service. */
export class RedisUnreachableError extends Error {
  readonly code: string | undefined;
  constructor(cause: unknown) {
    const code = codeOf(cause);
    super(`Redis is unreachable: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`, { cause });
    this.name = 'RedisUnreachableError';
    this.code = code;
  }
}

export function describeStartupError(err: unknown, where: { databaseUrl?: string; redisUrl?: string }): string {
  if (err instanceof RedisUnreachableError && where.redisUrl) {
    return `Redis is not reachable at ${redactUrl(where.redisUrl)} (REDIS_URL): ${err.code ?? err.message}. Start it with \`docker compose up -d redis\` or point REDIS_URL at a running server.`;
  }
  if (err instanceof ConfigError) return err.message;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (where.databaseUrl && (CONNECTION_CODES.has(code ?? '') || /Can't reach database|connect ECONNREFUSED/.test(message))) {
    return `PostgreSQL is not reachable at ${redactUrl(where.databaseUrl)} (DATABASE_URL): ${code ?? message}. Start it with \`docker compose up -d postgres\` or point DATABASE_URL at a running server.`;
  }
  return `Start-up failed: ${message}`;
}
