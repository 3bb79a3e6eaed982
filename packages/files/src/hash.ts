// Hashing files: sha256 read in fixed chunks, no whole file in memory.
import { createHash } from 'node:crypto';
import { readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { quickly, type QuickFs } from './quick-fs.ts';

const CHUNK = 256 * 1024;
/** Read buffers kept for reuse: hashing many files must not allocate a new buffer per chunk. */
const spare: Buffer[] = [];

/** sha256 and length of an open file's bytes from its start, read in fixed chunks into a reused buffer. */
export async function digestHandle(handle: FileHandle): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const buffer = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    spare.push(buffer);
  }
}

export const sha256Of = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * digestHandle of a file expected to hold `size` bytes. One smaller than a chunk is read in one read of
 * `size` + 1 bytes (with `quick`, a synchronous one while the disk answers from its cache): a regular
 * file's read comes back short only at its end, so exactly `size` bytes is the whole file. Anything else
 * (longer, or a read cut short) is read through by digestHandle.
 */
export async function digestHandleOfSize(handle: FileHandle, size: number, quick?: QuickFs): Promise<{ sha256: string; size: number }> {
  if (size < CHUNK) {
    const buffer = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
    try {
      const bytesRead = await quickly(
        quick,
        () => readSync(handle.fd, buffer, 0, size + 1, 0),
        async () => (await handle.read(buffer, 0, size + 1, 0)).bytesRead,
      );
      if (bytesRead === size) return { sha256: sha256Of(buffer.subarray(0, size)), size };
    } finally {
      spare.push(buffer);
    }
  }
  return digestHandle(handle);
}

/**
 * sha256 of a file that held `size` bytes when stat'ed: one smaller than a chunk from one read through
 * `quick` (a file that grew meanwhile is read one byte past `size`, so the caller's check of its stats
 * after finds it changed), a larger one in chunks.
 */
export async function sha256FileOfSize(file: string, size: number, quick: QuickFs): Promise<string> {
  return size < CHUNK ? sha256Of(await quick.readUpTo(file, size + 1)) : sha256File(file);
}

/** sha256 of a file (no whole file in memory). */
export async function sha256File(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    return (await digestHandle(handle)).sha256;
  } finally {
    await handle.close();
  }
}

type StatsOfAVersion = Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs'>;

/**
 * Whether a file stayed as it was while it was read, from its stats before and after (size, mtime and
 * ctime): a hash read between the two is of one version. (Not as-compared.ts's `unchangedSince`, which
 * compares with what a file sync decided on.)
 */
export function unchangedWhileRead(before: StatsOfAVersion, after: StatsOfAVersion | null): boolean {
  return after !== null && after.size === before.size && after.mtimeMs === before.mtimeMs && after.ctimeMs === before.ctimeMs;
}
