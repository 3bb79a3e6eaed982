import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useApiNodes } from './nodes.ts';

const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-files-api-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));
const [node] = await useApiNodes(1, 'filesapi', { DATA_DIR: dataDir, SYNC_EXCLUDE: '**/*.raw', CATCHUP_SCHEDULER_ENABLED: 'false' });

describe('GET /api/sync/files/checksums', () => {
  it('lists the files of a folder with checksums, by modification time (catchup_mode with since) and by sequence', async () => {
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

    const later = await node!.call(
      `/api/sync/files/checksums?path=config&catchup_mode=true&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
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
    ['', /querystring\.directory: required/],
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

describe('uploads that cannot be put in place are refused, leaving nothing behind', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const uploads = path.join(dataDir, 'uploads');
  beforeAll(() => mkdir(uploads, { recursive: true }));
  const upload = (file: string, body: string, mtimeMs: number | string = Date.now()) =>
    node!.call(`/api/sync/files/upload?path=uploads&file=${encodeURIComponent(file)}&sha256=${sha(body)}&size=${Buffer.byteLength(body)}&mtime_ms=${mtimeMs}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
  const frame = (file: string, body: string, mtimeMs = 1_780_000_000_000) =>
    `${JSON.stringify({ file, sha256: sha(body), size: Buffer.byteLength(body), mtime_ms: mtimeMs })}\n${body}`;
  const bundle = (body: string) =>
    node!.call('/api/sync/files/upload-bundle?path=uploads', { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  /** Every entry under uploads/ (files and folders), temp files included. */
  async function listing(): Promise<string[]> {
    return (await readdir(uploads, { recursive: true })).map(String).sort();
  }
  const message = async (res: Response) => ((await res.json()) as { message: string }).message;

  it('an upload onto a folder is 409 naming the file; the folder stays as it was', async () => {
    await mkdir(path.join(uploads, 'robots', 'inside'), { recursive: true });
    await writeFile(path.join(uploads, 'robots', 'inside', 'keep.jpg'), 'kept');
    const before = await listing();
    const single = await upload('robots', 'a file where a folder is');
    expect(single.status).toBe(409);
    expect(await message(single)).toMatch(/robots.*folder/);
    const bundled = await bundle(frame('fine.txt', 'fine') + frame('robots/inside', 'x'));
    expect(bundled.status).toBe(409);
    expect(await message(bundled)).toMatch(/robots\/inside.*folder/);
    expect(await listing()).toEqual(before);
  });

  it('an upload beneath a file (a file where a folder would go) is 409 naming it', async () => {
    await writeFile(path.join(uploads, 'notes.txt'), 'a file');
    const before = await listing();
    const single = await upload('notes.txt/inner.txt', 'x');
    expect(single.status).toBe(409);
    expect(await message(single)).toMatch(/notes\.txt\/inner\.txt/);
    const bundled = await bundle(frame('notes.txt/inner.txt', 'x'));
    expect(bundled.status).toBe(409);
    expect(await listing()).toEqual(before);
  });

  it('a name too long for the file system (a 300-byte path component) is 400 naming it', async () => {
    const before = await listing();
    for (const file of ['n'.repeat(300), `${'d'.repeat(300)}/inner.txt`, `é${'n'.repeat(254)}`]) {
      const single = await upload(file, 'x');
      expect(single.status, file).toBe(400);
      const said = await message(single);
      expect(said).toMatch(/longer than 255 bytes/);
      expect(said).toContain(file.slice(0, 20));
      const bundled = await bundle(frame('fine.txt', 'fine') + frame(file, 'x'));
      expect(bundled.status, file).toBe(400);
      expect(await message(bundled)).toMatch(/longer than 255 bytes/);
    }
    expect(await listing()).toEqual(before);
  });

  it('mtime_ms is bounded: year 275760 or two days ahead is 400 naming mtime_ms; an hour ahead is taken', async () => {
    const before = await listing();
    for (const mtimeMs of [8_640_000_000_000_000, Date.now() + 2 * 86_400_000, -1, 1.5]) {
      const single = await upload('stamped.txt', 'x', mtimeMs);
      expect(single.status, String(mtimeMs)).toBe(400);
      expect(await message(single)).toMatch(/querystring\.mtime_ms/);
      const bundled = await bundle(frame('stamped.txt', 'x', mtimeMs));
      expect(bundled.status, String(mtimeMs)).toBe(400);
      expect(await message(bundled)).toMatch(/entry #0: mtime_ms/);
    }
    expect(await listing()).toEqual(before);
    // Clocks differ a little: an hour ahead is taken, and kept as sent.
    const soon = Date.now() + 3_600_000;
    expect((await upload('soon.txt', 'soon', soon)).status).toBe(200);
    expect(Math.floor((await stat(path.join(uploads, 'soon.txt'))).mtimeMs)).toBe(soon);
  });
});

describe('replacing or removing only what the sender compared (replaces=)', () => {
  const upload = (file: string, body: string, replaces: string) =>
    node!.call(
      `/api/sync/files/upload?path=uploads&file=${file}&sha256=${createHash('sha256').update(body).digest('hex')}&size=${Buffer.byteLength(body)}&mtime_ms=${Date.now()}&replaces=${replaces}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body },
    );
  const compared = async (file: string) => {
    const info = await stat(path.join(dataDir, 'uploads', file));
    return `${info.size}:${Math.floor(info.mtimeMs)}`;
  };
  const content = (file: string) => import('node:fs/promises').then((fs) => fs.readFile(path.join(dataDir, 'uploads', file), 'utf8'));

  it('an upload over a file written here after the sender compared is 409 and keeps it; over the compared one it lands', async () => {
    await mkdir(path.join(dataDir, 'uploads'), { recursive: true });
    await writeFile(path.join(dataDir, 'uploads', 'score.txt'), 'as the sender saw it');
    const seen = await compared('score.txt');
    await writeFile(path.join(dataDir, 'uploads', 'score.txt'), 'written here after the comparison');
    const refused = await upload('score.txt', "the sender's version", seen);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(/^score\.txt: changed here since it was compared/);
    expect(await content('score.txt')).toBe('written here after the comparison');
    expect((await readdir(path.join(dataDir, 'uploads'))).filter((f) => f.startsWith('.catchup-tmp'))).toEqual([]);

    expect((await upload('score.txt', "the sender's version", await compared('score.txt'))).status).toBe(200);
    expect(await content('score.txt')).toBe("the sender's version");
    expect((await upload('new.txt', 'first', 'absent')).status).toBe(200);
    expect((await upload('new.txt', 'second', 'absent')).status).toBe(409);
    expect((await upload('bad.txt', 'x', 'yesterday')).status).toBe(400);
  });

  it('a propagated delete of a file written here after the sender compared is 409 and keeps it', async () => {
    await writeFile(path.join(dataDir, 'uploads', 'keep.txt'), 'old');
    const seen = await compared('keep.txt');
    await writeFile(path.join(dataDir, 'uploads', 'keep.txt'), 'edited here since');
    const refused = await node!.call(`/api/sync/files?path=uploads&file=keep.txt&replaces=${seen}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(await content('keep.txt')).toBe('edited here since');
    const removed = await node!.call(`/api/sync/files?path=uploads&file=keep.txt&replaces=${await compared('keep.txt')}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
  });
});
