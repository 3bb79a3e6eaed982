// A change as it travels between nodes (snake_case, 64-bit numbers as decimal strings).
import { z } from 'zod';

export const OPERATIONS = ['insert', 'update', 'delete', 'soft_delete', 'reactivate'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** PostgreSQL's bigint range: every position, sequence and stamp fits it. */
export const MAX_BIGINT = 9223372036854775807n;
const MAX_BIGINT_TEXT = String(MAX_BIGINT);
/** Canonical decimal: no sign, no leading zero; at most 19 digits, compared with the maximum below. */
const CANONICAL_DECIMAL = /^(?:0|[1-9]\d{0,18})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A number of the wire: a non-negative integer that fits bigint, written as a canonical decimal string
 * (no leading zeros), so that one number has one spelling and an identity one form.
 */
export const isBigintString = (v: unknown): v is string => typeof v === 'string' && CANONICAL_DECIMAL.test(v) && (v.length < 19 || v <= MAX_BIGINT_TEXT);
/** isBigintString as a zod schema: every number of the wire (positions, sequences, stamps). */
export const bigintString = z.string().refine(isBigintString, 'a non-negative integer that fits bigint, as a decimal string without leading zeros');
const uuid = z.string().regex(UUID, 'a UUID');
// Row images are checked for shape only (column names and types are checked against the catalog);
// z.custom keeps the object as it is instead of copying it.
const row = z.custom<Record<string, unknown>>(isObject, 'expected an object (a row image)');
const timestamp = z.iso.datetime({ offset: true });
/** Whether a change's timestamp is one changeSchema accepts. */
export const isChangeTimestamp = (value: string) => timestamp.safeParse(value).success;

const changeFields = {
  /** The sender's log position (informative; the receiver assigns its own). */
  sequence: bigintString.optional(),
  table_name: z.string().min(1).max(63),
  record_id: uuid.transform((id) => id.toLowerCase()),
  operation: z.enum(OPERATIONS),
  change_data: row.nullable(),
  old_data: row.nullable().optional(),
  timestamp,
  origin_node_id: z.string().min(1).max(100),
  origin_sequence: bigintString,
  hlc: bigintString,
  /** A change of a row that left the receiver's team scope, sent as a delete without images (see scope.ts). */
  scope_exit: z.boolean().optional(),
};

/** A change as this node sends it (the log's own rows: no re-validation needed). */
export const changeOutputSchema = z.object({ ...changeFields, record_id: uuid });

/** A change as received: validated, record id normalised to lower case. */
export const changeSchema = z.object(changeFields).superRefine((c, ctx) => {
  if (c.scope_exit === true && (c.operation !== 'delete' || c.change_data !== null)) {
    ctx.addIssue({ code: 'custom', path: ['scope_exit'], message: 'a scope exit is a delete without change_data' });
  }
  if (c.operation === 'delete') return;
  if (!c.change_data) {
    ctx.addIssue({ code: 'custom', path: ['change_data'], message: `required for operation ${c.operation}` });
  } else if (String(c.change_data.id).toLowerCase() !== c.record_id.toLowerCase()) {
    ctx.addIssue({ code: 'custom', path: ['change_data', 'id'], message: 'must equal record_id' });
  }
});

export type Change = z.infer<typeof changeSchema>;

const CHANGE_KEYS = new Set(Object.keys(changeFields));
const OPERATION_SET = new Set<string>(OPERATIONS);
/** The checks of changeSchema's fields, for readers that check in place. */
export const isName = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
export const isOperation = (v: unknown): v is Operation => typeof v === 'string' && OPERATION_SET.has(v);

/**
 * changeSchema's common case without its copy of every change: a change that passes is returned as it
 * is, its record id lower-cased in place; anything else gives undefined, and changeSchema then says why.
 * It accepts nothing that changeSchema refuses and gives what changeSchema would (a property test holds
 * the two together). zod copies every object it parses, and a batch holds thousands of changes.
 */
export function acceptChangeFast(raw: unknown): Change | undefined {
  if (!isObject(raw)) return undefined;
  for (const key in raw) if (!CHANGE_KEYS.has(key)) return undefined;
  const c = raw;
  if (c.sequence !== undefined && !isBigintString(c.sequence)) return undefined;
  if (!isName(c.table_name, 63) || !isName(c.origin_node_id, 100)) return undefined;
  if (!isUuid(c.record_id)) return undefined;
  if (!isOperation(c.operation)) return undefined;
  if (c.change_data !== null && !isObject(c.change_data)) return undefined;
  if (c.old_data !== undefined && c.old_data !== null && !isObject(c.old_data)) return undefined;
  if (!isBigintString(c.origin_sequence) || !isBigintString(c.hlc)) return undefined;
  if (typeof c.timestamp !== 'string' || !isChangeTimestamp(c.timestamp)) return undefined;
  if (c.scope_exit !== undefined && !isScopeExitFlag(c.scope_exit, c.operation, c.change_data)) return undefined;
  c.record_id = c.record_id.toLowerCase();
  if (c.operation !== 'delete' && (!c.change_data || String(c.change_data.id).toLowerCase() !== c.record_id)) return undefined;
  return c as Change;
}

/** Whether a scope_exit value is one changeSchema accepts with this operation and change_data. */
export const isScopeExitFlag = (flag: unknown, operation: string, changeData: unknown) =>
  flag === false || (flag === true && operation === 'delete' && changeData === null);

/** The identity of a change network-wide. */
export const changeIdentity = (c: Pick<Change, 'origin_node_id' | 'origin_sequence'>) => `${c.origin_node_id}/${c.origin_sequence}`;

/** Orders two canonical decimal strings (isBigintString) by value: negative, zero or positive. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length > b.length ? 1 : -1;
  return a === b ? 0 : a > b ? 1 : -1;
}

/** A change's place in last-writer-wins order. */
export interface Version {
  hlc: string;
  node: string;
  /** The origin sequence: settles two stamps a node issued alike (an honest node never does; a hostile peer can). */
  sequence: string;
}

export const versionOf = (c: Pick<Change, 'hlc' | 'origin_node_id' | 'origin_sequence'>): Version => ({
  hlc: c.hlc,
  node: c.origin_node_id,
  sequence: c.origin_sequence,
});

/** Last-writer-wins order: hybrid logical clock, then node id, then origin sequence. Positive when a wins over b. */
export function compareVersions(a: Version, b: Version): number {
  const byClock = compareDecimal(a.hlc, b.hlc);
  if (byClock !== 0) return byClock;
  if (a.node !== b.node) return a.node > b.node ? 1 : -1;
  return compareDecimal(a.sequence, b.sequence);
}
