// POST /api/sync/changes/stream (peer API): a full baseline's bulk as one log stream, applied chunk by
// chunk (see @catchup/changelog log-stream.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { LOG_STREAM_CONTENT_TYPE, LogStreamTooLargeError } from '@catchup/changelog';
import { applyPeerStream, DELIVERY_OPERATIONS, peerActor, recordPeerDelivery } from '@catchup/engine';
import { logStreamResponseSchema } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

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
  };
