// The conflict inbox: rows whose concurrent edit lost (changelog's listRowConflicts) and files kept as
// conflict copies (files' listConflictCopies), and their settling by an operator. Picking the losing
// version writes it again as a new change of this node — a newer stamp, so it stands everywhere once
// propagated — and never re-sends the old change under its identity (I12). Keeping the winner records the
// decision. Either way the conflict leaves the inbox; this module alone writes conflict_resolutions.
import { rename, unlink } from 'node:fs/promises';
import { describeSyncedTables, listRowConflicts, quoteIdent, upsertRowImagesSql, type RowConflict } from '@catchup/changelog';
import { confinePath, directoryRoot, listConflictCopies, scanDirectory, type FileConflict, type FileDirectory } from '@catchup/files';
import { ADMIN_OPERATIONS, recordAdminAction } from './audit.ts';
import type { EngineContext } from './context.ts';

/** Thrown when what an operator asked to settle is not an open conflict (any more). */
export class ConflictNotFoundError extends Error {}

async function settledLosers(ctx: EngineContext): Promise<string[]> {
  return (await ctx.db.conflictResolution.findMany({ select: { loser: true } })).map((r) => r.loser);
}

export async function listConflicts(ctx: EngineContext, limit: number): Promise<{ rows: RowConflict[]; files: FileConflict[] }> {
  return {
    rows: await listRowConflicts(ctx.pool, { limit, settled: await settledLosers(ctx) }),
    files: await listConflictCopies(ctx.pool),
  };
}

/** Writes a row as `data` says (null: deleted), as a local write that capture logs as this node's change. */
async function writeRowAgain(ctx: EngineContext, table: string, recordId: string, data: Record<string, unknown> | null): Promise<void> {
  const info = (await describeSyncedTables(ctx.pool)).get(table);
  if (!info) throw new ConflictNotFoundError(`${table} is no longer synced here`);
  if (data === null) await ctx.pool.query(`DELETE FROM ${quoteIdent(table)} WHERE id = $1::uuid`, [recordId]);
  else await ctx.pool.query(upsertRowImagesSql(table, info.columns), [JSON.stringify([data])]);
}

/** Settles a row conflict by its losing change's identity: keep the `winner` as it stands, or write the `loser` again. */
export async function resolveRowConflict(
  ctx: EngineContext,
  loser: string,
  keep: 'winner' | 'loser',
  actor: string,
): Promise<{ conflict: RowConflict; new_change: string | null }> {
  const [origin, sequence] = [loser.slice(0, loser.lastIndexOf('/')), loser.slice(loser.lastIndexOf('/') + 1)];
  const { rows } = await ctx.pool.query<{ table_name: string; record_id: string }>(
    'SELECT table_name, record_id FROM database_changes WHERE origin_node_id = $1 AND origin_sequence = $2::bigint',
    [origin, /^\d+$/.test(sequence) ? sequence : '-1'],
  );
  const row = rows[0];
  if (!row) throw new ConflictNotFoundError(`no change ${loser} in this node's log`);
  const open = await listRowConflicts(ctx.pool, { limit: 100, settled: await settledLosers(ctx), row });
  const conflict = open.find((c) => c.loser.identity === loser);
  if (!conflict) throw new ConflictNotFoundError(`${loser} is not an open conflict (settled, or its row changed since)`);
  let newChange: string | null = null;
  if (keep === 'loser') {
    await writeRowAgain(ctx, conflict.table_name, conflict.record_id, conflict.loser.operation === 'delete' ? null : conflict.loser.data);
    const { rows: written } = await ctx.pool.query<{ identity: string }>(
      `SELECT origin_node_id || '/' || origin_sequence AS identity FROM database_changes
        WHERE table_name = $1 AND record_id = $2 AND origin_node_id = $3 ORDER BY sequence DESC LIMIT 1`,
      [conflict.table_name, conflict.record_id, ctx.nodeId],
    );
    newChange = written[0]?.identity ?? null;
  }
  await ctx.db.conflictResolution.create({
    data: { loser, tableName: conflict.table_name, recordId: conflict.record_id, choice: keep, newChange, actor },
  });
  await recordAdminAction(ctx, {
    operation: ADMIN_OPERATIONS.conflictResolved,
    actor,
    details: `Conflict on ${conflict.table_name} ${conflict.record_id}: kept the ${keep} (${keep === 'winner' ? conflict.winner.identity : loser})${newChange ? `, written again as ${newChange}` : ''}`,
    facts: { table_name: conflict.table_name, record_id: conflict.record_id, loser, winner: conflict.winner.identity, kept: keep, new_change: newChange },
  });
  return { conflict, new_change: newChange };
}

/**
 * Settles a file conflict: keep the `winner` (the copy is deleted) or the `copy` (it replaces the winner
 * at the original path). The folder is rescanned, so the next sync carries the outcome to the peers.
 */
export async function resolveFileConflict(
  ctx: EngineContext,
  directory: FileDirectory,
  copy: string,
  keep: 'winner' | 'copy',
  actor: string,
): Promise<FileConflict> {
  const conflict = (await listConflictCopies(ctx.pool)).find((c) => c.directory === directory && c.copy === copy);
  if (!conflict) throw new ConflictNotFoundError(`${directory}/${copy} is not a conflict copy here`);
  const root = directoryRoot(ctx.dataDir, directory);
  const copyPath = await confinePath(root, conflict.copy);
  if (keep === 'copy') await rename(copyPath, await confinePath(root, conflict.original));
  else await unlink(copyPath);
  await scanDirectory(ctx.pool, ctx.dataDir, directory, { exclude: ctx.fileExclude });
  await recordAdminAction(ctx, {
    operation: ADMIN_OPERATIONS.conflictResolved,
    actor,
    details: `Conflict on ${directory}/${conflict.original}: kept the ${keep === 'copy' ? `copy ${conflict.copy}` : 'winner'}`,
    facts: { directory, original: conflict.original, copy: conflict.copy, kept: keep },
  });
  return conflict;
}
