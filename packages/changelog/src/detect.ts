// Exact detection (I10): what a peer lacks is counted from its cursor, never guessed from clocks. Once the
// log is pruned (I11), what is counted is the retained entries above the cursor — exactly what a catch-up
// sends; the pruned ones were superseded by versions the log keeps, and a cursor below the pruned horizon
// makes the run a full baseline.
import { sendableSql, type TeamScope } from './scope.ts';
import type { Sql } from './sql.ts';

export interface PeerPosition {
  /** Highest local position below which the peer acknowledged everything. */
  sentCursor: string;
  /** The peer's node id, when known: its own changes are not sent back to it. */
  peerNodeId: string | null;
  /** The peer's team scope, when it has one: what is out of it is not sent (see scope.ts). */
  scope?: TeamScope | undefined;
}

export async function countMissingChanges(sql: Sql, peer: PeerPosition): Promise<number> {
  return (await measureBacklog(sql, peer)).missing;
}

export interface Backlog {
  /** Local changes the peer has not acknowledged and would be sent (its own left out, and what its scope leaves out). */
  missing: number;
  /** Newest local position, read in the same snapshot. */
  latest: string;
}

/** Positions per block of change_log_counts (its migration says how the blocks are kept). */
export const COUNT_BLOCK = 4096;

export async function measureBacklog(sql: Sql, peer: PeerPosition): Promise<Backlog> {
  return (await measureBacklogs(sql, [peer]))[0]!;
}

/**
 * The backlogs of many peers at once. A scoped peer's count depends on each entry's row images: every
 * entry above its cursor is looked at, one query per such peer. Everyone else's, in one statement, is
 * the whole blocks above its cursor's block, summed from change_log_counts, plus the entries of the
 * cursor's own block: a few thousand entries at most, however far behind the peer is.
 */
export async function measureBacklogs(sql: Sql, peers: PeerPosition[]): Promise<Backlog[]> {
  const out = new Array<Backlog>(peers.length);
  const plain = peers.flatMap((p, i) => (p.scope ? [] : [i]));
  if (plain.length) {
    const { rows } = await sql.query<{ n: string; latest: string }>(
      `SELECT ((SELECT coalesce(sum(entries), 0) FROM change_log_counts
                 WHERE bucket > p.cursor / ${COUNT_BLOCK} AND (p.origin IS NULL OR origin_node_id <> p.origin))
               + (SELECT count(*) FROM database_changes d
                   WHERE sequence > p.cursor AND sequence < (p.cursor / ${COUNT_BLOCK} + 1) * ${COUNT_BLOCK}
                     AND (p.origin IS NULL OR origin_node_id <> p.origin) AND ${sendableSql(undefined, 'd')}))::text AS n,
              l.latest
         FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS p(cursor, origin, i)
         CROSS JOIN (SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes) l
        ORDER BY p.i`,
      [plain.map((i) => peers[i]!.sentCursor), plain.map((i) => peers[i]!.peerNodeId)],
    );
    rows.forEach((r, k) => {
      out[plain[k]!] = { missing: Number(r.n), latest: r.latest };
    });
  }
  for (const [i, peer] of peers.entries()) {
    if (!peer.scope) continue;
    const { rows } = await sql.query<{ n: string; latest: string }>(
      `SELECT (SELECT count(*) FROM database_changes d
                WHERE sequence > $1::bigint AND ($2::text IS NULL OR origin_node_id <> $2::text) AND ${sendableSql(peer.scope, 'd')})::text AS n,
              (SELECT coalesce(max(sequence), 0) FROM database_changes)::text AS latest`,
      [peer.sentCursor, peer.peerNodeId],
    );
    out[i] = { missing: Number(rows[0]!.n), latest: rows[0]!.latest };
  }
  return out;
}

/**
 * When each peer's oldest unacknowledged change was logged (null: it lacks nothing), in one statement:
 * how close it is to falling behind retention.
 */
export async function oldestUnacknowledged(sql: Sql, peers: Pick<PeerPosition, 'sentCursor' | 'peerNodeId'>[]): Promise<(Date | null)[]> {
  if (!peers.length) return [];
  const { rows } = await sql.query<{ oldest: Date | null }>(
    `SELECT (SELECT "timestamp" FROM database_changes
              WHERE sequence > p.cursor AND (p.origin IS NULL OR origin_node_id <> p.origin)
              ORDER BY sequence LIMIT 1) AS oldest
       FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS p(cursor, origin, i)
      ORDER BY p.i`,
    [peers.map((p) => p.sentCursor), peers.map((p) => p.peerNodeId)],
  );
  return rows.map((r) => r.oldest);
}

export interface UnmadeClaims {
  /** Changes in this log claiming the origin at sequences past its latest position. */
  count: number;
  /** The first of them, as origin/sequence. */
  first: string | null;
}

/**
 * Changes in this log that claim to come from `origin` at sequences past its latest log position: the
 * origin never made them (a peer forged them, or the origin's database was restored from an older
 * backup and will reuse those identities). They are never sent to the origin, which would refuse them,
 * so detection raises them as an integrity alert (I12). Pruning never lowers a node's latest position
 * (its log's newest entry is kept), so an origin that pruned its log raises no alarm here.
 */
export async function findUnmadeClaims(sql: Sql, origin: string, originLatest: string): Promise<UnmadeClaims> {
  const { rows } = await sql.query<{ n: string; first: string | null }>(
    `SELECT count(*)::text AS n, min(origin_sequence)::text AS first FROM database_changes WHERE origin_node_id = $1 AND origin_sequence > $2::bigint`,
    [origin, originLatest],
  );
  const count = Number(rows[0]!.n);
  return { count, first: count ? `${origin}/${rows[0]!.first}` : null };
}

/** What a reader lacks of one table: how many entries a catch-up would send it. */
export interface TableBacklog {
  table_name: string;
  changes: number;
}

/**
 * The entries above a reader's cursor that a catch-up would send it, per table (its own changes, scope
 * exits and what its scope leaves out not counted): what a catch-up plan shows. One pass over those
 * entries — for a plan asked for, not for every status.
 */
export async function backlogByTable(sql: Sql, peer: PeerPosition): Promise<TableBacklog[]> {
  const { rows } = await sql.query<{ table_name: string; n: string }>(
    `SELECT table_name, count(*)::text AS n FROM database_changes d
      WHERE sequence > $1::bigint AND ($2::text IS NULL OR origin_node_id <> $2::text) AND ${sendableSql(peer.scope, 'd')}
      GROUP BY table_name ORDER BY table_name`,
    [peer.sentCursor, peer.peerNodeId],
  );
  return rows.map((r) => ({ table_name: r.table_name, changes: Number(r.n) }));
}
