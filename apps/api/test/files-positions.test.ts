// After a file catch-up, detection is quiet until a file changes again, on either side: the positions
// remembered move past what the sync itself wrote on both sides (downloads here, uploads there), and a
// detection has the peer scan its disk before it compares.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { call, useTwoNodes } from './two-nodes.ts';

const dirA = await mkdtemp(path.join(tmpdir(), 'catchup-fpos-a-'));
const dirB = await mkdtemp(path.join(tmpdir(), 'catchup-fpos-b-'));
afterAll(async () => {
  for (const d of [dirA, dirB]) await rm(d, { recursive: true, force: true });
});
const pair = await useTwoNodes('fpos', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '120' }, { DATA_DIR: dirA });
await pair.stopB();
pair.specB.env.DATA_DIR = dirB;
await pair.startB();
const apiA = call(pair.a, pair.specA.key);

async function scan(): Promise<CatchupResult[]> {
  const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: CatchupResult[] }).results;
}

async function put(root: string, rel: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
}

async function positions(): Promise<{ local: string; peer: string }> {
  const { rows } = await pair.a.ctx.pool.query<{ local: string; peer: string }>(
    'SELECT file_seq_local::text AS local, file_seq_peer::text AS peer FROM sync_servers WHERE id = $1',
    [pair.bServerIdOnA],
  );
  return rows[0]!;
}

describe('file positions after a catch-up', () => {
  it('a catch-up that moved files both ways is not followed by one that moves nothing', async () => {
    await put(dirA, 'uploads/from-a.jpg', 'a');
    await put(dirA, 'config/settings.json', '{}');
    await put(dirB, 'uploads/from-b.jpg', 'b');
    const [first] = await scan();
    expect(first).toMatchObject({ success: true, file_changes: { uploaded: 2, downloaded: 1 } });
    // Each side's newest change is held by the other: A's download and B's uploads included.
    const { rows } = await pair.a.ctx.pool.query<{ n: string }>('SELECT max(change_seq)::text AS n FROM file_checksums');
    expect((await positions()).local).toBe(rows[0]!.n);
    expect(await scan()).toEqual([]);
  });

  it('a file written after the catch-up is caught up by the next one, on either side', async () => {
    await put(dirA, 'instance/later-a.txt', 'later');
    expect((await scan())[0]).toMatchObject({ success: true, file_changes: { uploaded: 1, downloaded: 0 } });
    expect(await scan()).toEqual([]);
    // B has not scanned its disk since: A's detection has B scan it.
    await put(dirB, 'uploads/later-b.jpg', 'later');
    expect((await scan())[0]).toMatchObject({ success: true, file_changes: { downloaded: 1, uploaded: 0 } });
    expect(await scan()).toEqual([]);
  });
});
