// Reading a batch of changes from the JSON text it travels in, keeping each row image as the text it came
// in. The applier hands row images to PostgreSQL as JSON text, so they are never parsed into objects
// and serialized again (the largest part of a batch, and work for nothing); kept as text, numbers also
// stay exactly as sent (JSON.parse turns 1.0 into 1 and rounds integers past 2^53).
//
// The scanner takes the common shape only — every change field a string, row images objects or null,
// a row image's id a string — and checks it as changeSchema does. For anything else it gives undefined,
// and the caller parses the text the ordinary way (which also words the errors). It accepts no text that
// JSON.parse refuses, and gives what JSON.parse followed by changeSchema would (a property test holds
// the two together).
import {
  acceptChangeFast,
  changeSchema,
  isBigintString,
  isChangeTimestamp,
  isName,
  isOperation,
  isScopeExitFlag,
  isUuid,
  type Change,
  type Operation,
} from './change.ts';
import { BatchRejectedError } from './errors.ts';
import { CLOSE_BRACKET, COLON, COMMA, JsonCursor, LEFT_SHAPE, LETTER_N, leave, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-cursor.ts';

/** A change checked as changeSchema checks it, its row images as JSON text. */
export interface IncomingChange {
  table_name: string;
  /** Lower case. */
  record_id: string;
  operation: Operation;
  /** The row image as JSON text (an object), or null. */
  change_data_json: string | null;
  /** The row image's keys: the columns it sets. */
  columns: readonly string[];
  old_data_json: string | null;
  timestamp: string;
  origin_node_id: string;
  origin_sequence: string;
  hlc: string;
  /** A scope exit (see scope.ts): a delete that stands here but is never sent on. */
  scope_exit: boolean;
}

/** A JSON object document with a `changes` array, and its other members (scalars only). */
export interface ChangesDocument {
  changes: IncomingChange[];
  fields: Record<string, string | number | boolean | null>;
}

/**
 * A change already parsed and checked (changeSchema), in the applier's form. Its row images are
 * serialized on first use, or by serializeRowImages — which the applier calls while PostgreSQL looks up
 * the batch's standing versions, so that the work overlaps the wait.
 */
class ParsedChange implements IncomingChange {
  readonly table_name: string;
  readonly record_id: string;
  readonly operation: Operation;
  readonly columns: readonly string[];
  readonly timestamp: string;
  readonly origin_node_id: string;
  readonly origin_sequence: string;
  readonly hlc: string;
  readonly scope_exit: boolean;
  readonly #change: Change;
  #images: { change: string | null; old: string | null } | undefined;

  constructor(c: Change) {
    this.#change = c;
    this.table_name = c.table_name;
    this.record_id = c.record_id;
    this.operation = c.operation;
    this.columns = c.change_data === null ? [] : Object.keys(c.change_data);
    this.timestamp = c.timestamp;
    this.origin_node_id = c.origin_node_id;
    this.origin_sequence = c.origin_sequence;
    this.hlc = c.hlc;
    this.scope_exit = c.scope_exit === true;
  }

  get change_data_json(): string | null {
    return this.serialize().change;
  }

  get old_data_json(): string | null {
    return this.serialize().old;
  }

  serialize(): { change: string | null; old: string | null } {
    if (this.#images === undefined) {
      const c = this.#change;
      this.#images = {
        change: c.change_data === null ? null : JSON.stringify(c.change_data),
        old: c.old_data === null || c.old_data === undefined ? null : JSON.stringify(c.old_data),
      };
    }
    return this.#images;
  }
}

export function incomingFromChange(c: Change): IncomingChange {
  return new ParsedChange(c);
}

/** Serializes the row images of changes given as objects now (those read as text already are). */
export function serializeRowImages(changes: IncomingChange[]): void {
  for (const c of changes) if (c instanceof ParsedChange) c.serialize();
}

/**
 * Changes parsed the ordinary way (objects), checked against changeSchema; throws BatchRejectedError,
 * naming the change and the field, on the first fault.
 */
