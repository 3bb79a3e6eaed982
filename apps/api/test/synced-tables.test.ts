// Synced tables at run time, over HTTP between real nodes: putting existing tables under sync (their rows
// travel, to a third node too; the same rows on two nodes converge without churn), refusals that change
// nothing, a schema difference between nodes that is reported precisely and heals by itself, and a
// baseline interrupted midway that the next detection finishes.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { installCapture, logBaselineChunk } from '@catchup/changelog';
import type { CatchupResult } from '@catchup/engine';
import { runCli } from '../../cli/src/cli.ts';
import { registerPeer, useApiNodes, type TestApiNode } from './nodes.ts';
import { tableRows, until } from './two-nodes.ts';

const [a, b, c] = (await useApiNodes(3, 'tables')) as [TestApiNode, TestApiNode, TestApiNode];
// A line: a — b — c. What a writes reaches c through b.
const bOnA = await registerPeer(a, b);
await registerPeer(b, a);
await registerPeer(b, c);
await registerPeer(c, b);

const sql = (node: TestApiNode, text: string, values?: unknown[]) => node.ctx.pool.query(text, values);
const json = async <T>(res: Response) => (await res.json()) as T;

async function scan(node: TestApiNode): Promise<CatchupResult[]> {
  const res = await node.call('/api/sync/catchup/scan', { method: 'POST', json: {} });
  expect(res.status).toBe(200);
  return (await json<{ results: CatchupResult[] }>(res)).results;
}

async function cli(node: TestApiNode, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { CATCHUP_URL: node.url, SYNC_API_KEY: node.apiKey } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** What refusals must leave alone: the synced set, the log, the sync log. */
async function footprint(node: TestApiNode) {
  const { rows } = await sql(
    node,
    `SELECT (SELECT count(*)::int FROM database_changes) AS log,
            (SELECT count(*)::int FROM sync_logs) AS sync_logs,
            (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'catchup_capture') AS synced`,
  );
  return rows[0];
}

interface TableEntry {
  name: string;
  standing: string;
  rows: number | null;
  rows_estimated: boolean;
  log_entries: number;
  baseline_rows_logged: number | null;
  problem: string | null;
}
const listTables = async (node: TestApiNode) => (await json<{ tables: TableEntry[] }>(await node.call('/api/sync/tables'))).tables;

describe('the tables API', () => {
  it('is behind the API key', async () => {
    expect((await fetch(`${a.url}/api/sync/tables`)).status).toBe(401);
    expect(
      (await fetch(`${a.url}/api/sync/tables`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"teams"}' })).status,
    ).toBe(401);
    expect((await fetch(`${a.url}/api/sync/tables/teams`, { method: 'DELETE' })).status).toBe(401);
  });

  it('is in the OpenAPI document with its schemas', async () => {
    const spec = await json<{
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name: string }[]; responses: Record<string, unknown> }>>;
    }>(await fetch(`${a.url}/docs/json`));
    expect(Object.keys(spec.paths['/api/sync/tables']!).sort()).toEqual(['get', 'post']);
    expect(spec.paths['/api/sync/tables']!.post!.requestBody).toBeDefined();
    expect(Object.keys(spec.paths['/api/sync/tables']!.post!.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '404', '409']));
    expect(spec.paths['/api/sync/tables/{name}']!.delete!.parameters!.map((p) => p.name)).toEqual(['name']);
  });

  it('refuses bad input, naming the field, and changes nothing', async () => {
    const before = await footprint(a);
    const post = (body: unknown) => a.call('/api/sync/tables', { method: 'POST', json: body });
    const refusals: [Promise<Response>, number, RegExp][] = [
      [post({}), 400, /^body\.name: /],
      [post({ name: 'Pit Scouting' }), 400, /^body\.name: a plain lower-case table name/],
      [post({ name: 'teams', colour: 'red' }), 400, /^body: .*colour/],
      [post({ name: 'sync_logs' }), 400, /^table "sync_logs" cannot be synced: it is one of the sync system tables$/],
      [post({ name: 'database_changes' }), 400, /one of the sync system tables/],
      [post({ name: 'no_such_table' }), 404, /^table "no_such_table" not found in schema public$/],
      [a.call('/api/sync/tables/no_such_table', { method: 'DELETE' }), 404, /^table "no_such_table" is not synced$/],
      [a.call('/api/sync/tables/Bad%20Name', { method: 'DELETE' }), 400, /^params\.name: /],
    ];
    for (const [response, status, message] of refusals) {
      const res = await response;
      const body = await json<{ statusCode: number; message: string }>(res);
      expect({ status: res.status, message: body.message }).toEqual({ status, message: expect.stringMatching(message) });
    }
    // The command line says the same.
    expect(await cli(a, 'tables', 'add')).toMatchObject({ code: 1, err: 'tables add needs a table NAME' });
    expect(await cli(a, 'tables', 'add', 'sync_servers')).toMatchObject({ code: 1, err: expect.stringMatching(/^400: table "sync_servers" cannot be synced/) });
    expect(await cli(a, 'tables', 'remove', 'no_such_table')).toMatchObject({ code: 1, err: '404: table "no_such_table" is not synced' });
    expect(await footprint(a)).toEqual(before);
  });

  it('refuses a table with a serial key, saying what to run', async () => {
    await sql(a, `CREATE TABLE legacy_pits (id serial PRIMARY KEY, notes text)`);
    await sql(a, `INSERT INTO legacy_pits (notes) VALUES ('fast'), ('slow')`);
    const before = await footprint(a);
    const res = await a.call('/api/sync/tables', { method: 'POST', json: { name: 'legacy_pits' } });
    const expected =
      'table "legacy_pits" cannot be synced: its primary key id is a serial integer, which two nodes inserting while apart can both pick; ' +
      'add a uuid key column: ALTER TABLE legacy_pits RENAME COLUMN id TO legacy_id; ' +
      'ALTER TABLE legacy_pits DROP CONSTRAINT legacy_pits_pkey, ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()';
    expect(res.status).toBe(400);
    expect((await json<{ message: string }>(res)).message).toBe(expected);
    expect(await footprint(a)).toEqual(before);
    expect((await listTables(a)).find((t) => t.name === 'legacy_pits')).toEqual({
      name: 'legacy_pits',
      standing: 'not synced',
      rows: 2,
      rows_estimated: false,
      log_entries: 0,
      baseline_rows_logged: null,
      problem: expected.slice('table "legacy_pits" cannot be synced: '.length),
    });
  });
});

