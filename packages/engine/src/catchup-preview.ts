// What a catch-up of one peer would move now, without moving anything (GET /api/sync/catchup/plan):
// changes per table in each direction, files and bytes per folder, whether a direction is a full
// baseline, and how long it should take at the pace of recent runs.
import { backlogByTable, needsFullBaseline, readLogHorizon } from '@catchup/changelog';
import type { FileDirectory } from '@catchup/files';
import { z } from 'zod';
import { catchupResultSchema } from './catchup-result.ts';
import type { EngineContext } from './context.ts';
import { enabledDirectories, readFolderPlan } from './files.ts';
import type { FilePlan } from './files-plan.ts';
import { pingPeer } from './ping.ts';
import { teamScopeOf } from './team-scope.ts';

const tableChanges = z.object({ table_name: z.string(), changes: z.number() });
const fileCount = z.object({ files: z.number(), bytes: z.number() });

export const folderPreviewSchema = z.object({
  directory: z.string(),
  upload: fileCount,
  download: fileCount,
  delete_remote: z.number(),
  delete_local: z.number(),
  conflicts: z.number(),
  /** A name that is a file on one side and a folder on the other: left alone, reported. */
  clashes: z.number(),
});
export type FolderPreview = z.infer<typeof folderPreviewSchema>;

export const catchupPreviewSchema = z.object({
  server_id: z.number(),
  server_name: z.string(),
  reachable: z.boolean(),
  error: z.string().nullable().describe('why the peer gave no usable answer (then only what this node would send is known)'),
  full_baseline: z.object({ send: z.boolean(), receive: z.boolean().nullable() }),
  database: z.object({
    send: z.object({ changes: z.number(), tables: z.array(tableChanges) }),
    receive: z
      .object({ changes: z.number(), tables: z.array(tableChanges) })
      .nullable()
      .describe('null when the peer is unreachable or of a version that cannot say'),
  }),
  files: z.array(folderPreviewSchema).nullable().describe('per folder the peer syncs; null when the peer is unreachable'),
  estimated_seconds: z.number().nullable().describe('at the pace of the last completed runs with this peer (or any); null without one'),
  estimate_basis: z.string(),
});
export type CatchupPreview = z.infer<typeof catchupPreviewSchema>;

/** What a folder's plan would move (pure). */
export function summarizeFolderPlan(directory: FileDirectory, plan: FilePlan): FolderPreview {
  const out: FolderPreview = {
    directory,
    upload: { files: 0, bytes: 0 },
    download: { files: 0, bytes: 0 },
    delete_remote: 0,
    delete_local: 0,
    conflicts: 0,
    clashes: plan.clashes.length,
  };
  for (const step of plan.steps) {
    if (step.kind === 'upload') {
      out.upload.files++;
      out.upload.bytes += step.local.size;
    } else if (step.kind === 'download') {
      out.download.files++;
      out.download.bytes += step.remote.size;
    } else if (step.kind === 'delete-remote') out.delete_remote++;
    else if (step.kind === 'delete-local') out.delete_local++;
    else if (step.kind === 'conflict') {
      out.conflicts++;
      // The winner moves to the loser's side, and the loser's copy to the winner's.
      out.upload.bytes += step.local.size;
      out.download.bytes += step.remote.size;
    }
  }
  return out;
}

/** A completed run's size and duration, as its sync_logs row's result holds them. */
export interface RunPace {
  changes: number;
  fileBytes: number;
  seconds: number;
}

/**
 * How long moving `changes` and `fileBytes` takes at the pace of recent runs (pure): changes per second
 * and bytes per second over the runs that moved some, each run's time shared by what it moved.
 */
export function estimateSeconds(changes: number, fileBytes: number, runs: RunPace[]): { seconds: number | null; basis: string } {
  if (changes === 0 && fileBytes === 0) return { seconds: 0, basis: 'nothing to move' };
  const moved = runs.filter((r) => r.seconds > 0 && (r.changes > 0 || r.fileBytes > 0));
  if (!moved.length) return { seconds: null, basis: 'no completed run has moved anything yet' };
  const total = moved.reduce((t, r) => ({ changes: t.changes + r.changes, bytes: t.bytes + r.fileBytes, seconds: t.seconds + r.seconds }), {
    changes: 0,
    bytes: 0,
    seconds: 0,
  });
  // A run's time is split between its changes and its bytes in proportion to what each would take at
  // one-changes-to-one-kilobyte; good enough to say minutes or hours.
  const weight = total.changes + total.bytes / 1024;
  const perUnit = total.seconds / weight;
  const seconds = Math.round((changes + fileBytes / 1024) * perUnit * 10) / 10;
  return { seconds, basis: `the pace of the last ${moved.length} run(s) that moved something` };
}

