// A file's block list (blocks.ts), read from disk in one pass that also hashes the whole file.
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { BLOCK_BYTES, type BlockList } from './blocks.ts';
import { sha256Of, unchangedWhileRead } from './hash.ts';
import { readAt } from './read-at.ts';
import { TransferRejectedError } from './write.ts';

/**
 * A file's block list (and the sha256 of the whole), read once in blocks. Throws a `conflict` refusal if
 * the file changed while it was read: a list must describe one version.
 */
export async function readBlockList(file: string): Promise<BlockList & { mtimeMs: number }> {
  const handle = await open(file, 'r');
  try {
    const before = await handle.stat();
    const whole = createHash('sha256');
    const blocks: string[] = [];
    const buffer = Buffer.allocUnsafe(BLOCK_BYTES);
    let size = 0;
    for (;;) {
      const block = await readAt(handle, buffer, size, BLOCK_BYTES);
      if (block.length === 0) break;
      whole.update(block);
      blocks.push(sha256Of(block));
      size += block.length;
      if (block.length < BLOCK_BYTES) break;
    }
    if (size !== before.size || !unchangedWhileRead(before, await stat(file).catch(() => null)))
      throw new TransferRejectedError('conflict', `${path.basename(file)}: changed while its blocks were read; it goes at a later sync`);
    return { blockSize: BLOCK_BYTES, size, sha256: whole.digest('hex'), blocks, mtimeMs: Math.floor(before.mtimeMs) };
  } finally {
    await handle.close();
  }
}
