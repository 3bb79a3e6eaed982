// A range of the log as one stream: its entries as COPY text lines, piped from the sender's PostgreSQL to
// the receiver's without a page of JSON built, parsed and checked per change on either side. A full
// baseline (SPEC I11) goes this way in row-key order; an incremental range between unscoped peers in
// position order.
//
// The receiver takes the stream in chunks, each one transaction (I7). A chunk goes the bulk way only when
// nothing in it needs the applier's per-change judgement beyond last writer wins, which SQL settles per
// row against the version standing here: every line in the shape a page would be accepted in, its tables
// and columns synced here, no identity repeated or already logged, no stamp past the clock bound (I13), no
// stamp equal to a standing one (ties are the applier's), a sender without a team scope. Anything else —
// or a write that fails, or a change of one of its rows logged meanwhile — sends the chunk through the
// ordinary applier (`applyChanges`), which decides it change by change and words any refusal: the bulk
// way is never a different verdict, only a faster one.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from '@catchup/db';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { APPLYING, LOGGED_MEANWHILE, lockLogAndCheckSinceSql, upsertRowImagesSql, type ApplyOptions, type ApplyResult } from './apply.ts';
import { isBigintString } from './change.ts';
import { ChunkBytes } from './chunk-bytes.ts';
import { BatchRejectedError } from './errors.ts';
import { releaseLeases, releaseLeasesSql } from './held.ts';
import { quoteIdent } from './sql.ts';
import { describeSyncedTables } from './tables.ts';
import { checkChanges, scanChangesDocument, type IncomingChange } from './wire.ts';

/** The media type of a log stream: COPY text lines of LOG_STREAM_COLUMNS. */
export const LOG_STREAM_CONTENT_TYPE = 'application/x-catchup-log-stream';

/** A line's fields, in order (COPY's text format: tab-separated, \N for NULL, backslash escapes). */
const LOG_STREAM_COLUMNS = 'table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc, scope_exit';

/**
 * Lines per chunk (one transaction each): enough to amortize a transaction, few enough to hold the log
 * lock briefly and to keep the staging table within PostgreSQL's temp_buffers (8 MB by default).
 */
export const LOG_STREAM_CHUNK_ROWS = 5_000;
/** Chunks written at once: the receiving database's two writes (rows, log) of one while the other appends. */
export const LOG_STREAM_PARALLEL_CHUNKS = 2;
/**
 * The most bytes a chunk holds, and so the longest line (413 beyond): the default body limit of a batch
 * (BODY_LIMIT_BYTES), whose largest row image a line can then always carry. Memory: a few chunks at most.
 */
export const LOG_STREAM_CHUNK_BYTES = 16 * 1024 * 1024;

export interface LogStreamRange {
  /** Exclusive lower bound (the reader's cursor). */
  after: string;
  /** Inclusive upper bound. */
  upTo: string;
  /** The reader's node id: its own changes are left out. */
  excludeOrigin: string;
  /**
   * 'row key' (a full baseline): the log's row index order (table, record id, newest first), so that the
   * receiver writes its indexes at ascending keys, read along that index without a sort however large
   * the range. 'position' (an incremental range): the log's order, read along its primary key.
   */
  order: LogStreamOrder;
}

export type LogStreamOrder = 'row key' | 'position';

/**
 * The range's entries as a stream of COPY text lines, in the order asked for. One statement, one
 * snapshot. Scope exits are never sent on (see scope.ts); a scoped reader is not served this way (its
 * entries need their scope action). The connection is held until the stream ends or is destroyed.
 */
