// Property: whatever the writes and however changes travel (split, duplicated, reordered, relayed),
// once every node has exchanged everything, all nodes hold identical tables and identical change
// identities (I3, I4, I6). PROPERTY_RUNS raises the number of runs (npm run test:property).
//
// A fourth node is a filtered peer: every other node reads its log for it through team 254's scope and
// holds what it sends to that scope. Rows 0-2 move between teams 254 and 1678 by the full nodes' writes;
// rows 3-4 are the filtered peer's own (team 254, edited by anyone). Once everything is exchanged, the
// filtered peer holds exactly the full nodes' team 254 rows and no image of team 1678 in its log. A row
// is inserted once, by one node (synced tables' keys are UUIDs: two nodes never insert the same row),
// which is what lets an insert outside the peer's scope be left out (see scope.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBatch, readChanges, type TeamScope } from '@catchup/changelog';
import { logIdentities, MAX_CLOCK_SKEW_MS, tableDigest, useNodes, type TestNode } from './nodes.ts';

const nodes = await useNodes(4, 'prop');
const full = nodes.slice(0, 3);
const FILTERED = 3;
const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const ROW_IDS = [
  '00000000-0000-4000-8000-000000000001',
  '00000000-0000-4000-8000-000000000002',
  '00000000-0000-4000-8000-000000000003',
  '00000000-0000-4000-8000-000000000004',
  '00000000-0000-4000-8000-000000000005',
];
/** Rows of the filtered peer's own: always team 254. */
const OWN_ROWS = new Set([3, 4]);
const OURS = 254;
const THEIRS = 1678;
const scope: TeamScope = { teams: [OURS], columns: new Map([['scouting_data', 'scouting_team_number']]) };

type Write = {
  type: 'write';
  node: number;
  row: number;
  kind: 'insert' | 'update' | 'delete' | 'soft_delete' | 'reactivate';
  value: number;
  /** For the full nodes' writes to rows 0-2: the row's team after the write. */
  ours: boolean;
};
type Deliver = { type: 'deliver'; from: number; to: number; start: number; length: number; batch: number; duplicate: boolean };
type Step = Write | Deliver;

const writeArb: fc.Arbitrary<Step> = fc.record({
  type: fc.constant('write' as const),
  node: fc.integer({ min: 0, max: FILTERED }),
  row: fc.integer({ min: 0, max: ROW_IDS.length - 1 }),
  kind: fc.constantFrom('insert', 'update', 'delete', 'soft_delete', 'reactivate'),
  value: fc.integer({ min: 0, max: 1000 }),
  ours: fc.boolean(),
});
const deliverArb: fc.Arbitrary<Step> = fc
  .record({
    type: fc.constant('deliver' as const),
    from: fc.integer({ min: 0, max: FILTERED }),
    to: fc.integer({ min: 0, max: FILTERED }),
    start: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 12 }),
    batch: fc.integer({ min: 1, max: 5 }),
    duplicate: fc.boolean(),
  })
  .filter((d) => d.from !== d.to);

async function reset(): Promise<void> {
  await Promise.all(nodes.map((n) => n.pool.query('TRUNCATE teams, events, matches, scouting_data, database_changes')));
}

/** The team a write leaves its row in; undefined: the filtered peer does not write this row. */
function teamOf(step: Write): number | undefined {
  if (OWN_ROWS.has(step.row)) return OURS;
  if (step.node === FILTERED) return undefined;
  return step.ours ? OURS : THEIRS;
}

/** The one node that inserts a row. */
const inserterOf = (row: number) => (OWN_ROWS.has(row) ? FILTERED : row % full.length);

async function everLogged(node: TestNode, id: string): Promise<boolean> {
  const { rows } = await node.pool.query('SELECT 1 FROM database_changes WHERE record_id = $1 LIMIT 1', [id]);
  return rows.length > 0;
}

