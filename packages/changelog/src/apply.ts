// Applying a batch of remote changes: one transaction, set-wise SQL, last writer wins per row.
//
// Locks are taken in the order the application's own transactions take them — target rows first, then
// the log lock (which capture takes at commit) — so that a batch never deadlocks with local writes.
// The usual path is optimistic: read each row's standing version (its newest logged change) and the
// log's horizon, write the winners (which locks their rows), take the log lock, and append. If a change
// to one of the batch's rows was logged after the horizon (a local commit or another apply slipped in
// between), the transaction is rolled back and the batch is applied again in the locked way: rows
// locked up front, then the log lock, and everything decided under both.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inTransaction, type Pool, type PoolClient } from '@catchup/db';
import { from as copyFrom } from 'pg-copy-streams';
import { changeIdentity, compareDecimal, compareVersions, versionOf, type Change, type Version } from './change.ts';
import { BatchRejectedError } from './errors.ts';
import { checkIdentities, checkPrunedOwnLose, checkRepeatsAgree, checkStamps, type ChangeContent } from './integrity.ts';
import { writeRefusal, type TeamScope } from './scope.ts';
import { prepared, quoteIdent } from './sql.ts';
import { describeSyncedTables, type TableInfo } from './tables.ts';
import { checkChanges, incomingFromChange, serializeRowImages, type IncomingChange } from './wire.ts';

export interface ApplyResult {
  received: number;
  /** Changes whose row image now stands (they won last-writer-wins). */
  applied: number;
  /** Changes already in the log (by origin identity), or repeated within the batch (I3). */
  skipped_duplicate: number;
  /** New changes that lost to a newer write of the same row; logged for relay, not applied. */
  skipped_stale: number;
}

/** What a receiving node holds a peer's batch to (SPEC I12, I13). */
export interface ApplyOptions {
  /** This node's id: a change claiming it must already be in the log. */
  nodeId: string;
  /** How far ahead of this node's clock a change's stamp may be (catchup_max_clock_skew_seconds). */
  maxClockSkewMs: number;
  /** The sender's team scope, when it has one: it may write only rows of its teams (see scope.ts). */
  senderScope?: TeamScope | undefined;
}

const rowKey = (table: string, id: string) => `${table}\u0000${id}`;

function checkTables(changes: IncomingChange[], tables: Map<string, TableInfo>): void {
  changes.forEach((c, index) => {
    const table = tables.get(c.table_name);
    const where = { index, change: changeIdentity(c) };
    if (!table)
      throw new BatchRejectedError(
        `table_name: unknown or unsynced table ${JSON.stringify(c.table_name)} on the receiving node (put it under sync there)`,
        where,
      );
    for (const key of c.columns) {
      if (!table.columns.includes(key)) {
        throw new BatchRejectedError(`change_data.${key}: unknown column of ${c.table_name} on the receiving node (add the column there)`, where);
      }
    }
  });
}

/** Validates then applies a batch received as untrusted JSON. */
export async function applyBatch(pool: Pool, input: unknown[], options: ApplyOptions): Promise<ApplyResult> {
  return applyIncoming(pool, checkChanges(input), options);
}

/** Applies changes that already passed changeSchema (e.g. validated by the HTTP route). */
export async function applyChanges(pool: Pool, parsed: Change[], options: ApplyOptions): Promise<ApplyResult> {
  return applyIncoming(pool, parsed.map(incomingFromChange), options);
}

/** The set-wise row write failed; explained once its transaction has rolled back (the rows stay locked until then). */
class RowWriteFailed extends Error {
  readonly winners: IncomingChange[];
  readonly original: unknown;

  constructor(winners: IncomingChange[], original: unknown) {
    super('row write failed');
    this.winners = winners;
    this.original = original;
  }
}

/** Another transaction logged a change of one of the batch's rows while the optimistic path was deciding. */
class Interfered extends Error {}

/**
 * Capture leaves the applier's own writes to it (I6): the capture trigger's WHEN clause skips a row
 * written while catchup.applying is on, as the row is written (tables.ts), so an applied row queues no
 * deferred call to run at commit under the log lock.
 */
export const APPLYING = `SET LOCAL catchup.applying = 'on'`;

const DEADLOCK = '40P01';
const isDeadlock = (err: unknown) => (err as { code?: unknown } | null)?.code === DEADLOCK;

