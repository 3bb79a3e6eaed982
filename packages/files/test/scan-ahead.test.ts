import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createPool } from '@catchup/db';
import { readManifest, SCAN_AHEAD_FRESH_MS, scanAhead, scanForSync } from '@catchup/files';
import { useTestDatabases } from '@catchup/testing';

const [database] = await useTestDatabases(1, 'scan_ahead');
const pool = createPool(database!.url, 2);
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-scan-ahead-'));
afterAll(async () => {
  await pool.end();
  await rm(dataDir, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

async function put(rel: string, content: string) {
  const file = path.join(dataDir, 'uploads', rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

const listed = async () => (await readManifest(pool, 'uploads', { limit: 1000 })).files.filter((f) => !f.deleted).map((f) => f.path);

describe('a scan made ahead of a sync', () => {
  it('stands in for the next sync’s scan, once: a file written in between goes with the sync after', async () => {
    await put('ahead/1.jpg', 'one');
    await scanAhead(pool, dataDir, 'uploads');
    await put('ahead/2.jpg', 'two');
    const used = await scanForSync(pool, dataDir, 'uploads');
    expect(used.added).toBe(1); // the scan made ahead, which found 1.jpg
    expect(await listed()).not.toContain('ahead/2.jpg');
    const next = await scanForSync(pool, dataDir, 'uploads');
    expect(next.added).toBe(1);
    expect(await listed()).toContain('ahead/2.jpg');
  });

  it(`is not used once it is ${SCAN_AHEAD_FRESH_MS} ms old: the sync scans`, async () => {
    await scanAhead(pool, dataDir, 'uploads');
    await put('stale/1.jpg', 'one');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + SCAN_AHEAD_FRESH_MS);
    await scanForSync(pool, dataDir, 'uploads');
    expect(await listed()).toContain('stale/1.jpg');
  });

  it('is shared by pings that come while it runs or is fresh, but detection always scans again', async () => {
    const first = scanAhead(pool, dataDir, 'uploads', { onlyIfStale: true });
    const second = scanAhead(pool, dataDir, 'uploads', { onlyIfStale: true });
    expect(second).toBe(first);
    await first;
    expect(scanAhead(pool, dataDir, 'uploads', { onlyIfStale: true })).toBe(first);
    await put('detected/1.jpg', 'one');
    const detection = await scanAhead(pool, dataDir, 'uploads');
    expect(detection.added).toBe(1);
    expect(await listed()).toContain('detected/1.jpg');
  });

  it('that failed is not kept: the sync scans', async () => {
    const missing = path.join(dataDir, 'not-a-folder');
    await writeFile(missing, 'a file where the data folder should be');
    await expect(scanAhead(pool, missing, 'uploads')).rejects.toThrow();
    await rm(missing);
    await mkdir(path.join(missing, 'uploads'), { recursive: true });
    await writeFile(path.join(missing, 'uploads', 'late.jpg'), 'late');
    const stats = await scanForSync(pool, missing, 'uploads');
    expect(stats.files).toBe(1);
  });
});
