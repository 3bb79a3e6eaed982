// Retention (SPEC I11): entries older than the age limit are pruned from the change log, except the
// newest entry of every row — its standing version by the conflict rule (compareVersions), a delete
// included — and the log's newest entry. What is pruned was superseded, so it loses to a version the log
// keeps. Hence the log above any cursor still holds the standing version of every row the reader lacks,
// and a reader behind the pruned horizon is caught up by reading the retained log (a full baseline):
// applying standing versions under last-writer-wins converges.
//
// A prune is a sequence of short statements, each deleting the prunable entries of one range of a few
// thousand positions and moving the horizon (change_log_horizon) in the same statement, so that a crash
// at any point leaves the horizon describing exactly what is gone. Writers are not blocked: deleting log
// rows locks only those rows, which nobody else writes, and no table lock is taken.
import { PRUNE_CHUNK_SIZE, PRUNE_LOCK_ID, type Pool } from '@catchup/db';
import { compareDecimal, compareVersions, type Version } from './change.ts';
import type { Sql } from './sql.ts';

/** How far this node's log was pruned (the change_log_horizon row). */
export interface LogHorizon {
  /** Highest log position pruned ('0': never pruned). A reader whose cursor is below it gets a full baseline. */
  prunedThrough: string;
  /** Highest origin sequence of this node's own changes pruned. */
  ownPrunedThrough: string;
  /** The age limit of the last prune. */
  prunedBefore: Date | null;
  prunedAt: Date | null;
}

export async function readLogHorizon(sql: Sql): Promise<LogHorizon> {
  const { rows } = await sql.query<{ pruned_through: string; own_pruned_through: string; pruned_before: Date | null; pruned_at: Date | null }>(
    `SELECT pruned_through::text, own_pruned_through::text, pruned_before, pruned_at FROM change_log_horizon WHERE id = 1`,
  );
  const row = rows[0];
  return row
    ? { prunedThrough: row.pruned_through, ownPrunedThrough: row.own_pruned_through, prunedBefore: row.pruned_before, prunedAt: row.pruned_at }
    : { prunedThrough: '0', ownPrunedThrough: '0', prunedBefore: null, prunedAt: null };
}

/**
 * Whether a reader whose cursor is `cursor` is caught up by a full baseline: entries above its cursor
 * may have been pruned, so what it gets is the standing versions, not every change (SPEC I11).
 */
export const needsFullBaseline = (cursor: string, prunedThrough: string): boolean => compareDecimal(cursor, prunedThrough) < 0;

/** A log entry as the pruning rule sees it. */
export interface LoggedVersion {
  sequence: string;
  table_name: string;
  record_id: string;
  timestamp: Date;
  version: Version;
}

/**
 * The rule, without I/O (the SQL of pruneLog applies the same): an entry is prunable when it is older
 * than `before`, lies below `latest` (the log's newest position, which is kept so that the position a
 * node announces never goes back), and a newer version of its row is in the log. Returns the sequences.
 */
export function prunableEntries(entries: LoggedVersion[], latest: string, before: Date): string[] {
  const newest = new Map<string, Version>();
  const key = (e: LoggedVersion) => `${e.table_name}\u0000${e.record_id}`;
  for (const e of entries) {
    const current = newest.get(key(e));
    if (!current || compareVersions(e.version, current) > 0) newest.set(key(e), e.version);
  }
  return entries
    .filter((e) => e.timestamp < before && compareDecimal(e.sequence, latest) < 0 && compareVersions(newest.get(key(e))!, e.version) > 0)
    .map((e) => e.sequence);
}

/** Ranges (from, to] of `size` positions covering (after, upTo]. */
export function pruneRanges(after: string, upTo: string, size: number): { from: string; to: string }[] {
  const ranges: { from: string; to: string }[] = [];
  const end = BigInt(upTo);
  const step = BigInt(size);
  for (let from = BigInt(after); from < end; from += step) {
    const to = from + step < end ? from + step : end;
    ranges.push({ from: String(from), to: String(to) });
  }
  return ranges;
}

