// The baseline of a table put under sync: the rows it held before its capture trigger existed, logged as
// this node's inserts in chunks by key, each chunk its own short transaction under the log lock. The
// chunks run after the trigger is installed, so every write from then on is captured as well; the rule
// below makes every row's newest log entry its current state whichever commits first.
//
// A chunk takes the log lock first and reads the table in a following statement. Under READ COMMITTED
// that statement's snapshot is taken after the lock is held, and every writer of the table needs the
// log lock at its commit (its capture trigger is deferred), so no write of the table commits between
// the chunk's snapshot and the chunk's commit:
// - a write committed before the snapshot was captured, with a position after captured_after; the
//   chunk sees the row as that write left it, and skips it (its standing version is in the log);
// - a write committed after the chunk is captured with a position and stamp newer than the chunk's;
// - a row deleted before its chunk is absent from it; its delete was captured;
// - an untouched row is logged with the current image and a stamp newer than anything the log held.
// The applier writes the table under the log lock as well and logs what it applies, so a remote change
// applied to the table is like a local write here. So the newest entry of every row (by position and by
// the conflict rule: a local stamp is newer than every stamp seen, an applied change beat the standing
// version) is its current state (I1), and every entry is a fresh identity (origin sequence = position,
// I12). Positions are allocated under the log lock held to commit, as for any writer (I2).
import { z } from 'zod';
import { BASELINE_RUNNER_LOCK_CLASS, inTransaction, type Pool, type PoolClient } from '@catchup/db';
import type { Sql } from './sql.ts';
import { quoteIdent } from './sql.ts';

/** Rows per chunk: other synced tables' writers wait for one chunk at most (a fraction of a second). */
export const BASELINE_CHUNK = 2000;

export interface BaselineProgress {
  table: string;
  /** Rows logged by the baseline so far. */
  rowsLogged: number;
  /** True once the last chunk committed. */
  finished: boolean;
}

const pendingRowSchema = z.object({
  next_key: z.string().nullable(),
  captured_after: z.string(),
  rows_logged: z.string(),
  synced: z.boolean(),
});

const chunkResultSchema = z.object({ scanned: z.number(), last_key: z.string().nullable(), logged: z.number() });

/**
 * Records that the table's baseline is pending. Call in the transaction that installs the trigger, with
 * the table locked against writes: no entry of the table is in flight, so every entry of it positioned
 * after the log's newest position now captures a write made after the trigger exists.
 */
export async function recordPendingBaseline(client: PoolClient, table: string): Promise<void> {
  await client.query(
    `INSERT INTO sync_table_baselines (table_name, captured_after)
     VALUES ($1, (SELECT coalesce(max(sequence), 0) FROM database_changes))
     ON CONFLICT (table_name) DO UPDATE
       SET next_key = NULL, captured_after = EXCLUDED.captured_after, rows_logged = 0, started_at = now(), finished_at = NULL`,
    [table],
  );
}

/** Forgets the table's baseline (the table is taken out of sync: a pending baseline stops). */
export async function dropBaseline(sql: Sql, table: string): Promise<void> {
  await sql.query('DELETE FROM sync_table_baselines WHERE table_name = $1', [table]);
}

/**
 * Logs the next chunk of the table's pending baseline: up to `chunkRows` rows after the last key logged,
 * in one transaction that also moves the marker (and marks the baseline finished after the last row).
 * Null when the table has no pending baseline. A table no longer synced (its trigger dropped by hand, or
 * the table dropped) ends its baseline where it is.
 */
export async function logBaselineChunk(pool: Pool, table: string, chunkRows = BASELINE_CHUNK): Promise<BaselineProgress | null> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT catchup_lock_log()');
    const pending = await lockPendingBaseline(client, table);
    if (!pending) return null;
    if (!pending.synced) return finish(client, table, Number(pending.rows_logged));
    const chunk = await logChunk(client, table, pending, chunkRows);
    const rowsLogged = Number(pending.rows_logged) + chunk.logged;
    if (chunk.scanned < chunkRows) return finish(client, table, rowsLogged);
    await client.query('UPDATE sync_table_baselines SET next_key = $2, rows_logged = $3 WHERE table_name = $1', [table, chunk.last_key, rowsLogged]);
    return { table, rowsLogged, finished: false };
  });
}

/** The table's pending baseline, locked for this chunk, with whether the table still carries the trigger. */
async function lockPendingBaseline(client: PoolClient, table: string): Promise<z.infer<typeof pendingRowSchema> | null> {
  const { rows } = await client.query(
    `SELECT b.next_key::text, b.captured_after::text, b.rows_logged::text,
            EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE t.tgname = 'catchup_capture' AND NOT t.tgisinternal AND n.nspname = 'public' AND c.relname = b.table_name) AS synced
       FROM sync_table_baselines b
      WHERE b.table_name = $1 AND b.finished_at IS NULL
        FOR UPDATE OF b`,
    [table],
  );
  return rows[0] ? pendingRowSchema.parse(rows[0]) : null;
}

/**
 * One chunk: the next rows by key, each logged as the trigger would log its insert (the row image by
 * to_jsonb, one position and one stamp per row: the CTEs are materialized so that nextval and the clock
 * run once per row) unless an entry captured since the trigger exists holds its standing version.
 */
