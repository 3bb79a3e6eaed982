// Putting a table under sync: its existing rows are logged (the baseline) atomically with installing the
// capture trigger — no write slips between — and cursor readers never skip a change while it commits (I2).
import { describe, expect, it } from 'vitest';
import { createPool, inTransaction } from '@catchup/db';
import {
  disableTableSync,
  enableTableSync,
  installCapture,
  logBaselineChunk,
  readChanges,
  reportTables,
  resumeBaselines,
  TableNotSyncableError,
} from '@catchup/changelog';
import { logCount, useNodes } from './nodes.ts';

const [node] = await useNodes(1, 'tablesync');
const pool = node!.pool;

async function logOf(table: string) {
  const { rows } = await pool.query<{ record_id: string; operation: string; origin_node_id: string; same: boolean }>(
    `SELECT d.record_id, d.operation, d.origin_node_id, d.origin_sequence = d.sequence AS same
       FROM database_changes d WHERE d.table_name = $1 ORDER BY d.sequence`,
    [table],
  );
  return rows;
}

describe('the baseline of a table put under sync', () => {
  it("logs every existing row as this node's insert, with its row image, stamped in order", async () => {
    await pool.query(`CREATE TABLE pit_scouting (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), team int, notes text)`);
    await pool.query(`INSERT INTO pit_scouting (team, notes) SELECT g, 'robot ' || g FROM generate_series(1, 300) g`);
    const stampBefore = (await pool.query<{ n: string }>('SELECT last_value::text AS n FROM catchup_hlc_seq')).rows[0]!.n;

    expect(await enableTableSync(pool, 'pit_scouting')).toEqual({ table: 'pit_scouting', added: true, baselineRows: 300 });

    const logged = await logOf('pit_scouting');
    expect(logged).toHaveLength(300);
    expect(logged.every((c) => c.operation === 'insert' && c.origin_node_id === node!.nodeId && c.same)).toBe(true);
    const { rows } = await pool.query<{ mismatched: string; stamps_distinct: boolean; after_clock: boolean }>(
      `SELECT count(*) FILTER (WHERE d.change_data::jsonb <> to_jsonb(p))::text AS mismatched,
              count(DISTINCT d.hlc) = count(*) AS stamps_distinct,
              min(d.hlc) > $1::bigint AS after_clock
         FROM database_changes d JOIN pit_scouting p ON p.id::text = d.record_id WHERE d.table_name = 'pit_scouting'`,
      [stampBefore],
    );
    expect(rows[0]).toEqual({ mismatched: '0', stamps_distinct: true, after_clock: true });
    // The clock moved past the baseline: the next local write is stamped after it.
    await pool.query(`UPDATE pit_scouting SET notes = 'rebuilt' WHERE team = 1`);
    const { rows: newest } = await pool.query<{ newest: boolean }>(
      `SELECT (SELECT hlc FROM database_changes ORDER BY sequence DESC LIMIT 1) > (SELECT max(hlc) FROM database_changes WHERE operation = 'insert' AND table_name = 'pit_scouting') AS newest`,
    );
    expect(newest[0]!.newest).toBe(true);
  });

  it('does not lose a write made while the table is being put under sync', async () => {
    await pool.query(`CREATE TABLE pit_photos (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), caption text)`);
    await pool.query(`INSERT INTO pit_photos (caption) VALUES ('old')`);
    // A writer in the middle of its transaction when the table is put under sync…
    const early = await pool.connect();
    const late = await pool.connect();
    try {
      await early.query(`BEGIN; INSERT INTO pit_photos (caption) VALUES ('early')`);
      const enabling = enableTableSync(pool, 'pit_photos');
      await waitForLockQueue('pit_photos', 1);
      // …and one that starts after: it waits for the sync to be in place.
      const lateWrite = late.query(`INSERT INTO pit_photos (caption) VALUES ('late')`);
      await waitForLockQueue('pit_photos', 2);
      await early.query('COMMIT');
      expect((await enabling).baselineRows).toBe(2); // old, early
      await lateWrite;
    } finally {
      early.release();
      late.release();
    }
    const { rows } = await pool.query<{ caption: string; logged: string }>(
      `SELECT p.caption, (SELECT count(*)::text FROM database_changes d WHERE d.table_name = 'pit_photos' AND d.record_id = p.id::text) AS logged
         FROM pit_photos p ORDER BY p.caption`,
    );
    expect(rows).toEqual([
      { caption: 'early', logged: '1' },
      { caption: 'late', logged: '1' },
      { caption: 'old', logged: '1' },
    ]);
  });

  it('keeps cursor readers from skipping a change while a large baseline commits (I2)', async () => {
    await pool.query(`CREATE TABLE scout_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text)`);
    await pool.query(`INSERT INTO scout_notes (body) SELECT repeat('n', 40) || g FROM generate_series(1, 20000) g`);
    const start = (await pool.query<{ n: string }>('SELECT coalesce(max(sequence), 0)::text AS n FROM database_changes')).rows[0]!.n;
    let writing = true;
    let reading = true;
    const seen: string[] = [];
    const reader = (async () => {
      let cursor = start;
      for (;;) {
        const last = !reading;
        const page = await readChanges(pool, { after: cursor, limit: 5000 });
        for (const c of page.changes) seen.push(c.sequence!);
        cursor = page.nextCursor;
        if (last && !page.hasMore) return;
      }
    })();
    // Other tables' writers commit before, during and after the baseline.
    const writer = (async () => {
      for (let i = 0; writing || i < 5; i++) {
        await pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES ($1, 'busy', 1)`, [10_000 + i]);
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect((await enableTableSync(pool, 'scout_notes')).baselineRows).toBe(20000);
    writing = false;
    await writer;
    reading = false;
    await reader;
    const { rows } = await pool.query<{ sequence: string }>('SELECT d.sequence::text FROM database_changes d WHERE d.sequence > $1 ORDER BY d.sequence', [
      start,
    ]);
    const logged = rows.map((r) => r.sequence);
    expect(logged.length).toBeGreaterThan(20000);
    expect(seen.length).toBe(logged.length);
    expect(seen.filter((s, i) => s !== logged[i])).toEqual([]);
  });

  it('changes nothing when it refuses a table', async () => {
    await pool.query(`CREATE TABLE legacy_scouting (id serial PRIMARY KEY, notes text)`);
    await pool.query(`INSERT INTO legacy_scouting (notes) VALUES ('a'), ('b')`);
    const before = await logCount(pool);
    const refusal = enableTableSync(pool, 'legacy_scouting');
    await expect(refusal).rejects.toThrow(TableNotSyncableError);
    const message = await refusal.then(
      () => '',
      (err: Error) => err.message,
    );
    expect(await logCount(pool)).toBe(before);
    // The fix the refusal gives works.
    const fix = /add a uuid key column: (.*)$/.exec(message)![1]!;
    await pool.query(fix);
    expect(await enableTableSync(pool, 'legacy_scouting')).toMatchObject({ added: true, baselineRows: 2 });
  });
});

describe("a table this node's database user does not own", () => {
  it('is refused with the statement that fixes it, and changes nothing', async () => {
    // The node connects as a role that may use the sync's tables but does not own the application's table.
    const role = `tablesync_node_${process.pid}_${Date.now()}`;
    await pool.query(`CREATE ROLE ${role} LOGIN`);
    await pool.query(
      `GRANT ALL ON SCHEMA public TO ${role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    );
    await pool.query(`CREATE TABLE booth_visits (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text); GRANT SELECT ON booth_visits TO ${role}`);
    const url = new URL(node!.database.url);
    url.username = role;
    const asNode = createPool(url.toString(), 2);
    try {
      const before = await logCount(pool);
      await expect(enableTableSync(asNode, 'booth_visits')).rejects.toThrow(
        new RegExp(
          `^table "booth_visits" cannot be synced: this node's database user ${role} lacks a privilege on it \\(permission denied for table booth_visits\\); make it the owner: ALTER TABLE booth_visits OWNER TO ${role}$`,
        ),
      );
      expect(await logCount(pool)).toBe(before);
      await pool.query(`ALTER TABLE booth_visits OWNER TO ${role}`);
      expect(await enableTableSync(asNode, 'booth_visits')).toMatchObject({ added: true });
      await pool.query(`ALTER TABLE booth_visits OWNER TO CURRENT_USER`);
      await expect(disableTableSync(asNode, 'booth_visits')).rejects.toThrow(
        /^table "booth_visits" cannot be taken out of sync: this node's database user .* make it the owner/,
      );
    } finally {
      await asNode.end();
      await pool.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

describe('reportTables', () => {
  it('lists application tables with their standing, rows and log entries', async () => {
    await pool.query(`CREATE TABLE loose_notes (note text)`);
    await pool.query(`ALTER TABLE pit_photos DISABLE TRIGGER catchup_capture`);
    const report = await reportTables(pool);
    const byName = new Map(report.map((t) => [t.name, t]));
    expect(byName.get('pit_scouting')).toEqual({
      name: 'pit_scouting',
      standing: 'synced',
      rows: 300,
      rowsEstimated: false,
      logEntries: 301,
      baselineRowsLogged: null,
      problem: null,
    });
    expect(byName.get('pit_photos')).toMatchObject({ standing: 'trigger disabled', rows: 3, logEntries: 3 });
    expect(byName.get('loose_notes')).toMatchObject({
      standing: 'not synced',
      rows: 0,
      logEntries: 0,
      problem: expect.stringMatching(/^it has no primary key; add a uuid key column: ALTER TABLE loose_notes ADD COLUMN id uuid/),
    });
    expect(byName.get('teams')).toMatchObject({ standing: 'synced', problem: null });
    expect([...byName.keys()].filter((n) => n.startsWith('sync_') || n === 'database_changes')).toEqual([]);
    await pool.query(`ALTER TABLE pit_photos ENABLE TRIGGER catchup_capture`);
    await pool.query(`DROP TABLE scout_notes`);
    expect((await reportTables(pool)).find((t) => t.name === 'scout_notes')).toEqual({
      name: 'scout_notes',
      standing: 'table missing',
      rows: null,
      rowsEstimated: false,
      logEntries: 20000,
      baselineRowsLogged: null,
      problem: null,
    });
  });
});

describe('a baseline logged in chunks', () => {
  it("lets another synced table's writer commit while a large baseline is being logged", async () => {
    await pool.query(`CREATE TABLE match_video (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), clip text)`);
    await pool.query(`INSERT INTO match_video (clip) SELECT 'clip ' || g FROM generate_series(1, 50000) g`);
    const finished: string[] = [];
    const enabling = enableTableSync(pool, 'match_video').then((outcome) => {
      finished.push('baseline');
      return outcome;
    });
    await waitForBaselineProgress('match_video');
    await pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (20001, 'prompt', 1)`);
    const { rows } = await pool.query<{ sequence: string }>(`SELECT max(sequence)::text AS sequence FROM database_changes WHERE table_name = 'teams'`);
    finished.push('write');
    expect((await enabling).baselineRows).toBe(50000);
    expect(finished).toEqual(['write', 'baseline']);
    // The write's entry sits between the baseline's: it committed between two chunks.
    const { rows: around } = await pool.query<{ before: boolean; after: boolean }>(
      `SELECT min(sequence) < $1::bigint AS before, max(sequence) > $1::bigint AS after FROM database_changes WHERE table_name = 'match_video'`,
      [rows[0]!.sequence],
    );
    expect(around[0]).toEqual({ before: true, after: true });
  });

  it("ends with every row's newest entry its final state while the table is written during the chunks", async () => {
    await pool.query(`CREATE TABLE drive_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int NOT NULL DEFAULT 0, body text)`);
    await pool.query(`INSERT INTO drive_notes (body) SELECT 'note ' || g FROM generate_series(1, 20000) g`);
    const ids = (await pool.query<{ id: string }>('SELECT id FROM drive_notes')).rows.map((r) => r.id);
    const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        await inTransaction(pool, async (client) => {
          await client.query('UPDATE drive_notes SET n = n + 1 WHERE id = ANY($1::uuid[])', [[pick(), pick(), pick()]]);
          await client.query('DELETE FROM drive_notes WHERE id = $1', [pick()]);
          await client.query(`INSERT INTO drive_notes (body) VALUES ('added')`);
        });
        writes++;
      }
    })();
    const outcome = await enableTableSync(pool, 'drive_notes', { chunkRows: 2000 });
    writing = false;
    await writer;
    expect(writes).toBeGreaterThan(0);
    expect(outcome.baselineRows).toBeGreaterThan(19000);
    const { rows } = await pool.query<{ rows: string; stale: string; deletes_undone: string }>(
      `WITH newest AS (
         SELECT DISTINCT ON (record_id) record_id, operation, change_data::jsonb AS image, hlc,
                max(hlc) OVER (PARTITION BY record_id) AS newest_hlc
           FROM database_changes WHERE table_name = 'drive_notes' ORDER BY record_id, sequence DESC)
       SELECT (SELECT count(*) FROM drive_notes)::text AS rows,
              count(*) FILTER (WHERE d.id IS NOT NULL AND (e.operation = 'delete' OR e.image <> to_jsonb(d) OR e.hlc <> e.newest_hlc))::text AS stale,
              count(*) FILTER (WHERE d.id IS NULL AND e.operation <> 'delete')::text AS deletes_undone
         FROM newest e LEFT JOIN drive_notes d ON d.id::text = e.record_id`,
    );
    expect(rows[0]).toMatchObject({ stale: '0', deletes_undone: '0' });
    const { rows: unlogged } = await pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM drive_notes d WHERE NOT EXISTS (SELECT 1 FROM database_changes c WHERE c.table_name = 'drive_notes' AND c.record_id = d.id::text)`,
    );
    expect(unlogged[0]!.n).toBe('0');
  });

  it('is continued after it was interrupted, and says so meanwhile', async () => {
    await pool.query(`CREATE TABLE alliance_picks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), team int)`);
    await pool.query(`INSERT INTO alliance_picks (team) SELECT g FROM generate_series(1, 12000) g`);
    // The process that put it under sync stops after the first chunk…
    expect(await installCapture(pool, 'alliance_picks')).toBe(true);
    expect(await logBaselineChunk(pool, 'alliance_picks', 5000)).toEqual({ table: 'alliance_picks', rowsLogged: 5000, finished: false });
    expect((await reportTables(pool)).find((t) => t.name === 'alliance_picks')).toMatchObject({ standing: 'baseline in progress', baselineRowsLogged: 5000 });
    // …a row not yet logged is written meanwhile (captured: the baseline leaves it)…
    await pool.query(`UPDATE alliance_picks SET team = -team WHERE id = (SELECT max(id::text)::uuid FROM alliance_picks)`);
    // …and the next start finishes it.
    expect(await resumeBaselines(pool, 5000)).toEqual([{ table: 'alliance_picks', rowsLogged: 11999, finished: true }]);
    expect(await resumeBaselines(pool)).toEqual([]);
    expect((await reportTables(pool)).find((t) => t.name === 'alliance_picks')).toMatchObject({
      standing: 'synced',
      baselineRowsLogged: null,
      logEntries: 12000,
    });
    const { rows } = await pool.query<{ mismatched: string }>(
      `SELECT count(*)::text AS mismatched FROM alliance_picks p
        WHERE (SELECT change_data::jsonb FROM database_changes d WHERE d.table_name = 'alliance_picks' AND d.record_id = p.id::text ORDER BY sequence DESC LIMIT 1)
              IS DISTINCT FROM to_jsonb(p)`,
    );
    expect(rows[0]!.mismatched).toBe('0');
  });

  it('stops where it is when the table is taken out of sync', async () => {
    await pool.query(`CREATE TABLE award_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), award text)`);
    await pool.query(`INSERT INTO award_notes (award) SELECT 'award ' || g FROM generate_series(1, 300) g`);
    await installCapture(pool, 'award_notes');
    await logBaselineChunk(pool, 'award_notes', 100);
    await disableTableSync(pool, 'award_notes');
    expect(await resumeBaselines(pool)).toEqual([]);
    expect((await reportTables(pool)).find((t) => t.name === 'award_notes')).toMatchObject({ standing: 'not synced', logEntries: 100 });
    // Put under sync again, it gets a whole baseline of its own.
    expect(await enableTableSync(pool, 'award_notes')).toMatchObject({ added: true, baselineRows: 300 });
  });
});

/** Waits until the table's baseline has logged its first chunk and is not finished. */
async function waitForBaselineProgress(table: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await pool.query<{ n: string }>('SELECT rows_logged::text AS n FROM sync_table_baselines WHERE table_name = $1 AND finished_at IS NULL', [
      table,
    ]);
    if (Number(rows[0]?.n ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the baseline of ${table} logged nothing`);
}

/** Waits until `count` sessions wait for a lock on `table`. */
async function waitForLockQueue(table: string, count: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = $1 AND NOT l.granted`,
      [table],
    );
    if (rows[0]!.n >= count) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${count} sessions waiting for ${table}`);
}
