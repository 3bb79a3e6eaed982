// Verify and repair: the peer route that serves digests (GET /digest) and the admin route that compares
// this node with a peer (POST /verify). See @catchup/changelog digest.ts and @catchup/engine verify.ts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  BUCKET_PATTERN,
  MAX_BUCKET_DIGITS,
  MAX_LEAF_ROWS,
  MAX_STANDING_IDS,
  UnknownTableError,
  bucketDigests,
  rowDigests,
  rowStandings,
  tableDigests,
} from '@catchup/changelog';
import { ADMIN_OPERATIONS, VerifyRefusedError, recordAdminAction, teamScopeOfServer, verifyPeer, verifyReportSchema } from '@catchup/engine';
import { DEFAULT_EXCLUDES, excluder, FILE_DIRECTORIES, manifestDigest, scanDirectory } from '@catchup/files';
import { digestResponseSchema, PeerError } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError, notFound } from '../errors.ts';
import { errorResponses, rowId } from '../schemas.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** GET /digest (peer API). */
export const digestRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const exclude = excluder([...DEFAULT_EXCLUDES, ...ctx.config.syncExclude]);
    app.get(
      '/digest',
      {
        schema: {
          tags: ['peer'],
          summary: 'Digests of the synced tables (Merkle style, by buckets of the id) and folders, for verify',
          description:
            'Without table: every synced table (rows, digest, first-level buckets) and every folder (live files, manifest root hash). ' +
            'With table and bucket: its sub-buckets; with rows=true: its rows (id, digest); with table and ids: what the table and the log hold of those rows. ' +
            'A peer with a team scope here is refused (403): its digests would cover rows outside its scope.',
          querystring: z
            .object({
              table: z.string().min(1).max(63).optional(),
              bucket: z.string().regex(BUCKET_PATTERN, `an even number of lower-case hex digits, at most ${MAX_BUCKET_DIGITS}: a prefix of the ids`).optional(),
              rows: z.enum(['true', 'false']).default('false').describe(`list the bucket's rows (at most ${MAX_LEAF_ROWS})`),
              ids: z
                .string()
                .transform((text) => text.split(','))
                .refine(
                  (ids) => ids.length <= MAX_STANDING_IDS && ids.every((id) => UUID.test(id)),
                  `at most ${MAX_STANDING_IDS} comma-separated lower-case UUIDs`,
                )
                .optional(),
            })
            .superRefine((q, refine) => {
              if (q.table === undefined && (q.bucket !== undefined || q.ids !== undefined || q.rows === 'true')) {
                refine.addIssue({ code: 'custom', path: ['table'], message: 'required with bucket, rows or ids' });
              }
              if (q.table !== undefined && (q.bucket === undefined) === (q.ids === undefined)) {
                refine.addIssue({ code: 'custom', path: ['bucket'], message: 'with table: one of bucket (with rows=true for its rows) or ids' });
              }
              if (q.bucket !== undefined && q.rows === 'false' && q.bucket.length >= MAX_BUCKET_DIGITS) {
                refine.addIssue({
                  code: 'custom',
                  path: ['bucket'],
                  message: `a bucket of ${MAX_BUCKET_DIGITS} digits has no sub-buckets: ask with rows=true`,
                });
              }
            }),
          response: { 200: digestResponseSchema, 403: errorResponses[401].describe('a peer with a team scope here'), ...errorResponses },
        },
      },
      async (request) => {
        if (request.peer && (await teamScopeOfServer(ctx.engine, request.peer.serverId))) {
          throw new HttpError(403, "this node gives a peer with a team scope no digests: they would cover rows outside the peer's scope");
        }
        const { table, bucket, rows, ids } = request.query;
        const node_id = ctx.engine.nodeId;
        try {
          if (table === undefined) {
            const folders = [];
            for (const directory of FILE_DIRECTORIES) {
              await scanDirectory(ctx.pool, ctx.config.dataDir, directory, { exclude });
              folders.push(await manifestDigest(ctx.pool, directory));
            }
            return { node_id, tables: await tableDigests(ctx.pool), folders };
          }
          if (ids !== undefined) return { node_id, standings: await rowStandings(ctx.pool, table, ids) };
          if (rows === 'true') {
            const listed = await rowDigests(ctx.pool, table, bucket!);
            if (!listed) throw new HttpError(400, `bucket: ${bucket || '(all)'} holds more than ${MAX_LEAF_ROWS} rows; ask for its sub-buckets`);
            return { node_id, rows: listed };
          }
          return { node_id, buckets: await bucketDigests(ctx.pool, table, bucket!) };
        } catch (err) {
          if (err instanceof UnknownTableError) throw new HttpError(404, err.message);
          throw err;
        }
      },
    );
  };

/** POST /verify (admin API). */
export const verifyRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/verify',
      {
        schema: {
          tags: ['catch-up'],
          summary: "Compare this node's synced tables and folders with a peer's, naming differing rows and files; repair re-logs this node's winning rows",
          body: z.object({
            server_id: rowId,
            repair: z.boolean().default(false).describe("log this node's version of each differing row it holds the winner of, for the next catch-up to carry"),
          }),
          response: {
            200: verifyReportSchema,
            409: errorResponses[400].describe('the peer has a team scope here: whole tables cannot be compared'),
            502: errorResponses[400].describe('the peer could not be asked (unreachable, refused, or an invalid answer)'),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { server_id, repair } = request.body;
        let report: Awaited<ReturnType<typeof verifyPeer>>;
        try {
          report = await verifyPeer(ctx.engine, server_id, { repair });
        } catch (err) {
          if (err instanceof VerifyRefusedError) throw new HttpError(409, err.message);
          if (err instanceof PeerError) throw new HttpError(502, `the peer could not be asked for its digests: ${err.message}`);
          throw err;
        }
        if (!report) throw notFound(`Server ${server_id}`);
        if (repair) {
          await recordAdminAction(ctx.engine, {
            operation: ADMIN_OPERATIONS.verifyRepair,
            actor: request.actor,
            serverId: server_id,
            details: `Repair against ${report.server_name}: ${report.repair!.relogged_rows} row(s) and ${report.repair!.relogged_deletes} delete(s) re-logged, ${report.repair!.left} left`,
            facts: { ...report.repair, level: report.level },
          });
        }
        return report;
      },
    );
  };
