// Digests of synced tables, for verifying that two nodes hold the same rows without shipping tables
// (GET /api/sync/digest, `catchup verify`): Merkle style, by buckets of the UUID key's leading hex digits.
//
// A row's digest is md5 of its jsonb text (`to_jsonb(row)::text`): jsonb orders keys by itself, so the
// column order of a table does not matter, and the session settings that shape a value's text (time zone,
// interval style, float digits) are fixed for the statement, so that equal rows have equal digests on every
// node. A bucket's digest is md5 over its rows' `id:digest` in id order; a table's digest is md5 over its
// first-level buckets' `bucket:digest` in bucket order. Everything is computed inside PostgreSQL: rows
// never leave the database, only 32-character digests do.
//
// Re-logging (repair) writes new entries of this node's own identity (origin = this node, origin sequence
// = position, a fresh stamp) that carry a row's current state: never another node's identity (I12).
import { inTransaction, type Pool, type PoolClient } from '@catchup/db';
import type { Sql } from './sql.ts';
import { quoteIdent } from './sql.ts';
import { describeSyncedTables } from './tables.ts';

/** Hex digits a bucket adds to its parent's prefix: 256 children per bucket. */
export const BUCKET_DIGITS = 2;
/** The longest bucket prefix: the UUID's first group (8 hex digits, before its first hyphen). */
export const MAX_BUCKET_DIGITS = 8;
/** The most rows a leaf answer lists: a larger bucket is asked for its sub-buckets instead. */
export const MAX_LEAF_ROWS = 10_000;
/** The most ids one standings question may name. */
export const MAX_STANDING_IDS = 200;

export const BUCKET_PATTERN = /^(?:[0-9a-f]{2}){0,4}$/;

export interface BucketDigest {
  bucket: string;
  rows: number;
  digest: string;
}

export interface TableDigest {
  table_name: string;
  rows: number;
  /** md5 over the first-level buckets; the empty table's is md5(''). */
  digest: string;
  /** The first-level buckets (two hex digits) that hold rows. */
  buckets: BucketDigest[];
}

export interface RowDigest {
  id: string;
  digest: string;
}

/** A row's version in the log: the newest entry by hybrid logical clock, then node id, then origin sequence. */
export interface LoggedStanding {
  hlc: string;
  node: string;
  sequence: string;
  operation: string;
}

export interface RowStanding {
  id: string;
  /** The row's digest in the table; null when the table does not hold it. */
  digest: string | null;
  /** Its standing version in this node's log; null when the log holds no entry of it. */
  version: LoggedStanding | null;
  /**
   * Whether the table holds what the standing version says (its image, or no row for a delete); null
   * without a version. False means the table was written outside capture.
   */
  matches_log: boolean | null;
}

/** The table is not synced on this node. */
export class UnknownTableError extends Error {
  constructor(table: string) {
    super(`table ${JSON.stringify(table)} is not synced on this node`);
    this.name = 'UnknownTableError';
  }
}

/**
 * Fixes the settings that shape a row's jsonb text, for this transaction: equal rows give equal text on
 * every node whatever its configured time zone or styles.
 */
const CANONICAL_TEXT = `SET LOCAL TimeZone = 'UTC'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL work_mem = '64MB'`;

async function canonical<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION READ ONLY');
    await client.query(CANONICAL_TEXT);
    return work(client);
  });
}

async function syncedTable(sql: Sql, table: string): Promise<string> {
  if (!(await describeSyncedTables(sql)).has(table)) throw new UnknownTableError(table);
  return quoteIdent(table);
}

