// Conflicts in the log: a change that lost to a concurrent change of the same row (the conflict inbox).
//
// A change loses when a newer version of its row stands (last writer wins, I4). It lost to a *concurrent*
// edit — one made without seeing it — when the standing version comes from another node and was not
// written over it: the winner's old image is not the loser's row image. (A write made after applying a
// change always carries a newer stamp, I5, so a loser that the winner had seen is simply superseded, not
// a conflict.) Per row and losing node only that node's newest losing change counts: its last word.
import type { Sql } from './sql.ts';

/** One side of a conflict: a change, as the log holds it. */
export interface ConflictVersion {
  identity: string;
  origin_node_id: string;
  hlc: string;
  timestamp: string;
  operation: string;
  /** The row image (null: a delete). */
  data: Record<string, unknown> | null;
}

export interface RowConflict {
  table_name: string;
  record_id: string;
  loser: ConflictVersion;
  winner: ConflictVersion;
}

interface ConflictRow {
  table_name: string;
  record_id: string;
  l_identity: string;
  l_origin: string;
  l_hlc: string;
  l_timestamp: Date;
  l_operation: string;
  l_data: Record<string, unknown> | null;
  w_identity: string;
  w_origin: string;
  w_hlc: string;
  w_timestamp: Date;
  w_operation: string;
  w_data: Record<string, unknown> | null;
}

/**
 * The log's unsettled conflicts, oldest row first: at most `limit`, leaving out the losers named in
 * `settled` (their identities) and, with `row`, only those of one row. One pass over the log along its
 * row index — for an operator's inbox, not for every request.
 */
export async function listRowConflicts(
  sql: Sql,
  options: { limit: number; settled: string[]; row?: { table_name: string; record_id: string } },
): Promise<RowConflict[]> {
  const rowFilter = options.row ? 'AND d.table_name = $3 AND d.record_id = $4' : '';
  const { rows } = await sql.query<ConflictRow>(
    `WITH versions AS (
       SELECT d.*, row_number() OVER (PARTITION BY d.table_name, d.record_id ORDER BY d.hlc DESC, d.origin_node_id DESC, d.origin_sequence DESC) AS rank
         FROM database_changes d
        WHERE NOT d.scope_exit ${rowFilter}
     ),
     standing AS (SELECT * FROM versions WHERE rank = 1),
     losers AS (
       SELECT DISTINCT ON (v.table_name, v.record_id, v.origin_node_id) v.*
         FROM versions v JOIN standing s ON s.table_name = v.table_name AND s.record_id = v.record_id
        WHERE v.rank > 1 AND v.origin_node_id <> s.origin_node_id
        ORDER BY v.table_name, v.record_id, v.origin_node_id, v.rank
     )
     SELECT l.table_name, l.record_id,
            l.origin_node_id || '/' || l.origin_sequence AS l_identity, l.origin_node_id AS l_origin, l.hlc::text AS l_hlc,
            l."timestamp" AS l_timestamp, l.operation AS l_operation, l.change_data::jsonb AS l_data,
            s.origin_node_id || '/' || s.origin_sequence AS w_identity, s.origin_node_id AS w_origin, s.hlc::text AS w_hlc,
            s."timestamp" AS w_timestamp, s.operation AS w_operation, s.change_data::jsonb AS w_data
       FROM losers l JOIN standing s ON s.table_name = l.table_name AND s.record_id = l.record_id
      WHERE (s.old_data IS NULL OR l.change_data IS NULL OR s.old_data::jsonb IS DISTINCT FROM l.change_data::jsonb)
        AND NOT (l.origin_node_id || '/' || l.origin_sequence = ANY($2::text[]))
      ORDER BY l."timestamp", l.table_name, l.record_id
      LIMIT $1`,
    [options.limit, options.settled, ...(options.row ? [options.row.table_name, options.row.record_id] : [])],
  );
  const version = (r: ConflictRow, side: 'l' | 'w'): ConflictVersion => ({
    identity: r[`${side}_identity`],
    origin_node_id: r[`${side}_origin`],
    hlc: r[`${side}_hlc`],
    timestamp: r[`${side}_timestamp`].toISOString(),
    operation: r[`${side}_operation`],
    data: r[`${side}_data`],
  });
  return rows.map((r) => ({ table_name: r.table_name, record_id: r.record_id, loser: version(r, 'l'), winner: version(r, 'w') }));
}