const RECENT_RUNS = 10;
/** Completed runs read for the paces of every peer at once. */
const RUNS_READ = 500;

/**
 * The paces of recent completed runs, per peer: its last RECENT_RUNS, or when it has none those of every
 * peer. Read in one query, for a page that estimates every peer's time to level.
 */
export async function recentPaces(ctx: EngineContext): Promise<(serverId: number) => RunPace[]> {
  const logs = await ctx.db.syncLog.findMany({
    where: { operation: 'catch-up sync', status: 'completed' },
    orderBy: { id: 'desc' },
    take: RUNS_READ,
    select: { serverId: true, result: true },
  });
  const byServer = new Map<number, RunPace[]>();
  const all: RunPace[] = [];
  for (const log of logs) {
    const parsed = catchupResultSchema.safeParse(log.result);
    if (!parsed.success) continue;
    const r = parsed.data;
    const pace = { changes: r.database_changes.sent + r.database_changes.received, fileBytes: r.file_changes.bytes, seconds: r.duration };
    if (all.length < RECENT_RUNS) all.push(pace);
    if (log.serverId === null) continue;
    const mine = byServer.get(log.serverId) ?? [];
    if (mine.length < RECENT_RUNS) byServer.set(log.serverId, [...mine, pace]);
  }
  return (serverId) => byServer.get(serverId) ?? all;
}

export async function previewCatchup(ctx: EngineContext, serverId: number): Promise<CatchupPreview | null> {
  const server = await ctx.db.syncServer.findUnique({ where: { id: serverId } });
  if (!server) return null;
  const horizon = await readLogHorizon(ctx.pool);
  const sendTables = server.syncDatabase
    ? await backlogByTable(ctx.pool, { sentCursor: server.sentCursor.toString(), peerNodeId: server.peerNodeId, scope: await teamScopeOf(ctx, server) })
    : [];
  const send = { changes: sendTables.reduce((n, t) => n + t.changes, 0), tables: sendTables };
  const ping = await pingPeer(ctx, server);
  const base = {
    server_id: server.id,
    server_name: server.name,
    full_baseline: { send: send.changes > 0 && needsFullBaseline(server.sentCursor.toString(), horizon.prunedThrough), receive: null },
  };
  if (!ping.ok) {
    const estimate = estimateSeconds(send.changes, 0, (await recentPaces(ctx))(server.id));
    return {
      ...base,
      reachable: false,
      error: ping.reason,
      database: { send, receive: null },
      files: null,
      estimated_seconds: estimate.seconds,
      estimate_basis: `${estimate.basis}; what the peer would send is unknown`,
    };
  }
  const client = ctx.peerClient(server, await ctx.settings());
  const summary = server.syncDatabase ? await client.changesSummary(server.receivedCursor.toString(), ctx.nodeId) : { tables: [], changes: 0 };
  const receive = summary ? { changes: summary.changes, tables: summary.tables } : null;
  const files: FolderPreview[] = [];
  for (const directory of enabledDirectories(server)) {
    files.push(summarizeFolderPlan(directory, (await readFolderPlan(ctx, server, directory)).plan));
  }
  const fileBytes = files.reduce((n, f) => n + f.upload.bytes + f.download.bytes, 0);
  const estimate = estimateSeconds(send.changes + (receive?.changes ?? 0), fileBytes, (await recentPaces(ctx))(server.id));
  return {
    ...base,
    reachable: true,
    error: null,
    full_baseline: {
      send: base.full_baseline.send,
      receive: receive === null ? null : receive.changes > 0 && needsFullBaseline(server.receivedCursor.toString(), ping.ping.pruned_through ?? '0'),
    },
    database: { send, receive },
    files,
    estimated_seconds: estimate.seconds,
    estimate_basis: receive === null ? `${estimate.basis}; the peer cannot say what it would send (an older version)` : estimate.basis,
  };
}
