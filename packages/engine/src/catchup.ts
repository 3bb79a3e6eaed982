// One catch-up of one peer, in steps the job layer can run as separate jobs: plan, send a range,
// receive a range, finalize. Cursors only move over ranges the other side acknowledged (I8).
import { acknowledgeRange, readChangesJson } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { PingResponse } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { planReceiveRanges, planSendRanges, type Range } from './ranges.ts';
import { applyPeerBatch } from './integrity.ts';

export interface CatchupPlan {
  serverId: number;
  peerNodeId: string;
  batchSize: number;
  send: Range[];
  receive: Range[];
  missingChanges: number;
}

export interface SendOutcome {
  range: Range;
  sent: number;
}

export interface ReceiveOutcome {
  range: Range;
  received: number;
  applied: number;
  skippedDuplicate: number;
  skippedStale: number;
}

/** The seed's per-server result shape (snake_case, as the API returns and sync_logs stores it). */
export interface CatchupResult {
  server_id: number;
  server_name: string;
  started_at: string;
  completed_at: string;
  success: boolean;
  database_changes: { sent: number; received: number; applied: number; skipped_duplicate: number; skipped_stale: number };
  file_changes: { uploaded: number; downloaded: number; deleted: number; conflicts: number; bytes: number };
  errors: string[];
  /** Seconds. */
  duration: number;
}

export async function planCatchup(ctx: EngineContext, server: SyncServer, ping: PingResponse): Promise<CatchupPlan> {
  const { catchup_batch_size: batchSize } = await ctx.settings();
  const send = server.syncDatabase
    ? await planSendRanges(ctx.pool, server.sentCursor.toString(), ping.node_id, batchSize)
    : { ranges: [], changes: 0 };
  const receive = server.syncDatabase ? planReceiveRanges(server.receivedCursor.toString(), ping.latest_sequence, batchSize) : [];
  return {
    serverId: server.id,
    peerNodeId: ping.node_id,
    batchSize,
    send: send.ranges,
    receive,
    missingChanges: send.changes,
  };
}

async function serverById(ctx: EngineContext, serverId: number): Promise<SyncServer> {
  const server = await ctx.db.syncServer.findUnique({ where: { id: serverId } });
  if (!server) throw new Error(`sync server ${serverId} no longer exists`);
  return server;
}

/** Sends the local changes of one range to the peer, then records its acknowledgement. */
export async function sendRange(ctx: EngineContext, serverId: number, peerNodeId: string, range: Range): Promise<SendOutcome> {
  const server = await serverById(ctx, serverId);
  const settings = await ctx.settings();
  let sent = 0;
  let cursor = range.from;
  for (;;) {
    const page = await readChangesJson(ctx.pool, { after: cursor, upTo: range.to, limit: settings.catchup_batch_size, excludeOrigin: peerNodeId });
    if (page.count) {
      await ctx.peerClient(server, settings).applyChanges(page.body);
      sent += page.count;
    }
    cursor = page.nextCursor;
    if (!page.hasMore) break;
  }
  await acknowledgeRange(ctx.pool, serverId, 'sent', range);
  return { range, sent };
}

/** Fetches one range of the peer's log, applies it here, then records it as received. */
export async function receiveRange(ctx: EngineContext, serverId: number, range: Range): Promise<ReceiveOutcome> {
  const server = await serverById(ctx, serverId);
  const settings = await ctx.settings();
  const client = ctx.peerClient(server, settings);
  const outcome: ReceiveOutcome = { range, received: 0, applied: 0, skippedDuplicate: 0, skippedStale: 0 };
  let cursor = range.from;
  for (;;) {
    const page = await client.readChangesToApply({ after: cursor, upTo: range.to, limit: settings.catchup_batch_size, excludeOrigin: ctx.nodeId });
    if (page.changes.length) {
      const result = await applyPeerBatch(ctx, page.changes, { serverId, via: `page pulled from ${server.name}` });
      outcome.received += result.received;
      outcome.applied += result.applied;
      outcome.skippedDuplicate += result.skipped_duplicate;
      outcome.skippedStale += result.skipped_stale;
    }
    if (!page.has_more || BigInt(page.next_cursor) >= BigInt(range.to)) break;
    cursor = page.next_cursor;
  }
  await acknowledgeRange(ctx.pool, serverId, 'received', range);
  return outcome;
}

export interface FinalizeInput {
  serverId: number;
  startedAt: Date;
  sends: SendOutcome[];
  receives: ReceiveOutcome[];
  files?: CatchupResult['file_changes'];
  /** Set when every folder synced: the manifest positions to remember for detection. */
  fileSeqs?: { local: string; peer: string };
  errors: string[];
}

export function describeResult(result: CatchupResult): string {
  const db = result.database_changes;
  const files = result.file_changes.uploaded + result.file_changes.downloaded + result.file_changes.deleted;
  const text = `Applied ${db.applied} database changes, ${files} files synced (sent ${db.sent}, received ${db.received})`;
  return result.errors.length ? `${text}; ${result.errors.length} error(s)` : text;
}

/** Records the outcome: last_sync, one sync_logs row with the full result. */
export async function finalizeCatchup(ctx: EngineContext, input: FinalizeInput): Promise<CatchupResult> {
  const server = await serverById(ctx, input.serverId);
  const completedAt = new Date();
  const sum = <T>(items: T[], pick: (t: T) => number) => items.reduce((n, t) => n + pick(t), 0);
  const result: CatchupResult = {
    server_id: server.id,
    server_name: server.name,
    started_at: input.startedAt.toISOString(),
    completed_at: completedAt.toISOString(),
    success: input.errors.length === 0,
    database_changes: {
      sent: sum(input.sends, (s) => s.sent),
      received: sum(input.receives, (r) => r.received),
      applied: sum(input.receives, (r) => r.applied),
      skipped_duplicate: sum(input.receives, (r) => r.skippedDuplicate),
      skipped_stale: sum(input.receives, (r) => r.skippedStale),
    },
    file_changes: input.files ?? { uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0, bytes: 0 },
    errors: input.errors,
    duration: (completedAt.getTime() - input.startedAt.getTime()) / 1000,
  };
  const files = result.file_changes;
  const somethingDone = input.sends.length + input.receives.length + files.uploaded + files.downloaded + files.deleted + files.conflicts > 0;
  const status = result.success ? 'completed' : somethingDone ? 'partial' : 'failed';
  await ctx.db.$transaction([
    ctx.db.syncLog.create({
      data: {
        serverId: server.id,
        operation: 'catch-up sync',
        status,
        startedAt: input.startedAt,
        completedAt,
        details: describeResult(result),
        result: result as object,
        errorMessage: input.errors.length ? input.errors.join('; ') : null,
      },
    }),
    ctx.db.syncServer.update({
      where: { id: server.id },
      data: {
        ...(result.success ? { lastSync: completedAt, lastError: null } : { lastError: input.errors.join('; ').slice(0, 2000) }),
        ...(input.fileSeqs ? { fileSeqLocal: BigInt(input.fileSeqs.local), fileSeqPeer: BigInt(input.fileSeqs.peer) } : {}),
      },
    }),
  ]);
  return result;
}
