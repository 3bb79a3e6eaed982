// The in-place check of received changes must never let through what the zod schema refuses, and must
// give what the schema would: a property test over valid changes and changes broken in every field.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptChangeFast, changeSchema } from '@catchup/changelog';
import { compareDecimal, isBigintString, MAX_BIGINT } from '../src/change.ts';
import { brokenChanges } from './broken-changes.ts';

const uuidArb = fc.uuid().chain((id) => fc.constantFrom(id, id.toUpperCase()));

const validChange = fc
  .record({
    sequence: fc.option(fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String), { nil: undefined }),
    table_name: fc.constantFrom('teams', 'scouting_data', 'a'.repeat(63)),
    record_id: uuidArb,
    operation: fc.constantFrom('insert', 'update', 'delete', 'soft_delete', 'reactivate'),
    old_data: fc.option(fc.option(fc.constant({ name: 'before' }), { nil: null }), { nil: undefined }),
    timestamp: fc.constantFrom('2026-11-26T10:00:00.123Z', '2026-11-26T10:00:00+02:00', '2026-11-26T10:00:00.123456+00:00'),
    origin_node_id: fc.constantFrom('node-a', 'x'.repeat(100)),
    origin_sequence: fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String),
    hlc: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
  })
  .map(({ sequence, old_data, ...c }) => ({
    ...c,
    ...(sequence === undefined ? {} : { sequence }),
    ...(old_data === undefined ? {} : { old_data }),
    change_data: c.operation === 'delete' ? null : { id: c.record_id.toLowerCase(), name: 'Poofs' },
  }));

const brokenChange = brokenChanges(validChange).map((broken) => JSON.parse(JSON.stringify(broken)) as unknown);

describe('acceptChangeFast', () => {
  it('accepts every valid change and gives exactly what the zod schema gives', () => {
    fc.assert(
      fc.property(validChange, (change) => {
        const expected = changeSchema.parse(structuredClone(change));
        const fast = acceptChangeFast(structuredClone(change));
        expect(fast).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts what the zod schema refuses, and agrees on what it accepts', () => {
    let refused = 0;
    fc.assert(
      fc.property(brokenChange, (raw) => {
        const zod = changeSchema.safeParse(structuredClone(raw));
        const fast = acceptChangeFast(structuredClone(raw));
        if (!zod.success) refused++;
        if (fast !== undefined) {
          expect(zod.success).toBe(true);
          expect(fast).toEqual(zod.data);
        }
      }),
      { numRuns: 2000 },
    );
    expect(refused).toBeGreaterThan(500); // the broken changes really are broken, mostly
  });
});

describe('compareDecimal (the order of clock stamps)', () => {
  it('orders canonical decimal strings as their values', () => {
    const decimal = fc.bigInt({ min: 0n, max: MAX_BIGINT }).map((n) => n.toString());
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        const x = BigInt(a);
        const y = BigInt(b);
        expect(compareDecimal(a, b)).toBe(x === y ? 0 : x > y ? 1 : -1);
      }),
      { numRuns: 2000 },
    );
    expect(compareDecimal('10', '9')).toBe(1);
  });
});

describe('numbers on the wire (isBigintString)', () => {
  it('takes exactly the canonical decimals that fit bigint', () => {
    for (const ok of ['0', '7', '303', '9223372036854775807', '1000000000000000000']) expect(isBigintString(ok)).toBe(true);
    for (const bad of [
      '',
      '00',
      '0303',
      '0000000000000000303',
      '-1',
      '+1',
      '1.0',
      '1e3',
      ' 1',
      '9223372036854775808',
      '9999999999999999999',
      '10000000000000000000',
    ]) {
      expect(isBigintString(bad), bad).toBe(false);
    }
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.nat({ max: 2 }), (n, zeros) => {
        const text = '0'.repeat(zeros) + n.toString();
        expect(isBigintString(text)).toBe(n >= 0n && n <= MAX_BIGINT && text === n.toString());
      }),
      { numRuns: 2000 },
    );
  });
});
