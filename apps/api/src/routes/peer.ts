// The peer API: what other nodes call during a catch-up.
import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  backlogByTable,
  changeOutputSchema,
  changeSchema,
  formatRowKeyCursor,
  incomingFromChange,
  latestSequence,
  needsFullBaseline,
  parseRowKeyCursor,
  readChangesByKeyJson,
  readChangesJson,
  readLogHorizon,
  releaseLeases,
  scanChangesDocument,
  type IncomingChange,
} from '@catchup/changelog';
import { MAX_BATCH_SIZE } from '@catchup/config';
import { applyPeerBatch, DELIVERY_OPERATIONS, nodeWallClock, peerActor, recordPeerDelivery, teamScopeOfServer } from '@catchup/engine';
import { latestFileSeq } from '@catchup/files';
import { CONTENT_ENCODINGS, changesSummaryResponseSchema, pingResponseSchema } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { bigintString, errorResponses } from '../schemas.ts';

const sequenceParam = bigintString;

/** A batch body read by scanChangesDocument: already checked, its row images kept as text. */
class ScannedBatch {
  readonly changes: IncomingChange[];

  constructor(changes: IncomingChange[]) {
    this.changes = changes;
  }
}

/** A ScannedBatch needs no more checking; any other body goes through the zod schema, which words the 400. */
function batchValidator<S>(route: Parameters<FastifySchemaCompiler<S>>[0]): ReturnType<FastifySchemaCompiler<S>> {
  const zodValidator = validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0]);
  if (route.httpPart !== 'body') return zodValidator;
  return (data: unknown) => (data instanceof ScannedBatch ? { value: data } : zodValidator(data));
}

