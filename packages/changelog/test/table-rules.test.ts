// What it takes for a table to be synced, decided from catalog facts (pure).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SAMPLE_TABLES } from '@catchup/testing';
import { countsExactly, EXACT_COUNT_MAX_BYTES, keyRefusal, nameRefusal, standingOf, type TableFacts } from '../src/table-rules.ts';

const uuidId = { column: 'id', type: 'uuid', serial: false };
const table = (facts: Partial<TableFacts>): TableFacts => ({
  name: 'pit_scouting',
  kind: 'r',
  primaryKey: [uuidId],
  primaryKeyConstraint: 'pit_scouting_pkey',
  idType: 'uuid',
  ...facts,
});

describe('nameRefusal', () => {
  it.each(['pit_scouting', 'teams', '_notes', 'a1'])('accepts %s', (name) => expect(nameRefusal(name)).toBeNull());

  it.each([
    ['Pit', /plain lower-case/],
    ['pit scouting', /plain lower-case/],
    ['teams; DROP TABLE teams', /plain lower-case/],
    ['', /plain lower-case/],
    ['x'.repeat(64), /at most 63/],
    ['database_changes', /sync system tables/],
    ['change_log_horizon', /sync system tables/],
    ['file_sync_state', /sync system tables/],
    ['_prisma_migrations', /sync system tables/],
    ['sync_servers', /sync system tables/],
    ['sync_anything_new', /sync system tables/],
  ])('refuses %s', (name, reason) => expect(nameRefusal(name)).toMatch(reason));

  it('refuses every table the migrations create, but the sample application tables', () => {
    const migrations = new URL('../../../prisma/migrations/', import.meta.url);
    const created = readdirSync(migrations, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap((entry) => [...readFileSync(new URL(`${entry.name}/migration.sql`, migrations), 'utf8').matchAll(/CREATE TABLE "(\w+)"/g)].map((m) => m[1]!));
    const application = new Set<string>(SAMPLE_TABLES);
    const internal = created.filter((name) => !application.has(name));
    expect(internal.length).toBeGreaterThan(5);
    expect(internal.filter((name) => nameRefusal(name) === null)).toEqual([]);
  });
});

describe('keyRefusal', () => {
  it('accepts a plain table keyed by a uuid column named id', () => {
    expect(keyRefusal(table({}))).toBeNull();
  });

  it('refuses what is not a plain table', () => {
    expect(keyRefusal(table({ kind: 'v' }))).toBe('it is a view; only plain tables can be synced');
    expect(keyRefusal(table({ kind: 'p' }))).toMatch(/^it is a partitioned table;/);
  });

  it('gives the SQL that turns a serial key into a uuid key named id', () => {
    const facts = table({ primaryKey: [{ column: 'id', type: 'integer', serial: true }], idType: 'integer' });
    expect(keyRefusal(facts)).toBe(
      'its primary key id is a serial integer, which two nodes inserting while apart can both pick; add a uuid key column: ' +
        'ALTER TABLE pit_scouting RENAME COLUMN id TO legacy_id; ' +
        'ALTER TABLE pit_scouting DROP CONSTRAINT pit_scouting_pkey, ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()',
    );
  });

  it('names a text key, and leaves a column not named id where it is', () => {
    const facts = table({ primaryKey: [{ column: 'code', type: 'text', serial: false }], idType: null, primaryKeyConstraint: 'pit code' });
    expect(keyRefusal(facts)).toBe(
      'its primary key code is text, which two nodes inserting while apart can both pick; add a uuid key column: ' +
        'ALTER TABLE pit_scouting DROP CONSTRAINT "pit code", ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()',
    );
  });

  it('asks to rename a uuid key named otherwise', () => {
    const facts = table({ primaryKey: [{ column: 'pit_id', type: 'uuid', serial: false }], idType: null });
    expect(keyRefusal(facts)).toBe(
      'its uuid primary key column is named pit_id; the sync needs it named id: ALTER TABLE pit_scouting RENAME COLUMN pit_id TO id',
    );
  });

  it('refuses a key of several columns, naming them', () => {
    const facts = table({
      primaryKey: [
        { column: 'team', type: 'integer', serial: false },
        { column: 'match', type: 'integer', serial: false },
      ],
      idType: null,
    });
    expect(keyRefusal(facts)).toMatch(
      /^its primary key has 2 columns \(team, match\); the sync needs a single uuid key column named id: ALTER TABLE pit_scouting DROP CONSTRAINT pit_scouting_pkey, ADD COLUMN id uuid/,
    );
  });

  it('refuses a table without a key: adds one, or makes a uuid id column the key', () => {
    expect(keyRefusal(table({ primaryKey: [], primaryKeyConstraint: null, idType: null }))).toBe(
      'it has no primary key; add a uuid key column: ALTER TABLE pit_scouting ADD COLUMN id uuid PRIMARY KEY DEFAULT gen_random_uuid()',
    );
    expect(keyRefusal(table({ primaryKey: [], primaryKeyConstraint: null }))).toBe(
      'it has no primary key; make its uuid column id the key: ALTER TABLE pit_scouting ADD PRIMARY KEY (id)',
    );
  });
});

describe('standingOf', () => {
  it.each([
    [true, 'O', 'synced'],
    [true, 'A', 'synced'],
    [true, 'D', 'trigger disabled'],
    [true, 'R', 'trigger disabled'],
    [true, null, 'not synced'],
    [false, null, 'table missing'],
  ] as const)('exists %s, trigger %s: %s', (exists, tgenabled, standing) => expect(standingOf(exists, tgenabled)).toBe(standing));
  it('says a synced table whose baseline is still being logged is in progress', () => {
    expect(standingOf(true, 'O', true)).toBe('baseline in progress');
    expect(standingOf(true, 'D', true)).toBe('trigger disabled');
  });
});

describe('countsExactly', () => {
  it('counts small tables, and tables never analyzed', () => {
    expect(countsExactly(8192, 10)).toBe(true);
    expect(countsExactly(EXACT_COUNT_MAX_BYTES, 1e6)).toBe(true);
    expect(countsExactly(EXACT_COUNT_MAX_BYTES + 1, 1e6)).toBe(false);
    expect(countsExactly(EXACT_COUNT_MAX_BYTES * 10, -1)).toBe(true);
  });
});
