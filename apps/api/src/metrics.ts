// Prometheus metrics. Catch-up outcomes come from sync_logs (so runs finalized by any worker process
// count), queue depths from Redis and missing changes from the change log, all read at scrape time.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { INTEGRITY_ALERT, measurePeers, type CatchupResult } from '@catchup/engine';
import { QUEUE_NAMES, type FaultCount, type FaultKind, type QueueKey } from '@catchup/queue';
import { sha256 } from './api-key.ts';
import { authenticate, bearerToken, type FailedAuthLimit } from './auth.ts';
import type { AppContext } from './context.ts';

/** The actor of a scrape that presented METRICS_TOKEN. */
export const METRICS_ACTOR = 'metrics token';

/**
 * The onRequest hooks of GET /metrics: with METRICS_TOKEN set, Authorization: Bearer <token> is required
 * (401 otherwise); unset, /metrics is open, for a scraper on a network the operator trusts.
 */
export function metricsAccess(token: string | undefined, limit: FailedAuthLimit): ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>)[] {
  if (!token) return [];
  const expected = sha256(token);
  return [
    authenticate(limit, {
      presented: bearerToken,
      check: (presented) => timingSafeEqual(sha256(presented), expected),
      actor: METRICS_ACTOR,
      refuse: (reply) =>
        reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid metrics token' }),
    }),
  ];
}

export interface Metrics {
  registry: Registry;
  /** Brings the metrics up to date; call before serializing. */
  refresh(): Promise<void>;
}

export function createMetrics(ctx: AppContext): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'catchup_' });
  const runs = new Counter({ name: 'catchup_runs_total', help: 'Catch-up runs by outcome', labelNames: ['outcome'], registers: [registry] });
  const changes = new Counter({
    name: 'catchup_changes_total',
    help: 'Database changes moved by catch-ups (sent, received, applied, skipped_duplicate, skipped_stale)',
    labelNames: ['kind'],
    registers: [registry],
  });
  const files = new Counter({
    name: 'catchup_files_total',
    help: 'Files moved by catch-ups (uploaded, downloaded, deleted, conflicts)',
    labelNames: ['action'],
    registers: [registry],
  });
  const bytes = new Counter({ name: 'catchup_file_bytes_total', help: 'Bytes of files moved by catch-ups', registers: [registry] });
  const duration = new Histogram({
    name: 'catchup_duration_seconds',
    help: 'Duration of catch-up runs',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
    registers: [registry],
  });
  const missing = new Gauge({
    name: 'catchup_missing_changes',
    help: 'Local changes each peer has not acknowledged',
    labelNames: ['peer'],
    registers: [registry],
  });
  const alerts = new Counter({
    name: 'catchup_integrity_alerts_total',
    help: 'Batches refused because a change conflicted with an identity in the log, or claimed this node as its origin (SPEC I12)',
    registers: [registry],
  });
  const jobs = new Gauge({ name: 'catchup_queue_jobs', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry] });
  // Faults survived (SPEC I14), summed over the node's processes (this API process and any worker
  // processes), as the fault ledger in Redis holds them: each scrape reports the sums as they stand.
  const faultCounter = (name: string, help: string, kinds: FaultKind[], labelNames: string[] = []) => {
    const counter = new Counter({ name, help, labelNames, registers: [registry] });
    return (counts: FaultCount[]) => {
      counter.reset();
      for (const c of counts) if (kinds.includes(c.kind)) counter.inc(labelNames.length ? { queue: c.queue } : {}, c.count);
    };
  };
  const faultCounters = [
    faultCounter(
      'catchup_job_retries_total',
      "Job attempts that failed and were run again (attempts beyond the first), by the node's workers",
      ['job_retried'],
      ['queue'],
    ),
    faultCounter(
      'catchup_jobs_stalled_total',
      "Jobs handed back after their worker died or lost its lock, found by the node's workers",
      ['job_stalled'],
      ['queue'],
    ),
    faultCounter(
      'catchup_database_connections_lost_total',
      "Connections of the node's processes to PostgreSQL that were dropped (a restart, a network cut), replaced at the next checkout",
      ['database_connection_lost'],
    ),
    faultCounter('catchup_redis_reconnects_total', 'Times a process of the node connected to Redis again after losing it', ['redis_reconnected']),
  ];

  const up = new Gauge({
    name: 'catchup_dependency_up',
    help: 'Whether the last scrape could read PostgreSQL or Redis (metrics from one that could not keep their last values)',
    labelNames: ['dependency'],
    registers: [registry],
  });

  let lastLogId = 0;
  const fromDatabase = async () => {
    const logs = await ctx.db.syncLog.findMany({
      where: { id: { gt: lastLogId }, operation: { in: ['catch-up sync', INTEGRITY_ALERT] } },
      orderBy: { id: 'asc' },
    });
    for (const log of logs) {
      lastLogId = log.id;
      if (log.operation === INTEGRITY_ALERT) {
        alerts.inc();
        continue;
      }
      runs.inc({ outcome: log.status });
      const result = log.result as CatchupResult | null;
      if (!result) continue;
      for (const [kind, n] of Object.entries(result.database_changes ?? {})) changes.inc({ kind }, n);
      const { bytes: moved = 0, ...actions } = result.file_changes ?? {};
      for (const [action, n] of Object.entries(actions)) files.inc({ action }, n);
      bytes.inc(moved);
      duration.observe(result.duration);
    }
    const peers = await measurePeers(ctx.engine);
    missing.reset();
    for (const peer of peers) missing.set({ peer: peer.server.name }, peer.missingChanges);
  };
  const fromRedis = async () => {
    const faults = await ctx.faults.totals();
    const counts = await Promise.all(
      (Object.keys(QUEUE_NAMES) as QueueKey[]).map(async (key) => ({
        queue: QUEUE_NAMES[key],
        counts: await ctx.queues.queues[key].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children'),
      })),
    );
    for (const report of faultCounters) report(faults);
    jobs.reset();
    for (const { queue, counts: byState } of counts) for (const [state, n] of Object.entries(byState)) jobs.set({ queue, state }, n);
  };
  // A scrape during a fault answers with what it could read: that is when the fault counters matter most.
  const refresh = async () => {
    const [postgres, redis] = await Promise.allSettled([fromDatabase(), fromRedis()]);
    up.set({ dependency: 'postgres' }, postgres.status === 'fulfilled' ? 1 : 0);
    up.set({ dependency: 'redis' }, redis.status === 'fulfilled' ? 1 : 0);
  };
  return { registry, refresh };
}