export async function openLogStream(pool: Pool, range: LogStreamRange): Promise<Readable> {
  for (const position of [range.after, range.upTo]) {
    if (!isBigintString(position)) throw new Error(`not a log position: ${JSON.stringify(position)}`);
  }
  const client = await pool.connect();
  let released = false;
  const release = (err?: Error | boolean) => {
    if (released) return;
    released = true;
    client.release(err);
  };
  try {
    // Sorting a baseline's range would spill the whole of it to disk; the row index gives the order as it is read.
    const byKey = range.order === 'row key';
    await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY${byKey ? '; SET LOCAL enable_sort = off' : ''}`);
    const stream = client.query(
      copyTo(`COPY (SELECT table_name, record_id, operation, change_data, old_data,
                           to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), origin_node_id, origin_sequence, hlc, scope_exit
                      FROM database_changes
                     WHERE sequence > ${range.after} AND sequence <= ${range.upTo} AND origin_node_id <> ${client.escapeLiteral(range.excludeOrigin)}
                       AND NOT scope_exit
                     ORDER BY ${byKey ? 'table_name, record_id, hlc DESC' : 'sequence'}) TO STDOUT`),
    );
    let ended = false;
    stream.on('end', () => {
      ended = true;
      client.query('COMMIT').then(
        () => release(),
        (err: Error) => release(err),
      );
    });
    // Destroyed before its end (the peer went away): the connection is mid-COPY, so it is closed, not reused.
    stream.on('close', () => {
      if (!ended) release(true);
    });
    return stream;
  } catch (err) {
    release(err instanceof Error ? err : true);
    throw err;
  }
}

/** What a log stream did here: as a batch's result, with the deletes (tombstones) among the received. */
export interface LogStreamResult extends ApplyResult {
  deletes: number;
}

export interface LogStreamOptions extends ApplyOptions {
  /** Applies a chunk the bulk way does not take, change by change (the ordinary applier, with its alerts). */
  applyChanges: (changes: IncomingChange[]) => Promise<ApplyResult>;
  chunkRows?: number;
  chunkBytes?: number;
  /** Chunks written at once. */
  parallel?: number;
}

/** A line longer than a chunk may hold. */
export class LogStreamTooLargeError extends Error {
  readonly reason = 'too_large';
}

/**
 * Applies a log stream chunk by chunk, `parallel` chunks at a time while the next is read (they take the
 * log lock only to append; of a row whose entries two chunks in flight both hold, the later to append
 * finds it logged since its horizon and goes to the applier). A chunk applied stays applied when a later
 * one fails (each is a batch, I7): the sender acknowledges nothing before the whole stream was taken
 * (I8), and what it sends again is skipped as duplicate (I3).
 */
export async function applyLogStream(pool: Pool, body: AsyncIterable<Buffer | string>, options: LogStreamOptions): Promise<LogStreamResult> {
  const total: LogStreamResult = { received: 0, applied: 0, skipped_duplicate: 0, skipped_stale: 0, deletes: 0 };
  const parallel = options.parallel ?? LOG_STREAM_PARALLEL_CHUNKS;
  const inFlight = new Set<Promise<void>>();
  let line = 0;
  try {
    for await (const chunk of chunksOf(body, options.chunkRows ?? LOG_STREAM_CHUNK_ROWS, options.chunkBytes ?? LOG_STREAM_CHUNK_BYTES)) {
      while (inFlight.size >= parallel) await Promise.race(inFlight);
      const applying: Promise<void> = applyChunk(pool, chunk.bytes.bytes, line + 1, options).then((result) => {
        // Written: PostgreSQL has read all of it, so no socket write still reads it either (see chunk-bytes.ts).
        // A chunk that failed is left to the collector: its connection may have been dropped mid-write.
        chunk.bytes.release();
        inFlight.delete(applying);
        total.received += result.received;
        total.applied += result.applied;
        total.skipped_duplicate += result.skipped_duplicate;
        total.skipped_stale += result.skipped_stale;
        total.deletes += result.deletes;
      });
      applying.catch(() => {}); // raced or awaited below; this keeps a failure while the next chunk is read from going unhandled
      inFlight.add(applying);
      line += chunk.rows;
    }
    await Promise.all(inFlight);
    await flushCommits(pool);
  } finally {
    // A failure answers once nothing of the stream is still being written.
    await Promise.allSettled(inFlight);
  }
  return total;
}

/**
 * Chunks commit without waiting for their WAL to reach disk (a crash loses only chunks the sender has not
 * seen acknowledged, and sends again); before the stream is answered, one transaction that commits
 * synchronously flushes the WAL through its own commit, and so through every chunk's.
 */
async function flushCommits(pool: Pool): Promise<void> {
  await pool.query('BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT');
}

interface Chunk {
  bytes: ChunkBytes;
  rows: number;
}

const lineTooLong = (maxBytes: number) => new LogStreamTooLargeError(`a line of the log stream is longer than ${maxBytes} bytes`);

/** The stream cut at line ends into chunks of at most `maxRows` lines and about `maxBytes` bytes. */
async function* chunksOf(body: AsyncIterable<Buffer | string>, maxRows: number, maxBytes: number): AsyncGenerator<Chunk> {
  let bytes = new ChunkBytes();
  let rows = 0;
  /** Bytes of `bytes` after its last line end: a line not complete yet. */
  let tail = 0;
  for await (const piece of body) {
    const data = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let start = 0;
    let lastEnd = -1;
    for (let end = data.indexOf(10); end !== -1; end = data.indexOf(10, end + 1)) {
      const length = lastEnd === -1 ? tail + end + 1 : end - lastEnd;
      if (length > maxBytes) throw lineTooLong(maxBytes);
      lastEnd = end;
      if (++rows === maxRows) {
        bytes.append(data.subarray(start, end + 1));
        yield { bytes, rows };
        bytes = new ChunkBytes(bytes.capacity);
        rows = 0;
        tail = 0;
        start = end + 1;
      }
    }
    bytes.append(data.subarray(start));
    tail = lastEnd === -1 ? tail + data.length - start : data.length - (lastEnd + 1);
    if (bytes.length > maxBytes) {
      if (rows === 0) throw lineTooLong(maxBytes);
      // The chunk ends at its last complete line; the incomplete one starts the next.
      const next = bytes.cut(bytes.length - tail);
      yield { bytes, rows };
      bytes = next;
      rows = 0;
    }
  }
  if (bytes.length > 0) yield { bytes, rows: rows + (tail > 0 ? 1 : 0) };
}

/**
 * Where a chunk is loaded: a temporary table of the connection, its rows gone at the end of each
 * transaction. Typed as the log is, so that COPY checks every number, UUID and stamp as it reads.
 */
const STAGING = 'catchup_log_stream';
const CREATE_STAGING = `SET LOCAL client_min_messages = warning;
  CREATE TEMP TABLE IF NOT EXISTS ${STAGING} (table_name text, record_id uuid, operation text, change_data json, old_data json,
    "timestamp" timestamptz(3), origin_node_id text, origin_sequence bigint, hlc bigint, scope_exit boolean) ON COMMIT DELETE ROWS`;

/** Loads a chunk's lines into the staging table; a line PostgreSQL cannot read refuses the batch, naming it. */
async function loadChunk(client: PoolClient, bytes: Buffer, firstLine: number): Promise<void> {
  try {
    await pipeline(Readable.from([bytes]), client.query(copyFrom(`COPY ${STAGING} (${LOG_STREAM_COLUMNS}) FROM STDIN`)));
  } catch (err) {
    const pgError = err as { code?: string; where?: string; message?: string };
    // Data exceptions (class 22: a malformed number, UUID, stamp, JSON text, a wrong number of fields): the peer's fault.
    if (typeof pgError.code === 'string' && pgError.code.startsWith('22')) {
      const line = /line (\d+)(?:, column (\w+))?/.exec(pgError.where ?? '');
      const where = line ? ` line ${firstLine + Number(line[1]) - 1}${line[2] ? `, ${line[2]}` : ''}` : '';
      throw new BatchRejectedError(`log stream${where}: ${pgError.message}`);
    }
    throw err;
  }
}

/**
 * Whether every line has the shape the ordinary applier takes without a second look (none may be NULL:
 * bool_and would pass over it). Node ids in ASCII only, so that ordering them in SQL (COLLATE "C") agrees
 * with compareVersions. Row images are checked where they are written (see writeTableSql). $1: this node's id;
 * $2: the clock bound in ms (I13).
 */
const SHAPE_SQL = `SELECT count(*)::int AS n, count(*) FILTER (WHERE operation = 'delete')::int AS deletes,
    coalesce(array_agg(DISTINCT table_name), '{}') AS tables, coalesce(max(hlc), 0)::text AS newest,
    coalesce(bool_and(coalesce(
      operation IN ('insert', 'update', 'delete', 'soft_delete', 'reactivate')
      AND (change_data IS NULL) = (operation = 'delete')
      AND (old_data IS NULL OR json_typeof(old_data) = 'object')
      AND char_length(origin_node_id) BETWEEN 1 AND 100 AND octet_length(origin_node_id) = char_length(origin_node_id) AND origin_node_id <> $1
      AND origin_sequence >= 0 AND hlc >= 0 AND hlc <= (SELECT (catchup_wall_clock_ms() + $2::bigint) * 65536 + 65535)
      AND (NOT scope_exit OR operation = 'delete'),
    false)), true) AS shaped
  FROM ${STAGING}`;

/** The log's horizon, and whether the log holds one of the chunk's identities (probed along the identity index). */
const LOGGED_SQL = `SELECT (SELECT coalesce(max(sequence), 0) FROM database_changes)::text AS horizon,
    EXISTS (SELECT 1 FROM ${STAGING} s CROSS JOIN LATERAL (
      SELECT 1 FROM database_changes d WHERE d.origin_node_id = s.origin_node_id AND d.origin_sequence = s.origin_sequence LIMIT 1) x) AS identities_logged`;

/**
 * Writes one table's rows, last writer wins (I4): per row the chunk's newest entry (ties by node id then
 * origin sequence, as compareVersions), which wins when its stamp is newer than the row's standing
 * version here — its newest logged entry, probed row by row along the log's row index — and is then
 * upserted in key order, or its row deleted. Counts the winners, the upserts among them, the rows
 * upserted, and the stamps equal to a standing one (ties between nodes: the applier settles them, as it
 * orders node ids). An image that is not an object, sets a column the table lacks here, or whose
 * id is not its record's writes nothing, and the chunk then goes to the applier (which words it).
 */
function writeTableSql(table: string, columns: readonly string[], quote: (text: string) => string): string {
  const t = quoteIdent(table);
  const known = `${quote(`{${columns.map((c) => `"${c.replace(/["\\]/g, '\\$&')}"`).join(',')}}`)}::text[]`;
  const images = `(SELECT r.* FROM w, LATERAL jsonb_populate_record(NULL::${t}, w.image) r
                    WHERE w.operation <> 'delete' AND jsonb_typeof(w.image) = 'object' AND w.image - ${known} = '{}'::jsonb AND r.id = w.record_id) r`;
  return `WITH c AS MATERIALIZED (
      SELECT DISTINCT ON (record_id) record_id, operation, change_data, hlc FROM ${STAGING} WHERE table_name = ${quote(table)}
       ORDER BY record_id, hlc DESC, origin_node_id COLLATE "C" DESC, origin_sequence DESC),
    judged AS MATERIALIZED (
      SELECT c.record_id, c.operation, c.change_data, c.hlc, standing.hlc AS standing_hlc FROM c
        LEFT JOIN LATERAL (SELECT m.hlc FROM database_changes m WHERE m.table_name = ${quote(table)} AND m.record_id = c.record_id::text
                            ORDER BY m.hlc DESC LIMIT 1) standing ON true),
    w AS MATERIALIZED (
      SELECT record_id, operation, change_data::jsonb AS image FROM judged WHERE standing_hlc IS NULL OR hlc > standing_hlc ORDER BY record_id),
    upserted AS (${upsertRowImagesSql(table, columns, images)} RETURNING 1),
    deleted AS (DELETE FROM ${t} WHERE id IN (SELECT record_id FROM w WHERE operation = 'delete'))
    SELECT (SELECT count(*) FROM w)::int AS winners, (SELECT count(*) FROM w WHERE operation <> 'delete')::int AS upserts,
           (SELECT count(*) FROM upserted)::int AS written, (SELECT count(*) FROM judged WHERE hlc = standing_hlc)::int AS ties`;
}

