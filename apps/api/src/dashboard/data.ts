// What the sync dashboard shows, read the way the API routes read it (measurePeers, peerRetentions,
// consecutiveFailures, the sync log, NodeQueues): never through the node's own HTTP API.
import { readLogHorizon } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import { catchupResultSchema, consecutiveFailures, estimateSeconds, measurePeers, peerRetentions, recentPaces } from '@catchup/engine';
import type { AppContext } from '../context.ts';

export interface PeerView {
  id: number;
  name: string;
  address: string;
  /** Active and sync-enabled: detection measures and catches it up. */
  syncing: boolean;
  pingSuccess: boolean | null;
  lastPing: Date | null;
  clockOffsetMs: number | null;
  lastSync: Date | null;
  /** Local changes it has not acknowledged; null when not measured (sync off, or its database not synced). */
  missingChanges: number | null;
  /** Seconds to send them at the pace of its recent runs (estimateSeconds); null without a pace or a count. */
  secondsToLevel: number | null;
  needsFullBaseline: boolean;
  daysUntilFullBaseline: number | null;
  lastError: string | null;
  /** Catch-up runs since its last complete one that did not complete. */
  failuresInRow: number;
  /** A catch-up job of this peer: running now, or queued. */
  inFlight: 'running' | 'queued' | null;
}

export interface RunView {
  id: number;
  serverName: string | null;
  status: string;
  startedAt: Date;
  completedAt: Date | null;
  details: string | null;
  errorMessage: string | null;
  /** Seconds, from the run's result; null for a row without one (a peer that refused before a run). */
  duration: number | null;
  mode: string | null;
}

export interface ChartPoint {
  at: Date;
  seconds: number;
  status: string;
  serverName: string | null;
}

export interface DashboardData {
  nodeName: string;
  catchupEnabled: boolean;
  maxCatchupDays: number;
  prunedThrough: string;
  peers: PeerView[];
  runs: RunView[];
  chart: ChartPoint[];
  /** Detection jobs running or waiting their turn (a scan's, or the schedule's when it is due). */
  detectionsInFlight: number;
  readAt: Date;
}

/** Runs listed in the table, and runs drawn in the duration chart. */
export const RECENT_RUNS = 15;
export const CHART_RUNS = 60;

export async function readDashboard(ctx: AppContext): Promise<DashboardData> {
  const settings = await ctx.engine.settings();
  const horizon = await readLogHorizon(ctx.pool);
  // measurePeers measures the peers detection catches up (active, sync enabled); the others are listed too.
  const measured = new Map((await measurePeers(ctx.engine)).map((need) => [need.server.id, need]));
  const others = await ctx.db.syncServer.findMany({ where: { id: { notIn: [...measured.keys()] } }, orderBy: { id: 'asc' } });
  const servers: SyncServer[] = [...[...measured.values()].map((n) => n.server), ...others].sort((x, y) => x.id - y.id);
  const [retention, failures, inFlight, detectionsInFlight, logs, chartLogs, paceOf] = await Promise.all([
    peerRetentions(ctx.engine, servers, horizon),
    consecutiveFailures(
      ctx.engine,
      servers.map((s) => s.id),
    ),
    catchupsInFlight(ctx),
    // The detection scheduler's next run waits delayed: not under way.
    ctx.queues.unsettledJobs('detect', 10).then(({ running, waiting }) => running.length + waiting.length),
    ctx.db.syncLog.findMany({
      where: { operation: 'catch-up sync' },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: RECENT_RUNS,
      include: { server: { select: { name: true } } },
    }),
    ctx.db.syncLog.findMany({
      where: { operation: 'catch-up sync', completedAt: { not: null } },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: CHART_RUNS,
      include: { server: { select: { name: true } } },
    }),
    recentPaces(ctx.engine),
  ]);
  const runOf = (log: (typeof logs)[number]) => {
    const parsed = catchupResultSchema.safeParse(log.result);
    return { duration: parsed.success ? parsed.data.duration : null, mode: parsed.success ? parsed.data.mode : null };
  };
  return {
    nodeName: ctx.config.nodeName,
    catchupEnabled: settings.catchup_enabled,
    maxCatchupDays: settings.max_catchup_days,
    prunedThrough: horizon.prunedThrough,
    peers: servers.map((server, i) => {
      const missingChanges = measured.has(server.id) && server.syncDatabase ? measured.get(server.id)!.missingChanges : null;
      return {
        id: server.id,
        name: server.name,
        address: `${server.protocol}://${server.host}:${server.port}`,
        syncing: server.isActive && server.syncEnabled,
        pingSuccess: server.pingSuccess,
        lastPing: server.lastPing,
        clockOffsetMs: server.clockOffsetMs === null ? null : Number(server.clockOffsetMs),
        lastSync: server.lastSync,
        missingChanges,
        secondsToLevel: missingChanges ? estimateSeconds(missingChanges, 0, paceOf(server.id)).seconds : null,
        needsFullBaseline: retention[i]!.needs_full_baseline,
        daysUntilFullBaseline: retention[i]!.days_until_full_baseline,
        lastError: server.lastError,
        failuresInRow: failures[i] ?? 0,
        inFlight: inFlight.get(server.id) ?? null,
      };
    }),
    runs: logs.map((log) => ({
      id: log.id,
      serverName: log.server?.name ?? null,
      status: log.status,
      startedAt: log.startedAt,
      completedAt: log.completedAt,
      details: log.details,
      errorMessage: log.errorMessage,
      ...runOf(log),
    })),
    chart: chartLogs
      .flatMap((log) => {
        const { duration } = runOf(log);
        return duration === null ? [] : [{ at: log.startedAt, seconds: duration, status: log.status, serverName: log.server?.name ?? null }];
      })
      .reverse(),
    detectionsInFlight,
    readAt: new Date(),
  };
}

/** Per server id, whether a catch-up job of it runs now or waits in the queue. */
async function catchupsInFlight(ctx: AppContext): Promise<Map<number, 'running' | 'queued'>> {
  const { running, waiting, delayed } = await ctx.queues.unsettledJobs('catchup');
  const queued = [...waiting, ...delayed];
  const out = new Map<number, 'running' | 'queued'>();
  const serverOf = (job: { data: unknown }) => (job.data as { serverId?: number } | undefined)?.serverId;
  for (const [jobs, state] of [
    [queued, 'queued'],
    [running, 'running'],
  ] as const) {
    for (const job of jobs) {
      const id = serverOf(job);
      if (typeof id === 'number') out.set(id, state);
    }
  }
  return out;
}
