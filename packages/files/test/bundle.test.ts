import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledBytes, encodeBundle, QuickFs, receiveBundle, type BundleEntry } from '@catchup/files';
import { announced } from './announced.ts';

const root = await mkdtemp(path.join(tmpdir(), 'catchup-bundle-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const entry = (file: string, body: string): BundleEntry & { body: string } => ({ file, body, ...announced(body) });

/** The encoded bundle, cut into network-sized pieces that do not respect entry boundaries. */
async function encoded(entries: (BundleEntry & { body: string })[], piece = 7): Promise<Readable> {
  const bodies = new Map(entries.map((e) => [e.file, e.body]));
  const { body, length } = encodeBundle(entries, (e) => Readable.from([Buffer.from(bodies.get(e.file)!)]));
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  const all = Buffer.concat(chunks);
  expect(all.length).toBe(length);
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += piece) pieces.push(all.subarray(i, i + piece));
  return Readable.from(pieces);
}

describe('bundles', () => {
  it('round-trips files whose headers and bodies are split across chunks', async () => {
    const files = [entry('a.txt', 'alpha'), entry('deep/b.txt', 'bravo'.repeat(50)), entry('empty.txt', '')];
    expect((await receiveBundle(root, await encoded(files))).map((e) => e.file)).toEqual(['a.txt', 'deep/b.txt', 'empty.txt']);
    expect(await readFile(path.join(root, 'deep/b.txt'), 'utf8')).toBe('bravo'.repeat(50));
    expect(await readFile(path.join(root, 'empty.txt'), 'utf8')).toBe('');
  });

  it('puts nothing in place when one target is a folder', async () => {
    await mkdir(path.join(root, 'taken', 'inside'), { recursive: true });
    await expect(receiveBundle(root, await encoded([entry('a.txt', 'changed'), entry('taken', 'x')]))).rejects.toThrow(/is a folder here/);
    expect(await readFile(path.join(root, 'a.txt'), 'utf8')).toBe('alpha');
    expect((await readdir(root)).filter((f) => f.startsWith('.catchup-tmp-'))).toEqual([]);
  });

  it('refuses the same file twice', async () => {
    await expect(receiveBundle(root, await encoded([entry('a.txt', 'again'), entry('a.txt', 'again')]))).rejects.toThrow(/appears twice/);
    expect(await readFile(path.join(root, 'a.txt'), 'utf8')).toBe('alpha');
  });

  it('refuses a header line longer than 4 KB without reading on', async () => {
    const long = Readable.from([Buffer.from(`{"file":"${'x'.repeat(5000)}"`)]);
    await expect(receiveBundle(root, long)).rejects.toThrow(/longer than 4096 bytes/);
  });
});

describe.each([
  { disk: 'from its cache', slowCallMs: undefined, slow: false },
  { disk: 'slowly (asynchronous reads)', slowCallMs: -1, slow: true },
])('the bytes a sender bundles for a file, from a disk answering $disk', ({ slowCallMs, slow }) => {
  const read = async (file: string, size: number) => {
    const chunks: Buffer[] = [];
    const quick = new QuickFs({ slowCallMs });
    for (let i = 0; i < 3; i++) await quick.stat(file); // a slow disk is noticed by its third slow call
    expect(quick.slow).toBe(slow);
    for await (const c of bundledBytes(file, size, quick)) chunks.push(c);
    return Buffer.concat(chunks);
  };

  it('are the file as described, and at most one byte more of a file that grew since (the peer refuses that entry)', async () => {
    const file = path.join(root, 'sent.bin');
    await writeFile(file, 'x'.repeat(10));
    expect((await read(file, 10)).toString()).toBe('x'.repeat(10));
    expect((await read(file, 0)).length).toBe(1);
    await writeFile(file, 'y'.repeat(1_000_000));
    expect((await read(file, 10)).length).toBe(11);
    await writeFile(file, 'z'.repeat(4));
    expect((await read(file, 10)).toString()).toBe('zzzz');
  });
});
