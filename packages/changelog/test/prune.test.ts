// Retention (SPEC I11): the pruning rule, the prune against a real log (standing versions and tombstones
// kept, the horizon moved with what is gone, writers not blocked), and own changes pruned here coming back.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  IdentityConflictError,
  needsFullBaseline,
  prunableEntries,
  pruneLog,
  pruneRanges,
  readChanges,
  readLogHorizon,
  type Change,
  type LoggedVersion,
} from '@catchup/changelog';
import { createPool, PRUNE_LOCK_ID } from '@catchup/db';
import { applyTo, tableDigest, useNodes } from './nodes.ts';

const OLD = new Date('2026-01-01T00:00:00Z');
const entry = (sequence: number, record: string, hlc: number, node = 'n1', old = true): LoggedVersion => ({
  sequence: String(sequence),
  table_name: 'teams',
  record_id: record,
  timestamp: old ? OLD : new Date(),
  version: { hlc: String(hlc), node, sequence: String(sequence) },
});

describe('the pruning rule', () => {
  const before = new Date('2026-02-01T00:00:00Z');

  it("keeps each row's newest version, whatever its position, and prunes the superseded old ones", () => {
    const log = [
      entry(1, 'r1', 10),
      entry(2, 'r1', 30), // r1's standing version
      entry(3, 'r1', 20), // a stale change logged later (relayed): superseded
      entry(4, 'r2', 5),
      entry(5, 'r3', 7),
      entry(6, 'r3', 8, 'n1', false), // young: r3's older entry may go, this one stands anyway
      entry(7, 'r4', 1), // the log's newest entry
    ];
    expect(prunableEntries(log, '7', before)).toEqual(['1', '3', '5']);
  });

  it('settles equal stamps as the conflict rule does (node id, then origin sequence)', () => {
    const log = [entry(1, 'r1', 10, 'b'), entry(2, 'r1', 10, 'a'), entry(3, 'r1', 10, 'b'), entry(9, 'r9', 1)];
    // (10, b, 3) stands; (10, b, 1) and (10, a, 2) lose to it.
    expect(prunableEntries(log, '9', before)).toEqual(['1', '2']);
  });

  it("keeps young entries, and the log's newest entry even when superseded", () => {
    const log = [entry(1, 'r1', 10, 'n1', false), entry(2, 'r1', 30), entry(3, 'r1', 20)];
    expect(prunableEntries(log, '3', before)).toEqual([]);
  });

  it('covers a range of positions in chunks', () => {
    expect(pruneRanges('0', '12', 5)).toEqual([
      { from: '0', to: '5' },
      { from: '5', to: '10' },
      { from: '10', to: '12' },
    ]);
    expect(pruneRanges('7', '7', 5)).toEqual([]);
  });

  it('a reader below the pruned horizon gets a full baseline', () => {
    expect(needsFullBaseline('0', '0')).toBe(false);
    expect(needsFullBaseline('0', '10')).toBe(true);
    expect(needsFullBaseline('9', '10')).toBe(true);
    expect(needsFullBaseline('10', '10')).toBe(false);
  });
});

const [a, b] = await useNodes(2, 'prune');

const ageLog = (days: number) => a!.pool.query(`UPDATE database_changes SET "timestamp" = now() - make_interval(days => $1)`, [days]);

async function loggedVersions(): Promise<LoggedVersion[]> {
  const { rows } = await a!.pool.query<{
    sequence: string;
    table_name: string;
    record_id: string;
    timestamp: Date;
    hlc: string;
    origin_node_id: string;
    origin_sequence: string;
  }>(
    `SELECT sequence::text, table_name, record_id, "timestamp", hlc::text, origin_node_id, origin_sequence::text FROM database_changes ORDER BY database_changes.sequence`,
  );
  return rows.map((r) => ({ ...r, timestamp: new Date(r.timestamp), version: { hlc: r.hlc, node: r.origin_node_id, sequence: r.origin_sequence } }));
}

