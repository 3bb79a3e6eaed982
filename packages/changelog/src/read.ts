// Reading the log by cursor. Positions are allocated in commit order (see the capture migration), so
// every change at or below the newest visible position is visible: a cursor never skips one (I2).
import type { Change } from './change.ts';
import type { Sql } from './sql.ts';

export interface ReadOptions {
  /** Exclusive lower bound: the reader's cursor. */
  after: string;
  /** Most changes to return. */
  limit: number;
  /** Inclusive upper bound, when reading a planned range. */
  upTo?: string;
  /** Leave out changes that originated on this node (the reader's own). */
  excludeOrigin?: string;
}

export interface ChangePage {
  changes: Change[];
  /** Where the next read starts: everything up to it was returned or needs no sending. */
  nextCursor: string;
  hasMore: boolean;
  /** Newest position in the log when this page was read. */
  latestSequence: string;
}

interface ChangeRow {
  sequence: string;
  table_name: string;
  record_id: string;
  operation: Change['operation'];
  change_data: Record<string, unknown> | null;
  old_data: Record<string, unknown> | null;
  timestamp: string;
  origin_node_id: string;
  origin_sequence: string;
  hlc: string;
  latest: string;
}

export async function readChanges(sql: Sql, options: ReadOptions): Promise<ChangePage> {
  // One statement, one snapshot: the page and the newest position agree.
  const { rows } = await sql.query<ChangeRow>(
    `WITH latest AS (SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes)
     SELECT c.sequence::text, c.table_name, c.record_id, c.operation, c.change_data, c.old_data,
            to_char(c."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "timestamp",
            c.origin_node_id, c.origin_sequence::text, c.hlc::text, latest.latest
       FROM latest
       LEFT JOIN LATERAL (
         SELECT * FROM database_changes
          WHERE sequence > $1::bigint
            AND ($2::bigint IS NULL OR sequence <= $2::bigint)
            AND ($3::text IS NULL OR origin_node_id <> $3::text)
          ORDER BY sequence
          LIMIT $4
       ) c ON true
      ORDER BY c.sequence`,
    [options.after, options.upTo ?? null, options.excludeOrigin ?? null, options.limit],
  );
  const latestSequence = rows[0]?.latest ?? '0';
  const changes: Change[] = [];
  for (const r of rows) {
    if (r.sequence === null) continue; // the LEFT JOIN's empty page
    changes.push({
      sequence: r.sequence,
      table_name: r.table_name,
      record_id: r.record_id,
      operation: r.operation,
      change_data: r.change_data,
      old_data: r.old_data,
      timestamp: r.timestamp,
      origin_node_id: r.origin_node_id,
      origin_sequence: r.origin_sequence,
      hlc: r.hlc,
    });
  }
  const hasMore = changes.length === options.limit;
  const end = options.upTo !== undefined && BigInt(options.upTo) < BigInt(latestSequence) ? options.upTo : latestSequence;
  const nextCursor = hasMore ? changes[changes.length - 1]!.sequence! : maxOf(end, options.after);
  return { changes, nextCursor, hasMore, latestSequence };
}

const maxOf = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b);

export async function latestSequence(sql: Sql): Promise<string> {
  const { rows } = await sql.query<{ latest: string }>('SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes');
  return rows[0]!.latest;
}
