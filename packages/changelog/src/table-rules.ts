// What it takes for a table to be synced, decided from catalog facts (no database here). A refusal says
// what is missing and how to fix it, with the SQL to run.

/** The sync's own tables: never synced, whatever their shape. Tables named sync_* are reserved for it. */
const SYSTEM_TABLES = new Set([
  '_prisma_migrations',
  'change_log_horizon',
  'database_changes',
  'change_log_counts',
  'conflict_resolutions',
  'file_checksums',
  'file_sync_state',
  'peer_credentials',
]);
const SYSTEM_PREFIX = 'sync_';

/** Plain lower-case identifiers only: a name that passes reaches SQL quoted, and never needs escaping. */
export const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface KeyColumn {
  column: string;
  /** As format_type() spells it: uuid, integer, text… */
  type: string;
  /** Filled by a sequence (serial, identity). */
  serial: boolean;
}

/** What the catalog says about a table that exists in schema public. */
export interface TableFacts {
  name: string;
  /** pg_class.relkind: r plain table, p partitioned table, v view, m materialized view, f foreign table. */
  kind: string;
  /** The primary key's columns in key order (empty: none). */
  primaryKey: KeyColumn[];
  /** The primary key constraint's name, when there is one. */
  primaryKeyConstraint: string | null;
  /** The type of the column named id, when there is one. */
  idType: string | null;
}

/** Why a name cannot be a synced table whatever the catalog says, or null. */
export function nameRefusal(name: string): string | null {
  if (!TABLE_NAME.test(name)) return 'not a plain lower-case table name (letters, digits and underscores, at most 63)';
  if (SYSTEM_TABLES.has(name) || name.startsWith(SYSTEM_PREFIX)) return 'it is one of the sync system tables';
  return null;
}

const KINDS: Record<string, string> = { p: 'a partitioned table', v: 'a view', m: 'a materialized view', f: 'a foreign table' };

/** An identifier as SQL spells it: bare when plain lower case, quoted otherwise. */
export const sqlName = (name: string) => (TABLE_NAME.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

/**
 * Why an existing table cannot be synced, or null when it can: it must be a plain table whose primary key
 * is one uuid column named id (the change log, the applier and the wire format key rows by `id`; UUIDs
 * let two nodes insert while apart without colliding).
 */
export function keyRefusal(t: TableFacts): string | null {
  if (t.kind !== 'r') return `it is ${KINDS[t.kind] ?? `not a plain table (relkind ${t.kind})`}; only plain tables can be synced`;
  const table = sqlName(t.name);
  const freeId = t.idType === null ? '' : `ALTER TABLE ${table} RENAME COLUMN id TO legacy_id; `;
  const addKey = `ALTER TABLE ${table} ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()`;
  const [only, ...others] = t.primaryKey;
  if (!only) {
    if (t.idType === 'uuid') return `it has no primary key; make its uuid column id the key: ALTER TABLE ${table} ADD PRIMARY KEY (id)`;
    return `it has no primary key; add a uuid key column: ${freeId}${addKey}`;
  }
  const replaceKey = `${freeId}ALTER TABLE ${table} DROP CONSTRAINT ${sqlName(t.primaryKeyConstraint ?? `${t.name}_pkey`)}, ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()`;
  if (others.length) {
    const columns = t.primaryKey.map((k) => k.column).join(', ');
    return `its primary key has ${t.primaryKey.length} columns (${columns}); the sync needs a single uuid key column named id: ${replaceKey}`;
  }
  if (only.type === 'uuid') {
    if (only.column === 'id') return null;
    return `its uuid primary key column is named ${only.column}; the sync needs it named id: ${freeId}ALTER TABLE ${table} RENAME COLUMN ${sqlName(only.column)} TO id`;
  }
  const what = only.serial ? `a serial ${only.type}` : only.type;
  return `its primary key ${only.column} is ${what}, which two nodes inserting while apart can both pick; add a uuid key column: ${replaceKey}`;
}

/** Where a table stands with the sync. */
export type TableStanding = 'synced' | 'baseline in progress' | 'trigger disabled' | 'not synced' | 'table missing';

/**
 * From the catalog and the log: `synced` when the capture trigger fires, `baseline in progress` when it
 * fires and the rows the table held before are still being logged, `trigger disabled` when it is there
 * but switched off (ALTER TABLE … DISABLE TRIGGER, or replica-only), `not synced` without it, `table
 * missing` when the log names a table that no longer exists. tgenabled is pg_trigger's flag.
 */
export function standingOf(exists: boolean, tgenabled: string | null, baselinePending = false): TableStanding {
  if (!exists) return 'table missing';
  if (tgenabled === null) return 'not synced';
  if (tgenabled !== 'O' && tgenabled !== 'A') return 'trigger disabled';
  return baselinePending ? 'baseline in progress' : 'synced';
}

/** Tables up to this size are counted row by row; larger ones are given the planner's estimate. */
export const EXACT_COUNT_MAX_BYTES = 16 * 1024 * 1024;

/** Whether to count a table's rows exactly: when it is small, or when no estimate exists yet (never analyzed). */
export function countsExactly(sizeBytes: number, estimatedRows: number): boolean {
  return sizeBytes <= EXACT_COUNT_MAX_BYTES || estimatedRows < 0;
}
