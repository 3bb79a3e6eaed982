// File catch-up between two real nodes (F2–F5): only changes move, deletes propagate, conflicts keep
// both versions, bad transfers leave the old file alone, and paths stay inside their folder.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DETECTION_SCAN_STANDS_MS, syncDirectory, type CatchupResult } from '@catchup/engine';
import { scanDirectory } from '@catchup/files';
import { call, useTwoNodes } from './two-nodes.ts';

const dirA = await mkdtemp(path.join(tmpdir(), 'catchup-fsync-a-'));
const dirB = await mkdtemp(path.join(tmpdir(), 'catchup-fsync-b-'));
const outside = await mkdtemp(path.join(tmpdir(), 'catchup-fsync-outside-'));
afterAll(async () => {
  for (const d of [dirA, dirB, outside]) await rm(d, { recursive: true, force: true });
});
const pair = await useTwoNodes(
  'fsync',
  { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '120', FILE_UPLOAD_LIMIT_BYTES: '300000000' },
  { DATA_DIR: dirA },
);
// B's folder: set after the fact (useTwoNodes started B with its default DATA_DIR).
await pair.stopB();
pair.specB.env.DATA_DIR = dirB;
const startB = () => pair.startB();
await startB();
const { a } = pair;
const apiA = call(a, pair.specA.key);
const apiB = () => call(pair.b!, pair.specB.key);

const sha = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

async function put(root: string, rel: string, content: string, mtime?: Date) {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
  if (mtime) await utimes(path.join(root, rel), mtime, mtime);
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) out[child] = sha(await readFile(path.join(root, child)));
    }
  };
  await walk('');
  return out;
}

async function scan(): Promise<CatchupResult> {
  const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: CatchupResult[] };
  return body.results[0]!;
}

describe('file catch-up between two nodes', () => {
  it('copies new files both ways on the first sync', async () => {
    await put(dirA, 'uploads/robots/254.jpg', 'photo of 254');
    await put(dirA, 'config/event.json', '{"event":"2026casj"}');
    await put(dirB, 'uploads/robots/1678.jpg', 'photo of 1678');
    await put(dirB, 'instance/notes.md', 'pit notes');
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ uploaded: 2, downloaded: 2, deleted: 0, conflicts: 0 });
    expect(result.file_changes.bytes).toBe(12 + 20 + 13 + 9);
    expect(await tree(dirA)).toEqual(await tree(dirB));
    expect(Object.keys(await tree(dirA)).sort()).toEqual(['config/event.json', 'instance/notes.md', 'uploads/robots/1678.jpg', 'uploads/robots/254.jpg']);
  });

  it('runs no catch-up when nothing changed', async () => {
    const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
    expect(((await res.json()) as { results: CatchupResult[] }).results).toEqual([]);
  });

  it('propagates changes and deletes from each side, and keeps both versions of a file changed on both', async () => {
    const old = new Date(Date.now() - 60_000);
    const newer = new Date(Date.now() - 10_000);
    await put(dirA, 'uploads/robots/254.jpg', 'photo of 254, retaken');
    await put(dirA, 'uploads/robots/971.jpg', 'photo of 971');
    await unlink(path.join(dirB, 'instance/notes.md'));
    await put(dirA, 'config/event.json', '{"event":"2026casj","edited":"on A"}', old);
    await put(dirB, 'config/event.json', '{"event":"2026casj","edited":"on B, later"}', newer);
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ uploaded: 2, downloaded: 0, deleted: 1, conflicts: 1 });

    const [ta, tb] = [await tree(dirA), await tree(dirB)];
    expect(ta).toEqual(tb);
    expect(ta['instance/notes.md']).toBeUndefined();
    expect(await readFile(path.join(dirA, 'config/event.json'), 'utf8')).toContain('on B, later');
    const copies = Object.keys(ta).filter((p) => p.startsWith('config/event.sync-conflict-'));
    // Named after A's version (its modification time and sha256), so that every node names it alike.
    const stamp = old
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const digits = sha('{"event":"2026casj","edited":"on A"}').slice(0, 8);
    expect(copies).toEqual([`config/event.sync-conflict-${stamp}-${digits}.json`]);
    expect(await readFile(path.join(dirB, copies[0]!), 'utf8')).toContain('on A');
  });

  it("takes the peer's version of a file this node received from a third node, without a conflict copy", async () => {
    // A got the file from node C (and agreed on it with C); A never synced it with B; B changed it since.
    const third = await a.ctx.db.syncServer.create({ data: { name: 'fsync-c', host: '127.0.0.1', port: 1, apiKey: 'fsync-c-unused-key-0123456789' } });
    try {
      await put(dirA, 'instance/relayed.txt', 'as node C sent it');
      await a.ctx.db.fileSyncState.create({ data: { serverId: third.id, directory: 'instance', path: 'relayed.txt', sha256: sha('as node C sent it') } });
      await put(dirB, 'instance/relayed.txt', 'changed on B since');
      const result = await scan();
      expect(result.file_changes).toMatchObject({ downloaded: 1, conflicts: 0 });
      const [ta, tb] = [await tree(dirA), await tree(dirB)];
      expect(ta).toEqual(tb);
      expect(await readFile(path.join(dirA, 'instance/relayed.txt'), 'utf8')).toBe('changed on B since');
      expect(Object.keys(ta).filter((p) => p.includes('relayed.sync-conflict'))).toEqual([]);
    } finally {
      await a.ctx.db.syncServer.delete({ where: { id: third.id } });
    }
  });

  it("respects the peer's folder flags", async () => {
    await a.ctx.db.syncServer.update({ where: { id: pair.bServerIdOnA }, data: { syncUploads: false } });
    await put(dirA, 'uploads/not-synced.jpg', 'stays on A');
    await put(dirA, 'instance/synced.txt', 'goes to B');
    const result = await scan();
    expect(result.file_changes.uploaded).toBe(1);
    expect((await tree(dirB))['uploads/not-synced.jpg']).toBeUndefined();
    expect((await tree(dirB))['instance/synced.txt']).toBeDefined();
    await a.ctx.db.syncServer.update({ where: { id: pair.bServerIdOnA }, data: { syncUploads: true } });
    await unlink(path.join(dirA, 'uploads/not-synced.jpg'));
  });
});

