// The advisory lock ids: the one SQL takes is the one listed, and no two locks share an id.
import { describe, expect, it } from 'vitest';
import { createPool, FILE_SCAN_LOCK_BASE, LOG_LOCK_ID, PRUNE_LOCK_ID } from '@catchup/db';
import { useTestDatabases } from '@catchup/testing';

const [database] = await useTestDatabases(1, 'locks');

describe('advisory lock ids', () => {
  it('catchup_lock_log() takes LOG_LOCK_ID', async () => {
    const pool = createPool(database!.url);
    try {
      const { rows } = await pool.query<{ def: string }>(`SELECT pg_get_functiondef('catchup_lock_log'::regproc) AS def`);
      expect(rows[0]!.def).toContain(`pg_advisory_xact_lock(${LOG_LOCK_ID})`);
    } finally {
      await pool.end();
    }
  });

  it('the folder scans stay clear of the one-key locks', () => {
    const scans = (id: bigint) => id >= BigInt(FILE_SCAN_LOCK_BASE) && id < BigInt(FILE_SCAN_LOCK_BASE) + 100n;
    expect(scans(LOG_LOCK_ID)).toBe(false);
    expect(scans(PRUNE_LOCK_ID)).toBe(false);
    expect(LOG_LOCK_ID).not.toBe(PRUNE_LOCK_ID);
  });
});