/** Why a chunk goes to the ordinary applier instead. */
class NotBulk extends Error {}

async function applyChunk(pool: Pool, bytes: Buffer, firstLine: number, options: LogStreamOptions): Promise<LogStreamResult> {
  const client = await pool.connect();
  let broken = false;
  let changes: IncomingChange[];
  try {
    try {
      return await applyChunkInBulk(client, bytes, firstLine, options);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      // A line PostgreSQL cannot read is the peer's fault; anything else — a chunk the bulk way does not
      // take, a write it could not make (a constraint, a concurrent applier) — the applier decides, and words.
      if (broken || err instanceof BatchRejectedError) throw err;
    }
    changes = await readChunkAsChanges(client, bytes, firstLine);
  } finally {
    client.release(broken);
  }
  // The chunk's connection is back in the pool before the applier takes one: chunks enough in flight,
  // each holding one while waiting for another, would wait for each other forever.
  // Applied or refused, the chunk's changes are no longer on their way: their delivery leases end (see held.ts).
  const result = await options.applyChanges(changes).finally(() =>
    releaseLeases(
      pool,
      changes.map((c) => ({ origin: c.origin_node_id, sequence: c.origin_sequence })),
    ),
  );
  return { ...result, deletes: changes.filter((c) => c.operation === 'delete').length };
}

