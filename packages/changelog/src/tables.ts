// Which tables are synced. The database is the truth: a table is synced exactly when it carries the
// capture trigger. Table names reach SQL only after they were checked (table-rules.ts) and found in the
// catalog here.
import { inTransaction, type Pool, type PoolClient } from '@catchup/db';
import { dropBaseline, finishBaseline, pendingBaselines, recordPendingBaseline } from './baseline.ts';
import type { Sql } from './sql.ts';
import { quoteIdent } from './sql.ts';
import { countsExactly, keyRefusal, nameRefusal, sqlName, standingOf, type KeyColumn, type TableFacts, type TableStanding } from './table-rules.ts';

/** The table cannot be synced (or taken out of sync) as it is; the message says what is missing and how to fix it. */
export class TableNotSyncableError extends Error {
  constructor(table: string, reason: string, refused = 'cannot be synced') {
    super(`table ${JSON.stringify(table)} ${refused}: ${reason}`);
    this.name = 'TableNotSyncableError';
  }
}

/** No such table in schema public, or (when removing) the table is not synced. */
export class TableNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableNotFoundError';
  }
}

/** Writers of the table held it longer than a table may wait to be put under sync. */
export class TableBusyError extends Error {
  constructor(table: string) {
    super(`table ${JSON.stringify(table)} is being written by a transaction that has not finished within ${LOCK_WAIT}; try again`);
    this.name = 'TableBusyError';
  }
}

export interface TableInfo {
  name: string;
  /** Column names in table order. */
  columns: string[];
}

export async function listSyncedTables(sql: Sql): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname = 'catchup_capture' AND n.nspname = 'public' AND NOT t.tgisinternal
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

// The catalog answer is reused for a few seconds per connection pool: every batch needs it, and tables
// are enabled or altered rarely. A batch that meets a stale answer is refused and retried, never misapplied
// (an unknown column fails the statement).
const CATALOG_TTL_MS = 5000;
const catalogCache = new WeakMap<Sql, { at: number; tables: Map<string, TableInfo> }>();

/** Every synced table with its columns. */
export async function describeSyncedTables(sql: Sql): Promise<Map<string, TableInfo>> {
  const cached = catalogCache.get(sql);
  if (cached && Date.now() - cached.at < CATALOG_TTL_MS) return cached.tables;
  const { rows } = await sql.query<{ table_name: string; columns: string[] }>(
    `SELECT c.relname AS table_name, array_agg(a.attname::text ORDER BY a.attnum) AS columns
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE t.tgname = 'catchup_capture'
      GROUP BY c.relname`,
  );
  const tables = new Map(rows.map((r) => [r.table_name, { name: r.table_name, columns: r.columns }]));
  catalogCache.set(sql, { at: Date.now(), tables });
  return tables;
}

/** The catalog facts about a public table (table-rules.ts decides from them), or null when it does not exist. */
async function tableFacts(sql: Sql, table: string): Promise<TableFacts | null> {
  const { rows } = await sql.query<{ kind: string; primary_key: KeyColumn[]; pk_constraint: string | null; id_type: string | null }>(
    `SELECT c.relkind::text AS kind,
            coalesce((SELECT json_agg(json_build_object('column', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                                        'serial', a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false))
                                      ORDER BY array_position(i.indkey::int2[], a.attnum))
                        FROM pg_index i
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                       WHERE i.indrelid = c.oid AND i.indisprimary), '[]') AS primary_key,
            (SELECT conname::text FROM pg_constraint WHERE conrelid = c.oid AND contype = 'p') AS pk_constraint,
            (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'id' AND a.attnum > 0 AND NOT a.attisdropped) AS id_type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [table],
  );
  const r = rows[0];
  return r ? { name: table, kind: r.kind, primaryKey: r.primary_key, primaryKeyConstraint: r.pk_constraint, idType: r.id_type } : null;
}

async function checkSyncable(sql: Sql, table: string): Promise<void> {
  const refusal = nameRefusal(table);
  if (refusal) throw new TableNotSyncableError(table, refusal);
  const facts = await tableFacts(sql, table);
  if (!facts) throw new TableNotFoundError(`table ${JSON.stringify(table)} not found in schema public`);
  const problem = keyRefusal(facts);
  if (problem) throw new TableNotSyncableError(table, problem);
}

async function carriesTrigger(sql: Sql, table: string): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname = 'catchup_capture' AND NOT t.tgisinternal AND n.nspname = 'public' AND c.relname = $1`,
    [table],
  );
  return rows.length > 0;
}