/** The UUID range a bucket prefix covers: [low, high), high null for a prefix of only f's (or the whole table). */
export function bucketRange(prefix: string): { low: string | null; high: string | null } {
  if (!BUCKET_PATTERN.test(prefix)) throw new Error(`bucket ${JSON.stringify(prefix)} is not an even number of hex digits (at most ${MAX_BUCKET_DIGITS})`);
  if (prefix === '') return { low: null, high: null };
  const asUuid = (hex: string) => {
    const h = hex.padEnd(32, '0');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const next = BigInt(`0x${prefix}`) + 1n;
  const high = next >= 1n << BigInt(prefix.length * 4) ? null : asUuid(next.toString(16).padStart(prefix.length, '0'));
  return { low: asUuid(prefix), high };
}

const ROW_DIGEST = `md5(to_jsonb(t)::text)`;
const RANGE = `($1::uuid IS NULL OR t.id >= $1::uuid) AND ($2::uuid IS NULL OR t.id < $2::uuid)`;

function bucketQuery(table: string, childDigits: number): string {
  return `SELECT substr(t.id::text, 1, ${childDigits}) AS bucket, count(*)::int AS rows,
                 md5(string_agg(t.id::text || ':' || ${ROW_DIGEST}, ',' ORDER BY t.id)) AS digest
            FROM ${table} t WHERE ${RANGE}
           GROUP BY 1 ORDER BY 1`;
}

/** md5 over buckets' `bucket:digest` in bucket order (computed here; PostgreSQL's md5 of the same text agrees). */
export async function combineBuckets(sql: Sql, buckets: BucketDigest[]): Promise<string> {
  const { rows } = await sql.query<{ digest: string }>(`SELECT md5($1) AS digest`, [buckets.map((b) => `${b.bucket}:${b.digest}`).join(',')]);
  return rows[0]!.digest;
}

/** Every synced table's digest with its first-level buckets (one pass over each table). */
export async function tableDigests(pool: Pool): Promise<TableDigest[]> {
  const tables = [...(await describeSyncedTables(pool)).keys()].sort();
  return canonical(pool, async (client) => {
    const out: TableDigest[] = [];
    for (const table of tables) {
      const { rows: buckets } = await client.query<BucketDigest>(bucketQuery(quoteIdent(table), BUCKET_DIGITS), [null, null]);
      out.push({
        table_name: table,
        rows: buckets.reduce((n, b) => n + b.rows, 0),
        digest: await combineBuckets(client, buckets),
        buckets,
      });
    }
    return out;
  });
}

/** The sub-buckets of a bucket (its prefix plus two hex digits) that hold rows. */
export async function bucketDigests(pool: Pool, table: string, prefix: string): Promise<BucketDigest[]> {
  const { low, high } = bucketRange(prefix);
  if (prefix.length >= MAX_BUCKET_DIGITS) throw new Error(`bucket ${prefix} has no sub-buckets: ask for its rows`);
  const quoted = await syncedTable(pool, table);
  return canonical(pool, async (client) => (await client.query<BucketDigest>(bucketQuery(quoted, prefix.length + BUCKET_DIGITS), [low, high])).rows);
}

/** A bucket's rows with their digests, in id order; null when it holds more than MAX_LEAF_ROWS. */
export async function rowDigests(pool: Pool, table: string, prefix: string): Promise<RowDigest[] | null> {
  const { low, high } = bucketRange(prefix);
  const quoted = await syncedTable(pool, table);
  const rows = await canonical(
    pool,
    async (client) =>
      (
        await client.query<RowDigest>(`SELECT t.id::text AS id, ${ROW_DIGEST} AS digest FROM ${quoted} t WHERE ${RANGE} ORDER BY t.id LIMIT $3`, [
          low,
          high,
          MAX_LEAF_ROWS + 1,
        ])
      ).rows,
  );
  return rows.length > MAX_LEAF_ROWS ? null : rows;
}

/**
 * What the table and the log hold of each row named: its digest in the table (or none), its standing
 * version in the log (the newest entry by hlc, node id, origin sequence: the conflict rule's order), and
 * whether the table holds what that version says. Images are compared as rows of the table (the logged
 * image read back through the table's types), so that formatting does not count.
 */
export async function rowStandings(pool: Pool, table: string, ids: string[]): Promise<RowStanding[]> {
  const quoted = await syncedTable(pool, table);
  return canonical(pool, async (client) => {
    const { rows } = await client.query<{
      id: string;
      digest: string | null;
      hlc: string | null;
      node: string | null;
      sequence: string | null;
      operation: string | null;
      matches_log: boolean | null;
    }>(
      `SELECT x.id::text AS id, CASE WHEN t.id IS NULL THEN NULL ELSE ${ROW_DIGEST} END AS digest,
              s.hlc::text AS hlc, s.origin_node_id AS node, s.origin_sequence::text AS sequence, s.operation,
              CASE WHEN s.hlc IS NULL THEN NULL
                   WHEN s.operation = 'delete' THEN t.id IS NULL
                   ELSE t.id IS NOT NULL AND to_jsonb(t) = to_jsonb(jsonb_populate_record(NULL::${quoted}, s.change_data::jsonb)) END AS matches_log
         FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n)
         LEFT JOIN ${quoted} t ON t.id = x.id
         LEFT JOIN LATERAL (
           SELECT d.hlc, d.origin_node_id, d.origin_sequence, d.operation, d.change_data FROM database_changes d
            WHERE d.table_name = $2 AND d.record_id = x.id::text
            ORDER BY d.hlc DESC, d.origin_node_id COLLATE "C" DESC, d.origin_sequence DESC LIMIT 1
         ) s ON true
        ORDER BY x.n`,
      [ids, table],
    );
    return rows.map((r) => ({
      id: r.id,
      digest: r.digest,
      version: r.hlc === null ? null : { hlc: r.hlc, node: r.node!, sequence: r.sequence!, operation: r.operation! },
      matches_log: r.matches_log,
    }));
  });
}

export interface RelogResult {
  /** Rows whose current image was logged as a new change of this node. */
  rows: number;
  /** Deletes logged again as new changes of this node. */
  deletes: number;
}

/**
 * Logs the current state of rows as new changes of this node, so that a catch-up carries them to peers
 * (repair): each row of `rows` the table holds, with its current image (an insert when the log holds no
 * live version of it, else an update); each id of `deletes` the table does not hold, as a delete. Rows
 * first (locked), then the log lock, as every writer takes them (no deadlock with local writes); one
 * position and one fresh stamp per entry, the origin sequence its position (a fresh identity of this
 * node, I12), so that the entry is the newest version of its row everywhere it goes.
 */
export async function relogRows(pool: Pool, table: string, rows: string[], deletes: string[]): Promise<RelogResult> {
  const quoted = await syncedTable(pool, table);
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT 1 FROM ${quoted} WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [[...rows, ...deletes]]);
    await client.query('SELECT catchup_lock_log()');
    const { rows: node } = await client.query<{ node: string }>('SELECT catchup_node_id() AS node');
    const { rows: logged } = await client.query<{ rows: number; deletes: number }>(
      `WITH present AS MATERIALIZED (
         SELECT t.id::text AS record_id, to_jsonb(t) AS row FROM ${quoted} t WHERE t.id = ANY($2::uuid[]) ORDER BY t.id
       ), absent AS MATERIALIZED (
         SELECT x.id::text AS record_id FROM unnest($3::uuid[]) AS x(id)
          WHERE NOT EXISTS (SELECT 1 FROM ${quoted} t WHERE t.id = x.id) ORDER BY x.id
       ), entries AS MATERIALIZED (
         SELECT nextval('database_changes_sequence_seq') AS position, catchup_next_hlc() AS hlc, e.record_id, e.operation, e.row, e.old
           FROM (
             SELECT p.record_id, CASE WHEN s.operation IS NULL OR s.operation = 'delete' THEN 'insert' ELSE 'update' END AS operation,
                    p.row::json AS row, s.change_data AS old
               FROM present p LEFT JOIN LATERAL (${standingOf('p.record_id')}) s ON true
             UNION ALL
             SELECT a.record_id, 'delete', NULL::json, coalesce(s.change_data, s.old_data)
               FROM absent a LEFT JOIN LATERAL (${standingOf('a.record_id')}) s ON true
           ) e
       ), logged AS (
         INSERT INTO database_changes (sequence, table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc)
         SELECT position, $1, record_id, operation, row, old, clock_timestamp(), $4, position, hlc FROM entries ORDER BY position
         RETURNING operation
       )
       SELECT count(*) FILTER (WHERE operation <> 'delete')::int AS rows, count(*) FILTER (WHERE operation = 'delete')::int AS deletes FROM logged`,
      [table, rows, deletes, node[0]!.node],
    );
    return logged[0]!;
  });
}

/** The standing entry of a row of table $1 (the conflict rule's order). */
const standingOf = (recordId: string) =>
  `SELECT d.operation, d.change_data, d.old_data FROM database_changes d WHERE d.table_name = $1 AND d.record_id = ${recordId}
    ORDER BY d.hlc DESC, d.origin_node_id COLLATE "C" DESC, d.origin_sequence DESC LIMIT 1`;
