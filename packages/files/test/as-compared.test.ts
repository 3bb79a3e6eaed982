// A file sync replaces or removes a local file only while it is what the comparison saw (F4): a write the
// application made in between is kept and left for the next sync.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangedSinceComparedError, unchangedSince, type ComparedState } from '../src/as-compared.ts';
import { QuickFs } from '../src/quick-fs.ts';
import { commitReceived, receiveToTemp, removeFile } from '../src/write.ts';
import { announced } from './announced.ts';

const top = await mkdtemp(path.join(tmpdir(), 'catchup-compared-'));
afterAll(() => rm(top, { recursive: true, force: true }));

async function comparedIn(folder: string, relative: string): Promise<ComparedState> {
  const info = await stat(path.join(folder, relative));
  return { size: info.size, mtimeMs: Math.floor(info.mtimeMs) };
}

describe('unchangedSince', () => {
  const file = { size: 10, mtimeMs: 1000.7, isFile: true };
  it('holds for the same size and whole-millisecond mtime, or absent on both', () => {
    expect(unchangedSince({ size: 10, mtimeMs: 1000 }, file)).toBe(true);
    expect(unchangedSince('absent', 'absent')).toBe(true);
  });
  it('fails for another size or mtime, a file that appeared or vanished, or a folder in its place', () => {
    expect(unchangedSince({ size: 11, mtimeMs: 1000 }, file)).toBe(false);
    expect(unchangedSince({ size: 10, mtimeMs: 1001 }, file)).toBe(false);
    expect(unchangedSince('absent', file)).toBe(false);
    expect(unchangedSince({ size: 10, mtimeMs: 1000 }, 'absent')).toBe(false);
    expect(unchangedSince({ size: 10, mtimeMs: 1000 }, { ...file, isFile: false })).toBe(false);
  });
});

describe.each([
  { calls: 'asynchronous calls', quick: () => undefined },
  { calls: 'a bundle’s quick calls', quick: () => new QuickFs() },
  { calls: 'a bundle’s quick calls on a slow disk', quick: () => new QuickFs({ slowCallMs: -1 }) },
])('replacing a local file written after the comparison, with $calls', ({ calls, quick }) => {
  const root = path.join(top, calls.replace(/\W+/g, '-'));
  beforeAll(() => mkdir(root));
  const compared = (relative: string) => comparedIn(root, relative);

  it("keeps the application's write, removes the temp file, and names the file", async () => {
    await writeFile(path.join(root, 'notes.txt'), 'as compared');
    const seen = await compared('notes.txt');
    const received = await receiveToTemp(root, 'notes.txt', [Buffer.from("the peer's version")], announced("the peer's version"));
    // The application writes the file while the peer's version is on its way.
    await writeFile(path.join(root, 'notes.txt'), 'written after the comparison');
    await utimes(path.join(root, 'notes.txt'), new Date(), new Date(Date.now() + 5000));
    await expect(commitReceived(received, seen, quick())).rejects.toThrow(ChangedSinceComparedError);
    expect(await readFile(path.join(root, 'notes.txt'), 'utf8')).toBe('written after the comparison');
    expect(await readdir(root)).toEqual(['notes.txt']);
  });

  it('puts the file in place while the target is as compared, absent included', async () => {
    await writeFile(path.join(root, 'same.txt'), 'old');
    const received = await receiveToTemp(root, 'same.txt', [Buffer.from('new')], announced('new'));
    await commitReceived(received, await compared('same.txt'), quick());
    expect(await readFile(path.join(root, 'same.txt'), 'utf8')).toBe('new');
    const fresh = await receiveToTemp(root, 'fresh.txt', [Buffer.from('first')], announced('first'));
    await commitReceived(fresh, 'absent', quick());
    expect(await readFile(path.join(root, 'fresh.txt'), 'utf8')).toBe('first');
    // The old version kept aside while the new one went in, and the temp file, are gone.
    expect((await readdir(root)).filter((name) => name.startsWith('.catchup-tmp-'))).toEqual([]);
  });

  it('does not put a file in place over one the application created after the comparison saw none', async () => {
    const received = await receiveToTemp(root, 'created.txt', [Buffer.from('peer')], announced('peer'));
    await writeFile(path.join(root, 'created.txt'), 'made here meanwhile');
    await expect(commitReceived(received, 'absent', quick())).rejects.toThrow(/created\.txt: changed here since it was compared/);
    expect(await readFile(path.join(root, 'created.txt'), 'utf8')).toBe('made here meanwhile');
  });

  it('does not remove a file (a propagated delete) written after the comparison', async () => {
    await writeFile(path.join(root, 'gone.txt'), 'deleted on the peer');
    const seen = await compared('gone.txt');
    await writeFile(path.join(root, 'gone.txt'), 'but edited here since, and longer');
    await expect(removeFile(root, 'gone.txt', seen)).rejects.toThrow(ChangedSinceComparedError);
    expect(await readFile(path.join(root, 'gone.txt'), 'utf8')).toBe('but edited here since, and longer');
    await removeFile(root, 'gone.txt', await compared('gone.txt'));
    await expect(stat(path.join(root, 'gone.txt'))).rejects.toThrow(/ENOENT/);
    expect((await readdir(root)).filter((name) => name.startsWith('.catchup-tmp-'))).toEqual([]);
  });
});
