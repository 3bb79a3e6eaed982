// The conflict inbox (admin): rows whose concurrent edit lost and files kept as conflict copies, and
// settling them — keep the winner, or the other version, which is written as a new change and propagates.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FILE_DIRECTORIES } from '@catchup/files';
import { ConflictNotFoundError, listConflicts, resolveFileConflict, resolveRowConflict } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

const version = z.object({
  identity: z.string(),
  origin_node_id: z.string(),
  hlc: z.string(),
  timestamp: z.string(),
  operation: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
});
const rowConflict = z.object({ table_name: z.string(), record_id: z.string(), loser: version, winner: version });
const fileVersion = z.object({ sha256: z.string(), size: z.number(), mtimeMs: z.number() });
const fileConflict = z.object({
  directory: z.string(),
  original: z.string(),
  copy: z.string(),
  found_at: z.string(),
  winner: fileVersion.nullable(),
  loser: fileVersion,
});

/** An open conflict is what is settled: anything else is 404 (unknown) — the message says which. */
async function settling<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ConflictNotFoundError) throw new HttpError(404, err.message);
    throw err;
  }
}

export const conflictRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['conflicts'];
    app.get(
      '/conflicts',
      {
        schema: {
          tags,
          summary: 'Open conflicts: rows whose concurrent edit lost, with both versions, and files kept as conflict copies',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
          response: { 200: z.object({ rows: z.array(rowConflict), files: z.array(fileConflict) }), ...errorResponses },
        },
      },
      async (request) => listConflicts(ctx.engine, request.query.limit),
    );

    app.post(
      '/conflicts/rows/resolve',
      {
        schema: {
          tags,
          summary: 'Settle a row conflict: keep the winner as it stands, or write the losing version again as a new change',
          body: z
            .object({
              loser: z.string().min(3).max(130).describe("the losing change's identity, origin_node_id/origin_sequence"),
              keep: z.enum(['winner', 'loser']),
            })
            .strict(),
          response: { 200: z.object({ conflict: rowConflict, new_change: z.string().nullable() }), ...errorResponses },
        },
      },
      async (request) => settling(() => resolveRowConflict(ctx.engine, request.body.loser, request.body.keep, request.actor)),
    );

    app.post(
      '/conflicts/files/resolve',
      {
        schema: {
          tags,
          summary: 'Settle a file conflict: keep the winner (the copy is deleted) or the copy (it replaces the winner)',
          body: z.object({ directory: z.enum(FILE_DIRECTORIES), copy: z.string().min(1).max(4096), keep: z.enum(['winner', 'copy']) }).strict(),
          response: { 200: fileConflict, ...errorResponses },
        },
      },
      async (request) => settling(() => resolveFileConflict(ctx.engine, request.body.directory, request.body.copy, request.body.keep, request.actor)),
    );
  };
