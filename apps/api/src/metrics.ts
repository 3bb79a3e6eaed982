// Prometheus metrics. Catch-up outcomes come from sync_logs (so runs finalized by any worker process
// count), queue depths from Redis, missing changes from the change log and each peer's standing
// (failures in a row, reachability, retention) from sync_servers and sync_logs, all read at scrape time.
// ops/ holds the Grafana dashboard and Prometheus alert rules built on these names.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { INTEGRITY_ALERT, consecutiveFailures, measurePeers, peerRetentions, type CatchupResult } from '@catchup/engine';
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
  // Per peer, what alerting on a peer failing repeatedly or falling behind retention stands on; each
  // series is absent for a peer it says nothing about (never pinged, or lacking nothing).
  const peerGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['peer'], registers: [registry] });
  const peerFailures = peerGauge(
    'catchup_peer_consecutive_failures',
    'Catch-up runs with the peer since its last complete one that ended failed or partial (refusals included)',
  );
  const peerReachable = peerGauge('catchup_peer_reachable', 'Whether the peer answered its last ping (1) or not (0); absent before its first ping');
  const peerPingFailures = new Counter({
    name: 'catchup_peer_ping_failures_total',
    help: 'Pings of the peer that got no usable answer (its error_count)',
    labelNames: ['peer'],
    registers: [registry],
  });
  const peerLastSync = peerGauge('catchup_peer_last_sync_timestamp_seconds', 'When the last complete catch-up with the peer finished (Unix seconds)');
  const peerNeedsBaseline = peerGauge(
    'catchup_peer_needs_full_baseline',
    "Whether the peer's cursor is below this node's pruned log horizon (1): its next catch-up is a full baseline",
  );
  const peerDaysLeft = peerGauge(
    'catchup_peer_days_until_full_baseline',
    'Days until the oldest change the peer lacks is older than max_catchup_days and may be pruned (0: already so); absent when it lacks nothing',
  );
  const alerts = new Counter({
    name: 'catchup_integrity_alerts_total',
    help: 'Batches refused because a change conflicted with an identity in the log, or claimed this node as its origin (SPEC I12)',
    registers: [registry],
  });
  // Jobs with a priority (catch-up batches) wait in state prioritized, not waiting: the backlog is both.
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
    const needing = peers.filter((p) => p.missingChanges > 0);
    const [failures, retention] = await Promise.all([
      consecutiveFailures(
        ctx.engine,
        peers.map((p) => p.server.id),
      ),
      peerRetentions(
        ctx.engine,
        needing.map((p) => p.server),
      ),
    ]);
    const retentionOf = new Map(needing.map((p, i) => [p, retention[i]!]));
    for (const gauge of [missing, peerFailures, peerReachable, peerLastSync, peerNeedsBaseline, peerDaysLeft]) gauge.reset();
    peerPingFailures.reset();
    for (const [i, peer] of peers.entries()) {
      const { server } = peer;
      const labels = { peer: server.name };
      missing.set(labels, peer.missingChanges);
      peerFailures.set(labels, failures[i]!);
      if (server.pingSuccess !== null) peerReachable.set(labels, server.pingSuccess ? 1 : 0);
      peerPingFailures.inc(labels, server.errorCount);
      if (server.lastSync) peerLastSync.set(labels, server.lastSync.getTime() / 1000);
      const standing = retentionOf.get(peer);
      peerNeedsBaseline.set(labels, standing?.needs_full_baseline ? 1 : 0);
      if (standing?.days_until_full_baseline != null) peerDaysLeft.set(labels, standing.days_until_full_baseline);
    }
  };
  const fromRedis = async () => {
    const faults = await ctx.faults.totals();
    const counts = await Promise.all(
      (Object.keys(QUEUE_NAMES) as QueueKey[]).map(async (key) => ({
        queue: QUEUE_NAMES[key],
        counts: await ctx.queues.queues[key].getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'),
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
