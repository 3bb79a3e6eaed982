// Applying a batch of remote changes: one transaction, set-wise SQL, last writer wins per row.
//
// Order of locks, chosen so that a batch never deadlocks with the application's own writes: first the
// existing target rows (as the application locks rows before its commit), then the log lock (which
// capture takes at commit). Under the log lock nobody else can log a change, so the duplicate check,
// the version comparison (against each row's newest logged change) and the writes see a stable picture.
import { inTransaction, type Pool, type PoolClient } from '@catchup/db';
import { changeIdentity, changeSchema, compareVersions, type Change } from './change.ts';
import { BatchRejectedError } from './errors.ts';
import { quoteIdent } from './sql.ts';
import { describeSyncedTables, type TableInfo } from './tables.ts';

export interface ApplyResult {
  received: number;
  /** Changes whose row image now stands (they won last-writer-wins). */
  applied: number;
  /** Changes already in the log (by origin identity), or repeated within the batch (I3). */
  skipped_duplicate: number;
  /** New changes that lost to a newer write of the same row; logged for relay, not applied. */
  skipped_stale: number;
}

interface Version {
  hlc: string;
  node: string;
}

const rowKey = (table: string, id: string) => `${table}\u0000${id}`;

/** Validates the wire shape and the tables and columns named; throws BatchRejectedError on the first fault. */
function parseBatch(input: unknown[]): Change[] {
  return input.map((raw, index) => {
    const parsed = changeSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const identity = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(change)';
    const known = typeof identity.origin_node_id === 'string' && typeof identity.origin_sequence === 'string';
    throw new BatchRejectedError(`${field}: ${issue.message}`, {
      index,
      ...(known ? { change: `${identity.origin_node_id}/${identity.origin_sequence}` } : {}),
    });
  });
}

function checkTables(changes: Change[], tables: Map<string, TableInfo>): void {
  changes.forEach((c, index) => {
    const table = tables.get(c.table_name);
    const where = { index, change: changeIdentity(c) };
    if (!table) throw new BatchRejectedError(`table_name: unknown or unsynced table ${JSON.stringify(c.table_name)}`, where);
    for (const key of Object.keys(c.change_data ?? {})) {
      if (!table.columns.includes(key)) {
        throw new BatchRejectedError(`change_data.${key}: unknown column of ${c.table_name}`, where);
      }
    }
  });
}

/** Validates then applies a batch received as untrusted JSON. */
export async function applyBatch(pool: Pool, input: unknown[]): Promise<ApplyResult> {
  return applyChanges(pool, parseBatch(input));
}

/** The set-wise row write failed; explained once its transaction has rolled back (the rows stay locked until then). */
class RowWriteFailed extends Error {
  readonly winners: Change[];
  readonly original: unknown;

  constructor(winners: Change[], original: unknown) {
    super('row write failed');
    this.winners = winners;
    this.original = original;
  }
}

/** Applies changes that already passed changeSchema (e.g. validated by the HTTP route). */
export async function applyChanges(pool: Pool, parsed: Change[]): Promise<ApplyResult> {
  const tables = await describeSyncedTables(pool);
  checkTables(parsed, tables);

  // Repeats inside the batch count as duplicates straight away.
  const seen = new Set<string>();
  const unique: Change[] = [];
  for (const c of parsed) {
    const id = changeIdentity(c);
    if (seen.has(id)) continue;
    seen.add(id);
    unique.push(c);
  }
  const result: ApplyResult = { received: parsed.length, applied: 0, skipped_duplicate: parsed.length - unique.length, skipped_stale: 0 };
  if (unique.length === 0) return result;

  try {
    return await inTransaction(pool, async (client) => {
      await client.query(`SET LOCAL catchup.applying = 'on'`);
      await lockExistingRows(client, unique);
      await client.query('SELECT catchup_lock_log()');

      const fresh = await withoutLogged(client, unique);
      const winners = await pickWinners(client, fresh);
      try {
        await writeRows(client, winners, tables);
      } catch (err) {
        throw new RowWriteFailed(winners, err);
      }
      await appendToLog(client, fresh);
      return {
        ...result,
        applied: winners.length,
        skipped_duplicate: result.skipped_duplicate + unique.length - fresh.length,
        skipped_stale: fresh.length - winners.length,
      };
    });
  } catch (err) {
    if (err instanceof RowWriteFailed) throw await explainFailure(pool, err.winners, tables, parsed, err.original);
    throw err;
  }
}

