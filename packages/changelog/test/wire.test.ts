// The batch scanner keeps row images as text: it must take the ordinary shape, never take a text that
// JSON.parse refuses, and give what JSON.parse followed by changeSchema gives (property tests).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changeSchema, scanChangesDocument, type ChangesDocument } from '@catchup/changelog';
import { brokenChanges } from './broken-changes.ts';

const uuidArb = fc.uuid().chain((id) => fc.constantFrom(id, id.toUpperCase()));
const rowExtras = fc.dictionary(
  fc.string({ maxLength: 12 }).filter((k) => k !== 'id'),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 6 },
);

const validChange = fc
  .record({
    sequence: fc.option(fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String), { nil: undefined }),
    table_name: fc.constantFrom('teams', 'scouting_data', 'a'.repeat(63), 'tab\tle "quoted"'),
    record_id: uuidArb,
    operation: fc.constantFrom('insert', 'update', 'delete', 'soft_delete', 'reactivate'),
    old_data: fc.option(fc.option(rowExtras, { nil: null }), { nil: undefined }),
    timestamp: fc.constantFrom('2026-11-26T10:00:00.123Z', '2026-11-26T10:00:00+02:00', '2026-11-26T10:00:00.123456+00:00'),
    origin_node_id: fc.constantFrom('node-a', 'x'.repeat(100), 'nœud "b"\\'),
    origin_sequence: fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String),
    hlc: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
    extras: rowExtras,
    idCase: fc.boolean(),
    exit: fc.constantFrom(undefined, false, true),
  })
  .map(({ sequence, old_data, extras, idCase, exit, ...c }) => ({
    ...c,
    ...(sequence === undefined ? {} : { sequence }),
    ...(old_data === undefined ? {} : { old_data }),
    change_data: c.operation === 'delete' ? null : { ...extras, id: idCase ? c.record_id.toUpperCase() : c.record_id.toLowerCase() },
    // A scope exit is a delete: on another operation the flag is false or absent.
    ...(exit === undefined ? {} : { scope_exit: exit && c.operation === 'delete' }),
  }));

const brokenChange = brokenChanges(validChange);

