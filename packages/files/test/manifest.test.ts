import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createPool } from '@catchup/db';
import {
  checkRelativePath,
  confinedFolders,
  DEFAULT_EXCLUDES,
  confinePath,
  excluder,
  directoryRoot,
  PathRefusedError,
  QuickFs,
  readManifest,
  recordFile,
  scanDirectory,
  scanDirectoryUnlessScannedSince,
  sha256File,
  STALE_TEMP_FILE_MS,
} from '@catchup/files';
import { useTestDatabases } from '@catchup/testing';

const [database] = await useTestDatabases(1, 'files');
const pool = createPool(database!.url, 2);
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-files-'));
const outside = await mkdtemp(path.join(tmpdir(), 'catchup-outside-'));
afterAll(async () => {
  await pool.end();
  await rm(dataDir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});
const uploads = path.join(dataDir, 'uploads');

async function put(rel: string, content: string) {
  await mkdir(path.dirname(path.join(uploads, rel)), { recursive: true });
  await writeFile(path.join(uploads, rel), content);
}

async function scan() {
  const hashed: string[] = [];
  const stats = await scanDirectory(pool, dataDir, 'uploads', { onHash: (p) => hashed.push(p) });
  return { stats, hashed: hashed.sort() };
}

describe('file manifest (F2)', () => {
  it('records every file with sha256, size, mtime and a change sequence, leaving excluded files out', async () => {
    await put('robots/254.jpg', 'photo of 254');
    await put('robots/1678.jpg', 'photo of 1678');
    await put('notes.txt', 'pit notes');
    await put('draft.tmp', 'temp');
    await put('.git/HEAD', 'ref: main');
    await put('robots/.notes.txt.swp', 'swap');
    await put('.catchup-tmp-upload-1', 'our own temp file');
    const { stats, hashed } = await scan();
    expect(stats).toEqual({ files: 3, hashed: 3, added: 3, changed: 0, deleted: 0 });
    expect(hashed).toEqual(['notes.txt', 'robots/1678.jpg', 'robots/254.jpg']);
    const page = await readManifest(pool, 'uploads', { limit: 100 });
    expect(page.files.map((f) => f.path).sort()).toEqual(['notes.txt', 'robots/1678.jpg', 'robots/254.jpg']);
    const notes = page.files.find((f) => f.path === 'notes.txt')!;
    expect(notes.sha256).toBe(await sha256File(path.join(uploads, 'notes.txt')));
    expect(notes.size).toBe(9);
    expect(notes.deleted).toBe(false);
    expect(new Set(page.files.map((f) => f.change_seq)).size).toBe(3);
  });

  it('does not hash a file again while its size and mtime are unchanged', async () => {
    expect(await scan()).toEqual({ stats: { files: 3, hashed: 0, added: 0, changed: 0, deleted: 0 }, hashed: [] });
  });

  it('hashes a changed file and gives it a new change sequence; a touched file is not a change', async () => {
    const before = await readManifest(pool, 'uploads', { limit: 100 });
    await put('notes.txt', 'pit notes, updated');
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(uploads, 'robots/254.jpg'), later, later);
    const { stats, hashed } = await scan();
    expect(hashed).toEqual(['notes.txt', 'robots/254.jpg']);
    expect(stats).toMatchObject({ changed: 1, added: 0, deleted: 0 });
    const changes = await readManifest(pool, 'uploads', { afterSeq: before.next_seq, limit: 100 });
    expect(changes.files.map((f) => f.path)).toEqual(['notes.txt']);
    expect((await scan()).hashed).toEqual([]);
  });

  it('does not record a file that changed while it was hashed; the next scan records it whole', async () => {
    const config = path.join(dataDir, 'config');
    await mkdir(config, { recursive: true });
    await writeFile(path.join(config, 'growing.bin'), 'first part;');
    const row = async () =>
      (
        await pool.query<{ sha256: string; size: string }>(
          `SELECT sha256, size::text AS size FROM file_checksums WHERE directory = 'config' AND path = 'growing.bin'`,
        )
      ).rows[0];
    // A writer appends between the scan's stat and its hash.
    const stats = await scanDirectory(pool, dataDir, 'config', { onHash: (p) => appendFileSync(path.join(config, p), ' second part') });
    expect(stats.hashed).toBe(1);
    expect(await row()).toBeUndefined();
    await scanDirectory(pool, dataDir, 'config');
    expect(await row()).toEqual({ sha256: await sha256File(path.join(config, 'growing.bin')), size: String('first part; second part'.length) });
  });

  describe('while a transfer puts files in place (it records them itself, without the scan lock)', () => {
    const folder = directoryRoot(dataDir, 'config');
    const entry = async (rel: string) =>
      (
        await pool.query<{ sha256: string; change_seq: string; deleted: boolean }>(
          `SELECT sha256, change_seq::text, deleted FROM file_checksums WHERE directory = 'config' AND path = $1`,
          [rel],
        )
      ).rows[0];
    /** What a transfer does: the content in a temp file, renamed into place, then recorded. */
    async function receive(rel: string, content: string) {
      const full = path.join(folder, rel);
      await writeFile(`${full}.incoming`, content);
      await rename(`${full}.incoming`, full);
      const info = await stat(full);
      await recordFile(pool, 'config', rel, { sha256: await sha256File(full), size: info.size, mtimeMs: info.mtimeMs });
    }

    it('does not announce a file received meanwhile as a local change', async () => {
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, 'event.json'), '{"event": "2026week1"}');
      await scanDirectory(pool, dataDir, 'config');
      await writeFile(path.join(folder, 'event.json'), '{"event": "2026week1", "edited": "here"}');
      let received: Awaited<ReturnType<typeof entry>>;
      const stats = await scanDirectory(pool, dataDir, 'config', {
        // The peer's version lands after the scan read the manifest and walked the folder.
        onWalked: async () => {
          await receive('event.json', '{"event": "2026week1", "edited": "on the peer"}');
          received = await entry('event.json');
        },
      });
      expect(stats).toMatchObject({ changed: 0, added: 0 });
      expect(await entry('event.json')).toEqual(received!);
      // The next scan finds the disk as recorded: nothing to hash, nothing to announce.
      expect(await scanDirectory(pool, dataDir, 'config')).toMatchObject({ hashed: 0, changed: 0 });
    });

    it('does not record a tombstone for a file received after it walked the folder', async () => {
      await writeFile(path.join(folder, 'teams.csv'), '254,1678');
      await scanDirectory(pool, dataDir, 'config');
      await unlink(path.join(folder, 'teams.csv'));
      await writeFile(path.join(folder, 'event.json'), '{"event": "2026week2"}');
      const stats = await scanDirectory(pool, dataDir, 'config', {
        // The folder was walked without teams.csv; the peer's copy lands before the scan compares.
        onWalked: () => receive('teams.csv', '254,1678,971'),
      });
      expect(stats).toMatchObject({ deleted: 0, changed: 1 });
      expect(await entry('teams.csv')).toMatchObject({ deleted: false, sha256: await sha256File(path.join(folder, 'teams.csv')) });
    });
  });

  it('leaves a tombstone for a deleted file', async () => {
    const before = await readManifest(pool, 'uploads', { limit: 100 });
    await unlink(path.join(uploads, 'robots/1678.jpg'));
    expect((await scan()).stats).toMatchObject({ files: 2, deleted: 1 });
    const changes = await readManifest(pool, 'uploads', { afterSeq: before.next_seq, limit: 100 });
    expect(changes.files).toEqual([expect.objectContaining({ path: 'robots/1678.jpg', deleted: true })]);
    // Coming back is a change again.
    await put('robots/1678.jpg', 'photo of 1678 again');
    expect((await scan()).stats).toMatchObject({ added: 1 });
  });

  it('pages by change sequence and filters by modification time', async () => {
    const first = await readManifest(pool, 'uploads', { limit: 1 });
    expect(first.files).toHaveLength(1);
    expect(first.has_more).toBe(true);
    const rest = await readManifest(pool, 'uploads', { afterSeq: first.next_seq, limit: 100 });
    const all = await readManifest(pool, 'uploads', { limit: 100 });
    expect([...first.files, ...rest.files]).toEqual(all.files);
    const recent = await readManifest(pool, 'uploads', { since: new Date(Date.now() + 60_000), limit: 100 });
    expect(recent.files).toEqual([]);
  });

  it('does not follow symlinks', async () => {
    await writeFile(path.join(outside, 'secret.txt'), 'not yours');
    await symlink(path.join(outside, 'secret.txt'), path.join(uploads, 'link.txt'));
    await symlink(outside, path.join(uploads, 'linked-dir'));
    const { hashed } = await scan();
    expect(hashed).toEqual([]);
    const all = await readManifest(pool, 'uploads', { limit: 100 });
    expect(all.files.some((f) => f.path.startsWith('link'))).toBe(false);
  });

  it('takes configurable exclusion patterns', () => {
    const exclude = excluder(['**/*.raw', 'cache/**']);
    expect(exclude('photos/a.raw')).toBe(true);
    expect(exclude('cache/x/y.jpg')).toBe(true);
    expect(exclude('photos/a.jpg')).toBe(false);
  });

  it('excludes exactly what picomatch does for the same list of patterns', () => {
    const patterns = [...DEFAULT_EXCLUDES, '**/*.raw', 'cache/**', '!keep/**', '{drafts,old}/*.jpg', '**/*.[ch]', 'exact name.txt', '**/(build|dist)/**'];
    const paths = [
      'a.tmp',
      'x/y/b.temp',
      '.x.swp',
      'notes~',
      'd/~$doc.docx',
      '.DS_Store',
      'p/Thumbs.db',
      '.git/HEAD',
      'r/.git/objects/ab',
      '.catchup-tmp-abc',
      'u/.catchup-tmp-1',
      'photos/a.raw',
      'cache/x/y.jpg',
      'keep/a.jpg',
      'keep/b.tmp',
      'drafts/a.jpg',
      'old/b.jpg',
      'new/c.jpg',
      'src/x.c',
      'src/x.h',
      'src/x.cpp',
      'exact name.txt',
      'sub/exact name.txt',
      'build/out.js',
      'a/dist/b.js',
      'robots/254.jpg',
      'notes.txt',
      '.hidden',
      'dir/.',
      'cache/.',
      '.git/.',
    ];
    for (const list of [DEFAULT_EXCLUDES, patterns, ['**/*.raw'], []]) {
      const ours = excluder(list);
      const theirs = list.length ? picomatch(list, { dot: true }) : () => false;
      for (const p of paths) expect([list.length, p, ours(p)]).toEqual([list.length, p, theirs(p)]);
    }
  });
});

