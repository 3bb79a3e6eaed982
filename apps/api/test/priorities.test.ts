// Priorities in a real catch-up (issue #19 item 4): the batches of an operator's scan carry its band, those
// holding changes of the tables listed in table_priorities go ahead of the others, and the folders are
// synced only once every database batch is done.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRIGGER_PRIORITY, type Job } from '@catchup/queue';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { tableRows, writeRows } from './two-nodes.ts';

const [a, b] = (await useApiNodes(2, 'prio', { CATCHUP_BATCH_SIZE: '50', TABLE_PRIORITIES: 'scouting_data' })) as [TestApiNode, TestApiNode];

const jobsOf = async (node: TestApiNode, key: 'batchSend' | 'batchReceive' | 'fileSync'): Promise<Job[]> =>
  (await node.ctx.queues.queues[key].getJobs(['completed'])).filter((j): j is Job => Boolean(j));

describe('priorities in a catch-up', () => {
  it('sends the urgent table’s batches first and syncs folders after the database', async () => {
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'team ' || g, 254 FROM generate_series(1, 200) g`);
    await writeRows(a, 100, 'urgent');
    await writeRows(b, 60, 'from b');
    const photos = path.join(a.ctx.config.dataDir, 'uploads');
    await mkdir(photos, { recursive: true });
    await writeFile(path.join(photos, 'robot.jpg'), Buffer.alloc(200_000, 7));

    const serverId = await registerPeer(a, b);
    const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
    expect(res.status).toBe(200);
    const [result] = ((await res.json()) as { results: { success: boolean; errors: string[] }[] }).results;
    expect(result!.errors).toEqual([]);
    expect(await tableRows(b)).toEqual(await tableRows(a));

    const sends = await jobsOf(a, 'batchSend');
    expect(sends).toHaveLength(6);
    const byRange = sends.map((j) => ({ to: Number(j.data.range.to), priority: j.opts.priority }));
    // Positions 1-200 are teams (4 batches), 201-300 scouting_data (2 batches, the urgent table).
    for (const batch of byRange) expect(batch.priority).toBe(TRIGGER_PRIORITY.scan + (batch.to > 200 ? 0 : 1));
    const receives = await jobsOf(a, 'batchReceive');
    expect(receives.length).toBeGreaterThan(0);
    expect(receives.every((j) => j.opts.priority === TRIGGER_PRIORITY.scan + 1)).toBe(true);

    const folders = await jobsOf(a, 'fileSync');
    expect(folders.map((j) => j.data.directory).sort()).toEqual(['config', 'instance', 'uploads']);
    const databaseDone = Math.max(...[...sends, ...receives].map((j) => j.finishedOn!));
    for (const folder of folders) expect(folder.processedOn!).toBeGreaterThanOrEqual(databaseDone);
    expect((await stat(path.join(b.ctx.config.dataDir, 'uploads', 'robot.jpg'))).size).toBe(200_000);
  });
});