describe('putting existing tables under sync', () => {
  const create = `CREATE TABLE pit_scouting (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), team_number int NOT NULL, drivetrain text)`;

  it('sends the rows two nodes held before to each other and on to a third', async () => {
    for (const node of [a, b, c]) await sql(node, create);
    await sql(a, `INSERT INTO pit_scouting (team_number, drivetrain) SELECT g, 'swerve' FROM generate_series(1, 30) g`);
    await sql(b, `INSERT INTO pit_scouting (team_number, drivetrain) SELECT g, 'tank' FROM generate_series(101, 120) g`);

    const added = await a.call('/api/sync/tables', { method: 'POST', json: { name: 'pit_scouting' } });
    expect(added.status).toBe(201);
    expect(await added.json()).toEqual({ name: 'pit_scouting', added: true, baseline_rows: 30 });
    expect(await cli(b, 'tables', 'add', 'pit_scouting')).toEqual({ code: 0, out: 'pit_scouting is synced now; 20 existing row(s) logged', err: '' });
    expect(await json(await c.call('/api/sync/tables', { method: 'POST', json: { name: 'pit_scouting' } }))).toEqual({
      name: 'pit_scouting',
      added: true,
      baseline_rows: 0,
    });
    // Again: nothing changes.
    const again = await a.call('/api/sync/tables', { method: 'POST', json: { name: 'pit_scouting' } });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ name: 'pit_scouting', added: false, baseline_rows: 0 });
    expect((await listTables(a)).find((t) => t.name === 'pit_scouting')).toEqual({
      name: 'pit_scouting',
      standing: 'synced',
      rows: 30,
      rows_estimated: false,
      log_entries: 30,
      baseline_rows_logged: null,
      problem: null,
    });

    expect((await scan(a)).every((r) => r.success)).toBe(true);
    expect((await scan(b)).every((r) => r.success)).toBe(true);
    const onA = await tableRows(a, 'pit_scouting');
    expect(onA).toHaveLength(50);
    expect(await tableRows(b, 'pit_scouting')).toEqual(onA);
    expect(await tableRows(c, 'pit_scouting')).toEqual(onA);

    const listed = await cli(c, 'tables', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^name\s+standing\s+rows\s+log entries$/m);
    expect(listed.out).toMatch(/^pit_scouting\s+synced\s+50\s+50$/m);
    const logged = await a.ctx.db.syncLog.findMany({ where: { operation: 'table added' } });
    expect(logged.map((l) => ({ serverId: l.serverId, status: l.status, details: l.details }))).toEqual([
      { serverId: null, status: 'completed', details: 'pit_scouting put under sync; 30 existing row(s) logged as its baseline' },
    ]);
  });

  it('converges when two nodes put the same rows under sync: one version of each row, nothing resent', async () => {
    const ids = Array.from({ length: 40 }, () => randomUUID());
    for (const node of [a, b]) {
      await sql(node, `CREATE TABLE pit_photos (id uuid PRIMARY KEY, caption text NOT NULL)`);
      await sql(node, `INSERT INTO pit_photos (id, caption) SELECT id, 'photo ' || ord FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord)`, [ids]);
      expect((await cli(node, 'tables', 'add', 'pit_photos')).out).toBe('pit_photos is synced now; 40 existing row(s) logged');
    }
    // c syncs it too (empty), or it would refuse b's relay of these rows.
    await sql(c, `CREATE TABLE pit_photos (id uuid PRIMARY KEY, caption text NOT NULL)`);
    expect((await cli(c, 'tables', 'add', 'pit_photos')).out).toBe('pit_photos is synced now; 0 existing row(s) logged');
    const before = await tableRows(a, 'pit_photos');
    const [result] = (await scan(a)).filter((r) => r.server_id === bOnA);
    // Each node got the other's 40 inserts: per row, the one with the newer stamp replaced an identical row
    // on the node whose own insert it beat, and lost on the other.
    expect(result).toMatchObject({ success: true, database_changes: { sent: 40, received: 40 } });
    expect(result!.database_changes.applied + result!.database_changes.skipped_stale).toBe(40);
    expect(await tableRows(a, 'pit_photos')).toEqual(before);
    expect(await tableRows(b, 'pit_photos')).toEqual(before);
    for (const node of [a, b]) expect((await listTables(node)).find((t) => t.name === 'pit_photos')).toMatchObject({ rows: 40, log_entries: 80 });
    // Nothing is left to send either way: the next scan finds no work.
    expect(await scan(a)).toEqual([]);
  });
});

