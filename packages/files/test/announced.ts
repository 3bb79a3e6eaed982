// What a sender announces for a body in these tests: its sha256 and size, and a fixed mtime.
import { createHash } from 'node:crypto';
import type { Announced } from '../src/write.ts';

export const announced = (body: string | Buffer): Announced => ({
  sha256: createHash('sha256').update(body).digest('hex'),
  size: Buffer.byteLength(body),
  mtimeMs: 1_780_000_000_000,
});
