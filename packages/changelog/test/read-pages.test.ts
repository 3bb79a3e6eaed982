// Pages of JSON end early at a byte bound: a range of large rows goes in pages of a few of them, every
// change once and in position order; a change larger than the bound still goes, alone. A read of named
// changes is never cut (its callers send it as one page).
import { describe, expect, it } from 'vitest';
import { readChangesByKeyJson, readChangesJson, type Change, type ChangePageJson, type RowKeyCursor } from '@catchup/changelog';
import { useNodes } from './nodes.ts';

const [node] = await useNodes(1, 'pages');
const pool = node!.pool;
const db = node!.database.db;

const changesOf = (page: ChangePageJson) => (JSON.parse(page.body.toString('utf8')) as { changes: Change[] }).changes;
const imageBytes = (c: Change) => Buffer.byteLength(JSON.stringify(c.change_data)) + (c.old_data === null ? 0 : Buffer.byteLength(JSON.stringify(c.old_data)));

/** Each change's row images in bytes as the log counts them (jsonb's text, a little longer than JSON.stringify's). */
async function loggedBytes(): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ sequence: string; bytes: number }>(
    'SELECT sequence::text, octet_length(change_data::text) + coalesce(octet_length(old_data::text), 0) AS bytes FROM database_changes',
  );
  return new Map(rows.map((r) => [r.sequence, r.bytes]));
}

/** Teams whose names are `bytes` long: row images of a little more than that each. */
async function insertTeams(count: number, bytes: number, from: number): Promise<void> {
  for (let i = 0; i < count; i++) await db.team.create({ data: { teamNumber: from + i, name: String(i % 10).repeat(bytes), scoutingTeamNumber: 1 } });
}

async function readAll(after: string, limit: number, maxBytes: number): Promise<ChangePageJson[]> {
  const pages: ChangePageJson[] = [];
  for (let cursor = after; ; ) {
    const page = await readChangesJson(pool, { after: cursor, limit }, maxBytes);
    pages.push(page);
    if (!page.hasMore) return pages;
    cursor = page.nextCursor;
  }
}

describe('pages of JSON under a byte bound', () => {
  it('ends a page once its row images reach the bound, and the next page goes on from its last change', async () => {
    await insertTeams(10, 1000, 9100);
    const pages = await readAll('0', 1000, 2500);
    const changes = pages.flatMap(changesOf);
    expect(changes.map((c) => (c.change_data as { team_number: number }).team_number)).toEqual(Array.from({ length: 10 }, (_, i) => 9100 + i));
    expect(new Set(changes.map((c) => c.origin_sequence)).size).toBe(10);
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) {
      const inPage = changesOf(page);
      expect(page.count).toBe(inPage.length);
      // Every change but the last started below the bound.
      expect(inPage.slice(0, -1).reduce((sum, c) => sum + imageBytes(c), 0)).toBeLessThan(2500);
      if (page.hasMore) expect(page.nextCursor).toBe(inPage.at(-1)!.sequence);
    }
  });

  it('sends a change larger than the bound alone, and the rest after it', async () => {
    const { latestSequence: before } = await readChangesJson(pool, { after: '0', limit: 1 });
    await insertTeams(1, 5000, 9200);
    await insertTeams(2, 10, 9300);
    const pages = await readAll(before, 1000, 1000);
    expect(pages.map((p) => p.count)).toEqual([1, 2]);
    expect(pages.map((p) => p.hasMore)).toEqual([true, false]);
  });

  it('does not cut a read of named changes', async () => {
    const all = changesOf(await readChangesJson(pool, { after: '0', limit: 1000 }));
    const only = all.map((c) => ({ origin: c.origin_node_id, sequence: c.origin_sequence }));
    const page = await readChangesJson(pool, { after: '0', limit: only.length, only }, 1);
    expect(page.count).toBe(all.length);
    expect(changesOf(page).map((c) => c.sequence)).toEqual(all.map((c) => c.sequence));
  });

  it('ends a page in row-key order (a full baseline) at the bound too, and the next goes on from its last key', async () => {
    const everything = changesOf(await readChangesJson(pool, { after: '0', limit: 1000 }));
    const pages: ChangePageJson[] = [];
    let afterKey: RowKeyCursor | null = null;
    for (;;) {
      const page = await readChangesByKeyJson(pool, { after: '0', limit: 1000, afterKey }, 2500);
      pages.push({ ...page, nextCursor: '0', hasMore: page.nextKey !== null });
      if (!page.nextKey) break;
      afterKey = page.nextKey;
    }
    const read = pages.flatMap(changesOf);
    expect(read.map((c) => c.sequence).sort()).toEqual(everything.map((c) => c.sequence).sort());
    // Row keys are random uuids, so which changes share a page varies; the rule does not: a page ends at
    // the first change that brings it to the bound.
    const bytes = await loggedBytes();
    const pageBytes = pages.map((page) => changesOf(page).map((c) => bytes.get(c.sequence!)!));
    expect(pages.length).toBeGreaterThan(3);
    for (const [i, sizes] of pageBytes.entries()) {
      expect(sizes.slice(0, -1).reduce((sum, b) => sum + b, 0)).toBeLessThan(2500);
      if (i < pages.length - 1) expect(sizes.reduce((sum, b) => sum + b, 0)).toBeGreaterThanOrEqual(2500);
    }
  });

  it('refuses a bound that is not a positive integer, reading nothing', async () => {
    await expect(readChangesJson(pool, { after: '0', limit: 10 }, 0)).rejects.toThrow(/page byte bound/);
    await expect(readChangesByKeyJson(pool, { after: '0', limit: 10, afterKey: null }, 1.5)).rejects.toThrow(/page byte bound/);
  });
});
