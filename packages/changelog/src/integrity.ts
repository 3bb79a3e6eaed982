// What a node refuses from a peer holding a valid key (SPEC I12, I13): pure decisions, no I/O.
import { changeIdentity, compareDecimal } from './change.ts';
import { BatchRejectedError, IdentityConflictError } from './errors.ts';
import type { IncomingChange } from './wire.ts';

/** Ticks of the hybrid logical clock per millisecond (the stamp is milliseconds × 65536 + a counter). */
const HLC_TICKS_PER_MS = 65536n;

/** What an identity stands for: the row it wrote, how, when, and the row image. */
export interface ChangeContent {
  table_name: string;
  record_id: string;
  operation: string;
  hlc: string;
  /** The row image as JSON text, or null (a delete). */
  change_data_json: string | null;
  /** A scope exit (see scope.ts): it stands for a change whose content its holder may not see. */
  scope_exit?: boolean;
}

/**
 * Whether two changes under one identity are the same change. Row images count as equal when they hold
 * the same JSON value: the text may differ in spacing, key order or number spelling after a relay that
 * parsed and serialized it.
 */
function sameContent(a: ChangeContent, b: ChangeContent): boolean {
  if (a.table_name !== b.table_name || a.record_id !== b.record_id || a.operation !== b.operation || a.hlc !== b.hlc) return false;
  if (a.change_data_json === b.change_data_json) return true;
  if (a.change_data_json === null || b.change_data_json === null) return false;
  return sameJsonValue(JSON.parse(a.change_data_json), JSON.parse(b.change_data_json));
}

const sameVersionedRow = (a: ChangeContent, b: ChangeContent) => a.table_name === b.table_name && a.record_id === b.record_id && a.hlc === b.hlc;

function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJsonValue(item, other[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((key) => Object.hasOwn(y, key) && sameJsonValue(x[key], y[key]));
}

/**
 * The first change of a batch that repeats an earlier one's identity with other content (I12); repeats
 * with the same content are plain duplicates (I3).
 */
export function checkRepeatsAgree(changes: IncomingChange[]): void {
  const first = new Map<string, IncomingChange>();
  changes.forEach((c, index) => {
    const identity = changeIdentity(c);
    const earlier = first.get(identity);
    if (!earlier) first.set(identity, c);
    else if (!sameContent(c, earlier)) {
      throw new IdentityConflictError(`the batch carries ${identity} twice with different content`, { index, change: identity });
    }
  });
}

/**
 * Refuses a change whose identity the log already holds with other content, or that claims this node's
 * own identity without being in its log (I12): applying either would put a row in a table that the log
 * does not explain, and the tables of the network would drift apart unseen. An own identity at or below
 * `ownPrunedThrough` (the highest own origin sequence pruned here) that is not in the log was pruned as
 * superseded (I11): a peer may relay it back, and it is returned among the identities to skip as stale
 * (checkPrunedOwnLose makes sure none of them would win).
 */
export function checkIdentities(changes: IncomingChange[], logged: Map<string, ChangeContent>, nodeId: string, ownPrunedThrough = '0'): Set<string> {
  const prunedOwn = new Set<string>();
  changes.forEach((c, index) => {
    const identity = changeIdentity(c);
    const known = logged.get(identity);
    if (known) {
      // A scope exit and the change it stands for are one change seen through a team scope: the row
      // and version agree, the content one of them lacks. Either way round, the log has it already.
      if (known.scope_exit || c.scope_exit ? !sameVersionedRow(c, known) : !sameContent(c, known)) {
        throw new IdentityConflictError(`${identity} is already logged as ${describe(known)}; this change is ${describe(c)}`, { index, change: identity });
      }
    } else if (c.origin_node_id === nodeId) {
      if (compareDecimal(c.origin_sequence, ownPrunedThrough) <= 0) prunedOwn.add(identity);
      else throw new IdentityConflictError(`claims to come from this node (${nodeId}), which never made change ${identity}`, { index, change: identity });
    }
  });
  return prunedOwn;
}

/**
 * A change of this node's that was pruned here lost to a version the log keeps, and only newer versions
 * come after it: one that would win over its row's standing version was never made here (I12).
 */
export function checkPrunedOwnLose(changes: IncomingChange[], winners: IncomingChange[], prunedOwn: Set<string>): void {
  if (prunedOwn.size === 0) return;
  for (const c of winners) {
    const identity = changeIdentity(c);
    if (prunedOwn.has(identity)) {
      throw new IdentityConflictError(
        `claims this node's identity ${identity}, pruned here as superseded, yet wins over the row's standing version: this node never made it`,
        { index: changes.findIndex((b) => changeIdentity(b) === identity), change: identity },
      );
    }
  }
}

const describe = (c: ChangeContent) => `${c.operation} of ${c.table_name} ${c.record_id} at hlc ${c.hlc}`;

/**
 * Refuses a batch holding a stamp further ahead of this node's clock than the bound (I13): accepted,
 * it would move every later local stamp past it (a stamp at bigint's end stops all local writes), and
 * its change would beat real later edits everywhere.
 */
export function checkStamps(changes: IncomingChange[], wallClockMs: bigint, maxClockSkewMs: number): void {
  const limit = String((wallClockMs + BigInt(maxClockSkewMs)) * HLC_TICKS_PER_MS + (HLC_TICKS_PER_MS - 1n));
  changes.forEach((c, index) => {
    if (compareDecimal(c.hlc, limit) <= 0) return;
    const aheadSeconds = Number(BigInt(c.hlc) / HLC_TICKS_PER_MS - wallClockMs) / 1000;
    throw new BatchRejectedError(
      `hlc: ${c.hlc} is ${formatSeconds(aheadSeconds)} ahead of this node's clock, beyond catchup_max_clock_skew_seconds (${maxClockSkewMs / 1000} s)`,
      { index, change: changeIdentity(c) },
    );
  });
}

const formatSeconds = (s: number) => (s < 86400 ? `${s.toFixed(1)} s` : `${Math.round(s / 86400)} days`);
