// Operators' view of catch-up: status and on-demand scans.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readLogHorizon } from '@catchup/changelog';
import {
  catchupPreviewSchema,
  catchupResultSchema,
  measurePeers,
  noFileChanges,
  peerRetentions,
  presentHorizon,
  previewCatchup,
  type CatchupResult,
} from '@catchup/engine';
import type { DetectJobResult } from '@catchup/queue';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { requestScan } from '../scan.ts';
import { errorResponses, isoDate, nullableIso, rowId, rowIdText, toIso } from '../schemas.ts';

const horizonSchema = z.object({
  pruned_through: z.string(),
  own_pruned_through: z.string(),
  pruned_before: nullableIso,
  pruned_at: nullableIso,
});

const statusSchema = z.object({
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
      clock_offset_ms: z.number().nullable(),
      missing_changes: z.number().describe('changes in the retained log above its cursor (after pruning: the retained entries, SPEC I10/I11)'),
      needs_full_baseline: z.boolean().describe("its cursor is below this node's pruned horizon: its next catch-up is a full baseline"),
      days_until_full_baseline: z
        .number()
        .nullable()
        .describe('days until the oldest change it lacks is older than max_catchup_days (0: already); null when it lacks nothing'),
      last_error: z
        .string()
        .nullable()
        .describe('why the last catch-up of this peer failed (e.g. a batch the peer refused, naming table and column); null after a successful one'),
    }),
  ),
  retention: horizonSchema.describe("how far this node's change log was pruned"),
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

const scanSchema = z.object({
  message: z.string(),
  servers_processed: z.number(),
  results: z.array(catchupResultSchema),
});

