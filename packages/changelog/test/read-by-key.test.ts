// Reading a range of the log in row-key order (a full baseline's pages): every entry of the range once,
// grouped by row, whatever the page size — a row's entries may span pages — and nothing outside it.
import { describe, expect, it } from 'vitest';
import { formatRowKeyCursor, parseRowKeyCursor, readChanges, readChangesByKeyJson, type Change, type RowKeyCursor } from '@catchup/changelog';
import { useNodes } from './nodes.ts';

const [node] = await useNodes(1, 'bykey');
const pool = node!.pool;
const db = node!.database.db;

async function readAllByKey(options: { after: string; upTo?: string; excludeOrigin?: string }, limit: number) {
  const pages: Change[][] = [];
  let afterKey: RowKeyCursor | null = null;
  for (;;) {
    const page = await readChangesByKeyJson(pool, { ...options, limit, afterKey });
    pages.push((JSON.parse(page.body.toString('utf8')) as { changes: Change[] }).changes);
    expect(page.count).toBe(pages.at(-1)!.length);
    if (!page.nextKey) return pages;
    afterKey = page.nextKey;
  }
}

describe('reading a range in row-key order', () => {
  it('returns every entry of the range once, by table, row and position, across pages that split a row or cross tables', async () => {
    const teams = [];
    for (let i = 0; i < 12; i++) teams.push(await db.team.create({ data: { teamNumber: 9000 + i, name: `t${i}`, scoutingTeamNumber: 1 } }));
    for (const team of teams.slice(0, 6)) await db.team.update({ where: { id: team.id }, data: { name: `${team.name}!` } });
    await db.team.delete({ where: { id: teams[7]!.id } });
    // Rows of a second table: pages cross from one table to the next.
    for (let i = 0; i < 5; i++) await db.event.create({ data: { code: `e${i}`, name: `event ${i}`, scoutingTeamNumber: 1 } });
    const all = (await readChanges(pool, { after: '0', limit: 100_000 })).changes;
    const inKeyOrder = [...all].sort((a, b) =>
      a.table_name !== b.table_name
        ? a.table_name < b.table_name
          ? -1
          : 1
        : a.record_id !== b.record_id
          ? a.record_id < b.record_id
            ? -1
            : 1
          : Number(a.sequence) - Number(b.sequence),
    );
    for (const limit of [1, 2, 5, 100]) {
      const pages = await readAllByKey({ after: '0' }, limit);
      expect(pages.flat().map((c) => c.sequence)).toEqual(inKeyOrder.map((c) => c.sequence));
      expect(pages.every((p) => p.length <= limit && new Set(p.map((c) => c.table_name)).size <= 1)).toBe(true);
    }
  });

  it('keeps to the range and leaves out the reader’s own changes', async () => {
    const all = (await readChanges(pool, { after: '0', limit: 100_000 })).changes;
    const [from, to] = [all[3]!.sequence!, all[all.length - 4]!.sequence!];
    const inRange = all.filter((c) => BigInt(c.sequence!) > BigInt(from) && BigInt(c.sequence!) <= BigInt(to));
    const pages = await readAllByKey({ after: from, upTo: to }, 3);
    expect(
      pages
        .flat()
        .map((c) => c.sequence)
        .sort(),
    ).toEqual(inRange.map((c) => c.sequence).sort());
    expect((await readAllByKey({ after: '0', excludeOrigin: node!.nodeId }, 4)).flat()).toEqual([]);
  });

  it('spells its cursor table/record_id/position or table, and refuses anything else', () => {
    const key = { table: 'teams', recordId: '0b6a2c52-8f1e-4d0e-9a55-4c8f3f1b2a10', sequence: '42' };
    expect(parseRowKeyCursor(formatRowKeyCursor(key))).toEqual(key);
    expect(parseRowKeyCursor('teams')).toEqual({ table: 'teams' }); // the start of a table
    for (const bad of [
      'teams/not-a-uuid/1',
      'teams/',
      '',
      "te'ams/0b6a2c52-8f1e-4d0e-9a55-4c8f3f1b2a10/1",
      'teams/0b6a2c52-8f1e-4d0e-9a55-4c8f3f1b2a10/01',
      'teams/0b6a2c52-8f1e-4d0e-9a55-4c8f3f1b2a10/99999999999999999999',
    ]) {
      expect(parseRowKeyCursor(bad)).toBeNull();
    }
  });
});
