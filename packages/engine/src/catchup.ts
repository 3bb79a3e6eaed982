// One catch-up of one peer, in steps the job layer can run as separate jobs: plan, send a range,
// receive a range, finalize. Cursors only move over ranges the other side acknowledged (I8).
import { acknowledgeRange, needsFullBaseline, readLogHorizon } from '@catchup/changelog';
import type { RuntimeSettings } from '@catchup/config';
import type { SyncServer } from '@catchup/db';
import type { PeerClient, PingResponse } from '@catchup/peer-client';
import type { FileDirectory } from '@catchup/files';
import type { EngineContext } from './context.ts';
import { filePositionsAfterSync, type FilePositions } from './file-positions.ts';
import { teamScopeOf } from './team-scope.ts';
import { planReceiveRanges, planSendRanges, type Range } from './ranges.ts';
import { asOneRange, readsAsBaseline, receivePages, sendRangeByKey, type RangeReceived } from './full-baseline.ts';
import { heldElsewherePossible, receiveRangeSkippingHeld, sendRangeSkippingHeld, type HeldSkipped } from './held-ranges.ts';
import { receiveLogStream, sendLogStream, type RangeSent, type SendingTo } from './log-stream-ranges.ts';
import { sendPages } from './send-pages.ts';
import { describeResult, sumFileChanges, type CatchupResult, type FileChanges, type FullBaselineCounts } from './catchup-result.ts';

export interface CatchupPlan {
  serverId: number;
  peerNodeId: string;
  batchSize: number;
  send: Range[];
  /** Per range to send, the rank of its most urgent table (table_priorities; 0 first): what orders the batches. */
  sendRanks: number[];
  receive: Range[];
  missingChanges: number;
  fullBaseline: FullBaselineDirections;
}

/**
 * Which directions of a run are full baselines (SPEC I11): the reader's cursor lies below the pruned
 * horizon of the log it reads, so it gets the standing version of every row it lacks — not every change.
 */
export interface FullBaselineDirections {
  /** The peer's sent cursor is below this node's pruned horizon. */
  send: boolean;
  /** This node's received cursor is below the peer's pruned horizon. */
  receive: boolean;
}

/** What a batch-send job sent; skippedHeld: what it left out because the peer held it (absent: no held check). */
export type SendOutcome = { range: Range } & RangeSent & Partial<HeldSkipped>;

/** What a batch-receive job received and applied; skippedHeld: what it did not read because this node held it. */
export type ReceiveOutcome = { range: Range } & RangeReceived & Partial<HeldSkipped>;

const sum = <T>(items: T[], pick: (t: T) => number) => items.reduce((n, t) => n + pick(t), 0);