describe('a column one node has and its peer lacks', () => {
  it('stops the flow with an error naming table, column and peer, applies nothing, and heals once the peer has the column', async () => {
    const cursorBefore = (await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bOnA } })).sentCursor;
    await sql(a, `ALTER TABLE pit_scouting ADD COLUMN robot_colour text`);
    await a.ctx.db.team.create({ data: { teamNumber: 971, name: 'Spartan', scoutingTeamNumber: 1 } });
    await sql(a, `INSERT INTO pit_scouting (team_number, drivetrain, robot_colour) VALUES (971, 'swerve', 'red')`);
    const teamsOnB = await tableRows(b, 'teams');

    const [refused] = (await scan(a)).filter((r) => r.server_id === bOnA);
    expect(refused!.success).toBe(false);
    const sendError = new RegExp(
      `^batch-send \\(\\d+, \\d+\\]: ${b.url} \\(log stream\\) answered 400: change #\\d+ \\([^)]+\\): ` +
        'change_data\\.robot_colour: unknown column of pit_scouting on the receiving node \\(add the column there\\)$',
    );
    expect(refused!.errors).toEqual([expect.stringMatching(sendError)]);
    // Nothing of the batch was applied on b, and a's cursor for b stayed before it.
    expect(await tableRows(b, 'teams')).toEqual(teamsOnB);
    expect(await tableRows(b, 'pit_scouting')).toHaveLength(50);
    expect((await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bOnA } })).sentCursor).toBe(cursorBefore);
    // The operator sees it in a's status (the peer, its last error, its missing changes) and in the sync log.
    const status = await json<{
      servers_needing_catchup: { name: string; missing_changes: number; last_error: string | null }[];
      recent_catchup_logs: { server_name: string | null; status: string; error_message: string | null }[];
    }>(await a.call('/api/sync/catchup/status'));
    expect(status.servers_needing_catchup).toEqual([
      expect.objectContaining({ name: b.name, missing_changes: 2, last_error: expect.stringMatching(sendError) }),
    ]);
    expect(status.recent_catchup_logs[0]).toMatchObject({ server_name: b.name, status: 'failed', error_message: expect.stringMatching(sendError) });

    // b reading a's log meets the same change and refuses it too, naming a as where it came from.
    const [pulled] = (await scan(b)).filter((r) => r.server_name === a.name);
    expect(pulled!.errors).toEqual([
      expect.stringMatching(
        /^batch-receive \(\d+, \d+\]: change #\d+ \([^)]+\): change_data\.robot_colour: unknown column of pit_scouting on the receiving node/,
      ),
    ]);
    expect(await tableRows(b, 'teams')).toEqual(teamsOnB);

    // The receivers get the column (c too: b relays to it); the next scans catch up from where they stopped.
    for (const node of [b, c]) await sql(node, `ALTER TABLE pit_scouting ADD COLUMN robot_colour text`);
    // (A node re-reads its catalog at most 5 s after a change: until then it still refuses the column.)
    await until('scans to succeed', async () => (await scan(a)).every((r) => r.success) && (await scan(b)).every((r) => r.success), 20_000, 500);
    const onA = await tableRows(a, 'pit_scouting');
    expect(onA).toHaveLength(51);
    expect(await tableRows(b, 'pit_scouting')).toEqual(onA);
    expect(await tableRows(c, 'pit_scouting')).toEqual(onA);
    expect(await tableRows(c, 'teams')).toEqual(await tableRows(a, 'teams'));
    const healed = await json<{ servers_needing_catchup: unknown[] }>(await a.call('/api/sync/catchup/status'));
    expect(healed.servers_needing_catchup).toEqual([]);
  });
});

