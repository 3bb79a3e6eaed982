// Held checks (issue #19 item 6), part of the peer API: a peer asks which of its changes this node lacks
// before sending them, and reads a page's identities before the changes it lacks. With
// catchup_held_check off, every route here answers 404, as a node of a version before them does: peers
// then send and read everything, as before.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { claimLacked, readChangesJson, readIdentities, readLogHorizon, type TeamScope } from '@catchup/changelog';
import { MAX_BATCH_SIZE, type RuntimeSettings } from '@catchup/config';
import { teamScopeOfServer } from '@catchup/engine';
import {
  groupIdentities,
  groupStamped,
  heldRequestSchema,
  heldResponseSchema,
  identitiesPageResponseSchema,
  selectRequestSchema,
  ungroupIdentities,
  ungroupStamped,
} from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { bigintString, errorResponses } from '../schemas.ts';

export const heldRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    /** The settings in force, or 404 when held checks are off here. */
    const checksOn = async (): Promise<RuntimeSettings> => {
      const settings = await ctx.engine.settings();
      if (!settings.catchup_held_check) throw new HttpError(404, 'held checks are off on this node (catchup_held_check)');
      return settings;
    };
    // A peer presenting its own credential is answered within its team scope, as GET /changes reads for it.
    const scopeOf = async (request: FastifyRequest): Promise<TeamScope | undefined> =>
      request.peer ? teamScopeOfServer(ctx.engine, request.peer.serverId) : undefined;

    /** A page's JSON bytes ({"changes":[…]}) with the position fields GET /changes appends. */
    const sendPage = async (reply: FastifyReply, page: { body: Buffer; nextCursor: string; hasMore: boolean; latestSequence: string }) => {
      const horizon = await readLogHorizon(ctx.pool);
      const tail = `,"next_cursor":"${page.nextCursor}","has_more":${page.hasMore},"latest_sequence":"${page.latestSequence}","pruned_through":"${horizon.prunedThrough}"}`;
      const body = Buffer.concat([page.body.subarray(0, page.body.length - 1), Buffer.from(tail)]);
      return reply.type('application/json; charset=utf-8').send(body as never);
    };

    app.post(
      '/changes/held',
      {
        schema: {
          tags: ['peer'],
          summary: 'Which of these changes this node lacks (each leased to the asker to deliver), and which are on their way from another peer',
          body: heldRequestSchema,
          response: { 200: heldResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const settings = await checksOn();
        const answer = await claimLacked(ctx.pool, ungroupStamped(request.body.origins), {
          holder: `push:${request.body.from}`,
          leaseSeconds: settings.catchup_held_lease_seconds,
          scope: await scopeOf(request),
        });
        return { lacked: groupIdentities(answer.lacked), pending: groupIdentities(answer.pending), held: answer.held };
      },
    );

    app.get(
      '/changes/identities',
      {
        schema: {
          tags: ['peer'],
          summary: 'The identities of the page GET /changes would answer, without the changes',
          querystring: z.object({
            after: bigintString.default('0'),
            limit: z.coerce.number().int().min(1).max(MAX_BATCH_SIZE).optional().describe('defaults to catchup_batch_size'),
            up_to: bigintString.optional(),
            exclude_origin: z.string().min(1).max(100).optional().describe("the reader's node id: its own changes are left out"),
          }),
          response: { 200: identitiesPageResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const settings = await checksOn();
        const { after, limit, up_to, exclude_origin } = request.query;
        const scope = await scopeOf(request);
        const page = await readIdentities(ctx.pool, {
          after,
          limit: limit ?? settings.catchup_batch_size,
          ...(up_to ? { upTo: up_to } : {}),
          ...(exclude_origin ? { excludeOrigin: exclude_origin } : {}),
          ...(scope ? { scope } : {}),
        });
        // Read after the page, as GET /changes does: it can only over-report what the page missed.
        const horizon = await readLogHorizon(ctx.pool);
        return {
          origins: groupStamped(page.identities),
          count: page.count,
          next_cursor: page.nextCursor,
          has_more: page.hasMore,
          latest_sequence: page.latestSequence,
          pruned_through: horizon.prunedThrough,
        };
      },
    );

    app.post(
      '/changes/select',
      {
        schema: {
          tags: ['peer'],
          summary: "The named changes of this node's log in (after, up_to], as GET /changes shapes them",
          body: selectRequestSchema,
          response: { 200: z.unknown().describe('as GET /changes answers'), ...errorResponses },
        },
      },
      async (request, reply) => {
        await checksOn();
        const only = ungroupIdentities(request.body.origins);
        const scope = await scopeOf(request);
        const page = await readChangesJson(ctx.pool, {
          after: request.body.after,
          upTo: request.body.up_to,
          limit: Math.max(only.length, 1),
          only,
          ...(scope ? { scope } : {}),
        });
        return sendPage(reply, page);
      },
    );
  };
