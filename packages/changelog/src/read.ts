// Reading the log by cursor. Positions are allocated in commit order (see the capture migration), so
// every change at or below the newest visible position is visible: a cursor never skips one (I2).
import type { Pool, PoolClient } from '@catchup/db';
import { to as copyTo } from 'pg-copy-streams';
import { isBigintString, type Change } from './change.ts';
import { ascending, binaryCopyRow } from './binary-copy.ts';
import type { ChangeIdentity, StampedIdentity } from './held.ts';
import { scopeActionSql, type TeamScope } from './scope.ts';
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
  /** The reader's team scope (see scope.ts); none: every team. */
  scope?: TeamScope;
  /** Only these changes of the range (by origin identity): the ones a peer said it lacks (see held.ts). */
  only?: readonly ChangeIdentity[];
}

export interface ChangePage {
  changes: Change[];
  /** Where the next read starts: everything up to it was returned or needs no sending. */
  nextCursor: string;
  hasMore: boolean;
  /** Newest position in the log when this page was read. */
  latestSequence: string;
}

/** A page of the log as JSON bytes, ready to send without parsing and re-serializing each change. */
export interface ChangePageJson {
  /**
   * The page as the body of a batch (UTF-8): `{"changes":[…]}`, the changes in position order, each
   * shaped as changeOutputSchema.
   */
  body: Buffer;
  count: number;
  /** Of them, deletes (tombstones): a full baseline reports rows and tombstones sent. */
  deletes: number;
  nextCursor: string;
  hasMore: boolean;
  latestSequence: string;
}

// Built with concat(), which writes the text once (a chain of || copies it at every step). The table
// name, record id and operation go in unescaped: table names are plain lower-case identifiers (checked
// when a table is enabled), record ids UUIDs and operations one of five words. For a scoped peer, each
// entry comes with its scope_action (see scope.ts), which shapes what of it goes.
function changeJson(scoped: boolean): string {
  const operation = scoped ? `CASE WHEN c.scope_action = 'exit' THEN 'delete' ELSE c.operation END` : 'c.operation';
  const changeData = scoped
    ? `CASE WHEN c.scope_action = 'exit' THEN 'null' ELSE coalesce(c.change_data::text, 'null') END`
    : `coalesce(c.change_data::text, 'null')`;
  const oldData = scoped ? `CASE WHEN c.scope_action = 'send' THEN coalesce(c.old_data::text, 'null') ELSE 'null' END` : `coalesce(c.old_data::text, 'null')`;
  const exit = scoped ? `, CASE WHEN c.scope_action = 'exit' THEN ',"scope_exit":true' ELSE '' END` : '';
  return `concat('{"sequence":"', c.sequence, '","table_name":"', c.table_name, '","record_id":"', c.record_id,
  '","operation":"', ${operation}, '","change_data":', ${changeData},
  ',"old_data":', ${oldData}, ',"timestamp":"', to_char(c."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  '","origin_node_id":', to_json(c.origin_node_id), ',"origin_sequence":"', c.origin_sequence, '","hlc":"', c.hlc, '"'${exit}, '}')`;
}

/** Deletes among the page's entries: tombstones, scope exits included. */
const isDelete = (scoped: boolean) => (scoped ? `c.operation = 'delete' OR c.scope_action = 'exit'` : `c.operation = 'delete'`);

/**
 * The log entries a read may take, as a FROM item: the table itself, or for a scoped peer its entries
 * with their scope_action, those left out of its scope already gone (so that a page is filled with
 * what it sends, and LIMIT counts only that).
 */
function entries(options: ReadOptions): string {
  if (!options.scope) return 'database_changes';
  const action = scopeActionSql(options.scope, 'd');
  return `(SELECT d.*, ${action} AS scope_action FROM database_changes d WHERE ${action} <> 'leave_out')`;
}

/**
 * The conditions every page shares: positions after `after` up to `upTo`, the reader's own changes left
 * out, and scope exits (which no node sends on, see scope.ts).
 */
function rangeConditions(options: ReadOptions, quote: (text: string) => string): string {
  for (const position of [options.after, options.upTo ?? '0']) {
    if (!isBigintString(position)) throw new Error(`not a log position: ${JSON.stringify(position)}`);
  }
  if (!Number.isSafeInteger(options.limit) || options.limit < 1) throw new Error(`not a page size: ${options.limit}`);
  const upTo = options.upTo === undefined ? '' : `AND sequence <= ${options.upTo}`;
  const excluded = options.excludeOrigin === undefined ? '' : `AND origin_node_id <> ${quote(options.excludeOrigin)}`;
  return `sequence > ${options.after} ${upTo} ${excluded} AND NOT scope_exit${onlyCondition(options.only, quote)}`;
}

