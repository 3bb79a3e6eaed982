// Retention (SPEC I11): what a prune removes, and how close each peer is to needing a full baseline.
// Pruning keeps every row's standing version (tombstones included), so a peer behind the pruned horizon
// is caught up from the retained log — labelled a full baseline (see catchup.ts).
import { needsFullBaseline, oldestUnacknowledged, pruneLog, readLogHorizon, type LogHorizon } from '@catchup/changelog';
import { PRUNE_CHUNK_SIZE, type SyncServer } from '@catchup/db';
import { pruneFileTombstones } from '@catchup/files';
import { ADMIN_OPERATIONS, recordAdminAction, SCHEDULER_ACTOR } from './audit.ts';
import type { EngineContext } from './context.ts';

/** The sync_logs operation of a prune. */
export const PRUNE_OPERATION = ADMIN_OPERATIONS.prune;
const DAY_MS = 86_400_000;

/** What a prune removed, per kind, and the horizons it left (the API's answer, the prune job's result). */
export interface PruneReport {
  /** false when another prune was running (nothing done by this one). */
  ran: boolean;
  /** The age limit: now minus max_catchup_days. */
  before: string;
  removed: {
    /** Change-log entries superseded by a version the log keeps. */
    change_log_entries: number;
    /** Of them, deletes superseded by a later write of their row. */
    change_log_deletes: number;
    file_tombstones: number;
    sync_logs: number;
  };
  horizons: {
    /** Highest log position pruned: a peer whose cursor is below it gets a full baseline. */
    pruned_through: string;
    /** Highest origin sequence of this node's own changes pruned. */
    own_pruned_through: string;
    pruned_before: string | null;
    pruned_at: string | null;
  };
  /** Seconds. */
  duration: number;
}

export const presentHorizon = (h: LogHorizon): PruneReport['horizons'] => ({
  pruned_through: h.prunedThrough,
  own_pruned_through: h.ownPrunedThrough,
  pruned_before: h.prunedBefore?.toISOString() ?? null,
  pruned_at: h.prunedAt?.toISOString() ?? null,
});

/** The age limit of a prune run at `now`. */
export const retentionCutoff = (now: Date, maxCatchupDays: number): Date => new Date(now.getTime() - maxCatchupDays * DAY_MS);

/**
 * Removes sync_logs rows started before `before`, except the newest row of each peer and operation (the
 * last catch-up of a peer, its last integrity alert: what status and alert de-duplication read). In
 * chunks of ids, each one short statement.
 */
export async function pruneSyncLogs(ctx: EngineContext, before: Date, chunkSize = PRUNE_CHUNK_SIZE): Promise<number> {
  const { rows } = await ctx.pool.query<{ low: number | null; high: number | null }>(
    `SELECT min(id) AS low, max(id) AS high FROM sync_logs WHERE started_at < $1`,
    [before],
  );
  const { low, high } = rows[0]!;
  if (low === null || high === null) return 0;
  let removed = 0;
  for (let from = low; from <= high; from += chunkSize) {
    const { rowCount } = await ctx.pool.query(
      `DELETE FROM sync_logs l
        WHERE l.id >= $1 AND l.id < $2 AND l.started_at < $3
          AND EXISTS (SELECT 1 FROM sync_logs n
                       WHERE n.server_id IS NOT DISTINCT FROM l.server_id AND n.operation = l.operation
                         AND (n.started_at, n.id) > (l.started_at, l.id))`,
      [from, from + chunkSize, before],
    );
    removed += rowCount ?? 0;
  }
  return removed;
}

/**
 * One retention prune of this node: the change log (standing versions kept), file tombstones and sync
 * logs older than max_catchup_days. Recorded in the audit trail (operation 'prune', its report as the
 * row's result) when it ran; `actor` is who asked for it (the scheduled prune job when none is given).
 */
