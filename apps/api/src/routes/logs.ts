// The sync log: catch-up runs, alerts and the audit trail of admin actions, newest first.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, LOG_KINDS, type LogKind } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { errorResponses, isoDate, nullableIso, rowIdText, toIso } from '../schemas.ts';

const logSchema = z.object({
  id: z.number(),
  server_id: z.number().nullable(),
  server_name: z.string().nullable(),
  operation: z.string(),
  actor: z
    .string()
    .nullable()
    .describe(
      'who did it, for an admin action or a delivery (the credential: node api key, peer NAME (credential LABEL), bull board, scheduler…); null otherwise',
    ),
  status: z.string(),
  started_at: isoDate,
  completed_at: nullableIso,
  details: z.string().nullable(),
  result: z.unknown(),
  error_message: z.string().nullable(),
});

export const logRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/logs',
      {
        schema: {
          tags: ['logs'],
          summary: 'Sync log, newest first',
          querystring: z.object({
            server_id: rowIdText.optional(),
            operation: z.string().max(100).optional(),
            kind: z
              .enum(Object.keys(LOG_KINDS) as [LogKind, ...LogKind[]])
              .optional()
              .describe(
                'audit: the admin actions (peers, credentials, settings, synced tables, scans, prunes, Bull Board changes); delivery: batches and files peers delivered under their own credentials',
              ),
            status: z.string().max(50).optional(),
            page: z.coerce.number().int().min(1).default(1),
            page_size: z.coerce.number().int().min(1).max(200).default(20),
          }),
          response: { 200: z.object({ logs: z.array(logSchema), total: z.number(), page: z.number(), page_size: z.number() }), ...errorResponses },
        },
      },
      async (request) => {
        const { server_id, operation, kind, status, page, page_size } = request.query;
        const where = {
          ...(server_id ? { serverId: server_id } : {}),
          AND: [operation ? { operation } : {}, kind ? { operation: { in: [...LOG_KINDS[kind]] } } : {}],
          ...(status ? { status } : {}),
        };
        const [total, logs] = await Promise.all([
          ctx.db.syncLog.count({ where }),
          ctx.db.syncLog.findMany({
            where,
            orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
            skip: (page - 1) * page_size,
            take: page_size,
            include: { server: { select: { name: true } } },
          }),
        ]);
        return {
          logs: logs.map((log) => ({
            id: log.id,
            server_id: log.serverId,
            server_name: log.server?.name ?? null,
            operation: log.operation,
            actor: actorOf(log.result),
            status: log.status,
            started_at: log.startedAt.toISOString(),
            completed_at: toIso(log.completedAt),
            details: log.details,
            result: log.result,
            error_message: log.errorMessage,
          })),
          total,
          page,
          page_size,
        };
      },
    );
  };
