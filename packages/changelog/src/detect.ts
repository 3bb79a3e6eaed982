// Exact detection (I10): what a peer lacks is counted from its cursor, never guessed from clocks.
import type { Sql } from './sql.ts';

export interface PeerPosition {
  /** Highest local position below which the peer acknowledged everything. */
  sentCursor: string;
  /** The peer's node id, when known: its own changes are not sent back to it. */
  peerNodeId: string | null;
}

export async function countMissingChanges(sql: Sql, peer: PeerPosition): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM database_changes
      WHERE sequence > $1::bigint AND ($2::text IS NULL OR origin_node_id <> $2::text)`,
    [peer.sentCursor, peer.peerNodeId],
  );
  return Number(rows[0]!.n);
}
