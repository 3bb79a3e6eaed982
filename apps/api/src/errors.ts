// One error format everywhere: { statusCode, error, message }. 400 names the field; 500 hides internals.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { BatchRejectedError, IdentityConflictError, TableNotSyncableError } from '@catchup/changelog';
import { ConfigError } from '@catchup/config';
import { ChangedSinceComparedError, PathRefusedError, TransferRejectedError } from '@catchup/files';
import { QueueUnavailableError } from '@catchup/queue';
import { STATUS_CODES } from 'node:http';

export class HttpError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

export const notFound = (what: string) => new HttpError(404, `${what} not found`);

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

const body = (statusCode: number, message: string): ErrorBody => ({
  statusCode,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
});

export function registerErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(body(404, `Route ${request.method} ${request.url.split('?')[0]} not found`));
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'request';
      const messages = err.validation.map((v) => {
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const field = [where, path].filter(Boolean).join('.');
        return `${field}: ${v.message}`;
      });
      return reply.code(400).send(body(400, messages.join('; ')));
    }
    if (err instanceof IdentityConflictError) return reply.code(409).send(body(409, err.message));
    if (err instanceof BatchRejectedError || err instanceof TableNotSyncableError || err instanceof PathRefusedError) {
      return reply.code(400).send(body(400, err.message));
    }
    if (err instanceof TransferRejectedError) {
      const status = err.reason === 'too_large' ? 413 : err.reason === 'conflict' ? 409 : err.reason === 'no_space' ? 507 : 400;
      return reply.code(status).send(body(status, err.message));
    }
    if (err instanceof ConfigError) {
      return reply.code(400).send(body(400, err.problems.map((p) => `${p.key}: expected ${p.expected}`).join('; ')));
    }
    if (err instanceof ChangedSinceComparedError) return reply.code(409).send(body(409, err.message));
    if (err instanceof QueueUnavailableError) {
      request.log.warn({ err }, 'request failed: Redis is unreachable');
      return reply.code(503).send(body(503, `${err.message}; the job was not queued (see /ready)`));
    }
    if (err instanceof HttpError) return reply.code(err.statusCode).send(body(err.statusCode, err.message));
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.code(500).send(body(500, 'Internal server error'));
    }
    // Fastify's own 4xx: body too large (413), malformed JSON (400), unsupported media type (415)…
    return reply.code(status).send(body(status, err.message));
  });
}