describe('pruning a log', () => {
  it('removes exactly what the rule says, keeps standing versions and tombstones, and moves the horizon in step', async () => {
    const db = a!.database.db;
    const teams = [];
    for (let i = 0; i < 30; i++) teams.push(await db.team.create({ data: { teamNumber: i, name: `t${i}`, scoutingTeamNumber: 1 } }));
    for (const t of teams.slice(0, 20)) await db.team.update({ where: { id: t.id }, data: { name: `${t.name}'` } });
    for (const t of teams.slice(0, 5)) await db.team.delete({ where: { id: t.id } }); // tombstones
    for (const t of teams.slice(5, 10)) await db.team.update({ where: { id: t.id }, data: { name: `${t.name}''` } });
    await ageLog(40);
    const before = new Date(Date.now() - 30 * 86_400_000);
    const digest = await tableDigest(a!.pool);
    const versions = await loggedVersions();
    const latest = versions.at(-1)!.sequence;
    const expected = prunableEntries(versions, latest, before);

    const result = await pruneLog(a!.pool, { before, nodeId: a!.nodeId, chunkSize: 7 });

    expect(result.ran).toBe(true);
    expect(result.entries).toBe(expected.length);
    // 60 entries of 30 rows: every row keeps one, its newest (5 of them deletes).
    expect(result.entries).toBe(30);
    const left = (await loggedVersions()).map((v) => v.sequence);
    expect(left).toEqual(versions.map((v) => v.sequence).filter((s) => !expected.includes(s)));
    // One entry per row is left, the deletes among them, and the tables are untouched.
    const { rows } = await a!.pool.query<{ n: string; rows: string; deletes: string }>(
      `SELECT count(*)::text AS n, count(DISTINCT record_id)::text AS rows, count(*) FILTER (WHERE operation = 'delete')::text AS deletes FROM database_changes`,
    );
    expect(rows[0]).toEqual({ n: '30', rows: '30', deletes: '5' });
    expect(await tableDigest(a!.pool)).toEqual(digest);
    const maxPruned = expected.reduce((m, s) => (BigInt(s) > BigInt(m) ? s : m), '0');
    expect(result.horizon).toMatchObject({ prunedThrough: maxPruned, ownPrunedThrough: maxPruned });
    expect(await readLogHorizon(a!.pool)).toMatchObject({ prunedThrough: maxPruned });

    // A second prune finds nothing more.
    expect((await pruneLog(a!.pool, { before, nodeId: a!.nodeId })).entries).toBe(0);
  });

  it('does not block writers: an insert commits while a prune is still running', async () => {
    const db = a!.database.db;
    // A few thousand superseded entries to prune, in small chunks so that the prune takes a while.
    await a!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'bulk', 2 FROM generate_series(1, 3000) g`);
    await a!.pool.query(`UPDATE teams SET name = 'bulk2' WHERE scouting_team_number = 2`);
    await ageLog(40);
    const before = new Date(Date.now() - 30 * 86_400_000);
    // Another session holds one superseded entry halfway through, so the prune is stuck on it (in its
    // chunk, the earlier chunks committed) for as long as this test wants.
    const holder = await a!.pool.connect();
    let pruned = false;
    let pruning: Promise<Awaited<ReturnType<typeof pruneLog>>> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT sequence FROM database_changes WHERE sequence = (SELECT sequence FROM database_changes WHERE operation = 'insert' ORDER BY sequence OFFSET 1500 LIMIT 1) FOR UPDATE`,
      );
      pruning = pruneLog(a!.pool, { before, nodeId: a!.nodeId, chunkSize: 200 });
      void pruning.then(() => {
        pruned = true;
      });
      await expect
        .poll(
          async () =>
            (await a!.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM database_changes%'`)).rowCount,
        )
        .toBe(1);
      const team = await db.team.create({ data: { teamNumber: 99999, name: 'during prune', scoutingTeamNumber: 3 } });
      expect(pruned).toBe(false);
      expect(await db.team.findUnique({ where: { id: team.id } })).not.toBeNull();
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    expect((await pruning!).entries).toBe(3000);
    // A prune asked for while another holds the prune lock does nothing and says so.
    const lockHolder = await a!.pool.connect();
    try {
      await lockHolder.query('SELECT pg_advisory_lock($1::bigint)', [String(PRUNE_LOCK_ID)]);
      expect(await pruneLog(a!.pool, { before, nodeId: a!.nodeId })).toMatchObject({ ran: false, entries: 0 });
    } finally {
      await lockHolder.query('SELECT pg_advisory_unlock($1::bigint)', [String(PRUNE_LOCK_ID)]);
      lockHolder.release();
    }
  });

  it('a prune cut short leaves the horizon saying exactly what is gone', async () => {
    await a!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'cut', 7 FROM generate_series(1, 4000) g`);
    await a!.pool.query(`UPDATE teams SET name = 'cut2' WHERE scouting_team_number = 7`);
    await ageLog(40);
    const positions = async () => new Set((await a!.pool.query<{ s: string }>(`SELECT sequence::text AS s FROM database_changes`)).rows.map((r) => r.s));
    const before = await positions();
    const horizonBefore = await readLogHorizon(a!.pool);
    const pruning = pruneLog(a!.pool, { before: new Date(Date.now() - 30 * 86_400_000), nodeId: a!.nodeId, chunkSize: 50 });
    pruning.catch(() => {}); // awaited below
    // Its connection is cut once it has deleted some, but not all.
    const watcher = createPool(a!.database.url, 1);
    try {
      for (;;) {
        const gone = Number((await watcher.query<{ n: string }>(`SELECT $1::int - count(*) AS n FROM database_changes`, [before.size])).rows[0]!.n);
        if (gone > 500) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      await watcher.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'WITH gone AS%' AND pid <> pg_backend_pid()`);
    } finally {
      await watcher.end();
    }
    await expect(pruning).rejects.toThrow();
    const after = await positions();
    const gone = [...before].filter((s) => !after.has(s)).map(BigInt);
    expect(gone.length).toBeGreaterThan(500);
    expect(gone.length).toBeLessThan(4000);
    const highest = gone.reduce((m, s) => (s > m ? s : m), BigInt(horizonBefore.prunedThrough));
    const horizon = await readLogHorizon(a!.pool);
    expect(horizon.prunedThrough).toBe(String(highest));
    expect(horizon.ownPrunedThrough).toBe(String(highest));
    // The lock went with the connection: the next prune runs and finishes the work.
    const rest = await pruneLog(a!.pool, { before: new Date(Date.now() - 30 * 86_400_000), nodeId: a!.nodeId });
    expect(rest.ran).toBe(true);
    expect(gone.length + rest.entries).toBe(4000);
  });

  it('an own change pruned here and relayed back is skipped as stale, not refused; a winning one is refused', async () => {
    // B holds A's whole log (as a peer would), then A prunes.
    const db = a!.database.db;
    const team = await db.team.create({ data: { teamNumber: 7, name: 'first', scoutingTeamNumber: 4 } });
    await db.team.update({ where: { id: team.id }, data: { name: 'second' } });
    const all = (await readChanges(a!.pool, { after: '0', limit: 100_000 })).changes;
    await applyTo(b!, all);
    const first = all.find((c) => c.record_id === team.id && c.operation === 'insert')!;
    await a!.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '40 days' WHERE record_id = $1`, [team.id]);
    await a!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1, 'newest', 5)`); // keeps the log's newest entry off this row
    await pruneLog(a!.pool, { before: new Date(Date.now() - 30 * 86_400_000), nodeId: a!.nodeId });
    const horizon = await readLogHorizon(a!.pool);
    expect(BigInt(horizon.ownPrunedThrough)).toBeGreaterThanOrEqual(BigInt(first.origin_sequence));
    const { rowCount } = await a!.pool.query(`SELECT 1 FROM database_changes WHERE origin_node_id = $1 AND origin_sequence = $2`, [
      a!.nodeId,
      first.origin_sequence,
    ]);
    expect(rowCount).toBe(0);

    // B relays it back: stale, nothing applied, nothing logged, no refusal.
    const logBefore = await a!.pool.query('SELECT count(*)::text AS n FROM database_changes');
    const result = await applyTo(a!, [first]);
    expect(result).toEqual({ received: 1, applied: 0, skipped_duplicate: 0, skipped_stale: 1 });
    expect((await a!.pool.query('SELECT count(*)::text AS n FROM database_changes')).rows).toEqual(logBefore.rows);
    expect((await db.team.findUniqueOrThrow({ where: { id: team.id } })).name).toBe('second');

    // The same identity made to win (a stamp past the standing version's) was never made here: refused.
    const forged: Change = { ...first, hlc: String(BigInt(Date.now()) * 65536n) };
    await expect(applyTo(a!, [forged])).rejects.toBeInstanceOf(IdentityConflictError);
    // An own identity above the pruned horizon that is not in the log is still refused.
    const unmade: Change = { ...first, record_id: randomUUID(), origin_sequence: String(BigInt(horizon.ownPrunedThrough) + 100000n) };
    unmade.change_data = { ...first.change_data!, id: unmade.record_id };
    await expect(applyTo(a!, [unmade])).rejects.toBeInstanceOf(IdentityConflictError);
  });

  it("another node's change pruned here and relayed again loses to the standing version", async () => {
    const db = b!.database.db;
    const team = await db.team.create({ data: { teamNumber: 8, name: 'b-first', scoutingTeamNumber: 6 } });
    await db.team.update({ where: { id: team.id }, data: { name: 'b-second' } });
    const fromB = (await readChanges(b!.pool, { after: '0', limit: 100_000, excludeOrigin: a!.nodeId })).changes.filter((c) => c.record_id === team.id);
    await applyTo(a!, fromB);
    await a!.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '40 days' WHERE record_id = $1`, [team.id]);
    await a!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (2, 'newest', 5)`);
    const pruned = await pruneLog(a!.pool, { before: new Date(Date.now() - 30 * 86_400_000), nodeId: a!.nodeId });
    expect(pruned.entries).toBeGreaterThanOrEqual(1);
    const result = await applyTo(a!, [fromB[0]!]);
    expect(result).toMatchObject({ applied: 0, skipped_stale: 1 });
    expect((await a!.database.db.team.findUniqueOrThrow({ where: { id: team.id } })).name).toBe('b-second');
  });
});
