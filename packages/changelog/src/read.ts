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

/** A page of the log as JSON text, ready to send without parsing and re-serializing each change. */
export interface ChangePageJson {
  /** The changes as a JSON array, in position order, each shaped as changeOutputSchema. */
  json: string;
  count: number;
  nextCursor: string;
  hasMore: boolean;
  latestSequence: string;
}

// Built with concat(), which writes the text once (a chain of || copies it at every step). The table
// name, record id and operation go in unescaped: table names are plain lower-case identifiers (checked
// when a table is enabled), record ids UUIDs and operations one of five words.
const CHANGE_JSON = `concat('{"sequence":"', c.sequence, '","table_name":"', c.table_name, '","record_id":"', c.record_id,
  '","operation":"', c.operation, '","change_data":', coalesce(c.change_data::text, 'null'),
  ',"old_data":', coalesce(c.old_data::text, 'null'), ',"timestamp":"', to_char(c."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  '","origin_node_id":', to_json(c.origin_node_id), ',"origin_sequence":"', c.origin_sequence, '","hlc":"', c.hlc, '"}')`;

const PAGE = `SELECT * FROM database_changes
   WHERE sequence > $1::bigint
     AND ($2::bigint IS NULL OR sequence <= $2::bigint)
     AND ($3::text IS NULL OR origin_node_id <> $3::text)
   ORDER BY sequence
   LIMIT $4`;

/**
 * Reads a page of the log as JSON text. PostgreSQL writes each change's JSON by concatenation — the row
 * images are stored as json text and go in as they are — and joins the page into one array, so the
 * driver receives one field, not a row per change: several times cheaper than decoding the columns and
 * serializing again. The aggregate takes the rows in the page's order; the positions, gathered by the
 * same aggregate pass, prove it, and a page that ever came out of order is read again row by row.
 */
export async function readChangesJson(sql: Sql, options: ReadOptions): Promise<ChangePageJson> {
  const values = [options.after, options.upTo ?? null, options.excludeOrigin ?? null, options.limit];
  // One statement, one snapshot: the page and the newest position agree.
  const { rows } = await sql.query<{ latest: string; positions: string[] | null; json: string | null }>(
    `SELECT latest.latest, p.positions, '[' || p.json || ']' AS json
       FROM (SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes) latest
       CROSS JOIN LATERAL (
         SELECT array_agg(c.sequence::text) AS positions, string_agg(${CHANGE_JSON}, ',') AS json FROM (${PAGE}) c
       ) p`,
    values,
  );
  const { latest: latestSequence } = rows[0]!;
  let positions = rows[0]!.positions ?? [];
  let json = rows[0]!.json ?? '[]';
  if (!inPositionOrder(positions)) {
    const page = await sql.query<{ position: string; change: string }>(
      `SELECT c.sequence::text AS position, ${CHANGE_JSON} AS change FROM (${PAGE}) c ORDER BY c.sequence`,
      values,
    );
    positions = page.rows.map((r) => r.position);
    json = `[${page.rows.map((r) => r.change).join(',')}]`;
  }
  const count = positions.length;
  const hasMore = count === options.limit;
  const end = options.upTo !== undefined && BigInt(options.upTo) < BigInt(latestSequence) ? options.upTo : latestSequence;
  const nextCursor = hasMore ? positions[count - 1]! : maxOf(end, options.after);
  return { json, count, nextCursor, hasMore, latestSequence };
}

/** Positions are decimal strings without leading zeros: shorter is smaller, then text order. */
const positionBefore = (a: string, b: string) => (a.length !== b.length ? a.length < b.length : a < b);

function inPositionOrder(positions: string[]): boolean {
  for (let i = 1; i < positions.length; i++) if (!positionBefore(positions[i - 1]!, positions[i]!)) return false;
  return true;
}

export async function readChanges(sql: Sql, options: ReadOptions): Promise<ChangePage> {
  const { json, nextCursor, hasMore, latestSequence } = await readChangesJson(sql, options);
  return { changes: JSON.parse(json) as Change[], nextCursor, hasMore, latestSequence };
}

const maxOf = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b);

export async function latestSequence(sql: Sql): Promise<string> {
  const { rows } = await sql.query<{ latest: string }>('SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes');
  return rows[0]!.latest;
}
