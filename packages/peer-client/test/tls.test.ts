import { describe, expect, it } from 'vitest';
import { normalizeFingerprint } from '@catchup/peer-client';

const COLONS = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

describe('normalizeFingerprint', () => {
  it('writes 64 hex digits, with or without colons, in either case, as upper-case pairs joined by colons', () => {
    expect(normalizeFingerprint(COLONS)).toBe(COLONS);
    expect(normalizeFingerprint(COLONS.toLowerCase())).toBe(COLONS);
    expect(normalizeFingerprint(COLONS.replaceAll(':', '').toLowerCase())).toBe(COLONS);
    expect(normalizeFingerprint(` ${COLONS} `)).toBe(COLONS);
  });

  it('refuses anything else', () => {
    expect(normalizeFingerprint('')).toBeNull();
    expect(normalizeFingerprint(COLONS.slice(3))).toBeNull(); // 31 pairs
    expect(normalizeFingerprint(`${COLONS.replaceAll(':', '')}00`)).toBeNull(); // 66 digits
    expect(normalizeFingerprint(COLONS.replace('AB', 'GG'))).toBeNull();
    expect(normalizeFingerprint(COLONS.replace(':', '').replace('CD', 'CD:'))).toBeNull(); // colons out of place
    expect(normalizeFingerprint(COLONS.replaceAll(':', '-'))).toBeNull();
  });
});
