// Exact detection (I10): what a peer lacks is counted from its cursor, never guessed from clocks.
import type { Sql } from './sql.ts';

export interface PeerPosition {
  /** Highest local position below which the peer acknowledged everything. */
  sentCursor: string;
  /** The peer's node id, when known: its own changes are not sent back to it. */
  peerNodeId: string | null;
}

export async function countMissingChanges(sql: Sql, peer: PeerPosition): Promise<number> {
  return (await measureBacklog(sql, peer)).missing;
}

export interface Backlog {
  /** Local changes the peer has not acknowledged (its own left out). */
  missing: number;
  /** Newest local position, read in the same snapshot. */
  latest: string;
}

export async function measureBacklog(sql: Sql, peer: PeerPosition): Promise<Backlog> {
  const { rows } = await sql.query<{ n: string; latest: string }>(
    `SELECT (SELECT count(*) FROM database_changes
              WHERE sequence > $1::bigint AND ($2::text IS NULL OR origin_node_id <> $2::text))::text AS n,
            (SELECT coalesce(max(sequence), 0) FROM database_changes)::text AS latest`,
    [peer.sentCursor, peer.peerNodeId],
  );
  return { missing: Number(rows[0]!.n), latest: rows[0]!.latest };
}
