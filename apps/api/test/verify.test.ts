// Verify and repair between real nodes (issue #20 item 2): GET /api/sync/digest and POST /api/sync/verify.
// Identical nodes are level; a row changed, removed or added outside capture is named, and so is a file
// only one side holds; repair re-logs the winning rows and a catch-up heals the peer; a scoped peer is
// refused digests; bad input is answered 400/404.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { tableDigests } from '@catchup/changelog';
import type { VerifyReport } from '@catchup/engine';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { writeRows } from './two-nodes.ts';

const [a, b, c] = (await useApiNodes(3, 'verify')) as [TestApiNode, TestApiNode, TestApiNode];

async function verify(on: TestApiNode, serverId: number, repair = false): Promise<VerifyReport> {
  const res = await on.call('/api/sync/verify', { method: 'POST', json: { server_id: serverId, repair } });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as VerifyReport;
}

async function scan(on: TestApiNode, serverId: number): Promise<void> {
  const res = await on.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
  const body = (await res.json()) as { results: { success: boolean; errors: string[] }[] };
  expect(body.results[0], JSON.stringify(body)).toMatchObject({ success: true });
}

/** Writes outside capture, as the applier does: no log entry (a row changed with the trigger out of the way). */
async function uncaptured(node: TestApiNode, sql: string, values: unknown[] = []): Promise<void> {
  const client = await node.ctx.pool.connect();
  try {
    await client.query(`BEGIN; SET LOCAL catchup.applying = 'on'`);
    await client.query(sql, values);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

const differing = (report: VerifyReport) =>
  report.tables.flatMap((t) => t.differing_rows.map((r) => ({ table: t.table_name, id: r.id, kind: r.kind, action: r.action })));

describe('verify and repair', () => {
  let bOnA = 0;
  let aOnB = 0;
  const ids: string[] = [];

  it('finds identical nodes level, by digests', async () => {
    await writeRows(a, 3000, 'verify');
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 't' || g, 254 FROM generate_series(1, 5) g`);
    bOnA = await registerPeer(a, b);
    aOnB = await registerPeer(b, a);
    await scan(a, bOnA);
    const report = await verify(a, bOnA);
    expect(report).toMatchObject({ level: true, repair: null, next_step: null });
    expect(report.tables.find((t) => t.table_name === 'scouting_data')).toMatchObject({ synced: 'both', rows_here: 3000, rows_there: 3000, level: true });
    expect(report.folders.map((f) => f.directory)).toEqual(['instance', 'config', 'uploads']);
    expect(report.folders.every((f) => f.level)).toBe(true);
    // The digest itself: 256 first-level buckets of 3,000 rows, and equal digests on both nodes.
    const here = (await (await a.call('/api/sync/digest')).json()) as { tables: { table_name: string; digest: string; buckets: unknown[] }[] };
    const there = (await (await b.call('/api/sync/digest')).json()) as typeof here;
    const table = (d: typeof here) => d.tables.find((t) => t.table_name === 'scouting_data')!;
    expect(table(here).buckets).toHaveLength(256);
    expect(table(here).digest).toBe(table(there).digest);
    const { rows } = await a.ctx.pool.query<{ id: string }>('SELECT id::text AS id FROM scouting_data ORDER BY id LIMIT 3');
    ids.push(...rows.map((r) => r.id));
  });

  it('names a row changed, a row removed and a row added outside capture, and a file only one side holds', async () => {
    const [changed, removed] = ids as [string, string];
    await uncaptured(b, `UPDATE scouting_data SET scouter = 'corrupted' WHERE id = $1`, [changed]);
    await uncaptured(b, 'DELETE FROM scouting_data WHERE id = $1', [removed]);
    const added = '00000000-0000-4000-8000-000000000001';
    await uncaptured(
      b,
      `INSERT INTO scouting_data (id, team_number, match_number, scouting_team_number, scouter, data) VALUES ($1, 1, 1, 1678, 'extra', '{}')`,
      [added],
    );
    await mkdir(path.join(a.ctx.config.dataDir, 'uploads'), { recursive: true });
    await writeFile(path.join(a.ctx.config.dataDir, 'uploads', 'extra.jpg'), 'only on a');

    const report = await verify(a, bOnA);
    expect(report.level).toBe(false);
    expect(differing(report)).toEqual(
      [
        { table: 'scouting_data', id: changed, kind: 'differs', action: 'relog' },
        { table: 'scouting_data', id: removed, kind: 'only_here', action: 'relog' },
        { table: 'scouting_data', id: added, kind: 'only_there', action: 'repair_on_peer' },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
    const row = report.tables.find((t) => t.table_name === 'scouting_data')!.differing_rows.find((r) => r.id === changed)!;
    expect(row.here.matches_log).toBe(true);
    expect(row.there.matches_log).toBe(false); // b's table no longer holds what its log says
    expect(row.here.version).toEqual(row.there.version);
    expect(report.tables.find((t) => t.table_name === 'teams')!.level).toBe(true);
    const uploads = report.folders.find((f) => f.directory === 'uploads')!;
    expect(uploads).toMatchObject({ level: false, differing_files: [{ path: 'extra.jpg', kind: 'only_here' }] });
    expect(report.repair).toBeNull();
    expect(report.next_step).toMatch(/verify --repair/);
  });

  it('repairs: the winning rows are re-logged here, a catch-up heals the peer, and a repair on the peer brings its extra row', async () => {
    const [changed] = ids as [string];
    const before = (await a.ctx.pool.query<{ n: string }>('SELECT max(sequence)::text AS n FROM database_changes')).rows[0]!.n;
    const repaired = await verify(a, bOnA, true);
    expect(repaired.repair).toEqual({ relogged_rows: 2, relogged_deletes: 0, left: 1 });
    // New entries under this node's own identity, nothing else (I12).
    const { rows: entries } = await a.ctx.pool.query<{ origin_node_id: string; origin_sequence: string; sequence: string; operation: string }>(
      'SELECT origin_node_id, origin_sequence::text, sequence::text, operation FROM database_changes WHERE sequence > $1',
      [before],
    );
    expect(entries).toHaveLength(2);
    for (const e of entries) expect(e).toMatchObject({ origin_node_id: a.ctx.engine.nodeId, origin_sequence: e.sequence, operation: 'update' });
    expect((await a.call('/api/sync/logs?kind=audit&operation=verify%20repair').then((r) => r.json())) as unknown).toMatchObject({
      logs: [expect.objectContaining({ operation: 'verify repair' })],
    });

    await scan(a, bOnA);
    const after = await verify(a, bOnA);
    expect(differing(after)).toEqual([{ table: 'scouting_data', id: '00000000-0000-4000-8000-000000000001', kind: 'only_there', action: 'repair_on_peer' }]);
    expect((await b.ctx.pool.query('SELECT scouter FROM scouting_data WHERE id = $1', [changed])).rows[0].scouter).toBe('verify');
    expect(after.folders.every((f) => f.level)).toBe(true); // the scan carried the file

    // On b, the extra row is its own to log; b's catch-up carries it to a.
    const fromB = await verify(b, aOnB, true);
    expect(fromB.repair).toEqual({ relogged_rows: 1, relogged_deletes: 0, left: 0 });
    await scan(b, aOnB);
    expect(await verify(a, bOnA)).toMatchObject({ level: true });
  });

  it('re-logs a delete this node holds, and leaves a row the peer holds newer to a catch-up', async () => {
    const [, , third] = ids as [string, string, string];
    await a.ctx.pool.query('DELETE FROM scouting_data WHERE id = $1', [third]); // captured: a's log says deleted
    await uncaptured(b, `UPDATE scouting_data SET scouter = 'also corrupted' WHERE id = $1`, [third]); // b never hears of the delete yet
    // From b: a's log holds the newer version (the delete): a catch-up brings it, b's repair leaves it.
    const fromB = await verify(b, aOnB, true);
    expect(differing(fromB)).toEqual([{ table: 'scouting_data', id: third, kind: 'only_here', action: 'catch_up' }]);
    expect(fromB.repair).toEqual({ relogged_rows: 0, relogged_deletes: 0, left: 1 });
    // From a: the delete is the winner, re-logged so that it goes again whatever b saw.
    const fromA = await verify(a, bOnA, true);
    expect(differing(fromA)).toEqual([{ table: 'scouting_data', id: third, kind: 'only_there', action: 'relog_delete' }]);
    expect(fromA.repair).toEqual({ relogged_rows: 0, relogged_deletes: 1, left: 0 });
    await scan(a, bOnA);
    expect(await verify(a, bOnA)).toMatchObject({ level: true });
  });

  it('digests equal rows equally whatever the session\u2019s time zone, interval style and float digits', async () => {
    const odd = new pg.Pool({
      connectionString: a.ctx.config.databaseUrl,
      max: 1,
      options: '-c TimeZone=Asia/Kolkata -c IntervalStyle=iso_8601 -c extra_float_digits=0',
    });
    try {
      const { rows } = await odd.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`);
      expect(rows[0]!.tz).toBe('Asia/Kolkata');
      // scouting_data's updated_at (timestamptz) would print as +05:30 there without the fixed settings.
      expect(await tableDigests(odd)).toEqual(await tableDigests(a.ctx.pool));
    } finally {
      await odd.end();
    }
  });

  it('drills down by bucket and lists rows and standings', async () => {
    const top = (await (await a.call('/api/sync/digest')).json()) as { tables: { table_name: string; buckets: { bucket: string; rows: number }[] }[] };
    const bucket = top.tables.find((t) => t.table_name === 'scouting_data')!.buckets[0]!;
    const sub = (await (await a.call(`/api/sync/digest?table=scouting_data&bucket=${bucket.bucket}`)).json()) as { buckets: { rows: number }[] };
    expect(sub.buckets.reduce((n, x) => n + x.rows, 0)).toBe(bucket.rows);
    const rows = (await (await a.call(`/api/sync/digest?table=scouting_data&bucket=${bucket.bucket}&rows=true`)).json()) as { rows: { id: string }[] };
    expect(rows.rows).toHaveLength(bucket.rows);
    expect(rows.rows.every((r) => r.id.startsWith(bucket.bucket))).toBe(true);
    const id = rows.rows[0]!.id;
    const standing = (await (await a.call(`/api/sync/digest?table=scouting_data&ids=${id}`)).json()) as { standings: unknown[] };
    expect(standing.standings).toEqual([{ id, digest: expect.any(String), version: expect.objectContaining({ node: expect.any(String) }), matches_log: true }]);
  });

  it('refuses digests to a peer with a team scope, and verify of a peer scoped here', async () => {
    const added = (await (
      await a.call('/api/sync/servers', {
        method: 'POST',
        json: { name: c.name, host: '127.0.0.1', port: Number(new URL(c.url).port), issue_credential: true, team_scope: [254] },
      })
    ).json()) as { id: number; credential: { token: string } };
    const refused = await fetch(`${a.url}/api/sync/digest`, { headers: { authorization: `Bearer ${added.credential.token}` } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toMatch(/team scope/);
    // A peer credential opens the digest (peer API), never verify (admin API).
    const asPeer = await fetch(`${a.url}/api/sync/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${added.credential.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ server_id: added.id }),
    });
    expect(asPeer.status).toBe(403);
    const scoped = await a.call('/api/sync/verify', { method: 'POST', json: { server_id: added.id } });
    expect(scoped.status).toBe(409);
    // c presents that credential: a refuses it, and c's verify says so.
    const aOnC = await registerPeer(c, a, { api_key: added.credential.token });
    const fromC = await c.call('/api/sync/verify', { method: 'POST', json: { server_id: aOnC } });
    expect(fromC.status).toBe(502);
    expect(((await fromC.json()) as { message: string }).message).toMatch(/403/);
  });

  it('answers bad input with 400 and unknown things with 404', async () => {
    const status = async (res: Promise<Response>) => (await res).status;
    expect(await status(a.call('/api/sync/verify', { method: 'POST', json: { server_id: 99_999 } }))).toBe(404);
    const bad = await a.call('/api/sync/verify', { method: 'POST', json: { server_id: 'x' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/server_id/);
    expect(await status(a.call('/api/sync/verify', { method: 'POST', json: { server_id: bOnA, repair: 'yes' } }))).toBe(400);
    expect(await status(a.call('/api/sync/digest?table=nope&bucket='))).toBe(404);
    expect(await status(a.call('/api/sync/digest?table=scouting_data'))).toBe(400);
    expect(await status(a.call('/api/sync/digest?table=scouting_data&bucket=abc'))).toBe(400);
    expect(await status(a.call('/api/sync/digest?table=scouting_data&bucket=ABCD'))).toBe(400);
    expect(await status(a.call('/api/sync/digest?table=scouting_data&bucket=abcdef12'))).toBe(400);
    expect(await status(a.call('/api/sync/digest?table=scouting_data&ids=not-a-uuid'))).toBe(400);
    expect(await status(a.call('/api/sync/digest?bucket=ab'))).toBe(400);
    const spec = (await (await fetch(`${a.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(spec.paths['/api/sync/digest']).toHaveProperty('get');
    expect(spec.paths['/api/sync/verify']).toHaveProperty('post');
    // An unreachable peer: 502 with the reason.
    const gone = (await a.ctx.db.syncServer.create({ data: { name: 'verify-gone', host: '127.0.0.1', port: 9, apiKey: 'k' } })).id;
    const unreachable = await a.call('/api/sync/verify', { method: 'POST', json: { server_id: gone } });
    expect(unreachable.status).toBe(502);
    expect(((await unreachable.json()) as { message: string }).message).toMatch(/unreachable/);
  });
});
