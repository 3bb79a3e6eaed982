import type { FileHandle } from 'node:fs/promises';

/** Reads `length` bytes at `position` into `buffer` (fewer only at the end of the file). */
export async function readAt(handle: FileHandle, buffer: Buffer, position: number, length: number): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
