// Operators' view of catch-up: status and on-demand scans (seed response shapes).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { measurePeers, pingPeer, runCatchupInline, type CatchupResult } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { catchupResultSchema, errorResponses, isoDate, nullableIso, toIso } from '../schemas.ts';

export const statusSchema = z.object({
  catchup_enabled: z.boolean(),
  max_catchup_days: z.number(),
  servers_needing_catchup: z.array(
    z.object({
      id: z.number(),
      name: z.string(),
      host: z.string(),
      last_sync: nullableIso,
      last_ping: nullableIso,
      ping_success: z.boolean().nullable(),
      missing_changes: z.number(),
    }),
  ),
  recent_catchup_logs: z.array(
    z.object({
      id: z.number(),
      server_id: z.number().nullable(),
      server_name: z.string().nullable(),
      status: z.string(),
      started_at: isoDate,
      completed_at: nullableIso,
      details: z.string().nullable(),
      error_message: z.string().nullable(),
    }),
  ),
  timestamp: isoDate,
});

export const scanSchema = z.object({
  message: z.string(),
  servers_processed: z.number(),
  results: z.array(catchupResultSchema),
});

export const catchupRoutes = (ctx: AppContext): FastifyPluginAsyncZod => async (app) => {
  app.get('/catchup/status', {
    schema: { tags: ['catch-up'], summary: 'Peers needing catch-up and recent catch-up runs', response: { 200: statusSchema, 401: errorResponses[401] } },
  }, async () => {
    const settings = await ctx.engine.settings();
    const peers = await measurePeers(ctx.engine);
    const logs = await ctx.db.syncLog.findMany({
      where: { operation: 'catch-up sync' },
      orderBy: { startedAt: 'desc' },
      take: 10,
      include: { server: { select: { name: true } } },
    });
    return {
      catchup_enabled: settings.catchup_enabled,
      max_catchup_days: settings.max_catchup_days,
      servers_needing_catchup: peers
        .filter((p) => p.missingChanges > 0)
        .map(({ server, missingChanges }) => ({
          id: server.id,
          name: server.name,
          host: server.host,
          last_sync: toIso(server.lastSync),
          last_ping: toIso(server.lastPing),
          ping_success: server.pingSuccess,
          missing_changes: missingChanges,
        })),
      recent_catchup_logs: logs.map((log) => ({
        id: log.id,
        server_id: log.serverId,
        server_name: log.server?.name ?? null,
        status: log.status,
        started_at: log.startedAt.toISOString(),
        completed_at: toIso(log.completedAt),
        details: log.details,
        error_message: log.errorMessage,
      })),
      timestamp: new Date().toISOString(),
    };
  });

  app.post('/catchup/scan', {
    schema: {
      tags: ['catch-up'],
      summary: 'Detect peers needing catch-up, ping them and catch the reachable ones up',
      body: z.object({ server_ids: z.array(z.number().int().positive()).optional() }).optional(),
      response: { 200: scanSchema, ...errorResponses },
    },
  }, async (request) => {
    const settings = await ctx.engine.settings();
    if (!settings.catchup_enabled) {
      return { message: 'Catch-up is disabled (catchup_enabled = false)', servers_processed: 0, results: [] };
    }
    const peers = await measurePeers(ctx.engine, request.body?.server_ids);
    const results: CatchupResult[] = [];
    for (const { server } of peers) {
      const outcome = await pingPeer(ctx.engine, server);
      if (outcome.ok) {
        results.push(await runCatchupInline(ctx.engine, server, outcome.ping));
      } else {
        const now = new Date().toISOString();
        results.push({
          server_id: server.id,
          server_name: server.name,
          started_at: now,
          completed_at: now,
          success: false,
          database_changes: { sent: 0, received: 0, applied: 0, skipped_duplicate: 0, skipped_stale: 0 },
          file_changes: { uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0 },
          errors: [outcome.error.message],
          duration: 0,
        });
      }
    }
    return { message: 'Catch-up scan completed', servers_processed: results.length, results };
  });
};
