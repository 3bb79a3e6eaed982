// Team isolation: what of the log a peer limited to some scouting teams receives, and what it may write.
//
// A row of a filtered table belongs to the team its filter column names (scouting_team_number by
// default). A peer with a scope receives, of such rows, only what is in its teams:
//
// - a change whose row image is in scope goes as it is, its old image left out unless that was in scope too;
// - a delete goes as a delete, its old image left out unless in scope (the peer may hold the row: a
//   delete must reach it, and it carries no content);
// - an insert out of scope is left out (the row never was in scope: an insert is a row's first version);
// - any other change out of scope goes as a *scope exit*: a delete under the change's own identity and
//   version, marked scope_exit, without row images. The row may have been in scope for the peer — the
//   change's old image says what its origin saw, not what the peer holds, so it is not trusted to tell —
//   and the peer must drop it. The receiver deletes the row (when the exit wins) and logs the exit so
//   that older versions of the row cannot bring it back; it never sends an exit on: to a node that may
//   see the row, the exit would stand for a change whose content it lacks (SPEC I12). A node whose only
//   route to a row's changes goes through a scoped peer therefore sees only what that peer sees.
//
// Rows whose filter column is missing or null belong to no team: no scope holds them.
import { z } from 'zod';

/** The team numbers a peer may see and write (sync_servers.team_scope); null: every team. */
export const teamNumbersSchema = z
  .array(z.number().int().min(0).max(2_147_483_647))
  .max(1000)
  .describe('scouting team numbers the peer may see and write; null: every team');

export type TeamNumbers = z.infer<typeof teamNumbersSchema>;

/** A peer's scope as the log is read and written for it. */
export interface TeamScope {
  teams: readonly number[];
  /** Per filtered table, the column holding a row's team number. Tables not here are not filtered. */
  columns: ReadonlyMap<string, string>;
}

/** What a read for a scoped peer does with one log entry. */
export type ScopeAction = 'send' | 'send_without_old' | 'exit' | 'leave_out';

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * The filter column of each synced table: `rule` is a comma-separated list of column names (used by
 * every table that has one, the first that matches) and table.column pairs (for that table only, ahead
 * of names), as the team_filter_columns setting holds it.
 */
export function filterColumns(rule: string, tables: ReadonlyMap<string, { columns: readonly string[] }>): Map<string, string> {
  const names: string[] = [];
  const pairs = new Map<string, string>();
  for (const part of rule.split(',').map((p) => p.trim())) {
    if (!part) continue;
    const dot = part.indexOf('.');
    if (dot < 0) names.push(part);
    else pairs.set(part.slice(0, dot), part.slice(dot + 1));
  }
  const columns = new Map<string, string>();
  for (const [table, info] of tables) {
    const column = pairs.get(table) ?? names.find((name) => info.columns.includes(name));
    // A configured pair naming a column the table lacks still filters the table: nothing of it is in scope.
    if (column !== undefined) columns.set(table, column);
  }
  return columns;
}

/**
 * The decision for one entry, on the entry's table, operation and the team numbers of its images
 * (undefined: no image, or no team in it). The SQL of scopeActionSql makes the same decision.
 */
export function scopeAction(
  scope: TeamScope,
  entry: { table_name: string; operation: string; newTeam: string | undefined; oldTeam: string | undefined },
): ScopeAction {
  if (!scope.columns.has(entry.table_name)) return 'send';
  const teams = new Set(scope.teams.map(String));
  const oldIn = entry.oldTeam !== undefined && teams.has(entry.oldTeam);
  if (entry.operation === 'delete') return oldIn ? 'send' : 'send_without_old';
  if (entry.newTeam !== undefined && teams.has(entry.newTeam)) return oldIn ? 'send' : 'send_without_old';
  return entry.operation === 'insert' ? 'leave_out' : 'exit';
}

