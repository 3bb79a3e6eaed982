import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK = 256 * 1024;
/** Read buffers kept for reuse: hashing many files must not allocate a new buffer per chunk. */
const spare: Buffer[] = [];

/** sha256 of a file, read in fixed chunks into a reused buffer (no whole file in memory). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    spare.push(buffer);
    await handle.close();
  }
}