describe('path confinement (F5)', () => {
  it.each([
    ['../etc/passwd', /climbs out/],
    ['robots/../../x', /climbs out/],
    ['/etc/passwd', /absolute/],
    ['C:/Windows/win.ini', /absolute/],
    ['robots\\..\\..\\x', /backslash/],
    ['robots/\0.jpg', /NUL/],
    ['', /empty/],
    ['robots//x.jpg', /empty or "."/],
    ['./x.jpg', /empty or "."/],
  ])('refuses %j', async (relative, reason) => {
    expect(() => checkRelativePath(relative)).toThrow(reason);
    await expect(confinePath(uploads, relative)).rejects.toThrow(PathRefusedError);
  });

  it('refuses a path that leads outside through a symlink, and accepts plain ones', async () => {
    await expect(confinePath(uploads, 'linked-dir/secret.txt')).rejects.toThrow(/through a symlink/);
    await expect(confinePath(uploads, 'link.txt')).rejects.toThrow(/through a symlink/);
    await expect(confinePath(uploads, 'linked-dir/new/file.txt')).rejects.toThrow(/through a symlink/);
    expect(await confinePath(uploads, 'robots/new.jpg')).toBe(path.join(uploads, 'robots/new.jpg'));
    expect(await confinePath(uploads, 'brand/new/folder/file.jpg')).toBe(path.join(uploads, 'brand/new/folder/file.jpg'));
  });

  it('refuses every path through a symlink when confining many under one root (a bundle), which resolves a folder once', async () => {
    const known = confinedFolders(new QuickFs());
    expect(await confinePath(uploads, 'robots/a.jpg', known)).toBe(path.join(uploads, 'robots/a.jpg'));
    expect(known.inside).toContain(path.join(uploads, 'robots'));
    expect(await confinePath(uploads, 'robots/b.jpg', known)).toBe(path.join(uploads, 'robots/b.jpg'));
    for (let i = 0; i < 2; i++) {
      await expect(confinePath(uploads, 'linked-dir/secret.txt', known)).rejects.toThrow(/through a symlink/);
      await expect(confinePath(uploads, 'linked-dir/new/file.txt', known)).rejects.toThrow(/through a symlink/);
      await expect(confinePath(uploads, 'link.txt', known)).rejects.toThrow(/through a symlink/);
    }
    expect([...known.inside].some((folder) => folder.includes('linked-dir'))).toBe(false);
  });

  it('decides every path alike when confining many under one root (a bundle)', async () => {
    await mkdir(path.join(uploads, 'real', 'deeper'), { recursive: true });
    await symlink(path.join(uploads, 'real'), path.join(uploads, 'inside-link'));
    await symlink(path.join(uploads, 'nowhere'), path.join(uploads, 'dangling'));
    const paths = [
      'real/deeper/new.jpg',
      'real/new/folder/x.jpg',
      'inside-link/deeper/y.jpg',
      'inside-link',
      'dangling',
      'dangling/z.jpg',
      'linked-dir/secret.txt',
      'linked-dir/new/file.txt',
      'link.txt',
      'robots/new.jpg',
    ];
    const outcome = (p: Promise<string>) =>
      p.then(
        (target) => ({ target }),
        (err: Error) => ({ refused: err.message }),
      );
    const known = confinedFolders(new QuickFs());
    for (let round = 0; round < 2; round++) {
      for (const relative of paths)
        expect(await outcome(confinePath(uploads, relative, known)), relative).toEqual(await outcome(confinePath(uploads, relative)));
    }
  });

  it('names a place under a root not on disk yet, and still refuses a path that climbs out', async () => {
    const missing = path.join(uploads, 'not-created-yet');
    expect(await confinePath(missing, 'a/b.txt')).toBe(path.join(missing, 'a/b.txt'));
    await expect(confinePath(missing, '../b.txt')).rejects.toThrow(/climbs out/);
  });
});

