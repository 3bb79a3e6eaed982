// The peer API's log streams (see @catchup/changelog log-stream.ts), a full baseline's bulk in one request:
// GET /api/sync/changes/stream reads a range of this log as one, POST applies one chunk by chunk: a full
// baseline's bulk, or an incremental range between unscoped peers.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LOG_STREAM_CONTENT_TYPE, LogStreamTooLargeError, needsFullBaseline, openLogStream, readLogHorizon } from '@catchup/changelog';
import { applyPeerStream, DELIVERY_OPERATIONS, peerActor, recordPeerDelivery, teamScopeOfServer } from '@catchup/engine';
import { logStreamResponseSchema } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { bigintString, errorResponses } from '../schemas.ts';

const isStream = (body: unknown): body is AsyncIterable<Buffer> =>
  typeof body === 'object' && body !== null && typeof (body as Partial<AsyncIterable<Buffer>>)[Symbol.asyncIterator] === 'function';

export const logStreamRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    // The body is read as it arrives, never whole: its size is bounded per chunk, not per request.
    app.addContentTypeParser(LOG_STREAM_CONTENT_TYPE, (_request, payload, done) => done(null, payload));

    app.post(
      '/changes/stream',
      {
        schema: {
          tags: ['peer'],
          summary: 'Apply a log stream: a range of changes as COPY text lines, in chunks (each all or nothing)',
          description:
            `Body: ${LOG_STREAM_CONTENT_TYPE}, one change per line (PostgreSQL COPY text format): table_name, record_id, operation, ` +
            'change_data, old_data, timestamp, origin_node_id, origin_sequence, hlc, scope_exit. A chunk that fails leaves the chunks before it applied.',
          response: {
            200: logStreamResponseSchema,
            409: errorResponses[400].describe('identity conflict (recorded as an integrity alert)'),
            ...errorResponses,
            415: errorResponses[400].describe(`the body is not ${LOG_STREAM_CONTENT_TYPE}`),
          },
        },
      },
      async (request) => {
        const body: unknown = request.body;
        if (!isStream(body)) throw new HttpError(415, `body: send the log stream as ${LOG_STREAM_CONTENT_TYPE}`);
        const { peer } = request;
        const startedAt = new Date();
        const via = peer ? `log stream posted by ${peerActor(peer)} from ${request.ip}` : `log stream posted from ${request.ip}`;
        let applied: Awaited<ReturnType<typeof applyPeerStream>>;
        try {
          applied = await applyPeerStream(ctx.engine, body, { serverId: peer?.serverId ?? null, via });
        } catch (err) {
          if (err instanceof LogStreamTooLargeError) throw new HttpError(413, `body: ${err.message}`);
          throw err;
        }
        if (peer) {
          await recordPeerDelivery(ctx.engine, {
            operation: DELIVERY_OPERATIONS.batchReceived,
            peer,
            startedAt,
            details: `Log stream of ${applied.received} change(s) from ${peer.name}: ${applied.applied} applied, ${applied.skipped_duplicate} duplicate, ${applied.skipped_stale} stale`,
            facts: { ...applied, from: request.ip },
          });
        }
        return applied;
      },
    );

    app.get(
      '/changes/stream',
      {
        schema: {
          tags: ['peer'],
          summary: 'Read a range of the log as a log stream',
          description:
            `Answers ${LOG_STREAM_CONTENT_TYPE}: the range's entries, one per line (see POST /changes/stream), served to a reader ` +
            'without a team scope. In row-key order (the default): a full baseline, for a cursor below the pruned horizon. In ' +
            'position order (order=position): an incremental range, for a cursor at or above it. Anything else reads pages (409).',
          querystring: z.object({
            after: bigintString,
            up_to: bigintString,
            exclude_origin: z.string().min(1).max(100).describe("the reader's node id: its own changes are left out"),
            order: z.enum(['key', 'position']).default('key').describe('key: a full baseline in row-key order; position: an incremental range'),
          }),
          response: { ...errorResponses, 409: errorResponses[400].describe('read this range in pages (GET /changes)') },
        },
      },
      async (request, reply) => {
        const { after, up_to, exclude_origin, order } = request.query;
        if (request.peer && (await teamScopeOfServer(ctx.engine, request.peer.serverId))) {
          throw new HttpError(409, 'after: a reader with a team scope reads pages (GET /api/sync/changes)');
        }
        const baseline = needsFullBaseline(after, (await readLogHorizon(ctx.pool)).prunedThrough);
        if (baseline !== (order === 'key')) {
          throw new HttpError(
            409,
            baseline
              ? 'after: below the pruned horizon, a full baseline; read it in pages (GET /api/sync/changes), which say so, or in row-key order'
              : 'after: not below the pruned horizon; read this range in pages (GET /api/sync/changes) or in position order',
          );
        }
        const stream = await openLogStream(ctx.engine.logReaders, {
          after,
          upTo: up_to,
          excludeOrigin: exclude_origin,
          order: baseline ? 'row key' : 'position',
        });
        // Fastify pipes a stream as it is (and destroys it when the reader goes away, which closes its
        // connection); the type provider cannot express a stream answer — hence the cast.
        return reply.type(LOG_STREAM_CONTENT_TYPE).send(stream as never);
      },
    );
  };