/** How long putting a table under sync waits for the table's writers to finish. */
const LOCK_WAIT = '10s';
const LOCK_NOT_AVAILABLE = '55P03';

export interface EnableOutcome {
  table: string;
  /** False when the table was synced already (nothing changed, beyond finishing a pending baseline). */
  added: boolean;
  /** The rows its baseline logged as this node's inserts (0 when the table was synced already and its baseline finished). */
  baselineRows: number;
}

export interface EnableOptions {
  /** Rows per baseline chunk (BASELINE_CHUNK). */
  chunkRows?: number;
}

/**
 * Puts a table under sync: installs the capture trigger, then logs every row the table holds as this
 * node's insert (its baseline; see baseline.ts). Installing the trigger is one short transaction with the
 * table locked against writes (SHARE ROW EXCLUSIVE: reads go on), which records the baseline as pending:
 * from its commit every write is captured. The baseline follows in chunks, each its own transaction under
 * the log lock, so that other synced tables' writers wait for one chunk at most, never for the whole
 * table; each chunk is an INSERT … SELECT inside PostgreSQL (memory stays flat in the table's size).
 * Idempotent: a table synced already is left as it is, and a pending baseline of it is finished.
 */
export async function enableTableSync(pool: Pool, table: string, options: EnableOptions = {}): Promise<EnableOutcome> {
  const added = await installCapture(pool, table);
  const baselineRows = await finishBaseline(pool, table, options.chunkRows);
  return { table, added, baselineRows: added ? baselineRows : 0 };
}

/**
 * Installs the table's capture trigger and records its baseline as pending, in one transaction; false
 * when the table carries the trigger already. The table lock comes first and no log lock is taken: the
 * table's writers take the log lock at their commit, so taking it here would deadlock with them.
 */
export async function installCapture(pool: Pool, table: string): Promise<boolean> {
  await checkSyncable(pool, table);
  const added = await refusingUnprivileged(pool, table, 'cannot be synced', () =>
    inTransaction(pool, async (client) => {
      await lockAgainstWrites(client, table);
      await checkSyncable(client, table); // again, now that the table cannot change
      if (await carriesTrigger(client, table)) return false;
      await client.query(
        // The WHEN clause is evaluated as the row is written: rows the applier writes (catchup.applying,
        // see apply.ts) queue no event at all.
        `CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON ${quoteIdent(table)}
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
         WHEN (current_setting('catchup.applying', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION catchup_capture()`,
      );
      await recordPendingBaseline(client, table);
      return true;
    }),
  );
  catalogCache.delete(pool);
  return added;
}

const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Runs `work`, turning PostgreSQL's refusal of a privilege (locking the table, creating or dropping its
 * trigger, reading its rows) into a refusal that says what to run: the node's database user needs to own
 * the table (only an owner may drop a trigger, or alter the table when its schema changes).
 */
async function refusingUnprivileged<T>(sql: Sql, table: string, refused: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if ((err as { code?: unknown }).code !== INSUFFICIENT_PRIVILEGE) throw err;
    const { rows } = await sql.query<{ user: string }>('SELECT current_user AS user');
    const user = rows[0]!.user;
    throw new TableNotSyncableError(
      table,
      `this node's database user ${user} lacks a privilege on it (${(err as Error).message}); make it the owner: ALTER TABLE ${table} OWNER TO ${sqlName(user)}`,
      refused,
    );
  }
}

async function lockAgainstWrites(client: PoolClient, table: string): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
  try {
    await client.query(`LOCK TABLE ${quoteIdent(table)} IN SHARE ROW EXCLUSIVE MODE`);
  } catch (err) {
    if ((err as { code?: unknown }).code === LOCK_NOT_AVAILABLE) throw new TableBusyError(table);
    throw err;
  }
  await client.query('SET LOCAL lock_timeout = 0');
}