describe('taking a table out of sync', () => {
  it('stops capturing its writes, keeps its log, and is recorded', async () => {
    const res = await a.call('/api/sync/tables/pit_photos', { method: 'DELETE' });
    expect(res.status).toBe(204);
    await sql(a, `INSERT INTO pit_photos (id, caption) VALUES (gen_random_uuid(), 'unsynced')`);
    expect((await listTables(a)).find((t) => t.name === 'pit_photos')).toMatchObject({ standing: 'not synced', rows: 41, log_entries: 80 });
    expect(await cli(a, 'tables', 'remove', 'pit_photos')).toMatchObject({ code: 1, err: '404: table "pit_photos" is not synced' });
    const removed = await a.ctx.db.syncLog.findMany({ where: { operation: 'table removed' } });
    expect(removed.map((l) => l.details)).toEqual(['pit_photos taken out of sync; writes to it are no longer captured']);
  });
});

describe('a baseline interrupted midway', () => {
  it('shows as in progress and is finished by the next detection, then travels', async () => {
    const create = `CREATE TABLE pit_drawings (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), sketch text)`;
    for (const node of [a, b]) await sql(node, create);
    await sql(a, `INSERT INTO pit_drawings (sketch) SELECT 'sketch ' || g FROM generate_series(1, 2500) g`);
    expect((await b.call('/api/sync/tables', { method: 'POST', json: { name: 'pit_drawings' } })).status).toBe(201);
    // a's node stopped after the trigger and the first chunk of its baseline.
    await installCapture(a.ctx.pool, 'pit_drawings');
    await logBaselineChunk(a.ctx.pool, 'pit_drawings', 1000);
    expect((await listTables(a)).find((t) => t.name === 'pit_drawings')).toMatchObject({
      standing: 'baseline in progress',
      baseline_rows_logged: 1000,
      log_entries: 1000,
    });

    expect((await scan(a)).every((r) => r.success)).toBe(true);
    expect((await listTables(a)).find((t) => t.name === 'pit_drawings')).toMatchObject({ standing: 'synced', baseline_rows_logged: null, log_entries: 2500 });
    const added = await a.ctx.db.syncLog.findMany({ where: { operation: 'table added', details: { startsWith: 'pit_drawings' } } });
    expect(added.map((l) => l.details)).toEqual(['pit_drawings put under sync; its interrupted baseline was finished, 2500 existing row(s) logged in all']);
    expect(await tableRows(b, 'pit_drawings')).toEqual(await tableRows(a, 'pit_drawings'));
  });
});