function checkedScope(scope: TeamScope): void {
  for (const team of scope.teams) if (!Number.isSafeInteger(team) || team < 0) throw new Error(`not a team number: ${team}`);
  for (const [table, column] of scope.columns) {
    if (!PLAIN_IDENTIFIER.test(table) || !PLAIN_IDENTIFIER.test(column)) throw new Error(`not a plain filter column: ${table}.${column}`);
  }
}

/** The team number of an image (json) of log entry `alias`, by its table's filter column. */
function teamOf(scope: TeamScope, alias: string, image: 'change_data' | 'old_data'): string {
  const cases = [...scope.columns].map(([table, column]) => `WHEN '${table}' THEN ${alias}.${image} ->> '${column}'`).join(' ');
  return `(CASE ${alias}.table_name ${cases} END)`;
}

/**
 * scopeAction in SQL, over log entry `alias` (a row of database_changes): an expression giving the
 * action's name. Table and column names are plain identifiers and teams integers, so they go in as
 * literals (a COPY takes no parameters).
 */
export function scopeActionSql(scope: TeamScope, alias: string): string {
  checkedScope(scope);
  if (scope.columns.size === 0) return `'send'`;
  const teams = `'{${scope.teams.join(',')}}'::text[]`;
  const filtered = [...scope.columns.keys()].map((t) => `'${t}'`).join(', ');
  const oldIn = `coalesce(${teamOf(scope, alias, 'old_data')} = ANY(${teams}), false)`;
  const newIn = `coalesce(${teamOf(scope, alias, 'change_data')} = ANY(${teams}), false)`;
  const sendOrWithoutOld = `CASE WHEN ${oldIn} THEN 'send' ELSE 'send_without_old' END`;
  return `(CASE WHEN ${alias}.table_name NOT IN (${filtered}) THEN 'send'
    WHEN ${alias}.operation = 'delete' OR ${newIn} THEN ${sendOrWithoutOld}
    WHEN ${alias}.operation = 'insert' THEN 'leave_out'
    ELSE 'exit' END)`;
}

/** The team number a row image (JSON text) holds in `column`, as text; undefined when it holds none. */
export function teamOfImage(imageJson: string | null, column: string): string | undefined {
  if (imageJson === null) return undefined;
  const value = (JSON.parse(imageJson) as Record<string, unknown>)[column];
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Whether log entry `alias` goes to a reader with this scope (none: every team) at all: scope exits go
 * to nobody, entries left out of the scope not to it. What detection counts and planning divides into
 * batches, exactly what the reads send (SPEC I10).
 */
export function sendableSql(scope: TeamScope | undefined, alias: string): string {
  const exits = `NOT ${alias}.scope_exit`;
  return scope ? `${exits} AND ${scopeActionSql(scope, alias)} <> 'leave_out'` : exits;
}

/**
 * Why a change from a peer with this scope may not be written here, or undefined when it may: its row
 * image must be in the peer's teams, and when it would win, so must the row it replaces (`standingTeam`:
 * the receiver's row's team; absent: no such row). A change that loses replaces nothing and is only
 * logged. Deletes and scope exits carry no image.
 */
export function writeRefusal(
  scope: TeamScope,
  change: { table_name: string; record_id: string; operation: string; change_data_json: string | null },
  wins: boolean,
  standing: { exists: boolean; team: string | undefined },
): string | undefined {
  const column = scope.columns.get(change.table_name);
  if (column === undefined) return undefined;
  const teams = new Set(scope.teams.map(String));
  const allowed = `the teams this peer may write (${scope.teams.join(', ') || 'none'})`;
  if (change.operation !== 'delete') {
    const team = teamOfImage(change.change_data_json, column);
    if (team === undefined || !teams.has(team)) return `change_data.${column}: ${team === undefined ? 'no team' : `team ${team}`} is outside ${allowed}`;
  }
  if (wins && standing.exists && (standing.team === undefined || !teams.has(standing.team))) {
    return `${change.table_name} ${change.record_id}: the row here belongs to ${standing.team === undefined ? 'no team' : `team ${standing.team}`}, outside ${allowed}`;
  }
  return undefined;
}
