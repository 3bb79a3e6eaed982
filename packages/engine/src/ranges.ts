// Planning: split what a peer lacks into ranges (from, to] of log positions, one per batch job.
import { sendableSql, type Sql, type TeamScope } from '@catchup/changelog';

/** Log positions (from, to]: what one batch job sends or receives, and what its acknowledgement covers. */
export interface Range {
  from: string;
  to: string;
}

export interface SendPlan {
  ranges: Range[];
  /** Changes the ranges hold for the peer. */
  changes: number;
}

/**
 * Ranges of the local log after `cursor`, each holding at most `batchSize` changes to send to the peer
 * (its own changes and what its team scope leaves out are not counted). Only the range boundaries are read, so memory stays small (I9).
 */
export async function planSendRanges(sql: Sql, cursor: string, peerNodeId: string | null, batchSize: number, scope?: TeamScope): Promise<SendPlan> {
  const { rows } = await sql.query<{ boundary: string; latest: string; total: string }>(
    `WITH latest AS (SELECT coalesce(max(sequence), 0) AS latest FROM database_changes),
          eligible AS (
            SELECT sequence, row_number() OVER (ORDER BY sequence) AS n, count(*) OVER () AS total
              FROM database_changes d, latest
             WHERE sequence > $1::bigint AND sequence <= latest.latest
               AND ($2::text IS NULL OR origin_node_id <> $2::text) AND ${sendableSql(scope, 'd')})
     SELECT e.sequence::text AS boundary, l.latest::text AS latest, e.total::text AS total
       FROM latest l LEFT JOIN eligible e ON e.n % $3 = 0 OR e.n = e.total
      ORDER BY e.sequence`,
    [cursor, peerNodeId, batchSize],
  );
  const latest = rows[0]?.latest ?? cursor;
  const boundaries = rows.map((r) => r.boundary).filter((b): b is string => b !== null);
  return { ranges: sendRanges(cursor, boundaries, latest), changes: Number(rows.find((r) => r.total !== null)?.total ?? 0) };
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
