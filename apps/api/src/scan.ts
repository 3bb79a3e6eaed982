// A scan an operator asks for (POST /api/sync/catchup/scan, the sync dashboard's scan buttons): one
// detection job for the chosen peers (or all), with the request recorded in the audit trail.
import { ADMIN_OPERATIONS, recordAdminAction } from '@catchup/engine';
import type { AppContext } from './context.ts';
import { notFound } from './errors.ts';

export type ScanRequest = { enabled: false } | { enabled: true; detectJobId: string };

/**
 * Queues a detection (trigger 'scan': ahead of the schedule's) of `serverIds`, or of every peer when none
 * are named, and records who asked. Unknown ids are refused with 404 naming them; with catch-up disabled
 * (catchup_enabled = false) nothing is queued.
 */
export async function requestScan(ctx: AppContext, serverIds: number[] | undefined, actor: string): Promise<ScanRequest> {
  if (serverIds?.length) await assertServersExist(ctx, serverIds);
  const settings = await ctx.engine.settings();
  if (!settings.catchup_enabled) return { enabled: false };
  const detect = await ctx.queues.add('detect', { trigger: 'scan', ...(serverIds ? { serverIds } : {}) }, { attempts: 1, delayMs: 0 });
  await recordAdminAction(ctx.engine, {
    operation: ADMIN_OPERATIONS.scanRequested,
    actor,
    details: serverIds?.length ? `Scan requested for server(s) ${serverIds.join(', ')}` : 'Scan requested for every peer',
    facts: { server_ids: serverIds ?? null, detect_job_id: detect.id ?? null },
  });
  return { enabled: true, detectJobId: detect.id! };
}

/** A scan of peers that are not registered is refused, naming them: 404 `Server 7, 9 not found`. */
async function assertServersExist(ctx: AppContext, ids: number[]): Promise<void> {
  const found = await ctx.db.syncServer.findMany({ where: { id: { in: ids } }, select: { id: true } });
  const known = new Set(found.map((s) => s.id));
  const missing = [...new Set(ids)].filter((id) => !known.has(id));
  if (missing.length) throw notFound(`Server ${missing.join(', ')}`);
}
