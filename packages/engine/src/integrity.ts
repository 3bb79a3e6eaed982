// Integrity alerts (SPEC I12): a peer sent a change whose identity is taken by another change, or that
// claims this node's own identity. The batch was refused; the alert is how an operator hears of it.
import { applyIncoming, IdentityConflictError, type ApplyResult, type IncomingChange } from '@catchup/changelog';
import type { EngineContext } from './context.ts';

/** The sync_logs operation of an integrity alert (counted by /metrics, listed by GET /api/sync/logs). */
export const INTEGRITY_ALERT = 'integrity alert';

export interface AlertSource {
  /** The peer the batch came from, when known (a pulled page); null for a batch posted to this node. */
  serverId: number | null;
  /** How the batch arrived, for the operator: "batch posted from 10.0.0.7", "page pulled from site-b". */
  via: string;
}

export async function recordIntegrityAlert(ctx: EngineContext, source: AlertSource, error: IdentityConflictError): Promise<void> {
  const now = new Date();
  await ctx.db.syncLog.create({
    data: {
      serverId: source.serverId,
      operation: INTEGRITY_ALERT,
      status: 'failed',
      startedAt: now,
      completedAt: now,
      details: `Refused a batch (${source.via}): ${error.change ?? 'a change'} conflicts with this node's log`,
      errorMessage: error.message,
    },
  });
}

/**
 * Applies a peer's batch under this node's clock bound and identity (SPEC I12, I13); a batch refused for
 * an identity conflict is recorded as an integrity alert before the error goes on.
 */
export async function applyPeerBatch(ctx: EngineContext, changes: IncomingChange[], source: AlertSource): Promise<ApplyResult> {
  const settings = await ctx.settings();
  try {
    return await applyIncoming(ctx.pool, changes, { nodeId: ctx.nodeId, maxClockSkewMs: settings.catchup_max_clock_skew_seconds * 1000 });
  } catch (err) {
    if (err instanceof IdentityConflictError) await recordIntegrityAlert(ctx, source, err);
    throw err;
  }
}