describe('temp files of transfers', () => {
  const instance = path.join(dataDir, 'instance');
  const listed = async () => (await readManifest(pool, 'instance', { limit: 100 })).files.map((f) => f.path).sort();

  it('are never listed in the manifest, whatever the exclusion patterns', async () => {
    await mkdir(path.join(instance, 'deep'), { recursive: true });
    await writeFile(path.join(instance, 'kept.txt'), 'a file');
    await writeFile(path.join(instance, 'deep', '.catchup-tmp-0a1b2c3d4e5f'), 'half a transfer');
    await scanDirectory(pool, dataDir, 'instance', { exclude: excluder([]) });
    expect(await listed()).toEqual(['kept.txt']);
  });

  it('left untouched for an hour (a crashed transfer) are removed by the next scan; fresh ones are kept', async () => {
    await writeFile(path.join(instance, '.catchup-tmp-ffeeddccbbaa'), 'a transfer under way');
    await scanDirectory(pool, dataDir, 'instance');
    expect((await readdir(instance, { recursive: true })).map(String).sort()).toEqual([
      '.catchup-tmp-ffeeddccbbaa',
      'deep',
      'deep/.catchup-tmp-0a1b2c3d4e5f',
      'kept.txt',
    ]);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + STALE_TEMP_FILE_MS + 60_000);
      await scanDirectory(pool, dataDir, 'instance');
    } finally {
      vi.useRealTimers();
    }
    expect((await readdir(instance, { recursive: true })).map(String).sort()).toEqual(['deep', 'kept.txt']);
    expect(await listed()).toEqual(['kept.txt']);
  });
});

