// Integrity alerts (SPEC I12): a peer sent a change whose identity is taken by another change, or that
// claims this node's own identity (the batch was refused), or this log holds changes claiming a peer as
// their origin that the peer never made. The alert is how an operator hears of it.
import {
  applyIncoming,
  applyLogStream,
  findUnmadeClaims,
  IdentityConflictError,
  type ApplyResult,
  type IncomingChange,
  type LogStreamResult,
} from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { EngineContext } from './context.ts';
import { teamScopeOfServer } from './team-scope.ts';

/** The sync_logs operation of an integrity alert (counted by /metrics, listed by GET /api/sync/logs). */
export const INTEGRITY_ALERT = 'integrity alert';

export interface AlertSource {
  /**
   * The peer the batch came from, when known (a pulled page, or a batch posted with the peer's own
   * credential): its team scope bounds what it may write. Null for a batch posted with the node key.
   */
  serverId: number | null;
  /** How the batch arrived, for the operator: "batch posted from 10.0.0.7", "page pulled from site-b". */
  via: string;
}

export async function recordIntegrityAlert(ctx: EngineContext, alert: { serverId: number | null; details: string; message: string }): Promise<void> {
  const now = new Date();
  await ctx.db.syncLog.create({
    data: {
      serverId: alert.serverId,
      operation: INTEGRITY_ALERT,
      status: 'failed',
      startedAt: now,
      completedAt: now,
      details: alert.details,
      errorMessage: alert.message,
    },
  });
}

/**
 * Applies a peer's batch under this node's clock bound and identity (SPEC I12, I13); a batch refused for
 * an identity conflict is recorded as an integrity alert before the error goes on.
 */
export async function applyPeerBatch(ctx: EngineContext, changes: IncomingChange[], source: AlertSource): Promise<ApplyResult> {
  const settings = await ctx.settings();
  const senderScope = source.serverId === null ? undefined : await teamScopeOfServer(ctx, source.serverId);
  try {
    return await applyIncoming(ctx.pool, changes, { nodeId: ctx.nodeId, maxClockSkewMs: settings.catchup_max_clock_skew_seconds * 1000, senderScope });
  } catch (err) {
    if (err instanceof IdentityConflictError) {
      const details = `Refused a batch (${source.via}): ${err.change ?? 'a change'} conflicts with this node's log`;
      await recordIntegrityAlert(ctx, { serverId: source.serverId, details, message: err.message });
    }
    throw err;
  }
}

/**
 * Applies a peer's log stream (a full baseline's bulk) under the same bound and identity rules: chunks the
 * bulk way does not take go through applyPeerBatch, with its alerts.
 */
export async function applyPeerStream(ctx: EngineContext, body: AsyncIterable<Buffer | string>, source: AlertSource): Promise<LogStreamResult> {
  const settings = await ctx.settings();
  const senderScope = source.serverId === null ? undefined : await teamScopeOfServer(ctx, source.serverId);
  return applyLogStream(ctx.pool, body, {
    nodeId: ctx.nodeId,
    maxClockSkewMs: settings.catchup_max_clock_skew_seconds * 1000,
    senderScope,
    applyChanges: (changes) => applyPeerBatch(ctx, changes, source),
  });
}

/**
 * Looks for changes in this log that claim to come from the peer past its latest log position (as its
 * ping just said): the peer never made them. Raises an integrity alert when they are found, or when their
 * number or first identity changed since the last alert, and returns its message.
 */
export async function checkClaimsOfPeer(ctx: EngineContext, server: SyncServer, peerNodeId: string, peerLatest: string): Promise<string | null> {
  const claims = await findUnmadeClaims(ctx.pool, peerNodeId, peerLatest);
  if (!claims.count) return null;
  const message =
    `${claims.count} change(s) in this log, from ${claims.first} on, claim to come from ${server.name}, which never reached ` +
    `that position: a peer forged them, or ${server.name}'s database was restored from an older backup`;
  const last = await ctx.db.syncLog.findFirst({
    where: { serverId: server.id, operation: INTEGRITY_ALERT },
    orderBy: { id: 'desc' },
    select: { errorMessage: true },
  });
  if (last?.errorMessage !== message) {
    const details = `Changes claiming ${server.name} as their origin past its latest position (${peerLatest} when found)`;
    await recordIntegrityAlert(ctx, { serverId: server.id, details, message });
  }
  return message;
}