async function write(node: TestNode, step: Write): Promise<void> {
  const id = ROW_IDS[step.row]!;
  const team = teamOf(step);
  if (team === undefined) return;
  const { rows } = await node.pool.query<{ is_active: boolean }>('SELECT is_active FROM scouting_data WHERE id = $1', [id]);
  const row = rows[0];
  switch (step.kind) {
    case 'insert':
      if (!row && step.node === inserterOf(step.row) && !(await everLogged(node, id))) {
        await node.pool.query(`INSERT INTO scouting_data (id, team_number, match_number, scouting_team_number, data) VALUES ($1, $2, 1, $4, $3)`, [
          id,
          step.value,
          JSON.stringify({ by: node.name, v: step.value }),
          team,
        ]);
      }
      return;
    case 'update':
      if (row) {
        await node.pool.query(`UPDATE scouting_data SET match_number = $2, data = $3, scouting_team_number = $4 WHERE id = $1`, [
          id,
          step.value,
          JSON.stringify({ by: node.name, v: step.value }),
          team,
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

/** What `from` sends `to`: its log through team 254's scope when either is the filtered peer. */
async function logFor(from: TestNode, to: TestNode) {
  const filtered = from === nodes[FILTERED] || to === nodes[FILTERED];
  return (await readChanges(from.pool, { after: '0', limit: 100_000, excludeOrigin: to.nodeId, ...(filtered ? { scope } : {}) })).changes;
}

/** Applies on `to` as its peer API would, holding the filtered peer to its scope. */
function applyFrom(from: TestNode, to: TestNode, batch: unknown[]) {
  const senderScope = from === nodes[FILTERED] ? scope : undefined;
  return applyBatch(to.pool, batch, { nodeId: to.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS, senderScope });
}

async function deliver(step: Deliver): Promise<void> {
  const from = nodes[step.from]!;
  const to = nodes[step.to]!;
  const log = await logFor(from, to);
  if (!log.length) return;
  const start = Math.floor(step.start * log.length);
  const slice = log.slice(start, start + step.length);
  const rounds = step.duplicate ? 2 : 1;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < slice.length; i += step.batch) {
      const batch = slice.slice(i, i + step.batch);
      const result = await applyFrom(from, to, batch);
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
        const log = await logFor(from, to);
        if (log.length) await applyFrom(from, to, log);
      }
    }
  }
}

/** A node's scouting rows of one team, as comparable values. */
async function rowsOfTeam(node: TestNode, team: number): Promise<unknown[]> {
  const { rows } = await node.pool.query('SELECT to_jsonb(s) AS r FROM scouting_data s WHERE scouting_team_number = $1 ORDER BY id', [team]);
  return rows.map((r) => r.r);
}

describe('convergence (property-based, 3 nodes and a filtered peer)', () => {
  it(`every schedule of writes and deliveries converges (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(writeArb, writeArb, deliverArb), { minLength: 1, maxLength: 30 }), async (steps) => {
        await reset();
        for (const step of steps) {
          if (step.type === 'write') await write(nodes[step.node]!, step);
          else await deliver(step);
        }
        await exchangeEverything();
        const [d0, d1, d2] = await Promise.all(full.map((n) => tableDigest(n.pool)));
        expect(d1).toEqual(d0);
        expect(d2).toEqual(d0);
        const [i0, i1, i2] = await Promise.all(full.map((n) => logIdentities(n.pool)));
        expect(i1).toEqual(i0);
        expect(i2).toEqual(i0);
        const filtered = nodes[FILTERED]!;
        expect(await rowsOfTeam(filtered, THEIRS)).toEqual([]);
        expect(await rowsOfTeam(filtered, OURS)).toEqual(await rowsOfTeam(full[0]!, OURS));
        const { rows } = await filtered.pool.query(
          `SELECT count(*)::int AS n FROM database_changes WHERE change_data ->> 'scouting_team_number' = $1 OR old_data ->> 'scouting_team_number' = $1`,
          [String(THEIRS)],
        );
        expect(rows[0].n).toBe(0);
      }),
      { numRuns: RUNS },
    );
  }, 600_000);
});
