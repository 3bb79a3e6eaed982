// Which tables are synced. The database is the truth: a table is synced exactly when it carries the
// capture trigger. Table names reach SQL only after they were checked against the catalog here.
import type { Sql } from './sql.ts';
import { quoteIdent } from './sql.ts';

export const DEFAULT_SYNCED_TABLES = ['teams', 'events', 'matches', 'scouting_data'];

const INTERNAL_TABLES = new Set([
  '_prisma_migrations',
  'database_changes',
  'file_checksums',
  'sync_acks',
  'sync_config',
  'sync_logs',
  'sync_node',
  'sync_servers',
]);

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export class TableNotSyncableError extends Error {
  constructor(table: string, reason: string) {
    super(`table ${JSON.stringify(table)} cannot be synced: ${reason}`);
    this.name = 'TableNotSyncableError';
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

async function checkSyncable(sql: Sql, table: string): Promise<void> {
  if (!IDENTIFIER.test(table)) throw new TableNotSyncableError(table, 'not a plain lower-case table name');
  if (INTERNAL_TABLES.has(table)) throw new TableNotSyncableError(table, 'it is one of the sync system tables');
  const { rows } = await sql.query<{ pk: string[] | null; id_type: string | null }>(
    `SELECT (SELECT array_agg(a.attname::text) FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
              WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
            (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped) AS id_type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind = 'r'`,
    [table],
  );
  const info = rows[0];
  if (!info) throw new TableNotSyncableError(table, 'no such table');
  if (info.id_type !== 'uuid' || info.pk?.length !== 1 || info.pk[0] !== 'id') {
    throw new TableNotSyncableError(table, 'its primary key must be a single uuid column named id');
  }
}

/** Installs the capture trigger (idempotent). */
export async function enableTableSync(sql: Sql, table: string): Promise<void> {
  await checkSyncable(sql, table);
  const synced = await listSyncedTables(sql);
  if (synced.includes(table)) return;
  catalogCache.delete(sql);
  await sql.query(
    `CREATE CONSTRAINT TRIGGER catchup_capture AFTER INSERT OR UPDATE OR DELETE ON ${quoteIdent(table)}
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catchup_capture()`,
  );
}

/** Removes the capture trigger (idempotent). The table's log history stays. */
export async function disableTableSync(sql: Sql, table: string): Promise<void> {
  const synced = await listSyncedTables(sql);
  if (!synced.includes(table)) return;
  catalogCache.delete(sql);
  await sql.query(`DROP TRIGGER catchup_capture ON ${quoteIdent(table)}`);
}

/** Makes the synced set exactly `wanted`. Checks every name before changing anything. */
export async function setSyncedTables(sql: Sql, wanted: string[]): Promise<{ enabled: string[]; disabled: string[] }> {
  for (const table of wanted) await checkSyncable(sql, table);
  const current = await listSyncedTables(sql);
  const enabled = wanted.filter((t) => !current.includes(t));
  const disabled = current.filter((t) => !wanted.includes(t));
  for (const t of enabled) await enableTableSync(sql, t);
  for (const t of disabled) await disableTableSync(sql, t);
  return { enabled, disabled };
}