/**
 * Takes a table out of sync: removes the capture trigger and ends a pending baseline where it is, in one
 * transaction. The table's log history stays (peers that lack it still receive it). A table that is not
 * synced is a TableNotFoundError. Locks in the order a baseline chunk meets them, so that neither waits
 * for the other in a cycle: the table against writes (a writer waiting for a chunk's log lock finishes
 * first), the baseline's row (a chunk holding it commits first), then the trigger.
 */
export async function disableTableSync(pool: Pool, table: string): Promise<void> {
  if (nameRefusal(table) || !(await carriesTrigger(pool, table))) {
    throw new TableNotFoundError(`table ${JSON.stringify(table)} is not synced`);
  }
  await refusingUnprivileged(pool, table, 'cannot be taken out of sync', () =>
    inTransaction(pool, async (client) => {
      await lockAgainstWrites(client, table);
      await dropBaseline(client, table);
      await client.query(`DROP TRIGGER catchup_capture ON ${quoteIdent(table)}`);
    }),
  );
  catalogCache.delete(pool);
}

/** Makes the synced set exactly `wanted`. Checks every name before changing anything. */
export async function setSyncedTables(pool: Pool, wanted: string[]): Promise<{ enabled: string[]; disabled: string[] }> {
  for (const table of wanted) await checkSyncable(pool, table);
  const current = await listSyncedTables(pool);
  const enabled = wanted.filter((t) => !current.includes(t));
  const disabled = current.filter((t) => !wanted.includes(t));
  for (const t of enabled) await enableTableSync(pool, t);
  for (const t of disabled) await disableTableSync(pool, t);
  return { enabled, disabled };
}

export interface TableReport {
  name: string;
  standing: TableStanding;
  /** Rows in the table (null when it no longer exists); estimated for large tables (see rowsEstimated). */
  rows: number | null;
  rowsEstimated: boolean;
  /** Entries of this table in the change log. */
  logEntries: number;
  /** While its baseline is in progress (standing 'baseline in progress'), the rows it logged so far; otherwise null. */
  baselineRowsLogged: number | null;
  /** Why the table cannot be put under sync as it is (with the fix), or null. */
  problem: string | null;
}

/**
 * Every application table of schema public, and every table the log names that no longer exists: where
 * each stands, its rows (exact for small tables, the planner's estimate for large ones) and its log entries.
 */
export async function reportTables(sql: Sql): Promise<TableReport[]> {
  const { rows } = await sql.query<{ name: string; present: boolean; tgenabled: string | null; size: string; estimate: number; log_entries: string }>(
    `WITH logged AS (SELECT table_name, count(*) AS n FROM database_changes GROUP BY table_name),
          tables AS (
            SELECT c.relname::text AS name, c.oid, c.reltuples, t.tgenabled::text AS tgenabled
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
              LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = 'catchup_capture' AND NOT t.tgisinternal
             WHERE c.relkind IN ('r', 'p'))
     SELECT coalesce(t.name, l.table_name) AS name, t.oid IS NOT NULL AS present, t.tgenabled,
            coalesce(pg_relation_size(t.oid), 0)::text AS size, coalesce(t.reltuples, -1) AS estimate,
            coalesce(l.n, 0)::text AS log_entries
       FROM tables t FULL JOIN logged l ON l.table_name = t.name
      ORDER BY 1`,
  );
  const baselines = await pendingBaselines(sql);
  const reports: TableReport[] = [];
  for (const r of rows) {
    if (r.present && nameRefusal(r.name)) continue; // the sync's own tables, and names it cannot hold
    let count: number | null = null;
    let rowsEstimated = false;
    let problem: string | null = null;
    if (r.present) {
      rowsEstimated = !countsExactly(Number(r.size), r.estimate);
      count = rowsEstimated ? Math.round(r.estimate) : await exactRowCount(sql, r.name);
      const facts = await tableFacts(sql, r.name);
      problem = facts && keyRefusal(facts);
    }
    const standing = standingOf(r.present, r.tgenabled, baselines.has(r.name));
    const baselineRowsLogged = standing === 'baseline in progress' ? baselines.get(r.name)! : null;
    reports.push({ name: r.name, standing, rows: count, rowsEstimated, logEntries: Number(r.log_entries), baselineRowsLogged, problem });
  }
  return reports;
}

async function exactRowCount(sql: Sql, table: string): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(table)}`);
  return Number(rows[0]!.n);
}
