// A run's result: its file changes summed over folders, and the summary line sync_logs stores.
import { describe, expect, it } from 'vitest';
import { catchupResultSchema, describeResult, noFileChanges, sumFileChanges, type CatchupResult } from '../src/catchup-result.ts';

const result = (over: Partial<CatchupResult> = {}): CatchupResult => ({
  server_id: 1,
  server_name: 'b',
  started_at: '2026-06-30T12:00:00.000Z',
  completed_at: '2026-06-30T12:00:01.000Z',
  success: true,
  database_changes: { sent: 4, received: 3, applied: 2, skipped_duplicate: 1, skipped_stale: 0 },
  file_changes: { uploaded: 1, downloaded: 2, deleted: 3, conflicts: 4, bytes: 100 },
  errors: [],
  duration: 1,
  mode: 'incremental',
  ...over,
});

describe('file changes of a run', () => {
  it('sums every folder', () => {
    expect(
      sumFileChanges([
        { uploaded: 1, downloaded: 2, deleted: 0, conflicts: 1, bytes: 10 },
        { uploaded: 3, downloaded: 0, deleted: 2, conflicts: 0, bytes: 5 },
      ]),
    ).toEqual({ uploaded: 4, downloaded: 2, deleted: 2, conflicts: 1, bytes: 15 });
  });

  it('no folder: nothing moved', () => {
    expect(sumFileChanges([])).toEqual(noFileChanges());
    expect(noFileChanges()).toEqual({ uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0, bytes: 0 });
  });
});

describe('the summary of a run', () => {
  it('counts applied changes and files moved (uploaded, downloaded, deleted)', () => {
    expect(describeResult(result())).toBe('Applied 2 database changes, 6 files synced (sent 4, received 3)');
  });

  it('adds the number of errors', () => {
    expect(describeResult(result({ success: false, errors: ['x', 'y'] }))).toBe('Applied 2 database changes, 6 files synced (sent 4, received 3); 2 error(s)');
  });

  it('names what a full baseline moved, by direction', () => {
    const baseline = { directions: ['receive' as const], rows_sent: 0, tombstones_sent: 0, rows_received: 5, tombstones_received: 1 };
    expect(describeResult(result({ mode: 'full baseline', full_baseline: baseline }))).toBe(
      'Full baseline (received 5 rows and 1 tombstones): Applied 2 database changes, 6 files synced (sent 4, received 3)',
    );
    const both = { ...baseline, directions: ['send' as const, 'receive' as const], rows_sent: 7, tombstones_sent: 2 };
    expect(describeResult(result({ mode: 'full baseline', full_baseline: both }))).toMatch(
      /^Full baseline \(sent 7 rows and 2 tombstones; received 5 rows and 1 tombstones\): /,
    );
  });

  it('the schema accepts a result and refuses one without its counts', () => {
    expect(catchupResultSchema.safeParse(result()).success).toBe(true);
    const { database_changes: _, ...partial } = result();
    expect(catchupResultSchema.safeParse(partial).success).toBe(false);
  });
});
