// Planning: split what a peer lacks into ranges (from, to] of log positions, one per batch job.
import { sendableSql, type Sql, type TeamScope } from '@catchup/changelog';

/** Log positions (from, to]: what one batch job sends or receives, and what its acknowledgement covers. */
export interface Range {
  from: string;
  to: string;
}

export interface SendPlan {
  ranges: Range[];
  /** Per range, the rank of the most urgent table it holds changes of (see tableRanks): what orders the batches. */
  ranks: number[];
  /** Changes the ranges hold for the peer. */
  changes: number;
}

/**
 * Each table's rank from the table_priorities setting (comma-separated, most urgent first): its place in
 * the list; tables not listed share the rank after the last.
 */
export function tableRanks(priorities: string): { ranks: Map<string, number>; unlisted: number } {
  const listed = priorities
    .split(',')
    .map((t) => t.trim())
    .filter((t) => /^[a-z_][a-z0-9_]*$/.test(t));
  return { ranks: new Map(listed.map((table, i) => [table, i])), unlisted: listed.length };
}

/**
 * Ranges of the local log after `cursor`, each holding at most `batchSize` changes to send to the peer
 * (its own changes and what its team scope leaves out are not counted), with the rank of the most urgent
 * table each holds. Only the ranges' boundaries and ranks are read, so memory stays small (I9).
 */
export async function planSendRanges(
  sql: Sql,
  cursor: string,
  peerNodeId: string | null,
  batchSize: number,
  options: { scope?: TeamScope | undefined; priorities?: string } = {},
): Promise<SendPlan> {
  const { ranks, unlisted } = tableRanks(options.priorities ?? '');
  const rank = ranks.size ? `CASE d.table_name ${[...ranks].map(([t, r]) => `WHEN '${t}' THEN ${r}`).join(' ')} ELSE ${unlisted} END` : '0';
  const { rows } = await sql.query<{ boundary: string | null; rank: number | null; latest: string; total: string | null }>(
    `WITH latest AS (SELECT coalesce(max(sequence), 0) AS latest FROM database_changes),
          eligible AS (
            SELECT sequence, row_number() OVER (ORDER BY sequence) AS n, count(*) OVER () AS total, ${rank} AS rank
              FROM database_changes d, latest
             WHERE sequence > $1::bigint AND sequence <= latest.latest
               AND ($2::text IS NULL OR origin_node_id <> $2::text) AND ${sendableSql(options.scope, 'd')}),
          batches AS (SELECT max(sequence) AS boundary, min(rank) AS rank, max(total) AS total FROM eligible GROUP BY (n - 1) / $3)
     SELECT b.boundary::text AS boundary, b.rank::int AS rank, l.latest::text AS latest, b.total::text AS total
       FROM latest l LEFT JOIN batches b ON true
      ORDER BY b.boundary`,
    [cursor, peerNodeId, batchSize],
  );
  const latest = rows[0]?.latest ?? cursor;
  const batches = rows.filter((r): r is typeof r & { boundary: string; rank: number } => r.boundary !== null);
  const ranges = sendRanges(
    cursor,
    batches.map((b) => b.boundary),
    latest,
  );
  // A range of only positions that need no sending (no batch) holds no table to rank.
  const rankOf = batches.map((b) => b.rank);
  return { ranges, ranks: ranges.map((_, i) => rankOf[i] ?? unlisted), changes: Number(rows.find((r) => r.total !== null)?.total ?? 0) };
}

/**
 * Ranges (cursor, b1], (b1, b2], … up to the last boundary; positions after it up to `latest` (the
 * peer's own changes relayed back, or none) need no sending but the cursor still moves over them, so
 * they join the last range (or make one of their own).
 */
export function sendRanges(cursor: string, boundaries: string[], latest: string): Range[] {
  const ranges: Range[] = [];
  let from = cursor;
  for (const to of boundaries) {
    ranges.push({ from, to });
    from = to;
  }
  if (BigInt(latest) > BigInt(from)) {
    if (ranges.length) ranges[ranges.length - 1]!.to = latest;
    else ranges.push({ from, to: latest });
  }
  return ranges;
}

/** Ranges of the peer's log after our cursor up to its latest position, `width` positions each. */
export function planReceiveRanges(cursor: string, peerLatest: string, width: number): Range[] {
  const ranges: Range[] = [];
  let from = BigInt(cursor);
  const end = BigInt(peerLatest);
  const step = BigInt(width);
  while (from < end) {
    const to = from + step < end ? from + step : end;
    ranges.push({ from: from.toString(), to: to.toString() });
    from = to;
  }
  return ranges;
}
