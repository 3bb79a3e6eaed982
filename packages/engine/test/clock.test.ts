// The clock bound's decision (SPEC I13): how far a peer's clock is from this node's, and when that refuses it.
import { describe, expect, it } from 'vitest';
import { clockOffsetMs, clockRefusal } from '../src/clock.ts';

describe("a peer's clock offset", () => {
  it("is the peer's time minus this node's at the midpoint of the call, in whole milliseconds", () => {
    const before = new Date('2026-11-29T12:00:00.000Z');
    const after = new Date('2026-11-29T12:00:00.101Z');
    expect(clockOffsetMs(new Date('2026-11-29T13:00:00.050Z'), before, after)).toBe(3_600_000);
    expect(clockOffsetMs(new Date('2026-11-29T11:59:59.000Z'), before, after)).toBe(-1_050);
  });
});

describe('the clock bound', () => {
  it('refuses a peer ahead by more than the bound, saying by how much, which setting, and what to do', () => {
    expect(clockRefusal(3_600_123, 300, 'site-b')).toBe(
      'clock offset +3600123 ms exceeds catchup_max_clock_skew_seconds (300 s); fix the clock of site-b or raise the setting',
    );
  });

  it('refuses a peer behind by more than the bound', () => {
    expect(clockRefusal(-300_001, 300, 'site-c')).toBe(
      'clock offset -300001 ms exceeds catchup_max_clock_skew_seconds (300 s); fix the clock of site-c or raise the setting',
    );
  });

  it('accepts a peer within the bound, the bound itself included', () => {
    for (const offset of [0, 1, -1, 299_999, 300_000, -300_000]) expect(clockRefusal(offset, 300, 'site-b')).toBeNull();
    expect(clockRefusal(3_600_123, 7200, 'site-b')).toBeNull();
  });
});