/** The condition that keeps only the named identities (literals: a COPY takes no parameters). */
function onlyCondition(only: readonly ChangeIdentity[] | undefined, quote: (text: string) => string): string {
  if (only === undefined) return '';
  if (only.length === 0) return ' AND false';
  for (const i of only) if (!isBigintString(i.sequence)) throw new Error(`not an origin sequence: ${JSON.stringify(i.sequence)}`);
  const origins = `ARRAY[${only.map((i) => quote(i.origin)).join(',')}]::text[]`;
  const sequences = `'{${only.map((i) => i.sequence).join(',')}}'::bigint[]`;
  return ` AND (origin_node_id, origin_sequence) IN (SELECT * FROM unnest(${origins}, ${sequences}))`;
}

/**
 * The row images a page of JSON holds, in bytes, past its first change: a page of the largest rows the
 * default body limit lets in stays a few of them, not `limit` of them (memory, I9; and PostgreSQL builds
 * no text over 1 GB, so a page of many large rows would fail at every try).
 */
export const PAGE_MAX_BYTES = 16 * 1024 * 1024;

function checkPageBound(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new Error(`not a page byte bound: ${maxBytes}`);
}

/** An entry's row images in bytes, as a page counts them against PAGE_MAX_BYTES. */
const ROW_BYTES = 'coalesce(octet_length(e.change_data::text), 0) + coalesce(octet_length(e.old_data::text), 0)';

/** The column `bytes_before` of entries `e` taken in `order`: the row images of the entries before each. */
const bytesBefore = (order: string) => `sum(${ROW_BYTES}) OVER (ORDER BY ${order}) - (${ROW_BYTES}) AS bytes_before`;

/** Whether a page has more after it: it is full, or the byte bound cut it (`cut`: the entries it left out). */
const pageHasMore = (count: number, limit: number, cut: Buffer) => count === limit || Number(cut.toString('latin1')) > 0;

function pageQuery(options: ReadOptions, maxBytes: number, quote: (text: string) => string, sorted: boolean): string {
  const conditions = rangeConditions(options, quote);
  const scoped = options.scope !== undefined;
  // One statement, one snapshot: the page and the newest position agree. The aggregates take the rows in
  // the page's order; the positions, gathered by the same pass, prove it, and a page that ever came out
  // of order is read again with the order spelled out in the aggregate (which sorts, even rows already
  // in order, before PostgreSQL 16). A change whose row images start past maxBytes is left for the next
  // page (`cut` counts them): the first change always goes.
  const kept = `c.bytes_before < ${maxBytes}`;
  return `COPY (
    SELECT latest.latest, p.last::text, p.count::text, '{"changes":[' || coalesce(p.json, '') || ']}', p.positions, p.deletes::text, p.cut::text
      FROM (SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes) latest
      CROSS JOIN LATERAL (
        SELECT max(c.sequence) FILTER (WHERE ${kept}) AS last, count(*) FILTER (WHERE ${kept}) AS count,
               array_agg(c.sequence) FILTER (WHERE ${kept}) AS positions,
               count(*) FILTER (WHERE ${kept} AND (${isDelete(scoped)})) AS deletes,
               count(*) FILTER (WHERE NOT ${kept}) AS cut,
               string_agg(${changeJson(scoped)}, ','${sorted ? ' ORDER BY c.sequence' : ''}) FILTER (WHERE ${kept}) AS json
          FROM (SELECT e.*, ${bytesBefore('e.sequence')}
                  FROM (SELECT * FROM ${entries(options)} e WHERE ${conditions} ORDER BY sequence LIMIT ${options.limit}) e) c
      ) p
  ) TO STDOUT (FORMAT binary)`;
}

/**
 * Reads a page of the log as JSON bytes. PostgreSQL writes each change's JSON by concatenation — the row
 * images are stored as json text and go in as they are — and joins the page into one batch body, so the
 * driver receives one field, not a row per change: several times cheaper than decoding the columns and
 * serializing again. It comes by COPY in binary format, as the bytes PostgreSQL made: sent on to a peer
 * as they are, with no decoding into a string and encoding back, nor a large string on the heap.
 *
 * The page ends early, with more to read, once its row images reach `maxBytes` (PAGE_MAX_BYTES). A read
 * of named changes (`only`) is not cut: its callers send it as one page, and the names bound it.
 */
