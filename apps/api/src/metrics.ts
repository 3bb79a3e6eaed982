// Prometheus metrics. Catch-up outcomes come from sync_logs (so runs finalized by any worker process
// count), queue depths from Redis and missing changes from the change log, all read at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { connectionsLost as lostConnections } from '@catchup/db';
import { INTEGRITY_ALERT, measurePeers, type CatchupResult } from '@catchup/engine';
import { QUEUE_NAMES, type QueueKey } from '@catchup/queue';
import type { AppContext } from './context.ts';

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
  const files = new Counter({ name: 'catchup_files_total', help: 'Files moved by catch-ups (uploaded, downloaded, deleted, conflicts)', labelNames: ['action'], registers: [registry] });
  const bytes = new Counter({ name: 'catchup_file_bytes_total', help: 'Bytes of files moved by catch-ups', registers: [registry] });
  const duration = new Histogram({
    name: 'catchup_duration_seconds',
    help: 'Duration of catch-up runs',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
    registers: [registry],
  });
  const missing = new Gauge({ name: 'catchup_missing_changes', help: 'Local changes each peer has not acknowledged', labelNames: ['peer'], registers: [registry] });
  const alerts = new Counter({
    name: 'catchup_integrity_alerts_total',
    help: 'Batches refused because a change conflicted with an identity in the log, or claimed this node as its origin (SPEC I12)',
    registers: [registry],
  });
  const jobs = new Gauge({ name: 'catchup_queue_jobs', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: [registry] });
  // Faults survived (SPEC I14), counted by this process since it started.
  const retried = new Counter({
    name: 'catchup_job_retries_total',
    help: "Job attempts that failed and were run again (attempts beyond the first), by this process's workers",
    labelNames: ['queue'],
    registers: [registry],
  });
  const stalled = new Counter({
    name: 'catchup_jobs_stalled_total',
    help: "Jobs handed back after their worker died or lost its lock, found by this process's workers",
    labelNames: ['queue'],
    registers: [registry],
  });
  const connectionsLost = new Counter({
    name: 'catchup_database_connections_lost_total',
    help: "Connections of this process's change-log pool that PostgreSQL dropped (a restart, a network cut), replaced at the next checkout",
    registers: [registry],
  });
  const counted = new Map<string, number>();
  const catchUp = (counter: Counter<string>, key: string, total: number, labels: Record<string, string> = {}) => {
    const delta = total - (counted.get(key) ?? 0);
    if (delta > 0) counter.inc(labels, delta);
    counted.set(key, total);
  };

  let lastLogId = 0;
  const refresh = async () => {
    const faults = ctx.jobFaults?.();
    for (const [queue, n] of Object.entries(faults?.retried ?? {})) catchUp(retried, `retried:${queue}`, n, { queue });
    for (const [queue, n] of Object.entries(faults?.stalled ?? {})) catchUp(stalled, `stalled:${queue}`, n, { queue });
    catchUp(connectionsLost, 'connections', lostConnections(ctx.pool));
    const logs = await ctx.db.syncLog.findMany({ where: { id: { gt: lastLogId }, operation: { in: ['catch-up sync', INTEGRITY_ALERT] } }, orderBy: { id: 'asc' } });
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
    missing.reset();
    for (const peer of await measurePeers(ctx.engine)) missing.set({ peer: peer.server.name }, peer.missingChanges);
    jobs.reset();
    for (const key of Object.keys(QUEUE_NAMES) as QueueKey[]) {
      const counts = await ctx.queues.queues[key].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children');
      for (const [state, n] of Object.entries(counts)) jobs.set({ queue: QUEUE_NAMES[key], state }, n);
    }
  };
  return { registry, refresh };
}