describe("a folder sync decided by a detection builds on the detection's scan", () => {
  const syncInstance = (scannedSince?: number) =>
    syncDirectory(a.ctx.engine, pair.bServerIdOnA, 'instance', scannedSince === undefined ? undefined : { scannedSince, attempt: 0 });
  /** A's scan of the folder, as a detection makes it; returns when it began. */
  async function detectionScan(): Promise<number> {
    const startedAt = Date.now();
    await scanDirectory(a.ctx.pool, dirA, 'instance', { exclude: a.ctx.engine.fileExclude });
    return startedAt;
  }
  const onB = async () => Object.keys(await tree(path.join(dirB, 'instance'))).sort();

  it('does not walk the folder again: a file written after that scan goes with the next sync', async () => {
    await put(dirA, 'instance/standing/seen.txt', 'there when the detection scanned');
    const scannedSince = await detectionScan();
    await put(dirA, 'instance/standing/later.txt', 'written after the detection scanned');
    expect(await syncInstance(scannedSince)).toMatchObject({ uploaded: 1, errors: [] });
    expect(await onB()).toContain('standing/seen.txt');
    expect(await onB()).not.toContain('standing/later.txt');
    // A sync no detection decided scans the folder first.
    expect(await syncInstance()).toMatchObject({ uploaded: 1, errors: [] });
    expect(await onB()).toContain('standing/later.txt');
  });

  it('scans the folder again once that scan is older than DETECTION_SCAN_STANDS_MS', async () => {
    const scannedSince = await detectionScan();
    await put(dirA, 'instance/standing/stale.txt', 'written after the detection scanned');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + DETECTION_SCAN_STANDS_MS + 1000);
      expect(await syncInstance(scannedSince)).toMatchObject({ uploaded: 1, errors: [] });
    } finally {
      vi.useRealTimers();
    }
    expect(await onB()).toContain('standing/stale.txt');
  });

  it("hands the detection's scan to the catch-up's folder syncs", async () => {
    await put(dirA, 'instance/standing/scanned.txt', 'found by the detection');
    const before = Date.now();
    expect(await scan()).toMatchObject({ success: true, file_changes: { uploaded: 1 } });
    const folderJobs = (await a.ctx.queues.queues.fileSync.getJobs(['completed'])).filter((job) => job.timestamp >= before);
    expect(folderJobs.map((job) => job.data.directory).sort()).toEqual(['config', 'instance', 'uploads']);
    for (const job of folderJobs) expect(job.data.scannedSince).toBeGreaterThanOrEqual(before);
  });
});