export interface PruneLogOptions {
  /** Entries older than this may go. */
  before: Date;
  /** This node's id: its own pruned changes move own_pruned_through. */
  nodeId: string;
  /** Positions per statement. */
  chunkSize?: number;
}

export interface PruneLogResult {
  /** false when another prune holds the prune lock (nothing was done). */
  ran: boolean;
  /** Entries removed. */
  entries: number;
  /** Of them, superseded deletes (a newer write of the row stands). */
  deletes: number;
  /** Statements run (one per range of positions). */
  chunks: number;
  horizon: LogHorizon;
}

// The newest version of the entry's row is found through (table_name, record_id, hlc DESC); ties on hlc
// are settled by node id and origin sequence as compareVersions does (node ids compared bytewise, as
// JavaScript compares them for the ASCII ids nodes have).
const PRUNE_CHUNK_SQL = `WITH gone AS (
    DELETE FROM database_changes d
     WHERE d.sequence > $1::bigint AND d.sequence <= $2::bigint AND d."timestamp" < $3::timestamptz
       AND EXISTS (
         SELECT 1 FROM database_changes n
          WHERE n.table_name = d.table_name AND n.record_id = d.record_id AND n.hlc >= d.hlc
            AND (n.hlc, n.origin_node_id COLLATE "C", n.origin_sequence) > (d.hlc, d.origin_node_id COLLATE "C", d.origin_sequence))
    RETURNING d.sequence, d.operation, d.origin_node_id, d.origin_sequence
  ), counted AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE operation = 'delete') AS deletes, max(sequence) AS top,
           max(origin_sequence) FILTER (WHERE origin_node_id = $4) AS own_top
      FROM gone
  ), moved AS (
    UPDATE change_log_horizon h
       SET pruned_through = GREATEST(h.pruned_through, coalesce(c.top, 0)),
           own_pruned_through = GREATEST(h.own_pruned_through, coalesce(c.own_top, 0))
      FROM counted c
     WHERE h.id = 1 AND c.n > 0
    RETURNING h.id
  )
  SELECT n::text, deletes::text FROM counted`;

/**
 * Prunes the log (see the top of this file). Only positions below the newest visible one are examined:
 * positions are allocated under the log lock in commit order (I2), so everything below it is committed,
 * and a change still in flight lies above it, unseen and untouched. One prune runs at a time; another
 * one asked for meanwhile returns ran: false.
 */
export async function pruneLog(pool: Pool, options: PruneLogOptions): Promise<PruneLogResult> {
  const chunkSize = options.chunkSize ?? PRUNE_CHUNK_SIZE;
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [String(PRUNE_LOCK_ID)]);
    if (!locked.rows[0]!.ok) return { ran: false, entries: 0, deletes: 0, chunks: 0, horizon: await readLogHorizon(client) };
    try {
      const bounds = await client.query<{ first: string; latest: string }>(
        `SELECT coalesce(min(sequence) - 1, 0)::text AS first, coalesce(max(sequence), 0)::text AS latest FROM database_changes`,
      );
      const { first, latest } = bounds.rows[0]!;
      const upTo = latest === '0' ? '0' : String(BigInt(latest) - 1n);
      const result: PruneLogResult = { ran: true, entries: 0, deletes: 0, chunks: 0, horizon: await readLogHorizon(client) };
      for (const range of pruneRanges(first, upTo, chunkSize)) {
        const { rows } = await client.query<{ n: string; deletes: string }>(PRUNE_CHUNK_SQL, [range.from, range.to, options.before, options.nodeId]);
        result.entries += Number(rows[0]!.n);
        result.deletes += Number(rows[0]!.deletes);
        result.chunks++;
      }
      await client.query(`UPDATE change_log_horizon SET pruned_before = $1, pruned_at = now() WHERE id = 1`, [options.before]);
      result.horizon = await readLogHorizon(client);
      return result;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [String(PRUNE_LOCK_ID)]);
    }
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // A connection that failed (lost mid-prune) is discarded, not handed to the next user; the lock
    // went with its session.
    client.release(failure);
  }
}