export const catchupRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    acceptEmptyJsonBody(app as unknown as FastifyInstance);
    app.get(
      '/catchup/status',
      {
        schema: { tags: ['catch-up'], summary: 'Peers needing catch-up and recent catch-up runs', response: { 200: statusSchema, 401: errorResponses[401] } },
      },
      async () => {
        const settings = await ctx.engine.settings();
        const peers = await measurePeers(ctx.engine);
        const horizon = await readLogHorizon(ctx.pool);
        const needing = peers.filter((p) => p.missingChanges > 0);
        const retention = await peerRetentions(
          ctx.engine,
          needing.map((p) => p.server),
          horizon,
        );
        const logs = await ctx.db.syncLog.findMany({
          where: { operation: 'catch-up sync' },
          orderBy: { startedAt: 'desc' },
          take: 10,
          include: { server: { select: { name: true } } },
        });
        return {
          catchup_enabled: settings.catchup_enabled,
          max_catchup_days: settings.max_catchup_days,
          servers_needing_catchup: needing.map(({ server, missingChanges }, i) => ({
            id: server.id,
            name: server.name,
            host: server.host,
            last_sync: toIso(server.lastSync),
            last_ping: toIso(server.lastPing),
            ping_success: server.pingSuccess,
            clock_offset_ms: server.clockOffsetMs === null ? null : Number(server.clockOffsetMs),
            missing_changes: missingChanges,
            ...retention[i]!,
            last_error: server.lastError,
          })),
          retention: presentHorizon(horizon),
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
      },
    );

    app.get(
      '/catchup/plan',
      {
        schema: {
          tags: ['catch-up'],
          summary: 'What a catch-up of one peer would move now (changes per table and direction, files and bytes per folder) and how long it should take',
          querystring: z.object({ server_id: rowIdText }),
          response: { 200: catchupPreviewSchema, ...errorResponses },
        },
      },
      async (request) => {
        const preview = await previewCatchup(ctx.engine, request.query.server_id);
        if (!preview) throw notFound(`Server ${request.query.server_id}`);
        return preview;
      },
    );

    app.post(
      '/catchup/scan',
      {
        schema: {
          tags: ['catch-up'],
          summary: 'Detect peers needing catch-up, ping them and catch the reachable ones up (waits up to SCAN_WAIT_SECONDS)',
          // No body at all (`curl -X POST …` without -d) asks for the same as {}.
          body: z.object({ server_ids: z.array(rowId).optional() }).nullish(),
          response: { 200: scanSchema, 202: pendingSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const serverIds = request.body?.server_ids;
        const deadline = Date.now() + ctx.config.scanWaitSeconds * 1000;
        const scan = await requestScan(ctx, serverIds, request.actor);
        if (!scan.enabled) {
          return { message: 'Catch-up is disabled (catchup_enabled = false)', servers_processed: 0, results: [] };
        }
        const pending = (refs: string[]) =>
          reply.code(202).send({
            message: 'Catch-up is still running; follow it at status_url',
            job_ids: refs,
            status_url: `/api/sync/catchup/jobs?ids=${refs.map(encodeURIComponent).join(',')}`,
          });
        const detected = await waitForJob(ctx, 'detect', scan.detectJobId, deadline);
        if (!detected.done) return pending([`detect:${scan.detectJobId}`]);
        if (detected.failedReason) throw new Error(`detection failed: ${detected.failedReason}`);
        const found = detected.result as DetectJobResult;
        const results: CatchupResult[] = [];
        const refs: string[] = [];
        for (const peer of found.peers) {
          if (!peer.reachable) results.push(unreachableResult(peer.server_id, peer.server_name, peer.error ?? 'unreachable'));
          else if (peer.catchup_job_id) refs.push(`catchup:${peer.catchup_job_id}`);
        }
        const waited = await Promise.all(refs.map((ref) => waitForJob(ctx, 'catchup', ref.slice('catchup:'.length), deadline)));
        if (waited.some((w) => !w.done)) return pending(refs);
        waited.forEach((w, i) => {
          if (w.failedReason) {
            const peer = found.peers.find((p) => `catchup:${p.catchup_job_id}` === refs[i])!;
            results.push(unreachableResult(peer.server_id, peer.server_name, w.failedReason));
          } else {
            results.push(w.result as CatchupResult);
          }
        });
        return { message: 'Catch-up scan completed', servers_processed: results.length, results };
      },
    );

    app.get(
      '/catchup/jobs',
      {
        schema: {
          tags: ['catch-up'],
          summary: 'Progress of scan jobs (ids as returned by a 202 scan)',
          querystring: z.object({ ids: z.string().regex(/^(detect|catchup):\w+(,(detect|catchup):\w+)*$/, 'comma-separated detect:<id> or catchup:<id>') }),
          response: {
            200: z.object({
              jobs: z.array(z.object({ id: z.string(), state: z.string(), result: z.unknown().optional(), failed_reason: z.string().optional() })),
            }),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const jobs = [];
        for (const ref of request.query.ids.split(',')) {
          const [queue, id] = ref.split(':') as ['detect' | 'catchup', string];
          const status = await ctx.queues.jobStatus(queue, id);
          if (!status) throw notFound(`Job ${ref}`);
          jobs.push({
            id: ref,
            state: status.state,
            ...('result' in status ? { result: status.result } : {}),
            ...(status.failedReason !== undefined ? { failed_reason: status.failedReason } : {}),
          });
        }
        return { jobs };
      },
    );
  };

/** An empty application/json body reads as no body (Fastify's own parser refuses it with 400). */
function acceptEmptyJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, null);
    else parseJson(request, body as string, done);
  });
}

const pendingSchema = z.object({ message: z.string(), job_ids: z.array(z.string()), status_url: z.string() });

interface Waited {
  done: boolean;
  result?: unknown;
  failedReason?: string;
}

/** Waits for a job to complete or fail, or for the deadline: its state is read again on each announcement or every 100 ms. */
async function waitForJob(ctx: AppContext, queue: 'detect' | 'catchup', id: string, deadline: number): Promise<Waited> {
  for (;;) {
    const status = await ctx.queues.jobStatus(queue, id);
    if (!status) return { done: true, failedReason: `job ${queue}:${id} disappeared` };
    if (status.state === 'completed') return { done: true, result: status.result };
    if (status.state === 'failed') return { done: true, failedReason: status.failedReason ?? 'failed' };
    const left = deadline - Date.now();
    if (left <= 0) return { done: false };
    await ctx.queues.settledOrAfter(queue, id, Math.min(100, left));
  }
}

function unreachableResult(serverId: number, serverName: string, error: string): CatchupResult {
  const now = new Date().toISOString();
  return {
    server_id: serverId,
    server_name: serverName,
    started_at: now,
    completed_at: now,
    success: false,
    database_changes: { sent: 0, received: 0, applied: 0, skipped_duplicate: 0, skipped_stale: 0 },
    file_changes: noFileChanges(),
    errors: [error],
    duration: 0,
    mode: 'incremental',
  };
}
