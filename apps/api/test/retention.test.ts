// Retention and full baselines between two real nodes (SPEC I11): a prune on demand answers what it
// removed; a peer offline past retention is caught up from the retained log — rows deleted while it was
// away deleted, its own offline writes kept, both directions — and the run says it was a full baseline.
import { describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { readChanges } from '@catchup/changelog';
import { call, latestSequence, until, useTwoNodes } from './two-nodes.ts';

const pair = await useTwoNodes('retain', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '60' });
const { a } = pair;
const apiA = call(a, pair.specA.key);

const teams = async (pool: { query: (q: string) => Promise<{ rows: unknown[] }> }) =>
  (await pool.query(`SELECT id, name, team_number FROM teams ORDER BY id`)).rows;
const age = (pool: { query: (q: string) => Promise<unknown> }, days: number) =>
  pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '${days} days'`);

interface PeerStatus {
  name: string;
  needs_full_baseline: boolean;
  days_until_full_baseline: number | null;
}

async function statusOfB(): Promise<PeerStatus | undefined> {
  const body = (await (await apiA('/api/sync/catchup/status')).json()) as { servers_needing_catchup: PeerStatus[] };
  return body.servers_needing_catchup.find((p) => p.name === pair.specB.name);
}

async function scanA() {
  const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: Record<string, unknown>[] }).results[0]!;
}

describe('retention and full baselines', () => {
  it('a peer offline past retention converges by a full baseline, both directions', async () => {
    // 20 teams written on A, caught up to B.
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'team ' || g, 1 FROM generate_series(0, 19) g`);
    expect(await scanA()).toMatchObject({ success: true, mode: 'incremental', database_changes: { sent: 20 } });
    const ids = (await a.ctx.pool.query<{ id: string }>(`SELECT id FROM teams ORDER BY team_number`)).rows.map((r) => r.id);

    // B goes away. A updates 10 teams (3 of them twice), deletes 5 and adds 5; B, on its own, adds 3,
    // updates one of them and deletes another.
    await pair.stopB();
    await a.ctx.pool.query(`UPDATE teams SET name = name || ' (A)' WHERE id = ANY($1::uuid[])`, [ids.slice(0, 10)]);
    await a.ctx.pool.query(`UPDATE teams SET name = name || ' (A again)' WHERE id = ANY($1::uuid[])`, [ids.slice(0, 3)]);
    await a.ctx.pool.query(`DELETE FROM teams WHERE id = ANY($1::uuid[])`, [ids.slice(10, 15)]);
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'new on A ' || g, 1 FROM generate_series(100, 104) g`);
    const offline = createPool(pair.specB.url, 1);
    await offline.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'new on B ' || g, 2 FROM generate_series(200, 202) g`);
    await offline.query(`UPDATE teams SET name = 'changed on B' WHERE team_number = 200`);
    await offline.query(`DELETE FROM teams WHERE team_number = 201`);

    // Before anything is old, B has the whole retention period left.
    const fresh = await statusOfB();
    expect(fresh).toMatchObject({ needs_full_baseline: false });
    expect(fresh!.days_until_full_baseline).toBeGreaterThan(29);

    // Both logs age past retention (40 days, max_catchup_days 30): B is about to fall behind.
    await age(a.ctx.pool, 40);
    await age(offline, 40);
    await offline.end();
    expect(await statusOfB()).toMatchObject({ needs_full_baseline: false, days_until_full_baseline: 0 });

    // Prune on demand, on both.
    const res = await apiA('/api/sync/maintenance/prune', { method: 'POST' });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { ran: boolean; removed: Record<string, number>; horizons: { pruned_through: string; own_pruned_through: string } };
    // The 15 inserts of updated or deleted teams and the first updates of the 3 updated twice.
    expect(report).toMatchObject({ ran: true, removed: { change_log_entries: 18, change_log_deletes: 0 } });
    expect(BigInt(report.horizons.pruned_through)).toBeGreaterThan(20n);
    expect(report.horizons.own_pruned_through).toBe(report.horizons.pruned_through);
    // Every row keeps its standing version; the tombstones stay.
    const left = await a.ctx.pool.query<{ rows: string; entries: string; deletes: string }>(
      `SELECT count(DISTINCT record_id)::text AS rows, count(*)::text AS entries, count(*) FILTER (WHERE operation = 'delete')::text AS deletes FROM database_changes`,
    );
    expect(left.rows[0]).toEqual({ rows: '25', entries: '25', deletes: '5' });
    expect(await statusOfB()).toMatchObject({ needs_full_baseline: true, days_until_full_baseline: 0 });
    const listed = (await (await apiA('/api/sync/servers')).json()) as { servers: PeerStatus[] };
    expect(listed.servers[0]).toMatchObject({ needs_full_baseline: true, days_until_full_baseline: 0 });

    const b = await pair.startB();
    const bPrune = (await (await call(b, pair.specB.key)('/api/sync/maintenance/prune', { method: 'POST' })).json()) as { removed: Record<string, number> };
    expect(bPrune.removed).toMatchObject({ change_log_entries: 2 }); // its inserts of the team it updated and of the one it deleted

    // B relays back one of A's own changes that A pruned (the insert of team 0): stale, not an alert.
    const relayed = (await readChanges(b.ctx.pool, { after: '0', limit: 1000 })).changes.find(
      (c) => c.origin_node_id === a.ctx.engine.nodeId && c.record_id === ids[0],
    );
    const posted = await apiA('/api/sync/changes', { method: 'POST', json: { changes: [relayed] } });
    expect(await posted.json()).toEqual({ received: 1, applied: 0, skipped_duplicate: 0, skipped_stale: 1 });

    // The catch-up: A sends its retained log to B and pulls B's, both full baselines, in pages of 2 (so
    // that both go page by page in row-key order, the pulled one after a first page in position order).
    expect((await apiA('/api/sync/config', { method: 'PUT', json: { catchup_batch_size: 2 } })).status).toBe(200);
    const result = await scanA();
    expect((await apiA('/api/sync/config', { method: 'PUT', json: { catchup_batch_size: 100 } })).status).toBe(200);
    expect(result).toMatchObject({
      success: true,
      mode: 'full baseline',
      full_baseline: { directions: ['send', 'receive'], rows_sent: 15, tombstones_sent: 5, rows_received: 2, tombstones_received: 1 },
    });
    expect(await teams(b.ctx.pool)).toEqual(await teams(a.ctx.pool));
    const names = (await a.ctx.pool.query<{ name: string }>(`SELECT name FROM teams ORDER BY team_number`)).rows.map((r) => r.name);
    expect(names).toHaveLength(20 - 5 + 5 + 2);
    expect(names).toContain('changed on B');
    expect(names).toContain('new on B 202');
    expect(names).not.toContain('new on B 201');
    expect(names).toContain('team 0 (A) (A again)');
    expect((await b.ctx.pool.query(`SELECT 1 FROM teams WHERE id = ANY($1::uuid[])`, [ids.slice(10, 15)])).rowCount).toBe(0);

    const logged = await a.ctx.db.syncLog.findFirstOrThrow({ where: { serverId: pair.bServerIdOnA, operation: 'catch-up sync' }, orderBy: { id: 'desc' } });
    expect(logged.details).toMatch(/^Full baseline \(sent 15 rows and 5 tombstones; received 2 rows and 1 tombstones\): Applied /);
    // The cursors reached the horizon and beyond; the next run is incremental again.
    const onA = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } });
    expect(onA.sentCursor).toBeGreaterThanOrEqual(BigInt(report.horizons.pruned_through));
    expect(BigInt(await latestSequence(a))).toBeGreaterThan(onA.sentCursor); // B's changes, applied here since
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (300, 'after the baseline', 1)`);
    expect(await scanA()).toMatchObject({ success: true, mode: 'incremental', database_changes: { sent: 1 } });
    expect(await statusOfB()).toBeUndefined();

    // B catches A up the same way, and nobody raised an integrity alert on the way.
    const scanB = await call(b, pair.specB.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(scanB.status).toBe(200);
    expect(await teams(b.ctx.pool)).toEqual(await teams(a.ctx.pool));
    for (const node of [a, b]) expect(await node.ctx.db.syncLog.count({ where: { operation: 'integrity alert' } })).toBe(0);
  }, 120_000);

  it('a prune removes old file tombstones and sync logs, keeping the newest of each peer and operation', async () => {
    const pool = a.ctx.pool;
    const tombstone = (path: string, days: number) =>
      pool.query(
        `INSERT INTO file_checksums (directory, path, sha256, size, mtime, change_seq, deleted, updated_at)
         VALUES ('uploads', $1, repeat('0', 64), 0, now(), nextval('file_checksums_change_seq'), true, now() - make_interval(days => $2))`,
        [path, days],
      );
    await tombstone('old-1.txt', 40);
    await tombstone('old-2.txt', 40);
    await tombstone('young.txt', 2);
    const oldLog = (operation: string) =>
      a.ctx.db.syncLog.create({ data: { serverId: pair.bServerIdOnA, operation, status: 'completed', startedAt: new Date(Date.now() - 40 * 86_400_000) } });
    for (let i = 0; i < 3; i++) await oldLog('catch-up sync');
    await oldLog('integrity alert'); // the newest alert about B: kept

    const report = (await (await apiA('/api/sync/maintenance/prune', { method: 'POST' })).json()) as { removed: Record<string, number> };
    expect(report.removed).toMatchObject({ change_log_entries: 0, file_tombstones: 2, sync_logs: 3 });
    const paths = (await pool.query<{ path: string }>(`SELECT path FROM file_checksums ORDER BY path`)).rows.map((r) => r.path);
    expect(paths).toEqual(['young.txt']);
    expect(await a.ctx.db.syncLog.count({ where: { serverId: pair.bServerIdOnA, operation: 'integrity alert' } })).toBe(1);
    // The prune itself is in the sync log.
    expect(await a.ctx.db.syncLog.count({ where: { operation: 'prune' } })).toBeGreaterThanOrEqual(1);
  });

  it('the scheduled prune runs as a job (every catchup_prune_interval seconds)', async () => {
    const prunes = () => a.ctx.db.syncLog.count({ where: { operation: 'prune' } });
    const before = await prunes();
    // Detection stays off (catchup_enabled false); schedules on, the prune every second.
    const res = await apiA('/api/sync/config', { method: 'PUT', json: { catchup_enabled: false, catchup_scheduler_enabled: true, catchup_prune_interval: 1 } });
    expect(res.status).toBe(200);
    expect(await a.ctx.queues.pruneSchedule()).toEqual({ every: 1000 });
    await until('a scheduled prune to be recorded', async () => (await prunes()) > before, 15_000);
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_scheduler_enabled: false } });
    expect(await a.ctx.queues.pruneSchedule()).toBeNull();
  });
});