export async function readChangesJson(db: Pool | PoolClient, options: ReadOptions, maxBytes = PAGE_MAX_BYTES): Promise<ChangePageJson> {
  checkPageBound(maxBytes);
  const bound = options.only === undefined ? maxBytes : Number.MAX_SAFE_INTEGER;
  const client = 'release' in db ? db : await db.connect();
  let fields: (Buffer | null)[];
  try {
    const quote = (text: string) => client.escapeLiteral(text);
    fields = await copyOneRow(client, pageQuery(options, bound, quote, false));
    if (!ascending(fields[4]!)) fields = await copyOneRow(client, pageQuery(options, bound, quote, true));
  } finally {
    if (client !== db) client.release();
  }
  const [latest, last, counted, body, , deletes, cut] = fields;
  const latestSequence = latest!.toString('latin1');
  const count = Number(counted!.toString('latin1'));
  const hasMore = pageHasMore(count, options.limit, cut!);
  const end = options.upTo !== undefined && BigInt(options.upTo) < BigInt(latestSequence) ? options.upTo : latestSequence;
  const nextCursor = hasMore ? last!.toString('latin1') : maxOf(end, options.after);
  return { body: body!, count, deletes: Number(deletes!.toString('latin1')), nextCursor, hasMore, latestSequence };
}

/** The identities of a page of the log: what a sender asks a peer about before reading the changes themselves. */
export interface IdentityPage {
  /** In position order, each with its stamp. */
  identities: StampedIdentity[];
  count: number;
  /** As ChangePageJson's: the same page read with the same options ends there. */
  nextCursor: string;
  hasMore: boolean;
  latestSequence: string;
}

/**
 * The identities of the page readChangesJson would read with these options (same entries, same scope,
 * same end), without their row images.
 */
export async function readIdentities(db: Pool | PoolClient, options: ReadOptions): Promise<IdentityPage> {
  const client = 'release' in db ? db : await db.connect();
  try {
    const conditions = rangeConditions(options, (text) => client.escapeLiteral(text));
    const { rows } = await client.query<{ latest: string; origins: string[] | null; sequences: string[] | null; hlcs: string[] | null; last: string | null }>(
      `SELECT latest.latest, p.origins, p.sequences, p.hlcs, p.last::text
         FROM (SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes) latest
         CROSS JOIN LATERAL (
           SELECT array_agg(c.origin_node_id ORDER BY c.sequence) AS origins, array_agg(c.origin_sequence::text ORDER BY c.sequence) AS sequences,
                  array_agg(c.hlc::text ORDER BY c.sequence) AS hlcs, max(c.sequence) AS last
             FROM (SELECT * FROM ${entries(options)} e WHERE ${conditions} ORDER BY sequence LIMIT ${options.limit}) c
         ) p`,
    );
    const row = rows[0]!;
    const origins = row.origins ?? [];
    const identities = origins.map((origin, i) => ({ origin, sequence: row.sequences![i]!, hlc: row.hlcs![i]! }));
    const count = identities.length;
    const hasMore = count === options.limit;
    const end = options.upTo !== undefined && BigInt(options.upTo) < BigInt(row.latest) ? options.upTo : row.latest;
    return { identities, count, nextCursor: hasMore ? row.last! : maxOf(end, options.after), hasMore, latestSequence: row.latest };
  } finally {
    if (client !== db) client.release();
  }
}

async function copyOneRow(client: PoolClient, query: string): Promise<(Buffer | null)[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.query(copyTo(query))) chunks.push(chunk as Buffer);
  return binaryCopyRow(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
}

/**
 * Where a page in row-key order ends: the last entry's table, row and position, or only a table when the
 * next page starts at that table's first row. Spelled `table/record_id/position` (or `table`) on the
 * wire: table names are plain identifiers, record ids UUIDs.
 */
export type RowKeyCursor = { table: string; recordId: string; sequence: string } | { table: string; recordId?: undefined; sequence?: undefined };

const ROW_KEY_CURSOR = /^([a-z_][a-z0-9_]*)(?:\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/(\d+))?$/;

/** Reads a row-key cursor as the wire spells it; null when it is not one. */
export function parseRowKeyCursor(text: string): RowKeyCursor | null {
  const match = ROW_KEY_CURSOR.exec(text);
  if (!match) return null;
  if (match[2] === undefined) return { table: match[1]! };
  if (!isBigintString(match[3])) return null;
  return { table: match[1]!, recordId: match[2], sequence: match[3]! };
}

export const formatRowKeyCursor = (key: RowKeyCursor) => (key.recordId === undefined ? key.table : `${key.table}/${key.recordId}/${key.sequence}`);

/** A page of the log in row-key order: entries of a range, grouped by row. */
export interface KeyOrderedPageJson {
  body: Buffer;
  count: number;
  deletes: number;
  /** Where the next page starts; null when this page holds the range's last entry. */
  nextKey: RowKeyCursor | null;
  latestSequence: string;
}