async function lockExistingRows(client: PoolClient, changes: Change[]): Promise<void> {
  const byTable = new Map<string, Set<string>>();
  for (const c of changes) {
    let ids = byTable.get(c.table_name);
    if (!ids) byTable.set(c.table_name, (ids = new Set()));
    ids.add(c.record_id);
  }
  for (const table of [...byTable.keys()].sort()) {
    await client.query(`SELECT 1 FROM ${quoteIdent(table)} WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [
      [...byTable.get(table)!],
    ]);
  }
}

/** The changes whose origin identity is not in the log yet. */
async function withoutLogged(client: PoolClient, changes: Change[]): Promise<Change[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT d.origin_node_id || '/' || d.origin_sequence AS id
       FROM unnest($1::text[], $2::bigint[]) AS x(origin_node_id, origin_sequence)
       JOIN database_changes d USING (origin_node_id, origin_sequence)`,
    [changes.map((c) => c.origin_node_id), changes.map((c) => c.origin_sequence)],
  );
  if (rows.length === 0) return changes;
  const logged = new Set(rows.map((r) => r.id));
  return changes.filter((c) => !logged.has(changeIdentity(c)));
}

/** Per row, the newest of the batch's changes, when it is newer than the write that stands (I4). */
async function pickWinners(client: PoolClient, changes: Change[]): Promise<Change[]> {
  const candidates = new Map<string, Change>();
  for (const c of changes) {
    const key = rowKey(c.table_name, c.record_id);
    const best = candidates.get(key);
    if (!best || compareVersions({ hlc: c.hlc, node: c.origin_node_id }, { hlc: best.hlc, node: best.origin_node_id }) > 0) {
      candidates.set(key, c);
    }
  }
  const list = [...candidates.values()];
  // The standing version of a row is its newest logged change (ties on hlc are settled in JS, by node id).
  const { rows } = await client.query<{ table_name: string; record_id: string; hlc: string; origin_node_id: string }>(
    `SELECT x.table_name, x.record_id, d.hlc::text AS hlc, d.origin_node_id
       FROM unnest($1::text[], $2::text[]) AS x(table_name, record_id)
       CROSS JOIN LATERAL (
         SELECT max(hlc) AS top FROM database_changes m WHERE m.table_name = x.table_name AND m.record_id = x.record_id
       ) t
       JOIN database_changes d ON d.table_name = x.table_name AND d.record_id = x.record_id AND d.hlc = t.top`,
    [list.map((c) => c.table_name), list.map((c) => c.record_id)],
  );
  const standing = new Map<string, Version>();
  for (const r of rows) {
    const key = rowKey(r.table_name, r.record_id);
    const version = { hlc: r.hlc, node: r.origin_node_id };
    const current = standing.get(key);
    if (!current || compareVersions(version, current) > 0) standing.set(key, version);
  }
  return list.filter((c) => {
    const current = standing.get(rowKey(c.table_name, c.record_id));
    return !current || compareVersions({ hlc: c.hlc, node: c.origin_node_id }, current) > 0;
  });
}

/** JSON text of each change's row image, made once and used by both the row write and the log. */
const rowJson = new WeakMap<Change, string>();
function rowImageJson(c: Change): string {
  let json = rowJson.get(c);
  if (json === undefined) rowJson.set(c, (json = JSON.stringify(c.change_data)));
  return json;
}

/** One upsert and one delete statement per table. */
async function writeRows(client: PoolClient, winners: Change[], tables: Map<string, TableInfo>): Promise<void> {
  const byTable = new Map<string, { upserts: string[]; deletes: string[] }>();
  for (const c of winners) {
    let group = byTable.get(c.table_name);
    if (!group) byTable.set(c.table_name, (group = { upserts: [], deletes: [] }));
    if (c.operation === 'delete') group.deletes.push(c.record_id);
    else group.upserts.push(rowImageJson(c));
  }
  for (const [name, group] of byTable) {
    const table = tables.get(name)!;
    const t = quoteIdent(name);
    if (group.upserts.length) {
      const cols = table.columns.map(quoteIdent);
      const updates = table.columns.filter((c) => c !== 'id').map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
      await client.query(
        `INSERT INTO ${t} (${cols.join(', ')})
         SELECT ${cols.join(', ')} FROM jsonb_populate_recordset(NULL::${t}, $1::jsonb)
         ON CONFLICT (id) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
        [`[${group.upserts.join(',')}]`],
      );
    }
    if (group.deletes.length) {
      await client.query(`DELETE FROM ${t} WHERE id = ANY($1::uuid[])`, [group.deletes]);
    }
  }
}


function logEntryJson(c: Change): string {
  const { sequence: _position, change_data: _row, ...rest } = c;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"change_data":${rowImageJson(c)}}`;
}

/** Keeps every new change with its origin identity, so that it can be relayed (I6). */
async function appendToLog(client: PoolClient, changes: Change[]): Promise<void> {
  if (!changes.length) return;
  await client.query(
    `INSERT INTO database_changes
       (sequence, table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc)
     SELECT nextval('database_changes_sequence_seq'), x.table_name, x.record_id, x.operation, x.change_data,
            x.old_data, x."timestamp", x.origin_node_id, x.origin_sequence, x.hlc
       FROM json_to_recordset($1::json) AS x(table_name text, record_id text, operation text, change_data json,
            old_data json, "timestamp" timestamptz, origin_node_id text, origin_sequence bigint, hlc bigint)`,
    [`[${changes.map(logEntryJson).join(',')}]`],
  );
}

/**
 * The set-wise write failed (wrong type, constraint…). Replays the winners one by one in a transaction
 * that is rolled back, to name the change at fault.
 */
async function explainFailure(
  pool: Pool,
  winners: Change[],
  tables: Map<string, TableInfo>,
  batch: Change[],
  original: unknown,
): Promise<Error> {
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL catchup.applying = 'on'`);
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
