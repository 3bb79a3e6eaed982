// GET /api/sync/catchup/plan between real nodes (issue #20 item 4): what a catch-up would move, per table
// and direction and per folder, matches what the catch-up then moves; an unreachable peer, an unknown one
// and bad input are answered plainly.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CatchupPreview, CatchupResult } from '@catchup/engine';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { writeRows } from './two-nodes.ts';

const [a, b] = (await useApiNodes(2, 'plan')) as [TestApiNode, TestApiNode];

async function planOf(serverId: number | string): Promise<{ status: number; body: CatchupPreview & { message?: string } }> {
  const res = await a.call(`/api/sync/catchup/plan?server_id=${serverId}`);
  return { status: res.status, body: (await res.json()) as CatchupPreview & { message?: string } };
}

const put = async (node: TestApiNode, file: string, bytes: number) => {
  const folder = path.join(node.ctx.config.dataDir, 'uploads');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, file), Buffer.alloc(bytes, 1));
};

describe('the catch-up plan', () => {
  let serverId = 0;

  it('says what a catch-up would move, per table and folder, and the catch-up moves exactly that', async () => {
    await writeRows(a, 30, 'plan');
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 't' || g, 254 FROM generate_series(1, 5) g`);
    await writeRows(b, 12, 'from b');
    await put(a, 'robot.jpg', 50_000);
    await put(b, 'field.png', 20_000);
    serverId = await registerPeer(a, b);

    const { status, body: plan } = await planOf(serverId);
    expect(status).toBe(200);
    expect(plan).toMatchObject({
      server_id: serverId,
      reachable: true,
      error: null,
      full_baseline: { send: false, receive: false },
      database: {
        send: {
          changes: 35,
          tables: [
            { table_name: 'scouting_data', changes: 30 },
            { table_name: 'teams', changes: 5 },
          ],
        },
        receive: { changes: 12, tables: [{ table_name: 'scouting_data', changes: 12 }] },
      },
    });
    const uploads = plan.files!.find((f) => f.directory === 'uploads')!;
    expect(uploads).toMatchObject({ upload: { files: 1, bytes: 50_000 }, download: { files: 1, bytes: 20_000 }, conflicts: 0 });
    expect(plan.estimated_seconds).toBeNull(); // no run yet to take a pace from
    // Nothing moved.
    expect((await b.ctx.pool.query('SELECT count(*)::int AS n FROM scouting_data')).rows[0].n).toBe(12);

    const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
    const [result] = ((await res.json()) as { results: CatchupResult[] }).results;
    expect(result!.database_changes).toMatchObject({ sent: 35, received: 12 });
    expect(result!.file_changes).toMatchObject({ uploaded: 1, downloaded: 1 });

    const after = (await planOf(serverId)).body;
    expect(after.database.send.changes).toBe(0);
    expect(after.database.receive?.changes).toBe(0);
    expect(after.estimated_seconds).toBe(0);
    await writeRows(a, 100, 'more');
    const next = (await planOf(serverId)).body;
    expect(next.database.send.changes).toBe(100);
    expect(next.estimated_seconds).toBeGreaterThan(0);
    expect(next.estimate_basis).toMatch(/the pace of the last 1 run/);
  });

  it('shows only what this node would send when the peer cannot be reached', async () => {
    const gone = (await a.ctx.db.syncServer.create({ data: { name: 'plan-gone', host: '127.0.0.1', port: 9, apiKey: 'k' } })).id;
    const { status, body } = await planOf(gone);
    expect(status).toBe(200);
    expect(body).toMatchObject({ reachable: false, database: { receive: null }, files: null, full_baseline: { receive: null } });
    expect(body.error).toMatch(/unreachable/);
    expect(body.database.send.changes).toBeGreaterThan(0);
  });

  it('answers 404 for an unknown peer and 400 naming server_id for bad input', async () => {
    expect((await planOf(99_999)).status).toBe(404);
    const bad = await planOf('abc');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/server_id/);
    const missing = await a.call('/api/sync/catchup/plan');
    expect(missing.status).toBe(400);
  });
});
