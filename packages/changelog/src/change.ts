// A change as it travels between nodes (snake_case, 64-bit numbers as decimal strings).
import { z } from 'zod';

export const OPERATIONS = ['insert', 'update', 'delete', 'soft_delete', 'reactivate'] as const;
export type Operation = (typeof OPERATIONS)[number];

const bigintString = z.string().regex(/^\d{1,19}$/, 'a non-negative integer as a decimal string');
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a UUID');
// Row images are checked for shape only (column names and types are checked against the catalog);
// z.custom keeps the object as it is instead of copying it.
const row = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'expected an object (a row image)',
);

const changeFields = {
  /** The sender's log position (informative; the receiver assigns its own). */
  sequence: bigintString.optional(),
  table_name: z.string().min(1).max(63),
  record_id: uuid.transform((id) => id.toLowerCase()),
  operation: z.enum(OPERATIONS),
  change_data: row.nullable(),
  old_data: row.nullable().optional(),
  timestamp: z.iso.datetime({ offset: true }),
  origin_node_id: z.string().min(1).max(100),
  origin_sequence: bigintString,
  hlc: bigintString,
};

/** A change as this node sends it (the log's own rows: no re-validation needed). */
export const changeOutputSchema = z.object({ ...changeFields, record_id: uuid });

/** A change as received: validated, record id normalised to lower case. */
export const changeSchema = z
  .object(changeFields)
  .superRefine((c, ctx) => {
    if (c.operation === 'delete') return;
    if (!c.change_data) {
      ctx.addIssue({ code: 'custom', path: ['change_data'], message: `required for operation ${c.operation}` });
    } else if (String(c.change_data.id).toLowerCase() !== c.record_id.toLowerCase()) {
      ctx.addIssue({ code: 'custom', path: ['change_data', 'id'], message: 'must equal record_id' });
    }
  });

export type Change = z.infer<typeof changeSchema>;

/** The identity of a change network-wide. */
export const changeIdentity = (c: Pick<Change, 'origin_node_id' | 'origin_sequence'>) =>
  `${c.origin_node_id}/${c.origin_sequence}`;

/** Last-writer-wins order: hybrid logical clock, then node id. Positive when a wins over b. */
export function compareVersions(a: { hlc: string; node: string }, b: { hlc: string; node: string }): number {
  const ha = BigInt(a.hlc);
  const hb = BigInt(b.hlc);
  if (ha !== hb) return ha > hb ? 1 : -1;
  return a.node === b.node ? 0 : a.node > b.node ? 1 : -1;
}