export async function pruneNode(ctx: EngineContext, { actor = SCHEDULER_ACTOR, now = new Date() }: { actor?: string; now?: Date } = {}): Promise<PruneReport> {
  const settings = await ctx.settings();
  const before = retentionCutoff(now, settings.max_catchup_days);
  const startedAt = new Date();
  const log = await pruneLog(ctx.pool, { before, nodeId: ctx.nodeId });
  const report: PruneReport = {
    ran: log.ran,
    before: before.toISOString(),
    removed: { change_log_entries: log.entries, change_log_deletes: log.deletes, file_tombstones: 0, sync_logs: 0 },
    horizons: presentHorizon(log.horizon),
    duration: 0,
  };
  if (log.ran) {
    report.removed.file_tombstones = await pruneFileTombstones(ctx.pool, before);
    report.removed.sync_logs = await pruneSyncLogs(ctx, before);
  }
  const completedAt = new Date();
  report.duration = (completedAt.getTime() - startedAt.getTime()) / 1000;
  if (log.ran) {
    const r = report.removed;
    await recordAdminAction(ctx, {
      operation: PRUNE_OPERATION,
      actor,
      startedAt,
      details:
        `Pruned ${r.change_log_entries} change-log entries (${r.change_log_deletes} superseded deletes), ${r.file_tombstones} file tombstones, ` +
        `${r.sync_logs} sync logs older than ${report.before}; log pruned through position ${report.horizons.pruned_through}`,
      facts: { ...report },
    });
  }
  return report;
}

/** How a peer stands against this node's retention (status, servers listing). */
export interface PeerRetention {
  /** Its sent cursor is below this node's pruned horizon: its next catch-up is a full baseline. */
  needs_full_baseline: boolean;
  /**
   * Days until the oldest change it has not acknowledged is older than max_catchup_days (and may be
   * pruned): 0 when that is already so, null when it lacks nothing.
   */
  days_until_full_baseline: number | null;
}

/** The pure part of peerRetention: from the peer's cursor, the horizon, and its oldest unacknowledged change. */
export function retentionOf(
  sentCursor: string,
  horizon: Pick<LogHorizon, 'prunedThrough'>,
  oldestUnacknowledged: Date | null,
  maxCatchupDays: number,
  now: Date,
): PeerRetention {
  const needs = needsFullBaseline(sentCursor, horizon.prunedThrough);
  if (needs) return { needs_full_baseline: true, days_until_full_baseline: 0 };
  if (oldestUnacknowledged === null) return { needs_full_baseline: false, days_until_full_baseline: null };
  const left = (oldestUnacknowledged.getTime() + maxCatchupDays * DAY_MS - now.getTime()) / DAY_MS;
  return { needs_full_baseline: false, days_until_full_baseline: Math.max(0, Math.floor(left * 10) / 10) };
}

/** The peer's standing against retention, read from its cursor and the oldest change it lacks. */
export async function peerRetention(ctx: EngineContext, server: SyncServer, horizon?: LogHorizon, now = new Date()): Promise<PeerRetention> {
  return (await peerRetentions(ctx, [server], horizon, now))[0]!;
}

/** peerRetention of many peers, their oldest unacknowledged changes read in one statement. */
export async function peerRetentions(ctx: EngineContext, servers: SyncServer[], horizon?: LogHorizon, now = new Date()): Promise<PeerRetention[]> {
  const settings = await ctx.settings();
  const h = horizon ?? (await readLogHorizon(ctx.pool));
  const synced = servers.filter((s) => s.syncDatabase);
  const oldest = await oldestUnacknowledged(
    ctx.pool,
    synced.map((s) => ({ sentCursor: s.sentCursor.toString(), peerNodeId: s.peerNodeId })),
  );
  const byServer = new Map(synced.map((s, i) => [s, oldest[i] ?? null]));
  return servers.map((s) =>
    s.syncDatabase
      ? retentionOf(s.sentCursor.toString(), h, byServer.get(s) ?? null, settings.max_catchup_days, now)
      : { needs_full_baseline: false, days_until_full_baseline: null },
  );
}