/**
 * Reads the entries of a range (after, upTo] in row-key order (table, record id, position) instead of
 * position order, `afterKey` being where the last page ended. A full baseline moves the standing
 * version of every row: in key order, the receiver writes its table's key index and the log's row index
 * at ascending keys — the pages it touches are the ones it just touched — where in position order every
 * row lands on a random page of indexes that outgrow memory. The range is acknowledged as a whole once
 * its last page is applied: no position range ends inside it.
 *
 * A page holds rows of one table, read along the log's row index (table, record id): the rest of the
 * row the last page ended in, then the next rows. Each page names its table and key as literals, so
 * that the planner sees how few entries a page takes and walks the index rather than sorting the log.
 * A page shorter than asked ends its table: the next starts at the next table that has entries.
 */
export async function readChangesByKeyJson(
  db: Pool | PoolClient,
  options: ReadOptions & { afterKey: RowKeyCursor | null },
  maxBytes = PAGE_MAX_BYTES,
): Promise<KeyOrderedPageJson> {
  checkPageBound(maxBytes);
  const client = 'release' in db ? db : await db.connect();
  try {
    const quote = (text: string) => client.escapeLiteral(text);
    const conditions = rangeConditions(options, quote);
    let key = options.afterKey;
    if (key && !parseRowKeyCursor(formatRowKeyCursor(key))) throw new Error(`not a row-key cursor: ${JSON.stringify(key)}`);
    if (!key) {
      const first = await nextTable(client, null);
      if (first === null) return { body: Buffer.from('{"changes":[]}'), count: 0, deletes: 0, nextKey: null, latestSequence: await latestSequence(client) };
      key = { table: first };
    }
    const table = `table_name = '${key.table}'`;
    const scoped = options.scope !== undefined;
    const from = entries(options);
    const rows =
      key.recordId === undefined
        ? `(SELECT * FROM ${from} e WHERE ${table} AND ${conditions} ORDER BY record_id, sequence LIMIT ${options.limit})`
        : `(SELECT * FROM ${from} e WHERE ${table} AND record_id = '${key.recordId}' AND sequence > ${key.sequence} AND ${conditions} ORDER BY sequence LIMIT ${options.limit})
           UNION ALL
           (SELECT * FROM ${from} e WHERE ${table} AND record_id > '${key.recordId}' AND ${conditions} ORDER BY record_id, sequence LIMIT ${options.limit})`;
    const fields = await copyOneRow(
      client,
      `COPY (
        WITH limited AS MATERIALIZED (SELECT * FROM (${rows}) r LIMIT ${options.limit}),
        measured AS MATERIALIZED (
          SELECT e.*, ${bytesBefore('e.record_id, e.sequence')} FROM limited e),
        c AS MATERIALIZED (SELECT * FROM measured WHERE bytes_before < ${maxBytes})
        SELECT (SELECT coalesce(max(sequence), 0)::text FROM database_changes),
               (SELECT concat(record_id, '/', sequence) FROM c ORDER BY record_id DESC, sequence DESC LIMIT 1),
               (SELECT count(*)::text FROM c),
               '{"changes":[' || coalesce((SELECT string_agg(${changeJson(scoped)}, ',' ORDER BY c.record_id, c.sequence) FROM c), '') || ']}',
               (SELECT count(*)::text FROM c WHERE ${isDelete(scoped)}),
               (SELECT count(*)::text FROM measured WHERE bytes_before >= ${maxBytes})
      ) TO STDOUT (FORMAT binary)`,
    );
    const [latest, last, counted, body, deletes, cut] = fields;
    const count = Number(counted!.toString('latin1'));
    let nextKey: RowKeyCursor | null;
    if (pageHasMore(count, options.limit, cut!)) {
      const [recordId, sequence] = last!.toString('latin1').split('/') as [string, string];
      nextKey = { table: key.table, recordId, sequence };
    } else {
      const following = await nextTable(client, key.table);
      nextKey = following === null ? null : { table: following };
    }
    return { body: body!, count, deletes: Number(deletes!.toString('latin1')), nextKey, latestSequence: latest!.toString('latin1') };
  } finally {
    if (client !== db) client.release();
  }
}

/** The first table after `after` (or the first of all) with entries in the log: one step along its row index. */
async function nextTable(client: PoolClient, after: string | null): Promise<string | null> {
  const { rows } =
    after === null
      ? await client.query<{ name: string | null }>('SELECT min(table_name) AS name FROM database_changes')
      : await client.query<{ name: string | null }>('SELECT min(table_name) AS name FROM database_changes WHERE table_name > $1', [after]);
  return rows[0]!.name;
}

export async function readChanges(db: Pool | PoolClient, options: ReadOptions): Promise<ChangePage> {
  const { body, nextCursor, hasMore, latestSequence } = await readChangesJson(db, options);
  return { changes: (JSON.parse(body.toString('utf8')) as { changes: Change[] }).changes, nextCursor, hasMore, latestSequence };
}

const maxOf = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b);

export async function latestSequence(sql: Sql): Promise<string> {
  const { rows } = await sql.query<{ latest: string }>('SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes');
  return rows[0]!.latest;
}
