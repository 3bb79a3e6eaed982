// Test nodes: a migrated database each, with a pg pool and the node's identity.
import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import { createPool, type Pool } from '@catchup/db';
import { applyBatch, getNodeIdentity, type ApplyResult, type Change } from '@catchup/changelog';
import { sampleTablesDigest, useTestDatabases, type TestDatabase } from '@catchup/testing';

export interface TestNode {
  name: string;
  database: TestDatabase;
  pool: Pool;
  nodeId: string;
}

export async function useNodes(count: number, label = 'node'): Promise<TestNode[]> {
  const dbs = await useTestDatabases(count, label);
  const nodes = await Promise.all(
    dbs.map(async (database, i) => {
      const pool = createPool(database.url, 4);
      const { nodeId } = await getNodeIdentity(pool, `${label}${i}`);
      return { name: `${label}${i}`, database, pool, nodeId };
    }),
  );
  // Registered after the databases' hook, so it runs first (vitest runs afterAll hooks in reverse).
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.pool.end()));
  });
  return nodes;
}

/** Every synced table's rows, sorted, as one comparable value. */
export const tableDigest = sampleTablesDigest;

export async function logIdentities(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT origin_node_id || '/' || origin_sequence AS id FROM database_changes ORDER BY 1`);
  return rows.map((r) => r.id);
}

export async function logCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM database_changes');
  return Number(rows[0]!.n);
}

/** The default clock bound (catchup_max_clock_skew_seconds = 300). */
export const MAX_CLOCK_SKEW_MS = 300_000;

/** Applies a batch on a node as its peer API would: under its identity and clock bound. */
export function applyTo(node: TestNode, changes: unknown[], maxClockSkewMs = MAX_CLOCK_SKEW_MS): Promise<ApplyResult> {
  return applyBatch(node.pool, changes, { nodeId: node.nodeId, maxClockSkewMs });
}

/** A remote insert of a new team from `origin`, stamped now unless told otherwise. */
export function teamChange(origin: string, sequence: string | number, name: string, hlc = BigInt(Date.now()) * 65536n): Change {
  const id = randomUUID();
  return {
    table_name: 'teams',
    record_id: id,
    operation: 'insert',
    change_data: { id, team_number: 4242, name, scouting_team_number: 1, is_active: true, updated_at: new Date().toISOString() },
    old_data: null,
    timestamp: new Date().toISOString(),
    origin_node_id: origin,
    origin_sequence: String(sequence),
    hlc: hlc.toString(),
  };
}