export const peerRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    // A batch is scanned as text and its row images kept as the JSON text they came in: the applier hands
    // them to PostgreSQL as text, so parsing them into objects would be wasted work. A body the scanner
    // does not take goes to Fastify's own JSON parser.
    const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const scanned = scanChangesDocument(body as string);
      if (scanned && Object.keys(scanned.fields).length === 0 && scanned.changes.length <= MAX_BATCH_SIZE) {
        done(null, new ScannedBatch(scanned.changes));
      } else defaultJsonParser(request, body as string, done);
    });

    app.get(
      '/ping',
      {
        schema: {
          tags: ['peer'],
          summary: 'Identity and log position of this node',
          response: {
            200: pingResponseSchema,
            401: errorResponses[401],
          },
        },
      },
      async () => ({
        node_id: ctx.engine.nodeId,
        node_name: ctx.config.nodeName,
        version: ctx.version,
        latest_sequence: await latestSequence(ctx.pool),
        latest_file_seq: await latestFileSeq(ctx.pool),
        server_time: (await nodeWallClock(ctx.pool)).toISOString(),
        pruned_through: (await readLogHorizon(ctx.pool)).prunedThrough,
        content_encodings: [...CONTENT_ENCODINGS],
        ...(ctx.config.tls ? { tls_fingerprint: ctx.config.tls.fingerprint } : {}),
      }),
    );

    app.get(
      '/changes',
      {
        schema: {
          tags: ['peer'],
          summary: 'Read the change log after a cursor',
          querystring: z.object({
            after: sequenceParam.default('0'),
            limit: z.coerce.number().int().min(1).max(MAX_BATCH_SIZE).optional().describe('defaults to catchup_batch_size'),
            up_to: sequenceParam.optional(),
            exclude_origin: z.string().min(1).max(100).optional().describe("the reader's node id: its own changes are left out"),
            order: z
              .enum(['position', 'key'])
              .default('position')
              .describe("'key': the range in row-key order, as a full baseline reads it (served only when after is below the pruned horizon)"),
            after_key: z
              .string()
              .refine((key) => parseRowKeyCursor(key) !== null, 'a row-key cursor: table/record_id/position, as next_key gives it')
              .optional()
              .describe("with order=key: the previous page's next_key"),
          }),
          response: {
            200: z.object({
              changes: z.array(changeOutputSchema),
              next_cursor: z.string(),
              has_more: z.boolean(),
              latest_sequence: z.string(),
              pruned_through: z.string().describe("the log's pruned horizon: a reader whose cursor is below it gets a full baseline"),
              next_key: z.string().optional().describe('with order=key: where the next page starts (absent after the last)'),
            }),
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const { after, limit, up_to, exclude_origin, order, after_key } = request.query;
        // A peer presenting its own credential reads only what its team scope lets it see.
        const scope = request.peer ? await teamScopeOfServer(ctx.engine, request.peer.serverId) : undefined;
        const options = {
          after,
          limit: limit ?? (await ctx.engine.settings()).catchup_batch_size,
          ...(up_to ? { upTo: up_to } : {}),
          ...(exclude_origin ? { excludeOrigin: exclude_origin } : {}),
          ...(scope ? { scope } : {}),
        };
        let page: { body: Buffer; nextCursor: string; hasMore: boolean; latestSequence: string; nextKey?: string };
        // Row-key order is for a reader below the pruned horizon (a full baseline), whose range is most of
        // the log: for a narrow range it would walk the whole row index to find it. Anyone else is answered
        // in position order (no next_key), which a reader follows by next_cursor.
        if (order === 'key' && needsFullBaseline(after, (await readLogHorizon(ctx.pool)).prunedThrough)) {
          const byKey = await readChangesByKeyJson(ctx.pool, { ...options, afterKey: after_key ? parseRowKeyCursor(after_key) : null });
          // The range is read as a whole: its cursor moves only once the last page is in.
          page = { body: byKey.body, nextCursor: after, hasMore: byKey.nextKey !== null, latestSequence: byKey.latestSequence };
          if (byKey.nextKey) page.nextKey = formatRowKeyCursor(byKey.nextKey);
        } else {
          page = await readChangesJson(ctx.pool, options);
        }
        // The horizon is read after the page: entries pruned before the page was read are then always within
        // it (a prune in between can only make it say more was pruned than the page missed, never less).
        const horizon = await readLogHorizon(ctx.pool);
        // The page comes from PostgreSQL as JSON bytes in the response's shape: sent as they are, not parsed
        // and serialized again (Fastify sends a Buffer untouched, which the type provider cannot express —
        // hence the cast).
        const nextKey = page.nextKey ? `,"next_key":"${page.nextKey}"` : '';
        const tail = `,"next_cursor":"${page.nextCursor}","has_more":${page.hasMore},"latest_sequence":"${page.latestSequence}","pruned_through":"${horizon.prunedThrough}"${nextKey}}`;
        const body = Buffer.concat([page.body.subarray(0, page.body.length - 1), Buffer.from(tail)]); // {"changes":[…] + tail
        return reply.type('application/json; charset=utf-8').send(body as never);
      },
    );

    app.get(
      '/changes/summary',
      {
        schema: {
          tags: ['peer'],
          summary: 'What a catch-up would move from this log to the reader, per table',
          querystring: z.object({
            after: sequenceParam.default('0'),
            exclude_origin: z.string().min(1).max(100).optional().describe("the reader's node id: its own changes are left out"),
          }),
          response: { 200: changesSummaryResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const scope = request.peer ? await teamScopeOfServer(ctx.engine, request.peer.serverId) : undefined;
        const tables = await backlogByTable(ctx.pool, { sentCursor: request.query.after, peerNodeId: request.query.exclude_origin ?? null, scope });
        return {
          tables,
          changes: tables.reduce((n, t) => n + t.changes, 0),
          latest_sequence: await latestSequence(ctx.pool),
          pruned_through: (await readLogHorizon(ctx.pool)).prunedThrough,
        };
      },
    );

    app.post(
      '/changes',
      {
        schema: {
          tags: ['peer'],
          summary: 'Apply a batch of changes (all or nothing)',
          body: z.object({ changes: z.array(changeSchema).max(MAX_BATCH_SIZE) }),
          response: {
            200: z.object({ received: z.number(), applied: z.number(), skipped_duplicate: z.number(), skipped_stale: z.number() }),
            409: errorResponses[400].describe(
              'identity conflict: a change whose identity is taken by another change, or that claims this node as its origin (recorded as an integrity alert)',
            ),
            ...errorResponses,
          },
        },
        validatorCompiler: batchValidator,
      },
      async (request) => {
        const body: unknown = request.body;
        const changes = body instanceof ScannedBatch ? body.changes : request.body.changes.map(incomingFromChange);
        const { peer } = request;
        // Once the batch is applied or refused, its changes are no longer on their way: their delivery
        // leases (see held.ts) end, so that a peer waiting for them asks again at once.
        const delivered = () =>
          releaseLeases(
            ctx.pool,
            changes.map((c) => ({ origin: c.origin_node_id, sequence: c.origin_sequence })),
          );
        // A batch posted under a peer's own credential is attributed to that peer: its alerts, and its row in the sync log.
        const source = peer
          ? { serverId: peer.serverId, via: `batch posted by ${peerActor(peer)} from ${request.ip}` }
          : { serverId: null, via: `batch posted from ${request.ip}` };
        const startedAt = new Date();
        const applied = await applyPeerBatch(ctx.engine, changes, source).finally(delivered);
        if (!peer) return applied;
        await recordPeerDelivery(ctx.engine, {
          operation: DELIVERY_OPERATIONS.batchReceived,
          peer,
          startedAt,
          details: `Batch of ${applied.received} change(s) from ${peer.name}: ${applied.applied} applied, ${applied.skipped_duplicate} duplicate, ${applied.skipped_stale} stale`,
          facts: { ...applied, from: request.ip },
        });
        return applied;
      },
    );
  };
