import { describe, expect, it } from 'vitest';
import { smallerPage } from '../src/send-pages.ts';

describe('smallerPage: the next page after one the peer refused as too large', () => {
  it('halves the page, rounding up, and cannot split a single change', () => {
    expect(smallerPage(1000)).toBe(500);
    expect(smallerPage(3)).toBe(2);
    expect(smallerPage(2)).toBe(1);
    expect(smallerPage(1)).toBeNull();
  });

  it('reaches one change from the largest batch in a few refusals', () => {
    const sizes: number[] = [];
    for (let size: number | null = 10_000; size !== null; size = smallerPage(size)) sizes.push(size);
    expect(sizes.at(-1)).toBe(1);
    expect(sizes.length).toBeLessThanOrEqual(15);
  });
});
