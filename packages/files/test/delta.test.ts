// Building a new version of a file from blocks of the old one and blocks from a peer (F3, F6): every block
// checked as it is written; a corrupt block, a base that changed, or too few or too many bytes leave the
// old file untouched and no temp file.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBlockList } from '../src/block-list.ts';
import { BLOCK_BYTES, planBlocks, senderRanges } from '../src/blocks.ts';
import { assembleDownload } from '../src/delta.ts';
import { TransferRejectedError } from '../src/write.ts';

const root = await mkdtemp(path.join(tmpdir(), 'catchup-delta-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const MTIME = 1_780_000_000_000;
/** Deterministic bytes (no randomness needed: blocks differ by their offset). */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed + (i >> 9)) & 0xff;
  return out;
}

/** An old and a new version: the new one has block 2 changed and a block appended (so its last two blocks differ too: the old one ended in a short block). */
async function versions(name: string) {
  const old = bytes(5 * BLOCK_BYTES + 100, 1);
  const changed = Buffer.concat([old.subarray(0, 2 * BLOCK_BYTES), bytes(BLOCK_BYTES, 9), old.subarray(3 * BLOCK_BYTES), bytes(BLOCK_BYTES, 7)]);
  await writeFile(path.join(root, name), old);
  await writeFile(path.join(root, `${name}.new`), changed);
  const base = await readBlockList(path.join(root, name));
  const target = { ...(await readBlockList(path.join(root, `${name}.new`))), mtimeMs: MTIME };
  await rm(path.join(root, `${name}.new`));
  const sources = planBlocks(base, target);
  const fetchedBlocks = senderRanges(sources).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k));
  const blocksOf = (content: Buffer) => fetchedBlocks.map((i) => content.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
  return { old, changed, target, sources, fetched: blocksOf(changed) };
}

const tempFiles = async () => (await readdir(root)).filter((f) => f.startsWith('.catchup-tmp-'));

describe('a download as a block delta', () => {
  it('fetches only the changed blocks and puts a byte-identical file in place with its mtime', async () => {
    const { changed, target, sources, fetched } = await versions('video.bin');
    expect(fetched.length).toBe(3);
    await assembleDownload(root, 'video.bin', { target, sources, fetched, base: 'video.bin', replaces: undefined });
    expect(
      createHash('sha256')
        .update(await readFile(path.join(root, 'video.bin')))
        .digest('hex'),
    ).toBe(createHash('sha256').update(changed).digest('hex'));
    expect(await tempFiles()).toEqual([]);
  });

  it('a corrupt block from the peer: refused as a checksum mismatch, the old file untouched, no temp file', async () => {
    const { old, target, sources, fetched } = await versions('corrupt.bin');
    const bad = Buffer.from(fetched[0]!);
    bad[1000]! ^= 0xff;
    const refusal = await assembleDownload(root, 'corrupt.bin', { target, sources, fetched: [bad, ...fetched.slice(1)], base: 'corrupt.bin' }).catch(
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(TransferRejectedError);
    expect(refusal).toMatchObject({ reason: 'checksum', message: 'corrupt.bin: block 2 from the peer does not match its sha256' });
    expect((await readFile(path.join(root, 'corrupt.bin'))).equals(old)).toBe(true);
    expect(await tempFiles()).toEqual([]);
  });

  it('a base block that changed since its list was read: refused, nothing replaced', async () => {
    const { target, sources, fetched } = await versions('moving.bin');
    const edited = bytes(5 * BLOCK_BYTES + 100, 3);
    await writeFile(path.join(root, 'moving.bin'), edited);
    const refusal = await assembleDownload(root, 'moving.bin', { target, sources, fetched, base: 'moving.bin' }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ reason: 'checksum', message: 'moving.bin: block 0 of the file here changed while it was read' });
    expect((await readFile(path.join(root, 'moving.bin'))).equals(edited)).toBe(true);
    expect(await tempFiles()).toEqual([]);
  });

  it('too few or too many fetched bytes: refused by size, nothing replaced', async () => {
    const { old, target, sources, fetched } = await versions('short.bin');
    const short = await assembleDownload(root, 'short.bin', { target, sources, fetched: [fetched[0]!], base: 'short.bin' }).catch((e: unknown) => e);
    expect(short).toMatchObject({ reason: 'size', message: 'short.bin: the peer sent fewer blocks than asked' });
    const long = await assembleDownload(root, 'short.bin', { target, sources, fetched: [...fetched, Buffer.from('x')], base: 'short.bin' }).catch(
      (e: unknown) => e,
    );
    expect(long).toMatchObject({ reason: 'size', message: 'short.bin: the peer sent more blocks than asked' });
    expect((await readFile(path.join(root, 'short.bin'))).equals(old)).toBe(true);
    expect(await tempFiles()).toEqual([]);
  });

  it('a block list that does not fit its size is refused before a temp file exists', async () => {
    const { target, sources, fetched } = await versions('odd.bin');
    const refusal = await assembleDownload(root, 'odd.bin', {
      target: { ...target, size: target.size + BLOCK_BYTES },
      sources,
      fetched,
      base: 'odd.bin',
    }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ reason: 'format' });
    expect(await tempFiles()).toEqual([]);
  });
});
