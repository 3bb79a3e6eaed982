// The page plan of a received range (pure): when it turns into a key-ordered baseline, how it goes on,
// and a peer that answers only in position order.
import { describe, expect, it } from 'vitest';
import { asOneRange, nextPageQuery, type PageEnd } from '../src/full-baseline.ts';

const range = { from: '10', to: '5000' };
const first = { after: '10', upTo: '5000', limit: 100, excludeOrigin: 'me' };
const page = (fields: Partial<PageEnd>): PageEnd => ({ has_more: true, next_cursor: '110', ...fields });

describe('the pages of a received range', () => {
  it('goes on in position order while the range is above the peer’s pruned horizon', () => {
    expect(nextPageQuery(range, first, page({ pruned_through: '10' }), false)).toEqual({ ...first, after: '110' });
    expect(nextPageQuery(range, first, page({ has_more: false }), false)).toBeNull();
    expect(nextPageQuery(range, first, page({ next_cursor: '5000' }), false)).toBeNull();
  });

  it('reads the whole range again in row-key order once a page says it starts below the horizon', () => {
    expect(nextPageQuery(range, first, page({ pruned_through: '11' }), false)).toEqual({ ...first, after: '10', order: 'key' });
    // A baseline that fits one page is already whole: nothing to read again.
    expect(nextPageQuery(range, first, page({ pruned_through: '11', has_more: false }), false)).toBeNull();
  });

  it('follows next_key in row-key order until the last page', () => {
    const byKey = { ...first, order: 'key' as const };
    const key = 'teams/0b6a2c52-8f1e-4d0e-9a55-4c8f3f1b2a10/77';
    expect(nextPageQuery(range, byKey, page({ pruned_through: '11', next_cursor: '10', next_key: key }), true)).toEqual({ ...byKey, afterKey: key });
    expect(nextPageQuery(range, { ...byKey, afterKey: key }, page({ pruned_through: '11', next_cursor: '10', has_more: false }), true)).toBeNull();
  });

  it('goes on in position order with a peer that ignores row-key order (no next_key), asking for it only once', () => {
    const byKey = { ...first, order: 'key' as const };
    const answer = page({ pruned_through: '11', next_cursor: '110' });
    const next = nextPageQuery(range, byKey, answer, true);
    expect(next).toEqual({ ...first, after: '110' });
    expect(nextPageQuery(range, next!, page({ pruned_through: '11', next_cursor: '210' }), true)).toEqual({ ...first, after: '210' });
  });
});

describe('a full baseline direction', () => {
  it('is planned as the one range that spans its batches', () => {
    expect(asOneRange([])).toEqual([]);
    expect(asOneRange([{ from: '0', to: '5' }])).toEqual([{ from: '0', to: '5' }]);
    expect(
      asOneRange([
        { from: '0', to: '5' },
        { from: '5', to: '9' },
        { from: '9', to: '12' },
      ]),
    ).toEqual([{ from: '0', to: '12' }]);
  });
});