export function checkChanges(input: unknown[]): IncomingChange[] {
  return input.map((raw, index) => {
    const fast = acceptChangeFast(raw);
    if (fast) return incomingFromChange(fast);
    const parsed = changeSchema.safeParse(raw);
    if (parsed.success) return incomingFromChange(parsed.data);
    const identity = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(change)';
    const known = typeof identity.origin_node_id === 'string' && typeof identity.origin_sequence === 'string';
    throw new BatchRejectedError(`${field}: ${issue.message}`, {
      index,
      ...(known ? { change: `${identity.origin_node_id}/${identity.origin_sequence}` } : {}),
    });
  });
}

const NO_COLUMNS: readonly string[] = Object.freeze([]);
const PLAIN_KEY = /^[\w$ -]*$/;

const CHANGE_KEYS = [
  'change_data',
  'old_data',
  'table_name',
  'record_id',
  'operation',
  'timestamp',
  'origin_node_id',
  'origin_sequence',
  'hlc',
  'sequence',
  'scope_exit',
] as const;
type ChangeKey = (typeof CHANGE_KEYS)[number];
const CHANGE_KEYS_BY_LENGTH: ChangeKey[][] = [];
for (const key of CHANGE_KEYS) {
  CHANGE_KEYS_BY_LENGTH[key.length] ??= [];
  CHANGE_KEYS_BY_LENGTH[key.length]!.push(key);
}

/** Reads changes from a batch's JSON text (see scanChangesDocument). */
class BatchText extends JsonCursor {
  /** The keys of the last row image read, when all are plain. */
  previousColumns: readonly string[] = NO_COLUMNS;

  /** A change, checked. */
  change(): IncomingChange {
    if (this.next() !== OPEN_BRACE) leave();
    const found = new Found();
    if (!this.openObject()) {
      do {
        const key = this.changeKey();
        switch (key) {
          case 'change_data':
            this.rowImage(found);
            break;
          case 'old_data':
            found.old_data_json = this.oldImage();
            break;
          case 'scope_exit': {
            const flag = this.scalar();
            if (typeof flag !== 'boolean') leave();
            found.scope_exit = flag;
            break;
          }
          default:
            found[key] = this.stringValue();
        }
      } while (!this.endOfMembers());
    }
    return checked(found);
  }

  /**
   * The change field whose key starts at the next non-blank character, and its colon; recognised in
   * place, without making a string of it. A key written with escapes leaves the common shape.
   */
  changeKey(): ChangeKey {
    if (this.next() !== QUOTE) leave();
    const text = this.text;
    const start = this.at + 1;
    const end = text.indexOf('"', start);
    if (end < 0) leave();
    const key = CHANGE_KEYS_BY_LENGTH[end - start]?.find((name) => text.startsWith(name, start));
    if (key === undefined) leave();
    this.at = end + 1;
    this.expect(COLON);
    return key;
  }

  /**
   * change_data: null, or an object whose keys are noted and whose id must be a string. Row images of a
   * batch mostly have the same keys: a key list equal to the previous one is that same array (no
   * string or array made per change).
   */
  rowImage(found: Found): void {
    const c = this.next();
    found.id = undefined;
    if (c === LETTER_N) {
      this.literal('null');
      found.change_data_json = null;
      found.columns = NO_COLUMNS;
      return;
    }
    if (c !== OPEN_BRACE) leave();
    const text = this.text;
    const start = this.at;
    const previous = this.previousColumns;
    let fresh: string[] | undefined; // made only once the keys differ from the previous ones
    let count = 0;
    if (!this.openObject()) {
      do {
        if (this.next() !== QUOTE) leave();
        const same = previous[count];
        let key: string;
        if (fresh === undefined && same !== undefined && text.charCodeAt(this.at + 1 + same.length) === QUOTE && text.startsWith(same, this.at + 1)) {
          key = same;
          this.at += same.length + 2;
        } else {
          key = this.string();
          fresh ??= previous.slice(0, count);
          fresh.push(key);
        }
        count++;
        this.expect(COLON);
        if (key === 'id') found.id = this.stringValue();
        else this.skipValue();
      } while (!this.endOfMembers());
    }
    const columns = fresh ?? (count === previous.length ? previous : previous.slice(0, count));
    found.change_data_json = text.slice(start, this.at);
    found.columns = columns;
    // Only plain keys are compared in place next time: one with a quote, a backslash or a control
    // character is not spelled as itself between quotes.
    if (columns !== previous) this.previousColumns = columns.every((k) => PLAIN_KEY.test(k)) ? columns : NO_COLUMNS;
  }

