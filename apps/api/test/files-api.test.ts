import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useApiNodes } from './nodes.ts';

const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-files-api-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));
const [node] = await useApiNodes(1, 'filesapi', { DATA_DIR: dataDir, SYNC_EXCLUDE: '**/*.raw', CATCHUP_SCHEDULER_ENABLED: 'false' });

describe('GET /api/sync/files/checksums', () => {
  it('lists the files of a folder with checksums, in the seed catch-up mode and by sequence', async () => {
    await mkdir(path.join(dataDir, 'config'), { recursive: true });
    await writeFile(path.join(dataDir, 'config', 'event.json'), '{"event":"2026casj"}');
    await writeFile(path.join(dataDir, 'config', 'huge.raw'), 'excluded by SYNC_EXCLUDE');
    const res = await node!.call('/api/sync/files/checksums?path=config');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { path: string; files: { path: string; sha256: string; size: number }[]; next_seq: string; scanned: { hashed: number } };
    expect(body.path).toBe('config');
    expect(body.files.map((f) => f.path)).toEqual(['event.json']);
    expect(body.files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.files[0]!.size).toBe(20);
    expect(body.scanned.hashed).toBe(1);

    const later = await node!.call(`/api/sync/files/checksums?path=config&catchup_mode=true&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(((await later.json()) as { files: unknown[] }).files).toEqual([]);
    const after = await node!.call(`/api/sync/files/checksums?path=config&after_seq=${body.next_seq}`);
    const afterBody = (await after.json()) as { files: unknown[]; scanned: { hashed: number } };
    expect(afterBody.files).toEqual([]);
    expect(afterBody.scanned.hashed).toBe(0);
  });

  it('pages after the first can skip the disk scan (scan=false): they read the manifest as it stands', async () => {
    await writeFile(path.join(dataDir, 'config', 'late.json'), '{"late":true}');
    const unscanned = await node!.call('/api/sync/files/checksums?path=config&scan=false');
    const quick = (await unscanned.json()) as { files: { path: string }[]; scanned: unknown };
    expect(quick.scanned).toBeNull();
    expect(quick.files.map((f) => f.path)).not.toContain('late.json');
    const scanned = (await (await node!.call('/api/sync/files/checksums?path=config')).json()) as { files: { path: string }[] };
    expect(scanned.files.map((f) => f.path)).toContain('late.json');
  });

  it.each([
    ['path=../etc', /querystring\.path/],
    ['path=photos', /querystring\.path/],
    ['', /querystring\.path/],
    ['path=config&since=yesterday', /querystring\.since/],
    ['path=config&after_seq=-1', /querystring\.after_seq/],
    ['path=config&scan=maybe', /querystring\.scan/],
  ])('refuses %j with 400 naming the field', async (query, field) => {
    const res = await node!.call(`/api/sync/files/checksums?${query}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(field);
  });

  it('needs the API key', async () => {
    expect((await fetch(`${node!.url}/api/sync/files/checksums?path=config`)).status).toBe(401);
  });
});
