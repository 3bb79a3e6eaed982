import { describe, expect, it } from 'vitest';
import { settleInParallel, throwFirstFailure } from '../src/in-parallel.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('settleInParallel', () => {
  it('runs at most `limit` at once and gives the outcomes in item order', async () => {
    let running = 0;
    let most = 0;
    const outcomes = await settleInParallel([5, 1, 4, 2, 3], 2, async (n, i) => {
      most = Math.max(most, ++running);
      for (let t = 0; t < n; t++) await tick();
      running--;
      return n * 10 + i;
    });
    expect(most).toBe(2);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : null))).toEqual([50, 11, 42, 23, 34]);
  });

  it('waits for every item after one failed, and throwFirstFailure throws the first in item order', async () => {
    const finished: number[] = [];
    const outcomes = await settleInParallel([1, 2, 3, 4], 4, async (n) => {
      for (let t = 0; t < n; t++) await tick();
      if (n % 2 === 0) throw new Error(`item ${n}`);
      finished.push(n);
    });
    expect(finished.sort()).toEqual([1, 3]);
    expect(() => throwFirstFailure(outcomes)).toThrow('item 2');
    expect(() => throwFirstFailure(outcomes.filter((o) => o.status === 'fulfilled'))).not.toThrow();
  });
});
