// What a test checks of a node after a peer tried to break it (SPEC I12, I13).
import type { Pool } from '@catchup/db';

/** The sample application's synced tables. */
export const SAMPLE_TABLES = ['teams', 'events', 'matches', 'scouting_data'] as const;

/**
 * Rows whose values are not those of their standing logged version (the newest change of the row, not a
 * delete): a table the log does not explain has drifted from what peers will be told (I12).
 */
export async function rowsWithoutTheirLoggedVersion(pool: Pool): Promise<number> {
  let missing = 0;
  for (const table of SAMPLE_TABLES) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} t
        WHERE NOT EXISTS (
          SELECT 1 FROM database_changes d
           WHERE d.table_name = '${table}' AND d.record_id = t.id::text AND d.operation <> 'delete'
             AND to_jsonb(jsonb_populate_record(NULL::${table}, d.change_data::jsonb)) = to_jsonb(t)
             AND d.hlc = (SELECT max(hlc) FROM database_changes m WHERE m.table_name = '${table}' AND m.record_id = t.id::text))`,
    );
    missing += rows[0]!.n;
  }
  return missing;
}

/** How far this node's clock memory (the newest stamp issued or seen) is ahead of its wall clock, in ms. */
export async function clockLeadMs(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ lead: string }>(`SELECT ((SELECT last_value FROM catchup_hlc_seq) / 65536 - catchup_wall_clock_ms())::text AS lead`);
  return Number(rows[0]!.lead);
}

/** Every synced table's rows, sorted, as one comparable value. */
export async function sampleTablesDigest(pool: Pool): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of SAMPLE_TABLES) {
    const { rows } = await pool.query(`SELECT to_jsonb(t) AS row FROM "${table}" t ORDER BY id`);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}