describe("a scan that stands (a folder sync building on its detection's scan)", () => {
  const standing = async () =>
    (await readManifest(pool, 'uploads', { limit: 1000 })).files
      .filter((f) => f.path.startsWith('standing/') && !f.deleted)
      .map((f) => f.path)
      .sort();

  it('is not repeated for a `since` at or before its start, and is for a later one', async () => {
    const since = Date.now();
    await put('standing/before.jpg', 'scanned');
    await scanDirectory(pool, dataDir, 'uploads');
    await put('standing/after.jpg', 'written after the scan');
    expect(await scanDirectoryUnlessScannedSince(pool, dataDir, 'uploads', since)).toBeNull();
    expect(await standing()).toEqual(['standing/before.jpg']);
    // A `since` after that scan began asks for the disk as it is now.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await scanDirectoryUnlessScannedSince(pool, dataDir, 'uploads', Date.now())).toMatchObject({ added: 1 });
    expect(await standing()).toEqual(['standing/after.jpg', 'standing/before.jpg']);
  });

  it('is waited for while it runs, and then stands', async () => {
    const since = Date.now();
    let release!: () => void;
    const walked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = scanDirectory(pool, dataDir, 'uploads', { onWalked: () => walked });
    await put('standing/during.jpg', 'written while the first scan runs');
    const asking = scanDirectoryUnlessScannedSince(pool, dataDir, 'uploads', since);
    let answered = false;
    void asking.then(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    release();
    await running;
    expect(await asking).toBeNull();
  });

  it('does not stand once the clock was set back to before it began', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 60 * 60 * 1000);
      await scanDirectory(pool, dataDir, 'uploads');
    } finally {
      vi.useRealTimers();
    }
    await put('standing/clock.jpg', 'written after the clock was set back');
    expect(await scanDirectoryUnlessScannedSince(pool, dataDir, 'uploads', Date.now() - 1000)).toMatchObject({ added: expect.any(Number) });
    expect(await standing()).toContain('standing/clock.jpg');
  });
});