/** Applies changes read and checked with their row images as text (scanChangesDocument). */
export async function applyIncoming(pool: Pool, parsed: IncomingChange[], options: ApplyOptions): Promise<ApplyResult> {
  const tables = await describeSyncedTables(pool);
  checkTables(parsed, tables);
  checkRepeatsAgree(parsed);

  // Repeats inside the batch (found to agree) count as duplicates straight away.
  const seen = new Set<string>();
  const unique: IncomingChange[] = [];
  const identities: string[] = [];
  for (const c of parsed) {
    const id = changeIdentity(c);
    if (seen.has(id)) continue;
    seen.add(id);
    unique.push(c);
    identities.push(id);
  }
  const result: ApplyResult = { received: parsed.length, applied: 0, skipped_duplicate: parsed.length - unique.length, skipped_stale: 0 };
  if (unique.length === 0) return result;

  const attempt = (locked: boolean) =>
    inTransaction(
      pool,
      async (client) => {
        const { winners, logged, prunedOwn } = await applyInTransaction(client, unique, identities, tables, locked, options);
        return {
          ...result,
          applied: winners,
          skipped_duplicate: result.skipped_duplicate + unique.length - logged - prunedOwn,
          skipped_stale: logged - winners + prunedOwn,
        };
      },
      APPLYING,
    );
  try {
    try {
      return await attempt(false);
    } catch (err) {
      const retry = err instanceof Interfered || (err instanceof RowWriteFailed && isDeadlock(err.original));
      if (!retry) throw err;
      return await attempt(true);
    }
  } catch (err) {
    if (!(err instanceof RowWriteFailed)) throw err;
    // A deadlock is nobody's fault in the batch: the caller may try again.
    if (isDeadlock(err.original)) throw err.original;
    throw await explainFailure(pool, err.winners, tables, parsed, err.original);
  }
}

async function applyInTransaction(
  client: PoolClient,
  changes: IncomingChange[],
  identities: string[],
  tables: Map<string, TableInfo>,
  locked: boolean,
  options: ApplyOptions,
): Promise<{ winners: number; logged: number; prunedOwn: number }> {
  if (locked) {
    await lockExistingRows(client, changes);
    await client.query('SELECT catchup_lock_log()');
  }
  const picking = pickWinners(client, changes);
  picking.catch(() => {}); // awaited below; this only keeps a failure from going unhandled if the next line throws
  serializeRowImages(changes); // while the database looks up the standing versions
  const { winners, horizon, wallClockMs, alreadyLogged, ownPrunedThrough } = await picking;
  checkStamps(changes, wallClockMs, options.maxClockSkewMs);
  if (options.senderScope) await checkSenderScope(client, changes, winners, options.senderScope);
  // This node's own changes pruned here (superseded) may come back from a peer: skipped as stale, never
  // logged again; one that would win cannot be one of them and is refused (I11, I12).
  const prunedOwn = checkIdentities(changes, alreadyLogged, options.nodeId, ownPrunedThrough);
  checkPrunedOwnLose(changes, winners, prunedOwn);
  const fresh =
    alreadyLogged.size === 0 && prunedOwn.size === 0 ? changes : changes.filter((_, i) => !alreadyLogged.has(identities[i]!) && !prunedOwn.has(identities[i]!));
  const writing = writeRows(client, winners, tables).catch((err: unknown) => {
    throw new RowWriteFailed(winners, err);
  });
  writing.catch(() => {}); // awaited below; this only keeps a failure from going unhandled if the next line throws
  const lines = logLines(fresh); // made while the database writes the rows
  await writing;
  const newest = newestStamp(changes);
  // Under the log lock, nothing can log one of the batch's identities: the ones found already logged
  // are all there are, unless something logged a change of one of the batch's rows since the horizon.
  // The lock, the clock and that check go in the same message as the append (see appendToLog).
  const prelude = locked ? observeClockBlock(newest) : lockLogAndCheckSinceBlock(horizon, changes, newest);
  try {
    await appendToLog(client, lines, prelude);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === LOGGED_MEANWHILE) throw new Interfered();
    throw err;
  }
  return { winners: winners.length, logged: fresh.length, prunedOwn: prunedOwn.size };
}

