// Retention's pure decisions: how a peer stands against this node's pruned horizon, and what a run that
// was a full baseline reports.
import { describe, expect, it } from 'vitest';
import { fullBaselineCounts, retentionCutoff, retentionOf, type ReceiveOutcome, type SendOutcome } from '@catchup/engine';

const DAY = 86_400_000;
const now = new Date('2026-06-30T12:00:00Z');

describe("a peer's standing against retention", () => {
  it('needs a full baseline once its cursor is below the pruned horizon', () => {
    expect(retentionOf('5', { prunedThrough: '9' }, new Date(now.getTime() - 40 * DAY), 30, now)).toEqual({
      needs_full_baseline: true,
      days_until_full_baseline: 0,
    });
    expect(retentionOf('0', { prunedThrough: '1' }, null, 30, now)).toEqual({ needs_full_baseline: true, days_until_full_baseline: 0 });
  });

  it('counts the days until the oldest change it lacks passes the age limit', () => {
    expect(retentionOf('9', { prunedThrough: '9' }, new Date(now.getTime() - 25 * DAY), 30, now)).toEqual({
      needs_full_baseline: false,
      days_until_full_baseline: 5,
    });
    expect(retentionOf('9', { prunedThrough: '0' }, new Date(now.getTime() - 31 * DAY), 30, now)).toEqual({
      needs_full_baseline: false,
      days_until_full_baseline: 0,
    });
  });

  it('lacking nothing, it is not falling behind', () => {
    expect(retentionOf('9', { prunedThrough: '3' }, null, 30, now)).toEqual({ needs_full_baseline: false, days_until_full_baseline: null });
  });

  it('the age limit is max_catchup_days before now', () => {
    expect(retentionCutoff(now, 30).toISOString()).toBe('2026-05-31T12:00:00.000Z');
  });
});

describe('what a full baseline reports', () => {
  const sends: SendOutcome[] = [
    { range: { from: '0', to: '10' }, sent: 10, tombstones: 2 },
    { range: { from: '10', to: '15' }, sent: 5, tombstones: 1 },
  ];
  const receive = (fullBaseline: boolean): ReceiveOutcome => ({
    range: { from: '0', to: '8' },
    received: 8,
    applied: 6,
    skippedDuplicate: 0,
    skippedStale: 2,
    tombstones: 3,
    fullBaseline,
  });

  it('an incremental run reports none', () => {
    expect(fullBaselineCounts({ send: false, receive: false }, sends, [receive(false)])).toBeUndefined();
    expect(fullBaselineCounts(undefined, sends, [])).toBeUndefined();
  });

  it('counts rows and tombstones of the directions that were baselines', () => {
    expect(fullBaselineCounts({ send: true, receive: false }, sends, [receive(false)])).toEqual({
      directions: ['send'],
      rows_sent: 12,
      tombstones_sent: 3,
      rows_received: 0,
      tombstones_received: 0,
    });
  });

  it("a receive is a baseline when the peer's pages said its log was pruned past the range, even if not planned as one", () => {
    expect(fullBaselineCounts({ send: false, receive: false }, sends, [receive(true)])).toEqual({
      directions: ['receive'],
      rows_sent: 0,
      tombstones_sent: 0,
      rows_received: 5,
      tombstones_received: 3,
    });
  });
});
