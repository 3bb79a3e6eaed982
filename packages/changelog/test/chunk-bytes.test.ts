import { describe, expect, it } from 'vitest';
import { ChunkBytes } from '../src/chunk-bytes.ts';

const text = (bytes: ChunkBytes) => bytes.bytes.toString('latin1');

describe('a chunk’s bytes', () => {
  it('keeps what is appended, in order, growing past its first room', () => {
    const bytes = new ChunkBytes(4);
    const pieces = ['ab', 'cde', '', 'fghijklmnop', 'q'];
    for (const piece of pieces) bytes.append(Buffer.from(piece));
    expect(text(bytes)).toBe(pieces.join(''));
    expect(bytes.length).toBe(17);
    expect(bytes.capacity).toBeGreaterThanOrEqual(17);
  });

  it('owns a copy: the pieces may be reused or freed after they are appended', () => {
    const piece = Buffer.from('line one\n');
    const bytes = new ChunkBytes();
    bytes.append(piece);
    piece.fill(0);
    expect(text(bytes)).toBe('line one\n');
  });

  it('cuts at a position: the bytes from there go to a new one, the ones before stay', () => {
    const bytes = new ChunkBytes(8);
    bytes.append(Buffer.from('one\ntwo\nthr'));
    const rest = bytes.cut(8);
    expect(text(bytes)).toBe('one\ntwo\n');
    expect(text(rest)).toBe('thr');
    rest.append(Buffer.from('ee\n'));
    expect(text(rest)).toBe('three\n');
    expect(text(bytes)).toBe('one\ntwo\n');
  });

  it('frees its memory when released, not at the next collection', () => {
    const bytes = new ChunkBytes(1024 * 1024);
    bytes.append(Buffer.alloc(1000, 1));
    const view = bytes.bytes;
    const before = process.memoryUsage().arrayBuffers;
    bytes.release();
    expect(view.length).toBe(0); // the memory behind it is gone
    expect(bytes.length).toBe(0);
    expect(before - process.memoryUsage().arrayBuffers).toBeGreaterThanOrEqual(1024 * 1024);
  });
});
