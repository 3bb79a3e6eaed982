// The conflict inbox between real nodes (issue #20 item 3): a concurrent edit that lost is listed with
// both versions, origins and clocks (a sequential one is not); picking the losing version writes it again
// and it propagates; keeping the winner settles it; file conflict copies are listed and settled alike.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = (await useApiNodes(2, 'inbox')) as [TestApiNode, TestApiNode];
let bOnA = 0;

interface Inbox {
  rows: {
    table_name: string;
    record_id: string;
    loser: { identity: string; origin_node_id: string; hlc: string; data: { scouter?: string } | null };
    winner: { identity: string; origin_node_id: string; data: { scouter?: string } | null };
  }[];
  files: { directory: string; original: string; copy: string; winner: { sha256: string } | null; loser: { sha256: string } }[];
}

const inbox = async (node: TestApiNode): Promise<Inbox> => (await (await node.call('/api/sync/conflicts')).json()) as Inbox;
const scan = async () => {
  const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bOnA] } });
  const [result] = ((await res.json()) as { results: CatchupResult[] }).results;
  expect(result!.errors).toEqual([]);
};
const scouterOf = async (node: TestApiNode, id: string) =>
  (await node.ctx.pool.query<{ scouter: string }>('SELECT scouter FROM scouting_data WHERE id = $1', [id])).rows[0]?.scouter;
const insertRow = async (scouter: string) =>
  (
    await a.ctx.pool.query<{ id: string }>(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter) VALUES (1, 1, 254, $1) RETURNING id::text`,
      [scouter],
    )
  ).rows[0]!.id;
const setScouter = (node: TestApiNode, id: string, scouter: string) =>
  node.ctx.pool.query('UPDATE scouting_data SET scouter = $2 WHERE id = $1', [id, scouter]);

describe('the conflict inbox', () => {
  let concurrent = '';

  it('lists a concurrent edit that lost, with both versions, and not a sequential one', async () => {
    bOnA = await registerPeer(a, b);
    concurrent = await insertRow('original');
    const sequential = await insertRow('first');
    await scan();
    // Apart: both edit the same row; b's edit comes later and wins.
    await setScouter(a, concurrent, 'edited on a');
    await setScouter(b, concurrent, 'edited on b');
    // One after the other: b edits a row after receiving a's edit of it.
    await setScouter(a, sequential, 'a, then');
    await scan();
    await setScouter(b, sequential, 'b, after seeing a');
    await scan();
    expect(await scouterOf(a, concurrent)).toBe('edited on b');
    for (const node of [a, b]) {
      const { rows } = await inbox(node);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        table_name: 'scouting_data',
        record_id: concurrent,
        loser: { origin_node_id: a.ctx.engine.nodeId, data: { scouter: 'edited on a' } },
        winner: { origin_node_id: b.ctx.engine.nodeId, data: { scouter: 'edited on b' } },
      });
    }
  });

  it('writes the losing version again when an operator picks it: it propagates and the conflict leaves the inbox', async () => {
    const [conflict] = (await inbox(a)).rows;
    const res = await a.call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser: conflict!.loser.identity, keep: 'loser' } });
    expect(res.status).toBe(200);
    const settled = (await res.json()) as { new_change: string };
    expect(settled.new_change).toMatch(new RegExp(`^${a.ctx.engine.nodeId}/\\d+$`));
    await scan();
    expect(await scouterOf(a, concurrent)).toBe('edited on a');
    expect(await scouterOf(b, concurrent)).toBe('edited on a');
    expect((await inbox(a)).rows).toEqual([]);
    expect((await inbox(b)).rows).toEqual([]);
    const again = await a.call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser: conflict!.loser.identity, keep: 'winner' } });
    expect(again.status).toBe(404);
    const audit = (await (await a.call('/api/sync/logs?kind=audit')).json()) as { logs: { operation: string; details: string }[] };
    expect(audit.logs.some((l) => l.operation === 'conflict resolved' && l.details.includes('kept the loser'))).toBe(true);
  });

  it('settles a conflict by keeping the winner, which stays as it stands', async () => {
    const id = await insertRow('another');
    await scan();
    await setScouter(a, id, 'a loses');
    await setScouter(b, id, 'b wins');
    await scan();
    const conflict = (await inbox(a)).rows.find((r) => r.record_id === id)!;
    const res = await a.call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser: conflict.loser.identity, keep: 'winner' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { new_change: string | null }).new_change).toBeNull();
    expect((await inbox(a)).rows.some((r) => r.record_id === id)).toBe(false);
    expect(await scouterOf(a, id)).toBe('b wins');
  });

  it('lists a file conflict copy and settles it by keeping the copy, on both nodes after the next sync', async () => {
    const write = async (node: TestApiNode, text: string) => {
      const folder = path.join(node.ctx.config.dataDir, 'config');
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, 'strategy.txt'), text);
    };
    await write(a, 'defense first');
    await scan();
    await write(a, 'a: climb early');
    await new Promise((r) => setTimeout(r, 20));
    await write(b, 'b: score low');
    await scan();
    const [file] = (await inbox(a)).files;
    expect(file).toMatchObject({ directory: 'config', original: 'strategy.txt' });
    expect(file!.copy).toMatch(/^strategy\.sync-conflict-\d{8}T\d{6}Z-[0-9a-f]+\.txt$/);
    const res = await a.call('/api/sync/conflicts/files/resolve', { method: 'POST', json: { directory: 'config', copy: file!.copy, keep: 'copy' } });
    expect(res.status).toBe(200);
    await scan();
    for (const node of [a, b]) {
      const folder = path.join(node.ctx.config.dataDir, 'config');
      expect(await readFile(path.join(folder, 'strategy.txt'), 'utf8')).toBe('a: climb early');
      expect((await readdir(folder)).filter((f) => f.includes('sync-conflict'))).toEqual([]);
      expect((await inbox(node)).files).toEqual([]);
    }
  });

  it('answers 400 naming the field for bad input and 404 for what is not an open conflict, changing nothing', async () => {
    const before = (await a.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows[0].n;
    const bad = await a.call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser: 'x/1', keep: 'both' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/keep/);
    expect((await a.call('/api/sync/conflicts/rows/resolve', { method: 'POST', json: { loser: 'nobody/42', keep: 'loser' } })).status).toBe(404);
    const notCopy = await a.call('/api/sync/conflicts/files/resolve', {
      method: 'POST',
      json: { directory: 'config', copy: '../../etc/passwd', keep: 'copy' },
    });
    expect(notCopy.status).toBe(404);
    expect((await a.call('/api/sync/conflicts?limit=0')).status).toBe(400);
    expect((await a.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows[0].n).toBe(before);
  });
});