export async function planCatchup(ctx: EngineContext, server: SyncServer, ping: PingResponse): Promise<CatchupPlan> {
  const { catchup_batch_size: batchSize, table_priorities: priorities } = await ctx.settings();
  const scope = await teamScopeOf(ctx, server);
  const send = server.syncDatabase
    ? await planSendRanges(ctx.pool, server.sentCursor.toString(), ping.node_id, batchSize, { scope, priorities })
    : { ranges: [], ranks: [], changes: 0 };
  const receive = server.syncDatabase ? planReceiveRanges(server.receivedCursor.toString(), ping.latest_sequence, batchSize) : [];
  const horizon = await readLogHorizon(ctx.pool);
  const fullBaseline = {
    send: send.ranges.length > 0 && needsFullBaseline(server.sentCursor.toString(), horizon.prunedThrough),
    receive: receive.length > 0 && needsFullBaseline(server.receivedCursor.toString(), ping.pruned_through ?? '0'),
  };
  return {
    serverId: server.id,
    peerNodeId: ping.node_id,
    batchSize,
    // A full baseline goes as one range, read in row-key order (see full-baseline.ts).
    send: fullBaseline.send ? asOneRange(send.ranges) : send.ranges,
    sendRanks: fullBaseline.send && send.ranks.length ? [Math.min(...send.ranks)] : send.ranks,
    receive: fullBaseline.receive ? asOneRange(receive) : receive,
    missingChanges: send.changes,
    fullBaseline,
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
  const peer = { serverId, peerNodeId, scope: await teamScopeOf(ctx, server) };
  const sent = await sendChanges(ctx, ctx.peerClient(server, settings), peer, range, settings);
  await acknowledgeRange(ctx.pool, serverId, 'sent', range);
  return { range, ...sent };
}

/**
 * The range's changes, the way the peer takes them: a full baseline in row-key order; without what the
 * peer holds already, when it may hold some (held checks); as one log stream to a peer without a team
 * scope; else in pages.
 */
async function sendChanges(
  ctx: EngineContext,
  client: PeerClient,
  peer: SendingTo & { serverId: number },
  range: Range,
  settings: RuntimeSettings,
): Promise<RangeSent & Partial<HeldSkipped>> {
  const { peerNodeId, scope } = peer;
  if (readsAsBaseline(range, (await readLogHorizon(ctx.pool)).prunedThrough)) {
    return sendRangeByKey(ctx, client, { peerNodeId, scope }, range, settings.catchup_batch_size);
  }
  if (settings.catchup_held_check && (await heldElsewherePossible(ctx, peer.serverId, { peerNodeId, range }))) {
    const checked = await sendRangeSkippingHeld(ctx, client, { peerNodeId, scope }, range, settings.catchup_batch_size, settings.catchup_held_lease_seconds);
    if (checked) return checked;
  }
  const streamed = scope ? null : await sendLogStream(ctx, client, peerNodeId, range, 'position');
  return streamed ?? sendPages(ctx, client, { peerNodeId, scope }, range, settings.catchup_batch_size);
}

/**
 * Fetches one range of the peer's log, applies it here, then records it as received: without what this
 * node holds already when it may hold some (held checks), else as one log stream where the peer serves
 * it, else in pages.
 */
export async function receiveRange(ctx: EngineContext, serverId: number, range: Range): Promise<ReceiveOutcome> {
  const server = await serverById(ctx, serverId);
  const settings = await ctx.settings();
  const client = ctx.peerClient(server, settings);
  const via = `page pulled from ${server.name}`;
  const ordinary = () => receivePages(ctx, client, serverId, via, range, settings.catchup_batch_size);
  const received: RangeReceived & Partial<HeldSkipped> =
    settings.catchup_held_check && (await heldElsewherePossible(ctx, serverId))
      ? await receiveRangeSkippingHeld(
          ctx,
          client,
          { serverId, peerNodeId: server.peerNodeId ?? `server-${serverId}`, via },
          range,
          settings.catchup_batch_size,
          settings.catchup_held_lease_seconds,
          ordinary,
        )
      : await receiveStreamedOrPages(ctx, client, serverId, via, range, ordinary);
  const outcome: ReceiveOutcome = { range, ...received };
  await acknowledgeRange(ctx.pool, serverId, 'received', range);
  return outcome;
}

/** The range as one log stream in position order, where the peer serves it; else in pages. */
async function receiveStreamedOrPages(
  ctx: EngineContext,
  client: PeerClient,
  serverId: number,
  via: string,
  range: Range,
  pages: () => Promise<RangeReceived>,
): Promise<RangeReceived> {
  const streamed = await receiveLogStream(ctx, client, serverId, via, range, 'position');
  return streamed ? { ...streamed, fullBaseline: false } : pages();
}

export interface FinalizeInput {
  serverId: number;
  startedAt: Date;
  sends: SendOutcome[];
  receives: ReceiveOutcome[];
  /** What each folder's sync moved (summed here). */
  files: FileChanges[];
  /** Set when every folder synced: the folders, and the manifest positions taken at plan time (moved past what the sync settled, then remembered for detection). */
  fileSeqs?: FilePositions & { directories: FileDirectory[] };
  /** The directions planned as full baselines (a receive is one as well when the peer's pages said so). */
  fullBaseline?: FullBaselineDirections;
  errors: string[];
}

/**
 * The directions that were full baselines and what they moved: a direction counts when it was planned
 * as one, or (receiving) when a page of the peer said its log was pruned past the range read.
 */
export function fullBaselineCounts(
  planned: FullBaselineDirections | undefined,
  sends: SendOutcome[],
  receives: ReceiveOutcome[],
): FullBaselineCounts | undefined {
  const send = planned?.send === true;
  const receive = planned?.receive === true || receives.some((r) => r.fullBaseline);
  if (!send && !receive) return undefined;
  const tombstonesSent = send ? sum(sends, (s) => s.tombstones) : 0;
  const tombstonesReceived = receive ? sum(receives, (r) => r.tombstones) : 0;
  return {
    directions: [...(send ? (['send'] as const) : []), ...(receive ? (['receive'] as const) : [])],
    rows_sent: send ? sum(sends, (s) => s.sent) - tombstonesSent : 0,
    tombstones_sent: tombstonesSent,
    rows_received: receive ? sum(receives, (r) => r.received) - tombstonesReceived : 0,
    tombstones_received: tombstonesReceived,
  };
}

/** Records the outcome: last_sync, one sync_logs row with the full result. */
export async function finalizeCatchup(ctx: EngineContext, input: FinalizeInput): Promise<CatchupResult> {
  const server = await serverById(ctx, input.serverId);
  const fileSeqs = input.fileSeqs && (await filePositionsAfterSync(ctx, server, input.fileSeqs.directories, input.fileSeqs));
  const completedAt = new Date();
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
      held_by_peer: sum(input.sends, (s) => s.skippedHeld ?? 0),
      held_here: sum(input.receives, (r) => r.skippedHeld ?? 0),
    },
    file_changes: sumFileChanges(input.files),
    errors: input.errors,
    duration: (completedAt.getTime() - input.startedAt.getTime()) / 1000,
    mode: 'incremental',
  };
  const baseline = fullBaselineCounts(input.fullBaseline, input.sends, input.receives);
  if (baseline) {
    result.mode = 'full baseline';
    result.full_baseline = baseline;
  }
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
        ...(fileSeqs ? { fileSeqLocal: BigInt(fileSeqs.local), fileSeqPeer: BigInt(fileSeqs.peer) } : {}),
      },
    }),
  ]);
  return result;
}
