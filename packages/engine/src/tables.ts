// The operator puts tables under sync and takes them out; each change is recorded in the audit trail.
import { disableTableSync, enableTableSync, resumeBaselines, type BaselineProgress, type EnableOutcome } from '@catchup/changelog';
import { ADMIN_OPERATIONS, NODE_ACTOR, recordAdminAction } from './audit.ts';
import type { EngineContext } from './context.ts';

/** The sync_logs operations of the table admin actions (listed by GET /api/sync/logs). */
export const TABLE_ADDED = ADMIN_OPERATIONS.tableAdded;
export const TABLE_REMOVED = ADMIN_OPERATIONS.tableRemoved;

async function record(
  ctx: EngineContext,
  operation: typeof TABLE_ADDED | typeof TABLE_REMOVED,
  table: string,
  actor: string,
  details: string,
  startedAt: Date,
) {
  const synced = operation === TABLE_ADDED;
  await recordAdminAction(ctx, { operation, actor, details, startedAt, changes: { synced: { before: !synced, after: synced } }, facts: { table } });
}

/**
 * Puts a table under sync with its existing rows as its baseline (see enableTableSync); idempotent. The
 * baseline is logged before this answers, in chunks that keep other tables' writers waiting for a
 * fraction of a second at most; an interrupted one is finished by resumeTableBaselines.
 */
export async function addSyncedTable(ctx: EngineContext, table: string, actor: string): Promise<EnableOutcome> {
  const startedAt = new Date();
  const outcome = await enableTableSync(ctx.pool, table);
  if (outcome.added)
    await record(ctx, TABLE_ADDED, table, actor, `${table} put under sync; ${outcome.baselineRows} existing row(s) logged as its baseline`, startedAt);
  return outcome;
}

/** Takes a table out of sync; its log history stays and is still sent to peers that lack it. */
export async function removeSyncedTable(ctx: EngineContext, table: string, actor: string): Promise<void> {
  const startedAt = new Date();
  await disableTableSync(ctx.pool, table);
  await record(ctx, TABLE_REMOVED, table, actor, `${table} taken out of sync; writes to it are no longer captured`, startedAt);
}

/**
 * Finishes every baseline left pending (the process that put its table under sync stopped midway), and
 * records each as the table's addition, which was not recorded when it was interrupted (by the node:
 * whoever asked for it is not known any more).
 */
export async function resumeTableBaselines(ctx: EngineContext): Promise<BaselineProgress[]> {
  const startedAt = new Date();
  const finished = await resumeBaselines(ctx.pool);
  for (const { table, rowsLogged } of finished) {
    await record(
      ctx,
      TABLE_ADDED,
      table,
      NODE_ACTOR,
      `${table} put under sync; its interrupted baseline was finished, ${rowsLogged} existing row(s) logged in all`,
      startedAt,
    );
  }
  return finished;
}
