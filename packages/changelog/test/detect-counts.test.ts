// Detection's count of what a peer lacks (SPEC I10) comes from per-block counts kept by triggers: it must
// be exactly the plain count of the log, whatever wrote or removed the entries — captured writes, applied
// batches (COPY), scope exits, deletes (a prune), a truncate — for any cursor and origin.
import { describe, expect, it } from 'vitest';
import { applyBatch, measureBacklog, readChanges, type TeamScope } from '@catchup/changelog';
import { MAX_CLOCK_SKEW_MS, useNodes } from './nodes.ts';

const [node, other] = await useNodes(2, 'counts');
const pool = node!.pool;

async function plainCount(cursor: string, origin: string | null): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM database_changes WHERE sequence > $1::bigint AND ($2::text IS NULL OR origin_node_id <> $2::text) AND NOT scope_exit',
    [cursor, origin],
  );
  return rows[0]!.n;
}

async function expectExactCounts(): Promise<void> {
  const { rows } = await pool.query<{ latest: string }>('SELECT coalesce(max(sequence), 0)::text AS latest FROM database_changes');
  const latest = Number(rows[0]!.latest);
  const cursors = [0, 1, 4095, 4096, 4097, 8191, 8192, Math.floor(latest / 2), latest - 1, latest, latest + 10].filter((c) => c >= 0);
  for (const origin of [null, node!.nodeId, other!.nodeId, 'nobody']) {
    for (const cursor of cursors) {
      const { missing } = await measureBacklog(pool, { sentCursor: String(cursor), peerNodeId: origin });
      expect(missing, `cursor ${cursor}, origin ${origin}`).toBe(await plainCount(String(cursor), origin));
    }
  }
}

describe('detection counts from per-block counts', () => {
  it('equal the plain count after captured writes and applied batches', async () => {
    await pool.query(`INSERT INTO scouting_data (team_number, match_number, scouting_team_number) SELECT g, 1, 254 FROM generate_series(1, 6000) g`);
    await other!.pool.query(`INSERT INTO scouting_data (team_number, match_number, scouting_team_number) SELECT g, 2, 1678 FROM generate_series(1, 5000) g`);
    const theirs = (await readChanges(other!.pool, { after: '0', limit: 10_000 })).changes;
    for (let i = 0; i < theirs.length; i += 2000) {
      await applyBatch(pool, theirs.slice(i, i + 2000), { nodeId: node!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS });
    }
    await pool.query(`UPDATE scouting_data SET match_number = 3 WHERE team_number % 7 = 0`);
    await expectExactCounts();
  });

  it('leave out scope exits, and follow deletes (a prune) and a truncate', async () => {
    // Exits: the other node's rows moving out of team 254's scope, read for a scoped peer and applied here.
    await other!.pool.query('UPDATE scouting_data SET scouting_team_number = 1678 WHERE team_number % 3 = 0');
    const scope: TeamScope = { teams: [1678], columns: new Map([['scouting_data', 'scouting_team_number']]) };
    await other!.pool.query('UPDATE scouting_data SET scouting_team_number = 971 WHERE team_number % 5 = 0');
    const scoped = (await readChanges(other!.pool, { after: '0', limit: 10_000, scope })).changes;
    expect(scoped.some((c) => c.scope_exit)).toBe(true);
    await applyBatch(pool, scoped, { nodeId: node!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS });
    expect((await pool.query('SELECT count(*)::int AS n FROM database_changes WHERE scope_exit')).rows[0].n).toBeGreaterThan(0);
    await expectExactCounts();

    await pool.query('DELETE FROM database_changes WHERE sequence % 11 = 0 OR sequence BETWEEN 4000 AND 4200');
    await expectExactCounts();

    await pool.query('TRUNCATE database_changes');
    expect((await pool.query('SELECT count(*)::int AS n FROM change_log_counts')).rows[0].n).toBe(0);
    await pool.query(`INSERT INTO scouting_data (team_number, match_number, scouting_team_number) VALUES (1, 1, 254)`);
    await expectExactCounts();
  });

  it('refuses an update of an entry’s position, origin or scope exit, which would leave the counts wrong', async () => {
    await expect(pool.query('UPDATE database_changes SET origin_node_id = $1', ['elsewhere'])).rejects.toThrow(/are not updated/);
  });
});
