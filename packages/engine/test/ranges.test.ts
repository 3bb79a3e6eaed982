// Range planning's pure parts: how log positions are cut into the ranges of batch jobs.
import { describe, expect, it } from 'vitest';
import { planReceiveRanges, sendRanges, tableRanks } from '../src/ranges.ts';

describe('ranges to send', () => {
  it('cuts the log at each boundary, the first range starting at the cursor', () => {
    expect(sendRanges('5', ['8', '12'], '12')).toEqual([
      { from: '5', to: '8' },
      { from: '8', to: '12' },
    ]);
  });

  it('positions after the last boundary join the last range: the cursor moves over them too', () => {
    expect(sendRanges('0', ['4', '9'], '15')).toEqual([
      { from: '0', to: '4' },
      { from: '4', to: '15' },
    ]);
  });

  it('without a change to send, positions past the cursor make one range of their own', () => {
    expect(sendRanges('3', [], '7')).toEqual([{ from: '3', to: '7' }]);
  });

  it('nothing past the cursor: no range', () => {
    expect(sendRanges('7', [], '7')).toEqual([]);
  });

  it('compares positions as numbers, not text', () => {
    expect(sendRanges('9', ['10'], '100')).toEqual([{ from: '9', to: '100' }]);
  });
});

describe('ranges to receive', () => {
  it('cuts (cursor, latest] into ranges of the given width, the last one shorter', () => {
    expect(planReceiveRanges('0', '25', 10)).toEqual([
      { from: '0', to: '10' },
      { from: '10', to: '20' },
      { from: '20', to: '25' },
    ]);
  });

  it('nothing when the peer is not ahead', () => {
    expect(planReceiveRanges('25', '25', 10)).toEqual([]);
    expect(planReceiveRanges('30', '25', 10)).toEqual([]);
  });

  it('keeps positions beyond the safe integers exact', () => {
    expect(planReceiveRanges('9007199254740993', '9007199254740995', 1)).toEqual([
      { from: '9007199254740993', to: '9007199254740994' },
      { from: '9007199254740994', to: '9007199254740995' },
    ]);
  });
});

describe('table ranks (table_priorities)', () => {
  it('ranks listed tables by their place, the rest after them all', () => {
    const { ranks, unlisted } = tableRanks(' scouting_data, matches ,');
    expect([...ranks]).toEqual([
      ['scouting_data', 0],
      ['matches', 1],
    ]);
    expect(unlisted).toBe(2);
    expect(tableRanks('')).toEqual({ ranks: new Map(), unlisted: 0 });
  });
});
