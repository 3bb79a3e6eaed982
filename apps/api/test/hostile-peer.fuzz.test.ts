// A hostile peer with a valid key (SPEC I12, I13): seeded mutations of valid batches are posted to a real
// node. After each, the node still takes local writes, its clock stays within the bound, and every table
// row is its logged version; at the end a scan still brings the two nodes level.
// Replay a failure with FUZZ_SEED=<seed> (printed on failure); FUZZ_RUNS sets the number of batches.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change } from '@catchup/changelog';
import { clockLeadMs, rowsWithoutTheirLoggedVersion, sampleTablesDigest } from '@catchup/testing';
import { registerPeer, useApiNodes, type TestApiNode } from './nodes.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const MAX_SKEW_MS = 300_000; // the default catchup_max_clock_skew_seconds
const HOSTILE = 'mallory';
const THIRD = 'carol-never-registered';

const [a, b] = await useApiNodes(2, 'fuzz');

const Mutations = [
  'stamp-at-bigint-end',
  'stamp-year-3000',
  'stamp-past-bound',
  'stamp-within-bound',
  'stamp-zero',
  'pad-sequence',
  'pad-hlc',
  'sequence-past-bigint',
  'hlc-past-bigint',
  'reuse-logged-identity',
  'replay-logged-change',
  'internal-table',
  'unknown-table',
  'other-table-row',
  'spoof-receiver',
  'spoof-third-node',
  'duplicate',
  'duplicate-altered',
  'reorder',
  'row-id-mismatch',
] as const;
type Mutation = (typeof Mutations)[number];

interface Plan {
  base: { kind: 'insert' | 'update' | 'delete'; pick: number }[];
  mutations: { kind: Mutation; target: number; pick: number }[];
}

const planArbitrary: fc.Arbitrary<Plan> = fc.record({
  base: fc.array(fc.record({ kind: fc.constantFrom('insert' as const, 'update' as const, 'delete' as const), pick: fc.nat() }), { minLength: 1, maxLength: 6 }),
  mutations: fc.array(fc.record({ kind: fc.constantFrom(...Mutations), target: fc.nat(), pick: fc.nat() }), { maxLength: 3 }),
});

let hostileSequence = 0;
const hlcNow = (aheadMs = 0) => String(BigInt(Date.now() + aheadMs) * 65536n + BigInt(hostileSequence % 65536));

function teamRow(id: string, name: string): Record<string, unknown> {
  return { id, team_number: 1 + (hostileSequence % 9000), name, scouting_team_number: 1, is_active: true, updated_at: new Date().toISOString() };
}

function change(table: string, operation: Change['operation'], row: Record<string, unknown>, origin = HOSTILE): Change {
  hostileSequence++;
  return {
    table_name: table,
    record_id: String(row.id),
    operation,
    change_data: operation === 'delete' ? null : row,
    old_data: null,
    timestamp: new Date().toISOString(),
    origin_node_id: origin,
    origin_sequence: String(1_000_000 + hostileSequence),
    hlc: hlcNow(),
  };
}

