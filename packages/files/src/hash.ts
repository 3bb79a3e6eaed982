import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

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

/** sha256 of a file (no whole file in memory). */
export async function sha256File(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    return (await digestHandle(handle)).sha256;
  } finally {
    await handle.close();
  }
}

/** Whether a file is as it was when `before` was taken (size, mtime and ctime): a hash read between the two is of one version. */
export function unchangedSince(before: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs'>, after: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs'> | null): boolean {
  return after !== null && after.size === before.size && after.mtimeMs === before.mtimeMs && after.ctimeMs === before.ctimeMs;
}