  oldImage(): string | null {
    const c = this.next();
    if (c === LETTER_N) {
      this.literal('null');
      return null;
    }
    if (c !== OPEN_BRACE) leave();
    const start = this.at;
    this.skipValue();
    return this.text.slice(start, this.at);
  }
}

/** The fields of one change as found, before the checks. */
class Found {
  table_name: string | undefined = undefined;
  record_id: string | undefined = undefined;
  operation: string | undefined = undefined;
  timestamp: string | undefined = undefined;
  origin_node_id: string | undefined = undefined;
  origin_sequence: string | undefined = undefined;
  hlc: string | undefined = undefined;
  sequence: string | undefined = undefined;
  change_data_json: string | null | undefined = undefined;
  columns: readonly string[] = NO_COLUMNS;
  /** change_data's id. */
  id: string | undefined = undefined;
  old_data_json: string | null = null;
  scope_exit: boolean | undefined = undefined;
}

/** changeSchema's checks (acceptChangeFast's, for strings). */
function checked(f: Found): IncomingChange {
  if (f.sequence !== undefined && !isBigintString(f.sequence)) leave();
  if (!isName(f.table_name, 63) || !isName(f.origin_node_id, 100)) leave();
  if (!isUuid(f.record_id)) leave();
  if (!isOperation(f.operation)) leave();
  if (f.change_data_json === undefined) leave();
  if (!isBigintString(f.origin_sequence) || !isBigintString(f.hlc)) leave();
  if (f.timestamp === undefined || !isChangeTimestamp(f.timestamp)) leave();
  const recordId = f.record_id.toLowerCase();
  if (f.operation !== 'delete' && (f.change_data_json === null || f.id?.toLowerCase() !== recordId)) leave();
  if (f.scope_exit !== undefined && !isScopeExitFlag(f.scope_exit, f.operation, f.change_data_json)) leave();
  return {
    table_name: f.table_name,
    record_id: recordId,
    operation: f.operation,
    change_data_json: f.change_data_json,
    columns: f.columns,
    old_data_json: f.old_data_json,
    timestamp: f.timestamp,
    origin_node_id: f.origin_node_id,
    origin_sequence: f.origin_sequence,
    hlc: f.hlc,
    scope_exit: f.scope_exit === true,
  };
}

/**
 * A JSON object whose `changes` member is an array of changes in the common shape and whose other
 * members are scalars — a batch as posted, or a page as read — or undefined for any other text.
 */
export function scanChangesDocument(text: string): ChangesDocument | undefined {
  const json = new BatchText(text);
  let changes: IncomingChange[] | undefined;
  const fields: ChangesDocument['fields'] = {};
  try {
    if (json.next() !== OPEN_BRACE) return undefined;
    if (!json.openObject()) {
      do {
        const key = json.key();
        if (key === 'changes') changes = readChanges(json);
        else if (key === '__proto__')
          leave(); // JSON.parse would make it a member; the default parser refuses it
        else fields[key] = json.scalar();
      } while (!json.endOfMembers());
    }
    if (!Number.isNaN(json.next())) return undefined; // something after the document
  } catch (err) {
    if (err === LEFT_SHAPE) return undefined;
    throw err;
  }
  return changes ? { changes, fields } : undefined;
}

function readChanges(json: BatchText): IncomingChange[] {
  if (json.next() !== OPEN_BRACKET) leave();
  json.at++;
  const changes: IncomingChange[] = [];
  if (json.next() === CLOSE_BRACKET) {
    json.at++;
    return changes;
  }
  for (;;) {
    changes.push(json.change());
    const c = json.next();
    json.at++;
    if (c === CLOSE_BRACKET) return changes;
    if (c !== COMMA) leave();
  }
}
