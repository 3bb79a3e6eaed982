// The file manifest of a synced folder (F2), freshly scanned on each request.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_EXCLUDES, excluder, FILE_DIRECTORIES, readManifest, scanDirectory } from '@catchup/files';
import type { AppContext } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const entrySchema = z.object({
  path: z.string(),
  sha256: z.string(),
  size: z.number(),
  mtime: z.string(),
  change_seq: z.string(),
  deleted: z.boolean(),
});

export const fileRoutes = (ctx: AppContext): FastifyPluginAsyncZod => async (app) => {
  const exclude = excluder([...DEFAULT_EXCLUDES, ...ctx.config.syncExclude]);
  app.get('/files/checksums', {
    schema: {
      tags: ['files'],
      summary: 'Manifest of a synced folder: files (and deletions) with sha256, size, mtime and change sequence',
      querystring: z.object({
        path: z.enum(FILE_DIRECTORIES),
        catchup_mode: z.enum(['true', 'false']).default('false').describe('with since: only files modified after it'),
        since: z.iso.datetime({ offset: true }).optional(),
        after_seq: z.string().regex(/^\d{1,19}$/, 'a non-negative integer').optional().describe('only changes after this sequence (clock-independent)'),
        limit: z.coerce.number().int().min(1).max(10_000).default(1000),
      }),
      response: {
        200: z.object({
          path: z.enum(FILE_DIRECTORIES),
          files: z.array(entrySchema),
          next_seq: z.string(),
          has_more: z.boolean(),
          scanned: z.object({ files: z.number(), hashed: z.number(), added: z.number(), changed: z.number(), deleted: z.number() }),
        }),
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { path: directory, catchup_mode, since, after_seq, limit } = request.query;
    const scanned = await scanDirectory(ctx.pool, ctx.config.dataDir, directory, { exclude });
    const page = await readManifest(ctx.pool, directory, {
      limit,
      ...(after_seq ? { afterSeq: after_seq } : {}),
      ...(catchup_mode === 'true' && since ? { since: new Date(since) } : {}),
    });
    return { path: directory, ...page, scanned };
  });
};
