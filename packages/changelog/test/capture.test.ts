import { describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import {
  disableTableSync,
  enableTableSync,
  listSyncedTables,
  readChanges,
  setSyncedTables,
  TableNotFoundError,
  TableNotSyncableError,
} from '@catchup/changelog';
import { logCount, useNodes } from './nodes.ts';

const [node] = await useNodes(1, 'capture');
const pool = node!.pool;
const db = node!.database.db;

async function allChanges() {
  return (await readChanges(pool, { after: '0', limit: 100_000 })).changes;
}

describe('change capture (I1)', () => {
  it('logs inserts, updates and deletes made through Prisma, with row images', async () => {
    const before = await logCount(pool);
    const team = await db.team.create({ data: { teamNumber: 254, name: 'Cheesy Poofs', scoutingTeamNumber: 1 } });
    await db.team.update({ where: { id: team.id }, data: { name: 'The Cheesy Poofs' } });
    await db.team.delete({ where: { id: team.id } });
    const changes = (await allChanges()).slice(before);
    expect(changes.map((c) => c.operation)).toEqual(['insert', 'update', 'delete']);
    expect(changes.every((c) => c.table_name === 'teams' && c.record_id === team.id)).toBe(true);
    expect(changes[0]!.change_data).toMatchObject({ id: team.id, name: 'Cheesy Poofs', team_number: 254 });
    expect(changes[1]!.old_data).toMatchObject({ name: 'Cheesy Poofs' });
    expect(changes[1]!.change_data).toMatchObject({ name: 'The Cheesy Poofs' });
    expect(changes[2]!.change_data).toBeNull();
    expect(changes[2]!.old_data).toMatchObject({ id: team.id });
    for (const c of changes) {
      expect(c.origin_node_id).toBe(node!.nodeId);
      expect(c.origin_sequence).toBe(c.sequence);
    }
    const stamps = changes.map((c) => BigInt(c.hlc));
    expect(stamps[1]! > stamps[0]! && stamps[2]! > stamps[1]!).toBe(true);
  });

  it('records is_active flips as soft_delete and reactivate', async () => {
    const before = await logCount(pool);
    const row = await db.scoutingData.create({ data: { teamNumber: 1, matchNumber: 2, scoutingTeamNumber: 3 } });
    await db.scoutingData.update({ where: { id: row.id }, data: { isActive: false } });
    await db.scoutingData.update({ where: { id: row.id }, data: { isActive: true } });
    const ops = (await allChanges()).slice(before).map((c) => c.operation);
    expect(ops).toEqual(['insert', 'soft_delete', 'reactivate']);
  });

  it('captures raw SQL writes, and ignores updates that change nothing', async () => {
    const before = await logCount(pool);
    const { rows } = await pool.query<{ id: string }>(`INSERT INTO events (code, name, scouting_team_number) VALUES ('2026casj', 'San Jose', 1) RETURNING id`);
    await pool.query(`UPDATE events SET name = name WHERE id = $1`, [rows[0]!.id]);
    await pool.query(`UPDATE events SET name = 'Silicon Valley' WHERE id = $1`, [rows[0]!.id]);
    const changes = (await allChanges()).slice(before);
    expect(changes.map((c) => [c.table_name, c.operation])).toEqual([
      ['events', 'insert'],
      ['events', 'update'],
    ]);
  });

  it('leaves nothing for a rolled-back write', async () => {
    const before = await logCount(pool);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (971, 'Spartan', 1)`);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await logCount(pool)).toBe(before);
  });

  it('captures every row of a multi-row statement in the same transaction', async () => {
    const before = await logCount(pool);
    await pool.query(`INSERT INTO matches (match_number, scouting_team_number) SELECT g, 1 FROM generate_series(1, 50) g`);
    expect((await logCount(pool)) - before).toBe(50);
  });
});

describe('reading the log without gaps (I2)', () => {
  it('does not skip a change whose transaction commits after a later one', async () => {
    let cursor = (await readChanges(pool, { after: '0', limit: 100_000 })).nextCursor;
    const slow = await pool.connect();
    const fast = createPool(node!.database.url, 1);
    try {
      // The slow writer starts first and stays open.
      await slow.query('BEGIN');
      await slow.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1, 'slow', 1)`);
      // A later writer commits while the slow one is still open.
      await fast.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (2, 'fast', 1)`);
      const first = await readChanges(pool, { after: cursor, limit: 100 });
      expect(first.changes.map((c) => c.change_data?.name)).toEqual(['fast']);
      cursor = first.nextCursor;
      await slow.query('COMMIT');
      const second = await readChanges(pool, { after: cursor, limit: 100 });
      expect(second.changes.map((c) => c.change_data?.name)).toEqual(['slow']);
    } finally {
      slow.release();
      await fast.end();
    }
  });

  it('holds back later commits while an earlier position is allocated but not committed', async () => {
    let cursor = (await readChanges(pool, { after: '0', limit: 100_000 })).nextCursor;
    const early = await pool.connect();
    const late = createPool(node!.database.url, 1);
    try {
      // Capturing immediately allocates the early writer's position now, long before it commits.
      await early.query('BEGIN');
      await early.query('SET CONSTRAINTS ALL IMMEDIATE');
      await early.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (3, 'early', 1)`);
      let lateDone = false;
      const lateWrite = late.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (4, 'late', 1)`).then(() => (lateDone = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(lateDone).toBe(false);
      const during = await readChanges(pool, { after: cursor, limit: 100 });
      expect(during.changes).toEqual([]);
      cursor = during.nextCursor;
      await early.query('COMMIT');
      await lateWrite;
      const after = await readChanges(pool, { after: cursor, limit: 100 });
      expect(after.changes.map((c) => c.change_data?.name)).toEqual(['early', 'late']);
      expect(BigInt(after.changes[0]!.sequence!) < BigInt(after.changes[1]!.sequence!)).toBe(true);
    } finally {
      early.release();
      await late.end();
    }
  });

  it('pages by cursor: every change once, in order, whatever the page size', async () => {
    const all = (await readChanges(pool, { after: '0', limit: 100_000 })).changes.map((c) => c.sequence);
    const paged: string[] = [];
    let cursor = '0';
    for (;;) {
      const page = await readChanges(pool, { after: cursor, limit: 7 });
      paged.push(...page.changes.map((c) => c.sequence!));
      cursor = page.nextCursor;
      if (!page.hasMore) break;
    }
    expect(paged).toEqual(all);
    expect(cursor).toBe(all.at(-1));
  });

  it("skips the reader's own changes but still moves the cursor past them", async () => {
    const page = await readChanges(pool, { after: '0', limit: 100_000, excludeOrigin: node!.nodeId });
    expect(page.changes).toEqual([]);
    expect(page.nextCursor).toBe(page.latestSequence);
    expect(page.hasMore).toBe(false);
  });
});

describe('which tables are synced', () => {
  it('syncs the sample tables by default', async () => {
    expect(await listSyncedTables(pool)).toEqual(['events', 'matches', 'scouting_data', 'teams']);
  });

  it('captures a table once enabled, and stops when disabled', async () => {
    await pool.query(`CREATE TABLE pit_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text)`);
    const before = await logCount(pool);
    await pool.query(`INSERT INTO pit_notes (note) VALUES ('before')`);
    expect(await logCount(pool)).toBe(before);
    // Putting it under sync logs the row it holds (its baseline), then captures.
    expect(await enableTableSync(pool, 'pit_notes')).toEqual({ table: 'pit_notes', added: true, baselineRows: 1 });
    expect(await enableTableSync(pool, 'pit_notes')).toEqual({ table: 'pit_notes', added: false, baselineRows: 0 });
    await pool.query(`INSERT INTO pit_notes (note) VALUES ('during')`);
    expect(await logCount(pool)).toBe(before + 2);
    await disableTableSync(pool, 'pit_notes');
    await pool.query(`INSERT INTO pit_notes (note) VALUES ('after')`);
    expect(await logCount(pool)).toBe(before + 2);
    await expect(disableTableSync(pool, 'pit_notes')).rejects.toThrow(TableNotFoundError);
  });

  it.each([
    ['teams; DROP TABLE teams', /not a plain lower-case table name/],
    ['database_changes', /one of the sync system tables/],
    ['sync_servers', /one of the sync system tables/],
  ])('refuses %s', async (table, reason) => {
    await expect(enableTableSync(pool, table)).rejects.toThrow(TableNotSyncableError);
    await expect(enableTableSync(pool, table)).rejects.toThrow(reason);
  });

  it('does not find a table that does not exist', async () => {
    await expect(enableTableSync(pool, 'no_such_table')).rejects.toThrow(TableNotFoundError);
  });

  it('refuses a table without a uuid primary key named id', async () => {
    await pool.query(`CREATE TABLE legacy (id serial PRIMARY KEY, note text)`);
    await expect(enableTableSync(pool, 'legacy')).rejects.toThrow(/its primary key id is a serial integer/);
  });

  it('sets the synced set as a whole, checking every name first', async () => {
    await expect(setSyncedTables(pool, ['teams', 'legacy'])).rejects.toThrow(TableNotSyncableError);
    expect(await listSyncedTables(pool)).toEqual(['events', 'matches', 'scouting_data', 'teams']);
    expect(await setSyncedTables(pool, ['teams', 'events', 'matches', 'scouting_data', 'pit_notes'])).toEqual({
      enabled: ['pit_notes'],
      disabled: [],
    });
    expect(await setSyncedTables(pool, ['teams', 'events', 'matches', 'scouting_data'])).toEqual({
      enabled: [],
      disabled: ['pit_notes'],
    });
  });
});