async function applyChunkInBulk(client: PoolClient, bytes: Buffer, firstLine: number, options: LogStreamOptions): Promise<LogStreamResult> {
  await client.query(`BEGIN; ${APPLYING}; ${CREATE_STAGING}; SET LOCAL work_mem = '64MB'; SET LOCAL synchronous_commit = off`);
  await loadChunk(client, bytes, firstLine);
  if (options.senderScope) throw new NotBulk('a scoped sender');
  const { rows: shapes } = await client.query<{ n: number; deletes: number; tables: string[]; newest: string; shaped: boolean }>(SHAPE_SQL, [
    options.nodeId,
    String(options.maxClockSkewMs),
  ]);
  const shape = shapes[0]!;
  if (!shape.shaped) throw new NotBulk('a line the applier must judge');
  if (shape.n === 0) {
    await client.query('COMMIT');
    return { received: 0, applied: 0, skipped_duplicate: 0, skipped_stale: 0, deletes: 0 };
  }
  const tables = await describeSyncedTables(client);
  if (!shape.tables.every((t) => tables.has(t))) throw new NotBulk('a table not synced here');
  const logged = (await client.query<{ horizon: string; identities_logged: boolean }>(LOGGED_SQL)).rows[0]!;
  if (logged.identities_logged) throw new NotBulk('changes this log holds');

  let winners = 0;
  for (const table of [...shape.tables].sort()) {
    const sql = writeTableSql(table, tables.get(table)!.columns, (text) => client.escapeLiteral(text));
    const written = (await client.query<{ winners: number; upserts: number; written: number; ties: number }>(sql)).rows[0]!;
    if (written.ties > 0) throw new NotBulk('a stamp equal to a standing one');
    if (written.written !== written.upserts) throw new NotBulk('a row image the applier must judge');
    winners += written.winners;
  }
  try {
    // The lock, the clock and the check since the horizon go in the message that appends: the log lock is
    // held from the moment it is granted until commit (see apply.ts appendToLog). The entries since are
    // hashed against the chunk, whatever the log's statistics say of its newest positions (they lag behind
    // a log a baseline is filling, and a nested loop over them would scan them once per line). Identities
    // repeated in the chunk, or logged meanwhile by another applier, fail the log's unique index. Lines
    // go in the log's row index order, compared as bytes: a UUID's order is the byte order of its text.
    const chunkRows = `(SELECT table_name, record_id::text AS record_id FROM ${STAGING}) AS x`;
    // The chunk's delivery leases end with it (see held.ts), before the log lock.
    await client.query(`SET LOCAL enable_nestloop = off; ${releaseLeasesSql(`${STAGING} s`)};
      ${lockLogAndCheckSinceSql(logged.horizon, shape.newest, chunkRows)};
      INSERT INTO database_changes (${LOG_STREAM_COLUMNS})
      SELECT table_name, record_id::text, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc, scope_exit
        FROM ${STAGING} ORDER BY table_name COLLATE "C", ${STAGING}.record_id, hlc;
      COMMIT`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === LOGGED_MEANWHILE || code === '23505') throw new NotBulk('logged meanwhile, or an identity repeated');
    throw err;
  }
  // Each row's newest entry won unless a newer version stood here; every other entry is logged as stale.
  return { received: shape.n, applied: winners, skipped_duplicate: 0, skipped_stale: shape.n - winners, deletes: shape.deletes };
}

/**
 * A chunk as the changes of a batch, checked as a posted batch is: loaded again and written out as the
 * JSON a page carries (PostgreSQL escapes every field), then read by the batch's own reader.
 */
async function readChunkAsChanges(client: PoolClient, bytes: Buffer, firstLine: number): Promise<IncomingChange[]> {
  await client.query(`BEGIN; ${CREATE_STAGING}`);
  try {
    await loadChunk(client, bytes, firstLine);
    const { rows } = await client.query<{ doc: string }>(
      `SELECT concat('{"changes":[', string_agg(json_build_object('table_name', table_name, 'record_id', record_id, 'operation', operation,
                'change_data', change_data, 'old_data', old_data, 'timestamp', to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'origin_node_id', origin_node_id, 'origin_sequence', origin_sequence::text, 'hlc', hlc::text, 'scope_exit', scope_exit)::text, ','), ']}') AS doc
         FROM ${STAGING}`,
    );
    const doc = rows[0]!.doc;
    const scanned = scanChangesDocument(doc);
    return scanned ? scanned.changes : checkChanges((JSON.parse(doc) as { changes: unknown[] }).changes);
  } finally {
    await client.query('ROLLBACK');
  }
}
