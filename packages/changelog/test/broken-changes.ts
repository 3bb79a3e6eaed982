// Changes broken in one field, for the property tests of the readers of received changes (the in-place
// check and the batch scanner): each field a change has, two it must not, and values wrong for them.
import fc from 'fast-check';

/** The fields of a change, and two that no change may carry. */
const FIELDS = [
  'sequence',
  'table_name',
  'record_id',
  'operation',
  'change_data',
  'old_data',
  'timestamp',
  'origin_node_id',
  'origin_sequence',
  'hlc',
  'extra',
  '__proto__',
];

/** Something wrong (or merely unusual) in one field. */
const oddValue = fc.constantFrom<unknown>(
  undefined,
  null,
  '',
  'x'.repeat(101),
  'not-a-uuid',
  '12a',
  '-1',
  '12345678901234567890',
  'Insert',
  'upsert',
  '2026-11-26 10:00',
  '2026-11-26T10:00:00',
  42,
  1.5,
  true,
  [],
  {},
  { id: 'other' },
  ['a'],
);

/** A change of `valid` with one field set to an odd value, or removed (`__proto__` set as an own field). */
export function brokenChanges(valid: fc.Arbitrary<object>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(valid, fc.constantFrom(...FIELDS), oddValue).map(([change, field, value]) => {
    const broken: Record<string, unknown> = { ...change };
    if (value === undefined) delete broken[field];
    else Object.defineProperty(broken, field, { value, enumerable: true, writable: true, configurable: true });
    return broken;
  });
}