async function existingTeams(node: TestApiNode): Promise<Record<string, unknown>[]> {
  const { rows } = await node.ctx.pool.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) AS row FROM teams t ORDER BY id`);
  return rows.map((r) => r.row);
}

async function loggedChanges(node: TestApiNode): Promise<Change[]> {
  const res = await node.call('/api/sync/changes?after=0&limit=10000');
  return ((await res.json()) as { changes: Change[] }).changes;
}

async function nextLocalSequence(node: TestApiNode): Promise<string> {
  const { rows } = await node.ctx.pool.query<{ next: string }>('SELECT (coalesce(max(sequence), 0) + 1)::text AS next FROM database_changes');
  return rows[0]!.next;
}

/** Builds the batch a plan describes, against what the node holds now. */
async function buildBatch(plan: Plan, node: TestApiNode): Promise<unknown[]> {
  const teams = await existingTeams(node);
  const logged = await loggedChanges(node);
  const batch: Record<string, unknown>[] = plan.base.map(({ kind, pick }) => {
    const existing = teams[pick % Math.max(teams.length, 1)];
    if (kind === 'insert' || !existing) return change('teams', 'insert', teamRow(randomUUID(), `hostile insert ${hostileSequence}`));
    if (kind === 'update') return change('teams', 'update', { ...existing, name: `hostile update ${hostileSequence}` });
    return change('teams', 'delete', existing);
  });
  for (const { kind, target, pick } of plan.mutations) {
    const at = target % batch.length;
    const c = batch[at]!;
    const someLogged = logged[pick % Math.max(logged.length, 1)];
    switch (kind) {
      case 'stamp-at-bigint-end':
        c.hlc = '9223372036854775807';
        break;
      case 'stamp-year-3000':
        c.hlc = String(BigInt(Date.UTC(3000, 0, 1)) * 65536n);
        break;
      case 'stamp-past-bound':
        c.hlc = hlcNow(MAX_SKEW_MS + 60_000);
        break;
      case 'stamp-within-bound':
        c.hlc = hlcNow(MAX_SKEW_MS / 3);
        break;
      case 'stamp-zero':
        c.hlc = '0';
        break;
      case 'pad-sequence':
        c.origin_sequence = `000${String(c.origin_sequence)}`;
        break;
      case 'pad-hlc':
        c.hlc = `0${String(c.hlc)}`;
        break;
      case 'sequence-past-bigint':
        c.origin_sequence = '9223372036854775808';
        break;
      case 'hlc-past-bigint':
        c.hlc = '18446744073709551616';
        break;
      case 'reuse-logged-identity':
        if (someLogged) Object.assign(c, { origin_node_id: someLogged.origin_node_id, origin_sequence: someLogged.origin_sequence });
        break;
      case 'replay-logged-change':
        if (someLogged) batch[at] = { ...someLogged };
        break;
      case 'internal-table':
        c.table_name = 'sync_servers';
        break;
      case 'unknown-table':
        c.table_name = 'no_such_table';
        break;
      case 'other-table-row':
        c.table_name = 'matches';
        break;
      case 'spoof-receiver':
        Object.assign(c, { origin_node_id: node.ctx.engine.nodeId, origin_sequence: await nextLocalSequence(node) });
        break;
      case 'spoof-third-node':
        c.origin_node_id = THIRD;
        break;
      case 'duplicate':
        batch.splice(pick % (batch.length + 1), 0, { ...c });
        break;
      case 'duplicate-altered':
        if (c.change_data) batch.push({ ...c, change_data: { ...(c.change_data as object), name: 'altered twin' } });
        break;
      case 'reorder':
        batch.reverse();
        break;
      case 'row-id-mismatch':
        if (c.change_data) c.change_data = { ...(c.change_data as object), id: randomUUID() };
        break;
    }
  }
  return batch;
}

async function localWriteWorks(node: TestApiNode): Promise<void> {
  const { rows } = await node.ctx.pool.query<{ id: string }>(
    `INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1, 'local write', 1) RETURNING id`,
  );
  expect(rows).toHaveLength(1);
}

describe('a hostile peer cannot break a node (fuzz)', () => {
  it(`survives ${RUNS} mutated batches and still converges (seed ${SEED})`, async () => {
    for (let i = 0; i < 5; i++) await localWriteWorks(a!);
    for (let i = 0; i < 3; i++) await localWriteWorks(b!);
    const bOnA = await registerPeer(a!, b!);
    await registerPeer(b!, a!);
    const statuses = new Map<number, number>();

    try {
      await fc.assert(
        fc.asyncProperty(planArbitrary, async (plan) => {
          const batch = await buildBatch(plan, a!);
          const res = await a!.call('/api/sync/changes', { method: 'POST', json: { changes: batch } });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const body = (await res.json()) as Record<string, number | string>;
          expect([200, 400, 409], `${res.status} ${JSON.stringify(body)} for ${JSON.stringify(batch)}`).toContain(res.status);
          if (res.status === 200) {
            for (const counter of ['applied', 'skipped_duplicate', 'skipped_stale'] as const) expect(body[counter]).toBeGreaterThanOrEqual(0);
            expect(Number(body.applied) + Number(body.skipped_duplicate) + Number(body.skipped_stale)).toBe(batch.length);
          }
          await localWriteWorks(a!);
          expect(await clockLeadMs(a!.ctx.pool)).toBeLessThanOrEqual(MAX_SKEW_MS + 1000);
          expect(await rowsWithoutTheirLoggedVersion(a!.ctx.pool)).toBe(0);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    } catch (err) {
      throw new Error(`hostile-peer fuzz failed; replay with FUZZ_SEED=${SEED}\n${err instanceof Error ? err.message : String(err)}`);
    }
    // The generator reached every answer a hostile batch can get.
    expect([...statuses.keys()].sort()).toEqual([200, 400, 409]);

    const scan = await a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bOnA] } });
    expect(scan.status).toBe(200);
    const result = (await scan.json()) as { results: { success: boolean; errors: string[] }[] };
    expect(result.results[0]!.errors).toEqual([]);
    expect(await sampleTablesDigest(b!.ctx.pool)).toEqual(await sampleTablesDigest(a!.ctx.pool));
    for (const node of [a!, b!]) {
      await localWriteWorks(node);
      expect(await rowsWithoutTheirLoggedVersion(node.ctx.pool)).toBe(0);
    }
  });
});
