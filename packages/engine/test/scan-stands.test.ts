import { describe, expect, it } from 'vitest';
import { DETECTION_SCAN_STANDS_MS, scanStandsSince } from '../src/files.ts';

describe("when a folder sync builds on its detection's scan", () => {
  const now = 1_800_000_000_000;

  it('a sync no detection decided scans', () => {
    expect(scanStandsSince(undefined, now)).toBeUndefined();
  });

  it("the first attempt takes the detection's scan while it is recent", () => {
    expect(scanStandsSince({ scannedSince: now - 200, attempt: 0 }, now)).toBe(now - 200);
    expect(scanStandsSince({ scannedSince: now - DETECTION_SCAN_STANDS_MS, attempt: 0 }, now)).toBe(now - DETECTION_SCAN_STANDS_MS);
  });

  it('an older scan does not stand: only one begun within DETECTION_SCAN_STANDS_MS does', () => {
    expect(scanStandsSince({ scannedSince: now - DETECTION_SCAN_STANDS_MS - 1, attempt: 0 }, now)).toBe(now - DETECTION_SCAN_STANDS_MS);
  });

  it('a retry scans again (its first attempt may have failed on a file written after that scan)', () => {
    expect(scanStandsSince({ scannedSince: now - 200, attempt: 1 }, now)).toBeUndefined();
  });
});
