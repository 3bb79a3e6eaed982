// Room on the receiving disk: a transfer that cannot fit is refused before a byte is written, instead
// of being written until the disk is full.
import { statfs } from 'node:fs/promises';

/** Bytes left free beside any transfer (the database, logs and other writers share the disk). */
export const SPARE_BYTES = 1024 * 1024;

/** Whether `bytes` fit in `freeBytes` with SPARE_BYTES to spare. */
export function fits(bytes: number, freeBytes: number): boolean {
  return bytes + SPARE_BYTES <= freeBytes;
}

/** Bytes an unprivileged writer may still use on the file system holding `folder`. */
export async function freeBytes(folder: string): Promise<number> {
  const info = await statfs(folder);
  return info.bavail * info.bsize;
}

/** Error codes of a disk (or quota) that is full. */
export function isOutOfSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
