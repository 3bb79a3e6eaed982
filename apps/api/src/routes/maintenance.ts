// Retention on demand (SPEC I11): the prune the scheduler runs every catchup_prune_interval seconds.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pruneNode } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { errorResponses, isoDate, nullableIso } from '../schemas.ts';

export const pruneReportSchema = z.object({
  ran: z.boolean().describe('false when another prune was running: nothing was done by this request'),
  before: isoDate.describe('the age limit: now minus max_catchup_days'),
  removed: z.object({
    change_log_entries: z.number().describe('entries superseded by a version the log keeps (every row keeps its standing version, deletes included)'),
    change_log_deletes: z.number().describe('of them, deletes superseded by a later write of their row'),
    file_tombstones: z.number(),
    sync_logs: z.number(),
  }),
  horizons: z.object({
    pruned_through: z.string().describe('highest log position pruned: a peer whose cursor is below it gets a full baseline'),
    own_pruned_through: z.string().describe("highest origin sequence of this node's own changes pruned"),
    pruned_before: nullableIso,
    pruned_at: nullableIso,
  }),
  duration: z.number().describe('seconds'),
});

export const maintenanceRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/maintenance/prune',
      {
        schema: {
          tags: ['maintenance'],
          summary: 'Prune change-log entries, file tombstones and sync logs older than max_catchup_days (standing versions kept)',
          response: { 200: pruneReportSchema, ...errorResponses },
        },
      },
      async (request) => pruneNode(ctx.engine, { actor: request.actor }),
    );
  };
