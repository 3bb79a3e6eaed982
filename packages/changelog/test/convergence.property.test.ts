// Property: whatever the writes and however changes travel (split, duplicated, reordered, relayed),
// once every node has exchanged everything, all nodes hold identical tables and identical change
// identities (I3, I4, I6). PROPERTY_RUNS raises the number of runs (npm run test:property).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readChanges } from '@catchup/changelog';
import { applyTo, logIdentities, tableDigest, useNodes, type TestNode } from './nodes.ts';

const nodes = await useNodes(3, 'prop');
const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const ROW_IDS = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];

type Write = { type: 'write'; node: number; row: number; kind: 'insert' | 'update' | 'delete' | 'soft_delete' | 'reactivate'; value: number };
type Deliver = { type: 'deliver'; from: number; to: number; start: number; length: number; batch: number; duplicate: boolean };
type Step = Write | Deliver;

const writeArb: fc.Arbitrary<Step> = fc.record({
  type: fc.constant('write' as const),
  node: fc.integer({ min: 0, max: 2 }),
  row: fc.integer({ min: 0, max: ROW_IDS.length - 1 }),
  kind: fc.constantFrom('insert', 'update', 'delete', 'soft_delete', 'reactivate'),
  value: fc.integer({ min: 0, max: 1000 }),
});
const deliverArb: fc.Arbitrary<Step> = fc
  .record({
    type: fc.constant('deliver' as const),
    from: fc.integer({ min: 0, max: 2 }),
    to: fc.integer({ min: 0, max: 2 }),
    start: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 12 }),
    batch: fc.integer({ min: 1, max: 5 }),
    duplicate: fc.boolean(),
  })
  .filter((d) => d.from !== d.to);

async function reset(): Promise<void> {
  await Promise.all(nodes.map((n) => n.pool.query('TRUNCATE teams, events, matches, scouting_data, database_changes')));
}

async function write(node: TestNode, step: Write): Promise<void> {
  const id = ROW_IDS[step.row]!;
  const { rows } = await node.pool.query<{ is_active: boolean }>('SELECT is_active FROM scouting_data WHERE id = $1', [id]);
  const row = rows[0];
  switch (step.kind) {
    case 'insert':
      if (!row) {
        await node.pool.query(`INSERT INTO scouting_data (id, team_number, match_number, scouting_team_number, data) VALUES ($1, $2, 1, 1, $3)`, [
          id,
          step.value,
          JSON.stringify({ by: node.name, v: step.value }),
        ]);
      }
      return;
    case 'update':
      if (row) {
        await node.pool.query(`UPDATE scouting_data SET match_number = $2, data = $3 WHERE id = $1`, [
          id,
          step.value,
          JSON.stringify({ by: node.name, v: step.value }),
        ]);
      }
      return;
    case 'delete':
      if (row) await node.pool.query('DELETE FROM scouting_data WHERE id = $1', [id]);
      return;
    case 'soft_delete':
    case 'reactivate':
      if (row && row.is_active !== (step.kind === 'reactivate')) {
        await node.pool.query('UPDATE scouting_data SET is_active = $2 WHERE id = $1', [id, step.kind === 'reactivate']);
      }
      return;
  }
}

async function deliver(step: Deliver): Promise<void> {
  const from = nodes[step.from]!;
  const to = nodes[step.to]!;
  const log = (await readChanges(from.pool, { after: '0', limit: 100_000, excludeOrigin: to.nodeId })).changes;
  if (!log.length) return;
  const start = Math.floor(step.start * log.length);
  const slice = log.slice(start, start + step.length);
  const rounds = step.duplicate ? 2 : 1;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < slice.length; i += step.batch) {
      const batch = slice.slice(i, i + step.batch);
      const result = await applyTo(to, batch);
      expect(result.received).toBe(batch.length);
      expect(result.applied + result.skipped_duplicate + result.skipped_stale).toBe(batch.length);
    }
  }
}

async function exchangeEverything(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const log = (await readChanges(from.pool, { after: '0', limit: 100_000, excludeOrigin: to.nodeId })).changes;
        if (log.length) await applyTo(to, log);
      }
    }
  }
}

describe('convergence (property-based, 3 nodes)', () => {
  it(`every schedule of writes and deliveries converges (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(writeArb, writeArb, deliverArb), { minLength: 1, maxLength: 30 }), async (steps) => {
        await reset();
        for (const step of steps) {
          if (step.type === 'write') await write(nodes[step.node]!, step);
          else await deliver(step);
        }
        await exchangeEverything();
        const [d0, d1, d2] = await Promise.all(nodes.map((n) => tableDigest(n.pool)));
        expect(d1).toEqual(d0);
        expect(d2).toEqual(d0);
        const [i0, i1, i2] = await Promise.all(nodes.map((n) => logIdentities(n.pool)));
        expect(i1).toEqual(i0);
        expect(i2).toEqual(i0);
      }),
      { numRuns: RUNS },
    );
  }, 600_000);
});
