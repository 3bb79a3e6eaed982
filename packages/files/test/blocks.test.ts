// The pure side of block deltas: which blocks move, how they are named in a query, and the instructions
// of an upload's delta body.
import { describe, expect, it } from 'vitest';
import {
  BLOCK_BYTES,
  COPY_RECORD_BYTES,
  DELTA_MIN_BYTES,
  deltaBodyBytes,
  deltaInstructions,
  deltaWorthwhile,
  LITERAL_HEADER_BYTES,
  parseRanges,
  planBlocks,
  rangesText,
  senderBytes,
  senderRanges,
  type BlockList,
} from '../src/blocks.ts';

const list = (blocks: string[], size = blocks.length * 10, blockSize = 10): BlockList => ({ blockSize, size, sha256: 'x', blocks });

describe('whether a file goes as a block delta', () => {
  it('only a large file whose other side holds at least a block', () => {
    expect(deltaWorthwhile(DELTA_MIN_BYTES, DELTA_MIN_BYTES)).toBe(true);
    expect(deltaWorthwhile(BLOCK_BYTES, 50 * 1024 * 1024)).toBe(true);
    expect(deltaWorthwhile(DELTA_MIN_BYTES, DELTA_MIN_BYTES - 1)).toBe(false);
    expect(deltaWorthwhile(BLOCK_BYTES - 1, 50 * 1024 * 1024)).toBe(false);
  });
});

describe('where each block comes from', () => {
  it('the same index when it matches, another index with the same hash, else the sender', () => {
    const base = list(['a', 'b', 'c', 'd']);
    const target = list(['a', 'x', 'b', 'd', 'y']);
    expect(planBlocks(base, target)).toEqual([
      { from: 'base', index: 0 },
      { from: 'sender' },
      { from: 'base', index: 1 },
      { from: 'base', index: 3 },
      { from: 'sender' },
    ]);
  });
  it('prefers the same index over an earlier block with the same hash', () => {
    expect(planBlocks(list(['z', 'z']), list(['q', 'z']))).toEqual([{ from: 'sender' }, { from: 'base', index: 1 }]);
  });
  it('lists cut with another block size share nothing', () => {
    expect(planBlocks(list(['a'], 10, 10), list(['a'], 10, 20))).toEqual([{ from: 'sender' }]);
  });
  it('names the sender blocks as ranges and counts their bytes (the last block may be short)', () => {
    const target = list(['x', 'b', 'y', 'z', 'c', 'w'], 55);
    const sources = planBlocks(list(['a', 'b', 'q', 'q', 'c']), target);
    expect(senderRanges(sources)).toEqual([
      [0, 0],
      [2, 3],
      [5, 5],
    ]);
    expect(rangesText(senderRanges(sources))).toBe('0,2-3,5');
    expect(senderBytes(sources, target)).toBe(10 + 20 + 5);
  });
});

describe('ranges in a query', () => {
  it('round-trips and stays within the file', () => {
    expect(parseRanges('0,2-3,5', 6)).toEqual([
      [0, 0],
      [2, 3],
      [5, 5],
    ]);
    expect(parseRanges('5', 5)).toBeNull();
    expect(parseRanges('2-7', 6)).toBeNull();
  });
  it('refuses ranges out of order, overlapping, reversed or malformed', () => {
    for (const text of ['3,1', '1-3,3', '4-2', '', '1,,2', '-1', 'a', '1-2-3']) expect(parseRanges(text, 100), text).toBeNull();
  });
});

describe("an upload's delta instructions", () => {
  it('copies runs of consecutive base blocks at once and sends each other block as a literal', () => {
    const target = list(['a', 'b', 'x', 'c', 'a', 'y'], 55);
    const sources = planBlocks(list(['a', 'b', 'q', 'c']), target);
    const instructions = deltaInstructions(sources, target);
    expect(instructions).toEqual([
      { copy: { first: 0, count: 2 } },
      { literal: { index: 2, length: 10 } },
      { copy: { first: 3, count: 1 } },
      { copy: { first: 0, count: 1 } },
      { literal: { index: 5, length: 5 } },
    ]);
    expect(deltaBodyBytes(instructions)).toBe(3 * COPY_RECORD_BYTES + 2 * LITERAL_HEADER_BYTES + 15);
  });
});