/** JSON text of a value, in one of several spellings JSON allows (spacing, escapes). */
const spelled = (value: unknown) =>
  fc.constantFrom('compact', 'indented', 'escaped').map((style) => {
    if (style === 'compact') return JSON.stringify(value);
    if (style === 'indented') return JSON.stringify(value, null, '\t ');
    // Every non-ASCII and some ASCII characters as \u escapes, keys included.
    return JSON.stringify(value).replace(/[^\x20-\x7e]|[aeiou]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  });

const sortedUnique = (keys: readonly string[]) => [...new Set(keys)].sort();

/** What the ordinary path makes of a text: JSON.parse, then changeSchema; undefined when either refuses. */
function ordinary(text: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const { changes, ...rest } = doc as Record<string, unknown>;
  if (!Array.isArray(changes)) return undefined;
  const parsed = changes.map((c) => changeSchema.safeParse(structuredClone(c)));
  if (!parsed.every((p) => p.success)) return undefined;
  return {
    fields: rest,
    changes: parsed.map((p, i) => {
      const c = p.data!;
      const raw = changes[i] as Record<string, unknown>;
      return {
        table_name: c.table_name,
        record_id: c.record_id,
        operation: c.operation,
        change_data: raw.change_data,
        columns: c.change_data === null ? [] : sortedUnique(Object.keys(raw.change_data as object)),
        old_data: raw.old_data ?? null,
        timestamp: c.timestamp,
        origin_node_id: c.origin_node_id,
        origin_sequence: c.origin_sequence,
        hlc: c.hlc,
        scope_exit: c.scope_exit === true,
      };
    }),
  };
}

/** The scanner's result in the same terms (row images parsed back). */
const comparable = (doc: ChangesDocument) => ({
  fields: doc.fields,
  changes: doc.changes.map(({ change_data_json, old_data_json, columns, ...c }) => ({
    ...c,
    change_data: change_data_json === null ? null : JSON.parse(change_data_json),
    columns: sortedUnique(columns),
    old_data: old_data_json === null ? null : JSON.parse(old_data_json),
  })),
});

function agrees(text: string): boolean {
  const scanned = scanChangesDocument(text);
  if (scanned === undefined) return false;
  expect(comparable(scanned)).toEqual(ordinary(text));
  return true;
}

describe('scanChangesDocument', () => {
  it('takes batches as nodes send them and gives what JSON.parse and changeSchema give', () => {
    fc.assert(
      fc.property(fc.array(validChange, { maxLength: 5 }), (changes) => {
        expect(agrees(JSON.stringify({ changes }))).toBe(true);
        expect(agrees(JSON.stringify({ changes, next_cursor: '12', has_more: false, latest_sequence: '40', n: -1.5e3, x: null }))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('gives each change its own keys when row images share, extend or cut short the previous keys', () => {
    const keys = fc.array(fc.constantFrom('team_number', 'data', 'is_active', 'a"b', 'x\\y', 'é', ''), { maxLength: 5 });
    fc.assert(
      fc.property(fc.array(fc.tuple(validChange, keys, fc.boolean()), { minLength: 2, maxLength: 6 }), (items) => {
        const changes = items.map(([c, names, idFirst]) => {
          if (c.change_data === null) return c;
          const rest = Object.fromEntries(names.map((n, i) => [n, i]));
          return { ...c, change_data: idFirst ? { id: c.change_data.id, ...rest } : { ...rest, id: c.change_data.id } };
        });
        expect(agrees(JSON.stringify({ changes }))).toBe(true);
      }),
      { numRuns: 500 },
    );
    // A key with a quote is not spelled as itself: its raw spelling after an escaped one is not JSON.
    const id = '7d3b8f4e-1c2a-4b5d-9e6f-0a1b2c3d4e5f';
    const change = (image: string) =>
      `{"table_name":"teams","record_id":"${id}","operation":"insert","change_data":${image},"timestamp":"2026-11-26T10:00:00Z","origin_node_id":"a","origin_sequence":"1","hlc":"2"}`;
    expect(agrees(`{"changes":[${change(`{"a\\"b":1,"id":"${id}"}`)},${change(`{"a\\"b":1,"id":"${id}"}`)}]}`)).toBe(true);
    expect(scanChangesDocument(`{"changes":[${change(`{"a\\"b":1,"id":"${id}"}`)},${change(`{"a"b":1,"id":"${id}"}`)}]}`)).toBeUndefined();
  });

  it('agrees with the ordinary path on whatever spelling or fault it is given', () => {
    let taken = 0;
    let refusedByOrdinary = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(validChange, brokenChange), { maxLength: 4 }).chain((changes) => spelled({ changes })),
        (text) => {
          if (ordinary(text) === undefined) refusedByOrdinary++;
          if (agrees(text)) taken++;
        },
      ),
      { numRuns: 1500 },
    );
    expect(taken).toBeGreaterThan(100);
    expect(refusedByOrdinary).toBeGreaterThan(100);
  });

  it('never takes a text JSON.parse refuses (one character changed anywhere)', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('delete', 'insert', 'replace'),
      ch: fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '-', '.', 'e', 'n', 'u', 'x', '\u0000', '\n', '\u2028'),
    });
    let refused = 0;
    fc.assert(
      fc.property(fc.array(validChange, { minLength: 1, maxLength: 3 }), mutation, (changes, { at, kind, ch }) => {
        const text = JSON.stringify({ changes });
        const i = at % text.length;
        const mutated =
          kind === 'delete'
            ? text.slice(0, i) + text.slice(i + 1)
            : kind === 'insert'
              ? text.slice(0, i) + ch + text.slice(i)
              : text.slice(0, i) + ch + text.slice(i + 1);
        if (!agrees(mutated)) refused++;
      }),
      { numRuns: 3000 },
    );
    expect(refused).toBeGreaterThan(1000);
  });

  it('reads numbers, strings and literals in row images exactly as JSON.parse does', () => {
    const id = '7d3b8f4e-1c2a-4b5d-9e6f-0a1b2c3d4e5f';
    const token = fc.oneof(
      fc.stringMatching(/^-?[0-9]{0,3}(\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?$/),
      // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters in a string are what the reader must refuse as JSON.parse does
      fc.stringMatching(/^"([a-z\x00-\x1f\u2028\ud800]|\\(["\\/bfnrtux]|u[0-9a-fA-FgG]{0,4}))*"?$/),
      fc.constantFrom('true', 'false', 'null', 'tru', 'nul', 'nulls', 'True', '[]', '[1,]', '{}', '{"a":}', '[1 2]'),
    );
    let taken = 0;
    let refused = 0;
    fc.assert(
      fc.property(token, fc.boolean(), (value, inOldImage) => {
        const image = `{"id":"${id}","v":${value}}`;
        const text =
          `{"changes":[{"table_name":"teams","record_id":"${id}","operation":"insert","change_data":${inOldImage ? `{"id":"${id}"}` : image},` +
          `"old_data":${inOldImage ? image : 'null'},"timestamp":"2026-11-26T10:00:00Z","origin_node_id":"a","origin_sequence":"1","hlc":"2"}],"v":${value}}`;
        const parses = ordinary(text) !== undefined;
        expect(agrees(text)).toBe(parses && !/^[[{]/.test(value));
        if (parses) taken++;
        else refused++;
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  it('keeps numbers as written, where JSON.parse would round them', () => {
    const id = '7d3b8f4e-1c2a-4b5d-9e6f-0a1b2c3d4e5f';
    const text = `{"changes":[{"table_name":"teams","record_id":"${id}","operation":"insert","change_data":{"id":"${id}","n":12345678901234567890,"f":1.0},"timestamp":"2026-11-26T10:00:00Z","origin_node_id":"a","origin_sequence":"1","hlc":"2"}]}`;
    expect(scanChangesDocument(text)?.changes[0]?.change_data_json).toBe(`{"id":"${id}","n":12345678901234567890,"f":1.0}`);
  });

  it('leaves to the ordinary path what it does not take', () => {
    const id = '7d3b8f4e-1c2a-4b5d-9e6f-0a1b2c3d4e5f';
    const change = {
      table_name: 'teams',
      record_id: id,
      operation: 'insert',
      change_data: { id },
      timestamp: '2026-11-26T10:00:00Z',
      origin_node_id: 'a',
      origin_sequence: '1',
      hlc: '2',
    };
    expect(scanChangesDocument(JSON.stringify({ changes: [change] }))).toBeDefined();
    for (const odd of [
      [change], // not an object document
      { changes: [{ ...change, change_data: { id: [id] } }] }, // an id that is not a string
      { changes: [{ ...change, hlc: 2 }] },
      { changes: [change], nested: { a: 1 } }, // a member that is not a scalar
      { changes: [change], ['__proto__']: 1 },
      {},
    ]) {
      expect(scanChangesDocument(JSON.stringify(odd))).toBeUndefined();
    }
    expect(scanChangesDocument(`${JSON.stringify({ changes: [change] })} x`)).toBeUndefined();
  });
});
