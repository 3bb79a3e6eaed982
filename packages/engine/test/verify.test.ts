// The pure parts of verify: which buckets, rows and files differ, what repair does with a row, the next step.
import { describe, expect, it } from 'vitest';
import { bucketRange } from '@catchup/changelog';
import { differingBuckets, differingKeys, differingRows, nextStep, repairAction } from '../src/verify.ts';

const v = (hlc: string, node = 'n1', sequence = '1', operation = 'update') => ({ hlc, node, sequence, operation });

describe('differing buckets', () => {
  it('names buckets whose digests differ or that one side lacks, with the larger row count, in order', () => {
    const here = [
      { bucket: '00', rows: 3, digest: 'a' },
      { bucket: '01', rows: 2, digest: 'b' },
      { bucket: 'ff', rows: 1, digest: 'c' },
    ];
    const there = [
      { bucket: '00', rows: 3, digest: 'a' },
      { bucket: '01', rows: 5, digest: 'x' },
      { bucket: '7a', rows: 4, digest: 'd' },
    ];
    expect(differingBuckets(here, there)).toEqual([
      { bucket: '01', rows: 5 },
      { bucket: '7a', rows: 4 },
      { bucket: 'ff', rows: 1 },
    ]);
    expect(differingBuckets(here, here)).toEqual([]);
    expect(differingBuckets([], [])).toEqual([]);
  });
});

describe('differing rows and files', () => {
  it('names rows only here, only there, and differing, in id order', () => {
    const here = [
      { id: 'a1', digest: '1' },
      { id: 'b2', digest: '2' },
      { id: 'c3', digest: '3' },
    ];
    const there = [
      { id: 'b2', digest: '2' },
      { id: 'c3', digest: 'X' },
      { id: '0d', digest: '4' },
    ];
    expect(differingRows(here, there)).toEqual([
      { id: '0d', kind: 'only_there' },
      { id: 'a1', kind: 'only_here' },
      { id: 'c3', kind: 'differs' },
    ]);
    expect(differingRows(here, here)).toEqual([]);
  });

  it('compares manifests the same way (paths bytewise)', () => {
    const here = new Map([
      ['b.jpg', 's1'],
      ['A.png', 's2'],
    ]);
    const there = new Map([
      ['b.jpg', 's9'],
      ['c.txt', 's3'],
    ]);
    expect(differingKeys(here, there)).toEqual([
      { id: 'A.png', kind: 'only_here' },
      { id: 'b.jpg', kind: 'differs' },
      { id: 'c.txt', kind: 'only_there' },
    ]);
  });
});

describe('what repair does with a differing row', () => {
  it('leaves to a catch-up a row whose newer version is in the peer\u2019s log', () => {
    expect(repairAction({ digest: 'd', version: v('10') }, { version: v('11') })).toBe('catch_up');
    expect(repairAction({ digest: 'd', version: null }, { version: v('1') })).toBe('catch_up');
    // Ties on the clock: the node id, then the origin sequence decide (the conflict rule's order).
    expect(repairAction({ digest: 'd', version: v('10', 'a') }, { version: v('10', 'b') })).toBe('catch_up');
    expect(repairAction({ digest: 'd', version: v('10', 'a', '1') }, { version: v('10', 'a', '2') })).toBe('catch_up');
  });

  it('re-logs this node\u2019s row when it holds the winner or both logs agree', () => {
    expect(repairAction({ digest: 'd', version: v('10') }, { version: v('10') })).toBe('relog');
    expect(repairAction({ digest: 'd', version: v('12') }, { version: v('10') })).toBe('relog');
    expect(repairAction({ digest: 'd', version: v('10', 'b') }, { version: v('10', 'a') })).toBe('relog');
    expect(repairAction({ digest: 'd', version: null }, { version: null })).toBe('relog'); // a row no log knows: captured now
  });

  it('re-logs a delete only when this node\u2019s log says the row was deleted', () => {
    expect(repairAction({ digest: null, version: v('12', 'n1', '3', 'delete') }, { version: v('10') })).toBe('relog_delete');
    expect(repairAction({ digest: null, version: v('12') }, { version: v('12') })).toBe('repair_on_peer');
    expect(repairAction({ digest: null, version: null }, { version: null })).toBe('repair_on_peer');
  });
});

describe('the next step', () => {
  const table = (rows: { action: 'relog' | 'relog_delete' | 'catch_up' | 'repair_on_peer' }[], synced: 'both' | 'here' | 'there' = 'both') => ({
    table_name: 't',
    synced,
    rows_here: 1,
    rows_there: 1,
    level: false,
    truncated: false,
    differing_rows: rows.map((r, i) => ({
      id: String(i),
      kind: 'differs' as const,
      here: { version: null, matches_log: null },
      there: { version: null, matches_log: null },
      action: r.action,
      repaired: false,
    })),
  });

  it('is none when level, and says what to run otherwise', () => {
    expect(nextStep({ level: true, tables: [], folders: [], repair: null })).toBeNull();
    expect(nextStep({ level: false, tables: [table([{ action: 'relog' }])], folders: [], repair: null })).toMatch(/verify --repair/);
    expect(nextStep({ level: false, tables: [table([{ action: 'relog' }])], folders: [], repair: { relogged_rows: 1, relogged_deletes: 0, left: 0 } })).toMatch(
      /scan\) now carries/,
    );
    expect(nextStep({ level: false, tables: [table([{ action: 'catch_up' }])], folders: [], repair: null })).toMatch(/brings what the peer holds newer/);
    expect(nextStep({ level: false, tables: [table([{ action: 'repair_on_peer' }])], folders: [], repair: null })).toMatch(/on the peer/);
    expect(nextStep({ level: false, tables: [table([], 'here')], folders: [], repair: null })).toMatch(/synced on one side only/);
  });
});

describe('bucket ranges', () => {
  it('turn an id prefix into a UUID range', () => {
    expect(bucketRange('')).toEqual({ low: null, high: null });
    expect(bucketRange('ab')).toEqual({ low: 'ab000000-0000-0000-0000-000000000000', high: 'ac000000-0000-0000-0000-000000000000' });
    expect(bucketRange('0fff')).toEqual({ low: '0fff0000-0000-0000-0000-000000000000', high: '10000000-0000-0000-0000-000000000000' });
    expect(bucketRange('ff')).toEqual({ low: 'ff000000-0000-0000-0000-000000000000', high: null });
    expect(bucketRange('12345678').high).toBe('12345679-0000-0000-0000-000000000000');
  });

  it('refuses what is not an even number of lower-case hex digits', () => {
    for (const bad of ['a', 'AB', 'xy', '123456789a']) expect(() => bucketRange(bad)).toThrow(/hex digits/);
  });
});