describe('large files (F3)', () => {
  it('moves a 200 MB file with flat memory', async () => {
    const big = path.join(dirA, 'uploads', 'match-video.bin');
    const handle = await import('node:fs/promises').then((fs) => fs.open(big, 'w'));
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 200; i++) {
      chunk.fill(i);
      await handle.write(chunk);
    }
    await handle.close();
    const before = process.resourceUsage().maxRSS;
    const result = await scan();
    const grownMb = (process.resourceUsage().maxRSS - before) / 1024;
    expect(result.success).toBe(true);
    expect(result.file_changes.uploaded).toBe(1);
    expect((await tree(dirB))['uploads/match-video.bin']).toBe((await tree(dirA))['uploads/match-video.bin']);
    // Both nodes run in this process: buffering the file anywhere would add at least 200 MB. Streaming
    // grows it by 79–102 MB from run to run (when the two nodes' buffers are collected).
    expect(grownMb).toBeLessThan(150);
  }, 120_000);
});

describe('transfers refuse what they cannot verify (F3)', () => {
  const upload = (file: string, body: string, announced = { sha256: sha(body), size: Buffer.byteLength(body) }) =>
    apiB()(`/api/sync/files/upload?path=uploads&file=${encodeURIComponent(file)}&sha256=${announced.sha256}&size=${announced.size}&mtime_ms=${Date.now()}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    } as RequestInit);

  async function leftovers() {
    return Object.keys(await tree(dirB)).filter((p) => p.includes('.catchup-tmp-'));
  }

  it('rejects an upload whose content does not match its announced sha256, keeping the old file', async () => {
    const before = await readFile(path.join(dirB, 'uploads/robots/254.jpg'), 'utf8');
    const res = await upload('robots/254.jpg', 'tampered bytes', { sha256: sha('something else'), size: 14 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/sha256 .* does not match/);
    expect(await readFile(path.join(dirB, 'uploads/robots/254.jpg'), 'utf8')).toBe(before);
    expect(await leftovers()).toEqual([]);
  });

  it('rejects an upload over the size limit with 413', async () => {
    const res = await upload('big.bin', 'x', { sha256: sha('x'), size: 400_000_000 });
    expect(res.status).toBe(413);
    expect((await tree(dirB))['uploads/big.bin']).toBeUndefined();
  });

  it('leaves no partial file when the connection is cut mid-transfer', async () => {
    const before = await readFile(path.join(dirB, 'uploads/robots/254.jpg'), 'utf8');
    const url = new URL(`${pair.b!.url}/api/sync/files/upload?path=uploads&file=robots/254.jpg&sha256=${sha('y'.repeat(100_000))}&size=100000&mtime_ms=1`);
    await new Promise<void>((resolve) => {
      const req = request(url, {
        method: 'PUT',
        headers: { 'x-api-key': pair.specB.key, 'content-type': 'application/octet-stream', 'content-length': '100000' },
      });
      req.on('error', () => resolve());
      req.write('y'.repeat(30_000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(await readFile(path.join(dirB, 'uploads/robots/254.jpg'), 'utf8')).toBe(before);
    expect(await leftovers()).toEqual([]);
  });
});

describe('bundles of small files are all or nothing (F3)', () => {
  type Entry = { file: string; body: string; sha256?: string; size?: number };
  const frame = (e: Entry) =>
    `${JSON.stringify({ file: e.file, sha256: e.sha256 ?? sha(e.body), size: e.size ?? Buffer.byteLength(e.body), mtime_ms: 1_780_000_000_000 })}\n${e.body}`;
  const send = (body: string) =>
    apiB()('/api/sync/files/upload-bundle?path=uploads', { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } } as RequestInit);
  /** Every file's path, size and mtime (no hashing: the folder holds a 200 MB file by now). */
  async function listing(root: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string) => {
      for (const entry of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
        const child = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(child);
        else out.push(`${child} ${(await stat(path.join(root, child))).size} ${(await stat(path.join(root, child))).mtimeMs}`);
      }
    };
    await walk('');
    return out.sort();
  }

  it('stores every file of a bundle with its checksum and mtime, and records them in the manifest', async () => {
    const res = await send(
      [
        { file: 'bundle/one.txt', body: 'first' },
        { file: 'bundle/deep/two.txt', body: 'second' },
        { file: 'bundle/empty.txt', body: '' },
      ]
        .map(frame)
        .join(''),
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { files: { file: string }[] }).files.map((f) => f.file)).toEqual([
      'bundle/one.txt',
      'bundle/deep/two.txt',
      'bundle/empty.txt',
    ]);
    const files = await tree(dirB);
    expect(files['uploads/bundle/one.txt']).toBe(sha('first'));
    expect(files['uploads/bundle/deep/two.txt']).toBe(sha('second'));
    expect(files['uploads/bundle/empty.txt']).toBe(sha(''));
    const { rows } = await pair.b!.ctx.pool.query(`SELECT path FROM file_checksums WHERE directory = 'uploads' AND path LIKE 'bundle/%' ORDER BY path`);
    expect(rows.map((r) => r.path)).toEqual(['bundle/deep/two.txt', 'bundle/empty.txt', 'bundle/one.txt']);
  });

  it.each([
    [
      'a wrong checksum in the middle',
      [
        { file: 'bundle/one.txt', body: 'changed' },
        { file: 'bundle/bad.txt', body: 'xyz', sha256: sha('abc') },
      ],
      400,
      /entry|does not match/,
    ],
    [
      'a path leading out',
      [
        { file: 'bundle/one.txt', body: 'changed' },
        { file: '../escape.txt', body: 'x' },
      ],
      400,
      /refused/,
    ],
    [
      'a body shorter than announced',
      [
        { file: 'bundle/one.txt', body: 'changed' },
        { file: 'bundle/cut.txt', body: 'abc', size: 10 },
      ],
      400,
      /received 3 of 10/,
    ],
    ['a header that is not JSON', [{ file: 'bundle/one.txt', body: 'changed' }], 400, /header: not JSON/],
    [
      'a file over the upload limit',
      [
        { file: 'bundle/one.txt', body: 'changed' },
        { file: 'bundle/huge.bin', body: 'x', size: 400_000_000 },
      ],
      413,
      /over the limit/,
    ],
  ] as const)('refuses %s and changes nothing', async (what, entries, status, message) => {
    const before = await listing(dirB);
    let body = (entries as readonly Entry[]).map(frame).join('');
    if (what === 'a header that is not JSON') body += 'not json\n';
    const res = await send(body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
    expect(await listing(dirB)).toEqual(before);
    await expect(readFile(path.join(dirB, 'escape.txt'))).rejects.toThrow();
  });

  it('refuses a body that is not application/octet-stream with 415', async () => {
    const before = await listing(dirB);
    const bundle = apiB()('/api/sync/files/upload-bundle?path=uploads', {
      method: 'PUT',
      body: frame({ file: 'bundle/text.txt', body: 'x' }),
      headers: { 'content-type': 'text/plain' },
    } as RequestInit);
    const single = apiB()(`/api/sync/files/upload?path=uploads&file=text.txt&sha256=${sha('x')}&size=1&mtime_ms=1`, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    } as RequestInit);
    for (const res of await Promise.all([bundle, single])) {
      expect(res.status).toBe(415);
      expect(((await res.json()) as { message: string }).message).toMatch(/content-type/);
    }
    expect(await listing(dirB)).toEqual(before);
  });

  it('needs the API key', async () => {
    const res = await fetch(`${pair.b!.url}/api/sync/files/upload-bundle?path=uploads`, {
      method: 'PUT',
      body: frame({ file: 'x.txt', body: 'x' }),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(401);
    expect((await tree(dirB))['uploads/x.txt']).toBeUndefined();
  });
});

describe('paths stay inside their folder (F5)', () => {
  it.each(['../escape.txt', '/etc/passwd', 'robots/../../escape.txt', 'robots\\..\\escape.txt', 'a\u0000b.txt'])(
    'refuses %j on upload, download and delete',
    async (file) => {
      const q = `path=uploads&file=${encodeURIComponent(file)}`;
      const up = await apiB()(`/api/sync/files/upload?${q}&sha256=${'0'.repeat(64)}&size=1&mtime_ms=1`, {
        method: 'PUT',
        body: 'x',
        headers: { 'content-type': 'application/octet-stream' },
      } as RequestInit);
      const down = await apiB()(`/api/sync/files/download?${q}`);
      const del = await apiB()(`/api/sync/files?${q}`, { method: 'DELETE' });
      expect([up.status, down.status, del.status]).toEqual([400, 400, 400]);
      expect(((await up.json()) as { message: string }).message).toMatch(/refused/);
      await expect(readFile(path.join(dirB, 'escape.txt'))).rejects.toThrow();
    },
  );

  it('refuses to write or read through a symlink that leads outside', async () => {
    await writeFile(path.join(outside, 'secret.txt'), 'not yours');
    await symlink(outside, path.join(dirB, 'uploads', 'escape-link'));
    const up = await apiB()(`/api/sync/files/upload?path=uploads&file=escape-link/planted.txt&sha256=${sha('x')}&size=1&mtime_ms=1`, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-type': 'application/octet-stream' },
    } as RequestInit);
    expect(up.status).toBe(400);
    expect((await apiB()('/api/sync/files/download?path=uploads&file=escape-link/secret.txt')).status).toBe(400);
    await expect(readFile(path.join(outside, 'planted.txt'))).rejects.toThrow();
    await unlink(path.join(dirB, 'uploads', 'escape-link'));
  });
});

describe('a file on one node where the other has a folder of the same name', () => {
  /** Every entry (files and folders) under a folder, temp files included. */
  const entries = async (root: string) => (await readdir(root, { recursive: true })).map(String).sort();
  const temps = async (root: string) => (await entries(root)).filter((p) => p.includes('.catchup-tmp-'));
  const syncUploads = () => syncDirectory(a.ctx.engine, pair.bServerIdOnA, 'uploads');

  it('is an error naming the path at every sync, both left as they are, no temp file anywhere, the other files synced', async () => {
    await put(dirA, 'uploads/clash-a', 'a file on A');
    await put(dirB, 'uploads/clash-a/inner.txt', 'a folder on B');
    await put(dirB, 'uploads/clash-b.bin', 'b'.repeat(300_000)); // too big for a bundle: downloaded alone
    await put(dirA, 'uploads/clash-b.bin/inner.txt', 'a folder on A');
    await put(dirA, 'uploads/beside-the-clash.txt', 'travels in the same bundle as clash-a');
    for (let round = 0; round < 2; round++) {
      const { errors } = await syncUploads();
      expect(errors).toEqual([
        'uploads/clash-a: a file here and a folder on fsync-b; both left as they are',
        'uploads/clash-b.bin: a folder here and a file on fsync-b; both left as they are',
      ]);
      expect(await temps(dirA)).toEqual([]);
      expect(await temps(dirB)).toEqual([]);
      expect(await readFile(path.join(dirA, 'uploads/clash-a'), 'utf8')).toBe('a file on A');
      expect(await readFile(path.join(dirB, 'uploads/clash-a/inner.txt'), 'utf8')).toBe('a folder on B');
      expect((await readFile(path.join(dirB, 'uploads/clash-b.bin'), 'utf8')).length).toBe(300_000);
      expect(await readFile(path.join(dirA, 'uploads/clash-b.bin/inner.txt'), 'utf8')).toBe('a folder on A');
      expect(await readFile(path.join(dirB, 'uploads/beside-the-clash.txt'), 'utf8')).toBe('travels in the same bundle as clash-a');
    }
  });

  it('a scan answers 200 with the clash in errors[] and leaves no temp file', async () => {
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 1 } });
    const result = await scan();
    expect(result.success).toBe(false);
    expect(result.errors.join('\n')).toMatch(/uploads\/clash-a: a file here and a folder on fsync-b/);
    expect(await temps(dirA)).toEqual([]);
    expect(await temps(dirB)).toEqual([]);
  });

  it('a folder the manifest cannot see (empty) where a file goes: that file is refused, the rest of its bundle arrives', async () => {
    await mkdir(path.join(dirB, 'uploads', 'empty-folder'), { recursive: true });
    await put(dirA, 'uploads/empty-folder', 'a file on A');
    await put(dirA, 'uploads/beside-the-empty-folder.txt', 'same bundle');
    const { errors } = await syncUploads();
    expect(errors).toHaveLength(3); // the two clashes above, and this one
    expect(errors[2]).toMatch(/^uploads\/empty-folder: .*is a folder here/);
    expect(await readFile(path.join(dirB, 'uploads/beside-the-empty-folder.txt'), 'utf8')).toBe('same bundle');
    expect(await temps(dirB)).toEqual([]);
  });
});
