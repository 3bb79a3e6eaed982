import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fits, SPARE_BYTES } from '../src/space.ts';
import { commitReceived, receiveToTemp, TransferRejectedError, unwritten } from '../src/write.ts';
import { announced } from './announced.ts';

const root = await mkdtemp(path.join(tmpdir(), 'catchup-write-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('putting a received file in place (F3)', () => {
  it('a folder that appeared where the file goes after it was received: refused as a conflict naming the file, no temp file left', async () => {
    const received = await receiveToTemp(root, 'late/photo.jpg', [Buffer.from('bytes')], announced('bytes'));
    await mkdir(path.join(root, 'late', 'photo.jpg', 'inside'), { recursive: true });
    const refusal = await commitReceived(received).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(TransferRejectedError);
    expect(refusal).toMatchObject({ reason: 'conflict', message: 'late/photo.jpg: is a folder here' });
    expect(await readdir(path.join(root, 'late'))).toEqual(['photo.jpg']);
  });
});

describe('the rest of a short write', () => {
  const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
  const text = (rest: Buffer[]) => rest.map((b) => b.toString()).join('|');
  it('is everything when nothing was written, nothing when all was', () => {
    expect(text(unwritten(chunks, 0))).toBe('abc|defg|h');
    expect(unwritten(chunks, 8)).toEqual([]);
  });
  it('starts inside the chunk where the write stopped, or at the next one on a boundary', () => {
    expect(text(unwritten(chunks, 1))).toBe('bc|defg|h');
    expect(text(unwritten(chunks, 3))).toBe('defg|h');
    expect(text(unwritten(chunks, 5))).toBe('fg|h');
  });
});

describe('room on the disk', () => {
  it('a file fits with SPARE_BYTES to spare, not without', () => {
    expect(fits(1000, 1000 + SPARE_BYTES)).toBe(true);
    expect(fits(1001, 1000 + SPARE_BYTES)).toBe(false);
  });
});

// A real 1 MB file system: near full, writev writes part of the data without an error (F6).
// Mounting needs root: where it is refused, these are skipped (and say so), not failed.
const small = mkdtempSync(path.join(tmpdir(), 'catchup-write-small-'));
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { stdio: 'pipe' });
    return true;
  } catch {
    console.warn('write.test: the disk-full cases are skipped, a tmpfs cannot be mounted here');
    return false;
  }
})();
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', small]);
  rmSync(small, { recursive: true, force: true });
});
describe.skipIf(!mounted)('receiving onto a disk that fills up', () => {
  const bytes = (size: number, fill: number) => Buffer.alloc(size, fill);

  it('a file that fills the disk is refused as no_space naming it; the old file is untouched and no temp file is left', async () => {
    const old = bytes(100 * 1024, 1);
    await writeFile(path.join(small, 'photo.bin'), old);
    const body = bytes(1000 * 1024, 2); // under ROOM_CHECK_BYTES: written until the disk is full
    const refusal = await receiveToTemp(small, 'photo.bin', [body.subarray(0, 600 * 1024), body.subarray(600 * 1024)], announced(body)).catch(
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(TransferRejectedError);
    expect(refusal).toMatchObject({ reason: 'no_space', message: expect.stringMatching(/^photo\.bin: the disk is full here/) });
    expect(await readdir(small)).toEqual(['photo.bin']);
    expect((await readFile(path.join(small, 'photo.bin'))).equals(old)).toBe(true);
  });

  it('a large file that cannot fit is refused before a byte is read or written', async () => {
    const body = bytes(2 * 1024 * 1024, 3);
    let read = false;
    const source = (function* () {
      read = true;
      yield body;
    })();
    const refusal = await receiveToTemp(small, 'big.bin', source, announced(body)).catch((err: unknown) => err);
    expect(refusal).toMatchObject({
      reason: 'no_space',
      message: expect.stringMatching(/^big\.bin: 2097152 bytes do not fit on this node's disk \(\d+ bytes free\)$/),
    });
    expect(read).toBe(false);
    expect(await readdir(small)).toEqual(['photo.bin']);
  });
});