async function logChunk(client: PoolClient, table: string, pending: z.infer<typeof pendingRowSchema>, chunkRows: number) {
  const { rows: node } = await client.query<{ node: string }>('SELECT catchup_node_id() AS node');
  const { rows } = await client.query(
    `WITH chunk AS MATERIALIZED (
       SELECT r.id, to_jsonb(r) AS row FROM ${quoteIdent(table)} AS r
        WHERE $2::uuid IS NULL OR r.id > $2::uuid
        ORDER BY r.id LIMIT $3
     ), unlogged AS MATERIALIZED (
       SELECT nextval('database_changes_sequence_seq') AS position, catchup_next_hlc() AS hlc, c.id::text AS record_id, c.row
         FROM chunk c
         LEFT JOIN LATERAL (SELECT true AS found FROM database_changes d
                             WHERE d.table_name = $1 AND d.record_id = c.id::text AND d.sequence > $4::bigint
                             LIMIT 1) captured ON true
        WHERE captured.found IS NULL
     ), logged AS (
       INSERT INTO database_changes (sequence, table_name, record_id, operation, change_data, old_data, "timestamp", origin_node_id, origin_sequence, hlc)
       SELECT position, $1, record_id, 'insert', row::json, NULL, clock_timestamp(), $5, position, hlc FROM unlogged
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM chunk)::int AS scanned,
            (SELECT id::text FROM chunk ORDER BY id DESC LIMIT 1) AS last_key,
            (SELECT count(*) FROM logged)::int AS logged`,
    [table, pending.next_key, chunkRows, pending.captured_after, node[0]!.node],
  );
  return chunkResultSchema.parse(rows[0]);
}

async function finish(client: PoolClient, table: string, rowsLogged: number): Promise<BaselineProgress> {
  await client.query('UPDATE sync_table_baselines SET rows_logged = $2, finished_at = now() WHERE table_name = $1', [table, rowsLogged]);
  return { table, rowsLogged, finished: true };
}

/**
 * Logs the table's pending baseline chunk by chunk until it is finished, and answers the rows it logged
 * in all (zero when the table has no baseline). When another runner is at it (a resume), waits for it to
 * finish instead.
 */
export async function finishBaseline(pool: Pool, table: string, chunkRows = BASELINE_CHUNK): Promise<number> {
  await asRunner(pool, table, 'wait', () => runChunks(pool, table, chunkRows));
  return baselineRowsLogged(pool, table);
}

/**
 * Continues every pending baseline that no runner is at (one interrupted by a crash or a restart) to its
 * end; answers those it finished.
 */
export async function resumeBaselines(pool: Pool, chunkRows = BASELINE_CHUNK): Promise<BaselineProgress[]> {
  const { rows } = await pool.query<{ table_name: string }>('SELECT table_name FROM sync_table_baselines WHERE finished_at IS NULL ORDER BY started_at');
  const finished: BaselineProgress[] = [];
  for (const { table_name: table } of rows) {
    const done = await asRunner(pool, table, 'skip', () => runChunks(pool, table, chunkRows));
    if (done) finished.push({ table, rowsLogged: await baselineRowsLogged(pool, table), finished: true });
  }
  return finished;
}

async function runChunks(pool: Pool, table: string, chunkRows: number): Promise<true> {
  for (let progress = await logBaselineChunk(pool, table, chunkRows); progress && !progress.finished; ) {
    progress = await logBaselineChunk(pool, table, chunkRows);
  }
  return true;
}

/**
 * Runs `work` as the one runner of the table's baseline: holds a session lock on a connection of its own
 * meanwhile, which is closed after (a runner that dies lets go with its connection). Chunks are safe to
 * run from two runners (the log lock orders them, each starts where the last ended); the lock spares the
 * duplicated work and lets the one that put the table under sync answer its row count. With 'skip', null
 * when another runner holds it.
 */
async function asRunner<T>(pool: Pool, table: string, busy: 'wait' | 'skip', work: () => Promise<T>): Promise<T | null> {
  const client = await pool.connect();
  try {
    if (busy === 'wait') {
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [BASELINE_RUNNER_LOCK_CLASS, table]);
    } else {
      const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [BASELINE_RUNNER_LOCK_CLASS, table]);
      if (!rows[0]!.got) return null;
    }
    return await work();
  } finally {
    client.release(true);
  }
}

async function baselineRowsLogged(sql: Sql, table: string): Promise<number> {
  const { rows } = await sql.query<{ n: string }>('SELECT rows_logged::text AS n FROM sync_table_baselines WHERE table_name = $1', [table]);
  return Number(rows[0]?.n ?? 0);
}

/** Rows logged so far by each pending baseline, by table. */
export async function pendingBaselines(sql: Sql): Promise<Map<string, number>> {
  const { rows } = await sql.query<{ table_name: string; rows_logged: string }>(
    'SELECT table_name, rows_logged::text FROM sync_table_baselines WHERE finished_at IS NULL',
  );
  return new Map(rows.map((r) => [r.table_name, Number(r.rows_logged)]));
}