async function lockExistingRows(client: PoolClient, changes: IncomingChange[]): Promise<void> {
  const byTable = new Map<string, Set<string>>();
  for (const c of changes) {
    let ids = byTable.get(c.table_name);
    if (!ids) {
      ids = new Set();
      byTable.set(c.table_name, ids);
    }
    ids.add(c.record_id);
  }
  for (const table of [...byTable.keys()].sort()) {
    await client.query(`SELECT 1 FROM ${quoteIdent(table)} WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [[...byTable.get(table)!]]);
  }
}

/**
 * Per row, the newest of the batch's changes, when it is newer than the write that stands (I4), in
 * record id order (so that concurrent batches lock rows in the same order). A change already in the log
 * never wins — the standing version is at least as new — so duplicates need no separate check here,
 * once checkIdentities has made sure that each is the change logged under its identity. Also returns,
 * from the same snapshot, the log's horizon (the last position visible), this node's wall clock, and
 * which of the batch's origin identities the log already holds, with what they stand for.
 */
async function pickWinners(
  client: PoolClient,
  changes: IncomingChange[],
): Promise<{ winners: IncomingChange[]; horizon: string; wallClockMs: bigint; alreadyLogged: Map<string, ChangeContent>; ownPrunedThrough: string }> {
  const candidates = new Map<string, IncomingChange>();
  for (const c of changes) {
    const key = rowKey(c.table_name, c.record_id);
    const best = candidates.get(key);
    if (!best || compareVersions(versionOf(c), versionOf(best)) > 0) {
      candidates.set(key, c);
    }
  }
  const list = [...candidates.values()];
  const runs = sequenceRuns(changes);
  // The standing version of a row is its newest logged change; ties on hlc come back together and are
  // settled here, by node id and origin sequence, exactly as compareVersions orders them. Identities
  // already logged are looked up by runs of consecutive origin sequences: one index range scan per run
  // (usually one per origin for a batch read from a peer's log), returning only identities of the batch,
  // with what they stand for. (The LIMIT, which no run can exceed, keeps each a range scan: seeing one
  // origin in the whole log, the planner otherwise preferred hashing the entire log.)
  const { rows } = await client.query<PickedRow>({
    ...prepared(`SELECT h.horizon, h.wall, h.own_pruned, v.table_name, v.record_id, v.hlc, v.origin_node_id, v.origin_sequence,
            CASE WHEN v.n IS NULL OR v.n = 1 THEN l.logged END AS logged,
            CASE WHEN v.n IS NULL OR v.n = 1 THEN l.logged_content END AS logged_content,
            CASE WHEN v.n IS NULL OR v.n = 1 THEN l.logged_data END AS logged_data
       FROM (
         SELECT (SELECT coalesce(max(sequence), 0)::text FROM database_changes) AS horizon, catchup_wall_clock_ms()::text AS wall,
                coalesce((SELECT own_pruned_through FROM change_log_horizon WHERE id = 1), 0)::text AS own_pruned
       ) h
       CROSS JOIN (
         SELECT array_agg(d.origin_node_id || '/' || d.origin_sequence) AS logged,
                array_agg(concat_ws(' ', d.table_name, d.record_id, d.operation, d.hlc, d.scope_exit)) AS logged_content,
                array_agg(d.change_data::text) AS logged_data
           FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS r(origin_node_id, low, high)
           CROSS JOIN LATERAL (
             SELECT origin_node_id, origin_sequence, table_name, record_id, operation, hlc, change_data, scope_exit FROM database_changes d
              WHERE d.origin_node_id = r.origin_node_id AND d.origin_sequence BETWEEN r.low AND r.high
              LIMIT r.high - r.low + 1
           ) d
       ) l
       LEFT JOIN (
         SELECT x.table_name, x.record_id, t.hlc::text AS hlc, t.origin_node_id, t.origin_sequence::text AS origin_sequence,
                row_number() OVER () AS n
           FROM unnest($1::text[], $2::text[]) AS x(table_name, record_id)
           CROSS JOIN LATERAL (
             SELECT hlc, origin_node_id, origin_sequence FROM database_changes m
              WHERE m.table_name = x.table_name AND m.record_id = x.record_id
              ORDER BY hlc DESC FETCH FIRST 1 ROW WITH TIES
           ) t
       ) v ON true`),
    values: [plainTextArray(list.map((c) => c.table_name)), plainTextArray(list.map((c) => c.record_id)), runs.origins, runs.lows, runs.highs],
  });
  const standing = new Map<string, Version>();
  for (const r of rows) {
    if (r.table_name === null) continue;
    const key = rowKey(r.table_name, r.record_id);
    const version = { hlc: r.hlc, node: r.origin_node_id, sequence: r.origin_sequence };
    const current = standing.get(key);
    if (!current || compareVersions(version, current) > 0) standing.set(key, version);
  }
  const winners = list.filter((c) => {
    const current = standing.get(rowKey(c.table_name, c.record_id));
    return !current || compareVersions(versionOf(c), current) > 0;
  });
  winners.sort((a, b) => (a.record_id < b.record_id ? -1 : a.record_id > b.record_id ? 1 : 0));
  const first = rows[0]!;
  // The identities already logged come on one row only: repeated on every row, a batch of 500 duplicates
  // made PostgreSQL send (and the node parse) 500 copies of 500 row images, which took longer than a
  // peer waits, so a resent batch timed out again on every retry.
  const logged = rows.find((r) => r.logged !== null) ?? first;
  return { winners, horizon: first.horizon, wallClockMs: BigInt(first.wall), alreadyLogged: loggedContents(logged), ownPrunedThrough: first.own_pruned };
}

interface PickedRow {
  horizon: string;
  wall: string;
  own_pruned: string;
  logged: string[] | null;
  /** Per logged identity: table name, record id, operation, hlc and scope exit (t/f), space-separated (none holds a space). */
  logged_content: string[] | null;
  logged_data: (string | null)[] | null;
  table_name: string | null;
  record_id: string;
  hlc: string;
  origin_node_id: string;
  origin_sequence: string;
}

function loggedContents(row: PickedRow): Map<string, ChangeContent> {
  const logged = new Map<string, ChangeContent>();
  row.logged?.forEach((identity, i) => {
    const [table_name, record_id, operation, hlc, exit] = row.logged_content![i]!.split(' ') as [string, string, string, string, string];
    logged.set(identity, { table_name, record_id, operation, hlc, change_data_json: row.logged_data![i] ?? null, scope_exit: exit === 't' });
  });
  return logged;
}

/** The batch's origin sequences as runs of consecutive numbers, per origin: [low, high] each. */
function sequenceRuns(changes: IncomingChange[]): { origins: string[]; lows: string[]; highs: string[] } {
  const byOrigin = new Map<string, bigint[]>();
  for (const c of changes) {
    let sequences = byOrigin.get(c.origin_node_id);
    if (!sequences) {
      sequences = [];
      byOrigin.set(c.origin_node_id, sequences);
    }
    sequences.push(BigInt(c.origin_sequence));
  }
  const runs = { origins: [] as string[], lows: [] as string[], highs: [] as string[] };
  const add = (origin: string, low: bigint, high: bigint) => {
    runs.origins.push(origin);
    runs.lows.push(String(low));
    runs.highs.push(String(high));
  };
  for (const [origin, sequences] of byOrigin) {
    sequences.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let low = sequences[0]!;
    let high = low;
    for (const s of sequences.slice(1)) {
      if (s > high + 1n) {
        add(origin, low, high);
        low = s;
      }
      high = s;
    }
    add(origin, low, high);
  }
  return runs;
}

/**
 * Refuses the batch when a change of a scoped sender writes outside its teams (see writeRefusal); the
 * rows its winners would replace are read here, under the transaction that then writes them.
 */
async function checkSenderScope(client: PoolClient, changes: IncomingChange[], winners: IncomingChange[], scope: TeamScope): Promise<void> {
  const standing = new Map<string, string | undefined>();
  const byTable = new Map<string, string[]>();
  for (const c of winners) {
    if (!scope.columns.has(c.table_name)) continue;
    const ids = byTable.get(c.table_name);
    if (ids) ids.push(c.record_id);
    else byTable.set(c.table_name, [c.record_id]);
  }
  for (const [table, ids] of byTable) {
    const { rows } = await client.query<{ id: string; team: string | null }>(
      `SELECT t.id::text AS id, to_jsonb(t) ->> $2 AS team FROM ${quoteIdent(table)} t WHERE t.id = ANY($1::uuid[])`,
      [ids, scope.columns.get(table)],
    );
    for (const r of rows) standing.set(rowKey(table, r.id), r.team ?? undefined);
  }
  const winning = new Set(winners);
  changes.forEach((c, index) => {
    const key = rowKey(c.table_name, c.record_id);
    const refusal = writeRefusal(scope, c, winning.has(c), { exists: standing.has(key), team: standing.get(key) });
    if (refusal) throw new BatchRejectedError(refusal, { index, change: changeIdentity(c) });
  });
}

/**
 * The statement that writes row images into a synced table: each inserted, or over the row with its id.
 * The images come as `$1`, a JSON array of them, or as `rows`, a FROM item of the table's row type. The
 * one way rows are written from images, by the applier, a log stream and an operator's choice in the
 * conflict inbox.
 */
export function upsertRowImagesSql(table: string, columns: readonly string[], rows?: string): string {
  const t = quoteIdent(table);
  const cols = columns.map(quoteIdent);
  const updates = columns.filter((c) => c !== 'id').map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
  return `INSERT INTO ${t} (${cols.join(', ')})
         SELECT ${cols.join(', ')} FROM ${rows ?? `jsonb_populate_recordset(NULL::${t}, $1::jsonb)`}
         ON CONFLICT (id) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`;
}

/** One upsert and one delete statement per table. */
async function writeRows(client: PoolClient, winners: IncomingChange[], tables: Map<string, TableInfo>): Promise<void> {
  const byTable = new Map<string, { upserts: string[]; deletes: string[] }>();
  for (const c of winners) {
    let group = byTable.get(c.table_name);
    if (!group) {
      group = { upserts: [], deletes: [] };
      byTable.set(c.table_name, group);
    }
    if (c.operation === 'delete')
      group.deletes.push(c.record_id); // scope exits included
    else group.upserts.push(c.change_data_json!);
  }
  for (const [name, group] of byTable) {
    const table = tables.get(name)!;
    const t = quoteIdent(name);
    if (group.upserts.length) {
      await client.query({ ...prepared(upsertRowImagesSql(name, table.columns)), values: [`[${group.upserts.join(',')}]`] });
    }
    if (group.deletes.length) {
      await client.query({ ...prepared(`DELETE FROM ${t} WHERE id = ANY($1::uuid[])`), values: [group.deletes] });
    }
  }
}

function newestStamp(changes: IncomingChange[]): string {
  let newest = '0';
  for (const c of changes) if (compareDecimal(c.hlc, newest) > 0) newest = c.hlc;
  return newest;
}

/** The SQLSTATE the prelude raises when a change of one of the batch's rows was logged after the horizon. */
export const LOGGED_MEANWHILE = 'CU001';

/** Row keys of synced tables (plain identifiers) and UUIDs, as they go into a literal in the prelude. */
const PLAIN_TABLE = /^[a-z_][a-z0-9_]*$/;
const PLAIN_ID = /^[0-9a-f-]+$/;

function lockLogAndCheckSinceBlock(horizon: string, changes: IncomingChange[], newestStamp: string): string {
  const tables = changes.map((c) => c.table_name);
  const ids = changes.map((c) => c.record_id);
  if (!tables.every((t) => PLAIN_TABLE.test(t)) || !ids.every((id) => PLAIN_ID.test(id))) throw new Error('unexpected table name or record id');
  return lockLogAndCheckSinceSql(
    horizon,
    newestStamp,
    `unnest('${plainTextArray(tables)}'::text[], '${plainTextArray(ids)}'::text[]) AS x(table_name, record_id)`,
  );
}

/**
 * A DO block that takes the log lock, observes the batch's newest stamp, then raises LOGGED_MEANWHILE
 * when a change of one of the batch's rows — `rows`, a FROM item of (table_name, record_id text) — was
 * logged after the horizon. Each statement of the block has its own snapshot, so the check sees
 * everything committed before the lock was granted. Usually nothing was logged since (max() reads one
 * end of the primary key whatever the plan); the entries that were are materialized and joined to the
 * batch in SQL, so that a large commit in the meantime costs no memory here. The batch applier and a
 * log stream's chunks (log-stream.ts) append after it.
 */
export function lockLogAndCheckSinceSql(horizon: string, newestStamp: string, rows: string): string {
  if (!/^\d+$/.test(horizon)) throw new Error(`unexpected log horizon ${horizon}`);
  if (!/^\d+$/.test(newestStamp)) throw new Error(`unexpected stamp ${newestStamp}`);
  return `DO $catchup$ BEGIN
    PERFORM catchup_lock_log();
    PERFORM catchup_observe_hlc(${newestStamp});
    IF (SELECT coalesce(max(sequence), 0) > ${horizon} FROM database_changes) THEN
      IF EXISTS (WITH recent AS MATERIALIZED (SELECT table_name, record_id FROM database_changes WHERE sequence > ${horizon})
                 SELECT 1 FROM recent JOIN ${rows} USING (table_name, record_id)) THEN
        RAISE EXCEPTION 'a change of the batch''s rows was logged meanwhile' USING ERRCODE = '${LOGGED_MEANWHILE}';
      END IF;
    END IF;
  END $catchup$`;
}

/**
 * A DO block that moves the clock past the batch's newest stamp (the locked path holds the log lock
 * already): later local stamps must order after every remote one now in the log (I5).
 */
function observeClockBlock(newestStamp: string): string {
  if (!/^\d+$/.test(newestStamp)) throw new Error(`unexpected stamp ${newestStamp}`);
  return `DO $catchup$ BEGIN PERFORM catchup_observe_hlc(${newestStamp}); END $catchup$`;
}

/**
 * A text[] literal of values that hold no quote, backslash or control character (synced table names,
 * UUIDs): cheaper than the driver's escaping of each element.
 */
const plainTextArray = (values: string[]) => `{"${values.join('","')}"}`;

/**
 * Writes the log lines of the changes not yet in the log, which keeps them with their origin identity
 * so that they can be relayed (I6). Their positions come from the column's default, the log's sequence,
 * in line order: taken now, under the log lock, which every writer of the log holds until it commits,
 * so that positions follow commit order.
 */
async function appendToLog(client: PoolClient, lines: string, prelude: string): Promise<void> {
  if (lines === '') {
    await client.query(prelude);
    return;
  }
  // COPY costs about a third less than INSERT … SELECT FROM json_to_recordset, whose parsing of the
  // whole batch as one JSON document was most of the append's time. The prelude (lock, clock, check)
  // goes in the same simple-query message, ahead of the COPY: the log lock is held from the moment it is
  // granted until commit, and a round trip through this process's event loop (busy with other batches)
  // between taking it and appending kept every other applier of the node waiting.
  const copy = client.query(
    copyFrom(
      `${prelude}; COPY database_changes (table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc, scope_exit) FROM STDIN`,
    ),
  );
  await pipeline(Readable.from([lines]), copy);
}

/**
 * The changes' lines for COPY (all columns but the position). Table names (synced tables: plain
 * identifiers), record ids (UUIDs), operations, timestamps (checked ISO 8601) and numbers cannot hold a
 * character COPY escapes; row images and node ids can.
 */
function logLines(changes: IncomingChange[]): string {
  const lines = new Array<string>(changes.length);
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    lines[i] =
      `${c.table_name}\t${c.record_id}\t${c.operation}\t${copyJson(c.change_data_json)}\t${copyJson(c.old_data_json)}\t${c.timestamp}\t${copyText(c.origin_node_id)}\t${c.origin_sequence}\t${c.hlc}\t${c.scope_exit ? 't' : 'f'}\n`;
  }
  return lines.join('');
}

/** COPY's text format: tab-separated, \N for NULL, and backslash, tab, newline and CR escaped. */
const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const copyText = (value: string) => value.replace(COPY_SPECIAL, (ch) => COPY_ESCAPES[ch]!);
const copyJson = (json: string | null) => (json === null ? '\\N' : copyText(json));

/**
 * The set-wise write failed (wrong type, constraint…). Replays the winners one by one in a transaction
 * that is rolled back, to name the change at fault.
 */
async function explainFailure(
  pool: Pool,
  winners: IncomingChange[],
  tables: Map<string, TableInfo>,
  batch: IncomingChange[],
  original: unknown,
): Promise<Error> {
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const client = await pool.connect();
  try {
    await client.query(`BEGIN; ${APPLYING}`);
    for (const c of winners) {
      await client.query('SAVEPOINT one');
      try {
        await writeRows(client, [c], tables);
        await client.query('RELEASE SAVEPOINT one');
      } catch (err) {
        const index = batch.findIndex((b) => changeIdentity(b) === changeIdentity(c));
        return new BatchRejectedError(`${c.table_name} ${c.record_id}: ${reason(err)}`, { index, change: changeIdentity(c) });
      }
    }
    return new BatchRejectedError(reason(original));
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
